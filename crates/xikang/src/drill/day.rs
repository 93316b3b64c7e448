//! One drill day, as the responders live it: the lab posts the positives it got through,
//! tracers take the cases their capacity allows (list, confirm, notify, order), the command
//! centre seals cells and orders rounds, grid workers work their tasks, and the codes of
//! everyone concerned are displayed. Everything goes through the HTTP API with the tokens of
//! [`Tokens`]; what the server decided (orders, cases) goes back into the epidemic engine
//! (`isolate`, `close_venue`, `screen`).

use super::api::Api;
use super::config::Responders;
use super::report::{CaseTimer, DayRow, RoundRow};
use anyhow::{Result, bail};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use xikang_domain::time::{DAY, HOUR};
use xikang_domain::{PersonId, Timestamp, VenueId};
use xikang_sim::City;
use xikang_sim::epidemic::Epidemic;

/// The responders' tokens, all minted through the API by the operator's admin token.
pub struct Tokens {
    pub operator: String,
    pub command: String,
    pub approver: String,
    pub tracer: String,
    pub lab: String,
    /// The sampling sites' staff (a lab token allowed to identify people by ID number).
    pub sampler: String,
    pub display: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(secrets not shown)")
    }
}

impl std::fmt::Debug for Driver<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("cases", &self.timers.len())
            .field("days", &self.days.len())
            .finish()
    }
}

/// What waits for the lab: one tube each.
#[derive(Debug, Clone)]
enum Tube {
    /// A sample the engine found positive (its detection process).
    Positive {
        person: u32,
        sampled_day: u32,
        onset: Option<u32>,
    },
    /// A single tube of someone the engine says cannot test positive: a person under an
    /// order on a test day, a sealed zone's resident.
    Negative { person: u32, sampled: Timestamp },
    /// A round's tube (up to `labs.round_pool` people, none of whom can test positive),
    /// swabbed at a sampling site, shipped and received by the lab: its result goes to
    /// `POST /lab-results` by barcode.
    Pooled { barcode: String, members: Vec<u32> },
}

/// The drill's state between days.
pub struct Driver<'a> {
    pub api: Api,
    pub r: &'a Responders,
    pub city: &'a City,
    pub epi: Epidemic<'a>,
    /// Day 0's start of work (the drill's start).
    pub start: Timestamp,
    pub t: Tokens,
    pub sites: Vec<String>,
    lab: VecDeque<Tube>,
    tracer_queue: VecDeque<usize>,
    pub timers: Vec<CaseTimer>,
    /// Reported cases by day and home cell (for the sealing rule).
    reported: Vec<(u32, u32)>,
    tracked: BTreeSet<u32>,
    sealed: BTreeSet<u32>,
    grid_tokens: BTreeMap<u32, String>,
    last_round: Option<u32>,
    round_on: Option<u32>,
    /// The server's id of the round ordered for `round_on`, and its pool sizes (sealed,
    /// controlled, other) from `POST /rounds`.
    round_id: String,
    round_pools: (u8, u8, u8),
    /// Sampling sites by grid cell, registered as a round first needs them.
    sampling_sites: BTreeMap<u32, String>,
    /// The rounds held: what the sampling sites did.
    pub round_rows: Vec<RoundRow>,
    rounds: u32,
    pub quarantined: BTreeSet<u32>,
    pub days: Vec<DayRow>,
    pub bed_refusals: u64,
    /// The test days of the orders the tracers issued: drill day → people due.
    due: BTreeMap<u32, BTreeSet<u32>>,
    /// Residents by home cell: (cell, person), sorted.
    by_cell: Vec<(u32, u32)>,
    /// The zones the command centre drew and has not seen lifted: zone id → (cells, level).
    zones: BTreeMap<String, (Vec<u32>, String)>,
    /// Tubes the lab may still run today (after the morning's).
    lab_left: u64,
    /// Sealed zones' residents swabbed this evening, for the evening's lab.
    zone_swabs: Vec<Tube>,
    /// Negative results posted today, and zones lifted so far.
    negatives_today: u64,
    lifted: u32,
    stepped_down: u32,
    /// Infections counted in the rows so far (the seeds of day 0 included).
    infections_counted: u32,
}

impl<'a> Driver<'a> {
    pub fn new(
        api: Api,
        r: &'a Responders,
        city: &'a City,
        epi: Epidemic<'a>,
        start: Timestamp,
        t: Tokens,
        sites: Vec<String>,
    ) -> Driver<'a> {
        Driver {
            api,
            r,
            city,
            epi,
            start,
            t,
            sites,
            lab: VecDeque::new(),
            tracer_queue: VecDeque::new(),
            timers: Vec::new(),
            reported: Vec::new(),
            tracked: BTreeSet::new(),
            sealed: BTreeSet::new(),
            grid_tokens: BTreeMap::new(),
            last_round: None,
            round_on: None,
            round_id: String::new(),
            round_pools: (1, 1, 1),
            sampling_sites: BTreeMap::new(),
            round_rows: Vec::new(),
            rounds: 0,
            quarantined: BTreeSet::new(),
            days: Vec::new(),
            bed_refusals: 0,
            due: BTreeMap::new(),
            by_cell: {
                let mut v: Vec<(u32, u32)> = city
                    .people
                    .iter()
                    .map(|p| (p.home_cell.0, p.id.0))
                    .collect();
                v.sort_unstable();
                v
            },
            zones: BTreeMap::new(),
            lab_left: 0,
            zone_swabs: Vec::new(),
            negatives_today: 0,
            lifted: 0,
            stepped_down: 0,
            infections_counted: 0,
        }
    }

    /// The residents of a grid cell.
    pub fn residents_of(&self, cell: u32) -> impl Iterator<Item = u32> + '_ {
        let from = self.by_cell.partition_point(|&(c, _)| c < cell);
        self.by_cell[from..]
            .iter()
            .take_while(move |&&(c, _)| c == cell)
            .map(|&(_, p)| p)
    }

    /// `hours` after the start of work on day `d`.
    pub fn at(&self, d: u32, hours: u32) -> Timestamp {
        self.start
            .plus(i64::from(d) * DAY + i64::from(hours) * HOUR)
    }

    async fn clock(&mut self, d: u32, hours: u32) -> Result<Timestamp> {
        let to = self.at(d, hours);
        let admin = self.t.operator.clone();
        self.api.clock_to(&admin, to).await?;
        Ok(to)
    }

    /// Simulates day `d` and has the responders act on it.
    pub async fn day(&mut self, d: u32) -> Result<DayRow> {
        let requests_before = (self.api.requests, self.api.code_displays);
        self.clock(d, 0).await?;
        if d.is_multiple_of(6) {
            // The command centre's two officials get a week's tokens (an admin's ceiling).
            let until = Some(self.at(d, 0).plus(7 * DAY - HOUR));
            let op = self.t.operator.clone();
            self.t.command = self
                .api
                .mint(&op, "drill-command", "admin", "320200", until)
                .await?;
            self.t.approver = self
                .api
                .mint(&op, "drill-approver", "admin", "320200", until)
                .await?;
            // Code displays (a checkpoint's reader) under the command centre's token.
            self.t.display = self.t.command.clone();
        }
        let out = self.epi.step();
        // The engine's day counts the infections its transmission made; the seeds, infected
        // before the first step, are day 0's infections too (else a drill reports more cases
        // than infections).
        let infections = out.cumulative_infections - self.infections_counted;
        self.infections_counted = out.cumulative_infections;
        self.negatives_today = 0;
        let delay = self.epi.variant().detection.result_delay_days;
        let mut tubes_demand = 0u64;
        if self.round_on == Some(d) {
            let tubes = self.sample_round(d).await?;
            tubes_demand += tubes.len() as u64;
            self.lab.extend(tubes);
        }
        let mut found: Vec<(u32, u32, Option<u32>)> = self
            .epi
            .cases()
            .filter(|c| c.detected == Some(d))
            .map(|c| (c.person.0, d.saturating_sub(delay), c.onset))
            .collect();
        found.sort_unstable();
        for (person, sampled_day, onset) in found {
            self.lab.push_back(Tube::Positive {
                person,
                sampled_day,
                onset,
            });
            tubes_demand += 1;
        }
        // The lab's day: tubes in the order they came, up to its capacity.
        let take = (self.r.labs.tubes_per_day as usize).min(self.lab.len());
        let ran: Vec<Tube> = self.lab.drain(..take).collect();
        self.lab_left = self.r.labs.tubes_per_day - take as u64;
        let tube_backlog = self.lab.len() as u64;
        let reported_at = self.clock(d, self.r.labs.turnaround_hours).await?;
        self.post_negatives(d, &ran, reported_at).await?;
        let positives = ran;
        let reported = self.post_positives(d, &positives, reported_at).await?;
        let (close, secondary, ordered) = self.trace(d).await?;
        let tracer_backlog = self.tracer_queue.len() as u64;
        self.command(d, reported).await?;
        self.grid_work(d).await?;
        tubes_demand += self.evening_tests(d).await?;
        let (red, yellow, green) = self.colours(d).await?;
        let (city_red, city_yellow, city_green) = self.city_colours().await?;
        let beds_used = self.beds_used().await?;
        Ok(DayRow {
            day: d,
            date: self.at(d, 0).to_shanghai_rfc3339()[..10].to_owned(),
            infections,
            infectious: out.infectious,
            detections: out.detections,
            reported,
            close_confirmed: close,
            secondary_confirmed: secondary,
            quarantined: ordered,
            beds_used,
            beds: self.r.quarantine.sites * self.r.quarantine.beds_per_site,
            bed_refusals: self.bed_refusals,
            tracer_backlog,
            tubes_demand,
            tube_backlog,
            zones_sealed: self.sealed.len() as u32,
            zones_lifted: self.lifted,
            zones_stepped_down: self.stepped_down,
            residents_at_home: self.epi.staying_home(),
            negatives_posted: self.negatives_today,
            rounds: self.rounds,
            red,
            yellow,
            green,
            city_red,
            city_yellow,
            city_green,
            checkins: 0,
            code_displays: self.api.code_displays - requests_before.1,
            requests: self.api.requests - requests_before.0,
        })
    }

    /// The lab posts the day's positives; each becomes a (suspected) case the server
    /// registers, which the tracers queue. Isolated from the next day.
    async fn post_positives(&mut self, d: u32, tubes: &[Tube], now: Timestamp) -> Result<u32> {
        let mut results = Vec::new();
        let mut people = Vec::new();
        for t in tubes {
            if let Tube::Positive {
                person,
                sampled_day,
                onset,
            } = *t
            {
                let sampled = self.at(sampled_day, 12);
                results.push(json!({"person": format!("P{person}"),
                    "sampled_at": sampled.to_rfc3339(), "resulted_at": now.to_rfc3339(),
                    "outcome": "positive", "pool_size": 1,
                    "tube": format!("DRILL{d:03}{:07}", people.len())}));
                people.push((person, sampled_day, onset));
            }
        }
        if people.is_empty() {
            return Ok(0);
        }
        for chunk in results.chunks(5_000) {
            let lab = self.t.lab.clone();
            self.api
                .must(&lab, "/api/v1/test-results", json!({"results": chunk}), 200)
                .await?;
        }
        let tracer = self.t.tracer.clone();
        let (s, v) = self.api.get(&tracer, "/api/v1/cases").await?;
        if s != 200 {
            bail!("GET /api/v1/cases: {s} {v}");
        }
        let mut open: BTreeMap<String, String> = BTreeMap::new();
        for c in v["items"].as_array().into_iter().flatten() {
            if c["discharged_at"].is_null()
                && let (Some(p), Some(id)) = (c["person"].as_str(), c["id"].as_str())
            {
                open.insert(p.to_owned(), id.to_owned());
            }
        }
        let mut n = 0;
        let mut known: std::collections::HashSet<String> =
            self.timers.iter().map(|t| t.case.clone()).collect();
        for (person, sampled_day, onset) in people {
            self.epi.isolate(PersonId(person), d + 1);
            self.tracked.insert(person);
            let Some(case) = open.get(&format!("P{person}")) else {
                continue;
            };
            if !known.insert(case.clone()) {
                // An open case already: found again by another test (a zone swab's tube and
                // the engine's detection can reach the lab on the same day).
                continue;
            }
            self.timers.push(CaseTimer {
                case: case.clone(),
                onset_day: onset,
                sampled: self.at(sampled_day, 12).to_rfc3339(),
                reported: now.to_rfc3339(),
                listed: None,
                quarantined: None,
                hours_to_quarantine: None,
                close: 0,
                secondary: 0,
            });
            self.tracer_queue.push_back(self.timers.len() - 1);
            self.reported
                .push((d, self.city.people[person as usize].home_cell.0));
            n += 1;
        }
        Ok(n)
    }
}

/// The contacts a tracer confirms from a case's list: every household, class and team
/// contact, the venue contacts with the longest overlaps up to the cap, secondary contacts
/// up to theirs.
pub fn select_contacts(items: &[Value], venue_cap: usize, secondary_cap: usize) -> Vec<String> {
    let mut chosen = Vec::new();
    let mut venue: Vec<(i64, String)> = Vec::new();
    let mut secondary = Vec::new();
    for c in items {
        let Some(p) = c["person"].as_str() else {
            continue;
        };
        let rules: Vec<&str> = c["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match c["kind"].as_str() {
            Some("close") if rules.iter().any(|r| *r == "household" || *r == "workplace") => {
                chosen.push(p.to_owned())
            }
            Some("close") => venue.push((-c["overlap_minutes"].as_i64().unwrap_or(0), p.into())),
            Some("secondary") => secondary.push(p.to_owned()),
            _ => {}
        }
    }
    venue.sort();
    chosen.extend(venue.into_iter().take(venue_cap).map(|(_, p)| p));
    secondary.sort();
    chosen.extend(secondary.into_iter().take(secondary_cap));
    chosen
}

/// The venues of a grid cell (closed when the cell is sealed).
pub fn venues_in(city: &City, cell: u32) -> Vec<VenueId> {
    city.venues
        .iter()
        .filter(|v| v.cell.0 == cell)
        .map(|v| v.id)
        .collect()
}

mod respond;
mod testing;
mod zones;
