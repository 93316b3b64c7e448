//! The tracing rules on hand-made cities: window borders, repeated visits, missing exits,
//! asymptomatic cases, venues without dwell time, contacts who are cases, retention, the
//! policy switches, companions, sources, clusters and the memory budget.
#![expect(
    clippy::unwrap_used,
    reason = "fixtures and scenarios: a failed unwrap is a failed test"
)]

use std::collections::HashSet;
use xikang_domain::event::CaseKind;
use xikang_domain::policy::{ERSHITIAO_POLICY_TOML, Policy, TracingPolicy};
use xikang_domain::{
    CaseId, CheckIn, CivilDay, GridCell, HouseholdId, PersonId, ScanDirection, Timestamp, VenueId,
    WorkplaceId,
};
use xikang_trace::{
    Case, ContactRule, Interval, Link, Ping, PingIndex, Population, TraceError, TraceIndex, Tracer,
    clusters, companions, to_dot,
};

/// 2022-07-01 00:00 Asia/Shanghai.
const T0: i64 = 1_656_604_800;
const MIN: i64 = 60;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// Venues of the hand-made city.
const SHOP: u32 = 0; // dwell 30 min
const OFFICE: u32 = 1; // dwell 8 h, workplace 0's venue
const GATE: u32 = 2; // dwell 0 (residential)

/// People: 0 the case; 1 lives with 0; 2 works with 0; 3, 4, 5 strangers; 6 lives with 3;
/// 7 works with 3 (workplace 1, no venue).
fn population() -> Population {
    let households = [0, 0, 1, 2, 3, 4, 2, 5].map(HouseholdId);
    let workplaces =
        [Some(0), None, Some(0), Some(1), None, None, None, Some(1)].map(|w| w.map(WorkplaceId));
    Population::new(
        &households,
        &workplaces,
        &[Some(VenueId(OFFICE)), None],
        vec![30 * 60, 8 * 3_600, 0],
        3_600,
    )
    .unwrap()
}

fn scan(person: u32, venue: u32, at: i64, exit: bool) -> CheckIn {
    CheckIn {
        person: PersonId(person),
        venue: VenueId(venue),
        at: Timestamp(at),
        direction: if exit {
            ScanDirection::Exit
        } else {
            ScanDirection::Entry
        },
    }
}

/// A visit with entry and exit scans.
fn visit(person: u32, venue: u32, from: i64, to: i64) -> [CheckIn; 2] {
    [
        scan(person, venue, from, false),
        scan(person, venue, to, true),
    ]
}

fn index(scans: &[CheckIn]) -> TraceIndex {
    let mut idx = TraceIndex::new();
    idx.append(scans);
    idx
}

/// Onset on day 5 at noon; not isolated.
fn case(person: u32) -> Case {
    Case {
        person: PersonId(person),
        kind: CaseKind::Confirmed,
        onset: Some(Timestamp(T0 + 5 * DAY + 12 * HOUR)),
        sampled: Timestamp(T0 + 6 * DAY),
        isolated: None,
    }
}

fn window_start() -> i64 {
    T0 + DAY + 12 * HOUR
}

fn now() -> Timestamp {
    Timestamp(T0 + 7 * DAY)
}

fn no_households() -> TracingPolicy {
    TracingPolicy {
        household: false,
        workplace: false,
        ..TracingPolicy::default()
    }
}

fn contact_ids(idx: &TraceIndex, pol: &TracingPolicy, c: &Case) -> Vec<u32> {
    let pop = population();
    let r = Tracer::new(idx, &pop, pol)
        .close_contacts(c, now())
        .unwrap();
    r.contacts.iter().map(|k| k.person.0).collect()
}

#[test]
fn a_scan_exactly_on_the_window_start_counts_and_one_at_isolation_does_not() {
    let w0 = window_start();
    let iso = T0 + 6 * DAY;
    let mut scans = Vec::new();
    // Both at the shop from the very first second of the window for 20 minutes.
    scans.extend(visit(0, SHOP, w0, w0 + 20 * MIN));
    scans.extend(visit(3, SHOP, w0, w0 + 20 * MIN));
    // Both at the shop the moment the case is isolated.
    scans.extend(visit(0, SHOP, iso, iso + 20 * MIN));
    scans.extend(visit(4, SHOP, iso, iso + 20 * MIN));
    // Both at the shop until one second before the window: nothing inside it.
    scans.extend(visit(0, SHOP, w0 - 30 * MIN, w0 - 1));
    scans.extend(visit(5, SHOP, w0 - 30 * MIN, w0 - 1));
    let idx = index(&scans);
    let c = Case {
        isolated: Some(Timestamp(iso)),
        ..case(0)
    };
    assert_eq!(contact_ids(&idx, &no_households(), &c), vec![3]);

    // A visit that straddles the start counts only from the start: 20 of its 40 minutes.
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, w0 - 20 * MIN, w0 + 20 * MIN));
    scans.extend(visit(3, SHOP, w0 - 20 * MIN, w0 + 20 * MIN));
    let pop = population();
    let pol = no_households();
    let idx = index(&scans);
    let r = Tracer::new(&idx, &pop, &pol)
        .close_contacts(&c, now())
        .unwrap();
    assert_eq!(r.contacts[0].overlap_secs(), 20 * MIN);
    assert_eq!(r.contacts[0].first_exposure, Timestamp(w0));
}

#[test]
fn repeated_visits_to_the_same_venue_add_up_into_one_record() {
    let t = T0 + 3 * DAY + 10 * HOUR;
    let mut scans = Vec::new();
    for start in [t, t + 3 * HOUR] {
        scans.extend(visit(0, SHOP, start, start + 10 * MIN));
        scans.extend(visit(3, SHOP, start, start + 10 * MIN));
    }
    // And the same scans again (a device re-uploading): counted once.
    let again = scans.clone();
    scans.extend(again);
    let idx = index(&scans);
    let pop = population();
    let pol = no_households();
    let r = Tracer::new(&idx, &pop, &pol)
        .close_contacts(&case(0), now())
        .unwrap();
    assert_eq!(
        r.contacts.len(),
        1,
        "10 + 10 minutes reach 15 minutes in total"
    );
    let k = &r.contacts[0];
    assert_eq!(k.evidence.len(), 1);
    let e = &k.evidence[0];
    assert_eq!((e.rule, e.venue), (ContactRule::Venue, Some(VenueId(SHOP))));
    assert_eq!(e.overlap_secs, 20 * MIN);
    assert_eq!(e.case_presence.len(), 2);
    assert_eq!(e.contact_presence.len(), 2);
    assert_eq!(
        (k.first_exposure.0, k.last_exposure.0),
        (t, t + 3 * HOUR + 10 * MIN)
    );
}

#[test]
fn missing_exit_scans_use_the_category_dwell_time() {
    let t = T0 + 3 * DAY + 10 * HOUR;
    let scans = [
        scan(0, SHOP, t, false),            // case: t .. t+30 (dwell)
        scan(3, SHOP, t + 20 * MIN, false), // 3: overlap 10 min
        scan(4, SHOP, t + 5 * MIN, false),  // 4: t+5 .. t+35, overlap 25 min
        scan(5, SHOP, t + 40 * MIN, true),  // 5: exit only, t+10 .. t+40: 20 min
    ];
    let idx = index(&scans);
    let pop = population();
    let pol = no_households();
    let r = Tracer::new(&idx, &pop, &pol)
        .close_contacts(&case(0), now())
        .unwrap();
    let ids: Vec<u32> = r.contacts.iter().map(|k| k.person.0).collect();
    assert_eq!(ids, vec![4, 5]);
    assert_eq!(
        r.contacts[0].evidence[0].contact_presence,
        vec![Interval {
            start: Timestamp(t + 5 * MIN),
            end: Timestamp(t + 35 * MIN)
        }]
    );
    assert_eq!(r.contacts[1].overlap_secs(), 20 * MIN);
}

#[test]
fn an_asymptomatic_case_is_traced_from_its_sampling_time() {
    let sampled = T0 + 5 * DAY;
    let w0 = sampled - 4 * DAY;
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, w0 + HOUR, w0 + 2 * HOUR));
    scans.extend(visit(3, SHOP, w0 + HOUR, w0 + 2 * HOUR));
    scans.extend(visit(0, SHOP, w0 - 2 * HOUR, w0 - HOUR));
    scans.extend(visit(4, SHOP, w0 - 2 * HOUR, w0 - HOUR));
    let c = Case {
        person: PersonId(0),
        kind: CaseKind::Asymptomatic,
        onset: None,
        sampled: Timestamp(sampled),
        isolated: None,
    };
    assert_eq!(c.anchor(), Timestamp(sampled));
    assert_eq!(contact_ids(&index(&scans), &no_households(), &c), vec![3]);
}

#[test]
fn a_venue_with_no_dwell_time_makes_no_contact_but_the_household_rule_still_does() {
    let t = T0 + 3 * DAY + 19 * HOUR;
    let mut scans = Vec::new();
    // Case and a neighbour scan in at the compound gate in the evening and out next morning.
    scans.extend(visit(0, GATE, t, t + 12 * HOUR));
    scans.extend(visit(3, GATE, t, t + 12 * HOUR));
    let idx = index(&scans);
    let pol = TracingPolicy {
        workplace: false,
        ..TracingPolicy::default()
    };
    let pop = population();
    let r = Tracer::new(&idx, &pop, &pol)
        .close_contacts(&case(0), now())
        .unwrap();
    assert_eq!(r.contacts.len(), 1);
    let k = &r.contacts[0];
    assert_eq!(
        k.person,
        PersonId(1),
        "the household member, who never scanned"
    );
    assert!(k.has_rule(ContactRule::Household));
    assert!(!k.has_rule(ContactRule::Venue) && !k.has_rule(ContactRule::Workplace));
    assert_eq!(
        (k.first_exposure, k.last_exposure),
        (r.window.start, r.window.end)
    );
    assert!(r.case_presence.is_empty(), "no presence at the gate");
}

#[test]
fn colleagues_are_contacts_only_when_the_case_worked_inside_the_window() {
    let w0 = window_start();
    // The case was at the office only before the window: no workplace contact.
    let before = visit(0, OFFICE, w0 - 10 * HOUR, w0 - 2 * HOUR);
    let pol = TracingPolicy {
        household: false,
        ..TracingPolicy::default()
    };
    assert!(contact_ids(&index(&before), &pol, &case(0)).is_empty());
    // At the office inside the window (colleague 2 never scanned): 2 is a workplace contact.
    let t = T0 + 3 * DAY + 9 * HOUR;
    let inside = visit(0, OFFICE, t, t + 8 * HOUR);
    let idx = index(&inside);
    let pop = population();
    let r = Tracer::new(&idx, &pop, &pol)
        .close_contacts(&case(0), now())
        .unwrap();
    assert_eq!(r.contacts.len(), 1);
    let e = &r.contacts[0].evidence[0];
    assert_eq!(
        (r.contacts[0].person, e.rule),
        (PersonId(2), ContactRule::Workplace)
    );
    assert_eq!((e.first.0, e.last.0), (t, t + 8 * HOUR));
    assert_eq!(
        r.case_presence,
        vec![(
            VenueId(OFFICE),
            vec![Interval {
                start: Timestamp(t),
                end: Timestamp(t + 8 * HOUR)
            }]
        )]
    );
    // The policy switch turns the rule off.
    let off = TracingPolicy {
        workplace: false,
        household: false,
        ..TracingPolicy::default()
    };
    assert!(contact_ids(&idx, &off, &case(0)).is_empty());
}

#[test]
fn the_case_is_never_its_own_contact_and_evidence_merges_into_one_record() {
    let t = T0 + 3 * DAY + 10 * HOUR;
    let mut scans = Vec::new();
    // The case scans twice in the same shop; its household member is there too.
    scans.extend(visit(0, SHOP, t, t + HOUR));
    scans.extend(visit(0, SHOP, t + 10 * MIN, t + 50 * MIN));
    scans.extend(visit(1, SHOP, t, t + HOUR));
    let idx = index(&scans);
    let pop = population();
    let pol = TracingPolicy::default();
    let r = Tracer::new(&idx, &pop, &pol)
        .close_contacts(&case(0), now())
        .unwrap();
    assert!(!r.contains(PersonId(0)));
    let one = r.contacts.iter().find(|k| k.person == PersonId(1)).unwrap();
    let rules: Vec<ContactRule> = one.evidence.iter().map(|e| e.rule).collect();
    assert_eq!(rules, vec![ContactRule::Venue, ContactRule::Household]);
    assert_eq!(one.overlap_secs(), HOUR);
    assert_eq!(
        one.first_exposure, r.window.start,
        "the household exposure is the whole window"
    );
}

#[test]
fn check_ins_dropped_by_retention_no_longer_make_contacts() {
    let t = T0 + 2 * DAY + 10 * HOUR;
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, t, t + HOUR));
    scans.extend(visit(3, SHOP, t, t + HOUR));
    scans.extend(visit(4, SHOP, t + DAY, t + DAY + HOUR));
    let mut idx = index(&scans);
    assert_eq!(contact_ids(&idx, &no_households(), &case(0)), vec![3]);
    idx.drop_days_before(Timestamp(t + DAY).shanghai_day());
    assert_eq!(idx.len(), 2);
    assert!(contact_ids(&idx, &no_households(), &case(0)).is_empty());
    assert_eq!(idx.days(), vec![Timestamp(t + DAY).shanghai_day()]);
}

#[test]
fn a_contact_who_is_also_a_case_is_listed_and_links_the_two_into_a_cluster() {
    let t = T0 + 3 * DAY + 10 * HOUR;
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, t, t + HOUR));
    scans.extend(visit(3, SHOP, t + 30 * MIN, t + 2 * HOUR));
    // Case 4 shares nothing with them: a cluster of its own (not returned).
    scans.extend(visit(4, SHOP, t + 5 * HOUR, t + 6 * HOUR));
    let idx = index(&scans);
    let pop = population();
    let pol = no_households();
    let tracer = Tracer::new(&idx, &pop, &pol);
    let a = tracer.close_contacts(&case(0), now()).unwrap();
    let b = tracer.close_contacts(&case(3), now()).unwrap();
    let c = tracer.close_contacts(&case(4), now()).unwrap();
    assert!(a.contains(PersonId(3)) && b.contains(PersonId(0)));
    let found = clusters(&[(CaseId(1), &a), (CaseId(2), &b), (CaseId(3), &c)]);
    assert_eq!(found.len(), 1);
    let cl = &found[0];
    assert_eq!(cl.cases, vec![CaseId(1), CaseId(2)]);
    assert_eq!(cl.venues, vec![VenueId(SHOP)]);
    assert!(cl.edges.iter().any(|e| e.from == CaseId(1)
        && e.to == CaseId(2)
        && matches!(
            e.link,
            Link::Contact {
                rule: ContactRule::Venue,
                overlap_secs: 1_800,
                ..
            }
        )));
    assert!(cl.edges.iter().any(|e| matches!(
        e.link,
        Link::SharedVenue {
            venue: VenueId(SHOP),
            overlap_secs: 1_800,
            ..
        }
    )));
    let dot = to_dot(cl);
    assert!(dot.starts_with("digraph cluster {"), "{dot}");
    assert!(
        dot.contains("\"C1\" -> \"C2\" [label=\"venue V0 30 min\"];"),
        "{dot}"
    );
    assert!(
        dot.contains("\"C2\" -> \"V0\" [dir=none, style=dashed];"),
        "{dot}"
    );
    assert!(!dot.contains("C3"));
}

#[test]
fn cases_at_one_venue_at_once_form_a_cluster_even_below_the_contact_minutes() {
    let t = T0 + 3 * DAY + 10 * HOUR;
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, t, t + 10 * MIN));
    scans.extend(visit(3, SHOP, t + 5 * MIN, t + 20 * MIN));
    let idx = index(&scans);
    let pop = population();
    let pol = no_households();
    let tracer = Tracer::new(&idx, &pop, &pol);
    let a = tracer.close_contacts(&case(0), now()).unwrap();
    let b = tracer.close_contacts(&case(3), now()).unwrap();
    assert!(a.contacts.is_empty());
    let found = clusters(&[(CaseId(7), &a), (CaseId(9), &b)]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].edges.len(), 1);
    assert!(matches!(
        found[0].edges[0].link,
        Link::SharedVenue {
            overlap_secs: 300,
            ..
        }
    ));
}

#[test]
fn secondary_contacts_exclude_close_contacts_and_are_off_under_the_ershitiao() {
    let t = T0 + 3 * DAY + 10 * HOUR;
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, t, t + HOUR));
    scans.extend(visit(3, SHOP, t, t + HOUR)); // close contact; lives with 6, works with 7
    scans.extend(visit(6, SHOP, t, t + HOUR)); // also a close contact itself
    let idx = index(&scans);
    let pop = population();
    let pol = TracingPolicy {
        workplace: true,
        ..TracingPolicy::default()
    };
    let tracer = Tracer::new(&idx, &pop, &pol);
    let close = tracer.close_contacts(&case(0), now()).unwrap();
    let ids: Vec<u32> = close.contacts.iter().map(|k| k.person.0).collect();
    assert_eq!(
        ids,
        vec![1, 3, 6],
        "2 is no contact: the case never worked in the window"
    );
    let quarantined = |_| Some(Timestamp(t + DAY));
    let s = tracer.secondary_contacts(&close, quarantined, now());
    // 6 is a close contact, not secondary; 7 works with 3 but workplace 1 has no venue, so
    // whether 3 worked cannot be seen; the rest of 1's household is the case.
    assert!(s.contacts.is_empty(), "{s:?}");
    let households: Vec<Vec<PersonId>> = s
        .groups
        .iter()
        .filter(|g| g.rule == ContactRule::Household)
        .map(|g| g.via.clone())
        .collect();
    assert_eq!(
        households,
        vec![vec![PersonId(1)], vec![PersonId(3), PersonId(6)]]
    );

    // Without 6 at the shop, 6 becomes 3's secondary contact from 3's first exposure until
    // 3's quarantine.
    let scans: Vec<CheckIn> = scans.into_iter().filter(|c| c.person.0 != 6).collect();
    let idx = index(&scans);
    let tracer = Tracer::new(&idx, &pop, &pol);
    let close = tracer.close_contacts(&case(0), now()).unwrap();
    let s = tracer.secondary_contacts(&close, quarantined, now());
    assert_eq!(s.contacts.len(), 1);
    let six = &s.contacts[0];
    assert_eq!(six.person, PersonId(6));
    assert_eq!((six.first_exposure.0, six.last_exposure.0), (t, t + DAY));
    let g = &s.groups[six.groups[0]];
    assert_eq!(
        (g.rule, g.via.clone()),
        (ContactRule::Household, vec![PersonId(3)])
    );

    let ershitiao = Policy::parse(ERSHITIAO_POLICY_TOML).unwrap();
    let tracer = Tracer::new(&idx, &pop, ershitiao.tracing());
    let close = tracer.close_contacts(&case(0), now()).unwrap();
    assert!(!close.contacts.is_empty());
    assert!(
        tracer
            .secondary_contacts(&close, quarantined, now())
            .contacts
            .is_empty()
    );
}

#[test]
fn sources_rank_by_exposure_and_flag_known_cases() {
    let onset = T0 + 5 * DAY + 12 * HOUR;
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, onset - 3 * DAY, onset - 3 * DAY + HOUR));
    scans.extend(visit(3, SHOP, onset - 3 * DAY, onset - 3 * DAY + 10 * MIN));
    scans.extend(visit(4, SHOP, onset - 3 * DAY, onset - 3 * DAY + 50 * MIN));
    // After onset: not a source.
    scans.extend(visit(0, SHOP, onset + HOUR, onset + 2 * HOUR));
    scans.extend(visit(5, SHOP, onset + HOUR, onset + 2 * HOUR));
    let idx = index(&scans);
    let pop = population();
    let pol = TracingPolicy::default();
    let known: HashSet<PersonId> = [PersonId(3)].into();
    let s = Tracer::new(&idx, &pop, &pol)
        .sources(&case(0), &known)
        .unwrap();
    let got: Vec<(u32, i64, bool)> = s
        .iter()
        .map(|c| (c.person.0, c.overlap_secs, c.is_case))
        .collect();
    assert_eq!(got, vec![(4, 50 * MIN, false), (3, 10 * MIN, true)]);
    assert_eq!(s[0].venues, vec![(VenueId(SHOP), 50 * MIN)]);
}

#[test]
fn companions_need_more_than_the_minutes_and_a_long_stay_in_the_cell() {
    let pol = TracingPolicy::default(); // > 10 minutes, > 30 hours in 14 days, 30-minute pings
    let t = T0 + 3 * DAY + 10 * HOUR;
    let mut pings = Vec::new();
    let ping = |p: u32, at: i64, cell: u32| Ping {
        person: PersonId(p),
        at: Timestamp(at),
        cell: GridCell(cell),
    };
    // The case is in cell 7 for 20 minutes (pings at t, t+10 min, then cell 8 at t+20).
    pings.extend([
        ping(0, t, 7),
        ping(0, t + 10 * MIN, 7),
        ping(0, t + 20 * MIN, 8),
    ]);
    // 3 lives in cell 7 (pinging every 30 minutes for 3 days = 72 hours) and was there.
    let mut at = t - 2 * DAY;
    while at < t + DAY {
        pings.push(ping(3, at, 7));
        at += 30 * MIN;
    }
    // 4 passed through cell 7 for 15 minutes, lives elsewhere (short stay in 7).
    pings.extend([ping(4, t, 7), ping(4, t + 15 * MIN, 9)]);
    // 5 was in cell 7 for exactly 10 minutes: not "more than".
    pings.extend([ping(5, t + 5 * MIN, 7), ping(5, t + 15 * MIN, 9)]);
    let mut idx = PingIndex::new();
    idx.append(&pings);
    let found = companions(&idx, &pol, &case(0), now());
    let ids: Vec<u32> = found.iter().map(|c| c.person.0).collect();
    assert_eq!(
        ids,
        vec![3],
        "4 and the case spent under 30 hours in cell 7; 5 only 10 minutes"
    );
    assert_eq!(found[0].cells[0].cell, GridCell(7));
    assert_eq!(found[0].cells[0].overlap_secs, 20 * MIN);
    // The evidence: the case's 20 minutes in the cell, and 3's presence there around it
    // (clipped to the exposure window, which ends now).
    let c = &found[0].cells[0];
    let span =
        |v: &[xikang_trace::Interval]| v.iter().map(|i| (i.start.0, i.end.0)).collect::<Vec<_>>();
    assert_eq!(span(&c.case_presence), vec![(t, t + 20 * MIN)]);
    assert!(
        c.companion_presence
            .iter()
            .any(|i| i.start.0 <= t && i.end.0 >= t + 20 * MIN),
        "{:?}",
        c.companion_presence
    );

    // With the hours threshold at 0, 4 qualifies too (15 > 10 minutes), 5 still does not.
    let lax = TracingPolicy {
        companion_cell_hours: 0,
        ..pol
    };
    let ids: Vec<u32> = companions(&idx, &lax, &case(0), now())
        .iter()
        .map(|c| c.person.0)
        .collect();
    assert_eq!(ids, vec![3, 4]);
}

#[test]
fn an_unknown_person_is_an_error_not_a_panic() {
    let idx = TraceIndex::new();
    let pop = population();
    let pol = TracingPolicy::default();
    let tracer = Tracer::new(&idx, &pop, &pol);
    let e = tracer.close_contacts(&case(99), now()).unwrap_err();
    assert_eq!(e, TraceError::UnknownPerson(PersonId(99)));
    assert_eq!(e.code(), "unknown_person");
    assert!(tracer.sources(&case(99), &HashSet::new()).is_err());
    // Absurd times are answered, not panicked on.
    let absurd = Case {
        onset: Some(Timestamp(i64::MAX)),
        isolated: Some(Timestamp(i64::MIN)),
        ..case(0)
    };
    assert!(
        tracer
            .close_contacts(&absurd, now())
            .unwrap()
            .contacts
            .is_empty()
    );
    assert!(
        idx.checkins_of_person(PersonId(0), Timestamp(i64::MIN), Timestamp(i64::MAX))
            .is_empty()
    );
}

#[test]
fn the_batch_gives_what_one_case_at_a_time_gives() {
    let mut scans = Vec::new();
    for p in 0..8u32 {
        for k in 0..3i64 {
            let t = T0 + (2 + k) * DAY + (9 + i64::from(p % 3)) * HOUR;
            scans.extend(visit(p, SHOP, t, t + 40 * MIN));
        }
    }
    let idx = index(&scans);
    let pop = population();
    let pol = TracingPolicy::default();
    let tracer = Tracer::new(&idx, &pop, &pol);
    let cases: Vec<Case> = (0..8).chain(0..8).map(case).collect();
    let batch = tracer.close_contacts_batch(&cases, now());
    assert_eq!(batch.len(), 16);
    for (c, r) in cases.iter().zip(&batch) {
        assert_eq!(
            r.as_ref().unwrap(),
            &tracer.close_contacts(c, now()).unwrap()
        );
    }
    assert!(
        batch
            .iter()
            .any(|r| !r.as_ref().unwrap().contacts.is_empty())
    );
}

#[test]
fn a_snapshot_does_not_see_later_appends() {
    let t = T0 + DAY;
    let mut idx = index(&visit(0, SHOP, t, t + HOUR));
    let snap = idx.snapshot();
    idx.append(&visit(3, SHOP, t, t + HOUR));
    assert_eq!((snap.len(), idx.len()), (2, 4));
    assert!(
        snap.checkins_at_venue(VenueId(SHOP), Timestamp(t), Timestamp(t + HOUR))
            .iter()
            .all(|c| c.person == PersonId(0))
    );
}

#[test]
fn a_population_needs_people_listed_densely_by_id() {
    let p = Population::new(&[HouseholdId(0)], &[], &[], vec![], 0);
    assert!(p.is_err());
    let p = Population::new(&[HouseholdId(u32::MAX - 1)], &[None], &[], vec![], 0);
    assert!(p.is_err());
    let pop = population();
    assert_eq!(pop.household_members(PersonId(3)), &[3, 6]);
    assert_eq!(pop.workplace_members(PersonId(0)), &[0, 2]);
    assert_eq!(pop.workplace_venue(PersonId(3)), None);
    assert!(pop.workplace_members(PersonId(1)).is_empty());
}

/// A small xorshift generator, so the memory test needs no extra dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn the_index_holds_a_check_in_in_at_most_24_bytes() {
    // 100,000 people over two days, ~5 check-ins a day each, 5,000 venues of very unequal
    // popularity, 30 % exit scans: about 1.3 M check-ins.
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut idx = TraceIndex::new();
    let day0 = CivilDay::parse("2022-07-01").unwrap().start().0;
    for day in 0..2i64 {
        let mut rows = Vec::new();
        for p in 0..100_000u32 {
            for _ in 0..(3 + rng.below(5)) {
                // Popularity skew: squaring a uniform number favours low venue ids.
                let u = rng.below(5_000);
                let venue = (u * u / 5_000) as u32;
                let at = day0 + day * DAY + 6 * HOUR + rng.below(16 * 3_600) as i64;
                rows.push(scan(p, venue, at, false));
                if rng.below(10) < 3 {
                    rows.push(scan(p, venue, at + 600 + rng.below(3_600) as i64, true));
                }
            }
        }
        rows.sort_by_key(|c| c.at);
        if day == 0 {
            // Loaded at start: the whole day at once.
            idx.append(&rows);
        } else {
            // Live: batches in time order, sealed and merged as the day fills.
            for chunk in rows.chunks(2_000) {
                idx.append(chunk);
            }
        }
    }
    let n = idx.len();
    assert!(n > 900_000, "{n}");
    let per = idx.heap_bytes() as f64 / n as f64;
    assert!(per <= 24.0, "{per:.2} bytes per check-in");
    // The figure is not trivially small either: 16 bytes of rows are the floor.
    assert!(per >= 16.0, "{per:.2}");
}

#[test]
fn with_no_minimum_minutes_a_contact_still_needs_a_shared_second() {
    let t = T0 + 3 * DAY + 10 * HOUR;
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, t, t + 20 * MIN));
    // At the shop just after the case left: scanned near it, but never there together.
    scans.extend(visit(3, SHOP, t + 20 * MIN, t + 40 * MIN));
    // One minute together.
    scans.extend(visit(4, SHOP, t + 19 * MIN, t + 30 * MIN));
    let pol = TracingPolicy {
        close_contact_minutes: 0,
        ..no_households()
    };
    assert_eq!(contact_ids(&index(&scans), &pol, &case(0)), vec![4]);
}

#[test]
fn the_venue_rule_follows_each_venue_categorys_close_contact_rule() {
    // 3 shares 20 minutes at the shop with the case, 4 shares 90 minutes, 5 shares 20
    // minutes at a venue (3) beyond the population's tables.
    let at = T0 + 3 * DAY;
    let mut scans = Vec::new();
    scans.extend(visit(0, SHOP, at, at + 2 * HOUR));
    scans.extend(visit(3, SHOP, at, at + 20 * MIN));
    scans.extend(visit(4, SHOP, at, at + 90 * MIN));
    scans.extend(visit(0, 3, at + 3 * HOUR, at + 4 * HOUR));
    scans.extend(visit(5, 3, at + 3 * HOUR, at + 3 * HOUR + 20 * MIN));
    let idx = index(&scans);
    let pol = no_households();
    let ids = |pop: &Population| -> Vec<u32> {
        Tracer::new(&idx, pop, &pol)
            .close_contacts(&case(0), now())
            .unwrap()
            .contacts
            .iter()
            .map(|k| k.person.0)
            .collect()
    };
    // Without a rule per venue, the policy's 15 minutes everywhere.
    assert_eq!(ids(&population()), vec![3, 4, 5]);
    // The shop asks an hour; venues beyond the table (the default category) make none.
    let hour = population().with_close_contact_rule(&[Some(3_600), None, None], None);
    assert_eq!(ids(&hour), vec![4]);
    // The shop makes none; the rest 10 minutes.
    let none = population().with_close_contact_rule(&[None, Some(600), None], Some(600));
    assert_eq!(ids(&none), vec![5]);
    // Source tracing still looks at every venue (an infector need not be a close contact).
    let sources = Tracer::new(&idx, &none, &pol)
        .sources(&case(0), &HashSet::new())
        .unwrap();
    let mut who: Vec<u32> = sources.iter().map(|s| s.person.0).collect();
    who.sort_unstable();
    assert_eq!(who, vec![3, 4, 5]);
}
