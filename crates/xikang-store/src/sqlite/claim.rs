//! [`ClaimStore`] for SQLite.

use super::SqliteStore;
use crate::claim::{ClaimState, ClaimStore, StoredClaim, hash16};
use crate::error::Result;
use crate::row::u32_of;
use rusqlite::{OptionalExtension, params};
use xikang_domain::{PersonId, Timestamp};

type Raw = (
    i64,
    Option<i64>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    i64,
    i64,
    i64,
    String,
);

impl ClaimStore for SqliteStore {
    fn insert_claim(&self, c: &StoredClaim) -> Result<u64> {
        let w = self.write();
        w.conn.execute(
            "insert into claims (person, id_hash, phone_hash, code_hash, secret_hash, created_at,
                 expires_at, attempts, state)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                c.person.map(|p| i64::from(p.0)),
                c.id_hash.as_slice(),
                c.phone_hash.as_slice(),
                c.code_hash.as_slice(),
                c.secret_hash.as_slice(),
                c.created_at.0,
                c.expires_at.0,
                i64::from(c.attempts),
                c.state.as_str()
            ],
        )?;
        Ok(w.conn.last_insert_rowid() as u64)
    }

    fn claim(&self, id: u64) -> Result<Option<StoredClaim>> {
        let conn = self.read()?;
        let raw: Option<Raw> = conn
            .prepare_cached(
                "select id, person, id_hash, phone_hash, code_hash, secret_hash, created_at,
                     expires_at, attempts, state
                 from claims where id = ?1",
            )?
            .query_row([id as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .optional()?;
        raw.map(decode).transpose()
    }

    fn update_claim(&self, id: u64, attempts: u32, state: ClaimState) -> Result<bool> {
        let n = self.write().conn.execute(
            "update claims set attempts = ?2, state = ?3 where id = ?1 and state = 'open'",
            params![id as i64, i64::from(attempts), state.as_str()],
        )?;
        Ok(n == 1)
    }

    fn claims_since(
        &self,
        id_hash: &[u8; 16],
        phone_hash: &[u8; 16],
        since: Timestamp,
    ) -> Result<u32> {
        let conn = self.read()?;
        let n: i64 = conn
            .prepare_cached(
                "select count(*) from claims
                 where (id_hash = ?1 or phone_hash = ?2) and created_at >= ?3",
            )?
            .query_row(
                params![id_hash.as_slice(), phone_hash.as_slice(), since.0],
                |r| r.get(0),
            )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

fn decode(r: Raw) -> Result<StoredClaim> {
    Ok(StoredClaim {
        id: r.0 as u64,
        person: r
            .1
            .map(|p| u32_of(p, "person id").map(PersonId))
            .transpose()?,
        id_hash: hash16(r.2)?,
        phone_hash: hash16(r.3)?,
        code_hash: hash16(r.4)?,
        secret_hash: hash16(r.5)?,
        created_at: Timestamp(r.6),
        expires_at: Timestamp(r.7),
        attempts: u32::try_from(r.8).unwrap_or(u32::MAX),
        state: ClaimState::parse(&r.9),
    })
}
