//! `xikang bench`: the HTTP benchmark anyone can run. It generates a city, starts `xikang
//! serve` as a separate process, and loads it from this process over loopback: a trivial
//! endpoint (the stack's ceiling), code display, scans in batches of 100, single scans, and
//! single scans paced at a fixed rate for latency. It prints throughput, latency
//! percentiles and the ratio of each to the trivial endpoint measured in the same run.
//!
//! With `--external wrk` the same phases (but the overload one) are sent by wrk with
//! `bench/wrk/phase.lua`, from the same tokens and place codes, and printed in the same
//! table. Memory is read twice: when the server prints "serving", and once both its indexes
//! (check-ins, then location pings; loaded on a background thread) are in, as `/metrics` says.

use crate::httpc::Conn;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xikang_store::Target;

/// Options of `xikang bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Residents in the generated city.
    #[arg(long, default_value_t = 100_000)]
    pub people: u32,
    /// Days of generated check-ins.
    #[arg(long, default_value_t = 2)]
    pub days: u32,
    /// Seconds per phase.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Connections of the overload phase (more than the server admits at once).
    #[arg(long, default_value_t = 1500)]
    pub overload_connections: usize,
    /// Pace of the latency phase, single scans per second.
    #[arg(long, default_value_t = 10_000)]
    pub rate: u32,
    /// Residents whose codes are fetched and then scanned.
    #[arg(long, default_value_t = 20_000)]
    pub scanned: u32,
    /// Use this data directory (kept) instead of a temporary one.
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// Send the load with an outside generator instead of the built-in client (`wrk`, which
    /// must be on the PATH; the overload phase is left out).
    #[arg(long, value_enum)]
    pub external: Option<External>,
    #[command(flatten)]
    pub json: crate::bench_json::JsonOut,
}

/// An outside load generator `xikang bench` can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum External {
    /// wrk (`apt-get install wrk`) with `crates/xikang/bench/wrk/phase.lua`.
    Wrk,
}

/// A `xikang serve` child process on a loopback port; killed when dropped.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `exe serve` on `data` with an admin token and waits until it listens. The
    /// per-token rate limit is lifted: the bench's one device token stands for every venue
    /// device of the city.
    pub fn start(exe: &std::path::Path, data: &std::path::Path, admin: &str) -> Result<Server> {
        Server::start_with(exe, &["--data".as_ref(), data.as_os_str()], admin)
    }

    /// [`Server::start`] with other arguments than `--data` (a database URL, a node id).
    pub fn start_with(
        exe: &std::path::Path,
        extra: &[&std::ffi::OsStr],
        admin: &str,
    ) -> Result<Server> {
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-token",
                admin,
                "--token-rate",
                "0",
                "--lookup-rate",
                "0",
            ])
            .args(extra)
            .env("XIKANG_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting xikang serve")?;
        let out = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(out).lines();
        for line in lines.by_ref() {
            let line = line?;
            if let Some(rest) = line.strip_prefix("xikang serving on http://") {
                let addr = rest.trim_end_matches('/').to_owned();
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines {});
                return Ok(Server { child, addr });
            }
        }
        bail!("the server exited before listening")
    }
}

/// One phase's result.
#[derive(Debug, Clone)]
pub struct Phase {
    pub name: &'static str,
    pub requests: u64,
    pub items: u64,
    pub errors: u64,
    pub secs: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The p99 of each whole second of the phase, by when the requests were due or sent
    /// (built-in client only): where a tail comes from, a stall or a steady queue.
    pub p99_by_second_us: Vec<u64>,
}

impl Phase {
    pub fn items_per_sec(&self) -> f64 {
        self.items as f64 / self.secs
    }
}

/// A request the load loop sends: method, path, body, and the bearer token it carries when
/// that is not the phase's (a resident shows their own code with their own token).
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Arc<Vec<u8>>>,
    pub token: Option<Arc<str>>,
}

impl Req {
    pub fn get(path: impl Into<String>) -> Req {
        Req {
            method: "GET",
            path: path.into(),
            body: None,
            token: None,
        }
    }

    pub fn post_json(path: impl Into<String>, body: &Value) -> Req {
        Req {
            method: "POST",
            path: path.into(),
            body: Some(Arc::new(body.to_string().into_bytes())),
            token: None,
        }
    }

    /// The same request sent with `token` instead of the phase's.
    pub fn with_token(self, token: &str) -> Req {
        Req {
            token: Some(token.into()),
            ..self
        }
    }
}

/// Where and how hard to load.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan<'a> {
    pub addr: &'a str,
    pub connections: usize,
    pub duration: Duration,
}

/// Loads `addr` with `reqs` in turn from `connections` connections for `duration`, paced at
/// `per_sec` in all (open loop) or as fast as answered: the phase's figures.
pub(crate) async fn load(
    plan: Plan<'_>,
    token: &str,
    name: &'static str,
    per_sec: Option<u32>,
    items_per_req: u64,
    reqs: Arc<Vec<Req>>,
) -> Result<Phase> {
    let Plan {
        addr,
        connections,
        duration,
    } = plan;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (addr, token, reqs) = (addr.to_owned(), token.to_owned(), reqs.clone());
        // Open-loop pacing: each connection sends at its share of the rate, and latency counts
        // from when the request was due, so a stalled server cannot hide its queueing.
        let interval =
            per_sec.map(|r| Duration::from_secs_f64(connections as f64 / f64::from(r.max(1))));
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&addr).await?;
            // (second of the phase the request was sent in, latency µs)
            let mut lat: Vec<(u32, u64)> = Vec::with_capacity(1 << 16);
            let (mut n, mut errors) = (0u64, 0u64);
            let mut i = c * 7919;
            let mut due = Instant::now()
                + interval.map_or(Duration::ZERO, |iv| {
                    iv.mul_f64(c as f64 / connections as f64)
                });
            while Instant::now() < deadline {
                if interval.is_some() {
                    tokio::time::sleep_until(due.into()).await;
                }
                let sent = if interval.is_some() {
                    due
                } else {
                    Instant::now()
                };
                let req = &reqs[i % reqs.len()];
                i += 1;
                let bearer = req.token.as_deref().unwrap_or(&token);
                let r = match &req.body {
                    Some(b) => {
                        conn.request(
                            req.method,
                            &req.path,
                            Some(bearer),
                            Some("application/json"),
                            b,
                        )
                        .await?
                    }
                    None => {
                        conn.request(req.method, &req.path, Some(bearer), None, b"")
                            .await?
                    }
                };
                // Latency is that of admitted requests; refusals are counted, and must be quick.
                if r.status == 200 {
                    let second = sent.saturating_duration_since(start).as_secs() as u32;
                    lat.push((second, sent.elapsed().as_micros() as u64));
                    n += 1
                } else {
                    errors += 1;
                    // A well-behaved device backs off as told (venue devices queue scans).
                    if let Some(secs) = r.header("retry-after").and_then(|v| v.parse::<u64>().ok())
                    {
                        tokio::time::sleep(
                            Duration::from_secs(secs).min(deadline - Instant::now()),
                        )
                        .await;
                    }
                }
                if let Some(iv) = interval {
                    due += iv;
                }
            }
            Ok::<_, anyhow::Error>((n, errors, lat))
        }));
    }
    let (mut requests, mut errors, mut lat) = (0u64, 0u64, Vec::new());
    for t in tasks {
        let (n, e, l) = t.await??;
        requests += n;
        errors += e;
        lat.extend(l);
    }
    let secs = start.elapsed().as_secs_f64();
    let mut by_second = vec![Vec::new(); duration.as_secs().max(1) as usize];
    let last = by_second.len() - 1;
    for &(s, l) in &lat {
        by_second[(s as usize).min(last)].push(l);
    }
    let mut lat: Vec<u64> = lat.into_iter().map(|(_, l)| l).collect();
    Ok(Phase {
        name,
        requests,
        items: requests * items_per_req,
        errors,
        secs,
        p50_us: percentile(&mut lat, 0.50),
        p99_us: percentile(&mut lat, 0.99),
        p99_by_second_us: by_second.iter_mut().map(|l| percentile(l, 0.99)).collect(),
    })
}

/// The `p` quantile of `lat` (sorted in place), 0 when empty.
fn percentile(lat: &mut [u64], p: f64) -> u64 {
    lat.sort_unstable();
    lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

/// Runs the benchmark.
pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let tmp;
    let data = match &args.data {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("creating a temporary data directory")?;
            tmp.path().to_path_buf()
        }
    };
    let store = xikang_store::open(&Target::Sqlite(data.clone()))?;
    if store.count_people()? == 0 {
        let cfg = xikang_sim::CityConfig {
            people: args.people,
            days: args.days,
            seed: 1,
            first_day: xikang_domain::CivilDay(
                xikang_server::now().shanghai_day().0 - args.days as i32 + 1,
            ),
        };
        eprintln!("generating {} people × {} days…", cfg.people, cfg.days);
        let r = crate::load::generate_into(store.as_ref(), &cfg)?;
        eprintln!("generated {} check-ins in {:.1} s", r.checkins, r.seconds);
    }
    drop(store);
    let admin = xikang_server::auth::new_token();
    let exe = std::env::current_exe().context("finding the xikang executable")?;
    let server = Server::start(&exe, &data, &admin)?;
    let start_rss = rss_bytes(server.child.id());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let t = Instant::now();
    let loaded = rt.block_on(wait_for_indexes(&server.addr, Duration::from_secs(1800)))?;
    let ready_rss = rss_bytes(server.child.id());
    eprintln!(
        "indexes loaded {:.1} s after \"serving\" ({} check-ins)",
        t.elapsed().as_secs_f64(),
        loaded
    );
    let phases = rt.block_on(drive(args, &server.addr, &admin))?;
    print_report(args, &phases, &server);
    let mut results = crate::bench_json::Results::new(
        "bench",
        json!({"people": args.people, "days": args.days, "duration_s": args.duration,
               "connections": args.connections, "rate": args.rate,
               "client": match args.external { Some(External::Wrk) => "wrk", None => "built-in" }}),
    );
    let ceiling = phases.first().map_or(1.0, Phase::items_per_sec);
    for p in &phases {
        results.push_row(
            "phases",
            json!({"phase": p.name, "requests_per_s": p.requests as f64 / p.secs,
                   "items_per_s": p.items_per_sec(), "p50_ms": p.p50_us as f64 / 1000.0,
                   "p99_ms": p.p99_us as f64 / 1000.0, "errors": p.errors,
                   "vs_trivial": p.items_per_sec() / ceiling,
                   "p99_by_second_ms": p.p99_by_second_us.iter()
                       .map(|&us| us as f64 / 1000.0).collect::<Vec<_>>()}),
        );
    }
    let people = f64::from(args.people.max(1));
    if let (Some(start), Some(ready), Some(busy)) =
        (start_rss, ready_rss, rss_bytes(server.child.id()))
    {
        println!(
            "server memory: {:.0} MB at \"serving\" ({:.0} bytes/resident, before the indexes load); {:.0} MB with both indexes loaded ({:.0} bytes/resident, {} check-ins); {:.0} MB after the run ({:.0} bytes/resident, caches included)",
            start as f64 / 1e6,
            start as f64 / people,
            ready as f64 / 1e6,
            ready as f64 / people,
            loaded,
            busy as f64 / 1e6,
            busy as f64 / people
        );
        results.set("memory_start_bytes_per_resident", start as f64 / people);
        results.set("memory_ready_bytes_per_resident", ready as f64 / people);
        results.set("memory_after_run_bytes_per_resident", busy as f64 / people);
        results.set("indexed_checkins", loaded);
    }
    args.json.write(&results)?;
    Ok(ExitCode::SUCCESS)
}

/// Waits until `/metrics` says the tracing index and the ping index are both loaded;
/// returns the check-ins in the tracing index.
pub(crate) async fn wait_for_indexes(addr: &str, limit: Duration) -> Result<u64> {
    let deadline = Instant::now() + limit;
    let gauge = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    };
    loop {
        let mut c = Conn::connect(addr).await?;
        let text = c.get("/metrics", None).await?.text();
        let ready = gauge(&text, "xikang_tracing_index_ready") == Some(1.0)
            && gauge(&text, "xikang_ping_index_ready") == Some(1.0);
        if ready {
            return Ok(gauge(&text, "xikang_tracing_index_checkins").unwrap_or(0.0) as u64);
        }
        if Instant::now() > deadline {
            bail!("the server's indexes did not load within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What a scan load needs: a venue device's token, single scans of `scanned` residents'
/// codes at up to 2,000 ordinary venues, and those scans in batches of 100.
pub(crate) struct ScanLoad {
    pub device: String,
    pub singles: Arc<Vec<Req>>,
    pub batches: Arc<Vec<Req>>,
}

/// Code displays of the residents P0 … P(people-1), spread over them, as an official reads
/// them (with the phase's token: each read is written to the access log).
pub(crate) fn code_requests(people: u32) -> Arc<Vec<Req>> {
    Arc::new(
        (0..4096u32)
            .map(|k| {
                Req::get(format!(
                    "/api/v1/people/P{}/code",
                    (k * 7919) % people.max(1)
                ))
            })
            .collect(),
    )
}

/// Residents showing their own codes, as a city does on a mass-testing morning: `n`
/// residents spread over P0 … P(people-1), each with a resident token minted for them (a
/// holder's own read is not access-logged).
pub(crate) async fn own_code_requests(
    addr: &str,
    admin: &str,
    people: u32,
    n: u32,
) -> Result<Arc<Vec<Req>>> {
    let mut c = Conn::connect(addr).await?;
    let mut reqs = Vec::with_capacity(n as usize);
    for k in 0..n.min(people) {
        let person = format!("P{}", (u64::from(k) * 7919 % u64::from(people.max(1))));
        let r = c
            .post_json(
                "/api/v1/tokens",
                Some(admin),
                &json!({"name": format!("bench-{person}"), "role": "resident",
                        "area": "320200", "person": person}),
            )
            .await?;
        let token = r.json()["token"]
            .as_str()
            .with_context(|| format!("creating a resident token for {person}"))?
            .to_owned();
        reqs.push(Req::get(format!("/api/v1/people/{person}/code")).with_token(&token));
    }
    Ok(Arc::new(reqs))
}

/// How many residents show their own codes in the "code display, own" phase.
const OWN_CODE_HOLDERS: u32 = 1000;

/// The two code-display loads: residents showing their own codes, and an official reading
/// others' (access-logged).
#[derive(Debug)]
pub(crate) struct Codes {
    pub own: Arc<Vec<Req>>,
    pub official: Arc<Vec<Req>>,
}

/// Runs the benchmark's phases.
async fn drive(args: &BenchArgs, addr: &str, admin: &str) -> Result<Vec<Phase>> {
    let ScanLoad {
        device,
        singles,
        batches,
    } = scan_load(addr, admin, args.scanned.min(args.people)).await?;
    eprintln!("minting {OWN_CODE_HOLDERS} resident tokens…");
    let codes = Codes {
        own: own_code_requests(addr, admin, args.people, OWN_CODE_HOLDERS).await?,
        official: code_requests(args.people),
    };
    phases(args, addr, admin, &device, singles, batches, codes).await
}

/// Makes a device token and fetches `n` codes to scan (as the city admin).
pub(crate) async fn scan_load(addr: &str, admin: &str, n: u32) -> Result<ScanLoad> {
    let mut c = Conn::connect(addr).await?;
    let r = c
        .post_json(
            "/api/v1/tokens",
            Some(admin),
            &json!({"name": "bench-device", "role": "venue_device", "area": "320200"}),
        )
        .await?;
    let device = r.json()["token"]
        .as_str()
        .context("creating a device token")?
        .to_owned();
    let mut places = Vec::new();
    let mut after: Option<String> = None;
    while places.len() < 2000 {
        let path = match &after {
            Some(a) => format!("/api/v1/venues?limit=500&after={a}"),
            None => "/api/v1/venues?limit=500".to_owned(),
        };
        let v = c.get(&path, Some(admin)).await?.json();
        for item in v["items"].as_array().into_iter().flatten() {
            if item["category"] != "train_station"
                && item["category"] != "airport"
                && item["category"] != "coach_station"
            {
                places.push(item["place_code"].as_str().unwrap_or_default().to_owned());
            }
        }
        match v["next_after"].as_str() {
            Some(a) => after = Some(a.to_owned()),
            None => break,
        }
    }
    eprintln!("fetching {n} codes to scan…");
    let mut tokens = Vec::with_capacity(n as usize);
    for i in 0..n {
        let v = c
            .get(&format!("/api/v1/people/P{i}/code"), Some(admin))
            .await?
            .json();
        if let Some(t) = v["token"].as_str() {
            tokens.push(t.to_owned());
        }
    }
    if tokens.is_empty() || places.is_empty() {
        bail!("no codes or venues to scan");
    }
    let scan = |k: usize| json!({"place_code": places[k % places.len()], "token": tokens[(k * 31) % tokens.len()]});
    let singles: Arc<Vec<Req>> = Arc::new(
        (0..4096)
            .map(|k| Req::post_json("/api/v1/scans", &scan(k)))
            .collect(),
    );
    let batches: Arc<Vec<Req>> = Arc::new(
        (0..512)
            .map(|b| {
                let items: Vec<Value> = (0..100).map(|k| scan(b * 100 + k)).collect();
                Req::post_json("/api/v1/scans", &json!({"scans": items}))
            })
            .collect(),
    );
    Ok(ScanLoad {
        device,
        singles,
        batches,
    })
}

/// The benchmark's phases.
async fn phases(
    args: &BenchArgs,
    addr: &str,
    admin: &str,
    device: &str,
    singles: Arc<Vec<Req>>,
    batches: Arc<Vec<Req>>,
    codes: Codes,
) -> Result<Vec<Phase>> {
    let trivial: Arc<Vec<Req>> = Arc::new(vec![Req::get("/healthz")]);
    let plan = Plan {
        addr,
        connections: args.connections,
        duration: Duration::from_secs(args.duration),
    };
    if args.external == Some(External::Wrk) {
        return drive_wrk(
            args,
            addr,
            [
                ("trivial GET /healthz", admin, 1, None, &trivial),
                ("code display, own", admin, 1, None, &codes.own),
                ("code display, official", admin, 1, None, &codes.official),
                ("scans, batches of 100", device, 100, None, &batches),
                ("scans, single", device, 1, None, &singles),
                ("scans, single, paced", device, 1, Some(args.rate), &singles),
            ],
        );
    }
    let mut out = Vec::new();
    eprintln!("phase: trivial endpoint");
    out.push(load(plan, admin, "trivial GET /healthz", None, 1, trivial).await?);
    eprintln!("phase: code display, residents' own");
    out.push(load(plan, admin, "code display, own", None, 1, codes.own).await?);
    eprintln!("phase: code display, an official's reads");
    out.push(
        load(
            plan,
            admin,
            "code display, official",
            None,
            1,
            codes.official,
        )
        .await?,
    );
    eprintln!("phase: scans in batches of 100");
    out.push(load(plan, device, "scans, batches of 100", None, 100, batches).await?);
    eprintln!("phase: single scans");
    out.push(load(plan, device, "scans, single", None, 1, singles.clone()).await?);
    eprintln!(
        "phase: overload, single scans from {} connections",
        args.overload_connections
    );
    let flood = Plan {
        connections: args.overload_connections,
        ..plan
    };
    out.push(
        load(
            flood,
            device,
            "overload (errors = 503s)",
            None,
            1,
            singles.clone(),
        )
        .await?,
    );
    eprintln!("phase: single scans paced at {}/s", args.rate);
    out.push(
        load(
            plan,
            device,
            "scans, single, paced",
            Some(args.rate),
            1,
            singles,
        )
        .await?,
    );
    Ok(out)
}

/// One phase for an outside generator: name, bearer token, items per request, pace, requests.
type ExternalPhase<'a> = (&'static str, &'a str, u64, Option<u32>, &'a Arc<Vec<Req>>);

/// The wrk script, kept in the repository as `crates/xikang/bench/wrk/phase.lua`.
const WRK_PHASE_LUA: &str = include_str!("../bench/wrk/phase.lua");

/// Runs the phases with wrk, one wrk process each, and reads its `XIKANG_PHASE` line.
fn drive_wrk(args: &BenchArgs, addr: &str, phases: [ExternalPhase<'_>; 6]) -> Result<Vec<Phase>> {
    let work = tempfile::tempdir().context("a directory for wrk's request files")?;
    let script = work.path().join("phase.lua");
    std::fs::write(&script, WRK_PHASE_LUA)?;
    let mut out = Vec::new();
    for (k, (name, token, items, rate, reqs)) in phases.into_iter().enumerate() {
        eprintln!("phase (wrk): {name}");
        let file = work.path().join(format!("phase{k}.txt"));
        let mut text = String::new();
        for r in reqs.iter() {
            let body = r
                .body
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            let bearer = r.token.as_deref().unwrap_or_default();
            text.push_str(&format!("{}\t{}\t{body}\t{bearer}\n", r.method, r.path));
        }
        std::fs::write(&file, text)?;
        let o = Command::new("wrk")
            .arg(format!("-t{}", args.connections.clamp(1, 2)))
            .arg(format!("-c{}", args.connections))
            .arg(format!("-d{}s", args.duration))
            .arg("-s")
            .arg(&script)
            .arg(format!("http://{addr}"))
            .env("REQS", &file)
            .env("TOKEN", token)
            .env("RATE", rate.unwrap_or(0).to_string())
            .env("THREADS", args.connections.clamp(1, 2).to_string())
            .output()
            .context("running wrk (apt-get install wrk)")?;
        let stdout = String::from_utf8_lossy(&o.stdout);
        if !o.status.success() {
            bail!(
                "wrk failed: {}{}",
                stdout,
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("XIKANG_PHASE "))
            .with_context(|| format!("wrk printed no XIKANG_PHASE line: {stdout}"))?;
        let field = |key: &str| -> Result<f64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("wrk's {key}: {line}"))
        };
        let requests = field("ok")? as u64;
        out.push(Phase {
            name,
            requests,
            items: requests * items,
            errors: field("other")? as u64,
            secs: field("secs")?,
            p50_us: field("p50_us")? as u64,
            p99_us: field("p99_us")? as u64,
            p99_by_second_us: Vec::new(),
        });
    }
    Ok(out)
}

/// Resident set size of a process, from /proc (Linux).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn print_report(args: &BenchArgs, phases: &[Phase], server: &Server) {
    let ceiling = phases.first().map_or(1.0, Phase::items_per_sec);
    println!();
    println!(
        "xikang bench — {} people, {} connections, {} s per phase, client {}, server pid {}",
        args.people,
        args.connections,
        args.duration,
        match args.external {
            Some(External::Wrk) => "wrk",
            None => "built-in",
        },
        server.child.id()
    );
    println!(
        "{:<26} {:>12} {:>12} {:>9} {:>9} {:>8} {:>10}",
        "phase", "requests/s", "items/s", "p50 ms", "p99 ms", "errors", "vs trivial"
    );
    for p in phases {
        println!(
            "{:<26} {:>12.0} {:>12.0} {:>9.2} {:>9.2} {:>8} {:>9.2}x",
            p.name,
            p.requests as f64 / p.secs,
            p.items_per_sec(),
            p.p50_us as f64 / 1000.0,
            p.p99_us as f64 / 1000.0,
            p.errors,
            p.items_per_sec() / ceiling
        );
    }
    println!(
        "(items/s: scans for scan phases; every scan acknowledged only after its group commit)"
    );
    println!("p99 ms by second of the phase:");
    for p in phases.iter().filter(|p| !p.p99_by_second_us.is_empty()) {
        let secs: Vec<String> = p
            .p99_by_second_us
            .iter()
            .map(|&us| format!("{:.1}", us as f64 / 1000.0))
            .collect();
        println!("  {:<26} {}", p.name, secs.join(" "));
    }
}
