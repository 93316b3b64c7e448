//! API tokens over HTTP: issue (`POST /tokens`), list without secrets (`GET /tokens`) and
//! revoke (`DELETE /tokens/{id}`), each for admins over the tokens of their area. Expiry
//! defaults and ceilings per role are [`Role::token_lifetime`]; how a revocation reaches
//! every cache is in [`crate::auth`].

use super::*;
use crate::auth::{forget_cached_tokens, new_token, token_digest, token_expiry};
use crate::wire::TokenOut;
use xikang_domain::TokenId;
use xikang_store::{ApiToken, StoredToken};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    name: String,
    role: String,
    area: String,
    #[serde(default)]
    venue: Option<String>,
    #[serde(default)]
    person: Option<String>,
    #[serde(default)]
    id_lookup: bool,
    /// For an enterprise's token (and only for one): its unified social credit code.
    #[serde(default)]
    enterprise: Option<String>,
    /// RFC 3339; the role's default lifetime when absent, at most its ceiling.
    #[serde(default)]
    expires_at: Option<String>,
}

/// A token as listed: what it allows and its lifetime, never its secret (which is not
/// stored) nor its digest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenInfoOut {
    pub area: String,
    pub created_at: String,
    pub expires_at: String,
    pub id: String,
    pub id_lookup: bool,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    pub role: String,
    /// `active`, `expired` or `revoked`, at the server's clock.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub venue: Option<String>,
}

impl TokenInfoOut {
    fn new(t: &StoredToken, now: Timestamp) -> TokenInfoOut {
        let state = match (t.revoked_at, now < t.token.expires_at) {
            (Some(_), _) => "revoked",
            (None, false) => "expired",
            (None, true) => "active",
        };
        TokenInfoOut {
            area: t.token.area.as_str().to_owned(),
            created_at: t.token.created_at.to_rfc3339(),
            expires_at: t.token.expires_at.to_rfc3339(),
            id: t.id.to_string(),
            id_lookup: t.token.id_lookup,
            name: t.token.name.clone(),
            enterprise: t.token.enterprise.clone(),
            person: t.token.person.map(|p| p.to_string()),
            revoked_at: t.revoked_at.map(Timestamp::to_rfc3339),
            role: t.token.role.clone(),
            state,
            venue: t.token.venue.map(|v| v.to_string()),
        }
    }
}

/// The enterprise a new token or user of `role` is bound to: required for an enterprise's
/// account (`400 enterprise_required`), refused for any other role (`400
/// invalid_enterprise`), so that no token is half bound.
pub fn enterprise_of(
    role: Role,
    given: Option<&str>,
) -> Result<Option<xikang_domain::enterprise::CreditCode>, AppError> {
    let given = given.map(str::trim).filter(|s| !s.is_empty());
    match (role, given) {
        (Role::Enterprise, None) => Err(AppError::bad(
            "enterprise_required",
            "an enterprise's token names its unified social credit code",
        )),
        (Role::Enterprise, Some(code)) => xikang_domain::enterprise::CreditCode::parse(code)
            .map(Some)
            .map_err(|e| AppError::bad("invalid_credit_code", e.to_string())),
        (_, Some(_)) => Err(AppError::bad(
            "invalid_enterprise",
            "only an enterprise's token names an enterprise",
        )),
        (_, None) => Ok(None),
    }
}

/// `POST /api/v1/tokens`: an admin issues an API token for a user or device. The token is
/// returned once; only its digest is stored.
pub async fn post_token(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<TokenIn>,
) -> Result<Response, AppError> {
    let issued = issue_token(&state, &caller, input).await?;
    Ok((axum::http::StatusCode::CREATED, Json(issued)).into_response())
}

/// Issues an API token (admins, for their jurisdiction): the token is answered once and
/// only its digest is stored.
pub async fn issue_token(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<TokenIn>,
) -> Result<TokenOut, AppError> {
    caller.require(&[Role::Admin], "issuing tokens")?;
    let b = input.get()?;
    let role = Role::parse(&b.role)
        .ok_or_else(|| AppError::bad("invalid_role", format!("unknown role {:?}", b.role)))?;
    let area =
        AreaCode::parse(&b.area).map_err(|e| AppError::bad("invalid_area", e.to_string()))?;
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "the token's area is outside your jurisdiction",
        ));
    }
    if b.name.trim().is_empty() || b.name.len() > 100 {
        return Err(AppError::bad(
            "invalid_name",
            "name must be 1-100 characters",
        ));
    }
    let venue = match b.venue.as_deref() {
        Some(v) => Some(
            VenueId::parse(v)
                .filter(|v| state.projection.venues.get(*v).is_some())
                .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {v}")))?,
        ),
        None => None,
    };
    let person = match b.person.as_deref() {
        Some(p) => Some(
            PersonId::parse(p)
                .filter(|p| state.projection.person_exists(*p))
                .ok_or_else(|| AppError::not_found("unknown_person", format!("no person {p}")))?,
        ),
        None => None,
    };
    authorise::token_subject(state, &area, venue, person)?;
    if role == Role::Resident && person.is_none() {
        return Err(AppError::bad(
            "person_required",
            "a resident token names its person",
        ));
    }
    let enterprise = enterprise_of(role, b.enterprise.as_deref())?;
    let now = crate::now();
    let requested = parse_time(b.expires_at.as_deref())?;
    let expires_at = token_expiry(role, requested, now)?;
    let token = new_token();
    let row = ApiToken {
        name: b.name,
        role: role.as_str().into(),
        area,
        venue,
        person,
        id_lookup: b.id_lookup,
        enterprise: enterprise.map(String::from),
        created_at: now,
        expires_at,
    };
    let store = state.store.clone();
    let digest = token_digest(&token);
    let id = tokio::task::spawn_blocking(move || store.put_api_token(digest, &row))
        .await
        .map_err(blocking_err)??;
    tracing::info!(token = %id, role = role.as_str(), "token issued");
    Ok(TokenOut {
        expires_at: expires_at.to_rfc3339(),
        id: id.to_string(),
        role: role.as_str(),
        token,
    })
}

/// `GET /api/v1/tokens`: the tokens of the caller's area (admins), without secrets.
pub async fn list_tokens(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<ItemsOut<TokenInfoOut>>, AppError> {
    Ok(Json(tokens_of(&state, &caller).await?))
}

/// The tokens whose area lies inside the caller's (admins), by id, without secrets.
pub async fn tokens_of(
    state: &AppState,
    caller: &Actor,
) -> Result<ItemsOut<TokenInfoOut>, AppError> {
    caller.require(&[Role::Admin], "listing tokens")?;
    let store = state.store.clone();
    let all = tokio::task::spawn_blocking(move || store.api_tokens())
        .await
        .map_err(blocking_err)??;
    let now = crate::now();
    Ok(ItemsOut {
        items: all
            .iter()
            .filter(|t| caller.covers(&t.token.area))
            .map(|t| TokenInfoOut::new(t, now))
            .collect(),
    })
}

/// `DELETE /api/v1/tokens/{id}`: revokes a token of the caller's area (admins). Every
/// process on the store refuses it within [`crate::auth::RECHECK`]; this one at once.
pub async fn delete_token(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<TokenId>,
) -> Result<Json<TokenInfoOut>, AppError> {
    Ok(Json(revoke_token(&state, &caller, id).await?))
}

/// Revokes a token of the caller's area (admins); revoking it again changes nothing.
pub async fn revoke_token(
    state: &AppState,
    caller: &Actor,
    id: TokenId,
) -> Result<TokenInfoOut, AppError> {
    caller.require(&[Role::Admin], "revoking tokens")?;
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.api_token_by_id(id))
        .await
        .map_err(blocking_err)??
        .ok_or_else(|| AppError::not_found("unknown_token", format!("no token {id}")))?;
    authorise::area(caller, found.token.area.clone())?;
    let now = crate::now();
    let store = state.store.clone();
    let revoked = tokio::task::spawn_blocking(move || {
        store.revoke_api_token(id, now)?;
        store.api_token_by_id(id)
    })
    .await
    .map_err(blocking_err)??
    .ok_or_else(|| AppError::not_found("unknown_token", format!("no token {id}")))?;
    forget_cached_tokens(state);
    tracing::info!(token = %id, "token revoked");
    Ok(TokenInfoOut::new(&revoked, now))
}
