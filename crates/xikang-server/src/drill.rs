//! The one clock, and drills (应急演练) that move it.
//!
//! Every time the server uses — token issue and expiry, scans, sweeps, retention, schedules,
//! zone conditions, the bulletin's day — comes from [`now`]. A production process reads the
//! system clock and has no way to move it. A drill process (`xikang serve --drill`) runs on a
//! simulated clock that starts at any instant ([`start`], once, before serving) and moves
//! only forward, only when an admin asks (`POST /api/v1/drill/clock`), so a drill replays the
//! same way every time; after each move the sweep runs, so schedules and rules act on the
//! new time at once.
//!
//! Drill data never mix with production data: a store written by a drill carries the
//! [`STORE_MARK`] setting; `serve` refuses a marked store and `serve --drill` an unmarked
//! one that already holds authority events ([`check_store`]).
//!
//! Why one process-wide clock and not one per [`AppState`]: the clock is read in about two
//! hundred places, some with no state at hand (the domain takes `now` as an argument, and
//! these are where it is read), and a process is either a drill or not for its whole life.
//! Tests of the drill run in their own test binary, so no other test shares the clock.

use crate::app::{Actor, Role};
use crate::error::AppError;
use crate::extract::JsonIn;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use xikang_domain::Timestamp;
use xikang_store::{Store, StoreError};

/// The store setting that marks a drill's store (its value: the drill's start, RFC 3339).
pub const STORE_MARK: &str = "drill";

/// A drill can move its clock by at most this much in one request (a year).
const MAX_STEP_SECS: i64 = 366 * 86_400;

/// The simulated time, when this process is a drill (or, for a drill that follows real
/// time, its distance from the system clock in seconds).
static DRILL: OnceLock<AtomicI64> = OnceLock::new();

/// Set (before [`DRILL`]) when the drill's clock follows real time from where it was moved.
static FOLLOWS: OnceLock<()> = OnceLock::new();

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The time: the system clock, or the drill's.
pub fn now() -> Timestamp {
    match DRILL.get() {
        Some(t) if FOLLOWS.get().is_some() => Timestamp(system_now() + t.load(Ordering::Acquire)),
        Some(t) => Timestamp(t.load(Ordering::Acquire)),
        None => Timestamp(system_now()),
    }
}

/// Makes this process a drill whose clock reads `at` now and then runs with real time (the
/// demo: an outbreak replayed up to today, then the present); moves still go forward only.
/// Once per process, as [`start`].
pub fn start_following(at: Timestamp) -> Result<(), String> {
    if DRILL.get().is_some() {
        return Err("this process is already a drill".to_owned());
    }
    let _ = FOLLOWS.set(());
    DRILL
        .set(AtomicI64::new(at.0 - system_now()))
        .map_err(|_| "this process is already a drill".to_owned())
}

/// Whether this process runs on a drill's clock.
pub fn is_drill() -> bool {
    DRILL.get().is_some()
}

/// Makes this process a drill whose clock reads `at` until moved. Once per process, before
/// the clock is first read for anything that lasts; a second call is refused.
pub fn start(at: Timestamp) -> Result<(), String> {
    DRILL
        .set(AtomicI64::new(at.0))
        .map_err(|_| "this process is already a drill".to_owned())
}

/// Refuses to mix drill and production data: a drill needs a store that is marked as a
/// drill's or holds no authority event yet (it is then marked), production an unmarked one.
pub fn check_store(store: &dyn Store, drill: bool) -> Result<(), String> {
    let marked = store
        .setting(STORE_MARK)
        .map_err(|e| e.to_string())?
        .is_some();
    match (drill, marked) {
        (false, true) => Err(
            "this store holds drill data: serve it with --drill, never as a production city".into(),
        ),
        (true, false) => {
            let used = !store
                .events_after(xikang_domain::EventSeq(0), 1)
                .map_err(|e: StoreError| e.to_string())?
                .is_empty();
            if used {
                return Err(
                    "this store holds production data (authority events, no drill mark): a drill needs its own store"
                        .into(),
                );
            }
            store
                .put_setting(STORE_MARK, now().to_rfc3339().as_bytes())
                .map_err(|e| e.to_string())
        }
        _ => Ok(()),
    }
}

/// `POST /api/v1/drill/clock`: one of `advance_secs` (1 … a year) or `to` (later than now).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockIn {
    #[serde(default)]
    advance_secs: Option<i64>,
    #[serde(default)]
    to: Option<String>,
}

/// The drill clock as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClockOut {
    pub now: String,
    pub drill: bool,
}

fn clock_out() -> ClockOut {
    ClockOut {
        now: now().to_rfc3339(),
        drill: is_drill(),
    }
}

/// `GET /api/v1/drill/clock`: the server's time and whether it is a drill's.
pub async fn get_clock(caller: Actor) -> Result<Json<ClockOut>, AppError> {
    caller.require(&[Role::Admin], "reading the drill clock")?;
    Ok(Json(clock_out()))
}

/// `POST /api/v1/drill/clock`: moves a drill's clock forward, then runs the sweep at the new
/// time. City-level admins of a drill only; a production server answers 409 `not_a_drill`.
pub async fn post_clock(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<ClockIn>,
) -> Result<Json<ClockOut>, AppError> {
    caller.require(&[Role::Admin], "moving the drill clock")?;
    let city = xikang_domain::AreaCode::parse(&state.config.jurisdiction)
        .map_err(|_| AppError::Forbidden("the drill clock"))?;
    if !caller.covers(&city) {
        return Err(AppError::Forbidden(
            "the drill clock is moved by a city-level admin",
        ));
    }
    let Some(clock) = DRILL.get() else {
        return Err(AppError::Conflict {
            code: "not_a_drill",
            message: "this server runs on the real clock; only a drill's clock moves".into(),
        });
    };
    let b = input.get()?;
    let from = now();
    let to = match (b.advance_secs, b.to.as_deref()) {
        (Some(s), None) if (1..=MAX_STEP_SECS).contains(&s) => from.plus(s),
        (None, Some(t)) => Timestamp::parse_rfc3339(t)
            .map_err(|e| AppError::bad("invalid_time", e.to_string()))
            .and_then(|t| {
                if t > from && t.0 - from.0 <= MAX_STEP_SECS {
                    Ok(t)
                } else {
                    Err(AppError::bad(
                        "invalid_time",
                        "to must be later than now, by at most a year",
                    ))
                }
            })?,
        _ => {
            return Err(AppError::bad(
                "invalid_clock_move",
                "give advance_secs (1 to 31,622,400) or to (RFC 3339, later than now)",
            ));
        }
    };
    // Forward only, even against a concurrent move: the later of the two wins.
    let value = if FOLLOWS.get().is_some() {
        to.0 - system_now()
    } else {
        to.0
    };
    clock.fetch_max(value, Ordering::AcqRel);
    tracing::info!(from = %from.to_rfc3339(), to = %now().to_rfc3339(), "drill clock moved");
    crate::app::sweep::run(&state, now()).await?;
    Ok(Json(clock_out()))
}
