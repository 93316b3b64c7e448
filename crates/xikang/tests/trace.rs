//! Contact tracing over HTTP: the real server on a small generated city, its tracing index
//! loaded from the store, the tracer's workflow as authority events, and the exports.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failure should fail the test at once"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use xikang_domain::{PersonId, Timestamp};

/// The person with the most check-ins in the generated city who lives with someone.
fn busy_person(app: &TestApp) -> PersonId {
    let now = xikang_server::now();
    (0..PEOPLE)
        .map(PersonId)
        .filter(|p| {
            let me = app.store.person(*p).unwrap().unwrap();
            // With a team or class (whose room is a venue where close contacts are made:
            // shops and markets designate none under the shipped policy) and a household.
            me.workplace.is_some()
                && (0..PEOPLE).any(|q| {
                    q != p.0
                        && app.store.person(PersonId(q)).unwrap().unwrap().household == me.household
                })
        })
        .max_by_key(|p| {
            app.store
                .checkins_of_person(*p, now.plus(-5 * 86_400), now)
                .unwrap()
                .len()
        })
        .unwrap()
}

async fn register(app: &TestApp, person: PersonId) -> String {
    register_with_onset(app, person, xikang_server::now().plus(-86_400)).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Registers a case and returns the answer.
async fn register_with_onset(app: &TestApp, person: PersonId, onset: Timestamp) -> Value {
    let onset = onset.to_rfc3339();
    let r = app
        .conn()
        .await
        .post_json(
            "/api/v1/cases",
            Some(&app.admin),
            &json!({"person": person.to_string(), "kind": "confirmed", "onset": onset}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

async fn contacts(app: &TestApp, case: &str, query: &str) -> Value {
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

async fn act(app: &TestApp, case: &str, person: &str, body: Value) -> (u16, Value) {
    let r = app
        .conn()
        .await
        .post_json(
            &format!("/api/v1/cases/{case}/contacts/{person}"),
            Some(&app.admin),
            &body,
        )
        .await
        .unwrap();
    (r.status, r.json())
}

fn ts(v: &Value) -> Timestamp {
    Timestamp::parse_rfc3339(v.as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_lists_its_contacts_with_evidence_the_store_confirms() {
    let app = spawn_app().await;
    let person = busy_person(&app);
    let registered = register_with_onset(&app, person, xikang_server::now().plus(-86_400)).await;
    let case = registered["id"].as_str().unwrap().to_owned();
    let list = contacts(&app, &case, "").await;
    // Tracing started at registration: the answer counted what the list now shows.
    let count = |kind: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == kind)
            .count() as u64
    };
    assert_eq!(
        registered["contacts"]["close"].as_u64(),
        Some(count("close"))
    );
    assert_eq!(
        registered["contacts"]["secondary"].as_u64(),
        Some(count("secondary"))
    );
    assert_eq!(list["policy_version"], "xikang-default-2022.09");
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{list}");
    let me = app.store.person(person).unwrap().unwrap();
    let mut household = BTreeSet::new();
    for it in items {
        assert_ne!(
            it["person"],
            person.to_string(),
            "the case is not its own contact"
        );
        let p = PersonId::parse(it["person"].as_str().unwrap()).unwrap();
        let them = app.store.person(p).unwrap().unwrap();
        for e in it["evidence"].as_array().unwrap() {
            match e["rule"].as_str().unwrap() {
                "household" => {
                    assert_eq!(them.household, me.household);
                    // Exposed until the case was isolated, which without a recorded time
                    // is its registration: a fixed instant, not the time of the request.
                    assert_eq!(e["last"], registered["registered_at"], "{e}");
                    household.insert(p);
                }
                "venue" => {
                    // Both were scanned at that venue, near the overlap the server reports.
                    let venue =
                        xikang_domain::VenueId::parse(e["venue"].as_str().unwrap()).unwrap();
                    let (first, last) = (ts(&e["first"]), ts(&e["last"]));
                    assert!(first < last);
                    assert!(e["overlap_minutes"].as_i64().unwrap() >= 15, "{e}");
                    let around = |who: PersonId| {
                        app.store
                            .checkins_at_venue(venue, first.plus(-86_400), last.plus(86_400))
                            .unwrap()
                            .iter()
                            .any(|c| c.person == who)
                    };
                    assert!(around(person) && around(p), "{e}");
                    assert!(!e["case_presence"].as_array().unwrap().is_empty());
                    assert!(!e["contact_presence"].as_array().unwrap().is_empty());
                }
                "workplace" => assert_eq!(them.workplace, me.workplace),
                "secondary" => assert_eq!(it["kind"], "secondary"),
                // The generated city's pings may make companions (tests/pings.rs checks them).
                "companion" => assert!(e["cell"].is_u64(), "{e}"),
                other => panic!("unexpected rule {other}"),
            }
        }
        assert_eq!(it["status"], "candidate");
    }
    // Everyone the case lives with is a close contact by the household rule.
    let expected: BTreeSet<PersonId> = (0..PEOPLE)
        .map(PersonId)
        .filter(|q| *q != person)
        .filter(|q| app.store.person(*q).unwrap().unwrap().household == me.household)
        .collect();
    assert_eq!(household, expected);

    // Paging: the pages put together are the list.
    let total = list["count"].as_u64().unwrap() as usize;
    assert!(total >= 3, "{list}");
    let first = contacts(&app, &case, "?limit=2").await;
    let rest = contacts(&app, &case, "?offset=2&limit=10000").await;
    assert_eq!(first["count"].as_u64(), Some(total as u64));
    let paged: Vec<Value> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .cloned()
        .collect();
    // Contacts are computed on every request; the close contacts' rows, exposure times
    // included, are the same whoever asks when (the window ends at the case's isolation,
    // not at the request). A secondary contact's exposure to an unquarantined close
    // contact is still going on, so for them only who is listed is compared.
    let who =
        |items: &[Value]| -> Vec<Value> { items.iter().map(|c| c["person"].clone()).collect() };
    assert_eq!(who(&paged), who(list["items"].as_array().unwrap()));
    let close_rows = |items: &[Value]| -> Vec<Value> {
        items
            .iter()
            .filter(|c| c["kind"] == "close")
            .cloned()
            .collect()
    };
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let later = contacts(&app, &case, "").await;
    assert_eq!(
        close_rows(later["items"].as_array().unwrap()),
        close_rows(list["items"].as_array().unwrap()),
        "two requests a second apart list the same close contacts with the same times"
    );
    assert_eq!(
        close_rows(&paged),
        close_rows(list["items"].as_array().unwrap())
    );
    let r = app
        .conn()
        .await
        .get(
            &format!("/api/v1/cases/{case}/contacts?limit=0"),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!("invalid_limit"))
    );

    // Filters.
    let by_rule = contacts(&app, &case, "?rule=household").await;
    assert_eq!(by_rule["count"].as_u64().unwrap() as usize, expected.len());
    let none = contacts(&app, &case, "?status=quarantined").await;
    assert_eq!(none["count"], 0);
    let r = app
        .conn()
        .await
        .get(
            &format!("/api/v1/cases/{case}/contacts?rule=telepathy"),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!("invalid_rule"))
    );

    // GET /scans is answered from the same index and agrees with the store.
    let now = xikang_server::now();
    let r = app
        .conn()
        .await
        .get(
            &format!(
                "/api/v1/scans?person={person}&from={}&to={}",
                now.plus(-3 * 86_400).to_rfc3339(),
                now.to_rfc3339()
            ),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let stored = app
        .store
        .checkins_of_person(person, now.plus(-3 * 86_400), now)
        .unwrap();
    assert_eq!(r.json()["items"].as_array().unwrap().len(), stored.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracer_workflow_is_a_chain_of_authority_events_and_the_colour_follows() {
    let app = spawn_app().await;
    let case = register(&app, busy_person(&app)).await;
    let list = contacts(&app, &case, "?kind=close").await;
    let items = list["items"].as_array().unwrap();
    assert!(items.len() >= 2, "{list}");
    let a = items[0]["person"].as_str().unwrap().to_owned();
    let b = items[1]["person"].as_str().unwrap().to_owned();
    let colour = |p: String| {
        let app = &app;
        async move {
            app.conn()
                .await
                .get(&format!("/api/v1/people/{p}/code"), Some(&app.admin))
                .await
                .unwrap()
                .json()["colour"]
                .clone()
        }
    };
    assert_eq!(colour(a.clone()).await, "green");

    // Out of order: a candidate cannot be notified or quarantined.
    let (status, body) = act(&app, &case, &a, json!({"action": "notify"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("contact_status"))
    );
    let (status, _) = act(&app, &case, &a, json!({"action": "quarantine"})).await;
    assert_eq!(status, 409);

    let (status, body) = act(&app, &case, &a, json!({"action": "confirm"})).await;
    assert_eq!(
        (status, body["status"].clone()),
        (200, json!("confirmed")),
        "{body}"
    );
    // The designation turns the close contact's code red (the default policy).
    assert_eq!(colour(a.clone()).await, "red");
    let (status, _) = act(&app, &case, &a, json!({"action": "confirm"})).await;
    assert_eq!(status, 409, "confirmed twice");
    let (status, body) = act(&app, &case, &a, json!({"action": "notify"})).await;
    assert_eq!((status, body["status"].clone()), (200, json!("notified")));
    // Centralized quarantine needs a site; the order comes from the duties' order system.
    let (status, body) = act(&app, &case, &a, json!({"action": "quarantine"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("site_required"))
    );
    let r = app
        .conn()
        .await
        .post_json(
            "/api/v1/quarantine/sites",
            Some(&app.admin),
            &json!({"name": "梁溪隔离点", "kind": "centralized", "area": "320213", "lat": 31.57,
                    "lon": 120.3, "capacity": 10, "manager": "site-1"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let site = r.json()["id"].as_str().unwrap().to_owned();
    let (status, body) = act(
        &app,
        &case,
        &a,
        json!({"action": "quarantine", "site": site}),
    )
    .await;
    assert_eq!(
        (status, body["status"].clone()),
        (200, json!("quarantined")),
        "{body}"
    );
    let order = body["order"].as_str().unwrap().to_owned();
    assert!(order.starts_with('Q'), "{body}");
    // The same order, with its plan, in the quarantine API.
    let r = app
        .conn()
        .await
        .get(
            &format!("/api/v1/quarantine/orders/{order}"),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    // Dismissing needs a reason; with one, the candidate leaves the open list.
    let (status, body) = act(&app, &case, &b, json!({"action": "dismiss"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("reason_required"))
    );
    let (status, body) = act(
        &app,
        &case,
        &b,
        json!({"action": "dismiss", "reason": "wore a mask, outdoors"}),
    )
    .await;
    assert_eq!((status, body["status"].clone()), (200, json!("dismissed")));

    // Someone the data does not show as a contact cannot be confirmed.
    let listed: BTreeSet<String> = contacts(&app, &case, "").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["person"].as_str().unwrap().to_owned())
        .collect();
    let stranger = (0..PEOPLE)
        .map(|p| format!("P{p}"))
        .find(|p| !listed.contains(p) && *p != a)
        .unwrap();
    let (status, body) = act(&app, &case, &stranger, json!({"action": "confirm"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (404, json!("not_a_contact"))
    );
    let (status, body) = act(&app, &case, &a, json!({"action": "teleport"})).await;
    assert_eq!(status, 400, "{body}");

    let quarantined = contacts(&app, &case, "?status=quarantined").await;
    assert_eq!(quarantined["count"], 1);
    assert_eq!(quarantined["items"][0]["person"], a.as_str());
    let dismissed = contacts(&app, &case, "?status=dismissed").await;
    assert_eq!(
        dismissed["items"][0]["dismissed_reason"],
        "wore a mask, outdoors"
    );

    // Each step is in the authority log, in order.
    let log = app
        .conn()
        .await
        .get("/api/v1/events?limit=1000", Some(&app.admin))
        .await
        .unwrap()
        .json();
    let kinds: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let p = format!("P{}", e["body"]["person"]);
            p == a || p == b
        })
        .map(|e| e["body"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "contact_designated",
            "contact_notified",
            "quarantine_ordered",
            "contact_released"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_masked_unless_a_tracer_gives_a_purpose_and_each_is_logged() {
    let app = spawn_app().await;
    let case = register(&app, busy_person(&app)).await;
    let count = contacts(&app, &case, "").await["count"].as_u64().unwrap() as usize;
    let mut c = app.conn().await;
    let r = c
        .get(
            &format!("/api/v1/cases/{case}/contacts/export?format=csv"),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/csv"));
    let csv = r.text();
    let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), count + 1, "a header and one line per contact");
    let first = app
        .store
        .person(PersonId::parse(lines[1].split(',').next().unwrap()).unwrap())
        .unwrap()
        .unwrap();
    assert!(!csv.contains(&first.name), "names are masked by default");
    assert!(!csv.contains(first.id_number.expose()));
    assert!(csv.contains(&first.id_number.masked()));

    // Unmasking needs a purpose, and then shows the real values.
    let r = c
        .get(
            &format!("/api/v1/cases/{case}/contacts/export?format=csv&unmask=true"),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (400, json!("purpose_required"))
    );
    let r = c
        .get(
            &format!("/api/v1/cases/{case}/contacts/export?format=xlsx&unmask=true&purpose=phone%20contacts"),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..2], b"PK", "an XLSX file is a zip");

    // Not for other roles.
    let lab = app
        .token(json!({"name": "lab-1", "role": "lab", "area": "320200"}))
        .await;
    let r = c
        .get(&format!("/api/v1/cases/{case}/contacts/export"), Some(&lab))
        .await
        .unwrap();
    assert_eq!(r.status, 403);

    let log = c
        .get("/api/v1/events?limit=1000", Some(&app.admin))
        .await
        .unwrap()
        .json();
    let exports: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["body"]["kind"] == "contact_list_exported")
        .collect();
    assert_eq!(exports.len(), 2);
    assert_eq!(exports[0]["body"]["unmasked"], false);
    assert_eq!(exports[1]["body"]["unmasked"], true);
    assert_eq!(exports[1]["basis"], "phone contacts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linked_cases_form_a_cluster_and_sources_rank_known_cases() {
    let app = spawn_app().await;
    let first = busy_person(&app);
    let case1 = register(&app, first).await;
    let close = contacts(&app, &case1, "?kind=close&rule=venue").await;
    let second = close["items"][0]["person"].as_str().unwrap().to_owned();
    let second = PersonId::parse(&second).unwrap();
    // Onset now: the whole generated history is in its incubation period.
    let case2 = register_with_onset(&app, second, xikang_server::now()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut c = app.conn().await;
    let list = c
        .get("/api/v1/clusters", Some(&app.admin))
        .await
        .unwrap()
        .json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let k = c
        .get(&format!("/api/v1/clusters/{id}"), Some(&app.admin))
        .await
        .unwrap()
        .json();
    let cases: BTreeSet<&str> = k["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(cases, BTreeSet::from([case1.as_str(), case2.as_str()]));
    assert!(!k["edges"].as_array().unwrap().is_empty());
    for e in k["edges"].as_array().unwrap() {
        assert!(
            e["first"].is_string() && e["overlap_minutes"].is_i64(),
            "{e}"
        );
        if let Some(v) = e["venue"].as_str() {
            assert!(xikang_domain::VenueId::parse(v).is_some());
        }
    }
    let dot = c
        .get(
            &format!("/api/v1/clusters/{id}?format=dot"),
            Some(&app.admin),
        )
        .await
        .unwrap();
    assert!(dot.text().starts_with("graph") || dot.text().starts_with("digraph"));
    assert!(dot.text().contains(&case1) && dot.text().contains(&case2));
    let r = c
        .get("/api/v1/clusters/K999", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(r.status, 404);

    // The second case's sources include the first case, flagged as a known case.
    let sources = c
        .get(&format!("/api/v1/cases/{case2}/sources"), Some(&app.admin))
        .await
        .unwrap()
        .json();
    let items = sources["items"].as_array().unwrap();
    let found = items
        .iter()
        .find(|s| s["person"] == first.to_string())
        .unwrap_or_else(|| panic!("{sources}"));
    assert_eq!(found["case"], case1.as_str());
    assert!(found["overlap_minutes"].as_i64().unwrap() > 0);
    // Ranked by exposure, most first.
    let minutes: Vec<i64> = items
        .iter()
        .map(|s| s["overlap_minutes"].as_i64().unwrap())
        .collect();
    assert!(minutes.windows(2).all(|w| w[0] >= w[1]), "{minutes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_case_registrations_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let mut c = app.conn().await;
    let now = xikang_server::now();
    let post = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .conn()
                .await
                .post_json("/api/v1/cases", Some(&app.admin), &body)
                .await
                .unwrap();
            (
                r.status,
                r.json()["error"]["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    let day = |d: i64| now.plus(d * 86_400).to_rfc3339();
    assert_eq!(
        post(json!({"person": "P99999", "kind": "confirmed", "onset": day(-1)})).await,
        (404, "unknown_person".into())
    );
    assert_eq!(
        post(json!({"person": "P1", "kind": "confirmed", "onset": day(2)})).await,
        (400, "time_in_future".into())
    );
    assert_eq!(
        post(
            json!({"person": "P1", "kind": "confirmed", "onset": day(-1), "isolated_at": day(-2)})
        )
        .await,
        (400, "isolation_before_onset".into())
    );
    assert_eq!(
        post(json!({"person": "P1", "kind": "confirmed"})).await,
        (400, "onset_or_sampling_required".into())
    );
    let cases = c
        .get("/api/v1/cases", Some(&app.admin))
        .await
        .unwrap()
        .json();
    assert_eq!(cases["items"].as_array().unwrap().len(), 0);
    let r = c
        .get("/api/v1/cases/C1/contacts", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (404, json!("unknown_case"))
    );
}

/// `xikang bench-trace` asks PostgreSQL the questions xikang's tracer answers, in each SQL
/// form (raw scans with window functions, the stays table with btrees, with GiST), with the
/// policy's close-contact rule per venue category loaded as `venues.close`; it exits with
/// status 3 when any system's contact set differs from xikang's for any case. On a small city
/// this is the automated form of the check that was made by hand (docs/tracing.md).
#[test]
fn postgresql_finds_the_same_close_contacts_as_xikang_under_the_per_category_venue_rule() {
    let Some(url) = common::pg::postgres_url() else {
        return;
    };
    let fresh = common::pg::FreshSchema::new(url.clone(), "trace_bench");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let store = xikang_store::open(&xikang_store::Target::Sqlite(data.clone())).unwrap();
        let cfg = xikang_sim::CityConfig {
            people: 2_000,
            days: 3,
            seed: 11,
            first_day: xikang_domain::CivilDay(xikang_server::now().shanghai_day().0 - 2),
        };
        xikang::load::generate_into(store.as_ref(), &cfg).unwrap();
    }
    let work = dir.path().join("work");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xikang"))
        .args([
            "bench-trace",
            "--cases",
            "300",
            "--single",
            "3",
            "--no-duckdb",
        ])
        .args(["--pg", &url, "--pg-schema", &fresh.schema, "--work"])
        .arg(&work)
        .env("XIKANG_DATA", &data)
        .env_remove("XIKANG_DATABASE_URL")
        .env("XIKANG_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            [
                "PostgreSQL window",
                "PostgreSQL stays btree",
                "PostgreSQL stays GiST",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    for r in &rows {
        assert!(r.trim_end().ends_with("yes"), "{r}\n{stdout}");
    }
    // The rule per category is in play in this city: venues where co-presence makes no
    // close contact (markets, shops…: no overlap given), and restaurants at 90 minutes.
    let venues = std::fs::read_to_string(work.join("venues.csv")).unwrap();
    let close: Vec<&str> = venues
        .lines()
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert!(close.iter().any(|c| c.is_empty()), "{venues}");
    assert!(close.contains(&"5400"), "{venues}");
    assert!(close.contains(&"900"), "{venues}");
}
