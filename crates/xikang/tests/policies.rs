//! Policy versions over HTTP (issue 15, part 3): uploaded whole, proposed by one city-level
//! admin, approved by another, and in force from their instant without a restart.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failure should fail the test at once"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use xikang_domain::event::EventBody;
use xikang_domain::policy::{DEFAULT_POLICY_TOML, ERSHITIAO_POLICY_TOML};
use xikang_domain::{EventSeq, PersonId};

const DEFAULT: &str = "xikang-default-2022.09";
const ERSHITIAO: &str = "xikang-ershitiao-2022.11";

/// The person with the most household members among those with close contacts whose own
/// households give secondary contacts: any person living with two or more others.
fn household_person(app: &TestApp) -> PersonId {
    let people: Vec<_> = (0..PEOPLE)
        .map(|p| app.store.person(PersonId(p)).unwrap().unwrap())
        .collect();
    let size = |h| people.iter().filter(|q| q.household == h).count();
    people
        .iter()
        .max_by_key(|p| size(p.household))
        .map(|p| p.id)
        .unwrap()
}

fn count(list: &Value, kind: &str) -> usize {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == kind)
        .count()
}

fn activations(app: &TestApp) -> Vec<(String, String, String)> {
    app.store
        .events_after(EventSeq(0), 1_000_000)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::PolicyActivated { version, .. } => Some((version, e.actor, e.basis)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_policy_changes_contact_rules_for_open_cases_without_a_restart() {
    let app = spawn_app().await;
    let person = household_person(&app);
    let (s, case) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": person.to_string(), "kind": "confirmed",
                   "onset": xikang_server::now().plus(-86_400).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{case}");
    let case = case["id"].as_str().unwrap().to_owned();
    let contacts = format!("/api/v1/cases/{case}/contacts");
    let (s, before) = app.get(&app.admin, &contacts).await;
    assert_eq!(s, 200, "{before}");
    assert_eq!(before["policy_version"], DEFAULT);
    assert!(count(&before, "close") > 0, "{before}");
    assert!(
        count(&before, "secondary") > 0,
        "the 第九版 lists secondary contacts: {before}"
    );

    // Upload the 二十条: stored, not in force.
    let (s, up) = app
        .post(
            &app.admin,
            "/api/v1/policies",
            json!({"text": ERSHITIAO_POLICY_TOML}),
        )
        .await;
    assert_eq!(s, 201, "{up}");
    assert_eq!(up["version"], ERSHITIAO);
    assert_eq!(up["active"], false);
    // The same text again changes nothing.
    let (s, again) = app
        .post(
            &app.admin,
            "/api/v1/policies",
            json!({"text": ERSHITIAO_POLICY_TOML}),
        )
        .await;
    assert_eq!((s, &again["uploaded_at"]), (200, &up["uploaded_at"]));

    // Proposed by one official: still nothing changes, and the proposer cannot approve.
    let path = format!("/api/v1/policies/{ERSHITIAO}");
    let at = xikang_server::now().to_rfc3339();
    let (s, proposed) = app
        .post(
            &app.admin,
            &format!("{path}/activate"),
            json!({"effective_from": at}),
        )
        .await;
    assert_eq!(s, 202, "{proposed}");
    assert_eq!(proposed["proposed_by"], "admin:admin");
    let (s, same) = app
        .post(&app.admin, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!((s, &same["error"]["code"]), (409, &json!("same_official")));
    assert_eq!(app.state.policy().version(), DEFAULT);
    let (_, still) = app.get(&app.admin, &contacts).await;
    assert!(count(&still, "secondary") > 0, "{still}");

    // A second official approves: in force at once (effective_from has passed), no restart.
    let (s, approved) = app
        .post(&app.admin2, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!(s, 200, "{approved}");
    assert_eq!(approved["approved_by"], "admin:second-admin");
    assert_eq!(approved["active"], true);
    let (s, after) = app.get(&app.admin, &contacts).await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(after["policy_version"], ERSHITIAO);
    assert_eq!(
        count(&after, "secondary"),
        0,
        "the 二十条 identifies no secondary contacts: {after}"
    );
    assert_eq!(count(&after, "close"), count(&before, "close"));
    let (_, p) = app.get(&app.admin, "/api/v1/policy").await;
    assert_eq!(p["version"], ERSHITIAO, "{p}");

    // The log names both officials.
    let logged = activations(&app);
    let last = logged.last().unwrap();
    assert_eq!(last.0, ERSHITIAO);
    assert_eq!(last.1, "admin:second-admin");
    assert!(
        last.2.contains("\"proposer\":\"admin:admin\""),
        "{}",
        last.2
    );

    // Both texts are retrievable, and the list says which was in force when.
    for (v, text) in [
        (DEFAULT, DEFAULT_POLICY_TOML),
        (ERSHITIAO, ERSHITIAO_POLICY_TOML),
    ] {
        let (s, t) = app.get(&app.admin, &format!("/api/v1/policies/{v}")).await;
        assert_eq!(s, 200, "{t}");
        assert_eq!(t["text"], text);
    }
    let (_, list) = app.get(&app.admin, "/api/v1/policies").await;
    let versions = list["versions"].as_array().unwrap();
    let of = |v: &str| versions.iter().find(|x| x["version"] == v).unwrap().clone();
    assert_eq!(of(DEFAULT)["active"], false);
    assert_eq!(of(DEFAULT)["active_until"], of(ERSHITIAO)["active_since"]);
    assert_eq!(of(ERSHITIAO)["proposed_by"], "admin:admin");
    assert_eq!(of(ERSHITIAO)["approved_by"], "admin:second-admin");

    // The admin page diffs the two stored versions.
    let known = xikang_server::web::admin::known_policies(&app.state);
    assert!(known.iter().any(|k| k.version == ERSHITIAO && k.active));
    assert!(known.iter().any(|k| k.version == DEFAULT && !k.active));
}

/// Uploads the 二十条, has it proposed by one city admin to take effect `in_secs` from now
/// and approved by the other: the approval's answer.
async fn switch_to_ershitiao(app: &TestApp, in_secs: i64) -> Value {
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/policies",
            json!({"text": ERSHITIAO_POLICY_TOML}),
        )
        .await;
    assert_eq!(s, 201);
    let path = format!("/api/v1/policies/{ERSHITIAO}");
    let at = xikang_server::now().plus(in_secs).to_rfc3339();
    let (s, _) = app
        .post(
            &app.admin,
            &format!("{path}/activate"),
            json!({"effective_from": at}),
        )
        .await;
    assert_eq!(s, 202);
    let (s, v) = app
        .post(&app.admin2, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

/// A venue category's close-contact rule and dwell time are the policy's: a version that
/// changes them is in force for tracing from its approval, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_policy_changes_venue_rules_without_a_restart() {
    let app = spawn_app().await;
    let shop = app
        .state
        .projection
        .venues
        .list
        .iter()
        .find(|v| v.category.as_str() == "supermarket")
        .map(|v| v.id.0)
        .expect("the synthetic city has a supermarket");
    let rules = |app: &TestApp| {
        let p = app.state.projection.tracing.population();
        (p.close_contact_secs(shop, 900), p.dwell_secs(shop))
    };
    // 第九版's default: nobody at a supermarket is a close contact; a visit lasts 30 minutes.
    assert_eq!(rules(&app), (None, 1_800));
    let version = "xikang-test-shops-count";
    let text = DEFAULT_POLICY_TOML
        .replace(DEFAULT, version)
        .replace(
            "close_contacts = false     # shoppers in aisles",
            "close_contact_minutes = 20 # shoppers in aisles",
        )
        .replace(
            "[venue.supermarket]\ndwell_minutes = 30",
            "[venue.supermarket]\ndwell_minutes = 45",
        );
    assert_ne!(text, DEFAULT_POLICY_TOML.replace(DEFAULT, version));
    let (s, v) = app
        .post(&app.admin, "/api/v1/policies", json!({"text": text}))
        .await;
    assert_eq!(s, 201, "{v}");
    let path = format!("/api/v1/policies/{version}");
    let now = xikang_server::now().to_rfc3339();
    let (s, _) = app
        .post(
            &app.admin,
            &format!("{path}/activate"),
            json!({"effective_from": now}),
        )
        .await;
    assert_eq!(s, 202);
    // Proposed only: tracing keeps the rules in force.
    assert_eq!(rules(&app), (None, 1_800));
    let (s, v) = app
        .post(&app.admin2, &format!("{path}/approve"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(app.state.policy().version(), version);
    assert_eq!(rules(&app), (Some(1_200), 2_700));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_activation_waits_for_its_instant() {
    let app = spawn_app().await;
    let v = switch_to_ershitiao(&app, 3_600).await;
    assert_eq!(v["active"], false);
    assert_eq!(app.state.policy().version(), DEFAULT);
    // Before its instant the sweep logs nothing; once it has passed, the sweep does.
    let now = xikang_server::now();
    assert_eq!(
        xikang_server::policies::record_due(&app.state, now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        xikang_server::policies::record_due(&app.state, now.plus(3_601))
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.state.policy().version(), ERSHITIAO);
    assert_eq!(activations(&app).last().unwrap().0, ERSHITIAO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_and_callers_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let stored = || app.store.policies().unwrap().len();
    let n = stored();
    assert_eq!(n, 1, "the policy loaded at start is stored");
    // A broken file, and an unknown value of the open-orders key: 422 naming the problem.
    let broken = ERSHITIAO_POLICY_TOML.replace("colour = \"red\"", "colour = \"purple\"");
    let unknown =
        ERSHITIAO_POLICY_TOML.replace("[duties]\n", "[duties]\nopen_orders = \"sometimes\"\n");
    for (text, says) in [(broken, "line"), (unknown, "open_orders")] {
        let (s, v) = app
            .post(&app.admin, "/api/v1/policies", json!({"text": text}))
            .await;
        assert_eq!(
            (s, &v["error"]["code"]),
            (422, &json!("invalid_policy")),
            "{v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{v}"
        );
    }
    // Another text under a stored version name.
    let edited = DEFAULT_POLICY_TOML.replace("retention_days = 21", "retention_days = 20");
    let (s, v) = app
        .post(&app.admin, "/api/v1/policies", json!({"text": edited}))
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (409, &json!("policy_version_taken")),
        "{v}"
    );
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/policies/{DEFAULT}/activate"),
            json!({"effective_from": "tomorrow"}),
        )
        .await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (400, &json!("invalid_effective_from"))
    );
    // A district admin may not upload, propose or approve.
    let district = app.districts()[0].clone();
    let da = app.role_token("district-admin", "admin", &district).await;
    let (s, v) = app
        .post(
            &da,
            "/api/v1/policies",
            json!({"text": ERSHITIAO_POLICY_TOML}),
        )
        .await;
    assert_eq!((s, &v["error"]["code"]), (403, &json!("forbidden")));
    let (s, _) = app
        .post(
            &da,
            &format!("/api/v1/policies/{DEFAULT}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(stored(), n);
    assert_eq!(app.state.policy().version(), DEFAULT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_another_file_than_the_approved_policy_is_refused() {
    let app = spawn_app().await;
    let v = switch_to_ershitiao(&app, 0).await;
    assert_eq!(v["active"], true);
    // The default file at start: refused, naming both versions.
    let err = xikang_server::state::AppState::load(
        app.store.clone(),
        xikang_server::ServerConfig::default(),
        xikang_domain::policy::Policy::default_policy(),
        &xikang_server::state::policy_sha256(DEFAULT_POLICY_TOML),
        xikang_server::now(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains(ERSHITIAO) && err.contains(DEFAULT), "{err}");
    // The approved file at start: served.
    let again = xikang_server::state::AppState::load(
        app.store.clone(),
        xikang_server::ServerConfig::default(),
        xikang_domain::policy::Policy::parse(ERSHITIAO_POLICY_TOML).unwrap(),
        &xikang_server::state::policy_sha256(ERSHITIAO_POLICY_TOML),
        xikang_server::now(),
    )
    .unwrap();
    assert_eq!(again.policy().version(), ERSHITIAO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_order_keeps_the_schedule_it_was_issued_under() {
    let app = spawn_app().await;
    let site = app.quarantine_site("A", "320213", 10, 31.50, "mgr-a").await;
    app.confirm_contact("P5", xikang_domain::event::ContactKind::Close)
        .await;
    let (s, order) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": "P5", "reason": "close_contact", "site": site,
                   "start": xikang_server::now().plus(-3_600).to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{order}");
    let id = order["id"].as_str().unwrap().to_owned();
    let tests = |v: &Value| v["tests"].as_array().unwrap().len();
    // 第九版: tests on days 1, 2, 3, 5, 7.
    assert_eq!(tests(&order), 5, "{order}");
    let v = switch_to_ershitiao(&app, 0).await;
    assert_eq!(v["active"], true);
    let (s, after) = app
        .get(&app.admin, &format!("/api/v1/quarantine/orders/{id}"))
        .await;
    assert_eq!(s, 200, "{after}");
    assert_eq!(after["planned_end"], order["planned_end"]);
    assert_eq!(after["tests"], order["tests"], "kept under the 二十条");
    // An order issued now follows the 二十条: days 1, 2, 3, 5.
    app.confirm_contact("P6", xikang_domain::event::ContactKind::Close)
        .await;
    let (s, new) = app
        .post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": "P6", "reason": "close_contact", "site": site}),
        )
        .await;
    assert_eq!(s, 201, "{new}");
    assert_eq!(tests(&new), 4, "{new}");
}
