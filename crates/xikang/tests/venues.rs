//! Silent venues and inspections (明察暗访, docs/citizens.md), through the real server: a
//! venue whose scans stop during opening hours is on the silent list after one sweep, a
//! venue whose scans keep coming is not, scans a second apart look like one device; an
//! inspection is logged, a failed one needs a deadline, a re-inspection follows it.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::{TestApp, spawn_app};
use serde_json::{Value, json};
use xikang_domain::time::{DAY, HOUR, SHANGHAI_OFFSET_SECS};
use xikang_domain::{CheckIn, PersonId, ScanDirection, Timestamp, VenueId};

/// 15:00 Asia/Shanghai, 30 days from now: a day the generated city has no scans near.
fn afternoon() -> Timestamp {
    let day = xikang_server::now().shanghai_day().0 as i64 + 30;
    Timestamp(day * DAY - SHANGHAI_OFFSET_SECS + 15 * HOUR)
}

/// Entries at `venue` every 10 minutes from 08:00 to 22:00 on the 7 days before `now`'s
/// day, and today from 08:00 until `until_hour`.
fn scans(venue: VenueId, now: Timestamp, until_hour: i64) -> Vec<CheckIn> {
    let midnight = now.0 - (now.0 + SHANGHAI_OFFSET_SECS).rem_euclid(DAY);
    let mut v = Vec::new();
    for back in 0..=7 {
        let end = if back == 0 { until_hour * 6 } else { 14 * 6 };
        for i in 0..end {
            v.push(CheckIn {
                person: PersonId(i as u32),
                venue,
                at: Timestamp(midnight - back * DAY + 8 * HOUR + i * 600),
                direction: ScanDirection::Entry,
            });
        }
    }
    v
}

fn add_scans(app: &TestApp, rows: &[CheckIn]) {
    xikang_server::trace::lock(&app.state.projection.tracing.live).append(rows);
}

/// The first venue of each of two districts.
fn venues(app: &TestApp) -> (VenueId, VenueId, String) {
    let d = app.districts();
    let list = &app.state.projection.venues.list;
    let of = |district: &str| {
        list.iter()
            .filter(|v| v.area.district().to_string() == district)
            .map(|v| v.id)
            .collect::<Vec<_>>()
    };
    let a = of(&d[0]);
    (a[0], a[1], d[1].clone())
}

fn flags(v: &Value) -> Vec<(String, String)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["venue"].as_str().unwrap().to_owned(),
                i["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_venue_whose_scans_stop_in_opening_hours_is_on_the_silent_list_after_one_sweep() {
    let app = spawn_app().await;
    let (stopped, busy, other_district) = venues(&app);
    let now = afternoon();
    add_scans(&app, &scans(stopped, now, 4)); // until 12:00
    add_scans(&app, &scans(busy, now, 7)); // until 14:50

    let (_, before) = app.get(&app.admin, "/api/v1/venues/silent").await;
    assert!(
        !flags(&before)
            .iter()
            .any(|(v, _)| *v == stopped.to_string()),
        "not before a sweep: {before}"
    );
    let out = xikang_server::app::sweep::run(&app.state, now)
        .await
        .unwrap();
    assert!(out.silent_venues >= 1);
    let (s, list) = app.get(&app.admin, "/api/v1/venues/silent").await;
    assert_eq!(s, 200, "{list}");
    let found = flags(&list);
    assert!(
        found.contains(&(stopped.to_string(), "scans_stopped".into())),
        "{list}"
    );
    assert!(
        !found.iter().any(|(v, _)| *v == busy.to_string()),
        "a venue whose scans keep coming is not silent: {list}"
    );
    let item = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["venue"] == json!(stopped.to_string()))
        .unwrap();
    assert_eq!(item["expected_per_hour"], 6.0);
    assert_eq!(item["scans_today"], 24);
    // Another district's admin does not see it.
    let t = app
        .role_token("other-admin", "admin", &other_district)
        .await;
    let (_, theirs) = app.get(&t, "/api/v1/venues/silent").await;
    assert!(
        !flags(&theirs)
            .iter()
            .any(|(v, _)| *v == stopped.to_string())
    );
}

#[tokio::test]
async fn scans_a_second_apart_at_one_venue_look_like_one_device() {
    let app = spawn_app().await;
    let (venue, _, _) = venues(&app);
    let now = afternoon();
    let rows: Vec<CheckIn> = (0..60)
        .map(|i| CheckIn {
            person: PersonId(i),
            venue,
            at: now.plus(-HOUR + i64::from(i)),
            direction: ScanDirection::Entry,
        })
        .collect();
    add_scans(&app, &rows);
    xikang_server::app::sweep::run(&app.state, now)
        .await
        .unwrap();
    let (_, list) = app
        .get(&app.admin, "/api/v1/venues/silent?kind=one_device")
        .await;
    assert_eq!(flags(&list), [(venue.to_string(), "one_device".into())]);
}

#[tokio::test]
async fn an_inspection_is_logged_a_failed_one_needs_a_deadline_and_a_reinspection_follows_it() {
    let app = spawn_app().await;
    let (venue, _, other_district) = venues(&app);
    let before = app.events();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/inspections",
            json!({"venue": venue.to_string(), "kind": "unannounced", "findings": "未查验健康码", "passed": false}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("rectify_by_required"))
    );
    assert_eq!(app.events(), before);
    let deadline = xikang_server::now().plus(DAY).to_rfc3339();
    let (s, first) = app
        .post(
            &app.admin,
            "/api/v1/inspections",
            json!({"venue": venue.to_string(), "kind": "unannounced", "findings": "未查验健康码",
                   "passed": false, "rectify_by": deadline}),
        )
        .await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["rectification_overdue"], false);
    let (s, again) = app
        .post(
            &app.admin,
            "/api/v1/inspections",
            json!({"venue": venue.to_string(), "kind": "announced", "findings": "已整改",
                   "passed": true, "follows": first["id"]}),
        )
        .await;
    assert_eq!((s, again["follows"].clone()), (201, first["id"].clone()));
    assert_eq!(app.events(), before + 2);
    let (_, list) = app.get(&app.admin, "/api/v1/inspections").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // Another district's admin may not inspect this venue.
    let t = app
        .role_token("other-admin", "admin", &other_district)
        .await;
    let (s, _) = app
        .post(
            &t,
            "/api/v1/inspections",
            json!({"venue": venue.to_string(), "kind": "announced", "findings": "x", "passed": true}),
        )
        .await;
    assert_eq!(s, 403);
}
