//! Silent venues (明察暗访 from data, docs/citizens.md): a venue that should be open and
//! records no scans, whose scans stopped, or whose scans come so evenly fast that one
//! device seems to scan for everyone (a venue code photographed and scanned from a desk,
//! the Zhengzhou lesson in reverse). "Should be open" is learned from the venue's own
//! history: the scans it recorded in the same hours of the previous days. Pure: `now` is an
//! argument; every number is a parameter ([`SilentRules`]).

use crate::time::{DAY, HOUR, SHANGHAI_OFFSET_SECS, Timestamp};
use serde::{Deserialize, Serialize};

/// The parameters of the rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SilentRules {
    /// Opening hours, seconds after local midnight (Asia/Shanghai): outside them nothing is
    /// expected.
    pub open_secs: i64,
    pub close_secs: i64,
    /// Days of history the expected rate is learned from.
    pub history_days: i64,
    /// Below this many scans an hour (in the same hours of past days) a venue is too quiet
    /// to call silent.
    pub min_rate_per_hour: f64,
    /// A venue is silent when this many expected scans have not come (at least an hour).
    pub missing_scans: f64,
    /// Scans today before the one-device test applies.
    pub min_scans_for_device: usize,
    /// Two scans at most this far apart (seconds) count as "back to back".
    pub device_gap_secs: i64,
    /// The share of back-to-back gaps (per mille) that suggests one device.
    pub device_share_permille: usize,
}

impl Default for SilentRules {
    fn default() -> Self {
        SilentRules {
            open_secs: 8 * HOUR,
            close_secs: 22 * HOUR,
            history_days: 7,
            min_rate_per_hour: 2.0,
            missing_scans: 4.0,
            min_scans_for_device: 30,
            device_gap_secs: 2,
            device_share_permille: 800,
        }
    }
}

/// Why a venue is flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SilentKind {
    /// Open hours under way, busy on past days at these hours, no scan today.
    NoScans,
    /// Scans today, then none for longer than the expected rate allows.
    ScansStopped,
    /// Most of today's scans back to back, seconds apart: one device for everyone.
    OneDevice,
}

impl SilentKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SilentKind::NoScans => "no_scans",
            SilentKind::ScansStopped => "scans_stopped",
            SilentKind::OneDevice => "one_device",
        }
    }
}

/// A venue's finding, with its evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: SilentKind,
    /// The scans an hour expected at this time of day (from the history).
    pub expected_per_hour: f64,
    pub scans_today: usize,
    pub last_scan: Option<Timestamp>,
    /// For [`SilentKind::OneDevice`]: back-to-back gaps per mille.
    pub back_to_back_permille: usize,
}

/// Seconds since local midnight, and the local midnight, of `t`.
fn local(t: Timestamp) -> (i64, i64) {
    let l = t.0 + SHANGHAI_OFFSET_SECS;
    let tod = l.rem_euclid(DAY);
    (tod, t.0 - tod)
}

/// Assesses one venue at `now` from its scan times (entries) over the last
/// `history_days` days and today, in any order.
pub fn assess(rules: &SilentRules, scans: &[Timestamp], now: Timestamp) -> Option<Finding> {
    let (tod, midnight) = local(now);
    let mut today: Vec<Timestamp> = scans
        .iter()
        .copied()
        .filter(|t| t.0 >= midnight && *t <= now)
        .collect();
    today.sort_unstable();
    // Evenly fast scans: one device.
    if today.len() >= rules.min_scans_for_device {
        let close = today
            .windows(2)
            .filter(|w| w[1].0 - w[0].0 <= rules.device_gap_secs)
            .count();
        let share = close * 1000 / (today.len() - 1);
        if share >= rules.device_share_permille {
            return Some(Finding {
                kind: SilentKind::OneDevice,
                expected_per_hour: 0.0,
                scans_today: today.len(),
                last_scan: today.last().copied(),
                back_to_back_permille: share,
            });
        }
    }
    if tod < rules.open_secs || tod > rules.close_secs {
        return None;
    }
    let open_hours = (tod - rules.open_secs) as f64 / HOUR as f64;
    if open_hours <= 0.0 {
        return None;
    }
    // Past days' scans in the same hours: [open, now's time of day).
    let past = scans
        .iter()
        .filter(|t| {
            let (t_tod, t_mid) = local(**t);
            let days_back = (midnight - t_mid) / DAY;
            (1..=rules.history_days).contains(&days_back) && t_tod >= rules.open_secs && t_tod < tod
        })
        .count();
    let rate = past as f64 / (rules.history_days as f64 * open_hours);
    if rate < rules.min_rate_per_hour {
        return None;
    }
    // How long the expected scans take to come, at least an hour.
    let quiet = ((rules.missing_scans / rate) * HOUR as f64).max(HOUR as f64) as i64;
    let since_open = midnight + rules.open_secs;
    let kind = match today.iter().rev().find(|t| t.0 >= since_open) {
        None if now.0 - since_open >= quiet => SilentKind::NoScans,
        Some(last) if now.0 - last.0 >= quiet => SilentKind::ScansStopped,
        _ => return None,
    };
    Some(Finding {
        kind,
        expected_per_hour: rate,
        scans_today: today.len(),
        last_scan: today.last().copied(),
        back_to_back_permille: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Local day `d` (days since 1970 in Asia/Shanghai) at `h` hours.
    fn at(d: i64, h: f64) -> Timestamp {
        Timestamp(d * DAY - SHANGHAI_OFFSET_SECS + (h * HOUR as f64) as i64)
    }

    /// A scan every 10 minutes from 08:00 to 22:00 on each of the 7 days before `d`.
    fn busy_history(d: i64) -> Vec<Timestamp> {
        (1..=7)
            .flat_map(|b| (0..84).map(move |i| at(d - b, 8.0 + f64::from(i) / 6.0)))
            .collect()
    }

    #[test]
    fn a_busy_venue_whose_scans_stop_at_noon_is_flagged_by_mid_afternoon() {
        let d = 20_000;
        let mut scans = busy_history(d);
        scans.extend((0..24).map(|i| at(d, 8.0 + f64::from(i) / 6.0)));
        let rules = SilentRules::default();
        // Six scans an hour expected: four missing take 40 minutes, at least an hour.
        assert_eq!(assess(&rules, &scans, at(d, 12.5)), None);
        let f = assess(&rules, &scans, at(d, 15.0)).unwrap();
        assert_eq!(f.kind, SilentKind::ScansStopped);
        assert!((f.expected_per_hour - 6.0).abs() < 0.2, "{f:?}");
        assert_eq!(f.scans_today, 24);
        // After closing time nothing is expected.
        assert_eq!(assess(&rules, &scans, at(d, 23.0)), None);
    }

    #[test]
    fn a_busy_venue_with_no_scan_today_is_flagged_and_a_quiet_one_is_not() {
        let d = 20_000;
        let rules = SilentRules::default();
        let f = assess(&rules, &busy_history(d), at(d, 10.0)).unwrap();
        assert_eq!(f.kind, SilentKind::NoScans);
        assert_eq!(assess(&rules, &busy_history(d), at(d, 8.5)), None);
        // A scan an hour on past days is too quiet to call silent.
        let quiet: Vec<Timestamp> = (1..=7)
            .flat_map(|b| (8..22).map(move |h| at(d - b, f64::from(h))))
            .collect();
        assert_eq!(assess(&rules, &quiet, at(d, 15.0)), None);
    }

    #[test]
    fn a_venue_whose_scans_keep_coming_is_not_flagged() {
        let d = 20_000;
        let mut scans = busy_history(d);
        scans.extend((0..42).map(|i| at(d, 8.0 + f64::from(i) / 6.0)));
        assert_eq!(assess(&SilentRules::default(), &scans, at(d, 15.0)), None);
    }

    #[test]
    fn scans_a_second_apart_all_day_look_like_one_device() {
        let d = 20_000;
        let start = at(d, 9.0);
        let scans: Vec<Timestamp> = (0..40).map(|i| start.plus(i)).collect();
        let f = assess(&SilentRules::default(), &scans, at(d, 9.5)).unwrap();
        assert_eq!(f.kind, SilentKind::OneDevice);
        assert_eq!(f.back_to_back_permille, 1000);
        // The same number of scans spread over the morning is a queue, not a device.
        let spread: Vec<Timestamp> = (0..40).map(|i| start.plus(i * 45)).collect();
        assert_eq!(assess(&SilentRules::default(), &spread, at(d, 9.5)), None);
    }
}
