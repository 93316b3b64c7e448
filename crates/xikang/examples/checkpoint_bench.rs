//! What the anchored log costs at scale: a store with `N` authority events (default one
//! million), the server's start (which builds the Merkle tree), then the checkpoint route
//! and consistency proofs over HTTP, beside `/healthz` measured in the same run; and the
//! in-memory tree alone (append, root, proof).
//!
//! Run: `cargo run --release -p xikang --example checkpoint_bench [-- EVENTS]`

#![expect(clippy::unwrap_used, reason = "a benchmark: a failure should stop it")]

use std::sync::Arc;
use std::time::Instant;
use xikang::httpc::Conn;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::merkle::{MerkleLog, leaf_hash};
use xikang_server::ServerConfig;
use xikang_server::state::AppState;
use xikang_store::{Store, Target};

/// Median and worst of `n` calls of a GET, in µs.
async fn time_get(conn: &mut Conn, path: &str, n: usize) -> (f64, f64, usize) {
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let t = Instant::now();
        let r = conn.get(path, None).await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        bytes = r.body.len();
    }
    times.sort_by(f64::total_cmp);
    (times[n / 2], times[n - 1], bytes)
}

fn main() {
    let events: u64 = std::env::args()
        .nth(1)
        .map_or(1_000_000, |a| a.parse().unwrap());

    // The tree alone.
    let t = Instant::now();
    let mut tree = MerkleLog::new();
    for i in 0..events {
        tree.push(leaf_hash(&i.to_be_bytes()));
    }
    let append = t.elapsed().as_secs_f64() * 1e9 / events as f64;
    let t = Instant::now();
    let rounds = 10_000u64;
    for i in 0..rounds {
        std::hint::black_box(tree.root(events - i % 1000).unwrap());
    }
    let root = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let t = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(tree.consistency_proof(1 + i * 37 % events, events).unwrap());
    }
    let proof = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!(
        "tree of {events} leaves: append {append:.0} ns/leaf, root {root:.2} µs, proof {proof:.2} µs"
    );
    drop(tree);

    // A store with that many events (policy activations: they touch no resident).
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::from(xikang_store::open(&Target::Sqlite(dir.path().to_path_buf())).unwrap());
    let t = Instant::now();
    let batch = 10_000u64;
    let mut written = 0;
    while written < events {
        let n = batch.min(events - written);
        let page: Vec<NewEvent> = (0..n)
            .map(|i| NewEvent {
                at: xikang_server::now(),
                actor: "system:bench".into(),
                basis: "checkpoint benchmark".into(),
                body: EventBody::PolicyActivated {
                    version: format!("bench-{}", written + i),
                    sha256: "0".repeat(64),
                },
            })
            .collect();
        store.append_events(&page).unwrap();
        written += n;
    }
    println!(
        "stored {events} events in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let state = Arc::new(
        AppState::load(
            store.clone(),
            ServerConfig::default(),
            xikang_domain::policy::Policy::default_policy(),
            &xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML),
            xikang_server::now(),
        )
        .unwrap(),
    );
    println!(
        "server state loaded (log read, tree built) in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let size = xikang_server::state::read(&state.projection.log_tree)
        .tree
        .len();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let s = state.clone();
        tokio::spawn(async move { xikang_server::serve(listener, s, std::future::pending()).await });
        let mut conn = Conn::connect(&addr).await.unwrap();
        let n = 2_000;
        for (what, path) in [
            ("GET /healthz (reference)", "/healthz".to_owned()),
            ("GET /api/v1/audit/checkpoint", "/api/v1/audit/checkpoint".to_owned()),
            (
                "consistency 1 → head",
                format!("/api/v1/audit/consistency?from=1&to={size}"),
            ),
            (
                "consistency head-1 → head",
                format!("/api/v1/audit/consistency?from={}&to={size}", size - 1),
            ),
        ] {
            let (p50, max, bytes) = time_get(&mut conn, &path, n).await;
            println!("{what}: p50 {p50:.0} µs, max {max:.0} µs over {n} calls ({bytes} bytes) at {size} events");
        }
    });
}
