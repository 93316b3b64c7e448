//! The authority log: every fact that can change a colour or a duty is an event with an
//! actor, a time, a basis, and the hash of the previous event. The log is append-only; the
//! per-person facts the policy reads are a projection of it ([`crate::facts`]).
//!
//! The hash covers the sequence number, time, actor, basis, the body's canonical JSON and
//! the previous hash, so that changing, removing or reordering any stored event breaks every
//! link after it.

use crate::board::{Category, Department, MessageAction};
use crate::enterprise::Industry;
use crate::ids::{CaseId, EventSeq, OrderId, PersonId, SiteId, VenueId, ZoneId};
use crate::model::{AreaCode, GridCell, TestOutcome};
use crate::testing::RoundId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How a case was classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    Confirmed,
    Asymptomatic,
    Suspected,
}

/// What kind of contact a designation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// 密接
    Close,
    /// 次密接
    Secondary,
    /// 时空伴随
    Companion,
    /// 一般接触者
    General,
}

/// The kind of a quarantine order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuarantineKind {
    /// 集中隔离
    Centralized,
    /// 居家隔离
    HomeIsolation,
    /// 居家健康监测
    HealthMonitoring,
    /// 闭环管理 (inbound travellers)
    ClosedLoop,
}

/// Why a quarantine order was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    CloseContact,
    SecondaryContact,
    HighRiskArrival,
    MediumRiskArrival,
    Inbound,
    AfterQuarantine,
    AfterDischarge,
    Other,
}

/// Zone levels, both the three-zone model and the high/medium/low model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ZoneLevel {
    /// 封控区
    Sealed,
    /// 管控区
    Controlled,
    /// 防范区
    Precaution,
    High,
    Medium,
    Low,
}

/// Risk level of an arrival's origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    High,
    Medium,
    Low,
}

/// What a sentinel (哨点) reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SentinelKind {
    /// Bought a drug of one of the four classes (fever, cough, antiviral, antibiotic).
    Pharmacy,
    /// Visited a fever clinic.
    FeverClinic,
}

/// A place and time span in a 协查 request: where a case stayed in the other city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssistPlace {
    /// A venue's place code or an address, as the requesting tracer knows it.
    pub place: String,
    pub from: Timestamp,
    pub to: Timestamp,
}

/// A person named in a 协查 request of the "people" kind (docs/cities.md): a close contact
/// of the requester's case who is registered in the other city. The log keeps only
/// `reference`, a keyed hash of what identifies them (never the ID number itself); the
/// city that resolved them in its register adds its own `person`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssistPerson {
    /// 32 hex digits: HMAC-SHA256 of the identifier under the requester's key, truncated.
    #[serde(rename = "ref")]
    pub reference: String,
    /// How they were exposed (同住, 同车厢, 同事…), at most 100 characters.
    pub relation: String,
    pub last_exposure: Timestamp,
    /// The resident it resolved to, in the receiving city's log only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonId>,
}

/// What the receiving city did about one person of a 协查 request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssistOutcome {
    #[serde(rename = "ref")]
    pub reference: String,
    /// `not_registered`, `found`, `notified`, `tested`, `designated`, `quarantined`,
    /// `not_reachable`.
    pub outcome: String,
}

/// What a sealed or isolated household asks for, which sets how soon it is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SupplyNeed {
    /// 药品: within 4 hours.
    Medicine,
    /// 食品: within 12 hours.
    Food,
    /// 日用品: within 24 hours.
    Daily,
}

impl SupplyNeed {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SupplyNeed::Medicine => "medicine",
            SupplyNeed::Food => "food",
            SupplyNeed::Daily => "daily",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<SupplyNeed> {
        [SupplyNeed::Medicine, SupplyNeed::Food, SupplyNeed::Daily]
            .into_iter()
            .find(|n| n.as_str() == s.trim())
    }

    /// Hours the delivery may take.
    pub fn hours(self) -> i64 {
        match self {
            SupplyNeed::Medicine => 4,
            SupplyNeed::Food => 12,
            SupplyNeed::Daily => 24,
        }
    }
}

/// The body of an authority event: what happened. Each variant that concerns one person
/// names that person, so the projection can route it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// A test result for one person (single tube, or a pooled tube that was negative).
    TestResulted {
        person: PersonId,
        sampled_at: Timestamp,
        resulted_at: Timestamp,
        outcome: TestOutcome,
        /// How many people's swabs the tube held (1 = single tube).
        pool_size: u8,
        tube: String,
    },
    /// The person's pooled tube was positive: they are held until a single-tube retest.
    PoolPositive {
        person: PersonId,
        sampled_at: Timestamp,
        tube: String,
    },
    /// A case was registered.
    CaseRegistered {
        case: CaseId,
        person: PersonId,
        case_kind: CaseKind,
        onset: Option<Timestamp>,
        sampled_at: Option<Timestamp>,
        isolated_at: Option<Timestamp>,
    },
    /// A case was discharged from treatment or observation.
    CaseDischarged {
        case: CaseId,
        person: PersonId,
        at: Timestamp,
    },
    /// The district CDC screened a suspected case (初筛); the city's re-check decides.
    CaseScreened {
        case: CaseId,
        person: PersonId,
        verdict: crate::case::Verdict,
        at: Timestamp,
    },
    /// The city CDC re-checked a screened case (复核), another official than the screen's
    /// (`screened_by`): the case is confirmed, asymptomatic or excluded from here.
    CaseRechecked {
        case: CaseId,
        person: PersonId,
        verdict: crate::case::Verdict,
        screened_by: String,
        at: Timestamp,
    },
    /// A case was moved to a designated hospital (closed-loop transfer, 闭环转运).
    CaseTransferred {
        case: CaseId,
        person: PersonId,
        hospital: SiteId,
        at: Timestamp,
    },
    /// A case under treatment was reclassified (asymptomatic ↔ confirmed).
    CaseReclassified {
        case: CaseId,
        person: PersonId,
        from: CaseKind,
        to: CaseKind,
        at: Timestamp,
    },
    /// The health monitoring after a case's discharge ended: the case is closed.
    CaseClosed {
        case: CaseId,
        person: PersonId,
        at: Timestamp,
    },
    /// The person of a case died.
    CaseDied {
        case: CaseId,
        person: PersonId,
        at: Timestamp,
    },
    /// A person was designated a contact of a case.
    ContactDesignated {
        person: PersonId,
        case: CaseId,
        contact_kind: ContactKind,
        last_exposure: Timestamp,
    },
    /// A designation was lifted (dismissed by a tracer, or released).
    ContactReleased {
        person: PersonId,
        case: CaseId,
        reason: String,
    },
    /// A quarantine order was issued.
    QuarantineOrdered {
        order: OrderId,
        person: PersonId,
        quarantine_kind: QuarantineKind,
        reason: QuarantineReason,
        start: Timestamp,
        planned_end: Timestamp,
    },
    /// A quarantine order ended (released, or replaced by another order).
    QuarantineEnded {
        order: OrderId,
        person: PersonId,
        at: Timestamp,
    },
    /// A zone was drawn or its level changed; `cells` are the grid cells it covers.
    ZoneSet {
        zone: ZoneId,
        level: ZoneLevel,
        cells: Vec<GridCell>,
        name: String,
    },
    /// A zone was lifted (approved by an official).
    ZoneLifted { zone: ZoneId, approver: String },
    /// A person arrived from an area of some risk level.
    Arrived {
        person: PersonId,
        origin: String,
        origin_risk: RiskLevel,
        at: Timestamp,
    },
    /// A sentinel reported a person.
    SentinelReported {
        person: PersonId,
        sentinel_kind: SentinelKind,
        at: Timestamp,
    },
    /// A mandated test was missed.
    TestMissed { person: PersonId, due_at: Timestamp },
    /// An official proposed a hold (弹窗) on a person, with its basis in the event's `basis`
    /// and an expiry. No fact and no colour: the hold takes effect only when a second
    /// official approves it ([`EventBody::HoldPlaced`]). The event's sequence number is
    /// the hold's id.
    HoldProposed {
        person: PersonId,
        expires_at: Timestamp,
    },
    /// A hold (弹窗) placed by two officials: only an official can clear it; it lapses at
    /// `expires_at`.
    HoldPlaced {
        person: PersonId,
        proposer: String,
        approver: String,
        expires_at: Timestamp,
        /// The [`EventBody::HoldProposed`] event it approves (absent in logs written
        /// before proposals existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proposal: Option<EventSeq>,
    },
    /// A hold cleared by an official.
    HoldCleared { person: PersonId, by: String },
    /// A policy version became active; `sha256` is the hash of the file's bytes.
    PolicyActivated { version: String, sha256: String },
    /// Someone read a person's unmasked personal data.
    PersonalDataRead { person: PersonId, purpose: String },
    /// A tracer told a designated contact of their designation and duties.
    ContactNotified { person: PersonId, case: CaseId },
    /// A case's contact list was exported for the people who phone contacts; `unmasked`
    /// when it carried full names, phone and ID numbers.
    ContactListExported {
        case: CaseId,
        rows: u32,
        unmasked: bool,
    },
    /// A person under an order was moved to another quarantine site (转运).
    QuarantineTransferred {
        order: OrderId,
        person: PersonId,
        from_site: Option<SiteId>,
        to_site: SiteId,
    },
    /// A daily health report showed fever or symptoms: a test is arranged and the person is
    /// flagged to a tracer (SORMAS: follow-up).
    FollowUpFlagged { person: PersonId, reason: String },
    /// A negative tube: one event for all its members (a 10-in-1 pool of a screening round
    /// is one event, not ten). `members.len()` is the pool size; a single tube has one.
    TubeNegative {
        tube: String,
        members: Vec<PersonId>,
        sampled_at: Timestamp,
        resulted_at: Timestamp,
    },
    /// A resident (or an official for them) appealed against their colour, with a reason.
    /// It is no fact: the colour follows only from facts and rules, never from an appeal
    /// or its answer (PROTOCOL.md §7: a colour must be traceable to a rule and evidence).
    AppealFiled { person: PersonId, reason: String },
    /// An official answered an appeal; `appeal` is the sequence number of its
    /// [`EventBody::AppealFiled`] event.
    AppealAnswered {
        person: PersonId,
        appeal: EventSeq,
        answer: String,
    },
    /// A screening round's deadline was moved later, with the official's reason. It is
    /// logged because the deadline decides who is recorded as having missed the round's
    /// test (a colour fact); a deadline is never moved earlier.
    RoundDeadlineExtended {
        round: RoundId,
        from: Timestamp,
        to: Timestamp,
        reason: String,
    },
    /// A register import moved a resident to another address: their community and grid cell
    /// (the address itself stays in the register, out of the log). Logged because the home
    /// cell decides which zones a person is in, hence their colour.
    ResidentMoved {
        person: PersonId,
        community: AreaCode,
        from: GridCell,
        to: GridCell,
    },
    /// A resident-register file (实有人口) was imported: the counts of its lines, and the
    /// new residents' ids, which are consecutive from `first_added`. Moves have their own
    /// [`EventBody::ResidentMoved`] events; refused lines changed nothing.
    RegisterImported {
        added: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_added: Option<PersonId>,
        updated: u32,
        moved: u32,
        unchanged: u32,
        refused: u32,
    },
    /// A printable identity card (docs/claim.md) was issued for a person without a phone:
    /// the card's number is this event's sequence number. Logged because a card is a
    /// credential that venues accept for the person until it expires or is revoked.
    CardIssued {
        person: PersonId,
        expires_at: Timestamp,
    },
    /// An identity card was revoked (lost, misused): `card` is the sequence number of its
    /// [`EventBody::CardIssued`] event. A venue scanning it is refused from then on.
    CardRevoked {
        person: PersonId,
        card: EventSeq,
        reason: String,
    },
    /// A guardian who claimed their own code claimed one for a dependant without a phone
    /// (代领): `person` is the dependant, `relation` what the guardian declared.
    ProxyGranted {
        person: PersonId,
        guardian: PersonId,
        relation: String,
    },
    /// A code-signing key was made ahead of use (`xikang key rotate`): the signed trust
    /// list publishes it as `next` until `not_before`, when it starts to sign.
    KeyRotated {
        kid: String,
        not_before: Timestamp,
        not_after: Timestamp,
    },
    /// A code-signing key was revoked (compromise): nothing it signed verifies any more.
    KeyRevoked { kid: String, reason: String },
    /// Another city's instance became a peer (docs/cities.md): its signed trust list is
    /// fetched from `url` and checked with the pinned root key `anchor_kid`.
    PeerAdded {
        name: String,
        url: String,
        jurisdiction: String,
        anchor_kid: String,
        anchor_public_key: String,
    },
    /// An employer applied for a commuter pass (出入证) for `person`, who lives here and
    /// works in `work_jurisdiction`: the pass's number is this event's sequence number.
    PassApplied {
        person: PersonId,
        employer: String,
        work_jurisdiction: String,
        valid_from: Timestamp,
        valid_until: Timestamp,
        max_test_age_hours: u32,
        /// How many distinct officials of the home district must approve.
        approvals_needed: u32,
    },
    /// An official of the holder's district approved a pass (the event's actor).
    PassApproved { person: PersonId, pass: EventSeq },
    /// A pass was revoked: both cities' checkpoints refuse it once the revocation list
    /// that names it has been fetched.
    PassRevoked {
        person: PersonId,
        pass: EventSeq,
        reason: String,
    },
    /// A tracer asked a peer city for assistance (协查, docs/cities.md): the request's
    /// number is this event's sequence number. It carries only what the peer needs: the
    /// case's id here and the places and times in the peer's city.
    AssistSent {
        peer: String,
        case: CaseId,
        places: Vec<AssistPlace>,
        /// The "people" kind: close contacts registered in the peer city, by keyed hash.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<AssistPerson>,
    },
    /// A peer city's request arrived, signed by its root key: a task for our tracers.
    /// `remote` is the request's number at the peer.
    AssistReceived {
        peer: String,
        remote: u64,
        case: String,
        places: Vec<AssistPlace>,
        sent_at: Timestamp,
        /// The people named, by the requester's keyed hash, with whom they resolved to here.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<AssistPerson>,
    },
    /// A tracer answered an incoming request (`request`: its `assist_received` event).
    AssistAnswered {
        request: EventSeq,
        outcome: String,
        traced: u32,
        /// For a "people" request: what was done about each person, by reference.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<AssistOutcome>,
    },
    /// The peer's answer to our request (`request`: its `assist_sent` event) arrived.
    AssistAnswerReceived {
        request: EventSeq,
        outcome: String,
        traced: u32,
        answered_at: Timestamp,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<AssistOutcome>,
    },
    /// A request or an answer (`message`: its event) reached the peer.
    AssistDelivered { message: EventSeq },
    /// A guardian's hold on a dependant's code was revoked by an official: `grant` is the
    /// sequence number of its [`EventBody::ProxyGranted`] event.
    ProxyRevoked {
        person: PersonId,
        guardian: PersonId,
        grant: EventSeq,
    },
    /// A resident posted a message on the board (民声留言板, docs/citizens.md), without
    /// logging in: the message's number is this event's sequence number. The routing rules
    /// ([`crate::board::route`]) chose `department`, `area` and `due_at`. No poster is
    /// named: the board keeps no personal data of the poster.
    MessagePosted {
        category: Category,
        title: String,
        text: String,
        department: Department,
        area: AreaCode,
        due_at: Timestamp,
    },
    /// Staff accepted, replied to, transferred or closed a message, or the sweep escalated
    /// it past its deadline: `message` is the sequence number of its
    /// [`EventBody::MessagePosted`] event; a transfer names the new department and area.
    MessageHandled {
        message: EventSeq,
        action: MessageAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        department: Option<Department>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        area: Option<AreaCode>,
    },
    /// An enterprise's filing to resume work (复工备案, docs/citizens.md): its workers as
    /// resident ids (their ID numbers are resolved against the register and never logged),
    /// its measures, responsible person and site. The filing's number is this event's.
    FilingSubmitted {
        enterprise: String,
        /// The unified social credit code (统一社会信用代码): one enterprise, many filings.
        credit_code: String,
        industry: Industry,
        area: AreaCode,
        site: String,
        responsible: String,
        measures: String,
        workers: Vec<PersonId>,
    },
    /// The district approved or returned a filing, with its reasons: `filing` is the
    /// sequence number of its [`EventBody::FilingSubmitted`] event.
    FilingDecided {
        filing: EventSeq,
        approved: bool,
        reason: String,
    },
    /// A sealed or isolated household asked for supplies (docs/citizens.md), the resident
    /// or their grid worker for them: a delivery task on the home cell's worker's list,
    /// written in the same transaction.
    SupplyRequested {
        person: PersonId,
        need: SupplyNeed,
        items: String,
        due_at: Timestamp,
    },
    /// An item of a responsibility list (责任清单, docs/citizens.md): what a department's
    /// official (`owner`, a staff user name) must do in `area` by `deadline`. Its number is
    /// this event's sequence number.
    ResponsibilityAssigned {
        department: Department,
        owner: String,
        what: String,
        area: AreaCode,
        deadline: Timestamp,
    },
    /// A responsibility item was done (`escalated: false`, with the owner's note), or the
    /// sweep found it past its deadline and raised it to the supervisor, the admins of the
    /// area above (`escalated: true`).
    ResponsibilityUpdated {
        item: EventSeq,
        escalated: bool,
        note: String,
    },
    /// An enterprise with a filing posted a need or an offer on the supply–demand board
    /// (企业供需对接, docs/citizens.md), through the street's staff.
    ExchangePosted {
        credit_code: String,
        offer: bool,
        item: String,
        quantity: u32,
        area: AreaCode,
    },
    /// An official inspected a venue (明察暗访, docs/citizens.md), announced or not: what
    /// they found, whether it passed, by when it must be put right, and the inspection this
    /// one re-inspects (`follows`, the sequence number of an earlier one).
    InspectionRecorded {
        venue: VenueId,
        unannounced: bool,
        findings: String,
        passed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rectify_by: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        follows: Option<EventSeq>,
        /// The photos taken, by the SHA-256 (hex) of their bytes, stored content-addressed
        /// in the data directory. Absent when there were none, so the events recorded
        /// before photos were kept hash the same.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        photos: Vec<String>,
    },
    /// A need or offer on the supply–demand board was closed (met, or withdrawn) by the
    /// enterprise or the street's staff: it leaves the board.
    ExchangeClosed { post: EventSeq, credit_code: String },
    /// A facility reported a resource's count (docs/citizens.md, capacity): a fever
    /// clinic's patients a day it can see and saw today, transfer vehicles and those in
    /// use, or a quarantine site's stock of one item (`total` on hand, `in_use` 0).
    CapacityReported {
        resource: crate::capacity::Resource,
        name: String,
        area: AreaCode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        site: Option<SiteId>,
        total: u32,
        in_use: u32,
    },
}

impl EventBody {
    /// The one person this event concerns, if any.
    pub fn person(&self) -> Option<PersonId> {
        self.person_ref().copied()
    }

    /// The event's kind as stored in its own column (`test_resulted`, …).
    pub fn kind(&self) -> &'static str {
        use EventBody::*;
        match self {
            TestResulted { .. } => "test_resulted",
            PoolPositive { .. } => "pool_positive",
            CaseRegistered { .. } => "case_registered",
            CaseDischarged { .. } => "case_discharged",
            CaseScreened { .. } => "case_screened",
            CaseRechecked { .. } => "case_rechecked",
            CaseTransferred { .. } => "case_transferred",
            CaseReclassified { .. } => "case_reclassified",
            CaseClosed { .. } => "case_closed",
            CaseDied { .. } => "case_died",
            ContactDesignated { .. } => "contact_designated",
            ContactReleased { .. } => "contact_released",
            QuarantineOrdered { .. } => "quarantine_ordered",
            QuarantineEnded { .. } => "quarantine_ended",
            ZoneSet { .. } => "zone_set",
            ZoneLifted { .. } => "zone_lifted",
            Arrived { .. } => "arrived",
            SentinelReported { .. } => "sentinel_reported",
            TestMissed { .. } => "test_missed",
            HoldProposed { .. } => "hold_proposed",
            HoldPlaced { .. } => "hold_placed",
            HoldCleared { .. } => "hold_cleared",
            PolicyActivated { .. } => "policy_activated",
            PersonalDataRead { .. } => "personal_data_read",
            ContactNotified { .. } => "contact_notified",
            ContactListExported { .. } => "contact_list_exported",
            QuarantineTransferred { .. } => "quarantine_transferred",
            FollowUpFlagged { .. } => "follow_up_flagged",
            TubeNegative { .. } => "tube_negative",
            AppealFiled { .. } => "appeal_filed",
            AppealAnswered { .. } => "appeal_answered",
            RoundDeadlineExtended { .. } => "round_deadline_extended",
            ResidentMoved { .. } => "resident_moved",
            RegisterImported { .. } => "register_imported",
            CardIssued { .. } => "card_issued",
            CardRevoked { .. } => "card_revoked",
            ProxyGranted { .. } => "proxy_granted",
            ProxyRevoked { .. } => "proxy_revoked",
            KeyRotated { .. } => "key_rotated",
            KeyRevoked { .. } => "key_revoked",
            PeerAdded { .. } => "peer_added",
            PassApplied { .. } => "pass_applied",
            PassApproved { .. } => "pass_approved",
            PassRevoked { .. } => "pass_revoked",
            AssistSent { .. } => "assist_sent",
            AssistReceived { .. } => "assist_received",
            AssistAnswered { .. } => "assist_answered",
            AssistAnswerReceived { .. } => "assist_answer_received",
            AssistDelivered { .. } => "assist_delivered",
            MessagePosted { .. } => "message_posted",
            MessageHandled { .. } => "message_handled",
            FilingSubmitted { .. } => "filing_submitted",
            FilingDecided { .. } => "filing_decided",
            InspectionRecorded { .. } => "inspection_recorded",
            SupplyRequested { .. } => "supply_requested",
            ExchangePosted { .. } => "exchange_posted",
            ExchangeClosed { .. } => "exchange_closed",
            CapacityReported { .. } => "capacity_reported",
            ResponsibilityAssigned { .. } => "responsibility_assigned",
            ResponsibilityUpdated { .. } => "responsibility_updated",
        }
    }

    /// Every person this event concerns: the one of [`EventBody::person`], or all members
    /// of a tube.
    pub fn people(&self) -> &[PersonId] {
        match self {
            EventBody::TubeNegative { members, .. } => members,
            _ => match self.person_ref() {
                Some(p) => std::slice::from_ref(p),
                None => &[],
            },
        }
    }

    fn person_ref(&self) -> Option<&PersonId> {
        use EventBody::*;
        match self {
            TestResulted { person, .. }
            | PoolPositive { person, .. }
            | CaseRegistered { person, .. }
            | CaseDischarged { person, .. }
            | CaseScreened { person, .. }
            | CaseRechecked { person, .. }
            | CaseTransferred { person, .. }
            | CaseReclassified { person, .. }
            | CaseClosed { person, .. }
            | CaseDied { person, .. }
            | ContactDesignated { person, .. }
            | ContactReleased { person, .. }
            | QuarantineOrdered { person, .. }
            | QuarantineEnded { person, .. }
            | Arrived { person, .. }
            | SentinelReported { person, .. }
            | TestMissed { person, .. }
            | HoldProposed { person, .. }
            | HoldPlaced { person, .. }
            | HoldCleared { person, .. }
            | PersonalDataRead { person, .. }
            | ContactNotified { person, .. }
            | QuarantineTransferred { person, .. }
            | FollowUpFlagged { person, .. }
            | AppealFiled { person, .. }
            | AppealAnswered { person, .. }
            | ResidentMoved { person, .. }
            | CardIssued { person, .. }
            | CardRevoked { person, .. }
            | ProxyGranted { person, .. }
            | ProxyRevoked { person, .. }
            | PassApplied { person, .. }
            | PassApproved { person, .. }
            | PassRevoked { person, .. }
            | SupplyRequested { person, .. } => Some(person),
            ZoneSet { .. }
            | ZoneLifted { .. }
            | PolicyActivated { .. }
            | ContactListExported { .. }
            | TubeNegative { .. }
            | RoundDeadlineExtended { .. }
            | RegisterImported { .. }
            | KeyRotated { .. }
            | KeyRevoked { .. }
            | PeerAdded { .. }
            | AssistSent { .. }
            | AssistReceived { .. }
            | AssistAnswered { .. }
            | AssistAnswerReceived { .. }
            | AssistDelivered { .. }
            | MessagePosted { .. }
            | MessageHandled { .. }
            | FilingSubmitted { .. }
            | FilingDecided { .. }
            | InspectionRecorded { .. }
            | ResponsibilityAssigned { .. }
            | ResponsibilityUpdated { .. }
            | ExchangePosted { .. }
            | ExchangeClosed { .. }
            | CapacityReported { .. } => None,
        }
    }

    /// Canonical JSON of the body: the bytes that are stored and hashed.
    pub fn to_json(&self) -> String {
        // Serializing a plain enum of plain fields cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// An event as written to the log, before the store gives it a sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// When the fact happened or was recorded.
    pub at: Timestamp,
    /// Who recorded it: a user or device name, or `system:…` for rule-driven events.
    pub actor: String,
    /// The legal or rule basis (policy rule id, notice, lab report number…).
    pub basis: String,
    pub body: EventBody,
}

/// An event as stored: sequence number and hash chain added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub seq: EventSeq,
    pub at: Timestamp,
    pub actor: String,
    pub basis: String,
    pub body: EventBody,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The hash before the first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// The chain hash of one event. Fields are length-prefixed so that no two different events
/// serialize to the same bytes.
pub fn chain_hash(
    prev: &[u8; 32],
    seq: EventSeq,
    at: Timestamp,
    actor: &str,
    basis: &str,
    body_json: &str,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"xikang-event-v1");
    h.update(prev);
    h.update(seq.0.to_be_bytes());
    h.update(at.0.to_be_bytes());
    for part in [actor, basis, body_json] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// Where a chain of stored events first fails to verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("event {seq}: prev_hash does not match the hash of the event before it")]
    BrokenLink { seq: EventSeq },
    #[error("event {seq}: stored hash does not match its contents (altered)")]
    Altered { seq: EventSeq },
    #[error("event {seq}: expected sequence number {expected} (an event is missing)")]
    Gap { seq: EventSeq, expected: u64 },
    #[error("event {seq}: body is not a valid event ({reason})")]
    Unreadable { seq: EventSeq, reason: String },
}

/// Verifies stored events in order, carrying the running state between calls so that a
/// store can stream a long log through it.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    prev: [u8; 32],
    next_seq: u64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            prev: GENESIS_HASH,
            next_seq: 1,
        }
    }
}

impl ChainVerifier {
    /// Checks the next stored event, given the raw columns as stored.
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per stored column, read straight from a row"
    )]
    pub fn check(
        &mut self,
        seq: EventSeq,
        at: Timestamp,
        actor: &str,
        basis: &str,
        body_json: &str,
        prev_hash: &[u8; 32],
        hash: &[u8; 32],
    ) -> Result<(), ChainError> {
        if seq.0 != self.next_seq {
            return Err(ChainError::Gap {
                seq,
                expected: self.next_seq,
            });
        }
        if prev_hash != &self.prev {
            return Err(ChainError::BrokenLink { seq });
        }
        if &chain_hash(prev_hash, seq, at, actor, basis, body_json) != hash {
            return Err(ChainError::Altered { seq });
        }
        self.prev = *hash;
        self.next_seq += 1;
        Ok(())
    }

    /// How many events have verified so far.
    pub fn verified(&self) -> u64 {
        self.next_seq - 1
    }

    /// The hash of the last verified event.
    pub fn head(&self) -> [u8; 32] {
        self.prev
    }
}
