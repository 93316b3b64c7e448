//! Cases over HTTP: registering one (with its contacts counted), listing and reading them.

use super::*;

/// A case report: the person (`P…`), the kind, and RFC 3339 times.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
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
    input: JsonIn<CaseIn>,
) -> Result<Response, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(&[Role::Tracer, Role::Admin], "registering cases")?;
    let b = input.get()?;
    let made = register_case(&state, &caller, b).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(RegisteredCaseOut::from(made)),
    )
        .into_response())
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
    let person = visible_person(state, caller, &b.person)?.id();
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
    // The open-case check and the new id hold until the case is recorded.
    let cases_lock = state.projection.case_op.lock().await;
    if crate::state::read(&state.projection.cases)
        .values()
        .any(|c| c.person == person && c.is_open())
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
    drop(cases_lock);
    let case = crate::state::read(&state.projection.cases)
        .get(&id)
        .cloned()
        .ok_or_else(|| AppError::Internal("case vanished after recording".into()))?;
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
) -> Result<Json<ItemsOut<CaseOut>>, AppError> {
    Ok(Json(cases_visible(&state, &caller)?))
}

/// The cases of the caller's jurisdiction: tracers and admins. Recorded in the access log,
/// one event per case's person.
pub fn cases_visible(state: &AppState, caller: &Actor) -> Result<ItemsOut<CaseOut>, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "listing cases")?;
    let cases: Vec<crate::app::projection::CaseRecord> =
        crate::state::read(&state.projection.cases)
            .values()
            .filter(|c| {
                state
                    .projection
                    .person_area(c.person)
                    .is_some_and(|a| caller.covers(&a))
            })
            .cloned()
            .collect();
    state.access.record(
        caller,
        "GET /api/v1/cases",
        None,
        crate::now(),
        cases.iter().map(|c| c.person),
    )?;
    Ok(ItemsOut {
        items: cases.iter().map(CaseOut::from).collect(),
    })
}

/// `GET /api/v1/cases/{id}`.
pub async fn get_case(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<CaseId>,
) -> Result<Json<CaseOut>, AppError> {
    let case = authorise::case(&state, &caller, id)?;
    state.access.record(
        &caller,
        "GET /api/v1/cases/{id}",
        None,
        crate::now(),
        [case.person],
    )?;
    Ok(Json(CaseOut::from(case.get())))
}
