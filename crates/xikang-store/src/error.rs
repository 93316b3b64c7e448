//! The one error type of the store. Which variant to use:
//!
//! - a database driver failed (I/O, syntax, lost connection): `Sqlite` / `Postgres`, built
//!   by `?` through the `From` impls below, which also turn unique-constraint violations into
//!   `Conflict` so callers can answer 409/422 without matching driver errors;
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
    /// A unique key is already taken; the string names the constraint.
    #[error("conflict: {0}")]
    Conflict(String),
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

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) {
            // SQLite's message names the table and columns ("UNIQUE constraint failed:
            // people.id_hash"), never the values.
            return StoreError::Conflict(e.to_string());
        }
        StoreError::Sqlite(e)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if let Some(db) = e.as_db_error()
            && *db.code() == postgres::error::SqlState::UNIQUE_VIOLATION
        {
            let name = db.constraint().unwrap_or("unique constraint").to_owned();
            return StoreError::Conflict(name);
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
