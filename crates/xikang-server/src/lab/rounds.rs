//! Sampling sites and screening rounds: creating, closing and extending rounds, who is
//! still unsampled, and the mandated tests a round or a policy requires (missed tests
//! recorded as events).

use super::*;

/// Registers (or renames) a sampling site.
pub async fn put_site(state: &AppState, site: SamplingSite) -> Result<SamplingSite, AppError> {
    let _op = state.projection.lab.begin(state).await;
    write_site(state, site).await
}

/// Registers a new sampling site under the next free id, chosen under the lab's lock once
/// the other nodes' lab writes are absorbed: two nodes registering at once get two ids (or
/// the second is refused `lab_changed`), never one site overwriting the other.
pub async fn add_site(state: &AppState, mut site: SamplingSite) -> Result<SamplingSite, AppError> {
    let _op = state.projection.lab.begin(state).await;
    site.id = next_site_id(state);
    write_site(state, site).await
}

/// Writes a site; the caller holds the lab's lock.
async fn write_site(state: &AppState, site: SamplingSite) -> Result<SamplingSite, AppError> {
    commit(
        state,
        LabWrite {
            sites: vec![site.clone()],
            ..LabWrite::default()
        },
    )
    .await?;
    Ok(site)
}

/// The next free site id.
pub fn next_site_id(state: &AppState) -> SiteId {
    SiteId(
        state
            .projection
            .lab
            .lock()
            .sites
            .keys()
            .next_back()
            .map_or(1, |s| s.0 + 1),
    )
}

/// Every sampling site.
pub fn sites(state: &AppState) -> Vec<SamplingSite> {
    state
        .projection
        .lab
        .lock()
        .sites
        .values()
        .cloned()
        .collect()
}

/// What a new round needs.
#[derive(Debug, Clone)]
pub struct NewRound {
    pub name: String,
    pub area: AreaCode,
    pub cells: Vec<GridCell>,
    pub starts_at: Timestamp,
    pub deadline: Timestamp,
    /// Pool sizes; the policy's when absent.
    pub pools: Option<PoolSizes>,
}

/// Creates a screening round; the expected residents per grid cell are counted now.
pub async fn create_round(state: &AppState, r: NewRound) -> Result<Round, AppError> {
    let pools = r
        .pools
        .unwrap_or_else(|| PoolSizes::from_policy(&state.policy()));
    if !pools.is_valid() {
        return Err(AppError::bad(
            "invalid_pool_size",
            format!("pool sizes must be 1 to {MAX_POOL}: pooling pooled tubes is refused"),
        ));
    }
    if r.deadline <= r.starts_at {
        return Err(AppError::bad(
            "invalid_time",
            "the deadline must be after the start",
        ));
    }
    let _op = state.projection.lab.begin(state).await;
    let id = RoundId(
        state
            .projection
            .lab
            .lock()
            .rounds
            .keys()
            .next_back()
            .map_or(1, |x| x.0 + 1),
    );
    let round = Round {
        id,
        name: r.name,
        area: r.area,
        cells: r.cells,
        starts_at: r.starts_at,
        deadline: r.deadline,
        pools,
        closed_at: None,
    };
    commit(
        state,
        LabWrite {
            rounds: vec![round.clone()],
            ..LabWrite::default()
        },
    )
    .await?;
    Ok(round)
}

/// A round's progress: totals and per grid cell.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RoundStatus {
    pub round: Round,
    pub total: CellProgress,
    pub cells: Vec<(GridCell, CellProgress)>,
}

/// The round's progress now, restricted to cells whose residents the caller covers when
/// `area` is narrower than the round's.
pub fn round_status(state: &AppState, id: RoundId) -> Option<RoundStatus> {
    let lab = state.projection.lab.lock();
    let r = lab.rounds.get(&id)?;
    let mut total = CellProgress::default();
    for c in r.cells.values() {
        total.expected += c.expected;
        total.sampled += c.sampled;
        total.resulted += c.resulted;
        total.abnormal += c.abnormal;
    }
    Some(RoundStatus {
        round: r.round.clone(),
        total,
        cells: r.cells.iter().map(|(k, v)| (*k, *v)).collect(),
    })
}

/// Residents of a cell expected in the round and not sampled yet, by id (at most `limit`).
pub fn unsampled(
    state: &AppState,
    id: RoundId,
    cell: GridCell,
    limit: usize,
) -> Option<Vec<PersonId>> {
    let lab = state.projection.lab.lock();
    let r = lab.rounds.get(&id)?;
    let people = read(&state.projection.people);
    let covered: Vec<bool> = state
        .projection
        .communities
        .all()
        .iter()
        .map(|a| r.round.area.contains(a))
        .collect();
    Some(
        people
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                s.home_cell == cell
                    && covered.get(s.community as usize).copied().unwrap_or(false)
                    && (r.round.cells.is_empty() || r.round.cells.contains(&cell))
                    && r.tube_of.get(*i).is_some_and(|t| *t == 0)
            })
            .take(limit)
            .map(|(i, _)| PersonId(i as u32))
            .collect(),
    )
}

/// Closes a round after its deadline: every expected resident not sampled gets a missed
/// mandated test (the policy decides what that means; pop-up type 4 by default), which a
/// negative result clears. Returns how many were recorded.
pub async fn close_round(
    state: &AppState,
    id: RoundId,
    actor: String,
    now: Timestamp,
) -> Result<usize, AppError> {
    let _op = state.projection.lab.begin(state).await;
    let round = {
        let lab = state.projection.lab.lock();
        lab.rounds
            .get(&id)
            .map(|r| r.round.clone())
            .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?
    };
    if round.closed_at.is_some() {
        return Err(AppError::Conflict {
            code: "round_closed",
            message: format!("round {id} is already closed"),
        });
    }
    if now < round.deadline {
        return Err(AppError::Conflict {
            code: "round_open",
            message: "the round's deadline has not passed".into(),
        });
    }
    let missed: Vec<PersonId> = {
        let lab = state.projection.lab.lock();
        let r = lab
            .rounds
            .get(&id)
            .ok_or_else(|| AppError::not_found("unknown_round", "gone"))?;
        let people = read(&state.projection.people);
        let covered: Vec<bool> = state
            .projection
            .communities
            .all()
            .iter()
            .map(|a| r.round.area.contains(a))
            .collect();
        people
            .iter()
            .enumerate()
            .filter(|(i, s)| {
                s.community != u32::MAX
                    && covered.get(s.community as usize).copied().unwrap_or(false)
                    && (r.round.cells.is_empty() || r.round.cells.contains(&s.home_cell))
                    && r.tube_of.get(*i).is_some_and(|t| *t == 0)
            })
            .map(|(i, _)| PersonId(i as u32))
            .collect()
    };
    let basis = format!("screening round {id} ({}) deadline", round.name);
    let events = missed_test_events(
        missed.iter().map(|p| (*p, round.deadline, basis.clone())),
        &actor,
        now,
    );
    // The residents not sampled become tasks on their grid workers' lists in the same
    // write (the logic of `POST /grid/unsampled`, keyed by the round's start, so a manual
    // call for the same round does not repeat them).
    let due = now.plus(i64::from(state.policy().duties().task_due_hours) * 3600);
    let tasks: Vec<xikang_store::NewTask> = {
        let people = read(&state.projection.people);
        missed
            .iter()
            .filter_map(|p| {
                let slot = people.get(p.0 as usize)?;
                Some(xikang_store::NewTask::unsampled(
                    *p,
                    slot.home_cell,
                    round.starts_at,
                    now,
                    due,
                ))
            })
            .collect()
    };
    let mut closed = round;
    closed.closed_at = Some(now);
    commit(
        state,
        LabWrite {
            rounds: vec![closed],
            events,
            duties: vec![xikang_store::DutyOp::InsertTasks(tasks)],
            ..LabWrite::default()
        },
    )
    .await?;
    Ok(missed.len())
}

/// Moves an open round's deadline later (an official's decision, with a reason), written
/// with a `round_deadline_extended` authority event in the same transaction: the deadline
/// decides who is recorded as having missed the round, so moving it is never silent. A
/// deadline is never moved earlier (that would turn residents into missed tests before the
/// time they were given), nor into the past, nor on a closed round.
pub async fn extend_deadline(
    state: &AppState,
    id: RoundId,
    deadline: Timestamp,
    reason: &str,
    actor: String,
    now: Timestamp,
) -> Result<Round, AppError> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::bad(
            "reason_required",
            "say why the deadline moves",
        ));
    }
    let _op = state.projection.lab.begin(state).await;
    let round = state
        .projection
        .lab
        .lock()
        .rounds
        .get(&id)
        .map(|r| r.round.clone())
        .ok_or_else(|| AppError::not_found("unknown_round", format!("no round {id}")))?;
    if round.closed_at.is_some() {
        return Err(AppError::Conflict {
            code: "round_closed",
            message: format!("round {id} is already closed"),
        });
    }
    if deadline <= round.deadline || deadline <= now {
        return Err(AppError::bad(
            "deadline_not_later",
            format!(
                "the new deadline must be later than the current one ({}) and in the future",
                round.deadline.to_rfc3339()
            ),
        ));
    }
    let event = NewEvent {
        at: now,
        actor,
        basis: format!("screening round {id} ({})", round.name),
        body: EventBody::RoundDeadlineExtended {
            round: id,
            from: round.deadline,
            to: deadline,
            reason: reason.chars().take(500).collect(),
        },
    };
    let extended = Round { deadline, ..round };
    commit(
        state,
        LabWrite {
            rounds: vec![extended.clone()],
            events: vec![event],
            ..LabWrite::default()
        },
    )
    .await?;
    Ok(extended)
}

/// Closes every round whose deadline has passed (the server's own run, actor
/// `system:rounds`): what `POST /rounds/{id}/close` does, missed tests and grid tasks for
/// the unsampled included. Returns how many rounds were closed.
pub async fn close_due_rounds(state: &AppState, now: Timestamp) -> Result<usize, AppError> {
    let due: Vec<RoundId> = state
        .projection
        .lab
        .lock()
        .rounds
        .values()
        .filter(|r| r.round.closed_at.is_none() && r.round.deadline <= now)
        .map(|r| r.round.id)
        .collect();
    let mut n = 0;
    for id in due {
        match close_round(state, id, "system:rounds".to_owned(), now).await {
            Ok(_) => n += 1,
            // Closed by an official in between: nothing left to do.
            Err(AppError::Conflict {
                code: "round_closed",
                ..
            }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The `test_missed` events of missed mandated tests (the policy decides what one means:
/// pop-up type 4 by default, cleared by a negative result): one per (person, due time,
/// basis). Round deadlines, periodic requirements and test schedules all record them here.
pub(super) fn missed_test_events(
    missed: impl Iterator<Item = (PersonId, Timestamp, String)>,
    actor: &str,
    now: Timestamp,
) -> Vec<NewEvent> {
    missed
        .map(|(person, due_at, basis)| NewEvent {
            at: now,
            actor: actor.to_owned(),
            basis,
            body: EventBody::TestMissed { person, due_at },
        })
        .collect()
}

/// Whether a missed test due at `due_at` is already recorded for this person.
pub(super) fn missed_recorded(
    facts: &xikang_domain::facts::PersonFacts,
    due_at: Timestamp,
) -> bool {
    facts
        .facts()
        .iter()
        .any(|f| f.kind == xikang_domain::facts::FactKind::MissedTest && f.start == due_at)
}

/// Commits missed-test events in chunks (a city-wide check can flag millions), each chunk
/// one write. The caller holds the lab's operation lock.
pub(super) async fn commit_missed(state: &AppState, events: Vec<NewEvent>) -> Result<(), AppError> {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<NewEvent> = events.by_ref().take(100_000).collect();
        commit(
            state,
            LabWrite {
                events: chunk,
                ..LabWrite::default()
            },
        )
        .await?;
    }
    Ok(())
}

/// Records missed scheduled tests (person, due time, basis) — the test days of quarantine
/// orders and of arrival regimes — each once: one already recorded with the same due time
/// is skipped, so the check can run every few minutes. Returns how many were recorded.
pub async fn record_missed_tests(
    state: &AppState,
    missed: Vec<(PersonId, Timestamp, String)>,
    actor: &str,
    now: Timestamp,
) -> Result<usize, AppError> {
    let _op = state.projection.lab.begin(state).await;
    let fresh: Vec<(PersonId, Timestamp, String)> = {
        let people = read(&state.projection.people);
        let mut seen = std::collections::HashSet::new();
        missed
            .into_iter()
            .filter(|(p, due, _)| {
                people
                    .get(p.0 as usize)
                    .is_some_and(|s| !missed_recorded(&s.facts, *due))
                    && seen.insert((*p, *due))
            })
            .collect()
    };
    let n = fresh.len();
    commit_missed(state, missed_test_events(fresh.into_iter(), actor, now)).await?;
    Ok(n)
}

/// Checks a mandated periodic test (e.g. every 72 h for everyone in an area during a
/// period): every resident of `area` whose last sample is older than `every_hours` gets a
/// missed-test event, unless one was already recorded since their last sample. The policy
/// decides what a missed test means (pop-up type 4 by default, cleared by a negative).
/// Returns how many were recorded.
pub async fn check_mandated(
    state: &AppState,
    area: &AreaCode,
    every_hours: u32,
    actor: String,
    now: Timestamp,
) -> Result<usize, AppError> {
    let _op = state.projection.lab.begin(state).await;
    let cutoff = now.plus(-i64::from(every_hours) * 3600);
    let due: Vec<PersonId> = {
        let people = read(&state.projection.people);
        let covered: Vec<bool> = state
            .projection
            .communities
            .all()
            .iter()
            .map(|c| area.contains(c))
            .collect();
        people
            .iter()
            .enumerate()
            .filter(|(_, s)| covered.get(s.community as usize).copied().unwrap_or(false))
            .filter(|(_, s)| {
                let last = s.facts.last_sample();
                let overdue = last.is_none_or(|t| t < cutoff);
                let flagged = s.facts.facts().iter().any(|f| {
                    f.kind == xikang_domain::facts::FactKind::MissedTest
                        && last.is_none_or(|t| f.start > t)
                });
                overdue && !flagged
            })
            .map(|(i, _)| PersonId(i as u32))
            .collect()
    };
    let basis = format!("mandated test every {every_hours} h in {area}");
    commit_missed(
        state,
        missed_test_events(due.iter().map(|p| (*p, now, basis.clone())), &actor, now),
    )
    .await?;
    Ok(due.len())
}

/// The server's own run of the mandated-test check, as `POST /test-requirements/check` does
/// it for the whole jurisdiction: while the policy in force sets `mandated_test_every_hours`
/// (a period of mandated periodic testing), everyone overdue gets a missed-test event, once
/// per lapse. Returns `None` when no period is in force. [`mandated_test_loop`] calls it every
/// ten minutes, like the duty sweep; a check is idempotent, so an official's manual check in
/// between does no harm.
pub async fn check_mandated_now(
    state: &AppState,
    now: Timestamp,
) -> Result<Option<usize>, AppError> {
    let Some(every) = state.policy().parameter("mandated_test_every_hours") else {
        return Ok(None);
    };
    // The same bounds as the HTTP check: 0 would flag everyone at every run.
    if !(1..=24 * 30).contains(&every) {
        tracing::warn!(
            every_hours = every,
            "mandated_test_every_hours is outside 1 to 720; the periodic check does not run"
        );
        return Ok(None);
    }
    let area = AreaCode::parse(&state.config.jurisdiction).map_err(|e| {
        AppError::Internal(format!(
            "the server's jurisdiction is not an area code: {e}"
        ))
    })?;
    check_mandated(state, &area, every, "system:mandated_tests".to_owned(), now)
        .await
        .map(Some)
}

/// Runs [`check_mandated_now`] at start and then every ten minutes.
pub async fn mandated_test_loop(state: std::sync::Arc<AppState>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if !state.node.holds_sweeps() {
            continue; // another node holds the sweep lease (docs/nodes.md)
        }
        match check_mandated_now(&state, crate::now()).await {
            Ok(Some(n)) if n > 0 => tracing::info!(missed = n, "missed mandated tests recorded"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "mandated test check failed; will retry"),
        }
    }
}

/// The lab's load for the capacity view (docs/citizens.md): tubes resulted since `since`
/// (the lab's throughput, city-wide: labs are not a district's), tubes sealed or on their
/// way and not yet resulted, and the tubes the open rounds over `area` still need (each
/// round's unsampled residents in pools of its largest size, rounded up), with the latest
/// of their deadlines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TubeLoad {
    pub resulted_since: u64,
    pub awaiting: u64,
    pub needed: u64,
    pub deadline: Option<Timestamp>,
}

/// The [`TubeLoad`] at `now`.
pub fn tube_load(state: &AppState, area: &AreaCode, since: Timestamp, now: Timestamp) -> TubeLoad {
    let lab = state.projection.lab.lock();
    let mut load = TubeLoad::default();
    for t in &lab.tubes {
        match t.tube.state {
            TubeState::Resulted if t.tube.resulted_at.is_some_and(|r| r >= since) => {
                load.resulted_since += 1;
            }
            TubeState::Sealed | TubeState::InTransport | TubeState::Received => load.awaiting += 1,
            _ => {}
        }
    }
    for r in lab.rounds.values() {
        let open = r.round.closed_at.is_none() && r.round.deadline > now;
        let overlaps = area.contains(&r.round.area) || r.round.area.contains(area);
        if !open || !overlaps {
            continue;
        }
        let pool = u64::from(r.round.pools.other.max(1));
        let left: u64 = r
            .cells
            .values()
            .map(|c| u64::from(c.expected.saturating_sub(c.sampled)))
            .sum();
        load.needed += left.div_ceil(pool);
        load.deadline = load.deadline.max(Some(r.round.deadline));
    }
    load
}
