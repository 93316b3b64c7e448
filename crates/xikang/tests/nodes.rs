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
