//! Supplies for sealed households (保供, docs/citizens.md), through the real server: a
//! request for a sealed household becomes a delivery task on the right grid worker's list,
//! counts as overdue once its deadline passes (the escalation roll-up), and a household
//! that is neither sealed nor isolated is refused.

mod common;

use common::spawn_app;
use serde_json::json;
use xikang_domain::time::HOUR;
use xikang_domain::{AreaCode, PersonId};

#[tokio::test]
async fn a_supply_request_for_a_sealed_household_is_a_task_on_its_workers_list_and_escalates_when_overdue()
 {
    let app = spawn_app().await;
    let district = app.districts()[0].clone();
    let people = app.residents_of(&district);
    let p = people[0];
    let cell = app.state.projection.home_cell(PersonId(p)).unwrap();
    let cell_of = |q: u32| app.state.projection.home_cell(PersonId(q)).unwrap();
    let other = *people.iter().find(|q| cell_of(**q) != cell).unwrap();
    let other_cell = cell_of(other);

    // Not sealed yet: refused, nothing logged.
    let before = app.events();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/supply-requests",
            json!({"person": format!("P{p}"), "need": "food", "items": "大米 5 斤"}),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("not_sealed")));
    assert_eq!(app.events(), before);

    let (s, v) = app
        .draw_zone(json!({"name": "封控楼栋", "level": "sealed", "cells": [cell.0]}))
        .await;
    assert_eq!(s, 200, "{v}");
    let worker = app
        .role_token(&format!("gw{}", cell.0), "grid_worker", "320200")
        .await;
    let (_, mine) = app.get(&worker, "/api/v1/grid/tasks").await;
    let deliveries_before = mine["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "delivery")
        .count();

    // The resident asks for themselves.
    let resident = app
        .token(
            json!({"name": "r", "role": "resident", "area": district, "person": format!("P{p}")}),
        )
        .await;
    let (s, out) = app
        .post(
            &resident,
            "/api/v1/supply-requests",
            json!({"need": "food", "items": "蔬菜包、大米 5 斤"}),
        )
        .await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(out["cell"], cell.0);
    // A resident asks only for themselves.
    let (s, _) = app
        .post(
            &resident,
            "/api/v1/supply-requests",
            json!({"person": format!("P{other}"), "need": "food", "items": "x"}),
        )
        .await;
    assert_eq!(s, 403);

    let (_, mine) = app.get(&worker, "/api/v1/grid/tasks").await;
    let deliveries: Vec<&serde_json::Value> = mine["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "delivery")
        .collect();
    assert_eq!(deliveries.len(), deliveries_before + 1, "{mine}");
    assert!(
        deliveries
            .iter()
            .any(|t| t["person"] == json!(format!("P{p}")) && t["due_at"] == out["due_at"])
    );
    // Not on the other cell's worker's list.
    let other_worker = app
        .role_token(&format!("gw{}", other_cell.0), "grid_worker", "320200")
        .await;
    let (_, theirs) = app.get(&other_worker, "/api/v1/grid/tasks").await;
    assert!(
        !theirs["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["person"] == json!(format!("P{p}")) && t["kind"] == "delivery")
    );

    // Past its 12 hours it is overdue in the cell, and rolls up to the district.
    let overdue_at = |h: i64| {
        let now = xikang_server::now().plus(h * HOUR);
        let per_cell = app.store.overdue_by_cell(now).unwrap();
        let n = per_cell
            .iter()
            .find(|(c, _)| *c == cell)
            .map_or(0, |(_, n)| *n);
        let cells = app.store.grid_cells().unwrap();
        let city = AreaCode::parse("320200").unwrap();
        let rolled = xikang_server::duties::overdue_out(&cells, &per_cell, &city)
            .districts
            .iter()
            .find(|d| d.district == district)
            .map_or(0, |d| d.overdue);
        (n, rolled)
    };
    let (cell_before, district_before) = overdue_at(11);
    let (cell_after, district_after) = overdue_at(13);
    assert_eq!(cell_after, cell_before + 1);
    assert!(district_after > district_before);
}

#[tokio::test]
async fn a_filling_quarantine_site_shows_the_day_it_is_full() {
    let app = spawn_app().await;
    let district = app.districts()[0].clone();
    let site = app
        .quarantine_site("东郊集中隔离点", &district, 5, 31.5, "mgr")
        .await;
    // Three close contacts of the district ordered to it today: 3 a day over 3 days = 1 a
    // day net, 2 beds free: full in two days.
    for p in app.residents_of(&district).into_iter().take(3) {
        let person = format!("P{p}");
        app.confirm_close_contact(&person).await;
        let (s, v) = app
            .post(
                &app.admin,
                "/api/v1/quarantine/orders",
                json!({"person": person, "reason": "close_contact", "site": site}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, c) = app
        .get(&app.admin, &format!("/api/v1/capacity?area={district}"))
        .await;
    assert_eq!(s, 200, "{c}");
    let row = c["beds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["site"] == json!(site))
        .unwrap();
    assert_eq!(
        (
            row["capacity"].clone(),
            row["occupied"].clone(),
            row["free"].clone()
        ),
        (json!(5), json!(3), json!(2))
    );
    assert_eq!(row["admitted_per_day"], 1.0);
    let today = xikang_server::now().shanghai_day();
    let expected = xikang_domain::CivilDay(today.0 + 2)
        .start()
        .to_shanghai_rfc3339();
    assert_eq!(row["full_on"], json!(&expected[..10]), "{c}");
}
