//! Capacity at the current trend (docs/citizens.md): the day a resource runs out if the
//! net daily use of the last days goes on. Pure.

use crate::time::CivilDay;
use serde::{Deserialize, Serialize};

/// A resource a facility reports by count (the beds of quarantine sites and the lab's tubes
/// are counted from their own records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// A fever clinic (发热门诊): patients a day it can see, and saw on the day reported.
    FeverClinic,
    /// Transfer vehicles (转运车辆) of an area: how many, and how many in use.
    Vehicle,
    /// One item of a quarantine site's stock (物资): on hand.
    Stock,
}

impl Resource {
    /// Every resource.
    pub const ALL: [Resource; 3] = [Resource::FeverClinic, Resource::Vehicle, Resource::Stock];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::FeverClinic => "fever_clinic",
            Resource::Vehicle => "vehicle",
            Resource::Stock => "stock",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The daily trend of a series of `(day, value)` readings, oldest first: the change per day
/// between the first and the last reading (0 with fewer than two readings on distinct days).
pub fn per_day(readings: &[(CivilDay, f64)]) -> f64 {
    match (readings.first(), readings.last()) {
        (Some((d0, v0)), Some((d1, v1))) if d1.0 > d0.0 => (v1 - v0) / f64::from(d1.0 - d0.0),
        _ => 0.0,
    }
}

/// When a reported resource runs out at its trend, from its readings `(day, total, in_use)`
/// oldest first: stock (`total` on hand) on the day it reaches zero at its falling trend;
/// anything else (clinics, vehicles) on the day its use reaches its latest total at the
/// trend of use. `None` when the trend does not run it out.
pub fn reported_run_out(
    resource: Resource,
    readings: &[(CivilDay, u32, u32)],
    today: CivilDay,
) -> Option<CivilDay> {
    let (_, total, in_use) = *readings.last()?;
    match resource {
        Resource::Stock => {
            let on_hand: Vec<(CivilDay, f64)> =
                readings.iter().map(|r| (r.0, f64::from(r.1))).collect();
            run_out_day(u64::from(total), -per_day(&on_hand), today)
        }
        Resource::FeverClinic | Resource::Vehicle => {
            let used: Vec<(CivilDay, f64)> =
                readings.iter().map(|r| (r.0, f64::from(r.2))).collect();
            run_out_day(
                u64::from(total.saturating_sub(in_use)),
                per_day(&used),
                today,
            )
        }
    }
}

/// The first day on which `free` units are gone at `net_per_day` more used than released
/// each day, counted from `today`; `None` when use is not growing (nothing runs out).
pub fn run_out_day(free: u64, net_per_day: f64, today: CivilDay) -> Option<CivilDay> {
    if net_per_day <= 0.0 || !net_per_day.is_finite() {
        return None;
    }
    let days = (free as f64 / net_per_day).floor() as i64;
    i32::try_from(days)
        .ok()
        .and_then(|d| today.0.checked_add(d))
        .map(CivilDay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_runs_out_on_the_day_its_free_units_are_used_up() {
        let today = CivilDay(20_000);
        assert_eq!(run_out_day(10, 4.0, today), Some(CivilDay(20_002)));
        assert_eq!(run_out_day(0, 1.0, today), Some(today));
        assert_eq!(run_out_day(10, 0.0, today), None);
        assert_eq!(run_out_day(10, -3.0, today), None);
        assert_eq!(run_out_day(10, f64::NAN, today), None);
    }

    #[test]
    fn stock_runs_out_at_its_falling_trend_and_a_clinic_when_its_load_reaches_its_size() {
        let d = |n| CivilDay(20_000 + n);
        // 100 masks, then 70 two days later: 15 a day, 70 last 4 days (day 2 + 4).
        let stock = [(d(0), 100, 0), (d(2), 70, 0)];
        assert_eq!(reported_run_out(Resource::Stock, &stock, d(2)), Some(d(6)));
        // Restocked: not running out.
        assert_eq!(
            reported_run_out(Resource::Stock, &[(d(0), 50, 0), (d(1), 80, 0)], d(1)),
            None
        );
        // A clinic of 200 a day seeing 100, then 140 a day later: full in 1 day.
        let clinic = [(d(0), 200, 100), (d(1), 200, 140)];
        assert_eq!(
            reported_run_out(Resource::FeverClinic, &clinic, d(1)),
            Some(d(2))
        );
        // One reading: no trend.
        assert_eq!(
            reported_run_out(Resource::Vehicle, &[(d(0), 10, 9)], d(0)),
            None
        );
        assert_eq!(reported_run_out(Resource::Vehicle, &[], d(0)), None);
        assert_eq!(Resource::parse("fever_clinic"), Some(Resource::FeverClinic));
        assert_eq!(Resource::parse("beds"), None);
    }
}
