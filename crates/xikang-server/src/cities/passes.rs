//! Commuter passes (出入证, docs/cities.md). An employer's application is recorded for
//! a resident who lives here and works in a peer city (`POST /api/v1/passes`, by the
//! district's admins or grid workers, naming the employer); officials of the holder's
//! district approve it — as many distinct ones as the policy's `pass_approvals` says (two
//! when the policy does not say), the applicant never among them; the approved pass is a
//! signed `XP1:` token that both cities' checkpoints verify with the holder's current code
//! (`cities::entry`). A revoked pass is refused here at once and across the border once
//! the peer has fetched the signed list that names it (every `peer_refresh_secs`).

use crate::app::{Actor, Role, authorise};
use crate::cities::{Pass, PassStatus};
use crate::error::AppError;
use crate::extract::{Id, JsonIn, parse_id};
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_code::PassClaims;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::time::DAY;
use xikang_domain::{AreaCode, EventSeq, PersonId, Timestamp};

/// Who records an employer's application: admins and grid workers of the holder's district,
/// and an enterprise's account for the workers of its approved filing (docs/citizens.md).
pub const APPLICANTS: &[Role] = &[Role::Admin, Role::GridWorker, Role::Enterprise];
/// Longest validity of one pass.
pub const MAX_PASS_DAYS: i64 = 90;

/// `POST /api/v1/passes`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PassIn {
    /// The holder (`P…`), a resident here.
    pub person: String,
    /// The employer, as registered (name or unified social credit code).
    pub employer: String,
    /// The city of work (a peer's jurisdiction).
    pub work_jurisdiction: String,
    /// Days of validity from now, 1 to 90.
    pub days: i64,
    /// The holder's last negative test may be at most this old at each crossing (1–168).
    pub max_test_age_hours: u32,
}

/// A pass as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PassOut {
    pub pass: String,
    pub person: String,
    pub employer: String,
    pub route: String,
    pub valid_from: String,
    pub valid_until: String,
    pub max_test_age_hours: u32,
    pub status: PassStatus,
    pub approvals: Vec<String>,
    pub approvals_needed: u32,
    /// The signed `XP1:` text, once approved (and while neither revoked nor expired).
    pub token: Option<String>,
}

impl AppState {
    /// The pass's signed text: deterministic, so a reprint is the same pass.
    pub fn pass_token(&self, p: &Pass) -> Option<String> {
        let issued_at = p.approved_at()?;
        let ring = self.keys(crate::now());
        Some(ring.signer.issue_pass(&PassClaims {
            issuer: self.config.jurisdiction.clone(),
            subject: self.pseudonyms.pseudonym(p.person),
            pass: p.id.0,
            route: format!("{}>{}", self.config.jurisdiction, p.work_jurisdiction),
            max_test_age_hours: p.max_test_age_hours,
            issued_at,
            expires_at: p.valid_until.min(ring.signer.not_after()),
        }))
    }
}

fn pass_out(state: &AppState, p: &Pass, now: Timestamp) -> PassOut {
    let status = p.status(now);
    PassOut {
        pass: p.id.to_string(),
        person: p.person.to_string(),
        employer: p.employer.clone(),
        route: format!("{}>{}", state.config.jurisdiction, p.work_jurisdiction),
        valid_from: p.valid_from.to_rfc3339(),
        valid_until: p.valid_until.to_rfc3339(),
        max_test_age_hours: p.max_test_age_hours,
        status,
        approvals: p.approvals.iter().map(|a| a.0.clone()).collect(),
        approvals_needed: p.approvals_needed,
        token: (status == PassStatus::Approved)
            .then(|| state.pass_token(p))
            .flatten(),
    }
}

fn text_ok(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// Records an employer's application for a resident the caller may see.
pub async fn apply(state: &AppState, caller: &Actor, input: PassIn) -> Result<PassOut, AppError> {
    caller.require(APPLICANTS, "applying for commuter passes")?;
    // An enterprise applies as the employer it is, for its own workers.
    if caller.role == Role::Enterprise && !caller.is_enterprise(input.employer.trim()) {
        return Err(AppError::Forbidden(
            "an enterprise applies as its own credit code",
        ));
    }
    let person =
        authorise::pass_holder(state, caller, parse_id::<PersonId>(&input.person)?)?.into_inner();
    if !text_ok(&input.employer, 100) {
        return Err(AppError::bad(
            "invalid_employer",
            "an employer is 1 to 100 characters",
        ));
    }
    let work = AreaCode::parse(&input.work_jurisdiction)
        .ok()
        .filter(|a| a.as_str().len() == 6 && a.as_str() != state.config.jurisdiction)
        .ok_or_else(|| {
            AppError::bad(
                "invalid_route",
                "the city of work is another city's six-digit code",
            )
        })?;
    if !(1..=MAX_PASS_DAYS).contains(&input.days) || !(1..=168).contains(&input.max_test_age_hours)
    {
        return Err(AppError::bad(
            "invalid_pass",
            "a pass lasts 1 to 90 days and asks for a test 1 to 168 hours old",
        ));
    }
    let now = crate::now();
    let approvals_needed = state
        .policy()
        .parameter("pass_approvals")
        .unwrap_or(2)
        .max(1);
    let stored = state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: format!(
                "commuter pass applied for by employer {}",
                input.employer.trim()
            ),
            body: EventBody::PassApplied {
                person,
                employer: input.employer.trim().to_owned(),
                work_jurisdiction: work.as_str().to_owned(),
                valid_from: now,
                valid_until: now.plus(input.days * DAY),
                max_test_age_hours: input.max_test_age_hours,
                approvals_needed,
            },
        }])
        .await?;
    let seq = stored
        .first()
        .map(|e| e.seq)
        .ok_or_else(|| AppError::Internal("a pass's event was not stored".into()))?;
    tracing::info!(pass = %seq, "commuter pass applied for");
    one(state, seq, now)
}

fn one(state: &AppState, id: EventSeq, now: Timestamp) -> Result<PassOut, AppError> {
    let p = read(&state.projection.cities)
        .passes
        .get(&id)
        .cloned()
        .ok_or_else(|| AppError::Internal("a pass's event was not applied".into()))?;
    Ok(pass_out(state, &p, now))
}

/// A pass, for an actor who may see its holder: 404 for an unknown one.
fn scoped(state: &AppState, caller: &Actor, id: EventSeq) -> Result<Pass, AppError> {
    let p = read(&state.projection.cities)
        .passes
        .get(&id)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_pass", format!("no pass {id}")))?;
    if caller.role == Role::Enterprise {
        if !authorise::pass_visible(state, caller, &p) {
            return Err(AppError::Forbidden("this pass is another employer's"));
        }
    } else {
        authorise::person(state, caller, p.person)?;
    }
    Ok(p)
}

/// `POST /api/v1/passes`.
pub async fn post_pass(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<PassIn>,
) -> Result<(StatusCode, Json<PassOut>), AppError> {
    let out = apply(&state, &caller, input.get()?).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /api/v1/passes/{id}`: the pass, with its signed text once approved.
pub async fn get_pass(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
) -> Result<Json<PassOut>, AppError> {
    caller.require(APPLICANTS, "reading commuter passes")?;
    let p = scoped(&state, &caller, id)?;
    Ok(Json(pass_out(&state, &p, crate::now())))
}

/// `GET /api/v1/passes?employer=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PassQuery {
    #[serde(default)]
    pub employer: Option<String>,
}

/// `GET /api/v1/passes`: the passes of the caller's area, one employer's when named
/// (each enterprise sees its passes through its district's desk).
pub async fn list_passes(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<PassQuery>,
) -> Result<Json<Vec<PassOut>>, AppError> {
    caller.require(APPLICANTS, "reading commuter passes")?;
    let now = crate::now();
    let passes: Vec<Pass> = read(&state.projection.cities)
        .passes
        .values()
        .filter(|p| q.employer.as_deref().is_none_or(|e| e == p.employer))
        .cloned()
        .collect();
    Ok(Json(
        passes
            .iter()
            .filter(|p| authorise::pass_visible(&state, &caller, p))
            .map(|p| pass_out(&state, p, now))
            .collect(),
    ))
}

/// `POST /api/v1/passes/{id}/approve`: an admin of the holder's district approves; logged.
/// Refused: the applicant (`pass_four_eyes`), a second approval by the same official
/// (`pass_already_approved`), a pass no longer pending (`pass_not_pending`).
pub async fn post_approve(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
) -> Result<Json<PassOut>, AppError> {
    caller.require(&[Role::Admin], "approving commuter passes")?;
    let p = scoped(&state, &caller, id)?;
    let now = crate::now();
    let conflict = |code, message: &str| AppError::Conflict {
        code,
        message: message.into(),
    };
    if p.status(now) != PassStatus::Pending {
        return Err(conflict(
            "pass_not_pending",
            "this pass is not waiting for approval",
        ));
    }
    let me = caller.actor();
    if p.applied_by == me {
        return Err(conflict("pass_four_eyes", "the applicant may not approve"));
    }
    if p.approvals.iter().any(|a| a.0 == me) {
        return Err(conflict(
            "pass_already_approved",
            "you have approved this pass",
        ));
    }
    state
        .record(vec![NewEvent {
            at: now,
            actor: me,
            basis: "commuter pass approved by the home district".into(),
            body: EventBody::PassApproved {
                person: p.person,
                pass: id,
            },
        }])
        .await?;
    tracing::info!(pass = %id, "commuter pass approved");
    Ok(Json(one(&state, id, now)?))
}

/// `POST /api/v1/passes/{id}/revoke`: an admin of the holder's district revokes a pass;
/// logged, refused here at once and published in the signed list. Revoking twice changes
/// nothing.
pub async fn post_revoke(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
    input: JsonIn<crate::card::RevokeIn>,
) -> Result<Json<PassOut>, AppError> {
    caller.require(&[Role::Admin], "revoking commuter passes")?;
    let p = scoped(&state, &caller, id)?;
    let reason = input.get_or_default()?.reason()?;
    let now = crate::now();
    if p.revoked.is_none() {
        state
            .record(vec![NewEvent {
                at: now,
                actor: caller.actor(),
                basis: "commuter pass revoked".into(),
                body: EventBody::PassRevoked {
                    person: p.person,
                    pass: id,
                    reason,
                },
            }])
            .await?;
        tracing::info!(pass = %id, "commuter pass revoked");
    }
    Ok(Json(one(&state, id, now)?))
}
