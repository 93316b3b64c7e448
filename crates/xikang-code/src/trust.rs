//! Trust lists and verification. A [`TrustList`] is the published JSON form (what
//! `GET /api/v1/trust` serves and venue devices cache); a [`Verifier`] is the same list
//! parsed once, with each public key decompressed, for the scan path. Decompressing an
//! Ed25519 key costs several microseconds, a noticeable share of a 15–35 µs verification,
//! so [`TrustList::verify`] (which parses only the entry it needs, on every call) suits a
//! command-line check, and a server verifying 50,000 scans a second should hold a
//! [`Verifier`].
//!
//! Rotation: a token verifies while its key is in the list and `now` lies within the key's
//! validity. A jurisdiction publishes its next key before switching to it and keeps the old
//! entry until the old key's validity ends, so codes issued just before the switch keep
//! working for their few minutes of life.

use crate::claims::CodeClaims;
use crate::cose::{self, KID_LEN, Sign1};
use crate::error::{TrustError, VerifyError};
use crate::key::kid_of;
use crate::window::Presented;
use crate::{TOKEN_PREFIX, base45};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;
use xikang_domain::Timestamp;

/// The only algorithm name trust entries may carry (COSE alg -8).
pub(crate) const ALG_EDDSA: &str = "EdDSA";

/// Largest token (decoded COSE bytes) a verifier accepts; real tokens are about 135 bytes.
/// Bounds the stack buffers of the scan path.
pub const MAX_TOKEN_BYTES: usize = 1024;

/// How far in the future a token's issue time may be, to absorb clock differences between
/// the issuing server and a venue device.
pub const ISSUED_AT_LEEWAY_SECS: i64 = 60;

/// One key of the trust list, as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustEntry {
    /// Key id: 16 hex digits, the first 8 bytes of SHA-256 of the public key.
    pub kid: String,
    /// Signature algorithm: always `EdDSA`.
    pub alg: String,
    /// The Ed25519 public key: 64 hex digits.
    pub public_key: String,
    /// The jurisdiction whose codes the key signs, e.g. `320200`.
    pub jurisdiction: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
}

/// The published list of keys whose codes a verifier accepts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrustList {
    /// The keys, in any order.
    pub entries: Vec<TrustEntry>,
}

impl FromIterator<TrustEntry> for TrustList {
    fn from_iter<I: IntoIterator<Item = TrustEntry>>(iter: I) -> Self {
        TrustList {
            entries: iter.into_iter().collect(),
        }
    }
}

impl TrustList {
    /// Parses and validates the JSON form (`{"entries": [...]}`): every entry must have a
    /// 16-hex-digit kid matching its 64-hex-digit Ed25519 key, alg `EdDSA`, a jurisdiction
    /// and an RFC 3339 validity that does not end before it starts; kids must be unique.
    pub fn from_json(s: &str) -> Result<TrustList, TrustError> {
        let list: TrustList =
            serde_json::from_str(s).map_err(|e| TrustError::Json(e.to_string()))?;
        Verifier::new(&list)?;
        Ok(list)
    }

    /// The list parsed for fast verification; fails on the first invalid entry.
    pub fn verifier(&self) -> Result<Verifier, TrustError> {
        Verifier::new(self)
    }

    /// Verifies one token offline. `expected_issuer`, when given, must equal the token's
    /// issuer (a venue accepting only its own city's codes). Parses the matching entry on
    /// each call; an entry that does not parse counts as unknown. See [`Verifier::verify`].
    pub fn verify(
        &self,
        token: &str,
        expected_issuer: Option<&str>,
        now: Timestamp,
    ) -> Result<CodeClaims, VerifyError> {
        verify_single(token, expected_issuer, When::Now(now), |kid| {
            self.entry_for(kid).map(Cow::Owned)
        })
    }

    /// Verifies many tokens with one batched signature check; the result at position `i`
    /// is the verdict on `tokens[i]`. Entries that do not parse are skipped.
    pub fn verify_batch(
        &self,
        tokens: &[&str],
        expected_issuer: Option<&str>,
        now: Timestamp,
    ) -> Vec<Result<CodeClaims, VerifyError>> {
        Verifier::lenient(self).verify_batch(tokens, expected_issuer, now)
    }

    /// The parsed entry with this key id, if any entry has it and parses.
    fn entry_for(&self, kid: &[u8]) -> Option<TrustedKey> {
        let kid: [u8; KID_LEN] = kid.try_into().ok()?;
        self.entries.iter().enumerate().find_map(|(index, e)| {
            let mut k = [0u8; KID_LEN];
            let same = hex::decode_to_slice(&e.kid, &mut k).is_ok() && k == kid;
            same.then(|| TrustedKey::parse(index, e).ok()).flatten()
        })
    }
}

/// A trusted key, parsed.
#[derive(Debug, Clone)]
struct TrustedKey {
    kid: [u8; KID_LEN],
    key: VerifyingKey,
    jurisdiction: String,
    not_before: Timestamp,
    not_after: Timestamp,
    /// The secret, when the verifier is the key's own issuer ([`Verifier::with_own_key`]).
    own: Option<Arc<OwnKey>>,
}

/// The issuer's check of its own signatures, about ten times cheaper than Ed25519
/// verification because it needs no point multiplication.
///
/// Ed25519 (RFC 8032 §5.1.6) signs `M` with the secret scalar `a` and nonce prefix as
/// `r = H(prefix ‖ M)`, `R = r·B`, `S = r + H(R ‖ A ‖ M)·a (mod L)`. Verification must
/// recompute two point multiplications; the holder of `a` and `prefix` can instead recompute
/// `S` from the token's `R` and compare it, in constant time, with the token's `S`. Only the
/// holder of the key can produce a matching `S`: it is `H(R ‖ A ‖ M)·a` masked by the secret
/// nonce `r`, so predicting it for a new `M` (or for a known `M` with another `R`) means
/// knowing both `a` and `r`, which is breaking Ed25519 itself. The comparison is over the
/// canonical encoding, so a non-canonical `S` (S + L) is refused as strict verification
/// refuses it; and the tokens this accepts are exactly those the key signed, because our
/// signatures are deterministic. A sampling site's 10,000 scanned codes take about 10 ms
/// this way against 100 ms on two cores with batched verification (docs/code-token.md).
struct OwnKey {
    secret: ed25519_dalek::hazmat::ExpandedSecretKey,
    public: [u8; 32],
}

impl OwnKey {
    fn signed(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        use sha2::{Digest, Sha512};
        use subtle::ConstantTimeEq;
        let scalar = |h: Sha512| {
            let wide: [u8; 64] = h.finalize().into();
            curve25519_dalek::Scalar::from_bytes_mod_order_wide(&wide)
        };
        let r = scalar(
            Sha512::new()
                .chain_update(self.secret.hash_prefix)
                .chain_update(message),
        );
        let k = scalar(
            Sha512::new()
                .chain_update(&signature[..32])
                .chain_update(self.public)
                .chain_update(message),
        );
        let s = k * self.secret.scalar + r;
        s.as_bytes().ct_eq(&signature[32..]).into()
    }
}

impl std::fmt::Debug for OwnKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnKey").finish_non_exhaustive()
    }
}

impl TrustedKey {
    fn parse(index: usize, e: &TrustEntry) -> Result<TrustedKey, TrustError> {
        let mut kid = [0u8; KID_LEN];
        hex::decode_to_slice(&e.kid, &mut kid).map_err(|_| TrustError::BadKid { index })?;
        if e.alg != ALG_EDDSA {
            return Err(TrustError::UnsupportedAlg {
                index,
                alg: e.alg.chars().take(20).collect(),
            });
        }
        let mut pk = [0u8; 32];
        hex::decode_to_slice(&e.public_key, &mut pk)
            .map_err(|_| TrustError::BadPublicKey { index })?;
        let key = VerifyingKey::from_bytes(&pk)
            .ok()
            .filter(|k| !k.is_weak())
            .ok_or(TrustError::BadPublicKey { index })?;
        if kid_of(&pk) != kid {
            return Err(TrustError::KidMismatch { index });
        }
        if e.jurisdiction.is_empty() {
            return Err(TrustError::NoJurisdiction { index });
        }
        let time = |s: &str| {
            Timestamp::parse_rfc3339(s).map_err(|err| TrustError::BadValidity {
                index,
                reason: err.to_string(),
            })
        };
        let (not_before, not_after) = (time(&e.not_before)?, time(&e.not_after)?);
        if not_after < not_before {
            return Err(TrustError::BadValidity {
                index,
                reason: "not_after is before not_before".to_owned(),
            });
        }
        Ok(TrustedKey {
            kid,
            key,
            jurisdiction: e.jurisdiction.clone(),
            not_before,
            not_after,
            own: None,
        })
    }

    /// Whether this key signed `sign1`: its `Sig_structure` is rebuilt and checked against
    /// the signature. The `Sig_structure` is shorter than the envelope it came from (12
    /// bytes of prefix against at least 68 of headers and signature), so it always fits.
    fn check_signature(&self, sign1: &crate::cose::Sign1<'_>) -> Result<(), VerifyError> {
        let mut message = [0u8; MAX_TOKEN_BYTES];
        let len = sign1.sig_structure_len();
        if len > message.len() {
            return Err(VerifyError::Malformed("token too long".to_owned()));
        }
        sign1.write_sig_structure(&mut message);
        if !self.signed(&message[..len], sign1.signature) {
            return Err(VerifyError::Tampered);
        }
        Ok(())
    }

    /// Whether `signature` is this key's signature of `message`.
    fn signed(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        match &self.own {
            Some(own) => own.signed(message, signature),
            None => self
                .key
                .verify(message, &Signature::from_bytes(signature))
                .is_ok(),
        }
    }

    fn valid_at(&self, t: Timestamp) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    /// The checks that follow a good signature, in the order that makes the most useful
    /// message: who issued it, whether the key could sign it then, and when it is valid.
    fn check_claims(
        &self,
        claims: CodeClaims,
        expected_issuer: Option<&str>,
        when: When,
    ) -> Result<CodeClaims, VerifyError> {
        let wrong_issuer = claims.issuer != self.jurisdiction
            || expected_issuer.is_some_and(|e| e != claims.issuer);
        if wrong_issuer {
            return Err(VerifyError::WrongIssuer {
                issuer: claims.issuer,
            });
        }
        if !self.valid_at(claims.issued_at) {
            return Err(VerifyError::KeyNotValid);
        }
        match when {
            When::Now(now) => {
                if claims.issued_at.secs() > now.secs().saturating_add(ISSUED_AT_LEEWAY_SECS) {
                    return Err(VerifyError::NotYetValid);
                }
                if now >= claims.expires_at {
                    return Err(VerifyError::Expired {
                        expired_at: claims.expires_at,
                    });
                }
            }
            When::Presented(p) => p.check(claims.issued_at, claims.expires_at)?,
        }
        Ok(claims)
    }
}

/// A signed credential that is not a health code: read by [`Verifier::verify_credential`].
pub(crate) trait Credential: Sized {
    /// What its text starts with.
    const PREFIX: &'static str;
    /// Reads its claims.
    fn decode(bytes: &[u8]) -> Result<Self, String>;
    /// Issuer, issue time and expiry.
    fn validity(&self) -> (&str, Timestamp, Timestamp);
}

/// When a token is checked: shown now, or scanned earlier and uploaded now.
#[derive(Debug, Clone, Copy)]
enum When {
    /// Shown at a door now (the key must be valid now, the token unexpired now).
    Now(Timestamp),
    /// Scanned at `at` while offline (the key must have been valid then; the token's window
    /// is [`Presented::check`]).
    Presented(Presented),
}

impl When {
    /// The instant at which the signing key must have been valid.
    fn key_time(self) -> Timestamp {
        match self {
            When::Now(now) => now,
            When::Presented(p) => p.at,
        }
    }
}

/// A trust list parsed once for the scan path: keys decompressed, sorted by kid.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    keys: Vec<TrustedKey>,
}

impl Verifier {
    /// Parses every entry; fails on the first invalid one or a repeated kid.
    pub fn new(list: &TrustList) -> Result<Verifier, TrustError> {
        let mut keys = Vec::with_capacity(list.entries.len());
        for (index, e) in list.entries.iter().enumerate() {
            let key = TrustedKey::parse(index, e)?;
            if keys.iter().any(|k: &TrustedKey| k.kid == key.kid) {
                return Err(TrustError::DuplicateKid { index });
            }
            keys.push(key);
        }
        keys.sort_by_key(|k| k.kid);
        Ok(Verifier { keys })
    }

    /// Parses what it can: invalid entries and repeats of a kid are left out.
    fn lenient(list: &TrustList) -> Verifier {
        let mut keys: Vec<TrustedKey> = Vec::with_capacity(list.entries.len());
        for (index, e) in list.entries.iter().enumerate() {
            let Ok(key) = TrustedKey::parse(index, e) else {
                continue;
            };
            if !keys.iter().any(|k| k.kid == key.kid) {
                keys.push(key);
            }
        }
        keys.sort_by_key(|k| k.kid);
        Verifier { keys }
    }

    /// The same verifier, checking tokens of `key` (when the list trusts it) the issuer's
    /// way: by recomputing their signature's `S` half from the secret (see `OwnKey`)
    /// instead of verifying it. Same verdicts; for the server that issued the codes.
    #[must_use]
    pub fn with_own_key(mut self, key: &crate::SigningKey) -> Verifier {
        let (secret, public) = key.expanded();
        if let Some(k) = self
            .keys
            .iter_mut()
            .find(|k| k.kid == key.kid() && k.key.to_bytes() == public)
        {
            k.own = Some(Arc::new(OwnKey { secret, public }));
        }
        self
    }

    /// Number of trusted keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn key_index(&self, kid: &[u8]) -> Option<usize> {
        self.keys
            .binary_search_by(|k| k.kid.as_slice().cmp(kid))
            .ok()
    }

    /// Verifies one token offline, with no heap allocation besides the returned claims.
    ///
    /// Order of checks: structure ([`VerifyError::Malformed`]), key id
    /// ([`VerifyError::UnknownKey`]), key validity now ([`VerifyError::KeyNotValid`]),
    /// signature ([`VerifyError::Tampered`]), then, on signed claims only: issuer against
    /// the key's jurisdiction and `expected_issuer` ([`VerifyError::WrongIssuer`]), issue
    /// time within the key's validity ([`VerifyError::KeyNotValid`]), issue time not in the
    /// future ([`VerifyError::NotYetValid`]) and expiry ([`VerifyError::Expired`]).
    pub fn verify(
        &self,
        token: &str,
        expected_issuer: Option<&str>,
        now: Timestamp,
    ) -> Result<CodeClaims, VerifyError> {
        verify_single(token, expected_issuer, When::Now(now), |kid| {
            self.key_index(kid).map(|i| Cow::Borrowed(&self.keys[i]))
        })
    }

    /// Verifies an identity card (`XKC1:`, [`crate::CardClaims`]): structure, key id, the
    /// key's validity now, the signature, then the issuer and the card's own validity. A
    /// good card says who its holder is, never a colour: the caller resolves the colour
    /// online and checks the card against its revocation list.
    pub fn verify_card(
        &self,
        token: &str,
        expected_issuer: Option<&str>,
        now: Timestamp,
    ) -> Result<crate::CardClaims, VerifyError> {
        self.verify_credential(token, expected_issuer, now)
    }

    /// Verifies a signed credential other than a health code (an identity card, a commuter
    /// pass): its prefix, key id, the key's validity now, the signature, then the issuer
    /// (the key's jurisdiction, and the expected one), the key's validity at issue, and the
    /// credential's own validity now.
    pub(crate) fn verify_credential<C: Credential>(
        &self,
        token: &str,
        expected_issuer: Option<&str>,
        now: Timestamp,
    ) -> Result<C, VerifyError> {
        let mut raw = [0u8; MAX_TOKEN_BYTES];
        let (i, sign1) = open_with(C::PREFIX, token, &mut raw, |kid| self.key_index(kid))?;
        let key = &self.keys[i];
        if !key.valid_at(now) {
            return Err(VerifyError::KeyNotValid);
        }
        key.check_signature(&sign1)?;
        let c = C::decode(sign1.payload).map_err(VerifyError::Malformed)?;
        let (issuer, issued_at, expires_at) = c.validity();
        let wrong_issuer =
            issuer != key.jurisdiction || expected_issuer.is_some_and(|e| e != issuer);
        if wrong_issuer {
            return Err(VerifyError::WrongIssuer {
                issuer: issuer.to_owned(),
            });
        }
        if !key.valid_at(issued_at) {
            return Err(VerifyError::KeyNotValid);
        }
        if issued_at.secs() > now.secs().saturating_add(ISSUED_AT_LEEWAY_SECS) {
            return Err(VerifyError::NotYetValid);
        }
        if now >= expires_at {
            return Err(VerifyError::Expired {
                expired_at: expires_at,
            });
        }
        Ok(c)
    }

    /// Verifies a token scanned while the device was offline and uploaded now: the same
    /// checks as [`Verifier::verify`], with the key's validity taken at the scan time and,
    /// instead of "unexpired now", the window of [`Presented::check`]
    /// ([`VerifyError::NotValidAt`], [`VerifyError::UploadTooLate`]).
    pub fn verify_presented(
        &self,
        token: &str,
        expected_issuer: Option<&str>,
        presented: Presented,
    ) -> Result<CodeClaims, VerifyError> {
        verify_single(token, expected_issuer, When::Presented(presented), |kid| {
            self.key_index(kid).map(|i| Cow::Borrowed(&self.keys[i]))
        })
    }

    /// Verifies many tokens with one batched signature check (ed25519-dalek
    /// `verify_batch`, about twice the throughput of one-by-one checks at 100 tokens). The
    /// result at position `i` is the verdict on `tokens[i]`, the same verdict
    /// [`Verifier::verify`] would give. If the batch fails, the signatures are checked one
    /// by one to find the bad ones; so one bad token costs its batch about as much as
    /// verifying every token singly.
    pub fn verify_batch(
        &self,
        tokens: &[&str],
        expected_issuer: Option<&str>,
        now: Timestamp,
    ) -> Vec<Result<CodeClaims, VerifyError>> {
        struct Pending {
            slot: usize,
            key: usize,
            message: Range<usize>,
            payload_len: usize,
            signature: [u8; 64],
        }
        // Until its signature is known to be good, a pending token's verdict is Tampered.
        let mut results = Vec::with_capacity(tokens.len());
        let mut pending = Vec::with_capacity(tokens.len());
        let mut arena = Vec::with_capacity(tokens.len() * 160);
        let mut raw = [0u8; MAX_TOKEN_BYTES];
        for (slot, token) in tokens.iter().enumerate() {
            let opened = open(token, &mut raw, |kid| self.key_index(kid)).and_then(|(key, s)| {
                if self.keys[key].valid_at(now) {
                    Ok((key, s))
                } else {
                    Err(VerifyError::KeyNotValid)
                }
            });
            match opened {
                Ok((key, sign1)) => {
                    let start = arena.len();
                    arena.resize(start + sign1.sig_structure_len(), 0);
                    sign1.write_sig_structure(&mut arena[start..]);
                    pending.push(Pending {
                        slot,
                        key,
                        message: start..arena.len(),
                        payload_len: sign1.payload.len(),
                        signature: *sign1.signature,
                    });
                    results.push(Err(VerifyError::Tampered));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        // Our own key's tokens are checked at once (`OwnKey`), the others in one batch.
        let batched: Vec<&Pending> = pending
            .iter()
            .filter(|p| self.keys[p.key].own.is_none())
            .collect();
        let batch_ok = batched.len() > 1 && {
            let messages: Vec<&[u8]> = batched.iter().map(|p| &arena[p.message.clone()]).collect();
            let signatures: Vec<Signature> = batched
                .iter()
                .map(|p| Signature::from_bytes(&p.signature))
                .collect();
            let keys: Vec<VerifyingKey> = batched.iter().map(|p| self.keys[p.key].key).collect();
            ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
        };
        for p in &pending {
            let message = &arena[p.message.clone()];
            let key = &self.keys[p.key];
            if (batch_ok && key.own.is_none()) || key.signed(message, &p.signature) {
                let payload = &message[message.len() - p.payload_len..];
                results[p.slot] = CodeClaims::decode(payload)
                    .map_err(VerifyError::Malformed)
                    .and_then(|c| key.check_claims(c, expected_issuer, When::Now(now)));
            }
        }
        results
    }
}

/// Reads a token without checking its signature: the key id and the claims as written.
/// For diagnostics only (`xikang verify` explaining a refusal); never act on these claims.
pub fn decode_unverified(token: &str) -> Result<([u8; KID_LEN], CodeClaims), VerifyError> {
    let mut raw = [0u8; MAX_TOKEN_BYTES];
    let (kid, sign1) =
        open(token, &mut raw, |kid| <[u8; KID_LEN]>::try_from(kid).ok()).map_err(|e| match e {
            VerifyError::UnknownKey => VerifyError::Malformed("key id is not 8 bytes".to_owned()),
            other => other,
        })?;
    let claims = CodeClaims::decode(sign1.payload).map_err(VerifyError::Malformed)?;
    Ok((kid, claims))
}

/// Decodes the text into `raw`, parses the envelope and looks up its key id.
fn open<'r, K>(
    token: &str,
    raw: &'r mut [u8; MAX_TOKEN_BYTES],
    find: impl FnOnce(&[u8]) -> Option<K>,
) -> Result<(K, Sign1<'r>), VerifyError> {
    open_with(TOKEN_PREFIX, token, raw, find)
}

/// [`open`] for tokens with another prefix (an identity card's `XKC1:`). A health-code
/// reader that meets a card says so ([`VerifyError::CardNotCode`]): a card has no colour,
/// and an offline verifier must not show one for it.
pub(crate) fn open_with<'r, K>(
    prefix: &str,
    token: &str,
    raw: &'r mut [u8; MAX_TOKEN_BYTES],
    find: impl FnOnce(&[u8]) -> Option<K>,
) -> Result<(K, Sign1<'r>), VerifyError> {
    // A scanner or a shell may add whitespace around the text. Trimming it never cuts a
    // token: Base45 text cannot end in a space (its last character is at most `W`), and a
    // token starts with the prefix.
    let token = token.trim();
    if prefix == TOKEN_PREFIX && token.starts_with(crate::card::CARD_PREFIX) {
        return Err(VerifyError::CardNotCode);
    }
    let body = token
        .strip_prefix(prefix)
        .ok_or_else(|| VerifyError::Malformed(format!("missing the {prefix} prefix")))?;
    let n = base45::decode_into(body, raw)
        .map_err(|e| VerifyError::Malformed(e.reason().to_owned()))?;
    let bytes = &raw[..n];
    if bytes.first() == Some(&0x78) {
        // What a zlib stream starts with: the EU certificate's layout, not ours.
        return Err(VerifyError::Malformed(
            "compressed (zlib) payloads are not part of XK1".to_owned(),
        ));
    }
    let sign1 = cose::parse(bytes).map_err(VerifyError::Malformed)?;
    let key = find(sign1.kid).ok_or(VerifyError::UnknownKey)?;
    Ok((key, sign1))
}

fn verify_single<'k>(
    token: &str,
    expected_issuer: Option<&str>,
    when: When,
    find: impl FnOnce(&[u8]) -> Option<Cow<'k, TrustedKey>>,
) -> Result<CodeClaims, VerifyError> {
    let mut raw = [0u8; MAX_TOKEN_BYTES];
    let (key, sign1) = open(token, &mut raw, find)?;
    if !key.valid_at(when.key_time()) {
        return Err(VerifyError::KeyNotValid);
    }
    key.check_signature(&sign1)?;
    let claims = CodeClaims::decode(sign1.payload).map_err(VerifyError::Malformed)?;
    key.check_claims(claims, expected_issuer, when)
}
