//! Property tests: on random small cities, the indexed algorithms give exactly what a naive
//! reference gives — computed from a flat list of check-ins, pings and a brute-force sweep
//! over interval boundaries, sharing no code with the crate.

#![expect(
    clippy::unwrap_used,
    clippy::collapsible_if,
    clippy::manual_is_multiple_of,
    reason = "the naive reference is written plainly on purpose; a failed unwrap fails the test"
)]

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use xikang_domain::event::CaseKind;
use xikang_domain::policy::TracingPolicy;
use xikang_domain::{
    CheckIn, GridCell, HouseholdId, PersonId, ScanDirection, Timestamp, VenueId, WorkplaceId,
};
use xikang_trace::{
    Case, ContactRule, Ping, PingIndex, Population, TraceIndex, Tracer, companions,
};

/// 2022-07-01 00:00 Asia/Shanghai.
const T0: i64 = 1_656_604_800;
const MAX_STAY: i64 = 24 * 3_600;
/// Times lie on a 5-minute grid so that scans, window borders and dwell ends coincide often.
const STEP: i64 = 300;

#[derive(Debug, Clone)]
struct City {
    households: Vec<u32>,
    workplaces: Vec<Option<u32>>,
    workplace_venues: Vec<Option<u32>>,
    dwell: Vec<u32>,
    checkins: Vec<CheckIn>,
    pings: Vec<Ping>,
    case: Case,
    tail_limit: usize,
    chunk: usize,
}

fn city() -> impl Strategy<Value = City> {
    (4u32..14, 1u32..5, 0u64..u64::MAX)
        .prop_flat_map(|(people, venues, seed)| {
            let scans = prop::collection::vec(
                (0..people, 0..venues, 0i64..(3 * 288), any::<bool>(), 0u8..4),
                0..80,
            );
            let pings = prop::collection::vec((0..people, 0i64..(3 * 288), 0u32..3), 0..120);
            (
                Just((people, venues, seed)),
                prop::collection::vec(0..people / 2 + 1, people as usize),
                prop::collection::vec(prop::option::of(0u32..2), people as usize),
                prop::collection::vec(prop::option::of(0..venues), 2),
                prop::collection::vec(
                    prop::sample::select(vec![0u32, 300, 1_800, 3_600, 7_200]),
                    venues as usize,
                ),
                scans,
                pings,
                (
                    0..people,
                    any::<bool>(),
                    0i64..(3 * 288),
                    prop::option::of(0i64..(4 * 288)),
                ),
                (1usize..6, 1usize..40),
            )
        })
        .prop_map(
            |(
                _,
                households,
                workplaces,
                workplace_venues,
                dwell,
                scans,
                pings,
                case,
                (tail_limit, chunk),
            )| {
                let checkins = scans
                    .into_iter()
                    .map(|(p, v, t, exit, _)| CheckIn {
                        person: PersonId(p),
                        venue: VenueId(v),
                        at: Timestamp(T0 + t * STEP),
                        direction: if exit {
                            ScanDirection::Exit
                        } else {
                            ScanDirection::Entry
                        },
                    })
                    .collect();
                let pings = pings
                    .into_iter()
                    .map(|(p, t, c)| Ping {
                        person: PersonId(p),
                        at: Timestamp(T0 + t * STEP),
                        cell: GridCell(c),
                    })
                    .collect();
                let (person, asymptomatic, anchor, isolated) = case;
                let anchor = Timestamp(T0 + 2 * 86_400 + anchor * STEP / 2);
                City {
                    households,
                    workplaces,
                    workplace_venues,
                    dwell,
                    checkins,
                    pings,
                    case: Case {
                        person: PersonId(person),
                        kind: if asymptomatic {
                            CaseKind::Asymptomatic
                        } else {
                            CaseKind::Confirmed
                        },
                        onset: (!asymptomatic).then_some(anchor),
                        sampled: anchor.plus(86_400),
                        isolated: isolated.map(|i| Timestamp(T0 + i * STEP)),
                    },
                    tail_limit,
                    chunk,
                }
            },
        )
}

fn population(c: &City) -> Population {
    let households: Vec<HouseholdId> = c.households.iter().map(|&h| HouseholdId(h)).collect();
    let workplaces: Vec<Option<WorkplaceId>> =
        c.workplaces.iter().map(|w| w.map(WorkplaceId)).collect();
    let wv: Vec<Option<VenueId>> = c.workplace_venues.iter().map(|v| v.map(VenueId)).collect();
    Population::new(&households, &workplaces, &wv, c.dwell.clone(), 3_600).unwrap()
}

/// Appends in chunks, shuffled by the chunk size, with every tenth check-in repeated.
fn index(c: &City) -> TraceIndex {
    let mut idx = TraceIndex::with_tail_limit(c.tail_limit);
    let mut rows = c.checkins.clone();
    rows.extend(c.checkins.iter().step_by(10).copied());
    let turn = c.chunk.min(rows.len());
    rows.rotate_left(turn);
    for part in rows.chunks(c.chunk) {
        idx.append(part);
    }
    idx
}

// ---------------------------------------------------------------------------------------
// The reference.

/// Presence of `person` at `venue`, unmerged, from the whole flat list.
fn ref_presence(all: &[CheckIn], person: u32, venue: u32, dwell: i64) -> Vec<(i64, i64)> {
    // A venue without dwell time records passages, never presence.
    if dwell == 0 {
        return Vec::new();
    }
    let mut scans: Vec<(i64, bool)> = all
        .iter()
        .filter(|c| c.person.0 == person && c.venue.0 == venue)
        .map(|c| (c.at.0, c.direction == ScanDirection::Exit))
        .collect();
    scans.sort_unstable();
    scans.dedup();
    let entries: Vec<i64> = scans.iter().filter(|s| !s.1).map(|s| s.0).collect();
    let exits: Vec<i64> = scans.iter().filter(|s| s.1).map(|s| s.0).collect();
    let mut claimed = HashSet::new();
    let mut out = Vec::new();
    for (i, &e) in entries.iter().enumerate() {
        let next = entries.get(i + 1).copied().unwrap_or(i64::MAX);
        // The first exit at or after the entry and before the next entry ends the visit if
        // it comes within a day.
        match exits.iter().find(|&&x| x >= e && x < next) {
            Some(&x) if x - e <= MAX_STAY => {
                claimed.insert(x);
                out.push((e, x));
            }
            _ => out.push((e, e + dwell)),
        }
    }
    for &x in &exits {
        if !claimed.contains(&x) {
            out.push((x - dwell, x));
        }
    }
    out
}

/// Seconds covered by both `a` (inside `[lo, hi)`) and `b`, with the first and last covered
/// instant, by a sweep over every boundary.
fn ref_overlap(a: &[(i64, i64)], b: &[(i64, i64)], lo: i64, hi: i64) -> (i64, i64, i64) {
    let mut points: Vec<i64> = a
        .iter()
        .chain(b)
        .flat_map(|&(s, e)| [s, e])
        .chain([lo, hi])
        .collect();
    points.sort_unstable();
    points.dedup();
    let (mut secs, mut first, mut last) = (0, 0, 0);
    for w in points.windows(2) {
        let (p, q) = (w[0], w[1]);
        let in_a = a.iter().any(|&(s, e)| s <= p && q <= e);
        let in_b = b.iter().any(|&(s, e)| s <= p && q <= e);
        if in_a && in_b && lo <= p && q <= hi {
            if secs == 0 {
                first = p;
            }
            secs += q - p;
            last = q;
        }
    }
    (secs, first, last)
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Expected {
    /// venue → (overlap, first, last)
    venues: BTreeMap<u32, (i64, i64, i64)>,
    household: bool,
    workplace: bool,
}

fn ref_close(c: &City, policy: &TracingPolicy, now: i64) -> BTreeMap<u32, Expected> {
    let lo = c.case.anchor().0 - i64::from(policy.exposure_window_days) * 86_400;
    let hi = c.case.isolated.map_or(now, |t| t.0);
    let me = c.case.person.0;
    let mut out: BTreeMap<u32, Expected> = BTreeMap::new();
    if hi <= lo {
        return out;
    }
    let people = c.households.len() as u32;
    let dwell = |v: u32| i64::from(c.dwell[v as usize]);
    for v in 0..c.dwell.len() as u32 {
        let mine = ref_presence(&c.checkins, me, v, dwell(v));
        for p in (0..people).filter(|&p| p != me) {
            let theirs = ref_presence(&c.checkins, p, v, dwell(v));
            let (secs, first, last) = ref_overlap(&mine, &theirs, lo, hi);
            if secs > 0 && secs >= i64::from(policy.close_contact_minutes) * 60 {
                out.entry(p)
                    .or_default()
                    .venues
                    .insert(v, (secs, first, last));
            }
        }
    }
    if policy.household {
        for p in (0..people)
            .filter(|&p| p != me && c.households[p as usize] == c.households[me as usize])
        {
            out.entry(p).or_default().household = true;
        }
    }
    if policy.workplace {
        if let Some(w) = c.workplaces[me as usize] {
            if let Some(Some(v)) = c.workplace_venues.get(w as usize) {
                let at_work = ref_presence(&c.checkins, me, *v, dwell(*v));
                let whole = [(i64::MIN / 4, i64::MAX / 4)];
                if ref_overlap(&at_work, &whole, lo, hi).0 > 0 {
                    for p in (0..people).filter(|&p| p != me && c.workplaces[p as usize] == Some(w))
                    {
                        out.entry(p).or_default().workplace = true;
                    }
                }
            }
        }
    }
    out
}

fn policy(minutes: u32, window: u32) -> TracingPolicy {
    TracingPolicy {
        close_contact_minutes: minutes,
        exposure_window_days: window,
        ..TracingPolicy::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn close_contacts_match_the_naive_reference(c in city(), minutes in 1u32..40, window in 0u32..3) {
        let pol = policy(minutes, window);
        let now = T0 + 4 * 86_400;
        let idx = index(&c);
        let pop = population(&c);
        let got = Tracer::new(&idx, &pop, &pol).close_contacts(&c.case, Timestamp(now)).unwrap();
        let want = ref_close(&c, &pol, now);
        let mut have: BTreeMap<u32, Expected> = BTreeMap::new();
        for k in &got.contacts {
            prop_assert_ne!(k.person, c.case.person);
            let e = have.entry(k.person.0).or_default();
            for ev in &k.evidence {
                match ev.rule {
                    ContactRule::Venue => {
                        let v = ev.venue.unwrap().0;
                        e.venues.insert(v, (ev.overlap_secs, ev.first.0, ev.last.0));
                    }
                    ContactRule::Household => e.household = true,
                    ContactRule::Workplace => e.workplace = true,
                }
            }
            prop_assert_eq!(k.first_exposure, k.evidence.iter().map(|e| e.first).min().unwrap());
        }
        prop_assert_eq!(have, want);
    }

    #[test]
    fn the_index_returns_each_distinct_check_in_once_in_order(c in city()) {
        let idx = index(&c);
        let distinct: BTreeSet<(u32, u32, i64, bool)> = c
            .checkins
            .iter()
            .map(|k| (k.person.0, k.venue.0, k.at.0, k.direction == ScanDirection::Exit))
            .collect();
        prop_assert_eq!(idx.len(), distinct.len());
        let (from, to) = (Timestamp(T0 + 86_400), Timestamp(T0 + 2 * 86_400));
        for p in 0..c.households.len() as u32 {
            let got = idx.checkins_of_person(PersonId(p), from, to);
            let mut want: Vec<CheckIn> = c.checkins.iter().filter(|k| k.person.0 == p && k.at >= from && k.at <= to).copied().collect();
            want.sort_by_key(|k| (k.at, k.direction == ScanDirection::Exit, k.venue));
            want.dedup();
            prop_assert_eq!(got, want);
        }
        for v in 0..c.dwell.len() as u32 {
            let got = idx.checkins_at_venue(VenueId(v), from, to);
            let mut want: Vec<CheckIn> = c.checkins.iter().filter(|k| k.venue.0 == v && k.at >= from && k.at <= to).copied().collect();
            want.sort_by_key(|k| (k.at, k.direction == ScanDirection::Exit, k.person));
            want.dedup();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn secondary_contacts_match_the_naive_reference(c in city()) {
        let pol = policy(15, 2);
        let now = Timestamp(T0 + 4 * 86_400);
        let idx = index(&c);
        let pop = population(&c);
        let tracer = Tracer::new(&idx, &pop, &pol);
        let close = tracer.close_contacts(&c.case, now).unwrap();
        // Quarantine one day after first exposure for even people, unknown for odd.
        let quarantined = |p: PersonId| (p.0 % 2 == 0).then_some(Timestamp(T0 + 3 * 86_400));
        let secondary = tracer.secondary_contacts(&close, quarantined, now);
        let mut got: BTreeSet<(u32, u32, ContactRule)> = BTreeSet::new();
        for s in &secondary.contacts {
            for &g in &s.groups {
                let g = &secondary.groups[g];
                got.extend(g.via.iter().map(|v| (s.person.0, v.0, g.rule)));
            }
        }
        let me = c.case.person.0;
        let closes: BTreeSet<u32> = ref_close(&c, &pol, now.0).keys().copied().collect();
        let mut want = BTreeSet::new();
        for k in &close.contacts {
            let lo = k.first_exposure.0;
            let hi = quarantined(k.person).unwrap_or(now).0;
            if hi <= lo {
                continue;
            }
            let kp = k.person.0;
            for p in 0..c.households.len() as u32 {
                if p == me || p == kp || closes.contains(&p) {
                    continue;
                }
                if c.households[p as usize] == c.households[kp as usize] {
                    want.insert((p, kp, ContactRule::Household));
                }
                let work = c.workplaces[kp as usize];
                if let Some(w) = work {
                    if let Some(Some(v)) = c.workplace_venues.get(w as usize) {
                        let at_work = ref_presence(&c.checkins, kp, *v, i64::from(c.dwell[*v as usize]));
                        let whole = [(i64::MIN / 4, i64::MAX / 4)];
                        if c.workplaces[p as usize] == Some(w) && ref_overlap(&at_work, &whole, lo, hi).0 > 0 {
                            want.insert((p, kp, ContactRule::Workplace));
                        }
                    }
                }
            }
        }
        prop_assert_eq!(got, want);
    }

    #[test]
    fn sources_match_the_naive_reference(c in city()) {
        let pol = TracingPolicy { incubation_days: 2, ..TracingPolicy::default() };
        let idx = index(&c);
        let pop = population(&c);
        let known: HashSet<PersonId> = [PersonId(0)].into();
        let got = Tracer::new(&idx, &pop, &pol).sources(&c.case, &known).unwrap();
        let hi = c.case.anchor().0;
        let lo = hi - 2 * 86_400;
        let me = c.case.person.0;
        let mut want: BTreeMap<u32, i64> = BTreeMap::new();
        for v in 0..c.dwell.len() as u32 {
            let d = i64::from(c.dwell[v as usize]);
            let mine = ref_presence(&c.checkins, me, v, d);
            for p in (0..c.households.len() as u32).filter(|&p| p != me) {
                let secs = ref_overlap(&mine, &ref_presence(&c.checkins, p, v, d), lo, hi).0;
                if secs > 0 {
                    *want.entry(p).or_default() += secs;
                }
            }
        }
        let have: BTreeMap<u32, i64> = got.iter().map(|s| (s.person.0, s.overlap_secs)).collect();
        prop_assert_eq!(have, want);
        prop_assert!(got.windows(2).all(|w| w[0].overlap_secs >= w[1].overlap_secs));
        prop_assert!(got.iter().all(|s| s.is_case == (s.person.0 == 0)));
    }

    #[test]
    fn companions_match_the_naive_reference(c in city(), minutes in 0u32..60, hours in 0u32..3) {
        let pol = TracingPolicy {
            exposure_window_days: 2,
            companion_minutes: minutes,
            companion_cell_hours: hours,
            companion_cell_days: 2,
            companion_ping_gap_minutes: 30,
            ..TracingPolicy::default()
        };
        let now = Timestamp(T0 + 4 * 86_400);
        let mut pings = PingIndex::new();
        for part in c.pings.chunks(c.chunk) {
            pings.append(part);
        }
        let got: BTreeMap<u32, Vec<(u32, i64)>> = companions(&pings, &pol, &c.case, now)
            .into_iter()
            .map(|k| (k.person.0, k.cells.iter().map(|x| (x.cell.0, x.overlap_secs)).collect()))
            .collect();

        let window = c.case.exposure_window(2, now);
        let (lo, hi) = (window.start.0, window.end.0);
        let gap = 30 * 60;
        let cells_of = |p: u32| -> Vec<(u32, (i64, i64))> {
            let mut mine: Vec<(i64, u32)> = c.pings.iter().filter(|x| x.person.0 == p).map(|x| (x.at.0, x.cell.0)).collect();
            mine.sort_unstable();
            mine.dedup();
            (0..mine.len())
                .map(|i| {
                    let end = mine.get(i + 1).map_or(i64::MAX, |n| n.0).min(mine[i].0 + gap);
                    (mine[i].1, (mine[i].0, end))
                })
                .collect()
        };
        let in_cell = |all: &[(u32, (i64, i64))], cell: u32| -> Vec<(i64, i64)> {
            all.iter().filter(|x| x.0 == cell).map(|x| x.1).collect()
        };
        let me = c.case.person.0;
        let mine = cells_of(me);
        let mut want: BTreeMap<u32, Vec<(u32, i64)>> = BTreeMap::new();
        if hi > lo {
            let since = hi - 2 * 86_400;
            let whole = [(i64::MIN / 4, i64::MAX / 4)];
            for p in (0..c.households.len() as u32).filter(|&p| p != me) {
                let theirs = cells_of(p);
                for cell in 0..3 {
                    let (a, b) = (in_cell(&mine, cell), in_cell(&theirs, cell));
                    let secs = ref_overlap(&a, &b, lo, hi).0;
                    let mine_recent = ref_overlap(&a, &whole, since, hi).0;
                    let theirs_recent = ref_overlap(&b, &whole, since, hi).0;
                    let long = i64::from(hours) * 3_600;
                    if secs > i64::from(minutes) * 60 && (mine_recent > long || theirs_recent > long) {
                        want.entry(p).or_default().push((cell, secs));
                    }
                }
            }
        }
        prop_assert_eq!(got, want);
    }
}
