//! Daily health reports of people under an order, follow-ups for tracers, and the duty
//! sweep (missed reports, test schedules checked against lab results) and its loop.

use super::*;

/// Symptoms a report may name.
pub const SYMPTOMS: [&str; 7] = [
    "fever",
    "cough",
    "sore_throat",
    "fatigue",
    "loss_of_taste_or_smell",
    "diarrhoea",
    "shortness_of_breath",
];

/// The body of `POST /quarantine/reports`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReportIn {
    pub person: String,
    pub temperature_c: f64,
    #[serde(default)]
    pub symptoms: Vec<String>,
}

/// Records a daily health report; fever or symptoms flag a follow-up and a test task.
pub async fn report_health(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<ReportIn>,
) -> Result<ReportOut, AppError> {
    let b = input.get()?;
    let person = person_id(&b.person)?;
    // The caller is checked before anything is answered about the person: answering
    // `not_under_order` first told anyone whether a person was under quarantine. A site
    // manager's reach depends on the order's site, so the order is looked up first but
    // its absence is told only to a caller who may act on the person.
    let store = state.store.clone();
    let orders = blocking(move || {
        store.orders(&OrderFilter {
            person: Some(person),
            active_only: true,
            ..OrderFilter::default()
        })
    })
    .await?;
    let order = orders.first();
    authorise::duty_person(state, caller, person, order.and_then(|o| o.site)).await?;
    let tenths = temperature_tenths(b.temperature_c)
        .ok_or_else(|| bad("invalid_temperature", "a temperature from 34.0 to 43.0 °C"))?;
    let mut symptoms = b.symptoms.clone();
    symptoms.sort();
    symptoms.dedup();
    if let Some(s) = symptoms.iter().find(|s| !SYMPTOMS.contains(&s.as_str())) {
        return Err(bad(
            "invalid_symptom",
            format!(
                "unknown symptom `{}`; known: {}",
                s.chars().take(40).collect::<String>(),
                SYMPTOMS.join(", ")
            ),
        ));
    }
    let Some(order) = order else {
        return Err(unprocessable(
            "not_under_order",
            format!("{person} is under no active order"),
            None,
        ));
    };
    let now = crate::now();
    let rules = state.policy().duties().clone();
    let fever = rules.is_fever(tenths);
    let mut ops = vec![DutyOp::InsertReport(ReportRecord {
        person,
        at: now,
        temperature_tenths: tenths,
        symptoms: symptoms.clone(),
        reporter: caller.actor(),
    })];
    let mut events = Vec::new();
    let flagged = fever || !symptoms.is_empty();
    if flagged {
        let reason = if fever {
            "fever".to_owned()
        } else {
            format!("symptoms: {}", symptoms.join(","))
        };
        ops.push(DutyOp::InsertTasks(vec![NewTask {
            cell: home_cell(state, person)?,
            kind: TaskKind::ArrangeTest,
            person: Some(person),
            household: None,
            detail: format!("arrange a test for {person}: health report ({reason})"),
            created_at: now,
            due_at: now.plus(i64::from(rules.task_due_hours) * HOUR),
            dedupe: Some(format!("followup:{person}:{}", now.shanghai_day().0)),
        }]));
        events.push(NewEvent {
            at: now,
            actor: caller.actor(),
            basis: format!("daily health report under order {}", order.id),
            body: EventBody::FollowUpFlagged { person, reason },
        });
    }
    commit(state, ops, events).await?;
    Ok(ReportOut {
        fever,
        flagged,
        person: person.to_string(),
    })
}

pub(super) async fn post_report(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<ReportIn>,
) -> Result<(StatusCode, Json<ReportOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(report_health(&state, &caller, input).await?),
    ))
}

/// The flagged health reports in the caller's area, newest first.
pub async fn follow_ups_visible(
    state: &AppState,
    caller: &Actor,
) -> Result<FollowUpsOut, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "follow-ups")?;
    let list = lock(&state.projection.follow_ups).clone();
    let listed: Vec<_> = list
        .iter()
        .rev()
        .filter(|(p, _, _)| {
            state
                .projection
                .person_area(*p)
                .is_some_and(|a| caller.covers(&a))
        })
        .take(1000)
        .collect();
    state.access.record(
        caller,
        "GET /api/v1/quarantine/follow-ups",
        None,
        crate::now(),
        listed.iter().map(|(p, _, _)| *p),
    )?;
    let follow_ups = listed
        .into_iter()
        .map(|(p, at, reason)| FollowUpOut {
            at: at.to_rfc3339(),
            person: p.to_string(),
            reason: reason.clone(),
        })
        .collect();
    Ok(FollowUpsOut { follow_ups })
}

pub(super) async fn follow_ups(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<FollowUpsOut>, AppError> {
    Ok(Json(follow_ups_visible(&state, &caller).await?))
}

/// Turns missed daily reports into tasks: everyone under an active order (that began before
/// the day's deadline) who has not reported on the last day whose deadline has passed.
/// Returns how many tasks were created.
pub async fn sweep_missed_reports(state: &AppState, now: Timestamp) -> Result<u64, AppError> {
    let rules = state.policy().duties().clone();
    let today = now.shanghai_day();
    let day = if now >= report_deadline(&rules, today) {
        today
    } else {
        CivilDay(today.0 - 1)
    };
    let deadline = report_deadline(&rules, day);
    let store = state.store.clone();
    let (orders, reporters) = blocking(move || {
        Ok((
            store.orders(&every_active_order())?,
            store.reporters_on(day)?,
        ))
    })
    .await?;
    let reported: HashSet<PersonId> = reporters.into_iter().collect();
    let mut tasks = Vec::new();
    for o in orders
        .iter()
        .filter(|o| o.start < deadline && !reported.contains(&o.person))
    {
        let Ok(cell) = home_cell(state, o.person) else {
            continue;
        };
        tasks.push(NewTask {
            cell,
            kind: TaskKind::HealthReportMissed,
            person: Some(o.person),
            household: None,
            detail: format!(
                "{} did not report temperature and symptoms on {}",
                o.person,
                day.compact()
            ),
            created_at: now,
            due_at: now.plus(i64::from(rules.task_due_hours) * HOUR),
            dedupe: Some(format!("report:{}:{}", o.person, day.0)),
        });
    }
    let n = tasks.len() as u64;
    if n > 0 {
        commit(state, vec![DutyOp::InsertTasks(tasks)], Vec::new()).await?;
    }
    Ok(n)
}

/// The filter for every active order, as the sweeps read them.
pub(super) fn every_active_order() -> OrderFilter {
    OrderFilter {
        active_only: true,
        limit: 10_000_000,
        ..OrderFilter::default()
    }
}

/// The test schedules against the results: every test day of an active order (its
/// phase's days) and of an arrival's test-only regime (3天3检) that is over without a sample
/// becomes a missed mandated test — the policy's state (pop-up type 4 by default) until a
/// negative result exists — once per person and day (the lab records them,
/// `crate::lab::record_missed_tests`). Orders also refuse release while a test day lacks a
/// negative ([`release`]); this makes the lapse visible on the day. Answers each missed
/// day as (person, when it was due, the basis).
pub async fn missed_test_days(
    state: &AppState,
    now: Timestamp,
) -> Result<Vec<(PersonId, Timestamp, String)>, AppError> {
    let policy = state.policy();
    let rules = policy.duties();
    let longest = rules
        .regimes()
        .iter()
        .map(|r| r.days.max(r.then_days))
        .max()
        .unwrap_or(0);
    let store = state.store.clone();
    let since = now.plus(-(i64::from(longest) + 2) * DAY);
    let (orders, arrivals) = blocking(move || {
        Ok((
            store.orders(&every_active_order())?,
            store.arrived_since(since)?,
        ))
    })
    .await?;
    // (person, test days, start, what the schedule is)
    let mut schedules: Vec<(PersonId, Vec<u32>, Timestamp, String)> = Vec::new();
    for o in &orders {
        let Some(r) = rules.regime(&o.regime) else {
            continue;
        };
        let days = if o.then_phase {
            &r.then_test_days
        } else {
            &r.test_days
        };
        schedules.push((o.person, days.clone(), o.start, format!("order {}", o.id)));
    }
    for a in &arrivals {
        // Arrivals under an order are checked through the order.
        if let (Some(r), Some(at)) = (rules.regime(&a.regime), a.arrived_at)
            && r.kind.is_none()
        {
            schedules.push((
                a.person,
                r.test_days.clone(),
                at,
                format!("arrival {}", a.id),
            ));
        }
    }
    let mut missed = Vec::new();
    for (person, days, start, what) in schedules {
        // Only people with a test day over (and not yet recorded) cost a history read.
        let over = xikang_domain::duties::missed_test_days(&days, start, &[], now);
        if over.is_empty() {
            continue;
        }
        let sampled: Vec<Timestamp> = test_history(state, person)
            .await?
            .into_iter()
            .map(|(at, _)| at)
            .collect();
        for (day, due) in xikang_domain::duties::missed_test_days(&days, start, &sampled, now) {
            missed.push((
                person,
                due,
                format!(
                    "policy {}: test day {day} of {what} passed without a sample",
                    policy.version()
                ),
            ));
        }
    }
    Ok(missed)
}

/// Runs one pass of the duty sweep now (admins).
pub async fn sweep_now(state: &AppState, caller: &Actor) -> Result<SweepOut, AppError> {
    caller.require(&[Role::Admin], "running the duty sweep")?;
    crate::app::sweep::run(state, crate::now()).await
}

pub(super) async fn sweep(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<SweepOut>, AppError> {
    Ok(Json(sweep_now(&state, &caller).await?))
}
