//! The one committer: every change to authority state goes through
//! [`AppState::commit`], which writes it durably in one store transaction (authority events
//! with the duty rows or the lab change they belong to) and then applies the committed
//! events to the projection, all under one lock so the projection sees the log in order.
//! Authorising and planning happen before, in the feature's command; nothing here decides.
//!
//! The projection is fed from the committed log in sequence order: before applying its own
//! events, the committer applies any that another process appended first
//! ([`AppState::follow_log`] does the same on demand), so several processes on one
//! database converge on the same state.

use crate::state::AppState;
use xikang_domain::EventSeq;
use xikang_domain::event::{NewEvent, StoredEvent};
use xikang_store::{DutyOp, LabWrite, StoreError};

/// What one commit writes.
#[derive(Debug)]
pub enum Write {
    /// Authority events alone.
    Events(Vec<NewEvent>),
    /// Duty rows with the events they go with.
    Duties {
        ops: Vec<DutyOp>,
        events: Vec<NewEvent>,
    },
    /// A lab change (tubes, rounds, tasks, doses) with its events.
    Lab(LabWrite),
}

/// What a commit wrote: the events as stored (sequence numbers, hashes) and the lab change
/// handed back to its command.
#[derive(Debug)]
pub struct Committed {
    pub events: Vec<StoredEvent>,
    pub lab: Option<LabWrite>,
}

impl AppState {
    /// Writes `w` durably, then applies it to the projection, in log order. Nothing is
    /// applied when the store refuses the write.
    pub async fn commit(&self, w: Write) -> Result<Committed, StoreError> {
        let _log = self.commit_lock.lock().await;
        let store = self.store.clone();
        let (written, w) = tokio::task::spawn_blocking(move || {
            let r = match &w {
                Write::Events(events) => store.append_events(events),
                Write::Duties { ops, events } => store.commit_duties(ops, events),
                Write::Lab(lab) => store.write_lab(lab),
            };
            (r, w)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("commit task failed: {e}")))?;
        let events = written?;
        // Another process writing to the same store may have appended before us: apply
        // its events first, so the projection sees the log in sequence order. If that read
        // fails the write is still durable; the error is reported and the next commit or
        // `follow_log` applies the gap and ours, in order (ours are not applied past a gap).
        if let Some(first) = events.first() {
            self.follow_log_until(first.seq).await?;
        }
        let lab = match w {
            Write::Lab(lab) => {
                self.projection.lab.absorb(self, &lab);
                Some(lab)
            }
            Write::Events(_) | Write::Duties { .. } => None,
        };
        for e in &events {
            self.projection.apply(e);
        }
        Ok(Committed { events, lab })
    }

    /// Applies the events other processes appended to the store's log since this
    /// projection last applied one, in order; returns how many. This is how a process that
    /// did not write them (another node on the same database) follows the log.
    pub async fn follow_log(&self) -> Result<usize, StoreError> {
        let _log = self.commit_lock.lock().await;
        self.follow_log_until(EventSeq(u64::MAX)).await
    }

    /// Applies the stored events after the last applied one and before `end`, a page at a
    /// time. The caller holds the commit lock.
    async fn follow_log_until(&self, end: EventSeq) -> Result<usize, StoreError> {
        const PAGE: u32 = 10_000;
        let mut applied = 0;
        loop {
            let after = self.projection.applied();
            if after.0.saturating_add(1) >= end.0 {
                return Ok(applied);
            }
            let store = self.store.clone();
            let page = tokio::task::spawn_blocking(move || store.events_after(after, PAGE))
                .await
                .map_err(|e| StoreError::Corrupt(format!("log read task failed: {e}")))??;
            let before = applied;
            for e in page.iter().take_while(|e| e.seq < end) {
                self.projection.apply(e);
                applied += 1;
            }
            if applied == before || page.len() < PAGE as usize {
                return Ok(applied);
            }
        }
    }

    /// Appends authority events and applies them ([`AppState::commit`] of events alone).
    pub async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self.commit(Write::Events(events)).await?.events)
    }
}
