//! The duty store's conformance suite: the same scenarios on SQLite and PostgreSQL (a fresh
//! schema per test), as in `conformance.rs`. Each write that must be refused is checked to
//! change nothing, including the authority log.

#![expect(
    clippy::unwrap_used,
    reason = "fixtures and scenarios: a failed unwrap is a failed test"
)]

use std::sync::atomic::{AtomicU32, Ordering};
use xikang_domain::duties::{SiteKind, TaskKind};
use xikang_domain::event::{
    EventBody, NewEvent, QuarantineKind, QuarantineReason, RiskLevel, SentinelKind, ZoneLevel,
};
use xikang_domain::{
    AreaCode, ArrivalId, EventSeq, GridCell, HouseholdId, OrderId, PersonId, ProposalId, SiteId,
    TaskId, Timestamp, VenueId, ZoneId,
};
use xikang_store::{
    ArrivalRecord, ConflictKind, DutyOp, GridCellRecord, NewTask, OrderFilter, OrderRecord,
    OrderStatus, OriginRecord, ProposalAction, ProposalRecord, ProposalStatus, ReportRecord,
    SentinelRecord, SiteRecord, Store, StoreError, Target, ZoneRecord, open,
};

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn pg_url() -> Option<String> {
    let url = std::env::var("XIKANG_TEST_DATABASE_URL").unwrap_or_else(|_| PG.to_owned());
    let mut config: postgres::Config = url.parse().ok()?;
    config.connect_timeout(std::time::Duration::from_secs(5));
    match config.connect(postgres::NoTls) {
        Ok(_) => Some(url),
        Err(e) => {
            assert!(
                std::env::var("XIKANG_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PostgreSQL is required but unreachable: {e}"
            );
            eprintln!("PostgreSQL half skipped: {e}");
            None
        }
    }
}

struct Schema(String, String);

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.0, postgres::NoTls) {
            let _ = c.batch_execute(&format!("drop schema if exists {} cascade", self.1));
        }
    }
}

fn on_both(scenario: fn(&dyn Store)) {
    let dir = tempfile::tempdir().unwrap();
    scenario(&*open(&Target::Sqlite(dir.path().to_path_buf())).unwrap());
    if let Some(url) = pg_url() {
        static N: AtomicU32 = AtomicU32::new(0);
        let schema = Schema(
            url.clone(),
            format!(
                "xk_duty_{}_{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
        );
        let store = open(&Target::Postgres(format!("{url}?schema={}", schema.1))).unwrap();
        scenario(&*store);
    }
}

fn area(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

fn site(id: u64, capacity: u32) -> SiteRecord {
    SiteRecord {
        id: SiteId(id),
        name: format!("隔离点{id}"),
        kind: SiteKind::Centralized,
        area: area("320213"),
        lat: 31.5,
        lon: 120.3,
        capacity,
        occupancy: 0,
        manager: Some(format!("manager{id}")),
    }
}

fn order(id: u64, person: u32, site: Option<u64>) -> OrderRecord {
    OrderRecord {
        id: OrderId(id),
        person: PersonId(person),
        regime: "close_contact".into(),
        kind: QuarantineKind::Centralized,
        reason: QuarantineReason::CloseContact,
        site: site.map(SiteId),
        start: Timestamp(1_656_640_800),
        planned_end: Timestamp(1_656_640_800 + 7 * 86_400),
        ended_at: None,
        status: OrderStatus::Active,
        follows: None,
        then_phase: false,
    }
}

fn ordered(o: &OrderRecord) -> NewEvent {
    NewEvent {
        at: o.start,
        actor: "tracer:t1".into(),
        basis: "regime close_contact".into(),
        body: EventBody::QuarantineOrdered {
            order: o.id,
            person: o.person,
            quarantine_kind: o.kind,
            reason: o.reason,
            start: o.start,
            planned_end: o.planned_end,
        },
    }
}

fn head(store: &dyn Store) -> u64 {
    store.verify_chain().unwrap().verified
}

fn conflict(e: StoreError) -> ConflictKind {
    match e {
        StoreError::Conflict(c) => c,
        other => panic!("expected a conflict, got {other}"),
    }
}

fn scenario_admission_respects_capacity(store: &dyn Store) {
    store.put_site(&site(1, 1)).unwrap();
    store.put_site(&site(2, 5)).unwrap();
    let a = order(1, 10, Some(1));
    let stored = store
        .commit_duties(&[DutyOp::InsertOrder(a.clone())], &[ordered(&a)])
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].seq, EventSeq(1));
    let b = order(2, 11, Some(1));
    let err = store
        .commit_duties(&[DutyOp::InsertOrder(b.clone())], &[ordered(&b)])
        .unwrap_err();
    assert_eq!(conflict(err), ConflictKind::SiteFull);
    // Nothing of the refused admission remains: no order, no event, occupancy unchanged.
    assert!(store.order(OrderId(2)).unwrap().is_none());
    assert_eq!(head(store), 1);
    let sites = store.sites().unwrap();
    assert_eq!((sites[0].occupancy, sites[1].occupancy), (1, 0));

    // Transfer to site 2 moves the place; a transfer to a full or the same site is refused.
    store
        .commit_duties(
            &[DutyOp::Transfer {
                order: OrderId(1),
                to: SiteId(2),
            }],
            &[],
        )
        .unwrap();
    let sites = store.sites().unwrap();
    assert_eq!((sites[0].occupancy, sites[1].occupancy), (0, 1));
    let err = store
        .commit_duties(
            &[DutyOp::Transfer {
                order: OrderId(1),
                to: SiteId(2),
            }],
            &[],
        )
        .unwrap_err();
    assert_eq!(conflict(err), ConflictKind::SameSite);
    // Updating a site keeps its occupancy.
    store
        .put_site(&SiteRecord {
            capacity: 9,
            ..site(2, 9)
        })
        .unwrap();
    assert_eq!(store.sites().unwrap()[1].occupancy, 1);

    // Extend, then end: the place is freed, a second end is refused.
    let end = Timestamp(1_656_640_800 + 8 * 86_400);
    store
        .commit_duties(
            &[DutyOp::ExtendOrder {
                order: OrderId(1),
                planned_end: end,
            }],
            &[],
        )
        .unwrap();
    assert_eq!(store.order(OrderId(1)).unwrap().unwrap().planned_end, end);
    let release = DutyOp::EndOrder {
        order: OrderId(1),
        at: end,
        status: OrderStatus::Released,
    };
    store
        .commit_duties(std::slice::from_ref(&release), &[])
        .unwrap();
    assert_eq!(store.sites().unwrap()[1].occupancy, 0);
    assert_eq!(
        conflict(store.commit_duties(&[release], &[]).unwrap_err()),
        ConflictKind::OrderNotActive
    );
    let o = store.order(OrderId(1)).unwrap().unwrap();
    assert_eq!(
        (o.status, o.ended_at, o.site),
        (OrderStatus::Released, Some(end), Some(SiteId(2)))
    );
    // An order at an unknown site is not found.
    let c = order(3, 12, Some(99));
    assert!(matches!(
        store.commit_duties(&[DutyOp::InsertOrder(c)], &[]),
        Err(StoreError::NotFound)
    ));
    let home = order(4, 12, None);
    store
        .commit_duties(&[DutyOp::InsertOrder(home)], &[])
        .unwrap();
    let listed = store
        .orders(&OrderFilter {
            active_only: true,
            ..OrderFilter::default()
        })
        .unwrap();
    assert_eq!(listed.iter().map(|o| o.id.0).collect::<Vec<_>>(), vec![4]);
    let of_person = store
        .orders(&OrderFilter {
            person: Some(PersonId(10)),
            ..OrderFilter::default()
        })
        .unwrap();
    assert_eq!(of_person.len(), 1);
    assert!(store.verify_chain().unwrap().is_ok());
}

fn task(cell: u32, due: i64, dedupe: Option<&str>) -> NewTask {
    NewTask {
        cell: GridCell(cell),
        kind: TaskKind::Delivery,
        person: None,
        household: Some(HouseholdId(cell * 10)),
        detail: format!("deliver to H{}", cell * 10),
        created_at: Timestamp(100),
        due_at: Timestamp(due),
        dedupe: dedupe.map(str::to_owned),
    }
}

fn scenario_tasks_are_listed_completed_and_rolled_up(store: &dyn Store) {
    store
        .put_grid_cells(&[
            GridCellRecord {
                cell: GridCell(1),
                community: area("320213001001"),
                name: "网格1".into(),
                lat: 31.5,
                lon: 120.3,
                worker: Some("gw1".into()),
            },
            GridCellRecord {
                cell: GridCell(2),
                community: area("320213001002"),
                name: "网格2".into(),
                lat: 31.6,
                lon: 120.3,
                worker: Some("gw2".into()),
            },
        ])
        .unwrap();
    assert_eq!(store.cells_of_worker("gw1").unwrap(), vec![GridCell(1)]);
    assert!(store.cells_of_worker("nobody").unwrap().is_empty());
    // Area names: inserted, renamed in place, listed by code.
    store
        .put_area_names(&[
            (area("320213"), "梁溪".into()),
            (area("320211"), "滨湖区".into()),
        ])
        .unwrap();
    store
        .put_area_names(&[(area("320213"), "梁溪区".into())])
        .unwrap();
    assert_eq!(
        store.area_names().unwrap(),
        vec![
            (area("320211"), "滨湖区".to_owned()),
            (area("320213"), "梁溪区".to_owned())
        ]
    );
    // District outlines: a second import replaces the whole map.
    let square = r#"{"type":"Polygon","coordinates":[[[120,31],[121,31],[121,32],[120,31]]]}"#;
    store
        .put_district_outlines(&[
            (area("320213"), square.into()),
            (area("320211"), square.into()),
        ])
        .unwrap();
    store
        .put_district_outlines(&[(area("320211"), square.into())])
        .unwrap();
    assert_eq!(
        store.district_outlines().unwrap(),
        vec![(area("320211"), square.to_owned())]
    );
    let batch = vec![
        task(1, 500, Some("a")),
        task(1, 300, None),
        task(2, 200, None),
        task(1, 400, Some("a")), // same key as the first: skipped
    ];
    store
        .commit_duties(&[DutyOp::InsertTasks(batch)], &[])
        .unwrap();
    assert_eq!(store.count_open_tasks().unwrap(), 3);
    let mine = store.open_tasks_of_cells(&[GridCell(1)], 10).unwrap();
    assert_eq!(
        mine.iter().map(|t| t.due_at.0).collect::<Vec<_>>(),
        vec![300, 500]
    );
    let both = store
        .open_tasks_of_cells(&[GridCell(1), GridCell(2)], 2)
        .unwrap();
    assert_eq!(
        both.iter().map(|t| t.due_at.0).collect::<Vec<_>>(),
        vec![200, 300]
    );
    // The same key again in a later batch is skipped too.
    store
        .commit_duties(&[DutyOp::InsertTasks(vec![task(1, 900, Some("a"))])], &[])
        .unwrap();
    assert_eq!(store.count_open_tasks().unwrap(), 3);

    assert_eq!(
        store.overdue_by_cell(Timestamp(450)).unwrap(),
        vec![(GridCell(1), 1), (GridCell(2), 1)]
    );
    let id = mine[0].id;
    let done = DutyOp::CompleteTask {
        task: id,
        at: Timestamp(350),
        by: "grid_worker:gw1".into(),
        note: "delivered".into(),
    };
    store
        .commit_duties(std::slice::from_ref(&done), &[])
        .unwrap();
    assert_eq!(
        conflict(store.commit_duties(&[done], &[]).unwrap_err()),
        ConflictKind::TaskDone
    );
    let t = store.task(id).unwrap().unwrap();
    assert_eq!(
        (t.done_at, t.note.as_deref()),
        (Some(Timestamp(350)), Some("delivered"))
    );
    assert_eq!(
        store.overdue_by_cell(Timestamp(450)).unwrap(),
        vec![(GridCell(2), 1)]
    );
    let missing = DutyOp::CompleteTask {
        task: TaskId(999),
        at: Timestamp(1),
        by: "x".into(),
        note: String::new(),
    };
    assert!(matches!(
        store.commit_duties(&[missing], &[]),
        Err(StoreError::NotFound)
    ));
}

fn scenario_zones_and_proposals(store: &dyn Store) {
    let z = ZoneRecord {
        id: ZoneId(store.next_duty_id("zone").unwrap()),
        name: "A区".into(),
        level: ZoneLevel::Sealed,
        cells: vec![GridCell(3), GridCell(4)],
        since: Timestamp(1000),
        drawn_by: "admin:a".into(),
        lifted_at: None,
    };
    store
        .commit_duties(&[DutyOp::PutZone(z.clone())], &[])
        .unwrap();
    assert_eq!(store.zones().unwrap(), vec![z.clone()]);
    let p = |id: u64| ProposalRecord {
        id: ProposalId(id),
        zone: z.id,
        action: ProposalAction::Lift,
        to_level: None,
        proposer: "system:zones".into(),
        conditions: "[]".into(),
        proposed_at: Timestamp(2000),
        status: ProposalStatus::Open,
        decided_by: None,
        decided_at: None,
    };
    store
        .commit_duties(&[DutyOp::InsertProposal(p(1))], &[])
        .unwrap();
    assert_eq!(
        conflict(
            store
                .commit_duties(&[DutyOp::InsertProposal(p(2))], &[])
                .unwrap_err()
        ),
        ConflictKind::ProposalOpen
    );
    let decide = DutyOp::DecideProposal {
        proposal: ProposalId(1),
        status: ProposalStatus::Approved,
        by: "admin:b".into(),
        at: Timestamp(3000),
    };
    store
        .commit_duties(
            &[
                decide.clone(),
                DutyOp::LiftZone {
                    zone: z.id,
                    at: Timestamp(3000),
                },
            ],
            &[],
        )
        .unwrap();
    assert_eq!(
        conflict(store.commit_duties(&[decide], &[]).unwrap_err()),
        ConflictKind::ProposalDecided
    );
    let stored = store.proposals(Some(z.id)).unwrap();
    assert_eq!(stored[0].status, ProposalStatus::Approved);
    assert_eq!(stored[0].decided_by.as_deref(), Some("admin:b"));
    assert_eq!(store.zones().unwrap()[0].lifted_at, Some(Timestamp(3000)));
    assert_eq!(
        conflict(
            store
                .commit_duties(
                    &[DutyOp::LiftZone {
                        zone: z.id,
                        at: Timestamp(4000)
                    }],
                    &[]
                )
                .unwrap_err()
        ),
        ConflictKind::ZoneNotActive
    );
    // Ids of a kind are fresh each time.
    let a = store.next_duty_id("order").unwrap();
    let b = store.next_duty_id("order").unwrap();
    assert!(b > a);
}

fn scenario_reports_origins_arrivals_and_sentinels(store: &dyn Store) {
    let at = Timestamp(1_656_640_800); // 2022-07-01 10:00 Shanghai
    let r = ReportRecord {
        person: PersonId(5),
        at,
        temperature_tenths: 366,
        symptoms: vec!["cough".into(), "sore_throat".into()],
        reporter: "resident:p5".into(),
    };
    store
        .commit_duties(&[DutyOp::InsertReport(r.clone())], &[])
        .unwrap();
    assert_eq!(store.reports_of(PersonId(5)).unwrap(), vec![r]);
    assert_eq!(
        store.reporters_on(at.shanghai_day()).unwrap(),
        vec![PersonId(5)]
    );
    assert!(
        store
            .reporters_on(xikang_domain::CivilDay(at.shanghai_day().0 + 1))
            .unwrap()
            .is_empty()
    );

    let o = OriginRecord {
        code: "310101".into(),
        name: "黄浦区".into(),
        risk: RiskLevel::High,
        updated_at: at,
        updated_by: "admin:a".into(),
    };
    store.put_origin(&o).unwrap();
    store
        .put_origin(&OriginRecord {
            risk: RiskLevel::Medium,
            ..o.clone()
        })
        .unwrap();
    assert_eq!(
        store.origin("310101").unwrap().unwrap().risk,
        RiskLevel::Medium
    );
    assert!(store.origin("999999").unwrap().is_none());
    assert_eq!(store.origins().unwrap().len(), 1);

    let a = ArrivalRecord {
        id: ArrivalId(1),
        person: PersonId(5),
        origin: "310101".into(),
        risk: RiskLevel::Medium,
        regime: "medium_risk_arrival".into(),
        planned_at: at,
        arrived_at: None,
        registered_at: at,
    };
    store
        .commit_duties(&[DutyOp::InsertArrival(a.clone())], &[])
        .unwrap();
    let arrive = DutyOp::MarkArrived {
        arrival: ArrivalId(1),
        at,
    };
    store
        .commit_duties(std::slice::from_ref(&arrive), &[])
        .unwrap();
    assert_eq!(
        conflict(store.commit_duties(&[arrive], &[]).unwrap_err()),
        ConflictKind::AlreadyArrived
    );
    assert_eq!(
        store.arrival(ArrivalId(1)).unwrap().unwrap().arrived_at,
        Some(at)
    );
    // Arrivals whose test schedules may still run: arrived at or after a time.
    let later = ArrivalRecord {
        id: ArrivalId(2),
        arrived_at: None,
        ..a.clone()
    };
    store
        .commit_duties(&[DutyOp::InsertArrival(later)], &[])
        .unwrap();
    let ids = |since: i64| -> Vec<u64> {
        store
            .arrived_since(Timestamp(since))
            .unwrap()
            .iter()
            .map(|a| a.id.0)
            .collect()
    };
    assert_eq!(
        ids(at.0),
        vec![1],
        "a registration not yet arrived is not listed"
    );
    assert!(ids(at.0 + 1).is_empty());

    assert!(store.sentinel(VenueId(3)).unwrap().is_none());
    let s = SentinelRecord {
        venue: VenueId(3),
        kind: SentinelKind::Pharmacy,
        registered_at: at,
        registered_by: "admin:a".into(),
    };
    store.put_sentinel(&s).unwrap();
    assert_eq!(store.sentinel(VenueId(3)).unwrap(), Some(s));
}

/// A lab write carries grid tasks in its own transaction: a positive pool's retests reach
/// the grid workers' lists with the holds, and the retest's result closes them; a lab write
/// that fails leaves no task and no event behind.
fn scenario_lab_writes_create_and_close_grid_tasks(store: &dyn Store) {
    use xikang_domain::testing::{LabTask, TaskKind as LabKind};
    use xikang_store::LabWrite;
    let retest = |person: u32, key: &str| NewTask {
        cell: GridCell(1),
        kind: TaskKind::ArrangeRetest,
        person: Some(PersonId(person)),
        household: None,
        detail: format!("arrange the single-tube retest of P{person}"),
        created_at: Timestamp(100),
        due_at: Timestamp(200),
        dedupe: Some(key.to_owned()),
    };
    let hold = |person: u32| NewEvent {
        at: Timestamp(100),
        actor: "lab:l1".into(),
        basis: "lab report".into(),
        body: EventBody::PoolPositive {
            person: PersonId(person),
            sampled_at: Timestamp(50),
            tube: "WX-1".into(),
        },
    };
    let stored = store
        .write_lab(&LabWrite {
            tasks: vec![LabTask {
                id: 1,
                person: PersonId(7),
                kind: LabKind::SingleTubeRetest,
                tube: None,
                created_at: Timestamp(100),
                done_at: None,
            }],
            events: vec![hold(7), hold(8)],
            duties: vec![DutyOp::InsertTasks(vec![
                retest(7, "retest:lab:1"),
                retest(8, "retest:lab:2"),
            ])],
            ..LabWrite::default()
        })
        .unwrap();
    assert_eq!(stored.len(), 2);
    let open = store.open_tasks_of_cells(&[GridCell(1)], 10).unwrap();
    assert_eq!(open.len(), 2);
    assert!(open.iter().all(|t| t.kind == TaskKind::ArrangeRetest));

    // The retest result closes P7's task by its key; an unknown key is skipped.
    store
        .write_lab(&LabWrite {
            duties: vec![DutyOp::CompleteByKey {
                keys: vec!["retest:lab:1".into(), "retest:lab:99".into()],
                at: Timestamp(150),
                by: "lab:l1".into(),
                note: "single-tube retest resulted".into(),
            }],
            ..LabWrite::default()
        })
        .unwrap();
    let open = store.open_tasks_of_cells(&[GridCell(1)], 10).unwrap();
    assert_eq!(
        open.iter().map(|t| t.person).collect::<Vec<_>>(),
        vec![Some(PersonId(8))]
    );
    let done = store.task(TaskId(1)).unwrap().unwrap();
    assert_eq!(
        (done.done_at, done.note.as_deref()),
        (Some(Timestamp(150)), Some("single-tube retest resulted"))
    );

    // A lab write refused by the store (a task closed twice through the duty store's
    // checks) writes neither its tasks nor its events.
    let before = head(store);
    let err = store
        .write_lab(&LabWrite {
            events: vec![hold(9)],
            duties: vec![
                DutyOp::InsertTasks(vec![retest(9, "retest:lab:3")]),
                DutyOp::CompleteTask {
                    task: TaskId(1),
                    at: Timestamp(160),
                    by: "gw1".into(),
                    note: "again".into(),
                },
            ],
            ..LabWrite::default()
        })
        .unwrap_err();
    assert_eq!(conflict(err), ConflictKind::TaskDone);
    assert_eq!(head(store), before);
    assert_eq!(
        store.open_tasks_of_cells(&[GridCell(1)], 10).unwrap().len(),
        1
    );
    assert!(store.verify_chain().unwrap().is_ok());
}

#[test]
fn lab_writes_create_and_close_grid_tasks_in_their_own_transaction() {
    on_both(scenario_lab_writes_create_and_close_grid_tasks);
}

#[test]
fn admission_respects_capacity_and_a_refused_admission_changes_nothing() {
    on_both(scenario_admission_respects_capacity);
}

#[test]
fn tasks_are_deduplicated_listed_by_due_time_completed_once_and_rolled_up_when_overdue() {
    on_both(scenario_tasks_are_listed_completed_and_rolled_up);
}

#[test]
fn zones_have_one_open_proposal_each_and_a_proposal_is_decided_once() {
    on_both(scenario_zones_and_proposals);
}

#[test]
fn reports_origins_arrivals_and_sentinels_round_trip() {
    on_both(scenario_reports_origins_arrivals_and_sentinels);
}
