//! Quarantine sites and orders: registering sites, issuing orders with their test plans,
//! transfers between sites and release when the plan's tests are negative.

use super::*;
use xikang_domain::authority::{Act, Authority, Evidence, Missing, authority};
use xikang_domain::event::ContactKind;
use xikang_domain::facts::{EndKind, FactKind};

/// The body of `POST /quarantine/sites`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SiteIn {
    pub name: String,
    pub kind: String,
    pub area: String,
    pub lat: f64,
    pub lon: f64,
    pub capacity: u32,
    #[serde(default)]
    pub manager: Option<String>,
}

/// Registers a quarantine site with its capacity (admins, inside their area).
pub async fn register_site(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<SiteIn>,
) -> Result<SiteOut, AppError> {
    caller.require(&[Role::Admin], "registering quarantine sites")?;
    let b = input.get()?;
    let kind = SiteKind::parse(&b.kind).ok_or_else(|| {
        bad(
            "invalid_site_kind",
            "kind is centralized, health_station or designated_hospital",
        )
    })?;
    let area = AreaCode::parse(&b.area).map_err(|e| bad("invalid_area", e.to_string()))?;
    if !caller.covers(&area) {
        return Err(AppError::Forbidden(
            "the site lies outside your jurisdiction",
        ));
    }
    if b.name.trim().is_empty() || b.capacity == 0 || b.capacity > 100_000 {
        return Err(bad(
            "invalid_site",
            "a name and a capacity of 1 to 100,000 are needed",
        ));
    }
    if !(b.lat.is_finite() && b.lon.is_finite() && b.lat.abs() <= 90.0 && b.lon.abs() <= 180.0) {
        return Err(bad("invalid_site", "latitude or longitude out of range"));
    }
    let store = state.store.clone();
    let id = SiteId(blocking(move || store.next_duty_id("site")).await?);
    let site = SiteRecord {
        id,
        name: b.name.trim().to_owned(),
        kind,
        area,
        lat: b.lat,
        lon: b.lon,
        capacity: b.capacity,
        occupancy: 0,
        manager: b.manager.filter(|m| !m.trim().is_empty()),
    };
    let store = state.store.clone();
    let s2 = site.clone();
    blocking(move || store.put_site(&s2)).await?;
    Ok(SiteOut::from(&site))
}

pub(super) async fn post_site(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<SiteIn>,
) -> Result<(StatusCode, Json<SiteOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(register_site(&state, &caller, input).await?),
    ))
}

/// The quarantine sites the caller may see (a site manager: their own).
pub async fn sites_visible(state: &AppState, caller: &Actor) -> Result<SitesOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::SiteManager],
        "listing sites",
    )?;
    let store = state.store.clone();
    let sites = blocking(move || store.sites()).await?;
    let sites = sites
        .iter()
        .filter(|s| match caller.role {
            Role::SiteManager => s.manager.as_deref() == Some(caller.name.as_str()),
            _ => caller.covers(&s.area),
        })
        .map(SiteOut::from)
        .collect();
    Ok(SitesOut { sites })
}

pub(super) async fn list_sites(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<SitesOut>, AppError> {
    Ok(Json(sites_visible(&state, &caller).await?))
}

pub(super) fn distance2(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dx = (a.0 - b.0) * (a.1.to_radians().cos());
    let dy = a.1 - b.1;
    dx * dx + dy * dy
}

/// The nearest other site of the same kind with room.
pub(super) fn nearest_with_room(sites: &[SiteRecord], full: &SiteRecord) -> Option<SiteRecord> {
    sites
        .iter()
        .filter(|s| s.id != full.id && s.kind == full.kind && s.occupancy < s.capacity)
        .min_by(|a, b| {
            let da = distance2((a.lon, a.lat), (full.lon, full.lat));
            let db = distance2((b.lon, b.lat), (full.lon, full.lat));
            da.total_cmp(&db)
        })
        .cloned()
}

pub(super) async fn site_full_error(state: &AppState, site: SiteId) -> AppError {
    let store = state.store.clone();
    let sites = match blocking(move || store.sites()).await {
        Ok(s) => s,
        Err(e) => return e,
    };
    let nearest = sites
        .iter()
        .find(|s| s.id == site)
        .and_then(|full| nearest_with_room(&sites, full));
    unprocessable(
        "site_full",
        match &nearest {
            Some(n) => format!(
                "site {site} is full; the nearest site with room is {} ({})",
                n.id, n.name
            ),
            None => format!("site {site} is full and no other site of its kind has room"),
        },
        serde_json::to_value(SiteFullDetails {
            nearest: nearest.as_ref().map(SiteOut::from),
        })
        .ok(),
    )
}

/// The body of `POST /quarantine/orders`: a regime by name, or a reason.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OrderIn {
    pub person: String,
    #[serde(default)]
    pub regime: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub site: Option<String>,
    #[serde(default)]
    pub start: Option<String>,
}

/// Issues an order under a regime: the order row, its `QuarantineOrdered` event and (for
/// orders at home) the test tasks, in one transaction. A full site refuses with the
/// nearest site with room. `before` (row changes and events, e.g. the arrival that causes
/// the order) commit in the same transaction, ahead of the order.
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per field of the order a handler has already validated"
)]
pub async fn issue_order(
    state: &AppState,
    actor: String,
    person: PersonId,
    regime: &Regime,
    site: Option<SiteId>,
    start: Timestamp,
    now: Timestamp,
    basis: String,
    before: (Vec<DutyOp>, Vec<NewEvent>),
) -> Result<OrderRecord, AppError> {
    let kind = regime.kind.ok_or_else(|| {
        unprocessable(
            "regime_without_order",
            format!("regime {} issues no order (tests only)", regime.name),
            None,
        )
    })?;
    if kind == QuarantineKind::Centralized && site.is_none() {
        return Err(bad("site_required", "centralized quarantine needs a site"));
    }
    if let Some(s) = site {
        refuse_hospital(state, s).await?;
    }
    let store = state.store.clone();
    let active = blocking(move || {
        store.orders(&OrderFilter {
            person: Some(person),
            active_only: true,
            ..OrderFilter::default()
        })
    })
    .await?;
    if let Some(o) = active.first() {
        return Err(conflict(
            "order_exists",
            format!("{person} is already under order {}", o.id),
        ));
    }
    let cell = home_cell(state, person)?;
    let store = state.store.clone();
    let id = OrderId(blocking(move || store.next_duty_id("order")).await?);
    let order = OrderRecord {
        id,
        person,
        regime: regime.name.clone(),
        kind,
        reason: regime.reason,
        site,
        start,
        planned_end: regime.planned_end(start),
        ended_at: None,
        status: OrderStatus::Active,
        follows: None,
        then_phase: false,
    };
    let (mut ops, mut events) = before;
    ops.push(DutyOp::InsertOrder(order.clone()));
    if kind != QuarantineKind::Centralized {
        ops.push(DutyOp::InsertTasks(test_tasks(
            person,
            cell,
            &regime.test_days,
            start,
            now,
            &id.to_string(),
        )));
    }
    let event = NewEvent {
        at: now,
        actor,
        basis,
        body: EventBody::QuarantineOrdered {
            order: id,
            person,
            quarantine_kind: kind,
            reason: regime.reason,
            start,
            planned_end: order.planned_end,
        },
    };
    events.push(event);
    match commit(state, ops, events).await {
        Err(AppError::Conflict {
            code: "site_full", ..
        }) => Err(site_full_error(state, site.unwrap_or(SiteId(0))).await),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("unknown_site", "no such site")),
        Err(e) => Err(e),
        Ok(_) => Ok(order),
    }
}

/// A designated hospital takes cases (`POST /cases/{id}/transfer`), not people under a
/// quarantine order: 422 `site_is_hospital`.
async fn refuse_hospital(state: &AppState, site: SiteId) -> Result<(), AppError> {
    let store = state.store.clone();
    let sites = blocking(move || store.sites()).await?;
    if sites
        .iter()
        .any(|s| s.id == site && s.kind == SiteKind::DesignatedHospital)
    {
        return Err(unprocessable(
            "site_is_hospital",
            format!(
                "site {site} is a designated hospital: quarantine orders go to quarantine sites"
            ),
            None,
        ));
    }
    Ok(())
}

/// What is on record for a person that an order could cite: the tracer's standing contact
/// decisions, their latest arrival, a discharged case, an order that ended.
pub fn order_evidence(state: &AppState, person: PersonId) -> Evidence {
    let mut ev = Evidence::default();
    for (case, d) in state.projection.tracing.decisions_about(person) {
        if state.projection.case(case).is_none() {
            continue;
        }
        match d.kind {
            ContactKind::Close => ev.confirmed_close_contact = Some(case),
            ContactKind::Secondary => ev.confirmed_secondary_contact = Some(case),
            ContactKind::Companion | ContactKind::General => {}
        }
    }
    ev.discharged_case = read(&state.projection.cases)
        .values()
        .find(|c| c.person == person && c.discharged_at.is_some())
        .map(|c| c.id);
    let people = read(&state.projection.people);
    if let Some(slot) = people.get(person.0 as usize) {
        for f in slot.facts.facts() {
            match f.kind {
                FactKind::Arrival { risk } => ev.arrival = Some(risk),
                FactKind::Quarantine { order, .. }
                    if f.end.is_some_and(|e| e.how == EndKind::Ended) =>
                {
                    ev.ended_order = Some(order);
                }
                _ => {}
            }
        }
    }
    ev
}

pub(crate) fn parse_site(s: Option<&str>) -> Result<Option<SiteId>, AppError> {
    s.map(parse_id::<SiteId>).transpose()
}

/// Orders a person into quarantine under a regime named or chosen by reason.
pub async fn order_quarantine(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<OrderIn>,
) -> Result<OrderOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "issuing quarantine orders")?;
    let b = input.get()?;
    let person = person_id(&b.person)?;
    authorise::duty_person(state, caller, person, None).await?;
    let site = parse_site(b.site.as_deref())?;
    if let Some(s) = site {
        authorise::site(state, caller, s).await?;
    }
    let policy = state.policy();
    let regime = match (&b.regime, &b.reason) {
        (Some(name), _) => policy.duties().regime(name).cloned().ok_or_else(|| {
            unprocessable(
                "unknown_regime",
                format!("the policy in force has no regime `{name}`"),
                None,
            )
        })?,
        (None, Some(reason)) => {
            let r: QuarantineReason = variant(reason)
                .ok_or_else(|| bad("invalid_reason", format!("unknown reason `{reason}`")))?;
            policy.duties().regime_for(r).cloned().ok_or_else(|| {
                unprocessable(
                    "no_regime",
                    format!(
                        "the policy in force ({}) has no quarantine regime for `{reason}`",
                        policy.version()
                    ),
                    None,
                )
            })?
        }
        (None, None) => return Err(bad("regime_required", "give a regime or a reason")),
    };
    let now = crate::now();
    let start = match b.start.as_deref() {
        None => now,
        Some(s) => Timestamp::parse_rfc3339(s).map_err(|e| bad("invalid_time", e.to_string()))?,
    };
    if start > now.plus(300) || start < now.plus(-30 * DAY) {
        return Err(bad(
            "invalid_start",
            "an order starts now or within the last 30 days",
        ));
    }
    // Defect 5 of issue 14: an order turns its person red, so it must cite the evidence
    // its reason needs; without it the order is refused, never committed on one word.
    let cited = match authority(Act::Order(regime.reason), &order_evidence(state, person)) {
        Authority::Cites { basis, case } => (basis, case),
        Authority::Refused(missing) => {
            return Err(unprocessable(missing.code(), missing.message(), None));
        }
        // No order reason is a proposal (the domain refuses instead); fail closed.
        Authority::Proposal(_) => {
            return Err(unprocessable(
                Missing::Evidence.code(),
                Missing::Evidence.message(),
                None,
            ));
        }
    };
    let order = issue_order(
        state,
        caller.actor(),
        person,
        &regime,
        site,
        start,
        now,
        format!(
            "policy {} regime {}; cites {}{}",
            policy.version(),
            regime.name,
            xikang_domain::duties::variant_name(&cited.0),
            cited.1.map_or(String::new(), |c| format!(" of {c}"))
        ),
        (Vec::new(), Vec::new()),
    )
    .await?;
    Ok(OrderOut::new(&order, Some(&regime)))
}

pub(super) async fn post_order(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<OrderIn>,
) -> Result<(StatusCode, Json<OrderOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(order_quarantine(&state, &caller, input).await?),
    ))
}

/// The query of `GET /quarantine/orders`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrderQuery {
    pub person: Option<String>,
    pub site: Option<String>,
    #[serde(default)]
    pub active: bool,
}

/// The orders the caller may see, by person, site or both; recorded in the access log.
pub async fn orders_visible(
    state: &AppState,
    caller: &Actor,
    q: OrderQuery,
) -> Result<OrdersOut, AppError> {
    let site = parse_site(q.site.as_deref())?;
    let person = q.person.as_deref().map(person_id).transpose()?;
    match caller.role {
        Role::Admin | Role::Tracer => {}
        Role::SiteManager => {
            let mine = authorise::sites_of(state, caller).await?;
            if !site.is_some_and(|s| mine.contains(&s)) {
                return Err(AppError::Forbidden(
                    "a site manager lists the orders of their own site (?site=)",
                ));
            }
        }
        _ => return Err(AppError::Forbidden("listing quarantine orders")),
    }
    if let Some(p) = person {
        authorise::duty_person(state, caller, p, site).await?;
    }
    let store = state.store.clone();
    let orders = blocking(move || {
        store.orders(&OrderFilter {
            person,
            site,
            active_only: q.active,
            limit: 1000,
        })
    })
    .await?;
    let orders: Vec<&OrderRecord> = orders
        .iter()
        .filter(|o| {
            caller.role == Role::SiteManager
                || state
                    .projection
                    .person_area(o.person)
                    .is_some_and(|a| caller.covers(&a))
        })
        .collect();
    state.access.record(
        caller,
        "GET /api/v1/quarantine/orders",
        None,
        crate::now(),
        orders.iter().map(|o| o.person),
    )?;
    let orders = orders
        .into_iter()
        .map(|o| {
            let regime = crate::policies::order_regime(state, &o.regime, o.start);
            OrderOut::new(o, regime.as_ref())
        })
        .collect();
    Ok(OrdersOut { orders })
}

pub(super) async fn list_orders(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<OrderQuery>,
) -> Result<Json<OrdersOut>, AppError> {
    Ok(Json(orders_visible(&state, &caller, q).await?))
}

/// One order (to a caller who may act on its person); recorded in the access log.
pub fn order_out(
    state: &AppState,
    caller: &Actor,
    o: &Scoped<OrderRecord>,
) -> Result<OrderOut, AppError> {
    state.access.record(
        caller,
        "GET /api/v1/quarantine/orders/{id}",
        None,
        crate::now(),
        [o.person],
    )?;
    let regime = crate::policies::order_regime(state, &o.regime, o.start);
    Ok(OrderOut::new(o, regime.as_ref()))
}

pub(super) async fn get_order(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<OrderId>,
) -> Result<Json<OrderOut>, AppError> {
    let o = authorise::order(&state, &caller, id).await?;
    Ok(Json(order_out(&state, &caller, &o)?))
}

/// The body of `POST /quarantine/orders/{id}/transfer`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = OrderTransferIn)]
pub struct TransferIn {
    pub site: String,
}

/// Moves a person under order to another site (转运).
pub async fn transfer_order(
    state: &AppState,
    caller: &Actor,
    o: Scoped<OrderRecord>,
    input: JsonIn<TransferIn>,
) -> Result<TransferOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin, Role::SiteManager], "transfers")?;
    let b = input.get()?;
    let to: SiteId = parse_id(&b.site)?;
    authorise::site(state, caller, to).await?;
    refuse_hospital(state, to).await?;
    let o = o.into_inner();
    let event = NewEvent {
        at: crate::now(),
        actor: caller.actor(),
        basis: "转运 transfer between quarantine sites".into(),
        body: EventBody::QuarantineTransferred {
            order: o.id,
            person: o.person,
            from_site: o.site,
            to_site: to,
        },
    };
    match commit(
        state,
        vec![DutyOp::Transfer { order: o.id, to }],
        vec![event],
    )
    .await
    {
        Err(AppError::Conflict {
            code: "site_full", ..
        }) => Err(site_full_error(state, to).await),
        Err(AppError::NotFound { .. }) => Err(AppError::not_found("unknown_site", "no such site")),
        Err(e) => Err(e),
        Ok(_) => Ok(TransferOut {
            order: o.id.to_string(),
            site: to.to_string(),
        }),
    }
}

pub(super) async fn transfer(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<OrderId>,
    input: JsonIn<TransferIn>,
) -> Result<Json<TransferOut>, AppError> {
    let o = authorise::order(&state, &caller, id).await?;
    Ok(Json(transfer_order(&state, &caller, o, input).await?))
}

/// A person's tests: (sampling time, outcome as a test of this person, `None` while there is
/// none). Results posted one by one are `test_resulted` events in the log; the lab's
/// samples are in its own table, found by the tubes the lab's index places the person in,
/// and their tubes' outcomes in the lab's index (a negative
/// tube is one event for all its members, not indexed per person). A positive pool is no
/// result of the member until the single-tube retest; an invalid tube is none either.
pub(super) async fn test_history(
    state: &AppState,
    p: PersonId,
) -> Result<Vec<(Timestamp, Option<TestOutcome>)>, AppError> {
    let store = state.store.clone();
    let tubes = crate::lab::tubes_of_person(state, p);
    let (events, samples) = blocking(move || {
        Ok((
            store.events_of_person(p)?,
            store.samples_in_tubes(p, &tubes)?,
        ))
    })
    .await?;
    let mut out: Vec<(Timestamp, Option<TestOutcome>)> = events
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::TestResulted {
                sampled_at,
                outcome,
                ..
            } => Some((sampled_at, Some(outcome))),
            _ => None,
        })
        .collect();
    out.extend(crate::lab::outcomes_of(state, &samples));
    Ok(out)
}

/// Releases an order whose scheduled tests were all negative (with its follow-on phase, if
/// the regime has one), or extends it with a retest task when one is missing or positive.
pub async fn release_order(
    state: &AppState,
    caller: &Actor,
    o: Scoped<OrderRecord>,
) -> Result<ReleaseOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin, Role::SiteManager], "releases")?;
    let o = o.into_inner();
    if o.status != OrderStatus::Active {
        return Err(conflict(
            "order_not_active",
            format!("order {} is no longer active", o.id),
        ));
    }
    let policy = state.policy();
    let regime = crate::policies::order_regime(state, &o.regime, o.start).ok_or_else(|| {
        conflict(
            "unknown_regime",
            format!("no policy the order follows has a regime `{}`", o.regime),
        )
    })?;
    let phase = if o.then_phase {
        Regime {
            test_days: regime.then_test_days.clone(),
            ..regime.clone()
        }
    } else {
        regime.clone()
    };
    let person = o.person;
    let samples: Vec<(Timestamp, TestOutcome)> = test_history(state, person)
        .await?
        .into_iter()
        .filter_map(|(at, outcome)| Some((at, outcome?)))
        .collect();
    let now = crate::now();
    let check = release_check(&phase, o.start, o.planned_end, &samples, now);
    let basis = serde_json::to_string(&check).unwrap_or_default();
    match check {
        ReleaseCheck::TooEarly { planned_end } => Err(conflict(
            "release_too_early",
            format!(
                "order {} runs until {}; it cannot be released before",
                o.id,
                planned_end.to_rfc3339()
            ),
        )),
        ReleaseCheck::Extend {
            new_end,
            ref missing_days,
            positive,
        } => {
            let cell = home_cell(state, person)?;
            let ops = vec![
                DutyOp::ExtendOrder {
                    order: o.id,
                    planned_end: new_end,
                },
                DutyOp::InsertTasks(vec![NewTask {
                    cell,
                    kind: TaskKind::Retest,
                    person: Some(person),
                    household: None,
                    detail: format!("arrange the missing test(s) of {person} (order {})", o.id),
                    created_at: now,
                    due_at: now.plus(i64::from(policy.duties().task_due_hours) * HOUR),
                    dedupe: Some(format!("retest:{}:{}", o.id, new_end.0)),
                }]),
            ];
            let event = NewEvent {
                at: now,
                actor: caller.actor(),
                basis: format!("extended by policy {}: {basis}", policy.version()),
                body: EventBody::QuarantineOrdered {
                    order: o.id,
                    person,
                    quarantine_kind: o.kind,
                    reason: o.reason,
                    start: o.start,
                    planned_end: new_end,
                },
            };
            commit(state, ops, vec![event]).await?;
            Ok(ReleaseOut::Extended {
                missing_days: missing_days.clone(),
                order: o.id.to_string(),
                outcome: "extended",
                planned_end: new_end.to_rfc3339(),
                positive,
            })
        }
        ReleaseCheck::Release => {
            let mut ops = vec![DutyOp::EndOrder {
                order: o.id,
                at: now,
                status: OrderStatus::Released,
            }];
            let mut events = vec![NewEvent {
                at: now,
                actor: caller.actor(),
                basis: format!(
                    "released under policy {}: every scheduled test negative",
                    policy.version()
                ),
                body: EventBody::QuarantineEnded {
                    order: o.id,
                    person,
                    at: now,
                },
            }];
            // The monitoring after a discharge is the last step of a case's course: its
            // release closes the case.
            if o.reason == QuarantineReason::AfterDischarge
                && let Some(closed) =
                    crate::api::close_after_monitoring(state, person, &caller.actor(), now)
            {
                events.push(closed);
            }
            let mut next = None;
            if let (false, Some(kind)) = (o.then_phase, regime.then_kind) {
                let store = state.store.clone();
                let id = OrderId(blocking(move || store.next_duty_id("order")).await?);
                let follow = OrderRecord {
                    id,
                    person,
                    regime: regime.name.clone(),
                    kind,
                    reason: QuarantineReason::AfterQuarantine,
                    site: None,
                    start: now,
                    planned_end: now.plus(i64::from(regime.then_days) * DAY),
                    ended_at: None,
                    status: OrderStatus::Active,
                    follows: Some(o.id),
                    then_phase: true,
                };
                let cell = home_cell(state, person)?;
                ops.push(DutyOp::InsertOrder(follow.clone()));
                ops.push(DutyOp::InsertTasks(test_tasks(
                    person,
                    cell,
                    &regime.then_test_days,
                    now,
                    now,
                    &id.to_string(),
                )));
                events.push(NewEvent {
                    at: now,
                    actor: caller.actor(),
                    basis: format!(
                        "policy {} regime {}: follow-on phase",
                        policy.version(),
                        regime.name
                    ),
                    body: EventBody::QuarantineOrdered {
                        order: id,
                        person,
                        quarantine_kind: kind,
                        reason: QuarantineReason::AfterQuarantine,
                        start: now,
                        planned_end: follow.planned_end,
                    },
                });
                next = Some(follow);
            }
            commit(state, ops, events).await?;
            Ok(ReleaseOut::Released {
                next: next
                    .as_ref()
                    .map(|n| Box::new(OrderOut::new(n, Some(&regime)))),
                order: o.id.to_string(),
                outcome: "released",
            })
        }
    }
}

/// `POST /quarantine/orders/{id}/release` ([`release_order`]).
pub async fn release(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<OrderId>,
) -> Result<Json<ReleaseOut>, AppError> {
    let o = authorise::order(&state, &caller, id).await?;
    Ok(Json(release_order(&state, &caller, o).await?))
}
