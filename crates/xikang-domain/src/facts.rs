//! The per-person projection of the authority log that the policy reads: test history in a
//! few inline words, and everything else (cases, contacts, orders, zones, arrivals, sentinel
//! reports, missed tests, holds) as facts in one box that most residents never allocate.
//!
//! The projection records what happened and when it ended, never a colour: which facts
//! colour a person, for how long and how they end is the policy's business
//! ([`crate::policy`]). The few endings decided here are bookkeeping of the log itself: an
//! event that replaces an earlier one (a case supersedes the positive test that revealed it,
//! an order supersedes the designation it enforces, a new level supersedes a zone's old one).
//!
//! Memory: the server keeps one `PersonFacts` per resident (a million and more), so the
//! struct is 40 bytes and a person with only test results owns no heap memory.

use crate::event::{
    CaseKind, ContactKind, EventBody, QuarantineKind, QuarantineReason, RiskLevel, SentinelKind,
    ZoneLevel,
};
use crate::ids::{CaseId, EventSeq, OrderId, ZoneId};
use crate::model::TestOutcome;
use crate::time::Timestamp;
use serde::Serialize;

/// How many negatives are kept inline (the last one and the two before it).
const INLINE_NEGATIVES: usize = 3;
/// How many negatives a person with other facts keeps: enough for the "N negatives H hours
/// apart within D days" exits policies use (N ≤ 3) even with several tests a day, while a
/// whole zone of residents with facts stays within the server's memory budget.
const BOXED_NEGATIVES: usize = 8;

/// Flag bits in [`PersonFacts::flags`].
const FLAG_HAS_SAMPLE: u8 = 1 << 7;
/// Mask of the single-tube bits of the inline negatives (bit i = inline negative i).
const SINGLE_TUBE_BITS: u8 = 0b111;

/// One negative test: when it was sampled and whether the tube held this person alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NegativeTest {
    pub sampled_at: Timestamp,
    /// True for a single tube (pool size 1); a negative pooled tube is still a negative.
    pub single_tube: bool,
}

/// Which kind of fact, without its details: what a policy rule's `fact = "…"` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactTag {
    Case,
    PoolPositive,
    PositiveTest,
    Contact,
    Quarantine,
    Zone,
    Arrival,
    Sentinel,
    MissedTest,
    Hold,
}

impl FactTag {
    /// Every tag, in a fixed order.
    pub const ALL: [FactTag; 10] = [
        FactTag::Case,
        FactTag::PoolPositive,
        FactTag::PositiveTest,
        FactTag::Contact,
        FactTag::Quarantine,
        FactTag::Zone,
        FactTag::Arrival,
        FactTag::Sentinel,
        FactTag::MissedTest,
        FactTag::Hold,
    ];

    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            FactTag::Case => "case",
            FactTag::PoolPositive => "pool_positive",
            FactTag::PositiveTest => "positive_test",
            FactTag::Contact => "contact",
            FactTag::Quarantine => "quarantine",
            FactTag::Zone => "zone",
            FactTag::Arrival => "arrival",
            FactTag::Sentinel => "sentinel",
            FactTag::MissedTest => "missed_test",
            FactTag::Hold => "hold",
        }
    }

    /// Inverse of [`FactTag::as_str`].
    pub fn parse(s: &str) -> Option<FactTag> {
        FactTag::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A point fact happened at one instant and has no end of its own (an arrival, a
    /// sentinel report, a missed test): a rule on it must say how long it lasts.
    pub fn is_point(self) -> bool {
        matches!(
            self,
            FactTag::Arrival | FactTag::Sentinel | FactTag::MissedTest
        )
    }
}

/// What a fact is, with the details a policy rule can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum FactKind {
    /// A registered case, until discharged.
    Case { case: CaseId, case_kind: CaseKind },
    /// The person's pooled tube was positive; a single-tube retest is due.
    PoolPositive,
    /// A positive single tube, until a case is registered (or the policy's exit is met).
    PositiveTest,
    /// A contact designation, until released or turned into a quarantine order.
    Contact {
        case: CaseId,
        contact_kind: ContactKind,
    },
    /// A quarantine order, until ended or its planned end.
    Quarantine {
        order: OrderId,
        quarantine_kind: QuarantineKind,
        reason: QuarantineReason,
    },
    /// Residence in a zone, until the zone is lifted or changes level.
    Zone { zone: ZoneId, level: ZoneLevel },
    /// An arrival from an area of some risk level (a point fact).
    Arrival { risk: RiskLevel },
    /// A sentinel report (a point fact).
    Sentinel { sentinel_kind: SentinelKind },
    /// A mandated test that was missed (a point fact at the due time).
    MissedTest,
    /// A hold (弹窗), until an official clears it or it expires.
    Hold,
}

impl FactKind {
    /// The kind without details.
    pub fn tag(&self) -> FactTag {
        match self {
            FactKind::Case { .. } => FactTag::Case,
            FactKind::PoolPositive => FactTag::PoolPositive,
            FactKind::PositiveTest => FactTag::PositiveTest,
            FactKind::Contact { .. } => FactTag::Contact,
            FactKind::Quarantine { .. } => FactTag::Quarantine,
            FactKind::Zone { .. } => FactTag::Zone,
            FactKind::Arrival { .. } => FactTag::Arrival,
            FactKind::Sentinel { .. } => FactTag::Sentinel,
            FactKind::MissedTest => FactTag::MissedTest,
            FactKind::Hold => FactTag::Hold,
        }
    }
}

/// How a fact ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    /// Its natural end (discharge, order ended or ran out, zone lifted, hold expired): what
    /// a policy's "then" step follows.
    Ended,
    /// Replaced by a later event (a case, an order, a new zone level): no "then" step.
    Superseded,
    /// Withdrawn (designation released, hold cleared by an official): no "then" step.
    Dismissed,
}

/// When and by which event a fact ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FactEnd {
    pub at: Timestamp,
    /// The event that ended it (the fact's own event when a planned end ran out).
    pub seq: EventSeq,
    pub how: EndKind,
}

/// One fact about a person, with its evidence: the event that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// The authority-log event that created the fact.
    pub seq: EventSeq,
    pub kind: FactKind,
    /// When it began (the order's start, the arrival time, the due time of a missed test,
    /// otherwise the event's time).
    pub start: Timestamp,
    /// When it is planned to end without further events (an order's planned end, a hold's
    /// expiry).
    pub planned_end: Option<Timestamp>,
    /// The recorded end, if an event ended it.
    pub end: Option<FactEnd>,
}

impl Fact {
    /// The fact's end as seen at `now`: a recorded end that has happened, or a planned end
    /// that has passed. For orders the earlier of the two counts: an extension is a new
    /// order, so an order never outlives its planned end.
    pub fn ended_by(&self, now: Timestamp) -> Option<FactEnd> {
        let planned = self.planned_end.map(|at| FactEnd {
            at,
            seq: self.seq,
            how: EndKind::Ended,
        });
        let end = match (self.end, planned) {
            (Some(e), Some(p)) if p.at < e.at => Some(p),
            (Some(e), _) => Some(e),
            (None, p) => p,
        };
        end.filter(|e| e.at <= now)
    }

    fn is_open(&self) -> bool {
        self.end.is_none()
    }

    fn close(&mut self, at: Timestamp, seq: EventSeq, how: EndKind) {
        self.end = Some(FactEnd { at, seq, how });
    }
}

/// Everything beyond test results: allocated for the few people who have such facts.
#[derive(Debug, Clone, Default, PartialEq)]
struct Extra {
    facts: Vec<Fact>,
    /// Recent negatives, oldest first, at most [`BOXED_NEGATIVES`].
    negatives: Vec<NegativeTest>,
}

/// The facts about one person that the policy reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonFacts {
    /// Sampling time of the latest negative (valid when `neg_count > 0`).
    last_negative: i64,
    /// Seconds between `last_negative` and the two negatives before it (valid up to
    /// `neg_count - 1`); u32 spans 136 years.
    earlier_gaps: [u32; 2],
    /// Sampling time of the latest sample of any outcome (valid with `FLAG_HAS_SAMPLE`).
    last_sample: i64,
    /// How many inline negatives are valid (0..=3).
    neg_count: u8,
    /// Bits 0..2: inline negative i (0 = latest) was a single tube; bit 7: has a sample.
    flags: u8,
    extra: Option<Box<Extra>>,
}

/// The negatives of a person, oldest first, without allocating.
#[derive(Debug, Clone, Copy)]
pub enum Negatives<'a> {
    Inline([NegativeTest; INLINE_NEGATIVES], usize),
    Boxed(&'a [NegativeTest]),
}

impl Negatives<'_> {
    /// The negatives, oldest first.
    pub fn as_slice(&self) -> &[NegativeTest] {
        match self {
            Negatives::Inline(a, n) => &a[..*n],
            Negatives::Boxed(s) => s,
        }
    }
}

impl PersonFacts {
    /// Folds one authority event that concerns this person (EventBody::person() == Some(this
    /// person)). Events that do not concern a person are ignored.
    pub fn apply(&mut self, seq: EventSeq, at: Timestamp, body: &EventBody) {
        match *body {
            EventBody::TestResulted {
                sampled_at,
                outcome,
                pool_size,
                ..
            } => {
                self.note_sample(sampled_at);
                match outcome {
                    TestOutcome::Negative => self.note_negative(sampled_at, pool_size <= 1),
                    // A case's own follow-up tests are part of its course, not new facts.
                    TestOutcome::Positive if self.has_open_case() => {}
                    TestOutcome::Positive => {
                        let extra = self.extra_mut();
                        supersede(extra, at, seq, |k| matches!(k, FactKind::PoolPositive));
                        push(extra, seq, FactKind::PositiveTest, at, None);
                    }
                }
            }
            EventBody::PoolPositive { sampled_at, .. } => {
                self.note_sample(sampled_at);
                if !self.has_open_case() {
                    push(self.extra_mut(), seq, FactKind::PoolPositive, at, None);
                }
            }
            EventBody::CaseRegistered {
                case, case_kind, ..
            } => {
                let extra = self.extra_mut();
                supersede(extra, at, seq, |k| match k {
                    FactKind::PoolPositive | FactKind::PositiveTest => true,
                    FactKind::Case { case: c, .. } => *c == case,
                    _ => false,
                });
                push(extra, seq, FactKind::Case { case, case_kind }, at, None);
            }
            EventBody::CaseDischarged {
                case,
                at: discharged,
                ..
            } => {
                self.close_where(
                    discharged,
                    seq,
                    EndKind::Ended,
                    |k| matches!(k, FactKind::Case { case: c, .. } if *c == case),
                );
            }
            // The city's re-check (or a later reclassification) gives the open case its
            // kind; an excluded case was never one, and a death ends a case with nothing
            // to follow.
            EventBody::CaseRechecked { case, verdict, at: when, .. } => match verdict.kind() {
                Some(kind) => self.set_case_kind(case, kind),
                None => self.close_where(
                    when,
                    seq,
                    EndKind::Dismissed,
                    |k| matches!(k, FactKind::Case { case: c, .. } if *c == case),
                ),
            },
            EventBody::CaseReclassified { case, to, .. } => self.set_case_kind(case, to),
            EventBody::CaseDied { case, at: when, .. } => {
                self.close_where(
                    when,
                    seq,
                    EndKind::Dismissed,
                    |k| matches!(k, FactKind::Case { case: c, .. } if *c == case),
                );
            }
            EventBody::ContactDesignated {
                case, contact_kind, ..
            } => {
                let extra = self.extra_mut();
                supersede(
                    extra,
                    at,
                    seq,
                    |k| matches!(k, FactKind::Contact { case: c, .. } if *c == case),
                );
                push(
                    extra,
                    seq,
                    FactKind::Contact { case, contact_kind },
                    at,
                    None,
                );
            }
            EventBody::ContactReleased { case, .. } => {
                self.close_where(
                    at,
                    seq,
                    EndKind::Dismissed,
                    |k| matches!(k, FactKind::Contact { case: c, .. } if *c == case),
                );
            }
            EventBody::QuarantineOrdered {
                order,
                quarantine_kind,
                reason,
                start,
                planned_end,
                ..
            } => {
                // The order enforces the designation: from its start the order, not the
                // designation, is what the person is under.
                let enforced = match reason {
                    QuarantineReason::CloseContact => Some(ContactKind::Close),
                    QuarantineReason::SecondaryContact => Some(ContactKind::Secondary),
                    _ => None,
                };
                let extra = self.extra_mut();
                supersede(extra, start, seq, |k| match k {
                    FactKind::Contact { contact_kind, .. } => Some(*contact_kind) == enforced,
                    FactKind::Quarantine { order: o, .. } => *o == order,
                    _ => false,
                });
                let kind = FactKind::Quarantine {
                    order,
                    quarantine_kind,
                    reason,
                };
                push(extra, seq, kind, start, Some(planned_end));
            }
            EventBody::QuarantineEnded {
                order, at: ended, ..
            } => {
                self.close_where(
                    ended,
                    seq,
                    EndKind::Ended,
                    |k| matches!(k, FactKind::Quarantine { order: o, .. } if *o == order),
                );
            }
            EventBody::Arrived {
                origin_risk,
                at: arrived,
                ..
            } => {
                push(
                    self.extra_mut(),
                    seq,
                    FactKind::Arrival { risk: origin_risk },
                    arrived,
                    None,
                );
            }
            EventBody::SentinelReported {
                sentinel_kind,
                at: reported,
                ..
            } => {
                let kind = FactKind::Sentinel { sentinel_kind };
                push(self.extra_mut(), seq, kind, reported, None);
            }
            EventBody::TestMissed { due_at, .. } => {
                push(self.extra_mut(), seq, FactKind::MissedTest, due_at, None);
            }
            EventBody::HoldPlaced { expires_at, .. } => {
                push(self.extra_mut(), seq, FactKind::Hold, at, Some(expires_at));
            }
            EventBody::HoldCleared { .. } => {
                self.close_where(at, seq, EndKind::Dismissed, |k| matches!(k, FactKind::Hold));
            }
            EventBody::TubeNegative {
                sampled_at,
                ref members,
                ..
            } => {
                // Called once per member by the projection.
                self.note_sample(sampled_at);
                self.note_negative(sampled_at, members.len() <= 1);
            }
            EventBody::ZoneSet { .. }
            | EventBody::ZoneLifted { .. }
            // A proposal is no fact: only its approval (`HoldPlaced`) is.
            | EventBody::HoldProposed { .. }
            | EventBody::PolicyActivated { .. }
            | EventBody::PersonalDataRead { .. }
            | EventBody::ContactNotified { .. }
            | EventBody::ContactListExported { .. }
            // Duties, not colour facts: the order's own events carry what the policy reads.
            | EventBody::QuarantineTransferred { .. }
            | EventBody::FollowUpFlagged { .. }
            // An appeal and its answer are requests and words, not facts: only facts move a
            // colour.
            | EventBody::AppealFiled { .. }
            | EventBody::AppealAnswered { .. }
            // The missed tests a round's deadline leads to are their own events.
            | EventBody::RoundDeadlineExtended { .. }
            // Steps of a case's course that change no fact: the screen awaits the re-check,
            // a transfer moves the person, not their colour, and the case's close follows
            // the monitoring order's own release.
            | EventBody::CaseScreened { .. }
            | EventBody::CaseTransferred { .. }
            | EventBody::CaseClosed { .. }
            // Where a person lives is not a fact of theirs: the projection moves them
            // between zones (the zone facts are the colour's evidence).
            | EventBody::ResidentMoved { .. }
            | EventBody::RegisterImported { .. }
            // Credentials, not facts: a card or a guardian shows the colour, never moves it.
            | EventBody::CardIssued { .. }
            | EventBody::CardRevoked { .. }
            | EventBody::ProxyGranted { .. }
            | EventBody::ProxyRevoked { .. }
            // Keys, peers and passes are the city's, not the person's facts: a pass is a
            // permission checked beside the colour, never a cause of one.
            | EventBody::KeyRotated { .. }
            | EventBody::KeyRevoked { .. }
            | EventBody::PeerAdded { .. }
            | EventBody::PassApplied { .. }
            | EventBody::PassApproved { .. }
            | EventBody::PassRevoked { .. }
            | EventBody::AssistSent { .. }
            | EventBody::AssistReceived { .. }
            | EventBody::AssistAnswered { .. }
            | EventBody::AssistAnswerReceived { .. }
            | EventBody::AssistDelivered { .. }
            | EventBody::MessagePosted { .. }
            | EventBody::MessageHandled { .. }
            | EventBody::FilingSubmitted { .. }
            | EventBody::FilingDecided { .. }
            | EventBody::InspectionRecorded { .. }
            | EventBody::SupplyRequested { .. }
            | EventBody::ResponsibilityAssigned { .. }
            | EventBody::ResponsibilityUpdated { .. }
            | EventBody::ExchangePosted { .. }
            | EventBody::ExchangeClosed { .. }
            | EventBody::CapacityReported { .. } => {}
        }
    }

    /// Gives the open fact of `case` the kind `kind` (a re-check or reclassification).
    fn set_case_kind(&mut self, case: CaseId, kind: CaseKind) {
        if let Some(extra) = self.extra.as_deref_mut() {
            for f in extra.facts.iter_mut().filter(|f| f.is_open()) {
                if let FactKind::Case { case: c, case_kind } = &mut f.kind
                    && *c == case
                {
                    *case_kind = kind;
                }
            }
        }
    }

    /// Zone events are per zone, not per person: the caller (the server's projection) calls
    /// this for every resident whose home grid cell is in the zone. Setting the same level
    /// again changes nothing; a new level supersedes the old one from `since`.
    pub fn enter_zone(&mut self, seq: EventSeq, zone: ZoneId, level: ZoneLevel, since: Timestamp) {
        let same = |k: &FactKind| matches!(k, FactKind::Zone { zone: z, .. } if *z == zone);
        let already = self.facts().iter().any(|f| {
            f.is_open()
                && matches!(f.kind, FactKind::Zone { zone: z, level: l } if z == zone && l == level)
        });
        if already {
            return;
        }
        let extra = self.extra_mut();
        supersede(extra, since, seq, same);
        push(extra, seq, FactKind::Zone { zone, level }, since, None);
    }

    /// The zone was lifted (or the resident's cell left it): its natural end.
    pub fn leave_zone(&mut self, seq: EventSeq, zone: ZoneId, at: Timestamp) {
        self.close_where(
            at,
            seq,
            EndKind::Ended,
            |k| matches!(k, FactKind::Zone { zone: z, .. } if *z == zone),
        );
    }

    /// Sampling time of the latest negative test, if any.
    pub fn last_negative(&self) -> Option<Timestamp> {
        (self.neg_count > 0).then_some(Timestamp(self.last_negative))
    }

    /// Sampling time of the latest test of any outcome (including a positive pool), if any.
    pub fn last_sample(&self) -> Option<Timestamp> {
        (self.flags & FLAG_HAS_SAMPLE != 0).then_some(Timestamp(self.last_sample))
    }

    /// True when the person has no facts other than test results (the common case; lets
    /// callers skip work).
    pub fn is_plain(&self) -> bool {
        self.extra.is_none()
    }

    /// Every fact, in the order the events arrived (empty for a plain person).
    pub fn facts(&self) -> &[Fact] {
        self.extra.as_deref().map_or(&[], |e| e.facts.as_slice())
    }

    /// Recent negative tests, oldest first: the last three for a plain person, the last
    /// eight once the person has other facts.
    pub fn negatives(&self) -> Negatives<'_> {
        if let Some(extra) = self.extra.as_deref() {
            return Negatives::Boxed(&extra.negatives);
        }
        let n = usize::from(self.neg_count);
        let mut out = [NegativeTest {
            sampled_at: Timestamp(0),
            single_tube: false,
        }; INLINE_NEGATIVES];
        for (i, slot) in self.inline_negatives().into_iter().take(n).enumerate() {
            // Inline order is newest first; the slice is oldest first.
            out[n - 1 - i] = slot;
        }
        Negatives::Inline(out, n)
    }

    /// Forgets facts that ended (or, for point facts, began) before `before`, and frees
    /// the box when nothing is left. Pass a horizon longer than any policy window (the
    /// server uses the retention period plus the longest rule), so no colour changes.
    pub fn prune(&mut self, before: Timestamp) {
        let Some(extra) = self.extra.as_deref_mut() else {
            return;
        };
        extra.facts.retain(|f| {
            let over = if f.kind.tag().is_point() {
                Some(f.start)
            } else {
                f.ended_by(Timestamp(i64::MAX)).map(|e| e.at)
            };
            over.is_none_or(|at| at >= before)
        });
        if extra.facts.is_empty() {
            self.extra = None;
        }
    }

    /// Heap memory held for this person, in bytes (0 for a plain person), for the
    /// server's memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.extra.as_deref().map_or(0, |e| {
            size_of::<Extra>()
                + e.facts.capacity() * size_of::<Fact>()
                + e.negatives.capacity() * size_of::<NegativeTest>()
        })
    }

    fn has_open_case(&self) -> bool {
        self.facts()
            .iter()
            .any(|f| f.is_open() && f.kind.tag() == FactTag::Case)
    }

    fn note_sample(&mut self, sampled_at: Timestamp) {
        if self.flags & FLAG_HAS_SAMPLE == 0 || sampled_at.0 > self.last_sample {
            self.last_sample = sampled_at.0;
            self.flags |= FLAG_HAS_SAMPLE;
        }
    }

    /// The inline negatives, newest first (only the first `neg_count` are valid).
    fn inline_negatives(&self) -> [NegativeTest; INLINE_NEGATIVES] {
        let mut out = [NegativeTest {
            sampled_at: Timestamp(0),
            single_tube: false,
        }; INLINE_NEGATIVES];
        for (i, slot) in out.iter_mut().enumerate() {
            let at = if i == 0 {
                self.last_negative
            } else {
                self.last_negative - i64::from(self.earlier_gaps[i - 1])
            };
            *slot = NegativeTest {
                sampled_at: Timestamp(at),
                single_tube: self.flags & (1 << i) != 0,
            };
        }
        out
    }

    fn note_negative(&mut self, sampled_at: Timestamp, single_tube: bool) {
        let new = NegativeTest {
            sampled_at,
            single_tube,
        };
        // Newest first, on the stack: the inline ones plus the new one, duplicates merged.
        let mut slots = [new; INLINE_NEGATIVES + 1];
        let mut len = 1;
        for old in self
            .inline_negatives()
            .into_iter()
            .take(usize::from(self.neg_count))
        {
            if old.sampled_at == new.sampled_at {
                slots[0].single_tube |= old.single_tube;
            } else {
                slots[len] = old;
                len += 1;
            }
        }
        slots[..len].sort_unstable_by_key(|n| std::cmp::Reverse(n.sampled_at));
        let newest = slots[0].sampled_at.0;
        let mut gaps = [0u32; 2];
        let mut bits = 0u8;
        let mut kept = 0u8;
        for (i, s) in slots.iter().take(len.min(INLINE_NEGATIVES)).enumerate() {
            if i > 0 {
                // A gap beyond 136 years cannot matter to any rule: drop that negative.
                match u32::try_from(newest - s.sampled_at.0) {
                    Ok(g) => gaps[i - 1] = g,
                    Err(_) => break,
                }
            }
            if s.single_tube {
                bits |= 1 << i;
            }
            kept += 1;
        }
        self.last_negative = newest;
        self.earlier_gaps = gaps;
        self.neg_count = kept;
        self.flags = (self.flags & !SINGLE_TUBE_BITS) | bits;

        if let Some(extra) = self.extra.as_deref_mut() {
            insert_negative(&mut extra.negatives, new);
        }
    }

    /// The box of non-test facts, created on first use and seeded with the inline
    /// negatives so that exits counting negatives see tests sampled before the fact arrived.
    fn extra_mut(&mut self) -> &mut Extra {
        if self.extra.is_none() {
            let seed = self.negatives();
            let negatives = seed.as_slice().to_vec();
            self.extra = Some(Box::new(Extra {
                facts: Vec::new(),
                negatives,
            }));
        }
        // Just created above when it was missing.
        self.extra.get_or_insert_with(Default::default)
    }

    fn close_where(
        &mut self,
        at: Timestamp,
        seq: EventSeq,
        how: EndKind,
        pred: impl Fn(&FactKind) -> bool,
    ) {
        if let Some(extra) = self.extra.as_deref_mut() {
            for f in extra
                .facts
                .iter_mut()
                .filter(|f| f.is_open() && pred(&f.kind))
            {
                f.close(at, seq, how);
            }
        }
    }
}

fn push(
    extra: &mut Extra,
    seq: EventSeq,
    kind: FactKind,
    start: Timestamp,
    planned_end: Option<Timestamp>,
) {
    extra.facts.reserve_exact(1);
    extra.facts.push(Fact {
        seq,
        kind,
        start,
        planned_end,
        end: None,
    });
}

fn supersede(extra: &mut Extra, at: Timestamp, seq: EventSeq, pred: impl Fn(&FactKind) -> bool) {
    for f in extra
        .facts
        .iter_mut()
        .filter(|f| f.is_open() && pred(&f.kind))
    {
        f.close(at, seq, EndKind::Superseded);
    }
}

/// Inserts in sampling order, merging a duplicate sampling time, keeping the newest
/// [`BOXED_NEGATIVES`].
fn insert_negative(list: &mut Vec<NegativeTest>, new: NegativeTest) {
    match list.binary_search_by_key(&new.sampled_at, |n| n.sampled_at) {
        Ok(i) => list[i].single_tube |= new.single_tube,
        Err(0) if list.len() >= BOXED_NEGATIVES => {} // older than everything kept
        Err(mut i) => {
            if list.len() >= BOXED_NEGATIVES {
                list.remove(0);
                i -= 1;
            } else {
                // Exact growth: these lists live in a million boxes and rarely grow.
                list.reserve_exact(1);
            }
            list.insert(i, new);
        }
    }
}

#[cfg(test)]
mod tests;
