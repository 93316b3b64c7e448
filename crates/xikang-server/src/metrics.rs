//! Metrics for operators: `GET /metrics` in the Prometheus text format (version 0.0.4).
//!
//! What is counted: requests by route template and status with their latency, the scan
//! writer's group commits (latency, group size, failures, queue), refusals at the edge and
//! by the shedder, the tracing index (ready, size, load time), the sweep's durations and the
//! store's reader pool. Counts and durations only: a label is a route template from the
//! router (never a path with its ids), a status code, a lane or a fixed reason, so nothing
//! here can carry personal data.
//!
//! The hot path (every request; the scan path runs at tens of thousands a second) costs a
//! few relaxed atomic adds: no lock, no allocation. Route templates are interned in a fixed
//! open-addressing table the first time they are seen ([`RouteTable`]); after that, a
//! lookup is a hash of the template and an atomic load. Everything else is read when
//! `/metrics` is scraped. Hand-written rather than a crate: see docs/decisions.md
//! ("Metrics: hand-written exposition").
//!
//! Who may read it: [`MetricsAccess`] (docs/metrics.md). Fail closed: behind the TLS proxy
//! and without a token, nobody.

use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bounds of the request latency buckets, in microseconds.
const LATENCY_MICROS: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// Upper bounds of the scan commit group sizes (check-ins in one transaction).
const GROUP_SIZES: [u64; 12] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 5_000, 20_000];

/// Upper bounds of the sweep's durations, in microseconds.
const SWEEP_MICROS: [u64; 8] = [
    10_000,
    50_000,
    100_000,
    500_000,
    1_000_000,
    5_000_000,
    30_000_000,
    120_000_000,
];

/// Status codes counted on their own; any other is counted as `other`.
const STATUSES: [u16; 24] = [
    200, 201, 202, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405, 406, 408, 409, 413, 415, 422,
    429, 500, 502, 503, 504,
];

/// Distinct route templates remembered; beyond that they are counted under `other`.
/// The router has about 150 routes.
const ROUTE_SLOTS: usize = 512;

/// A histogram over fixed bucket bounds: one atomic per bucket (not cumulative; summed when
/// rendered) and one for the sum. `N` is the number of finite bounds; the last slot is +Inf.
#[derive(Debug)]
pub struct Histogram<const N: usize> {
    bounds: &'static [u64; N],
    buckets: [AtomicU64; N],
    inf: AtomicU64,
    sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    const fn new(bounds: &'static [u64; N]) -> Self {
        Histogram {
            bounds,
            buckets: [const { AtomicU64::new(0) }; N],
            inf: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    /// Counts one observation of `v` (in the histogram's unit): two relaxed atomic adds.
    pub fn observe(&self, v: u64) {
        match self.bounds.iter().position(|b| v <= *b) {
            Some(i) => self.buckets[i].fetch_add(1, Ordering::Relaxed),
            None => self.inf.fetch_add(1, Ordering::Relaxed),
        };
        self.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// Renders the `_bucket`, `_sum` and `_count` series; `scale` divides the unit for the
    /// exposition (1e6 for microseconds as seconds), `labels` are prepended (`route="…",`).
    fn render(&self, out: &mut String, name: &str, labels: &str, scale: f64) {
        let mut cumulative = 0;
        for (b, n) in self.bounds.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let le = *b as f64 / scale;
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.inf.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {cumulative}");
        let sum = self.sum.load(Ordering::Relaxed) as f64 / scale;
        let bare = labels.trim_end_matches(',');
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(bare));
        let _ = writeln!(out, "{name}_count{} {cumulative}", braces(bare));
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum::<u64>()
            + self.inf.load(Ordering::Relaxed)
    }
}

/// One route template's counters.
#[derive(Debug)]
struct RouteSlot {
    name: OnceLock<Box<str>>,
    statuses: [AtomicU64; STATUSES.len() + 1],
    latency: Histogram<{ LATENCY_MICROS.len() }>,
}

impl RouteSlot {
    fn new() -> Self {
        RouteSlot {
            name: OnceLock::new(),
            statuses: [const { AtomicU64::new(0) }; STATUSES.len() + 1],
            latency: Histogram::new(&LATENCY_MICROS),
        }
    }
}

/// Route templates interned on first sight into a fixed table (open addressing): lookups
/// are lock-free and allocation-free; a template's name is allocated once.
#[derive(Debug)]
struct RouteTable {
    slots: Box<[RouteSlot]>,
    /// Requests whose template did not fit (never expected: the router is finite).
    overflow: RouteSlot,
}

/// FNV-1a: a few nanoseconds for a route template, and no per-process key needed (the
/// keys are our own route templates, not attacker input).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl RouteTable {
    fn new() -> Self {
        RouteTable {
            slots: (0..ROUTE_SLOTS).map(|_| RouteSlot::new()).collect(),
            overflow: RouteSlot::new(),
        }
    }

    fn slot(&self, route: &str) -> &RouteSlot {
        let start = fnv1a(route) as usize % ROUTE_SLOTS;
        for i in 0..ROUTE_SLOTS {
            let slot = &self.slots[(start + i) % ROUTE_SLOTS];
            let name = match slot.name.get() {
                Some(n) => n,
                // First sight: claim the empty slot (another thread may claim it first,
                // with this template or another; either way, compare with the winner).
                None => slot.name.get_or_init(|| route.into()),
            };
            if **name == *route {
                return slot;
            }
        }
        &self.overflow
    }
}

/// Why the edge refused a request before it reached a lane ([`crate::edge`]).
#[derive(Debug, Clone, Copy)]
pub enum EdgeRefusal {
    /// A known bearer token over its rate (429).
    TokenRate,
    /// A request without a token over its address's rate (429).
    AddressRate,
    /// An uncached token over its address's lookup budget (429).
    LookupRate,
    /// Too many uncached tokens being looked up at once (503).
    LookupsBusy,
    /// The body did not arrive within its deadline (408).
    BodyTimeout,
    /// The body was larger than the limit (413).
    BodyTooLarge,
}

const EDGE_REASONS: [&str; 6] = [
    "token_rate",
    "address_rate",
    "lookup_rate",
    "lookups_busy",
    "body_timeout",
    "body_too_large",
];

/// Every counter and histogram of the server that is not read from elsewhere at scrape time.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    start_unix: f64,
    routes: RouteTable,
    edge_refused: [AtomicU64; EDGE_REASONS.len()],
    /// Group commits of the scan writer: latency (µs) and check-ins per group.
    pub scan_commit: Histogram<{ LATENCY_MICROS.len() }>,
    pub scan_group: Histogram<{ GROUP_SIZES.len() }>,
    pub scan_commit_failures: AtomicU64,
    /// Jobs (scan requests) waiting for the writer.
    pub scan_queue: AtomicU64,
    /// Sweep passes: duration (µs) and failures.
    pub sweep: Histogram<{ SWEEP_MICROS.len() }>,
    pub sweep_failures: AtomicU64,
    /// How long the tracing index took to load (µs); 0 until loaded.
    pub index_load_micros: AtomicU64,
    /// The index's size when last seen unlocked (check-ins, bytes).
    index_checkins: AtomicU64,
    index_bytes: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty counters; uptime counts from now.
    pub fn new() -> Metrics {
        let start_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Metrics {
            started: Instant::now(),
            start_unix,
            routes: RouteTable::new(),
            edge_refused: [const { AtomicU64::new(0) }; EDGE_REASONS.len()],
            scan_commit: Histogram::new(&LATENCY_MICROS),
            scan_group: Histogram::new(&GROUP_SIZES),
            scan_commit_failures: AtomicU64::new(0),
            scan_queue: AtomicU64::new(0),
            sweep: Histogram::new(&SWEEP_MICROS),
            sweep_failures: AtomicU64::new(0),
            index_load_micros: AtomicU64::new(0),
            index_checkins: AtomicU64::new(0),
            index_bytes: AtomicU64::new(0),
        }
    }

    /// Counts a finished request: its route template (`None`: no route matched), status
    /// and latency. Three relaxed atomic adds once the template has been seen.
    pub fn request(&self, route: Option<&str>, status: u16, elapsed: Duration) {
        let slot = self.routes.slot(route.unwrap_or("-"));
        let s = STATUSES
            .iter()
            .position(|c| *c == status)
            .unwrap_or(STATUSES.len());
        slot.statuses[s].fetch_add(1, Ordering::Relaxed);
        slot.latency.observe(micros(elapsed));
    }

    /// Counts a refusal at the edge.
    pub fn edge_refused(&self, why: EdgeRefusal) {
        self.edge_refused[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Renders every metric of `state` in the Prometheus text format.
    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::with_capacity(64 * 1024);
        let o = &mut out;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        family(o, "xikang_build_info", "gauge", "The running version.");
        let _ = writeln!(
            o,
            "xikang_build_info{{version=\"{}\",backend=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            state.store.backend()
        );
        single(
            o,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
            self.start_unix,
        );
        single(
            o,
            "xikang_uptime_seconds",
            "gauge",
            "Seconds since start.",
            self.started.elapsed().as_secs_f64(),
        );

        self.render_routes(o);

        family(
            o,
            "xikang_edge_refused_total",
            "counter",
            "Requests refused at the edge before taking a lane slot, by reason.",
        );
        for (reason, c) in EDGE_REASONS.iter().zip(&self.edge_refused) {
            let _ = writeln!(
                o,
                "xikang_edge_refused_total{{reason=\"{reason}\"}} {}",
                n(c)
            );
        }
        single(
            o,
            "xikang_edge_bodies_in_flight",
            "gauge",
            "Request bodies being read (holding no slot).",
            state.edge.bodies_in_flight(),
        );
        let shed = state.shed.stats();
        type LaneValue = fn(&crate::shed::LaneStats) -> u64;
        let lanes: [(&str, &str, &str, LaneValue); 3] = [
            (
                "xikang_shed_refused_total",
                "counter",
                "Requests refused with 503 because their lane stayed full, by lane.",
                |l| l.refused,
            ),
            (
                "xikang_lane_in_use",
                "gauge",
                "Requests holding a slot of their lane.",
                |l| l.in_use as u64,
            ),
            ("xikang_lane_slots", "gauge", "Slots of each lane.", |l| {
                l.slots as u64
            }),
        ];
        for (name, kind, help, value) in lanes {
            family(o, name, kind, help);
            for lane in &shed.lanes {
                let _ = writeln!(o, "{name}{{lane=\"{}\"}} {}", lane.name, value(lane));
            }
        }
        single(
            o,
            "xikang_shed_waiting",
            "gauge",
            "Requests waiting for a slot.",
            shed.waiting,
        );

        family(
            o,
            "xikang_scan_commit_duration_seconds",
            "histogram",
            "Duration of the scan writer's group commits (one transaction each).",
        );
        self.scan_commit
            .render(o, "xikang_scan_commit_duration_seconds", "", 1e6);
        family(
            o,
            "xikang_scan_commit_group_size",
            "histogram",
            "Check-ins written per group commit.",
        );
        self.scan_group
            .render(o, "xikang_scan_commit_group_size", "", 1.0);
        single(
            o,
            "xikang_scan_commit_failures_total",
            "counter",
            "Group commits that failed (their scans were answered 500).",
            n(&self.scan_commit_failures),
        );
        single(
            o,
            "xikang_scan_queue_jobs",
            "gauge",
            "Scan requests waiting for the writer.",
            n(&self.scan_queue),
        );

        // Never wait for the index: an append that merges a segment holds it for a while.
        let tracing = &state.projection.tracing;
        if let Ok(live) = tracing.live.try_lock() {
            self.index_checkins
                .store(live.index.len() as u64, Ordering::Relaxed);
            self.index_bytes
                .store(live.index.heap_bytes() as u64, Ordering::Relaxed);
        }
        single(
            o,
            "xikang_tracing_index_ready",
            "gauge",
            "1 once the tracing index holds every stored check-in.",
            u8::from(tracing.is_ready()),
        );
        single(
            o,
            "xikang_tracing_index_checkins",
            "gauge",
            "Check-ins in the tracing index.",
            n(&self.index_checkins),
        );
        single(
            o,
            "xikang_tracing_index_bytes",
            "gauge",
            "Heap bytes of the tracing index.",
            n(&self.index_bytes),
        );
        single(
            o,
            "xikang_tracing_index_load_seconds",
            "gauge",
            "How long loading the tracing index took at start (0 until loaded).",
            n(&self.index_load_micros) as f64 / 1e6,
        );
        single(
            o,
            "xikang_ping_index_ready",
            "gauge",
            "1 once the location-ping index (companions) holds every stored ping; it loads after the tracing index.",
            u8::from(tracing.pings.is_ready()),
        );

        family(
            o,
            "xikang_sweep_duration_seconds",
            "histogram",
            "Duration of the periodic sweep (missed reports and tests, rounds, zones).",
        );
        self.sweep
            .render(o, "xikang_sweep_duration_seconds", "", 1e6);
        single(
            o,
            "xikang_sweep_failures_total",
            "counter",
            "Sweeps that failed.",
            n(&self.sweep_failures),
        );

        let pool = state.store.pool_stats();
        family(
            o,
            "xikang_db_pool_connections",
            "gauge",
            "Reader connections of the store's pool, by state.",
        );
        let _ = writeln!(
            o,
            "xikang_db_pool_connections{{state=\"idle\"}} {}",
            pool.idle
        );
        let _ = writeln!(
            o,
            "xikang_db_pool_connections{{state=\"in_use\"}} {}",
            pool.in_use
        );
        single(
            o,
            "xikang_db_pool_opened_total",
            "counter",
            "Reader connections opened since start (a pool that keeps opening is too small).",
            pool.opened,
        );
        out
    }

    fn render_routes(&self, o: &mut String) {
        let seen: Vec<(&str, &RouteSlot)> = self
            .routes
            .slots
            .iter()
            .filter_map(|s| s.name.get().map(|n| (&**n, s)))
            .chain(std::iter::once(("other", &self.routes.overflow)))
            .collect();
        family(
            o,
            "xikang_http_requests_total",
            "counter",
            "Requests answered, by route template and status (route \"-\": no route matched).",
        );
        for (route, slot) in &seen {
            let route = escape(route);
            for (i, n) in slot.statuses.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let status = STATUSES
                    .get(i)
                    .map_or_else(|| "other".to_owned(), u16::to_string);
                let _ = writeln!(
                    o,
                    "xikang_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        family(
            o,
            "xikang_http_request_duration_seconds",
            "histogram",
            "Time from the request's head to its response, by route template.",
        );
        for (route, slot) in &seen {
            if slot.latency.count() == 0 {
                continue;
            }
            let labels = format!("route=\"{}\",", escape(route));
            slot.latency
                .render(o, "xikang_http_request_duration_seconds", &labels, 1e6);
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Writes a family's `# HELP` and `# TYPE` lines.
fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// Writes a family of one unlabelled sample.
fn single(o: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(o, name, kind, help);
    let _ = writeln!(o, "{name} {value}");
}

/// A label value as the text format wants it (route templates have no quotes, but a
/// metric must never break its own exposition).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Who may read `/metrics` (docs/metrics.md). Decided once at start from the settings.
#[derive(Clone)]
pub enum MetricsAccess {
    /// Requests whose TCP peer is a loopback address (the default when the server is not
    /// behind a proxy: a proxy on the same host would make every client loopback).
    Loopback,
    /// Requests with `Authorization: Bearer <token>`; the token's SHA-256 is kept.
    Token([u8; 32]),
    /// Nobody (behind the TLS proxy without a token: fail closed).
    Closed,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MetricsAccess::Loopback => "Loopback",
            MetricsAccess::Token(_) => "Token(..)",
            MetricsAccess::Closed => "Closed",
        })
    }
}

impl MetricsAccess {
    /// The rule for these settings: a token when one is configured; otherwise loopback
    /// peers, unless behind the TLS proxy (then nobody).
    pub fn new(token: Option<&str>, behind_tls: bool) -> MetricsAccess {
        match token.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => MetricsAccess::Token(Sha256::digest(t.as_bytes()).into()),
            None if behind_tls => MetricsAccess::Closed,
            None => MetricsAccess::Loopback,
        }
    }

    fn allows(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> bool {
        match self {
            MetricsAccess::Loopback => peer.is_some_and(|p| p.ip().is_loopback()),
            MetricsAccess::Token(want) => headers
                .get(header::AUTHORIZATION)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.strip_prefix("Bearer "))
                // Digests compared, not tokens: the time a comparison takes says nothing
                // about the token.
                .is_some_and(|t| Sha256::digest(t.trim().as_bytes()).as_slice() == want),
            MetricsAccess::Closed => false,
        }
    }
}

/// `GET /metrics`: the exposition, or 403 `forbidden` for anyone the configured
/// [`MetricsAccess`] does not let in.
pub async fn get_metrics(
    State(state): State<std::sync::Arc<AppState>>,
    req: axum::extract::Request,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !state.config.metrics_access.allows(req.headers(), peer) {
        return crate::error::AppError::Forbidden(
            "reading /metrics takes a loopback client or the metrics token (docs/metrics.md)",
        )
        .into_response();
    }
    let body = state.metrics.render(&state);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_interned_once_and_counted_by_status() {
        let m = Metrics::new();
        for _ in 0..3 {
            m.request(Some("/api/v1/scans"), 200, Duration::from_micros(700));
        }
        m.request(Some("/api/v1/scans"), 503, Duration::from_millis(3));
        m.request(Some("/api/v1/people/{id}"), 299, Duration::from_millis(3));
        let named: Vec<&str> = m
            .routes
            .slots
            .iter()
            .filter_map(|s| s.name.get().map(|n| &**n))
            .collect();
        assert_eq!(named.len(), 2, "{named:?}");
        let scans = m.routes.slot("/api/v1/scans");
        assert_eq!(scans.statuses[0].load(Ordering::Relaxed), 3);
        assert_eq!(scans.latency.count(), 4);
        let other = m.routes.slot("/api/v1/people/{id}");
        assert_eq!(other.statuses[STATUSES.len()].load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_full_route_table_counts_the_rest_as_other_without_growing() {
        let m = Metrics::new();
        for i in 0..ROUTE_SLOTS + 10 {
            m.request(Some(&format!("/r{i}")), 200, Duration::ZERO);
        }
        assert_eq!(
            m.routes.overflow.statuses[0].load(Ordering::Relaxed),
            10,
            "the ten that did not fit"
        );
    }

    #[test]
    fn histogram_buckets_render_cumulatively_with_inf_equal_to_count() {
        static B: [u64; 3] = [1, 10, 100];
        let h = Histogram::new(&B);
        for v in [0, 1, 5, 50, 500, 5000] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "", 1.0);
        assert_eq!(
            out,
            "x_bucket{le=\"1\"} 2\nx_bucket{le=\"10\"} 3\nx_bucket{le=\"100\"} 4\n\
             x_bucket{le=\"+Inf\"} 6\nx_sum 5556\nx_count 6\n"
        );
    }

    #[test]
    fn access_is_closed_behind_the_proxy_without_a_token_and_token_only_with_one() {
        let loopback: SocketAddr = "127.0.0.1:5000".parse().unwrap_or_else(|_| unreachable!());
        let remote: SocketAddr = "203.0.113.9:5000"
            .parse()
            .unwrap_or_else(|_| unreachable!());
        let none = HeaderMap::new();
        let mut good = HeaderMap::new();
        good.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        let mut bad = HeaderMap::new();
        bad.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cre"),
        );

        let open = MetricsAccess::new(None, false);
        assert!(open.allows(&none, Some(loopback)));
        assert!(!open.allows(&none, Some(remote)));
        assert!(!open.allows(&none, None), "unknown peer: refused");

        let proxied = MetricsAccess::new(None, true);
        assert!(
            !proxied.allows(&none, Some(loopback)),
            "the proxy is loopback"
        );
        assert!(!proxied.allows(&good, Some(loopback)));

        let token = MetricsAccess::new(Some("s3cret\n"), true);
        assert!(token.allows(&good, Some(remote)));
        assert!(!token.allows(&bad, Some(loopback)));
        assert!(
            !token.allows(&none, Some(loopback)),
            "a token replaces loopback"
        );
        assert_eq!(format!("{token:?}"), "Token(..)");
    }
}
