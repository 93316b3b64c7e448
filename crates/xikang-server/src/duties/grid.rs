//! The administrative grid and grid workers' tasks: importing cells, listing and
//! completing tasks, the overdue roll-up, and the unsampled follow-up after a round.

use super::*;

#[derive(Debug, Deserialize)]
pub(super) struct CellIn {
    pub(super) cell: u32,
    pub(super) community: String,
    pub(super) name: String,
    pub(super) lat: f64,
    pub(super) lon: f64,
    #[serde(default)]
    pub(super) worker: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CellsIn {
    pub(super) cells: Vec<CellIn>,
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

pub(super) async fn post_cells(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin], "importing the grid")?;
    let b: CellsIn = parse(&headers, &body)?;
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
    Ok((StatusCode::CREATED, Json(ImportedOut { imported: n })).into_response())
}

pub(super) async fn list_cells(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<CellsOut>, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "listing the grid",
    )?;
    let store = state.store.clone();
    let cells = blocking(move || store.grid_cells()).await?;
    let mine: Option<HashSet<GridCell>> = if caller.role == Role::GridWorker {
        Some(
            authorise::cells_of(&state, &caller)
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
    Ok(Json(CellsOut { cells }))
}

#[derive(Debug, Deserialize)]
pub(super) struct TaskQuery {
    pub(super) cell: Option<u32>,
    pub(super) limit: Option<u32>,
}

/// The open tasks of a grid worker's cells (or, for staff, of one cell), earliest due first.
pub fn tasks_for(
    store: &dyn xikang_store::Store,
    cells: &[GridCell],
    limit: u32,
) -> Result<Vec<xikang_store::TaskRecord>, StoreError> {
    store.open_tasks_of_cells(cells, limit)
}

pub(super) async fn list_tasks(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<TaskQuery>,
) -> Result<Json<TasksOut>, AppError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(bad("invalid_limit", "limit must be from 1 to 500"));
    }
    let cells = match caller.role {
        Role::GridWorker => {
            let mine = authorise::cells_of(&state, &caller).await?;
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
                authorise::cells(&state, &caller, &[GridCell(c)]).await?;
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
    Ok(Json(TasksOut {
        tasks: tasks.iter().map(TaskOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct CompleteIn {
    pub(super) note: String,
}

pub async fn complete_task(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    caller.require(&[Role::GridWorker, Role::Admin], "completing tasks")?;
    let id: TaskId = parse_id(&id)?;
    let b: CompleteIn = parse(&headers, &body)?;
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
        && !authorise::cells_of(&state, &caller)
            .await?
            .contains(&task.cell)
    {
        return Err(AppError::Forbidden("that task is in another worker's cell"));
    }
    authorise::cells(&state, &caller, &[task.cell]).await?;
    let op = DutyOp::CompleteTask {
        task: id,
        at: crate::now(),
        by: caller.actor(),
        note,
    };
    commit(&state, vec![op], Vec::new()).await?;
    Ok(Json(to_value(TaskDoneOut {
        done: true,
        task: id.to_string(),
    })?))
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

/// [`overdue_out`] as a JSON value, for the ranking page (`web/ranking.rs`), which reads
/// it by key; it goes once that page reads the typed roll-up.
pub fn overdue_rollup(
    cells: &[GridCellRecord],
    per_cell: &[(GridCell, u64)],
    within: &AreaCode,
) -> Value {
    serde_json::to_value(overdue_out(cells, per_cell, within)).unwrap_or(Value::Null)
}

pub(super) async fn overdue(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<OverdueOut>, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "overdue tasks",
    )?;
    let store = state.store.clone();
    let now = crate::now();
    let (cells, per_cell) =
        blocking(move || Ok((store.grid_cells()?, store.overdue_by_cell(now)?))).await?;
    let per_cell: Vec<(GridCell, u64)> = if caller.role == Role::GridWorker {
        let mine: HashSet<GridCell> = authorise::cells_of(&state, &caller)
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
    Ok(Json(overdue_out(&cells, &per_cell, &caller.area)))
}

#[derive(Debug, Deserialize)]
pub(super) struct UnsampledIn {
    /// When the screening round began.
    pub(super) since: String,
    pub(super) cells: Vec<u32>,
}

/// The grid task for a resident not sampled in the screening round that began at `since`:
/// one per person and round (the dedupe key), whether it comes from `POST /grid/unsampled`
/// or from the round's closing.
pub(crate) fn unsampled_task(
    p: PersonId,
    cell: GridCell,
    since: Timestamp,
    now: Timestamp,
    due: Timestamp,
) -> NewTask {
    NewTask {
        cell,
        kind: TaskKind::UnsampledResident,
        person: Some(p),
        household: None,
        detail: format!(
            "{p} has not been sampled in the round that began {}",
            since.to_rfc3339()
        ),
        created_at: now,
        due_at: due,
        dedupe: Some(format!("unsampled:{p}:{}", since.0)),
    }
}

/// Residents of the given cells not sampled since a screening round began become
/// `unsampled_resident` tasks for their grid worker (once per person and round).
pub(super) async fn unsampled(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    caller.require(&[Role::Admin, Role::Tracer], "screening-round follow-up")?;
    let b: UnsampledIn = parse(&headers, &body)?;
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
        .map(|(i, s)| unsampled_task(PersonId(i as u32), s.home_cell, since, now, due))
        .collect();
    let n = tasks.len();
    commit(&state, vec![DutyOp::InsertTasks(tasks)], Vec::new()).await?;
    Ok((StatusCode::CREATED, Json(UnsampledOut { unsampled: n })).into_response())
}
