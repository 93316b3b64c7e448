//! Scan anomalies: `GET /api/v1/scans/anomalies?date=` — one person scanned at venues too
//! far apart for the time between the scans (`xikang_trace::impossible_moves` under
//! [`SpeedBound::default`]: 120 km/h, 1 km and 60 s of slack). Flagged for tracers and
//! admins, never refused at the door.
//!
//! Computed from the check-in index when asked (on a blocking thread), so the scan path
//! pays nothing for it; see docs/decisions.md. A caller sees the moves of the people who
//! live in their jurisdiction ([`authorise::person_in_area`]), each person by opaque id and
//! masked name.

use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::mask::mask_name;
use xikang_domain::{AreaCode, CivilDay, PersonId, ScanDirection};
use xikang_trace::{ImpossibleMove, MoveEnd, SpeedBound, impossible_moves};

/// At most this many moves are listed (the count covers them all).
const MAX_ITEMS: usize = 1_000;

/// Who may read scan anomalies.
const READERS: &[Role] = &[Role::Tracer, Role::Admin];

/// `?date=YYYY-MM-DD` (Asia/Shanghai; default today).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnomalyQuery {
    #[serde(default)]
    pub date: Option<String>,
}

/// The bound the moves broke.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpeedBoundOut {
    pub max_kmh: f64,
    pub slack_m: f64,
    pub clock_slack_secs: i64,
}

/// One end of a move: the venue (public data) and the scan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MoveEndOut {
    pub venue: String,
    pub venue_name: Option<String>,
    /// The venue's district (six digits).
    pub district: Option<String>,
    pub at: String,
    pub direction: ScanDirection,
}

/// One impossible move of one person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnomalyOut {
    pub kind: &'static str,
    pub person: String,
    /// The person's name, masked (family name and `*`).
    pub name: Option<String>,
    pub from: MoveEndOut,
    pub to: MoveEndOut,
    pub km: f64,
    pub seconds: i64,
    /// The speed the move needed; `null` for scans in the same second.
    pub needed_kmh: Option<f64>,
}

impl AnomalyOut {
    /// The wire form of a move; `name` is the person's masked name, when wanted.
    fn new(state: &AppState, m: &ImpossibleMove, name: Option<String>) -> AnomalyOut {
        AnomalyOut {
            kind: "impossible_movement",
            person: m.person.to_string(),
            name,
            from: end_out(state, &m.from),
            to: end_out(state, &m.to),
            km: (m.metres / 100.0).round() / 10.0,
            seconds: m.secs(),
            needed_kmh: m.needed_kmh().map(f64::round),
        }
    }
}

/// `GET /api/v1/scans/anomalies`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnomaliesOut {
    pub date: String,
    pub bound: SpeedBoundOut,
    /// Moves of people in the caller's jurisdiction that day.
    pub count: usize,
    /// The first [`MAX_ITEMS`] of them, by person then time.
    pub items: Vec<AnomalyOut>,
}

/// `GET /api/v1/scans/anomalies?date=`.
pub async fn get_anomalies(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AnomalyQuery>,
) -> Result<Json<AnomaliesOut>, AppError> {
    Ok(Json(scan_anomalies(state, caller, q).await?))
}

/// The impossible moves of a day among the people in the actor's jurisdiction, with masked
/// names (tracers and admins).
pub async fn scan_anomalies(
    state: Arc<AppState>,
    actor: Actor,
    q: AnomalyQuery,
) -> Result<AnomaliesOut, AppError> {
    actor.require(READERS, "reading scan anomalies")?;
    let day = match q.date.as_deref() {
        None => crate::now().shanghai_day(),
        Some(d) => CivilDay::parse(d).map_err(|e| AppError::bad("invalid_day", e.to_string()))?,
    };
    tokio::task::spawn_blocking(move || answer(&state, &actor, day)).await?
}

fn answer(state: &AppState, actor: &Actor, day: CivilDay) -> Result<AnomaliesOut, AppError> {
    let bound = SpeedBound::default();
    let moves: Vec<ImpossibleMove> = moves_of_day(state, day, &bound)?
        .into_iter()
        .filter(|m| authorise::person_in_area(state, actor, m.person))
        .collect();
    let mut names: std::collections::HashMap<PersonId, Option<String>> = Default::default();
    let mut items = Vec::with_capacity(moves.len().min(MAX_ITEMS));
    for m in moves.iter().take(MAX_ITEMS) {
        let name = match names.get(&m.person) {
            Some(n) => n.clone(),
            None => {
                let n = state.store.person(m.person)?.map(|p| mask_name(&p.name));
                names.insert(m.person, n.clone());
                n
            }
        };
        items.push(AnomalyOut::new(state, m, name));
    }
    let people = moves.iter().take(MAX_ITEMS).map(|m| m.person);
    state.access.record(
        actor,
        "GET /api/v1/scans/anomalies",
        None,
        crate::now(),
        people,
    )?;
    Ok(AnomaliesOut {
        date: iso_day(day),
        bound: SpeedBoundOut {
            max_kmh: bound.max_kmh,
            slack_m: bound.slack_m,
            clock_slack_secs: bound.clock_slack_secs,
        },
        count: moves.len(),
        items,
    })
}

/// Every impossible move of `day` in the whole city, from a snapshot of the tracing index
/// (503 while it loads). Blocking: the day's check-ins are read once.
pub fn moves_of_day(
    state: &AppState,
    day: CivilDay,
    bound: &SpeedBound,
) -> Result<Vec<ImpossibleMove>, AppError> {
    let index = state.projection.tracing.snapshot()?;
    let venues = &state.projection.venues;
    Ok(impossible_moves(
        &index,
        day,
        |v| venues.get(v).map(|v| (v.lat, v.lon)),
        bound,
    ))
}

/// Today's moves city-wide for the command dashboard, each with its person's home area so
/// that a page shows a viewer only the people of their jurisdiction (no names: the
/// dashboard links to the person page, which is masked). `None` while the tracing index
/// loads.
pub fn flagged_today(state: &AppState, day: CivilDay) -> Option<Vec<(AreaCode, AnomalyOut)>> {
    let moves = moves_of_day(state, day, &SpeedBound::default()).ok()?;
    Some(
        moves
            .iter()
            .filter_map(|m| {
                let area = state.projection.person_area(m.person)?;
                Some((area, AnomalyOut::new(state, m, None)))
            })
            .collect(),
    )
}

fn end_out(state: &AppState, e: &MoveEnd) -> MoveEndOut {
    let venue = state.projection.venues.get(e.venue);
    MoveEndOut {
        venue: e.venue.to_string(),
        venue_name: venue.map(|v| v.name.clone()),
        district: venue.map(|v| v.area.district().to_string()),
        at: e.at.to_rfc3339(),
        direction: e.direction,
    }
}

/// `YYYY-MM-DD`.
fn iso_day(day: CivilDay) -> String {
    let c = day.compact();
    match (c.get(0..4), c.get(4..6), c.get(6..8)) {
        (Some(y), Some(m), Some(d)) => format!("{y}-{m}-{d}"),
        _ => c,
    }
}
