//! Supervision (督办, docs/citizens.md): each case's 四早 timers — onset → detection →
//! reported → contacts listed → contacts quarantined, against their targets
//! ([`xikang_domain::fourearly`]) — on the case page, by `GET /api/v1/supervision/timers`,
//! and counted per district in the 红黑榜 ([`breaches_by_district`]).
//!
//! The milestones come from what the log already holds: the case's onset, positive sample
//! and registration; the first close contact a tracer designated (folded into
//! [`super::Board::listed`]); the quarantine orders of the designated contacts (the tracer
//! workflow). Nothing new is logged: the timers are a reading of decisions already made.

use crate::app::projection::CaseRecord;
use crate::app::{Actor, authorise};
use crate::error::AppError;
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use xikang_domain::fourearly::{Milestones, Step, Targets, breaches, timers};
use xikang_domain::{AreaCode, CaseId, Timestamp};

/// Each case's designated contacts' quarantine times.
type Quarantines = HashMap<CaseId, Vec<Option<Timestamp>>>;

fn quarantines(state: &AppState) -> Quarantines {
    let mut by: Quarantines = HashMap::new();
    for (case, at) in state.projection.tracing.designated() {
        by.entry(case).or_default().push(at);
    }
    by
}

fn milestones(state: &AppState, c: &CaseRecord, q: &Quarantines) -> Milestones {
    let listed = read(&state.projection.board).listed.get(&c.id).copied();
    let contacts_quarantined = q.get(&c.id).and_then(|v| {
        // Reached when every designated contact is under an order: the last order's time.
        v.iter()
            .copied()
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    });
    Milestones {
        onset: c.onset,
        detected: Some(c.sampled_at.unwrap_or(c.registered_at)),
        reported: Some(c.registered_at),
        contacts_listed: listed,
        contacts_quarantined: listed.and(contacts_quarantined),
    }
}

/// A case's timers at `now`.
pub fn case_timers(state: &AppState, c: &CaseRecord, now: Timestamp) -> Vec<Step> {
    timers(
        &milestones(state, c, &quarantines(state)),
        &Targets::default(),
        now,
    )
}

/// Breached timers of the cases registered since `since`, by the district the case person
/// lives in.
pub fn breaches_by_district(
    state: &AppState,
    since: Timestamp,
    now: Timestamp,
) -> HashMap<String, u64> {
    breaches_of_cases(state, since, Timestamp(i64::MAX), now)
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(d, _, n)| (d.to_string(), n))
        .collect()
}

/// Per district (of the case person's home): the cases registered in `[from, until)` and
/// their breached timers at `now`.
pub fn breaches_of_cases(
    state: &AppState,
    from: Timestamp,
    until: Timestamp,
    now: Timestamp,
) -> Vec<(AreaCode, u64, u64)> {
    let q = quarantines(state);
    let targets = Targets::default();
    let mut by: HashMap<AreaCode, (u64, u64)> = HashMap::new();
    for c in read(&state.projection.cases).values() {
        if c.registered_at < from || c.registered_at >= until {
            continue;
        }
        let Some(area) = state.projection.person_area(c.person) else {
            continue;
        };
        let e = by.entry(area.district()).or_default();
        e.0 += 1;
        e.1 += breaches(&milestones(state, c, &q), &targets, now) as u64;
    }
    by.into_iter().map(|(d, (c, b))| (d, c, b)).collect()
}

/// `?case=C1`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct TimersQuery {
    #[serde(default)]
    pub case: Option<String>,
}

/// A case's timers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimersOut {
    pub case: String,
    pub breaches: usize,
    pub timers: Vec<Step>,
}

/// The timers of a case the caller may read.
pub fn get_case_timers(
    state: &AppState,
    caller: &Actor,
    case: Option<&str>,
) -> Result<TimersOut, AppError> {
    let id: CaseId = crate::extract::parse_id(case.unwrap_or(""))?;
    let c = authorise::case(state, caller, id)?;
    let t = case_timers(state, &c, crate::now());
    Ok(TimersOut {
        case: id.to_string(),
        breaches: t.iter().filter(|s| s.breached).count(),
        timers: t,
    })
}

/// `GET /api/v1/supervision/timers?case=C1` (tracers and admins of the case's area).
pub async fn get_timers(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<TimersQuery>,
) -> Result<Json<TimersOut>, AppError> {
    Ok(Json(get_case_timers(&state, &caller, q.case.as_deref())?))
}
