//! Several nodes on one PostgreSQL database (docs/nodes.md): each node follows what the
//! others commit (the authority log, and check-ins for the tracing index), a reader honours
//! a write's sequence token, concurrent writers through both nodes leave one valid chain,
//! and the sweep lease moves when its holder dies. Each test has a schema of its own in the
//! local `test` database; without PostgreSQL the tests are skipped (failed with
//! `XIKANG_REQUIRE_POSTGRES=1`).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failure should fail the test at once"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xikang::httpc::Conn;
use xikang_domain::PersonId;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_server::ServerConfig;
use xikang_server::app::node::{NodeConfig, NodeRole, SWEEP_LEASE};
use xikang_server::state::AppState;
use xikang_store::Store;

const ADMIN: &str = "xk_nodes_admin";

/// The small city in a fresh schema, with an admin token.
fn city(fresh: &pg::FreshSchema) {
    let store = xikang_store::open(&fresh.target()).unwrap();
    xikang::load::generate_into(store.as_ref(), &city_config()).unwrap();
    put_token(store.as_ref(), ADMIN, "admin", "320200");
}

struct Node {
    state: Arc<AppState>,
    addr: String,
}

fn node_config(id: &str, role: NodeRole, lease_ttl_secs: i64) -> ServerConfig {
    ServerConfig {
        node: NodeConfig {
            id: Some(id.to_owned()),
            role,
            lease_ttl_secs,
            read_wait: Duration::from_millis(500),
            ..NodeConfig::default()
        },
        ..ServerConfig::default()
    }
}

/// A node on its own store connections (as another process would be), served on port 0
/// by the runtime this is called on.
async fn start_node(fresh: &pg::FreshSchema, config: ServerConfig) -> Node {
    let target = fresh.target();
    let store: Arc<dyn Store> =
        tokio::task::spawn_blocking(move || Arc::from(xikang_store::open(&target).unwrap()))
            .await
            .unwrap();
    // The store's client blocks: loading runs off the runtime's threads.
    let state = tokio::task::spawn_blocking(move || load_state(store, config))
        .await
        .unwrap();
    let addr = serve_state(state.clone()).await;
    // `serve` joins the cluster (and takes the lease) before it accepts: one request in
    // means it has.
    let _ = Conn::connect(&addr)
        .await
        .unwrap()
        .get("/healthz", None)
        .await
        .unwrap();
    if state.config.node.role.holds_index() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !state.projection.tracing.is_ready() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(state.projection.tracing.is_ready(), "index did not load");
    }
    Node { state, addr }
}

async fn call(
    node: &Node,
    method: &str,
    path: &str,
    body: Option<Value>,
    after: Option<&str>,
) -> xikang::httpc::Reply {
    let mut c = Conn::connect(&node.addr).await.unwrap();
    let auth = format!("Bearer {ADMIN}");
    let mut headers = vec![("authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    if let Some(seq) = after {
        headers.push(("xikang-read-after", seq));
    }
    let bytes = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    c.request_with(method, path, &headers, &bytes)
        .await
        .unwrap()
}

async fn colour(node: &Node, person: &str, after: Option<&str>) -> (u16, Value) {
    let r = call(
        node,
        "GET",
        &format!("/api/v1/people/{person}/code"),
        None,
        after,
    )
    .await;
    (r.status, r.json())
}

/// The runtime a test's nodes run on (the schema is made and dropped outside it: the
/// store's client blocks).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `body` with nodes `a` and `b` of the given roles, each on its own store
/// connections, serving the small city in a schema of its own (its URL the third
/// argument); skipped without PostgreSQL.
fn on_two_nodes<F: std::future::Future<Output = ()>>(
    prefix: &str,
    roles: [NodeRole; 2],
    body: impl FnOnce(Node, Node, String) -> F,
) {
    let Some(url) = pg::postgres_url() else {
        return;
    };
    let fresh = pg::FreshSchema::new(url, prefix);
    city(&fresh);
    runtime().block_on(async {
        let a = start_node(&fresh, node_config("a", roles[0], 15)).await;
        let b = start_node(&fresh, node_config("b", roles[1], 15)).await;
        body(a, b, fresh.url_with_schema()).await;
    });
}

/// Runs a blocking store call from async code (the store's client blocks).
fn sync<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A resident who shares a household with others: a case of theirs has close contacts.
fn person_with_household(store: &dyn Store) -> PersonId {
    let people: Vec<_> = (0..PEOPLE)
        .map(|p| store.person(PersonId(p)).unwrap().unwrap())
        .collect();
    people
        .iter()
        .find(|p| people.iter().filter(|q| q.household == p.household).count() >= 3)
        .unwrap()
        .id
}

#[test]
fn a_case_registered_on_node_a_turns_its_contacts_codes_on_node_b_within_a_second() {
    on_two_nodes(
        "nodes_follow",
        [NodeRole::Tracing, NodeRole::Front],
        |a, b, _| async move {
            let index_person = sync(|| person_with_household(a.state.store.as_ref()));

            // The case and its contacts on node A.
            let onset = xikang_server::now().plus(-86_400).to_rfc3339();
            let body =
                json!({"person": index_person.to_string(), "kind": "confirmed", "onset": onset});
            let r = call(&a, "POST", "/api/v1/cases", Some(body), None).await;
            assert_eq!(r.status, 201, "{}", r.text());
            let case = r.json()["id"].as_str().unwrap().to_owned();
            let registered = r.header("xikang-seq").unwrap().to_owned();
            let r = call(
                &a,
                "GET",
                &format!("/api/v1/cases/{case}/contacts?kind=close"),
                None,
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
            let contacts: Vec<String> = r.json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["person"].as_str().unwrap().to_owned())
                .collect();
            assert!(contacts.len() >= 2, "{contacts:?}");
            let (first, second) = (&contacts[0], &contacts[1]);
            assert_eq!(colour(&b, first, None).await.1["colour"], "green");
            // A front node has no check-in index: tracing requests go elsewhere, said so (once
            // it knows the case: the registration's token).
            let r = call(
                &b,
                "GET",
                &format!("/api/v1/cases/{case}/contacts"),
                None,
                Some(&registered),
            )
            .await;
            assert_eq!(
                (r.status, r.json()["error"]["code"].clone()),
                (503, json!("tracing_elsewhere"))
            );

            // Confirmed on A: B, following the log, shows red within a second, with no token.
            let path = format!("/api/v1/cases/{case}/contacts/{first}");
            let r = call(&a, "POST", &path, Some(json!({"action": "confirm"})), None).await;
            assert_eq!(r.status, 200, "{}", r.text());
            let confirmed = Instant::now();
            let deadline = confirmed + Duration::from_secs(1);
            let mut seen = colour(&b, first, None).await.1["colour"].clone();
            while seen != "red" && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
                seen = colour(&b, first, None).await.1["colour"].clone();
            }
            assert_eq!(seen, "red", "node B did not follow node A within a second");

            // Read-your-writes: with the write's token, B's very first answer includes it.
            let path = format!("/api/v1/cases/{case}/contacts/{second}");
            let r = call(&a, "POST", &path, Some(json!({"action": "confirm"})), None).await;
            assert_eq!(r.status, 200, "{}", r.text());
            let token = r.header("xikang-seq").unwrap().to_owned();
            let (status, code) = colour(&b, second, Some(&token)).await;
            assert_eq!(
                (status, code["colour"].clone()),
                (200, json!("red")),
                "{code}"
            );
            // A token no node has reached: 503 stale_node after the bounded wait; a malformed
            // one: 400, and nothing runs.
            let far = (token.parse::<u64>().unwrap() + 1_000_000).to_string();
            let (status, v) = colour(&b, second, Some(&far)).await;
            assert_eq!(
                (status, v["error"]["code"].clone()),
                (503, json!("stale_node"))
            );
            let (status, v) = colour(&b, second, Some("seven")).await;
            assert_eq!(
                (status, v["error"]["code"].clone()),
                (400, json!("invalid_seq_token"))
            );
        },
    );
}

#[test]
fn scans_through_one_node_reach_the_other_nodes_tracing_index() {
    on_two_nodes(
        "nodes_feed",
        [NodeRole::Tracing, NodeRole::Front],
        |a, b, _| async move {
            let indexed = |n: &Node| {
                xikang_server::trace::lock(&n.state.projection.tracing.live)
                    .index
                    .len()
            };
            let before = indexed(&a);
            let places = sync(|| plain_places_in(a.state.store.as_ref(), 3));
            let (device, codes) = device_and_codes(&b.addr, ADMIN, 5).await;
            let mut c = Conn::connect(&b.addr).await.unwrap();
            let mut allowed = 0;
            for (i, code) in codes.iter().enumerate() {
                let body = json!({"place_code": places[i % places.len()], "token": code});
                let r = c
                    .post_json("/api/v1/scans", Some(&device), &body)
                    .await
                    .unwrap();
                assert_eq!(r.status, 200, "{}", r.text());
                allowed += usize::from(r.json()["decision"] == "allow");
            }
            assert!(
                allowed >= 3,
                "too few scans let in to prove anything: {allowed}"
            );
            // The front node keeps no index; the tracing node has every scan it acknowledged.
            assert_eq!(indexed(&b), 0);
            let deadline = Instant::now() + Duration::from_secs(5);
            while indexed(&a) < before + allowed && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(indexed(&a), before + allowed);
        },
    );
}

#[test]
fn concurrent_writers_through_two_nodes_leave_one_valid_chain() {
    on_two_nodes(
        "nodes_chain",
        [NodeRole::All, NodeRole::All],
        |a, b, url| async move {
            let start = sync(|| a.state.store.verify_chain().unwrap().verified);
            const EACH: u32 = 40;
            let writer = |state: Arc<AppState>, first: u32| {
                tokio::spawn(async move {
                    for i in 0..EACH {
                        let body = EventBody::AppealFiled {
                            person: PersonId(first + i),
                            reason: "test".into(),
                        };
                        let e = NewEvent {
                            at: xikang_server::now(),
                            actor: "resident:test".into(),
                            basis: "test".into(),
                            body,
                        };
                        state.record(vec![e]).await.unwrap();
                    }
                })
            };
            let tasks = [
                writer(a.state.clone(), 0),
                writer(b.state.clone(), 100),
                writer(a.state.clone(), 200),
                writer(b.state.clone(), 300),
            ];
            for t in tasks {
                t.await.unwrap();
            }
            let report = sync(|| a.state.store.verify_chain().unwrap());
            assert!(report.is_ok(), "{report:?}");
            assert_eq!(report.verified, start + 4 * u64::from(EACH));
            // `xikang audit verify` over the same database agrees.
            sync(|| audit_verify(&["--database-url", &url]));
            // Both projections reach the same head.
            let head = xikang_domain::EventSeq(report.verified);
            for n in [&a, &b] {
                assert!(xikang_server::app::node::reach(&n.state, head).await);
                assert_eq!(n.state.projection.applied(), head);
            }
        },
    );
}

/// A node on a runtime of its own: dropping the runtime stops every task of the node at
/// once, without a clean shutdown, as `kill -9` would (its lease is not given up).
fn node_on_own_runtime(fresh: &pg::FreshSchema, id: &str) -> (tokio::runtime::Runtime, Node) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let node = rt.block_on(start_node(fresh, node_config(id, NodeRole::All, 2)));
    (rt, node)
}

#[test]
fn the_sweep_lease_has_one_holder_and_moves_when_the_holder_dies() {
    let Some(url) = pg::postgres_url() else {
        return;
    };
    let fresh = pg::FreshSchema::new(url, "nodes_lease");
    city(&fresh);
    let (rt_a, a) = node_on_own_runtime(&fresh, "a");
    let (rt_b, b) = node_on_own_runtime(&fresh, "b");
    assert!(a.state.node.holds_sweeps());
    assert!(!b.state.node.holds_sweeps());
    let store = xikang_store::open(&fresh.target()).unwrap();
    let holder = || {
        store
            .lease_holder(SWEEP_LEASE, xikang_server::now())
            .unwrap()
    };
    assert_eq!(holder().as_deref(), Some("a"));

    // A dies without giving the lease up; B takes it once it expires.
    rt_a.shutdown_background();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !b.state.node.holds_sweeps() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(b.state.node.holds_sweeps(), "node B never took the lease");
    assert_eq!(holder().as_deref(), Some("b"));
    drop(rt_b);
}

/// A second process started with a running node's id is refused (two processes with one
/// name would skip each other's check-in batches and both renew the sweep lease); once the
/// first is gone, the name is free again at once.
#[test]
fn a_node_id_belongs_to_one_running_process() {
    let Some(url) = pg::postgres_url() else {
        return;
    };
    let fresh = pg::FreshSchema::new(url, "nodes_id");
    city(&fresh);
    let (rt_a, a) = node_on_own_runtime(&fresh, "a");
    let second = || {
        let target = fresh.target();
        let store: Arc<dyn Store> = Arc::from(xikang_store::open(&target).unwrap());
        let state = load_state(store, node_config("a", NodeRole::All, 2));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let joined = rt.block_on(xikang_server::app::node::start(state));
        rt.shutdown_background();
        joined
    };
    let refused = second().expect_err("a second process took a running node's id");
    assert!(refused.to_string().contains("in use"), "{refused}");
    // The first process stops: its connections close and the id is free.
    drop(a);
    drop(rt_a);
    second().expect("the id of a stopped node is free");
}

/// Polls `seen` every 20 ms until it holds or `deadline` passes; whether it held.
async fn within<F: std::future::Future<Output = bool>>(
    deadline: Instant,
    mut seen: impl FnMut() -> F,
) -> bool {
    loop {
        if seen().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A place in Nanjing: far from every generated ping (the synthetic city is Wuxi).
const LAT: f64 = 32.060_255;
const LON: f64 = 118.796_877;

#[test]
fn pings_posted_on_node_a_make_companions_on_node_b_within_a_second() {
    on_two_nodes(
        "nodes_pings",
        [NodeRole::Tracing, NodeRole::Tracing],
        |a, b, _| async move {
            let now = xikang_server::now();
            // Three residents with no generated pings: the case, and a stranger who lives
            // in one Nanjing cell (a ping every 30 minutes for 40 hours, more than the
            // policy's 30) where the case spends 40 minutes three hours ago.
            let silent: Vec<PersonId> = sync(|| {
                let store = a.state.store.as_ref();
                (0..PEOPLE)
                    .map(PersonId)
                    .filter(|&p| {
                        store
                            .pings_of_person(p, now.plus(-30 * 86_400), now.plus(86_400))
                            .unwrap()
                            .is_empty()
                    })
                    .take(2)
                    .collect()
            });
            let (case_person, stranger) = (silent[0], silent[1]);
            let onset = now.plus(-86_400).to_rfc3339();
            let body =
                json!({"person": case_person.to_string(), "kind": "confirmed", "onset": onset});
            let r = call(&a, "POST", "/api/v1/cases", Some(body), None).await;
            assert_eq!(r.status, 201, "{}", r.text());
            let case = r.json()["id"].as_str().unwrap().to_owned();
            let registered = r.header("xikang-seq").unwrap().to_owned();
            let companions = format!("/api/v1/cases/{case}/contacts?rule=companion");
            let listed = |v: &Value| {
                v["items"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i["person"] == stranger.to_string()))
            };
            // B knows the case (the token) and its ping index is loaded; no companion yet.
            let ready = within(Instant::now() + Duration::from_secs(30), || async {
                let r = call(&b, "GET", &companions, None, Some(&registered)).await;
                r.status == 200 && r.json()["companions"]["ready"] == true
            })
            .await;
            assert!(ready, "node B's ping index did not load");
            let r = call(&b, "GET", &companions, None, None).await;
            assert!(!listed(&r.json()), "{}", r.text());

            let ping = |p: PersonId, at: xikang_domain::Timestamp, lat: f64| json!({"person": p.to_string(), "at": at.to_rfc3339(), "lat": lat, "lon": LON});
            let mut pings = Vec::new();
            let mut at = now.plus(-40 * 3_600);
            while at < now.plus(-600) {
                pings.push(ping(stranger, at, LAT + 0.000_2));
                at = at.plus(1_800);
            }
            let t0 = now.plus(-3 * 3_600);
            for k in 0..4 {
                pings.push(ping(case_person, t0.plus(k * 600), LAT));
            }
            pings.push(ping(case_person, t0.plus(2_400), LAT + 0.045));
            let r = call(
                &a,
                "POST",
                "/api/v1/pings",
                Some(json!({"pings": pings})),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json()["rejected"], json!([]));

            // Node B, which stored none of them, lists the stranger within a second.
            let followed = within(Instant::now() + Duration::from_secs(1), || async {
                listed(&call(&b, "GET", &companions, None, None).await.json())
            })
            .await;
            assert!(
                followed,
                "node B's ping index did not follow node A's pings"
            );
        },
    );
}

#[test]
fn a_lab_write_on_node_a_shows_in_node_bs_lab_queries_within_a_second() {
    on_two_nodes(
        "nodes_lab",
        [NodeRole::All, NodeRole::Front],
        |a, b, _| async move {
            let sites = |n: &Node| {
                let n = Node {
                    state: n.state.clone(),
                    addr: n.addr.clone(),
                };
                async move {
                    let r = call(&n, "GET", "/api/v1/sampling-sites", None, None).await;
                    assert_eq!(r.status, 200, "{}", r.text());
                    r.json()["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["name"].clone()))
                        .collect::<Vec<_>>()
                }
            };
            let before = sites(&b).await.len();
            let site = |name: &str| json!({"name": name, "area": "320200", "cell": 1});
            let r = call(&a, "POST", "/api/v1/sampling-sites", Some(site("甲")), None).await;
            assert_eq!(r.status, 201, "{}", r.text());
            let first = r.json()["id"].as_str().unwrap().to_owned();
            // A tube opened there on A, too: B's tube query finds it.
            let body = json!({"tubes": [{"barcode": "NODE-A-0001", "site": first,
                                         "capacity": 10}]});
            let r = call(&a, "POST", "/api/v1/tubes", Some(body), None).await;
            assert_eq!(
                (r.status, r.json()["accepted"].clone()),
                (200, json!(1)),
                "{}",
                r.text()
            );
            let followed = within(Instant::now() + Duration::from_secs(1), || async {
                let r = call(&b, "GET", "/api/v1/tubes/NODE-A-0001", None, None).await;
                sites(&b).await.iter().any(|(id, _)| *id == first) && r.status == 200
            })
            .await;
            assert!(
                followed,
                "node B's lab index did not follow node A's writes"
            );
            assert_eq!(sites(&b).await.len(), before + 1);

            // A site registered on B now gets another id: A's is not overwritten.
            let r = call(&b, "POST", "/api/v1/sampling-sites", Some(site("乙")), None).await;
            assert_eq!(r.status, 201, "{}", r.text());
            let second = r.json()["id"].as_str().unwrap().to_owned();
            assert_ne!(second, first);
            let ok = within(Instant::now() + Duration::from_secs(1), || async {
                sites(&a).await.len() == before + 2
            })
            .await;
            assert!(ok, "node A did not follow node B's site");
            let on_a = sites(&a).await;
            assert!(on_a.contains(&(first.clone(), json!("甲"))), "{on_a:?}");
            assert!(on_a.contains(&(second, json!("乙"))), "{on_a:?}");
        },
    );
}

#[test]
fn a_token_revoked_on_node_a_is_refused_on_node_b_within_a_second() {
    on_two_nodes(
        "nodes_revoke",
        [NodeRole::All, NodeRole::Front],
        |a, b, _| async move {
            let body = json!({"name": "second-admin", "role": "admin", "area": "320200"});
            let r = call(&a, "POST", "/api/v1/tokens", Some(body), None).await;
            assert_eq!(r.status, 201, "{}", r.text());
            let (id, token) = (
                r.json()["id"].as_str().unwrap().to_owned(),
                r.json()["token"].as_str().unwrap().to_owned(),
            );
            let with_token = |n: &Node| {
                let (addr, token) = (n.addr.clone(), token.clone());
                async move {
                    let mut c = Conn::connect(&addr).await.unwrap();
                    c.get("/api/v1/tokens", Some(&token)).await.unwrap().status
                }
            };
            // B has the token's lookup cached (fresh: good for two more seconds).
            assert_eq!(with_token(&b).await, 200);
            let r = call(&a, "DELETE", &format!("/api/v1/tokens/{id}"), None, None).await;
            assert_eq!(r.status, 200, "{}", r.text());
            let refused = within(Instant::now() + Duration::from_secs(1), || async {
                with_token(&b).await == 401
            })
            .await;
            assert!(refused, "node B still accepts a token revoked on node A");
        },
    );
}

/// A leader demoted while alive answers every write on its open connections with SQLSTATE
/// 25006 (read_only_sql_transaction). Made here without Patroni: a trigger puts the writer's
/// own session in read-only mode (as a demoted server is) on its first write. The next write
/// is refused; the store then drops that connection, and every pooled one opened before,
/// so the write after goes through a new connection — to whichever host accepts writes.
#[test]
fn a_write_refused_as_read_only_drops_its_connection_and_the_next_write_reconnects() {
    let Some(url) = pg::postgres_url() else {
        return;
    };
    let fresh = pg::FreshSchema::new(url.clone(), "nodes_ro");
    let store = xikang_store::open(&fresh.target()).unwrap();
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            r#"set search_path to "{}";
            create table demoted (pid integer not null);
            create function demote() returns trigger language plpgsql as $$
            begin
                if not exists (select 1 from demoted) then
                    insert into demoted values (pg_backend_pid());
                    perform set_config('default_transaction_read_only', 'on', false);
                end if;
                return null;
            end $$;
            create trigger demote after insert or update on settings
                for each statement execute function demote();"#,
            fresh.schema
        ))
        .unwrap();
    // A reader in the pool, and a first write that leaves the writer's session read-only.
    assert_eq!(store.setting("nodes_ro_a").unwrap(), None);
    let opened = store.pool_stats().opened;
    store.put_setting("nodes_ro_a", b"1").unwrap();
    let refused = store.put_setting("nodes_ro_b", b"2").unwrap_err();
    assert!(refused.to_string().contains("25006"), "{refused}");
    // The next write is on a fresh connection, and succeeds.
    store.put_setting("nodes_ro_c", b"3").unwrap();
    assert_eq!(
        store.setting("nodes_ro_c").unwrap().as_deref(),
        Some(&b"3"[..])
    );
    assert_eq!(store.setting("nodes_ro_b").unwrap(), None);
    // The pooled reader from before the refusal was not reused either.
    assert!(
        store.pool_stats().opened > opened,
        "the old reader was reused"
    );
    // The connection that turned read-only is gone.
    let demoted: i32 = admin
        .query_one(
            &format!(r#"select pid from "{}".demoted"#, fresh.schema),
            &[],
        )
        .unwrap()
        .get(0);
    let mut alive = || -> i64 {
        admin
            .query_one(
                "select count(*) from pg_stat_activity where pid = $1",
                &[&demoted],
            )
            .unwrap()
            .get(0)
    };
    // The database notices the closed socket at once, but give it a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(alive(), 0, "the read-only connection was kept open");
}

#[test]
fn a_resident_imported_on_node_a_has_a_code_on_node_b_within_a_second() {
    on_two_nodes(
        "nodes_register",
        [NodeRole::All, NodeRole::Front],
        |a, b, _| async move {
            let cell = sync(|| a.state.store.grid_cells().unwrap().remove(0));
            // A new ID number (area 110101: nobody of the generated city has it).
            let number = String::from(
                xikang_domain::idnumber::IdNumber::compose(110101, 1970, 3, 4, 7).unwrap(),
            );
            let csv = format!(
                "id_number,name,phone,household,address,community,cell,kind,registered_on\n\
                 {number},居民甲,,HN1,中山路 1 号,{},{},,\n",
                cell.community.as_str(),
                cell.cell.0
            );
            let mut c = Conn::connect(&a.addr).await.unwrap();
            let r = c
                .request(
                    "POST",
                    "/api/v1/people/import",
                    Some(ADMIN),
                    Some("text/csv"),
                    csv.as_bytes(),
                )
                .await
                .unwrap();
            assert_eq!(
                (r.status, r.json()["added"].clone()),
                (200, json!(1)),
                "{}",
                r.text()
            );
            let hash = xikang_domain::idnumber::IdNumber::parse(&number)
                .unwrap()
                .keyed_hash(&a.state.secrets.id_hash_key);
            let person = sync(|| a.state.store.person_by_id_hash(&hash).unwrap().unwrap());
            let (status, v) = colour(&a, &person.to_string(), None).await;
            assert_eq!((status, v["colour"].clone()), (200, json!("green")), "{v}");
            let known = within(Instant::now() + Duration::from_secs(1), || async {
                colour(&b, &person.to_string(), None).await.0 == 200
            })
            .await;
            assert!(known, "node B does not know a resident imported on node A");
        },
    );
}

#[test]
fn a_policy_approved_on_node_a_is_in_force_on_node_b_within_a_second() {
    use xikang_domain::policy::ERSHITIAO_POLICY_TOML;
    const ERSHITIAO: &str = "xikang-ershitiao-2022.11";
    on_two_nodes(
        "nodes_policy",
        [NodeRole::All, NodeRole::Front],
        |a, b, _| async move {
            let version_on = |n: &Node| {
                let n = Node {
                    state: n.state.clone(),
                    addr: n.addr.clone(),
                };
                async move { colour(&n, "P1", None).await.1["policy_version"].clone() }
            };
            assert_ne!(version_on(&b).await, json!(ERSHITIAO));
            // A second official (another name) to approve what the first proposes.
            let body = json!({"name": "second-admin", "role": "admin", "area": "320200"});
            let r = call(&a, "POST", "/api/v1/tokens", Some(body), None).await;
            assert_eq!(r.status, 201, "{}", r.text());
            let second = r.json()["token"].as_str().unwrap().to_owned();
            let upload = json!({"text": ERSHITIAO_POLICY_TOML});
            let r = call(&a, "POST", "/api/v1/policies", Some(upload), None).await;
            assert_eq!(r.status, 201, "{}", r.text());
            let path = format!("/api/v1/policies/{ERSHITIAO}");
            let at = json!({"effective_from": xikang_server::now().plus(-1).to_rfc3339()});
            let r = call(&a, "POST", &format!("{path}/activate"), Some(at), None).await;
            assert_eq!(r.status, 202, "{}", r.text());
            let mut c = Conn::connect(&a.addr).await.unwrap();
            let r = c
                .post_json(&format!("{path}/approve"), Some(&second), &json!({}))
                .await
                .unwrap();
            assert_eq!(
                (r.status, r.json()["active"].clone()),
                (200, json!(true)),
                "{}",
                r.text()
            );
            assert_eq!(version_on(&a).await, json!(ERSHITIAO));
            let switched = within(Instant::now() + Duration::from_secs(1), || async {
                version_on(&b).await == json!(ERSHITIAO)
            })
            .await;
            assert!(switched, "node B still evaluates under the old policy");
        },
    );
}

/// A signing key rotated through node A signs on node B within a second: B reads the keys
/// again when it follows the rotation in the log, not at its periodic re-read (a minute).
#[test]
fn a_key_rotated_on_node_a_signs_on_node_b_within_a_second() {
    on_two_nodes(
        "nodes_keys",
        [NodeRole::All, NodeRole::Front],
        |a, b, _| async move {
            let kid = |n: &Node| n.state.keys(xikang_server::now()).signer.kid();
            let before = kid(&b);
            assert_eq!(kid(&a), before, "one city, one key");
            let body = json!({"ahead_secs": 0});
            let r = call(&a, "POST", "/api/v1/keys/rotate", Some(body), None).await;
            assert_eq!(r.status, 201, "{}", r.text());
            let new = kid(&a);
            assert_ne!(new, before, "node A signs with the new key at once");
            let switched = within(Instant::now() + Duration::from_secs(1), || async {
                kid(&b) == new
            })
            .await;
            assert!(
                switched,
                "node B still signs with the key rotated away on node A"
            );
        },
    );
}
