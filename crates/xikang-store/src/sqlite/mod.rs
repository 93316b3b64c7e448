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
//!
//! This file owns the connections (open, configuration, the reader pool, the checkpointer
//! thread), the migrations, the authority log's append and the day-table helpers both
//! check-ins and pings use. The rest of the backend, one file per feature: `core` (the
//! [`Store`](crate::Store) trait: reference data, the log's reads, check-ins, tokens and
//! keys), `checkin` (the check-in day tables), `ping`, `lab`, `duties`, `user`.

mod checkin;
mod claim;
mod cluster;
mod core;
mod credential;
mod duties;
/// Testing and vaccination storage ([`crate::LabStore`]) for this backend.
mod lab;
mod ping;
mod policy;
mod register;
mod user;

use crate::error::{Result, StoreError};
use crate::pool::{Pool, Pooled};
use crate::row::{self, EVENT_COLUMNS};
use checkin::adopt_legacy_staging;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use xikang_domain::event::{GENESIS_HASH, NewEvent, StoredEvent, chain_hash};
use xikang_domain::{CivilDay, EventSeq, PersonId};

/// The migrations, in order. Never edit one that has been released; add the next.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "lab",
        include_str!("../../migrations/sqlite/0002_lab.sql"),
    ),
    (
        3,
        "duties",
        include_str!("../../migrations/sqlite/0003_duties.sql"),
    ),
    (
        4,
        "workplace_venue",
        include_str!("../../migrations/sqlite/0004_workplace_venue.sql"),
    ),
    (
        5,
        "users",
        include_str!("../../migrations/sqlite/0005_users.sql"),
    ),
    (
        6,
        "ping_days",
        include_str!("../../migrations/sqlite/0006_ping_days.sql"),
    ),
    (
        7,
        "area_names",
        include_str!("../../migrations/sqlite/0007_area_names.sql"),
    ),
    (
        8,
        "lab_write_path",
        include_str!("../../migrations/sqlite/0008_lab_write_path.sql"),
    ),
    (
        9,
        "tokens",
        include_str!("../../migrations/sqlite/0009_tokens.sql"),
    ),
    (
        12,
        "register",
        include_str!("../../migrations/sqlite/0012_register.sql"),
    ),
    (
        13,
        "policies",
        include_str!("../../migrations/sqlite/0013_policies.sql"),
    ),
    (
        14,
        "claims",
        include_str!("../../migrations/sqlite/0014_claims.sql"),
    ),
    (
        15,
        "district_outlines",
        include_str!("../../migrations/sqlite/0015_district_outlines.sql"),
    ),
    (
        16,
        "node_feed",
        include_str!("../../migrations/sqlite/0016_node_feed.sql"),
    ),
    (
        17,
        "tube_moves",
        include_str!("../../migrations/sqlite/0017_tube_moves.sql"),
    ),
    (
        18,
        "enterprise",
        include_str!("../../migrations/sqlite/0018_enterprise.sql"),
    ),
    (
        19,
        "sample_groups",
        include_str!("../../migrations/sqlite/0019_sample_groups.sql"),
    ),
    (
        25,
        "cluster",
        include_str!("../../migrations/sqlite/0025_cluster.sql"),
    ),
];

/// The database file inside the data directory.
pub const DB_FILE: &str = "xikang.db";

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of the database file a reader maps (address space, not memory: the pages are
/// the file system's cache, shared by all readers).
const READER_MMAP_BYTES: i64 = 1 << 30;

/// Rows handed to a `for_each_checkin` callback at a time.
pub(super) const CHUNK: usize = 65_536;

/// How often the checkpointer thread copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

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
    /// The same for location pings (`ping.rs`).
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
                // Readers map the file instead of copying pages into their own cache: a
                // writer's commit empties a reader's page cache, so a reader of a large
                // index (the register's ID hashes, a million entries) would read every page
                // again with a system call after each write. Pages still in the WAL are read
                // as before.
                conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
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
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
