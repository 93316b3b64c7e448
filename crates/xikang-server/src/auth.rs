//! Bearer-token authentication: the [`Actor`] a presented token stands for. Tokens are
//! random strings shown once at creation; only their SHA-256 is stored. Every token carries
//! an expiry (defaults and ceilings per role: [`Role::token_lifetime`]) and can be revoked;
//! an expired or revoked token is refused with 401 `token_expired` / `token_revoked`.
//!
//! Lookups are cached by digest, each entry for at most [`RECHECK`]: a revocation (or a row
//! deleted from the store) made by this process or any other process on the same store
//! takes effect within that time on every path, with no message between processes. Expiry
//! is checked against the clock on every request, cached or not. What an actor may touch is
//! decided in [`crate::app::authorise`].

use crate::app::{Actor, Role};
use crate::cache::BoundedCache;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};
use xikang_domain::{Timestamp, TokenId};
use xikang_store::StoredToken;

/// How long a cached lookup is trusted before the store is asked again. Revocation must
/// take effect within 5 s; 2 s leaves room for a slow lookup. Rejected: a revocation
/// generation polled from the store (one query a second per process instead of one per
/// token per 2 s, but a row deleted by hand would stay cached forever).
pub const RECHECK: Duration = Duration::from_secs(2);

/// SHA-256 of a presented token: the form in which tokens are stored and cached.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random API token (shown once, stored as its digest).
pub fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    format!("xk_{}", hex::encode(bytes))
}

/// Token lookups by digest, known tokens and refused ones (unknown, revoked) kept apart:
/// a flood of made-up tokens fills and empties only the refused half, so it cannot push a
/// real device's token out of the cache and send it to the store on every request.
#[derive(Debug)]
pub struct TokenCache {
    known: BoundedCache<[u8; 32], Lookup>,
    refused: BoundedCache<[u8; 32], Lookup>,
}

impl TokenCache {
    /// At most `capacity` known and `capacity` refused lookups.
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            known: BoundedCache::new(capacity),
            refused: BoundedCache::new(capacity),
        }
    }

    /// Whether the digest was last found to be a real token (however long ago): its
    /// re-check is not a stranger's lookup.
    pub fn knows(&self, digest: &[u8; 32]) -> bool {
        self.known.get(digest).is_some()
    }

    fn get(&self, digest: &[u8; 32]) -> Option<Lookup> {
        self.known.get(digest).or_else(|| self.refused.get(digest))
    }

    fn put(&self, digest: [u8; 32], lookup: Lookup) {
        if matches!(lookup.found, Found::Known { .. }) {
            self.refused.remove(&digest);
            self.known.put(digest, lookup);
        } else {
            self.known.remove(&digest);
            self.refused.put(digest, lookup);
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.known.clear();
        self.refused.clear();
    }
}

/// What the store said about a digest, as cached.
#[derive(Debug, Clone)]
pub struct Lookup {
    found: Found,
    checked: Instant,
}

#[derive(Debug, Clone)]
enum Found {
    /// No such token, or one with a role this build does not know (refused alike).
    Unknown,
    Revoked,
    Known {
        id: TokenId,
        actor: Actor,
        expires_at: Timestamp,
    },
}

/// The caller a stored token stands for (`None` for an unknown role).
pub fn caller_from(t: &StoredToken) -> Option<Actor> {
    let role = Role::parse(&t.token.role)?;
    Some(Actor {
        name: t.token.name.clone(),
        role,
        area: t.token.area.clone(),
        venue: t.token.venue,
        person: t.token.person,
        id_lookup: t.token.id_lookup,
        enterprise: crate::app::actor::enterprise_binding(role, t.token.enterprise.as_deref())?,
    })
}

fn found(t: Option<StoredToken>) -> Found {
    match t {
        None => Found::Unknown,
        Some(t) if t.revoked_at.is_some() => Found::Revoked,
        Some(t) => match caller_from(&t) {
            Some(actor) => Found::Known {
                id: t.id,
                actor,
                expires_at: t.token.expires_at,
            },
            None => Found::Unknown,
        },
    }
}

/// The verdict on a lookup at `now`: the actor, or why the token is refused.
fn verdict(found: &Found, now: Timestamp) -> Result<Actor, AppError> {
    match found {
        Found::Unknown => Err(AppError::Unauthorized),
        Found::Revoked => Err(AppError::TokenRefused {
            code: "token_revoked",
            message: "this token was revoked",
        }),
        Found::Known {
            expires_at, actor, ..
        } if now < *expires_at => Ok(actor.clone()),
        Found::Known { id, .. } => {
            tracing::debug!(token = %id, "expired token presented");
            Err(AppError::TokenRefused {
                code: "token_expired",
                message: "this token has expired",
            })
        }
    }
}

/// The caller a presented token stands for at `now`: cached by digest for at most
/// [`RECHECK`] (unknown tokens too, so a flood of one bad token does not reach the store),
/// else looked up in the store. 401 for an unknown, expired or revoked token.
pub async fn authenticate(
    state: &AppState,
    token: &str,
    now: Timestamp,
) -> Result<Actor, AppError> {
    authenticate_at(state, token, now, Instant::now()).await
}

/// [`authenticate`] with the monotonic instant used to age cache entries given, so that a
/// test can ask what happens [`RECHECK`] later without waiting for it.
pub async fn authenticate_at(
    state: &AppState,
    token: &str,
    now: Timestamp,
    at: Instant,
) -> Result<Actor, AppError> {
    let digest = token_digest(token.trim());
    match cached(state, &digest, now, at) {
        Some(answer) => answer,
        None => lookup(state, digest, now, at).await,
    }
}

/// The auth cache's answer for a digest at `now`, if it holds a lookup younger than
/// [`RECHECK`]: the edge's fast path, which refuses a known-bad token and admits a
/// known-good one in microseconds. `None`: only the store can tell ([`lookup`]).
pub fn cached(
    state: &AppState,
    digest: &[u8; 32],
    now: Timestamp,
    at: Instant,
) -> Option<Result<Actor, AppError>> {
    state
        .auth_cache
        .get(digest)
        .filter(|hit| at.saturating_duration_since(hit.checked) < RECHECK)
        .map(|hit| verdict(&hit.found, now))
}

/// Looks a token digest up in the store and caches the answer (found or not).
pub async fn lookup(
    state: &AppState,
    digest: [u8; 32],
    now: Timestamp,
    at: Instant,
) -> Result<Actor, AppError> {
    let store = state.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.api_token(&digest)).await??;
    let lookup = Lookup {
        found: found(stored),
        checked: at,
    };
    let answer = verdict(&lookup.found, now);
    state.auth_cache.put(digest, lookup);
    answer
}

/// Forgets every cached lookup, so that a revocation made here is seen at once by this
/// process (other processes see it within [`RECHECK`]).
pub fn forget_cached_tokens(state: &AppState) {
    state.auth_cache.clear();
}

/// A token's expiry: `requested` if given (after `now`, no later than the role's ceiling),
/// else the role's default. 400 `invalid_expiry` otherwise.
pub fn token_expiry(
    role: Role,
    requested: Option<Timestamp>,
    now: Timestamp,
) -> Result<Timestamp, AppError> {
    let life = role.token_lifetime();
    match requested {
        None => Ok(now.plus(life.default)),
        Some(t) if t > now && t <= now.plus(life.max) => Ok(t),
        Some(_) => Err(AppError::bad(
            "invalid_expiry",
            format!(
                "a {} token expires after now and at most {} days from now",
                role.as_str(),
                life.max / 86_400
            ),
        )),
    }
}

impl FromRequestParts<Arc<AppState>> for Actor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Actor, AppError> {
        // The edge has already resolved the token (before the request took a slot).
        if let Some(crate::edge::Authenticated(actor)) = parts.extensions.get() {
            return Ok(actor.clone());
        }
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(AppError::Unauthorized)?;
        authenticate(state, token, crate::now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::AreaCode;

    fn known(expires_at: i64) -> Found {
        Found::Known {
            id: TokenId(1),
            actor: Actor {
                name: "door".into(),
                role: Role::VenueDevice,
                area: AreaCode::parse("320213").expect("area"),
                venue: None,
                person: None,
                id_lookup: false,
                enterprise: None,
            },
            expires_at: Timestamp(expires_at),
        }
    }

    fn code(r: Result<Actor, AppError>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.summary().1,
        }
    }

    #[test]
    fn a_flood_of_made_up_tokens_does_not_evict_a_real_one() {
        let cache = TokenCache::new(64);
        let checked = Instant::now();
        let real = [7u8; 32];
        cache.put(
            real,
            Lookup {
                found: known(100),
                checked,
            },
        );
        for i in 0..10_000u32 {
            let mut junk = [0u8; 32];
            junk[..4].copy_from_slice(&i.to_le_bytes());
            cache.put(
                junk,
                Lookup {
                    found: Found::Unknown,
                    checked,
                },
            );
        }
        let hit = cache.get(&real).expect("the real token is still cached");
        assert_eq!(code(verdict(&hit.found, Timestamp(1))), "ok");
        // Its re-check is not a stranger's lookup (the edge skips the address's budget).
        assert!(cache.knows(&real));
        assert!(!cache.knows(&[0u8; 32]), "a made-up token is no known one");
        // A token revoked later moves to the refused half and is refused from the cache.
        cache.put(
            real,
            Lookup {
                found: Found::Revoked,
                checked,
            },
        );
        let hit = cache.get(&real).expect("cached");
        assert_eq!(code(verdict(&hit.found, Timestamp(1))), "token_revoked");
        assert!(
            !cache.knows(&real),
            "a revoked token is re-checked as a stranger's"
        );
    }

    #[test]
    fn a_token_works_until_the_second_it_expires() {
        assert_eq!(code(verdict(&known(100), Timestamp(99))), "ok");
        assert_eq!(code(verdict(&known(100), Timestamp(100))), "token_expired");
        assert_eq!(
            code(verdict(&Found::Revoked, Timestamp(0))),
            "token_revoked"
        );
        assert_eq!(code(verdict(&Found::Unknown, Timestamp(0))), "unauthorized");
    }

    #[test]
    fn an_expiry_is_the_role_default_or_within_its_ceiling() {
        let now = Timestamp(1_000_000);
        let admin = Role::Admin.token_lifetime();
        let device = Role::VenueDevice.token_lifetime();
        assert!(admin.default < device.default, "admins short, devices long");
        assert_eq!(
            token_expiry(Role::Admin, None, now).ok(),
            Some(now.plus(admin.default))
        );
        let later = now.plus(admin.max);
        assert_eq!(
            token_expiry(Role::Admin, Some(later), now).ok(),
            Some(later)
        );
        for bad in [now, now.plus(-1), now.plus(admin.max + 1)] {
            assert_eq!(
                token_expiry(Role::Admin, Some(bad), now)
                    .map_err(|e| e.summary().1)
                    .err(),
                Some("invalid_expiry")
            );
        }
    }
}
