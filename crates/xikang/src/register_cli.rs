//! The resident register on the command line: `xikang people import FILE` sends a register
//! file (CSV or XLSX) to a running server in parts, so the server's in-memory state sees
//! every resident; `xikang bench-import` measures that path end to end at a million
//! residents with 1 % bad lines, then imports the same file again.

use crate::import::{ChunkAnswer, Summary, Upload, refused_items, send};
use crate::lab_cli::ServerArgs;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use xikang_domain::idnumber::IdNumber;
use xikang_domain::{AreaCode, GridCell};
use xikang_server::register::MAX_LINES;
use xikang_store::{ApiToken, GridCellRecord, Store, Target};

/// `xikang people …`.
#[derive(Debug, Subcommand)]
pub enum PeopleCmd {
    /// Import a resident-register file (实有人口), CSV or XLSX, with a header naming the
    /// columns id_number, name, phone, household, address, community, cell[, kind,
    /// registered_on] (or their Chinese names; see docs/register.md). Prints every refused
    /// line with its number and code; exit code 2 when some were refused.
    Import {
        file: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Runs `xikang people …`.
pub fn run(cmd: PeopleCmd) -> Result<ExitCode> {
    match cmd {
        PeopleCmd::Import { file, server } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let summary = rt.block_on(import(&file, &server.server, &server.token, true))?;
            print_summary(&summary);
            Ok(if summary.refusals.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
    }
}

/// Imports a register file through a running server.
pub async fn import(file: &Path, server: &str, token: &str, print: bool) -> Result<Summary> {
    let how = Upload {
        path: "/api/v1/people/import",
        header: true,
        chunk: MAX_LINES,
        answer: register_answer,
        print,
    };
    send(file, server, token, how).await
}

fn register_answer(status: u16, v: &serde_json::Value) -> Option<ChunkAnswer> {
    let out = match status {
        200 => v,
        422 => &v["error"]["details"],
        _ => return None,
    };
    let n = |k: &str| out[k].as_u64().unwrap_or(0);
    Some(ChunkAnswer {
        counts: vec![
            ("added", n("added")),
            ("updated", n("updated")),
            ("moved", n("moved")),
            ("unchanged", n("unchanged")),
        ],
        refused: refused_items(&out["refusals"]),
    })
}

fn print_summary(s: &Summary) {
    println!(
        "{} line(s): {} added, {} updated, {} moved, {} unchanged, {} refused",
        s.lines,
        s.count("added"),
        s.count("updated"),
        s.count("moved"),
        s.count("unchanged"),
        s.refusals.len()
    );
}

/// `xikang bench-import`.
#[derive(Debug, Args)]
pub struct BenchImportArgs {
    /// Residents in the generated register file.
    #[arg(long, default_value_t = 1_000_000)]
    pub people: u32,
    /// Bad lines per thousand (each refused with its own code).
    #[arg(long, default_value_t = 10)]
    pub bad_per_mille: u32,
    /// Run on PostgreSQL (a fresh schema in this database) instead of a temporary SQLite
    /// directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Where to write the register file (a temporary directory by default).
    #[arg(long)]
    pub work: Option<PathBuf>,
    #[command(flatten)]
    pub json: crate::bench_json::JsonOut,
}

/// The seven county-level divisions of Wuxi (DESIGN.md).
const DISTRICTS: [u32; 7] = [320213, 320205, 320206, 320211, 320214, 320281, 320282];

/// A grid of 7 districts × 8 streets × 8 communities × 4 cells: cell `n`'s community.
fn bench_grid() -> Vec<GridCellRecord> {
    let mut cells = Vec::new();
    for (d, district) in DISTRICTS.iter().enumerate() {
        for s in 1..=8u32 {
            for c in 1..=8u32 {
                let community = format!("{district}{s:03}{c:03}");
                for k in 0..4u32 {
                    let n = ((d as u32 * 8 + s - 1) * 8 + c - 1) * 4 + k;
                    cells.push(GridCellRecord {
                        cell: GridCell(n),
                        community: AreaCode::parse(&community).unwrap_or_else(|_| unreachable!()),
                        name: format!("网格 {n}"),
                        lat: 31.5,
                        lon: 120.3,
                        worker: None,
                    });
                }
            }
        }
    }
    cells
}

/// Writes a register of `people` lines, every `1000 / bad_per_mille`-th one bad in one of
/// five ways; a byte-order mark, quoted addresses with commas and a tenth floating
/// population, as a city's export would have. Returns the number of bad lines.
fn write_register(
    path: &Path,
    people: u32,
    bad_per_mille: u32,
    grid: &[GridCellRecord],
) -> Result<u32> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, f);
    out.write_all(
        b"\xEF\xBB\xBFid_number,name,phone,household,address,community,cell,kind,registered_on\r\n",
    )?;
    let every = match bad_per_mille {
        0 => u32::MAX,
        n => (1000 / n).max(1),
    };
    let mut bad = 0;
    for i in 0..people {
        let cell = &grid[(i / 3) as usize % grid.len()];
        let district: u32 = cell.community.as_str()[..6].parse().unwrap_or(320213);
        let (year, month, day) = (
            1940 + (i / 336_000) as i16,
            ((i / 28_000) % 12 + 1) as i8,
            ((i / 1000) % 28 + 1) as i8,
        );
        let mut id = IdNumber::compose(district, year, month, day, (i % 1000) as u16)
            .map(|n| n.expose().to_owned())
            .context("composing an ID number")?;
        let mut phone = format!("1{:010}", 3_800_000_000u64 + u64::from(i));
        let mut cell_no = cell.cell.0;
        let (mut kind, mut date) = if i % 10 == 7 {
            ("floating", "2022-03-01")
        } else {
            ("", "")
        };
        if i % every == every - 1 {
            bad += 1;
            match bad % 5 {
                0 => {
                    // A wrong check digit.
                    let last = if id.ends_with('0') { '1' } else { '0' };
                    id.truncate(17);
                    id.push(last);
                }
                1 => cell_no = (cell_no + 4) % grid.len() as u32, // another community's cell
                2 => phone.truncate(7),                           // a phone number too short
                3 => (kind, date) = ("floating", ""),             // no registration date
                _ => cell_no = 9_999_999,                         // no such grid cell
            }
        }
        writeln!(
            out,
            "{id},居民{i},{phone},H{},\"{} 路 {} 号, {} 室\",{},{cell_no},{kind},{date}\r",
            i / 3,
            i % 97,
            i / 3,
            i % 5 + 101,
            cell.community.as_str(),
        )?;
    }
    out.flush()?;
    Ok(bad)
}

/// Runs the import benchmark.
pub fn bench(args: &BenchImportArgs) -> Result<ExitCode> {
    let work = match &args.work {
        Some(w) => {
            std::fs::create_dir_all(w)?;
            (w.clone(), None)
        }
        None => {
            let t = tempfile::tempdir().context("temporary directory")?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let target = match &args.database_url {
        Some(url) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            Target::Postgres(format!(
                "{url}{sep}schema=xk_bench_import_{}",
                std::process::id()
            ))
        }
        None => Target::Sqlite(work.0.join("store")),
    };
    println!(
        "== bench-import on {target}: {} residents, {}‰ bad ==",
        args.people, args.bad_per_mille
    );
    let grid = bench_grid();
    let file = work.0.join("register.csv");
    let t = Instant::now();
    let bad = write_register(&file, args.people, args.bad_per_mille, &grid)?;
    println!(
        "setup: register file of {} MB written in {:.1} s",
        std::fs::metadata(&file)?.len() / 1_000_000,
        t.elapsed().as_secs_f64()
    );
    let store: Arc<dyn Store> = Arc::from(xikang_store::open(&target)?);
    store.put_grid_cells(&grid)?;
    let token = "xk_bench_import_admin";
    let now = xikang_server::now();
    store.put_api_token(
        xikang_server::auth::token_digest(token),
        &ApiToken {
            name: "bench-import".into(),
            role: "admin".into(),
            area: AreaCode::parse("320200")?,
            venue: None,
            person: None,
            id_lookup: false,
            enterprise: None,
            created_at: now,
            expires_at: now.plus(3600),
        },
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Loaded outside the runtime: the PostgreSQL client blocks (the server calls the store
    // from blocking threads).
    let state = Arc::new(xikang_server::state::AppState::load(
        store.clone(),
        xikang_server::ServerConfig::default(),
        xikang_domain::policy::Policy::default_policy(),
        &xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML),
        now,
    )?);
    let result = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(xikang_server::serve(listener, state.clone(), async {
            let _ = stopped.await;
        }));
        let good = u64::from(args.people - bad);
        let mut figures = Vec::new();
        for (round, expect_added) in [("first import", good), ("same file again", 0)] {
            let events_before = state.projection.applied().0;
            let t = Instant::now();
            let s = import(&file, &addr, token, false).await?;
            let secs = t.elapsed().as_secs_f64();
            let events = state.projection.applied().0 - events_before;
            println!(
                "{round}: {} lines in {secs:.1} s ({:.0} lines/s): {} added, {} updated, {} moved, {} unchanged, {} refused; {events} authority event(s)",
                s.lines,
                s.lines as f64 / secs,
                s.count("added"),
                s.count("updated"),
                s.count("moved"),
                s.count("unchanged"),
                s.refusals.len()
            );
            if s.count("added") != expect_added || s.refusals.len() as u64 != u64::from(bad) {
                bail!("{round}: expected {expect_added} added and {bad} refused");
            }
            if expect_added == 0 && (s.count("updated") + s.count("moved") != 0 || events != 0) {
                bail!("{round}: a repeated import changed something");
            }
            if expect_added > 0 {
                let mut codes: std::collections::BTreeMap<&str, u64> = Default::default();
                for r in &s.refusals {
                    *codes.entry(r.code.as_str()).or_default() += 1;
                }
                println!("  refusals by code: {codes:?}");
            }
            figures.push(secs);
        }
        let _ = stop.send(());
        let _ = server.await;
        Ok::<_, anyhow::Error>(figures)
    })?;
    println!("stored residents: {}", store.count_people()?);
    println!(
        "result: first import {:.1} s, repeat {:.1} s (bar: ≤ 60 s for 1,000,000)",
        result[0], result[1]
    );
    let mut results = crate::bench_json::Results::new(
        "bench-import",
        serde_json::json!({"people": args.people, "bad_per_mille": args.bad_per_mille,
            "backend": if args.database_url.is_some() { "postgres" } else { "sqlite" }}),
    );
    results.set("first_import_s", result[0]);
    results.set("repeat_import_s", result[1]);
    results.set("lines_per_s", f64::from(args.people) / result[0].max(1e-9));
    args.json.write(&results)?;
    if let (Some(url), Target::Postgres(with_schema)) = (&args.database_url, &target) {
        // The benchmark's own schema goes with it.
        let schema = with_schema.rsplit("schema=").next().unwrap_or_default();
        drop(store);
        drop(state);
        postgres::Client::connect(url, postgres::NoTls)
            .and_then(|mut c| c.batch_execute(&format!("drop schema if exists {schema} cascade")))
            .context("dropping the benchmark schema")?;
    }
    drop(work);
    Ok(ExitCode::SUCCESS)
}
