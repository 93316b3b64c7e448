//! Close contacts (密接), secondary contacts (次密接) and source tracing of a case, over a
//! snapshot of the check-in index and the population (PROTOCOL.md §2).

use crate::index::{Packed, Scan, TraceIndex};
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

    /// A contact from its evidence, already sorted by rule, venue and time.
    fn from_evidence(person: u32, evidence: Vec<Evidence>) -> Contact {
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

/// Buffers one thread reuses from case to case: a busy venue's scans over a week are
/// hundreds of kilobytes, and allocating them afresh for every case costs more (in page
/// faults) than the tracing itself.
#[derive(Default)]
struct Scratch {
    scans: Vec<u64>,
    one: Vec<Scan>,
    ivs: Vec<(i64, i64)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (taken out of the cell, so a nested call
/// just gets fresh ones).
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    let mut sc = SCRATCH.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let out = f(&mut sc);
    SCRATCH.with(|c| *c.borrow_mut() = sc);
    out
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
        with_scratch(|sc| {
            let packed = self.index.person_scans(
                person,
                lo.saturating_sub(self.reach),
                hi.saturating_add(self.reach),
                &mut sc.scans,
            );
            let mut out = Vec::new();
            for run in sc.scans.chunk_by(|x, y| Packed::key(*x) == Packed::key(*y)) {
                let venue = Packed::key(run[0]);
                sc.one.clear();
                sc.one.extend(run.iter().map(|&p| packed.scan(p)));
                let mut ivs = Vec::new();
                presence(&sc.one, self.population.dwell_secs(venue), &mut ivs);
                clip(&mut ivs, lo, hi);
                if !ivs.is_empty() {
                    out.push((venue, ivs));
                }
            }
            out
        })
    }

    /// `person`'s presence at one venue, cut to `[lo, hi)`.
    fn presence_at(&self, person: u32, venue: u32, lo: i64, hi: i64) -> Vec<(i64, i64)> {
        with_scratch(|sc| {
            let packed = self.index.person_scans(
                person,
                lo.saturating_sub(self.reach),
                hi.saturating_add(self.reach),
                &mut sc.scans,
            );
            sc.one.clear();
            sc.one.extend(
                sc.scans
                    .iter()
                    .filter(|&&p| Packed::key(p) == venue)
                    .map(|&p| packed.scan(p)),
            );
            let mut ivs = Vec::new();
            presence(&sc.one, self.population.dwell_secs(venue), &mut ivs);
            clip(&mut ivs, lo, hi);
            ivs
        })
    }

    /// Everyone (but `case`) whose presence at one of the case's venues overlaps the case's
    /// there by at least `min_secs(venue)` (and at least a second); venues where it is
    /// `None` are skipped.
    fn copresent(
        &self,
        case: u32,
        presence_by_venue: &[(u32, Vec<(i64, i64)>)],
        min_secs: impl Fn(u32) -> Option<i64>,
        mut found: impl FnMut(Shared),
    ) {
        with_scratch(|sc| {
            for (venue, case_ivs) in presence_by_venue {
                let (Some(first), Some(last)) = (case_ivs.first(), case_ivs.last()) else {
                    continue;
                };
                let Some(min_secs) = min_secs(*venue) else {
                    continue;
                };
                let packed = self.index.venue_scans(
                    *venue,
                    first.0.saturating_sub(self.reach),
                    last.1.saturating_add(self.reach),
                    &mut sc.scans,
                );
                let dwell = self.population.dwell_secs(*venue);
                for run in sc.scans.chunk_by(|x, y| Packed::key(*x) == Packed::key(*y)) {
                    let person = Packed::key(run[0]);
                    if person == case {
                        continue;
                    }
                    sc.one.clear();
                    sc.one.extend(run.iter().map(|&p| packed.scan(p)));
                    sc.ivs.clear();
                    presence(&sc.one, dwell, &mut sc.ivs);
                    let o = overlap(case_ivs, &sc.ivs);
                    if o.secs > 0 && o.secs >= min_secs {
                        found(Shared {
                            person,
                            venue: *venue,
                            case_presence: touching(case_ivs, &sc.ivs),
                            contact_presence: touching(&sc.ivs, case_ivs),
                            overlap: o,
                        });
                    }
                }
            }
        })
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
        // Evidence is gathered flat and grouped by person at the end: one sort instead of a
        // map entry per contact (a case at a school has thousands).
        let mut evidence: Vec<(u32, Evidence)> = Vec::new();
        // The venue rule, per venue category (a table lookup per venue of the case).
        let inherited = i64::from(self.policy.close_contact_minutes) * 60;
        let min_secs = |v| self.population.close_contact_secs(v, inherited);
        self.copresent(me, &case_presence, min_secs, |s| {
            evidence.push((
                s.person,
                Evidence {
                    rule: ContactRule::Venue,
                    venue: Some(VenueId(s.venue)),
                    case_presence: s.case_presence,
                    contact_presence: s.contact_presence,
                    overlap_secs: s.overlap.secs,
                    first: Timestamp(s.overlap.first),
                    last: Timestamp(s.overlap.last),
                },
            ));
        });
        if self.policy.household {
            for &p in self.population.household_members(case.person) {
                if p != me {
                    evidence.push((
                        p,
                        Evidence {
                            rule: ContactRule::Household,
                            venue: None,
                            case_presence: Vec::new(),
                            contact_presence: Vec::new(),
                            overlap_secs: 0,
                            first: window.start,
                            last: window.end,
                        },
                    ));
                }
            }
        }
        // "Worked" = had presence at the workplace's venue inside the window.
        let work = self
            .population
            .workplace_venue(case.person)
            .filter(|_| self.policy.workplace);
        let at_work = work.and_then(|w| case_presence.iter().find(|(v, _)| *v == w.0));
        if let (Some(work), Some((_, ivs))) = (work, at_work) {
            let (first, last) = (ivs[0].0, ivs[ivs.len() - 1].1);
            for &p in self.population.workplace_members(case.person) {
                if p != me {
                    evidence.push((
                        p,
                        Evidence {
                            rule: ContactRule::Workplace,
                            venue: Some(work),
                            case_presence: Vec::new(),
                            contact_presence: Vec::new(),
                            overlap_secs: 0,
                            first: Timestamp(first),
                            last: Timestamp(last),
                        },
                    ));
                }
            }
        }
        evidence.sort_unstable_by_key(|(p, e)| (*p, e.rule, e.venue, e.first));
        let mut evidence = evidence.into_iter().peekable();
        while let Some((p, e)) = evidence.next() {
            let mut all = vec![e];
            while let Some((_, e)) = evidence.next_if(|(q, _)| *q == p) {
                all.push(e);
            }
            result.contacts.push(Contact::from_evidence(p, all));
        }
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
                let presence = self.presence_at(c.person.0, work.0, lo, hi);
                let (Some(first), Some(last)) = (presence.first(), presence.last()) else {
                    continue;
                };
                let slice = self.population.workplace_members(c.person);
                join(
                    &mut out,
                    ContactRule::Workplace,
                    Some(work),
                    slice,
                    c.person,
                    first.0,
                    last.1,
                );
            }
        }
        let excluded: HashSet<u32> = close
            .contacts
            .iter()
            .map(|c| c.person.0)
            .chain([close.case.0])
            .collect();
        // (person, group) pairs, sorted: one record per person without a map of 100,000s.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (i, (g, slice)) in out.groups.iter_mut().zip(&members).enumerate() {
            g.via.sort_unstable();
            pairs.extend(
                slice
                    .iter()
                    .filter(|p| !excluded.contains(p))
                    .map(|&p| (p, i as u32)),
            );
        }
        pairs.sort_unstable();
        for run in pairs.chunk_by(|x, y| x.0 == y.0) {
            let groups: Vec<usize> = run.iter().map(|&(_, g)| g as usize).collect();
            let first = groups.iter().map(|&g| out.groups[g].first).min();
            let last = groups.iter().map(|&g| out.groups[g].last).max();
            out.contacts.push(SecondaryContact {
                person: PersonId(run[0].0),
                first_exposure: first.unwrap_or(Timestamp(0)),
                last_exposure: last.unwrap_or(Timestamp(0)),
                groups,
            });
        }
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
        let lo = hi.saturating_sub(i64::from(self.policy.incubation_days) * DAY);
        let case_presence = self.presence_of(case.person.0, lo, hi);
        let mut by_person: BTreeMap<u32, SourceCandidate> = BTreeMap::new();
        // Every venue: whoever infected the case need not have been a close contact.
        self.copresent(
            case.person.0,
            &case_presence,
            |_| Some(1),
            |s| {
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
            },
        );
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
