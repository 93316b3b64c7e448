//! Table tests of who may change a colour on what evidence, and of the ledger's classes.

use super::*;
use crate::event::{CaseKind, ContactKind, QuarantineKind, SentinelKind, ZoneLevel};
use crate::ids::{EventSeq, PersonId, ZoneId};
use crate::time::Timestamp;

const C: CaseId = CaseId(7);

fn with(f: impl FnOnce(&mut Evidence)) -> Evidence {
    let mut e = Evidence::default();
    f(&mut e);
    e
}

#[test]
fn every_order_reason_cites_its_own_evidence_or_is_refused_with_a_code() {
    use QuarantineReason::*;
    let none = Evidence::default();
    let close = with(|e| e.confirmed_close_contact = Some(C));
    let secondary = with(|e| e.confirmed_secondary_contact = Some(C));
    let high = with(|e| e.arrival = Some(RiskLevel::High));
    let medium = with(|e| e.arrival = Some(RiskLevel::Medium));
    let low = with(|e| e.arrival = Some(RiskLevel::Low));
    let ended = with(|e| e.ended_order = Some(OrderId(3)));
    let discharged = with(|e| e.discharged_case = Some(C));
    let everything = Evidence {
        confirmed_close_contact: Some(C),
        confirmed_secondary_contact: Some(C),
        arrival: Some(RiskLevel::High),
        discharged_case: Some(C),
        ended_order: Some(OrderId(3)),
    };
    let cites = |basis, case| Authority::Cites { basis, case };
    let refused = Authority::Refused;
    let table: &[(QuarantineReason, &Evidence, Authority)] = &[
        // Defect 5: a close-contact order for an unconfirmed candidate.
        (CloseContact, &none, refused(Missing::ConfirmedContact)),
        (CloseContact, &secondary, refused(Missing::ConfirmedContact)),
        (CloseContact, &high, refused(Missing::ConfirmedContact)),
        (
            CloseContact,
            &close,
            cites(BasisKind::ContactDecision, Some(C)),
        ),
        // Defect 5: a secondary-contact order with no link to any case.
        (SecondaryContact, &none, refused(Missing::CloseContactLink)),
        (SecondaryContact, &close, refused(Missing::CloseContactLink)),
        (
            SecondaryContact,
            &secondary,
            cites(BasisKind::ContactDecision, Some(C)),
        ),
        (HighRiskArrival, &none, refused(Missing::Arrival)),
        (HighRiskArrival, &medium, refused(Missing::Arrival)),
        (HighRiskArrival, &low, refused(Missing::Arrival)),
        (HighRiskArrival, &high, cites(BasisKind::Arrival, None)),
        (MediumRiskArrival, &high, refused(Missing::Arrival)),
        (MediumRiskArrival, &medium, cites(BasisKind::Arrival, None)),
        (Inbound, &none, refused(Missing::Arrival)),
        (Inbound, &low, cites(BasisKind::Arrival, None)),
        (AfterQuarantine, &none, refused(Missing::Predecessor)),
        (AfterQuarantine, &discharged, refused(Missing::Predecessor)),
        (AfterQuarantine, &ended, cites(BasisKind::FollowOn, None)),
        (AfterDischarge, &ended, refused(Missing::Predecessor)),
        (
            AfterDischarge,
            &discharged,
            cites(BasisKind::FollowOn, Some(C)),
        ),
        // Nothing makes an order without a reason's evidence acceptable.
        (Other, &none, refused(Missing::Evidence)),
        (Other, &everything, refused(Missing::Evidence)),
    ];
    for (reason, ev, want) in table {
        assert_eq!(
            authority(Act::Order(*reason), ev),
            *want,
            "{reason:?} {ev:?}"
        );
    }
}

#[test]
fn holds_and_hand_drawn_zones_are_proposals_whatever_is_on_record() {
    let everything = Evidence {
        confirmed_close_contact: Some(C),
        confirmed_secondary_contact: Some(C),
        arrival: Some(RiskLevel::High),
        discharged_case: Some(C),
        ended_order: Some(OrderId(3)),
    };
    for ev in [Evidence::default(), everything] {
        assert_eq!(
            authority(Act::Hold, &ev),
            Authority::Proposal(BasisKind::ManualHold)
        );
        assert_eq!(
            authority(Act::DrawZone, &ev),
            Authority::Proposal(BasisKind::ManualZone)
        );
        assert_eq!(
            authority(Act::RuleZoneChange, &ev),
            Authority::Cites {
                basis: BasisKind::ZoneRule,
                case: None
            }
        );
    }
}

#[test]
fn refusal_codes_are_stable_and_distinct() {
    let all = [
        Missing::ConfirmedContact,
        Missing::CloseContactLink,
        Missing::Arrival,
        Missing::Predecessor,
        Missing::Evidence,
    ];
    let codes: Vec<&str> = all.iter().map(|m| m.code()).collect();
    assert_eq!(
        codes,
        [
            "contact_not_confirmed",
            "no_close_contact_link",
            "arrival_not_recorded",
            "nothing_to_follow",
            "evidence_required"
        ]
    );
    for m in all {
        assert!(m.message().len() > 20, "{m:?}");
    }
}

#[test]
fn an_approval_needs_a_second_named_official() {
    let table: &[(&str, &str, Result<(), ApprovalRefused>)] = &[
        ("admin:wang", "admin:li", Ok(())),
        (
            "admin:wang",
            "admin:wang",
            Err(ApprovalRefused::SameOfficial),
        ),
        (
            "admin:wang",
            " admin:wang ",
            Err(ApprovalRefused::SameOfficial),
        ),
        ("system:zones", "admin:li", Ok(())),
        (
            "admin:wang",
            "system:zones",
            Err(ApprovalRefused::NotAnOfficial),
        ),
        ("admin:wang", "", Err(ApprovalRefused::NotAnOfficial)),
        ("admin:wang", "  ", Err(ApprovalRefused::NotAnOfficial)),
    ];
    for (proposer, approver, want) in table {
        assert_eq!(
            second_official(proposer, approver),
            *want,
            "{proposer} / {approver}"
        );
    }
}

fn approved(act: &str, proposer: &str, approver: &str) -> String {
    serde_json::to_string(&ApprovedBasis {
        act: act.into(),
        approver: approver.into(),
        basis: None,
        proposal: "ZP1".into(),
        proposer: proposer.into(),
    })
    .unwrap()
}

#[test]
fn the_ledger_classes_each_colour_raising_event_by_basis_and_deciders() {
    let p = PersonId(1);
    let t = Timestamp(0);
    let order = |reason| EventBody::QuarantineOrdered {
        order: OrderId(1),
        person: p,
        quarantine_kind: QuarantineKind::Centralized,
        reason,
        start: t,
        planned_end: t,
    };
    let zone = EventBody::ZoneSet {
        zone: ZoneId(1),
        level: ZoneLevel::Sealed,
        cells: vec![],
        name: "z".into(),
    };
    let hold = |proposer: &str, approver: &str| EventBody::HoldPlaced {
        person: p,
        proposer: proposer.into(),
        approver: approver.into(),
        expires_at: t,
        proposal: Some(EventSeq(1)),
    };
    let positive = EventBody::TestResulted {
        person: p,
        sampled_at: t,
        resulted_at: t,
        outcome: TestOutcome::Positive,
        pool_size: 1,
        tube: "T".into(),
    };
    let negative = EventBody::TestResulted {
        person: p,
        sampled_at: t,
        resulted_at: t,
        outcome: TestOutcome::Negative,
        pool_size: 1,
        tube: "T".into(),
    };
    use ActorKind::*;
    use BasisKind::*;
    let l = |basis, actor| Some(LedgerAct { basis, actor });
    let table: Vec<(&str, String, EventBody, Option<LedgerAct>)> = vec![
        ("lab:1", "".into(), positive, l(LabResult, Rule)),
        ("lab:1", "".into(), negative, None),
        (
            "lab:1",
            "".into(),
            EventBody::PoolPositive {
                person: p,
                sampled_at: t,
                tube: "T".into(),
            },
            l(LabResult, Rule),
        ),
        (
            "tracer:li",
            "".into(),
            EventBody::CaseRegistered {
                case: C,
                person: p,
                case_kind: CaseKind::Confirmed,
                onset: None,
                sampled_at: None,
                isolated_at: None,
            },
            l(Case, OneOfficial),
        ),
        (
            "tracer:li",
            "".into(),
            EventBody::ContactDesignated {
                person: p,
                case: C,
                contact_kind: ContactKind::Close,
                last_exposure: t,
            },
            l(ContactDecision, OneOfficial),
        ),
        (
            "tracer:li",
            "".into(),
            order(QuarantineReason::CloseContact),
            l(ContactDecision, OneOfficial),
        ),
        (
            "tracer:li",
            "".into(),
            order(QuarantineReason::SecondaryContact),
            l(ContactDecision, OneOfficial),
        ),
        (
            "system:arrivals",
            "".into(),
            order(QuarantineReason::HighRiskArrival),
            l(Arrival, Rule),
        ),
        (
            "admin:wang",
            "".into(),
            order(QuarantineReason::Inbound),
            l(Arrival, OneOfficial),
        ),
        (
            "admin:wang",
            "".into(),
            order(QuarantineReason::MediumRiskArrival),
            l(Arrival, OneOfficial),
        ),
        (
            "admin:wang",
            "".into(),
            order(QuarantineReason::AfterQuarantine),
            None,
        ),
        (
            "admin:wang",
            "".into(),
            order(QuarantineReason::AfterDischarge),
            None,
        ),
        (
            "admin:wang",
            "".into(),
            order(QuarantineReason::Other),
            l(ManualHold, OneOfficial),
        ),
        (
            "grid:1",
            "".into(),
            EventBody::Arrived {
                person: p,
                origin: "110101".into(),
                origin_risk: RiskLevel::High,
                at: t,
            },
            l(Arrival, OneOfficial),
        ),
        (
            "venue:3",
            "".into(),
            EventBody::SentinelReported {
                person: p,
                sentinel_kind: SentinelKind::Pharmacy,
                at: t,
            },
            l(Sentinel, Rule),
        ),
        (
            "system:rounds",
            "".into(),
            EventBody::TestMissed {
                person: p,
                due_at: t,
            },
            l(MissedTest, Rule),
        ),
        (
            "admin:li",
            "".into(),
            hold("admin:wang", "admin:li"),
            l(ManualHold, TwoOfficials),
        ),
        (
            "admin:wang",
            "".into(),
            hold("admin:wang", "admin:wang"),
            l(ManualHold, OneOfficial),
        ),
        (
            "admin:li",
            approved("draw", "admin:wang", "admin:li"),
            zone.clone(),
            l(ManualZone, TwoOfficials),
        ),
        (
            "admin:li",
            approved("rule", "system:zones", "admin:li"),
            zone.clone(),
            l(ZoneRule, OneOfficial),
        ),
        (
            "admin:li",
            approved("rule", "admin:wang", "admin:li"),
            zone.clone(),
            l(ZoneRule, TwoOfficials),
        ),
        // An approval logged before `act` existed was a rule's proposal.
        (
            "admin:li",
            r#"{"approver":"admin:li","conditions":[],"proposal":"ZP1","proposer":"system:zones"}"#
                .into(),
            zone.clone(),
            l(ZoneRule, OneOfficial),
        ),
        (
            "admin:wang",
            "zone drawn over 3 grid cell(s)".into(),
            zone,
            l(ManualZone, OneOfficial),
        ),
        (
            "admin:wang",
            "".into(),
            EventBody::HoldCleared {
                person: p,
                by: "admin:wang".into(),
            },
            None,
        ),
        (
            "admin:wang",
            "".into(),
            EventBody::ContactReleased {
                person: p,
                case: C,
                reason: "r".into(),
            },
            None,
        ),
    ];
    for (actor, basis, body, want) in &table {
        assert_eq!(ledger_act(actor, basis, body), *want, "{actor} {body:?}");
    }
}

#[test]
fn only_bases_tied_to_a_case_count_as_linked() {
    use BasisKind::*;
    let linked: Vec<BasisKind> = [
        Case,
        ContactDecision,
        LabResult,
        Arrival,
        Sentinel,
        MissedTest,
        ZoneRule,
        FollowOn,
        ManualHold,
        ManualZone,
    ]
    .into_iter()
    .filter(|b| b.case_linked())
    .collect();
    assert_eq!(
        linked,
        [Case, ContactDecision, LabResult, ZoneRule, FollowOn]
    );
}

#[test]
fn the_ledger_asks_the_policy_about_the_fact_an_event_places_without_its_ids() {
    let p = PersonId(1);
    let t = Timestamp(0);
    let hold = EventBody::HoldPlaced {
        person: p,
        proposer: "a".into(),
        approver: "b".into(),
        expires_at: t,
        proposal: None,
    };
    assert_eq!(ledger_fact(&hold), Some(FactKind::Hold));
    let zone = EventBody::ZoneSet {
        zone: ZoneId(9),
        level: ZoneLevel::Sealed,
        cells: vec![],
        name: "z".into(),
    };
    assert_eq!(
        ledger_fact(&zone),
        Some(FactKind::Zone {
            zone: ZoneId(0),
            level: ZoneLevel::Sealed
        })
    );
    let case = EventBody::CaseRegistered {
        case: C,
        person: p,
        case_kind: CaseKind::Asymptomatic,
        onset: None,
        sampled_at: None,
        isolated_at: None,
    };
    assert_eq!(
        ledger_fact(&case),
        Some(FactKind::Case {
            case: CaseId(0),
            case_kind: CaseKind::Asymptomatic
        })
    );
    let order = EventBody::QuarantineOrdered {
        order: OrderId(4),
        person: p,
        quarantine_kind: QuarantineKind::HomeIsolation,
        reason: QuarantineReason::SecondaryContact,
        start: t,
        planned_end: t,
    };
    assert_eq!(
        ledger_fact(&order),
        Some(FactKind::Quarantine {
            order: OrderId(0),
            quarantine_kind: QuarantineKind::HomeIsolation,
            reason: QuarantineReason::SecondaryContact
        })
    );
    let contact = EventBody::ContactDesignated {
        person: p,
        case: C,
        contact_kind: ContactKind::Secondary,
        last_exposure: t,
    };
    assert_eq!(
        ledger_fact(&contact),
        Some(FactKind::Contact {
            case: CaseId(0),
            contact_kind: ContactKind::Secondary
        })
    );
    let positive = EventBody::TestResulted {
        person: p,
        sampled_at: t,
        resulted_at: t,
        outcome: TestOutcome::Positive,
        pool_size: 1,
        tube: "T".into(),
    };
    assert_eq!(ledger_fact(&positive), Some(FactKind::PositiveTest));
    let negative = EventBody::TestResulted {
        person: p,
        sampled_at: t,
        resulted_at: t,
        outcome: TestOutcome::Negative,
        pool_size: 1,
        tube: "T".into(),
    };
    assert_eq!(ledger_fact(&negative), None);
    assert_eq!(
        ledger_fact(&EventBody::PoolPositive {
            person: p,
            sampled_at: t,
            tube: "T".into()
        }),
        Some(FactKind::PoolPositive)
    );
    assert_eq!(
        ledger_fact(&EventBody::Arrived {
            person: p,
            origin: "x".into(),
            origin_risk: RiskLevel::Medium,
            at: t
        }),
        Some(FactKind::Arrival {
            risk: RiskLevel::Medium
        })
    );
    assert_eq!(
        ledger_fact(&EventBody::SentinelReported {
            person: p,
            sentinel_kind: SentinelKind::FeverClinic,
            at: t
        }),
        Some(FactKind::Sentinel {
            sentinel_kind: SentinelKind::FeverClinic
        })
    );
    assert_eq!(
        ledger_fact(&EventBody::TestMissed {
            person: p,
            due_at: t
        }),
        Some(FactKind::MissedTest)
    );
    assert_eq!(
        ledger_fact(&EventBody::HoldProposed {
            person: p,
            expires_at: t
        }),
        None,
        "a proposal places no fact"
    );
}
