//! Policy versions: the [`PolicyStore`] half of [`crate::Store`]. Every policy file the server
//! uploaded or loaded at start is kept whole (its text, not only its hash), with its
//! proposal, approval and the period it was in force. What a version means is the server's
//! business; the store keeps rows.

use crate::error::Result;
use xikang_domain::Timestamp;

/// One stored policy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    /// The file's `version`, unique.
    pub version: String,
    /// SHA-256 (hex) of the text.
    pub sha256: String,
    /// The whole file.
    pub text: String,
    pub uploaded_by: String,
    pub uploaded_at: Timestamp,
    /// Who proposed its activation, when, and for which instant.
    pub proposed_by: Option<String>,
    pub proposed_at: Option<Timestamp>,
    pub effective_from: Option<Timestamp>,
    /// The second official who approved the activation.
    pub approved_by: Option<String>,
    pub approved_at: Option<Timestamp>,
    /// When it came into force and (once replaced) when it stopped.
    pub active_since: Option<Timestamp>,
    pub active_until: Option<Timestamp>,
}

impl StoredPolicy {
    /// A version just uploaded (or loaded at start): neither proposed nor in force.
    pub fn uploaded(version: &str, sha256: &str, text: String, by: String, at: Timestamp) -> Self {
        StoredPolicy {
            version: version.to_owned(),
            sha256: sha256.to_owned(),
            text,
            uploaded_by: by,
            uploaded_at: at,
            proposed_by: None,
            proposed_at: None,
            effective_from: None,
            approved_by: None,
            approved_at: None,
            active_since: None,
            active_until: None,
        }
    }
}

/// Policy versions. Both backends implement it with the same behaviour (the conformance
/// suite checks).
pub trait PolicyStore {
    /// Stores a new version: its name, hash, text and upload (a new version is neither
    /// proposed nor in force: the other fields are set by [`PolicyStore::update_policies`]);
    /// [`crate::StoreError::Conflict`] with [`crate::ConflictKind::Duplicate`] if the
    /// version name is taken.
    fn insert_policy(&self, p: &StoredPolicy) -> Result<()>;
    /// Replaces the proposal, approval and activity fields of existing versions (matched by
    /// `version`; text, hash and upload never change), all in one transaction.
    fn update_policies(&self, p: &[StoredPolicy]) -> Result<()>;
    /// Every version, in upload order (oldest first).
    fn policies(&self) -> Result<Vec<StoredPolicy>>;
}

/// The columns, in the order the backends read them.
pub(crate) const POLICY_COLUMNS: &str = "version, sha256, text, uploaded_by, uploaded_at, \
     proposed_by, proposed_at, effective_from, approved_by, approved_at, active_since, active_until";
