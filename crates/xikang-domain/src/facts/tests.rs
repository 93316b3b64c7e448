use super::*;
use crate::ids::PersonId;

const H: i64 = 3600;

fn negative(f: &mut PersonFacts, seq: u64, sampled_h: i64, pool_size: u8) {
    let body = EventBody::TestResulted {
        person: PersonId(1),
        sampled_at: Timestamp(sampled_h * H),
        resulted_at: Timestamp(sampled_h * H + 5 * H),
        outcome: TestOutcome::Negative,
        pool_size,
        tube: "T".into(),
    };
    f.apply(EventSeq(seq), Timestamp(sampled_h * H + 5 * H), &body);
}

fn times(f: &PersonFacts) -> Vec<(i64, bool)> {
    f.negatives()
        .as_slice()
        .iter()
        .map(|n| (n.sampled_at.0 / H, n.single_tube))
        .collect()
}

#[test]
fn the_last_three_negatives_are_kept_in_sampling_order_whatever_the_result_order() {
    let mut f = PersonFacts::default();
    negative(&mut f, 1, 50, 10);
    negative(&mut f, 2, 10, 1);
    negative(&mut f, 3, 30, 10);
    negative(&mut f, 4, 40, 1);
    assert_eq!(times(&f), [(30, false), (40, true), (50, false)]);
    assert_eq!(f.last_negative(), Some(Timestamp(50 * H)));
    assert_eq!(f.last_sample(), Some(Timestamp(50 * H)));
    assert!(f.is_plain());
}

#[test]
fn an_appeal_and_its_answer_change_no_fact() {
    let mut f = PersonFacts::default();
    negative(&mut f, 1, 10, 1);
    let before = format!("{f:?}");
    f.apply(
        EventSeq(2),
        Timestamp(20 * H),
        &EventBody::AppealFiled {
            person: PersonId(1),
            reason: "我没去过那里".into(),
        },
    );
    f.apply(
        EventSeq(3),
        Timestamp(21 * H),
        &EventBody::AppealAnswered {
            person: PersonId(1),
            appeal: EventSeq(2),
            answer: "核实中".into(),
        },
    );
    assert_eq!(format!("{f:?}"), before);
    assert!(f.is_plain());
}

#[test]
fn a_pooled_and_a_single_result_of_the_same_sampling_merge() {
    let mut f = PersonFacts::default();
    negative(&mut f, 1, 10, 10);
    negative(&mut f, 2, 10, 1);
    assert_eq!(times(&f), [(10, true)]);
}

#[test]
fn the_box_starts_with_the_earlier_negatives_and_keeps_more() {
    let mut f = PersonFacts::default();
    negative(&mut f, 1, 1, 1);
    negative(&mut f, 2, 2, 1);
    f.apply(
        EventSeq(3),
        Timestamp(3 * H),
        &EventBody::TestMissed {
            person: PersonId(1),
            due_at: Timestamp(3 * H),
        },
    );
    assert!(!f.is_plain());
    for i in 0..20 {
        negative(&mut f, 10 + i, 10 + i as i64, 10);
    }
    let kept = times(&f);
    assert_eq!(kept.len(), BOXED_NEGATIVES);
    assert_eq!(kept.last(), Some(&(29, false)));
    assert_eq!(f.last_negative(), Some(Timestamp(29 * H)));
}

#[test]
fn an_order_ends_at_its_planned_end_or_earlier_release() {
    let mut f = PersonFacts::default();
    let order = EventBody::QuarantineOrdered {
        order: OrderId(1),
        person: PersonId(1),
        quarantine_kind: QuarantineKind::Centralized,
        reason: QuarantineReason::CloseContact,
        start: Timestamp(0),
        planned_end: Timestamp(100),
    };
    f.apply(EventSeq(1), Timestamp(0), &order);
    assert_eq!(f.facts()[0].ended_by(Timestamp(99)), None);
    let ran_out = f.facts()[0].ended_by(Timestamp(100)).unwrap();
    assert_eq!(
        (ran_out.at, ran_out.seq, ran_out.how),
        (Timestamp(100), EventSeq(1), EndKind::Ended)
    );
    f.apply(
        EventSeq(2),
        Timestamp(60),
        &EventBody::QuarantineEnded {
            order: OrderId(1),
            person: PersonId(1),
            at: Timestamp(60),
        },
    );
    let released = f.facts()[0].ended_by(Timestamp(200)).unwrap();
    assert_eq!((released.at, released.seq), (Timestamp(60), EventSeq(2)));
}

#[test]
fn an_order_supersedes_the_designation_it_enforces_from_its_start() {
    let mut f = PersonFacts::default();
    let designate = EventBody::ContactDesignated {
        person: PersonId(1),
        case: CaseId(5),
        contact_kind: ContactKind::Close,
        last_exposure: Timestamp(0),
    };
    f.apply(EventSeq(1), Timestamp(10), &designate);
    let order = EventBody::QuarantineOrdered {
        order: OrderId(1),
        person: PersonId(1),
        quarantine_kind: QuarantineKind::Centralized,
        reason: QuarantineReason::CloseContact,
        start: Timestamp(20),
        planned_end: Timestamp(100),
    };
    f.apply(EventSeq(2), Timestamp(15), &order);
    let end = f.facts()[0].end.unwrap();
    assert_eq!(
        (end.at, end.seq, end.how),
        (Timestamp(20), EventSeq(2), EndKind::Superseded)
    );
    assert_eq!(f.facts()[1].end, None);
}

#[test]
fn a_zone_changing_level_supersedes_the_old_level_and_lifting_ends_it() {
    let mut f = PersonFacts::default();
    f.enter_zone(EventSeq(1), ZoneId(9), ZoneLevel::Sealed, Timestamp(0));
    f.enter_zone(EventSeq(2), ZoneId(9), ZoneLevel::Sealed, Timestamp(5));
    assert_eq!(f.facts().len(), 1, "the same level again changes nothing");
    f.enter_zone(EventSeq(3), ZoneId(9), ZoneLevel::Controlled, Timestamp(10));
    assert_eq!(f.facts()[0].end.map(|e| e.how), Some(EndKind::Superseded));
    f.leave_zone(EventSeq(4), ZoneId(9), Timestamp(20));
    assert_eq!(
        f.facts()[1].end.map(|e| (e.at, e.how)),
        Some((Timestamp(20), EndKind::Ended))
    );
}

#[test]
fn pruning_old_facts_frees_the_box_but_keeps_the_test_history() {
    let mut f = PersonFacts::default();
    negative(&mut f, 1, 1, 10);
    f.apply(
        EventSeq(2),
        Timestamp(2 * H),
        &EventBody::SentinelReported {
            person: PersonId(1),
            sentinel_kind: SentinelKind::Pharmacy,
            at: Timestamp(2 * H),
        },
    );
    f.apply(
        EventSeq(3),
        Timestamp(3 * H),
        &EventBody::HoldPlaced {
            person: PersonId(1),
            proposer: "a".into(),
            approver: "b".into(),
            expires_at: Timestamp(500 * H),
            proposal: None,
        },
    );
    f.prune(Timestamp(100 * H));
    assert_eq!(f.facts().len(), 1, "the hold has not ended yet");
    assert_eq!(f.facts()[0].kind, FactKind::Hold);
    f.prune(Timestamp(600 * H));
    assert!(f.is_plain());
    assert_eq!(f.last_negative(), Some(Timestamp(H)));
}

#[test]
fn positives_during_a_case_are_its_course_but_after_discharge_are_new() {
    let mut f = PersonFacts::default();
    let case = EventBody::CaseRegistered {
        case: CaseId(1),
        person: PersonId(1),
        case_kind: CaseKind::Confirmed,
        onset: None,
        sampled_at: None,
        isolated_at: None,
    };
    let positive = EventBody::TestResulted {
        person: PersonId(1),
        sampled_at: Timestamp(0),
        resulted_at: Timestamp(0),
        outcome: TestOutcome::Positive,
        pool_size: 1,
        tube: "T".into(),
    };
    f.apply(EventSeq(1), Timestamp(0), &case);
    f.apply(EventSeq(2), Timestamp(10), &positive);
    assert_eq!(f.facts().len(), 1);
    let discharge = EventBody::CaseDischarged {
        case: CaseId(1),
        person: PersonId(1),
        at: Timestamp(20),
    };
    f.apply(EventSeq(3), Timestamp(20), &discharge);
    f.apply(EventSeq(4), Timestamp(30), &positive);
    assert_eq!(f.facts()[1].kind, FactKind::PositiveTest);
}

#[test]
fn a_zone_resident_tested_daily_keeps_a_small_heap() {
    let mut f = PersonFacts::default();
    f.enter_zone(EventSeq(1), ZoneId(1), ZoneLevel::Precaution, Timestamp(0));
    for day in 0..30 {
        negative(&mut f, 10 + day, day as i64 * 24, 10);
    }
    assert_eq!(f.negatives().as_slice().len(), BOXED_NEGATIVES);
    assert!(f.heap_bytes() <= 256, "{} bytes", f.heap_bytes());
    assert_eq!(PersonFacts::default().heap_bytes(), 0);
}

#[test]
fn events_about_no_person_or_only_about_data_access_add_no_facts() {
    let mut f = PersonFacts::default();
    f.apply(
        EventSeq(1),
        Timestamp(0),
        &EventBody::PersonalDataRead {
            person: PersonId(1),
            purpose: "tracing".into(),
        },
    );
    f.apply(
        EventSeq(2),
        Timestamp(0),
        &EventBody::PolicyActivated {
            version: "v".into(),
            sha256: "00".into(),
        },
    );
    assert!(f.is_plain());
    assert_eq!(f, PersonFacts::default());
}
