//! [`ClusterStore`] for PostgreSQL: leases as rows with an expiry, taken by one
//! `insert … on conflict … where` (atomic: two nodes cannot both win); LISTEN/NOTIFY on
//! [`LOG_CHANNEL`] to wake followers; the check-in feed written beside each batch; the
//! node feed's notes written beside the writes they announce.

use super::{Conn, PgStore};
use crate::cluster::{Change, ClusterStore, FeedBatch, LogListener, Note, NoteKind};
use crate::error::{Result, StoreError, read_only_refusals};
use crate::lab::LabWrite;
use crate::row::{self, checkin_of, dir_code};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, GenericClient};
use std::sync::PoisonError;
use std::time::Duration;
use xikang_domain::testing::{Batch, Dose, LabTask, Round, Sample, SamplingSite, Tube};
use xikang_domain::{CheckIn, LocationPing, Timestamp};

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
            // A claim on a server that refused a write as read-only is on a demoted leader:
            // claim again where writes go now.
            let alive = claim.as_mut().is_some_and(|c| {
                c.epoch == read_only_refusals() && c.client.simple_query("select 1").is_ok()
            });
            if !alive {
                *claim = None;
                let epoch = read_only_refusals();
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
                *claim = Some(Conn { client: c, epoch });
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
        let epoch = read_only_refusals();
        let mut client = self.connect()?;
        client.batch_execute(&format!("listen {LOG_CHANNEL}"))?;
        Ok(Some(Box::new(PgListener { client, epoch })))
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

    fn note_head(&self, kind: NoteKind) -> Result<u64> {
        let row = self.read()?.query_one(
            "select coalesce(max(seq), 0) from node_feed where kind = $1",
            &[&kind.as_str()],
        )?;
        Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
    }

    fn notes_after(&self, kind: NoteKind, after: u64, limit: u32) -> Result<Vec<Note>> {
        let rows = self.read()?.query(
            "select seq, node, body from node_feed where kind = $1 and seq > $2
             order by seq limit $3",
            &[
                &kind.as_str(),
                &i64::try_from(after).unwrap_or(i64::MAX),
                &i64::from(limit),
            ],
        )?;
        rows.iter()
            .map(|r| {
                let body: &str = r.try_get(2)?;
                let bad = |e: serde_json::Error| {
                    StoreError::Corrupt(format!("a {} note: {e}", kind.as_str()))
                };
                let change = match kind {
                    NoteKind::Pings => Change::Pings(serde_json::from_str(body).map_err(bad)?),
                    NoteKind::Lab => Change::Lab(Box::new(
                        serde_json::from_str::<LabNote>(body)
                            .map_err(bad)?
                            .into_write(),
                    )),
                    NoteKind::Tokens => Change::Tokens,
                    NoteKind::Policies => Change::Policies,
                    NoteKind::Register => {
                        Change::Register(serde_json::from_str(body).map_err(bad)?)
                    }
                };
                Ok(Note {
                    seq: r.try_get::<_, i64>(0)?.unsigned_abs(),
                    node: r.try_get(1)?,
                    change,
                })
            })
            .collect()
    }
}

/// The node-feed key of a kind's advisory lock ("xknote" in ASCII, plus the kind).
fn note_lock(kind: NoteKind) -> i64 {
    let k = match kind {
        NoteKind::Pings => 1,
        NoteKind::Lab => 2,
        NoteKind::Tokens => 3,
        NoteKind::Policies => 4,
        NoteKind::Register => 5,
    };
    (0x786b_6e6f_7465_i64 << 4) | k
}

/// Takes the kind's feed lock for the rest of the transaction: notes of the kind are then
/// numbered, and (for the lab) checked, one transaction at a time.
pub(crate) fn lock_notes(tx: &mut impl GenericClient, kind: NoteKind) -> Result<()> {
    tx.execute("select pg_advisory_xact_lock($1)", &[&note_lock(kind)])?;
    Ok(())
}

/// Writes a note of `kind` from `node` (empty: a process that never joined), last in its
/// transaction (the kind's advisory lock is held from here to the commit only), and wakes
/// the other nodes at the commit.
pub(crate) fn note(
    tx: &mut impl GenericClient,
    kind: NoteKind,
    node: Option<&str>,
    body: &str,
) -> Result<()> {
    lock_notes(tx, kind)?;
    let now = row::now_secs();
    let seq: i64 = tx
        .query_one(
            "select coalesce(max(seq), 0) + 1 from node_feed where kind = $1",
            &[&kind.as_str()],
        )?
        .try_get(0)?;
    tx.execute(
        "insert into node_feed (kind, seq, node, created_at, body) values ($1, $2, $3, $4, $5)",
        &[&kind.as_str(), &seq, &node.unwrap_or(""), &now, &body],
    )?;
    if seq % 1000 == 0 {
        tx.execute(
            "delete from node_feed where kind = $1 and created_at < $2",
            &[&kind.as_str(), &(now - FEED_KEEP_SECS)],
        )?;
    }
    tx.execute("select pg_notify($1, $2)", &[&LOG_CHANNEL, &kind.as_str()])?;
    Ok(())
}

/// Notes a batch of stored pings, when this process joined.
pub(crate) fn note_pings(
    tx: &mut impl GenericClient,
    node: Option<&str>,
    batch: &[LocationPing],
) -> Result<()> {
    let Some(node) = node else {
        return Ok(());
    };
    let body = serde_json::to_string(batch)
        .map_err(|e| StoreError::Corrupt(format!("pings as a note: {e}")))?;
    note(tx, NoteKind::Pings, Some(node), &body)
}

/// Notes the residents an import placed, when this process joined.
pub(crate) fn note_register(
    tx: &mut impl GenericClient,
    node: Option<&str>,
    w: &crate::RegisterWrite,
) -> Result<()> {
    let Some(node) = node else {
        return Ok(());
    };
    let placed = w.placed();
    if placed.is_empty() {
        return Ok(());
    }
    let body = serde_json::to_string(&placed)
        .map_err(|e| StoreError::Corrupt(format!("an import as a note: {e}")))?;
    note(tx, NoteKind::Register, Some(node), &body)
}

/// Checks and notes a lab write planned by a node (`planned_after_note` set): refused with
/// [`crate::ConflictKind::LabChanged`] when another node's lab write was noted after the
/// one the planner had absorbed. Called first in the write's transaction, so the kind's
/// lock serialises lab writes of all nodes from the check to the commit.
pub(crate) fn check_and_note_lab(
    tx: &mut impl GenericClient,
    node: Option<&str>,
    w: &LabWrite,
) -> Result<()> {
    let Some(seen) = w.planned_after_note else {
        return Ok(());
    };
    lock_notes(tx, NoteKind::Lab)?;
    let moved = tx
        .query_opt(
            "select 1 from node_feed where kind = 'lab' and seq > $1 and node <> $2 limit 1",
            &[
                &i64::try_from(seen).unwrap_or(i64::MAX),
                &node.unwrap_or(""),
            ],
        )?
        .is_some();
    if moved {
        return Err(StoreError::Conflict(crate::ConflictKind::LabChanged));
    }
    let body = serde_json::to_string(&LabNote::of(w))
        .map_err(|e| StoreError::Corrupt(format!("a lab write as a note: {e}")))?;
    note(tx, NoteKind::Lab, node, &body)
}

/// The rows of a lab write as a note carries them.
#[derive(serde::Serialize, serde::Deserialize)]
struct LabNote {
    sites: Vec<SamplingSite>,
    rounds: Vec<Round>,
    tubes: Vec<Tube>,
    samples: Vec<Sample>,
    batches: Vec<Batch>,
    tasks: Vec<LabTask>,
    doses: Vec<Dose>,
}

impl LabNote {
    fn of(w: &LabWrite) -> LabNote {
        LabNote {
            sites: w.sites.clone(),
            rounds: w.rounds.clone(),
            tubes: w.tubes.clone(),
            samples: w.samples.clone(),
            batches: w.batches.clone(),
            tasks: w.tasks.clone(),
            doses: w.doses.clone(),
        }
    }

    fn into_write(self) -> LabWrite {
        LabWrite {
            sites: self.sites,
            rounds: self.rounds,
            tubes: self.tubes,
            samples: self.samples,
            batches: self.batches,
            tasks: self.tasks,
            doses: self.doses,
            ..LabWrite::default()
        }
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
    /// The count of read-only refusals when it connected.
    epoch: u64,
}

impl LogListener for PgListener {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        if self.epoch != read_only_refusals() {
            // It may be listening on a demoted leader, where nobody writes any more.
            return Err(StoreError::Target(
                "the listener's server refused a write as read-only; listening again".into(),
            ));
        }
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
