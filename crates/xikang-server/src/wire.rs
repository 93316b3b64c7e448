//! Wire types: what the API sends, separate from domain types. Times are RFC 3339 strings;
//! personal data is masked unless the caller asked to unmask and may.
//!
//! Fields are declared in alphabetical order on purpose: most of these answers used to be
//! built with `serde_json::json!`, whose objects (without the `preserve_order` feature)
//! print their keys sorted, so clients see the same bytes as before. A person, venue or
//! case printed on its own now prints its keys in that same order as in a list.

use crate::api::{ContactCounts, RegisteredCase};
use crate::app::projection::{Appeal, CaseRecord};
use serde::Serialize;
use xikang_domain::event::StoredEvent;
use xikang_domain::mask::mask_name;
use xikang_domain::policy::Policy;
use xikang_domain::policy::{Evaluation, FiredRule, GreenStep};
use xikang_domain::testing::VaccinationStatus;
use xikang_domain::{CheckIn, ScanDirection};
use xikang_domain::{Colour, Person, Timestamp, Venue};
use xikang_store::ChainReport;

/// RFC 3339 for an optional time.
pub fn rfc(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

/// A person, masked by default.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonOut {
    pub area: String,
    pub home_cell: u32,
    pub household: String,
    pub id: String,
    pub id_number: String,
    pub masked: bool,
    pub name: String,
    pub phone: Option<String>,
    pub workplace: Option<String>,
}

impl PersonOut {
    /// The wire form; `unmask` only when the caller may and the read is logged.
    pub fn new(p: &Person, unmask: bool) -> PersonOut {
        PersonOut {
            id: p.id.to_string(),
            name: if unmask {
                p.name.clone()
            } else {
                mask_name(&p.name)
            },
            id_number: if unmask {
                p.id_number.expose().to_owned()
            } else {
                p.id_number.masked()
            },
            phone: p.phone.as_ref().map(|ph| {
                if unmask {
                    ph.expose().to_owned()
                } else {
                    ph.masked()
                }
            }),
            area: p.area.to_string(),
            home_cell: p.home_cell.0,
            household: p.household.to_string(),
            workplace: p.workplace.map(|w| w.to_string()),
            masked: !unmask,
        }
    }
}

/// A venue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VenueOut<'a> {
    pub area: &'a str,
    pub category: &'a str,
    pub district: String,
    pub grid_cell: u32,
    pub id: String,
    pub lat: f64,
    pub lon: f64,
    pub name: &'a str,
    pub place_code: &'a str,
}

impl<'a> From<&'a Venue> for VenueOut<'a> {
    fn from(v: &'a Venue) -> Self {
        VenueOut {
            id: v.id.to_string(),
            place_code: v.place_code.as_str(),
            name: &v.name,
            category: v.category.as_str(),
            area: v.area.as_str(),
            district: v.area.district().to_string(),
            grid_cell: v.cell.0,
            lat: v.lat,
            lon: v.lon,
        }
    }
}

/// A rule that fired, with the event that triggered it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReasonOut<'a> {
    pub rule: &'a str,
    pub colour: Colour,
    pub event: String,
    pub since: String,
    pub until: Option<String>,
    pub zh: &'a str,
    pub en: &'a str,
    /// For a hold: the basis its officials stated (a hold has no machine evidence, so its
    /// words are what the resident can check and appeal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<&'a str>,
}

impl<'a> From<&'a FiredRule> for ReasonOut<'a> {
    fn from(r: &'a FiredRule) -> Self {
        ReasonOut {
            rule: &r.rule,
            colour: r.colour,
            event: r.event.to_string(),
            since: r.since.to_rfc3339(),
            until: rfc(r.until),
            zh: &r.zh,
            en: &r.en,
            basis: None,
        }
    }
}

/// Explanation in both languages.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Explanation<'a> {
    pub zh: &'a str,
    pub en: &'a str,
}

/// `GET /api/v1/people/{id}/code`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CodeOut<'a> {
    pub person: String,
    pub colour: Colour,
    pub colour_zh: &'static str,
    pub reasons: Vec<ReasonOut<'a>>,
    pub explanation: Explanation<'a>,
    pub to_green: &'a [GreenStep],
    pub earliest_green: Option<String>,
    pub last_negative: Option<String>,
    pub test_age_days: Option<u32>,
    /// Doses, full course, booster (shown beside the colour, as Wuxi's 门铃码 did).
    pub vaccination: VaccinationOut,
    pub policy_version: &'a str,
    pub token: &'a str,
    pub issued_at: String,
    pub expires_at: String,
}

impl<'a> CodeOut<'a> {
    /// Assembles the answer from an evaluation and a signed code.
    /// `bases` are the stated bases of the holds among the fired rules' events.
    pub fn new(
        person: xikang_domain::PersonId,
        eval: &'a Evaluation,
        vaccination: VaccinationStatus,
        token: &'a str,
        claims: &xikang_code::CodeClaims,
        bases: &'a [(xikang_domain::EventSeq, String)],
    ) -> Self {
        CodeOut {
            person: person.to_string(),
            colour: eval.colour,
            colour_zh: eval.colour.zh(),
            reasons: eval
                .fired
                .iter()
                .map(|r| ReasonOut {
                    basis: bases
                        .iter()
                        .find(|(seq, _)| *seq == r.event)
                        .map(|(_, b)| b.as_str()),
                    ..ReasonOut::from(r)
                })
                .collect(),
            explanation: Explanation {
                zh: &eval.explanation_zh,
                en: &eval.explanation_en,
            },
            to_green: &eval.to_green,
            earliest_green: rfc(eval.earliest_green),
            last_negative: rfc(eval.last_negative),
            test_age_days: eval.test_age_days,
            vaccination: vaccination.into(),
            policy_version: &eval.policy_version,
            token,
            issued_at: claims.issued_at.to_rfc3339(),
            expires_at: claims.expires_at.to_rfc3339(),
        }
    }
}

/// A person's vaccination status on the wire: the highest dose recorded and what it amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VaccinationOut {
    pub booster: bool,
    pub doses: u8,
    pub first_dose: bool,
    pub full_course: bool,
}

impl From<VaccinationStatus> for VaccinationOut {
    fn from(s: VaccinationStatus) -> Self {
        VaccinationOut {
            doses: s.doses,
            first_dose: s.first_dose(),
            full_course: s.full_course(),
            booster: s.booster(),
        }
    }
}

/// A case.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseOut {
    pub course: CourseOut,
    pub discharged_at: Option<String>,
    pub id: String,
    pub isolated_at: Option<String>,
    pub kind: xikang_domain::event::CaseKind,
    pub onset: Option<String>,
    pub person: String,
    pub registered_at: String,
    pub sampled_at: Option<String>,
}

impl From<&CaseRecord> for CaseOut {
    fn from(c: &CaseRecord) -> Self {
        CaseOut {
            course: CourseOut::from(&c.course),
            id: c.id.to_string(),
            person: c.person.to_string(),
            kind: c.kind,
            onset: rfc(c.onset),
            sampled_at: rfc(c.sampled_at),
            isolated_at: rfc(c.isolated_at),
            registered_at: c.registered_at.to_rfc3339(),
            discharged_at: rfc(c.discharged_at),
        }
    }
}

/// Where a case's course stands, with who took each step and when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CourseOut {
    pub closed_at: Option<String>,
    pub died_at: Option<String>,
    /// The designated hospital (`S…`) and when the case was moved there.
    pub hospital: Option<StepOut>,
    /// The city CDC's re-check.
    pub recheck: Option<StepOut>,
    /// The district CDC's screen.
    pub screen: Option<StepOut>,
    pub stage: &'static str,
}

/// One step of a course: its verdict or place, the official (`role:name`), the time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepOut {
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<xikang_domain::case::Verdict>,
}

impl From<&xikang_domain::case::Course> for CourseOut {
    fn from(c: &xikang_domain::case::Course) -> Self {
        let decided = |d: &(xikang_domain::case::Verdict, String, Timestamp)| StepOut {
            at: d.2.to_rfc3339(),
            by: Some(d.1.clone()),
            site: None,
            verdict: Some(d.0),
        };
        CourseOut {
            stage: c.stage.as_str(),
            screen: c.screened.as_ref().map(decided),
            recheck: c.rechecked.as_ref().map(decided),
            hospital: c.hospital.map(|(site, at)| StepOut {
                at: at.to_rfc3339(),
                by: None,
                site: Some(site.to_string()),
                verdict: None,
            }),
            closed_at: rfc(c.closed_at),
            died_at: rfc(c.died_at),
        }
    }
}

/// A step of a case's course taken: the case as it stands now, and the monitoring order a
/// discharge issued (under the policy's `after_discharge` regime).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseStepOut {
    pub case: CaseOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitoring_order: Option<String>,
}

// ---------------------------------------------------------------------------------------
// The resource answers of `/api/v1` (`crate::api`).

/// `GET /api/v1/people`: one page of people, masked, and the id to continue after.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeoplePageOut {
    pub items: Vec<PersonOut>,
    pub next_after: Option<String>,
}

/// `POST /api/v1/people/lookup`: the person an ID number belongs to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonRefOut {
    pub id: String,
}

/// `GET /api/v1/venues`: one page of venues and the id to continue after.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VenuesPageOut<'a> {
    pub items: Vec<VenueOut<'a>>,
    pub next_after: Option<String>,
}

/// One check-in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckInOut {
    pub at: String,
    pub direction: ScanDirection,
    pub person: String,
    pub venue: String,
}

impl From<&CheckIn> for CheckInOut {
    fn from(c: &CheckIn) -> Self {
        CheckInOut {
            at: c.at.to_rfc3339(),
            direction: c.direction,
            person: c.person.to_string(),
            venue: c.venue.to_string(),
        }
    }
}

/// A list answer: `{"items": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemsOut<T> {
    pub items: Vec<T>,
}

/// `POST /api/v1/test-results`: how many events were recorded, and the first one's number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordedOut {
    pub first_event: Option<String>,
    pub recorded: usize,
}

impl RecordedOut {
    /// What a write of `stored` events came to.
    pub fn of(stored: &[StoredEvent]) -> RecordedOut {
        RecordedOut {
            first_event: stored.first().map(|e| e.seq.to_string()),
            recorded: stored.len(),
        }
    }
}

/// `POST /api/v1/cases`: the case registered and the contacts the data shows for it at once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegisteredCaseOut {
    /// `None` while the tracing index loads.
    pub contacts: Option<ContactCounts>,
    pub course: CourseOut,
    pub discharged_at: Option<String>,
    pub id: String,
    pub isolated_at: Option<String>,
    pub kind: xikang_domain::event::CaseKind,
    pub onset: Option<String>,
    pub person: String,
    pub registered_at: String,
    pub sampled_at: Option<String>,
}

impl From<RegisteredCase> for RegisteredCaseOut {
    fn from(r: RegisteredCase) -> Self {
        let c = r.case;
        RegisteredCaseOut {
            contacts: r.contacts,
            course: c.course,
            discharged_at: c.discharged_at,
            id: c.id,
            isolated_at: c.isolated_at,
            kind: c.kind,
            onset: c.onset,
            person: c.person,
            registered_at: c.registered_at,
            sampled_at: c.sampled_at,
        }
    }
}

/// One event of the authority log, with its place in the hash chain.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EventOut<'a> {
    pub actor: &'a str,
    pub at: String,
    pub basis: &'a str,
    /// The body printed through a `Value`, so its keys stay sorted as auditors have always
    /// read them (the body's variants declare their fields in the domain's order).
    pub body: serde_json::Value,
    pub hash: String,
    pub prev_hash: String,
    pub seq: u64,
}

impl<'a> From<&'a StoredEvent> for EventOut<'a> {
    fn from(e: &'a StoredEvent) -> Self {
        EventOut {
            actor: &e.actor,
            at: e.at.to_rfc3339(),
            basis: &e.basis,
            body: serde_json::to_value(&e.body).unwrap_or(serde_json::Value::Null),
            hash: hex::encode(e.hash),
            prev_hash: hex::encode(e.prev_hash),
            seq: e.seq.0,
        }
    }
}

/// `GET /api/v1/policy`: the policy in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyOut<'a> {
    pub code_ttl_secs: u32,
    pub effective_from: String,
    pub retention_days: u32,
    pub version: &'a str,
}

impl<'a> From<&'a Policy> for PolicyOut<'a> {
    fn from(p: &'a Policy) -> Self {
        PolicyOut {
            code_ttl_secs: p.code_ttl_secs(),
            effective_from: p.effective_from().to_rfc3339(),
            retention_days: p.retention_days(),
            version: p.version(),
        }
    }
}

/// `POST /api/v1/tokens`: the token, shown once, its id (to list and revoke it by), its
/// role and its expiry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenOut {
    pub expires_at: String,
    pub id: String,
    pub role: &'static str,
    pub token: String,
}

/// `GET /api/v1/audit`: the hash chain's verification.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditOut {
    pub first_error: Option<String>,
    pub head: String,
    pub ok: bool,
    pub verified: u64,
}

impl From<ChainReport> for AuditOut {
    fn from(r: ChainReport) -> Self {
        AuditOut {
            ok: r.first_error.is_none(),
            first_error: r.first_error.map(|e| e.to_string()),
            head: hex::encode(r.head),
            verified: r.verified,
        }
    }
}

/// `GET /api/v1/audit/consistency`: the RFC 6962 consistency proof between two sizes, each
/// hash in base64.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ConsistencyOut {
    pub from: u64,
    pub proof: Vec<String>,
    pub to: u64,
}

impl ConsistencyOut {
    /// The answer for a proof from `from` to `to` events.
    pub fn new(from: u64, to: u64, proof: &[[u8; 32]]) -> ConsistencyOut {
        ConsistencyOut {
            from,
            proof: proof.iter().map(xikang_code::note::encode_hash).collect(),
            to,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Batches (`crate::scan`, `crate::ping`).

/// Why one item of a batch was refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemErrorOut {
    pub code: &'static str,
    pub message: String,
}

/// One refused item of a batch, by its place in the batch: `{"error", "index"}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemRefusedOut {
    pub error: ItemErrorOut,
    pub index: usize,
}

impl ItemRefusedOut {
    /// Item `index` was refused with `code` and `message`.
    pub fn new(index: usize, code: &'static str, message: String) -> Self {
        ItemRefusedOut {
            error: ItemErrorOut { code, message },
            index,
        }
    }
}

/// `POST /api/v1/pings`: how many pings were stored, and the refused ones.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PingsOut {
    pub accepted: usize,
    pub rejected: Vec<ItemRefusedOut>,
}

/// One answer of a batch of scans: the scan's decision, or why it was refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ScanItemOut {
    Answered(ScanResultOut),
    Refused(ItemRefusedOut),
}

/// An accepted scan in a batch: the single scan's answer and its place in the batch.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScanResultOut {
    pub colour: Colour,
    pub decision: crate::scan::Decision,
    pub hours_since_negative: Option<u32>,
    pub index: usize,
    pub reason: &'static str,
    pub vaccination: VaccinationOut,
}

impl ScanItemOut {
    /// Item `index`'s answer.
    pub fn new(index: usize, a: Result<crate::scan::ScanAnswer, crate::error::ItemError>) -> Self {
        match a {
            Ok(a) => ScanItemOut::Answered(ScanResultOut {
                colour: a.colour,
                decision: a.decision,
                hours_since_negative: a.hours_since_negative,
                index,
                reason: a.reason,
                vaccination: a.vaccination,
            }),
            Err(e) => ScanItemOut::Refused(ItemRefusedOut::new(index, e.code, e.message)),
        }
    }
}

/// `POST /api/v1/scans` with a batch: how many were accepted and recorded, and each answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScansOut {
    pub accepted: usize,
    pub recorded: usize,
    pub results: Vec<ScanItemOut>,
}

// ---------------------------------------------------------------------------------------
// Appeals (`crate::appeal`).

/// `POST /api/v1/people/{id}/appeals`: the appeal filed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppealFiledOut {
    pub appeal: String,
    pub person: String,
}

/// `POST /api/v1/appeals/{id}/answer`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppealAnsweredOut {
    pub answered: bool,
    pub appeal: String,
}

/// An official's answer to an appeal. Times as the log's numbers, as the list always
/// printed them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AnswerOut<'a> {
    pub at: Timestamp,
    pub by: &'a str,
    pub text: &'a str,
}

/// An appeal as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppealOut<'a> {
    pub answer: Option<AnswerOut<'a>>,
    pub filed_at: Timestamp,
    pub filed_by: &'a str,
    pub id: xikang_domain::EventSeq,
    pub person: xikang_domain::PersonId,
    pub reason: &'a str,
}

impl<'a> From<&'a Appeal> for AppealOut<'a> {
    fn from(a: &'a Appeal) -> Self {
        AppealOut {
            answer: a.answer.as_ref().map(|x| AnswerOut {
                at: x.at,
                by: &x.by,
                text: &x.text,
            }),
            filed_at: a.filed_at,
            filed_by: &a.filed_by,
            id: a.id,
            person: a.person,
            reason: &a.reason,
        }
    }
}

/// `GET /api/v1/appeals`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppealsOut<'a> {
    pub appeals: Vec<AppealOut<'a>>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A typed answer prints the same bytes as the `json!` value it replaced: the same
    /// keys, sorted.
    pub fn prints_as_sorted_json<T: Serialize>(what: &str, out: &T) {
        let typed = serde_json::to_string(out).unwrap();
        let value = serde_json::to_value(out).unwrap().to_string();
        assert_eq!(typed, value, "{what}: fields out of alphabetical order");
    }

    fn case() -> CaseOut {
        CaseOut {
            course: CourseOut {
                closed_at: None,
                died_at: None,
                hospital: None,
                recheck: None,
                screen: None,
                stage: "confirmed",
            },
            discharged_at: None,
            id: "C1".into(),
            isolated_at: None,
            kind: xikang_domain::event::CaseKind::Confirmed,
            onset: Some("2022-03-13T00:00:00Z".into()),
            person: "P1".into(),
            registered_at: "2022-03-14T00:00:00Z".into(),
            sampled_at: None,
        }
    }

    #[test]
    fn every_resource_answer_prints_its_keys_in_the_order_json_did() {
        let person = PersonOut {
            area: "320201001001".into(),
            home_cell: 1,
            household: "H1".into(),
            id: "P1".into(),
            id_number: "3202**********1234".into(),
            masked: true,
            name: "王*".into(),
            phone: None,
            workplace: None,
        };
        prints_as_sorted_json(
            "people",
            &PeoplePageOut {
                items: vec![person],
                next_after: Some("P1".into()),
            },
        );
        prints_as_sorted_json("lookup", &PersonRefOut { id: "P1".into() });
        prints_as_sorted_json(
            "venues",
            &VenuesPageOut {
                items: vec![VenueOut {
                    area: "320201001001",
                    category: "market",
                    district: "320201".into(),
                    grid_cell: 1,
                    id: "V1".into(),
                    lat: 31.5,
                    lon: 120.3,
                    name: "m",
                    place_code: "X",
                }],
                next_after: None,
            },
        );
        prints_as_sorted_json(
            "scans",
            &ItemsOut {
                items: vec![CheckInOut {
                    at: "t".into(),
                    direction: ScanDirection::Entry,
                    person: "P1".into(),
                    venue: "V1".into(),
                }],
            },
        );
        prints_as_sorted_json(
            "recorded",
            &RecordedOut {
                first_event: Some("E1".into()),
                recorded: 1,
            },
        );
        prints_as_sorted_json(
            "cases",
            &ItemsOut {
                items: vec![case()],
            },
        );
        prints_as_sorted_json(
            "registered",
            &RegisteredCaseOut::from(RegisteredCase {
                case: case(),
                contacts: Some(ContactCounts {
                    close: 1,
                    companions: None,
                    secondary: 2,
                }),
            }),
        );
        prints_as_sorted_json(
            "vaccination",
            &VaccinationOut::from(VaccinationStatus { doses: 3 }),
        );
        prints_as_sorted_json(
            "policy",
            &PolicyOut {
                code_ttl_secs: 300,
                effective_from: "t".into(),
                retention_days: 21,
                version: "v1",
            },
        );
        prints_as_sorted_json(
            "token",
            &TokenOut {
                expires_at: "t".into(),
                id: "TK1".into(),
                role: "admin",
                token: "x".into(),
            },
        );
        prints_as_sorted_json(
            "pings",
            &PingsOut {
                accepted: 1,
                rejected: vec![ItemRefusedOut::new(1, "invalid_ping", "no".into())],
            },
        );
        prints_as_sorted_json(
            "scans",
            &ScansOut {
                accepted: 1,
                recorded: 1,
                results: vec![
                    ScanItemOut::Answered(ScanResultOut {
                        colour: Colour::Green,
                        decision: crate::scan::Decision::Allow,
                        hours_since_negative: Some(20),
                        index: 0,
                        reason: "green",
                        vaccination: VaccinationStatus { doses: 2 }.into(),
                    }),
                    ScanItemOut::Refused(ItemRefusedOut::new(1, "invalid_scan", "no".into())),
                ],
            },
        );
        prints_as_sorted_json(
            "appeal filed",
            &AppealFiledOut {
                appeal: "E1".into(),
                person: "P1".into(),
            },
        );
        prints_as_sorted_json(
            "appeal answered",
            &AppealAnsweredOut {
                answered: true,
                appeal: "E1".into(),
            },
        );
        let appeal = Appeal {
            id: xikang_domain::EventSeq(1),
            person: xikang_domain::PersonId(1),
            reason: "wrong".into(),
            filed_at: Timestamp(1),
            filed_by: "resident:P1".into(),
            answer: Some(crate::app::projection::Answer {
                text: "checked".into(),
                by: "tracer:t".into(),
                at: Timestamp(2),
            }),
        };
        prints_as_sorted_json(
            "appeals",
            &AppealsOut {
                appeals: vec![AppealOut::from(&appeal)],
            },
        );
        assert_eq!(
            serde_json::to_value(AppealOut::from(&appeal)).unwrap(),
            serde_json::to_value(&appeal).unwrap(),
            "an appeal lists as the projection's record always printed"
        );
        prints_as_sorted_json(
            "audit",
            &AuditOut {
                first_error: None,
                head: "00".into(),
                ok: true,
                verified: 1,
            },
        );
    }
}
