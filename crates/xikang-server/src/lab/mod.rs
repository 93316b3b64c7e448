//! Testing and vaccination: sampling sites, tubes bound to people by scanning their code,
//! pools sized by the policy, transport batches, lab results (API and CSV), positive pools
//! fanned out into holds and retest tasks, screening rounds with coverage per grid cell,
//! vaccination records and coverage. See `docs/testing.md`.
//!
//! The live state is an in-memory index ([`LabIndex`]) rebuilt from the store at start: every
//! check a request needs (is this barcode taken, is the tube full, was this person already
//! sampled in this round, has the tube been received) is answered from memory, and the
//! store write that follows is one transaction with its authority events
//! ([`xikang_store::LabStore::write_lab`]). Lab operations are planned one at a time under
//! one async lock, and their writes reach the store through one queue in the same order
//! (`pipeline.rs`), so what was validated is what is written. Bulk commands fold their
//! change into the index and release the lock as soon as it is queued, so the next one is
//! validated while theirs is written.

pub mod http;
mod index;
mod pipeline;
mod rounds;
mod tubes;
mod vaccination;

pub use index::LabIndex;
pub(crate) use pipeline::Written;
pub use rounds::*;
pub use tubes::*;
pub use vaccination::*;

use crate::app::projection::PersonSlot;
use crate::error::AppError;
use crate::state::{AppState, read, write};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use xikang_domain::event::{EventBody, NewEvent, StoredEvent};
use xikang_domain::testing::{
    AgeBand, Batch, BatchId, CellProgress, Coverage, Dose, LabOutcome, LabTask, MAX_POOL,
    PoolSizes, ResultLine, Round, RoundId, Sample, SamplingSite, SiteId, TaskKind, Tube,
    TubeBarcode, TubeId, TubeResult, TubeState, VaccinationStatus, consequences,
};
use xikang_domain::{AreaCode, CaseId, CivilDay, GridCell, PersonId, TestOutcome, Timestamp};
use xikang_store::{LabWrite, StoreError};

pub use crate::error::{ItemError, item_err};

/// Writes a lab change with its events and folds it into the index
/// ([`AppState::commit_lab`]). The caller holds the lab's operation lock.
pub(super) async fn commit(
    state: &AppState,
    w: LabWrite,
) -> Result<(LabWrite, Vec<StoredEvent>), AppError> {
    // The index said the write was valid; if the store disagrees (another process wrote
    // to the same database) it is a 409 `conflict` and nothing was written.
    Ok(state.commit_lab(w).await?)
}

/// [`commit`] pipelined ([`AppState::commit_lab_pipelined`]): the change is folded into the
/// index and queued, and the operation lock `op` released before it is written. For bulk
/// commands whose plan depends on nothing but the lab's index.
pub(super) async fn commit_pipelined(
    state: &AppState,
    op: tokio::sync::MutexGuard<'_, ()>,
    w: LabWrite,
) -> Result<(LabWrite, Vec<StoredEvent>), AppError> {
    Ok(state.commit_lab_pipelined(op, w).await?)
}
