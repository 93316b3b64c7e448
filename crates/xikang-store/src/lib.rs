//! Storage for xikang: the [`Store`] trait and its two implementations, SQLite in a data
//! directory (the embedded default) and PostgreSQL (`--database-url`). Each dialect has its
//! own migrations, embedded in the binary and applied at [`open`]. The store owns three
//! kinds of data:
//!
//! - reference data (people, workplaces, venues, API tokens and their revocation:
//!   [`CredentialStore`], signing keys, settings, web users and sessions: [`UserStore`]);
//! - the access log ([`CredentialStore`]): who read whose personal data, ids only;
//! - policy versions ([`PolicyStore`]): every policy file's text and its activation;
//! - self-service claims ([`ClaimStore`]): one-time codes as keyed hashes, attempts, expiry;
//! - several nodes on one database ([`ClusterStore`]): leases, the log listener, the
//!   check-in feed;
//! - the authority log: append-only events chained by hash ([`xikang_domain::event`]);
//! - check-ins: high-volume scans, one table per Asia/Shanghai day, dropped whole when they
//!   pass the retention period;
//! - location pings ([`PingStore`]): phones' positions for the companion rule, kept like
//!   check-ins in day tables of their own.
//!
//! The API is synchronous on purpose: the async server calls it from blocking threads, and
//! both drivers used here block. See `docs/storage.md` for the schema and durability choices.

mod claim;
mod cluster;
mod credential;
mod duties;
mod error;
mod lab;
mod pg;
mod ping;
mod policy;
mod pool;
mod register;
mod row;
mod sqlite;
mod user;

pub use claim::{ClaimState, ClaimStore, StoredClaim};
pub use cluster::{Change, ClusterStore, FeedBatch, LogListener, Note, NoteKind};
pub use credential::{AccessFilter, AccessRecord, CredentialStore, StoredAccess};
pub use duties::{
    ArrivalRecord, DutyOp, DutyStore, GridCellRecord, NewTask, OrderFilter, OrderRecord,
    OrderStatus, OriginRecord, ProposalAction, ProposalRecord, ProposalStatus, ReportRecord,
    SentinelRecord, SiteRecord, TaskRecord, ZoneRecord,
};
pub use error::{ConflictKind, Result, StoreError};
pub use lab::{LabStore, LabWrite, PersonBirth};
pub use pg::PgStore;
pub use ping::PingStore;
pub use policy::{PolicyStore, StoredPolicy};
pub use register::{PlacedResident, RegisterRow, RegisterStore, RegisterWrite};
pub use sqlite::SqliteStore;
pub use user::{Session, User, UserStore};

use std::fmt;
use std::path::{Path, PathBuf};
use xikang_domain::event::{ChainError, NewEvent, StoredEvent};
use xikang_domain::{
    AreaCode, CheckIn, CivilDay, EventSeq, GridCell, HouseholdId, Person, PersonId, Timestamp,
    TokenId, Venue, VenueId, Workplace, WorkplaceId,
};

/// The columns of a person the in-memory projection needs, without personal data other than
/// the keyed hash of the ID number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonBrief {
    pub id: PersonId,
    pub household: HouseholdId,
    pub workplace: Option<WorkplaceId>,
    pub area: AreaCode,
    pub home_cell: GridCell,
    pub id_hash: [u8; 16],
}

/// What an API token allows: stored under the SHA-256 of the token, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Who holds it (a user or device name).
    pub name: String,
    /// The role name as the server defines it (`tracer`, `venue`, …).
    pub role: String,
    /// The area the holder may act in.
    pub area: AreaCode,
    /// For a venue device, the venue it scans for.
    pub venue: Option<VenueId>,
    /// For a resident, the person they are.
    pub person: Option<PersonId>,
    /// Whether the holder may look people up by ID number.
    pub id_lookup: bool,
    /// For an enterprise's account, the unified social credit code it stands for.
    pub enterprise: Option<String>,
    /// When it was issued.
    pub created_at: Timestamp,
    /// The first instant at which it no longer works.
    pub expires_at: Timestamp,
}

/// A stored API token: its row id, what it allows, and whether it was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// The row's id, by which it is listed and revoked (never the secret).
    pub id: TokenId,
    /// What it allows.
    pub token: ApiToken,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// A health-code signing key as stored. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The Ed25519 secret key bytes.
    pub secret: [u8; 32],
    /// The jurisdiction (issuer) the key signs for.
    pub jurisdiction: String,
    /// First instant the key may sign.
    pub not_before: Timestamp,
    /// Last instant the key may sign.
    pub not_after: Timestamp,
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("secret", &"<redacted>")
            .field("jurisdiction", &self.jurisdiction)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish()
    }
}

/// The result of walking the authority log.
/// The reader pool of a store, for the metrics (`GET /metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections waiting in the pool.
    pub idle: usize,
    /// Connections lent out now.
    pub in_use: usize,
    /// Connections opened since start.
    pub opened: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// How many events verified, from the first, before the first error (or all of them).
    pub verified: u64,
    /// The hash of the last verified event ([`xikang_domain::event::GENESIS_HASH`] if none).
    pub head: [u8; 32],
    /// The first broken link, if any.
    pub first_error: Option<ChainError>,
}

impl ChainReport {
    /// Whether the whole chain verified.
    pub fn is_ok(&self) -> bool {
        self.first_error.is_none()
    }
}

/// Everything xikang keeps. Both backends implement it with the same behaviour, which the
/// conformance suite (`tests/conformance.rs`) checks.
///
/// Callbacks passed to the `for_each_*` methods run while a read is open: they must not
/// call back into the same store for writes they wait on (reads are fine).
pub trait Store:
    LabStore
    + DutyStore
    + PingStore
    + RegisterStore
    + UserStore
    + CredentialStore
    + PolicyStore
    + ClaimStore
    + ClusterStore
    + Send
    + Sync
    + fmt::Debug
{
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// The reader pool's connections (zeros for a store without one).
    fn pool_stats(&self) -> PoolStats {
        PoolStats::default()
    }

    /// A server setting (e.g. the ID-hash key). Values may be secret: never print them.
    fn setting(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Sets (or replaces) a server setting.
    fn put_setting(&self, key: &str, value: &[u8]) -> Result<()>;

    /// Inserts people with the keyed hash of their ID number (computed by the caller with
    /// `IdNumber::keyed_hash`). Atomic: a duplicate id or hash fails the whole batch with
    /// [`StoreError::Conflict`].
    fn insert_people(&self, people: &[(Person, [u8; 16])]) -> Result<()>;
    /// Inserts workplaces (atomic, like [`Store::insert_people`]).
    fn insert_workplaces(&self, w: &[Workplace]) -> Result<()>;
    /// Inserts venues (atomic, like [`Store::insert_people`]).
    fn insert_venues(&self, v: &[Venue]) -> Result<()>;
    /// One person.
    fn person(&self, id: PersonId) -> Result<Option<Person>>;
    /// The person whose ID number has this keyed hash.
    fn person_by_id_hash(&self, h: &[u8; 16]) -> Result<Option<PersonId>>;
    /// People living in `area` (or any area inside it), ordered by id, starting after
    /// `after` (keyset pagination), at most `limit`.
    fn list_people(
        &self,
        area: &AreaCode,
        after: Option<PersonId>,
        limit: u32,
    ) -> Result<Vec<Person>>;
    /// Streams every person's brief, in id order, without collecting them.
    fn for_each_person_brief(&self, f: &mut dyn FnMut(PersonBrief)) -> Result<()>;
    /// How many people are stored.
    fn count_people(&self) -> Result<u64>;
    /// One venue.
    fn venue(&self, id: VenueId) -> Result<Option<Venue>>;
    /// Every venue, in id order.
    fn all_venues(&self) -> Result<Vec<Venue>>;
    /// One workplace.
    fn workplace(&self, id: WorkplaceId) -> Result<Option<Workplace>>;
    /// Every workplace, by id.
    fn all_workplaces(&self) -> Result<Vec<Workplace>>;

    /// Appends events to the authority log atomically. Appends are serialized (also across
    /// processes sharing the database): sequence numbers continue from the head and each
    /// hash chains on the one before. Returns the events as stored.
    fn append_events(&self, events: &[NewEvent]) -> Result<Vec<StoredEvent>>;
    /// Up to `limit` events with a sequence number above `after` (use `EventSeq(0)` for the
    /// start), in order.
    fn events_after(&self, after: EventSeq, limit: u32) -> Result<Vec<StoredEvent>>;
    /// Streams the whole log in order (for rebuilding projections at start).
    fn for_each_event(&self, f: &mut dyn FnMut(StoredEvent)) -> Result<()>;
    /// Every event that concerns one person, in order.
    fn events_of_person(&self, person: PersonId) -> Result<Vec<StoredEvent>>;
    /// Walks the stored columns through the chain verifier and stops at the first error.
    /// A broken chain is a report, not an `Err`: `Err` means the walk itself failed.
    fn verify_chain(&self) -> Result<ChainReport>;

    /// Appends check-ins, each to the table of its Asia/Shanghai day. Durable when the call
    /// returns. A repeat of the same (venue, second, person, direction), e.g. a device
    /// re-sending its queue, is stored again (the append path checks no unique key) and
    /// reported once by every read.
    fn insert_checkins(&self, batch: &[CheckIn]) -> Result<()>;
    /// A person's check-ins with `from <= at <= to`, ordered by time, each once. Scans the
    /// day tables in range on SQLite: the server answers these from its tracing index.
    fn checkins_of_person(
        &self,
        person: PersonId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CheckIn>>;
    /// A venue's check-ins with `from <= at <= to`, ordered by time then person, each once.
    fn checkins_at_venue(
        &self,
        venue: VenueId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CheckIn>>;
    /// The days that hold check-ins and how many rows each holds (repeats included), oldest
    /// first.
    fn checkin_days(&self) -> Result<Vec<(CivilDay, u64)>>;
    /// Drops every day strictly before `day`, whole table by whole table. Returns the days
    /// dropped, oldest first.
    fn drop_checkin_days_before(&self, day: CivilDay) -> Result<Vec<CivilDay>>;
    /// Streams every stored row in chunks, day by day (oldest first), repeats included; the
    /// order within a day is unspecified.
    fn for_each_checkin(&self, f: &mut dyn FnMut(&[CheckIn])) -> Result<()>;

    /// Stores an API token under the SHA-256 of its secret value and answers its id. Storing
    /// the same secret again replaces what it allows and its expiry, keeps its id, and never
    /// lifts a revocation.
    fn put_api_token(&self, token_sha256: [u8; 32], token: &ApiToken) -> Result<TokenId>;
    /// The token stored under this SHA-256, revoked or expired ones included (the caller
    /// decides, against its clock).
    fn api_token(&self, token_sha256: &[u8; 32]) -> Result<Option<StoredToken>>;

    /// Stores (or replaces) a signing key under its key id.
    fn put_signing_key(&self, kid: [u8; 8], key: &StoredKey) -> Result<()>;
    /// Every signing key, ordered by `not_before`.
    fn signing_keys(&self) -> Result<Vec<([u8; 8], StoredKey)>>;

    /// Runs raw SQL on the writer connection and returns the number of rows changed. Only
    /// for tests that must tamper with stored rows (to prove tampering is caught).
    #[doc(hidden)]
    fn execute_raw_for_tests(&self, sql: &str) -> Result<u64>;
}

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A data directory; the database file is `DIR/xikang.db`, created if missing.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://…`). An optional `schema=NAME` query parameter (or the
    /// standard `options=-csearch_path%3DNAME`) selects the schema.
    Postgres(String),
}

/// The data directory used when neither `--data` nor `--database-url` is given.
pub const DEFAULT_DATA_DIR: &str = "xikang-data";

impl Target {
    /// Chooses the backend from the command-line flags: a database URL wins (a `sqlite://DIR`
    /// URL means SQLite in `DIR`), otherwise the data directory, otherwise
    /// [`DEFAULT_DATA_DIR`].
    pub fn from_args(data_dir: Option<&Path>, database_url: Option<&str>) -> Target {
        match database_url {
            Some(url) => match url.strip_prefix("sqlite://") {
                Some(dir) => Target::Sqlite(PathBuf::from(dir)),
                None => Target::Postgres(url.to_owned()),
            },
            None => Target::Sqlite(
                data_dir.map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), Path::to_path_buf),
            ),
        }
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Target::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&pg::redact_url(url))
                .finish(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Sqlite(p) => write!(f, "sqlite in {}", p.display()),
            Target::Postgres(url) => write!(f, "postgres at {}", pg::redact_url(url)),
        }
    }
}

/// Whether a store already exists at `target`: for a data directory, its database file
/// (a mistyped `--data` is a directory without one). A PostgreSQL database is named by its
/// URL and refuses a connection when it does not exist, so it counts as existing.
pub fn exists(target: &Target) -> bool {
    match target {
        Target::Sqlite(dir) => dir.join(sqlite::DB_FILE).is_file(),
        Target::Postgres(_) => true,
    }
}

/// Opens the store and applies any pending migrations.
pub fn open(target: &Target) -> Result<Box<dyn Store>> {
    Ok(match target {
        Target::Sqlite(dir) => Box::new(SqliteStore::open(dir)?),
        Target::Postgres(url) => Box::new(PgStore::open(url)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_wins_over_the_data_directory() {
        let t = Target::from_args(Some(Path::new("/d")), Some("postgres://u@h/db"));
        assert_eq!(t, Target::Postgres("postgres://u@h/db".into()));
        let t = Target::from_args(Some(Path::new("/d")), None);
        assert_eq!(t, Target::Sqlite("/d".into()));
        let t = Target::from_args(None, Some("sqlite:///var/x"));
        assert_eq!(t, Target::Sqlite("/var/x".into()));
        assert_eq!(
            Target::from_args(None, None),
            Target::Sqlite(DEFAULT_DATA_DIR.into())
        );
    }

    #[test]
    fn target_debug_does_not_print_the_password() {
        let t = Target::Postgres("postgres://alice:s3cret@db.example:5432/x".into());
        let shown = format!("{t:?} {t}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.example"), "{shown}");
    }

    #[test]
    fn stored_key_debug_hides_the_secret() {
        let k = StoredKey {
            secret: [0xAB; 32],
            jurisdiction: "320200".into(),
            not_before: Timestamp(0),
            not_after: Timestamp(1),
        };
        let shown = format!("{k:?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(!shown.to_lowercase().contains("abab"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
