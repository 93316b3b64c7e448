//! Venue inspections and silent venues (明察暗访, docs/citizens.md).
//!
//! Inspections are authority events ([`EventBody::InspectionRecorded`]): announced or
//! unannounced, the findings, passed or not, a rectification deadline, and the earlier
//! inspection a re-inspection follows. A failed inspection whose deadline passed without a
//! passing re-inspection is listed as overdue.
//!
//! Silent venues are found from data by the sweep ([`sweep_silent`]): each venue's scans of
//! the last week and today, assessed by [`xikang_domain::silent::assess`]. The list is
//! replaced whole at each sweep and read by `GET /api/v1/venues/silent`; a flag is an
//! observation for an inspector, not a decision, so it is not logged (the inspection that
//! follows is).

use super::Inspection;
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::extract::JsonIn;
use crate::state::{AppState, read, write};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::silent::{SilentKind, SilentRules, assess};
use xikang_domain::time::DAY;
use xikang_domain::{AreaCode, EventSeq, Timestamp, VenueId};

/// Who inspects venues and reads the silent list.
pub const INSPECTORS: &[Role] = &[Role::Admin, Role::Tracer, Role::GridWorker];
/// The longest findings text.
pub const MAX_FINDINGS_CHARS: usize = 2000;

/// The routes (under `/api/v1`).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/venues/silent", get(get_silent))
        .route("/inspections", post(post_inspection).get(get_inspections))
        .route("/inspections/photos", post(super::photos::post_photo))
        .route("/inspections/export", get(export_inspections))
        .route(
            "/inspections/{id}/photos/{photo}",
            get(super::photos::get_photo),
        )
}

/// One flagged venue.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SilentVenue {
    pub venue: String,
    pub name: String,
    pub area: String,
    pub kind: &'static str,
    /// Scans an hour expected at this time of day, from the last week (one decimal).
    pub expected_per_hour: f64,
    pub scans_today: usize,
    pub last_scan: Option<String>,
    pub back_to_back_permille: usize,
    #[serde(skip)]
    pub area_code: Option<AreaCode>,
}

/// The last sweep's silent venues.
#[derive(Debug, Default, Clone)]
pub struct SilentReport {
    pub at: Option<Timestamp>,
    pub venues: Vec<SilentVenue>,
}

/// The sweep's part: assesses every venue at `now` and replaces the list. Answers how many
/// were flagged (0 while the tracing index loads: the next sweep does it). The assessment
/// reads a week of scans for every venue of the city (tens of thousands), so it runs on a
/// blocking thread over a snapshot of the index and a copy of the venues, not on the
/// sweep's async task: the runtime's workers keep serving scans meanwhile.
pub async fn sweep_silent(state: &AppState, now: Timestamp) -> Result<usize, AppError> {
    let Ok(index) = state.projection.tracing.snapshot() else {
        return Ok(0);
    };
    let venues: Vec<(VenueId, String, AreaCode)> = state
        .projection
        .venues
        .list
        .iter()
        .map(|v| (v.id, v.name.clone(), v.area.clone()))
        .collect();
    let flagged = tokio::task::spawn_blocking(move || assess_all(&index, &venues, now)).await?;
    let n = flagged.len();
    *write(&state.board.silent) = SilentReport {
        at: Some(now),
        venues: flagged,
    };
    Ok(n)
}

/// Every venue's flag at `now`, from the index's scans of the last week and today.
fn assess_all(
    index: &xikang_trace::TraceIndex,
    venues: &[(VenueId, String, AreaCode)],
    now: Timestamp,
) -> Vec<SilentVenue> {
    let rules = SilentRules::default();
    let from = now.plus(-(rules.history_days + 1) * DAY);
    let mut flagged = Vec::new();
    for (id, name, area) in venues {
        let scans: Vec<Timestamp> = index
            .checkins_at_venue(*id, from, now)
            .into_iter()
            .filter(|c| c.direction != xikang_domain::ScanDirection::Exit)
            .map(|c| c.at)
            .collect();
        if scans.is_empty() {
            continue;
        }
        if let Some(f) = assess(&rules, &scans, now) {
            flagged.push(SilentVenue {
                venue: id.to_string(),
                name: name.clone(),
                area: area.to_string(),
                kind: f.kind.as_str(),
                expected_per_hour: (f.expected_per_hour * 10.0).round() / 10.0,
                scans_today: f.scans_today,
                last_scan: f.last_scan.map(Timestamp::to_rfc3339),
                back_to_back_permille: f.back_to_back_permille,
                area_code: Some(area.clone()),
            });
        }
    }
    flagged
}

/// `GET /api/v1/venues/silent?kind=`: the last sweep's flags in the caller's area.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct SilentQuery {
    #[serde(default)]
    pub kind: Option<String>,
}

/// The answer: when the sweep looked, and what it found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SilentOut {
    pub swept_at: Option<String>,
    pub items: Vec<SilentVenue>,
}

/// The silent venues of the caller's area.
pub fn silent(state: &AppState, caller: &Actor, kind: Option<&str>) -> Result<SilentOut, AppError> {
    caller.require(INSPECTORS, "silent venues")?;
    let kind = match kind.map(str::trim).filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => Some(
            [
                SilentKind::NoScans,
                SilentKind::ScansStopped,
                SilentKind::OneDevice,
            ]
            .into_iter()
            .find(|x| x.as_str() == k)
            .ok_or_else(|| {
                AppError::bad(
                    "invalid_kind",
                    "kind is no_scans, scans_stopped or one_device",
                )
            })?,
        ),
    };
    let report = read(&state.board.silent).clone();
    Ok(SilentOut {
        swept_at: report.at.map(Timestamp::to_rfc3339),
        items: report
            .venues
            .into_iter()
            .filter(|v| v.area_code.as_ref().is_some_and(|a| caller.covers(a)))
            .filter(|v| kind.is_none_or(|k| k.as_str() == v.kind))
            .collect(),
    })
}

/// `GET /api/v1/venues/silent`.
pub async fn get_silent(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<SilentQuery>,
) -> Result<Json<SilentOut>, AppError> {
    Ok(Json(silent(&state, &caller, q.kind.as_deref())?))
}

/// `POST /api/v1/inspections`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectionIn {
    pub venue: String,
    /// `announced` or `unannounced` (暗访).
    pub kind: String,
    pub findings: String,
    pub passed: bool,
    /// RFC 3339; required when it did not pass.
    #[serde(default)]
    pub rectify_by: Option<String>,
    /// The inspection this one re-inspects (`E…`).
    #[serde(default)]
    pub follows: Option<String>,
    /// Photos uploaded before (`POST /inspections/photos`), by the name it answered.
    #[serde(default)]
    pub photos: Vec<String>,
}

/// An inspection as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InspectionOut {
    pub id: String,
    pub at: String,
    pub by: String,
    pub venue: String,
    pub kind: &'static str,
    pub findings: String,
    pub passed: bool,
    pub rectify_by: Option<String>,
    pub follows: Option<String>,
    /// Failed, past its deadline, and no passing re-inspection since.
    pub rectification_overdue: bool,
    /// Its photos' names (`GET /inspections/{id}/photos/{photo}`).
    pub photos: Vec<String>,
}

fn out(
    i: &Inspection,
    all: &std::collections::BTreeMap<EventSeq, Inspection>,
    now: Timestamp,
) -> InspectionOut {
    let redone = all.values().any(|x| x.follows == Some(i.id) && x.passed);
    InspectionOut {
        id: i.id.to_string(),
        at: i.at.to_rfc3339(),
        by: i.by.clone(),
        venue: i.venue.to_string(),
        kind: if i.unannounced {
            "unannounced"
        } else {
            "announced"
        },
        findings: i.findings.clone(),
        passed: i.passed,
        rectify_by: i.rectify_by.map(Timestamp::to_rfc3339),
        follows: i.follows.map(|f| f.to_string()),
        rectification_overdue: !i.passed && !redone && i.rectify_by.is_some_and(|r| now > r),
        photos: i.photos.clone(),
    }
}

/// Records an inspection of a venue in the caller's area.
pub async fn inspect(
    state: &AppState,
    caller: &Actor,
    b: InspectionIn,
) -> Result<InspectionOut, AppError> {
    caller.require(INSPECTORS, "inspecting venues")?;
    let venue: VenueId = crate::extract::parse_id(&b.venue)?;
    let venue = authorise::venue(state, caller, venue)?.id();
    let unannounced = match b.kind.trim() {
        "announced" => false,
        "unannounced" => true,
        _ => {
            return Err(AppError::bad(
                "invalid_kind",
                "kind is announced or unannounced",
            ));
        }
    };
    let findings = super::text(&b.findings, MAX_FINDINGS_CHARS, "invalid_findings")?;
    let now = crate::now();
    let rectify_by = match b
        .rectify_by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => Some(
            Timestamp::parse_rfc3339(s)
                .map_err(|_| AppError::bad("invalid_time", "rectify_by is an RFC 3339 time"))?,
        ),
    };
    if !b.passed && rectify_by.is_none_or(|r| r <= now) {
        return Err(AppError::bad(
            "rectify_by_required",
            "a failed inspection sets a rectification deadline in the future",
        ));
    }
    let follows = match b
        .follows
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(s) => {
            let seq: EventSeq = crate::extract::parse_id(s)?;
            let board = read(&state.projection.board);
            match board.inspections.get(&seq) {
                Some(i) if i.venue == venue => Some(seq),
                _ => {
                    return Err(AppError::not_found(
                        "unknown_inspection",
                        format!("no inspection {seq} of this venue"),
                    ));
                }
            }
        }
    };
    let mut photos: Vec<String> = Vec::new();
    for p in b.photos.iter().map(|p| p.trim().to_ascii_lowercase()) {
        if !photos.contains(&p) {
            photos.push(p);
        }
    }
    if photos.len() > super::photos::MAX_PHOTOS {
        return Err(AppError::bad(
            "too_many_photos",
            format!(
                "an inspection names at most {} photos",
                super::photos::MAX_PHOTOS
            ),
        ));
    }
    for p in &photos {
        if !super::photos::exists(state, p)? {
            return Err(AppError::Unprocessable {
                code: "unknown_photo",
                message: "a photo is uploaded (POST /api/v1/inspections/photos) before the inspection names it".into(),
                details: None,
            });
        }
    }
    let stored = state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: format!(
                "明察暗访: {} inspection of {venue}",
                if unannounced {
                    "unannounced"
                } else {
                    "announced"
                }
            ),
            body: EventBody::InspectionRecorded {
                venue,
                unannounced,
                findings,
                passed: b.passed,
                rectify_by,
                follows,
                photos,
            },
        }])
        .await?;
    let id = stored.first().map_or(EventSeq(0), |e| e.seq);
    let board = read(&state.projection.board);
    board
        .inspections
        .get(&id)
        .map(|i| out(i, &board.inspections, now))
        .ok_or_else(|| AppError::Internal("a recorded inspection is not in the projection".into()))
}

/// `POST /api/v1/inspections`: 201 with the inspection.
pub async fn post_inspection(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<InspectionIn>,
) -> Result<(StatusCode, Json<InspectionOut>), AppError> {
    caller.require(INSPECTORS, "inspecting venues")?;
    Ok((
        StatusCode::CREATED,
        Json(inspect(&state, &caller, input.get()?).await?),
    ))
}

/// `GET /api/v1/inspections?overdue=true`: the inspections of venues in the caller's area,
/// newest first (at most 500).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct InspectionsQuery {
    #[serde(default)]
    pub overdue: Option<bool>,
}

/// `GET /api/v1/inspections`.
pub async fn get_inspections(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<InspectionsQuery>,
) -> Result<Json<crate::wire::ItemsOut<InspectionOut>>, AppError> {
    let items = inspections(&state, &caller, q.overdue)?;
    Ok(Json(crate::wire::ItemsOut { items }))
}

/// The inspections of venues in the caller's area, newest first, at most 500 (`overdue`:
/// only those whose rectification is, or is not, overdue).
pub fn inspections(
    state: &AppState,
    caller: &Actor,
    overdue: Option<bool>,
) -> Result<Vec<InspectionOut>, AppError> {
    caller.require(INSPECTORS, "venue inspections")?;
    let now = crate::now();
    let board = read(&state.projection.board);
    let venues = &state.projection.venues;
    Ok(board
        .inspections
        .values()
        .rev()
        .filter(|i| venues.get(i.venue).is_some_and(|v| caller.covers(&v.area)))
        .map(|i| out(i, &board.inspections, now))
        .filter(|o| overdue.is_none_or(|d| d == o.rectification_overdue))
        .take(500)
        .collect())
}

/// `GET /api/v1/inspections/export?format=csv|xlsx&overdue=`: the list as a table.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct InspectionsExport {
    #[serde(default)]
    pub overdue: Option<bool>,
    #[serde(default)]
    pub format: Option<String>,
}

/// `GET /api/v1/inspections/export`.
pub async fn export_inspections(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<InspectionsExport>,
) -> Result<axum::response::Response, AppError> {
    caller.require(INSPECTORS, "venue inspections")?;
    let format = crate::export::Format::parse(q.format.as_deref())?;
    format.response(
        &inspections_table(&state, &caller, q.overdue)?,
        "inspections",
        "明察暗访",
    )
}

/// The inspections of the caller's area as an export table.
pub fn inspections_table(
    state: &AppState,
    caller: &Actor,
    overdue: Option<bool>,
) -> Result<crate::export::Table, AppError> {
    let list = inspections(state, caller, overdue)?;
    let venues = &state.projection.venues;
    let mut t = crate::export::Table {
        headers: [
            "编号 id",
            "时间 at",
            "场所 venue",
            "场所名称 name",
            "方式 kind",
            "结论 passed",
            "发现问题 findings",
            "整改期限 rectify_by",
            "复查 follows",
            "整改超期 overdue",
            "照片 photos",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for i in list {
        let name = crate::extract::parse_id::<VenueId>(&i.venue)
            .ok()
            .and_then(|v| venues.get(v))
            .map(|v| v.name.clone())
            .unwrap_or_default();
        t.rows.push(vec![
            i.id.into(),
            i.at.into(),
            i.venue.into(),
            name.into(),
            i.kind.into(),
            if i.passed { "passed" } else { "failed" }.into(),
            i.findings.into(),
            i.rectify_by.unwrap_or_default().into(),
            i.follows.unwrap_or_default().into(),
            if i.rectification_overdue { "yes" } else { "" }.into(),
            crate::export::Cell::Number(i.photos.len() as f64),
        ]);
    }
    Ok(t)
}
