//! Load shedding. Two lanes of admission: scans, code display, the trust list and health
//! checks on the priority lane; everything else on a smaller lane. A request that finds its
//! lane full is refused at once with 503 and `Retry-After` rather than queued, so memory
//! stays bounded and admitted requests keep their latency (Guangdong's code fell over
//! queueing; Hainan's survived by shedding).

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The two admission lanes and a count of refusals.
#[derive(Debug)]
pub struct Shed {
    priority: Arc<Semaphore>,
    other: Arc<Semaphore>,
    /// Requests refused since start.
    pub refused: AtomicU64,
}

impl Shed {
    /// Lanes with the given numbers of concurrent requests.
    pub fn new(priority: usize, other: usize) -> Shed {
        Shed {
            priority: Arc::new(Semaphore::new(priority.max(1))),
            other: Arc::new(Semaphore::new(other.max(1))),
            refused: AtomicU64::new(0),
        }
    }

    /// A permit on the request's lane, or `None` if the lane is full (counted as refused).
    pub fn try_admit(&self, path: &str) -> Option<OwnedSemaphorePermit> {
        let lane = if is_priority(path) {
            &self.priority
        } else {
            &self.other
        };
        let permit = lane.clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        permit
    }
}

/// Whether a path belongs on the priority lane.
pub fn is_priority(path: &str) -> bool {
    path == "/healthz"
        || path == "/api/v1/scans"
        || path == "/api/v1/trust"
        || (path.starts_with("/api/v1/people/") && path.contains("/code"))
}

/// Middleware: admit or refuse.
pub async fn admit(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    match state.shed.try_admit(req.uri().path()) {
        Some(_permit) => next.run(req).await,
        None => AppError::Overloaded.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_lane_refuses_at_once_while_the_other_lane_still_admits() {
        let shed = Shed::new(1, 1);
        let held = shed
            .try_admit("/api/v1/scans")
            .expect("first scan admitted");
        assert!(
            shed.try_admit("/api/v1/people/P1/code").is_none(),
            "priority lane is full"
        );
        assert!(
            shed.try_admit("/api/v1/cases").is_some(),
            "other lane is independent"
        );
        assert_eq!(shed.refused.load(Ordering::Relaxed), 1);
        drop(held);
        assert!(
            shed.try_admit("/api/v1/scans").is_some(),
            "a released permit admits again"
        );
    }

    #[test]
    fn scans_codes_and_trust_are_on_the_priority_lane() {
        for p in [
            "/api/v1/scans",
            "/api/v1/people/P1/code",
            "/api/v1/people/P1/code.png",
            "/api/v1/trust",
            "/healthz",
        ] {
            assert!(is_priority(p), "{p}");
        }
        for p in ["/api/v1/cases", "/api/v1/people", "/api/v1/events", "/"] {
            assert!(!is_priority(p), "{p}");
        }
    }
}
