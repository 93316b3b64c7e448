//! Supplies for sealed and isolated households (保供, docs/citizens.md): a resident under a
//! home order or living in a sealed zone asks (or their grid worker asks for them) for
//! medicine, food or daily necessities; the request becomes a delivery task on the list of
//! the worker of the household's home cell, due by the need's deadline, written with its
//! authority event in one transaction. An undelivered task past its deadline escalates the
//! way every grid task does: the overdue roll-up per cell, street and district
//! (`GET /api/v1/grid/overdue`, docs/duties.md) and the 红黑榜's overdue measure.

use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::extract::JsonIn;
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::duties::TaskKind;
use xikang_domain::event::{EventBody, NewEvent, QuarantineKind, SupplyNeed, ZoneLevel};
use xikang_domain::facts::FactKind;
use xikang_domain::time::HOUR;
use xikang_domain::{PersonId, Timestamp};
use xikang_store::{DutyOp, NewTask};

/// Who asks: the resident for themselves, staff of the household's area for them.
pub const REQUESTERS: &[Role] = &[Role::Resident, Role::GridWorker, Role::Admin];
/// The longest list of items.
pub const MAX_ITEMS_CHARS: usize = 500;
/// Who reads the supply requests of their area (the staff page): admins and grid workers.
pub const VIEWERS: &[Role] = &[Role::Admin, Role::GridWorker];

/// `POST /api/v1/supply-requests`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplyIn {
    /// The person (`P…`); a resident may leave it out (themselves).
    #[serde(default)]
    pub person: Option<String>,
    /// `medicine`, `food` or `daily`.
    pub need: String,
    pub items: String,
}

/// The request and the task it made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SupplyOut {
    pub request: String,
    pub person: String,
    pub need: &'static str,
    pub cell: u32,
    pub due_at: String,
}

/// Whether `person` is sealed in (a sealed or high-risk zone) or under a home order at
/// `now`: who the supply guarantee is for.
pub fn sealed_or_isolated(state: &AppState, person: PersonId, now: Timestamp) -> bool {
    let people = read(&state.projection.people);
    let Some(slot) = people.get(person.0 as usize).filter(|s| s.is_used()) else {
        return false;
    };
    slot.facts.facts().iter().any(|f| {
        f.start <= now
            && f.ended_by(now).is_none()
            && match f.kind {
                FactKind::Zone { level, .. } => {
                    matches!(level, ZoneLevel::Sealed | ZoneLevel::High)
                }
                FactKind::Quarantine {
                    quarantine_kind, ..
                } => matches!(
                    quarantine_kind,
                    QuarantineKind::HomeIsolation | QuarantineKind::HealthMonitoring
                ),
                _ => false,
            }
    })
}

/// Files a supply request: the household must be sealed or isolated; the task goes to the
/// home cell's list.
pub async fn request(state: &AppState, caller: &Actor, b: SupplyIn) -> Result<SupplyOut, AppError> {
    caller.require(REQUESTERS, "supply requests")?;
    let person = match (caller.role, b.person.as_deref()) {
        (Role::Resident, None) => caller
            .person
            .ok_or(AppError::Forbidden("a resident's token names their person"))?,
        (_, Some(p)) => crate::extract::parse_id(p)?,
        (_, None) => {
            return Err(AppError::bad(
                "person_required",
                "name the person (P…) the request is for",
            ));
        }
    };
    let person = authorise::person(state, caller, person)?.id();
    let need = SupplyNeed::parse(&b.need)
        .ok_or_else(|| AppError::bad("invalid_need", "need is medicine, food or daily"))?;
    let items = super::text(&b.items, MAX_ITEMS_CHARS, "invalid_items")?;
    let now = crate::now();
    if !sealed_or_isolated(state, person, now) {
        return Err(AppError::Conflict {
            code: "not_sealed",
            message: "supply requests are for sealed or isolated households; others shop".into(),
        });
    }
    let cell = state
        .projection
        .home_cell(person)
        .ok_or_else(|| AppError::not_found("unknown_person", format!("no person {person}")))?;
    let due_at = now.plus(need.hours() * HOUR);
    let task = NewTask {
        cell,
        kind: TaskKind::Delivery,
        person: Some(person),
        household: None,
        detail: format!(
            "supply request ({}) for {person}: deliver within {} h",
            need.as_str(),
            need.hours()
        ),
        created_at: now,
        due_at,
        dedupe: None,
    };
    let event = NewEvent {
        at: now,
        actor: caller.actor(),
        basis: format!(
            "保供: {} request of a sealed or isolated household",
            need.as_str()
        ),
        body: EventBody::SupplyRequested {
            person,
            need,
            items,
            due_at,
        },
    };
    let stored =
        crate::duties::commit(state, vec![DutyOp::InsertTasks(vec![task])], vec![event]).await?;
    let id = stored
        .first()
        .map(|e| e.seq.to_string())
        .unwrap_or_default();
    tracing::info!(request = %id, "supply request filed");
    Ok(SupplyOut {
        request: id,
        person: person.to_string(),
        need: need.as_str(),
        cell: cell.0,
        due_at: due_at.to_rfc3339(),
    })
}

/// `POST /api/v1/supply-requests`: 201 with the request and its task's cell and deadline.
pub async fn post_supply_request(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<SupplyIn>,
) -> Result<(StatusCode, Json<SupplyOut>), AppError> {
    caller.require(REQUESTERS, "supply requests")?;
    Ok((
        StatusCode::CREATED,
        Json(request(&state, &caller, input.get()?).await?),
    ))
}
