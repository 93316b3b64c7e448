use super::*;
use crate::policy::{DEFAULT_POLICY_TOML, ERSHITIAO_POLICY_TOML, Policy};

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap_or(Timestamp(0))
}

#[test]
fn the_ninth_edition_tests_close_contacts_on_days_1_2_3_5_7_and_home_day_3() {
    let p = Policy::default_policy();
    let r = p
        .duties()
        .regime_for(QuarantineReason::CloseContact)
        .cloned()
        .unwrap_or_else(|| panic!("no close-contact regime"));
    assert_eq!(r.kind, Some(QuarantineKind::Centralized));
    assert_eq!((r.days, r.then_days), (7, 3));
    assert_eq!(r.test_days, vec![1, 2, 3, 5, 7]);
    assert_eq!(r.then_test_days, vec![3]);
    assert_eq!(r.then_kind, Some(QuarantineKind::HealthMonitoring));
}

#[test]
fn the_twenty_measures_quarantine_close_contacts_5_plus_3() {
    let p = Policy::parse(ERSHITIAO_POLICY_TOML).unwrap_or_else(|e| panic!("{e}"));
    let r = p
        .duties()
        .regime_for(QuarantineReason::CloseContact)
        .cloned()
        .unwrap_or_else(|| panic!("no close-contact regime"));
    assert_eq!((r.days, r.then_days), (5, 3));
    assert_eq!(r.test_days, vec![1, 2, 3, 5]);
    assert_eq!(r.then_test_days, vec![1, 3]);
    assert!(p.duties().lift_rule(ZoneLevel::High).is_some());
}

#[test]
fn arrivals_map_risk_levels_to_regimes() {
    let p = Policy::default_policy();
    let d = p.duties();
    let high = d.arrival_regime(RiskLevel::High).map(|r| r.kind);
    assert_eq!(high, Some(Some(QuarantineKind::Centralized)));
    let low = d
        .arrival_regime(RiskLevel::Low)
        .map(|r| (r.kind, r.test_days.len()));
    assert_eq!(low, Some((None, 3)), "low risk: 3天3检 without an order");
}

#[test]
fn test_dates_count_the_start_day_as_day_1() {
    // 2022-07-01 23:00 Shanghai: day 1 is 1 July even though the order starts late.
    let start = ts("2022-07-01T23:00:00+08:00");
    let dates = Regime::test_dates(&[1, 2, 7], start);
    let day1 = start.shanghai_day();
    assert_eq!(
        dates,
        vec![
            (1, day1),
            (2, CivilDay(day1.0 + 1)),
            (7, CivilDay(day1.0 + 6))
        ]
    );
}

fn regime() -> Regime {
    Policy::default_policy()
        .duties()
        .regime_for(QuarantineReason::CloseContact)
        .cloned()
        .unwrap_or_else(|| panic!("no regime"))
}

#[test]
fn release_needs_the_planned_end_and_a_negative_on_every_test_day() {
    let r = regime();
    let start = ts("2022-07-01T10:00:00+08:00");
    let end = r.planned_end(start);
    let neg = |day: u32| {
        (
            start.plus(i64::from(day - 1) * DAY + 3600),
            TestOutcome::Negative,
        )
    };
    let all: Vec<_> = [1, 2, 3, 5, 7].into_iter().map(neg).collect();
    assert_eq!(
        release_check(&r, start, end, &all, end.plus(-1)),
        ReleaseCheck::TooEarly { planned_end: end }
    );
    assert_eq!(
        release_check(&r, start, end, &all, end),
        ReleaseCheck::Release
    );
    let missing_5: Vec<_> = [1, 2, 3, 7].into_iter().map(neg).collect();
    match release_check(&r, start, end, &missing_5, end) {
        ReleaseCheck::Extend {
            missing_days,
            positive,
            new_end,
        } => {
            assert_eq!(missing_days, vec![5]);
            assert!(!positive);
            assert_eq!(new_end, end.plus(i64::from(r.extend_days) * DAY));
        }
        other => panic!("expected an extension, got {other:?}"),
    }
    let mut with_positive = all.clone();
    with_positive.push((start.plus(DAY * 3), TestOutcome::Positive));
    assert!(matches!(
        release_check(&r, start, end, &with_positive, end),
        ReleaseCheck::Extend { positive: true, .. }
    ));
}

#[test]
fn a_test_day_is_missed_once_over_without_a_sample_that_shanghai_day() {
    // 3天3检 from an arrival at 10:00 on 1 July: tests due on 1, 2 and 3 July.
    let start = ts("2022-07-01T10:00:00+08:00");
    let end_of = |d: &str| ts(&format!("{d}T00:00:00+08:00"));
    // Sampled on day 1 (late at night, still 1 July in Shanghai) and on day 3.
    let sampled = [
        ts("2022-07-01T23:30:00+08:00"),
        ts("2022-07-03T08:00:00+08:00"),
    ];
    // During day 2 nothing is missed yet: day 2 is not over.
    let now = ts("2022-07-02T20:00:00+08:00");
    assert_eq!(missed_test_days(&[1, 2, 3], start, &sampled, now), vec![]);
    // Once day 2 is over, day 2 alone is missed, due at the end of 2 July.
    let now = ts("2022-07-04T09:00:00+08:00");
    assert_eq!(
        missed_test_days(&[1, 2, 3], start, &sampled, now),
        vec![(2, end_of("2022-07-03"))]
    );
    // With no sample at all, every test day that is over is missed.
    assert_eq!(
        missed_test_days(&[1, 2, 3], start, &[], ts("2022-07-03T12:00:00+08:00")).len(),
        2
    );
}

#[test]
fn temperatures_outside_a_living_range_are_refused() {
    assert_eq!(temperature_tenths(36.64), Some(366));
    assert_eq!(temperature_tenths(37.3), Some(373));
    assert_eq!(temperature_tenths(3.7), None);
    assert_eq!(temperature_tenths(f64::NAN), None);
    assert_eq!(temperature_tenths(99.0), None);
    let d = DutyRules::default();
    assert!(d.is_fever(373) && !d.is_fever(372));
}

/// The shipped rule for a sealed zone, and a zone sealed on 2022-07-01 whose last case and
/// last contact came a day later: ten residents, all negative, none in treatment.
fn sealed_zone() -> (LiftRule, ZoneEvidence) {
    let rule = Policy::default_policy()
        .duties()
        .lift_rule(ZoneLevel::Sealed)
        .unwrap_or_else(|| panic!("no lift rule"));
    let since = ts("2022-07-01T00:00:00+08:00");
    let ev = ZoneEvidence {
        since,
        last_case: Some(since.plus(DAY)),
        last_contact_exposure: Some(since.plus(DAY)),
        residents: 10,
        residents_negative: 10,
        residents_in_treatment: 0,
    };
    (rule, ev)
}

#[test]
fn a_sealed_zone_lifts_only_when_all_three_conditions_hold() {
    let (rule, ev) = sealed_zone();
    let since = ev.since;
    let early = lift_conditions(&rule, &ev, since.plus(10 * DAY));
    assert!(!all_hold(&early), "{early:?}");
    let later = lift_conditions(&rule, &ev, since.plus(16 * DAY));
    assert!(all_hold(&later), "{later:?}");
    let one_unsampled = ZoneEvidence {
        residents_negative: 9,
        ..ev
    };
    let c = lift_conditions(&rule, &one_unsampled, since.plus(16 * DAY));
    assert!(!all_hold(&c));
    assert_eq!(
        c.iter()
            .filter(|c| !c.holds)
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec!["negative_round"]
    );
}

#[test]
fn residents_in_treatment_are_not_waited_for_by_the_negative_round() {
    let (rule, sealed) = sealed_zone();
    let now = sealed.since.plus(16 * DAY);
    let round = |ev: &ZoneEvidence| {
        lift_conditions(&rule, ev, now)
            .into_iter()
            .find(|c| c.name == "negative_round")
            .unwrap_or_else(|| panic!("no negative round"))
    };
    // Ten residents, two of them cases in hospital, the other eight negative.
    let ev = ZoneEvidence {
        residents_negative: 8,
        residents_in_treatment: 2,
        ..sealed
    };
    let c = round(&ev);
    assert!(c.holds, "{c:?}");
    assert_eq!(
        c.detail,
        "8 of 8 residents tested negative within 2 day(s); 2 in treatment or deceased not counted"
    );
    assert!(all_hold(&lift_conditions(&rule, &ev, now)));
    // One of the eight not sampled: the round fails.
    let c = round(&ZoneEvidence {
        residents_negative: 7,
        ..ev
    });
    assert!(!c.holds, "{c:?}");
    // Discharged, a case counts again and must test negative like everyone else.
    let c = round(&ZoneEvidence {
        residents_in_treatment: 1,
        ..ev
    });
    assert!(!c.holds, "{c:?}");
    assert_eq!(
        c.detail,
        "8 of 9 residents tested negative within 2 day(s); 1 in treatment or deceased not counted"
    );
    let c = round(&ZoneEvidence {
        residents_in_treatment: 0,
        residents_negative: 10,
        ..ev
    });
    assert_eq!(
        (c.holds, c.detail.as_str()),
        (true, "10 of 10 residents tested negative within 2 day(s)")
    );
}

#[test]
fn a_duties_section_with_an_unknown_regime_or_day_out_of_range_is_refused() {
    let bad_day = DEFAULT_POLICY_TOML.replace("test_days = [1, 2, 3, 5, 7]", "test_days = [1, 9]");
    assert!(
        bad_day != DEFAULT_POLICY_TOML,
        "fixture must change the file"
    );
    let e = Policy::parse(&bad_day)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("test_days"), "{e}");
    let bad_arrival =
        DEFAULT_POLICY_TOML.replace("high = \"high_risk_arrival\"", "high = \"nope\"");
    let e = Policy::parse(&bad_arrival)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("unknown regime"), "{e}");
}

#[test]
fn a_square_contains_its_centre_and_a_bow_tie_is_refused() {
    let square = serde_json::json!({"type": "Polygon", "coordinates": [[[120.0, 31.0], [120.1, 31.0], [120.1, 31.1], [120.0, 31.1], [120.0, 31.0]]]});
    let p = Polygon::from_geojson(&square).unwrap_or_else(|e| panic!("{e}"));
    assert!(p.contains(120.05, 31.05));
    let (cx, cy) = p.centroid();
    assert!((cx - 120.05).abs() < 1e-9 && (cy - 31.05).abs() < 1e-9);
    assert!(!p.contains(120.2, 31.05));
    let bow_tie = serde_json::json!({"type": "Polygon", "coordinates": [[[120.0, 31.0], [120.1, 31.1], [120.1, 31.0], [120.0, 31.1], [120.0, 31.0]]]});
    let e = Polygon::from_geojson(&bow_tie)
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
    assert!(e.contains("intersects itself"), "{e}");
    let open = serde_json::json!({"type": "Polygon", "coordinates": [[[120.0, 31.0], [120.1, 31.0], [120.1, 31.1], [120.0, 31.1]]]});
    let e = Polygon::from_geojson(&open)
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
    assert!(e.contains("not closed"), "{e}");
    let point = serde_json::json!({"type": "Point", "coordinates": [120.0, 31.0]});
    assert!(Polygon::from_geojson(&point).is_err());
    let nan = serde_json::json!({"type": "Polygon", "coordinates": [[[120.0, 31.0], [999.0, 31.0], [120.1, 31.1], [120.0, 31.0]]]});
    assert!(Polygon::from_geojson(&nan).is_err());
}
