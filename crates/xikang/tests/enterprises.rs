//! An enterprise's own account (docs/citizens.md): a token or web user of the role
//! `enterprise`, bound to one credit code, files for itself only, sees only its own filings
//! and its own workers' colours as the policy allows, posts and closes its needs and offers,
//! applies for its workers' commuter passes once its filing is approved and sees only its
//! own passes. The policy also carries the board's routes and deadlines.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::web::{Browser, PW};
use common::{TestApp, spawn_app};
use serde_json::{Value, json};
use xikang_domain::event::EventBody;

const MINE: &str = "91320200MA1ENTA01X";
const THEIRS: &str = "91320200MA1ENTB02X";

/// The ID numbers of the first `n` residents of `district`, after skipping `skip`.
fn id_numbers(app: &TestApp, district: &str, skip: usize, n: usize) -> Vec<Value> {
    app.residents_of(district)
        .into_iter()
        .skip(skip)
        .take(n)
        .map(|p| {
            json!({"id_number": String::from(app.store.person(xikang_domain::PersonId(p)).unwrap().unwrap().id_number)})
        })
        .collect()
}

fn filing_body(credit: &str, district: &str, workers: Vec<Value>) -> Value {
    json!({"enterprise": format!("无锡{credit}公司"), "credit_code": credit, "industry": "manufacturing",
           "area": district, "site": "工业园 8 号", "responsible": "王建国", "measures": "每日测温",
           "workers": workers})
}

/// An enterprise token for `credit` over `district`.
async fn enterprise_token(app: &TestApp, district: &str, credit: &str) -> String {
    app.token(json!({"name": format!("ent-{credit}"), "role": "enterprise", "area": district, "enterprise": credit}))
        .await
}

#[tokio::test]
async fn an_enterprise_files_for_itself_and_sees_only_its_own_filings_posts_and_passes() {
    let app = spawn_app().await;
    let d = app.districts();
    let (a, b) = (d[0].clone(), d[1].clone());
    let admin = app.role_token(&format!("admin-{a}"), "admin", &a).await;

    // A token is bound to one enterprise, or to none: never half bound.
    for (body, code) in [
        (
            json!({"name": "e", "role": "enterprise", "area": a}),
            "enterprise_required",
        ),
        (
            json!({"name": "e", "role": "enterprise", "area": a, "enterprise": "nope"}),
            "invalid_credit_code",
        ),
        (
            json!({"name": "t", "role": "tracer", "area": a, "enterprise": MINE}),
            "invalid_enterprise",
        ),
    ] {
        let (s, v) = app.post(&app.admin, "/api/v1/tokens", body).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some(code)), "{v}");
    }
    let ent = enterprise_token(&app, &a, MINE).await;

    // It files for itself, in its area; not for another enterprise, not elsewhere.
    let before = app.head();
    let (s, mine) = app
        .post(
            &ent,
            "/api/v1/enterprises/filings",
            filing_body(MINE, &a, id_numbers(&app, &a, 0, 3)),
        )
        .await;
    assert_eq!(s, 201, "{mine}");
    let mine = mine["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .post(
            &ent,
            "/api/v1/enterprises/filings",
            filing_body(THEIRS, &a, id_numbers(&app, &a, 0, 1)),
        )
        .await;
    assert_eq!(s, 403, "another enterprise's filing");
    let (s, _) = app
        .post(
            &ent,
            "/api/v1/enterprises/filings",
            filing_body(MINE, &b, id_numbers(&app, &b, 0, 1)),
        )
        .await;
    assert_eq!(s, 403, "a site outside its area");
    // The street's staff file for the other enterprise of the same district.
    let (s, theirs) = app
        .post(
            &admin,
            "/api/v1/enterprises/filings",
            filing_body(THEIRS, &a, id_numbers(&app, &a, 3, 2)),
        )
        .await;
    assert_eq!(s, 201, "{theirs}");
    let theirs = theirs["id"].as_str().unwrap().to_owned();

    // Its own filings only; its own green share only, counts only under the default policy.
    let (_, list) = app.get(&ent, "/api/v1/enterprises/filings").await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["id"], json!(mine));
    let (_, staff) = app.get(&admin, "/api/v1/enterprises/filings").await;
    assert_eq!(staff["total"], 2, "{staff}");
    let (s, _) = app
        .get(&ent, &format!("/api/v1/enterprises/filings/{theirs}/green"))
        .await;
    assert_eq!(s, 403);
    let (s, g) = app
        .get(&ent, &format!("/api/v1/enterprises/filings/{mine}/green"))
        .await;
    assert_eq!((s, &g["workers"]), (200, &json!(3)), "{g}");
    assert!(
        g.get("colours").is_none(),
        "the default policy shows counts only: {g}"
    );
    // Nor does it decide, read 复工率, or read anybody.
    let (s, _) = app
        .post(
            &ent,
            &format!("/api/v1/enterprises/filings/{mine}/decision"),
            json!({"approve": true, "reason": "self"}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = app.get(&ent, "/api/v1/enterprises/resumption").await;
    assert_eq!(s, 403);
    let worker = app.residents_of(&a)[0];
    let (s, _) = app.get(&ent, &format!("/api/v1/people/P{worker}")).await;
    assert_eq!(s, 403);

    // Passes: for its own workers, once its filing is approved, as itself.
    let pass = |person: u32, employer: &str| {
        json!({"person": format!("P{person}"), "employer": employer, "work_jurisdiction": "320500",
               "days": 30, "max_test_age_hours": 48})
    };
    let (s, v) = app.post(&ent, "/api/v1/passes", pass(worker, MINE)).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("filing_not_approved")),
        "{v}"
    );
    let (s, _) = app
        .post(
            &admin,
            &format!("/api/v1/enterprises/filings/{mine}/decision"),
            json!({"approve": true, "reason": "措施齐全"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, own) = app.post(&ent, "/api/v1/passes", pass(worker, MINE)).await;
    assert_eq!(s, 201, "{own}");
    let (s, _) = app.post(&ent, "/api/v1/passes", pass(worker, THEIRS)).await;
    assert_eq!(s, 403, "as another employer");
    let stranger = app.residents_of(&a)[3];
    let (s, _) = app.post(&ent, "/api/v1/passes", pass(stranger, MINE)).await;
    assert_eq!(s, 403, "not its worker");
    let (s, other) = app
        .post(&admin, "/api/v1/passes", pass(stranger, THEIRS))
        .await;
    assert_eq!(s, 201, "{other}");
    let (_, passes) = app.get(&ent, "/api/v1/passes").await;
    let ids: Vec<&Value> = passes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["pass"])
        .collect();
    assert_eq!(ids, [&own["pass"]], "{passes}");
    let (s, _) = app
        .get(
            &ent,
            &format!("/api/v1/passes/{}", other["pass"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, 403);

    // The supply–demand board: it posts and closes its own, not another's.
    let (s, need) = app
        .post(
            &ent,
            "/api/v1/enterprises/exchange",
            json!({"credit_code": MINE, "kind": "need", "item": "口罩", "quantity": 500}),
        )
        .await;
    assert_eq!(s, 201, "{need}");
    let (s, offer) = app
        .post(
            &admin,
            "/api/v1/enterprises/exchange",
            json!({"credit_code": THEIRS, "kind": "offer", "item": "口罩", "quantity": 900}),
        )
        .await;
    assert_eq!(s, 201, "{offer}");
    let (s, _) = app
        .post(
            &ent,
            "/api/v1/enterprises/exchange",
            json!({"credit_code": THEIRS, "kind": "need", "item": "x", "quantity": 1}),
        )
        .await;
    assert_eq!(s, 403);
    let close = |id: &Value| {
        format!(
            "/api/v1/enterprises/exchange/{}/close",
            id.as_str().unwrap()
        )
    };
    let (s, _) = app.post(&ent, &close(&offer["id"]), json!({})).await;
    assert_eq!(s, 403, "another enterprise's post");
    let (_, board) = app.get(&ent, "/api/v1/enterprises/exchange").await;
    assert_eq!(
        board["items"][1]["matches"],
        json!([offer["id"]]),
        "{board}"
    );
    let (s, closed) = app.post(&admin, &close(&offer["id"]), json!({})).await;
    assert_eq!(s, 200, "{closed}");
    let (_, board) = app.get(&ent, "/api/v1/enterprises/exchange").await;
    assert_eq!(board["items"].as_array().unwrap().len(), 1, "{board}");
    assert_eq!(
        board["items"][0]["matches"],
        json!([]),
        "a closed offer matches nothing"
    );
    let (s, _) = app.post(&ent, &close(&need["id"]), json!({})).await;
    assert_eq!(s, 200);
    let (s, v) = app.post(&ent, &close(&need["id"]), json!({})).await;
    assert_eq!((s, v["error"]["code"].as_str()), (409, Some("post_closed")));
    let (_, board) = app.get(&ent, "/api/v1/enterprises/exchange").await;
    assert_eq!(board["items"], json!([]));

    // Every decision is logged, under the enterprise's own name.
    let kinds: Vec<&str> = app
        .events_after(before)
        .iter()
        .map(EventBody::kind)
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "exchange_closed").count(),
        2,
        "{kinds:?}"
    );
    let log = app.store.events_after(before, 10_000).unwrap();
    assert!(
        log.iter()
            .any(|e| e.actor == format!("enterprise:ent-{MINE}")
                && e.body.kind() == "filing_submitted"),
        "the filing is the enterprise's own"
    );
}

/// The default policy under another version name, with these lines added.
fn policy_with(parameters: &str, tail: &str) -> String {
    let text = xikang_domain::policy::DEFAULT_POLICY_TOML;
    let version = xikang_domain::policy::Policy::default_policy()
        .version()
        .to_owned();
    format!(
        "{}\n{tail}",
        text.replacen(&version, "xikang-board-test", 1).replacen(
            "[parameters]\n",
            &format!("[parameters]\n{parameters}"),
            1
        )
    )
}

#[tokio::test]
async fn the_policy_lets_an_enterprise_see_each_workers_colour_and_routes_the_board() {
    let app = spawn_app().await;
    let a = app.districts()[0].clone();
    let ent = enterprise_token(&app, &a, MINE).await;
    let (s, f) = app
        .post(
            &ent,
            "/api/v1/enterprises/filings",
            filing_body(MINE, &a, id_numbers(&app, &a, 0, 2)),
        )
        .await;
    assert_eq!(s, 201, "{f}");
    let green = format!(
        "/api/v1/enterprises/filings/{}/green",
        f["id"].as_str().unwrap()
    );
    let routes = "[board]
medical = { department = \"hotline\", sla_hours = 1 }
supplies = { department = \"supplies\", sla_hours = 12 }
quarantine = { department = \"quarantine\", sla_hours = 24 }
testing = { department = \"testing\", sla_hours = 24 }
policy = { department = \"health\", sla_hours = 48 }
enterprise = { department = \"industry\", sla_hours = 72 }
other = { department = \"hotline\", sla_hours = 48 }
";
    app.switch_policy(&policy_with("enterprise_worker_colours = 1\n", routes))
        .await;
    let (s, g) = app.get(&ent, &green).await;
    assert_eq!(s, 200, "{g}");
    let colours = g["colours"].as_array().unwrap();
    assert_eq!(
        colours
            .iter()
            .map(|c| c["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2],
        "{g}"
    );
    assert!(
        colours.iter().all(|c| c.as_object().unwrap().len() == 2),
        "a line and a colour, no name: {g}"
    );
    // A medical message now goes to the hotline, due in an hour.
    let now = xikang_server::now();
    let (s, m) = app
        .call(
            "POST",
            "/api/v1/messages",
            None,
            Some(
                &json!({"category": "medical", "title": "透析", "text": "需要透析", "district": a}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["department"], "hotline");
    let due = xikang_domain::Timestamp::parse_rfc3339(m["due_at"].as_str().unwrap()).unwrap();
    assert!(due.0 - now.0 >= 3_600 && due.0 - now.0 < 3_700, "{m}");
}

#[tokio::test]
async fn an_enterprise_user_sees_its_page_and_posts_and_closes_on_the_board() {
    let app = spawn_app().await;
    let a = app.districts()[0].clone();
    let ent = enterprise_token(&app, &a, MINE).await;
    let (s, _) = app
        .post(
            &ent,
            "/api/v1/enterprises/filings",
            filing_body(MINE, &a, id_numbers(&app, &a, 0, 2)),
        )
        .await;
    assert_eq!(s, 201);
    let admin = app.role_token(&format!("admin-{a}"), "admin", &a).await;
    let (s, _) = app
        .post(
            &admin,
            "/api/v1/enterprises/filings",
            filing_body(THEIRS, &a, id_numbers(&app, &a, 2, 1)),
        )
        .await;
    assert_eq!(s, 201);
    app.store
        .insert_user(&xikang_store::User {
            name: "ent-user".into(),
            password_hash: xikang_server::web::password::hash(
                PW,
                xikang_server::web::password::Cost::CheapForTests,
            )
            .unwrap(),
            role: "enterprise".into(),
            area: xikang_domain::AreaCode::parse(&a).unwrap(),
            venue: None,
            person: None,
            id_lookup: false,
            enterprise: Some(MINE.into()),
            disabled: false,
            created_at: xikang_server::now(),
        })
        .unwrap();
    let mut b = Browser::new(&app);
    b.login("ent-user", PW).await;
    let page = b.get("/web/enterprise").await;
    assert_eq!(page.status, 200, "{}", page.text());
    let text = page.text();
    assert!(text.contains(MINE), "{text}");
    assert!(
        !text.contains(THEIRS),
        "another enterprise's filing on the page"
    );
    assert!(
        text.contains("0 / 2") || text.contains("1 / 2") || text.contains("2 / 2"),
        "{text}"
    );
    let csrf = b.csrf("/web/enterprise").await;
    let r = b
        .post(
            "/web/enterprise/exchange",
            &[
                ("csrf", &csrf),
                ("kind", "offer"),
                ("item", "消毒液"),
                ("quantity", "40"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let page = b.get("/web/enterprise").await.text();
    assert!(page.contains("消毒液"), "{page}");
    let id = read_post_id(&app);
    let r = b
        .post(
            &format!("/web/enterprise/exchange/{id}/close"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(!b.get("/web/enterprise").await.text().contains("消毒液"));
    // Staff pages are not the enterprise's.
    assert_eq!(b.get("/web/enterprises").await.status, 403);
    assert_eq!(b.get("/web/capacity").await.status, 403);
}

fn read_post_id(app: &TestApp) -> String {
    let board = xikang_server::state::read(&app.state.projection.board);
    board.exchange.last().unwrap().id.to_string()
}

#[tokio::test]
async fn the_staff_pages_of_supervision_render_in_both_languages_with_their_exports() {
    let app = spawn_app().await;
    let mut b = Browser::signed_in(&app, "city-admin", "admin", "320200").await;
    for path in [
        "/web/inspections",
        "/web/supplies",
        "/web/responsibility",
        "/web/capacity",
        "/web/quarterly",
    ] {
        for lang in ["zh", "en"] {
            let r = b.get(&format!("{path}?lang={lang}")).await;
            assert_eq!(r.status, 200, "{path} {lang}: {}", r.text());
            assert!(r.text().contains("<caption"), "{path}: a labelled table");
        }
    }
    for what in [
        "inspections",
        "responsibility",
        "capacity",
        "quarterly",
        "messages",
        "resumption",
    ] {
        let r = b.get(&format!("/web/export/{what}?format=csv")).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        let r = b.get(&format!("/web/export/{what}?format=xlsx")).await;
        assert_eq!(
            (r.status, &r.body[..2]),
            (200, &b"PK"[..]),
            "{what}: an XLSX is a zip"
        );
    }
    assert_eq!(b.get("/web/export/people?format=csv").await.status, 404);
}
