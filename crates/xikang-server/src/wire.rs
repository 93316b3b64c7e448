//! Wire types: what the API sends, separate from domain types. Times are RFC 3339 strings;
//! personal data is masked unless the caller asked to unmask and may.

use crate::app::projection::CaseRecord;
use serde::Serialize;
use xikang_domain::mask::mask_name;
use xikang_domain::policy::{Evaluation, FiredRule, GreenStep};
use xikang_domain::testing::VaccinationStatus;
use xikang_domain::{Colour, Person, Timestamp, Venue};

/// RFC 3339 for an optional time.
pub fn rfc(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

/// A person, masked by default.
#[derive(Debug, Serialize)]
pub struct PersonOut {
    pub id: String,
    pub name: String,
    pub id_number: String,
    pub phone: Option<String>,
    pub area: String,
    pub home_cell: u32,
    pub household: String,
    pub workplace: Option<String>,
    pub masked: bool,
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
#[derive(Debug, Serialize)]
pub struct VenueOut<'a> {
    pub id: String,
    pub place_code: &'a str,
    pub name: &'a str,
    pub category: &'a str,
    pub area: &'a str,
    pub district: String,
    pub grid_cell: u32,
    pub lat: f64,
    pub lon: f64,
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
#[derive(Debug, Serialize)]
pub struct ReasonOut<'a> {
    pub rule: &'a str,
    pub colour: Colour,
    pub event: String,
    pub since: String,
    pub until: Option<String>,
    pub zh: &'a str,
    pub en: &'a str,
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
        }
    }
}

/// Explanation in both languages.
#[derive(Debug, Serialize)]
pub struct Explanation<'a> {
    pub zh: &'a str,
    pub en: &'a str,
}

/// `GET /api/v1/people/{id}/code`.
#[derive(Debug, Serialize)]
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
    pub fn new(
        person: xikang_domain::PersonId,
        eval: &'a Evaluation,
        vaccination: VaccinationStatus,
        token: &'a str,
        claims: &xikang_code::CodeClaims,
    ) -> Self {
        CodeOut {
            person: person.to_string(),
            colour: eval.colour,
            colour_zh: eval.colour.zh(),
            reasons: eval.fired.iter().map(ReasonOut::from).collect(),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VaccinationOut {
    pub doses: u8,
    pub first_dose: bool,
    pub full_course: bool,
    pub booster: bool,
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
#[derive(Debug, Serialize)]
pub struct CaseOut {
    pub id: String,
    pub person: String,
    pub kind: xikang_domain::event::CaseKind,
    pub onset: Option<String>,
    pub sampled_at: Option<String>,
    pub isolated_at: Option<String>,
    pub registered_at: String,
    pub discharged_at: Option<String>,
}

impl From<&CaseRecord> for CaseOut {
    fn from(c: &CaseRecord) -> Self {
        CaseOut {
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
