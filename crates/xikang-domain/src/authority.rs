//! Who may change a colour, and on what evidence (PROTOCOL.md §7, Zhengzhou 2022: a colour
//! must be traceable to a rule and evidence; a manual change needs an accountable path).
//!
//! Every act of an official that can turn someone red or yellow either **cites machine
//! evidence** — a registered case, a tracer's confirmed contact decision (made only when the
//! co-presence data show the contact), a lab result, a recorded arrival, a zone change the
//! policy's conditions proposed — and one official may do it, or it is a **proposal** that a
//! second official approves, or it is **refused** with a stable code saying what is missing.
//! [`authority`] decides that from facts the caller gathered; [`second_official`] checks an
//! approval; [`ledger_act`] classifies a committed event for the public colour ledger.
//!
//! Pure: no clock, no I/O; the server gathers the evidence, calls these and commits.

use crate::event::{EventBody, QuarantineReason, RiskLevel};
use crate::facts::FactKind;
use crate::ids::{CaseId, OrderId, ZoneId};
use crate::model::TestOutcome;
use serde::{Deserialize, Serialize};

/// A colour-changing act an official asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// A quarantine order with this reason (`POST /quarantine/orders`).
    Order(QuarantineReason),
    /// A manual hold (弹窗) on a person: a colour with no machine evidence at all.
    Hold,
    /// A zone drawn by hand (`POST /zones`).
    DrawZone,
    /// A zone change the policy's conditions proposed (a case inside a controlled zone, or
    /// the lifting conditions all holding).
    RuleZoneChange,
}

/// What the server found on record for the act's person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    /// A tracer's confirmed (or notified) close-contact decision, in this case.
    pub confirmed_close_contact: Option<CaseId>,
    /// A tracer's confirmed secondary-contact decision: the data linked the person to a
    /// close contact of this case.
    pub confirmed_secondary_contact: Option<CaseId>,
    /// The risk level of the person's latest recorded arrival (入锡申报 marked arrived).
    pub arrival: Option<RiskLevel>,
    /// A case of the person that was discharged.
    pub discharged_case: Option<CaseId>,
    /// An order of the person that ended (released).
    pub ended_order: Option<OrderId>,
}

/// The kind of basis an act cites (a column of the colour ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BasisKind {
    /// A registered case.
    Case,
    /// A tracer's confirmed contact decision (co-presence evidence behind it).
    ContactDecision,
    /// A positive test or pooled tube.
    LabResult,
    /// A recorded arrival from an area of some risk.
    Arrival,
    /// A sentinel's report (pharmacy, fever clinic).
    Sentinel,
    /// A mandated test that was missed.
    MissedTest,
    /// A zone change the policy's conditions proposed.
    ZoneRule,
    /// The follow-on phase of an order that ended or of a discharged case.
    FollowOn,
    /// A hold two officials placed, with their stated basis.
    ManualHold,
    /// A zone drawn by hand.
    ManualZone,
}

impl BasisKind {
    /// Whether the basis links the colour to a case (directly, through a contact decision,
    /// through the lab result that reveals one, or through a case inside a zone). The
    /// ledger's alarm counts colour changes without such a link.
    pub fn case_linked(self) -> bool {
        match self {
            BasisKind::Case
            | BasisKind::ContactDecision
            | BasisKind::LabResult
            | BasisKind::ZoneRule
            | BasisKind::FollowOn => true,
            BasisKind::Arrival
            | BasisKind::Sentinel
            | BasisKind::MissedTest
            | BasisKind::ManualHold
            | BasisKind::ManualZone => false,
        }
    }
}

/// Who decided a colour change (a column of the colour ledger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// No official: a rule on machine evidence (a lab result, a device's report, the duty
    /// sweep).
    Rule,
    /// One official, citing machine evidence or approving a rule's proposal.
    OneOfficial,
    /// A proposal by one official approved by another.
    TwoOfficials,
}

/// What is missing for an act one official asked for: refused with [`Missing::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// `close_contact` without a tracer's confirmed close-contact decision.
    ConfirmedContact,
    /// `secondary_contact` without a confirmed link to a close contact.
    CloseContactLink,
    /// An arrival reason without a recorded arrival of that risk.
    Arrival,
    /// A follow-on reason without the order or case it follows.
    Predecessor,
    /// A reason with no machine evidence at all (`other`): use a hold, which two officials
    /// place.
    Evidence,
}

impl Missing {
    /// The stable API error code.
    pub fn code(self) -> &'static str {
        match self {
            Missing::ConfirmedContact => "contact_not_confirmed",
            Missing::CloseContactLink => "no_close_contact_link",
            Missing::Arrival => "arrival_not_recorded",
            Missing::Predecessor => "nothing_to_follow",
            Missing::Evidence => "evidence_required",
        }
    }

    /// What the official should do instead, in English.
    pub fn message(self) -> &'static str {
        match self {
            Missing::ConfirmedContact => {
                "a close-contact order needs a tracer's confirmed contact decision for this person (POST /cases/{id}/contacts/{person} confirm)"
            }
            Missing::CloseContactLink => {
                "a secondary-contact order needs a confirmed secondary-contact decision linking this person to a close contact of a case"
            }
            Missing::Arrival => {
                "an arrival order needs a recorded arrival of this person from an area of that risk"
            }
            Missing::Predecessor => {
                "a follow-on order needs the ended order or the discharged case it follows"
            }
            Missing::Evidence => {
                "this order cites no evidence; a colour without machine evidence is a hold, which a second official must approve (POST /holds)"
            }
        }
    }
}

/// What an act may do, decided by [`authority`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// It cites this evidence: one official may commit it.
    Cites {
        basis: BasisKind,
        /// The case it links to, when there is one.
        case: Option<CaseId>,
    },
    /// No machine evidence: it is a proposal that takes effect only when a second official
    /// approves it ([`second_official`]).
    Proposal(BasisKind),
    /// Refused: the evidence it needs is not on record.
    Refused(Missing),
}

/// Decides what evidence an act has and whether it needs a second official.
///
/// Orders are refused, not turned into proposals, when their evidence is missing: the
/// evidence (a confirmed contact, an arrival) is something a tracer or a device records in
/// minutes, while a second official's approval of an unfounded order would only spread the
/// blame. A colour without any machine evidence has one path, the hold (docs/decisions.md).
pub fn authority(act: Act, ev: &Evidence) -> Authority {
    let cites = |basis, case| Authority::Cites { basis, case };
    match act {
        Act::Hold => Authority::Proposal(BasisKind::ManualHold),
        Act::DrawZone => Authority::Proposal(BasisKind::ManualZone),
        Act::RuleZoneChange => cites(BasisKind::ZoneRule, None),
        Act::Order(reason) => match reason {
            QuarantineReason::CloseContact => match ev.confirmed_close_contact {
                Some(case) => cites(BasisKind::ContactDecision, Some(case)),
                None => Authority::Refused(Missing::ConfirmedContact),
            },
            QuarantineReason::SecondaryContact => match ev.confirmed_secondary_contact {
                Some(case) => cites(BasisKind::ContactDecision, Some(case)),
                None => Authority::Refused(Missing::CloseContactLink),
            },
            QuarantineReason::HighRiskArrival => arrival(ev, RiskLevel::High),
            QuarantineReason::MediumRiskArrival => arrival(ev, RiskLevel::Medium),
            // Closed-loop inbound travellers: any recorded arrival.
            QuarantineReason::Inbound => match ev.arrival {
                Some(_) => cites(BasisKind::Arrival, None),
                None => Authority::Refused(Missing::Arrival),
            },
            QuarantineReason::AfterQuarantine => match ev.ended_order {
                Some(_) => cites(BasisKind::FollowOn, None),
                None => Authority::Refused(Missing::Predecessor),
            },
            QuarantineReason::AfterDischarge => match ev.discharged_case {
                Some(case) => cites(BasisKind::FollowOn, Some(case)),
                None => Authority::Refused(Missing::Predecessor),
            },
            QuarantineReason::Other => Authority::Refused(Missing::Evidence),
        },
    }
}

fn arrival(ev: &Evidence, risk: RiskLevel) -> Authority {
    if ev.arrival == Some(risk) {
        Authority::Cites {
            basis: BasisKind::Arrival,
            case: None,
        }
    } else {
        Authority::Refused(Missing::Arrival)
    }
}

/// Why an approval is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalRefused {
    /// The proposer cannot approve their own proposal (409 `same_official`).
    SameOfficial,
    /// The approver is not an official (a system actor or an empty name).
    NotAnOfficial,
}

/// Checks that `approver` may approve what `proposer` proposed: a different, named
/// official. (Role and area are checked by the server's authorisation before this.) A
/// rule's proposal (`system:…`) needs one official's approval, which this also checks.
pub fn second_official(proposer: &str, approver: &str) -> Result<(), ApprovalRefused> {
    let approver = approver.trim();
    if approver.is_empty() || approver.starts_with("system:") {
        return Err(ApprovalRefused::NotAnOfficial);
    }
    if approver == proposer.trim() {
        return Err(ApprovalRefused::SameOfficial);
    }
    Ok(())
}

/// The structured basis of an approved act's event (kept in the event's `basis` as JSON,
/// keys in alphabetical order): who proposed it, who approved it, and what was proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedBasis {
    /// `draw` (a zone drawn by hand), `hold`, or `rule` (the policy's conditions; also
    /// what an approval logged before this field existed was).
    #[serde(default)]
    pub act: String,
    pub approver: String,
    /// The basis the proposer stated (a hold's reason), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    pub proposal: String,
    pub proposer: String,
}

/// How the ledger counts one committed event: which basis it cites and who decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerAct {
    pub basis: BasisKind,
    pub actor: ActorKind,
}

fn decided_by(actor: &str) -> ActorKind {
    if actor.starts_with("system:") {
        ActorKind::Rule
    } else {
        ActorKind::OneOfficial
    }
}

/// Classifies a committed event for the colour ledger: `None` for events that cannot turn
/// anyone red or yellow (negatives, releases, reads, follow-on phases, extensions of an
/// existing order are the caller's to skip). `actor` and `basis` are the event's columns.
pub fn ledger_act(actor: &str, basis: &str, body: &EventBody) -> Option<LedgerAct> {
    let act = |basis, actor| Some(LedgerAct { basis, actor });
    match body {
        EventBody::TestResulted {
            outcome: TestOutcome::Positive,
            ..
        }
        | EventBody::PoolPositive { .. } => act(BasisKind::LabResult, ActorKind::Rule),
        EventBody::CaseRegistered { .. } => act(BasisKind::Case, decided_by(actor)),
        EventBody::ContactDesignated { .. } => act(BasisKind::ContactDecision, decided_by(actor)),
        EventBody::QuarantineOrdered { reason, .. } => {
            let kind = match reason {
                QuarantineReason::CloseContact | QuarantineReason::SecondaryContact => {
                    BasisKind::ContactDecision
                }
                QuarantineReason::HighRiskArrival
                | QuarantineReason::MediumRiskArrival
                | QuarantineReason::Inbound => BasisKind::Arrival,
                // The follow-on phase steps a colour down, it does not turn anyone red.
                QuarantineReason::AfterQuarantine | QuarantineReason::AfterDischarge => {
                    return None;
                }
                // Orders without evidence are refused today; one in an older log counts as
                // manual, decided by one official.
                QuarantineReason::Other => BasisKind::ManualHold,
            };
            act(kind, decided_by(actor))
        }
        EventBody::Arrived { .. } => act(BasisKind::Arrival, decided_by(actor)),
        EventBody::SentinelReported { .. } => act(BasisKind::Sentinel, ActorKind::Rule),
        EventBody::TestMissed { .. } => act(BasisKind::MissedTest, ActorKind::Rule),
        EventBody::HoldPlaced {
            proposer, approver, ..
        } => act(BasisKind::ManualHold, officials(proposer, approver)),
        EventBody::ZoneSet { .. } => match serde_json::from_str::<ApprovedBasis>(basis) {
            Ok(b) if b.act == "draw" => {
                act(BasisKind::ManualZone, officials(&b.proposer, &b.approver))
            }
            Ok(b) => act(BasisKind::ZoneRule, officials(&b.proposer, &b.approver)),
            // A zone drawn by one official before drawing needed two (an older log).
            Err(_) => act(BasisKind::ManualZone, decided_by(actor)),
        },
        _ => None,
    }
}

/// The fact a colour-raising event places its person (or a zone's residents) under, with
/// its ids zeroed: what the ledger asks the policy to colour. `None` for events that place
/// no fact.
pub fn ledger_fact(body: &EventBody) -> Option<FactKind> {
    Some(match *body {
        EventBody::TestResulted {
            outcome: TestOutcome::Positive,
            ..
        } => FactKind::PositiveTest,
        EventBody::PoolPositive { .. } => FactKind::PoolPositive,
        EventBody::CaseRegistered { case_kind, .. } => FactKind::Case {
            case: CaseId(0),
            case_kind,
        },
        EventBody::ContactDesignated { contact_kind, .. } => FactKind::Contact {
            case: CaseId(0),
            contact_kind,
        },
        EventBody::QuarantineOrdered {
            quarantine_kind,
            reason,
            ..
        } => FactKind::Quarantine {
            order: OrderId(0),
            quarantine_kind,
            reason,
        },
        EventBody::Arrived { origin_risk, .. } => FactKind::Arrival { risk: origin_risk },
        EventBody::SentinelReported { sentinel_kind, .. } => FactKind::Sentinel { sentinel_kind },
        EventBody::TestMissed { .. } => FactKind::MissedTest,
        EventBody::HoldPlaced { .. } => FactKind::Hold,
        EventBody::ZoneSet { level, .. } => FactKind::Zone {
            zone: ZoneId(0),
            level,
        },
        _ => return None,
    })
}

/// Who decided an act that was proposed and approved: a rule's proposal approved by one
/// official, or two officials (the same name twice counts as one).
fn officials(proposer: &str, approver: &str) -> ActorKind {
    if proposer.starts_with("system:") || proposer == approver {
        ActorKind::OneOfficial
    } else {
        ActorKind::TwoOfficials
    }
}

#[cfg(test)]
mod tests;
