//! Check-ins on SQLite: one plain rowid table per Asia/Shanghai day, appended in arrival
//! order with no index (see the backend's module doc and `docs/storage.md`), the scans of
//! those tables in range that answer per-person and per-venue reads, and the adoption of
//! rows that builds before 0.2 left staged.

use super::{SqliteStore, Writer};
use crate::error::{Result, StoreError};
use crate::row::{self, checkin_of, checkin_table, dir_code};
use rusqlite::{Connection, Row, TransactionBehavior, params, params_from_iter};
use std::collections::HashSet;
use std::path::Path;
use xikang_domain::{CheckIn, CivilDay, Timestamp};

/// The check-in staging file of builds before 0.2 (see [`adopt_legacy_staging`]).
const LEGACY_STAGING_FILE: &str = "checkins-staging.db";

/// Rows per multi-row `insert` into a day table: one statement per row costs a statement
/// step per row.
const ROWS_PER_STATEMENT: usize = 64;

fn checkin_values(c: &CheckIn) -> [i64; 4] {
    [
        i64::from(c.venue.get()),
        c.at.0,
        i64::from(c.person.get()),
        i64::from(dir_code(c.direction)),
    ]
}

/// Builds before 0.2 staged small check-in batches, first in a `checkin_staging` table of
/// the main file, then in a separate file with tables `staging_0` and `staging_1`, and
/// merged them into the day tables later. Rows a stopped or crashed server left there are
/// moved into their day tables here, and the table or file removed. (A crash after the
/// commit and before the removal would move them again: readers report a row once.)
pub(super) fn adopt_legacy_staging(w: &mut Writer, dir: &Path) -> Result<()> {
    let staging_file = dir.join(LEGACY_STAGING_FILE);
    let has_file = staging_file.exists();
    let Writer {
        conn, known_days, ..
    } = w;
    let has_table: bool = conn.query_row(
        "select exists (select 1 from sqlite_master where type = 'table' and name = 'checkin_staging')",
        [],
        |r| r.get(0),
    )?;
    if !has_file && !has_table {
        return Ok(());
    }
    let mut sources = Vec::new();
    if has_table {
        sources.push("main.checkin_staging");
    }
    if has_file {
        let path = staging_file.to_str().ok_or_else(|| {
            StoreError::Target(format!("{} is not valid UTF-8", staging_file.display()))
        })?;
        conn.execute("attach database ?1 as stg", [path])?;
        for (table, attached) in [
            ("staging_0", "stg.staging_0"),
            ("staging_1", "stg.staging_1"),
        ] {
            let exists: bool = conn.query_row(
                "select exists (select 1 from stg.sqlite_master where type = 'table' and name = ?1)",
                [table],
                |r| r.get(0),
            )?;
            if exists {
                sources.push(attached);
            }
        }
    }
    let mut rows = Vec::new();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for source in &sources {
        read_checkins(
            &mut tx.prepare(&format!("select venue, at, person, dir from {source}"))?,
            [],
            &mut rows,
        )?;
    }
    let created = write_day_tables(&tx, known_days, &rows)?;
    if has_table {
        tx.execute_batch("drop table checkin_staging")?;
    }
    tx.commit()?;
    known_days.extend(created);
    if has_file {
        conn.execute_batch("detach database stg")?;
        for suffix in ["", "-wal", "-shm"] {
            let f = dir.join(format!("{LEGACY_STAGING_FILE}{suffix}"));
            if f.exists() {
                std::fs::remove_file(f)?;
            }
        }
    }
    Ok(())
}

/// A day of check-ins: a rowid table in arrival order, no index (see the module doc). Tables
/// made by builds before 0.2 are keyed `(venue, at, person, dir)` instead; every statement
/// here works on both.
fn checkin_ddl(table: &str) -> String {
    format!(
        "create table if not exists {table} (
            venue integer not null, at integer not null, person integer not null, dir integer not null)"
    )
}

pub(super) fn checkin_row(r: &Row<'_>) -> rusqlite::Result<(i64, i64, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

/// The day partitions overlapping `[from, to]`, read inside the caller's transaction so
/// the list and the tables agree.
fn days_between(conn: &Connection, from: Timestamp, to: Timestamp) -> Result<Vec<CivilDay>> {
    let mut stmt = conn
        .prepare_cached("select day from checkin_days where day between ?1 and ?2 order by day")?;
    let days = stmt
        .query_map(params![from.shanghai_day().0, to.shanghai_day().0], |r| {
            r.get(0).map(CivilDay)
        })?
        .collect::<Result<_, _>>()?;
    Ok(days)
}

fn read_checkins(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    out: &mut Vec<CheckIn>,
) -> Result<()> {
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        let (v, at, p, d) = checkin_row(r)?;
        out.push(checkin_of(v, at, p, d)?);
    }
    Ok(())
}

/// Appends check-ins to their day tables, creating tables as needed and keeping the
/// registry's row counts. Returns the days whose tables this transaction created (they are
/// real only once it commits).
pub(super) fn write_day_tables(
    tx: &Connection,
    known_days: &HashSet<i32>,
    batch: &[CheckIn],
) -> Result<Vec<i32>> {
    let mut created = Vec::new();
    for (day, rows) in row::by_day(batch) {
        let table = checkin_table(day)?;
        if !known_days.contains(&day.0) {
            tx.execute(
                "insert or ignore into checkin_days (day, row_count) values (?1, 0)",
                [day.0],
            )?;
            tx.execute_batch(&checkin_ddl(&table))?;
            created.push(day.0);
        }
        // `or ignore` matters only for the keyed tables of older builds.
        let insert = |n: usize| {
            let values = vec!["(?, ?, ?, ?)"; n].join(", ");
            format!("insert or ignore into {table} (venue, at, person, dir) values {values}")
        };
        let mut added = 0usize;
        let mut chunks = rows.chunks_exact(ROWS_PER_STATEMENT);
        {
            let mut many = tx.prepare_cached(&insert(ROWS_PER_STATEMENT))?;
            for chunk in &mut chunks {
                added += many.execute(params_from_iter(chunk.iter().flat_map(checkin_values)))?;
            }
        }
        let mut one = tx.prepare_cached(&insert(1))?;
        for c in chunks.remainder() {
            added += one.execute(params_from_iter(checkin_values(c)))?;
        }
        tx.prepare_cached("update checkin_days set row_count = row_count + ?1 where day = ?2")?
            .execute(params![added, day.0])?;
    }
    Ok(created)
}

impl SqliteStore {
    /// The check-ins with `filter = key` in `[from, to]`: a scan of each day table in range
    /// (they have no index), sorted by `sort_key`, each row once.
    pub(super) fn checkins_where(
        &self,
        filter: &str,
        key: u32,
        from: Timestamp,
        to: Timestamp,
        sort_key: fn(&CheckIn) -> (Timestamp, u32, i16),
    ) -> Result<Vec<CheckIn>> {
        if from > to {
            return Ok(Vec::new());
        }
        let mut conn = self.read()?;
        // One read transaction: the registry and the tables agree.
        let tx = conn.transaction()?;
        let mut out = Vec::new();
        for day in days_between(&tx, from, to)? {
            let table = checkin_table(day)?;
            let mut stmt = tx.prepare_cached(&format!(
                "select venue, at, person, dir from {table} where {filter} = ?1 and at between ?2 and ?3"
            ))?;
            read_checkins(&mut stmt, params![key, from.0, to.0], &mut out)?;
        }
        // A device may re-send a scan it was not sure had arrived: report it once.
        out.sort_unstable_by_key(sort_key);
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use xikang_domain::ScanDirection;
    use xikang_domain::{PersonId, VenueId};

    /// `n` distinct scans at venue 1 starting at `first` seconds after 2022-07-01 00:00 in
    /// Shanghai, one person each.
    fn scans(first: u32, n: u32) -> Vec<CheckIn> {
        let start = Timestamp::parse_rfc3339("2022-06-30T16:00:00Z").unwrap();
        (first..first + n)
            .map(|i| CheckIn {
                person: PersonId(i),
                venue: VenueId(1),
                at: start.plus(i64::from(i)),
                direction: ScanDirection::Entry,
            })
            .collect()
    }

    /// Everything stored at venue 1, as readers see it.
    fn at_venue_1(store: &SqliteStore) -> Vec<CheckIn> {
        store
            .checkins_at_venue(VenueId(1), Timestamp(0), Timestamp(i64::from(u32::MAX)))
            .unwrap()
    }

    fn day() -> CivilDay {
        CivilDay::parse("2022-07-01").unwrap()
    }

    /// The point of the layout: a scan's commit appends at the end of one table and
    /// touches no index.
    #[test]
    fn day_tables_are_appended_in_arrival_order_without_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut batch = scans(0, 200);
        batch.reverse();
        store.insert_checkins(&batch).unwrap();
        let conn = store.read().unwrap();
        let indexes: i64 = conn
            .query_row(
                "select count(*) from sqlite_master where type = 'index' and tbl_name = 'checkins_20220701'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
        let mut stmt = conn
            .prepare("select person from checkins_20220701 order by rowid")
            .unwrap();
        let persons: Vec<u32> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(persons, (0..200).rev().collect::<Vec<_>>());
        drop(stmt);
        drop(conn);
        assert_eq!(at_venue_1(&store), scans(0, 200));
    }

    #[test]
    fn a_keyed_day_table_of_an_older_build_still_takes_appends_and_ignores_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store
            .execute_raw_for_tests(
                "create table checkins_20220701 (venue integer not null, at integer not null,
                 person integer not null, dir integer not null,
                 primary key (venue, at, person, dir)) without rowid",
            )
            .unwrap();
        store
            .execute_raw_for_tests("insert into checkin_days (day, row_count) values (19174, 0)")
            .unwrap();
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        store.insert_checkins(&scans(0, 10)).unwrap();
        store.insert_checkins(&scans(5, 10)).unwrap();
        assert_eq!(at_venue_1(&store), scans(0, 15));
        assert_eq!(store.checkin_days().unwrap(), vec![(day(), 15)]);
    }

    #[test]
    fn rows_staged_by_older_builds_are_adopted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            store
                .execute_raw_for_tests(
                    "create table checkin_staging (venue integer not null, at integer not null,
                     person integer not null, dir integer not null)",
                )
                .unwrap();
            for c in scans(0, 3) {
                store
                    .execute_raw_for_tests(&format!(
                        "insert into checkin_staging values (1, {}, {}, 0)",
                        c.at.0,
                        c.person.get()
                    ))
                    .unwrap();
            }
        }
        {
            // The separate staging file of the build after that, with rows in both tables.
            let staging = Connection::open(dir.path().join(LEGACY_STAGING_FILE)).unwrap();
            staging.pragma_update(None, "journal_mode", "wal").unwrap();
            for (table, first) in [("staging_0", 3), ("staging_1", 5)] {
                staging
                    .execute_batch(&format!(
                        "create table {table} (id integer primary key autoincrement,
                         venue integer not null, at integer not null, person integer not null,
                         dir integer not null)"
                    ))
                    .unwrap();
                for c in scans(first, 2) {
                    staging
                        .execute(
                            &format!(
                                "insert into {table} (venue, at, person, dir) values (1, ?1, ?2, 0)"
                            ),
                            params![c.at.0, c.person.get()],
                        )
                        .unwrap();
                }
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(at_venue_1(&store), scans(0, 7));
        assert_eq!(store.checkin_days().unwrap(), vec![(day(), 7)]);
        assert!(
            store
                .execute_raw_for_tests("select * from checkin_staging")
                .is_err()
        );
        assert!(!dir.path().join(LEGACY_STAGING_FILE).exists());
    }
}
