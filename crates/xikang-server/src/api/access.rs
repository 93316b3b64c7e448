//! `GET /api/v1/access`: the access log (who read whose personal data, `app::access`) for
//! admins, by actor and/or by person, over the people of the caller's area.

use super::*;
use xikang_store::AccessFilter;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AccessQuery {
    /// An actor as authority events name them (`tracer:wang`).
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    person: Option<String>,
    /// The `next_after` of the previous page.
    #[serde(default)]
    after: Option<u64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// One recorded read of one person's data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessOut {
    pub actor: String,
    pub at: String,
    pub id: u64,
    pub person: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub route: String,
}

/// A page of the access log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessPageOut {
    pub items: Vec<AccessOut>,
    /// Pass as `after` for the next page; absent at the end.
    pub next_after: Option<u64>,
}

/// `GET /api/v1/access?actor=&person=&after=&limit=`.
pub async fn list_access(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AccessQuery>,
) -> Result<Json<AccessPageOut>, AppError> {
    Ok(Json(access_page(&state, &caller, q).await?))
}

/// Recorded reads of personal data after `after`, of one actor and/or one person (admins):
/// only reads of people who live in the caller's area are answered, so a district admin
/// sees who read their residents, not the rest of the city. Every read recorded by this
/// process before the call is included.
pub async fn access_page(
    state: &AppState,
    caller: &Actor,
    q: AccessQuery,
) -> Result<AccessPageOut, AppError> {
    caller.require(&[Role::Admin], "reading the access log")?;
    let person = match q.person.as_deref() {
        Some(p) => Some(authorise::person(state, caller, crate::extract::parse_id(p)?)?.id()),
        None => None,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    state.access.flush().await?;
    let filter = AccessFilter {
        after: q.after.unwrap_or(0),
        actor: q.actor,
        person,
        limit,
    };
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.access_log(&filter))
        .await
        .map_err(blocking_err)??;
    // The page is cut before filtering by area, so that `next_after` moves past what the
    // caller may not see; a page may hold fewer than `limit` items.
    let next_after = if rows.len() == limit as usize {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    let items = rows
        .into_iter()
        .filter(|r| authorise::person_in_area(state, caller, r.record.person))
        .map(|r| AccessOut {
            actor: r.record.actor,
            at: r.record.at.to_rfc3339(),
            id: r.id,
            person: r.record.person.to_string(),
            purpose: r.record.purpose,
            route: r.record.route,
        })
        .collect();
    Ok(AccessPageOut { items, next_after })
}
