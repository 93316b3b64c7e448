//! Appeals against a colour (申诉): a resident, or an official for them, files an appeal
//! with a reason; officials of the person's jurisdiction see the open ones and answer. Both
//! are authority events ([`EventBody::AppealFiled`], [`EventBody::AppealAnswered`]), so who
//! appealed, why, who answered and what is in the hash-chained log. Neither changes the
//! colour: only facts do (an official who finds a wrong fact corrects the fact, e.g.
//! dismisses a contact designation, and the colour follows). This is the accountable path
//! PROTOCOL.md §7 asks for instead of changing a colour by hand.
//!
//! The open and answered appeals are kept in the projection
//! ([`crate::app::projection::Projection::appeals`]), folded from the log like the cases, keyed by the sequence number of the filing event.

use crate::api::visible_person;
use crate::app::{Actor, Role, Scoped, authorise};
use crate::error::AppError;
use crate::extract::JsonIn;
use crate::state::{AppState, read};
use crate::wire::{AppealAnsweredOut, AppealFiledOut, AppealOut, AppealsOut};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::{EventSeq, PersonId};

/// The longest reason or answer, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;

/// Who may file an appeal (residents only for themselves, staff in their jurisdiction).
pub const FILERS: &[Role] = &[Role::Resident, Role::Admin, Role::Tracer, Role::GridWorker];
/// Who sees and answers appeals.
pub const ANSWERERS: &[Role] = &[Role::Admin, Role::Tracer];

pub use crate::app::projection::{Answer, Appeal};

/// A reason or an answer: trimmed, not empty, at most [`MAX_TEXT_CHARS`].
pub fn parse_text(s: &str, code: &'static str) -> Result<String, AppError> {
    crate::board::text(s, MAX_TEXT_CHARS, code)
}

/// A person's appeals, oldest first.
pub fn appeals_of(state: &AppState, person: Scoped<PersonId>) -> Vec<Appeal> {
    let person = person.id();
    read(&state.projection.appeals)
        .values()
        .filter(|a| a.person == person)
        .cloned()
        .collect()
}

/// The appeals `caller` may answer (their jurisdiction), open ones first, then newest first,
/// recorded in the access log as read through `route`.
pub fn visible_appeals(
    state: &AppState,
    caller: &Actor,
    open_only: bool,
    route: &'static str,
) -> Result<Vec<Appeal>, AppError> {
    let mut v: Vec<Appeal> = read(&state.projection.appeals)
        .values()
        .filter(|a| !open_only || a.answer.is_none())
        .filter(|a| {
            state
                .projection
                .person_area(a.person)
                .is_some_and(|area| caller.covers(&area))
        })
        .cloned()
        .collect();
    v.sort_by_key(|a| (a.answer.is_some(), std::cmp::Reverse(a.id)));
    let people = v.iter().map(|a| a.person);
    state
        .access
        .record(caller, route, None, crate::now(), people)?;
    Ok(v)
}

/// The body of `POST /api/v1/people/{id}/appeals`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FileIn {
    reason: String,
}

/// `POST /api/v1/people/{id}/appeals {"reason"}`: 201 with the appeal's id; 409
/// `appeal_open` while the person has an unanswered one.
pub async fn file(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    input: JsonIn<FileIn>,
) -> Result<Response, AppError> {
    // Who and for whom before the body, as the API always answered.
    caller.require(FILERS, "filing appeals")?;
    let person = visible_person(&state, &caller, &id)?;
    let b = input.get()?;
    let filed = file_appeal(&state, &caller, person, &b.reason).await?;
    Ok((
        StatusCode::CREATED,
        Json(AppealFiledOut {
            appeal: filed.to_string(),
            person: person.to_string(),
        }),
    )
        .into_response())
}

/// Files an appeal against a person's colour (the command behind
/// `POST /api/v1/people/{id}/appeals` and the person pages' form): the person themselves
/// or staff of their jurisdiction; one open appeal per person. Answers the appeal's id
/// (the filing event's number).
pub async fn file_appeal(
    state: &AppState,
    caller: &Actor,
    scoped: Scoped<PersonId>,
    reason: &str,
) -> Result<EventSeq, AppError> {
    caller.require(FILERS, "filing appeals")?;
    let person = scoped.id();
    let reason = parse_text(reason, "invalid_reason")?;
    if appeals_of(state, scoped).iter().any(|a| a.answer.is_none()) {
        return Err(AppError::Conflict {
            code: "appeal_open",
            message: format!("{person} already has an open appeal; wait for its answer"),
        });
    }
    let stored = state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: "appeal against the colour (申诉)".into(),
            body: EventBody::AppealFiled { person, reason },
        }])
        .await?;
    Ok(stored.first().map_or(EventSeq(0), |e| e.seq))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    #[serde(default)]
    status: Option<String>,
}

/// `GET /api/v1/appeals?status=open|all` (open by default): the appeals of the caller's
/// jurisdiction.
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    caller.require(ANSWERERS, "appeals")?;
    let open_only = match q.status.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(_) => return Err(AppError::bad("invalid_status", "status is open or all")),
    };
    let appeals = visible_appeals(&state, &caller, open_only, "GET /api/v1/appeals")?;
    Ok(Json(AppealsOut {
        appeals: appeals.iter().map(AppealOut::from).collect(),
    })
    .into_response())
}

/// The body of `POST /api/v1/appeals/{id}/answer`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AnswerIn {
    answer: String,
}

/// An appeal id: the filing event's sequence number (`E12` or `12`).
pub fn parse_appeal_id(s: &str) -> Option<EventSeq> {
    s.trim()
        .strip_prefix('E')
        .unwrap_or(s.trim())
        .parse()
        .ok()
        .map(EventSeq)
}

/// `POST /api/v1/appeals/{id}/answer {"answer"}`: logs the answer; the colour is unchanged.
pub async fn answer(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    input: JsonIn<AnswerIn>,
) -> Result<Response, AppError> {
    // Who and which appeal before the body, as the API always answered.
    caller.require(ANSWERERS, "answering appeals")?;
    let seq = parse_appeal_id(&id)
        .ok_or_else(|| AppError::bad("invalid_appeal_id", "an appeal id looks like E12"))?;
    let appeal = authorise::appeal(&state, &caller, seq)?;
    let b = input.get()?;
    answer_appeal(&state, &caller, appeal, &b.answer).await?;
    Ok(Json(AppealAnsweredOut {
        answered: true,
        appeal: seq.to_string(),
    })
    .into_response())
}

/// Answers an appeal (the command behind `POST /api/v1/appeals/{id}/answer` and the
/// appeals page): admins and tracers of the person's jurisdiction, once; the colour does
/// not change by it.
pub async fn answer_appeal(
    state: &AppState,
    caller: &Actor,
    appeal: Scoped<Appeal>,
    answer: &str,
) -> Result<(), AppError> {
    caller.require(ANSWERERS, "answering appeals")?;
    let appeal = appeal.into_inner();
    let seq = appeal.id;
    let text = parse_text(answer, "invalid_answer")?;
    // Two officials answering at the same moment could both be logged (the later answer is
    // the one shown); both stay in the log, so nothing is lost or hidden.
    if appeal.answer.is_some() {
        return Err(AppError::Conflict {
            code: "appeal_answered",
            message: format!("appeal {seq} was answered already"),
        });
    }
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: format!("answer to appeal {seq}"),
            body: EventBody::AppealAnswered {
                person: appeal.person,
                appeal: seq,
                answer: text,
            },
        }])
        .await?;
    Ok(())
}
