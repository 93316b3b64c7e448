//! The people of a 协查 request (the "people" kind, docs/cities.md): what travels inside
//! the signed message, the keyed hash each log keeps instead, the checks on the sending
//! side, and the resolution and outcomes on the receiving side.

use super::*;

/// One person of a "people" request as it travels (inside the signed message only): the
/// requester's reference, and exactly one identifier the receiver can resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedPerson {
    #[serde(rename = "ref")]
    pub reference: String,
    /// The resident ID number (居民身份证号), as the receiver's register is keyed by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// Or the receiver's own pseudonym of the person (the `sub` of a code it signed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub relation: String,
    pub last_exposure: Timestamp,
}

/// The identifiers of a request's people, by reference, as kept until delivery.
pub(super) type Identifiers = Vec<NamedPerson>;

/// The keyed hash a log keeps of a person's identifier: HMAC-SHA256 under this city's
/// ID-hash key with its own domain (it is not the register's index hash), 32 hex digits.
pub fn person_ref(key: &[u8], kind: &str, identifier: &str) -> String {
    let data = format!("xikang assist person\0{kind}\0{identifier}");
    hex::encode(xikang_domain::idnumber::keyed_hash(key, data.as_bytes()))
}

/// Settings key under which a request's identifiers wait for delivery: named by a digest
/// of its references, so that it is written before the request's event exists.
pub(super) fn identifiers_key(people: &[AssistPerson]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in people {
        h.update(p.reference.as_bytes());
    }
    format!("assist_people:{}", hex::encode(&h.finalize()[..16]))
}

/// One close contact registered in the peer city, by exactly one identifier.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonIn {
    /// Their resident ID number.
    #[serde(default)]
    pub id_number: Option<String>,
    /// Or the peer's pseudonym of them (the `sub` of a code the peer signed).
    #[serde(default)]
    pub subject: Option<String>,
    /// How they were exposed (同住, 同车厢…): at most 100 characters.
    pub relation: String,
    pub last_exposure: Timestamp,
}

/// One person of a request as listed: never an identifier, only its keyed hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonRowOut {
    #[serde(rename = "ref")]
    pub reference: String,
    pub relation: String,
    pub last_exposure: String,
    /// The resident here it resolved to (incoming requests only).
    pub person: Option<String>,
    pub outcome: Option<String>,
}

pub(super) fn people_rows(people: &[AssistPerson], answer: Option<&Answer>) -> Vec<PersonRowOut> {
    people
        .iter()
        .map(|p| PersonRowOut {
            reference: p.reference.clone(),
            relation: p.relation.clone(),
            last_exposure: p.last_exposure.to_rfc3339(),
            person: p.person.map(|x| x.to_string()),
            outcome: answer.and_then(|a| {
                a.people
                    .iter()
                    .find(|o| o.reference == p.reference)
                    .map(|o| o.outcome.clone())
            }),
        })
        .collect()
}

/// Checks the people of a request: the logged form (keyed hashes) and what travels.
pub(super) fn named_people(
    state: &AppState,
    people: &[PersonIn],
) -> Result<(Vec<AssistPerson>, Identifiers), AppError> {
    if people.len() > MAX_PEOPLE {
        return Err(AppError::bad(
            "invalid_people",
            "at most 200 people in one request",
        ));
    }
    let key = &state.secrets.id_hash_key;
    let mut logged: Vec<AssistPerson> = Vec::with_capacity(people.len());
    let mut travelling = Vec::with_capacity(people.len());
    for p in people {
        if !text_ok(&p.relation, 100) {
            return Err(AppError::bad(
                "invalid_relation",
                "a relation is 1 to 100 characters",
            ));
        }
        let (id_number, subject, reference) = match (&p.id_number, &p.subject) {
            (Some(id), None) => {
                let id = xikang_domain::idnumber::IdNumber::parse(id.trim())
                    .map_err(|e| AppError::bad(e.code(), e.to_string()))?;
                let r = person_ref(key, "id_number", id.expose());
                (Some(id.expose().to_owned()), None, r)
            }
            (None, Some(s)) => {
                let ok = (1..=100).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
                if !ok {
                    return Err(AppError::bad(
                        "invalid_subject",
                        "a subject is a code's `sub`",
                    ));
                }
                (None, Some(s.clone()), person_ref(key, "subject", s))
            }
            _ => {
                return Err(AppError::bad(
                    "invalid_person",
                    "name each person by exactly one of id_number and subject",
                ));
            }
        };
        if logged.iter().any(|l| l.reference == reference) {
            return Err(AppError::bad("duplicate_person", "a person is named twice"));
        }
        logged.push(AssistPerson {
            reference: reference.clone(),
            relation: p.relation.trim().to_owned(),
            last_exposure: p.last_exposure,
            person: None,
        });
        travelling.push(NamedPerson {
            reference,
            id_number,
            subject,
            relation: p.relation.trim().to_owned(),
            last_exposure: p.last_exposure,
        });
    }
    Ok((logged, travelling))
}

/// Every person's outcome, by reference: as the tracer said, or `found` / `not_registered`.
/// A reference the request did not name, an outcome not in [`PERSON_OUTCOMES`], or an
/// action on someone not resolved here is refused.
pub(super) fn person_outcomes(
    people: &[AssistPerson],
    said: &[AssistOutcome],
) -> Result<Vec<AssistOutcome>, AppError> {
    for o in said {
        let Some(p) = people.iter().find(|p| p.reference == o.reference) else {
            return Err(AppError::bad(
                "unknown_ref",
                "the request names no such person",
            ));
        };
        if !PERSON_OUTCOMES.contains(&o.outcome.as_str()) {
            return Err(AppError::bad(
                "invalid_person_outcome",
                format!("an outcome is one of {}", PERSON_OUTCOMES.join(", ")),
            ));
        }
        if p.person.is_none() && o.outcome != "not_registered" {
            return Err(AppError::bad(
                "invalid_person_outcome",
                "this person is not registered here",
            ));
        }
    }
    Ok(people
        .iter()
        .map(|p| AssistOutcome {
            reference: p.reference.clone(),
            outcome: said
                .iter()
                .find(|o| o.reference == p.reference)
                .map(|o| o.outcome.clone())
                .unwrap_or_else(|| {
                    if p.person.is_some() {
                        "found"
                    } else {
                        "not_registered"
                    }
                    .to_owned()
                }),
        })
        .collect())
}

/// Resolves the people of an incoming request in this city's register (blocking: the
/// ID-number index). A message whose people are malformed is refused whole.
pub(super) fn resolve_people(
    state: &AppState,
    people: &[NamedPerson],
) -> Result<Vec<AssistPerson>, AppError> {
    let malformed = || refuse("assist_malformed", "a person of the request is malformed");
    if people.len() > MAX_PEOPLE {
        return Err(malformed());
    }
    let mut out: Vec<AssistPerson> = Vec::with_capacity(people.len());
    for p in people {
        let ref_ok = p.reference.len() == 32 && p.reference.bytes().all(|b| b.is_ascii_hexdigit());
        if !ref_ok || !text_ok(&p.relation, 100) || out.iter().any(|o| o.reference == p.reference) {
            return Err(malformed());
        }
        let person = match (&p.id_number, &p.subject) {
            (Some(id), None) => {
                let id = xikang_domain::idnumber::IdNumber::parse(id).map_err(|_| malformed())?;
                state
                    .store
                    .person_by_id_hash(&id.keyed_hash(&state.secrets.id_hash_key))?
            }
            (None, Some(s)) => state.pseudonyms.person_of(s),
            _ => return Err(malformed()),
        }
        .filter(|x| state.projection.person_exists(*x));
        out.push(AssistPerson {
            reference: p.reference.clone(),
            relation: p.relation.clone(),
            last_exposure: p.last_exposure,
            person,
        });
    }
    Ok(out)
}
