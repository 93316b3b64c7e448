//! The one committer: every change to authority state goes through
//! [`AppState::commit`], which writes it durably in one store transaction (authority events
//! with the duty rows or the lab change they belong to) and then applies the committed
//! events to the projection, all under one lock so the projection sees the log in order.
//! Authorising and planning happen before, in the feature's command; nothing here decides.

use crate::state::AppState;
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

    /// Appends authority events and applies them ([`AppState::commit`] of events alone).
    pub async fn record(&self, events: Vec<NewEvent>) -> Result<Vec<StoredEvent>, StoreError> {
        Ok(self.commit(Write::Events(events)).await?.events)
    }
}
