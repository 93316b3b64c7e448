//! Responsibility lists (责任清单, docs/citizens.md): an admin assigns an item — what, the
//! department, the owning official, the area, the deadline — and the owner (or any admin of
//! the area) marks it done with a note. The sweep raises every item past its deadline and
//! not done to the supervisor — the admins of the area above, who see it in their list as
//! escalated ([`escalate_overdue`]). Each step is an authority event.

use super::Item;
use super::messages::area_of;
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::extract::{Id, JsonIn};
use crate::state::{AppState, read};
use crate::wire::ItemsOut;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::board::{Department, MAX_TEXT_CHARS};
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::{EventSeq, Timestamp};

/// Who assigns, closes and reads items.
pub const SUPERVISORS: &[Role] = &[Role::Admin];

/// `POST /api/v1/supervision/items`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemIn {
    pub department: String,
    /// The owning official's user name.
    pub owner: String,
    pub what: String,
    /// The area (the caller's own when absent).
    #[serde(default)]
    pub area: Option<String>,
    /// RFC 3339, in the future.
    pub deadline: String,
}

/// An item as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemOut {
    pub id: String,
    pub department: &'static str,
    pub owner: String,
    pub what: String,
    pub area: String,
    pub deadline: String,
    pub done_at: Option<String>,
    pub note: Option<String>,
    pub overdue: bool,
    pub escalated: bool,
}

fn out(i: &Item, now: Timestamp) -> ItemOut {
    ItemOut {
        id: i.id.to_string(),
        department: i.department.as_str(),
        owner: i.owner.clone(),
        what: i.what.clone(),
        area: i.area.to_string(),
        deadline: i.deadline.to_rfc3339(),
        done_at: i.done.as_ref().map(|d| d.1.to_rfc3339()),
        note: i.done.as_ref().map(|d| d.0.clone()),
        overdue: i.done.is_none() && now > i.deadline,
        escalated: i.escalated_at.is_some(),
    }
}

/// `POST /api/v1/supervision/items`: 201 with the item.
pub async fn post_item(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<ItemIn>,
) -> Result<(StatusCode, Json<ItemOut>), AppError> {
    caller.require(SUPERVISORS, "responsibility lists")?;
    let b = input.get()?;
    let area = area_of(b.area.as_deref())?.unwrap_or_else(|| caller.area.clone());
    let area = authorise::area(&caller, area)?.into_inner();
    let department = Department::parse(&b.department)
        .ok_or_else(|| AppError::bad("invalid_department", "no such department"))?;
    let owner = super::text(&b.owner, MAX_TEXT_CHARS, "invalid_owner")?;
    let what = super::text(&b.what, MAX_TEXT_CHARS, "invalid_what")?;
    let now = crate::now();
    let deadline = Timestamp::parse_rfc3339(b.deadline.trim())
        .ok()
        .filter(|d| *d > now)
        .ok_or_else(|| {
            AppError::bad("invalid_deadline", "the deadline is a future RFC 3339 time")
        })?;
    let stored = state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: "责任清单: item assigned".into(),
            body: EventBody::ResponsibilityAssigned {
                department,
                owner,
                what,
                area,
                deadline,
            },
        }])
        .await?;
    let id = stored.first().map_or(EventSeq(0), |e| e.seq);
    let board = read(&state.projection.board);
    let item = board
        .items
        .get(&id)
        .ok_or_else(|| AppError::Internal("an assigned item is not in the projection".into()))?;
    Ok((StatusCode::CREATED, Json(out(item, now))))
}

/// `POST /api/v1/supervision/items/{id}/done {"note"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoneIn {
    pub note: String,
}

/// Marks an item done (admins of its area), once.
pub async fn post_done(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
    input: JsonIn<DoneIn>,
) -> Result<Json<ItemOut>, AppError> {
    caller.require(SUPERVISORS, "responsibility lists")?;
    let item = read(&state.projection.board)
        .items
        .get(&id)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_item", format!("no item {id}")))?;
    authorise::area(&caller, item.area.clone())?;
    let note = super::text(&input.get()?.note, MAX_TEXT_CHARS, "invalid_note")?;
    if item.done.is_some() {
        return Err(AppError::Conflict {
            code: "item_done",
            message: format!("item {id} is done already"),
        });
    }
    let now = crate::now();
    state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: format!("责任清单: item {id} done"),
            body: EventBody::ResponsibilityUpdated {
                item: id,
                escalated: false,
                note,
            },
        }])
        .await?;
    let board = read(&state.projection.board);
    let item = board
        .items
        .get(&id)
        .ok_or_else(|| AppError::Internal("a done item left the projection".into()))?;
    Ok(Json(out(item, now)))
}

/// `?overdue=true&escalated=true` (and `format=csv|xlsx` for the export).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ItemsQuery {
    #[serde(default)]
    pub overdue: Option<bool>,
    #[serde(default)]
    pub escalated: Option<bool>,
    #[serde(default)]
    pub format: Option<String>,
}

/// `GET /api/v1/supervision/items`: the items of the caller's area, newest first (at most
/// 500). A supervisor (the area above) sees the escalated ones of the areas below.
pub async fn get_items(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<ItemsQuery>,
) -> Result<Json<ItemsOut<ItemOut>>, AppError> {
    Ok(Json(ItemsOut {
        items: items(&state, &caller, &q)?,
    }))
}

/// The items of the caller's area, newest first, at most 500.
pub fn items(state: &AppState, caller: &Actor, q: &ItemsQuery) -> Result<Vec<ItemOut>, AppError> {
    caller.require(SUPERVISORS, "responsibility lists")?;
    let now = crate::now();
    let board = read(&state.projection.board);
    Ok(board
        .items
        .values()
        .rev()
        .filter(|i| caller.covers(&i.area))
        .map(|i| out(i, now))
        .filter(|o| q.overdue.is_none_or(|x| x == o.overdue))
        .filter(|o| q.escalated.is_none_or(|x| x == o.escalated))
        .take(500)
        .collect())
}

/// `GET /api/v1/supervision/items/export?format=csv|xlsx&overdue=&escalated=`.
pub async fn export_items(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<ItemsQuery>,
) -> Result<axum::response::Response, AppError> {
    caller.require(SUPERVISORS, "responsibility lists")?;
    let format = crate::export::Format::parse(q.format.as_deref())?;
    format.response(
        &items_table(&state, &caller, &q)?,
        "responsibility",
        "责任清单",
    )
}

/// The items of the caller's area as an export table.
pub fn items_table(
    state: &AppState,
    caller: &Actor,
    q: &ItemsQuery,
) -> Result<crate::export::Table, AppError> {
    let mut t = crate::export::Table {
        headers: [
            "编号 id",
            "部门 department",
            "责任人 owner",
            "事项 what",
            "区域 area",
            "期限 deadline",
            "完成 done_at",
            "说明 note",
            "超期 overdue",
            "已督办 escalated",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for i in items(state, caller, q)? {
        t.rows.push(vec![
            i.id.into(),
            i.department.into(),
            i.owner.into(),
            i.what.into(),
            i.area.into(),
            i.deadline.into(),
            i.done_at.unwrap_or_default().into(),
            i.note.unwrap_or_default().into(),
            if i.overdue { "yes" } else { "" }.into(),
            if i.escalated { "yes" } else { "" }.into(),
        ]);
    }
    Ok(t)
}

/// The sweep's part: every item past its deadline, not done and not yet escalated, is
/// raised to the supervisor, one event each. Answers how many.
pub async fn escalate_overdue(state: &AppState, now: Timestamp) -> Result<usize, AppError> {
    let due: Vec<EventSeq> = read(&state.projection.board)
        .items
        .values()
        .filter(|i| i.done.is_none() && i.escalated_at.is_none() && now > i.deadline)
        .map(|i| i.id)
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let events = due
        .iter()
        .map(|id| NewEvent {
            at: now,
            actor: "system:sweep".into(),
            basis: format!("责任清单: item {id} past its deadline, raised to the supervisor"),
            body: EventBody::ResponsibilityUpdated {
                item: *id,
                escalated: true,
                note: "overdue".into(),
            },
        })
        .collect();
    state.record(events).await?;
    Ok(due.len())
}
