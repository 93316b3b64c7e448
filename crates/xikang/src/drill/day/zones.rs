//! The command centre's zones after sealing: the server proposes lifting or stepping down a
//! zone when the policy's conditions hold (its sweep, after each move of the clock); a
//! second official approves through the API, as people would; the engine follows the
//! zones' levels (a sealed or high-risk zone's residents stay at home, its venues closed);
//! and a zone whose only missing condition is its negative round has its residents swabbed.

use super::*;

/// Levels whose residents stay at home (足不出户).
fn keeps_home(level: &str) -> bool {
    matches!(level, "sealed" | "high")
}

impl Driver<'_> {
    /// Seals a cell in the engine: its residents stay at home, its venues close.
    pub(super) fn seal_in_engine(&mut self, cell: u32) {
        for venue in venues_in(self.city, cell) {
            self.epi.close_venue(venue);
        }
        let residents: Vec<u32> = self.residents_of(cell).collect();
        for p in residents {
            self.epi.stay_home(PersonId(p));
        }
    }

    /// The zone review (18:00, after sealing): open proposals approved by the second
    /// official, the engine brought to the zones' levels, and swabs for zones that wait only
    /// for their negative round.
    pub(super) async fn review_zones(&mut self, d: u32) -> Result<()> {
        let approver = self.t.approver.clone();
        let (s, v) = self.api.get(&approver, "/api/v1/zones/proposals").await?;
        if s != 200 {
            bail!("GET /api/v1/zones/proposals: {s} {v}");
        }
        for p in v["proposals"].as_array().into_iter().flatten() {
            if p["status"].as_str() != Some("open") {
                continue;
            }
            if let Some(id) = p["id"].as_str() {
                // 409 when the conditions stopped holding since: nothing changes.
                self.api
                    .post(
                        &approver,
                        &format!("/api/v1/zones/proposals/{id}/approve"),
                        json!({}),
                    )
                    .await?;
            }
        }
        let (s, v) = self.api.get(&approver, "/api/v1/zones").await?;
        if s != 200 {
            bail!("GET /api/v1/zones: {s} {v}");
        }
        let mut active: BTreeMap<String, (Vec<u32>, String)> = BTreeMap::new();
        for z in v["zones"].as_array().into_iter().flatten() {
            let (Some(id), Some(level)) = (z["id"].as_str(), z["level"].as_str()) else {
                continue;
            };
            if !z["lifted_at"].is_null() {
                continue;
            }
            let cells: Vec<u32> = z["cells"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_u64().map(|c| c as u32))
                .collect();
            active.insert(id.to_owned(), (cells, level.to_owned()));
        }
        // Lifted: out again, venues open, the cell may be sealed again.
        let before = std::mem::take(&mut self.zones);
        for (id, (cells, _)) in &before {
            if active.contains_key(id) {
                continue;
            }
            self.lifted += 1;
            for &cell in cells {
                self.sealed.remove(&cell);
                self.grid_tokens.remove(&cell);
                for venue in venues_in(self.city, cell) {
                    self.epi.open_venue(venue);
                }
                let residents: Vec<u32> = self.residents_of(cell).collect();
                for p in residents {
                    self.epi.go_out(PersonId(p));
                }
            }
        }
        // Stepped down (or up): residents at home only at a level that keeps them there.
        for (id, (cells, level)) in &active {
            let home = keeps_home(level);
            if !home && before.get(id).is_some_and(|(_, was)| keeps_home(was)) {
                self.stepped_down += 1;
            }
            for &cell in cells {
                let residents: Vec<u32> = self.residents_of(cell).collect();
                for p in residents {
                    if home {
                        self.epi.stay_home(PersonId(p));
                    } else {
                        self.epi.go_out(PersonId(p));
                    }
                }
            }
            let (s, c) = self
                .api
                .get(&approver, &format!("/api/v1/zones/{id}/conditions"))
                .await?;
            if s != 200 {
                continue;
            }
            let failing: Vec<&str> = c["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|x| x["holds"].as_bool() == Some(false))
                .filter_map(|x| x["name"].as_str())
                .collect();
            if failing == ["negative_round"] {
                self.swab_zone(d, cells);
            }
        }
        self.zones = active;
        Ok(())
    }

    /// Every resident of `cells` swabbed at 18:00 (single tubes): negatives for the
    /// evening's lab, a positive tube for whoever could test positive and is not known yet.
    fn swab_zone(&mut self, d: u32, cells: &[u32]) {
        let sampled = self.at(d, 10);
        let mut residents: Vec<u32> = cells.iter().flat_map(|&c| self.residents_of(c)).collect();
        residents.sort_unstable();
        for p in residents {
            if !self.epi.could_test_positive(PersonId(p), d) {
                self.zone_swabs.push(Tube::Negative { person: p, sampled });
            } else if !self.tracked.contains(&p) {
                let onset = self
                    .epi
                    .cases()
                    .find(|c| c.person.0 == p)
                    .and_then(|c| c.onset);
                self.lab.push_back(Tube::Positive {
                    person: p,
                    sampled_day: d,
                    onset,
                });
            }
        }
    }
}
