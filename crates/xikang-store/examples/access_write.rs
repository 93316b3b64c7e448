//! How fast the access log stores reads of personal data: 200,000 access events written in
//! batches of 1,000 (what the server's writer gathers under load) into a fresh SQLite
//! store, or into the PostgreSQL database named by a URL argument (a scratch database: the
//! schema is created there and left behind). Prints events per second and the time per batch.
//!
//! `cargo run --release -p xikang-store --example access_write [-- postgres://…]`

use std::time::Instant;
use xikang_domain::{PersonId, Timestamp};
use xikang_store::{AccessRecord, Target};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let target = match std::env::args().nth(1) {
        Some(url) => Target::Postgres(url),
        None => Target::Sqlite(dir.path().to_path_buf()),
    };
    let store = xikang_store::open(&target)?;
    const BATCH: u32 = 1_000;
    const BATCHES: u32 = 200;
    let started = Instant::now();
    for b in 0..BATCHES {
        let rows: Vec<AccessRecord> = (0..BATCH)
            .map(|i| AccessRecord {
                at: Timestamp(1_700_000_000 + i64::from(b)),
                actor: format!("tracer:t{}", b % 7),
                route: "GET /api/v1/cases/{id}/contacts".into(),
                purpose: None,
                person: PersonId(b * BATCH + i),
            })
            .collect();
        store.insert_access(&rows)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let events = f64::from(BATCH * BATCHES);
    println!(
        "{events} access events in {secs:.2} s: {:.0} events/s, {:.2} ms per batch of {BATCH}",
        events / secs,
        secs * 1000.0 / f64::from(BATCHES)
    );
    Ok(())
}
