//! Signed health codes: the token a resident shows and a venue scans.
//!
//! A token is `XK1:` followed by the Base45 form of a COSE_Sign1 envelope (Ed25519, key id
//! in the protected header) around a CBOR Web Token with the claims in [`CodeClaims`]. It
//! is the EU Digital COVID Certificate's layout without its zlib step, which does not pay
//! for such short tokens (docs/code-token.md has the measurements and the byte layout).
//!
//! This crate depends on nothing of xikang but `xikang-domain`, so that a venue scanner can
//! link it alone and verify codes offline against a cached [`TrustList`].
//!
//! - issue: [`SigningKey::issue`]
//! - verify: [`Verifier::verify`] and [`Verifier::verify_batch`] on the scan path,
//!   [`TrustList::verify`] for one-off checks; a scan queued offline:
//!   [`Verifier::verify_presented`] (the window in [`Presented`])
//! - identity cards for people without a phone (no colour, resolved online):
//!   [`SigningKey::issue_card`], [`Verifier::verify_card`], [`CardClaims`]
//! - commuter passes (`XP1:`): [`SigningKey::issue_pass`], [`Verifier::verify_pass`]
//! - the signed trust list with its revocations, checked against a [`TrustAnchor`]:
//!   [`TrustDocument`]
//! - draw: [`qr_svg`], [`qr_png`]
//! - subject: [`pseudonym()`] and [`person_of_pseudonym`]
//! - the authority log's signed checkpoints and witness cosignatures: [`note`]

#![forbid(unsafe_code)]

mod base45;
mod card;
mod cbor;
mod claims;
mod cose;
mod error;
mod key;
pub mod note;
mod pass;
mod pseudonym;
mod qr;
mod signed;
mod trust;
mod window;

pub use card::{CARD_PREFIX, CLAIM_CARD, CardClaims};
pub use claims::{
    CLAIM_COLOUR, CLAIM_EXP, CLAIM_IAT, CLAIM_ISS, CLAIM_LAST_NEGATIVE, CLAIM_SUB, CodeClaims,
    DEFAULT_TTL_SECS,
};
pub use error::{TrustError, VerifyError};
pub use key::{SigningKey, kid_of};
pub use pass::{CLAIM_PASS, CLAIM_ROUTE, CLAIM_TEST_HOURS, PASS_PREFIX, PassClaims};
pub use pseudonym::{PSEUDONYM_LEN, PseudonymKey, person_of_pseudonym, pseudonym};
pub use qr::{
    MAX_MODULE_PX, MIN_MODULE_PX, QUIET_ZONE_MODULES, QrError, qr_png, qr_svg, qr_version,
    try_qr_png, try_qr_svg,
};
pub use signed::{
    KeyStatus, ListedKey, MAX_SIGNED_LIST_BYTES, Revocation, RevokedKind, SignedListError,
    TrustAnchor, TrustDocument, key_statuses, open_json, sign_json, signer_kid,
};
pub use trust::{
    ISSUED_AT_LEEWAY_SECS, MAX_TOKEN_BYTES, TrustEntry, TrustList, Verifier, decode_unverified,
};
pub use window::{PRESENTED_AT_LEEWAY_SECS, Presented};

/// What every token starts with; the `1` is the format version.
pub const TOKEN_PREFIX: &str = "XK1:";

#[cfg(test)]
mod tests;
