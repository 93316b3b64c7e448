//! The lab's writer: every lab write reaches the store through one queue, written by one
//! thread in the order the commands were planned (docs/testing.md, "Pipelined lab writes").
//!
//! A bulk command (tubes opened, swabs bound, tubes sealed, shipped or received, results
//! without a new case) is validated under the lab's operation lock, folded into the index
//! at once and queued; the lock then goes to the next command, which is validated while this
//! one is written, and each caller is answered only once its own write is durable. Other
//! commands keep the lock until their write is durable, but go through the same queue, so
//! the store sees lab writes in the order the index absorbed them.
//!
//! If a pipelined write fails, every write queued behind it was planned on an index that
//! already held the failed one: the writer refuses those unwritten (409 `lab_changed`: retry) and the
//! next command rebuilds the index from the store before it plans
//! ([`super::LabIndex::begin`]). Planning epochs tell them apart: a rebuild starts a new
//! epoch, and a write planned in an epoch that saw a failure is refused.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use xikang_domain::event::StoredEvent;
use xikang_store::{ConflictKind, LabWrite, Store, StoreError};

/// What the writer hands back: the write, and what the store said.
pub(crate) type Written = (LabWrite, Result<Vec<StoredEvent>, StoreError>);

struct Job {
    write: LabWrite,
    epoch: u64,
    /// The index absorbed the write before it was queued.
    ahead: bool,
    done: tokio::sync::oneshot::Sender<Written>,
}

/// The queue and its thread (started by the first write).
#[derive(Debug, Default)]
pub(crate) struct LabWriter {
    queue: OnceLock<mpsc::Sender<Job>>,
    /// The last epoch in which a write failed (0: none has).
    failed: Arc<AtomicU64>,
}

impl LabWriter {
    /// The last epoch in which a write failed (0: none has).
    pub(crate) fn failed_epoch(&self) -> u64 {
        self.failed.load(Ordering::Acquire)
    }

    /// Queues `write`, planned in `epoch`, behind every write queued before it; the
    /// receiver answers once it is durable or refused. The caller holds the lab's
    /// operation lock, which is what orders the queue. `ahead`: the index absorbed the
    /// write already, so if it fails the index is ahead of the store.
    pub(crate) fn queue(
        &self,
        store: &Arc<dyn Store>,
        write: LabWrite,
        epoch: u64,
        ahead: bool,
    ) -> tokio::sync::oneshot::Receiver<Written> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            let (store, failed) = (store.clone(), self.failed.clone());
            // The thread ends when the state (and with it the sender) is dropped. If it
            // cannot start, the sends below fail and every lab write is refused.
            let _ = std::thread::Builder::new()
                .name("xikang-lab-writer".into())
                .spawn(move || write_loop(store.as_ref(), &failed, &rx));
            tx
        });
        if let Err(mpsc::SendError(job)) = queue.send(Job {
            write,
            epoch,
            ahead,
            done,
        }) {
            let unavailable = StoreError::Corrupt("the lab writer is not running".into());
            let _ = job.done.send((job.write, Err(unavailable)));
        }
        answer
    }
}

fn write_loop(store: &dyn Store, failed: &AtomicU64, jobs: &mpsc::Receiver<Job>) {
    for job in jobs {
        let written = if job.epoch <= failed.load(Ordering::Acquire) {
            Err(StoreError::Conflict(ConflictKind::LabChanged))
        } else {
            let r = store.write_lab(&job.write);
            if r.is_err() && job.ahead {
                failed.fetch_max(job.epoch, Ordering::AcqRel);
            }
            r
        };
        // The caller may have gone (a closed connection): the write stands either way.
        let _ = job.done.send((job.write, written));
    }
}
