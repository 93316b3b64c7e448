//! Sampling sites and screening rounds over HTTP: registering sites, starting, reading,
//! closing and extending rounds, and who is still unsampled.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteIn {
    pub(super) name: String,
    pub(super) area: String,
    pub(super) cell: u32,
}

pub(super) async fn post_site(
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
        id: crate::lab::next_site_id(&state),
        name: name.to_owned(),
        area,
        cell: GridCell(b.cell),
    };
    let site = crate::lab::put_site(&state, site).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": site.id.to_string(), "name": site.name, "area": site.area, "cell": site.cell})),
    )
        .into_response())
}

pub(super) async fn get_sites(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::Lab, Role::GridWorker],
        "listing sampling sites",
    )?;
    let items: Vec<Value> = crate::lab::sites(&state)
        .into_iter()
        .filter(|s| caller.covers(&s.area) || caller.role == Role::Lab)
        .map(|s| json!({"id": s.id.to_string(), "name": s.name, "area": s.area, "cell": s.cell}))
        .collect();
    Ok(Json(json!({"items": items})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoundIn {
    pub(super) name: String,
    pub(super) area: String,
    #[serde(default)]
    pub(super) cells: Vec<u32>,
    #[serde(default)]
    pub(super) starts_at: Option<String>,
    pub(super) deadline: String,
    #[serde(default)]
    pub(super) pool_sizes: Option<PoolSizes>,
}

pub(super) async fn post_round(
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
    let round = crate::lab::create_round(
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

pub(super) fn round_json(state: &AppState, id: RoundId) -> Result<Value, AppError> {
    let s = crate::lab::round_status(state, id)
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

pub(super) async fn get_round(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::Lab, Role::GridWorker, Role::Tracer],
        "reading rounds",
    )?;
    let id = crate::extract::parse_id::<RoundId>(&id)?;
    let t = std::time::Instant::now();
    let mut v = round_json(&state, id)?;
    v["computed_in_ms"] = json!(t.elapsed().as_secs_f64() * 1e3);
    Ok(Json(v).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct UnsampledQuery {
    pub(super) cell: Option<u32>,
    pub(super) limit: Option<usize>,
}

pub(super) async fn get_unsampled(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<UnsampledQuery>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::GridWorker],
        "listing residents not yet sampled",
    )?;
    let id = crate::extract::parse_id::<RoundId>(&id)?;
    let cell = q
        .cell
        .map(GridCell)
        .ok_or_else(|| AppError::bad("cell_required", "give ?cell=N (a grid cell)"))?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let people = crate::lab::unsampled(&state, id, cell, limit)
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

pub(super) async fn post_close_round(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "closing rounds")?;
    let id = round_in_reach(&state, &caller, &id)?;
    let n = crate::lab::close_round(&state, id, caller.actor(), crate::now()).await?;
    Ok(Json(json!({"round": id.to_string(), "missed_tests_recorded": n})).into_response())
}

/// A round id from the path, refused unless the round's whole area lies in the caller's
/// jurisdiction (a district may not close or extend a city-wide round).
pub(super) fn round_in_reach(
    state: &AppState,
    caller: &Actor,
    id: &str,
) -> Result<RoundId, AppError> {
    let id = crate::extract::parse_id::<RoundId>(id)?;
    let s = crate::lab::round_status(state, id)
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?;
    authorise::area(caller, s.round.area)?;
    Ok(id)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeadlineIn {
    pub(super) deadline: String,
    pub(super) reason: String,
}

/// `POST /api/v1/rounds/{id}/deadline`: moves an open round's deadline later, with a reason
/// (an authority event).
pub(super) async fn post_round_deadline(
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
    crate::lab::extend_deadline(
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
