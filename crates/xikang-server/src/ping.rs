//! Location pings in the server: the ping index the companion rule (时空伴随) reads, loaded
//! from the store in the background after the check-in index (so scans and close contacts
//! never wait for it) and fed by `POST /api/v1/pings` after each commit; and that endpoint,
//! for a carrier's feed.
//!
//! The index holds each ping's companion cell, computed once with the policy's
//! `companion_cell_metres` as it was when the index loaded: a policy that changes the cell
//! size takes effect for companions at the next start. Positions are never logged.

use crate::api::blocking_err;
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::json::{body_json, check_json};
use crate::state::AppState;
use crate::wire::{ItemRefusedOut, PingsOut};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use xikang_domain::PersonId;
use xikang_domain::time::DAY;
use xikang_domain::{CivilDay, LocationPing, Position, Timestamp, companion_cell};
use xikang_store::{Store, StoreError};
use xikang_trace::{Ping, PingIndex};

/// How far in the future a ping's time may be (clock skew of the feed).
const FUTURE_SLACK_SECS: i64 = 300;

/// The index as the endpoint and readers share it.
#[derive(Debug, Default)]
struct Live {
    index: PingIndex,
    /// Cell side the index was built with.
    metres: u32,
    /// While the stored pings load, committed ones wait here; `None` once loaded.
    pending: Option<Vec<LocationPing>>,
    /// A front node (docs/nodes.md) holds no ping index: committed pings are not kept.
    discard: bool,
}

fn to_ping(p: &LocationPing, metres: u32) -> Ping {
    Ping {
        person: p.person,
        at: p.at,
        cell: companion_cell(p.position, metres),
    }
}

/// The server's ping index.
#[derive(Debug)]
pub struct Pings {
    live: Mutex<Live>,
    ready: AtomicBool,
}

impl Default for Pings {
    fn default() -> Pings {
        Pings::new()
    }
}

impl Pings {
    /// An empty index, not ready until [`Pings::load`] has run.
    pub fn new() -> Pings {
        Pings {
            live: Mutex::new(Live {
                pending: Some(Vec::new()),
                ..Live::default()
            }),
            ready: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        // Appends are whole: the index is good after another holder's panic.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Builds the index from every stored ping on a grid of `metres`, then marks it ready.
    /// As for check-ins, the store streams day by day and a second thread sorts each whole
    /// day while the next is read; pings committed meanwhile are added at the end.
    pub fn load(&self, store: &dyn Store, metres: u32) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut loaded = crate::trace::build_by_day(
            PingIndex::new(),
            |f| store.for_each_ping(f),
            |p| p.at.shanghai_day(),
            |p| to_ping(p, metres),
            PingIndex::append,
        )?;
        let mut live = self.lock();
        if let Some(pending) = live.pending.take() {
            let rows: Vec<Ping> = pending.iter().map(|p| to_ping(p, metres)).collect();
            loaded.append(&rows);
        }
        live.index = loaded;
        live.metres = metres;
        self.ready.store(true, Ordering::Release);
        tracing::info!(
            pings = live.index.len(),
            bytes = live.index.heap_bytes(),
            ms = started.elapsed().as_millis(),
            "ping index ready"
        );
        Ok(())
    }

    /// Whether the index holds everything stored.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// A consistent view and the cell side it was built with, or `None` while loading.
    pub fn snapshot(&self) -> Option<(PingIndex, u32)> {
        if !self.is_ready() {
            return None;
        }
        let live = self.lock();
        Some((live.index.snapshot(), live.metres))
    }

    /// Makes this a front node's: no index is loaded or kept (its pings are stored, and
    /// the tracing nodes load them).
    pub fn serve_front_only(&self) {
        let mut live = self.lock();
        live.pending = None;
        live.discard = true;
    }

    /// Adds committed pings.
    pub fn append(&self, rows: &[LocationPing]) {
        let mut live = self.lock();
        if live.discard {
            return;
        }
        let metres = live.metres;
        match &mut live.pending {
            Some(p) => p.extend_from_slice(rows),
            None => {
                let rows: Vec<Ping> = rows.iter().map(|p| to_ping(p, metres)).collect();
                live.index.append(&rows);
            }
        }
    }

    /// Forgets the pings of days before `day` (retention).
    pub fn drop_days_before(&self, day: CivilDay) {
        let mut live = self.lock();
        live.index.drop_days_before(day);
        if let Some(p) = &mut live.pending {
            p.retain(|x| x.at.shanghai_day() >= day);
        }
    }
}

#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    pings: Vec<&'a RawValue>,
}

/// One ping on the wire: a person id, an RFC 3339 time, WGS-84 degrees.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PingIn {
    person: String,
    at: String,
    lat: f64,
    lon: f64,
}

/// Why one item of a batch was refused.
struct Refused {
    code: &'static str,
    message: String,
}

fn refused(code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        code,
        message: message.into(),
    }
}

fn parse_item(
    state: &AppState,
    raw: &str,
    now: Timestamp,
    oldest: Timestamp,
) -> Result<LocationPing, Refused> {
    let p: PingIn = serde_json::from_str(raw).map_err(|e| {
        refused(
            "invalid_ping",
            format!("a ping is {{\"person\", \"at\", \"lat\", \"lon\"}}: {e}"),
        )
    })?;
    let person = PersonId::parse(&p.person)
        .ok_or_else(|| refused("invalid_person_id", "a person id looks like P1"))?;
    if !state.projection.person_exists(person) {
        return Err(refused("unknown_person", format!("no person {person}")));
    }
    let at = Timestamp::parse_rfc3339(&p.at).map_err(|e| refused("invalid_time", e.to_string()))?;
    if at > now.plus(FUTURE_SLACK_SECS) {
        return Err(refused(
            "time_in_future",
            "the ping's time is in the future",
        ));
    }
    if at < oldest {
        return Err(refused(
            "older_than_retention",
            "the ping is older than the retention period",
        ));
    }
    let position = Position::from_degrees(p.lat, p.lon)
        .map_err(|e| refused("invalid_position", e.to_string()))?;
    Ok(LocationPing {
        person,
        at,
        position,
    })
}

/// `POST /api/v1/pings`: `{"pings": [{"person": "P1", "at": "…Z", "lat": 31.5, "lon":
/// 120.3}, …]}` of at most `max_batch`, from a carrier's feed (role `carrier`) or an admin.
/// Valid pings are stored (durable when answered) and join the ping index; refused ones are
/// reported by their index in the batch. All refused is a 422 that stores nothing.
pub async fn post_pings(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Carrier, Role::Admin], "posting location pings")?;
    check_json(&headers)?;
    let batch: Batch<'_> = body_json(&body)?;
    if batch.pings.is_empty() {
        return Err(AppError::bad(
            "empty_batch",
            "a batch needs at least one ping",
        ));
    }
    if batch.pings.len() > state.config.max_batch {
        return Err(AppError::TooLarge(format!(
            "a batch holds at most {} pings, this one has {}",
            state.config.max_batch,
            batch.pings.len()
        )));
    }
    let now = crate::now();
    let keep = i64::from(state.policy().retention_days());
    // The first second of the oldest day retention keeps.
    let oldest = now.plus(-keep * DAY).shanghai_day().start();
    let mut rows = Vec::with_capacity(batch.pings.len());
    let mut rejected: Vec<ItemRefusedOut> = Vec::new();
    for (index, raw) in batch.pings.iter().enumerate() {
        match parse_item(&state, raw.get(), now, oldest) {
            // A ping feeds the companion rule, which turns people yellow: only for people
            // of the caller's area (a city carrier's feed covers the city).
            Ok(p) if !authorise::person_in_area(&state, &caller, p.person) => {
                rejected.push(ItemRefusedOut::new(
                    index,
                    "forbidden",
                    "this person lives outside your jurisdiction".into(),
                ));
            }
            Ok(p) => rows.push(p),
            Err(e) => rejected.push(ItemRefusedOut::new(index, e.code, e.message)),
        }
    }
    if rows.is_empty() {
        return Err(AppError::Unprocessable {
            code: "no_valid_pings",
            message: "every ping in the batch was refused".into(),
            details: Some(json!({"rejected": rejected})),
        });
    }
    let store = state.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.insert_pings(&rows).map(|()| rows))
        .await
        .map_err(blocking_err)??;
    // After the commit: the index is a view of what is durable.
    state.projection.tracing.pings.append(&stored);
    Ok(axum::Json(PingsOut {
        accepted: stored.len(),
        rejected,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::PersonId;

    fn at(person: u32, secs: i64, lat_e6: i32) -> LocationPing {
        LocationPing {
            person: PersonId(person),
            at: Timestamp(secs),
            position: Position::new(lat_e6, 120_300_000).expect("valid"),
        }
    }

    /// Pings committed while the stored ones load are neither lost nor counted twice, and
    /// each lands in the cell of its position on the grid the index was loaded with.
    #[test]
    fn pings_committed_during_the_load_are_kept_once_in_their_cells() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            xikang_store::open(&xikang_store::Target::Sqlite(dir.path().into())).expect("open");
        let t0 = 1_656_640_800; // 2022-07-01 10:00 in Shanghai
        let stored: Vec<LocationPing> = (0..3)
            .map(|p| at(p, t0 + i64::from(p), 31_500_000))
            .collect();
        store.insert_pings(&stored).expect("insert");
        let pings = Pings::new();
        assert!(pings.snapshot().is_none(), "not ready before the load");
        pings.append(&[at(3, t0 + 10, 31_500_000), stored[0]]);
        pings.load(store.as_ref(), 800).expect("load");
        let (index, metres) = pings.snapshot().expect("ready");
        assert_eq!((index.len(), metres), (4, 800));
        // After the load, appends go straight into the index; 2 km north is another cell.
        pings.append(&[at(3, t0 + 20, 31_518_000)]);
        assert_eq!(pings.snapshot().expect("ready").0.len(), 5);
        let a = companion_cell(stored[0].position, 800);
        let b = companion_cell(Position::new(31_518_000, 120_300_000).expect("valid"), 800);
        assert_ne!(a, b);
        // Retention forgets whole days.
        pings.drop_days_before(CivilDay(Timestamp(t0).shanghai_day().0 + 1));
        assert!(pings.snapshot().expect("ready").0.is_empty());
    }
}
