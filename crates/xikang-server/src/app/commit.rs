//! The one committer: every change to authority state goes through one private
//! `AppState::commit` (entered by [`AppState::record`], [`AppState::commit_duties`] and
//! [`AppState::commit_register`]), which writes it durably in one store transaction (authority
//! events with the duty rows they belong to) and then applies the committed events to the
//! projection, all under one lock so the projection sees the log in order. Lab changes
//! ([`AppState::commit_lab`], [`AppState::commit_lab_pipelined`]) are written by the lab's
//! own writer, in the order the lab planned them (`lab/pipeline.rs`), outside that lock;
//! their events are then applied under it in the same way, after any the log holds before
//! them.
//! Authorising and planning happen before, in the feature's command; nothing here decides.
//! What the committed events set off in other features runs after, unlocked
//! (`app/reactions.rs`).
//!
//! The projection is fed from the committed log in sequence order: before applying its own
//! events, the committer applies any that another process appended first
//! ([`AppState::follow_log`] does the same on demand), so several processes on one
//! database converge on the same state.

use crate::state::AppState;
use xikang_domain::EventSeq;
use xikang_domain::event::{EventBody, NewEvent, StoredEvent};
use xikang_store::{DutyOp, LabWrite, RegisterWrite, Store, StoreError};

impl AppState {
    /// Appends authority events and applies them.
    pub async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<StoredEvent>, StoreError> {
        let (_, stored) = self
            .commit(events, |store, e| store.append_events(e), |_, _| {})
            .await?;
        Ok(stored)
    }

    /// Writes duty rows with the events they go with, in one transaction, and applies the
    /// events.
    pub async fn commit_duties(
        &self,
        ops: Vec<DutyOp>,
        events: Vec<NewEvent>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (_, stored) = self
            .commit(
                (ops, events),
                |store, (ops, events)| store.commit_duties(ops, events),
                |_, _| {},
            )
            .await?;
        Ok(stored)
    }

    /// Writes a lab change (tubes, rounds, tasks, doses) with its events, folds it into the
    /// lab index and applies the events; hands the change back to its command. The caller
    /// holds the lab's operation lock until this returns; the write goes through the lab's
    /// writer queue (`lab/pipeline.rs`) behind any pipelined write planned before it.
    pub async fn commit_lab(
        &self,
        mut lab: LabWrite,
    ) -> Result<(LabWrite, Vec<StoredEvent>), StoreError> {
        // Among several nodes, the store checks that no other node's lab write came after
        // the last this node absorbed (docs/nodes.md); the only node has nothing to check.
        if self.config.node.id.is_some() {
            lab.planned_after_note = Some(self.node.lab_after());
        }
        let (lab, written) = self.write_lab(lab, false).await?;
        let events = written?;
        let log = self.commit_lock.lock().await;
        self.apply_committed(log, &events, || self.projection.lab.absorb(self, &lab))
            .await?;
        Ok((lab, events))
    }

    /// [`Self::commit_lab`] pipelined: the caller validated `lab` under the lab's operation
    /// lock `op`; the change is folded into the lab index now, queued for the store, and
    /// the lock released, so that the next lab command is validated while this one is
    /// written. Returns once the write is durable and its events applied. A failed write
    /// leaves the index ahead of the store: the next command rebuilds it
    /// ([`crate::lab::LabIndex::begin`]), here at once. Among several nodes, whose lab
    /// writes are checked against each other's (docs/nodes.md), it is not pipelined.
    pub async fn commit_lab_pipelined(
        &self,
        op: tokio::sync::MutexGuard<'_, ()>,
        lab: LabWrite,
    ) -> Result<(LabWrite, Vec<StoredEvent>), StoreError> {
        if self.config.node.id.is_some() {
            return self.commit_lab(lab).await;
        }
        self.projection.lab.absorb(self, &lab);
        let queued = self.write_lab(lab, true);
        drop(op);
        let (lab, written) = queued.await?;
        let events = match written {
            Ok(events) => events,
            Err(e) => {
                drop(self.projection.lab.begin(self).await);
                return Err(e);
            }
        };
        let log = self.commit_lock.lock().await;
        self.apply_committed(log, &events, || {}).await?;
        Ok((lab, events))
    }

    /// Queues a lab write (the caller holds the lab's operation lock while it is queued);
    /// `ahead`: the index absorbed it already.
    fn write_lab(
        &self,
        lab: LabWrite,
        ahead: bool,
    ) -> impl std::future::Future<Output = Result<crate::lab::Written, StoreError>> + use<> {
        let answer = self.projection.lab.queue(&self.store, lab, ahead);
        async move {
            answer
                .await
                .map_err(|_| StoreError::Corrupt("the lab writer stopped".into()))
        }
    }

    /// Writes a resident-register import (households, new and changed residents) with its
    /// events, folds the residents into the projection, then applies the events (moves
    /// between zones follow from them).
    pub async fn commit_register(
        &self,
        register: RegisterWrite,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let (_, stored) = self
            .commit(
                register,
                |store, w| store.write_register(w),
                crate::register::absorb,
            )
            .await?;
        Ok(stored)
    }

    /// The one commit: `write` runs on a blocking thread under the commit lock; once it
    /// is durable, what others appended first is applied, then `absorb` (a feature's
    /// index of its own rows), then the written events. Nothing is applied when the store
    /// refuses the write.
    async fn commit<W: Send + 'static>(
        &self,
        w: W,
        write: fn(&dyn Store, &W) -> Result<Vec<StoredEvent>, StoreError>,
        absorb: impl FnOnce(&AppState, &W),
    ) -> Result<(W, Vec<StoredEvent>), StoreError> {
        let log = self.commit_lock.lock().await;
        let store = self.store.clone();
        let (written, w) = tokio::task::spawn_blocking(move || (write(store.as_ref(), &w), w))
            .await
            .map_err(|e| StoreError::Corrupt(format!("commit task failed: {e}")))?;
        let events = written?;
        self.apply_committed(log, &events, || absorb(self, &w))
            .await?;
        Ok((w, events))
    }

    /// After a durable write, under the commit lock `log`: the events another process
    /// appended first, then `absorb`, then the written events; then, unlocked, what they
    /// set off.
    async fn apply_committed(
        &self,
        log: tokio::sync::MutexGuard<'_, ()>,
        events: &[StoredEvent],
        absorb: impl FnOnce(),
    ) -> Result<(), StoreError> {
        // Another process writing to the same store (or the lab's writer, which writes
        // outside this lock) may have appended before us: apply those events first, so the
        // projection sees the log in sequence order. If that read fails the write is still
        // durable; the error is reported and the next commit or `follow_log` applies the
        // gap and ours, in order (ours are not applied past a gap).
        if let Some(first) = events.first() {
            self.follow_log_until(first.seq).await?;
        }
        absorb();
        for e in events {
            self.projection.apply(e);
        }
        drop(log);
        super::reactions::to(self, events).await;
        Ok(())
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
                if matches!(
                    e.body,
                    EventBody::KeyRotated { .. } | EventBody::KeyRevoked { .. }
                ) {
                    // Another process rotated or revoked a signing key: the follower
                    // reads the keys again (a blocking store read, not under this lock).
                    self.node.keys_changed();
                }
                self.projection.apply(e);
                applied += 1;
            }
            if applied == before || page.len() < PAGE as usize {
                return Ok(applied);
            }
        }
    }
}
