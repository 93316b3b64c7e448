//! Keyed rate limits: a generic cell rate algorithm (GCRA, the token bucket kept as one
//! "theoretical arrival time" per key) over sharded maps, so the edge can limit each token
//! and each client address with a mutex held for a few nanoseconds and bounded memory.
//!
//! Why not the `governor` crate: its keyed limiter brings `dashmap`, `quanta` and a clock
//! abstraction for what is, here, one subtraction and one comparison per request; the
//! bounded-memory policy (forget idle keys, then a whole shard) is ours either way.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const SHARDS: usize = 32;

/// A sustained rate with a burst allowance. `per_sec == 0` means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per second, sustained.
    pub per_sec: u32,
    /// Requests that may arrive at once after a quiet spell (at least 1).
    pub burst: u32,
}

impl Rate {
    /// No limit.
    pub const UNLIMITED: Rate = Rate {
        per_sec: 0,
        burst: 0,
    };

    /// `per_sec` sustained with bursts of `burst`.
    pub const fn new(per_sec: u32, burst: u32) -> Rate {
        Rate { per_sec, burst }
    }
}

/// A rate limit per key (a token digest, an address), holding at most `capacity` keys.
#[derive(Debug)]
pub struct RateLimiter<K> {
    /// Nanoseconds between two requests at the sustained rate; `None` when unlimited.
    interval: Option<u64>,
    /// How far ahead of now a key's arrival time may run: (burst − 1) intervals.
    tolerance: u64,
    shards: Vec<Mutex<HashMap<K, u64>>>,
    per_shard: usize,
    hasher: RandomState,
    epoch: Instant,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// A limiter applying `rate` to each key, remembering at most `capacity` keys.
    pub fn new(rate: Rate, capacity: usize) -> RateLimiter<K> {
        let interval = (rate.per_sec > 0).then(|| 1_000_000_000 / u64::from(rate.per_sec));
        RateLimiter {
            interval,
            tolerance: interval.unwrap_or(0) * u64::from(rate.burst.max(1) - 1),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (capacity / SHARDS).max(1),
            hasher: RandomState::new(),
            epoch: Instant::now(),
        }
    }

    /// Counts one request of `key` at `now`: `Ok` if it is within the rate, else how long
    /// the key must wait before its next request would be admitted.
    pub fn check(&self, key: K, now: Instant) -> Result<(), Duration> {
        let Some(interval) = self.interval else {
            return Ok(());
        };
        let t = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        let i = (self.hasher.hash_one(&key) as usize) % SHARDS;
        let mut shard = self.shards[i].lock().unwrap_or_else(|p| p.into_inner());
        let tat = shard.get(&key).copied().unwrap_or(t).max(t);
        if tat > t + self.tolerance {
            return Err(Duration::from_nanos(tat - self.tolerance - t));
        }
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            // A key whose arrival time has passed is indistinguishable from a new one.
            shard.retain(|_, k| *k > t);
            if shard.len() >= self.per_shard {
                // Still full: forget the shard (its keys get a fresh burst) rather than grow.
                shard.clear();
            }
        }
        shard.insert(key, tat + interval);
        Ok(())
    }

    /// Whether this limiter limits anything.
    pub fn is_limited(&self) -> bool {
        self.interval.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_is_refused_until_the_rate_allows_one_more() {
        let l = RateLimiter::new(Rate::new(10, 3), 1000);
        let t0 = Instant::now();
        for n in 0..3 {
            assert!(l.check("a", t0).is_ok(), "request {n} of the burst");
        }
        let wait = l.check("a", t0).expect_err("the fourth at once is refused");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(l.check("b", t0).is_ok(), "another key has its own budget");
        assert!(
            l.check("a", t0 + Duration::from_millis(100)).is_ok(),
            "one interval later one more is admitted"
        );
        assert!(l.check("a", t0 + Duration::from_millis(100)).is_err());
        assert!(
            l.check("a", t0 + Duration::from_secs(10)).is_ok(),
            "after a quiet spell the key is admitted again"
        );
    }

    #[test]
    fn the_sustained_rate_is_the_configured_one() {
        let l = RateLimiter::new(Rate::new(100, 1), 10);
        let t0 = Instant::now();
        let admitted = (0..10_000u64)
            .filter(|ms| l.check(1u8, t0 + Duration::from_micros(ms * 100)).is_ok())
            .count();
        // One second of requests every 100 µs at 100/s with no burst: 100 admitted.
        assert_eq!(admitted, 100);
    }

    #[test]
    fn unlimited_admits_everything_and_remembers_nothing() {
        let l = RateLimiter::new(Rate::UNLIMITED, 10);
        let t0 = Instant::now();
        assert!((0..1000).all(|_| l.check(7u32, t0).is_ok()));
        assert!(!l.is_limited());
    }

    #[test]
    fn memory_stays_bounded_under_many_keys() {
        let l = RateLimiter::new(Rate::new(1, 1), 64);
        let t0 = Instant::now();
        for k in 0..100_000u32 {
            let _ = l.check(k, t0);
        }
        let held: usize = l
            .shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum();
        assert!(held <= 64, "{held}");
    }
}
