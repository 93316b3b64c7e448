//! The HTTP side of testing and vaccination: request and answer shapes, roles, and the
//! routes merged into `/api/v1`. Batch requests answer per item (`{"index", "error"}`), keep
//! the good items, and refuse with 422 only when every item was refused.

use super::{ItemError, NewRound, NewTube, Swabbed, item_err};
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::json::{body_json, parse};
use crate::state::{AppState, read};
use crate::wire::{parse_person_id, rfc};
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

fn round_id(s: &str) -> Result<RoundId, AppError> {
    RoundId::parse(s).ok_or_else(|| AppError::bad("invalid_round_id", "a round id looks like R1"))
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

// ---------------------------------------------------------------------------------------
// Sites and rounds

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteIn {
    name: String,
    area: String,
    cell: u32,
}

async fn post_site(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "registering sampling sites")?;
    let b: SiteIn = parse(&headers, &body)?;
    let area = parse_area(&b.area)?;
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "this area is outside your jurisdiction",
        ));
    }
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::bad(
            "invalid_name",
            "a site name is 1 to 80 characters",
        ));
    }
    let site = SamplingSite {
        id: super::next_site_id(&state),
        name: name.to_owned(),
        area,
        cell: GridCell(b.cell),
    };
    let site = super::put_site(&state, site).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": site.id.to_string(), "name": site.name, "area": site.area, "cell": site.cell})),
    )
        .into_response())
}

async fn get_sites(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::Lab, Role::GridWorker],
        "listing sampling sites",
    )?;
    let items: Vec<Value> = super::sites(&state)
        .into_iter()
        .filter(|s| caller.covers(&s.area) || caller.role == Role::Lab)
        .map(|s| json!({"id": s.id.to_string(), "name": s.name, "area": s.area, "cell": s.cell}))
        .collect();
    Ok(Json(json!({"items": items})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoundIn {
    name: String,
    area: String,
    #[serde(default)]
    cells: Vec<u32>,
    #[serde(default)]
    starts_at: Option<String>,
    deadline: String,
    #[serde(default)]
    pool_sizes: Option<PoolSizes>,
}

async fn post_round(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "starting screening rounds")?;
    let b: RoundIn = parse(&headers, &body)?;
    let area = parse_area(&b.area)?;
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "this area is outside your jurisdiction",
        ));
    }
    let now = crate::now();
    let starts_at = b
        .starts_at
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(now);
    let round = super::create_round(
        &state,
        NewRound {
            name: b.name.chars().take(80).collect(),
            area,
            cells: b.cells.into_iter().map(GridCell).collect(),
            starts_at,
            deadline: parse_time(&b.deadline)?,
            pools: b.pool_sizes,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(round_json(&state, round.id)?)).into_response())
}

fn round_json(state: &AppState, id: RoundId) -> Result<Value, AppError> {
    let s = super::round_status(state, id)
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?;
    let cells: Vec<Value> = s
        .cells
        .iter()
        .map(|(cell, p)| {
            json!({"cell": cell, "expected": p.expected, "sampled": p.sampled,
                                "resulted": p.resulted, "abnormal": p.abnormal})
        })
        .collect();
    Ok(json!({
        "id": s.round.id.to_string(), "name": s.round.name, "area": s.round.area,
        "cells_in_scope": s.round.cells, "starts_at": s.round.starts_at.to_rfc3339(),
        "deadline": s.round.deadline.to_rfc3339(), "pool_sizes": s.round.pools,
        "closed_at": rfc(s.round.closed_at),
        "total": {"expected": s.total.expected, "sampled": s.total.sampled,
                  "resulted": s.total.resulted, "abnormal": s.total.abnormal},
        "published": s.total.published(),
        "cells": cells,
    }))
}

async fn get_round(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::Lab, Role::GridWorker, Role::Tracer],
        "reading rounds",
    )?;
    let id = round_id(&id)?;
    let t = std::time::Instant::now();
    let mut v = round_json(&state, id)?;
    v["computed_in_ms"] = json!(t.elapsed().as_secs_f64() * 1e3);
    Ok(Json(v).into_response())
}

#[derive(Debug, Deserialize)]
struct UnsampledQuery {
    cell: Option<u32>,
    limit: Option<usize>,
}

async fn get_unsampled(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<UnsampledQuery>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::GridWorker],
        "listing residents not yet sampled",
    )?;
    let id = round_id(&id)?;
    let cell = q
        .cell
        .map(GridCell)
        .ok_or_else(|| AppError::bad("cell_required", "give ?cell=N (a grid cell)"))?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let people = super::unsampled(&state, id, cell, limit)
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?;
    let items: Vec<String> = people
        .into_iter()
        .filter(|p| {
            state
                .projection
                .person_area(*p)
                .is_some_and(|a| caller.covers(&a))
        })
        .map(|p| p.to_string())
        .collect();
    Ok(
        Json(json!({"round": id.to_string(), "cell": cell, "count": items.len(), "people": items}))
            .into_response(),
    )
}

async fn post_close_round(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "closing rounds")?;
    let id = round_in_reach(&state, &caller, &id)?;
    let n = super::close_round(&state, id, caller.actor(), crate::now()).await?;
    Ok(Json(json!({"round": id.to_string(), "missed_tests_recorded": n})).into_response())
}

/// A round id from the path, refused unless the round's whole area lies in the caller's
/// jurisdiction (a district may not close or extend a city-wide round).
fn round_in_reach(state: &AppState, caller: &Actor, id: &str) -> Result<RoundId, AppError> {
    let id = round_id(id)?;
    let s = super::round_status(state, id)
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?;
    authorise::area(caller, s.round.area)?;
    Ok(id)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeadlineIn {
    deadline: String,
    reason: String,
}

/// `POST /api/v1/rounds/{id}/deadline`: moves an open round's deadline later, with a reason
/// (an authority event).
async fn post_round_deadline(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "moving round deadlines")?;
    let id = round_in_reach(&state, &caller, &id)?;
    let b: DeadlineIn = parse(&headers, &body)?;
    let deadline = parse_time(&b.deadline)?;
    super::extend_deadline(
        &state,
        id,
        deadline,
        &b.reason,
        caller.actor(),
        crate::now(),
    )
    .await?;
    Ok(Json(round_json(&state, id)?).into_response())
}

// ---------------------------------------------------------------------------------------
// Tubes, samples, batches

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TubeIn {
    barcode: String,
    site: String,
    #[serde(default)]
    round: Option<String>,
    capacity: u8,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TubesIn {
    tubes: Vec<Value>,
}

async fn post_tubes(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "opening tubes")?;
    let b: TubesIn = parse(&headers, &body)?;
    check_count(b.tubes.len())?;
    let mut parsed: Vec<Result<NewTube, ItemError>> = Vec::with_capacity(b.tubes.len());
    for v in b.tubes {
        parsed.push((|| {
            let t: TubeIn =
                serde_json::from_value(v).map_err(|e| item_err("invalid_tube", e.to_string()))?;
            let site = SiteId::parse(&t.site)
                .ok_or_else(|| item_err("invalid_site_id", "a site id looks like S1"))?;
            let round = t
                .round
                .as_deref()
                .map(|r| {
                    RoundId::parse(r)
                        .ok_or_else(|| item_err("invalid_round_id", "a round id looks like R1"))
                })
                .transpose()?;
            Ok(NewTube {
                barcode: t.barcode,
                site,
                round,
                capacity: t.capacity,
            })
        })());
    }
    // Samplers act only at sites inside their jurisdiction.
    let sites = super::sites(&state);
    for p in parsed.iter_mut() {
        if let Ok(t) = p
            && sites
                .iter()
                .find(|s| s.id == t.site)
                .is_some_and(|s| !caller.covers(&s.area))
        {
            *p = Err(item_err(
                "site_not_allowed",
                format!("site {} is outside your jurisdiction", t.site),
            ));
        }
    }
    let good: Vec<NewTube> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let mut opened = super::open_tubes(&state, good, crate::now())
        .await?
        .into_iter();
    let results = parsed
        .into_iter()
        .map(|p| {
            p?;
            let id = opened
                .next()
                .unwrap_or_else(|| Err(item_err("invalid_tube", "lost")))?;
            Ok(json!({"tube": id.to_string()}))
        })
        .collect();
    batch_answer(results)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleIn {
    /// The tube's barcode.
    pub tube: String,
    /// The scanned health code, or
    #[serde(default)]
    pub token: Option<String>,
    /// the ID number of a resident without a phone.
    #[serde(default)]
    pub id_number: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SamplesIn {
    samples: Vec<Value>,
}

pub async fn post_samples(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(SAMPLERS, "binding samples to tubes")?;
    let b: SamplesIn = parse(&headers, &body)?;
    let samples = b
        .samples
        .into_iter()
        .map(|v| {
            serde_json::from_value::<SampleIn>(v)
                .map_err(|e| item_err("invalid_sample", e.to_string()))
        })
        .collect();
    let results = bind_samples(&state, &caller, samples)
        .await?
        .into_iter()
        .map(|r| {
            r.map(|b| json!({"tube": b.tube.to_string(), "filled": b.filled, "sealed": b.sealed}))
        })
        .collect();
    batch_answer(results)
}

/// Who may bind swabs to tubes and seal tubes.
const SAMPLERS: &[Role] = &[Role::Lab, Role::Admin];

/// Binds swabbed people to tubes (the command behind `POST /api/v1/samples` and the
/// sampling page): labs and admins, tubes of sites in their jurisdiction; each sample is
/// bound or refused on its own.
pub async fn bind_samples(
    state: &AppState,
    caller: &Actor,
    samples: Vec<Result<SampleIn, ItemError>>,
) -> Result<Vec<Result<super::Bound, ItemError>>, AppError> {
    caller.require(SAMPLERS, "binding samples to tubes")?;
    check_count(samples.len())?;
    let now = crate::now();
    let mut tubes = Vec::with_capacity(samples.len());
    let mut who = Vec::with_capacity(samples.len());
    let mut pre: Vec<Option<ItemError>> = Vec::with_capacity(samples.len());
    for v in samples {
        match v {
            Ok(SampleIn {
                tube,
                token: Some(t),
                id_number: None,
            }) => {
                tubes.push(tube);
                who.push(Swabbed::Token(t));
                pre.push(None);
            }
            Ok(SampleIn {
                tube,
                token: None,
                id_number: Some(n),
            }) => {
                tubes.push(tube);
                who.push(Swabbed::IdNumber(n));
                pre.push(None);
            }
            Ok(_) => {
                tubes.push(String::new());
                who.push(Swabbed::Person(PersonId(u32::MAX)));
                pre.push(Some(item_err(
                    "invalid_sample",
                    "give the tube and exactly one of token (the scanned code) or id_number",
                )));
            }
            Err(e) => {
                tubes.push(String::new());
                who.push(Swabbed::Person(PersonId(u32::MAX)));
                pre.push(Some(e));
            }
        }
    }
    // Swabs go only into tubes opened at sites inside the caller's jurisdiction.
    let sites = super::sites(state);
    for (t, p) in tubes.iter().zip(pre.iter_mut()) {
        let outside = TubeBarcode::parse(t)
            .ok()
            .and_then(|b| super::tube(state, &b))
            .and_then(|(tube, _)| sites.iter().find(|s| s.id == tube.site).cloned())
            .is_some_and(|s| !caller.covers(&s.area));
        if p.is_none() && outside {
            *p = Some(item_err(
                "site_not_allowed",
                format!("tube {t} belongs to a site outside your jurisdiction"),
            ));
        }
    }
    let resolved = super::resolve(state, who, caller.id_lookup, now).await?;
    let items: Vec<(String, Result<PersonId, ItemError>)> = tubes
        .into_iter()
        .zip(resolved)
        .zip(pre)
        .map(|((t, r), p)| {
            (
                t,
                match p {
                    Some(e) => Err(e),
                    None => r,
                },
            )
        })
        .collect();
    super::bind(state, items, now).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BarcodesIn {
    #[serde(default)]
    tubes: Vec<String>,
}

pub async fn post_seal(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(SAMPLERS, "sealing tubes")?;
    let b: BarcodesIn = parse(&headers, &body)?;
    let results = seal_tubes(&state, &caller, b.tubes)
        .await?
        .into_iter()
        .map(|r| r.map(|id| json!({"tube": id.to_string(), "state": "sealed"})))
        .collect();
    batch_answer(results)
}

/// Seals tubes (the command behind `POST /api/v1/tubes/seal` and the sampling page):
/// labs and admins; each tube is sealed or refused on its own.
pub async fn seal_tubes(
    state: &AppState,
    caller: &Actor,
    tubes: Vec<String>,
) -> Result<Vec<Result<xikang_domain::testing::TubeId, ItemError>>, AppError> {
    caller.require(SAMPLERS, "sealing tubes")?;
    check_count(tubes.len())?;
    super::seal(state, tubes, crate::now()).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchIn {
    courier: String,
    lab: String,
    tubes: Vec<String>,
}

async fn post_batch(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "handing tubes to a courier")?;
    let b: BatchIn = parse(&headers, &body)?;
    check_count(b.tubes.len())?;
    let ok = |s: &str| (1..=80).contains(&s.trim().chars().count());
    if !ok(&b.courier) || !ok(&b.lab) {
        return Err(AppError::bad(
            "invalid_batch",
            "courier and lab are 1 to 80 characters",
        ));
    }
    let (batch, results) = super::ship(
        &state,
        b.courier.trim().to_owned(),
        b.lab.trim().to_owned(),
        b.tubes,
        crate::now(),
    )
    .await?;
    let results: Vec<_> = results
        .into_iter()
        .map(|r| r.map(|id| json!({"tube": id.to_string(), "state": "in_transport"})))
        .collect();
    let mut resp = batch_answer(results)?;
    if let Some(id) = batch {
        *resp.status_mut() = StatusCode::CREATED;
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        v["batch"] = json!(id.to_string());
        return Ok((StatusCode::CREATED, Json(v)).into_response());
    }
    Ok(resp)
}

async fn post_receive(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "receiving tubes")?;
    let batch = BatchId::parse(&id)
        .ok_or_else(|| AppError::bad("invalid_batch_id", "a batch id looks like B1"))?;
    let b: BarcodesIn = if body.is_empty() {
        BarcodesIn { tubes: Vec::new() }
    } else {
        parse(&headers, &body)?
    };
    if b.tubes.len() > MAX_ITEMS {
        return Err(AppError::TooLarge(format!(
            "at most {MAX_ITEMS} tubes per request"
        )));
    }
    let results = super::receive(&state, batch, b.tubes, crate::now())
        .await?
        .into_iter()
        .map(|r| r.map(|id| json!({"tube": id.to_string(), "state": "received"})))
        .collect::<Vec<_>>();
    if results.is_empty() {
        return Err(AppError::Conflict {
            code: "nothing_to_receive",
            message: format!("batch {batch} has no tube in transport"),
        });
    }
    batch_answer(results)
}

async fn get_tube(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "reading tubes")?;
    let barcode = TubeBarcode::parse(&id).map_err(|e| AppError::bad(e.code(), e.to_string()))?;
    let (t, members) = super::tube(&state, &barcode)
        .ok_or_else(|| AppError::not_found("unknown_tube", format!("no tube {barcode}")))?;
    Ok(Json(tube_json(&t, members)).into_response())
}

async fn get_tube_states(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "reading tubes")?;
    Ok(Json(json!({"states": super::state_counts(&state)})).into_response())
}

#[derive(Debug, Deserialize)]
struct StuckQuery {
    transport_hours: Option<u32>,
    lab_hours: Option<u32>,
}

async fn get_stuck(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<StuckQuery>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "reading tubes")?;
    let policy = state.policy();
    let transport = q
        .transport_hours
        .or_else(|| policy.parameter("stuck_transport_hours"))
        .unwrap_or(6);
    let lab = q
        .lab_hours
        .or_else(|| policy.parameter("stuck_lab_hours"))
        .unwrap_or(12);
    let tubes = super::stuck(&state, crate::now(), transport, lab);
    let items: Vec<Value> = tubes
        .iter()
        .take(10_000)
        .map(|t| tube_json(t, usize::from(t.capacity)))
        .collect();
    Ok(Json(json!({"transport_hours": transport, "lab_hours": lab, "count": tubes.len(), "items": items})).into_response())
}

// ---------------------------------------------------------------------------------------
// Results

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultIn {
    barcode: String,
    outcome: String,
    #[serde(default)]
    ct: Option<f32>,
    #[serde(default)]
    resulted_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultsIn {
    results: Vec<Value>,
}

fn result_of_json(v: Value) -> Result<ResultLine, ItemError> {
    let r: ResultIn =
        serde_json::from_value(v).map_err(|e| item_err("invalid_result", e.to_string()))?;
    let barcode = TubeBarcode::parse(&r.barcode).map_err(|e| item_err(e.code(), e.to_string()))?;
    let outcome = LabOutcome::parse(&r.outcome).ok_or_else(|| {
        item_err(
            "invalid_outcome",
            "outcome is negative, positive or invalid",
        )
    })?;
    if r.ct.is_some_and(|c| !(0.0..=50.0).contains(&c)) {
        return Err(item_err("invalid_ct", "a Ct value is between 0 and 50"));
    }
    let resulted_at = r
        .resulted_at
        .as_deref()
        .map(|s| Timestamp::parse_rfc3339(s).map_err(|e| item_err("invalid_time", e.to_string())))
        .transpose()?;
    Ok(ResultLine {
        barcode,
        outcome,
        ct: r.ct,
        resulted_at,
    })
}

fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/csv")
        })
}

/// CSV lines with their 1-based line numbers, headers and blank lines skipped.
fn csv_lines(body: &[u8]) -> Result<Vec<(usize, &str)>, AppError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| AppError::bad("invalid_csv", "the CSV body is not UTF-8"))?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !ResultLine::is_header_or_blank(l))
        .collect())
}

/// `POST /api/v1/lab-results`: JSON `{"results": [...]}` or a `text/csv` body of lines
/// `barcode,outcome[,ct[,resulted_at]]`.
pub async fn post_lab_results(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(LAB_POSTERS, "posting lab results")?;
    let lines = if is_csv(&headers) {
        record_lab_csv(&state, &caller, &body).await?
    } else {
        let b: ResultsIn = parse(&headers, &body)?;
        check_count(b.results.len())?;
        record_lab_results(
            &state,
            &caller,
            b.results.into_iter().map(result_of_json).collect(),
        )
        .await?
        .into_iter()
        .map(|outcome| LabLine {
            line: None,
            outcome,
        })
        .collect()
    };
    let numbers: Vec<Option<usize>> = lines.iter().map(|l| l.line).collect();
    let mut items = batch_items(
        lines
            .into_iter()
            .map(|l| {
                l.outcome.map(|d| {
                    json!({"tube": d.tube.to_string(), "members": d.members, "holds": d.holds,
                           "tasks": d.tasks, "suspected_case": d.suspected.map(|c| c.to_string())})
                })
            })
            .collect(),
    );
    // A CSV line's number, so the sender finds the line in their file.
    for (item, n) in items.iter_mut().zip(numbers) {
        if let Some(n) = n {
            item["line"] = json!(n);
        }
    }
    batch_reply(items)
}

/// Who may post lab results.
const LAB_POSTERS: &[Role] = &[Role::Lab, Role::Admin];

/// One line of a results upload and what came of it.
#[derive(Debug)]
pub struct LabLine {
    /// The CSV file's line number (None for a JSON item).
    pub line: Option<usize>,
    pub outcome: Result<super::Resulted, ItemError>,
}

/// Records a results file in the `xikang tests import` CSV format (the command behind
/// `POST /api/v1/lab/results` with `text/csv` and the lab page): each line on its own,
/// numbered as in the file.
pub async fn record_lab_csv(
    state: &AppState,
    actor: &Actor,
    csv: &[u8],
) -> Result<Vec<LabLine>, AppError> {
    actor.require(LAB_POSTERS, "posting lab results")?;
    let lines = csv_lines(csv)?;
    check_count(lines.len())?;
    let numbers: Vec<usize> = lines.iter().map(|(n, _)| *n).collect();
    let parsed = lines
        .into_iter()
        .map(|(_, l)| ResultLine::parse(l).map_err(|e| item_err(e.code(), e.to_string())))
        .collect();
    Ok(record_lab_results(state, actor, parsed)
        .await?
        .into_iter()
        .zip(numbers)
        .map(|(outcome, n)| LabLine {
            line: Some(n),
            outcome,
        })
        .collect())
}

/// Records result lines (labs and admins): each line succeeds or is refused on its own.
pub async fn record_lab_results(
    state: &AppState,
    actor: &Actor,
    lines: Vec<Result<ResultLine, ItemError>>,
) -> Result<Vec<Result<super::Resulted, ItemError>>, AppError> {
    actor.require(LAB_POSTERS, "posting lab results")?;
    super::post_results(state, &actor.actor(), lines, crate::now()).await
}

/// Adds the CSV line number to every per-item result of a batch answer (or its 422).
async fn add_line_numbers(
    answer: Result<Response, AppError>,
    numbers: &[usize],
) -> Result<Response, AppError> {
    let number = |items: &mut Value| {
        if let Some(list) = items.as_array_mut() {
            for (i, item) in list.iter_mut().enumerate() {
                item["line"] = json!(numbers.get(i));
            }
        }
    };
    match answer {
        Ok(resp) => {
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            number(&mut v["results"]);
            Ok(Json(v).into_response())
        }
        Err(AppError::Unprocessable {
            code,
            message,
            details,
        }) => {
            let mut d = details.unwrap_or(Value::Null);
            number(&mut d["results"]);
            Err(AppError::Unprocessable {
                code,
                message,
                details: Some(d),
            })
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
struct TasksQuery {
    kind: Option<String>,
}

async fn get_tasks(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<TasksQuery>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::Lab, Role::GridWorker, Role::Tracer],
        "reading lab tasks",
    )?;
    let kind = q
        .kind
        .as_deref()
        .map(|k| {
            TaskKind::parse(k).ok_or_else(|| {
                AppError::bad(
                    "invalid_task_kind",
                    "kind is single_tube_retest, resample or vaccination_outreach",
                )
            })
        })
        .transpose()?;
    let tasks = super::open_tasks(&state, kind, |p| {
        state
            .projection
            .person_area(p)
            .is_some_and(|a| caller.covers(&a))
    });
    let people = read(&state.projection.people);
    let items: Vec<Value> = tasks
        .iter()
        .take(10_000)
        .map(|t| {
            let cell = people.get(t.person.0 as usize).map(|s| s.home_cell);
            json!({"id": t.id, "person": t.person.to_string(), "kind": t.kind, "cell": cell,
                   "tube": t.tube.map(|x| x.to_string()), "created_at": t.created_at.to_rfc3339()})
        })
        .collect();
    Ok(Json(json!({"count": tasks.len(), "items": items})).into_response())
}

// ---------------------------------------------------------------------------------------
// Vaccination

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoseIn {
    #[serde(default)]
    person: Option<String>,
    #[serde(default)]
    id_number: Option<String>,
    dose: u8,
    vaccine: String,
    date: String,
    site: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DosesIn {
    doses: Vec<Value>,
}

/// A dose line of a CSV import: `id_number,dose,vaccine,date,site`.
fn dose_of_csv(line: &str) -> Result<DoseIn, ItemError> {
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    if f.len() != 5 {
        return Err(item_err(
            "invalid_line",
            format!(
                "expected 5 fields (id_number,dose,vaccine,date,site), got {}",
                f.len()
            ),
        ));
    }
    Ok(DoseIn {
        person: None,
        id_number: Some(f[0].to_owned()),
        dose: f[1]
            .parse()
            .map_err(|_| item_err("invalid_dose", format!("dose number {:?}", f[1])))?,
        vaccine: f[2].to_owned(),
        date: f[3].to_owned(),
        site: f[4].to_owned(),
    })
}

async fn post_vaccinations(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "recording vaccinations")?;
    let csv = is_csv(&headers);
    let (raw, numbers): (Vec<Result<DoseIn, ItemError>>, Option<Vec<usize>>) = if csv {
        let lines = csv_lines(&body)?;
        let lines: Vec<_> = lines
            .into_iter()
            .filter(|(_, l)| !l.trim_start().to_ascii_lowercase().starts_with("id_number"))
            .collect();
        check_count(lines.len())?;
        let numbers = lines.iter().map(|(n, _)| *n).collect();
        (
            lines.into_iter().map(|(_, l)| dose_of_csv(l)).collect(),
            Some(numbers),
        )
    } else {
        let b: DosesIn = parse(&headers, &body)?;
        check_count(b.doses.len())?;
        (
            b.doses
                .into_iter()
                .map(|v| {
                    serde_json::from_value(v).map_err(|e| item_err("invalid_dose", e.to_string()))
                })
                .collect(),
            None,
        )
    };
    // Resolve people: ID numbers through the keyed hash (staff imports), ids directly.
    let who: Vec<Swabbed> = raw
        .iter()
        .map(|d| match d {
            Ok(DoseIn {
                id_number: Some(n),
                person: None,
                ..
            }) => Swabbed::IdNumber(n.clone()),
            Ok(DoseIn {
                person: Some(p),
                id_number: None,
                ..
            }) => Swabbed::Person(parse_person_id(p).unwrap_or(PersonId(u32::MAX))),
            _ => Swabbed::Person(PersonId(u32::MAX)),
        })
        .collect();
    let resolved = super::resolve(&state, who, true, crate::now()).await?;
    let doses: Vec<Result<Dose, ItemError>> = raw
        .into_iter()
        .zip(resolved)
        .map(|(d, p)| {
            let d = d?;
            if d.person.is_some() == d.id_number.is_some() {
                return Err(item_err(
                    "invalid_dose",
                    "give exactly one of person or id_number",
                ));
            }
            let person = p?;
            if !state
                .projection
                .person_area(person)
                .is_some_and(|a| caller.covers(&a))
            {
                return Err(item_err(
                    "forbidden",
                    "this person is outside your jurisdiction",
                ));
            }
            let given_on =
                CivilDay::parse(&d.date).map_err(|e| item_err("invalid_time", e.to_string()))?;
            if given_on > crate::now().shanghai_day() {
                return Err(item_err(
                    "invalid_time",
                    "a dose cannot be given in the future",
                ));
            }
            Ok(Dose {
                person,
                dose: d.dose,
                vaccine: d.vaccine,
                given_on,
                site: d.site,
            })
        })
        .collect();
    let results = super::record_doses(&state, doses, crate::now())
        .await?
        .into_iter()
        .map(|r| r.map(|()| json!({"recorded": true})))
        .collect();
    let answer = batch_answer(results);
    match numbers {
        Some(n) => add_line_numbers(answer, &n).await,
        None => answer,
    }
}

#[derive(Debug, Deserialize)]
struct AreaQuery {
    area: Option<String>,
}

fn query_area(caller: &Actor, q: &AreaQuery) -> Result<AreaCode, AppError> {
    let area = match &q.area {
        Some(a) => parse_area(a)?,
        None => caller.area.clone(),
    };
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "this area is outside your jurisdiction",
        ));
    }
    Ok(area)
}

async fn get_coverage(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AreaQuery>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::GridWorker],
        "reading vaccination coverage",
    )?;
    let area = query_area(&caller, &q)?;
    let t = std::time::Instant::now();
    let rows = super::vaccination_coverage(&state, &area, crate::now().shanghai_day());
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let items: Vec<Value> = rows
        .iter()
        .map(|(d, band, c)| {
            json!({"district": d, "age_band": band, "people": c.people,
                                   "first_dose": c.first_dose, "full_course": c.full_course,
                                   "booster": c.booster})
        })
        .collect();
    Ok(Json(json!({"area": area, "computed_in_ms": ms, "items": items})).into_response())
}

async fn outreach_answer(
    state: &AppState,
    caller: &Actor,
    q: &AreaQuery,
    create: bool,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin, Role::GridWorker], "vaccination outreach")?;
    let area = query_area(caller, q)?;
    let now = crate::now();
    let cells = super::outreach(state, &area, now.shanghai_day(), create, now).await?;
    let total: usize = cells.iter().map(|(_, p)| p.len()).sum();
    let items: Vec<Value> = cells
        .iter()
        .map(|(c, p)| json!({"cell": c, "count": p.len(),
                             "people": p.iter().take(1000).map(|x| x.to_string()).collect::<Vec<_>>()}))
        .collect();
    Ok(Json(json!({"area": area, "total": total, "cells": items})).into_response())
}

async fn post_outreach(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let q: AreaQuery = if body.is_empty() {
        AreaQuery { area: None }
    } else {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct In {
            #[serde(default)]
            area: Option<String>,
        }
        crate::json::check_json(&headers)?;
        let b: In = body_json(&body)?;
        AreaQuery { area: b.area }
    };
    outreach_answer(&state, &caller, &q, true).await
}

async fn get_outreach(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AreaQuery>,
) -> Result<Response, AppError> {
    outreach_answer(&state, &caller, &q, false).await
}

async fn get_person_vaccination(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let person = crate::api::visible_person(&state, &caller, &id)?;
    let s = super::vaccination_status(&state, person);
    Ok(Json(
        json!({"person": person.to_string(), "doses": s.doses, "first_dose": s.first_dose(),
                   "full_course": s.full_course(), "booster": s.booster()}),
    )
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MandatedIn {
    #[serde(default)]
    area: Option<String>,
    /// Hours between mandated tests; the policy's `mandated_test_every_hours` when absent.
    #[serde(default)]
    every_hours: Option<u32>,
}

/// `POST /api/v1/test-requirements/check`: records missed mandated tests in an area.
async fn post_check_mandated(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "checking mandated tests")?;
    let b: MandatedIn = parse(&headers, &body)?;
    let area = query_area(&caller, &AreaQuery { area: b.area })?;
    let every = b
        .every_hours
        .or_else(|| state.policy().parameter("mandated_test_every_hours"))
        .ok_or_else(|| {
            AppError::bad(
                "every_hours_required",
                "no mandated test period in force: give every_hours",
            )
        })?;
    if !(1..=24 * 30).contains(&every) {
        return Err(AppError::bad(
            "invalid_every_hours",
            "every_hours is 1 to 720",
        ));
    }
    let n = super::check_mandated(&state, &area, every, caller.actor(), crate::now()).await?;
    Ok(
        Json(json!({"area": area, "every_hours": every, "missed_tests_recorded": n}))
            .into_response(),
    )
}
