//! The responders after the lab: tracers, the command centre, grid workers, code displays.

use super::*;

impl Driver<'_> {
    /// The tracers' day: up to their capacity of queued cases, each listed, its contacts
    /// confirmed (`hours_to_list` after the results), then notified and ordered into
    /// quarantine (`hours_to_notify` later). Returns (close, secondary, ordered).
    pub(super) async fn trace(&mut self, d: u32) -> Result<(u32, u32, u32)> {
        let take = (self.r.tracers.cases_per_day as usize).min(self.tracer_queue.len());
        let todo: Vec<usize> = self.tracer_queue.drain(..take).collect();
        if todo.is_empty() {
            return Ok((0, 0, 0));
        }
        let tr = self.r.tracers.clone();
        let listed = self
            .clock(d, self.r.labs.turnaround_hours + tr.hours_to_list)
            .await?;
        let tracer = self.t.tracer.clone();
        let (mut close, mut secondary) = (0, 0);
        let mut confirmed: Vec<(usize, String, bool)> = Vec::new();
        for &i in &todo {
            let case = self.timers[i].case.clone();
            let items = self.contact_list(&tracer, &case).await?;
            let kinds: BTreeMap<String, bool> = items
                .iter()
                .filter_map(|c| {
                    Some((
                        c["person"].as_str()?.to_owned(),
                        c["kind"].as_str() == Some("secondary"),
                    ))
                })
                .collect();
            let picked = select_contacts(
                &items,
                tr.venue_contacts_per_case as usize,
                tr.secondary_per_case as usize,
            );
            for p in picked {
                let (s, _) = self
                    .api
                    .post(
                        &tracer,
                        &format!("/api/v1/cases/{case}/contacts/{p}"),
                        json!({"action": "confirm"}),
                    )
                    .await?;
                if s != 200 {
                    continue; // already designated through another case, or gone
                }
                let sec = kinds.get(&p).copied().unwrap_or(false);
                if sec {
                    secondary += 1;
                    self.timers[i].secondary += 1;
                } else {
                    close += 1;
                    self.timers[i].close += 1;
                }
                confirmed.push((i, p, sec));
            }
            self.timers[i].listed = Some(listed.to_rfc3339());
        }
        let notified = self
            .clock(
                d,
                self.r.labs.turnaround_hours + tr.hours_to_list + tr.hours_to_notify,
            )
            .await?;
        let mut ordered = 0;
        for (i, p, sec) in confirmed {
            let case = self.timers[i].case.clone();
            let path = format!("/api/v1/cases/{case}/contacts/{p}");
            let (s, _) = self
                .api
                .post(&tracer, &path, json!({"action": "notify"}))
                .await?;
            if s != 200 {
                continue;
            }
            let mut done = false;
            let mut order = None;
            if sec {
                let (s, v) = self
                    .api
                    .post(&tracer, &path, json!({"action": "quarantine"}))
                    .await?;
                done = s == 200;
                order = v["order"].as_str().map(str::to_owned);
            } else {
                let mut full = false;
                for site in self.sites.clone() {
                    let (s, v) = self
                        .api
                        .post(
                            &tracer,
                            &path,
                            json!({"action": "quarantine", "site": site}),
                        )
                        .await?;
                    done = s == 200;
                    order = v["order"].as_str().map(str::to_owned);
                    full = v["error"]["code"].as_str() == Some("site_full");
                    if !full {
                        break; // ordered, or refused for another reason than beds
                    }
                }
                if full {
                    self.bed_refusals += 1;
                }
            }
            if let Some(order) = order.filter(|_| done) {
                self.note_test_days(&order).await?;
            }
            if done {
                let person: u32 = p.trim_start_matches('P').parse().unwrap_or(u32::MAX);
                self.epi.isolate(PersonId(person), d + 1);
                self.tracked.insert(person);
                self.quarantined.insert(person);
                ordered += 1;
                let t = &mut self.timers[i];
                t.quarantined = Some(notified.to_rfc3339());
                let sampled = Timestamp::parse_rfc3339(&t.sampled)?;
                t.hours_to_quarantine = Some((notified.0 - sampled.0) as f64 / HOUR as f64);
            }
        }
        Ok((close, secondary, ordered))
    }

    /// A case's whole contact list, read a page (`tracers.page_size` rows) at a time, as a
    /// tracer's client pages through a list longer than the server's largest page.
    pub(super) async fn contact_list(&mut self, tracer: &str, case: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let page_size = self.r.tracers.page_size;
        loop {
            let path = format!(
                "/api/v1/cases/{case}/contacts?limit={page_size}&offset={}",
                items.len()
            );
            let mut page = None;
            // The tracing index answers 503 while it loads.
            for _ in 0..600 {
                let (s, v) = self.api.get(tracer, &path).await?;
                if s == 503 {
                    self.api.requests -= 1; // a retry is not load the city generated
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
                if s != 200 {
                    bail!("GET {path}: {s} {v}");
                }
                page = Some(v);
                break;
            }
            let Some(page) = page else {
                bail!("the tracing index did not load");
            };
            let count = page["count"].as_u64().unwrap_or(0) as usize;
            let got = page["items"].as_array().cloned().unwrap_or_default();
            let empty = got.is_empty();
            items.extend(got);
            if empty || items.len() >= count {
                return Ok(items);
            }
        }
    }

    /// The command centre's evening (18:00): seal cells with enough recent cases (a
    /// proposal by one official, approved by a second), order a round for tomorrow.
    pub(super) async fn command(&mut self, d: u32, reported_today: u32) -> Result<()> {
        self.clock(d, 10).await?;
        let c = self.r.command.clone();
        let from = d.saturating_sub(c.seal_window_days - 1);
        let mut per_cell: BTreeMap<u32, u32> = BTreeMap::new();
        for &(day, cell) in &self.reported {
            if day >= from {
                *per_cell.entry(cell).or_default() += 1;
            }
        }
        let to_seal: Vec<u32> = per_cell
            .into_iter()
            .filter(|(cell, n)| *n >= c.seal_after_cases && !self.sealed.contains(cell))
            .map(|(cell, _)| cell)
            .collect();
        let (command, approver) = (self.t.command.clone(), self.t.approver.clone());
        // Today's cases: screened (初筛) by one official, re-checked (复核) by another.
        let today = self.at(d, 0).to_rfc3339();
        for t in self.timers.clone() {
            if t.reported < today {
                continue;
            }
            let verdict = if t.onset_day.is_some() {
                "confirmed"
            } else {
                "asymptomatic"
            };
            for (token, step) in [(&command, "screen"), (&approver, "recheck")] {
                let path = format!("/api/v1/cases/{}/{step}", t.case);
                let (s, v) = self
                    .api
                    .post(token, &path, json!({"verdict": verdict}))
                    .await?;
                if s != 200 {
                    bail!("POST {path}: {s} {v}");
                }
            }
        }
        for cell in to_seal {
            self.sealed.insert(cell);
            let (s, v) = self
                .api
                .post(
                    &command,
                    "/api/v1/zones",
                    json!({"name": format!("演练封控区 {cell}"), "level": c.seal_level, "cells": [cell]}),
                )
                .await?;
            if s == 202
                && let Some(p) = v["proposal"].as_str()
            {
                let path = format!("/api/v1/zones/proposals/{p}/approve");
                let (s, v) = self.api.post(&approver, &path, json!({})).await?;
                if s != 200 {
                    bail!("approving the seal of cell {cell}: {s} {v}");
                }
                self.seal_in_engine(cell);
                let op = self.t.operator.clone();
                let name = xikang_sim::worker_of(xikang_domain::GridCell(cell));
                let token = self
                    .api
                    .mint(&op, &name, "grid_worker", "320200", None)
                    .await?;
                self.grid_tokens.insert(cell, token);
            }
        }
        self.review_zones(d).await?;
        let due = self.last_round.is_none_or(|l| d >= l + c.round_every_days);
        if reported_today >= c.round_after_cases && due && c.round_coverage > 0.0 {
            self.rounds += 1;
            self.last_round = Some(d + 1);
            self.round_on = Some(d + 1);
            self.epi.screen(d + 1, c.round_coverage);
            let v = self
                .api
                .must(
                    &command,
                    "/api/v1/rounds",
                    json!({"name": format!("演练第{}轮全员核酸", self.rounds), "area": "320200",
                           "starts_at": self.at(d + 1, 0).plus(-HOUR).to_rfc3339(),
                           "deadline": self.at(d + 1, 12).to_rfc3339()}),
                    201,
                )
                .await?;
            let pool = |k: &str| v["pool_sizes"][k].as_u64().unwrap_or(1).clamp(1, 20) as u8;
            self.round_id = v["id"].as_str().unwrap_or_default().to_owned();
            self.round_pools = (pool("sealed"), pool("controlled"), pool("other"));
        }
        Ok(())
    }

    /// Grid workers of sealed cells complete up to their day's capacity of tasks.
    pub(super) async fn grid_work(&mut self, d: u32) -> Result<()> {
        self.clock(d, 11).await?;
        let cap = self.r.grid.tasks_per_worker_per_day.min(500);
        if cap == 0 {
            return Ok(());
        }
        for (_, token) in self.grid_tokens.clone() {
            let (s, v) = self
                .api
                .get(&token, &format!("/api/v1/grid/tasks?limit={cap}"))
                .await?;
            if s != 200 {
                continue;
            }
            for t in v["tasks"].as_array().into_iter().flatten() {
                if let Some(id) = t["id"].as_str() {
                    self.api
                        .post(
                            &token,
                            &format!("/api/v1/grid/tasks/{id}/complete"),
                            json!({"note": "演练: 已上门"}),
                        )
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The whole city's residents by colour (`GET /api/v1/colours`, as the dashboard counts
    /// them): (red, yellow, green).
    pub(super) async fn city_colours(&mut self) -> Result<(u64, u64, u64)> {
        let command = self.t.command.clone();
        let (s, v) = self.api.get(&command, "/api/v1/colours").await?;
        if s != 200 {
            bail!("GET /api/v1/colours: {s} {v}");
        }
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        Ok((n("red"), n("yellow"), n("green")))
    }

    /// At 20:00 the codes of everyone the drill concerned (cases, ordered contacts) are
    /// displayed: how many are red, yellow, green.
    pub(super) async fn colours(&mut self, d: u32) -> Result<(u32, u32, u32)> {
        self.clock(d, 12).await?;
        let display = self.t.display.clone();
        let (mut red, mut yellow, mut green) = (0, 0, 0);
        for p in self.tracked.clone() {
            match self.api.colour(&display, p).await?.as_str() {
                "red" => red += 1,
                "yellow" => yellow += 1,
                "green" => green += 1,
                _ => red += 1, // unknown is the strictest
            }
        }
        Ok((red, yellow, green))
    }

    /// Beds taken in the centralized sites.
    pub(super) async fn beds_used(&mut self) -> Result<u32> {
        let op = self.t.operator.clone();
        let (s, v) = self.api.get(&op, "/api/v1/quarantine/sites").await?;
        if s != 200 {
            bail!("GET /api/v1/quarantine/sites: {s} {v}");
        }
        Ok(v["sites"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["occupancy"].as_u64())
            .sum::<u64>() as u32)
    }
}
