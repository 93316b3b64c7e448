//! Daily routines: for one simulated day, each resident's stops (where they were, from when
//! to when, and whether they scanned in and out), and the check-ins that follow from them.
//!
//! Randomness comes from one ChaCha8 stream per (seed, day, block of 1024 people), so a day
//! is generated independently of every other day, and a later feature (location pings for
//! companions, outbreak drills) can replay exactly the same stops through [`City::day_plans`].
//! A household's weekend outing is decided by a stateless hash of (seed, day, household),
//! so its members go to the same places at the same times although each draws from the
//! stream of their own block.

use crate::calendar::is_weekend;
use crate::city::{City, CityConfig, GYM_GOER, LUNCH_OUT, NONE, Role, Routine, WEEKEND_SHIFT};
use crate::ping::PingPlan;
use crate::rng::{Purpose, Rng, mix};
use xikang_domain::{CheckIn, LocationPing, PersonId, ScanDirection, Timestamp, VenueId};

/// Seconds in a minute and an hour.
const MIN: u32 = 60;
const HOUR: u32 = 3_600;
/// Nobody leaves home before 06:00 …
const FIRST_OUT: u32 = 6 * HOUR;
/// … starts a visit that would end after 22:40 …
const LAST_VISIT_END: u32 = 22 * HOUR + 40 * MIN;
/// … or comes home after 22:59.
const LAST_HOME: u32 = 22 * HOUR + 59 * MIN;
/// The end of the day in [`Stop`] times: "at home until the next day".
pub const DAY_END: u32 = 86_400;
/// People per random stream.
const BLOCK: usize = 1_024;

/// Scan habits: nearly everyone scans in (it was the condition of entry), fewer scan out.
const P_ENTRY: f64 = 0.97;
const P_EXIT: f64 = 0.3;
/// Community gates: scanned coming home, less often going out.
const P_GATE_IN: f64 = 0.95;
const P_GATE_OUT: f64 = 0.9;
/// At most this many venues per outing.
const MAX_STOPS_PER_OUTING: usize = 3;

/// One place a person was during a day. A stay at home is a stop at the person's
/// residential venue (the community gate): from 0 until leaving in the morning, and from
/// coming back until [`DAY_END`]. A person with no stops stayed home all day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    pub venue: VenueId,
    /// Seconds after 00:00 Asia/Shanghai.
    pub arrive: u32,
    /// Seconds after 00:00 Asia/Shanghai; [`DAY_END`] for the night at home.
    pub leave: u32,
    /// Whether the person scanned in on arriving.
    pub scan_entry: bool,
    /// Whether the person scanned out on leaving.
    pub scan_exit: bool,
}

/// Places a routine may take someone, resolved from the person's favourites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Shop,
    Market,
    Eat,
    Gym,
    Cinema,
    Pharmacy,
    Hospital,
    Scenic,
    Hotel,
    Train,
    Coach,
    Airport,
}

/// One line of an outing's menu: where, with what probability, and the stay in minutes.
type Menu = [(Place, f64, u32, u32)];

/// Elderly morning: the wet market first, as in every Chinese city.
const ELDER_MORNING: &Menu = &[
    (Place::Market, 0.7, 20, 50),
    (Place::Shop, 0.4, 15, 40),
    (Place::Pharmacy, 0.07, 5, 15),
    (Place::Hospital, 0.04, 60, 180),
    (Place::Scenic, 0.2, 40, 100),
];
const ELDER_AFTERNOON: &Menu = &[
    (Place::Scenic, 0.35, 40, 100),
    (Place::Shop, 0.4, 15, 40),
    (Place::Pharmacy, 0.04, 5, 15),
];
const ADULT_MORNING: &Menu = &[
    (Place::Market, 0.3, 20, 45),
    (Place::Shop, 0.45, 20, 50),
    (Place::Pharmacy, 0.03, 5, 15),
    (Place::Hospital, 0.03, 60, 180),
    (Place::Train, 0.008, 20, 50),
    (Place::Coach, 0.004, 20, 40),
    (Place::Airport, 0.001, 60, 120),
    (Place::Scenic, 0.12, 60, 150),
    (Place::Eat, 0.35, 45, 80),
];
const ADULT_AFTERNOON: &Menu = &[
    (Place::Cinema, 0.10, 110, 150),
    (Place::Gym, 0.06, 60, 100),
    (Place::Scenic, 0.12, 60, 150),
    (Place::Shop, 0.35, 20, 50),
];
const EVENING: &Menu = &[
    (Place::Eat, 0.6, 50, 100),
    (Place::Hotel, 0.02, 120, 180),
    (Place::Cinema, 0.1, 110, 150),
];
const YOUNG_OUTING: &Menu = &[
    (Place::Shop, 0.3, 20, 50),
    (Place::Eat, 0.3, 40, 70),
    (Place::Cinema, 0.15, 110, 150),
    (Place::Gym, 0.08, 60, 100),
    (Place::Scenic, 0.12, 60, 150),
];
const AFTER_WORK: &Menu = &[
    (Place::Pharmacy, 0.05, 5, 15),
    (Place::Shop, 0.55, 15, 40),
    (Place::Market, 0.08, 15, 30),
    (Place::Eat, 0.15, 45, 90),
    (Place::Gym, 0.03, 60, 100),
    (Place::Cinema, 0.03, 110, 150),
    (Place::Hotel, 0.003, 120, 180),
];
const AFTER_SCHOOL: &Menu = &[
    (Place::Shop, 0.3, 15, 30),
    (Place::Eat, 0.2, 30, 60),
    // Sports classes.
    (Place::Gym, 0.1, 60, 90),
];
const INFANT_OUTING: &Menu = &[(Place::Market, 0.5, 20, 40), (Place::Shop, 0.4, 20, 40)];

/// What one simulated day is, for everybody.
#[derive(Debug, Clone, Copy)]
struct DayCtx {
    seed: u64,
    index: u32,
    weekend: bool,
}

/// Builds one person's stops, keeping the clock moving forward.
struct Planner<'a> {
    stops: &'a mut Vec<Stop>,
    rng: &'a mut Rng,
    city: &'a City,
    routine: &'a Routine,
    t: u32,
    out: bool,
}

impl Planner<'_> {
    fn minutes(&mut self, lo: u32, hi: u32) -> u32 {
        self.rng.range(lo * MIN, hi * MIN)
    }

    fn leave_home(&mut self, at: u32) {
        let gate = self.routine.gate;
        let at = at.max(self.t).clamp(FIRST_OUT, LAST_VISIT_END);
        let scan = self.rng.chance(P_GATE_OUT);
        self.t = at;
        self.out = true;
        if gate == NONE {
            return;
        }
        match self.stops.last_mut() {
            Some(home) if home.venue.0 == gate && home.leave == DAY_END => {
                home.leave = at.max(home.arrive);
                home.scan_exit = scan;
            }
            _ => self.stops.push(Stop {
                venue: VenueId(gate),
                arrive: 0,
                leave: at,
                scan_entry: false,
                scan_exit: scan,
            }),
        }
    }

    /// A visit of `dwell` seconds after `travel`; refused (and the clock left alone) if the
    /// venue is missing or the visit would end too late.
    fn visit(&mut self, venue: u32, travel: u32, dwell: u32, p_entry: f64, p_exit: f64) -> bool {
        let arrive = self.t + travel;
        let leave = arrive + dwell;
        if venue == NONE || !self.out || leave > LAST_VISIT_END {
            return false;
        }
        let scan_entry = self.rng.chance(p_entry);
        let scan_exit = self.rng.chance(p_exit);
        self.stops.push(Stop {
            venue: VenueId(venue),
            arrive,
            leave,
            scan_entry,
            scan_exit,
        });
        self.t = leave;
        true
    }

    /// A visit that lasts until `until` (at least half an hour).
    fn visit_until(&mut self, venue: u32, travel: u32, until: u32, p_entry: f64, p_exit: f64) {
        let arrive = self.t + travel;
        let end = until.min(LAST_VISIT_END).max(arrive + 30 * MIN);
        self.visit(venue, travel, end - arrive, p_entry, p_exit);
    }

    fn come_home(&mut self, travel: u32) {
        if !self.out {
            return;
        }
        let arrive = (self.t + travel).min(LAST_HOME);
        self.t = arrive;
        self.out = false;
        if self.routine.gate == NONE {
            return;
        }
        let scan_entry = self.rng.chance(P_GATE_IN);
        self.stops.push(Stop {
            venue: VenueId(self.routine.gate),
            arrive,
            leave: DAY_END,
            scan_entry,
            scan_exit: false,
        });
    }

    fn resolve(&mut self, place: Place) -> u32 {
        let r = self.routine;
        let hubs = self.city.hubs.get(usize::from(r.district));
        match place {
            Place::Shop => r.shop[self.rng.below(2) as usize],
            Place::Market => r.market,
            Place::Eat => r.eat[self.rng.below(2) as usize],
            Place::Gym => r.gym,
            Place::Cinema => r.cinema,
            Place::Pharmacy => r.pharmacy,
            Place::Hospital => r.hospital,
            Place::Scenic => r.scenic,
            Place::Hotel => hubs
                .and_then(|h| self.rng.pick(&h.hotels).copied())
                .unwrap_or(NONE),
            Place::Train => hubs.map_or(NONE, |h| h.train),
            Place::Coach => hubs.map_or(NONE, |h| h.coach),
            Place::Airport => self.city.airport,
        }
    }

    /// Visits some of the menu's places in order (each with its probability), at most
    /// [`MAX_STOPS_PER_OUTING`].
    fn errands(&mut self, menu: &Menu) {
        let mut done = 0;
        for &(place, p, lo, hi) in menu {
            if done == MAX_STOPS_PER_OUTING {
                break;
            }
            let p = if place == Place::Gym && self.routine.flags & GYM_GOER != 0 {
                (p * 10.0).min(0.45)
            } else {
                p
            };
            if !self.rng.chance(p) {
                continue;
            }
            let venue = self.resolve(place);
            let travel = self.minutes(5, 20);
            let dwell = self.minutes(lo, hi);
            if self.visit(venue, travel, dwell, P_ENTRY, P_EXIT) {
                done += 1;
            }
        }
    }

    /// Leave home at `start`, run some errands, come back.
    fn outing(&mut self, start: u32, menu: &Menu) {
        self.leave_home(start);
        self.errands(menu);
        let travel = self.minutes(5, 20);
        self.come_home(travel);
    }

    fn usual_departure(&mut self) -> u32 {
        let usual = FIRST_OUT + u32::from(self.routine.leave_slot) * 5 * MIN;
        (usual + self.minutes(0, 20)).saturating_sub(10 * MIN)
    }

    fn commute(&mut self) -> u32 {
        u32::from(self.routine.commute_slot) * 5 * MIN + self.minutes(0, 5)
    }

    fn work_day(&mut self) {
        let work = self.routine.work;
        let leave = self.usual_departure();
        self.leave_home(leave);
        let commute = self.commute();
        if self.rng.chance(0.004) {
            // A morning at the hospital before work.
            let dwell = self.minutes(60, 150);
            self.visit(self.routine.hospital, commute, dwell, P_ENTRY, P_EXIT);
        } else if self.rng.chance(0.4) {
            // Breakfast (早餐店) near work on the way in.
            let venue = self.routine.lunch[self.rng.below(3) as usize];
            let dwell = self.minutes(8, 20);
            self.visit(venue, commute.saturating_sub(5 * MIN), dwell, P_ENTRY, 0.1);
        }
        let end = self.t + commute + 8 * HOUR + self.minutes(0, 90);
        let lunch_start = self.rng.range(11 * HOUR + 40 * MIN, 12 * HOUR + 10 * MIN);
        let lunch_out = self.routine.flags & LUNCH_OUT != 0 && self.rng.chance(0.85);
        if lunch_out && self.t + commute + HOUR < lunch_start {
            self.visit_until(work, commute, lunch_start, P_ENTRY, 0.4);
            let venue = self.routine.lunch[self.rng.below(3) as usize];
            let (walk, dwell) = (self.minutes(3, 10), self.minutes(25, 50));
            self.visit(venue, walk, dwell, P_ENTRY, P_EXIT);
            let walk = self.minutes(3, 10);
            self.visit_until(work, walk, end, 0.9, 0.5);
        } else {
            // Clocking out (打卡) is often the exit scan.
            self.visit_until(work, commute, end, P_ENTRY, 0.5);
        }
        self.errands(AFTER_WORK);
        let back = self.commute();
        self.come_home(back);
    }

    fn school_day(&mut self) {
        let work = self.routine.work;
        let leave = self.usual_departure();
        self.leave_home(leave);
        let commute = self.commute();
        let end = self.rng.range(15 * HOUR + 45 * MIN, 17 * HOUR + 30 * MIN);
        if self.routine.flags & LUNCH_OUT != 0 && self.rng.chance(0.6) {
            let lunch_start = self.rng.range(11 * HOUR + 40 * MIN, 12 * HOUR + 10 * MIN);
            self.visit_until(work, commute, lunch_start, P_ENTRY, 0.2);
            let venue = self.routine.lunch[self.rng.below(3) as usize];
            let (walk, dwell) = (self.minutes(3, 10), self.minutes(25, 50));
            self.visit(venue, walk, dwell, P_ENTRY, P_EXIT);
            let walk = self.minutes(3, 10);
            self.visit_until(work, walk, end, 0.9, 0.5);
        } else {
            self.visit_until(work, commute, end, P_ENTRY, 0.5);
        }
        self.errands(AFTER_SCHOOL);
        let back = self.commute();
        self.come_home(back);
    }

    /// A day without work or school: up to three outings (morning, afternoon, evening).
    fn free_day(&mut self, weekend: bool) {
        let role = self.routine.role;
        let elder = role == Role::Retired;
        let young = matches!(role, Role::Pupil | Role::Student);
        let (p_morning, morning_from, morning_to, morning) = if elder {
            (
                0.85,
                6 * HOUR + 20 * MIN,
                8 * HOUR + 30 * MIN,
                ELDER_MORNING,
            )
        } else if young {
            (0.6, 9 * HOUR + 30 * MIN, 11 * HOUR, YOUNG_OUTING)
        } else {
            (
                if weekend { 0.8 } else { 0.85 },
                8 * HOUR + 30 * MIN,
                10 * HOUR + 30 * MIN,
                ADULT_MORNING,
            )
        };
        if self.rng.chance(p_morning) {
            let start = self.rng.range(morning_from, morning_to);
            self.outing(start, morning);
        }
        let afternoon = if elder {
            ELDER_AFTERNOON
        } else if young {
            YOUNG_OUTING
        } else {
            ADULT_AFTERNOON
        };
        let p_afternoon = if young {
            0.45
        } else if elder {
            0.7
        } else {
            0.6
        };
        if self.rng.chance(p_afternoon) {
            let start = self.rng.range(14 * HOUR, 16 * HOUR);
            self.outing(start, afternoon);
        }
        self.evening(weekend);
    }

    fn evening(&mut self, weekend: bool) {
        let p = match self.routine.role {
            Role::Retired => 0.15,
            Role::Infant => 0.0,
            _ if weekend => 0.45,
            _ => 0.3,
        };
        if self.rng.chance(p) {
            let start = self.rng.range(17 * HOUR + 30 * MIN, 19 * HOUR);
            self.outing(start, EVENING);
        }
    }

    fn infant_day(&mut self) {
        if self.rng.chance(0.5) {
            let start = self.rng.range(9 * HOUR, 10 * HOUR);
            self.outing(start, INFANT_OUTING);
        }
    }

    /// The household's weekend outing: every member not at work goes to the same place and
    /// restaurant at the same times (a few seconds apart at the scanner).
    fn family_outing(&mut self, h: u64, head: &Routine) {
        let member = u32::from(self.routine.member);
        let start = 9 * HOUR + 30 * MIN + (h % 90) as u32 * MIN + member * 7;
        let travel = (5 + (h >> 40) % 20) as u32 * MIN;
        let (place, dwell) = match (h >> 8) % 4 {
            0 => (head.scenic, 60 + (h >> 16) % 90),
            1 => (head.cinema, 110 + (h >> 16) % 30),
            2 => (head.shop[0], 30 + (h >> 16) % 40),
            _ => (head.market, 20 + (h >> 16) % 30),
        };
        let lunch = head.eat[((h >> 24) & 1) as usize];
        let lunch_dwell = (50 + (h >> 32) % 40) as u32 * MIN;
        self.leave_home(start);
        self.visit(place, travel, dwell as u32 * MIN, P_ENTRY, P_EXIT);
        self.visit(lunch, travel / 2, lunch_dwell, P_ENTRY, P_EXIT);
        if (h >> 48) & 1 == 0 {
            // Shopping on the way home.
            let shop = head.shop[((h >> 50) & 1) as usize];
            let dwell = (20 + (h >> 52) % 30) as u32 * MIN;
            self.visit(shop, travel / 2, dwell, P_ENTRY, P_EXIT);
        }
        self.come_home(travel);
        self.evening(true);
    }
}

impl City {
    /// Every resident's stops on simulated day `day_index`, person by person in id order.
    /// Deterministic for `(seed, day_index)`; [`City::checkins_for_day`] is built on it, and
    /// so can later features that need the same movements (pings, drills).
    pub fn day_plans(
        &self,
        cfg: &CityConfig,
        day_index: u32,
        mut each: impl FnMut(PersonId, &[Stop]),
    ) {
        let ctx = DayCtx {
            seed: cfg.seed,
            index: day_index,
            weekend: is_weekend(cfg.day(day_index)),
        };
        let mut stops = Vec::with_capacity(16);
        for (block, routines) in self.routines.chunks(BLOCK).enumerate() {
            let stream = (u64::from(day_index) << 32) | block as u64;
            let mut rng = Rng::new(cfg.seed, Purpose::Day, stream);
            for (i, routine) in routines.iter().enumerate() {
                let person = block * BLOCK + i;
                stops.clear();
                self.plan_person(&ctx, person, routine, &mut rng, &mut stops);
                each(PersonId(person as u32), &stops);
            }
        }
    }

    fn plan_person(
        &self,
        ctx: &DayCtx,
        person: usize,
        r: &Routine,
        rng: &mut Rng,
        stops: &mut Vec<Stop>,
    ) {
        let mut p = Planner {
            stops,
            rng,
            city: self,
            routine: r,
            t: 0,
            out: false,
        };
        let works = match r.role {
            Role::Worker => {
                let shift = r.flags & WEEKEND_SHIFT != 0;
                let p_work = match (ctx.weekend, shift) {
                    (false, false) => 0.95,
                    (false, true) => 0.7,
                    (true, false) => 0.06,
                    (true, true) => 0.8,
                };
                p.rng.chance(p_work)
            }
            Role::Pupil | Role::Student => !ctx.weekend,
            _ => false,
        };
        if works {
            if r.role == Role::Worker {
                p.work_day()
            } else {
                p.school_day()
            }
            return;
        }
        if ctx.weekend && r.household_size >= 2 {
            let key = (u64::from(ctx.index) << 32) | u64::from(r.household);
            let h = mix(ctx.seed ^ mix(key));
            // 45 % of households go out together on a weekend day.
            if h % 100 < 45 {
                let head = person
                    .checked_sub(usize::from(r.member))
                    .and_then(|i| self.routines.get(i))
                    .unwrap_or(r);
                p.family_outing(mix(h), head);
                return;
            }
        }
        match r.role {
            Role::Infant => p.infant_day(),
            _ => p.free_day(ctx.weekend),
        }
    }

    /// All check-ins of simulated day `day_index` (0-based from `cfg.first_day`), sorted by
    /// time. Deterministic for `(seed, day_index)`.
    pub fn checkins_for_day(&self, cfg: &CityConfig, day_index: u32) -> Vec<CheckIn> {
        self.day_rows(cfg, day_index, None)
    }

    /// The check-ins of simulated day `day_index` (as [`City::checkins_for_day`]) and the
    /// location pings of the residents `plan` selects (by person, then time), from one pass
    /// over the day plans.
    pub fn checkins_and_pings_for_day(
        &self,
        cfg: &CityConfig,
        day_index: u32,
        plan: &PingPlan,
    ) -> (Vec<CheckIn>, Vec<LocationPing>) {
        let mut pings = Vec::new();
        let checkins = self.day_rows(cfg, day_index, Some((plan, &mut pings)));
        (checkins, pings)
    }

    fn day_rows(
        &self,
        cfg: &CityConfig,
        day_index: u32,
        mut pings: Option<(&PingPlan, &mut Vec<LocationPing>)>,
    ) -> Vec<CheckIn> {
        let start = cfg.day(day_index).start();
        let day_key = crate::ping::ping_day_key(cfg, day_index);
        // Generated person by person, then put in time order by a counting sort on the second
        // of the day: linear, and stable, so equal times keep person order.
        let mut raw: Vec<CheckIn> = Vec::with_capacity(self.people.len() * 6);
        let mut counts = vec![0u32; DAY_END as usize + 1];
        self.day_plans(cfg, day_index, |person, stops| {
            if let Some((plan, out)) = &mut pings
                && self.pings(cfg, plan, person)
            {
                self.pings_of_day(plan, (day_key, start), person, stops, out);
            }
            for s in stops {
                if s.scan_entry {
                    counts[s.arrive as usize] += 1;
                    raw.push(checkin(
                        person,
                        s.venue,
                        start,
                        s.arrive,
                        ScanDirection::Entry,
                    ));
                }
                if s.scan_exit {
                    counts[s.leave as usize] += 1;
                    raw.push(checkin(
                        person,
                        s.venue,
                        start,
                        s.leave,
                        ScanDirection::Exit,
                    ));
                }
            }
        });
        let mut next = 0u32;
        for c in &mut counts {
            let n = *c;
            *c = next;
            next += n;
        }
        let blank = checkin(PersonId(0), VenueId(0), start, 0, ScanDirection::Entry);
        let mut sorted = vec![blank; raw.len()];
        for c in raw {
            // Every scan lies inside the day (0 ≤ secs ≤ DAY_END), by construction of the stops.
            let secs = (c.at.0 - start.0).clamp(0, i64::from(DAY_END)) as usize;
            let slot = &mut counts[secs];
            sorted[*slot as usize] = c;
            *slot += 1;
        }
        sorted
    }
}

fn checkin(
    person: PersonId,
    venue: VenueId,
    start: Timestamp,
    secs: u32,
    direction: ScanDirection,
) -> CheckIn {
    CheckIn {
        person,
        venue,
        at: start.plus(i64::from(secs)),
        direction,
    }
}
