//! The web pages over real HTTP: login and sessions, CSRF, roles and jurisdictions, masking
//! and its audit trail, the tracer's workflow through forms, the venue scan page, the
//! bulletin and the dashboard. Each test starts the real server on port 0.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

mod common;

use common::web::{Browser, PW, add_user, attr};
use common::{PEOPLE, spawn_app};
use xikang_domain::event::EventBody;
use xikang_domain::{PersonId, Timestamp};

fn shanghai_local(t: Timestamp) -> String {
    let s = Timestamp(t.0 + 8 * 3600).to_rfc3339();
    s[..16].to_owned()
}

#[tokio::test]
async fn a_user_logs_in_with_the_right_password_only_into_an_httponly_strict_session() {
    let app = spawn_app().await;
    add_user(&app, "wang", "tracer", "320200", None, None);
    let mut b = Browser::new(&app);
    let bad = b.login("wang", "wrong-password!").await;
    assert_eq!(bad.status, 401, "{}", bad.text());
    assert!(
        bad.text().contains("用户名或密码错误"),
        "error shown in Chinese"
    );
    assert!(
        bad.text().contains("value=\"wang\""),
        "the typed name is kept"
    );
    assert!(!b.cookies.contains_key("xk_session"));

    let ok = b.login("wang", PW).await;
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert_eq!(
        ok.header("location"),
        Some("/web/cases"),
        "a tracer starts at tracing"
    );
    let set = ok
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("xk_session="))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    // Only the digest is stored: the cookie value itself is not a key in the store.
    let value = b.cookies["xk_session"].clone();
    let now = xikang_server::now();
    assert!(app.store.session(&[0; 32], now).unwrap().is_none());
    let digest: [u8; 32] = xikang_server::auth::token_digest(&value);
    assert_eq!(
        app.store.session(&digest, now).unwrap().unwrap().user,
        "wang"
    );
    let page = b.get("/web/cases").await;
    assert_eq!(page.status, 200);
}

#[tokio::test]
async fn repeated_wrong_passwords_throttle_that_name_but_not_others() {
    let app = spawn_app().await;
    add_user(&app, "wang", "tracer", "320200", None, None);
    add_user(&app, "li", "tracer", "320200", None, None);
    let mut b = Browser::new(&app);
    for _ in 0..5 {
        assert_eq!(b.login("wang", "not-the-password").await.status, 401);
    }
    // Now even the right password is refused for this name, without a session.
    let r = b.login("wang", PW).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("登录失败次数过多"));
    assert!(!b.cookies.contains_key("xk_session"));
    assert_eq!(Browser::new(&app).login("li", PW).await.status, 303);
}

#[tokio::test]
async fn one_address_failing_with_many_names_is_throttled_but_others_are_not() {
    let app = spawn_app().await;
    add_user(&app, "wang", "tracer", "320200", None, None);
    let mut b = Browser::new(&app);
    // Four failures for each of five names: no name reaches its own limit of 5.
    for n in 0..xikang_server::web::session::MAX_ADDRESS_FAILURES {
        let r = b
            .login(&format!("guess{}", n % 5), "not-the-password")
            .await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    // Now this address is refused even for a real user with the right password.
    let r = b.login("wang", PW).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("此地址登录失败次数过多"), "{}", r.text());
    assert!(!b.cookies.contains_key("xk_session"));
    // Plain HTTP: no `Secure` attribute (the browser would drop the cookie).
    assert!(!r.header("set-cookie").unwrap().contains("Secure"));
}

#[tokio::test]
async fn behind_tls_cookies_are_secure_and_the_proxys_address_entry_is_the_clients() {
    let app = common::spawn_app_with(xikang_server::ServerConfig {
        behind_tls: true,
        ..xikang_server::ServerConfig::default()
    })
    .await;
    add_user(&app, "wang", "tracer", "320200", None, None);
    let mut b = Browser::new(&app);
    // The client forges a first entry; the proxy appends the real address last.
    b.extra = vec![("x-forwarded-for", "10.9.9.9, 203.0.113.7".into())];
    let page = b.get("/web/login").await;
    assert!(
        page.header("set-cookie").unwrap().contains("; Secure"),
        "pre-login cookie"
    );
    for n in 0..xikang_server::web::session::MAX_ADDRESS_FAILURES {
        b.extra = vec![("x-forwarded-for", format!("10.0.0.{n}, 203.0.113.7"))];
        assert_eq!(
            b.login(&format!("guess{}", n % 5), "wrong-password")
                .await
                .status,
            401
        );
    }
    assert_eq!(b.login("wang", PW).await.status, 429);
    // Another client behind the same proxy logs in, with a `Secure` session cookie.
    let mut other = Browser::new(&app);
    other.extra = vec![("x-forwarded-for", "203.0.113.8".into())];
    let r = other.login("wang", PW).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let session = r
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("xk_session="))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(
        session.contains("; Secure") && session.contains("HttpOnly"),
        "{session}"
    );
}

#[tokio::test]
async fn an_admin_compares_two_policy_versions_line_by_line() {
    let app = spawn_app_with_active_policy().await;
    add_user(&app, "boss", "admin", "320200", None, None);
    add_user(&app, "wang", "tracer", "320200", None, None);
    let mut b = Browser::new(&app);
    b.login("boss", PW).await;
    let list = b.get("/web/admin/policy").await.text();
    assert!(list.contains("href=\"/web/admin/policy/diff\""), "{list}");
    // Default: the other shipped edition (二十条) against the active file (the default).
    let r = b.get("/web/admin/policy/diff").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(
        html.contains("（当前）"),
        "the active file is marked: {html}"
    );
    let added: u32 = attr(&html, "data-added=\"").unwrap().parse().unwrap();
    let removed: u32 = attr(&html, "data-removed=\"").unwrap().parse().unwrap();
    assert!(added > 0 && removed > 0, "{html}");
    assert!(
        html.contains(
            "aria-label=\"删除\">−</td><td><code>close_contact_quarantine_days = 5</code>"
        ),
        "{html}"
    );
    assert!(
        html.contains(
            "aria-label=\"新增\">+</td><td><code>close_contact_quarantine_days = 7</code>"
        ),
        "{html}"
    );
    assert!(
        html.contains("省略"),
        "far unchanged lines are folded: {html}"
    );
    // The same version on both sides: nothing added or removed.
    let sha = xikang_server::state::policy_sha256(xikang_domain::policy::ERSHITIAO_POLICY_TOML);
    let same = b
        .get(&format!("/web/admin/policy/diff?from={sha}&to={sha}"))
        .await
        .text();
    assert!(
        same.contains("data-added=\"0\" data-removed=\"0\""),
        "{same}"
    );
    // A version whose text the server lacks: 400, said next to that field, input kept.
    let r = b
        .get(&format!("/web/admin/policy/diff?from=abc%3Cb%3E&to={sha}"))
        .await;
    assert_eq!(r.status, 400);
    let html = r.text();
    assert!(html.contains("id=\"from-err\""), "{html}");
    assert!(
        html.contains("<select id=\"from\" name=\"from\" aria-invalid=\"true\""),
        "{html}"
    );
    assert!(html.contains("<code>abc&lt;b&gt;</code>"), "{html}");
    assert!(!html.contains("id=\"to-err\""), "{html}");
    // Only admins.
    let mut t = Browser::new(&app);
    t.login("wang", PW).await;
    assert_eq!(t.get("/web/admin/policy/diff").await.status, 403);
}

/// A server that knows its active policy file's text (the default policy's); a text that
/// is not the policy in force is ignored.
async fn spawn_app_with_active_policy() -> common::TestApp {
    let app = common::spawn_app_with(xikang_server::ServerConfig {
        policy_text: Some(xikang_domain::policy::DEFAULT_POLICY_TOML.into()),
        ..xikang_server::ServerConfig::default()
    })
    .await;
    assert!(app.state.config.policy_text.is_some());
    let other = common::spawn_app_with(xikang_server::ServerConfig {
        policy_text: Some(xikang_domain::policy::ERSHITIAO_POLICY_TOML.into()),
        ..xikang_server::ServerConfig::default()
    })
    .await;
    assert!(
        other.state.config.policy_text.is_none(),
        "not the policy in force"
    );
    app
}

#[tokio::test]
async fn pages_send_strangers_to_login_and_logout_ends_the_session() {
    let app = spawn_app().await;
    add_user(&app, "wang", "tracer", "320200", None, None);
    let mut b = Browser::new(&app);
    let r = b.get("/web/cases").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/web/login?next=/web/cases"));
    b.login("wang", PW).await;
    let old = b.cookies["xk_session"].clone();
    let csrf = b.csrf("/web/cases").await;
    let out = b.post("/web/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(!b.cookies.contains_key("xk_session"));
    // The old cookie no longer works even if replayed.
    b.cookies.insert("xk_session".into(), old);
    assert_eq!(b.get("/web/cases").await.status, 303);
}

#[tokio::test]
async fn a_disabled_user_can_neither_log_in_nor_keep_a_session() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "wang", "tracer", "320200").await;
    assert_eq!(b.get("/web/cases").await.status, 200);
    app.store.set_user_disabled("wang", true).unwrap();
    assert_eq!(b.get("/web/cases").await.status, 303);
    assert_eq!(Browser::new(&app).login("wang", PW).await.status, 401);
}

#[tokio::test]
async fn a_form_without_the_sessions_csrf_token_changes_nothing() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "wang", "tracer", "320200").await;
    let before = app.head();
    let onset = shanghai_local(xikang_server::now().plus(-2 * 86_400));
    for csrf in ["", "0123456789abcdef0123456789abcdef"] {
        let r = b
            .post(
                "/web/cases",
                &[
                    ("csrf", csrf),
                    ("person", "P5"),
                    ("kind", "confirmed"),
                    ("onset", &onset),
                ],
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("页面已过期"), "{}", r.text());
    }
    assert_eq!(app.head(), before, "nothing was recorded");
    // The login form refuses a post without its own cookie too.
    let r = Browser::new(&app)
        .post(
            "/web/login",
            &[("csrf", "x"), ("name", "wang"), ("password", PW)],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        !r.headers
            .iter()
            .any(|(k, v)| k == "set-cookie" && v.starts_with("xk_session="))
    );
}

#[tokio::test]
async fn a_bad_case_form_shows_the_error_next_to_its_field_and_keeps_the_input() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "wang", "tracer", "320200").await;
    let csrf = b.csrf("/web/cases").await;
    let before = app.head();
    let r = b
        .post(
            "/web/cases",
            &[
                ("csrf", &csrf),
                ("person", "Q12<script>"),
                ("kind", "confirmed"),
                ("onset", "2022-07-01T08:00"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let html = r.text();
    assert!(
        html.contains("id=\"person-error\">人员编号格式错误"),
        "{html}"
    );
    assert!(
        html.contains("value=\"Q12&lt;script&gt;\""),
        "kept and escaped: {html}"
    );
    assert!(html.contains("value=\"2022-07-01T08:00\""));
    let r = b
        .post(
            "/web/cases",
            &[
                ("csrf", &csrf),
                ("person", "P5"),
                ("kind", "confirmed"),
                ("onset", "tomorrow"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("id=\"onset-error\">时间格式错误"));
    let r = b
        .post(
            "/web/cases?lang=en",
            &[("csrf", &csrf), ("person", "P5"), ("kind", "confirmed")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("id=\"onset-error\">give the onset"),
        "{}",
        r.text()
    );
    assert_eq!(app.head(), before);
}

/// Registers confirmed cases for P1, P2, … on the cases page until one has candidate
/// contacts: that case's page address, its page and its first candidate.
async fn register_a_case_with_contacts(
    b: &mut Browser<'_>,
    csrf: &str,
) -> (String, String, String) {
    let onset = shanghai_local(xikang_server::now().plus(-86_400));
    for p in 1..60 {
        let person = format!("P{p}");
        let r = b
            .post(
                "/web/cases",
                &[
                    ("csrf", csrf),
                    ("person", &person),
                    ("kind", "confirmed"),
                    ("onset", &onset),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.text());
        let loc = r.header("location").unwrap().to_owned();
        let page = b.get(&loc).await.text();
        if let Some(row) = page.find("data-status=\"Candidate\"") {
            // The row's `data-person` attribute precedes its status.
            let start = page[..row].rfind("data-person=\"").unwrap();
            let contact = attr(&page[start..], "data-person=\"").unwrap();
            return (loc, page, contact);
        }
    }
    panic!("no case in the city has contacts");
}

#[tokio::test]
async fn a_tracer_registers_a_case_confirms_a_contact_and_the_contact_turns_red() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "wang", "tracer", "320200").await;
    let csrf = b.csrf("/web/cases").await;
    let (loc, page, contact) = register_a_case_with_contacts(&mut b, &csrf).await;
    // The case page says where the case's course stands (a case reported confirmed).
    assert!(
        page.contains("id=\"case-course\" data-stage=\"confirmed\">在治"),
        "{page}"
    );
    // Under one page of 500, every contact counted is listed once.
    let count: usize = attr(&page, "data-count=\"").unwrap().parse().unwrap();
    assert!(count < 500);
    assert_eq!(page.matches("<tr data-person=").count(), count);
    let before = app.head();
    let r = b
        .post(
            &format!("{loc}/contacts/{contact}"),
            &[("csrf", &csrf), ("action", "confirm")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let new = app.events_after(before);
    assert!(
        new.iter().any(|e| matches!(e, EventBody::ContactDesignated { person, .. } if person.to_string() == contact)),
        "{new:?}"
    );
    let person_page = b.get(&format!("/web/people/{contact}")).await.text();
    assert!(person_page.contains("data-colour=\"red\""), "{person_page}");
    // Confirming twice is a conflict shown on the case page; nothing more is recorded.
    let seq = app.head();
    let again = b
        .post(
            &format!("{loc}/contacts/{contact}"),
            &[("csrf", &csrf), ("action", "confirm")],
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(again.text().contains("当前状态下不能进行此操作"));
    assert_eq!(app.head(), seq);
    // Dismissing needs a reason.
    let r = b
        .post(
            &format!("{loc}/contacts/{contact}"),
            &[("csrf", &csrf), ("action", "dismiss"), ("reason", " ")],
        )
        .await;
    assert_eq!(r.status, 400);
    // The export link works from the browser session and is logged.
    let csv = b.get(&format!("{loc}/export?format=csv")).await;
    assert_eq!(csv.status, 200);
    assert!(app.events_after(seq).iter().any(|e| matches!(
        e,
        EventBody::ContactListExported {
            unmasked: false,
            ..
        }
    )));
}

#[tokio::test]
async fn a_tracer_dismisses_ticked_contacts_together_and_a_bulk_without_a_reason_changes_nothing() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "wang", "tracer", "320200").await;
    let csrf = b.csrf("/web/cases").await;
    let (loc, page, contact) = register_a_case_with_contacts(&mut b, &csrf).await;
    // Each action is named with its person.
    assert!(
        page.contains(&format!("aria-label=\"确认 {contact}\"")),
        "{page}"
    );
    let candidates: Vec<String> = page
        .split("<tr data-person=\"")
        .skip(1)
        .filter(|r| r.contains("data-status=\"Candidate\""))
        .map(|r| r[..r.find('"').unwrap()].to_owned())
        .take(2)
        .collect();
    let picked: Vec<(&str, &str)> = candidates.iter().map(|p| ("person", p.as_str())).collect();
    let bulk = format!("{loc}/contacts");
    // No reason, no selection, an unknown action: refused, nothing recorded.
    let before = app.head();
    for form in [
        [
            &[
                ("csrf", csrf.as_str()),
                ("action", "dismiss"),
                ("reason", " "),
            ][..],
            &picked,
        ]
        .concat(),
        vec![
            ("csrf", csrf.as_str()),
            ("action", "dismiss"),
            ("reason", "x"),
        ],
        [
            &[("csrf", csrf.as_str()), ("action", "quarantine")][..],
            &picked,
        ]
        .concat(),
    ] {
        let r = b.post(&bulk, &form).await;
        assert_eq!(r.status, 422, "{}", r.text());
    }
    assert_eq!(app.head(), before);
    // With a reason, every ticked contact is dismissed, one event each.
    let form = [
        &[
            ("csrf", csrf.as_str()),
            ("action", "dismiss"),
            ("reason", "不在同一楼层"),
        ][..],
        &picked,
    ]
    .concat();
    let r = b.post(&bulk, &form).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text()
            .contains(&format!("已排除 {} 人", candidates.len())),
        "{}",
        r.text()
    );
    assert_eq!(app.events_after(before).len(), candidates.len());
    // The status filter lists them as dismissed and no longer as candidates.
    let dismissed = b.get(&format!("{loc}?status=dismissed")).await.text();
    let waiting = b.get(&format!("{loc}?status=candidate")).await.text();
    for p in &candidates {
        let row = format!("<tr data-person=\"{p}\" data-status=");
        assert!(
            dismissed.contains(&format!("{row}\"Dismissed\"")),
            "{dismissed}"
        );
        assert!(!waiting.contains(&row), "{waiting}");
    }
}

#[tokio::test]
async fn staff_see_only_their_jurisdiction_and_a_resident_only_themselves() {
    let app = spawn_app().await;
    let area = app.state.projection.person_area(PersonId(1)).unwrap();
    let other = (1..common::PEOPLE)
        .map(PersonId)
        .find(|p| {
            app.state
                .projection
                .person_area(*p)
                .is_some_and(|a| a.district() != area.district())
        })
        .unwrap();
    add_user(
        &app,
        "local",
        "tracer",
        &area.district().to_string(),
        None,
        None,
    );
    add_user(&app, "me", "resident", &area.to_string(), None, Some(1));
    let mut t = Browser::new(&app);
    t.login("local", PW).await;
    assert_eq!(t.get("/web/people/P1").await.status, 200);
    let far = t.get(&format!("/web/people/{other}")).await;
    assert_eq!(far.status, 403, "{}", far.text());
    assert!(far.text().contains("无权操作"));
    assert_eq!(t.get("/web/admin/users").await.status, 403);

    let mut r = Browser::new(&app);
    let login = r.login("me", PW).await;
    assert_eq!(login.header("location"), Some("/web/me"));
    let mine = r.get("/web/me").await;
    assert_eq!(mine.status, 200);
    assert!(mine.text().contains("<svg"), "the code as a QR");
    assert!(mine.text().contains("如何转绿"));
    assert_eq!(r.get("/web/people/P2").await.status, 403);
    assert_eq!(r.get("/web/cases").await.status, 403);
    assert_eq!(r.get("/web/dashboard").await.status, 403);
}

#[tokio::test]
async fn personal_data_is_masked_until_a_tracer_unmasks_it_with_a_purpose_which_is_logged() {
    let app = spawn_app().await;
    add_user(&app, "wang", "tracer", "320200", None, None);
    let person = app.store.person(PersonId(3)).unwrap().unwrap();
    let mut b = Browser::new(&app);
    b.login("wang", PW).await;
    let page = b.get("/web/people/P3").await.text();
    assert!(!page.contains(&person.name), "name shown masked");
    assert!(!page.contains(person.id_number.expose()));
    assert!(page.contains(&person.id_number.masked()));
    let csrf = attr(&page, "name=\"csrf\" value=\"").unwrap();
    let before = app.head();
    let r = b
        .post("/web/people/P3/unmask", &[("csrf", &csrf), ("purpose", "")])
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("id=\"purpose-error\""), "{}", r.text());
    assert_eq!(app.head(), before, "a refused unmask is not logged");
    let r = b
        .post(
            "/web/people/P3/unmask",
            &[("csrf", &csrf), ("purpose", "phoning a close contact")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(&person.name));
    let new = app.events_after(before);
    assert!(
        new.iter().any(|e| matches!(e, EventBody::PersonalDataRead { person: p, purpose } if *p == PersonId(3) && purpose == "phoning a close contact")),
        "{new:?}"
    );
    // A grid worker may see the person but not unmask.
    let mut g = Browser::signed_in(&app, "grid", "grid_worker", "320200").await;
    let page = g.get("/web/people/P3").await.text();
    assert!(!page.contains("/unmask"));
    let csrf = attr(&page, "name=\"csrf\" value=\"").unwrap();
    let r = g
        .post(
            "/web/people/P3/unmask",
            &[("csrf", &csrf), ("purpose", "curious")],
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn the_venue_page_denies_a_red_code_and_allows_a_green_one() {
    let app = spawn_app().await;
    let place = app.plain_venue();
    let venue = app
        .state
        .projection
        .venues
        .list
        .iter()
        .find(|v| v.place_code.as_str() == place)
        .unwrap()
        .id;
    add_user(&app, "door", "venue_device", "320200", Some(venue.0), None);
    let green = app.code_token("P2").await;
    let mut b = Browser::new(&app);
    let login = b.login("door", PW).await;
    assert_eq!(login.header("location"), Some("/web/venue"));
    let csrf = b.csrf("/web/venue").await;
    let r = b
        .post("/web/venue", &[("csrf", &csrf), ("code", &green)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("data-decision=\"allow\""), "{}", r.text());
    // Make P2 red: a confirmed case.
    let conn_body = serde_json::json!({"person": "P2", "kind": "confirmed", "onset": xikang_server::now().plus(-3600).to_rfc3339()});
    let made = app
        .conn()
        .await
        .post_json("/api/v1/cases", Some(&app.admin), &conn_body)
        .await
        .unwrap();
    assert_eq!(made.status, 201, "{}", made.text());
    let red = app.code_token("P2").await;
    let r = b
        .post("/web/venue", &[("csrf", &csrf), ("code", &red)])
        .await;
    assert!(r.text().contains("data-decision=\"deny\""), "{}", r.text());
    assert!(r.text().contains("禁止进入"));
    let r = b
        .post("/web/venue", &[("csrf", &csrf), ("code", "XK1:garbage")])
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("data-decision=\"error\""));
    // The poster of the device's venue prints its place code.
    let poster = b.get(&format!("/web/venues/{venue}/poster")).await;
    assert_eq!(poster.status, 200);
    assert!(poster.text().contains(&place));
}

#[tokio::test]
async fn the_bulletin_counts_what_the_log_holds_in_html_text_and_json() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "wang", "tracer", "320200").await;
    let zero = b.get("/web/bulletin?format=json").await.json();
    assert_eq!(zero["cumulative_confirmed"], 0);
    let onset = xikang_server::now().plus(-3600).to_rfc3339();
    for (p, kind) in [
        ("P2", "confirmed"),
        ("P3", "confirmed"),
        ("P4", "asymptomatic"),
    ] {
        let body =
            serde_json::json!({"person": p, "kind": kind, "onset": onset, "sampled_at": onset});
        let r = app
            .conn()
            .await
            .post_json("/api/v1/cases", Some(&app.admin), &body)
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let j = b.get("/web/bulletin?format=json").await.json();
    assert_eq!(j["new_confirmed"]["local"], 2, "{j}");
    assert_eq!(j["new_asymptomatic"]["local"], 1);
    assert_eq!(j["cumulative_confirmed"], 2);
    assert_eq!(j["under_treatment"], 3);
    let txt = b.get("/web/bulletin?format=txt").await.text();
    assert!(
        txt.contains("全市新增本土确诊病例2例、本土无症状感染者1例"),
        "{txt}"
    );
    assert!(
        txt.contains("2 new local confirmed cases, 1 new local asymptomatic infection,"),
        "{txt}"
    );
    let html = b.get("/web/bulletin").await.text();
    assert!(html.contains("id=\"cumulative-confirmed\">2<"), "{html}");
    // Yesterday had none of them.
    let yesterday = xikang_server::now().plus(-86_400).shanghai_day().compact();
    let y = format!(
        "{}-{}-{}",
        &yesterday[..4],
        &yesterday[4..6],
        &yesterday[6..]
    );
    let j = b
        .get(&format!("/web/bulletin?format=json&day={y}"))
        .await
        .json();
    assert_eq!(j["cumulative_confirmed"], 0, "{j}");
    assert_eq!(b.get("/web/bulletin?day=2022-13-40").await.status, 400);
    assert_eq!(b.get("/web/bulletin?day=2999-01-01").await.status, 400);
}

#[tokio::test]
async fn the_dashboard_draws_svg_charts_and_serves_cached_figures() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "boss", "admin", "320200").await;
    let page = b.get("/web/dashboard").await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 3, "{html}");
    assert!(html.contains("data-refresh=\"/web/dashboard/live?lang=zh\""));
    let a = b.get("/web/dashboard/data.json").await.json();
    assert_eq!(a["residents"], u64::from(common::PEOPLE));
    assert_eq!(
        a["green"].as_u64().unwrap() + a["yellow"].as_u64().unwrap() + a["red"].as_u64().unwrap(),
        u64::from(common::PEOPLE)
    );
    assert_eq!(a["days"].as_array().unwrap().len(), 14);
    // A scan day of the generated city shows in the scans series.
    assert!(
        a["scans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_u64().unwrap() > 0),
        "{a}"
    );
    let again = b.get("/web/dashboard/data.json").await.json();
    assert_eq!(
        a["computed_at"], again["computed_at"],
        "served from the cache"
    );
    let live = b.get("/web/dashboard/live").await;
    assert!(live.text().starts_with("<div class=\"cards\">"));
}

#[tokio::test]
async fn the_dashboard_maps_zones_and_recent_cases_and_ranks_districts_by_tracing_speed() {
    let app = spawn_app().await;
    let sealed_cell = xikang_server::state::read(&app.state.projection.people)[7].home_cell;
    let (s, v) = app
        .draw_zone(
            serde_json::json!({"name": "封控区一", "level": "sealed", "cells": [sealed_cell.0]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let mut b = Browser::signed_in(&app, "chief", "tracer", "320200").await;
    let csrf = b.csrf("/web/cases").await;
    let (loc, _, contact) = register_a_case_with_contacts(&mut b, &csrf).await;
    let r = b
        .post(
            &format!("{loc}/contacts/{contact}"),
            &[("csrf", &csrf), ("action", "confirm")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let case_id = loc.rsplit('/').next().unwrap().to_owned();
    let (cases, case_district) = {
        let cases = xikang_server::state::read(&app.state.projection.cases);
        let case = cases
            .values()
            .find(|c| c.id.to_string() == case_id)
            .unwrap();
        let area = app.state.projection.person_area(case.person).unwrap();
        (cases.len() as u64, area.as_str()[..6].to_owned())
    };

    let html = b.get("/web/dashboard").await.text();
    // The zone map: the sealed cell in the sealed class, the rest in no zone.
    let zones = &html[html.find("id=\"map-zones\"").expect("zone map")..];
    assert!(
        zones.contains("<path class=\"sealed\" data-cells=\"1\" fill=\"#b3261e\""),
        "{zones}"
    );
    assert!(zones.contains("封控区 / 高风险区 1 个网格"), "{zones}");
    assert!(html.contains("id=\"map-cases\""), "{html}");
    let a = b.get("/web/dashboard/data.json").await.json();
    assert_eq!(a["cells_by_zone_level"]["sealed"], 1, "{a}");
    let recent: u64 = a["recent_cases_by_district"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(recent, cases, "every registered case is on the case map");
    // District names come from the synthetic city.
    assert_eq!(a["district_names"]["320213"], "梁溪区", "{a}");
    let name = a["district_names"][&case_district]
        .as_str()
        .unwrap()
        .to_owned();
    // The case's district: one designated contact, not quarantined, waiting minutes.
    for page in [html, b.get("/web/ranking").await.text()] {
        let at = page
            .find(&format!("<tr data-district=\"{case_district}\""))
            .expect("the case's district is ranked");
        let row = &page[at..at + page[at..].find("</tr>").unwrap()];
        assert!(
            row.contains(&format!(
                "<th scope=\"row\">{name} <small>{case_district}</small>"
            )),
            "{row}"
        );
        let minutes: u64 = attr(row, "data-minutes=\"").unwrap().parse().unwrap();
        assert!(minutes < 30, "{row}");
        assert!(row.contains("<td>0 / 1</td>"), "{row}");
    }
    let ranked = a["ranking"].as_array().unwrap();
    let mine = ranked
        .iter()
        .find(|r| r["district"] == case_district.as_str())
        .unwrap();
    assert_eq!(
        (mine["contacts"].as_u64(), mine["quarantined"].as_u64()),
        (Some(1), Some(0))
    );
}

#[tokio::test]
async fn a_resident_appeals_an_official_answers_and_both_are_logged_without_changing_the_colour() {
    let app = spawn_app().await;
    add_user(&app, "res4", "resident", "320200", None, Some(4));
    add_user(&app, "wang", "tracer", "320200", None, None);
    add_user(&app, "gw", "grid_worker", "320200", None, None);
    let colour = app.colour("P4").await;
    let mut r = Browser::new(&app);
    r.login("res4", PW).await;
    let me = r.get("/web/me").await.text();
    assert!(
        me.contains("<form method=\"post\" action=\"/web/people/P4/appeal\">"),
        "{me}"
    );
    let csrf = attr(&me, "name=\"csrf\" value=\"").unwrap();
    // Blanks only: refused next to the field, what was typed kept, nothing logged.
    let before = app.head();
    let bad = r
        .post(
            "/web/people/P4/appeal",
            &[("csrf", &csrf), ("reason", "   ")],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("id=\"reason-err\""), "{}", bad.text());
    assert!(bad.text().contains("aria-describedby=\"reason-err\""));
    assert_eq!(app.head(), before);
    // Not for someone else.
    let other = r
        .post("/web/people/P5/appeal", &[("csrf", &csrf), ("reason", "x")])
        .await;
    assert_eq!(other.status, 403);
    let ok = r
        .post(
            "/web/people/P4/appeal",
            &[("csrf", &csrf), ("reason", "我那天不在<b>现场</b>")],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert_eq!(ok.header("location"), Some("/web/me"));
    let filed = app.events_after(before);
    let seq = match filed.as_slice() {
        [EventBody::AppealFiled { person, reason }] => {
            assert_eq!(
                (person.to_string().as_str(), reason.as_str()),
                ("P4", "我那天不在<b>现场</b>")
            );
            app.head()
        }
        other => panic!("{other:?}"),
    };
    let me = r.get("/web/me").await.text();
    assert!(me.contains("data-open=\"true\""), "{me}");
    assert!(
        me.contains("我那天不在&lt;b&gt;现场&lt;/b&gt;"),
        "escaped: {me}"
    );
    assert!(
        !me.contains("action=\"/web/people/P4/appeal\""),
        "one open appeal at a time"
    );
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/people/P4/appeals",
            serde_json::json!({"reason": "again"}),
        )
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("appeal_open")));

    // The tracer sees it open and answers; a blank answer is refused next to its field.
    let mut t = Browser::new(&app);
    t.login("wang", PW).await;
    let list = t.get("/web/appeals").await.text();
    assert!(list.contains("data-open=\"1\""), "{list}");
    let id = seq.to_string();
    let csrf = attr(&list, "name=\"csrf\" value=\"").unwrap();
    let bad = t
        .post(
            &format!("/web/appeals/{id}"),
            &[("csrf", &csrf), ("answer", " ")],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.text().contains(&format!("id=\"answer-{id}-err\"")),
        "{}",
        bad.text()
    );
    let before = app.head();
    let ok = t
        .post(
            &format!("/web/appeals/{id}"),
            &[("csrf", &csrf), ("answer", "已核实：P4 为密接，判定有效。")],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.text());
    assert!(matches!(
        app.events_after(before).as_slice(),
        [EventBody::AppealAnswered { appeal, .. }] if *appeal == seq
    ));
    let list = t.get("/web/appeals").await.text();
    assert!(list.contains("data-open=\"0\""), "{list}");
    let again = t
        .post(
            &format!("/web/appeals/{id}"),
            &[("csrf", &csrf), ("answer", "再答")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text());
    let me = r.get("/web/me").await.text();
    assert!(me.contains("已核实：P4 为密接，判定有效。"), "{me}");
    // The colour is what the facts say, before and after.
    assert_eq!(app.colour("P4").await, colour);
    // Grid workers file for residents but do not answer.
    let mut g = Browser::new(&app);
    g.login("gw", PW).await;
    assert_eq!(g.get("/web/appeals").await.status, 403);
}

#[tokio::test]
async fn english_is_chosen_by_query_cookie_or_accept_language() {
    let app = spawn_app().await;
    let mut b = Browser::new(&app);
    let zh = b.get("/web/login").await.text();
    assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("用户名"));
    let en = b.get("/web/login?lang=en").await.text();
    assert!(en.contains("<html lang=\"en\">") && en.contains("User name"));
    // A browser set to English gets English until a choice is made.
    b.extra
        .push(("accept-language", "en-GB,en;q=0.9,zh-CN;q=0.5".into()));
    assert!(b.get("/web/login").await.text().contains("User name"));
    let r = b.get("/web/lang/zh?next=/web/login").await;
    assert_eq!(r.header("location"), Some("/web/login"));
    assert!(
        b.get("/web/login").await.text().contains("用户名"),
        "the cookie wins"
    );
    let r = b.get("/web/lang/en?next=/web/login").await;
    assert_eq!(r.header("location"), Some("/web/login"));
    assert!(b.get("/web/login").await.text().contains("User name"));
    // No open redirect.
    let r = b.get("/web/lang/zh?next=https://evil.example/").await;
    assert_eq!(r.header("location"), Some("/web"));
}

#[tokio::test]
async fn an_admin_creates_users_in_their_jurisdiction_with_strong_passwords() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "boss", "admin", "320213").await;
    let csrf = b.csrf("/web/admin/users").await;
    let r = b
        .post(
            "/web/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "li"),
                ("password", "short"),
                ("role", "tracer"),
                ("area", "320213"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("id=\"password-error\""));
    let r = b
        .post(
            "/web/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "li"),
                ("password", "long-enough-pw"),
                ("role", "tracer"),
                ("area", "320214"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "another district");
    assert!(app.store.user("li").unwrap().is_none());
    // Nor a resident user of this district standing for someone who lives in another.
    let outsider = (0..PEOPLE)
        .map(PersonId)
        .find(|p| {
            app.state
                .projection
                .person_area(*p)
                .is_some_and(|a| !a.as_str().starts_with("320213"))
        })
        .unwrap()
        .to_string();
    let r = b
        .post(
            "/web/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "li"),
                ("password", "long-enough-pw"),
                ("role", "resident"),
                ("area", "320213"),
                ("person", &outsider),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "a person of another district: {}", r.text());
    assert!(app.store.user("li").unwrap().is_none());
    let r = b
        .post(
            "/web/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "li"),
                ("password", "long-enough-pw"),
                ("role", "tracer"),
                ("area", "320213"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let li = app.store.user("li").unwrap().unwrap();
    assert!(li.password_hash.starts_with("$argon2id$"));
    assert!(!li.password_hash.contains("long-enough-pw"));
    let r = b
        .post(
            "/web/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "li"),
                ("password", "long-enough-pw"),
                ("role", "tracer"),
                ("area", "320213"),
            ],
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        Browser::new(&app)
            .login("li", "long-enough-pw")
            .await
            .status,
        303
    );
    let policy = b.get("/web/admin/policy").await.text();
    assert!(policy.contains("id=\"active-policy\""));
}

#[tokio::test]
async fn the_lab_uploads_a_results_file_and_sees_each_line_the_held_pool_and_stuck_tubes() {
    let app = spawn_app().await;
    let site = app.sampling_site().await;
    app.open_tube(&app.admin, "WX-POOL-1", &site, None, 10)
        .await;
    app.open_tube(&app.admin, "WX-NEG-1", &site, None, 10).await;
    app.open_tube(&app.admin, "WX-LATE-1", &site, None, 2).await;
    app.swab_all(&app.admin, "WX-POOL-1", &(1..=10).collect::<Vec<_>>())
        .await;
    app.swab_all(&app.admin, "WX-NEG-1", &[11]).await;
    app.swab_all(&app.admin, "WX-LATE-1", &[12]).await;
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/tubes/seal",
            serde_json::json!({"tubes": ["WX-NEG-1", "WX-LATE-1"]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    app.ship_and_receive(&app.admin, &["WX-POOL-1", "WX-NEG-1"])
        .await;
    add_user(&app, "lab1", "lab", "320200", None, None);
    add_user(&app, "grid1", "grid_worker", "320200", None, None);

    let mut b = Browser::new(&app);
    assert_eq!(
        b.login("lab1", PW).await.header("location"),
        Some("/web/lab")
    );
    let page = b.get("/web/lab").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("data-count=\"0\" id=\"holds-count\""));
    assert!(page.text().contains("data-into=\"csv\""), "the file picker");
    let csrf = attr(&page.text(), "name=\"csrf\" value=\"").unwrap();

    // A form without the session's token changes nothing.
    let before = app.head();
    let r = b
        .post(
            "/web/lab",
            &[("csrf", "nope"), ("csv", "WX-NEG-1,negative\n")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(app.head(), before);

    let csv = "barcode,outcome,ct,resulted_at\nWX-POOL-1,positive,31.2\nWX-NEG-1,阴性\nWX-GONE-9,negative\nWX-NEG-1,maybe\n";
    let r = b.post("/web/lab", &[("csrf", &csrf), ("csv", csv)]).await;
    let html = r.text();
    assert_eq!(r.status, 200, "{html}");
    assert!(
        html.contains("data-accepted=\"2\" data-refused=\"2\""),
        "{html}"
    );
    // Line numbers are the file's: the header is line 1.
    assert!(
        html.contains("data-holds=\"10\"><td>2</td><td>WX-POOL-1</td>"),
        "{html}"
    );
    assert!(
        html.contains("data-holds=\"0\"><td>3</td><td>WX-NEG-1</td>"),
        "{html}"
    );
    assert!(
        html.contains("data-code=\"unknown_tube\"><td>4</td>"),
        "{html}"
    );
    assert!(
        html.contains("data-code=\"invalid_outcome\"><td>5</td>"),
        "{html}"
    );
    // The ten members of the positive pool are held, listed and yellow; the negative is not.
    assert!(
        html.contains("data-count=\"10\" id=\"holds-count\""),
        "{html}"
    );
    assert!(html.contains("<a href=\"/web/people/P3\">P3</a>"), "{html}");
    assert!(!html.contains("<a href=\"/web/people/P11\">"), "{html}");
    assert_eq!(app.colour("P3").await, "yellow");
    assert_eq!(app.colour("P11").await, "green");

    // Every line refused: 422, the report says why and the text is kept for correcting.
    let before = app.head();
    let r = b
        .post(
            "/web/lab",
            &[("csrf", &csrf), ("csv", "WX-NEG-1,negative\n")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("data-code=\"already_resulted\""),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains(">WX-NEG-1,negative\n</textarea>"),
        "{}",
        r.text()
    );
    assert_eq!(app.head(), before);

    // Stuck tubes: WX-LATE-1 was sealed and never shipped; stuck at once with 0 hours,
    // not yet with the policy's hours.
    let now = b.get("/web/lab?transport_hours=0&lab_hours=0").await.text();
    assert!(now.contains("<td>WX-LATE-1</td>"), "{now}");
    assert!(!now.contains("<td>WX-POOL-1</td><td>"), "{now}");
    let later = b.get("/web/lab").await.text();
    assert!(
        later.contains("id=\"stuck-count\" data-count=\"0\""),
        "{later}"
    );

    // Other roles may not upload.
    let mut g = Browser::new(&app);
    g.login("grid1", PW).await;
    assert_eq!(g.get("/web/lab").await.status, 403);
}

#[tokio::test]
async fn a_grid_worker_sees_the_tasks_of_their_cells_and_marks_one_done_with_a_note() {
    use xikang_domain::GridCell;
    use xikang_domain::duties::TaskKind;
    use xikang_store::{DutyOp, NewTask};
    let app = spawn_app().await;
    let cells = app.store.grid_cells().unwrap();
    let (c1, c2) = (cells[0].cell, cells[1].cell);
    let now = xikang_server::now();
    let task = |cell: GridCell, due: Timestamp, detail: &str| NewTask {
        cell,
        kind: TaskKind::Delivery,
        person: None,
        household: None,
        detail: detail.into(),
        created_at: now,
        due_at: due,
        dedupe: None,
    };
    app.store
        .commit_duties(
            &[DutyOp::InsertTasks(vec![
                task(c1, now.plus(-3600), "送药 <b>3 号楼</b>"),
                task(c1, now.plus(3 * 86_400), "送菜"),
                task(c2, now.plus(-3600), "别人的任务"),
            ])],
            &[],
        )
        .unwrap();
    let mine = app.store.open_tasks_of_cells(&[c1], 10).unwrap();
    let other = app.store.open_tasks_of_cells(&[c2], 10).unwrap()[0].id;
    let first = mine[0].id.to_string();
    // The synthetic city names each cell's worker `gw{cell}`.
    let worker = format!("gw{}", c1.0);
    add_user(&app, &worker, "grid_worker", "320200", None, None);
    let mut b = Browser::new(&app);
    assert_eq!(
        b.login(&worker, PW).await.header("location"),
        Some("/web/grid")
    );
    let page = b.get("/web/grid").await.text();
    assert!(page.contains("data-open=\"2\""), "{page}");
    assert!(page.contains("data-overdue=\"1\""), "{page}");
    assert!(
        page.contains("送药 &lt;b&gt;3 号楼&lt;/b&gt;"),
        "escaped: {page}"
    );
    assert!(!page.contains("别人的任务"), "{page}");
    assert!(
        page.contains(&format!("<li class=\"task overdue\" id=\"task-{first}\">")),
        "{page}"
    );
    assert!(page.contains("width=device-width"), "phone viewport");
    let csrf = attr(&page, "name=\"csrf\" value=\"").unwrap();

    // No note: refused next to that task's field, nothing done.
    let r = b
        .post(
            &format!("/web/grid/tasks/{first}"),
            &[("csrf", &csrf), ("note", "  ")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains(&format!("id=\"note-{first}-err\"")),
        "{}",
        r.text()
    );
    assert!(r.text().contains("aria-invalid=\"true\""));
    // Another worker's task, or no CSRF token: refused.
    let r = b
        .post(
            &format!("/web/grid/tasks/{other}"),
            &[("csrf", &csrf), ("note", "done")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = b
        .post(
            &format!("/web/grid/tasks/{first}"),
            &[("csrf", "x"), ("note", "done")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        app.store.open_tasks_of_cells(&[c1, c2], 10).unwrap().len(),
        3
    );

    let r = b
        .post(
            &format!("/web/grid/tasks/{first}"),
            &[("csrf", &csrf), ("note", "已送到，本人签收")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let back = r.header("location").unwrap().to_owned();
    assert_eq!(back, format!("/web/grid?done={first}"));
    let page = b.get(&back).await.text();
    assert!(page.contains("id=\"done\""), "{page}");
    assert!(page.contains("data-open=\"1\""), "{page}");
    let done = app.store.task(mine[0].id).unwrap().unwrap();
    assert!(done.done_at.is_some());
    assert_eq!(done.note.as_deref(), Some("已送到，本人签收"));
    assert_eq!(done.done_by, Some(format!("grid_worker:{worker}")));
}

#[tokio::test]
async fn a_site_manager_sees_admissions_and_todays_tests_and_releases_only_when_the_plan_allows() {
    use xikang_domain::CivilDay;
    let app = spawn_app().await;
    let mut sites = Vec::new();
    for (name, manager) in [("锡山隔离点", "mgr1"), ("other", "mgr2")] {
        let (s, v) = app.post(&app.admin,
            "/api/v1/quarantine/sites",
            serde_json::json!({"name": name, "kind": "centralized", "area": "320213", "lat": 31.5,
                   "lon": 120.3, "capacity": 10, "manager": manager}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        sites.push(v["id"].as_str().unwrap().to_owned());
    }
    let s1 = &sites[0];
    let today = xikang_server::now().shanghai_day().0;
    let start = CivilDay(today - 8).start().plus(9 * 3600);
    // P3 came in eight days ago and every scheduled test was negative; P4 came in today.
    app.confirm_close_contact("P3").await;
    app.confirm_close_contact("P4").await;
    let (s, v) = app.post(&app.admin,
        "/api/v1/quarantine/orders",
        serde_json::json!({"person": "P3", "regime": "close_contact", "site": s1, "start": start.to_rfc3339()}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let o3 = v["id"].as_str().unwrap().to_owned();
    for d in [1, 2, 3, 5, 7] {
        let sampled = CivilDay(today - 8 + d - 1).start().plus(12 * 3600);
        let (s, v) = app
            .post(
                &app.admin,
                "/api/v1/test-results",
                serde_json::json!({"results": [{"person": "P3", "sampled_at": sampled.to_rfc3339(),
                "resulted_at": sampled.plus(6 * 3600).to_rfc3339(), "outcome": "negative",
                "tube": format!("T3-{d}")}]}),
            )
            .await;
        assert!(s == 200 || s == 201, "{s} {v}");
    }
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            serde_json::json!({"person": "P4", "regime": "close_contact", "site": s1}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let o4 = v["id"].as_str().unwrap().to_owned();
    add_user(&app, "mgr1", "site_manager", "320200", None, None);
    add_user(&app, "mgr2", "site_manager", "320200", None, None);

    let mut b = Browser::new(&app);
    assert_eq!(
        b.login("mgr1", PW).await.header("location"),
        Some("/web/site")
    );
    let page = b.get("/web/site").await.text();
    assert!(page.contains("锡山隔离点"), "{page}");
    assert!(
        page.contains("id=\"active-count\" data-count=\"2\""),
        "{page}"
    );
    assert!(page.contains(&format!("<tr id=\"order-{o3}\">")), "{page}");
    assert!(page.contains("id=\"occupancy\">2<"), "{page}");
    // Day 1 of P4's plan is today; P3's last test day (7) is past.
    assert!(page.contains("id=\"due-count\" data-count=\"1\""), "{page}");
    let due = &page[page.find("<ul id=\"due\">").unwrap()..];
    assert!(due[..due.find("</ul>").unwrap()].contains("P4"), "{page}");
    let csrf = attr(&page, "name=\"csrf\" value=\"").unwrap();

    // P4's plan has not run its course: refused next to the row, nothing written.
    let before = app.head();
    let r = b
        .post(
            &format!("/web/site/orders/{o4}/release"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.text().contains(&format!("id=\"release-{o4}-err\"")),
        "{}",
        r.text()
    );
    assert_eq!(app.head(), before);

    // P3: released, and listed among the releases.
    let r = b
        .post(
            &format!("/web/site/orders/{o3}/release"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let back = r.header("location").unwrap().to_owned();
    assert_eq!(
        back,
        format!("/web/site?released={o3}&outcome=released&site={s1}")
    );
    let page = b.get(&back).await.text();
    assert!(page.contains("data-outcome=\"released\""), "{page}");
    assert!(
        page.contains("id=\"active-count\" data-count=\"1\""),
        "{page}"
    );
    assert!(
        page.contains("id=\"ended-count\" data-count=\"1\""),
        "{page}"
    );
    assert!(
        app.events_after(before)
            .iter()
            .any(|e| matches!(e, EventBody::QuarantineEnded { .. })),
        "the release is an authority event"
    );

    // Another site's manager can neither open this site nor release its people.
    let mut other = Browser::new(&app);
    other.login("mgr2", PW).await;
    assert_eq!(other.get(&format!("/web/site?site={s1}")).await.status, 403);
    let csrf2 = other.csrf("/web/site").await;
    let r = other
        .post(
            &format!("/web/site/orders/{o4}/release"),
            &[("csrf", &csrf2)],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
}

#[tokio::test]
async fn a_sampler_binds_scanned_codes_to_a_tube_and_refused_codes_stay_to_be_rescanned() {
    let app = spawn_app().await;
    let site = app.sampling_site().await;
    app.open_tube(&app.admin, "WX-S-1", &site, None, 3).await;
    app.open_tube(&app.admin, "WX-S-2", &site, None, 10).await;
    add_user(&app, "sampler", "lab", "320200", None, None);
    let (t1, t2, t3) = (
        app.code_token("P1").await,
        app.code_token("P2").await,
        app.code_token("P3").await,
    );
    let mut b = Browser::new(&app);
    b.login("sampler", PW).await;
    let csrf = b.csrf("/web/sampling").await;

    let before = app.head();
    let r = b
        .post(
            "/web/sampling",
            &[("csrf", "stale"), ("tube", "WX-S-1"), ("codes", &t1)],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(app.head(), before);

    // A scanner gun: one code a line, Enter after each; one garbage scan among them.
    let codes = format!("{t1}\r\n{t2}\r\nXK1:garbage\r\n\r\n");
    let r = b
        .post(
            "/web/sampling",
            &[("csrf", &csrf), ("tube", "WX-S-1"), ("codes", &codes)],
        )
        .await;
    let html = r.text();
    assert_eq!(r.status, 200, "{html}");
    assert!(
        html.contains("data-bound=\"2\" data-refused=\"1\""),
        "{html}"
    );
    assert!(
        html.contains("data-members=\"2\" data-capacity=\"3\" data-state=\"open\""),
        "{html}"
    );
    // The tube stays for the next person; only the refused scan stays in the box.
    assert!(html.contains("value=\"WX-S-1\""), "{html}");
    assert!(html.contains(">XK1:garbage</textarea>"), "{html}");
    assert!(!html.contains(&t1), "a bound code is not echoed back");

    // P1 again is refused; P3 fills the tube, which seals itself.
    let codes = format!("{t1}\n{t3}\n");
    let r = b
        .post(
            "/web/sampling",
            &[("csrf", &csrf), ("tube", "WX-S-1"), ("codes", &codes)],
        )
        .await;
    let html = r.text();
    assert!(
        html.contains("data-bound=\"1\" data-refused=\"1\""),
        "{html}"
    );
    assert!(
        html.contains("data-members=\"3\" data-capacity=\"3\" data-state=\"sealed\""),
        "{html}"
    );
    let api = app
        .conn()
        .await
        .get("/api/v1/tubes/WX-S-1", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert_eq!(
        (api["members"].clone(), api["state"].clone()),
        (serde_json::json!(3), serde_json::json!("sealed")),
        "{api}"
    );

    // A tube barcode that is not one: refused next to the field, the codes kept.
    let r = b
        .post(
            "/web/sampling",
            &[("csrf", &csrf), ("tube", "x"), ("codes", &t2)],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("id=\"tube-err\""), "{}", r.text());
    assert!(
        r.text().contains(&format!(">{t2}</textarea>")),
        "{}",
        r.text()
    );
    // Every code refused (unknown tube): 422 with the reason.
    let r = b
        .post(
            "/web/sampling",
            &[("csrf", &csrf), ("tube", "WX-NOPE-1"), ("codes", &t2)],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("data-code=\"unknown_tube\""),
        "{}",
        r.text()
    );

    // Sealing a part-filled tube by hand.
    let r = b
        .post(
            "/web/sampling",
            &[("csrf", &csrf), ("tube", "WX-S-2"), ("codes", &t2)],
        )
        .await;
    assert!(r.text().contains("data-bound=\"1\""), "{}", r.text());
    let r = b
        .post(
            "/web/sampling",
            &[
                ("csrf", &csrf),
                ("tube", "WX-S-2"),
                ("codes", ""),
                ("action", "seal"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("id=\"sealed\""), "{}", r.text());
    assert!(
        r.text()
            .contains("data-members=\"1\" data-capacity=\"10\" data-state=\"sealed\""),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn the_ranking_puts_the_district_with_most_overdue_tasks_first_and_counts_screening() {
    use xikang_domain::duties::TaskKind;
    use xikang_store::{DutyOp, NewTask};
    let app = spawn_app().await;
    let cells = app.store.grid_cells().unwrap();
    let district = |c: &xikang_store::GridCellRecord| c.community.as_str()[..6].to_owned();
    let a = &cells[0];
    let b_cell = cells
        .iter()
        .find(|c| district(c) != district(a))
        .expect("the synthetic city has two districts");
    let now = xikang_server::now();
    let task = |cell| NewTask {
        cell,
        kind: TaskKind::Delivery,
        person: None,
        household: None,
        detail: "deliver".into(),
        created_at: now.plus(-7200),
        due_at: now.plus(-3600),
        dedupe: None,
    };
    app.store
        .commit_duties(
            &[DutyOp::InsertTasks(vec![
                task(b_cell.cell),
                task(b_cell.cell),
                task(a.cell),
            ])],
            &[],
        )
        .unwrap();
    // A round over the city; one resident swabbed.
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/rounds",
            serde_json::json!({"name": "第一轮全员核酸", "area": "320200",
               "starts_at": now.plus(-7200).to_rfc3339(), "deadline": now.plus(3600).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let round = v["id"].as_str().unwrap().to_owned();
    let site = app.sampling_site().await;
    let (s, v) = app.post(&app.admin,
        "/api/v1/tubes",
        serde_json::json!({"tubes": [{"barcode": "WX-R-1", "site": site, "round": round, "capacity": 1}]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    app.swab_all(&app.admin, "WX-R-1", &[1]).await;
    let p1_district = app
        .state
        .projection
        .person_area(PersonId(1))
        .unwrap()
        .as_str()[..6]
        .to_owned();

    let mut b = Browser::signed_in(&app, "chief", "tracer", "320200").await;
    let page = b.get("/web/ranking").await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&format!("{round} 第一轮全员核酸")), "{html}");
    let first = html.find("<tbody><tr").unwrap();
    assert!(
        html[first..].starts_with(&format!(
            "<tbody><tr data-district=\"{}\" data-overdue=\"2\"><td>1</td>",
            district(b_cell)
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "data-district=\"{}\" data-overdue=\"1\"",
            district(a)
        )),
        "{html}"
    );
    // P1's district shows one sampled resident.
    let row = &html[html
        .find(&format!("data-district=\"{p1_district}\""))
        .unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<td>1 / "), "{row}");
    // Residents and grid workers do not see it.
    let mut g = Browser::signed_in(&app, "gw", "grid_worker", "320200").await;
    assert_eq!(g.get("/web/ranking").await.status, 403);
}

#[tokio::test]
async fn the_two_city_pages_show_peers_passes_and_assistance_and_the_dashboard_their_sla() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "boss", "admin", "320200").await;
    let (status, p) = app
        .post(
            &app.admin,
            "/api/v1/passes",
            serde_json::json!({"person": "P1", "employer": "苏州某电子有限公司", "work_jurisdiction": "320500", "days": 30, "max_test_age_hours": 48}),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let id = p["pass"].as_str().unwrap().to_owned();
    for path in ["/web/peers", "/web/passes", "/web/assist"] {
        for lang in ["zh", "en"] {
            let page = b.get(&format!("{path}?lang={lang}")).await;
            assert_eq!(page.status, 200, "{path} ({lang})");
        }
    }
    let pending = format!("id=\"pass-{id}\" data-status=\"pending\"");
    assert!(b.get("/web/passes").await.text().contains(&pending));
    // Revoked through the page's form, by the API's own handler (logged).
    let csrf = b.csrf("/web/passes").await;
    let r = b
        .post(
            &format!("/web/passes/{id}/revoke"),
            &[("csrf", &csrf), ("reason", "left the employer")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let revoked = format!("id=\"pass-{id}\" data-status=\"revoked\"");
    assert!(b.get("/web/passes").await.text().contains(&revoked));
    // The peers page shows this city's root key; the dashboard the 协查 SLA tile.
    let peers = b.get("/web/peers").await.text();
    assert!(peers.contains(&app.state.cities.anchor.kid), "{peers}");
    let dashboard = b.get("/web/dashboard").await.text();
    assert!(
        dashboard.contains("<table id=\"assist-sla\"") && dashboard.contains("data-sla=\"24\""),
        "{dashboard}"
    );
    // A district admin is not shown the city's peers.
    let mut district = Browser::signed_in(&app, "district", "admin", "320213").await;
    assert_eq!(district.get("/web/peers").await.status, 403);
}
