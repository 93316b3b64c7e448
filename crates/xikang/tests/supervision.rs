//! The 四早 timers (docs/citizens.md), through the real server: a case detected three days
//! after its onset has its detection timer breached, on the API, on its case page and in
//! its district's row of the 红黑榜 and in the quarterly evaluation (季季评).

mod common;

use common::spawn_app;
use common::web::Browser;
use serde_json::json;
use std::collections::BTreeMap;
use xikang_domain::time::DAY;

#[tokio::test]
async fn a_case_detected_three_days_after_onset_breaches_its_timer_on_its_page_and_in_the_ranking()
{
    let app = spawn_app().await;
    let district = app.districts()[0].clone();
    let person = format!("P{}", app.residents_of(&district)[0]);
    let onset = xikang_server::now().plus(-3 * DAY).to_rfc3339();
    let (s, case) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": person, "kind": "confirmed", "onset": onset}),
        )
        .await;
    assert_eq!(s, 201, "{case}");
    let id = case["id"].as_str().unwrap();

    let (s, t) = app
        .get(&app.admin, &format!("/api/v1/supervision/timers?case={id}"))
        .await;
    assert_eq!(s, 200, "{t}");
    let steps = t["timers"].as_array().unwrap();
    assert_eq!(steps.len(), 4);
    assert_eq!(steps[0]["step"], "detection");
    assert_eq!(steps[0]["breached"], true, "{t}");
    assert_eq!(steps[1]["breached"], false, "reported at once: {t}");
    assert_eq!(steps[2]["done"], false);
    assert_eq!(t["breaches"], 1);
    // Another district's tracer may not read them.
    let other = app.districts()[1].clone();
    let tracer = app.role_token("t-other", "tracer", &other).await;
    let (s, _) = app
        .get(&tracer, &format!("/api/v1/supervision/timers?case={id}"))
        .await;
    assert_eq!(s, 403);
    let (s, _) = app
        .get(&app.admin, "/api/v1/supervision/timers?case=nonsense")
        .await;
    assert_eq!(s, 400);

    // On the case page.
    let mut b = Browser::signed_in(&app, "boss", "admin", "320200").await;
    let page = b.get(&format!("/web/cases/{id}")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("id=\"four-early\""),
        "timers on the case page"
    );
    assert!(html.contains("data-step=\"detection\" data-breached=\"true\""));

    // In the ranking: the case's district has the breach.
    let cells = app.store.grid_cells().unwrap();
    let (rows, _) = xikang_server::web::ranking::compute(
        &app.state,
        &cells,
        &BTreeMap::new(),
        xikang_server::now(),
    )
    .unwrap();
    let row = rows.iter().find(|r| r.district == district).unwrap();
    assert_eq!(row.four_early_breaches, 1, "{row:?}");
    assert!(
        rows.iter()
            .filter(|r| r.district != district)
            .all(|r| r.four_early_breaches == 0)
    );

    // The quarter's evaluation (季季评) counts the case and its breach, worst first.
    let (s, q) = app.get(&app.admin, "/api/v1/supervision/quarterly").await;
    assert_eq!(s, 200, "{q}");
    let first = &q["districts"][0];
    assert_eq!(first["district"], json!(district), "{q}");
    assert_eq!(
        (first["cases"].clone(), first["four_early_breaches"].clone()),
        (json!(1), json!(1))
    );
    let (s, _) = app
        .get(&app.admin, "/api/v1/supervision/quarterly?quarter=2026Q5")
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn an_overdue_responsibility_item_is_raised_to_the_supervisor_once_and_a_done_one_is_not() {
    let app = spawn_app().await;
    let district = app.districts()[0].clone();
    let official = app.role_token("district-admin", "admin", &district).await;
    let deadline = xikang_server::now().plus(DAY).to_rfc3339();
    let mut ids = Vec::new();
    for what in ["核查隔离点物资", "督导核酸采样点"] {
        let (s, v) = app
            .post(
                &official,
                "/api/v1/supervision/items",
                json!({"department": "quarantine", "owner": "王科长", "what": what, "deadline": deadline}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["area"], json!(district));
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let (s, v) = app
        .post(
            &official,
            &format!("/api/v1/supervision/items/{}/done", ids[1]),
            json!({"note": "已完成督导"}),
        )
        .await;
    assert_eq!((s, v["note"].clone()), (200, json!("已完成督导")), "{v}");
    let (s, _) = app
        .post(
            &official,
            &format!("/api/v1/supervision/items/{}/done", ids[1]),
            json!({"note": "again"}),
        )
        .await;
    assert_eq!(s, 409);
    // A day and an hour on, the open one is raised to the supervisor, once.
    let later = xikang_server::now().plus(DAY + 3600);
    let out = xikang_server::app::sweep::run(&app.state, later)
        .await
        .unwrap();
    assert_eq!(out.items_escalated, 1);
    let out = xikang_server::app::sweep::run(&app.state, later.plus(60))
        .await
        .unwrap();
    assert_eq!(out.items_escalated, 0);
    let (_, up) = app
        .get(&app.admin, "/api/v1/supervision/items?escalated=true")
        .await;
    let escalated: Vec<&str> = up["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(escalated, [ids[0].as_str()]);
    // Another district's admin neither sees nor closes it.
    let other = app
        .role_token("other-admin", "admin", &app.districts()[1])
        .await;
    let (_, theirs) = app.get(&other, "/api/v1/supervision/items").await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0);
    let (s, _) = app
        .post(
            &other,
            &format!("/api/v1/supervision/items/{}/done", ids[0]),
            json!({"note": "x"}),
        )
        .await;
    assert_eq!(s, 403);
}
