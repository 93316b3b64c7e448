//! [`CredentialStore`] for PostgreSQL.

use super::PgStore;
use crate::StoredToken;
use crate::cluster::NoteKind;
use crate::credential::{
    AccessFilter, AccessRecord, AccessRow, CredentialStore, StoredAccess, TOKEN_COLUMNS, TokenRow,
    access_query,
};
use crate::error::{Result, StoreError};
use postgres::Row;
use postgres::types::ToSql;
use xikang_domain::{Timestamp, TokenId};

pub(super) fn token_row(r: &Row) -> Result<TokenRow> {
    Ok(TokenRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        role: r.try_get(2)?,
        area: r.try_get(3)?,
        venue: r.try_get(4)?,
        person: r.try_get(5)?,
        id_lookup: r.try_get(6)?,
        created_at: r.try_get(7)?,
        expires_at: r.try_get(8)?,
        revoked_at: r.try_get(9)?,
        enterprise: r.try_get(10)?,
    })
}

fn access_row(r: &Row) -> Result<AccessRow> {
    Ok(AccessRow {
        id: r.try_get(0)?,
        at: r.try_get(1)?,
        actor: r.try_get(2)?,
        route: r.try_get(3)?,
        purpose: r.try_get(4)?,
        person: r.try_get(5)?,
    })
}

impl CredentialStore for PgStore {
    fn api_tokens(&self) -> Result<Vec<StoredToken>> {
        let rows = self.read()?.query(
            &format!("select {TOKEN_COLUMNS} from api_tokens order by id"),
            &[],
        )?;
        rows.iter()
            .map(|r| token_row(r).and_then(TokenRow::into_token))
            .collect()
    }

    fn api_token_by_id(&self, id: TokenId) -> Result<Option<StoredToken>> {
        let Ok(id) = i64::try_from(id.get()) else {
            return Ok(None);
        };
        let row = self.read()?.query_opt(
            &format!("select {TOKEN_COLUMNS} from api_tokens where id = $1"),
            &[&id],
        )?;
        row.map(|r| token_row(&r).and_then(TokenRow::into_token))
            .transpose()
    }

    fn revoke_api_token(&self, id: TokenId, at: Timestamp) -> Result<()> {
        let id = i64::try_from(id.get()).map_err(|_| StoreError::NotFound)?;
        let mut w = self.write()?;
        let node = w.node.clone();
        let mut tx = w.client.transaction()?;
        let n = tx.execute(
            "update api_tokens set revoked_at = coalesce(revoked_at, $2) where id = $1",
            &[&id, &at.0],
        )?;
        if n != 1 {
            return Err(StoreError::NotFound);
        }
        // Every node forgets its cached lookups at once (docs/nodes.md); noted by any
        // process, the CLI's `token revoke` too.
        super::cluster::note(&mut tx, NoteKind::Tokens, node.as_deref(), "")?;
        tx.commit()?;
        Ok(())
    }

    fn insert_access(&self, reads: &[AccessRecord]) -> Result<()> {
        if reads.is_empty() {
            return Ok(());
        }
        let at: Vec<i64> = reads.iter().map(|a| a.at.0).collect();
        let actor: Vec<&str> = reads.iter().map(|a| a.actor.as_str()).collect();
        let route: Vec<&str> = reads.iter().map(|a| a.route.as_str()).collect();
        let purpose: Vec<Option<&str>> = reads.iter().map(|a| a.purpose.as_deref()).collect();
        let person: Vec<i64> = reads.iter().map(|a| i64::from(a.person.get())).collect();
        self.write()?.client.execute(
            "insert into access_log (at, actor, route, purpose, person)
             select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[])",
            &[&at, &actor, &route, &purpose, &person],
        )?;
        Ok(())
    }

    fn access_log(&self, filter: &AccessFilter) -> Result<Vec<StoredAccess>> {
        let sql = access_query(filter, '$');
        let after = i64::try_from(filter.after).unwrap_or(i64::MAX);
        let actor = filter.actor.clone();
        let person = filter.person.map(|p| i64::from(p.get()));
        let limit = i64::from(filter.limit);
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&after];
        if let Some(a) = &actor {
            args.push(a);
        }
        if let Some(p) = &person {
            args.push(p);
        }
        args.push(&limit);
        let rows = self.read()?.query(&sql, &args)?;
        rows.iter()
            .map(|r| access_row(r).and_then(AccessRow::into_access))
            .collect()
    }
}
