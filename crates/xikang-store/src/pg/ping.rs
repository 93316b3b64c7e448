//! Location pings on PostgreSQL: one heap per day with an index on `(person, at)`, no
//! uniqueness, bulk-inserted with `unnest` — the same shape as the check-in tables
//! (`pg/mod.rs`, `docs/storage.md`).

use super::{PgStore, Writer, is_undefined_table};
use crate::error::Result;
use crate::ping::{PingStore, by_day, ping_of, ping_table, sort_dedup};
use postgres::Row;
use xikang_domain::{CivilDay, LocationPing, PersonId, Timestamp};

fn ping_ddl(table: &str) -> String {
    format!(
        "create table if not exists {table} (
            person bigint not null, at bigint not null, lat integer not null, lon integer not null);
         create index if not exists {table}_person on {table} (person, at);"
    )
}

fn ping_row(r: &Row) -> Result<LocationPing> {
    let lat: i32 = r.try_get(2)?;
    let lon: i32 = r.try_get(3)?;
    ping_of(r.try_get(0)?, r.try_get(1)?, i64::from(lat), i64::from(lon))
}

impl PingStore for PgStore {
    fn insert_pings(&self, batch: &[LocationPing]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let groups = by_day(batch);
        let mut w = self.write()?;
        let Writer {
            client,
            known_ping_days,
            node,
            ..
        } = &mut *w;
        let mut tx = client.transaction()?;
        let mut created = Vec::new();
        for (day, rows) in &groups {
            let table = ping_table(*day)?;
            if !known_ping_days.contains(&day.0) {
                // Registry row first: a second process creating the same day waits on it.
                tx.execute(
                    "insert into ping_days (day, row_count) values ($1, 0) on conflict do nothing",
                    &[&day.0],
                )?;
                tx.batch_execute(&ping_ddl(&table))?;
                created.push(day.0);
            }
            let persons: Vec<i64> = rows.iter().map(|p| i64::from(p.person.get())).collect();
            let ats: Vec<i64> = rows.iter().map(|p| p.at.0).collect();
            let lats: Vec<i32> = rows.iter().map(|p| p.position.lat_e6()).collect();
            let lons: Vec<i32> = rows.iter().map(|p| p.position.lon_e6()).collect();
            let added = tx.execute(
                &format!(
                    "insert into {table} (person, at, lat, lon)
                     select * from unnest($1::bigint[], $2::bigint[], $3::integer[], $4::integer[])"
                ),
                &[&persons, &ats, &lats, &lons],
            )?;
            tx.execute(
                "update ping_days set row_count = row_count + $1 where day = $2",
                &[&i64::try_from(added).unwrap_or(i64::MAX), &day.0],
            )?;
        }
        super::cluster::note_pings(&mut tx, node.as_deref(), batch)?;
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
        let mut client = self.read()?;
        let days: Vec<i32> = client
            .query(
                "select day from ping_days where day between $1 and $2 order by day",
                &[&from.shanghai_day().0, &to.shanghai_day().0],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for day in days {
            let sql = format!(
                "select distinct person, at, lat, lon from {} where person = $1 and at between $2 and $3",
                ping_table(CivilDay(day))?
            );
            match client.query(&sql, &[&i64::from(person.get()), &from.0, &to.0]) {
                Ok(rows) => {
                    for r in &rows {
                        out.push(ping_row(r)?);
                    }
                }
                // Retention dropped the day after we listed it: its rows are gone, as asked.
                Err(e) if is_undefined_table(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        sort_dedup(&mut out);
        Ok(out)
    }

    fn ping_days(&self) -> Result<Vec<(CivilDay, u64)>> {
        let rows = self
            .read()?
            .query("select day, row_count from ping_days order by day", &[])?;
        rows.iter()
            .map(|r| {
                Ok((
                    CivilDay(r.try_get(0)?),
                    r.try_get::<_, i64>(1)?.unsigned_abs(),
                ))
            })
            .collect()
    }

    fn drop_ping_days_before(&self, day: CivilDay) -> Result<Vec<CivilDay>> {
        let mut w = self.write()?;
        let Writer {
            client,
            known_ping_days,
            ..
        } = &mut *w;
        crate::pg::drop_days_before(client, known_ping_days, crate::ping::PINGS, day)
    }

    fn for_each_ping(&self, f: &mut dyn FnMut(&[LocationPing])) -> Result<()> {
        crate::pg::for_each_day_row(
            &mut *self.read()?,
            crate::ping::PINGS,
            "person, at, lat, lon",
            ping_row,
            f,
        )
    }
}
