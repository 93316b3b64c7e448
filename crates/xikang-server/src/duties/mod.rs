//! Duties over HTTP (issue 5): the administrative grid and grid workers' tasks, quarantine
//! sites and orders with their test plans, daily health reports, zones with system-proposed
//! and official-approved changes, arrivals and sentinel reports.
//!
//! Every change that can alter a colour or a duty is an authority event, committed in the
//! same transaction as the duty rows it goes with ([`commit`]); the numbers come from the
//! active policy's `[duties]` section. The functions that do the work (`seal_zone`,
//! `approve_proposal`, …) are public so that the benchmark times exactly what a request does.
//!
//! One file per concern: `grid`, `quarantine`, `reports` (and the sweep), `zones`,
//! `arrivals`, `sentinels`; this file holds the routes and the shared plumbing.

use crate::app::projection::lock;
use crate::app::{Actor, Role, Scoped, authorise};
use crate::error::AppError;
use crate::extract::{Id, JsonIn, parse_id};
use crate::state::{AppState, read};
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;

use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;
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

pub(crate) mod arrivals;
pub(crate) mod draw;
pub(crate) mod grid;
pub(crate) mod quarantine;
pub(crate) mod reports;
pub(crate) mod sentinels;
pub(crate) mod wire;
pub(crate) mod zones;

use arrivals::*;
pub use draw::*;
pub use grid::*;
pub use quarantine::*;
pub use reports::*;
use sentinels::*;
pub use wire::*;
pub use zones::*;

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

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(f)
        .await?
        .map_err(AppError::from)
}

/// Commits duty rows and their authority events in one transaction, then applies the
/// events to the projection ([`AppState::commit_duties`]).
pub async fn commit(
    state: &AppState,
    ops: Vec<DutyOp>,
    events: Vec<NewEvent>,
) -> Result<Vec<StoredEvent>, AppError> {
    Ok(state.commit_duties(ops, events).await?)
}

fn person_id(s: &str) -> Result<PersonId, AppError> {
    parse_id(s)
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
