//! The resource handlers of `/api/v1` other than scans: people and their codes, venues,
//! check-ins, test results, cases, the authority log and its signed checkpoints, the
//! policy, the trust list, tokens and the access log. One file per resource: `people`,
//! `venues`, `results`, `cases`, `log`, `checkpoint`, `tokens`, `access`; this file holds
//! what they share.

pub(crate) mod access;
pub(crate) mod bulletin;
pub(crate) mod cases;
pub(crate) mod checkpoint;
pub(crate) mod course;
pub(crate) mod log;
pub(crate) mod people;
pub(crate) mod results;
pub(crate) mod tokens;
pub(crate) mod venues;

pub use access::*;
pub use bulletin::*;
pub use cases::*;
pub use checkpoint::*;
pub use course::*;
pub use log::*;
pub use people::*;
pub use results::*;
pub use tokens::*;
pub use venues::*;

use crate::app::{Actor, Role, Scoped, authorise};
use crate::error::AppError;
use crate::extract::{Id, JsonIn};
use crate::state::{AppState, IssuedCode};
use crate::wire::{
    AuditOut, CaseOut, CheckInOut, EventOut, ItemsOut, PeoplePageOut, PersonOut, PersonRefOut,
    PolicyOut, RecordedOut, RegisteredCaseOut, VenueOut, VenuesPageOut,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use xikang_domain::event::{CaseKind, EventBody, NewEvent};
use xikang_domain::idnumber::IdNumber;
use xikang_domain::time::DAY;
use xikang_domain::{AreaCode, CaseId, EventSeq, PersonId, TestOutcome, Timestamp, VenueId};

const STAFF: &[Role] = &[Role::Admin, Role::Tracer, Role::GridWorker];

/// Finds a person the caller may see, by the id in a path or form.
pub(crate) fn visible_person(
    state: &AppState,
    caller: &Actor,
    id: &str,
) -> Result<Scoped<PersonId>, AppError> {
    let person = crate::extract::parse_id::<PersonId>(id)?;
    authorise::person(state, caller, person)
}

pub(crate) fn blocking_err(e: tokio::task::JoinError) -> AppError {
    AppError::Internal(format!("blocking task: {e}"))
}

/// An optional RFC 3339 time from a request, refused as `invalid_time`.
pub(crate) fn parse_time(s: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    s.map(|s| Timestamp::parse_rfc3339(s).map_err(|e| AppError::bad("invalid_time", e.to_string())))
        .transpose()
}
