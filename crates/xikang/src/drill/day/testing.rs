//! Sampling and the lab's negative results within its capacity: a round's residents swabbed
//! into tubes at sampling sites, shipped and received (`/tubes`, `/samples`, `/batches`) and
//! resulted by barcode (`POST /lab-results`); the test days of the orders the tracers
//! issued and a sealed zone's residents as single tubes through `POST /test-results`. Whom
//! the engine says could test positive is never given a negative: their positives come
//! through the engine's detection process (or not at all, like a missed swab).

use super::*;
use xikang_domain::CivilDay;

/// Results per `POST /test-results` or `POST /lab-results` (the server takes at most 10,000).
const RESULTS_PER_POST: usize = 5_000;

/// Items per request of a round's tubes, samples and batches (the server's largest list).
const ITEMS_PER_POST: usize = 10_000;

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
    /// The round held on day `d`, driven as its sampling sites and lab would: the residents
    /// it reaches (`round_coverage` of them, leaving out whoever is isolated or could test
    /// positive: the engine's screening finds those) are swabbed at their grid cell's
    /// sampling site into tubes of `round_pool` (fewer where the cell's zone allows fewer:
    /// single tubes in a sealed or high-risk zone), identified by ID number
    /// (`POST /tubes`, `POST /samples`, `POST /tubes/seal`), and the tubes are handed to the
    /// courier and received by the lab (`POST /batches`, `POST /batches/{id}/receive`).
    /// The tubes join the lab's queue: their results come within its capacity, today or
    /// later. Whoever is swabbed is sampled in the round and not logged as missed at its
    /// deadline, however long the lab takes.
    pub(super) async fn sample_round(&mut self, d: u32) -> Result<Vec<Tube>> {
        let c = &self.r.command;
        let members: Vec<u32> = (0..self.city.people.len() as u32)
            .filter(|&p| sampled_by_round(self.epi.seed(), self.rounds, p, c.round_coverage))
            .filter(|p| !self.tracked.contains(p) && !self.epi.could_test_positive(PersonId(*p), d))
            .collect();
        let mut by_cell: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for p in members {
            by_cell
                .entry(self.city.people[p as usize].home_cell.0)
                .or_default()
                .push(p);
        }
        // The strictest zone over each cell decides the largest tube there.
        let mut level: BTreeMap<u32, u8> = BTreeMap::new();
        for (cells, l) in self.zones.values() {
            let (sealed, controlled, other) = self.round_pools;
            let limit = match l.as_str() {
                "sealed" | "high" => sealed,
                "controlled" | "medium" => controlled,
                _ => other,
            };
            for &cell in cells {
                let e = level.entry(cell).or_insert(limit);
                *e = (*e).min(limit);
            }
        }
        let command = self.t.command.clone();
        let sampler = self.t.sampler.clone();
        let round = self.round_id.clone();
        let mut tubes: Vec<(String, String, u8, Vec<u32>)> = Vec::new();
        for (&cell, people) in &by_cell {
            let site = match self.sampling_sites.get(&cell) {
                Some(s) => s.clone(),
                None => {
                    let v = self
                        .api
                        .must(
                            &command,
                            "/api/v1/sampling-sites",
                            json!({"name": format!("演练采样点 {cell}"), "area": "320200", "cell": cell}),
                            201,
                        )
                        .await?;
                    let id = v["id"].as_str().unwrap_or_default().to_owned();
                    self.sampling_sites.insert(cell, id.clone());
                    id
                }
            };
            let size = level
                .get(&cell)
                .copied()
                .unwrap_or(self.round_pools.2)
                .min(self.r.labs.round_pool.clamp(1, 20) as u8)
                .max(1);
            for chunk in people.chunks(size as usize) {
                let barcode = format!("DRILLR{:03}-{:07}", self.rounds, tubes.len());
                tubes.push((barcode, site.clone(), size, chunk.to_vec()));
            }
        }
        let opened: Vec<Value> = tubes
            .iter()
            .map(|(b, site, size, _)| {
                json!({"barcode": b, "site": site, "round": round, "capacity": size})
            })
            .collect();
        self.api
            .post_all(&sampler, "/api/v1/tubes", "tubes", &opened, ITEMS_PER_POST)
            .await?;
        let city = self.city;
        let samples: Vec<Value> = tubes
            .iter()
            .flat_map(|(b, _, _, m)| {
                m.iter().map(move |p| {
                    json!({"tube": b,
                        "id_number": city.people[*p as usize].id_number.expose()})
                })
            })
            .collect();
        self.api
            .post_all(
                &sampler,
                "/api/v1/samples",
                "samples",
                &samples,
                ITEMS_PER_POST,
            )
            .await?;
        // A tube seals itself when full; the last one of each site is sealed by hand.
        let partial: Vec<&str> = tubes
            .iter()
            .filter(|(_, _, size, m)| m.len() < *size as usize)
            .map(|(b, ..)| b.as_str())
            .collect();
        self.api
            .post_all(
                &sampler,
                "/api/v1/tubes/seal",
                "tubes",
                &partial,
                ITEMS_PER_POST,
            )
            .await?;
        let barcodes: Vec<&str> = tubes.iter().map(|(b, ..)| b.as_str()).collect();
        let lab = self.t.lab.clone();
        for chunk in barcodes.chunks(ITEMS_PER_POST) {
            let v = self
                .api
                .must_accept(
                    &sampler,
                    "/api/v1/batches",
                    json!({"courier": "演练转运", "lab": "演练实验室", "tubes": chunk}),
                    201,
                    chunk.len(),
                )
                .await?;
            let batch = v["batch"].as_str().unwrap_or_default().to_owned();
            self.api
                .must_accept(
                    &lab,
                    &format!("/api/v1/batches/{batch}/receive"),
                    json!({}),
                    200,
                    chunk.len(),
                )
                .await?;
        }
        self.round_rows.push(RoundRow {
            round: round.clone(),
            day: d,
            sampled: samples.len() as u64,
            tubes: tubes.len() as u64,
            sites: by_cell.len() as u32,
        });
        Ok(tubes
            .into_iter()
            .map(|(barcode, _, _, members)| Tube::Pooled { barcode, members })
            .collect())
    }

    /// Posts the negative results among the tubes the lab ran (resulted at `now`): single
    /// tubes through `POST /test-results`, a round's tubes by barcode through
    /// `POST /lab-results` (one `tube_negative` event for all of a tube's members).
    pub(super) async fn post_negatives(
        &mut self,
        d: u32,
        ran: &[Tube],
        now: Timestamp,
    ) -> Result<()> {
        let mut lines = Vec::new();
        let mut tubes = Vec::new();
        let mut members = 0u64;
        for (i, t) in ran.iter().enumerate() {
            match t {
                Tube::Negative { person, sampled } => lines.push(json!({
                    "person": format!("P{person}"), "sampled_at": sampled.to_rfc3339(),
                    "resulted_at": now.to_rfc3339(), "outcome": "negative", "pool_size": 1,
                    "tube": format!("DRILLN{d:03}{i:07}")})),
                Tube::Pooled {
                    barcode,
                    members: m,
                } => {
                    members += m.len() as u64;
                    tubes.push(json!({"barcode": barcode, "outcome": "negative",
                        "resulted_at": now.to_rfc3339()}));
                }
                Tube::Positive { .. } => {}
            }
        }
        self.negatives_today += lines.len() as u64 + members;
        let lab = self.t.lab.clone();
        for chunk in lines.chunks(RESULTS_PER_POST) {
            self.api
                .must(&lab, "/api/v1/test-results", json!({"results": chunk}), 200)
                .await?;
        }
        self.api
            .post_all(
                &lab,
                "/api/v1/lab-results",
                "results",
                &tubes,
                RESULTS_PER_POST,
            )
            .await?;
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
