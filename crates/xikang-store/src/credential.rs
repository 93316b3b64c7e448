//! API tokens' lifecycle and the access log: the [`CredentialStore`] half of
//! [`crate::Store`]. A token is stored under the SHA-256 of its secret (issued and looked up
//! through [`crate::Store::put_api_token`] and [`crate::Store::api_token`]); here it is
//! listed and revoked by its row id, never by its secret. The access log records who read
//! whose personal data: ids, the route, the purpose and the time, nothing more.

use crate::error::Result;
use crate::row::{area_of, subject_of, u32_of};
use crate::{ApiToken, StoredToken};
use xikang_domain::{PersonId, Timestamp, TokenId};

/// One read of one person's data, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    /// When it was read.
    pub at: Timestamp,
    /// Who read it, as authority events name actors (`tracer:wang`).
    pub actor: String,
    /// The route template it was read through (`GET /api/v1/people/{id}`).
    pub route: String,
    /// The purpose the reader gave, if the route asks for one (an unmasked read).
    pub purpose: Option<String>,
    /// Whose data was read.
    pub person: PersonId,
}

/// A recorded read with its id (ascending in the order recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccess {
    pub id: u64,
    pub record: AccessRecord,
}

/// Which recorded reads to answer: those after an id, optionally of one actor and/or one
/// person, at most `limit`, in id order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessFilter {
    pub after: u64,
    pub actor: Option<String>,
    pub person: Option<PersonId>,
    pub limit: u32,
}

/// Token listing and revocation, and the access log. Both backends implement it with the
/// same behaviour (the conformance suite checks).
pub trait CredentialStore {
    /// Every stored token (revoked and expired ones too), by id.
    fn api_tokens(&self) -> Result<Vec<StoredToken>>;
    /// One token by its id.
    fn api_token_by_id(&self, id: TokenId) -> Result<Option<StoredToken>>;
    /// Revokes a token at `at`; revoking it again keeps the first time.
    /// [`crate::StoreError::NotFound`] for an unknown id.
    fn revoke_api_token(&self, id: TokenId, at: Timestamp) -> Result<()>;
    /// Records reads of personal data, all in one transaction.
    fn insert_access(&self, reads: &[AccessRecord]) -> Result<()>;
    /// Recorded reads matching `filter`.
    fn access_log(&self, filter: &AccessFilter) -> Result<Vec<StoredAccess>>;
}

/// The columns of a token, in the order [`TokenRow`] reads them.
pub(crate) const TOKEN_COLUMNS: &str = "id, name, role, area, venue, person, id_lookup, created_at, expires_at, revoked_at, enterprise";

/// The columns of an access row, in the order [`AccessRow`] reads them.
pub(crate) const ACCESS_COLUMNS: &str = "id, at, actor, route, purpose, person";

/// A token as stored.
pub(crate) struct TokenRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub area: String,
    pub venue: Option<i64>,
    pub person: Option<i64>,
    pub id_lookup: bool,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub enterprise: Option<String>,
}

impl TokenRow {
    pub(crate) fn into_token(self) -> Result<StoredToken> {
        let (venue, person) = subject_of(self.venue, self.person)?;
        Ok(StoredToken {
            id: TokenId(u64::try_from(self.id).map_err(|_| corrupt("token id"))?),
            token: ApiToken {
                name: self.name,
                role: self.role,
                area: area_of(&self.area)?,
                venue,
                person,
                id_lookup: self.id_lookup,
                enterprise: self.enterprise,
                created_at: Timestamp(self.created_at),
                expires_at: Timestamp(self.expires_at),
            },
            revoked_at: self.revoked_at.map(Timestamp),
        })
    }
}

/// An access row as stored.
pub(crate) struct AccessRow {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub route: String,
    pub purpose: Option<String>,
    pub person: i64,
}

impl AccessRow {
    pub(crate) fn into_access(self) -> Result<StoredAccess> {
        Ok(StoredAccess {
            id: u64::try_from(self.id).map_err(|_| corrupt("access id"))?,
            record: AccessRecord {
                at: Timestamp(self.at),
                actor: self.actor,
                route: self.route,
                purpose: self.purpose,
                person: PersonId(u32_of(self.person, "person id")?),
            },
        })
    }
}

fn corrupt(what: &str) -> crate::StoreError {
    crate::StoreError::Corrupt(format!("{what} out of range"))
}

/// The SQL of an access query, with placeholders `{p}1`… in this order: after, the actor
/// (if filtered), the person (if filtered), the limit.
pub(crate) fn access_query(filter: &AccessFilter, p: char) -> String {
    let mut sql = format!("select {ACCESS_COLUMNS} from access_log where id > {p}1");
    let mut n = 1;
    if filter.actor.is_some() {
        n += 1;
        sql.push_str(&format!(" and actor = {p}{n}"));
    }
    if filter.person.is_some() {
        n += 1;
        sql.push_str(&format!(" and person = {p}{n}"));
    }
    n += 1;
    sql.push_str(&format!(" order by id limit {p}{n}"));
    sql
}
