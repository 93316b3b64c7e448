//! The projection: the in-memory state the server answers from — residents' facts, cases,
//! zones, appeals, the duty bookkeeping, the tracing workflow, the lab index and the log's
//! Merkle tree (for signed checkpoints) — with the
//! only [`Projection::apply`]. It is fed from the committed authority log in sequence order
//! (at start by [`crate::state::AppState::load`], then by the committer after each durable
//! write), and skips what it has already applied, so a second node could follow the same
//! log and hold the same state.

use crate::state::{read, write};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use xikang_domain::authority::{ledger_act, ledger_fact};
use xikang_domain::event::{CaseKind, EventBody, StoredEvent, ZoneLevel};
use xikang_domain::facts::{FactKind, PersonFacts};
use xikang_domain::merkle::{MerkleLog, leaf_hash};
use xikang_domain::policy::{Evaluation, Policy, evaluate};
use xikang_domain::{
    AreaCode, CaseId, EventSeq, GridCell, PersonId, PlaceCode, Timestamp, Venue, VenueId, ZoneId,
};

/// What the server holds per resident: their facts and where they live. Kept small: a
/// million residents must fit in a few hundred megabytes.
#[derive(Debug, Clone, Default)]
pub struct PersonSlot {
    pub facts: PersonFacts,
    /// Index into [`Projection::communities`]; `u32::MAX` for an unused id.
    pub community: u32,
    pub home_cell: GridCell,
}

impl PersonSlot {
    /// The slot of an id no resident has.
    pub const UNUSED: u32 = u32::MAX;

    /// Whether a resident has this id.
    pub fn is_used(&self) -> bool {
        self.community != Self::UNUSED
    }
}

/// The communities residents live in, by index (a person's slot holds the index). Grows
/// when the resident register brings people to a community where no one lived before;
/// never shrinks, so an index stays valid.
#[derive(Debug, Default)]
pub struct Communities {
    list: RwLock<Vec<AreaCode>>,
}

impl Communities {
    /// The communities loaded at start.
    pub fn new(list: Vec<AreaCode>) -> Communities {
        Communities {
            list: RwLock::new(list),
        }
    }

    /// The community at an index.
    pub fn get(&self, ix: u32) -> Option<AreaCode> {
        read(&self.list).get(ix as usize).cloned()
    }

    /// Every community, by index (a copy: thousands at most).
    pub fn all(&self) -> Vec<AreaCode> {
        read(&self.list).clone()
    }

    /// The index of a community, added if it is new.
    pub fn index_of(&self, area: &AreaCode) -> u32 {
        if let Some(i) = read(&self.list).iter().position(|a| a == area) {
            return i as u32;
        }
        let mut list = write(&self.list);
        match list.iter().position(|a| a == area) {
            Some(i) => i as u32,
            None => {
                list.push(area.clone());
                (list.len() - 1) as u32
            }
        }
    }
}

/// A case as the server lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseRecord {
    pub id: CaseId,
    pub person: PersonId,
    pub kind: CaseKind,
    pub onset: Option<Timestamp>,
    pub sampled_at: Option<Timestamp>,
    pub isolated_at: Option<Timestamp>,
    pub registered_at: Timestamp,
    pub discharged_at: Option<Timestamp>,
    /// Where its course stands: screen, re-check, transfer, discharge, close
    /// (`xikang_domain::case`).
    pub course: xikang_domain::case::Course,
}

impl CaseRecord {
    /// Whether the case is open (suspected, screened, or under treatment): a person has at
    /// most one open case, and a positive test of a person with one is part of its course.
    pub fn is_open(&self) -> bool {
        self.course.stage.is_open()
    }
}

/// Venues, fixed after start.
#[derive(Debug, Default)]
pub struct Venues {
    pub list: Vec<Venue>,
    pub by_code: HashMap<PlaceCode, VenueId>,
}

impl Venues {
    /// The venue with this id.
    pub fn get(&self, id: VenueId) -> Option<&Venue> {
        self.list.get(id.0 as usize).filter(|v| v.id == id)
    }
}

/// An appeal against a colour as the server keeps it (see [`crate::appeal`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Appeal {
    /// The sequence number of the filing event: the appeal's id.
    pub id: EventSeq,
    pub person: PersonId,
    pub reason: String,
    pub filed_at: Timestamp,
    pub filed_by: String,
    pub answer: Option<Answer>,
}

/// An official's answer to an appeal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Answer {
    pub text: String,
    pub by: String,
    pub at: Timestamp,
}

/// The Merkle tree over the applied events (leaf `i` for event `i + 1`), or where it
/// stopped.
#[derive(Debug, Default)]
pub struct LogTree {
    pub tree: MerkleLog,
    /// The first event that came out of step with the tree (a gap in the sequence numbers):
    /// every later checkpoint would be wrong, so the tree stops there and none is signed.
    pub out_of_step: Option<EventSeq>,
}

impl LogTree {
    /// Adds the event's leaf if it is the next one.
    fn append(&mut self, e: &StoredEvent) {
        if self.out_of_step.is_none() && self.tree.len() + 1 == e.seq.0 {
            self.tree.push(leaf_hash(&e.hash));
        } else if self.out_of_step.is_none() {
            tracing::error!(
                seq = e.seq.0,
                leaves = self.tree.len(),
                "event out of step with the log tree: no more checkpoints are signed"
            );
            self.out_of_step = Some(e.seq);
        }
    }
}

/// A hold (弹窗) as the server keeps it (see [`crate::holds`]): proposed by one official,
/// active once a second approves it, until it expires or an official clears it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hold {
    /// The sequence number of the proposal event: the hold's id.
    pub id: EventSeq,
    pub person: PersonId,
    /// The basis the proposer stated (shown to the resident once the hold is active).
    pub basis: String,
    pub proposer: String,
    pub proposed_at: Timestamp,
    pub expires_at: Timestamp,
    /// Who approved it, when, and the `hold_placed` event (the colour's evidence).
    pub approved: Option<(String, Timestamp, EventSeq)>,
    /// When an official cleared it.
    pub cleared_at: Option<Timestamp>,
}

/// The in-memory state, folded from the authority log.
#[derive(Debug)]
pub struct Projection {
    pub people: RwLock<Vec<PersonSlot>>,
    pub communities: Communities,
    pub venues: Venues,
    pub cases: RwLock<BTreeMap<CaseId, CaseRecord>>,
    /// Held while a command decides and commits a case's registration or a step of its
    /// course, so two officials' steps (or two registrations) cannot both pass the same
    /// check: the case ids and stages it read are still true when it commits.
    pub case_op: tokio::sync::Mutex<()>,
    pub zones: RwLock<HashMap<ZoneId, (ZoneLevel, Vec<GridCell>)>>,
    /// Appeals keyed by the sequence number of their filing event.
    pub appeals: RwLock<BTreeMap<EventSeq, Appeal>>,
    /// People flagged to a tracer by a health report (SORMAS: follow-up), newest last.
    pub follow_ups: Mutex<Vec<(PersonId, Timestamp, String)>>,
    /// The latest exposure of each designated contact (for zone lifting).
    pub exposures: Mutex<HashMap<PersonId, Timestamp>>,
    /// The tracing index, population and tracer workflow.
    pub tracing: crate::trace::Tracing,
    /// Testing and vaccination: tubes, rounds, tasks, doses (see [`crate::lab`]).
    pub lab: crate::lab::LabIndex,
    /// Holds, proposed and placed, keyed by their proposal's sequence number.
    pub holds: RwLock<BTreeMap<EventSeq, Hold>>,
    /// The public colour ledger's counts.
    pub ledger: crate::ledger::Ledger,
    /// The daily bulletin's figures, folded from every applied event: any past day's
    /// bulletin is answered from it (`GET /api/v1/bulletin`).
    pub bulletin: Mutex<xikang_domain::bulletin::Accumulator>,
    /// The RFC 6962 tree over the applied events' chain hashes: what checkpoints sign
    /// ([`crate::api::get_checkpoint`]).
    pub log_tree: RwLock<LogTree>,
    /// Identity cards and guardians' holds on dependants' codes (docs/claim.md), folded
    /// from their events: the cards' revocation list is the log's `card_revoked` events.
    pub credentials: RwLock<crate::claim::Credentials>,
    /// Peers and commuter passes ([`crate::cities`]).
    pub cities: RwLock<crate::cities::Records>,
    /// The message board and enterprises' filings (docs/citizens.md).
    pub board: RwLock<crate::board::Board>,
    /// The sequence number of the last event applied (0: none).
    applied: AtomicU64,
}

/// Locks a mutex, also after a panic of another holder (every update here is whole).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Projection {
    /// An empty projection over the residents, venues and tracing population loaded at start.
    pub fn new(
        people: Vec<PersonSlot>,
        communities: Vec<AreaCode>,
        venues: Venues,
        tracing: crate::trace::Tracing,
    ) -> Projection {
        Projection {
            people: RwLock::new(people),
            communities: Communities::new(communities),
            venues,
            cases: RwLock::default(),
            case_op: tokio::sync::Mutex::default(),
            zones: RwLock::default(),
            appeals: RwLock::default(),
            follow_ups: Mutex::default(),
            exposures: Mutex::default(),
            tracing,
            lab: crate::lab::LabIndex::default(),
            holds: RwLock::default(),
            ledger: crate::ledger::Ledger::default(),
            bulletin: Mutex::new(xikang_domain::bulletin::Accumulator::new(
                xikang_domain::bulletin::IMPORTED_WINDOW_DAYS,
            )),
            log_tree: RwLock::default(),
            credentials: RwLock::default(),
            cities: RwLock::default(),
            board: RwLock::default(),
            applied: AtomicU64::new(0),
        }
    }

    /// The sequence number of the last event applied.
    pub fn applied(&self) -> EventSeq {
        EventSeq(self.applied.load(Ordering::Acquire))
    }

    /// Whether `person` is a known resident.
    pub fn person_exists(&self, person: PersonId) -> bool {
        read(&self.people)
            .get(person.0 as usize)
            .is_some_and(PersonSlot::is_used)
    }

    /// The community a person lives in.
    pub fn person_area(&self, person: PersonId) -> Option<AreaCode> {
        let people = read(&self.people);
        let slot = people.get(person.0 as usize)?;
        self.communities.get(slot.community)
    }

    /// The grid cell a person lives in.
    pub fn home_cell(&self, person: PersonId) -> Option<GridCell> {
        read(&self.people)
            .get(person.0 as usize)
            .filter(|s| s.is_used())
            .map(|s| s.home_cell)
    }

    /// A case by id.
    pub fn case(&self, id: CaseId) -> Option<CaseRecord> {
        read(&self.cases).get(&id).cloned()
    }

    /// A person's colour now under `policy`, with their last sampling time. `None` for an
    /// unknown person.
    pub fn evaluate(
        &self,
        policy: &Policy,
        person: PersonId,
        now: Timestamp,
    ) -> Option<(Evaluation, Option<Timestamp>)> {
        let people = read(&self.people);
        let slot = people.get(person.0 as usize).filter(|s| s.is_used())?;
        Some((evaluate(policy, &slot.facts, now), slot.facts.last_sample()))
    }

    /// The strictest zone level covering a grid cell, if any.
    pub fn zone_level_at(&self, cell: GridCell) -> Option<ZoneLevel> {
        let rank = |l: ZoneLevel| match l {
            ZoneLevel::Sealed | ZoneLevel::High => 0,
            ZoneLevel::Controlled | ZoneLevel::Medium => 1,
            ZoneLevel::Precaution | ZoneLevel::Low => 2,
        };
        read(&self.zones)
            .values()
            .filter(|(_, cells)| cells.contains(&cell))
            .map(|(l, _)| *l)
            .min_by_key(|l| rank(*l))
    }

    /// Folds one committed event into the projection. Events must come in log order; one
    /// at or below the last applied sequence number was applied already and is skipped.
    pub fn apply(&self, e: &StoredEvent) {
        if self.applied.fetch_max(e.seq.0, Ordering::AcqRel) >= e.seq.0 {
            return;
        }
        write(&self.log_tree).append(e);
        lock(&self.bulletin).add(e);
        self.tracing.apply(e);
        // Who gets a new colour fact from this event, by community: the colour ledger.
        let mut placed: BTreeMap<u32, u64> = BTreeMap::new();
        match &e.body {
            EventBody::ZoneSet {
                zone, level, cells, ..
            } => {
                let old = write(&self.zones).insert(*zone, (*level, cells.clone()));
                let mut people = write(&self.people);
                for slot in people.iter_mut() {
                    if old
                        .as_ref()
                        .is_some_and(|(_, c)| c.contains(&slot.home_cell))
                    {
                        slot.facts.leave_zone(e.seq, *zone, e.at);
                    }
                    if cells.contains(&slot.home_cell) {
                        let before = slot.facts.facts().len();
                        slot.facts.enter_zone(e.seq, *zone, *level, e.at);
                        if slot.facts.facts().len() > before {
                            *placed.entry(slot.community).or_default() += 1;
                        }
                    }
                }
            }
            EventBody::ZoneLifted { zone, .. } => {
                if let Some((_, cells)) = write(&self.zones).remove(zone) {
                    let mut people = write(&self.people);
                    for slot in people.iter_mut().filter(|s| cells.contains(&s.home_cell)) {
                        slot.facts.leave_zone(e.seq, *zone, e.at);
                    }
                }
            }
            EventBody::ResidentMoved {
                person,
                community,
                from,
                to,
            } => {
                // The resident's new home (the committer's register write already set it;
                // a node following the log learns it here) and the zones it puts them in.
                let ix = self.communities.index_of(community);
                let zones = read(&self.zones);
                let mut people = write(&self.people);
                if let Some(slot) = people.get_mut(person.0 as usize).filter(|s| s.is_used()) {
                    slot.community = ix;
                    slot.home_cell = *to;
                    for (zone, (level, cells)) in zones.iter() {
                        let (was, is) = (cells.contains(from), cells.contains(to));
                        if was && !is {
                            slot.facts.leave_zone(e.seq, *zone, e.at);
                        }
                        if is && !was {
                            let before = slot.facts.facts().len();
                            slot.facts.enter_zone(e.seq, *zone, *level, e.at);
                            if slot.facts.facts().len() > before {
                                *placed.entry(ix).or_default() += 1;
                            }
                        }
                    }
                }
            }
            EventBody::RegisterImported {
                added,
                first_added: Some(first),
                ..
            } => {
                // Newcomers whose home lies in a zone are in it from their registration.
                let zones = read(&self.zones);
                let mut people = write(&self.people);
                let end = (first.0 as usize)
                    .saturating_add(*added as usize)
                    .min(people.len());
                for slot in people
                    .get_mut(first.0 as usize..end)
                    .into_iter()
                    .flatten()
                    .filter(|s| s.is_used())
                {
                    for (zone, (level, cells)) in zones.iter() {
                        if cells.contains(&slot.home_cell) {
                            let before = slot.facts.facts().len();
                            slot.facts.enter_zone(e.seq, *zone, *level, e.at);
                            if slot.facts.facts().len() > before {
                                *placed.entry(slot.community).or_default() += 1;
                            }
                        }
                    }
                }
            }
            body => {
                self.apply_records(e);
                // One person, or every member of a tube.
                let concerned = body.people();
                if !concerned.is_empty() {
                    let mut people = write(&self.people);
                    for p in concerned {
                        if let Some(slot) = people.get_mut(p.0 as usize) {
                            let before = slot.facts.facts().len();
                            // An order's extension is the same order again, not a new one.
                            let extends = matches!(body, EventBody::QuarantineOrdered { order, .. }
                                if slot.facts.facts().iter().any(|f| matches!(f.kind,
                                    FactKind::Quarantine { order: o, .. } if o == *order)));
                            slot.facts.apply(e.seq, e.at, body);
                            if !extends && slot.facts.facts().len() > before {
                                *placed.entry(slot.community).or_default() += 1;
                            }
                        }
                    }
                }
            }
        }
        self.note_in_ledger(e, &placed);
    }

    /// Counts the people an event placed under a new fact in the colour ledger, by district.
    fn note_in_ledger(&self, e: &StoredEvent, placed: &BTreeMap<u32, u64>) {
        if placed.is_empty() {
            return;
        }
        let (Some(act), Some(fact)) = (
            ledger_act(&e.actor, &e.basis, &e.body),
            ledger_fact(&e.body),
        ) else {
            return;
        };
        let mut by_district: BTreeMap<AreaCode, u64> = BTreeMap::new();
        for (community, n) in placed {
            if let Some(area) = self.communities.get(*community) {
                *by_district.entry(area.district()).or_default() += n;
            }
        }
        let day = e.at.shanghai_day();
        for (district, n) in by_district {
            self.ledger.note(day, district, act, fact, n);
        }
    }

    /// The basis of the hold whose `hold_placed` event is `placed`, for the resident's code
    /// page (the event a fired rule names).
    pub fn hold_basis(&self, placed: EventSeq) -> Option<String> {
        read(&self.holds)
            .values()
            .find(|h| h.approved.as_ref().is_some_and(|a| a.2 == placed))
            .map(|h| h.basis.clone())
    }

    /// The records beside the people's facts: cases, appeals, follow-ups, exposures.
    fn apply_records(&self, e: &StoredEvent) {
        if matches!(
            e.body,
            EventBody::CardIssued { .. }
                | EventBody::CardRevoked { .. }
                | EventBody::ProxyGranted { .. }
                | EventBody::ProxyRevoked { .. }
        ) {
            write(&self.credentials).apply(e);
            return;
        }
        if write(&self.cities).apply(e) {
            return;
        }
        if crate::board::Board::concerns(&e.body) {
            write(&self.board).apply(e);
            return;
        }
        if let EventBody::ContactDesignated {
            case,
            contact_kind: xikang_domain::event::ContactKind::Close,
            ..
        } = &e.body
        {
            write(&self.board).listed.entry(*case).or_insert(e.at);
        }
        match &e.body {
            EventBody::CaseRegistered {
                case,
                person,
                case_kind,
                onset,
                sampled_at,
                isolated_at,
            } => {
                let earliest = [*onset, *sampled_at, Some(e.at)]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(e.at);
                write(&self.cases).insert(
                    *case,
                    CaseRecord {
                        id: *case,
                        person: *person,
                        kind: *case_kind,
                        onset: *onset,
                        sampled_at: *sampled_at,
                        isolated_at: *isolated_at,
                        registered_at: e.at,
                        discharged_at: None,
                        course: xikang_domain::case::Course::registered(
                            *case, *person, *case_kind, earliest,
                        ),
                    },
                );
            }
            EventBody::CaseDischarged { case, at, .. } => {
                if let Some(c) = write(&self.cases).get_mut(case) {
                    c.discharged_at = Some(*at);
                    c.course.apply(&e.actor, &e.body);
                }
            }
            EventBody::CaseScreened { case, .. }
            | EventBody::CaseRechecked { case, .. }
            | EventBody::CaseTransferred { case, .. }
            | EventBody::CaseReclassified { case, .. }
            | EventBody::CaseClosed { case, .. }
            | EventBody::CaseDied { case, .. } => {
                if let Some(c) = write(&self.cases).get_mut(case) {
                    c.course.apply(&e.actor, &e.body);
                    c.kind = c.course.kind;
                }
            }
            EventBody::AppealFiled { person, reason } => {
                write(&self.appeals).insert(
                    e.seq,
                    Appeal {
                        id: e.seq,
                        person: *person,
                        reason: reason.clone(),
                        filed_at: e.at,
                        filed_by: e.actor.clone(),
                        answer: None,
                    },
                );
            }
            EventBody::AppealAnswered { appeal, answer, .. } => {
                if let Some(a) = write(&self.appeals).get_mut(appeal) {
                    a.answer = Some(Answer {
                        text: answer.clone(),
                        by: e.actor.clone(),
                        at: e.at,
                    });
                }
            }
            EventBody::HoldProposed { person, expires_at } => {
                write(&self.holds).insert(
                    e.seq,
                    Hold {
                        id: e.seq,
                        person: *person,
                        basis: e.basis.clone(),
                        proposer: e.actor.clone(),
                        proposed_at: e.at,
                        expires_at: *expires_at,
                        approved: None,
                        cleared_at: None,
                    },
                );
            }
            EventBody::HoldPlaced {
                person,
                proposer,
                approver,
                expires_at,
                proposal,
            } => {
                let mut holds = write(&self.holds);
                // A hold placed before proposals existed is its own record.
                let h = holds.entry(proposal.unwrap_or(e.seq)).or_insert(Hold {
                    id: proposal.unwrap_or(e.seq),
                    person: *person,
                    basis: e.basis.clone(),
                    proposer: proposer.clone(),
                    proposed_at: e.at,
                    expires_at: *expires_at,
                    approved: None,
                    cleared_at: None,
                });
                h.approved = Some((approver.clone(), e.at, e.seq));
            }
            EventBody::HoldCleared { person, .. } => {
                for h in write(&self.holds).values_mut().filter(|h| {
                    h.person == *person && h.approved.is_some() && h.cleared_at.is_none()
                }) {
                    h.cleared_at = Some(e.at);
                }
            }
            EventBody::FollowUpFlagged { person, reason } => {
                lock(&self.follow_ups).push((*person, e.at, reason.clone()));
            }
            EventBody::ContactDesignated {
                person,
                last_exposure,
                ..
            } => {
                let mut x = lock(&self.exposures);
                let slot = x.entry(*person).or_insert(*last_exposure);
                *slot = (*slot).max(*last_exposure);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> StoredEvent {
        StoredEvent {
            seq: EventSeq(seq),
            at: Timestamp(0),
            actor: "system:test".into(),
            basis: "test".into(),
            body: EventBody::PolicyActivated {
                version: format!("v{seq}"),
                sha256: String::new(),
            },
            prev_hash: [0; 32],
            hash: [seq as u8; 32],
        }
    }

    #[test]
    fn the_log_tree_stops_at_the_first_event_out_of_step() {
        let mut log = LogTree::default();
        log.append(&event(1));
        log.append(&event(2));
        assert_eq!((log.tree.len(), log.out_of_step), (2, None));
        let two = log.tree.root(2).unwrap();
        // Event 3 never arrived: 4 would take its leaf and make every later root wrong.
        log.append(&event(4));
        log.append(&event(5));
        assert_eq!((log.tree.len(), log.out_of_step), (2, Some(EventSeq(4))));
        assert_eq!(log.tree.root(2).unwrap(), two);
    }
}
