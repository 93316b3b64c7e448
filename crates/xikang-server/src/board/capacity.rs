//! The capacity view (docs/citizens.md), each resource with the day it runs out at the
//! trend of the last [`TREND_DAYS`] days ([`xikang_domain::capacity`]):
//!
//! - quarantine beds per centralized site: capacity, occupied, free, admissions and
//!   releases per day, the day the site is full;
//! - the lab's tubes: resulted per day against what waits for a result and what the open
//!   screening rounds still need, the day that work is cleared and whether that is after
//!   the rounds' deadline;
//! - what facilities report by count (`POST /api/v1/capacity/reports`, an authority event
//!   each): fever clinics and transfer vehicles (full on the day their use reaches their
//!   size), and each quarantine site's stock per item (out on the day it reaches zero).

use super::messages::area_of;
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::extract::JsonIn;
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::capacity::{Resource, reported_run_out, run_out_day};
use xikang_domain::duties::SiteKind;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::time::DAY;
use xikang_store::OrderFilter;

/// Days the trend is taken over.
pub const TREND_DAYS: i64 = 3;
/// Who reads capacity.
pub const READERS: &[Role] = &[Role::Admin, Role::Tracer];
/// Who reports counts: admins of the facility's area, and a site's manager its stock.
pub const REPORTERS: &[Role] = &[Role::Admin, Role::SiteManager];
/// The longest facility or item name.
pub const MAX_NAME_CHARS: usize = 100;

/// `?area=` (and `format=csv|xlsx` for the export).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CapacityQuery {
    #[serde(default)]
    pub area: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
}

/// One site's beds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BedsOut {
    pub site: String,
    pub name: String,
    pub area: String,
    pub capacity: u32,
    pub occupied: u32,
    pub free: u32,
    /// Per day over the trend's days (one decimal).
    pub admitted_per_day: f64,
    pub released_per_day: f64,
    /// `YYYY-MM-DD` the site is full at this trend; none when it is not filling.
    pub full_on: Option<String>,
}

/// The lab's tubes against the screening rounds' demand.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TubesOut {
    /// Tubes resulted per day over the trend's days, city-wide (one decimal).
    pub resulted_per_day: f64,
    /// Sealed, on their way or received, without a result yet.
    pub awaiting_result: u64,
    /// Tubes the open rounds over the area still need (unsampled residents in pools).
    pub rounds_need: u64,
    /// What the rounds ask of the lab per day until their latest deadline (one decimal).
    pub demand_per_day: f64,
    /// The latest deadline of those rounds.
    pub deadline: Option<String>,
    /// `YYYY-MM-DD` the waiting and needed tubes are resulted at the current throughput;
    /// none when nothing waits, or nothing was resulted (no trend).
    pub cleared_on: Option<String>,
    /// Whether that day is after the rounds' deadline: the lab is short.
    pub short: bool,
}

/// A reported resource.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportedOut {
    pub resource: &'static str,
    pub name: String,
    pub area: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The latest report: size (a clinic's patients a day, vehicles, stock on hand) and use.
    pub total: u32,
    pub in_use: u32,
    pub reported_at: String,
    /// `YYYY-MM-DD` it runs out (full, or out of stock) at the trend of its reports of the
    /// last trend days; none when it is not running out.
    pub runs_out_on: Option<String>,
}

/// The capacity of an area.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CapacityOut {
    pub area: String,
    pub trend_days: i64,
    pub beds: Vec<BedsOut>,
    pub tubes: TubesOut,
    pub fever_clinics: Vec<ReportedOut>,
    pub vehicles: Vec<ReportedOut>,
    pub stock: Vec<ReportedOut>,
}

/// `GET /api/v1/capacity?area=` (admins and tracers; the caller's area by default).
pub async fn get_capacity(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<CapacityQuery>,
) -> Result<Json<CapacityOut>, AppError> {
    Ok(Json(capacity(&state, &caller, q.area.as_deref()).await?))
}

/// `GET /api/v1/capacity/export?area=&format=csv|xlsx`: every resource of the view, one row
/// each, with the day it runs out.
pub async fn export_capacity(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<CapacityQuery>,
) -> Result<axum::response::Response, AppError> {
    caller.require(READERS, "capacity")?;
    let format = crate::export::Format::parse(q.format.as_deref())?;
    format.response(
        &capacity_table(&state, &caller, q.area.as_deref()).await?,
        "capacity",
        "资源保障",
    )
}

/// The capacity view as an export table.
pub async fn capacity_table(
    state: &AppState,
    caller: &Actor,
    area: Option<&str>,
) -> Result<crate::export::Table, AppError> {
    let c = capacity(state, caller, area).await?;
    let mut t = crate::export::Table {
        headers: [
            "资源 resource",
            "名称 name",
            "区域 area",
            "总量 total",
            "占用 in_use",
            "用尽日期 runs_out_on",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    let n = |v: f64| crate::export::Cell::Number(v);
    for b in c.beds {
        t.rows.push(vec![
            "beds".into(),
            b.name.into(),
            b.area.into(),
            n(f64::from(b.capacity)),
            n(f64::from(b.occupied)),
            b.full_on.unwrap_or_default().into(),
        ]);
    }
    t.rows.push(vec![
        "tubes".into(),
        "resulted per day / work left".into(),
        c.area.clone().into(),
        n(c.tubes.resulted_per_day),
        n((c.tubes.awaiting_result + c.tubes.rounds_need) as f64),
        c.tubes.cleared_on.unwrap_or_default().into(),
    ]);
    for r in c.fever_clinics.into_iter().chain(c.vehicles).chain(c.stock) {
        t.rows.push(vec![
            r.resource.into(),
            r.site
                .map_or(r.name.clone(), |s| format!("{s} {}", r.name))
                .into(),
            r.area.into(),
            n(f64::from(r.total)),
            n(f64::from(r.in_use)),
            r.runs_out_on.unwrap_or_default().into(),
        ]);
    }
    Ok(t)
}

/// The capacity view of `area` (the caller's own when absent).
pub async fn capacity(
    state: &AppState,
    caller: &Actor,
    area: Option<&str>,
) -> Result<CapacityOut, AppError> {
    caller.require(READERS, "capacity")?;
    let area = area_of(area)?.unwrap_or_else(|| caller.area.clone());
    let area = authorise::area(caller, area)?.into_inner();
    let now = crate::now();
    let since = now.plus(-TREND_DAYS * DAY);
    let store = state.store.clone();
    let within = area.clone();
    let sites = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for s in store.sites()? {
            if s.kind != SiteKind::Centralized || !within.contains(&s.area) {
                continue;
            }
            let orders = store.orders(&OrderFilter {
                person: None,
                site: Some(s.id),
                active_only: false,
                limit: 1_000_000,
            })?;
            let admitted = orders.iter().filter(|o| o.start >= since).count();
            let released = orders
                .iter()
                .filter(|o| o.ended_at.is_some_and(|e| e >= since))
                .count();
            out.push((s, admitted, released));
        }
        Ok::<_, xikang_store::StoreError>(out)
    })
    .await??;
    let day = super::messages::day_text;
    let per_day = |n: usize| ((n as f64 / TREND_DAYS as f64) * 10.0).round() / 10.0;
    let beds = sites
        .into_iter()
        .map(|(s, admitted, released)| {
            let free = s.capacity.saturating_sub(s.occupancy);
            let net = (admitted as f64 - released as f64) / TREND_DAYS as f64;
            BedsOut {
                site: s.id.to_string(),
                name: s.name,
                area: s.area.to_string(),
                capacity: s.capacity,
                occupied: s.occupancy,
                free,
                admitted_per_day: per_day(admitted),
                released_per_day: per_day(released),
                full_on: run_out_day(u64::from(free), net, now.shanghai_day()).map(day),
            }
        })
        .collect();
    let today = now.shanghai_day();
    let load = crate::lab::tube_load(state, &area, since, now);
    let throughput = load.resulted_since as f64 / TREND_DAYS as f64;
    let work = load.awaiting + load.needed;
    let days_left = load
        .deadline
        .map_or(1.0, |d| ((d.0 - now.0) as f64 / DAY as f64).max(1.0));
    let cleared_on = (work > 0 && throughput > 0.0)
        .then(|| run_out_day(work, throughput, today))
        .flatten();
    let tubes = TubesOut {
        resulted_per_day: (throughput * 10.0).round() / 10.0,
        awaiting_result: load.awaiting,
        rounds_need: load.needed,
        demand_per_day: ((work as f64 / days_left) * 10.0).round() / 10.0,
        deadline: load.deadline.map(|d| d.to_rfc3339()),
        short: load
            .deadline
            .is_some_and(|d| cleared_on.is_none_or(|c| c > d.shanghai_day()) && load.needed > 0),
        cleared_on: cleared_on.map(day),
    };
    let (mut fever_clinics, mut vehicles, mut stock) = (Vec::new(), Vec::new(), Vec::new());
    for r in read(&state.projection.board).reported.values() {
        if !area.contains(&r.area) {
            continue;
        }
        let Some(out) = reported_out(r, since, today) else {
            continue;
        };
        match r.resource {
            Resource::FeverClinic => fever_clinics.push(out),
            Resource::Vehicle => vehicles.push(out),
            Resource::Stock => stock.push(out),
        }
    }
    Ok(CapacityOut {
        area: area.to_string(),
        trend_days: TREND_DAYS,
        beds,
        tubes,
        fever_clinics,
        vehicles,
        stock,
    })
}

/// `POST /api/v1/capacity/reports`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = CapacityReportIn)]
#[serde(deny_unknown_fields)]
pub struct ReportIn {
    /// `fever_clinic`, `vehicle` or `stock`.
    pub resource: String,
    /// The clinic, the vehicles' fleet, or the stock's item.
    pub name: String,
    /// The facility's area (a clinic's, a fleet's); a site's stock is in its site's area.
    #[serde(default)]
    pub area: Option<String>,
    /// For stock: the quarantine site (`S…`).
    #[serde(default)]
    pub site: Option<String>,
    pub total: u32,
    #[serde(default)]
    pub in_use: u32,
}

/// `POST /api/v1/capacity/reports`: 201 with the resource as now seen. Clinics and
/// vehicles by admins of their area; a site's stock by admins of the site's area or its
/// manager. Logged (`capacity_reported`).
pub async fn post_report(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<ReportIn>,
) -> Result<(StatusCode, Json<ReportedOut>), AppError> {
    caller.require(REPORTERS, "reporting capacity")?;
    let b = input.get()?;
    let resource = Resource::parse(b.resource.trim()).ok_or_else(|| {
        AppError::bad(
            "invalid_resource",
            "resource is fever_clinic, vehicle or stock",
        )
    })?;
    let name = super::text(&b.name, MAX_NAME_CHARS, "invalid_name")?;
    let (area, site) = match (resource, b.site.as_deref().map(str::trim)) {
        (Resource::Stock, Some(s)) if !s.is_empty() => {
            let id: xikang_domain::SiteId = crate::extract::parse_id(s)?;
            let store = state.store.clone();
            let sites = tokio::task::spawn_blocking(move || store.sites()).await??;
            let site = sites
                .into_iter()
                .find(|x| x.id == id)
                .ok_or_else(|| AppError::not_found("unknown_site", "no such site"))?;
            let manages = caller.role == Role::SiteManager
                && site.manager.as_deref() == Some(caller.name.as_str());
            if !(manages || (caller.role == Role::Admin && caller.covers(&site.area))) {
                return Err(AppError::Forbidden(
                    "this quarantine site is outside your jurisdiction",
                ));
            }
            (site.area, Some(id))
        }
        (Resource::Stock, _) => {
            return Err(AppError::bad(
                "site_required",
                "stock is reported for a quarantine site",
            ));
        }
        (_, Some(s)) if !s.is_empty() => {
            return Err(AppError::bad(
                "invalid_site",
                "only stock names a quarantine site",
            ));
        }
        _ => {
            caller.require(&[Role::Admin], "reporting clinics and vehicles")?;
            let area = area_of(b.area.as_deref())?
                .ok_or_else(|| AppError::bad("invalid_area", "the facility's area is required"))?;
            (authorise::area(&caller, area)?.into_inner(), None)
        }
    };
    if resource == Resource::Stock && b.in_use != 0 {
        return Err(AppError::bad(
            "invalid_count",
            "stock reports what is on hand (total); in_use is 0",
        ));
    }
    if resource != Resource::Stock && b.in_use > b.total.saturating_mul(10) {
        return Err(AppError::bad(
            "invalid_count",
            "in_use is at most ten times the total",
        ));
    }
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: format!("capacity: {} {name}", resource.as_str()),
            body: EventBody::CapacityReported {
                resource,
                name: name.clone(),
                area: area.clone(),
                site,
                total: b.total,
                in_use: b.in_use,
            },
        }])
        .await?;
    let now = crate::now();
    let board = read(&state.projection.board);
    let r = board
        .reported
        .get(&(resource, site, name))
        .ok_or_else(|| AppError::Internal("a report is not in the projection".into()))?;
    let out = reported_out(r, now.plus(-TREND_DAYS * DAY), now.shanghai_day())
        .ok_or_else(|| AppError::Internal("a report without readings".into()))?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// A reported resource as the view shows it: its latest report, and the day it runs out at
/// the trend of the latest report of each day since `since`. `None` without a report.
fn reported_out(
    r: &super::Reported,
    since: xikang_domain::Timestamp,
    today: xikang_domain::CivilDay,
) -> Option<ReportedOut> {
    let &(at, total, in_use) = r.readings.last()?;
    let mut days: Vec<(xikang_domain::CivilDay, u32, u32)> = Vec::new();
    for &(when, t, u) in r.readings.iter().filter(|x| x.0 >= since) {
        let d = when.shanghai_day();
        match days.last_mut() {
            Some(last) if last.0 == d => *last = (d, t, u),
            _ => days.push((d, t, u)),
        }
    }
    Some(ReportedOut {
        resource: r.resource.as_str(),
        name: r.name.clone(),
        area: r.area.to_string(),
        site: r.site.map(|s| s.to_string()),
        total,
        in_use,
        reported_at: at.to_rfc3339(),
        runs_out_on: reported_run_out(r.resource, &days, today).map(super::messages::day_text),
    })
}
