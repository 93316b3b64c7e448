//! Location pings and companions (时空伴随) over HTTP: a carrier's feed posts pings, bad
//! items are reported by index and change nothing, and a case's contact list shows its
//! companions with the cell, both presences and the overlap — merged into the row of a
//! person who is already a close contact.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failure should fail the test at once"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use xikang_domain::{PersonId, Position, Timestamp, companion_cell};

const MIN: i64 = 60;
const HOUR: i64 = 3_600;

/// A place in Nanjing: far from every generated ping (the synthetic city is Wuxi).
const LAT: f64 = 32.060_255;
const LON: f64 = 118.796_877;

fn ping(person: PersonId, at: Timestamp, lat: f64, lon: f64) -> Value {
    json!({"person": person.to_string(), "at": at.to_rfc3339(), "lat": lat, "lon": lon})
}

async fn post(app: &TestApp, token: &str, body: &Value) -> (u16, Value) {
    let r = app
        .conn()
        .await
        .post_json("/api/v1/pings", Some(token), body)
        .await
        .unwrap();
    (r.status, r.json())
}

async fn carrier(app: &TestApp) -> String {
    app.token(json!({"name": "carrier-feed", "role": "carrier", "area": "320200"}))
        .await
}

fn stored_pings(app: &TestApp) -> u64 {
    app.store.ping_days().unwrap().iter().map(|d| d.1).sum()
}

/// People the generated city's feed does not cover: their pings are only the test's.
fn silent(app: &TestApp, p: PersonId) -> bool {
    let now = xikang_server::now();
    app.store
        .pings_of_person(p, now.plus(-30 * 86_400), now.plus(86_400))
        .unwrap()
        .is_empty()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carrier_feed_stores_pings_and_bad_items_are_reported_by_index() {
    let app = spawn_app().await;
    let feed = carrier(&app).await;
    let now = xikang_server::now();
    // The generated city stored pings for about 5 % of its residents.
    let generated = stored_pings(&app);
    assert!(generated > 0);
    let p = PersonId(3);
    let retention = i64::from(app.state.policy().retention_days());
    let body = json!({"pings": [
        ping(p, now.plus(-HOUR), LAT, LON),
        ping(PersonId(999_999), now.plus(-HOUR), LAT, LON),
        ping(p, now.plus(-HOUR), 91.0, LON),
        ping(p, now.plus(2 * HOUR), LAT, LON),
        ping(p, now.plus(-(retention + 2) * 86_400), LAT, LON),
        {"person": p.to_string(), "at": now.to_rfc3339(), "lat": LAT},
        {"person": "someone", "at": now.to_rfc3339(), "lat": LAT, "lon": LON},
        {"person": p.to_string(), "at": "yesterday", "lat": LAT, "lon": LON},
    ]});
    let (status, out) = post(&app, &feed, &body).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["accepted"], 1);
    let codes: Vec<(u64, &str)> = out["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap(),
                r["error"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (1, "unknown_person"),
            (2, "invalid_position"),
            (3, "time_in_future"),
            (4, "older_than_retention"),
            (5, "invalid_ping"),
            (6, "invalid_person_id"),
            (7, "invalid_time"),
        ]
    );
    // Exactly the valid ping was stored, at the micro-degree.
    assert_eq!(stored_pings(&app), generated + 1);
    let mine = app
        .store
        .pings_of_person(p, now.plus(-2 * HOUR), now)
        .unwrap();
    let want = Position::from_degrees(LAT, LON).unwrap();
    assert!(
        mine.iter()
            .any(|x| x.position == want && x.at == now.plus(-HOUR)),
        "{mine:?}"
    );

    // A batch with nothing valid is a 422 and stores nothing.
    let (status, out) = post(
        &app,
        &feed,
        &json!({"pings": [ping(p, now.plus(-HOUR), LAT, 181.0)]}),
    )
    .await;
    assert_eq!(status, 422, "{out}");
    assert_eq!(out["error"]["code"], "no_valid_pings");
    assert_eq!(
        out["error"]["details"]["rejected"][0]["error"]["code"],
        "invalid_position"
    );
    // Empty, too large, not a batch, not JSON.
    let (status, out) = post(&app, &feed, &json!({"pings": []})).await;
    assert_eq!(
        (status, out["error"]["code"].clone()),
        (400, json!("empty_batch"))
    );
    let many: Vec<Value> = (0..1_001)
        .map(|_| ping(p, now.plus(-HOUR), LAT, LON))
        .collect();
    let (status, _) = post(&app, &feed, &json!({"pings": many})).await;
    assert_eq!(status, 413);
    let (status, out) = post(&app, &feed, &json!([ping(p, now, LAT, LON)])).await;
    assert_eq!(
        (status, out["error"]["code"].clone()),
        (400, json!("invalid_json"))
    );
    let r = app
        .conn()
        .await
        .request(
            "POST",
            "/api/v1/pings",
            Some(&feed),
            Some("text/plain"),
            b"{}",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 415);
    assert_eq!(stored_pings(&app), generated + 1, "nothing more was stored");

    // Only a carrier feed or an admin posts pings; a carrier reads nothing.
    let tracer = app
        .token(json!({"name": "t", "role": "tracer", "area": "320200"}))
        .await;
    let (status, _) = post(&app, &tracer, &json!({"pings": [ping(p, now, LAT, LON)]})).await;
    assert_eq!(status, 403);
    let r = app
        .conn()
        .await
        .post_json("/api/v1/pings", None, &json!({"pings": []}))
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let r = app
        .conn()
        .await
        .get("/api/v1/cases", Some(&feed))
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    let (status, _) = post(
        &app,
        &app.admin,
        &json!({"pings": [ping(p, now.plus(-MIN), LAT, LON)]}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companions_of_a_case_are_listed_with_the_cell_both_presences_and_the_overlap() {
    let app = spawn_app().await;
    let feed = carrier(&app).await;
    let now = xikang_server::now();
    // The case: someone with household members (close contacts), none of them in the feed.
    let case_person = (0..PEOPLE)
        .map(PersonId)
        .find(|&p| {
            let me = app.store.person(p).unwrap().unwrap();
            silent(&app, p)
                && (0..PEOPLE).map(PersonId).any(|q| {
                    q != p
                        && silent(&app, q)
                        && app.store.person(q).unwrap().unwrap().household == me.household
                })
        })
        .unwrap();
    let r = app
        .conn()
        .await
        .post_json(
            "/api/v1/cases",
            Some(&app.admin),
            &json!({"person": case_person.to_string(), "kind": "confirmed",
                    "onset": now.plus(-86_400).to_rfc3339()}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let before = list(&app, &case, "").await;
    assert_eq!(before["companions"]["ready"], true);
    assert_eq!(before["companions"]["cell_metres"], 800);
    let listed: Vec<String> = before["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["person"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        before["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["kind"] != "companion"),
        "no companions before any ping: {before}"
    );
    // A stranger (not on the list) and a household member (a close contact).
    let stranger = (0..PEOPLE)
        .map(PersonId)
        .find(|&q| q != case_person && silent(&app, q) && !listed.contains(&q.to_string()))
        .unwrap();
    let me = app.store.person(case_person).unwrap().unwrap();
    let housemate = (0..PEOPLE)
        .map(PersonId)
        .find(|&q| {
            q != case_person
                && silent(&app, q)
                && app.store.person(q).unwrap().unwrap().household == me.household
        })
        .unwrap();

    // Both live in one Nanjing cell: a ping every 30 minutes for the last 40 hours (more
    // than the policy's 30 hours). The case spends 40 minutes there three hours ago, then
    // moves 5 km away.
    let mut pings = Vec::new();
    let mut at = now.plus(-40 * HOUR);
    while at < now.plus(-10 * MIN) {
        for q in [stranger, housemate] {
            pings.push(ping(q, at, LAT + 0.000_2, LON - 0.000_2));
        }
        at = at.plus(30 * MIN);
    }
    let t0 = now.plus(-3 * HOUR);
    for k in 0..4 {
        pings.push(ping(case_person, t0.plus(k * 10 * MIN), LAT, LON));
    }
    pings.push(ping(case_person, t0.plus(40 * MIN), LAT + 0.045, LON));
    for chunk in pings.chunks(1_000) {
        let (status, out) = post(&app, &feed, &json!({"pings": chunk})).await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["rejected"], json!([]));
    }

    let after = list(&app, &case, "?rule=companion").await;
    let items = after["items"].as_array().unwrap();
    let row = |p: PersonId| {
        items
            .iter()
            .find(|i| i["person"] == p.to_string())
            .unwrap_or_else(|| panic!("{p} not a companion: {after}"))
    };
    let cell = u64::from(companion_cell(Position::from_degrees(LAT, LON).unwrap(), 800).0);
    let s = row(stranger);
    assert_eq!(s["kind"], "companion");
    assert_eq!(s["rules"], json!(["companion"]));
    assert_eq!(s["status"], "candidate");
    assert_eq!(s["overlap_minutes"], 40);
    let e = &s["evidence"][0];
    assert_eq!(e["rule"], "companion");
    assert_eq!(e["cell"], cell);
    assert_eq!(e["cell_metres"], 800);
    assert_eq!(e["overlap_minutes"], 40);
    assert_eq!(
        e["case_presence"],
        json!([{"start": t0.to_rfc3339(), "end": t0.plus(40 * MIN).to_rfc3339()}])
    );
    let theirs = e["contact_presence"].as_array().unwrap();
    assert!(
        theirs.iter().any(|iv| {
            let start = Timestamp::parse_rfc3339(iv["start"].as_str().unwrap()).unwrap();
            let end = Timestamp::parse_rfc3339(iv["end"].as_str().unwrap()).unwrap();
            start <= t0 && end >= t0.plus(40 * MIN)
        }),
        "{e}"
    );
    assert!(e["contact_hours_in_cell"].as_i64().unwrap() > 30, "{e}");
    assert_eq!(e["first"], t0.to_rfc3339());
    assert_eq!(e["last"], t0.plus(40 * MIN).to_rfc3339());
    // The housemate keeps one record: a close contact, with the companion evidence added.
    let h = row(housemate);
    assert_eq!(h["kind"], "close");
    let rules: Vec<&str> = h["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"household") && rules.contains(&"companion"),
        "{h}"
    );
    assert!(
        h["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["rule"] == "companion" && e["cell"] == cell),
        "{h}"
    );
    let whole = list(&app, &case, "").await;
    assert_eq!(
        whole["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["person"] == housemate.to_string())
            .count(),
        1
    );

    // The tracer confirms the companion: an authority event, and the policy colours them
    // yellow. A companion is not quarantined.
    let step = |body: Value| {
        let (app, case) = (&app, case.clone());
        async move {
            let r = app
                .conn()
                .await
                .post_json(
                    &format!("/api/v1/cases/{case}/contacts/{stranger}"),
                    Some(&app.admin),
                    &body,
                )
                .await
                .unwrap();
            (r.status, r.json())
        }
    };
    let (status, out) = step(json!({"action": "confirm"})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["status"], "confirmed");
    let events = app.store.events_of_person(stranger).unwrap();
    assert!(events.iter().any(|e| matches!(
        e.body,
        xikang_domain::event::EventBody::ContactDesignated {
            contact_kind: xikang_domain::event::ContactKind::Companion,
            ..
        }
    )));
    let r = app
        .conn()
        .await
        .get(&format!("/api/v1/people/{stranger}/code"), Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(r.json()["colour"], "yellow", "{}", r.text());
    let (status, out) = step(json!({"action": "quarantine"})).await;
    assert_eq!(status, 409, "{out}");
    assert_eq!(out["error"]["code"], "companion_not_quarantined");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_past_the_retention_period_are_dropped_with_the_check_ins() {
    let app = spawn_app().await;
    let now = xikang_server::now();
    let retention = i64::from(app.state.policy().retention_days());
    let old = now.plus(-(retention + 3) * 86_400);
    // Written straight to the store (the endpoint refuses pings this old).
    let p = xikang_domain::LocationPing {
        person: PersonId(1),
        at: old,
        position: Position::from_degrees(LAT, LON).unwrap(),
    };
    app.store.insert_pings(&[p]).unwrap();
    app.state.projection.tracing.pings.append(&[p]);
    let before = app
        .state
        .projection
        .tracing
        .pings
        .snapshot()
        .unwrap()
        .0
        .len();
    app.state.enforce_retention(now).unwrap();
    let days = app.store.ping_days().unwrap();
    assert!(
        days.iter().all(|(d, _)| *d > old.shanghai_day()),
        "{days:?}"
    );
    assert!(!days.is_empty(), "the generated recent days stay");
    assert_eq!(
        app.state
            .projection
            .tracing
            .pings
            .snapshot()
            .unwrap()
            .0
            .len(),
        before - 1
    );
}

async fn list(app: &TestApp, case: &str, query: &str) -> Value {
    let r = app
        .conn()
        .await
        .get(
            &format!("/api/v1/cases/{case}/contacts{query}"),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}
