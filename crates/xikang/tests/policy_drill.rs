//! A policy switch on a drill's clock (issue 15 part 3 with issue 16's one clock): the
//! approved version takes over when the drill's clock passes its `effective_from`, not
//! before, and the sweep after the move logs it. Its own test binary: a process is a drill
//! for its whole life.

mod common;

use common::*;
use serde_json::json;
use xikang_domain::event::EventBody;
use xikang_domain::policy::ERSHITIAO_POLICY_TOML;
use xikang_domain::{EventSeq, Timestamp};
use xikang_server::drill;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_policy_takes_over_when_the_drills_clock_passes_its_instant() {
    let start = Timestamp::parse_rfc3339("2022-11-10T20:00:00+08:00").unwrap();
    drill::start(start).unwrap();
    let app = spawn_app().await;
    let version = "xikang-ershitiao-2022.11";
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/policies",
            json!({"text": ERSHITIAO_POLICY_TOML}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let path = format!("/api/v1/policies/{version}");
    // Not before the file's own effective_from.
    let (s, v) = app
        .post(
            &app.admin,
            &format!("{path}/activate"),
            json!({"effective_from": "2022-11-10T00:00:00+08:00"}),
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (422, &json!("before_policy_effective_from")),
        "{v}"
    );
    let at = "2022-11-11T00:00:00+08:00";
    let (s, v) = app
        .post(
            &app.admin,
            &format!("{path}/activate"),
            json!({"effective_from": at}),
        )
        .await;
    assert_eq!(s, 202, "{v}");
    let (s, v) = app
        .post(&app.admin2, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!((s, &v["active"]), (200, &json!(false)), "{v}");
    let logged = || {
        app.store
            .events_after(EventSeq(0), 1_000_000)
            .unwrap()
            .into_iter()
            .filter(|e| {
                matches!(&e.body, EventBody::PolicyActivated { version: v, .. } if v == version)
            })
            .count()
    };
    let policy = || async { app.get(&app.admin, "/api/v1/policy").await.1["version"].clone() };

    // One second before: still the 第九版.
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/drill/clock",
            json!({"to": "2022-11-10T23:59:59+08:00"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(policy().await, json!("xikang-default-2022.09"));
    assert_eq!(logged(), 0);
    // Past it: the 二十条, logged by the sweep that follows the move.
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/drill/clock",
            json!({"advance_secs": 2}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(policy().await, json!(version));
    assert_eq!(logged(), 1);
    let (_, list) = app.get(&app.admin, "/api/v1/policies").await;
    let row = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == version)
        .unwrap()
        .clone();
    assert_eq!(
        Timestamp::parse_rfc3339(row["active_since"].as_str().unwrap()).unwrap(),
        Timestamp::parse_rfc3339(at).unwrap(),
        "{row}"
    );
}
