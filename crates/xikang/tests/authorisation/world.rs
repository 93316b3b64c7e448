//! The objects of one district for the authorisation matrix (`../authorisation.rs`), built
//! through the API: a case, a zone with a proposal, sites and an order, a grid task, an
//! appeal, an arrival, a sentinel, a sampling site, a round and a tube, a card, a pass, a
//! peer's 协查 request, a board message, a filing and a responsibility item.

use super::*;

/// The objects of one district, built through the API.
#[derive(Debug)]
pub(super) struct World {
    pub(super) district: String,
    /// The district's person: a resident token's own person, under a centralized order at
    /// `site`, living in `cell`.
    pub(super) p: String,
    pub(super) id_number: String,
    pub(super) code: String,
    pub(super) cell: u32,
    /// `cell` as the grid import takes it.
    pub(super) cell_row: Value,
    pub(super) venue: String,
    pub(super) place_code: String,
    pub(super) case: String,
    pub(super) cluster: String,
    pub(super) contact: String,
    pub(super) newcase: String,
    pub(super) neworder: String,
    pub(super) site: String,
    pub(super) site2: String,
    pub(super) order: String,
    pub(super) task: String,
    pub(super) appeal: String,
    pub(super) zone: String,
    pub(super) proposal: String,
    /// A hold on `p` proposed by the second admin (so the table's admin may approve it).
    pub(super) hold: String,
    pub(super) arrival: String,
    pub(super) sampling_site: String,
    pub(super) round: String,
    pub(super) tube: String,
    /// A device token of the district (its id).
    pub(super) token: String,
    /// A suspected case of the district, awaiting its screen.
    pub(super) suspect: String,
    /// A designated hospital of the district.
    pub(super) hospital: String,
    /// An identity card of `p` (docs/claim.md).
    pub(super) card: String,
    /// `p`'s hold, as a guardian, on the code of a neighbour (代领).
    pub(super) grant: String,
    /// A commuter pass for `p`, applied for by the second admin (docs/cities.md).
    pub(super) pass: String,
    /// A peer city whose URL is this server itself (its list is refused: wrong root).
    pub(super) peer_url: String,
    /// A 协查 request received from that peer (signed by its root).
    pub(super) assist: String,
    /// A message of the board routed to the district.
    pub(super) message: String,
    /// An enterprise's filing in the district, `p` its worker.
    pub(super) filing: String,
    /// A responsibility item of the district.
    pub(super) item: String,
    /// The credit code of `filing`'s enterprise.
    pub(super) credit: String,
    /// A need of that enterprise on the supply–demand board.
    pub(super) post: String,
    /// An inspection of `venue` with one photo, `photo` (its SHA-256).
    pub(super) inspection: String,
    pub(super) photo: String,
}

/// Fails with the answer unless the status is the expected one.
pub(super) fn ok(what: &str, (s, v): (u16, Value), want: u16) -> Value {
    assert_eq!(s, want, "setup: {what}: {v}");
    v
}

/// People of `district`: the first one with a neighbour in the same home cell, that
/// neighbour, and five more.
pub(super) fn people_of(app: &TestApp, district: &str) -> Vec<String> {
    let slots = read(&app.state.projection.people);
    let in_district = app.residents_of(district);
    let p = *in_district
        .iter()
        .find(|p| {
            in_district
                .iter()
                .any(|q| q != *p && slots[*q as usize].home_cell == slots[**p as usize].home_cell)
        })
        .unwrap();
    let neighbour = *in_district
        .iter()
        .find(|q| **q != p && slots[**q as usize].home_cell == slots[p as usize].home_cell)
        .unwrap();
    let mut out = vec![p, neighbour];
    out.extend(
        in_district
            .iter()
            .filter(|q| !out.contains(q))
            .take(5)
            .copied()
            .collect::<Vec<_>>(),
    );
    assert_eq!(out.len(), 7, "district {district} has too few people");
    out.into_iter().map(|p| format!("P{p}")).collect()
}

pub(super) async fn world(app: &TestApp, district: &str) -> World {
    let admin = app.admin.as_str();
    let people = people_of(app, district);
    let [
        p,
        neighbour,
        case_person,
        contact,
        newcase,
        neworder,
        suspect_person,
    ] = <[String; 7]>::try_from(people).unwrap();
    let pid = xikang_domain::PersonId::parse(&p).unwrap();
    let cell = read(&app.state.projection.people)[pid.0 as usize]
        .home_cell
        .0;
    let case_cell = read(&app.state.projection.people)
        [xikang_domain::PersonId::parse(&case_person).unwrap().0 as usize]
        .home_cell
        .0;
    let id_number = String::from(app.store.person(pid).unwrap().unwrap().id_number);
    let code = app.code_token(&p).await;
    let grid = ok("grid", app.get(admin, "/api/v1/grid/cells").await, 200);
    let cell_row = grid["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["cell"] == json!(cell))
        .unwrap()
        .clone();
    let cell_row = json!({"cell": cell, "community": cell_row["community"].to_string().trim_matches('"'),
        "name": cell_row["name"], "lat": cell_row["lat"], "lon": cell_row["lon"], "worker": cell_row["worker"]});
    let venue = app
        .state
        .projection
        .venues
        .list
        .iter()
        .find(|v| v.area.district().to_string() == district)
        .unwrap();
    let (venue, place_code) = (venue.id.to_string(), venue.place_code.to_string());
    let manager = format!("mgr-{district}");
    let mut sites = Vec::new();
    for name in ["north", "south"] {
        let v = ok(
            "site",
            app.post(
                admin,
                "/api/v1/quarantine/sites",
                json!({"name": name, "kind": "centralized",
                "area": district, "lat": 31.5, "lon": 120.3, "capacity": 50, "manager": manager}),
            )
            .await,
            201,
        );
        sites.push(v["id"].as_str().unwrap().to_owned());
    }
    // A close-contact order cites a tracer's confirmed decision (issue 14).
    app.confirm_close_contact(&p).await;
    app.confirm_close_contact(&neworder).await;
    let order = ok(
        "order",
        app.post(
            admin,
            "/api/v1/quarantine/orders",
            json!({"person": p, "reason": "close_contact", "site": sites[0]}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        "unsampled",
        app.post(
            admin,
            "/api/v1/grid/unsampled",
            json!({"since": rfc(-HOUR), "cells": [cell]}),
        )
        .await,
        201,
    );
    let tasks = ok(
        "tasks",
        app.get(admin, &format!("/api/v1/grid/tasks?cell={cell}"))
            .await,
        200,
    );
    let task = tasks["tasks"][0]["id"].as_str().unwrap().to_owned();
    let appeal = ok(
        "appeal",
        app.post(
            admin,
            &format!("/api/v1/people/{p}/appeals"),
            json!({"reason": "why red"}),
        )
        .await,
        201,
    )["appeal"]
        .as_str()
        .unwrap()
        .to_owned();
    // A case inside a controlled zone makes the system propose sealing it.
    let zone = ok(
        "zone",
        app.draw_zone(json!({"name": format!("{district} estate"), "level": "controlled", "cells": [case_cell]}))
            .await,
        200,
    )["zone"]
        .as_str()
        .unwrap()
        .to_owned();
    let case = ok(
        "case",
        app.post(
            admin,
            "/api/v1/cases",
            json!({"person": case_person, "kind": "confirmed", "onset": rfc(-2 * DAY)}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A close contact of the district who falls ill links the two cases into a cluster.
    let contacts = ok(
        "contacts",
        app.get(
            admin,
            &format!("/api/v1/cases/{case}/contacts?district={district}&limit=50"),
        )
        .await,
        200,
    );
    let reserved = [
        &p,
        &neighbour,
        &contact,
        &newcase,
        &neworder,
        &case_person,
        &suspect_person,
    ];
    let second = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["person"].as_str().unwrap().to_owned())
        .find(|c| !reserved.contains(&c))
        .unwrap_or_else(|| panic!("no contact of {case} in {district}: {contacts}"));
    ok(
        "second case",
        app.post(
            admin,
            "/api/v1/cases",
            json!({"person": second, "kind": "confirmed", "onset": rfc(-DAY)}),
        )
        .await,
        201,
    );
    let proposals = ok(
        "proposals",
        app.get(admin, "/api/v1/zones/proposals").await,
        200,
    );
    let proposal = proposals["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["zone"] == json!(zone) && p["status"] == "open")
        .unwrap_or_else(|| panic!("no proposal for {zone}: {proposals}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let arrival = ok(
        "arrival",
        app.post(
            admin,
            "/api/v1/arrivals",
            json!({"person": neighbour, "origin": "110101", "planned_at": rfc(HOUR)}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        "sentinel",
        app.post(
            admin,
            "/api/v1/sentinels",
            json!({"venue": venue, "kind": "pharmacy"}),
        )
        .await,
        201,
    );
    let sampling_site = ok(
        "sampling site",
        app.post(
            admin,
            "/api/v1/sampling-sites",
            json!({"name": format!("{district} booth"), "area": district, "cell": cell}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let round = ok(
        "round",
        app.post(
            admin,
            "/api/v1/rounds",
            json!({"name": format!("{district} round"), "area": district, "deadline": rfc(DAY)}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tube = format!("TW-{district}");
    ok(
        "tube",
        app.post(
            admin,
            "/api/v1/tubes",
            json!({"tubes": [{"barcode": tube, "site": sampling_site, "capacity": 10}]}),
        )
        .await,
        200,
    );
    let token = ok(
        "token",
        app.post(
            admin,
            "/api/v1/tokens",
            json!({"name": format!("{district} door"), "role": "venue_device", "area": district}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hold = ok(
        "hold",
        app.post(
            &app.admin2,
            "/api/v1/holds",
            json!({"person": p, "basis": "under review", "expires_at": rfc(DAY)}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let suspect = ok(
        "suspected case",
        app.post(
            admin,
            "/api/v1/cases",
            json!({"person": suspect_person, "kind": "suspected", "onset": rfc(-DAY)}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hospital = ok(
        "hospital",
        app.post(
            admin,
            "/api/v1/quarantine/sites",
            json!({"name": format!("{district} hospital"), "kind": "designated_hospital",
                "area": district, "lat": 31.5, "lon": 120.3, "capacity": 50}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // An identity card for `p`, and `p` holding a neighbour's code as their guardian.
    let card = ok(
        "card",
        app.post(admin, &format!("/api/v1/people/{p}/card"), json!({}))
            .await,
        201,
    )["card"]
        .as_str()
        .unwrap()
        .to_owned();
    let guardian = app
        .token(json!({"name": "guardian", "role": "resident", "area": district, "person": p}))
        .await;
    let dependant = app
        .store
        .person(xikang_domain::PersonId::parse(&neighbour).unwrap())
        .unwrap()
        .unwrap();
    let grant = ok(
        "grant",
        app.post(
            &guardian,
            "/api/v1/claim/proxy",
            json!({"id_number": String::from(dependant.id_number), "name": dependant.name, "relation": "parent"}),
        )
        .await,
        201,
    )["grant"]
        .as_str()
        .unwrap()
        .to_owned();
    let pass = ok(
        "pass",
        app.post(
            &app.admin2,
            "/api/v1/passes",
            json!({"person": p, "employer": format!("91{district}MA1ABCDE0X"), "work_jurisdiction": "320500", "days": 30, "max_test_age_hours": 48}),
        )
        .await,
        201,
    )["pass"]
        .as_str()
        .unwrap()
        .to_owned();
    let peer_url = format!("http://{}", app.addr);
    ok(
        "peer",
        app.post(
            admin,
            "/api/v1/peers",
            json!({"name": "suzhou", "url": peer_url, "anchor": peer_anchor()}),
        )
        .await,
        201,
    );
    let (signed_path, signed_body) = signed_assist(district.parse().unwrap());
    ok(
        "inbox",
        app.post(admin, &signed_path, signed_body.unwrap()).await,
        200,
    );
    let (_, incoming) = app.get(admin, "/api/v1/assist-requests?direction=in").await;
    let assist = incoming.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = ok(
        "message",
        app.call(
            "POST",
            "/api/v1/messages",
            None,
            Some(&json!({"category": "supplies", "title": "物资", "text": "缺米", "district": district})),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let filing = ok(
        "filing",
        app.post(
            admin,
            "/api/v1/enterprises/filings",
            json!({"enterprise": "某厂", "credit_code": format!("91{district}MA1ABCDE0X"), "industry": "manufacturing",
                "area": district, "site": "s", "responsible": "负责人", "measures": "测温",
                "workers": [{"id_number": id_number}]}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let item = ok(
        "item",
        app.post(
            admin,
            "/api/v1/supervision/items",
            json!({"department": "health", "owner": "王科长", "what": "核查隔离点", "area": district, "deadline": rfc(DAY)}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = ok(
        "post",
        app.post(
            admin,
            "/api/v1/enterprises/exchange",
            json!({"credit_code": format!("91{district}MA1ABCDE0X"), "kind": "need", "item": "防护服", "quantity": 50}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let photo = ok(
        "photo",
        app.upload_photo(admin, "image/png", PNG).await,
        201,
    )["photo"]
        .as_str()
        .unwrap()
        .to_owned();
    let inspection = ok(
        "inspection",
        app.post(
            admin,
            "/api/v1/inspections",
            json!({"venue": venue, "kind": "announced", "findings": "扫码查验到位", "passed": true, "photos": [photo]}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        credit: format!("91{district}MA1ABCDE0X"),
        post,
        photo,
        inspection,
        item,
        message,
        filing,
        card,
        grant,
        pass,
        peer_url,
        assist,
        token,
        hold,
        suspect,
        hospital,
        district: district.to_owned(),
        cluster: case.replacen('C', "K", 1),
        p,
        id_number,
        code,
        cell,
        cell_row,
        venue,
        place_code,
        case,
        contact,
        newcase,
        neworder,
        site: sites[0].clone(),
        site2: sites[1].clone(),
        order,
        task,
        appeal,
        zone,
        proposal,
        arrival,
        sampling_site,
        round,
        tube,
    }
}
