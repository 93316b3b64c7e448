//! [`RegisterStore`] for SQLite: look-ups by the ID number's keyed hash on a reader
//! connection, and each import one `begin immediate` transaction on the writer.

use super::SqliteStore;
use crate::error::Result;
use crate::register::{
    REGISTERED_COLUMNS, RegisterRow, RegisterStore, RegisterWrite, RegisteredRow,
};
use crate::row::u32_of;
use rusqlite::{OptionalExtension, ToSql, TransactionBehavior, params};
use xikang_domain::event::StoredEvent;
use xikang_domain::register::Registered;
use xikang_domain::{HouseholdId, PersonId};

fn registered_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RegisteredRow> {
    Ok(RegisteredRow {
        id: r.get(0)?,
        name: r.get(1)?,
        phone: r.get(2)?,
        household: r.get(3)?,
        address: r.get(4)?,
        area: r.get(5)?,
        home_cell: r.get(6)?,
        kind: r.get(7)?,
        registered_on: r.get(8)?,
    })
}

/// Calls `f` with a resident's nine columns (`?1` to `?9`, as both statements below take
/// them) followed by `extra`.
fn with_columns<T>(
    r: &RegisterRow,
    extra: &[&dyn ToSql],
    f: impl FnOnce(&[&dyn ToSql]) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let l = &r.line;
    let phone = l.phone.as_ref().map(|p| p.expose());
    let (household, area, cell) = (r.household.get(), l.community.as_str(), l.cell.0);
    let (kind, registered_on, id) = (l.kind.as_str(), l.registered_on.map(|d| d.0), r.id.get());
    let mut p: Vec<&dyn ToSql> = vec![
        &l.name,
        &phone,
        &household,
        &area,
        &cell,
        &l.address,
        &kind,
        &registered_on,
        &id,
    ];
    p.extend_from_slice(extra);
    f(&p)
}

impl RegisterStore for SqliteStore {
    fn registered_by_hashes(&self, hashes: &[[u8; 16]]) -> Result<Vec<([u8; 16], Registered)>> {
        let mut conn = self.read()?;
        // One read transaction for all of them, not one (with its file locks) per key.
        let tx = conn.transaction()?;
        let mut stmt = tx.prepare_cached(&format!(
            "select {REGISTERED_COLUMNS} from people where id_hash = ?1"
        ))?;
        // In the index's order: a part's keys are random, and looked up in file order each
        // would read a random page of a million-entry index.
        let mut sorted: Vec<&[u8; 16]> = hashes.iter().collect();
        sorted.sort_unstable();
        let mut out = Vec::new();
        for h in sorted {
            if let Some(row) = stmt.query_row([&h[..]], registered_row).optional()? {
                out.push((*h, row.into_registered()?));
            }
        }
        Ok(out)
    }

    fn households_by_keys(&self, keys: &[&str]) -> Result<Vec<(String, HouseholdId)>> {
        let mut conn = self.read()?;
        let tx = conn.transaction()?;
        let mut stmt = tx.prepare_cached("select id from households where key = ?1")?;
        let mut out = Vec::new();
        for k in keys {
            if let Some(id) = stmt.query_row([k], |r| r.get::<_, i64>(0)).optional()? {
                out.push(((*k).to_owned(), HouseholdId(u32_of(id, "household id")?)));
            }
        }
        Ok(out)
    }

    fn register_next_ids(&self) -> Result<(PersonId, HouseholdId)> {
        let conn = self.read()?;
        let (person, household): (i64, i64) = conn.query_row(
            "select (select coalesce(max(id) + 1, 0) from people),
                    max((select coalesce(max(household) + 1, 0) from people),
                        (select coalesce(max(id) + 1, 0) from households))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((
            PersonId(u32_of(person, "person id")?),
            HouseholdId(u32_of(household, "household id")?),
        ))
    }

    fn write_register(&self, w: &RegisterWrite) -> Result<Vec<StoredEvent>> {
        let mut writer = self.write();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached("insert into households (key, id) values (?1, ?2)")?;
            for (key, id) in &w.households {
                stmt.execute(params![key, id.get()])?;
            }
            let mut stmt = tx.prepare_cached(
                "insert into people (name, phone, household, area, home_cell, address, kind,
                                     registered_on, id, id_number, id_hash)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            // In the order of the unique index's key: a million random keys inserted in
            // file order touch a random page of it each.
            let mut added: Vec<&RegisterRow> = w.added.iter().collect();
            added.sort_unstable_by_key(|r| r.id_hash);
            for r in added {
                let number = r.line.id_number.expose();
                with_columns(r, &[&number, &&r.id_hash[..]], |p| stmt.execute(p))?;
            }
            let mut stmt = tx.prepare_cached(
                "update people set name = ?1, phone = ?2, household = ?3, area = ?4, home_cell = ?5,
                                   address = ?6, kind = ?7, registered_on = ?8
                 where id = ?9",
            )?;
            for r in &w.changed {
                with_columns(r, &[], |p| stmt.execute(p))?;
            }
        }
        let stored = super::append_events_in(&tx, &w.events)?;
        tx.commit()?;
        Ok(stored)
    }
}
