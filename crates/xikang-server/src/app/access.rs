//! The access log: every read of personal data (a person's record, a code read by someone
//! other than its holder, people lists, contact lists and exports, test results, a case,
//! check-ins) recorded as one access event per person read, which an auditor queries by
//! actor or by person (`GET /api/v1/access`).
//!
//! Reads are many and cheap, so an access event is not an authority event (those are
//! hash-chained and each costs a durable append under the commit lock): the query that
//! reads hands its events to a channel and answers at once; a writer thread stores whatever
//! has gathered in one transaction (`CredentialStore::insert_access`), so a burst of reads
//! costs one commit. An event holds ids, the route, the purpose and the time — never a
//! name, number or colour. Unmasked reads are still also written to the authority log
//! (`PersonalDataRead`), durably before the answer.
//!
//! Fail closed: when the channel is full (the store has stalled for tens of thousands of
//! reads) a read is refused with 503 rather than answered unrecorded. What a crash loses is
//! the events of the batch being gathered (milliseconds of reads).

use crate::app::Actor;
use crate::error::AppError;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use xikang_domain::{PersonId, Timestamp};
use xikang_store::{AccessRecord, Store};

/// Reads waiting for the writer, at most (each may name many people).
const QUEUE: usize = 65_536;

/// Access events gathered into one transaction, at most.
const BATCH: usize = 20_000;

/// Purposes are cut to this many characters.
const PURPOSE_CHARS: usize = 200;

enum Msg {
    Read {
        at: Timestamp,
        actor: String,
        route: &'static str,
        purpose: Option<String>,
        people: Vec<PersonId>,
    },
    /// Answered once everything sent before it is stored.
    Flush(oneshot::Sender<()>),
}

/// The sending half of the access log; the writer thread stops when it is dropped.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: mpsc::Sender<Msg>,
}

impl AccessLog {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>) -> AccessLog {
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || writer(store, rx))
            .map_or_else(
                |e| tracing::error!(error = %e, "the access log writer did not start"),
                drop,
            );
        AccessLog { tx }
    }

    /// Records that `actor` read the data of `people` through `route` (a route template,
    /// `GET /api/v1/people/{id}`) at `at`. A resident reading their own data is not
    /// recorded. 503 if the writer is too far behind (the read is then refused).
    pub fn record(
        &self,
        actor: &Actor,
        route: &'static str,
        purpose: Option<&str>,
        at: Timestamp,
        people: impl IntoIterator<Item = PersonId>,
    ) -> Result<(), AppError> {
        let people: Vec<PersonId> = people
            .into_iter()
            .filter(|p| actor.person != Some(*p))
            .collect();
        if people.is_empty() {
            return Ok(());
        }
        let msg = Msg::Read {
            at,
            actor: actor.actor(),
            route,
            purpose: purpose.map(|p| p.chars().take(PURPOSE_CHARS).collect()),
            people,
        };
        self.tx.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                tracing::warn!("access log queue full: refusing a read of personal data");
                AppError::Overloaded
            }
            mpsc::error::TrySendError::Closed(_) => {
                AppError::Internal("the access log writer has stopped".into())
            }
        })
    }

    /// Waits until every access recorded before this call is stored (the access query
    /// calls it, so that it answers every read that happened before it).
    pub async fn flush(&self) -> Result<(), AppError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Flush(tx))
            .await
            .map_err(|_| AppError::Internal("the access log writer has stopped".into()))?;
        rx.await
            .map_err(|_| AppError::Internal("the access log writer has stopped".into()))
    }
}

/// The writer thread: gathers what is queued, stores it in one transaction, answers
/// flushes; retries a failed write (the rows stay queued in memory meanwhile).
fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>) {
    let mut rows: Vec<AccessRecord> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Read {
                    at,
                    actor,
                    route,
                    purpose,
                    people,
                } => rows.extend(people.into_iter().map(|person| AccessRecord {
                    at,
                    actor: actor.clone(),
                    route: route.to_owned(),
                    purpose: purpose.clone(),
                    person,
                })),
                Msg::Flush(done) => flushes.push(done),
            }
            if rows.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        let mut delay = std::time::Duration::from_millis(50);
        while let Err(e) = store.insert_access(&rows) {
            tracing::warn!(error = %e, rows = rows.len(), "storing access events failed; retrying");
            std::thread::sleep(delay);
            delay = (delay * 2).min(std::time::Duration::from_secs(5));
        }
        rows.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}
