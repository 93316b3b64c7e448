//! This city's keys over time: the long-lived root key that signs the trust list (as a
//! country's CSCA signs its document signers), the code-signing keys with their status,
//! `xikang key rotate` and `xikang key revoke` ([`rotate`], [`revoke`]), and the signed
//! trust document served at `GET /api/v1/trust/signed` beside its anchor.
//!
//! A rotated key is stored with a `not_before` ahead of now: the list publishes it as
//! `next` so that every verifier holds it before the first code it signs. The server
//! signs with the newest key already valid when it starts; the previous key is `retiring`
//! and its codes verify until they expire. A revoked key leaves the verifiers' lists at
//! once (its entry stays, marked `revoked`, so that a verifier can say why).

use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::sync::Arc;
use xikang_code::{Revocation, RevokedKind, SigningKey, TrustAnchor, TrustDocument, key_statuses};
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

/// The city's root key and code-signing keys, as loaded at start.
pub struct Cities {
    pub root: SigningKey,
    pub anchor: TrustAnchor,
    /// Every stored code-signing key of this jurisdiction, expired or not.
    keys: Vec<SigningKey>,
    revoked: BTreeSet<[u8; 8]>,
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

fn stored_keys(store: &dyn Store, jurisdiction: &str) -> Result<Vec<SigningKey>, StoreError> {
    Ok(store
        .signing_keys()?
        .into_iter()
        .filter(|(_, k)| k.jurisdiction == jurisdiction)
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
            keys: stored_keys(store, jurisdiction)?,
            revoked: revoked_keys(store)?,
            lists: crate::cities::peers::PeerLists::default(),
            delivery: tokio::sync::Mutex::new(()),
        })
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

/// Makes the next code-signing key, valid from `now + ahead_secs` for `valid_days`, and logs
/// it (`key_rotated`). A running server publishes it from its next start; it signs from
/// the first start after `not_before`.
pub fn rotate(
    store: &dyn Store,
    jurisdiction: &str,
    actor: &str,
    ahead_secs: i64,
    valid_days: i64,
    now: Timestamp,
) -> Result<Rotated, StoreError> {
    let k = SigningKey::generate(
        jurisdiction,
        now.plus(ahead_secs.max(0)),
        now.plus(ahead_secs.max(0) + valid_days.clamp(1, 3660) * DAY),
    );
    store_key(store, &k)?;
    store.append_events(&[NewEvent {
        at: now,
        actor: actor.to_owned(),
        basis: "code-signing key rotation".into(),
        body: EventBody::KeyRotated {
            kid: hex::encode(k.kid()),
            not_before: k.not_before(),
            not_after: k.not_after(),
        },
    }])?;
    Ok(Rotated {
        kid: hex::encode(k.kid()),
        not_before: k.not_before().to_rfc3339(),
        not_after: k.not_after().to_rfc3339(),
    })
}

/// Revokes a code-signing key at once (`key_revoked`): it leaves every verifier's list
/// with the next fetch of the signed list, and the server's own from its next start.
/// Refuses a kid the store does not hold (`unknown_key`); revoking twice changes nothing.
pub fn revoke(
    store: &dyn Store,
    kid: &str,
    actor: &str,
    reason: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let held = store
        .signing_keys()?
        .into_iter()
        .any(|(k, _)| hex::encode(k) == kid);
    if !held {
        return Err(StoreError::NotFound);
    }
    let mut revoked: Vec<String> = revoked_keys(store)?.iter().map(hex::encode).collect();
    if revoked.iter().any(|k| k == kid) {
        return Ok(false);
    }
    revoked.push(kid.to_owned());
    store.append_events(&[NewEvent {
        at: now,
        actor: actor.to_owned(),
        basis: "code-signing key revoked".into(),
        body: EventBody::KeyRevoked {
            kid: kid.to_owned(),
            reason: reason.to_owned(),
        },
    }])?;
    store.put_setting(
        REVOKED_KEYS,
        &serde_json::to_vec(&revoked).unwrap_or_default(),
    )?;
    Ok(true)
}

impl AppState {
    /// The trust document as of `now`: the keys with their status, and the revocation list
    /// (revoked passes and identity cards).
    pub fn trust_document(&self, now: Timestamp) -> TrustDocument {
        let c = &self.cities;
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
            keys: key_statuses(&c.keys, &|k| c.revoked.contains(k), now),
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
