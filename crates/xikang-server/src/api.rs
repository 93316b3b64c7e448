//! The resource handlers of `/api/v1` other than scans: people and their codes, venues,
//! check-ins, test results, cases, the authority log, the policy, the trust list, tokens.

use crate::app::{Actor, Role, authorise};
use crate::auth::{new_token, token_digest};
use crate::error::AppError;
use crate::json::parse;
use crate::state::{AppState, IssuedCode};
use crate::wire::{CaseOut, PersonOut, VenueOut, parse_case_id, parse_person_id, parse_venue_id};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use xikang_domain::event::{CaseKind, EventBody, NewEvent};
use xikang_domain::idnumber::IdNumber;
use xikang_domain::time::DAY;
use xikang_domain::{AreaCode, CaseId, EventSeq, PersonId, TestOutcome, Timestamp, VenueId};
use xikang_store::ApiToken;

const STAFF: &[Role] = &[Role::Admin, Role::Tracer, Role::GridWorker];

/// Finds a person the caller may see.
pub(crate) fn visible_person(
    state: &AppState,
    caller: &Actor,
    id: &str,
) -> Result<PersonId, AppError> {
    let person = parse_person_id(id)
        .ok_or_else(|| AppError::bad("invalid_person_id", "a person id looks like P123"))?;
    Ok(authorise::person(state, caller, person)?.id())
}

pub(crate) fn blocking_err(e: tokio::task::JoinError) -> AppError {
    AppError::Internal(format!("blocking task: {e}"))
}

/// An optional RFC 3339 time from a request, refused as `invalid_time`.
pub(crate) fn parse_time(s: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    s.map(|s| Timestamp::parse_rfc3339(s).map_err(|e| AppError::bad("invalid_time", e.to_string())))
        .transpose()
}

/// The person's code now, if the caller may see it.
fn current_code(state: &AppState, caller: &Actor, id: &str) -> Result<Arc<IssuedCode>, AppError> {
    let person = visible_person(state, caller, id)?;
    let now = crate::now();
    let (eval, _) = state
        .evaluate(person, now)
        .ok_or_else(|| AppError::not_found("unknown_person", "no such person"))?;
    Ok(state.code(person, &eval, now))
}

/// `GET /api/v1/people/{id}/code`: colour, reasons, token, expiry.
pub async fn get_code(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let code = current_code(&state, &caller, &id)?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        code.json.clone(),
    )
        .into_response())
}

/// `GET /api/v1/people/{id}/code.svg` and `.png`: the code as a QR image.
pub async fn get_code_image(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path((id, format)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let code = current_code(&state, &caller, &id)?;
    let mut resp = match format.as_str() {
        "code.svg" => xikang_code::qr_svg(&code.token).into_response(),
        "code.png" => xikang_code::qr_png(&code.token, 6).into_response(),
        _ => {
            return Err(AppError::not_found(
                "not_found",
                "use code, code.svg or code.png",
            ));
        }
    };
    let ct = if format == "code.svg" {
        "image/svg+xml"
    } else {
        "image/png"
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub struct PersonQuery {
    #[serde(default)]
    unmask: bool,
    #[serde(default)]
    purpose: Option<String>,
}

/// `GET /api/v1/people/{id}`: masked unless `?unmask=true` by an admin or tracer, which is
/// logged in the authority log with its purpose.
pub async fn get_person(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<PersonQuery>,
) -> Result<Response, AppError> {
    let person = parse_person_id(&id)
        .ok_or_else(|| AppError::bad("invalid_person_id", "a person id looks like P123"))?;
    let unmask = if q.unmask { Some(q.purpose) } else { None };
    Ok(Json(read_person(&state, &caller, person, unmask).await?).into_response())
}

/// A person's record (the query behind `GET /api/v1/people/{id}` and the person pages),
/// masked; with `unmask = Some(purpose)` unmasked for an admin or tracer, after the read
/// is recorded as `PersonalDataRead` with that purpose (which must not be blank).
pub async fn read_person(
    state: &AppState,
    actor: &Actor,
    person: PersonId,
    unmask: Option<Option<String>>,
) -> Result<PersonOut, AppError> {
    let person = authorise::person(state, actor, person)?.id();
    if let Some(purpose) = &unmask {
        actor.require(&[Role::Admin, Role::Tracer], "unmasking personal data")?;
        let purpose = purpose
            .clone()
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| {
                AppError::bad(
                    "purpose_required",
                    "unmasking personal data needs a ?purpose=",
                )
            })?;
        state
            .record(vec![NewEvent {
                at: crate::now(),
                actor: actor.actor(),
                basis: purpose.clone(),
                body: EventBody::PersonalDataRead { person, purpose },
            }])
            .await?;
    }
    let store = state.store.clone();
    let p = tokio::task::spawn_blocking(move || store.person(person))
        .await
        .map_err(blocking_err)??;
    let p =
        p.ok_or_else(|| AppError::not_found("unknown_person", format!("no person {person}")))?;
    Ok(PersonOut::new(&p, unmask.is_some()))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

fn list_area(caller: &Actor, area: Option<&str>) -> Result<AreaCode, AppError> {
    let area = match area {
        Some(a) => AreaCode::parse(a).map_err(|e| AppError::bad("invalid_area", e.to_string()))?,
        None => caller.area.clone(),
    };
    if caller.covers(&area) {
        Ok(area)
    } else {
        Err(AppError::Forbidden(
            "this area is outside your jurisdiction",
        ))
    }
}

/// `GET /api/v1/people?area=&after=&limit=`: masked, keyset-paginated.
pub async fn list_people(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    caller.require(STAFF, "listing people")?;
    let area = list_area(&caller, q.area.as_deref())?;
    let after = match q.after.as_deref() {
        Some(a) => Some(
            parse_person_id(a)
                .ok_or_else(|| AppError::bad("invalid_person_id", "after= takes a person id"))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let store = state.store.clone();
    let people = tokio::task::spawn_blocking(move || store.list_people(&area, after, limit))
        .await
        .map_err(blocking_err)??;
    let next = if people.len() == limit as usize {
        people.last().map(|p| p.id.to_string())
    } else {
        None
    };
    let items: Vec<PersonOut> = people.iter().map(|p| PersonOut::new(p, false)).collect();
    Ok(Json(json!({"items": items, "next_after": next})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    id_number: String,
}

/// `POST /api/v1/people/lookup {"id_number": ...}`: finds a person by ID number (through its
/// keyed hash) for staff.
pub async fn lookup_person(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker, Role::Lab],
        "looking people up",
    )?;
    let b: LookupBody = parse(&headers, &body)?;
    let id = IdNumber::parse(&b.id_number).map_err(|e| AppError::bad(e.code(), e.to_string()))?;
    let hash = id.keyed_hash(&state.secrets.id_hash_key);
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.person_by_id_hash(&hash))
        .await
        .map_err(blocking_err)??;
    let person = found
        .ok_or_else(|| AppError::not_found("unknown_person", "no resident has this ID number"))?;
    let area = state
        .projection
        .person_area(person)
        .ok_or_else(|| AppError::not_found("unknown_person", "no such person"))?;
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "this person is outside your jurisdiction",
        ));
    }
    Ok(Json(json!({"id": person.to_string()})).into_response())
}

/// `GET /api/v1/venues?area=&after=&limit=`.
pub async fn list_venues(
    State(state): State<Arc<AppState>>,
    _caller: Actor,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let area = match q.area.as_deref() {
        Some(a) => {
            Some(AreaCode::parse(a).map_err(|e| AppError::bad("invalid_area", e.to_string()))?)
        }
        None => None,
    };
    let after = match q.after.as_deref() {
        Some(a) => Some(
            parse_venue_id(a)
                .ok_or_else(|| AppError::bad("invalid_venue_id", "after= takes a venue id"))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500) as usize;
    let start = after.map_or(0, |v| v.0 as usize + 1);
    let items: Vec<VenueOut<'_>> = state
        .projection
        .venues
        .list
        .iter()
        .skip(start)
        .filter(|v| area.as_ref().is_none_or(|a| a.contains(&v.area)))
        .take(limit)
        .map(VenueOut::from)
        .collect();
    let next = if items.len() == limit {
        items.last().map(|v| v.id.clone())
    } else {
        None
    };
    Ok(Json(json!({"items": items, "next_after": next})).into_response())
}

/// `GET /api/v1/venues/{id}` (id or place code).
pub async fn get_venue(
    State(state): State<Arc<AppState>>,
    _caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let venue = parse_venue_id(&id)
        .and_then(|v| state.projection.venues.get(v))
        .or_else(|| {
            let code = xikang_domain::PlaceCode::parse(&id).ok()?;
            state
                .projection
                .venues
                .get(*state.projection.venues.by_code.get(&code)?)
        })
        .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {id}")))?;
    Ok(Json(VenueOut::from(venue)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ScanQuery {
    #[serde(default)]
    person: Option<String>,
    #[serde(default)]
    venue: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// `GET /api/v1/scans?person=|venue=&from=&to=`: check-ins, for tracers.
pub async fn list_scans(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<ScanQuery>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin, Role::Tracer], "reading check-ins")?;
    let now = crate::now();
    let from = parse_time(q.from.as_deref())?.unwrap_or(now.plus(-DAY));
    let to = parse_time(q.to.as_deref())?.unwrap_or(now.plus(60));
    if to < from {
        return Err(AppError::bad("invalid_time", "to is before from"));
    }
    // Answered from the tracing index: the store's day tables have no per-person or
    // per-venue index (docs/storage.md).
    let rows = match (q.person.as_deref(), q.venue.as_deref()) {
        (Some(p), None) => {
            let person = visible_person(&state, &caller, p)?;
            state
                .projection
                .tracing
                .snapshot()?
                .checkins_of_person(person, from, to)
        }
        (None, Some(v)) => {
            let venue: VenueId = parse_venue_id(v)
                .filter(|v| state.projection.venues.get(*v).is_some())
                .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {v}")))?;
            authorise::venue(&state, &caller, venue)?;
            state
                .projection
                .tracing
                .snapshot()?
                .checkins_at_venue(venue, from, to)
        }
        _ => {
            return Err(AppError::bad(
                "invalid_query",
                "give exactly one of person= or venue=",
            ));
        }
    };
    let items: Vec<Value> = rows
        .iter()
        .take(10_000)
        .map(|c| json!({"person": c.person.to_string(), "venue": c.venue.to_string(), "at": c.at.to_rfc3339(), "direction": c.direction}))
        .collect();
    Ok(Json(json!({"items": items})).into_response())
}

/// One result as a lab posts it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultIn {
    person: String,
    sampled_at: String,
    resulted_at: String,
    outcome: TestOutcome,
    #[serde(default = "one")]
    pool_size: u8,
    tube: String,
}

fn one() -> u8 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsIn {
    results: Vec<ResultIn>,
}

/// `POST /api/v1/test-results {"results": [...]}`: a lab posts results. A positive pooled
/// tube holds every member (`pool_positive`) until the single-tube retest. All or nothing:
/// any invalid item refuses the whole post, listing every problem by index.
pub async fn post_results(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "posting test results")?;
    let b: ResultsIn = parse(&headers, &body)?;
    if b.results.is_empty() || b.results.len() > 10_000 {
        return Err(AppError::bad(
            "invalid_batch",
            "post between 1 and 10,000 results",
        ));
    }
    let now = crate::now();
    let mut events = Vec::with_capacity(b.results.len());
    let mut errors = Vec::new();
    for (i, r) in b.results.into_iter().enumerate() {
        match result_event(&state, &caller, r, now) {
            Ok(e) => events.push(e),
            Err(e) => errors.push(json!({"index": i, "error": e})),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Unprocessable {
            code: "invalid_results",
            message: format!("{} result(s) refused; nothing was recorded", errors.len()),
            details: Some(json!({"errors": errors})),
        });
    }
    let stored = state.record(events).await?;
    Ok(Json(
        json!({"recorded": stored.len(), "first_event": stored.first().map(|e| e.seq.to_string())}),
    )
    .into_response())
}

fn result_event(
    state: &AppState,
    caller: &Actor,
    r: ResultIn,
    now: Timestamp,
) -> Result<NewEvent, Value> {
    let bad = |code: &str, msg: String| json!({"code": code, "message": msg});
    let person = parse_person_id(&r.person)
        .filter(|p| state.projection.person_exists(*p))
        .ok_or_else(|| bad("unknown_person", format!("no person {}", r.person)))?;
    // The same per-item refusal as a dose outside the caller's area (lab/http.rs).
    if !authorise::person_in_area(state, caller, person) {
        return Err(bad(
            "forbidden",
            "this person is outside your jurisdiction".into(),
        ));
    }
    let sampled_at =
        Timestamp::parse_rfc3339(&r.sampled_at).map_err(|e| bad("invalid_time", e.to_string()))?;
    let resulted_at =
        Timestamp::parse_rfc3339(&r.resulted_at).map_err(|e| bad("invalid_time", e.to_string()))?;
    if resulted_at < sampled_at || resulted_at > now.plus(300) {
        return Err(bad(
            "invalid_time",
            "resulted_at must be after sampled_at and not in the future".into(),
        ));
    }
    if !(1..=20).contains(&r.pool_size) {
        return Err(bad(
            "invalid_pool_size",
            "a tube holds 1 to 20 swabs (pooling pools is refused)".into(),
        ));
    }
    if r.tube.trim().is_empty() || r.tube.len() > 64 {
        return Err(bad(
            "invalid_tube",
            "tube code must be 1-64 characters".into(),
        ));
    }
    let body = if r.outcome == TestOutcome::Positive && r.pool_size > 1 {
        EventBody::PoolPositive {
            person,
            sampled_at,
            tube: r.tube,
        }
    } else {
        EventBody::TestResulted {
            person,
            sampled_at,
            resulted_at,
            outcome: r.outcome,
            pool_size: r.pool_size,
            tube: r.tube,
        }
    };
    Ok(NewEvent {
        at: resulted_at,
        actor: caller.actor(),
        basis: "lab report".into(),
        body,
    })
}

#[derive(Debug, Deserialize)]
pub struct PersonOnly {
    person: String,
}

/// `GET /api/v1/test-results?person=P1`: a person's results, from the authority log.
pub async fn list_results(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<PersonOnly>,
) -> Result<Response, AppError> {
    let person = parse_person_id(&q.person)
        .ok_or_else(|| AppError::bad("invalid_person_id", "a person id looks like P123"))?;
    let items = test_results(&state, &caller, person).await?;
    Ok(Json(json!({"items": items})).into_response())
}

/// What a test result line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultOutcome {
    Negative,
    Positive,
    /// The person's pooled tube was positive; a single-tube retest is pending.
    PoolPositive,
}

impl From<TestOutcome> for ResultOutcome {
    fn from(o: TestOutcome) -> Self {
        match o {
            TestOutcome::Negative => ResultOutcome::Negative,
            TestOutcome::Positive => ResultOutcome::Positive,
        }
    }
}

/// One of a person's test results. Fields in the order the API has always written them.
#[derive(Debug, Clone, Serialize)]
pub struct TestResultOut {
    /// The event's `E…` number.
    pub event: String,
    pub outcome: ResultOutcome,
    /// Swabs in the tube (None for a pool-positive notice).
    pub pool_size: Option<u8>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub resulted_at: Option<Timestamp>,
    #[serde(serialize_with = "rfc3339")]
    pub sampled_at: Timestamp,
    pub tube: String,
}

fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn rfc3339_opt<S: serde::Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

/// A person's test results from the authority log, oldest first (the query behind
/// `GET /api/v1/test-results` and the person pages).
pub async fn test_results(
    state: &AppState,
    actor: &Actor,
    person: PersonId,
) -> Result<Vec<TestResultOut>, AppError> {
    let person = authorise::person(state, actor, person)?.id();
    let store = state.store.clone();
    let events = tokio::task::spawn_blocking(move || store.events_of_person(person))
        .await
        .map_err(blocking_err)??;
    Ok(events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::TestResulted {
                sampled_at,
                resulted_at,
                outcome,
                pool_size,
                tube,
                ..
            } => Some(TestResultOut {
                event: e.seq.to_string(),
                outcome: (*outcome).into(),
                pool_size: Some(*pool_size),
                resulted_at: Some(*resulted_at),
                sampled_at: *sampled_at,
                tube: tube.clone(),
            }),
            EventBody::PoolPositive {
                sampled_at, tube, ..
            } => Some(TestResultOut {
                event: e.seq.to_string(),
                outcome: ResultOutcome::PoolPositive,
                pool_size: None,
                resulted_at: None,
                sampled_at: *sampled_at,
                tube: tube.clone(),
            }),
            _ => None,
        })
        .collect())
}

/// A case report: the person (`P…`), the kind, and RFC 3339 times.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseIn {
    pub person: String,
    pub kind: CaseKind,
    #[serde(default)]
    pub onset: Option<String>,
    #[serde(default)]
    pub sampled_at: Option<String>,
    #[serde(default)]
    pub isolated_at: Option<String>,
}

/// How many contacts the data shows for a new case (None while the index loads).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ContactCounts {
    pub close: usize,
    pub companions: Option<usize>,
    pub secondary: usize,
}

/// A registered case and its first contact counts.
#[derive(Debug)]
pub struct RegisteredCase {
    pub case: CaseOut,
    pub contacts: Option<ContactCounts>,
}

/// `POST /api/v1/cases`: registers a case (tracers and admins).
pub async fn post_case(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(&[Role::Tracer, Role::Admin], "registering cases")?;
    let b: CaseIn = parse(&headers, &body)?;
    let made = register_case(&state, &caller, b).await?;
    let mut out = serde_json::to_value(&made.case)
        .map_err(|e| AppError::Internal(format!("case json: {e}")))?;
    out["contacts"] = serde_json::to_value(made.contacts)
        .map_err(|e| AppError::Internal(format!("case json: {e}")))?;
    Ok((axum::http::StatusCode::CREATED, Json(out)).into_response())
}

/// Registers a case (the command behind `POST /api/v1/cases` and the tracer's form):
/// tracers and admins, for a person in their jurisdiction without an open case; proposes
/// sealing a controlled zone around it and counts its contacts at once.
pub async fn register_case(
    state: &Arc<AppState>,
    caller: &Actor,
    b: CaseIn,
) -> Result<RegisteredCase, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "registering cases")?;
    let person = visible_person(state, caller, &b.person)?;
    let now = crate::now();
    let (onset, sampled_at, isolated_at) = (
        parse_time(b.onset.as_deref())?,
        parse_time(b.sampled_at.as_deref())?,
        parse_time(b.isolated_at.as_deref())?,
    );
    if onset.is_none() && sampled_at.is_none() {
        return Err(AppError::bad(
            "onset_or_sampling_required",
            "give the onset date or, if asymptomatic, the sampling time",
        ));
    }
    for t in [onset, sampled_at, isolated_at].into_iter().flatten() {
        if t > now.plus(300) {
            return Err(AppError::bad(
                "time_in_future",
                "onset, sampling and isolation cannot be in the future",
            ));
        }
    }
    if let (Some(iso), Some(start)) = (isolated_at, onset.or(sampled_at))
        && iso < start
    {
        return Err(AppError::bad(
            "isolation_before_onset",
            "isolation cannot precede the onset (or, without onset, the sampling)",
        ));
    }
    if crate::state::read(&state.projection.cases)
        .values()
        .any(|c| c.person == person && c.discharged_at.is_none())
    {
        return Err(AppError::Conflict {
            code: "case_exists",
            message: format!("{person} already has an open case"),
        });
    }
    let id = CaseId(
        crate::state::read(&state.projection.cases)
            .keys()
            .next_back()
            .map_or(1, |c| c.0 + 1),
    );
    state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: "case report".into(),
            body: EventBody::CaseRegistered {
                case: id,
                person,
                case_kind: b.kind,
                onset,
                sampled_at,
                isolated_at,
            },
        }])
        .await?;
    let case = crate::state::read(&state.projection.cases)
        .get(&id)
        .cloned()
        .ok_or_else(|| AppError::Internal("case vanished after recording".into()))?;
    // A case inside a controlled zone proposes sealing it now. The case is recorded
    // whatever happens here; the duty sweep retries.
    if let Err(e) = crate::duties::propose_for_cases(state, &[person], now).await {
        tracing::warn!(error = ?e, "zone proposals after a case failed; the sweep retries");
    }
    // Tracing starts at once: the answer says how many contacts the data shows (the list
    // itself is at /cases/{id}/contacts). While the index is still loading, it says so.
    let contacts = match state.projection.tracing.snapshot() {
        Ok(index) => {
            let (s, c) = (state.clone(), case.clone());
            let t = tokio::task::spawn_blocking(move || {
                crate::trace::trace_case(&s, &index, &s.policy(), &c, now)
            })
            .await
            .map_err(blocking_err)??;
            Some(ContactCounts {
                close: t.close.contacts.len(),
                secondary: t.secondary.contacts.len(),
                companions: t.companion_cell_metres.map(|_| t.companions.len()),
            })
        }
        Err(_) => None,
    };
    Ok(RegisteredCase {
        case: CaseOut::from(&case),
        contacts,
    })
}

/// `GET /api/v1/cases`.
pub async fn list_cases(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Response, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "listing cases")?;
    let items: Vec<CaseOut> = crate::state::read(&state.projection.cases)
        .values()
        .filter(|c| {
            state
                .projection
                .person_area(c.person)
                .is_some_and(|a| caller.covers(&a))
        })
        .map(CaseOut::from)
        .collect();
    Ok(Json(json!({"items": items})).into_response())
}

/// `GET /api/v1/cases/{id}`.
pub async fn get_case(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "reading cases")?;
    let id = parse_case_id(&id)
        .ok_or_else(|| AppError::bad("invalid_case_id", "a case id looks like C1"))?;
    let cases = crate::state::read(&state.projection.cases);
    let c = cases
        .get(&id)
        .ok_or_else(|| AppError::not_found("unknown_case", format!("no case {id}")))?;
    if !state
        .projection
        .person_area(c.person)
        .is_some_and(|a| caller.covers(&a))
    {
        return Err(AppError::Forbidden(
            "this case is outside your jurisdiction",
        ));
    }
    Ok(Json(CaseOut::from(c)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    after: Option<u64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/v1/events?after=&limit=`: the authority log, for admins (auditors).
pub async fn list_events(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<EventsQuery>,
) -> Result<Response, AppError> {
    authorise::whole_log(&state, &caller)?;
    let after = EventSeq(q.after.unwrap_or(0));
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.store.clone();
    let events = tokio::task::spawn_blocking(move || store.events_after(after, limit))
        .await
        .map_err(blocking_err)??;
    let items: Vec<Value> = events
        .iter()
        .map(|e| json!({"seq": e.seq.0, "at": e.at.to_rfc3339(), "actor": e.actor, "basis": e.basis,
                        "body": e.body, "prev_hash": hex::encode(e.prev_hash), "hash": hex::encode(e.hash)}))
        .collect();
    Ok(Json(json!({"items": items})).into_response())
}

/// `GET /api/v1/policy`: the active policy's version.
pub async fn get_policy(
    State(state): State<Arc<AppState>>,
    _caller: Actor,
) -> Result<Response, AppError> {
    let p = state.policy();
    Ok(Json(
        json!({"version": p.version(), "effective_from": p.effective_from().to_rfc3339(),
                   "retention_days": p.retention_days(), "code_ttl_secs": p.code_ttl_secs()}),
    )
    .into_response())
}

/// `GET /api/v1/trust`: the trust list venue devices cache to verify codes offline. Public.
pub async fn get_trust(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.trust_json.clone(),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    name: String,
    role: String,
    area: String,
    #[serde(default)]
    venue: Option<String>,
    #[serde(default)]
    person: Option<String>,
    #[serde(default)]
    id_lookup: bool,
}

/// `POST /api/v1/tokens`: an admin issues an API token for a user or device. The token is
/// returned once; only its digest is stored.
pub async fn post_token(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "issuing tokens")?;
    let b: TokenIn = parse(&headers, &body)?;
    let role = Role::parse(&b.role)
        .ok_or_else(|| AppError::bad("invalid_role", format!("unknown role {:?}", b.role)))?;
    let area =
        AreaCode::parse(&b.area).map_err(|e| AppError::bad("invalid_area", e.to_string()))?;
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "the token's area is outside your jurisdiction",
        ));
    }
    if b.name.trim().is_empty() || b.name.len() > 100 {
        return Err(AppError::bad(
            "invalid_name",
            "name must be 1-100 characters",
        ));
    }
    let venue = match b.venue.as_deref() {
        Some(v) => Some(
            parse_venue_id(v)
                .filter(|v| state.projection.venues.get(*v).is_some())
                .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {v}")))?,
        ),
        None => None,
    };
    let person = match b.person.as_deref() {
        Some(p) => Some(
            parse_person_id(p)
                .filter(|p| state.projection.person_exists(*p))
                .ok_or_else(|| AppError::not_found("unknown_person", format!("no person {p}")))?,
        ),
        None => None,
    };
    authorise::token_subject(&state, &area, venue, person)?;
    if role == Role::Resident && person.is_none() {
        return Err(AppError::bad(
            "person_required",
            "a resident token names its person",
        ));
    }
    let token = new_token();
    let row = ApiToken {
        name: b.name,
        role: role.as_str().into(),
        area,
        venue,
        person,
        id_lookup: b.id_lookup,
    };
    let store = state.store.clone();
    let digest = token_digest(&token);
    tokio::task::spawn_blocking(move || store.put_api_token(digest, &row))
        .await
        .map_err(blocking_err)??;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({"token": token, "role": role.as_str()})),
    )
        .into_response())
}

/// `GET /api/v1/audit`: verifies the authority log's hash chain (admins).
pub async fn get_audit(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Response, AppError> {
    authorise::whole_log(&state, &caller)?;
    let store = state.store.clone();
    let r = tokio::task::spawn_blocking(move || store.verify_chain())
        .await
        .map_err(blocking_err)??;
    let ok = r.first_error.is_none();
    Ok(Json(
        json!({"ok": ok, "verified": r.verified, "head": hex::encode(r.head),
                   "first_error": r.first_error.map(|e| e.to_string())}),
    )
    .into_response())
}
