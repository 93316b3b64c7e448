//! Capacity at the current trend (docs/citizens.md): the day a resource runs out if the
//! net daily use of the last days goes on. Pure.

use crate::time::CivilDay;

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
}
