//! Policy versions and their activation without a restart (issue 15, part 3).
//!
//! `POST /policies` stores a policy file whole (checked by [`Policy::parse`], as `xikang
//! policy check` does); `POST /policies/{version}/activate {effective_from}` proposes it; a
//! second city-level admin approves it (`POST /policies/{version}/approve`; the proposer gets
//! 409 `same_official`, as with holds). From `effective_from` on, [`AppState::policy`] answers
//! with the new version: the switch is made in memory on the first read at or after that
//! instant of the server's clock ([`crate::now`], a drill's clock in a drill), and
//! [`record_due`] (called at the approval, by the sweep and so after each drill clock move)
//! logs the `PolicyActivated` event, naming proposer and approver, and marks the rows.
//! `docs/policies.md` says what an open order keeps.

use crate::app::{Actor, Role};
use crate::error::AppError;
use crate::extract::JsonIn;
use crate::state::{AppState, read, write};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::Timestamp;
use xikang_domain::authority::{ApprovalRefused, ApprovedBasis, second_official};
use xikang_domain::duties::Regime;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::policy::Policy;
use xikang_store::{StoreError, StoredPolicy};

/// The largest policy file accepted (the shipped ones are about 20 KB).
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// Changes to versions are made one at a time (a version is never approved twice, and the
/// rows always have at most one active version).
static CHANGING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The body of `POST /policies`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadIn {
    /// The policy file (TOML).
    pub text: String,
}

/// The body of `POST /policies/{version}/activate`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateIn {
    pub effective_from: String,
}

/// A version on the wire, without its text (fields in alphabetical order).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionOut {
    pub active: bool,
    pub active_since: Option<String>,
    pub active_until: Option<String>,
    pub approved_at: Option<String>,
    pub approved_by: Option<String>,
    pub effective_from: Option<String>,
    pub proposed_at: Option<String>,
    pub proposed_by: Option<String>,
    pub sha256: String,
    pub uploaded_at: String,
    pub uploaded_by: String,
    pub version: String,
}

impl VersionOut {
    fn new(p: &StoredPolicy) -> VersionOut {
        let t = |t: Option<Timestamp>| t.map(Timestamp::to_rfc3339);
        VersionOut {
            active: is_active(p),
            active_since: t(p.active_since),
            active_until: t(p.active_until),
            approved_at: t(p.approved_at),
            approved_by: p.approved_by.clone(),
            effective_from: t(p.effective_from),
            proposed_at: t(p.proposed_at),
            proposed_by: p.proposed_by.clone(),
            sha256: p.sha256.clone(),
            uploaded_at: p.uploaded_at.to_rfc3339(),
            uploaded_by: p.uploaded_by.clone(),
            version: p.version.clone(),
        }
    }
}

/// `GET /policies`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionsOut {
    pub versions: Vec<VersionOut>,
}

/// `GET /policies/{version}`: the version and its whole text.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TextOut {
    #[serde(flatten)]
    pub version: VersionOut,
    pub text: String,
}

/// Whether a stored version is the one in force (by its rows).
pub fn is_active(p: &StoredPolicy) -> bool {
    p.active_since.is_some() && p.active_until.is_none()
}

/// Whether a version was approved and waits for its instant.
fn is_scheduled(p: &StoredPolicy) -> bool {
    p.approved_by.is_some() && p.active_since.is_none()
}

/// Changing policy versions: a city-level admin (a policy is the whole city's).
fn city_admin(state: &AppState, caller: &Actor, what: &'static str) -> Result<(), AppError> {
    caller.require(&[Role::Admin], what)?;
    crate::app::authorise::whole_city(state, caller, "policy versions are the city's")
}

fn version_of(state: &AppState, version: &str) -> Result<StoredPolicy, AppError> {
    read(&state.policy_versions)
        .iter()
        .find(|p| p.version == version)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_policy", format!("no policy {version}")))
}

/// Writes rows to the store, then to the in-memory list.
async fn save(state: &AppState, rows: Vec<StoredPolicy>, insert: bool) -> Result<(), AppError> {
    let store = state.store.clone();
    let r = rows.clone();
    tokio::task::spawn_blocking(move || {
        if insert {
            r.iter().try_for_each(|p| store.insert_policy(p))
        } else {
            store.update_policies(&r)
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("policy write task: {e}")))??;
    let mut list = write(&state.policy_versions);
    for p in rows {
        match list.iter_mut().find(|q| q.version == p.version) {
            Some(q) => *q = p,
            None => list.push(p),
        }
    }
    Ok(())
}

/// Stores a policy file: 201 with the version; 200 with the stored one when the same text
/// was uploaded before; 422 `invalid_policy` (nothing stored) when it does not parse; 409
/// `policy_version_taken` when another text has its version name.
pub async fn upload(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<UploadIn>,
    now: Timestamp,
) -> Result<(StatusCode, VersionOut), AppError> {
    city_admin(state, caller, "uploading policies")?;
    let text = input.get()?.text;
    if text.len() > MAX_POLICY_BYTES {
        return Err(AppError::TooLarge(format!(
            "a policy file has at most {MAX_POLICY_BYTES} bytes"
        )));
    }
    let policy = Policy::parse(&text).map_err(|e| AppError::Unprocessable {
        code: "invalid_policy",
        message: e.to_string(),
        details: None,
    })?;
    let sha256 = crate::state::policy_sha256(&text);
    let _one = CHANGING.lock().await;
    if let Ok(p) = version_of(state, policy.version()) {
        return if p.sha256 == sha256 {
            Ok((StatusCode::OK, VersionOut::new(&p)))
        } else {
            Err(AppError::Conflict {
                code: "policy_version_taken",
                message: format!(
                    "version {} is stored with another text: give the new file a new version",
                    p.version
                ),
            })
        };
    }
    let row = StoredPolicy::uploaded(policy.version(), &sha256, text, caller.actor(), now);
    save(state, vec![row.clone()], true).await?;
    tracing::info!(version = %row.version, "policy uploaded");
    Ok((StatusCode::CREATED, VersionOut::new(&row)))
}

/// Proposes activating a stored version at `effective_from`: no effect until a second
/// official approves. A new proposal replaces an unapproved one of the same version.
pub async fn propose(
    state: &AppState,
    caller: &Actor,
    version: &str,
    input: JsonIn<ActivateIn>,
    now: Timestamp,
) -> Result<VersionOut, AppError> {
    city_admin(state, caller, "proposing policy activations")?;
    let b = input.get()?;
    let at = Timestamp::parse_rfc3339(b.effective_from.trim()).map_err(|e| {
        AppError::bad(
            "invalid_effective_from",
            format!("effective_from is not an RFC 3339 instant: {e}"),
        )
    })?;
    let _one = CHANGING.lock().await;
    let mut p = version_of(state, version)?;
    let parsed = Policy::parse(&p.text)
        .map_err(|e| AppError::Internal(format!("stored policy {version}: {e}")))?;
    if at < parsed.effective_from() {
        return Err(AppError::Unprocessable {
            code: "before_policy_effective_from",
            message: format!(
                "policy {version} says it is effective from {}",
                parsed.effective_from().to_rfc3339()
            ),
            details: None,
        });
    }
    refuse_if_decided(state, &p)?;
    p.proposed_by = Some(caller.actor());
    p.proposed_at = Some(now);
    p.effective_from = Some(at);
    p.approved_by = None;
    p.approved_at = None;
    save(state, vec![p.clone()], false).await?;
    Ok(VersionOut::new(&p))
}

/// 409 when the version is in force, or when a version was approved and waits.
fn refuse_if_decided(state: &AppState, p: &StoredPolicy) -> Result<(), AppError> {
    if is_active(p) {
        return Err(AppError::Conflict {
            code: "policy_active",
            message: format!("policy {} is in force", p.version),
        });
    }
    if let Some(w) = read(&state.policy_versions)
        .iter()
        .find(|q| is_scheduled(q))
    {
        return Err(AppError::Conflict {
            code: "activation_pending",
            message: format!(
                "policy {} was approved and takes effect at {}: one switch at a time",
                w.version,
                w.effective_from
                    .map(Timestamp::to_rfc3339)
                    .unwrap_or_default()
            ),
        });
    }
    Ok(())
}

/// Approves a proposed activation as a second official: the version takes effect at its
/// `effective_from` (at once when that has passed).
pub async fn approve(
    state: &AppState,
    caller: &Actor,
    version: &str,
    now: Timestamp,
) -> Result<VersionOut, AppError> {
    city_admin(state, caller, "approving policy activations")?;
    {
        let _one = CHANGING.lock().await;
        let mut p = version_of(state, version)?;
        let (Some(proposer), Some(at)) = (p.proposed_by.clone(), p.effective_from) else {
            return Err(AppError::Conflict {
                code: "not_proposed",
                message: format!("nobody proposed activating policy {version}"),
            });
        };
        match second_official(&proposer, &caller.actor()) {
            Ok(()) => {}
            Err(ApprovalRefused::SameOfficial) => {
                return Err(AppError::Conflict {
                    code: "same_official",
                    message: "the official who proposed an activation cannot approve it: a \
                              second official must"
                        .into(),
                });
            }
            Err(ApprovalRefused::NotAnOfficial) => {
                return Err(AppError::Forbidden("only an official approves a policy"));
            }
        }
        refuse_if_decided(state, &p)?;
        let parsed = Policy::parse(&p.text)
            .map_err(|e| AppError::Internal(format!("stored policy {version}: {e}")))?;
        p.approved_by = Some(caller.actor());
        p.approved_at = Some(now);
        save(state, vec![p], false).await?;
        state.schedule_policy(at, Arc::new(parsed));
    }
    record_due(state, now).await?;
    Ok(VersionOut::new(&version_of(state, version)?))
}

/// Logs the activation of an approved version whose instant has passed (`PolicyActivated`,
/// by the approver, with proposer and approver in its basis) and marks the rows: the new
/// version active since `max(effective_from, approval)`, the one before until then. Makes
/// sure the server answers with it. Returns how many versions it activated (0 or 1).
pub async fn record_due(state: &AppState, now: Timestamp) -> Result<usize, AppError> {
    let _one = CHANGING.lock().await;
    let due = read(&state.policy_versions)
        .iter()
        .find(|p| is_scheduled(p) && p.effective_from.is_some_and(|t| t <= now))
        .cloned();
    let Some(mut p) = due else {
        return Ok(0);
    };
    let parsed = Policy::parse(&p.text)
        .map_err(|e| AppError::Internal(format!("stored policy {}: {e}", p.version)))?;
    let approver = p.approved_by.clone().unwrap_or_default();
    let proposer = p.proposed_by.clone().unwrap_or_default();
    let effective = p.effective_from.unwrap_or(now);
    let since = effective.max(p.approved_at.unwrap_or(now));
    let basis = serde_json::to_string(&ApprovedBasis {
        act: "policy".into(),
        approver: approver.clone(),
        basis: Some(format!("effective from {}", effective.to_rfc3339())),
        proposal: p.version.clone(),
        proposer,
    })
    .unwrap_or_default();
    state
        .record(vec![NewEvent {
            at: now,
            actor: approver,
            basis,
            body: EventBody::PolicyActivated {
                version: p.version.clone(),
                sha256: p.sha256.clone(),
            },
        }])
        .await?;
    let mut rows: Vec<StoredPolicy> = read(&state.policy_versions)
        .iter()
        .filter(|q| is_active(q))
        .cloned()
        .map(|mut q| {
            q.active_until = Some(since);
            q
        })
        .collect();
    p.active_since = Some(since);
    rows.push(p.clone());
    save(state, rows, false).await?;
    state.put_policy(Arc::new(parsed));
    tracing::info!(version = %p.version, "policy activated");
    Ok(1)
}

/// Reads the stored versions again after another node changed them (docs/nodes.md): the
/// version the rows mark active is put in force here if it is not (another node activated
/// it), and an approved version waiting for its instant is scheduled here as there.
pub(crate) async fn reread(state: &AppState) -> Result<(), StoreError> {
    let _one = CHANGING.lock().await;
    let store = state.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.policies())
        .await
        .map_err(|e| StoreError::Corrupt(format!("policy read task: {e}")))??;
    let parsed = |p: &StoredPolicy| match Policy::parse(&p.text) {
        Ok(parsed) => Some(Arc::new(parsed)),
        Err(e) => {
            tracing::error!(version = %p.version, error = %e, "a stored policy does not parse");
            None
        }
    };
    if let Some(p) = rows.iter().find(|p| is_active(p))
        && p.version != state.policy().version()
        && let Some(policy) = parsed(p)
    {
        state.put_policy(policy);
        tracing::info!(version = %p.version, "policy activated on another node");
    }
    if let Some(p) = rows.iter().find(|p| is_scheduled(p))
        && let Some(at) = p.effective_from
        && let Some(policy) = parsed(p)
    {
        state.schedule_policy(at, policy);
    }
    *write(&state.policy_versions) = rows;
    Ok(())
}

/// The stored versions, oldest upload first.
pub fn versions(state: &AppState, caller: &Actor) -> Result<VersionsOut, AppError> {
    caller.require(&[Role::Admin], "listing policy versions")?;
    Ok(VersionsOut {
        versions: read(&state.policy_versions)
            .iter()
            .map(VersionOut::new)
            .collect(),
    })
}

/// `POST /api/v1/policies` ([`upload`]).
pub async fn post_policy(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<UploadIn>,
) -> Result<(StatusCode, Json<VersionOut>), AppError> {
    let (status, out) = upload(&state, &caller, input, crate::now()).await?;
    Ok((status, Json(out)))
}

/// `GET /api/v1/policies` ([`versions`]).
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<VersionsOut>, AppError> {
    Ok(Json(versions(&state, &caller)?))
}

/// `GET /api/v1/policies/{version}`: the version with its text.
pub async fn text(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(version): Path<String>,
) -> Result<Json<TextOut>, AppError> {
    caller.require(&[Role::Admin], "reading policy versions")?;
    let p = version_of(&state, &version)?;
    Ok(Json(TextOut {
        version: VersionOut::new(&p),
        text: p.text,
    }))
}

/// `POST /api/v1/policies/{version}/activate` ([`propose`]): 202, the proposal.
pub async fn activate(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(version): Path<String>,
    input: JsonIn<ActivateIn>,
) -> Result<(StatusCode, Json<VersionOut>), AppError> {
    let out = propose(&state, &caller, &version, input, crate::now()).await?;
    Ok((StatusCode::ACCEPTED, Json(out)))
}

/// `POST /api/v1/policies/{version}/approve` ([`approve`]).
pub async fn post_approve(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(version): Path<String>,
) -> Result<Json<VersionOut>, AppError> {
    Ok(Json(
        approve(&state, &caller, &version, crate::now()).await?,
    ))
}

/// The text of the policy a server starts with, when known: the configured text, or a
/// shipped edition with that hash.
pub fn start_text(configured: Option<&str>, sha256: &str) -> Option<String> {
    configured
        .into_iter()
        .chain([
            xikang_domain::policy::DEFAULT_POLICY_TOML,
            xikang_domain::policy::ERSHITIAO_POLICY_TOML,
        ])
        .find(|t| crate::state::policy_sha256(t) == sha256)
        .map(str::to_owned)
}

/// The regime an order named `regime` and started at `start` follows: the one of the policy
/// version that was in force at its start (stored versions, `active_since`..`active_until`;
/// an order started in the second of a switch belongs to the new version),
/// else the policy in force's regime of that name. When the policy in force says
/// `open_orders = "follow"`, the other way round.
pub fn order_regime(state: &AppState, regime: &str, start: Timestamp) -> Option<Regime> {
    let current = state.policy();
    let issued = policy_in_force_at(state, start, &current);
    let (first, then) = if current.duties().open_orders_follow {
        (Some(current.clone()), issued)
    } else {
        (issued, Some(current.clone()))
    };
    let of = |p: Option<Arc<Policy>>| p.and_then(|p| p.duties().regime(regime).cloned());
    of(first).or_else(|| of(then))
}

/// The stored version in force at `t`, parsed (once per version).
fn policy_in_force_at(
    state: &AppState,
    t: Timestamp,
    current: &Arc<Policy>,
) -> Option<Arc<Policy>> {
    let versions = read(&state.policy_versions);
    let in_force = versions
        .iter()
        .find(|p| p.active_since.is_some_and(|s| s <= t) && p.active_until.is_none_or(|u| t < u))
        // Before the first recorded activation (a store kept versions only from its upgrade
        // to schema 13 on): the first version recorded.
        .or_else(|| {
            versions
                .iter()
                .filter(|p| p.active_since.is_some())
                .min_by_key(|p| p.active_since)
                .filter(|p| p.active_since.is_some_and(|s| t < s))
        });
    let (version, text) = in_force.map(|p| (p.version.clone(), p.text.clone()))?;
    drop(versions);
    if version == current.version() {
        return Some(current.clone());
    }
    if let Some(p) = read(&state.policy_cache).get(&version) {
        return Some(p.clone());
    }
    let parsed = Arc::new(Policy::parse(&text).ok()?);
    write(&state.policy_cache).insert(version, parsed.clone());
    Some(parsed)
}
