//! The cheap defence at the HTTP edge: what every request passes before it may hold one of
//! the [`crate::shed`] lanes' slots, in this order, each step refusing in microseconds:
//!
//! 1. health probes (`/healthz`, `/readyz`) go straight through: no lane, no limit, so an
//!    orchestrator never restarts a server for being busy;
//! 2. a bearer token is resolved to its [`Actor`] from the auth cache; a token the cache has
//!    not seen costs one store lookup, limited per client address and by a small number of
//!    concurrent lookups (a request waits for one of those at most `queue_wait`, and
//!    requests with the same token share one lookup), so a flood of made-up tokens never
//!    reaches a lane (401 or 429 at once, 503 when the lookups ahead outlast the wait);
//! 3. a known token is rate-limited per token (a device, a service); a request without one
//!    (web pages, login, public documents) per client address;
//! 4. the body is read in full under a deadline ([`EdgeConfig::body_timeout`]): a client
//!    that announces 1,000 bytes and sends three gets 408 when the deadline passes, having
//!    held nothing but its socket;
//! 5. only then does the request wait (briefly) for a slot on its lane.
//!
//! Request headers have their own deadline, set on the connection in [`crate::serve`].
//! Limits on authenticated traffic are per token, not per address: many residents share a
//! carrier-grade NAT address, and an accountable token should not be starved by neighbours.

use crate::app::Actor;
use crate::auth;
use crate::error::AppError;
use crate::limit::{Rate, RateLimiter};
use crate::metrics::EdgeRefusal;
use crate::state::{AppState, ServerConfig};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH};
use axum::http::{Extensions, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Largest request body: a full batch of 1,000 scans with long tokens fits comfortably.
pub const BODY_LIMIT: usize = 1 << 20;

/// The edge's settings (flags and environment of `xikang serve`, see `docs/edge.md`).
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// A connection must deliver a request's whole header within this time (and an idle
    /// keep-alive connection is closed after it).
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this time after its header.
    pub body_timeout: Duration,
    /// How long a request may wait for a slot when its lane is full.
    pub queue_wait: Duration,
    /// How many requests may wait for a slot at once.
    pub max_waiters: usize,
    /// Per bearer token (a device, a service account).
    pub token_rate: Rate,
    /// Per client address, for requests without a bearer token.
    pub address_rate: Rate,
    /// Per client address, bearer tokens not in the auth cache (each costs a store lookup).
    pub lookup_rate: Rate,
    /// Store lookups of uncached tokens in flight at once; beyond that, a request waits for
    /// a slot at most `queue_wait`, then 503.
    pub lookups_in_flight: usize,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            queue_wait: Duration::from_secs(1),
            max_waiters: 4096,
            token_rate: Rate::new(1_000, 2_000),
            address_rate: Rate::new(200, 1_000),
            lookup_rate: Rate::new(50, 200),
            lookups_in_flight: 8,
        }
    }
}

/// Keys remembered per limiter: an attacker with many addresses or tokens makes the
/// limiter forget old keys (a fresh burst for them), never grow.
const LIMITER_KEYS: usize = 1 << 16;

/// The edge's state: limiters, the lookup slots and the last store check of `/readyz`.
#[derive(Debug)]
pub struct Edge {
    tokens: RateLimiter<[u8; 32]>,
    addresses: RateLimiter<IpAddr>,
    lookups: RateLimiter<IpAddr>,
    lookup_slots: Semaphore,
    store_checked: Mutex<Option<(Instant, bool)>>,
    reading: AtomicUsize,
    /// Set when a shutdown has begun: `/readyz` answers 503 `draining`.
    draining: AtomicBool,
}

impl Edge {
    /// The edge for these settings.
    pub fn new(c: &EdgeConfig) -> Edge {
        Edge {
            tokens: RateLimiter::new(c.token_rate, LIMITER_KEYS),
            addresses: RateLimiter::new(c.address_rate, LIMITER_KEYS),
            lookups: RateLimiter::new(c.lookup_rate, LIMITER_KEYS),
            lookup_slots: Semaphore::new(c.lookups_in_flight.max(1)),
            store_checked: Mutex::new(None),
            reading: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
        }
    }

    /// Marks the server as shutting down (it finishes what it has and takes nothing new).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Requests whose body is being read right now (each holding no slot).
    pub fn bodies_in_flight(&self) -> usize {
        self.reading.load(Ordering::Relaxed)
    }
}

/// Counts a body being read for as long as it lives.
struct Reading<'a>(&'a AtomicUsize);

impl<'a> Reading<'a> {
    fn start(n: &'a AtomicUsize) -> Reading<'a> {
        n.fetch_add(1, Ordering::Relaxed);
        Reading(n)
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The caller the edge authenticated from a bearer token, handed to the [`Actor`]
/// extractor so the token is not looked up twice.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

/// Whether a path is a health probe or the metrics (outside every lane and limit: an
/// overloaded server must still answer its orchestrator and its monitoring; `/metrics`
/// checks its own caller, see [`crate::metrics::MetricsAccess`]).
pub fn is_probe(path: &str) -> bool {
    path == "/healthz" || path == "/readyz" || path == "/metrics"
}

/// The client's address: the TCP peer, or, behind the TLS proxy
/// ([`ServerConfig::behind_tls`]), the last `X-Forwarded-For` entry, the one the proxy
/// appended (earlier entries are the client's to forge). `None` when unknown.
pub fn client_ip(config: &ServerConfig, headers: &HeaderMap, ext: &Extensions) -> Option<IpAddr> {
    if config.behind_tls {
        return headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|a| a.trim().parse().ok());
    }
    ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Middleware: probes through; then authenticate, limit, read the body, take a slot.
pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let now = Instant::now();
    // Unknown addresses share one budget (fail closed) rather than escape the limit.
    let ip = client_ip(&state.config, &parts.headers, &parts.extensions)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    match authenticate(&state, &parts.headers, ip, now).await {
        Ok(Some((actor, digest))) => {
            crate::access::record_token(&parts.extensions, &actor, &digest);
            parts.extensions.insert(Authenticated(actor));
        }
        Ok(None) => {
            if let Err(wait) = state.edge.addresses.check(ip, now) {
                state.metrics.edge_refused(EdgeRefusal::AddressRate);
                return AppError::RateLimited(wait).into_response();
            }
        }
        Err(e) => return e.into_response(),
    }
    let reading = Reading::start(&state.edge.reading);
    let body = match read_body(&parts.headers, body, state.config.edge.body_timeout).await {
        Ok(b) => b,
        Err(e) => {
            match e {
                AppError::RequestTimeout => state.metrics.edge_refused(EdgeRefusal::BodyTimeout),
                AppError::TooLarge(_) => state.metrics.edge_refused(EdgeRefusal::BodyTooLarge),
                _ => {}
            }
            return close(e.into_response());
        }
    };
    drop(reading);
    let Some(_slot) = state.shed.admit(parts.uri.path()).await else {
        return AppError::Overloaded.into_response();
    };
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// The actor of the request's bearer token and its digest (`None` without one), refusing at once an
/// unknown token, a malformed header, or a token over its rate.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    ip: IpAddr,
    now: Instant,
) -> Result<Option<(Actor, [u8; 32])>, AppError> {
    let Some(header) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or(AppError::Unauthorized)?;
    let digest = auth::token_digest(token.trim());
    let clock = crate::now();
    let actor = match auth::cached(state, &digest, clock, now) {
        Some(answer) => answer?,
        None => {
            // A stranger's token costs the address's lookup budget; a real token's periodic
            // re-check (its cached lookup aged past `auth::RECHECK`) does not, or a flood
            // from a device's own address would lock the device out every few seconds.
            if !state.auth_cache.knows(&digest) {
                state.edge.lookups.check(ip, now).map_err(|wait| {
                    state.metrics.edge_refused(EdgeRefusal::LookupRate);
                    AppError::RateLimited(wait)
                })?;
            }
            // Few lookups run at once; the rest wait for a slot (a device's first burst,
            // every device reconnecting after a restart, a busy device's re-check) and the
            // first lookup of a token answers the others from the cache.
            let _slot = tokio::time::timeout(
                state.config.edge.queue_wait,
                state.edge.lookup_slots.acquire(),
            )
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| {
                state.metrics.edge_refused(EdgeRefusal::LookupsBusy);
                AppError::Overloaded
            })?;
            let at = Instant::now();
            match auth::cached(state, &digest, clock, at) {
                Some(answer) => answer?,
                None => auth::lookup(state, digest, clock, at).await?,
            }
        }
    };
    state.edge.tokens.check(digest, now).map_err(|wait| {
        state.metrics.edge_refused(EdgeRefusal::TokenRate);
        AppError::RateLimited(wait)
    })?;
    Ok(Some((actor, digest)))
}

/// The whole body, read within `deadline`: 413 past [`BODY_LIMIT`], 408 when the client is
/// too slow, 400 when it hangs up.
async fn read_body(headers: &HeaderMap, body: Body, deadline: Duration) -> Result<Bytes, AppError> {
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(deadline, Limited::new(body, BODY_LIMIT).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(AppError::bad(
            "body_incomplete",
            "the request body ended before its announced length",
        )),
        Err(_) => Err(AppError::RequestTimeout),
    }
}

fn too_large() -> AppError {
    AppError::TooLarge(format!("the body is larger than {BODY_LIMIT} bytes"))
}

/// Marks a response as the connection's last (its request's body was not read to the end).
fn close(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// How long a store check by `/readyz` is trusted: probes every second or so cost one
/// store read, however many orchestrators ask.
const STORE_CHECK_TTL: Duration = Duration::from_secs(1);
/// A store that does not answer a trivial read within this time is not ready.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /readyz`: 200 once the tracing index is loaded and the store answers; 503 otherwise,
/// and from the moment a shutdown begins.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Result<&'static str, AppError> {
    if state.edge.draining.load(Ordering::Acquire) {
        return Err(AppError::Unavailable {
            code: "draining",
            message: "the server is shutting down".into(),
        });
    }
    if !state.projection.tracing.is_ready() {
        return Err(AppError::Unavailable {
            code: "not_ready",
            message: "the tracing index is still loading".into(),
        });
    }
    if !store_reachable(&state).await {
        return Err(AppError::Unavailable {
            code: "store_unreachable",
            message: "the store does not answer".into(),
        });
    }
    Ok("ready")
}

async fn store_reachable(state: &AppState) -> bool {
    let fresh = |c: &Option<(Instant, bool)>| c.filter(|(at, _)| at.elapsed() < STORE_CHECK_TTL);
    if let Some((_, ok)) = fresh(
        &state
            .edge
            .store_checked
            .lock()
            .unwrap_or_else(|p| p.into_inner()),
    ) {
        return ok;
    }
    let store = state.store.clone();
    let check = tokio::task::spawn_blocking(move || store.setting(crate::state::ID_HASH_KEY));
    let ok = matches!(
        tokio::time::timeout(STORE_CHECK_TIMEOUT, check).await,
        Ok(Ok(Ok(_)))
    );
    if !ok {
        tracing::warn!("readiness: the store did not answer a trivial read");
    }
    *state
        .edge
        .store_checked
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), ok));
    ok
}
