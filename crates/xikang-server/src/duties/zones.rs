//! Zones: drawing and sealing, the lift conditions with their evidence, system proposals
//! and their approval or rejection by a second official. A zone drawn by hand is itself a
//! proposal (issue 14): it changes nobody's colour until a second official approves it; a
//! rule's proposal needs one official's approval.

use super::*;
use xikang_domain::authority::{ApprovalRefused, second_official};

/// The body of `POST /zones`: cells or a GeoJSON polygon.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ZoneIn {
    pub name: String,
    pub level: String,
    #[serde(default)]
    pub cells: Option<Vec<u32>>,
    #[serde(default)]
    pub polygon: Option<Value>,
}

/// What sealing (or drawing) a zone did; the answer to `POST /zones` (fields in
/// alphabetical order, as the wire types in `duties/wire.rs`).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ZoneOutcome {
    pub cells: usize,
    pub households: usize,
    pub level: String,
    pub residents: usize,
    pub tasks: usize,
    pub zone: String,
}

pub(super) fn residents_in(state: &AppState, cells: &HashSet<GridCell>) -> usize {
    read(&state.projection.people)
        .iter()
        .filter(|s| s.community != u32::MAX && cells.contains(&s.home_cell))
        .count()
}

pub(super) fn is_sealing(level: ZoneLevel) -> bool {
    matches!(level, ZoneLevel::Sealed | ZoneLevel::High)
}

/// The tasks a sealed zone creates: door-to-door screening per cell, deliveries per
/// household (服务上门).
pub(super) async fn sealing_tasks(
    state: &AppState,
    zone: ZoneId,
    cells: &[GridCell],
    now: Timestamp,
) -> Result<(Vec<NewTask>, usize), AppError> {
    let store = state.store.clone();
    let cs = cells.to_vec();
    let households = blocking(move || store.households_in_cells(&cs)).await?;
    let due = now.plus(i64::from(state.policy().duties().task_due_hours) * HOUR);
    let mut tasks = Vec::with_capacity(households.len() + cells.len());
    for c in cells {
        tasks.push(NewTask {
            cell: *c,
            kind: TaskKind::DoorToDoorScreening,
            person: None,
            household: None,
            detail: format!("门铃 door-to-door screening of cell {} (zone {zone})", c.0),
            created_at: now,
            due_at: due,
            dedupe: Some(format!("screen:{zone}:{}:{}", c.0, now.0)),
        });
    }
    for (h, c) in &households {
        tasks.push(NewTask {
            cell: *c,
            kind: TaskKind::Delivery,
            person: None,
            household: Some(*h),
            detail: format!("deliveries to sealed household {h} (zone {zone})"),
            created_at: now,
            due_at: due,
            dedupe: Some(format!("delivery:{zone}:{h}:{}", now.0)),
        });
    }
    Ok((tasks, households.len()))
}

/// Proposes a zone by grid cells or a GeoJSON polygon (admins, cells inside their area); a
/// second admin approves it (`POST /zones/proposals/{id}/approve`).
pub async fn draw_zone_by(
    state: &AppState,
    caller: &Actor,
    input: JsonIn<ZoneIn>,
) -> Result<DrawProposedOut, AppError> {
    caller.require(&[Role::Admin], "drawing zones (command centre)")?;
    let b = input.get()?;
    let level: ZoneLevel = variant(&b.level).ok_or_else(|| {
        bad(
            "invalid_zone_level",
            "level is sealed, controlled, precaution, high, medium or low",
        )
    })?;
    if b.name.trim().is_empty() || b.name.chars().count() > 100 {
        return Err(bad(
            "invalid_zone_name",
            "a zone needs a name of 1-100 characters",
        ));
    }
    let store = state.store.clone();
    let grid = blocking(move || store.grid_cells()).await?;
    let known: HashMap<GridCell, &GridCellRecord> = grid.iter().map(|c| (c.cell, c)).collect();
    let cells: Vec<GridCell> = match (&b.cells, &b.polygon) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(bad(
                "cells_or_polygon",
                "draw a zone by `cells` or by `polygon`, not both",
            ));
        }
        (Some(list), None) => {
            let mut cells: Vec<GridCell> = list.iter().map(|c| GridCell(*c)).collect();
            cells.sort();
            cells.dedup();
            if let Some(c) = cells.iter().find(|c| !known.contains_key(c)) {
                return Err(unprocessable(
                    "unknown_cell",
                    format!("grid cell {} is not in the grid", c.0),
                    None,
                ));
            }
            cells
        }
        (None, Some(geo)) => {
            let poly = Polygon::from_geojson(geo).map_err(|e| bad("invalid_polygon", e.0))?;
            grid.iter()
                .filter(|c| poly.contains(c.lon, c.lat))
                .map(|c| c.cell)
                .collect()
        }
    };
    if cells.is_empty() {
        return Err(unprocessable(
            "empty_zone",
            "the zone covers no grid cell",
            None,
        ));
    }
    if cells.len() > 50_000 {
        return Err(bad("zone_too_large", "a zone covers at most 50,000 cells"));
    }
    if cells
        .iter()
        .any(|c| known.get(c).is_some_and(|r| !caller.covers(&r.community)))
    {
        return Err(AppError::Forbidden("a cell lies outside your jurisdiction"));
    }
    let set: HashSet<GridCell> = cells.iter().copied().collect();
    let n_cells = cells.len();
    let draft = ZoneDraft {
        cells,
        name: b.name.trim().to_owned(),
    };
    let p = propose_draw(state, caller.actor(), draft, level, crate::now()).await?;
    Ok(DrawProposedOut {
        cells: n_cells,
        level: xikang_domain::duties::variant_name(&level),
        proposal: p.id.to_string(),
        residents: residents_in(state, &set),
        status: "proposed",
        zone: p.zone.to_string(),
    })
}

/// `POST /zones`: 202, the zone is proposed ([`draw_zone_by`]).
pub(super) async fn post_zone(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<ZoneIn>,
) -> Result<(StatusCode, Json<DrawProposedOut>), AppError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(draw_zone_by(&state, &caller, input).await?),
    ))
}

pub(super) async fn zones_now(state: &AppState) -> Result<Vec<ZoneRecord>, AppError> {
    let store = state.store.clone();
    blocking(move || store.zones()).await
}

/// Every zone, with its residents.
pub async fn zones_visible(state: &AppState, caller: &Actor) -> Result<ZonesOut, AppError> {
    caller.require(
        &[Role::Admin, Role::Tracer, Role::GridWorker],
        "listing zones",
    )?;
    let zones = zones_now(state).await?;
    let zones = zones
        .iter()
        .map(|z| {
            let set: HashSet<GridCell> = z.cells.iter().copied().collect();
            ZoneOut::new(z, residents_in(state, &set))
        })
        .collect();
    Ok(ZonesOut { zones })
}

pub(super) async fn list_zones(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<ZonesOut>, AppError> {
    Ok(Json(zones_visible(&state, &caller).await?))
}

/// What the state knows about a zone for its lifting conditions.
pub fn zone_evidence(
    state: &AppState,
    z: &ZoneRecord,
    round_days: Option<u32>,
    now: Timestamp,
) -> ZoneEvidence {
    let cells: HashSet<GridCell> = z.cells.iter().copied().collect();
    // People with an open case are in a designated hospital (第九版: transferred within two
    // hours), not in the zone: the negative round does not wait for them, and their own
    // negatives (a patient is tested before discharge) are not counted either, so that both
    // sides of the round count the same people. A discharged case is a resident again. A
    // resident who died is no longer awaited either (counted with those in treatment, so the
    // detail shows the round did not simply forget them); their case still dates the zone's
    // last case.
    let in_treatment: HashSet<PersonId> = read(&state.projection.cases)
        .values()
        .filter(|c| c.is_open() || c.course.stage == xikang_domain::case::Stage::Died)
        .map(|c| c.person)
        .collect();
    let people = read(&state.projection.people);
    let exposures = lock(&state.projection.exposures);
    let round_from = round_days.map(|d| now.plus(-i64::from(d) * DAY));
    let mut residents = 0u32;
    let mut treated = 0u32;
    let mut negative = 0u32;
    let mut last_contact: Option<Timestamp> = None;
    let mut members = HashSet::new();
    for (i, s) in people.iter().enumerate() {
        if s.community == u32::MAX || !cells.contains(&s.home_cell) {
            continue;
        }
        let p = PersonId(i as u32);
        members.insert(p);
        residents += 1;
        if in_treatment.contains(&p) {
            treated += 1;
        } else if let Some(from) = round_from {
            let neg = s.facts.last_negative();
            if neg.is_some_and(|n| n >= from) && s.facts.last_sample() == neg {
                negative += 1;
            }
        }
        if let Some(t) = exposures.get(&p) {
            last_contact = Some(last_contact.map_or(*t, |l: Timestamp| l.max(*t)));
        }
    }
    drop(exposures);
    drop(people);
    let last_case = read(&state.projection.cases)
        .values()
        .filter(|c| members.contains(&c.person))
        .map(|c| c.registered_at)
        .max();
    ZoneEvidence {
        since: z.since,
        last_case,
        last_contact_exposure: last_contact,
        residents,
        residents_negative: if round_from.is_some() {
            negative
        } else {
            residents - treated
        },
        residents_in_treatment: treated,
    }
}

/// What the policy proposes for a zone now, with the conditions that hold: seal it (a case
/// inside a controlled zone), lift it or step it down (its conditions all hold), or nothing.
pub fn zone_proposal(
    state: &AppState,
    z: &ZoneRecord,
    now: Timestamp,
) -> Option<(ProposalAction, Option<ZoneLevel>, Vec<LiftCondition>)> {
    let policy = state.policy();
    let d = policy.duties();
    if let Some(to) = d.escalation(z.level) {
        let ev = zone_evidence(state, z, None, now);
        if let Some(case_at) = ev.last_case.filter(|c| *c >= z.since) {
            return Some((
                ProposalAction::SetLevel,
                Some(to),
                vec![LiftCondition {
                    name: "case_inside".into(),
                    holds: true,
                    detail: format!(
                        "a case among the residents was registered at {}",
                        case_at.to_rfc3339()
                    ),
                }],
            ));
        }
    }
    let rule = d.lift_rule(z.level)?;
    let ev = zone_evidence(state, z, rule.negative_round_days, now);
    let conditions = lift_conditions(&rule, &ev, now);
    if !all_hold(&conditions) {
        return None;
    }
    Some(match rule.next_level {
        Some(l) => (ProposalAction::SetLevel, Some(l), conditions),
        None => (ProposalAction::Lift, None, conditions),
    })
}

pub(super) async fn zone_by_id(state: &AppState, id: ZoneId) -> Result<ZoneRecord, AppError> {
    zones_now(state)
        .await?
        .into_iter()
        .find(|z| z.id == id)
        .ok_or_else(|| AppError::not_found("unknown_zone", format!("no zone {id}")))
}

/// A zone's lifting conditions with their evidence now.
pub async fn conditions_of(
    state: &AppState,
    caller: &Actor,
    id: ZoneId,
) -> Result<ConditionsOut, AppError> {
    caller.require(&[Role::Admin, Role::Tracer], "zone conditions")?;
    let z = zone_by_id(state, id).await?;
    let now = crate::now();
    let policy = state.policy();
    let rule = policy.duties().lift_rule(z.level);
    let conditions = rule.map(|r| {
        lift_conditions(
            &r,
            &zone_evidence(state, &z, r.negative_round_days, now),
            now,
        )
    });
    Ok(ConditionsOut {
        all_hold: conditions.as_deref().is_some_and(all_hold),
        conditions: conditions.as_deref().map(conditions_out),
        level: xikang_domain::duties::variant_name(&z.level),
        lifted: z.lifted_at.is_some(),
        zone: z.id.to_string(),
    })
}

pub(super) async fn zone_conditions(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<ZoneId>,
) -> Result<Json<ConditionsOut>, AppError> {
    Ok(Json(conditions_of(&state, &caller, id).await?))
}

/// Records an open proposal for `zone`; `conditions` is what the proposal keeps as JSON
/// (the conditions that held, or a drawn zone).
pub(super) async fn insert_proposal(
    state: &AppState,
    zone: ZoneId,
    action: ProposalAction,
    to_level: Option<ZoneLevel>,
    conditions: String,
    proposer: String,
    now: Timestamp,
) -> Result<ProposalRecord, AppError> {
    let store = state.store.clone();
    let id = ProposalId(blocking(move || store.next_duty_id("proposal")).await?);
    let p = ProposalRecord {
        id,
        zone,
        action,
        to_level,
        proposer,
        conditions,
        proposed_at: now,
        status: ProposalStatus::Open,
        decided_by: None,
        decided_at: None,
    };
    commit(state, vec![DutyOp::InsertProposal(p.clone())], Vec::new()).await?;
    Ok(p)
}

/// The system's pass over every active zone: proposes what the policy's conditions call for
/// (an open proposal is left alone). Returns how many proposals were made.
pub async fn propose_zone_changes(state: &AppState, now: Timestamp) -> Result<u64, AppError> {
    propose_where(state, None, now).await
}

/// The same pass over the zones where these people live, run as soon as a case is
/// registered (a positive single tube, a tracer's report): a positive inside a controlled
/// zone proposes sealing it at once, not at the next sweep. Returns how many proposals
/// were made.
pub async fn propose_for_cases(
    state: &AppState,
    people: &[PersonId],
    now: Timestamp,
) -> Result<u64, AppError> {
    let cells: HashSet<GridCell> = {
        let slots = read(&state.projection.people);
        people
            .iter()
            .filter_map(|p| slots.get(p.0 as usize))
            .filter(|s| s.community != u32::MAX)
            .map(|s| s.home_cell)
            .collect()
    };
    let escalating = {
        let policy = state.policy();
        read(&state.projection.zones)
            .values()
            .any(|(level, zone_cells)| {
                policy.duties().escalation(*level).is_some()
                    && zone_cells.iter().any(|c| cells.contains(c))
            })
    };
    if !escalating {
        return Ok(0);
    }
    propose_where(state, Some(&cells), now).await
}

/// Proposes for the active zones without an open proposal (those touching `cells`, or all).
pub(super) async fn propose_where(
    state: &AppState,
    cells: Option<&HashSet<GridCell>>,
    now: Timestamp,
) -> Result<u64, AppError> {
    let zones: Vec<ZoneRecord> = zones_now(state)
        .await?
        .into_iter()
        .filter(|z| cells.is_none_or(|cs| z.cells.iter().any(|c| cs.contains(c))))
        .collect();
    let store = state.store.clone();
    let open: HashSet<ZoneId> = blocking(move || store.proposals(None))
        .await?
        .into_iter()
        .filter(|p| p.status == ProposalStatus::Open)
        .map(|p| p.zone)
        .collect();
    let mut n = 0;
    for z in zones
        .iter()
        .filter(|z| z.lifted_at.is_none() && !open.contains(&z.id))
    {
        if let Some((action, to, conditions)) = zone_proposal(state, z, now) {
            insert_proposal(
                state,
                z.id,
                action,
                to,
                serde_json::to_string(&conditions).unwrap_or_default(),
                "system:zones".into(),
                now,
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Runs the system's proposal pass now (admins).
pub async fn run_proposals_now(state: &AppState, caller: &Actor) -> Result<ProposedOut, AppError> {
    caller.require(&[Role::Admin], "running zone proposals")?;
    let proposed = propose_zone_changes(state, crate::now()).await?;
    Ok(ProposedOut { proposed })
}

pub(super) async fn run_proposals(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<ProposedOut>, AppError> {
    Ok(Json(run_proposals_now(&state, &caller).await?))
}

/// Every zone proposal.
pub async fn proposals_visible(state: &AppState, caller: &Actor) -> Result<ProposalsOut, AppError> {
    caller.require(&[Role::Admin, Role::Tracer], "zone proposals")?;
    let store = state.store.clone();
    let list = blocking(move || store.proposals(None)).await?;
    Ok(ProposalsOut {
        proposals: list.iter().map(ProposalOut::from).collect(),
    })
}

pub(super) async fn list_proposals(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<ProposalsOut>, AppError> {
    Ok(Json(proposals_visible(&state, &caller).await?))
}

/// An official's proposal for a zone, made only if the policy's conditions hold.
pub async fn propose_by(
    state: &AppState,
    caller: &Actor,
    id: ZoneId,
) -> Result<ProposalOut, AppError> {
    caller.require(&[Role::Admin], "proposing zone changes")?;
    let z = zone_by_id(state, id).await?;
    authorise::cells(state, caller, &z.cells).await?;
    if z.lifted_at.is_some() {
        return Err(conflict("zone_not_active", "the zone was already lifted"));
    }
    let now = crate::now();
    let Some((action, to, conditions)) = zone_proposal(state, &z, now) else {
        let policy = state.policy();
        let conditions = policy.duties().lift_rule(z.level).map(|r| {
            lift_conditions(
                &r,
                &zone_evidence(state, &z, r.negative_round_days, now),
                now,
            )
        });
        return Err(conflict_with(
            "conditions_not_met",
            "the policy's conditions for changing this zone do not hold",
            conditions.as_deref().map(conditions_out),
        ));
    };
    let conditions = serde_json::to_string(&conditions).unwrap_or_default();
    let p = insert_proposal(state, z.id, action, to, conditions, caller.actor(), now).await?;
    Ok(ProposalOut::from(&p))
}

pub(super) async fn propose_manually(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<ZoneId>,
) -> Result<(StatusCode, Json<ProposalOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(propose_by(&state, &caller, id).await?),
    ))
}

/// A 422 refusal whose details are the conditions (null: the level has no lifting rule).
pub(super) fn conflict_with(
    code: &'static str,
    m: &str,
    conditions: Option<Vec<ConditionOut>>,
) -> AppError {
    unprocessable(
        code,
        m,
        serde_json::to_value(ConditionsDetails { conditions }).ok(),
    )
}

/// The basis of an approval's event: the proposal, who proposed and who approved it, and
/// the conditions that held (kept in the log as JSON, keys in alphabetical order).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
struct ApprovalBasis<'a> {
    /// `rule`: the policy's conditions proposed it (see `authority::ApprovedBasis`).
    act: &'static str,
    approver: &'a str,
    conditions: Vec<ConditionOut>,
    proposal: String,
    proposer: &'a str,
}

/// Fails unless the proposal's zone lies in the caller's area.
pub(super) async fn proposal_in_reach(
    state: &AppState,
    caller: &Actor,
    p: &ProposalRecord,
) -> Result<(), AppError> {
    if p.action == ProposalAction::Draw {
        let cells = super::draw::draft_of(p).map_or_else(Vec::new, |d| d.cells);
        return authorise::cells(state, caller, &cells).await;
    }
    let zones = zones_now(state).await?;
    let cells = zones
        .iter()
        .find(|z| z.id == p.zone)
        .map_or(&[][..], |z| &z.cells[..]);
    authorise::cells(state, caller, cells).await
}

pub(super) async fn proposal_by_id(
    state: &AppState,
    id: ProposalId,
) -> Result<ProposalRecord, AppError> {
    let store = state.store.clone();
    blocking(move || store.proposals(None))
        .await?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| AppError::not_found("unknown_proposal", format!("no proposal {id}")))
}

/// Applies a proposal approved by `approver`, who must not be its proposer. Lifting (and
/// stepping down) re-checks the conditions at approval time; the event's basis records the
/// proposal, its proposer and the conditions that held.
pub async fn approve_proposal(
    state: &AppState,
    proposal: &ProposalRecord,
    approver: String,
    now: Timestamp,
) -> Result<ApprovedOut, AppError> {
    if proposal.status != ProposalStatus::Open {
        return Err(conflict(
            "proposal_decided",
            "the proposal was already decided",
        ));
    }
    match second_official(&proposal.proposer, &approver) {
        Ok(()) => {}
        Err(ApprovalRefused::SameOfficial) => {
            return Err(conflict(
                "same_official",
                "the official who proposed a zone change cannot approve it: a second official must",
            ));
        }
        Err(ApprovalRefused::NotAnOfficial) => {
            return Err(AppError::Forbidden(
                "only an official approves a zone change",
            ));
        }
    }
    if proposal.action == ProposalAction::Draw {
        return super::draw::approve_draw(state, proposal, approver, now).await;
    }
    let zones = zones_now(state).await?;
    let z = zones
        .iter()
        .find(|z| z.id == proposal.zone)
        .ok_or_else(|| AppError::not_found("unknown_zone", "the proposal's zone is gone"))?;
    if z.lifted_at.is_some() {
        return Err(conflict("zone_not_active", "the zone was already lifted"));
    }
    let escalating = proposal.to_level.is_some_and(is_sealing) && !is_sealing(z.level);
    let conditions: Vec<LiftCondition> = if escalating {
        serde_json::from_str(&proposal.conditions).unwrap_or_default()
    } else {
        let policy = state.policy();
        let rule = policy.duties().lift_rule(z.level).ok_or_else(|| {
            conflict(
                "conditions_not_met",
                "the policy in force has no lifting rule for this level",
            )
        })?;
        let c = lift_conditions(
            &rule,
            &zone_evidence(state, z, rule.negative_round_days, now),
            now,
        );
        if !all_hold(&c) {
            return Err(conflict_with(
                "conditions_not_met",
                "the conditions no longer hold; nothing was changed",
                Some(conditions_out(&c)),
            ));
        }
        c
    };
    let basis = serde_json::to_string(&ApprovalBasis {
        act: "rule",
        approver: &approver,
        conditions: conditions_out(&conditions),
        proposal: proposal.id.to_string(),
        proposer: &proposal.proposer,
    })
    .unwrap_or_default();
    let decide = DutyOp::DecideProposal {
        proposal: proposal.id,
        status: ProposalStatus::Approved,
        by: approver.clone(),
        at: now,
    };
    let mut ops = vec![decide];
    let (body, tasks) = match (proposal.action, proposal.to_level) {
        // Handled above; refused rather than read as another action.
        (ProposalAction::Draw, _) => {
            return Err(conflict(
                "proposal_decided",
                "a drawn zone is approved as a draw",
            ));
        }
        (ProposalAction::SetLevel, Some(level)) => {
            let tasks = if is_sealing(level) {
                sealing_tasks(state, z.id, &z.cells, now).await?.0
            } else {
                Vec::new()
            };
            ops.push(DutyOp::PutZone(ZoneRecord {
                level,
                since: now,
                ..z.clone()
            }));
            (
                EventBody::ZoneSet {
                    zone: z.id,
                    level,
                    cells: z.cells.clone(),
                    name: z.name.clone(),
                },
                tasks,
            )
        }
        (ProposalAction::Lift | ProposalAction::SetLevel, _) => {
            ops.push(DutyOp::LiftZone {
                zone: z.id,
                at: now,
            });
            (
                EventBody::ZoneLifted {
                    zone: z.id,
                    approver: approver.clone(),
                },
                Vec::new(),
            )
        }
    };
    let n_tasks = tasks.len();
    ops.push(DutyOp::InsertTasks(tasks));
    commit(
        state,
        ops,
        vec![NewEvent {
            at: now,
            actor: approver,
            basis,
            body,
        }],
    )
    .await?;
    let set: HashSet<GridCell> = z.cells.iter().copied().collect();
    Ok(ApprovedOut {
        approved: true,
        proposal: proposal.id.to_string(),
        residents: residents_in(state, &set),
        tasks: n_tasks,
        zone: z.id.to_string(),
    })
}

/// Approves a proposal for a zone in the caller's area ([`approve_proposal`]).
pub async fn approve_by(
    state: &AppState,
    caller: &Actor,
    id: ProposalId,
) -> Result<ApprovedOut, AppError> {
    caller.require(&[Role::Admin], "approving zone changes")?;
    let p = proposal_by_id(state, id).await?;
    proposal_in_reach(state, caller, &p).await?;
    approve_proposal(state, &p, caller.actor(), crate::now()).await
}

pub(super) async fn approve(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<ProposalId>,
) -> Result<Json<ApprovedOut>, AppError> {
    Ok(Json(approve_by(&state, &caller, id).await?))
}

/// Rejects a proposal for a zone in the caller's area.
pub async fn reject_by(
    state: &AppState,
    caller: &Actor,
    id: ProposalId,
) -> Result<RejectedOut, AppError> {
    caller.require(&[Role::Admin], "rejecting zone changes")?;
    let p = proposal_by_id(state, id).await?;
    proposal_in_reach(state, caller, &p).await?;
    let op = DutyOp::DecideProposal {
        proposal: p.id,
        status: ProposalStatus::Rejected,
        by: caller.actor(),
        at: crate::now(),
    };
    commit(state, vec![op], Vec::new()).await?;
    Ok(RejectedOut {
        proposal: p.id.to_string(),
        rejected: true,
    })
}

pub(super) async fn reject(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<ProposalId>,
) -> Result<Json<RejectedOut>, AppError> {
    Ok(Json(reject_by(&state, &caller, id).await?))
}
