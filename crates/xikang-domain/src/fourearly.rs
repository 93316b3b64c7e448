//! The 四早 timers of a case (early detection, reporting, isolation, treatment;
//! docs/citizens.md): onset → detection → reported → contacts listed → contacts
//! quarantined, each step against its target. A step still running past its target is a
//! breach as much as one that finished late. Pure: `now` is an argument; the targets are
//! parameters ([`Targets`]).

use crate::time::{HOUR, Timestamp};
use serde::Serialize;

/// The milestones of one case, as far as they are reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Milestones {
    /// Symptom onset (none for an asymptomatic infection).
    pub onset: Option<Timestamp>,
    /// The positive sample (or, without one, the registration).
    pub detected: Option<Timestamp>,
    /// The case's registration in the system (网络直报).
    pub reported: Option<Timestamp>,
    /// The first close contact designated.
    pub contacts_listed: Option<Timestamp>,
    /// Every designated close contact under a quarantine order: the last one's order.
    pub contacts_quarantined: Option<Timestamp>,
}

/// Targets in seconds, per step. Defaults: detection within 24 hours of onset, reported
/// within 2 hours of detection (直报), contacts listed within 24 hours of the report, and
/// quarantined within 24 hours of being listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub detect: i64,
    pub report: i64,
    pub list: i64,
    pub quarantine: i64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            detect: 24 * HOUR,
            report: 2 * HOUR,
            list: 24 * HOUR,
            quarantine: 24 * HOUR,
        }
    }
}

/// One step's timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Step {
    /// `detection`, `report`, `contacts_listed`, `contacts_quarantined`.
    pub step: &'static str,
    pub target_secs: i64,
    /// Seconds from the previous milestone to this one, or to `now` while it runs; `None`
    /// when the previous milestone is not reached (or, for detection, there was no onset).
    pub elapsed_secs: Option<i64>,
    pub done: bool,
    pub breached: bool,
}

/// The four timers of a case at `now`.
pub fn timers(m: &Milestones, t: &Targets, now: Timestamp) -> Vec<Step> {
    let steps = [
        ("detection", m.onset, m.detected, t.detect),
        ("report", m.detected, m.reported, t.report),
        ("contacts_listed", m.reported, m.contacts_listed, t.list),
        (
            "contacts_quarantined",
            m.contacts_listed,
            m.contacts_quarantined,
            t.quarantine,
        ),
    ];
    steps
        .into_iter()
        .map(|(step, from, to, target)| {
            let elapsed = from.map(|f| (to.unwrap_or(now).0 - f.0).max(0));
            Step {
                step,
                target_secs: target,
                elapsed_secs: elapsed,
                done: to.is_some(),
                breached: elapsed.is_some_and(|e| e > target),
            }
        })
        .collect()
}

/// How many of a case's timers are breached.
pub fn breaches(m: &Milestones, t: &Targets, now: Timestamp) -> usize {
    timers(m, t, now).iter().filter(|s| s.breached).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_runs_from_the_previous_milestone_and_breaches_past_its_target() {
        let t0 = Timestamp(1_000_000);
        let m = Milestones {
            onset: Some(t0),
            detected: Some(t0.plus(30 * HOUR)),
            reported: Some(t0.plus(31 * HOUR)),
            contacts_listed: None,
            contacts_quarantined: None,
        };
        let now = t0.plus(60 * HOUR);
        let s = timers(&m, &Targets::default(), now);
        assert_eq!(s[0].elapsed_secs, Some(30 * HOUR));
        assert!(s[0].breached && s[0].done, "detected after 30 h");
        assert!(!s[1].breached && s[1].done, "reported within the hour");
        // Listing still running 29 hours after the report: breached though not done.
        assert_eq!(s[2].elapsed_secs, Some(29 * HOUR));
        assert!(s[2].breached && !s[2].done);
        assert_eq!(s[3].elapsed_secs, None);
        assert!(!s[3].breached);
        assert_eq!(breaches(&m, &Targets::default(), now), 2);
    }

    #[test]
    fn an_asymptomatic_case_has_no_detection_timer_and_a_quick_case_no_breach() {
        let t0 = Timestamp(1_000_000);
        let m = Milestones {
            onset: None,
            detected: Some(t0),
            reported: Some(t0.plus(HOUR)),
            contacts_listed: Some(t0.plus(5 * HOUR)),
            contacts_quarantined: Some(t0.plus(20 * HOUR)),
        };
        let s = timers(&m, &Targets::default(), t0.plus(100 * HOUR));
        assert_eq!(s[0].elapsed_secs, None);
        assert!(s.iter().all(|x| !x.breached), "{s:?}");
        assert!(s[1..].iter().all(|x| x.done));
    }
}
