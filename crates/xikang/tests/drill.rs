//! The one clock (issue 16, part 1): a drill process runs on a simulated clock that starts
//! in the past and moves only forward, on a city admin's request; token expiry, codes and the
//! sweep follow it. Drill and production stores never mix. This file is its own test binary
//! because a process is a drill for its whole life (`xikang_server::drill`).

mod common;

use common::*;
use serde_json::json;
use xikang_domain::Timestamp;
use xikang_domain::time::{DAY, HOUR};
use xikang_server::drill;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_starts_in_the_past_and_its_clock_moves_only_forward_for_a_city_admin() {
    let start = Timestamp::parse_rfc3339("2020-01-20T08:00:00+08:00").unwrap();
    drill::start(start).unwrap();
    assert!(
        drill::start(start).is_err(),
        "a process becomes a drill once"
    );
    let app = spawn_app().await;

    let (s, clock) = app.get(&app.admin, "/api/v1/drill/clock").await;
    assert_eq!(s, 200, "{clock}");
    assert_eq!(clock["drill"], json!(true));
    assert_eq!(clock["now"], json!(start.to_rfc3339()));
    // What the server issues is dated on the drill's clock.
    let (s, code) = app.get(&app.admin, "/api/v1/people/P1/code").await;
    assert_eq!(s, 200, "{code}");
    let (s, token) = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "gate", "role": "venue_device", "area": "320200"}),
        )
        .await;
    assert_eq!(s, 201, "{token}");
    let life = xikang_server::app::Role::VenueDevice
        .token_lifetime()
        .default;
    assert_eq!(
        token["expires_at"],
        json!(start.plus(life).to_rfc3339()),
        "{token}"
    );

    let mv = |body| app.post(&app.admin, "/api/v1/drill/clock", body);
    let (s, v) = mv(json!({"advance_secs": HOUR})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["now"], json!(start.plus(HOUR).to_rfc3339()));
    let moved = start.plus(HOUR);
    // Backwards, nowhere, both at once, too far, unknown fields: refused, clock unchanged.
    for (body, code) in [
        (json!({"to": start.to_rfc3339()}), "invalid_time"),
        (json!({"advance_secs": 0}), "invalid_clock_move"),
        (json!({"advance_secs": -60}), "invalid_clock_move"),
        (json!({"advance_secs": 400 * DAY}), "invalid_clock_move"),
        (
            json!({"advance_secs": 60, "to": moved.plus(DAY).to_rfc3339()}),
            "invalid_clock_move",
        ),
        (json!({}), "invalid_clock_move"),
    ] {
        let (s, v) = mv(body.clone()).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}"
        );
    }
    assert_eq!(drill::now(), moved);
    // Only a city-level admin moves it.
    let district = app.districts()[0].clone();
    for role in ["admin", "tracer"] {
        let t = app.role_token(role, role, &district).await;
        let (s, _) = app
            .post(&t, "/api/v1/drill/clock", json!({"advance_secs": 60}))
            .await;
        assert_eq!(s, 403, "{role}");
    }
    assert_eq!(drill::now(), moved);
    // A case on the drill's first day, and a city admin whose token outlives the test's.
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": "P5", "kind": "confirmed", "onset": start.plus(-DAY).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, boss) = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "boss", "role": "admin", "area": "320200",
                   "expires_at": start.plus(7 * DAY).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{boss}");
    let boss = boss["token"].as_str().unwrap().to_owned();
    let (s, v) = mv(json!({"to": start.plus(3 * DAY).to_rfc3339()})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(drill::now(), start.plus(3 * DAY));
    // The bulletins of the drill's days, years in the past, from the drill's data.
    let bulletin = |date: &'static str| {
        let boss = boss.clone();
        let app = &app;
        async move {
            app.get(&boss, &format!("/api/v1/bulletin?date={date}&lang=en"))
                .await
        }
    };
    let (s, first) = bulletin("2020-01-20").await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["figures"]["new_confirmed"]["local"], 1, "{first}");
    assert_eq!(first["figures"]["cumulative_confirmed"], 1, "{first}");
    let (s, next) = bulletin("2020-01-21").await;
    assert_eq!(s, 200, "{next}");
    assert_eq!(next["figures"]["new_confirmed"]["local"], 0, "{next}");
    assert_eq!(next["figures"]["cumulative_confirmed"], 1, "{next}");
    // The drill's today is its own: the real today lies in the drill's future.
    let today = xikang_domain::Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    )
    .to_rfc3339();
    let (s, v) = app
        .get(&boss, &format!("/api/v1/bulletin?date={}", &today[..10]))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_date"))
    );
    // The test admin token was issued for a day: three drill days later it has expired.
    let (s, v) = app.get(&app.admin, "/api/v1/drill/clock").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("token_expired"))
    );
}

#[test]
fn drill_and_production_stores_never_mix() {
    let open = |dir: &std::path::Path| {
        xikang_store::open(&xikang_store::Target::Sqlite(dir.to_path_buf())).unwrap()
    };
    // A new store becomes a drill's; production then refuses it, a drill accepts it again.
    let fresh = tempfile::tempdir().unwrap();
    let store = open(fresh.path());
    drill::check_store(store.as_ref(), true).unwrap();
    assert!(store.setting(drill::STORE_MARK).unwrap().is_some());
    let e = drill::check_store(store.as_ref(), false).unwrap_err();
    assert!(e.contains("drill data"), "{e}");
    drill::check_store(store.as_ref(), true).unwrap();
    // A production store that holds authority events is refused to a drill, and not marked.
    let city = city_dir();
    let store = open(city.path());
    drill::check_store(store.as_ref(), false).unwrap();
    let e = drill::check_store(store.as_ref(), true).unwrap_err();
    assert!(e.contains("production data"), "{e}");
    assert!(store.setting(drill::STORE_MARK).unwrap().is_none());
}

#[test]
fn serve_refuses_to_run_a_drill_on_production_data_and_production_on_a_drills_store() {
    let city = city_dir();
    let (ok, _, err) = xikang_cli(
        city.path(),
        &["serve", "--drill", "--listen", "127.0.0.1:0"],
    );
    assert!(!ok && err.contains("production data"), "{err}");
    let drilled = tempfile::tempdir().unwrap();
    let store =
        xikang_store::open(&xikang_store::Target::Sqlite(drilled.path().to_path_buf())).unwrap();
    drill::check_store(store.as_ref(), true).unwrap();
    drop(store);
    let (ok, _, err) = xikang_cli(drilled.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!ok && err.contains("drill data"), "{err}");
}
