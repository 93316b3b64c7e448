//! [`ClusterStore`] for SQLite: one node, so no listener and no feed; the leases are real
//! rows all the same (two processes on one data directory, a test's two states, still
//! take turns), with the same contract as on PostgreSQL.

use super::SqliteStore;
use crate::cluster::{ClusterStore, FeedBatch, LogListener};
use crate::error::Result;
use rusqlite::{OptionalExtension, params};
use xikang_domain::Timestamp;

impl ClusterStore for SqliteStore {
    fn join(&self, _node: &str) -> Result<()> {
        Ok(())
    }

    fn take_lease(&self, name: &str, holder: &str, now: Timestamp, ttl_secs: i64) -> Result<bool> {
        let n = self.write().conn.execute(
            "insert into node_leases (name, holder, expires_at) values (?1, ?2, ?3)
             on conflict (name) do update set holder = excluded.holder,
                 expires_at = excluded.expires_at
             where node_leases.holder = excluded.holder or node_leases.expires_at <= ?4",
            params![name, holder, now.0.saturating_add(ttl_secs), now.0],
        )?;
        Ok(n == 1)
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.write().conn.execute(
            "delete from node_leases where name = ?1 and holder = ?2",
            params![name, holder],
        )?;
        Ok(())
    }

    fn lease_holder(&self, name: &str, now: Timestamp) -> Result<Option<String>> {
        Ok(self
            .read()?
            .query_row(
                "select holder from node_leases where name = ?1 and expires_at > ?2",
                params![name, now.0],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn log_listener(&self) -> Result<Option<Box<dyn LogListener>>> {
        Ok(None)
    }

    fn checkin_feed_head(&self) -> Result<u64> {
        Ok(0)
    }

    fn checkin_feed_after(&self, _after: u64, _limit: u32) -> Result<Vec<FeedBatch>> {
        Ok(Vec::new())
    }
}
