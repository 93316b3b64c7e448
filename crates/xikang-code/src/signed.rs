//! The signed trust list (docs/cities.md): what another city, or any venue device, fetches
//! to verify this city's codes and passes offline. A long-lived **root key** of the city
//! (its [`TrustAnchor`], handed to peers out of band, as a country's CSCA certificate is)
//! signs a [`TrustDocument`]: the code-signing keys with their status (current, next,
//! retiring, revoked) and validity, and the revocation list (passes, subjects, cards).
//!
//! The envelope is a COSE_Sign1 (EdDSA, the root's key id in the protected header) whose
//! payload is the document's JSON: any COSE library can check it, and the payload is
//! readable without one once checked. Keys and revocations travel in one signed document
//! so that a verifier never holds a key list newer than its revocation list or older.

use crate::cose::{self, ToBeSigned};
use crate::error::TrustError;
use crate::key::{SigningKey, kid_of};
use crate::trust::{TrustEntry, TrustList, Verifier};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use xikang_domain::Timestamp;

/// Largest signed document a verifier reads (a city publishes a few keys and, at most,
/// some tens of thousands of revocations).
pub const MAX_SIGNED_LIST_BYTES: usize = 8 << 20;

/// What a peer pins: the city's root key, by which it checks the signed list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustAnchor {
    /// The city's jurisdiction (e.g. `320200`): every key of its list must sign for it.
    pub jurisdiction: String,
    /// 16 hex digits: the first 8 bytes of SHA-256 of the root public key.
    pub kid: String,
    /// The root's Ed25519 public key, 64 hex digits.
    pub public_key: String,
}

impl TrustAnchor {
    /// The anchor of a root key.
    pub fn of(root: &SigningKey) -> TrustAnchor {
        TrustAnchor {
            jurisdiction: root.jurisdiction().to_owned(),
            kid: hex::encode(root.kid()),
            public_key: hex::encode(root.public_key_bytes()),
        }
    }

    /// Parses an anchor file (JSON) and checks that its key id is its key's.
    pub fn from_json(text: &str) -> Result<TrustAnchor, SignedListError> {
        let a: TrustAnchor =
            serde_json::from_str(text).map_err(|e| SignedListError::BadAnchor(e.to_string()))?;
        a.key()?;
        if a.jurisdiction.is_empty() {
            return Err(SignedListError::BadAnchor("empty jurisdiction".into()));
        }
        Ok(a)
    }

    fn key(&self) -> Result<VerifyingKey, SignedListError> {
        let bad = || SignedListError::BadAnchor("public key must be 64 hex digits".into());
        let mut pk = [0u8; 32];
        hex::decode_to_slice(&self.public_key, &mut pk).map_err(|_| bad())?;
        if hex::encode(kid_of(&pk)) != self.kid {
            return Err(SignedListError::BadAnchor(
                "key id does not match the public key".into(),
            ));
        }
        VerifyingKey::from_bytes(&pk)
            .ok()
            .filter(|k| !k.is_weak())
            .ok_or_else(bad)
    }
}

/// Where a code-signing key stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs today's codes.
    Current,
    /// Published ahead of use: verifiers learn it before the first code it signs.
    Next,
    /// No longer signs; its codes verify until they expire.
    Retiring,
    /// Compromised or withdrawn: nothing it signed verifies, at once.
    Revoked,
}

/// One key of the signed list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedKey {
    #[serde(flatten)]
    pub entry: TrustEntry,
    pub status: KeyStatus,
}

/// What a revocation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedKind {
    /// A commuter pass, by its number.
    Pass,
    /// An identity card, by its number.
    Card,
    /// Every credential of a subject (their pseudonym).
    Subject,
}

/// One revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub kind: RevokedKind,
    /// The pass or card number, or the subject's pseudonym.
    pub id: String,
    /// When it was revoked, RFC 3339.
    pub at: String,
}

/// The signed document's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustDocument {
    /// Whose list this is; must equal the anchor's.
    pub jurisdiction: String,
    /// When it was signed, RFC 3339: a verifier keeps the newest it has seen.
    pub issued_at: String,
    pub keys: Vec<ListedKey>,
    pub revoked: Vec<Revocation>,
}

/// Why a signed list was refused. Nothing of a refused list is used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedListError {
    /// A trust anchor file that cannot be used.
    #[error("bad trust anchor: {0}")]
    BadAnchor(String),
    /// Plain JSON, or anything without a COSE signature.
    #[error("the trust list is not signed")]
    Unsigned,
    /// Signed by another key than the pinned root.
    #[error("the trust list is signed by another key than the pinned root")]
    WrongRoot,
    /// The signature does not match the contents.
    #[error("the trust list's signature does not match its contents")]
    Tampered,
    /// Signed, but its contents are not a trust document.
    #[error("the trust list is malformed: {0}")]
    Malformed(String),
    /// A key or the list itself for another jurisdiction than the anchor's.
    #[error("the trust list names another jurisdiction than its anchor")]
    WrongJurisdiction,
    /// An entry that does not parse.
    #[error("the trust list has an invalid key: {0}")]
    BadKey(#[from] TrustError),
}

impl SignedListError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            SignedListError::BadAnchor(_) => "trust_anchor_invalid",
            SignedListError::Unsigned => "trust_list_unsigned",
            SignedListError::WrongRoot => "trust_list_wrong_root",
            SignedListError::Tampered => "trust_list_tampered",
            SignedListError::Malformed(_) => "trust_list_malformed",
            SignedListError::WrongJurisdiction => "trust_list_wrong_jurisdiction",
            SignedListError::BadKey(_) => "trust_list_bad_key",
        }
    }
}

impl TrustDocument {
    /// Signs the document with the city's root key: the COSE_Sign1 bytes.
    pub fn sign(&self, root: &SigningKey) -> Vec<u8> {
        sign_json(root, self)
    }

    /// Checks a signed list against the pinned anchor and reads it: the root's key id and
    /// signature, then the document's jurisdiction and every key's.
    pub fn open(bytes: &[u8], anchor: &TrustAnchor) -> Result<TrustDocument, SignedListError> {
        let doc: TrustDocument = open_json(bytes, anchor)?;
        let foreign = doc.jurisdiction != anchor.jurisdiction
            || doc
                .keys
                .iter()
                .any(|k| k.entry.jurisdiction != anchor.jurisdiction);
        if foreign {
            return Err(SignedListError::WrongJurisdiction);
        }
        Verifier::new(&doc.all_keys())?;
        Ok(doc)
    }

    fn all_keys(&self) -> TrustList {
        self.keys.iter().map(|k| k.entry.clone()).collect()
    }

    /// The keys a verifier trusts: every key but the revoked ones.
    pub fn trust_list(&self) -> TrustList {
        self.keys
            .iter()
            .filter(|k| k.status != KeyStatus::Revoked)
            .map(|k| k.entry.clone())
            .collect()
    }

    /// Whether this credential is on the revocation list.
    pub fn is_revoked(&self, kind: RevokedKind, id: &str) -> bool {
        self.revoked.iter().any(|r| r.kind == kind && r.id == id)
    }

    /// Whether the key with this id (16 hex digits) is listed as revoked.
    pub fn key_revoked(&self, kid: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k.status == KeyStatus::Revoked && k.entry.kid == kid)
    }

    /// When the document was signed (the epoch if unreadable, so it loses to any other).
    pub fn issued(&self) -> Timestamp {
        Timestamp::parse_rfc3339(&self.issued_at).unwrap_or(Timestamp(0))
    }
}

/// Signs the JSON of `value` with a city's root key: a COSE_Sign1 whose payload is the JSON
/// (the trust list, a message between cities).
pub fn sign_json<T: Serialize>(root: &SigningKey, value: &T) -> Vec<u8> {
    let json = serde_json::to_vec(value).unwrap_or_default();
    let mut tbs = ToBeSigned::new(root.protected(), json.len(), |buf| {
        buf.extend_from_slice(&json)
    });
    let signature = root.sign_message(tbs.message());
    tbs.sign1(&signature).to_vec()
}

/// The key id of a signed JSON message (to find whose anchor checks it), unverified.
pub fn signer_kid(bytes: &[u8]) -> Option<String> {
    cose::parse(bytes).ok().map(|s| hex::encode(s.kid))
}

/// Checks a COSE_Sign1 made by [`sign_json`] against the pinned anchor and reads its JSON:
/// unsigned, signed by another root, altered or not JSON of `T`, it is refused.
pub fn open_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    anchor: &TrustAnchor,
) -> Result<T, SignedListError> {
    let root = anchor.key()?;
    if bytes.len() > MAX_SIGNED_LIST_BYTES {
        return Err(SignedListError::Malformed("too large".into()));
    }
    let sign1 = cose::parse(bytes).map_err(|reason| {
        if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() {
            SignedListError::Unsigned
        } else {
            SignedListError::Malformed(reason)
        }
    })?;
    if hex::encode(sign1.kid) != anchor.kid {
        return Err(SignedListError::WrongRoot);
    }
    let mut message = vec![0u8; sign1.sig_structure_len()];
    sign1.write_sig_structure(&mut message);
    root.verify_strict(&message, &Signature::from_bytes(sign1.signature))
        .map_err(|_| SignedListError::Tampered)?;
    serde_json::from_slice(sign1.payload).map_err(|e| SignedListError::Malformed(e.to_string()))
}

/// The status of each key at `now`, given the ids of revoked keys: the newest key already
/// valid is current, keys not yet valid are next, other unexpired keys retiring; expired
/// keys are left out (nothing they signed is valid any more).
pub fn key_statuses(
    keys: &[SigningKey],
    revoked: &dyn Fn(&[u8; 8]) -> bool,
    now: Timestamp,
) -> Vec<ListedKey> {
    let current = keys
        .iter()
        .filter(|k| !revoked(&k.kid()) && k.not_before() <= now && now < k.not_after())
        .max_by_key(|k| (k.not_before(), k.kid()))
        .map(SigningKey::kid);
    keys.iter()
        .filter(|k| now < k.not_after())
        .map(|k| {
            let status = if revoked(&k.kid()) {
                KeyStatus::Revoked
            } else if Some(k.kid()) == current {
                KeyStatus::Current
            } else if now < k.not_before() {
                KeyStatus::Next
            } else {
                KeyStatus::Retiring
            };
            ListedKey {
                entry: k.trust_entry(),
                status,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CodeClaims;
    use xikang_domain::Colour;

    const T: Timestamp = Timestamp(1_800_000_000);

    fn root() -> SigningKey {
        SigningKey::from_secret([1; 32], "320200", Timestamp(0), Timestamp(4_000_000_000))
    }

    fn keys() -> Vec<SigningKey> {
        vec![
            SigningKey::from_secret([2; 32], "320200", T.plus(-1000), T.plus(100_000)),
            SigningKey::from_secret([3; 32], "320200", T.plus(-10), T.plus(200_000)),
            SigningKey::from_secret([4; 32], "320200", T.plus(3600), T.plus(300_000)),
            SigningKey::from_secret([5; 32], "320200", T.plus(-5000), T.plus(-1)),
        ]
    }

    fn doc(revoked: &[[u8; 8]]) -> TrustDocument {
        TrustDocument {
            jurisdiction: "320200".into(),
            issued_at: T.to_rfc3339(),
            keys: key_statuses(&keys(), &|k| revoked.contains(k), T),
            revoked: vec![Revocation {
                kind: RevokedKind::Pass,
                id: "E42".into(),
                at: T.to_rfc3339(),
            }],
        }
    }

    #[test]
    fn keys_are_current_next_or_retiring_and_expired_ones_leave_the_list() {
        let d = doc(&[]);
        let status: Vec<KeyStatus> = d.keys.iter().map(|k| k.status).collect();
        assert_eq!(
            status,
            [KeyStatus::Retiring, KeyStatus::Current, KeyStatus::Next]
        );
        // Revoking the current key makes the older one current.
        let d = doc(&[keys()[1].kid()]);
        let status: Vec<KeyStatus> = d.keys.iter().map(|k| k.status).collect();
        assert_eq!(
            status,
            [KeyStatus::Current, KeyStatus::Revoked, KeyStatus::Next]
        );
        assert!(d.key_revoked(&hex::encode(keys()[1].kid())));
        assert_eq!(d.trust_list().entries.len(), 2);
    }

    #[test]
    fn a_signed_list_opens_with_its_anchor_and_a_retiring_keys_codes_still_verify() {
        let bytes = doc(&[]).sign(&root());
        let anchor = TrustAnchor::of(&root());
        let opened = TrustDocument::open(&bytes, &anchor).unwrap();
        assert_eq!(opened, doc(&[]));
        assert!(opened.is_revoked(RevokedKind::Pass, "E42"));
        assert!(!opened.is_revoked(RevokedKind::Card, "E42"));
        let old = &keys()[0];
        let code = old.issue(&CodeClaims::with_default_expiry(
            "320200",
            "0123456789",
            Colour::Green,
            None,
            T.plus(-60),
        ));
        let v = opened.trust_list().verifier().unwrap();
        assert!(v.verify(&code, Some("320200"), T).is_ok());
        // Once revoked, the same key's codes are unknown.
        let revoked = TrustDocument::open(&doc(&[old.kid()]).sign(&root()), &anchor).unwrap();
        let v = revoked.trust_list().verifier().unwrap();
        assert_eq!(
            v.verify(&code, Some("320200"), T),
            Err(crate::VerifyError::UnknownKey)
        );
    }

    #[test]
    fn unsigned_tampered_foreign_and_wrongly_rooted_lists_are_refused_with_their_codes() {
        let anchor = TrustAnchor::of(&root());
        let bytes = doc(&[]).sign(&root());
        let unsigned = serde_json::to_vec(&doc(&[])).unwrap();
        let code = |b: &[u8]| TrustDocument::open(b, &anchor).unwrap_err().code();
        assert_eq!(code(&unsigned), "trust_list_unsigned");
        // One byte of the payload changed (a date digit): the signature no longer matches.
        let mut tampered = bytes.clone();
        let at = tampered.windows(4).position(|w| w == b"2027").unwrap();
        tampered[at + 3] = b'8';
        assert_eq!(code(&tampered), "trust_list_tampered");
        let stranger = SigningKey::from_secret([9; 32], "320200", Timestamp(0), T.plus(1));
        assert_eq!(code(&doc(&[]).sign(&stranger)), "trust_list_wrong_root");
        let mut foreign = doc(&[]);
        foreign.jurisdiction = "320500".into();
        assert_eq!(
            code(&foreign.sign(&root())),
            "trust_list_wrong_jurisdiction"
        );
        assert_eq!(code(b"\x01\x02"), "trust_list_malformed");
        let bad_anchor = TrustAnchor {
            kid: "00".repeat(8),
            ..anchor.clone()
        };
        assert_eq!(
            TrustDocument::open(&bytes, &bad_anchor).unwrap_err().code(),
            "trust_anchor_invalid"
        );
        assert_eq!(
            TrustAnchor::from_json(&serde_json::to_string(&anchor).unwrap()),
            Ok(anchor)
        );
    }
}
