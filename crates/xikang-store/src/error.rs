//! The one error type of the store. Which variant to use:
//!
//! - a database driver failed (I/O, syntax, lost connection): `Sqlite` / `Postgres`, built
//!   by `?` through the `From` impls below, which also turn unique-constraint violations into
//!   `Conflict(ConflictKind::Duplicate)` so callers can answer 409 without matching driver
//!   errors;
//! - the stored state refuses a write (a full site, a task already done, …):
//!   `Conflict(kind)` with one [`ConflictKind`] per refusal, so callers match a variant, never
//!   a string;
//! - a stored value does not parse back into a domain type: `Corrupt` (never a panic);
//! - the command line named a store that cannot be opened as given: `Target`;
//! - the database was migrated by a newer xikang: `Migration`.
//!
//! Messages never carry stored values: PostgreSQL's `DETAIL` (which quotes the conflicting
//! key) is left out on purpose.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("sqlite: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// PostgreSQL reported an error (message without the `DETAIL` part).
    #[error("postgres: {}", pg_message(.0))]
    Postgres(#[source] postgres::Error),
    /// The data directory could not be created or read.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A stored row does not parse back into a domain value.
    #[error("corrupt data in the store: {0}")]
    Corrupt(String),
    /// The thing asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The stored state refuses the write; nothing was changed.
    #[error("conflict: {0}")]
    Conflict(ConflictKind),
    /// The store target (data directory or database URL) is not usable as given.
    #[error("invalid store target: {0}")]
    Target(String),
    /// The database schema cannot be brought to the version this build expects.
    #[error("migration: {0}")]
    Migration(String),
}

impl StoreError {
    /// Stable machine-readable code, for logs and the API error envelope.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Sqlite(_) => "store_sqlite",
            StoreError::Postgres(_) => "store_postgres",
            StoreError::Io(_) => "store_io",
            StoreError::Corrupt(_) => "store_corrupt",
            StoreError::NotFound => "not_found",
            StoreError::Conflict(_) => "conflict",
            StoreError::Target(_) => "invalid_store_target",
            StoreError::Migration(_) => "store_migration",
        }
    }
}

/// Why the stored state refused a write. Each business refusal of the store has its own
/// variant; a unique key taken in either database is [`ConflictKind::Duplicate`]. No variant
/// carries a stored value (an ID number, a name): only what kind of refusal it was and, for
/// a duplicate, which constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConflictKind {
    /// An admission or transfer to a quarantine site with no free place.
    SiteFull,
    /// A change to a quarantine order that has already ended.
    OrderNotActive,
    /// A transfer to the site the person is already at.
    SameSite,
    /// A grid task completed a second time.
    TaskDone,
    /// A zone lifted that is not (or no longer) in force.
    ZoneNotActive,
    /// A second open proposal for a zone.
    ProposalOpen,
    /// A proposal decided a second time.
    ProposalDecided,
    /// An arrival marked as arrived a second time.
    AlreadyArrived,
    /// A lab write moves a tube on (sealed, shipped, …) that was never opened in the store:
    /// the caller's view of the lab disagrees with what is stored (e.g. another process
    /// wrote to the same database).
    TubeNeverOpened,
    /// The lab changed under the plan of this write: another node wrote to the lab after
    /// this node planned it (docs/nodes.md), or a lab write queued before it failed, so
    /// the index it was planned on held a change the store refused (docs/testing.md,
    /// "Pipelined lab writes"). Nothing was written; the index catches up and the caller
    /// retries.
    LabChanged,
    /// A unique key is already taken. `constraint` names the constraint (PostgreSQL) or the
    /// table and columns (SQLite, `people.id_hash`), never the values.
    Duplicate { constraint: String },
}

impl ConflictKind {
    /// The stable code the API reports (`{"error": {"code": …}}`). A duplicate key and a
    /// tube never opened are both `conflict`, as the API has always reported them.
    pub fn code(&self) -> &'static str {
        match self {
            ConflictKind::SiteFull => "site_full",
            ConflictKind::OrderNotActive => "order_not_active",
            ConflictKind::SameSite => "same_site",
            ConflictKind::TaskDone => "task_done",
            ConflictKind::ZoneNotActive => "zone_not_active",
            ConflictKind::ProposalOpen => "proposal_open",
            ConflictKind::ProposalDecided => "proposal_decided",
            ConflictKind::AlreadyArrived => "already_arrived",
            ConflictKind::LabChanged => "lab_changed",
            ConflictKind::TubeNeverOpened | ConflictKind::Duplicate { .. } => "conflict",
        }
    }

    /// What to tell the caller, in a sentence (no stored values, no constraint names).
    pub fn message(&self) -> &'static str {
        match self {
            ConflictKind::SiteFull => "the site is full",
            ConflictKind::OrderNotActive => "the order is no longer active",
            ConflictKind::SameSite => "the person is already at that site",
            ConflictKind::TaskDone => "the task was already completed",
            ConflictKind::ZoneNotActive => "the zone was already lifted",
            ConflictKind::ProposalOpen => "the zone already has an open proposal; decide it first",
            ConflictKind::ProposalDecided => "the proposal was already decided",
            ConflictKind::AlreadyArrived => "the arrival was already recorded",
            ConflictKind::LabChanged => {
                "the lab changed meanwhile (another node's write, or an earlier write that failed); nothing was recorded: retry"
            }
            ConflictKind::TubeNeverOpened => {
                "the store refused the write (a tube moved on was never opened); nothing was recorded"
            }
            ConflictKind::Duplicate { .. } => {
                "this conflicts with a record already stored; nothing was changed"
            }
        }
    }
}

/// For logs: the code, and for a duplicate the constraint it hit.
impl std::fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConflictKind::Duplicate { constraint } => write!(f, "duplicate key ({constraint})"),
            ConflictKind::TubeNeverOpened => f.write_str("tube_never_opened"),
            other => f.write_str(other.code()),
        }
    }
}

impl From<ConflictKind> for StoreError {
    fn from(kind: ConflictKind) -> Self {
        StoreError::Conflict(kind)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, msg) = &e
            && matches!(
                f.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            )
        {
            // SQLite's message names the table and columns ("UNIQUE constraint failed:
            // people.id_hash"), never the values.
            let constraint = msg
                .as_deref()
                .and_then(|m| m.split_once(": "))
                .map_or("unique constraint", |(_, c)| c)
                .to_owned();
            return StoreError::Conflict(ConflictKind::Duplicate { constraint });
        }
        StoreError::Sqlite(e)
    }
}

/// How many writes this process has had refused by a read-only server (SQLSTATE 25006,
/// `read_only_sql_transaction`): a leader demoted while alive, or a session left read-only.
/// Every PostgreSQL connection opened before the latest refusal is suspect (it may be on
/// the demoted server) and is dropped at its next use (`pg/mod.rs`), so the next write
/// reconnects through the URL's `target_session_attrs=read-write`. Counted process-wide
/// because the error is built by `?` far from its connection; the cost of that breadth is
/// one reconnect of the other stores' connections, which is harmless.
static READ_ONLY_REFUSALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The number of read-only refusals so far (see [`READ_ONLY_REFUSALS`]).
pub(crate) fn read_only_refusals() -> u64 {
    READ_ONLY_REFUSALS.load(std::sync::atomic::Ordering::Acquire)
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if e.code() == Some(&postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION) {
            READ_ONLY_REFUSALS.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        if let Some(db) = e.as_db_error()
            && *db.code() == postgres::error::SqlState::UNIQUE_VIOLATION
        {
            let constraint = db.constraint().unwrap_or("unique constraint").to_owned();
            return StoreError::Conflict(ConflictKind::Duplicate { constraint });
        }
        StoreError::Postgres(e)
    }
}

/// A PostgreSQL error as text without `DETAIL`/`HINT`, which can quote stored values.
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_the_code_the_api_has_always_reported() {
        let duplicate = ConflictKind::Duplicate {
            constraint: "people.id_hash".into(),
        };
        let table = [
            (ConflictKind::SiteFull, "site_full"),
            (ConflictKind::OrderNotActive, "order_not_active"),
            (ConflictKind::SameSite, "same_site"),
            (ConflictKind::TaskDone, "task_done"),
            (ConflictKind::ZoneNotActive, "zone_not_active"),
            (ConflictKind::ProposalOpen, "proposal_open"),
            (ConflictKind::ProposalDecided, "proposal_decided"),
            (ConflictKind::AlreadyArrived, "already_arrived"),
            (ConflictKind::LabChanged, "lab_changed"),
            (ConflictKind::TubeNeverOpened, "conflict"),
            (duplicate.clone(), "conflict"),
        ];
        for (kind, code) in table {
            assert_eq!(kind.code(), code, "{kind:?}");
            assert!(!kind.message().is_empty());
            assert_eq!(StoreError::from(kind).code(), "conflict");
        }
        // The constraint is for logs, never for the caller.
        assert_eq!(duplicate.to_string(), "duplicate key (people.id_hash)");
        assert!(!duplicate.message().contains("people"));
    }

    #[test]
    fn a_sqlite_unique_violation_is_a_duplicate_naming_its_columns() {
        let conn = rusqlite::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        let run = |sql: &str| conn.execute_batch(sql).map_err(StoreError::from);
        run("create table t (k text primary key, u text unique, n text not null)")
            .unwrap_or_else(|e| panic!("{e}"));
        run("insert into t values ('a', 'x', '1')").unwrap_or_else(|e| panic!("{e}"));
        let err = run("insert into t values ('b', 'x', '1')").err();
        assert!(
            matches!(&err, Some(StoreError::Conflict(ConflictKind::Duplicate { constraint })) if constraint == "t.u"),
            "{err:?}"
        );
        let err = run("insert into t values ('a', 'y', '1')").err();
        assert!(
            matches!(&err, Some(StoreError::Conflict(ConflictKind::Duplicate { constraint })) if constraint == "t.k"),
            "{err:?}"
        );
        // A missing value is a bug of ours, not the caller's conflict.
        let err = run("insert into t values ('c', 'z', null)").err();
        assert!(matches!(err, Some(StoreError::Sqlite(_))), "{err:?}");
    }
}
