//! Bearer-token authentication: the [`Actor`] a presented token stands for. Tokens are
//! random strings shown once at creation; only their SHA-256 is stored. What an actor may
//! touch is decided in [`crate::app::authorise`].

use crate::app::{Actor, Role};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use xikang_store::ApiToken;

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

/// The caller a stored token stands for (`None` for an unknown role).
pub fn caller_from(t: ApiToken) -> Option<Actor> {
    Some(Actor {
        name: t.name,
        role: Role::parse(&t.role)?,
        area: t.area,
        venue: t.venue,
        person: t.person,
        id_lookup: t.id_lookup,
    })
}

/// What the auth cache knows of a token digest, without touching the store.
#[derive(Debug, Clone)]
pub enum Cached {
    /// A known token and its caller.
    Known(Actor),
    /// A token looked up before and not found.
    Unknown,
    /// Not in the cache: only the store can tell ([`lookup_caller`]).
    Miss,
}

/// The auth cache's answer for a digest: the edge's fast path, which refuses a known-bad
/// token and admits a known-good one in microseconds.
pub fn cached_caller(state: &AppState, digest: &[u8; 32]) -> Cached {
    match state.auth_cache.get(digest) {
        Some(Some(actor)) => Cached::Known(actor),
        Some(None) => Cached::Unknown,
        None => Cached::Miss,
    }
}

/// The caller a presented token stands for: cached by digest (unknown tokens too, so a
/// flood of bad tokens does not reach the store), else looked up in the store.
pub async fn caller_for_token(state: &AppState, token: &str) -> Result<Option<Actor>, AppError> {
    let digest = token_digest(token.trim());
    match cached_caller(state, &digest) {
        Cached::Known(actor) => Ok(Some(actor)),
        Cached::Unknown => Ok(None),
        Cached::Miss => lookup_caller(state, digest).await,
    }
}

/// Looks a token digest up in the store and caches the answer (found or not).
pub async fn lookup_caller(state: &AppState, digest: [u8; 32]) -> Result<Option<Actor>, AppError> {
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.api_token(&digest)).await??;
    let caller = found.and_then(caller_from);
    state.auth_cache.put(digest, caller.clone());
    Ok(caller)
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
        caller_for_token(state, token)
            .await?
            .ok_or(AppError::Unauthorized)
    }
}
