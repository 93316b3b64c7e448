//! The scan time window and impossible movement (issue 14, defect 4): a scan's `at` must lie
//! within its code's validity and reach the server within the upload grace after the code
//! expired, on every path (a code verified before included); one person at venues too far
//! apart for the time between scans is flagged on `GET /api/v1/scans/anomalies` and the
//! command dashboard. Each test starts the real server on port 0.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::web::Browser;
use common::*;
use serde_json::{Value, json};
use xikang_code::CodeClaims;
use xikang_domain::time::HOUR;
use xikang_domain::{Colour, PersonId, Timestamp, Venue};
use xikang_server::state::DEFAULT_SCAN_UPLOAD_GRACE_SECS;

/// A code for `person` signed by the server's key with the given validity, as the server
/// would have issued it then.
fn code_issued(app: &TestApp, person: u32, issued_at: Timestamp, expires_at: Timestamp) -> String {
    app.state
        .keys(xikang_server::now())
        .signer
        .issue(&CodeClaims {
            issuer: "320200".into(),
            subject: app.state.pseudonyms.pseudonym(PersonId(person)),
            colour: Colour::Green,
            last_negative: None,
            issued_at,
            expires_at,
        })
}

/// A resident whose colour is green now (so every plain venue lets them in).
async fn green_person(app: &TestApp) -> u32 {
    for p in 0..PEOPLE {
        if app.colour(&format!("P{p}")).await == "green" {
            return p;
        }
    }
    panic!("no green resident in the test city");
}

/// Three venues without a test requirement, in three districts, pairwise more than 5 km
/// apart (the bound flags 3 km in the same second).
fn far_apart_venues(app: &TestApp) -> [Venue; 3] {
    let policy = app.state.policy();
    let plain: Vec<&Venue> = app
        .state
        .projection
        .venues
        .list
        .iter()
        .filter(|v| policy.venue_requirement(&v.category).is_none())
        .collect();
    let far = |a: &Venue, b: &Venue| {
        a.area.district() != b.area.district()
            && xikang_trace::distance_m((a.lat, a.lon), (b.lat, b.lon)) > 5_000.0
    };
    for a in &plain {
        for b in plain.iter().filter(|b| far(a, b)) {
            if let Some(c) = plain.iter().find(|c| far(a, c) && far(b, c)) {
                return [(*a).clone(), (*b).clone(), (*c).clone()];
            }
        }
    }
    panic!("the test city has no three plain venues far apart");
}

/// The error codes of a batch answer, per item (`ok` for an accepted one).
fn codes(v: &Value) -> Vec<String> {
    let results = v["results"]
        .as_array()
        .or_else(|| v["error"]["details"]["results"].as_array())
        .unwrap_or_else(|| panic!("no results in {v}"));
    results
        .iter()
        .map(|x| x["error"]["code"].as_str().unwrap_or("ok").to_owned())
        .collect()
}

/// The same code scanned at each venue, all at `at` (live when `None`), in one batch.
fn batch(venues: &[Venue], token: &str, at: Option<Timestamp>) -> Value {
    let scans: Vec<Value> = venues
        .iter()
        .map(|v| match at {
            Some(t) => json!({"place_code": v.place_code.to_string(), "token": token, "at": t.to_rfc3339()}),
            None => json!({"place_code": v.place_code.to_string(), "token": token}),
        })
        .collect();
    json!({ "scans": scans })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_backdated_into_its_old_validity_is_refused_at_three_venues_at_once() {
    let app = spawn_app().await;
    let device = app.device().await;
    let person = green_person(&app).await;
    let venues = far_apart_venues(&app);
    let now = xikang_server::now();
    // Valid for five minutes an hour ago.
    let (iat, exp) = (now.plus(-HOUR), now.plus(-HOUR + 300));
    let token = code_issued(&app, person, iat, exp);

    // Live, it is refused as expired.
    let (s, v) = app
        .post(
            &device,
            "/api/v1/scans",
            json!({"place_code": venues[0].place_code.to_string(), "token": token}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("token_expired")),
        "{v}"
    );

    // The replay: the same second inside its old validity, at three venues in three
    // districts. Every one is refused, and nothing is recorded.
    let (s, v) = app
        .post(
            &device,
            "/api/v1/scans",
            batch(&venues, &token, Some(iat.plus(60))),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(codes(&v), vec!["token_upload_too_late"; 3], "{v}");
    let stored = app
        .store
        .checkins_of_person(PersonId(person), iat.plus(-60), exp.plus(60))
        .unwrap();
    assert!(!stored.iter().any(|c| c.at == iat.plus(60)), "{stored:?}");

    // A time outside its old validity is refused as such.
    let (_, v) = app
        .post(
            &device,
            "/api/v1/scans",
            batch(&venues[..1], &token, Some(exp.plus(61))),
        )
        .await;
    assert_eq!(codes(&v), vec!["token_not_valid_at"], "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_queued_offline_while_its_code_was_valid_is_accepted_within_the_grace() {
    let app = spawn_app().await;
    let device = app.device().await;
    let person = green_person(&app).await;
    let place = app.plain_venue();
    let now = xikang_server::now();
    // Scanned while valid, uploaded after the code expired but inside the grace.
    let (iat, exp) = (now.plus(-400), now.plus(-100));
    assert!(
        now.0 - exp.0 < DEFAULT_SCAN_UPLOAD_GRACE_SECS,
        "inside the grace"
    );
    let token = code_issued(&app, person, iat, exp);
    let at = iat.plus(30);
    let (s, v) = app
        .post(
            &device,
            "/api/v1/scans",
            json!({"place_code": place, "token": token, "at": at.to_rfc3339()}),
        )
        .await;
    assert_eq!((s, v["decision"].as_str()), (200, Some("allow")), "{v}");
    let stored = app
        .store
        .checkins_of_person(PersonId(person), at.plus(-1), at.plus(1))
        .unwrap();
    assert!(
        stored.iter().any(|c| c.at == at),
        "recorded at the scan time: {stored:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_seen_live_and_then_backdated_by_hours_is_refused() {
    let app = spawn_app().await;
    let device = app.device().await;
    let person = green_person(&app).await;
    let place = app.plain_venue();
    let token = app.code_token(&format!("P{person}")).await;
    // Seen live first: the server now holds it as verified.
    let (s, v) = app
        .post(
            &device,
            "/api/v1/scans",
            json!({"place_code": place, "token": token}),
        )
        .await;
    assert_eq!((s, v["decision"].as_str()), (200, Some("allow")), "{v}");
    // The same code with a time three hours before it was issued.
    let before = xikang_server::now().plus(-3 * HOUR).to_rfc3339();
    let (s, v) = app
        .post(
            &device,
            "/api/v1/scans",
            json!({"place_code": place, "token": token, "at": before}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("token_not_valid_at")),
        "{v}"
    );

    // A code never seen before, backdated the same way, is refused the same way.
    let now = xikang_server::now();
    let fresh = code_issued(&app, person, now, now.plus(300));
    let (_, v) = app
        .post(
            &device,
            "/api/v1/scans",
            json!({"place_code": place, "token": fresh, "at": before}),
        )
        .await;
    assert_eq!(v["error"]["code"], "token_not_valid_at", "{v}");
    // A time in the future beyond the clock leeway is no scan time at all.
    let (_, v) = app
        .post(
            &device,
            "/api/v1/scans",
            json!({"place_code": place, "token": fresh, "at": now.plus(600).to_rfc3339()}),
        )
        .await;
    assert_eq!(v["error"]["code"], "invalid_scan_time", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_number_scan_queued_longer_than_a_code_could_wait_is_refused() {
    let app = spawn_app().await;
    let place = app.plain_venue();
    let id_number = String::from(app.store.person(PersonId(3)).unwrap().unwrap().id_number);
    // The city admin may look people up by ID number.
    let old = xikang_server::now().plus(-2 * HOUR).to_rfc3339();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/scans",
            json!({"place_code": place, "id_number": id_number, "at": old}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_scan_time")),
        "{v}"
    );
    let recent = xikang_server::now().plus(-60).to_rfc3339();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/scans",
            json!({"place_code": place, "id_number": id_number, "at": recent}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
}

/// Anomalies of `person` answered to `token` (today), once the index has the scans.
async fn anomalies_of(app: &TestApp, token: &str, person: &str) -> (Value, Vec<Value>) {
    let (s, v) = app.get(token, "/api/v1/scans/anomalies").await;
    assert_eq!(s, 200, "{v}");
    let mine = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["person"] == person)
        .cloned()
        .collect();
    (v, mine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_at_three_districts_in_one_second_is_flagged_to_their_district_only() {
    let app = spawn_app().await;
    let device = app.device().await;
    let person = green_person(&app).await;
    let pid = format!("P{person}");
    let venues = far_apart_venues(&app);
    let token = app.code_token(&pid).await;
    // A valid code, live, at three venues in three districts in the same second: accepted
    // (a wrong flag must not keep anyone out), and flagged.
    let (s, v) = app
        .post(&device, "/api/v1/scans", batch(&venues, &token, None))
        .await;
    assert_eq!((s, codes(&v)), (200, vec!["ok".to_owned(); 3]), "{v}");

    // The generated city's own scans of the person may pair with ours too: count the
    // moves inside our second.
    let same_second = |moves: Vec<Value>| -> Vec<Value> {
        moves.into_iter().filter(|m| m["seconds"] == 0).collect()
    };
    let mut mine = Vec::new();
    for _ in 0..300 {
        mine = same_second(anomalies_of(&app, &app.admin, &pid).await.1);
        if mine.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // In time order, then by venue: two consecutive pairs among the three venues.
    assert_eq!(mine.len(), 2, "{mine:?}");
    for m in &mine {
        assert_eq!(m["kind"], "impossible_movement");
        assert_eq!(m["seconds"], 0);
        assert!(m["needed_kmh"].is_null());
        assert!(m["km"].as_f64().unwrap() > 5.0, "{m}");
        assert_ne!(m["from"]["district"], m["to"]["district"]);
        let name = m["name"].as_str().unwrap();
        assert!(name.contains('*'), "masked: {name}");
    }

    // Area-scoped: a tracer of the person's district sees them, one of another does not.
    let home = app
        .state
        .projection
        .person_area(PersonId(person))
        .unwrap()
        .district()
        .to_string();
    let other = app.districts().into_iter().find(|d| *d != home).unwrap();
    let ours = app.role_token("t-home", "tracer", &home).await;
    let theirs = app.role_token("t-other", "tracer", &other).await;
    assert_eq!(
        same_second(anomalies_of(&app, &ours, &pid).await.1).len(),
        2
    );
    let (v, seen) = anomalies_of(&app, &theirs, &pid).await;
    assert!(seen.is_empty(), "{v}");
    // A venue device may not read them; a bad date is a clear error; another day is empty.
    let (s, _) = app.get(&device, "/api/v1/scans/anomalies").await;
    assert_eq!(s, 403);
    let (s, v) = app
        .get(&app.admin, "/api/v1/scans/anomalies?date=2026-13-40")
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_day")),
        "{v}"
    );
    let (s, v) = app
        .get(&app.admin, "/api/v1/scans/anomalies?date=2020-01-01")
        .await;
    assert_eq!((s, v["count"].as_u64()), (200, Some(0)), "{v}");

    // The command dashboard shows the person to their district, not to another.
    let mut b = Browser::signed_in(&app, "home-boss", "admin", &home).await;
    let html = b.get("/web/dashboard").await.text();
    assert!(html.contains("id=\"anomalies\""), "{html}");
    assert!(html.contains(&format!("/web/people/{pid}\"")), "{html}");
    let mut b = Browser::signed_in(&app, "other-boss", "admin", &other).await;
    let html = b.get("/web/dashboard").await.text();
    assert!(html.contains("id=\"anomalies\""), "{html}");
    assert!(!html.contains(&format!("/web/people/{pid}\"")), "{html}");
}
