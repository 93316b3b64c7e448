//! Issue 14, defect 5 ("one official turns anyone red or yellow") and the public colour
//! ledger, end to end on the real server: orders that cite no evidence are refused, a zone
//! drawn by hand and a manual hold take two officials, the resident sees a hold's basis,
//! a hold lapses at its expiry, and the ledger counts who was turned red or yellow on what
//! basis and by whom.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::web::{Browser, PW, add_user};
use common::*;
use serde_json::{Value, json};
use xikang_domain::time::{DAY, HOUR};
use xikang_domain::{EventSeq, GridCell, PersonId};
use xikang_server::app::{Actor, Role};
use xikang_server::state::read;

/// A resident who is green now (the generated city has a few with test facts), other than
/// those in `skip`.
fn green_person(app: &TestApp, skip: &[u32]) -> u32 {
    let now = xikang_server::now();
    (0..PEOPLE - 1)
        .find(|p| {
            !skip.contains(p)
                && app
                    .state
                    .evaluate(PersonId(*p), now)
                    .is_some_and(|(e, _)| e.colour == xikang_domain::Colour::Green)
        })
        .unwrap()
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

fn rfc(secs_from_now: i64) -> String {
    xikang_server::now().plus(secs_from_now).to_rfc3339()
}

/// A case registered through the API on `person`, and its close-contact candidates (none
/// confirmed yet).
async fn case_with_candidates(app: &TestApp) -> (String, Vec<String>) {
    for p in 0..PEOPLE {
        let (s, v) = app
            .post(
                &app.admin,
                "/api/v1/cases",
                json!({"person": format!("P{p}"), "kind": "confirmed", "onset": rfc(-DAY)}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let case = v["id"].as_str().unwrap().to_owned();
        let (s, list) = app
            .get(
                &app.admin,
                &format!("/api/v1/cases/{case}/contacts?kind=close&limit=50"),
            )
            .await;
        assert_eq!(s, 200, "{list}");
        let people: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "candidate")
            .map(|c| c["person"].as_str().unwrap().to_owned())
            .collect();
        if !people.is_empty() {
            return (case, people);
        }
    }
    panic!("no case with close contacts in the test city");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_contact_order_for_an_unconfirmed_candidate_is_refused_until_a_tracer_confirms() {
    let app = spawn_app().await;
    let site = app.quarantine_site("S", "320213", 10, 31.5, "mgr").await;
    let (case, candidates) = case_with_candidates(&app).await;
    let contact = &candidates[0];
    let colour = app.colour(contact).await;
    let before = app.events();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": contact, "reason": "close_contact", "site": site}),
        )
        .await;
    assert_eq!((s, code(&v)), (422, Some("contact_not_confirmed")), "{v}");
    assert_eq!(app.events(), before, "a refused order appends nothing");
    assert_eq!(app.colour(contact).await, colour, "and changes no colour");

    // The tracer confirms the contact from the co-presence data: now the order cites it.
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/cases/{case}/contacts/{contact}"),
            json!({"action": "confirm"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": contact, "reason": "close_contact", "site": site}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let person = PersonId::parse(contact).unwrap();
    let ordered = app
        .store
        .events_of_person(person)
        .unwrap()
        .into_iter()
        .rfind(|e| e.body.kind() == "quarantine_ordered")
        .unwrap();
    assert!(
        ordered
            .basis
            .contains(&format!("cites contact_decision of {case}")),
        "{}",
        ordered.basis
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_without_their_reasons_evidence_are_refused_with_stable_codes() {
    let app = spawn_app().await;
    let p5 = format!("P{}", green_person(&app, &[]));
    let before = app.events();
    for (reason, want) in [
        ("secondary_contact", "no_close_contact_link"),
        ("close_contact", "contact_not_confirmed"),
        ("high_risk_arrival", "arrival_not_recorded"),
        ("after_quarantine", "nothing_to_follow"),
        ("other", "evidence_required"),
    ] {
        let (s, v) = app
            .post(
                &app.admin,
                "/api/v1/quarantine/orders",
                json!({"person": p5, "reason": reason, "site": null}),
            )
            .await;
        // A regime the policy lacks is its own refusal; every regime it has needs evidence.
        if code(&v) == Some("no_regime") {
            continue;
        }
        assert_eq!((s, code(&v)), (422, Some(want)), "{reason}: {v}");
    }
    assert_eq!(app.events(), before);
    assert_eq!(app.colour(&p5).await, "green");

    // A confirmed close contact is not a secondary contact's link, and the reverse.
    app.confirm_close_contact(&p5).await;
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": p5, "reason": "secondary_contact"}),
        )
        .await;
    assert_eq!((s, code(&v)), (422, Some("no_close_contact_link")), "{v}");
    app.confirm_contact("P6", xikang_domain::event::ContactKind::Secondary)
        .await;
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": "P6", "reason": "secondary_contact"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
}

/// Grid cells, busiest first, until they hold more than `n` residents.
fn cells_with_more_than(app: &TestApp, n: usize) -> (Vec<u32>, Vec<u32>) {
    let people = read(&app.state.projection.people);
    let mut by_cell: std::collections::BTreeMap<GridCell, Vec<u32>> = Default::default();
    for (i, s) in people.iter().enumerate() {
        if s.is_used() {
            by_cell.entry(s.home_cell).or_default().push(i as u32);
        }
    }
    let mut cells: Vec<(GridCell, Vec<u32>)> = by_cell.into_iter().collect();
    cells.sort_by_key(|(_, r)| std::cmp::Reverse(r.len()));
    let (mut chosen, mut residents) = (Vec::new(), Vec::new());
    for (c, r) in cells {
        if residents.len() > n {
            break;
        }
        chosen.push(c.0);
        residents.extend(r);
    }
    (chosen, residents)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_admin_cannot_seal_a_zone_a_second_must_approve_and_the_ledger_counts_it() {
    let app = spawn_app().await;
    let (cells, residents) = cells_with_more_than(&app, 20);
    let someone = format!("P{}", residents[0]);
    let colour = app.colour(&someone).await;
    let day = xikang_server::now().shanghai_day();
    let ledger_before = xikang_server::ledger::colours_on(&app.state, day);
    let before = app.events();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/zones",
            json!({"name": "封控区", "level": "sealed", "cells": cells}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["status"], "proposed");
    assert_eq!(v["residents"], json!(residents.len()));
    assert_eq!(app.events(), before, "a proposal changes no colour fact");
    assert_eq!(app.colour(&someone).await, colour);
    let proposal = v["proposal"].as_str().unwrap().to_owned();
    let zone = v["zone"].as_str().unwrap().to_owned();
    let (_, zones) = app.get(&app.admin, "/api/v1/zones").await;
    assert!(
        !zones.to_string().contains(&format!("\"{zone}\"")),
        "a proposed zone is no zone yet: {zones}"
    );

    // The proposer cannot approve it.
    let approve = format!("/api/v1/zones/proposals/{proposal}/approve");
    let (s, v) = app.post(&app.admin, &approve, json!({})).await;
    assert_eq!((s, code(&v)), (409, Some("same_official")), "{v}");
    assert_eq!(app.colour(&someone).await, colour);

    let (s, v) = app.post(&app.admin2, &approve, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["zone"], json!(zone));
    assert_eq!(app.colour(&someone).await, "red");
    let (s, v) = app.post(&app.admin2, &approve, json!({})).await;
    assert_eq!((s, code(&v)), (409, Some("proposal_decided")), "{v}");
    // The zone's event names both officials.
    let set = app
        .store
        .events_after(EventSeq(0), 100_000)
        .unwrap()
        .into_iter()
        .rfind(|e| e.body.kind() == "zone_set")
        .unwrap();
    assert_eq!(set.actor, "admin:second-admin");
    let basis: Value = serde_json::from_str(&set.basis).unwrap();
    assert_eq!(
        (&basis["act"], &basis["proposer"], &basis["approver"]),
        (
            &json!("draw"),
            &json!("admin:admin"),
            &json!("admin:second-admin")
        )
    );

    // The public ledger (no token) counts them: a hand-drawn zone by two officials, no
    // case link, above the default policy's threshold of 20: the alarm is up.
    let today = xikang_server::ledger::iso_date(xikang_server::now().shanghai_day());
    let (s, l) = app
        .call(
            "GET",
            &format!("/api/v1/ledger/colours?date={today}"),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{l}");
    let zone_rows: u64 = l["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["basis"] == "manual_zone")
        .inspect(|r| {
            assert_eq!(
                (&r["actor"], &r["colour"], &r["case_linked"]),
                (&json!("two_officials"), &json!("red"), &json!(false))
            );
        })
        .map(|r| r["people"].as_u64().unwrap())
        .sum();
    assert_eq!(zone_rows, residents.len() as u64, "{l}");
    let n = residents.len() as u64;
    assert_eq!(l["turned_red"], json!(ledger_before.turned_red + n), "{l}");
    assert_eq!(l["unlinked"], json!(ledger_before.unlinked + n), "{l}");
    assert_eq!(
        (&l["alarm_threshold"], &l["alarm"]),
        (&json!(20), &json!(true))
    );
    assert!(!l.to_string().contains(&someone), "no person in the ledger");

    // The dashboard shows the ledger and its alarm.
    let mut b = Browser::signed_in(&app, "chief", "admin", "320200").await;
    let page = b.get("/web/dashboard").await.text();
    assert!(page.contains("id=\"colour-ledger\""), "{page}");
    assert!(page.contains("id=\"ledger-alarm\""), "{page}");

    // The ledger is folded from the log: a restart counts the same.
    let reloaded = xikang_server::state::AppState::load(
        app.store.clone(),
        xikang_server::ServerConfig::default(),
        xikang_domain::policy::Policy::default_policy(),
        &xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML),
        xikang_server::now(),
    )
    .unwrap();
    let again = xikang_server::ledger::colours_on(&reloaded, xikang_server::now().shanghai_day());
    assert_eq!(again.turned_red, ledger_before.turned_red + n);
    assert_eq!(again.rows.len(), l["rows"].as_array().unwrap().len());

    // Another day has nothing; a malformed date is a 400.
    let (s, l) = app
        .call("GET", "/api/v1/ledger/colours?date=2020-01-01", None, None)
        .await;
    assert_eq!(
        (s, &l["turned_red"], &l["alarm"]),
        (200, &json!(0), &json!(false))
    );
    let (s, l) = app
        .call("GET", "/api/v1/ledger/colours?date=yesterday", None, None)
        .await;
    assert_eq!((s, code(&l)), (400, Some("invalid_date")), "{l}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_takes_two_officials_shows_its_basis_to_the_resident_and_lapses_at_expiry() {
    let app = spawn_app().await;
    let p = green_person(&app, &[]);
    let person = format!("P{p}");
    let area = app
        .state
        .projection
        .person_area(PersonId(p))
        .unwrap()
        .to_string();
    let before = app.events();
    for (body, want) in [
        (
            json!({"person": person, "expires_at": rfc(DAY)}),
            "basis_required",
        ),
        (
            json!({"person": person, "basis": "  ", "expires_at": rfc(DAY)}),
            "basis_required",
        ),
        (json!({"person": person, "basis": "x"}), "expiry_required"),
        (
            json!({"person": person, "basis": "x", "expires_at": "soon"}),
            "invalid_time",
        ),
        (
            json!({"person": person, "basis": "x", "expires_at": rfc(-HOUR)}),
            "invalid_expiry",
        ),
        (
            json!({"person": person, "basis": "x", "expires_at": rfc(30 * DAY)}),
            "invalid_expiry",
        ),
    ] {
        let (s, v) = app.post(&app.admin, "/api/v1/holds", body.clone()).await;
        assert_eq!((s, code(&v)), (400, Some(want)), "{body}: {v}");
    }
    assert_eq!(app.events(), before, "refused proposals append nothing");

    let basis = "举报核查中：疑似接触境外物品 (report under review)";
    let expires = xikang_server::now().plus(2 * DAY);
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/holds",
            json!({"person": person, "basis": basis, "expires_at": expires.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (&v["status"], &v["proposer"], &v["basis"]),
        (&json!("proposed"), &json!("admin:admin"), &json!(basis))
    );
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.colour(&person).await,
        "green",
        "a proposal colours nobody"
    );

    // The proposer approving: 409 same_official, nothing changes.
    let approve = format!("/api/v1/holds/{id}/approve");
    let (s, v) = app.post(&app.admin, &approve, json!({})).await;
    assert_eq!((s, code(&v)), (409, Some("same_official")), "{v}");
    assert_eq!(app.colour(&person).await, "green");
    // A tracer may propose but not approve.
    let tracer = app.role_token("li", "tracer", &area).await;
    let (s, _) = app.post(&tracer, &approve, json!({})).await;
    assert_eq!(s, 403);

    let (s, v) = app.post(&app.admin2, &approve, json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (&v["status"], &v["approver"]),
        (&json!("active"), &json!("admin:second-admin"))
    );
    assert_eq!(app.colour(&person).await, "yellow");
    let (s, v) = app.post(&app.admin2, &approve, json!({})).await;
    assert_eq!((s, code(&v)), (409, Some("hold_decided")), "{v}");

    // Both officials are in the authority log.
    let log = app.store.events_of_person(PersonId(p)).unwrap();
    let proposed = log
        .iter()
        .find(|e| e.body.kind() == "hold_proposed")
        .unwrap();
    let placed = log.iter().find(|e| e.body.kind() == "hold_placed").unwrap();
    assert_eq!(proposed.actor, "admin:admin");
    assert_eq!(proposed.basis, basis);
    assert_eq!(placed.actor, "admin:second-admin");
    match &placed.body {
        xikang_domain::event::EventBody::HoldPlaced {
            proposer,
            approver,
            proposal,
            ..
        } => assert_eq!(
            (proposer.as_str(), approver.as_str(), *proposal),
            ("admin:admin", "admin:second-admin", Some(proposed.seq))
        ),
        other => panic!("{other:?}"),
    }

    // The resident sees the hold and its basis: the code JSON and the code page.
    let resident = app
        .token(json!({"name": "me", "role": "resident", "area": area, "person": person}))
        .await;
    let (s, c) = app
        .get(&resident, &format!("/api/v1/people/{person}/code"))
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["colour"], "yellow");
    let reason = c["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "hold")
        .unwrap_or_else(|| panic!("{c}"));
    assert_eq!(reason["basis"], json!(basis));
    assert_eq!(reason["until"], json!(expires.to_rfc3339()));
    add_user(&app, "resident9", "resident", &area, None, Some(p));
    let mut b = Browser::new(&app);
    b.login("resident9", PW).await;
    let page = b.get("/web/me").await.text();
    assert!(page.contains("class=\"hold-basis\""), "{page}");
    assert!(page.contains("举报核查中"), "{page}");

    // It lapses at its expiry: the colour evaluated at that instant is green again.
    let (eval, _) = app.state.evaluate(PersonId(p), expires.plus(-1)).unwrap();
    assert_eq!(eval.colour, xikang_domain::Colour::Yellow);
    let (eval, _) = app.state.evaluate(PersonId(p), expires).unwrap();
    assert_eq!(eval.colour, xikang_domain::Colour::Green);
    let h = read(&app.state.projection.holds)
        .values()
        .find(|h| h.person == PersonId(p))
        .cloned()
        .unwrap();
    use xikang_server::holds::{HoldStatus, status_of};
    assert_eq!(status_of(&h, expires.plus(-1)), HoldStatus::Active);
    assert_eq!(status_of(&h, expires), HoldStatus::Expired);

    // The ledger: one person turned yellow on a manual hold by two officials.
    let l = xikang_server::ledger::colours_on(&app.state, xikang_server::now().shanghai_day());
    let row = l.rows.iter().find(|r| r.basis == "manual_hold").unwrap();
    assert_eq!(
        (row.actor.as_str(), row.colour, row.people, row.case_linked),
        ("two_officials", xikang_domain::Colour::Yellow, 1, false)
    );
    assert!(l.turned_yellow >= 1);

    // An official clears it at once.
    let (s, v) = app
        .post(&tracer, &format!("/api/v1/holds/{id}/clear"), json!({}))
        .await;
    assert_eq!((s, &v["status"]), (200, &json!("cleared")), "{v}");
    assert_eq!(app.colour(&person).await, "green");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposed_hold_not_approved_before_its_expiry_cannot_be_approved_after() {
    let app = spawn_app().await;
    let person = format!("P{}", green_person(&app, &[]));
    let expires = xikang_server::now().plus(HOUR);
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/holds",
            json!({"person": person, "basis": "under review", "expires_at": expires.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = EventSeq::parse(v["id"].as_str().unwrap()).unwrap();
    let second = Actor {
        name: "second-admin".into(),
        role: Role::Admin,
        area: xikang_domain::AreaCode::parse("320200").unwrap(),
        venue: None,
        person: None,
        id_lookup: true,
        enterprise: None,
    };
    // Approving at the expiry (the time is an argument: no waiting for the clock).
    let e = xikang_server::holds::approve_hold(&app.state, &second, id, expires)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            xikang_server::error::AppError::Conflict {
                code: "hold_expired",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(app.colour(&person).await, "green");
    // Before it, the same approval places the hold.
    let out = xikang_server::holds::approve_hold(&app.state, &second, id, xikang_server::now())
        .await
        .unwrap();
    assert_eq!(out.status, "active");
    assert_eq!(app.colour(&person).await, "yellow");
}
