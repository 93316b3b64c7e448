//! Tracing benchmark on the synthetic city:
//!
//! ```sh
//! cargo run --release -p xikang-trace --example trace_bench -- --people 1000000 --days 14
//! ```
//!
//! Generates the city and its check-ins day by day (`xikang-sim`), builds the index (only
//! the appends are timed, as when a server loads stored days), then times one case's close
//! and secondary contacts, sources and companions, 1,000 cases in a batch, and clustering
//! them. Options: `--people N`, `--days D`, `--cases N`, `--ping-share F` (share of residents
//! whose phones report their cell every 15 minutes; 0 = no pings), `--seed S`.

use std::collections::HashSet;
use std::time::{Duration, Instant};
use xikang_domain::event::CaseKind;
use xikang_domain::policy::Policy;
use xikang_domain::{CivilDay, GridCell, PersonId, VenueId, WorkplaceId};
use xikang_sim::{CityConfig, generate_city};
use xikang_trace::{
    Case, ContactRule, Ping, PingIndex, Population, TraceIndex, Tracer, clusters, companions,
    to_dot,
};

struct Args {
    people: u32,
    days: u32,
    cases: usize,
    ping_share: f64,
    seed: u64,
}

fn args() -> Args {
    let mut a = Args {
        people: 1_000_000,
        days: 14,
        cases: 1_000,
        ping_share: 0.02,
        seed: 1,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    for pair in v.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        let bad = |what: &str| -> ! {
            eprintln!("{what}: not a valid value: {value:?}");
            std::process::exit(2)
        };
        match pair[0].as_str() {
            "--people" => a.people = value.parse().unwrap_or_else(|_| bad("--people")),
            "--days" => a.days = value.parse().unwrap_or_else(|_| bad("--days")),
            "--cases" => a.cases = value.parse().unwrap_or_else(|_| bad("--cases")),
            "--ping-share" => a.ping_share = value.parse().unwrap_or_else(|_| bad("--ping-share")),
            "--seed" => a.seed = value.parse().unwrap_or_else(|_| bad("--seed")),
            other => {
                eprintln!("unknown option {other}; see the top of examples/trace_bench.rs");
                std::process::exit(2)
            }
        }
    }
    a
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`; 0 where that
/// is not available. The machine is shared, so wall-clock times can include waiting for a
/// core: the CPU time says how much work a step really was.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which ends with the last ')'): utime is the 12th, stime
    // the 13th, in clock ticks of 1/100 s on Linux.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (nanoseconds on a
/// core; zero where that is not available). The kernel brings it up to date at scheduler
/// ticks, so one short call's figure is coarse but a sum over many calls is exact: the bench
/// reports CPU time as a mean.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Runs `f`, returning its result, its wall time and the calling thread's CPU time.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (t, c) = (Instant::now(), thread_cpu());
    let out = f();
    (out, t.elapsed(), thread_cpu().saturating_sub(c))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Resident memory of this process in bytes (`VmRSS`), 0 where unavailable.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1_024)
}

fn mean(v: &[Duration]) -> f64 {
    v.iter().map(|d| ms(*d)).sum::<f64>() / v.len().max(1) as f64
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| ms(*d))
}

fn main() {
    let a = args();
    let cfg = CityConfig {
        people: a.people,
        days: a.days,
        seed: a.seed,
        first_day: CivilDay::parse("2022-07-01").unwrap_or(CivilDay(19_174)),
    };
    let t = Instant::now();
    let city = generate_city(&cfg);
    println!(
        "city: {} people, {} venues, {} workplaces, generated in {:.1} s",
        city.people_count(),
        city.venue_count(),
        city.workplaces.len(),
        t.elapsed().as_secs_f64()
    );

    let policy = Policy::default_policy();
    let workplace_venues: Vec<Option<VenueId>> = (0..city.workplaces.len() as u32)
        .map(|w| city.workplace_venue(WorkplaceId(w)))
        .collect();
    let t = Instant::now();
    let population =
        match Population::from_model(&city.people, &workplace_venues, &city.venues, &policy) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("population: {e}");
                std::process::exit(1)
            }
        };
    println!("population built in {:.0} ms", ms(t.elapsed()));

    let mut index = TraceIndex::new();
    let mut build_cpu = 0.0;
    let rss_before = rss_bytes();
    let mut pings = PingIndex::new();
    let mut build = Duration::ZERO;
    let mut ping_build = Duration::ZERO;
    let mut generating = Duration::ZERO;
    let ping_every = (1.0 / a.ping_share.max(1e-9)).round() as u32;
    for d in 0..a.days {
        let t = Instant::now();
        let rows = city.checkins_for_day(&cfg, d);
        generating += t.elapsed();
        let t = Instant::now();
        let cpu = cpu_secs();
        index.append(&rows);
        build += t.elapsed();
        build_cpu += cpu_secs() - cpu;
        drop(rows);
        if a.ping_share > 0.0 {
            let t = Instant::now();
            let start = cfg.day(d).start();
            let mut day_pings = Vec::new();
            city.day_plans(&cfg, d, |person, stops| {
                if person.0 % ping_every != 0 {
                    return;
                }
                for s in stops {
                    let cell = city
                        .venues
                        .get(s.venue.0 as usize)
                        .map_or(GridCell(0), |v| v.cell);
                    let mut at = s.arrive;
                    while at < s.leave.min(86_399) {
                        day_pings.push(Ping {
                            person,
                            at: start.plus(i64::from(at)),
                            cell,
                        });
                        at += 900;
                    }
                }
            });
            generating += t.elapsed();
            let t = Instant::now();
            pings.append(&day_pings);
            ping_build += t.elapsed();
        }
        eprint!("\rday {}/{}: {} check-ins", d + 1, a.days, index.len());
    }
    eprintln!();
    let rss_after = rss_bytes();
    let n = index.len();
    println!(
        "index: {n} check-ins over {} days built in {:.2} s wall, {:.2} s CPU ({:.1} M rows/s; generating them took {:.1} s, not counted)",
        a.days,
        build.as_secs_f64(),
        build_cpu,
        n as f64 / build.as_secs_f64().max(1e-9) / 1e6,
        generating.as_secs_f64()
    );
    println!(
        "index memory: {:.0} MB, {:.2} bytes per check-in (budget 24); the process grew by {:.0} MB while building the index{}",
        index.heap_bytes() as f64 / 1e6,
        index.heap_bytes() as f64 / n.max(1) as f64,
        rss_after.saturating_sub(rss_before) as f64 / 1e6,
        if a.ping_share > 0.0 {
            " and the ping index"
        } else {
            ""
        }
    );
    if !pings.is_empty() {
        println!(
            "pings: {} in {:.2} s, {:.2} bytes per ping",
            pings.len(),
            ping_build.as_secs_f64(),
            pings.heap_bytes() as f64 / pings.len() as f64
        );
    }

    // Cases: residents spread over the city, onset on the last day at 10:00, isolated a day
    // later (so the window reaches past the data: as on the day a case is reported).
    let last = cfg.day(a.days.saturating_sub(1)).start();
    let onset = last.plus(10 * 3_600);
    let now = last.plus(86_400);
    let step = (a.people as usize / a.cases.max(1)).max(1);
    let cases: Vec<Case> = (0..a.cases)
        .map(|i| Case {
            person: PersonId(((i * step + 7) % a.people as usize) as u32),
            kind: CaseKind::Confirmed,
            onset: Some(onset),
            sampled: onset,
            isolated: None,
        })
        .collect();
    let tracing = *policy.tracing();
    let snapshot = index.snapshot();
    let tracer = Tracer::new(&snapshot, &population, &tracing);

    // One case at a time, single-threaded: the latency a tracer sees.
    let mut singles = Vec::with_capacity(cases.len());
    let mut single_cpu = Vec::with_capacity(cases.len());
    let mut total_contacts = 0usize;
    for c in &cases {
        let (r, wall, cpu) = timed(|| tracer.close_contacts(c, now));
        singles.push(wall);
        single_cpu.push(cpu);
        total_contacts += r.map_or(0, |r| r.contacts.len());
    }
    singles.sort_unstable();
    println!(
        "close contacts, one case (target ≤ 20 ms), {} cases: wall p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; mean CPU {:.2} ms; {:.0} contacts per case on average",
        singles.len(),
        percentile(&singles, 0.5),
        percentile(&singles, 0.99),
        percentile(&singles, 1.0),
        mean(&single_cpu),
        total_contacts as f64 / cases.len().max(1) as f64
    );

    let Some(first) = cases.first() else {
        return;
    };
    let close = match tracer.close_contacts(first, now) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    };
    let by_rule = |rule: ContactRule| close.contacts.iter().filter(|c| c.has_rule(rule)).count();
    println!(
        "first case: {} close contacts (venue {}, household {}, workplace {})",
        close.contacts.len(),
        by_rule(ContactRule::Venue),
        by_rule(ContactRule::Household),
        by_rule(ContactRule::Workplace)
    );
    let mut sec_times = Vec::new();
    let mut sec_cpu = Vec::new();
    let mut secondary_count = 0;
    for c in cases.iter().take(200) {
        let Ok(cc) = tracer.close_contacts(c, now) else {
            continue;
        };
        let (s, wall, cpu) = timed(|| tracer.secondary_contacts(&cc, |_| None, now));
        sec_times.push(wall);
        sec_cpu.push(cpu);
        secondary_count += s.contacts.len();
    }
    sec_times.sort_unstable();
    println!(
        "secondary contacts, one case, given its close contacts (target ≤ 100 ms), {} cases: wall p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; mean CPU {:.2} ms; {:.0} per case",
        sec_times.len(),
        percentile(&sec_times, 0.5),
        percentile(&sec_times, 0.99),
        percentile(&sec_times, 1.0),
        mean(&sec_cpu),
        secondary_count as f64 / sec_times.len().max(1) as f64,
    );

    let t = Instant::now();
    let cpu = cpu_secs();
    let batch = tracer.close_contacts_batch(&cases, now);
    let batch_time = t.elapsed();
    let batch_cpu = cpu_secs() - cpu;
    let ok: Vec<_> = batch.iter().filter_map(|r| r.as_ref().ok()).collect();
    println!(
        "batch of {} cases: {:.0} ms wall, {:.0} ms CPU on {} threads (target ≤ 2000 ms), {} contacts in all",
        cases.len(),
        ms(batch_time),
        batch_cpu * 1_000.0,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        ok.iter().map(|c| c.contacts.len()).sum::<usize>()
    );

    let known: HashSet<PersonId> = cases.iter().map(|c| c.person).collect();
    let (sources, wall, cpu) =
        timed(|| tracer.sources(first, &known).map(|s| s.len()).unwrap_or(0));
    println!(
        "sources of one case (14 days): {:.2} ms wall, {:.2} ms CPU, {sources} candidates",
        ms(wall),
        ms(cpu)
    );

    if !pings.is_empty() {
        // The first case, moved to the nearest resident whose phone reports pings.
        let pinged = Case {
            person: PersonId(first.person.0 - first.person.0 % ping_every),
            ..*first
        };
        let (found, wall, cpu) = timed(|| companions(&pings, &tracing, &pinged, now));
        println!(
            "companions of one case: {:.2} ms wall, {:.2} ms CPU, {} companions",
            ms(wall),
            ms(cpu),
            found.len()
        );
    }

    let ids: Vec<(xikang_domain::CaseId, &xikang_trace::CloseContacts)> = ok
        .iter()
        .enumerate()
        .map(|(i, c)| (xikang_domain::CaseId(i as u64 + 1), *c))
        .collect();
    let t = Instant::now();
    let found = clusters(&ids);
    let took = t.elapsed();
    let biggest = found.iter().map(|c| c.cases.len()).max().unwrap_or(0);
    let dot = found.first().map(to_dot).unwrap_or_default();
    println!(
        "clusters of {} cases: {:.0} ms, {} clusters, largest {biggest} cases; DOT of the first: {} bytes",
        ids.len(),
        ms(took),
        found.len(),
        dot.len()
    );
}
