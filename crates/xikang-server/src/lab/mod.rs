//! Testing and vaccination: sampling sites, tubes bound to people by scanning their code,
//! pools sized by the policy, transport batches, lab results (API and CSV), positive pools
//! fanned out into holds and retest tasks, screening rounds with coverage per grid cell,
//! vaccination records and coverage. See `docs/testing.md`.
//!
//! The live state is an in-memory index ([`LabIndex`]) rebuilt from the store at start: every
//! check a request needs (is this barcode taken, is the tube full, was this person already
//! sampled in this round, has the tube been received) is answered from memory, and the
//! store write that follows is one transaction with its authority events
//! ([`xikang_store::LabStore::write_lab`]). Lab operations are serialized by one async lock
//! (validate → write → absorb), so what was validated is what is written.

pub mod http;
mod index;
mod rounds;
mod tubes;
mod vaccination;

pub use index::LabIndex;
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
