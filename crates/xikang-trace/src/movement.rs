//! Impossible movement: one person scanned at two venues further apart than anyone could
//! travel in the time between the scans — a code shared, copied or replayed, or a device
//! writing the wrong place or time. Flagged for a tracer to look at, never refused on the
//! spot (a wrong flag must not keep anyone out of a shop).
//!
//! Computed from the check-in index when asked, not on the scan path: the scan path stays
//! as it was (no per-scan lookup of the person's previous scan), late offline uploads are
//! compared in time order rather than arrival order, and nothing extra needs to survive a
//! restart because the index is rebuilt from the stored check-ins.

use crate::TraceIndex;
use xikang_domain::{CivilDay, PersonId, ScanDirection, Timestamp, VenueId};

/// How fast a person is taken to be able to move, and the slack for positions and clocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedBound {
    /// Fastest plausible travel between venues inside a city, km/h (a car on an
    /// expressway; the city's metro is slower).
    pub max_kmh: f64,
    /// Distance always allowed, metres: venue positions are approximate and a venue has
    /// several doors.
    pub slack_m: f64,
    /// Time added to every gap, seconds: a scan queued offline carries its device's clock,
    /// which may be this far off.
    pub clock_slack_secs: i64,
}

impl Default for SpeedBound {
    /// 120 km/h, 1 km and 60 s (the clock leeway of offline scans): two scans in the same
    /// second are flagged from 3 km apart, an hour apart from 123 km.
    fn default() -> SpeedBound {
        SpeedBound {
            max_kmh: 120.0,
            slack_m: 1_000.0,
            clock_slack_secs: 60,
        }
    }
}

impl SpeedBound {
    /// Whether `metres` can be covered in `secs` (negative gaps count as none).
    pub fn allows(&self, metres: f64, secs: i64) -> bool {
        let secs = secs.max(0).saturating_add(self.clock_slack_secs) as f64;
        metres <= self.slack_m + self.max_kmh / 3.6 * secs
    }
}

/// One scan of an impossible pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveEnd {
    pub venue: VenueId,
    pub at: Timestamp,
    pub direction: ScanDirection,
}

/// Two consecutive scans of one person that no travel explains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpossibleMove {
    pub person: PersonId,
    pub from: MoveEnd,
    pub to: MoveEnd,
    /// Great-circle distance between the two venues, metres.
    pub metres: f64,
}

impl ImpossibleMove {
    /// Seconds between the two scans.
    pub fn secs(&self) -> i64 {
        self.to.at.0 - self.from.at.0
    }

    /// The speed the move would have needed, km/h; `None` for scans in the same second.
    pub fn needed_kmh(&self) -> Option<f64> {
        let secs = self.secs();
        (secs > 0).then(|| self.metres / secs as f64 * 3.6)
    }
}

/// Great-circle distance in metres between two WGS-84 positions `(lat, lon)` in degrees
/// (haversine on a sphere of the Earth's mean radius: within 0.5 % at city scale).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// Every impossible move of one Asia/Shanghai day: for each person, each pair of
/// consecutive scans (entries and exits, in time order) at two different venues that
/// `bound` does not allow. `place` gives a venue's `(lat, lon)`; a venue without one is
/// skipped. Ordered by person, then time.
///
/// Consecutive pairs suffice: if every step of A → B → C is allowed, so is A → C up to one
/// more slack (the distance is at most the sum of the steps).
pub fn impossible_moves(
    index: &TraceIndex,
    day: CivilDay,
    place: impl Fn(VenueId) -> Option<(f64, f64)>,
    bound: &SpeedBound,
) -> Vec<ImpossibleMove> {
    let mut out = Vec::new();
    let direction = |exit: bool| {
        if exit {
            ScanDirection::Exit
        } else {
            ScanDirection::Entry
        }
    };
    index.each_person_of_day(day, |person, scans| {
        for pair in scans.windows(2) {
            let ((t1, v1, x1), (t2, v2, x2)) = (pair[0], pair[1]);
            if v1 == v2 {
                continue;
            }
            let (Some(p1), Some(p2)) = (place(VenueId(v1)), place(VenueId(v2))) else {
                continue;
            };
            let metres = distance_m(p1, p2);
            if !bound.allows(metres, t2 - t1) {
                out.push(ImpossibleMove {
                    person: PersonId(person),
                    from: MoveEnd {
                        venue: VenueId(v1),
                        at: Timestamp(t1),
                        direction: direction(x1),
                    },
                    to: MoveEnd {
                        venue: VenueId(v2),
                        at: Timestamp(t2),
                        direction: direction(x2),
                    },
                    metres,
                });
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::CheckIn;

    const DAY0: CivilDay = CivilDay(19_000);

    fn at(secs: i64) -> Timestamp {
        DAY0.start().plus(secs)
    }

    fn scan(person: u32, venue: u32, secs: i64) -> CheckIn {
        CheckIn {
            person: PersonId(person),
            venue: VenueId(venue),
            at: at(secs),
            direction: ScanDirection::Entry,
        }
    }

    /// Venues 0–2 in the city centre, 3 km and 30 km north of it; 0.01° of latitude is
    /// 1.11 km.
    fn place(v: VenueId) -> Option<(f64, f64)> {
        match v.0 {
            0 => Some((31.57, 120.30)),
            1 => Some((31.57 + 0.027, 120.30)),
            2 => Some((31.57 + 0.27, 120.30)),
            _ => None,
        }
    }

    fn flagged(rows: &[CheckIn], tail_limit: usize) -> Vec<(u32, u32, u32)> {
        let mut index = TraceIndex::with_tail_limit(tail_limit);
        index.append(rows);
        impossible_moves(&index, DAY0, place, &SpeedBound::default())
            .iter()
            .map(|m| (m.person.0, m.from.venue.0, m.to.venue.0))
            .collect()
    }

    #[test]
    fn the_haversine_distance_matches_a_degree_of_latitude() {
        let d = distance_m((31.0, 120.0), (32.0, 120.0));
        assert!((d - 111_195.0).abs() < 50.0, "{d}");
        assert!(distance_m((31.5, 120.3), (31.5, 120.3)).abs() < 1e-6);
    }

    #[test]
    fn the_bound_allows_the_slack_and_the_speed_and_no_more() {
        let b = SpeedBound::default();
        // Same second: 1 km + 60 s at 120 km/h = 3 km.
        assert!(b.allows(2_999.0, 0));
        assert!(!b.allows(3_001.0, 0));
        // An hour: 1 km + 122 km.
        assert!(b.allows(122_900.0, 3_600));
        assert!(!b.allows(123_100.0, 3_600));
    }

    #[test]
    fn three_venues_far_apart_in_one_second_are_flagged_and_a_walk_is_not() {
        for tail_limit in [1, 4, 8_192] {
            let rows = [
                // Person 1: three venues, 0 → 2 (30 km) → 0 in the same second.
                scan(1, 0, 3_600),
                scan(1, 2, 3_600),
                scan(1, 0, 3_601),
                // Person 2: 3 km in 20 minutes, then the far venue two hours later.
                scan(2, 0, 3_600),
                scan(2, 1, 4_800),
                scan(2, 2, 12_000),
                // Person 3: the same venue twice, and a venue with no position.
                scan(3, 0, 100),
                scan(3, 0, 101),
                scan(3, 9, 102),
            ];
            assert_eq!(
                flagged(&rows, tail_limit),
                vec![(1, 0, 2), (1, 2, 0)],
                "tail limit {tail_limit}"
            );
        }
    }

    #[test]
    fn scans_are_compared_in_time_order_whatever_order_they_arrived_in() {
        // The far scan arrives last but lies between the other two.
        let mut index = TraceIndex::with_tail_limit(2);
        index.append(&[scan(5, 0, 1_000), scan(5, 0, 1_200)]);
        index.append(&[scan(5, 2, 1_100)]);
        let moves = impossible_moves(&index, DAY0, place, &SpeedBound::default());
        let pairs: Vec<(i64, i64)> = moves
            .iter()
            .map(|m| (m.from.at.0 - DAY0.start().0, m.to.at.0 - DAY0.start().0))
            .collect();
        assert_eq!(pairs, vec![(1_000, 1_100), (1_100, 1_200)]);
        let speed = moves[0].needed_kmh().unwrap();
        assert!((speed - 30_000.0 / 100.0 * 3.6).abs() < 100.0, "{speed}");
    }

    #[test]
    fn another_day_is_not_looked_at() {
        let mut index = TraceIndex::new();
        index.append(&[scan(1, 0, 3_600), scan(1, 2, 3_600)]);
        let next = CivilDay(DAY0.0 + 1);
        assert!(impossible_moves(&index, next, place, &SpeedBound::default()).is_empty());
    }
}
