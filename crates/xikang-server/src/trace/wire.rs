//! The tracing answers as wire types: what `/cases/{id}/contacts`, `/cases/{id}/sources`
//! and `/clusters` send back, converted from the tracing crate's results with constructors
//! (a venue's name comes from the projection, so those take it as an argument).
//!
//! Fields are declared in alphabetical order on purpose: these answers used to be built
//! with `serde_json::json!`, whose objects print their keys sorted, and clients see the
//! same bytes as before.

use super::{ContactStep, Status};
use serde::Serialize;
use xikang_domain::Timestamp;
use xikang_trace::{ClusterEdge, CompanionCell, Evidence, Interval, Link};

/// Whole minutes of a span in seconds (rounded down).
pub(super) fn minutes(secs: i64) -> i64 {
    secs / 60
}

fn rfc(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// A time span.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntervalOut {
    pub end: String,
    pub start: String,
}

impl From<&Interval> for IntervalOut {
    fn from(i: &Interval) -> Self {
        IntervalOut {
            end: rfc(i.end),
            start: rfc(i.start),
        }
    }
}

/// The spans of a presence.
pub fn intervals(v: &[Interval]) -> Vec<IntervalOut> {
    v.iter().map(IntervalOut::from).collect()
}

/// Why a person is on a case's contact list: one piece of evidence, by the rule that
/// found it. Untagged: each kind carries its own `rule`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EvidenceOut {
    Close(CloseEvidenceOut),
    Secondary(SecondaryEvidenceOut),
    Companion(CompanionEvidenceOut),
}

impl EvidenceOut {
    /// The rule that found it (`venue`, `household`, …, `secondary`, `companion`).
    pub fn rule(&self) -> &'static str {
        match self {
            EvidenceOut::Close(e) => e.rule,
            EvidenceOut::Secondary(e) => e.rule,
            EvidenceOut::Companion(e) => e.rule,
        }
    }

    /// Where, when it was at a venue.
    pub fn venue_name(&self) -> Option<&str> {
        match self {
            EvidenceOut::Close(e) => e.venue_name.as_deref(),
            EvidenceOut::Secondary(e) => e.venue_name.as_deref(),
            EvidenceOut::Companion(_) => None,
        }
    }

    /// Minutes together, when the rule measures them.
    pub fn overlap_minutes(&self) -> Option<i64> {
        match self {
            EvidenceOut::Close(e) => Some(e.overlap_minutes),
            EvidenceOut::Secondary(_) => None,
            EvidenceOut::Companion(e) => Some(e.overlap_minutes),
        }
    }
}

/// A close contact's evidence: the case's and the contact's presence where they overlapped.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CloseEvidenceOut {
    pub case_presence: Vec<IntervalOut>,
    pub contact_presence: Vec<IntervalOut>,
    pub first: String,
    pub last: String,
    pub overlap_minutes: i64,
    pub rule: &'static str,
    pub venue: Option<String>,
    pub venue_name: Option<String>,
}

impl CloseEvidenceOut {
    /// The evidence, with its venue's name.
    pub fn new(e: &Evidence, venue_name: Option<String>) -> Self {
        CloseEvidenceOut {
            case_presence: intervals(&e.case_presence),
            contact_presence: intervals(&e.contact_presence),
            first: rfc(e.first),
            last: rfc(e.last),
            overlap_minutes: minutes(e.overlap_secs),
            rule: e.rule.as_str(),
            venue: e.venue.map(|v| v.to_string()),
            venue_name,
        }
    }
}

/// A secondary contact's evidence: the close contacts (`via`) they shared a place with.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecondaryEvidenceOut {
    pub first: String,
    pub last: String,
    /// Always `secondary`.
    pub rule: &'static str,
    /// The rule of the shared place (`venue`, `household`, `workplace`).
    pub shared: &'static str,
    pub venue: Option<String>,
    pub venue_name: Option<String>,
    pub via: Vec<String>,
}

impl SecondaryEvidenceOut {
    /// The evidence of one group of secondary contacts, with its venue's name.
    pub fn new(g: &xikang_trace::SharedGroup, venue_name: Option<String>) -> Self {
        SecondaryEvidenceOut {
            first: rfc(g.first),
            last: rfc(g.last),
            rule: "secondary",
            shared: g.rule.as_str(),
            venue: g.venue.map(|v| v.to_string()),
            venue_name,
            via: g.via.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A companion's evidence: time in the same cell of the ping grid as the case.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CompanionEvidenceOut {
    pub case_hours_in_cell: i64,
    pub case_presence: Vec<IntervalOut>,
    pub cell: u32,
    pub cell_metres: Option<u32>,
    pub contact_hours_in_cell: i64,
    pub contact_presence: Vec<IntervalOut>,
    pub first: String,
    pub last: String,
    pub overlap_minutes: i64,
    /// Always `companion`.
    pub rule: &'static str,
}

impl CompanionEvidenceOut {
    /// The evidence of one shared cell on a grid of `cell_metres`.
    pub fn new(cell: &CompanionCell, cell_metres: Option<u32>) -> Self {
        CompanionEvidenceOut {
            case_hours_in_cell: cell.case_secs_in_cell / 3_600,
            case_presence: intervals(&cell.case_presence),
            cell: cell.cell.0,
            cell_metres,
            contact_hours_in_cell: cell.companion_secs_in_cell / 3_600,
            contact_presence: intervals(&cell.companion_presence),
            first: rfc(cell.first),
            last: rfc(cell.last),
            overlap_minutes: minutes(cell.overlap_secs),
            rule: "companion",
        }
    }
}

/// Where the case was in the tracing window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PresenceOut {
    pub presence: Vec<IntervalOut>,
    pub venue: String,
    pub venue_name: Option<String>,
}

/// Whether companions are on the list yet (the ping index loads after start).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CompanionsOut {
    pub cell_metres: Option<u32>,
    pub ready: bool,
}

/// `GET /cases/{id}/contacts`: one page of the filtered contact list, with the case's
/// window and presence; `count` is the whole filtered list's length.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactsPageOut {
    pub case: String,
    pub case_presence: Vec<PresenceOut>,
    pub companions: CompanionsOut,
    pub count: usize,
    pub items: Vec<super::ContactRow>,
    pub offset: usize,
    pub policy_version: String,
    pub window: IntervalOut,
}

/// `POST /cases/{id}/contacts/{person}`: where the contact stands after the step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactStepOut {
    pub case: String,
    pub order: Option<String>,
    pub person: String,
    pub status: Status,
}

impl From<&ContactStep> for ContactStepOut {
    fn from(s: &ContactStep) -> Self {
        ContactStepOut {
            case: s.case.to_string(),
            order: s.order.map(|o| o.to_string()),
            person: s.person.to_string(),
            status: s.status,
        }
    }
}

/// One venue a possible source shared with the case.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceVenueOut {
    pub overlap_minutes: i64,
    pub venue: String,
    pub venue_name: Option<String>,
}

/// One person who was with the case before onset.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceOut {
    /// Their case, when they are one.
    pub case: Option<String>,
    pub first_exposure: String,
    pub last_exposure: String,
    pub overlap_minutes: i64,
    pub person: String,
    pub venues: Vec<SourceVenueOut>,
}

/// `GET /cases/{id}/sources`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourcesOut {
    pub case: String,
    pub items: Vec<SourceOut>,
}

/// A cluster in the list: its name and sizes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterSummaryOut {
    pub cases: usize,
    pub edges: usize,
    pub id: String,
    pub venues: usize,
}

/// A venue in a cluster.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterVenueOut {
    pub name: Option<String>,
    pub venue: String,
}

/// A link between two cases of a cluster: a contact (by a rule) or a shared venue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EdgeOut {
    pub first: String,
    pub from: String,
    pub last: String,
    /// `contact` or `shared_venue`.
    pub link: &'static str,
    pub overlap_minutes: i64,
    /// The contact's rule; a shared venue has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    pub to: String,
    pub venue: Option<String>,
}

impl From<&ClusterEdge> for EdgeOut {
    fn from(e: &ClusterEdge) -> Self {
        let (link, rule, venue, first, last, overlap_secs) = match &e.link {
            Link::Contact {
                rule,
                venue,
                first,
                last,
                overlap_secs,
            } => (
                "contact",
                Some(rule.as_str()),
                venue.map(|v| v.to_string()),
                *first,
                *last,
                *overlap_secs,
            ),
            Link::SharedVenue {
                venue,
                first,
                last,
                overlap_secs,
            } => (
                "shared_venue",
                None,
                Some(venue.to_string()),
                *first,
                *last,
                *overlap_secs,
            ),
        };
        EdgeOut {
            first: rfc(first),
            from: e.from.to_string(),
            last: rfc(last),
            link,
            overlap_minutes: minutes(overlap_secs),
            rule,
            to: e.to.to_string(),
            venue,
        }
    }
}

/// `GET /clusters/{id}`: the cases, their venues and the links between them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClusterOut {
    pub cases: Vec<String>,
    pub edges: Vec<EdgeOut>,
    pub id: String,
    pub venues: Vec<ClusterVenueOut>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ItemsOut;
    use crate::wire::tests::prints_as_sorted_json;
    use xikang_domain::event::ContactKind;

    fn span() -> IntervalOut {
        IntervalOut {
            end: "2022-03-13T10:00:00Z".into(),
            start: "2022-03-13T09:00:00Z".into(),
        }
    }

    fn row(evidence: EvidenceOut) -> super::super::ContactRow {
        super::super::ContactRow {
            dismissed_reason: Some("not there".into()),
            district: Some("320201".into()),
            evidence: vec![evidence],
            first_exposure: "t".into(),
            kind: ContactKind::Close,
            last_exposure: "t".into(),
            order: Some("Q1".into()),
            overlap_minutes: 60,
            person: "P2".into(),
            rules: vec!["venue"],
            status: Status::Dismissed,
        }
    }

    #[test]
    fn every_tracing_answer_prints_its_keys_in_the_order_json_did() {
        let close = EvidenceOut::Close(CloseEvidenceOut {
            case_presence: vec![span()],
            contact_presence: vec![span()],
            first: "t".into(),
            last: "t".into(),
            overlap_minutes: 60,
            rule: "venue",
            venue: Some("V1".into()),
            venue_name: None,
        });
        let secondary = EvidenceOut::Secondary(SecondaryEvidenceOut {
            first: "t".into(),
            last: "t".into(),
            rule: "secondary",
            shared: "household",
            venue: None,
            venue_name: None,
            via: vec!["P2".into()],
        });
        let companion = EvidenceOut::Companion(CompanionEvidenceOut {
            case_hours_in_cell: 2,
            case_presence: vec![span()],
            cell: 7,
            cell_metres: Some(800),
            contact_hours_in_cell: 2,
            contact_presence: vec![span()],
            first: "t".into(),
            last: "t".into(),
            overlap_minutes: 30,
            rule: "companion",
        });
        prints_as_sorted_json(
            "contacts",
            &ContactsPageOut {
                case: "C1".into(),
                case_presence: vec![PresenceOut {
                    presence: vec![span()],
                    venue: "V1".into(),
                    venue_name: Some("m".into()),
                }],
                companions: CompanionsOut {
                    cell_metres: None,
                    ready: false,
                },
                count: 3,
                items: vec![row(close), row(secondary), row(companion)],
                offset: 0,
                policy_version: "v1".into(),
                window: span(),
            },
        );
        prints_as_sorted_json(
            "step",
            &ContactStepOut {
                case: "C1".into(),
                order: None,
                person: "P2".into(),
                status: Status::Confirmed,
            },
        );
        prints_as_sorted_json(
            "sources",
            &SourcesOut {
                case: "C1".into(),
                items: vec![SourceOut {
                    case: None,
                    first_exposure: "t".into(),
                    last_exposure: "t".into(),
                    overlap_minutes: 1,
                    person: "P3".into(),
                    venues: vec![SourceVenueOut {
                        overlap_minutes: 1,
                        venue: "V1".into(),
                        venue_name: None,
                    }],
                }],
            },
        );
        prints_as_sorted_json(
            "clusters",
            &ItemsOut {
                items: vec![ClusterSummaryOut {
                    cases: 2,
                    edges: 1,
                    id: "K1".into(),
                    venues: 1,
                }],
            },
        );
        let edge = |rule| EdgeOut {
            first: "t".into(),
            from: "C1".into(),
            last: "t".into(),
            link: "contact",
            overlap_minutes: 5,
            rule,
            to: "C2".into(),
            venue: None,
        };
        prints_as_sorted_json(
            "cluster",
            &ClusterOut {
                cases: vec!["C1".into(), "C2".into()],
                edges: vec![edge(Some("venue")), edge(None)],
                id: "K1".into(),
                venues: vec![ClusterVenueOut {
                    name: None,
                    venue: "V1".into(),
                }],
            },
        );
    }
}
