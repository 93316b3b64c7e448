//! `xikang drill --stress` (issue 16, part 6, 压力测试): a drill server (`xikang serve
//! --drill` on a drill store of a generated city, a separate process) takes a ramp of real
//! load — code displays and venue scans, paced open-loop, half each — after the command
//! centre has ordered a city-wide screening round, step by step until the service-level
//! objective breaks (p99 above `--slo-p99-ms`, or more than 1 % of requests refused). It
//! reports each step's offered and achieved requests per second and p99, and the knee: the
//! last step that met the objective. The load loop is `xikang bench`'s (`bench::load`).

use super::DrillArgs;
use crate::bench::{Phase, Plan, Server, code_requests, load, scan_load, wait_for_indexes};
use anyhow::{Context, Result, bail};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use xikang_domain::{CivilDay, Timestamp};
use xikang_sim::{CityConfig, PingPlan, generate_city};
use xikang_store::{Store, Target};

/// One step of the ramp.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub offered_per_sec: u32,
    pub achieved_per_sec: f64,
    pub codes_p99_ms: f64,
    pub scans_p99_ms: f64,
    pub refused: u64,
    pub met_slo: bool,
}

fn step_of(offered: u32, codes: &Phase, scans: &Phase, slo_ms: f64) -> Step {
    let secs = codes.secs.max(scans.secs).max(1e-9);
    let answered = codes.requests + scans.requests;
    let refused = codes.errors + scans.errors;
    let (c99, s99) = (codes.p99_us as f64 / 1000.0, scans.p99_us as f64 / 1000.0);
    Step {
        offered_per_sec: offered,
        achieved_per_sec: answered as f64 / secs,
        codes_p99_ms: c99,
        scans_p99_ms: s99,
        refused,
        met_slo: c99 <= slo_ms
            && s99 <= slo_ms
            && (refused as f64) <= 0.01 * (answered + refused) as f64,
    }
}

pub fn run(args: &DrillArgs) -> Result<ExitCode> {
    let start = Timestamp::parse_rfc3339(&args.start)
        .map_err(|e| anyhow::anyhow!("--start {:?}: {e}", args.start))?;
    let data = args.out.join("store");
    if data.exists() {
        bail!("{} exists: a drill writes a new store", data.display());
    }
    std::fs::create_dir_all(&data)?;
    let cfg = CityConfig {
        people: args.people,
        days: 1,
        seed: args.city_seed,
        first_day: CivilDay(start.shanghai_day().0),
    };
    {
        let store: Box<dyn Store> = xikang_store::open(&Target::Sqlite(data.clone()))?;
        xikang_server::drill::check_store(store.as_ref(), true).map_err(anyhow::Error::msg)?;
        let city = generate_city(&cfg);
        let plan = PingPlan {
            share_permille: 0,
            ..PingPlan::default()
        };
        crate::load::store_city(
            store.as_ref(),
            &city,
            &cfg,
            &plan,
            false,
            std::time::Instant::now(),
        )?;
    }
    let admin = xikang_server::auth::new_token();
    let exe = std::env::current_exe().context("finding the xikang executable")?;
    let server = Server::start_with(
        &exe,
        &[
            "--data".as_ref(),
            data.as_os_str(),
            "--drill".as_ref(),
            "--drill-start".as_ref(),
            args.start.as_ref(),
        ],
        &admin,
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let steps = rt.block_on(ramp(args, &server.addr, &admin))?;
    let knee = steps.iter().take_while(|s| s.met_slo).last();
    println!("offered/s  achieved/s  codes p99 ms  scans p99 ms  refused  SLO");
    for s in &steps {
        println!(
            "{:>9}  {:>10.0}  {:>12.1}  {:>12.1}  {:>7}  {}",
            s.offered_per_sec,
            s.achieved_per_sec,
            s.codes_p99_ms,
            s.scans_p99_ms,
            s.refused,
            if s.met_slo { "met" } else { "BROKEN" }
        );
    }
    match knee {
        Some(k) => println!(
            "knee: {:.0} requests/s (offered {}/s) with p99 ≤ {} ms",
            k.achieved_per_sec, k.offered_per_sec, args.slo_p99_ms
        ),
        None => println!("the first step already broke the objective"),
    }
    let doc = json!({"people": args.people, "slo_p99_ms": args.slo_p99_ms,
        "step_secs": args.step_secs, "steps": steps,
        "knee_per_sec": knee.map(|k| k.achieved_per_sec)});
    std::fs::write(
        args.out.join("stress.json"),
        serde_json::to_vec_pretty(&doc)?,
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn ramp(args: &DrillArgs, addr: &str, admin: &str) -> Result<Vec<Step>> {
    wait_for_indexes(addr, Duration::from_secs(1800)).await?;
    let scans = scan_load(addr, admin, args.people.min(20_000)).await?;
    let codes = code_requests(args.people);
    // The command centre orders a city-wide round: its sampling points display codes.
    let mut c = crate::httpc::Conn::connect(addr).await?;
    // The server's clock is the drill's, standing at --start: the round starts then.
    let start = Timestamp::parse_rfc3339(&args.start).map_err(|e| anyhow::anyhow!("{e}"))?;
    let r = c
        .post_json(
            "/api/v1/rounds",
            Some(admin),
            &json!({"name": "压力测试全员核酸", "area": "320200",
                    "starts_at": start.to_rfc3339(),
                    "deadline": start.plus(12 * 3600).to_rfc3339()}),
        )
        .await?;
    if r.status != 201 {
        bail!("ordering the round: {} {}", r.status, r.text());
    }
    let mut steps = Vec::new();
    let mut rate = args.stress_from.max(2);
    loop {
        let plan = Plan {
            addr,
            connections: 32,
            duration: Duration::from_secs(args.step_secs.max(1)),
        };
        eprintln!("stress step: {rate} requests/s");
        let (a, b) = tokio::join!(
            load(
                plan,
                admin,
                "code display",
                Some(rate / 2),
                1,
                codes.clone()
            ),
            load(
                plan,
                &scans.device,
                "scans, single",
                Some(rate / 2),
                1,
                Arc::clone(&scans.singles)
            ),
        );
        let step = step_of(rate, &a?, &b?, args.slo_p99_ms);
        let broke = !step.met_slo;
        steps.push(step);
        if broke || rate >= 1_000_000 {
            return Ok(steps);
        }
        rate *= 2;
    }
}
