//! Routine-screening test results over the simulated period: each day a small share of
//! residents is swabbed (mostly in 10-in-1 pooled tubes, the rest single-tube) and every
//! result is negative. These are authority events, written to the log like a lab's upload.

use crate::city::{City, CityConfig};
use crate::rng::{Purpose, Rng};
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::{PersonId, TestOutcome};

/// Share of residents sampled per simulated day (key occupations and volunteers): small, so
/// that the authority log stays a log and not a second check-in table.
pub const ROUTINE_SCREENING_DAILY_SHARE: f64 = 0.003;
/// Share of sampled people whose swab goes into a pooled tube.
const POOLED_SHARE: f64 = 0.7;
/// People per pooled tube (10混1).
const POOL: usize = 10;
/// The basis every routine-screening result carries.
pub const ROUTINE_SCREENING_BASIS: &str = "routine screening";
/// Laboratories that post results (actor `lab:<name>`).
const LABS: [&str; 5] = ["wuxi-cdc", "kingmed", "dian", "bgi", "adicon"];

const HOUR: i64 = 3_600;

impl City {
    /// Routine-screening results over the simulated days, in time order: negative, pool size 1
    /// or 10, sampled between 07:00 and 12:00 and resulted 4–10 hours later on the same day.
    /// Deterministic for `(people, seed, first_day, days)`; each day's results depend only on
    /// that day.
    pub fn test_results(&self, cfg: &CityConfig) -> Vec<NewEvent> {
        let n = self.people.len();
        let mut events = Vec::new();
        if n == 0 {
            return events;
        }
        let per_day = ((n as f64 * ROUTINE_SCREENING_DAILY_SHARE).ceil() as usize).max(1);
        for day in 0..cfg.days {
            let mut rng = Rng::new(cfg.seed, Purpose::Screening, u64::from(day));
            let start = cfg.day(day).start();
            let compact = cfg.day(day).compact();
            // Sorted ids put neighbours (same cell, same household) into the same tube.
            let mut sampled: Vec<u32> = (0..per_day).map(|_| rng.below(n as u32)).collect();
            sampled.sort_unstable();
            sampled.dedup();
            let mut tube_seq = 0u32;
            let mut rest = &sampled[..];
            while !rest.is_empty() {
                let size = if rest.len() >= POOL && rng.chance(POOLED_SHARE) {
                    POOL
                } else {
                    1
                };
                let (tube_people, tail) = rest.split_at(size);
                rest = tail;
                tube_seq += 1;
                let tube = format!("T{compact}{tube_seq:06}");
                let sampled_at = start.plus(7 * HOUR + i64::from(rng.below(5 * 3_600)));
                let resulted_at = sampled_at.plus(4 * HOUR + i64::from(rng.below(6 * 3_600)));
                let lab = LABS[rng.below(LABS.len() as u32) as usize];
                for (i, &person) in tube_people.iter().enumerate() {
                    events.push(NewEvent {
                        at: resulted_at,
                        actor: format!("lab:{lab}"),
                        basis: ROUTINE_SCREENING_BASIS.to_owned(),
                        body: EventBody::TestResulted {
                            person: PersonId(person),
                            // Swabbed one after another at the sampling point.
                            sampled_at: sampled_at.plus(i as i64 * 40),
                            resulted_at,
                            outcome: TestOutcome::Negative,
                            pool_size: size as u8,
                            tube: tube.clone(),
                        },
                    });
                }
            }
        }
        events.sort_by_key(|e| (e.at, e.body.person()));
        events
    }
}
