//! The tracer's decisions on a contact: confirm, dismiss, notify, quarantine — each an
//! authority event.

use super::*;

/// A tracer's decision about one contact.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionIn {
    pub action: Action,
    #[serde(default)]
    pub reason: Option<String>,
    /// For `quarantine` under a centralized regime: the quarantine site (S1, …).
    #[serde(default)]
    pub site: Option<String>,
}

pub use xikang_domain::contact::Action;
use xikang_domain::contact::{Refusal, Step};

/// `POST /api/v1/cases/{id}/contacts/{person}`: `{"action": "confirm" | "notify" |
/// "quarantine" | "dismiss", "reason": …}`. Each step is an authority event; a step out of
/// order is a 409.
pub async fn act_on_contact(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path((id, person)): Path<(String, String)>,
    input: JsonIn<ActionIn>,
) -> Result<Response, AppError> {
    // Who and what first, then the body, as the API always answered.
    let case = visible_case(&state, &caller, &id)?;
    let person = visible_person(&state, &caller, &person)?;
    let b = input.get()?;
    let step = decide_contact(&state, &caller, case, person, b).await?;
    Ok(Json(ContactStepOut::from(&step)).into_response())
}

/// Where a contact stands after a tracer's step.
#[derive(Debug, Clone)]
pub struct ContactStep {
    pub case: CaseId,
    pub person: PersonId,
    pub status: Status,
    pub order: Option<OrderId>,
}

/// One step of the contact workflow (the command behind
/// `POST /api/v1/cases/{id}/contacts/{person}` and the case page's buttons): the case and
/// the person must be in the tracer's (or admin's) jurisdiction; a step out of order is a
/// 409 `contact_status`.
pub async fn decide_contact(
    state: &Arc<AppState>,
    caller: &Actor,
    case: Scoped<CaseRecord>,
    person: Scoped<PersonId>,
    b: ActionIn,
) -> Result<ContactStep, AppError> {
    let person = person.id();
    let now = crate::now();
    let current = state.projection.tracing.designation(case.id, person);
    let status = current.as_ref().map(|d| d.status);
    let conflict = |what: &str| AppError::Conflict {
        code: "contact_status",
        message: format!(
            "{person} is {} in {}: cannot {what}",
            status.map_or("a candidate".into(), |s| format!("{s:?}").to_lowercase()),
            case.id
        ),
    };
    let actor = caller.actor();
    let event = |basis: &str, body: EventBody| NewEvent {
        at: now,
        actor: actor.clone(),
        basis: basis.to_owned(),
        body,
    };
    // A dismissal names its reason whatever the contact's state.
    let reason = b.reason.filter(|r| !r.trim().is_empty());
    if b.action == Action::Dismiss && reason.is_none() {
        return Err(AppError::bad(
            "reason_required",
            "dismissing a contact needs a reason",
        ));
    }
    let step = xikang_domain::contact::next(
        current.as_ref().map(|d| (d.status, d.kind)),
        b.action,
    )
    .map_err(|r| match r {
        Refusal::OutOfOrder => conflict(b.action.as_str()),
        // The policy colours a companion yellow until their tests clear it
        // (PROTOCOL.md §1); no quarantine order follows from the companion rule.
        Refusal::NotQuarantined(ContactKind::Companion) => AppError::Conflict {
            code: "companion_not_quarantined",
            message: format!(
                "{person} is a companion in {}: the policy's tests clear them, not a quarantine",
                case.id
            ),
        },
        Refusal::NotQuarantined(kind) => AppError::Conflict {
            code: "contact_not_quarantined",
            message: format!("{person} is a {kind:?} contact in {}: not quarantined", case.id),
        },
    })?;
    let events = match step {
        Step::Confirm => {
            // Only someone the data shows as a contact of this case can be confirmed.
            let index = state.projection.tracing.snapshot()?;
            let (s, c2) = (state.clone(), case.clone());
            let found = tokio::task::spawn_blocking(move || {
                let t = trace_case(&s, &index, &s.policy(), &c2, now)?;
                let close = t
                    .close
                    .contacts
                    .iter()
                    .find(|c| c.person == person)
                    .map(|c| (ContactKind::Close, c.last_exposure));
                let secondary = t
                    .secondary
                    .contacts
                    .iter()
                    .find(|c| c.person == person)
                    .map(|c| (ContactKind::Secondary, c.last_exposure));
                let companion = t
                    .companions
                    .iter()
                    .find(|c| c.person == person)
                    .map(|c| (ContactKind::Companion, c.last_exposure));
                Ok::<_, AppError>(close.or(secondary).or(companion))
            })
            .await
            .map_err(blocking_err)??;
            let (kind, last_exposure) = found.ok_or_else(|| {
                AppError::not_found(
                    "not_a_contact",
                    format!("{person} is not a contact of {} in the data", case.id),
                )
            })?;
            vec![event(
                "tracer confirmed the contact",
                EventBody::ContactDesignated {
                    person,
                    case: case.id,
                    contact_kind: kind,
                    last_exposure,
                },
            )]
        }
        Step::Notify => {
            vec![event(
                "tracer notified the contact",
                EventBody::ContactNotified {
                    person,
                    case: case.id,
                },
            )]
        }
        Step::Quarantine(reason) => {
            // The order system of the duties (sites, capacity, test days, release) issues
            // it; its `quarantine_ordered` event moves the contact to "quarantined".
            let policy = state.policy();
            let regime = policy.duties().regime_for(reason).cloned().ok_or_else(|| {
                AppError::Unprocessable {
                    code: "no_regime",
                    message: format!(
                        "the policy in force ({}) has no quarantine regime for {reason:?}",
                        policy.version()
                    ),
                    details: None,
                }
            })?;
            let site = crate::duties::parse_site(b.site.as_deref())?;
            crate::duties::issue_order(
                state,
                actor.clone(),
                person,
                &regime,
                site,
                now,
                now,
                format!(
                    "contact of {} confirmed by a tracer; policy {} regime {}",
                    case.id,
                    policy.version(),
                    regime.name
                ),
                (Vec::new(), Vec::new()),
            )
            .await?;
            Vec::new()
        }
        Step::Dismiss => {
            let reason = reason.unwrap_or_default();
            vec![event(
                "tracer dismissed the contact",
                EventBody::ContactReleased {
                    person,
                    case: case.id,
                    reason,
                },
            )]
        }
    };
    state.record(events).await?;
    let d = state.projection.tracing.designation(case.id, person);
    Ok(ContactStep {
        case: case.id,
        person,
        status: d.as_ref().map_or(Status::Candidate, |d| d.status),
        order: d.and_then(|d| d.order),
    })
}
