//! Why a token was refused. Each variant has a stable `code()` for the API's error envelope
//! and a distinct message for `xikang verify`. Messages describe the token's structure or
//! its key, never its claims about the holder (no colour, no subject).

use xikang_domain::Timestamp;

/// A token that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not an `XK1:` token at all: prefix, Base45, CBOR or COSE structure is wrong.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The signature does not match the contents: altered or forged.
    #[error("tampered token: the signature does not match its contents")]
    Tampered,
    /// Past its expiry.
    #[error("expired token: it expired at {expired_at}")]
    Expired {
        /// The token's `exp` claim.
        expired_at: Timestamp,
    },
    /// Signed by a key that is not in the trust list.
    #[error("unknown key: the token's key id is not in the trust list")]
    UnknownKey,
    /// Issued by another jurisdiction than its key's, or than the one the verifier expects.
    #[error("wrong issuer: the token was issued by {issuer}")]
    WrongIssuer {
        /// The token's `iss` claim.
        issuer: String,
    },
    /// The signing key is outside its validity period, now or when the token was issued.
    #[error("key not valid: the signing key is outside its validity period")]
    KeyNotValid,
    /// Issued in the future (beyond the allowed clock difference).
    #[error("token not yet valid: its issue time is in the future")]
    NotYetValid,
    /// A scan's stated time lies outside the token's validity (see [`crate::Presented`]).
    #[error("token not valid at {at}: the scan time lies outside the code's validity")]
    NotValidAt {
        /// The scan time given.
        at: Timestamp,
    },
    /// A scan queued offline reached the server too long after the token expired.
    #[error(
        "upload too late: the code expired at {expired_at}, longer ago than offline scans may be uploaded"
    )]
    UploadTooLate {
        /// The token's `exp` claim.
        expired_at: Timestamp,
    },
    /// An identity card (`XKC1:`) given where a health code was expected: a card carries no
    /// colour and is resolved online only (docs/claim.md).
    #[error("identity card, not a health code: it carries no colour and must be checked online")]
    CardNotCode,
}

impl VerifyError {
    /// Stable machine-readable code, used in API error envelopes and CLI output.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Malformed(_) => "token_malformed",
            VerifyError::Tampered => "token_tampered",
            VerifyError::Expired { .. } => "token_expired",
            VerifyError::UnknownKey => "token_unknown_key",
            VerifyError::WrongIssuer { .. } => "token_wrong_issuer",
            VerifyError::KeyNotValid => "token_key_not_valid",
            VerifyError::NotYetValid => "token_not_yet_valid",
            VerifyError::NotValidAt { .. } => "token_not_valid_at",
            VerifyError::UploadTooLate { .. } => "token_upload_too_late",
            VerifyError::CardNotCode => "token_is_card",
        }
    }
}

/// A trust list that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Not JSON of the trust-list shape.
    #[error("trust list is not valid JSON: {0}")]
    Json(String),
    /// A key id that is not 16 hex digits (8 bytes).
    #[error("trust entry {index}: key id must be 16 hex digits")]
    BadKid {
        /// Position of the entry in the list.
        index: usize,
    },
    /// An algorithm other than `EdDSA`.
    #[error("trust entry {index}: unsupported algorithm {alg:?} (only EdDSA)")]
    UnsupportedAlg {
        /// Position of the entry in the list.
        index: usize,
        /// The algorithm named.
        alg: String,
    },
    /// A public key that is not 64 hex digits encoding an Ed25519 point.
    #[error("trust entry {index}: public key must be 64 hex digits of an Ed25519 key")]
    BadPublicKey {
        /// Position of the entry in the list.
        index: usize,
    },
    /// A key id that is not the first 8 bytes of SHA-256 of the public key.
    #[error("trust entry {index}: key id does not match the public key")]
    KidMismatch {
        /// Position of the entry in the list.
        index: usize,
    },
    /// An empty jurisdiction.
    #[error("trust entry {index}: jurisdiction is empty")]
    NoJurisdiction {
        /// Position of the entry in the list.
        index: usize,
    },
    /// A validity bound that is not RFC 3339, or that ends before it starts.
    #[error("trust entry {index}: bad validity: {reason}")]
    BadValidity {
        /// Position of the entry in the list.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// Two entries with the same key id.
    #[error("trust entry {index}: key id appears twice")]
    DuplicateKid {
        /// Position of the second entry.
        index: usize,
    },
}

impl TrustError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TrustError::Json(_) => "trust_list_invalid_json",
            TrustError::BadKid { .. } => "trust_list_bad_kid",
            TrustError::UnsupportedAlg { .. } => "trust_list_unsupported_alg",
            TrustError::BadPublicKey { .. } => "trust_list_bad_public_key",
            TrustError::KidMismatch { .. } => "trust_list_kid_mismatch",
            TrustError::NoJurisdiction { .. } => "trust_list_no_jurisdiction",
            TrustError::BadValidity { .. } => "trust_list_bad_validity",
            TrustError::DuplicateKid { .. } => "trust_list_duplicate_kid",
        }
    }
}
