//! Printable identity cards for people without a phone (docs/claim.md): a signed `XKC1:`
//! token ([`xikang_code::CardClaims`]) that says who the holder is and which card it is,
//! never a colour. An admin or grid worker issues one (`POST /people/{id}/card`, a
//! `card_issued` authority event whose sequence number is the card's number) and prints it
//! (`/cards/{id}/qr.svg`, `qr.png`, or the page `/web/cards/{id}`); an admin revokes it
//! (`POST /cards/{id}/revoke`, a `card_revoked` event). A venue device scanning it is
//! answered online with today's colour ([`AppState::identify_card`], on the scan path);
//! a revoked card is refused with `card_revoked`, never treated as green.

use crate::app::{Actor, Role, authorise};
use crate::claim::Card;
use crate::error::{AppError, ItemError, item_err};
use crate::extract::{Id, JsonIn};
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_code::CardClaims;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::time::DAY;
use xikang_domain::{EventSeq, PersonId, Timestamp};

/// How long a card is valid: a year (or until the signing key's end, if sooner).
pub const CARD_LIFETIME_SECS: i64 = 365 * DAY;
/// Who may issue cards: admins and grid workers (who visit the people without phones).
pub const ISSUERS: &[Role] = &[Role::Admin, Role::GridWorker];

/// An issued card.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CardOut {
    /// The card's number (`E…`): by it the card is printed and revoked.
    pub card: String,
    pub person: String,
    pub issued_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    /// The `XKC1:` text the QR code holds.
    pub token: String,
    /// Where to print it.
    pub svg: String,
    pub png: String,
    pub page: String,
}

impl AppState {
    /// The card's signed text: deterministic, so a reprint is the same card.
    pub fn card_token(&self, card: &Card) -> String {
        let ring = self.keys(crate::now());
        ring.signer.issue_card(&CardClaims {
            issuer: ring.signer.jurisdiction().to_owned(),
            subject: self.pseudonyms.pseudonym(card.person),
            card: card.id.0,
            issued_at: card.issued_at,
            expires_at: card.expires_at,
        })
    }

    /// The person a scanned identity card names, checked online: signature and validity,
    /// then the card against the log (known, the same person, not revoked). No cache: a
    /// revocation applies to the next scan.
    pub fn identify_card(&self, token: &str, now: Timestamp) -> Result<PersonId, ItemError> {
        let issuer = Some(self.config.jurisdiction.as_str());
        let claims = self
            .keys(now)
            .verifier
            .verify_card(token, issuer, now)
            .map_err(|e| item_err(e.code(), e.to_string()))?;
        let person = self.pseudonyms.person_of(&claims.subject);
        let creds = read(&self.projection.credentials);
        let card = creds
            .cards
            .get(&EventSeq(claims.card))
            .filter(|c| Some(c.person) == person && c.issued_at == claims.issued_at)
            .ok_or_else(|| item_err("card_unknown", "this card was not issued here"))?;
        if card.revoked_at.is_some() {
            return Err(item_err("card_revoked", "this card has been revoked"));
        }
        Ok(card.person)
    }
}

fn card_out(state: &AppState, c: &Card) -> CardOut {
    let n = c.id.to_string();
    CardOut {
        card: n.clone(),
        person: c.person.to_string(),
        issued_at: c.issued_at.to_rfc3339(),
        expires_at: c.expires_at.to_rfc3339(),
        revoked_at: c.revoked_at.map(Timestamp::to_rfc3339),
        token: state.card_token(c),
        svg: format!("/api/v1/cards/{n}/qr.svg"),
        png: format!("/api/v1/cards/{n}/qr.png"),
        page: format!("/web/cards/{n}"),
    }
}

/// `POST /api/v1/people/{id}/card`: issues a card (admins and grid workers of the
/// person's area).
pub async fn post_card(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(person): Id<PersonId>,
) -> Result<(StatusCode, Json<CardOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(issue(&state, &caller, person).await?),
    ))
}

/// Issues a card for a person the caller may see: logged, then signed.
pub async fn issue(
    state: &AppState,
    caller: &Actor,
    person: PersonId,
) -> Result<CardOut, AppError> {
    caller.require(ISSUERS, "issuing identity cards")?;
    let person = authorise::person(state, caller, person)?.into_inner();
    let now = crate::now();
    let expires_at = now
        .plus(CARD_LIFETIME_SECS)
        .min(state.keys(now).signer.not_after());
    let stored = state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: "printable identity card for a resident without a phone".into(),
            body: EventBody::CardIssued { person, expires_at },
        }])
        .await?;
    let seq = stored
        .first()
        .map(|e| e.seq)
        .ok_or_else(|| AppError::Internal("a card's event was not stored".into()))?;
    let card = read(&state.projection.credentials)
        .cards
        .get(&seq)
        .cloned()
        .ok_or_else(|| AppError::Internal("a card's event was not applied".into()))?;
    tracing::info!(card = %seq, "identity card issued");
    Ok(card_out(state, &card))
}

/// `GET /api/v1/cards/{id}`: the card (its issuers, its holder, their guardians).
pub async fn get_card(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(card): Id<EventSeq>,
) -> Result<Json<CardOut>, AppError> {
    let c = authorise::card(&state, &caller, card)?;
    Ok(Json(card_out(&state, &c)))
}

/// `GET /api/v1/cards/{id}/qr.svg`.
pub async fn get_card_svg(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(card): Id<EventSeq>,
) -> Result<Response, AppError> {
    let c = authorise::card(&state, &caller, card)?;
    let svg = xikang_code::try_qr_svg(&state.card_token(&c))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(image("image/svg+xml", svg.into_bytes()))
}

/// `GET /api/v1/cards/{id}/qr.png` (8 pixels per module: sharp on paper).
pub async fn get_card_png(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(card): Id<EventSeq>,
) -> Result<Response, AppError> {
    let c = authorise::card(&state, &caller, card)?;
    let png = xikang_code::try_qr_png(&state.card_token(&c), 8)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(image("image/png", png))
}

fn image(content_type: &'static str, body: Vec<u8>) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `POST /cards/{id}/revoke` (and a commuter pass's revocation).
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeIn {
    #[serde(default)]
    pub reason: String,
}

impl RevokeIn {
    /// The reason, trimmed: at most 500 characters, none a control character.
    pub fn reason(self) -> Result<String, AppError> {
        let reason = self.reason.trim().to_owned();
        if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
            return Err(AppError::bad(
                "invalid_reason",
                "a reason is at most 500 characters, without control characters",
            ));
        }
        Ok(reason)
    }
}

/// `POST /api/v1/cards/{id}/revoke`: an admin of the holder's area revokes a card (lost,
/// misused). Logged; a venue scanning it is refused from the next scan on.
pub async fn post_revoke(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(card): Id<EventSeq>,
    input: JsonIn<RevokeIn>,
) -> Result<Json<CardOut>, AppError> {
    Ok(Json(revoke(&state, &caller, card, input).await?))
}

/// Revokes a card; revoking it again changes nothing.
pub async fn revoke(
    state: &AppState,
    caller: &Actor,
    card: EventSeq,
    input: JsonIn<RevokeIn>,
) -> Result<CardOut, AppError> {
    caller.require(&[Role::Admin], "revoking identity cards")?;
    let c = authorise::card(state, caller, card)?.into_inner();
    let reason = input.get_or_default()?.reason()?;
    if c.revoked_at.is_none() {
        state
            .record(vec![NewEvent {
                at: crate::now(),
                actor: caller.actor(),
                basis: "identity card revoked".into(),
                body: EventBody::CardRevoked {
                    person: c.person,
                    card,
                    reason,
                },
            }])
            .await?;
        tracing::info!(card = %card, "identity card revoked");
    }
    let now = read(&state.projection.credentials)
        .cards
        .get(&card)
        .cloned()
        .unwrap_or(c);
    Ok(card_out(state, &now))
}
