//! Vaccination over HTTP: doses (JSON or CSV), coverage, outreach, a person's status, and
//! the mandated-test check. Each operation is a command or query taking
//! `(&AppState, &Actor, input)`; the handlers only extract, call and answer.

use super::*;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DoseIn {
    #[serde(default)]
    pub(super) person: Option<String>,
    #[serde(default)]
    pub(super) id_number: Option<String>,
    pub(super) dose: u8,
    pub(super) vaccine: String,
    pub(super) date: String,
    pub(super) site: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DosesIn {
    pub(super) doses: Vec<Value>,
}

/// A dose row of a table import: `id_number,dose,vaccine,date,site`.
pub(super) fn dose_of_row(f: &[String]) -> Result<DoseIn, ItemError> {
    let f: Vec<&str> = f.iter().map(|s| s.trim()).collect();
    if f.len() != 5 {
        return Err(item_err(
            "invalid_line",
            format!(
                "expected 5 fields (id_number,dose,vaccine,date,site), got {}",
                f.len()
            ),
        ));
    }
    Ok(DoseIn {
        person: None,
        id_number: Some(f[0].to_owned()),
        dose: f[1]
            .parse()
            .map_err(|_| item_err("invalid_dose", format!("dose number {:?}", f[1])))?,
        vaccine: f[2].to_owned(),
        date: f[3].to_owned(),
        site: f[4].to_owned(),
    })
}

/// Whether a dose row is the header, a `#` comment or blank.
fn dose_header_or_blank(f: &[String]) -> bool {
    let first = f.first().map_or("", |s| s.trim()).to_ascii_lowercase();
    (first.is_empty() && f.iter().all(|s| s.trim().is_empty()))
        || first.starts_with('#')
        || first.starts_with("id_number")
}

pub(super) async fn post_vaccinations(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    upload: Upload<DosesIn>,
) -> Result<Json<BatchOut<DoseRecordedOut>>, AppError> {
    Ok(Json(record_vaccinations(&state, &caller, upload).await?))
}

/// Records doses, JSON or CSV by the content type (labs and admins, people in their
/// jurisdiction): each dose answered on its own, a CSV line with its number in the file.
pub async fn record_vaccinations(
    state: &AppState,
    caller: &Actor,
    upload: Upload<DosesIn>,
) -> Result<BatchOut<DoseRecordedOut>, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "recording vaccinations")?;
    let (raw, numbers): (Vec<Result<DoseIn, ItemError>>, Option<Vec<usize>>) = match upload {
        Upload::Table(format, body) => {
            let lines = table_lines(format, &body, dose_header_or_blank)?;
            check_count(lines.len())?;
            let numbers = lines.iter().map(|(n, _)| *n).collect();
            (
                lines
                    .into_iter()
                    .map(|(_, fields)| dose_of_row(&fields?))
                    .collect(),
                Some(numbers),
            )
        }
        Upload::Json(input) => {
            let b = input.get()?;
            check_count(b.doses.len())?;
            (
                b.doses
                    .into_iter()
                    .map(|v| {
                        serde_json::from_value(v)
                            .map_err(|e| item_err("invalid_dose", e.to_string()))
                    })
                    .collect(),
                None,
            )
        }
    };
    // Resolve people: ID numbers through the keyed hash (staff imports), ids directly.
    let who: Vec<Swabbed> = raw
        .iter()
        .map(|d| match d {
            Ok(DoseIn {
                id_number: Some(n),
                person: None,
                ..
            }) => Swabbed::IdNumber(n.clone()),
            Ok(DoseIn {
                person: Some(p),
                id_number: None,
                ..
            }) => Swabbed::Person(PersonId::parse(p).unwrap_or(PersonId(u32::MAX))),
            _ => Swabbed::Person(PersonId(u32::MAX)),
        })
        .collect();
    let resolved = crate::lab::resolve(state, who, true, crate::now()).await?;
    let doses: Vec<Result<Dose, ItemError>> = raw
        .into_iter()
        .zip(resolved)
        .map(|(d, p)| {
            let d = d?;
            if d.person.is_some() == d.id_number.is_some() {
                return Err(item_err(
                    "invalid_dose",
                    "give exactly one of person or id_number",
                ));
            }
            let person = p?;
            if !authorise::person_in_area(state, caller, person) {
                return Err(item_err(
                    "forbidden",
                    "this person is outside your jurisdiction",
                ));
            }
            let given_on =
                CivilDay::parse(&d.date).map_err(|e| item_err("invalid_time", e.to_string()))?;
            if given_on > crate::now().shanghai_day() {
                return Err(item_err(
                    "invalid_time",
                    "a dose cannot be given in the future",
                ));
            }
            Ok(Dose {
                person,
                dose: d.dose,
                vaccine: d.vaccine,
                given_on,
                site: d.site,
            })
        })
        .collect();
    let results = crate::lab::record_doses(state, doses, crate::now()).await?;
    batch_reply(batch_items(
        results,
        numbers.as_deref(),
        |(), index, line| DoseRecordedOut {
            index,
            line,
            recorded: true,
        },
    ))
}

/// An area in the query (the caller's own when absent).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AreaQuery {
    pub area: Option<String>,
}

/// The optional body of `POST /vaccinations/outreach`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutreachIn {
    #[serde(default)]
    pub area: Option<String>,
}

/// The asked area, inside the caller's jurisdiction.
fn query_area(caller: &Actor, q: &AreaQuery) -> Result<AreaCode, AppError> {
    let area = match &q.area {
        Some(a) => parse_area(a)?,
        None => caller.area.clone(),
    };
    Ok(authorise::area(caller, area)?.into_inner())
}

/// Vaccination coverage per district and age band (admins and grid workers).
pub fn coverage(state: &AppState, caller: &Actor, q: &AreaQuery) -> Result<CoverageOut, AppError> {
    caller.require(
        &[Role::Admin, Role::GridWorker],
        "reading vaccination coverage",
    )?;
    let area = query_area(caller, q)?;
    let t = std::time::Instant::now();
    let rows = crate::lab::vaccination_coverage(state, &area, crate::now().shanghai_day());
    let computed_in_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(CoverageOut {
        area,
        computed_in_ms,
        items: rows.into_iter().map(CoverageRowOut::from).collect(),
    })
}

pub(super) async fn get_coverage(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AreaQuery>,
) -> Result<Json<CoverageOut>, AppError> {
    Ok(Json(coverage(&state, &caller, &q)?))
}

/// The unvaccinated elderly per grid cell (admins and grid workers); `create` makes their
/// outreach tasks.
pub async fn outreach(
    state: &AppState,
    caller: &Actor,
    q: &AreaQuery,
    create: bool,
) -> Result<OutreachOut, AppError> {
    caller.require(&[Role::Admin, Role::GridWorker], "vaccination outreach")?;
    let area = query_area(caller, q)?;
    let now = crate::now();
    let cells = crate::lab::outreach(state, &area, now.shanghai_day(), create, now).await?;
    Ok(OutreachOut {
        area,
        cells: cells.iter().map(OutreachCellOut::from).collect(),
        total: cells.iter().map(|(_, p)| p.len()).sum(),
    })
}

/// `POST /api/v1/vaccinations/outreach`: an optional body `{"area"}`.
pub(super) async fn post_outreach(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<OutreachIn>,
) -> Result<Json<OutreachOut>, AppError> {
    // The role before the body, as for every other command.
    caller.require(&[Role::Admin, Role::GridWorker], "vaccination outreach")?;
    let q = AreaQuery {
        area: input.get_or_default()?.area,
    };
    Ok(Json(outreach(&state, &caller, &q, true).await?))
}

pub(super) async fn get_outreach(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AreaQuery>,
) -> Result<Json<OutreachOut>, AppError> {
    Ok(Json(outreach(&state, &caller, &q, false).await?))
}

/// A person's vaccination status; recorded in the access log.
pub fn person_vaccination(
    state: &AppState,
    caller: &Actor,
    person: Scoped<PersonId>,
) -> Result<PersonVaccinationOut, AppError> {
    let person = person.id();
    state.access.record(
        caller,
        "GET /api/v1/people/{id}/vaccination",
        None,
        crate::now(),
        [person],
    )?;
    Ok(PersonVaccinationOut::new(
        person,
        crate::lab::vaccination_status(state, person),
    ))
}

pub(super) async fn get_person_vaccination(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(person): Id<PersonId>,
) -> Result<Json<PersonVaccinationOut>, AppError> {
    let person = authorise::person(&state, &caller, person)?;
    Ok(Json(person_vaccination(&state, &caller, person)?))
}

/// The body of `POST /test-requirements/check`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MandatedIn {
    #[serde(default)]
    pub area: Option<String>,
    /// Hours between mandated tests; the policy's `mandated_test_every_hours` when absent.
    #[serde(default)]
    pub every_hours: Option<u32>,
}

/// Records missed mandated tests in an area (admins).
pub async fn check_mandated_tests(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<MandatedIn>,
) -> Result<MandatedOut, AppError> {
    caller.require(&[Role::Admin], "checking mandated tests")?;
    let b = input.get()?;
    let area = query_area(caller, &AreaQuery { area: b.area })?;
    let every = b
        .every_hours
        .or_else(|| state.policy().parameter("mandated_test_every_hours"))
        .ok_or_else(|| {
            AppError::bad(
                "every_hours_required",
                "no mandated test period in force: give every_hours",
            )
        })?;
    if !(1..=24 * 30).contains(&every) {
        return Err(AppError::bad(
            "invalid_every_hours",
            "every_hours is 1 to 720",
        ));
    }
    let n = crate::lab::check_mandated(state, &area, every, caller.actor(), crate::now()).await?;
    Ok(MandatedOut {
        area,
        every_hours: every,
        missed_tests_recorded: n,
    })
}

/// `POST /api/v1/test-requirements/check`.
pub(super) async fn post_check_mandated(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<MandatedIn>,
) -> Result<Json<MandatedOut>, AppError> {
    Ok(Json(check_mandated_tests(&state, &caller, input).await?))
}
