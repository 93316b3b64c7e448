//! Venue scans: `POST /api/v1/scans`. A scan is verified (signature once per token, then
//! cached), evaluated against the policy at scan time including the venue category's test
//! requirement, and its check-in written durably by the group-commit writer **before** the
//! answer is sent: an acknowledged scan survives `kill -9`.

use crate::app::{Actor, Role};
use crate::error::{AppError, ItemError, item_err};
use crate::json::{body_json, check_json};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::trace::Live;
use crate::wire::{ScanItemOut, ScansOut};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use xikang_code::{PRESENTED_AT_LEEWAY_SECS, Presented};
use xikang_domain::idnumber::IdNumber;
use xikang_domain::policy::check_entry;
use xikang_domain::{CheckIn, PersonId, PlaceCode, ScanDirection, Timestamp, Venue};
use xikang_store::Store;

/// Scans written in one transaction at most.
const MAX_GROUP: usize = 20_000;
/// Jobs waiting for the writer before new scans are refused with 503.
const QUEUE: usize = 4_096;

/// Check-ins for the writer and where to answer with the commit's outcome. A job without
/// check-ins is a flush marker, answered once every job queued before it is committed.
struct Job {
    checkins: Vec<CheckIn>,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Group commit: one thread takes every batch waiting in its queue, writes them in one
/// transaction (one fsync) and then acknowledges each. Throughput grows with load while a
/// lone scan still commits at once.
#[derive(Debug, Clone)]
pub struct ScanWriter {
    tx: SyncSender<Job>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} check-ins)", self.checkins.len())
    }
}

impl ScanWriter {
    /// Starts the writer thread, and the thread that appends committed check-ins to the
    /// tracing index: an append that seals and merges a segment of the day takes the index
    /// lock for a while, and no scan may wait for that.
    pub fn start(
        store: Arc<dyn Store>,
        index: Arc<Mutex<Live>>,
        metrics: Arc<Metrics>,
    ) -> ScanWriter {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let (committed, to_index) = std::sync::mpsc::channel();
        let m = metrics.clone();
        std::thread::Builder::new()
            .name("scan-writer".into())
            .spawn(move || writer_loop(store.as_ref(), &committed, rx, &m))
            .unwrap_or_else(|e| panic!("cannot start the scan writer thread: {e}"));
        std::thread::Builder::new()
            .name("scan-indexer".into())
            .spawn(move || indexer_loop(&index, &to_index))
            .unwrap_or_else(|e| panic!("cannot start the scan indexer thread: {e}"));
        ScanWriter { tx, metrics }
    }

    /// Writes check-ins durably; returns once they are committed.
    pub async fn write(&self, checkins: Vec<CheckIn>) -> Result<(), AppError> {
        if checkins.is_empty() {
            return Ok(());
        }
        let (done, wait) = tokio::sync::oneshot::channel();
        // Counted before it is sent, so the writer never takes it off the gauge first.
        self.metrics.scan_queue.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.tx.try_send(Job { checkins, done }) {
            self.metrics.scan_queue.fetch_sub(1, Ordering::Relaxed);
            return Err(match e {
                TrySendError::Full(_) => AppError::Overloaded,
                TrySendError::Disconnected(_) => AppError::Internal("scan writer stopped".into()),
            });
        }
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AppError::Internal(format!("writing check-ins: {e}"))),
            Err(_) => Err(AppError::Internal("scan writer dropped a job".into())),
        }
    }

    /// Returns once every check-in handed to the writer before this call is committed (or
    /// its commit failed): what a shutdown waits for before the process exits.
    pub async fn flush(&self) -> Result<(), AppError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        let tx = self.tx.clone();
        let job = Job {
            checkins: Vec::new(),
            done,
        };
        // The queue may be full at shutdown: wait for room off the runtime's threads.
        tokio::task::spawn_blocking(move || tx.send(job))
            .await
            .map_err(|e| AppError::Internal(format!("flushing the scan writer: {e}")))?
            .map_err(|_| AppError::Internal("scan writer stopped".into()))?;
        wait.await
            .map_err(|_| AppError::Internal("scan writer dropped a flush".into()))?
            .map_err(|e| AppError::Internal(format!("writing check-ins: {e}")))
    }
}

fn writer_loop(
    store: &dyn Store,
    committed: &Sender<Vec<CheckIn>>,
    rx: Receiver<Job>,
    metrics: &Metrics,
) {
    let mut jobs: Vec<Job> = Vec::new();
    let mut rows: Vec<CheckIn> = Vec::new();
    while let Ok(first) = rx.recv() {
        rows.extend_from_slice(&first.checkins);
        jobs.push(first);
        while rows.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => {
                    rows.extend_from_slice(&j.checkins);
                    jobs.push(j);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        // Flush markers carry no rows and were not counted as queued.
        let queued = jobs.iter().filter(|j| !j.checkins.is_empty()).count();
        metrics
            .scan_queue
            .fetch_sub(queued as u64, Ordering::Relaxed);
        let result = if rows.is_empty() {
            Ok(())
        } else {
            let started = std::time::Instant::now();
            let r = store.insert_checkins(&rows).map_err(|e| e.to_string());
            metrics
                .scan_commit
                .observe(started.elapsed().as_micros() as u64);
            metrics.scan_group.observe(rows.len() as u64);
            r
        };
        if let Err(e) = &result {
            metrics.scan_commit_failures.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, rows = rows.len(), "check-in group commit failed");
        }
        for j in jobs.drain(..) {
            let _ = j.done.send(result.clone());
        }
        // After the answers: the index is a view of what is durable, read by tracers.
        if result.is_ok() && !rows.is_empty() {
            let _ = committed.send(std::mem::take(&mut rows));
        }
        rows.clear();
    }
}

/// Appends committed check-ins to the tracing index, several groups at a time when the
/// writer is ahead. The queue is unbounded but only ever holds what the index has not yet
/// taken (appending is far cheaper than committing, except during a merge).
fn indexer_loop(index: &Mutex<Live>, rx: &Receiver<Vec<CheckIn>>) {
    while let Ok(mut rows) = rx.recv() {
        while let Ok(more) = rx.try_recv() {
            rows.extend_from_slice(&more);
        }
        crate::trace::lock(index).append(&rows);
    }
}

/// One scan as a device sends it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanItem {
    pub place_code: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub id_number: Option<String>,
    #[serde(default)]
    pub direction: Option<ScanDirection>,
    /// When the scan happened, for scans queued offline; default now. The code must have
    /// been valid then (±60 s) and the upload must arrive within the server's upload grace
    /// after the code expired (`xikang_code::Presented`).
    #[serde(default)]
    pub at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    scans: Option<Vec<&'a RawValue>>,
}

/// Whether the person may enter. Serialised `allow` / `deny`, as the API always answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// The answer for one accepted scan.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScanAnswer {
    pub decision: Decision,
    pub colour: xikang_domain::Colour,
    pub hours_since_negative: Option<u32>,
    pub reason: &'static str,
    /// Shown at the door as Wuxi's 门铃码 did: doses, full course, booster.
    pub vaccination: crate::wire::VaccinationOut,
}

/// A scan whose identity is still to be resolved.
struct Pending<'a> {
    venue: &'a Venue,
    direction: ScanDirection,
    at: Timestamp,
    /// The device sent its own time (a scan queued offline): its code is checked against
    /// the window of [`Presented`], not as shown now.
    offline: bool,
    who: Who,
}

enum Who {
    Person(PersonId),
    Token(String),
    IdNumber(IdNumber),
}

fn parse_item<'s>(
    state: &'s AppState,
    caller: &Actor,
    item: Result<ScanItem, ItemError>,
    now: Timestamp,
) -> Result<Pending<'s>, ItemError> {
    let item = item?;
    let code = PlaceCode::parse(&item.place_code)
        .map_err(|e| item_err("invalid_place_code", e.to_string()))?;
    let venue_id = *state.projection.venues.by_code.get(&code).ok_or_else(|| {
        item_err(
            "unknown_place_code",
            format!("no venue has place code {code}"),
        )
    })?;
    let venue = state
        .projection
        .venues
        .get(venue_id)
        .ok_or_else(|| item_err("unknown_place_code", "venue missing"))?;
    let allowed = match caller.role {
        Role::Admin => caller.covers(&venue.area),
        Role::VenueDevice => caller
            .venue
            .map_or(caller.covers(&venue.area), |v| v == venue.id),
        Role::Tracer
        | Role::Lab
        | Role::GridWorker
        | Role::Resident
        | Role::SiteManager
        | Role::Carrier
        | Role::Enterprise => false,
    };
    if !allowed {
        return Err(item_err(
            "venue_not_allowed",
            format!("this device may not scan for venue {code}"),
        ));
    }
    let offline = match &item.at {
        None => None,
        Some(s) => {
            let t = Timestamp::parse_rfc3339(s)
                .map_err(|e| item_err("invalid_scan_time", e.to_string()))?;
            if t > now.plus(PRESENTED_AT_LEEWAY_SECS) {
                return Err(item_err("invalid_scan_time", "scan time is in the future"));
            }
            Some(t)
        }
    };
    let who = match (item.token, item.id_number) {
        (Some(t), None) => Who::Token(t),
        (None, Some(n)) => {
            // No code to date the scan by: the queue of a device is bounded the same way, by
            // the longest a code's scan may wait (its lifetime plus the upload grace).
            let window = i64::from(state.policy().code_ttl_secs())
                .saturating_add(state.config.scan_upload_grace_secs);
            if offline.is_some_and(|t| t < now.plus(-window)) {
                return Err(item_err(
                    "invalid_scan_time",
                    format!("scans queued offline must be uploaded within {window} s"),
                ));
            }
            if !caller.id_lookup {
                return Err(item_err(
                    "id_lookup_not_allowed",
                    "this device may not look people up by ID number",
                ));
            }
            let id = IdNumber::parse(&n).map_err(|e| item_err(e.code(), e.to_string()))?;
            Who::IdNumber(id)
        }
        _ => {
            return Err(item_err(
                "invalid_scan",
                "give exactly one of token or id_number",
            ));
        }
    };
    Ok(Pending {
        venue,
        direction: item.direction.unwrap_or(ScanDirection::Entry),
        at: offline.unwrap_or(now),
        offline: offline.is_some(),
        who,
    })
}

/// Resolves tokens to people: live scans as one batch ([`AppState::identify`]); scans
/// queued offline one by one against their window ([`AppState::identify_presented`]).
fn resolve_tokens(
    state: &AppState,
    pending: &mut [Result<Pending<'_>, ItemError>],
    now: Timestamp,
) {
    fn token<'p>(p: &'p Result<Pending<'_>, ItemError>) -> Option<(&'p str, Option<Timestamp>)> {
        match p {
            Ok(Pending {
                who: Who::Token(t),
                at,
                offline,
                ..
            }) => Some((t.as_str(), offline.then_some(*at))),
            _ => None,
        }
    }
    let live: Vec<usize> = (0..pending.len())
        .filter(|&i| token(&pending[i]).is_some_and(|(_, at)| at.is_none()))
        .collect();
    let refs: Vec<&str> = live
        .iter()
        .filter_map(|&i| token(&pending[i]).map(|(t, _)| t))
        .collect();
    let mut outcomes: Vec<(usize, Result<PersonId, ItemError>)> = live
        .iter()
        .copied()
        .zip(state.identify(&refs, now, true))
        .collect();
    let grace = state.config.scan_upload_grace_secs;
    for (i, p) in pending.iter().enumerate() {
        if let Some((t, Some(at))) = token(p) {
            let presented = Presented {
                at,
                received: now,
                upload_grace_secs: grace,
            };
            outcomes.push((i, state.identify_presented(t, presented)));
        }
    }
    for (i, outcome) in outcomes {
        match outcome {
            Ok(person) => {
                if let Ok(p) = &mut pending[i] {
                    p.who = Who::Person(person);
                }
            }
            Err(e) => pending[i] = Err(e),
        }
    }
}

/// `POST /api/v1/scans`: one scan, or `{"scans": [...]}` of at most `max_batch`.
pub async fn post_scans(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // The role first, as before the application layer: a stranger learns nothing about
    // the body's validity. `record_scans` checks it again for its other callers.
    caller.require(SCANNERS, "scanning codes")?;
    check_json(&headers)?;
    let probe: Probe<'_> = body_json(&body)?;
    let batch = probe.scans.is_some();
    let raws: Vec<&str> = match &probe.scans {
        Some(list) => list.iter().map(|r| r.get()).collect(),
        None => vec![
            std::str::from_utf8(&body)
                .map_err(|_| AppError::bad("invalid_json", "body is not UTF-8"))?,
        ],
    };
    let items = raws
        .into_iter()
        .map(|raw| {
            serde_json::from_str::<ScanItem>(raw)
                .map_err(|e| item_err("invalid_scan", format!("not a valid scan: {e}")))
        })
        .collect();
    let scanned = record_scans(&state, &caller, items).await?;

    if !batch {
        return match scanned.answers.into_iter().next() {
            Some(Ok(a)) => Ok(axum::Json(a).into_response()),
            Some(Err(e)) => Err(single_error(e)),
            None => Err(AppError::bad("empty_batch", "no scan")),
        };
    }
    let accepted = scanned.answers.iter().filter(|a| a.is_ok()).count();
    let results: Vec<ScanItemOut> = scanned
        .answers
        .into_iter()
        .enumerate()
        .map(|(index, a)| ScanItemOut::new(index, a))
        .collect();
    if accepted == 0 {
        return Err(AppError::Unprocessable {
            code: "no_valid_scans",
            message: "every scan in the batch was refused".into(),
            details: Some(json!({"results": results})),
        });
    }
    Ok(axum::Json(ScansOut {
        accepted,
        recorded: scanned.recorded,
        results,
    })
    .into_response())
}

/// Who may record scans: venue devices (their venue or area) and admins (their area).
const SCANNERS: &[Role] = &[Role::VenueDevice, Role::Admin];

/// What a batch of scans came to: one answer or refusal per item, in order, and how many
/// check-ins were written durably.
#[derive(Debug)]
pub struct Scanned {
    pub answers: Vec<Result<ScanAnswer, ItemError>>,
    pub recorded: usize,
}

/// Decides and records scans (the application-layer command behind `POST /api/v1/scans`
/// and the venue page): each item's venue must be in the actor's reach, the code is
/// verified and the colour evaluated at the scan time, and the allowed entries and every
/// exit are written durably before this returns. Items are refused one by one; the whole
/// call fails only for the actor's role, an empty or oversized batch, or the store.
pub async fn record_scans(
    state: &AppState,
    actor: &Actor,
    items: Vec<Result<ScanItem, ItemError>>,
) -> Result<Scanned, AppError> {
    actor.require(SCANNERS, "scanning codes")?;
    let now = crate::now();
    if items.is_empty() {
        return Err(AppError::bad(
            "empty_batch",
            "a batch needs at least one scan",
        ));
    }
    if items.len() > state.config.max_batch {
        return Err(AppError::TooLarge(format!(
            "a batch holds at most {} scans, this one has {}",
            state.config.max_batch,
            items.len()
        )));
    }

    let mut pending: Vec<Result<Pending<'_>, ItemError>> = items
        .into_iter()
        .map(|item| parse_item(state, actor, item, now))
        .collect();
    resolve_tokens(state, &mut pending, now);
    // ID-number lookups (residents without a phone) go to the store.
    for p in pending.iter_mut() {
        let Ok(pp) = p else { continue };
        if let Who::IdNumber(id) = &pp.who {
            let hash = id.keyed_hash(&state.secrets.id_hash_key);
            let store = state.store.clone();
            let found =
                tokio::task::spawn_blocking(move || store.person_by_id_hash(&hash)).await??;
            match found {
                Some(person) => pp.who = Who::Person(person),
                None => *p = Err(item_err("unknown_person", "no resident has this ID number")),
            }
        }
    }

    let policy = state.policy();
    let mut checkins = Vec::with_capacity(pending.len());
    let answers: Vec<Result<ScanAnswer, ItemError>> = pending
        .into_iter()
        .map(|p| {
            let p = p?;
            let Who::Person(person) = p.who else {
                return Err(item_err("invalid_scan", "identity not resolved"));
            };
            let (eval, last_sample) = state
                .projection
                .evaluate(&policy, person, p.at)
                .ok_or_else(|| item_err("unknown_person", "not a resident here"))?;
            // From memory, like the colour: a scan never reads the store for it.
            let vaccination = crate::lab::vaccination_status(state, person);
            let entry = check_entry(
                &policy,
                &eval,
                &p.venue.category,
                last_sample,
                vaccination,
                p.at,
            );
            if entry.allow || p.direction == ScanDirection::Exit {
                checkins.push(CheckIn {
                    person,
                    venue: p.venue.id,
                    at: p.at,
                    direction: p.direction,
                });
            }
            Ok(ScanAnswer {
                decision: if entry.allow {
                    Decision::Allow
                } else {
                    Decision::Deny
                },
                colour: eval.colour,
                hours_since_negative: entry.hours_since_negative,
                reason: entry.reason,
                vaccination: vaccination.into(),
            })
        })
        .collect();
    let recorded = checkins.len();
    state.writer.write(checkins).await?;
    Ok(Scanned { answers, recorded })
}

/// One scan, answered as the single-scan API answers it (a refused item is the error).
pub async fn record_scan(
    state: &AppState,
    actor: &Actor,
    item: ScanItem,
) -> Result<ScanAnswer, AppError> {
    match record_scans(state, actor, vec![Ok(item)])
        .await?
        .answers
        .into_iter()
        .next()
    {
        Some(Ok(a)) => Ok(a),
        Some(Err(e)) => Err(single_error(e)),
        None => Err(AppError::bad("empty_batch", "no scan")),
    }
}

fn single_error(e: ItemError) -> AppError {
    match e.code {
        "unknown_place_code" | "unknown_person" => AppError::NotFound {
            code: e.code,
            message: e.message,
        },
        "venue_not_allowed" | "id_lookup_not_allowed" => AppError::Forbidden(e.code),
        _ => AppError::BadRequest {
            code: e.code,
            message: e.message,
            details: None,
        },
    }
}
