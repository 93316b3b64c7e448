//! The [`Store`] trait on SQLite: settings, people, workplaces and venues, the authority
//! log's appends and reads, check-ins (through `checkin`), API tokens and signing keys.

use super::checkin::{checkin_row, write_day_tables};
use super::{SqliteStore, Writer, append_events_in, drop_days_before, for_each_day_row};
use crate::credential::{TOKEN_COLUMNS, TokenRow};
use crate::error::{Result, StoreError};
use crate::row::{
    self, BriefRow, ChainWalk, EVENT_COLUMNS, EventRow, KeyRow, PersonRow, VenueRow,
    WORKPLACE_COLUMNS, WorkplaceRow, checkin_of, dir_code,
};
use crate::{ApiToken, ChainReport, PersonBrief, Store, StoredKey, StoredToken};
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use xikang_domain::event::{NewEvent, StoredEvent};
use xikang_domain::{
    AreaCode, CheckIn, CivilDay, EventSeq, Person, PersonId, Timestamp, TokenId, Venue, VenueId,
    Workplace, WorkplaceId,
};

fn person_row(r: &Row<'_>) -> rusqlite::Result<PersonRow> {
    Ok(PersonRow {
        id: r.get(0)?,
        id_number: r.get(1)?,
        name: r.get(2)?,
        phone: r.get(3)?,
        household: r.get(4)?,
        workplace: r.get(5)?,
        area: r.get(6)?,
        home_cell: r.get(7)?,
    })
}

const PERSON_COLUMNS: &str = "id, id_number, name, phone, household, workplace, area, home_cell";

fn workplace_row(r: &Row<'_>) -> rusqlite::Result<WorkplaceRow> {
    Ok(WorkplaceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        is_school: r.get(2)?,
        area: r.get(3)?,
        cell: r.get(4)?,
        venue: r.get(5)?,
    })
}

fn venue_row(r: &Row<'_>) -> rusqlite::Result<VenueRow> {
    Ok(VenueRow {
        id: r.get(0)?,
        place_code: r.get(1)?,
        name: r.get(2)?,
        category: r.get(3)?,
        area: r.get(4)?,
        cell: r.get(5)?,
        lat: r.get(6)?,
        lon: r.get(7)?,
    })
}

const VENUE_COLUMNS: &str = "id, place_code, name, category, area, cell, lat, lon";

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        basis: r.get(3)?,
        kind: r.get(4)?,
        person: r.get(5)?,
        body: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

fn corrupt(e: rusqlite::types::FromSqlError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn pool_stats(&self) -> crate::PoolStats {
        self.shared.readers.stats()
    }

    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let conn = self.read()?;
        let v = conn
            .prepare_cached("select value from settings where name = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(v)
    }

    fn put_setting(&self, key: &str, value: &[u8]) -> Result<()> {
        self.write().conn.execute(
            "insert into settings (name, value) values (?1, ?2)
             on conflict (name) do update set value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn insert_people(&self, people: &[(Person, [u8; 16])]) -> Result<()> {
        let mut w = self.write();
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "insert into people (id, id_number, id_hash, name, phone, household, workplace, area, home_cell)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (p, hash) in people {
                stmt.execute(params![
                    p.id.get(),
                    p.id_number.expose(),
                    &hash[..],
                    p.name,
                    p.phone.as_ref().map(|ph| ph.expose()),
                    p.household.get(),
                    p.workplace.map(WorkplaceId::get),
                    p.area.as_str(),
                    p.home_cell.0,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_workplaces(&self, ws: &[Workplace]) -> Result<()> {
        let mut w = self.write();
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "insert into workplaces (id, name, is_school, area, cell, venue) values (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for wp in ws {
                stmt.execute(params![
                    wp.id.get(),
                    wp.name,
                    wp.is_school,
                    wp.area.as_str(),
                    wp.cell.0,
                    wp.venue.map(VenueId::get),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_venues(&self, vs: &[Venue]) -> Result<()> {
        let mut w = self.write();
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "insert into venues (id, place_code, name, category, area, cell, lat, lon)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for v in vs {
                stmt.execute(params![
                    v.id.get(),
                    v.place_code.as_str(),
                    v.name,
                    v.category.as_str(),
                    v.area.as_str(),
                    v.cell.0,
                    v.lat,
                    v.lon,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn person(&self, id: PersonId) -> Result<Option<Person>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!(
                "select {PERSON_COLUMNS} from people where id = ?1"
            ))?
            .query_row([id.get()], person_row)
            .optional()?;
        row.map(PersonRow::into_person).transpose()
    }

    fn person_by_id_hash(&self, h: &[u8; 16]) -> Result<Option<PersonId>> {
        let conn = self.read()?;
        let id: Option<i64> = conn
            .prepare_cached("select id from people where id_hash = ?1")?
            .query_row([&h[..]], |r| r.get(0))
            .optional()?;
        id.map(|i| row::u32_of(i, "person id").map(PersonId))
            .transpose()
    }

    fn list_people(
        &self,
        area: &AreaCode,
        after: Option<PersonId>,
        limit: u32,
    ) -> Result<Vec<Person>> {
        let (lo, hi) = row::area_range(area);
        let after = after.map_or(-1, |p| i64::from(p.get()));
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {PERSON_COLUMNS} from people where area between ?1 and ?2 and id > ?3 order by id limit ?4"
        ))?;
        let rows = stmt.query_map(params![lo, hi, after, limit], person_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(PersonRow::into_person))
            .collect()
    }

    fn for_each_person_brief(&self, f: &mut dyn FnMut(PersonBrief)) -> Result<()> {
        let conn = self.read()?;
        let mut stmt = conn.prepare(
            "select id, household, workplace, area, home_cell, id_hash from people order by id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let brief = BriefRow {
                id: r.get(0)?,
                household: r.get(1)?,
                workplace: r.get(2)?,
                area: r.get_ref(3)?.as_str().map_err(corrupt)?,
                home_cell: r.get(4)?,
                id_hash: r.get_ref(5)?.as_blob().map_err(corrupt)?,
            }
            .into_brief()?;
            f(brief);
        }
        Ok(())
    }

    fn count_people(&self) -> Result<u64> {
        let conn = self.read()?;
        let n: i64 = conn.query_row("select count(*) from people", [], |r| r.get(0))?;
        Ok(n.unsigned_abs())
    }

    fn venue(&self, id: VenueId) -> Result<Option<Venue>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!("select {VENUE_COLUMNS} from venues where id = ?1"))?
            .query_row([id.get()], venue_row)
            .optional()?;
        row.map(VenueRow::into_venue).transpose()
    }

    fn all_venues(&self) -> Result<Vec<Venue>> {
        let conn = self.read()?;
        let mut stmt =
            conn.prepare_cached(&format!("select {VENUE_COLUMNS} from venues order by id"))?;
        let rows = stmt.query_map([], venue_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(VenueRow::into_venue))
            .collect()
    }

    fn workplace(&self, id: WorkplaceId) -> Result<Option<Workplace>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!(
                "select {WORKPLACE_COLUMNS} from workplaces where id = ?1"
            ))?
            .query_row([id.get()], workplace_row)
            .optional()?;
        row.map(WorkplaceRow::into_workplace).transpose()
    }

    fn all_workplaces(&self) -> Result<Vec<Workplace>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {WORKPLACE_COLUMNS} from workplaces order by id"
        ))?;
        let rows = stmt.query_map([], workplace_row)?;
        rows.map(|r| {
            r.map_err(StoreError::from)
                .and_then(WorkplaceRow::into_workplace)
        })
        .collect()
    }

    fn append_events(&self, events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        let mut w = self.write();
        // `begin immediate` takes SQLite's write lock before reading the head, so another
        // process cannot append between our read of the head and our insert.
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored = append_events_in(&tx, events)?;
        tx.commit()?;
        Ok(stored)
    }

    fn events_after(&self, after: EventSeq, limit: u32) -> Result<Vec<StoredEvent>> {
        let after = i64::try_from(after.0).unwrap_or(i64::MAX);
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {EVENT_COLUMNS} from events where seq > ?1 order by seq limit ?2"
        ))?;
        let rows = stmt.query_map(params![after, limit], event_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(EventRow::into_event))
            .collect()
    }

    fn for_each_event(&self, f: &mut dyn FnMut(StoredEvent)) -> Result<()> {
        let conn = self.read()?;
        let mut stmt = conn.prepare(&format!("select {EVENT_COLUMNS} from events order by seq"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(event_row(r)?.into_event()?);
        }
        Ok(())
    }

    fn events_of_person(&self, person: PersonId) -> Result<Vec<StoredEvent>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {EVENT_COLUMNS} from events where person = ?1 order by seq"
        ))?;
        let rows = stmt.query_map([person.get()], event_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(EventRow::into_event))
            .collect()
    }

    fn verify_chain(&self) -> Result<ChainReport> {
        let conn = self.read()?;
        let mut stmt = conn.prepare(&format!("select {EVENT_COLUMNS} from events order by seq"))?;
        let mut rows = stmt.query([])?;
        let mut walk = ChainWalk::default();
        while let Some(r) = rows.next()? {
            if !walk.feed(&event_row(r)?) {
                break;
            }
        }
        Ok(walk.report())
    }

    fn insert_checkins(&self, batch: &[CheckIn]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut w = self.write();
        let Writer {
            conn, known_days, ..
        } = &mut *w;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let created = write_day_tables(&tx, known_days, batch)?;
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
        self.checkins_where("person", person.get(), from, to, |c| {
            (c.at, c.venue.get(), dir_code(c.direction))
        })
    }

    fn checkins_at_venue(
        &self,
        venue: VenueId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CheckIn>> {
        self.checkins_where("venue", venue.get(), from, to, |c| {
            (c.at, c.person.get(), dir_code(c.direction))
        })
    }

    fn checkin_days(&self) -> Result<Vec<(CivilDay, u64)>> {
        let conn = self.read()?;
        let mut stmt =
            conn.prepare_cached("select day, row_count from checkin_days order by day")?;
        let rows = stmt.query_map([], |r| {
            Ok((CivilDay(r.get(0)?), r.get::<_, i64>(1)?.unsigned_abs()))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn drop_checkin_days_before(&self, day: CivilDay) -> Result<Vec<CivilDay>> {
        let mut w = self.write();
        let Writer {
            conn, known_days, ..
        } = &mut *w;
        drop_days_before(conn, known_days, row::CHECKINS, day)
    }

    fn for_each_checkin(&self, f: &mut dyn FnMut(&[CheckIn])) -> Result<()> {
        for_each_day_row(
            &mut *self.read()?,
            row::CHECKINS,
            "venue, at, person, dir",
            |r| {
                let (v, at, p, d) = checkin_row(r)?;
                checkin_of(v, at, p, d)
            },
            f,
        )
    }

    fn put_api_token(&self, token_sha256: [u8; 32], token: &ApiToken) -> Result<TokenId> {
        let id: i64 = self.write().conn.query_row(
            "insert into api_tokens (token_sha256, name, role, area, venue, person, id_lookup,
                created_at, expires_at, enterprise)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             on conflict (token_sha256) do update set
                name = excluded.name, role = excluded.role, area = excluded.area, venue = excluded.venue,
                person = excluded.person, id_lookup = excluded.id_lookup,
                created_at = excluded.created_at, expires_at = excluded.expires_at,
                enterprise = excluded.enterprise
             returning id",
            params![
                &token_sha256[..],
                token.name,
                token.role,
                token.area.as_str(),
                token.venue.map(VenueId::get),
                token.person.map(PersonId::get),
                token.id_lookup,
                token.created_at.0,
                token.expires_at.0,
                token.enterprise
            ],
            |r| r.get(0),
        )?;
        Ok(TokenId(
            u64::try_from(id).map_err(|_| StoreError::Corrupt("token id".into()))?,
        ))
    }

    fn api_token(&self, token_sha256: &[u8; 32]) -> Result<Option<StoredToken>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!(
                "select {TOKEN_COLUMNS} from api_tokens where token_sha256 = ?1"
            ))?
            .query_row([&token_sha256[..]], super::credential::token_row)
            .optional()?;
        row.map(TokenRow::into_token).transpose()
    }

    fn put_signing_key(&self, kid: [u8; 8], key: &StoredKey) -> Result<()> {
        self.write().conn.execute(
            "insert into signing_keys (kid, secret, jurisdiction, not_before, not_after) values (?1, ?2, ?3, ?4, ?5)
             on conflict (kid) do update set secret = excluded.secret, jurisdiction = excluded.jurisdiction,
                not_before = excluded.not_before, not_after = excluded.not_after",
            params![&kid[..], &key.secret[..], key.jurisdiction, key.not_before.0, key.not_after.0],
        )?;
        Ok(())
    }

    fn signing_keys(&self) -> Result<Vec<([u8; 8], StoredKey)>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(
            "select kid, secret, jurisdiction, not_before, not_after from signing_keys order by not_before, kid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KeyRow {
                kid: r.get(0)?,
                secret: r.get(1)?,
                jurisdiction: r.get(2)?,
                not_before: r.get(3)?,
                not_after: r.get(4)?,
            })
        })?;
        rows.map(|r| r.map_err(StoreError::from).and_then(KeyRow::into_key))
            .collect()
    }

    fn execute_raw_for_tests(&self, sql: &str) -> Result<u64> {
        let w = self.write();
        let n = w.conn.execute(sql, [])?;
        w.conn.flush_prepared_statement_cache();
        Ok(n as u64)
    }
}
