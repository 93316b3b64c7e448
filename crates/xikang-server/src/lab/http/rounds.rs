//! Sampling sites and screening rounds over HTTP: registering sites, starting, reading,
//! closing and extending rounds, and who is still unsampled. Each operation is a command or
//! query taking `(&AppState, &Actor, input)`; the handlers only extract, call and answer.

use super::*;

/// The body of `POST /sampling-sites`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SamplingSiteIn)]
pub struct SiteIn {
    pub name: String,
    pub area: String,
    pub cell: u32,
}

/// Registers a sampling site (admins, inside their jurisdiction).
pub async fn register_site(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<SiteIn>,
) -> Result<SiteOut, AppError> {
    caller.require(&[Role::Admin], "registering sampling sites")?;
    let b = input.get()?;
    let area = authorise::area(caller, parse_area(&b.area)?)?.into_inner();
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::bad(
            "invalid_name",
            "a site name is 1 to 80 characters",
        ));
    }
    let site = SamplingSite {
        id: SiteId(0), // chosen under the lab's lock
        name: name.to_owned(),
        area,
        cell: GridCell(b.cell),
    };
    let site = crate::lab::add_site(state, site).await?;
    Ok(SiteOut::from(&site))
}

pub(super) async fn post_site(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<SiteIn>,
) -> Result<(StatusCode, Json<SiteOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(register_site(&state, &caller, input).await?),
    ))
}

/// The sampling sites the caller works at (labs see every site).
pub fn list_sites(state: &AppState, caller: &Actor) -> Result<SitesOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Lab, Role::GridWorker],
        "listing sampling sites",
    )?;
    let items = crate::lab::sites(state)
        .iter()
        .filter(|s| caller.covers(&s.area) || caller.role == Role::Lab)
        .map(SiteOut::from)
        .collect();
    Ok(SitesOut { items })
}

pub(super) async fn get_sites(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<SitesOut>, AppError> {
    Ok(Json(list_sites(&state, &caller)?))
}

/// The body of `POST /rounds`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoundIn {
    pub name: String,
    pub area: String,
    #[serde(default)]
    pub cells: Vec<u32>,
    #[serde(default)]
    pub starts_at: Option<String>,
    pub deadline: String,
    #[serde(default)]
    pub pool_sizes: Option<PoolSizes>,
}

/// Starts a screening round (admins, over an area inside their jurisdiction).
pub async fn start_round(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<RoundIn>,
) -> Result<RoundOut, AppError> {
    caller.require(&[Role::Admin], "starting screening rounds")?;
    let b = input.get()?;
    let area = authorise::area(caller, parse_area(&b.area)?)?.into_inner();
    let now = crate::now();
    let starts_at = b
        .starts_at
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(now);
    let round = crate::lab::create_round(
        state,
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
    round_out(state, round.id)
}

pub(super) async fn post_round(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<RoundIn>,
) -> Result<(StatusCode, Json<RoundOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(start_round(&state, &caller, input).await?),
    ))
}

/// A round and its progress now; 404 for an unknown round.
fn round_out(state: &AppState, id: RoundId) -> Result<RoundOut, AppError> {
    crate::lab::round_status(state, id)
        .map(RoundOut::from)
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))
}

/// A round's progress per grid cell, with how long it took to count.
pub fn read_round(state: &AppState, caller: &Actor, id: RoundId) -> Result<RoundOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Lab, Role::GridWorker, Role::Tracer],
        "reading rounds",
    )?;
    let t = std::time::Instant::now();
    let mut out = round_out(state, id)?;
    out.computed_in_ms = Some(t.elapsed().as_secs_f64() * 1e3);
    Ok(out)
}

pub(super) async fn get_round(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<RoundId>,
) -> Result<Json<RoundOut>, AppError> {
    Ok(Json(read_round(&state, &caller, id)?))
}

/// The query of `GET /rounds/{id}/unsampled`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UnsampledQuery {
    pub cell: Option<u32>,
    pub limit: Option<usize>,
}

/// Residents of a grid cell not yet sampled in a round, those the caller covers.
pub fn unsampled_in_cell(
    state: &AppState,
    caller: &Actor,
    id: RoundId,
    q: UnsampledQuery,
) -> Result<UnsampledOut, AppError> {
    caller.require(
        &[Role::Admin, Role::GridWorker],
        "listing residents not yet sampled",
    )?;
    let cell = q
        .cell
        .map(GridCell)
        .ok_or_else(|| AppError::bad("cell_required", "give ?cell=N (a grid cell)"))?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let people: Vec<PersonId> = crate::lab::unsampled(state, id, cell, limit)
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?
        .into_iter()
        .filter(|p| authorise::person_in_area(state, caller, *p))
        .collect();
    state.access.record(
        caller,
        "GET /api/v1/rounds/{id}/unsampled",
        None,
        crate::now(),
        people.iter().copied(),
    )?;
    Ok(UnsampledOut {
        cell,
        count: people.len(),
        people: people.iter().map(ToString::to_string).collect(),
        round: id.to_string(),
    })
}

pub(super) async fn get_unsampled(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<RoundId>,
    Query(q): Query<UnsampledQuery>,
) -> Result<Json<UnsampledOut>, AppError> {
    Ok(Json(unsampled_in_cell(&state, &caller, id, q)?))
}

/// Closes a round (admins over the round's whole area): missed mandated tests recorded.
pub async fn end_round(
    state: &AppState,
    caller: &Actor,
    id: RoundId,
) -> Result<RoundClosedOut, AppError> {
    caller.require(&[Role::Admin], "closing rounds")?;
    let id = round_in_reach(state, caller, id)?;
    let n = crate::lab::close_round(state, id, caller.actor(), crate::now()).await?;
    Ok(RoundClosedOut {
        missed_tests_recorded: n,
        round: id.to_string(),
    })
}

pub(super) async fn post_close_round(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<RoundId>,
) -> Result<Json<RoundClosedOut>, AppError> {
    Ok(Json(end_round(&state, &caller, id).await?))
}

/// A round, refused unless its whole area lies in the caller's jurisdiction (a district
/// may not close or extend a city-wide round).
fn round_in_reach(state: &AppState, caller: &Actor, id: RoundId) -> Result<RoundId, AppError> {
    let s = crate::lab::round_status(state, id)
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?;
    authorise::area(caller, s.round.area)?;
    Ok(id)
}

/// The body of `POST /rounds/{id}/deadline`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineIn {
    pub deadline: String,
    pub reason: String,
}

/// Moves an open round's deadline later, with a reason (an authority event).
pub async fn move_deadline(
    state: &AppState,
    caller: &Actor,
    id: RoundId,
    input: JsonIn<DeadlineIn>,
) -> Result<RoundOut, AppError> {
    caller.require(&[Role::Admin], "moving round deadlines")?;
    let id = round_in_reach(state, caller, id)?;
    let b = input.get()?;
    let deadline = parse_time(&b.deadline)?;
    crate::lab::extend_deadline(state, id, deadline, &b.reason, caller.actor(), crate::now())
        .await?;
    round_out(state, id)
}

/// `POST /api/v1/rounds/{id}/deadline`.
pub(super) async fn post_round_deadline(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<RoundId>,
    input: JsonIn<DeadlineIn>,
) -> Result<Json<RoundOut>, AppError> {
    Ok(Json(move_deadline(&state, &caller, id, input).await?))
}
