//! Vaccination over HTTP: doses (JSON or CSV), coverage, outreach, a person's status, and
//! the mandated-test check.

use super::*;

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DosesIn {
    pub(super) doses: Vec<Value>,
}

/// A dose line of a CSV import: `id_number,dose,vaccine,date,site`.
pub(super) fn dose_of_csv(line: &str) -> Result<DoseIn, ItemError> {
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
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

pub(super) async fn post_vaccinations(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Lab, Role::Admin], "recording vaccinations")?;
    let csv = is_csv(&headers);
    let (raw, numbers): (Vec<Result<DoseIn, ItemError>>, Option<Vec<usize>>) = if csv {
        let lines = csv_lines(&body)?;
        let lines: Vec<_> = lines
            .into_iter()
            .filter(|(_, l)| !l.trim_start().to_ascii_lowercase().starts_with("id_number"))
            .collect();
        check_count(lines.len())?;
        let numbers = lines.iter().map(|(n, _)| *n).collect();
        (
            lines.into_iter().map(|(_, l)| dose_of_csv(l)).collect(),
            Some(numbers),
        )
    } else {
        let b: DosesIn = parse(&headers, &body)?;
        check_count(b.doses.len())?;
        (
            b.doses
                .into_iter()
                .map(|v| {
                    serde_json::from_value(v).map_err(|e| item_err("invalid_dose", e.to_string()))
                })
                .collect(),
            None,
        )
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
    let resolved = crate::lab::resolve(&state, who, true, crate::now()).await?;
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
            if !state
                .projection
                .person_area(person)
                .is_some_and(|a| caller.covers(&a))
            {
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
    let results = crate::lab::record_doses(&state, doses, crate::now())
        .await?
        .into_iter()
        .map(|r| r.map(|()| json!({"recorded": true})))
        .collect();
    let answer = batch_answer(results);
    match numbers {
        Some(n) => add_line_numbers(answer, &n).await,
        None => answer,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct AreaQuery {
    pub(super) area: Option<String>,
}

pub(super) fn query_area(caller: &Actor, q: &AreaQuery) -> Result<AreaCode, AppError> {
    let area = match &q.area {
        Some(a) => parse_area(a)?,
        None => caller.area.clone(),
    };
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "this area is outside your jurisdiction",
        ));
    }
    Ok(area)
}

pub(super) async fn get_coverage(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AreaQuery>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::GridWorker],
        "reading vaccination coverage",
    )?;
    let area = query_area(&caller, &q)?;
    let t = std::time::Instant::now();
    let rows = crate::lab::vaccination_coverage(&state, &area, crate::now().shanghai_day());
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let items: Vec<Value> = rows
        .iter()
        .map(|(d, band, c)| {
            json!({"district": d, "age_band": band, "people": c.people,
                                   "first_dose": c.first_dose, "full_course": c.full_course,
                                   "booster": c.booster})
        })
        .collect();
    Ok(Json(json!({"area": area, "computed_in_ms": ms, "items": items})).into_response())
}

pub(super) async fn outreach_answer(
    state: &AppState,
    caller: &Actor,
    q: &AreaQuery,
    create: bool,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin, Role::GridWorker], "vaccination outreach")?;
    let area = query_area(caller, q)?;
    let now = crate::now();
    let cells = crate::lab::outreach(state, &area, now.shanghai_day(), create, now).await?;
    let total: usize = cells.iter().map(|(_, p)| p.len()).sum();
    let items: Vec<Value> = cells
        .iter()
        .map(|(c, p)| json!({"cell": c, "count": p.len(),
                             "people": p.iter().take(1000).map(|x| x.to_string()).collect::<Vec<_>>()}))
        .collect();
    Ok(Json(json!({"area": area, "total": total, "cells": items})).into_response())
}

pub(super) async fn post_outreach(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let q: AreaQuery = if body.is_empty() {
        AreaQuery { area: None }
    } else {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct In {
            #[serde(default)]
            area: Option<String>,
        }
        crate::json::check_json(&headers)?;
        let b: In = body_json(&body)?;
        AreaQuery { area: b.area }
    };
    outreach_answer(&state, &caller, &q, true).await
}

pub(super) async fn get_outreach(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AreaQuery>,
) -> Result<Response, AppError> {
    outreach_answer(&state, &caller, &q, false).await
}

pub(super) async fn get_person_vaccination(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let person = crate::api::visible_person(&state, &caller, &id)?.id();
    let s = crate::lab::vaccination_status(&state, person);
    Ok(Json(
        json!({"person": person.to_string(), "doses": s.doses, "first_dose": s.first_dose(),
                   "full_course": s.full_course(), "booster": s.booster()}),
    )
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MandatedIn {
    #[serde(default)]
    pub(super) area: Option<String>,
    /// Hours between mandated tests; the policy's `mandated_test_every_hours` when absent.
    #[serde(default)]
    pub(super) every_hours: Option<u32>,
}

/// `POST /api/v1/test-requirements/check`: records missed mandated tests in an area.
pub(super) async fn post_check_mandated(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "checking mandated tests")?;
    let b: MandatedIn = parse(&headers, &body)?;
    let area = query_area(&caller, &AreaQuery { area: b.area })?;
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
    let n = crate::lab::check_mandated(&state, &area, every, caller.actor(), crate::now()).await?;
    Ok(
        Json(json!({"area": area, "every_hours": every, "missed_tests_recorded": n}))
            .into_response(),
    )
}
