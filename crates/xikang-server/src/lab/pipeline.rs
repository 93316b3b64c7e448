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
//! The writer commits the writes queued while it was storing the last one together, in one
//! transaction (group commit): the planner runs ahead of the store, and one commit then
//! stands for several uploads. If the store refuses the group, none of it was written, and
//! the writer writes each alone as below, so a refusal is the refused write's own.
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

/// Most writes committed together: the writes queued while one was being stored.
const MAX_GROUP: usize = 8;

fn write_loop(store: &dyn Store, failed: &AtomicU64, jobs: &mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        // Group commit: the writes that were queued while the last one was stored go in
        // one transaction, one commit for all of them, in queue order.
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let live = group
            .iter()
            .filter(|j| j.epoch > failed.load(Ordering::Acquire))
            .count();
        if live == group.len() && live > 1 {
            let writes: Vec<&LabWrite> = group.iter().map(|j| &j.write).collect();
            if let Ok(all) = store.write_labs(&writes) {
                for (job, stored) in group.into_iter().zip(all) {
                    let _ = job.done.send((job.write, Ok(stored)));
                }
                continue;
            }
            // The store refused the group and wrote none of it: each write alone, so only
            // the one it refuses fails, and those planned on it after it, as below.
        }
        for job in group {
            write_one(store, failed, job);
        }
    }
}

/// Writes one job, unless it was planned in an epoch that saw a failure.
fn write_one(store: &dyn Store, failed: &AtomicU64, job: Job) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::event::{EventBody, NewEvent};
    use xikang_domain::testing::{SamplingSite, SiteId, Tube, TubeBarcode, TubeId, TubeState};
    use xikang_domain::{AreaCode, GridCell, Timestamp};

    const T0: Timestamp = Timestamp(1_700_000_000);

    /// A write opening tube `id` as `barcode`, with one event naming it.
    fn opening(id: u32, barcode: &str) -> LabWrite {
        let barcode = TubeBarcode::parse(barcode).expect("barcode");
        LabWrite {
            sites: vec![SamplingSite {
                id: SiteId(1),
                name: "site".into(),
                area: AreaCode::parse("320200").expect("area"),
                cell: GridCell(0),
            }],
            tubes: vec![Tube::opened(
                TubeId(id),
                barcode.clone(),
                SiteId(1),
                None,
                10,
                T0,
            )],
            events: vec![NewEvent {
                at: T0,
                actor: "lab:test".into(),
                basis: format!("tube {barcode}"),
                body: EventBody::TubeNegative {
                    tube: barcode.to_string(),
                    members: Vec::new(),
                    sampled_at: T0,
                    resulted_at: T0,
                },
            }],
            ..Default::default()
        }
    }

    /// Queues `writes` (all planned in epoch 1, ahead of the store) before the writer
    /// starts, so that it finds them all waiting and commits them as one group; returns
    /// what each was answered, and the store.
    fn written_together(
        writes: Vec<LabWrite>,
    ) -> (Vec<Written>, tempfile::TempDir, Box<dyn Store>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            xikang_store::open(&xikang_store::Target::Sqlite(dir.path().into())).expect("open");
        let (tx, rx) = mpsc::channel();
        let answers: Vec<_> = writes
            .into_iter()
            .map(|write| {
                let (done, answer) = tokio::sync::oneshot::channel();
                tx.send(Job {
                    write,
                    epoch: 1,
                    ahead: true,
                    done,
                })
                .expect("queued");
                answer
            })
            .collect();
        drop(tx);
        write_loop(store.as_ref(), &AtomicU64::new(0), &rx);
        let answers = answers
            .into_iter()
            .map(|mut a| a.try_recv().expect("answered"))
            .collect();
        (answers, dir, store)
    }

    fn barcodes(store: &dyn Store) -> Vec<(u32, String, TubeState)> {
        let mut tubes = Vec::new();
        store
            .for_each_tube(&mut |t| tubes.push((t.id.0, t.barcode.to_string(), t.state)))
            .expect("tubes");
        tubes
    }

    #[test]
    fn writes_queued_together_are_stored_in_order_each_with_its_own_events() {
        let (answers, _dir, store) = written_together(vec![
            opening(1, "WXG-1"),
            opening(2, "WXG-2"),
            opening(3, "WXG-3"),
        ]);
        let mut last = 0;
        for (i, (_, r)) in answers.iter().enumerate() {
            let events = r.as_ref().expect("stored");
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].basis, format!("tube WXG-{}", i + 1));
            assert!(events[0].seq.0 > last, "chained in queue order");
            last = events[0].seq.0;
        }
        let open = TubeState::Open;
        assert_eq!(
            barcodes(store.as_ref()),
            vec![
                (1, "WXG-1".into(), open),
                (2, "WXG-2".into(), open),
                (3, "WXG-3".into(), open)
            ]
        );
    }

    #[test]
    fn a_group_the_store_refuses_is_written_one_by_one_so_only_the_refused_write_and_those_planned_on_it_fail()
     {
        // The second reuses the first's tube id: the store refuses it, and with it the
        // group's one transaction. Alone, the first is stored; the second is refused; the
        // third was planned on top of the second and is refused unwritten.
        let (answers, _dir, store) = written_together(vec![
            opening(1, "WXG-1"),
            opening(1, "WXG-2"),
            opening(2, "WXG-3"),
        ]);
        assert!(answers[0].1.is_ok(), "{:?}", answers[0].1);
        let refused = &answers[1].1;
        let own = refused.is_err()
            && !matches!(refused, Err(StoreError::Conflict(ConflictKind::LabChanged)));
        assert!(own, "refused by the store itself: {refused:?}");
        assert!(
            matches!(
                answers[2].1,
                Err(StoreError::Conflict(ConflictKind::LabChanged))
            ),
            "{:?}",
            answers[2].1
        );
        assert_eq!(
            barcodes(store.as_ref()),
            vec![(1, "WXG-1".into(), TubeState::Open)]
        );
    }
}
