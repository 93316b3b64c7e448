//! Contact tracing in the server: the in-memory tracing index (loaded from the store in the
//! background at start, fed by the scan writer after each commit), the population it traces
//! over, the tracer's workflow (candidate → confirmed → notified → quarantined, or
//! dismissed), and the `/cases/{id}/contacts`, `/cases/{id}/sources` and `/clusters`
//! handlers. Companions (时空伴随) come from the ping index (`crate::ping`), loaded after the
//! check-in index.
//!
//! Contact lists are computed from the index on every request (milliseconds): what is
//! stored is only what tracers decided, as authority events.
//!
//! This file holds the index and the workflow; the requests are in `contacts`,
//! `actions` and `clusters`.

pub(crate) mod actions;
pub(crate) mod clusters;
pub(crate) mod contacts;
pub mod wire;

pub use actions::*;
pub use clusters::*;
pub use contacts::*;

use crate::api::{blocking_err, visible_person};
use crate::app::projection::CaseRecord;
use crate::app::{Actor, Role, Scoped};
use crate::error::AppError;
use crate::export::{Cell, Table};
use crate::extract::JsonIn;
use crate::state::{AppState, read, write};
use crate::wire::ItemsOut;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use wire::CloseEvidenceOut;
use wire::{
    ClusterOut, ClusterSummaryOut, ClusterVenueOut, CompanionEvidenceOut, CompanionsOut,
    ContactStepOut, ContactsPageOut, EdgeOut, EvidenceOut, PresenceOut, SecondaryEvidenceOut,
    SourceOut, SourceVenueOut, SourcesOut, intervals, minutes,
};
use xikang_domain::event::{ContactKind, EventBody, NewEvent, QuarantineReason, StoredEvent};
use xikang_domain::policy::Policy;
use xikang_domain::{CaseId, CheckIn, CivilDay, OrderId, PersonId, Timestamp};
use xikang_store::{Store, StoreError};
use xikang_trace::{
    Case, CloseContacts, Cluster, Companion, Population, SecondaryContacts, TraceIndex, Tracer,
    clusters, companions, to_dot,
};

pub use xikang_domain::contact::Status;

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
    /// A front node (docs/nodes.md) holds no index: committed scans are not kept.
    discard: bool,
}

impl Live {
    /// Adds committed check-ins (the scan writer, after each commit).
    pub fn append(&mut self, rows: &[CheckIn]) {
        if self.discard {
            return;
        }
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
    /// A front node's: no index here (see [`Tracing::serve_front_only`]).
    front: AtomicBool,
    /// Location pings for companions, loaded after the check-ins.
    pub pings: crate::ping::Pings,
    /// Replaced whole when the resident register places people in households.
    population: RwLock<Arc<Population>>,
    /// Placements not yet in `population`, in the order they were committed: the next reader
    /// folds them in at once, so an import of a million lines in parts rebuilds the
    /// households once, not once per part.
    unplaced: Mutex<Vec<(PersonId, xikang_domain::HouseholdId)>>,
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
                discard: false,
            })),
            ready: AtomicBool::new(false),
            front: AtomicBool::new(false),
            pings: crate::ping::Pings::new(),
            population: RwLock::new(Arc::new(population)),
            unplaced: Mutex::new(Vec::new()),
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

    /// Makes this a front node's tracing state (docs/nodes.md): no index is loaded or kept,
    /// and tracing requests are refused with `tracing_elsewhere`.
    pub fn serve_front_only(&self) {
        let mut live = lock(&self.live);
        live.pending = None;
        live.discard = true;
        self.front.store(true, Ordering::Release);
        self.pings.serve_front_only();
    }

    /// Whether the index holds everything stored.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// A consistent view of the index, or 503 while it is loading.
    pub fn snapshot(&self) -> Result<TraceIndex, AppError> {
        if self.front.load(Ordering::Acquire) {
            return Err(AppError::Unavailable {
                code: "tracing_elsewhere",
                message: "this is a front node without the check-in index; send tracing \
                          requests to a tracing node"
                    .into(),
            });
        }
        if !self.is_ready() {
            return Err(AppError::Unavailable {
                code: "index_loading",
                message: "the tracing index is still loading; retry in a few seconds".into(),
            });
        }
        Ok(lock(&self.live).index.snapshot())
    }

    /// Who lives and works together, as of now.
    pub fn population(&self) -> Arc<Population> {
        // Held while folding, so no reader sees the population without a committed placement.
        let mut unplaced = self.unplaced.lock().unwrap_or_else(PoisonError::into_inner);
        if !unplaced.is_empty() {
            let mut population = write(&self.population);
            match population.with_households(&unplaced) {
                Ok(p) => *population = Arc::new(p),
                // Household ids come from the store's counter, so this means a corrupt id:
                // the old households stay, and tracing says so rather than guessing.
                Err(e) => tracing::error!(error = %e, "households not updated"),
            }
            unplaced.clear();
        }
        drop(unplaced);
        read(&self.population).clone()
    }

    /// Takes each venue's dwell time and close-contact rule from `policy` (a policy came
    /// into force): tracing from now on uses them.
    pub fn set_venue_rules<'a>(
        &self,
        policy: &xikang_domain::policy::Policy,
        venues: impl IntoIterator<Item = (xikang_domain::VenueId, &'a xikang_domain::VenueCategory)>,
    ) {
        let mut population = write(&self.population);
        *population = Arc::new((**population).clone().with_venue_rules(policy, venues));
    }

    /// Places people in households (the resident register: newcomers and people who moved
    /// household), so that household contacts include them from now on.
    pub fn place_in_households(&self, placed: &[(PersonId, xikang_domain::HouseholdId)]) {
        self.unplaced
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(placed);
    }

    /// The tracer's decision about `person` in `case`, if any.
    pub fn designation(&self, case: CaseId, person: PersonId) -> Option<Designation> {
        read(&self.workflow).get(&(case, person)).cloned()
    }

    /// A tracer's standing decisions about `person` (confirmed, notified or quarantined; not
    /// candidates nor dismissals), with their cases: the evidence a contact's quarantine
    /// order cites.
    pub fn decisions_about(&self, person: PersonId) -> Vec<(CaseId, Designation)> {
        read(&self.workflow)
            .iter()
            .filter(|((_, p), d)| {
                *p == person
                    && matches!(
                        d.status,
                        Status::Confirmed | Status::Notified | Status::Quarantined
                    )
            })
            .map(|((case, _), d)| (*case, d.clone()))
            .collect()
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
            let started = std::time::Instant::now();
            match state.projection.tracing.load(state.store.as_ref()) {
                Ok(()) => state.metrics.index_load_micros.store(
                    started.elapsed().as_micros().max(1) as u64,
                    Ordering::Relaxed,
                ),
                Err(e) => tracing::error!(error = %e, "loading the tracing index failed"),
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
