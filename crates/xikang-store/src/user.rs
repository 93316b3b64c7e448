//! Web users and their sessions: the [`UserStore`] half of [`crate::Store`]. A user has a
//! name, an argon2 password hash (a PHC string, made and checked by the server: the store
//! never sees a password), one role and one jurisdiction, like an API token. A session is
//! stored under the SHA-256 of its cookie value, so a copy of the database cannot be used to
//! log in.

use crate::error::{Result, StoreError};
use crate::row::{area_of, subject_of};
use std::fmt;
use xikang_domain::{AreaCode, PersonId, Timestamp, VenueId};

/// A person who logs in to the web pages. `Debug` hides the password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Login name, unique.
    pub name: String,
    /// Argon2 PHC string (`$argon2id$v=19$m=…`).
    pub password_hash: String,
    /// Role name as the server defines it (`admin`, `tracer`, …).
    pub role: String,
    /// The area the user may act in.
    pub area: AreaCode,
    /// For a venue user: the venue they scan for.
    pub venue: Option<VenueId>,
    /// For a resident: the person they are.
    pub person: Option<PersonId>,
    /// Whether the user may look people up by ID number.
    pub id_lookup: bool,
    /// For an enterprise's account, the unified social credit code it stands for.
    pub enterprise: Option<String>,
    /// A disabled user cannot log in and their sessions stop working.
    pub disabled: bool,
    pub created_at: Timestamp,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .field("role", &self.role)
            .field("area", &self.area)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A logged-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Users and sessions. Both backends implement it with the same behaviour (the conformance
/// suite checks).
pub trait UserStore {
    /// Adds a user; [`StoreError::Conflict`] with [`crate::ConflictKind::Duplicate`] if the
    /// name is taken.
    fn insert_user(&self, user: &User) -> Result<()>;
    /// One user by name.
    fn user(&self, name: &str) -> Result<Option<User>>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<User>>;
    /// Replaces a user's password hash; [`StoreError::NotFound`] for an unknown user.
    fn set_password_hash(&self, name: &str, password_hash: &str) -> Result<()>;
    /// Disables or re-enables a user; disabling also ends their sessions.
    /// [`StoreError::NotFound`] for an unknown user.
    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<()>;
    /// Stores a new session under the SHA-256 of its cookie value.
    fn insert_session(&self, session_sha256: [u8; 32], session: &Session) -> Result<()>;
    /// The session stored under this SHA-256, if it has not expired at `now`.
    fn session(&self, session_sha256: &[u8; 32], now: Timestamp) -> Result<Option<Session>>;
    /// Ends a session (logout). Ending an unknown session is not an error.
    fn delete_session(&self, session_sha256: &[u8; 32]) -> Result<()>;
    /// Deletes sessions that expired before `now`; returns how many.
    fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64>;
}

/// A user as stored.
pub(crate) struct UserRow {
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub area: String,
    pub venue: Option<i64>,
    pub person: Option<i64>,
    pub id_lookup: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub enterprise: Option<String>,
}

/// The columns of [`UserRow`], in order.
pub(crate) const USER_COLUMNS: &str =
    "name, password_hash, role, area, venue, person, id_lookup, disabled, created_at, enterprise";

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User> {
        let (venue, person) = subject_of(self.venue, self.person)?;
        Ok(User {
            name: self.name,
            password_hash: self.password_hash,
            role: self.role,
            area: area_of(&self.area)?,
            venue,
            person,
            id_lookup: self.id_lookup,
            enterprise: self.enterprise,
            disabled: self.disabled,
            created_at: Timestamp(self.created_at),
        })
    }
}

/// `NotFound` when an update changed no row.
pub(crate) fn changed_one(n: u64) -> Result<()> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
