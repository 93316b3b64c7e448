//! [`RegisterStore`] for PostgreSQL: look-ups of a whole chunk in one round trip
//! (`= any($1)`), and each import one transaction whose rows go in through `unnest`.

use super::{BULK, PgStore};
use crate::error::Result;
use crate::register::{
    REGISTERED_COLUMNS, RegisterRow, RegisterStore, RegisterWrite, RegisteredRow,
};
use crate::row::u32_of;
use xikang_domain::event::StoredEvent;
use xikang_domain::register::Registered;
use xikang_domain::{HouseholdId, PersonId};

/// A chunk of residents as the columns `unnest` takes.
struct Columns<'a> {
    name: Vec<&'a str>,
    phone: Vec<Option<&'a str>>,
    household: Vec<i64>,
    area: Vec<&'a str>,
    cell: Vec<i64>,
    address: Vec<&'a str>,
    kind: Vec<&'a str>,
    registered_on: Vec<Option<i64>>,
    id: Vec<i64>,
}

impl<'a> Columns<'a> {
    fn of(rows: &'a [RegisterRow]) -> Columns<'a> {
        Columns {
            name: rows.iter().map(|r| r.line.name.as_str()).collect(),
            phone: rows
                .iter()
                .map(|r| r.line.phone.as_ref().map(|p| p.expose()))
                .collect(),
            household: rows.iter().map(|r| i64::from(r.household.get())).collect(),
            area: rows.iter().map(|r| r.line.community.as_str()).collect(),
            cell: rows.iter().map(|r| i64::from(r.line.cell.0)).collect(),
            address: rows.iter().map(|r| r.line.address.as_str()).collect(),
            kind: rows.iter().map(|r| r.line.kind.as_str()).collect(),
            registered_on: rows
                .iter()
                .map(|r| r.line.registered_on.map(|d| i64::from(d.0)))
                .collect(),
            id: rows.iter().map(|r| i64::from(r.id.get())).collect(),
        }
    }
}

impl Columns<'_> {
    /// The nine columns as statement parameters, `$1` to `$9`.
    fn params(&self) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
        vec![
            &self.name,
            &self.phone,
            &self.household,
            &self.area,
            &self.cell,
            &self.address,
            &self.kind,
            &self.registered_on,
            &self.id,
        ]
    }
}

impl RegisterStore for PgStore {
    fn registered_by_hashes(&self, hashes: &[[u8; 16]]) -> Result<Vec<([u8; 16], Registered)>> {
        let mut c = self.read()?;
        let keys: Vec<&[u8]> = hashes.iter().map(|h| &h[..]).collect();
        let mut out = Vec::new();
        for row in c.query(
            &format!("select id_hash, {REGISTERED_COLUMNS} from people where id_hash = any($1)"),
            &[&keys],
        )? {
            let hash: &[u8] = row.try_get(0)?;
            let Ok(hash) = <[u8; 16]>::try_from(hash) else {
                continue;
            };
            let r = RegisteredRow {
                id: row.try_get(1)?,
                name: row.try_get(2)?,
                phone: row.try_get(3)?,
                household: row.try_get(4)?,
                address: row.try_get(5)?,
                area: row.try_get(6)?,
                home_cell: row.try_get(7)?,
                kind: row.try_get(8)?,
                registered_on: row.try_get(9)?,
            };
            out.push((hash, r.into_registered()?));
        }
        Ok(out)
    }

    fn households_by_keys(&self, keys: &[&str]) -> Result<Vec<(String, HouseholdId)>> {
        let mut c = self.read()?;
        c.query(
            "select key, id from households where key = any($1)",
            &[&keys],
        )?
        .iter()
        .map(|r| {
            let id: i64 = r.try_get(1)?;
            Ok((r.try_get(0)?, HouseholdId(u32_of(id, "household id")?)))
        })
        .collect()
    }

    fn register_next_ids(&self) -> Result<(PersonId, HouseholdId)> {
        let mut c = self.read()?;
        let row = c.query_one(
            "select (select coalesce(max(id) + 1, 0) from people),
                    greatest((select coalesce(max(household) + 1, 0) from people),
                             (select coalesce(max(id) + 1, 0) from households))",
            &[],
        )?;
        let (person, household): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok((
            PersonId(u32_of(person, "person id")?),
            HouseholdId(u32_of(household, "household id")?),
        ))
    }

    fn write_register(&self, w: &RegisterWrite) -> Result<Vec<StoredEvent>> {
        let mut writer = self.write()?;
        let node = writer.node.clone();
        let mut tx = writer.client.transaction()?;
        for chunk in w.households.chunks(BULK) {
            let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
            let ids: Vec<i64> = chunk.iter().map(|(_, id)| i64::from(id.get())).collect();
            tx.execute(
                "insert into households (key, id) select * from unnest($1::text[], $2::bigint[])",
                &[&keys, &ids],
            )?;
        }
        for chunk in w.added.chunks(BULK) {
            let c = Columns::of(chunk);
            let numbers: Vec<&str> = chunk.iter().map(|r| r.line.id_number.expose()).collect();
            let hashes: Vec<&[u8]> = chunk.iter().map(|r| &r.id_hash[..]).collect();
            let mut params = c.params();
            params.push(&numbers);
            params.push(&hashes);
            tx.execute(
                "insert into people (name, phone, household, area, home_cell, address, kind,
                                     registered_on, id, id_number, id_hash)
                 select * from unnest($1::text[], $2::text[], $3::bigint[], $4::text[],
                                      $5::bigint[], $6::text[], $7::text[], $8::bigint[],
                                      $9::bigint[], $10::text[], $11::bytea[])",
                &params,
            )?;
        }
        for chunk in w.changed.chunks(BULK) {
            let c = Columns::of(chunk);
            tx.execute(
                "update people p set name = u.name, phone = u.phone, household = u.household,
                        area = u.area, home_cell = u.home_cell, address = u.address,
                        kind = u.kind, registered_on = u.registered_on
                 from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[],
                             $6::text[], $7::text[], $8::bigint[], $9::bigint[])
                      as u(name, phone, household, area, home_cell, address, kind,
                           registered_on, id)
                 where p.id = u.id",
                &c.params(),
            )?;
        }
        let stored = super::append_events_in(&mut tx, &w.events)?;
        super::cluster::note_register(&mut tx, node.as_deref(), w)?;
        tx.commit()?;
        Ok(stored)
    }
}
