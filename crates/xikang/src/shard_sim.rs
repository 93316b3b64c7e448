//! `xikang bench-shards` (docs/scale.md): what partitioning a city's check-ins by the
//! venue's district would do, simulated on a stored city. Each district's check-ins go to
//! one shard (districts dealt to shards largest first, each to the least loaded); the
//! command prints each shard's share of the check-ins (the write load, since scans arrive
//! in proportion) and, for a sample of residents taken as cases, how many shards their
//! tracing query must ask (scatter-gather fan-out) and what share of their contacts' rows
//! sit on another shard than the case's home district.

use anyhow::Result;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;
use xikang_domain::{AreaCode, PersonId, VenueId};

/// Arguments of `xikang bench-shards`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShardSimArgs {
    #[command(flatten)]
    pub store: crate::cli::StoreArgs,
    /// Shards to deal the districts to.
    #[arg(long, default_value_t = 4)]
    pub shards: usize,
    /// Residents taken as cases for the fan-out figures.
    #[arg(long, default_value_t = 2_000)]
    pub cases: u32,
}

/// Runs the simulation.
pub fn run(args: &ShardSimArgs) -> Result<ExitCode> {
    let store = args.store.open_existing(false)?;
    let shards = args.shards.max(1);
    let district_of: HashMap<VenueId, AreaCode> = store
        .all_venues()?
        .into_iter()
        .map(|v| (v.id, v.area.district()))
        .collect();
    // One pass over the check-ins: rows per district, and the districts each sampled
    // resident visited.
    let people = u32::try_from(store.count_people()?)
        .unwrap_or(u32::MAX)
        .max(1);
    let step = (people / args.cases.max(1)).max(1);
    let mut rows: BTreeMap<AreaCode, u64> = BTreeMap::new();
    let mut visited: HashMap<PersonId, Vec<AreaCode>> = HashMap::new();
    let mut total = 0u64;
    store.for_each_checkin(&mut |chunk| {
        for c in chunk {
            let Some(d) = district_of.get(&c.venue) else {
                continue;
            };
            *rows.entry(d.clone()).or_default() += 1;
            total += 1;
            if c.person.0 % step == 0 {
                visited.entry(c.person).or_default().push(d.clone());
            }
        }
    })?;
    // Largest district first, each to the least loaded shard.
    let mut by_size: Vec<(&AreaCode, &u64)> = rows.iter().collect();
    by_size.sort_by(|a, b| b.1.cmp(a.1));
    let mut load = vec![0u64; shards];
    let mut shard_of: HashMap<AreaCode, usize> = HashMap::new();
    for (d, n) in by_size {
        let s = (0..shards).min_by_key(|s| load[*s]).unwrap_or(0);
        load[s] += n;
        shard_of.insert(d.clone(), s);
    }
    println!(
        "{total} check-ins in {} districts over {shards} shards",
        rows.len()
    );
    let mean = total as f64 / shards as f64;
    for (s, n) in load.iter().enumerate() {
        let ds: Vec<String> = shard_of
            .iter()
            .filter(|(_, x)| **x == s)
            .map(|(d, _)| d.to_string())
            .collect();
        println!(
            "shard {s}: {n:>10} check-ins ({:>5.1} %, {:.2}× the mean) districts {}",
            *n as f64 * 100.0 / total.max(1) as f64,
            *n as f64 / mean.max(1.0),
            ds.join(" ")
        );
    }
    // Fan-out: the shards one case's venues live on (its contacts are found there).
    let mut fanout: BTreeMap<usize, u32> = BTreeMap::new();
    let (mut away, mut all) = (0u64, 0u64);
    for (p, ds) in &visited {
        let home = store.person(*p)?.map(|x| x.area.district());
        let touched: HashSet<usize> = ds.iter().filter_map(|d| shard_of.get(d).copied()).collect();
        *fanout.entry(touched.len()).or_default() += 1;
        let home_shard = home.and_then(|h| shard_of.get(&h).copied());
        all += ds.len() as u64;
        away += ds
            .iter()
            .filter(|d| shard_of.get(*d).copied() != home_shard)
            .count() as u64;
    }
    let cases = visited.len().max(1) as f64;
    println!(
        "tracing fan-out over {} sampled cases (shards asked per case):",
        visited.len()
    );
    for (k, n) in &fanout {
        println!("  {k} shard(s): {:>5.1} %", f64::from(*n) * 100.0 / cases);
    }
    println!(
        "check-ins of a case away from its home district's shard: {:.1} %",
        away as f64 * 100.0 / all.max(1) as f64
    );
    Ok(ExitCode::SUCCESS)
}
