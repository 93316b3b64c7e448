//! The resident register (实有人口): `POST /api/v1/people/import` and the command behind
//! it and `xikang people import`. A table (CSV or XLSX, read by [`crate::table`]) whose
//! header names the columns; each line is parsed (`xikang_domain::register`), its area
//! authorised against the caller's (`app/authorise.rs`), compared with the stored person
//! of the same ID number and then added, updated, moved or left alone. The good lines are
//! written in one transaction with the import's authority events (`app/commit.rs`); the
//! bad ones are answered by line number with a stable code and change nothing. Importing
//! the same file again changes nothing and appends nothing.

use crate::app::{Actor, authorise};
use crate::error::{AppError, ItemError, item_err};
use crate::extract::Upload;
use crate::state::{AppState, write};
use crate::table::{Row, TableError, TableFormat};
use crate::wire::ItemErrorOut;
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::register::{Change, Column, Columns, RegisterLine, change};
use xikang_domain::{AreaCode, GridCell, HouseholdId, PersonId, Timestamp};
use xikang_store::{RegisterRow, RegisterWrite};

/// Most data lines in one request: the CLI sends larger files in chunks of this size.
pub const MAX_LINES: usize = 10_000;

/// The register's own state: imports are serialised (they hand out ids), and the next
/// free person and household ids are kept once read.
#[derive(Debug, Default)]
pub struct RegisterState {
    next: tokio::sync::Mutex<Option<(PersonId, HouseholdId)>>,
}

/// A refused line of an import.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RefusedLineOut {
    /// The line in the file (for XLSX, the worksheet's row number); none for a JSON item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The line's place among the request's data lines, from 0.
    pub index: usize,
    pub error: ItemErrorOut,
}

impl RefusedLineOut {
    fn new(line: Option<usize>, index: usize, e: ItemError) -> RefusedLineOut {
        RefusedLineOut {
            line,
            index,
            error: ItemErrorOut {
                code: e.code,
                message: e.message,
            },
        }
    }
}

/// The answer of an import: what became of the lines. Good lines are counted, refused ones
/// listed by line number.
#[derive(Debug, Serialize, Default, utoipa::ToSchema)]
pub struct ImportOut {
    /// New residents.
    pub added: usize,
    /// Same address; name, phone, household, kind or registration date changed.
    pub updated: usize,
    /// Moved to another address (an authority event each).
    pub moved: usize,
    /// Already registered exactly so: nothing done.
    pub unchanged: usize,
    pub refused: usize,
    pub refusals: Vec<RefusedLineOut>,
}

/// The JSON form of an import: `{"people": [{"id_number": …, "name": …, …}]}`, each item
/// with the columns of a register file as its keys.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeopleIn {
    pub people: Vec<serde_json::Map<String, Value>>,
}

/// `POST /api/v1/people/import`: a `text/csv` or XLSX body, or JSON (city and district
/// admins).
pub async fn post_import(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    upload: Upload<PeopleIn>,
) -> Result<Json<ImportOut>, AppError> {
    authorise::register_import(&caller)?;
    let now = crate::now();
    let lines = match upload {
        Upload::Table(format, body) => parse(format, &body, now)?,
        Upload::Json(input) => parse_json(input.get()?, now)?,
    };
    Ok(Json(import(&state, &caller, lines, now).await?))
}

/// A data line: its line number in the file (none for a JSON item) and what it says (or
/// why it cannot be read).
pub type Line = (Option<usize>, Result<RegisterLine, ItemError>);

/// Reads the JSON form: each item's keys are the columns; a key that is no column refuses
/// the item (`invalid_line`).
fn parse_json(input: PeopleIn, now: Timestamp) -> Result<Vec<Line>, AppError> {
    check_count(input.people.len())?;
    let names = Column::ALL.map(Column::name);
    let cols = Columns::from_header(&names).map_err(|e| AppError::Internal(e.to_string()))?;
    let today = now.shanghai_day();
    Ok(input
        .people
        .into_iter()
        .map(|item| {
            if let Some(k) = item.keys().find(|k| !names.contains(&k.as_str())) {
                let k: String = k.chars().take(40).collect();
                return (
                    None,
                    Err(item_err("invalid_line", format!("no column {k:?}"))),
                );
            }
            let row: Vec<String> = names
                .iter()
                .map(|n| match item.get(*n) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                })
                .collect();
            let parsed = RegisterLine::parse(&cols, &row, today)
                .map_err(|e| item_err(e.code(), e.to_string()));
            (None, parsed)
        })
        .collect())
}

fn check_count(n: usize) -> Result<(), AppError> {
    if n == 0 {
        return Err(AppError::bad("empty_batch", "the file has no data lines"));
    }
    if n > MAX_LINES {
        return Err(AppError::TooLarge(format!(
            "at most {MAX_LINES} lines per request: send a larger file in parts (xikang people import does)"
        )));
    }
    Ok(())
}

/// Reads a table: the header finds the columns, blank rows are skipped, each data row is
/// parsed on its own.
pub fn parse(format: TableFormat, body: &[u8], now: Timestamp) -> Result<Vec<Line>, AppError> {
    let today = now.shanghai_day();
    let mut columns: Option<Columns> = None;
    let mut lines = Vec::new();
    for row in crate::table::rows(format, body) {
        let row: Row = match row {
            Ok(r) => r,
            Err(e @ TableError::Encoding { line }) if columns.is_some() => {
                lines.push((Some(line), Err(item_err(e.code(), e.to_string()))));
                continue;
            }
            Err(e) => return Err(AppError::bad(e.code(), e.to_string())),
        };
        if row.fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let Some(cols) = &columns else {
            columns = Some(
                Columns::from_header(&row.fields)
                    .map_err(|e| AppError::bad(e.code(), e.to_string()))?,
            );
            continue;
        };
        let parsed = RegisterLine::parse(cols, &row.fields, today)
            .map_err(|e| item_err(e.code(), e.to_string()));
        lines.push((Some(row.line), parsed));
        if lines.len() > MAX_LINES {
            check_count(lines.len())?;
        }
    }
    if columns.is_none() {
        return Err(AppError::bad(
            "missing_columns",
            "the file has no header row naming its columns",
        ));
    }
    check_count(lines.len())?;
    Ok(lines)
}

/// Imports register lines (city and district admins; each line's community, and the
/// community a person already lives in, must lie in the caller's area). Answers every
/// line; 422 `no_valid_items` when every line was refused.
pub async fn import(
    state: &AppState,
    actor: &Actor,
    mut lines: Vec<Line>,
    now: Timestamp,
) -> Result<ImportOut, AppError> {
    authorise::register_import(actor)?;

    // The grid decides where an address lies: the cell must exist and belong to the
    // line's community.
    let store = state.store.clone();
    let cells: HashMap<GridCell, AreaCode> =
        tokio::task::spawn_blocking(move || store.grid_cells())
            .await??
            .into_iter()
            .map(|c| (c.cell, c.community))
            .collect();
    let mut seen: HashSet<[u8; 16]> = HashSet::new();
    let key = &state.secrets.id_hash_key;
    let mut hashes: Vec<Option<[u8; 16]>> = Vec::with_capacity(lines.len());
    for (_, parsed) in &mut lines {
        let mut hash = None;
        if let Ok(l) = parsed {
            let checked = match cells.get(&l.cell) {
                None => Err(item_err(
                    "unknown_cell",
                    "no such grid cell: import the grid first",
                )),
                Some(c) if *c != l.community => Err(item_err(
                    "cell_not_in_community",
                    "the grid cell belongs to another community",
                )),
                Some(_) => authorise::register_area(actor, &l.community),
            };
            let h = l.id_number.keyed_hash(key);
            let checked = checked.and_then(|()| {
                if seen.insert(h) {
                    Ok(())
                } else {
                    Err(item_err(
                        "duplicate_in_file",
                        "this ID number is on an earlier line of the file",
                    ))
                }
            });
            match checked {
                Ok(()) => hash = Some(h),
                Err(e) => *parsed = Err(e),
            }
        }
        hashes.push(hash);
    }

    // One import at a time: it hands out person and household ids.
    let mut next = state.register.next.lock().await;
    let wanted: Vec<[u8; 16]> = hashes.iter().flatten().copied().collect();
    let keys: Vec<String> = lines
        .iter()
        .filter_map(|(_, l)| l.as_ref().ok().map(|l| l.household.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let store = state.store.clone();
    let read_next = next.is_none();
    let (stored, known_households, ids) = tokio::task::spawn_blocking(move || {
        let stored = store.registered_by_hashes(&wanted)?;
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let households = store.households_by_keys(&refs)?;
        let ids = if read_next {
            Some(store.register_next_ids()?)
        } else {
            None
        };
        Ok::<_, xikang_store::StoreError>((stored, households, ids))
    })
    .await??;
    let (mut next_person, mut next_household) = match (*next, ids) {
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => {
            return Err(AppError::Internal(
                "the register's next ids are unknown".into(),
            ));
        }
    };
    let stored: HashMap<[u8; 16], _> = stored.into_iter().collect();
    let mut households: HashMap<String, HouseholdId> = known_households.into_iter().collect();

    let mut out = ImportOut::default();
    let mut w = RegisterWrite::default();
    let mut moves = Vec::new();
    let mut first_added = None;
    for (index, ((line, parsed), hash)) in lines.into_iter().zip(hashes).enumerate() {
        let (l, hash) = match (parsed, hash) {
            (Ok(l), Some(h)) => (l, h),
            (Err(e), _) => {
                out.refusals.push(RefusedLineOut::new(line, index, e));
                continue;
            }
            (Ok(_), None) => continue,
        };
        let existing = stored.get(&hash);
        // Moving a person out of another district is that district's business.
        if let Some(e) = existing
            && let Err(err) = authorise::register_area(actor, &e.community)
        {
            out.refusals.push(RefusedLineOut::new(line, index, err));
            continue;
        }
        let household = match households.get(&l.household) {
            Some(h) => *h,
            None => {
                let h = next_household;
                next_household = HouseholdId(h.0 + 1);
                households.insert(l.household.clone(), h);
                w.households.push((l.household.clone(), h));
                h
            }
        };
        let row = |id| RegisterRow {
            id,
            id_hash: hash,
            household,
            line: l.clone(),
        };
        match (change(existing, &l, household), existing) {
            (Change::Added, _) => {
                let id = next_person;
                next_person = PersonId(id.0 + 1);
                first_added.get_or_insert(id);
                w.added.push(row(id));
                out.added += 1;
            }
            (Change::Unchanged, _) => out.unchanged += 1,
            (Change::Updated, Some(e)) => {
                w.changed.push(row(e.id));
                out.updated += 1;
            }
            (Change::Moved, Some(e)) => {
                moves.push(EventBody::ResidentMoved {
                    person: e.id,
                    community: l.community.clone(),
                    from: e.cell,
                    to: l.cell,
                });
                w.changed.push(row(e.id));
                out.moved += 1;
            }
            (Change::Updated | Change::Moved, None) => {}
        }
    }
    out.refused = out.refusals.len();
    if out.added + out.updated + out.moved + out.unchanged == 0 {
        let details = serde_json::to_value(&out)
            .map_err(|e| AppError::Internal(format!("an answer as JSON: {e}")))?;
        return Err(AppError::Unprocessable {
            code: "no_valid_items",
            message: "every line was refused; nothing was recorded".into(),
            details: Some(details),
        });
    }
    if w.added.is_empty() && w.changed.is_empty() {
        // A repeated import: nothing to write, nothing to log.
        *next = Some((next_person, next_household));
        return Ok(out);
    }
    let event = |body| NewEvent {
        at: now,
        actor: actor.actor(),
        basis: "resident register import (实有人口)".into(),
        body,
    };
    w.events = moves.into_iter().map(event).collect();
    w.events.push(event(EventBody::RegisterImported {
        added: out.added as u32,
        first_added,
        updated: out.updated as u32,
        moved: out.moved as u32,
        unchanged: out.unchanged as u32,
        refused: out.refused as u32,
    }));
    match state.commit_register(w).await {
        Ok(_) => {
            *next = Some((next_person, next_household));
            tracing::info!(
                added = out.added,
                updated = out.updated,
                moved = out.moved,
                unchanged = out.unchanged,
                refused = out.refused,
                "resident register imported"
            );
            Ok(out)
        }
        Err(e) => {
            // Another process may have taken ids: read them again next time.
            *next = None;
            Err(e.into())
        }
    }
}

/// Folds a committed import into the in-memory state: new residents get their slot, every
/// written resident their community, cell and household (tracing's household contacts),
/// and the lab its birth dates and districts. Moves of zones follow from the events.
pub(crate) fn absorb(state: &AppState, w: &RegisterWrite) {
    place(state, &w.placed());
}

/// Places residents an import added or moved in the projection: their slot, household and
/// the lab's birth dates and districts. An import made on this node, or followed from
/// another (docs/nodes.md).
pub(crate) fn place(state: &AppState, residents: &[xikang_store::PlacedResident]) {
    let mut placed = Vec::with_capacity(residents.len());
    let mut lab = Vec::with_capacity(residents.len());
    // A file's lines come community by community: look each up once, not per line.
    let mut ixs: HashMap<&AreaCode, u32> = HashMap::new();
    {
        let mut people = write(&state.projection.people);
        for r in residents {
            let ix = *ixs
                .entry(&r.community)
                .or_insert_with(|| state.projection.communities.index_of(&r.community));
            let i = r.id.0 as usize;
            if people.len() <= i {
                people.resize(
                    i + 1,
                    crate::app::projection::PersonSlot {
                        community: crate::app::projection::PersonSlot::UNUSED,
                        ..Default::default()
                    },
                );
            }
            let slot = &mut people[i];
            slot.community = ix;
            slot.home_cell = r.cell;
            placed.push((r.id, r.household));
            lab.push((r.id, ix, r.community.clone(), r.born));
        }
    }
    state.projection.tracing.place_in_households(&placed);
    state.projection.lab.place_residents(&lab);
}

/// Another node imported residents: the ids it handed out are taken, so the next import
/// here reads the next free ids from the store again (unless one is running now: it is
/// refused by the store if it collides, and then reads them again itself).
pub(crate) fn forget_next_ids(state: &AppState) {
    if let Ok(mut next) = state.register.next.try_lock() {
        *next = None;
    }
}
