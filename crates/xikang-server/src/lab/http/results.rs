//! Lab results over HTTP (JSON or CSV, each line answered on its own) and the open tasks
//! they leave. Each operation is a command or query taking `(&AppState, &Actor, input)`;
//! the handlers only extract, call and answer.

use super::*;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResultIn {
    pub(super) barcode: String,
    pub(super) outcome: String,
    #[serde(default)]
    pub(super) ct: Option<f32>,
    #[serde(default)]
    pub(super) resulted_at: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = LabResultsIn)]
pub struct ResultsIn {
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

/// A data row of an uploaded table: its line in the file and its fields (or why it cannot
/// be read).
pub(super) type TableLine = (usize, Result<Vec<String>, ItemError>);

/// The data rows of an uploaded table (CSV or XLSX, read by [`crate::table`]) with their
/// line numbers in the file; rows that `skip` says are headers, comments or blank are left
/// out, and a row that cannot be read (not UTF-8) is refused on its own. A file that is no
/// table at all is a 400.
pub(super) fn table_lines(
    format: TableFormat,
    body: &[u8],
    skip: impl Fn(&[String]) -> bool,
) -> Result<Vec<TableLine>, AppError> {
    let mut lines = Vec::new();
    for row in crate::table::rows(format, body) {
        match row {
            Ok(r) if skip(&r.fields) => {}
            Ok(r) => lines.push((r.line, Ok(r.fields))),
            Err(e) => match e.line() {
                Some(line) if e.code() == "invalid_encoding" => {
                    lines.push((line, Err(item_err(e.code(), e.to_string()))));
                }
                _ => return Err(AppError::bad(e.code(), e.to_string())),
            },
        }
    }
    Ok(lines)
}

/// `POST /api/v1/lab-results`: JSON `{"results": [...]}` or a `text/csv` body of lines
/// `barcode,outcome[,ct[,resulted_at]]`.
pub async fn post_lab_results(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    upload: Upload<ResultsIn>,
) -> Result<Json<BatchOut<ResultedOut>>, AppError> {
    Ok(Json(record_upload(&state, &caller, upload).await?))
}

/// Records a results upload, JSON or CSV by its content type (labs and admins): each line
/// answered on its own, a CSV line with its number in the file.
pub async fn record_upload(
    state: &AppState,
    caller: &Actor,
    upload: Upload<ResultsIn>,
) -> Result<BatchOut<ResultedOut>, AppError> {
    // The role before the body, as the API always answered a stranger.
    caller.require(LAB_POSTERS, "posting lab results")?;
    let lines = match upload {
        Upload::Table(format, body) => record_lab_table(state, caller, format, &body).await?,
        Upload::Json(input) => {
            let b = input.get()?;
            check_count(b.results.len())?;
            record_lab_results(
                state,
                caller,
                b.results.into_iter().map(result_of_json).collect(),
            )
            .await?
            .into_iter()
            .map(|outcome| LabLine {
                line: None,
                outcome,
            })
            .collect()
        }
    };
    // Every line of a CSV file has its number, no JSON item has one.
    let numbers: Option<Vec<usize>> = lines.iter().map(|l| l.line).collect();
    let outcomes = lines.into_iter().map(|l| l.outcome).collect();
    batch_reply(batch_items(outcomes, numbers.as_deref(), ResultedOut::new))
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
    record_lab_table(state, actor, TableFormat::Csv, csv).await
}

/// Records a results table, CSV or XLSX: each line on its own, numbered as in the file.
pub async fn record_lab_table(
    state: &AppState,
    actor: &Actor,
    format: TableFormat,
    body: &[u8],
) -> Result<Vec<LabLine>, AppError> {
    actor.require(LAB_POSTERS, "posting lab results")?;
    let lines = table_lines(format, body, ResultLine::is_header_or_blank)?;
    check_count(lines.len())?;
    let numbers: Vec<usize> = lines.iter().map(|(n, _)| *n).collect();
    let parsed = lines
        .into_iter()
        .map(|(_, fields)| {
            ResultLine::from_fields(&fields?).map_err(|e| item_err(e.code(), e.to_string()))
        })
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

/// The query of `GET /lab-tasks`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TasksQuery {
    pub kind: Option<String>,
}

/// Open lab tasks (retests, resamples, outreach) of people the caller covers — a grid
/// worker's are the residents of their own cells, not of their whole area — the first
/// 10 000 listed with each person's home cell.
pub async fn lab_tasks(
    state: &AppState,
    caller: &Actor,
    q: TasksQuery,
) -> Result<LabTasksOut, AppError> {
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
    let cells: Option<std::collections::HashSet<GridCell>> = match caller.role {
        Role::GridWorker => Some(
            authorise::cells_of(state, caller)
                .await?
                .into_iter()
                .collect(),
        ),
        _ => None,
    };
    let tasks = crate::lab::open_tasks(state, kind, |p| match &cells {
        Some(cells) => state
            .projection
            .home_cell(p)
            .is_some_and(|c| cells.contains(&c)),
        None => authorise::person_in_area(state, caller, p),
    });
    let listed = &tasks[..tasks.len().min(10_000)];
    state.access.record(
        caller,
        "GET /api/v1/lab-tasks",
        None,
        crate::now(),
        listed.iter().map(|t| t.person),
    )?;
    let people = read(&state.projection.people);
    let items = listed
        .iter()
        .map(|t| LabTaskOut::new(t, people.get(t.person.0 as usize).map(|s| s.home_cell)))
        .collect();
    Ok(LabTasksOut {
        count: tasks.len(),
        items,
    })
}

pub(super) async fn get_tasks(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<TasksQuery>,
) -> Result<Json<LabTasksOut>, AppError> {
    Ok(Json(lab_tasks(&state, &caller, q).await?))
}
