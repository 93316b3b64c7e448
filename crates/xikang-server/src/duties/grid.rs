//! The administrative grid and grid workers' tasks: importing cells, listing and
//! completing tasks, the overdue roll-up, and the unsampled follow-up after a round.

use super::*;

/// One grid cell of `POST /grid/cells`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CellIn {
    pub cell: u32,
    pub community: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    #[serde(default)]
    pub worker: Option<String>,
}

/// The body of `POST /grid/cells`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CellsIn {
    pub cells: Vec<CellIn>,
}

/// Validates grid rows from the API or a CSV import.
pub fn grid_record(
    cell: u32,
    community: &str,
    name: &str,
    lat: f64,
    lon: f64,
    worker: Option<&str>,
) -> Result<GridCellRecord, String> {
    let community = AreaCode::parse(community).map_err(|e| e.to_string())?;
    if community.as_str().len() != 12 {
        return Err(format!(
            "cell {cell}: the community code must have 12 digits"
        ));
    }
    if name.trim().is_empty() || name.len() > 200 {
        return Err(format!("cell {cell}: a name of 1-200 bytes is needed"));
    }
    if !(lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon))
    {
        return Err(format!("cell {cell}: latitude or longitude out of range"));
    }
    let worker = worker.map(str::trim).filter(|w| !w.is_empty());
    if worker.is_some_and(|w| w.len() > 100) {
        return Err(format!("cell {cell}: worker name too long"));
    }
    Ok(GridCellRecord {
        cell: GridCell(cell),
        community,
        name: name.trim().to_owned(),
        lat,
        lon,
        worker: worker.map(str::to_owned),
    })
}

/// Imports grid cells with their grid workers (admins, cells inside their area).
pub async fn import_cells(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<CellsIn>,
) -> Result<ImportedOut, AppError> {
    caller.require(&[Role::Admin], "importing the grid")?;
    let b = input.get()?;
    if b.cells.is_empty() || b.cells.len() > 100_000 {
        return Err(bad("invalid_cells", "send 1 to 100,000 cells"));
    }
    let rows = b
        .cells
        .iter()
        .map(|c| {
            grid_record(
                c.cell,
                &c.community,
                &c.name,
                c.lat,
                c.lon,
                c.worker.as_deref(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| bad("invalid_cells", m))?;
    if rows.iter().any(|c| !caller.covers(&c.community)) {
        return Err(AppError::Forbidden("a cell lies outside your jurisdiction"));
    }
    let n = rows.len();
    let store = state.store.clone();
    blocking(move || store.put_grid_cells(&rows)).await?;
    Ok(ImportedOut { imported: n })
}

pub(super) async fn post_cells(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<CellsIn>,
) -> Result<(StatusCode, Json<ImportedOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(import_cells(&state, &caller, input).await?),
    ))
}

/// The grid cells the caller may see (a grid worker: their own).
pub async fn grid_cells(state: &AppState, caller: &Actor) -> Result<CellsOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "listing the grid",
    )?;
    let store = state.store.clone();
    let cells = blocking(move || store.grid_cells()).await?;
    let mine: Option<HashSet<GridCell>> = if caller.role == Role::GridWorker {
        Some(
            authorise::cells_of(state, caller)
                .await?
                .into_iter()
                .collect(),
        )
    } else {
        None
    };
    let cells = cells
        .iter()
        .filter(|c| caller.covers(&c.community))
        .filter(|c| mine.as_ref().is_none_or(|m| m.contains(&c.cell)))
        .map(CellOut::from)
        .collect();
    Ok(CellsOut { cells })
}

pub(super) async fn list_cells(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<CellsOut>, AppError> {
    Ok(Json(grid_cells(&state, &caller).await?))
}

/// The query of `GET /grid/tasks`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TaskQuery {
    pub cell: Option<u32>,
    pub limit: Option<u32>,
}

/// The open tasks of a grid worker's cells (or, for staff, of one cell), earliest due first.
pub fn tasks_for(
    store: &dyn xikang_store::Store,
    cells: &[GridCell],
    limit: u32,
) -> Result<Vec<xikang_store::TaskRecord>, StoreError> {
    store.open_tasks_of_cells(cells, limit)
}

/// The open tasks of a grid worker's cells, or of one cell for staff.
pub async fn open_tasks(
    state: &AppState,
    caller: &Actor,
    q: TaskQuery,
) -> Result<TasksOut, AppError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad("invalid_limit", "limit must be from 1 to 500"));
    }
    let cells = match caller.role {
        Role::GridWorker => {
            let mine = authorise::cells_of(state, caller).await?;
            match q.cell {
                Some(c) if !mine.contains(&GridCell(c)) => {
                    return Err(AppError::Forbidden("that cell is not yours"));
                }
                Some(c) => vec![GridCell(c)],
                None => mine,
            }
        }
        Role::Admin | Role::Tracer => match q.cell {
            Some(c) => {
                authorise::cells(state, caller, &[GridCell(c)]).await?;
                vec![GridCell(c)]
            }
            None => {
                return Err(bad(
                    "cell_required",
                    "give ?cell= (grid workers see their own cells)",
                ));
            }
        },
        _ => {
            return Err(AppError::Forbidden(
                "task lists are for grid workers and staff",
            ));
        }
    };
    let store = state.store.clone();
    let tasks = blocking(move || tasks_for(store.as_ref(), &cells, limit)).await?;
    state.access.record(
        caller,
        "GET /api/v1/grid/tasks",
        None,
        crate::now(),
        tasks.iter().filter_map(|t| t.person),
    )?;
    Ok(TasksOut {
        tasks: tasks.iter().map(TaskOut::from).collect(),
    })
}

pub(super) async fn list_tasks(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<TaskQuery>,
) -> Result<Json<TasksOut>, AppError> {
    Ok(Json(open_tasks(&state, &caller, q).await?))
}

/// The body of `POST /grid/tasks/{id}/complete`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CompleteIn {
    pub note: String,
}

/// Completes a task with a note (a grid worker of its cell, or an admin over it).
pub async fn mark_task_done(
    state: &AppState,
    caller: &Actor,
    id: TaskId,
    input: JsonIn<CompleteIn>,
) -> Result<TaskDoneOut, AppError> {
    caller.require(&[Role::GridWorker, Role::Admin], "completing tasks")?;
    let b = input.get()?;
    let note = b.note.trim().to_owned();
    if note.is_empty() || note.chars().count() > 1000 {
        return Err(bad(
            "invalid_note",
            "a completion note of 1-1000 characters is needed",
        ));
    }
    let store = state.store.clone();
    let task = blocking(move || store.task(id))
        .await?
        .ok_or_else(|| AppError::not_found("unknown_task", format!("no task {id}")))?;
    if caller.role == Role::GridWorker
        && !authorise::cells_of(state, caller)
            .await?
            .contains(&task.cell)
    {
        return Err(AppError::Forbidden("that task is in another worker's cell"));
    }
    authorise::cells(state, caller, &[task.cell]).await?;
    let op = DutyOp::CompleteTask {
        task: id,
        at: crate::now(),
        by: caller.actor(),
        note,
    };
    commit(state, vec![op], Vec::new()).await?;
    Ok(TaskDoneOut {
        done: true,
        task: id.to_string(),
    })
}

/// `POST /grid/tasks/{id}/complete` ([`mark_task_done`]).
pub async fn complete_task(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<TaskId>,
    input: JsonIn<CompleteIn>,
) -> Result<Json<TaskDoneOut>, AppError> {
    Ok(Json(mark_task_done(&state, &caller, id, input).await?))
}

/// Overdue open tasks per cell, rolled up per street (9 digits) and district (6 digits).
pub fn overdue_out(
    cells: &[GridCellRecord],
    per_cell: &[(GridCell, u64)],
    within: &AreaCode,
) -> OverdueOut {
    let community: HashMap<GridCell, &AreaCode> =
        cells.iter().map(|c| (c.cell, &c.community)).collect();
    let mut streets: BTreeMap<String, u64> = BTreeMap::new();
    let mut districts: BTreeMap<String, u64> = BTreeMap::new();
    let mut out_cells = Vec::new();
    let mut total = 0;
    for (cell, n) in per_cell {
        let Some(c) = community.get(cell) else {
            continue;
        };
        if !within.contains(c) {
            continue;
        }
        let s = c.as_str();
        *streets.entry(s[..9].to_owned()).or_default() += n;
        *districts.entry(s[..6].to_owned()).or_default() += n;
        total += n;
        out_cells.push(CellOverdueOut {
            cell: cell.0,
            community: s.to_owned(),
            overdue: *n,
        });
    }
    OverdueOut {
        cells: out_cells,
        streets: streets
            .into_iter()
            .map(|(street, overdue)| StreetOverdueOut { overdue, street })
            .collect(),
        districts: districts
            .into_iter()
            .map(|(district, overdue)| DistrictOverdueOut { district, overdue })
            .collect(),
        total,
    }
}

/// Overdue tasks in the caller's area (a grid worker: their cells), rolled up.
pub async fn overdue_tasks(state: &AppState, caller: &Actor) -> Result<OverdueOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "overdue tasks",
    )?;
    let store = state.store.clone();
    let now = crate::now();
    let (cells, per_cell) =
        blocking(move || Ok((store.grid_cells()?, store.overdue_by_cell(now)?))).await?;
    let per_cell: Vec<(GridCell, u64)> = if caller.role == Role::GridWorker {
        let mine: HashSet<GridCell> = authorise::cells_of(state, caller)
            .await?
            .into_iter()
            .collect();
        per_cell
            .into_iter()
            .filter(|(c, _)| mine.contains(c))
            .collect()
    } else {
        per_cell
    };
    Ok(overdue_out(&cells, &per_cell, &caller.area))
}

pub(super) async fn overdue(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<OverdueOut>, AppError> {
    Ok(Json(overdue_tasks(&state, &caller).await?))
}

/// The body of `POST /grid/unsampled`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct UnsampledIn {
    /// When the screening round began.
    pub since: String,
    pub cells: Vec<u32>,
}

/// Residents of the given cells not sampled since a screening round began become
/// `unsampled_resident` tasks for their grid worker (once per person and round).
pub async fn follow_up_unsampled(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<UnsampledIn>,
) -> Result<UnsampledOut, AppError> {
    caller.require(&[Role::Admin, Role::Tracer], "screening-round follow-up")?;
    let b = input.get()?;
    let since =
        Timestamp::parse_rfc3339(&b.since).map_err(|e| bad("invalid_time", e.to_string()))?;
    let now = crate::now();
    if since > now || since < now.plus(-14 * DAY) {
        return Err(bad(
            "invalid_since",
            "a round that began within the last 14 days",
        ));
    }
    if b.cells.is_empty() || b.cells.len() > 50_000 {
        return Err(bad("invalid_cells", "name 1 to 50,000 grid cells"));
    }
    let store = state.store.clone();
    let grid = blocking(move || store.grid_cells()).await?;
    let known: HashMap<GridCell, &GridCellRecord> = grid.iter().map(|c| (c.cell, c)).collect();
    let mut cells = HashSet::new();
    for c in &b.cells {
        let rec = known.get(&GridCell(*c)).ok_or_else(|| {
            unprocessable(
                "unknown_cell",
                format!("grid cell {c} is not in the grid"),
                None,
            )
        })?;
        if !caller.covers(&rec.community) {
            return Err(AppError::Forbidden("a cell lies outside your jurisdiction"));
        }
        cells.insert(GridCell(*c));
    }
    let due = now.plus(i64::from(state.policy().duties().task_due_hours) * HOUR);
    let tasks: Vec<NewTask> = read(&state.projection.people)
        .iter()
        .enumerate()
        .filter(|(_, s)| s.community != u32::MAX && cells.contains(&s.home_cell))
        .filter(|(_, s)| s.facts.last_sample().is_none_or(|t| t < since))
        .map(|(i, s)| NewTask::unsampled(PersonId(i as u32), s.home_cell, since, now, due))
        .collect();
    let n = tasks.len();
    commit(state, vec![DutyOp::InsertTasks(tasks)], Vec::new()).await?;
    Ok(UnsampledOut { unsampled: n })
}

/// Residents of the given cells not sampled since a screening round began become
/// `unsampled_resident` tasks for their grid worker (once per person and round).
pub(super) async fn unsampled(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<UnsampledIn>,
) -> Result<(StatusCode, Json<UnsampledOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(follow_up_unsampled(&state, &caller, input).await?),
    ))
}
