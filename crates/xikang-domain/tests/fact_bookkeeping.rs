//! The bookkeeping of `PersonFacts`, tested through what it gives the policy: an event that
//! ends one fact (a hold cleared, an order ended, a designation released) ends that fact and
//! no other; a replacing event replaces only what it replaces; the latest sample, the
//! negatives and the heap accounting follow the log. Written against mutation testing
//! (docs/mutation.md): each test fails under a mutant of `facts.rs` that the policy tables
//! let through, most of them a wrong colour.

#[expect(dead_code, reason = "each test binary uses some of the shared helpers")]
mod common;

use common::*;
use xikang_domain::event::{
    CaseKind, ContactKind, EventBody, QuarantineKind, QuarantineReason, ZoneLevel,
};
use xikang_domain::facts::{EndKind, Fact, FactTag, NegativeTest, PersonFacts};
use xikang_domain::policy::Policy;
use xikang_domain::{CaseId, Colour, EventSeq, OrderId, PersonId, Timestamp};

/// The recorded end of the fact created by event `seq`.
fn end_of(p: &Person, seq: EventSeq) -> Option<(EventSeq, EndKind)> {
    let fact = p
        .facts
        .facts()
        .iter()
        .find(|f| f.seq == seq)
        .unwrap_or_else(|| panic!("no fact from event {seq}"));
    fact.end.map(|e| (e.seq, e.how))
}

/// The tags of the facts no event has ended, in the order they arrived.
fn open_tags(p: &Person) -> Vec<FactTag> {
    p.facts
        .facts()
        .iter()
        .filter(|f| f.end.is_none())
        .map(|f| f.kind.tag())
        .collect()
}

/// The events behind each firing of `rule`, sorted.
fn evidence(p: &Person, rule: &str, at: i64) -> Vec<EventSeq> {
    let e = p.eval(&Policy::default_policy(), at);
    let mut seqs: Vec<EventSeq> = e
        .fired
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.event)
        .collect();
    seqs.sort_unstable();
    seqs
}

fn order_with_id(
    p: &mut Person,
    id: u64,
    start: i64,
    end: i64,
    reason: QuarantineReason,
) -> EventSeq {
    let kind = match reason {
        QuarantineReason::SecondaryContact => QuarantineKind::HomeIsolation,
        _ => QuarantineKind::Centralized,
    };
    p.event(
        start,
        EventBody::QuarantineOrdered {
            order: OrderId(id),
            person: ME,
            quarantine_kind: kind,
            reason,
            start: h(start),
            planned_end: h(end),
        },
    )
}

fn register(p: &mut Person, at: i64, case: u64, kind: CaseKind) -> EventSeq {
    p.event(
        at,
        EventBody::CaseRegistered {
            case: CaseId(case),
            person: ME,
            case_kind: kind,
            onset: None,
            sampled_at: Some(h(at)),
            isolated_at: Some(h(at)),
        },
    )
}

#[test]
fn clearing_a_hold_leaves_a_confirmed_case_red() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    let case = p.case(0);
    p.hold(1, 500);
    p.clear_hold(2);
    assert_eq!(end_of(&p, case), None, "the case is still open");
    let e = p.eval(&policy, 3);
    assert_eq!(e.colour, Colour::Red, "fired {:?}", e.fired);
    assert_eq!(
        fired(&e, "case_under_treatment").map(|f| f.event),
        Some(case)
    );
}

#[test]
fn ending_an_order_leaves_a_case_and_a_sealed_zone_standing() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    let zone = p.enter_zone(0, ZoneLevel::Sealed);
    p.order(
        1,
        200,
        QuarantineKind::HomeIsolation,
        QuarantineReason::Other,
    );
    let case = p.case(2);
    p.end_order(3);
    assert_eq!(open_tags(&p), [FactTag::Zone, FactTag::Case]);
    let e = p.eval(&policy, 4);
    assert_eq!(e.colour, Colour::Red);
    assert_eq!(
        fired(&e, "case_under_treatment").map(|f| f.event),
        Some(case)
    );
    assert_eq!(
        fired(&e, "sealed_zone_resident").map(|f| f.event),
        Some(zone)
    );
}

#[test]
fn releasing_a_designation_leaves_a_hold_standing() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    let hold = p.hold(0, 500);
    p.contact(1, ContactKind::Close);
    p.release_contact(2);
    assert_eq!(end_of(&p, hold), None);
    let e = p.eval(&policy, 3);
    assert_eq!(e.colour, Colour::Yellow);
    assert_eq!(fired(&e, "hold").map(|f| f.event), Some(hold));
}

#[test]
fn a_second_clearance_does_not_rewrite_the_end_of_an_earlier_hold() {
    let mut p = Person::new();
    let first = p.hold(0, 500);
    let cleared = p.clear_hold(1);
    let second = p.hold(10, 500);
    let cleared_again = p.clear_hold(11);
    assert_eq!(end_of(&p, first), Some((cleared, EndKind::Dismissed)));
    assert_eq!(
        end_of(&p, second),
        Some((cleared_again, EndKind::Dismissed))
    );
}

#[test]
fn an_order_recorded_as_ended_after_its_planned_end_ended_at_the_planned_end() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    let order = p.order(
        0,
        100,
        QuarantineKind::Centralized,
        QuarantineReason::CloseContact,
    );
    let released = p.end_order(150);
    let fact: &Fact = &p.facts.facts()[0];
    let end = fact.ended_by(h(200)).expect("ended");
    assert_eq!((end.at, end.seq, end.how), (h(100), order, EndKind::Ended));
    // A rule that ends on the date (`fact_ends`) reads that end; the close contact's rule
    // waits for the release (`released = true`, issue 15): red until 150, then home
    // monitoring from the release, with the release as its evidence.
    let e = p.eval(&policy, 120);
    assert_eq!(e.colour, xikang_domain::Colour::Red);
    assert!(
        fired(&e, "close_contact_home_monitoring").is_none(),
        "{e:?}"
    );
    let e = p.eval(&policy, 151);
    let monitoring = fired(&e, "close_contact_home_monitoring").expect("monitoring");
    assert_eq!((monitoring.since, monitoring.event), (h(150), released));
    // Under a rule that ends on the date, the same order's follow-on starts at the
    // planned end, with the order as its evidence.
    let on_the_date = Policy::parse(&xikang_domain::policy::DEFAULT_POLICY_TOML.replace(
        "until = { released = true }",
        "until = { fact_ends = true }",
    ))
    .unwrap();
    let e = p.eval(&on_the_date, 120);
    let monitoring = fired(&e, "close_contact_home_monitoring").expect("monitoring");
    assert_eq!((monitoring.since, monitoring.event), (h(100), order));
}

#[test]
fn an_order_ended_exactly_at_its_planned_end_cites_the_end_event() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    p.order(
        0,
        100,
        QuarantineKind::Centralized,
        QuarantineReason::CloseContact,
    );
    let ended = p.end_order(100);
    let e = p.eval(&policy, 101);
    let monitoring = fired(&e, "close_contact_home_monitoring").expect("monitoring");
    assert_eq!((monitoring.since, monitoring.event), (h(100), ended));
}

#[test]
fn registering_the_same_case_again_replaces_it_and_another_case_does_not() {
    let mut p = Person::new();
    let suspected = register(&mut p, 0, 42, CaseKind::Suspected);
    let confirmed = register(&mut p, 5, 42, CaseKind::Confirmed);
    assert_eq!(
        end_of(&p, suspected),
        Some((confirmed, EndKind::Superseded))
    );
    assert_eq!(evidence(&p, "case_under_treatment", 6), [confirmed]);

    let mut p = Person::new();
    let first = register(&mut p, 0, 42, CaseKind::Confirmed);
    let second = register(&mut p, 5, 43, CaseKind::Confirmed);
    assert_eq!(end_of(&p, first), None, "a different case stays open");
    assert_eq!(evidence(&p, "case_under_treatment", 6), [first, second]);
}

#[test]
fn a_secondary_contacts_order_takes_over_from_the_designation() {
    let mut p = Person::new();
    let designation = p.contact(0, ContactKind::Secondary);
    let order = order_with_id(&mut p, 9, 2, 2 + 7 * 24, QuarantineReason::SecondaryContact);
    assert_eq!(end_of(&p, designation), Some((order, EndKind::Superseded)));
    assert_eq!(evidence(&p, "secondary_contact_home_isolation", 3), [order]);
}

#[test]
fn a_close_contacts_order_leaves_a_companion_designation_standing() {
    let mut p = Person::new();
    let companion = p.contact(0, ContactKind::Companion);
    let close = p.event(
        1,
        EventBody::ContactDesignated {
            person: ME,
            case: CaseId(77),
            contact_kind: ContactKind::Close,
            last_exposure: h(0),
        },
    );
    let order = order_with_id(&mut p, 9, 2, 200, QuarantineReason::CloseContact);
    assert_eq!(end_of(&p, companion), None);
    assert_eq!(end_of(&p, close), Some((order, EndKind::Superseded)));
    assert_eq!(evidence(&p, "companion", 3), [companion]);
}

#[test]
fn reissuing_an_order_replaces_it_and_a_different_order_does_not() {
    let mut p = Person::new();
    let first = order_with_id(&mut p, 9, 0, 100, QuarantineReason::Other);
    let reissued = order_with_id(&mut p, 9, 10, 200, QuarantineReason::Other);
    assert_eq!(end_of(&p, first), Some((reissued, EndKind::Superseded)));
    assert_eq!(evidence(&p, "other_centralized_quarantine", 20), [reissued]);

    let other = order_with_id(&mut p, 10, 30, 300, QuarantineReason::Other);
    assert_eq!(end_of(&p, reissued), None);
    assert_eq!(
        evidence(&p, "other_centralized_quarantine", 40),
        [reissued, other]
    );
}

#[test]
fn a_tube_of_one_member_is_a_single_tube_negative_and_a_pool_is_not() {
    let mut f = PersonFacts::default();
    let tube = |members: Vec<PersonId>, at: i64| EventBody::TubeNegative {
        tube: "T".into(),
        members,
        sampled_at: h(at),
        resulted_at: h(at + 5),
    };
    f.apply(EventSeq(1), h(5), &tube(vec![ME], 0));
    f.apply(
        EventSeq(2),
        h(15),
        &tube((0..10).map(PersonId).collect(), 10),
    );
    let singles: Vec<bool> = f
        .negatives()
        .as_slice()
        .iter()
        .map(|n| n.single_tube)
        .collect();
    assert_eq!(singles, [true, false]);
    assert_eq!(f.last_sample(), Some(h(10)));
}

#[test]
fn a_zone_entered_while_other_facts_are_open_still_colours() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    p.sentinel(0);
    let zone = p.enter_zone(1, ZoneLevel::Sealed);
    let e = p.eval(&policy, 2);
    assert_eq!(e.colour, Colour::Red);
    assert_eq!(
        fired(&e, "sealed_zone_resident").map(|f| f.event),
        Some(zone)
    );
}

#[test]
fn a_zone_sealed_again_after_lifting_is_red_again() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    p.enter_zone(0, ZoneLevel::Sealed);
    p.leave_zone(10);
    assert_green(&p.eval(&policy, 11), "lifted");
    let again = p.enter_zone(20, ZoneLevel::Sealed);
    assert_eq!(evidence(&p, "sealed_zone_resident", 21), [again]);
}

#[test]
fn the_latest_sample_is_the_newest_sampling_whatever_order_results_arrive_in() {
    let mut p = Person::new();
    assert_eq!(p.facts.last_sample(), None);
    // Positives and pooled negatives only: no single-tube bits in the flags.
    p.test(20, xikang_domain::TestOutcome::Negative, 10);
    p.test(5, xikang_domain::TestOutcome::Negative, 10);
    assert_eq!(p.facts.last_sample(), Some(h(20)));
    p.test(30, xikang_domain::TestOutcome::Positive, 1);
    p.test(25, xikang_domain::TestOutcome::Negative, 10);
    assert_eq!(p.facts.last_sample(), Some(h(30)));
}

#[test]
fn a_sample_taken_at_the_epoch_is_a_sample() {
    let mut f = PersonFacts::default();
    let body = EventBody::TestResulted {
        person: ME,
        sampled_at: Timestamp(0),
        resulted_at: Timestamp(3600),
        outcome: xikang_domain::TestOutcome::Positive,
        pool_size: 1,
        tube: "T".into(),
    };
    f.apply(EventSeq(1), Timestamp(3600), &body);
    assert_eq!(f.last_sample(), Some(Timestamp(0)));
}

#[test]
fn the_heap_accounting_counts_each_fact_and_each_kept_negative_at_its_size() {
    let mut p = Person::new();
    p.sentinel(0);
    let one_fact = p.facts.heap_bytes();
    p.missed(1);
    assert_eq!(p.facts.heap_bytes() - one_fact, size_of::<Fact>());
    let two_facts = p.facts.heap_bytes();
    p.negative(2);
    assert_eq!(p.facts.heap_bytes() - two_facts, size_of::<NegativeTest>());
    assert!(two_facts > 2 * size_of::<Fact>());
}

/// A person with a fact (so the negatives live in the box) and `times` pooled negatives.
fn boxed_with(times: &[i64]) -> Person {
    let mut p = Person::new();
    p.sentinel(0);
    for &t in times {
        p.pooled_negative(t);
    }
    p
}

fn kept(p: &Person) -> Vec<(i64, bool)> {
    p.facts
        .negatives()
        .as_slice()
        .iter()
        .map(|n| ((n.sampled_at.0 - h(0).0) / HOUR, n.single_tube))
        .collect()
}

#[test]
fn a_pooled_and_a_single_result_of_one_sampling_merge_in_the_box_too() {
    let mut p = boxed_with(&[10]);
    p.negative(10);
    assert_eq!(kept(&p), [(10, true)]);
}

#[test]
fn a_negative_older_than_a_full_box_is_dropped_and_one_into_a_partial_box_is_kept() {
    let times: Vec<i64> = (0..8).map(|i| 10 + i).collect();
    let mut p = boxed_with(&times);
    p.pooled_negative(1);
    assert_eq!(
        kept(&p).first(),
        Some(&(10, false)),
        "the box is full: {:?}",
        kept(&p)
    );
    assert_eq!(kept(&p).len(), 8);

    let mut p = boxed_with(&[10, 20]);
    p.pooled_negative(1);
    assert_eq!(kept(&p), [(1, false), (10, false), (20, false)]);
}
