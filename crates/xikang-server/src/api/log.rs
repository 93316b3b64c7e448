//! The authority log, the policy in force, the trust list and the audit walk.

use super::*;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
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
/// whole log. Recorded in the access log, one event per person an event names.
pub async fn log_page(
    state: &AppState,
    caller: &Actor,
    q: &EventsQuery,
) -> Result<Vec<xikang_domain::event::StoredEvent>, AppError> {
    authorise::whole_log(state, caller)?;
    let after = EventSeq(q.after.unwrap_or(0));
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let store = state.store.clone();
    let events = tokio::task::spawn_blocking(move || store.events_after(after, limit))
        .await
        .map_err(blocking_err)??;
    let mut people: Vec<_> = events
        .iter()
        .flat_map(|e| e.body.people().iter().copied())
        .collect();
    people.sort_unstable();
    people.dedup();
    state
        .access
        .record(caller, "GET /api/v1/events", None, crate::now(), people)?;
    Ok(events)
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
        state.keys(crate::now()).trust_json.clone(),
    )
        .into_response()
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
