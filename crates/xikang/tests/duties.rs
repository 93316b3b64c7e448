//! Duties end to end (issue 5): the real server on port 0 over a real SQLite store holding a
//! small generated city with its grid. Every refusal is checked to change nothing.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use xikang_domain::duties::TaskKind;
use xikang_domain::event::{EventBody, RiskLevel};
use xikang_domain::testing::{LabOutcome, ResultLine, SamplingSite, SiteId, TubeBarcode};
use xikang_domain::time::{DAY, HOUR};
use xikang_domain::{AreaCode, ArrivalId, CivilDay, GridCell, PersonId, Timestamp};
use xikang_server::lab;
use xikang_server::state::read;
use xikang_store::{ArrivalRecord, DutyOp, NewTask};

fn cell_of(app: &TestApp, p: u32) -> u32 {
    read(&app.state.projection.people)[p as usize].home_cell.0
}

/// Another resident of the same home cell as `p`.
fn neighbour(app: &TestApp, p: u32) -> u32 {
    let people = read(&app.state.projection.people);
    let cell = people[p as usize].home_cell;
    (0..people.len() as u32)
        .find(|q| {
            *q != p
                && people[*q as usize].home_cell == cell
                && people[*q as usize].community != u32::MAX
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_site_refuses_admission_suggests_the_nearest_site_with_room_and_changes_nothing() {
    let app = spawn_app().await;
    let a = app.quarantine_site("A", "320213", 1, 31.50, "mgr-a").await;
    let _far = app
        .quarantine_site("far", "320213", 5, 32.50, "mgr-far")
        .await;
    let near = app
        .quarantine_site("near", "320213", 5, 31.51, "mgr-near")
        .await;
    app.confirm_close_contact("P1").await;
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": "P1", "reason": "close_contact", "site": a}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["kind"], "centralized");
    let days: Vec<u64> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["day"].as_u64().unwrap())
        .collect();
    assert_eq!(days, vec![1, 2, 3, 5, 7], "第九版 test days");
    assert_eq!(app.colour("P1").await, "red");

    app.confirm_close_contact("P2").await;
    let colour_before = app.colour("P2").await;
    let before = app.events();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": "P2", "reason": "close_contact", "site": a}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("site_full")),
        "{v}"
    );
    assert_eq!(
        v["error"]["details"]["nearest"]["id"].as_str(),
        Some(near.as_str())
    );
    assert_eq!(app.events(), before, "a refused admission appends no event");
    assert_eq!(app.colour("P2").await, colour_before);
    let (_, orders) = app
        .get(&app.admin, "/api/v1/quarantine/orders?person=P2")
        .await;
    assert_eq!(orders["orders"].as_array().unwrap().len(), 0);

    // Transfer (转运) to the near site frees A; the move is an authority event.
    let order = app
        .get(&app.admin, "/api/v1/quarantine/orders?person=P1")
        .await
        .1["orders"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/quarantine/orders/{order}/transfer"),
            json!({"site": near}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, sites) = app.get(&app.admin, "/api/v1/quarantine/sites").await;
    let occ: Vec<u64> = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["occupancy"].as_u64().unwrap())
        .collect();
    assert_eq!(occ, vec![0, 0, 1]);
    let log = app.store.events_of_person(PersonId(1)).unwrap();
    assert!(
        log.iter()
            .any(|e| e.body.kind() == "quarantine_transferred")
    );

    // A site manager sees their own site's orders only.
    let mgr = app.role_token("mgr-a", "site_manager", "320200").await;
    let (s, _) = app
        .get(&mgr, &format!("/api/v1/quarantine/orders?site={near}"))
        .await;
    assert_eq!(s, 403);
    let (s, v) = app
        .get(&mgr, &format!("/api/v1/quarantine/orders?site={a}"))
        .await;
    assert_eq!(s, 200, "{v}");
}

async fn post_negative(app: &TestApp, p: u32, sampled: Timestamp, tube: &str) {
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/test-results",
            json!({"results": [{
        "person": format!("P{p}"), "sampled_at": sampled.to_rfc3339(),
        "resulted_at": sampled.plus(6 * HOUR).to_rfc3339(), "outcome": "negative", "tube": tube}]}),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_needs_the_plans_end_and_every_scheduled_test_negative_otherwise_the_order_is_extended()
 {
    let app = spawn_app().await;
    let s1 = app.quarantine_site("S", "320213", 10, 31.5, "m").await;
    let today = xikang_server::now().shanghai_day().0;
    let start = CivilDay(today - 8).start().plus(9 * HOUR);

    // P3: every scheduled test negative → released into 3 days' home health monitoring.
    app.confirm_close_contact("P3").await;
    let (s, v) = app.post(&app.admin,
        "/api/v1/quarantine/orders",
        json!({"person": "P3", "regime": "close_contact", "site": s1, "start": start.to_rfc3339()}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let o3 = v["id"].as_str().unwrap().to_owned();
    for d in [1, 2, 3, 5, 7] {
        post_negative(
            &app,
            3,
            CivilDay(today - 8 + d - 1).start().plus(12 * HOUR),
            &format!("T3-{d}"),
        )
        .await;
    }
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/quarantine/orders/{o3}/release"),
            json!({}),
        )
        .await;
    assert_eq!((s, v["outcome"].as_str()), (200, Some("released")), "{v}");
    assert_eq!(v["next"]["kind"], "health_monitoring");
    assert_eq!(v["next"]["tests"][0]["day"], 3, "home day 3");
    assert_eq!(app.colour("P3").await, "yellow");
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/quarantine/orders/{o3}/release"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("order_not_active"))
    );

    // P4: the day-5 test is missing → extended by the policy's day, a retest task, and
    // then a release before the new end is refused.
    app.confirm_close_contact("P4").await;
    let (s, v) = app.post(&app.admin,
        "/api/v1/quarantine/orders",
        json!({"person": "P4", "regime": "close_contact", "site": s1, "start": start.to_rfc3339()}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let o4 = v["id"].as_str().unwrap().to_owned();
    for d in [1, 2, 3, 7] {
        post_negative(
            &app,
            4,
            CivilDay(today - 8 + d - 1).start().plus(12 * HOUR),
            &format!("T4-{d}"),
        )
        .await;
    }
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/quarantine/orders/{o4}/release"),
            json!({}),
        )
        .await;
    assert_eq!((s, v["outcome"].as_str()), (200, Some("extended")), "{v}");
    assert_eq!(v["missing_days"], json!([5]));
    assert_eq!(
        app.colour("P4").await,
        "red",
        "still under the extended order"
    );
    let before = app.events();
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/quarantine/orders/{o4}/release"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("release_too_early")),
        "{v}"
    );
    assert_eq!(app.events(), before);
    let cell = cell_of(&app, 4);
    let (_, tasks) = app
        .get(&app.admin, &format!("/api/v1/grid/tasks?cell={cell}"))
        .await;
    assert!(
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "retest" && t["person"] == "P4")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fever_flags_a_tracer_and_a_test_task_and_a_missed_report_becomes_a_task() {
    let app = spawn_app().await;
    // Home isolation (secondary contact): tests are tasks on the home cell.
    app.confirm_contact("P5", xikang_domain::event::ContactKind::Secondary)
        .await;
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": "P5", "reason": "secondary_contact"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(app.colour("P5").await, "yellow");
    let worker = format!("gw{}", cell_of(&app, 5));
    let gw = app.role_token(&worker, "grid_worker", "320200").await;
    let (s, v) = app.get(&gw, "/api/v1/grid/tasks").await;
    assert_eq!(s, 200, "{v}");
    let tests = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "arrange_test")
        .count();
    assert_eq!(tests, 3, "secondary contacts test on days 1, 4, 7: {v}");

    let me = app
        .token(json!({"name": "p5", "role": "resident", "area": "320200", "person": "P5"}))
        .await;
    let (s, v) = app
        .post(
            &me,
            "/api/v1/quarantine/reports",
            json!({"person": "P5", "temperature_c": 99.0}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_temperature"))
    );
    // P6 is someone else: refused before anything is said about their orders.
    let (s, _) = app
        .post(
            &me,
            "/api/v1/quarantine/reports",
            json!({"person": "P6", "temperature_c": 36.5}),
        )
        .await;
    assert_eq!(s, 403, "a resident reports for themselves only");
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/reports",
            json!({"person": "P6", "temperature_c": 36.5}),
        )
        .await;
    assert_eq!(s, 422, "P6 is under no order");
    let (s, v) = app
        .post(
            &me,
            "/api/v1/quarantine/reports",
            json!({"person": "P5", "temperature_c": 38.2, "symptoms": ["cough"]}),
        )
        .await;
    assert_eq!(
        (s, v["fever"].as_bool(), v["flagged"].as_bool()),
        (201, Some(true), Some(true)),
        "{v}"
    );
    let (_, f) = app.get(&app.admin, "/api/v1/quarantine/follow-ups").await;
    assert_eq!(f["follow_ups"][0]["person"], "P5");
    assert_eq!(f["follow_ups"][0]["reason"], "fever");
    let (_, v) = app.get(&gw, "/api/v1/grid/tasks").await;
    assert!(
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["detail"].as_str().unwrap().contains("health report"))
    );

    // P7 under an order that began yesterday never reported: the sweep makes one task, once.
    let yesterday = xikang_server::now().plus(-DAY - HOUR);
    app.confirm_contact("P7", xikang_domain::event::ContactKind::Secondary)
        .await;
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": "P7", "reason": "secondary_contact", "start": yesterday.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post(&app.admin, "/api/v1/duties/sweep", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["missed_report_tasks"].as_u64().unwrap() >= 1, "{v}");
    let cell7 = cell_of(&app, 7);
    let missed = |v: &Value| {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == "health_report_missed" && t["person"] == "P7")
            .count()
    };
    let (_, v) = app
        .get(
            &app.admin,
            &format!("/api/v1/grid/tasks?cell={cell7}&limit=500"),
        )
        .await;
    assert_eq!(missed(&v), 1);
    app.post(&app.admin, "/api/v1/duties/sweep", json!({}))
        .await;
    let (_, v) = app
        .get(
            &app.admin,
            &format!("/api/v1/grid/tasks?cell={cell7}&limit=500"),
        )
        .await;
    assert_eq!(missed(&v), 1, "the same missed report is one task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_worker_sees_and_completes_only_the_tasks_of_their_cells() {
    let app = spawn_app().await;
    let (c1, c2) = {
        let (_, v) = app.get(&app.admin, "/api/v1/grid/cells").await;
        let cells = v["cells"].as_array().unwrap();
        assert!(cells.len() >= 2, "{v}");
        (
            cells[0]["cell"].as_u64().unwrap() as u32,
            cells[1]["cell"].as_u64().unwrap() as u32,
        )
    };
    let now = xikang_server::now();
    let task = |cell: u32, due: Timestamp| NewTask {
        cell: GridCell(cell),
        kind: TaskKind::Delivery,
        person: None,
        household: None,
        detail: "deliver".into(),
        created_at: now,
        due_at: due,
        dedupe: None,
    };
    app.store
        .commit_duties(
            &[DutyOp::InsertTasks(vec![
                task(c1, now.plus(-HOUR)),
                task(c1, now.plus(HOUR)),
                task(c2, now.plus(-HOUR)),
            ])],
            &[],
        )
        .unwrap();
    let gw = app
        .role_token(&format!("gw{c1}"), "grid_worker", "320200")
        .await;
    let (s, v) = app.get(&gw, "/api/v1/grid/tasks").await;
    assert_eq!(s, 200);
    let mine = v["tasks"].as_array().unwrap();
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|t| t["cell"] == c1));
    let (s, _) = app.get(&gw, &format!("/api/v1/grid/tasks?cell={c2}")).await;
    assert_eq!(s, 403);
    let other = app.store.open_tasks_of_cells(&[GridCell(c2)], 10).unwrap()[0].id;
    let (s, _) = app
        .post(
            &gw,
            &format!("/api/v1/grid/tasks/{other}/complete"),
            json!({"note": "x"}),
        )
        .await;
    assert_eq!(s, 403);
    let id = mine[0]["id"].as_str().unwrap();
    let (s, v) = app
        .post(
            &gw,
            &format!("/api/v1/grid/tasks/{id}/complete"),
            json!({"note": "  "}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_note"))
    );
    let (s, _) = app
        .post(
            &gw,
            &format!("/api/v1/grid/tasks/{id}/complete"),
            json!({"note": "送达 delivered"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = app
        .post(
            &gw,
            &format!("/api/v1/grid/tasks/{id}/complete"),
            json!({"note": "again"}),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("task_done")));

    // The overdue roll-up: one overdue task left in each cell, summed per street and district.
    let (s, v) = app.get(&app.admin, "/api/v1/grid/overdue").await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 1, "{v}");
    let streets: u64 = v["streets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["overdue"].as_u64().unwrap())
        .sum();
    let districts: u64 = v["districts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["overdue"].as_u64().unwrap())
        .sum();
    assert_eq!((streets, districts), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zones_colour_their_residents_and_change_only_with_a_second_officials_approval() {
    let app = spawn_app().await;
    let cell = cell_of(&app, 8);
    let other = neighbour(&app, 8);
    let before = app.events();
    let bow_tie = json!({"type": "Polygon", "coordinates": [[[120.0, 31.0], [121.0, 32.0], [121.0, 31.0], [120.0, 32.0], [120.0, 31.0]]]});
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/zones",
            json!({"name": "bad", "level": "sealed", "polygon": bow_tie}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_polygon")),
        "{v}"
    );
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/zones",
            json!({"name": "bad", "level": "sealed", "cells": [999999]}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(app.events(), before, "refused zones append nothing");

    // A controlled zone: a case inside proposes sealing it.
    let (s, v) = app
        .draw_zone(json!({"name": "管控区", "level": "controlled", "cells": [cell]}))
        .await;
    assert_eq!(s, 200, "{v}");
    let zone = v["zone"].as_str().unwrap().to_owned();
    assert_eq!(
        app.colour(&format!("P{other}")).await,
        "green",
        "the default policy does not colour controlled zones"
    );
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/zones/{zone}/proposals"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("conditions_not_met")),
        "{v}"
    );
    let onset = xikang_server::now().plus(-HOUR).to_rfc3339();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": "P8", "kind": "confirmed", "onset": onset}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // The case itself proposed sealing the zone, at once (not at the next sweep).
    let (_, v) = app.get(&app.admin, "/api/v1/zones/proposals").await;
    let system = &v["proposals"][0];
    assert_eq!(
        (
            system["zone"].as_str(),
            system["action"].as_str(),
            system["to_level"].as_str(),
            system["proposer"].as_str()
        ),
        (
            Some(zone.as_str()),
            Some("set_level"),
            Some("sealed"),
            Some("system:zones")
        ),
        "{v}"
    );
    // Rejected here, so that an official's own proposal and its approval can be shown.
    let (s, v) = app
        .post(
            &app.admin,
            &format!(
                "/api/v1/zones/proposals/{}/reject",
                system["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/zones/{zone}/proposals"),
            json!({}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["action"].as_str(), v["to_level"].as_str()),
        (Some("set_level"), Some("sealed"))
    );
    let proposal = v["id"].as_str().unwrap().to_owned();
    let before = app.events();
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/zones/proposals/{proposal}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("same_official")),
        "{v}"
    );
    assert_eq!(app.events(), before);
    assert_eq!(app.colour(&format!("P{other}")).await, "green");
    let second = app.role_token("second", "admin", "320200").await;
    let (s, v) = app
        .post(
            &second,
            &format!("/api/v1/zones/proposals/{proposal}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["tasks"].as_u64().unwrap() >= 2,
        "screening and deliveries: {v}"
    );
    assert_eq!(
        app.colour(&format!("P{other}")).await,
        "red",
        "a sealed zone's resident is red"
    );
    let last = app
        .store
        .events_after(xikang_domain::EventSeq(before), 10)
        .unwrap();
    let zone_set = last.iter().find(|e| e.body.kind() == "zone_set").unwrap();
    assert_eq!(zone_set.actor, "admin:second");
    assert!(
        zone_set.basis.contains("\"proposer\":\"admin:admin\""),
        "{}",
        zone_set.basis
    );
    let gw = app
        .role_token(&format!("gw{cell}"), "grid_worker", "320200")
        .await;
    let (_, t) = app.get(&gw, "/api/v1/grid/tasks?limit=500").await;
    let kinds: Vec<&str> = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"door_to_door_screening") && kinds.contains(&"delivery"),
        "{kinds:?}"
    );
    // Lifting is not proposed while the conditions (14 days without a case…) do not hold.
    let (s, v) = app
        .post(&app.admin, "/api/v1/zones/proposals/run", json!({}))
        .await;
    assert_eq!((s, v["proposed"].as_u64()), (200, Some(0)), "{v}");
    let (_, c) = app
        .get(&app.admin, &format!("/api/v1/zones/{zone}/conditions"))
        .await;
    assert_eq!(c["all_hold"], false, "{c}");
}

/// The open proposals of `zone` (action, conditions).
async fn open_proposals_of(app: &TestApp, zone: &str) -> Vec<Value> {
    let (s, v) = app.get(&app.admin, "/api/v1/zones/proposals").await;
    assert_eq!(s, 200, "{v}");
    v["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "open" && p["zone"] == zone)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_zones_negative_round_waits_neither_for_a_case_in_treatment_nor_the_dead_but_for_the_discharged()
 {
    let app = spawn_app().await;
    // Sealed zones lift on their negative round alone, so that the test need not wait 14
    // days; every other number is the shipped default.
    let default = xikang_domain::policy::DEFAULT_POLICY_TOML;
    let version = xikang_domain::policy::Policy::default_policy()
        .version()
        .to_owned();
    let text = default.replacen(&version, "xikang-lift-test", 1).replace(
        "[duties.lift.sealed]\ndays_without_case = 14\nlast_contact_days = 14\nnegative_round_days = 2",
        "[duties.lift.sealed]\ndays_without_case = 0\nnegative_round_days = 2",
    );
    assert!(
        !text.contains("[duties.lift.sealed]\ndays_without_case = 14"),
        "fixture must change the lifting rule"
    );
    app.switch_policy(&text).await;

    let cell = cell_of(&app, 8);
    let residents: Vec<u32> = {
        let people = read(&app.state.projection.people);
        (0..people.len() as u32)
            .filter(|&q| {
                people[q as usize].home_cell.0 == cell && people[q as usize].community != u32::MAX
            })
            .collect()
    };
    assert!(
        residents.contains(&8) && residents.len() >= 3,
        "{residents:?}"
    );
    let (s, v) = app
        .draw_zone(json!({"name": "封控区", "level": "sealed", "cells": [cell]}))
        .await;
    assert_eq!(s, 200, "{v}");
    let zone = v["zone"].as_str().unwrap().to_owned();

    // P8 is a case under treatment (in a designated hospital); everyone else tests negative.
    let now = xikang_server::now();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": "P8", "kind": "confirmed", "onset": now.plus(-DAY).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let case = v["id"].as_str().unwrap().to_owned();
    let lab = app.role_token("lab-lift", "lab", "320200").await;
    let results: Vec<Value> = residents
        .iter()
        .filter(|&&q| q != 8)
        .map(|q| {
            json!({"person": format!("P{q}"), "sampled_at": now.plus(-2 * HOUR).to_rfc3339(),
                "resulted_at": now.plus(-HOUR).to_rfc3339(), "outcome": "negative",
                "pool_size": 1, "tube": format!("LIFT-{q}")})
        })
        .collect();
    app.post_ok(&lab, "/api/v1/test-results", json!({"results": results}))
        .await;

    app.post_ok(&app.admin, "/api/v1/zones/proposals/run", json!({}))
        .await;
    let open = open_proposals_of(&app, &zone).await;
    assert_eq!(open.len(), 1, "the lift is proposed: {open:?}");
    assert_eq!(open[0]["action"], "lift", "{open:?}");
    let round = |c: &Value| -> String {
        c.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "negative_round")
            .map(|c| format!("{} {}", c["holds"], c["detail"].as_str().unwrap()))
            .unwrap()
    };
    let others = residents.len() - 1;
    assert_eq!(
        round(&open[0]["conditions"]),
        format!(
            "true {others} of {others} residents tested negative within 2 day(s); 1 in treatment or deceased not counted"
        )
    );
    app.post_ok(
        &app.admin,
        &format!(
            "/api/v1/zones/proposals/{}/reject",
            open[0]["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;

    // Discharged, P8 lives in the zone again and has no negative since: no lift.
    app.post_ok(
        &app.admin,
        &format!("/api/v1/cases/{case}/discharge"),
        json!({}),
    )
    .await;
    let (s, v) = app
        .post(&app.admin, "/api/v1/zones/proposals/run", json!({}))
        .await;
    assert_eq!((s, v["proposed"].as_u64()), (200, Some(0)), "{v}");
    assert!(open_proposals_of(&app, &zone).await.is_empty());
    let (_, c) = app
        .get(&app.admin, &format!("/api/v1/zones/{zone}/conditions"))
        .await;
    assert_eq!(c["all_hold"], false, "{c}");
    assert_eq!(
        round(&c["conditions"]),
        format!(
            "false {others} of {} residents tested negative within 2 day(s)",
            others + 1
        )
    );

    // Another resident falls ill, tests positive and dies: the round cannot wait for them.
    // P8 tests negative, so everyone the round awaits is negative again: the lift is proposed.
    let q = *residents.iter().find(|&&q| q != 8).unwrap();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": format!("P{q}"), "kind": "confirmed",
                   "onset": now.plus(-DAY).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let died = v["id"].as_str().unwrap().to_owned();
    let later = |q: u32, outcome: &str, minutes: i64| {
        json!({"person": format!("P{q}"), "sampled_at": now.plus(-minutes * 60).to_rfc3339(),
               "resulted_at": now.plus(-minutes * 60 + 300).to_rfc3339(), "outcome": outcome,
               "pool_size": 1, "tube": format!("LIFT-{q}-{minutes}")})
    };
    app.post_ok(
        &lab,
        "/api/v1/test-results",
        json!({"results": [later(q, "positive", 40), later(8, "negative", 30)]}),
    )
    .await;
    app.post_ok(
        &app.admin,
        &format!("/api/v1/cases/{died}/death"),
        json!({}),
    )
    .await;
    app.post_ok(&app.admin, "/api/v1/zones/proposals/run", json!({}))
        .await;
    let open = open_proposals_of(&app, &zone).await;
    assert_eq!(open.len(), 1, "the lift is proposed again: {open:?}");
    assert_eq!(
        round(&open[0]["conditions"]),
        format!(
            "true {others} of {others} residents tested negative within 2 day(s); 1 in treatment or deceased not counted"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_follow_their_origins_risk_and_an_unknown_origin_is_refused() {
    let app = spawn_app().await;
    let _s = app
        .quarantine_site("arrivals", "320213", 5, 31.5, "m")
        .await;
    let planned = xikang_server::now().plus(HOUR).to_rfc3339();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/arrivals",
            json!({"person": "P10", "origin": "310101", "planned_at": planned}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("unknown_origin")),
        "{v}"
    );
    for (code, risk) in [("310101", "high"), ("110105", "low")] {
        app.origin(code, code, risk).await;
    }
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/arrivals",
            json!({"person": "P10", "origin": "310101", "planned_at": planned}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["regime"].as_str(), v["order_kind"].as_str()),
        (Some("high_risk_arrival"), Some("centralized"))
    );
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/arrivals/{id}/arrived"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["order"]["reason"], "high_risk_arrival");
    assert_eq!(app.colour("P10").await, "red");
    let (s, _) = app
        .post(
            &app.admin,
            &format!("/api/v1/arrivals/{id}/arrived"),
            json!({}),
        )
        .await;
    assert_eq!(s, 409);

    // Low risk: 3天3检, no order, three test tasks on the home cell, colour unchanged.
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/arrivals",
            json!({"person": "P11", "origin": "110105", "planned_at": planned}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/arrivals/{id}/arrived"),
            json!({}),
        )
        .await;
    assert_eq!((s, v["order"].is_null()), (200, true), "{v}");
    let cell = cell_of(&app, 11);
    let (_, t) = app
        .get(
            &app.admin,
            &format!("/api/v1/grid/tasks?cell={cell}&limit=500"),
        )
        .await;
    let tests = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["person"] == "P11" && t["kind"] == "arrange_test")
        .count();
    assert_eq!(tests, 3);
    assert_eq!(app.colour("P11").await, "green");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_sentinel_turns_the_person_yellow_with_a_48_hour_task_and_an_unregistered_one_is_refused()
 {
    let app = spawn_app().await;
    let pharmacy = {
        let venues = &app.state.projection.venues.list;
        venues
            .iter()
            .find(|v| v.category.as_str() == "pharmacy")
            .unwrap_or(&venues[0])
            .id
    };
    let device = app.token(json!({"name": "pharmacy-1", "role": "venue_device", "area": "320200", "venue": pharmacy.to_string()})).await;
    let token = app.code_token("P12").await;
    let before = app.events();
    let (s, v) = app
        .post(
            &device,
            "/api/v1/sentinels/reports",
            json!({"token": token}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("unregistered_sentinel")),
        "{v}"
    );
    assert_eq!(app.events(), before);
    assert_eq!(app.colour("P12").await, "green");
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/sentinels",
            json!({"venue": pharmacy.to_string(), "kind": "pharmacy"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post(
            &device,
            "/api/v1/sentinels/reports",
            json!({"token": token}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["test_due_within_hours"], 48);
    assert_eq!(app.colour("P12").await, "yellow");
    let cell = cell_of(&app, 12);
    let (_, t) = app
        .get(
            &app.admin,
            &format!("/api/v1/grid/tasks?cell={cell}&limit=500"),
        )
        .await;
    let task = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["person"] == "P12")
        .unwrap()
        .clone();
    let due = Timestamp::parse_rfc3339(task["due_at"].as_str().unwrap()).unwrap();
    let created = Timestamp::parse_rfc3339(task["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(due.0 - created.0, 48 * HOUR);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_not_sampled_since_a_round_began_become_tasks_once() {
    let app = spawn_app().await;
    let cell = cell_of(&app, 13);
    let since = xikang_server::now().plus(-8 * HOUR);
    post_negative(&app, 13, xikang_server::now().plus(-7 * HOUR), "T13").await;
    // Residents of the cell without a sample since the round began (the generated city's
    // routine screening may have sampled some of them already).
    let (residents, expected) = {
        let people = read(&app.state.projection.people);
        let here: Vec<_> = people
            .iter()
            .filter(|s| s.community != u32::MAX && s.home_cell == GridCell(cell))
            .collect();
        let unsampled = here
            .iter()
            .filter(|s| s.facts.last_sample().is_none_or(|t| t < since))
            .count();
        (here.len(), unsampled)
    };
    assert!(expected < residents, "P13 was sampled in the round");
    let body = json!({"since": since.to_rfc3339(), "cells": [cell]});
    let (s, v) = app
        .post(&app.admin, "/api/v1/grid/unsampled", body.clone())
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        v["unsampled"].as_u64().unwrap() as usize,
        residents - 1,
        "P13 was sampled"
    );
    app.post(&app.admin, "/api/v1/grid/unsampled", body).await;
    let (_, t) = app
        .get(
            &app.admin,
            &format!("/api/v1/grid/tasks?cell={cell}&limit=500"),
        )
        .await;
    let tasks: Vec<&Value> = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "unsampled_resident")
        .collect();
    assert_eq!(
        tasks.len(),
        (residents - 1).min(500),
        "one task per resident and round"
    );
    assert!(tasks.iter().all(|t| t["person"] != "P13"));
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/grid/unsampled",
            json!({"since": since.to_rfc3339(), "cells": [999999]}),
        )
        .await;
    assert_eq!(s, 422);
}

/// A sampling site for the lab's own operations.
async fn sampling_site(app: &TestApp) -> SiteId {
    let id = lab::next_site_id(&app.state);
    lab::put_site(
        &app.state,
        SamplingSite {
            id,
            name: "采样点".into(),
            area: AreaCode::parse("320200").unwrap(),
            cell: GridCell(1),
        },
    )
    .await
    .unwrap();
    id
}

/// Swabs `people` into one tube at `at`, ships and receives it, and posts the lab's
/// `outcome`: the lab's own operations, which take the time as an argument (the HTTP API
/// samples at the present only).
async fn lab_tube(
    app: &TestApp,
    site: SiteId,
    barcode: &str,
    people: &[u32],
    at: Timestamp,
    outcome: LabOutcome,
) -> lab::Resulted {
    let st = &app.state;
    let tube = lab::NewTube {
        barcode: barcode.into(),
        site,
        round: None,
        capacity: people.len() as u8,
    };
    let opened = lab::open_tubes(st, vec![tube], at).await.unwrap();
    assert!(opened[0].is_ok(), "{opened:?}");
    let items = people
        .iter()
        .map(|p| (barcode.to_owned(), Ok(PersonId(*p))))
        .collect();
    let bound = lab::bind(st, items, at).await.unwrap();
    assert!(bound.iter().all(Result::is_ok), "{bound:?}");
    let (batch, shipped) = lab::ship(
        st,
        "顺丰".into(),
        "kingmed".into(),
        vec![barcode.into()],
        at,
    )
    .await
    .unwrap();
    assert!(shipped[0].is_ok(), "{shipped:?}");
    let received = lab::receive(st, batch.unwrap(), Vec::new(), at)
        .await
        .unwrap();
    assert!(received[0].is_ok(), "{received:?}");
    let line = ResultLine {
        barcode: TubeBarcode::parse(barcode).unwrap(),
        outcome,
        ct: None,
        resulted_at: None,
    };
    let r = lab::post_results(st, "lab:test", vec![Ok(line)], at)
        .await
        .unwrap();
    r[0].clone().unwrap()
}

/// The due times of the missed tests recorded for a person.
fn missed_tests(app: &TestApp, p: u32) -> Vec<Timestamp> {
    app.store
        .events_of_person(PersonId(p))
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::TestMissed { due_at, .. } => Some(due_at),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_days_without_a_sample_become_missed_tests_once_a_negative_clears_them_and_release_counts_the_labs_negatives()
 {
    let app = spawn_app().await;
    let quarantine = app.quarantine_site("S", "320213", 10, 31.5, "m").await;
    let lab_site = sampling_site(&app).await;
    let today = xikang_server::now().shanghai_day().0;
    let day = |n: i32| CivilDay(today + n).start();

    // P3 and P4: close-contact orders (第九版: tests on days 1, 2, 3, 5, 7) that began 8
    // days ago. The lab swabs P3 on every test day and P4 on all but day 5 (samples first,
    // so that the server's own sweep, whenever it runs, sees the same history).
    for d in [1, 2, 3, 5, 7] {
        let at = day(-8 + d - 1).plus(12 * HOUR);
        lab_tube(
            &app,
            lab_site,
            &format!("WX-Q3-{d}"),
            &[3],
            at,
            LabOutcome::Negative,
        )
        .await;
        if d != 5 {
            lab_tube(
                &app,
                lab_site,
                &format!("WX-Q4-{d}"),
                &[4],
                at,
                LabOutcome::Negative,
            )
            .await;
        }
    }

    let start = day(-8).plus(9 * HOUR);
    let mut orders = Vec::new();
    for p in [3, 4] {
        app.confirm_close_contact(&format!("P{p}")).await;
        let (s, v) = app
            .post(
                &app.admin,
                "/api/v1/quarantine/orders",
                json!({"person": format!("P{p}"), "regime": "close_contact", "site": quarantine,
                   "start": start.to_rfc3339()}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        orders.push(v["id"].as_str().unwrap().to_owned());
    }

    // A resident never sampled before arrived 3 days ago from a low-risk area: 3天3检,
    // no order; the lab swabs them on day 1 only.
    let p5 = {
        let people = read(&app.state.projection.people);
        (10..people.len() as u32)
            .find(|p| {
                let s = &people[*p as usize];
                s.community != u32::MAX && s.facts.last_sample().is_none() && s.facts.is_plain()
            })
            .unwrap()
    };
    let arrived = day(-3).plus(10 * HOUR);
    lab_tube(
        &app,
        lab_site,
        "WX-A5-1",
        &[p5],
        day(-3).plus(15 * HOUR),
        LabOutcome::Negative,
    )
    .await;
    let id = ArrivalId(app.store.next_duty_id("arrival").unwrap());
    app.store
        .commit_duties(
            &[DutyOp::InsertArrival(ArrivalRecord {
                id,
                person: PersonId(p5),
                origin: "110105".into(),
                risk: RiskLevel::Low,
                regime: "low_risk_arrival".into(),
                planned_at: arrived,
                arrived_at: Some(arrived),
                registered_at: arrived.plus(-DAY),
            })],
            &[],
        )
        .unwrap();
    assert_eq!(app.colour(&format!("P{p5}")).await, "green");

    let (s, v) = app
        .post(&app.admin, "/api/v1/duties/sweep", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["missed_scheduled_tests"], 3,
        "P4's day 5 and the arrival's days 2 and 3: {v}"
    );
    assert_eq!(
        missed_tests(&app, 3),
        vec![],
        "every test day has a lab sample"
    );
    assert_eq!(
        missed_tests(&app, 4),
        vec![day(-8 + 5)],
        "day 5, due at its end"
    );
    assert_eq!(missed_tests(&app, p5), vec![day(-1), day(0)]);
    assert_eq!(
        app.colour(&format!("P{p5}")).await,
        "yellow",
        "a missed mandated test: the policy's pop-up (type 4)"
    );
    let e = app.store.events_of_person(PersonId(p5)).unwrap();
    let basis = &e
        .iter()
        .find(|e| e.body.kind() == "test_missed")
        .unwrap()
        .basis;
    assert!(basis.contains("test day 2 of arrival"), "{basis}");

    // Checking again records nothing new: each lapse once.
    let (_, v) = app
        .post(&app.admin, "/api/v1/duties/sweep", json!({}))
        .await;
    assert_eq!(v["missed_scheduled_tests"], 0, "{v}");
    // A negative result clears it at once.
    lab_tube(
        &app,
        lab_site,
        "WX-A5-2",
        &[p5],
        xikang_server::now(),
        LabOutcome::Negative,
    )
    .await;
    assert_eq!(app.colour(&format!("P{p5}")).await, "green");

    // Release counts the lab's negatives (one event per tube, not per person): P3 is
    // released; P4's missing day 5 extends the order by the policy's day.
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/quarantine/orders/{}/release", orders[0]),
            json!({}),
        )
        .await;
    assert_eq!((s, v["outcome"].as_str()), (200, Some("released")), "{v}");
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/quarantine/orders/{}/release", orders[1]),
            json!({}),
        )
        .await;
    assert_eq!((s, v["outcome"].as_str()), (200, Some("extended")), "{v}");
    assert_eq!(v["missing_days"], json!([5]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_positive_pools_retests_reach_the_grid_workers_list_and_close_with_the_single_tube_result()
 {
    let app = spawn_app().await;
    let lab_site = sampling_site(&app).await;
    let now = xikang_server::now();
    let cell = cell_of(&app, 20);
    let other = neighbour(&app, 20);
    let elsewhere = {
        let people = read(&app.state.projection.people);
        (21..people.len() as u32)
            .find(|p| {
                let s = &people[*p as usize];
                s.community != u32::MAX && s.home_cell != GridCell(cell)
            })
            .unwrap()
    };
    let r = lab_tube(
        &app,
        lab_site,
        "WX-P-1",
        &[20, other, elsewhere],
        now,
        LabOutcome::Positive,
    )
    .await;
    assert_eq!((r.holds, r.tasks), (3, 3));

    let gw = app
        .role_token(&format!("gw{cell}"), "grid_worker", "320200")
        .await;
    let retests = |v: &Value| -> Vec<(String, String)> {
        v["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == "arrange_retest")
            .map(|t| {
                (
                    t["person"].as_str().unwrap().to_owned(),
                    t["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let (s, v) = app.get(&gw, "/api/v1/grid/tasks?limit=500").await;
    assert_eq!(s, 200, "{v}");
    let mut mine: Vec<String> = retests(&v).into_iter().map(|(p, _)| p).collect();
    mine.sort();
    let mut expected = vec!["P20".to_owned(), format!("P{other}")];
    expected.sort();
    assert_eq!(mine, expected, "the members living in the worker's cell");
    let far = cell_of(&app, elsewhere);
    let (_, v) = app
        .get(
            &app.admin,
            &format!("/api/v1/grid/tasks?cell={far}&limit=500"),
        )
        .await;
    assert!(
        retests(&v)
            .iter()
            .any(|(p, _)| *p == format!("P{elsewhere}")),
        "the third member's retest is on their own cell's list: {v}"
    );

    // P20's single-tube retest comes back negative: the task closes by itself.
    lab_tube(&app, lab_site, "WX-R-20", &[20], now, LabOutcome::Negative).await;
    let (_, v) = app.get(&gw, "/api/v1/grid/tasks?limit=500").await;
    let left = retests(&v);
    assert_eq!(
        left.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        vec![format!("P{other}")]
    );
    let closed = app
        .store
        .open_tasks_of_cells(&[GridCell(cell)], 500)
        .unwrap()
        .iter()
        .any(|t| t.person == Some(PersonId(20)) && t.kind == TaskKind::ArrangeRetest);
    assert!(!closed, "P20's task is done");
    // The worker closes the other one with a note (e.g. the person was retested elsewhere).
    let (s, v) = app
        .post(
            &gw,
            &format!("/api/v1/grid/tasks/{}/complete", left[0].1),
            json!({"note": "retest arranged at the community site"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = app.get(&gw, "/api/v1/grid/tasks?limit=500").await;
    assert!(retests(&v).is_empty(), "{v}");

    // A positive single tube inside a controlled zone proposes sealing it at once (no
    // sweep in between).
    let (s, v) = app
        .draw_zone(json!({"name": "管控区", "level": "controlled", "cells": [far]}))
        .await;
    assert_eq!(s, 200, "{v}");
    let zone = v["zone"].as_str().unwrap().to_owned();
    // Only the drawing's own (approved) proposal so far.
    let open = |v: &Value| -> Vec<Value> {
        v["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"] == "open")
            .cloned()
            .collect()
    };
    let (_, v) = app.get(&app.admin, "/api/v1/zones/proposals").await;
    assert_eq!(open(&v).len(), 0, "{v}");
    // Resulted after the zone was drawn (the test's `now` may be a second older than the
    // zone, and only a case at or after a zone's start escalates it).
    let r = lab_tube(
        &app,
        lab_site,
        "WX-R-X",
        &[elsewhere],
        xikang_server::now(),
        LabOutcome::Positive,
    )
    .await;
    assert!(r.suspected.is_some(), "{r:?}");
    let (_, v) = app.get(&app.admin, "/api/v1/zones/proposals").await;
    let list = open(&v);
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(
        (
            list[0]["zone"].as_str(),
            list[0]["to_level"].as_str(),
            list[0]["proposer"].as_str()
        ),
        (Some(zone.as_str()), Some("sealed"), Some("system:zones"))
    );
}
