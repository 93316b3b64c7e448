//! An agent-based outbreak on the synthetic city (issue 16, part 2): transmission in four
//! layers — household, work team, school class (weekdays only, as the city's routine), and
//! the community at each person's favourite venues — with a lognormal course of infection
//! (exposed → infectious → onset or not → recovered), viral load that is higher early in the
//! infectious period, and a detection process (fever clinic, sentinel pharmacies, screening
//! rounds, tests of a detected case's household and team or class). Parameters come from one
//! TOML file per variant ([`Variant`], `crates/xikang-sim/variants/`).
//!
//! The transmission step follows Covasim's (Kerr et al. 2021) so that the two can be run on
//! the same parameters (`bench/covasim/compare.py`): each day, each infectious person infects
//! each susceptible contact of a layer with probability β × layer factor × viral load
//! (× the asymptomatic factor).
//!
//! Pure and deterministic for `(city, first day, variant, seed, days)`: one random stream per
//! simulated day, infections processed in the order they happened. The state is a few
//! compact arrays (about 50 bytes a resident, most of it the venue regulars, plus one record
//! per infection), so a million residents fit in about 60 MB.
//!
//! A driver steps it a day at a time ([`Epidemic::step`]) and may act between steps:
//! [`Epidemic::isolate`] a person from a day on (no contacts at all, as centralized
//! quarantine), [`Epidemic::close_venue`] (no community contacts there), and read who is
//! infected when ([`Epidemic::cases`]).

mod variant;

pub use variant::{
    Course, Detection, Duration, Transmission, VARIANT_FILES, Variant, VariantError,
};

use crate::calendar::is_weekend;
use crate::city::{City, GYM_GOER, LUNCH_OUT, NONE, Role, Routine};
use crate::rng::{Purpose, Rng};
use serde::Serialize;
use xikang_domain::{CivilDay, PersonId, VenueId};

/// "Never" in day fields.
const NEVER: u32 = u32::MAX;

/// Where an infection happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// One of the infections the outbreak starts with.
    Seed,
    Household,
    /// School class (pupils and their teachers).
    School,
    /// Work team.
    Work,
    /// At a venue.
    Community,
}

/// How an infection was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Found {
    FeverClinic,
    Sentinel,
    Screening,
    /// Tested as household member or colleague of a detected case.
    ContactTest,
}

/// One infection, in simulated days (0 = the first day).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CaseRecord {
    pub person: PersonId,
    /// Who infected them (none for a seed).
    pub source: Option<PersonId>,
    pub layer: Layer,
    pub infected: u32,
    pub infectious: u32,
    /// Symptom onset; none for an asymptomatic infection.
    pub onset: Option<u32>,
    pub recovered: u32,
    /// The day the positive result was out.
    pub detected: Option<u32>,
    pub found: Option<Found>,
}

/// What happened on one simulated day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct DayOutcome {
    pub day: u32,
    pub infections: u32,
    pub onsets: u32,
    pub detections: u32,
    /// Infectious at the end of the day.
    pub infectious: u32,
    pub cumulative_infections: u32,
    pub cumulative_detections: u32,
}

/// One infection while it runs.
#[derive(Debug, Clone, Copy)]
struct Infection {
    person: u32,
    source: u32,
    layer: Layer,
    /// Relative infectiousness (overdispersion, mean 1).
    rel: f32,
    infected: u32,
    infectious: u32,
    onset: u32,
    recovered: u32,
    /// Viral load is high before this day.
    high_until: u32,
    /// A test is due on this day (clinic, sentinel or contact test).
    test_day: u32,
    test_reason: Found,
    detected: u32,
    found: Option<Found>,
}

/// Members of each work team or school class, compressed (CSR).
#[derive(Debug, Clone, Default)]
struct Groups {
    of: Vec<u32>,
    offs: Vec<u32>,
    members: Vec<u32>,
    school: Vec<bool>,
}

impl Groups {
    fn new(city: &City) -> Groups {
        let of: Vec<u32> = city
            .people
            .iter()
            .map(|p| p.workplace.map_or(NONE, |w| w.0))
            .collect();
        let (offs, members) = csr(&of, city.workplaces.len());
        Groups {
            of,
            offs,
            members,
            school: city.workplaces.iter().map(|w| w.is_school).collect(),
        }
    }

    fn of(&self, person: u32) -> Option<(usize, &[u32])> {
        let g = *self.of.get(person as usize)?;
        if g == NONE {
            return None;
        }
        let (a, b) = (self.offs[g as usize], self.offs[g as usize + 1]);
        Some((g as usize, &self.members[a as usize..b as usize]))
    }
}

/// Groups `of[i]` (NONE = none) into `n` lists.
fn csr(of: &[u32], n: usize) -> (Vec<u32>, Vec<u32>) {
    let mut offs = vec![0u32; n + 1];
    for &g in of.iter().filter(|&&g| g != NONE) {
        offs[g as usize + 1] += 1;
    }
    for i in 1..offs.len() {
        offs[i] += offs[i - 1];
    }
    let mut cursor = offs.clone();
    let mut members = vec![0u32; offs[n] as usize];
    for (p, &g) in of.iter().enumerate() {
        if g != NONE {
            members[cursor[g as usize] as usize] = p as u32;
            cursor[g as usize] += 1;
        }
    }
    (offs, members)
}

/// The venues where a person meets the community: the restaurants, shops, market, cinema,
/// scenic spot (and lunch places and gym for those who use them) of their routine.
fn favourites(r: &Routine) -> ([u32; 10], usize) {
    let mut out = [NONE; 10];
    let mut n = 0;
    let mut add = |v: u32| {
        if v != NONE && !out[..n].contains(&v) && n < out.len() {
            out[n] = v;
            n += 1;
        }
    };
    let lunches = r.flags & LUNCH_OUT != 0 && matches!(r.role, Role::Worker | Role::Student);
    if lunches {
        r.lunch.iter().take(2).for_each(|&v| add(v));
    }
    r.eat.iter().for_each(|&v| add(v));
    r.shop.iter().for_each(|&v| add(v));
    add(r.market);
    add(r.cinema);
    add(r.scenic);
    if r.flags & GYM_GOER != 0 {
        add(r.gym);
    }
    (out, n)
}

/// The outbreak: the city's structure, the variant, and everyone's state.
pub struct Epidemic<'a> {
    city: &'a City,
    first_day: CivilDay,
    variant: Variant,
    seed: u64,
    /// The next day [`Epidemic::step`] simulates.
    day: u32,
    groups: Groups,
    /// People who count each venue among their favourites (CSR).
    regular_offs: Vec<u32>,
    regulars: Vec<u32>,
    /// Infection index of each person, NONE while susceptible.
    infection_of: Vec<u32>,
    infections: Vec<Infection>,
    /// Infections still running (or still testing positive), in the order they happened.
    active: Vec<u32>,
    /// Isolated from this day on (NEVER = not isolated).
    isolated_from: Vec<u32>,
    /// Staying at home (a sealed zone's residents): household contacts only.
    at_home: Vec<bool>,
    closed: Vec<bool>,
    /// Screening rounds a driver ordered: (day, coverage), on top of the variant's own.
    rounds: Vec<(u32, f64)>,
    cumulative_detections: u32,
}

impl std::fmt::Debug for Epidemic<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Epidemic")
            .field("variant", &self.variant.name)
            .field("day", &self.day)
            .field("infections", &self.infections.len())
            .finish()
    }
}

impl<'a> Epidemic<'a> {
    /// An outbreak on `city` whose day 0 is `first_day`, with nobody infected yet.
    pub fn new(city: &'a City, first_day: CivilDay, variant: Variant, seed: u64) -> Epidemic<'a> {
        let n = city.people.len();
        let mut pairs: Vec<u32> = Vec::new();
        let mut counts = vec![0u32; city.venues.len() + 1];
        for r in &city.routines {
            let (fav, k) = favourites(r);
            for &v in &fav[..k] {
                if let Some(c) = counts.get_mut(v as usize + 1) {
                    *c += 1;
                }
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let regular_offs = counts.clone();
        pairs.resize(counts[city.venues.len()] as usize, 0);
        for (p, r) in city.routines.iter().enumerate() {
            let (fav, k) = favourites(r);
            for &v in &fav[..k] {
                if let Some(c) = counts.get_mut(v as usize) {
                    pairs[*c as usize] = p as u32;
                    *c += 1;
                }
            }
        }
        Epidemic {
            city,
            first_day,
            variant,
            seed,
            day: 0,
            groups: Groups::new(city),
            regular_offs,
            regulars: pairs,
            infection_of: vec![NONE; n],
            infections: Vec::new(),
            active: Vec::new(),
            isolated_from: vec![NEVER; n],
            at_home: vec![false; n],
            closed: vec![false; city.venues.len()],
            rounds: Vec::new(),
            cumulative_detections: 0,
        }
    }

    /// Infects `count` residents drawn at random (distinct), on the current day.
    pub fn seed_infections(&mut self, count: u32) {
        let n = self.city.people.len() as u32;
        let mut rng = Rng::new(self.seed, Purpose::Epidemic, u64::MAX);
        let mut left = count.min(n);
        while left > 0 {
            let p = rng.below(n);
            if self.infection_of[p as usize] == NONE {
                self.infect(&mut rng, p, NONE, Layer::Seed, self.day);
                left -= 1;
            }
        }
    }

    /// Infects one resident on the current day (a seed chosen by the driver).
    pub fn infect_person(&mut self, person: PersonId) {
        if self.infection_of.get(person.0 as usize) == Some(&NONE) {
            let mut rng = Rng::new(
                self.seed,
                Purpose::Epidemic,
                u64::MAX - 1 - u64::from(person.0),
            );
            self.infect(&mut rng, person.0, NONE, Layer::Seed, self.day);
        }
    }

    /// From `day` on, `person` has no contacts at all (centralized quarantine or isolation).
    pub fn isolate(&mut self, person: PersonId, day: u32) {
        if let Some(slot) = self.isolated_from.get_mut(person.0 as usize) {
            *slot = (*slot).min(day);
        }
    }

    /// No community contacts at `venue` from the next step on.
    pub fn close_venue(&mut self, venue: VenueId) {
        if let Some(c) = self.closed.get_mut(venue.0 as usize) {
            *c = true;
        }
    }

    /// From the next step on, `person` stays at home (足不出户, a sealed zone's resident):
    /// household contacts only, no class, team or venue.
    pub fn stay_home(&mut self, person: PersonId) {
        if let Some(h) = self.at_home.get_mut(person.0 as usize) {
            *h = true;
        }
    }

    /// From the next step on, `person` goes out again (the zone was lifted or stepped down).
    pub fn go_out(&mut self, person: PersonId) {
        if let Some(h) = self.at_home.get_mut(person.0 as usize) {
            *h = false;
        }
    }

    /// How many residents stay at home now ([`Epidemic::stay_home`] and not gone out since).
    pub fn staying_home(&self) -> u32 {
        self.at_home.iter().filter(|h| **h).count() as u32
    }

    /// Community contacts at `venue` again from the next step on.
    pub fn open_venue(&mut self, venue: VenueId) {
        if let Some(c) = self.closed.get_mut(venue.0 as usize) {
            *c = false;
        }
    }

    /// Whether a test of `person` sampled on `day` could come back positive (infected, from
    /// the variant's first positive day until its days after recovery; the test's sensitivity
    /// aside). A driver posts a negative for anyone else it samples.
    pub fn could_test_positive(&self, person: PersonId, day: u32) -> bool {
        let d = &self.variant.detection;
        match self.infection_of.get(person.0 as usize) {
            Some(&i) if i != NONE => {
                let inf = &self.infections[i as usize];
                day >= inf.infected + d.positive_from_days
                    && day < inf.recovered.saturating_add(d.positive_after_recovery_days)
            }
            _ => false,
        }
    }

    /// A screening round on `day` that samples `coverage` of the residents (a command
    /// centre's decision, e.g. the drill's), besides the variant's periodic rounds.
    pub fn screen(&mut self, day: u32, coverage: f64) {
        self.rounds.push((day, coverage.clamp(0.0, 1.0)));
    }

    /// The outbreak's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next day [`Epidemic::step`] will simulate.
    pub fn day(&self) -> u32 {
        self.day
    }

    /// The variant.
    pub fn variant(&self) -> &Variant {
        &self.variant
    }

    /// Every infection so far, in the order they happened.
    pub fn cases(&self) -> impl Iterator<Item = CaseRecord> + '_ {
        let opt = |d: u32| (d != NEVER).then_some(d);
        self.infections.iter().map(move |i| CaseRecord {
            person: PersonId(i.person),
            source: (i.source != NONE).then_some(PersonId(i.source)),
            layer: i.layer,
            infected: i.infected,
            infectious: i.infectious,
            onset: opt(i.onset),
            recovered: i.recovered,
            detected: opt(i.detected),
            found: i.found,
        })
    }

    /// Whether `person` has been infected.
    pub fn is_infected(&self, person: PersonId) -> bool {
        self.infection_of
            .get(person.0 as usize)
            .is_some_and(|&i| i != NONE)
    }

    fn lognormal(rng: &mut Rng, d: Duration) -> f64 {
        if d.sd <= 0.0 {
            return d.mean;
        }
        let s2 = (1.0 + (d.sd * d.sd) / (d.mean * d.mean)).ln();
        let mu = d.mean.ln() - s2 / 2.0;
        (mu + s2.sqrt() * Self::normal(rng)).exp()
    }

    /// Gamma-distributed with mean 1 and shape `k` (Marsaglia and Tsang; for k < 1 the
    /// draw for k + 1 times U^(1/k)).
    fn gamma_mean_one(rng: &mut Rng, k: f64) -> f64 {
        if k <= 0.0 {
            return 1.0;
        }
        let a = if k < 1.0 { k + 1.0 } else { k };
        let d = a - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        let g = loop {
            let z = Self::normal(rng);
            let v = (1.0 + c * z).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = 1.0 - rng.unit();
            if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
                break d * v;
            }
        };
        let g = if k < 1.0 {
            g * (1.0 - rng.unit()).powf(1.0 / k)
        } else {
            g
        };
        g / k
    }

    fn normal(rng: &mut Rng) -> f64 {
        // Box–Muller.
        let u1 = 1.0 - rng.unit();
        let u2 = rng.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A lognormal duration rounded to whole days (Covasim's `lognormal_int`).
    fn days(rng: &mut Rng, d: Duration) -> u32 {
        Self::lognormal(rng, d).round().clamp(0.0, 10_000.0) as u32
    }

    /// Starts an infection: draws its course (whole days, as Covasim), the person's relative
    /// infectiousness (overdispersion), and whether and when they will be tested for symptoms.
    fn infect(&mut self, rng: &mut Rng, person: u32, source: u32, layer: Layer, day: u32) {
        let c = &self.variant.course;
        let t = &self.variant.transmission;
        let d = &self.variant.detection;
        let rel = Self::gamma_mean_one(rng, t.dispersion) as f32;
        // Infectious from the next day at the earliest: today's infections do not transmit today.
        let infectious = day + Self::days(rng, c.exposed_to_infectious).max(1);
        let symptomatic = rng.chance(c.symptomatic_share);
        let (onset, recovered) = if symptomatic {
            let onset = infectious + Self::days(rng, c.infectious_to_onset);
            (onset, onset + Self::days(rng, c.onset_to_recovered))
        } else {
            (
                NEVER,
                infectious + Self::days(rng, c.asymptomatic_to_recovered),
            )
        };
        let recovered = recovered.max(infectious + 1);
        let span = f64::from(recovered - infectious);
        let high = (t.high_load_share * span).min(t.high_load_cap_days);
        let (mut test_day, mut test_reason) = (NEVER, Found::FeverClinic);
        if symptomatic {
            if rng.chance(d.fever_clinic_share) {
                test_day = onset + Self::days(rng, d.onset_to_clinic);
            } else if rng.chance(d.sentinel_share) {
                test_day = onset + Self::days(rng, d.onset_to_sentinel_test);
                test_reason = Found::Sentinel;
            }
        }
        let index = self.infections.len() as u32;
        self.infections.push(Infection {
            person,
            source,
            layer,
            rel,
            infected: day,
            infectious,
            onset,
            recovered,
            // High on day t while t < infectious + high.
            high_until: infectious + high.ceil() as u32,
            test_day,
            test_reason,
            detected: NEVER,
            found: None,
        });
        self.infection_of[person as usize] = index;
        self.active.push(index);
    }

    /// Whether `person` can meet anyone on `day`.
    fn free(&self, person: u32, day: u32) -> bool {
        self.isolated_from[person as usize] > day
    }

    /// Simulates the next day and returns what happened.
    pub fn step(&mut self) -> DayOutcome {
        let day = self.day;
        self.day += 1;
        let mut rng = Rng::new(self.seed, Purpose::Epidemic, u64::from(day));
        let weekday = !is_weekend(CivilDay(self.first_day.0.saturating_add(day as i32)));
        let before = self.infections.len();
        let mut out = DayOutcome {
            day,
            ..DayOutcome::default()
        };
        let tr = self.variant.transmission.clone();
        // Transmission, from the infections that are infectious today (new ones cannot be).
        let active = std::mem::take(&mut self.active);
        for &i in &active {
            let inf = self.infections[i as usize];
            if day < inf.infectious || day >= inf.recovered || !self.free(inf.person, day) {
                continue;
            }
            // Two levels with mean 1 over the infectious period (as Covasim's viral_dist).
            let z = 1.0 + tr.high_load_share * (tr.high_load_ratio - 1.0);
            let load = if day < inf.high_until {
                tr.high_load_ratio / z
            } else {
                1.0 / z
            };
            let asym = if inf.onset == NEVER {
                tr.asymptomatic_relative
            } else {
                1.0
            };
            let p = tr.beta * load * asym * f64::from(inf.rel);
            let me = inf.person;
            let home = self.city.household_members(PersonId(me));
            for q in home {
                self.expose(&mut rng, me, q, p * tr.household, Layer::Household, day);
            }
            let home_only = self.at_home[me as usize];
            if weekday
                && !home_only
                && let Some((g, _)) = self.groups.of(me)
            {
                let (layer, factor) = if self.groups.school[g] {
                    (Layer::School, tr.school)
                } else {
                    (Layer::Work, tr.work)
                };
                let (a, b) = (self.groups.offs[g], self.groups.offs[g + 1]);
                for k in a..b {
                    let q = self.groups.members[k as usize];
                    self.expose(&mut rng, me, q, p * factor, layer, day);
                }
            }
            let city = self.city;
            let (fav, n) = favourites(&city.routines[me as usize]);
            if n > 0 && !home_only {
                for _ in 0..tr.community_contacts {
                    let v = fav[rng.below(n as u32) as usize] as usize;
                    if self.closed[v] {
                        continue;
                    }
                    let (a, b) = (self.regular_offs[v], self.regular_offs[v + 1]);
                    let q = self.regulars[(a + rng.below(b - a)) as usize];
                    self.expose(&mut rng, me, q, p * tr.community, Layer::Community, day);
                }
            }
        }
        // Onsets and detection, over the infections running before today's.
        let d = self.variant.detection.clone();
        let periodic = d.screening_interval_days > 0
            && day >= d.screening_first_day
            && (day - d.screening_first_day).is_multiple_of(d.screening_interval_days);
        let ordered = self
            .rounds
            .iter()
            .filter(|(d, _)| *d == day)
            .map(|(_, c)| *c)
            .fold(0.0f64, f64::max);
        let coverage = if periodic {
            d.screening_coverage.max(ordered)
        } else {
            ordered
        };
        let round = coverage > 0.0;
        let mut found_today: Vec<u32> = Vec::new();
        for &i in &active {
            let inf = &mut self.infections[i as usize];
            if inf.onset == day {
                out.onsets += 1;
            }
            if inf.detected != NEVER {
                continue;
            }
            let positive = day >= inf.infected + d.positive_from_days
                && day < inf.recovered.saturating_add(d.positive_after_recovery_days);
            let mut reason = None;
            if inf.test_day == day {
                reason = Some(inf.test_reason);
            } else if round && rng.chance(coverage) {
                reason = Some(Found::Screening);
            }
            if let Some(r) = reason
                && positive
                && rng.chance(d.sensitivity)
            {
                inf.detected = day + d.result_delay_days;
                inf.found = Some(r);
            }
            if inf.detected == day {
                found_today.push(inf.person);
            }
        }
        for &i in &active {
            if self.infections[i as usize].detected == day {
                out.detections += 1;
            }
        }
        // Tests of the household and team or class of those found today.
        for person in found_today {
            let home = self.city.household_members(PersonId(person));
            let group: &[u32] = self.groups.of(person).map_or(&[], |(_, m)| m);
            for q in home.chain(group.iter().copied()) {
                let j = self.infection_of[q as usize];
                if j == NONE {
                    continue;
                }
                let inf = &mut self.infections[j as usize];
                let at = day + d.contact_test_delay_days;
                let due = inf.test_day != NEVER && inf.test_day > day && inf.test_day <= at;
                if inf.detected == NEVER && !due {
                    inf.test_day = at;
                    inf.test_reason = Found::ContactTest;
                }
            }
        }
        // Keep the infections that may still matter (infectious or testing positive).
        let tail = d.positive_after_recovery_days + d.result_delay_days + 1;
        let infections = &self.infections;
        let mut active = active;
        active.retain(|&i| {
            let inf = &infections[i as usize];
            day < inf.recovered.saturating_add(tail) || inf.detected > day
        });
        active.extend((before as u32..self.infections.len() as u32).collect::<Vec<_>>());
        self.active = active;
        out.infections = (self.infections.len() - before) as u32;
        out.infectious = self
            .active
            .iter()
            .filter(|&&i| {
                let inf = &self.infections[i as usize];
                inf.infectious <= day + 1 && day + 1 < inf.recovered
            })
            .count() as u32;
        self.cumulative_detections += out.detections;
        out.cumulative_infections = self.infections.len() as u32;
        out.cumulative_detections = self.cumulative_detections;
        out
    }

    /// A contact: infects `q` with probability `p` if `q` is susceptible and free (and, outside
    /// the household, not staying at home).
    fn expose(&mut self, rng: &mut Rng, me: u32, q: u32, p: f64, layer: Layer, day: u32) {
        if q == me || self.infection_of[q as usize] != NONE || !self.free(q, day) {
            return;
        }
        if layer != Layer::Household && self.at_home[q as usize] {
            return;
        }
        if rng.chance(p) {
            self.infect(rng, q, me, layer, day);
        }
    }
}

/// A whole run: each day's outcome and every infection.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub variant: String,
    pub people: u32,
    pub days: Vec<DayOutcome>,
    pub cases: Vec<CaseRecord>,
}

impl Outcome {
    /// Infections over the population at the end.
    pub fn attack_rate(&self) -> f64 {
        let total = self.days.last().map_or(0, |d| d.cumulative_infections);
        f64::from(total) / f64::from(self.people.max(1))
    }

    /// The early doubling time of cumulative infections, in days: ln 2 over the least-squares
    /// slope of ln(cumulative infections) on the days it lies between 100 and 2% of the
    /// population (at least 5 days; none if the epidemic never gets there or does not grow).
    /// `bench/covasim/compare.py` computes it the same way for both engines.
    pub fn doubling_time(&self) -> Option<f64> {
        let cum: Vec<f64> = self
            .days
            .iter()
            .map(|d| f64::from(d.cumulative_infections))
            .collect();
        doubling_time(&cum, f64::from(self.people))
    }
}

/// See [`Outcome::doubling_time`].
pub fn doubling_time(cumulative: &[f64], people: f64) -> Option<f64> {
    let hi = (people * 0.02).max(200.0);
    let pts: Vec<(f64, f64)> = cumulative
        .iter()
        .enumerate()
        .filter(|&(_, &c)| (100.0..=hi).contains(&c))
        .map(|(t, &c)| (t as f64, c.ln()))
        .collect();
    if pts.len() < 5 {
        return None;
    }
    let n = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
    let (mx, my) = (sx / n, sy / n);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for &(x, y) in &pts {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
    }
    let slope = sxy / sxx;
    (slope > 0.0).then(|| std::f64::consts::LN_2 / slope)
}

/// Runs `variant` on `city` for `days` days from `seeds` random infections.
pub fn simulate(
    city: &City,
    first_day: CivilDay,
    variant: Variant,
    seed: u64,
    seeds: u32,
    days: u32,
) -> Outcome {
    let name = variant.name.clone();
    let mut e = Epidemic::new(city, first_day, variant, seed);
    e.seed_infections(seeds);
    let days: Vec<DayOutcome> = (0..days).map(|_| e.step()).collect();
    Outcome {
        variant: name,
        people: city.people.len() as u32,
        days,
        cases: e.cases().collect(),
    }
}

#[cfg(test)]
mod tests;
