//! `xikang bench-trace`: contact tracing on a stored city, answered side by side by
//! xikang's in-memory index, by PostgreSQL (plain indexed SQL over the same rows) and by
//! DuckDB (the `duckdb` Python package over the same rows), with the times, the ratios and
//! a check that all three find the same close contacts.
//!
//! The SQL is one text for both databases ([`close_contacts_sql`]): presence intervals from
//! entry and exit scans with window functions, merged per venue, clipped to the exposure
//! window, overlapped with everyone else's at the same venues, plus household and workplace.
//! It encodes the same rules as `xikang-trace` (see `crates/xikang-trace/src/presence.rs`).

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufWriter, Read, Write};
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
    /// PostgreSQL for the comparison (a schema `xk_trace_bench` is created there).
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/test",
        env = "XIKANG_BENCH_DATABASE_URL"
    )]
    pg: String,
    /// Skip PostgreSQL.
    #[arg(long)]
    no_pg: bool,
    /// Skip DuckDB.
    #[arg(long)]
    no_duckdb: bool,
    /// Reload PostgreSQL and DuckDB even if they hold the rows already.
    #[arg(long)]
    reload: bool,
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

/// One SQL text for PostgreSQL and DuckDB: the close contacts of one case, one person id
/// per row, sorted.
#[allow(clippy::too_many_arguments)]
pub fn close_contacts_sql(
    person: u32,
    lo: i64,
    hi: i64,
    min_secs: i64,
    reach: i64,
    household: bool,
    workplace: bool,
) -> String {
    let max_stay = MAX_STAY;
    // Presence of each (person, venue): an entry lasts to the next scan there if that is an
    // exit within MAX_STAY, else for the venue's dwell time; an exit that no entry claims
    // means the dwell time before it. Then per (person, venue): drop empty intervals and
    // merge overlapping or touching ones (gaps and islands).
    let presence = |name: &str, scans: &str, keys: &str| {
        let src: Vec<String> = keys.split(", ").map(|k| format!("s.{k}")).collect();
        let src = src.join(", ");
        format!(
            "{name}_p as (
  select {src}, s.t, s.dir, v.dwell,
    lead(s.t) over w as nat, lead(s.dir) over w as ndir,
    lag(s.t) over w as pat, lag(s.dir) over w as pdir
  from {scans} s join venues v on v.id = s.venue
  where v.dwell > 0
  window w as (partition by {src} order by s.t, s.dir)
),
{name}_raw as (
  select {keys}, t as s, case when ndir = 1 and nat - t <= {max_stay} then nat else t + dwell end as e
  from {name}_p where dir = 0
  union all
  select {keys}, t - dwell as s, t as e
  from {name}_p where dir = 1 and not (coalesce(pdir, 1) = 0 and t - pat <= {max_stay})
),
{name}_brk as (
  select {keys}, s, e,
    case when s <= max(e) over (partition by {keys} order by s, e rows between unbounded preceding and 1 preceding)
      then 0 else 1 end as brk
  from {name}_raw where e > s
),
{name}_grp as (
  select {keys}, s, e, sum(brk) over (partition by {keys} order by s, e rows between unbounded preceding and current row) as grp
  from {name}_brk
),
{name}_m as (select {keys}, min(s) as s, max(e) as e from {name}_grp group by {keys}, grp)"
        )
    };
    let case_presence = presence("c", "cs", "venue");
    let other_presence = presence("o", "os", "person, venue");
    let lo_r = lo - reach;
    let hi_r = hi + reach;
    let mut sql = format!(
        "with
cs as (
  select distinct venue, t, dir from checkins where person = {person} and t between {lo_r} and {hi_r}
),
{case_presence},
ci as (
  select venue, greatest(s, {lo}) as s, least(e, {hi}) as e from c_m where least(e, {hi}) > greatest(s, {lo})
),
span as (select venue, min(s) - {reach} as lo, max(e) + {reach} as hi from ci group by venue),
os as (
  select distinct k.person, k.venue, k.t, k.dir from checkins k
  join span on k.venue = span.venue and k.t between span.lo and span.hi
  where k.person <> {person}
),
{other_presence},
ov as (
  select m.person, m.venue, sum(least(m.e, c.e) - greatest(m.s, c.s)) as secs
  from o_m m join ci c on c.venue = m.venue and m.s < c.e and c.s < m.e
  group by m.person, m.venue
)
select person from ov where secs >= {min_secs} and secs > 0"
    );
    if household {
        sql.push_str(&format!(
            "
union
select p2.id from people p1 join people p2 on p2.household = p1.household
where p1.id = {person} and p2.id <> {person}"
        ));
    }
    if workplace {
        sql.push_str(&format!(
            "
union
select p2.id from people p1 join workplaces w on w.id = p1.workplace
join people p2 on p2.workplace = p1.workplace
where p1.id = {person} and p2.id <> {person} and exists (select 1 from ci where ci.venue = w.venue)"
        ));
    }
    sql.push_str("\norder by 1");
    sql
}

/// Writes the rows the SQL systems load: check-ins (as stored, repeats included), people,
/// venues with their dwell seconds, workplaces with their venue.
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
    let population = state.projection.tracing.population();
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
        let mut w = BufWriter::new(std::fs::File::create(dir.join("venues.csv"))?);
        for v in &state.projection.venues.list {
            writeln!(w, "{},{}", v.id.0, population.dwell_secs(v.id.0))?;
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

const SCHEMA: &str = "xk_trace_bench";

/// Loads the CSVs into PostgreSQL (unless it already holds `rows` check-ins) and indexes
/// them. Returns the load time, or 0 when reused.
fn load_pg(client: &mut postgres::Client, dir: &Path, rows: u64, reload: bool) -> Result<f64> {
    client.batch_execute(&format!(
        "create schema if not exists {SCHEMA}; set search_path = {SCHEMA}"
    ))?;
    let have: Option<i64> = client
        .query_opt(
            "select reltuples::bigint from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = $1 and c.relname = 'checkins'",
            &[&SCHEMA],
        )?
        .map(|r| r.get(0));
    let exact: Option<i64> = if have.is_some() && !reload {
        Some(
            client
                .query_one("select count(*) from checkins", &[])?
                .get(0),
        )
    } else {
        None
    };
    if exact == Some(rows as i64) {
        return Ok(0.0);
    }
    let t = Instant::now();
    client.batch_execute(
        "drop table if exists checkins, people, venues, workplaces;
         create table checkins (venue integer not null, t bigint not null, person integer not null, dir smallint not null);
         create table people (id integer primary key, household integer not null, workplace integer);
         create table venues (id integer primary key, dwell integer not null);
         create table workplaces (id integer primary key, venue integer);",
    )?;
    for table in ["checkins", "people", "venues", "workplaces"] {
        let mut w = client.copy_in(&format!("copy {table} from stdin with (format csv)"))?;
        let mut f = std::fs::File::open(dir.join(format!("{table}.csv")))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n])?;
        }
        w.finish()?;
    }
    client.batch_execute(
        "create index on checkins (person, t);
         create index on checkins (venue, t);
         create index on people (household);
         create index on people (workplace);
         analyze;",
    )?;
    Ok(t.elapsed().as_secs_f64())
}

const DUCKDB_SCRIPT: &str = r#"
import json, sys, time, os
import duckdb
work, db, questions, reload = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
rows = int(open(os.path.join(work, "rows")).read())
con = duckdb.connect(db)
load = 0.0
have = con.execute("select count(*) from information_schema.tables where table_name = 'checkins'").fetchone()[0]
if have and not reload and con.execute("select count(*) from checkins").fetchone()[0] == rows:
    pass
else:
    t = time.perf_counter()
    con.execute("drop table if exists checkins; drop table if exists people; drop table if exists venues; drop table if exists workplaces")
    for table, cols in [
        ("checkins", "{'venue': 'INTEGER', 't': 'BIGINT', 'person': 'INTEGER', 'dir': 'SMALLINT'}"),
        ("people", "{'id': 'INTEGER', 'household': 'INTEGER', 'workplace': 'INTEGER'}"),
        ("venues", "{'id': 'INTEGER', 'dwell': 'INTEGER'}"),
        ("workplaces", "{'id': 'INTEGER', 'venue': 'INTEGER'}"),
    ]:
        path = os.path.join(work, table + ".csv")
        con.execute(f"create table {table} as select * from read_csv('{path}', header=false, columns={cols})")
    load = time.perf_counter() - t
sqls = json.load(open(questions))
times, results = [], []
for sql in sqls:
    t = time.perf_counter()
    got = [r[0] for r in con.execute(sql).fetchall()]
    times.append(time.perf_counter() - t)
    results.append(got)
json.dump({"load": load, "times": times, "results": results}, sys.stdout)
"#;

pub fn run(args: &TraceBenchArgs) -> Result<ExitCode> {
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
                i64::from(tp.close_contact_minutes) * 60,
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
    let mut report = vec![("xikang", index_secs, single.clone(), batch_secs, true)];

    let compare = |name: &str, results: &[BTreeSet<u32>]| -> bool {
        let mut same = true;
        for (i, (a, b)) in ours.iter().zip(results).enumerate() {
            if a != b {
                same = false;
                let only_ours: Vec<_> = a.difference(b).take(5).collect();
                let only_theirs: Vec<_> = b.difference(a).take(5).collect();
                println!(
                    "  {name} differs for case {} ({}): only xikang {:?}, only {name} {:?}",
                    i + 1,
                    questions[i].case.person,
                    only_ours,
                    only_theirs
                );
                if i > 20 {
                    break;
                }
            }
        }
        same
    };

    if !args.no_pg {
        let mut client = postgres::Client::connect(&args.pg, postgres::NoTls)
            .with_context(|| "connecting to PostgreSQL")?;
        let load = load_pg(&mut client, &args.work, rows, args.reload)?;
        client.batch_execute(&format!("set search_path = {SCHEMA}"))?;
        let mut times = Vec::new();
        let mut results = Vec::new();
        let t = Instant::now();
        for sql in &sqls {
            let q = Instant::now();
            let got: BTreeSet<u32> = client
                .query(sql.as_str(), &[])?
                .iter()
                .map(|r| r.get::<_, i32>(0) as u32)
                .collect();
            times.push(q.elapsed().as_secs_f64());
            results.push(got);
        }
        let all = t.elapsed().as_secs_f64();
        let same = compare("PostgreSQL", &results);
        let mut one: Vec<f64> = times[..args.single].to_vec();
        one.sort_by(f64::total_cmp);
        report.push(("PostgreSQL", load, one, all, same));
    }

    if !args.no_duckdb {
        let qfile = args.work.join("questions.json");
        std::fs::write(&qfile, serde_json::to_vec(&sqls)?)?;
        let script = args.work.join("duckdb_bench.py");
        std::fs::write(&script, DUCKDB_SCRIPT)?;
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(&args.work)
            .arg(args.work.join("bench.duckdb"))
            .arg(&qfile)
            .arg(if args.reload { "1" } else { "0" })
            .output()
            .context("running python3 (pip install duckdb)")?;
        if !out.status.success() {
            bail!("DuckDB: {}", String::from_utf8_lossy(&out.stderr));
        }
        let v: Value = serde_json::from_slice(&out.stdout)?;
        let times: Vec<f64> = v["times"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let results: Vec<BTreeSet<u32>> = v["results"]
            .as_array()
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
            .unwrap_or_default();
        let same = compare("DuckDB", &results);
        let mut one: Vec<f64> = times[..args.single.min(times.len())].to_vec();
        one.sort_by(f64::total_cmp);
        report.push((
            "DuckDB",
            v["load"].as_f64().unwrap_or(0.0),
            one,
            times.iter().sum(),
            same,
        ));
    }

    println!();
    println!(
        "{} people, {} check-ins, {} cases; close contacts (venue ≥ {} min, household, workplace)",
        people,
        checkins,
        questions.len(),
        tp.close_contact_minutes
    );
    println!(
        "{:<11} {:>9} {:>12} {:>12} {:>12} {:>10} {:>10}  same contacts",
        "system", "load s", "1 case p50", "1 case p99", "batch s", "p50 ratio", "batch ratio"
    );
    let (x_p50, x_batch) = (percentile(&single, 0.5), batch_secs);
    for (name, load, one, batch, same) in &report {
        println!(
            "{:<11} {:>9.1} {:>9} ms {:>9} ms {:>12.3} {:>9.1}x {:>9.1}x  {}",
            name,
            load,
            ms(percentile(one, 0.5)),
            ms(percentile(one, 0.99)),
            batch,
            percentile(one, 0.5) / x_p50.max(1e-9),
            batch / x_batch.max(1e-9),
            if *same { "yes" } else { "NO" }
        );
    }
    println!(
        "(load: xikang = building the index from the store; 0.0 = rows reused from an earlier run)"
    );
    let all_same = report.iter().all(|r| r.4);
    println!("{}", json!({"all_same": all_same}));
    Ok(if all_same {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
