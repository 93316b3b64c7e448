//! The HTTP API end to end: the real server on port 0 over a real SQLite store.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_openapi_are_served_and_every_documented_path_is_routed() {
    let app = spawn_app().await;
    let mut c = app.conn().await;
    assert_eq!(c.get("/healthz", None).await.unwrap().status, 200);
    let doc = c.get("/api/v1/openapi.json", None).await.unwrap().json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 15);
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("/people/{id}", "/people/P1")
                .replace("/venues/{id}", "/venues/V1")
                .replace("/cases/{id}", "/cases/C999");
            let r = if method == "get" {
                c.get(&concrete, Some(&app.admin)).await.unwrap()
            } else {
                c.request(
                    &method.to_uppercase(),
                    &concrete,
                    Some(&app.admin),
                    Some("application/json"),
                    b"{}",
                )
                .await
                .unwrap()
            };
            // A routed path answers with its own status; the router's fallback says not_found.
            let fallback = r.status == 404 && r.json()["error"]["code"] == "not_found";
            assert!(
                !fallback && r.status != 405,
                "{method} {concrete} is documented but not routed: {}",
                r.status
            );
            assert!(r.status < 500, "{method} {concrete}: {}", r.text());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_signed_verifiable_and_explained() {
    let app = spawn_app().await;
    let mut c = app.conn().await;
    let r = c
        .get("/api/v1/people/P3/code", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let token = v["token"].as_str().unwrap();
    assert!(token.starts_with("XK1:"));
    assert!(!v["explanation"]["zh"].as_str().unwrap().is_empty());
    assert!(!v["explanation"]["en"].as_str().unwrap().is_empty());
    assert!(v["policy_version"].as_str().is_some_and(|s| !s.is_empty()));
    let trust = c.get("/api/v1/trust", None).await.unwrap();
    let list = xikang_code::TrustList::from_json(&trust.text()).unwrap();
    let claims = list
        .verify(token, Some("320200"), xikang_server::now())
        .unwrap();
    assert_eq!(claims.colour.as_str(), v["colour"].as_str().unwrap());
    // Displaying again re-uses the signed code rather than signing anew.
    let again = c
        .get("/api/v1/people/P3/code", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert_eq!(again["token"], v["token"]);
    let svg = c
        .get("/api/v1/people/P3/code.svg", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.text().contains("<svg"));
    let png = c
        .get("/api/v1/people/P3/code.png", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(&png.body[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_is_answered_and_its_check_in_is_recorded() {
    let app = spawn_app().await;
    let device = app.device().await;
    let token = app.code_token("P5").await;
    let place = app.plain_venue();
    let mut c = app.conn().await;
    let r = c
        .post_json(
            "/api/v1/scans",
            Some(&device),
            &json!({"place_code": place, "token": token}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["colour"], "green");
    let venue = app
        .state
        .projection
        .venues
        .by_code
        .get(&xikang_domain::PlaceCode::parse(&place).unwrap())
        .unwrap()
        .to_string();
    // Acknowledged means stored.
    let now = xikang_server::now();
    let stored = app
        .store
        .checkins_of_person(xikang_domain::PersonId(5), now.plus(-60), now.plus(60))
        .unwrap();
    assert!(
        stored.iter().any(|s| s.venue.to_string() == venue),
        "{stored:?}"
    );
    // The tracing index, which answers GET /scans, follows the store a moment later.
    let mut scans = serde_json::Value::Null;
    for _ in 0..200 {
        scans = c
            .get("/api/v1/scans?person=P5", Some(&app.admin))
            .await
            .unwrap()
            .json();
        if scans["items"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["venue"] == venue.as_str()))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        scans["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["venue"] == venue.as_str()),
        "{scans}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_records_the_good_scans_and_reports_each_bad_one_by_index() {
    let app = spawn_app().await;
    let device = app.device().await;
    let place = app.plain_venue();
    let good = app.code_token("P7").await;
    let mut tampered = app.code_token("P8").await.into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let body = json!({"scans": [
        {"place_code": place, "token": good},
        {"place_code": "NOSUCHPLACE1", "token": good},
        {"place_code": place, "token": tampered},
        {"place_code": place, "token": "XK1:not base45!"},
        {"place_code": place, "id_number": "110105194912310021"},
        {"place_code": "bad code", "token": good},
        {"place_code": place},
    ]});
    let mut c = app.conn().await;
    let r = c
        .post_json("/api/v1/scans", Some(&device), &body)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["accepted"], 1);
    assert_eq!(v["recorded"], 1);
    let codes: Vec<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["error"]["code"].as_str().unwrap_or("ok").to_owned())
        .collect();
    assert_eq!(codes[0], "ok");
    assert_eq!(codes[1], "unknown_place_code");
    assert!(
        codes[2] == "token_tampered" || codes[2] == "token_malformed",
        "{codes:?}"
    );
    assert_eq!(codes[3], "token_malformed");
    assert_eq!(codes[4], "id_lookup_not_allowed");
    assert_eq!(codes[5], "invalid_place_code");
    assert_eq!(codes[6], "invalid_scan");
    for (i, x) in v["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(x["index"], i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_stable_error_codes_and_change_nothing() {
    let app = spawn_app().await;
    let device = app.device().await;
    let place = app.plain_venue();
    let events_before = app
        .store
        .events_after(xikang_domain::EventSeq(0), 100_000)
        .unwrap()
        .len();
    let mut c = app.conn().await;
    // (path, body, content type, expected status, expected error code)
    type Case<'a> = (&'a str, &'a [u8], Option<&'a str>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("/api/v1/scans", b"{not json", Some("application/json"), 400, "invalid_json"),
        ("/api/v1/scans", b"{}", Some("text/plain"), 415, "unsupported_media_type"),
        ("/api/v1/scans", b"{\"scans\": []}", Some("application/json"), 400, "empty_batch"),
        ("/api/v1/scans", b"", Some("application/json"), 400, "invalid_json"),
        ("/api/v1/cases", b"{\"person\": \"P1\", \"kind\": \"confirmed\"}", Some("application/json"), 400, "onset_or_sampling_required"),
        ("/api/v1/cases", b"{\"person\": \"P1\", \"kind\": \"confirmed\", \"onset\": \"2999-01-01T00:00:00Z\"}", Some("application/json"), 400, "time_in_future"),
        ("/api/v1/cases", b"{\"person\": \"P99999999\", \"kind\": \"confirmed\", \"onset\": \"2022-01-01T00:00:00Z\"}", Some("application/json"), 404, "unknown_person"),
        ("/api/v1/people/lookup", b"{\"id_number\": \"110105194912310021\"}", Some("application/json"), 400, "invalid_id_check_digit"),
        ("/api/v1/people/lookup", b"{\"id_number\": \"320213202102291233\"}", Some("application/json"), 400, "invalid_id_birth_date"),
        ("/api/v1/test-results", b"{\"results\": [{\"person\": \"P1\", \"sampled_at\": \"x\", \"resulted_at\": \"y\", \"outcome\": \"negative\", \"tube\": \"T1\"}]}", Some("application/json"), 422, "invalid_results"),
    ];
    for (path, body, ct, status, code) in cases {
        let token = if path == "/api/v1/scans" {
            &device
        } else {
            &app.admin
        };
        let r = c
            .request("POST", path, Some(token), ct, body)
            .await
            .unwrap();
        assert_eq!(
            r.status,
            status,
            "{path} {}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        assert_eq!(r.json()["error"]["code"], code, "{path}: {}", r.text());
    }
    let too_many: Vec<_> = (0..1001)
        .map(|_| json!({"place_code": place, "token": "XK1:X"}))
        .collect();
    let r = c
        .post_json("/api/v1/scans", Some(&device), &json!({"scans": too_many}))
        .await
        .unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["error"]["code"], "too_large");
    let r = c
        .post_json(
            "/api/v1/scans",
            Some(&device),
            &json!({"place_code": "NOSUCHPLACE1", "token": "XK1:X"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (404, Some("unknown_place_code"))
    );
    let r = c.get("/api/v1/people/P1/code", None).await.unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let r = c
        .get("/api/v1/people/P1/code", Some("xk_wrong"))
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let r = c
        .get("/api/v1/people/not-an-id/code", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("invalid_person_id"))
    );
    let r = c
        .get("/api/v1/events?after=abc", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["code"].is_string(),
        "framework rejections use the envelope too: {}",
        r.text()
    );
    let r = c
        .request("DELETE", "/api/v1/scans", Some(&device), None, b"")
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let events_after = app
        .store
        .events_after(xikang_domain::EventSeq(0), 100_000)
        .unwrap()
        .len();
    assert_eq!(
        events_before, events_after,
        "refused requests must not write"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_jurisdictions_are_enforced() {
    let app = spawn_app().await;
    let device = app.device().await;
    let mut c = app.conn().await;
    // A venue device cannot read people's codes or register cases.
    let r = c
        .get("/api/v1/people/P1/code", Some(&device))
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    let r = c
        .post_json(
            "/api/v1/cases",
            Some(&device),
            &json!({"person": "P1", "kind": "confirmed", "onset": "2022-01-01T00:00:00Z"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    // A tracer of another district cannot see a person outside it.
    let area = app
        .state
        .projection
        .person_area(xikang_domain::PersonId(1))
        .unwrap();
    let other = [
        "320213", "320205", "320206", "320211", "320214", "320281", "320282",
    ]
    .into_iter()
    .find(|d| !area.as_str().starts_with(d))
    .unwrap();
    let tracer = app
        .token(json!({"name": "t1", "role": "tracer", "area": other}))
        .await;
    let r = c
        .get("/api/v1/people/P1/code", Some(&tracer))
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    // A resident sees their own code only.
    let me = app
        .token(json!({"name": "r1", "role": "resident", "area": "320200", "person": "P1"}))
        .await;
    assert_eq!(
        c.get("/api/v1/people/P1/code", Some(&me))
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        c.get("/api/v1/people/P2/code", Some(&me))
            .await
            .unwrap()
            .status,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_case_turns_the_code_red_and_the_venue_denies_entry() {
    let app = spawn_app().await;
    let device = app.device().await;
    let place = app.plain_venue();
    let mut c = app.conn().await;
    let onset = xikang_server::now().plus(-86_400).to_rfc3339();
    let r = c
        .post_json(
            "/api/v1/cases",
            Some(&app.admin),
            &json!({"person": "P9", "kind": "confirmed", "onset": onset}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["id"].as_str().unwrap().to_owned();
    let code = c
        .get("/api/v1/people/P9/code", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert_eq!(code["colour"], "red");
    let reason = &code["reasons"][0];
    assert!(
        reason["event"].as_str().unwrap().starts_with('E'),
        "the reason names the event: {code}"
    );
    let r = c
        .post_json(
            "/api/v1/scans",
            Some(&device),
            &json!({"place_code": place, "token": code["token"]}),
        )
        .await
        .unwrap();
    assert_eq!(r.json()["decision"], "deny", "{}", r.text());
    assert_eq!(r.json()["colour"], "red");
    // Registering the same person again is refused.
    let r = c
        .post_json(
            "/api/v1/cases",
            Some(&app.admin),
            &json!({"person": "P9", "kind": "confirmed", "onset": onset}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("case_exists"))
    );
    let got = c
        .get(&format!("/api/v1/cases/{case}"), Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert_eq!(got["person"], "P9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_result_updates_the_test_age_and_a_positive_pool_holds_its_members() {
    let app = spawn_app().await;
    let lab = app
        .token(json!({"name": "lab-1", "role": "lab", "area": "320200"}))
        .await;
    let now = xikang_server::now();
    let mut c = app.conn().await;
    let body = json!({"results": [
        {"person": "P11", "sampled_at": now.plus(-3600).to_rfc3339(), "resulted_at": now.plus(-60).to_rfc3339(), "outcome": "negative", "tube": "T-11"},
        {"person": "P12", "sampled_at": now.plus(-3600).to_rfc3339(), "resulted_at": now.plus(-60).to_rfc3339(), "outcome": "positive", "pool_size": 10, "tube": "T-POOL"}
    ]});
    let r = c
        .post_json("/api/v1/test-results", Some(&lab), &body)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let code = c
        .get("/api/v1/people/P11/code", Some(&app.admin))
        .await
        .unwrap()
        .json();
    // Test age counts Shanghai calendar days: sampled an hour ago is day 1 between 00:00 and
    // 01:00 Shanghai time.
    let age = now.shanghai_day().0 - now.plus(-3600).shanghai_day().0;
    assert_eq!(code["test_age_days"], age, "{code}");
    assert_eq!(code["last_negative"], now.plus(-3600).to_rfc3339());
    let held = c
        .get("/api/v1/people/P12/code", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert_ne!(
        held["colour"], "green",
        "a member of a positive pool is held: {held}"
    );
    let results = c
        .get("/api/v1/test-results?person=P11", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert!(
        results["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["tube"] == "T-11")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_masked_by_default_and_unmasking_is_logged() {
    let app = spawn_app().await;
    let mut c = app.conn().await;
    let p = c
        .get("/api/v1/people/P2", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert!(
        p["id_number"].as_str().unwrap().contains("**********"),
        "{p}"
    );
    assert_eq!(p["masked"], true);
    let r = c
        .get("/api/v1/people/P2?unmask=true", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("purpose_required"))
    );
    let p = c
        .get(
            "/api/v1/people/P2?unmask=true&purpose=case%20investigation",
            Some(&app.admin),
        )
        .await
        .unwrap()
        .json();
    assert!(!p["id_number"].as_str().unwrap().contains('*'));
    let events = c
        .get("/api/v1/events", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert!(
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["body"]["kind"] == "personal_data_read" && e["body"]["person"] == 2)
    );
    let list = c
        .get("/api/v1/people?limit=5", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id_number"].as_str().unwrap().contains('*'))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_page_shows_the_code_and_its_explanation() {
    let app = spawn_app().await;
    let mut c = app.conn().await;
    let index = c.get("/", None).await.unwrap();
    assert!(index.text().contains("<form"));
    let body = format!("token={}&person=P4", app.admin);
    let r = c
        .request(
            "POST",
            "/lookup",
            None,
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("<svg"), "QR shown");
    assert!(html.contains("绿码") || html.contains("黄码") || html.contains("红码"));
    let bad = c
        .request(
            "POST",
            "/lookup",
            None,
            Some("application/x-www-form-urlencoded"),
            b"token=nope&person=P4",
        )
        .await
        .unwrap();
    assert!(bad.text().contains("令牌无效"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_policy_is_recorded_once_in_the_authority_log() {
    let app = spawn_app().await;
    let count = |store: &dyn xikang_store::Store| {
        store
            .events_after(xikang_domain::EventSeq(0), 100_000)
            .unwrap()
            .iter()
            .filter(|e| {
                matches!(
                    e.body,
                    xikang_domain::event::EventBody::PolicyActivated { .. }
                )
            })
            .count()
    };
    assert_eq!(count(app.store.as_ref()), 1);
    // Restarting with the same policy file records nothing new.
    let sha = xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML);
    let policy = xikang_domain::policy::Policy::default_policy();
    let again = xikang_server::state::AppState::load(
        app.store.clone(),
        xikang_server::ServerConfig::default(),
        policy,
        &sha,
        xikang_server::now(),
    )
    .unwrap();
    drop(again);
    assert_eq!(count(app.store.as_ref()), 1);
    let v = app
        .conn()
        .await
        .get("/api/v1/policy", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert_eq!(
        v["version"],
        xikang_domain::policy::Policy::default_policy().version()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_ins_past_the_retention_period_are_dropped_by_whole_days() {
    let app = spawn_app().await;
    let now = xikang_server::now();
    let retention = i64::from(app.state.policy().retention_days());
    let old = now.plus(-(retention + 3) * 86_400);
    let recent = now.plus(-(retention - 3) * 86_400);
    let rows: Vec<_> = [old, recent]
        .into_iter()
        .map(|at| xikang_domain::CheckIn {
            person: xikang_domain::PersonId(1),
            venue: xikang_domain::VenueId(1),
            at,
            direction: xikang_domain::ScanDirection::Entry,
        })
        .collect();
    app.store.insert_checkins(&rows).unwrap();
    // The server's own hourly retention task may have run first; either way the old day goes.
    let dropped = app.state.enforce_retention(now).unwrap();
    assert!(
        dropped.iter().all(|d| *d == old.shanghai_day()),
        "{dropped:?}"
    );
    let days: Vec<_> = app
        .store
        .checkin_days()
        .unwrap()
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert!(!days.contains(&old.shanghai_day()));
    assert!(days.contains(&recent.shanghai_day()));
    let left = app
        .store
        .checkins_of_person(xikang_domain::PersonId(1), old.plus(-60), recent.plus(60))
        .unwrap();
    assert!(left.iter().all(|c| c.at != old) && left.iter().any(|c| c.at == recent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_servers_clock_is_the_systems_and_never_moves() {
    let app = spawn_app().await;
    let (s, clock) = app.get(&app.admin, "/api/v1/drill/clock").await;
    assert_eq!((s, &clock["drill"]), (200, &json!(false)), "{clock}");
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/drill/clock",
            json!({"advance_secs": 86_400}),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("not_a_drill")));
    let drift = xikang_server::now().0
        - xikang_domain::Timestamp::parse_rfc3339(clock["now"].as_str().unwrap())
            .unwrap()
            .0;
    assert!((0..3_600).contains(&drift), "the clock moved by {drift} s");
}
