//! [`CredentialStore`] for SQLite.

use super::SqliteStore;
use crate::StoredToken;
use crate::credential::{
    AccessFilter, AccessRecord, AccessRow, CredentialStore, StoredAccess, TOKEN_COLUMNS, TokenRow,
    access_query,
};
use crate::error::{Result, StoreError};
use rusqlite::{OptionalExtension, Row, params};
use xikang_domain::{PersonId, Timestamp, TokenId};

pub(super) fn token_row(r: &Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        area: r.get(3)?,
        venue: r.get(4)?,
        person: r.get(5)?,
        id_lookup: r.get(6)?,
        created_at: r.get(7)?,
        expires_at: r.get(8)?,
        revoked_at: r.get(9)?,
        enterprise: r.get(10)?,
    })
}

fn access_row(r: &Row<'_>) -> rusqlite::Result<AccessRow> {
    Ok(AccessRow {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        route: r.get(3)?,
        purpose: r.get(4)?,
        person: r.get(5)?,
    })
}

fn id_param(id: TokenId) -> Result<i64> {
    i64::try_from(id.get()).map_err(|_| StoreError::NotFound)
}

impl CredentialStore for SqliteStore {
    fn api_tokens(&self) -> Result<Vec<StoredToken>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {TOKEN_COLUMNS} from api_tokens order by id"
        ))?;
        let rows = stmt.query_map([], token_row)?;
        rows.map(|r| r.map_err(Into::into).and_then(TokenRow::into_token))
            .collect()
    }

    fn api_token_by_id(&self, id: TokenId) -> Result<Option<StoredToken>> {
        let Ok(id) = i64::try_from(id.get()) else {
            return Ok(None);
        };
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!(
                "select {TOKEN_COLUMNS} from api_tokens where id = ?1"
            ))?
            .query_row([id], token_row)
            .optional()?;
        row.map(TokenRow::into_token).transpose()
    }

    fn revoke_api_token(&self, id: TokenId, at: Timestamp) -> Result<()> {
        let n = self.write().conn.execute(
            "update api_tokens set revoked_at = coalesce(revoked_at, ?2) where id = ?1",
            params![id_param(id)?, at.0],
        )?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    fn insert_access(&self, reads: &[AccessRecord]) -> Result<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let mut w = self.write();
        let tx = w.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "insert into access_log (at, actor, route, purpose, person)
                 values (?1, ?2, ?3, ?4, ?5)",
            )?;
            for a in reads {
                stmt.execute(params![a.at.0, a.actor, a.route, a.purpose, a.person.get()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn access_log(&self, filter: &AccessFilter) -> Result<Vec<StoredAccess>> {
        let sql = access_query(filter, '?');
        let after = i64::try_from(filter.after).unwrap_or(i64::MAX);
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(after)];
        if let Some(a) = &filter.actor {
            args.push(Box::new(a.clone()));
        }
        if let Some(p) = filter.person {
            args.push(Box::new(PersonId::get(p)));
        }
        args.push(Box::new(filter.limit));
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), access_row)?;
        rows.map(|r| r.map_err(Into::into).and_then(AccessRow::into_access))
            .collect()
    }
}
