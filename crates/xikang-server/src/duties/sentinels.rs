//! Sentinels (哨点): registering pharmacies and clinics and their reports, each giving the
//! person a test to arrange.

use super::*;

pub(super) fn venue_of(state: &AppState, s: &str) -> Result<VenueId, AppError> {
    if let Ok(code) = xikang_domain::PlaceCode::parse(s)
        && let Some(v) = state.projection.venues.by_code.get(&code)
    {
        return Ok(*v);
    }
    let id =
        VenueId::parse(s).ok_or_else(|| bad("invalid_venue", "a venue id (V12) or place code"))?;
    state
        .projection
        .venues
        .get(id)
        .map(|v| v.id)
        .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {id}")))
}

/// The body of `POST /sentinels`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SentinelIn {
    pub venue: String,
    pub kind: String,
}

/// Registers a venue as a sentinel (哨点) (admins).
pub async fn register_sentinel(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<SentinelIn>,
) -> Result<SentinelOut, AppError> {
    caller.require(&[Role::Admin], "registering sentinels")?;
    let b = input.get()?;
    let venue = venue_of(state, &b.venue)?;
    authorise::venue(state, caller, venue)?;
    let kind: SentinelKind = variant(&b.kind)
        .ok_or_else(|| bad("invalid_sentinel_kind", "kind is pharmacy or fever_clinic"))?;
    let s = SentinelRecord {
        venue,
        kind,
        registered_at: crate::now(),
        registered_by: caller.actor(),
    };
    let store = state.store.clone();
    blocking(move || store.put_sentinel(&s)).await?;
    Ok(SentinelOut {
        kind: b.kind,
        venue: venue.to_string(),
    })
}

pub(super) async fn post_sentinel(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<SentinelIn>,
) -> Result<(StatusCode, Json<SentinelOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(register_sentinel(&state, &caller, input).await?),
    ))
}

/// The body of `POST /sentinels/reports`: the scanned code (an admin may name the person).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SentinelReportIn {
    #[serde(default)]
    pub venue: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub person: Option<String>,
}

/// A sentinel's report of a person: a test to arrange within the policy's hours.
pub async fn report_sentinel(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<SentinelReportIn>,
) -> Result<SentinelReportOut, AppError> {
    caller.require(&[Role::VenueDevice, Role::Admin], "sentinel reports")?;
    let b = input.get()?;
    let venue = match (caller.venue, b.venue.as_deref()) {
        (Some(v), _) => v,
        (None, Some(s)) => venue_of(state, s)?,
        (None, None) => return Err(bad("venue_required", "name the reporting venue")),
    };
    authorise::venue(state, caller, venue)?;
    let store = state.store.clone();
    let sentinel = blocking(move || store.sentinel(venue))
        .await?
        .ok_or_else(|| {
            unprocessable(
                "unregistered_sentinel",
                format!("venue {venue} is not a registered sentinel (哨点); nothing was recorded"),
                None,
            )
        })?;
    let now = crate::now();
    let person = match (&b.token, &b.person) {
        (Some(token), _) => {
            let claims = state
                .keys(now)
                .verifier
                .verify(token.trim(), Some(&state.config.jurisdiction), now)
                .map_err(|e| {
                    bad(
                        "invalid_code",
                        format!("the scanned code is not valid: {e}"),
                    )
                })?;
            state
                .pseudonyms
                .person_of(&claims.subject)
                .filter(|p| state.projection.person_exists(*p))
                .ok_or_else(|| {
                    AppError::not_found(
                        "unknown_person",
                        "the code's subject is not a resident here",
                    )
                })?
        }
        (None, Some(p)) if caller.role == Role::Admin => {
            let p = person_id(p)?;
            if !state.projection.person_exists(p) {
                return Err(AppError::not_found(
                    "unknown_person",
                    format!("no person {p}"),
                ));
            }
            p
        }
        _ => return Err(bad("token_required", "scan the person's code (token)")),
    };
    let cell = home_cell(state, person)?;
    let hours = state.policy().duties().sentinel_test_hours;
    let task = NewTask {
        cell,
        kind: TaskKind::ArrangeTest,
        person: Some(person),
        household: None,
        detail: format!("sentinel report for {person}: arrange a test within {hours} h"),
        created_at: now,
        due_at: now.plus(i64::from(hours) * HOUR),
        dedupe: Some(format!("sentinel:{person}:{}", now.shanghai_day().0)),
    };
    let event = NewEvent {
        at: now,
        actor: caller.actor(),
        basis: format!("哨点 report by venue {venue}"),
        body: EventBody::SentinelReported {
            person,
            sentinel_kind: sentinel.kind,
            at: now,
        },
    };
    commit(state, vec![DutyOp::InsertTasks(vec![task])], vec![event]).await?;
    Ok(SentinelReportOut {
        person: person.to_string(),
        test_due_within_hours: hours,
    })
}

pub(super) async fn post_sentinel_report(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<SentinelReportIn>,
) -> Result<(StatusCode, Json<SentinelReportOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(report_sentinel(&state, &caller, input).await?),
    ))
}
