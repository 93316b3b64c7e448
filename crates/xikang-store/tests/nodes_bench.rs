//! What several nodes on one PostgreSQL cost the store (docs/nodes.md), as a command anyone
//! can run (ignored by default, never a timing assertion):
//!
//! ```text
//! XIKANG_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo test -p xikang-store --release --test nodes_bench -- --ignored --nocapture
//! ```
//!
//! In a schema of its own (dropped at the end): authority-log appends of one event each
//! (a typical command) from 1, 2 and 4 writers, each on its own store as separate nodes
//! would be: the appends serialise on the log's lock, so the figure is how many commands
//! per second the city can record however many nodes it runs; and check-in batches with
//! and without the feed other nodes follow.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark command: failing loudly is the point"
)]

use std::io::Write;
use std::time::Instant;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::{CheckIn, PersonId, ScanDirection, Timestamp, VenueId};
use xikang_store::{Store, Target, open};

fn say(line: String) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn event(person: u32) -> NewEvent {
    NewEvent {
        at: Timestamp(1_800_000_000),
        actor: "resident:bench".into(),
        basis: "bench".into(),
        body: EventBody::AppealFiled {
            person: PersonId(person),
            reason: "bench".into(),
        },
    }
}

fn appends(url: &str, writers: u32, each: u32) {
    let stores: Vec<Box<dyn Store>> = (0..writers)
        .map(|_| open(&Target::Postgres(url.to_owned())).unwrap())
        .collect();
    let t = Instant::now();
    std::thread::scope(|s| {
        for (w, store) in stores.iter().enumerate() {
            s.spawn(move || {
                for i in 0..each {
                    store.append_events(&[event(w as u32 * each + i)]).unwrap();
                }
            });
        }
    });
    let secs = t.elapsed().as_secs_f64();
    let n = writers * each;
    assert!(stores[0].verify_chain().unwrap().is_ok());
    say(format!(
        "appends, {writers} writer(s): {n} in {secs:.2} s = {:.0}/s, {:.2} ms each writer-side",
        f64::from(n) / secs,
        secs * 1000.0 / f64::from(each)
    ));
}

fn batches(store: &dyn Store, label: &str, count: usize, size: usize) {
    let at = Timestamp(1_800_000_000);
    let t = Instant::now();
    for b in 0..count {
        let batch: Vec<CheckIn> = (0..size)
            .map(|i| CheckIn {
                person: PersonId(((b * size + i) % 100_000) as u32),
                venue: VenueId((i % 500) as u32),
                at: at.plus(b as i64),
                direction: ScanDirection::Entry,
            })
            .collect();
        store.insert_checkins(&batch).unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    say(format!(
        "check-in batches of {size} {label}: {:.2} ms per batch",
        secs * 1000.0 / count as f64
    ));
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn what_several_nodes_cost_the_store() {
    let Ok(base) = std::env::var("XIKANG_BENCH_DATABASE_URL") else {
        say("set XIKANG_BENCH_DATABASE_URL".into());
        return;
    };
    let schema = format!("xk_nodes_bench_{}", std::process::id());
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}schema={schema}");
    for writers in [1, 2, 4] {
        appends(&url, writers, 2_000 / writers);
    }
    let plain = open(&Target::Postgres(url.clone())).unwrap();
    batches(plain.as_ref(), "(one node, no feed)", 300, 200);
    let joined = open(&Target::Postgres(url.clone())).unwrap();
    joined.join("bench").unwrap();
    batches(joined.as_ref(), "(node id set: + feed)", 300, 200);
    let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    c.batch_execute(&format!("drop schema {schema} cascade"))
        .unwrap();
}
