//! Details of `evaluate` the rule tables do not pin down: a fact counts from its start and
//! not before, every rule that fired is listed once per piece of evidence, and the
//! explanation lists the reasons with one separator between them. Written against mutation
//! testing (docs/mutation.md): each test fails under a mutant of `policy/eval.rs` that the
//! table tests let through.

#[expect(dead_code, reason = "each test binary uses some of the shared helpers")]
mod common;

use common::*;
use xikang_domain::event::{EventBody, QuarantineKind, QuarantineReason, RiskLevel, ZoneLevel};
use xikang_domain::policy::Policy;
use xikang_domain::{Colour, OrderId};

#[test]
fn an_order_colours_from_its_start_and_not_before() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    // Ordered at hour 0 to start at hour 10.
    let order = p.event(
        0,
        EventBody::QuarantineOrdered {
            order: ORDER,
            person: ME,
            quarantine_kind: QuarantineKind::Centralized,
            reason: QuarantineReason::Other,
            start: h(10),
            planned_end: h(100),
        },
    );
    assert_green(&p.eval(&policy, 5), "before the order starts");
    let e = p.eval(&policy, 10);
    assert_eq!(e.colour, Colour::Red, "from its very start");
    assert_eq!(
        fired(&e, "other_centralized_quarantine").map(|f| (f.event, f.since)),
        Some((order, h(10)))
    );
}

#[test]
fn a_rule_fired_by_two_facts_lists_both_pieces_of_evidence() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    let arrival = p.arrive(0, RiskLevel::High);
    let order = p.order(
        1,
        1 + 7 * 24,
        QuarantineKind::Centralized,
        QuarantineReason::HighRiskArrival,
    );
    let e = p.eval(&policy, 2);
    let evidence: Vec<_> = e
        .fired
        .iter()
        .filter(|f| f.rule == "high_risk_arrival")
        .map(|f| f.event)
        .collect();
    assert_eq!(evidence, [arrival, order]);
}

#[test]
fn one_fact_that_fires_two_rules_lists_both() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    let order = p.event(
        0,
        EventBody::QuarantineOrdered {
            order: OrderId(5),
            person: ME,
            quarantine_kind: QuarantineKind::ClosedLoop,
            reason: QuarantineReason::HighRiskArrival,
            start: h(0),
            planned_end: h(7 * 24),
        },
    );
    let e = p.eval(&policy, 1);
    let fired: Vec<_> = e.fired.iter().map(|f| (f.rule.as_str(), f.event)).collect();
    assert_eq!(
        fired,
        [("high_risk_arrival", order), ("closed_loop_inbound", order)]
    );
}

#[test]
fn the_explanation_separates_reasons_once_and_starts_with_the_colour() {
    let policy = Policy::default_policy();
    let mut p = Person::new();
    let sentinel = p.sentinel(0);
    let zone = p.enter_zone(1, ZoneLevel::Sealed);
    let e = p.eval(&policy, 2);
    let zh = |id: &str| policy.rule(id).expect("a default rule").zh().to_owned();
    let en = |id: &str| policy.rule(id).expect("a default rule").en().to_owned();
    assert_eq!(
        e.explanation_zh,
        format!(
            "红码。原因：{}（依据事件 {zone}，自 2022-07-01 01:00 起）；{}（依据事件 {sentinel}，自 \
             2022-07-01 00:00 起）。转绿时间取决于官方处置或尚未确定的日期。",
            zh("sealed_zone_resident"),
            zh("sentinel"),
        )
    );
    assert_eq!(
        e.explanation_en,
        format!(
            "Red code. Because: {} (event {zone}, since 2022-07-01 01:00); {} (event {sentinel}, \
             since 2022-07-01 00:00). When it turns green depends on an official decision or a \
             date not yet known.",
            en("sealed_zone_resident"),
            en("sentinel"),
        )
    );
}
