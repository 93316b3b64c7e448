//! Shared test helpers: `spawn_app()` starts the real server on port 0 over a fresh SQLite
//! store holding a small generated city.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]
#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failure should fail the test at once"
)]

pub mod pg;
pub mod web;

use serde_json::Value;
use std::sync::Arc;
use xikang::httpc::Conn;
use xikang_domain::event::EventBody;
use xikang_domain::time::DAY;
use xikang_domain::{AreaCode, CivilDay, EventSeq, PersonId};
use xikang_server::ServerConfig;
use xikang_server::auth::token_digest;
use xikang_server::state::AppState;
use xikang_store::{ApiToken, Store, Target};

#[derive(Debug)]
pub struct TestApp {
    pub addr: String,
    pub admin: String,
    /// A second city admin (another official, `admin:second-admin`): approves what the
    /// first proposes (issue 14: holds and hand-drawn zones take two officials).
    pub admin2: String,
    pub store: Arc<dyn Store>,
    pub state: Arc<AppState>,
    pub dir: tempfile::TempDir,
}

pub const PEOPLE: u32 = 400;

/// A whole 1×1 PNG: an inspection photo (docs/citizens.md).
pub const PNG: &[u8] = xikang_server::board::photos::TINY_PNG;

pub fn city_config() -> xikang_sim::CityConfig {
    xikang_sim::CityConfig {
        people: PEOPLE,
        days: 2,
        seed: 7,
        first_day: CivilDay(xikang_server::now().shanghai_day().0 - 1),
    }
}

/// A data directory with a small city in it.
pub fn city_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = xikang_store::open(&Target::Sqlite(dir.path().to_path_buf())).unwrap();
    xikang::load::generate_into(store.as_ref(), &city_config()).unwrap();
    dir
}

/// Runs the `xikang` binary as its own process on the data directory `dir`: whether it
/// succeeded, its stdout and its stderr.
pub fn xikang_cli(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xikang"))
        .args(args)
        .env("XIKANG_DATA", dir)
        .env("XIKANG_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn put_token(store: &dyn Store, token: &str, role: &str, area: &str) {
    put_token_expiring(store, token, role, area, xikang_server::now().plus(DAY));
}

/// Stores a token straight into the store (as `xikang token create` does) with the given
/// expiry, which may lie in the past: its id.
pub fn put_token_expiring(
    store: &dyn Store,
    token: &str,
    role: &str,
    area: &str,
    expires_at: xikang_domain::Timestamp,
) -> xikang_domain::TokenId {
    store
        .put_api_token(
            token_digest(token),
            &ApiToken {
                name: role.into(),
                role: role.into(),
                area: AreaCode::parse(area).unwrap(),
                venue: None,
                person: None,
                id_lookup: role == "admin",
                enterprise: None,
                created_at: xikang_server::now().plus(-DAY),
                expires_at,
            },
        )
        .unwrap()
}

/// Loads a server's state from `store` under the default policy and serves it on port 0
/// (a restart, when the store was served before): the state and its address.
pub async fn serve_store(store: Arc<dyn Store>, config: ServerConfig) -> (Arc<AppState>, String) {
    let state = load_state(store, config);
    let addr = serve_state(state.clone()).await;
    (state, addr)
}

/// Loads a server's state from `store` under the default policy.
pub fn load_state(store: Arc<dyn Store>, config: ServerConfig) -> Arc<AppState> {
    Arc::new(
        AppState::load(
            store,
            config,
            xikang_domain::policy::Policy::default_policy(),
            &xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML),
            xikang_server::now(),
        )
        .unwrap(),
    )
}

/// Serves `state` on port 0: its address.
pub async fn serve_state(state: Arc<AppState>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(
        async move { xikang_server::serve(listener, state, std::future::pending()).await },
    );
    addr
}

/// Runs `xikang audit verify` with `store_args` (`--data DIR` or `--database-url URL`) and
/// asserts that it passes: its stdout.
pub fn audit_verify(store_args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xikang"))
        .args(["audit", "verify"])
        .args(store_args)
        .env("XIKANG_LOG", "warn")
        .output()
        .unwrap();
    let said = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if !out.status.success() {
        panic!("xikang audit verify failed: {}", said(&out.stderr));
    }
    said(&out.stdout)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(ServerConfig::default()).await
}

pub async fn spawn_app_with(mut config: ServerConfig) -> TestApp {
    let dir = city_dir();
    // Inspection photos beside the test's data, as `xikang serve` keeps them.
    config
        .photo_dir
        .get_or_insert_with(|| dir.path().join("photos"));
    let store: Arc<dyn Store> =
        Arc::from(xikang_store::open(&Target::Sqlite(dir.path().to_path_buf())).unwrap());
    let admin = "xk_test_admin".to_owned();
    put_token(store.as_ref(), &admin, "admin", "320200");
    let admin2 = "xk_test_admin_second".to_owned();
    store
        .put_api_token(
            token_digest(&admin2),
            &ApiToken {
                name: "second-admin".into(),
                role: "admin".into(),
                area: AreaCode::parse("320200").unwrap(),
                venue: None,
                person: None,
                id_lookup: true,
                enterprise: None,
                created_at: xikang_server::now().plus(-DAY),
                expires_at: xikang_server::now().plus(365 * DAY),
            },
        )
        .unwrap();
    let (state, addr) = serve_store(store.clone(), config).await;
    // Tracing answers 503 until its index is loaded (milliseconds for this city).
    for _ in 0..1_000 {
        if state.projection.tracing.is_ready() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        state.projection.tracing.is_ready(),
        "the tracing index did not load"
    );
    // The ping index loads right after it.
    for _ in 0..1_000 {
        if state.projection.tracing.pings.is_ready() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        state.projection.tracing.pings.is_ready(),
        "the ping index did not load"
    );
    TestApp {
        addr,
        admin,
        admin2,
        store,
        state,
        dir,
    }
}

impl TestApp {
    pub async fn conn(&self) -> Conn {
        Conn::connect(&self.addr).await.unwrap()
    }

    /// Creates a token through the API.
    pub async fn token(&self, body: serde_json::Value) -> String {
        let r = self
            .conn()
            .await
            .post_json("/api/v1/tokens", Some(&self.admin), &body)
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_owned()
    }

    /// A token for `role` over `area`, named `name` (a grid worker's name picks their cells, a
    /// site manager's their sites), made by the city admin through the API.
    pub async fn role_token(&self, name: &str, role: &str, area: &str) -> String {
        self.token(serde_json::json!({"name": name, "role": role, "area": area}))
            .await
    }

    /// Any request: the status and the JSON body (`Null` when the body is not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
        let r = self
            .conn()
            .await
            .request(
                method,
                path,
                token,
                bytes.as_ref().map(|_| "application/json"),
                bytes.as_deref().unwrap_or(b""),
            )
            .await
            .unwrap();
        let v = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
        (r.status, v)
    }

    /// POST a JSON body: the status and the JSON answer.
    pub async fn post(
        &self,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.call("POST", path, Some(token), Some(&body)).await
    }

    /// A POST that must answer 200: its body.
    pub async fn post_ok(
        &self,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let (s, v) = self.post(token, path, body).await;
        assert_eq!(s, 200, "POST {path}: {v}");
        v
    }

    /// Puts a policy file in force now: uploaded and proposed by the city admin, approved by
    /// the second one (docs/policies.md).
    pub async fn switch_policy(&self, text: &str) {
        let (s, up) = self
            .post(
                &self.admin,
                "/api/v1/policies",
                serde_json::json!({"text": text}),
            )
            .await;
        assert!(s == 201 || s == 200, "{up}");
        let path = format!("/api/v1/policies/{}", up["version"].as_str().unwrap());
        let at = xikang_server::now().to_rfc3339();
        let (s, v) = self
            .post(
                &self.admin,
                &format!("{path}/activate"),
                serde_json::json!({"effective_from": at}),
            )
            .await;
        assert_eq!(s, 202, "{v}");
        let (s, v) = self
            .post(
                &self.admin2,
                &format!("{path}/approve"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }

    /// Uploads `bytes` as an inspection photo with the given content type: the status and
    /// the JSON answer (docs/citizens.md).
    pub async fn upload_photo(
        &self,
        token: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> (u16, serde_json::Value) {
        let r = self
            .conn()
            .await
            .request(
                "POST",
                "/api/v1/inspections/photos",
                Some(token),
                Some(content_type),
                bytes,
            )
            .await
            .unwrap();
        let v = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
        (r.status, v)
    }

    /// GET: the status and the JSON answer.
    pub async fn get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        self.call("GET", path, Some(token), None).await
    }

    /// Draws a zone as the city admin (a proposal, 202) and approves it as the second admin
    /// (issue 14: a zone drawn by hand takes two officials). The proposal's refusal, or the
    /// approval's status and answer (the zone's id under `zone`).
    pub async fn draw_zone(&self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let (s, v) = self.post(&self.admin, "/api/v1/zones", body).await;
        if s != 202 {
            return (s, v);
        }
        let p = v["proposal"].as_str().unwrap();
        self.post(
            &self.admin2,
            &format!("/api/v1/zones/proposals/{p}/approve"),
            serde_json::json!({}),
        )
        .await
    }

    /// The resident whose case the contact decisions of [`TestApp::confirm_contact`] name.
    pub const INDEX_PERSON: PersonId = PersonId(PEOPLE - 1);

    /// Records a tracer's confirmed contact decision about `person` in a case of
    /// [`TestApp::INDEX_PERSON`] (registered on first use), as `POST /cases/{id}/contacts/
    /// {person}` `confirm` would after finding them in the data: the evidence a
    /// close- or secondary-contact order must cite. Setup for tests about orders; the
    /// decision workflow itself is tested in `trace.rs` and `trust.rs`.
    pub async fn confirm_contact(&self, person: &str, kind: xikang_domain::event::ContactKind) {
        use xikang_domain::event::{CaseKind, NewEvent};
        let now = xikang_server::now();
        let open = xikang_server::state::read(&self.state.projection.cases)
            .values()
            .find(|c| c.person == Self::INDEX_PERSON && c.is_open())
            .map(|c| c.id);
        let case = match open {
            Some(c) => c,
            None => {
                let id = xikang_domain::CaseId(
                    xikang_server::state::read(&self.state.projection.cases)
                        .keys()
                        .next_back()
                        .map_or(1, |c| c.0 + 1),
                );
                self.state
                    .record(vec![NewEvent {
                        at: now,
                        actor: "tracer:test".into(),
                        basis: "case report".into(),
                        body: EventBody::CaseRegistered {
                            case: id,
                            person: Self::INDEX_PERSON,
                            case_kind: CaseKind::Confirmed,
                            onset: Some(now.plus(-2 * 86_400)),
                            sampled_at: None,
                            isolated_at: None,
                        },
                    }])
                    .await
                    .unwrap();
                id
            }
        };
        self.state
            .record(vec![NewEvent {
                at: now,
                actor: "tracer:test".into(),
                basis: "tracer confirmed the contact".into(),
                body: EventBody::ContactDesignated {
                    person: PersonId::parse(person).unwrap(),
                    case,
                    contact_kind: kind,
                    last_exposure: now.plus(-86_400),
                },
            }])
            .await
            .unwrap();
    }

    /// [`TestApp::confirm_contact`] as a close contact.
    pub async fn confirm_close_contact(&self, person: &str) {
        self.confirm_contact(person, xikang_domain::event::ContactKind::Close)
            .await;
    }

    /// A centralized quarantine site in `area` at latitude `lat`, managed by `manager`, made
    /// by the city admin: its id.
    pub async fn quarantine_site(
        &self,
        name: &str,
        area: &str,
        capacity: u32,
        lat: f64,
        manager: &str,
    ) -> String {
        let (s, v) = self
            .post(
                &self.admin,
                "/api/v1/quarantine/sites",
                serde_json::json!({"name": name, "kind": "centralized", "area": area, "lat": lat,
                    "lon": 120.3, "capacity": capacity, "manager": manager}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Puts an origin on the arrivals' risk list (`risk`: high, medium or low).
    pub async fn origin(&self, code: &str, name: &str, risk: &str) {
        let (s, v) = self
            .post(
                &self.admin,
                "/api/v1/arrivals/origins",
                serde_json::json!({"code": code, "name": name, "risk": risk}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }

    pub async fn device(&self) -> String {
        self.token(serde_json::json!({"name": "door-1", "role": "venue_device", "area": "320200"}))
            .await
    }

    /// A venue whose category has no test requirement.
    pub fn plain_venue(&self) -> String {
        let policy = self.state.policy();
        self.state
            .projection
            .venues
            .list
            .iter()
            .find(|v| policy.venue_requirement(&v.category).is_none())
            .unwrap()
            .place_code
            .to_string()
    }

    /// The districts of the city, the most populous first.
    pub fn districts(&self) -> Vec<String> {
        let mut count: std::collections::HashMap<String, usize> = Default::default();
        for i in 0..PEOPLE {
            if let Some(a) = self.state.projection.person_area(PersonId(i)) {
                *count.entry(a.district().to_string()).or_default() += 1;
            }
        }
        let mut by_size: Vec<(usize, String)> = count.into_iter().map(|(d, n)| (n, d)).collect();
        by_size.sort_by(|a, b| b.cmp(a));
        by_size.into_iter().map(|(_, d)| d).collect()
    }

    /// The people living in `district` (a six-digit code), by number (`P{n}`).
    pub fn residents_of(&self, district: &str) -> Vec<u32> {
        (0..PEOPLE)
            .filter(|i| {
                self.state
                    .projection
                    .person_area(PersonId(*i))
                    .is_some_and(|a| a.district().to_string() == district)
            })
            .collect()
    }

    /// A person's colour (`person` as `P12`), read by the city admin.
    pub async fn colour(&self, person: &str) -> String {
        let (s, v) = self
            .get(&self.admin, &format!("/api/v1/people/{person}/code"))
            .await;
        assert_eq!(s, 200, "{v}");
        v["colour"].as_str().unwrap().to_owned()
    }

    /// How many events the authority log holds (its verified chain's length).
    pub fn events(&self) -> u64 {
        self.store.verify_chain().unwrap().verified
    }

    /// The sequence number of the log's last event.
    pub fn head(&self) -> EventSeq {
        let mut last = EventSeq(0);
        loop {
            let b = self.store.events_after(last, 10_000).unwrap();
            match b.last() {
                Some(e) => last = e.seq,
                None => return last,
            }
        }
    }

    /// The bodies of the events logged after `seq`.
    pub fn events_after(&self, seq: EventSeq) -> Vec<EventBody> {
        self.store
            .events_after(seq, 10_000)
            .unwrap()
            .into_iter()
            .map(|e| e.body)
            .collect()
    }

    /// A sampling site in 320200 (cell 1), made by the city admin: its id.
    pub async fn sampling_site(&self) -> String {
        let (s, v) = self
            .post(
                &self.admin,
                "/api/v1/sampling-sites",
                serde_json::json!({"name": "广场采样点", "area": "320200", "cell": 1}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// A round over 320200 that began two hours ago and ends `deadline_secs` from now, made
    /// by the city admin: its id.
    pub async fn round(&self, deadline_secs: i64) -> String {
        let now = xikang_server::now();
        let (s, v) = self
            .post(
                &self.admin,
                "/api/v1/rounds",
                serde_json::json!({"name": "第一轮全员核酸", "area": "320200",
                       "starts_at": now.plus(-7200).to_rfc3339(),
                       "deadline": now.plus(deadline_secs).to_rfc3339()}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Opens one tube at `site` (for `round`) as `token`; it must be accepted.
    pub async fn open_tube(
        &self,
        token: &str,
        barcode: &str,
        site: &str,
        round: Option<&str>,
        capacity: u8,
    ) {
        let (s, v) = self
            .post(
                token,
                "/api/v1/tubes",
                serde_json::json!({"tubes": [{"barcode": barcode, "site": site, "round": round,
                    "capacity": capacity}]}),
            )
            .await;
        assert_eq!(
            (s, v["accepted"].clone()),
            (200, serde_json::json!(1)),
            "{v}"
        );
    }

    /// Swabs `people` (by number) into a tube as `token`, each by their code: the answer.
    pub async fn swab(&self, token: &str, barcode: &str, people: &[u32]) -> (u16, Value) {
        let mut samples = Vec::new();
        for p in people {
            let code = self.code_token(&format!("P{p}")).await;
            samples.push(serde_json::json!({"tube": barcode, "token": code}));
        }
        self.post(
            token,
            "/api/v1/samples",
            serde_json::json!({"samples": samples}),
        )
        .await
    }

    /// Swabs `people` into a tube as `token`; every sample must be accepted.
    pub async fn swab_all(&self, token: &str, barcode: &str, people: &[u32]) {
        let (s, v) = self.swab(token, barcode, people).await;
        assert_eq!(
            (s, v["accepted"].clone()),
            (200, serde_json::json!(people.len())),
            "{v}"
        );
    }

    /// Ships the tubes in one batch and receives it, as `token`; every tube must be accepted.
    pub async fn ship_and_receive(&self, token: &str, barcodes: &[&str]) {
        let (s, v) = self
            .post(
                token,
                "/api/v1/batches",
                serde_json::json!({"courier": "顺丰-07", "lab": "kingmed", "tubes": barcodes}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["accepted"], barcodes.len(), "{v}");
        let batch = v["batch"].as_str().unwrap().to_owned();
        let (s, v) = self
            .post(
                token,
                &format!("/api/v1/batches/{batch}/receive"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["accepted"], barcodes.len(), "{v}");
    }

    pub async fn code_token(&self, person: &str) -> String {
        let r = self
            .conn()
            .await
            .get(&format!("/api/v1/people/{person}/code"), Some(&self.admin))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["token"].as_str().unwrap().to_owned()
    }
}

/// Up to `n` place codes of the city in `dir` whose venue category has no entry requirement
/// (a green code is let in), for scan loads.
pub fn plain_places(dir: &std::path::Path, n: usize) -> Vec<String> {
    let store = xikang_store::open(&Target::Sqlite(dir.to_path_buf())).unwrap();
    plain_places_in(store.as_ref(), n)
}

/// [`plain_places`] of the city in `store`.
pub fn plain_places_in(store: &dyn Store, n: usize) -> Vec<String> {
    let policy = xikang_domain::policy::Policy::default_policy();
    store
        .all_venues()
        .unwrap()
        .into_iter()
        .filter(|v| policy.venue_requirement(&v.category).is_none())
        .map(|v| v.place_code.to_string())
        .take(n)
        .collect()
}

/// A venue device's token and the code tokens of `P0`…, made through the API of the server
/// at `addr` as the admin `admin`.
pub async fn device_and_codes(addr: &str, admin: &str, people: u32) -> (String, Vec<String>) {
    let mut c = Conn::connect(addr).await.unwrap();
    let r = c
        .post_json(
            "/api/v1/tokens",
            Some(admin),
            &serde_json::json!({"name": "d", "role": "venue_device", "area": "320200"}),
        )
        .await
        .unwrap();
    let device = r.json()["token"].as_str().unwrap().to_owned();
    let mut codes = Vec::new();
    for p in 0..people {
        let v = c
            .get(&format!("/api/v1/people/P{p}/code"), Some(admin))
            .await
            .unwrap()
            .json();
        codes.push(v["token"].as_str().unwrap().to_owned());
    }
    (device, codes)
}

/// How many acknowledged scans (person number, place code), made in the last ten minutes,
/// the store in `dir` does not hold.
pub fn lost_scans(dir: &std::path::Path, acked: &[(u32, String)]) -> usize {
    let store = xikang_store::open(&Target::Sqlite(dir.to_path_buf())).unwrap();
    lost_scans_in(store.as_ref(), acked)
}

/// How many acknowledged scans (person number, place code), made in the last ten minutes,
/// `store` does not hold.
pub fn lost_scans_in(store: &dyn Store, acked: &[(u32, String)]) -> usize {
    let by_code: std::collections::HashMap<String, xikang_domain::VenueId> = store
        .all_venues()
        .unwrap()
        .into_iter()
        .map(|v| (v.place_code.to_string(), v.id))
        .collect();
    let now = xikang_server::now();
    acked
        .iter()
        .filter(|(p, place)| {
            let rows = store
                .checkins_of_person(PersonId(*p), now.plus(-600), now.plus(600))
                .unwrap();
            !rows.iter().any(|c| c.venue == by_code[place])
        })
        .count()
}

/// A starting server's stdout up to its `try:` line (or its end): the greeting.
pub fn read_greeting(out: std::process::ChildStdout) -> String {
    use std::io::BufRead;
    let mut greeting = String::new();
    for line in std::io::BufReader::new(out).lines() {
        let line = line.unwrap();
        greeting.push_str(&line);
        greeting.push('\n');
        if line.starts_with("try:") {
            break;
        }
    }
    greeting
}

/// Scans acknowledged as let in: (person number, place code).
pub type Acked = Arc<std::sync::Mutex<Vec<(u32, String)>>>;

/// Starts a scan load on the server at `addr`: 8 connections of a venue device (made as
/// `admin`) scanning the codes of 60 people at `places` in a loop, `batch` scans a request
/// (1: the single-scan body), until the server goes away. The tasks, and the scans
/// acknowledged so far.
pub async fn start_scan_load(
    addr: &str,
    admin: &str,
    places: Vec<String>,
    batch: usize,
) -> (Vec<tokio::task::JoinHandle<()>>, Acked) {
    let (device, codes) = device_and_codes(addr, admin, 60).await;
    let (codes, places) = (Arc::new(codes), Arc::new(places));
    let acked = Acked::default();
    let mut tasks = Vec::new();
    for w in 0..8usize {
        let (addr, device, codes, places, acked) = (
            addr.to_owned(),
            device.clone(),
            codes.clone(),
            places.clone(),
            acked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let Ok(mut c) = Conn::connect(&addr).await else {
                return;
            };
            for k in 0.. {
                let p = (w * 131 + k * 7) % codes.len();
                let place = &places[(w + k) % places.len()];
                let scan = |i: usize| {
                    serde_json::json!({"place_code": place, "token": codes[(p + i) % codes.len()]})
                };
                let body = if batch == 1 {
                    scan(0)
                } else {
                    serde_json::json!({"scans": (0..batch).map(scan).collect::<Vec<_>>()})
                };
                let r = match c.post_json("/api/v1/scans", Some(&device), &body).await {
                    Ok(r) if r.status == 200 => r.json(),
                    Ok(_) => continue,
                    Err(_) => return, // the server is gone
                };
                let answers = match r["results"].as_array() {
                    Some(items) => items.clone(),
                    None => vec![serde_json::json!({"index": 0, "decision": r["decision"]})],
                };
                let mut a = acked.lock().unwrap();
                for item in answers {
                    if item["decision"] == "allow" {
                        let i = item["index"].as_u64().unwrap() as usize;
                        a.push((((p + i) % codes.len()) as u32, place.clone()));
                    }
                }
            }
        }));
    }
    (tasks, acked)
}

/// Asserts that at least `at_least` scans were acknowledged (fewer prove nothing) and that
/// the store in `dir` holds every one of them.
pub fn assert_no_acknowledged_scan_lost(dir: &std::path::Path, acked: &Acked, at_least: usize) {
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= at_least,
        "too few scans acknowledged to prove anything: {}",
        acked.len()
    );
    let missing = lost_scans(dir, &acked);
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged scans lost",
        acked.len()
    );
}
