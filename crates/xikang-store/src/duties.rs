//! Storage of duties (issue 5): the administrative grid and its workers, quarantine sites
//! and orders, daily health reports, grid tasks, zones and their proposals, the origin risk
//! list, arrivals and registered sentinels.
//!
//! The logic is written once, against [`Sql`], a minimal connection interface both backends
//! provide ([`DutyBackend`]); the SQL is the portable subset with `$n` placeholders
//! (rewritten to `?n` for SQLite). Every write goes through [`DutyStore::commit_duties`]:
//! the row changes and the authority events that justify them commit in one transaction,
//! so a refused admission (a full site) leaves neither an order nor an event behind.

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
    /// The conditions that held when proposed (JSON).
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

// ---------------------------------------------------------------------------------------
// Value helpers.

fn i(v: impl Into<i64>) -> Val {
    Val::I(v.into())
}

fn t(v: impl Into<String>) -> Val {
    Val::T(v.into())
}

fn oi(v: Option<i64>) -> Val {
    v.map_or(Val::NullI, Val::I)
}

fn ot(v: Option<&str>) -> Val {
    v.map_or(Val::NullT, |s| Val::T(s.to_owned()))
}

fn u64_i(v: u64) -> Val {
    Val::I(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Reads one row's columns in order.
struct Cols<'a> {
    row: &'a [Val],
    at: usize,
}

impl<'a> Cols<'a> {
    fn new(row: &'a [Val]) -> Self {
        Cols { row, at: 0 }
    }

    fn next(&mut self) -> Result<&'a Val> {
        let v = self
            .row
            .get(self.at)
            .ok_or_else(|| StoreError::Corrupt("duty row has too few columns".into()))?;
        self.at += 1;
        Ok(v)
    }

    fn oi(&mut self) -> Result<Option<i64>> {
        match self.next()? {
            Val::I(v) => Ok(Some(*v)),
            Val::NullI | Val::NullT => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "expected an integer, got {other:?}"
            ))),
        }
    }

    fn i(&mut self) -> Result<i64> {
        self.oi()?
            .ok_or_else(|| StoreError::Corrupt("unexpected null integer".into()))
    }

    fn f(&mut self) -> Result<f64> {
        match self.next()? {
            Val::F(v) => Ok(*v),
            Val::I(v) => Ok(*v as f64),
            other => Err(StoreError::Corrupt(format!(
                "expected a number, got {other:?}"
            ))),
        }
    }

    fn ot(&mut self) -> Result<Option<String>> {
        match self.next()? {
            Val::T(v) => Ok(Some(v.clone())),
            Val::NullI | Val::NullT => Ok(None),
            _ => Err(StoreError::Corrupt("expected text".into())),
        }
    }

    fn t(&mut self) -> Result<String> {
        self.ot()?
            .ok_or_else(|| StoreError::Corrupt("unexpected null text".into()))
    }

    fn u32(&mut self) -> Result<u32> {
        let v = self.i()?;
        u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} is not a u32")))
    }

    fn u64(&mut self) -> Result<u64> {
        let v = self.i()?;
        u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} is not a u64")))
    }

    fn ou64(&mut self) -> Result<Option<u64>> {
        self.oi()?
            .map(|v| u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v}"))))
            .transpose()
    }

    fn ou32(&mut self) -> Result<Option<u32>> {
        self.oi()?
            .map(|v| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v}"))))
            .transpose()
    }

    fn ts(&mut self) -> Result<Timestamp> {
        Ok(Timestamp(self.i()?))
    }

    fn ots(&mut self) -> Result<Option<Timestamp>> {
        Ok(self.oi()?.map(Timestamp))
    }

    fn en<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Result<T> {
        let s = self.t()?;
        variant(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} `{s}`")))
    }

    fn area(&mut self) -> Result<AreaCode> {
        AreaCode::parse(&self.t()?).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

fn name<T: serde::Serialize>(v: &T) -> Val {
    Val::T(variant_name(v))
}

// ---------------------------------------------------------------------------------------
// SQL and row mapping.

const CELL_COLUMNS: &str = "cell, community, name, lat, lon, worker";
const SITE_COLUMNS: &str = "id, name, kind, area, lat, lon, capacity, occupancy, manager";
const ORDER_COLUMNS: &str = "id, person, regime, kind, reason, site, start_at, planned_end, ended_at, status, follows, then_phase";
const TASK_COLUMNS: &str =
    "id, cell, kind, person, household, detail, created_at, due_at, done_at, done_by, note";
const ZONE_COLUMNS: &str = "id, name, level, cells, since, drawn_by, lifted_at";
const PROPOSAL_COLUMNS: &str =
    "id, zone, action, to_level, proposer, conditions, proposed_at, status, decided_by, decided_at";
const ARRIVAL_COLUMNS: &str =
    "id, person, origin, risk, regime, planned_at, arrived_at, registered_at";

fn cell_of(r: &[Val]) -> Result<GridCellRecord> {
    let mut c = Cols::new(r);
    Ok(GridCellRecord {
        cell: GridCell(c.u32()?),
        community: c.area()?,
        name: c.t()?,
        lat: c.f()?,
        lon: c.f()?,
        worker: c.ot()?,
    })
}

fn site_of(r: &[Val]) -> Result<SiteRecord> {
    let mut c = Cols::new(r);
    Ok(SiteRecord {
        id: SiteId(c.u64()?),
        name: c.t()?,
        kind: c.en("site kind")?,
        area: c.area()?,
        lat: c.f()?,
        lon: c.f()?,
        capacity: c.u32()?,
        occupancy: c.u32()?,
        manager: c.ot()?,
    })
}

fn order_of(r: &[Val]) -> Result<OrderRecord> {
    let mut c = Cols::new(r);
    Ok(OrderRecord {
        id: OrderId(c.u64()?),
        person: PersonId(c.u32()?),
        regime: c.t()?,
        kind: c.en("order kind")?,
        reason: c.en("order reason")?,
        site: c.ou64()?.map(SiteId),
        start: c.ts()?,
        planned_end: c.ts()?,
        ended_at: c.ots()?,
        status: c.en("order status")?,
        follows: c.ou64()?.map(OrderId),
        then_phase: c.i()? != 0,
    })
}

fn task_of(r: &[Val]) -> Result<TaskRecord> {
    let mut c = Cols::new(r);
    Ok(TaskRecord {
        id: TaskId(c.u64()?),
        cell: GridCell(c.u32()?),
        kind: {
            let s = c.t()?;
            TaskKind::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("task kind {s}")))?
        },
        person: c.ou32()?.map(PersonId),
        household: c.ou32()?.map(HouseholdId),
        detail: c.t()?,
        created_at: c.ts()?,
        due_at: c.ts()?,
        done_at: c.ots()?,
        done_by: c.ot()?,
        note: c.ot()?,
    })
}

fn zone_of(r: &[Val]) -> Result<ZoneRecord> {
    let mut c = Cols::new(r);
    let id = ZoneId(c.u64()?);
    let name = c.t()?;
    let level = c.en("zone level")?;
    let cells: Vec<u32> = serde_json::from_str(&c.t()?)
        .map_err(|e| StoreError::Corrupt(format!("zone {id} cells: {e}")))?;
    Ok(ZoneRecord {
        id,
        name,
        level,
        cells: cells.into_iter().map(GridCell).collect(),
        since: c.ts()?,
        drawn_by: c.t()?,
        lifted_at: c.ots()?,
    })
}

fn proposal_of(r: &[Val]) -> Result<ProposalRecord> {
    let mut c = Cols::new(r);
    Ok(ProposalRecord {
        id: ProposalId(c.u64()?),
        zone: ZoneId(c.u64()?),
        action: c.en("proposal action")?,
        to_level: match c.ot()? {
            None => None,
            Some(s) => {
                Some(variant(&s).ok_or_else(|| StoreError::Corrupt(format!("zone level {s}")))?)
            }
        },
        proposer: c.t()?,
        conditions: c.t()?,
        proposed_at: c.ts()?,
        status: c.en("proposal status")?,
        decided_by: c.ot()?,
        decided_at: c.ots()?,
    })
}

fn arrival_of(r: &[Val]) -> Result<ArrivalRecord> {
    let mut c = Cols::new(r);
    Ok(ArrivalRecord {
        id: ArrivalId(c.u64()?),
        person: PersonId(c.u32()?),
        origin: c.t()?,
        risk: c.en("risk level")?,
        regime: c.t()?,
        planned_at: c.ts()?,
        arrived_at: c.ots()?,
        registered_at: c.ts()?,
    })
}

fn all<T>(rows: Vec<Vec<Val>>, f: fn(&[Val]) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(|r| f(r)).collect()
}

fn one<T>(rows: Vec<Vec<Val>>, f: fn(&[Val]) -> Result<T>) -> Result<Option<T>> {
    rows.first().map(|r| f(r)).transpose()
}

/// `$1, $2, …` for a list of `n` values starting at `$from`.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|k| format!("${k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------
// The writes.

/// Takes one place at `site`, or fails with [`ConflictKind::SiteFull`] (or `NotFound`).
fn take_place(sql: &mut dyn Sql, site: SiteId) -> Result<()> {
    let n = sql.exec(
        "update quarantine_sites set occupancy = occupancy + 1 where id = $1 and occupancy < capacity",
        &[u64_i(site.0)],
    )?;
    if n == 1 {
        return Ok(());
    }
    let exists = !sql
        .rows(
            "select id from quarantine_sites where id = $1",
            &[u64_i(site.0)],
        )?
        .is_empty();
    Err(if exists {
        StoreError::Conflict(ConflictKind::SiteFull)
    } else {
        StoreError::NotFound
    })
}

fn free_place(sql: &mut dyn Sql, site: SiteId) -> Result<()> {
    sql.exec(
        "update quarantine_sites set occupancy = occupancy - 1 where id = $1 and occupancy > 0",
        &[u64_i(site.0)],
    )?;
    Ok(())
}

fn active_order(sql: &mut dyn Sql, order: OrderId) -> Result<OrderRecord> {
    let o = one(
        sql.rows(
            &format!("select {ORDER_COLUMNS} from quarantine_orders where id = $1"),
            &[u64_i(order.0)],
        )?,
        order_of,
    )?
    .ok_or(StoreError::NotFound)?;
    if o.status != OrderStatus::Active {
        return Err(StoreError::Conflict(ConflictKind::OrderNotActive));
    }
    Ok(o)
}

/// Applies duty row changes inside the caller's write transaction: the duty store's own
/// commits, and the lab's writes that create or close grid tasks in the same transaction.
pub(crate) fn apply_ops(sql: &mut dyn Sql, ops: &[DutyOp]) -> Result<()> {
    ops.iter().try_for_each(|op| apply_op(sql, op))
}

fn apply_op(sql: &mut dyn Sql, op: &DutyOp) -> Result<()> {
    match op {
        DutyOp::InsertOrder(o) => {
            if let Some(site) = o.site {
                take_place(sql, site)?;
            }
            sql.exec(
                &format!(
                    "insert into quarantine_orders ({ORDER_COLUMNS}) values ({})",
                    placeholders(1, 12)
                ),
                &[
                    u64_i(o.id.0),
                    i(o.person.0),
                    t(&o.regime),
                    name(&o.kind),
                    name(&o.reason),
                    oi(o.site.map(|s| s.0 as i64)),
                    i(o.start.0),
                    i(o.planned_end.0),
                    oi(o.ended_at.map(|t| t.0)),
                    name(&o.status),
                    oi(o.follows.map(|f| f.0 as i64)),
                    i(i64::from(o.then_phase)),
                ],
            )?;
        }
        DutyOp::ExtendOrder { order, planned_end } => {
            active_order(sql, *order)?;
            sql.exec(
                "update quarantine_orders set planned_end = $1 where id = $2",
                &[i(planned_end.0), u64_i(order.0)],
            )?;
        }
        DutyOp::EndOrder { order, at, status } => {
            let o = active_order(sql, *order)?;
            sql.exec(
                "update quarantine_orders set ended_at = $1, status = $2 where id = $3",
                &[i(at.0), name(status), u64_i(order.0)],
            )?;
            if let Some(site) = o.site {
                free_place(sql, site)?;
            }
        }
        DutyOp::Transfer { order, to } => {
            let o = active_order(sql, *order)?;
            if o.site == Some(*to) {
                return Err(StoreError::Conflict(ConflictKind::SameSite));
            }
            take_place(sql, *to)?;
            if let Some(from) = o.site {
                free_place(sql, from)?;
            }
            sql.exec(
                "update quarantine_orders set site = $1 where id = $2",
                &[u64_i(to.0), u64_i(order.0)],
            )?;
        }
        DutyOp::InsertTasks(tasks) => {
            if tasks.is_empty() {
                return Ok(());
            }
            let first = reserve_ids(sql, "task", tasks.len() as u64)?;
            sql.insert_tasks(first, tasks)?;
        }
        DutyOp::CompleteTask { task, at, by, note } => {
            let n = sql.exec(
                "update grid_tasks set done_at = $1, done_by = $2, note = $3 where id = $4 and done_at is null",
                &[i(at.0), t(by), t(note), u64_i(task.0)],
            )?;
            if n == 0 {
                let exists = !sql
                    .rows("select id from grid_tasks where id = $1", &[u64_i(task.0)])?
                    .is_empty();
                return Err(if exists {
                    StoreError::Conflict(ConflictKind::TaskDone)
                } else {
                    StoreError::NotFound
                });
            }
        }
        DutyOp::CompleteByKey { keys, at, by, note } => {
            for k in keys {
                sql.exec(
                    "update grid_tasks set done_at = $1, done_by = $2, note = $3
                     where dedupe = $4 and done_at is null",
                    &[i(at.0), t(by), t(note), t(k)],
                )?;
            }
        }
        DutyOp::InsertReport(r) => {
            sql.exec(
                "insert into health_reports (person, day, at, temperature_tenths, symptoms, reporter)
                 values ($1, $2, $3, $4, $5, $6)",
                &[
                    i(r.person.0),
                    i(r.at.shanghai_day().0),
                    i(r.at.0),
                    i(r.temperature_tenths),
                    t(r.symptoms.join(",")),
                    t(&r.reporter),
                ],
            )?;
        }
        DutyOp::PutZone(z) => {
            let cells: Vec<u32> = z.cells.iter().map(|c| c.0).collect();
            let cells = serde_json::to_string(&cells).unwrap_or_default();
            sql.exec("delete from zones where id = $1", &[u64_i(z.id.0)])?;
            sql.exec(
                &format!(
                    "insert into zones ({ZONE_COLUMNS}) values ({})",
                    placeholders(1, 7)
                ),
                &[
                    u64_i(z.id.0),
                    t(&z.name),
                    name(&z.level),
                    t(cells),
                    i(z.since.0),
                    t(&z.drawn_by),
                    oi(z.lifted_at.map(|t| t.0)),
                ],
            )?;
        }
        DutyOp::LiftZone { zone, at } => {
            let n = sql.exec(
                "update zones set lifted_at = $1 where id = $2 and lifted_at is null",
                &[i(at.0), u64_i(zone.0)],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(ConflictKind::ZoneNotActive));
            }
        }
        DutyOp::InsertProposal(p) => {
            let open = sql.rows(
                "select id from zone_proposals where zone = $1 and status = 'open'",
                &[u64_i(p.zone.0)],
            )?;
            if !open.is_empty() {
                return Err(StoreError::Conflict(ConflictKind::ProposalOpen));
            }
            sql.exec(
                &format!(
                    "insert into zone_proposals ({PROPOSAL_COLUMNS}) values ({})",
                    placeholders(1, 10)
                ),
                &[
                    u64_i(p.id.0),
                    u64_i(p.zone.0),
                    name(&p.action),
                    p.to_level.as_ref().map_or(Val::NullT, name),
                    t(&p.proposer),
                    t(&p.conditions),
                    i(p.proposed_at.0),
                    name(&p.status),
                    ot(p.decided_by.as_deref()),
                    oi(p.decided_at.map(|t| t.0)),
                ],
            )?;
        }
        DutyOp::DecideProposal {
            proposal,
            status,
            by,
            at,
        } => {
            let n = sql.exec(
                "update zone_proposals set status = $1, decided_by = $2, decided_at = $3
                 where id = $4 and status = 'open'",
                &[name(status), t(by), i(at.0), u64_i(proposal.0)],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(ConflictKind::ProposalDecided));
            }
        }
        DutyOp::InsertArrival(a) => {
            sql.exec(
                &format!(
                    "insert into arrivals ({ARRIVAL_COLUMNS}) values ({})",
                    placeholders(1, 8)
                ),
                &[
                    u64_i(a.id.0),
                    i(a.person.0),
                    t(&a.origin),
                    name(&a.risk),
                    t(&a.regime),
                    i(a.planned_at.0),
                    oi(a.arrived_at.map(|t| t.0)),
                    i(a.registered_at.0),
                ],
            )?;
        }
        DutyOp::MarkArrived { arrival, at } => {
            let n = sql.exec(
                "update arrivals set arrived_at = $1 where id = $2 and arrived_at is null",
                &[i(at.0), u64_i(arrival.0)],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(ConflictKind::AlreadyArrived));
            }
        }
    }
    Ok(())
}

/// Reserves `n` consecutive ids of a kind; returns the first.
fn reserve_ids(sql: &mut dyn Sql, kind: &str, n: u64) -> Result<i64> {
    let rows = sql.rows("select next_id from duty_ids where kind = $1", &[t(kind)])?;
    let first = match rows.first() {
        Some(r) => Cols::new(r).i()?,
        None => {
            sql.exec(
                "insert into duty_ids (kind, next_id) values ($1, 1)",
                &[t(kind)],
            )?;
            1
        }
    };
    sql.exec(
        "update duty_ids set next_id = $1 where kind = $2",
        &[i(first + i64::try_from(n).unwrap_or(i64::MAX)), t(kind)],
    )?;
    Ok(first)
}

// ---------------------------------------------------------------------------------------
// The trait, once for both backends.

impl<B: DutyBackend> DutyStore for B {
    fn put_grid_cells(&self, cells: &[GridCellRecord]) -> Result<()> {
        self.with_tx(|sql| {
            for c in cells {
                sql.exec("delete from grid_cells where cell = $1", &[i(c.cell.0)])?;
                sql.exec(
                    &format!(
                        "insert into grid_cells ({CELL_COLUMNS}) values ({})",
                        placeholders(1, 6)
                    ),
                    &[
                        i(c.cell.0),
                        t(c.community.as_str()),
                        t(&c.name),
                        Val::F(c.lat),
                        Val::F(c.lon),
                        ot(c.worker.as_deref()),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn grid_cells(&self) -> Result<Vec<GridCellRecord>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    &format!("select {CELL_COLUMNS} from grid_cells order by cell"),
                    &[],
                )?,
                cell_of,
            )
        })
    }

    fn put_area_names(&self, names: &[(AreaCode, String)]) -> Result<()> {
        self.with_tx(|sql| {
            for (code, name) in names {
                sql.exec(
                    "delete from area_names where code = $1",
                    &[t(code.as_str())],
                )?;
                sql.exec(
                    "insert into area_names (code, name) values ($1, $2)",
                    &[t(code.as_str()), t(name)],
                )?;
            }
            Ok(())
        })
    }

    fn area_names(&self) -> Result<Vec<(AreaCode, String)>> {
        self.with_read(|sql| {
            all(
                sql.rows("select code, name from area_names order by code", &[])?,
                |r| {
                    let mut c = Cols::new(r);
                    Ok((c.area()?, c.t()?))
                },
            )
        })
    }

    fn cells_of_worker(&self, worker: &str) -> Result<Vec<GridCell>> {
        self.with_read(|sql| {
            sql.rows(
                "select cell from grid_cells where worker = $1 order by cell",
                &[t(worker)],
            )?
            .iter()
            .map(|r| Cols::new(r).u32().map(GridCell))
            .collect()
        })
    }

    fn put_site(&self, s: &SiteRecord) -> Result<()> {
        self.with_tx(|sql| {
            let n = sql.exec(
                "update quarantine_sites set name = $1, kind = $2, area = $3, lat = $4, lon = $5,
                 capacity = $6, manager = $7 where id = $8",
                &[
                    t(&s.name),
                    t(s.kind.as_str()),
                    t(s.area.as_str()),
                    Val::F(s.lat),
                    Val::F(s.lon),
                    i(s.capacity),
                    ot(s.manager.as_deref()),
                    u64_i(s.id.0),
                ],
            )?;
            if n == 0 {
                sql.exec(
                    &format!(
                        "insert into quarantine_sites ({SITE_COLUMNS}) values ({})",
                        placeholders(1, 9)
                    ),
                    &[
                        u64_i(s.id.0),
                        t(&s.name),
                        t(s.kind.as_str()),
                        t(s.area.as_str()),
                        Val::F(s.lat),
                        Val::F(s.lon),
                        i(s.capacity),
                        i(0),
                        ot(s.manager.as_deref()),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn sites(&self) -> Result<Vec<SiteRecord>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    &format!("select {SITE_COLUMNS} from quarantine_sites order by id"),
                    &[],
                )?,
                site_of,
            )
        })
    }

    fn next_duty_id(&self, kind: &str) -> Result<u64> {
        let first = self.with_tx(|sql| reserve_ids(sql, kind, 1))?;
        u64::try_from(first).map_err(|_| StoreError::Corrupt("negative id".into()))
    }

    fn commit_duties(&self, ops: &[DutyOp], events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        self.with_tx(|sql| {
            apply_ops(sql, ops)?;
            sql.append_events(events)
        })
    }

    fn order(&self, id: OrderId) -> Result<Option<OrderRecord>> {
        self.with_read(|sql| {
            one(
                sql.rows(
                    &format!("select {ORDER_COLUMNS} from quarantine_orders where id = $1"),
                    &[u64_i(id.0)],
                )?,
                order_of,
            )
        })
    }

    fn orders(&self, f: &OrderFilter) -> Result<Vec<OrderRecord>> {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        if let Some(p) = f.person {
            params.push(i(p.0));
            conds.push(format!("person = ${}", params.len()));
        }
        if let Some(s) = f.site {
            params.push(u64_i(s.0));
            conds.push(format!("site = ${}", params.len()));
        }
        if f.active_only {
            conds.push("status = 'active'".to_owned());
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!("where {}", conds.join(" and "))
        };
        params.push(i(if f.limit == 0 { 1000 } else { f.limit }));
        let sql_text = format!(
            "select {ORDER_COLUMNS} from quarantine_orders {filter} order by id desc limit ${}",
            params.len()
        );
        self.with_read(|sql| all(sql.rows(&sql_text, &params)?, order_of))
    }

    fn reports_of(&self, person: PersonId) -> Result<Vec<ReportRecord>> {
        self.with_read(|sql| {
            sql.rows(
                "select at, temperature_tenths, symptoms, reporter from health_reports
                 where person = $1 order by at",
                &[i(person.0)],
            )?
            .iter()
            .map(|r| {
                let mut c = Cols::new(r);
                let at = c.ts()?;
                let temp = c.i()?;
                let symptoms = c.t()?;
                Ok(ReportRecord {
                    person,
                    at,
                    temperature_tenths: u16::try_from(temp)
                        .map_err(|_| StoreError::Corrupt(format!("temperature {temp}")))?,
                    symptoms: symptoms
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    reporter: c.t()?,
                })
            })
            .collect()
        })
    }

    fn reporters_on(&self, day: CivilDay) -> Result<Vec<PersonId>> {
        self.with_read(|sql| {
            sql.rows(
                "select distinct person from health_reports where day = $1 order by person",
                &[i(day.0)],
            )?
            .iter()
            .map(|r| Cols::new(r).u32().map(PersonId))
            .collect()
        })
    }

    fn open_tasks_of_cells(&self, cells: &[GridCell], limit: u32) -> Result<Vec<TaskRecord>> {
        if cells.is_empty() {
            return Ok(Vec::new());
        }
        // One indexed range per cell (the partial index on open tasks is keyed by cell and
        // due time), merged here: the cost does not depend on the number of open tasks
        // elsewhere in the city.
        let mut out = Vec::new();
        self.with_read(|sql| {
            for c in cells {
                let rows = sql.rows(
                    &format!(
                        "select {TASK_COLUMNS} from grid_tasks where cell = $1 and done_at is null
                         order by due_at, id limit $2"
                    ),
                    &[i(c.0), i(limit)],
                )?;
                out.extend(all(rows, task_of)?);
            }
            Ok(())
        })?;
        out.sort_by_key(|t| (t.due_at, t.id));
        out.truncate(limit as usize);
        Ok(out)
    }

    fn task(&self, id: TaskId) -> Result<Option<TaskRecord>> {
        self.with_read(|sql| {
            one(
                sql.rows(
                    &format!("select {TASK_COLUMNS} from grid_tasks where id = $1"),
                    &[u64_i(id.0)],
                )?,
                task_of,
            )
        })
    }

    fn overdue_by_cell(&self, now: Timestamp) -> Result<Vec<(GridCell, u64)>> {
        self.with_read(|sql| {
            sql.rows(
                "select cell, count(*) from grid_tasks where done_at is null and due_at < $1
                 group by cell order by cell",
                &[i(now.0)],
            )?
            .iter()
            .map(|r| {
                let mut c = Cols::new(r);
                Ok((GridCell(c.u32()?), c.u64()?))
            })
            .collect()
        })
    }

    fn count_open_tasks(&self) -> Result<u64> {
        self.with_read(|sql| {
            let rows = sql.rows("select count(*) from grid_tasks where done_at is null", &[])?;
            rows.first().map_or(Ok(0), |r| Cols::new(r).u64())
        })
    }

    fn households_in_cells(&self, cells: &[GridCell]) -> Result<Vec<(HouseholdId, GridCell)>> {
        let mut out = Vec::new();
        self.with_read(|sql| {
            for chunk in cells.chunks(500) {
                let params: Vec<Val> = chunk.iter().map(|c| i(c.0)).collect();
                let rows = sql.rows(
                    &format!(
                        "select household, min(home_cell) from people where home_cell in ({})
                         group by household order by household",
                        placeholders(1, chunk.len())
                    ),
                    &params,
                )?;
                for r in &rows {
                    let mut c = Cols::new(r);
                    out.push((HouseholdId(c.u32()?), GridCell(c.u32()?)));
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn zones(&self) -> Result<Vec<ZoneRecord>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    &format!("select {ZONE_COLUMNS} from zones order by id"),
                    &[],
                )?,
                zone_of,
            )
        })
    }

    fn proposals(&self, zone: Option<ZoneId>) -> Result<Vec<ProposalRecord>> {
        self.with_read(|sql| {
            let rows = match zone {
                Some(z) => sql.rows(
                    &format!(
                        "select {PROPOSAL_COLUMNS} from zone_proposals where zone = $1 order by id desc"
                    ),
                    &[u64_i(z.0)],
                )?,
                None => sql.rows(
                    &format!("select {PROPOSAL_COLUMNS} from zone_proposals order by id desc"),
                    &[],
                )?,
            };
            all(rows, proposal_of)
        })
    }

    fn put_origin(&self, o: &OriginRecord) -> Result<()> {
        self.with_tx(|sql| {
            sql.exec("delete from origins where code = $1", &[t(&o.code)])?;
            sql.exec(
                "insert into origins (code, name, risk, updated_at, updated_by) values ($1, $2, $3, $4, $5)",
                &[
                    t(&o.code),
                    t(&o.name),
                    name(&o.risk),
                    i(o.updated_at.0),
                    t(&o.updated_by),
                ],
            )?;
            Ok(())
        })
    }

    fn origin(&self, code: &str) -> Result<Option<OriginRecord>> {
        Ok(self.origins_where(Some(code))?.into_iter().next())
    }

    fn origins(&self) -> Result<Vec<OriginRecord>> {
        self.origins_where(None)
    }

    fn arrival(&self, id: ArrivalId) -> Result<Option<ArrivalRecord>> {
        self.with_read(|sql| {
            one(
                sql.rows(
                    &format!("select {ARRIVAL_COLUMNS} from arrivals where id = $1"),
                    &[u64_i(id.0)],
                )?,
                arrival_of,
            )
        })
    }

    fn arrived_since(&self, since: Timestamp) -> Result<Vec<ArrivalRecord>> {
        self.with_read(|sql| {
            all(
                sql.rows(
                    &format!(
                        "select {ARRIVAL_COLUMNS} from arrivals where arrived_at >= $1 order by id"
                    ),
                    &[i(since.0)],
                )?,
                arrival_of,
            )
        })
    }

    fn put_sentinel(&self, s: &SentinelRecord) -> Result<()> {
        self.with_tx(|sql| {
            sql.exec("delete from sentinels where venue = $1", &[i(s.venue.0)])?;
            sql.exec(
                "insert into sentinels (venue, kind, registered_at, registered_by) values ($1, $2, $3, $4)",
                &[
                    i(s.venue.0),
                    name(&s.kind),
                    i(s.registered_at.0),
                    t(&s.registered_by),
                ],
            )?;
            Ok(())
        })
    }

    fn sentinel(&self, venue: VenueId) -> Result<Option<SentinelRecord>> {
        self.with_read(|sql| {
            sql.rows(
                "select venue, kind, registered_at, registered_by from sentinels where venue = $1",
                &[i(venue.0)],
            )?
            .first()
            .map(|r| {
                let mut c = Cols::new(r);
                Ok(SentinelRecord {
                    venue: VenueId(c.u32()?),
                    kind: c.en("sentinel kind")?,
                    registered_at: c.ts()?,
                    registered_by: c.t()?,
                })
            })
            .transpose()
        })
    }
}

/// Helpers shared by the blanket implementation.
trait OriginsWhere {
    fn origins_where(&self, code: Option<&str>) -> Result<Vec<OriginRecord>>;
}

impl<B: DutyBackend> OriginsWhere for B {
    fn origins_where(&self, code: Option<&str>) -> Result<Vec<OriginRecord>> {
        self.with_read(|sql| {
            let rows = match code {
                Some(c) => sql.rows(
                    "select code, name, risk, updated_at, updated_by from origins where code = $1",
                    &[t(c)],
                )?,
                None => sql.rows(
                    "select code, name, risk, updated_at, updated_by from origins order by code",
                    &[],
                )?,
            };
            rows.iter()
                .map(|r| {
                    let mut c = Cols::new(r);
                    Ok(OriginRecord {
                        code: c.t()?,
                        name: c.t()?,
                        risk: c.en("risk level")?,
                        updated_at: c.ts()?,
                        updated_by: c.t()?,
                    })
                })
                .collect()
        })
    }
}

/// The values of one task row for the bulk inserts of both dialects.
pub(crate) struct TaskColumns {
    pub ids: Vec<i64>,
    pub cells: Vec<i64>,
    pub kinds: Vec<String>,
    pub persons: Vec<Option<i64>>,
    pub households: Vec<Option<i64>>,
    pub details: Vec<String>,
    pub created: Vec<i64>,
    pub due: Vec<i64>,
    pub dedupe: Vec<Option<String>>,
}

impl TaskColumns {
    pub(crate) fn of(first: i64, tasks: &[NewTask]) -> TaskColumns {
        TaskColumns {
            ids: (0..tasks.len() as i64).map(|k| first + k).collect(),
            cells: tasks.iter().map(|t| i64::from(t.cell.0)).collect(),
            kinds: tasks.iter().map(|t| t.kind.as_str().to_owned()).collect(),
            persons: tasks
                .iter()
                .map(|t| t.person.map(|p| i64::from(p.0)))
                .collect(),
            households: tasks
                .iter()
                .map(|t| t.household.map(|h| i64::from(h.0)))
                .collect(),
            details: tasks.iter().map(|t| t.detail.clone()).collect(),
            created: tasks.iter().map(|t| t.created_at.0).collect(),
            due: tasks.iter().map(|t| t.due_at.0).collect(),
            dedupe: tasks.iter().map(|t| t.dedupe.clone()).collect(),
        }
    }
}

/// The columns a bulk task insert writes, in order.
pub(crate) const TASK_INSERT_COLUMNS: &str =
    "id, cell, kind, person, household, detail, created_at, due_at, dedupe";
