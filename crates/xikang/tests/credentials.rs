//! API tokens expire and are revoked on every path (the auth cache and a second process on
//! the same store included); the token list never shows a secret; revocation is checked
//! against the revoker's area; reads of personal data are recorded in the access log.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Instant;
use xikang_domain::time::{DAY, HOUR};
use xikang_server::auth::{RECHECK, authenticate_at, token_digest};
use xikang_server::now;

/// The `xikang` binary, run as its own process on the app's data directory.
fn xikang(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    xikang_cli(app.dir.path(), args)
}

/// The 401 code an answer carries (`unauthorized`, `token_expired`, `token_revoked`).
fn refusal((status, v): (u16, Value)) -> (u16, String) {
    (status, v["error"]["code"].as_str().unwrap_or("").to_owned())
}

/// The code of [`authenticate_at`]'s answer, or `ok`.
async fn verdict(app: &TestApp, token: &str, at: Instant) -> String {
    match authenticate_at(&app.state, token, now(), at).await {
        Ok(_) => "ok".into(),
        Err(e) => e.summary().1.to_owned(),
    }
}

/// The id of the listed token named `name`, as the city admin sees the list.
async fn id_of(app: &TestApp, name: &str) -> String {
    let (s, list) = app.get(&app.admin, "/api/v1/tokens").await;
    assert_eq!(s, 200, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no token {name}: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_at_once_even_after_it_was_cached() {
    let app = spawn_app().await;
    let tracer = app.role_token("wang", "tracer", "320200").await;
    // Used first, so that its lookup is cached.
    assert_eq!(app.get(&tracer, "/api/v1/cases").await.0, 200);
    assert_eq!(app.get(&tracer, "/api/v1/cases").await.0, 200);
    let id = id_of(&app, "wang").await;
    let (s, v) = app
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str(), v["id"].as_str()),
        (200, Some("revoked"), Some(id.as_str())),
        "{v}"
    );
    assert!(v["revoked_at"].is_string(), "{v}");
    assert_eq!(
        refusal(app.get(&tracer, "/api/v1/cases").await),
        (401, "token_revoked".into())
    );
    // Revoking again is harmless; the web lookup page refuses it too.
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        verdict(&app, &tracer, Instant::now()).await,
        "token_revoked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_another_process_reaches_this_ones_cache_within_the_recheck_time() {
    assert!(
        RECHECK.as_secs() < 5,
        "revocation must take effect within 5 s"
    );
    let app = spawn_app().await;
    let tracer = app.role_token("li", "tracer", "320200").await;
    assert_eq!(app.get(&tracer, "/api/v1/cases").await.0, 200);
    let cached_at = Instant::now();
    assert_eq!(verdict(&app, &tracer, cached_at).await, "ok");

    // `xikang token list` shows it (without its secret); `xikang token revoke`, a separate
    // process on the same store, revokes it.
    let id = id_of(&app, "li").await;
    let (ok, out, err) = xikang(&app, &["token", "list"]);
    assert!(ok && out.contains(&id), "{out} {err}");
    assert!(!out.contains(&tracer), "the list shows no secret");
    // The command line shows times as the web pages do, in Asia/Shanghai time (with its
    // offset), never UTC: docs/decisions.md, "Time".
    let line = out.lines().find(|l| l.contains(&id)).unwrap();
    assert!(line.contains("+08:00") && !line.contains("Z\t"), "{line}");
    let (ok, out, err) = xikang(&app, &["token", "revoke", &id]);
    assert!(ok && out.contains("revoked"), "{out} {err}");
    let (ok, _, err) = xikang(&app, &["token", "revoke", "TK999999"]);
    assert!(!ok && err.contains("no token"), "{err}");

    // This process's cached lookup is trusted for at most RECHECK: by then it is refused.
    assert_eq!(
        verdict(&app, &tracer, cached_at + RECHECK).await,
        "token_revoked"
    );
    assert_eq!(
        refusal(app.get(&tracer, "/api/v1/cases").await).0,
        401,
        "the HTTP path reads the same cache"
    );

    // A token whose row is deleted by hand is refused alike.
    let other = app.role_token("zhao", "tracer", "320200").await;
    let t0 = Instant::now();
    assert_eq!(verdict(&app, &other, t0).await, "ok");
    app.store
        .execute_raw_for_tests("delete from api_tokens where name = 'zhao'")
        .unwrap();
    assert_eq!(verdict(&app, &other, t0 + RECHECK).await, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_with_its_own_code_cached_or_not() {
    let app = spawn_app().await;
    // Issued with an expiry already past at the server's clock (as `token create` could
    // have, a while ago).
    put_token_expiring(
        app.store.as_ref(),
        "xk_expired",
        "tracer",
        "320200",
        now().plus(-60),
    );
    assert_eq!(
        refusal(app.get("xk_expired", "/api/v1/cases").await),
        (401, "token_expired".into())
    );
    assert_eq!(
        refusal(app.get("xk_no_such_token", "/api/v1/cases").await),
        (401, "unauthorized".into())
    );

    // A cached lookup is checked against the clock on every request: the same cached token
    // asked about two hours on, past its one-hour expiry, is refused.
    let in_an_hour = now().plus(HOUR).to_rfc3339();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            json!({"name": "short", "role": "tracer", "area": "320200", "expires_at": in_an_hour}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["expires_at"], json!(in_an_hour));
    let short = v["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&short, "/api/v1/cases").await.0, 200);
    let later = authenticate_at(&app.state, &short, now().plus(2 * HOUR), Instant::now()).await;
    assert_eq!(
        later.map_err(|e| e.summary().1).err(),
        Some("token_expired")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiries_default_per_role_and_an_issuer_stays_within_the_ceiling() {
    let app = spawn_app().await;
    let issue = |role: &str, expires_at: Option<String>| {
        let mut body = json!({"name": format!("{role}-x"), "role": role, "area": "320200"});
        if let Some(e) = expires_at {
            body["expires_at"] = json!(e);
        }
        body
    };
    let expiry = |v: &Value| {
        xikang_domain::Timestamp::parse_rfc3339(v["expires_at"].as_str().unwrap()).unwrap()
    };
    let before = now();
    let (_, admin) = app
        .post(&app.admin, "/api/v1/tokens", issue("admin", None))
        .await;
    let (_, device) = app
        .post(&app.admin, "/api/v1/tokens", issue("venue_device", None))
        .await;
    let after = now();
    // Admins 12 hours, venue devices a year (docs/authorisation.md).
    assert!(
        (before.plus(12 * HOUR)..=after.plus(12 * HOUR)).contains(&expiry(&admin)),
        "{admin}"
    );
    assert!(
        (before.plus(365 * DAY)..=after.plus(365 * DAY)).contains(&expiry(&device)),
        "{device}"
    );
    for bad in [now().plus(8 * DAY), now().plus(-HOUR)] {
        let (s, v) = app
            .post(
                &app.admin,
                "/api/v1/tokens",
                issue("admin", Some(bad.to_rfc3339())),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("invalid_expiry")),
            "{v}"
        );
    }
    let (s, _) = app
        .post(
            &app.admin,
            "/api/v1/tokens",
            issue("admin", Some(now().plus(6 * DAY).to_rfc3339())),
        )
        .await;
    assert_eq!(s, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_list_never_shows_a_secret_and_each_admin_sees_and_revokes_their_area_only() {
    let app = spawn_app().await;
    let districts = app.districts();
    let (home, away) = (districts[0].clone(), districts[1].clone());
    let boss = app.role_token("boss", "admin", &home).await;
    let home_door = app
        .token(json!({"name": "home-door", "role": "venue_device", "area": home}))
        .await;
    let away_door = app
        .token(json!({"name": "away-door", "role": "venue_device", "area": away}))
        .await;
    let secrets = [&app.admin, &boss, &home_door, &away_door];

    let (s, all) = app.get(&app.admin, "/api/v1/tokens").await;
    assert_eq!(s, 200);
    let text = all.to_string();
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "a secret is listed");
        let digest: String = token_digest(secret)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!text.contains(&digest), "a digest is listed");
    }
    let keys = [
        "area",
        "created_at",
        "expires_at",
        "id",
        "id_lookup",
        "name",
        "role",
        "state",
    ];
    for t in all["items"].as_array().unwrap() {
        let mut got: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        got.retain(|k| !["person", "venue", "revoked_at"].contains(k));
        assert_eq!(got, keys, "{t}");
    }
    // The harness's two city admins, the district admin and the two doors.
    assert_eq!(all["items"].as_array().unwrap().len(), 5, "{all}");

    // The district admin lists their district's tokens (their own and the home door).
    let (_, theirs) = app.get(&boss, "/api/v1/tokens").await;
    let names: Vec<&str> = theirs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boss", "home-door"], "{theirs}");

    // They revoke neither another district's token nor the city admin's.
    for name in ["away-door", "admin"] {
        let id = id_of(&app, name).await;
        let (s, v) = app
            .call("DELETE", &format!("/api/v1/tokens/{id}"), Some(&boss), None)
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{name}: {v}"
        );
    }
    assert_eq!(app.get(&away_door, "/api/v1/venues?limit=1").await.0, 200);
    let id = id_of(&app, "home-door").await;
    let (s, _) = app
        .call("DELETE", &format!("/api/v1/tokens/{id}"), Some(&boss), None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        refusal(app.get(&home_door, "/api/v1/venues?limit=1").await),
        (401, "token_revoked".into())
    );
    // Only admins revoke; unknown and malformed ids are told apart.
    let tracer = app.role_token("t", "tracer", &home).await;
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(&tracer),
            None,
        )
        .await;
    assert_eq!(s, 403);
    let (s, v) = app
        .call("DELETE", "/api/v1/tokens/TK999999", Some(&app.admin), None)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("unknown_token"))
    );
    let (s, v) = app
        .call("DELETE", "/api/v1/tokens/zz", Some(&app.admin), None)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_token_id"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_personal_data_are_found_in_the_access_log_by_actor_and_by_person() {
    let app = spawn_app().await;
    let districts = app.districts();
    let (home, away) = (districts[0].clone(), districts[1].clone());
    let home_people = app.residents_of(&home);
    let (p, q) = (
        format!("P{}", home_people[0]),
        format!("P{}", home_people[1]),
    );
    let away_p = format!("P{}", app.residents_of(&away)[0]);
    let tracer = app.role_token("wang", "tracer", &home).await;
    let resident = app
        .token(json!({"name": "me", "role": "resident", "area": home, "person": q}))
        .await;

    assert_eq!(
        app.get(&tracer, &format!("/api/v1/people/{p}")).await.0,
        200
    );
    assert_eq!(
        app.get(
            &tracer,
            &format!("/api/v1/people/{p}?unmask=true&purpose=phone%20back")
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.get(&tracer, &format!("/api/v1/people/{q}/code"))
            .await
            .0,
        200
    );
    assert_eq!(
        app.get(&tracer, &format!("/api/v1/people?area={home}&limit=5"))
            .await
            .0,
        200
    );
    // A case and a page of its contacts: one event for the case's person, one per contact
    // on the page.
    let case_person = format!("P{}", home_people[2]);
    let onset = now().plus(-2 * DAY).to_rfc3339();
    let (s, case) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": case_person, "kind": "confirmed", "onset": onset}),
        )
        .await;
    assert_eq!(s, 201, "{case}");
    let case = case["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get(&tracer, &format!("/api/v1/cases/{case}")).await.0,
        200
    );
    let (s, contacts) = app
        .get(&tracer, &format!("/api/v1/cases/{case}/contacts?limit=20"))
        .await;
    assert_eq!(s, 200, "{contacts}");
    let listed: Vec<String> = contacts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["person"].as_str().unwrap().to_owned())
        .collect();
    // A resident reading their own code is not an access to someone else's data.
    assert_eq!(
        app.get(&resident, &format!("/api/v1/people/{q}/code"))
            .await
            .0,
        200
    );

    let (s, log) = app
        .get(&app.admin, &format!("/api/v1/access?person={p}"))
        .await;
    assert_eq!(s, 200, "{log}");
    let items = log["items"].as_array().unwrap();
    let routes: Vec<(&str, &str, Option<&str>)> = items
        .iter()
        .map(|a| {
            (
                a["actor"].as_str().unwrap(),
                a["route"].as_str().unwrap(),
                a["purpose"].as_str(),
            )
        })
        .collect();
    assert!(
        routes.contains(&("tracer:wang", "GET /api/v1/people/{id}", None))
            && routes.contains(&("tracer:wang", "GET /api/v1/people/{id}", Some("phone back"))),
        "{log}"
    );
    // Ids, route, purpose and time only.
    for a in items {
        let keys: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(
            keys.iter()
                .all(|k| ["actor", "at", "id", "person", "purpose", "route"].contains(k)),
            "{a}"
        );
        assert_eq!(a["person"], json!(p));
    }

    let (_, by_actor) = app
        .get(&app.admin, "/api/v1/access?actor=tracer:wang&limit=1000")
        .await;
    let read: Vec<(&str, &str)> = by_actor["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["person"].as_str().unwrap(), a["route"].as_str().unwrap()))
        .collect();
    assert!(
        read.contains(&(q.as_str(), "GET /api/v1/people/{id}/code")),
        "{by_actor}"
    );
    assert!(
        read.iter().filter(|r| r.1 == "GET /api/v1/people").count() >= 5,
        "every person of the list page: {by_actor}"
    );
    assert!(
        read.contains(&(case_person.as_str(), "GET /api/v1/cases/{id}")),
        "{by_actor}"
    );
    let mut contacts_read: Vec<String> = read
        .iter()
        .filter(|r| r.1 == "GET /api/v1/cases/{id}/contacts")
        .map(|r| r.0.to_owned())
        .collect();
    contacts_read.sort();
    let mut listed = listed;
    listed.sort();
    assert_eq!(contacts_read, listed, "one event per contact on the page");
    let (_, by_resident) = app
        .get(&app.admin, "/api/v1/access?actor=resident:me")
        .await;
    assert_eq!(by_resident["items"], json!([]), "{by_resident}");

    // A district admin reads who read their residents, not the rest of the city's.
    let boss = app.role_token("boss", "admin", &home).await;
    let (s, _) = app.get(&boss, &format!("/api/v1/access?person={p}")).await;
    assert_eq!(s, 200);
    let (s, v) = app
        .get(&boss, &format!("/api/v1/access?person={away_p}"))
        .await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, _) = app.get(&tracer, "/api/v1/access").await;
    assert_eq!(s, 403, "admins only");
}

/// Runs `xikang serve` on the data directory `dir` with `--admin-token`, until it has printed its
/// greeting (or exited): its stdout, and its stderr if it exited.
fn serve_with_admin_token(dir: std::path::PathBuf, token: &'static str) -> (String, String) {
    use std::io::Read;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xikang"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-token", token])
        .args(["--admin-password", "a long enough password 1"])
        .env("XIKANG_DATA", dir)
        .env("XIKANG_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = read_greeting(child.stdout.take().unwrap());
    child.kill().unwrap();
    child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (out, err)
}

/// Every person under a key `person`, anywhere in a JSON answer (`P7`; the authority
/// log's bodies hold the bare number).
fn people_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("person", Value::String(p)) => out.push(p.clone()),
                    ("person", Value::Number(n)) => out.push(format!("P{n}")),
                    _ => people_in(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| people_in(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_of_cases_events_appeals_holds_and_clusters_are_access_logged_per_person() {
    let app = spawn_app().await;
    let home = app.districts()[0].clone();
    let people = app.residents_of(&home);
    // A city-level admin: the authority log is theirs only.
    let reader = app.role_token("li", "admin", "320200").await;
    let (case_person, appellant, held) = (
        format!("P{}", people[0]),
        format!("P{}", people[1]),
        format!("P{}", people[2]),
    );
    let onset = now().plus(-2 * DAY).to_rfc3339();
    let (s, case) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": case_person, "kind": "confirmed", "onset": onset}),
        )
        .await;
    assert_eq!(s, 201, "{case}");
    let case = case["id"].as_str().unwrap().to_owned();
    // A close contact who falls ill links the two cases into a cluster.
    let (s, close) = app
        .get(
            &app.admin,
            &format!("/api/v1/cases/{case}/contacts?kind=close&limit=1"),
        )
        .await;
    assert_eq!(s, 200, "{close}");
    let second = close["items"][0]["person"].as_str().unwrap().to_owned();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/cases",
            json!({"person": second, "kind": "confirmed", "onset": now().to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post(
            &app.admin,
            &format!("/api/v1/people/{appellant}/appeals"),
            json!({"reason": "my test was negative"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let expires = now().plus(DAY).to_rfc3339();
    let (s, v) = app
        .post(
            &app.admin,
            "/api/v1/holds",
            json!({"person": held, "basis": "under review", "expires_at": expires}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, clusters) = app.get(&reader, "/api/v1/clusters").await;
    assert_eq!(s, 200, "{clusters}");
    let cluster = clusters["items"][0]["id"].as_str().unwrap().to_owned();

    // Each list names people; each person named must be in the access log under the
    // list's route, read by this admin.
    let mut expected: Vec<(String, &str)> = Vec::new();
    for (path, route, must_name) in [
        (
            "/api/v1/cases".to_owned(),
            "GET /api/v1/cases",
            Some(&case_person),
        ),
        (
            "/api/v1/events?limit=1000".to_owned(),
            "GET /api/v1/events",
            Some(&case_person),
        ),
        (
            "/api/v1/appeals".to_owned(),
            "GET /api/v1/appeals",
            Some(&appellant),
        ),
        ("/api/v1/holds".to_owned(), "GET /api/v1/holds", Some(&held)),
        (
            format!("/api/v1/cases/{case}/sources"),
            "GET /api/v1/cases/{id}/sources",
            None,
        ),
    ] {
        let (s, v) = app.get(&reader, &path).await;
        assert_eq!(s, 200, "{path}: {v}");
        let mut named = Vec::new();
        people_in(&v, &mut named);
        if let Some(p) = must_name {
            assert!(named.contains(p), "{path} names {p}: {v}");
        }
        expected.extend(named.into_iter().map(|p| (p, route)));
    }
    let (s, v) = app
        .get(&reader, &format!("/api/v1/clusters/{cluster}"))
        .await;
    assert_eq!(s, 200, "{v}");
    expected.push((case_person.clone(), "GET /api/v1/clusters/{id}"));

    let (s, log) = app
        .get(&app.admin, "/api/v1/access?actor=admin:li&limit=10000")
        .await;
    assert_eq!(s, 200, "{log}");
    let recorded: std::collections::HashSet<(String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["person"].as_str().unwrap().to_owned(),
                a["route"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (p, route) in expected {
        assert!(
            recorded.contains(&(p.clone(), route.to_owned())),
            "{p} read through {route} is not in the access log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_token_given_to_serve_is_never_printed_and_refused_once_revoked() {
    let app = spawn_app().await;
    let supplied = "xk_supplied_admin_token_0123456789";
    let dir = app.dir.path().to_owned();
    let (out, err) = tokio::task::spawn_blocking(move || serve_with_admin_token(dir, supplied))
        .await
        .unwrap();
    assert!(out.contains("as supplied"), "{out} {err}");
    assert!(
        !out.contains(supplied) && !err.contains(supplied),
        "printed: {out}"
    );
    // The stored token works against this server too, with the admin lifetime.
    let stored = app
        .store
        .api_token(&token_digest(supplied))
        .unwrap()
        .unwrap();
    assert!(stored.token.expires_at <= now().plus(12 * HOUR));
    assert_eq!(app.get(supplied, "/api/v1/tokens").await.0, 200);

    // Once revoked, a restart with it refuses to start rather than bring it back.
    let (s, _) = app
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{}", stored.id),
            Some(&app.admin),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let dir = app.dir.path().to_owned();
    let (out, err) = tokio::task::spawn_blocking(move || serve_with_admin_token(dir, supplied))
        .await
        .unwrap();
    assert!(!out.contains("serving"), "{out}");
    assert!(err.contains("was revoked"), "{err}");
    assert_eq!(
        refusal(app.get(supplied, "/api/v1/tokens").await),
        (401, "token_revoked".into())
    );
}
