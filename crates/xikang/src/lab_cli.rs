//! Testing and vaccination on the command line: `xikang tests import FILE`, `xikang
//! vaccinations import FILE` and `xikang round status ID` talk to a running server (so its
//! in-memory index sees every change), and `xikang bench-lab` measures a city-wide
//! screening round end to end in one process over a real store.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use xikang_server::remote::Remote;

/// Lines per request of an import (well inside the server's 1 MiB body limit).
const IMPORT_CHUNK: usize = 5_000;

/// The testing and vaccination subcommands (flattened into the main command).
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Lab results.
    Tests {
        #[command(subcommand)]
        what: ImportCmd,
    },
    /// Vaccination records.
    Vaccinations {
        #[command(subcommand)]
        what: ImportCmd,
    },
    /// Screening rounds.
    Round {
        #[command(subcommand)]
        what: RoundCmd,
    },
    /// Benchmark a city-wide screening round end to end and the coverage queries.
    BenchLab(BenchLabArgs),
}

/// Which server to talk to, and as whom.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server: https://host (TLS), http://host:port, or host:port (plain HTTP).
    #[arg(long, default_value = "127.0.0.1:8080", env = "XIKANG_SERVER")]
    pub server: String,
    /// A bearer token (lab or admin).
    #[arg(long, env = "XIKANG_TOKEN")]
    pub token: String,
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// Import a CSV file, reporting every refused line. Lab results:
    /// `barcode,outcome[,ct[,resulted_at]]`; vaccinations: `id_number,dose,vaccine,date,site`.
    Import {
        file: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoundCmd {
    /// Print a round's progress: sampled / results / abnormal, per grid cell.
    Status {
        /// The round id, e.g. R1.
        id: String,
        #[command(flatten)]
        server: ServerArgs,
        /// Print every grid cell, not only the totals.
        #[arg(long)]
        cells: bool,
    },
}

/// Runs a testing or vaccination subcommand.
pub fn run(cmd: LabCommand) -> Result<ExitCode> {
    match cmd {
        LabCommand::Tests {
            what: ImportCmd::Import { file, server },
        } => block_on(import(&file, &server, "/api/v1/lab-results")),
        LabCommand::Vaccinations {
            what: ImportCmd::Import { file, server },
        } => block_on(import(&file, &server, "/api/v1/vaccinations")),
        LabCommand::Round {
            what: RoundCmd::Status { id, server, cells },
        } => block_on(round_status(&id, &server, cells)),
        LabCommand::BenchLab(args) => bench(&args),
    }
}

fn block_on<F: std::future::Future<Output = Result<ExitCode>>>(f: F) -> Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(f)
}

/// Sends the file (CSV or XLSX) in chunks; prints each refused line with its number in the
/// file. Exit code 0 when every line was accepted, 2 when some were refused.
pub async fn import(file: &std::path::Path, server: &ServerArgs, path: &str) -> Result<ExitCode> {
    let how = crate::import::Upload {
        path,
        header: false,
        chunk: IMPORT_CHUNK,
        answer: batch_answer,
        print: true,
    };
    let summary = crate::import::send(file, &server.server, &server.token, how).await?;
    let refused = summary.refusals.len();
    println!(
        "{} line(s) accepted, {refused} refused",
        summary.count("accepted")
    );
    Ok(if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// A batch answer (`{"accepted", "results"}`, or a 422 with every item's reason).
fn batch_answer(status: u16, v: &serde_json::Value) -> Option<crate::import::ChunkAnswer> {
    let (accepted, results) = match status {
        200 => (v["accepted"].as_u64().unwrap_or(0), &v["results"]),
        422 => (0, &v["error"]["details"]["results"]),
        _ => return None,
    };
    Some(crate::import::ChunkAnswer {
        counts: vec![("accepted", accepted)],
        refused: crate::import::refused_items(results),
    })
}

async fn round_status(id: &str, server: &ServerArgs, cells: bool) -> Result<ExitCode> {
    let conn = Remote::for_cli(&server.server)?;
    let r = conn
        .get(&format!("/api/v1/rounds/{id}"), Some(&server.token))
        .await
        .context("asking for the round")?;
    if r.status != 200 {
        bail!("the server answered {}: {}", r.status, r.text());
    }
    let v = r.json();
    println!(
        "{} {} ({}), deadline {}",
        v["id"].as_str().unwrap_or(id),
        v["name"].as_str().unwrap_or(""),
        v["area"].as_str().unwrap_or(""),
        v["deadline"]
            .as_str()
            .and_then(|d| xikang_domain::Timestamp::parse_rfc3339(d).ok())
            .map(xikang_domain::Timestamp::to_shanghai_rfc3339)
            .unwrap_or_default()
    );
    let t = &v["total"];
    println!(
        "expected {}  {}",
        t["expected"],
        v["published"].as_str().unwrap_or("")
    );
    if cells {
        println!(
            "{:>10} {:>9} {:>8} {:>8} {:>8}",
            "cell", "expected", "sampled", "results", "abnormal"
        );
        for c in v["cells"].as_array().into_iter().flatten() {
            println!(
                "{:>10} {:>9} {:>8} {:>8} {:>8}",
                c["cell"], c["expected"], c["sampled"], c["resulted"], c["abnormal"]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ---------------------------------------------------------------------------------------
// Benchmark

/// `xikang bench-lab`: a screening round of `--people` residents in `--pool`-in-1 tubes.
#[derive(Debug, Clone, Args)]
pub struct BenchLabArgs {
    /// Residents (all expected in the round).
    #[arg(long, default_value_t = 10_000_000)]
    pub people: u32,
    /// Swabs per tube.
    #[arg(long, default_value_t = 10)]
    pub pool: u8,
    /// Share of tubes that come back positive.
    #[arg(long, default_value_t = 0.01)]
    pub positive_share: f64,
    /// Items per request (tubes opened, swabs bound, results posted).
    #[arg(long, default_value_t = 10_000)]
    pub batch: usize,
    /// Requests in flight at once in every phase: sampling sites, couriers and labs post
    /// concurrently.
    #[arg(long, default_value_t = 4)]
    pub uploads: usize,
    /// Data directory for the SQLite store (default: a temporary directory, deleted after).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run on PostgreSQL at this URL instead of SQLite, in a fresh schema
    /// `xk_bench_lab_<pid>` that is left for inspection (drop it afterwards).
    #[arg(long)]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub json: crate::bench_json::JsonOut,
}

/// Signs a code for each of the first `n` residents on every core, as the server issues
/// them (green, no test yet), valid for two hours from `now`.
fn issue_codes(
    state: &xikang_server::state::AppState,
    n: usize,
    now: xikang_domain::Timestamp,
) -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let per = n.div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..n)
            .step_by(per)
            .map(|from| {
                scope.spawn(move || {
                    (from..(from + per).min(n))
                        .map(|p| {
                            let subject = state
                                .pseudonyms
                                .pseudonym(xikang_domain::PersonId(p as u32));
                            let ring = state.keys(now);
                            ring.signer.issue(&xikang_code::CodeClaims {
                                issuer: ring.signer.jurisdiction().to_owned(),
                                subject,
                                colour: xikang_domain::Colour::Green,
                                last_negative: None,
                                issued_at: now,
                                expires_at: now.plus(7200),
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// A synthetic resident for the benchmark: Wuxi districts, 500 residents per grid cell,
/// birth years spread over 0–95 years of age.
fn bench_person(i: u32) -> xikang_domain::Person {
    const DISTRICTS: [u32; 7] = [320213, 320205, 320206, 320211, 320214, 320281, 320282];
    let d = DISTRICTS[(i / 1000) as usize % DISTRICTS.len()];
    let community = format!("{d}{:03}{:03}", 1 + (i / 20_000) % 30, 1 + (i / 2_000) % 10);
    // A distinct (birth date, sequence) per resident below 32 M, ages spread over 0-95.
    let rest = i / 999;
    let year = 1927 + rest % 96;
    let month = 1 + (rest / 96) % 12;
    let day = 1 + (rest / (96 * 12)) % 28;
    let id_number = xikang_domain::idnumber::IdNumber::compose(
        d,
        year as i16,
        month as i8,
        day as i8,
        (i % 999) as u16,
    );
    xikang_domain::Person {
        id: xikang_domain::PersonId(i),
        id_number: id_number.unwrap_or_else(|| unreachable!("valid parts")),
        name: "测试".into(),
        phone: None,
        household: xikang_domain::HouseholdId(i / 3),
        workplace: None,
        area: xikang_domain::AreaCode::parse(&community)
            .unwrap_or_else(|_| unreachable!("12 digits")),
        home_cell: xikang_domain::GridCell(i / 500),
    }
}

/// How many items a lab command refused, or its error.
fn refused<T>(
    answer: Result<Vec<Result<T, xikang_server::lab::ItemError>>, xikang_server::error::AppError>,
) -> Result<usize> {
    let items = answer.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(items.iter().filter(|x| x.is_err()).count())
}

/// A tube's barcode in the benchmark.
fn barcode(i: usize) -> String {
    format!("WXB-{i:08}")
}

/// Runs `job` on every item of `jobs` with `in_flight` at once, each in flight taking the
/// next (sampling sites, couriers and labs post at the same time); returns the sum of what
/// the jobs return (the items refused).
async fn concurrently<J, F, Fut>(jobs: Vec<J>, in_flight: usize, job: F) -> Result<usize>
where
    J: Send + 'static,
    F: Fn(J) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<usize>> + Send + 'static,
{
    let queue = Arc::new(std::sync::Mutex::new(
        jobs.into_iter().rev().collect::<Vec<_>>(),
    ));
    let job = Arc::new(job);
    let workers: Vec<_> = (0..in_flight.max(1))
        .map(|_| {
            let (queue, job) = (queue.clone(), job.clone());
            tokio::spawn(async move {
                let mut sum = 0;
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
                    let Some(j) = next else { break };
                    sum += job(j).await?;
                }
                anyhow::Ok(sum)
            })
        })
        .collect();
    let mut sum = 0;
    for w in workers {
        sum += w.await??;
    }
    Ok(sum)
}

fn bench(args: &BenchLabArgs) -> Result<ExitCode> {
    let mut results = crate::bench_json::Results::new(
        "bench-lab",
        serde_json::json!({"people": args.people, "pool": args.pool, "batch": args.batch,
            "uploads": args.uploads, "positive_share": args.positive_share,
            "backend": if args.database_url.is_some() { "postgres" } else { "sqlite" }}),
    );
    if let Some(url) = &args.database_url {
        let schema = format!("xk_bench_lab_{}", std::process::id());
        let sep = if url.contains('?') { '&' } else { '?' };
        bench_on(
            args,
            &xikang_store::Target::Postgres(format!("{url}{sep}schema={schema}")),
            Some((url, &schema)),
            &mut results,
        )?;
        args.json.write(&results)?;
        return Ok(ExitCode::SUCCESS);
    }
    let dir = match &args.data {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            None
        }
        None => Some(tempfile::tempdir().context("temporary directory")?),
    };
    let path = args
        .data
        .clone()
        .or_else(|| dir.as_ref().map(|d| d.path().to_path_buf()))
        .context("no data directory")?;
    bench_on(
        args,
        &xikang_store::Target::Sqlite(path),
        None,
        &mut results,
    )?;
    args.json.write(&results)?;
    Ok(ExitCode::SUCCESS)
}

/// On PostgreSQL (`pg`: the server's URL and the benchmark's schema), after the untimed
/// setup: the residents' table vacuumed and analysed and a checkpoint taken, so that the
/// timed round does not pay for the setup's ten million inserts (autovacuum of the fresh
/// table, the checkpoint their WAL would force). A city's register is loaded long before a
/// round. Without the right to `checkpoint`, it says so and goes on.
fn settle(pg: Option<(&str, &str)>) -> Result<()> {
    let Some((url, schema)) = pg else {
        return Ok(());
    };
    let t = Instant::now();
    let mut c = postgres::Client::connect(url, postgres::NoTls).context("settling the store")?;
    c.batch_execute(&format!("vacuum analyze {schema}.people"))
        .context("vacuum analyze people")?;
    match c.batch_execute("checkpoint") {
        Ok(()) => println!(
            "setup: residents vacuumed and analysed, checkpoint taken in {:.1} s",
            t.elapsed().as_secs_f64()
        ),
        Err(e) => println!("setup: residents vacuumed and analysed; no checkpoint ({e})"),
    }
    Ok(())
}

fn bench_on(
    args: &BenchLabArgs,
    target: &xikang_store::Target,
    pg: Option<(&str, &str)>,
    results: &mut crate::bench_json::Results,
) -> Result<()> {
    use xikang_domain::testing::{LabOutcome, ResultLine, SiteId, TubeBarcode};
    use xikang_server::lab::{self, NewRound, NewTube};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "== bench-lab on {target}: {} residents, {}-in-1 tubes ==",
        args.people, args.pool
    );
    let store: Arc<dyn xikang_store::Store> = Arc::from(xikang_store::open(target)?);

    // Setup (not timed): residents in the store, the server state loaded from it.
    let t = Instant::now();
    if store.count_people()? < u64::from(args.people) {
        let secrets = xikang_server::load_or_create_secrets(store.as_ref())?;
        let bar = ProgressBar::new(u64::from(args.people));
        bar.set_style(
            ProgressStyle::with_template("{spinner} residents [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let mut next = 0u32;
        while next < args.people {
            let end = (next + 100_000).min(args.people);
            let rows: Vec<_> = (next..end)
                .map(|i| {
                    let p = bench_person(i);
                    let h = p.id_number.keyed_hash(&secrets.id_hash_key);
                    (p, h)
                })
                .collect();
            store.insert_people(&rows)?;
            bar.inc(rows.len() as u64);
            next = end;
        }
        bar.finish_and_clear();
    }
    let setup_people = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let now = xikang_server::now();
    let state = Arc::new(xikang_server::state::AppState::load(
        store.clone(),
        xikang_server::ServerConfig::default(),
        xikang_domain::policy::Policy::default_policy(),
        &xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML),
        now,
    )?);
    let setup_load = t.elapsed().as_secs_f64();
    println!(
        "setup: residents stored in {setup_people:.1} s, server state loaded in {setup_load:.1} s"
    );

    let n = args.people as usize;
    let pool = usize::from(args.pool.max(1));
    let tubes = n.div_ceil(pool);
    let positive_every = if args.positive_share > 0.0 {
        (1.0 / args.positive_share).round().max(1.0) as usize
    } else {
        usize::MAX
    };
    // Each swab is bound by scanning the resident's code. The codes were issued to the
    // residents' phones before the round (not timed); they are made to live two hours
    // instead of five minutes so that they outlast this setup on a slow machine, which
    // changes nothing in what verifying one costs.
    let t = Instant::now();
    let mut tokens = issue_codes(&state, n, now);
    if tokens.len() != n {
        bail!("{} of {n} codes were issued", tokens.len());
    }
    println!(
        "setup: {n} codes issued in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    settle(pg)?;
    let started = Instant::now();
    let mut phases: Vec<(&str, f64)> = Vec::new();
    let mut resolving = 0.0f64;
    let mut errors = 0usize;
    rt.block_on(async {
        let mut lap = Instant::now();
        let site = lab::put_site(
            &state,
            xikang_domain::testing::SamplingSite {
                id: SiteId(1),
                name: "bench".into(),
                area: xikang_domain::AreaCode::parse("320200")?,
                cell: xikang_domain::GridCell(0),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let round = lab::create_round(
            &state,
            NewRound {
                name: "bench round".into(),
                area: xikang_domain::AreaCode::parse("320200")?,
                cells: Vec::new(),
                starts_at: now.plus(-3600),
                deadline: now.plus(86_400),
                pools: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        phases.push((
            "round created (expected residents counted)",
            lap.elapsed().as_secs_f64(),
        ));
        lap = Instant::now();
        let flight = args.uploads.max(1);
        let chunks = || -> Vec<Vec<usize>> {
            (0..tubes)
                .collect::<Vec<_>>()
                .chunks(args.batch)
                .map(<[usize]>::to_vec)
                .collect()
        };
        let (site, round, capacity) = (site.id, round.id, args.pool);
        let st = state.clone();
        errors += concurrently(chunks(), flight, move |chunk| {
            let state = st.clone();
            async move {
                let items = chunk
                    .iter()
                    .map(|&i| NewTube {
                        barcode: barcode(i),
                        site,
                        round: Some(round),
                        capacity,
                    })
                    .collect();
                refused(lab::open_tubes(&state, items, xikang_server::now()).await)
            }
        })
        .await?;
        phases.push(("tubes opened", lap.elapsed().as_secs_f64()));
        lap = Instant::now();
        // As `POST /samples` does: resolve the scanned codes, then bind; one upload's codes
        // are verified while another's swabs are written.
        let uploads: Vec<(usize, Vec<String>)> = {
            let mut all = Vec::with_capacity(n.div_ceil(args.batch));
            let mut scanned = std::mem::take(&mut tokens).into_iter();
            let mut first = 0usize;
            while scanned.len() > 0 {
                let chunk: Vec<String> = scanned.by_ref().take(args.batch).collect();
                let len = chunk.len();
                all.push((first, chunk));
                first += len;
            }
            all
        };
        let verifying = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (st, verified) = (state.clone(), verifying.clone());
        errors += concurrently(uploads, flight, move |(first, chunk)| {
            let (state, verified) = (st.clone(), verified.clone());
            async move {
                let t = Instant::now();
                let who = chunk.into_iter().map(lab::Swabbed::Token).collect();
                let people = lab::resolve(&state, who, false, xikang_server::now())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                verified.fetch_add(
                    t.elapsed().as_nanos() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                // One barcode string per tube, as a site's device would send it.
                let mut tube = (usize::MAX, String::new());
                let items = people
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let t = (first + i) / pool;
                        if tube.0 != t {
                            tube = (t, barcode(t));
                        }
                        (tube.1.clone(), p)
                    })
                    .collect();
                refused(lab::bind(&state, items, xikang_server::now()).await)
            }
        })
        .await?;
        resolving = verifying.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1e9;
        phases.push((
            "codes scanned and swabs bound (tubes seal when full)",
            lap.elapsed().as_secs_f64(),
        ));
        lap = Instant::now();
        // The last tube may not be full: the sampler closes it.
        if !n.is_multiple_of(pool) {
            errors +=
                refused(lab::seal(&state, vec![barcode(tubes - 1)], xikang_server::now()).await)?;
        }
        // Each courier hands over a batch and the lab receives it.
        let st = state.clone();
        errors += concurrently(chunks(), flight, move |chunk| {
            let state = st.clone();
            async move {
                let list: Vec<String> = chunk.iter().map(|&i| barcode(i)).collect();
                let (batch, r) = lab::ship(
                    &state,
                    "bench courier".into(),
                    "bench lab".into(),
                    list,
                    xikang_server::now(),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let not_shipped = r.iter().filter(|x| x.is_err()).count();
                let batch = batch.context("a batch")?;
                Ok(not_shipped
                    + refused(lab::receive(&state, batch, Vec::new(), xikang_server::now()).await)?)
            }
        })
        .await?;
        phases.push((
            "shipped and received in batches",
            lap.elapsed().as_secs_f64(),
        ));
        lap = Instant::now();
        let st = state.clone();
        errors += concurrently(chunks(), flight, move |chunk| {
            let state = st.clone();
            async move {
                let lines = chunk
                    .iter()
                    .map(|&i| {
                        Ok(ResultLine {
                            barcode: TubeBarcode::parse(&barcode(i))
                                .map_err(|e| lab::item_err(e.code(), e.to_string()))?,
                            outcome: if i % positive_every == positive_every / 2 {
                                LabOutcome::Positive
                            } else {
                                LabOutcome::Negative
                            },
                            ct: None,
                            resulted_at: None,
                        })
                    })
                    .collect();
                refused(lab::post_results(&state, "lab:bench", lines, xikang_server::now()).await)
            }
        })
        .await?;
        phases.push((
            "results posted (holds, retest tasks, releases)",
            lap.elapsed().as_secs_f64(),
        ));
        anyhow::Ok(())
    })?;
    let total = started.elapsed().as_secs_f64();
    for (name, secs) in &phases {
        println!("  {name:<52} {secs:>7.2} s");
        results.push_row("phases", serde_json::json!({"phase": name, "secs": secs}));
    }
    // The round's bar: 60 s (the testing issue), 45 s on PostgreSQL (issue 21).
    let target = if pg.is_some() { 45.0 } else { 60.0 };
    results.set("end_to_end_s", total);
    results.set("target_s", target);
    results.set("codes_verified_s", resolving);
    println!(
        "    scanned codes verified: {resolving:.2} s summed over {} concurrent uploads",
        args.uploads.max(1)
    );
    println!(
        "end to end: {n} swabs in {tubes} tubes bound, shipped, received and resulted in {total:.1} s (target ≤ {target} s) {}",
        if total <= target { "✓" } else { "✗" }
    );
    if errors > 0 {
        bail!("{errors} item(s) were refused during the benchmark");
    }

    // Colours afterwards: every member of a positive pool held, everyone else green.
    let eval_now = xikang_server::now();
    let (mut held, mut green, mut wrong) = (0usize, 0usize, 0usize);
    for p in (0..n).step_by((n / 200_000).max(1)) {
        let tube = p / pool;
        let expect_held = tube % positive_every == positive_every / 2;
        let (e, _) = state
            .evaluate(xikang_domain::PersonId(p as u32), eval_now)
            .context("resident")?;
        match (expect_held, e.colour) {
            (true, xikang_domain::Colour::Yellow) => held += 1,
            (false, xikang_domain::Colour::Green) => green += 1,
            _ => wrong += 1,
        }
    }
    let tasks = lab::open_tasks(
        &state,
        Some(xikang_domain::testing::TaskKind::SingleTubeRetest),
        |_| true,
    )
    .len();
    println!(
        "colours checked on a sample: {held} held (yellow), {green} green, {wrong} wrong; {tasks} single-tube retest tasks open"
    );
    if wrong > 0 {
        bail!("{wrong} sampled resident(s) have the wrong colour");
    }

    // Coverage per grid cell for the round, and vaccination coverage.
    let round = xikang_domain::testing::RoundId(1);
    let mut times = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        let s = lab::round_status(&state, round).context("round")?;
        std::hint::black_box(&s);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let s = lab::round_status(&state, round).context("round")?;
    results.set("round_status_median_ms", times[times.len() / 2]);
    results.set("round_status_max_ms", times[times.len() - 1]);
    println!(
        "round coverage per grid cell ({} cells; {}): median {:.2} ms, max {:.2} ms (target ≤ 50 ms)",
        s.cells.len(),
        s.total.published(),
        times[times.len() / 2],
        times[times.len() - 1]
    );
    // Doses for 70 % (first), 60 % (full course) and 30 % (booster) of residents.
    let t = Instant::now();
    rt.block_on(async {
        let mut batch = Vec::new();
        for p in 0..n {
            let h = (p as u32).wrapping_mul(2_246_822_519) % 100;
            let doses = if h < 30 {
                3
            } else if h < 60 {
                2
            } else if h < 70 {
                1
            } else {
                0
            };
            for d in 1..=doses {
                batch.push(Ok(xikang_domain::testing::Dose {
                    person: xikang_domain::PersonId(p as u32),
                    dose: d,
                    vaccine: "CoronaVac".into(),
                    given_on: xikang_domain::CivilDay(18_800 + i32::from(d) * 30),
                    site: "bench".into(),
                }));
            }
            if batch.len() >= args.batch * 5 || p + 1 == n {
                let r = lab::record_doses(&state, std::mem::take(&mut batch), xikang_server::now())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                if r.iter().any(|x| x.is_err()) {
                    bail!("a dose was refused");
                }
            }
        }
        anyhow::Ok(())
    })?;
    let import = t.elapsed().as_secs_f64();
    let city = xikang_domain::AreaCode::parse("320200")?;
    let day = xikang_server::now().shanghai_day();
    let mut times = Vec::new();
    let mut rows = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        rows = lab::vaccination_coverage(&state, &city, day);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let people: u64 = rows.iter().map(|(_, _, c)| c.people).sum();
    let full: u64 = rows.iter().map(|(_, _, c)| c.full_course).sum();
    results.set("doses_import_s", import);
    results.set("vaccination_coverage_median_ms", times[times.len() / 2]);
    results.set("vaccination_coverage_max_ms", times[times.len() - 1]);
    println!(
        "vaccination: doses imported in {import:.1} s; coverage by district × age band for {people} residents ({} rows, {:.1} % full course): median {:.1} ms, max {:.1} ms (target ≤ 50 ms)",
        rows.len(),
        100.0 * full as f64 / people.max(1) as f64,
        times[times.len() / 2],
        times[times.len() - 1]
    );
    Ok(())
}
