//! Storage for testing and vaccination: sampling sites, screening rounds, tubes and the
//! samples bound to them, transport batches, retest and outreach tasks, vaccine doses.
//!
//! Writes go through one method, [`LabStore::write_lab`], that applies a [`LabWrite`] in one
//! transaction together with the authority events it causes: a result and the holds it
//! creates are stored together or not at all (no tube marked resulted without its events,
//! no event for a tube still shown as waiting). The server validates every item against its
//! in-memory index first; the unique keys here are the backstop.

use crate::error::Result;
use xikang_domain::event::{NewEvent, StoredEvent};
use xikang_domain::testing::{Batch, Dose, LabTask, Round, Sample, SamplingSite, Tube, TubeId};
use xikang_domain::{AreaCode, GridCell, PersonId};

/// Everything one lab operation writes, applied atomically by [`LabStore::write_lab`].
/// Sites, rounds, batches and tasks are upserted by id. A tube in state `Open` is a new
/// tube (no tube goes back to open) and is inserted; a tube in a later state is one already
/// written moving on, and only what moves after opening is written (its barcode, site,
/// round, capacity and opening time never change). Samples and doses are inserted. A
/// duplicate (a tube id or barcode taken, a person bound twice in one round, a dose
/// recorded twice: [`crate::ConflictKind::Duplicate`]) or a tube moved on that was never
/// opened ([`crate::ConflictKind::TubeNeverOpened`]) fails the whole write with
/// [`crate::StoreError::Conflict`].
#[derive(Debug, Clone, Default)]
pub struct LabWrite {
    pub sites: Vec<SamplingSite>,
    pub rounds: Vec<Round>,
    pub tubes: Vec<Tube>,
    pub samples: Vec<Sample>,
    pub batches: Vec<Batch>,
    pub tasks: Vec<LabTask>,
    pub doses: Vec<Dose>,
    /// Authority events appended to the log in the same transaction.
    pub events: Vec<NewEvent>,
    /// Grid tasks the same change creates or closes (a positive pool's retests on the
    /// grid workers' lists, their completion when the retest result arrives), applied in
    /// the same transaction by the duty store's own code.
    pub duties: Vec<crate::DutyOp>,
    /// Several nodes (docs/nodes.md): the last lab note of the node feed the writer's index
    /// had absorbed when this write was planned. On PostgreSQL the write is refused
    /// ([`crate::ConflictKind::LabChanged`]) when another node's lab write was noted after
    /// it, since ids and checks were planned on a view that is no longer the store's. `None`
    /// (a single node, a tool): not checked, and the write is not noted for other nodes.
    pub planned_after_note: Option<u64>,
}

impl LabWrite {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
            && self.rounds.is_empty()
            && self.tubes.is_empty()
            && self.samples.is_empty()
            && self.batches.is_empty()
            && self.tasks.is_empty()
            && self.doses.is_empty()
            && self.events.is_empty()
            && self.duties.is_empty()
    }
}

/// What a resident's age band and vaccination outreach need: where they live and when they
/// were born (read from the ID number inside the store; never leaves it otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonBirth {
    pub id: PersonId,
    pub area: AreaCode,
    pub home_cell: GridCell,
    /// (year, month, day)
    pub born: (i16, u8, u8),
}

/// Testing and vaccination storage. A supertrait of [`crate::Store`]: both backends
/// implement it, and the conformance suite runs it on both.
pub trait LabStore {
    /// Applies a [`LabWrite`] atomically; returns the events as stored (in order).
    fn write_lab(&self, w: &LabWrite) -> Result<Vec<StoredEvent>>;

    /// Every sampling site, by id.
    fn sampling_sites(&self) -> Result<Vec<SamplingSite>>;
    /// Every screening round, by id.
    fn rounds(&self) -> Result<Vec<Round>>;
    /// Every transport batch, by id.
    fn batches(&self) -> Result<Vec<Batch>>;
    /// Streams every tube, by id.
    fn for_each_tube(&self, f: &mut dyn FnMut(Tube)) -> Result<()>;
    /// Streams every sample in chunks, in no promised order (SQLite: by tube then person;
    /// PostgreSQL: as stored, which is the order of binding).
    fn for_each_sample(&self, f: &mut dyn FnMut(&[Sample])) -> Result<()>;
    /// A person's samples in these tubes (those the lab's index places the person in),
    /// oldest first. PostgreSQL keeps the swabs bound into a tube at once as one row and
    /// finds them by tube, not by person (migration 0019).
    fn samples_in_tubes(&self, person: PersonId, tubes: &[TubeId]) -> Result<Vec<Sample>>;
    /// Tasks, by id; only the open ones unless `include_done`.
    fn tasks(&self, include_done: bool) -> Result<Vec<LabTask>>;
    /// Streams every recorded dose, ordered by person then dose number.
    fn for_each_dose(&self, f: &mut dyn FnMut(Dose)) -> Result<()>;
    /// Streams every person's birth date and home, by id.
    fn for_each_birth(&self, f: &mut dyn FnMut(PersonBirth)) -> Result<()>;
}

/// Round cells as stored: comma-separated cell numbers ("" = the whole area).
pub(crate) fn cells_text(cells: &[GridCell]) -> String {
    cells
        .iter()
        .map(|c| c.0.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Inverse of [`cells_text`].
pub(crate) fn cells_of(text: &str) -> Result<Vec<GridCell>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map(GridCell)
                .map_err(|_| crate::StoreError::Corrupt(format!("round cell {s:?}")))
        })
        .collect()
}

/// The columns of `lab_tubes`, in the order of [`TubeRow`].
pub(crate) const TUBE_COLUMNS: &str = "id, barcode, site, round, capacity, state, opened_at, sealed_at, batch, shipped_at, received_at, resulted_at, outcome, ct, lab";

/// A tube as stored, with integers widened to i64 whatever the dialect.
#[derive(Debug)]
pub(crate) struct TubeRow {
    pub id: i64,
    pub barcode: String,
    pub site: i64,
    pub round: Option<i64>,
    pub capacity: i64,
    pub state: i64,
    pub opened_at: i64,
    pub sealed_at: Option<i64>,
    pub batch: Option<i64>,
    pub shipped_at: Option<i64>,
    pub received_at: Option<i64>,
    pub resulted_at: Option<i64>,
    pub outcome: Option<i64>,
    pub ct: Option<f32>,
    pub lab: Option<String>,
}

fn small(v: i64, what: &str) -> Result<u8> {
    u8::try_from(v).map_err(|_| crate::StoreError::Corrupt(format!("stored {what} {v}")))
}

impl TubeRow {
    pub(crate) fn into_tube(self) -> Result<Tube> {
        use xikang_domain::Timestamp;
        use xikang_domain::testing::{
            BatchId, LabOutcome, RoundId, SiteId, TubeBarcode, TubeId, TubeState,
        };
        let u32_of = crate::row::u32_of;
        let corrupt = |what: &str| crate::StoreError::Corrupt(format!("tube {}: {what}", self.id));
        Ok(Tube {
            id: TubeId(u32_of(self.id, "tube id")?),
            barcode: TubeBarcode::parse(&self.barcode).map_err(|_| corrupt("barcode"))?,
            site: SiteId(u32_of(self.site, "site id")?),
            round: self
                .round
                .map(|r| u32_of(r, "round id"))
                .transpose()?
                .map(RoundId),
            capacity: small(self.capacity, "capacity")?,
            state: TubeState::from_code(small(self.state, "tube state")?)
                .ok_or_else(|| corrupt("state"))?,
            opened_at: Timestamp(self.opened_at),
            sealed_at: self.sealed_at.map(Timestamp),
            batch: self
                .batch
                .map(|b| u32_of(b, "batch id"))
                .transpose()?
                .map(BatchId),
            shipped_at: self.shipped_at.map(Timestamp),
            received_at: self.received_at.map(Timestamp),
            resulted_at: self.resulted_at.map(Timestamp),
            outcome: match self.outcome {
                Some(o) => Some(
                    LabOutcome::from_code(small(o, "outcome")?)
                        .ok_or_else(|| corrupt("outcome"))?,
                ),
                None => None,
            },
            ct: self.ct,
            lab: self.lab,
        })
    }
}

/// A round as stored.
#[derive(Debug)]
pub(crate) struct RoundRow {
    pub id: i64,
    pub name: String,
    pub area: String,
    pub cells: String,
    pub starts_at: i64,
    pub deadline: i64,
    pub pools: [i64; 3],
    pub closed_at: Option<i64>,
}

pub(crate) const ROUND_COLUMNS: &str = "id, name, area, cells, starts_at, deadline, pool_sealed, pool_controlled, pool_other, closed_at";

impl RoundRow {
    pub(crate) fn into_round(self) -> Result<Round> {
        use xikang_domain::Timestamp;
        use xikang_domain::testing::{PoolSizes, RoundId};
        Ok(Round {
            id: RoundId(crate::row::u32_of(self.id, "round id")?),
            name: self.name,
            area: AreaCode::parse(&self.area)
                .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
            cells: cells_of(&self.cells)?,
            starts_at: Timestamp(self.starts_at),
            deadline: Timestamp(self.deadline),
            pools: PoolSizes {
                sealed: small(self.pools[0], "pool size")?,
                controlled: small(self.pools[1], "pool size")?,
                other: small(self.pools[2], "pool size")?,
            },
            closed_at: self.closed_at.map(Timestamp),
        })
    }
}

pub(crate) fn site_of(id: i64, name: String, area: &str, cell: i64) -> Result<SamplingSite> {
    Ok(SamplingSite {
        id: xikang_domain::testing::SiteId(crate::row::u32_of(id, "site id")?),
        name,
        area: AreaCode::parse(area).map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
        cell: GridCell(crate::row::u32_of(cell, "cell")?),
    })
}

pub(crate) fn sample_of(tube: i64, person: i64, round: Option<i64>, at: i64) -> Result<Sample> {
    let u32_of = crate::row::u32_of;
    Ok(Sample {
        tube: xikang_domain::testing::TubeId(u32_of(tube, "tube id")?),
        person: PersonId(u32_of(person, "person id")?),
        round: round
            .map(|r| u32_of(r, "round id"))
            .transpose()?
            .map(xikang_domain::testing::RoundId),
        sampled_at: xikang_domain::Timestamp(at),
    })
}

pub(crate) fn batch_of(
    id: i64,
    courier: String,
    lab: String,
    handed_at: i64,
    received_at: Option<i64>,
    tubes: i64,
) -> Result<Batch> {
    Ok(Batch {
        id: xikang_domain::testing::BatchId(crate::row::u32_of(id, "batch id")?),
        courier,
        lab,
        handed_at: xikang_domain::Timestamp(handed_at),
        received_at: received_at.map(xikang_domain::Timestamp),
        tubes: crate::row::u32_of(tubes, "batch tubes")?,
    })
}

pub(crate) fn task_of(
    id: i64,
    person: i64,
    kind: &str,
    tube: Option<i64>,
    created_at: i64,
    done_at: Option<i64>,
) -> Result<LabTask> {
    let u32_of = crate::row::u32_of;
    Ok(LabTask {
        id: id.unsigned_abs(),
        person: PersonId(u32_of(person, "person id")?),
        kind: xikang_domain::testing::TaskKind::parse(kind)
            .ok_or_else(|| crate::StoreError::Corrupt(format!("task kind {kind:?}")))?,
        tube: tube
            .map(|t| u32_of(t, "tube id"))
            .transpose()?
            .map(xikang_domain::testing::TubeId),
        created_at: xikang_domain::Timestamp(created_at),
        done_at: done_at.map(xikang_domain::Timestamp),
    })
}

pub(crate) fn dose_of(
    person: i64,
    dose: i64,
    vaccine: String,
    given_on: i64,
    site: String,
) -> Result<Dose> {
    Ok(Dose {
        person: PersonId(crate::row::u32_of(person, "person id")?),
        dose: small(dose, "dose")?,
        vaccine,
        given_on: xikang_domain::CivilDay(
            i32::try_from(given_on).map_err(|_| crate::StoreError::Corrupt("dose day".into()))?,
        ),
        site,
    })
}

pub(crate) fn birth_of(id: i64, id_number: &str, area: &str, cell: i64) -> Result<PersonBirth> {
    let idn = xikang_domain::idnumber::IdNumber::parse(id_number)
        .map_err(|_| crate::StoreError::Corrupt(format!("person {id}: ID number")))?;
    Ok(PersonBirth {
        id: PersonId(crate::row::u32_of(id, "person id")?),
        area: AreaCode::parse(area).map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
        home_cell: GridCell(crate::row::u32_of(cell, "grid cell")?),
        born: xikang_domain::testing::birth_date(&idn)
            .ok_or_else(|| crate::StoreError::Corrupt(format!("person {id}: birth date")))?,
    })
}
