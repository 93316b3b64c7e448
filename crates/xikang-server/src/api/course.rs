//! A case's course over HTTP (`POST /cases/{id}/screen`, `/recheck`, `/transfer`,
//! `/reclassify`, `/discharge`, `/death`): each step authorised, checked by the domain's
//! rule (`xikang_domain::case::next`) and committed as an authority event with the duty rows
//! it goes with — the closed-loop transfer task a confirmation opens, the post-discharge
//! monitoring order a discharge issues. The case closes when that order is released
//! (`duties::release_order` calls [`close_after_monitoring`]).

use super::*;
use crate::wire::CaseStepOut;
use xikang_domain::case::{Stage, Step, Verdict, next};
use xikang_domain::duties::{SiteKind, TaskKind};
use xikang_domain::event::QuarantineReason;
use xikang_domain::{OrderId, SiteId};
use xikang_store::{DutyOp, NewTask, OrderFilter, OrderStatus};

/// The body of a screen or a re-check: the verdict, and when it was made (default now).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerdictIn {
    pub verdict: Verdict,
    #[serde(default)]
    pub at: Option<String>,
}

/// The body of a transfer: the designated hospital (`S…`) and when the case arrived there.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferIn {
    pub hospital: String,
    #[serde(default)]
    pub at: Option<String>,
}

/// The body of a reclassification: the new kind and why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReclassifyIn {
    pub kind: CaseKind,
    pub reason: String,
    #[serde(default)]
    pub at: Option<String>,
}

/// The body of a discharge or a death: when it happened (default now).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhenIn {
    #[serde(default)]
    pub at: Option<String>,
}

/// How far back a step may be dated: the course of a case runs for weeks, and a step is
/// sometimes recorded after the fact, but never months late.
const MAX_BACKDATE_DAYS: i64 = 60;

/// When a step happened: now, or a given time that is neither in the future nor more than
/// [`MAX_BACKDATE_DAYS`] ago (the domain then checks it follows the previous step).
fn step_time(at: Option<&str>, now: Timestamp) -> Result<Timestamp, AppError> {
    let at = parse_time(at)?.unwrap_or(now);
    if at > now.plus(300) || at < now.plus(-MAX_BACKDATE_DAYS * DAY) {
        return Err(AppError::bad(
            "invalid_time",
            "a step of a case is dated now or within the last 60 days",
        ));
    }
    Ok(at)
}

/// A step the domain allowed, with the case lock still held: nothing can move the case
/// until it is committed ([`commit_step`]) or dropped.
struct Decided<'a> {
    _op: tokio::sync::MutexGuard<'a, ()>,
    record: crate::app::projection::CaseRecord,
    event: NewEvent,
}

/// Takes the case lock and asks the domain whether `step`, by the caller and dated `at`,
/// follows from the case's course (stage, date, two officials): the event, or 409 with the
/// refusal's code.
async fn decide<'a>(
    state: &'a AppState,
    caller: &Actor,
    case: CaseId,
    step: Step,
    at: Timestamp,
    basis: String,
) -> Result<Decided<'a>, AppError> {
    let op = state.projection.case_op.lock().await;
    let record = state
        .projection
        .case(case)
        .ok_or_else(|| AppError::not_found("unknown_case", format!("no case {case}")))?;
    let body = next(&record.course, step, &caller.actor(), at).map_err(|r| AppError::Conflict {
        code: r.code(),
        message: r.message(step),
    })?;
    Ok(Decided {
        _op: op,
        record,
        event: NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis,
            body,
        },
    })
}

/// Commits a decided step with the duty rows and events it goes with (`after` follows the
/// step's event), and answers the case as it now stands.
async fn commit_step(
    state: &AppState,
    d: Decided<'_>,
    ops: Vec<DutyOp>,
    after: Vec<NewEvent>,
) -> Result<CaseOut, AppError> {
    let id = d.record.id;
    let mut events = vec![d.event];
    events.extend(after);
    state.commit_duties(ops, events).await?;
    let now = state
        .projection
        .case(id)
        .ok_or_else(|| AppError::Internal("case vanished after its step".into()))?;
    Ok(CaseOut::from(&now))
}

/// The district CDC's screen of a suspected case (初筛): tracers and admins of its area.
pub async fn screen_case(
    state: &AppState,
    caller: &Actor,
    case: Scoped<crate::app::projection::CaseRecord>,
    b: VerdictIn,
) -> Result<CaseOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "screening cases")?;
    let at = step_time(b.at.as_deref(), crate::now())?;
    let basis = "district CDC screen (初筛)".to_owned();
    let d = decide(
        state,
        caller,
        case.get().id,
        Step::Screen(b.verdict),
        at,
        basis,
    )
    .await?;
    commit_step(state, d, Vec::new(), Vec::new()).await
}

/// The city CDC's re-check (复核) by another official than the screen's: the case is
/// confirmed, asymptomatic or excluded. A confirmed or asymptomatic case not yet at a
/// designated hospital gets its closed-loop transfer task on its grid worker's list.
pub async fn recheck_case(
    state: &AppState,
    caller: &Actor,
    case: Scoped<crate::app::projection::CaseRecord>,
    b: VerdictIn,
) -> Result<CaseOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "re-checking cases")?;
    let now = crate::now();
    let at = step_time(b.at.as_deref(), now)?;
    let due = i64::from(state.policy().duties().task_due_hours) * 3600;
    let basis = "city CDC re-check (复核)".to_owned();
    let verdict = b.verdict;
    let d = decide(
        state,
        caller,
        case.get().id,
        Step::Recheck(verdict),
        at,
        basis,
    )
    .await?;
    let mut ops = Vec::new();
    if verdict.kind().is_some() && d.record.course.hospital.is_none() {
        ops.push(DutyOp::InsertTasks(vec![transfer_task(
            state, &d.record, now, due,
        )?]));
    }
    commit_step(state, d, ops, Vec::new()).await
}

/// The dedupe key of a case's closed-loop transfer task: opened at confirmation, closed
/// when the transfer is recorded.
fn transfer_key(case: CaseId) -> String {
    format!("transfer:case:{case}")
}

fn transfer_task(
    state: &AppState,
    c: &crate::app::projection::CaseRecord,
    now: Timestamp,
    due_secs: i64,
) -> Result<NewTask, AppError> {
    let cell = state
        .projection
        .home_cell(c.person)
        .ok_or_else(|| AppError::not_found("unknown_person", format!("no person {}", c.person)))?;
    Ok(NewTask {
        cell,
        kind: TaskKind::CaseTransfer,
        person: Some(c.person),
        household: None,
        detail: format!(
            "closed-loop transfer of {} (case {}) to a designated hospital",
            c.person, c.id
        ),
        created_at: now,
        due_at: now.plus(due_secs),
        dedupe: Some(transfer_key(c.id)),
    })
}

/// The active quarantine orders of a person, ended (the case leaves the quarantine site for
/// the hospital, or has died): the rows and the events.
async fn end_orders(
    state: &AppState,
    caller: &Actor,
    person: PersonId,
    at: Timestamp,
    why: &str,
) -> Result<(Vec<DutyOp>, Vec<NewEvent>), AppError> {
    let store = state.store.clone();
    let active = tokio::task::spawn_blocking(move || {
        store.orders(&OrderFilter {
            person: Some(person),
            active_only: true,
            ..OrderFilter::default()
        })
    })
    .await
    .map_err(blocking_err)??;
    let mut ops = Vec::new();
    let mut events = Vec::new();
    for o in active {
        ops.push(DutyOp::EndOrder {
            order: o.id,
            at,
            status: OrderStatus::Ended,
        });
        events.push(NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: why.to_owned(),
            body: EventBody::QuarantineEnded {
                order: o.id,
                person,
                at,
            },
        });
    }
    Ok((ops, events))
}

/// A case moved to a designated hospital (闭环转运 done): the site must be a designated
/// hospital the caller covers; the case's transfer task is closed and any quarantine order
/// of the person ends (they left the site for the hospital).
pub async fn transfer_case(
    state: &AppState,
    caller: &Actor,
    case: Scoped<crate::app::projection::CaseRecord>,
    b: TransferIn,
) -> Result<CaseOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "transferring cases")?;
    let hospital = crate::extract::parse_id::<SiteId>(&b.hospital)?;
    authorise::site(state, caller, hospital).await?;
    let store = state.store.clone();
    let site = tokio::task::spawn_blocking(move || store.sites())
        .await
        .map_err(blocking_err)??
        .into_iter()
        .find(|s| s.id == hospital)
        .ok_or_else(|| AppError::not_found("unknown_site", "no such site"))?;
    if site.kind != SiteKind::DesignatedHospital {
        return Err(AppError::Unprocessable {
            code: "not_a_hospital",
            message: format!("site {hospital} is not a designated hospital"),
            details: None,
        });
    }
    let now = crate::now();
    let at = step_time(b.at.as_deref(), now)?;
    let id = case.get().id;
    let basis = format!("closed-loop transfer to designated hospital {hospital}");
    let d = decide(state, caller, id, Step::Transfer(hospital), at, basis).await?;
    let (mut ops, after) = end_orders(
        state,
        caller,
        d.record.person,
        at,
        "moved to a designated hospital as a case",
    )
    .await?;
    ops.push(DutyOp::CompleteByKey {
        keys: vec![transfer_key(id)],
        at: now,
        by: caller.actor(),
        note: format!("arrived at designated hospital {hospital}"),
    });
    commit_step(state, d, ops, after).await
}

/// A case under treatment reclassified (asymptomatic ↔ confirmed), with the reason.
pub async fn reclassify_case(
    state: &AppState,
    caller: &Actor,
    case: Scoped<crate::app::projection::CaseRecord>,
    b: ReclassifyIn,
) -> Result<CaseOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "reclassifying cases")?;
    let reason = b.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::bad(
            "invalid_reason",
            "give the reason for the reclassification (1-500 characters)",
        ));
    }
    let at = step_time(b.at.as_deref(), crate::now())?;
    let basis = format!("reclassified: {reason}");
    let d = decide(
        state,
        caller,
        case.get().id,
        Step::Reclassify(b.kind),
        at,
        basis,
    )
    .await?;
    commit_step(state, d, Vec::new(), Vec::new()).await
}

/// A case discharged (治愈出院) into the policy's home health monitoring: the order of its
/// `after_discharge` regime (days and test days from the policy file) starts at the
/// discharge, with its test tasks; a policy without that regime still colours the person by
/// its `post_discharge_monitoring` rule, and no order is issued.
pub async fn discharge_case(
    state: &AppState,
    caller: &Actor,
    case: Scoped<crate::app::projection::CaseRecord>,
    b: WhenIn,
) -> Result<CaseStepOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "discharging cases")?;
    let now = crate::now();
    let at = step_time(b.at.as_deref(), now)?;
    let id = case.get().id;
    let policy = state.policy();
    let regime = policy
        .duties()
        .regime_for(QuarantineReason::AfterDischarge)
        .cloned();
    let basis = format!("discharged (治愈出院) under policy {}", policy.version());
    let d = decide(state, caller, id, Step::Discharge, at, basis).await?;
    let mut order: Option<OrderId> = None;
    let out = match regime {
        None => commit_step(state, d, Vec::new(), Vec::new()).await?,
        Some(regime) => {
            // The discharge and the order commit together: the order's issue checks the
            // person has no other order, then commits the discharge ahead of it.
            let Decided { _op, record, event } = d;
            let issued = crate::duties::issue_order(
                state,
                caller.actor(),
                record.person,
                &regime,
                None,
                at,
                now,
                format!(
                    "policy {} regime {}: health monitoring after the discharge of {id}",
                    policy.version(),
                    regime.name
                ),
                (Vec::new(), vec![event]),
            )
            .await?;
            order = Some(issued.id);
            let c = state
                .projection
                .case(id)
                .ok_or_else(|| AppError::Internal("case vanished after its step".into()))?;
            CaseOut::from(&c)
        }
    };
    Ok(CaseStepOut {
        case: out,
        monitoring_order: order.map(|o| o.to_string()),
    })
}

/// The death of a case's person, recorded; any order of theirs ends.
pub async fn record_death(
    state: &AppState,
    caller: &Actor,
    case: Scoped<crate::app::projection::CaseRecord>,
    b: WhenIn,
) -> Result<CaseOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "recording deaths")?;
    let at = step_time(b.at.as_deref(), crate::now())?;
    let basis = "death recorded".to_owned();
    let d = decide(state, caller, case.get().id, Step::Die, at, basis).await?;
    let (ops, after) = end_orders(state, caller, d.record.person, at, "the person died").await?;
    commit_step(state, d, ops, after).await
}

/// The `case_closed` event for a person's discharged case whose monitoring order is being
/// released at `at`, if they have one (the release commits it with the order's end).
pub fn close_after_monitoring(
    state: &AppState,
    person: PersonId,
    actor: &str,
    at: Timestamp,
) -> Option<NewEvent> {
    let cases = crate::state::read(&state.projection.cases);
    let c = cases
        .values()
        .rev()
        .find(|c| c.person == person && c.course.stage == Stage::Discharged)?;
    let body = next(&c.course, Step::Close, actor, at.max(c.course.last_step_at)).ok()?;
    Some(NewEvent {
        at,
        actor: actor.to_owned(),
        basis: format!("health monitoring after the discharge of {} ended", c.id),
        body,
    })
}

// ---------------------------------------------------------------------------------------
// Handlers: extract, authorise the case, call.

/// `POST /api/v1/cases/{id}/screen`.
pub async fn post_screen(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<CaseId>,
    input: JsonIn<VerdictIn>,
) -> Result<Json<CaseOut>, AppError> {
    let case = authorise::case(&state, &caller, id)?;
    Ok(Json(
        screen_case(&state, &caller, case, input.get()?).await?,
    ))
}

/// `POST /api/v1/cases/{id}/recheck`.
pub async fn post_recheck(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<CaseId>,
    input: JsonIn<VerdictIn>,
) -> Result<Json<CaseOut>, AppError> {
    let case = authorise::case_recheck(&state, &caller, id)?;
    Ok(Json(
        recheck_case(&state, &caller, case, input.get()?).await?,
    ))
}

/// `POST /api/v1/cases/{id}/transfer`.
pub async fn post_case_transfer(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<CaseId>,
    input: JsonIn<TransferIn>,
) -> Result<Json<CaseOut>, AppError> {
    let case = authorise::case(&state, &caller, id)?;
    Ok(Json(
        transfer_case(&state, &caller, case, input.get()?).await?,
    ))
}

/// `POST /api/v1/cases/{id}/reclassify`.
pub async fn post_reclassify(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<CaseId>,
    input: JsonIn<ReclassifyIn>,
) -> Result<Json<CaseOut>, AppError> {
    let case = authorise::case(&state, &caller, id)?;
    Ok(Json(
        reclassify_case(&state, &caller, case, input.get()?).await?,
    ))
}

/// `POST /api/v1/cases/{id}/discharge`.
pub async fn post_discharge(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<CaseId>,
    input: JsonIn<WhenIn>,
) -> Result<Json<CaseStepOut>, AppError> {
    let case = authorise::case(&state, &caller, id)?;
    Ok(Json(
        discharge_case(&state, &caller, case, input.get()?).await?,
    ))
}

/// `POST /api/v1/cases/{id}/death`.
pub async fn post_death(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<CaseId>,
    input: JsonIn<WhenIn>,
) -> Result<Json<CaseOut>, AppError> {
    let case = authorise::case(&state, &caller, id)?;
    Ok(Json(
        record_death(&state, &caller, case, input.get()?).await?,
    ))
}
