//! Contact tracing in the server: the in-memory tracing index (loaded from the store in the
//! background at start, fed by the scan writer after each commit), the population it traces
//! over, the tracer's workflow (candidate → confirmed → notified → quarantined, or
//! dismissed), and the `/cases/{id}/contacts`, `/cases/{id}/sources` and `/clusters`
//! handlers. Companions (时空伴随) come from the ping index (`crate::ping`), loaded after the
//! check-in index.
//!
//! Contact lists are computed from the index on every request (milliseconds): what is
//! stored is only what tracers decided, as authority events.

use crate::api::{blocking_err, visible_person};
use crate::app::projection::CaseRecord;
use crate::app::{Actor, Role};
use crate::error::AppError;
use crate::export::{Cell, Table, to_csv, to_xlsx};
use crate::json::parse;
use crate::state::{AppState, read, write};
use crate::wire::{parse_case_id, parse_person_id};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use xikang_domain::event::{ContactKind, EventBody, NewEvent, QuarantineReason, StoredEvent};
use xikang_domain::policy::Policy;
use xikang_domain::{CaseId, CheckIn, CivilDay, OrderId, PersonId, Timestamp};
use xikang_store::{Store, StoreError};
use xikang_trace::{
    Case, CloseContacts, Cluster, Companion, Interval, Link, Population, SecondaryContacts,
    TraceIndex, Tracer, clusters, companions, to_dot,
};

/// Where a contact stands in the tracer's workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Computed from the data; nobody has decided yet.
    Candidate,
    /// A tracer confirmed the designation (the colour follows the policy from here).
    Confirmed,
    /// The person was told.
    Notified,
    /// A quarantine order was issued.
    Quarantined,
    /// A tracer dismissed the candidate or released the designation, with a reason.
    Dismissed,
}

/// A tracer's decisions about one person in one case's contact list.
#[derive(Debug, Clone)]
pub struct Designation {
    pub kind: ContactKind,
    pub status: Status,
    pub last_exposure: Option<Timestamp>,
    pub reason: Option<String>,
    pub order: Option<OrderId>,
    /// When the quarantine order was issued.
    pub quarantined_at: Option<Timestamp>,
}

/// The index as the scan writer and readers share it.
#[derive(Debug)]
pub struct Live {
    pub index: TraceIndex,
    /// While the stored check-ins are loading, committed scans wait here (the loader builds
    /// its index without this lock, then adds these); `None` once loaded.
    pending: Option<Vec<CheckIn>>,
}

impl Live {
    /// Adds committed check-ins (the scan writer, after each commit).
    pub fn append(&mut self, rows: &[CheckIn]) {
        match &mut self.pending {
            Some(p) => p.extend_from_slice(rows),
            None => self.index.append(rows),
        }
    }

    /// Forgets the check-ins of days before `day` (retention).
    pub fn drop_days_before(&mut self, day: CivilDay) {
        self.index.drop_days_before(day);
        if let Some(p) = &mut self.pending {
            p.retain(|c| c.at.shanghai_day() >= day);
        }
    }
}

/// The server's tracing state.
pub struct Tracing {
    /// Fed by the scan writer; readers take a snapshot.
    pub live: Arc<Mutex<Live>>,
    ready: AtomicBool,
    /// Location pings for companions, loaded after the check-ins.
    pub pings: crate::ping::Pings,
    population: Population,
    workflow: RwLock<BTreeMap<(CaseId, PersonId), Designation>>,
}

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracing")
            .field("ready", &self.ready.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Locks the live index, also after a panic of another holder (appends are whole).
pub fn lock(m: &Mutex<Live>) -> std::sync::MutexGuard<'_, Live> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Tracing {
    /// An empty index (not ready until [`Tracing::load`] has run) over `population`.
    pub fn new(population: Population) -> Tracing {
        Tracing {
            live: Arc::new(Mutex::new(Live {
                index: TraceIndex::new(),
                pending: Some(Vec::new()),
            })),
            ready: AtomicBool::new(false),
            pings: crate::ping::Pings::new(),
            population,
            workflow: RwLock::new(BTreeMap::new()),
        }
    }

    /// Builds the index from every stored check-in, then marks it ready. The store streams
    /// day by day; each whole day is handed to a second thread that sorts it into one
    /// segment while the next day is read. Scans committed meanwhile wait in
    /// [`Live::pending`] and are added at the end (a scan both stored and pending is kept
    /// once).
    pub fn load(&self, store: &dyn Store) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let mut loaded = build_by_day(
            TraceIndex::new(),
            |f| store.for_each_checkin(f),
            |c| c.at.shanghai_day(),
            |c| *c,
            TraceIndex::append,
        )?;
        let mut live = lock(&self.live);
        if let Some(pending) = live.pending.take() {
            loaded.append(&pending);
        }
        live.index = loaded;
        self.ready.store(true, Ordering::Release);
        tracing::info!(
            checkins = live.index.len(),
            bytes = live.index.heap_bytes(),
            ms = started.elapsed().as_millis(),
            "tracing index ready"
        );
        Ok(())
    }

    /// Whether the index holds everything stored.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// A consistent view of the index, or 503 while it is loading.
    pub fn snapshot(&self) -> Result<TraceIndex, AppError> {
        if !self.is_ready() {
            return Err(AppError::Unavailable {
                code: "index_loading",
                message: "the tracing index is still loading; retry in a few seconds".into(),
            });
        }
        Ok(lock(&self.live).index.snapshot())
    }

    pub fn population(&self) -> &Population {
        &self.population
    }

    /// The tracer's decision about `person` in `case`, if any.
    pub fn designation(&self, case: CaseId, person: PersonId) -> Option<Designation> {
        read(&self.workflow).get(&(case, person)).cloned()
    }

    /// Every contact a tracer has designated (confirmed, notified or quarantined; not
    /// candidates nor dismissals), with its case and when their quarantine was ordered: what
    /// the district ranking times.
    pub fn designated(&self) -> Vec<(CaseId, Option<Timestamp>)> {
        read(&self.workflow)
            .iter()
            .filter(|(_, d)| {
                matches!(
                    d.status,
                    Status::Confirmed | Status::Notified | Status::Quarantined
                )
            })
            .map(|((case, _), d)| (*case, d.quarantined_at))
            .collect()
    }

    /// Folds an authority event into the workflow.
    pub fn apply(&self, e: &StoredEvent) {
        match &e.body {
            EventBody::ContactDesignated {
                person,
                case,
                contact_kind,
                last_exposure,
            } => {
                write(&self.workflow).insert(
                    (*case, *person),
                    Designation {
                        kind: *contact_kind,
                        status: Status::Confirmed,
                        last_exposure: Some(*last_exposure),
                        reason: None,
                        order: None,
                        quarantined_at: None,
                    },
                );
            }
            EventBody::ContactNotified { person, case } => {
                if let Some(d) = write(&self.workflow).get_mut(&(*case, *person)) {
                    d.status = Status::Notified;
                }
            }
            EventBody::ContactReleased {
                person,
                case,
                reason,
            } => {
                let mut w = write(&self.workflow);
                let d = w.entry((*case, *person)).or_insert(Designation {
                    kind: ContactKind::Close,
                    status: Status::Dismissed,
                    last_exposure: None,
                    reason: None,
                    order: None,
                    quarantined_at: None,
                });
                d.status = Status::Dismissed;
                d.reason = Some(reason.clone());
            }
            EventBody::QuarantineOrdered {
                order,
                person,
                reason,
                ..
            } => {
                if matches!(
                    reason,
                    QuarantineReason::CloseContact | QuarantineReason::SecondaryContact
                ) {
                    for (_, d) in write(&self.workflow).iter_mut().filter(|((_, p), d)| {
                        p == person && matches!(d.status, Status::Confirmed | Status::Notified)
                    }) {
                        d.status = Status::Quarantined;
                        d.order = Some(*order);
                        d.quarantined_at = Some(e.at);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Builds an index from stored rows that arrive oldest day first: each whole day is
/// converted and handed to a second thread that appends it (one sorted segment per day)
/// while the store reads the next day.
pub(crate) fn build_by_day<R, O: Send, I: Send>(
    index: I,
    stream: impl FnOnce(&mut dyn FnMut(&[R])) -> Result<(), StoreError>,
    day_of: impl Fn(&R) -> CivilDay,
    convert: impl Fn(&R) -> O,
    append: impl Fn(&mut I, &[O]) + Send,
) -> Result<I, StoreError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<O>>(1);
    std::thread::scope(|s| {
        let builder = s.spawn(move || {
            let mut index = index;
            for day in rx {
                append(&mut index, &day);
            }
            index
        });
        let mut day: Vec<O> = Vec::new();
        let mut current = None;
        let read = stream(&mut |chunk| {
            for r in chunk {
                let d = day_of(r);
                if current != Some(d) && !day.is_empty() {
                    let _ = tx.send(std::mem::take(&mut day));
                }
                current = Some(d);
                day.push(convert(r));
            }
        });
        if !day.is_empty() {
            let _ = tx.send(day);
        }
        drop(tx);
        let index = builder
            .join()
            .map_err(|_| StoreError::Corrupt("an index builder panicked".into()))?;
        read.map(|()| index)
    })
}

/// Starts loading the tracing index in the background.
pub fn start_loading(state: Arc<AppState>) {
    let spawned = std::thread::Builder::new()
        .name("trace-index-load".into())
        .spawn(move || {
            if let Err(e) = state.projection.tracing.load(state.store.as_ref()) {
                tracing::error!(error = %e, "loading the tracing index failed");
            }
            // After the check-ins: close contacts are ready first, companions follow.
            let metres = state.policy().tracing().companion_cell_metres;
            if let Err(e) = state
                .projection
                .tracing
                .pings
                .load(state.store.as_ref(), metres)
            {
                tracing::error!(error = %e, "loading the ping index failed");
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the tracing index loader");
    }
}

/// The tracing view of a registered case.
pub fn case_of(c: &CaseRecord) -> Case {
    let anchor = c.onset.or(c.sampled_at).unwrap_or(c.registered_at);
    Case {
        person: c.person,
        kind: c.kind,
        onset: c.onset,
        sampled: c.sampled_at.unwrap_or(anchor),
        isolated: c.isolated_at,
    }
}

/// A case the caller may read.
fn visible_case(state: &AppState, caller: &Actor, id: &str) -> Result<CaseRecord, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "reading contact lists")?;
    let id = parse_case_id(id)
        .ok_or_else(|| AppError::bad("invalid_case_id", "a case id looks like C1"))?;
    Ok(crate::app::authorise::case(state, caller, id)?.into_inner())
}

/// Close and secondary contacts and companions of one case.
#[derive(Debug)]
pub struct Traced {
    pub close: CloseContacts,
    pub secondary: SecondaryContacts,
    pub companions: Vec<Companion>,
    /// The cell side of the ping index the companions come from; `None` while it loads
    /// (the list then has no companions yet).
    pub companion_cell_metres: Option<u32>,
}

/// Traces one case over a snapshot: close contacts, then secondary contacts up to each
/// close contact's quarantine (when a tracer ordered one).
pub fn trace_case(
    state: &AppState,
    index: &TraceIndex,
    policy: &Policy,
    case: &CaseRecord,
    now: Timestamp,
) -> Result<Traced, AppError> {
    let tracer = Tracer::new(
        index,
        state.projection.tracing.population(),
        policy.tracing(),
    );
    let close = tracer
        .close_contacts(&case_of(case), now)
        .map_err(|e| AppError::not_found(e.code(), e.to_string()))?;
    let quarantined = |p: PersonId| {
        state
            .projection
            .tracing
            .designation(case.id, p)
            .and_then(|d| d.quarantined_at)
    };
    let secondary = tracer.secondary_contacts(&close, quarantined, now);
    let (companions, companion_cell_metres) = match state.projection.tracing.pings.snapshot() {
        Some((pings, metres)) => (
            companions(&pings, policy.tracing(), &case_of(case), now),
            Some(metres),
        ),
        None => (Vec::new(), None),
    };
    Ok(Traced {
        close,
        secondary,
        companions,
        companion_cell_metres,
    })
}

fn rfc(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn intervals(v: &[Interval]) -> Value {
    Value::Array(
        v.iter()
            .map(|i| json!({"start": rfc(i.start), "end": rfc(i.end)}))
            .collect(),
    )
}

fn minutes(secs: i64) -> i64 {
    secs / 60
}

/// One row of a contact list, as listed and exported.
#[derive(Debug, Clone, Serialize)]
pub struct ContactRow {
    pub person: String,
    pub district: Option<String>,
    pub kind: ContactKind,
    pub status: Status,
    pub rules: Vec<&'static str>,
    pub first_exposure: String,
    pub last_exposure: String,
    pub overlap_minutes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    pub evidence: Vec<Value>,
}

/// Builds the rows of a traced case, merged with the tracer's decisions.
pub fn contact_rows(state: &AppState, case: &CaseRecord, t: &Traced) -> Vec<ContactRow> {
    let status = |p: PersonId| state.projection.tracing.designation(case.id, p);
    let district = |p: PersonId| {
        state
            .projection
            .person_area(p)
            .map(|a| a.district().to_string())
    };
    let venue_name = |v: Option<xikang_domain::VenueId>| {
        v.and_then(|v| state.projection.venues.get(v))
            .map(|v| v.name.clone())
    };
    let mut rows = Vec::new();
    let mut listed = HashSet::new();
    for c in &t.close.contacts {
        let d = status(c.person);
        listed.insert(c.person);
        rows.push(ContactRow {
            person: c.person.to_string(),
            district: district(c.person),
            kind: ContactKind::Close,
            status: d.as_ref().map_or(Status::Candidate, |d| d.status),
            rules: {
                let mut r: Vec<&'static str> = c.evidence.iter().map(|e| e.rule.as_str()).collect();
                r.dedup();
                r
            },
            first_exposure: rfc(c.first_exposure),
            last_exposure: rfc(c.last_exposure),
            overlap_minutes: minutes(c.overlap_secs()),
            dismissed_reason: d.as_ref().and_then(|d| d.reason.clone()),
            order: d.as_ref().and_then(|d| d.order.map(|o| o.to_string())),
            evidence: c
                .evidence
                .iter()
                .map(|e| {
                    json!({
                        "rule": e.rule.as_str(),
                        "venue": e.venue.map(|v| v.to_string()),
                        "venue_name": venue_name(e.venue),
                        "case_presence": intervals(&e.case_presence),
                        "contact_presence": intervals(&e.contact_presence),
                        "overlap_minutes": minutes(e.overlap_secs),
                        "first": rfc(e.first),
                        "last": rfc(e.last),
                    })
                })
                .collect(),
        });
    }
    for s in &t.secondary.contacts {
        let d = status(s.person);
        listed.insert(s.person);
        rows.push(ContactRow {
            person: s.person.to_string(),
            district: district(s.person),
            kind: ContactKind::Secondary,
            status: d.as_ref().map_or(Status::Candidate, |d| d.status),
            rules: vec!["secondary"],
            first_exposure: rfc(s.first_exposure),
            last_exposure: rfc(s.last_exposure),
            overlap_minutes: 0,
            dismissed_reason: d.as_ref().and_then(|d| d.reason.clone()),
            order: d.as_ref().and_then(|d| d.order.map(|o| o.to_string())),
            evidence: s
                .groups
                .iter()
                .filter_map(|g| t.secondary.groups.get(*g))
                .map(|g| {
                    json!({
                        "rule": "secondary",
                        "shared": g.rule.as_str(),
                        "venue": g.venue.map(|v| v.to_string()),
                        "venue_name": venue_name(g.venue),
                        "via": g.via.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "first": rfc(g.first),
                        "last": rfc(g.last),
                    })
                })
                .collect(),
        });
    }
    // Companions: a person already listed (a close contact who was also in the case's cell)
    // keeps one row, with the companion evidence and rule added to it.
    let at: BTreeMap<PersonId, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| crate::wire::parse_person_id(&r.person).map(|p| (p, i)))
        .collect();
    for c in &t.companions {
        let evidence: Vec<Value> = c
            .cells
            .iter()
            .map(|cell| {
                json!({
                    "rule": "companion",
                    "cell": cell.cell.0,
                    "cell_metres": t.companion_cell_metres,
                    "case_presence": intervals(&cell.case_presence),
                    "contact_presence": intervals(&cell.companion_presence),
                    "overlap_minutes": minutes(cell.overlap_secs),
                    "case_hours_in_cell": cell.case_secs_in_cell / 3_600,
                    "contact_hours_in_cell": cell.companion_secs_in_cell / 3_600,
                    "first": rfc(cell.first),
                    "last": rfc(cell.last),
                })
            })
            .collect();
        let overlap: i64 = c.cells.iter().map(|x| x.overlap_secs).sum();
        if let Some(&i) = at.get(&c.person) {
            let row = &mut rows[i];
            row.rules.push("companion");
            row.evidence.extend(evidence);
            continue;
        }
        let d = status(c.person);
        listed.insert(c.person);
        rows.push(ContactRow {
            person: c.person.to_string(),
            district: district(c.person),
            kind: ContactKind::Companion,
            status: d.as_ref().map_or(Status::Candidate, |d| d.status),
            rules: vec!["companion"],
            first_exposure: rfc(c.first_exposure),
            last_exposure: rfc(c.last_exposure),
            overlap_minutes: minutes(overlap),
            dismissed_reason: d.as_ref().and_then(|d| d.reason.clone()),
            order: d.as_ref().and_then(|d| d.order.map(|o| o.to_string())),
            evidence,
        });
    }
    // Designations whose evidence the data no longer shows (retention dropped the days, or
    // the policy changed) stay on the list: a decision is never silently lost.
    for ((c, p), d) in read(&state.projection.tracing.workflow).range((case.id, PersonId(0))..) {
        if *c != case.id {
            break;
        }
        if listed.contains(p) {
            continue;
        }
        rows.push(ContactRow {
            person: p.to_string(),
            district: district(*p),
            kind: d.kind,
            status: d.status,
            rules: Vec::new(),
            first_exposure: d.last_exposure.map(rfc).unwrap_or_default(),
            last_exposure: d.last_exposure.map(rfc).unwrap_or_default(),
            overlap_minutes: 0,
            dismissed_reason: d.reason.clone(),
            order: d.order.map(|o| o.to_string()),
            evidence: Vec::new(),
        });
    }
    rows
}

#[derive(Debug, Default, Deserialize)]
pub struct ContactQuery {
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    district: Option<String>,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    kind: Option<ContactKind>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    unmask: bool,
    #[serde(default)]
    purpose: Option<String>,
    /// Paging of the JSON list (a case at a school has tens of thousands of contacts):
    /// rows `offset..offset + limit`, limit at most [`MAX_PAGE`] (default 1,000).
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

/// The most rows one page of a contact list holds.
pub const MAX_PAGE: usize = 10_000;

impl ContactQuery {
    fn keeps(&self, r: &ContactRow) -> bool {
        self.status.is_none_or(|s| s == r.status)
            && self.kind.is_none_or(|k| k == r.kind)
            && self
                .district
                .as_deref()
                .is_none_or(|d| r.district.as_deref().is_some_and(|x| x.starts_with(d)))
            && self
                .rule
                .as_deref()
                .is_none_or(|rule| r.rules.contains(&rule))
    }
}

const RULES: &[&str] = &["venue", "household", "workplace", "secondary", "companion"];

/// Computes the filtered rows of a case's contact list.
impl ContactQuery {
    /// The whole list, masked, as a `csv` or `xlsx` file (the case page's export links).
    pub fn masked_export(format: String) -> ContactQuery {
        ContactQuery {
            format: Some(format),
            ..ContactQuery::default()
        }
    }
}

async fn listed(
    state: &Arc<AppState>,
    case: &CaseRecord,
    q: &ContactQuery,
) -> Result<(Traced, Vec<ContactRow>), AppError> {
    if let Some(rule) = q.rule.as_deref()
        && !RULES.contains(&rule)
    {
        return Err(AppError::bad(
            "invalid_rule",
            format!("rule is one of {}", RULES.join(", ")),
        ));
    }
    let index = state.projection.tracing.snapshot()?;
    let (s, case2) = (state.clone(), case.clone());
    let now = crate::now();
    let (traced, rows) = tokio::task::spawn_blocking(move || {
        let policy = s.policy();
        let t = trace_case(&s, &index, &policy, &case2, now)?;
        let rows = contact_rows(&s, &case2, &t);
        Ok::<_, AppError>((t, rows))
    })
    .await
    .map_err(blocking_err)??;
    Ok((traced, rows.into_iter().filter(|r| q.keeps(r)).collect()))
}

/// `GET /api/v1/cases/{id}/contacts`: the contact list with evidence, filterable by
/// `status`, `district` (prefix), `rule` and `kind`, paged by `offset` and `limit`; `count`
/// is the length of the whole filtered list.
pub async fn get_contacts(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<ContactQuery>,
) -> Result<Response, AppError> {
    let case = visible_case(&state, &caller, &id)?;
    let limit = q.limit.unwrap_or(1_000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::bad(
            "invalid_limit",
            format!("limit is between 1 and {MAX_PAGE}"),
        ));
    }
    let offset = q.offset.unwrap_or(0);
    let (t, rows) = listed(&state, &case, &q).await?;
    let count = rows.len();
    let page: Vec<ContactRow> = rows.into_iter().skip(offset).take(limit).collect();
    let case_presence: Vec<Value> = t
        .close
        .case_presence
        .iter()
        .map(|(v, ivs)| {
            json!({
                "venue": v.to_string(),
                "venue_name": state.projection.venues.get(*v).map(|v| v.name.clone()),
                "presence": intervals(ivs),
            })
        })
        .collect();
    Ok(Json(json!({
        "case": case.id.to_string(),
        "policy_version": state.policy().version(),
        "window": {"start": rfc(t.close.window.start), "end": rfc(t.close.window.end)},
        "case_presence": case_presence,
        "companions": {
            "ready": t.companion_cell_metres.is_some(),
            "cell_metres": t.companion_cell_metres,
        },
        "count": count,
        "offset": offset,
        "items": page,
    }))
    .into_response())
}

/// `GET /api/v1/cases/{id}/contacts/export?format=csv|xlsx`: the list for the people who
/// phone contacts. Names, phones and ID numbers are masked unless `unmask=true` with a
/// `purpose`, which only tracers and admins may ask; every export is an authority event.
pub async fn export_contacts(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<ContactQuery>,
) -> Result<Response, AppError> {
    Ok(export_contact_list(&state, &caller, &id, &q)
        .await?
        .into_response())
}

/// A contact-list export file.
#[derive(Debug)]
pub struct ContactExport {
    /// `contacts-C1.csv` or `.xlsx`.
    pub name: String,
    pub mime: &'static str,
    pub body: Vec<u8>,
}

impl IntoResponse for ContactExport {
    /// The file as a download, never cached.
    fn into_response(self) -> Response {
        let mut resp = self.body.into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.mime));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", self.name)) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        resp
    }
}

/// A case's contact list as a file (the query behind the API's export and the case page's
/// links): tracers and admins of the case's jurisdiction; unmasked only with a purpose;
/// every export is recorded as `ContactListExported` before the file is made.
pub async fn export_contact_list(
    state: &Arc<AppState>,
    caller: &Actor,
    id: &str,
    q: &ContactQuery,
) -> Result<ContactExport, AppError> {
    let case = visible_case(state, caller, id)?;
    let format = q.format.as_deref().unwrap_or("csv");
    if !matches!(format, "csv" | "xlsx") {
        return Err(AppError::bad("invalid_format", "format is csv or xlsx"));
    }
    let purpose = q.purpose.clone().filter(|p| !p.trim().is_empty());
    if q.unmask && purpose.is_none() {
        return Err(AppError::bad(
            "purpose_required",
            "an unmasked export needs a ?purpose=",
        ));
    }
    let (_, rows) = listed(state, &case, q).await?;
    let store = state.store.clone();
    let ids: Vec<PersonId> = rows
        .iter()
        .filter_map(|r| parse_person_id(&r.person))
        .collect();
    let people = tokio::task::spawn_blocking(move || {
        ids.iter()
            .map(|p| store.person(*p))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(blocking_err)??;
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: purpose.unwrap_or_else(|| "contact list export (masked)".into()),
            body: EventBody::ContactListExported {
                case: case.id,
                rows: u32::try_from(rows.len()).unwrap_or(u32::MAX),
                unmasked: q.unmask,
            },
        }])
        .await?;
    let mut table = Table {
        headers: [
            "人员编号 person",
            "姓名 name",
            "身份证号 ID number",
            "电话 phone",
            "区 district",
            "类别 kind",
            "状态 status",
            "依据 rules",
            "首次暴露 first exposure",
            "末次暴露 last exposure",
            "重叠分钟 overlap minutes",
            "场所 venues",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    let name = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    for (r, p) in rows.iter().zip(&people) {
        let out = p.as_ref().map(|p| crate::wire::PersonOut::new(p, q.unmask));
        let venues: Vec<String> = r
            .evidence
            .iter()
            .filter_map(|e| e.get("venue_name").map(name))
            .filter(|n| !n.is_empty())
            .collect();
        table.rows.push(vec![
            Cell::from(r.person.as_str()),
            out.as_ref()
                .map_or(Cell::from(""), |o| o.name.clone().into()),
            out.as_ref()
                .map_or(Cell::from(""), |o| o.id_number.clone().into()),
            out.as_ref()
                .and_then(|o| o.phone.clone())
                .map_or(Cell::from(""), Cell::from),
            Cell::from(r.district.clone().unwrap_or_default()),
            Cell::from(match r.kind {
                ContactKind::Close => "密接 close",
                ContactKind::Secondary => "次密接 secondary",
                ContactKind::Companion => "时空伴随 companion",
                ContactKind::General => "一般接触 general",
            }),
            Cell::from(
                serde_json::to_value(r.status)
                    .ok()
                    .map(|v| name(&v))
                    .unwrap_or_default(),
            ),
            Cell::from(r.rules.join(" ")),
            Cell::from(r.first_exposure.as_str()),
            Cell::from(r.last_exposure.as_str()),
            Cell::Number(r.overlap_minutes as f64),
            Cell::from(venues.join("; ")),
        ]);
    }
    let file = format!("contacts-{}", case.id);
    let (body, mime, ext) = if format == "csv" {
        (
            to_csv(&table).into_bytes(),
            "text/csv; charset=utf-8",
            "csv",
        )
    } else {
        (
            to_xlsx(&table, &case.id.to_string()),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    };
    Ok(ContactExport {
        name: format!("{file}.{ext}"),
        mime,
        body,
    })
}

/// A tracer's decision about one contact.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionIn {
    pub action: Action,
    #[serde(default)]
    pub reason: Option<String>,
    /// For `quarantine` under a centralized regime: the quarantine site (S1, …).
    #[serde(default)]
    pub site: Option<String>,
}

/// A step of the contact workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Confirm,
    Notify,
    Quarantine,
    Dismiss,
}

/// `POST /api/v1/cases/{id}/contacts/{person}`: `{"action": "confirm" | "notify" |
/// "quarantine" | "dismiss", "reason": …}`. Each step is an authority event; a step out of
/// order is a 409.
pub async fn act_on_contact(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path((id, person)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // Who and what first, then the body, as the API always answered.
    visible_case(&state, &caller, &id)?;
    visible_person(&state, &caller, &person)?;
    let b: ActionIn = parse(&headers, &body)?;
    let step = decide_contact(&state, &caller, &id, &person, b).await?;
    Ok(Json(json!({
        "case": step.case.to_string(),
        "person": step.person.to_string(),
        "status": step.status,
        "order": step.order.map(|o| o.to_string()),
    }))
    .into_response())
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
    case: &str,
    person: &str,
    b: ActionIn,
) -> Result<ContactStep, AppError> {
    let case = visible_case(state, caller, case)?;
    let person = visible_person(state, caller, person)?;
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
    let events = match b.action {
        Action::Confirm => {
            if matches!(
                status,
                Some(Status::Confirmed | Status::Notified | Status::Quarantined)
            ) {
                return Err(conflict("confirm"));
            }
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
        Action::Notify => {
            if status != Some(Status::Confirmed) {
                return Err(conflict("notify"));
            }
            vec![event(
                "tracer notified the contact",
                EventBody::ContactNotified {
                    person,
                    case: case.id,
                },
            )]
        }
        Action::Quarantine => {
            let Some(d) = current
                .as_ref()
                .filter(|d| matches!(d.status, Status::Confirmed | Status::Notified))
            else {
                return Err(conflict("quarantine"));
            };
            if d.kind == ContactKind::Companion {
                // The policy colours a companion yellow until their tests clear it
                // (PROTOCOL.md §1); no quarantine order follows from the companion rule.
                return Err(AppError::Conflict {
                    code: "companion_not_quarantined",
                    message: format!(
                        "{person} is a companion in {}: the policy's tests clear them, not a quarantine",
                        case.id
                    ),
                });
            }
            let reason = if d.kind == ContactKind::Secondary {
                QuarantineReason::SecondaryContact
            } else {
                QuarantineReason::CloseContact
            };
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
        Action::Dismiss => {
            let reason = b.reason.filter(|r| !r.trim().is_empty()).ok_or_else(|| {
                AppError::bad("reason_required", "dismissing a contact needs a reason")
            })?;
            if matches!(status, Some(Status::Quarantined | Status::Dismissed)) {
                return Err(conflict("dismiss"));
            }
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

/// `GET /api/v1/cases/{id}/sources`: who was with the case in the incubation period before
/// onset, most exposure first, known cases flagged.
pub async fn get_sources(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let case = visible_case(&state, &caller, &id)?;
    let index = state.projection.tracing.snapshot()?;
    let s = state.clone();
    let items = tokio::task::spawn_blocking(move || {
        let policy = s.policy();
        let tracer = Tracer::new(&index, s.projection.tracing.population(), policy.tracing());
        let known: HashSet<PersonId> = read(&s.projection.cases)
            .values()
            .map(|c| c.person)
            .collect();
        tracer
            .sources(&case_of(&case), &known)
            .map_err(|e| AppError::not_found(e.code(), e.to_string()))
    })
    .await
    .map_err(blocking_err)??;
    let cases = read(&state.projection.cases);
    let case_of_person = |p: PersonId| {
        cases
            .values()
            .find(|c| c.person == p)
            .map(|c| c.id.to_string())
    };
    let items: Vec<Value> = items
        .iter()
        .take(1_000)
        .map(|c| {
            json!({
                "person": c.person.to_string(),
                "overlap_minutes": minutes(c.overlap_secs),
                "case": if c.is_case { case_of_person(c.person) } else { None },
                "first_exposure": rfc(c.first_exposure),
                "last_exposure": rfc(c.last_exposure),
                "venues": c.venues.iter().map(|(v, secs)| json!({
                    "venue": v.to_string(),
                    "venue_name": state.projection.venues.get(*v).map(|v| v.name.clone()),
                    "overlap_minutes": minutes(*secs),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({"case": id, "items": items})).into_response())
}

/// Every registered case's close contacts and the clusters they form. Clusters are named
/// `K` + the number of their smallest case, so a cluster keeps its name as it grows.
pub fn all_clusters(
    state: &AppState,
    index: &TraceIndex,
    now: Timestamp,
) -> Vec<(String, Cluster)> {
    let policy = state.policy();
    let cases: Vec<CaseRecord> = read(&state.projection.cases).values().cloned().collect();
    let tracer = Tracer::new(
        index,
        state.projection.tracing.population(),
        policy.tracing(),
    );
    let inputs: Vec<Case> = cases.iter().map(case_of).collect();
    let traced = tracer.close_contacts_batch(&inputs, now);
    let pairs: Vec<(CaseId, &CloseContacts)> = cases
        .iter()
        .zip(&traced)
        .filter_map(|(c, t)| t.as_ref().ok().map(|t| (c.id, t)))
        .collect();
    clusters(&pairs)
        .into_iter()
        .map(|k| (format!("K{}", k.cases.first().map_or(0, |c| c.0)), k))
        .collect()
}

fn cluster_json(state: &AppState, id: &str, k: &Cluster) -> Value {
    let edges: Vec<Value> = k
        .edges
        .iter()
        .map(|e| match &e.link {
            Link::Contact {
                rule,
                venue,
                first,
                last,
                overlap_secs,
            } => json!({
                "from": e.from.to_string(), "to": e.to.to_string(), "link": "contact",
                "rule": rule.as_str(), "venue": venue.map(|v| v.to_string()),
                "first": rfc(*first), "last": rfc(*last), "overlap_minutes": minutes(*overlap_secs),
            }),
            Link::SharedVenue {
                venue,
                first,
                last,
                overlap_secs,
            } => json!({
                "from": e.from.to_string(), "to": e.to.to_string(), "link": "shared_venue",
                "venue": venue.to_string(), "first": rfc(*first), "last": rfc(*last),
                "overlap_minutes": minutes(*overlap_secs),
            }),
        })
        .collect();
    json!({
        "id": id,
        "cases": k.cases.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "venues": k.venues.iter().map(|v| json!({
            "venue": v.to_string(),
            "name": state.projection.venues.get(*v).map(|v| v.name.clone()),
        })).collect::<Vec<_>>(),
        "edges": edges,
    })
}

async fn computed_clusters(
    state: &Arc<AppState>,
    caller: &Actor,
) -> Result<Vec<(String, Cluster)>, AppError> {
    caller.require(&[Role::Tracer, Role::Admin], "reading clusters")?;
    let index = state.projection.tracing.snapshot()?;
    let s = state.clone();
    let all = tokio::task::spawn_blocking(move || all_clusters(&s, &index, crate::now()))
        .await
        .map_err(blocking_err)?;
    // A cluster is listed when the caller may read at least one of its cases.
    let cases = read(&state.projection.cases);
    Ok(all
        .into_iter()
        .filter(|(_, k)| {
            k.cases.iter().any(|c| {
                cases
                    .get(c)
                    .and_then(|c| state.projection.person_area(c.person))
                    .is_some_and(|a| caller.covers(&a))
            })
        })
        .collect())
}

/// `GET /api/v1/clusters`.
pub async fn list_clusters(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Response, AppError> {
    let all = computed_clusters(&state, &caller).await?;
    let items: Vec<Value> = all
        .iter()
        .map(|(id, k)| json!({"id": id, "cases": k.cases.len(), "venues": k.venues.len(), "edges": k.edges.len()}))
        .collect();
    Ok(Json(json!({"items": items})).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ClusterQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/clusters/{id}` (`?format=dot` for Graphviz).
pub async fn get_cluster(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(id): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> Result<Response, AppError> {
    if !id.starts_with('K') || id[1..].parse::<u64>().is_err() {
        return Err(AppError::bad(
            "invalid_cluster_id",
            "a cluster id looks like K1",
        ));
    }
    let all = computed_clusters(&state, &caller).await?;
    let (_, k) = all
        .iter()
        .find(|(k, _)| *k == id)
        .ok_or_else(|| AppError::not_found("unknown_cluster", format!("no cluster {id}")))?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(cluster_json(&state, &id, k)).into_response()),
        Some("dot") => {
            let mut resp = to_dot(k).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/vnd.graphviz; charset=utf-8"),
            );
            Ok(resp)
        }
        Some(_) => Err(AppError::bad("invalid_format", "format is json or dot")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xikang_domain::{HouseholdId, ScanDirection, VenueId};

    fn scan(person: u32, at: i64) -> CheckIn {
        CheckIn {
            person: PersonId(person),
            venue: VenueId(0),
            at: Timestamp(at),
            direction: ScanDirection::Entry,
        }
    }

    /// Scans committed while the stored ones load are neither lost nor counted twice.
    #[test]
    fn scans_committed_during_the_load_are_kept_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store =
            xikang_store::open(&xikang_store::Target::Sqlite(dir.path().into())).expect("open");
        let t0 = 1_656_640_800; // 2022-07-01 10:00 in Shanghai
        let stored: Vec<CheckIn> = (0..3).map(|p| scan(p, t0 + i64::from(p))).collect();
        store.insert_checkins(&stored).expect("insert");
        let population = Population::new(
            &[
                HouseholdId(0),
                HouseholdId(1),
                HouseholdId(2),
                HouseholdId(3),
            ],
            &[None; 4],
            &[],
            vec![3_600],
            3_600,
        )
        .expect("population");
        let tracing = Tracing::new(population);
        assert!(tracing.snapshot().is_err(), "not ready before the load");
        // Committed meanwhile: one new scan, and one the store already holds.
        lock(&tracing.live).append(&[scan(3, t0 + 10), stored[0]]);
        tracing.load(store.as_ref()).expect("load");
        let index = tracing.snapshot().expect("ready");
        assert_eq!(index.len(), 4);
        let seen = index.checkins_at_venue(VenueId(0), Timestamp(t0), Timestamp(t0 + 10));
        assert_eq!(
            seen.iter().map(|c| c.person.0).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        // After the load, appends go straight into the index.
        lock(&tracing.live).append(&[scan(3, t0 + 20)]);
        assert_eq!(tracing.snapshot().expect("ready").len(), 5);
    }
}
