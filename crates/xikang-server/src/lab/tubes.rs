//! Tubes from opening to result: opening, binding people by their scanned codes, sealing,
//! shipping, receiving, posting results (their meaning is
//! [`xikang_domain::testing::consequences`]), and reading tubes and open tasks.

use super::index::*;
use super::*;

/// A tube to open at a site.
#[derive(Debug, Clone)]
pub struct NewTube {
    pub barcode: String,
    pub site: SiteId,
    pub round: Option<RoundId>,
    pub capacity: u8,
}

/// Opens tubes; each item succeeds or fails on its own (a reused barcode, an unknown site or
/// round, a pool beyond what the site's zone allows).
pub async fn open_tubes(
    state: &AppState,
    items: Vec<NewTube>,
    now: Timestamp,
) -> Result<Vec<Result<TubeId, ItemError>>, AppError> {
    let op = state.projection.lab.begin(state).await;
    let mut out = Vec::with_capacity(items.len());
    let mut w = LabWrite::default();
    {
        let lab = state.projection.lab.lock();
        let mut next = lab.next_tube_id();
        let mut seen: HashMap<TubeBarcode, ()> = HashMap::new();
        for it in items {
            let r = (|| {
                let barcode = TubeBarcode::parse(&it.barcode)
                    .map_err(|e| item_err(e.code(), e.to_string()))?;
                if lab.by_barcode.contains_key(&barcode) || seen.contains_key(&barcode) {
                    return Err(item_err(
                        "barcode_reused",
                        format!("tube barcode {barcode} is already in use"),
                    ));
                }
                let site = lab.sites.get(&it.site).ok_or_else(|| {
                    item_err("unknown_site", format!("no sampling site {}", it.site))
                })?;
                let pools = match it.round {
                    Some(r) => {
                        let m = lab
                            .rounds
                            .get(&r)
                            .ok_or_else(|| item_err("unknown_round", format!("no round {r}")))?;
                        if m.round.closed_at.is_some() {
                            return Err(item_err("round_closed", format!("round {r} is closed")));
                        }
                        m.round.pools
                    }
                    None => PoolSizes::from_policy(&state.policy()),
                };
                if it.capacity == 0 || it.capacity > MAX_POOL {
                    return Err(item_err(
                        "invalid_pool_size",
                        format!(
                            "a tube holds 1 to {MAX_POOL} swabs: pooling pooled tubes is refused"
                        ),
                    ));
                }
                let limit = pools.limit(state.projection.zone_level_at(site.cell));
                if it.capacity > limit {
                    return Err(item_err(
                        "pool_too_large",
                        format!("at this site a tube may hold at most {limit} swabs"),
                    ));
                }
                seen.insert(barcode.clone(), ());
                let id = TubeId(next);
                next += 1;
                w.tubes.push(Tube::opened(
                    id,
                    barcode,
                    it.site,
                    it.round,
                    it.capacity,
                    now,
                ));
                Ok(id)
            })();
            out.push(r);
        }
    }
    if !w.tubes.is_empty() {
        commit_pipelined(state, op, w).await?;
    }
    Ok(out)
}

/// Who a swab belongs to, as the sampler's device sends it.
#[derive(Debug, Clone)]
pub enum Swabbed {
    /// The person's health-code token, scanned at the site.
    Token(String),
    /// An ID number, for residents without a code (devices allowed to look up only).
    IdNumber(String),
    /// Already resolved (the benchmark's and the server's own callers).
    Person(PersonId),
}

/// Resolves scanned codes to people ([`AppState::identify`], the same verifier as venue
/// scans, without their cache: a swab's code is scanned once) and ID numbers through the
/// store.
pub async fn resolve(
    state: &AppState,
    who: Vec<Swabbed>,
    id_lookup: bool,
    now: Timestamp,
) -> Result<Vec<Result<PersonId, ItemError>>, AppError> {
    let tokens: Vec<&str> = who
        .iter()
        .filter_map(|w| match w {
            Swabbed::Token(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let mut identified = state.identify(&tokens, now, false).into_iter();
    let mut out = Vec::with_capacity(who.len());
    for w in &who {
        out.push(match w {
            Swabbed::Person(p) => {
                if state.projection.person_exists(*p) {
                    Ok(*p)
                } else {
                    Err(item_err("unknown_person", format!("no person {p}")))
                }
            }
            Swabbed::Token(_) => identified
                .next()
                .unwrap_or_else(|| Err(item_err("invalid_sample", "not resolved"))),
            Swabbed::IdNumber(_) if !id_lookup => Err(item_err(
                "id_lookup_not_allowed",
                "this device may not identify people by ID number",
            )),
            Swabbed::IdNumber(n) => match xikang_domain::idnumber::IdNumber::parse(n) {
                Err(e) => Err(item_err(e.code(), e.to_string())),
                Ok(id) => {
                    let hash = id.keyed_hash(&state.secrets.id_hash_key);
                    let store = state.store.clone();
                    match tokio::task::spawn_blocking(move || store.person_by_id_hash(&hash))
                        .await??
                    {
                        Some(p) => Ok(p),
                        None => Err(item_err("unknown_person", "no resident has this ID number")),
                    }
                }
            },
        });
    }
    Ok(out)
}

/// What binding one swab did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Bound {
    pub tube: TubeId,
    /// Swabs in the tube now.
    pub filled: u8,
    /// Whether this swab filled the tube and sealed it.
    pub sealed: bool,
}

/// Binds swabs to tubes. Each item succeeds or fails on its own: an unknown or not-open
/// tube, a full tube, a person already sampled in the tube's round, a retest into a pooled
/// tube. A tube is sealed when its last place is taken.
pub async fn bind(
    state: &AppState,
    items: Vec<(String, Result<PersonId, ItemError>)>,
    now: Timestamp,
) -> Result<Vec<Result<Bound, ItemError>>, AppError> {
    /// A tube that earlier items of this request bound swabs to.
    struct Filling {
        tube: Tube,
        added: Vec<PersonId>,
    }
    let op = state.projection.lab.begin(state).await;
    let mut out = Vec::with_capacity(items.len());
    let mut w = LabWrite::default();
    {
        let lab = state.projection.lab.lock();
        let mut fill: HashMap<TubeId, Filling> = HashMap::new();
        let mut taken: std::collections::HashSet<(RoundId, PersonId)> =
            std::collections::HashSet::new();
        for (barcode, who) in items {
            let r = (|| {
                let person = who?;
                let barcode =
                    TubeBarcode::parse(&barcode).map_err(|e| item_err(e.code(), e.to_string()))?;
                let mem = lab.tube_by_barcode(&barcode).ok_or_else(|| {
                    item_err("unknown_tube", format!("no tube {barcode} was opened"))
                })?;
                // The tube as earlier items left it.
                let (tube, added) = fill
                    .get(&mem.tube.id)
                    .map_or((&mem.tube, &[][..]), |f| (&f.tube, &f.added[..]));
                let count = mem.members.len() + added.len();
                if tube.state != TubeState::Open {
                    return Err(item_err(
                        "tube_not_open",
                        format!("tube {barcode} is {}", tube.state.as_str()),
                    ));
                }
                if count >= usize::from(tube.capacity) {
                    return Err(item_err(
                        "tube_full",
                        format!("tube {barcode} already holds {count} swabs"),
                    ));
                }
                let tasks = lab.open_tasks.get(&person).map_or(&[][..], Vec::as_slice);
                let retest = tasks
                    .iter()
                    .any(|t| matches!(t.kind, TaskKind::SingleTubeRetest | TaskKind::Resample));
                let single_needed = tasks.iter().any(|t| t.kind == TaskKind::SingleTubeRetest);
                if single_needed && tube.capacity > 1 {
                    return Err(item_err(
                        "retest_needs_single_tube",
                        "this person's retest must go into a single tube",
                    ));
                }
                if mem.members.contains(&person) || added.contains(&person) {
                    return Err(item_err(
                        "already_in_tube",
                        "this person's swab is already in this tube",
                    ));
                }
                // A retest or resample is outside the round's count: the round keeps the
                // person's first sample.
                let round = if retest { None } else { tube.round };
                if let Some(rid) = round {
                    let before = lab
                        .rounds
                        .get(&rid)
                        .and_then(|m| m.tube_of.get(person.0 as usize))
                        .is_some_and(|t| *t != 0);
                    if before || !taken.insert((rid, person)) {
                        return Err(item_err(
                            "already_sampled",
                            format!("this person was already sampled in round {rid}"),
                        ));
                    }
                }
                let count = count + 1;
                let f = fill.entry(mem.tube.id).or_insert_with(|| Filling {
                    tube: mem.tube.clone(),
                    added: Vec::new(),
                });
                f.added.push(person);
                let sealed = count >= usize::from(f.tube.capacity);
                if sealed {
                    f.tube.state = TubeState::Sealed;
                    f.tube.sealed_at = Some(now);
                }
                w.samples.push(Sample {
                    tube: f.tube.id,
                    person,
                    round,
                    sampled_at: now,
                });
                Ok(Bound {
                    tube: f.tube.id,
                    filled: count as u8,
                    sealed,
                })
            })();
            out.push(r);
        }
        // Only the tubes this request filled change state (a tube is open when bound to).
        w.tubes = fill
            .into_values()
            .filter(|f| f.tube.state == TubeState::Sealed)
            .map(|f| f.tube)
            .collect();
        w.tubes.sort_by_key(|t| t.id);
    }
    if !w.samples.is_empty() {
        commit_pipelined(state, op, w).await?;
    }
    Ok(out)
}

/// Seals tubes the sampler closes before they are full (an empty tube cannot be sealed).
pub async fn seal(
    state: &AppState,
    barcodes: Vec<String>,
    now: Timestamp,
) -> Result<Vec<Result<TubeId, ItemError>>, AppError> {
    transition(
        state,
        barcodes,
        |lab, tube, _| {
            if tube.state != TubeState::Open {
                return Err(item_err(
                    "tube_not_open",
                    format!("tube {} is {}", tube.barcode, tube.state.as_str()),
                ));
            }
            if lab.tube(tube.id).is_none_or(|m| m.members.is_empty()) {
                return Err(item_err(
                    "tube_empty",
                    format!("tube {} holds no swab", tube.barcode),
                ));
            }
            tube.state = TubeState::Sealed;
            tube.sealed_at = Some(now);
            Ok(())
        },
        None,
    )
    .await
    .map(|(r, _)| r)
}

/// Applies a per-tube state change to each barcode, then writes the changed tubes (and the
/// batch, if any) in one transaction. A batch with id 0 is a new one: it takes the next id
/// under the lab's lock. `step` is given the batch's id.
pub(super) async fn transition(
    state: &AppState,
    barcodes: Vec<String>,
    mut step: impl FnMut(&Lab, &mut Tube, Option<BatchId>) -> Result<(), ItemError> + Send,
    mut batch: Option<Batch>,
) -> Result<(Vec<Result<TubeId, ItemError>>, LabWrite), AppError> {
    let op = state.projection.lab.begin(state).await;
    let mut out = Vec::with_capacity(barcodes.len());
    let mut w = LabWrite::default();
    {
        let lab = state.projection.lab.lock();
        if let Some(b) = batch.as_mut().filter(|b| b.id.0 == 0) {
            b.id = BatchId(lab.batches.keys().next_back().map_or(1, |b| b.0 + 1));
        }
        let batch_id = batch.as_ref().map(|b| b.id);
        let mut done: HashMap<TubeId, ()> = HashMap::new();
        for b in barcodes {
            let r = (|| {
                let barcode =
                    TubeBarcode::parse(&b).map_err(|e| item_err(e.code(), e.to_string()))?;
                let mem = lab
                    .tube_by_barcode(&barcode)
                    .ok_or_else(|| item_err("unknown_tube", format!("no tube {barcode}")))?;
                if done.contains_key(&mem.tube.id) {
                    return Err(item_err(
                        "duplicate_item",
                        format!("tube {barcode} is listed twice"),
                    ));
                }
                let mut tube = mem.tube.clone();
                step(&lab, &mut tube, batch_id)?;
                done.insert(tube.id, ());
                let id = tube.id;
                w.tubes.push(tube);
                Ok(id)
            })();
            out.push(r);
        }
    }
    if let Some(mut b) = batch {
        b.tubes = w.tubes.len() as u32;
        if b.tubes > 0 {
            w.batches.push(b);
        }
    }
    if !w.tubes.is_empty() {
        let (w2, _) = commit_pipelined(state, op, w).await?;
        w = w2;
    }
    Ok((out, w))
}

/// Hands sealed tubes to a courier in a new batch (transport handover logged).
pub async fn ship(
    state: &AppState,
    courier: String,
    lab_name: String,
    barcodes: Vec<String>,
    now: Timestamp,
) -> Result<(Option<BatchId>, Vec<Result<TubeId, ItemError>>), AppError> {
    let batch = Batch {
        id: BatchId(0),
        courier,
        lab: lab_name,
        handed_at: now,
        received_at: None,
        tubes: 0,
    };
    let (results, w) = transition(
        state,
        barcodes,
        |_, tube, batch| {
            if tube.state != TubeState::Sealed {
                return Err(item_err(
                    "tube_not_sealed",
                    format!("tube {} is {}", tube.barcode, tube.state.as_str()),
                ));
            }
            tube.state = TubeState::InTransport;
            tube.batch = batch;
            tube.shipped_at = Some(now);
            Ok(())
        },
        Some(batch),
    )
    .await?;
    Ok((w.batches.first().map(|b| b.id), results))
}

/// The lab receives tubes of a batch (all of it when `barcodes` is empty). Tubes of the
/// batch not received stay in transport, where the stuck list shows them.
pub async fn receive(
    state: &AppState,
    batch: BatchId,
    barcodes: Vec<String>,
    now: Timestamp,
) -> Result<Vec<Result<TubeId, ItemError>>, AppError> {
    let (b, list) = {
        let lab = state.projection.lab.lock();
        let b = lab
            .batches
            .get(&batch)
            .cloned()
            .ok_or_else(|| AppError::not_found("unknown_batch", format!("no batch {batch}")))?;
        let list = if barcodes.is_empty() {
            lab.batch_tubes
                .get(&batch)
                .into_iter()
                .flatten()
                .filter_map(|id| lab.tube(*id))
                .filter(|m| m.tube.state == TubeState::InTransport)
                .map(|m| m.tube.barcode.to_string())
                .collect()
        } else {
            barcodes
        };
        (b, list)
    };
    let mut received = b;
    received.received_at = Some(now);
    let (results, _) = transition(
        state,
        list,
        |_, tube, _| {
            if tube.batch != Some(batch) {
                return Err(item_err(
                    "not_in_batch",
                    format!("tube {} is not in batch {batch}", tube.barcode),
                ));
            }
            if tube.state != TubeState::InTransport {
                return Err(item_err(
                    "tube_not_in_transport",
                    format!("tube {} is {}", tube.barcode, tube.state.as_str()),
                ));
            }
            tube.state = TubeState::Received;
            tube.received_at = Some(now);
            Ok(())
        },
        Some(received),
    )
    .await?;
    Ok(results)
}

// ---------------------------------------------------------------------------------------
// Results

/// What posting one result did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Resulted {
    pub tube: TubeId,
    pub members: usize,
    /// Holds placed (members of a positive pool).
    pub holds: usize,
    /// Retest or resample tasks created.
    pub tasks: usize,
    /// A suspected case registered for a tracer (positive single tube).
    pub suspected: Option<CaseId>,
}

/// Posts results for received tubes. Each line succeeds or fails on its own (unknown tube,
/// not yet received, already resulted, listed twice); what each good line means is decided
/// by [`xikang_domain::testing::consequences`], and all of them are written in one
/// transaction with their authority events and grid tasks.
pub async fn post_results(
    state: &AppState,
    actor: &str,
    lines: Vec<Result<ResultLine, ItemError>>,
    now: Timestamp,
) -> Result<Vec<Result<Resulted, ItemError>>, AppError> {
    let op = state.projection.lab.begin(state).await;
    // Suspected cases take case ids: after the lab's lock, as every lab command does.
    let cases_op = state.projection.case_op.lock().await;
    let mut opens_case = false;
    let mut out = Vec::with_capacity(lines.len());
    let mut w = LabWrite::default();
    {
        let lab = state.projection.lab.lock();
        let mut seen: HashMap<TubeId, ()> = HashMap::new();
        let mut next_task = lab.next_task.max(1);
        let mut next_case = read(&state.projection.cases)
            .keys()
            .next_back()
            .map_or(1, |c| c.0 + 1);
        let mut closing = std::collections::HashSet::new();
        let retest_due_hours = state.policy().duties().task_due_hours;
        let mut grid_tasks: Vec<xikang_store::NewTask> = Vec::new();
        let mut retests_in: Vec<String> = Vec::new();
        for line in lines {
            let r = (|| {
                let line = line?;
                let mem = lab
                    .tube_by_barcode(&line.barcode)
                    .ok_or_else(|| item_err("unknown_tube", format!("no tube {}", line.barcode)))?;
                let tube = &mem.tube;
                if seen.contains_key(&tube.id) {
                    return Err(item_err(
                        "duplicate_item",
                        format!("tube {} is listed twice", tube.barcode),
                    ));
                }
                match tube.state {
                    TubeState::Received => {}
                    TubeState::Resulted | TubeState::Invalid => {
                        return Err(item_err(
                            "already_resulted",
                            format!("tube {} already has a result", tube.barcode),
                        ));
                    }
                    s => {
                        return Err(item_err(
                            "tube_not_received",
                            format!(
                                "tube {} is {}: the lab has not received it",
                                tube.barcode,
                                s.as_str()
                            ),
                        ));
                    }
                }
                let resulted_at = line.resulted_at.unwrap_or(now);
                let received = tube.received_at.unwrap_or(tube.opened_at);
                if resulted_at < received || resulted_at > now.plus(300) {
                    return Err(item_err(
                        "invalid_time",
                        "the result time must be after receipt and not in the future",
                    ));
                }
                seen.insert(tube.id, ());
                let (c, resulted) = consequences(
                    tube,
                    &mem.members,
                    TubeResult {
                        outcome: line.outcome,
                        ct: line.ct,
                        resulted_at,
                    },
                    actor,
                    |p| lab.open_tasks.get(&p).map_or(&[][..], Vec::as_slice),
                    |p| {
                        read(&state.projection.cases)
                            .values()
                            .any(|c| c.person == p && c.is_open())
                    },
                    &mut closing,
                    (&mut next_task, &mut next_case),
                );
                let basis = format!("lab report, tube {}", tube.barcode);
                w.events.extend(c.events.into_iter().map(|body| NewEvent {
                    at: resulted_at,
                    actor: actor.to_owned(),
                    basis: basis.clone(),
                    body,
                }));
                w.tasks.extend(c.tasks);
                // The retest is arranged by the member's grid worker: the same task on
                // their list, closed with the lab's when the single tube's result arrives.
                for (p, task) in c.arrange_retests {
                    if let Some(cell) = state.projection.home_cell(p) {
                        grid_tasks.push(xikang_store::NewTask {
                            cell,
                            kind: xikang_domain::duties::TaskKind::ArrangeRetest,
                            person: Some(p),
                            household: None,
                            detail: format!(
                                "arrange the single-tube retest of {p} (positive pool {})",
                                tube.barcode
                            ),
                            created_at: resulted_at,
                            due_at: resulted_at.plus(i64::from(retest_due_hours) * 3600),
                            dedupe: Some(retest_task_key(task)),
                        });
                    }
                }
                retests_in.extend(c.retests_answered.into_iter().map(retest_task_key));
                opens_case |= c.suspected.is_some();
                w.tubes.push(resulted);
                Ok(Resulted {
                    tube: tube.id,
                    members: mem.members.len(),
                    holds: c.holds,
                    tasks: c.opened,
                    suspected: c.suspected,
                })
            })();
            out.push(r);
        }
        if !grid_tasks.is_empty() {
            w.duties.push(xikang_store::DutyOp::InsertTasks(grid_tasks));
        }
        if !retests_in.is_empty() {
            w.duties.push(xikang_store::DutyOp::CompleteByKey {
                keys: retests_in,
                at: now,
                by: actor.to_owned(),
                note: "the single-tube retest has its result".into(),
            });
        }
    }
    // A positive's case proposes sealing its zone through the committer's reactions. A
    // write that opens a case keeps both locks until its case is applied (the next
    // command's case ids and open-case checks read the applied cases); any other is
    // pipelined.
    if !w.tubes.is_empty() {
        if opens_case {
            commit(state, w).await?;
        } else {
            drop(cases_op);
            commit_pipelined(state, op, w).await?;
        }
    }
    Ok(out)
}

/// The dedupe key of the grid task that mirrors a lab's single-tube retest task: the one
/// place the lab and the grid task list agree on which task is which.
pub(super) fn retest_task_key(lab_task: u64) -> String {
    format!("retest:lab:{lab_task}")
}

// ---------------------------------------------------------------------------------------
// Reading tubes

/// Whether each tube (by barcode) was opened at a site outside the area `covers` accepts;
/// `false` for a barcode that is malformed or names no tube (binding refuses those with
/// their own codes). One look at the index for a whole upload.
pub fn tubes_outside(
    state: &AppState,
    barcodes: &[String],
    covers: impl Fn(&AreaCode) -> bool,
) -> Vec<bool> {
    let lab = state.projection.lab.lock();
    barcodes
        .iter()
        .map(|t| {
            TubeBarcode::parse(t)
                .ok()
                .and_then(|b| lab.tube_by_barcode(&b))
                .and_then(|m| lab.sites.get(&m.tube.site))
                .is_some_and(|s| !covers(&s.area))
        })
        .collect()
}

/// The tubes holding a person's swabs: the person's tube in each round, and those of
/// swabs taken outside a round. What the store needs to find the person's samples
/// ([`xikang_store::LabStore::samples_in_tubes`]).
pub fn tubes_of_person(state: &AppState, person: PersonId) -> Vec<TubeId> {
    let lab = state.projection.lab.lock();
    let mut tubes: Vec<TubeId> = lab
        .rounds
        .values()
        .filter_map(|r| r.tube_of.get(person.0 as usize))
        .filter(|t| **t != 0)
        .map(|t| TubeId(*t))
        .collect();
    tubes.extend(lab.off_round.get(&person).into_iter().flatten());
    tubes
}

/// A tube with its members count, for the API.
pub fn tube(state: &AppState, barcode: &TubeBarcode) -> Option<(Tube, usize)> {
    let lab = state.projection.lab.lock();
    lab.tube_by_barcode(barcode)
        .map(|m| (m.tube.clone(), m.members.len()))
}

/// How many tubes are in each state.
pub fn state_counts(state: &AppState) -> BTreeMap<&'static str, u64> {
    let lab = state.projection.lab.lock();
    let mut counts: BTreeMap<&'static str, u64> =
        TubeState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for m in &lab.tubes {
        *counts.entry(m.tube.state.as_str()).or_default() += 1;
    }
    counts
}

/// Tubes stuck on the way: sealed or in transport for more than `transport_hours` since
/// sealing, or received but not resulted for more than `lab_hours`.
pub fn stuck(state: &AppState, now: Timestamp, transport_hours: u32, lab_hours: u32) -> Vec<Tube> {
    let lab = state.projection.lab.lock();
    let t_cut = now.plus(-i64::from(transport_hours) * 3600);
    let l_cut = now.plus(-i64::from(lab_hours) * 3600);
    lab.tubes
        .iter()
        .map(|m| &m.tube)
        .filter(|t| match t.state {
            TubeState::Sealed | TubeState::InTransport => t.sealed_at.is_some_and(|s| s <= t_cut),
            TubeState::Received => t.received_at.is_some_and(|r| r <= l_cut),
            _ => false,
        })
        .cloned()
        .collect()
}

/// What the lab's samples of one person came to, as tests of that person: (swab time,
/// outcome). A negative tube is a negative of each member; a positive single tube a
/// positive; a positive pool, an invalid tube or a tube without a result is no outcome yet
/// (the member is held or re-swabbed until a single tube answers).
pub fn outcomes_of(state: &AppState, samples: &[Sample]) -> Vec<(Timestamp, Option<TestOutcome>)> {
    let lab = state.projection.lab.lock();
    samples
        .iter()
        .map(|s| {
            let outcome = lab.tube(s.tube).and_then(|m| match m.tube.outcome {
                Some(LabOutcome::Negative) => Some(TestOutcome::Negative),
                Some(LabOutcome::Positive) if m.members.len() <= 1 => Some(TestOutcome::Positive),
                _ => None,
            });
            (s.sampled_at, outcome)
        })
        .collect()
}

/// Open tasks, optionally of one kind, for people the `visible` filter allows.
pub fn open_tasks(
    state: &AppState,
    kind: Option<TaskKind>,
    visible: impl Fn(PersonId) -> bool,
) -> Vec<LabTask> {
    let lab = state.projection.lab.lock();
    let mut v: Vec<LabTask> = lab
        .open_tasks
        .values()
        .flatten()
        .filter(|t| kind.is_none_or(|k| t.kind == k) && visible(t.person))
        .cloned()
        .collect();
    v.sort_by_key(|t| t.id);
    v
}
