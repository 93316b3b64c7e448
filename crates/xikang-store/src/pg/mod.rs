//! The PostgreSQL backend, on the synchronous `postgres` client. One writer connection
//! behind a mutex (check-in batches and the authority log are serialized in-process, and
//! the log also across processes by `lock table events in exclusive mode`, each append
//! announced to the other nodes by NOTIFY, `cluster.rs`), plus a small
//! pool of reader connections. Bulk writes are one statement each: `insert … select * from
//! unnest($1::bigint[], …)`, or binary `COPY` for the largest (events, lab samples), both
//! within the portable subset of SQL that sharded PostgreSQL-compatible engines accept.
//!
//! This file owns the connections (URL and schema handling, configuration, the reader
//! pool), the migrations, the authority log's append and the day-table helpers both
//! check-ins and pings use. The rest of the backend, one file per feature: `core` (the
//! [`Store`](crate::Store) trait: reference data, the log's reads, check-ins, tokens and
//! keys), `ping`, `lab`, `duties`, `user`.

mod claim;
mod cluster;
mod copy;
mod core;
mod credential;
mod duties;
/// Testing and vaccination storage ([`crate::LabStore`]) for this backend.
mod lab;
mod ping;
mod policy;
mod register;
mod user;

use crate::error::{Result, StoreError, read_only_refusals};
use crate::pool::{Pool, Pooled};
use crate::row::{self, EVENT_COLUMNS};
use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row};
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use xikang_domain::event::{GENESIS_HASH, NewEvent, StoredEvent, chain_hash};
use xikang_domain::{CivilDay, EventSeq};

/// The migrations, in order. Never edit one that has been released; add the next.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "lab",
        include_str!("../../migrations/postgres/0002_lab.sql"),
    ),
    (
        3,
        "duties",
        include_str!("../../migrations/postgres/0003_duties.sql"),
    ),
    (
        4,
        "workplace_venue",
        include_str!("../../migrations/postgres/0004_workplace_venue.sql"),
    ),
    (
        5,
        "users",
        include_str!("../../migrations/postgres/0005_users.sql"),
    ),
    (
        6,
        "ping_days",
        include_str!("../../migrations/postgres/0006_ping_days.sql"),
    ),
    (
        7,
        "area_names",
        include_str!("../../migrations/postgres/0007_area_names.sql"),
    ),
    (
        8,
        "lab_write_path",
        include_str!("../../migrations/postgres/0008_lab_write_path.sql"),
    ),
    (
        9,
        "tokens",
        include_str!("../../migrations/postgres/0009_tokens.sql"),
    ),
    (
        12,
        "register",
        include_str!("../../migrations/postgres/0012_register.sql"),
    ),
    (
        13,
        "policies",
        include_str!("../../migrations/postgres/0013_policies.sql"),
    ),
    (
        14,
        "claims",
        include_str!("../../migrations/postgres/0014_claims.sql"),
    ),
    (
        15,
        "district_outlines",
        include_str!("../../migrations/postgres/0015_district_outlines.sql"),
    ),
    (
        16,
        "node_feed",
        include_str!("../../migrations/postgres/0016_node_feed.sql"),
    ),
    (
        17,
        "tube_moves",
        include_str!("../../migrations/postgres/0017_tube_moves.sql"),
    ),
    (
        18,
        "enterprise",
        include_str!("../../migrations/postgres/0018_enterprise.sql"),
    ),
    (
        19,
        "sample_groups",
        include_str!("../../migrations/postgres/0019_sample_groups.sql"),
    ),
    (
        25,
        "cluster",
        include_str!("../../migrations/postgres/0025_cluster.sql"),
    ),
];

/// Rows fetched per round trip when streaming.
pub(super) const FETCH: i32 = 10_000;
/// Rows per bulk-insert statement for reference data (bounds the size of one message).
pub(super) const BULK: usize = 10_000;
/// Rows handed to a `for_each_checkin` callback at a time.
pub(super) const CHUNK: usize = 65_536;

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// The PostgreSQL store.
pub struct PgStore {
    config: Config,
    schema: Option<String>,
    writer: Mutex<Writer>,
    readers: Pool<Conn>,
    /// The connection holding this node's name (`ClusterStore::join`).
    claim: Mutex<Option<Conn>>,
}

/// A pooled reader connection, with the count of read-only refusals when it was opened
/// (`error::read_only_refusals`): one opened before the latest refusal may be on a demoted
/// leader, and is dropped instead of reused.
pub(crate) struct Conn {
    client: Client,
    epoch: u64,
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

pub(crate) struct Writer {
    pub(crate) client: Client,
    /// The count of read-only refusals when `client` was opened (see [`Conn`]).
    epoch: u64,
    known_days: HashSet<i32>,
    /// The same for location pings (`ping.rs`).
    pub(crate) known_ping_days: HashSet<i32>,
    /// The node this process joined the cluster as (`ClusterStore::join`): its check-in
    /// batches go to the feed as well.
    pub(crate) node: Option<String>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The config holds the password: show only where the data is.
        f.debug_struct("PgStore")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// Splits our own `schema=NAME` query parameter off a URL (the driver rejects unknown
/// parameters). Returns the URL without it and the schema name, if any.
pub(crate) fn split_schema(url: &str) -> Result<(String, Option<String>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("schema=") {
            Some(name) => schema = Some(name.to_owned()),
            None => rest.push(pair),
        }
    }
    if let Some(name) = &schema {
        let ok = (1..=63).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !ok {
            return Err(StoreError::Target(format!(
                "schema name {name:?} must be lower-case letters, digits and underscores"
            )));
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, schema))
}

/// The URL with any password replaced by `***`, for messages and `Debug`.
pub(crate) fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(start) = url.find("://").map(|i| i + 3) {
        let end = url[start..]
            .find(['/', '?'])
            .map_or(url.len(), |i| start + i);
        if let Some(at) = url[start..end].rfind('@').map(|i| start + i)
            && let Some(colon) = url[start..at].find(':').map(|i| start + i)
        {
            out = format!("{}***{}", &url[..=colon], &url[at..]);
        }
    }
    // Key-value form and `password=` query parameters.
    let sep = |c: char| c == ' ' || c == '&' || c == '?';
    let mut redacted = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("password=") {
        let value_start = i + "password=".len();
        redacted.push_str(&rest[..value_start]);
        redacted.push_str("***");
        let tail = &rest[value_start..];
        rest = tail.find(sep).map_or("", |j| &tail[j..]);
    }
    redacted.push_str(rest);
    redacted
}

impl PgStore {
    /// Connects, creates the schema named by `schema=` if missing, and applies pending
    /// migrations.
    pub fn open(url: &str) -> Result<PgStore> {
        let (url, schema) = split_schema(url)?;
        let mut config = Config::from_str(&url)
            .map_err(|e| StoreError::Target(format!("{} ({e})", redact_url(&url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        let mut client = config.connect(NoTls)?;
        if let Some(s) = &schema {
            client.batch_execute(&format!("create schema if not exists \"{s}\""))?;
        }
        let store_schema = schema.clone();
        configure(&mut client, schema.as_deref())?;
        migrate(&mut client)?;
        let known_days = client
            .query("select day from checkin_days", &[])?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let known_ping_days = client
            .query("select day from ping_days", &[])?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        Ok(PgStore {
            config,
            schema: store_schema,
            writer: Mutex::new(Writer {
                client,
                epoch: read_only_refusals(),
                known_days,
                known_ping_days,
                node: None,
            }),
            readers: Pool::new(4),
            claim: Mutex::new(None),
        })
    }

    fn connect(&self) -> Result<Client> {
        let mut client = self.config.connect(NoTls)?;
        configure(&mut client, self.schema.as_deref())?;
        Ok(client)
    }

    pub(crate) fn write(&self) -> Result<MutexGuard<'_, Writer>> {
        let mut w = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        if w.client.is_closed() || w.epoch != read_only_refusals() {
            // The server restarted or the connection broke, or a write was refused as
            // read-only (a demoted leader that is still alive keeps its connections open):
            // the next write gets a new connection, to whichever host accepts writes now.
            let epoch = read_only_refusals();
            w.client = self.connect()?;
            w.epoch = epoch;
        }
        Ok(w)
    }

    pub(crate) fn read(&self) -> Result<Pooled<'_, Conn>> {
        self.readers.get(
            |c| !c.is_closed() && c.epoch == read_only_refusals(),
            || {
                let epoch = read_only_refusals();
                self.connect().map(|client| Conn { client, epoch })
            },
        )
    }
}

fn configure(client: &mut Client, schema: Option<&str>) -> Result<()> {
    // Commit waits for the WAL flush: an acknowledged write survives a crash. This is the
    // server default; setting it here protects against a database configured otherwise.
    client.batch_execute("set synchronous_commit to on")?;
    if let Some(s) = schema {
        client.batch_execute(&format!("set search_path to \"{s}\""))?;
    }
    Ok(())
}

fn migrate(client: &mut Client) -> Result<()> {
    client.batch_execute(
        "create table if not exists schema_migrations (
            version integer primary key, name text not null, applied_at bigint not null)",
    )?;
    let mut tx = client.transaction()?;
    tx.batch_execute("lock table schema_migrations in exclusive mode")?;
    let applied: HashSet<i32> = tx
        .query("select version from schema_migrations", &[])?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    row::refuse_newer(
        applied.iter().copied().map(i64::from),
        MIGRATIONS.iter().map(|m| i64::from(m.0)),
    )?;
    for (version, name, sql) in MIGRATIONS {
        if !applied.contains(version) {
            tx.batch_execute(sql)?;
            tx.execute(
                "insert into schema_migrations (version, name, applied_at) values ($1, $2, $3)",
                &[version, name, &row::now_secs()],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Appends events to the authority log inside an open transaction (which it locks against
/// every other writer of the log), chained on the stored head.
pub(crate) fn append_events_in(
    tx: &mut impl postgres::GenericClient,
    events: &[NewEvent],
) -> Result<Vec<StoredEvent>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    tx.batch_execute("lock table events in exclusive mode")?;
    let head = tx.query_opt(
        "select seq, hash from events order by seq desc limit 1",
        &[],
    )?;
    let (mut seq, mut prev) = match head {
        Some(r) => {
            let s: i64 = r.try_get(0)?;
            let h: &[u8] = r.try_get(1)?;
            (s.unsigned_abs(), row::array_of::<32>(h, "head hash")?)
        }
        None => (0, GENESIS_HASH),
    };
    let mut stored = Vec::with_capacity(events.len());
    let mut bodies = Vec::with_capacity(events.len());
    for e in events {
        seq += 1;
        let body = e.body.to_json();
        let hash = chain_hash(&prev, EventSeq(seq), e.at, &e.actor, &e.basis, &body);
        stored.push(StoredEvent {
            seq: EventSeq(seq),
            at: e.at,
            actor: e.actor.clone(),
            basis: e.basis.clone(),
            body: e.body.clone(),
            prev_hash: prev,
            hash,
        });
        bodies.push(body);
        prev = hash;
    }
    // Binary `COPY`: a results upload appends tens of thousands of events at once, and
    // `COPY` writes them a page at a time where an `insert` logs each row.
    let mut rows = copy::CopyRows::new(stored.len(), 400);
    for (e, body) in stored.iter().zip(&bodies) {
        rows.row(&[
            &i64::try_from(e.seq.0).unwrap_or(i64::MAX),
            &e.at.0,
            &e.actor.as_str(),
            &e.basis.as_str(),
            &e.body.kind(),
            &e.body.person().map(|p| i64::from(p.get())),
            &body.as_str(),
            &&e.prev_hash[..],
            &&e.hash[..],
        ]);
    }
    rows.send(
        tx,
        &format!("copy events ({EVENT_COLUMNS}) from stdin with (format binary)"),
    )?;
    // Delivered at commit, to the other nodes' followers (docs/nodes.md).
    tx.execute("select pg_notify($1, 'log')", &[&cluster::LOG_CHANNEL])?;
    Ok(stored)
}

/// Drops every table of `tables` for a day before `day` and its registry row, in one
/// transaction; forgets them in `known`. Returns the days dropped.
pub(crate) fn drop_days_before(
    client: &mut postgres::Client,
    known: &mut HashSet<i32>,
    tables: row::DayTables,
    day: CivilDay,
) -> Result<Vec<CivilDay>> {
    let mut tx = client.transaction()?;
    let days: Vec<CivilDay> = tx
        .query(
            &format!(
                "select day from {} where day < $1 order by day for update",
                tables.registry
            ),
            &[&day.0],
        )?
        .iter()
        .map(|r| r.try_get(0).map(CivilDay))
        .collect::<Result<_, _>>()?;
    for d in &days {
        tx.batch_execute(&format!("drop table if exists {}", tables.table(*d)?))?;
    }
    tx.execute(
        &format!("delete from {} where day < $1", tables.registry),
        &[&day.0],
    )?;
    tx.commit()?;
    for d in &days {
        known.remove(&d.0);
    }
    Ok(days)
}

pub(crate) fn is_undefined_table(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNDEFINED_TABLE)
}

/// Streams every row of a family of day tables, oldest day first, to `f` in chunks of
/// [`CHUNK`]; a day that retention drops after it was listed is skipped.
pub(crate) fn for_each_day_row<T>(
    client: &mut Client,
    tables: row::DayTables,
    columns: &str,
    row_of: fn(&Row) -> Result<T>,
    f: &mut dyn FnMut(&[T]),
) -> Result<()> {
    let days: Vec<i32> = client
        .query(
            &format!("select day from {} order by day", tables.registry),
            &[],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut chunk = Vec::with_capacity(CHUNK);
    for day in days {
        let sql = format!("select {columns} from {}", tables.table(CivilDay(day))?);
        let streamed = stream(client, &sql, &[], &mut |r| {
            chunk.push(row_of(r)?);
            if chunk.len() == CHUNK {
                f(&chunk);
                chunk.clear();
            }
            Ok(true)
        });
        match streamed {
            Ok(()) => {}
            Err(StoreError::Postgres(e)) if is_undefined_table(&e) => {}
            Err(e) => return Err(e),
        }
    }
    if !chunk.is_empty() {
        f(&chunk);
    }
    Ok(())
}

/// Streams the rows of `sql` through `f`, `FETCH` rows per round trip, inside a read
/// transaction (portals only live inside one).
pub(crate) fn stream(
    client: &mut Client,
    sql: &str,
    params: &Params<'_>,
    f: &mut dyn FnMut(&Row) -> Result<bool>,
) -> Result<()> {
    let mut tx = client.transaction()?;
    let portal = tx.bind(sql, params)?;
    loop {
        let rows = tx.query_portal(&portal, FETCH)?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            if !f(r)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parameter_is_taken_off_the_url() {
        let (url, schema) =
            split_schema("postgres://u@h/db?schema=xk_test_1&sslmode=disable").unwrap();
        assert_eq!(url, "postgres://u@h/db?sslmode=disable");
        assert_eq!(schema.as_deref(), Some("xk_test_1"));
        let (url, schema) = split_schema("postgres://u@h/db?schema=abc").unwrap();
        assert_eq!(
            (url.as_str(), schema.as_deref()),
            ("postgres://u@h/db", Some("abc"))
        );
        assert_eq!(split_schema("postgres://u@h/db").unwrap().1, None);
    }

    #[test]
    fn a_schema_name_that_could_inject_sql_is_refused() {
        for bad in ["x\";drop table people;--", "Upper", "1abc", ""] {
            let err = split_schema(&format!("postgres://h/db?schema={bad}")).unwrap_err();
            assert_eq!(err.code(), "invalid_store_target", "{bad}");
        }
    }

    #[test]
    fn passwords_are_redacted_in_every_url_form() {
        assert_eq!(
            redact_url("postgres://alice:pw@h:5432/db"),
            "postgres://alice:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://alice@h/db"), "postgres://alice@h/db");
        assert_eq!(
            redact_url("postgres://h/db?user=a&password=pw&x=1"),
            "postgres://h/db?user=a&password=***&x=1"
        );
        assert_eq!(
            redact_url("host=h password=pw dbname=d"),
            "host=h password=*** dbname=d"
        );
    }
}
