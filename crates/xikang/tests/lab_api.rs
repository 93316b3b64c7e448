//! Testing and vaccination end to end: the real server on port 0 over a real SQLite store.

#![expect(
    clippy::unwrap_used,
    reason = "end-to-end tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use xikang::httpc::Conn;
use xikang_domain::testing::RoundId;

struct Lab {
    app: TestApp,
    lab: String,
    c: Conn,
}

impl Lab {
    async fn new() -> Lab {
        let app = spawn_app().await;
        let lab = app.role_token("lab-1", "lab", "320200").await;
        let c = app.conn().await;
        Lab { app, lab, c }
    }

    async fn post(&mut self, path: &str, body: Value) -> (u16, Value) {
        self.app.post(&self.lab, path, body).await
    }

    async fn admin_post(&mut self, path: &str, body: Value) -> (u16, Value) {
        self.app.post(&self.app.admin, path, body).await
    }

    async fn get(&mut self, path: &str) -> Value {
        let (s, v) = self.app.get(&self.app.admin, path).await;
        assert_eq!(s, 200, "{path}: {v}");
        v
    }

    async fn csv(&mut self, path: &str, text: &str) -> (u16, Value) {
        let r = self
            .c
            .request(
                "POST",
                path,
                Some(&self.lab),
                Some("text/csv"),
                text.as_bytes(),
            )
            .await
            .unwrap();
        (r.status, r.json())
    }

    async fn colour(&mut self, person: &str) -> Value {
        self.get(&format!("/api/v1/people/{person}/code")).await
    }

    async fn site(&mut self) -> String {
        self.app.sampling_site().await
    }

    async fn round(&mut self, deadline_secs: i64) -> String {
        self.app.round(deadline_secs).await
    }

    async fn open(&mut self, barcode: &str, site: &str, round: Option<&str>, capacity: u8) {
        self.app
            .open_tube(&self.lab, barcode, site, round, capacity)
            .await;
    }

    async fn bind(&mut self, barcode: &str, people: &[u32]) -> Value {
        let (s, v) = self.app.swab(&self.lab, barcode, people).await;
        assert!(s == 200 || s == 422, "{v}");
        v
    }

    async fn ship_and_receive(&mut self, barcodes: &[&str]) {
        self.app.ship_and_receive(&self.lab, barcodes).await;
    }
}

/// The server state rebuilt from the store, as at a restart.
fn reload(app: &TestApp) -> xikang_server::state::AppState {
    xikang_server::state::AppState::load(
        app.store.clone(),
        xikang_server::ServerConfig::default(),
        xikang_domain::policy::Policy::default_policy(),
        &xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML),
        xikang_server::now(),
    )
    .unwrap()
}

fn errors(v: &Value) -> Vec<(u64, String)> {
    let list = v["results"]
        .as_array()
        .or_else(|| v["error"]["details"]["results"].as_array())
        .unwrap();
    list.iter()
        .filter(|x| x.get("error").is_some())
        .map(|x| {
            (
                x["index"].as_u64().unwrap(),
                x["error"]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooled_round_binds_by_code_fans_out_a_positive_pool_and_releases_on_the_retest() {
    let mut t = Lab::new().await;
    let site = t.site().await;
    let round = t.round(3600).await;
    t.open("WX-POOL-1", &site, Some(&round), 10).await;
    t.open("WX-NEG-1", &site, Some(&round), 10).await;

    // Ten swabs fill the pooled tube, which seals itself on the tenth.
    let v = t.bind("WX-POOL-1", &(1..=10).collect::<Vec<_>>()).await;
    assert_eq!(v["accepted"], 10, "{v}");
    assert_eq!(v["results"][9]["sealed"], true, "{v}");
    assert_eq!(v["results"][8]["sealed"], false, "{v}");
    // Bad items are refused one by one, the good ones kept.
    let token1 = t.app.code_token("P1").await;
    let token11 = t.app.code_token("P11").await;
    let token12 = t.app.code_token("P12").await;
    let (s, v) = t
        .post(
            "/api/v1/samples",
            json!({"samples": [
                {"tube": "WX-NEG-1", "token": token11},
                {"tube": "WX-NEG-1", "token": token1},
                {"tube": "WX-POOL-1", "token": token12},
                {"tube": "WX-NOPE-1", "token": token12},
                {"tube": "WX-NEG-1", "token": "XK1:not-a-code"},
                {"tube": "WX-NEG-1", "token": token12},
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accepted"], 2, "{v}");
    let errs = errors(&v);
    assert_eq!(
        errs.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(errs[0].1, "already_sampled");
    assert_eq!(errs[1].1, "tube_not_open");
    assert_eq!(errs[2].1, "unknown_tube");
    let (s, v) = t
        .post("/api/v1/tubes/seal", json!({"tubes": ["WX-NEG-1"]}))
        .await;
    assert_eq!((s, v["accepted"].clone()), (200, json!(1)), "{v}");

    // A result before the lab has received the tube is refused.
    let (s, v) = t.csv("/api/v1/lab-results", "WX-NEG-1,negative\n").await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(errors(&v)[0].1, "tube_not_received");

    t.ship_and_receive(&["WX-POOL-1", "WX-NEG-1"]).await;
    let (s, v) = t
        .csv(
            "/api/v1/lab-results",
            // What Excel's "CSV UTF-8" writes: a byte-order mark, CRLF and quoted fields
            // (one holding a comma): the reader takes them as one field each.
            "\u{feff}barcode,outcome,ct,resulted_at\r\n\"WX-POOL-1\",positive,\"31.2\"\r\n\"WX-NEG-1\",\"阴性\"\r\nWX-GONE-9,negative\r\nWX-NEG-1,\"maybe, later\"\r\n",
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accepted"], 2, "{v}");
    assert_eq!(v["results"][0]["holds"], 10, "{v}");
    assert_eq!(v["results"][0]["line"], 2, "{v}");
    assert_eq!(v["results"][2]["error"]["code"], "unknown_tube", "{v}");
    assert_eq!(v["results"][3]["line"], 5, "{v}");
    assert_eq!(v["results"][3]["error"]["code"], "invalid_outcome", "{v}");
    // The same result again is refused: nothing is applied twice.
    let (s, v) = t.csv("/api/v1/lab-results", "WX-NEG-1,negative\n").await;
    assert_eq!((s, errors(&v)[0].1.as_str()), (422, "already_resulted"));

    // Colours: the pool is held (yellow by the default policy), the negative tube released.
    let held = t.colour("P3").await;
    assert_eq!(held["colour"], "yellow", "{held}");
    let released = t.colour("P11").await;
    assert_eq!(released["colour"], "green", "{released}");
    assert_eq!(released["test_age_days"], 0, "{released}");
    let tasks = t.get("/api/v1/lab-tasks?kind=single_tube_retest").await;
    assert_eq!(tasks["count"], 10, "{tasks}");

    // Coverage, in the published form.
    let status = t.get(&format!("/api/v1/rounds/{round}")).await;
    assert_eq!(status["total"]["sampled"], 12, "{status}");
    assert_eq!(status["total"]["resulted"], 12, "{status}");
    assert_eq!(status["total"]["abnormal"], 10, "{status}");
    assert_eq!(status["total"]["expected"], PEOPLE, "{status}");
    assert!(
        status["published"]
            .as_str()
            .unwrap()
            .contains("异常待复核 10")
    );

    // The retest goes into a single tube: a pooled one is refused for a held member.
    t.open("WX-POOL-2", &site, None, 10).await;
    let v = t.bind("WX-POOL-2", &[3]).await;
    assert_eq!(errors(&v)[0].1, "retest_needs_single_tube", "{v}");
    t.open("WX-RE-3", &site, None, 1).await;
    let v = t.bind("WX-RE-3", &[3]).await;
    assert_eq!(v["results"][0]["sealed"], true, "{v}");
    t.ship_and_receive(&["WX-RE-3"]).await;
    let (s, v) = t.csv("/api/v1/lab-results", "WX-RE-3,negative\n").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(t.colour("P3").await["colour"], "green");
    assert_eq!(
        t.get("/api/v1/lab-tasks?kind=single_tube_retest").await["count"],
        9
    );
    let status = t.get(&format!("/api/v1/rounds/{round}")).await;
    assert_eq!(status["total"]["abnormal"], 9, "{status}");

    // A positive single tube makes a suspected case for a tracer, and the code red.
    t.open("WX-RE-4", &site, None, 1).await;
    t.bind("WX-RE-4", &[4]).await;
    t.ship_and_receive(&["WX-RE-4"]).await;
    let (s, v) = t.csv("/api/v1/lab-results", "WX-RE-4,positive,24\n").await;
    assert_eq!(s, 200, "{v}");
    let case = v["results"][0]["suspected_case"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = t.get(&format!("/api/v1/cases/{case}")).await;
    assert_eq!(
        (c["person"].as_str(), c["kind"].as_str()),
        (Some("P4"), Some("suspected")),
        "{c}"
    );
    assert_eq!(t.colour("P4").await["colour"], "red");

    // Tube states and turnaround.
    let tube = t.get("/api/v1/tubes/WX-POOL-1").await;
    assert_eq!(
        (tube["state"].as_str(), tube["members"].as_u64()),
        (Some("resulted"), Some(10))
    );
    assert!(
        tube["turnaround_secs"]["received_to_resulted"].is_i64(),
        "{tube}"
    );
    let states = t.get("/api/v1/tubes").await;
    assert_eq!(states["states"]["resulted"], 4, "{states}");
    assert_eq!(states["states"]["open"], 1, "{states}");

    // The authority log holds one event for the negative tube, not one per member, and the
    // chain still verifies.
    let audit = t.get("/api/v1/audit").await;
    assert_eq!(audit["ok"], true, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_tube_asks_for_resamples_whose_results_complete_the_round() {
    let mut t = Lab::new().await;
    let site = t.site().await;
    let round = t.round(3600).await;
    t.open("WX-BAD-1", &site, Some(&round), 10).await;
    t.bind("WX-BAD-1", &[1, 2, 3]).await;
    t.post("/api/v1/tubes/seal", json!({"tubes": ["WX-BAD-1"]}))
        .await;
    t.ship_and_receive(&["WX-BAD-1"]).await;
    let (s, v) = t.csv("/api/v1/lab-results", "WX-BAD-1,invalid\n").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(t.get("/api/v1/tubes/WX-BAD-1").await["state"], "invalid");
    let tasks = t.get("/api/v1/lab-tasks?kind=resample").await;
    assert_eq!(tasks["count"], 3, "{tasks}");
    let status = t.get(&format!("/api/v1/rounds/{round}")).await;
    assert_eq!(
        (&status["total"]["sampled"], &status["total"]["resulted"]),
        (&json!(3), &json!(0)),
        "{status}"
    );

    // Two of the three are swabbed again; their results complete the round's count.
    t.open("WX-AGAIN-1", &site, None, 10).await;
    let v = t.bind("WX-AGAIN-1", &[1, 2]).await;
    assert_eq!(v["accepted"], 2, "{v}");
    t.post("/api/v1/tubes/seal", json!({"tubes": ["WX-AGAIN-1"]}))
        .await;
    t.ship_and_receive(&["WX-AGAIN-1"]).await;
    let (s, v) = t.csv("/api/v1/lab-results", "WX-AGAIN-1,negative\n").await;
    assert_eq!(s, 200, "{v}");
    let tasks = t.get("/api/v1/lab-tasks?kind=resample").await;
    assert_eq!(tasks["count"], 1, "{tasks}");
    let status = t.get(&format!("/api/v1/rounds/{round}")).await;
    assert_eq!(
        (&status["total"]["sampled"], &status["total"]["resulted"]),
        (&json!(3), &json!(2)),
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tubes_are_refused_per_item_and_stuck_tubes_are_listed() {
    let mut t = Lab::new().await;
    let site = t.site().await;
    let round = t.round(3600).await;
    let (s, v) = t
        .post(
            "/api/v1/tubes",
            json!({"tubes": [
                {"barcode": "WX-A-1", "site": site, "round": round, "capacity": 10},
                {"barcode": "WX-A-1", "site": site, "round": round, "capacity": 10},
                {"barcode": "WX-A-2", "site": site, "round": round, "capacity": 30},
                {"barcode": "wx a", "site": site, "capacity": 1},
                {"barcode": "WX-A-3", "site": "S99", "capacity": 1},
                {"barcode": "WX-A-4", "site": site, "round": "R99", "capacity": 1},
                {"barcode": "WX-A-5", "site": site, "capacity": 5, "colour": "red"},
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accepted"], 1);
    let codes: Vec<String> = errors(&v).into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        codes,
        [
            "barcode_reused",
            "invalid_pool_size",
            "invalid_barcode",
            "unknown_site",
            "unknown_round",
            "invalid_tube"
        ]
    );
    // Every item bad: 422, nothing recorded.
    let (s, v) = t
        .post(
            "/api/v1/tubes",
            json!({"tubes": [{"barcode": "WX-A-1", "site": site, "capacity": 1}]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("no_valid_items"))
    );
    // A sealed tube never shipped is stuck after the policy's hours (0 here: at once).
    t.bind("WX-A-1", &[20]).await;
    t.post("/api/v1/tubes/seal", json!({"tubes": ["WX-A-1"]}))
        .await;
    let stuck = t
        .get("/api/v1/tubes/stuck?transport_hours=0&lab_hours=0")
        .await;
    assert_eq!(stuck["count"], 1, "{stuck}");
    assert_eq!(stuck["items"][0]["barcode"], "WX-A-1");
    let stuck = t.get("/api/v1/tubes/stuck").await;
    assert_eq!(stuck["count"], 0, "{stuck}");
    // A sampler of another district may neither open tubes at this site nor bind into them.
    let other = t.app.role_token("lab-2", "lab", "320205").await;
    let r =
        t.c.post_json(
            "/api/v1/tubes",
            Some(&other),
            &json!({"tubes": [{"barcode": "WX-B-1", "site": site, "capacity": 1}]}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, errors(&r.json())[0].1.as_str()),
        (422, "site_not_allowed")
    );
    t.open("WX-B-2", &site, None, 10).await;
    let token = t.app.code_token("P21").await;
    let r =
        t.c.post_json(
            "/api/v1/samples",
            Some(&other),
            &json!({"samples": [{"tube": "WX-B-2", "token": token}]}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, errors(&r.json())[0].1.as_str()),
        (422, "site_not_allowed")
    );
    // Shipping an open or unknown tube is refused.
    let (s, v) = t
        .post(
            "/api/v1/batches",
            json!({"courier": "c", "lab": "l", "tubes": ["WX-NONE"]}),
        )
        .await;
    assert_eq!((s, errors(&v)[0].1.as_str()), (422, "unknown_tube"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_round_records_missed_tests_that_a_negative_clears_and_a_restart_keeps_coverage()
{
    let mut t = Lab::new().await;
    let site = t.site().await;
    let round = t.round(-1).await;
    t.open("WX-C-1", &site, Some(&round), 10).await;
    t.bind("WX-C-1", &[1, 2]).await;
    let status = t.get(&format!("/api/v1/rounds/{round}")).await;
    let cell = status["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["sampled"].as_u64() == Some(0))
        .unwrap()["cell"]
        .as_u64()
        .unwrap();
    let unsampled = t
        .get(&format!("/api/v1/rounds/{round}/unsampled?cell={cell}"))
        .await;
    let someone = unsampled["people"][0].as_str().unwrap().to_owned();
    assert!(unsampled["count"].as_u64().unwrap() >= 1);

    let (s, v) = t
        .admin_post(&format!("/api/v1/rounds/{round}/close"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["missed_tests_recorded"], PEOPLE - 2, "{v}");
    let (s, _) = t
        .admin_post(&format!("/api/v1/rounds/{round}/close"), json!({}))
        .await;
    assert_eq!(s, 409);
    let missed = t.colour(&someone).await;
    assert_eq!(missed["colour"], "yellow", "{missed}");
    // The unsampled residents became tasks on their grid workers' lists with the closing
    // (what `POST /grid/unsampled` does), one per resident of the unsampled cell.
    let tasks = t
        .get(&format!("/api/v1/grid/tasks?cell={cell}&limit=500"))
        .await;
    let unsampled_tasks: Vec<&str> = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "unsampled_resident")
        .map(|t| t["person"].as_str().unwrap())
        .collect();
    assert_eq!(
        unsampled_tasks.len() as u64,
        unsampled["count"].as_u64().unwrap().min(500),
        "{tasks}"
    );
    assert!(unsampled_tasks.contains(&someone.as_str()));
    // A negative result clears it.
    t.open("WX-C-2", &site, None, 1).await;
    let id: u32 = someone[1..].parse().unwrap();
    t.bind("WX-C-2", &[id]).await;
    t.ship_and_receive(&["WX-C-2"]).await;
    let (s, v) = t.csv("/api/v1/lab-results", "WX-C-2,negative\n").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(t.colour(&someone).await["colour"], "green");

    // A round whose deadline passes is closed by the server's sweep itself, with the
    // same missed tests and tasks.
    let second = t.round(-1).await;
    let (s, v) = t.admin_post("/api/v1/duties/sweep", json!({})).await;
    assert_eq!((s, v["rounds_closed"].as_u64()), (200, Some(1)), "{v}");
    let status = t.get(&format!("/api/v1/rounds/{second}")).await;
    assert!(status["closed_at"].is_string(), "{status}");
    let (s, _) = t
        .admin_post(&format!("/api/v1/rounds/{second}/close"), json!({}))
        .await;
    assert_eq!(s, 409, "closed once");

    // A restart rebuilds the same coverage from the store.
    let before = xikang_server::lab::round_status(&t.app.state, RoundId(1)).unwrap();
    let reloaded = reload(&t.app);
    let after = xikang_server::lab::round_status(&reloaded, RoundId(1)).unwrap();
    assert_eq!(before.total, after.total);
    assert_eq!(before.cells, after.cells);
    assert_eq!(
        xikang_server::lab::state_counts(&reloaded),
        xikang_server::lab::state_counts(&t.app.state)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rounds_deadline_moves_only_later_with_a_reason_by_an_official_over_its_area_and_is_logged()
 {
    let mut t = Lab::new().await;
    let round = t.round(3600).await;
    let path = format!("/api/v1/rounds/{round}/deadline");
    let now = xikang_server::now();
    let later = now.plus(3 * 3600);
    let admin = t.app.admin.clone();
    let district = t.app.role_token("liangxi", "admin", "320213").await;
    let lab = t.lab.clone();
    async fn post(c: &mut Conn, path: &str, token: &str, body: Value) -> (u16, Value) {
        let r = c.post_json(path, Some(token), &body).await.unwrap();
        (r.status, r.json())
    }
    let before = t
        .app
        .store
        .events_after(xikang_domain::EventSeq(0), 1_000_000)
        .unwrap()
        .len();
    // Refused, and nothing changes: no reason, earlier or in the past, the wrong caller,
    // an unknown field.
    for (token, body, status, code) in [
        (
            &admin,
            json!({"deadline": later.to_rfc3339(), "reason": " "}),
            400,
            "reason_required",
        ),
        (
            &admin,
            json!({"deadline": now.plus(1800).to_rfc3339(), "reason": "雨天"}),
            400,
            "deadline_not_later",
        ),
        (
            &admin,
            json!({"deadline": "tomorrow", "reason": "雨天"}),
            400,
            "invalid_time",
        ),
        (
            &admin,
            json!({"deadline": later.to_rfc3339(), "reason": "雨天", "x": 1}),
            400,
            "invalid_json",
        ),
        (
            &district,
            json!({"deadline": later.to_rfc3339(), "reason": "雨天"}),
            403,
            "forbidden",
        ),
        (
            &lab,
            json!({"deadline": later.to_rfc3339(), "reason": "雨天"}),
            403,
            "forbidden",
        ),
    ] {
        let (s, v) = post(&mut t.c, &path, token, body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{v}"
        );
    }
    let (s, v) = post(
        &mut t.c,
        "/api/v1/rounds/R99/deadline",
        &admin,
        json!({"deadline": later.to_rfc3339(), "reason": "雨天"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("unknown_round")),
        "{v}"
    );
    let events = t
        .app
        .store
        .events_after(xikang_domain::EventSeq(0), 1_000_000)
        .unwrap();
    assert_eq!(events.len(), before, "a refused change logs nothing");

    let (s, v) = post(
        &mut t.c,
        &path,
        &admin,
        json!({"deadline": later.to_rfc3339(), "reason": "暴雨，采样点延时"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["deadline"], later.to_rfc3339(), "{v}");
    let events = t
        .app
        .store
        .events_after(xikang_domain::EventSeq(0), 1_000_000)
        .unwrap();
    let last = events.last().unwrap();
    assert_eq!(events.len(), before + 1);
    assert_eq!(last.actor, "admin:admin", "{last:?}");
    assert!(
        matches!(&last.body, xikang_domain::event::EventBody::RoundDeadlineExtended { round: r, to, reason, .. }
            if r.to_string() == round && *to == later && reason == "暴雨，采样点延时"),
        "{last:?}"
    );
    // The old deadline no longer closes it, and a restart keeps the new one.
    let (s, v) = t
        .admin_post(&format!("/api/v1/rounds/{round}/close"), json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("round_open")),
        "{v}"
    );
    let reloaded = reload(&t.app);
    let id = RoundId(round[1..].parse().unwrap());
    let kept = xikang_server::lab::round_status(&reloaded, id).unwrap();
    assert_eq!(kept.round.deadline, later);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vaccinations_import_per_line_and_coverage_and_outreach_follow() {
    let mut t = Lab::new().await;
    // Find residents 60+ from the store's ID numbers.
    let mut old = Vec::new();
    for i in 0..PEOPLE {
        let p = t
            .app
            .store
            .person(xikang_domain::PersonId(i))
            .unwrap()
            .unwrap();
        let born = xikang_domain::testing::birth_date(&p.id_number).unwrap();
        if born.0 < 1955 {
            old.push(p);
        }
        if old.len() == 2 {
            break;
        }
    }
    assert_eq!(old.len(), 2, "the synthetic city has residents over 60");
    let (a, b) = (old[0].id_number.expose(), old[1].id_number.expose());
    let before = t.get("/api/v1/vaccinations/outreach").await;
    let total_before = before["total"].as_u64().unwrap();
    let csv = format!(
        "\u{feff}id_number,dose,vaccine,date,site\r\n\"{a}\",1,\"CoronaVac\",2021-05-01,\"梁溪接种点\"\r\n{a},2,CoronaVac,2021-06-01,梁溪接种点\r\n\"{b}\",\"1\",CoronaVac,2021-05-01,梁溪接种点\r\n{a},2,CoronaVac,2021-06-01,梁溪接种点\r\n320213199001011234,1,X,2021-05-01,S\r\n{b},9,CoronaVac,2021-05-01,S\r\n"
    );
    let (s, v) = t.csv("/api/v1/vaccinations", &csv).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accepted"], 3, "{v}");
    let codes: Vec<(u64, String)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x.get("error").is_some())
        .map(|x| {
            (
                x["line"].as_u64().unwrap(),
                x["error"]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The byte-order mark, CRLF and quoted fields were read as a spreadsheet writes them
    // (a quoted ID number or dose split by hand kept its quotes and was refused).
    assert_eq!(codes[0], (5, "dose_recorded".to_owned()));
    assert_eq!(codes[1].0, 6);
    assert_eq!(codes[2], (7, "invalid_dose".to_owned()));

    let status = t
        .get(&format!("/api/v1/people/{}/vaccination", old[0].id))
        .await;
    assert_eq!(
        (status["full_course"].as_bool(), status["booster"].as_bool()),
        (Some(true), Some(false))
    );
    let cov = t.get("/api/v1/vaccinations/coverage").await;
    let items = cov["items"].as_array().unwrap();
    let people: u64 = items.iter().map(|x| x["people"].as_u64().unwrap()).sum();
    let first: u64 = items
        .iter()
        .map(|x| x["first_dose"].as_u64().unwrap())
        .sum();
    let full: u64 = items
        .iter()
        .map(|x| x["full_course"].as_u64().unwrap())
        .sum();
    assert_eq!((people, first, full), (u64::from(PEOPLE), 2, 1));
    // A district (read from the lab's per-person arrays) and the vaccinated person's own
    // community (read through the people's communities) count the same way.
    let sums = |cov: &Value| {
        let items = cov["items"].as_array().unwrap().clone();
        let sum = |k: &str| items.iter().map(|x| x[k].as_u64().unwrap()).sum::<u64>();
        (sum("people"), sum("first_dose"), sum("full_course"))
    };
    let community = old[0].area.as_str().to_owned();
    let district = old[0].area.district().as_str().to_owned();
    let in_district = sums(
        &t.get(&format!("/api/v1/vaccinations/coverage?area={district}"))
            .await,
    );
    let in_community = sums(
        &t.get(&format!("/api/v1/vaccinations/coverage?area={community}"))
            .await,
    );
    assert!(
        in_district.0 < u64::from(PEOPLE) && in_district.1 >= 1,
        "{in_district:?}"
    );
    assert!(
        in_community.0 <= in_district.0 && in_community.0 > 0,
        "{in_community:?}"
    );
    assert!(
        in_community.1 >= 1 && in_community.2 == 1,
        "{in_community:?}"
    );
    // One of the two has a full course now: the outreach list shrinks by one.
    let (s, v) = t
        .admin_post("/api/v1/vaccinations/outreach", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["total"].as_u64().unwrap(), total_before - 1);
    let tasks = t.get("/api/v1/lab-tasks?kind=vaccination_outreach").await;
    assert_eq!(tasks["count"].as_u64().unwrap(), total_before - 1);
    // The second dose of the other one closes their outreach task.
    let line = format!("{b},2,CoronaVac,2021-06-01,梁溪接种点\n");
    let (s, v) = t.csv("/api/v1/vaccinations", &line).await;
    assert_eq!(s, 200, "{v}");
    let tasks = t.get("/api/v1/lab-tasks?kind=vaccination_outreach").await;
    assert_eq!(tasks["count"].as_u64().unwrap(), total_before - 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_csv_import_keeps_the_good_lines_and_reports_the_bad_ones_by_file_line() {
    let mut t = Lab::new().await;
    let site = t.site().await;
    t.open("WX-I-1", &site, None, 10).await;
    t.open("WX-I-2", &site, None, 10).await;
    t.bind("WX-I-1", &[30, 31]).await;
    t.bind("WX-I-2", &[32]).await;
    t.post("/api/v1/tubes/seal", json!({"tubes": ["WX-I-1", "WX-I-2"]}))
        .await;
    t.ship_and_receive(&["WX-I-1", "WX-I-2"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("results.csv");
    std::fs::write(
        &file,
        "barcode,outcome,ct\n\nWX-I-1,negative\nWX-I-9,negative\nWX-I-2,negative,abc\n",
    )
    .unwrap();
    let server = xikang::lab_cli::ServerArgs {
        server: t.app.addr.clone(),
        token: t.lab.clone(),
    };
    let code = xikang::lab_cli::import(&file, &server, "/api/v1/lab-results")
        .await
        .unwrap();
    assert_eq!(
        code,
        std::process::ExitCode::from(2),
        "some lines were refused"
    );
    let tube = t.get("/api/v1/tubes/WX-I-1").await;
    assert_eq!(tube["state"], "resulted", "the good line was kept: {tube}");
    let tube = t.get("/api/v1/tubes/WX-I-2").await;
    assert_eq!(
        tube["state"], "received",
        "the bad line changed nothing: {tube}"
    );
    assert_eq!(t.colour("P30").await["test_age_days"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mandated_periodic_test_flags_the_overdue_once_and_a_negative_clears_it() {
    let mut t = Lab::new().await;
    let site = t.site().await;
    // P40 is tested now; everyone else in the city was last sampled more than an hour ago
    // or never.
    t.open("WX-M-1", &site, None, 1).await;
    t.bind("WX-M-1", &[40]).await;
    t.ship_and_receive(&["WX-M-1"]).await;
    let (s, v) = t.csv("/api/v1/lab-results", "WX-M-1,negative\n").await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = t
        .admin_post("/api/v1/test-requirements/check", json!({"every_hours": 1}))
        .await;
    assert_eq!(s, 200, "{v}");
    let first = v["missed_tests_recorded"].as_u64().unwrap();
    assert!(first > 0 && first < u64::from(PEOPLE), "{v}");
    assert_eq!(t.colour("P40").await["colour"], "green");
    assert_eq!(t.colour("P41").await["colour"], "yellow");
    // Checking again records nothing new for the same lapse.
    let (_, v) = t
        .admin_post("/api/v1/test-requirements/check", json!({"every_hours": 1}))
        .await;
    assert_eq!(v["missed_tests_recorded"], 0, "{v}");
    // No period in force and none given: refused.
    let (s, v) = t
        .admin_post("/api/v1/test-requirements/check", json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("every_hours_required"))
    );
    // A negative clears the pop-up.
    t.open("WX-M-2", &site, None, 1).await;
    t.bind("WX-M-2", &[41]).await;
    t.ship_and_receive(&["WX-M-2"]).await;
    t.csv("/api/v1/lab-results", "WX-M-2,negative\n").await;
    assert_eq!(t.colour("P41").await["colour"], "green");
}

/// Records doses 1..=n for a person through the CSV import.
async fn vaccinate(t: &mut Lab, person: u32, n: u8) {
    let p = t
        .app
        .store
        .person(xikang_domain::PersonId(person))
        .unwrap()
        .unwrap();
    let id = p.id_number.expose().to_owned();
    let mut csv = String::from("id_number,dose,vaccine,date,site\n");
    for d in 1..=n {
        csv.push_str(&format!("{id},{d},CoronaVac,2021-0{d}-01,梁溪接种点\n"));
    }
    let (s, v) = t.csv("/api/v1/vaccinations", &csv).await;
    assert_eq!(
        (s, v["accepted"].as_u64()),
        (200, Some(u64::from(n))),
        "{v}"
    );
}

/// Scans a person's current code at a venue; returns the answer.
async fn scan(t: &mut Lab, device: &str, place: &str, person: &str) -> Value {
    let token = t.app.code_token(person).await;
    let r =
        t.c.post_json(
            "/api/v1/scans",
            Some(device),
            &json!({"place_code": place, "token": token}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_and_the_venue_scan_show_the_vaccination_status_from_the_dose_records() {
    let mut t = Lab::new().await;
    let device = t.app.device().await;
    let place = t.app.plain_venue();
    let none = json!({"doses": 0, "first_dose": false, "full_course": false, "booster": false});
    let code = t.colour("P50").await;
    assert_eq!(code["vaccination"], none, "{code}");
    let token_before = code["token"].as_str().unwrap().to_owned();

    vaccinate(&mut t, 50, 2).await;
    // The code answer changes at once (not served from the cache of the unvaccinated one).
    let code = t.colour("P50").await;
    assert_eq!(
        code["vaccination"],
        json!({"doses": 2, "first_dose": true, "full_course": true, "booster": false}),
        "{code}"
    );
    // The signed token's format is unchanged: it still verifies at a venue.
    assert!(!token_before.is_empty());
    let a = scan(&mut t, &device, &place, "P50").await;
    assert_eq!(a["decision"], "allow", "{a}");
    assert_eq!(a["vaccination"]["full_course"], true, "{a}");
    assert_eq!(a["vaccination"]["doses"], 2, "{a}");
    let a = scan(&mut t, &device, &place, "P51").await;
    assert_eq!(a["vaccination"], none, "{a}");

    // A batch answer carries it per item too.
    let tok = t.app.code_token("P50").await;
    let r =
        t.c.post_json(
            "/api/v1/scans",
            Some(&device),
            &json!({"scans": [{"place_code": place, "token": tok}]}),
        )
        .await
        .unwrap();
    let v = r.json();
    assert_eq!(v["results"][0]["vaccination"]["doses"], 2, "{v}");

    // A restart rebuilds the status from the dose records.
    let reloaded = reload(&t.app);
    assert_eq!(
        xikang_server::lab::vaccination_status(&reloaded, xikang_domain::PersonId(50)).doses,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_requiring_a_full_course_at_a_venue_category_turns_the_unvaccinated_away() {
    let mut t = Lab::new().await;
    let device = t.app.device().await;
    let place = t.app.plain_venue();
    vaccinate(&mut t, 60, 2).await;
    vaccinate(&mut t, 61, 1).await;
    // Under the shipped policy nobody is turned away for vaccination.
    for p in ["P60", "P61", "P62"] {
        let a = scan(&mut t, &device, &place, p).await;
        assert_eq!(
            (a["decision"].as_str(), a["reason"].as_str()),
            (Some("allow"), Some("ok")),
            "{p}: {a}"
        );
    }
    // A policy file whose venue category requires a full course.
    let category = t
        .app
        .state
        .projection
        .venues
        .list
        .iter()
        .find(|v| v.place_code.as_str() == place)
        .unwrap()
        .category
        .as_str()
        .to_owned();
    let header = format!("[venue.{category}]\n");
    let mut text = xikang_domain::policy::DEFAULT_POLICY_TOML.replace(
        "version = \"xikang-default-2022.09\"",
        "version = \"xikang-vaccination-test\"",
    );
    if text.contains(&header) {
        text = text.replace(
            &header,
            &format!("{header}require_vaccination = \"full_course\"\n"),
        );
    } else {
        text.push_str(&format!(
            "\n{header}require_vaccination = \"full_course\"\n"
        ));
    }
    let policy = xikang_domain::policy::Policy::parse(&text).unwrap();
    assert_eq!(
        policy.vaccination_required(&xikang_domain::VenueCategory::parse(&category).unwrap()),
        Some(xikang_domain::testing::VaccinationLevel::FullCourse)
    );
    *t.app.state.policy.write().unwrap() = Arc::new(policy);
    let a = scan(&mut t, &device, &place, "P60").await;
    assert_eq!(
        (a["decision"].as_str(), a["reason"].as_str()),
        (Some("allow"), Some("ok")),
        "{a}"
    );
    for p in ["P61", "P62"] {
        let a = scan(&mut t, &device, &place, p).await;
        assert_eq!(
            (a["decision"].as_str(), a["reason"].as_str()),
            (Some("deny"), Some("vaccination_required")),
            "{p}: {a}"
        );
        assert_eq!(a["colour"], "green", "{a}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_periodic_mandated_test_check_runs_only_while_the_policy_sets_a_period() {
    let mut t = Lab::new().await;
    let state = t.app.state.clone();
    // The shipped policy sets no period: the timer's run does nothing.
    let now = xikang_server::now();
    assert_eq!(
        xikang_server::lab::check_mandated_now(&state, now)
            .await
            .unwrap(),
        None
    );
    assert_eq!(t.colour("P71").await["colour"], "green");

    let site = t.site().await;
    t.open("WX-T-1", &site, None, 1).await;
    t.bind("WX-T-1", &[70]).await;
    t.ship_and_receive(&["WX-T-1"]).await;
    let (s, v) = t.csv("/api/v1/lab-results", "WX-T-1,negative\n").await;
    assert_eq!(s, 200, "{v}");

    // A policy file with a period of mandated tests every 72 h.
    let text = xikang_domain::policy::DEFAULT_POLICY_TOML
        .replace(
            "version = \"xikang-default-2022.09\"",
            "version = \"xikang-72h-test\"",
        )
        .replace(
            "[parameters]\n",
            "[parameters]\nmandated_test_every_hours = 72\n",
        );
    let policy = xikang_domain::policy::Policy::parse(&text).unwrap();
    *state.policy.write().unwrap() = Arc::new(policy);
    let first = xikang_server::lab::check_mandated_now(&state, xikang_server::now())
        .await
        .unwrap()
        .unwrap();
    // Most of the city was not sampled in the last 72 h; the resident sampled now was.
    assert!(
        first > PEOPLE as usize / 2 && first < PEOPLE as usize,
        "{first}"
    );
    assert_eq!(t.colour("P70").await["colour"], "green");
    assert_eq!(t.colour("P71").await["colour"], "yellow");
    // The next run flags no lapse twice, and an official's check finds what the timer did.
    assert_eq!(
        xikang_server::lab::check_mandated_now(&state, xikang_server::now())
            .await
            .unwrap(),
        Some(0)
    );
    let (s, v) = t
        .admin_post("/api/v1/test-requirements/check", json!({}))
        .await;
    assert_eq!((s, v["every_hours"].as_u64()), (200, Some(72)), "{v}");
    assert_eq!(v["missed_tests_recorded"], 0, "{v}");
    // 73 h on, the resident tested now is overdue too (with the few the city had sampled
    // in the last days), and turns yellow then.
    let later = xikang_server::now().plus(73 * 3600);
    let again = xikang_server::lab::check_mandated_now(&state, later)
        .await
        .unwrap()
        .unwrap();
    assert!((1..10).contains(&again), "{again}");
    let (eval, _) = state.evaluate(xikang_domain::PersonId(70), later).unwrap();
    assert_eq!(eval.colour, xikang_domain::Colour::Yellow);
    // The missed tests are authority events of the system.
    let events = t.get("/api/v1/events?limit=10000").await.to_string();
    assert_eq!(
        events.matches("system:mandated_tests").count(),
        first + again,
        "one missed test per resident and lapse"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outreach_tasks_reach_the_grid_workers_own_list_and_lab_tasks_are_the_workers_cells() {
    let mut t = Lab::new().await;
    let (s, v) = t
        .admin_post("/api/v1/vaccinations/outreach", json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let city = t.get("/api/v1/lab-tasks?kind=vaccination_outreach").await;
    let items = city["items"].as_array().unwrap().clone();
    assert!(items.len() >= 2, "{city}");
    let first = &items[0];
    let (person, cell) = (
        first["person"].as_str().unwrap().to_owned(),
        first["cell"].as_u64().unwrap(),
    );
    let district = t
        .app
        .state
        .projection
        .person_area(xikang_domain::PersonId::parse(&person).unwrap())
        .unwrap()
        .district()
        .to_string();
    // The worker of the person's cell (the generated grid names them gw<cell>).
    let gw = t
        .app
        .role_token(&format!("gw{cell}"), "grid_worker", &district)
        .await;
    let outreach_of = |tasks: &Value, p: &str| {
        tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "vaccination_outreach" && x["person"] == p)
    };
    let (s, mine) = t.app.get(&gw, "/api/v1/grid/tasks?limit=500").await;
    assert_eq!(s, 200, "{mine}");
    assert!(
        outreach_of(&mine, &person),
        "on the worker's own list: {mine}"
    );

    // /lab-tasks answers a grid worker for their cells, not their whole district.
    let (s, theirs) = t
        .app
        .get(&gw, "/api/v1/lab-tasks?kind=vaccination_outreach")
        .await;
    assert_eq!(s, 200, "{theirs}");
    let theirs = theirs["items"].as_array().unwrap();
    assert!(!theirs.is_empty());
    assert!(
        theirs.iter().all(|x| x["cell"].as_u64() == Some(cell)),
        "only the worker's cell: {theirs:?}"
    );
    let in_district_elsewhere = items.iter().any(|x| {
        x["cell"].as_u64() != Some(cell)
            && t.app
                .state
                .projection
                .person_area(xikang_domain::PersonId::parse(x["person"].as_str().unwrap()).unwrap())
                .is_some_and(|a| a.district().to_string() == district)
    });
    if in_district_elsewhere {
        assert!(theirs.len() < items.len());
    }

    // A full course closes the task on both lists.
    let id_number = String::from(
        t.app
            .store
            .person(xikang_domain::PersonId::parse(&person).unwrap())
            .unwrap()
            .unwrap()
            .id_number,
    );
    let lines = format!(
        "{id_number},1,CoronaVac,2021-05-01,梁溪接种点\n{id_number},2,CoronaVac,2021-06-01,梁溪接种点\n"
    );
    let (s, v) = t.csv("/api/v1/vaccinations", &lines).await;
    assert_eq!(s, 200, "{v}");
    let (_, mine) = t.app.get(&gw, "/api/v1/grid/tasks?limit=500").await;
    assert!(
        !outreach_of(&mine, &person),
        "closed by the full course: {mine}"
    );
    let after = t.get("/api/v1/lab-tasks?kind=vaccination_outreach").await;
    assert_eq!(
        after["count"].as_u64().unwrap(),
        city["count"].as_u64().unwrap() - 1
    );
}

/// Every tube of the lab as the live index holds it, by barcode, with its members count.
fn lab_tubes(
    state: &xikang_server::state::AppState,
    barcodes: &[String],
) -> Vec<Option<(xikang_domain::testing::Tube, usize)>> {
    barcodes
        .iter()
        .map(|b| {
            let b = xikang_domain::testing::TubeBarcode::parse(b).unwrap();
            xikang_server::lab::tube(state, &b)
        })
        .collect()
}

/// A site and a round through the lab's own functions (what the HTTP handlers call).
async fn site_and_round(
    state: &xikang_server::state::AppState,
) -> (
    xikang_domain::testing::SiteId,
    xikang_domain::testing::RoundId,
) {
    use xikang_server::lab;
    let now = xikang_server::now();
    let site = lab::put_site(
        state,
        xikang_domain::testing::SamplingSite {
            id: xikang_domain::testing::SiteId(1),
            name: "pipeline".into(),
            area: xikang_domain::AreaCode::parse("320200").unwrap(),
            cell: xikang_domain::GridCell(0),
        },
    )
    .await
    .unwrap();
    let round = lab::create_round(
        state,
        lab::NewRound {
            name: "pipeline round".into(),
            area: xikang_domain::AreaCode::parse("320200").unwrap(),
            cells: Vec::new(),
            starts_at: now.plus(-3600),
            deadline: now.plus(86_400),
            pools: None,
        },
    )
    .await
    .unwrap();
    (site.id, round.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labs_posting_at_once_have_their_pipelined_writes_stored_in_order_as_a_restart_shows() {
    use xikang_server::lab;
    let app = spawn_app().await;
    let state = app.state.clone();
    let (site, round) = site_and_round(&state).await;
    // Four labs at once, each with ten tubes of ten residents: open, bind, ship, receive,
    // result. Each command's write is queued behind the others' (docs/testing.md,
    // "Pipelined lab writes"); a write stored out of the planned order would move a tube
    // the store has not opened (refused) or lose a move.
    let labs: Vec<_> = (0..4u32)
        .map(|l| {
            let state = state.clone();
            tokio::spawn(async move {
                let barcodes: Vec<String> = (0..10).map(|t| format!("WXP-{l}{t:03}")).collect();
                let now = xikang_server::now;
                let items = barcodes
                    .iter()
                    .map(|b| lab::NewTube {
                        barcode: b.clone(),
                        site,
                        round: Some(round),
                        capacity: 10,
                    })
                    .collect();
                let opened = lab::open_tubes(&state, items, now()).await.unwrap();
                assert!(opened.iter().all(Result::is_ok), "{opened:?}");
                for (t, b) in barcodes.iter().enumerate() {
                    let people = (0..10u32).map(|i| {
                        let p = xikang_domain::PersonId(l * 100 + t as u32 * 10 + i);
                        (b.clone(), Ok(p))
                    });
                    let bound = lab::bind(&state, people.collect(), now()).await.unwrap();
                    assert!(bound.iter().all(Result::is_ok), "{bound:?}");
                }
                let (batch, shipped) = lab::ship(
                    &state,
                    format!("courier {l}"),
                    "kingmed".into(),
                    barcodes.clone(),
                    now(),
                )
                .await
                .unwrap();
                assert!(shipped.iter().all(Result::is_ok), "{shipped:?}");
                let received = lab::receive(&state, batch.unwrap(), Vec::new(), now())
                    .await
                    .unwrap();
                assert_eq!(received.iter().filter(|r| r.is_ok()).count(), 10);
                let lines = barcodes
                    .iter()
                    .map(|b| {
                        Ok(xikang_domain::testing::ResultLine {
                            barcode: xikang_domain::testing::TubeBarcode::parse(b).unwrap(),
                            outcome: xikang_domain::testing::LabOutcome::Negative,
                            ct: None,
                            resulted_at: None,
                        })
                    })
                    .collect();
                let resulted = lab::post_results(&state, "lab:pipeline", lines, now())
                    .await
                    .unwrap();
                assert!(resulted.iter().all(Result::is_ok), "{resulted:?}");
                barcodes
            })
        })
        .collect();
    let mut barcodes = Vec::new();
    for l in labs {
        barcodes.extend(l.await.unwrap());
    }
    let live = lab_tubes(&state, &barcodes);
    assert!(
        live.iter().all(|t| t.as_ref().is_some_and(
            |(t, n)| *n == 10 && t.state == xikang_domain::testing::TubeState::Resulted
        )),
        "{live:?}"
    );
    // Four batches, each numbered once (a batch id is taken under the lab's lock).
    let batches: std::collections::BTreeSet<_> = live
        .iter()
        .filter_map(|t| t.as_ref().and_then(|(t, _)| t.batch))
        .collect();
    assert_eq!(batches.len(), 4, "{batches:?}");
    let restarted = reload(&app);
    assert_eq!(lab_tubes(&restarted, &barcodes), live);
    let status = |s: &xikang_server::state::AppState| {
        serde_json::to_value(lab::round_status(s, round).unwrap().total).unwrap()
    };
    assert_eq!(status(&restarted), status(&state));
    assert_eq!(status(&state)["sampled"], 400, "{}", status(&state));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pipelined_write_rebuilds_the_lab_index_from_the_store_and_nothing_planned_on_it_lands()
 {
    use xikang_server::lab;
    let app = spawn_app().await;
    let state = app.state.clone();
    let (site, round) = site_and_round(&state).await;
    // Another process opens tube 1 in the same store; this server's index does not know
    // it, so it hands id 1 to the next tube it opens, and the store refuses that write.
    let now = xikang_server::now();
    let other = xikang_domain::testing::Tube::opened(
        xikang_domain::testing::TubeId(1),
        xikang_domain::testing::TubeBarcode::parse("WXP-OTHER").unwrap(),
        site,
        Some(round),
        5,
        now,
    );
    app.store
        .write_lab(&xikang_store::LabWrite {
            tubes: vec![other],
            ..Default::default()
        })
        .unwrap();
    let open = |barcode: &str| {
        let state = state.clone();
        let items = vec![lab::NewTube {
            barcode: barcode.into(),
            site,
            round: Some(round),
            capacity: 10,
        }];
        tokio::spawn(async move { lab::open_tubes(&state, items, xikang_server::now()).await })
    };
    // Two tubes opened at the same time: whichever is planned first takes id 1 and is
    // refused by the store; the other is planned either on top of it (and refused
    // unwritten) or after the rebuild (and stored).
    let (a, b) = (open("WXP-A"), open("WXP-B"));
    let answers = [a.await.unwrap(), b.await.unwrap()];
    let refused: Vec<Option<(u16, &str)>> = answers
        .iter()
        .map(|r| {
            r.as_ref().err().map(|e| {
                let (status, code, _) = e.summary();
                (status.as_u16(), code)
            })
        })
        .collect();
    let failed = refused
        .iter()
        .position(|r| *r == Some((409, "conflict")))
        .unwrap_or_else(|| panic!("neither write was refused by the store: {refused:?}"));
    let beside = 1 - failed;
    let beside_stored = match refused[beside] {
        None => true,
        Some(r) => {
            assert_eq!(r, (409, "lab_changed"));
            false
        }
    };
    // The index is the store's again: the other process's tube is there, the failed one
    // is not, and the next tube takes the next id.
    let barcodes: Vec<String> = ["WXP-OTHER", "WXP-A", "WXP-B"].map(String::from).into();
    let tubes = lab_tubes(&state, &barcodes);
    assert_eq!(tubes[0].as_ref().map(|(t, _)| t.capacity), Some(5));
    assert!(tubes[1 + failed].is_none(), "{:?}", tubes[1 + failed]);
    assert_eq!(tubes[1 + beside].is_some(), beside_stored);
    assert_eq!(lab_tubes(&reload(&app), &barcodes), tubes);
    let next = open("WXP-C").await.unwrap().unwrap();
    let expected = if beside_stored { 3 } else { 2 };
    assert_eq!(
        next[0].as_ref().unwrap().0,
        expected,
        "the next tube takes the next id"
    );
}

/// A resident registered after a round was made is sampled once in it like everyone else:
/// the lab's index grows its record of who the round sampled (on PostgreSQL it is the only
/// check, the store keeping no per-person key since migration 0019), and the quarantine
/// desk's view of the person's tests finds the swab by its tube.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_registered_after_the_round_was_made_is_sampled_once_in_it() {
    use xikang_domain::idnumber::IdNumber;
    let mut t = Lab::new().await;
    let site = t.site().await;
    let round = t.round(3600).await;
    t.open("WX-LATE-1", &site, Some(&round), 10).await;
    t.open("WX-LATE-2", &site, Some(&round), 10).await;

    let cell = t.app.store.grid_cells().unwrap()[0].clone();
    let number = String::from(IdNumber::compose(110101, 1961, 3, 4, 7).unwrap());
    let csv = format!(
        "id_number,name,phone,household,address,community,cell,kind,registered_on\n\
         {number},新居民,,H-LATE,新路 1 号,{},{},,\n",
        cell.community.as_str(),
        cell.cell.0
    );
    let r =
        t.c.request(
            "POST",
            "/api/v1/people/import",
            Some(&t.app.admin),
            Some("text/csv"),
            csv.as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.json());
    let key = xikang_server::load_or_create_secrets(t.app.store.as_ref())
        .unwrap()
        .id_hash_key;
    let hash = IdNumber::parse(&number).unwrap().keyed_hash(&key);
    let person = t.app.store.person_by_id_hash(&hash).unwrap().unwrap();

    let v = t.bind("WX-LATE-1", &[person.0]).await;
    assert_eq!(v["accepted"], 1, "{v}");
    let v = t.bind("WX-LATE-2", &[person.0]).await;
    assert_eq!(v["error"]["code"], "no_valid_items", "{v}");
    assert_eq!(errors(&v), [(0, "already_sampled".to_owned())]);

    // The swab is found in its tube, and only there.
    let state = reload(&t.app);
    let tubes = xikang_server::lab::tubes_of_person(&state, person);
    let found = t.app.store.samples_in_tubes(person, &tubes).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].round, Some(RoundId::parse(&round).unwrap()));
    let tube = xikang_server::lab::tube(
        &state,
        &xikang_domain::testing::TubeBarcode::parse("WX-LATE-1").unwrap(),
    )
    .unwrap()
    .0;
    assert_eq!(found[0].tube, tube.id);
}
