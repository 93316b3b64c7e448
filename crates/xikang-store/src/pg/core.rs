//! The [`Store`] trait on PostgreSQL: settings, people, workplaces and venues, the
//! authority log's appends and reads, check-ins in day tables (bulk-inserted with
//! `unnest`), API tokens and signing keys.

use super::{
    BULK, PgStore, Writer, append_events_in, drop_days_before, for_each_day_row,
    is_undefined_table, stream,
};
use crate::credential::{TOKEN_COLUMNS, TokenRow};
use crate::error::{Result, StoreError};
use crate::row::{
    self, BriefRow, ChainWalk, EVENT_COLUMNS, EventRow, KeyRow, PersonRow, VenueRow,
    WORKPLACE_COLUMNS, WorkplaceRow, checkin_of, checkin_table, dir_code,
};
use crate::{ApiToken, ChainReport, PersonBrief, Store, StoredKey, StoredToken};
use postgres::Row;
use xikang_domain::event::{NewEvent, StoredEvent};
use xikang_domain::{
    AreaCode, CheckIn, CivilDay, EventSeq, Person, PersonId, Timestamp, TokenId, Venue, VenueId,
    Workplace, WorkplaceId,
};

/// A day of check-ins: a plain heap with two indexes, no uniqueness (as on SQLite: a re-sent
/// scan is stored again and readers report it once). Tables made by builds before 0.2 have a
/// primary key instead; `on conflict do nothing` keeps inserts into those working.
fn checkin_ddl(table: &str) -> String {
    format!(
        "create table if not exists {table} (
            venue bigint not null, at bigint not null, person bigint not null, dir smallint not null);
         create index if not exists {table}_venue on {table} (venue, at);
         create index if not exists {table}_person on {table} (person, at);"
    )
}

const PERSON_COLUMNS: &str = "id, id_number, name, phone, household, workplace, area, home_cell";
const VENUE_COLUMNS: &str = "id, place_code, name, category, area, cell, lat, lon";

fn person_row(r: &Row) -> Result<PersonRow> {
    Ok(PersonRow {
        id: r.try_get(0)?,
        id_number: r.try_get(1)?,
        name: r.try_get(2)?,
        phone: r.try_get(3)?,
        household: r.try_get(4)?,
        workplace: r.try_get(5)?,
        area: r.try_get(6)?,
        home_cell: r.try_get(7)?,
    })
}

fn workplace_row(r: &Row) -> Result<WorkplaceRow> {
    Ok(WorkplaceRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        is_school: r.try_get(2)?,
        area: r.try_get(3)?,
        cell: r.try_get(4)?,
        venue: r.try_get(5)?,
    })
}

fn venue_row(r: &Row) -> Result<VenueRow> {
    Ok(VenueRow {
        id: r.try_get(0)?,
        place_code: r.try_get(1)?,
        name: r.try_get(2)?,
        category: r.try_get(3)?,
        area: r.try_get(4)?,
        cell: r.try_get(5)?,
        lat: r.try_get(6)?,
        lon: r.try_get(7)?,
    })
}

fn event_row(r: &Row) -> Result<EventRow> {
    Ok(EventRow {
        seq: r.try_get(0)?,
        at: r.try_get(1)?,
        actor: r.try_get(2)?,
        basis: r.try_get(3)?,
        kind: r.try_get(4)?,
        person: r.try_get(5)?,
        body: r.try_get(6)?,
        prev_hash: r.try_get(7)?,
        hash: r.try_get(8)?,
    })
}

fn checkin_row(r: &Row) -> Result<CheckIn> {
    let dir: i16 = r.try_get(3)?;
    checkin_of(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, i64::from(dir))
}

impl PgStore {
    fn checkins_where(
        &self,
        column: &str,
        key: u32,
        from: Timestamp,
        to: Timestamp,
        order: &str,
    ) -> Result<Vec<CheckIn>> {
        if from > to {
            return Ok(Vec::new());
        }
        let mut client = self.read()?;
        let days: Vec<i32> = client
            .query(
                "select day from checkin_days where day between $1 and $2 order by day",
                &[&from.shanghai_day().0, &to.shanghai_day().0],
            )?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for day in days {
            let table = checkin_table(CivilDay(day))?;
            let sql = format!(
                "select distinct venue, at, person, dir from {table} where {column} = $1 and at between $2 and $3 order by {order}"
            );
            match client.query(&sql, &[&i64::from(key), &from.0, &to.0]) {
                Ok(rows) => {
                    for r in &rows {
                        out.push(checkin_row(r)?);
                    }
                }
                // Retention dropped the day after we listed it: its rows are gone, as asked.
                Err(e) if is_undefined_table(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn pool_stats(&self) -> crate::PoolStats {
        self.readers.stats()
    }

    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .read()?
            .query_opt("select value from settings where name = $1", &[&key])?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn put_setting(&self, key: &str, value: &[u8]) -> Result<()> {
        self.write()?.client.execute(
            "insert into settings (name, value) values ($1, $2)
             on conflict (name) do update set value = excluded.value",
            &[&key, &value],
        )?;
        Ok(())
    }

    fn insert_people(&self, people: &[(Person, [u8; 16])]) -> Result<()> {
        let mut w = self.write()?;
        let mut tx = w.client.transaction()?;
        for chunk in people.chunks(BULK) {
            let ids: Vec<i64> = chunk.iter().map(|(p, _)| i64::from(p.id.get())).collect();
            let numbers: Vec<&str> = chunk.iter().map(|(p, _)| p.id_number.expose()).collect();
            let hashes: Vec<&[u8]> = chunk.iter().map(|(_, h)| &h[..]).collect();
            let names: Vec<&str> = chunk.iter().map(|(p, _)| p.name.as_str()).collect();
            let phones: Vec<Option<&str>> = chunk
                .iter()
                .map(|(p, _)| p.phone.as_ref().map(|ph| ph.expose()))
                .collect();
            let households: Vec<i64> = chunk
                .iter()
                .map(|(p, _)| i64::from(p.household.get()))
                .collect();
            let workplaces: Vec<Option<i64>> = chunk
                .iter()
                .map(|(p, _)| p.workplace.map(|w| i64::from(w.get())))
                .collect();
            let areas: Vec<&str> = chunk.iter().map(|(p, _)| p.area.as_str()).collect();
            let cells: Vec<i64> = chunk
                .iter()
                .map(|(p, _)| i64::from(p.home_cell.0))
                .collect();
            tx.execute(
                "insert into people (id, id_number, id_hash, name, phone, household, workplace, area, home_cell)
                 select * from unnest($1::bigint[], $2::text[], $3::bytea[], $4::text[], $5::text[],
                                      $6::bigint[], $7::bigint[], $8::text[], $9::bigint[])",
                &[&ids, &numbers, &hashes, &names, &phones, &households, &workplaces, &areas, &cells],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_workplaces(&self, ws: &[Workplace]) -> Result<()> {
        let mut w = self.write()?;
        let mut tx = w.client.transaction()?;
        for chunk in ws.chunks(BULK) {
            let ids: Vec<i64> = chunk.iter().map(|w| i64::from(w.id.get())).collect();
            let names: Vec<&str> = chunk.iter().map(|w| w.name.as_str()).collect();
            let schools: Vec<bool> = chunk.iter().map(|w| w.is_school).collect();
            let areas: Vec<&str> = chunk.iter().map(|w| w.area.as_str()).collect();
            let cells: Vec<i64> = chunk.iter().map(|w| i64::from(w.cell.0)).collect();
            let venues: Vec<Option<i64>> = chunk
                .iter()
                .map(|w| w.venue.map(|v| i64::from(v.get())))
                .collect();
            tx.execute(
                "insert into workplaces (id, name, is_school, area, cell, venue)
                 select * from unnest($1::bigint[], $2::text[], $3::boolean[], $4::text[], $5::bigint[], $6::bigint[])",
                &[&ids, &names, &schools, &areas, &cells, &venues],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_venues(&self, vs: &[Venue]) -> Result<()> {
        let mut w = self.write()?;
        let mut tx = w.client.transaction()?;
        for chunk in vs.chunks(BULK) {
            let ids: Vec<i64> = chunk.iter().map(|v| i64::from(v.id.get())).collect();
            let codes: Vec<&str> = chunk.iter().map(|v| v.place_code.as_str()).collect();
            let names: Vec<&str> = chunk.iter().map(|v| v.name.as_str()).collect();
            let categories: Vec<&str> = chunk.iter().map(|v| v.category.as_str()).collect();
            let areas: Vec<&str> = chunk.iter().map(|v| v.area.as_str()).collect();
            let cells: Vec<i64> = chunk.iter().map(|v| i64::from(v.cell.0)).collect();
            let lats: Vec<f64> = chunk.iter().map(|v| v.lat).collect();
            let lons: Vec<f64> = chunk.iter().map(|v| v.lon).collect();
            tx.execute(
                "insert into venues (id, place_code, name, category, area, cell, lat, lon)
                 select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                                      $6::bigint[], $7::double precision[], $8::double precision[])",
                &[&ids, &codes, &names, &categories, &areas, &cells, &lats, &lons],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn person(&self, id: PersonId) -> Result<Option<Person>> {
        let row = self.read()?.query_opt(
            &format!("select {PERSON_COLUMNS} from people where id = $1"),
            &[&i64::from(id.get())],
        )?;
        row.map(|r| person_row(&r)?.into_person()).transpose()
    }

    fn person_by_id_hash(&self, h: &[u8; 16]) -> Result<Option<PersonId>> {
        let row = self
            .read()?
            .query_opt("select id from people where id_hash = $1", &[&&h[..]])?;
        match row {
            Some(r) => Ok(Some(PersonId(row::u32_of(r.try_get(0)?, "person id")?))),
            None => Ok(None),
        }
    }

    fn list_people(
        &self,
        area: &AreaCode,
        after: Option<PersonId>,
        limit: u32,
    ) -> Result<Vec<Person>> {
        let (lo, hi) = row::area_range(area);
        let after = after.map_or(-1, |p| i64::from(p.get()));
        let rows = self.read()?.query(
            &format!(
                "select {PERSON_COLUMNS} from people where area between $1 and $2 and id > $3 order by id limit $4"
            ),
            &[&lo, &hi, &after, &i64::from(limit)],
        )?;
        rows.iter().map(|r| person_row(r)?.into_person()).collect()
    }

    fn for_each_person_brief(&self, f: &mut dyn FnMut(PersonBrief)) -> Result<()> {
        let mut client = self.read()?;
        stream(
            &mut client,
            "select id, household, workplace, area, home_cell, id_hash from people order by id",
            &[],
            &mut |r| {
                let brief = BriefRow {
                    id: r.try_get(0)?,
                    household: r.try_get(1)?,
                    workplace: r.try_get(2)?,
                    area: r.try_get(3)?,
                    home_cell: r.try_get(4)?,
                    id_hash: r.try_get(5)?,
                }
                .into_brief()?;
                f(brief);
                Ok(true)
            },
        )
    }

    fn count_people(&self) -> Result<u64> {
        let n: i64 = self
            .read()?
            .query_one("select count(*) from people", &[])?
            .try_get(0)?;
        Ok(n.unsigned_abs())
    }

    fn venue(&self, id: VenueId) -> Result<Option<Venue>> {
        let row = self.read()?.query_opt(
            &format!("select {VENUE_COLUMNS} from venues where id = $1"),
            &[&i64::from(id.get())],
        )?;
        row.map(|r| venue_row(&r)?.into_venue()).transpose()
    }

    fn all_venues(&self) -> Result<Vec<Venue>> {
        let rows = self.read()?.query(
            &format!("select {VENUE_COLUMNS} from venues order by id"),
            &[],
        )?;
        rows.iter().map(|r| venue_row(r)?.into_venue()).collect()
    }

    fn workplace(&self, id: WorkplaceId) -> Result<Option<Workplace>> {
        let row = self.read()?.query_opt(
            &format!("select {WORKPLACE_COLUMNS} from workplaces where id = $1"),
            &[&i64::from(id.get())],
        )?;
        row.map(|r| workplace_row(&r)?.into_workplace()).transpose()
    }

    fn all_workplaces(&self) -> Result<Vec<Workplace>> {
        let rows = self.read()?.query(
            &format!("select {WORKPLACE_COLUMNS} from workplaces order by id"),
            &[],
        )?;
        rows.iter()
            .map(|r| workplace_row(r)?.into_workplace())
            .collect()
    }

    fn append_events(&self, events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        let mut w = self.write()?;
        let mut tx = w.client.transaction()?;
        let stored = append_events_in(&mut tx, events)?;
        tx.commit()?;
        Ok(stored)
    }

    fn events_after(&self, after: EventSeq, limit: u32) -> Result<Vec<StoredEvent>> {
        let after = i64::try_from(after.0).unwrap_or(i64::MAX);
        let rows = self.read()?.query(
            &format!("select {EVENT_COLUMNS} from events where seq > $1 order by seq limit $2"),
            &[&after, &i64::from(limit)],
        )?;
        rows.iter().map(|r| event_row(r)?.into_event()).collect()
    }

    fn for_each_event(&self, f: &mut dyn FnMut(StoredEvent)) -> Result<()> {
        let mut client = self.read()?;
        stream(
            &mut client,
            &format!("select {EVENT_COLUMNS} from events order by seq"),
            &[],
            &mut |r| {
                f(event_row(r)?.into_event()?);
                Ok(true)
            },
        )
    }

    fn events_of_person(&self, person: PersonId) -> Result<Vec<StoredEvent>> {
        let rows = self.read()?.query(
            &format!("select {EVENT_COLUMNS} from events where person = $1 order by seq"),
            &[&i64::from(person.get())],
        )?;
        rows.iter().map(|r| event_row(r)?.into_event()).collect()
    }

    fn verify_chain(&self) -> Result<ChainReport> {
        let mut client = self.read()?;
        let mut walk = ChainWalk::default();
        stream(
            &mut client,
            &format!("select {EVENT_COLUMNS} from events order by seq"),
            &[],
            &mut |r| Ok(walk.feed(&event_row(r)?)),
        )?;
        Ok(walk.report())
    }

    fn insert_checkins(&self, batch: &[CheckIn]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let groups = row::by_day(batch);
        let mut w = self.write()?;
        let Writer {
            client,
            known_days,
            node,
            ..
        } = &mut *w;
        let mut tx = client.transaction()?;
        let mut created = Vec::new();
        for (day, rows) in &groups {
            let table = checkin_table(*day)?;
            if !known_days.contains(&day.0) {
                // The registry row is taken first: a second process creating the same day
                // waits on it until we commit, then finds the table there.
                tx.execute("insert into checkin_days (day, row_count) values ($1, 0) on conflict do nothing", &[&day.0])?;
                tx.batch_execute(&checkin_ddl(&table))?;
                created.push(day.0);
            }
            let venues: Vec<i64> = rows.iter().map(|c| i64::from(c.venue.get())).collect();
            let ats: Vec<i64> = rows.iter().map(|c| c.at.0).collect();
            let persons: Vec<i64> = rows.iter().map(|c| i64::from(c.person.get())).collect();
            let dirs: Vec<i16> = rows.iter().map(|c| dir_code(c.direction)).collect();
            let added = tx.execute(
                &format!(
                    "insert into {table} (venue, at, person, dir)
                     select * from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::smallint[])
                     on conflict do nothing"
                ),
                &[&venues, &ats, &persons, &dirs],
            )?;
            tx.execute(
                "update checkin_days set row_count = row_count + $1 where day = $2",
                &[&i64::try_from(added).unwrap_or(i64::MAX), &day.0],
            )?;
        }
        super::cluster::feed_checkins(&mut tx, node.as_deref(), batch)?;
        tx.commit()?;
        known_days.extend(created);
        Ok(())
    }

    fn checkins_of_person(
        &self,
        person: PersonId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CheckIn>> {
        self.checkins_where("person", person.get(), from, to, "at, venue, dir")
    }

    fn checkins_at_venue(
        &self,
        venue: VenueId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CheckIn>> {
        self.checkins_where("venue", venue.get(), from, to, "at, person, dir")
    }

    fn checkin_days(&self) -> Result<Vec<(CivilDay, u64)>> {
        let rows = self
            .read()?
            .query("select day, row_count from checkin_days order by day", &[])?;
        rows.iter()
            .map(|r| {
                Ok((
                    CivilDay(r.try_get(0)?),
                    r.try_get::<_, i64>(1)?.unsigned_abs(),
                ))
            })
            .collect()
    }

    fn drop_checkin_days_before(&self, day: CivilDay) -> Result<Vec<CivilDay>> {
        let mut w = self.write()?;
        let Writer {
            client, known_days, ..
        } = &mut *w;
        drop_days_before(client, known_days, row::CHECKINS, day)
    }

    fn for_each_checkin(&self, f: &mut dyn FnMut(&[CheckIn])) -> Result<()> {
        for_each_day_row(
            &mut *self.read()?,
            row::CHECKINS,
            "venue, at, person, dir",
            checkin_row,
            f,
        )
    }

    fn put_api_token(&self, token_sha256: [u8; 32], token: &ApiToken) -> Result<TokenId> {
        let row = self.write()?.client.query_one(
            "insert into api_tokens (token_sha256, name, role, area, venue, person, id_lookup,
                created_at, expires_at, enterprise)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             on conflict (token_sha256) do update set
                name = excluded.name, role = excluded.role, area = excluded.area, venue = excluded.venue,
                person = excluded.person, id_lookup = excluded.id_lookup,
                created_at = excluded.created_at, expires_at = excluded.expires_at,
                enterprise = excluded.enterprise
             returning id",
            &[
                &&token_sha256[..],
                &token.name,
                &token.role,
                &token.area.as_str(),
                &token.venue.map(|v| i64::from(v.get())),
                &token.person.map(|p| i64::from(p.get())),
                &token.id_lookup,
                &token.created_at.0,
                &token.expires_at.0,
                &token.enterprise,
            ],
        )?;
        let id: i64 = row.try_get(0)?;
        Ok(TokenId(
            u64::try_from(id).map_err(|_| StoreError::Corrupt("token id".into()))?,
        ))
    }

    fn api_token(&self, token_sha256: &[u8; 32]) -> Result<Option<StoredToken>> {
        let row = self.read()?.query_opt(
            &format!("select {TOKEN_COLUMNS} from api_tokens where token_sha256 = $1"),
            &[&&token_sha256[..]],
        )?;
        row.map(|r| super::credential::token_row(&r).and_then(TokenRow::into_token))
            .transpose()
    }

    fn put_signing_key(&self, kid: [u8; 8], key: &StoredKey) -> Result<()> {
        self.write()?.client.execute(
            "insert into signing_keys (kid, secret, jurisdiction, not_before, not_after) values ($1, $2, $3, $4, $5)
             on conflict (kid) do update set secret = excluded.secret, jurisdiction = excluded.jurisdiction,
                not_before = excluded.not_before, not_after = excluded.not_after",
            &[&&kid[..], &&key.secret[..], &key.jurisdiction, &key.not_before.0, &key.not_after.0],
        )?;
        Ok(())
    }

    fn signing_keys(&self) -> Result<Vec<([u8; 8], StoredKey)>> {
        let rows = self.read()?.query(
            "select kid, secret, jurisdiction, not_before, not_after from signing_keys order by not_before, kid",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                KeyRow {
                    kid: r.try_get(0)?,
                    secret: r.try_get(1)?,
                    jurisdiction: r.try_get(2)?,
                    not_before: r.try_get(3)?,
                    not_after: r.try_get(4)?,
                }
                .into_key()
            })
            .collect()
    }

    fn execute_raw_for_tests(&self, sql: &str) -> Result<u64> {
        Ok(self.write()?.client.execute(sql, &[])?)
    }
}
