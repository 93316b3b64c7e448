//! This city's keys over time: the long-lived root key that signs the trust list (as a
//! country's CSCA signs its document signers), the code-signing keys with their status,
//! `xikang key rotate` and `xikang key revoke` ([`rotate`], [`revoke`]), and the signed
//! trust document served at `GET /api/v1/trust/signed` beside its anchor.
//!
//! A rotated key is stored with a `not_before` ahead of now: the list publishes it as
//! `next` so that every verifier holds it before the first code it signs. The server
//! signs with the newest key already valid ([`KeyRing`]): a running server switches to the
//! next key at its `not_before` by itself, and reads the store's keys again after a
//! rotation or revocation made through the API at once, and one made by the CLI within
//! `key_reload_secs`. The previous key is `retiring` and its codes verify until they
//! expire. A revoked key leaves the verifiers' lists at once (its entry stays, marked
//! `revoked`, so that a verifier can say why).

use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::extract::JsonIn;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::sync::Arc;
use xikang_code::{
    Revocation, RevokedKind, SigningKey, TrustAnchor, TrustDocument, TrustList, Verifier,
    key_statuses,
};
use xikang_domain::Timestamp;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::time::DAY;
use xikang_store::{Store, StoreError, StoredKey};

/// Settings key of the root key's 32-byte secret.
const ROOT_KEY: &str = "root_key";
/// Settings key of the revoked key ids (JSON list of 16-hex-digit kids): read at start,
/// so that a revoked key never signs again nor enters the server's own verifier.
const REVOKED_KEYS: &str = "revoked_keys";
/// The root key's validity: it outlives every key it vouches for.
const ROOT_NOT_AFTER: Timestamp = Timestamp(4_102_444_800); // 2100-01-01

/// The city's root key, as loaded at start, and the peers' state.
pub struct Cities {
    pub root: SigningKey,
    pub anchor: TrustAnchor,
    /// Peers' last good lists ([`crate::cities::peers`]).
    pub lists: crate::cities::peers::PeerLists,
    /// One 协查 delivery round at a time ([`crate::cities::assist::deliver_pending`]).
    pub delivery: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Cities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cities")
            .field("anchor", &self.anchor)
            .finish_non_exhaustive()
    }
}

/// The store's root key for `jurisdiction`, created on first use.
pub fn root_key(store: &dyn Store, jurisdiction: &str) -> Result<SigningKey, StoreError> {
    let secret: [u8; 32] = crate::state::setting_or_create(store, ROOT_KEY)?
        .try_into()
        .map_err(|_| StoreError::Corrupt("the root key is not 32 bytes".into()))?;
    Ok(SigningKey::from_secret(
        secret,
        jurisdiction,
        Timestamp(0),
        ROOT_NOT_AFTER,
    ))
}

/// The ids of the revoked code-signing keys.
pub fn revoked_keys(store: &dyn Store) -> Result<BTreeSet<[u8; 8]>, StoreError> {
    let Some(bytes) = store.setting(REVOKED_KEYS)? else {
        return Ok(BTreeSet::new());
    };
    let kids: Vec<String> = serde_json::from_slice(&bytes)
        .map_err(|e| StoreError::Corrupt(format!("revoked keys: {e}")))?;
    kids.iter()
        .map(|k| {
            let mut kid = [0u8; 8];
            hex::decode_to_slice(k, &mut kid).map_err(|_| {
                StoreError::Corrupt("revoked keys: a kid is not 16 hex digits".into())
            })?;
            Ok(kid)
        })
        .collect()
}

fn stored_keys(store: &dyn Store) -> Result<Vec<SigningKey>, StoreError> {
    Ok(store
        .signing_keys()?
        .into_iter()
        .map(|(_, k)| SigningKey::from_secret(k.secret, &k.jurisdiction, k.not_before, k.not_after))
        .collect())
}

impl Cities {
    /// Loads the root key (creating it), the keys, the revocations and the peers' last
    /// good lists.
    pub fn load(store: &dyn Store, jurisdiction: &str) -> Result<Cities, StoreError> {
        let root = root_key(store, jurisdiction)?;
        Ok(Cities {
            anchor: TrustAnchor::of(&root),
            root,
            lists: crate::cities::peers::PeerLists::default(),
            delivery: tokio::sync::Mutex::new(()),
        })
    }
}

/// The code-signing keys in force at one instant: the key that signs, the verifier of
/// this city's tokens, and what the lists publish. Built whole and swapped whole
/// ([`AppState::keys`]), so a request that reads it once sees one consistent set.
pub struct KeyRing {
    /// The newest key already valid and not revoked: it signs codes, cards and passes.
    pub signer: SigningKey,
    /// Every unrevoked, unexpired key (the signer with its secret, for speed).
    pub verifier: Verifier,
    /// The unsigned list (`GET /api/v1/trust`) and its JSON.
    pub trust: TrustList,
    pub trust_json: String,
    /// Every stored key of this jurisdiction, expired or not, for the signed list.
    pub all: Vec<SigningKey>,
    pub revoked: BTreeSet<[u8; 8]>,
    /// When this ring must be built again: the next key's `not_before`, or the signer's
    /// `not_after` (`i64::MAX`: never by itself).
    pub due: Timestamp,
    /// Changes with every ring: cached codes and verified tokens of another ring are not
    /// reused ([`AppState::key_generation`]).
    pub generation: u64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("signer", &hex::encode(self.signer.kid()))
            .field("due", &self.due)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// The ring of `keys` at `now` (pure): `None` when no key of `jurisdiction` is valid
    /// and unrevoked. Keys of other jurisdictions in the store (a test city's) stay in the
    /// unsigned list, as before.
    pub fn build(
        keys: &[SigningKey],
        revoked: &BTreeSet<[u8; 8]>,
        jurisdiction: &str,
        now: Timestamp,
        generation: u64,
    ) -> Option<KeyRing> {
        let live: Vec<&SigningKey> = keys
            .iter()
            .filter(|k| !revoked.contains(&k.kid()))
            .collect();
        let signer = live
            .iter()
            .filter(|k| {
                k.jurisdiction() == jurisdiction && k.not_before() <= now && now < k.not_after()
            })
            .max_by_key(|k| (k.not_before(), k.kid()))?;
        let trust = TrustList {
            entries: live
                .iter()
                .filter(|k| now < k.not_after())
                .map(|k| k.trust_entry())
                .collect(),
        };
        // Codes this server signed are checked with its secret (`Verifier::with_own_key`).
        let verifier = trust.verifier().ok()?.with_own_key(signer);
        let next = live
            .iter()
            .filter(|k| k.jurisdiction() == jurisdiction && now < k.not_before())
            .map(|k| k.not_before())
            .min();
        let due = next.map_or(signer.not_after(), |n| n.min(signer.not_after()));
        Some(KeyRing {
            signer: (*signer).clone(),
            verifier,
            trust_json: serde_json::to_string(&trust).unwrap_or_default(),
            trust,
            all: keys
                .iter()
                .filter(|k| k.jurisdiction() == jurisdiction)
                .cloned()
                .collect(),
            revoked: revoked.clone(),
            due,
            generation,
        })
    }

    /// The store's keys at `now`, creating a first key (valid one year) when none of this
    /// jurisdiction is valid.
    pub fn load(
        store: &dyn Store,
        jurisdiction: &str,
        now: Timestamp,
        generation: u64,
    ) -> Result<KeyRing, StoreError> {
        let mut keys = stored_keys(store)?;
        let revoked = revoked_keys(store)?;
        if let Some(ring) = KeyRing::build(&keys, &revoked, jurisdiction, now, generation) {
            return Ok(ring);
        }
        let k = SigningKey::generate(jurisdiction, now.plus(-DAY), now.plus(366 * DAY));
        store_key(store, &k)?;
        keys.push(k);
        KeyRing::build(&keys, &revoked, jurisdiction, now, generation)
            .ok_or_else(|| StoreError::Corrupt("no usable signing key".into()))
    }

    /// Whether a key (16 hex digits) is revoked.
    pub fn key_revoked(&self, kid: &str) -> bool {
        self.revoked.iter().any(|k| hex::encode(k) == kid)
    }
}

/// Keeps a code-signing key in the store (its secret encrypted at rest by the store).
pub fn store_key(store: &dyn Store, k: &SigningKey) -> Result<(), StoreError> {
    store.put_signing_key(
        k.kid(),
        &StoredKey {
            secret: k.secret_bytes(),
            jurisdiction: k.jurisdiction().to_owned(),
            not_before: k.not_before(),
            not_after: k.not_after(),
        },
    )
}

/// What `xikang key rotate` made.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Rotated {
    pub kid: String,
    pub not_before: String,
    pub not_after: String,
}

/// The next code-signing key, valid from `now + ahead_secs` for `valid_days`, with the
/// event that logs it (`key_rotated`).
pub fn next_key(
    jurisdiction: &str,
    actor: &str,
    ahead_secs: i64,
    valid_days: i64,
    now: Timestamp,
) -> (SigningKey, NewEvent, Rotated) {
    let k = SigningKey::generate(
        jurisdiction,
        now.plus(ahead_secs.max(0)),
        now.plus(ahead_secs.max(0) + valid_days.clamp(1, 3660) * DAY),
    );
    let event = NewEvent {
        at: now,
        actor: actor.to_owned(),
        basis: "code-signing key rotation".into(),
        body: EventBody::KeyRotated {
            kid: hex::encode(k.kid()),
            not_before: k.not_before(),
            not_after: k.not_after(),
        },
    };
    let rotated = Rotated {
        kid: hex::encode(k.kid()),
        not_before: k.not_before().to_rfc3339(),
        not_after: k.not_after().to_rfc3339(),
    };
    (k, event, rotated)
}

/// Makes the next code-signing key and logs it (`xikang key rotate`). A running server
/// takes it when it reads the store's keys again ([`AppState::reload_keys`], every
/// `key_reload_secs`) and signs with it from `not_before`.
pub fn rotate(
    store: &dyn Store,
    jurisdiction: &str,
    actor: &str,
    ahead_secs: i64,
    valid_days: i64,
    now: Timestamp,
) -> Result<Rotated, StoreError> {
    let (k, event, rotated) = next_key(jurisdiction, actor, ahead_secs, valid_days, now);
    store_key(store, &k)?;
    store.append_events(&[event])?;
    Ok(rotated)
}

/// What revoking `kid` writes: its event (`key_revoked`) and the new list of revoked kids;
/// `None` when it is revoked already. Refuses a kid the store does not hold (`NotFound`).
pub fn revocation(
    store: &dyn Store,
    kid: &str,
    actor: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Option<(NewEvent, Vec<String>)>, StoreError> {
    let held = store
        .signing_keys()?
        .into_iter()
        .any(|(k, _)| hex::encode(k) == kid);
    if !held {
        return Err(StoreError::NotFound);
    }
    let mut revoked: Vec<String> = revoked_keys(store)?.iter().map(hex::encode).collect();
    if revoked.iter().any(|k| k == kid) {
        return Ok(None);
    }
    revoked.push(kid.to_owned());
    let event = NewEvent {
        at: now,
        actor: actor.to_owned(),
        basis: "code-signing key revoked".into(),
        body: EventBody::KeyRevoked {
            kid: kid.to_owned(),
            reason: reason.to_owned(),
        },
    };
    Ok(Some((event, revoked)))
}

/// Keeps the list of revoked kids (read by every start and reload).
pub fn put_revoked(store: &dyn Store, revoked: &[String]) -> Result<(), StoreError> {
    store.put_setting(
        REVOKED_KEYS,
        &serde_json::to_vec(revoked).unwrap_or_default(),
    )
}

/// Revokes a code-signing key at once (`key_revoked`, `xikang key revoke`): it leaves every
/// verifier's list with the next fetch of the signed list, and a running server's own
/// when it reads the store's keys again ([`AppState::reload_keys`]; at once through the
/// API). Revoking twice changes nothing.
pub fn revoke(
    store: &dyn Store,
    kid: &str,
    actor: &str,
    reason: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Some((event, revoked)) = revocation(store, kid, actor, reason, now)? else {
        return Ok(false);
    };
    store.append_events(&[event])?;
    put_revoked(store, &revoked)?;
    Ok(true)
}

impl AppState {
    /// The trust document as of `now`: the keys with their status, and the revocation list
    /// (revoked passes and identity cards).
    pub fn trust_document(&self, now: Timestamp) -> TrustDocument {
        let ring = self.keys(now);
        let mut revoked: Vec<Revocation> = crate::state::read(&self.projection.cities)
            .passes
            .values()
            .filter_map(|p| {
                let (at, _) = p.revoked.as_ref()?;
                (now < p.valid_until).then(|| Revocation {
                    kind: RevokedKind::Pass,
                    id: p.id.0.to_string(),
                    at: at.to_rfc3339(),
                })
            })
            .collect();
        revoked.extend(
            crate::state::read(&self.projection.credentials)
                .cards
                .values()
                .filter(|card| now < card.expires_at)
                .filter_map(|card| {
                    Some(Revocation {
                        kind: RevokedKind::Card,
                        id: card.id.0.to_string(),
                        at: card.revoked_at?.to_rfc3339(),
                    })
                }),
        );
        TrustDocument {
            jurisdiction: self.config.jurisdiction.clone(),
            issued_at: now.to_rfc3339(),
            keys: key_statuses(&ring.all, &|k| ring.revoked.contains(k), now),
            revoked,
        }
    }
}

/// `GET /api/v1/trust/signed`: the trust document signed by the city's root key, a
/// COSE_Sign1 (`application/cose`). Public: peers and venue devices fetch it.
pub async fn get_signed(State(state): State<Arc<AppState>>) -> Response {
    let bytes = state.trust_document(crate::now()).sign(&state.cities.root);
    let mut r = bytes.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cose; cose-type=\"cose-sign1\""),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /api/v1/trust/anchor`: the root key a peer pins (`xikang peer add --trust-anchor`).
/// Public, for convenience: a peer should compare it with the copy it got out of band.
pub async fn get_anchor(State(state): State<Arc<AppState>>) -> axum::Json<TrustAnchor> {
    axum::Json(state.cities.anchor.clone())
}

/// Default seconds between two reads of the store's signing keys.
pub const DEFAULT_RELOAD_SECS: u64 = 60;

/// Reads the store's keys every `secs` seconds, so that a rotation or revocation made by
/// `xikang key` (or another node) is taken without a restart.
pub async fn reload_loop(state: Arc<AppState>, secs: u64) {
    if secs == 0 {
        return;
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(secs));
    tick.tick().await;
    loop {
        tick.tick().await;
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.reload_keys(crate::now())).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the signing keys were not read again"),
            Err(e) => tracing::warn!(error = %e, "the signing keys were not read again"),
        }
    }
}

async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&AppState) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, AppError> {
    let s = state.clone();
    Ok(tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(|e| AppError::Internal(format!("keys: {e}")))??)
}

fn city_admin(state: &AppState, caller: &Actor, what: &'static str) -> Result<(), AppError> {
    caller.require(&[Role::Admin], what)?;
    authorise::whole_city(
        state,
        caller,
        "the city's keys are kept to a city-level admin",
    )
}

/// `GET /api/v1/keys`: the code-signing keys with their status now (city-level admins).
pub async fn list_keys(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<axum::Json<Vec<xikang_code::ListedKey>>, AppError> {
    city_admin(&state, &caller, "reading the signing keys")?;
    Ok(axum::Json(state.trust_document(crate::now()).keys))
}

/// `POST /api/v1/keys/rotate`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateIn {
    /// Seconds from now until the new key signs (it is published as `next` until then).
    #[serde(default)]
    pub ahead_secs: i64,
    /// Days the new key is valid (default 366).
    #[serde(default)]
    pub valid_days: Option<i64>,
}

/// `POST /api/v1/keys/rotate`: the next code-signing key (`key_rotated`), in force in this
/// server at once (published as `next` until its `not_before`, when it starts to sign).
pub async fn post_rotate(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<RotateIn>,
) -> Result<(StatusCode, axum::Json<Rotated>), AppError> {
    city_admin(&state, &caller, "rotating the signing keys")?;
    let input = input.get()?;
    if !(0..=366 * DAY).contains(&input.ahead_secs) {
        return Err(AppError::bad(
            "invalid_ahead",
            "ahead_secs is 0 to a year of seconds",
        ));
    }
    let now = crate::now();
    let (key, event, rotated) = next_key(
        &state.config.jurisdiction,
        &caller.actor(),
        input.ahead_secs,
        input.valid_days.unwrap_or(366),
        now,
    );
    // The key first: an event without its key would name a key nobody holds.
    blocking(&state, move |s| store_key(s.store.as_ref(), &key)).await?;
    state.record(vec![event]).await?;
    blocking(&state, move |s| s.reload_keys(now)).await?;
    tracing::info!(kid = %rotated.kid, "signing key rotated");
    Ok((StatusCode::CREATED, axum::Json(rotated)))
}

/// `POST /api/v1/keys/{kid}/revoke`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeKeyIn {
    pub reason: String,
}

/// `POST /api/v1/keys/{kid}/revoke`: revokes a code-signing key (`key_revoked`): this
/// server refuses its tokens at once, peers from their next fetch of the signed list. The
/// key that signs cannot be revoked while no other key is valid (`key_last_valid`): rotate
/// first.
pub async fn post_revoke(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(kid): Path<String>,
    input: JsonIn<RevokeKeyIn>,
) -> Result<axum::Json<serde_json::Value>, AppError> {
    city_admin(&state, &caller, "revoking signing keys")?;
    let input = input.get()?;
    let reason = input.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::bad(
            "invalid_reason",
            "a reason of 1 to 500 characters",
        ));
    }
    let now = crate::now();
    let ring = state.keys(now);
    let kid_bytes = ring
        .all
        .iter()
        .map(SigningKey::kid)
        .find(|k| hex::encode(k) == kid);
    let Some(kid_bytes) = kid_bytes else {
        return Err(AppError::not_found(
            "unknown_key",
            "no signing key of this id",
        ));
    };
    let mut revoked = ring.revoked.clone();
    revoked.insert(kid_bytes);
    if KeyRing::build(&ring.all, &revoked, &state.config.jurisdiction, now, 0).is_none() {
        return Err(AppError::Conflict {
            code: "key_last_valid",
            message: "no other key would sign: rotate first".into(),
        });
    }
    let actor = caller.actor();
    let found = blocking(&state, move |s| {
        revocation(s.store.as_ref(), &kid, &actor, &reason, now)
    })
    .await?;
    let changed = found.is_some();
    if let Some((event, revoked)) = found {
        state.record(vec![event]).await?;
        blocking(&state, move |s| put_revoked(s.store.as_ref(), &revoked)).await?;
    }
    // Tokens of the revoked key are refused from here on: the ring's generation changes,
    // so no cached code or verified token of the old ring is used again.
    blocking(&state, move |s| s.reload_keys(now)).await?;
    Ok(axum::Json(
        serde_json::json!({"revoked": true, "new": changed}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_code::CodeClaims;
    use xikang_domain::Colour;

    const T: Timestamp = Timestamp(1_800_000_000);

    fn key(seed: u8, from: i64, days: i64) -> SigningKey {
        SigningKey::from_secret([seed; 32], "320200", T.plus(from), T.plus(days * DAY))
    }

    fn code(k: &SigningKey, at: Timestamp) -> String {
        k.issue(&CodeClaims::with_default_expiry(
            "320200",
            "0123456789",
            Colour::Green,
            None,
            at,
        ))
    }

    #[test]
    fn a_ring_is_due_at_the_next_keys_not_before_and_then_signs_with_it() {
        let (old, next) = (key(1, -DAY, 300), key(2, 3600, 400));
        let keys = vec![old.clone(), next.clone()];
        let ring = KeyRing::build(&keys, &BTreeSet::new(), "320200", T, 1).unwrap();
        assert_eq!(ring.signer.kid(), old.kid());
        assert_eq!(ring.due, T.plus(3600), "due when the next key starts");
        // Published ahead of use: the ring already verifies what the next key signs.
        let early = code(&next, T.plus(3600));
        assert!(ring.verifier.verify(&early, None, T.plus(3601)).is_ok());
        let later = KeyRing::build(&ring.all, &ring.revoked, "320200", ring.due, 2).unwrap();
        assert_eq!(later.signer.kid(), next.kid());
        assert_eq!(later.due, next.not_after().min(T.plus(400 * DAY)));
        // The retiring key's codes still verify.
        let old_code = code(&old, T.plus(3500));
        assert!(later.verifier.verify(&old_code, None, T.plus(3600)).is_ok());
    }

    #[test]
    fn a_revoked_key_neither_signs_nor_verifies_and_no_valid_key_is_no_ring() {
        let (a, b) = (key(1, -DAY, 300), key(2, -3600, 400));
        let keys = vec![a.clone(), b.clone()];
        let revoked: BTreeSet<[u8; 8]> = [b.kid()].into();
        let ring = KeyRing::build(&keys, &revoked, "320200", T, 1).unwrap();
        assert_eq!(ring.signer.kid(), a.kid(), "the newer key is revoked");
        assert!(ring.key_revoked(&hex::encode(b.kid())));
        let by_b = code(&b, T);
        assert!(ring.verifier.verify(&by_b, None, T.plus(1)).is_err());
        let all: BTreeSet<[u8; 8]> = [a.kid(), b.kid()].into();
        assert!(KeyRing::build(&keys, &all, "320200", T, 2).is_none());
        assert!(KeyRing::build(&keys, &BTreeSet::new(), "320500", T, 3).is_none());
    }
}
