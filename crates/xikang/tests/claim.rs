//! Self-service claim (申领), proxy codes (代领) and printable identity cards
//! (docs/claim.md), through the real server: one-time codes through the file outbox, the
//! neutral answer, attempts, expiry, the guardian's limit, a card scanned to today's colour,
//! a revoked card refused, the card's QR read back.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::{TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use xikang_domain::PersonId;
use xikang_server::ServerConfig;
use xikang_server::message::FileOutbox;

/// A server whose claim codes go to `outbox.log` in a directory of the test's own (and
/// with the given code lifetime).
async fn app_with_outbox(ttl_secs: i64) -> (TestApp, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join(xikang_server::message::OUTBOX_FILE);
    let app = spawn_app_with(ServerConfig {
        messages: Some(Arc::new(FileOutbox::new(&outbox))),
        claim_code_ttl_secs: ttl_secs,
        ..ServerConfig::default()
    })
    .await;
    (app, outbox, dir)
}

/// A resident with a phone on record: (person, ID number, name, phone).
fn resident_with_phone(app: &TestApp, skip: usize) -> (String, String, String, String) {
    (0..common::PEOPLE)
        .filter_map(|i| {
            let p = app.store.person(PersonId(i)).unwrap()?;
            let phone = p.phone.as_ref()?.expose().to_owned();
            Some((
                p.id.to_string(),
                String::from(p.id_number),
                p.name.clone(),
                phone,
            ))
        })
        .nth(skip)
        .expect("the city has residents with phones")
}

/// A resident's details: (person, ID number, name).
fn resident(app: &TestApp, i: u32) -> (String, String, String) {
    let p = app.store.person(PersonId(i)).unwrap().unwrap();
    (p.id.to_string(), String::from(p.id_number), p.name)
}

async fn start(app: &TestApp, id: &str, name: &str, phone: &str) -> (u16, Value) {
    app.call(
        "POST",
        "/api/v1/claim/start",
        None,
        Some(&json!({"id_number": id, "name": name, "phone": phone})),
    )
    .await
}

async fn finish(app: &TestApp, claim: &Value, code: &str) -> (u16, Value) {
    app.call(
        "POST",
        "/api/v1/claim/finish",
        None,
        Some(&json!({"claim_id": claim["claim_id"], "code": code})),
    )
    .await
}

/// The last code the outbox holds for `phone`, once the sender has written it (it sends
/// off the request path).
async fn code_for(outbox: &std::path::Path, phone: &str, nth: usize) -> String {
    for _ in 0..500 {
        let text = std::fs::read_to_string(outbox).unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.split('\t').nth(1) == Some(phone))
            .collect();
        if let Some(l) = lines.get(nth) {
            let msg = l.split('\t').nth(2).unwrap();
            return msg
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .expect("a 6-digit code in the message")
                .to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no code in the outbox for the phone");
}

fn other_code(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_claims_their_code_with_the_one_time_code_sent_to_their_phone() {
    let (app, outbox, _dir) = app_with_outbox(300).await;
    let (person, id, name, phone) = resident_with_phone(&app, 0);
    let (s, claim) = start(&app, &id, &name, &phone).await;
    assert_eq!(s, 202, "{claim}");
    let code = code_for(&outbox, &phone, 0).await;
    // A wrong code is refused and says how many tries are left; the right one gives the
    // resident's token, which reads their own code and nobody else's.
    let (s, v) = finish(&app, &claim, &other_code(&code)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("claim_code_wrong")),
        "{v}"
    );
    assert_eq!(v["error"]["details"]["attempts_left"], 4);
    let (s, v) = finish(&app, &claim, &code).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["person"], person.as_str());
    assert_eq!(v["role"], "resident");
    let token = v["token"].as_str().unwrap().to_owned();
    let (s, own) = app
        .get(&token, &format!("/api/v1/people/{person}/code"))
        .await;
    assert_eq!(s, 200, "{own}");
    assert!(own["token"].as_str().unwrap().starts_with("XK1:"));
    let other = if person == "P0" { "P1" } else { "P0" };
    let (s, _) = app
        .get(&token, &format!("/api/v1/people/{other}/code"))
        .await;
    assert_eq!(s, 403);
    // A finished claim cannot be used again.
    let (s, v) = finish(&app, &claim, &code).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("claim_used")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_codes_exhaust_a_claim_and_then_even_the_right_code_is_refused() {
    let (app, outbox, _dir) = app_with_outbox(300).await;
    let (_, id, name, phone) = resident_with_phone(&app, 1);
    let (_, claim) = start(&app, &id, &name, &phone).await;
    let code = code_for(&outbox, &phone, 0).await;
    let wrong = other_code(&code);
    for left in (1..xikang_server::claim::MAX_ATTEMPTS).rev() {
        let (s, v) = finish(&app, &claim, &wrong).await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["error"]["details"]["attempts_left"], left);
    }
    let (s, v) = finish(&app, &claim, &wrong).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("claim_attempts_exhausted")),
        "{v}"
    );
    let (s, v) = finish(&app, &claim, &code).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("claim_attempts_exhausted")),
        "{v}"
    );
    // A claim id with another secret is no claim: it cannot spend anyone's attempts.
    let forged = claim["claim_id"]
        .as_str()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .to_owned()
        + "-00";
    let (s, v) = finish(&app, &json!({"claim_id": forged}), &code).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("unknown_claim")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_is_refused() {
    // A code that lives no time at all: expired by the time it is tried.
    let (app, outbox, _dir) = app_with_outbox(0).await;
    let (_, id, name, phone) = resident_with_phone(&app, 2);
    let (s, claim) = start(&app, &id, &name, &phone).await;
    assert_eq!(s, 202);
    let code = code_for(&outbox, &phone, 0).await;
    let (s, v) = finish(&app, &claim, &code).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("claim_expired")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_answers_alike_whether_or_not_the_details_match_and_sends_only_on_a_match() {
    let (app, outbox, _dir) = app_with_outbox(300).await;
    let (_, id, name, phone) = resident_with_phone(&app, 3);
    let (s1, matched) = start(&app, &id, &name, &phone).await;
    let (s2, wrong_name) = start(&app, &id, "不是我", &phone).await;
    // Another registered resident's ID number with this phone.
    let (_, id2, name2, phone2) = resident_with_phone(&app, 4);
    assert_ne!(phone2, phone);
    let (s3, wrong_phone) = start(&app, &id2, &name2, &phone).await;
    assert_eq!((s1, s2, s3), (202, 202, 202));
    let shape = |v: &Value| -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys.push(v["message"].as_str().unwrap().to_owned());
        keys.push(v["claim_id"].as_str().unwrap().len().to_string());
        keys
    };
    assert_eq!(shape(&matched), shape(&wrong_name));
    assert_eq!(shape(&matched), shape(&wrong_phone));
    // Only the match got a message; the others finish exactly like a wrong code.
    code_for(&outbox, &phone, 0).await;
    let text = std::fs::read_to_string(&outbox).unwrap();
    assert_eq!(
        text.lines().count(),
        1,
        "a message went to an unmatched claim"
    );
    let (sa, a) = finish(&app, &wrong_name, "000000").await;
    let (sb, b) = finish(&app, &wrong_phone, "000000").await;
    assert_eq!((sa, sb), (400, 400));
    assert_eq!(a["error"], b["error"]);
    assert_eq!(a["error"]["code"], "claim_code_wrong");
    // Nothing personal goes back: the answers hold no name, phone or person.
    for v in [&matched, &wrong_name, &wrong_phone] {
        let t = v.to_string();
        assert!(
            !t.contains(&phone) && !t.contains(&name) && !t.contains("\"P"),
            "{t}"
        );
    }
    // The same ID number or phone may start only a few claims an hour (matched or not).
    let (s, v) = start(&app, &id, &name, &phone).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("claim_rate_limited")),
        "{v}"
    );
    // Malformed details are refused as such (that says nothing about the register).
    let (s, v) = start(&app, "123", &name, &phone).await;
    assert_eq!(s, 400, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guardian_claims_dependants_up_to_the_limit_and_an_admin_revokes_a_hold() {
    let (app, _outbox, _dir) = app_with_outbox(300).await;
    let (guardian_person, _, _) = resident(&app, 0);
    let area = app
        .state
        .projection
        .person_area(PersonId(0))
        .unwrap()
        .to_string();
    let guardian = app
        .token(json!({"name": "guardian", "role": "resident", "area": area, "person": guardian_person}))
        .await;
    let events_before = app.events();
    let mut grants = Vec::new();
    for i in 1..=xikang_server::claim::MAX_DEPENDANTS as u32 {
        let (_, id, name) = resident(&app, i);
        let (s, v) = app
            .post(
                &guardian,
                "/api/v1/claim/proxy",
                json!({"id_number": id, "name": name, "relation": "child"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_ne!(v["name"], name.as_str(), "the name is masked");
        grants.push(v["grant"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        app.events(),
        events_before + grants.len() as u64,
        "each grant is logged"
    );
    // One more is over the limit; a wrong name matches nobody.
    let extra = xikang_server::claim::MAX_DEPENDANTS as u32 + 1;
    let (_, id, name) = resident(&app, extra);
    let (s, v) = app
        .post(
            &guardian,
            "/api/v1/claim/proxy",
            json!({"id_number": id, "name": name, "relation": "parent"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("proxy_limit")),
        "{v}"
    );
    let (s, v) = app
        .post(
            &guardian,
            "/api/v1/claim/proxy",
            json!({"id_number": id, "name": "不是他", "relation": "parent"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("proxy_no_match")),
        "{v}"
    );
    // The guardian sees a dependant's code and lists them.
    let (s, _) = app.get(&guardian, "/api/v1/people/P1/code").await;
    assert_eq!(s, 200);
    let (s, list) = app.get(&guardian, "/api/v1/claim/dependants").await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), grants.len());
    // An admin revokes one hold: the guardian no longer sees that code, and has room again.
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/proxies/{}/revoke", grants[0]),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = app.get(&guardian, "/api/v1/people/P1/code").await;
    assert_eq!(s, 403);
    let (s, v) = app
        .post(
            &guardian,
            "/api/v1/claim/proxy",
            json!({"id_number": id, "name": name, "relation": "parent"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // Only a resident with their own code may act as a guardian.
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/claim/proxy",
            json!({"id_number": id, "name": name, "relation": "parent"}),
        )
        .await;
    assert_eq!(s, 403);
}

async fn scan(app: &TestApp, device: &str, place: &str, token: &str) -> (u16, Value) {
    app.post(
        device,
        "/api/v1/scans",
        json!({"place_code": place, "token": token}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printed_card_scans_online_to_today_s_colour_and_a_revoked_card_is_refused() {
    let (app, _outbox, _dir) = app_with_outbox(300).await;
    let device = app.device().await;
    let place = app.plain_venue();
    let (s, card) = app
        .post(&app.admin, "/api/v1/people/P9/card", json!({}))
        .await;
    assert_eq!(s, 201, "{card}");
    let token = card["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with(xikang_code::CARD_PREFIX));
    // The card says no colour: an offline verifier refuses it as a code.
    let trust: xikang_code::TrustList =
        serde_json::from_str(&app.state.keys(xikang_server::now()).trust_json).unwrap();
    let offline = trust.verify(&token, None, xikang_server::now());
    assert_eq!(offline.unwrap_err().code(), "token_is_card");
    // Green today: the scan says green.
    let (s, v) = scan(&app, &device, &place, &token).await;
    assert_eq!((s, v["colour"].as_str()), (200, Some("green")), "{v}");
    // The person becomes a case: the same card now scans red.
    let onset = xikang_server::now().plus(-86_400).to_rfc3339();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": "P9", "kind": "confirmed", "onset": onset}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = scan(&app, &device, &place, &token).await;
    assert_eq!(
        (s, v["colour"].as_str(), v["decision"].as_str()),
        (200, Some("red"), Some("deny")),
        "{v}"
    );
    // Revoked: refused with a stable code, never a colour; the revocation is logged.
    let events = app.events();
    let id = card["card"].as_str().unwrap();
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/cards/{id}/revoke"),
            json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["revoked_at"].is_string());
    assert_eq!(app.events(), events + 1);
    let (s, v) = scan(&app, &device, &place, &token).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("card_revoked")),
        "{v}"
    );
    assert!(v.get("colour").is_none());
    // A tampered card is refused too.
    let mut bad = token.clone().into_bytes();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    let (s, v) = scan(&app, &device, &place, std::str::from_utf8(&bad).unwrap()).await;
    assert_eq!(s, 400, "{v}");
    assert!(v.get("colour").is_none());
    // Only admins and grid workers issue cards; a resident may not issue one.
    let resident = app
        .token(json!({"name": "r", "role": "resident", "area": "320200", "person": "P9"}))
        .await;
    let (s, _) = app
        .post(&resident, "/api/v1/people/P9/card", json!({}))
        .await;
    assert_eq!(s, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_s_png_is_a_qr_that_zbarimg_reads_back() {
    let (app, _outbox, _dir) = app_with_outbox(300).await;
    let (s, card) = app
        .post(&app.admin, "/api/v1/people/P3/card", json!({}))
        .await;
    assert_eq!(s, 201, "{card}");
    let r = app
        .conn()
        .await
        .get(card["png"].as_str().unwrap(), Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
    let Ok(which) = std::process::Command::new("sh")
        .args(["-c", "command -v zbarimg"])
        .output()
    else {
        return;
    };
    if !which.status.success() {
        assert!(
            std::env::var("XIKANG_REQUIRE_ZBAR").is_err(),
            "zbarimg is required here but not installed"
        );
        eprintln!("zbarimg not installed: the card's QR read-back skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("card.png");
    std::fs::write(&f, &r.body).unwrap();
    let out = std::process::Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "zbarimg failed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        card["token"].as_str().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claim_page_takes_a_resident_from_their_details_to_their_own_code_page() {
    use common::web::{Browser, attr};
    let (app, outbox, _dir) = app_with_outbox(300).await;
    let (person, id, name, phone) = resident_with_phone(&app, 5);
    let mut b = Browser::new(&app);
    // The short address leads to the form.
    let r = b.get("/claim").await;
    assert_eq!(r.header("location"), Some("/web/claim"));
    let page = b.get("/web/claim").await;
    assert_eq!(page.status, 200);
    let csrf = attr(&page.text(), "name=\"csrf\" value=\"").unwrap();
    // Without the form's cookie the post is refused (CSRF).
    let mut stranger = Browser::new(&app);
    let r = stranger
        .post(
            "/web/claim/start",
            &[
                ("csrf", &csrf),
                ("id_number", &id),
                ("name", &name),
                ("phone", &phone),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = b
        .post(
            "/web/claim/start",
            &[
                ("csrf", &csrf),
                ("id_number", &id),
                ("name", &name),
                ("phone", &phone),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let claim_id = attr(&r.text(), "name=\"claim_id\" value=\"").unwrap();
    assert!(!r.text().contains(&phone) && !r.text().contains(&name));
    let code = code_for(&outbox, &phone, 0).await;
    // A wrong code keeps the code form, with the error in words.
    let r = b
        .post(
            "/web/claim/finish",
            &[
                ("csrf", &csrf),
                ("claim_id", &claim_id),
                ("code", &other_code(&code)),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("name=\"claim_id\""));
    let r = b
        .post(
            "/web/claim/finish",
            &[("csrf", &csrf), ("claim_id", &claim_id), ("code", &code)],
        )
        .await;
    assert_eq!(r.header("location"), Some("/web/me"), "{}", r.text());
    assert!(b.cookies.contains_key("xk_session"));
    let me = b.get("/web/me").await;
    assert_eq!(me.status, 200);
    assert!(me.text().contains("data-colour=\"green\""), "{}", me.text());
    // Their own page, nobody else's.
    let other = if person == "P0" { "P1" } else { "P0" };
    let r = b.get(&format!("/web/people/{other}")).await;
    assert_eq!(r.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_worker_prints_a_card_page_with_a_qr_and_no_colour() {
    use common::web::Browser;
    let (app, _outbox, _dir) = app_with_outbox(300).await;
    let area = app
        .state
        .projection
        .person_area(PersonId(4))
        .unwrap()
        .to_string();
    let worker = app.role_token("gw-card", "grid_worker", &area).await;
    let (s, card) = app.post(&worker, "/api/v1/people/P4/card", json!({})).await;
    assert_eq!(s, 201, "{card}");
    let mut b = Browser::signed_in(&app, "gw-card", "grid_worker", &area).await;
    let page = b.get(card["page"].as_str().unwrap()).await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("<svg"), "a QR on the page");
    assert!(!text.contains("data-colour"), "a card shows no colour");
    let full = app.store.person(PersonId(4)).unwrap().unwrap().name;
    assert!(!text.contains(&full), "the holder's name is masked");
}
