//! The conformance suite: one set of scenarios, each run against SQLite (in a temporary
//! directory) and PostgreSQL (in a fresh schema of the shared `test` database, so tests can
//! run in parallel). Both backends must behave the same.
//!
//! PostgreSQL is found at `XIKANG_TEST_DATABASE_URL`, or `postgres://postgres@127.0.0.1:5432/test`
//! (then the same as user `root`). If it cannot be reached, the PostgreSQL half fails when
//! `XIKANG_REQUIRE_POSTGRES=1` (CI) and is otherwise skipped with a line on stderr.

#![expect(
    clippy::unwrap_used,
    reason = "fixtures and scenarios: a failed unwrap is a failed test"
)]

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Once, OnceLock};
use xikang_domain::event::{ChainError, EventBody, GENESIS_HASH, NewEvent, ZoneLevel};
use xikang_domain::idnumber::IdNumber;
use xikang_domain::mask::PhoneNumber;
use xikang_domain::{
    AreaCode, CheckIn, CivilDay, EventSeq, GridCell, HouseholdId, LocationPing, Person, PersonId,
    PlaceCode, Position, ScanDirection, TestOutcome, Timestamp, TokenId, Venue, VenueCategory,
    VenueId, Workplace, WorkplaceId, ZoneId,
};
use xikang_store::{
    AccessFilter, AccessRecord, ApiToken, ConflictKind, Session, Store, StoreError, StoredKey,
    StoredToken, Target, User, open,
};

// ---------------------------------------------------------------------------------------
// Harness

const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const ROOT_PG: &str = "postgres://root@127.0.0.1:5432/test";

/// The reachable PostgreSQL URL, or why there is none. Probed once per test binary.
fn postgres_url() -> &'static Result<String, String> {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    URL.get_or_init(|| {
        let candidates: Vec<String> = match std::env::var("XIKANG_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => vec![url],
            _ => vec![DEFAULT_PG.to_owned(), ROOT_PG.to_owned()],
        };
        let mut reasons = Vec::new();
        for url in candidates {
            match connect(&url) {
                Ok(_) => return Ok(url),
                Err(e) => reasons.push(e),
            }
        }
        Err(reasons.join("; "))
    })
}

fn connect(url: &str) -> Result<postgres::Client, String> {
    let mut config: postgres::Config = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    config.connect_timeout(std::time::Duration::from_secs(5));
    config.connect(postgres::NoTls).map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        format!("cannot connect to {url}: {e}{cause}")
    })
}

/// A schema of its own for one test, dropped when the test ends (even by panic).
struct FreshSchema {
    url: String,
    schema: String,
}

impl FreshSchema {
    fn new(url: &str) -> FreshSchema {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let schema = format!(
            "xk_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        FreshSchema {
            url: url.to_owned(),
            schema,
        }
    }

    fn target(&self) -> Target {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        Target::Postgres(format!("{}{sep}schema={}", self.url, self.schema))
    }
}

impl Drop for FreshSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = connect(&self.url) {
            let _ = c.batch_execute(&format!("drop schema if exists {} cascade", self.schema));
        }
    }
}

/// Runs a scenario that opens (and reopens) stores itself, on both backends.
fn on_both_targets(scenario: &dyn Fn(&Target)) {
    let dir = tempfile::tempdir().expect("tempdir");
    scenario(&Target::Sqlite(dir.path().to_path_buf()));

    match postgres_url() {
        Ok(url) => {
            let schema = FreshSchema::new(url);
            scenario(&schema.target());
        }
        Err(reason) => {
            if std::env::var("XIKANG_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!(
                    "PostgreSQL is required (XIKANG_REQUIRE_POSTGRES=1) but unreachable: {reason}"
                );
            }
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to the process's stderr: libtest captures `eprintln!` of passing
                // tests, and this line must be seen.
                let _ = writeln!(std::io::stderr(), "PostgreSQL half skipped: {reason}");
            });
        }
    }
}

/// Runs a scenario on a freshly opened store of each backend.
fn on_both(scenario: fn(&dyn Store)) {
    on_both_targets(&|target| {
        let store = open(target).expect("open store");
        scenario(&*store);
    });
}

// ---------------------------------------------------------------------------------------
// Fixtures

fn area(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn person(id: u32, community: &str) -> Person {
    Person {
        id: PersonId(id),
        id_number: IdNumber::compose(
            320213,
            1980 + (id % 30) as i16,
            1 + (id % 12) as i8,
            1 + (id % 28) as i8,
            id as u16,
        )
        .unwrap(),
        name: format!("居民{id}"),
        phone: id
            .is_multiple_of(2)
            .then(|| PhoneNumber::parse(&format!("138{:08}", id)).unwrap()),
        household: HouseholdId(id / 3),
        workplace: (!id.is_multiple_of(3)).then_some(WorkplaceId(id % 5)),
        area: area(community),
        home_cell: GridCell(1000 + id),
    }
}

/// The hash the caller would compute with the server's key; any distinct value will do here.
fn id_hash(p: &Person) -> [u8; 16] {
    p.id_number.keyed_hash(b"test key")
}

fn people() -> Vec<Person> {
    vec![
        person(1, "320213001001"),
        person(2, "320213001001"),
        person(3, "320213002001"),
        person(4, "320205001001"),
        person(5, "320213001002"),
        person(6, "320205001001"),
        person(7, "320213002001"),
    ]
}

fn venue(id: u32) -> Venue {
    Venue {
        id: VenueId(id),
        place_code: PlaceCode::parse(&format!("320213V{id:07}")).unwrap(),
        name: format!("超市{id}"),
        category: VenueCategory::parse("supermarket").unwrap(),
        area: area("320213001001"),
        cell: GridCell(7 + id),
        lat: 31.566_123_456_789 + f64::from(id) * 1e-6,
        lon: 120.299_987_654_321,
    }
}

fn test_event(person: u32, at: &str, outcome: TestOutcome) -> NewEvent {
    let t = ts(at);
    NewEvent {
        at: t,
        actor: "lab:wuxi-1".into(),
        basis: "lab report 2022-0701".into(),
        body: EventBody::TestResulted {
            person: PersonId(person),
            sampled_at: t.plus(-6 * 3600),
            resulted_at: t,
            outcome,
            pool_size: 1,
            tube: format!("T{person}"),
        },
    }
}

fn zone_event(zone: u64) -> NewEvent {
    NewEvent {
        at: ts("2022-07-01T08:00:00Z"),
        actor: "command:zhang".into(),
        basis: "通告 2022-15".into(),
        body: EventBody::ZoneSet {
            zone: ZoneId(zone),
            level: ZoneLevel::Sealed,
            cells: vec![GridCell(1), GridCell(2)],
            name: "某小区".into(),
        },
    }
}

fn five_events(store: &dyn Store) {
    store
        .append_events(&[
            test_event(1, "2022-07-01T02:00:00Z", TestOutcome::Negative),
            test_event(2, "2022-07-01T02:05:00Z", TestOutcome::Negative),
            zone_event(1),
            test_event(1, "2022-07-02T02:00:00Z", TestOutcome::Negative),
            test_event(3, "2022-07-02T03:00:00Z", TestOutcome::Positive),
        ])
        .unwrap();
}

fn scan(person: u32, venue: u32, at: &str, direction: ScanDirection) -> CheckIn {
    CheckIn {
        person: PersonId(person),
        venue: VenueId(venue),
        at: ts(at),
        direction,
    }
}

fn tamper(store: &dyn Store, sql: &str) {
    assert_eq!(store.execute_raw_for_tests(sql).unwrap(), 1, "{sql}");
}

// ---------------------------------------------------------------------------------------
// Scenarios

fn scenario_people(store: &dyn Store) {
    let all = people();
    let rows: Vec<(Person, [u8; 16])> = all.iter().map(|p| (p.clone(), id_hash(p))).collect();
    store.insert_people(&rows).unwrap();

    assert_eq!(store.count_people().unwrap(), 7);
    for p in &all {
        assert_eq!(store.person(p.id).unwrap().as_ref(), Some(p), "{}", p.id);
        assert_eq!(store.person_by_id_hash(&id_hash(p)).unwrap(), Some(p.id));
    }
    assert_eq!(store.person(PersonId(99)).unwrap(), None);
    assert_eq!(store.person_by_id_hash(&[0; 16]).unwrap(), None);

    // District 320213 holds 1, 2, 3, 5, 7; pages of two, keyset by id.
    let district = area("320213");
    let page1 = store.list_people(&district, None, 2).unwrap();
    let page2 = store.list_people(&district, Some(page1[1].id), 2).unwrap();
    let page3 = store.list_people(&district, Some(page2[1].id), 2).unwrap();
    let ids = |v: &[Person]| v.iter().map(|p| p.id.0).collect::<Vec<_>>();
    assert_eq!(
        (ids(&page1), ids(&page2), ids(&page3)),
        (vec![1, 2], vec![3, 5], vec![7])
    );
    assert_eq!(
        ids(&store.list_people(&area("320213001"), None, 10).unwrap()),
        vec![1, 2, 5]
    );
    assert_eq!(
        ids(&store.list_people(&area("320213001001"), None, 10).unwrap()),
        vec![1, 2]
    );
    assert_eq!(
        ids(&store.list_people(&area("320200"), None, 100).unwrap()),
        vec![1, 2, 3, 4, 5, 6, 7]
    );
    assert!(
        store
            .list_people(&area("320100"), None, 100)
            .unwrap()
            .is_empty()
    );

    let mut briefs = Vec::new();
    store
        .for_each_person_brief(&mut |b| briefs.push(b))
        .unwrap();
    assert_eq!(briefs.len(), 7);
    for (b, p) in briefs.iter().zip(&all) {
        assert_eq!(
            (b.id, b.household, b.workplace, &b.area, b.home_cell),
            (p.id, p.household, p.workplace, &p.area, p.home_cell)
        );
        assert_eq!(b.id_hash, id_hash(p));
    }

    // A batch with a taken ID hash fails as a whole.
    let dup = person(8, "320213001001");
    let err = store.insert_people(&[
        (dup.clone(), id_hash(&dup)),
        (person(9, "320213001001"), id_hash(&all[0])),
    ]);
    assert_eq!(err.unwrap_err().code(), "conflict");
    assert_eq!(store.count_people().unwrap(), 7);
    assert_eq!(store.person(PersonId(8)).unwrap(), None);
}

fn scenario_venues_and_workplaces(store: &dyn Store) {
    let venues = vec![venue(2), venue(1), venue(3)];
    store.insert_venues(&venues).unwrap();
    assert_eq!(store.venue(VenueId(2)).unwrap(), Some(venue(2)));
    assert_eq!(store.venue(VenueId(9)).unwrap(), None);
    assert_eq!(
        store.all_venues().unwrap(),
        vec![venue(1), venue(2), venue(3)]
    );
    // A place code is unique.
    let mut copy = venue(4);
    copy.place_code = venue(1).place_code;
    assert!(matches!(
        store.insert_venues(&[copy]),
        Err(StoreError::Conflict(_))
    ));

    let w = Workplace {
        id: WorkplaceId(5),
        name: "无锡某小学".into(),
        is_school: true,
        area: area("320213001"),
        cell: GridCell(42),
        venue: Some(VenueId(3)),
    };
    let w2 = Workplace {
        id: WorkplaceId(6),
        name: "工厂".into(),
        is_school: false,
        venue: None,
        ..w.clone()
    };
    store.insert_workplaces(&[w.clone(), w2.clone()]).unwrap();
    assert_eq!(store.workplace(WorkplaceId(5)).unwrap(), Some(w.clone()));
    assert_eq!(store.workplace(WorkplaceId(6)).unwrap(), Some(w2.clone()));
    assert_eq!(store.all_workplaces().unwrap(), vec![w, w2]);
    assert_eq!(store.workplace(WorkplaceId(7)).unwrap(), None);
}

fn scenario_events_chain_and_verify(store: &dyn Store) {
    let empty = store.verify_chain().unwrap();
    assert_eq!(
        (empty.verified, empty.head, empty.first_error),
        (0, GENESIS_HASH, None)
    );

    let first = store
        .append_events(&[
            test_event(1, "2022-07-01T02:00:00Z", TestOutcome::Negative),
            zone_event(1),
        ])
        .unwrap();
    let second = store
        .append_events(&[
            test_event(2, "2022-07-01T03:00:00Z", TestOutcome::Positive),
            test_event(1, "2022-07-02T02:00:00Z", TestOutcome::Negative),
            test_event(3, "2022-07-02T02:00:00Z", TestOutcome::Negative),
        ])
        .unwrap();
    assert_eq!(store.append_events(&[]).unwrap(), vec![]);
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    assert_eq!(
        all.iter().map(|e| e.seq.0).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(all[0].prev_hash, GENESIS_HASH);
    for pair in all.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "link into {}", pair[1].seq);
    }

    let report = store.verify_chain().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.verified, report.head), (5, all[4].hash));

    assert_eq!(store.events_after(EventSeq(0), 100).unwrap(), all);
    assert_eq!(
        store.events_after(EventSeq(2), 2).unwrap(),
        all[2..4].to_vec()
    );
    assert!(store.events_after(EventSeq(5), 10).unwrap().is_empty());
    let mut streamed = Vec::new();
    store.for_each_event(&mut |e| streamed.push(e)).unwrap();
    assert_eq!(streamed, all);

    let of_1: Vec<u64> = store
        .events_of_person(PersonId(1))
        .unwrap()
        .iter()
        .map(|e| e.seq.0)
        .collect();
    assert_eq!(of_1, vec![1, 4]);
    assert_eq!(
        store.events_of_person(PersonId(2)).unwrap(),
        vec![all[2].clone()]
    );
    assert!(store.events_of_person(PersonId(9)).unwrap().is_empty());
}

fn scenario_tampering_is_caught_at_the_altered_event(store: &dyn Store) {
    five_events(store);
    assert!(store.verify_chain().unwrap().is_ok());

    // Change who recorded event 3: the chain breaks exactly there.
    tamper(
        store,
        "update events set actor = 'command:li' where seq = 3",
    );
    let report = store.verify_chain().unwrap();
    assert_eq!(
        report.first_error,
        Some(ChainError::Altered { seq: EventSeq(3) })
    );
    assert_eq!(report.verified, 2);
    assert_eq!(
        report.head,
        store.events_after(EventSeq(1), 1).unwrap()[0].hash
    );

    // Put it back: whole again.
    tamper(
        store,
        "update events set actor = 'command:zhang' where seq = 3",
    );
    assert!(store.verify_chain().unwrap().is_ok());

    // Turn a positive result into a negative one in the body of event 5.
    tamper(
        store,
        "update events set body = replace(body, 'positive', 'negative') where seq = 5",
    );
    let report = store.verify_chain().unwrap();
    assert_eq!(
        report.first_error,
        Some(ChainError::Altered { seq: EventSeq(5) })
    );
    assert_eq!(report.verified, 4);
    tamper(
        store,
        "update events set body = replace(body, 'negative', 'positive') where seq = 5",
    );
    assert!(store.verify_chain().unwrap().is_ok());

    // Re-pointing an event at another person (the indexed column) is caught as well.
    tamper(store, "update events set person = 2 where seq = 4");
    assert_eq!(
        store.verify_chain().unwrap().first_error,
        Some(ChainError::Altered { seq: EventSeq(4) })
    );
}

fn scenario_a_rewritten_chain_is_caught_at_the_first_rewritten_link(store: &dyn Store) {
    five_events(store);
    let events = store.events_after(EventSeq(0), 10).unwrap();
    // Recomputing event 2's own hash after altering it does not help: event 3 still points
    // at the old one.
    let e2 = &events[1];
    let forged = xikang_domain::event::chain_hash(
        &e2.prev_hash,
        e2.seq,
        e2.at,
        "lab:forger",
        &e2.basis,
        &e2.body.to_json(),
    );
    let hex: String = forged.iter().map(|b| format!("{b:02x}")).collect();
    let blob = if store.backend() == "sqlite" {
        format!("x'{hex}'")
    } else {
        format!("'\\x{hex}'::bytea")
    };
    tamper(
        store,
        &format!("update events set actor = 'lab:forger', hash = {blob} where seq = 2"),
    );
    let report = store.verify_chain().unwrap();
    assert_eq!(
        report.first_error,
        Some(ChainError::BrokenLink { seq: EventSeq(3) })
    );
    assert_eq!(report.verified, 2);
}

fn scenario_a_deleted_event_is_a_gap(store: &dyn Store) {
    five_events(store);
    tamper(store, "delete from events where seq = 2");
    let report = store.verify_chain().unwrap();
    assert_eq!(
        report.first_error,
        Some(ChainError::Gap {
            seq: EventSeq(3),
            expected: 2
        })
    );
    assert_eq!(report.verified, 1);
}

fn scenario_concurrent_appends_keep_one_valid_chain(store: &dyn Store) {
    const THREADS: u32 = 4;
    const ROUNDS: u32 = 8;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for r in 0..ROUNDS {
                    let batch: Vec<NewEvent> = (0..=(r % 3))
                        .map(|i| {
                            test_event(
                                t * 100 + r * 10 + i,
                                "2022-07-01T02:00:00Z",
                                TestOutcome::Negative,
                            )
                        })
                        .collect();
                    let stored = store.append_events(&batch).unwrap();
                    // A batch is contiguous: no other writer slipped in between.
                    for pair in stored.windows(2) {
                        assert_eq!(pair[1].seq.0, pair[0].seq.0 + 1);
                    }
                }
            });
        }
    });
    let expected: u64 = (0..ROUNDS).map(|r| u64::from(r % 3 + 1)).sum::<u64>() * u64::from(THREADS);
    let report = store.verify_chain().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.verified, expected);
}

fn scenario_checkins_are_partitioned_by_shanghai_day(store: &dyn Store) {
    use ScanDirection::{Entry, Exit};
    // 2022-07-01 in Shanghai ends at 15:59:59Z.
    let day1 = [
        scan(1, 10, "2022-07-01T01:00:00Z", Entry),
        scan(2, 10, "2022-07-01T01:10:00Z", Entry),
        scan(1, 10, "2022-07-01T01:40:00Z", Exit),
        scan(1, 11, "2022-07-01T15:59:59Z", Entry),
    ];
    let day2 = [
        scan(1, 11, "2022-07-01T16:00:00Z", Exit),
        scan(3, 10, "2022-07-02T02:00:00Z", Entry),
        scan(3, 10, "2022-07-02T02:00:00Z", Entry), // duplicate within the batch
    ];
    let batch: Vec<CheckIn> = day1.iter().chain(&day2).copied().collect();
    store.insert_checkins(&batch).unwrap();
    store.insert_checkins(&[]).unwrap();

    let d1 = CivilDay::parse("2022-07-01").unwrap();
    let d2 = CivilDay::parse("2022-07-02").unwrap();
    // The registry counts rows stored: a repeated scan is stored (no unique key to check
    // on the append path) and read once.
    assert_eq!(store.checkin_days().unwrap(), vec![(d1, 4), (d2, 3)]);

    // The same scans again are stored again and change no read.
    store.insert_checkins(&batch[..3]).unwrap();
    // By person, across the day boundary, ordered by time, bounds inclusive.
    let of_1 = store
        .checkins_of_person(
            PersonId(1),
            ts("2022-07-01T00:00:00Z"),
            ts("2022-07-01T16:00:00Z"),
        )
        .unwrap();
    assert_eq!(of_1, vec![day1[0], day1[2], day1[3], day2[0]]);
    assert_eq!(store.checkin_days().unwrap(), vec![(d1, 7), (d2, 3)]);
    let narrow = store
        .checkins_of_person(
            PersonId(1),
            ts("2022-07-01T01:00:01Z"),
            ts("2022-07-01T15:59:59Z"),
        )
        .unwrap();
    assert_eq!(narrow, vec![day1[2], day1[3]]);
    assert!(
        store
            .checkins_of_person(
                PersonId(1),
                ts("2022-07-03T00:00:00Z"),
                ts("2022-07-04T00:00:00Z")
            )
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .checkins_of_person(
                PersonId(1),
                ts("2022-07-02T00:00:00Z"),
                ts("2022-07-01T00:00:00Z")
            )
            .unwrap()
            .is_empty()
    );

    // By venue: venue 10 over both days.
    let at_10 = store
        .checkins_at_venue(
            VenueId(10),
            ts("2022-07-01T00:00:00Z"),
            ts("2022-07-02T23:00:00Z"),
        )
        .unwrap();
    assert_eq!(at_10, vec![day1[0], day1[1], day1[2], day2[1]]);
    let at_10_window = store
        .checkins_at_venue(
            VenueId(10),
            ts("2022-07-01T01:05:00Z"),
            ts("2022-07-01T01:30:00Z"),
        )
        .unwrap();
    assert_eq!(at_10_window, vec![day1[1]]);

    let mut streamed = Vec::new();
    store
        .for_each_checkin(&mut |chunk| streamed.extend_from_slice(chunk))
        .unwrap();
    // Every stored row, repeats included (the tracing index drops repeats itself).
    assert_eq!(streamed.len(), 10);
    streamed.sort_by_key(|c| (c.at, c.person.0));
    streamed.dedup();
    let mut expected = batch[..6].to_vec();
    expected.sort_by_key(|c| (c.at, c.person.0));
    assert_eq!(streamed, expected);

    // Each day is its own table.
    assert_eq!(store.execute_raw_for_tests("insert into checkins_20220701 (venue, at, person, dir) values (99, 1656637200, 99, 0)").unwrap(), 1);
    assert_eq!(
        store
            .execute_raw_for_tests("delete from checkins_20220701 where venue = 99")
            .unwrap(),
        1
    );

    // Retention: everything before day 2 goes, whole tables at a time.
    assert_eq!(store.drop_checkin_days_before(d2).unwrap(), vec![d1]);
    assert_eq!(store.checkin_days().unwrap(), vec![(d2, 3)]);
    assert!(
        store
            .execute_raw_for_tests(
                "insert into checkins_20220701 (venue, at, person, dir) values (1, 1, 1, 0)"
            )
            .is_err()
    );
    let of_1 = store
        .checkins_of_person(
            PersonId(1),
            ts("2022-07-01T00:00:00Z"),
            ts("2022-07-02T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(of_1, vec![day2[0]]);
    assert!(store.drop_checkin_days_before(d2).unwrap().is_empty());

    // A dropped day can be written again (a late upload) and starts from scratch.
    store.insert_checkins(&day1[..1]).unwrap();
    assert_eq!(store.checkin_days().unwrap(), vec![(d1, 1), (d2, 3)]);
}

fn scenario_small_and_large_batches_agree(store: &dyn Store) {
    // Small batches (a group commit) and a large one (a bulk load), with repeats across
    // them: reads report each scan once.
    let start = ts("2022-07-01T00:00:00Z");
    let big: Vec<CheckIn> = (0..140_000u32)
        .map(|i| CheckIn {
            person: PersonId(i % 9_000),
            venue: VenueId(i % 700),
            at: start.plus(i64::from(i)),
            direction: ScanDirection::Entry,
        })
        .collect();
    store.insert_checkins(&big[..1_000]).unwrap();
    store.insert_checkins(&big[500..1_500]).unwrap();
    let of_7 = store
        .checkins_of_person(PersonId(7), start, start.plus(2_000))
        .unwrap();
    assert_eq!(of_7, vec![big[7]]);
    store.insert_checkins(&big).unwrap();
    store.insert_checkins(&big[..10]).unwrap();
    let of_7 = store
        .checkins_of_person(PersonId(7), start, start.plus(30_000))
        .unwrap();
    assert_eq!(of_7, vec![big[7], big[9_007], big[18_007], big[27_007]]);
    let total: u64 = store.checkin_days().unwrap().iter().map(|d| d.1).sum();
    assert_eq!(total, 142_010);
    let mut streamed = 0usize;
    store
        .for_each_checkin(&mut |chunk| streamed += chunk.len())
        .unwrap();
    assert_eq!(streamed, 142_010);
}

fn scenario_acknowledged_checkins_are_readable_at_once(store: &dyn Store) {
    // Many small batches, as the server's group commit writes them: after each acknowledged
    // batch, every acknowledged scan at venue 0 is readable.
    const ROWS: u32 = 150_000;
    const BATCH: u32 = 1_000;
    let start = ts("2022-07-01T00:00:00Z");
    let all: Vec<CheckIn> = (0..ROWS)
        .map(|i| CheckIn {
            person: PersonId(i % 10_007),
            venue: VenueId(i % 50),
            at: start.plus(i64::from(i)),
            direction: ScanDirection::Entry,
        })
        .collect();
    let end = start.plus(i64::from(ROWS));
    for (n, batch) in all.chunks(BATCH as usize).enumerate() {
        store.insert_checkins(batch).unwrap();
        let acknowledged = (n + 1) * BATCH as usize;
        let seen = store.checkins_at_venue(VenueId(0), start, end).unwrap();
        assert_eq!(seen.len(), acknowledged.div_ceil(50), "after batch {n}");
        if n % 25 == 0 {
            let of_3 = store.checkins_of_person(PersonId(3), start, end).unwrap();
            let expected: Vec<CheckIn> = all[..acknowledged]
                .iter()
                .filter(|c| c.person == PersonId(3))
                .copied()
                .collect();
            assert_eq!(of_3, expected, "after batch {n}");
        }
    }
    let total: u64 = store.checkin_days().unwrap().iter().map(|d| d.1).sum();
    assert_eq!(total, u64::from(ROWS));
    let mut streamed = 0usize;
    store
        .for_each_checkin(&mut |chunk| streamed += chunk.len())
        .unwrap();
    assert_eq!(streamed, ROWS as usize);
}

fn scenario_api_tokens(store: &dyn Store) {
    let key = [7u8; 32];
    assert_eq!(store.api_token(&key).unwrap(), None);
    let venue_device = ApiToken {
        name: "scanner-17".into(),
        role: "venue".into(),
        area: area("320213001"),
        venue: Some(VenueId(17)),
        person: None,
        id_lookup: true,
        enterprise: None,
        created_at: ts("2022-07-01T08:00:00Z"),
        expires_at: ts("2023-07-01T08:00:00Z"),
    };
    let id = store.put_api_token(key, &venue_device).unwrap();
    let stored = |token: &ApiToken, revoked_at| StoredToken {
        id,
        token: token.clone(),
        revoked_at,
    };
    assert_eq!(
        store.api_token(&key).unwrap(),
        Some(stored(&venue_device, None))
    );
    let tracer = ApiToken {
        name: "tracer-wang".into(),
        role: "tracer".into(),
        area: area("320200"),
        venue: None,
        person: Some(PersonId(42)),
        id_lookup: false,
        enterprise: None,
        created_at: ts("2022-07-02T08:00:00Z"),
        expires_at: ts("2022-08-01T08:00:00Z"),
    };
    // The same secret again: replaced in place, same id.
    assert_eq!(store.put_api_token(key, &tracer).unwrap(), id);
    assert_eq!(store.api_token(&key).unwrap(), Some(stored(&tracer, None)));
    assert_eq!(store.api_token(&[8u8; 32]).unwrap(), None);

    // A second token, listed by id; revoked once (the first time is kept), and storing its
    // secret again does not lift the revocation.
    let other = store.put_api_token([9u8; 32], &venue_device).unwrap();
    assert_ne!(other, id);
    let listed: Vec<TokenId> = store.api_tokens().unwrap().iter().map(|t| t.id).collect();
    assert!(
        listed.contains(&id) && listed.contains(&other),
        "{listed:?}"
    );
    let at = ts("2022-07-03T08:00:00Z");
    store.revoke_api_token(other, at).unwrap();
    store
        .revoke_api_token(other, ts("2022-07-04T08:00:00Z"))
        .unwrap();
    store.put_api_token([9u8; 32], &venue_device).unwrap();
    let revoked = store.api_token_by_id(other).unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert_eq!(store.api_token(&[9u8; 32]).unwrap(), Some(revoked));
    assert_eq!(store.api_token(&key).unwrap().unwrap().revoked_at, None);
    assert!(matches!(
        store.revoke_api_token(TokenId(999_999), at),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.api_token_by_id(TokenId(999_999)).unwrap(), None);
}

fn scenario_access_log(store: &dyn Store) {
    let read = |actor: &str, person: u32, purpose: Option<&str>| AccessRecord {
        at: ts("2022-07-01T08:00:00Z"),
        actor: actor.into(),
        route: "GET /api/v1/people/{id}".into(),
        purpose: purpose.map(str::to_owned),
        person: PersonId(person),
    };
    store.insert_access(&[]).unwrap();
    store
        .insert_access(&[
            read("tracer:wang", 1, None),
            read("tracer:li", 1, Some("call")),
        ])
        .unwrap();
    store
        .insert_access(&[read("tracer:wang", 2, None)])
        .unwrap();
    let filter = |actor: Option<&str>, person: Option<u32>, after: u64| AccessFilter {
        after,
        actor: actor.map(str::to_owned),
        person: person.map(PersonId),
        limit: 10,
    };
    let all = store.access_log(&filter(None, None, 0)).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "in id order");
    assert_eq!(all[1].record, read("tracer:li", 1, Some("call")));
    let of_wang: Vec<u32> = store
        .access_log(&filter(Some("tracer:wang"), None, 0))
        .unwrap()
        .iter()
        .map(|a| a.record.person.0)
        .collect();
    assert_eq!(of_wang, [1, 2]);
    let of_one = store.access_log(&filter(None, Some(1), 0)).unwrap();
    assert_eq!(of_one.len(), 2);
    let both = store
        .access_log(&filter(Some("tracer:wang"), Some(2), 0))
        .unwrap();
    assert_eq!(both.len(), 1);
    let after = store.access_log(&filter(None, None, all[1].id)).unwrap();
    assert_eq!(after, all[2..]);
    let one = store
        .access_log(&AccessFilter {
            limit: 1,
            ..filter(None, None, 0)
        })
        .unwrap();
    assert_eq!(one, all[..1]);
}

fn scenario_users_and_sessions(store: &dyn Store) {
    assert_eq!(store.user("wang").unwrap(), None);
    let wang = User {
        name: "wang".into(),
        password_hash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        role: "tracer".into(),
        area: area("320213"),
        venue: None,
        person: None,
        id_lookup: false,
        enterprise: None,
        disabled: false,
        created_at: ts("2022-07-01T08:00:00Z"),
    };
    store.insert_user(&wang).unwrap();
    assert_eq!(store.user("wang").unwrap(), Some(wang.clone()));
    let again = store.insert_user(&wang).unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let li = User {
        name: "li".into(),
        role: "resident".into(),
        area: area("320213001"),
        person: Some(PersonId(9)),
        venue: Some(VenueId(3)),
        id_lookup: true,
        enterprise: None,
        ..wang.clone()
    };
    store.insert_user(&li).unwrap();
    let names: Vec<String> = store.users().unwrap().into_iter().map(|u| u.name).collect();
    assert_eq!(names, ["li", "wang"]);
    assert_eq!(store.user("li").unwrap(), Some(li));

    store.set_password_hash("wang", "$argon2id$new").unwrap();
    assert_eq!(
        store.user("wang").unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert!(matches!(
        store.set_password_hash("nobody", "x"),
        Err(StoreError::NotFound)
    ));

    let now = ts("2022-07-01T09:00:00Z");
    let s = Session {
        user: "wang".into(),
        created_at: now,
        expires_at: now.plus(3600),
    };
    store.insert_session([1; 32], &s).unwrap();
    store
        .insert_session(
            [2; 32],
            &Session {
                expires_at: now.plus(10),
                ..s.clone()
            },
        )
        .unwrap();
    assert_eq!(store.session(&[1; 32], now).unwrap(), Some(s.clone()));
    assert_eq!(store.session(&[3; 32], now).unwrap(), None);
    // An expired session is not returned, and is deleted by the sweep.
    assert_eq!(store.session(&[2; 32], now.plus(10)).unwrap(), None);
    assert_eq!(store.delete_expired_sessions(now.plus(10)).unwrap(), 1);
    store.delete_session(&[1; 32]).unwrap();
    assert_eq!(store.session(&[1; 32], now).unwrap(), None);
    store.delete_session(&[1; 32]).unwrap();

    // Disabling a user ends their sessions.
    store.insert_session([4; 32], &s).unwrap();
    store.set_user_disabled("wang", true).unwrap();
    assert!(store.user("wang").unwrap().unwrap().disabled);
    assert_eq!(store.session(&[4; 32], now).unwrap(), None);
    assert!(matches!(
        store.set_user_disabled("nobody", true),
        Err(StoreError::NotFound)
    ));
    // A session for an unknown user is refused by the foreign key.
    let orphan = Session {
        user: "nobody".into(),
        ..s
    };
    assert!(store.insert_session([5; 32], &orphan).is_err());
}

fn scenario_signing_keys(store: &dyn Store) {
    assert!(store.signing_keys().unwrap().is_empty());
    let later = StoredKey {
        secret: [2; 32],
        jurisdiction: "320200".into(),
        not_before: Timestamp(2_000),
        not_after: Timestamp(3_000),
    };
    let earlier = StoredKey {
        secret: [1; 32],
        jurisdiction: "320200".into(),
        not_before: Timestamp(1_000),
        not_after: Timestamp(2_500),
    };
    store.put_signing_key(*b"kid-0002", &later).unwrap();
    store.put_signing_key(*b"kid-0001", &earlier).unwrap();
    assert_eq!(
        store.signing_keys().unwrap(),
        vec![
            (*b"kid-0001", earlier.clone()),
            (*b"kid-0002", later.clone())
        ]
    );
    let retired = StoredKey {
        not_after: Timestamp(1_500),
        ..earlier
    };
    store.put_signing_key(*b"kid-0001", &retired).unwrap();
    assert_eq!(
        store.signing_keys().unwrap(),
        vec![(*b"kid-0001", retired), (*b"kid-0002", later)]
    );
}

fn scenario_a_lease_has_one_holder_until_it_expires(store: &dyn Store) {
    let t0 = ts("2026-12-07T10:00:00+08:00");
    assert!(store.take_lease("sweep", "a", t0, 10).unwrap());
    assert!(!store.take_lease("sweep", "b", t0.plus(5), 10).unwrap());
    assert_eq!(
        store.lease_holder("sweep", t0.plus(5)).unwrap().as_deref(),
        Some("a")
    );
    // The holder renews; another lease name is independent.
    assert!(store.take_lease("sweep", "a", t0.plus(9), 10).unwrap());
    assert!(store.take_lease("other", "b", t0.plus(9), 10).unwrap());
    assert!(!store.take_lease("sweep", "b", t0.plus(18), 10).unwrap());
    // The holder stops renewing (it died): at expiry the other takes it, and the old
    // holder cannot take it back.
    assert_eq!(store.lease_holder("sweep", t0.plus(19)).unwrap(), None);
    assert!(store.take_lease("sweep", "b", t0.plus(19), 10).unwrap());
    assert!(!store.take_lease("sweep", "a", t0.plus(20), 10).unwrap());
    // Releasing someone else's lease does nothing; releasing one's own frees it at once.
    store.release_lease("sweep", "a").unwrap();
    assert_eq!(
        store.lease_holder("sweep", t0.plus(20)).unwrap().as_deref(),
        Some("b")
    );
    store.release_lease("sweep", "b").unwrap();
    assert!(store.take_lease("sweep", "a", t0.plus(21), 10).unwrap());
}

fn scenario_settings(store: &dyn Store) {
    assert_eq!(store.setting("id_hash_key").unwrap(), None);
    store.put_setting("id_hash_key", &[0, 1, 2, 255]).unwrap();
    assert_eq!(
        store.setting("id_hash_key").unwrap(),
        Some(vec![0, 1, 2, 255])
    );
    store.put_setting("id_hash_key", b"replaced").unwrap();
    assert_eq!(
        store.setting("id_hash_key").unwrap(),
        Some(b"replaced".to_vec())
    );
    assert_eq!(store.setting("other").unwrap(), None);
}

fn scenario_migrations_are_idempotent(target: &Target) {
    {
        let store = open(target).unwrap();
        store.put_setting("k", b"v").unwrap();
    }
    let store = open(target).unwrap();
    let again = open(target).unwrap();
    assert_eq!(again.setting("k").unwrap(), Some(b"v".to_vec()));
    // Each migration is recorded exactly once: recording one again is a conflict, and there
    // is nothing beyond the newest.
    for version in [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 25] {
        let err = store
            .execute_raw_for_tests(&format!(
                "insert into schema_migrations (version, name, applied_at) values ({version}, 'again', 0)"
            ))
            .unwrap_err();
        assert_eq!(err.code(), "conflict");
    }
    assert_eq!(
        store
            .execute_raw_for_tests("delete from schema_migrations where version > 25")
            .unwrap(),
        0
    );
}

fn scenario_a_newer_database_is_refused(target: &Target) {
    {
        let store = open(target).unwrap();
        store
            .execute_raw_for_tests("insert into schema_migrations (version, name, applied_at) values (999, 'future', 0)")
            .unwrap();
    }
    let err = open(target).unwrap_err();
    assert_eq!(err.code(), "store_migration", "{err}");
}

fn scenario_acknowledged_writes_survive_a_reopen(target: &Target) {
    let p = person(1, "320213001001");
    let scans = [scan(1, 10, "2022-07-01T01:00:00Z", ScanDirection::Entry)];
    let head = {
        let store = open(target).unwrap();
        store.insert_people(&[(p.clone(), id_hash(&p))]).unwrap();
        store.insert_checkins(&scans).unwrap();
        store.put_setting("k", b"v").unwrap();
        let stored = store
            .append_events(&[test_event(1, "2022-07-01T02:00:00Z", TestOutcome::Negative)])
            .unwrap();
        stored[0].hash
        // Dropped here without any close or checkpoint call.
    };
    let store = open(target).unwrap();
    assert_eq!(store.person(PersonId(1)).unwrap(), Some(p));
    assert_eq!(
        store
            .checkins_of_person(
                PersonId(1),
                ts("2022-07-01T00:00:00Z"),
                ts("2022-07-02T00:00:00Z")
            )
            .unwrap(),
        scans.to_vec()
    );
    assert_eq!(store.setting("k").unwrap(), Some(b"v".to_vec()));
    let report = store.verify_chain().unwrap();
    assert_eq!(
        (report.verified, report.head, report.first_error),
        (1, head, None)
    );
    // Appending after the reopen continues the chain from the stored head.
    let next = store.append_events(&[zone_event(2)]).unwrap();
    assert_eq!((next[0].seq, next[0].prev_hash), (EventSeq(2), head));
    // And the day partition known before the reopen takes more scans.
    store
        .insert_checkins(&[scan(2, 10, "2022-07-01T03:00:00Z", ScanDirection::Entry)])
        .unwrap();
    assert_eq!(
        store.checkin_days().unwrap(),
        vec![(CivilDay::parse("2022-07-01").unwrap(), 2)]
    );
}

fn ping(person: u32, at: &str, lat_e6: i32, lon_e6: i32) -> LocationPing {
    LocationPing {
        person: PersonId(person),
        at: ts(at),
        position: Position::new(lat_e6, lon_e6).unwrap(),
    }
}

fn scenario_pings_are_partitioned_by_shanghai_day(store: &dyn Store) {
    assert!(store.ping_days().unwrap().is_empty());
    // 2022-07-01 ends at 16:00 UTC in Shanghai.
    let day1 = [
        ping(1, "2022-07-01T01:00:00Z", 31_500_000, 120_300_000),
        ping(2, "2022-07-01T01:30:00Z", -33_868_800, 151_209_300),
        ping(1, "2022-07-01T15:59:59Z", 31_500_100, 120_300_100),
    ];
    let day2 = [
        ping(1, "2022-07-01T16:00:00Z", 90_000_000, -180_000_000),
        ping(3, "2022-07-02T03:00:00Z", 31_600_000, 120_400_000),
    ];
    let mut all: Vec<LocationPing> = day1.iter().chain(&day2).copied().collect();
    all.reverse(); // any order in a batch
    store.insert_pings(&all).unwrap();
    // A re-sent batch is stored again but read once.
    store.insert_pings(&day1[..1]).unwrap();
    let (d1, d2) = (
        CivilDay::parse("2022-07-01").unwrap(),
        CivilDay::parse("2022-07-02").unwrap(),
    );
    assert_eq!(store.ping_days().unwrap(), vec![(d1, 4), (d2, 2)]);
    let of_1 = store
        .pings_of_person(
            PersonId(1),
            ts("2022-07-01T00:00:00Z"),
            ts("2022-07-03T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(
        of_1,
        vec![day1[0], day1[2], day2[0]],
        "exact positions, once"
    );
    // The range is inclusive at both ends and reads only the days it covers.
    let edge = store
        .pings_of_person(PersonId(1), day1[2].at, day2[0].at)
        .unwrap();
    assert_eq!(edge, vec![day1[2], day2[0]]);
    assert!(
        store
            .pings_of_person(PersonId(1), day2[0].at, day1[2].at)
            .unwrap()
            .is_empty()
    );
    // Pings and check-ins are separate: no check-in day appeared.
    assert!(store.checkin_days().unwrap().is_empty());
    // Streaming yields every stored row, oldest day first.
    let mut streamed = Vec::new();
    store
        .for_each_ping(&mut |chunk| streamed.extend_from_slice(chunk))
        .unwrap();
    assert_eq!(streamed.len(), 6);
    assert!(
        streamed
            .windows(2)
            .all(|w| { w[0].at.shanghai_day() <= w[1].at.shanghai_day() })
    );
    let mut distinct = streamed.clone();
    distinct.sort_by_key(|p| (p.at, p.person));
    distinct.dedup();
    assert_eq!(distinct.len(), 5);

    // Retention drops whole days, and a dropped table is gone.
    assert_eq!(store.drop_ping_days_before(d2).unwrap(), vec![d1]);
    assert_eq!(store.ping_days().unwrap(), vec![(d2, 2)]);
    assert!(
        store
            .execute_raw_for_tests(
                "insert into pings_20220701 (person, at, lat, lon) values (1, 1, 1, 1)"
            )
            .is_err()
    );
    assert_eq!(
        store
            .pings_of_person(
                PersonId(1),
                ts("2022-07-01T00:00:00Z"),
                ts("2022-07-03T00:00:00Z")
            )
            .unwrap(),
        vec![day2[0]]
    );
    assert!(store.drop_ping_days_before(d2).unwrap().is_empty());
    // A dropped day can be written again (a late feed) and starts from scratch.
    store.insert_pings(&day1[1..2]).unwrap();
    assert_eq!(store.ping_days().unwrap(), vec![(d1, 1), (d2, 2)]);
}

fn scenario_a_corrupt_stored_position_is_an_error_not_a_panic(store: &dyn Store) {
    store
        .insert_pings(&[ping(1, "2022-07-01T01:00:00Z", 1, 1)])
        .unwrap();
    tamper(store, "update pings_20220701 set lat = 95000000");
    let read = store.pings_of_person(
        PersonId(1),
        ts("2022-07-01T00:00:00Z"),
        ts("2022-07-02T00:00:00Z"),
    );
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
    assert!(matches!(
        store.for_each_ping(&mut |_| {}),
        Err(StoreError::Corrupt(_))
    ));
}

fn scenario_pings_survive_a_reopen(target: &Target) {
    let first = ping(1, "2022-07-01T01:00:00Z", 31_500_000, 120_300_000);
    {
        let store = open(target).unwrap();
        store.insert_pings(&[first]).unwrap();
    }
    let store = open(target).unwrap();
    // The day known before the reopen takes more pings.
    let second = ping(1, "2022-07-01T02:00:00Z", 31_500_000, 120_300_000);
    store.insert_pings(&[second]).unwrap();
    assert_eq!(
        store
            .pings_of_person(
                PersonId(1),
                ts("2022-07-01T00:00:00Z"),
                ts("2022-07-02T00:00:00Z")
            )
            .unwrap(),
        vec![first, second]
    );
    assert_eq!(
        store.ping_days().unwrap(),
        vec![(CivilDay::parse("2022-07-01").unwrap(), 2)]
    );
}

// ---------------------------------------------------------------------------------------
// Tests: each scenario on both backends.

#[test]
fn pings_are_stored_per_day_queried_deduplicated_and_dropped_by_whole_days() {
    on_both(scenario_pings_are_partitioned_by_shanghai_day);
}

#[test]
fn a_corrupt_stored_position_is_reported_as_corruption() {
    on_both(scenario_a_corrupt_stored_position_is_an_error_not_a_panic);
}

#[test]
fn acknowledged_pings_survive_dropping_the_store_and_reopening() {
    on_both_targets(&scenario_pings_survive_a_reopen);
}

#[test]
fn a_lease_has_one_holder_until_it_expires() {
    on_both(scenario_a_lease_has_one_holder_until_it_expires);
}

#[test]
fn people_round_trip_and_are_found_by_id_hash_and_listed_by_area_in_pages() {
    on_both(scenario_people);
}

#[test]
fn venues_and_workplaces_round_trip() {
    on_both(scenario_venues_and_workplaces);
}

#[test]
fn appended_events_chain_and_verify() {
    on_both(scenario_events_chain_and_verify);
}

#[test]
fn tampering_with_a_stored_event_is_caught_at_that_event() {
    on_both(scenario_tampering_is_caught_at_the_altered_event);
}

#[test]
fn a_rewritten_hash_is_caught_at_the_next_link() {
    on_both(scenario_a_rewritten_chain_is_caught_at_the_first_rewritten_link);
}

#[test]
fn a_deleted_event_is_reported_as_a_gap() {
    on_both(scenario_a_deleted_event_is_a_gap);
}

#[test]
fn concurrent_appends_keep_one_valid_chain() {
    on_both(scenario_concurrent_appends_keep_one_valid_chain);
}

#[test]
fn checkins_are_stored_per_day_queried_deduplicated_and_dropped_by_whole_days() {
    on_both(scenario_checkins_are_partitioned_by_shanghai_day);
}

#[test]
fn small_and_large_checkin_batches_are_read_once_per_scan() {
    on_both(scenario_small_and_large_batches_agree);
}

#[test]
fn acknowledged_checkins_are_readable_at_once() {
    on_both(scenario_acknowledged_checkins_are_readable_at_once);
}

#[test]
fn api_tokens_are_stored_replaced_listed_and_revoked() {
    on_both(scenario_api_tokens);
}

#[test]
fn reads_of_personal_data_are_recorded_and_found_by_actor_or_person() {
    on_both(scenario_access_log);
}

/// A SQLite database at schema v8 (before expiries) with a token in it: the upgrade keeps
/// the token, gives it an id and an expiry thirty days after the upgrade (one day for an
/// admin's), and no revocation.
#[test]
fn tokens_issued_before_expiries_survive_the_upgrade_and_get_an_expiry() {
    const V8: [&str; 8] = [
        include_str!("../migrations/sqlite/0001_init.sql"),
        include_str!("../migrations/sqlite/0002_lab.sql"),
        include_str!("../migrations/sqlite/0003_duties.sql"),
        include_str!("../migrations/sqlite/0004_workplace_venue.sql"),
        include_str!("../migrations/sqlite/0005_users.sql"),
        include_str!("../migrations/sqlite/0006_ping_days.sql"),
        include_str!("../migrations/sqlite/0007_area_names.sql"),
        include_str!("../migrations/sqlite/0008_lab_write_path.sql"),
    ];
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join("xikang.db")).unwrap();
        conn.execute_batch(
            "create table schema_migrations (
                version integer primary key, name text not null, applied_at integer not null)",
        )
        .unwrap();
        for (v, sql) in V8.iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.execute(
                "insert into schema_migrations (version, name, applied_at) values (?1, 'v8', 0)",
                [v + 1],
            )
            .unwrap();
        }
        for (key, role) in [(5u8, "venue_device"), (6u8, "admin")] {
            conn.execute(
                "insert into api_tokens (token_sha256, name, role, area, venue, id_lookup)
                 values (?1, 'old', ?2, '320213', 7, 0)",
                rusqlite::params![&[key; 32][..], role],
            )
            .unwrap();
        }
    }
    let store = open(&Target::Sqlite(dir.path().to_path_buf())).unwrap();
    let device = store.api_token(&[5u8; 32]).unwrap().unwrap();
    assert_eq!(
        (
            device.token.role.as_str(),
            device.token.venue,
            device.revoked_at
        ),
        ("venue_device", Some(VenueId(7)), None)
    );
    assert_eq!(
        device.token.expires_at.0 - device.token.created_at.0,
        30 * 86_400
    );
    let admin = store.api_token(&[6u8; 32]).unwrap().unwrap();
    assert_eq!(admin.token.expires_at.0 - admin.token.created_at.0, 86_400);
    assert_ne!(admin.id, device.id);
    assert_eq!(store.api_token_by_id(device.id).unwrap(), Some(device));
}

#[test]
fn users_and_sessions_are_stored_expired_and_ended_with_the_user() {
    on_both(scenario_users_and_sessions);
}

#[test]
fn signing_keys_are_stored_replaced_and_listed_in_order() {
    on_both(scenario_signing_keys);
}

#[test]
fn settings_are_stored_and_replaced() {
    on_both(scenario_settings);
}

#[test]
fn opening_twice_applies_migrations_once() {
    on_both_targets(&scenario_migrations_are_idempotent);
}

#[test]
fn a_database_migrated_by_a_newer_build_is_refused() {
    on_both_targets(&scenario_a_newer_database_is_refused);
}

#[test]
fn acknowledged_writes_survive_dropping_the_store_and_reopening() {
    on_both_targets(&scenario_acknowledged_writes_survive_a_reopen);
}

// ---------------------------------------------------------------------------------------
// Testing and vaccination (LabStore)

mod lab {
    use super::*;
    use xikang_domain::testing::{
        Batch, BatchId, Dose, LabOutcome, LabTask, PoolSizes, Round, RoundId, Sample, SamplingSite,
        SiteId, TaskKind, Tube, TubeBarcode, TubeId, TubeState,
    };
    use xikang_store::LabWrite;

    fn tube(id: u32, barcode: &str) -> Tube {
        Tube::opened(
            TubeId(id),
            TubeBarcode::parse(barcode).unwrap(),
            SiteId(1),
            Some(RoundId(1)),
            10,
            ts("2022-07-01T01:00:00Z"),
        )
    }

    fn sample(tube: u32, person: u32) -> Sample {
        Sample {
            tube: TubeId(tube),
            person: PersonId(person),
            round: Some(RoundId(1)),
            sampled_at: ts("2022-07-01T01:05:00Z"),
        }
    }

    fn all_tubes(store: &dyn Store) -> Vec<Tube> {
        let mut out = Vec::new();
        store.for_each_tube(&mut |t| out.push(t)).unwrap();
        out
    }

    /// Every sample, by tube then person (the store promises no order).
    fn all_samples(store: &dyn Store) -> Vec<Sample> {
        let mut out = Vec::new();
        store
            .for_each_sample(&mut |c| out.extend_from_slice(c))
            .unwrap();
        out.sort_by_key(|s| (s.tube, s.person));
        out
    }

    pub(super) fn scenario_lab(store: &dyn Store) {
        let site = SamplingSite {
            id: SiteId(1),
            name: "广场采样点".into(),
            area: area("320213001001"),
            cell: GridCell(1001),
        };
        let round = Round {
            id: RoundId(1),
            name: "第一轮".into(),
            area: area("320213"),
            cells: vec![GridCell(1001), GridCell(1002)],
            starts_at: ts("2022-07-01T00:00:00Z"),
            deadline: ts("2022-07-02T00:00:00Z"),
            pools: PoolSizes {
                sealed: 1,
                controlled: 10,
                other: 20,
            },
            closed_at: None,
        };
        let mut first = LabWrite {
            sites: vec![site.clone()],
            rounds: vec![round.clone()],
            tubes: vec![tube(1, "WX-0001"), tube(2, "WX-0002")],
            samples: vec![sample(1, 1), sample(1, 2), sample(2, 3)],
            ..LabWrite::default()
        };
        assert!(store.write_lab(&first).unwrap().is_empty());
        assert_eq!(store.sampling_sites().unwrap(), vec![site]);
        assert_eq!(store.rounds().unwrap(), vec![round.clone()]);
        assert_eq!(
            all_tubes(store),
            vec![tube(1, "WX-0001"), tube(2, "WX-0002")]
        );
        assert_eq!(
            all_samples(store),
            vec![sample(1, 1), sample(1, 2), sample(2, 3)]
        );
        // A person's samples are looked up in the tubes the lab's index names.
        let both = [TubeId(1), TubeId(2)];
        assert_eq!(
            store.samples_in_tubes(PersonId(2), &both).unwrap(),
            vec![sample(1, 2)]
        );
        assert_eq!(store.samples_in_tubes(PersonId(2), &both[1..]).unwrap(), []);
        assert_eq!(store.samples_in_tubes(PersonId(7), &both).unwrap(), []);

        // A write the store refuses applies none of its rows: not the tube's move, not the
        // samples. (That a person is sampled once per round is the lab's check before it
        // writes; PostgreSQL keeps no per-person key since migration 0019.)
        let mut sealed = tube(1, "WX-0001");
        sealed.state = TubeState::Sealed;
        sealed.sealed_at = Some(ts("2022-07-01T01:30:00Z"));
        let mut never_opened = tube(9, "WX-0009");
        never_opened.state = TubeState::Sealed;
        first = LabWrite {
            tubes: vec![sealed.clone(), never_opened],
            samples: vec![sample(2, 4)],
            ..LabWrite::default()
        };
        assert!(matches!(
            store.write_lab(&first),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(all_tubes(store)[0].state, TubeState::Open);
        assert_eq!(all_samples(store).len(), 3);

        // A reused barcode on a new tube is a conflict.
        let reuse = LabWrite {
            tubes: vec![tube(3, "WX-0001")],
            ..LabWrite::default()
        };
        assert!(matches!(
            store.write_lab(&reuse),
            Err(StoreError::Conflict(ConflictKind::Duplicate { .. }))
        ));
        // So is a tube opened again under its id, and a tube moving on that was never
        // opened; the write's other rows are not applied either.
        let mut reopened = tube(2, "WX-0003");
        reopened.capacity = 1;
        let mut ghost = tube(9, "WX-0009");
        ghost.state = TubeState::Sealed;
        for (bad, never_opened) in [
            (vec![reopened], false),
            (vec![tube(4, "WX-0004"), ghost], true),
        ] {
            let w = LabWrite {
                tubes: bad,
                ..LabWrite::default()
            };
            match store.write_lab(&w) {
                Err(StoreError::Conflict(ConflictKind::TubeNeverOpened)) => assert!(never_opened),
                Err(StoreError::Conflict(ConflictKind::Duplicate { .. })) => {
                    assert!(!never_opened);
                }
                other => panic!("expected a conflict, got {other:?}"),
            }
        }
        assert_eq!(
            all_tubes(store),
            vec![tube(1, "WX-0001"), tube(2, "WX-0002")]
        );

        // Results: tube states, tasks and authority events in one write, chained on the log.
        store.append_events(&[zone_event(1)]).unwrap();
        let mut resulted = sealed;
        resulted.state = TubeState::Resulted;
        resulted.batch = Some(BatchId(1));
        resulted.shipped_at = Some(ts("2022-07-01T02:00:00Z"));
        resulted.received_at = Some(ts("2022-07-01T03:00:00Z"));
        resulted.resulted_at = Some(ts("2022-07-01T06:00:00Z"));
        resulted.outcome = Some(LabOutcome::Positive);
        resulted.ct = Some(31.5);
        resulted.lab = Some("lab:kingmed".into());
        let task = LabTask {
            id: 1,
            person: PersonId(1),
            kind: TaskKind::SingleTubeRetest,
            tube: Some(TubeId(1)),
            created_at: ts("2022-07-01T06:00:00Z"),
            done_at: None,
        };
        let batch = Batch {
            id: BatchId(1),
            courier: "顺丰-01".into(),
            lab: "kingmed".into(),
            handed_at: ts("2022-07-01T02:00:00Z"),
            received_at: Some(ts("2022-07-01T03:00:00Z")),
            tubes: 1,
        };
        let hold = NewEvent {
            at: ts("2022-07-01T06:00:00Z"),
            actor: "lab:kingmed".into(),
            basis: "lab report".into(),
            body: EventBody::PoolPositive {
                person: PersonId(1),
                sampled_at: ts("2022-07-01T01:05:00Z"),
                tube: "WX-0001".into(),
            },
        };
        let negative = NewEvent {
            at: ts("2022-07-01T06:00:00Z"),
            actor: "lab:kingmed".into(),
            basis: "lab report".into(),
            body: EventBody::TubeNegative {
                tube: "WX-0002".into(),
                members: vec![PersonId(3)],
                sampled_at: ts("2022-07-01T01:05:00Z"),
                resulted_at: ts("2022-07-01T06:00:00Z"),
            },
        };
        let stored = store
            .write_lab(&LabWrite {
                tubes: vec![resulted.clone()],
                batches: vec![batch.clone()],
                tasks: vec![task.clone()],
                events: vec![hold, negative.clone()],
                ..LabWrite::default()
            })
            .unwrap();
        assert_eq!(
            stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [EventSeq(2), EventSeq(3)]
        );
        assert_eq!(stored[1].body, negative.body);
        assert!(store.verify_chain().unwrap().is_ok());
        assert_eq!(store.events_of_person(PersonId(1)).unwrap().len(), 1);
        assert_eq!(all_tubes(store)[0], resulted);
        assert_eq!(store.batches().unwrap(), vec![batch]);
        assert_eq!(store.tasks(false).unwrap(), vec![task.clone()]);
        let mut done = task;
        done.done_at = Some(ts("2022-07-02T01:00:00Z"));
        store
            .write_lab(&LabWrite {
                tasks: vec![done.clone()],
                ..LabWrite::default()
            })
            .unwrap();
        assert!(store.tasks(false).unwrap().is_empty());
        assert_eq!(store.tasks(true).unwrap(), vec![done]);

        // Doses: a dose recorded twice fails the write.
        let dose = |person, n| Dose {
            person: PersonId(person),
            dose: n,
            vaccine: "Sinovac CoronaVac".into(),
            given_on: CivilDay::parse("2021-06-01").unwrap(),
            site: "梁溪区接种点".into(),
        };
        store
            .write_lab(&LabWrite {
                doses: vec![dose(1, 1), dose(1, 2)],
                ..LabWrite::default()
            })
            .unwrap();
        let again = LabWrite {
            doses: vec![dose(2, 1), dose(1, 2)],
            ..LabWrite::default()
        };
        assert!(matches!(
            store.write_lab(&again),
            Err(StoreError::Conflict(_))
        ));
        let mut doses = Vec::new();
        store.for_each_dose(&mut |d| doses.push(d)).unwrap();
        assert_eq!(doses, vec![dose(1, 1), dose(1, 2)]);
    }

    pub(super) fn scenario_many_samples(store: &dyn Store) {
        let tubes: Vec<Tube> = (1..=15).map(|i| tube(i, &format!("WX-M-{i:03}"))).collect();
        let samples: Vec<Sample> = (0..150).map(|p| sample(1 + p / 10, p)).collect();
        store
            .write_lab(&LabWrite {
                tubes,
                samples: samples.clone(),
                ..LabWrite::default()
            })
            .unwrap();
        assert_eq!(all_samples(store), samples);
        // Person 149's swab is in tube 15; it is found there and nowhere else.
        assert_eq!(
            store
                .samples_in_tubes(PersonId(149), &[TubeId(14), TubeId(15)])
                .unwrap(),
            vec![samples[149]]
        );
        assert_eq!(
            store
                .samples_in_tubes(PersonId(149), &[TubeId(14)])
                .unwrap(),
            []
        );
        // Two tubes filled in turns, one swab outside the round, in a later write: each
        // swab is kept with its own tube, round and time.
        let later = ts("2022-07-01T02:00:00Z");
        let more: Vec<Sample> = (0..6)
            .map(|i| Sample {
                tube: TubeId(16 + i % 2),
                person: PersonId(200 + i),
                round: (i != 3).then_some(RoundId(1)),
                sampled_at: later,
            })
            .collect();
        store
            .write_lab(&LabWrite {
                tubes: vec![tube(16, "WX-M-016"), tube(17, "WX-M-017")],
                samples: more.clone(),
                ..LabWrite::default()
            })
            .unwrap();
        let mut expected = samples;
        expected.extend(more.iter().copied());
        expected.sort_by_key(|s| (s.tube, s.person));
        assert_eq!(all_samples(store), expected);
        assert_eq!(
            store
                .samples_in_tubes(PersonId(203), &[TubeId(16), TubeId(17)])
                .unwrap(),
            vec![more[3]]
        );
    }

    pub(super) fn scenario_births(store: &dyn Store) {
        let rows: Vec<_> = people()
            .into_iter()
            .map(|p| {
                let h = id_hash(&p);
                (p, h)
            })
            .collect();
        store.insert_people(&rows).unwrap();
        let mut births = Vec::new();
        store.for_each_birth(&mut |b| births.push(b)).unwrap();
        assert_eq!(births.len(), rows.len());
        let p3 = &rows[2].0;
        assert_eq!(births[2].id, p3.id);
        assert_eq!(births[2].home_cell, p3.home_cell);
        assert_eq!(births[2].area, p3.area);
        assert_eq!(births[2].born, (1983, 4, 4));
    }
}

#[test]
fn lab_writes_are_atomic_with_their_events_and_refuse_duplicates() {
    on_both(lab::scenario_lab);
}

#[test]
fn a_large_lab_write_stores_every_sample_once() {
    on_both(lab::scenario_many_samples);
}

/// PostgreSQL kept one row per swab before migration 0019: the upgrade keeps every swab with
/// its tube, round and time, a tube's people in binding order, and finds them by tube.
#[test]
fn samples_stored_one_row_per_swab_survive_the_upgrade_to_one_row_per_tube() {
    use xikang_domain::testing::{RoundId, Sample, TubeId};
    let url = match postgres_url() {
        Ok(url) => url,
        Err(reason) => {
            assert_ne!(
                std::env::var("XIKANG_REQUIRE_POSTGRES").as_deref(),
                Ok("1"),
                "PostgreSQL is required but unreachable: {reason}"
            );
            return;
        }
    };
    let schema = FreshSchema::new(url);
    let target = schema.target();
    drop(open(&target).unwrap());
    // Back to the samples as version 18 left them, with rows in it.
    connect(url)
        .unwrap()
        .batch_execute(&format!(
            "set search_path = {};
             drop table lab_sample_groups;
             create table lab_samples (tube bigint not null, person bigint not null,
                 round bigint, sampled_at bigint not null);
             create unique index lab_samples_person_round on lab_samples (person, round);
             insert into lab_samples values
                 (1, 5, 1, 100), (2, 9, 1, 100), (1, 3, 1, 100), (1, 7, null, 200);
             delete from schema_migrations where version = 19;",
            schema.schema
        ))
        .unwrap();
    let store = open(&target).unwrap();
    let s = |tube, person, round: Option<u32>, at| Sample {
        tube: TubeId(tube),
        person: PersonId(person),
        round: round.map(RoundId),
        sampled_at: Timestamp(at),
    };
    let mut all = Vec::new();
    store
        .for_each_sample(&mut |c| all.extend_from_slice(c))
        .unwrap();
    assert_eq!(
        all,
        [
            s(1, 5, Some(1), 100),
            s(1, 3, Some(1), 100),
            s(2, 9, Some(1), 100),
            s(1, 7, None, 200)
        ]
    );
    assert_eq!(
        store
            .samples_in_tubes(PersonId(7), &[TubeId(1), TubeId(2)])
            .unwrap(),
        [s(1, 7, None, 200)]
    );
}

#[test]
fn birth_dates_and_homes_stream_from_the_people_table() {
    on_both(lab::scenario_births);
}

fn scenario_policy_versions(store: &dyn Store) {
    use xikang_store::StoredPolicy;
    let v = |version: &str, at: i64| {
        StoredPolicy::uploaded(
            version,
            &format!("sha-{version}"),
            format!("version = \"{version}\"\n# 第九版\n"),
            "admin:wang".into(),
            Timestamp(at),
        )
    };
    assert!(store.policies().unwrap().is_empty());
    store.insert_policy(&v("b", 20)).unwrap();
    store.insert_policy(&v("a", 10)).unwrap();
    let err = store.insert_policy(&v("a", 30)).unwrap_err();
    assert_eq!(err.code(), "conflict", "{err}");
    let mut a = v("a", 10);
    a.proposed_by = Some("admin:wang".into());
    a.proposed_at = Some(Timestamp(11));
    a.effective_from = Some(Timestamp(12));
    a.approved_by = Some("admin:li".into());
    a.approved_at = Some(Timestamp(13));
    a.active_since = Some(Timestamp(14));
    let mut b = v("b", 20);
    b.active_until = Some(Timestamp(14));
    store.update_policies(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(store.policies().unwrap(), vec![a, b]);
    // An update of an unknown version changes nothing.
    assert!(store.update_policies(&[v("a", 10), v("zz", 1)]).is_err());
    assert_eq!(
        store.policies().unwrap()[0].approved_by.as_deref(),
        Some("admin:li")
    );
}

#[test]
fn policy_versions_are_kept_whole_with_their_activation() {
    on_both(scenario_policy_versions);
}

fn scenario_claims(store: &dyn Store) {
    use xikang_store::{ClaimState, StoredClaim};
    let claim = |person: Option<u32>, id: u8, phone: u8, at: &str| StoredClaim {
        id: 0,
        person: person.map(PersonId),
        id_hash: [id; 16],
        phone_hash: [phone; 16],
        code_hash: [7; 16],
        secret_hash: [9; 16],
        created_at: ts(at),
        expires_at: ts(at).plus(300),
        attempts: 0,
        state: ClaimState::Open,
    };
    let a = store
        .insert_claim(&claim(Some(3), 1, 2, "2022-07-01T01:00:00Z"))
        .unwrap();
    let b = store
        .insert_claim(&claim(None, 4, 2, "2022-07-01T02:00:00Z"))
        .unwrap();
    assert_ne!(a, b);
    let got = store.claim(a).unwrap().unwrap();
    assert_eq!(
        got,
        StoredClaim {
            id: a,
            ..claim(Some(3), 1, 2, "2022-07-01T01:00:00Z")
        }
    );
    assert_eq!(store.claim(b).unwrap().unwrap().person, None);
    assert_eq!(store.claim(b + 100).unwrap(), None);
    // Counted by ID-number hash or phone hash, from a time on.
    let since = ts("2022-07-01T00:30:00Z");
    assert_eq!(store.claims_since(&[1; 16], &[0; 16], since).unwrap(), 1);
    assert_eq!(store.claims_since(&[0; 16], &[2; 16], since).unwrap(), 2);
    assert_eq!(
        store
            .claims_since(&[0; 16], &[2; 16], ts("2022-07-01T01:30:00Z"))
            .unwrap(),
        1
    );
    // Attempts and state change only while the claim is open.
    assert!(store.update_claim(a, 2, ClaimState::Open).unwrap());
    assert!(store.update_claim(a, 2, ClaimState::Done).unwrap());
    assert!(!store.update_claim(a, 3, ClaimState::Dead).unwrap());
    let got = store.claim(a).unwrap().unwrap();
    assert_eq!((got.attempts, got.state), (2, ClaimState::Done));
}

#[test]
fn claims_keep_hashes_attempts_and_a_one_way_state() {
    on_both(scenario_claims);
}
