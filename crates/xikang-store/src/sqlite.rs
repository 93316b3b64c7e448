//! The SQLite backend: one database file in the data directory, in WAL mode with
//! `synchronous=FULL`, so a write is on disk when its transaction commits and readers never
//! wait behind the writer. One writer connection sits behind a mutex (SQLite allows one
//! writer at a time anyway, and `begin immediate` also serializes against other processes);
//! readers come from a small pool of read-only connections.
//!
//! Small check-in batches are appended to a second file, `checkins-staging.db`, with its
//! own writer connection and mutex, so that a scan's commit never waits for the main file's
//! write lock. A background merger thread moves staged rows into the indexed day tables of
//! the main file in bulk. Two staging tables take turns: appends go to the current one while
//! the merger copies the other, so a merge never holds the staging file for more than the
//! few milliseconds it takes to empty a table (see `docs/storage.md` for the protocol and
//! the measurements behind it).

use crate::error::{Result, StoreError};
use crate::pool::{Pool, Pooled};
use crate::row::{
    self, BriefRow, ChainWalk, EVENT_COLUMNS, EventRow, KeyRow, PersonRow, TokenRow, VenueRow,
    WorkplaceRow, checkin_of, checkin_table, dir_code,
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
use std::time::{Duration, Instant};
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
];

/// The database file inside the data directory.
pub const DB_FILE: &str = "xikang.db";

/// The staging file for check-ins inside the data directory (see the module doc).
pub const STAGING_FILE: &str = "checkins-staging.db";

/// The two staging tables, as the staging file names them and as readers (which attach the
/// file as `stg`) name them.
const STAGING: [&str; 2] = ["staging_0", "staging_1"];
const STAGING_ATTACHED: [&str; 2] = ["stg.staging_0", "stg.staging_1"];

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Rows handed to a `for_each_checkin` callback at a time.
const CHUNK: usize = 65_536;

/// The merger moves the staged check-ins into their day tables once this many are waiting.
/// Big enough that a merge writes each touched page of a day table once for many rows;
/// small enough that readers, which scan the unindexed staging tables, stay at a few ms.
const MERGE_AT: u64 = 65_536;

/// Fewer staged rows are merged too once this long has passed since the last merge, so
/// that a quiet server's scans reach the indexed tables soon.
const MERGE_IDLE: Duration = Duration::from_secs(10);

/// How often the merger looks at the staging file when nobody nudges it; each look also
/// checkpoints the staging file's WAL.
const TICK: Duration = Duration::from_secs(1);

/// At most this many staged rows are merged in one transaction (only reached when merges
/// failed for a long while), which bounds the merger's memory.
const MERGE_CAP: u64 = 1_048_576;

/// Batches at least this big skip staging and go straight into the day tables: they
/// amortize the scattered index pages on their own (bulk loads, never a scan's commit).
const DIRECT_AT: usize = 131_072;

/// Rows per multi-row `insert` into a staging table: one statement per row would also pay
/// the per-statement `autoincrement` bookkeeping once per row.
const STAGE_ROWS_PER_STATEMENT: usize = 64;

/// The SQLite store. Dropping it stops the merger thread (after the merge in progress, if
/// any); whatever is still staged is merged at the next open.
pub struct SqliteStore {
    shared: Arc<Shared>,
    merger: Option<JoinHandle<()>>,
}

/// What the store and its merger thread share.
struct Shared {
    path: PathBuf,
    writer: Mutex<Writer>,
    staging: Mutex<Staging>,
    /// A connection to the staging file used only by merges (to read the table being merged)
    /// and by the merger's checkpoints. Holding it is what makes merges one at a time.
    merging: Mutex<Connection>,
    /// Read-only connections to the main file, with the staging file attached as `stg`.
    readers: Pool<Connection>,
    staging_path: String,
    signal: Mutex<Signal>,
    wake: Condvar,
}

/// The writer connection and what it knows about the check-in partitions, so that a batch
/// into an existing day costs no DDL.
struct Writer {
    conn: Connection,
    known_days: HashSet<i32>,
}

/// The staging file's writer connection and which table takes appends.
struct Staging {
    conn: Connection,
    /// Index into [`STAGING`] of the table appends go to.
    current: usize,
    /// Rows in each staging table as far as this process knows (counted at open; only a
    /// trigger for merging, never used for results).
    rows: [u64; 2],
}

/// Wake-ups for the merger thread.
#[derive(Default)]
struct Signal {
    stop: bool,
    due: bool,
}

/// Where a merge step stands when it calls its hook (tests use the hook to hold a merge in
/// place or to simulate a crash at that point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MergePoint {
    /// The rows are written to the day tables but not committed; the main writer is held.
    Copied,
    /// The day tables are committed; the staging table is not emptied yet.
    Committed,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `DIR/xikang.db` and `DIR/checkins-staging.db`, applies
    /// pending migrations, merges whatever a previous run left staged, and starts the merger
    /// thread.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        SqliteStore::open_with(dir, true)
    }

    /// [`SqliteStore::open`], with or without the background merger (unit tests drive
    /// merges by hand).
    fn open_with(dir: &Path, background: bool) -> Result<SqliteStore> {
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
        let mut writer = Writer { conn, known_days };
        adopt_legacy_staging(&mut writer)?;

        let staging_path = dir.join(STAGING_FILE);
        let staging_path = staging_path
            .to_str()
            .ok_or_else(|| {
                StoreError::Target(format!(
                    "the data directory {} is not valid UTF-8",
                    dir.display()
                ))
            })?
            .to_owned();
        let staging_conn = Connection::open(&staging_path)?;
        configure_staging(&staging_conn)?;
        let mut rows = [0u64; 2];
        for (n, table) in rows.iter_mut().zip(STAGING) {
            let count: i64 =
                staging_conn
                    .query_row(&format!("select count(*) from {table}"), [], |r| r.get(0))?;
            *n = count.unsigned_abs();
        }
        let merging = Connection::open(&staging_path)?;
        merging.busy_timeout(BUSY_TIMEOUT)?;

        let shared = Arc::new(Shared {
            path,
            writer: Mutex::new(writer),
            staging: Mutex::new(Staging {
                conn: staging_conn,
                current: 0,
                rows,
            }),
            merging: Mutex::new(merging),
            readers: Pool::new(8),
            staging_path,
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
        });
        // Crash recovery: rows a previous run acknowledged but did not merge. Synchronous,
        // so the store starts with empty staging tables.
        shared.merge_all()?;
        let merger = if background {
            let for_thread = Arc::clone(&shared);
            Some(
                std::thread::Builder::new()
                    .name("xikang-merge".into())
                    .spawn(move || merger_loop(&for_thread))?,
            )
        } else {
            None
        };
        Ok(SqliteStore { shared, merger })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    fn write(&self) -> MutexGuard<'_, Writer> {
        self.shared.write()
    }

    fn read(&self) -> Result<Pooled<'_, Connection>> {
        self.shared.read()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        lock(&self.shared.signal).stop = true;
        self.shared.wake.notify_all();
        if let Some(merger) = self.merger.take()
            && merger.join().is_err()
        {
            tracing::warn!("the check-in merger thread panicked");
        }
    }
}

/// Locks a mutex, also after a panic of another holder: a panic while writing leaves no
/// half-done transaction behind (rusqlite rolls back on drop), so the connection is good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn write(&self) -> MutexGuard<'_, Writer> {
        lock(&self.writer)
    }

    fn staging(&self) -> MutexGuard<'_, Staging> {
        lock(&self.staging)
    }

    fn read(&self) -> Result<Pooled<'_, Connection>> {
        self.readers.get(
            |_| true,
            || {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI;
                let conn = Connection::open_with_flags(&self.path, flags)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                // Attached with the same (read-only) flags.
                conn.execute("attach database ?1 as stg", [&self.staging_path])?;
                Ok(conn)
            },
        )
    }

    #[cfg(test)]
    fn known_days_for_tests(&self) -> HashSet<i32> {
        self.write().known_days.clone()
    }

    /// Wakes the merger thread early.
    fn nudge(&self) {
        lock(&self.signal).due = true;
        self.wake.notify_one();
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
    // 64 MiB page cache for the writer: the (person, at) index of a check-in table takes
    // random inserts, which stay in memory between commits.
    conn.pragma_update(None, "cache_size", -65_536)?;
    // Checkpoint every 64 MiB of WAL rather than every 4 MiB: a page rewritten by several
    // commits between checkpoints is copied into the database file once (measured: +60 %
    // check-in throughput). The WAL file is cut back to that size after each checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(())
}

/// The staging file: WAL and `synchronous=FULL` like the main file (a staged row is an
/// acknowledged scan), and its two tables.
fn configure_staging(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Target(format!(
            "the file system refused WAL mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "full")?;
    // The merger checkpoints this file every tick from its own connection, so appends do
    // not pay for checkpoints; this only bounds the WAL should the merger fall behind.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    for table in STAGING {
        // `autoincrement`: ids are never reused, even after a table was emptied, so "the
        // rows up to id N" always means the rows a merge copied (see `Shared::merge_step`).
        conn.execute_batch(&format!(
            "create table if not exists {table} (
                id integer primary key autoincrement,
                venue integer not null, at integer not null, person integer not null,
                dir integer not null)"
        ))?;
    }
    Ok(())
}

/// `insert into TABLE (…) values (?, ?, ?, ?), …` for `rows` rows.
fn staging_insert_sql(table: &str, rows: usize) -> String {
    let values = vec!["(?, ?, ?, ?)"; rows].join(", ");
    format!("insert into {table} (venue, at, person, dir) values {values}")
}

fn checkin_values(c: &CheckIn) -> [i64; 4] {
    [
        i64::from(c.venue.get()),
        c.at.0,
        i64::from(c.person.get()),
        i64::from(dir_code(c.direction)),
    ]
}

/// Development builds before the staging file kept staged rows in a `checkin_staging`
/// table of the main file: move them into their day tables and drop that table.
fn adopt_legacy_staging(w: &mut Writer) -> Result<()> {
    let exists: bool = w.conn.query_row(
        "select exists (select 1 from sqlite_master where type = 'table' and name = 'checkin_staging')",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(());
    }
    let Writer { conn, known_days } = w;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut rows = Vec::new();
    read_checkins(
        &mut tx.prepare("select venue, at, person, dir from checkin_staging")?,
        [],
        &mut rows,
    )?;
    let created = write_day_tables(&tx, known_days, &rows)?;
    tx.execute_batch("drop table checkin_staging")?;
    tx.commit()?;
    known_days.extend(created);
    Ok(())
}

impl Shared {
    /// Appends a batch to the current staging table: one small transaction in the staging
    /// file, whatever is staged or being merged.
    fn append_staged(&self, batch: &[CheckIn]) -> Result<()> {
        let mut s = self.staging();
        let current = s.current;
        let table = STAGING[current];
        let tx = s
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut chunks = batch.chunks_exact(STAGE_ROWS_PER_STATEMENT);
            let mut many =
                tx.prepare_cached(&staging_insert_sql(table, STAGE_ROWS_PER_STATEMENT))?;
            for chunk in &mut chunks {
                many.execute(params_from_iter(chunk.iter().flat_map(checkin_values)))?;
            }
            let mut one = tx.prepare_cached(&staging_insert_sql(table, 1))?;
            for c in chunks.remainder() {
                one.execute(params_from_iter(checkin_values(c)))?;
            }
        }
        tx.commit()?;
        s.rows[current] += batch.len() as u64;
        let due = s.rows[current] >= MERGE_AT;
        drop(s);
        if due {
            self.nudge();
        }
        Ok(())
    }

    /// Rows staged in both tables, as far as this process knows.
    fn staged(&self) -> u64 {
        let s = self.staging();
        s.rows[0] + s.rows[1]
    }

    /// Merges one staging table into the day tables and returns how many staged rows it
    /// took (0: nothing was staged).
    ///
    /// 1. Under the staging mutex, in memory only: pick the table. Normally that is the
    ///    current one, and appends flip to the other; a table left over by a failed merge
    ///    goes first, without a flip.
    /// 2. Read the picked table (one statement: one snapshot) up to its newest id `N`, and
    ///    write the rows into the day tables in one transaction of the main file (under the
    ///    main writer mutex, which only appends to the authority log and other rare writes
    ///    share). Commit.
    /// 3. Only then, under the staging mutex, delete the rows up to `N` from the staging
    ///    table: without a `where` (SQLite's truncation, a few pages) when nothing newer was
    ///    added, which is always the case within one process.
    ///
    /// A reader looks at the staging file first and the main file second, each at the
    /// snapshot of its first statement, so a row is in at least one of its snapshots at any
    /// time; one in both is reported once. A crash between 2 and 3 leaves rows in both
    /// places, and merging them again adds nothing (`insert or ignore`, and the registry
    /// counts only what was added). Because ids are never reused, this also holds when
    /// another process (a command-line tool opening the same directory) merges or appends
    /// at the same time: its rows are never deleted uncopied.
    fn merge_step(&self, hook: &mut dyn FnMut(MergePoint) -> Result<()>) -> Result<u64> {
        let merging = lock(&self.merging);
        let which = {
            let mut s = self.staging();
            let other = 1 - s.current;
            if s.rows[other] > 0 {
                other
            } else if s.rows[s.current] > 0 {
                s.current = other;
                1 - other
            } else {
                return Ok(0);
            }
        };
        let table = STAGING[which];
        let started = Instant::now();
        let mut rows = Vec::new();
        let mut newest = None;
        {
            let mut stmt = merging.prepare_cached(&format!(
                "select id, venue, at, person, dir from {table} order by id limit ?1"
            ))?;
            let mut found = stmt.query([MERGE_CAP])?;
            while let Some(r) = found.next()? {
                newest = Some(r.get::<_, i64>(0)?);
                rows.push(checkin_of(r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)?);
            }
        }
        let Some(newest) = newest else {
            // Another process merged it: nothing to do.
            self.staging().rows[which] = 0;
            return Ok(0);
        };
        {
            let mut w = self.write();
            let Writer { conn, known_days } = &mut *w;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let created = write_day_tables(&tx, known_days, &rows)?;
            hook(MergePoint::Copied)?;
            tx.commit()?;
            // Only now are the new partitions real: a failed merge rolled their DDL back.
            known_days.extend(created);
        }
        hook(MergePoint::Committed)?;
        {
            let mut s = self.staging();
            let tx = s
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let max: Option<i64> =
                tx.query_row(&format!("select max(id) from {table}"), [], |r| r.get(0))?;
            let everything = max.is_none_or(|m| m <= newest);
            if everything {
                // Without a `where`, SQLite truncates the table instead of deleting row by row.
                tx.execute(&format!("delete from {table}"), [])?;
            } else {
                tx.execute(&format!("delete from {table} where id <= ?1"), [newest])?;
            }
            tx.commit()?;
            s.rows[which] = if everything {
                0
            } else {
                s.rows[which].saturating_sub(rows.len() as u64)
            };
        }
        tracing::debug!(
            rows = rows.len(),
            ms = started.elapsed().as_millis(),
            "merged staged check-ins"
        );
        Ok(rows.len() as u64)
    }

    /// Merges everything staged when called (rows appended meanwhile may stay staged:
    /// readers see them there).
    fn merge_all(&self) -> Result<()> {
        let mut left = self.staged();
        while left > 0 {
            let merged = self.merge_step(&mut |_| Ok(()))?;
            if merged == 0 {
                break;
            }
            left = left.saturating_sub(merged);
        }
        Ok(())
    }

    /// Checkpoints the staging file's WAL without waiting for anyone (appends go on).
    fn checkpoint_staging(&self) -> Result<()> {
        let merging = lock(&self.merging);
        merging.query_row("pragma wal_checkpoint(passive)", [], |_| Ok(()))?;
        Ok(())
    }
}

/// The merger thread: merges when enough rows are staged (or some have waited long enough)
/// and checkpoints the staging file, until the store is dropped. A failed merge leaves the
/// rows staged (readers still see them) and is retried at the next tick.
fn merger_loop(shared: &Shared) {
    let mut last_merge = Instant::now();
    loop {
        {
            let mut signal = lock(&shared.signal);
            if !signal.stop && !signal.due {
                signal = shared
                    .wake
                    .wait_timeout(signal, TICK)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if signal.stop {
                return;
            }
            signal.due = false;
        }
        let staged = shared.staged();
        if staged >= MERGE_AT || (staged > 0 && last_merge.elapsed() >= MERGE_IDLE) {
            match shared.merge_step(&mut |_| Ok(())) {
                Ok(_) => last_merge = Instant::now(),
                Err(e) => {
                    tracing::warn!(error = %e, code = e.code(), "merging staged check-ins failed; will retry");
                }
            }
        }
        if let Err(e) = shared.checkpoint_staging() {
            tracing::warn!(error = %e, code = e.code(), "checkpointing the check-in staging file failed");
        }
    }
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

fn checkin_ddl(table: &str) -> String {
    format!(
        "create table if not exists {table} (
            venue integer not null, at integer not null, person integer not null, dir integer not null,
            primary key (venue, at, person, dir)) without rowid;
         create index if not exists {table}_person on {table} (person, at);"
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

/// Whether a check-in is already in its day table (`days` says whether there is one).
fn in_day_table(conn: &Connection, days: &HashSet<i32>, c: &CheckIn) -> Result<bool> {
    let day = c.at.shanghai_day();
    if !days.contains(&day.0) {
        return Ok(false);
    }
    let found = conn
        .prepare_cached(&format!(
            "select 1 from {} where venue = ?1 and at = ?2 and person = ?3 and dir = ?4",
            checkin_table(day)?
        ))?
        .query_row(
            params![c.venue.get(), c.at.0, c.person.get(), dir_code(c.direction)],
            |_| Ok(()),
        )
        .optional()?;
    Ok(found.is_some())
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

/// Inserts check-ins straight into their day tables (sorted by primary key), creating
/// tables as needed and keeping the registry's row counts. Returns the days whose tables
/// this transaction created.
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
        let mut added = 0usize;
        {
            let mut stmt = tx.prepare_cached(&format!(
                "insert or ignore into {table} (venue, at, person, dir) values (?1, ?2, ?3, ?4)"
            ))?;
            for c in &rows {
                added += stmt.execute(params![
                    c.venue.get(),
                    c.at.0,
                    c.person.get(),
                    dir_code(c.direction)
                ])?;
            }
        }
        tx.prepare_cached("update checkin_days set row_count = row_count + ?1 where day = ?2")?
            .execute(params![added, day.0])?;
    }
    Ok(created)
}

impl SqliteStore {
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
        // One read transaction, with the staging file read FIRST: its snapshot is then
        // older than the main file's, so a row a merge moves meanwhile is in at least one of
        // them (see `Shared::merge_step`).
        let tx = conn.transaction()?;
        let mut out = Vec::new();
        let mut stmt = tx.prepare_cached(&format!(
            "select venue, at, person, dir from {s0} where {filter} = ?1 and at between ?2 and ?3
             union all
             select venue, at, person, dir from {s1} where {filter} = ?1 and at between ?2 and ?3",
            s0 = STAGING_ATTACHED[0],
            s1 = STAGING_ATTACHED[1],
        ))?;
        read_checkins(&mut stmt, params![key, from.0, to.0], &mut out)?;
        drop(stmt);
        for day in days_between(&tx, from, to)? {
            let table = checkin_table(day)?;
            let mut stmt = tx.prepare_cached(&format!(
                "select venue, at, person, dir from {table} where {filter} = ?1 and at between ?2 and ?3"
            ))?;
            read_checkins(&mut stmt, params![key, from.0, to.0], &mut out)?;
        }
        // A staged row may repeat one already merged (a re-sent scan, or a merge between the
        // two snapshots): report it once.
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
                "insert into workplaces (id, name, is_school, area, cell) values (?1, ?2, ?3, ?4, ?5)",
            )?;
            for wp in ws {
                stmt.execute(params![
                    wp.id.get(),
                    wp.name,
                    wp.is_school,
                    wp.area.as_str(),
                    wp.cell.0
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
            .prepare_cached("select id, name, is_school, area, cell from workplaces where id = ?1")?
            .query_row([id.get()], |r| {
                Ok(WorkplaceRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    is_school: r.get(2)?,
                    area: r.get(3)?,
                    cell: r.get(4)?,
                })
            })
            .optional()?;
        row.map(WorkplaceRow::into_workplace).transpose()
    }

    fn append_events(&self, events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        let mut w = self.write();
        // `begin immediate` takes SQLite's write lock before reading the head, so another
        // process cannot append between our read of the head and our insert.
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        let mut stored = Vec::with_capacity(events.len());
        {
            let mut stmt = tx.prepare_cached(&format!(
                "insert into events ({EVENT_COLUMNS}) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?;
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
        }
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
        if batch.len() >= DIRECT_AT {
            // Big enough to amortize the scattered index pages on its own: straight in,
            // skipping the second write that staging costs.
            let mut w = self.write();
            let Writer { conn, known_days } = &mut *w;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let created = write_day_tables(&tx, known_days, batch)?;
            tx.commit()?;
            known_days.extend(created);
            return Ok(());
        }
        // Smaller batches (the usual group commit) are appended to the current staging table
        // in the staging file: a commit writes a few pages at its end, where inserting them
        // straight into the indexed day table would dirty pages all over two B-trees and
        // write them all to the WAL at every commit (measured: 35 k rows/s at 5 000 per
        // batch, against 200 k+ this way). This takes neither the main file's lock nor
        // waits for a merge: the merger thread moves the rows on later.
        self.shared.append_staged(batch)
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
        // Exact counts need the staged rows deduplicated, which is what a merge does.
        self.shared.merge_all()?;
        let conn = self.read()?;
        let mut stmt =
            conn.prepare_cached("select day, row_count from checkin_days order by day")?;
        let rows = stmt.query_map([], |r| {
            Ok((CivilDay(r.get(0)?), r.get::<_, i64>(1)?.unsigned_abs()))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn drop_checkin_days_before(&self, day: CivilDay) -> Result<Vec<CivilDay>> {
        // Staged rows of the days being dropped must go too: merge them first.
        self.shared.merge_all()?;
        let mut w = self.write();
        let Writer { conn, known_days } = &mut *w;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let days: Vec<CivilDay> = {
            let mut stmt =
                tx.prepare("select day from checkin_days where day < ?1 order by day")?;
            stmt.query_map([day.0], |r| r.get(0).map(CivilDay))?
                .collect::<Result<_, _>>()?
        };
        for d in &days {
            tx.execute_batch(&format!("drop table if exists {}", checkin_table(*d)?))?;
        }
        tx.execute("delete from checkin_days where day < ?1", [day.0])?;
        tx.commit()?;
        for d in &days {
            known_days.remove(&d.0);
        }
        // Statements prepared against the dropped tables are useless now.
        conn.flush_prepared_statement_cache();
        if !days.is_empty() {
            // Retention is a deletion duty (PIPL art. 47): give the freed pages back to the
            // file system rather than leaving old scans readable in the free list.
            // Each step of this pragma frees pages, so it must run to completion.
            let mut stmt = conn.prepare("pragma incremental_vacuum")?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
        }
        Ok(days)
    }

    fn for_each_checkin(&self, f: &mut dyn FnMut(&[CheckIn])) -> Result<()> {
        // Merge first so the walk reads indexed day tables, not long staging tables.
        self.shared.merge_all()?;
        let mut conn = self.read()?;
        let tx = conn.transaction()?;
        // Rows staged since the merge above (few), read before the main file for the
        // snapshot order explained in `Shared::merge_step`; each once.
        let mut staged = Vec::new();
        read_checkins(
            &mut tx.prepare(&format!(
                "select venue, at, person, dir from {} union all select venue, at, person, dir from {}",
                STAGING_ATTACHED[0], STAGING_ATTACHED[1]
            ))?,
            [],
            &mut staged,
        )?;
        staged.sort_unstable_by_key(|c| (c.at, c.venue, c.person, dir_code(c.direction)));
        staged.dedup();
        let days: Vec<CivilDay> = {
            let mut stmt = tx.prepare("select day from checkin_days order by day")?;
            stmt.query_map([], |r| r.get(0).map(CivilDay))?
                .collect::<Result<_, _>>()?
        };
        let mut chunk = Vec::with_capacity(CHUNK);
        for day in &days {
            let mut stmt = tx.prepare(&format!(
                "select venue, at, person, dir from {}",
                checkin_table(*day)?
            ))?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (v, at, p, d) = checkin_row(r)?;
                chunk.push(checkin_of(v, at, p, d)?);
                if chunk.len() == CHUNK {
                    f(&chunk);
                    chunk.clear();
                }
            }
        }
        // Staged rows last, and only those not merged yet.
        let days: HashSet<i32> = days.iter().map(|d| d.0).collect();
        for c in staged {
            if !in_day_table(&tx, &days, &c)? {
                chunk.push(c);
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
    use std::sync::mpsc;
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

    fn staged_rows(store: &SqliteStore) -> [u64; 2] {
        store.shared.staging().rows
    }

    fn sorted(mut v: Vec<CheckIn>) -> Vec<CheckIn> {
        v.sort_by_key(|c| (c.at, c.person));
        v
    }

    /// The whole test body runs while a merge holds the main writer mid-transaction. The
    /// append runs on its own thread and the test waits for it with a generous bound, so
    /// that a regression fails the test instead of hanging it (a deadlock guard, not a
    /// timing assertion).
    #[test]
    fn appends_and_reads_go_on_while_a_merge_holds_the_main_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_with(dir.path(), false).unwrap();
        let first = scans(0, 1_000);
        let second = scans(1_000, 10);
        store.insert_checkins(&first).unwrap();
        assert_eq!(staged_rows(&store), [1_000, 0]);

        let (holding_tx, holding_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (appended_tx, appended_rx) = mpsc::channel();
        std::thread::scope(|s| {
            let store = &store;
            let merge = s.spawn(move || {
                store.shared.merge_step(&mut |point| {
                    if point == MergePoint::Copied {
                        holding_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                    }
                    Ok(())
                })
            });
            holding_rx.recv().unwrap();
            // The merge really holds the main writer now.
            assert!(store.shared.writer.try_lock().is_err());
            let second = &second;
            s.spawn(move || {
                store.insert_checkins(second).unwrap();
                appended_tx.send(()).unwrap();
            });
            let appended = appended_rx.recv_timeout(Duration::from_secs(120));
            // Readers see the rows being merged (still staged) and the new ones.
            let seen = if appended.is_ok() {
                Some(at_venue_1(store))
            } else {
                None
            };
            let staged_meanwhile = staged_rows(store);
            release_tx.send(()).unwrap();
            assert!(
                appended.is_ok(),
                "insert_checkins waited for the merge holding the main file"
            );
            let all: Vec<CheckIn> = first.iter().chain(second).copied().collect();
            assert_eq!(seen.unwrap(), all);
            // The merge flipped: the new rows went to the other table.
            assert_eq!(staged_meanwhile, [1_000, 10]);
            assert_eq!(merge.join().unwrap().unwrap(), 1_000);
        });
        assert_eq!(staged_rows(&store), [0, 10]);
        let all: Vec<CheckIn> = first.iter().chain(&second).copied().collect();
        assert_eq!(at_venue_1(&store), all);
        let day = CivilDay::parse("2022-07-01").unwrap();
        assert_eq!(store.checkin_days().unwrap(), vec![(day, 1_010)]);
        assert_eq!(staged_rows(&store), [0, 0]);
    }

    #[test]
    fn a_crash_before_a_merge_commits_loses_no_staged_row() {
        let dir = tempfile::tempdir().unwrap();
        let first = scans(0, 500);
        let second = scans(400, 300); // overlaps the first: 100 repeats
        {
            let store = SqliteStore::open_with(dir.path(), false).unwrap();
            store.insert_checkins(&first).unwrap();
            let failed = store.shared.merge_step(&mut |point| match point {
                MergePoint::Copied => Err(StoreError::Target("simulated crash".into())),
                MergePoint::Committed => Ok(()),
            });
            assert!(failed.is_err());
            store.insert_checkins(&second).unwrap();
            // Rows in both staging tables, none in a day table.
            assert_eq!(staged_rows(&store), [500, 300]);
            assert!(store.shared.known_days_for_tests().is_empty());
            assert_eq!(at_venue_1(&store), scans(0, 700));
            // Like kill -9: no destructor, no checkpoint, no close.
            std::mem::forget(store);
        }
        let store = SqliteStore::open_with(dir.path(), false).unwrap();
        assert_eq!(staged_rows(&store), [0, 0]);
        assert_eq!(at_venue_1(&store), scans(0, 700));
        let day = CivilDay::parse("2022-07-01").unwrap();
        assert_eq!(store.checkin_days().unwrap(), vec![(day, 700)]);
    }

    #[test]
    fn a_crash_between_a_merge_commit_and_emptying_staging_counts_each_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = scans(0, 500);
        let second = scans(400, 300);
        {
            let store = SqliteStore::open_with(dir.path(), false).unwrap();
            store.insert_checkins(&first).unwrap();
            let failed = store.shared.merge_step(&mut |point| match point {
                MergePoint::Copied => Ok(()),
                MergePoint::Committed => Err(StoreError::Target("simulated crash".into())),
            });
            assert!(failed.is_err());
            store.insert_checkins(&second).unwrap();
            // The first rows are merged and still staged; readers report each row once.
            assert_eq!(staged_rows(&store), [500, 300]);
            assert_eq!(store.shared.known_days_for_tests().len(), 1);
            assert_eq!(at_venue_1(&store), scans(0, 700));
            let mut streamed = Vec::new();
            store
                .for_each_checkin(&mut |chunk| streamed.extend_from_slice(chunk))
                .unwrap();
            assert_eq!(sorted(streamed), scans(0, 700));
            std::mem::forget(store);
        }
        let store = SqliteStore::open_with(dir.path(), false).unwrap();
        assert_eq!(staged_rows(&store), [0, 0]);
        assert_eq!(at_venue_1(&store), scans(0, 700));
        let day = CivilDay::parse("2022-07-01").unwrap();
        assert_eq!(store.checkin_days().unwrap(), vec![(day, 700)]);
    }

    #[test]
    fn the_background_merger_empties_staging_once_enough_rows_wait() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let rows = u32::try_from(MERGE_AT).unwrap() + 1_000;
        for first in (0..rows).step_by(2_000) {
            store
                .insert_checkins(&scans(first, 2_000.min(rows - first)))
                .unwrap();
        }
        // Nothing here merges by itself: wait (no timing assertion) until the merger has
        // taken the big table, i.e. fewer rows than the threshold are left staged.
        while store.shared.staged() >= MERGE_AT {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!store.shared.known_days_for_tests().is_empty());
        assert_eq!(at_venue_1(&store), scans(0, rows));
        drop(store);
        // Dropping stopped the merger cleanly: the directory opens again with everything.
        let store = SqliteStore::open(dir.path()).unwrap();
        let total: u64 = store.checkin_days().unwrap().iter().map(|d| d.1).sum();
        assert_eq!(total, u64::from(rows));
    }

    #[test]
    fn rows_staged_in_the_main_file_by_an_older_build_are_adopted_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open_with(dir.path(), false).unwrap();
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
        let store = SqliteStore::open_with(dir.path(), false).unwrap();
        assert_eq!(at_venue_1(&store), scans(0, 3));
        let day = CivilDay::parse("2022-07-01").unwrap();
        assert_eq!(store.checkin_days().unwrap(), vec![(day, 3)]);
        let gone = store.execute_raw_for_tests("select * from checkin_staging");
        assert!(gone.is_err());
    }
}

/// Testing and vaccination storage ([`crate::LabStore`]) for this backend.
mod lab;
