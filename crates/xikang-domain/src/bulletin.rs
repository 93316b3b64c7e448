//! The daily bulletin (疫情通报): the published figures for one Asia/Shanghai calendar day,
//! computed from the authority log alone, so that the press office's numbers are the log's.
//!
//! Every figure counts by the day an event was *logged* (reported), so the bulletin of a
//! past day, computed now from the log, is the one that could have been published that
//! night: nothing logged later changes it. Definitions (each a count of distinct cases or
//! people), following the cases' course (`crate::case`):
//! - a case is *published* — new that day — when it becomes confirmed or asymptomatic: its
//!   registration as such, or the city CDC's re-check of a suspected case (`case_rechecked`);
//!   suspected and excluded cases are never published. It is *imported* when its person has
//!   an `Arrived` event in the `imported_window_days` before, *local* otherwise;
//! - a reclassification moves a case between the confirmed and asymptomatic totals; one from
//!   asymptomatic to confirmed is also reported that day (无症状感染者转为确诊病例);
//! - *discharged* (治愈出院) and *deaths* count published cases on the day it was logged;
//! - *existing* (现有) cases are the published ones neither discharged nor dead;
//! - *cumulative* figures count everything logged up to the end of the day;
//! - a *close contact traced* is a person ever designated a close contact; they are *under
//!   medical observation* until their designation is released or their quarantine ends, and
//!   *released* afterwards (designated again later, they are under observation again).

use crate::event::{CaseKind, ContactKind, EventBody, StoredEvent};
use crate::ids::{CaseId, PersonId};
use crate::time::{CivilDay, DAY, Timestamp};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// How many days before its publication an arrival makes a case imported.
pub const IMPORTED_WINDOW_DAYS: u32 = 14;

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
    /// Asymptomatic infections reclassified as confirmed cases that day (not in
    /// `new_confirmed`: they were published before).
    pub asymptomatic_to_confirmed: u64,
    pub discharged: u64,
    pub deaths: u64,
    pub cumulative_confirmed: u64,
    pub cumulative_asymptomatic: u64,
    pub cumulative_discharged: u64,
    pub cumulative_deaths: u64,
    /// Existing (现有) confirmed cases: published, neither discharged nor dead.
    pub existing_confirmed: u64,
    /// Existing asymptomatic infections under medical observation.
    pub existing_asymptomatic: u64,
    /// Existing cases of both kinds (`existing_confirmed + existing_asymptomatic`).
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

/// What one logged event did to a case, for the figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaseChange {
    /// Became confirmed or asymptomatic (registration as such, or the city's re-check).
    Published {
        case: CaseId,
        kind: CaseKind,
        imported: bool,
    },
    Reclassified {
        case: CaseId,
        to: CaseKind,
    },
    Discharged {
        case: CaseId,
    },
    Died {
        case: CaseId,
    },
}

/// Where a published case stands at the end of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Treated,
    Discharged,
    Died,
}

/// Folds the log once and answers for any day up to the last event (the dashboard draws a
/// fortnight of bulletins from one pass; the server keeps one following its log).
#[derive(Debug, Clone)]
pub struct Accumulator {
    window: i64,
    arrivals: HashMap<PersonId, Vec<Timestamp>>,
    /// (logged at, change), in log order.
    cases: Vec<(Timestamp, CaseChange)>,
    /// (at, person, observing after this event), in log order.
    contacts: Vec<(Timestamp, PersonId, bool)>,
}

impl Accumulator {
    pub fn new(imported_window_days: u32) -> Accumulator {
        Accumulator {
            window: i64::from(imported_window_days) * DAY,
            arrivals: HashMap::new(),
            cases: Vec::new(),
            contacts: Vec::new(),
        }
    }

    fn imported(&self, person: PersonId, at: Timestamp) -> bool {
        self.arrivals
            .get(&person)
            .is_some_and(|v| v.iter().any(|a| *a <= at && a.0 >= at.0 - self.window))
    }

    /// Adds one event (in log order).
    pub fn add(&mut self, e: &StoredEvent) {
        let change = match &e.body {
            EventBody::Arrived { person, at, .. } => {
                self.arrivals.entry(*person).or_default().push(*at);
                None
            }
            EventBody::CaseRegistered {
                case,
                person,
                case_kind,
                ..
            } => match case_kind {
                CaseKind::Suspected => None,
                kind => Some(CaseChange::Published {
                    case: *case,
                    kind: *kind,
                    imported: self.imported(*person, e.at),
                }),
            },
            EventBody::CaseRechecked {
                case,
                person,
                verdict,
                ..
            } => verdict.kind().map(|kind| CaseChange::Published {
                case: *case,
                kind,
                imported: self.imported(*person, e.at),
            }),
            EventBody::CaseReclassified { case, to, .. } => Some(CaseChange::Reclassified {
                case: *case,
                to: *to,
            }),
            EventBody::CaseDischarged { case, .. } => Some(CaseChange::Discharged { case: *case }),
            EventBody::CaseDied { case, .. } => Some(CaseChange::Died { case: *case }),
            EventBody::ContactDesignated {
                person,
                contact_kind: ContactKind::Close,
                ..
            } => {
                self.contacts.push((e.at, *person, true));
                None
            }
            EventBody::ContactReleased { person, .. }
            | EventBody::QuarantineEnded { person, .. } => {
                self.contacts.push((e.at, *person, false));
                None
            }
            _ => None,
        };
        if let Some(c) = change {
            self.cases.push((e.at, c));
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
        let mut cases: HashMap<CaseId, (CaseKind, Standing)> = HashMap::new();
        fn total(b: &mut Bulletin, kind: CaseKind) -> Option<&mut u64> {
            match kind {
                CaseKind::Confirmed => Some(&mut b.cumulative_confirmed),
                CaseKind::Asymptomatic => Some(&mut b.cumulative_asymptomatic),
                CaseKind::Suspected => None,
            }
        }
        for &(at, change) in self.cases.iter().filter(|c| c.0 < end) {
            let today = at >= start;
            match change {
                CaseChange::Published {
                    case,
                    kind,
                    imported,
                } => {
                    if cases.contains_key(&case) {
                        continue;
                    }
                    let Some(t) = total(&mut b, kind) else {
                        continue;
                    };
                    *t += 1;
                    cases.insert(case, (kind, Standing::Treated));
                    if today {
                        let new = match kind {
                            CaseKind::Confirmed => &mut b.new_confirmed,
                            _ => &mut b.new_asymptomatic,
                        };
                        if imported {
                            new.imported += 1;
                        } else {
                            new.local += 1;
                        }
                    }
                }
                CaseChange::Reclassified { case, to } => {
                    let Some((kind, _)) = cases.get_mut(&case) else {
                        continue;
                    };
                    let from = *kind;
                    if from == to || to == CaseKind::Suspected {
                        continue;
                    }
                    *kind = to;
                    if let Some(t) = total(&mut b, from) {
                        *t = t.saturating_sub(1);
                    }
                    if let Some(t) = total(&mut b, to) {
                        *t += 1;
                    }
                    if today && to == CaseKind::Confirmed {
                        b.asymptomatic_to_confirmed += 1;
                    }
                }
                CaseChange::Discharged { case } | CaseChange::Died { case } => {
                    // A case never published (suspected, excluded) is no figure.
                    let Some((_, standing)) = cases.get_mut(&case) else {
                        continue;
                    };
                    if *standing != Standing::Treated {
                        continue;
                    }
                    if matches!(change, CaseChange::Discharged { .. }) {
                        *standing = Standing::Discharged;
                        b.cumulative_discharged += 1;
                        b.discharged += u64::from(today);
                    } else {
                        *standing = Standing::Died;
                        b.cumulative_deaths += 1;
                        b.deaths += u64::from(today);
                    }
                }
            }
        }
        for (kind, standing) in cases.values() {
            if *standing == Standing::Treated {
                match kind {
                    CaseKind::Confirmed => b.existing_confirmed += 1,
                    _ => b.existing_asymptomatic += 1,
                }
            }
        }
        b.under_treatment = b.existing_confirmed + b.existing_asymptomatic;
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

/// The language of a bulletin's published text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Zh,
    En,
}

impl Language {
    /// Parses `zh` or `en`.
    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "zh" | "zh-CN" => Some(Language::Zh),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

/// `YYYY-MM-DD` of a bulletin's `YYYYMMDD` day.
pub fn iso_day(day: &str) -> String {
    format!(
        "{}-{}-{}",
        day.get(..4).unwrap_or(""),
        day.get(4..6).unwrap_or(""),
        day.get(6..8).unwrap_or("")
    )
}

/// `count` and the noun, singular for one and plural otherwise ("1 new confirmed case",
/// "0 new confirmed cases").
fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "was" or "were" (and "has"/"have", "is"/"are") for a count.
fn verb(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// The bulletin in its published form, as the press office words it.
pub fn text(lang: Language, b: &Bulletin) -> String {
    let m: u32 = b.day.get(4..6).and_then(|s| s.parse().ok()).unwrap_or(0);
    let d: u32 = b.day.get(6..8).and_then(|s| s.parse().ok()).unwrap_or(0);
    match lang {
        Language::Zh => format!(
            "{m}月{d}日0—24时，全市新增本土确诊病例{}例、本土无症状感染者{}例，新增输入确诊病例{}例、输入无症状感染者{}例；无症状感染者转为确诊病例{}例；治愈出院{}例，死亡{}例。\n\
             截至{m}月{d}日24时，全市累计报告确诊病例{}例、无症状感染者{}例，累计治愈出院{}例，累计死亡{}例；现有确诊病例{}例，现有无症状感染者{}例（医学观察中）。\n\
             当日新增密切接触者{}人。累计追踪密切接触者{}人，已解除医学观察{}人，尚在医学观察{}人。\n",
            b.new_confirmed.local,
            b.new_asymptomatic.local,
            b.new_confirmed.imported,
            b.new_asymptomatic.imported,
            b.asymptomatic_to_confirmed,
            b.discharged,
            b.deaths,
            b.cumulative_confirmed,
            b.cumulative_asymptomatic,
            b.cumulative_discharged,
            b.cumulative_deaths,
            b.existing_confirmed,
            b.existing_asymptomatic,
            b.new_close_contacts,
            b.close_contacts_traced,
            b.close_contacts_released,
            b.close_contacts_under_observation,
        ),
        Language::En => {
            let day = iso_day(&b.day);
            let reclassified = b.asymptomatic_to_confirmed;
            let asymptomatic = |n| count(n, "asymptomatic infection", "asymptomatic infections");
            let confirmed = |n| count(n, "confirmed case", "confirmed cases");
            format!(
                "From 0:00 to 24:00 on {day}, the city reported {}, {}, {} and {}; {} {} reclassified as confirmed; {} {} discharged and {} {} reported.\n\
                 As of 24:00 on {day}, the city has reported {} and {} in total; {} {} been discharged and {} recorded. {} {} under treatment and {} {} under medical observation.\n\
                 {} {} identified. {} {} been traced in total; {} {} been released from medical observation and {} {} still under observation.\n",
                count(
                    b.new_confirmed.local,
                    "new local confirmed case",
                    "new local confirmed cases"
                ),
                count(
                    b.new_asymptomatic.local,
                    "new local asymptomatic infection",
                    "new local asymptomatic infections"
                ),
                count(
                    b.new_confirmed.imported,
                    "new imported confirmed case",
                    "new imported confirmed cases"
                ),
                count(
                    b.new_asymptomatic.imported,
                    "new imported asymptomatic infection",
                    "new imported asymptomatic infections"
                ),
                asymptomatic(reclassified),
                verb(reclassified, "was", "were"),
                count(b.discharged, "patient", "patients"),
                verb(b.discharged, "was", "were"),
                count(b.deaths, "death", "deaths"),
                verb(b.deaths, "was", "were"),
                confirmed(b.cumulative_confirmed),
                asymptomatic(b.cumulative_asymptomatic),
                count(b.cumulative_discharged, "patient", "patients"),
                verb(b.cumulative_discharged, "has", "have"),
                count(b.cumulative_deaths, "death", "deaths"),
                confirmed(b.existing_confirmed),
                verb(b.existing_confirmed, "is", "are"),
                asymptomatic(b.existing_asymptomatic),
                verb(b.existing_asymptomatic, "is", "are"),
                count(
                    b.new_close_contacts,
                    "new close contact",
                    "new close contacts"
                ),
                verb(b.new_close_contacts, "was", "were"),
                count(b.close_contacts_traced, "close contact", "close contacts"),
                verb(b.close_contacts_traced, "has", "have"),
                b.close_contacts_released,
                verb(b.close_contacts_released, "has", "have"),
                b.close_contacts_under_observation,
                verb(b.close_contacts_under_observation, "is", "are"),
            )
        }
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
    fn a_suspected_case_counts_when_the_city_confirms_it_and_leaves_the_existing_on_discharge() {
        use crate::case::Verdict;
        let (p, c) = (PersonId(50), CaseId(9));
        let rechecked = |seq, t, verdict| {
            ev(
                seq,
                t,
                EventBody::CaseRechecked {
                    case: c,
                    person: p,
                    verdict,
                    screened_by: "tracer:district".into(),
                    at: t,
                },
            )
        };
        let log = vec![
            case(1, at(0, 8), 9, 50, CaseKind::Suspected),
            ev(
                2,
                at(0, 9),
                EventBody::CaseScreened {
                    case: c,
                    person: p,
                    verdict: Verdict::Asymptomatic,
                    at: at(0, 9),
                },
            ),
            rechecked(3, at(1, 9), Verdict::Asymptomatic),
            ev(
                4,
                at(2, 9),
                EventBody::CaseReclassified {
                    case: c,
                    person: p,
                    from: CaseKind::Asymptomatic,
                    to: CaseKind::Confirmed,
                    at: at(2, 9),
                },
            ),
            ev(
                5,
                at(3, 9),
                EventBody::CaseDischarged {
                    case: c,
                    person: p,
                    at: at(3, 9),
                },
            ),
            // A second case that was excluded, then one that died: never published / dead.
            case(6, at(3, 10), 10, 51, CaseKind::Suspected),
            ev(
                7,
                at(3, 11),
                EventBody::CaseRechecked {
                    case: CaseId(10),
                    person: PersonId(51),
                    verdict: Verdict::Excluded,
                    screened_by: "tracer:district".into(),
                    at: at(3, 11),
                },
            ),
            case(8, at(3, 12), 11, 52, CaseKind::Confirmed),
            ev(
                9,
                at(3, 13),
                EventBody::CaseDied {
                    case: CaseId(11),
                    person: PersonId(52),
                    at: at(3, 13),
                },
            ),
        ];
        let b0 = bulletin(&log, d(0), 14);
        assert_eq!(
            b0.cumulative_asymptomatic + b0.cumulative_confirmed,
            0,
            "suspected"
        );
        let b1 = bulletin(&log, d(1), 14);
        assert_eq!(b1.new_asymptomatic.local, 1);
        assert_eq!((b1.existing_asymptomatic, b1.under_treatment), (1, 1));
        let b2 = bulletin(&log, d(2), 14);
        assert_eq!(
            b2.new_confirmed.total(),
            0,
            "a reclassification is no new case"
        );
        assert_eq!(b2.asymptomatic_to_confirmed, 1);
        assert_eq!(
            (b2.cumulative_confirmed, b2.cumulative_asymptomatic),
            (1, 0)
        );
        assert_eq!((b2.existing_confirmed, b2.existing_asymptomatic), (1, 0));
        let b3 = bulletin(&log, d(3), 14);
        assert_eq!((b3.discharged, b3.cumulative_discharged), (1, 1));
        assert_eq!((b3.deaths, b3.cumulative_deaths), (1, 1));
        assert_eq!(
            b3.new_confirmed.local, 1,
            "the case that died was new that day"
        );
        assert_eq!(b3.cumulative_confirmed, 2, "the excluded one never counts");
        assert_eq!(b3.under_treatment, 0);
        assert_eq!(bulletin(&log, d(4), 14).deaths, 0);
    }

    #[test]
    fn the_english_text_agrees_in_number_and_the_chinese_text_carries_every_figure() {
        let log = scenario();
        let b1 = bulletin(&log, d(1), 14);
        let en = text(Language::En, &b1);
        assert!(en.contains("0 new local confirmed cases,"), "{en}");
        assert!(en.contains("1 new local asymptomatic infection,"), "{en}");
        assert!(en.contains("1 patient was discharged"), "{en}");
        assert!(en.contains("0 deaths were reported"), "{en}");
        assert!(en.contains("1 new close contact was identified"), "{en}");
        assert!(en.contains("5 close contacts have been traced"), "{en}");
        assert!(en.contains("2 have been released"), "{en}");
        assert!(
            !en.contains("1 patients") && !en.contains("1 cases"),
            "{en}"
        );
        let zh = text(Language::Zh, &b1);
        assert!(zh.starts_with("7月11日0—24时"), "{zh}");
        assert!(zh.contains("本土无症状感染者1例"), "{zh}");
        assert!(
            zh.contains("累计追踪密切接触者5人，已解除医学观察2人，尚在医学观察3人"),
            "{zh}"
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
