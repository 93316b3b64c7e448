//! [`LabStore`] for PostgreSQL: every lab write is one transaction on the writer
//! connection, with its authority events appended in the same transaction (under the same
//! exclusive lock of the log as `Store::append_events`).

use super::PgStore;
use super::copy::{CopyRows, Field, Int4Array};
use crate::error::{ConflictKind, Result, StoreError};
use crate::lab::{
    LabStore, LabWrite, PersonBirth, ROUND_COLUMNS, RoundRow, TUBE_COLUMNS, TubeRow, batch_of,
    birth_of, cells_text, dose_of, sample_of, site_of, task_of,
};
use postgres::Transaction;
use std::collections::HashMap;
use xikang_domain::PersonId;
use xikang_domain::event::StoredEvent;
use xikang_domain::testing::{Dose, LabTask, Round, Sample, SamplingSite, Tube, TubeId, TubeState};

/// Samples handed to a `for_each_sample` callback at a time.
const CHUNK: usize = 65_536;

fn put_sites(tx: &mut Transaction<'_>, sites: &[SamplingSite]) -> Result<()> {
    if sites.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare(
        "insert into lab_sites (id, name, area, cell) values ($1, $2, $3, $4)
         on conflict (id) do update set name = excluded.name, area = excluded.area, cell = excluded.cell",
    )?;
    for s in sites {
        tx.execute(
            &stmt,
            &[
                &i64::from(s.id.0),
                &s.name,
                &s.area.as_str(),
                &i64::from(s.cell.0),
            ],
        )?;
    }
    Ok(())
}

fn put_rounds(tx: &mut Transaction<'_>, rounds: &[Round]) -> Result<()> {
    if rounds.is_empty() {
        return Ok(());
    }
    let stmt = tx.prepare(&format!(
        "insert into lab_rounds ({ROUND_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         on conflict (id) do update set name = excluded.name, area = excluded.area,
           cells = excluded.cells, starts_at = excluded.starts_at, deadline = excluded.deadline,
           pool_sealed = excluded.pool_sealed, pool_controlled = excluded.pool_controlled,
           pool_other = excluded.pool_other, closed_at = excluded.closed_at"
    ))?;
    for r in rounds {
        tx.execute(
            &stmt,
            &[
                &i64::from(r.id.0),
                &r.name,
                &r.area.as_str(),
                &cells_text(&r.cells),
                &r.starts_at.0,
                &r.deadline.0,
                &i32::from(r.pools.sealed),
                &i32::from(r.pools.controlled),
                &i32::from(r.pools.other),
                &r.closed_at.map(|t| t.0),
            ],
        )?;
    }
    Ok(())
}

/// The columns of a tube that change after it is opened: the last of [`TUBE_COLUMNS`],
/// and what a row of `lab_tube_moves` holds after the tube and its state.
const MOVING: [&str; 8] = [
    "sealed_at",
    "batch",
    "shipped_at",
    "received_at",
    "resulted_at",
    "outcome",
    "ct",
    "lab",
];

/// A tube's [`MOVING`] columns, as stored.
struct Moving<'a> {
    sealed_at: Option<i64>,
    batch: Option<i64>,
    shipped_at: Option<i64>,
    received_at: Option<i64>,
    resulted_at: Option<i64>,
    outcome: Option<i32>,
    ct: Option<f32>,
    lab: Option<&'a str>,
}

impl<'a> Moving<'a> {
    fn of(t: &'a Tube) -> Moving<'a> {
        Moving {
            sealed_at: t.sealed_at.map(|x| x.0),
            batch: t.batch.map(|b| i64::from(b.0)),
            shipped_at: t.shipped_at.map(|x| x.0),
            received_at: t.received_at.map(|x| x.0),
            resulted_at: t.resulted_at.map(|x| x.0),
            outcome: t.outcome.map(|o| i32::from(o.code())),
            ct: t.ct,
            lab: t.lab.as_deref(),
        }
    }

    fn fields(&self) -> [&dyn Field; 8] {
        [
            &self.sealed_at,
            &self.batch,
            &self.shipped_at,
            &self.received_at,
            &self.resulted_at,
            &self.outcome,
            &self.ct,
            &self.lab,
        ]
    }
}

fn put_tubes(tx: &mut Transaction<'_>, tubes: &[Tube]) -> Result<()> {
    // A city-wide round opens a million tubes and moves each through four more states:
    // new tubes and moves both go in by binary `COPY`, moves appended to `lab_tube_moves`
    // (migration 0017), never updated in place.
    let (opened, moved): (Vec<&Tube>, Vec<&Tube>) =
        tubes.iter().partition(|t| t.state == TubeState::Open);
    if !opened.is_empty() {
        let mut rows = CopyRows::new(opened.len(), 200);
        for t in opened {
            rows.row_of(
                &[
                    &i64::from(t.id.0),
                    &t.barcode.as_str(),
                    &i64::from(t.site.0),
                    &t.round.map(|r| i64::from(r.0)),
                    &i32::from(t.capacity),
                    &i32::from(t.state.code()),
                    &t.opened_at.0,
                ],
                &Moving::of(t).fields(),
            );
        }
        rows.send(
            tx,
            &format!("copy lab_tubes ({TUBE_COLUMNS}) from stdin with (format binary)"),
        )?;
    }
    if moved.is_empty() {
        return Ok(());
    }
    // A tube moving on must have been opened. Tube ids are dense from 1 (the lab's index
    // hands them out in order and no tube is deleted), so the highest stored id bounds
    // them: one index lookup instead of one per tube.
    let highest: Option<i64> = tx
        .query_one("select max(id) from lab_tubes", &[])?
        .try_get(0)?;
    if moved
        .iter()
        .any(|t| t.id.0 == 0 || i64::from(t.id.0) > highest.unwrap_or(0))
    {
        return Err(StoreError::Conflict(ConflictKind::TubeNeverOpened));
    }
    // A tube listed twice in one write keeps its last version (the latest move is told by
    // its state alone).
    let mut last: HashMap<u32, usize> = HashMap::new();
    for (i, t) in moved.iter().enumerate() {
        last.insert(t.id.0, i);
    }
    let mut rows = CopyRows::new(last.len(), 120);
    for (_, t) in moved
        .iter()
        .enumerate()
        .filter(|(i, t)| last.get(&t.id.0) == Some(i))
    {
        rows.row_of(
            &[&i64::from(t.id.0), &i32::from(t.state.code())],
            &Moving::of(t).fields(),
        );
    }
    rows.send(
        tx,
        &format!(
            "copy lab_tube_moves (tube, state, {}) from stdin with (format binary)",
            MOVING.join(", ")
        ),
    )
}

/// An id as the samples' 4-byte columns take it (migration 0019). Ids are dense from 1 and
/// never come near 2^31; one that did is refused, never wrapped.
fn narrow(id: u32, what: &str) -> Result<i32> {
    i32::try_from(id)
        .map_err(|_| StoreError::Corrupt(format!("{what} {id} is beyond the samples' 4-byte ids")))
}

/// Samples go in by binary `COPY`, the swabs bound into one tube at one time as one row of
/// `lab_sample_groups` with their people in binding order (migration 0019): a round's ten
/// million swabs are a million rows.
fn insert_samples(tx: &mut Transaction<'_>, samples: &[Sample]) -> Result<()> {
    if samples.is_empty() {
        return Ok(());
    }
    // Groups in the order their first swab comes. A tube's swabs usually come one after
    // another (the previous group is checked first), but need not.
    let mut groups: Vec<(&Sample, Vec<i32>)> = Vec::new();
    let mut index: HashMap<(u32, Option<u32>, i64), usize> = HashMap::new();
    let key = |s: &Sample| (s.tube.0, s.round.map(|r| r.0), s.sampled_at.0);
    for s in samples {
        let i = match groups.last() {
            Some((g, _)) if key(g) == key(s) => groups.len() - 1,
            _ => *index.entry(key(s)).or_insert_with(|| {
                groups.push((s, Vec::new()));
                groups.len() - 1
            }),
        };
        groups[i].1.push(narrow(s.person.0, "person id")?);
    }
    let mut rows = CopyRows::new(groups.len(), 40 + 8 * samples.len() / groups.len());
    for (s, persons) in &groups {
        rows.row(&[
            &narrow(s.tube.0, "tube id")?,
            &s.round.map(|r| narrow(r.0, "round id")).transpose()?,
            &s.sampled_at.0,
            &Int4Array(persons),
        ]);
    }
    rows.send(
        tx,
        "copy lab_sample_groups (tube, round, sampled_at, persons) from stdin with (format binary)",
    )
}

/// The samples of a row of `select tube, round, sampled_at, persons from lab_sample_groups`,
/// in binding order.
fn group_samples(r: &postgres::Row) -> Result<impl Iterator<Item = Result<Sample>>> {
    let tube = i64::from(r.try_get::<_, i32>(0)?);
    let round = r.try_get::<_, Option<i32>>(1)?.map(i64::from);
    let at: i64 = r.try_get(2)?;
    let persons: Vec<i32> = r.try_get(3)?;
    Ok(persons
        .into_iter()
        .map(move |p| sample_of(tube, i64::from(p), round, at)))
}

fn put_rest(tx: &mut Transaction<'_>, w: &LabWrite) -> Result<()> {
    if !w.batches.is_empty() {
        let stmt = tx.prepare(
            "insert into lab_batches (id, courier, lab, handed_at, received_at, tubes)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (id) do update set courier = excluded.courier, lab = excluded.lab,
               handed_at = excluded.handed_at, received_at = excluded.received_at, tubes = excluded.tubes",
        )?;
        for b in &w.batches {
            let tubes = i32::try_from(b.tubes).unwrap_or(i32::MAX);
            tx.execute(
                &stmt,
                &[
                    &i64::from(b.id.0),
                    &b.courier,
                    &b.lab,
                    &b.handed_at.0,
                    &b.received_at.map(|t| t.0),
                    &tubes,
                ],
            )?;
        }
    }
    if !w.tasks.is_empty() {
        // Last version of a task listed twice (one statement may update a row once).
        let mut last: HashMap<u64, usize> = HashMap::new();
        for (i, t) in w.tasks.iter().enumerate() {
            last.insert(t.id, i);
        }
        let rows: Vec<&LabTask> = w
            .tasks
            .iter()
            .enumerate()
            .filter(|(i, t)| last.get(&t.id) == Some(i))
            .map(|(_, t)| t)
            .collect();
        let ids = rows
            .iter()
            .map(|t| i64::try_from(t.id).map_err(|_| StoreError::Corrupt("task id".into())))
            .collect::<Result<Vec<i64>>>()?;
        let people: Vec<i64> = rows.iter().map(|t| i64::from(t.person.0)).collect();
        let kinds: Vec<&str> = rows.iter().map(|t| t.kind.as_str()).collect();
        let tubes: Vec<Option<i64>> = rows
            .iter()
            .map(|t| t.tube.map(|x| i64::from(x.0)))
            .collect();
        let created: Vec<i64> = rows.iter().map(|t| t.created_at.0).collect();
        let done: Vec<Option<i64>> = rows.iter().map(|t| t.done_at.map(|x| x.0)).collect();
        tx.execute(
            "insert into lab_tasks (id, person, kind, tube, created_at, done_at)
             select * from unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
             on conflict (id) do update set person = excluded.person, kind = excluded.kind,
               tube = excluded.tube, created_at = excluded.created_at, done_at = excluded.done_at",
            &[&ids, &people, &kinds, &tubes, &created, &done],
        )?;
    }
    if !w.doses.is_empty() {
        let people: Vec<i64> = w.doses.iter().map(|d| i64::from(d.person.0)).collect();
        let numbers: Vec<i32> = w.doses.iter().map(|d| i32::from(d.dose)).collect();
        let vaccines: Vec<&str> = w.doses.iter().map(|d| d.vaccine.as_str()).collect();
        let days: Vec<i32> = w.doses.iter().map(|d| d.given_on.0).collect();
        let sites: Vec<&str> = w.doses.iter().map(|d| d.site.as_str()).collect();
        tx.execute(
            "insert into vaccinations (person, dose, vaccine, given_on, site)
             select * from unnest($1::bigint[], $2::integer[], $3::text[], $4::integer[], $5::text[])",
            &[&people, &numbers, &vaccines, &days, &sites],
        )?;
    }
    Ok(())
}

fn tube_row(r: &postgres::Row) -> Result<TubeRow> {
    let small = |i: usize| -> Result<i64> { Ok(i64::from(r.try_get::<_, i32>(i)?)) };
    let opt_small =
        |i: usize| -> Result<Option<i64>> { Ok(r.try_get::<_, Option<i32>>(i)?.map(i64::from)) };
    Ok(TubeRow {
        id: r.try_get(0)?,
        barcode: r.try_get(1)?,
        site: r.try_get(2)?,
        round: r.try_get(3)?,
        capacity: small(4)?,
        state: small(5)?,
        opened_at: r.try_get(6)?,
        sealed_at: r.try_get(7)?,
        batch: r.try_get(8)?,
        shipped_at: r.try_get(9)?,
        received_at: r.try_get(10)?,
        resulted_at: r.try_get(11)?,
        outcome: opt_small(12)?,
        ct: r.try_get(13)?,
        lab: r.try_get(14)?,
    })
}

impl LabStore for PgStore {
    fn write_lab(&self, w: &LabWrite) -> Result<Vec<StoredEvent>> {
        if w.is_empty() {
            return Ok(Vec::new());
        }
        let mut writer = self.write()?;
        let node = writer.node.clone();
        let mut tx = writer.client.transaction()?;
        // First: the check against other nodes' lab writes, under the lock that keeps
        // them out until this commits (docs/nodes.md).
        super::cluster::check_and_note_lab(&mut tx, node.as_deref(), w)?;
        put_sites(&mut tx, &w.sites)?;
        put_rounds(&mut tx, &w.rounds)?;
        put_tubes(&mut tx, &w.tubes)?;
        insert_samples(&mut tx, &w.samples)?;
        put_rest(&mut tx, w)?;
        super::duties::apply_in(&mut tx, &w.duties)?;
        let stored = super::append_events_in(&mut tx, &w.events)?;
        tx.commit()?;
        Ok(stored)
    }

    fn sampling_sites(&self) -> Result<Vec<SamplingSite>> {
        let mut c = self.read()?;
        c.query(
            "select id, name, area, cell from lab_sites order by id",
            &[],
        )?
        .iter()
        .map(|r| {
            let area: &str = r.try_get(2)?;
            site_of(r.try_get(0)?, r.try_get(1)?, area, r.try_get(3)?)
        })
        .collect()
    }

    fn rounds(&self) -> Result<Vec<Round>> {
        let mut c = self.read()?;
        c.query(
            &format!("select {ROUND_COLUMNS} from lab_rounds order by id"),
            &[],
        )?
        .iter()
        .map(|r| {
            RoundRow {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                area: r.try_get(2)?,
                cells: r.try_get(3)?,
                starts_at: r.try_get(4)?,
                deadline: r.try_get(5)?,
                pools: [
                    i64::from(r.try_get::<_, i32>(6)?),
                    i64::from(r.try_get::<_, i32>(7)?),
                    i64::from(r.try_get::<_, i32>(8)?),
                ],
                closed_at: r.try_get(9)?,
            }
            .into_round()
        })
        .collect()
    }

    fn batches(&self) -> Result<Vec<xikang_domain::testing::Batch>> {
        let mut c = self.read()?;
        c.query(
            "select id, courier, lab, handed_at, received_at, tubes from lab_batches order by id",
            &[],
        )?
        .iter()
        .map(|r| {
            batch_of(
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                i64::from(r.try_get::<_, i32>(5)?),
            )
        })
        .collect()
    }

    fn for_each_tube(&self, f: &mut dyn FnMut(Tube)) -> Result<()> {
        let mut c = self.read()?;
        let mut tx = c.transaction()?;
        // Each tube's opening row overlaid by its latest move (migration 0017): states only
        // move forward, so the latest is the highest.
        let moving: Vec<String> = MOVING
            .iter()
            .map(|c| format!("case when m.tube is null then t.{c} else m.{c} end"))
            .collect();
        let portal = tx.bind(
            &format!(
                "select t.id, t.barcode, t.site, t.round, t.capacity, coalesce(m.state, t.state),
                   t.opened_at, {}
                 from lab_tubes t
                 left join (select distinct on (tube) * from lab_tube_moves
                            order by tube, state desc) m on m.tube = t.id
                 order by t.id",
                moving.join(", ")
            ),
            &[],
        )?;
        loop {
            let rows = tx.query_portal(&portal, CHUNK as i32)?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                f(tube_row(r)?.into_tube()?);
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn for_each_sample(&self, f: &mut dyn FnMut(&[Sample])) -> Result<()> {
        let mut c = self.read()?;
        let mut tx = c.transaction()?;
        let portal = tx.bind(
            "select tube, round, sampled_at, persons from lab_sample_groups",
            &[],
        )?;
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            // Rows of up to a tube's capacity each: a tenth of a chunk of them at a time.
            let rows = tx.query_portal(&portal, (CHUNK / 10) as i32)?;
            if rows.is_empty() {
                break;
            }
            chunk.clear();
            for r in &rows {
                for s in group_samples(r)? {
                    chunk.push(s?);
                }
            }
            f(&chunk);
        }
        tx.commit()?;
        Ok(())
    }

    fn samples_in_tubes(&self, person: PersonId, tubes: &[TubeId]) -> Result<Vec<Sample>> {
        let ids = tubes
            .iter()
            .map(|t| narrow(t.0, "tube id"))
            .collect::<Result<Vec<i32>>>()?;
        let mut c = self.read()?;
        let mut out = Vec::new();
        for r in c.query(
            "select tube, round, sampled_at, persons from lab_sample_groups
             where tube = any($1)",
            &[&ids],
        )? {
            for s in group_samples(&r)? {
                let s = s?;
                if s.person == person {
                    out.push(s);
                }
            }
        }
        out.sort_by_key(|s| (s.sampled_at, s.tube));
        Ok(out)
    }

    fn tasks(&self, include_done: bool) -> Result<Vec<LabTask>> {
        let mut c = self.read()?;
        let sql = if include_done {
            "select id, person, kind, tube, created_at, done_at from lab_tasks order by id"
        } else {
            "select id, person, kind, tube, created_at, done_at from lab_tasks
             where done_at is null order by id"
        };
        c.query(sql, &[])?
            .iter()
            .map(|r| {
                let kind: &str = r.try_get(2)?;
                task_of(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    kind,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                )
            })
            .collect()
    }

    fn for_each_dose(&self, f: &mut dyn FnMut(Dose)) -> Result<()> {
        let mut c = self.read()?;
        for r in c.query(
            "select person, dose, vaccine, given_on, site from vaccinations order by person, dose",
            &[],
        )? {
            f(dose_of(
                r.try_get(0)?,
                i64::from(r.try_get::<_, i32>(1)?),
                r.try_get(2)?,
                i64::from(r.try_get::<_, i32>(3)?),
                r.try_get(4)?,
            )?);
        }
        Ok(())
    }

    fn for_each_birth(&self, f: &mut dyn FnMut(PersonBirth)) -> Result<()> {
        let mut c = self.read()?;
        let mut tx = c.transaction()?;
        let portal = tx.bind(
            "select id, id_number, area, home_cell from people order by id",
            &[],
        )?;
        loop {
            let rows = tx.query_portal(&portal, CHUNK as i32)?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let id_number: &str = r.try_get(1)?;
                let area: &str = r.try_get(2)?;
                f(birth_of(r.try_get(0)?, id_number, area, r.try_get(3)?)?);
            }
        }
        tx.commit()?;
        Ok(())
    }
}
