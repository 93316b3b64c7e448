//! Arrivals (入锡申报): risk-area origins, registration ahead of travel, and the regime
//! applied on arrival.

use super::*;

/// The body of `POST /arrivals/origins`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OriginIn {
    pub code: String,
    pub name: String,
    pub risk: String,
}

/// Puts an origin on the risk list, or changes its risk (admins).
pub async fn set_origin(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<OriginIn>,
) -> Result<OriginSetOut, AppError> {
    caller.require(&[Role::Admin], "maintaining the origin risk list")?;
    let b = input.get()?;
    AreaCode::parse(&b.code).map_err(|e| bad("invalid_origin_code", e.to_string()))?;
    let risk: RiskLevel =
        variant(&b.risk).ok_or_else(|| bad("invalid_risk", "risk is high, medium or low"))?;
    if b.name.trim().is_empty() || b.name.chars().count() > 100 {
        return Err(bad("invalid_origin_name", "a name of 1-100 characters"));
    }
    let o = OriginRecord {
        code: b.code,
        name: b.name.trim().to_owned(),
        risk,
        updated_at: crate::now(),
        updated_by: caller.actor(),
    };
    let store = state.store.clone();
    let o2 = o.clone();
    blocking(move || store.put_origin(&o2)).await?;
    Ok(OriginSetOut {
        code: o.code,
        name: o.name,
        risk: b.risk,
    })
}

pub(super) async fn post_origin(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<OriginIn>,
) -> Result<(StatusCode, Json<OriginSetOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(set_origin(&state, &caller, input).await?),
    ))
}

/// The origin risk list.
pub async fn origins_visible(state: &AppState, caller: &Actor) -> Result<OriginsOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker, Role::Resident],
        "the origin risk list",
    )?;
    let store = state.store.clone();
    let list = blocking(move || store.origins()).await?;
    Ok(OriginsOut {
        origins: list.iter().map(OriginOut::from).collect(),
    })
}

pub(super) async fn list_origins(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<OriginsOut>, AppError> {
    Ok(Json(origins_visible(&state, &caller).await?))
}

/// The body of `POST /arrivals`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ArrivalIn {
    pub person: String,
    pub origin: String,
    pub planned_at: String,
}

/// Registers an arrival ahead of travel (入锡申报), with the regime it will come under.
pub async fn register_arrival(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<ArrivalIn>,
) -> Result<ArrivalOut, AppError> {
    let b = input.get()?;
    let person = person_id(&b.person)?;
    authorise::duty_person(state, caller, person, None).await?;
    let planned =
        Timestamp::parse_rfc3339(&b.planned_at).map_err(|e| bad("invalid_time", e.to_string()))?;
    let now = crate::now();
    if planned < now.plus(-DAY) || planned > now.plus(30 * DAY) {
        return Err(bad(
            "invalid_planned_at",
            "the planned arrival is within the next 30 days",
        ));
    }
    let code = b.origin.clone();
    let store = state.store.clone();
    let own = blocking(move || store.origin(&code)).await?;
    // A peer city's published risk areas count too (docs/cities.md): the stricter of ours
    // and theirs, under our regime for that risk.
    let peer = crate::cities::rules::peer_risk(state, &b.origin);
    let (origin, risk_source) = match (own, peer) {
        (Some(mut o), Some((risk, name))) => {
            let source = if crate::cities::rules::stricter(o.risk, risk) != o.risk {
                o.risk = risk;
                format!("peer:{name}")
            } else {
                "own".to_owned()
            };
            (o, source)
        }
        (Some(o), None) => (o, "own".to_owned()),
        (None, Some((risk, name))) => (
            OriginRecord {
                code: b.origin.clone(),
                name: String::new(),
                risk,
                updated_at: now,
                updated_by: format!("peer:{name}"),
            },
            format!("peer:{name}"),
        ),
        (None, None) => {
            return Err(unprocessable(
                "unknown_origin",
                format!(
                    "origin `{}` is not on the risk list",
                    b.origin.chars().take(20).collect::<String>()
                ),
                None,
            ));
        }
    };
    let policy = state.policy();
    let regime = policy.duties().arrival_regime(origin.risk).ok_or_else(|| {
        unprocessable(
            "no_regime",
            format!(
                "the policy in force ({}) has no arrival regime for this risk level",
                policy.version()
            ),
            None,
        )
    })?;
    let store = state.store.clone();
    let id = ArrivalId(blocking(move || store.next_duty_id("arrival")).await?);
    let a = ArrivalRecord {
        id,
        person,
        origin: origin.code.clone(),
        risk: origin.risk,
        regime: regime.name.clone(),
        planned_at: planned,
        arrived_at: None,
        registered_at: now,
    };
    commit(state, vec![DutyOp::InsertArrival(a)], Vec::new()).await?;
    let out = ArrivalOut {
        days: regime.days,
        id: id.to_string(),
        order_kind: regime.kind.map(|k| xikang_domain::duties::variant_name(&k)),
        origin: origin.code,
        person: person.to_string(),
        regime: regime.name.clone(),
        risk: xikang_domain::duties::variant_name(&origin.risk),
        risk_source,
        tests: schedule(&regime.test_days, planned),
    };
    Ok(out)
}

pub(super) async fn post_arrival(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<ArrivalIn>,
) -> Result<(StatusCode, Json<ArrivalOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(register_arrival(&state, &caller, input).await?),
    ))
}

/// The optional body of `POST /arrivals/{id}/arrived`: the site, if the caller names one.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct ArrivedIn {
    #[serde(default)]
    pub site: Option<String>,
}

/// Records an arrival and applies its regime: test tasks, or an order committed with it.
pub async fn record_arrival(
    state: &AppState,
    caller: &Actor,
    id: ArrivalId,
    input: JsonIn<ArrivedIn>,
) -> Result<ArrivedOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "recording an arrival",
    )?;
    let b = input.get_or_default()?;
    let store = state.store.clone();
    let a = blocking(move || store.arrival(id))
        .await?
        .ok_or_else(|| AppError::not_found("unknown_arrival", format!("no arrival {id}")))?;
    authorise::duty_person(state, caller, a.person, None).await?;
    let asked_site = parse_site(b.site.as_deref())?;
    if let Some(s) = asked_site {
        authorise::site(state, caller, s).await?;
    }
    if a.arrived_at.is_some() {
        return Err(conflict(
            "already_arrived",
            "the arrival was already recorded",
        ));
    }
    let policy = state.policy();
    let regime = policy.duties().regime(&a.regime).cloned().ok_or_else(|| {
        conflict(
            "unknown_regime",
            format!("the policy in force has no regime `{}`", a.regime),
        )
    })?;
    let now = crate::now();
    let cell = home_cell(state, a.person)?;
    let arrived_event = NewEvent {
        at: now,
        actor: caller.actor(),
        basis: format!(
            "入锡申报 {id}: origin {} ({})",
            a.origin,
            xikang_domain::duties::variant_name(&a.risk)
        ),
        body: EventBody::Arrived {
            person: a.person,
            origin: a.origin.clone(),
            origin_risk: a.risk,
            at: now,
        },
    };
    let mark = DutyOp::MarkArrived {
        arrival: id,
        at: now,
    };
    // The arrival and the order it causes commit together: an arrival is never recorded
    // without its regime.
    let order = match regime.kind {
        None => {
            let tasks = test_tasks(a.person, cell, &regime.test_days, now, now, &id.to_string());
            commit(
                state,
                vec![mark, DutyOp::InsertTasks(tasks)],
                vec![arrived_event],
            )
            .await?;
            None
        }
        Some(kind) => {
            let site = match (kind, asked_site) {
                (QuarantineKind::Centralized, None) => {
                    // Only a site the caller could have named (see `authorise::site`).
                    let store = state.store.clone();
                    let sites = blocking(move || store.sites()).await?;
                    let site = sites
                        .iter()
                        .find(|s| {
                            s.kind == SiteKind::Centralized
                                && s.occupancy < s.capacity
                                && caller.covers(&s.area)
                        })
                        .map(|s| s.id);
                    Some(site.ok_or_else(|| {
                        unprocessable(
                            "no_site_with_room",
                            "no centralized quarantine site has room; nothing was recorded",
                            None,
                        )
                    })?)
                }
                (_, s) => s,
            };
            Some(
                issue_order(
                    state,
                    caller.actor(),
                    a.person,
                    &regime,
                    site,
                    now,
                    now,
                    format!("policy {} arrival regime {}", policy.version(), regime.name),
                    (vec![mark], vec![arrived_event]),
                )
                .await?,
            )
        }
    };
    Ok(ArrivedOut {
        arrival: id.to_string(),
        order: order.as_ref().map(|o| OrderOut::new(o, Some(&regime))),
        regime: regime.name.clone(),
        tests: schedule(&regime.test_days, now),
    })
}

pub(super) async fn arrived(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<ArrivalId>,
    input: JsonIn<ArrivedIn>,
) -> Result<Json<ArrivedOut>, AppError> {
    Ok(Json(record_arrival(&state, &caller, id, input).await?))
}
