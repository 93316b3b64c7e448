//! The resident register (实有人口, issue 15): `POST /api/v1/people/import` with CSV (byte-
//! order mark, quoted fields with commas and line breaks), XLSX and JSON; refusals by line
//! with stable codes; a repeated import changing nothing; a changed address moving the
//! person (an authority event, zones included); a district admin kept to their district;
//! `xikang people import` sending a large file in parts; the same on PostgreSQL.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use xikang::httpc::Conn;
use xikang_domain::event::EventBody;
use xikang_domain::idnumber::IdNumber;
use xikang_domain::{EventSeq, PersonId};
use xikang_server::table::XLSX_CONTENT_TYPE;
use xikang_store::{GridCellRecord, Store};

const HEADER: &str = "id_number,name,phone,household,address,community,cell,kind,registered_on";

/// A new ID number (area 110101, so nobody of the generated city has it), `n` < 12 000.
fn id(n: u32) -> String {
    String::from(
        IdNumber::compose(110101, 1960 + (n / 1000) as i16, 3, 4, (n % 1000) as u16).unwrap(),
    )
}

/// Two grid cells of `district` in different communities, and one of another district.
fn cells(store: &dyn Store, district: &str) -> (GridCellRecord, GridCellRecord, GridCellRecord) {
    let grid = store.grid_cells().unwrap();
    let inside: Vec<&GridCellRecord> = grid
        .iter()
        .filter(|c| c.community.as_str().starts_with(district))
        .collect();
    let a = inside[0].clone();
    let b = inside
        .iter()
        .find(|c| c.community != a.community)
        .copied()
        .unwrap()
        .clone();
    let away = grid
        .iter()
        .find(|c| !c.community.as_str().starts_with(district))
        .unwrap()
        .clone();
    (a, b, away)
}

fn line(n: u32, household: &str, address: &str, cell: &GridCellRecord) -> String {
    format!(
        "{},居民{n},1380000{n:04},{household},\"{address}\",{},{},,",
        id(n),
        cell.community.as_str(),
        cell.cell.0
    )
}

async fn post_table(addr: &str, token: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let r = Conn::connect(addr)
        .await
        .unwrap()
        .request(
            "POST",
            "/api/v1/people/import",
            Some(token),
            Some(content_type),
            body,
        )
        .await
        .unwrap();
    (r.status, r.json())
}

fn person_of(app_store: &dyn Store, key: &[u8], n: u32) -> Option<PersonId> {
    let h = IdNumber::parse(&id(n)).unwrap().keyed_hash(key);
    app_store.person_by_id_hash(&h).unwrap()
}

fn log_len(store: &dyn Store) -> u64 {
    let mut n = 0;
    store.for_each_event(&mut |_| n += 1).unwrap();
    n
}

fn refusals(v: &Value) -> Vec<(u64, String)> {
    v["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap_or(0),
                r["error"]["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_utf8_register_keeps_good_lines_and_names_bad_ones_by_line_and_code() {
    let app = spawn_app().await;
    let district = &app.districts()[0];
    let (a, b, _) = cells(app.store.as_ref(), district);
    // What Excel's "CSV UTF-8" writes: a byte-order mark, CRLF, quotes around fields with
    // commas, doubled quotes and a line break.
    let mut csv = format!("\u{feff}{HEADER}\r\n");
    csv.push_str(&format!("{}\r\n", line(1, "H1", "中山路 1 号, 2 室", &a)));
    csv.push_str(&format!(
        "{},\"王 \"\"小二\"\"\",,H1,\"中山路 1 号\r\n后院\",{},{},floating,2022-03-01\r\n",
        id(2),
        a.community.as_str(),
        a.cell.0
    ));
    csv.push_str(&format!("{}\r\n", line(3, "H2", "解放路 9 号", &b)));
    // Line 6: a wrong check digit; 7: a cell of another community; 8: no name; 9: the ID
    // number of line 2 again; 10: floating without a registration date; 11: no such cell.
    let bad_check = {
        let mut s = id(4);
        let last = if s.ends_with('0') { '1' } else { '0' };
        s.truncate(17);
        s.push(last);
        s
    };
    let community = a.community.as_str();
    for (id_number, name, cell, kind) in [
        (bad_check, "甲", a.cell.0, ""),
        (id(5), "乙", b.cell.0, ""),
        (id(6), "", a.cell.0, ""),
        (id(2), "丙", a.cell.0, ""),
        (id(7), "丁", a.cell.0, "floating"),
        (id(8), "戊", 99_999_999, ""),
    ] {
        csv.push_str(&format!(
            "{id_number},{name},,H3,某路,{community},{cell},{kind},\r\n"
        ));
    }
    let people_before = app.store.count_people().unwrap();

    let (s, v) = post_table(&app.addr, &app.admin, "text/csv", csv.as_bytes()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["added"].as_u64(), v["refused"].as_u64()),
        (Some(3), Some(6)),
        "{v}"
    );
    assert_eq!(
        refusals(&v),
        vec![
            (6, "invalid_id_check_digit".to_owned()),
            (7, "cell_not_in_community".to_owned()),
            (8, "invalid_name".to_owned()),
            (9, "duplicate_in_file".to_owned()),
            (10, "invalid_registration_date".to_owned()),
            (11, "unknown_cell".to_owned()),
        ],
        "{v}"
    );
    assert_eq!(app.store.count_people().unwrap(), people_before + 3);

    // The quoted fields arrived whole; the two people of H1 share a household.
    let key = &app.state.secrets.id_hash_key;
    let p1 = person_of(app.store.as_ref(), key, 1).unwrap();
    let p2 = person_of(app.store.as_ref(), key, 2).unwrap();
    let stored = app.store.person(p2).unwrap().unwrap();
    assert_eq!(stored.name, "王 \"小二\"");
    assert_eq!(stored.phone, None);
    let registered = app
        .store
        .registered_by_hashes(&[IdNumber::parse(&id(2)).unwrap().keyed_hash(key)])
        .unwrap();
    assert_eq!(registered[0].1.address, "中山路 1 号\r\n后院");
    assert_eq!(
        registered[0].1.kind,
        xikang_domain::register::ResidentKind::Floating
    );
    assert_eq!(
        app.store.person(p1).unwrap().unwrap().household,
        stored.household
    );
    assert!(
        person_of(app.store.as_ref(), key, 5).is_none(),
        "a refused line stored nothing"
    );

    // The server knows them at once: their code, their household for tracing.
    assert_eq!(app.colour(&p1.to_string()).await, "green");
    let members = app
        .state
        .projection
        .tracing
        .population()
        .household_members(p1)
        .to_vec();
    assert_eq!(members, vec![p1.0, p2.0]);
    assert_eq!(app.state.projection.home_cell(p2), Some(a.cell));

    // The import is in the authority log, by the admin who made it.
    let last = app.store.events_after(EventSeq(0), u32::MAX).unwrap();
    let e = last
        .iter()
        .rev()
        .find(|e| e.body.kind() == "register_imported")
        .unwrap();
    assert!(e.actor.starts_with("admin:"), "{}", e.actor);
    assert!(matches!(
        e.body,
        EventBody::RegisterImported {
            added: 3,
            refused: 6,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_again_changes_nothing_and_a_changed_address_moves_the_person() {
    let app = spawn_app().await;
    let district = &app.districts()[0];
    let (a, b, _) = cells(app.store.as_ref(), district);
    let first = format!(
        "{HEADER}\n{}\n{}\n",
        line(1, "H1", "中山路 1 号", &a),
        line(2, "H1", "中山路 1 号", &a)
    );
    let (s, v) = post_table(&app.addr, &app.admin, "text/csv", first.as_bytes()).await;
    assert_eq!((s, v["added"].as_u64()), (200, Some(2)), "{v}");
    let people = app.store.count_people().unwrap();
    let events = log_len(app.store.as_ref());

    let (s, v) = post_table(&app.addr, &app.admin, "text/csv", first.as_bytes()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        [
            &v["added"],
            &v["updated"],
            &v["moved"],
            &v["unchanged"],
            &v["refused"]
        ],
        [&json!(0), &json!(0), &json!(0), &json!(2), &json!(0)],
        "{v}"
    );
    assert_eq!(
        app.store.count_people().unwrap(),
        people,
        "nothing duplicated"
    );
    assert_eq!(log_len(app.store.as_ref()), events, "a repeat logs nothing");

    // Person 2 lives in a sealed zone drawn over cell `b`; person 1 moves there, person 2
    // only changes phone.
    let (s, z) = app
        .draw_zone(json!({"name": "b", "level": "sealed", "cells": [b.cell.0]}))
        .await;
    assert_eq!(s, 200, "{z}");
    let key = app.state.secrets.id_hash_key.clone();
    let p1 = person_of(app.store.as_ref(), &key, 1).unwrap();
    assert_eq!(app.colour(&p1.to_string()).await, "green");
    let second = format!(
        "{HEADER}\n{}\n{}\n",
        line(1, "H9", "解放路 9 号", &b),
        line(2, "H1", "中山路 1 号", &a).replacen("13800000002", "13900000002", 1)
    );
    let (s, v) = post_table(&app.addr, &app.admin, "text/csv", second.as_bytes()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["moved"].as_u64(), v["updated"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert_eq!(
        app.store.count_people().unwrap(),
        people,
        "a move is no new person"
    );
    let moved = app.store.person(p1).unwrap().unwrap();
    assert_eq!(
        (moved.area.clone(), moved.home_cell),
        (b.community.clone(), b.cell)
    );
    assert_eq!(
        app.state.projection.person_area(p1),
        Some(b.community.clone())
    );
    // The move put them in the sealed zone: red, with the move as the evidence.
    assert_eq!(app.colour(&p1.to_string()).await, "red");
    let history = app.store.events_of_person(p1).unwrap();
    let m = history
        .iter()
        .find(|e| e.body.kind() == "resident_moved")
        .unwrap();
    assert!(matches!(
        &m.body,
        EventBody::ResidentMoved { from, to, .. } if *from == a.cell && *to == b.cell
    ));
    // The log names cells, never the address.
    let all = serde_json::to_string(
        &app.store
            .events_after(EventSeq(0), u32::MAX)
            .unwrap()
            .iter()
            .map(|e| &e.body)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(
        !all.contains("解放路") && !all.contains("中山路"),
        "an address reached the log"
    );
    // Tracing's households follow: person 1 left H1.
    let p2 = person_of(app.store.as_ref(), &key, 2).unwrap();
    assert_eq!(
        app.state
            .projection
            .tracing
            .population()
            .household_members(p2),
        &[p2.0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_admin_imports_only_into_their_district() {
    let app = spawn_app().await;
    let district = app.districts()[0].clone();
    let (a, _, away) = cells(app.store.as_ref(), &district);
    let district_admin = app.role_token("district-admin", "admin", &district).await;
    let csv = format!(
        "{HEADER}\n{}\n{}\n",
        line(1, "H1", "本区 1 号", &a),
        line(2, "H2", "外区 2 号", &away)
    );
    let (s, v) = post_table(&app.addr, &district_admin, "text/csv", csv.as_bytes()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["added"], json!(1), "{v}");
    assert_eq!(refusals(&v), vec![(3, "forbidden".to_owned())]);
    let key = app.state.secrets.id_hash_key.clone();
    assert!(person_of(app.store.as_ref(), &key, 2).is_none());

    // The city admin registers person 2 in the other district; the district admin can
    // neither take them out of it nor change them.
    let (s, _) = post_table(
        &app.addr,
        &app.admin,
        "text/csv",
        format!("{HEADER}\n{}\n", line(2, "H2", "外区 2 号", &away)).as_bytes(),
    )
    .await;
    assert_eq!(s, 200);
    let steal = format!("{HEADER}\n{}\n", line(2, "H2", "本区 3 号", &a));
    let (s, v) = post_table(&app.addr, &district_admin, "text/csv", steal.as_bytes()).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["code"], "no_valid_items");
    assert_eq!(
        v["error"]["details"]["refusals"][0]["error"]["code"],
        "forbidden"
    );
    let p2 = person_of(app.store.as_ref(), &key, 2).unwrap();
    assert_eq!(app.store.person(p2).unwrap().unwrap().home_cell, away.cell);

    // Other roles, and an admin of a street, may not import at all.
    let tracer = app.role_token("tracer", "tracer", &district).await;
    let (s, v) = post_table(&app.addr, &tracer, "text/csv", csv.as_bytes()).await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")));
    let street = &a.community.as_str()[..9];
    let street_admin = app.role_token("street-admin", "admin", street).await;
    let (s, _) = post_table(&app.addr, &street_admin, "text/csv", csv.as_bytes()).await;
    assert_eq!(s, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_register_imports_with_its_row_numbers() {
    use xikang_server::export::{Cell, Table, to_xlsx};
    let app = spawn_app().await;
    let (a, _, _) = cells(app.store.as_ref(), &app.districts()[0]);
    let headers = [
        "身份证号",
        "姓名",
        "手机",
        "户号",
        "地址",
        "社区",
        "网格",
        "类别",
        "登记日期",
    ];
    let row = |n: u32, cell: u32| {
        vec![
            Cell::Text(id(n)),
            Cell::Text(format!("居民{n}")),
            Cell::Number(13_800_000_000.0 + f64::from(n)),
            Cell::Text("H1".into()),
            Cell::Text("中山路 1 号, 2 室".into()),
            Cell::Text(a.community.as_str().to_owned()),
            Cell::Number(f64::from(cell)),
            Cell::Text("流动".into()),
            Cell::Text("2022-05-06".into()),
        ]
    };
    let table = Table {
        headers: headers.iter().map(|h| (*h).to_owned()).collect(),
        rows: vec![row(1, a.cell.0), row(2, 99_999_999), row(3, a.cell.0)],
    };
    let (s, v) = post_table(
        &app.addr,
        &app.admin,
        XLSX_CONTENT_TYPE,
        &to_xlsx(&table, "实有人口").expect("xlsx"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["added"], json!(2), "{v}");
    assert_eq!(refusals(&v), vec![(3, "unknown_cell".to_owned())]);
    let key = app.state.secrets.id_hash_key.clone();
    let p = person_of(app.store.as_ref(), &key, 1).unwrap();
    let stored = app.store.person(p).unwrap().unwrap();
    assert_eq!(stored.phone.unwrap().expose(), "13800000001");
    assert_eq!(stored.home_cell, a.cell);

    // Garbage with the XLSX content type is a 400, not a 5xx.
    let (s, v) = post_table(&app.addr, &app.admin, XLSX_CONTENT_TYPE, b"PK not really").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("invalid_xlsx"))
    );
    // So is a file without the required columns.
    let (s, v) = post_table(&app.addr, &app.admin, "text/csv", b"id_number,name\n1,2\n").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("missing_columns"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xikang_people_import_sends_a_large_file_in_parts_and_names_lines_of_the_file() {
    let app = spawn_app().await;
    let (a, b, _) = cells(app.store.as_ref(), &app.districts()[0]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.csv");
    let mut csv = format!("\u{feff}{HEADER}\r\n");
    let n = 6_000;
    for i in 0..n {
        let cell = if i % 2 == 0 { &a } else { &b };
        // Every address has a line break inside its quotes, so file lines and records differ.
        csv.push_str(&line(
            i,
            &format!("H{}", i / 3),
            &format!("{i} 号\n{i} 室"),
            cell,
        ));
        csv.push_str("\r\n");
    }
    // A bad phone on the last record: its first line in the file is 2 + 2 * (n - 1).
    csv.push_str(&format!(
        "{},末,12345,H0,\"x\ny\",{},{},,\r\n",
        id(n),
        a.community.as_str(),
        a.cell.0
    ));
    std::fs::write(&path, csv).unwrap();

    let s = xikang::register_cli::import(&path, &app.addr, &app.admin, false)
        .await
        .unwrap();
    assert_eq!(s.lines, u64::from(n) + 1);
    assert_eq!(s.count("added"), u64::from(n));
    assert_eq!(s.refusals.len(), 1);
    assert_eq!(
        (s.refusals[0].line, s.refusals[0].code.as_str()),
        (2 + 2 * n as usize, "invalid_phone")
    );
    let again = xikang::register_cli::import(&path, &app.addr, &app.admin, false)
        .await
        .unwrap();
    assert_eq!(
        (again.count("added"), again.count("unchanged")),
        (0, u64::from(n))
    );
}

/// Synchronous: the PostgreSQL client blocks, so the store is only touched outside the
/// async runtime (the server itself calls it from blocking threads).
#[test]
fn the_register_import_behaves_the_same_on_postgres() {
    let Some(url) = pg::postgres_url() else {
        return;
    };
    let fresh = pg::FreshSchema::new(url, "register");
    let target = fresh.target();
    let store: Arc<dyn Store> = Arc::from(xikang_store::open(&target).unwrap());
    let dir = city_dir();
    let city = xikang_store::open(&xikang_store::Target::Sqlite(dir.path().to_path_buf())).unwrap();
    store.put_grid_cells(&city.grid_cells().unwrap()).unwrap();
    put_token(store.as_ref(), "xk_pg_admin", "admin", "320200");
    let state = Arc::new(
        xikang_server::state::AppState::load(
            store.clone(),
            xikang_server::ServerConfig::default(),
            xikang_domain::policy::Policy::default_policy(),
            &xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML),
            xikang_server::now(),
        )
        .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let s = state.clone();
        tokio::spawn(
            async move { xikang_server::serve(listener, s, std::future::pending()).await },
        );
        addr
    });
    let post = |body: &str| {
        rt.block_on(post_table(
            &addr,
            "xk_pg_admin",
            "text/csv",
            body.as_bytes(),
        ))
    };

    let (a, b, _) = cells(store.as_ref(), "320213");
    let csv = format!(
        "\u{feff}{HEADER}\r\n{}\r\n{}\r\n{},x,,H1,y,{},{},,\r\n",
        line(1, "H1", "中山路 1 号, 2 室", &a),
        line(2, "H1", "中山路 1 号\n后院", &a),
        &id(3)[..17],
        a.community.as_str(),
        a.cell.0
    );
    let (s, v) = post(&csv);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["added"], json!(2), "{v}");
    // The second record spans two lines of the file: the bad one starts on line 5.
    assert_eq!(refusals(&v), vec![(5, "invalid_id_number".to_owned())]);
    let events = log_len(store.as_ref());
    let (_, v) = post(&csv);
    assert_eq!(
        (v["added"].as_u64(), v["unchanged"].as_u64()),
        (Some(0), Some(2)),
        "{v}"
    );
    assert_eq!(log_len(store.as_ref()), events, "a repeat logs nothing");
    let (_, v) = post(&format!("{HEADER}\n{}\n", line(1, "H1", "解放路 9 号", &b)));
    assert_eq!(v["moved"], json!(1), "{v}");
    let key = state.secrets.id_hash_key.clone();
    let p1 = person_of(store.as_ref(), &key, 1).unwrap();
    assert_eq!(store.person(p1).unwrap().unwrap().home_cell, b.cell);
    assert_eq!(state.projection.home_cell(p1), Some(b.cell));
    assert_eq!(store.count_people().unwrap(), 2);
    assert!(
        store
            .events_of_person(p1)
            .unwrap()
            .iter()
            .any(|e| e.body.kind() == "resident_moved")
    );
    drop(rt);
}
