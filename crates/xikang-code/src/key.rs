//! An issuing key: an Ed25519 key with its key id, jurisdiction and validity period, and
//! the one operation the server does 40,000 times a second with it, [`SigningKey::issue`].

use crate::claims::CodeClaims;
use crate::cose::{self, KID_LEN, ToBeSigned};
use crate::trust::TrustEntry;
use crate::{TOKEN_PREFIX, base45};
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use std::fmt;
use xikang_domain::Timestamp;

/// The key id of an Ed25519 public key: the first 8 bytes of its SHA-256, as in the EU
/// Digital COVID Certificate.
pub fn kid_of(public_key: &[u8; 32]) -> [u8; KID_LEN] {
    let digest = Sha256::digest(public_key);
    let mut kid = [0u8; KID_LEN];
    kid.copy_from_slice(&digest[..KID_LEN]);
    kid
}

/// A jurisdiction's issuing key. `Debug` shows the key id, never the secret.
#[derive(Clone)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    kid: [u8; KID_LEN],
    jurisdiction: String,
    not_before: Timestamp,
    not_after: Timestamp,
    /// The serialized protected header, the same for every token this key signs.
    protected: [u8; 13],
}

impl SigningKey {
    /// A fresh key from the operating system's random source.
    pub fn generate(jurisdiction: &str, not_before: Timestamp, not_after: Timestamp) -> SigningKey {
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        SigningKey::from_dalek(key, jurisdiction, not_before, not_after)
    }

    /// The key with this 32-byte Ed25519 secret (as stored by [`SigningKey::secret_bytes`]).
    pub fn from_secret(
        secret: [u8; 32],
        jurisdiction: &str,
        not_before: Timestamp,
        not_after: Timestamp,
    ) -> SigningKey {
        SigningKey::from_dalek(
            ed25519_dalek::SigningKey::from_bytes(&secret),
            jurisdiction,
            not_before,
            not_after,
        )
    }

    fn from_dalek(
        key: ed25519_dalek::SigningKey,
        jurisdiction: &str,
        not_before: Timestamp,
        not_after: Timestamp,
    ) -> SigningKey {
        let kid = kid_of(key.verifying_key().as_bytes());
        SigningKey {
            key,
            kid,
            jurisdiction: jurisdiction.to_owned(),
            not_before,
            not_after,
            protected: cose::protected_header(&kid),
        }
    }

    /// The 32-byte secret, for the store to persist (encrypted at rest, never logged).
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The 32-byte public key.
    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// First 8 bytes of SHA-256 of the public key.
    pub fn kid(&self) -> [u8; 8] {
        self.kid
    }

    /// The jurisdiction whose codes this key signs (e.g. `320200`).
    pub fn jurisdiction(&self) -> &str {
        &self.jurisdiction
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> Timestamp {
        self.not_before
    }

    /// End of the validity period: tokens signed with this key stop verifying after it.
    pub fn not_after(&self) -> Timestamp {
        self.not_after
    }

    /// This key's entry for the published trust list.
    pub fn trust_entry(&self) -> TrustEntry {
        TrustEntry {
            kid: hex::encode(self.kid),
            alg: crate::trust::ALG_EDDSA.to_owned(),
            public_key: hex::encode(self.public_key_bytes()),
            jurisdiction: self.jurisdiction.clone(),
            not_before: self.not_before.to_rfc3339(),
            not_after: self.not_after.to_rfc3339(),
        }
    }

    /// The raw COSE_Sign1 bytes of a token for `claims` (what [`SigningKey::issue`] puts in
    /// Base45). The caller is responsible for `claims.issuer` being this key's jurisdiction;
    /// verifiers refuse a mismatch as a wrong issuer.
    pub fn issue_bytes(&self, claims: &CodeClaims) -> Vec<u8> {
        let (mut tbs, signature) = self.sign_claims(claims);
        tbs.sign1(&signature).to_vec()
    }

    /// A token for `claims`: `XK1:` followed by the Base45 form of a COSE_Sign1 (Ed25519)
    /// whose payload is the CWT claims map. Two allocations: the signed bytes and the text.
    pub fn issue(&self, claims: &CodeClaims) -> String {
        let (mut tbs, signature) = self.sign_claims(claims);
        let bytes = tbs.sign1(&signature);
        let mut token =
            String::with_capacity(TOKEN_PREFIX.len() + base45::encoded_len(bytes.len()));
        token.push_str(TOKEN_PREFIX);
        base45::encode_into(bytes, &mut token);
        token
    }

    /// The expanded secret (scalar and nonce prefix) and the public key, for a verifier
    /// that checks this key's own tokens (see `trust::OwnKey`).
    pub(crate) fn expanded(&self) -> (ed25519_dalek::hazmat::ExpandedSecretKey, [u8; 32]) {
        (
            ed25519_dalek::hazmat::ExpandedSecretKey::from(&self.key.to_bytes()),
            self.public_key_bytes(),
        )
    }

    /// The serialized protected header every token of this key carries.
    pub(crate) fn protected(&self) -> &[u8; 13] {
        &self.protected
    }

    /// The Ed25519 signature of `message`.
    pub(crate) fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    fn sign_claims(&self, claims: &CodeClaims) -> (ToBeSigned, [u8; 64]) {
        let tbs = ToBeSigned::new(&self.protected, claims.encoded_len(), |buf| {
            claims.encode_into(buf)
        });
        let signature = self.key.sign(tbs.message()).to_bytes();
        (tbs, signature)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &hex::encode(self.kid))
            .field("jurisdiction", &self.jurisdiction)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("secret", &"<redacted>")
            .finish()
    }
}
