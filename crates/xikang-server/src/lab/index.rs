//! The lab's in-memory index: sites, rounds with their per-cell progress, tubes and their
//! members, batches, open tasks and doses, rebuilt from the store at start and kept in step
//! by folding each committed lab write ([`Lab::absorb`]).

use super::*;

/// A tube in memory: the stored row and its members in binding order.
#[derive(Debug, Clone)]
pub(super) struct TubeMem {
    pub(super) tube: Tube,
    pub(super) members: Vec<PersonId>,
}

/// A round in memory: the row, which tube holds each resident's sample (0 = none, indexed by
/// person id) and the progress per grid cell, kept up to date as samples and results arrive.
#[derive(Debug)]
pub(super) struct RoundMem {
    pub(super) round: Round,
    pub(super) tube_of: Vec<u32>,
    pub(super) cells: BTreeMap<GridCell, CellProgress>,
    /// Whether each community (by index) lies in the round's area.
    pub(super) covered: Vec<bool>,
}

/// Everything the lab operations check against.
#[derive(Debug, Default)]
pub(super) struct Lab {
    pub(super) sites: BTreeMap<SiteId, SamplingSite>,
    pub(super) rounds: BTreeMap<RoundId, RoundMem>,
    /// Indexed by tube id - 1 (ids are dense from 1).
    pub(super) tubes: Vec<TubeMem>,
    pub(super) by_barcode: HashMap<TubeBarcode, TubeId>,
    pub(super) batches: BTreeMap<BatchId, Batch>,
    /// The tubes handed over in each batch, so that receiving a whole batch does not walk
    /// every tube of the city.
    pub(super) batch_tubes: HashMap<BatchId, Vec<TubeId>>,
    pub(super) open_tasks: HashMap<PersonId, Vec<LabTask>>,
    /// The tubes holding each person's swabs taken outside any round (retests, resamples,
    /// tubes of no round); a round's are in its `tube_of`. Together they find a person's
    /// samples in the store, which keeps no per-person key (PostgreSQL, migration 0019).
    pub(super) off_round: HashMap<PersonId, Vec<TubeId>>,
    pub(super) next_task: u64,
    /// Birth date packed as `year << 9 | month << 5 | day` per person (0 = unknown).
    pub(super) births: Vec<u32>,
    /// District index per community index, and the districts.
    pub(super) district_of_community: Vec<u16>,
    /// District index per person (`u16::MAX`: none), for coverage without reading the
    /// people's slots.
    pub(super) district_of_person: Vec<u16>,
    pub(super) districts: Vec<AreaCode>,
}

/// The lab's in-memory index and the lock that serializes lab writes.
#[derive(Debug, Default)]
pub struct LabIndex {
    pub(super) inner: Mutex<Lab>,
    pub(super) op: tokio::sync::Mutex<()>,
    /// Dose numbers recorded per person, bit n-1 for dose n (indexed by person id). Outside
    /// the lab's mutex: the code display and every venue scan read it, and must not wait
    /// behind a round's bulk binding or results (lock order: lab mutex, then this).
    pub(super) doses: RwLock<Vec<u8>>,
    /// Every lab write goes to the store through this queue ([`super::pipeline`]).
    writer: super::pipeline::LabWriter,
    /// Rebuilds after a failed pipelined write: commands plan in epoch `rebuilds + 1`.
    rebuilds: std::sync::atomic::AtomicU64,
}

/// A resident the register placed: `(person, community index, community, born)`.
pub(crate) type Placed = (PersonId, u32, AreaCode, (i16, u8, u8));

impl LabIndex {
    /// Residents the register added or moved: their birth dates (for coverage by age band)
    /// and their districts, by person id.
    pub(crate) fn place_residents(&self, placed: &[Placed]) {
        if placed.is_empty() {
            return;
        }
        let mut lab = self.lock();
        for (person, ix, community, born) in placed {
            let d = community.district();
            let district = match lab.districts.iter().position(|x| *x == d) {
                Some(i) => i as u16,
                None => {
                    lab.districts.push(d);
                    (lab.districts.len() - 1) as u16
                }
            };
            let c = *ix as usize;
            if lab.district_of_community.len() <= c {
                lab.district_of_community.resize(c + 1, u16::MAX);
            }
            lab.district_of_community[c] = district;
            let i = person.0 as usize;
            if lab.births.len() <= i {
                lab.births.resize(i + 1, 0);
            }
            if lab.district_of_person.len() <= i {
                lab.district_of_person.resize(i + 1, u16::MAX);
            }
            lab.births[i] = pack_birth(*born);
            lab.district_of_person[i] = district;
        }
    }
}

pub(super) fn pack_birth(b: (i16, u8, u8)) -> u32 {
    (u32::from(b.0.unsigned_abs()) << 9) | (u32::from(b.1) << 5) | u32::from(b.2)
}

pub(super) fn unpack_birth(v: u32) -> (i32, u8, u8) {
    ((v >> 9) as i32, ((v >> 5) & 0xF) as u8, (v & 0x1F) as u8)
}

impl Lab {
    pub(super) fn tube(&self, id: TubeId) -> Option<&TubeMem> {
        self.tubes.get((id.0 as usize).checked_sub(1)?)
    }

    pub(super) fn tube_by_barcode(&self, b: &TubeBarcode) -> Option<&TubeMem> {
        self.by_barcode.get(b).and_then(|id| self.tube(*id))
    }

    pub(super) fn next_tube_id(&self) -> u32 {
        self.tubes.len() as u32 + 1
    }

    pub(super) fn progress(
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
    pub(crate) fn absorb(&mut self, state: &AppState, w: &LabWrite) {
        let people = read(&state.projection.people);
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
                // A sample absorbed twice (a node starting while another writes to the lab
                // may load it and follow it, docs/nodes.md) counts once: a person is never
                // in one tube twice (checked before every write).
                if t.members.contains(&s.person) {
                    continue;
                }
                t.members.push(s.person);
            }
            match s.round {
                Some(round) => {
                    if let Some(r) = self.rounds.get_mut(&round) {
                        // A resident registered after the round was made is past its end.
                        let ix = s.person.0 as usize;
                        if r.tube_of.len() <= ix {
                            r.tube_of.resize(ix + 1, 0);
                        }
                        r.tube_of[ix] = s.tube.0;
                    }
                    self.progress(&people, round, s.person, |c| c.sampled += 1);
                }
                None => self.off_round.entry(s.person).or_default().push(s.tube),
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
            let mut doses = write(&state.projection.lab.doses);
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
pub(super) fn dose_bit(dose: u8) -> u8 {
    1u8.checked_shl(u32::from(dose.saturating_sub(1)))
        .unwrap_or(0)
}

/// The highest dose recorded in a bit set of [`LabIndex::doses`].
pub(super) fn highest_dose(bits: u8) -> u8 {
    (8 - bits.leading_zeros()) as u8
}

pub(super) fn new_round_mem(state: &AppState, people: &[PersonSlot], round: Round) -> RoundMem {
    let mut cells: BTreeMap<GridCell, CellProgress> = BTreeMap::new();
    let covered: Vec<bool> = state
        .projection
        .communities
        .all()
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
    /// Takes the lab's operation lock for a command (validate → write → absorb), after
    /// which it absorbs what other nodes wrote to the lab first (docs/nodes.md), so the
    /// command checks against what the store holds. If that read fails the command goes
    /// on: the store refuses its write if another node's came between.
    ///
    /// If a pipelined write failed since the last command, the index is ahead of the store:
    /// it is rebuilt from the store first ([`super::pipeline`]). If that fails too, the
    /// command plans on the stale index and the writer refuses its write.
    pub(crate) async fn begin(&self, state: &AppState) -> tokio::sync::MutexGuard<'_, ()> {
        use std::sync::atomic::Ordering;
        let op = self.op.lock().await;
        let failed = self.writer.failed_epoch();
        if failed > self.rebuilds.load(Ordering::Acquire) {
            tracing::warn!("a lab write failed: rebuilding the lab index from the store");
            let reload = || {
                *self.lock() = Lab::default();
                write(&self.doses).clear();
                self.load(state)
            };
            let reloaded = match tokio::runtime::Handle::current().runtime_flavor() {
                tokio::runtime::RuntimeFlavor::CurrentThread => reload(),
                _ => tokio::task::block_in_place(reload),
            };
            match reloaded {
                Ok(()) => self.rebuilds.store(failed, Ordering::Release),
                Err(e) => tracing::error!(error = %e, "rebuilding the lab index failed"),
            }
        }
        if state.config.node.id.is_some()
            && let Err(e) = crate::app::node::follow_lab(state).await
        {
            tracing::warn!(error = %e, "following other nodes' lab writes failed");
        }
        op
    }

    /// Queues a lab write for the store (the caller holds the operation lock); `ahead`:
    /// the index absorbed it already.
    pub(crate) fn queue(
        &self,
        store: &std::sync::Arc<dyn xikang_store::Store>,
        w: LabWrite,
        ahead: bool,
    ) -> tokio::sync::oneshot::Receiver<super::Written> {
        let epoch = self.rebuilds.load(std::sync::atomic::Ordering::Acquire) + 1;
        self.writer.queue(store, w, epoch, ahead)
    }

    /// The operation lock if no command holds it (the follower absorbs other nodes' lab
    /// writes under it, never between a command's check and its write).
    pub(crate) fn try_op(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        self.op.try_lock().ok()
    }

    /// Folds a committed lab write into the index (the committer calls this).
    pub(crate) fn absorb(&self, state: &AppState, w: &LabWrite) {
        self.lock().absorb(state, w);
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Lab> {
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
            .projection
            .communities
            .all()
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
        lab.district_of_person = read(&state.projection.people)
            .iter()
            .map(|slot| {
                lab.district_of_community
                    .get(slot.community as usize)
                    .copied()
                    .unwrap_or(u16::MAX)
            })
            .collect();
        let n = read(&state.projection.people).len();
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
