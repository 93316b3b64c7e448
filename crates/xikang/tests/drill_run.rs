//! `xikang drill` (issue 16, parts 3–5): an outbreak driven through the real API by
//! responders, its report, and the policy what-if. Each drill runs in its own `xikang`
//! process (a process is a drill for its whole life), so these tests share no clock.

#![expect(
    clippy::unwrap_used,
    reason = "tests: a failure should fail the test at once"
)]

mod common;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use xikang_domain::EventSeq;
use xikang_domain::event::EventBody;
use xikang_store::{Store, Target};

/// Runs `xikang drill` with `args` into `out` (3,000 residents, 12 days); its stdout.
fn drill(out: &Path, args: &[&str]) -> String {
    drill_days(out, 12, args)
}

/// Runs `xikang drill` of `days` days with `args` into `out`; its stdout.
fn drill_days(out: &Path, days: u32, args: &[&str]) -> String {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_xikang"))
        .arg("drill")
        .arg("--out")
        .arg(out)
        .args([
            "--people",
            "3000",
            "--seeds",
            "20",
            "--days",
            &days.to_string(),
        ])
        .args(args)
        .env("XIKANG_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
}

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

fn store(dir: &Path) -> Box<dyn Store> {
    xikang_store::open(&Target::Sqlite(dir.join("store"))).unwrap()
}

fn events(store: &dyn Store) -> Vec<xikang_domain::event::StoredEvent> {
    let (mut all, mut last) = (Vec::new(), EventSeq(0));
    loop {
        let b = store.events_after(last, 10_000).unwrap();
        match b.last() {
            Some(e) => last = e.seq,
            None => return all,
        }
        all.extend(b);
    }
}

#[test]
fn the_same_seed_gives_the_same_report_and_responders_act_only_through_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    drill(&a, &["--seed", "3"]);
    drill(&b, &["--seed", "3"]);
    drill(&c, &["--seed", "4"]);
    let read = |d: &Path| std::fs::read_to_string(d.join("report.json")).unwrap();
    let ra = read(&a);
    assert!(ra == read(&b), "same seed, same report");
    assert!(ra != read(&c), "another seed, another outbreak");
    let r = report(&a);
    let s = &r["summary"];
    assert!(s["cases_reported"].as_u64().unwrap() > 0, "{s}");
    assert!(s["people_quarantined"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(r["days"].as_array().unwrap().len(), 12);
    // Each reported case is one of the engine's infections (one a person: the engine infects
    // nobody twice, and the lab's positives are of infected people), and the 20 seeds are day
    // 0's infections: they were left out of the days' counts, so a drill could report more
    // cases than infections (docs/drills.md).
    assert!(
        r["days"][0]["infections"].as_u64().unwrap() >= 20,
        "{}",
        r["days"][0]
    );
    assert!(
        s["cases_reported"].as_u64().unwrap() <= s["infections"].as_u64().unwrap(),
        "{s}"
    );
    let html = std::fs::read_to_string(a.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("四早"), "{html}");

    // Every event in the drill's store was made by a responder's token (or the server's
    // own rules), never written behind the API: the events' actors are tokens the operator
    // minted through `POST /api/v1/tokens`, and the operator's own token made none.
    let st = store(&a);
    let tokens: BTreeSet<String> = st
        .api_tokens()
        .unwrap()
        .into_iter()
        .map(|t| format!("{}:{}", t.token.role, t.token.name))
        .collect();
    let all = events(st.as_ref());
    let mut by_responders = 0;
    for e in &all {
        if e.actor.starts_with("system:") {
            continue;
        }
        assert!(tokens.contains(&e.actor), "{} by {}", e.seq, e.actor);
        assert_ne!(e.actor, "admin:drill-operator");
        by_responders += 1;
    }
    assert!(by_responders > 100, "{by_responders} of {}", all.len());
    let cases = all
        .iter()
        .filter(|e| matches!(e.body, EventBody::CaseRegistered { .. }))
        .count();
    assert_eq!(cases as u64, s["cases_reported"].as_u64().unwrap());
}

#[test]
fn ershitiao_has_no_secondary_contacts_and_shorter_quarantine_than_the_ninth_edition() {
    let tmp = tempfile::tempdir().unwrap();
    let out = drill(
        tmp.path(),
        &[
            "--seed",
            "3",
            "--policy",
            "default",
            "--compare-policy",
            "ershitiao",
        ],
    );
    assert!(out.contains("secondary_contacts"), "{out}");
    let (a, b) = (report(&tmp.path().join("A")), report(&tmp.path().join("B")));
    let (sa, sb) = (&a["summary"], &b["summary"]);
    let n = |s: &Value, k: &str| s[k].as_u64().unwrap();
    // Same outbreak up to the first responses: same first reported day, same first cases.
    assert_eq!(a["cases"][0]["sampled"], b["cases"][0]["sampled"]);
    assert!(n(sa, "secondary_contacts") > 0, "{sa}");
    assert_eq!(n(sb, "secondary_contacts"), 0, "{sb}");
    assert!(n(sb, "people_quarantined") < n(sa, "people_quarantined"));
    // 第九版 orders close contacts into 7 days of centralized quarantine, 二十条 into 5.
    let days = |dir: &str| {
        let mut d = BTreeSet::new();
        for e in events(store(&tmp.path().join(dir)).as_ref()) {
            if let EventBody::QuarantineOrdered {
                start,
                planned_end,
                reason,
                ..
            } = &e.body
                && *reason == xikang_domain::event::QuarantineReason::CloseContact
            {
                d.insert((planned_end.0 - start.0) / 86_400);
            }
        }
        d
    };
    assert_eq!(days("A"), BTreeSet::from([7]));
    assert_eq!(days("B"), BTreeSet::from([5]));
    let cmp: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("compare.json")).unwrap()).unwrap();
    assert_eq!(cmp["b"]["policy"], "xikang-ershitiao-2022.11");
}

#[test]
fn the_demo_starts_with_an_outbreak_on_a_drill_store_that_follows_real_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("city");
    let token = "xk-demo-outbreak-test-token";
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xikang"))
        .args(["demo", "--people", "3000", "--days", "10", "--seed", "2"])
        .args(["--listen", "127.0.0.1:0", "--admin-token", token, "--data"])
        .arg(&data)
        .env("XIKANG_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let greeting = common::read_greeting(child.stdout.take().unwrap());
    let addr = greeting
        .lines()
        .find_map(|l| l.strip_prefix("xikang serving on http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (cases, orders, clock) = rt.block_on(async {
        let mut c = xikang::httpc::Conn::connect(&addr).await.unwrap();
        let mut get = async |path: &str| c.get(path, Some(token)).await.unwrap().json();
        (
            get("/api/v1/cases").await,
            get("/api/v1/quarantine/orders").await,
            get("/api/v1/drill/clock").await,
        )
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let cases = cases["items"].as_array().unwrap();
    assert!(!cases.is_empty(), "{greeting}");
    assert!(
        cases.iter().any(|c| c["kind"] != "suspected"),
        "cases are screened and re-checked"
    );
    assert!(!orders["orders"].as_array().unwrap().is_empty(), "{orders}");
    assert_eq!(clock["drill"], true);
    let now = xikang_domain::Timestamp::parse_rfc3339(clock["now"].as_str().unwrap()).unwrap();
    let real = xikang::drill::demo::real_now();
    assert!(
        (real.0 - now.0).abs() < 600,
        "the clock follows real time: {clock}"
    );
    // Demo data never reach production: `serve` refuses the demo's store.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xikang"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("XIKANG_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("drill data"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_stress_ramp_stops_at_the_step_that_breaks_the_objective() {
    let tmp = tempfile::tempdir().unwrap();
    // An objective no server meets (a microsecond): the first step breaks it, and the ramp
    // reports it and stops there rather than loading on.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_xikang"))
        .args(["drill", "--stress", "--people", "1000", "--step-secs", "1"])
        .args(["--slo-p99-ms", "0.001", "--out"])
        .arg(tmp.path())
        .env("XIKANG_LOG", "warn")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("stress.json")).unwrap()).unwrap();
    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{v}");
    assert_eq!(steps[0]["met_slo"], false);
    assert!(steps[0]["achieved_per_sec"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["knee_per_sec"].is_null());
    assert!(String::from_utf8_lossy(&o.stdout).contains("BROKEN"));
}

/// The default responders with `replace` applied, written to `dir/responders.toml`.
fn responders(dir: &Path, replace: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text = xikang::drill::config::DEFAULT_RESPONDERS_TOML.to_owned();
    for (from, to) in replace {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let path = dir.join("responders.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn negatives_are_posted_contact_lists_paged_and_the_city_colours_counted() {
    let tmp = tempfile::tempdir().unwrap();
    // Quick seals at the high-risk level (7 days and a negative round, then 3 days), a
    // round early; one run reads contact lists in pages of three rows.
    let quick = [
        ("seal_after_cases = 3", "seal_after_cases = 1"),
        ("seal_level = \"sealed\"", "seal_level = \"high\""),
        ("round_after_cases = 8", "round_after_cases = 2"),
    ];
    let paged = [quick.as_slice(), &[("page_size = 10000", "page_size = 3")]].concat();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let ra = responders(&a, &quick);
    let rb = responders(&b, &paged);
    drill_days(
        &a.join("out"),
        18,
        &["--seed", "3", "--responders", ra.to_str().unwrap()],
    );
    drill_days(
        &b.join("out"),
        18,
        &["--seed", "3", "--responders", rb.to_str().unwrap()],
    );
    let (x, y) = (report(&a.join("out")), report(&b.join("out")));

    for r in [&x, &y] {
        let s = &r["summary"];
        assert!(
            s["cases_reported"].as_u64().unwrap() <= s["infections"].as_u64().unwrap(),
            "{s}"
        );
    }
    // Paging: the same contacts confirmed and ordered, through more requests.
    assert_eq!(x["cases"], y["cases"]);
    let col = |r: &Value, k: &str| -> Vec<Value> {
        r["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d[k].clone())
            .collect()
    };
    for k in [
        "close_confirmed",
        "secondary_confirmed",
        "quarantined",
        "negatives_posted",
    ] {
        assert_eq!(col(&x, k), col(&y, k), "{k}");
    }
    let n = |r: &Value, k: &str| r["summary"][k].as_u64().unwrap();
    assert!(n(&y, "requests") > n(&x, "requests"));
    assert!(
        x["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["close"].as_u64().unwrap() > 3)
    );

    // The whole city's colours every evening, and the people concerned among them.
    for d in x["days"].as_array().unwrap() {
        let c = |k: &str| d[k].as_u64().unwrap();
        assert_eq!(
            c("city_red") + c("city_yellow") + c("city_green"),
            3_000,
            "{d}"
        );
        assert!(c("city_red") >= c("red"), "{d}");
    }
    assert!(n(&x, "city_person_days_red") > n(&x, "person_days_red") / 2);

    // Negatives through the API: single tubes (test days, zone swabs) by person, a round's
    // tubes by barcode after the sampling sites swabbed, shipped and the lab received them;
    // the test days of orders are kept, not logged as missed.
    let st = store(&a.join("out"));
    let all = events(st.as_ref());
    let (mut single, mut pooled, mut missed) = (0, 0, 0);
    let mut round_missed: std::collections::BTreeMap<String, u64> = Default::default();
    for e in &all {
        match &e.body {
            EventBody::TestResulted {
                outcome: xikang_domain::TestOutcome::Negative,
                pool_size,
                ..
            } => {
                assert_eq!(e.actor, "lab:drill-lab");
                assert_eq!(*pool_size, 1, "a round's results come by tube");
                single += 1;
            }
            EventBody::TubeNegative { members, .. } => {
                assert_eq!(e.actor, "lab:drill-lab");
                pooled += members.len() as u64;
            }
            // The sweep's misses of order test days.
            EventBody::TestMissed { .. } if e.basis.contains("test day") => missed += 1,
            // A round's residents without a sample at its deadline.
            EventBody::TestMissed { .. } if e.basis.starts_with("screening round ") => {
                let id = e.basis.split_whitespace().nth(2).unwrap().to_owned();
                *round_missed.entry(id).or_default() += 1;
            }
            _ => {}
        }
    }
    assert!(single > 100, "{single}");
    assert!(pooled > 1_000, "{pooled}");
    assert_eq!(n(&x, "negatives_posted"), single + pooled);
    assert!(missed * 10 < single, "{missed} missed of {single}");
    // Whoever the sampling sites swabbed is sampled in the round, whenever the lab gets to
    // the tube: the round's deadline logs only the residents not swabbed (those it did not
    // reach, the isolated, and whoever the engine's own screening found positive).
    let rounds = x["rounds"].as_array().unwrap();
    assert!(!rounds.is_empty(), "{}", x["summary"]);
    for r in rounds {
        let sampled = r["sampled"].as_u64().unwrap();
        let id = r["round"].as_str().unwrap();
        assert!(sampled > 1_000, "{r}");
        assert_eq!(
            round_missed.get(id).copied().unwrap_or(0),
            3_000 - sampled,
            "round {id}: {r}"
        );
    }
    assert_eq!(round_missed.len(), rounds.len(), "{round_missed:?}");

    // Zones: drawn by one official and approved by the second (the review approves the
    // server's lifting proposals the same way); never by the operator.
    let (mut zone_events, mut stepped_down, mut lifted) = (0, 0, 0);
    for e in &all {
        match &e.body {
            EventBody::ZoneSet { level, .. } => {
                assert_ne!(e.actor, "admin:drill-operator");
                zone_events += 1;
                if *level == xikang_domain::event::ZoneLevel::Medium {
                    assert_eq!(e.actor, "admin:drill-approver");
                    stepped_down += 1;
                }
            }
            EventBody::ZoneLifted { .. } => {
                assert_eq!(e.actor, "admin:drill-approver");
                zone_events += 1;
                lifted += 1;
            }
            _ => {}
        }
    }
    assert!(n(&x, "zones_sealed") > 0, "{}", x["summary"]);
    assert!(zone_events >= n(&x, "zones_sealed"), "{zone_events}");
    // Zones step down (high → medium) and lift within the 18 days: the negative round does
    // not wait for the zone's own cases, who are in treatment, not in the zone
    // (docs/duties.md). The engine lets the residents out again: fewer stay at home after
    // the peak.
    assert!(stepped_down > 0, "no zone stepped down: {}", x["summary"]);
    assert_eq!(n(&x, "zones_stepped_down"), stepped_down);
    assert_eq!(n(&x, "zones_lifted"), lifted);
    let home = col(&x, "residents_at_home");
    let home: Vec<u64> = home.iter().map(|h| h.as_u64().unwrap()).collect();
    assert!(
        (1..home.len()).any(|j| home[j] < home[..j].iter().copied().max().unwrap_or(0)),
        "residents at home never went down: {home:?}"
    );
}
