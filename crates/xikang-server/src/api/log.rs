//! The authority log, the policy in force, the trust list, API tokens and the audit walk.

use super::*;

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
    let events = log_page(&state, &caller, &q).await?;
    Ok(Json(ItemsOut {
        items: events.iter().map(EventOut::from).collect(),
    })
    .into_response())
}

/// Events of the authority log after a sequence number (at most 1,000): admins, for the
/// whole log.
pub async fn log_page(
    state: &AppState,
    caller: &Actor,
    q: &EventsQuery,
) -> Result<Vec<xikang_domain::event::StoredEvent>, AppError> {
    authorise::whole_log(state, caller)?;
    let after = EventSeq(q.after.unwrap_or(0));
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.store.clone();
    Ok(
        tokio::task::spawn_blocking(move || store.events_after(after, limit))
            .await
            .map_err(blocking_err)??,
    )
}

/// `GET /api/v1/policy`: the active policy's version.
pub async fn get_policy(
    State(state): State<Arc<AppState>>,
    _caller: Actor,
) -> Result<Response, AppError> {
    Ok(Json(PolicyOut::from(&*state.policy())).into_response())
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
    input: JsonIn<TokenIn>,
) -> Result<Response, AppError> {
    let issued = issue_token(&state, &caller, input).await?;
    Ok((axum::http::StatusCode::CREATED, Json(issued)).into_response())
}

/// Issues an API token (admins, for their jurisdiction): the token is answered once and
/// only its digest is stored.
pub async fn issue_token(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<TokenIn>,
) -> Result<TokenOut, AppError> {
    caller.require(&[Role::Admin], "issuing tokens")?;
    let b = input.get()?;
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
            VenueId::parse(v)
                .filter(|v| state.projection.venues.get(*v).is_some())
                .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {v}")))?,
        ),
        None => None,
    };
    let person = match b.person.as_deref() {
        Some(p) => Some(
            PersonId::parse(p)
                .filter(|p| state.projection.person_exists(*p))
                .ok_or_else(|| AppError::not_found("unknown_person", format!("no person {p}")))?,
        ),
        None => None,
    };
    authorise::token_subject(state, &area, venue, person)?;
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
    Ok(TokenOut {
        role: role.as_str(),
        token,
    })
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
    Ok(Json(AuditOut::from(r)).into_response())
}
