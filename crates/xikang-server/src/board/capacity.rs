//! The capacity view (docs/citizens.md): quarantine beds per site — capacity, occupied,
//! free, admissions and releases per day over the last [`TREND_DAYS`] days — with the day
//! the site is full at that trend ([`xikang_domain::capacity::run_out_day`]).

use super::messages::area_of;
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::capacity::run_out_day;
use xikang_domain::duties::SiteKind;
use xikang_domain::time::DAY;
use xikang_store::OrderFilter;

/// Days the trend is taken over.
pub const TREND_DAYS: i64 = 3;
/// Who reads capacity.
pub const READERS: &[Role] = &[Role::Admin, Role::Tracer];

/// `?area=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct CapacityQuery {
    #[serde(default)]
    pub area: Option<String>,
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

/// The capacity of an area.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CapacityOut {
    pub area: String,
    pub trend_days: i64,
    pub beds: Vec<BedsOut>,
}

/// `GET /api/v1/capacity?area=` (admins and tracers; the caller's area by default).
pub async fn get_capacity(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<CapacityQuery>,
) -> Result<Json<CapacityOut>, AppError> {
    caller.require(READERS, "capacity")?;
    let area = area_of(q.area.as_deref())?.unwrap_or_else(|| caller.area.clone());
    let area = authorise::area(&caller, area)?.into_inner();
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
    Ok(Json(CapacityOut {
        area: area.to_string(),
        trend_days: TREND_DAYS,
        beds,
    }))
}
