//! Operating xikang (issue 20, parts 1, 2 and 7): `/metrics` parses strictly and moves with
//! load, and only the configured readers get it; SIGTERM drains a scan load and loses
//! nothing acknowledged; JSON logs parse line by line and text logs carry no escape codes
//! off a terminal; the configuration file sits under the environment and the flags; a
//! taken port is reported before a city is generated; a restart neither re-mints the admin
//! token nor leaves the admin password a mystery; the Debian package and its systemd unit.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failure should fail the test at once"
)]

mod common;
#[path = "common/prom.rs"]
mod prom;

use common::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use xikang::httpc::Conn;
use xikang_server::ServerConfig;
use xikang_server::metrics::MetricsAccess;
use xikang_store::Target;

fn xikang() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xikang"))
}

/// Scrapes `/metrics` with an optional bearer token: the status and the body.
async fn scrape(addr: &str, token: Option<&str>) -> (u16, String, Option<String>) {
    let mut c = Conn::connect(addr).await.unwrap();
    let r = c.get("/metrics", token).await.unwrap();
    (
        r.status,
        r.text(),
        r.header("content-type").map(str::to_owned),
    )
}

async fn metrics(addr: &str) -> prom::Scrape {
    let (s, body, kind) = scrape(addr, None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        kind.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    prom::parse(&body).unwrap_or_else(|e| panic!("/metrics does not parse: {e}\n{body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_strictly_and_move_with_scans_by_route_template() {
    let app = spawn_app().await;
    let before = metrics(&app.addr).await;
    assert_eq!(before.get("xikang_tracing_index_ready", &[]), Some(1.0));
    // The ping index loads after the check-ins: ready or not, it is reported.
    assert!(matches!(
        before.get("xikang_ping_index_ready", &[]),
        Some(v) if v == 0.0 || v == 1.0
    ));
    assert!(before.get("xikang_tracing_index_checkins", &[]).unwrap() > 0.0);
    assert!(
        before
            .get("xikang_tracing_index_load_seconds", &[])
            .unwrap()
            > 0.0
    );

    let device = app.device().await;
    let place = app.plain_venue();
    let mut tokens = Vec::new();
    for p in 0..10 {
        let (s, v) = app
            .get(&app.admin, &format!("/api/v1/people/P{p}/code"))
            .await;
        assert_eq!(s, 200, "{v}");
        tokens.push(v["token"].as_str().unwrap().to_owned());
    }
    let mut allowed = 0;
    for t in tokens.iter().cycle().take(30) {
        let (s, v) = app
            .post(
                &device,
                "/api/v1/scans",
                json!({"place_code": place, "token": t}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        allowed += u32::from(v["decision"] == "allow");
    }
    assert!(
        allowed > 0,
        "no scan was let in: nothing would be committed"
    );
    let (s, _) = app
        .get("xk_made_up_token_1234567890", "/api/v1/cases")
        .await;
    assert_eq!(s, 401);
    // Paths no route matches carry their ids too: they must not reach a label either.
    assert_eq!(app.get(&app.admin, "/api/v1/nothing/P77x").await.0, 404);
    assert_eq!(app.get(&app.admin, "/nothing/P77y").await.0, 404);
    let (s, v) = app
        .post(&app.admin, "/api/v1/duties/sweep", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");

    let after = metrics(&app.addr).await;
    let scans = |m: &prom::Scrape| {
        m.get(
            "xikang_http_requests_total",
            &[("route", "/api/v1/scans"), ("status", "200")],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(scans(&after) - scans(&before), 30.0);
    let codes = after.sum(
        "xikang_http_requests_total",
        &[("route", "/api/v1/people/{id}/code")],
    );
    assert!(codes >= 10.0, "code displays counted by template: {codes}");
    assert!(
        after.sum(
            "xikang_http_requests_total",
            &[("route", "/api/v1/cases"), ("status", "401")]
        ) >= 1.0
    );
    assert!(
        after.get(
            "xikang_http_request_duration_seconds_count",
            &[("route", "/api/v1/scans")]
        ) >= Some(30.0)
    );
    // Group commits: at least one more, and the rows written grew by the scans let in.
    let commits = |m: &prom::Scrape| m.get("xikang_scan_commit_duration_seconds_count", &[]);
    assert!(commits(&after) > commits(&before));
    let rows = |m: &prom::Scrape| m.get("xikang_scan_commit_group_size_sum", &[]).unwrap();
    assert_eq!(rows(&after) - rows(&before), f64::from(allowed));
    assert_eq!(after.get("xikang_scan_queue_jobs", &[]), Some(0.0));
    let sweeps = |m: &prom::Scrape| m.get("xikang_sweep_duration_seconds_count", &[]).unwrap();
    assert_eq!(sweeps(&after) - sweeps(&before), 1.0);
    assert!(
        after.get(
            "xikang_http_requests_total",
            &[("route", "-"), ("status", "404")]
        ) >= Some(2.0),
        "unmatched paths are counted under the route \"-\""
    );
    assert!(after.get("xikang_db_pool_opened_total", &[]).unwrap() >= 1.0);
    for lane in ["priority", "other"] {
        assert!(after.get("xikang_lane_slots", &[("lane", lane)]).unwrap() >= 1.0);
    }
    // Never a path with its ids: every route label is a template or "-".
    for (_, labels) in after.samples.keys() {
        if let Some(route) = labels.get("route") {
            assert!(
                !route.contains("/P") && !route.contains("P77") && !route.contains("xk_"),
                "a raw path in a label: {route}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_closed_behind_the_proxy_and_token_only_when_a_token_is_set() {
    let proxied = spawn_app_with(ServerConfig {
        behind_tls: true,
        metrics_access: MetricsAccess::new(None, true),
        ..ServerConfig::default()
    })
    .await;
    let (s, body, _) = scrape(&proxied.addr, None).await;
    assert_eq!(
        s, 403,
        "a loopback peer behind the proxy is the proxy: {body}"
    );
    assert!(
        body.contains("\"forbidden\"") && body.contains("/metrics"),
        "{body}"
    );
    let (s, _, _) = scrape(&proxied.addr, Some(&proxied.admin)).await;
    assert_eq!(s, 403, "an admin API token is not the metrics token");

    let token = "metrics-0123456789abcdef";
    let guarded = spawn_app_with(ServerConfig {
        metrics_access: MetricsAccess::new(Some(token), false),
        ..ServerConfig::default()
    })
    .await;
    assert_eq!(scrape(&guarded.addr, None).await.0, 403);
    assert_eq!(scrape(&guarded.addr, Some("metrics-wrong")).await.0, 403);
    let (s, body, _) = scrape(&guarded.addr, Some(token)).await;
    assert_eq!(s, 200);
    prom::parse(&body).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_and_liveness_differ_once_a_shutdown_begins() {
    let app = spawn_app().await;
    let mut c = Conn::connect(&app.addr).await.unwrap();
    assert_eq!(c.get("/readyz", None).await.unwrap().status, 200);
    app.state.edge.start_draining();
    let r = c.get("/readyz", None).await.unwrap();
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (503, Some("draining"))
    );
    assert_eq!(
        c.get("/healthz", None).await.unwrap().status,
        200,
        "still alive"
    );
}

/// The metric names a dashboard's queries use.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("xikang_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_grafana_dashboard_queries_exists() {
    let app = spawn_app().await;
    let _ = app.get(&app.admin, "/api/v1/cases").await;
    let scrape = metrics(&app.addr).await;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana-dashboard.json"
    ))
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(exprs.len() >= 10, "{exprs:?}");
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{expr}");
        for n in names {
            let known = scrape.types.contains_key(&n)
                || ["_bucket", "_sum", "_count"].iter().any(|s| {
                    n.strip_suffix(s)
                        .is_some_and(|b| scrape.types.contains_key(b))
                });
            assert!(
                known,
                "the dashboard queries {n}, which /metrics does not have"
            );
        }
    }
}

/// Sends SIGTERM (or another signal) to a child by its pid.
fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} failed");
}

/// Starts `xikang serve` on `dir` with extra environment; waits until it listens. Its
/// stderr is collected by a thread and handed back by the join handle.
fn start_server(
    dir: &std::path::Path,
    admin: &str,
    env: &[(&str, &str)],
) -> (Child, String, std::thread::JoinHandle<String>) {
    let mut cmd = xikang();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--token-rate", "0"])
        .args(["--admin-token", admin, "--data"])
        .arg(dir)
        .env_remove("XIKANG_LOG_FORMAT")
        .env("XIKANG_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("xikang serving on http://") {
            addr = Some(rest.trim_end_matches('/').to_owned());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let addr = addr.expect("the server did not start");
    (child, addr, stderr)
}

#[test]
fn sigterm_during_a_scan_load_drains_it_loses_nothing_acknowledged_and_exits_0() {
    let dir = city_dir();
    let admin = "xk_test_admin_sigterm";
    let (mut child, addr, stderr) = start_server(dir.path(), admin, &[]);
    let places = plain_places(dir.path(), 40);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (status, acked) = rt.block_on(async {
        // Batches of 20: more rows in flight when the signal lands.
        let (tasks, acked) = start_scan_load(&addr, admin, places, 20).await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        signal(&child, "TERM");
        let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap();
        for t in tasks {
            let _ = t.await;
        }
        (status, acked)
    });
    let log = stderr.join().unwrap();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM\n{log}");
    assert!(
        log.contains("signal=\"SIGTERM\"") || log.contains("signal=SIGTERM"),
        "{log}"
    );
    assert!(log.contains("scans and access records flushed"), "{log}");
    assert_no_acknowledged_scan_lost(dir.path(), &acked, 100);
}

#[test]
fn sigint_also_shuts_down_gracefully_with_exit_0() {
    let dir = city_dir();
    let (mut child, _addr, stderr) = start_server(dir.path(), "xk_test_admin_sigint", &[]);
    signal(&child, "INT");
    let status = child.wait().unwrap();
    let log = stderr.join().unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("scans and access records flushed"), "{log}");
}

#[test]
fn json_logs_parse_line_by_line_and_text_logs_carry_no_escape_codes_off_a_terminal() {
    let dir = city_dir();
    for format in ["json", "text"] {
        let (mut child, addr, stderr) = start_server(
            dir.path(),
            "xk_test_admin_logs",
            &[("XIKANG_LOG_FORMAT", format)],
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut c = Conn::connect(&addr).await.unwrap();
            assert_eq!(c.get("/healthz", None).await.unwrap().status, 200);
            let r = c
                .get("/api/v1/people/P3/code", Some("xk_test_admin_logs"))
                .await
                .unwrap();
            assert_eq!(r.status, 200);
        });
        signal(&child, "TERM");
        assert!(child.wait().unwrap().success());
        let log = stderr.join().unwrap();
        assert!(
            !log.contains('\u{1b}'),
            "{format}: escape codes in a pipe: {log:?}"
        );
        assert!(log.lines().count() >= 3, "{log}");
        if format == "json" {
            let mut access = 0;
            for line in log.lines() {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                assert!(
                    v["level"].is_string() && v["timestamp"].is_string(),
                    "{line}"
                );
                if v["target"] == "xikang::access" {
                    access += 1;
                    assert!(v["route"].is_string() && v["status"].is_number(), "{line}");
                    assert_ne!(v["route"], "/api/v1/people/P3/code", "{line}");
                }
            }
            assert!(access >= 2, "the access lines: {log}");
        } else {
            assert!(log.contains("INFO"), "{log}");
            assert!(!log.trim_start().starts_with('{'), "{log}");
        }
    }
}

#[test]
fn the_configuration_file_sits_under_the_environment_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("xikang.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9100\"\njurisdiction = \"320500\"\ntoken_rate = \"5:10\"\n\
         behind_tls = true\nqueue_wait_ms = 250\nlog_format = \"json\"\n",
    )
    .unwrap();
    let out = xikang()
        .args(["config", "show", "--jurisdiction", "320213"])
        .arg("--config")
        .arg(&file)
        .env("XIKANG_TOKEN_RATE", "7:7")
        .env_remove("XIKANG_LISTEN")
        .env_remove("XIKANG_BEHIND_TLS")
        .env_remove("XIKANG_QUEUE_WAIT_MS")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("listen = \"127.0.0.1:9100\""), "file: {text}");
    assert!(text.contains("queue_wait_ms = 250"), "file: {text}");
    assert!(text.contains("behind_tls = true"), "file: {text}");
    assert!(
        text.contains("token_rate = \"7:7\""),
        "environment over file: {text}"
    );
    assert!(
        text.contains("jurisdiction = \"320213\""),
        "flag over file: {text}"
    );

    // A typo is an error naming the key, not a silent default.
    std::fs::write(&file, "listne = \"0.0.0.0:80\"\n").unwrap();
    let out = xikang()
        .args(["config", "show", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown setting `listne`"));
    // A bad value is refused by the flag's own parser.
    std::fs::write(&file, "token_rate = \"fast\"\n").unwrap();
    let out = xikang()
        .args(["config", "show", "--config"])
        .arg(&file)
        .env_remove("XIKANG_TOKEN_RATE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("fast"));

    // The shipped example is what `config example` prints, and the binary accepts it.
    let out = xikang().args(["config", "example"]).output().unwrap();
    std::fs::write(&file, &out.stdout).unwrap();
    let out = xikang()
        .args(["config", "show", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_taken_port_is_reported_before_the_city_is_generated() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("city");
    let started = std::time::Instant::now();
    let out = xikang()
        .args(["demo", "--people", "200000", "--listen", &port, "--data"])
        .arg(&data)
        .env("XIKANG_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("listening on {port}")), "{err}");
    assert!(
        err.contains("--listen"),
        "says how to choose another: {err}"
    );
    assert!(!err.contains("generating"), "{err}");
    // 200,000 people take far longer than this to generate.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// Runs `xikang serve` on `dir` without an admin token until it has printed its greeting:
/// its stdout.
fn greeting(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut child = xikang()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir)
        .args(extra)
        .env_remove("XIKANG_ADMIN_TOKEN")
        .env_remove("XIKANG_ADMIN_PASSWORD")
        .env("XIKANG_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = read_greeting(child.stdout.take().unwrap());
    signal(&child, "TERM");
    child.wait().unwrap();
    out
}

#[test]
fn a_restart_reuses_the_admin_token_and_says_how_to_reset_the_password() {
    let dir = city_dir();
    let first = greeting(dir.path(), &[]);
    assert!(
        first.contains("web user admin created; password: "),
        "{first}"
    );
    let minted = first
        .lines()
        .find_map(|l| l.strip_prefix("admin token "))
        .unwrap()
        .to_owned();
    assert!(
        minted.contains("xk"),
        "the first start prints its new token: {first}"
    );

    let second = greeting(dir.path(), &[]);
    let id = minted.split(':').next().unwrap();
    assert!(
        second.contains(&format!("admin token {id}: made at an earlier start")),
        "{second}"
    );
    assert!(second.contains("xikang token create --data"), "{second}");
    assert!(!second.contains("password: "), "{second}");
    assert!(
        second.contains("--admin-password"),
        "how to reset it: {second}"
    );
    let store = xikang_store::open(&Target::Sqlite(dir.path().to_path_buf())).unwrap();
    let admins = store
        .api_tokens()
        .unwrap()
        .into_iter()
        .filter(|t| t.token.name == "admin")
        .count();
    assert_eq!(admins, 1, "no second token minted");
}

/// Whether a required tool is present; a skip is a failure when `XIKANG_REQUIRE_DEPLOY=1`.
fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("XIKANG_REQUIRE_DEPLOY").as_deref() != Ok("1"),
            "{tool} is required (XIKANG_REQUIRE_DEPLOY=1)"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

#[test]
fn the_debian_package_holds_the_binary_unit_and_config_and_the_unit_verifies() {
    if !have("dpkg-deb") || !have("systemd-analyze") {
        return;
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(format!("{root}/deploy/build-deb.sh"))
        .env("XIKANG_BIN", env!("CARGO_BIN_EXE_xikang"))
        .env("OUT_DIR", out_dir.path())
        .env("DEB_COMPRESSION", "none") // xz on a debug binary takes a minute
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = std::fs::read_dir(out_dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");
    let info = Command::new("dpkg-deb")
        .arg("-I")
        .arg(&deb)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("Package: xikang"), "{info}");
    assert!(
        info.contains("postinst") && info.contains("conffiles"),
        "{info}"
    );
    let extracted = tempfile::tempdir().unwrap();
    assert!(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(extracted.path())
            .status()
            .unwrap()
            .success()
    );
    let x = extracted.path();
    for f in [
        "usr/bin/xikang",
        "lib/systemd/system/xikang.service",
        "etc/xikang/xikang.toml",
        "usr/share/doc/xikang/copyright",
    ] {
        assert!(x.join(f).is_file(), "{f} missing from the package");
    }
    // The packaged binary runs and accepts the packaged configuration.
    let out = Command::new(x.join("usr/bin/xikang"))
        .args(["config", "show", "--config"])
        .arg(x.join("etc/xikang/xikang.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("data = \"/var/lib/xikang\""));
    // The unit, checked by systemd, with its ExecStart pointed at the packaged binary
    // (systemd-analyze checks that the command exists and is executable).
    let unit_dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(x.join("lib/systemd/system/xikang.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/xikang serve --config /etc/xikang/xikang.toml"));
    let unit = unit.replace(
        "/usr/bin/xikang",
        &x.join("usr/bin/xikang").display().to_string(),
    );
    std::fs::write(unit_dir.path().join("xikang.service"), unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit_dir.path().join("xikang.service"))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    assert!(
        !said.contains("xikang.service:"),
        "warnings about the unit: {said}"
    );
}
