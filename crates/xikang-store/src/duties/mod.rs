//! Storage of duties (issue 5): the administrative grid and its workers, quarantine sites
//! and orders, daily health reports, grid tasks, zones and their proposals, the origin risk
//! list, arrivals and registered sentinels.
//!
//! The logic is written once, against [`Sql`], a minimal connection interface both backends
//! provide ([`DutyBackend`]); the SQL is the portable subset with `$n` placeholders
//! (rewritten to `?n` for SQLite). Every write goes through [`DutyStore::commit_duties`]:
//! the row changes and the authority events that justify them commit in one transaction,
//! so a refused admission (a full site) leaves neither an order nor an event behind.
//!
//! This file owns the records, [`DutyOp`], the [`DutyStore`] trait and the interface a
//! dialect provides ([`Val`], [`Sql`], [`DutyBackend`]; implemented in `sqlite/duties.rs`
//! and `pg/duties.rs`). The logic is in `apply` (the writes and their refusals), `store`
//! (the trait, once for both) and `decode` (bound values, columns, row decoding).

mod apply;
mod decode;
mod store;

pub(crate) use apply::apply_ops;
pub(crate) use decode::{TASK_INSERT_COLUMNS, TaskColumns};

use crate::error::{ConflictKind, Result, StoreError};
use xikang_domain::duties::{SiteKind, TaskKind, variant, variant_name};
use xikang_domain::event::{
    NewEvent, QuarantineKind, QuarantineReason, RiskLevel, SentinelKind, StoredEvent, ZoneLevel,
};
use xikang_domain::{
    AreaCode, ArrivalId, CivilDay, GridCell, HouseholdId, OrderId, PersonId, ProposalId, SiteId,
    TaskId, Timestamp, VenueId, ZoneId,
};

// ---------------------------------------------------------------------------------------
// Records.

/// A grid cell (网格) of the administrative grid, with its grid worker.
#[derive(Debug, Clone, PartialEq)]
pub struct GridCellRecord {
    pub cell: GridCell,
    /// The community (12 digits) the cell belongs to; street and district are its prefixes.
    pub community: AreaCode,
    pub name: String,
    /// Centre, WGS-84.
    pub lat: f64,
    pub lon: f64,
    /// The grid worker's user name (their API token's name).
    pub worker: Option<String>,
}

/// A quarantine site (集中隔离点, 健康驿站).
#[derive(Debug, Clone, PartialEq)]
pub struct SiteRecord {
    pub id: SiteId,
    pub name: String,
    pub kind: SiteKind,
    pub area: AreaCode,
    pub lat: f64,
    pub lon: f64,
    pub capacity: u32,
    /// People under an active order at the site (maintained by the store).
    pub occupancy: u32,
    /// The site manager's user name.
    pub manager: Option<String>,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Active,
    /// Released after the plan's tests were negative.
    Released,
    /// Ended otherwise (replaced, withdrawn).
    Ended,
}

/// A quarantine order as listed (the authority log holds the facts; this is its read model).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub id: OrderId,
    pub person: PersonId,
    /// The policy regime it follows (`close_contact`, …).
    pub regime: String,
    pub kind: QuarantineKind,
    pub reason: QuarantineReason,
    pub site: Option<SiteId>,
    pub start: Timestamp,
    pub planned_end: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub status: OrderStatus,
    /// The order this one follows (a home phase follows its centralized phase).
    pub follows: Option<OrderId>,
    /// Whether this is the follow-on (home) phase of its regime.
    pub then_phase: bool,
}

/// A daily health report (temperature and symptoms).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRecord {
    pub person: PersonId,
    pub at: Timestamp,
    pub temperature_tenths: u16,
    pub symptoms: Vec<String>,
    /// Who entered it (the person, a site or grid worker).
    pub reporter: String,
}

/// A task to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub cell: GridCell,
    pub kind: TaskKind,
    pub person: Option<PersonId>,
    pub household: Option<HouseholdId>,
    /// What to do, for the worker (no personal data: ids only).
    pub detail: String,
    pub created_at: Timestamp,
    pub due_at: Timestamp,
    /// Tasks with the same key are created once (e.g. one missed-report task per person
    /// and day); `None` = always create.
    pub dedupe: Option<String>,
}

impl NewTask {
    /// The task for a resident not sampled in the screening round that began at `since`:
    /// one per person and round (the dedupe key), whether it comes from
    /// `POST /grid/unsampled` or from the round's closing.
    pub fn unsampled(
        p: PersonId,
        cell: GridCell,
        since: Timestamp,
        now: Timestamp,
        due: Timestamp,
    ) -> NewTask {
        NewTask {
            cell,
            kind: TaskKind::UnsampledResident,
            person: Some(p),
            household: None,
            detail: format!(
                "{p} has not been sampled in the round that began {}",
                since.to_rfc3339()
            ),
            created_at: now,
            due_at: due,
            dedupe: Some(format!("unsampled:{p}:{}", since.0)),
        }
    }
}

/// A grid task as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRecord {
    pub id: TaskId,
    pub cell: GridCell,
    pub kind: TaskKind,
    pub person: Option<PersonId>,
    pub household: Option<HouseholdId>,
    pub detail: String,
    pub created_at: Timestamp,
    pub due_at: Timestamp,
    pub done_at: Option<Timestamp>,
    pub done_by: Option<String>,
    pub note: Option<String>,
}

/// A zone as drawn (the read model of `ZoneSet` / `ZoneLifted`).
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneRecord {
    pub id: ZoneId,
    pub name: String,
    pub level: ZoneLevel,
    pub cells: Vec<GridCell>,
    /// When the zone got its current level.
    pub since: Timestamp,
    pub drawn_by: String,
    pub lifted_at: Option<Timestamp>,
}

/// What a proposal would do to a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalAction {
    /// Lift the zone.
    Lift,
    /// Change its level (step down after quiet days, or seal after a case inside).
    SetLevel,
    /// Draw a new zone by hand at `to_level` (issue 14: a second official must approve);
    /// the proposal's `conditions` hold the drawn zone (JSON `{"cells": […], "name": …}`)
    /// and `zone` the id it will have.
    Draw,
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Open,
    Approved,
    Rejected,
}

/// A proposed zone change, waiting for an official's approval.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalRecord {
    pub id: ProposalId,
    pub zone: ZoneId,
    pub action: ProposalAction,
    pub to_level: Option<ZoneLevel>,
    /// `system:zones` or an official's actor name.
    pub proposer: String,
    /// The conditions that held when proposed (JSON); for [`ProposalAction::Draw`], the
    /// drawn zone.
    pub conditions: String,
    pub proposed_at: Timestamp,
    pub status: ProposalStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
}

/// An origin on the risk list officials maintain.
#[derive(Debug, Clone, PartialEq)]
pub struct OriginRecord {
    /// Area code of the origin (GB/T 2260, 6–12 digits).
    pub code: String,
    pub name: String,
    pub risk: RiskLevel,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// An arrival registration (入锡申报).
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalRecord {
    pub id: ArrivalId,
    pub person: PersonId,
    pub origin: String,
    pub risk: RiskLevel,
    pub regime: String,
    pub planned_at: Timestamp,
    pub arrived_at: Option<Timestamp>,
    pub registered_at: Timestamp,
}

/// A registered sentinel (哨点): a pharmacy or clinic venue.
#[derive(Debug, Clone, PartialEq)]
pub struct SentinelRecord {
    pub venue: VenueId,
    pub kind: SentinelKind,
    pub registered_at: Timestamp,
    pub registered_by: String,
}

/// Which orders to list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderFilter {
    pub person: Option<PersonId>,
    pub site: Option<SiteId>,
    pub active_only: bool,
    pub limit: u32,
}

/// One change of duty state, applied inside [`DutyStore::commit_duties`].
#[derive(Debug, Clone, PartialEq)]
pub enum DutyOp {
    /// A new order. With a site, the site must have room (else [`ConflictKind::SiteFull`])
    /// and its occupancy grows by one.
    InsertOrder(OrderRecord),
    /// A new planned end (an extension); the order must be active.
    ExtendOrder {
        order: OrderId,
        planned_end: Timestamp,
    },
    /// Ends an active order (else [`ConflictKind::OrderNotActive`]); frees its place.
    EndOrder {
        order: OrderId,
        at: Timestamp,
        status: OrderStatus,
    },
    /// Moves an active order to another site, which must have room and differ from its
    /// own (else [`ConflictKind::SameSite`]).
    Transfer {
        order: OrderId,
        to: SiteId,
    },
    /// New tasks (ids assigned by the store; a repeated dedupe key is skipped).
    InsertTasks(Vec<NewTask>),
    /// Completes an open task (else [`ConflictKind::TaskDone`]).
    CompleteTask {
        task: TaskId,
        at: Timestamp,
        by: String,
        note: String,
    },
    /// Completes the open tasks with these dedupe keys (work the system saw done, e.g. a
    /// single-tube retest whose result came in); a key with no open task is skipped.
    CompleteByKey {
        keys: Vec<String>,
        at: Timestamp,
        by: String,
        note: String,
    },
    InsertReport(ReportRecord),
    /// Inserts or replaces a zone.
    PutZone(ZoneRecord),
    /// Lifts a zone in force (else [`ConflictKind::ZoneNotActive`]).
    LiftZone {
        zone: ZoneId,
        at: Timestamp,
    },
    /// A new proposal; one open proposal per zone (else [`ConflictKind::ProposalOpen`]).
    InsertProposal(ProposalRecord),
    /// Decides an open proposal (else [`ConflictKind::ProposalDecided`]).
    DecideProposal {
        proposal: ProposalId,
        status: ProposalStatus,
        by: String,
        at: Timestamp,
    },
    InsertArrival(ArrivalRecord),
    /// Marks a registered arrival as arrived (once; else [`ConflictKind::AlreadyArrived`]).
    MarkArrived {
        arrival: ArrivalId,
        at: Timestamp,
    },
}

/// Duty storage. Both backends implement it with the same behaviour (the conformance suite
/// `tests/duties.rs` checks).
pub trait DutyStore {
    /// Inserts or replaces grid cells (CSV import, the synthetic city).
    fn put_grid_cells(&self, cells: &[GridCellRecord]) -> Result<()>;
    /// Every grid cell, in cell order.
    fn grid_cells(&self) -> Result<Vec<GridCellRecord>>;
    /// Inserts or renames administrative areas (district, street, community names).
    fn put_area_names(&self, names: &[(AreaCode, String)]) -> Result<()>;
    /// Every named area, by code.
    fn area_names(&self) -> Result<Vec<(AreaCode, String)>>;
    /// Replaces all district outlines at once (GeoJSON Polygon geometries as text, checked
    /// by the caller): an import is the whole map, so a district left out loses its shape.
    fn put_district_outlines(&self, outlines: &[(AreaCode, String)]) -> Result<()>;
    /// Every district outline, by code.
    fn district_outlines(&self) -> Result<Vec<(AreaCode, String)>>;
    /// The cells a grid worker is assigned to.
    fn cells_of_worker(&self, worker: &str) -> Result<Vec<GridCell>>;
    /// Inserts or updates a site (its occupancy is kept: the store maintains it).
    fn put_site(&self, site: &SiteRecord) -> Result<()>;
    /// Every site, by id.
    fn sites(&self) -> Result<Vec<SiteRecord>>;
    /// A fresh id of a kind (`order`, `site`, `zone`, `proposal`, `arrival`).
    fn next_duty_id(&self, kind: &str) -> Result<u64>;
    /// Applies `ops` and appends `events` to the authority log in one transaction.
    fn commit_duties(&self, ops: &[DutyOp], events: &[NewEvent]) -> Result<Vec<StoredEvent>>;
    /// One order.
    fn order(&self, id: OrderId) -> Result<Option<OrderRecord>>;
    /// Orders matching a filter, newest first.
    fn orders(&self, filter: &OrderFilter) -> Result<Vec<OrderRecord>>;
    /// A person's health reports, oldest first.
    fn reports_of(&self, person: PersonId) -> Result<Vec<ReportRecord>>;
    /// People who reported on an Asia/Shanghai day.
    fn reporters_on(&self, day: CivilDay) -> Result<Vec<PersonId>>;
    /// Open tasks in these cells, earliest due first, at most `limit`.
    fn open_tasks_of_cells(&self, cells: &[GridCell], limit: u32) -> Result<Vec<TaskRecord>>;
    /// One task.
    fn task(&self, id: TaskId) -> Result<Option<TaskRecord>>;
    /// Open tasks due before `now`, counted per cell.
    fn overdue_by_cell(&self, now: Timestamp) -> Result<Vec<(GridCell, u64)>>;
    /// Open tasks city-wide.
    fn count_open_tasks(&self) -> Result<u64>;
    /// Households living in these cells, with their cell.
    fn households_in_cells(&self, cells: &[GridCell]) -> Result<Vec<(HouseholdId, GridCell)>>;
    /// Every zone ever drawn, by id.
    fn zones(&self) -> Result<Vec<ZoneRecord>>;
    /// Proposals, newest first (of one zone, or all).
    fn proposals(&self, zone: Option<ZoneId>) -> Result<Vec<ProposalRecord>>;
    /// Inserts or replaces an origin on the risk list.
    fn put_origin(&self, origin: &OriginRecord) -> Result<()>;
    /// An origin by code.
    fn origin(&self, code: &str) -> Result<Option<OriginRecord>>;
    /// The risk list, by code.
    fn origins(&self) -> Result<Vec<OriginRecord>>;
    /// One arrival registration.
    fn arrival(&self, id: ArrivalId) -> Result<Option<ArrivalRecord>>;
    /// Arrivals recorded as arrived at or after `since`, by id (their test schedules run
    /// from the arrival).
    fn arrived_since(&self, since: Timestamp) -> Result<Vec<ArrivalRecord>>;
    /// Registers (or re-registers) a sentinel venue.
    fn put_sentinel(&self, s: &SentinelRecord) -> Result<()>;
    /// A registered sentinel.
    fn sentinel(&self, venue: VenueId) -> Result<Option<SentinelRecord>>;
}

// ---------------------------------------------------------------------------------------
// What a backend provides.

/// A value bound to or read from SQL. Nulls carry their type, which PostgreSQL needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    I(i64),
    F(f64),
    T(String),
    B(Vec<u8>),
    NullI,
    NullT,
}

/// A connection or transaction, as the duty logic needs it.
pub trait Sql {
    /// Runs a statement; returns rows changed.
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64>;
    /// Runs a query; every row as values.
    fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>>;
    /// Appends authority events inside this write transaction: each dialect's own
    /// `append_events_in`, the one implementation `Store::append_events` and the lab's
    /// writes use too (same chain, same log lock).
    fn append_events(&mut self, events: &[NewEvent]) -> Result<Vec<StoredEvent>>;
    /// Inserts many tasks with ids from `first` (bulk path of each dialect); returns how
    /// many were inserted (a repeated dedupe key is skipped).
    fn insert_tasks(&mut self, first: i64, tasks: &[NewTask]) -> Result<u64>;
}

/// How a backend hands out connections for the duty logic.
pub trait DutyBackend {
    fn with_read<R>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<R>) -> Result<R>;
    /// Runs `f` in a write transaction, committed when `f` succeeds.
    fn with_tx<R>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<R>) -> Result<R>;
}
