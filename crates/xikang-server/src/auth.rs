//! Bearer-token authentication and role checks. Tokens are random strings shown once at
//! creation; only their SHA-256 is stored. Every caller has one role and one jurisdiction
//! (an area code: city, district or street) and may act only inside it.

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use xikang_domain::{AreaCode, PersonId, VenueId};
use xikang_store::ApiToken;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Tracer,
    Lab,
    VenueDevice,
    GridWorker,
    Resident,
    /// Manages one or more quarantine sites (sites name their manager).
    SiteManager,
    /// A mobile carrier's feed: posts location pings, reads nothing.
    Carrier,
}

impl Role {
    /// Parses the stored role name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "tracer" => Role::Tracer,
            "lab" => Role::Lab,
            "venue_device" => Role::VenueDevice,
            "grid_worker" => Role::GridWorker,
            "resident" => Role::Resident,
            "site_manager" => Role::SiteManager,
            "carrier" => Role::Carrier,
            _ => return None,
        })
    }

    /// The stored role name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Tracer => "tracer",
            Role::Lab => "lab",
            Role::VenueDevice => "venue_device",
            Role::GridWorker => "grid_worker",
            Role::Resident => "resident",
            Role::SiteManager => "site_manager",
            Role::Carrier => "carrier",
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub area: AreaCode,
    /// For a venue device: the venue it belongs to (None = any venue in its area).
    pub venue: Option<VenueId>,
    /// For a resident: the person they are.
    pub person: Option<PersonId>,
    /// Whether this caller may look people up by ID number (devices for residents
    /// without a phone; staff).
    pub id_lookup: bool,
}

impl Caller {
    /// Fails unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role], what: &'static str) -> Result<(), AppError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(what))
        }
    }

    /// Whether `area` lies inside the caller's jurisdiction.
    pub fn covers(&self, area: &AreaCode) -> bool {
        self.area.contains(area)
    }

    /// Whether the caller may see a person who lives in `area`: staff inside their
    /// jurisdiction, a resident only themselves, a venue device nobody.
    pub fn may_see(&self, person: PersonId, area: &AreaCode) -> bool {
        match self.role {
            Role::Resident => self.person == Some(person),
            Role::Admin | Role::Tracer | Role::GridWorker | Role::Lab => self.covers(area),
            Role::VenueDevice | Role::SiteManager | Role::Carrier => false,
        }
    }

    /// The actor name written into authority events.
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.name)
    }
}

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
pub fn caller_from(t: ApiToken) -> Option<Caller> {
    Some(Caller {
        name: t.name,
        role: Role::parse(&t.role)?,
        area: t.area,
        venue: t.venue,
        person: t.person,
        id_lookup: t.id_lookup,
    })
}

/// The caller a presented token stands for: cached by digest (unknown tokens too, so a
/// flood of bad tokens does not reach the store), else looked up in the store.
pub async fn caller_for_token(state: &AppState, token: &str) -> Result<Option<Caller>, AppError> {
    let digest = token_digest(token.trim());
    if let Some(hit) = state.auth_cache.get(&digest) {
        return Ok(hit);
    }
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.api_token(&digest)).await??;
    let caller = found.and_then(caller_from);
    state.auth_cache.put(digest, caller.clone());
    Ok(caller)
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Caller, AppError> {
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
