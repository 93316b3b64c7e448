//! Close contacts (密接), secondary contacts (次密接) and source tracing of a case, over a
//! snapshot of the check-in index and the population (PROTOCOL.md §2).

use crate::index::{Scan, TraceIndex};
use crate::population::Population;
use crate::presence::{Interval, MAX_STAY, Overlap, clip, overlap, presence, touching};
use std::collections::{BTreeMap, HashMap, HashSet};
use xikang_domain::event::CaseKind;
use xikang_domain::policy::TracingPolicy;
use xikang_domain::time::DAY;
use xikang_domain::{PersonId, Timestamp, VenueId};

/// A case to trace: who, what kind, when symptoms began (none for an asymptomatic
/// infection), when the positive sample was taken, and when the case was isolated (none
/// while not yet isolated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub person: PersonId,
    pub kind: CaseKind,
    pub onset: Option<Timestamp>,
    pub sampled: Timestamp,
    pub isolated: Option<Timestamp>,
}

impl Case {
    /// Symptom onset, or the sampling time when there is no onset (asymptomatic).
    pub fn anchor(&self) -> Timestamp {
        self.onset.unwrap_or(self.sampled)
    }

    /// The exposure window `[anchor − days, isolation)`, or `[…, now)` while not isolated.
    pub fn exposure_window(&self, days: u32, now: Timestamp) -> Interval {
        Interval {
            start: self.anchor().plus(-i64::from(days) * DAY),
            end: self.isolated.unwrap_or(now),
        }
    }
}

/// Why someone is a contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContactRule {
    /// Present at the same venue as the case for at least the policy's minutes.
    Venue,
    /// Lives in the same household.
    Household,
    /// Works (or studies) at the same workplace, and the case worked inside the window.
    Workplace,
}

impl ContactRule {
    /// Lower-case name, as on the wire (`venue`, `household`, `workplace`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContactRule::Venue => "venue",
            ContactRule::Household => "household",
            ContactRule::Workplace => "workplace",
        }
    }
}

/// One reason a person is a close contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub rule: ContactRule,
    /// The venue shared (venue rule) or the workplace's venue (workplace rule).
    pub venue: Option<VenueId>,
    /// The case's presence at the venue that overlaps the contact's (venue rule only; for
    /// the workplace rule the case's presence at work is in
    /// [`CloseContacts::case_presence`] under the workplace's venue, for the household rule
    /// the exposure is the whole [`CloseContacts::window`]).
    pub case_presence: Vec<Interval>,
    /// The contact's presence at the venue that overlaps the case's (venue rule only).
    pub contact_presence: Vec<Interval>,
    /// Seconds both were at the venue (venue rule only; 0 otherwise).
    pub overlap_secs: i64,
    /// When this exposure began and ended.
    pub first: Timestamp,
    pub last: Timestamp,
}

/// A close contact: one record per person, all evidence merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub person: PersonId,
    pub first_exposure: Timestamp,
    pub last_exposure: Timestamp,
    /// Sorted by rule, then venue.
    pub evidence: Vec<Evidence>,
}

impl Contact {
    /// Seconds of venue co-presence with the case, over all venues.
    pub fn overlap_secs(&self) -> i64 {
        self.evidence.iter().map(|e| e.overlap_secs).sum()
    }

    /// Whether this rule made the person a contact.
    pub fn has_rule(&self, rule: ContactRule) -> bool {
        self.evidence.iter().any(|e| e.rule == rule)
    }

    fn from_evidence(person: u32, mut evidence: Vec<Evidence>) -> Contact {
        evidence.sort_by_key(|e| (e.rule, e.venue, e.first));
        let first = evidence
            .iter()
            .map(|e| e.first)
            .min()
            .unwrap_or(Timestamp(0));
        let last = evidence
            .iter()
            .map(|e| e.last)
            .max()
            .unwrap_or(Timestamp(0));
        Contact {
            person: PersonId(person),
            first_exposure: first,
            last_exposure: last,
            evidence,
        }
    }
}

/// A case's close contacts and what the case did in its exposure window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseContacts {
    pub case: PersonId,
    pub window: Interval,
    /// The case's presence at each venue inside the window, by venue.
    pub case_presence: Vec<(VenueId, Vec<Interval>)>,
    /// Sorted by person; the case is never among them.
    pub contacts: Vec<Contact>,
}

impl CloseContacts {
    /// Whether `person` is one of the close contacts.
    pub fn contains(&self, person: PersonId) -> bool {
        self.contacts
            .binary_search_by_key(&person, |c| c.person)
            .is_ok()
    }
}

/// A household or workplace shared with one or more close contacts during their exposure:
/// everyone else in it is a secondary contact. Kept once per group, so a workplace of 500
/// with 40 close contacts in it is one group, not 20,000 pieces of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedGroup {
    /// Household or workplace.
    pub rule: ContactRule,
    /// The workplace's venue (workplace groups).
    pub venue: Option<VenueId>,
    /// The close contacts in this group, sorted.
    pub via: Vec<PersonId>,
    /// From the earliest close contact's first exposure (household) or presence at work
    /// (workplace) to the latest end of it.
    pub first: Timestamp,
    pub last: Timestamp,
}

/// A secondary contact: one record per person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryContact {
    pub person: PersonId,
    pub first_exposure: Timestamp,
    pub last_exposure: Timestamp,
    /// Indexes into [`SecondaryContacts::groups`], sorted.
    pub groups: Vec<usize>,
}

/// The secondary contacts of a case and the groups they share with close contacts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecondaryContacts {
    pub groups: Vec<SharedGroup>,
    /// Sorted by person; never the case or a close contact.
    pub contacts: Vec<SecondaryContact>,
}

/// Someone who was at a venue with the case during the incubation period before onset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCandidate {
    pub person: PersonId,
    /// Seconds of co-presence with the case, over all venues.
    pub overlap_secs: i64,
    /// Whether this person is a known case (a likely source).
    pub is_case: bool,
    /// Where and how long, one entry per venue, sorted by venue.
    pub venues: Vec<(VenueId, i64)>,
    pub first_exposure: Timestamp,
    pub last_exposure: Timestamp,
}

/// A request tracing cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    /// The case's person is not in the population.
    #[error("person {0} is not in the population")]
    UnknownPerson(PersonId),
}

impl TraceError {
    /// Stable error code for the API envelope.
    pub fn code(&self) -> &'static str {
        match self {
            TraceError::UnknownPerson(_) => "unknown_person",
        }
    }
}

/// Runs the tracing rules of one policy over one index snapshot and population.
#[derive(Debug, Clone, Copy)]
pub struct Tracer<'a> {
    index: &'a TraceIndex,
    population: &'a Population,
    policy: &'a TracingPolicy,
    /// How far before a window a scan can lie and still give presence inside it.
    reach: i64,
}

/// One venue's co-presence with a person, found by [`Tracer::copresent`].
struct Shared {
    person: u32,
    venue: u32,
    case_presence: Vec<Interval>,
    contact_presence: Vec<Interval>,
    overlap: Overlap,
}

impl<'a> Tracer<'a> {
    /// A tracer over an index snapshot, the population and a policy's `[tracing]` rules.
    pub fn new(
        index: &'a TraceIndex,
        population: &'a Population,
        policy: &'a TracingPolicy,
    ) -> Tracer<'a> {
        Tracer {
            index,
            population,
            policy,
            reach: MAX_STAY.max(population.max_dwell_secs()),
        }
    }

    fn check(&self, person: PersonId) -> Result<(), TraceError> {
        if self.population.contains(person) {
            Ok(())
        } else {
            Err(TraceError::UnknownPerson(person))
        }
    }

    /// `person`'s presence at each venue, cut to `[lo, hi)`, sorted by venue.
    pub(crate) fn presence_of(&self, person: u32, lo: i64, hi: i64) -> Vec<(u32, Vec<(i64, i64)>)> {
        let mut scans = Vec::new();
        self.index
            .person_scans(person, lo - self.reach, hi + self.reach, &mut scans);
        let mut out = Vec::new();
        let mut one: Vec<Scan> = Vec::new();
        for run in scans.chunk_by(|x, y| x.0 == y.0) {
            one.clear();
            one.extend(run.iter().map(|s| s.1));
            let mut ivs = Vec::new();
            presence(&one, self.population.dwell_secs(run[0].0), &mut ivs);
            clip(&mut ivs, lo, hi);
            if !ivs.is_empty() {
                out.push((run[0].0, ivs));
            }
        }
        out
    }

    /// Everyone (but `case`) whose presence at one of the case's venues overlaps the case's
    /// there by at least `min_secs` (and at least a second).
    fn copresent(
        &self,
        case: u32,
        presence_by_venue: &[(u32, Vec<(i64, i64)>)],
        min_secs: i64,
        mut found: impl FnMut(Shared),
    ) {
        let mut scans = Vec::new();
        let mut one: Vec<Scan> = Vec::new();
        let mut ivs = Vec::new();
        for (venue, case_ivs) in presence_by_venue {
            let (Some(first), Some(last)) = (case_ivs.first(), case_ivs.last()) else {
                continue;
            };
            self.index.venue_scans(
                *venue,
                first.0 - self.reach,
                last.1 + self.reach,
                &mut scans,
            );
            let dwell = self.population.dwell_secs(*venue);
            for run in scans.chunk_by(|x, y| x.0 == y.0) {
                let person = run[0].0;
                if person == case {
                    continue;
                }
                one.clear();
                one.extend(run.iter().map(|s| s.1));
                ivs.clear();
                presence(&one, dwell, &mut ivs);
                let o = overlap(case_ivs, &ivs);
                if o.secs > 0 && o.secs >= min_secs {
                    found(Shared {
                        person,
                        venue: *venue,
                        case_presence: touching(case_ivs, &ivs),
                        contact_presence: touching(&ivs, case_ivs),
                        overlap: o,
                    });
                }
            }
        }
    }

    /// The close contacts of `case`, with evidence. `now` ends the window of a case not yet
    /// isolated.
    pub fn close_contacts(&self, case: &Case, now: Timestamp) -> Result<CloseContacts, TraceError> {
        self.check(case.person)?;
        let window = case.exposure_window(self.policy.exposure_window_days, now);
        let (lo, hi) = (window.start.0, window.end.0);
        let me = case.person.0;
        let mut result = CloseContacts {
            case: case.person,
            window,
            case_presence: Vec::new(),
            contacts: Vec::new(),
        };
        if hi <= lo {
            return Ok(result);
        }
        let case_presence = self.presence_of(me, lo, hi);
        let mut evidence: BTreeMap<u32, Vec<Evidence>> = BTreeMap::new();
        let min_secs = i64::from(self.policy.close_contact_minutes) * 60;
        self.copresent(me, &case_presence, min_secs, |s| {
            evidence.entry(s.person).or_default().push(Evidence {
                rule: ContactRule::Venue,
                venue: Some(VenueId(s.venue)),
                case_presence: s.case_presence,
                contact_presence: s.contact_presence,
                overlap_secs: s.overlap.secs,
                first: Timestamp(s.overlap.first),
                last: Timestamp(s.overlap.last),
            });
        });
        if self.policy.household {
            for &p in self.population.household_members(case.person) {
                if p != me {
                    evidence.entry(p).or_default().push(Evidence {
                        rule: ContactRule::Household,
                        venue: None,
                        case_presence: Vec::new(),
                        contact_presence: Vec::new(),
                        overlap_secs: 0,
                        first: window.start,
                        last: window.end,
                    });
                }
            }
        }
        if self.policy.workplace
            && let Some(work) = self.population.workplace_venue(case.person)
        {
            let worked = case_presence.iter().find(|(v, _)| *v == work.0);
            if let Some((_, ivs)) = worked {
                let (first, last) = (ivs[0].0, ivs[ivs.len() - 1].1);
                for &p in self.population.workplace_members(case.person) {
                    if p != me {
                        evidence.entry(p).or_default().push(Evidence {
                            rule: ContactRule::Workplace,
                            venue: Some(work),
                            case_presence: Vec::new(),
                            contact_presence: Vec::new(),
                            overlap_secs: 0,
                            first: Timestamp(first),
                            last: Timestamp(last),
                        });
                    }
                }
            }
        }
        result.contacts = evidence
            .into_iter()
            .map(|(p, ev)| Contact::from_evidence(p, ev))
            .collect();
        result.case_presence = case_presence
            .into_iter()
            .map(|(v, ivs)| (VenueId(v), ivs.into_iter().map(Interval::of).collect()))
            .collect();
        Ok(result)
    }

    /// The secondary contacts of a case: the household and workplace of each close contact,
    /// from the contact's first exposure until `quarantined(contact)` (or `now` when not
    /// known); the workplace only if the contact was at work in that time. Nobody who is the
    /// case or a close contact is a secondary contact. Empty when the policy has secondary
    /// contacts off; the policy's household and workplace switches apply here too.
    pub fn secondary_contacts(
        &self,
        close: &CloseContacts,
        quarantined: impl Fn(PersonId) -> Option<Timestamp>,
        now: Timestamp,
    ) -> SecondaryContacts {
        let mut out = SecondaryContacts::default();
        if !self.policy.secondary_contacts {
            return out;
        }
        // A person is in one household and at most one workplace, so (rule, first member)
        // names a group.
        let mut groups: HashMap<(ContactRule, u32), usize> = HashMap::new();
        let mut members: Vec<&[u32]> = Vec::new();
        let mut join = |out: &mut SecondaryContacts,
                        rule,
                        venue,
                        slice: &'a [u32],
                        via: PersonId,
                        first: i64,
                        last: i64| {
            let Some(&key) = slice.first() else { return };
            let i = *groups.entry((rule, key)).or_insert_with(|| {
                out.groups.push(SharedGroup {
                    rule,
                    venue,
                    via: Vec::new(),
                    first: Timestamp(first),
                    last: Timestamp(last),
                });
                members.push(slice);
                out.groups.len() - 1
            });
            let g = &mut out.groups[i];
            g.via.push(via);
            g.first = g.first.min(Timestamp(first));
            g.last = g.last.max(Timestamp(last));
        };
        for c in &close.contacts {
            let (lo, hi) = (c.first_exposure.0, quarantined(c.person).unwrap_or(now).0);
            if hi <= lo {
                continue;
            }
            if self.policy.household {
                let slice = self.population.household_members(c.person);
                join(
                    &mut out,
                    ContactRule::Household,
                    None,
                    slice,
                    c.person,
                    lo,
                    hi,
                );
            }
            if self.policy.workplace {
                let Some(work) = self.population.workplace_venue(c.person) else {
                    continue;
                };
                let presence = self.presence_of(c.person.0, lo, hi);
                let Some((_, ivs)) = presence.iter().find(|(v, _)| *v == work.0) else {
                    continue;
                };
                let slice = self.population.workplace_members(c.person);
                join(
                    &mut out,
                    ContactRule::Workplace,
                    Some(work),
                    slice,
                    c.person,
                    ivs[0].0,
                    ivs[ivs.len() - 1].1,
                );
            }
        }
        let excluded: HashSet<u32> = close
            .contacts
            .iter()
            .map(|c| c.person.0)
            .chain([close.case.0])
            .collect();
        let mut by_person: HashMap<u32, SecondaryContact> = HashMap::new();
        for (i, (g, slice)) in out.groups.iter_mut().zip(&members).enumerate() {
            g.via.sort_unstable();
            for &p in slice.iter().filter(|p| !excluded.contains(p)) {
                let s = by_person.entry(p).or_insert_with(|| SecondaryContact {
                    person: PersonId(p),
                    first_exposure: g.first,
                    last_exposure: g.last,
                    groups: Vec::new(),
                });
                s.first_exposure = s.first_exposure.min(g.first);
                s.last_exposure = s.last_exposure.max(g.last);
                s.groups.push(i);
            }
        }
        out.contacts = by_person.into_values().collect();
        out.contacts.sort_unstable_by_key(|s| s.person);
        out
    }

    /// Source tracing: everyone who was at a venue with the case in the incubation period
    /// before onset (`[anchor − incubation_days, anchor)`), ranked by seconds of co-presence
    /// (most first), known cases flagged.
    pub fn sources(
        &self,
        case: &Case,
        known_cases: &HashSet<PersonId>,
    ) -> Result<Vec<SourceCandidate>, TraceError> {
        self.check(case.person)?;
        let hi = case.anchor().0;
        let lo = hi - i64::from(self.policy.incubation_days) * DAY;
        let case_presence = self.presence_of(case.person.0, lo, hi);
        let mut by_person: BTreeMap<u32, SourceCandidate> = BTreeMap::new();
        self.copresent(case.person.0, &case_presence, 1, |s| {
            let c = by_person
                .entry(s.person)
                .or_insert_with(|| SourceCandidate {
                    person: PersonId(s.person),
                    overlap_secs: 0,
                    is_case: known_cases.contains(&PersonId(s.person)),
                    venues: Vec::new(),
                    first_exposure: Timestamp(s.overlap.first),
                    last_exposure: Timestamp(s.overlap.last),
                });
            c.overlap_secs += s.overlap.secs;
            c.venues.push((VenueId(s.venue), s.overlap.secs));
            c.first_exposure = c.first_exposure.min(Timestamp(s.overlap.first));
            c.last_exposure = c.last_exposure.max(Timestamp(s.overlap.last));
        });
        let mut out: Vec<SourceCandidate> = by_person.into_values().collect();
        for c in &mut out {
            c.venues.sort_unstable();
        }
        out.sort_by_key(|c| {
            (
                std::cmp::Reverse(c.overlap_secs),
                c.first_exposure,
                c.person,
            )
        });
        Ok(out)
    }

    /// The close contacts of many cases, spread over the available cores; one result per
    /// case, in the order given.
    pub fn close_contacts_batch(
        &self,
        cases: &[Case],
        now: Timestamp,
    ) -> Vec<Result<CloseContacts, TraceError>> {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(cases.len().max(1));
        if threads <= 1 || cases.len() < 8 {
            return cases.iter().map(|c| self.close_contacts(c, now)).collect();
        }
        let chunk = cases.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = cases
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|c| self.close_contacts(c, now))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(cases.len());
            for h in handles {
                match h.join() {
                    Ok(part) => out.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            out
        })
    }
}
