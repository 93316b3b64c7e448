//! Self-service claims (申领, docs/claim.md): the [`ClaimStore`] half of [`crate::Store`].
//! A claim holds keyed hashes only (of the ID number, the phone and the one-time code), the
//! person it matched (none when the details matched nobody: such a claim is kept alike so
//! that nothing outside can tell the two apart), its expiry and its attempts. What a claim
//! means is the server's business; the store keeps rows.

use crate::error::Result;
use xikang_domain::{PersonId, Timestamp};

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimState {
    /// Waiting for its code.
    Open,
    /// Finished: a token was issued.
    Done,
    /// Too many wrong codes: it can no longer be finished.
    Dead,
}

impl ClaimState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimState::Open => "open",
            ClaimState::Done => "done",
            ClaimState::Dead => "dead",
        }
    }

    /// The stored name read back; an unknown one is a dead claim (fail closed).
    pub fn parse(s: &str) -> ClaimState {
        match s {
            "open" => ClaimState::Open,
            "done" => ClaimState::Done,
            _ => ClaimState::Dead,
        }
    }
}

/// One claim. `Debug` shows no hash.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredClaim {
    pub id: u64,
    /// The person the details matched, if any.
    pub person: Option<PersonId>,
    pub id_hash: [u8; 16],
    pub phone_hash: [u8; 16],
    pub code_hash: [u8; 16],
    /// The keyed hash of the claim id's secret half (only its starter may try codes).
    pub secret_hash: [u8; 16],
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Wrong codes tried so far.
    pub attempts: u32,
    pub state: ClaimState,
}

impl std::fmt::Debug for StoredClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredClaim")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Claims. Both backends implement it with the same behaviour (the conformance suite
/// checks).
pub trait ClaimStore {
    /// Stores a new claim (its `id` is ignored) and answers its id.
    fn insert_claim(&self, c: &StoredClaim) -> Result<u64>;
    /// One claim.
    fn claim(&self, id: u64) -> Result<Option<StoredClaim>>;
    /// Sets a claim's attempts and state, only if it is still open: whether it was (a
    /// second finish of the same claim, even at the same instant, changes nothing).
    fn update_claim(&self, id: u64, attempts: u32, state: ClaimState) -> Result<bool>;
    /// How many claims were started since `since` for this ID-number hash or this phone
    /// hash (the rate limit).
    fn claims_since(
        &self,
        id_hash: &[u8; 16],
        phone_hash: &[u8; 16],
        since: Timestamp,
    ) -> Result<u32>;
}

pub(crate) fn hash16(v: Vec<u8>) -> Result<[u8; 16]> {
    v.try_into()
        .map_err(|_| crate::StoreError::Corrupt("a stored claim hash is not 16 bytes".into()))
}
