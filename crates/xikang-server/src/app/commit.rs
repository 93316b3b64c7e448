//! The one committer: every change to authority state goes through one private
//! `AppState::commit` (entered by [`AppState::record`], [`AppState::commit_duties`],
//! [`AppState::commit_lab`] and [`AppState::commit_register`]), which writes it durably in one store transaction (authority events
//! with the duty rows or the lab change they belong to) and then applies the committed
//! events to the projection, all under one lock so the projection sees the log in order.
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
    /// lab index and applies the events; hands the change back to its command.
    pub async fn commit_lab(
        &self,
        mut lab: LabWrite,
    ) -> Result<(LabWrite, Vec<StoredEvent>), StoreError> {
        // Among several nodes, the store checks that no other node's lab write came after
        // the last this node absorbed (docs/nodes.md); the only node has nothing to check.
        if self.config.node.id.is_some() {
            lab.planned_after_note = Some(self.node.lab_after());
        }
        self.commit(
            lab,
            |store, lab| store.write_lab(lab),
            |state, lab| state.projection.lab.absorb(state, lab),
        )
        .await
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
        // Another process writing to the same store may have appended before us: apply
        // its events first, so the projection sees the log in sequence order. If that read
        // fails the write is still durable; the error is reported and the next commit or
        // `follow_log` applies the gap and ours, in order (ours are not applied past a gap).
        if let Some(first) = events.first() {
            self.follow_log_until(first.seq).await?;
        }
        absorb(self, &w);
        for e in &events {
            self.projection.apply(e);
        }
        drop(log);
        super::reactions::to(self, &events).await;
        Ok((w, events))
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
