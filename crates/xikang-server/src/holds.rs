//! Manual holds (弹窗, issue 14): the one path by which an official can colour a person
//! without machine evidence, and it takes two. One official proposes a hold with its basis
//! and an expiry (`POST /holds`, a [`EventBody::HoldProposed`] event: no fact, no colour);
//! a second official approves it (`POST /holds/{id}/approve`, a [`EventBody::HoldPlaced`]
//! naming both: the policy's `hold` rule colours the person from then); the proposer
//! approving is a 409 `same_official` ([`second_official`]). The resident sees the hold and
//! its basis on the code page; it lapses at its expiry (the fact's planned end) or when an
//! official clears it (`POST /holds/{id}/clear`).
//!
//! Holds are kept in the projection ([`crate::app::projection::Projection::holds`]), folded
//! from the log and keyed by the proposal's sequence number, which is the hold's id (`E12`).
//! Proposing takes an admin or tracer of the person's district; approving takes an admin of
//! it (the command centre answers for a colour without evidence); clearing, either.

use crate::app::projection::Hold;
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::extract::{Id, JsonIn};
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::authority::{
    Act, ApprovalRefused, ApprovedBasis, Authority, Evidence, authority, second_official,
};
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::time::DAY;
use xikang_domain::{EventSeq, PersonId, Timestamp};

/// Who may propose a hold.
pub const PROPOSERS: &[Role] = &[Role::Admin, Role::Tracer];
/// Who may approve one (a second official).
pub const APPROVERS: &[Role] = &[Role::Admin];
/// Who may clear an active hold.
pub const CLEARERS: &[Role] = &[Role::Admin, Role::Tracer];
/// The longest basis, in characters.
pub const MAX_BASIS_CHARS: usize = 1000;
/// The longest a hold may last: a hold is a stopgap while evidence is sought, not a sentence.
pub const MAX_HOLD_DAYS: i64 = 14;

/// Approvals are checked and committed one at a time, so a hold is never approved twice.
static APPROVING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The body of `POST /holds`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldIn {
    pub person: String,
    #[serde(default)]
    pub basis: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A hold on the wire (fields in alphabetical order).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HoldOut {
    pub approved_at: Option<String>,
    pub approver: Option<String>,
    pub basis: String,
    pub expires_at: String,
    pub id: String,
    pub person: String,
    pub proposed_at: String,
    pub proposer: String,
    /// `proposed`, `active`, `expired` (lapsed, or a proposal nobody approved in time) or
    /// `cleared`.
    pub status: &'static str,
}

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    /// Proposed, waiting for a second official.
    Proposed,
    /// Approved: the person is held.
    Active,
    /// Lapsed at its expiry (or a proposal nobody approved in time).
    Expired,
    /// Cleared by an official.
    Cleared,
}

impl HoldStatus {
    /// The status's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Proposed => "proposed",
            HoldStatus::Active => "active",
            HoldStatus::Expired => "expired",
            HoldStatus::Cleared => "cleared",
        }
    }
}

/// Where a hold stands at `now`: a hold lapses at its expiry, whether approved or not.
pub fn status_of(h: &Hold, now: Timestamp) -> HoldStatus {
    match (&h.approved, h.cleared_at) {
        (Some(_), Some(_)) => HoldStatus::Cleared,
        (Some(_), None) | (None, _) if h.expires_at <= now => HoldStatus::Expired,
        (Some(_), None) => HoldStatus::Active,
        (None, _) => HoldStatus::Proposed,
    }
}

impl HoldOut {
    /// The wire form of a hold at `now`.
    pub fn new(h: &Hold, now: Timestamp) -> HoldOut {
        HoldOut {
            approved_at: h.approved.as_ref().map(|a| a.1.to_rfc3339()),
            approver: h.approved.as_ref().map(|a| a.0.clone()),
            basis: h.basis.clone(),
            expires_at: h.expires_at.to_rfc3339(),
            id: h.id.to_string(),
            person: h.person.to_string(),
            proposed_at: h.proposed_at.to_rfc3339(),
            proposer: h.proposer.clone(),
            status: status_of(h, now).as_str(),
        }
    }
}

/// `GET /holds`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HoldsOut {
    pub holds: Vec<HoldOut>,
}

/// Proposes a hold on a person in the caller's jurisdiction: basis and expiry are required
/// (400 `basis_required`, `expiry_required`); the expiry lies in the future and at most
/// [`MAX_HOLD_DAYS`] ahead (400 `invalid_expiry`). Nothing changes colour yet.
pub async fn propose_hold(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<HoldIn>,
    now: Timestamp,
) -> Result<HoldOut, AppError> {
    caller.require(PROPOSERS, "proposing holds")?;
    let b = input.get()?;
    let person = crate::extract::parse_id::<PersonId>(&b.person)?;
    let person = authorise::person(state, caller, person)?.id();
    let basis = b
        .basis
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AppError::bad(
                "basis_required",
                "a hold states its basis: why this person is held",
            )
        })?;
    if basis.chars().count() > MAX_BASIS_CHARS {
        return Err(AppError::bad(
            "invalid_basis",
            format!("a basis has at most {MAX_BASIS_CHARS} characters"),
        ));
    }
    let expires_at = b
        .expires_at
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AppError::bad("expiry_required", "a hold needs `expires_at`"))?;
    let expires_at = Timestamp::parse_rfc3339(expires_at)
        .map_err(|e| AppError::bad("invalid_time", e.to_string()))?;
    if expires_at <= now || expires_at > now.plus(MAX_HOLD_DAYS * DAY) {
        return Err(AppError::bad(
            "invalid_expiry",
            format!("a hold expires in the future, at most {MAX_HOLD_DAYS} days ahead"),
        ));
    }
    match authority(Act::Hold, &Evidence::default()) {
        Authority::Proposal(_) => {}
        // The domain makes every hold a proposal; anything else is refused (fail closed).
        Authority::Cites { .. } | Authority::Refused(_) => {
            return Err(AppError::Forbidden("holds are placed by two officials"));
        }
    }
    let stored = state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: basis.to_owned(),
            body: EventBody::HoldProposed { person, expires_at },
        }])
        .await?;
    let id = stored
        .first()
        .map(|e| e.seq)
        .ok_or_else(|| AppError::Internal("the proposal was not recorded".into()))?;
    hold_out(state, id, now)
}

fn hold_out(state: &AppState, id: EventSeq, now: Timestamp) -> Result<HoldOut, AppError> {
    read(&state.projection.holds)
        .get(&id)
        .map(|h| HoldOut::new(h, now))
        .ok_or_else(|| unknown(id))
}

fn unknown(id: EventSeq) -> AppError {
    AppError::not_found("unknown_hold", format!("no hold {id}"))
}

/// A hold whose person the caller may see (404 for an unknown hold, 403 outside the area).
fn visible_hold(state: &AppState, caller: &Actor, id: EventSeq) -> Result<Hold, AppError> {
    let h = read(&state.projection.holds)
        .get(&id)
        .cloned()
        .ok_or_else(|| unknown(id))?;
    authorise::person(state, caller, h.person)?;
    Ok(h)
}

/// Approves a proposed hold as a second official: the hold becomes active (the person's
/// colour follows the policy's `hold` rule) and the event names both officials.
pub async fn approve_hold(
    state: &AppState,
    caller: &Actor,
    id: EventSeq,
    now: Timestamp,
) -> Result<HoldOut, AppError> {
    caller.require(APPROVERS, "approving holds")?;
    let _one_at_a_time = APPROVING.lock().await;
    let h = visible_hold(state, caller, id)?;
    let approver = caller.actor();
    match second_official(&h.proposer, &approver) {
        Ok(()) => {}
        Err(ApprovalRefused::SameOfficial) => {
            return Err(AppError::Conflict {
                code: "same_official",
                message:
                    "the official who proposed a hold cannot approve it: a second official must"
                        .into(),
            });
        }
        Err(ApprovalRefused::NotAnOfficial) => {
            return Err(AppError::Forbidden("only an official approves a hold"));
        }
    }
    match status_of(&h, now) {
        HoldStatus::Proposed => {}
        HoldStatus::Expired => {
            return Err(AppError::Conflict {
                code: "hold_expired",
                message: format!("hold {id} expired before it was approved"),
            });
        }
        HoldStatus::Active | HoldStatus::Cleared => {
            return Err(AppError::Conflict {
                code: "hold_decided",
                message: format!("hold {id} was already approved"),
            });
        }
    }
    let basis = serde_json::to_string(&ApprovedBasis {
        act: "hold".into(),
        approver: approver.clone(),
        basis: Some(h.basis.clone()),
        proposal: id.to_string(),
        proposer: h.proposer.clone(),
    })
    .unwrap_or_default();
    state
        .record(vec![NewEvent {
            at: now,
            actor: approver.clone(),
            basis,
            body: EventBody::HoldPlaced {
                person: h.person,
                proposer: h.proposer.clone(),
                approver,
                expires_at: h.expires_at,
                proposal: Some(id),
            },
        }])
        .await?;
    hold_out(state, id, now)
}

/// Clears an active hold (and any other active hold of the same person): the colour follows
/// the remaining facts.
pub async fn clear_hold(
    state: &AppState,
    caller: &Actor,
    id: EventSeq,
    now: Timestamp,
) -> Result<HoldOut, AppError> {
    caller.require(CLEARERS, "clearing holds")?;
    let h = visible_hold(state, caller, id)?;
    if status_of(&h, now) != HoldStatus::Active {
        return Err(AppError::Conflict {
            code: "hold_not_active",
            message: format!("hold {id} is not active"),
        });
    }
    state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: format!("hold {id} cleared by an official"),
            body: EventBody::HoldCleared {
                person: h.person,
                by: caller.actor(),
            },
        }])
        .await?;
    hold_out(state, id, now)
}

/// The query of `GET /holds`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HoldsQuery {
    #[serde(default)]
    pub person: Option<String>,
}

/// The holds of the caller's jurisdiction (or of one person in it), newest first.
pub fn holds_visible(
    state: &AppState,
    caller: &Actor,
    person: Option<PersonId>,
    now: Timestamp,
) -> Result<HoldsOut, AppError> {
    caller.require(PROPOSERS, "listing holds")?;
    if let Some(p) = person {
        authorise::person(state, caller, p)?;
    }
    let holds: Vec<Hold> = read(&state.projection.holds)
        .values()
        .rev()
        .filter(|h| person.is_none_or(|p| h.person == p))
        .filter(|h| authorise::person_visible(state, caller, h.person))
        .take(1000)
        .cloned()
        .collect();
    state.access.record(
        caller,
        "GET /api/v1/holds",
        None,
        now,
        holds.iter().map(|h| h.person),
    )?;
    Ok(HoldsOut {
        holds: holds.iter().map(|h| HoldOut::new(h, now)).collect(),
    })
}

/// The holds of one person that are active at `now`, for the code page.
pub fn active_holds_of(state: &AppState, person: PersonId, now: Timestamp) -> Vec<Hold> {
    read(&state.projection.holds)
        .values()
        .filter(|h| h.person == person && status_of(h, now) == HoldStatus::Active)
        .cloned()
        .collect()
}

/// `POST /api/v1/holds`: 201, the proposal ([`propose_hold`]).
pub async fn post_hold(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<HoldIn>,
) -> Result<(StatusCode, Json<HoldOut>), AppError> {
    let out = propose_hold(&state, &caller, input, crate::now()).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// `POST /api/v1/holds/{id}/approve` ([`approve_hold`]).
pub async fn approve(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
) -> Result<Json<HoldOut>, AppError> {
    Ok(Json(approve_hold(&state, &caller, id, crate::now()).await?))
}

/// `POST /api/v1/holds/{id}/clear` ([`clear_hold`]).
pub async fn clear(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
) -> Result<Json<HoldOut>, AppError> {
    Ok(Json(clear_hold(&state, &caller, id, crate::now()).await?))
}

/// `GET /api/v1/holds?person=` ([`holds_visible`]).
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<HoldsQuery>,
) -> Result<Json<HoldsOut>, AppError> {
    let person = q
        .person
        .as_deref()
        .map(crate::extract::parse_id::<PersonId>)
        .transpose()?;
    Ok(Json(holds_visible(&state, &caller, person, crate::now())?))
}
