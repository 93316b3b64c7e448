//! The HTTP side of testing and vaccination: request and answer shapes, roles, and the
//! routes merged into `/api/v1`. Batch requests answer per item (`{"index", "error"}`), keep
//! the good items, and refuse with 422 only when every item was refused.
//!
//! This file holds the routes and the shared answer shapes; the handlers are in
//! [`rounds`], [`tubes`], [`results`] and [`vaccination`].

mod results;
mod rounds;
mod tubes;
mod vaccination;

pub use results::*;
use rounds::*;
pub use tubes::*;
use vaccination::*;

use super::{ItemError, NewRound, NewTube, Swabbed, item_err};
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::json::{body_json, parse};
use crate::state::{AppState, read};
use crate::wire::rfc;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use xikang_domain::testing::{
    BatchId, Dose, LabOutcome, PoolSizes, ResultLine, RoundId, SamplingSite, SiteId, TaskKind,
    Tube, TubeBarcode,
};
use xikang_domain::{AreaCode, CivilDay, GridCell, PersonId, Timestamp};

/// Largest batch of items in one request.
const MAX_ITEMS: usize = 10_000;

/// The routes, merged into the `/api/v1` router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/sampling-sites", post(post_site).get(get_sites))
        .route("/rounds", post(post_round))
        .route("/rounds/{id}", get(get_round))
        .route("/rounds/{id}/unsampled", get(get_unsampled))
        .route("/rounds/{id}/close", post(post_close_round))
        .route("/rounds/{id}/deadline", post(post_round_deadline))
        .route("/tubes", post(post_tubes).get(get_tube_states))
        .route("/tubes/seal", post(post_seal))
        .route("/tubes/stuck", get(get_stuck))
        .route("/tubes/{id}", get(get_tube))
        .route("/samples", post(post_samples))
        .route("/batches", post(post_batch))
        .route("/batches/{id}/receive", post(post_receive))
        .route("/lab-results", post(post_lab_results))
        .route("/lab-tasks", get(get_tasks))
        .route("/vaccinations", post(post_vaccinations))
        .route("/vaccinations/coverage", get(get_coverage))
        .route(
            "/vaccinations/outreach",
            post(post_outreach).get(get_outreach),
        )
        .route("/people/{id}/vaccination", get(get_person_vaccination))
        .route("/test-requirements/check", post(post_check_mandated))
}

fn err_json(e: &ItemError) -> Value {
    json!({"code": e.code, "message": e.message})
}

/// The answer to a batch: every item's outcome by index; 422 when none was accepted.
fn batch_answer(results: Vec<Result<Value, ItemError>>) -> Result<Response, AppError> {
    batch_reply(batch_items(results))
}

/// Each item's answer or refusal with its `index`.
fn batch_items(results: Vec<Result<Value, ItemError>>) -> Vec<Value> {
    results
        .into_iter()
        .enumerate()
        .map(|(index, r)| match r {
            Ok(mut v) => {
                v["index"] = json!(index);
                v
            }
            Err(e) => json!({"index": index, "error": err_json(&e)}),
        })
        .collect()
}

/// The batch answer over [`batch_items`]: 422 when every item was refused.
fn batch_reply(items: Vec<Value>) -> Result<Response, AppError> {
    let accepted = items.iter().filter(|v| v.get("error").is_none()).count();
    if accepted == 0 {
        return Err(AppError::Unprocessable {
            code: "no_valid_items",
            message: "every item was refused; nothing was recorded".into(),
            details: Some(json!({"results": items})),
        });
    }
    Ok(
        Json(json!({"accepted": accepted, "refused": items.len() - accepted, "results": items}))
            .into_response(),
    )
}

fn check_count(n: usize) -> Result<(), AppError> {
    if n == 0 {
        return Err(AppError::bad("empty_batch", "send at least one item"));
    }
    if n > MAX_ITEMS {
        return Err(AppError::TooLarge(format!(
            "at most {MAX_ITEMS} items per request, this one has {n}"
        )));
    }
    Ok(())
}

fn parse_area(s: &str) -> Result<AreaCode, AppError> {
    AreaCode::parse(s).map_err(|e| AppError::bad("invalid_area", e.to_string()))
}

fn parse_time(s: &str) -> Result<Timestamp, AppError> {
    Timestamp::parse_rfc3339(s).map_err(|e| AppError::bad("invalid_time", e.to_string()))
}

fn tube_json(t: &Tube, members: usize) -> Value {
    let (to_lab, in_lab) = t.turnaround();
    json!({
        "id": t.id.to_string(), "barcode": t.barcode, "site": t.site.to_string(),
        "round": t.round.map(|r| r.to_string()), "capacity": t.capacity, "members": members,
        "state": t.state.as_str(), "opened_at": t.opened_at.to_rfc3339(),
        "sealed_at": rfc(t.sealed_at), "batch": t.batch.map(|b| b.to_string()),
        "shipped_at": rfc(t.shipped_at), "received_at": rfc(t.received_at),
        "resulted_at": rfc(t.resulted_at), "outcome": t.outcome, "ct": t.ct, "lab": t.lab,
        "turnaround_secs": {"sampled_to_received": to_lab, "received_to_resulted": in_lab},
    })
}
