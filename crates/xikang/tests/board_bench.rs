//! The citizens' pages at scale (issue 18, bar 4): 100,000 messages and 50,000 enterprises'
//! filings, then every list page of docs/citizens.md timed through the real server. Ignored
//! by default (it writes 160,000 events); run it with
//!
//! ```text
//! cargo test --release -p xikang --test board_bench -- --ignored --nocapture
//! ```
//!
//! It prints one line per page: the median and the slowest of 20 requests, measured as the
//! round trip over loopback on one kept-alive connection (so an upper bound of the server's
//! time). It asserts that each page answered 200, never a time: timings belong in the note
//! (docs/citizens.md), not in a test that a loaded machine would fail.

mod common;

use common::spawn_app;
use common::web::Browser;
use std::time::{Duration, Instant};
use xikang_domain::board::{Category, MessageAction};
use xikang_domain::enterprise::Industry;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::{AreaCode, EventSeq, PersonId};

const MESSAGES: usize = 100_000;
const ENTERPRISES: usize = 50_000;
const BATCH: usize = 5_000;
const RUNS: usize = 20;

/// Prints the median and the slowest of `v`.
fn report(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (med, max) = (ms(v[v.len() / 2]), ms(v[v.len() - 1]));
    println!("{name:<42} {med:>10.1} {max:>10.1}");
}

/// Times `RUNS` answers of `$request` (a future of a reply), each 200.
macro_rules! timed {
    ($name:expr, $request:expr) => {{
        let mut t = Vec::new();
        for _ in 0..RUNS {
            let s = Instant::now();
            let r = $request;
            t.push(s.elapsed());
            assert_eq!(r.status, 200, "{}: {}", $name, r.text());
        }
        report($name, t);
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: writes 160,000 events; run with --ignored --nocapture"]
async fn every_citizens_list_page_with_100k_messages_and_50k_enterprises() {
    let app = spawn_app().await;
    let districts: Vec<AreaCode> = app
        .districts()
        .iter()
        .map(|d| AreaCode::parse(d).unwrap())
        .collect();
    let now = xikang_server::now();
    let started = Instant::now();
    // Messages, spread over districts, categories and the last 30 days; every other one
    // replied, every fourth closed.
    let mut first = None;
    let rules = xikang_domain::board::BoardRules::default();
    for chunk in (0..MESSAGES).collect::<Vec<_>>().chunks(BATCH) {
        let events = chunk
            .iter()
            .map(|i| {
                let c = Category::ALL[i % Category::ALL.len()];
                NewEvent {
                    at: now.plus(-((MESSAGES - i) as i64) * 25),
                    actor: "public:board".into(),
                    basis: "bench".into(),
                    body: EventBody::MessagePosted {
                        category: c,
                        title: format!("留言 {i}"),
                        text: format!(
                            "第 {i} 条留言：封控楼栋物资配送不及时，请联系 1381234{:04}。",
                            i % 10_000
                        ),
                        department: rules.department(c),
                        area: districts[i % districts.len()].clone(),
                        due_at: now.plus(-((MESSAGES - i) as i64) * 25 + rules.sla_hours(c) * 3600),
                    },
                }
            })
            .collect();
        let stored = app.state.record(events).await.unwrap();
        first.get_or_insert(stored[0].seq);
    }
    let first = first.unwrap();
    for chunk in (0..MESSAGES).step_by(2).collect::<Vec<_>>().chunks(BATCH) {
        let mut events = Vec::new();
        for i in chunk {
            let message = EventSeq(first.0 + *i as u64);
            events.push(NewEvent {
                at: now,
                actor: "admin:bench".into(),
                basis: "bench".into(),
                body: EventBody::MessageHandled {
                    message,
                    action: MessageAction::Reply,
                    text: Some("已转相关部门办理，电话 13900001111。".into()),
                    department: None,
                    area: None,
                },
            });
            if i % 4 == 0 {
                events.push(NewEvent {
                    at: now,
                    actor: "admin:bench".into(),
                    basis: "bench".into(),
                    body: EventBody::MessageHandled {
                        message,
                        action: MessageAction::Close,
                        text: Some("办结".into()),
                        department: None,
                        area: None,
                    },
                });
            }
        }
        app.state.record(events).await.unwrap();
    }
    let people = common::PEOPLE;
    let mut first_filing = None;
    for chunk in (0..ENTERPRISES).collect::<Vec<_>>().chunks(BATCH) {
        let events = chunk
            .iter()
            .map(|i| NewEvent {
                at: now,
                actor: "admin:bench".into(),
                basis: "bench".into(),
                body: EventBody::FilingSubmitted {
                    enterprise: format!("企业 {i}"),
                    credit_code: format!("9132020000{i:08}"),
                    industry: Industry::ALL[i % Industry::ALL.len()],
                    area: districts[i % districts.len()].clone(),
                    site: "工业园".into(),
                    responsible: "王建国".into(),
                    measures: "测温".into(),
                    workers: (0..5)
                        .map(|k| PersonId(((i * 5 + k) as u32) % people))
                        .collect(),
                },
            })
            .collect();
        let stored = app.state.record(events).await.unwrap();
        first_filing.get_or_insert(stored[0].seq);
    }
    let first_filing = first_filing.unwrap();
    for chunk in (0..ENTERPRISES)
        .step_by(3)
        .collect::<Vec<_>>()
        .chunks(BATCH)
    {
        let events = chunk
            .iter()
            .map(|i| NewEvent {
                at: now,
                actor: "admin:bench".into(),
                basis: "bench".into(),
                body: EventBody::FilingDecided {
                    filing: EventSeq(first_filing.0 + *i as u64),
                    approved: true,
                    reason: "ok".into(),
                },
            })
            .collect();
        app.state.record(events).await.unwrap();
    }
    println!(
        "loaded {MESSAGES} messages and {ENTERPRISES} filings in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let district = districts[0].to_string();
    let district_admin = app.role_token("bench-district", "admin", &district).await;
    let api: Vec<(&str, String, String)> = vec![
        (
            "messages, city, page 1",
            app.admin.clone(),
            "/api/v1/messages".into(),
        ),
        (
            "messages, city, page 1000",
            app.admin.clone(),
            "/api/v1/messages?page=1000".into(),
        ),
        (
            "messages, district, replied",
            district_admin.clone(),
            "/api/v1/messages?status=replied".into(),
        ),
        (
            "messages, overdue",
            app.admin.clone(),
            "/api/v1/messages?overdue=true".into(),
        ),
        (
            "messages/public, page 1",
            app.admin.clone(),
            "/api/v1/messages/public".into(),
        ),
        (
            "messages/public, page 500",
            app.admin.clone(),
            "/api/v1/messages/public?page=500".into(),
        ),
        (
            "messages/stats, all",
            app.admin.clone(),
            "/api/v1/messages/stats".into(),
        ),
        (
            "enterprises/filings, city",
            app.admin.clone(),
            "/api/v1/enterprises/filings".into(),
        ),
        (
            "enterprises/filings, district pending",
            district_admin.clone(),
            "/api/v1/enterprises/filings?status=pending".into(),
        ),
        (
            "enterprises/resumption, city",
            app.admin.clone(),
            "/api/v1/enterprises/resumption".into(),
        ),
        (
            "inspections",
            app.admin.clone(),
            "/api/v1/inspections".into(),
        ),
        (
            "venues/silent",
            app.admin.clone(),
            "/api/v1/venues/silent".into(),
        ),
    ];
    let conn_app = &app;
    let mut c = conn_app.conn().await;
    println!("{:<42} {:>10} {:>10}", "page", "median ms", "max ms");
    for (name, token, path) in &api {
        timed!(name, c.get(path, Some(token)).await.unwrap());
    }
    let mut b = Browser::signed_in(&app, "bench-web", "admin", "320200").await;
    for (name, path) in [
        ("/board (HTML)", "/board"),
        ("/board?page=500 (HTML)", "/board?page=500"),
        ("/web/messages (HTML)", "/web/messages"),
        (
            "/web/messages?status=new (HTML)",
            "/web/messages?status=new",
        ),
    ] {
        timed!(name, b.get(path).await);
    }
}
