//! `xikang drill` (issue 16, parts 3–5): an outbreak on a generated city, driven through a
//! drill server's HTTP API by responders with capacities, day by day on the drill's clock; a
//! report (`DIR/report.json`, `DIR/report.html`); and `--compare-policy`, the same seeded
//! outbreak under two policies side by side. See docs/drills.md.

pub mod api;
pub mod compare;
pub mod config;
pub mod day;
pub mod demo;
pub mod report;
pub mod stress;

use anyhow::{Context, Result, bail};
use clap::Args;
use config::Responders;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use xikang_domain::policy::{DEFAULT_POLICY_TOML, ERSHITIAO_POLICY_TOML, Policy};
use xikang_domain::time::DAY;
use xikang_domain::{AreaCode, CivilDay, Timestamp};
use xikang_server::ServerConfig;
use xikang_server::auth::token_digest;
use xikang_server::state::AppState;
use xikang_sim::epidemic::{Epidemic, Variant};
use xikang_sim::{CityConfig, PingPlan, generate_city};
use xikang_store::{ApiToken, Store, Target};

#[derive(Debug, Clone, Args)]
pub struct DrillArgs {
    /// The report's directory (DIR/report.json, DIR/report.html; the drill's store in
    /// DIR/store, which must not exist yet).
    #[arg(long, default_value = "drill-out")]
    pub out: PathBuf,
    /// Residents of the generated city.
    #[arg(long, default_value_t = 20_000)]
    pub people: u32,
    /// Simulated days.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Seed of the outbreak (the city's is --city-seed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 1)]
    pub city_seed: u64,
    /// Infections on day 0.
    #[arg(long, default_value_t = 20)]
    pub seeds: u32,
    /// original, delta or omicron_ba2.
    #[arg(long, default_value = "original")]
    pub variant: String,
    /// The policy: `default` (第九版), `ershitiao` (二十条) or a policy file.
    #[arg(long, default_value = "default")]
    pub policy: String,
    /// Run the same seeded outbreak under this policy too and compare (DIR/A, DIR/B,
    /// DIR/compare.json, DIR/compare.html).
    #[arg(long)]
    pub compare_policy: Option<String>,
    /// Responders and command rules (TOML; default crates/xikang/drill.toml).
    #[arg(long)]
    pub responders: Option<PathBuf>,
    /// The drill clock's start (RFC 3339): the start of work on day 0.
    #[arg(long, default_value = "2022-11-14T08:00:00+08:00")]
    pub start: String,
    /// Instead of an outbreak: ramp real load (code displays and scans during a screening
    /// round) on a drill server until the objective breaks; the knee (DIR/stress.json).
    #[arg(long, conflicts_with = "compare_policy")]
    pub stress: bool,
    /// With --stress: the objective, p99 in milliseconds of each kind of request.
    #[arg(long, default_value_t = 100.0)]
    pub slo_p99_ms: f64,
    /// With --stress: seconds per step.
    #[arg(long, default_value_t = 5)]
    pub step_secs: u64,
    /// With --stress: the first step's requests per second (doubled each step).
    #[arg(long, default_value_t = 250)]
    pub stress_from: u32,
}

pub fn run(args: &DrillArgs) -> Result<ExitCode> {
    if args.stress {
        return stress::run(args);
    }
    if let Some(b) = &args.compare_policy {
        return compare::run(args, b);
    }
    let report = run_one(args)?;
    let s = &report.summary;
    println!(
        "drill {}: {} infections, {} cases reported, {} close and {} secondary contacts, {} quarantined, {} person-days red, last case on day {}; report in {}",
        report.setup.policy,
        s.infections,
        s.cases_reported,
        s.close_contacts,
        s.secondary_contacts,
        s.people_quarantined,
        s.person_days_red,
        s.last_case_day.map_or("—".into(), |d| d.to_string()),
        args.out.join("report.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The policy text of `--policy`.
pub fn policy_text(name: &str) -> Result<String> {
    Ok(match name {
        "default" | "ninth" => DEFAULT_POLICY_TOML.to_owned(),
        "ershitiao" => ERSHITIAO_POLICY_TOML.to_owned(),
        path => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
    })
}

/// One drill in this process (the process's clock becomes the drill's).
pub fn run_one(args: &DrillArgs) -> Result<report::Report> {
    let t0 = Instant::now();
    let responders = match &args.responders {
        Some(f) => Responders::parse(
            &std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        )
        .with_context(|| f.display().to_string())?,
        None => Responders::default_file(),
    };
    let start = Timestamp::parse_rfc3339(&args.start)
        .map_err(|e| anyhow::anyhow!("--start {:?}: {e}", args.start))?;
    if args.people == 0 || args.days == 0 {
        bail!("--people and --days must be at least 1");
    }
    let text = policy_text(&args.policy)?;
    Policy::parse(&text).map_err(|e| anyhow::anyhow!("policy: {e}"))?;
    let variant = Variant::builtin(&args.variant)?;
    let dir = args.out.join("store");
    if dir.exists() {
        bail!("{} exists: a drill writes a new store", dir.display());
    }
    std::fs::create_dir_all(&dir)?;
    let first_day: CivilDay = start.shanghai_day();
    let cfg = CityConfig {
        people: args.people,
        days: args.days + 1,
        seed: args.city_seed,
        first_day,
    };
    let city = generate_city(&cfg);
    xikang_server::drill::start(start).map_err(anyhow::Error::msg)?;
    let store: Arc<dyn Store> = Arc::from(xikang_store::open(&Target::Sqlite(dir.clone()))?);
    xikang_server::drill::check_store(store.as_ref(), true).map_err(anyhow::Error::msg)?;
    let plan = PingPlan {
        share_permille: 0,
        ..PingPlan::default()
    };
    let (_, checkins) = crate::load::store_city(store.as_ref(), &city, &cfg, &plan, false, t0)?;
    let city_secs = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let outbreak = Outbreak {
        variant,
        seed: args.seed,
        seeds: args.seeds,
        days: args.days,
        start,
        catch_up: false,
    };
    let mut rep = drive_in_process(store, &text, &city, &responders, &outbreak)?;
    rep.setup.city_seed = args.city_seed;
    for d in &mut rep.days {
        d.checkins = checkins.get(d.day as usize).copied().unwrap_or(0);
    }
    write_report(&args.out, &rep)?;
    let timings = serde_json::json!({"city_and_store_secs": city_secs,
        "drill_secs": t1.elapsed().as_secs_f64(), "total_secs": t0.elapsed().as_secs_f64()});
    std::fs::write(
        args.out.join("timings.json"),
        serde_json::to_vec_pretty(&timings)?,
    )?;
    eprintln!("drill timings: {timings}");
    Ok(rep)
}

/// The outbreak a drill runs.
#[derive(Debug, Clone)]
pub struct Outbreak {
    pub variant: Variant,
    pub seed: u64,
    pub seeds: u32,
    pub days: u32,
    /// The start of work on day 0 (the drill's clock must be at or before it).
    pub start: Timestamp,
    /// At the end, move the clock to the real time (the demo).
    pub catch_up: bool,
}

/// Serves `store` (a drill's, holding `city`) on a loopback port in this process under the
/// policy `policy_text`, runs `outbreak` on it with `responders` through the API, and stops
/// the server. The only write outside the API is the operator's admin token (as `serve`
/// makes one), revoked at the end.
pub fn drive_in_process(
    store: Arc<dyn Store>,
    policy_text: &str,
    city: &xikang_sim::City,
    responders: &Responders,
    outbreak: &Outbreak,
) -> Result<report::Report> {
    let policy = Policy::parse(policy_text).map_err(|e| anyhow::anyhow!("policy: {e}"))?;
    let start = outbreak.start;
    let operator = xikang_server::auth::new_token();
    let operator_id = store.put_api_token(
        token_digest(&operator),
        &ApiToken {
            name: "drill-operator".into(),
            role: "admin".into(),
            area: AreaCode::parse("320200")?,
            venue: None,
            person: None,
            id_lookup: true,
            enterprise: None,
            created_at: xikang_server::now(),
            expires_at: start.plus(i64::from(outbreak.days + 2) * DAY),
        },
    )?;
    // One token stands for a whole team (all the tracers, all the labs), so the per-token
    // rate limit is lifted, as `xikang bench` lifts it for its one venue device.
    let config = ServerConfig {
        policy_text: Some(Arc::from(policy_text)),
        edge: xikang_server::edge::EdgeConfig {
            token_rate: xikang_server::limit::Rate::new(0, 0),
            ..xikang_server::edge::EdgeConfig::default()
        },
        ..ServerConfig::default()
    };
    let state = Arc::new(AppState::load(
        store.clone(),
        config,
        policy.clone(),
        &xikang_server::state::policy_sha256(policy_text),
        xikang_server::now(),
    )?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut rep = rt.block_on(drive(state, city, responders, outbreak, operator))?;
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    store.revoke_api_token(operator_id, xikang_server::now())?;
    rep.setup.people = city.people.len() as u32;
    rep.setup.policy = policy.version().to_owned();
    Ok(rep)
}

async fn drive(
    state: Arc<AppState>,
    city: &xikang_sim::City,
    responders: &Responders,
    outbreak: &Outbreak,
    operator: String,
) -> Result<report::Report> {
    let start = outbreak.start;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let served = state.clone();
    tokio::spawn(
        async move { xikang_server::serve(listener, served, std::future::pending()).await },
    );
    // Tracing answers 503 until its index has loaded the city's check-ins: the drill
    // starts once it has (a tracer would otherwise retry, and the report count the retries).
    for _ in 0..36_000 {
        if state.projection.tracing.is_ready() && state.projection.tracing.pings.is_ready() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut api = api::Api::connect(&addr).await?;
    let tracer = api
        .mint(&operator, "drill-tracer", "tracer", "320200", None)
        .await?;
    let lab = api
        .mint(&operator, "drill-lab", "lab", "320200", None)
        .await?;
    // The sampling sites' staff: they open tubes, swab residents (identified by their ID
    // cards) and hand the tubes to the courier.
    let sampler = api
        .mint_with(&operator, "drill-sampler", "lab", "320200", None, true)
        .await?;
    let mut sites = Vec::new();
    for i in 0..responders.quarantine.sites {
        let v = api
            .must(
                &operator,
                "/api/v1/quarantine/sites",
                serde_json::json!({"name": format!("演练隔离点{}", i + 1), "kind": "centralized",
                    "area": "320200", "lat": 31.5 + f64::from(i) * 0.01, "lon": 120.3,
                    "capacity": responders.quarantine.beds_per_site, "manager": "drill-site"}),
                201,
            )
            .await?;
        sites.push(v["id"].as_str().unwrap_or_default().to_owned());
    }
    let mut epi = Epidemic::new(
        city,
        start.shanghai_day(),
        outbreak.variant.clone(),
        outbreak.seed,
    );
    epi.seed_infections(outbreak.seeds);
    let tokens = day::Tokens {
        operator: operator.clone(),
        command: operator.clone(),
        approver: operator.clone(),
        tracer,
        lab,
        sampler,
        display: operator,
    };
    let mut driver = day::Driver::new(api, responders, city, epi, start, tokens, sites);
    for d in 0..outbreak.days {
        let row = driver.day(d).await?;
        driver.days.push(row);
    }
    if outbreak.catch_up {
        let op = driver.t.operator.clone();
        driver.api.clock_to(&op, demo::real_now()).await?;
    }
    let when: std::collections::HashMap<u32, u32> = driver
        .epi
        .cases()
        .map(|c| (c.person.0, c.infected))
        .collect();
    let infected: Vec<(u32, Option<u32>)> = driver
        .epi
        .cases()
        .map(|c| (c.infected, c.source.and_then(|s| when.get(&s.0).copied())))
        .collect();
    let summary = report::summarise(
        &driver.days,
        &driver.timers,
        driver.quarantined.len() as u64,
    );
    Ok(report::Report {
        setup: report::Setup {
            people: 0,
            days: outbreak.days,
            seed: outbreak.seed,
            city_seed: 0,
            seeds: outbreak.seeds,
            variant: outbreak.variant.name.clone(),
            policy: String::new(),
            start: start.to_rfc3339(),
            responders: responders.clone(),
        },
        summary,
        rt: report::rt(outbreak.days, &infected),
        days: std::mem::take(&mut driver.days),
        cases: std::mem::take(&mut driver.timers),
        rounds: std::mem::take(&mut driver.round_rows),
    })
}

/// Writes DIR/report.json and DIR/report.html.
pub fn write_report(dir: &Path, r: &report::Report) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(r)?)?;
    std::fs::write(dir.join("report.html"), report::html(r))?;
    Ok(())
}
