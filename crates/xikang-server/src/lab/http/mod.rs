//! The HTTP side of testing and vaccination: request and answer shapes, roles, and the
//! routes merged into `/api/v1`. Batch requests answer per item (`{"index", "error"}`), keep
//! the good items, and refuse with 422 only when every item was refused.
//!
//! This file holds the routes and the batch reply; the commands and their thin handlers
//! are in `rounds`, `tubes`, `results` and `vaccination`, the answers' wire types
//! in [`wire`].

pub(crate) mod results;
pub(crate) mod rounds;
pub(crate) mod tubes;
pub(crate) mod vaccination;
pub mod wire;

pub use results::*;
use rounds::*;
pub use tubes::*;
use vaccination::*;

use super::{ItemError, NewRound, NewTube, Swabbed, item_err};
use crate::app::{Actor, Role, Scoped, authorise};
use crate::error::AppError;
use crate::extract::{Id, JsonIn, Upload};
use crate::state::{AppState, read};
use crate::table::TableFormat;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use wire::*;
use xikang_domain::testing::{
    BatchId, Dose, LabOutcome, PoolSizes, ResultLine, RoundId, SamplingSite, SiteId, TaskKind,
    TubeBarcode,
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

/// A batch's answer over its items: 422 `no_valid_items` (with every item's reason) when
/// every item was refused.
fn batch_reply<T: Serialize>(results: Vec<ItemOut<T>>) -> Result<BatchOut<T>, AppError> {
    let out = BatchOut::new(results);
    if out.accepted == 0 {
        let details = serde_json::to_value(RefusedDetails {
            results: out.results,
        })
        .map_err(|e| AppError::Internal(format!("an answer as JSON: {e}")))?;
        return Err(AppError::Unprocessable {
            code: "no_valid_items",
            message: "every item was refused; nothing was recorded".into(),
            details: Some(details),
        });
    }
    Ok(out)
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
