//! Check-in insert throughput, as a command anyone can run (ignored by default, never a
//! timing assertion):
//!
//! ```text
//! cargo test -p xikang-store --release --test throughput -- --ignored --nocapture
//! ```
//!
//! It writes `XIKANG_BENCH_CHECKINS` (default 2 000 000) synthetic check-ins in batches of
//! `XIKANG_BENCH_BATCH` (default 50 000) into SQLite in a temporary directory, and into
//! PostgreSQL if `XIKANG_BENCH_DATABASE_URL` is set, and prints rows per second.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark command: failing loudly is the point"
)]

use std::io::Write;
use std::time::Instant;
use xikang_domain::{CheckIn, PersonId, ScanDirection, Timestamp, VenueId};
use xikang_store::{Store, Target, open};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A deterministic stream of plausible scans: 1 M people, 50 k venues, over two days.
fn synthetic(n: usize) -> Vec<CheckIn> {
    let start = Timestamp::parse_rfc3339("2022-07-01T00:00:00Z").unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|i| {
            // xorshift64: cheap, reproducible, no dependency.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            CheckIn {
                person: PersonId((x % 1_000_000) as u32),
                venue: VenueId(((x >> 20) % 50_000) as u32),
                at: start.plus((i as i64 * 2 * 86_400) / n as i64),
                direction: if (x >> 40).is_multiple_of(4) {
                    ScanDirection::Exit
                } else {
                    ScanDirection::Entry
                },
            }
        })
        .collect()
}

fn run(store: &dyn Store, scans: &[CheckIn], batch: usize) {
    let t = Instant::now();
    for chunk in scans.chunks(batch) {
        store.insert_checkins(chunk).unwrap();
    }
    // The registry's count, read back: every row is committed and counted.
    let rows: u64 = store.checkin_days().unwrap().iter().map(|d| d.1).sum();
    let secs = t.elapsed().as_secs_f64();
    assert!(rows > 0 && rows <= scans.len() as u64);
    let _ = writeln!(
        std::io::stderr(),
        "{}: {} check-ins in batches of {batch}: {secs:.2} s, {:.0} rows/s ({rows} distinct stored)",
        store.backend(),
        scans.len(),
        scans.len() as f64 / secs,
    );
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn checkin_insert_throughput() {
    let scans = synthetic(env_or("XIKANG_BENCH_CHECKINS", 2_000_000));
    let batch = env_or("XIKANG_BENCH_BATCH", 50_000);
    let dir = tempfile::tempdir().unwrap();
    run(
        &*open(&Target::Sqlite(dir.path().to_path_buf())).unwrap(),
        &scans,
        batch,
    );
    if let Ok(url) = std::env::var("XIKANG_BENCH_DATABASE_URL") {
        let store = open(&Target::Postgres(url)).unwrap();
        run(&*store, &scans, batch);
        let last = xikang_domain::CivilDay(i32::MAX);
        store.drop_checkin_days_before(last).unwrap();
    }
}
