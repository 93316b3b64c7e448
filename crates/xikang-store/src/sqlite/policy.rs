//! [`PolicyStore`] for SQLite.

use super::SqliteStore;
use crate::error::Result;
use crate::policy::{POLICY_COLUMNS, PolicyStore, StoredPolicy};
use rusqlite::{Row, params};
use xikang_domain::Timestamp;

fn policy_row(r: &Row<'_>) -> rusqlite::Result<StoredPolicy> {
    let t = |i: usize| -> rusqlite::Result<Option<Timestamp>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(Timestamp))
    };
    Ok(StoredPolicy {
        version: r.get(0)?,
        sha256: r.get(1)?,
        text: r.get(2)?,
        uploaded_by: r.get(3)?,
        uploaded_at: Timestamp(r.get(4)?),
        proposed_by: r.get(5)?,
        proposed_at: t(6)?,
        effective_from: t(7)?,
        approved_by: r.get(8)?,
        approved_at: t(9)?,
        active_since: t(10)?,
        active_until: t(11)?,
    })
}

fn secs(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.0)
}

impl PolicyStore for SqliteStore {
    fn insert_policy(&self, p: &StoredPolicy) -> Result<()> {
        self.write().conn.execute(
            "insert into policies (version, sha256, text, uploaded_by, uploaded_at)
             values (?1, ?2, ?3, ?4, ?5)",
            params![p.version, p.sha256, p.text, p.uploaded_by, p.uploaded_at.0],
        )?;
        Ok(())
    }

    fn update_policies(&self, ps: &[StoredPolicy]) -> Result<()> {
        let mut w = self.write();
        let tx = w.conn.transaction()?;
        for p in ps {
            let n = tx.execute(
                "update policies set proposed_by = ?2, proposed_at = ?3, effective_from = ?4,
                     approved_by = ?5, approved_at = ?6, active_since = ?7, active_until = ?8
                 where version = ?1",
                params![
                    p.version,
                    p.proposed_by,
                    secs(p.proposed_at),
                    secs(p.effective_from),
                    p.approved_by,
                    secs(p.approved_at),
                    secs(p.active_since),
                    secs(p.active_until)
                ],
            )?;
            crate::user::changed_one(n as u64)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn policies(&self) -> Result<Vec<StoredPolicy>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {POLICY_COLUMNS} from policies order by uploaded_at, version"
        ))?;
        let rows = stmt.query_map([], policy_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
