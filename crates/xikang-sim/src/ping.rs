//! Location pings of the synthetic city, as a carrier feed would deliver them for the
//! companion rule (时空伴随): a configurable share of residents (5 % by default) report
//! their position about every 30 minutes while awake, at the place their day plan puts them
//! ([`City::day_plans`]) with a few tens of metres of jitter. Deterministic for the seed,
//! and generated in the same pass over the day plans as the check-ins
//! ([`City::checkins_and_pings_for_day`]), so the pings cost no second pass.

use crate::city::{City, CityConfig};
use crate::rng::mix;
use crate::routine::Stop;
use xikang_domain::{LocationPing, PersonId, Position, Timestamp};

/// Who pings, how often, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PingPlan {
    /// Residents whose phone is in the feed, per thousand (the same people every day).
    pub share_permille: u32,
    /// Seconds between two pings of one phone (each is late by up to a fifth of this).
    pub every_secs: u32,
    /// The waking day, in seconds after 00:00 Asia/Shanghai: pings fall in `[from, until)`.
    pub awake_from: u32,
    pub awake_until: u32,
}

/// 5 % of residents.
pub const DEFAULT_PING_SHARE_PERMILLE: u32 = 50;

impl Default for PingPlan {
    fn default() -> PingPlan {
        PingPlan {
            share_permille: DEFAULT_PING_SHARE_PERMILLE,
            every_secs: 30 * 60,
            awake_from: 7 * 3_600,
            awake_until: 23 * 3_600,
        }
    }
}

/// Keeps ping decisions apart from every other use of `mix` on the same seed.
const SALT: u64 = 0x5049_4E47_5F46_4545; // "PING_FEE"

/// Half the side of the square a ping scatters in around the place, in micro-degrees
/// (about 55 m of latitude): a phone's position is never exactly the venue's.
const JITTER_E6: i64 = 500;

/// The seed of one day's ping times and jitter: days are independent of each other.
pub(crate) fn ping_day_key(cfg: &CityConfig, day_index: u32) -> u64 {
    mix(cfg.seed ^ mix(SALT ^ (u64::from(day_index) << 32)))
}

impl City {
    /// Whether `person`'s phone is in the ping feed under `plan` (the same every day).
    pub fn pings(&self, cfg: &CityConfig, plan: &PingPlan, person: PersonId) -> bool {
        mix(cfg.seed ^ mix(SALT ^ u64::from(person.0))) % 1_000 < u64::from(plan.share_permille)
    }

    /// The pings of simulated day `day_index`, by person then time.
    pub fn pings_for_day(
        &self,
        cfg: &CityConfig,
        day_index: u32,
        plan: &PingPlan,
    ) -> Vec<LocationPing> {
        self.checkins_and_pings_for_day(cfg, day_index, plan).1
    }

    /// Appends `person`'s pings for a day that starts at `start`, given their stops;
    /// `day_key` is [`ping_day_key`] of the day.
    pub(crate) fn pings_of_day(
        &self,
        plan: &PingPlan,
        (day_key, start): (u64, Timestamp),
        person: PersonId,
        stops: &[Stop],
        out: &mut Vec<LocationPing>,
    ) {
        let every = plan.every_secs.max(60);
        let key = mix(day_key ^ u64::from(person.0));
        let mut slot = plan.awake_from;
        let mut k = 0u64;
        while slot < plan.awake_until {
            let h = mix(key ^ k);
            let at = slot + (h % u64::from(every / 5).max(1)) as u32;
            slot += every;
            k += 1;
            let Some((lat, lon)) = self.place_at(person, stops, at) else {
                continue;
            };
            let jitter = |bits: u64| (bits % (2 * JITTER_E6 as u64 + 1)) as i64 - JITTER_E6;
            let lat_e6 = (lat * 1e6).round() as i64 + jitter(h >> 16);
            let lon_e6 = (lon * 1e6).round() as i64 + jitter(h >> 40);
            let (Ok(lat_e6), Ok(lon_e6)) = (i32::try_from(lat_e6), i32::try_from(lon_e6)) else {
                continue;
            };
            if let Ok(position) = Position::new(lat_e6, lon_e6) {
                out.push(LocationPing {
                    person,
                    at: start.plus(i64::from(at)),
                    position,
                });
            }
        }
    }

    /// Where the day plan puts `person` at second `t` of the day: the venue of the stop
    /// under way; between stops (travelling), the next stop's venue; with no stops at all,
    /// home (the community gate, else the centre of the home cell).
    fn place_at(&self, person: PersonId, stops: &[Stop], t: u32) -> Option<(f64, f64)> {
        let stop = stops
            .iter()
            .find(|s| s.arrive <= t && t < s.leave)
            .or_else(|| stops.iter().find(|s| s.arrive > t))
            .or(stops.last());
        let venue = match stop {
            Some(s) => Some(s.venue),
            None => self.home_gate(person),
        };
        if let Some(v) = venue.and_then(|v| self.venues.get(v.0 as usize)) {
            return Some((v.lat, v.lon));
        }
        let home = self.people.get(person.0 as usize)?.home_cell;
        let site = self.cells.get(home.0 as usize)?;
        Some((site.lat, site.lon))
    }
}
