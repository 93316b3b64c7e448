//! A case's course over HTTP (issue 15): suspected (from a positive single tube) → screened
//! by the district CDC → re-checked by another, city-level official → moved to a designated
//! hospital (closed-loop task) → discharged into the policy's monitoring order → closed when
//! that order is released; the person's colour follows the policy at each step, and the
//! bulletin of the day counts the case.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use xikang_domain::time::{DAY, HOUR};
use xikang_domain::{CivilDay, Timestamp};

fn rfc(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// A resident of `district` who is green now, other than `not`.
async fn green_resident(app: &TestApp, district: &str, not: &[String]) -> String {
    for p in app.residents_of(district) {
        let p = format!("P{p}");
        if !not.contains(&p) && app.colour(&p).await == "green" {
            return p;
        }
    }
    panic!("no green resident in {district}");
}

/// Posts one single-tube result for `person` as the lab, sampled at `sampled`.
async fn result(app: &TestApp, lab: &str, person: &str, sampled: Timestamp, outcome: &str) {
    let (s, v) = app
        .post(
            lab,
            "/api/v1/test-results",
            json!({"results": [{"person": person, "sampled_at": rfc(sampled),
                "resulted_at": rfc(sampled.plus(4 * HOUR)), "outcome": outcome,
                "tube": format!("S-{person}-{}", sampled.0)}]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

/// The one case of `person`.
async fn case_of(app: &TestApp, person: &str) -> Value {
    let (s, v) = app.get(&app.admin, "/api/v1/cases").await;
    assert_eq!(s, 200, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["person"] == person)
        .unwrap_or_else(|| panic!("no case of {person}: {v}"))
        .clone()
}

/// Asks for a step that must be refused with `status` and the error code `code`.
async fn refused(
    app: &TestApp,
    token: &str,
    case: &str,
    what: &str,
    body: Value,
    (status, code): (u16, &str),
) {
    let (s, v) = step(app, token, case, what, body).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (status, Some(code)),
        "{what}: {v}"
    );
}

async fn step(app: &TestApp, token: &str, case: &str, what: &str, body: Value) -> (u16, Value) {
    app.post(token, &format!("/api/v1/cases/{case}/{what}"), body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspected_case_is_confirmed_by_two_officials_discharged_monitored_and_closed() {
    let app = spawn_app().await;
    let district = app.districts()[0].clone();
    let person = green_resident(&app, &district, &[]).await;
    let lab = app.role_token("lab-1", "lab", "320200").await;
    let district_cdc = app.role_token("district-cdc", "tracer", &district).await;
    let city_cdc = app.admin2.clone();
    let now = xikang_server::now();
    let day = |n: i64| now.plus(n * DAY);

    // Suspected: a positive single tube posted one by one registers the suspected case.
    result(&app, &lab, &person, day(-12), "positive").await;
    let case = case_of(&app, &person).await;
    let id = case["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (case["kind"].as_str(), case["course"]["stage"].as_str()),
        (Some("suspected"), Some("suspected")),
        "{case}"
    );
    assert_eq!(app.colour(&person).await, "red", "a suspected case is red");
    // A second positive of the same person is part of the open case, not a new one.
    result(&app, &lab, &person, day(-12).plus(HOUR), "positive").await;
    let (_, cases) = app.get(&app.admin, "/api/v1/cases").await;
    let theirs = cases["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["person"] == person.as_str())
        .count();
    assert_eq!(theirs, 1);

    // Before the screen nothing can be confirmed or discharged.
    refused(
        &app,
        &city_cdc,
        &id,
        "recheck",
        json!({"verdict": "confirmed"}),
        (409, "case_stage"),
    )
    .await;
    refused(
        &app,
        &app.admin,
        &id,
        "discharge",
        json!({}),
        (409, "case_stage"),
    )
    .await;

    // The district CDC screens it; the district's official may not re-check it.
    let (s, v) = step(
        &app,
        &district_cdc,
        &id,
        "screen",
        json!({"verdict": "confirmed", "at": rfc(day(-12).plus(8 * HOUR))}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["course"]["stage"], "screened");
    assert_eq!(v["course"]["screen"]["by"], "tracer:district-cdc");
    assert_eq!(app.colour(&person).await, "red");
    refused(
        &app,
        &district_cdc,
        &id,
        "recheck",
        json!({"verdict": "confirmed"}),
        (403, "forbidden"),
    )
    .await;
    // A re-check cannot be dated before the screen.
    refused(
        &app,
        &city_cdc,
        &id,
        "recheck",
        json!({"verdict": "confirmed", "at": rfc(day(-12))}),
        (409, "before_last_step"),
    )
    .await;

    // The city CDC, another official, re-checks it: confirmed, both officials on record.
    let (s, v) = step(
        &app,
        &city_cdc,
        &id,
        "recheck",
        json!({"verdict": "confirmed", "at": rfc(day(-12).plus(10 * HOUR))}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["kind"].as_str(), v["course"]["stage"].as_str()),
        (Some("confirmed"), Some("confirmed"))
    );
    assert_eq!(v["course"]["recheck"]["by"], "admin:second-admin");
    assert_eq!(v["course"]["screen"]["by"], "tracer:district-cdc");
    assert_eq!(app.colour(&person).await, "red", "a confirmed case is red");
    let log: Vec<&str> = app
        .store
        .events_of_person(xikang_domain::PersonId::parse(&person).unwrap())
        .unwrap()
        .iter()
        .map(|e| e.body.kind())
        .filter(|k| k.starts_with("case_"))
        .collect();
    assert_eq!(log, ["case_registered", "case_screened", "case_rechecked"]);

    // The confirmation put a closed-loop transfer task on the person's grid worker's list.
    let cell = xikang_server::state::read(&app.state.projection.people)
        [xikang_domain::PersonId::parse(&person).unwrap().0 as usize]
        .home_cell
        .0;
    let transfer_task = |tasks: &Value| {
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["kind"] == "case_transfer" && t["person"] == person.as_str())
    };
    let (_, tasks) = app
        .get(&app.admin, &format!("/api/v1/grid/tasks?cell={cell}"))
        .await;
    assert!(transfer_task(&tasks), "{tasks}");

    // Moved to a designated hospital (a quarantine site is not one).
    let camp = app.quarantine_site("camp", &district, 10, 31.5, "m").await;
    refused(
        &app,
        &app.admin,
        &id,
        "transfer",
        json!({"hospital": camp}),
        (422, "not_a_hospital"),
    )
    .await;
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/sites",
            json!({"name": "定点医院", "kind": "designated_hospital", "area": district,
                "lat": 31.5, "lon": 120.3, "capacity": 100}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let hospital = v["id"].as_str().unwrap().to_owned();
    let (s, v) = step(
        &app,
        &app.admin,
        &id,
        "transfer",
        json!({"hospital": hospital, "at": rfc(day(-11))}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["course"]["hospital"]["site"], hospital.as_str());
    let (_, tasks) = app
        .get(&app.admin, &format!("/api/v1/grid/tasks?cell={cell}"))
        .await;
    assert!(
        !transfer_task(&tasks),
        "the transfer closed its task: {tasks}"
    );
    assert_eq!(app.colour(&person).await, "red");

    // Discharged ten days ago: the policy's monitoring order (7 days, tests on days 3 and 7).
    let (s, v) = step(
        &app,
        &app.admin,
        &id,
        "discharge",
        json!({"at": rfc(day(-10))}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["case"]["course"]["stage"], "discharged");
    let order = v["monitoring_order"].as_str().unwrap().to_owned();
    let (s, o) = app
        .get(&app.admin, &format!("/api/v1/quarantine/orders/{order}"))
        .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["reason"], "after_discharge");
    assert_eq!(o["kind"], "health_monitoring");
    assert_eq!(o["planned_end"].as_str().unwrap(), rfc(day(-3)));
    let code = |v: &Value| v["reasons"][0]["rule"].as_str().unwrap_or("").to_owned();
    let (_, c) = app
        .get(&app.admin, &format!("/api/v1/people/{person}/code"))
        .await;
    assert_eq!(c["colour"], "yellow", "discharged: home health monitoring");
    assert_eq!(code(&c), "post_discharge_monitoring", "{c}");
    assert_eq!(o["tests"].as_array().unwrap().len(), 2, "days 3 and 7: {o}");

    // Monitoring: the day-3 and day-7 tests, negative (noon, Asia/Shanghai).
    let start_day = day(-10).shanghai_day().0;
    let noon = |n: i32| CivilDay(start_day + n - 1).start().plus(12 * HOUR);
    result(&app, &lab, &person, noon(3), "negative").await;
    assert_eq!(app.colour(&person).await, "yellow", "one negative of two");
    result(&app, &lab, &person, noon(7), "negative").await;
    assert_eq!(
        app.colour(&person).await,
        "green",
        "seven days and two negatives a day apart end the monitoring"
    );

    // The order's release closes the case.
    let release = format!("/api/v1/quarantine/orders/{order}/release");
    let (s, v) = app.post(&app.admin, &release, json!({})).await;
    assert_eq!((s, v["outcome"].as_str()), (200, Some("released")), "{v}");
    let closed = case_of(&app, &person).await;
    assert_eq!(closed["course"]["stage"], "closed", "{closed}");
    assert!(closed["course"]["closed_at"].is_string());
    assert_eq!(app.colour(&person).await, "green");
    refused(
        &app,
        &app.admin,
        &id,
        "death",
        json!({}),
        (409, "case_stage"),
    )
    .await;
    let kinds: Vec<&str> = app
        .store
        .events_of_person(xikang_domain::PersonId::parse(&person).unwrap())
        .unwrap()
        .iter()
        .map(|e| e.body.kind())
        .filter(|k| k.starts_with("case_"))
        .collect();
    assert_eq!(
        kinds,
        [
            "case_registered",
            "case_screened",
            "case_rechecked",
            "case_transferred",
            "case_discharged",
            "case_closed"
        ]
    );

    // The bulletin of today: the case was confirmed and discharged today (by the log).
    let (s, b) = app.get(&lab, "/api/v1/bulletin?lang=en").await;
    assert_eq!(s, 200, "{b}");
    let f = &b["figures"];
    assert_eq!(f["new_confirmed"]["local"], 1, "{b}");
    assert_eq!(f["discharged"], 1);
    assert_eq!(f["cumulative_confirmed"], 1);
    assert_eq!(f["existing_confirmed"], 0);
    assert_eq!(f["under_treatment"], 0);
    let text = b["text"].as_str().unwrap();
    assert!(text.contains("1 new local confirmed case,"), "{text}");
    assert!(
        text.contains("0 new local asymptomatic infections"),
        "{text}"
    );
    assert!(text.contains("1 patient was discharged"), "{text}");
    let (s, zh) = app.get(&lab, "/api/v1/bulletin").await;
    assert_eq!(s, 200);
    assert!(
        zh["text"]
            .as_str()
            .unwrap()
            .contains("全市新增本土确诊病例1例"),
        "{zh}"
    );
    // The day before, nothing had been logged yet: a past day's bulletin never changes.
    let yesterday = CivilDay(now.shanghai_day().0 - 1);
    let date = format!(
        "{}-{}-{}",
        &yesterday.compact()[..4],
        &yesterday.compact()[4..6],
        &yesterday.compact()[6..]
    );
    let (s, y) = app
        .get(&lab, &format!("/api/v1/bulletin?date={date}"))
        .await;
    assert_eq!(s, 200, "{y}");
    assert_eq!(y["date"], date.as_str());
    assert_eq!(y["figures"]["cumulative_confirmed"], 0, "{y}");
    let (s, v) = app.get(&lab, "/api/v1/bulletin?date=2999-01-01").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_date"))
    );
    let (s, v) = app.get(&lab, "/api/v1/bulletin?lang=fr").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_lang"))
    );
    // A designated hospital takes cases, not people under a quarantine order.
    let contact = green_resident(&app, &district, std::slice::from_ref(&person)).await;
    app.confirm_close_contact(&contact).await;
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": contact, "reason": "close_contact", "site": hospital}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("site_is_hospital")),
        "{v}"
    );
    let venue = app.device().await;
    let (s, _) = app.get(&venue, "/api/v1/bulletin").await;
    assert_eq!(s, 403, "a door device reads no bulletin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_official_cannot_confirm_alone_an_excluded_case_turns_green_and_reclassification_and_death_are_counted()
 {
    let app = spawn_app().await;
    let district = app.districts()[0].clone();
    let p1 = green_resident(&app, &district, &[]).await;
    let p2 = green_resident(&app, &district, std::slice::from_ref(&p1)).await;
    let city_tracer = app.role_token("city-cdc", "tracer", "320200").await;
    let now = xikang_server::now();
    let register = |p: String| {
        let app = &app;
        async move {
            let (s, v) = app
                .post(
                    &app.admin,
                    "/api/v1/cases",
                    json!({"person": p, "kind": "suspected", "sampled_at": rfc(now.plus(-DAY))}),
                )
                .await;
            assert_eq!(s, 201, "{v}");
            v["id"].as_str().unwrap().to_owned()
        }
    };

    // One official screens and may not re-check their own screen.
    let c1 = register(p1.clone()).await;
    assert_eq!(app.colour(&p1).await, "red");
    let (s, v) = step(
        &app,
        &city_tracer,
        &c1,
        "screen",
        json!({"verdict": "excluded"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    refused(
        &app,
        &city_tracer,
        &c1,
        "recheck",
        json!({"verdict": "excluded"}),
        (409, "same_official"),
    )
    .await;
    // Another official excludes it: it was never a case, and the person is green again.
    let (s, v) = step(
        &app,
        &app.admin,
        &c1,
        "recheck",
        json!({"verdict": "excluded"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["course"]["stage"], "excluded");
    assert_eq!(app.colour(&p1).await, "green");
    refused(
        &app,
        &app.admin,
        &c1,
        "discharge",
        json!({}),
        (409, "case_stage"),
    )
    .await;
    // An excluded case is no open case: the person may be registered again.
    assert_ne!(register(p1.clone()).await, c1);

    // Asymptomatic, then reclassified as confirmed, then died: each is counted once.
    let c2 = register(p2.clone()).await;
    let (s, v) = step(
        &app,
        &city_tracer,
        &c2,
        "screen",
        json!({"verdict": "asymptomatic"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = step(
        &app,
        &app.admin,
        &c2,
        "recheck",
        json!({"verdict": "asymptomatic"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["kind"], "asymptomatic");
    refused(
        &app,
        &app.admin,
        &c2,
        "reclassify",
        json!({"kind": "asymptomatic", "reason": "again"}),
        (409, "invalid_reclassification"),
    )
    .await;
    let (s, v) = step(
        &app,
        &app.admin,
        &c2,
        "reclassify",
        json!({"kind": "confirmed", "reason": "fever on day 3"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["kind"], "confirmed");
    assert_eq!(app.colour(&p2).await, "red");
    let (s, b) = app.get(&app.admin, "/api/v1/bulletin?lang=en").await;
    assert_eq!(s, 200, "{b}");
    let f = &b["figures"];
    assert_eq!(
        (
            f["new_asymptomatic"]["local"].as_u64(),
            f["asymptomatic_to_confirmed"].as_u64()
        ),
        (Some(1), Some(1)),
        "{b}"
    );
    assert_eq!(
        (
            f["cumulative_confirmed"].as_u64(),
            f["cumulative_asymptomatic"].as_u64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(f["existing_confirmed"], 1);
    assert!(
        b["text"]
            .as_str()
            .unwrap()
            .contains("1 asymptomatic infection was reclassified"),
        "{b}"
    );
    let (s, v) = step(&app, &app.admin, &c2, "death", json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["course"]["stage"], "died");
    let (_, b) = app.get(&app.admin, "/api/v1/bulletin").await;
    assert_eq!(
        (
            b["figures"]["deaths"].as_u64(),
            b["figures"]["under_treatment"].as_u64()
        ),
        (Some(1), Some(0)),
        "{b}"
    );
}
