//! The daily bulletin (疫情通报): the published figures for one Asia/Shanghai calendar day,
//! computed from the authority log alone, so that the press office's numbers are the log's.
//!
//! Definitions (each a count of distinct people or cases):
//! - a case is *new* on the day its `CaseRegistered` event was logged; it is *imported* when
//!   its person has an `Arrived` event in the `imported_window_days` before registration,
//!   *local* otherwise; suspected cases are not published;
//! - *discharged* on the day of the `CaseDischarged` event's `at`;
//! - *cumulative* figures count everything logged up to the end of the day;
//! - a *close contact traced* is a person ever designated a close contact; they are *under
//!   medical observation* until their designation is released or their quarantine ends, and
//!   *released* afterwards (designated again later, they are under observation again).

use crate::event::{CaseKind, ContactKind, EventBody, StoredEvent};
use crate::ids::PersonId;
use crate::time::{CivilDay, DAY, Timestamp};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// New cases split by origin.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Split {
    pub local: u64,
    pub imported: u64,
}

impl Split {
    /// Local plus imported.
    pub fn total(self) -> u64 {
        self.local + self.imported
    }
}

/// The figures of one day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Bulletin {
    /// The day, `YYYYMMDD`.
    pub day: String,
    pub new_confirmed: Split,
    pub new_asymptomatic: Split,
    pub discharged: u64,
    pub cumulative_confirmed: u64,
    pub cumulative_asymptomatic: u64,
    pub cumulative_discharged: u64,
    /// Confirmed and asymptomatic cases registered and not yet discharged.
    pub under_treatment: u64,
    pub new_close_contacts: u64,
    pub close_contacts_traced: u64,
    pub close_contacts_released: u64,
    pub close_contacts_under_observation: u64,
}

/// Computes the bulletin of `day` from the log (in log order). Events after the day are
/// ignored, so a bulletin for a past day never changes.
pub fn bulletin<'a>(
    events: impl IntoIterator<Item = &'a StoredEvent>,
    day: CivilDay,
    imported_window_days: u32,
) -> Bulletin {
    let mut acc = Accumulator::new(imported_window_days);
    for e in events {
        acc.add(e);
    }
    acc.bulletin(day)
}

/// Folds the log once and answers for any day up to the last event (the dashboard draws a
/// fortnight of bulletins from one pass).
#[derive(Debug, Clone)]
pub struct Accumulator {
    window: i64,
    arrivals: HashMap<PersonId, Vec<Timestamp>>,
    /// (registered at, kind, imported), in log order.
    cases: Vec<(Timestamp, CaseKind, bool)>,
    discharges: Vec<Timestamp>,
    /// (at, person, observing after this event), in log order.
    contacts: Vec<(Timestamp, PersonId, bool)>,
}

impl Accumulator {
    pub fn new(imported_window_days: u32) -> Accumulator {
        Accumulator {
            window: i64::from(imported_window_days) * DAY,
            arrivals: HashMap::new(),
            cases: Vec::new(),
            discharges: Vec::new(),
            contacts: Vec::new(),
        }
    }

    /// Adds one event (in log order).
    pub fn add(&mut self, e: &StoredEvent) {
        match &e.body {
            EventBody::Arrived { person, at, .. } => {
                self.arrivals.entry(*person).or_default().push(*at)
            }
            EventBody::CaseRegistered {
                person, case_kind, ..
            } => {
                let imported = self
                    .arrivals
                    .get(person)
                    .is_some_and(|v| v.iter().any(|a| *a <= e.at && a.0 >= e.at.0 - self.window));
                self.cases.push((e.at, *case_kind, imported));
            }
            EventBody::CaseDischarged { at, .. } => self.discharges.push(*at),
            EventBody::ContactDesignated {
                person,
                contact_kind: ContactKind::Close,
                ..
            } => self.contacts.push((e.at, *person, true)),
            EventBody::ContactReleased { person, .. }
            | EventBody::QuarantineEnded { person, .. } => {
                self.contacts.push((e.at, *person, false))
            }
            _ => {}
        }
    }

    /// The bulletin of `day` from what was added.
    pub fn bulletin(&self, day: CivilDay) -> Bulletin {
        let start = day.start();
        let end = CivilDay(day.0 + 1).start();
        let mut b = Bulletin {
            day: day.compact(),
            ..Bulletin::default()
        };
        for &(at, kind, imported) in self.cases.iter().filter(|c| c.0 < end) {
            let (new, cumulative) = match kind {
                CaseKind::Confirmed => (&mut b.new_confirmed, &mut b.cumulative_confirmed),
                CaseKind::Asymptomatic => (&mut b.new_asymptomatic, &mut b.cumulative_asymptomatic),
                CaseKind::Suspected => continue,
            };
            *cumulative += 1;
            if at >= start {
                if imported {
                    new.imported += 1;
                } else {
                    new.local += 1;
                }
            }
        }
        for &at in self.discharges.iter().filter(|t| **t < end) {
            b.cumulative_discharged += 1;
            if at >= start {
                b.discharged += 1;
            }
        }
        b.under_treatment = (b.cumulative_confirmed + b.cumulative_asymptomatic)
            .saturating_sub(b.cumulative_discharged);
        let mut observing: HashMap<PersonId, bool> = HashMap::new();
        let mut new_today: HashSet<PersonId> = HashSet::new();
        for &(at, person, designated) in self.contacts.iter().filter(|c| c.0 < end) {
            if designated {
                if at >= start && !observing.contains_key(&person) {
                    new_today.insert(person);
                }
                observing.insert(person, true);
            } else if let Some(o) = observing.get_mut(&person) {
                // A release of someone never designated close (a dismissed candidate, a
                // secondary contact's quarantine) is not a close-contact figure.
                *o = false;
            }
        }
        b.new_close_contacts = new_today.len() as u64;
        b.close_contacts_traced = observing.len() as u64;
        b.close_contacts_under_observation = observing.values().filter(|o| **o).count() as u64;
        b.close_contacts_released = b.close_contacts_traced - b.close_contacts_under_observation;
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{QuarantineKind, QuarantineReason, RiskLevel};
    use crate::ids::{CaseId, EventSeq, OrderId};

    /// 2022-07-10 in Asia/Shanghai.
    fn d(n: i32) -> CivilDay {
        CivilDay(CivilDay::parse("2022-07-10").map(|d| d.0).unwrap_or(0) + n)
    }

    /// An instant `hours` after the start of day `n`.
    fn at(n: i32, hours: i64) -> Timestamp {
        d(n).start().plus(hours * 3600)
    }

    fn ev(seq: u64, t: Timestamp, body: EventBody) -> StoredEvent {
        StoredEvent {
            seq: EventSeq(seq),
            at: t,
            actor: "test".into(),
            basis: "test".into(),
            body,
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    fn case(seq: u64, t: Timestamp, id: u64, person: u32, kind: CaseKind) -> StoredEvent {
        ev(
            seq,
            t,
            EventBody::CaseRegistered {
                case: CaseId(id),
                person: PersonId(person),
                case_kind: kind,
                onset: Some(t),
                sampled_at: None,
                isolated_at: None,
            },
        )
    }

    fn close(seq: u64, t: Timestamp, person: u32) -> StoredEvent {
        ev(
            seq,
            t,
            EventBody::ContactDesignated {
                person: PersonId(person),
                case: CaseId(1),
                contact_kind: ContactKind::Close,
                last_exposure: t,
            },
        )
    }

    /// The scenario with known figures: day 0 — two local confirmed, one imported
    /// asymptomatic (arrived 3 days before), one suspected, 4 close contacts; day 1 — one
    /// local asymptomatic, one discharge, 2 more close contacts (one of them already traced),
    /// one quarantine ended, one dismissed; day 2 — nothing new.
    fn scenario() -> Vec<StoredEvent> {
        let mut s = 0;
        let mut next = || {
            s += 1;
            s
        };
        vec![
            ev(
                next(),
                at(-3, 9),
                EventBody::Arrived {
                    person: PersonId(30),
                    origin: "310000".into(),
                    origin_risk: RiskLevel::Medium,
                    at: at(-3, 9),
                },
            ),
            // Registered the evening before day 0: not new on day 0, cumulative.
            case(next(), at(-1, 20), 1, 10, CaseKind::Confirmed),
            case(next(), at(0, 8), 2, 11, CaseKind::Confirmed),
            case(next(), at(0, 9), 3, 12, CaseKind::Confirmed),
            case(next(), at(0, 10), 4, 30, CaseKind::Asymptomatic),
            case(next(), at(0, 11), 5, 13, CaseKind::Suspected),
            close(next(), at(0, 12), 100),
            close(next(), at(0, 12), 101),
            close(next(), at(0, 13), 102),
            close(next(), at(0, 13), 103),
            case(next(), at(1, 8), 6, 14, CaseKind::Asymptomatic),
            ev(
                next(),
                at(1, 9),
                EventBody::CaseDischarged {
                    case: CaseId(1),
                    person: PersonId(10),
                    at: at(1, 9),
                },
            ),
            close(next(), at(1, 10), 103),
            close(next(), at(1, 10), 104),
            ev(
                next(),
                at(1, 11),
                EventBody::QuarantineOrdered {
                    order: OrderId(1),
                    person: PersonId(100),
                    quarantine_kind: QuarantineKind::Centralized,
                    reason: QuarantineReason::CloseContact,
                    start: at(0, 14),
                    planned_end: at(7, 14),
                },
            ),
            ev(
                next(),
                at(1, 15),
                EventBody::QuarantineEnded {
                    order: OrderId(1),
                    person: PersonId(100),
                    at: at(1, 15),
                },
            ),
            ev(
                next(),
                at(1, 16),
                EventBody::ContactReleased {
                    person: PersonId(101),
                    case: CaseId(1),
                    reason: "not there".into(),
                },
            ),
            // A dismissed candidate who was never designated is no close-contact figure.
            ev(
                next(),
                at(1, 17),
                EventBody::ContactReleased {
                    person: PersonId(200),
                    case: CaseId(1),
                    reason: "wrong person".into(),
                },
            ),
        ]
    }

    #[test]
    fn the_bulletin_of_each_day_has_the_scenarios_known_figures() {
        let log = scenario();
        let b0 = bulletin(&log, d(0), 14);
        assert_eq!(b0.day, "20220710");
        assert_eq!(
            b0.new_confirmed,
            Split {
                local: 2,
                imported: 0
            }
        );
        assert_eq!(
            b0.new_asymptomatic,
            Split {
                local: 0,
                imported: 1
            }
        );
        assert_eq!(b0.cumulative_confirmed, 3);
        assert_eq!(b0.cumulative_asymptomatic, 1);
        assert_eq!((b0.discharged, b0.cumulative_discharged), (0, 0));
        assert_eq!(b0.under_treatment, 4);
        assert_eq!(b0.new_close_contacts, 4);
        assert_eq!(
            (
                b0.close_contacts_traced,
                b0.close_contacts_released,
                b0.close_contacts_under_observation
            ),
            (4, 0, 4)
        );

        let b1 = bulletin(&log, d(1), 14);
        assert_eq!(b1.new_confirmed.total(), 0);
        assert_eq!(
            b1.new_asymptomatic,
            Split {
                local: 1,
                imported: 0
            }
        );
        assert_eq!((b1.discharged, b1.cumulative_discharged), (1, 1));
        assert_eq!(b1.under_treatment, 4);
        assert_eq!(b1.new_close_contacts, 1, "103 was traced on day 0 already");
        assert_eq!(
            (
                b1.close_contacts_traced,
                b1.close_contacts_released,
                b1.close_contacts_under_observation
            ),
            (5, 2, 3)
        );

        let b2 = bulletin(&log, d(2), 14);
        assert_eq!(b2.new_confirmed.total() + b2.new_asymptomatic.total(), 0);
        assert_eq!(b2.cumulative_confirmed, 3);
        assert_eq!(b2.close_contacts_traced, 5);
        assert_eq!(b2.new_close_contacts, 0);
    }

    #[test]
    fn a_past_days_bulletin_ignores_later_events_and_an_old_arrival_is_local() {
        let log = scenario();
        let before = bulletin(&log, d(-1), 14);
        assert_eq!(
            before.new_confirmed,
            Split {
                local: 1,
                imported: 0
            }
        );
        assert_eq!(before.cumulative_asymptomatic, 0);
        assert_eq!(before.close_contacts_traced, 0);
        // With a 2-day window the arrival 3 days before no longer makes the case imported.
        let b0 = bulletin(&log, d(0), 2);
        assert_eq!(
            b0.new_asymptomatic,
            Split {
                local: 1,
                imported: 0
            }
        );
    }

    #[test]
    fn one_accumulator_answers_every_day_like_separate_bulletins() {
        let log = scenario();
        let mut acc = Accumulator::new(14);
        for e in &log {
            acc.add(e);
        }
        for n in -2..4 {
            assert_eq!(acc.bulletin(d(n)), bulletin(&log, d(n), 14));
        }
    }
}
