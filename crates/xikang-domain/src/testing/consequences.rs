//! What a tube's result means (PROTOCOL.md §5), decided once, without locks or I/O: the
//! authority events for its members, the lab tasks it opens and closes, the retests a grid
//! worker must arrange, and the tube as resulted. The server supplies what it knows (the
//! members, their open tasks and cases, the next free ids) and commits what comes back.

use super::{LabOutcome, LabTask, TaskKind, Tube, TubeState};
use crate::TestOutcome;
use crate::event::{CaseKind, EventBody};
use crate::ids::{CaseId, PersonId};
use crate::time::Timestamp;

/// One tube's result as the lab reported it, already checked (the tube was received, the
/// time is after receipt).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TubeResult {
    pub outcome: LabOutcome,
    pub ct: Option<f32>,
    pub resulted_at: Timestamp,
}

/// The consequences of one tube's result.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consequences {
    /// Authority events, all at the result time, in this order.
    pub events: Vec<EventBody>,
    /// Lab tasks opened (new ids) and closed (`done_at` set) by the result.
    pub tasks: Vec<LabTask>,
    /// Members of a positive pool whose single-tube retest their grid worker arranges,
    /// with the id of the lab task it mirrors.
    pub arrange_retests: Vec<(PersonId, u64)>,
    /// Single-tube retest tasks this result answers (their grid mirrors close with them).
    pub retests_answered: Vec<u64>,
    /// Members held by a positive pool.
    pub holds: usize,
    /// Tasks opened.
    pub opened: usize,
    /// The suspected case registered for a positive single tube, if one was.
    pub suspected: Option<CaseId>,
}

/// What `result` means for `tube` and its `members`:
///
/// - negative: one `tube_negative` event for all members;
/// - positive pool (more than one member): every member held (`pool_positive`; the policy
///   decides the colour) with a single-tube retest task, arranged by their grid worker;
/// - positive single tube: the result, and a suspected case for a tracer to confirm unless
///   the person already has an open case (`has_open_case`);
/// - invalid: no event; every member gets a resample task.
///
/// A valid single-tube result answers the person's open single-tube retests, and any valid
/// result answers their resample tasks from other tubes (`open_tasks`); a task already in
/// `closing` (answered by another tube of the same upload) is not closed twice. New task
/// and case ids are taken from `next_task` and `next_case`, which are advanced.
#[expect(clippy::too_many_arguments, reason = "each is one fact the rule reads")]
pub fn consequences<'a>(
    tube: &Tube,
    members: &[PersonId],
    result: TubeResult,
    lab: &str,
    open_tasks: impl Fn(PersonId) -> &'a [LabTask],
    has_open_case: impl Fn(PersonId) -> bool,
    closing: &mut std::collections::HashSet<u64>,
    (next_task, next_case): (&mut u64, &mut u64),
) -> (Consequences, Tube) {
    let mut c = Consequences::default();
    let at = result.resulted_at;
    let sampled_at = tube.opened_at;
    let barcode = tube.barcode.to_string();
    let single = members.len() <= 1;
    let mut open_task = |person: PersonId, kind: TaskKind, c: &mut Consequences| {
        c.tasks.push(LabTask {
            id: *next_task,
            person,
            kind,
            tube: Some(tube.id),
            created_at: at,
            done_at: None,
        });
        c.opened += 1;
        *next_task += 1;
        *next_task - 1
    };
    match result.outcome {
        LabOutcome::Negative => c.events.push(EventBody::TubeNegative {
            tube: barcode.clone(),
            members: members.to_vec(),
            sampled_at,
            resulted_at: at,
        }),
        LabOutcome::Positive if !single => {
            for &person in members {
                c.events.push(EventBody::PoolPositive {
                    person,
                    sampled_at,
                    tube: barcode.clone(),
                });
                let task = open_task(person, TaskKind::SingleTubeRetest, &mut c);
                c.arrange_retests.push((person, task));
                c.holds += 1;
            }
        }
        LabOutcome::Positive => {
            for &person in members {
                c.events.push(EventBody::TestResulted {
                    person,
                    sampled_at,
                    resulted_at: at,
                    outcome: TestOutcome::Positive,
                    pool_size: 1,
                    tube: barcode.clone(),
                });
                if !has_open_case(person) {
                    let case = CaseId(*next_case);
                    *next_case += 1;
                    c.events.push(EventBody::CaseRegistered {
                        case,
                        person,
                        case_kind: CaseKind::Suspected,
                        onset: None,
                        sampled_at: Some(sampled_at),
                        isolated_at: None,
                    });
                    c.suspected = Some(case);
                }
            }
        }
        LabOutcome::Invalid => {
            for &person in members {
                open_task(person, TaskKind::Resample, &mut c);
            }
        }
    }
    let valid = result.outcome != LabOutcome::Invalid;
    for &person in members {
        for t in open_tasks(person) {
            let answers = match t.kind {
                TaskKind::SingleTubeRetest => single && valid,
                TaskKind::Resample => valid && t.tube != Some(tube.id),
                TaskKind::VaccinationOutreach => false,
            };
            if answers && closing.insert(t.id) {
                c.tasks.push(LabTask {
                    done_at: Some(at),
                    ..t.clone()
                });
                if t.kind == TaskKind::SingleTubeRetest {
                    c.retests_answered.push(t.id);
                }
            }
        }
    }
    let mut resulted = tube.clone();
    resulted.state = if valid {
        TubeState::Resulted
    } else {
        TubeState::Invalid
    };
    resulted.resulted_at = Some(at);
    resulted.outcome = Some(result.outcome);
    resulted.ct = result.ct;
    resulted.lab = Some(lab.to_owned());
    (c, resulted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{SiteId, TubeBarcode, TubeId};
    use std::collections::HashSet;

    const AT: Timestamp = Timestamp(1_700_000_000);

    fn tube(id: u32, capacity: u8) -> Tube {
        Tube {
            state: TubeState::Received,
            received_at: Some(Timestamp(AT.0 - 3600)),
            ..Tube::opened(
                TubeId(id),
                TubeBarcode::parse(&format!("WX-{id:04}")).unwrap(),
                SiteId(1),
                None,
                capacity,
                Timestamp(AT.0 - 7200),
            )
        }
    }

    fn result(outcome: LabOutcome) -> TubeResult {
        TubeResult {
            outcome,
            ct: None,
            resulted_at: AT,
        }
    }

    fn task(id: u64, person: u32, kind: TaskKind, tube: u32) -> LabTask {
        LabTask {
            id,
            person: PersonId(person),
            kind,
            tube: Some(TubeId(tube)),
            created_at: Timestamp(AT.0 - 86_400),
            done_at: None,
        }
    }

    /// Runs the rule with no open tasks or cases unless given.
    fn run(
        t: &Tube,
        members: &[u32],
        outcome: LabOutcome,
        open: &[LabTask],
        open_case: bool,
    ) -> (Consequences, Tube, u64, u64) {
        let members: Vec<PersonId> = members.iter().map(|&p| PersonId(p)).collect();
        let by_person: Vec<(PersonId, Vec<LabTask>)> = members
            .iter()
            .map(|&p| (p, open.iter().filter(|t| t.person == p).cloned().collect()))
            .collect();
        let (mut next_task, mut next_case) = (100, 7);
        let (c, resulted) = consequences(
            t,
            &members,
            result(outcome),
            "lab:wx",
            |p| {
                by_person
                    .iter()
                    .find(|(q, _)| *q == p)
                    .map_or(&[][..], |(_, v)| v.as_slice())
            },
            |_| open_case,
            &mut HashSet::new(),
            (&mut next_task, &mut next_case),
        );
        (c, resulted, next_task, next_case)
    }

    #[test]
    fn a_positive_pool_holds_every_member_with_a_retest_their_grid_worker_arranges() {
        let (c, resulted, next_task, next_case) =
            run(&tube(1, 10), &[1, 2, 3], LabOutcome::Positive, &[], false);
        let held: Vec<PersonId> = c
            .events
            .iter()
            .filter_map(|e| match e {
                EventBody::PoolPositive { person, .. } => Some(*person),
                _ => None,
            })
            .collect();
        assert_eq!(held, [PersonId(1), PersonId(2), PersonId(3)]);
        assert_eq!(c.events.len(), 3, "no result, no case for a pool");
        assert_eq!(c.holds, 3);
        assert_eq!(c.opened, 3);
        assert!(
            c.tasks
                .iter()
                .all(|t| t.kind == TaskKind::SingleTubeRetest && t.done_at.is_none())
        );
        assert_eq!(
            c.arrange_retests,
            [(PersonId(1), 100), (PersonId(2), 101), (PersonId(3), 102)]
        );
        assert_eq!((next_task, next_case), (103, 7));
        assert_eq!(c.suspected, None);
        assert_eq!(resulted.state, TubeState::Resulted);
        assert_eq!(resulted.outcome, Some(LabOutcome::Positive));
        assert_eq!(resulted.lab.as_deref(), Some("lab:wx"));
    }

    #[test]
    fn a_positive_single_tube_registers_a_suspected_case_unless_one_is_open() {
        let (c, _, _, next_case) = run(&tube(2, 1), &[5], LabOutcome::Positive, &[], false);
        assert!(matches!(
            c.events.as_slice(),
            [
                EventBody::TestResulted {
                    outcome: TestOutcome::Positive,
                    pool_size: 1,
                    ..
                },
                EventBody::CaseRegistered {
                    case: CaseId(7),
                    case_kind: CaseKind::Suspected,
                    ..
                }
            ]
        ));
        assert_eq!((c.suspected, next_case), (Some(CaseId(7)), 8));
        let (c, _, _, next_case) = run(&tube(2, 1), &[5], LabOutcome::Positive, &[], true);
        assert_eq!(c.events.len(), 1, "an open case gets the result only");
        assert_eq!((c.suspected, next_case), (None, 7));
    }

    #[test]
    fn a_single_tube_answers_the_retest_and_a_resample_from_another_tube_only() {
        let open = [
            task(10, 5, TaskKind::SingleTubeRetest, 1),
            task(11, 5, TaskKind::Resample, 3),
            task(12, 5, TaskKind::Resample, 2),
            task(13, 5, TaskKind::VaccinationOutreach, 1),
        ];
        let (c, resulted, _, _) = run(&tube(2, 1), &[5], LabOutcome::Negative, &open, false);
        assert!(matches!(
            c.events.as_slice(),
            [EventBody::TubeNegative { .. }]
        ));
        let closed: Vec<u64> = c
            .tasks
            .iter()
            .filter(|t| t.done_at == Some(AT))
            .map(|t| t.id)
            .collect();
        assert_eq!(
            closed,
            [10, 11],
            "not the resample of this same tube, not outreach"
        );
        assert_eq!(c.retests_answered, [10]);
        assert_eq!(resulted.state, TubeState::Resulted);
        // A pool's negative does not answer a single-tube retest.
        let (c, _, _, _) = run(&tube(4, 10), &[5, 6], LabOutcome::Negative, &open, false);
        assert!(c.retests_answered.is_empty());
        assert_eq!(c.tasks.iter().map(|t| t.id).collect::<Vec<_>>(), [11, 12]);
    }

    #[test]
    fn an_invalid_tube_records_nothing_and_asks_every_member_to_be_swabbed_again() {
        let open = [task(10, 1, TaskKind::SingleTubeRetest, 1)];
        let (c, resulted, next_task, _) =
            run(&tube(3, 10), &[1, 2], LabOutcome::Invalid, &open, false);
        assert!(c.events.is_empty());
        assert_eq!(c.opened, 2);
        assert!(c.tasks.iter().all(|t| t.kind == TaskKind::Resample));
        assert!(
            c.retests_answered.is_empty(),
            "an invalid result answers nothing"
        );
        assert_eq!(next_task, 102);
        assert_eq!(resulted.state, TubeState::Invalid);
    }

    #[test]
    fn a_task_answered_by_another_tube_of_the_same_upload_is_not_closed_twice() {
        let open = [task(10, 5, TaskKind::Resample, 9)];
        let mut closing = HashSet::new();
        let mut ids = (100, 1);
        for id in [2, 3] {
            let (c, _) = consequences(
                &tube(id, 1),
                &[PersonId(5)],
                result(LabOutcome::Negative),
                "lab:wx",
                |_| &open[..],
                |_| false,
                &mut closing,
                (&mut ids.0, &mut ids.1),
            );
            let closed = c.tasks.iter().filter(|t| t.done_at.is_some()).count();
            assert_eq!(closed, usize::from(id == 2), "tube {id}");
        }
    }
}
