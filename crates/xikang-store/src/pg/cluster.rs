//! [`ClusterStore`] for PostgreSQL: leases as rows with an expiry, taken by one
//! `insert … on conflict … where` (atomic: two nodes cannot both win); LISTEN/NOTIFY on
//! [`LOG_CHANNEL`] to wake followers; the check-in feed written beside each batch.

use super::PgStore;
use crate::cluster::{ClusterStore, FeedBatch, LogListener};
use crate::error::{Result, StoreError};
use crate::row::{self, checkin_of, dir_code};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient};
use std::sync::PoisonError;
use std::time::Duration;
use xikang_domain::{CheckIn, Timestamp};

/// The channel appends to the log and to the check-in feed are announced on.
pub(crate) const LOG_CHANNEL: &str = "xikang_log";

/// The advisory lock key that orders the check-in feed: a batch takes its number under it,
/// so numbers commit in order and a follower reading `seq > last` never skips one that
/// commits later. ("xkfeed" in ASCII.)
const FEED_LOCK: i64 = 0x786b_6665_6564;

/// Feed batches are kept this long; a node further behind reloads from the day tables.
const FEED_KEEP_SECS: i64 = 3600;

impl ClusterStore for PgStore {
    fn join(&self, node: &str) -> Result<()> {
        {
            let mut claim = self.claim.lock().unwrap_or_else(PoisonError::into_inner);
            let alive = claim
                .as_mut()
                .is_some_and(|c| c.simple_query("select 1").is_ok());
            if !alive {
                *claim = None;
                let mut c = self.connect()?;
                let got: bool = c
                    .query_one(
                        // Per schema: several cities (or test runs) may share a database.
                        "select pg_try_advisory_lock(hashtextextended(
                             'xikang-node:' || current_schema() || ':' || $1, 0))",
                        &[&node],
                    )?
                    .try_get(0)?;
                if !got {
                    return Err(StoreError::Target(format!(
                        "node id {node:?} is in use by another running process"
                    )));
                }
                *claim = Some(c);
            }
        }
        let mut w = self.write()?;
        w.node = Some(node.to_owned());
        Ok(())
    }

    fn take_lease(&self, name: &str, holder: &str, now: Timestamp, ttl_secs: i64) -> Result<bool> {
        let expires = now.0.saturating_add(ttl_secs);
        let n = self.write()?.client.execute(
            "insert into node_leases (name, holder, expires_at) values ($1, $2, $3)
             on conflict (name) do update set holder = excluded.holder,
                 expires_at = excluded.expires_at
             where node_leases.holder = excluded.holder or node_leases.expires_at <= $4",
            &[&name, &holder, &expires, &now.0],
        )?;
        Ok(n == 1)
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.write()?.client.execute(
            "delete from node_leases where name = $1 and holder = $2",
            &[&name, &holder],
        )?;
        Ok(())
    }

    fn lease_holder(&self, name: &str, now: Timestamp) -> Result<Option<String>> {
        let row = self.read()?.query_opt(
            "select holder from node_leases where name = $1 and expires_at > $2",
            &[&name, &now.0],
        )?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    fn log_listener(&self) -> Result<Option<Box<dyn LogListener>>> {
        let mut client = self.connect()?;
        client.batch_execute(&format!("listen {LOG_CHANNEL}"))?;
        Ok(Some(Box::new(PgListener { client })))
    }

    fn checkin_feed_head(&self) -> Result<u64> {
        let row = self
            .read()?
            .query_one("select coalesce(max(seq), 0) from checkin_feed", &[])?;
        Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
    }

    fn checkin_feed_after(&self, after: u64, limit: u32) -> Result<Vec<FeedBatch>> {
        let rows = self.read()?.query(
            "select seq, node, venues, ats, persons, dirs from checkin_feed
             where seq > $1 order by seq limit $2",
            &[&i64::try_from(after).unwrap_or(i64::MAX), &i64::from(limit)],
        )?;
        rows.iter()
            .map(|r| {
                let venues: Vec<i64> = r.try_get(2)?;
                let ats: Vec<i64> = r.try_get(3)?;
                let persons: Vec<i64> = r.try_get(4)?;
                let dirs: Vec<i16> = r.try_get(5)?;
                let checkins = venues
                    .iter()
                    .zip(&ats)
                    .zip(&persons)
                    .zip(&dirs)
                    .map(|(((v, a), p), d)| checkin_of(*v, *a, *p, i64::from(*d)))
                    .collect::<Result<Vec<CheckIn>>>()?;
                Ok(FeedBatch {
                    seq: r.try_get::<_, i64>(0)?.unsigned_abs(),
                    node: r.try_get(1)?,
                    checkins,
                })
            })
            .collect()
    }
}

/// Writes a committed-to-be batch to the feed, last in its transaction (the advisory lock
/// is held from here to the commit only). Nothing when this process has not joined.
pub(crate) fn feed_checkins(
    tx: &mut impl GenericClient,
    writer_node: Option<&str>,
    batch: &[CheckIn],
) -> Result<()> {
    let Some(node) = writer_node else {
        return Ok(());
    };
    let venues: Vec<i64> = batch.iter().map(|c| i64::from(c.venue.get())).collect();
    let ats: Vec<i64> = batch.iter().map(|c| c.at.0).collect();
    let persons: Vec<i64> = batch.iter().map(|c| i64::from(c.person.get())).collect();
    let dirs: Vec<i16> = batch.iter().map(|c| dir_code(c.direction)).collect();
    let now = row::now_secs();
    tx.execute("select pg_advisory_xact_lock($1)", &[&FEED_LOCK])?;
    let seq: i64 = tx
        .query_one("select coalesce(max(seq), 0) + 1 from checkin_feed", &[])?
        .try_get(0)?;
    tx.execute(
        "insert into checkin_feed (seq, node, created_at, venues, ats, persons, dirs)
         values ($1, $2, $3, $4, $5, $6, $7)",
        &[&seq, &node, &now, &venues, &ats, &persons, &dirs],
    )?;
    if seq % 1000 == 0 {
        tx.execute(
            "delete from checkin_feed where created_at < $1",
            &[&(now - FEED_KEEP_SECS)],
        )?;
    }
    tx.execute("select pg_notify($1, 'checkins')", &[&LOG_CHANNEL])?;
    Ok(())
}

struct PgListener {
    client: Client,
}

impl LogListener for PgListener {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let mut n = self.client.notifications();
        let woke = n.timeout_iter(timeout).next()?.is_some();
        if woke {
            // Drain what else is queued: one wake-up covers them all.
            let mut rest = n.iter();
            while rest.next()?.is_some() {}
        }
        Ok(woke)
    }
}
