//! People and their codes over HTTP: a person (masked unless unmasked with a logged
//! purpose), the code as JSON or a QR image, the people list and the lookup by ID number.

use super::*;

/// The person's code now; a read by anyone but its holder is recorded in the access log
/// under `route`.
pub(super) fn current_code(
    state: &AppState,
    caller: &Actor,
    person: Scoped<PersonId>,
    route: &'static str,
) -> Result<Arc<IssuedCode>, AppError> {
    let person = person.id();
    let now = crate::now();
    state.access.record(caller, route, None, now, [person])?;
    let (eval, _) = state
        .evaluate(person, now)
        .ok_or_else(|| AppError::not_found("unknown_person", "no such person"))?;
    Ok(state.code(person, &eval, now))
}

/// `GET /api/v1/people/{id}/code`: colour, reasons, token, expiry.
pub async fn get_code(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(person): Id<PersonId>,
) -> Result<Response, AppError> {
    let code = current_code(
        &state,
        &caller,
        authorise::person(&state, &caller, person)?,
        "GET /api/v1/people/{id}/code",
    )?;
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
    let code = current_code(
        &state,
        &caller,
        visible_person(&state, &caller, &id)?,
        "GET /api/v1/people/{id}/{format}",
    )?;
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
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
    Id(person): Id<PersonId>,
    Query(q): Query<PersonQuery>,
) -> Result<Response, AppError> {
    let unmask = if q.unmask { Some(q.purpose) } else { None };
    let person = authorise::person(&state, &caller, person)?;
    Ok(
        Json(read_person(&state, &caller, person, unmask, "GET /api/v1/people/{id}").await?)
            .into_response(),
    )
}

/// A person's record (the query behind `GET /api/v1/people/{id}` and the person pages),
/// masked; with `unmask = Some(purpose)` unmasked for an admin or tracer, after the read
/// is recorded as `PersonalDataRead` with that purpose (which must not be blank). Every
/// read is recorded in the access log under `route`.
pub async fn read_person(
    state: &AppState,
    actor: &Actor,
    person: Scoped<PersonId>,
    unmask: Option<Option<String>>,
    route: &'static str,
) -> Result<PersonOut, AppError> {
    let person = person.id();
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
    let purpose = unmask.as_ref().and_then(|p| p.as_deref());
    state
        .access
        .record(actor, route, purpose, crate::now(), [person])?;
    let store = state.store.clone();
    let p = tokio::task::spawn_blocking(move || store.person(person))
        .await
        .map_err(blocking_err)??;
    let p =
        p.ok_or_else(|| AppError::not_found("unknown_person", format!("no person {person}")))?;
    Ok(PersonOut::new(&p, unmask.is_some()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    #[serde(default)]
    pub(crate) area: Option<String>,
    #[serde(default)]
    pub(crate) after: Option<String>,
    #[serde(default)]
    pub(crate) limit: Option<u32>,
}

pub(super) fn list_area(caller: &Actor, area: Option<&str>) -> Result<AreaCode, AppError> {
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
) -> Result<Json<PeoplePageOut>, AppError> {
    Ok(Json(people_page(&state, &caller, &q).await?))
}

/// One page of the people of an area the caller covers (their own by default), masked:
/// staff only. Recorded in the access log, one event per person listed.
pub async fn people_page(
    state: &AppState,
    caller: &Actor,
    q: &ListQuery,
) -> Result<PeoplePageOut, AppError> {
    caller.require(STAFF, "listing people")?;
    let area = list_area(caller, q.area.as_deref())?;
    let after = match q.after.as_deref() {
        Some(a) => Some(crate::extract::parse_id::<PersonId>(a)?),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let store = state.store.clone();
    let people = tokio::task::spawn_blocking(move || store.list_people(&area, after, limit))
        .await
        .map_err(blocking_err)??;
    state.access.record(
        caller,
        "GET /api/v1/people",
        None,
        crate::now(),
        people.iter().map(|p| p.id),
    )?;
    let next = if people.len() == limit as usize {
        people.last().map(|p| p.id.to_string())
    } else {
        None
    };
    Ok(PeoplePageOut {
        items: people.iter().map(|p| PersonOut::new(p, false)).collect(),
        next_after: next,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupBody {
    id_number: String,
}

/// `POST /api/v1/people/lookup {"id_number": ...}`: finds a person by ID number (through its
/// keyed hash) for staff.
pub async fn lookup_person(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<LookupBody>,
) -> Result<Json<PersonRefOut>, AppError> {
    Ok(Json(find_person(&state, &caller, input).await?))
}

/// The person an ID number belongs to (through its keyed hash), if they are in the
/// caller's jurisdiction: staff and labs.
pub async fn find_person(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<LookupBody>,
) -> Result<PersonRefOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker, Role::Lab],
        "looking people up",
    )?;
    let b = input.get()?;
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
    state.access.record(
        caller,
        "POST /api/v1/people/lookup",
        None,
        crate::now(),
        [person],
    )?;
    Ok(PersonRefOut {
        id: person.to_string(),
    })
}
