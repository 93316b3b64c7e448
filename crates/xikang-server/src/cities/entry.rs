//! The entry check at a venue or checkpoint (查验点) that may meet another city's code
//! (docs/cities.md): `POST /api/v1/entry-checks`. The code is verified offline — this
//! city's own codes with its own keys, a peer's with the peer's last good signed list —
//! then, where this city's policy says so (`[parameters] peer_online_check = 1`), the
//! issuing city is asked for the code's current colour (`POST /api/v1/codes/current`
//! there), and the door's decision is **this city's** rule for the venue's category
//! ([`xikang_domain::policy::check_shown`]). A commuter pass (`XP1:`) shown with the code
//! must verify, belong to the same person, cross this city, be unrevoked, and find the
//! holder's last negative test within the pass's hours.
//!
//! A refusal is an answer (`allow: false` and a stable `reason`), never a guess: an
//! unknown city, a missing list, an unreachable peer when the rules require asking it, a
//! revoked key or pass are all refusals. Like a venue scan, a check is not an authority
//! event (scans are high-volume data, docs/decisions.md); it records nothing.

use crate::app::{Actor, Role, authorise};
use crate::cities::http;
use crate::cities::peers::PeerList;
use crate::error::AppError;
use crate::extract::{JsonIn, parse_id};
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_code::{CodeClaims, PassClaims, RevokedKind, Verifier, VerifyError, decode_unverified};
use xikang_domain::policy::{Shown, check_shown};
use xikang_domain::time::HOUR;
use xikang_domain::{Colour, Timestamp, VenueCategory, VenueId};

/// Who may check entries: venue devices (their venue, or a category they name) and admins.
pub const CHECKERS: &[Role] = &[Role::VenueDevice, Role::Admin];

/// `POST /api/v1/entry-checks`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryIn {
    /// The health code shown (`XK1:…`), of this city or a peer.
    pub code: String,
    /// A commuter pass shown with it (`XP1:…`).
    #[serde(default)]
    pub pass: Option<String>,
    /// The venue (`V…`) whose rules apply; default: the device's own venue.
    #[serde(default)]
    pub venue: Option<String>,
    /// Or a venue category (a checkpoint without a venue record).
    #[serde(default)]
    pub category: Option<String>,
}

/// The decision.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryOut {
    pub allow: bool,
    /// `ok`, a door rule's reason (`colour_yellow`, `test_too_old`, …), or why the code
    /// or pass was refused (`token_expired`, `peer_unknown`, `pass_revoked`, …).
    pub reason: &'static str,
    /// The code's issuing jurisdiction, once its signature checked.
    pub issuer: Option<String>,
    pub colour: Option<Colour>,
    pub hours_since_negative: Option<u32>,
    /// `own` (this city's code), `offline` (a peer's cached list) or `online` (the peer
    /// was asked for the current colour).
    pub checked: Option<&'static str>,
    /// The pass's number, when one was shown and verified.
    pub pass: Option<u64>,
}

fn refused(reason: &'static str) -> EntryOut {
    EntryOut {
        allow: false,
        reason,
        issuer: None,
        colour: None,
        hours_since_negative: None,
        checked: None,
        pass: None,
    }
}

/// The code's checks, done: who issued it, what it shows, and how it was checked.
struct Checked {
    claims: CodeClaims,
    shown: Shown,
    how: &'static str,
    /// The issuer's list, for a peer's code (its passes and revocations).
    list: Option<Arc<PeerList>>,
}

/// `POST /api/v1/entry-checks`: verifies a code (and a pass) and applies this city's rule.
pub async fn post_entry_check(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<EntryIn>,
) -> Result<Json<EntryOut>, AppError> {
    caller.require(CHECKERS, "checking entries")?;
    let input = input.get()?;
    let category = category(&state, &caller, &input)?;
    Ok(Json(check(&state, &input, &category, crate::now()).await))
}

/// The rules' category: the named venue's (authorised), the device's venue's, or the
/// category named.
fn category(state: &AppState, caller: &Actor, input: &EntryIn) -> Result<VenueCategory, AppError> {
    let venue = match &input.venue {
        Some(v) => Some(authorise::venue(state, caller, parse_id::<VenueId>(v)?)?.into_inner()),
        None => caller.venue,
    };
    if let Some(v) = venue {
        return state
            .projection
            .venues
            .get(v)
            .map(|v| v.category.clone())
            .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {v}")));
    }
    let name = input
        .category
        .as_deref()
        .ok_or_else(|| AppError::bad("category_required", "name a venue or a venue category"))?;
    VenueCategory::parse(name).map_err(|e| AppError::bad("invalid_category", e.to_string()))
}

/// The whole check: the code, the pass, then the door's rule.
pub async fn check(
    state: &AppState,
    input: &EntryIn,
    category: &VenueCategory,
    now: Timestamp,
) -> EntryOut {
    let checked = match check_code(state, &input.code, now).await {
        Ok(c) => c,
        Err(reason) => return refused(reason),
    };
    let mut out = EntryOut {
        issuer: Some(checked.claims.issuer.clone()),
        colour: Some(checked.shown.colour),
        checked: Some(checked.how),
        ..refused("ok")
    };
    if let Some(pass) = &input.pass {
        match check_pass(state, pass, &checked, now) {
            Ok(p) => out.pass = Some(p.pass),
            Err(reason) => {
                out.reason = reason;
                return out;
            }
        }
    }
    let decision = check_shown(&state.policy(), &checked.shown, category, now);
    out.allow = decision.allow;
    out.reason = decision.reason;
    out.hours_since_negative = decision.hours_since_negative;
    out
}

/// Verifies a code: this city's own against its keys and its live evaluation, a peer's
/// against the peer's last good list (and, if the rules say so, the peer's answer now).
async fn check_code(state: &AppState, code: &str, now: Timestamp) -> Result<Checked, &'static str> {
    let (kid, unverified) = decode_unverified(code).map_err(|e| e.code())?;
    if unverified.issuer == state.config.jurisdiction {
        let ring = state.keys(now);
        if ring.key_revoked(&hex::encode(kid)) {
            return Err("token_key_revoked");
        }
        let claims = ring
            .verifier
            .verify(code, Some(&state.config.jurisdiction), now)
            .map_err(|e| e.code())?;
        let shown = own_shown(state, &claims, now).ok_or("unknown_person")?;
        return Ok(Checked {
            claims,
            shown,
            how: "own",
            list: None,
        });
    }
    let peer = read(&state.projection.cities)
        .peer_for(&unverified.issuer)
        .cloned()
        .ok_or("peer_unknown")?;
    let list = state
        .cities
        .lists
        .get(&peer.name)
        .list
        .ok_or("peer_list_missing")?;
    if list.doc.key_revoked(&hex::encode(kid)) {
        return Err("token_key_revoked");
    }
    let claims = list
        .verifier
        .verify(code, Some(&peer.anchor.jurisdiction), now)
        .map_err(|e| e.code())?;
    if list.doc.is_revoked(RevokedKind::Subject, &claims.subject) {
        return Err("subject_revoked");
    }
    let mut shown = Shown {
        colour: claims.colour,
        last_negative: claims.last_negative,
        last_sample: None,
        // Another city's vaccinations are not known here: a door that requires one refuses.
        vaccination: Default::default(),
    };
    let mut how = "offline";
    if state.policy().parameter("peer_online_check").unwrap_or(0) > 0 {
        let current = ask_current(&peer.url, code)
            .await
            .ok_or("peer_unreachable")?;
        // The stricter of what the code says and what its city says now.
        shown.colour = shown.colour.max(current.colour);
        shown.last_negative = current.last_negative;
        how = "online";
    }
    Ok(Checked {
        claims,
        shown,
        how,
        list: Some(list),
    })
}

fn own_shown(state: &AppState, claims: &CodeClaims, now: Timestamp) -> Option<Shown> {
    let person = state.pseudonyms.person_of(&claims.subject)?;
    let (eval, last_sample) = state.evaluate(person, now)?;
    Some(Shown {
        colour: eval.colour,
        last_negative: eval.last_negative,
        last_sample,
        vaccination: crate::lab::vaccination_status(state, person),
    })
}

/// What a code's city says of it now.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CurrentOut {
    pub issuer: String,
    pub colour: Colour,
    pub last_negative: Option<Timestamp>,
    pub evaluated_at: Timestamp,
}

async fn ask_current(url: &str, code: &str) -> Option<CurrentOut> {
    let body = serde_json::to_vec(&serde_json::json!({ "token": code })).ok()?;
    let a = http::request(url, "POST", "/api/v1/codes/current", Some(&body))
        .await
        .ok()?;
    (a.status == 200)
        .then(|| serde_json::from_slice(&a.body).ok())
        .flatten()
}

/// The pass's number, or why it is refused.
fn check_pass(
    state: &AppState,
    token: &str,
    code: &Checked,
    now: Timestamp,
) -> Result<PassClaims, &'static str> {
    let own;
    let verifier: &Verifier = match &code.list {
        Some(l) => &l.verifier,
        None => {
            own = state.keys(now);
            &own.verifier
        }
    };
    let pass = verifier
        .verify_pass(token, Some(&code.claims.issuer), now)
        .map_err(|e| pass_code(&e))?;
    if pass.subject != code.claims.subject {
        return Err("pass_holder_mismatch");
    }
    let revoked = match &code.list {
        Some(l) => l.doc.is_revoked(RevokedKind::Pass, &pass.pass.to_string()),
        None => {
            let records = read(&state.projection.cities);
            records
                .passes
                .get(&xikang_domain::EventSeq(pass.pass))
                .is_none_or(|p| p.revoked.is_some())
        }
    };
    if revoked {
        return Err("pass_revoked");
    }
    let crosses_here = pass
        .route
        .split('>')
        .any(|j| j == state.config.jurisdiction);
    if !crosses_here {
        return Err("pass_wrong_route");
    }
    let fresh = code
        .shown
        .last_negative
        .is_some_and(|t| now.0 - t.0 <= i64::from(pass.max_test_age_hours) * HOUR);
    if !fresh {
        return Err("pass_test_too_old");
    }
    Ok(pass)
}

/// A pass's verification failure, named as the pass's.
fn pass_code(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::Malformed(_) | VerifyError::CardNotCode => "pass_malformed",
        VerifyError::Tampered => "pass_tampered",
        VerifyError::Expired { .. } | VerifyError::UploadTooLate { .. } => "pass_expired",
        VerifyError::UnknownKey => "pass_unknown_key",
        VerifyError::WrongIssuer { .. } => "pass_wrong_issuer",
        VerifyError::KeyNotValid => "pass_key_not_valid",
        VerifyError::NotYetValid | VerifyError::NotValidAt { .. } => "pass_not_yet_valid",
    }
}

/// `POST /api/v1/codes/current`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CurrentIn {
    pub token: String,
}

/// `POST /api/v1/codes/current`: what this city says now of one of its own codes (a peer's
/// venue asks when its rules require). Public: whoever holds a valid code learns no more
/// than the code's own holder could show; 422 with the code's refusal otherwise.
pub async fn post_current(
    State(state): State<Arc<AppState>>,
    input: JsonIn<CurrentIn>,
) -> Result<Json<CurrentOut>, AppError> {
    let input = input.get()?;
    let now = crate::now();
    let issuer = state.config.jurisdiction.clone();
    let refuse = |code: &'static str| AppError::Unprocessable {
        code,
        message: "not a valid code of this city".into(),
        details: None,
    };
    let claims = state
        .keys(now)
        .verifier
        .verify(&input.token, Some(&issuer), now)
        .map_err(|e| refuse(e.code()))?;
    let shown = own_shown(&state, &claims, now).ok_or_else(|| refuse("unknown_person"))?;
    Ok(Json(CurrentOut {
        issuer,
        colour: shown.colour,
        last_negative: shown.last_negative,
        evaluated_at: now,
    }))
}
