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

use crate::error::AppError;
use crate::state::{AppState, PersonSlot, read, write};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};
use xikang_domain::event::{CaseKind, EventBody, NewEvent, StoredEvent, ZoneLevel};
use xikang_domain::testing::{
    AgeBand, Batch, BatchId, CellProgress, Coverage, Dose, LabOutcome, LabTask, MAX_POOL,
    PoolSizes, ResultLine, Round, RoundId, Sample, SamplingSite, SiteId, TaskKind, Tube,
    TubeBarcode, TubeId, TubeState, VaccinationStatus,
};
use xikang_domain::{AreaCode, CaseId, CivilDay, GridCell, PersonId, TestOutcome, Timestamp};
use xikang_store::{LabWrite, StoreError};

pub use crate::error::{ItemError, item_err};

/// A tube in memory: the stored row and its members in binding order.
#[derive(Debug, Clone)]
struct TubeMem {
    tube: Tube,
    members: Vec<PersonId>,
}

/// A round in memory: the row, which tube holds each resident's sample (0 = none, indexed by
/// person id) and the progress per grid cell, kept up to date as samples and results arrive.
#[derive(Debug)]
struct RoundMem {
    round: Round,
    tube_of: Vec<u32>,
    cells: BTreeMap<GridCell, CellProgress>,
    /// Whether each community (by index) lies in the round's area.
    covered: Vec<bool>,
}

/// Everything the lab operations check against.
#[derive(Debug, Default)]
struct Lab {
    sites: BTreeMap<SiteId, SamplingSite>,
    rounds: BTreeMap<RoundId, RoundMem>,
    /// Indexed by tube id - 1 (ids are dense from 1).
    tubes: Vec<TubeMem>,
    by_barcode: HashMap<TubeBarcode, TubeId>,
    batches: BTreeMap<BatchId, Batch>,
    /// The tubes handed over in each batch, so that receiving a whole batch does not walk
    /// every tube of the city.
    batch_tubes: HashMap<BatchId, Vec<TubeId>>,
    open_tasks: HashMap<PersonId, Vec<LabTask>>,
    next_task: u64,
    /// Birth date packed as `year << 9 | month << 5 | day` per person (0 = unknown).
    births: Vec<u32>,
    /// District index per community index, and the districts.
    district_of_community: Vec<u16>,
    /// District index per person (`u16::MAX`: none), for coverage without reading the
    /// people's slots.
    district_of_person: Vec<u16>,
    districts: Vec<AreaCode>,
}

/// The lab's in-memory index and the lock that serializes lab writes.
#[derive(Debug, Default)]
pub struct LabIndex {
    inner: Mutex<Lab>,
    op: tokio::sync::Mutex<()>,
    /// Dose numbers recorded per person, bit n-1 for dose n (indexed by person id). Outside
    /// the lab's mutex: the code display and every venue scan read it, and must not wait
    /// behind a round's bulk binding or results (lock order: lab mutex, then this).
    doses: RwLock<Vec<u8>>,
}

fn pack_birth(b: (i16, u8, u8)) -> u32 {
    (u32::from(b.0.unsigned_abs()) << 9) | (u32::from(b.1) << 5) | u32::from(b.2)
}

fn unpack_birth(v: u32) -> (i32, u8, u8) {
    ((v >> 9) as i32, ((v >> 5) & 0xF) as u8, (v & 0x1F) as u8)
}

impl Lab {
    fn tube(&self, id: TubeId) -> Option<&TubeMem> {
        self.tubes.get((id.0 as usize).checked_sub(1)?)
    }

    fn tube_by_barcode(&self, b: &TubeBarcode) -> Option<&TubeMem> {
        self.by_barcode.get(b).and_then(|id| self.tube(*id))
    }

    fn next_tube_id(&self) -> u32 {
        self.tubes.len() as u32 + 1
    }

    fn progress(
        &mut self,
        people: &[PersonSlot],
        round: RoundId,
        person: PersonId,
        f: impl FnOnce(&mut CellProgress),
    ) {
        let Some(r) = self.rounds.get_mut(&round) else {
            return;
        };
        if let Some(slot) = people.get(person.0 as usize)
            && r.covered
                .get(slot.community as usize)
                .copied()
                .unwrap_or(false)
            && (r.round.cells.is_empty() || r.round.cells.contains(&slot.home_cell))
        {
            f(r.cells.entry(slot.home_cell).or_default());
        }
    }

    /// Folds a write that the store has committed into the index, keeping the per-cell
    /// counters in step with the state changes it makes. Also used to load at start.
    fn absorb(&mut self, state: &AppState, w: &LabWrite) {
        let people = read(&state.people);
        for s in &w.sites {
            self.sites.insert(s.id, s.clone());
        }
        for r in &w.rounds {
            match self.rounds.get_mut(&r.id) {
                Some(m) => m.round = r.clone(),
                None => {
                    let mem = new_round_mem(state, &people, r.clone());
                    self.rounds.insert(r.id, mem);
                }
            }
        }
        for s in &w.samples {
            if let Some(t) = self.tubes.get_mut((s.tube.0 as usize).wrapping_sub(1)) {
                t.members.push(s.person);
            }
            if let Some(round) = s.round {
                if let Some(r) = self.rounds.get_mut(&round)
                    && let Some(slot) = r.tube_of.get_mut(s.person.0 as usize)
                {
                    *slot = s.tube.0;
                }
                self.progress(&people, round, s.person, |c| c.sampled += 1);
            }
        }
        for t in &w.tubes {
            let ix = t.id.0 as usize - 1;
            let before = self.tubes.get(ix).and_then(|m| m.tube.outcome);
            let batch_before = self.tubes.get(ix).and_then(|m| m.tube.batch);
            if let Some(b) = t.batch.filter(|b| batch_before != Some(*b)) {
                self.batch_tubes.entry(b).or_default().push(t.id);
            }
            if ix == self.tubes.len() {
                self.tubes.push(TubeMem {
                    tube: t.clone(),
                    members: Vec::new(),
                });
                self.by_barcode.insert(t.barcode.clone(), t.id);
            } else if let Some(m) = self.tubes.get_mut(ix) {
                m.tube = t.clone();
            }
            let newly = match (before, t.outcome) {
                (None, Some(o)) => Some(o),
                _ => None,
            };
            if let (Some(o), Some(round)) = (newly, t.round)
                && o != LabOutcome::Invalid
            {
                let members: Vec<(PersonId, bool)> = self
                    .tube(t.id)
                    .map(|m| {
                        let tubes_of = self.rounds.get(&round).map(|r| &r.tube_of);
                        m.members
                            .iter()
                            .map(|p| {
                                // Only the member whose round sample is this tube counts.
                                let in_round = tubes_of
                                    .and_then(|v| v.get(p.0 as usize))
                                    .is_some_and(|x| *x == t.id.0);
                                (*p, in_round)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                for (p, _) in members.into_iter().filter(|(_, in_round)| *in_round) {
                    self.progress(&people, round, p, |c| {
                        c.resulted += 1;
                        if o == LabOutcome::Positive {
                            c.abnormal += 1;
                        }
                    });
                }
            }
        }
        for b in &w.batches {
            self.batches.insert(b.id, b.clone());
        }
        for t in &w.tasks {
            self.next_task = self.next_task.max(t.id + 1);
            let was_open = {
                let list = self.open_tasks.entry(t.person).or_default();
                let was_open = list.iter().any(|x| x.id == t.id);
                list.retain(|x| x.id != t.id);
                if t.done_at.is_none() {
                    list.push(t.clone());
                }
                if list.is_empty() {
                    self.open_tasks.remove(&t.person);
                }
                was_open
            };
            let answered = t.done_at.is_some() && was_open;
            let round = t
                .tube
                .and_then(|id| self.tube(id))
                .and_then(|m| m.tube.round)
                .filter(|_| answered);
            match (round, t.kind) {
                // The retest is in: the member no longer counts as abnormal in its round.
                (Some(round), TaskKind::SingleTubeRetest) => {
                    self.progress(&people, round, t.person, |c| {
                        c.abnormal = c.abnormal.saturating_sub(1)
                    });
                }
                // The resample of an invalid tube is in: its members have a result now.
                (Some(round), TaskKind::Resample) => {
                    self.progress(&people, round, t.person, |c| c.resulted += 1);
                }
                _ => {}
            }
        }
        if !w.doses.is_empty() {
            drop(people);
            let mut doses = write(&state.lab.doses);
            for d in &w.doses {
                let ix = d.person.0 as usize;
                if doses.len() <= ix {
                    doses.resize(ix + 1, 0);
                }
                doses[ix] |= dose_bit(d.dose);
            }
        }
    }
}

/// The bit of a dose number (1-8) in [`LabIndex::doses`].
fn dose_bit(dose: u8) -> u8 {
    1u8.checked_shl(u32::from(dose.saturating_sub(1)))
        .unwrap_or(0)
}

/// The highest dose recorded in a bit set of [`LabIndex::doses`].
fn highest_dose(bits: u8) -> u8 {
    (8 - bits.leading_zeros()) as u8
}

fn new_round_mem(state: &AppState, people: &[PersonSlot], round: Round) -> RoundMem {
    let mut cells: BTreeMap<GridCell, CellProgress> = BTreeMap::new();
    let covered: Vec<bool> = state
        .communities
        .iter()
        .map(|a| round.area.contains(a))
        .collect();
    for slot in people.iter() {
        if covered
            .get(slot.community as usize)
            .copied()
            .unwrap_or(false)
            && (round.cells.is_empty() || round.cells.contains(&slot.home_cell))
        {
            cells.entry(slot.home_cell).or_default().expected += 1;
        }
    }
    RoundMem {
        round,
        tube_of: vec![0; people.len()],
        cells,
        covered,
    }
}

impl LabIndex {
    fn lock(&self) -> MutexGuard<'_, Lab> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rebuilds the index from the store (blocking; call at start, after the people are
    /// loaded).
    pub fn load(&self, state: &AppState) -> Result<(), StoreError> {
        let store = state.store.as_ref();
        let mut w = LabWrite {
            sites: store.sampling_sites()?,
            rounds: store.rounds()?,
            batches: store.batches()?,
            ..LabWrite::default()
        };
        store.for_each_tube(&mut |t| w.tubes.push(t))?;
        w.tasks = store.tasks(true)?;
        let mut lab = self.lock();
        // Tubes first (without outcomes), then samples, then the tubes again with their
        // outcomes: the counters see the same order of changes as when they happened.
        let finished = std::mem::take(&mut w.tubes);
        w.tubes = finished
            .iter()
            .map(|t| Tube {
                outcome: None,
                ..t.clone()
            })
            .collect();
        let tasks = std::mem::take(&mut w.tasks);
        lab.absorb(state, &w);
        let mut samples = LabWrite::default();
        store.for_each_sample(&mut |chunk| {
            samples.samples.clear();
            samples.samples.extend_from_slice(chunk);
            lab.absorb(state, &samples);
        })?;
        // Open tasks are absorbed before results so that closing them later counts; done
        // tasks after the results, in the order they were made.
        let (open, done): (Vec<_>, Vec<_>) = tasks.into_iter().partition(|t| t.done_at.is_none());
        let done_as_open: Vec<LabTask> = done
            .iter()
            .map(|t| LabTask {
                done_at: None,
                ..t.clone()
            })
            .collect();
        lab.absorb(
            state,
            &LabWrite {
                tubes: finished,
                tasks: done_as_open.into_iter().chain(open).collect(),
                ..LabWrite::default()
            },
        );
        lab.absorb(
            state,
            &LabWrite {
                tasks: done,
                ..LabWrite::default()
            },
        );
        let mut doses = LabWrite::default();
        store.for_each_dose(&mut |d| doses.doses.push(d))?;
        lab.absorb(state, &doses);

        // Districts per community, and birth dates for the age bands.
        let mut districts: Vec<AreaCode> = Vec::new();
        lab.district_of_community = state
            .communities
            .iter()
            .map(|c| {
                let d = c.district();
                match districts.iter().position(|x| *x == d) {
                    Some(i) => i as u16,
                    None => {
                        districts.push(d);
                        (districts.len() - 1) as u16
                    }
                }
            })
            .collect();
        lab.districts = districts;
        lab.district_of_person = read(&state.people)
            .iter()
            .map(|slot| {
                lab.district_of_community
                    .get(slot.community as usize)
                    .copied()
                    .unwrap_or(u16::MAX)
            })
            .collect();
        let n = read(&state.people).len();
        let mut births = vec![0u32; n];
        store.for_each_birth(&mut |b| {
            if let Some(slot) = births.get_mut(b.id.0 as usize) {
                *slot = pack_birth(b.born);
            }
        })?;
        lab.births = births;
        Ok(())
    }
}

/// Writes a lab change with its events (holding the log's lock so the projection applies
/// events in log order), then folds it into the index. The caller holds the lab lock.
async fn commit(state: &AppState, w: LabWrite) -> Result<(LabWrite, Vec<StoredEvent>), AppError> {
    let _log = state.record_lock.lock().await;
    let store = state.store.clone();
    let (w, result) = tokio::task::spawn_blocking(move || {
        let r = store.write_lab(&w);
        (w, r)
    })
    .await?;
    // The index said the write was valid; if the store disagrees (another process wrote
    // to the same database) it is a 409 `conflict` and nothing was written.
    let stored = result?;
    state.lab.lock().absorb(state, &w);
    for e in &stored {
        state.apply(e);
    }
    Ok((w, stored))
}

/// The strictest zone level covering a grid cell, if any.
fn zone_level_at(state: &AppState, cell: GridCell) -> Option<ZoneLevel> {
    let rank = |l: ZoneLevel| match l {
        ZoneLevel::Sealed | ZoneLevel::High => 0,
        ZoneLevel::Controlled | ZoneLevel::Medium => 1,
        ZoneLevel::Precaution | ZoneLevel::Low => 2,
    };
    read(&state.zones)
        .values()
        .filter(|(_, cells)| cells.contains(&cell))
        .map(|(l, _)| *l)
        .min_by_key(|l| rank(*l))
}

// ---------------------------------------------------------------------------------------
// Sites and rounds

/// Registers (or renames) a sampling site.
pub async fn put_site(state: &AppState, site: SamplingSite) -> Result<SamplingSite, AppError> {
    let _op = state.lab.op.lock().await;
    commit(
        state,
        LabWrite {
            sites: vec![site.clone()],
            ..LabWrite::default()
        },
    )
    .await?;
    Ok(site)
}

/// The next free site id.
pub fn next_site_id(state: &AppState) -> SiteId {
    SiteId(
        state
            .lab
            .lock()
            .sites
            .keys()
            .next_back()
            .map_or(1, |s| s.0 + 1),
    )
}

/// Every sampling site.
pub fn sites(state: &AppState) -> Vec<SamplingSite> {
    state.lab.lock().sites.values().cloned().collect()
}

/// What a new round needs.
#[derive(Debug, Clone)]
pub struct NewRound {
    pub name: String,
    pub area: AreaCode,
    pub cells: Vec<GridCell>,
    pub starts_at: Timestamp,
    pub deadline: Timestamp,
    /// Pool sizes; the policy's when absent.
    pub pools: Option<PoolSizes>,
}

/// Creates a screening round; the expected residents per grid cell are counted now.
pub async fn create_round(state: &AppState, r: NewRound) -> Result<Round, AppError> {
    let pools = r
        .pools
        .unwrap_or_else(|| PoolSizes::from_policy(&state.policy()));
    if !pools.is_valid() {
        return Err(AppError::bad(
            "invalid_pool_size",
            format!("pool sizes must be 1 to {MAX_POOL}: pooling pooled tubes is refused"),
        ));
    }
    if r.deadline <= r.starts_at {
        return Err(AppError::bad(
            "invalid_time",
            "the deadline must be after the start",
        ));
    }
    let _op = state.lab.op.lock().await;
    let id = RoundId(
        state
            .lab
            .lock()
            .rounds
            .keys()
            .next_back()
            .map_or(1, |x| x.0 + 1),
    );
    let round = Round {
        id,
        name: r.name,
        area: r.area,
        cells: r.cells,
        starts_at: r.starts_at,
        deadline: r.deadline,
        pools,
        closed_at: None,
    };
    commit(
        state,
        LabWrite {
            rounds: vec![round.clone()],
            ..LabWrite::default()
        },
    )
    .await?;
    Ok(round)
}

/// A round's progress: totals and per grid cell.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoundStatus {
    pub round: Round,
    pub total: CellProgress,
    pub cells: Vec<(GridCell, CellProgress)>,
}

/// The round's progress now, restricted to cells whose residents the caller covers when
/// `area` is narrower than the round's.
pub fn round_status(state: &AppState, id: RoundId) -> Option<RoundStatus> {
    let lab = state.lab.lock();
    let r = lab.rounds.get(&id)?;
    let mut total = CellProgress::default();
    for c in r.cells.values() {
        total.expected += c.expected;
        total.sampled += c.sampled;
        total.resulted += c.resulted;
        total.abnormal += c.abnormal;
    }
    Some(RoundStatus {
        round: r.round.clone(),
        total,
        cells: r.cells.iter().map(|(k, v)| (*k, *v)).collect(),
    })
}

/// Residents of a cell expected in the round and not sampled yet, by id (at most `limit`).
pub fn unsampled(
    state: &AppState,
    id: RoundId,
    cell: GridCell,
    limit: usize,
) -> Option<Vec<PersonId>> {
    let lab = state.lab.lock();
    let r = lab.rounds.get(&id)?;
    let people = read(&state.people);
    let covered: Vec<bool> = state
        .communities
        .iter()
        .map(|a| r.round.area.contains(a))
        .collect();
    Some(
        people
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                s.home_cell == cell
                    && covered.get(s.community as usize).copied().unwrap_or(false)
                    && (r.round.cells.is_empty() || r.round.cells.contains(&cell))
                    && r.tube_of.get(*i).is_some_and(|t| *t == 0)
            })
            .take(limit)
            .map(|(i, _)| PersonId(i as u32))
            .collect(),
    )
}

/// Closes a round after its deadline: every expected resident not sampled gets a missed
/// mandated test (the policy decides what that means; pop-up type 4 by default), which a
/// negative result clears. Returns how many were recorded.
pub async fn close_round(
    state: &AppState,
    id: RoundId,
    actor: String,
    now: Timestamp,
) -> Result<usize, AppError> {
    let _op = state.lab.op.lock().await;
    let round = {
        let lab = state.lab.lock();
        lab.rounds
            .get(&id)
            .map(|r| r.round.clone())
            .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?
    };
    if round.closed_at.is_some() {
        return Err(AppError::Conflict {
            code: "round_closed",
            message: format!("round {id} is already closed"),
        });
    }
    if now < round.deadline {
        return Err(AppError::Conflict {
            code: "round_open",
            message: "the round's deadline has not passed".into(),
        });
    }
    let missed: Vec<PersonId> = {
        let lab = state.lab.lock();
        let r = lab
            .rounds
            .get(&id)
            .ok_or_else(|| AppError::not_found("unknown_round", "gone"))?;
        let people = read(&state.people);
        let covered: Vec<bool> = state
            .communities
            .iter()
            .map(|a| r.round.area.contains(a))
            .collect();
        people
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                s.community != u32::MAX
                    && covered.get(s.community as usize).copied().unwrap_or(false)
                    && (r.round.cells.is_empty() || r.round.cells.contains(&s.home_cell))
                    && r.tube_of.get(*i).is_some_and(|t| *t == 0)
            })
            .map(|(i, _)| PersonId(i as u32))
            .collect()
    };
    let basis = format!("screening round {id} ({}) deadline", round.name);
    let events = missed_test_events(
        missed.iter().map(|p| (*p, round.deadline, basis.clone())),
        &actor,
        now,
    );
    // The residents not sampled become tasks on their grid workers' lists in the same
    // write (the logic of `POST /grid/unsampled`, keyed by the round's start, so a manual
    // call for the same round does not repeat them).
    let due = now.plus(i64::from(state.policy().duties().task_due_hours) * 3600);
    let tasks: Vec<xikang_store::NewTask> = {
        let people = read(&state.people);
        missed
            .iter()
            .filter_map(|p| {
                let slot = people.get(p.0 as usize)?;
                Some(crate::duties::unsampled_task(
                    *p,
                    slot.home_cell,
                    round.starts_at,
                    now,
                    due,
                ))
            })
            .collect()
    };
    let mut closed = round;
    closed.closed_at = Some(now);
    commit(
        state,
        LabWrite {
            rounds: vec![closed],
            events,
            duties: vec![xikang_store::DutyOp::InsertTasks(tasks)],
            ..LabWrite::default()
        },
    )
    .await?;
    Ok(missed.len())
}

/// Moves an open round's deadline later (an official's decision, with a reason), written
/// with a `round_deadline_extended` authority event in the same transaction: the deadline
/// decides who is recorded as having missed the round, so moving it is never silent. A
/// deadline is never moved earlier (that would turn residents into missed tests before the
/// time they were given), nor into the past, nor on a closed round.
pub async fn extend_deadline(
    state: &AppState,
    id: RoundId,
    deadline: Timestamp,
    reason: &str,
    actor: String,
    now: Timestamp,
) -> Result<Round, AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::bad(
            "reason_required",
            "say why the deadline moves",
        ));
    }
    let _op = state.lab.op.lock().await;
    let round = state
        .lab
        .lock()
        .rounds
        .get(&id)
        .map(|r| r.round.clone())
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?;
    if round.closed_at.is_some() {
        return Err(AppError::Conflict {
            code: "round_closed",
            message: format!("round {id} is already closed"),
        });
    }
    if deadline <= round.deadline || deadline <= now {
        return Err(AppError::bad(
            "deadline_not_later",
            format!(
                "the new deadline must be later than the current one ({}) and in the future",
                round.deadline.to_rfc3339()
            ),
        ));
    }
    let event = NewEvent {
        at: now,
        actor,
        basis: format!("screening round {id} ({})", round.name),
        body: EventBody::RoundDeadlineExtended {
            round: id,
            from: round.deadline,
            to: deadline,
            reason: reason.chars().take(500).collect(),
        },
    };
    let extended = Round { deadline, ..round };
    commit(
        state,
        LabWrite {
            rounds: vec![extended.clone()],
            events: vec![event],
            ..LabWrite::default()
        },
    )
    .await?;
    Ok(extended)
}

/// Closes every round whose deadline has passed (the server's own run, actor
/// `system:rounds`): what `POST /rounds/{id}/close` does, missed tests and grid tasks for
/// the unsampled included. Returns how many rounds were closed.
pub async fn close_due_rounds(state: &AppState, now: Timestamp) -> Result<usize, AppError> {
    let due: Vec<RoundId> = state
        .lab
        .lock()
        .rounds
        .values()
        .filter(|r| r.round.closed_at.is_none() && r.round.deadline <= now)
        .map(|r| r.round.id)
        .collect();
    let mut n = 0;
    for id in due {
        match close_round(state, id, "system:rounds".to_owned(), now).await {
            Ok(_) => n += 1,
            // Closed by an official in between: nothing left to do.
            Err(AppError::Conflict {
                code: "round_closed",
                ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The `test_missed` events of missed mandated tests (the policy decides what one means:
/// pop-up type 4 by default, cleared by a negative result): one per (person, due time,
/// basis). Round deadlines, periodic requirements and test schedules all record them here.
fn missed_test_events(
    missed: impl Iterator<Item = (PersonId, Timestamp, String)>,
    actor: &str,
    now: Timestamp,
) -> Vec<NewEvent> {
    missed
        .map(|(person, due_at, basis)| NewEvent {
            at: now,
            actor: actor.to_owned(),
            basis,
            body: EventBody::TestMissed { person, due_at },
        })
        .collect()
}

/// Whether a missed test due at `due_at` is already recorded for this person.
fn missed_recorded(facts: &xikang_domain::facts::PersonFacts, due_at: Timestamp) -> bool {
    facts
        .facts()
        .iter()
        .any(|f| f.kind == xikang_domain::facts::FactKind::MissedTest && f.start == due_at)
}

/// Commits missed-test events in chunks (a city-wide check can flag millions), each chunk
/// one write. The caller holds the lab's operation lock.
async fn commit_missed(state: &AppState, events: Vec<NewEvent>) -> Result<(), AppError> {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<NewEvent> = events.by_ref().take(100_000).collect();
        commit(
            state,
            LabWrite {
                events: chunk,
                ..LabWrite::default()
            },
        )
        .await?;
    }
    Ok(())
}

/// Records missed scheduled tests (person, due time, basis) — the test days of quarantine
/// orders and of arrival regimes — each once: one already recorded with the same due time
/// is skipped, so the check can run every few minutes. Returns how many were recorded.
pub async fn record_missed_tests(
    state: &AppState,
    missed: Vec<(PersonId, Timestamp, String)>,
    actor: &str,
    now: Timestamp,
) -> Result<usize, AppError> {
    let _op = state.lab.op.lock().await;
    let fresh: Vec<(PersonId, Timestamp, String)> = {
        let people = read(&state.people);
        let mut seen = std::collections::HashSet::new();
        missed
            .into_iter()
            .filter(|(p, due, _)| {
                people
                    .get(p.0 as usize)
                    .is_some_and(|s| !missed_recorded(&s.facts, *due))
                    && seen.insert((*p, *due))
            })
            .collect()
    };
    let n = fresh.len();
    commit_missed(state, missed_test_events(fresh.into_iter(), actor, now)).await?;
    Ok(n)
}

/// Checks a mandated periodic test (e.g. every 72 h for everyone in an area during a
/// period): every resident of `area` whose last sample is older than `every_hours` gets a
/// missed-test event, unless one was already recorded since their last sample. The policy
/// decides what a missed test means (pop-up type 4 by default, cleared by a negative).
/// Returns how many were recorded.
pub async fn check_mandated(
    state: &AppState,
    area: &AreaCode,
    every_hours: u32,
    actor: String,
    now: Timestamp,
) -> Result<usize, AppError> {
    let _op = state.lab.op.lock().await;
    let cutoff = now.plus(-i64::from(every_hours) * 3600);
    let due: Vec<PersonId> = {
        let people = read(&state.people);
        let covered: Vec<bool> = state.communities.iter().map(|c| area.contains(c)).collect();
        people
            .iter()
            .enumerate()
            .filter(|(_, s)| covered.get(s.community as usize).copied().unwrap_or(false))
            .filter(|(_, s)| {
                let last = s.facts.last_sample();
                let overdue = last.is_none_or(|t| t < cutoff);
                let flagged = s.facts.facts().iter().any(|f| {
                    f.kind == xikang_domain::facts::FactKind::MissedTest
                        && last.is_none_or(|t| f.start > t)
                });
                overdue && !flagged
            })
            .map(|(i, _)| PersonId(i as u32))
            .collect()
    };
    let basis = format!("mandated test every {every_hours} h in {area}");
    commit_missed(
        state,
        missed_test_events(due.iter().map(|p| (*p, now, basis.clone())), &actor, now),
    )
    .await?;
    Ok(due.len())
}

/// The server's own run of the mandated-test check, as `POST /test-requirements/check` does
/// it for the whole jurisdiction: while the policy in force sets `mandated_test_every_hours`
/// (a period of mandated periodic testing), everyone overdue gets a missed-test event, once
/// per lapse. Returns `None` when no period is in force. [`mandated_test_loop`] calls it every
/// ten minutes, like the duty sweep; a check is idempotent, so an official's manual check in
/// between does no harm.
pub async fn check_mandated_now(
    state: &AppState,
    now: Timestamp,
) -> Result<Option<usize>, AppError> {
    let Some(every) = state.policy().parameter("mandated_test_every_hours") else {
        return Ok(None);
    };
    // The same bounds as the HTTP check: 0 would flag everyone at every run.
    if !(1..=24 * 30).contains(&every) {
        tracing::warn!(
            every_hours = every,
            "mandated_test_every_hours is outside 1 to 720; the periodic check does not run"
        );
        return Ok(None);
    }
    let area = AreaCode::parse(&state.config.jurisdiction).map_err(|e| {
        AppError::Internal(format!(
            "the server's jurisdiction is not an area code: {e}"
        ))
    })?;
    check_mandated(state, &area, every, "system:mandated_tests".to_owned(), now)
        .await
        .map(Some)
}

/// Runs [`check_mandated_now`] at start and then every ten minutes.
pub async fn mandated_test_loop(state: std::sync::Arc<AppState>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match check_mandated_now(&state, crate::now()).await {
            Ok(Some(n)) if n > 0 => tracing::info!(missed = n, "missed mandated tests recorded"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "mandated test check failed; will retry"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tubes and binding

/// A tube to open at a site.
#[derive(Debug, Clone)]
pub struct NewTube {
    pub barcode: String,
    pub site: SiteId,
    pub round: Option<RoundId>,
    pub capacity: u8,
}

/// Opens tubes; each item succeeds or fails on its own (a reused barcode, an unknown site or
/// round, a pool beyond what the site's zone allows).
pub async fn open_tubes(
    state: &AppState,
    items: Vec<NewTube>,
    now: Timestamp,
) -> Result<Vec<Result<TubeId, ItemError>>, AppError> {
    let _op = state.lab.op.lock().await;
    let mut out = Vec::with_capacity(items.len());
    let mut w = LabWrite::default();
    {
        let lab = state.lab.lock();
        let mut next = lab.next_tube_id();
        let mut seen: HashMap<TubeBarcode, ()> = HashMap::new();
        for it in items {
            let r = (|| {
                let barcode = TubeBarcode::parse(&it.barcode)
                    .map_err(|e| item_err(e.code(), e.to_string()))?;
                if lab.by_barcode.contains_key(&barcode) || seen.contains_key(&barcode) {
                    return Err(item_err(
                        "barcode_reused",
                        format!("tube barcode {barcode} is already in use"),
                    ));
                }
                let site = lab.sites.get(&it.site).ok_or_else(|| {
                    item_err("unknown_site", format!("no sampling site {}", it.site))
                })?;
                let pools = match it.round {
                    Some(r) => {
                        let m = lab
                            .rounds
                            .get(&r)
                            .ok_or_else(|| item_err("unknown_round", format!("no round {r}")))?;
                        if m.round.closed_at.is_some() {
                            return Err(item_err("round_closed", format!("round {r} is closed")));
                        }
                        m.round.pools
                    }
                    None => PoolSizes::from_policy(&state.policy()),
                };
                if it.capacity == 0 || it.capacity > MAX_POOL {
                    return Err(item_err(
                        "invalid_pool_size",
                        format!(
                            "a tube holds 1 to {MAX_POOL} swabs: pooling pooled tubes is refused"
                        ),
                    ));
                }
                let limit = pools.limit(zone_level_at(state, site.cell));
                if it.capacity > limit {
                    return Err(item_err(
                        "pool_too_large",
                        format!("at this site a tube may hold at most {limit} swabs"),
                    ));
                }
                seen.insert(barcode.clone(), ());
                let id = TubeId(next);
                next += 1;
                w.tubes.push(Tube {
                    id,
                    barcode,
                    site: it.site,
                    round: it.round,
                    capacity: it.capacity,
                    state: TubeState::Open,
                    opened_at: now,
                    sealed_at: None,
                    batch: None,
                    shipped_at: None,
                    received_at: None,
                    resulted_at: None,
                    outcome: None,
                    ct: None,
                    lab: None,
                });
                Ok(id)
            })();
            out.push(r);
        }
    }
    if !w.tubes.is_empty() {
        commit(state, w).await?;
    }
    Ok(out)
}

/// Who a swab belongs to, as the sampler's device sends it.
#[derive(Debug, Clone)]
pub enum Swabbed {
    /// The person's health-code token, scanned at the site.
    Token(String),
    /// An ID number, for residents without a code (devices allowed to look up only).
    IdNumber(String),
    /// Already resolved (the benchmark's and the server's own callers).
    Person(PersonId),
}

/// Resolves scanned codes to people ([`AppState::identify`], the same cache and verifier
/// as venue scans) and ID numbers through the store.
pub async fn resolve(
    state: &AppState,
    who: Vec<Swabbed>,
    id_lookup: bool,
    now: Timestamp,
) -> Result<Vec<Result<PersonId, ItemError>>, AppError> {
    let tokens: Vec<&str> = who
        .iter()
        .filter_map(|w| match w {
            Swabbed::Token(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let mut identified = state.identify(&tokens, now).into_iter();
    let mut out = Vec::with_capacity(who.len());
    for w in &who {
        out.push(match w {
            Swabbed::Person(p) => {
                if state.person_exists(*p) {
                    Ok(*p)
                } else {
                    Err(item_err("unknown_person", format!("no person {p}")))
                }
            }
            Swabbed::Token(_) => identified
                .next()
                .unwrap_or_else(|| Err(item_err("invalid_sample", "not resolved"))),
            Swabbed::IdNumber(_) if !id_lookup => Err(item_err(
                "id_lookup_not_allowed",
                "this device may not identify people by ID number",
            )),
            Swabbed::IdNumber(n) => match xikang_domain::idnumber::IdNumber::parse(n) {
                Err(e) => Err(item_err(e.code(), e.to_string())),
                Ok(id) => {
                    let hash = id.keyed_hash(&state.secrets.id_hash_key);
                    let store = state.store.clone();
                    match tokio::task::spawn_blocking(move || store.person_by_id_hash(&hash))
                        .await??
                    {
                        Some(p) => Ok(p),
                        None => Err(item_err("unknown_person", "no resident has this ID number")),
                    }
                }
            },
        });
    }
    Ok(out)
}

/// What binding one swab did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bound {
    pub tube: TubeId,
    /// Swabs in the tube now.
    pub filled: u8,
    /// Whether this swab filled the tube and sealed it.
    pub sealed: bool,
}

/// Binds swabs to tubes. Each item succeeds or fails on its own: an unknown or not-open
/// tube, a full tube, a person already sampled in the tube's round, a retest into a pooled
/// tube. A tube is sealed when its last place is taken.
pub async fn bind(
    state: &AppState,
    items: Vec<(String, Result<PersonId, ItemError>)>,
    now: Timestamp,
) -> Result<Vec<Result<Bound, ItemError>>, AppError> {
    let _op = state.lab.op.lock().await;
    let mut out = Vec::with_capacity(items.len());
    let mut w = LabWrite::default();
    {
        let lab = state.lab.lock();
        // Changes made by earlier items of this request.
        let mut fill: HashMap<TubeId, (Tube, usize)> = HashMap::new();
        let mut taken: HashMap<(RoundId, PersonId), ()> = HashMap::new();
        let mut added: std::collections::HashSet<(TubeId, PersonId)> =
            std::collections::HashSet::new();
        for (barcode, who) in items {
            let r = (|| {
                let person = who?;
                let barcode =
                    TubeBarcode::parse(&barcode).map_err(|e| item_err(e.code(), e.to_string()))?;
                let mem = lab.tube_by_barcode(&barcode).ok_or_else(|| {
                    item_err("unknown_tube", format!("no tube {barcode} was opened"))
                })?;
                let (tube, count) = fill
                    .get(&mem.tube.id)
                    .cloned()
                    .unwrap_or_else(|| (mem.tube.clone(), mem.members.len()));
                if tube.state != TubeState::Open {
                    return Err(item_err(
                        "tube_not_open",
                        format!("tube {barcode} is {}", tube.state.as_str()),
                    ));
                }
                if count >= usize::from(tube.capacity) {
                    return Err(item_err(
                        "tube_full",
                        format!("tube {barcode} already holds {count} swabs"),
                    ));
                }
                let retest = lab.open_tasks.get(&person).is_some_and(|ts| {
                    ts.iter()
                        .any(|t| matches!(t.kind, TaskKind::SingleTubeRetest | TaskKind::Resample))
                });
                let single_needed = lab
                    .open_tasks
                    .get(&person)
                    .is_some_and(|ts| ts.iter().any(|t| t.kind == TaskKind::SingleTubeRetest));
                if single_needed && tube.capacity > 1 {
                    return Err(item_err(
                        "retest_needs_single_tube",
                        "this person's retest must go into a single tube",
                    ));
                }
                let in_tube = mem.members.contains(&person) || added.contains(&(tube.id, person));
                if in_tube {
                    return Err(item_err(
                        "already_in_tube",
                        "this person's swab is already in this tube",
                    ));
                }
                // A retest or resample is outside the round's count: the round keeps the
                // person's first sample.
                let round = if retest { None } else { tube.round };
                if let Some(rid) = round {
                    let before = lab
                        .rounds
                        .get(&rid)
                        .and_then(|m| m.tube_of.get(person.0 as usize))
                        .is_some_and(|t| *t != 0);
                    if before || taken.contains_key(&(rid, person)) {
                        return Err(item_err(
                            "already_sampled",
                            format!("this person was already sampled in round {rid}"),
                        ));
                    }
                    taken.insert((rid, person), ());
                }
                let mut tube = tube;
                let count = count + 1;
                let sealed = count >= usize::from(tube.capacity);
                if sealed {
                    tube.state = TubeState::Sealed;
                    tube.sealed_at = Some(now);
                }
                let id = tube.id;
                fill.insert(id, (tube, count));
                added.insert((id, person));
                w.samples.push(Sample {
                    tube: id,
                    person,
                    round,
                    sampled_at: now,
                });
                Ok(Bound {
                    tube: id,
                    filled: count as u8,
                    sealed,
                })
            })();
            out.push(r);
        }
        w.tubes = fill
            .into_values()
            .filter(|(t, _)| t.state == TubeState::Sealed)
            .map(|(t, _)| t)
            .collect();
        w.tubes.sort_by_key(|t| t.id);
    }
    if !w.samples.is_empty() {
        commit(state, w).await?;
    }
    Ok(out)
}

/// Seals tubes the sampler closes before they are full (an empty tube cannot be sealed).
pub async fn seal(
    state: &AppState,
    barcodes: Vec<String>,
    now: Timestamp,
) -> Result<Vec<Result<TubeId, ItemError>>, AppError> {
    transition(
        state,
        barcodes,
        |lab, tube| {
            if tube.state != TubeState::Open {
                return Err(item_err(
                    "tube_not_open",
                    format!("tube {} is {}", tube.barcode, tube.state.as_str()),
                ));
            }
            if lab.tube(tube.id).is_none_or(|m| m.members.is_empty()) {
                return Err(item_err(
                    "tube_empty",
                    format!("tube {} holds no swab", tube.barcode),
                ));
            }
            tube.state = TubeState::Sealed;
            tube.sealed_at = Some(now);
            Ok(())
        },
        None,
    )
    .await
    .map(|(r, _)| r)
}

/// Applies a per-tube state change to each barcode, then writes the changed tubes (and the
/// batch, if any) in one transaction.
async fn transition(
    state: &AppState,
    barcodes: Vec<String>,
    mut step: impl FnMut(&Lab, &mut Tube) -> Result<(), ItemError> + Send,
    batch: Option<Batch>,
) -> Result<(Vec<Result<TubeId, ItemError>>, LabWrite), AppError> {
    let _op = state.lab.op.lock().await;
    let mut out = Vec::with_capacity(barcodes.len());
    let mut w = LabWrite::default();
    {
        let lab = state.lab.lock();
        let mut done: HashMap<TubeId, ()> = HashMap::new();
        for b in barcodes {
            let r = (|| {
                let barcode =
                    TubeBarcode::parse(&b).map_err(|e| item_err(e.code(), e.to_string()))?;
                let mem = lab
                    .tube_by_barcode(&barcode)
                    .ok_or_else(|| item_err("unknown_tube", format!("no tube {barcode}")))?;
                if done.contains_key(&mem.tube.id) {
                    return Err(item_err(
                        "duplicate_item",
                        format!("tube {barcode} is listed twice"),
                    ));
                }
                let mut tube = mem.tube.clone();
                step(&lab, &mut tube)?;
                done.insert(tube.id, ());
                let id = tube.id;
                w.tubes.push(tube);
                Ok(id)
            })();
            out.push(r);
        }
    }
    if let Some(mut b) = batch {
        b.tubes = w.tubes.len() as u32;
        if b.tubes > 0 {
            w.batches.push(b);
        }
    }
    if !w.tubes.is_empty() {
        let (w2, _) = commit(state, w).await?;
        w = w2;
    }
    Ok((out, w))
}

/// Hands sealed tubes to a courier in a new batch (transport handover logged).
pub async fn ship(
    state: &AppState,
    courier: String,
    lab_name: String,
    barcodes: Vec<String>,
    now: Timestamp,
) -> Result<(Option<BatchId>, Vec<Result<TubeId, ItemError>>), AppError> {
    let id = BatchId(
        state
            .lab
            .lock()
            .batches
            .keys()
            .next_back()
            .map_or(1, |b| b.0 + 1),
    );
    let batch = Batch {
        id,
        courier,
        lab: lab_name,
        handed_at: now,
        received_at: None,
        tubes: 0,
    };
    let (results, w) = transition(
        state,
        barcodes,
        |_, tube| {
            if tube.state != TubeState::Sealed {
                return Err(item_err(
                    "tube_not_sealed",
                    format!("tube {} is {}", tube.barcode, tube.state.as_str()),
                ));
            }
            tube.state = TubeState::InTransport;
            tube.batch = Some(id);
            tube.shipped_at = Some(now);
            Ok(())
        },
        Some(batch),
    )
    .await?;
    Ok((w.batches.first().map(|b| b.id), results))
}

/// The lab receives tubes of a batch (all of it when `barcodes` is empty). Tubes of the
/// batch not received stay in transport, where the stuck list shows them.
pub async fn receive(
    state: &AppState,
    batch: BatchId,
    barcodes: Vec<String>,
    now: Timestamp,
) -> Result<Vec<Result<TubeId, ItemError>>, AppError> {
    let (b, list) = {
        let lab = state.lab.lock();
        let b = lab
            .batches
            .get(&batch)
            .cloned()
            .ok_or_else(|| AppError::not_found("unknown_batch", format!("no batch {batch}")))?;
        let list = if barcodes.is_empty() {
            lab.batch_tubes
                .get(&batch)
                .into_iter()
                .flatten()
                .filter_map(|id| lab.tube(*id))
                .filter(|m| m.tube.state == TubeState::InTransport)
                .map(|m| m.tube.barcode.to_string())
                .collect()
        } else {
            barcodes
        };
        (b, list)
    };
    let mut received = b;
    received.received_at = Some(now);
    let (results, _) = transition(
        state,
        list,
        |_, tube| {
            if tube.batch != Some(batch) {
                return Err(item_err(
                    "not_in_batch",
                    format!("tube {} is not in batch {batch}", tube.barcode),
                ));
            }
            if tube.state != TubeState::InTransport {
                return Err(item_err(
                    "tube_not_in_transport",
                    format!("tube {} is {}", tube.barcode, tube.state.as_str()),
                ));
            }
            tube.state = TubeState::Received;
            tube.received_at = Some(now);
            Ok(())
        },
        Some(received),
    )
    .await?;
    Ok(results)
}

// ---------------------------------------------------------------------------------------
// Results

/// What posting one result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Resulted {
    pub tube: TubeId,
    pub members: usize,
    /// Holds placed (members of a positive pool).
    pub holds: usize,
    /// Retest or resample tasks created.
    pub tasks: usize,
    /// A suspected case registered for a tracer (positive single tube).
    pub suspected: Option<CaseId>,
}

/// Posts results for received tubes. Each line succeeds or fails on its own (unknown tube,
/// not yet received, already resulted, listed twice); the good ones are written in one
/// transaction with their authority events:
///
/// - negative: one `tube_negative` event for all members; retest tasks of members close;
/// - positive pool: `pool_positive` for every member (held; the policy decides the colour)
///   and a single-tube retest task for each;
/// - positive single tube: the result and a suspected case for a tracer to confirm;
/// - invalid: no event; every member gets a resample task.
pub async fn post_results(
    state: &AppState,
    actor: &str,
    lines: Vec<Result<ResultLine, ItemError>>,
    now: Timestamp,
) -> Result<Vec<Result<Resulted, ItemError>>, AppError> {
    let _op = state.lab.op.lock().await;
    let mut out = Vec::with_capacity(lines.len());
    let mut w = LabWrite::default();
    {
        let lab = state.lab.lock();
        let mut seen: HashMap<TubeId, ()> = HashMap::new();
        let mut next_task = lab.next_task.max(1);
        let mut next_case = read(&state.cases).keys().next_back().map_or(1, |c| c.0 + 1);
        let mut closing: HashMap<u64, ()> = HashMap::new();
        let retest_due_hours = state.policy().duties().task_due_hours;
        let mut grid_tasks: Vec<xikang_store::NewTask> = Vec::new();
        let mut retests_in: Vec<String> = Vec::new();
        for line in lines {
            let r = (|| {
                let line = line?;
                let mem = lab
                    .tube_by_barcode(&line.barcode)
                    .ok_or_else(|| item_err("unknown_tube", format!("no tube {}", line.barcode)))?;
                let tube = &mem.tube;
                if seen.contains_key(&tube.id) {
                    return Err(item_err(
                        "duplicate_item",
                        format!("tube {} is listed twice", tube.barcode),
                    ));
                }
                match tube.state {
                    TubeState::Received => {}
                    TubeState::Resulted | TubeState::Invalid => {
                        return Err(item_err(
                            "already_resulted",
                            format!("tube {} already has a result", tube.barcode),
                        ));
                    }
                    s => {
                        return Err(item_err(
                            "tube_not_received",
                            format!(
                                "tube {} is {}: the lab has not received it",
                                tube.barcode,
                                s.as_str()
                            ),
                        ));
                    }
                }
                let resulted_at = line.resulted_at.unwrap_or(now);
                let received = tube.received_at.unwrap_or(tube.opened_at);
                if resulted_at < received || resulted_at > now.plus(300) {
                    return Err(item_err(
                        "invalid_time",
                        "the result time must be after receipt and not in the future",
                    ));
                }
                seen.insert(tube.id, ());
                let sampled_at = tube.opened_at;
                let members = mem.members.clone();
                let basis = format!("lab report, tube {}", tube.barcode);
                let mut done = Resulted {
                    tube: tube.id,
                    members: members.len(),
                    holds: 0,
                    tasks: 0,
                    suspected: None,
                };
                let single = members.len() <= 1;
                let event = |body| NewEvent {
                    at: resulted_at,
                    actor: actor.to_owned(),
                    basis: basis.clone(),
                    body,
                };
                match line.outcome {
                    LabOutcome::Negative => {
                        w.events.push(event(EventBody::TubeNegative {
                            tube: tube.barcode.to_string(),
                            members: members.clone(),
                            sampled_at,
                            resulted_at,
                        }));
                    }
                    LabOutcome::Positive if !single => {
                        let people = read(&state.people);
                        for p in &members {
                            w.events.push(event(EventBody::PoolPositive {
                                person: *p,
                                sampled_at,
                                tube: tube.barcode.to_string(),
                            }));
                            w.tasks.push(LabTask {
                                id: next_task,
                                person: *p,
                                kind: TaskKind::SingleTubeRetest,
                                tube: Some(tube.id),
                                created_at: resulted_at,
                                done_at: None,
                            });
                            // The retest is arranged by the member's grid worker: the same
                            // task on their list, closed with the lab's when the result
                            // of the single tube arrives.
                            if let Some(slot) =
                                people.get(p.0 as usize).filter(|s| s.community != u32::MAX)
                            {
                                grid_tasks.push(xikang_store::NewTask {
                                    cell: slot.home_cell,
                                    kind: xikang_domain::duties::TaskKind::ArrangeRetest,
                                    person: Some(*p),
                                    household: None,
                                    detail: format!(
                                        "arrange the single-tube retest of {p} (positive pool {})",
                                        tube.barcode
                                    ),
                                    created_at: resulted_at,
                                    due_at: resulted_at.plus(i64::from(retest_due_hours) * 3600),
                                    dedupe: Some(retest_task_key(next_task)),
                                });
                            }
                            next_task += 1;
                        }
                        done.holds = members.len();
                        done.tasks = members.len();
                    }
                    LabOutcome::Positive => {
                        for p in &members {
                            w.events.push(event(EventBody::TestResulted {
                                person: *p,
                                sampled_at,
                                resulted_at,
                                outcome: TestOutcome::Positive,
                                pool_size: 1,
                                tube: tube.barcode.to_string(),
                            }));
                            let open_case = read(&state.cases)
                                .values()
                                .any(|c| c.person == *p && c.discharged_at.is_none());
                            if !open_case {
                                let case = CaseId(next_case);
                                next_case += 1;
                                w.events.push(event(EventBody::CaseRegistered {
                                    case,
                                    person: *p,
                                    case_kind: CaseKind::Suspected,
                                    onset: None,
                                    sampled_at: Some(sampled_at),
                                    isolated_at: None,
                                }));
                                done.suspected = Some(case);
                            }
                        }
                    }
                    LabOutcome::Invalid => {
                        for p in &members {
                            w.tasks.push(LabTask {
                                id: next_task,
                                person: *p,
                                kind: TaskKind::Resample,
                                tube: Some(tube.id),
                                created_at: resulted_at,
                                done_at: None,
                            });
                            next_task += 1;
                        }
                        done.tasks = members.len();
                    }
                }
                // A single-tube result (or any result of a resample) answers the person's
                // open retest and resample tasks.
                for p in &members {
                    for t in lab.open_tasks.get(p).into_iter().flatten() {
                        let answers = match t.kind {
                            TaskKind::SingleTubeRetest => {
                                single && line.outcome != LabOutcome::Invalid
                            }
                            TaskKind::Resample => {
                                line.outcome != LabOutcome::Invalid && t.tube != Some(tube.id)
                            }
                            TaskKind::VaccinationOutreach => false,
                        };
                        if answers && closing.insert(t.id, ()).is_none() {
                            w.tasks.push(LabTask {
                                done_at: Some(resulted_at),
                                ..t.clone()
                            });
                            if t.kind == TaskKind::SingleTubeRetest {
                                retests_in.push(retest_task_key(t.id));
                            }
                        }
                    }
                }
                let mut t = tube.clone();
                t.state = if line.outcome == LabOutcome::Invalid {
                    TubeState::Invalid
                } else {
                    TubeState::Resulted
                };
                t.resulted_at = Some(resulted_at);
                t.outcome = Some(line.outcome);
                t.ct = line.ct;
                t.lab = Some(actor.to_owned());
                w.tubes.push(t);
                Ok(done)
            })();
            out.push(r);
        }
        if !grid_tasks.is_empty() {
            w.duties.push(xikang_store::DutyOp::InsertTasks(grid_tasks));
        }
        if !retests_in.is_empty() {
            w.duties.push(xikang_store::DutyOp::CompleteByKey {
                keys: retests_in,
                at: now,
                by: actor.to_owned(),
                note: "the single-tube retest has its result".into(),
            });
        }
    }
    let suspected: Vec<PersonId> = w
        .events
        .iter()
        .filter_map(|e| match e.body {
            EventBody::CaseRegistered { person, .. } => Some(person),
            _ => None,
        })
        .collect();
    if !w.tubes.is_empty() {
        commit(state, w).await?;
    }
    if !suspected.is_empty() {
        // A positive inside a controlled zone proposes sealing it now, not at the next
        // sweep. The results are recorded whatever happens here; the sweep retries.
        if let Err(e) = crate::duties::propose_for_cases(state, &suspected, now).await {
            tracing::warn!(error = ?e, "zone proposals after positive results failed; the sweep retries");
        }
    }
    Ok(out)
}

/// The dedupe key of the grid task that mirrors a lab's single-tube retest task: the one
/// place the lab and the grid task list agree on which task is which.
fn retest_task_key(lab_task: u64) -> String {
    format!("retest:lab:{lab_task}")
}

// ---------------------------------------------------------------------------------------
// Reading tubes

/// A tube with its members count, for the API.
pub fn tube(state: &AppState, barcode: &TubeBarcode) -> Option<(Tube, usize)> {
    let lab = state.lab.lock();
    lab.tube_by_barcode(barcode)
        .map(|m| (m.tube.clone(), m.members.len()))
}

/// How many tubes are in each state.
pub fn state_counts(state: &AppState) -> BTreeMap<&'static str, u64> {
    let lab = state.lab.lock();
    let mut counts: BTreeMap<&'static str, u64> =
        TubeState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for m in &lab.tubes {
        *counts.entry(m.tube.state.as_str()).or_default() += 1;
    }
    counts
}

/// Tubes stuck on the way: sealed or in transport for more than `transport_hours` since
/// sealing, or received but not resulted for more than `lab_hours`.
pub fn stuck(state: &AppState, now: Timestamp, transport_hours: u32, lab_hours: u32) -> Vec<Tube> {
    let lab = state.lab.lock();
    let t_cut = now.plus(-i64::from(transport_hours) * 3600);
    let l_cut = now.plus(-i64::from(lab_hours) * 3600);
    lab.tubes
        .iter()
        .map(|m| &m.tube)
        .filter(|t| match t.state {
            TubeState::Sealed | TubeState::InTransport => t.sealed_at.is_some_and(|s| s <= t_cut),
            TubeState::Received => t.received_at.is_some_and(|r| r <= l_cut),
            _ => false,
        })
        .cloned()
        .collect()
}

/// What the lab's samples of one person came to, as tests of that person: (swab time,
/// outcome). A negative tube is a negative of each member; a positive single tube a
/// positive; a positive pool, an invalid tube or a tube without a result is no outcome yet
/// (the member is held or re-swabbed until a single tube answers).
pub fn outcomes_of(state: &AppState, samples: &[Sample]) -> Vec<(Timestamp, Option<TestOutcome>)> {
    let lab = state.lab.lock();
    samples
        .iter()
        .map(|s| {
            let outcome = lab.tube(s.tube).and_then(|m| match m.tube.outcome {
                Some(LabOutcome::Negative) => Some(TestOutcome::Negative),
                Some(LabOutcome::Positive) if m.members.len() <= 1 => Some(TestOutcome::Positive),
                _ => None,
            });
            (s.sampled_at, outcome)
        })
        .collect()
}

/// Open tasks, optionally of one kind, for people the `visible` filter allows.
pub fn open_tasks(
    state: &AppState,
    kind: Option<TaskKind>,
    visible: impl Fn(PersonId) -> bool,
) -> Vec<LabTask> {
    let lab = state.lab.lock();
    let mut v: Vec<LabTask> = lab
        .open_tasks
        .values()
        .flatten()
        .filter(|t| kind.is_none_or(|k| t.kind == k) && visible(t.person))
        .cloned()
        .collect();
    v.sort_by_key(|t| t.id);
    v
}

// ---------------------------------------------------------------------------------------
// Vaccination

/// Records doses; each item on its own (unknown person, invalid fields, dose recorded twice).
pub async fn record_doses(
    state: &AppState,
    items: Vec<Result<Dose, ItemError>>,
    now: Timestamp,
) -> Result<Vec<Result<(), ItemError>>, AppError> {
    let _op = state.lab.op.lock().await;
    let mut out = Vec::with_capacity(items.len());
    let mut w = LabWrite::default();
    {
        let lab = state.lab.lock();
        let doses = read(&state.lab.doses);
        let mut seen = std::collections::HashSet::new();
        for d in items {
            let r = (|| {
                let d = d?;
                d.validate()
                    .map_err(|e| item_err(e.code(), e.to_string()))?;
                if !state.person_exists(d.person) {
                    return Err(item_err(
                        "unknown_person",
                        format!("no person {}", d.person),
                    ));
                }
                let recorded = doses
                    .get(d.person.0 as usize)
                    .is_some_and(|b| b & dose_bit(d.dose) != 0);
                if recorded || !seen.insert((d.person, d.dose)) {
                    return Err(item_err(
                        "dose_recorded",
                        format!("dose {} of {} is already recorded", d.dose, d.person),
                    ));
                }
                // A full course answers the person's outreach task.
                if d.dose >= xikang_domain::testing::FULL_COURSE_DOSES {
                    for t in lab.open_tasks.get(&d.person).into_iter().flatten() {
                        if t.kind == TaskKind::VaccinationOutreach {
                            w.tasks.push(LabTask {
                                done_at: Some(now),
                                ..t.clone()
                            });
                        }
                    }
                }
                w.doses.push(d);
                Ok(())
            })();
            out.push(r);
        }
    }
    if !w.doses.is_empty() {
        commit(state, w).await?;
    }
    Ok(out)
}

/// A person's vaccination status, from memory (no store read, no wait for the lab's lock):
/// the code display and venue scans show it.
pub fn vaccination_status(state: &AppState, person: PersonId) -> VaccinationStatus {
    VaccinationStatus {
        doses: highest_dose(
            read(&state.lab.doses)
                .get(person.0 as usize)
                .copied()
                .unwrap_or(0),
        ),
    }
}

/// The boundary ages between the coverage bands (3, 12, 18, 60, 80).
const BAND_BOUNDARIES: usize = AgeBand::ALL.len() - 1;

/// The age band of a packed birth date on one day, without computing ages. The packed
/// birth (`year << 9 | month << 5 | day`) orders like the date, so "aged at least A on
/// (ty, tm, td)" is "born on or before (ty - A, tm, td)": the band is the number of band
/// boundaries a birth lies on or before (`AgeBand::ALL` is ordered by age), counted without
/// a branch.
#[derive(Debug)]
struct BandsOn {
    /// Packed latest birth date for each boundary age, youngest boundary first.
    cutoffs: [u32; BAND_BOUNDARIES],
}

impl BandsOn {
    fn new(ty: i32, tm: u8, td: u8) -> BandsOn {
        let mut cutoffs = [0u32; BAND_BOUNDARIES];
        let boundaries = (1..=150).filter(|&a| AgeBand::of_age(a) != AgeBand::of_age(a - 1));
        for (c, a) in cutoffs.iter_mut().zip(boundaries) {
            *c = pack_birth(((ty - a) as i16, tm, td));
        }
        BandsOn { cutoffs }
    }

    /// The index into `AgeBand::ALL`.
    #[inline]
    fn index(&self, born: u32) -> usize {
        self.cutoffs.iter().map(|&c| usize::from(born <= c)).sum()
    }
}

/// Highest dose numbers counted apart (0-8).
const DOSE_SLOTS: usize = 9;

/// Residents counted per (output row, age band, highest dose) over `range` of person ids;
/// `row_of` gives a person's output row (`None`: not counted). Four interleaved tables, so
/// that neighbours who land in the same counter do not wait on each other's increment.
fn count_residents(
    births: &[u32],
    doses: &[u8],
    range: std::ops::Range<usize>,
    bands_on: &BandsOn,
    rows: usize,
    row_of: impl Fn(usize) -> Option<usize>,
) -> Vec<u32> {
    const WAYS: usize = 4;
    let slots = rows * AgeBand::ALL.len() * DOSE_SLOTS;
    let mut counts = vec![0u32; slots * WAYS];
    for i in range {
        let born = births.get(i).copied().unwrap_or(0);
        if born == 0 {
            continue;
        }
        let Some(row) = row_of(i) else {
            continue;
        };
        let dose = usize::from(highest_dose(doses.get(i).copied().unwrap_or(0)));
        let ix = (row * AgeBand::ALL.len() + bands_on.index(born)) * DOSE_SLOTS + dose;
        if let Some(c) = counts.get_mut((i % WAYS) * slots + ix) {
            *c += 1;
        }
    }
    let (first, rest) = counts.split_at_mut(slots);
    for way in rest.chunks_exact(slots) {
        for (a, b) in first.iter_mut().zip(way) {
            *a += b;
        }
    }
    counts.truncate(slots);
    counts
}

/// Coverage per district and age band, for residents of communities inside `area`, on `day`.
/// One pass over every resident (10 M in a city), split over the cores: for a district or a
/// wider area it reads only the lab's packed per-person arrays (birth, district, doses: 7
/// bytes a resident); a narrower area also reads each person's community.
pub fn vaccination_coverage(
    state: &AppState,
    area: &AreaCode,
    day: CivilDay,
) -> Vec<(AreaCode, AgeBand, Coverage)> {
    let lab = state.lab.lock();
    let dose_bits = read(&state.lab.doses);
    let (ty, tm, td) = xikang_domain::testing::civil_of(day);
    let bands_on = BandsOn::new(ty, tm, td);
    let rows = lab.districts.len();
    let n = lab.births.len();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let parts = if n < 100_000 { 1 } else { cores };
    let per = n.div_ceil(parts).max(1);
    let spread = |count: &(dyn Fn(std::ops::Range<usize>) -> Vec<u32> + Sync)| {
        if parts == 1 {
            return vec![count(0..n)];
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(per)
                .map(|from| scope.spawn(move || count(from..(from + per).min(n))))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok())
                .collect::<Vec<_>>()
        })
    };
    let parts = if area.contains(&area.district()) {
        let inside: Vec<bool> = lab.districts.iter().map(|d| area.contains(d)).collect();
        let district = &lab.district_of_person;
        spread(&|range| {
            count_residents(&lab.births, &dose_bits, range, &bands_on, rows, |i| {
                let d = usize::from(*district.get(i)?);
                inside.get(d).copied().unwrap_or(false).then_some(d)
            })
        })
    } else {
        let people = read(&state.people);
        let covered: Vec<Option<usize>> = state
            .communities
            .iter()
            .enumerate()
            .map(|(i, c)| {
                area.contains(c)
                    .then(|| lab.district_of_community.get(i).map(|d| usize::from(*d)))
                    .flatten()
            })
            .collect();
        spread(&|range| {
            count_residents(&lab.births, &dose_bits, range, &bands_on, rows, |i| {
                let slot = people.get(i)?;
                covered.get(slot.community as usize).copied().flatten()
            })
        })
    };
    let bands = AgeBand::ALL.len();
    let mut table = vec![Coverage::default(); rows * bands];
    for part in parts {
        for (ix, count) in part.into_iter().enumerate() {
            if count > 0 {
                let doses = (ix % DOSE_SLOTS) as u8;
                table[ix / DOSE_SLOTS].add_many(VaccinationStatus { doses }, u64::from(count));
            }
        }
    }
    let mut out = Vec::new();
    for (di, district) in lab.districts.iter().enumerate() {
        for (bi, band) in AgeBand::ALL.iter().enumerate() {
            let c = table[di * bands + bi];
            if c.people > 0 {
                out.push((district.clone(), *band, c));
            }
        }
    }
    out
}

/// Residents aged 60+ in `area` without a full course, grouped by grid cell; with `create`,
/// an outreach task is opened for each who has none yet. Returns (cell, people) pairs.
pub async fn outreach(
    state: &AppState,
    area: &AreaCode,
    day: CivilDay,
    create: bool,
    now: Timestamp,
) -> Result<Vec<(GridCell, Vec<PersonId>)>, AppError> {
    let _op = state.lab.op.lock().await;
    let (list, tasks) = {
        let lab = state.lab.lock();
        let people = read(&state.people);
        let dose_bits = read(&state.lab.doses);
        let (ty, tm, td) = xikang_domain::testing::civil_of(day);
        let covered: Vec<bool> = state.communities.iter().map(|c| area.contains(c)).collect();
        let mut by_cell: BTreeMap<GridCell, Vec<PersonId>> = BTreeMap::new();
        let mut tasks = Vec::new();
        let mut next = lab.next_task.max(1);
        for (i, slot) in people.iter().enumerate() {
            if !covered
                .get(slot.community as usize)
                .copied()
                .unwrap_or(false)
            {
                continue;
            }
            let born = lab.births.get(i).copied().unwrap_or(0);
            if born == 0 {
                continue;
            }
            let (y, m, d) = unpack_birth(born);
            let mut age = ty - y;
            if (tm, td) < (m, d) {
                age -= 1;
            }
            let status = VaccinationStatus {
                doses: highest_dose(dose_bits.get(i).copied().unwrap_or(0)),
            };
            if !AgeBand::of_age(age).is_60_plus() || status.full_course() {
                continue;
            }
            let p = PersonId(i as u32);
            by_cell.entry(slot.home_cell).or_default().push(p);
            let has_task = lab
                .open_tasks
                .get(&p)
                .is_some_and(|ts| ts.iter().any(|t| t.kind == TaskKind::VaccinationOutreach));
            if create && !has_task {
                tasks.push(LabTask {
                    id: next,
                    person: p,
                    kind: TaskKind::VaccinationOutreach,
                    tube: None,
                    created_at: now,
                    done_at: None,
                });
                next += 1;
            }
        }
        (by_cell.into_iter().collect::<Vec<_>>(), tasks)
    };
    if !tasks.is_empty() {
        commit(
            state,
            LabWrite {
                tasks,
                ..LabWrite::default()
            },
        )
        .await?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_by_birth_date_cutoffs_is_the_band_of_the_age_on_every_birthday_edge() {
        for &(ty, tm, td) in &[(2022, 7, 1), (2022, 1, 1), (2024, 2, 29), (2022, 12, 31)] {
            let bands_on = BandsOn::new(ty, tm, td);
            for y in (ty - 100)..=ty {
                for (m, d) in [
                    (1, 1),
                    (tm, td),
                    (tm, td.saturating_sub(1).max(1)),
                    (tm, (td + 1).min(31)),
                    (12, 31),
                    (2, 29),
                ] {
                    let (yy, mm, dd) = unpack_birth(pack_birth((y as i16, m, d)));
                    let mut age = ty - yy;
                    if (tm, td) < (mm, dd) {
                        age -= 1;
                    }
                    let expected = AgeBand::ALL
                        .iter()
                        .position(|b| *b == AgeBand::of_age(age))
                        .unwrap();
                    assert_eq!(
                        bands_on.index(pack_birth((y as i16, m, d))),
                        expected,
                        "born {y}-{m}-{d}, on {ty}-{tm}-{td}"
                    );
                }
            }
        }
    }
}
