//! The duty answers as wire types: what `/api/v1/grid`, `/quarantine`, `/zones`,
//! `/arrivals` and `/sentinels` send back, converted from the store's records and the
//! domain's types with `From` or a constructor, so a handler never builds JSON by hand.
//!
//! Fields are declared in alphabetical order on purpose: these answers used to be built
//! with `serde_json::json!`, whose objects (without the `preserve_order` feature) print
//! their keys sorted, and clients and snapshot tests see the same bytes as before.

use serde::Serialize;
use xikang_domain::duties::{LiftCondition, Regime, variant_name};
use xikang_domain::{AreaCode, Timestamp};
use xikang_store::{OrderRecord, ProposalRecord, SiteRecord, TaskRecord, ZoneRecord};

// ---------------------------------------------------------------------------------------
// Grid and tasks.

/// `POST /grid/cells`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportedOut {
    pub imported: usize,
}

/// One grid cell.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CellOut {
    pub cell: u32,
    pub community: AreaCode,
    pub lat: f64,
    pub lon: f64,
    pub name: String,
    pub worker: Option<String>,
}

impl From<&xikang_store::GridCellRecord> for CellOut {
    fn from(c: &xikang_store::GridCellRecord) -> Self {
        CellOut {
            cell: c.cell.0,
            community: c.community.clone(),
            lat: c.lat,
            lon: c.lon,
            name: c.name.clone(),
            worker: c.worker.clone(),
        }
    }
}

/// `GET /grid/cells`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CellsOut {
    pub cells: Vec<CellOut>,
}

/// One grid task.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskOut {
    pub cell: u32,
    pub created_at: String,
    pub detail: String,
    pub done_at: Option<String>,
    pub due_at: String,
    pub household: Option<String>,
    pub id: String,
    pub kind: &'static str,
    pub note: Option<String>,
    pub person: Option<String>,
}

impl From<&TaskRecord> for TaskOut {
    fn from(t: &TaskRecord) -> Self {
        TaskOut {
            cell: t.cell.0,
            created_at: t.created_at.to_rfc3339(),
            detail: t.detail.clone(),
            done_at: t.done_at.map(Timestamp::to_rfc3339),
            due_at: t.due_at.to_rfc3339(),
            household: t.household.map(|h| h.to_string()),
            id: t.id.to_string(),
            kind: t.kind.as_str(),
            note: t.note.clone(),
            person: t.person.map(|p| p.to_string()),
        }
    }
}

/// `GET /grid/tasks`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TasksOut {
    pub tasks: Vec<TaskOut>,
}

/// `POST /grid/tasks/{id}/complete`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskDoneOut {
    pub done: bool,
    pub task: String,
}

/// Overdue tasks of one cell.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CellOverdueOut {
    pub cell: u32,
    pub community: String,
    pub overdue: u64,
}

/// Overdue tasks of one district (6 digits).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DistrictOverdueOut {
    pub district: String,
    pub overdue: u64,
}

/// Overdue tasks of one street (9 digits).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StreetOverdueOut {
    pub overdue: u64,
    pub street: String,
}

/// `GET /grid/overdue`: per cell, rolled up per street and district.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OverdueOut {
    pub cells: Vec<CellOverdueOut>,
    pub districts: Vec<DistrictOverdueOut>,
    pub streets: Vec<StreetOverdueOut>,
    pub total: u64,
}

/// `POST /grid/unsampled`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnsampledOut {
    pub unsampled: usize,
}

// ---------------------------------------------------------------------------------------
// Quarantine sites and orders.

/// One quarantine site, with its free places.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteOut {
    pub area: AreaCode,
    pub capacity: u32,
    pub free: u32,
    pub id: String,
    pub kind: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub manager: Option<String>,
    pub name: String,
    pub occupancy: u32,
}

impl From<&SiteRecord> for SiteOut {
    fn from(s: &SiteRecord) -> Self {
        SiteOut {
            area: s.area.clone(),
            capacity: s.capacity,
            free: s.capacity.saturating_sub(s.occupancy),
            id: s.id.to_string(),
            kind: s.kind.as_str(),
            lat: s.lat,
            lon: s.lon,
            manager: s.manager.clone(),
            name: s.name.clone(),
            occupancy: s.occupancy,
        }
    }
}

/// `GET /quarantine/sites`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SitesOut {
    pub sites: Vec<SiteOut>,
}

/// The `details` of a `site_full` refusal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteFullDetails {
    pub nearest: Option<SiteOut>,
}

/// One test day of a plan: its number and its Shanghai date (`20220315`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestDayOut {
    pub date: String,
    pub day: u32,
}

/// The test days of a plan that starts at `start`.
pub fn schedule(days: &[u32], start: Timestamp) -> Vec<TestDayOut> {
    Regime::test_dates(days, start)
        .into_iter()
        .map(|(day, date)| TestDayOut {
            date: date.compact(),
            day,
        })
        .collect()
}

/// One quarantine order, with the test days of its phase (none when its regime is no
/// longer in the policy).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderOut {
    pub ended_at: Option<String>,
    pub follows: Option<String>,
    pub id: String,
    pub kind: String,
    pub person: String,
    pub planned_end: String,
    pub reason: String,
    pub regime: String,
    pub site: Option<String>,
    pub start: String,
    pub status: String,
    pub tests: Vec<TestDayOut>,
    pub then_phase: bool,
}

impl OrderOut {
    /// The order under its regime (`None`: the policy in force no longer has it).
    pub fn new(o: &OrderRecord, regime: Option<&Regime>) -> Self {
        let days: &[u32] = match regime {
            Some(r) if o.then_phase => &r.then_test_days,
            Some(r) => &r.test_days,
            None => &[],
        };
        OrderOut {
            ended_at: o.ended_at.map(Timestamp::to_rfc3339),
            follows: o.follows.map(|f| f.to_string()),
            id: o.id.to_string(),
            kind: variant_name(&o.kind),
            person: o.person.to_string(),
            planned_end: o.planned_end.to_rfc3339(),
            reason: variant_name(&o.reason),
            regime: o.regime.clone(),
            site: o.site.map(|s| s.to_string()),
            start: o.start.to_rfc3339(),
            status: variant_name(&o.status),
            tests: schedule(days, o.start),
            then_phase: o.then_phase,
        }
    }
}

/// `GET /quarantine/orders`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrdersOut {
    pub orders: Vec<OrderOut>,
}

/// `POST /quarantine/orders/{id}/transfer`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransferOut {
    pub order: String,
    pub site: String,
}

/// `POST /quarantine/orders/{id}/release`: released (with the follow-on phase's order, if
/// the regime has one) or extended (with the test days that lack a negative).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ReleaseOut {
    Released {
        /// Boxed: an order is far larger than the other variant.
        next: Option<Box<OrderOut>>,
        order: String,
        /// Always `released`.
        outcome: &'static str,
    },
    Extended {
        missing_days: Vec<u32>,
        order: String,
        /// Always `extended`.
        outcome: &'static str,
        planned_end: String,
        positive: bool,
    },
}

// ---------------------------------------------------------------------------------------
// Reports and the sweep.

/// `POST /quarantine/reports`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReportOut {
    pub fever: bool,
    pub flagged: bool,
    pub person: String,
}

/// One flagged health report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowUpOut {
    pub at: String,
    pub person: String,
    pub reason: String,
}

/// `GET /quarantine/follow-ups`, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FollowUpsOut {
    pub follow_ups: Vec<FollowUpOut>,
}

/// What one pass of the duty sweep did (`POST /duties/sweep`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SweepOut {
    /// Responsibility items raised to the supervisor past their deadline.
    pub items_escalated: usize,
    /// Messages of the board escalated past their deadline (docs/citizens.md).
    pub messages_escalated: usize,
    pub missed_report_tasks: u64,
    pub missed_scheduled_tests: usize,
    pub rounds_closed: usize,
    /// Venues the sweep found silent (docs/citizens.md).
    pub silent_venues: usize,
    pub zone_proposals: u64,
}

// ---------------------------------------------------------------------------------------
// Zones and proposals.

/// One zone, with how many residents live in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ZoneOut {
    pub cells: Vec<u32>,
    pub id: String,
    pub level: String,
    pub lifted_at: Option<String>,
    pub name: String,
    pub residents: usize,
    pub since: String,
}

impl ZoneOut {
    /// The zone, with its resident count.
    pub fn new(z: &ZoneRecord, residents: usize) -> Self {
        ZoneOut {
            cells: z.cells.iter().map(|c| c.0).collect(),
            id: z.id.to_string(),
            level: variant_name(&z.level),
            lifted_at: z.lifted_at.map(Timestamp::to_rfc3339),
            name: z.name.clone(),
            residents,
            since: z.since.to_rfc3339(),
        }
    }
}

/// `GET /zones`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ZonesOut {
    pub zones: Vec<ZoneOut>,
}

/// One lifting (or sealing) condition with its evidence.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConditionOut {
    pub detail: String,
    pub holds: bool,
    pub name: String,
}

impl From<&LiftCondition> for ConditionOut {
    fn from(c: &LiftCondition) -> Self {
        ConditionOut {
            detail: c.detail.clone(),
            holds: c.holds,
            name: c.name.clone(),
        }
    }
}

/// The conditions, as wire types.
pub fn conditions_out(c: &[LiftCondition]) -> Vec<ConditionOut> {
    c.iter().map(ConditionOut::from).collect()
}

/// `GET /zones/{id}/conditions` (`conditions` is null when the level has no lifting rule).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConditionsOut {
    pub all_hold: bool,
    pub conditions: Option<Vec<ConditionOut>>,
    pub level: String,
    pub lifted: bool,
    pub zone: String,
}

/// The `details` of a `conditions_not_met` refusal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConditionsDetails {
    pub conditions: Option<Vec<ConditionOut>>,
}

/// One zone proposal, with the conditions that held when it was made.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProposalOut {
    pub action: String,
    /// Null if the stored conditions cannot be read back.
    pub conditions: Option<Vec<ConditionOut>>,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub id: String,
    pub proposed_at: String,
    pub proposer: String,
    pub status: String,
    pub to_level: Option<String>,
    pub zone: String,
}

impl From<&ProposalRecord> for ProposalOut {
    fn from(p: &ProposalRecord) -> Self {
        ProposalOut {
            action: variant_name(&p.action),
            conditions: serde_json::from_str::<Vec<LiftCondition>>(&p.conditions)
                .ok()
                .map(|c| conditions_out(&c)),
            decided_at: p.decided_at.map(Timestamp::to_rfc3339),
            decided_by: p.decided_by.clone(),
            id: p.id.to_string(),
            proposed_at: p.proposed_at.to_rfc3339(),
            proposer: p.proposer.clone(),
            status: variant_name(&p.status),
            to_level: p.to_level.map(|l| variant_name(&l)),
            zone: p.zone.to_string(),
        }
    }
}

/// `GET /zones/proposals`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProposalsOut {
    pub proposals: Vec<ProposalOut>,
}

/// `POST /zones/proposals/run`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProposedOut {
    pub proposed: u64,
}

/// What approving a proposal did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovedOut {
    pub approved: bool,
    pub proposal: String,
    pub residents: usize,
    pub tasks: usize,
    pub zone: String,
}

/// `POST /zones/proposals/{id}/reject`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RejectedOut {
    pub proposal: String,
    pub rejected: bool,
}

// ---------------------------------------------------------------------------------------
// Arrivals and sentinels.

/// `POST /arrivals/origins`: the origin as recorded, its risk as the caller spelled it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OriginSetOut {
    pub code: String,
    pub name: String,
    pub risk: String,
}

/// One origin of the risk list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OriginOut {
    pub code: String,
    pub name: String,
    pub risk: String,
    pub updated_at: String,
}

impl From<&xikang_store::OriginRecord> for OriginOut {
    fn from(o: &xikang_store::OriginRecord) -> Self {
        OriginOut {
            code: o.code.clone(),
            name: o.name.clone(),
            risk: variant_name(&o.risk),
            updated_at: o.updated_at.to_rfc3339(),
        }
    }
}

/// `GET /arrivals/origins`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OriginsOut {
    pub origins: Vec<OriginOut>,
}

/// `POST /arrivals`: the registration with the regime it will come under.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArrivalOut {
    pub days: u32,
    pub id: String,
    pub order_kind: Option<String>,
    pub origin: String,
    pub person: String,
    pub regime: String,
    pub risk: String,
    /// Whose risk list gave the risk: `own`, or `peer:NAME` when a peer city's published
    /// risk areas (docs/cities.md) made it stricter or named an origin ours does not.
    pub risk_source: String,
    pub tests: Vec<TestDayOut>,
}

/// `POST /arrivals/{id}/arrived`: the regime applied, with its order if it has one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArrivedOut {
    pub arrival: String,
    pub order: Option<OrderOut>,
    pub regime: String,
    pub tests: Vec<TestDayOut>,
}

/// `POST /sentinels`: the sentinel, its kind as the caller spelled it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SentinelOut {
    pub kind: String,
    pub venue: String,
}

/// `POST /sentinels/reports`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SentinelReportOut {
    pub person: String,
    pub test_due_within_hours: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A typed answer prints the same bytes as the `json!` value it replaced: the same
    /// JSON with its keys sorted, at every level.
    fn prints_as_sorted_json<T: Serialize>(what: &str, out: &T) {
        let typed = serde_json::to_string(out).unwrap();
        let value = serde_json::to_value(out).unwrap().to_string();
        assert_eq!(typed, value, "{what}: fields out of alphabetical order");
    }

    fn order() -> OrderOut {
        OrderOut {
            ended_at: None,
            follows: Some("Q1".into()),
            id: "Q2".into(),
            kind: "home".into(),
            person: "P3".into(),
            planned_end: "2022-03-20T00:00:00Z".into(),
            reason: "close_contact".into(),
            regime: "home7".into(),
            site: None,
            start: "2022-03-13T00:00:00Z".into(),
            status: "active".into(),
            tests: vec![TestDayOut {
                date: "20220314".into(),
                day: 1,
            }],
            then_phase: true,
        }
    }

    fn condition() -> ConditionOut {
        ConditionOut {
            detail: "no case for 14 days".into(),
            holds: true,
            name: "days_without_case".into(),
        }
    }

    #[test]
    fn every_duty_answer_prints_its_keys_in_the_order_json_did() {
        prints_as_sorted_json(
            "cells",
            &CellsOut {
                cells: vec![CellOut {
                    cell: 1,
                    community: AreaCode::parse("320201001001").unwrap(),
                    lat: 31.5,
                    lon: 120.3,
                    name: "a".into(),
                    worker: None,
                }],
            },
        );
        prints_as_sorted_json(
            "tasks",
            &TasksOut {
                tasks: vec![TaskOut {
                    cell: 1,
                    created_at: "t".into(),
                    detail: "d".into(),
                    done_at: None,
                    due_at: "t".into(),
                    household: Some("H1".into()),
                    id: "T1".into(),
                    kind: "delivery",
                    note: None,
                    person: None,
                }],
            },
        );
        prints_as_sorted_json(
            "done",
            &TaskDoneOut {
                done: true,
                task: "T1".into(),
            },
        );
        prints_as_sorted_json(
            "overdue",
            &OverdueOut {
                cells: vec![CellOverdueOut {
                    cell: 1,
                    community: "320201001001".into(),
                    overdue: 2,
                }],
                districts: vec![DistrictOverdueOut {
                    district: "320201".into(),
                    overdue: 2,
                }],
                streets: vec![StreetOverdueOut {
                    overdue: 2,
                    street: "320201001".into(),
                }],
                total: 2,
            },
        );
        let site = SiteOut {
            area: AreaCode::parse("320201").unwrap(),
            capacity: 10,
            free: 9,
            id: "S1".into(),
            kind: "centralized",
            lat: 31.5,
            lon: 120.3,
            manager: None,
            name: "s".into(),
            occupancy: 1,
        };
        prints_as_sorted_json("site full", &SiteFullDetails { nearest: None });
        prints_as_sorted_json("sites", &SitesOut { sites: vec![site] });
        prints_as_sorted_json(
            "orders",
            &OrdersOut {
                orders: vec![order()],
            },
        );
        prints_as_sorted_json(
            "transfer",
            &TransferOut {
                order: "Q1".into(),
                site: "S1".into(),
            },
        );
        prints_as_sorted_json(
            "released",
            &ReleaseOut::Released {
                next: Some(Box::new(order())),
                order: "Q1".into(),
                outcome: "released",
            },
        );
        prints_as_sorted_json(
            "extended",
            &ReleaseOut::Extended {
                missing_days: vec![7],
                order: "Q1".into(),
                outcome: "extended",
                planned_end: "t".into(),
                positive: false,
            },
        );
        prints_as_sorted_json(
            "report",
            &ReportOut {
                fever: true,
                flagged: true,
                person: "P1".into(),
            },
        );
        prints_as_sorted_json(
            "follow-ups",
            &FollowUpsOut {
                follow_ups: vec![FollowUpOut {
                    at: "t".into(),
                    person: "P1".into(),
                    reason: "fever".into(),
                }],
            },
        );
        prints_as_sorted_json(
            "sweep",
            &SweepOut {
                missed_report_tasks: 1,
                missed_scheduled_tests: 2,
                rounds_closed: 3,
                zone_proposals: 4,
                messages_escalated: 5,
                silent_venues: 6,
                items_escalated: 7,
            },
        );
        prints_as_sorted_json(
            "zones",
            &ZonesOut {
                zones: vec![ZoneOut {
                    cells: vec![1, 2],
                    id: "Z1".into(),
                    level: "sealed".into(),
                    lifted_at: None,
                    name: "z".into(),
                    residents: 3,
                    since: "t".into(),
                }],
            },
        );
        prints_as_sorted_json(
            "conditions",
            &ConditionsOut {
                all_hold: true,
                conditions: Some(vec![condition()]),
                level: "sealed".into(),
                lifted: false,
                zone: "Z1".into(),
            },
        );
        prints_as_sorted_json(
            "proposals",
            &ProposalsOut {
                proposals: vec![ProposalOut {
                    action: "lift".into(),
                    conditions: Some(vec![condition()]),
                    decided_at: None,
                    decided_by: None,
                    id: "ZP1".into(),
                    proposed_at: "t".into(),
                    proposer: "system:zones".into(),
                    status: "open".into(),
                    to_level: None,
                    zone: "Z1".into(),
                }],
            },
        );
        prints_as_sorted_json(
            "approved",
            &ApprovedOut {
                approved: true,
                proposal: "ZP1".into(),
                residents: 1,
                tasks: 2,
                zone: "Z1".into(),
            },
        );
        prints_as_sorted_json(
            "zone outcome",
            &super::super::ZoneOutcome {
                cells: 1,
                households: 2,
                level: "sealed".into(),
                residents: 3,
                tasks: 4,
                zone: "Z1".into(),
            },
        );
        prints_as_sorted_json(
            "origins",
            &OriginsOut {
                origins: vec![OriginOut {
                    code: "110000".into(),
                    name: "n".into(),
                    risk: "high".into(),
                    updated_at: "t".into(),
                }],
            },
        );
        prints_as_sorted_json(
            "arrival",
            &ArrivalOut {
                days: 7,
                id: "A1".into(),
                order_kind: None,
                origin: "110000".into(),
                person: "P1".into(),
                regime: "r".into(),
                risk: "high".into(),
                risk_source: "own".into(),
                tests: Vec::new(),
            },
        );
        prints_as_sorted_json(
            "arrived",
            &ArrivedOut {
                arrival: "A1".into(),
                order: Some(order()),
                regime: "r".into(),
                tests: Vec::new(),
            },
        );
        prints_as_sorted_json(
            "sentinel report",
            &SentinelReportOut {
                person: "P1".into(),
                test_due_within_hours: 48,
            },
        );
    }
}
