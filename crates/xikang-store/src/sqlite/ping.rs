//! Location pings on SQLite: one plain rowid table per day, appended in arrival order with
//! no index, exactly like the check-in tables (see `checkin.rs` and `docs/storage.md`): a
//! commit writes only the pages at each table's end. Per-person reads scan the day tables
//! in range; the server answers companions from its in-memory ping index instead.

use super::{SqliteStore, Writer};
use crate::error::Result;
use crate::ping::{PingStore, by_day, ping_of, ping_table, ping_values, sort_dedup};
use rusqlite::{Connection, TransactionBehavior, params, params_from_iter};
use xikang_domain::{CivilDay, LocationPing, PersonId, Timestamp};

/// Rows per multi-row `insert` into a day table.
const ROWS_PER_STATEMENT: usize = 64;

fn ping_ddl(table: &str) -> String {
    format!(
        "create table if not exists {table} (
            person integer not null, at integer not null, lat integer not null, lon integer not null)"
    )
}

fn days(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<CivilDay>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let days = stmt
        .query_map(p, |r| r.get(0).map(CivilDay))?
        .collect::<Result<_, _>>()?;
    Ok(days)
}

fn read_pings(
    stmt: &mut rusqlite::Statement<'_>,
    p: impl rusqlite::Params,
    f: &mut dyn FnMut(LocationPing),
) -> Result<()> {
    let mut rows = stmt.query(p)?;
    while let Some(r) = rows.next()? {
        f(ping_of(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)?);
    }
    Ok(())
}

impl PingStore for SqliteStore {
    fn insert_pings(&self, batch: &[LocationPing]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut w = self.write();
        let Writer {
            conn,
            known_ping_days,
            ..
        } = &mut *w;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut created = Vec::new();
        for (day, rows) in by_day(batch) {
            let table = ping_table(day)?;
            if !known_ping_days.contains(&day.0) {
                tx.execute(
                    "insert or ignore into ping_days (day, row_count) values (?1, 0)",
                    [day.0],
                )?;
                tx.execute_batch(&ping_ddl(&table))?;
                created.push(day.0);
            }
            let insert = |n: usize| {
                let values = vec!["(?, ?, ?, ?)"; n].join(", ");
                format!("insert into {table} (person, at, lat, lon) values {values}")
            };
            let mut added = 0usize;
            let mut chunks = rows.chunks_exact(ROWS_PER_STATEMENT);
            {
                let mut many = tx.prepare_cached(&insert(ROWS_PER_STATEMENT))?;
                for chunk in &mut chunks {
                    added += many.execute(params_from_iter(chunk.iter().flat_map(ping_values)))?;
                }
            }
            let mut one = tx.prepare_cached(&insert(1))?;
            for p in chunks.remainder() {
                added += one.execute(params_from_iter(ping_values(p)))?;
            }
            tx.prepare_cached("update ping_days set row_count = row_count + ?1 where day = ?2")?
                .execute(params![added, day.0])?;
        }
        tx.commit()?;
        known_ping_days.extend(created);
        Ok(())
    }

    fn pings_of_person(
        &self,
        person: PersonId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<LocationPing>> {
        if from > to {
            return Ok(Vec::new());
        }
        let mut conn = self.read()?;
        // One read transaction: the registry and the tables agree.
        let tx = conn.transaction()?;
        let mut out = Vec::new();
        let in_range = days(
            &tx,
            "select day from ping_days where day between ?1 and ?2 order by day",
            params![from.shanghai_day().0, to.shanghai_day().0],
        )?;
        for day in in_range {
            let mut stmt = tx.prepare_cached(&format!(
                "select person, at, lat, lon from {} where person = ?1 and at between ?2 and ?3",
                ping_table(day)?
            ))?;
            read_pings(&mut stmt, params![person.get(), from.0, to.0], &mut |p| {
                out.push(p)
            })?;
        }
        sort_dedup(&mut out);
        Ok(out)
    }

    fn ping_days(&self) -> Result<Vec<(CivilDay, u64)>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached("select day, row_count from ping_days order by day")?;
        let rows = stmt.query_map([], |r| {
            Ok((CivilDay(r.get(0)?), r.get::<_, i64>(1)?.unsigned_abs()))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn drop_ping_days_before(&self, day: CivilDay) -> Result<Vec<CivilDay>> {
        let mut w = self.write();
        let Writer {
            conn,
            known_ping_days,
            ..
        } = &mut *w;
        crate::sqlite::drop_days_before(conn, known_ping_days, crate::ping::PINGS, day)
    }

    fn for_each_ping(&self, f: &mut dyn FnMut(&[LocationPing])) -> Result<()> {
        crate::sqlite::for_each_day_row(
            &mut *self.read()?,
            crate::ping::PINGS,
            "person, at, lat, lon",
            |r| ping_of(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?),
            f,
        )
    }
}
