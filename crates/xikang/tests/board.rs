//! The message board (民声留言板) and enterprises' filings (复工备案), docs/citizens.md,
//! through the real server: a post without a token routed by the rules, staff of the right
//! district only, the public reply masked, the published statistics, the limit per address,
//! the sweep's escalation, a transfer between districts; a filing approved in one district
//! moving that district's 复工率 only.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::{TestApp, spawn_app};
use serde_json::{Value, json};
use xikang_domain::event::EventBody;
use xikang_domain::time::HOUR;

async fn post_message(app: &TestApp, body: Value) -> (u16, Value) {
    app.call("POST", "/api/v1/messages", None, Some(&body))
        .await
}

/// Two districts and an admin token of each.
async fn two_districts(app: &TestApp) -> (String, String, String, String) {
    let d = app.districts();
    let (a, b) = (d[0].clone(), d[1].clone());
    let ta = app.role_token(&format!("admin-{a}"), "admin", &a).await;
    let tb = app.role_token(&format!("admin-{b}"), "admin", &b).await;
    (a, ta, b, tb)
}

#[tokio::test]
async fn a_message_posted_without_login_is_routed_answered_in_public_masked_and_counted() {
    let app = spawn_app().await;
    let (a, ta, _b, tb) = two_districts(&app).await;
    let before = app.head();
    let (s, posted) = post_message(
        &app,
        json!({"category": "medical", "title": "家中老人需要透析", "district": a,
               "text": "封控楼栋 3 号楼，老人每周透析两次，请联系 13812345678。"}),
    )
    .await;
    assert_eq!(s, 201, "{posted}");
    assert_eq!(posted["department"], "medical");
    assert_eq!(posted["area"], json!(a));
    let id = posted["id"].as_str().unwrap().to_owned();

    // The district's admin sees it; the other district's neither lists nor opens it.
    let (s, list) = app.get(&ta, "/api/v1/messages?status=new").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], json!(id));
    let (_, other) = app.get(&tb, "/api/v1/messages").await;
    assert_eq!(other["total"], 0);
    let (s, _) = app.get(&tb, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(s, 403);
    let (s, _) = app
        .post(&tb, &format!("/api/v1/messages/{id}/accept"), json!({}))
        .await;
    assert_eq!(s, 403);

    // Nothing is public before a reply.
    let (_, public) = app.call("GET", "/api/v1/messages/public", None, None).await;
    assert_eq!(public["total"], 0);

    let (s, v) = app
        .post(&ta, &format!("/api/v1/messages/{id}/accept"), json!({}))
        .await;
    assert_eq!((s, v["status"].clone()), (200, json!("accepted")), "{v}");
    let (s, v) = app
        .post(&ta, &format!("/api/v1/messages/{id}/accept"), json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].clone()),
        (409, json!("message_state"))
    );
    let (s, v) = app
        .post(
            &ta,
            &format!("/api/v1/messages/{id}/reply"),
            json!({"text": "已安排社区医生上门，透析车每周二、五接送。联系人电话 13900001111。"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let (_, public) = app.call("GET", "/api/v1/messages/public", None, None).await;
    assert_eq!(public["total"], 1, "{public}");
    let m = &public["items"][0];
    assert_eq!(m["id"], json!(id));
    assert!(m["text"].as_str().unwrap().contains("138******78"), "{m}");
    assert!(!m.to_string().contains("13812345678"), "{m}");
    assert!(m["reply"].as_str().unwrap().contains("139******11"), "{m}");
    assert!(
        !m.to_string().contains("admin"),
        "no staff name in public: {m}"
    );

    let (_, st) = app.call("GET", "/api/v1/messages/stats", None, None).await;
    assert_eq!(
        (st["received"].clone(), st["closed"].clone()),
        (json!(1), json!(0))
    );
    let (s, _) = app
        .post(
            &ta,
            &format!("/api/v1/messages/{id}/close"),
            json!({"text": "已办结"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, st) = app
        .call(
            "GET",
            &format!("/api/v1/messages/stats?district={a}"),
            None,
            None,
        )
        .await;
    assert_eq!(st["text_zh"], "收到留言 1 件，办结 1 件", "{st}");
    assert_eq!(st["by_category"][0]["key"], "medical");
    assert_eq!(st["by_category"][0]["on_time"], 1);
    assert_eq!(st["by_district"][0]["key"], json!(a));
    // A closed message takes nothing more.
    let (s, _) = app
        .post(
            &ta,
            &format!("/api/v1/messages/{id}/reply"),
            json!({"text": "again"}),
        )
        .await;
    assert_eq!(s, 409);

    // Every step is in the authority log.
    let kinds: Vec<&'static str> = app
        .events_after(before)
        .iter()
        .map(EventBody::kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "message_posted",
            "message_handled",
            "message_handled",
            "message_handled"
        ]
    );

    // The export holds it for the district's staff.
    let r = app
        .conn()
        .await
        .request(
            "GET",
            "/api/v1/messages/export?format=csv",
            Some(&ta),
            None,
            b"",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("家中老人需要透析"), "{}", r.text());
}

#[tokio::test]
async fn bad_messages_are_refused_with_a_stable_code_and_change_nothing() {
    let app = spawn_app().await;
    let before = app.events();
    let long = "长".repeat(2001);
    for (body, code) in [
        (
            json!({"category": "gossip", "title": "t", "text": "x"}),
            "invalid_category",
        ),
        (
            json!({"category": "other", "title": " ", "text": "x"}),
            "invalid_title",
        ),
        (
            json!({"category": "other", "title": "t", "text": long}),
            "invalid_text",
        ),
        (
            json!({"category": "other", "title": "t", "text": "x", "district": "32x"}),
            "invalid_area",
        ),
    ] {
        let (s, v) = post_message(&app, body).await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some(code)), "{v}");
    }
    let (s, _) = post_message(&app, json!({"category": "other", "title": "t"})).await;
    assert_eq!(s, 400);
    assert_eq!(app.events(), before);
}

#[tokio::test]
async fn one_address_posts_at_most_ten_messages_an_hour() {
    let app = spawn_app().await;
    for i in 0..10 {
        let (s, v) = post_message(
            &app,
            json!({"category": "other", "title": format!("问题 {i}"), "text": "请回复"}),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let before = app.events();
    let (s, v) = post_message(
        &app,
        json!({"category": "other", "title": "再来一条", "text": "请回复"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("message_rate_limited"))
    );
    assert_eq!(app.events(), before);
}

#[tokio::test]
async fn an_unanswered_message_past_its_deadline_is_escalated_once_by_the_sweep() {
    let app = spawn_app().await;
    let (a, ta, _, _) = two_districts(&app).await;
    let (_, urgent) = post_message(
        &app,
        json!({"category": "medical", "title": "急需药品", "text": "胰岛素用完了", "district": a}),
    )
    .await;
    let (_, later) = post_message(
        &app,
        json!({"category": "policy", "title": "政策咨询", "text": "何时解封", "district": a}),
    )
    .await;
    let now = xikang_server::now();
    // Three hours on, nothing is due (medical: 4 hours).
    let out = xikang_server::app::sweep::run(&app.state, now.plus(3 * HOUR))
        .await
        .unwrap();
    assert_eq!(out.messages_escalated, 0);
    let out = xikang_server::app::sweep::run(&app.state, now.plus(5 * HOUR))
        .await
        .unwrap();
    assert_eq!(out.messages_escalated, 1, "the medical one only");
    let out = xikang_server::app::sweep::run(&app.state, now.plus(6 * HOUR))
        .await
        .unwrap();
    assert_eq!(out.messages_escalated, 0, "once");
    let (_, m) = app
        .get(
            &ta,
            &format!("/api/v1/messages/{}", urgent["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(m["escalated"], true, "{m}");
    let (_, m) = app
        .get(
            &ta,
            &format!("/api/v1/messages/{}", later["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(m["escalated"], false, "{m}");
}

#[tokio::test]
async fn a_transfer_moves_a_message_to_the_other_districts_staff() {
    let app = spawn_app().await;
    let (a, ta, b, tb) = two_districts(&app).await;
    let (_, m) = post_message(
        &app,
        json!({"category": "supplies", "title": "蔬菜包", "text": "三天没有收到", "district": a}),
    )
    .await;
    let id = m["id"].as_str().unwrap();
    let (s, v) = app
        .post(
            &ta,
            &format!("/api/v1/messages/{id}/transfer"),
            json!({"text": "地址在对方辖区", "district": a}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_transfer"))
    );
    let (s, v) = app
        .post(
            &ta,
            &format!("/api/v1/messages/{id}/transfer"),
            json!({"text": "地址在对方辖区", "district": b}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = app.get(&ta, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(s, 403);
    let (s, m) = app.get(&tb, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(
        (s, m["area"].clone(), m["transfers"].clone()),
        (200, json!(b), json!(1))
    );
}

/// A filing of `n` workers of `district` for the enterprise `credit`.
async fn filing(app: &TestApp, token: &str, district: &str, credit: &str, n: usize) -> String {
    let workers: Vec<Value> = app
        .residents_of(district)
        .into_iter()
        .take(n)
        .map(|p| {
            json!({"id_number": String::from(app.store.person(xikang_domain::PersonId(p)).unwrap().unwrap().id_number)})
        })
        .collect();
    let (s, v) = app
        .post(
            token,
            "/api/v1/enterprises/filings",
            json!({"enterprise": format!("无锡{credit}公司"), "credit_code": credit, "industry": "manufacturing",
                   "area": district, "site": "工业园 8 号", "responsible": "王建国", "measures": "每日测温、错峰就餐",
                   "workers": workers}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["responsible"], "王**");
    v["id"].as_str().unwrap().to_owned()
}

fn rate_of(r: &Value, district: &str) -> u64 {
    r["by_district"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["key"] == json!(district))
        .map_or(0, |x| x["rate_permille"].as_u64().unwrap())
}

#[tokio::test]
async fn a_filing_approved_in_one_district_moves_that_districts_resumption_rate_only() {
    let app = spawn_app().await;
    let (a, ta, b, tb) = two_districts(&app).await;
    let fa = filing(&app, &ta, &a, "91320200MA1ABCDE1X", 3).await;
    let _fb = filing(&app, &tb, &b, "91320200MA1ABCDE2X", 2).await;
    // A district's admin cannot file or decide in the other district.
    let (s, _) = app
        .post(
            &tb,
            &format!("/api/v1/enterprises/filings/{fa}/decision"),
            json!({"approve": true, "reason": "ok"}),
        )
        .await;
    assert_eq!(s, 403);
    let (_, r) = app.get(&app.admin, "/api/v1/enterprises/resumption").await;
    assert_eq!((rate_of(&r, &a), rate_of(&r, &b)), (0, 0), "{r}");

    let before = app.head();
    let (s, v) = app
        .post(
            &ta,
            &format!("/api/v1/enterprises/filings/{fa}/decision"),
            json!({"approve": true, "reason": "防控措施齐全"}),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("approved")), "{v}");
    assert_eq!(
        app.events_after(before)
            .iter()
            .map(EventBody::kind)
            .collect::<Vec<_>>(),
        ["filing_decided"]
    );
    let (_, r) = app.get(&app.admin, "/api/v1/enterprises/resumption").await;
    assert_eq!((rate_of(&r, &a), rate_of(&r, &b)), (1000, 0), "{r}");
    assert_eq!(r["total"]["resumed"], 1);
    assert_eq!(r["total"]["workers_back"], 3);
    // A district's admin reads their own district only.
    let (s, _) = app
        .get(&tb, &format!("/api/v1/enterprises/resumption?area={a}"))
        .await;
    assert_eq!(s, 403);
    // Decided once.
    let (s, _) = app
        .post(
            &ta,
            &format!("/api/v1/enterprises/filings/{fa}/decision"),
            json!({"approve": false, "reason": "again"}),
        )
        .await;
    assert_eq!(s, 409);
    // The supply–demand board: a need in one district matched by an offer in the other.
    let (s, need) = app
        .post(
            &ta,
            "/api/v1/enterprises/exchange",
            json!({"credit_code": "91320200MA1ABCDE1X", "kind": "need", "item": "口罩", "quantity": 5000}),
        )
        .await;
    assert_eq!(s, 201, "{need}");
    let (s, offer) = app
        .post(
            &tb,
            "/api/v1/enterprises/exchange",
            json!({"credit_code": "91320200MA1ABCDE2X", "kind": "offer", "item": "口罩", "quantity": 20000}),
        )
        .await;
    assert_eq!(s, 201, "{offer}");
    let (s, _) = app
        .post(
            &tb,
            "/api/v1/enterprises/exchange",
            json!({"credit_code": "91320200MA1ABCDE1X", "kind": "offer", "item": "x", "quantity": 1}),
        )
        .await;
    assert_eq!(s, 403, "another district's enterprise");
    let (_, board) = app.get(&ta, "/api/v1/enterprises/exchange?kind=need").await;
    assert_eq!(board["items"][0]["id"], need["id"]);
    assert_eq!(
        board["items"][0]["enterprise"],
        "无锡91320200MA1ABCDE1X公司"
    );
    assert_eq!(board["items"][0]["matches"], json!([offer["id"]]));
    // The green share: counts, no names.
    let (s, g) = app
        .get(&ta, &format!("/api/v1/enterprises/filings/{fa}/green"))
        .await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["workers"], 3);
    assert!(g["green"].as_u64().unwrap() <= 3);
    assert_eq!(g.as_object().unwrap().len(), 4, "{g}");
}

#[tokio::test]
async fn a_filing_with_a_worker_missing_from_the_register_is_refused_whole() {
    let app = spawn_app().await;
    let (a, ta, _, _) = two_districts(&app).await;
    let before = app.events();
    let nobody =
        String::from(xikang_domain::idnumber::IdNumber::compose(110101, 1931, 1, 1, 999).unwrap());
    let (s, v) = app
        .post(
            &ta,
            "/api/v1/enterprises/filings",
            json!({"enterprise": "某厂", "credit_code": "91320200MA1ABCDE3X", "industry": "retail",
                   "area": a, "site": "s", "responsible": "r", "measures": "m",
                   "workers": [{"id_number": nobody}]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("unknown_worker"))
    );
    assert!(
        !v.to_string().contains(&nobody),
        "the number is not echoed: {v}"
    );
    assert_eq!(app.events(), before);
}

#[tokio::test]
async fn a_district_admin_approves_a_filing_on_the_page_and_the_rate_shows_it() {
    let app = spawn_app().await;
    let (a, ta, _, _) = two_districts(&app).await;
    let id = filing(&app, &ta, &a, "91320200MA1ABCDE7X", 2).await;
    let mut b = common::web::Browser::signed_in(&app, "district-boss", "admin", &a).await;
    let page = b.get("/web/enterprises?lang=en").await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains(&format!("id=\"f-{id}\" data-status=\"pending\"")),
        "{html}"
    );
    assert!(html.contains("id=\"resumption\" data-rate=\"0\""));
    let csrf = b.csrf("/web/enterprises").await;
    let r = b
        .post(
            &format!("/web/enterprises/{id}"),
            &[("csrf", &csrf), ("reason", "措施齐全"), ("approve", "1")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let html = b.get("/web/enterprises").await.text();
    assert!(html.contains(&format!("id=\"f-{id}\" data-status=\"approved\"")));
    assert!(
        html.contains("id=\"resumption\" data-rate=\"1000\""),
        "{html}"
    );
    assert!(html.contains("复工率 100.0%"));
}
