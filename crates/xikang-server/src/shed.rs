//! Load shedding. Two lanes of admission: scans, code display and the trust list on the
//! priority lane; everything else on a smaller lane. Health probes (`/healthz`, `/readyz`)
//! take no lane at all (see [`crate::edge`]). A request that finds its lane full waits at
//! most [`Shed::new`]'s `max_wait` (a second by default: a gate's patience, among a bounded
//! number of waiters) and is then refused with 503 and `Retry-After` rather than queued for
//! longer, so memory stays bounded and admitted requests finish within that bound
//! (Guangdong's code fell over queueing; Hainan's survived by shedding).
//!
//! Why a short wait rather than none: with thousands of connections and a lane of a hundred,
//! refusing at once turns every burst into a wave of 503s whose clients all back off for the
//! same second and return together, so the server idles between waves (2,000 connections of
//! single scans fell to a fifth of the 64-connection rate). Clients that ignore
//! `Retry-After` are no better: each refusal is re-sent at once and its parsing is work
//! taken from admitted requests. A wait as long as the scan's time budget lets the lane
//! clear the queue instead (`docs/benchmarks.md`, "Trust: overload", has the figures for
//! 100 ms, 500 ms and 1 s).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The two admission lanes and a count of refusals.
#[derive(Debug)]
pub struct Shed {
    priority: Arc<Semaphore>,
    other: Arc<Semaphore>,
    /// Slots of each lane (priority, other), for the metrics.
    slots: [usize; 2],
    /// How long a request may wait for a permit when its lane is full.
    max_wait: Duration,
    /// How many requests may wait at once (per server); beyond that, refusal is immediate.
    max_waiters: usize,
    waiting: AtomicUsize,
    /// Requests refused since start.
    pub refused: AtomicU64,
    /// Of those, refused on the priority lane.
    refused_priority: AtomicU64,
}

/// One lane as the metrics show it.
#[derive(Debug, Clone, Copy)]
pub struct LaneStats {
    pub name: &'static str,
    pub slots: usize,
    pub in_use: usize,
    pub refused: u64,
}

/// The shedder as the metrics show it.
#[derive(Debug, Clone, Copy)]
pub struct ShedStats {
    pub lanes: [LaneStats; 2],
    pub waiting: usize,
}

impl Shed {
    /// Lanes with the given numbers of concurrent requests; a request finding its lane full
    /// waits up to `max_wait` among at most `max_waiters` others.
    pub fn new(priority: usize, other: usize, max_wait: Duration, max_waiters: usize) -> Shed {
        Shed {
            priority: Arc::new(Semaphore::new(priority.max(1))),
            other: Arc::new(Semaphore::new(other.max(1))),
            slots: [priority.max(1), other.max(1)],
            max_wait,
            max_waiters,
            waiting: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            refused_priority: AtomicU64::new(0),
        }
    }

    /// Slots in use, refusals and waiters, read without taking anything.
    pub fn stats(&self) -> ShedStats {
        let refused = self.refused.load(Ordering::Relaxed);
        let priority = self.refused_priority.load(Ordering::Relaxed);
        let lane = |name, slots: usize, sem: &Semaphore, refused| LaneStats {
            name,
            slots,
            in_use: slots.saturating_sub(sem.available_permits()),
            refused,
        };
        ShedStats {
            lanes: [
                lane("priority", self.slots[0], &self.priority, priority),
                lane(
                    "other",
                    self.slots[1],
                    &self.other,
                    refused.saturating_sub(priority),
                ),
            ],
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }

    fn count_refusal(&self, path: &str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        if is_priority(path) {
            self.refused_priority.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn lane(&self, path: &str) -> &Arc<Semaphore> {
        if is_priority(path) {
            &self.priority
        } else {
            &self.other
        }
    }

    /// A permit on the request's lane, or `None` if the lane is full (counted as refused).
    pub fn try_admit(&self, path: &str) -> Option<OwnedSemaphorePermit> {
        let permit = self.lane(path).clone().try_acquire_owned().ok();
        if permit.is_none() {
            self.count_refusal(path);
        }
        permit
    }

    /// A permit on the request's lane, waiting (first come, first served) at most the
    /// configured time when it is full; `None` (counted as refused) when the wait runs out or
    /// too many are already waiting.
    pub async fn admit(&self, path: &str) -> Option<OwnedSemaphorePermit> {
        let lane = self.lane(path).clone();
        if let Ok(p) = lane.clone().try_acquire_owned() {
            return Some(p);
        }
        let permit = if self.waiting.fetch_add(1, Ordering::AcqRel) < self.max_waiters {
            tokio::time::timeout(self.max_wait, lane.acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
        } else {
            None
        };
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        if permit.is_none() {
            self.count_refusal(path);
        }
        permit
    }
}

/// Whether a path belongs on the priority lane.
pub fn is_priority(path: &str) -> bool {
    path == "/api/v1/scans"
        || path == "/api/v1/trust"
        || (path.starts_with("/api/v1/people/") && path.contains("/code"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_lane_refuses_at_once_while_the_other_lane_still_admits() {
        let shed = Shed::new(1, 1, Duration::ZERO, 0);
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
        let stats = shed.stats();
        assert_eq!(
            (stats.lanes[0].in_use, stats.lanes[0].refused),
            (1, 1),
            "priority"
        );
        assert_eq!((stats.lanes[1].in_use, stats.lanes[1].refused), (0, 0));
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
        ] {
            assert!(is_priority(p), "{p}");
        }
        for p in [
            "/api/v1/cases",
            "/api/v1/people",
            "/api/v1/events",
            "/",
            "/healthz",
        ] {
            assert!(!is_priority(p), "{p}");
        }
    }

    #[tokio::test]
    async fn a_waiting_request_gets_the_permit_released_within_its_wait() {
        let shed = Arc::new(Shed::new(1, 1, Duration::from_secs(30), 8));
        let held = shed.try_admit("/api/v1/scans").expect("admitted");
        let s = shed.clone();
        let waiter = tokio::spawn(async move { s.admit("/api/v1/scans").await.is_some() });
        // Release only once the waiter is queued, so the test does not race its start.
        while shed.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        drop(held);
        assert!(waiter.await.expect("joined"), "the waiter got the permit");
        assert_eq!(shed.refused.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn beyond_the_waiters_allowed_a_full_lane_refuses_at_once() {
        let shed = Shed::new(1, 1, Duration::from_secs(30), 0);
        let _held = shed.try_admit("/api/v1/scans").expect("admitted");
        assert!(shed.admit("/api/v1/scans").await.is_none());
        assert_eq!(shed.refused.load(Ordering::Relaxed), 1);
    }
}
