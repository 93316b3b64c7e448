//! Two cities (issue 17, docs/cities.md) as two real `xikang serve` processes, Wuxi
//! (320200) and Suzhou (320500), each with its own store. Suzhou reaches Wuxi through a
//! relay in this test, which forwards, tampers with, strips the signature from, or drops
//! what Wuxi answers — the peer outages and attacks a border sees.
//!
//! Exercised: a Wuxi code checked offline at a Suzhou venue by Suzhou's rules; refused
//! lists (unsigned, tampered), an unknown peer and a code of a city that is no peer, each
//! with its stable code and the last good list still in use; a commuter pass issued in
//! Wuxi by two officials, accepted at a Suzhou checkpoint, refused for another person's
//! code, when expired, and after its revocation crosses the border (and by an independent
//! verifier in Python); key rotation with the old key's codes still valid and the next key
//! published ahead of use, then that old key revoked; a 协查 request sent while Suzhou is
//! down, delivered when it is back, answered, and a message from a stranger refused; and
//! Suzhou's rules asking Wuxi online for a code's current colour, refusing when it cannot.

#![expect(
    clippy::unwrap_used,
    reason = "process tests: a failed unwrap is a failed test"
)]

mod common;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xikang::httpc::Conn;
use xikang_code::{KeyStatus, PassClaims, SigningKey, TrustAnchor, TrustDocument};
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::{PersonId, TestOutcome, Timestamp};
use xikang_store::Target;

const WUXI: &str = "320200";
const SUZHOU: &str = "320500";
const ADMIN: &str = "xk_cities_admin";

/// One `xikang serve` process.
struct City {
    child: Child,
    addr: String,
}

impl Drop for City {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, jurisdiction: &str, policy: Option<&Path>) -> City {
    serve_at(dir, jurisdiction, policy, "127.0.0.1:0")
}

/// `xikang serve` on `listen`; queued 协查 messages are retried every second, and the
/// store's signing keys read again every second.
fn serve_at(dir: &Path, jurisdiction: &str, policy: Option<&Path>, listen: &str) -> City {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xikang"));
    cmd.args(["serve", "--listen", listen, "--admin-token", ADMIN])
        .args(["--jurisdiction", jurisdiction, "--peer-refresh-secs", "0"])
        .args(["--assist-retry-secs", "1", "--key-reload-secs", "1"])
        .arg("--data")
        .arg(dir)
        .env("XIKANG_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(p) = policy {
        cmd.arg("--policy").arg(p);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if let Some(rest) = line.unwrap().strip_prefix("xikang serving on http://") {
            let addr = rest.trim_end_matches('/').to_owned();
            std::thread::spawn(move || for _ in lines {});
            return City { child, addr };
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{jurisdiction} exited before listening");
}

fn cli(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xikang"))
        .args(args)
        .env("XIKANG_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

async fn call(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut c = Conn::connect(addr).await.unwrap();
    let r = if method == "GET" {
        c.get(path, token).await.unwrap()
    } else {
        c.post_json(path, token, &body).await.unwrap()
    };
    (r.status, r.json())
}

async fn get(addr: &str, path: &str) -> Value {
    let (status, v) = call(addr, "GET", path, Some(ADMIN), Value::Null).await;
    assert_eq!(status, 200, "GET {path}: {v}");
    v
}

async fn raw(addr: &str, path: &str) -> Vec<u8> {
    let r = Conn::connect(addr)
        .await
        .unwrap()
        .get(path, None)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    r.body
}

/// Runs the independent verifier (`tests/verify_pass.py`: Python, cbor2, cryptography)
/// on a pass with the signed list: its exit status and output. `None` when Python or its
/// packages are missing, unless `XIKANG_REQUIRE_PYTHON` is set (CI), which fails instead.
fn python_verifies(anchor: &Value, list: &[u8], pass: &str) -> Option<(i32, Value)> {
    let dir = tempfile::tempdir().unwrap();
    let (a, l) = (dir.path().join("anchor.json"), dir.path().join("list.cose"));
    std::fs::write(&a, anchor.to_string()).unwrap();
    std::fs::write(&l, list).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/verify_pass.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(&a)
        .arg(&l)
        .arg(pass)
        .output();
    let required = std::env::var_os("XIKANG_REQUIRE_PYTHON").is_some();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            assert!(!required, "python3 is required: {e}");
            eprintln!("python3 not found: the independent verifier is skipped");
            return None;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("ModuleNotFoundError") {
        assert!(!required, "cbor2 and cryptography are required: {stderr}");
        eprintln!("cbor2 or cryptography missing: the independent verifier is skipped");
        return None;
    }
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    Some((out.status.code().unwrap_or(-1), json))
}

/// What the relay between Suzhou and Wuxi does with Wuxi's answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Forward,
    /// One digit of the signed list's payload changed.
    Tamper,
    /// The unsigned list (`/api/v1/trust`) served where the signed one was asked for.
    Unsigned,
    /// Wuxi unreachable: the connection is closed unanswered.
    Down,
}

#[derive(Clone)]
struct Relay {
    addr: String,
    mode: Arc<Mutex<Mode>>,
    target: Arc<Mutex<String>>,
}

impl Relay {
    async fn start(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap().to_string(),
            mode: Arc::new(Mutex::new(Mode::Forward)),
            target: Arc::new(Mutex::new(target.to_owned())),
        };
        let r = relay.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move { r.serve(tcp).await });
            }
        });
        relay
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    async fn serve(&self, mut tcp: TcpStream) {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Our peers' requests are small: read until the head and its announced body are in.
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            request.extend_from_slice(&buf[..n]);
            if n == 0 || complete(&request) {
                break;
            }
        }
        let mode = *self.mode.lock().unwrap();
        if mode == Mode::Down {
            return;
        }
        let target = self.target.lock().unwrap().clone();
        let signed = request.starts_with(b"GET /api/v1/trust/signed ")
            || request.starts_with(b"GET /api/v1/trust/rules ");
        if mode == Mode::Unsigned && signed {
            request = b"GET /api/v1/trust HTTP/1.1\r\nconnection: close\r\n\r\n".to_vec();
        }
        // One exchange per connection: the upstream closes after its answer, which the
        // relay reads to the end (the client may have asked to keep the connection).
        if let Some(eol) = find(&request, b"\r\n") {
            request.splice(eol + 2..eol + 2, b"connection: close\r\n".iter().copied());
        }
        let mut upstream = TcpStream::connect(&target).await.unwrap();
        upstream.write_all(&request).await.unwrap();
        let mut answer = Vec::new();
        upstream.read_to_end(&mut answer).await.unwrap();
        if mode == Mode::Tamper && signed {
            let body = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            let at = body + find(&answer[body..], WUXI.as_bytes()).unwrap() + 5;
            answer[at] = if answer[at] == b'0' { b'1' } else { b'0' };
        }
        let _ = tcp.write_all(&answer).await;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn complete(request: &[u8]) -> bool {
    let Some(end) = find(request, b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    request.len() >= end + 4 + length
}

/// A negative test for each of `people`, sampled ten hours ago, written to the store
/// before the server starts.
fn negative_tests(dir: &Path, people: &[u32]) {
    let store = xikang_store::open(&Target::Sqlite(dir.to_path_buf())).unwrap();
    let now = xikang_server::now();
    let events: Vec<NewEvent> = people
        .iter()
        .map(|&i| NewEvent {
            at: now.plus(-9 * 3600),
            actor: "lab:test".into(),
            basis: "lab report".into(),
            body: EventBody::TestResulted {
                person: PersonId(i),
                sampled_at: now.plus(-10 * 3600),
                resulted_at: now.plus(-9 * 3600),
                outcome: TestOutcome::Negative,
                pool_size: 1,
                tube: format!("T{i}"),
            },
        })
        .collect();
    store.append_events(&events).unwrap();
}

/// Suzhou's policy: the default, except that a supermarket asks for a test within 72 h
/// (Wuxi's does not): the same Wuxi code meets different rules at the two cities' doors.
fn suzhou_policy(dir: &Path) -> std::path::PathBuf {
    let text = xikang_domain::policy::DEFAULT_POLICY_TOML
        .replace(
            "version = \"xikang-default-2022.09\"",
            "version = \"suzhou-2022.09\"",
        )
        .replace(
            "[venue.supermarket]\ndwell_minutes = 30\n",
            "[venue.supermarket]\ndwell_minutes = 30\nmax_test_age_hours = 72\n",
        );
    assert!(text.contains("max_test_age_hours = 72"));
    let path = dir.join("suzhou-policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Suzhou's policy, asking the issuing city for a code's current colour at every door.
fn suzhou_online_policy(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(dir.join("suzhou-policy.toml"))
        .unwrap()
        .replace(
            "version = \"suzhou-2022.09\"",
            "version = \"suzhou-2022.09-online\"",
        )
        .replacen("[parameters]\n", "[parameters]\npeer_online_check = 1\n", 1);
    assert!(text.contains("peer_online_check = 1"));
    let path = dir.join("suzhou-online-policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn code(addr: &str, person: u32) -> String {
    get(addr, &format!("/api/v1/people/P{person}/code")).await["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn check(addr: &str, body: Value) -> Value {
    let (status, v) = call(addr, "POST", "/api/v1/entry-checks", Some(ADMIN), body).await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn refresh(addr: &str, peer: &str) -> (u16, Value) {
    call(
        addr,
        "POST",
        &format!("/api/v1/peers/{peer}/refresh"),
        Some(ADMIN),
        json!({}),
    )
    .await
}

fn code_of(v: &(u16, Value)) -> (u16, &str) {
    (v.0, v.1["error"]["code"].as_str().unwrap_or(""))
}

#[test]
fn two_cities_recognise_codes_and_passes_by_signed_lists_and_refuse_what_does_not_verify() {
    // On a thread with a large stack, boxed: the whole scenario's future, polled in a debug
    // build, is too deep for a test thread's stack.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(16 << 20)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(Box::pin(two_cities()));
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn two_cities() {
    let wuxi_dir = common::city_dir();
    let suzhou_dir = common::city_dir();
    negative_tests(wuxi_dir.path(), &[1, 2]);
    let policy = suzhou_policy(suzhou_dir.path());
    let wuxi = serve(wuxi_dir.path(), WUXI, None);
    let suzhou = serve(suzhou_dir.path(), SUZHOU, Some(&policy));
    let (w, s) = (wuxi.addr.clone(), suzhou.addr.clone());
    let relay = Relay::start(&w).await;

    // Wuxi's anchor, as its operator prints it and as its server serves it.
    let anchor = get(&w, "/api/v1/trust/anchor").await;
    let data = wuxi_dir.path().to_str().unwrap();
    let (ok, printed) = cli(&["key", "anchor", "--data", data]);
    assert!(ok, "{printed}");
    assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), anchor);
    let anchor_typed: TrustAnchor = serde_json::from_value(anchor.clone()).unwrap();

    // A peer with a bad anchor is refused, and nothing is added.
    let mut bad = anchor.clone();
    bad["kid"] = json!("0000000000000000");
    let r = call(
        &s,
        "POST",
        "/api/v1/peers",
        Some(ADMIN),
        json!({"name": "wuxi", "url": format!("http://{}", relay.addr), "anchor": bad}),
    )
    .await;
    assert_eq!(code_of(&r), (400, "trust_anchor_invalid"), "{}", r.1);
    assert_eq!(get(&s, "/api/v1/peers").await, json!([]));
    let r = call(
        &s,
        "POST",
        "/api/v1/peers",
        Some(ADMIN),
        json!({"name": "wuxi", "url": format!("http://{}", relay.addr), "anchor": anchor}),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);

    // Before any good list: an unsigned and a tampered list are refused, nothing is taken.
    let c1 = code(&w, 1).await;
    relay.set(Mode::Unsigned);
    assert_eq!(
        code_of(&refresh(&s, "wuxi").await),
        (422, "trust_list_unsigned")
    );
    relay.set(Mode::Tamper);
    assert_eq!(
        code_of(&refresh(&s, "wuxi").await),
        (422, "trust_list_tampered")
    );
    let peers = get(&s, "/api/v1/peers").await;
    assert_eq!(peers[0]["keys"], 0, "{peers}");
    assert_eq!(peers[0]["last_error"], "trust_list_tampered");
    // Wuxi's rules (risk areas, entry rules) travel signed the same way: refused too.
    assert_eq!(peers[0]["rules_error"], "trust_list_tampered", "{peers}");
    assert_eq!(get(&s, "/api/v1/peers/wuxi").await["rules"], Value::Null);
    let v = check(&s, json!({"code": c1, "category": "supermarket"})).await;
    assert_eq!(
        (v["allow"].clone(), v["reason"].clone()),
        (json!(false), json!("peer_list_missing"))
    );
    assert_eq!(code_of(&refresh(&s, "nosuch").await), (404, "unknown_peer"));

    // The good list: a Wuxi code verified offline in Suzhou, by Suzhou's rules.
    relay.set(Mode::Forward);
    let (status, peer) = refresh(&s, "wuxi").await;
    assert_eq!(status, 200, "{peer}");
    assert_eq!(
        (peer["keys"].clone(), peer["last_error"].clone()),
        (json!(1), Value::Null)
    );
    // Wuxi's entry rules, as Suzhou's officials and (publicly) its residents see them:
    // Wuxi's supermarkets ask for no test.
    let detail = get(&s, "/api/v1/peers/wuxi").await;
    assert_eq!(detail["rules_error"], Value::Null, "{detail}");
    let supermarket = |rules: &Value| {
        rules["entry_rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["category"] == "supermarket")
            .cloned()
            .unwrap()
    };
    assert_eq!(
        supermarket(&detail["rules"])["max_test_age_hours"],
        Value::Null
    );
    let (status, public) = call(&s, "GET", "/api/v1/peer-rules", None, Value::Null).await;
    assert_eq!((status, public[0]["peer"].clone()), (200, json!("wuxi")));
    assert_eq!(public[0]["jurisdiction"], WUXI);
    let c3 = code(&w, 3).await; // green, no test
    let v = check(&s, json!({"code": c1, "category": "supermarket"})).await;
    assert_eq!(v["allow"], true, "{v}");
    assert_eq!(
        (v["issuer"].clone(), v["checked"].clone()),
        (json!(WUXI), json!("offline"))
    );
    let v = check(&s, json!({"code": c3, "category": "supermarket"})).await;
    assert_eq!(
        (v["allow"].clone(), v["reason"].clone()),
        (json!(false), json!("no_test")),
        "{v}"
    );
    // Wuxi's own supermarkets ask for no test: the same code is allowed there.
    let v = check(&w, json!({"code": c3, "category": "supermarket"})).await;
    assert_eq!(
        (v["allow"].clone(), v["checked"].clone()),
        (json!(true), json!("own")),
        "{v}"
    );
    // A code of a city that is no peer of Suzhou's, and a tampered Wuxi code.
    let now = xikang_server::now();
    let stranger = SigningKey::generate("320600", now.plus(-3600), now.plus(86_400));
    let foreign = stranger.issue(&xikang_code::CodeClaims::with_default_expiry(
        "320600",
        "0123456789",
        xikang_domain::Colour::Green,
        None,
        now,
    ));
    let v = check(&s, json!({"code": foreign, "category": "supermarket"})).await;
    assert_eq!(v["reason"], "peer_unknown", "{v}");
    let mut tampered = c1.clone().into_bytes();
    let i = tampered.len() - 20;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let v = check(
        &s,
        json!({"code": String::from_utf8(tampered).unwrap(), "category": "supermarket"}),
    )
    .await;
    assert_eq!(v["allow"], false);
    assert!(v["reason"].as_str().unwrap().starts_with("token_"), "{v}");

    // Wuxi unreachable: Suzhou keeps its last good copy and still checks offline.
    relay.set(Mode::Down);
    assert_eq!(
        code_of(&refresh(&s, "wuxi").await),
        (503, "peer_unreachable")
    );
    assert_eq!(
        check(&s, json!({"code": c1, "category": "supermarket"})).await["allow"],
        true
    );
    assert_eq!(get(&s, "/api/v1/peers").await[0]["keys"], 1);
    relay.set(Mode::Forward);

    Box::pin(passes(&w, &s, &relay, wuxi_dir.path(), &c1, &anchor)).await;

    // Rotation on the running server: `xikang key rotate` makes a key valid from now, and
    // Wuxi, reading its store's keys again (every second here), signs with it without a
    // restart. Then the API publishes a next key, valid from tomorrow.
    let kid = |t: &str| xikang_code::decode_unverified(t).unwrap().0;
    let (ok, out) = cli(&["key", "rotate", "--data", data, "--ahead", "0"]);
    assert!(ok, "{out}");
    let mut c1_new = String::new();
    for _ in 0..120 {
        c1_new = code(&w, 1).await;
        if kid(&c1_new) != kid(&c1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_ne!(
        kid(&c1),
        kid(&c1_new),
        "the running server signs with the rotated key"
    );
    let (status, next) = call(
        &w,
        "POST",
        "/api/v1/keys/rotate",
        Some(ADMIN),
        json!({"ahead_secs": 86_400}),
    )
    .await;
    assert_eq!(status, 201, "{next}");
    let doc = TrustDocument::open(&raw(&w, "/api/v1/trust/signed").await, &anchor_typed).unwrap();
    let mut statuses: Vec<KeyStatus> = doc.keys.iter().map(|k| k.status).collect();
    statuses.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(
        statuses,
        [KeyStatus::Current, KeyStatus::Next, KeyStatus::Retiring]
    );
    let next_listed = doc
        .keys
        .iter()
        .find(|k| k.status == KeyStatus::Next)
        .unwrap();
    assert_eq!(next_listed.entry.kid, next["kid"].as_str().unwrap());
    assert_eq!(
        kid(&code(&w, 1).await),
        kid(&c1_new),
        "the next key does not sign before its time"
    );
    assert_eq!(refresh(&s, "wuxi").await.0, 200);
    for c in [&c1, &c1_new] {
        let v = check(&s, json!({"code": c, "category": "supermarket"})).await;
        assert_eq!(
            v["allow"], true,
            "a code of the retiring and of the current key: {v}"
        );
        let v = check(&w, json!({"code": c, "category": "supermarket"})).await;
        assert_eq!(v["allow"], true, "{v}");
    }
    // The retiring key revoked (compromise) on the running server: Wuxi refuses its codes
    // at once, Suzhou from its next fetch; the current key's still pass.
    let old_kid = hex::encode(kid(&c1));
    let (status, r) = call(
        &w,
        "POST",
        &format!("/api/v1/keys/{old_kid}/revoke"),
        Some(ADMIN),
        json!({"reason": "compromised"}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let v = check(&w, json!({"code": c1, "category": "supermarket"})).await;
    assert_eq!(
        (v["allow"].clone(), v["reason"].clone()),
        (json!(false), json!("token_key_revoked")),
        "{v}"
    );
    // The server's own verifier dropped the key too (a peer asking for the colour now).
    let r = call(
        &w,
        "POST",
        "/api/v1/codes/current",
        None,
        json!({"token": c1}),
    )
    .await;
    assert_eq!(r.0, 422, "{}", r.1);
    // The key that signs cannot be revoked while no other would sign.
    let current_kid = hex::encode(kid(&c1_new));
    let r = call(
        &w,
        "POST",
        &format!("/api/v1/keys/{current_kid}/revoke"),
        Some(ADMIN),
        json!({"reason": "oops"}),
    )
    .await;
    assert_eq!(code_of(&r), (409, "key_last_valid"), "{}", r.1);
    assert_eq!(
        check(&s, json!({"code": c1, "category": "supermarket"})).await["allow"],
        true,
        "Suzhou has not fetched yet"
    );
    assert_eq!(refresh(&s, "wuxi").await.0, 200);
    let v = check(&s, json!({"code": c1, "category": "supermarket"})).await;
    assert_eq!(
        (v["allow"].clone(), v["reason"].clone()),
        (json!(false), json!("token_key_revoked")),
        "{v}"
    );
    assert_eq!(
        check(&s, json!({"code": c1_new, "category": "supermarket"})).await["allow"],
        true
    );
    // Each decision is in Wuxi's authority log.
    let store = xikang_store::open(&Target::Sqlite(wuxi_dir.path().to_path_buf())).unwrap();
    let kinds: Vec<&str> = store
        .events_after(xikang_domain::EventSeq(0), 1_000_000)
        .unwrap()
        .iter()
        .map(|e| e.body.kind())
        .collect();
    for k in [
        "key_rotated",
        "key_revoked",
        "pass_applied",
        "pass_approved",
        "pass_revoked",
    ] {
        assert!(kinds.contains(&k), "{k} missing from Wuxi's log");
    }
    let store = xikang_store::open(&Target::Sqlite(suzhou_dir.path().to_path_buf())).unwrap();
    let added = store
        .events_after(xikang_domain::EventSeq(0), 1_000_000)
        .unwrap()
        .iter()
        .filter(|e| e.body.kind() == "peer_added")
        .count();
    assert_eq!(added, 1, "the refused peer left no event in Suzhou's log");

    let online = suzhou_online_policy(suzhou_dir.path());
    Box::pin(assist(
        &w,
        suzhou,
        suzhou_dir.path(),
        wuxi_dir.path(),
        &online,
        &relay,
    ))
    .await;
    drop(wuxi);
}

/// 协查: Wuxi asks Suzhou while Suzhou is down; the request waits, then arrives, is
/// answered, and the answer comes back; a message signed by a stranger is refused. Suzhou
/// comes back with rules that ask Wuxi for a code's current colour (`policy`).
async fn assist(
    w: &str,
    suzhou: City,
    suzhou_dir: &Path,
    wuxi_dir: &Path,
    policy: &Path,
    relay: &Relay,
) {
    let s = suzhou.addr.clone();
    let suzhou_anchor = get(&s, "/api/v1/trust/anchor").await;
    let r = call(
        w,
        "POST",
        "/api/v1/peers",
        Some(ADMIN),
        json!({"name": "suzhou", "url": format!("http://{s}"), "anchor": suzhou_anchor}),
    )
    .await;
    assert_eq!(r.0, 201, "{}", r.1);
    drop(suzhou);
    let c5 = code(w, 5).await; // green now; P5 becomes a case below
    let (status, case) = call(w, "POST", "/api/v1/cases", Some(ADMIN), json!({"person": "P5", "kind": "confirmed", "onset": xikang_server::now().plus(-2 * 86_400).to_rfc3339()})).await;
    assert_eq!(status, 201, "{case}");
    let case = case["id"].as_str().unwrap().to_owned();
    let now = xikang_server::now().0;
    let places =
        json!([{"place": "苏州工业园区某商场", "from": now - 30 * 3600, "to": now - 28 * 3600}]);
    let (status, sent) = call(
        w,
        "POST",
        "/api/v1/assist-requests",
        Some(ADMIN),
        json!({"peer": "suzhou", "case": case, "places": places}),
    )
    .await;
    assert_eq!(
        (status, sent["status"].clone()),
        (201, json!("queued")),
        "{sent}"
    );
    let out = |st: &'static str| {
        let w = w.to_owned();
        async move {
            for _ in 0..120 {
                let v = get(&w, "/api/v1/assist-requests?direction=out").await;
                if v[0]["status"] == st {
                    return v[0].clone();
                }
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            panic!("the request never became {st}");
        }
    };
    assert_eq!(
        get(w, "/api/v1/assist-requests?direction=out").await[0]["status"],
        "queued"
    );
    let suzhou = serve_at(suzhou_dir, SUZHOU, Some(policy), &s);
    let delivered = out("delivered").await;
    assert_eq!(delivered["sla_hours"], 24);
    let inbox = get(&s, "/api/v1/assist-requests?direction=in").await;
    assert_eq!(inbox.as_array().unwrap().len(), 1, "{inbox}");
    let task = &inbox[0];
    assert_eq!(
        (
            task["peer"].clone(),
            task["case"].clone(),
            task["places"].clone()
        ),
        (json!("wuxi"), json!(case), places)
    );
    // Minimised: the request names places and times, and nobody.
    let text = task.to_string();
    assert!(
        !text.contains("P5") && !text.contains("id_number") && !text.contains("name"),
        "{text}"
    );
    // A message signed by a city that is no peer of Suzhou's is refused, nothing recorded.
    let stranger = SigningKey::generate("320600", Timestamp(0), Timestamp(4_000_000_000));
    let forged = xikang_code::sign_json(
        &stranger,
        &json!({"message": "request", "from": "320600", "to": SUZHOU, "id": 1, "case": "C1", "places": [], "sent_at": now}),
    );
    let r = call(
        &s,
        "POST",
        "/api/v1/assist-requests/inbox",
        None,
        json!({"signed": hex::encode(forged)}),
    )
    .await;
    assert_eq!(code_of(&r), (422, "assist_unknown_peer"), "{}", r.1);
    assert_eq!(
        get(&s, "/api/v1/assist-requests?direction=in")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Suzhou's tracer answers; the outcome reaches Wuxi.
    let task_id = task["id"].as_str().unwrap();
    let (status, answered) = call(
        &s,
        "POST",
        &format!("/api/v1/assist-requests/{task_id}/answer"),
        Some(ADMIN),
        json!({"outcome": "商场同时段扫码 12 人已追踪，均已通知并核酸", "traced": 12}),
    )
    .await;
    assert_eq!(
        (status, answered["status"].clone()),
        (200, json!("answered")),
        "{answered}"
    );
    let done = out("answered").await;
    assert_eq!(
        (done["traced"].clone(), done["overdue"].clone()),
        (json!(12), json!(false)),
        "{done}"
    );
    let store = xikang_store::open(&Target::Sqlite(wuxi_dir.to_path_buf())).unwrap();
    let kinds = log_kinds(store.as_ref());
    for k in ["assist_sent", "assist_delivered", "assist_answer_received"] {
        assert!(kinds.contains(&k.to_owned()), "{k} missing from Wuxi's log");
    }
    let store = xikang_store::open(&Target::Sqlite(suzhou_dir.to_path_buf())).unwrap();
    let kinds = log_kinds(store.as_ref());
    for k in ["assist_received", "assist_answered"] {
        assert!(
            kinds.contains(&k.to_owned()),
            "{k} missing from Suzhou's log"
        );
    }
    Box::pin(risk_areas(w, &s)).await;
    Box::pin(people(w, &s, &case, wuxi_dir, suzhou_dir)).await;

    // Suzhou's rules now ask Wuxi: the code still says green, Wuxi says red; and when Wuxi
    // cannot be asked, the door refuses rather than guess.
    let v = check(&s, json!({"code": c5, "category": "supermarket"})).await;
    assert_eq!(
        (
            v["checked"].clone(),
            v["colour"].clone(),
            v["reason"].clone()
        ),
        (json!("online"), json!("red"), json!("colour_red")),
        "{v}"
    );
    relay.set(Mode::Down);
    let v = check(&s, json!({"code": c5, "category": "supermarket"})).await;
    assert_eq!(
        (v["allow"].clone(), v["reason"].clone()),
        (json!(false), json!("peer_unreachable")),
        "{v}"
    );
    relay.set(Mode::Forward);
    drop(suzhou);
}

/// Suzhou publishes a high-risk area; Wuxi fetches it with Suzhou's list, shows it (and
/// Suzhou's entry rules) to anyone, and an arrival from inside it comes under Wuxi's
/// high-risk regime, while an area nobody lists is refused.
async fn risk_areas(w: &str, s: &str) {
    let (status, o) = call(
        s,
        "POST",
        "/api/v1/arrivals/origins",
        Some(ADMIN),
        json!({"code": "320505", "name": "苏州高新区", "risk": "high"}),
    )
    .await;
    assert_eq!(status, 201, "{o}");
    let (status, peer) = refresh(w, "suzhou").await;
    assert_eq!(status, 200, "{peer}");
    assert_eq!(
        (peer["risk_areas"].clone(), peer["rules_error"].clone()),
        (json!(1), Value::Null),
        "{peer}"
    );
    // What a Wuxi resident sees before travelling: Suzhou's risk areas and its rules.
    let (status, public) = call(w, "GET", "/api/v1/peer-rules", None, Value::Null).await;
    assert_eq!(status, 200);
    let suzhou = &public[0];
    assert_eq!(
        (suzhou["peer"].clone(), suzhou["risk_areas"].clone()),
        (
            json!("suzhou"),
            json!([{"code": "320505", "name": "苏州高新区", "risk": "high"}])
        ),
        "{public}"
    );
    let supermarket = suzhou["entry_rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["category"] == "supermarket")
        .cloned()
        .unwrap();
    assert_eq!(supermarket["max_test_age_hours"], 72, "{supermarket}");
    // An arrival from a street inside Suzhou's high-risk area: Wuxi's own list does not
    // name it, Suzhou's does; Wuxi's regime for a high-risk origin applies.
    let planned = xikang_server::now().plus(86_400).to_rfc3339();
    let (status, a) = call(
        w,
        "POST",
        "/api/v1/arrivals",
        Some(ADMIN),
        json!({"person": "P7", "origin": "320505001", "planned_at": planned}),
    )
    .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(
        (a["risk"].clone(), a["risk_source"].clone()),
        (json!("high"), json!("peer:suzhou")),
        "{a}"
    );
    let r = call(
        w,
        "POST",
        "/api/v1/arrivals",
        Some(ADMIN),
        json!({"person": "P7", "origin": "320506", "planned_at": planned}),
    )
    .await;
    assert_eq!(code_of(&r), (422, "unknown_origin"), "{}", r.1);
}

/// 协查 of the "people" kind: Wuxi names two close contacts registered in Suzhou (by ID
/// number and by Suzhou's pseudonym) and one who is not; Suzhou resolves them, puts the two
/// on its tracers' follow-up list in the same commit, and answers by reference. Neither
/// log holds an ID number. Refused whole: a request with a bad ID number at Wuxi, one
/// signed by a stranger, and one signed by Wuxi with a malformed person.
async fn people(w: &str, s: &str, case: &str, wuxi_dir: &Path, suzhou_dir: &Path) {
    let suzhou_store = xikang_store::open(&Target::Sqlite(suzhou_dir.to_path_buf())).unwrap();
    let id9 = suzhou_store
        .person(PersonId(9))
        .unwrap()
        .unwrap()
        .id_number
        .expose()
        .to_owned();
    let stranger_id = xikang_domain::idnumber::IdNumber::compose(110_105, 1949, 12, 31, 2)
        .unwrap()
        .expose()
        .to_owned();
    // Suzhou's pseudonym of its resident P10, as the `sub` of a Suzhou code would carry it.
    let pseudonym_key = suzhou_store.setting("pseudonym_key").unwrap().unwrap();
    let sub10 = xikang_code::PseudonymKey::new(&pseudonym_key).pseudonym(PersonId(10));
    let at = xikang_server::now().plus(-86_400).0;
    let sent_before = get(w, "/api/v1/assist-requests?direction=out").await;
    let r = call(
        w,
        "POST",
        "/api/v1/assist-requests",
        Some(ADMIN),
        json!({"peer": "suzhou", "case": case, "people": [{"id_number": "320505199013011234", "relation": "同车厢", "last_exposure": at}]}),
    )
    .await;
    assert_eq!(r.0, 400, "a bad ID number: {}", r.1);
    assert_eq!(
        get(w, "/api/v1/assist-requests?direction=out").await,
        sent_before,
        "nothing recorded"
    );
    // The follow-up tasks Suzhou's log holds (its generated residents live in areas its
    // admin token does not cover, so they are read from the log).
    let follow_ups = || {
        suzhou_store
            .events_after(xikang_domain::EventSeq(0), 1_000_000)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.body {
                EventBody::FollowUpFlagged { person, .. } => Some(person),
                _ => None,
            })
            .collect::<Vec<PersonId>>()
    };
    let before = follow_ups().len();
    let (status, sent) = call(
        w,
        "POST",
        "/api/v1/assist-requests",
        Some(ADMIN),
        json!({"peer": "suzhou", "case": case, "people": [
            {"id_number": id9, "relation": "同车厢", "last_exposure": at},
            {"id_number": stranger_id, "relation": "同车厢", "last_exposure": at},
            {"subject": sub10, "relation": "同事", "last_exposure": at},
        ]}),
    )
    .await;
    assert_eq!(
        (status, sent["kind"].clone()),
        (201, json!("people")),
        "{sent}"
    );
    let text = sent.to_string();
    assert!(
        !text.contains(&id9) && !text.contains(&stranger_id),
        "{text}"
    );
    let refs: Vec<String> = sent["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ref"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(refs.len(), 3);
    let id = sent["id"].as_str().unwrap().to_owned();
    let mut task = Value::Null;
    for _ in 0..120 {
        let inbox = get(s, "/api/v1/assist-requests?direction=in").await;
        if let Some(t) = inbox
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == "people")
        {
            task = t.clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let resolved: Vec<Value> = task["people"]
        .as_array()
        .unwrap_or_else(|| panic!("never delivered: {task}"))
        .iter()
        .map(|p| p["person"].clone())
        .collect();
    assert_eq!(resolved, [json!("P9"), Value::Null, json!("P10")], "{task}");
    assert_eq!(
        follow_ups()[before..],
        [PersonId(9), PersonId(10)],
        "tasks for the two found"
    );
    // Refused whole at Suzhou: signed by a stranger; signed by Wuxi's own root but with a
    // person whose ID number is malformed beside a good one. Nothing recorded, no task.
    let inbox_before = get(s, "/api/v1/assist-requests?direction=in").await;
    let person = |id: &str| json!({"ref": "ab".repeat(16), "id_number": id, "relation": "同住", "last_exposure": at});
    let message = |n: u64| json!({"message": "request", "from": WUXI, "to": SUZHOU, "id": n, "case": "C1", "places": [], "sent_at": at, "people": [person(&id9), person("320505199013011234")]});
    let stranger = SigningKey::generate(WUXI, Timestamp(0), Timestamp(4_000_000_000));
    let forged = xikang_code::sign_json(&stranger, &message(900_001));
    let r = call(
        s,
        "POST",
        "/api/v1/assist-requests/inbox",
        None,
        json!({"signed": hex::encode(forged)}),
    )
    .await;
    assert_eq!(code_of(&r), (422, "assist_unknown_peer"), "{}", r.1);
    let wuxi_store = xikang_store::open(&Target::Sqlite(wuxi_dir.to_path_buf())).unwrap();
    let root: [u8; 32] = wuxi_store
        .setting("root_key")
        .unwrap()
        .unwrap()
        .try_into()
        .unwrap();
    let root = SigningKey::from_secret(root, WUXI, Timestamp(0), Timestamp(4_102_444_800));
    let mut malformed = message(900_002);
    malformed["people"][1]["ref"] = json!("cd".repeat(16));
    let signed = xikang_code::sign_json(&root, &malformed);
    let r = call(
        s,
        "POST",
        "/api/v1/assist-requests/inbox",
        None,
        json!({"signed": hex::encode(signed)}),
    )
    .await;
    assert_eq!(code_of(&r), (422, "assist_malformed"), "{}", r.1);
    assert_eq!(
        get(s, "/api/v1/assist-requests?direction=in").await,
        inbox_before
    );
    assert_eq!(follow_ups().len(), before + 2);
    // Suzhou answers by reference: an action on someone not registered there is refused;
    // the answer travels back with each person's outcome.
    let task_id = task["id"].as_str().unwrap();
    let answer = |people: Value| {
        let path = format!("/api/v1/assist-requests/{task_id}/answer");
        async move {
            call(
                s,
                "POST",
                &path,
                Some(ADMIN),
                json!({"outcome": "2 人已判密接并通知", "traced": 2, "people": people}),
            )
            .await
        }
    };
    let r = answer(json!([{"ref": refs[1], "outcome": "designated"}])).await;
    assert_eq!(code_of(&r), (400, "invalid_person_outcome"), "{}", r.1);
    let r = answer(json!([{"ref": refs[0], "outcome": "designated"}])).await;
    assert_eq!(r.0, 200, "{}", r.1);
    let mut done = Value::Null;
    for _ in 0..120 {
        let out = get(w, "/api/v1/assist-requests?direction=out").await;
        done = out
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == id.as_str())
            .cloned()
            .unwrap();
        if done["status"] == "answered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let outcomes: Vec<Value> = done["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["outcome"].clone())
        .collect();
    assert_eq!(
        outcomes,
        [json!("designated"), json!("not_registered"), json!("found")],
        "{done}"
    );
    // Neither log holds the ID numbers: only their keyed hashes.
    for store in [&wuxi_store, &suzhou_store] {
        let events = store
            .events_after(xikang_domain::EventSeq(0), 1_000_000)
            .unwrap();
        let log =
            serde_json::to_string(&events.iter().map(|e| &e.body).collect::<Vec<_>>()).unwrap();
        assert!(log.contains(&refs[0]), "the reference is logged");
        assert!(
            !log.contains(&id9) && !log.contains(&stranger_id),
            "an ID number in a log"
        );
    }
}

fn log_kinds(store: &dyn xikang_store::Store) -> Vec<String> {
    store
        .events_after(xikang_domain::EventSeq(0), 1_000_000)
        .unwrap()
        .iter()
        .map(|e| e.body.kind().to_owned())
        .collect()
}

/// A pass issued in Wuxi, at a Suzhou checkpoint: accepted, refused for another person's
/// code and when expired, and refused once its revocation crossed the border.
async fn passes(w: &str, s: &str, relay: &Relay, wuxi_dir: &Path, c1: &str, anchor: &Value) {
    let mut officials = Vec::new();
    for name in ["official-a", "official-b"] {
        let (status, t) = call(
            w,
            "POST",
            "/api/v1/tokens",
            Some(ADMIN),
            json!({"name": name, "role": "admin", "area": WUXI}),
        )
        .await;
        assert_eq!(status, 201, "{t}");
        officials.push(t["token"].as_str().unwrap().to_owned());
    }
    let (status, p) = call(w, "POST", "/api/v1/passes", Some(ADMIN), json!({"person": "P1", "employer": "苏州某电子有限公司", "work_jurisdiction": SUZHOU, "days": 30, "max_test_age_hours": 48})).await;
    assert_eq!(status, 201, "{p}");
    let id = p["pass"].as_str().unwrap().to_owned();
    assert_eq!(
        (p["status"].clone(), p["approvals_needed"].clone()),
        (json!("pending"), json!(2))
    );
    let approve = |token: String| {
        let path = format!("/api/v1/passes/{id}/approve");
        async move { call(w, "POST", &path, Some(&token), json!({})).await }
    };
    assert_eq!(
        code_of(&approve(ADMIN.into()).await),
        (409, "pass_four_eyes")
    );
    assert_eq!(approve(officials[0].clone()).await.1["status"], "pending");
    assert_eq!(
        code_of(&approve(officials[0].clone()).await),
        (409, "pass_already_approved")
    );
    let (_, p) = approve(officials[1].clone()).await;
    assert_eq!(p["status"], "approved", "{p}");
    let pass = p["token"].as_str().unwrap().to_owned();
    assert!(pass.starts_with("XP1:"));
    let listed = get(w, "/api/v1/passes?employer=%E8%8B%8F%E5%B7%9E%E6%9F%90%E7%94%B5%E5%AD%90%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    let list = raw(w, "/api/v1/trust/signed").await;
    if let Some((status, out)) = python_verifies(anchor, &list, &pass) {
        assert_eq!(status, 0, "{out}");
        assert_eq!(out["pass"], json!(id[1..].parse::<u64>().unwrap()), "{out}");
        assert_eq!(out["route"], format!("{WUXI}>{SUZHOU}"));
    }
    let at_checkpoint = |code: &str, pass: &str| {
        check(
            s,
            json!({"code": code, "pass": pass, "category": "checkpoint"}),
        )
    };
    let v = at_checkpoint(c1, &pass).await;
    assert_eq!(
        (v["allow"].clone(), v["pass"].clone()),
        (json!(true), json!(id[1..].parse::<u64>().unwrap())),
        "{v}"
    );
    let c2 = code(w, 2).await;
    assert_eq!(
        at_checkpoint(&c2, &pass).await["reason"],
        "pass_holder_mismatch"
    );
    // An expired pass, signed with Wuxi's own key.
    let store = xikang_store::open(&Target::Sqlite(wuxi_dir.to_path_buf())).unwrap();
    let (_, k) = store.signing_keys().unwrap().into_iter().next().unwrap();
    let key = SigningKey::from_secret(k.secret, &k.jurisdiction, k.not_before, k.not_after);
    let now = xikang_server::now();
    let claims = xikang_code::decode_unverified(c1).unwrap().1;
    let expired = key.issue_pass(&PassClaims {
        issuer: WUXI.into(),
        subject: claims.subject,
        pass: 1,
        route: format!("{WUXI}>{SUZHOU}"),
        max_test_age_hours: 48,
        issued_at: now.plus(-7200),
        expires_at: now.plus(-60),
    });
    assert_eq!(at_checkpoint(c1, &expired).await["reason"], "pass_expired");

    // Revoked in Wuxi: refused there at once, in Suzhou from its next fetch of the list.
    let (status, r) = call(
        w,
        "POST",
        &format!("/api/v1/passes/{id}/revoke"),
        Some(ADMIN),
        json!({"reason": "left the employer"}),
    )
    .await;
    assert_eq!(
        (status, r["status"].clone()),
        (200, json!("revoked")),
        "{r}"
    );
    let own = check(
        w,
        json!({"code": c1, "pass": pass, "category": "checkpoint"}),
    )
    .await;
    assert_eq!(own["reason"], "pass_revoked");
    assert_eq!(
        at_checkpoint(c1, &pass).await["allow"],
        true,
        "Suzhou has not fetched yet"
    );
    relay.set(Mode::Forward);
    assert_eq!(refresh(s, "wuxi").await.0, 200);
    let v = at_checkpoint(c1, &pass).await;
    assert_eq!(
        (v["allow"].clone(), v["reason"].clone()),
        (json!(false), json!("pass_revoked")),
        "{v}"
    );
    assert_eq!(get(s, "/api/v1/peers").await[0]["revocations"], 1);
    let list = raw(w, "/api/v1/trust/signed").await;
    if let Some((status, out)) = python_verifies(anchor, &list, &pass) {
        assert_eq!(
            (status, out["code"].clone()),
            (3, json!("pass_revoked")),
            "{out}"
        );
    }
    let mut tampered = list.clone();
    let at = find(&tampered, b"\"revoked\"").unwrap() + 3;
    tampered[at] ^= 1;
    if let Some((status, out)) = python_verifies(anchor, &tampered, &pass) {
        assert_eq!(
            (status, out["code"].clone()),
            (2, json!("trust_list_tampered")),
            "{out}"
        );
    }
}

#[test]
fn peer_add_on_the_command_line_checks_the_anchor_and_logs_the_peer() {
    let dir = common::city_dir();
    let data = dir.path().to_str().unwrap();
    let root = SigningKey::from_secret([9; 32], SUZHOU, Timestamp(0), Timestamp(4_000_000_000));
    let anchor = serde_json::to_value(TrustAnchor::of(&root)).unwrap();
    let file = dir.path().join("suzhou-anchor.json");
    let mut bad = anchor.clone();
    bad["public_key"] = json!("00".repeat(32));
    std::fs::write(&file, bad.to_string()).unwrap();
    let add = |url: &str| {
        cli(&[
            "peer",
            "add",
            "--data",
            data,
            "suzhou",
            url,
            "--trust-anchor",
            file.to_str().unwrap(),
        ])
    };
    let (ok, out) = add("http://127.0.0.1:26001");
    assert!(!ok && out.contains("trust_anchor_invalid"), "{out}");
    std::fs::write(&file, anchor.to_string()).unwrap();
    let (ok, out) = add("ftp://elsewhere");
    assert!(!ok && out.contains("invalid_peer_url"), "{out}");
    let (ok, out) = add("http://127.0.0.1:26001");
    assert!(ok, "{out}");
    let store = xikang_store::open(&Target::Sqlite(dir.path().to_path_buf())).unwrap();
    let peers: Vec<String> = store
        .events_after(xikang_domain::EventSeq(0), 1_000_000)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::PeerAdded {
                name, jurisdiction, ..
            } => Some(format!("{name} {jurisdiction}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        peers,
        ["suzhou 320500"],
        "one peer, logged once: the refusals left nothing"
    );
}
