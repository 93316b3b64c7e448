//! `xikang bench-trace`: contact tracing on a stored city, answered side by side by
//! xikang's in-memory index, by PostgreSQL and by DuckDB (the `duckdb` Python package) over
//! the same rows, with the times, every ratio and a check that all find the same close
//! contacts (the run fails, exit status 3, if any case differs).
//!
//! Each database is asked in two forms (the SQL is documented in `docs/tracing.md`):
//! - **window** ([`close_contacts_sql`]): presence intervals derived from the raw entry and
//!   exit scans with window functions on every question, merged per venue, clipped to the
//!   exposure window, overlapped with everyone else's at the same venues, plus household and
//!   workplace. It encodes the same rules as `xikang-trace` (`crates/xikang-trace/src/presence.rs`).
//! - **stays** ([`close_contacts_stays_sql`]): the same head start xikang gets from building
//!   its index once: a precomputed table of merged presence intervals ([`stays_sql`]), then
//!   one range-overlap join per case. PostgreSQL runs it with btrees on `(venue, s)` and
//!   `(person, s)`, and again on a copy with a GiST index on `(venue, int8range(s, e))`;
//!   DuckDB with the table sorted by `(venue, s)` (and a copy sorted by `(person, s)`).

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use xikang_domain::time::DAY;
use xikang_domain::{PersonId, Timestamp};
use xikang_server::app::projection::CaseRecord;
use xikang_server::state::AppState;
use xikang_server::trace::case_of;
use xikang_server::{ServerConfig, now};
use xikang_trace::{Case, MAX_STAY, Tracer, companions};

mod pg;
mod sql;
use pg::{load_pg, load_pg_stays, run_pg};
pub use sql::{Overlap, close_contacts_sql, close_contacts_stays_sql, stays_sql};

/// Options of `xikang bench-trace`.
#[derive(Debug, Clone, Args)]
pub struct TraceBenchArgs {
    #[command(flatten)]
    store: crate::cli::StoreArgs,
    /// Cases in the batch (and compared across the three systems).
    #[arg(long, default_value_t = 1_000)]
    cases: usize,
    /// Cases timed one by one for latency figures.
    #[arg(long, default_value_t = 50)]
    single: usize,
    /// Where the CSV copies of the rows (for PostgreSQL and DuckDB) and the DuckDB file go.
    #[arg(long, default_value = "xikang-bench-trace")]
    work: PathBuf,
    /// PostgreSQL for the comparison (the schema of `--pg-schema` is created there).
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/test",
        env = "XIKANG_BENCH_DATABASE_URL"
    )]
    pg: String,
    /// The PostgreSQL schema the rows are loaded into (created if missing; its tables are
    /// replaced when the rows differ). Lower-case letters, digits and underscores.
    #[arg(long, default_value = "xk_trace_bench")]
    pg_schema: String,
    /// Skip PostgreSQL.
    #[arg(long)]
    no_pg: bool,
    /// Skip DuckDB.
    #[arg(long)]
    no_duckdb: bool,
    /// Reload PostgreSQL and DuckDB even if they hold the rows already.
    #[arg(long)]
    reload: bool,
    /// Skip the databases' "window" form (presence derived from raw scans per question).
    #[arg(long)]
    no_window: bool,
    #[command(flatten)]
    json: crate::bench_json::JsonOut,
}

/// The question, as each system is asked it.
struct Question {
    case: Case,
    lo: i64,
    hi: i64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(secs: f64) -> String {
    format!("{:.2}", secs * 1e3)
}

/// A case whose contact set, as another system found it, differs from xikang's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The case's position in the question list.
    pub case: usize,
    /// Up to five contacts only xikang found.
    pub only_reference: Vec<u32>,
    /// Up to five contacts only the other system found.
    pub only_other: Vec<u32>,
    /// The other system gave no answer for this case at all.
    pub missing: bool,
}

/// Compares another system's contact sets with the reference's, case by case: every case
/// whose set differs, or for which no answer came back, is a mismatch.
pub fn compare_contact_sets(reference: &[BTreeSet<u32>], other: &[BTreeSet<u32>]) -> Vec<Mismatch> {
    let empty = BTreeSet::new();
    let mut out = Vec::new();
    for case in 0..reference.len().max(other.len()) {
        let a = reference.get(case).unwrap_or(&empty);
        let (b, missing) = match other.get(case) {
            Some(b) => (b, false),
            None => (&empty, true),
        };
        if a != b || missing || case >= reference.len() {
            out.push(Mismatch {
                case,
                only_reference: a.difference(b).take(5).copied().collect(),
                only_other: b.difference(a).take(5).copied().collect(),
                missing,
            });
        }
    }
    out
}

/// Writes the rows the SQL systems load: check-ins (as stored, repeats included), people,
/// workplaces with their venue (the venues are written by [`write_venues_csv`] on every run).
fn write_csvs(state: &AppState, dir: &Path) -> Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut rows = 0u64;
    {
        let mut w =
            BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("checkins.csv"))?);
        let mut err = None;
        state.store.for_each_checkin(&mut |chunk| {
            for c in chunk {
                let dir = u8::from(c.direction == xikang_domain::ScanDirection::Exit);
                if let Err(e) = writeln!(w, "{},{},{},{}", c.venue.0, c.at.0, c.person.0, dir) {
                    err.get_or_insert(e);
                }
            }
            rows += chunk.len() as u64;
        })?;
        if let Some(e) = err {
            return Err(e.into());
        }
        w.flush()?;
    }
    {
        let mut w = BufWriter::new(std::fs::File::create(dir.join("people.csv"))?);
        let mut err = None;
        state.store.for_each_person_brief(&mut |p| {
            let work = p.workplace.map(|w| w.0.to_string()).unwrap_or_default();
            if let Err(e) = writeln!(w, "{},{},{}", p.id.0, p.household.0, work) {
                err.get_or_insert(e);
            }
        })?;
        if let Some(e) = err {
            return Err(e.into());
        }
        w.flush()?;
    }
    {
        let mut w = BufWriter::new(std::fs::File::create(dir.join("workplaces.csv"))?);
        for wp in state.store.all_workplaces()? {
            let v = wp.venue.map(|v| v.0.to_string()).unwrap_or_default();
            writeln!(w, "{},{}", wp.id.0, v)?;
        }
        w.flush()?;
    }
    std::fs::write(dir.join("rows"), rows.to_string())?;
    Ok(rows)
}

/// Writes `venues.csv`: each venue's dwell seconds and close-contact overlap in seconds
/// (empty where co-presence makes no close contact), as xikang's population has them under
/// `policy`. Written and loaded on every run, so a changed policy is compared with the same
/// rule on both sides even when the check-ins are reused.
fn write_venues_csv(state: &AppState, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let population = state.projection.tracing.population();
    let inherited = i64::from(state.policy().tracing().close_contact_minutes) * 60;
    let mut w = BufWriter::new(std::fs::File::create(dir.join("venues.csv"))?);
    for v in &state.projection.venues.list {
        let close = population
            .close_contact_secs(v.id.0, inherited)
            .map(|s| s.to_string())
            .unwrap_or_default();
        writeln!(w, "{},{},{close}", v.id.0, population.dwell_secs(v.id.0))?;
    }
    w.flush()?;
    Ok(())
}

/// The DuckDB side, run by `python3` with the `duckdb` package: `prepare` loads the CSVs
/// (unless the file holds them already) and builds `stays` sorted by `(venue, s)` and
/// `stays_p` sorted by `(person, s)`; `run` asks each form's questions in turn.
const DUCKDB_SCRIPT: &str = r#"
import json, sys, time, os
import duckdb
mode, work, db, arg = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
con = duckdb.connect(db)
def exists(name):
    return con.execute("select count(*) from information_schema.tables where table_name = ?", [name]).fetchone()[0] > 0
if mode == "prepare":
    spec = json.load(open(arg))
    rows = int(open(os.path.join(work, "rows")).read())
    load, stays_load = 0.0, 0.0
    if exists("checkins") and not spec["reload"] and con.execute("select count(*) from checkins").fetchone()[0] == rows:
        pass
    else:
        t = time.perf_counter()
        for table in ["checkins", "people", "venues", "workplaces", "stays", "stays_p"]:
            con.execute(f"drop table if exists {table}")
        for table, cols in [
            ("checkins", "{'venue': 'INTEGER', 't': 'BIGINT', 'person': 'INTEGER', 'dir': 'SMALLINT'}"),
            ("people", "{'id': 'INTEGER', 'household': 'INTEGER', 'workplace': 'INTEGER'}"),
            ("workplaces", "{'id': 'INTEGER', 'venue': 'INTEGER'}"),
        ]:
            path = os.path.join(work, table + ".csv")
            con.execute(f"create table {table} as select * from read_csv('{path}', header=false, columns={cols})")
        load = time.perf_counter() - t
    # The venues carry the policy's close-contact rule: loaded on every run.
    con.execute("drop table if exists venues")
    path = os.path.join(work, "venues.csv")
    con.execute(f"create table venues as select * from read_csv('{path}', header=false, columns={{'id': 'INTEGER', 'dwell': 'INTEGER', 'close': 'INTEGER'}})")
    if not (exists("stays") and exists("stays_p")):
        t = time.perf_counter()
        con.execute("drop table if exists stays; drop table if exists stays_p")
        con.execute("create table stays as " + spec["stays_sql"] + "\norder by venue, s")
        con.execute("create table stays_p as select * from stays order by person, s")
        stays_load = time.perf_counter() - t
    longest = con.execute("select coalesce(max(e - s), 0) from stays").fetchone()[0]
    json.dump({"load": load, "stays_load": stays_load, "longest": int(longest)}, sys.stdout)
else:
    forms = json.load(open(arg))
    out = {}
    for name, sqls in forms.items():
        times, results = [], []
        for sql in sqls:
            t = time.perf_counter()
            got = [r[0] for r in con.execute(sql).fetchall()]
            times.append(time.perf_counter() - t)
            results.append(got)
        out[name] = {"times": times, "results": results}
    json.dump(out, sys.stdout)
"#;

/// Runs the DuckDB script in `mode` and parses what it prints.
fn duckdb(work: &Path, mode: &str, arg: &Path) -> Result<Value> {
    let script = work.join("duckdb_bench.py");
    std::fs::write(&script, DUCKDB_SCRIPT)?;
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(mode)
        .arg(work)
        .arg(work.join("bench.duckdb"))
        .arg(arg)
        .output()
        .context("running python3 (pip install duckdb)")?;
    if !out.status.success() {
        bail!("DuckDB: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("reading DuckDB's answer")
}

/// One system's figures.
struct Row {
    system: String,
    /// Seconds to get ready (load rows, build tables and indexes); 0 when reused.
    load: f64,
    /// What `load` covers.
    load_what: &'static str,
    /// The first `--single` cases' times, sorted.
    one: Vec<f64>,
    /// All cases: xikang's batch (its threads), the databases' cases one after another.
    batch: f64,
    cases: usize,
    mismatches: Vec<Mismatch>,
}

impl Row {
    fn p50(&self) -> f64 {
        percentile(&self.one, 0.5)
    }

    fn mean(&self) -> f64 {
        self.batch / self.cases.max(1) as f64
    }
}

/// A database row from its times and answers, compared with xikang's.
fn db_row(
    system: &str,
    load: f64,
    load_what: &'static str,
    times: &[f64],
    results: &[BTreeSet<u32>],
    ours: &[BTreeSet<u32>],
    single: usize,
) -> Row {
    let mut one: Vec<f64> = times[..single.min(times.len())].to_vec();
    one.sort_by(f64::total_cmp);
    Row {
        system: system.to_owned(),
        load,
        load_what,
        one,
        batch: times.iter().sum(),
        cases: times.len(),
        mismatches: compare_contact_sets(ours, results),
    }
}

fn contact_sets(v: &Value) -> Vec<BTreeSet<u32>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    r.as_array()
                        .map(|r| {
                            r.iter()
                                .filter_map(Value::as_u64)
                                .map(|x| x as u32)
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn times_of(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

pub fn run(args: &TraceBenchArgs) -> Result<ExitCode> {
    let schema_ok = !args.pg_schema.is_empty()
        && args.pg_schema.len() <= 63
        && args
            .pg_schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !args.pg_schema.starts_with(|c: char| c.is_ascii_digit());
    if !schema_ok {
        bail!(
            "--pg-schema {:?}: lower-case letters, digits and underscores, not starting with a digit",
            args.pg_schema
        );
    }
    let store = args.store.open()?;
    let policy = xikang_domain::policy::Policy::default_policy();
    let sha = xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML);
    println!("xikang bench-trace: loading the server state and the tracing index…");
    let t = Instant::now();
    let state = Arc::new(
        AppState::load(store.clone(), ServerConfig::default(), policy, &sha, now())
            .context("loading state from the store")?,
    );
    let state_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    state.projection.tracing.load(store.as_ref())?;
    let index_secs = t.elapsed().as_secs_f64();
    let index = state
        .projection
        .tracing
        .snapshot()
        .map_err(|_| anyhow!("the tracing index did not load"))?;
    let checkins = index.len();
    if checkins == 0 {
        bail!("the store holds no check-ins: generate a city first (xikang gen)");
    }
    let people = state.projection.tracing.population().people() as u32;
    println!(
        "state {:.1} s, index {:.1} s for {} check-ins ({:.1} bytes each), {} people",
        state_secs,
        index_secs,
        checkins,
        index.heap_bytes() as f64 / checkins as f64,
        people
    );

    // The cases: spread over the population, onset one day before the end of the data,
    // not isolated yet (the window runs to "now" = the end of the last day).
    let last_day = *index.days().last().ok_or_else(|| anyhow!("no days"))?;
    let end = Timestamp(last_day.start().0 + DAY);
    let tp = *state.policy().tracing();
    let questions: Vec<Question> = (0..args.cases.max(args.single))
        .map(|i| {
            let person = PersonId(((i as u64 * 7_919 + 13) % u64::from(people)) as u32);
            let record = CaseRecord {
                id: xikang_domain::CaseId(i as u64 + 1),
                person,
                kind: xikang_domain::event::CaseKind::Confirmed,
                onset: Some(end.plus(-DAY)),
                sampled_at: None,
                isolated_at: None,
                registered_at: end,
                discharged_at: None,
                course: xikang_domain::case::Course::registered(
                    xikang_domain::CaseId(i as u64 + 1),
                    person,
                    xikang_domain::event::CaseKind::Confirmed,
                    end.plus(-DAY),
                ),
            };
            let case = case_of(&record);
            let window = case.exposure_window(tp.exposure_window_days, end);
            Question {
                case,
                lo: window.start.0,
                hi: window.end.0,
            }
        })
        .collect();

    // xikang.
    let policy = state.policy();
    let population = state.projection.tracing.population();
    let tracer = Tracer::new(&index, &population, policy.tracing());
    let mut single = Vec::new();
    let mut secondary = Vec::new();
    let mut ours: Vec<BTreeSet<u32>> = Vec::new();
    for q in &questions[..args.single] {
        let t = Instant::now();
        let close = tracer.close_contacts(&q.case, end)?;
        single.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let sec = tracer.secondary_contacts(&close, |_| None, end);
        secondary.push(t.elapsed().as_secs_f64());
        std::hint::black_box(sec);
    }
    let t = Instant::now();
    let batch =
        tracer.close_contacts_batch(&questions.iter().map(|q| q.case).collect::<Vec<_>>(), end);
    let batch_secs = t.elapsed().as_secs_f64();
    let mut total_contacts = 0usize;
    for r in &batch {
        let c = r.as_ref().map_err(|e| anyhow!("{e}"))?;
        total_contacts += c.contacts.len();
        ours.push(c.contacts.iter().map(|c| c.person.0).collect());
    }
    single.sort_by(f64::total_cmp);
    secondary.sort_by(f64::total_cmp);
    println!(
        "xikang: one case p50 {} ms, p99 {} ms; secondary p50 {} ms, p99 {} ms; {} cases {:.3} s ({} close contacts)",
        ms(percentile(&single, 0.5)),
        ms(percentile(&single, 0.99)),
        ms(percentile(&secondary, 0.5)),
        ms(percentile(&secondary, 0.99)),
        questions.len(),
        batch_secs,
        total_contacts
    );

    // Companions: the ping index (loaded after the check-ins, as the server does) and one
    // case's companions over the same cases.
    let t = Instant::now();
    state
        .projection
        .tracing
        .pings
        .load(store.as_ref(), policy.tracing().companion_cell_metres)?;
    let pings_secs = t.elapsed().as_secs_f64();
    if let Some((pings, _)) = state.projection.tracing.pings.snapshot() {
        let mut times = Vec::new();
        let mut found = 0usize;
        for q in &questions[..args.single] {
            let t = Instant::now();
            found += companions(&pings, policy.tracing(), &q.case, end).len();
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "companions: ping index {:.1} s for {} pings ({:.1} bytes each); one case p50 {} ms, p99 {} ms ({} companions over {} cases)",
            pings_secs,
            pings.len(),
            pings.heap_bytes() as f64 / pings.len().max(1) as f64,
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            found,
            args.single
        );
    }

    let reach = MAX_STAY.max(
        state
            .projection
            .venues
            .list
            .iter()
            .map(|v| state.projection.tracing.population().dwell_secs(v.id.0))
            .max()
            .unwrap_or(0),
    );
    let sqls: Vec<String> = questions
        .iter()
        .map(|q| {
            close_contacts_sql(
                q.case.person.0,
                q.lo,
                q.hi,
                reach,
                tp.household,
                tp.workplace,
            )
        })
        .collect();

    let need_rows = !args.no_pg || !args.no_duckdb;
    let mut rows = 0;
    if need_rows {
        let marker = args.work.join("rows");
        let cached = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok());
        let stored: u64 = store.checkin_days()?.iter().map(|d| d.1).sum();
        rows = match cached {
            Some(n) if n == stored && !args.reload => n,
            _ => {
                let t = Instant::now();
                let n = write_csvs(&state, &args.work)?;
                println!(
                    "wrote {n} rows as CSV in {:.1} s",
                    t.elapsed().as_secs_f64()
                );
                n
            }
        };
    }
    if need_rows {
        write_venues_csv(&state, &args.work)?;
    }
    let stays_sqls = |table: &str, by_person: &str, overlap: Overlap| -> Vec<String> {
        questions
            .iter()
            .map(|q| {
                close_contacts_stays_sql(
                    table,
                    by_person,
                    overlap,
                    q.case.person.0,
                    q.lo,
                    q.hi,
                    tp.household,
                    tp.workplace,
                )
            })
            .collect()
    };
    let mut report = vec![Row {
        system: "xikang".into(),
        load: index_secs,
        load_what: "index from the store",
        one: single.clone(),
        batch: batch_secs,
        cases: questions.len(),
        mismatches: Vec::new(),
    }];

    if !args.no_pg {
        let mut client = postgres::Client::connect(&args.pg, postgres::NoTls)
            .with_context(|| "connecting to PostgreSQL")?;
        let schema = args.pg_schema.as_str();
        let load = load_pg(&mut client, schema, &args.work, rows, args.reload)?;
        client.batch_execute(&format!("set search_path = {schema}"))?;
        let (stays_secs, gist_secs, longest) = load_pg_stays(&mut client, schema, rows)?;
        println!(
            "PostgreSQL: rows {load:.1} s, stays derived and indexed {stays_secs:.1} s, GiST copy {gist_secs:.1} s (0 = reused); longest stay {longest} s"
        );
        if !args.no_window {
            println!("PostgreSQL, window form…");
            let (times, results) = run_pg(&mut client, &sqls)?;
            report.push(db_row(
                "PostgreSQL window",
                load,
                "COPY + 2 btrees",
                &times,
                &results,
                &ours,
                args.single,
            ));
        }
        println!("PostgreSQL, stays with btrees…");
        let btree = stays_sqls("stays", "stays", Overlap::Btree { longest });
        let (times, results) = run_pg(&mut client, &btree)?;
        report.push(db_row(
            "PostgreSQL stays btree",
            stays_secs,
            "derive stays + 2 btrees",
            &times,
            &results,
            &ours,
            args.single,
        ));
        println!("PostgreSQL, stays with GiST…");
        let gist = stays_sqls("stays_r", "stays_r", Overlap::Range);
        let (times, results) = run_pg(&mut client, &gist)?;
        report.push(db_row(
            "PostgreSQL stays GiST",
            gist_secs,
            "copy + GiST + btree",
            &times,
            &results,
            &ours,
            args.single,
        ));
        std::fs::create_dir_all(&args.work)?;
        std::fs::write(args.work.join("pg-stays-btree-case1.sql"), &btree[0])?;
        std::fs::write(args.work.join("pg-stays-gist-case1.sql"), &gist[0])?;
    }

    if !args.no_duckdb {
        std::fs::create_dir_all(&args.work)?;
        let spec = args.work.join("duckdb-prepare.json");
        std::fs::write(
            &spec,
            serde_json::to_vec(&json!({"stays_sql": stays_sql(), "reload": args.reload}))?,
        )?;
        println!("DuckDB: loading rows and deriving stays (if not done yet)…");
        let prepared = duckdb(&args.work, "prepare", &spec)?;
        let load = prepared["load"].as_f64().unwrap_or(0.0);
        let stays_load = prepared["stays_load"].as_f64().unwrap_or(0.0);
        let longest = prepared["longest"]
            .as_i64()
            .context("DuckDB's longest stay")?;
        let stays = stays_sqls("stays", "stays_p", Overlap::Btree { longest });
        let mut forms = serde_json::Map::new();
        if !args.no_window {
            forms.insert("window".into(), json!(sqls));
        }
        forms.insert("stays".into(), json!(stays));
        let qfile = args.work.join("questions.json");
        std::fs::write(&qfile, serde_json::to_vec(&forms)?)?;
        std::fs::write(args.work.join("duckdb-stays-case1.sql"), &stays[0])?;
        println!("DuckDB: asking the questions…");
        let v = duckdb(&args.work, "run", &qfile)?;
        if !args.no_window {
            let w = &v["window"];
            report.push(db_row(
                "DuckDB window",
                load,
                "CSV",
                &times_of(&w["times"]),
                &contact_sets(&w["results"]),
                &ours,
                args.single,
            ));
        }
        let st = &v["stays"];
        report.push(db_row(
            "DuckDB stays sorted",
            stays_load,
            "derive stays, 2 sorted copies",
            &times_of(&st["times"]),
            &contact_sets(&st["results"]),
            &ours,
            args.single,
        ));
    }

    let mut results = crate::bench_json::Results::new(
        "bench-trace",
        json!({"cases": questions.len(), "single": args.single, "people": people,
               "checkins": checkins, "no_window": args.no_window}),
    );
    println!();
    println!(
        "{} people, {} check-ins, {} cases; close contacts (venue rule per category, default ≥ {} min; household, workplace)",
        people,
        checkins,
        questions.len(),
        tp.close_contact_minutes
    );
    println!(
        "{:<23} {:>8} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9}  same contacts",
        "system", "load s", "p50 ms", "p99 ms", "mean ms", "batch s", "p50 ×", "batch ×"
    );
    let (x_p50, x_batch) = (percentile(&single, 0.5), batch_secs);
    for r in &report {
        let same = if r.mismatches.is_empty() {
            "yes".to_owned()
        } else {
            format!("NO ({} cases differ)", r.mismatches.len())
        };
        println!(
            "{:<23} {:>8.1} {:>10} {:>10} {:>10} {:>9.3} {:>8.1}x {:>8.1}x  {}",
            r.system,
            r.load,
            ms(r.p50()),
            ms(percentile(&r.one, 0.99)),
            ms(r.mean()),
            r.batch,
            r.p50() / x_p50.max(1e-9),
            r.batch / x_batch.max(1e-9),
            same
        );
        results.push_row(
            "systems",
            json!({
                "system": r.system, "load_s": r.load, "load_what": r.load_what,
                "p50_ms": r.p50() * 1e3, "p99_ms": percentile(&r.one, 0.99) * 1e3,
                "mean_ms": r.mean() * 1e3, "batch_s": r.batch, "cases": r.cases,
                "p50_ratio": r.p50() / x_p50.max(1e-9), "batch_ratio": r.batch / x_batch.max(1e-9),
                "cases_differing": r.mismatches.len(),
            }),
        );
    }
    println!(
        "(load: xikang = building the index from the store; 0.0 = rows or tables reused from an earlier run;"
    );
    println!(
        " p50/p99 over the first {} cases timed one by one; mean and batch over all {} (xikang's batch on its threads, the databases' one case after another))",
        args.single,
        questions.len()
    );
    for r in &report {
        println!("  {:<23} load = {}", r.system, r.load_what);
    }
    // The lead over the best baseline, per case and for the batch.
    let baselines = &report[1..];
    if let Some(best) = baselines.iter().min_by(|a, b| a.p50().total_cmp(&b.p50())) {
        println!(
            "lead over the best baseline per case (p50): {:.1}x ({})",
            best.p50() / x_p50.max(1e-9),
            best.system
        );
        results.set("lead_p50", best.p50() / x_p50.max(1e-9));
        results.set("lead_p50_over", best.system.clone());
    }
    if let Some(best) = baselines
        .iter()
        .min_by(|a, b| a.mean().total_cmp(&b.mean()))
    {
        println!(
            "lead over the best baseline per case (mean of {}): {:.1}x ({})",
            questions.len(),
            best.mean() / (x_batch / questions.len().max(1) as f64).max(1e-12),
            best.system
        );
    }
    let all_same = report.iter().all(|r| r.mismatches.is_empty());
    results.set("all_same", all_same);
    args.json.write(&results)?;
    if !all_same {
        for r in report.iter().filter(|r| !r.mismatches.is_empty()) {
            eprintln!(
                "bench-trace FAILED: {} finds different close contacts from xikang in {} of {} cases",
                r.system,
                r.mismatches.len(),
                questions.len()
            );
            for m in r.mismatches.iter().take(10) {
                eprintln!(
                    "  case {} ({}): only xikang {:?}, only {} {:?}{}",
                    m.case + 1,
                    questions.get(m.case).map_or(0, |q| q.case.person.0),
                    m.only_reference,
                    r.system,
                    m.only_other,
                    if m.missing { " (no answer)" } else { "" }
                );
            }
        }
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(v: &[&[u32]]) -> Vec<BTreeSet<u32>> {
        v.iter().map(|s| s.iter().copied().collect()).collect()
    }

    #[test]
    fn the_same_contact_sets_give_no_mismatch() {
        let a = sets(&[&[1, 2, 3], &[], &[7]]);
        assert!(compare_contact_sets(&a, &a.clone()).is_empty());
    }

    #[test]
    fn a_contact_found_by_one_side_only_is_a_mismatch_of_that_case() {
        let ours = sets(&[&[1, 2, 3], &[4, 5], &[7]]);
        let theirs = sets(&[&[1, 2, 3], &[4, 6], &[7]]);
        let m = compare_contact_sets(&ours, &theirs);
        assert_eq!(
            m,
            vec![Mismatch {
                case: 1,
                only_reference: vec![5],
                only_other: vec![6],
                missing: false,
            }]
        );
    }

    #[test]
    fn a_case_left_unanswered_is_a_mismatch_even_when_xikang_found_nobody() {
        let ours = sets(&[&[1], &[]]);
        let theirs = sets(&[&[1]]);
        let m = compare_contact_sets(&ours, &theirs);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].case, 1);
        assert!(m[0].missing);
        // And an extra answer for a case that was never asked is one too.
        assert_eq!(compare_contact_sets(&theirs, &ours).len(), 1);
    }

    #[test]
    fn the_stays_forms_differ_only_in_how_they_find_overlapping_stays() {
        let b = close_contacts_stays_sql(
            "stays",
            "stays",
            Overlap::Btree { longest: 3600 },
            42,
            1000,
            2000,
            true,
            true,
        );
        assert!(b.contains("o.s < c.e and o.e > c.s and o.s > c.s - 3600"));
        assert!(b.contains("where person = 42 and s < 2000 and e > 1000"));
        assert!(b.contains("v.close is not null and ov.secs >= v.close"));
        assert!(b.contains("p2.household = p1.household"));
        let r = close_contacts_stays_sql(
            "stays_r",
            "stays_r",
            Overlap::Range,
            42,
            1000,
            2000,
            false,
            false,
        );
        assert!(r.contains("o.span && int8range(c.s, c.e)"));
        assert!(!r.contains("household"));
        assert!(r.ends_with("order by 1"));
    }
}
