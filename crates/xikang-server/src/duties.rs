//! Duties over HTTP (issue 5): the administrative grid and grid workers' tasks, quarantine
//! sites and orders with their test plans, daily health reports, zones with system-proposed
//! and official-approved changes, arrivals and sentinel reports.
//!
//! Every change that can alter a colour or a duty is an authority event, committed in the
//! same transaction as the duty rows it goes with ([`commit`]); the numbers come from the
//! active policy's `[duties]` section. The functions that do the work (`seal_zone`,
//! `approve_proposal`, …) are public so that the benchmark times exactly what a request does.

use crate::app::projection::lock;
use crate::app::{Actor, Role, Write, authorise};
use crate::error::AppError;
use crate::json::parse;
use crate::state::{AppState, read};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use xikang_domain::duties::{
    LiftCondition, Polygon, Regime, ReleaseCheck, SiteKind, TaskKind, ZoneEvidence, all_hold,
    lift_conditions, release_check, report_deadline, temperature_tenths, variant,
};
use xikang_domain::event::{
    EventBody, NewEvent, QuarantineKind, QuarantineReason, RiskLevel, SentinelKind, StoredEvent,
    ZoneLevel,
};
use xikang_domain::time::{DAY, HOUR};
use xikang_domain::{
    AreaCode, ArrivalId, CivilDay, GridCell, OrderId, PersonId, ProposalId, SiteId, TaskId,
    TestOutcome, Timestamp, VenueId, ZoneId,
};
use xikang_store::{
    ArrivalRecord, DutyOp, GridCellRecord, NewTask, OrderFilter, OrderRecord, OrderStatus,
    OriginRecord, ProposalAction, ProposalRecord, ProposalStatus, ReportRecord, SentinelRecord,
    SiteRecord, StoreError, ZoneRecord,
};

/// The duty routes, merged into `/api/v1`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/grid/cells", get(list_cells).post(post_cells))
        .route("/grid/tasks", get(list_tasks))
        .route("/grid/tasks/{id}/complete", post(complete_task))
        .route("/grid/overdue", get(overdue))
        .route("/grid/unsampled", post(unsampled))
        .route("/quarantine/sites", get(list_sites).post(post_site))
        .route("/quarantine/orders", get(list_orders).post(post_order))
        .route("/quarantine/orders/{id}", get(get_order))
        .route("/quarantine/orders/{id}/transfer", post(transfer))
        .route("/quarantine/orders/{id}/release", post(release))
        .route("/quarantine/reports", post(post_report))
        .route("/quarantine/follow-ups", get(follow_ups))
        .route("/duties/sweep", post(sweep))
        .route("/zones", get(list_zones).post(post_zone))
        .route("/zones/{id}/conditions", get(zone_conditions))
        .route("/zones/{id}/proposals", post(propose_manually))
        .route("/zones/proposals", get(list_proposals))
        .route("/zones/proposals/run", post(run_proposals))
        .route("/zones/proposals/{id}/approve", post(approve))
        .route("/zones/proposals/{id}/reject", post(reject))
        .route("/arrivals/origins", get(list_origins).post(post_origin))
        .route("/arrivals", post(post_arrival))
        .route("/arrivals/{id}/arrived", post(arrived))
        .route("/sentinels", post(post_sentinel))
        .route("/sentinels/reports", post(post_sentinel_report))
}

// ---------------------------------------------------------------------------------------
// Plumbing.

fn bad(code: &'static str, m: impl Into<String>) -> AppError {
    AppError::bad(code, m)
}

fn conflict(code: &'static str, m: impl Into<String>) -> AppError {
    AppError::Conflict {
        code,
        message: m.into(),
    }
}

fn unprocessable(code: &'static str, m: impl Into<String>, details: Option<Value>) -> AppError {
    AppError::Unprocessable {
        code,
        message: m.into(),
        details,
    }
}

/// Maps the store's refusals to stable API codes.
fn store_err(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict(c) => {
            let (code, message): (&'static str, &str) = match c.as_str() {
                "site_full" => ("site_full", "the site is full"),
                "order_not_active" => ("order_not_active", "the order is no longer active"),
                "same_site" => ("same_site", "the person is already at that site"),
                "task_done" => ("task_done", "the task was already completed"),
                "zone_not_active" => ("zone_not_active", "the zone was already lifted"),
                "proposal_open" => (
                    "proposal_open",
                    "the zone already has an open proposal; decide it first",
                ),
                "proposal_decided" => ("proposal_decided", "the proposal was already decided"),
                "arrived" => ("already_arrived", "the arrival was already recorded"),
                // Any other unique key (e.g. two reports of one person in the same second)
                // is the caller's repeat, not our failure.
                _ => (
                    "conflict",
                    "this conflicts with a record already stored; nothing was changed",
                ),
            };
            conflict(code, message)
        }
        StoreError::NotFound => AppError::not_found("unknown_resource", "no such resource"),
        other => AppError::Internal(format!("store: {other}")),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f).await?.map_err(store_err)
}

/// Commits duty rows and their authority events in one transaction, then applies the
/// events to the projection ([`AppState::commit`]).
pub async fn commit(
    state: &AppState,
    ops: Vec<DutyOp>,
    events: Vec<NewEvent>,
) -> Result<Vec<StoredEvent>, AppError> {
    Ok(state
        .commit(Write::Duties { ops, events })
        .await
        .map_err(store_err)?
        .events)
}

pub(crate) fn parse_id(s: &str, prefix: &str, what: &'static str) -> Result<u64, AppError> {
    s.strip_prefix(prefix)
        .unwrap_or(s)
        .parse()
        .map_err(|_| bad(what, format!("an id looks like {prefix}123")))
}

fn person_id(s: &str) -> Result<PersonId, AppError> {
    crate::wire::parse_person_id(s)
        .ok_or_else(|| bad("invalid_person_id", "a person id looks like P123"))
}

fn home_cell(state: &AppState, p: PersonId) -> Result<GridCell, AppError> {
    state
        .projection
        .home_cell(p)
        .ok_or_else(|| AppError::not_found("unknown_person", format!("no person {p}")))
}

fn due_end_of(day: CivilDay) -> Timestamp {
    CivilDay(day.0 + 1).start()
}

/// Test tasks for the days of a plan, on the person's home grid cell.
fn test_tasks(
    person: PersonId,
    cell: GridCell,
    days: &[u32],
    start: Timestamp,
    now: Timestamp,
    tag: &str,
) -> Vec<NewTask> {
    Regime::test_dates(days, start)
        .into_iter()
        .map(|(d, day)| NewTask {
            cell,
            kind: TaskKind::ArrangeTest,
            person: Some(person),
            household: None,
            detail: format!("arrange the day-{d} test of {person} ({tag})"),
            created_at: now,
            due_at: due_end_of(day),
            dedupe: Some(format!("test:{tag}:{person}:{}", day.0)),
        })
        .collect()
}

fn schedule_json(days: &[u32], start: Timestamp) -> Value {
    Value::Array(
        Regime::test_dates(days, start)
            .into_iter()
            .map(|(d, day)| json!({"day": d, "date": day.compact()}))
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------
// Grid.

#[derive(Debug, Deserialize)]
struct CellIn {
    cell: u32,
    community: String,
    name: String,
    lat: f64,
    lon: f64,
    #[serde(default)]
    worker: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CellsIn {
    cells: Vec<CellIn>,
}

/// Validates grid rows from the API or a CSV import.
pub fn grid_record(
    cell: u32,
    community: &str,
    name: &str,
    lat: f64,
    lon: f64,
    worker: Option<&str>,
) -> Result<GridCellRecord, String> {
    let community = AreaCode::parse(community).map_err(|e| e.to_string())?;
    if community.as_str().len() != 12 {
        return Err(format!(
            "cell {cell}: the community code must have 12 digits"
        ));
    }
    if name.trim().is_empty() || name.len() > 200 {
        return Err(format!("cell {cell}: a name of 1-200 bytes is needed"));
    }
    if !(lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon))
    {
        return Err(format!("cell {cell}: latitude or longitude out of range"));
    }
    let worker = worker.map(str::trim).filter(|w| !w.is_empty());
    if worker.is_some_and(|w| w.len() > 100) {
        return Err(format!("cell {cell}: worker name too long"));
    }
    Ok(GridCellRecord {
        cell: GridCell(cell),
        community,
        name: name.trim().to_owned(),
        lat,
        lon,
        worker: worker.map(str::to_owned),
    })
}

async fn post_cells(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "importing the grid")?;
    let b: CellsIn = parse(&headers, &body)?;
    if b.cells.is_empty() || b.cells.len() > 100_000 {
        return Err(bad("invalid_cells", "send 1 to 100,000 cells"));
    }
    let rows = b
        .cells
        .iter()
        .map(|c| {
            grid_record(
                c.cell,
                &c.community,
                &c.name,
                c.lat,
                c.lon,
                c.worker.as_deref(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| bad("invalid_cells", m))?;
    if rows.iter().any(|c| !caller.covers(&c.community)) {
        return Err(AppError::Forbidden("a cell lies outside your jurisdiction"));
    }
    let n = rows.len();
    let store = state.store.clone();
    blocking(move || store.put_grid_cells(&rows)).await?;
    Ok((StatusCode::CREATED, Json(json!({"imported": n}))).into_response())
}

async fn list_cells(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Value>, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "listing the grid",
    )?;
    let store = state.store.clone();
    let cells = blocking(move || store.grid_cells()).await?;
    let mine: Option<HashSet<GridCell>> = if caller.role == Role::GridWorker {
        Some(
            authorise::cells_of(&state, &caller)
                .await?
                .into_iter()
                .collect(),
        )
    } else {
        None
    };
    let out: Vec<Value> = cells
        .iter()
        .filter(|c| caller.covers(&c.community))
        .filter(|c| mine.as_ref().is_none_or(|m| m.contains(&c.cell)))
        .map(|c| {
            json!({"cell": c.cell.0, "community": c.community, "name": c.name,
                   "lat": c.lat, "lon": c.lon, "worker": c.worker})
        })
        .collect();
    Ok(Json(json!({"cells": out})))
}

#[derive(Debug, Deserialize)]
struct TaskQuery {
    cell: Option<u32>,
    limit: Option<u32>,
}

fn task_json(t: &xikang_store::TaskRecord) -> Value {
    json!({
        "id": t.id.to_string(), "cell": t.cell.0, "kind": t.kind.as_str(),
        "person": t.person.map(|p| p.to_string()),
        "household": t.household.map(|h| h.to_string()),
        "detail": t.detail, "created_at": t.created_at.to_rfc3339(),
        "due_at": t.due_at.to_rfc3339(),
        "done_at": t.done_at.map(Timestamp::to_rfc3339), "note": t.note,
    })
}

/// The open tasks of a grid worker's cells (or, for staff, of one cell), earliest due first.
pub fn tasks_for(
    store: &dyn xikang_store::Store,
    cells: &[GridCell],
    limit: u32,
) -> Result<Vec<xikang_store::TaskRecord>, StoreError> {
    store.open_tasks_of_cells(cells, limit)
}

async fn list_tasks(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<TaskQuery>,
) -> Result<Json<Value>, AppError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad("invalid_limit", "limit must be from 1 to 500"));
    }
    let cells = match caller.role {
        Role::GridWorker => {
            let mine = authorise::cells_of(&state, &caller).await?;
            match q.cell {
                Some(c) if !mine.contains(&GridCell(c)) => {
                    return Err(AppError::Forbidden("that cell is not yours"));
                }
                Some(c) => vec![GridCell(c)],
                None => mine,
            }
        }
        Role::Admin | Role::Tracer => match q.cell {
            Some(c) => {
                authorise::cells(&state, &caller, &[GridCell(c)]).await?;
                vec![GridCell(c)]
            }
            None => {
                return Err(bad(
                    "cell_required",
                    "give ?cell= (grid workers see their own cells)",
                ));
            }
        },
        _ => {
            return Err(AppError::Forbidden(
                "task lists are for grid workers and staff",
            ));
        }
    };
    let store = state.store.clone();
    let tasks = blocking(move || tasks_for(store.as_ref(), &cells, limit)).await?;
    Ok(Json(
        json!({"tasks": tasks.iter().map(task_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Deserialize)]
struct CompleteIn {
    note: String,
}

pub async fn complete_task(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::GridWorker, Role::Admin], "completing tasks")?;
    let id = TaskId(parse_id(&id, "T", "invalid_task_id")?);
    let b: CompleteIn = parse(&headers, &body)?;
    complete_grid_task(&state, &caller, id, &b.note).await?;
    Ok(Json(json!({"task": id.to_string(), "done": true})))
}

/// Marks a grid task done with a note of 1–1000 characters (the command behind
/// `POST /api/v1/grid/tasks/{id}/complete` and the grid page): the worker of its cell or
/// an admin of its area.
pub async fn complete_grid_task(
    state: &AppState,
    caller: &Actor,
    id: TaskId,
    note: &str,
) -> Result<(), AppError> {
    caller.require(&[Role::GridWorker, Role::Admin], "completing tasks")?;
    let note = note.trim().to_owned();
    if note.is_empty() || note.chars().count() > 1000 {
        return Err(bad(
            "invalid_note",
            "a completion note of 1-1000 characters is needed",
        ));
    }
    let store = state.store.clone();
    let task = blocking(move || store.task(id))
        .await?
        .ok_or_else(|| AppError::not_found("unknown_task", format!("no task {id}")))?;
    if caller.role == Role::GridWorker
        && !authorise::cells_of(state, caller)
            .await?
            .contains(&task.cell)
    {
        return Err(AppError::Forbidden("that task is in another worker's cell"));
    }
    authorise::cells(state, caller, &[task.cell]).await?;
    let op = DutyOp::CompleteTask {
        task: id,
        at: crate::now(),
        by: caller.actor(),
        note,
    };
    commit(state, vec![op], Vec::new()).await?;
    Ok(())
}

/// Overdue open tasks per cell, rolled up per street (9 digits) and district (6 digits).
pub fn overdue_rollup(
    cells: &[GridCellRecord],
    per_cell: &[(GridCell, u64)],
    within: &AreaCode,
) -> Value {
    let community: HashMap<GridCell, &AreaCode> =
        cells.iter().map(|c| (c.cell, &c.community)).collect();
    let mut streets: BTreeMap<String, u64> = BTreeMap::new();
    let mut districts: BTreeMap<String, u64> = BTreeMap::new();
    let mut out_cells = Vec::new();
    for (cell, n) in per_cell {
        let Some(c) = community.get(cell) else {
            continue;
        };
        if !within.contains(c) {
            continue;
        }
        let s = c.as_str();
        *streets.entry(s[..9].to_owned()).or_default() += n;
        *districts.entry(s[..6].to_owned()).or_default() += n;
        out_cells.push(json!({"cell": cell.0, "community": s, "overdue": n}));
    }
    json!({
        "cells": out_cells,
        "streets": streets.iter().map(|(k, v)| json!({"street": k, "overdue": v})).collect::<Vec<_>>(),
        "districts": districts.iter().map(|(k, v)| json!({"district": k, "overdue": v})).collect::<Vec<_>>(),
        "total": per_cell.iter().filter(|(c, _)| community.get(c).is_some_and(|a| within.contains(a))).map(|(_, n)| n).sum::<u64>(),
    })
}

async fn overdue(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Value>, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "overdue tasks",
    )?;
    let store = state.store.clone();
    let now = crate::now();
    let (cells, per_cell) =
        blocking(move || Ok((store.grid_cells()?, store.overdue_by_cell(now)?))).await?;
    let per_cell: Vec<(GridCell, u64)> = if caller.role == Role::GridWorker {
        let mine: HashSet<GridCell> = authorise::cells_of(&state, &caller)
            .await?
            .into_iter()
            .collect();
        per_cell
            .into_iter()
            .filter(|(c, _)| mine.contains(c))
            .collect()
    } else {
        per_cell
    };
    Ok(Json(overdue_rollup(&cells, &per_cell, &caller.area)))
}

#[derive(Debug, Deserialize)]
struct UnsampledIn {
    /// When the screening round began.
    since: String,
    cells: Vec<u32>,
}

/// The grid task for a resident not sampled in the screening round that began at `since`:
/// one per person and round (the dedupe key), whether it comes from `POST /grid/unsampled`
/// or from the round's closing.
pub(crate) fn unsampled_task(
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

/// Residents of the given cells not sampled since a screening round began become
/// `unsampled_resident` tasks for their grid worker (once per person and round).
async fn unsampled(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin, Role::Tracer], "screening-round follow-up")?;
    let b: UnsampledIn = parse(&headers, &body)?;
    let since =
        Timestamp::parse_rfc3339(&b.since).map_err(|e| bad("invalid_time", e.to_string()))?;
    let now = crate::now();
    if since > now || since < now.plus(-14 * DAY) {
        return Err(bad(
            "invalid_since",
            "a round that began within the last 14 days",
        ));
    }
    if b.cells.is_empty() || b.cells.len() > 50_000 {
        return Err(bad("invalid_cells", "name 1 to 50,000 grid cells"));
    }
    let store = state.store.clone();
    let grid = blocking(move || store.grid_cells()).await?;
    let known: HashMap<GridCell, &GridCellRecord> = grid.iter().map(|c| (c.cell, c)).collect();
    let mut cells = HashSet::new();
    for c in &b.cells {
        let rec = known.get(&GridCell(*c)).ok_or_else(|| {
            unprocessable(
                "unknown_cell",
                format!("grid cell {c} is not in the grid"),
                None,
            )
        })?;
        if !caller.covers(&rec.community) {
            return Err(AppError::Forbidden("a cell lies outside your jurisdiction"));
        }
        cells.insert(GridCell(*c));
    }
    let due = now.plus(i64::from(state.policy().duties().task_due_hours) * HOUR);
    let tasks: Vec<NewTask> = read(&state.projection.people)
        .iter()
        .enumerate()
        .filter(|(_, s)| s.community != u32::MAX && cells.contains(&s.home_cell))
        .filter(|(_, s)| s.facts.last_sample().is_none_or(|t| t < since))
        .map(|(i, s)| unsampled_task(PersonId(i as u32), s.home_cell, since, now, due))
        .collect();
    let n = tasks.len();
    commit(&state, vec![DutyOp::InsertTasks(tasks)], Vec::new()).await?;
    Ok((StatusCode::CREATED, Json(json!({"unsampled": n}))).into_response())
}

// ---------------------------------------------------------------------------------------
// Quarantine sites and orders.

#[derive(Debug, Deserialize)]
struct SiteIn {
    name: String,
    kind: String,
    area: String,
    lat: f64,
    lon: f64,
    capacity: u32,
    #[serde(default)]
    manager: Option<String>,
}

fn site_json(s: &SiteRecord) -> Value {
    json!({"id": s.id.to_string(), "name": s.name, "kind": s.kind.as_str(), "area": s.area,
           "lat": s.lat, "lon": s.lon, "capacity": s.capacity, "occupancy": s.occupancy,
           "free": s.capacity.saturating_sub(s.occupancy), "manager": s.manager})
}

async fn post_site(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "registering quarantine sites")?;
    let b: SiteIn = parse(&headers, &body)?;
    let kind = SiteKind::parse(&b.kind)
        .ok_or_else(|| bad("invalid_site_kind", "kind is centralized or health_station"))?;
    let area = AreaCode::parse(&b.area).map_err(|e| bad("invalid_area", e.to_string()))?;
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "the site lies outside your jurisdiction",
        ));
    }
    if b.name.trim().is_empty() || b.capacity == 0 || b.capacity > 100_000 {
        return Err(bad(
            "invalid_site",
            "a name and a capacity of 1 to 100,000 are needed",
        ));
    }
    if !(b.lat.is_finite() && b.lon.is_finite() && b.lat.abs() <= 90.0 && b.lon.abs() <= 180.0) {
        return Err(bad("invalid_site", "latitude or longitude out of range"));
    }
    let store = state.store.clone();
    let id = SiteId(blocking(move || store.next_duty_id("site")).await?);
    let site = SiteRecord {
        id,
        name: b.name.trim().to_owned(),
        kind,
        area,
        lat: b.lat,
        lon: b.lon,
        capacity: b.capacity,
        occupancy: 0,
        manager: b.manager.filter(|m| !m.trim().is_empty()),
    };
    let store = state.store.clone();
    let s2 = site.clone();
    blocking(move || store.put_site(&s2)).await?;
    Ok((StatusCode::CREATED, Json(site_json(&site))).into_response())
}

async fn list_sites(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Value>, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::SiteManager],
        "listing sites",
    )?;
    let store = state.store.clone();
    let sites = blocking(move || store.sites()).await?;
    let out: Vec<Value> = sites
        .iter()
        .filter(|s| match caller.role {
            Role::SiteManager => s.manager.as_deref() == Some(caller.name.as_str()),
            _ => caller.covers(&s.area),
        })
        .map(site_json)
        .collect();
    Ok(Json(json!({"sites": out})))
}

fn distance2(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dx = (a.0 - b.0) * (a.1.to_radians().cos());
    let dy = a.1 - b.1;
    dx * dx + dy * dy
}

/// The nearest other site of the same kind with room.
fn nearest_with_room(sites: &[SiteRecord], full: &SiteRecord) -> Option<SiteRecord> {
    sites
        .iter()
        .filter(|s| s.id != full.id && s.kind == full.kind && s.occupancy < s.capacity)
        .min_by(|a, b| {
            let da = distance2((a.lon, a.lat), (full.lon, full.lat));
            let db = distance2((b.lon, b.lat), (full.lon, full.lat));
            da.total_cmp(&db)
        })
        .cloned()
}

async fn site_full_error(state: &AppState, site: SiteId) -> AppError {
    let store = state.store.clone();
    let sites = match blocking(move || store.sites()).await {
        Ok(s) => s,
        Err(e) => return e,
    };
    let nearest = sites
        .iter()
        .find(|s| s.id == site)
        .and_then(|full| nearest_with_room(&sites, full));
    unprocessable(
        "site_full",
        match &nearest {
            Some(n) => format!(
                "site {site} is full; the nearest site with room is {} ({})",
                n.id, n.name
            ),
            None => format!("site {site} is full and no other site of its kind has room"),
        },
        Some(json!({"nearest": nearest.as_ref().map(site_json)})),
    )
}

fn order_json(o: &OrderRecord, regime: Option<&Regime>) -> Value {
    let days: Vec<u32> = regime
        .map(|r| {
            if o.then_phase {
                r.then_test_days.clone()
            } else {
                r.test_days.clone()
            }
        })
        .unwrap_or_default();
    json!({
        "id": o.id.to_string(), "person": o.person.to_string(), "regime": o.regime,
        "kind": xikang_domain::duties::variant_name(&o.kind),
        "reason": xikang_domain::duties::variant_name(&o.reason),
        "site": o.site.map(|s| s.to_string()), "start": o.start.to_rfc3339(),
        "planned_end": o.planned_end.to_rfc3339(),
        "ended_at": o.ended_at.map(Timestamp::to_rfc3339),
        "status": xikang_domain::duties::variant_name(&o.status),
        "follows": o.follows.map(|f| f.to_string()), "then_phase": o.then_phase,
        "tests": schedule_json(&days, o.start),
    })
}

#[derive(Debug, Deserialize)]
struct OrderIn {
    person: String,
    #[serde(default)]
    regime: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    site: Option<String>,
    #[serde(default)]
    start: Option<String>,
}

/// Issues an order under a regime: the order row, its `QuarantineOrdered` event and (for
/// orders at home) the test tasks, in one transaction. A full site refuses with the
/// nearest site with room. `before` (row changes and events, e.g. the arrival that causes
/// the order) commit in the same transaction, ahead of the order.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per field of the order a handler has already validated"
)]
pub async fn issue_order(
    state: &AppState,
    actor: String,
    person: PersonId,
    regime: &Regime,
    site: Option<SiteId>,
    start: Timestamp,
    now: Timestamp,
    basis: String,
    before: (Vec<DutyOp>, Vec<NewEvent>),
) -> Result<OrderRecord, AppError> {
    let kind = regime.kind.ok_or_else(|| {
        unprocessable(
            "regime_without_order",
            format!("regime {} issues no order (tests only)", regime.name),
            None,
        )
    })?;
    if kind == QuarantineKind::Centralized && site.is_none() {
        return Err(bad("site_required", "centralized quarantine needs a site"));
    }
    let store = state.store.clone();
    let active = blocking(move || {
        store.orders(&OrderFilter {
            person: Some(person),
            active_only: true,
            ..OrderFilter::default()
        })
    })
    .await?;
    if let Some(o) = active.first() {
        return Err(conflict(
            "order_exists",
            format!("{person} is already under order {}", o.id),
        ));
    }
    let cell = home_cell(state, person)?;
    let store = state.store.clone();
    let id = OrderId(blocking(move || store.next_duty_id("order")).await?);
    let order = OrderRecord {
        id,
        person,
        regime: regime.name.clone(),
        kind,
        reason: regime.reason,
        site,
        start,
        planned_end: regime.planned_end(start),
        ended_at: None,
        status: OrderStatus::Active,
        follows: None,
        then_phase: false,
    };
    let (mut ops, mut events) = before;
    ops.push(DutyOp::InsertOrder(order.clone()));
    if kind != QuarantineKind::Centralized {
        ops.push(DutyOp::InsertTasks(test_tasks(
            person,
            cell,
            &regime.test_days,
            start,
            now,
            &id.to_string(),
        )));
    }
    let event = NewEvent {
        at: now,
        actor,
        basis,
        body: EventBody::QuarantineOrdered {
            order: id,
            person,
            quarantine_kind: kind,
            reason: regime.reason,
            start,
            planned_end: order.planned_end,
        },
    };
    events.push(event);
    match commit(state, ops, events).await {
        Err(AppError::Conflict {
            code: "site_full", ..
        }) => Err(site_full_error(state, site.unwrap_or(SiteId(0))).await),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("unknown_site", "no such site")),
        Err(e) => Err(e),
        Ok(_) => Ok(order),
    }
}

pub(crate) fn parse_site(s: Option<&str>) -> Result<Option<SiteId>, AppError> {
    s.map(|s| parse_id(s, "S", "invalid_site_id").map(SiteId))
        .transpose()
}

async fn post_order(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "issuing quarantine orders")?;
    let b: OrderIn = parse(&headers, &body)?;
    let person = person_id(&b.person)?;
    authorise::duty_person(&state, &caller, person, None).await?;
    let policy = state.policy();
    let regime = match (&b.regime, &b.reason) {
        (Some(name), _) => policy.duties().regime(name).cloned().ok_or_else(|| {
            unprocessable(
                "unknown_regime",
                format!("the policy in force has no regime `{name}`"),
                None,
            )
        })?,
        (None, Some(reason)) => {
            let r: QuarantineReason = variant(reason)
                .ok_or_else(|| bad("invalid_reason", format!("unknown reason `{reason}`")))?;
            policy.duties().regime_for(r).cloned().ok_or_else(|| {
                unprocessable(
                    "no_regime",
                    format!(
                        "the policy in force ({}) has no quarantine regime for `{reason}`",
                        policy.version()
                    ),
                    None,
                )
            })?
        }
        (None, None) => return Err(bad("regime_required", "give a regime or a reason")),
    };
    let now = crate::now();
    let start = match b.start.as_deref() {
        None => now,
        Some(s) => Timestamp::parse_rfc3339(s).map_err(|e| bad("invalid_time", e.to_string()))?,
    };
    if start > now.plus(300) || start < now.plus(-30 * DAY) {
        return Err(bad(
            "invalid_start",
            "an order starts now or within the last 30 days",
        ));
    }
    let site = parse_site(b.site.as_deref())?;
    let order = issue_order(
        &state,
        caller.actor(),
        person,
        &regime,
        site,
        start,
        now,
        format!("policy {} regime {}", policy.version(), regime.name),
        (Vec::new(), Vec::new()),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(order_json(&order, Some(&regime)))).into_response())
}

#[derive(Debug, Deserialize)]
struct OrderQuery {
    person: Option<String>,
    site: Option<String>,
    #[serde(default)]
    active: bool,
}

async fn list_orders(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<OrderQuery>,
) -> Result<Json<Value>, AppError> {
    let site = parse_site(q.site.as_deref())?;
    let person = q.person.as_deref().map(person_id).transpose()?;
    match caller.role {
        Role::Admin | Role::Tracer => {}
        Role::SiteManager => {
            let mine = authorise::sites_of(&state, &caller).await?;
            if !site.is_some_and(|s| mine.contains(&s)) {
                return Err(AppError::Forbidden(
                    "a site manager lists the orders of their own site (?site=)",
                ));
            }
        }
        _ => return Err(AppError::Forbidden("listing quarantine orders")),
    }
    if let Some(p) = person {
        authorise::duty_person(&state, &caller, p, site).await?;
    }
    let store = state.store.clone();
    let orders = blocking(move || {
        store.orders(&OrderFilter {
            person,
            site,
            active_only: q.active,
            limit: 1000,
        })
    })
    .await?;
    let policy = state.policy();
    let visible: Vec<Value> = orders
        .iter()
        .filter(|o| {
            caller.role == Role::SiteManager
                || state
                    .projection
                    .person_area(o.person)
                    .is_some_and(|a| caller.covers(&a))
        })
        .map(|o| order_json(o, policy.duties().regime(&o.regime)))
        .collect();
    Ok(Json(json!({"orders": visible})))
}

async fn load_order(state: &AppState, id: &str) -> Result<OrderRecord, AppError> {
    let id = OrderId(parse_id(id, "Q", "invalid_order_id")?);
    let store = state.store.clone();
    blocking(move || store.order(id))
        .await?
        .ok_or_else(|| AppError::not_found("unknown_order", format!("no order {id}")))
}

async fn get_order(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let o = load_order(&state, &id).await?;
    authorise::duty_person(&state, &caller, o.person, o.site).await?;
    Ok(Json(order_json(
        &o,
        state.policy().duties().regime(&o.regime),
    )))
}

#[derive(Debug, Deserialize)]
struct TransferIn {
    site: String,
}

async fn transfer(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Tracer, Role::Admin, Role::SiteManager], "transfers")?;
    let b: TransferIn = parse(&headers, &body)?;
    let to = parse_id(&b.site, "S", "invalid_site_id").map(SiteId)?;
    let o = load_order(&state, &id).await?;
    authorise::duty_person(&state, &caller, o.person, o.site).await?;
    let event = NewEvent {
        at: crate::now(),
        actor: caller.actor(),
        basis: "转运 transfer between quarantine sites".into(),
        body: EventBody::QuarantineTransferred {
            order: o.id,
            person: o.person,
            from_site: o.site,
            to_site: to,
        },
    };
    match commit(
        &state,
        vec![DutyOp::Transfer { order: o.id, to }],
        vec![event],
    )
    .await
    {
        Err(AppError::Conflict {
            code: "site_full", ..
        }) => Err(site_full_error(&state, to).await),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("unknown_site", "no such site")),
        Err(e) => Err(e),
        Ok(_) => Ok(Json(
            json!({"order": o.id.to_string(), "site": to.to_string()}),
        )),
    }
}

/// A person's tests: (sampling time, outcome as a test of this person, `None` while there is
/// none). Results posted one by one are `test_resulted` events in the log; the lab's
/// samples are in its own table, and their tubes' outcomes in the lab's index (a negative
/// tube is one event for all its members, not indexed per person). A positive pool is no
/// result of the member until the single-tube retest; an invalid tube is none either.
async fn test_history(
    state: &AppState,
    p: PersonId,
) -> Result<Vec<(Timestamp, Option<TestOutcome>)>, AppError> {
    let store = state.store.clone();
    let (events, samples) =
        blocking(move || Ok((store.events_of_person(p)?, store.samples_of_person(p)?))).await?;
    let mut out: Vec<(Timestamp, Option<TestOutcome>)> = events
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::TestResulted {
                sampled_at,
                outcome,
                ..
            } => Some((sampled_at, Some(outcome))),
            _ => None,
        })
        .collect();
    out.extend(crate::lab::outcomes_of(state, &samples));
    Ok(out)
}

pub async fn release(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(release_order(&state, &caller, &id).await?.answer))
}

/// What a release request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseOutcome {
    /// Every scheduled test negative: the order ended.
    Released,
    /// A test missing or positive: the order runs longer and a retest task is out.
    Extended,
}

/// A release request's outcome, and the API's answer for it.
#[derive(Debug, Clone)]
pub struct Released {
    pub order: OrderId,
    pub outcome: ReleaseOutcome,
    pub answer: Value,
}

/// Releases a quarantine order when its regime's tests allow, else extends it (the
/// command behind `POST /api/v1/quarantine/orders/{id}/release` and the site page).
pub async fn release_order(
    state: &AppState,
    caller: &Actor,
    id: &str,
) -> Result<Released, AppError> {
    caller.require(&[Role::Tracer, Role::Admin, Role::SiteManager], "releases")?;
    let o = load_order(state, id).await?;
    authorise::duty_person(state, caller, o.person, o.site).await?;
    if o.status != OrderStatus::Active {
        return Err(conflict(
            "order_not_active",
            format!("order {} is no longer active", o.id),
        ));
    }
    let policy = state.policy();
    let regime = policy.duties().regime(&o.regime).cloned().ok_or_else(|| {
        conflict(
            "unknown_regime",
            format!("the policy in force has no regime `{}`", o.regime),
        )
    })?;
    let phase = if o.then_phase {
        Regime {
            test_days: regime.then_test_days.clone(),
            ..regime.clone()
        }
    } else {
        regime.clone()
    };
    let person = o.person;
    let samples: Vec<(Timestamp, TestOutcome)> = test_history(state, person)
        .await?
        .into_iter()
        .filter_map(|(at, outcome)| Some((at, outcome?)))
        .collect();
    let now = crate::now();
    let check = release_check(&phase, o.start, o.planned_end, &samples, now);
    let basis = serde_json::to_string(&check).unwrap_or_default();
    match check {
        ReleaseCheck::TooEarly { planned_end } => Err(conflict(
            "release_too_early",
            format!(
                "order {} runs until {}; it cannot be released before",
                o.id,
                planned_end.to_rfc3339()
            ),
        )),
        ReleaseCheck::Extend {
            new_end,
            ref missing_days,
            positive,
        } => {
            let cell = home_cell(state, person)?;
            let ops = vec![
                DutyOp::ExtendOrder {
                    order: o.id,
                    planned_end: new_end,
                },
                DutyOp::InsertTasks(vec![NewTask {
                    cell,
                    kind: TaskKind::Retest,
                    person: Some(person),
                    household: None,
                    detail: format!("arrange the missing test(s) of {person} (order {})", o.id),
                    created_at: now,
                    due_at: now.plus(i64::from(policy.duties().task_due_hours) * HOUR),
                    dedupe: Some(format!("retest:{}:{}", o.id, new_end.0)),
                }]),
            ];
            let event = NewEvent {
                at: now,
                actor: caller.actor(),
                basis: format!("extended by policy {}: {basis}", policy.version()),
                body: EventBody::QuarantineOrdered {
                    order: o.id,
                    person,
                    quarantine_kind: o.kind,
                    reason: o.reason,
                    start: o.start,
                    planned_end: new_end,
                },
            };
            commit(state, ops, vec![event]).await?;
            Ok(Released {
                order: o.id,
                outcome: ReleaseOutcome::Extended,
                answer: json!({"outcome": ReleaseOutcome::Extended, "order": o.id.to_string(),
                "planned_end": new_end.to_rfc3339(), "missing_days": missing_days, "positive": positive}),
            })
        }
        ReleaseCheck::Release => {
            let mut ops = vec![DutyOp::EndOrder {
                order: o.id,
                at: now,
                status: OrderStatus::Released,
            }];
            let mut events = vec![NewEvent {
                at: now,
                actor: caller.actor(),
                basis: format!(
                    "released under policy {}: every scheduled test negative",
                    policy.version()
                ),
                body: EventBody::QuarantineEnded {
                    order: o.id,
                    person,
                    at: now,
                },
            }];
            let mut next = None;
            if let (false, Some(kind)) = (o.then_phase, regime.then_kind) {
                let store = state.store.clone();
                let id = OrderId(blocking(move || store.next_duty_id("order")).await?);
                let follow = OrderRecord {
                    id,
                    person,
                    regime: regime.name.clone(),
                    kind,
                    reason: QuarantineReason::AfterQuarantine,
                    site: None,
                    start: now,
                    planned_end: now.plus(i64::from(regime.then_days) * DAY),
                    ended_at: None,
                    status: OrderStatus::Active,
                    follows: Some(o.id),
                    then_phase: true,
                };
                let cell = home_cell(state, person)?;
                ops.push(DutyOp::InsertOrder(follow.clone()));
                ops.push(DutyOp::InsertTasks(test_tasks(
                    person,
                    cell,
                    &regime.then_test_days,
                    now,
                    now,
                    &id.to_string(),
                )));
                events.push(NewEvent {
                    at: now,
                    actor: caller.actor(),
                    basis: format!(
                        "policy {} regime {}: follow-on phase",
                        policy.version(),
                        regime.name
                    ),
                    body: EventBody::QuarantineOrdered {
                        order: id,
                        person,
                        quarantine_kind: kind,
                        reason: QuarantineReason::AfterQuarantine,
                        start: now,
                        planned_end: follow.planned_end,
                    },
                });
                next = Some(follow);
            }
            commit(state, ops, events).await?;
            Ok(Released {
                order: o.id,
                outcome: ReleaseOutcome::Released,
                answer: json!({"outcome": ReleaseOutcome::Released, "order": o.id.to_string(),
                "next": next.as_ref().map(|n| order_json(n, Some(&regime)))}),
            })
        }
    }
}

// ---------------------------------------------------------------------------------------
// Daily health reports.

/// Symptoms a report may name.
pub const SYMPTOMS: [&str; 7] = [
    "fever",
    "cough",
    "sore_throat",
    "fatigue",
    "loss_of_taste_or_smell",
    "diarrhoea",
    "shortness_of_breath",
];

#[derive(Debug, Deserialize)]
struct ReportIn {
    person: String,
    temperature_c: f64,
    #[serde(default)]
    symptoms: Vec<String>,
}

async fn post_report(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let b: ReportIn = parse(&headers, &body)?;
    let person = person_id(&b.person)?;
    let tenths = temperature_tenths(b.temperature_c)
        .ok_or_else(|| bad("invalid_temperature", "a temperature from 34.0 to 43.0 °C"))?;
    let mut symptoms = b.symptoms.clone();
    symptoms.sort();
    symptoms.dedup();
    if let Some(s) = symptoms.iter().find(|s| !SYMPTOMS.contains(&s.as_str())) {
        return Err(bad(
            "invalid_symptom",
            format!(
                "unknown symptom `{}`; known: {}",
                s.chars().take(40).collect::<String>(),
                SYMPTOMS.join(", ")
            ),
        ));
    }
    let store = state.store.clone();
    let orders = blocking(move || {
        store.orders(&OrderFilter {
            person: Some(person),
            active_only: true,
            ..OrderFilter::default()
        })
    })
    .await?;
    let Some(order) = orders.first() else {
        return Err(unprocessable(
            "not_under_order",
            format!("{person} is under no active order"),
            None,
        ));
    };
    authorise::duty_person(&state, &caller, person, order.site).await?;
    let now = crate::now();
    let rules = state.policy().duties().clone();
    let fever = rules.is_fever(tenths);
    let mut ops = vec![DutyOp::InsertReport(ReportRecord {
        person,
        at: now,
        temperature_tenths: tenths,
        symptoms: symptoms.clone(),
        reporter: caller.actor(),
    })];
    let mut events = Vec::new();
    let flagged = fever || !symptoms.is_empty();
    if flagged {
        let reason = if fever {
            "fever".to_owned()
        } else {
            format!("symptoms: {}", symptoms.join(","))
        };
        ops.push(DutyOp::InsertTasks(vec![NewTask {
            cell: home_cell(&state, person)?,
            kind: TaskKind::ArrangeTest,
            person: Some(person),
            household: None,
            detail: format!("arrange a test for {person}: health report ({reason})"),
            created_at: now,
            due_at: now.plus(i64::from(rules.task_due_hours) * HOUR),
            dedupe: Some(format!("followup:{person}:{}", now.shanghai_day().0)),
        }]));
        events.push(NewEvent {
            at: now,
            actor: caller.actor(),
            basis: format!("daily health report under order {}", order.id),
            body: EventBody::FollowUpFlagged { person, reason },
        });
    }
    commit(&state, ops, events).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"person": person.to_string(), "fever": fever, "flagged": flagged})),
    )
        .into_response())
}

async fn follow_ups(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "follow-ups")?;
    let list = lock(&state.projection.follow_ups).clone();
    let out: Vec<Value> = list
        .iter()
        .rev()
        .filter(|(p, _, _)| state.projection.person_area(*p).is_some_and(|a| caller.covers(&a)))
        .take(1000)
        .map(|(p, at, reason)| json!({"person": p.to_string(), "at": at.to_rfc3339(), "reason": reason}))
        .collect();
    Ok(Json(json!({"follow_ups": out})))
}

/// Turns missed daily reports into tasks: everyone under an active order (that began before
/// the day's deadline) who has not reported on the last day whose deadline has passed.
/// Returns how many tasks were created.
pub async fn sweep_missed_reports(state: &AppState, now: Timestamp) -> Result<u64, AppError> {
    let rules = state.policy().duties().clone();
    let today = now.shanghai_day();
    let day = if now >= report_deadline(&rules, today) {
        today
    } else {
        CivilDay(today.0 - 1)
    };
    let deadline = report_deadline(&rules, day);
    let store = state.store.clone();
    let (orders, reporters) = blocking(move || {
        Ok((
            store.orders(&every_active_order())?,
            store.reporters_on(day)?,
        ))
    })
    .await?;
    let reported: HashSet<PersonId> = reporters.into_iter().collect();
    let mut tasks = Vec::new();
    for o in orders
        .iter()
        .filter(|o| o.start < deadline && !reported.contains(&o.person))
    {
        let Ok(cell) = home_cell(state, o.person) else {
            continue;
        };
        tasks.push(NewTask {
            cell,
            kind: TaskKind::HealthReportMissed,
            person: Some(o.person),
            household: None,
            detail: format!(
                "{} did not report temperature and symptoms on {}",
                o.person,
                day.compact()
            ),
            created_at: now,
            due_at: now.plus(i64::from(rules.task_due_hours) * HOUR),
            dedupe: Some(format!("report:{}:{}", o.person, day.0)),
        });
    }
    let n = tasks.len() as u64;
    if n > 0 {
        commit(state, vec![DutyOp::InsertTasks(tasks)], Vec::new()).await?;
    }
    Ok(n)
}

/// The filter for every active order, as the sweeps read them.
fn every_active_order() -> OrderFilter {
    OrderFilter {
        active_only: true,
        limit: 10_000_000,
        ..OrderFilter::default()
    }
}

/// Checks the test schedules against the results: every test day of an active order (its
/// phase's days) and of an arrival's test-only regime (3天3检) that is over without a sample
/// becomes a missed mandated test — the policy's state (pop-up type 4 by default) until a
/// negative result exists — once per person and day. Orders also refuse release while a
/// test day lacks a negative ([`release`]); this makes the lapse visible on the day.
/// Returns how many missed tests were recorded.
pub async fn check_test_schedules(state: &AppState, now: Timestamp) -> Result<usize, AppError> {
    let policy = state.policy();
    let rules = policy.duties();
    let longest = rules
        .regimes()
        .iter()
        .map(|r| r.days.max(r.then_days))
        .max()
        .unwrap_or(0);
    let store = state.store.clone();
    let since = now.plus(-(i64::from(longest) + 2) * DAY);
    let (orders, arrivals) = blocking(move || {
        Ok((
            store.orders(&every_active_order())?,
            store.arrived_since(since)?,
        ))
    })
    .await?;
    // (person, test days, start, what the schedule is)
    let mut schedules: Vec<(PersonId, Vec<u32>, Timestamp, String)> = Vec::new();
    for o in &orders {
        let Some(r) = rules.regime(&o.regime) else {
            continue;
        };
        let days = if o.then_phase {
            &r.then_test_days
        } else {
            &r.test_days
        };
        schedules.push((o.person, days.clone(), o.start, format!("order {}", o.id)));
    }
    for a in &arrivals {
        // Arrivals under an order are checked through the order.
        if let (Some(r), Some(at)) = (rules.regime(&a.regime), a.arrived_at)
            && r.kind.is_none()
        {
            schedules.push((
                a.person,
                r.test_days.clone(),
                at,
                format!("arrival {}", a.id),
            ));
        }
    }
    let mut missed = Vec::new();
    for (person, days, start, what) in schedules {
        // Only people with a test day over (and not yet recorded) cost a history read.
        let over = xikang_domain::duties::missed_test_days(&days, start, &[], now);
        if over.is_empty() {
            continue;
        }
        let sampled: Vec<Timestamp> = test_history(state, person)
            .await?
            .into_iter()
            .map(|(at, _)| at)
            .collect();
        for (day, due) in xikang_domain::duties::missed_test_days(&days, start, &sampled, now) {
            missed.push((
                person,
                due,
                format!(
                    "policy {}: test day {day} of {what} passed without a sample",
                    policy.version()
                ),
            ));
        }
    }
    crate::lab::record_missed_tests(state, missed, "system:test_schedules", now).await
}

/// Runs the sweep every ten minutes: missed daily reports become tasks, missed test days
/// become missed tests, rounds past their deadline close (their unsampled residents become
/// tasks), and the system proposes the zone changes whose conditions hold (an official
/// still approves them).
pub async fn duty_loop(state: Arc<AppState>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if let Err(e) = run_sweep(&state, crate::now()).await {
            tracing::warn!(error = ?e, "duty sweep failed; will retry");
        }
    }
}

/// One pass of the duty sweep (the loop's and `POST /duties/sweep`'s).
async fn run_sweep(state: &AppState, now: Timestamp) -> Result<Value, AppError> {
    let missed = sweep_missed_reports(state, now).await?;
    let tests = check_test_schedules(state, now).await?;
    let rounds = crate::lab::close_due_rounds(state, now).await?;
    let proposals = propose_zone_changes(state, now).await?;
    if missed + proposals > 0 || tests + rounds > 0 {
        tracing::info!(
            report_tasks = missed,
            missed_tests = tests,
            rounds_closed = rounds,
            proposals,
            "duty sweep"
        );
    }
    Ok(
        json!({"missed_report_tasks": missed, "missed_scheduled_tests": tests,
              "rounds_closed": rounds, "zone_proposals": proposals}),
    )
}

async fn sweep(State(state): State<Arc<AppState>>, caller: Actor) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Admin], "running the duty sweep")?;
    Ok(Json(run_sweep(&state, crate::now()).await?))
}

// ---------------------------------------------------------------------------------------
// Zones.

#[derive(Debug, Deserialize)]
struct ZoneIn {
    name: String,
    level: String,
    #[serde(default)]
    cells: Option<Vec<u32>>,
    #[serde(default)]
    polygon: Option<Value>,
}

/// What sealing (or drawing) a zone did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZoneOutcome {
    pub zone: String,
    pub level: String,
    pub cells: usize,
    pub residents: usize,
    pub households: usize,
    pub tasks: usize,
}

fn residents_in(state: &AppState, cells: &HashSet<GridCell>) -> usize {
    read(&state.projection.people)
        .iter()
        .filter(|s| s.community != u32::MAX && cells.contains(&s.home_cell))
        .count()
}

fn is_sealing(level: ZoneLevel) -> bool {
    matches!(level, ZoneLevel::Sealed | ZoneLevel::High)
}

/// The tasks a sealed zone creates: door-to-door screening per cell, deliveries per
/// household (服务上门).
async fn sealing_tasks(
    state: &AppState,
    zone: ZoneId,
    cells: &[GridCell],
    now: Timestamp,
) -> Result<(Vec<NewTask>, usize), AppError> {
    let store = state.store.clone();
    let cs = cells.to_vec();
    let households = blocking(move || store.households_in_cells(&cs)).await?;
    let due = now.plus(i64::from(state.policy().duties().task_due_hours) * HOUR);
    let mut tasks = Vec::with_capacity(households.len() + cells.len());
    for c in cells {
        tasks.push(NewTask {
            cell: *c,
            kind: TaskKind::DoorToDoorScreening,
            person: None,
            household: None,
            detail: format!("门铃 door-to-door screening of cell {} (zone {zone})", c.0),
            created_at: now,
            due_at: due,
            dedupe: Some(format!("screen:{zone}:{}:{}", c.0, now.0)),
        });
    }
    for (h, c) in &households {
        tasks.push(NewTask {
            cell: *c,
            kind: TaskKind::Delivery,
            person: None,
            household: Some(*h),
            detail: format!("deliveries to sealed household {h} (zone {zone})"),
            created_at: now,
            due_at: due,
            dedupe: Some(format!("delivery:{zone}:{h}:{}", now.0)),
        });
    }
    Ok((tasks, households.len()))
}

/// Draws a zone over grid cells: the zone row, its `ZoneSet` event (which recolours every
/// resident through the policy) and, for a sealed or high zone, its tasks, in one commit.
pub async fn draw_zone(
    state: &AppState,
    actor: String,
    name: String,
    level: ZoneLevel,
    cells: Vec<GridCell>,
    now: Timestamp,
) -> Result<ZoneOutcome, AppError> {
    let store = state.store.clone();
    let id = ZoneId(blocking(move || store.next_duty_id("zone")).await?);
    let set: HashSet<GridCell> = cells.iter().copied().collect();
    let (tasks, households) = if is_sealing(level) {
        sealing_tasks(state, id, &cells, now).await?
    } else {
        (Vec::new(), 0)
    };
    let n_tasks = tasks.len();
    let zone = ZoneRecord {
        id,
        name: name.clone(),
        level,
        cells: cells.clone(),
        since: now,
        drawn_by: actor.clone(),
        lifted_at: None,
    };
    let event = NewEvent {
        at: now,
        actor,
        basis: format!("zone drawn over {} grid cell(s)", cells.len()),
        body: EventBody::ZoneSet {
            zone: id,
            level,
            cells: cells.clone(),
            name,
        },
    };
    commit(
        state,
        vec![DutyOp::PutZone(zone), DutyOp::InsertTasks(tasks)],
        vec![event],
    )
    .await?;
    Ok(ZoneOutcome {
        zone: id.to_string(),
        level: xikang_domain::duties::variant_name(&level),
        cells: cells.len(),
        residents: residents_in(state, &set),
        households,
        tasks: n_tasks,
    })
}

async fn post_zone(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "drawing zones (command centre)")?;
    let b: ZoneIn = parse(&headers, &body)?;
    let level: ZoneLevel = variant(&b.level).ok_or_else(|| {
        bad(
            "invalid_zone_level",
            "level is sealed, controlled, precaution, high, medium or low",
        )
    })?;
    if b.name.trim().is_empty() || b.name.chars().count() > 100 {
        return Err(bad(
            "invalid_zone_name",
            "a zone needs a name of 1-100 characters",
        ));
    }
    let store = state.store.clone();
    let grid = blocking(move || store.grid_cells()).await?;
    let known: HashMap<GridCell, &GridCellRecord> = grid.iter().map(|c| (c.cell, c)).collect();
    let cells: Vec<GridCell> = match (&b.cells, &b.polygon) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(bad(
                "cells_or_polygon",
                "draw a zone by `cells` or by `polygon`, not both",
            ));
        }
        (Some(list), None) => {
            let mut cells: Vec<GridCell> = list.iter().map(|c| GridCell(*c)).collect();
            cells.sort();
            cells.dedup();
            if let Some(c) = cells.iter().find(|c| !known.contains_key(c)) {
                return Err(unprocessable(
                    "unknown_cell",
                    format!("grid cell {} is not in the grid", c.0),
                    None,
                ));
            }
            cells
        }
        (None, Some(geo)) => {
            let poly = Polygon::from_geojson(geo).map_err(|e| bad("invalid_polygon", e.0))?;
            grid.iter()
                .filter(|c| poly.contains(c.lon, c.lat))
                .map(|c| c.cell)
                .collect()
        }
    };
    if cells.is_empty() {
        return Err(unprocessable(
            "empty_zone",
            "the zone covers no grid cell",
            None,
        ));
    }
    if cells.len() > 50_000 {
        return Err(bad("zone_too_large", "a zone covers at most 50,000 cells"));
    }
    if cells
        .iter()
        .any(|c| known.get(c).is_some_and(|r| !caller.covers(&r.community)))
    {
        return Err(AppError::Forbidden("a cell lies outside your jurisdiction"));
    }
    let out = draw_zone(
        &state,
        caller.actor(),
        b.name.trim().to_owned(),
        level,
        cells,
        crate::now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(out))).into_response())
}

async fn zones_now(state: &AppState) -> Result<Vec<ZoneRecord>, AppError> {
    let store = state.store.clone();
    blocking(move || store.zones()).await
}

async fn list_zones(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Value>, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "listing zones",
    )?;
    let zones = zones_now(&state).await?;
    let out: Vec<Value> = zones
        .iter()
        .map(|z| {
            let set: HashSet<GridCell> = z.cells.iter().copied().collect();
            json!({"id": z.id.to_string(), "name": z.name,
                   "level": xikang_domain::duties::variant_name(&z.level),
                   "cells": z.cells.iter().map(|c| c.0).collect::<Vec<_>>(),
                   "residents": residents_in(&state, &set),
                   "since": z.since.to_rfc3339(), "lifted_at": z.lifted_at.map(Timestamp::to_rfc3339)})
        })
        .collect();
    Ok(Json(json!({"zones": out})))
}

/// What the state knows about a zone for its lifting conditions.
pub fn zone_evidence(
    state: &AppState,
    z: &ZoneRecord,
    round_days: Option<u32>,
    now: Timestamp,
) -> ZoneEvidence {
    let cells: HashSet<GridCell> = z.cells.iter().copied().collect();
    let people = read(&state.projection.people);
    let exposures = lock(&state.projection.exposures);
    let round_from = round_days.map(|d| now.plus(-i64::from(d) * DAY));
    let mut residents = 0u32;
    let mut negative = 0u32;
    let mut last_contact: Option<Timestamp> = None;
    let mut members = HashSet::new();
    for (i, s) in people.iter().enumerate() {
        if s.community == u32::MAX || !cells.contains(&s.home_cell) {
            continue;
        }
        let p = PersonId(i as u32);
        members.insert(p);
        residents += 1;
        if let Some(from) = round_from {
            let neg = s.facts.last_negative();
            if neg.is_some_and(|n| n >= from) && s.facts.last_sample() == neg {
                negative += 1;
            }
        }
        if let Some(t) = exposures.get(&p) {
            last_contact = Some(last_contact.map_or(*t, |l: Timestamp| l.max(*t)));
        }
    }
    drop(exposures);
    drop(people);
    let last_case = read(&state.projection.cases)
        .values()
        .filter(|c| members.contains(&c.person))
        .map(|c| c.registered_at)
        .max();
    ZoneEvidence {
        since: z.since,
        last_case,
        last_contact_exposure: last_contact,
        residents,
        residents_negative: if round_from.is_some() {
            negative
        } else {
            residents
        },
    }
}

/// What the policy proposes for a zone now, with the conditions that hold: seal it (a case
/// inside a controlled zone), lift it or step it down (its conditions all hold), or nothing.
pub fn zone_proposal(
    state: &AppState,
    z: &ZoneRecord,
    now: Timestamp,
) -> Option<(ProposalAction, Option<ZoneLevel>, Vec<LiftCondition>)> {
    let policy = state.policy();
    let d = policy.duties();
    if let Some(to) = d.escalation(z.level) {
        let ev = zone_evidence(state, z, None, now);
        if let Some(case_at) = ev.last_case.filter(|c| *c >= z.since) {
            return Some((
                ProposalAction::SetLevel,
                Some(to),
                vec![LiftCondition {
                    name: "case_inside".into(),
                    holds: true,
                    detail: format!(
                        "a case among the residents was registered at {}",
                        case_at.to_rfc3339()
                    ),
                }],
            ));
        }
    }
    let rule = d.lift_rule(z.level)?;
    let ev = zone_evidence(state, z, rule.negative_round_days, now);
    let conditions = lift_conditions(&rule, &ev, now);
    if !all_hold(&conditions) {
        return None;
    }
    Some(match rule.next_level {
        Some(l) => (ProposalAction::SetLevel, Some(l), conditions),
        None => (ProposalAction::Lift, None, conditions),
    })
}

async fn zone_by_id(state: &AppState, id: &str) -> Result<ZoneRecord, AppError> {
    let id = ZoneId(parse_id(id, "Z", "invalid_zone_id")?);
    zones_now(state)
        .await?
        .into_iter()
        .find(|z| z.id == id)
        .ok_or_else(|| AppError::not_found("unknown_zone", format!("no zone {id}")))
}

async fn zone_conditions(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Admin, Role::Tracer], "zone conditions")?;
    let z = zone_by_id(&state, &id).await?;
    let now = crate::now();
    let policy = state.policy();
    let rule = policy.duties().lift_rule(z.level);
    let conditions = rule.map(|r| {
        lift_conditions(
            &r,
            &zone_evidence(&state, &z, r.negative_round_days, now),
            now,
        )
    });
    Ok(Json(
        json!({"zone": z.id.to_string(), "level": xikang_domain::duties::variant_name(&z.level),
        "lifted": z.lifted_at.is_some(), "conditions": conditions,
        "all_hold": conditions.as_deref().is_some_and(all_hold)}),
    ))
}

async fn insert_proposal(
    state: &AppState,
    z: &ZoneRecord,
    action: ProposalAction,
    to_level: Option<ZoneLevel>,
    conditions: &[LiftCondition],
    proposer: String,
    now: Timestamp,
) -> Result<ProposalRecord, AppError> {
    let store = state.store.clone();
    let id = ProposalId(blocking(move || store.next_duty_id("proposal")).await?);
    let p = ProposalRecord {
        id,
        zone: z.id,
        action,
        to_level,
        proposer,
        conditions: serde_json::to_string(conditions).unwrap_or_default(),
        proposed_at: now,
        status: ProposalStatus::Open,
        decided_by: None,
        decided_at: None,
    };
    commit(state, vec![DutyOp::InsertProposal(p.clone())], Vec::new()).await?;
    Ok(p)
}

/// The system's pass over every active zone: proposes what the policy's conditions call for
/// (an open proposal is left alone). Returns how many proposals were made.
pub async fn propose_zone_changes(state: &AppState, now: Timestamp) -> Result<u64, AppError> {
    propose_where(state, None, now).await
}

/// The same pass over the zones where these people live, run as soon as a case is
/// registered (a positive single tube, a tracer's report): a positive inside a controlled
/// zone proposes sealing it at once, not at the next sweep. Returns how many proposals
/// were made.
pub async fn propose_for_cases(
    state: &AppState,
    people: &[PersonId],
    now: Timestamp,
) -> Result<u64, AppError> {
    let cells: HashSet<GridCell> = {
        let slots = read(&state.projection.people);
        people
            .iter()
            .filter_map(|p| slots.get(p.0 as usize))
            .filter(|s| s.community != u32::MAX)
            .map(|s| s.home_cell)
            .collect()
    };
    let escalating = {
        let policy = state.policy();
        read(&state.projection.zones)
            .values()
            .any(|(level, zone_cells)| {
                policy.duties().escalation(*level).is_some()
                    && zone_cells.iter().any(|c| cells.contains(c))
            })
    };
    if !escalating {
        return Ok(0);
    }
    propose_where(state, Some(&cells), now).await
}

/// Proposes for the active zones without an open proposal (those touching `cells`, or all).
async fn propose_where(
    state: &AppState,
    cells: Option<&HashSet<GridCell>>,
    now: Timestamp,
) -> Result<u64, AppError> {
    let zones: Vec<ZoneRecord> = zones_now(state)
        .await?
        .into_iter()
        .filter(|z| cells.is_none_or(|cs| z.cells.iter().any(|c| cs.contains(c))))
        .collect();
    let store = state.store.clone();
    let open: HashSet<ZoneId> = blocking(move || store.proposals(None))
        .await?
        .into_iter()
        .filter(|p| p.status == ProposalStatus::Open)
        .map(|p| p.zone)
        .collect();
    let mut n = 0;
    for z in zones
        .iter()
        .filter(|z| z.lifted_at.is_none() && !open.contains(&z.id))
    {
        if let Some((action, to, conditions)) = zone_proposal(state, z, now) {
            insert_proposal(
                state,
                z,
                action,
                to,
                &conditions,
                "system:zones".into(),
                now,
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

fn proposal_json(p: &ProposalRecord) -> Value {
    json!({"id": p.id.to_string(), "zone": p.zone.to_string(),
           "action": xikang_domain::duties::variant_name(&p.action),
           "to_level": p.to_level.map(|l| xikang_domain::duties::variant_name(&l)),
           "proposer": p.proposer,
           "conditions": serde_json::from_str::<Value>(&p.conditions).unwrap_or(Value::Null),
           "proposed_at": p.proposed_at.to_rfc3339(),
           "status": xikang_domain::duties::variant_name(&p.status),
           "decided_by": p.decided_by, "decided_at": p.decided_at.map(Timestamp::to_rfc3339)})
}

async fn run_proposals(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Admin], "running zone proposals")?;
    let n = propose_zone_changes(&state, crate::now()).await?;
    Ok(Json(json!({"proposed": n})))
}

async fn list_proposals(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Admin, Role::Tracer], "zone proposals")?;
    let store = state.store.clone();
    let list = blocking(move || store.proposals(None)).await?;
    Ok(Json(
        json!({"proposals": list.iter().map(proposal_json).collect::<Vec<_>>()}),
    ))
}

async fn propose_manually(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "proposing zone changes")?;
    let z = zone_by_id(&state, &id).await?;
    authorise::cells(&state, &caller, &z.cells).await?;
    if z.lifted_at.is_some() {
        return Err(conflict("zone_not_active", "the zone was already lifted"));
    }
    let now = crate::now();
    let Some((action, to, conditions)) = zone_proposal(&state, &z, now) else {
        let policy = state.policy();
        let conditions = policy.duties().lift_rule(z.level).map(|r| {
            lift_conditions(
                &r,
                &zone_evidence(&state, &z, r.negative_round_days, now),
                now,
            )
        });
        return Err(conflict_with(
            "conditions_not_met",
            "the policy's conditions for changing this zone do not hold",
            json!({"conditions": conditions}),
        ));
    };
    let p = insert_proposal(&state, &z, action, to, &conditions, caller.actor(), now).await?;
    Ok((StatusCode::CREATED, Json(proposal_json(&p))).into_response())
}

fn conflict_with(code: &'static str, m: &str, details: Value) -> AppError {
    unprocessable(code, m, Some(details))
}

/// Fails unless the proposal's zone lies in the caller's area.
async fn proposal_in_reach(
    state: &AppState,
    caller: &Actor,
    p: &ProposalRecord,
) -> Result<(), AppError> {
    let zones = zones_now(state).await?;
    let cells = zones
        .iter()
        .find(|z| z.id == p.zone)
        .map_or(&[][..], |z| &z.cells[..]);
    authorise::cells(state, caller, cells).await
}

async fn proposal_by_id(state: &AppState, id: &str) -> Result<ProposalRecord, AppError> {
    let id = ProposalId(parse_id(id, "ZP", "invalid_proposal_id")?);
    let store = state.store.clone();
    blocking(move || store.proposals(None))
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| AppError::not_found("unknown_proposal", format!("no proposal {id}")))
}

/// Applies a proposal approved by `approver`, who must not be its proposer. Lifting (and
/// stepping down) re-checks the conditions at approval time; the event's basis records the
/// proposal, its proposer and the conditions that held.
pub async fn approve_proposal(
    state: &AppState,
    proposal: &ProposalRecord,
    approver: String,
    now: Timestamp,
) -> Result<Value, AppError> {
    if proposal.status != ProposalStatus::Open {
        return Err(conflict(
            "proposal_decided",
            "the proposal was already decided",
        ));
    }
    if proposal.proposer == approver {
        return Err(conflict(
            "same_official",
            "the official who proposed a zone change cannot approve it: a second official must",
        ));
    }
    let zones = zones_now(state).await?;
    let z = zones
        .iter()
        .find(|z| z.id == proposal.zone)
        .ok_or_else(|| AppError::not_found("unknown_zone", "the proposal's zone is gone"))?;
    if z.lifted_at.is_some() {
        return Err(conflict("zone_not_active", "the zone was already lifted"));
    }
    let escalating = proposal.to_level.is_some_and(is_sealing) && !is_sealing(z.level);
    let conditions: Vec<LiftCondition> = if escalating {
        serde_json::from_str(&proposal.conditions).unwrap_or_default()
    } else {
        let policy = state.policy();
        let rule = policy.duties().lift_rule(z.level).ok_or_else(|| {
            conflict(
                "conditions_not_met",
                "the policy in force has no lifting rule for this level",
            )
        })?;
        let c = lift_conditions(
            &rule,
            &zone_evidence(state, z, rule.negative_round_days, now),
            now,
        );
        if !all_hold(&c) {
            return Err(conflict_with(
                "conditions_not_met",
                "the conditions no longer hold; nothing was changed",
                json!({"conditions": c}),
            ));
        }
        c
    };
    let basis = json!({"proposal": proposal.id.to_string(), "proposer": proposal.proposer,
                       "approver": approver, "conditions": conditions})
    .to_string();
    let decide = DutyOp::DecideProposal {
        proposal: proposal.id,
        status: ProposalStatus::Approved,
        by: approver.clone(),
        at: now,
    };
    let mut ops = vec![decide];
    let (body, tasks) = match (proposal.action, proposal.to_level) {
        (ProposalAction::SetLevel, Some(level)) => {
            let tasks = if is_sealing(level) {
                sealing_tasks(state, z.id, &z.cells, now).await?.0
            } else {
                Vec::new()
            };
            ops.push(DutyOp::PutZone(ZoneRecord {
                level,
                since: now,
                ..z.clone()
            }));
            (
                EventBody::ZoneSet {
                    zone: z.id,
                    level,
                    cells: z.cells.clone(),
                    name: z.name.clone(),
                },
                tasks,
            )
        }
        _ => {
            ops.push(DutyOp::LiftZone {
                zone: z.id,
                at: now,
            });
            (
                EventBody::ZoneLifted {
                    zone: z.id,
                    approver: approver.clone(),
                },
                Vec::new(),
            )
        }
    };
    let n_tasks = tasks.len();
    ops.push(DutyOp::InsertTasks(tasks));
    commit(
        state,
        ops,
        vec![NewEvent {
            at: now,
            actor: approver,
            basis,
            body,
        }],
    )
    .await?;
    let set: HashSet<GridCell> = z.cells.iter().copied().collect();
    Ok(
        json!({"proposal": proposal.id.to_string(), "zone": z.id.to_string(), "approved": true,
              "residents": residents_in(state, &set), "tasks": n_tasks}),
    )
}

async fn approve(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Admin], "approving zone changes")?;
    let p = proposal_by_id(&state, &id).await?;
    proposal_in_reach(&state, &caller, &p).await?;
    Ok(Json(
        approve_proposal(&state, &p, caller.actor(), crate::now()).await?,
    ))
}

async fn reject(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::Admin], "rejecting zone changes")?;
    let p = proposal_by_id(&state, &id).await?;
    proposal_in_reach(&state, &caller, &p).await?;
    let op = DutyOp::DecideProposal {
        proposal: p.id,
        status: ProposalStatus::Rejected,
        by: caller.actor(),
        at: crate::now(),
    };
    commit(&state, vec![op], Vec::new()).await?;
    Ok(Json(
        json!({"proposal": p.id.to_string(), "rejected": true}),
    ))
}

// ---------------------------------------------------------------------------------------
// Arrivals.

#[derive(Debug, Deserialize)]
struct OriginIn {
    code: String,
    name: String,
    risk: String,
}

async fn post_origin(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "maintaining the origin risk list")?;
    let b: OriginIn = parse(&headers, &body)?;
    AreaCode::parse(&b.code).map_err(|e| bad("invalid_origin_code", e.to_string()))?;
    let risk: RiskLevel =
        variant(&b.risk).ok_or_else(|| bad("invalid_risk", "risk is high, medium or low"))?;
    if b.name.trim().is_empty() || b.name.chars().count() > 100 {
        return Err(bad("invalid_origin_name", "a name of 1-100 characters"));
    }
    let o = OriginRecord {
        code: b.code,
        name: b.name.trim().to_owned(),
        risk,
        updated_at: crate::now(),
        updated_by: caller.actor(),
    };
    let store = state.store.clone();
    let o2 = o.clone();
    blocking(move || store.put_origin(&o2)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"code": o.code, "name": o.name, "risk": b.risk})),
    )
        .into_response())
}

async fn list_origins(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Value>, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker, Role::Resident],
        "the origin risk list",
    )?;
    let store = state.store.clone();
    let list = blocking(move || store.origins()).await?;
    Ok(Json(
        json!({"origins": list.iter().map(|o| json!({"code": o.code, "name": o.name,
        "risk": xikang_domain::duties::variant_name(&o.risk), "updated_at": o.updated_at.to_rfc3339()})).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Deserialize)]
struct ArrivalIn {
    person: String,
    origin: String,
    planned_at: String,
}

async fn post_arrival(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let b: ArrivalIn = parse(&headers, &body)?;
    let person = person_id(&b.person)?;
    authorise::duty_person(&state, &caller, person, None).await?;
    let planned =
        Timestamp::parse_rfc3339(&b.planned_at).map_err(|e| bad("invalid_time", e.to_string()))?;
    let now = crate::now();
    if planned < now.plus(-DAY) || planned > now.plus(30 * DAY) {
        return Err(bad(
            "invalid_planned_at",
            "the planned arrival is within the next 30 days",
        ));
    }
    let code = b.origin.clone();
    let store = state.store.clone();
    let origin = blocking(move || store.origin(&code))
        .await?
        .ok_or_else(|| {
            unprocessable(
                "unknown_origin",
                format!(
                    "origin `{}` is not on the risk list",
                    b.origin.chars().take(20).collect::<String>()
                ),
                None,
            )
        })?;
    let policy = state.policy();
    let regime = policy.duties().arrival_regime(origin.risk).ok_or_else(|| {
        unprocessable(
            "no_regime",
            format!(
                "the policy in force ({}) has no arrival regime for this risk level",
                policy.version()
            ),
            None,
        )
    })?;
    let store = state.store.clone();
    let id = ArrivalId(blocking(move || store.next_duty_id("arrival")).await?);
    let a = ArrivalRecord {
        id,
        person,
        origin: origin.code.clone(),
        risk: origin.risk,
        regime: regime.name.clone(),
        planned_at: planned,
        arrived_at: None,
        registered_at: now,
    };
    commit(&state, vec![DutyOp::InsertArrival(a)], Vec::new()).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": id.to_string(), "person": person.to_string(),
        "origin": origin.code, "risk": xikang_domain::duties::variant_name(&origin.risk),
        "regime": regime.name, "order_kind": regime.kind.map(|k| xikang_domain::duties::variant_name(&k)),
        "days": regime.days, "tests": schedule_json(&regime.test_days, planned)}))).into_response())
}

#[derive(Debug, Deserialize, Default)]
struct ArrivedIn {
    #[serde(default)]
    site: Option<String>,
}

async fn arrived(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "recording an arrival",
    )?;
    let b: ArrivedIn = if body.is_empty() {
        ArrivedIn::default()
    } else {
        parse(&headers, &body)?
    };
    let id = ArrivalId(parse_id(&id, "A", "invalid_arrival_id")?);
    let store = state.store.clone();
    let a = blocking(move || store.arrival(id))
        .await?
        .ok_or_else(|| AppError::not_found("unknown_arrival", format!("no arrival {id}")))?;
    authorise::duty_person(&state, &caller, a.person, None).await?;
    if a.arrived_at.is_some() {
        return Err(conflict(
            "already_arrived",
            "the arrival was already recorded",
        ));
    }
    let policy = state.policy();
    let regime = policy.duties().regime(&a.regime).cloned().ok_or_else(|| {
        conflict(
            "unknown_regime",
            format!("the policy in force has no regime `{}`", a.regime),
        )
    })?;
    let now = crate::now();
    let cell = home_cell(&state, a.person)?;
    let arrived_event = NewEvent {
        at: now,
        actor: caller.actor(),
        basis: format!(
            "入锡申报 {id}: origin {} ({})",
            a.origin,
            xikang_domain::duties::variant_name(&a.risk)
        ),
        body: EventBody::Arrived {
            person: a.person,
            origin: a.origin.clone(),
            origin_risk: a.risk,
            at: now,
        },
    };
    let mark = DutyOp::MarkArrived {
        arrival: id,
        at: now,
    };
    // The arrival and the order it causes commit together: an arrival is never recorded
    // without its regime.
    let order = match regime.kind {
        None => {
            let tasks = test_tasks(a.person, cell, &regime.test_days, now, now, &id.to_string());
            commit(
                &state,
                vec![mark, DutyOp::InsertTasks(tasks)],
                vec![arrived_event],
            )
            .await?;
            None
        }
        Some(kind) => {
            let site = match (kind, parse_site(b.site.as_deref())?) {
                (QuarantineKind::Centralized, None) => {
                    let store = state.store.clone();
                    let sites = blocking(move || store.sites()).await?;
                    let site = sites
                        .iter()
                        .find(|s| s.kind == SiteKind::Centralized && s.occupancy < s.capacity)
                        .map(|s| s.id);
                    Some(site.ok_or_else(|| {
                        unprocessable(
                            "no_site_with_room",
                            "no centralized quarantine site has room; nothing was recorded",
                            None,
                        )
                    })?)
                }
                (_, s) => s,
            };
            Some(
                issue_order(
                    &state,
                    caller.actor(),
                    a.person,
                    &regime,
                    site,
                    now,
                    now,
                    format!("policy {} arrival regime {}", policy.version(), regime.name),
                    (vec![mark], vec![arrived_event]),
                )
                .await?,
            )
        }
    };
    Ok(Json(
        json!({"arrival": id.to_string(), "regime": regime.name,
        "order": order.as_ref().map(|o| order_json(o, Some(&regime))),
        "tests": schedule_json(&regime.test_days, now)}),
    ))
}

// ---------------------------------------------------------------------------------------
// Sentinels.

fn venue_of(state: &AppState, s: &str) -> Result<VenueId, AppError> {
    if let Ok(code) = xikang_domain::PlaceCode::parse(s)
        && let Some(v) = state.projection.venues.by_code.get(&code)
    {
        return Ok(*v);
    }
    let id = crate::wire::parse_venue_id(s)
        .ok_or_else(|| bad("invalid_venue", "a venue id (V12) or place code"))?;
    state
        .projection
        .venues
        .get(id)
        .map(|v| v.id)
        .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {id}")))
}

#[derive(Debug, Deserialize)]
struct SentinelIn {
    venue: String,
    kind: String,
}

async fn post_sentinel(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "registering sentinels")?;
    let b: SentinelIn = parse(&headers, &body)?;
    let venue = venue_of(&state, &b.venue)?;
    authorise::venue(&state, &caller, venue)?;
    let kind: SentinelKind = variant(&b.kind)
        .ok_or_else(|| bad("invalid_sentinel_kind", "kind is pharmacy or fever_clinic"))?;
    let s = SentinelRecord {
        venue,
        kind,
        registered_at: crate::now(),
        registered_by: caller.actor(),
    };
    let store = state.store.clone();
    blocking(move || store.put_sentinel(&s)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"venue": venue.to_string(), "kind": b.kind})),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct SentinelReportIn {
    #[serde(default)]
    venue: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    person: Option<String>,
}

async fn post_sentinel_report(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::VenueDevice, Role::Admin], "sentinel reports")?;
    let b: SentinelReportIn = parse(&headers, &body)?;
    let venue = match (caller.venue, b.venue.as_deref()) {
        (Some(v), _) => v,
        (None, Some(s)) => venue_of(&state, s)?,
        (None, None) => return Err(bad("venue_required", "name the reporting venue")),
    };
    authorise::venue(&state, &caller, venue)?;
    let store = state.store.clone();
    let sentinel = blocking(move || store.sentinel(venue))
        .await?
        .ok_or_else(|| {
            unprocessable(
                "unregistered_sentinel",
                format!("venue {venue} is not a registered sentinel (哨点); nothing was recorded"),
                None,
            )
        })?;
    let now = crate::now();
    let person = match (&b.token, &b.person) {
        (Some(token), _) => {
            let claims = state
                .verifier
                .verify(token.trim(), Some(&state.config.jurisdiction), now)
                .map_err(|e| {
                    bad(
                        "invalid_code",
                        format!("the scanned code is not valid: {e}"),
                    )
                })?;
            state
                .pseudonyms
                .person_of(&claims.subject)
                .filter(|p| state.projection.person_exists(*p))
                .ok_or_else(|| {
                    AppError::not_found(
                        "unknown_person",
                        "the code's subject is not a resident here",
                    )
                })?
        }
        (None, Some(p)) if caller.role == Role::Admin => {
            let p = person_id(p)?;
            if !state.projection.person_exists(p) {
                return Err(AppError::not_found(
                    "unknown_person",
                    format!("no person {p}"),
                ));
            }
            p
        }
        _ => return Err(bad("token_required", "scan the person's code (token)")),
    };
    let cell = home_cell(&state, person)?;
    let hours = state.policy().duties().sentinel_test_hours;
    let task = NewTask {
        cell,
        kind: TaskKind::ArrangeTest,
        person: Some(person),
        household: None,
        detail: format!("sentinel report for {person}: arrange a test within {hours} h"),
        created_at: now,
        due_at: now.plus(i64::from(hours) * HOUR),
        dedupe: Some(format!("sentinel:{person}:{}", now.shanghai_day().0)),
    };
    let event = NewEvent {
        at: now,
        actor: caller.actor(),
        basis: format!("哨点 report by venue {venue}"),
        body: EventBody::SentinelReported {
            person,
            sentinel_kind: sentinel.kind,
            at: now,
        },
    };
    commit(&state, vec![DutyOp::InsertTasks(vec![task])], vec![event]).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"person": person.to_string(), "test_due_within_hours": hours})),
    )
        .into_response())
}
