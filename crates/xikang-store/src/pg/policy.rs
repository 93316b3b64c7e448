//! [`PolicyStore`] for PostgreSQL.

use super::PgStore;
use crate::cluster::NoteKind;
use crate::error::Result;
use crate::policy::{POLICY_COLUMNS, PolicyStore, StoredPolicy};
use postgres::Row;
use xikang_domain::Timestamp;

fn policy_row(r: &Row) -> Result<StoredPolicy> {
    let t = |i: usize| -> Result<Option<Timestamp>> {
        Ok(r.try_get::<_, Option<i64>>(i)?.map(Timestamp))
    };
    Ok(StoredPolicy {
        version: r.try_get(0)?,
        sha256: r.try_get(1)?,
        text: r.try_get(2)?,
        uploaded_by: r.try_get(3)?,
        uploaded_at: Timestamp(r.try_get(4)?),
        proposed_by: r.try_get(5)?,
        proposed_at: t(6)?,
        effective_from: t(7)?,
        approved_by: r.try_get(8)?,
        approved_at: t(9)?,
        active_since: t(10)?,
        active_until: t(11)?,
    })
}

fn secs(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.0)
}

impl PolicyStore for PgStore {
    fn insert_policy(&self, p: &StoredPolicy) -> Result<()> {
        let mut w = self.write()?;
        let node = w.node.clone();
        let mut tx = w.client.transaction()?;
        tx.execute(
            "insert into policies (version, sha256, text, uploaded_by, uploaded_at)
             values ($1, $2, $3, $4, $5)",
            &[
                &p.version,
                &p.sha256,
                &p.text,
                &p.uploaded_by,
                &p.uploaded_at.0,
            ],
        )?;
        // The other nodes re-read the versions (docs/nodes.md).
        super::cluster::note(&mut tx, NoteKind::Policies, node.as_deref(), "")?;
        tx.commit()?;
        Ok(())
    }

    fn update_policies(&self, ps: &[StoredPolicy]) -> Result<()> {
        let mut w = self.write()?;
        let node = w.node.clone();
        let mut tx = w.client.transaction()?;
        for p in ps {
            let n = tx.execute(
                "update policies set proposed_by = $2, proposed_at = $3, effective_from = $4,
                     approved_by = $5, approved_at = $6, active_since = $7, active_until = $8
                 where version = $1",
                &[
                    &p.version,
                    &p.proposed_by,
                    &secs(p.proposed_at),
                    &secs(p.effective_from),
                    &p.approved_by,
                    &secs(p.approved_at),
                    &secs(p.active_since),
                    &secs(p.active_until),
                ],
            )?;
            crate::user::changed_one(n)?;
        }
        super::cluster::note(&mut tx, NoteKind::Policies, node.as_deref(), "")?;
        tx.commit()?;
        Ok(())
    }

    fn policies(&self) -> Result<Vec<StoredPolicy>> {
        self.read()?
            .query(
                &format!("select {POLICY_COLUMNS} from policies order by uploaded_at, version"),
                &[],
            )?
            .iter()
            .map(policy_row)
            .collect()
    }
}
