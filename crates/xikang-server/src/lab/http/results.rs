//! Lab results over HTTP (JSON or CSV, each line answered on its own) and the open tasks
//! they leave.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResultIn {
    pub(super) barcode: String,
    pub(super) outcome: String,
    #[serde(default)]
    pub(super) ct: Option<f32>,
    #[serde(default)]
    pub(super) resulted_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResultsIn {
    pub(super) results: Vec<Value>,
}

pub(super) fn result_of_json(v: Value) -> Result<ResultLine, ItemError> {
    let r: ResultIn =
        serde_json::from_value(v).map_err(|e| item_err("invalid_result", e.to_string()))?;
    let barcode = TubeBarcode::parse(&r.barcode).map_err(|e| item_err(e.code(), e.to_string()))?;
    let outcome = LabOutcome::parse(&r.outcome).ok_or_else(|| {
        item_err(
            "invalid_outcome",
            "outcome is negative, positive or invalid",
        )
    })?;
    if r.ct.is_some_and(|c| !(0.0..=50.0).contains(&c)) {
        return Err(item_err("invalid_ct", "a Ct value is between 0 and 50"));
    }
    let resulted_at = r
        .resulted_at
        .as_deref()
        .map(|s| Timestamp::parse_rfc3339(s).map_err(|e| item_err("invalid_time", e.to_string())))
        .transpose()?;
    Ok(ResultLine {
        barcode,
        outcome,
        ct: r.ct,
        resulted_at,
    })
}

pub(super) fn is_csv(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/csv")
        })
}

/// CSV lines with their 1-based line numbers, headers and blank lines skipped.
pub(super) fn csv_lines(body: &[u8]) -> Result<Vec<(usize, &str)>, AppError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| AppError::bad("invalid_csv", "the CSV body is not UTF-8"))?;
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !ResultLine::is_header_or_blank(l))
        .collect())
}

/// `POST /api/v1/lab-results`: JSON `{"results": [...]}` or a `text/csv` body of lines
/// `barcode,outcome[,ct[,resulted_at]]`.
pub async fn post_lab_results(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(LAB_POSTERS, "posting lab results")?;
    let lines = if is_csv(&headers) {
        record_lab_csv(&state, &caller, &body).await?
    } else {
        let b: ResultsIn = parse(&headers, &body)?;
        check_count(b.results.len())?;
        record_lab_results(
            &state,
            &caller,
            b.results.into_iter().map(result_of_json).collect(),
        )
        .await?
        .into_iter()
        .map(|outcome| LabLine {
            line: None,
            outcome,
        })
        .collect()
    };
    let numbers: Vec<Option<usize>> = lines.iter().map(|l| l.line).collect();
    let mut items = batch_items(
        lines
            .into_iter()
            .map(|l| {
                l.outcome.map(|d| {
                    json!({"tube": d.tube.to_string(), "members": d.members, "holds": d.holds,
                           "tasks": d.tasks, "suspected_case": d.suspected.map(|c| c.to_string())})
                })
            })
            .collect(),
    );
    // A CSV line's number, so the sender finds the line in their file.
    for (item, n) in items.iter_mut().zip(numbers) {
        if let Some(n) = n {
            item["line"] = json!(n);
        }
    }
    batch_reply(items)
}

/// Who may post lab results.
pub(super) const LAB_POSTERS: &[Role] = &[Role::Lab, Role::Admin];

/// One line of a results upload and what came of it.
#[derive(Debug)]
pub struct LabLine {
    /// The CSV file's line number (None for a JSON item).
    pub line: Option<usize>,
    pub outcome: Result<crate::lab::Resulted, ItemError>,
}

/// Records a results file in the `xikang tests import` CSV format (the command behind
/// `POST /api/v1/lab/results` with `text/csv` and the lab page): each line on its own,
/// numbered as in the file.
pub async fn record_lab_csv(
    state: &AppState,
    actor: &Actor,
    csv: &[u8],
) -> Result<Vec<LabLine>, AppError> {
    actor.require(LAB_POSTERS, "posting lab results")?;
    let lines = csv_lines(csv)?;
    check_count(lines.len())?;
    let numbers: Vec<usize> = lines.iter().map(|(n, _)| *n).collect();
    let parsed = lines
        .into_iter()
        .map(|(_, l)| ResultLine::parse(l).map_err(|e| item_err(e.code(), e.to_string())))
        .collect();
    Ok(record_lab_results(state, actor, parsed)
        .await?
        .into_iter()
        .zip(numbers)
        .map(|(outcome, n)| LabLine {
            line: Some(n),
            outcome,
        })
        .collect())
}

/// Records result lines (labs and admins): each line succeeds or is refused on its own.
pub async fn record_lab_results(
    state: &AppState,
    actor: &Actor,
    lines: Vec<Result<ResultLine, ItemError>>,
) -> Result<Vec<Result<crate::lab::Resulted, ItemError>>, AppError> {
    actor.require(LAB_POSTERS, "posting lab results")?;
    crate::lab::post_results(state, &actor.actor(), lines, crate::now()).await
}

/// Adds the CSV line number to every per-item result of a batch answer (or its 422).
pub(super) async fn add_line_numbers(
    answer: Result<Response, AppError>,
    numbers: &[usize],
) -> Result<Response, AppError> {
    let number = |items: &mut Value| {
        if let Some(list) = items.as_array_mut() {
            for (i, item) in list.iter_mut().enumerate() {
                item["line"] = json!(numbers.get(i));
            }
        }
    };
    match answer {
        Ok(resp) => {
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let mut v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            number(&mut v["results"]);
            Ok(Json(v).into_response())
        }
        Err(AppError::Unprocessable {
            code,
            message,
            details,
        }) => {
            let mut d = details.unwrap_or(Value::Null);
            number(&mut d["results"]);
            Err(AppError::Unprocessable {
                code,
                message,
                details: Some(d),
            })
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct TasksQuery {
    pub(super) kind: Option<String>,
}

pub(super) async fn get_tasks(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<TasksQuery>,
) -> Result<Response, AppError> {
    caller.require(
        &[Role::Admin, Role::Lab, Role::GridWorker, Role::Tracer],
        "reading lab tasks",
    )?;
    let kind = q
        .kind
        .as_deref()
        .map(|k| {
            TaskKind::parse(k).ok_or_else(|| {
                AppError::bad(
                    "invalid_task_kind",
                    "kind is single_tube_retest, resample or vaccination_outreach",
                )
            })
        })
        .transpose()?;
    let tasks = crate::lab::open_tasks(&state, kind, |p| {
        state
            .projection
            .person_area(p)
            .is_some_and(|a| caller.covers(&a))
    });
    let people = read(&state.projection.people);
    let items: Vec<Value> = tasks
        .iter()
        .take(10_000)
        .map(|t| {
            let cell = people.get(t.person.0 as usize).map(|s| s.home_cell);
            json!({"id": t.id, "person": t.person.to_string(), "kind": t.kind, "cell": cell,
                   "tube": t.tube.map(|x| x.to_string()), "created_at": t.created_at.to_rfc3339()})
        })
        .collect();
    Ok(Json(json!({"count": tasks.len(), "items": items})).into_response())
}
