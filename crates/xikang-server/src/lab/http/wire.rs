//! The lab's answers as wire types: what `/api/v1/sampling-sites`, `/rounds`, `/tubes`,
//! `/samples`, `/batches`, `/lab-results`, `/lab-tasks`, `/vaccinations`, a person's
//! vaccination and `/test-requirements/check` send back, converted from the lab index's
//! records and the domain's types with `From` or a constructor, so a handler never builds
//! JSON by hand.
//!
//! Fields are declared in alphabetical order on purpose: these answers used to be built
//! with `serde_json::json!`, whose objects (without the `preserve_order` feature) print
//! their keys sorted, and clients and snapshot tests see the same bytes as before. For the
//! same reason a domain struct that `json!` used to print (pool sizes, progress) has its own
//! sorted copy here rather than being embedded as it is.

use crate::error::ItemError;
use crate::wire::rfc;
use serde::Serialize;
use std::collections::BTreeMap;
use xikang_domain::testing::{
    AgeBand, BatchId, CellProgress, Coverage, LabOutcome, LabTask, PoolSizes, SamplingSite,
    TaskKind, Tube, TubeBarcode, TubeId, VaccinationStatus,
};
use xikang_domain::{AreaCode, GridCell, PersonId};

// ---------------------------------------------------------------------------------------
// Batches: every item answered on its own, by its index.

/// A refused item's reason.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = LabItemErrorOut)]
pub struct ItemErrorOut {
    pub code: &'static str,
    pub message: String,
}

impl From<ItemError> for ItemErrorOut {
    fn from(e: ItemError) -> Self {
        ItemErrorOut {
            code: e.code,
            message: e.message,
        }
    }
}

/// A refused item: its index (and CSV line) with the reason.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefusedOut {
    pub error: ItemErrorOut,
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// One item of a batch answer: what was done with it, or why it was refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ItemOut<T> {
    Refused(RefusedOut),
    Done(T),
}

impl<T> ItemOut<T> {
    /// Whether the item was accepted.
    pub fn accepted(&self) -> bool {
        matches!(self, ItemOut::Done(_))
    }
}

/// Each item's answer (built by `done` from the item, its index and CSV line) or refusal.
pub fn batch_items<X, T>(
    results: Vec<Result<X, ItemError>>,
    lines: Option<&[usize]>,
    done: impl Fn(X, usize, Option<usize>) -> T,
) -> Vec<ItemOut<T>> {
    results
        .into_iter()
        .enumerate()
        .map(|(index, r)| {
            let line = lines.and_then(|l| l.get(index).copied());
            match r {
                Ok(x) => ItemOut::Done(done(x, index, line)),
                Err(e) => ItemOut::Refused(RefusedOut {
                    error: e.into(),
                    index,
                    line,
                }),
            }
        })
        .collect()
}

/// A batch answer: how many items were accepted and refused, and each item's outcome
/// (`batch` names the courier's batch when one was made).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchOut<T> {
    pub accepted: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    pub refused: usize,
    pub results: Vec<ItemOut<T>>,
}

impl<T> BatchOut<T> {
    /// Counts the items' outcomes.
    pub fn new(results: Vec<ItemOut<T>>) -> BatchOut<T> {
        let accepted = results.iter().filter(|i| i.accepted()).count();
        BatchOut {
            accepted,
            batch: None,
            refused: results.len() - accepted,
            results,
        }
    }
}

/// The `details` of a `no_valid_items` refusal: every item's reason.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefusedDetails<T> {
    pub results: Vec<ItemOut<T>>,
}

/// An opened tube.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TubeOpenedOut {
    pub index: usize,
    pub tube: String,
}

/// A tube that moved on: `sealed`, `in_transport` or `received`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TubeMovedOut {
    pub index: usize,
    pub state: &'static str,
    pub tube: String,
}

impl TubeMovedOut {
    pub fn new(tube: TubeId, index: usize, state: &'static str) -> TubeMovedOut {
        TubeMovedOut {
            index,
            state,
            tube: tube.to_string(),
        }
    }
}

/// A swab bound to a tube.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SampleBoundOut {
    pub filled: u8,
    pub index: usize,
    pub sealed: bool,
    pub tube: String,
}

impl SampleBoundOut {
    pub fn new(b: crate::lab::Bound, index: usize) -> SampleBoundOut {
        SampleBoundOut {
            filled: b.filled,
            index,
            sealed: b.sealed,
            tube: b.tube.to_string(),
        }
    }
}

/// A result line recorded, and what it set going.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResultedOut {
    pub holds: usize,
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub members: usize,
    pub suspected_case: Option<String>,
    pub tasks: usize,
    pub tube: String,
}

impl ResultedOut {
    pub fn new(d: crate::lab::Resulted, index: usize, line: Option<usize>) -> ResultedOut {
        ResultedOut {
            holds: d.holds,
            index,
            line,
            members: d.members,
            suspected_case: d.suspected.map(|c| c.to_string()),
            tasks: d.tasks,
            tube: d.tube.to_string(),
        }
    }
}

/// A dose recorded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DoseRecordedOut {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub recorded: bool,
}

// ---------------------------------------------------------------------------------------
// Sampling sites and rounds.

/// A sampling site.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SamplingSiteOut)]
pub struct SiteOut {
    pub area: AreaCode,
    pub cell: GridCell,
    pub id: String,
    pub name: String,
}

impl From<&SamplingSite> for SiteOut {
    fn from(s: &SamplingSite) -> Self {
        SiteOut {
            area: s.area.clone(),
            cell: s.cell,
            id: s.id.to_string(),
            name: s.name.clone(),
        }
    }
}

/// `GET /sampling-sites`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = SamplingSitesOut)]
pub struct SitesOut {
    pub items: Vec<SiteOut>,
}

/// Pool sizes per zone level.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PoolSizesOut {
    pub controlled: u8,
    pub other: u8,
    pub sealed: u8,
}

impl From<PoolSizes> for PoolSizesOut {
    fn from(p: PoolSizes) -> Self {
        PoolSizesOut {
            controlled: p.controlled,
            other: p.other,
            sealed: p.sealed,
        }
    }
}

/// A round's progress over all its cells.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProgressOut {
    pub abnormal: u32,
    pub expected: u32,
    pub resulted: u32,
    pub sampled: u32,
}

impl From<CellProgress> for ProgressOut {
    fn from(p: CellProgress) -> Self {
        ProgressOut {
            abnormal: p.abnormal,
            expected: p.expected,
            resulted: p.resulted,
            sampled: p.sampled,
        }
    }
}

/// A round's progress in one grid cell.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoundCellOut {
    pub abnormal: u32,
    pub cell: GridCell,
    pub expected: u32,
    pub resulted: u32,
    pub sampled: u32,
}

impl From<(GridCell, CellProgress)> for RoundCellOut {
    fn from((cell, p): (GridCell, CellProgress)) -> Self {
        RoundCellOut {
            abnormal: p.abnormal,
            cell,
            expected: p.expected,
            resulted: p.resulted,
            sampled: p.sampled,
        }
    }
}

/// A screening round and its progress (`computed_in_ms` only when it was read).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoundOut {
    pub area: AreaCode,
    pub cells: Vec<RoundCellOut>,
    pub cells_in_scope: Vec<GridCell>,
    pub closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed_in_ms: Option<f64>,
    pub deadline: String,
    pub id: String,
    pub name: String,
    pub pool_sizes: PoolSizesOut,
    pub published: String,
    pub starts_at: String,
    pub total: ProgressOut,
}

impl From<crate::lab::RoundStatus> for RoundOut {
    fn from(s: crate::lab::RoundStatus) -> Self {
        let r = s.round;
        RoundOut {
            area: r.area,
            cells: s.cells.into_iter().map(RoundCellOut::from).collect(),
            cells_in_scope: r.cells,
            closed_at: rfc(r.closed_at),
            computed_in_ms: None,
            deadline: r.deadline.to_rfc3339(),
            id: r.id.to_string(),
            name: r.name,
            pool_sizes: r.pools.into(),
            published: s.total.published(),
            starts_at: r.starts_at.to_rfc3339(),
            total: s.total.into(),
        }
    }
}

/// `GET /rounds/{id}/unsampled`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = RoundUnsampledOut)]
pub struct UnsampledOut {
    pub cell: GridCell,
    pub count: usize,
    pub people: Vec<String>,
    pub round: String,
}

/// `POST /rounds/{id}/close`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoundClosedOut {
    pub missed_tests_recorded: usize,
    pub round: String,
}

// ---------------------------------------------------------------------------------------
// Tubes and tasks.

/// Seconds a tube spent on the way to the lab and in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TurnaroundOut {
    pub received_to_resulted: Option<i64>,
    pub sampled_to_received: Option<i64>,
}

/// A tube, with how many swabs it holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TubeOut {
    pub barcode: TubeBarcode,
    pub batch: Option<String>,
    pub capacity: u8,
    /// Widened as `json!` widened it (`31.2` printed `31.200000762939453`), so the bytes
    /// stay the same.
    pub ct: Option<f64>,
    pub id: String,
    pub lab: Option<String>,
    pub members: usize,
    pub opened_at: String,
    pub outcome: Option<LabOutcome>,
    pub received_at: Option<String>,
    pub resulted_at: Option<String>,
    pub round: Option<String>,
    pub sealed_at: Option<String>,
    pub shipped_at: Option<String>,
    pub site: String,
    pub state: &'static str,
    pub turnaround_secs: TurnaroundOut,
}

impl TubeOut {
    pub fn new(t: &Tube, members: usize) -> TubeOut {
        let (to_lab, in_lab) = t.turnaround();
        TubeOut {
            barcode: t.barcode.clone(),
            batch: t.batch.map(|b: BatchId| b.to_string()),
            capacity: t.capacity,
            ct: t.ct.map(f64::from),
            id: t.id.to_string(),
            lab: t.lab.clone(),
            members,
            opened_at: t.opened_at.to_rfc3339(),
            outcome: t.outcome,
            received_at: rfc(t.received_at),
            resulted_at: rfc(t.resulted_at),
            round: t.round.map(|r| r.to_string()),
            sealed_at: rfc(t.sealed_at),
            shipped_at: rfc(t.shipped_at),
            site: t.site.to_string(),
            state: t.state.as_str(),
            turnaround_secs: TurnaroundOut {
                received_to_resulted: in_lab,
                sampled_to_received: to_lab,
            },
        }
    }
}

/// `GET /tubes`: how many tubes are in each state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TubeStatesOut {
    pub states: BTreeMap<&'static str, u64>,
}

/// `GET /tubes/stuck`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StuckOut {
    pub count: usize,
    pub items: Vec<TubeOut>,
    pub lab_hours: u32,
    pub transport_hours: u32,
}

/// An open lab task, with the person's home cell.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LabTaskOut {
    pub cell: Option<GridCell>,
    pub created_at: String,
    pub id: u64,
    pub kind: TaskKind,
    pub person: String,
    pub tube: Option<String>,
}

impl LabTaskOut {
    pub fn new(t: &LabTask, cell: Option<GridCell>) -> LabTaskOut {
        LabTaskOut {
            cell,
            created_at: t.created_at.to_rfc3339(),
            id: t.id,
            kind: t.kind,
            person: t.person.to_string(),
            tube: t.tube.map(|x| x.to_string()),
        }
    }
}

/// `GET /lab-tasks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LabTasksOut {
    pub count: usize,
    pub items: Vec<LabTaskOut>,
}

// ---------------------------------------------------------------------------------------
// Vaccination.

/// Coverage of one age band in one district.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CoverageRowOut {
    pub age_band: AgeBand,
    pub booster: u64,
    pub district: AreaCode,
    pub first_dose: u64,
    pub full_course: u64,
    pub people: u64,
}

impl From<(AreaCode, AgeBand, Coverage)> for CoverageRowOut {
    fn from((district, age_band, c): (AreaCode, AgeBand, Coverage)) -> Self {
        CoverageRowOut {
            age_band,
            booster: c.booster,
            district,
            first_dose: c.first_dose,
            full_course: c.full_course,
            people: c.people,
        }
    }
}

/// `GET /vaccinations/coverage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CoverageOut {
    pub area: AreaCode,
    pub computed_in_ms: f64,
    pub items: Vec<CoverageRowOut>,
}

/// The unvaccinated elderly of one grid cell (the first thousand named).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutreachCellOut {
    pub cell: GridCell,
    pub count: usize,
    pub people: Vec<String>,
}

impl From<&(GridCell, Vec<PersonId>)> for OutreachCellOut {
    fn from((cell, people): &(GridCell, Vec<PersonId>)) -> Self {
        OutreachCellOut {
            cell: *cell,
            count: people.len(),
            people: people.iter().take(1000).map(|p| p.to_string()).collect(),
        }
    }
}

/// `GET` and `POST /vaccinations/outreach`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutreachOut {
    pub area: AreaCode,
    pub cells: Vec<OutreachCellOut>,
    pub total: usize,
}

/// `GET /people/{id}/vaccination`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonVaccinationOut {
    pub booster: bool,
    pub doses: u8,
    pub first_dose: bool,
    pub full_course: bool,
    pub person: String,
}

impl PersonVaccinationOut {
    pub fn new(person: PersonId, s: VaccinationStatus) -> PersonVaccinationOut {
        PersonVaccinationOut {
            booster: s.booster(),
            doses: s.doses,
            first_dose: s.first_dose(),
            full_course: s.full_course(),
            person: person.to_string(),
        }
    }
}

/// `POST /test-requirements/check`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MandatedOut {
    pub area: AreaCode,
    pub every_hours: u32,
    pub missed_tests_recorded: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::Timestamp;
    use xikang_domain::testing::{Round, RoundId, SiteId, TubeState};

    /// The typed answer prints exactly what `json!` printed: keys sorted at every level.
    fn prints_as_sorted_json<T: Serialize>(what: &str, out: &T) {
        let typed = serde_json::to_string(out).unwrap();
        let value = serde_json::to_value(out).unwrap().to_string();
        assert_eq!(typed, value, "{what}: fields out of alphabetical order");
    }

    fn area() -> AreaCode {
        AreaCode::parse("320201001001").unwrap()
    }

    fn t(s: i64) -> Timestamp {
        Timestamp(1_647_000_000 + s)
    }

    fn tube() -> Tube {
        Tube {
            id: TubeId(7),
            barcode: TubeBarcode::parse("WX-0007").unwrap(),
            site: SiteId(1),
            round: Some(RoundId(2)),
            capacity: 10,
            state: TubeState::Resulted,
            opened_at: t(0),
            sealed_at: Some(t(60)),
            batch: Some(BatchId(3)),
            shipped_at: Some(t(120)),
            received_at: Some(t(600)),
            resulted_at: Some(t(3600)),
            outcome: Some(LabOutcome::Positive),
            ct: Some(31.2),
            lab: Some("lab".into()),
        }
    }

    #[test]
    fn every_lab_answer_prints_its_keys_in_the_order_json_did() {
        fn refused<T>() -> ItemOut<T> {
            ItemOut::Refused(RefusedOut {
                error: ItemErrorOut {
                    code: "c",
                    message: "m".into(),
                },
                index: 1,
                line: Some(3),
            })
        }
        prints_as_sorted_json(
            "resulted",
            &BatchOut {
                accepted: 1,
                batch: Some("B3".into()),
                refused: 1,
                results: vec![
                    ItemOut::Done(ResultedOut {
                        holds: 1,
                        index: 0,
                        line: Some(2),
                        members: 10,
                        suspected_case: Some("C1".into()),
                        tasks: 10,
                        tube: "T7".into(),
                    }),
                    refused(),
                ],
            },
        );
        prints_as_sorted_json(
            "opened",
            &BatchOut::new(vec![
                ItemOut::Done(TubeOpenedOut {
                    index: 0,
                    tube: "T1".into(),
                }),
                refused(),
            ]),
        );
        prints_as_sorted_json("moved", &TubeMovedOut::new(TubeId(1), 0, "sealed"));
        prints_as_sorted_json(
            "bound",
            &SampleBoundOut {
                filled: 2,
                index: 0,
                sealed: false,
                tube: "T1".into(),
            },
        );
        prints_as_sorted_json(
            "dose",
            &DoseRecordedOut {
                index: 0,
                line: Some(2),
                recorded: true,
            },
        );
        prints_as_sorted_json(
            "details",
            &RefusedDetails::<DoseRecordedOut> {
                results: vec![refused()],
            },
        );
        let site = SamplingSite {
            id: SiteId(1),
            name: "s".into(),
            area: area(),
            cell: GridCell(4),
        };
        prints_as_sorted_json(
            "sites",
            &SitesOut {
                items: vec![SiteOut::from(&site)],
            },
        );
        let progress = CellProgress {
            expected: 4,
            sampled: 3,
            resulted: 2,
            abnormal: 1,
        };
        let mut round = RoundOut::from(crate::lab::RoundStatus {
            round: Round {
                id: RoundId(2),
                name: "r".into(),
                area: area(),
                cells: vec![GridCell(4)],
                starts_at: t(0),
                deadline: t(86_400),
                pools: PoolSizes {
                    sealed: 1,
                    controlled: 10,
                    other: 20,
                },
                closed_at: None,
            },
            total: progress,
            cells: vec![(GridCell(4), progress)],
        });
        prints_as_sorted_json("round", &round);
        round.computed_in_ms = Some(1.5);
        prints_as_sorted_json("round read", &round);
        prints_as_sorted_json(
            "unsampled",
            &UnsampledOut {
                cell: GridCell(4),
                count: 1,
                people: vec!["P1".into()],
                round: "R2".into(),
            },
        );
        prints_as_sorted_json(
            "closed",
            &RoundClosedOut {
                missed_tests_recorded: 1,
                round: "R2".into(),
            },
        );
        prints_as_sorted_json("tube", &TubeOut::new(&tube(), 10));
        prints_as_sorted_json(
            "stuck",
            &StuckOut {
                count: 1,
                items: vec![TubeOut::new(&tube(), 10)],
                lab_hours: 12,
                transport_hours: 6,
            },
        );
        prints_as_sorted_json(
            "states",
            &TubeStatesOut {
                states: [("open", 1), ("sealed", 2)].into_iter().collect(),
            },
        );
        prints_as_sorted_json(
            "tasks",
            &LabTasksOut {
                count: 1,
                items: vec![LabTaskOut::new(
                    &LabTask {
                        id: 1,
                        person: PersonId(5),
                        kind: TaskKind::SingleTubeRetest,
                        tube: Some(TubeId(7)),
                        created_at: t(0),
                        done_at: None,
                    },
                    Some(GridCell(4)),
                )],
            },
        );
        prints_as_sorted_json(
            "coverage",
            &CoverageOut {
                area: area(),
                computed_in_ms: 0.5,
                items: vec![CoverageRowOut::from((
                    area(),
                    AgeBand::Adult,
                    Coverage {
                        people: 4,
                        first_dose: 3,
                        full_course: 2,
                        booster: 1,
                    },
                ))],
            },
        );
        prints_as_sorted_json(
            "outreach",
            &OutreachOut {
                area: area(),
                cells: vec![OutreachCellOut::from(&(GridCell(4), vec![PersonId(5)]))],
                total: 1,
            },
        );
        prints_as_sorted_json(
            "person",
            &PersonVaccinationOut::new(PersonId(5), VaccinationStatus { doses: 2 }),
        );
        prints_as_sorted_json(
            "mandated",
            &MandatedOut {
                area: area(),
                every_hours: 72,
                missed_tests_recorded: 1,
            },
        );
    }

    #[test]
    fn a_tube_prints_its_ct_as_the_json_macro_widened_it() {
        let typed = serde_json::to_string(&TubeOut::new(&tube(), 10)).unwrap();
        let was = format!("\"ct\":{}", serde_json::json!({"ct": 31.2_f32})["ct"]);
        assert!(typed.contains(&was), "{typed} lacks {was}");
    }
}
