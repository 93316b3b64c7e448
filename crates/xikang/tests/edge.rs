//! The HTTP edge under abuse (issue 14, defects 1, 2 and part of 8): stalled bodies and
//! headers, floods of made-up tokens, full lanes, rate limits, the access log and the
//! lookup page's headers. Stalled clients are raw sockets; every deadline the server must
//! enforce is set short in the test server, and every wait on the test side is a generous
//! upper bound, so no test depends on how fast the machine is.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failure should fail the test at once"
)]

mod common;

use common::{TestApp, spawn_app_with};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use xikang_server::ServerConfig;
use xikang_server::edge::EdgeConfig;
use xikang_server::limit::Rate;

/// Upper bound for anything the server must do "soon": far above any deadline configured
/// here, so only a server that never acts fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// A test server with these edge settings and the defaults for the rest.
async fn app_with(edge: EdgeConfig) -> TestApp {
    spawn_app_with(ServerConfig {
        edge,
        ..ServerConfig::default()
    })
    .await
}

/// Opens a socket and sends `bytes`, then leaves it open and silent.
async fn stall(app: &TestApp, bytes: &str) -> TcpStream {
    let mut s = TcpStream::connect(&app.addr).await.unwrap();
    s.write_all(bytes.as_bytes()).await.unwrap();
    s
}

/// `n` sockets that announce a 1,000-byte body to `path`, send a few bytes of it and stop.
async fn stalled_bodies(
    app: &TestApp,
    n: usize,
    path: &str,
    token: Option<&str>,
) -> Vec<TcpStream> {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"sc"
    );
    let mut socks = Vec::new();
    for _ in 0..n {
        socks.push(stall(app, &head).await);
    }
    // Wait until the server is reading every one of them: from here on, a slot held by a
    // stalled body would show.
    tokio::time::timeout(PATIENCE, async {
        while app.state.edge.bodies_in_flight() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the server reads the stalled bodies");
    socks
}

/// The first response on a socket (its status line), or "" if the server closed it.
async fn first_line(s: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, s.read(&mut buf))
        .await
        .expect("the server answers or closes")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_stalled_logins_leave_login_and_the_api_answering() {
    // Long body deadline: the stalled sockets stay stalled for the whole test.
    let app = app_with(EdgeConfig {
        body_timeout: PATIENCE * 2,
        ..EdgeConfig::default()
    })
    .await;
    let _stalled = stalled_bodies(&app, 40, "/web/login", None).await;
    let mut c = app.conn().await;
    assert_eq!(c.get("/web/login", None).await.unwrap().status, 200);
    let people = c
        .get("/api/v1/people?area=320200&limit=5", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(people.status, 200, "{}", people.text());
    assert_eq!(app.state.edge.bodies_in_flight(), 40, "still stalled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_and_forty_stalled_scans_leave_scans_codes_and_probes_answering() {
    let app = app_with(EdgeConfig {
        body_timeout: PATIENCE * 2,
        ..EdgeConfig::default()
    })
    .await;
    let device = app.device().await;
    // More stalled scans than the priority lane has slots (128 by default).
    let _stalled = stalled_bodies(&app, 140, "/api/v1/scans", Some(&device)).await;
    let token = app.code_token("P3").await;
    let (s, v) = app
        .post(
            &device,
            "/api/v1/scans",
            json!({"place_code": app.plain_venue(), "token": token}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = app.get(&app.admin, "/api/v1/people/P4/code").await;
    assert_eq!(s, 200, "{v}");
    let mut c = app.conn().await;
    assert_eq!(c.get("/healthz", None).await.unwrap().status, 200);
    assert_eq!(c.get("/readyz", None).await.unwrap().status, 200);
    assert_eq!(app.state.edge.bodies_in_flight(), 140, "still stalled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408_when_its_deadline_passes() {
    let app = app_with(EdgeConfig {
        body_timeout: Duration::from_millis(200),
        ..EdgeConfig::default()
    })
    .await;
    let mut socks = stalled_bodies(&app, 3, "/web/login", None).await;
    for s in &mut socks {
        assert!(first_line(s).await.contains(" 408 "), "408 Request Timeout");
    }
    assert_eq!(app.state.edge.bodies_in_flight(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_headers_are_cut_off_at_the_header_deadline_while_others_are_served() {
    let app = app_with(EdgeConfig {
        header_timeout: Duration::from_millis(300),
        ..EdgeConfig::default()
    })
    .await;
    let mut socks = Vec::new();
    for _ in 0..140 {
        socks.push(stall(&app, "POST /api/v1/scans HTTP/1.1\r\nHost: x\r\nContent-Le").await);
    }
    let mut c = app.conn().await;
    assert_eq!(c.get("/healthz", None).await.unwrap().status, 200);
    let (s, _) = app.get(&app.admin, "/api/v1/people/P4/code").await;
    assert_eq!(s, 200);
    for s in &mut socks {
        // Closed without a request having been made of it (hyper may say 408 first).
        let line = first_line(s).await;
        assert!(line.is_empty() || line.contains(" 408 "), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_made_up_tokens_is_refused_without_failing_a_real_device() {
    let app = app_with(EdgeConfig {
        lookup_rate: Rate::new(5, 20),
        ..EdgeConfig::default()
    })
    .await;
    let device = app.device().await;
    let mut real = app.conn().await;
    // The device is in service before the flood (its token is known to the server).
    assert_eq!(
        real.get("/api/v1/trust", Some(&device))
            .await
            .unwrap()
            .status,
        200
    );
    let flood: Vec<_> = (0..8)
        .map(|w| {
            let addr = app.addr.clone();
            tokio::spawn(async move {
                let mut c = xikang::httpc::Conn::connect(&addr).await.unwrap();
                let mut statuses = Vec::new();
                for i in 0..100 {
                    let bogus = format!("xk_bogus_{w}_{i}");
                    let r = c.get("/api/v1/people/P1/code", Some(&bogus)).await.unwrap();
                    statuses.push(r.status);
                }
                statuses
            })
        })
        .collect();
    let token = app.code_token("P5").await;
    let venue = app.plain_venue();
    for _ in 0..50 {
        let r = real
            .post_json(
                "/api/v1/scans",
                Some(&device),
                &json!({"place_code": venue, "token": token}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let mut statuses = Vec::new();
    for f in flood {
        statuses.extend(f.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429 | 503)),
        "no made-up token is ever served"
    );
    let limited = statuses.iter().filter(|s| **s == 429).count();
    // 800 distinct tokens against a budget of 20 + 5/s: most never reach the store.
    assert!(
        limited >= 500,
        "{limited} of 800 refused by the per-address limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_devices_first_burst_and_its_re_check_do_not_fail_its_requests() {
    // One lookup slot. Before the fix, the requests of a token not in the auth cache (a
    // device's first burst; any busy device every `auth::RECHECK`) raced for it, and all
    // but one were answered 503.
    let app = app_with(EdgeConfig {
        lookups_in_flight: 1,
        ..EdgeConfig::default()
    })
    .await;
    let device = app.device().await;
    let token = app.code_token("P5").await;
    let body = json!({"place_code": app.plain_venue(), "token": token});
    let mut conns = Vec::new();
    for _ in 0..32 {
        conns.push(app.conn().await);
    }
    let burst = |conns: Vec<xikang::httpc::Conn>| {
        let start = Arc::new(tokio::sync::Barrier::new(conns.len()));
        conns
            .into_iter()
            .map(|mut c| {
                let (device, body, start) = (device.clone(), body.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let status = c
                        .post_json("/api/v1/scans", Some(&device), &body)
                        .await
                        .unwrap()
                        .status;
                    (status, c)
                })
            })
            .collect::<Vec<_>>()
    };
    let mut again = Vec::new();
    for s in burst(conns) {
        let (status, c) = s.await.unwrap();
        assert_eq!(status, 200, "a scan of the device's first burst refused");
        again.push(c);
    }
    // At least the re-check interval later (a lower bound: sleeping longer only makes the
    // cached lookup staler), every connection scans at once again.
    tokio::time::sleep(xikang_server::auth::RECHECK + Duration::from_millis(100)).await;
    for s in burst(again) {
        assert_eq!(
            s.await.unwrap().0,
            200,
            "a scan refused during the re-check"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_while_both_lanes_are_full() {
    let app = spawn_app_with(ServerConfig {
        priority_permits: 1,
        other_permits: 1,
        edge: EdgeConfig {
            queue_wait: Duration::ZERO,
            ..EdgeConfig::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let _priority = app.state.shed.try_admit("/api/v1/scans").unwrap();
    let _other = app.state.shed.try_admit("/api/v1/cases").unwrap();
    let mut c = app.conn().await;
    let shed = c
        .get("/api/v1/people/P4/code", Some(&app.admin))
        .await
        .unwrap();
    assert_eq!(shed.status, 503, "the lanes are full");
    assert_eq!(c.get("/healthz", None).await.unwrap().status, 200);
    let ready = c.get("/readyz", None).await.unwrap();
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.text(), "ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_rate_gets_429_while_another_token_is_served() {
    let app = app_with(EdgeConfig {
        token_rate: Rate::new(1, 3),
        ..EdgeConfig::default()
    })
    .await;
    let device = app.device().await;
    let mut c = app.conn().await;
    for n in 0..3 {
        let r = c.get("/api/v1/trust", Some(&device)).await.unwrap();
        assert_eq!(r.status, 200, "request {n} of the burst is served");
    }
    let over = c.get("/api/v1/trust", Some(&device)).await.unwrap();
    assert_eq!(over.status, 429);
    assert_eq!(over.json()["error"]["code"], "rate_limited");
    assert!(over.header("retry-after").is_some());
    assert_eq!(
        c.get("/api/v1/trust", Some(&app.admin))
            .await
            .unwrap()
            .status,
        200,
        "another token has its own budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_requests_are_limited_per_address_but_tokens_are_not() {
    let app = app_with(EdgeConfig {
        address_rate: Rate::new(1, 3),
        ..EdgeConfig::default()
    })
    .await;
    let mut c = app.conn().await;
    for _ in 0..3 {
        assert_eq!(c.get("/api/v1/trust", None).await.unwrap().status, 200);
    }
    assert_eq!(c.get("/api/v1/trust", None).await.unwrap().status, 429);
    assert_eq!(
        c.get("/api/v1/trust", Some(&app.admin))
            .await
            .unwrap()
            .status,
        200,
        "a token is limited per token, not per address"
    );
    assert_eq!(c.get("/healthz", None).await.unwrap().status, 200);
}

/// Everything the server logs, captured once for this test binary.
fn captured_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("xikang::access=info"))
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_logged_with_its_route_template_and_an_opaque_actor() {
    let log = captured_log();
    let app = spawn_app_with(ServerConfig::default()).await;
    let (s, _) = app.get(&app.admin, "/api/v1/people/P317/code").await;
    assert_eq!(s, 200);
    let (s, _) = app.get("xk_nobody", "/api/v1/people/P318").await;
    assert_eq!(s, 401);
    let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("route=/api/v1/people/{id}/code") && l.contains("status=200"))
        .unwrap_or_else(|| panic!("no access line for the code read in:\n{text}"));
    assert!(line.contains("xikang::access"), "{line}");
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("role=admin"), "{line}");
    // The admin token's id: the first twelve hex digits of its SHA-256.
    let id: String = xikang_server::auth::token_digest(&app.admin)[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(line.contains(&format!("token:{id}")), "{line}");
    assert!(line.contains("micros="), "{line}");
    let refused = text
        .lines()
        .find(|l| l.contains("route=/api/v1/people/{id} ") && l.contains("status=401"))
        .unwrap_or_else(|| panic!("no access line for the refused read in:\n{text}"));
    assert!(refused.contains("actor=-"), "{refused}");
    assert!(
        !text.contains("P317") && !text.contains("P318"),
        "ids never logged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_page_has_the_security_headers_and_one_answer_for_unknown_and_elsewhere() {
    let app = spawn_app_with(ServerConfig::default()).await;
    let districts = app.districts();
    let (home, elsewhere) = (&districts[0], &districts[1]);
    let tracer = app.role_token("t", "tracer", home).await;
    let outside = app.residents_of(elsewhere)[0];
    let mut c = app.conn().await;
    let index = c.get("/", None).await.unwrap();
    let lookup = |person: String| {
        let body = format!("token={tracer}&person={person}");
        let addr = app.addr.clone();
        async move {
            xikang::httpc::Conn::connect(&addr)
                .await
                .unwrap()
                .request(
                    "POST",
                    "/lookup",
                    None,
                    Some("application/x-www-form-urlencoded"),
                    body.as_bytes(),
                )
                .await
                .unwrap()
        }
    };
    let mine = lookup(format!("P{}", app.residents_of(home)[0])).await;
    let other = lookup(format!("P{outside}")).await;
    let missing = lookup("P999999".into()).await;
    for r in [&index, &mine, &other, &missing] {
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
    assert!(
        mine.text().contains("<svg"),
        "a visible person's code is shown"
    );
    assert!(!other.text().contains("<svg"));
    assert_eq!(
        other.text(),
        missing.text(),
        "elsewhere reads like no such person"
    );
}
