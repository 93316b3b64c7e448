//! The SQLite backend: one database file in the data directory, in WAL mode with
//! `synchronous=FULL`, so a write is on disk when its transaction commits and readers never
//! wait behind the writer. One writer connection sits behind a mutex (SQLite allows one
//! writer at a time anyway, and `begin immediate` also serializes against other processes);
//! readers come from a small pool of read-only connections.
//!
//! Check-ins go into one plain rowid table per day, appended in arrival order with no index:
//! a commit writes the few pages at the table's end, never pages scattered over B-trees keyed
//! by venue or person. Per-person and per-venue questions at scale are answered by the
//! server's in-memory tracing index; the store's own per-person and per-venue reads scan the
//! day tables in range. A checkpointer thread copies the WAL into the database file every
//! second, so no scan's commit pays for a checkpoint (see `docs/storage.md`).

mod duties;
mod user;

use crate::error::{Result, StoreError};
use crate::pool::{Pool, Pooled};
use crate::row::{
    self, BriefRow, ChainWalk, EVENT_COLUMNS, EventRow, KeyRow, PersonRow, TokenRow, VenueRow,
    WORKPLACE_COLUMNS, WorkplaceRow, checkin_of, checkin_table, dir_code,
};
use crate::{ApiToken, ChainReport, PersonBrief, Store, StoredKey};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params, params_from_iter,
};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use xikang_domain::event::{GENESIS_HASH, NewEvent, StoredEvent, chain_hash};
use xikang_domain::{
    AreaCode, CheckIn, CivilDay, EventSeq, Person, PersonId, Timestamp, Venue, VenueId, Workplace,
    WorkplaceId,
};

/// The migrations, in order. Never edit one that has been released; add the next.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
    ),
    (2, "lab", include_str!("../migrations/sqlite/0002_lab.sql")),
    (
        3,
        "duties",
        include_str!("../migrations/sqlite/0003_duties.sql"),
    ),
    (
        4,
        "workplace_venue",
        include_str!("../migrations/sqlite/0004_workplace_venue.sql"),
    ),
    (
        5,
        "users",
        include_str!("../migrations/sqlite/0005_users.sql"),
    ),
    (
        6,
        "ping_days",
        include_str!("../migrations/sqlite/0006_ping_days.sql"),
    ),
    (
        7,
        "area_names",
        include_str!("../migrations/sqlite/0007_area_names.sql"),
    ),
    (
        8,
        "lab_write_path",
        include_str!("../migrations/sqlite/0008_lab_write_path.sql"),
    ),
];

/// The database file inside the data directory.
pub const DB_FILE: &str = "xikang.db";

/// The check-in staging file of builds before 0.2 (see [`adopt_legacy_staging`]).
const LEGACY_STAGING_FILE: &str = "checkins-staging.db";

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows handed to a `for_each_checkin` callback at a time.
const CHUNK: usize = 65_536;

/// How often the checkpointer thread copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Rows per multi-row `insert` into a day table: one statement per row costs a statement
/// step per row.
const ROWS_PER_STATEMENT: usize = 64;

/// The SQLite store. Dropping it stops the checkpointer thread.
pub struct SqliteStore {
    shared: Arc<Shared>,
    checkpointer: Option<JoinHandle<()>>,
}

/// What the store and its checkpointer thread share.
struct Shared {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Read-only connections.
    readers: Pool<Connection>,
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The writer connection and what it knows about the check-in partitions, so that a batch
/// into an existing day costs no DDL.
pub(crate) struct Writer {
    pub(crate) conn: Connection,
    known_days: HashSet<i32>,
    /// The same for location pings (`ping_sqlite.rs`).
    pub(crate) known_ping_days: HashSet<i32>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `DIR/xikang.db`, applies pending migrations, adopts
    /// check-ins an older build left staged, and starts the checkpointer thread.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(DB_FILE);
        let mut conn = Connection::open(&path)?;
        configure_writer(&conn)?;
        migrate(&mut conn)?;
        let known_days = {
            let mut stmt = conn.prepare("select day from checkin_days")?;
            stmt.query_map([], |r| r.get::<_, i32>(0))?
                .collect::<Result<HashSet<_>, _>>()?
        };
        let known_ping_days = {
            let mut stmt = conn.prepare("select day from ping_days")?;
            stmt.query_map([], |r| r.get::<_, i32>(0))?
                .collect::<Result<HashSet<_>, _>>()?
        };
        let mut writer = Writer {
            conn,
            known_days,
            known_ping_days,
        };
        adopt_legacy_staging(&mut writer, dir)?;
        let checkpoints = Connection::open(&path)?;
        checkpoints.busy_timeout(BUSY_TIMEOUT)?;
        let shared = Arc::new(Shared {
            path,
            writer: Mutex::new(writer),
            readers: Pool::new(8),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        let for_thread = Arc::clone(&shared);
        let checkpointer = std::thread::Builder::new()
            .name("xikang-checkpoint".into())
            .spawn(move || checkpointer_loop(&for_thread, &checkpoints))?;
        Ok(SqliteStore {
            shared,
            checkpointer: Some(checkpointer),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    pub(crate) fn write(&self) -> MutexGuard<'_, Writer> {
        lock(&self.shared.writer)
    }

    pub(crate) fn read(&self) -> Result<Pooled<'_, Connection>> {
        self.shared.readers.get(
            |_| true,
            || {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(&self.shared.path, flags)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                Ok(conn)
            },
        )
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.checkpointer.take()
            && t.join().is_err()
        {
            tracing::warn!("the checkpointer thread panicked");
        }
    }
}

/// Locks a mutex, also after a panic of another holder: a panic while writing leaves no
/// half-done transaction behind (rusqlite rolls back on drop), so the connection is good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Copies the WAL into the database file every [`CHECKPOINT_EVERY`], from its own
/// connection and without waiting for anyone (`passive`): the writer goes on committing
/// meanwhile, and once a checkpoint has caught up, the next commit starts the WAL afresh.
/// Done here, a commit never pays for a checkpoint (`wal_autocheckpoint` on the writer is
/// only a safety net for when this thread falls behind).
fn checkpointer_loop(shared: &Shared, conn: &Connection) {
    let mut stop = lock(&shared.stop);
    while !*stop {
        stop = shared
            .wake
            .wait_timeout(stop, CHECKPOINT_EVERY)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        if *stop {
            return;
        }
        drop(stop);
        if let Err(e) = conn.query_row("pragma wal_checkpoint(passive)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpointing the database failed; will retry");
        }
        stop = lock(&shared.stop);
    }
}

fn configure_writer(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Must precede the first table to take effect; on an existing file it is a no-op. It
    // lets retention hand the pages of dropped days back to the file system (see
    // `drop_checkin_days_before`).
    conn.pragma_update(None, "auto_vacuum", "incremental")?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Target(format!(
            "the file system refused WAL mode (got {mode})"
        )));
    }
    // FULL: the WAL is synced at every commit, so an acknowledged write survives power loss
    // as well as kill -9 (NORMAL would only survive the latter).
    conn.pragma_update(None, "synchronous", "full")?;
    // 64 MiB of pages (the default is 2): a city-wide screening round rewrites a million
    // tube rows four times and inserts ten million samples; with 16 MiB the 10 M benchmark
    // took 86–94 s, with 64 MiB 77 s (docs/testing.md). Pages are cached only once read, so
    // a small city's writer stays small.
    conn.pragma_update(None, "cache_size", -65_536)?;
    // Sessions reference their user (migration 0005): SQLite checks that only when asked.
    conn.pragma_update(None, "foreign_keys", "on")?;
    // The checkpointer thread keeps the WAL short; a commit checkpoints by itself only when
    // 64 MiB have piled up (a bulk load, or the thread falling behind). The WAL file is cut
    // back to that size after each checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(())
}

fn checkin_values(c: &CheckIn) -> [i64; 4] {
    [
        i64::from(c.venue.get()),
        c.at.0,
        i64::from(c.person.get()),
        i64::from(dir_code(c.direction)),
    ]
}

/// Builds before 0.2 staged small check-in batches, first in a `checkin_staging` table of
/// the main file, then in a separate file with tables `staging_0` and `staging_1`, and
/// merged them into the day tables later. Rows a stopped or crashed server left there are
/// moved into their day tables here, and the table or file removed. (A crash after the
/// commit and before the removal would move them again: readers report a row once.)
fn adopt_legacy_staging(w: &mut Writer, dir: &Path) -> Result<()> {
    let staging_file = dir.join(LEGACY_STAGING_FILE);
    let has_file = staging_file.exists();
    let Writer {
        conn, known_days, ..
    } = w;
    let has_table: bool = conn.query_row(
        "select exists (select 1 from sqlite_master where type = 'table' and name = 'checkin_staging')",
        [],
        |r| r.get(0),
    )?;
    if !has_file && !has_table {
        return Ok(());
    }
    let mut sources = Vec::new();
    if has_table {
        sources.push("main.checkin_staging");
    }
    if has_file {
        let path = staging_file.to_str().ok_or_else(|| {
            StoreError::Target(format!("{} is not valid UTF-8", staging_file.display()))
        })?;
        conn.execute("attach database ?1 as stg", [path])?;
        for (table, attached) in [
            ("staging_0", "stg.staging_0"),
            ("staging_1", "stg.staging_1"),
        ] {
            let exists: bool = conn.query_row(
                "select exists (select 1 from stg.sqlite_master where type = 'table' and name = ?1)",
                [table],
                |r| r.get(0),
            )?;
            if exists {
                sources.push(attached);
            }
        }
    }
    let mut rows = Vec::new();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for source in &sources {
        read_checkins(
            &mut tx.prepare(&format!("select venue, at, person, dir from {source}"))?,
            [],
            &mut rows,
        )?;
    }
    let created = write_day_tables(&tx, known_days, &rows)?;
    if has_table {
        tx.execute_batch("drop table checkin_staging")?;
    }
    tx.commit()?;
    known_days.extend(created);
    if has_file {
        conn.execute_batch("detach database stg")?;
        for suffix in ["", "-wal", "-shm"] {
            let f = dir.join(format!("{LEGACY_STAGING_FILE}{suffix}"));
            if f.exists() {
                std::fs::remove_file(f)?;
            }
        }
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(
        "create table if not exists schema_migrations (
            version integer primary key, name text not null, applied_at integer not null)",
    )?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: HashSet<i64> = {
        let mut stmt = tx.prepare("select version from schema_migrations")?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    row::refuse_newer(applied.iter().copied(), MIGRATIONS.iter().map(|m| m.0))?;
    for (version, name, sql) in MIGRATIONS {
        if !applied.contains(version) {
            tx.execute_batch(sql)?;
            tx.execute(
                "insert into schema_migrations (version, name, applied_at) values (?1, ?2, ?3)",
                params![version, name, row::now_secs()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Appends events to the authority log inside an open transaction (which must have been
/// begun `immediate`, so that no other writer appends between our read of the head and our
/// inserts), chained on the stored head.
pub(crate) fn append_events_in(tx: &Connection, events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let head: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "select seq, hash from events order by seq desc limit 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (mut seq, mut prev) = match head {
        Some((s, h)) => (s.unsigned_abs(), row::array_of::<32>(&h, "head hash")?),
        None => (0, GENESIS_HASH),
    };
    let mut stmt = tx.prepare_cached(&format!(
        "insert into events ({EVENT_COLUMNS}) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    let mut stored = Vec::with_capacity(events.len());
    for e in events {
        seq += 1;
        let body = e.body.to_json();
        let hash = chain_hash(&prev, EventSeq(seq), e.at, &e.actor, &e.basis, &body);
        stmt.execute(params![
            seq,
            e.at.0,
            e.actor,
            e.basis,
            e.body.kind(),
            e.body.person().map(PersonId::get),
            body,
            &prev[..],
            &hash[..],
        ])?;
        stored.push(StoredEvent {
            seq: EventSeq(seq),
            at: e.at,
            actor: e.actor.clone(),
            basis: e.basis.clone(),
            body: e.body.clone(),
            prev_hash: prev,
            hash,
        });
        prev = hash;
    }
    Ok(stored)
}

/// Streams every row of a family of day tables, oldest day first and in one read
/// transaction, to `f` in chunks of [`CHUNK`].
pub(crate) fn for_each_day_row<T>(
    conn: &mut Connection,
    tables: row::DayTables,
    columns: &str,
    row_of: impl Fn(&Row<'_>) -> Result<T>,
    f: &mut dyn FnMut(&[T]),
) -> Result<()> {
    let tx = conn.transaction()?;
    let days: Vec<CivilDay> = {
        let mut stmt = tx.prepare(&format!("select day from {} order by day", tables.registry))?;
        stmt.query_map([], |r| r.get(0).map(CivilDay))?
            .collect::<Result<_, _>>()?
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    for day in &days {
        let mut stmt = tx.prepare(&format!("select {columns} from {}", tables.table(*day)?))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            chunk.push(row_of(r)?);
            if chunk.len() == CHUNK {
                f(&chunk);
                chunk.clear();
            }
        }
    }
    if !chunk.is_empty() {
        f(&chunk);
    }
    Ok(())
}

/// Drops every table of `tables` for a day before `day` and its registry row, in one
/// transaction; forgets them in `known`. Returns the days dropped.
pub(crate) fn drop_days_before(
    conn: &mut Connection,
    known: &mut HashSet<i32>,
    tables: row::DayTables,
    day: CivilDay,
) -> Result<Vec<CivilDay>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let days: Vec<CivilDay> = {
        let mut stmt = tx.prepare(&format!(
            "select day from {} where day < ?1 order by day",
            tables.registry
        ))?;
        stmt.query_map([day.0], |r| r.get(0).map(CivilDay))?
            .collect::<Result<_, _>>()?
    };
    for d in &days {
        tx.execute_batch(&format!("drop table if exists {}", tables.table(*d)?))?;
    }
    tx.execute(
        &format!("delete from {} where day < ?1", tables.registry),
        [day.0],
    )?;
    tx.commit()?;
    for d in &days {
        known.remove(&d.0);
    }
    // Statements prepared against the dropped tables are useless now.
    conn.flush_prepared_statement_cache();
    if !days.is_empty() {
        // Retention is a deletion duty (PIPL art. 47): give the freed pages back to the
        // file system rather than leaving old rows readable in the free list.
        // Each step of this pragma frees pages, so it must run to completion.
        let mut stmt = conn.prepare("pragma incremental_vacuum")?;
        let mut rows = stmt.query([])?;
        while rows.next()?.is_some() {}
    }
    Ok(days)
}

/// A day of check-ins: a rowid table in arrival order, no index (see the module doc). Tables
/// made by builds before 0.2 are keyed `(venue, at, person, dir)` instead; every statement
/// here works on both.
fn checkin_ddl(table: &str) -> String {
    format!(
        "create table if not exists {table} (
            venue integer not null, at integer not null, person integer not null, dir integer not null)"
    )
}

fn person_row(r: &Row<'_>) -> rusqlite::Result<PersonRow> {
    Ok(PersonRow {
        id: r.get(0)?,
        id_number: r.get(1)?,
        name: r.get(2)?,
        phone: r.get(3)?,
        household: r.get(4)?,
        workplace: r.get(5)?,
        area: r.get(6)?,
        home_cell: r.get(7)?,
    })
}

const PERSON_COLUMNS: &str = "id, id_number, name, phone, household, workplace, area, home_cell";

fn workplace_row(r: &Row<'_>) -> rusqlite::Result<WorkplaceRow> {
    Ok(WorkplaceRow {
        id: r.get(0)?,
        name: r.get(1)?,
        is_school: r.get(2)?,
        area: r.get(3)?,
        cell: r.get(4)?,
        venue: r.get(5)?,
    })
}

fn venue_row(r: &Row<'_>) -> rusqlite::Result<VenueRow> {
    Ok(VenueRow {
        id: r.get(0)?,
        place_code: r.get(1)?,
        name: r.get(2)?,
        category: r.get(3)?,
        area: r.get(4)?,
        cell: r.get(5)?,
        lat: r.get(6)?,
        lon: r.get(7)?,
    })
}

const VENUE_COLUMNS: &str = "id, place_code, name, category, area, cell, lat, lon";

fn event_row(r: &Row<'_>) -> rusqlite::Result<EventRow> {
    Ok(EventRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        basis: r.get(3)?,
        kind: r.get(4)?,
        person: r.get(5)?,
        body: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

fn checkin_row(r: &Row<'_>) -> rusqlite::Result<(i64, i64, i64, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn corrupt(e: rusqlite::types::FromSqlError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The day partitions overlapping `[from, to]`, read inside the caller's transaction so
/// the list and the tables agree.
fn days_between(conn: &Connection, from: Timestamp, to: Timestamp) -> Result<Vec<CivilDay>> {
    let mut stmt = conn
        .prepare_cached("select day from checkin_days where day between ?1 and ?2 order by day")?;
    let days = stmt
        .query_map(params![from.shanghai_day().0, to.shanghai_day().0], |r| {
            r.get(0).map(CivilDay)
        })?
        .collect::<Result<_, _>>()?;
    Ok(days)
}

fn read_checkins(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    out: &mut Vec<CheckIn>,
) -> Result<()> {
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        let (v, at, p, d) = checkin_row(r)?;
        out.push(checkin_of(v, at, p, d)?);
    }
    Ok(())
}

/// Appends check-ins to their day tables, creating tables as needed and keeping the
/// registry's row counts. Returns the days whose tables this transaction created (they are
/// real only once it commits).
fn write_day_tables(
    tx: &Connection,
    known_days: &HashSet<i32>,
    batch: &[CheckIn],
) -> Result<Vec<i32>> {
    let mut created = Vec::new();
    for (day, rows) in row::by_day(batch) {
        let table = checkin_table(day)?;
        if !known_days.contains(&day.0) {
            tx.execute(
                "insert or ignore into checkin_days (day, row_count) values (?1, 0)",
                [day.0],
            )?;
            tx.execute_batch(&checkin_ddl(&table))?;
            created.push(day.0);
        }
        // `or ignore` matters only for the keyed tables of older builds.
        let insert = |n: usize| {
            let values = vec!["(?, ?, ?, ?)"; n].join(", ");
            format!("insert or ignore into {table} (venue, at, person, dir) values {values}")
        };
        let mut added = 0usize;
        let mut chunks = rows.chunks_exact(ROWS_PER_STATEMENT);
        {
            let mut many = tx.prepare_cached(&insert(ROWS_PER_STATEMENT))?;
            for chunk in &mut chunks {
                added += many.execute(params_from_iter(chunk.iter().flat_map(checkin_values)))?;
            }
        }
        let mut one = tx.prepare_cached(&insert(1))?;
        for c in chunks.remainder() {
            added += one.execute(params_from_iter(checkin_values(c)))?;
        }
        tx.prepare_cached("update checkin_days set row_count = row_count + ?1 where day = ?2")?
            .execute(params![added, day.0])?;
    }
    Ok(created)
}

impl SqliteStore {
    /// The check-ins with `filter = key` in `[from, to]`: a scan of each day table in range
    /// (they have no index), sorted by `sort_key`, each row once.
    fn checkins_where(
        &self,
        filter: &str,
        key: u32,
        from: Timestamp,
        to: Timestamp,
        sort_key: fn(&CheckIn) -> (Timestamp, u32, i16),
    ) -> Result<Vec<CheckIn>> {
        if from > to {
            return Ok(Vec::new());
        }
        let mut conn = self.read()?;
        // One read transaction: the registry and the tables agree.
        let tx = conn.transaction()?;
        let mut out = Vec::new();
        for day in days_between(&tx, from, to)? {
            let table = checkin_table(day)?;
            let mut stmt = tx.prepare_cached(&format!(
                "select venue, at, person, dir from {table} where {filter} = ?1 and at between ?2 and ?3"
            ))?;
            read_checkins(&mut stmt, params![key, from.0, to.0], &mut out)?;
        }
        // A device may re-send a scan it was not sure had arrived: report it once.
        out.sort_unstable_by_key(sort_key);
        out.dedup();
        Ok(out)
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let conn = self.read()?;
        let v = conn
            .prepare_cached("select value from settings where name = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(v)
    }

    fn put_setting(&self, key: &str, value: &[u8]) -> Result<()> {
        self.write().conn.execute(
            "insert into settings (name, value) values (?1, ?2)
             on conflict (name) do update set value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    fn insert_people(&self, people: &[(Person, [u8; 16])]) -> Result<()> {
        let mut w = self.write();
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "insert into people (id, id_number, id_hash, name, phone, household, workplace, area, home_cell)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (p, hash) in people {
                stmt.execute(params![
                    p.id.get(),
                    p.id_number.expose(),
                    &hash[..],
                    p.name,
                    p.phone.as_ref().map(|ph| ph.expose()),
                    p.household.get(),
                    p.workplace.map(WorkplaceId::get),
                    p.area.as_str(),
                    p.home_cell.0,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_workplaces(&self, ws: &[Workplace]) -> Result<()> {
        let mut w = self.write();
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "insert into workplaces (id, name, is_school, area, cell, venue) values (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for wp in ws {
                stmt.execute(params![
                    wp.id.get(),
                    wp.name,
                    wp.is_school,
                    wp.area.as_str(),
                    wp.cell.0,
                    wp.venue.map(VenueId::get),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_venues(&self, vs: &[Venue]) -> Result<()> {
        let mut w = self.write();
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "insert into venues (id, place_code, name, category, area, cell, lat, lon)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for v in vs {
                stmt.execute(params![
                    v.id.get(),
                    v.place_code.as_str(),
                    v.name,
                    v.category.as_str(),
                    v.area.as_str(),
                    v.cell.0,
                    v.lat,
                    v.lon,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn person(&self, id: PersonId) -> Result<Option<Person>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!(
                "select {PERSON_COLUMNS} from people where id = ?1"
            ))?
            .query_row([id.get()], person_row)
            .optional()?;
        row.map(PersonRow::into_person).transpose()
    }

    fn person_by_id_hash(&self, h: &[u8; 16]) -> Result<Option<PersonId>> {
        let conn = self.read()?;
        let id: Option<i64> = conn
            .prepare_cached("select id from people where id_hash = ?1")?
            .query_row([&h[..]], |r| r.get(0))
            .optional()?;
        id.map(|i| row::u32_of(i, "person id").map(PersonId))
            .transpose()
    }

    fn list_people(
        &self,
        area: &AreaCode,
        after: Option<PersonId>,
        limit: u32,
    ) -> Result<Vec<Person>> {
        let (lo, hi) = row::area_range(area);
        let after = after.map_or(-1, |p| i64::from(p.get()));
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {PERSON_COLUMNS} from people where area between ?1 and ?2 and id > ?3 order by id limit ?4"
        ))?;
        let rows = stmt.query_map(params![lo, hi, after, limit], person_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(PersonRow::into_person))
            .collect()
    }

    fn for_each_person_brief(&self, f: &mut dyn FnMut(PersonBrief)) -> Result<()> {
        let conn = self.read()?;
        let mut stmt = conn.prepare(
            "select id, household, workplace, area, home_cell, id_hash from people order by id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let brief = BriefRow {
                id: r.get(0)?,
                household: r.get(1)?,
                workplace: r.get(2)?,
                area: r.get_ref(3)?.as_str().map_err(corrupt)?,
                home_cell: r.get(4)?,
                id_hash: r.get_ref(5)?.as_blob().map_err(corrupt)?,
            }
            .into_brief()?;
            f(brief);
        }
        Ok(())
    }

    fn count_people(&self) -> Result<u64> {
        let conn = self.read()?;
        let n: i64 = conn.query_row("select count(*) from people", [], |r| r.get(0))?;
        Ok(n.unsigned_abs())
    }

    fn venue(&self, id: VenueId) -> Result<Option<Venue>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!("select {VENUE_COLUMNS} from venues where id = ?1"))?
            .query_row([id.get()], venue_row)
            .optional()?;
        row.map(VenueRow::into_venue).transpose()
    }

    fn all_venues(&self) -> Result<Vec<Venue>> {
        let conn = self.read()?;
        let mut stmt =
            conn.prepare_cached(&format!("select {VENUE_COLUMNS} from venues order by id"))?;
        let rows = stmt.query_map([], venue_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(VenueRow::into_venue))
            .collect()
    }

    fn workplace(&self, id: WorkplaceId) -> Result<Option<Workplace>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!(
                "select {WORKPLACE_COLUMNS} from workplaces where id = ?1"
            ))?
            .query_row([id.get()], workplace_row)
            .optional()?;
        row.map(WorkplaceRow::into_workplace).transpose()
    }

    fn all_workplaces(&self) -> Result<Vec<Workplace>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {WORKPLACE_COLUMNS} from workplaces order by id"
        ))?;
        let rows = stmt.query_map([], workplace_row)?;
        rows.map(|r| {
            r.map_err(StoreError::from)
                .and_then(WorkplaceRow::into_workplace)
        })
        .collect()
    }

    fn append_events(&self, events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        let mut w = self.write();
        // `begin immediate` takes SQLite's write lock before reading the head, so another
        // process cannot append between our read of the head and our insert.
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let stored = append_events_in(&tx, events)?;
        tx.commit()?;
        Ok(stored)
    }

    fn events_after(&self, after: EventSeq, limit: u32) -> Result<Vec<StoredEvent>> {
        let after = i64::try_from(after.0).unwrap_or(i64::MAX);
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {EVENT_COLUMNS} from events where seq > ?1 order by seq limit ?2"
        ))?;
        let rows = stmt.query_map(params![after, limit], event_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(EventRow::into_event))
            .collect()
    }

    fn for_each_event(&self, f: &mut dyn FnMut(StoredEvent)) -> Result<()> {
        let conn = self.read()?;
        let mut stmt = conn.prepare(&format!("select {EVENT_COLUMNS} from events order by seq"))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            f(event_row(r)?.into_event()?);
        }
        Ok(())
    }

    fn events_of_person(&self, person: PersonId) -> Result<Vec<StoredEvent>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(&format!(
            "select {EVENT_COLUMNS} from events where person = ?1 order by seq"
        ))?;
        let rows = stmt.query_map([person.get()], event_row)?;
        rows.map(|r| r.map_err(StoreError::from).and_then(EventRow::into_event))
            .collect()
    }

    fn verify_chain(&self) -> Result<ChainReport> {
        let conn = self.read()?;
        let mut stmt = conn.prepare(&format!("select {EVENT_COLUMNS} from events order by seq"))?;
        let mut rows = stmt.query([])?;
        let mut walk = ChainWalk::default();
        while let Some(r) = rows.next()? {
            if !walk.feed(&event_row(r)?) {
                break;
            }
        }
        Ok(walk.report())
    }

    fn insert_checkins(&self, batch: &[CheckIn]) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut w = self.write();
        let Writer {
            conn, known_days, ..
        } = &mut *w;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let created = write_day_tables(&tx, known_days, batch)?;
        tx.commit()?;
        known_days.extend(created);
        Ok(())
    }

    fn checkins_of_person(
        &self,
        person: PersonId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CheckIn>> {
        self.checkins_where("person", person.get(), from, to, |c| {
            (c.at, c.venue.get(), dir_code(c.direction))
        })
    }

    fn checkins_at_venue(
        &self,
        venue: VenueId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CheckIn>> {
        self.checkins_where("venue", venue.get(), from, to, |c| {
            (c.at, c.person.get(), dir_code(c.direction))
        })
    }

    fn checkin_days(&self) -> Result<Vec<(CivilDay, u64)>> {
        let conn = self.read()?;
        let mut stmt =
            conn.prepare_cached("select day, row_count from checkin_days order by day")?;
        let rows = stmt.query_map([], |r| {
            Ok((CivilDay(r.get(0)?), r.get::<_, i64>(1)?.unsigned_abs()))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn drop_checkin_days_before(&self, day: CivilDay) -> Result<Vec<CivilDay>> {
        let mut w = self.write();
        let Writer {
            conn, known_days, ..
        } = &mut *w;
        drop_days_before(conn, known_days, row::CHECKINS, day)
    }

    fn for_each_checkin(&self, f: &mut dyn FnMut(&[CheckIn])) -> Result<()> {
        for_each_day_row(
            &mut *self.read()?,
            row::CHECKINS,
            "venue, at, person, dir",
            |r| {
                let (v, at, p, d) = checkin_row(r)?;
                checkin_of(v, at, p, d)
            },
            f,
        )
    }

    fn put_api_token(&self, token_sha256: [u8; 32], token: &ApiToken) -> Result<()> {
        self.write().conn.execute(
            "insert into api_tokens (token_sha256, name, role, area, venue, person, id_lookup)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             on conflict (token_sha256) do update set
                name = excluded.name, role = excluded.role, area = excluded.area, venue = excluded.venue,
                person = excluded.person, id_lookup = excluded.id_lookup",
            params![
                &token_sha256[..],
                token.name,
                token.role,
                token.area.as_str(),
                token.venue.map(VenueId::get),
                token.person.map(PersonId::get),
                token.id_lookup
            ],
        )?;
        Ok(())
    }

    fn api_token(&self, token_sha256: &[u8; 32]) -> Result<Option<ApiToken>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(
                "select name, role, area, venue, person, id_lookup from api_tokens where token_sha256 = ?1",
            )?
            .query_row([&token_sha256[..]], |r| {
                Ok(TokenRow {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    area: r.get(2)?,
                    venue: r.get(3)?,
                    person: r.get(4)?,
                    id_lookup: r.get(5)?,
                })
            })
            .optional()?;
        row.map(TokenRow::into_token).transpose()
    }

    fn put_signing_key(&self, kid: [u8; 8], key: &StoredKey) -> Result<()> {
        self.write().conn.execute(
            "insert into signing_keys (kid, secret, jurisdiction, not_before, not_after) values (?1, ?2, ?3, ?4, ?5)
             on conflict (kid) do update set secret = excluded.secret, jurisdiction = excluded.jurisdiction,
                not_before = excluded.not_before, not_after = excluded.not_after",
            params![&kid[..], &key.secret[..], key.jurisdiction, key.not_before.0, key.not_after.0],
        )?;
        Ok(())
    }

    fn signing_keys(&self) -> Result<Vec<([u8; 8], StoredKey)>> {
        let conn = self.read()?;
        let mut stmt = conn.prepare_cached(
            "select kid, secret, jurisdiction, not_before, not_after from signing_keys order by not_before, kid",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(KeyRow {
                kid: r.get(0)?,
                secret: r.get(1)?,
                jurisdiction: r.get(2)?,
                not_before: r.get(3)?,
                not_after: r.get(4)?,
            })
        })?;
        rows.map(|r| r.map_err(StoreError::from).and_then(KeyRow::into_key))
            .collect()
    }

    fn execute_raw_for_tests(&self, sql: &str) -> Result<u64> {
        let w = self.write();
        let n = w.conn.execute(sql, [])?;
        w.conn.flush_prepared_statement_cache();
        Ok(n as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::ScanDirection;

    /// `n` distinct scans at venue 1 starting at `first` seconds after 2022-07-01 00:00 in
    /// Shanghai, one person each.
    fn scans(first: u32, n: u32) -> Vec<CheckIn> {
        let start = Timestamp::parse_rfc3339("2022-06-30T16:00:00Z").unwrap();
        (first..first + n)
            .map(|i| CheckIn {
                person: PersonId(i),
                venue: VenueId(1),
                at: start.plus(i64::from(i)),
                direction: ScanDirection::Entry,
            })
            .collect()
    }

    /// Everything stored at venue 1, as readers see it.
    fn at_venue_1(store: &SqliteStore) -> Vec<CheckIn> {
        store
            .checkins_at_venue(VenueId(1), Timestamp(0), Timestamp(i64::from(u32::MAX)))
            .unwrap()
    }

    fn day() -> CivilDay {
        CivilDay::parse("2022-07-01").unwrap()
    }

    /// The point of the layout: a scan's commit appends at the end of one table and
    /// touches no index.
    #[test]
    fn day_tables_are_appended_in_arrival_order_without_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut batch = scans(0, 200);
        batch.reverse();
        store.insert_checkins(&batch).unwrap();
        let conn = store.read().unwrap();
        let indexes: i64 = conn
            .query_row(
                "select count(*) from sqlite_master where type = 'index' and tbl_name = 'checkins_20220701'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0);
        let mut stmt = conn
            .prepare("select person from checkins_20220701 order by rowid")
            .unwrap();
        let persons: Vec<u32> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(persons, (0..200).rev().collect::<Vec<_>>());
        drop(stmt);
        drop(conn);
        assert_eq!(at_venue_1(&store), scans(0, 200));
    }

    #[test]
    fn a_keyed_day_table_of_an_older_build_still_takes_appends_and_ignores_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store
            .execute_raw_for_tests(
                "create table checkins_20220701 (venue integer not null, at integer not null,
                 person integer not null, dir integer not null,
                 primary key (venue, at, person, dir)) without rowid",
            )
            .unwrap();
        store
            .execute_raw_for_tests("insert into checkin_days (day, row_count) values (19174, 0)")
            .unwrap();
        drop(store);
        let store = SqliteStore::open(dir.path()).unwrap();
        store.insert_checkins(&scans(0, 10)).unwrap();
        store.insert_checkins(&scans(5, 10)).unwrap();
        assert_eq!(at_venue_1(&store), scans(0, 15));
        assert_eq!(store.checkin_days().unwrap(), vec![(day(), 15)]);
    }

    #[test]
    fn rows_staged_by_older_builds_are_adopted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            store
                .execute_raw_for_tests(
                    "create table checkin_staging (venue integer not null, at integer not null,
                     person integer not null, dir integer not null)",
                )
                .unwrap();
            for c in scans(0, 3) {
                store
                    .execute_raw_for_tests(&format!(
                        "insert into checkin_staging values (1, {}, {}, 0)",
                        c.at.0,
                        c.person.get()
                    ))
                    .unwrap();
            }
        }
        {
            // The separate staging file of the build after that, with rows in both tables.
            let staging = Connection::open(dir.path().join(LEGACY_STAGING_FILE)).unwrap();
            staging.pragma_update(None, "journal_mode", "wal").unwrap();
            for (table, first) in [("staging_0", 3), ("staging_1", 5)] {
                staging
                    .execute_batch(&format!(
                        "create table {table} (id integer primary key autoincrement,
                         venue integer not null, at integer not null, person integer not null,
                         dir integer not null)"
                    ))
                    .unwrap();
                for c in scans(first, 2) {
                    staging
                        .execute(
                            &format!(
                                "insert into {table} (venue, at, person, dir) values (1, ?1, ?2, 0)"
                            ),
                            params![c.at.0, c.person.get()],
                        )
                        .unwrap();
                }
            }
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(at_venue_1(&store), scans(0, 7));
        assert_eq!(store.checkin_days().unwrap(), vec![(day(), 7)]);
        assert!(
            store
                .execute_raw_for_tests("select * from checkin_staging")
                .is_err()
        );
        assert!(!dir.path().join(LEGACY_STAGING_FILE).exists());
    }
}

/// Testing and vaccination storage ([`crate::LabStore`]) for this backend.
mod lab;
