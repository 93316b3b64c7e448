//! `GET /api/v1/colours`: how many residents hold each code colour now, under the active
//! policy — the dashboard's colour count as an API, for a caller's jurisdiction. A drill
//! reads it every evening for the whole city's colours over time (docs/drills.md); counts
//! only, no person.

use crate::app::{Actor, Role};
use crate::error::AppError;
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::sync::Arc;
use xikang_domain::Colour;

/// `GET /api/v1/colours`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ColourCountsOut {
    pub green: u64,
    pub red: u64,
    /// Residents of the caller's jurisdiction (every person with a community there).
    pub residents: u64,
    pub yellow: u64,
}

/// The residents of `caller`'s jurisdiction by colour at `now`: one evaluation per
/// resident, as the dashboard counts them (a community's code is checked once, not once per
/// resident).
pub fn colour_counts(
    state: &AppState,
    caller: &Actor,
    now: xikang_domain::Timestamp,
) -> ColourCountsOut {
    let policy = state.policy();
    let covered: Vec<bool> = state
        .projection
        .communities
        .all()
        .iter()
        .map(|a| caller.covers(a))
        .collect();
    let mut out = ColourCountsOut::default();
    let people = read(&state.projection.people);
    for slot in people
        .iter()
        .filter(|s| covered.get(s.community as usize).copied().unwrap_or(false))
    {
        out.residents += 1;
        match xikang_domain::policy::evaluate(&policy, &slot.facts, now).colour {
            Colour::Green => out.green += 1,
            Colour::Yellow => out.yellow += 1,
            Colour::Red => out.red += 1,
        }
    }
    out
}

/// `GET /api/v1/colours`: admins, for their jurisdiction.
pub async fn get_colours(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<ColourCountsOut>, AppError> {
    caller.require(&[Role::Admin], "counting colours")?;
    let now = crate::now();
    let counts = tokio::task::spawn_blocking(move || colour_counts(&state, &caller, now))
        .await
        .map_err(crate::api::blocking_err)?;
    Ok(Json(counts))
}
