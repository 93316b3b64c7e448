//! Test results posted one by one (outside the lab's tube workflow) and read per person.

use super::*;

/// One result as a lab posts it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

pub(super) fn one() -> u8 {
    1
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsIn {
    results: Vec<ResultIn>,
}

/// `POST /api/v1/test-results {"results": [...]}`: a lab posts results. A positive pooled
/// tube holds every member (`pool_positive`) until the single-tube retest; a positive single
/// tube registers a suspected case for the person unless they have an open case (as the
/// lab's tube workflow does, `testing::consequences`). All or nothing: any invalid item
/// refuses the whole post, listing every problem by index.
pub async fn post_results(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<ResultsIn>,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "posting test results")?;
    let b = input.get()?;
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
    // Case ids are taken and the cases recorded under the case lock.
    let _cases = state.projection.case_op.lock().await;
    let events = with_suspected_cases(&state, events);
    let stored = state.record(events).await?;
    Ok(Json(RecordedOut::of(&stored)).into_response())
}

/// The results, each positive single tube followed by the suspected case it reveals (one
/// per person, none for a person with an open case). The caller holds the case lock.
fn with_suspected_cases(state: &AppState, results: Vec<NewEvent>) -> Vec<NewEvent> {
    let cases = crate::state::read(&state.projection.cases);
    let mut next = cases.keys().next_back().map_or(1, |c| c.0 + 1);
    let mut open: std::collections::HashSet<PersonId> = cases
        .values()
        .filter(|c| c.is_open())
        .map(|c| c.person)
        .collect();
    drop(cases);
    let mut out = Vec::with_capacity(results.len());
    for e in results {
        let suspected = match e.body {
            EventBody::TestResulted {
                person,
                sampled_at,
                outcome: TestOutcome::Positive,
                pool_size: 1,
                ..
            } if open.insert(person) => Some(NewEvent {
                at: e.at,
                actor: e.actor.clone(),
                basis: "positive single tube: suspected case".into(),
                body: EventBody::CaseRegistered {
                    case: CaseId(next),
                    person,
                    case_kind: CaseKind::Suspected,
                    onset: None,
                    sampled_at: Some(sampled_at),
                    isolated_at: None,
                },
            }),
            _ => None,
        };
        out.push(e);
        if let Some(s) = suspected {
            next += 1;
            out.push(s);
        }
    }
    out
}

pub(super) fn result_event(
    state: &AppState,
    caller: &Actor,
    r: ResultIn,
    now: Timestamp,
) -> Result<NewEvent, Value> {
    let bad = |code: &str, msg: String| json!({"code": code, "message": msg});
    let person = PersonId::parse(&r.person)
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PersonOnly {
    person: String,
}

/// `GET /api/v1/test-results?person=P1`: a person's results, from the authority log.
pub async fn list_results(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<PersonOnly>,
) -> Result<Json<ItemsOut<TestResultOut>>, AppError> {
    let person = crate::extract::parse_id::<PersonId>(&q.person)?;
    let items = test_results(&state, &caller, authorise::person(&state, &caller, person)?).await?;
    Ok(Json(ItemsOut { items }))
}

/// What a test result line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestResultOut {
    /// The event's `E…` number.
    pub event: String,
    pub outcome: ResultOutcome,
    /// Swabs in the tube (None for a pool-positive notice).
    pub pool_size: Option<u8>,
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resulted_at: Option<Timestamp>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub sampled_at: Timestamp,
    pub tube: String,
}

pub(super) fn rfc3339<S: serde::Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

pub(super) fn rfc3339_opt<S: serde::Serializer>(
    t: &Option<Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.to_rfc3339()),
        None => s.serialize_none(),
    }
}

/// A person's test results from the authority log, oldest first (the query behind
/// `GET /api/v1/test-results` and the person pages), recorded in the access log.
pub async fn test_results(
    state: &AppState,
    actor: &Actor,
    person: Scoped<PersonId>,
) -> Result<Vec<TestResultOut>, AppError> {
    let person = person.id();
    state.access.record(
        actor,
        "GET /api/v1/test-results",
        None,
        crate::now(),
        [person],
    )?;
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
