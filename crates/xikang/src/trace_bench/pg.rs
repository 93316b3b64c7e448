//! The PostgreSQL side of `xikang bench-trace`: the rows and venues loaded from the CSVs,
//! the stays derived and indexed (btrees, and a GiST copy), and the questions asked in turn.

use super::stays_sql;
use anyhow::{Context, Result};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

/// (Re)loads PostgreSQL's `venues` table from `venues.csv`.
fn load_pg_venues(client: &mut postgres::Client, dir: &Path) -> Result<()> {
    client.batch_execute(
        "drop table if exists venues;
         create table venues (id integer primary key, dwell integer not null, close integer);",
    )?;
    let mut w = client.copy_in("copy venues from stdin with (format csv)")?;
    w.write_all(&std::fs::read(dir.join("venues.csv"))?)?;
    w.finish()?;
    client.batch_execute("analyze venues")?;
    Ok(())
}

/// Loads the CSVs into PostgreSQL (unless it already holds `rows` check-ins) and indexes
/// them. Returns the load time, or 0 when reused.
pub(super) fn load_pg(
    client: &mut postgres::Client,
    schema: &str,
    dir: &Path,
    rows: u64,
    reload: bool,
) -> Result<f64> {
    client.batch_execute(&format!(
        "create schema if not exists {schema}; set search_path = {schema}"
    ))?;
    let have: Option<i64> = client
        .query_opt(
            "select reltuples::bigint from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = $1 and c.relname = 'checkins'",
            &[&schema],
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
        load_pg_venues(client, dir)?;
        return Ok(0.0);
    }
    let t = Instant::now();
    client.batch_execute(
        "drop table if exists checkins, people, venues, workplaces, stays, stays_r, stays_built;
         create table checkins (venue integer not null, t bigint not null, person integer not null, dir smallint not null);
         create table people (id integer primary key, household integer not null, workplace integer);
         create table workplaces (id integer primary key, venue integer);",
    )?;
    load_pg_venues(client, dir)?;
    for table in ["checkins", "people", "workplaces"] {
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

/// Builds PostgreSQL's stays tables unless they were built from the check-ins loaded now:
/// `stays` with btrees on `(venue, s)` and `(person, s)`, and `stays_r`, a copy with
/// `span int8range` under a GiST index on `(venue, span)` (`btree_gist` for the integer
/// column) and a btree on `(person, s)`. Returns the two build times (0 when reused) and the
/// longest stay in seconds.
pub(super) fn load_pg_stays(
    client: &mut postgres::Client,
    schema: &str,
    rows: u64,
) -> Result<(f64, f64, i64)> {
    let built: Option<i64> = client
        .query_opt(
            "select 1::bigint from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = $1 and c.relname = 'stays_built'",
            &[&schema],
        )?
        .map(|r| r.get(0));
    let from: Option<i64> = match built {
        Some(_) => client
            .query_opt("select checkins from stays_built", &[])?
            .map(|r| r.get(0)),
        None => None,
    };
    let (mut stays_secs, mut gist_secs) = (0.0, 0.0);
    if from != Some(rows as i64) {
        client.batch_execute("drop table if exists stays, stays_r, stays_built")?;
        // The derivation sorts every check-in: let it do so in memory where it can.
        client.batch_execute("set work_mem = '256MB'")?;
        let t = Instant::now();
        client
            .batch_execute(&format!("create table stays as {}", stays_sql()))
            .context("deriving the stays table in PostgreSQL")?;
        client.batch_execute(
            "create index on stays (venue, s);
             create index on stays (person, s);
             analyze stays;",
        )?;
        stays_secs = t.elapsed().as_secs_f64();
        let t = Instant::now();
        client
            .batch_execute(
                "create extension if not exists btree_gist;
                 create table stays_r as select person, venue, s, e, int8range(s, e) as span from stays;
                 create index on stays_r using gist (venue, span);
                 create index on stays_r (person, s);
                 analyze stays_r;",
            )
            .context("building the GiST stays table (needs the btree_gist extension)")?;
        gist_secs = t.elapsed().as_secs_f64();
        client.batch_execute(&format!(
            "create table stays_built (checkins bigint not null);
             insert into stays_built values ({rows});
             reset work_mem;"
        ))?;
    }
    let longest: i64 = client
        .query_one("select coalesce(max(e - s), 0)::bigint from stays", &[])?
        .get(0);
    Ok((stays_secs, gist_secs, longest))
}

/// Asks PostgreSQL every question in turn: the time of each, and its contact set.
pub(super) fn run_pg(
    client: &mut postgres::Client,
    sqls: &[String],
) -> Result<(Vec<f64>, Vec<BTreeSet<u32>>)> {
    let mut times = Vec::with_capacity(sqls.len());
    let mut results = Vec::with_capacity(sqls.len());
    for sql in sqls {
        let q = Instant::now();
        let got: BTreeSet<u32> = client
            .query(sql.as_str(), &[])?
            .iter()
            .map(|r| r.get::<_, i32>(0) as u32)
            .collect();
        times.push(q.elapsed().as_secs_f64());
        results.push(got);
    }
    Ok((times, results))
}
