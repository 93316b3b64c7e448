//! Supplies for sealed households (保供, docs/citizens.md), through the real server: a
//! request for a sealed household becomes a delivery task on the right grid worker's list,
//! counts as overdue once its deadline passes (the escalation roll-up), and a household
//! that is neither sealed nor isolated is refused.

mod common;

use common::spawn_app;
use serde_json::{Value, json};
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

/// A day `n` days from today, as the capacity view writes it.
fn day_text(n: i32) -> String {
    let today = xikang_server::now().shanghai_day();
    xikang_domain::CivilDay(today.0 + n)
        .start()
        .to_shanghai_rfc3339()[..10]
        .to_owned()
}

#[tokio::test]
async fn stock_clinics_and_vehicles_show_the_day_they_run_out_at_their_trend() {
    let app = spawn_app().await;
    let district = app.districts()[0].clone();
    let other = app.districts()[1].clone();
    let site = app
        .quarantine_site("西郊集中隔离点", &district, 50, 31.5, "mgr-west")
        .await;
    let manager = app.role_token("mgr-west", "site_manager", &district).await;
    let admin_b = app
        .role_token(&format!("admin-{other}"), "admin", &other)
        .await;
    // Two days ago the site had 100 masks and the clinic saw 100 of its 200 a day: reported
    // then (the log's time is the report's), the reports of today through the API.
    let now = xikang_server::now();
    let area = AreaCode::parse(&district).unwrap();
    let site_id = xikang_server::extract::parse_id::<xikang_domain::SiteId>(&site).unwrap();
    app.state
        .record(vec![
            xikang_domain::event::NewEvent {
                at: now.plus(-2 * 24 * HOUR),
                actor: "site_manager:mgr-west".into(),
                basis: "capacity: stock 口罩".into(),
                body: xikang_domain::event::EventBody::CapacityReported {
                    resource: xikang_domain::capacity::Resource::Stock,
                    name: "口罩".into(),
                    area: area.clone(),
                    site: Some(site_id),
                    total: 100,
                    in_use: 0,
                },
            },
            xikang_domain::event::NewEvent {
                at: now.plus(-2 * 24 * HOUR),
                actor: "admin:admin".into(),
                basis: "capacity: fever_clinic".into(),
                body: xikang_domain::event::EventBody::CapacityReported {
                    resource: xikang_domain::capacity::Resource::FeverClinic,
                    name: "人民医院发热门诊".into(),
                    area: area.clone(),
                    site: None,
                    total: 200,
                    in_use: 100,
                },
            },
        ])
        .await
        .unwrap();
    // 60 masks today: 20 a day, out in 3 days. The clinic sees 160 a day: 30 a day more,
    // 40 free, full in 1 day.
    let (s, v) = app
        .post(
            &manager,
            "/api/v1/capacity/reports",
            json!({"resource": "stock", "name": "口罩", "site": site, "total": 60}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["runs_out_on"], json!(day_text(3)), "{v}");
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/capacity/reports",
            json!({"resource": "fever_clinic", "name": "人民医院发热门诊", "area": district, "total": 200, "in_use": 160}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/capacity/reports",
            json!({"resource": "vehicle", "name": "120 转运车队", "area": district, "total": 12, "in_use": 3}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // Refused: another district's site or area, stock without a site, a clinic with one.
    for (token, body, status) in [
        (
            &admin_b,
            json!({"resource": "stock", "name": "口罩", "site": site, "total": 1}),
            403,
        ),
        (
            &admin_b,
            json!({"resource": "vehicle", "name": "x", "area": district, "total": 1}),
            403,
        ),
        (
            &app.admin,
            json!({"resource": "stock", "name": "口罩", "total": 1}),
            400,
        ),
        (
            &app.admin,
            json!({"resource": "fever_clinic", "name": "x", "site": site, "total": 1}),
            400,
        ),
        (
            &app.admin,
            json!({"resource": "beds", "name": "x", "area": district, "total": 1}),
            400,
        ),
        (
            &manager,
            json!({"resource": "vehicle", "name": "x", "area": district, "total": 1}),
            403,
        ),
    ] {
        let (s, v) = app.post(token, "/api/v1/capacity/reports", body).await;
        assert_eq!(s, status, "{v}");
    }
    let (s, c) = app
        .get(&app.admin, &format!("/api/v1/capacity?area={district}"))
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["stock"][0]["site"], json!(site), "{c}");
    assert_eq!(c["stock"][0]["total"], 60);
    assert_eq!(c["stock"][0]["runs_out_on"], json!(day_text(3)));
    assert_eq!(
        c["fever_clinics"][0]["runs_out_on"],
        json!(day_text(1)),
        "{c}"
    );
    assert_eq!(
        c["vehicles"][0]["runs_out_on"],
        Value::Null,
        "one report: no trend"
    );
    // No round is open: the lab is asked for nothing and is not short.
    assert_eq!(c["tubes"]["rounds_need"], 0, "{c}");
    assert_eq!(c["tubes"]["short"], false);
    // Another district's view does not show them.
    let (_, cb) = app
        .get(&admin_b, &format!("/api/v1/capacity?area={other}"))
        .await;
    assert_eq!(cb["stock"], json!([]), "{cb}");
    // The export has a row per resource.
    let r = app
        .conn()
        .await
        .request(
            "GET",
            &format!("/api/v1/capacity/export?area={district}&format=csv"),
            Some(&app.admin),
            None,
            b"",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let csv = r.text();
    assert!(
        csv.contains("人民医院发热门诊") && csv.contains("口罩"),
        "{csv}"
    );
}
