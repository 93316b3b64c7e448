//! District escapes of issue 14 not covered by the role × area matrix's single objects: an
//! unmasked contact export must not unmask contacts who live in another district, and a
//! district official posts location pings only for people of their district. (Tokens for
//! another district's venue or person, `GET /scans?venue=` and the authority log are in
//! `authorisation.rs`.)

mod common;

use common::*;
use serde_json::json;
use xikang_domain::PersonId;
use xikang_domain::time::DAY;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmasked_export_masks_the_contacts_who_live_in_other_districts() {
    let app = spawn_app().await;
    let home = app.districts()[0].clone();
    let onset = xikang_server::now().plus(-2 * DAY).to_rfc3339();
    // A case of the home district whose contacts live both inside and outside it.
    let mut found = None;
    for p in app.residents_of(&home) {
        let (s, v) = app
            .post(
                &app.admin,
                "/api/v1/cases",
                json!({"person": format!("P{p}"), "kind": "confirmed", "onset": onset}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let case = v["id"].as_str().unwrap().to_owned();
        let (_, list) = app
            .get(
                &app.admin,
                &format!("/api/v1/cases/{case}/contacts?limit=1000"),
            )
            .await;
        let contacts: Vec<(PersonId, bool)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let person = PersonId::parse(c["person"].as_str().unwrap()).unwrap();
                let area = app.state.projection.person_area(person).unwrap();
                (person, area.district().to_string() == home)
            })
            .collect();
        if contacts.iter().any(|c| c.1) && contacts.iter().any(|c| !c.1) {
            found = Some((case, contacts));
            break;
        }
    }
    let (case, contacts) = found.expect("a case with contacts inside and outside its district");

    let tracer = app.role_token("wang", "tracer", &home).await;
    let r = app
        .conn()
        .await
        .get(
            &format!(
                "/api/v1/cases/{case}/contacts/export?format=csv&unmask=true&purpose=phone%20contacts"
            ),
            Some(&tracer),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let csv = r.text();
    for (person, inside) in contacts {
        let p = app.store.person(person).unwrap().unwrap();
        let line = csv
            .lines()
            .find(|l| l.starts_with(&format!("{person},")))
            .unwrap_or_else(|| panic!("{person} is on the list"));
        if inside {
            assert!(line.contains(p.id_number.expose()), "{person} unmasked");
        } else {
            assert!(
                !line.contains(p.id_number.expose()),
                "{person} of another district"
            );
            assert!(
                line.contains(&p.id_number.masked()),
                "{person} masked: {line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_official_posts_location_pings_only_for_people_of_their_district() {
    let app = spawn_app().await;
    let d = app.districts();
    let (home, away) = (d[0].clone(), d[1].clone());
    let (home_p, away_p) = (app.residents_of(&home)[0], app.residents_of(&away)[0]);
    let boss = app.role_token("boss", "admin", &home).await;
    let ping = |p: u32| {
        json!({"person": format!("P{p}"), "at": xikang_server::now().plus(-600).to_rfc3339(),
               "lat": 31.5, "lon": 120.3})
    };
    let (s, v) = app
        .post(&boss, "/api/v1/pings", json!({"pings": [ping(away_p)]}))
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(
        v["error"]["details"]["rejected"][0]["error"]["code"], "forbidden",
        "{v}"
    );
    let (s, v) = app
        .post(
            &boss,
            "/api/v1/pings",
            json!({"pings": [ping(home_p), ping(away_p)]}),
        )
        .await;
    assert_eq!((s, v["accepted"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(v["rejected"][0]["index"], 1, "{v}");
    assert_eq!(v["rejected"][0]["error"]["code"], "forbidden", "{v}");
    // A carrier of the whole city feeds pings for everyone.
    let carrier = app.role_token("feed", "carrier", "320200").await;
    let (s, v) = app
        .post(
            &carrier,
            "/api/v1/pings",
            json!({"pings": [ping(home_p), ping(away_p)]}),
        )
        .await;
    assert_eq!((s, v["accepted"].as_u64()), (200, Some(2)), "{v}");
}
