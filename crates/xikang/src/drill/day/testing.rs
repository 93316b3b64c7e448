//! The lab's negative results, posted through `POST /test-results` within its capacity: the
//! test days of the orders the tracers issued, a round's pooled tubes, a sealed zone's
//! residents. Whom the engine says could test positive is never given a negative: their
//! positives come through the engine's detection process (or not at all, like a missed swab).

use super::*;
use xikang_domain::CivilDay;

/// Results per `POST /test-results` (the server takes at most 10,000).
const RESULTS_PER_POST: usize = 5_000;

/// Whether resident `person` is sampled by round `round` covering `coverage` of the residents:
/// a hash of (seed, round, person), so the same residents every run of the seed.
fn sampled_by_round(seed: u64, round: u32, person: u32, coverage: f64) -> bool {
    let mut z = seed ^ (u64::from(round) << 32 | u64::from(person));
    // splitmix64's finaliser.
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64 <= coverage
}

impl Driver<'_> {
    /// The pooled tubes of the round held on day `d`: `round_coverage` of the residents,
    /// `round_pool` to a tube, leaving out whoever is isolated or could test positive (the
    /// engine's screening finds those).
    pub(super) fn round_tubes(&self, d: u32) -> Vec<Tube> {
        let c = &self.r.command;
        let sampled = self.at(d, 0).plus(-HOUR / 2);
        let members: Vec<u32> = (0..self.city.people.len() as u32)
            .filter(|&p| sampled_by_round(self.epi.seed(), self.rounds, p, c.round_coverage))
            .filter(|p| !self.tracked.contains(p) && !self.epi.could_test_positive(PersonId(*p), d))
            .collect();
        members
            .chunks(self.r.labs.round_pool as usize)
            .enumerate()
            .map(|(i, m)| Tube::Pooled {
                round: self.rounds,
                tube: i as u32,
                members: m.to_vec(),
                sampled,
            })
            .collect()
    }

    /// Posts the negative results among the tubes the lab ran (resulted at `now`).
    pub(super) async fn post_negatives(
        &mut self,
        d: u32,
        ran: &[Tube],
        now: Timestamp,
    ) -> Result<()> {
        let mut lines = Vec::new();
        for (i, t) in ran.iter().enumerate() {
            match t {
                Tube::Negative { person, sampled } => lines.push(json!({
                    "person": format!("P{person}"), "sampled_at": sampled.to_rfc3339(),
                    "resulted_at": now.to_rfc3339(), "outcome": "negative", "pool_size": 1,
                    "tube": format!("DRILLN{d:03}{i:07}")})),
                Tube::Pooled {
                    round,
                    tube,
                    members,
                    sampled,
                } => {
                    for p in members {
                        lines.push(json!({
                            "person": format!("P{p}"), "sampled_at": sampled.to_rfc3339(),
                            "resulted_at": now.to_rfc3339(), "outcome": "negative",
                            "pool_size": members.len(), "tube": format!("DRILLR{round:03}{tube:07}")}));
                    }
                }
                Tube::Positive { .. } => {}
            }
        }
        self.negatives_today += lines.len() as u64;
        let lab = self.t.lab.clone();
        for chunk in lines.chunks(RESULTS_PER_POST) {
            self.api
                .must(&lab, "/api/v1/test-results", json!({"results": chunk}), 200)
                .await?;
        }
        Ok(())
    }

    /// Notes the test days of an order the tracers issued (`GET /quarantine/orders/{id}`).
    pub(super) async fn note_test_days(&mut self, order: &str) -> Result<()> {
        let tracer = self.t.tracer.clone();
        let (s, v) = self
            .api
            .get(&tracer, &format!("/api/v1/quarantine/orders/{order}"))
            .await?;
        if s != 200 {
            bail!("GET /api/v1/quarantine/orders/{order}: {s} {v}");
        }
        let person: u32 = v["person"]
            .as_str()
            .and_then(|p| p.trim_start_matches('P').parse().ok())
            .unwrap_or(u32::MAX);
        let first = self.start.shanghai_day().0;
        for t in v["tests"].as_array().into_iter().flatten() {
            let Some(date) = t["date"].as_str() else {
                continue;
            };
            let iso = format!(
                "{}-{}-{}",
                &date[..4.min(date.len())],
                date.get(4..6).unwrap_or(""),
                date.get(6..8).unwrap_or("")
            );
            if let Ok(day) = CivilDay::parse(&iso)
                && day.0 >= first
            {
                self.due
                    .entry((day.0 - first) as u32)
                    .or_default()
                    .insert(person);
            }
        }
        Ok(())
    }

    /// The lab's evening (19:00): today's order tests (swabbed at 17:00) and the sealed
    /// zones' residents the command centre had swabbed at 18:00, within what the lab has
    /// left today; the rest wait for tomorrow's lab. Returns the tubes asked for.
    pub(super) async fn evening_tests(&mut self, d: u32) -> Result<u64> {
        let now = self.clock(d, 11).await?;
        let swabbed = self.at(d, 9);
        let mut tubes: Vec<Tube> = Vec::new();
        for p in self.due.remove(&d).unwrap_or_default() {
            if !self.epi.could_test_positive(PersonId(p), d) {
                tubes.push(Tube::Negative {
                    person: p,
                    sampled: swabbed,
                });
            }
        }
        tubes.append(&mut self.zone_swabs);
        let asked = tubes.len() as u64;
        let take = (self.lab_left as usize).min(tubes.len());
        let later = tubes.split_off(take);
        self.lab_left -= take as u64;
        self.post_negatives(d, &tubes, now).await?;
        self.lab.extend(later);
        Ok(asked)
    }
}

#[cfg(test)]
mod tests {
    use super::sampled_by_round;

    #[test]
    fn a_round_samples_about_its_coverage_and_the_same_people_for_a_seed() {
        let n = (0..100_000)
            .filter(|&p| sampled_by_round(7, 1, p, 0.8))
            .count();
        assert!((79_000..81_000).contains(&n), "{n}");
        let a: Vec<u32> = (0..1_000)
            .filter(|&p| sampled_by_round(7, 1, p, 0.5))
            .collect();
        let b: Vec<u32> = (0..1_000)
            .filter(|&p| sampled_by_round(7, 1, p, 0.5))
            .collect();
        let c: Vec<u32> = (0..1_000)
            .filter(|&p| sampled_by_round(7, 2, p, 0.5))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
