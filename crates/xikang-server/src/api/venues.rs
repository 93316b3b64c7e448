//! Venues and their check-ins over HTTP.

use super::*;

/// `GET /api/v1/venues?area=&after=&limit=`.
pub async fn list_venues(
    State(state): State<Arc<AppState>>,
    _caller: Actor,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    Ok(Json(venues_page(&state, &q)?).into_response())
}

/// One page of venues, in an area or everywhere (venues are public).
pub fn venues_page<'s>(state: &'s AppState, q: &ListQuery) -> Result<VenuesPageOut<'s>, AppError> {
    let area = match q.area.as_deref() {
        Some(a) => {
            Some(AreaCode::parse(a).map_err(|e| AppError::bad("invalid_area", e.to_string()))?)
        }
        None => None,
    };
    let after = match q.after.as_deref() {
        Some(a) => Some(crate::extract::parse_id::<VenueId>(a)?),
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
    Ok(VenuesPageOut {
        items,
        next_after: next,
    })
}

/// `GET /api/v1/venues/{id}` (id or place code).
pub async fn get_venue(
    State(state): State<Arc<AppState>>,
    _caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let venue = VenueId::parse(&id)
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
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
) -> Result<Json<ItemsOut<CheckInOut>>, AppError> {
    Ok(Json(checkins(&state, &caller, &q)?))
}

/// The check-ins of one person or at one venue in a time range (at most 10,000), for
/// tracers and admins of the person's or venue's jurisdiction. Recorded in the access log,
/// one event per person listed.
pub fn checkins(
    state: &AppState,
    caller: &Actor,
    q: &ScanQuery,
) -> Result<ItemsOut<CheckInOut>, AppError> {
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
            let person = visible_person(state, caller, p)?.id();
            state
                .projection
                .tracing
                .snapshot()?
                .checkins_of_person(person, from, to)
        }
        (None, Some(v)) => {
            let venue: VenueId = VenueId::parse(v)
                .filter(|v| state.projection.venues.get(*v).is_some())
                .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {v}")))?;
            authorise::venue(state, caller, venue)?;
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
    let rows = &rows[..rows.len().min(10_000)];
    let mut people: Vec<PersonId> = rows.iter().map(|c| c.person).collect();
    people.sort_unstable();
    people.dedup();
    state
        .access
        .record(caller, "GET /api/v1/scans", None, now, people)?;
    Ok(ItemsOut {
        items: rows.iter().map(CheckInOut::from).collect(),
    })
}
