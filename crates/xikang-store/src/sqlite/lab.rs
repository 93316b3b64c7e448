//! [`LabStore`] for SQLite: every lab write is one `begin immediate` transaction on the
//! writer connection, with its authority events appended in the same transaction.

use super::SqliteStore;
use crate::error::{ConflictKind, Result, StoreError};
use crate::lab::{
    LabStore, LabWrite, PersonBirth, ROUND_COLUMNS, RoundRow, TUBE_COLUMNS, TubeRow, batch_of,
    birth_of, cells_text, dose_of, sample_of, site_of, task_of,
};
use rusqlite::{Transaction, TransactionBehavior, params};
use xikang_domain::PersonId;
use xikang_domain::event::StoredEvent;
use xikang_domain::testing::{
    Batch, Dose, LabTask, Round, Sample, SamplingSite, Tube, TubeId, TubeState,
};

/// Samples handed to a `for_each_sample` callback at a time.
const CHUNK: usize = 65_536;

fn put_sites(tx: &Transaction<'_>, sites: &[SamplingSite]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "insert into lab_sites (id, name, area, cell) values (?1, ?2, ?3, ?4)
         on conflict (id) do update set name = excluded.name, area = excluded.area, cell = excluded.cell",
    )?;
    for s in sites {
        stmt.execute(params![s.id.0, s.name, s.area.as_str(), s.cell.0])?;
    }
    Ok(())
}

fn put_rounds(tx: &Transaction<'_>, rounds: &[Round]) -> Result<()> {
    let mut stmt = tx.prepare_cached(&format!(
        "insert or replace into lab_rounds ({ROUND_COLUMNS}) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?;
    for r in rounds {
        stmt.execute(params![
            r.id.0,
            r.name,
            r.area.as_str(),
            cells_text(&r.cells),
            r.starts_at.0,
            r.deadline.0,
            r.pools.sealed,
            r.pools.controlled,
            r.pools.other,
            r.closed_at.map(|t| t.0),
        ])?;
    }
    Ok(())
}

fn put_tubes(tx: &Transaction<'_>, tubes: &[Tube]) -> Result<()> {
    // A plain insert for a new tube: a barcode or id already taken fails on its unique key
    // (`insert or replace` would delete the row it collides with). A tube moving on sets
    // only what moves after opening (barcode, site, round, capacity and opening time never
    // change): SQLite rewrites an index whenever its column is assigned, even to the same
    // value, and a city-wide round moves a million tubes through four more states.
    let mut insert = tx.prepare_cached(&format!(
        "insert into lab_tubes ({TUBE_COLUMNS}) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))?;
    // Both take the tube's fifteen columns in order; the update reads the id and what moves.
    let mut update = tx.prepare_cached(
        "update lab_tubes set state = ?6, sealed_at = ?8, batch = ?9, shipped_at = ?10,
           received_at = ?11, resulted_at = ?12, outcome = ?13, ct = ?14, lab = ?15
         where id = ?1",
    )?;
    for t in tubes {
        let row = params![
            t.id.0,
            t.barcode.as_str(),
            t.site.0,
            t.round.map(|r| r.0),
            t.capacity,
            t.state.code(),
            t.opened_at.0,
            t.sealed_at.map(|x| x.0),
            t.batch.map(|b| b.0),
            t.shipped_at.map(|x| x.0),
            t.received_at.map(|x| x.0),
            t.resulted_at.map(|x| x.0),
            t.outcome.map(|o| o.code()),
            t.ct.map(f64::from),
            t.lab,
        ];
        if t.state == TubeState::Open {
            insert.execute(row)?;
        } else if update.execute(row)? == 0 {
            return Err(StoreError::Conflict(ConflictKind::TubeNeverOpened));
        }
    }
    Ok(())
}

/// Samples per multi-row `insert`: one statement per row would pay the statement overhead
/// ten million times in a city-wide round.
const SAMPLE_ROWS_PER_STATEMENT: usize = 64;

fn insert_samples(tx: &Transaction<'_>, samples: &[Sample]) -> Result<()> {
    let sql = |rows: usize| {
        let values = vec!["(?, ?, ?, ?)"; rows].join(", ");
        format!("insert into lab_samples (tube, person, round, sampled_at) values {values}")
    };
    let mut full = tx.prepare_cached(&sql(SAMPLE_ROWS_PER_STATEMENT))?;
    let mut chunks = samples.chunks_exact(SAMPLE_ROWS_PER_STATEMENT);
    let mut values: Vec<Option<i64>> = Vec::with_capacity(4 * SAMPLE_ROWS_PER_STATEMENT);
    let push = |values: &mut Vec<Option<i64>>, s: &Sample| {
        values.push(Some(i64::from(s.tube.0)));
        values.push(Some(i64::from(s.person.0)));
        values.push(s.round.map(|r| i64::from(r.0)));
        values.push(Some(s.sampled_at.0));
    };
    for chunk in chunks.by_ref() {
        values.clear();
        for s in chunk {
            push(&mut values, s);
        }
        full.execute(rusqlite::params_from_iter(values.iter()))?;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        values.clear();
        for s in rest {
            push(&mut values, s);
        }
        tx.prepare_cached(&sql(rest.len()))?
            .execute(rusqlite::params_from_iter(values.iter()))?;
    }
    Ok(())
}

fn put_batches(tx: &Transaction<'_>, batches: &[Batch]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "insert or replace into lab_batches (id, courier, lab, handed_at, received_at, tubes)
         values (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for b in batches {
        stmt.execute(params![
            b.id.0,
            b.courier,
            b.lab,
            b.handed_at.0,
            b.received_at.map(|t| t.0),
            b.tubes
        ])?;
    }
    Ok(())
}

fn put_tasks(tx: &Transaction<'_>, tasks: &[LabTask]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "insert or replace into lab_tasks (id, person, kind, tube, created_at, done_at)
         values (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for t in tasks {
        let id = i64::try_from(t.id).map_err(|_| StoreError::Corrupt("task id".into()))?;
        stmt.execute(params![
            id,
            t.person.0,
            t.kind.as_str(),
            t.tube.map(|x| x.0),
            t.created_at.0,
            t.done_at.map(|x| x.0)
        ])?;
    }
    Ok(())
}

fn insert_doses(tx: &Transaction<'_>, doses: &[Dose]) -> Result<()> {
    let mut stmt = tx.prepare_cached(
        "insert into vaccinations (person, dose, vaccine, given_on, site) values (?1, ?2, ?3, ?4, ?5)",
    )?;
    for d in doses {
        stmt.execute(params![d.person.0, d.dose, d.vaccine, d.given_on.0, d.site])?;
    }
    Ok(())
}

fn tube_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TubeRow> {
    Ok(TubeRow {
        id: r.get(0)?,
        barcode: r.get(1)?,
        site: r.get(2)?,
        round: r.get(3)?,
        capacity: r.get(4)?,
        state: r.get(5)?,
        opened_at: r.get(6)?,
        sealed_at: r.get(7)?,
        batch: r.get(8)?,
        shipped_at: r.get(9)?,
        received_at: r.get(10)?,
        resulted_at: r.get(11)?,
        outcome: r.get(12)?,
        ct: r.get::<_, Option<f64>>(13)?.map(|v| v as f32),
        lab: r.get(14)?,
    })
}

impl LabStore for SqliteStore {
    fn write_lab(&self, w: &LabWrite) -> Result<Vec<StoredEvent>> {
        if w.is_empty() {
            return Ok(Vec::new());
        }
        let mut writer = self.write();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        put_sites(&tx, &w.sites)?;
        put_rounds(&tx, &w.rounds)?;
        put_tubes(&tx, &w.tubes)?;
        insert_samples(&tx, &w.samples)?;
        put_batches(&tx, &w.batches)?;
        put_tasks(&tx, &w.tasks)?;
        insert_doses(&tx, &w.doses)?;
        super::duties::apply_in(&tx, &w.duties)?;
        let stored = super::append_events_in(&tx, &w.events)?;
        tx.commit()?;
        Ok(stored)
    }

    fn sampling_sites(&self) -> Result<Vec<SamplingSite>> {
        let conn = self.read()?;
        let mut stmt =
            conn.prepare_cached("select id, name, area, cell from lab_sites order by id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
            ))
        })?;
        rows.map(|r| {
            let (id, name, area, cell) = r?;
            site_of(id, name, &area, cell)
        })
        .collect()
    }

    fn rounds(&self) -> Result<Vec<Round>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {ROUND_COLUMNS} from lab_rounds order by id"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok(RoundRow {
                id: r.get(0)?,
                name: r.get(1)?,
                area: r.get(2)?,
                cells: r.get(3)?,
                starts_at: r.get(4)?,
                deadline: r.get(5)?,
                pools: [r.get(6)?, r.get(7)?, r.get(8)?],
                closed_at: r.get(9)?,
            })
        })?;
        rows.map(|r| r.map_err(StoreError::from).and_then(RoundRow::into_round))
            .collect()
    }

    fn batches(&self) -> Result<Vec<Batch>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(
            "select id, courier, lab, handed_at, received_at, tubes from lab_batches order by id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        rows.map(|r| {
            let (id, courier, lab, handed, received, tubes) = r?;
            batch_of(id, courier, lab, handed, received, tubes)
        })
        .collect()
    }

    fn for_each_tube(&self, f: &mut dyn FnMut(Tube)) -> Result<()> {
        let conn = self.read()?;
        let mut stmt =
            conn.prepare(&format!("select {TUBE_COLUMNS} from lab_tubes order by id"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(tube_row(r)?.into_tube()?);
        }
        Ok(())
    }

    fn for_each_sample(&self, f: &mut dyn FnMut(&[Sample])) -> Result<()> {
        let conn = self.read()?;
        let mut stmt = conn.prepare(
            "select tube, person, round, sampled_at from lab_samples order by tube, person",
        )?;
        let mut rows = stmt.query([])?;
        let mut chunk = Vec::with_capacity(CHUNK);
        while let Some(r) = rows.next()? {
            chunk.push(sample_of(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)?);
            if chunk.len() == CHUNK {
                f(&chunk);
                chunk.clear();
            }
        }
        if !chunk.is_empty() {
            f(&chunk);
        }
        Ok(())
    }

    fn samples_in_tubes(&self, person: PersonId, tubes: &[TubeId]) -> Result<Vec<Sample>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(
            "select tube, person, round, sampled_at from lab_samples where person = ?1
             order by sampled_at, tube",
        )?;
        let rows = stmt.query_map([person.0], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        let mut out = Vec::new();
        for r in rows {
            let (t, p, rd, at) = r?;
            let s = sample_of(t, p, rd, at)?;
            if tubes.contains(&s.tube) {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn tasks(&self, include_done: bool) -> Result<Vec<LabTask>> {
        let conn = self.read()?;
        let sql = if include_done {
            "select id, person, kind, tube, created_at, done_at from lab_tasks order by id"
        } else {
            "select id, person, kind, tube, created_at, done_at from lab_tasks
             where done_at is null order by id"
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
        rows.map(|r| {
            let (id, person, kind, tube, created, done) = r?;
            task_of(id, person, &kind, tube, created, done)
        })
        .collect()
    }

    fn for_each_dose(&self, f: &mut dyn FnMut(Dose)) -> Result<()> {
        let conn = self.read()?;
        let mut stmt = conn.prepare(
            "select person, dose, vaccine, given_on, site from vaccinations order by person, dose",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(dose_of(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            )?);
        }
        Ok(())
    }

    fn for_each_birth(&self, f: &mut dyn FnMut(PersonBirth)) -> Result<()> {
        let conn = self.read()?;
        let mut stmt =
            conn.prepare("select id, id_number, area, home_cell from people order by id")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let id_number: String = r.get(1)?;
            let area: String = r.get(2)?;
            f(birth_of(r.get(0)?, &id_number, &area, r.get(3)?)?);
        }
        Ok(())
    }
}
