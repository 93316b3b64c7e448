//! `xikang bench-nodes` (docs/nodes.md): code display through one front node, then through
//! two, on one PostgreSQL database, with the CPU each request cost the nodes. On a machine
//! whose cores are all busy the two nodes cannot double the throughput; the CPU per request
//! is what lets the scaling on a larger machine be computed.

use crate::bench::{Plan, Req, Server, load};
use anyhow::{Context, Result};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use xikang_domain::PersonId;
use xikang_store::Store;

/// Arguments of `xikang bench-nodes`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodesBenchArgs {
    /// The PostgreSQL database (with `schema=NAME` to keep it apart); a city is generated
    /// into it if it holds none.
    #[arg(long, env = "XIKANG_DATABASE_URL")]
    pub database_url: String,
    /// Residents of the generated city.
    #[arg(long, default_value_t = 20_000)]
    pub people: u32,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent connections, split evenly between the nodes.
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
}

const ADMIN: &str = "xk_bench_nodes_admin_token";
const RESIDENT: &str = "xk_bench_nodes_resident_token";

/// User plus system CPU time of a process, in seconds (Linux clock ticks of 1/100 s).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

/// Busy and total CPU seconds of the whole machine so far.
fn machine_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let total: u64 = f.iter().take(8).sum();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    ((total - idle) as f64 / 100.0, total as f64 / 100.0)
}

/// Runs the benchmark.
pub fn run(args: &NodesBenchArgs) -> Result<ExitCode> {
    let target = xikang_store::Target::Postgres(args.database_url.clone());
    let store: Box<dyn Store> = xikang_store::open(&target).context("opening the database")?;
    if store.count_people()? == 0 {
        eprintln!("generating a city of {} residents…", args.people);
        let first_day = xikang_domain::CivilDay(xikang_server::now().shanghai_day().0 - 1);
        let city = xikang_sim::CityConfig {
            people: args.people,
            days: 1,
            seed: 7,
            first_day,
        };
        crate::load::generate_into(store.as_ref(), &city)?;
    }
    // A resident displaying their own code (the hot path: a phone at a venue door; not an
    // official's read, so not access-logged).
    let resident = store
        .person(PersonId(7))?
        .context("the city has no resident P7")?;
    let now = xikang_server::now();
    store.put_api_token(
        xikang_server::auth::token_digest(RESIDENT),
        &xikang_store::ApiToken {
            name: "bench-resident".into(),
            role: "resident".into(),
            area: resident.area.clone(),
            venue: None,
            person: Some(resident.id),
            id_lookup: false,
            enterprise: None,
            created_at: now,
            expires_at: now.plus(86_400),
        },
    )?;
    drop(store);
    let exe = std::env::current_exe().context("finding the xikang binary")?;
    let node = |id: &str| {
        Server::start_with(
            &exe,
            &[
                "--database-url".as_ref(),
                args.database_url.as_ref(),
                "--node-id".as_ref(),
                id.as_ref(),
                "--role".as_ref(),
                "front".as_ref(),
            ],
            ADMIN,
        )
    };
    let codes: Arc<Vec<Req>> = Arc::new(vec![Req::get("/api/v1/people/P7/code")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let duration = Duration::from_secs(args.duration);
    let a = node("bench-a")?;
    let mut nodes = vec![a];
    println!(
        "nodes  requests/s  refused  node CPU ms/request  machine busy cores (of {})",
        num_cpus()
    );
    for n in 1..=2 {
        if n == 2 {
            nodes.push(node("bench-b")?);
        }
        let per = (args.connections / n).max(1);
        // Warm the codes' cache on every node first: the measured phase is the hot path.
        rt.block_on(async {
            for s in &nodes {
                let plan = Plan {
                    addr: &s.addr,
                    connections: per,
                    duration: Duration::from_secs(2),
                };
                load(plan, RESIDENT, "warm", None, 1, codes.clone()).await?;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        let cpu0: f64 = nodes.iter().map(|s| cpu_secs(s.child.id())).sum();
        let (busy0, total0) = machine_secs();
        let phases = rt.block_on(async {
            let plan = |addr| Plan {
                addr,
                connections: per,
                duration,
            };
            match &nodes[..] {
                [a] => Ok(vec![
                    load(plan(&a.addr), RESIDENT, "codes", None, 1, codes.clone()).await?,
                ]),
                [a, b, ..] => {
                    let (x, y) = tokio::join!(
                        load(plan(&a.addr), RESIDENT, "codes", None, 1, codes.clone()),
                        load(plan(&b.addr), RESIDENT, "codes", None, 1, codes.clone()),
                    );
                    Ok(vec![x?, y?])
                }
                [] => Err(anyhow::anyhow!("no node")),
            }
        })?;
        let cpu = nodes.iter().map(|s| cpu_secs(s.child.id())).sum::<f64>() - cpu0;
        let (busy1, total1) = machine_secs();
        let requests: u64 = phases.iter().map(|p| p.requests).sum();
        let secs = phases.iter().map(|p| p.secs).fold(0.0, f64::max);
        let cores = num_cpus() as f64;
        let refused: u64 = phases.iter().map(|p| p.errors).sum();
        println!(
            "{n:>5}  {:>10.0}  {refused:>7}  {:>19.3}  {:>5.2}",
            requests as f64 / secs,
            cpu * 1000.0 / requests.max(1) as f64,
            (busy1 - busy0) / (total1 - total0).max(0.01) * cores,
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
