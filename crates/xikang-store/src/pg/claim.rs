//! [`ClaimStore`] for PostgreSQL.

use super::PgStore;
use crate::claim::{ClaimState, ClaimStore, StoredClaim, hash16};
use crate::error::Result;
use crate::row::u32_of;
use xikang_domain::{PersonId, Timestamp};

impl ClaimStore for PgStore {
    fn insert_claim(&self, c: &StoredClaim) -> Result<u64> {
        let row = self.write()?.client.query_one(
            "insert into claims (person, id_hash, phone_hash, code_hash, secret_hash, created_at,
                 expires_at, attempts, state)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning id",
            &[
                &c.person.map(|p| i64::from(p.0)),
                &c.id_hash.as_slice(),
                &c.phone_hash.as_slice(),
                &c.code_hash.as_slice(),
                &c.secret_hash.as_slice(),
                &c.created_at.0,
                &c.expires_at.0,
                &i64::from(c.attempts),
                &c.state.as_str(),
            ],
        )?;
        Ok(row.try_get::<_, i64>(0)? as u64)
    }

    fn claim(&self, id: u64) -> Result<Option<StoredClaim>> {
        let row = self.read()?.query_opt(
            "select id, person, id_hash, phone_hash, code_hash, secret_hash, created_at,
                 expires_at, attempts, state
             from claims where id = $1",
            &[&(id as i64)],
        )?;
        let Some(r) = row else {
            return Ok(None);
        };
        Ok(Some(StoredClaim {
            id: r.try_get::<_, i64>(0)? as u64,
            person: r
                .try_get::<_, Option<i64>>(1)?
                .map(|p| u32_of(p, "person id").map(PersonId))
                .transpose()?,
            id_hash: hash16(r.try_get(2)?)?,
            phone_hash: hash16(r.try_get(3)?)?,
            code_hash: hash16(r.try_get(4)?)?,
            secret_hash: hash16(r.try_get(5)?)?,
            created_at: Timestamp(r.try_get(6)?),
            expires_at: Timestamp(r.try_get(7)?),
            attempts: u32::try_from(r.try_get::<_, i64>(8)?).unwrap_or(u32::MAX),
            state: ClaimState::parse(&r.try_get::<_, String>(9)?),
        }))
    }

    fn update_claim(&self, id: u64, attempts: u32, state: ClaimState) -> Result<bool> {
        let n = self.write()?.client.execute(
            "update claims set attempts = $2, state = $3 where id = $1 and state = 'open'",
            &[&(id as i64), &i64::from(attempts), &state.as_str()],
        )?;
        Ok(n == 1)
    }

    fn claims_since(
        &self,
        id_hash: &[u8; 16],
        phone_hash: &[u8; 16],
        since: Timestamp,
    ) -> Result<u32> {
        let n: i64 = self
            .read()?
            .query_one(
                "select count(*) from claims
                 where (id_hash = $1 or phone_hash = $2) and created_at >= $3",
                &[&id_hash.as_slice(), &phone_hash.as_slice(), &since.0],
            )?
            .try_get(0)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
