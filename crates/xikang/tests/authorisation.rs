//! Who may call what: every operation of the OpenAPI document is called as each of the nine
//! roles, on an object INSIDE the caller's district and on one OUTSIDE it, and without a
//! token; the answer's class must match one row of the permission table below. A new
//! operation without a row fails the test, so nobody can forget to decide who may call it.
//!
//! The objects (a case, a zone with a proposal, quarantine sites and an order, a grid task,
//! an appeal, an arrival, a sentinel, a sampling site, a round and a tube) are built through
//! the API in two districts. Every token belongs to the first district; the second one's
//! objects are "outside". A grid worker's identity is the worker of the home cell of the
//! district's person, a site manager's the manager of its sites, a resident's its person.
//!
//! What counts as "allowed": any answer other than the refusals (401, 403, 404, or the
//! batch's per-item refusal), below 500 — a 409 or 422 from a state machine is past the
//! authorisation check (each handler checks the caller before the state). To keep that
//! honest, every row marked `must_succeed` must also have answered 2xx to at least one
//! allowed caller, which proves its request really reaches the handler's work.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;
#[path = "authorisation/world.rs"]
mod world;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use world::*;
use xikang_domain::time::{DAY, HOUR};
use xikang_server::state::read;

/// The roles, each with the letter the table uses for it.
const ROLES: [(char, &str); 9] = [
    ('a', "admin"),
    ('t', "tracer"),
    ('l', "lab"),
    ('v', "venue_device"),
    ('g', "grid_worker"),
    ('r', "resident"),
    ('s', "site_manager"),
    ('c', "carrier"),
    ('e', "enterprise"),
];

/// How an operation's object relates to the caller's area.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    /// No token needed.
    Public,
    /// The whole city at once (the authority log): a caller whose area is a district gets
    /// 403 `forbidden` (every token of the table is a district's).
    WholeCity,
    /// The object has no district, or the answer is filtered to the caller's area: the same
    /// answer class inside and outside.
    City,
    /// The object lies in a district; outside the caller's, 403 `forbidden`.
    Area,
    /// As `Area`, but the refusal hides the object: 404.
    Hidden,
    /// As `Area` for a batch refused item by item: 422 with every item refused by this code.
    Items(&'static str),
}
use Scope::*;

/// The request one call makes: method is the row's; path with the object's ids; body.
type Request = (String, Option<Value>);

/// One row of the permission table.
struct Row {
    method: &'static str,
    /// The path as the OpenAPI document spells it.
    path: &'static str,
    /// The roles allowed (letters of [`ROLES`]).
    roles: &'static str,
    scope: Scope,
    /// Whether some allowed caller must get a 2xx (false where the first allowed call moves
    /// the object on, or the object cannot be made to succeed: see the row's comment).
    must_succeed: bool,
    /// The request on the objects of one district; `n` numbers the calls (unique barcodes…).
    request: fn(&World, u32) -> Request,
}

fn get(path: String) -> Request {
    (path, None)
}

fn post(path: impl Into<String>, body: Value) -> Request {
    (path.into(), Some(body))
}

/// An ID number nobody in the city has, different for each call `n`.
fn new_id_number(n: u32) -> String {
    let (year, month, seq) = (
        1930 + (n / 12_000) as i16,
        1 + ((n / 1000) % 12) as i8,
        n % 1000,
    );
    String::from(
        xikang_domain::idnumber::IdNumber::compose(110101, year, month, 1, seq as u16).unwrap(),
    )
}

/// The trust anchor of a peer city (a key of 320500 that signs nothing here).
fn peer_anchor() -> Value {
    let root = xikang_code::SigningKey::from_secret(
        [9; 32],
        "320500",
        xikang_domain::Timestamp(0),
        xikang_domain::Timestamp(4_000_000_000),
    );
    serde_json::to_value(xikang_code::TrustAnchor::of(&root)).unwrap()
}

/// A 协查 request from the peer city, signed by its root, numbered `n` there.
fn signed_assist(n: u32) -> Request {
    let root = xikang_code::SigningKey::from_secret(
        [9; 32],
        "320500",
        xikang_domain::Timestamp(0),
        xikang_domain::Timestamp(4_000_000_000),
    );
    let now = xikang_server::now().0;
    let message = json!({"message": "request", "from": "320500", "to": "320200", "id": n,
        "case": "C7", "places": [{"place": "无锡站", "from": now - 7200, "to": now - 3600}], "sent_at": now});
    let signed = hex::encode(xikang_code::sign_json(&root, &message));
    post("/api/v1/assist-requests/inbox", json!({"signed": signed}))
}

fn rfc(secs_from_now: i64) -> String {
    xikang_server::now().plus(secs_from_now).to_rfc3339()
}

/// The permission table: who may call each operation, and how its object is found.
#[rustfmt::skip]
fn table() -> Vec<Row> {
    macro_rules! row {
        ($m:literal, $p:literal, $roles:literal, $scope:expr, $ok:literal, $req:expr) => {
            Row { method: $m, path: $p, roles: $roles, scope: $scope, must_succeed: $ok, request: $req }
        };
    }
    vec![
        row!("get", "/healthz", "", Public, true, |_, _| get("/healthz".into())),
        row!("get", "/readyz", "", Public, true, |_, _| get("/readyz".into())),
        // Not an API role's: loopback (this test's client) or the metrics token (tests/ops.rs).
        row!("get", "/metrics", "", Public, true, |_, _| get("/metrics".into())),
        row!("get", "/api/v1/openapi.json", "", Public, true, |_, _| get("/api/v1/openapi.json".into())),
        row!("get", "/api/v1/trust", "", Public, true, |_, _| get("/api/v1/trust".into())),
        row!("get", "/api/v1/trust/signed", "", Public, true, |_, _| get("/api/v1/trust/signed".into())),
        row!("get", "/api/v1/trust/anchor", "", Public, true, |_, _| get("/api/v1/trust/anchor".into())),
        row!("get", "/api/v1/trust/rules", "", Public, true, |_, _| get("/api/v1/trust/rules".into())),
        // Risk areas and entry rules are public notices, the peers' too.
        row!("get", "/api/v1/peer-rules", "", Public, true, |_, _| get("/api/v1/peer-rules".into())),
        row!("get", "/api/v1/keys", "a", WholeCity, true, |_, _| get("/api/v1/keys".into())),
        row!("post", "/api/v1/keys/rotate", "a", WholeCity, true, |_, _| post("/api/v1/keys/rotate", json!({"ahead_secs": 86_400}))),
        row!("post", "/api/v1/keys/{kid}/revoke", "a", WholeCity, false, |_, _| post("/api/v1/keys/0000000000000000/revoke", json!({"reason": "compromised"}))),
        row!("get", "/api/v1/peers/{name}", "a", WholeCity, false, |_, _| get("/api/v1/peers/suzhou".into())),
        // Possession of a valid code is the credential: it tells no more than the code shows.
        row!("post", "/api/v1/codes/current", "", Public, true, |w, _| post("/api/v1/codes/current", json!({"token": w.code}))),
        row!("post", "/api/v1/peers", "a", WholeCity, true, |w, _| post("/api/v1/peers", json!({"name": "suzhou", "url": w.peer_url, "anchor": peer_anchor()}))),
        row!("get", "/api/v1/peers", "a", WholeCity, true, |_, _| get("/api/v1/peers".into())),
        // The peer's URL is this server, whose list another root signed: 422, never a 2xx.
        row!("post", "/api/v1/peers/{name}/refresh", "a", WholeCity, false, |_, _| post("/api/v1/peers/suzhou/refresh", json!({}))),
        row!("post", "/api/v1/entry-checks", "av", Area, true, |w, _| post("/api/v1/entry-checks", json!({"code": w.code, "venue": w.venue}))),
        row!("post", "/api/v1/assist-requests", "at", Area, true, |w, _| post("/api/v1/assist-requests", json!({"peer": "suzhou", "case": w.case, "places": [{"place": "苏州站", "from": xikang_server::now().0 - 7200, "to": xikang_server::now().0 - 3600}]}))),
        row!("get", "/api/v1/assist-requests", "at", City, true, |_, _| get("/api/v1/assist-requests?direction=in".into())),
        // The first allowed call answers; the next ones are 409 assist_answered.
        row!("post", "/api/v1/assist-requests/{id}/answer", "at", City, true, |w, _| post(format!("/api/v1/assist-requests/{}/answer", w.assist), json!({"outcome": "traced 3, all negative", "traced": 3}))),
        // The signature by a pinned peer's root is the credential, not a bearer token.
        row!("post", "/api/v1/assist-requests/inbox", "", Public, true, |_, n| signed_assist(1000 + n)),
        // An enterprise's account applies as its own credit code, for the workers of its filing:
        // the world's filing is still pending, so the inside enterprise hears 409
        // filing_not_approved past the check; the outside one's code is not its own (403).
        row!("post", "/api/v1/passes", "age", Area, true, |w, _| post("/api/v1/passes", json!({"person": w.p, "employer": w.credit, "work_jurisdiction": "320500", "days": 30, "max_test_age_hours": 48}))),
        // Filtered: staff to their area's holders, an enterprise to the passes it is the employer of.
        row!("get", "/api/v1/passes", "age", City, true, |_, _| get("/api/v1/passes".into())),
        row!("get", "/api/v1/passes/{id}", "age", Area, true, |w, _| get(format!("/api/v1/passes/{}", w.pass))),
        // Applied for by the second admin, so the table's admin may approve it once.
        row!("post", "/api/v1/passes/{id}/approve", "a", Area, true, |w, _| post(format!("/api/v1/passes/{}/approve", w.pass), json!({}))),
        row!("post", "/api/v1/passes/{id}/revoke", "a", Area, true, |w, _| post(format!("/api/v1/passes/{}/revoke", w.pass), json!({"reason": "left the employer"}))),
        row!("get", "/api/v1/policy", "atlvgrsce", City, true, |_, _| get("/api/v1/policy".into())),
        // Policy versions are the whole city's: changing them takes a city-level admin (every
        // token of the table is a district's); reading them, any admin.
        row!("post", "/api/v1/policies", "a", WholeCity, false, |_, _| post("/api/v1/policies", json!({"text": xikang_domain::policy::ERSHITIAO_POLICY_TOML}))),
        row!("get", "/api/v1/policies", "a", City, true, |_, _| get("/api/v1/policies".into())),
        row!("get", "/api/v1/policies/{version}", "a", City, true, |_, _| get("/api/v1/policies/xikang-default-2022.09".into())),
        row!("post", "/api/v1/policies/{version}/activate", "a", WholeCity, false, |_, _| post("/api/v1/policies/xikang-default-2022.09/activate", json!({"effective_from": rfc(DAY)}))),
        row!("post", "/api/v1/policies/{version}/approve", "a", WholeCity, false, |_, _| post("/api/v1/policies/xikang-default-2022.09/approve", json!({}))),
        row!("get", "/api/v1/people", "atg", Area, true, |w, _| get(format!("/api/v1/people?area={}", w.district))),
        row!("post", "/api/v1/people/lookup", "atgl", Area, true, |w, _| post("/api/v1/people/lookup", json!({"id_number": w.id_number}))),
        // The register: a city or district admin, each line's community in their area (a new
        // resident per call, so every allowed call adds one).
        row!("post", "/api/v1/people/import", "a", Items("forbidden"), true, |w, n| post("/api/v1/people/import", json!({"people": [{"id_number": new_id_number(n), "name": "新居民", "household": format!("H-{n}"), "address": "某路 1 号", "community": w.cell_row["community"], "cell": w.cell}]}))),
        // Claims (docs/claim.md): start and finish need no token (the finish's bad claim id is
        // refused with 400, whoever calls); a guardian's dependants are their own business.
        row!("post", "/api/v1/claim/start", "", Public, true, |w, _| post("/api/v1/claim/start", json!({"id_number": w.id_number, "name": "某人", "phone": "13800000000"}))),
        row!("post", "/api/v1/claim/finish", "", Public, false, |_, _| post("/api/v1/claim/finish", json!({"claim_id": "x", "code": "123456"}))),
        row!("post", "/api/v1/claim/proxy", "r", City, false, |w, _| post("/api/v1/claim/proxy", json!({"id_number": w.id_number, "name": "某人", "relation": "nobody"}))),
        row!("get", "/api/v1/claim/dependants", "r", City, true, |_, _| get("/api/v1/claim/dependants".into())),
        row!("post", "/api/v1/proxies/{id}/revoke", "a", Area, true, |w, _| post(format!("/api/v1/proxies/{}/revoke", w.grant), json!({}))),
        row!("post", "/api/v1/people/{id}/card", "ag", Area, true, |w, _| post(format!("/api/v1/people/{}/card", w.p), json!({}))),
        row!("get", "/api/v1/cards/{id}", "atglr", Area, true, |w, _| get(format!("/api/v1/cards/{}", w.card))),
        row!("get", "/api/v1/cards/{id}/qr.svg", "atglr", Area, true, |w, _| get(format!("/api/v1/cards/{}/qr.svg", w.card))),
        row!("get", "/api/v1/cards/{id}/qr.png", "atglr", Area, true, |w, _| get(format!("/api/v1/cards/{}/qr.png", w.card))),
        row!("post", "/api/v1/cards/{id}/revoke", "a", Area, true, |w, _| post(format!("/api/v1/cards/{}/revoke", w.card), json!({"reason": "lost"}))),
        row!("get", "/api/v1/people/{id}", "atglr", Area, true, |w, _| get(format!("/api/v1/people/{}", w.p))),
        row!("get", "/api/v1/people/{id}/code", "atglr", Area, true, |w, _| get(format!("/api/v1/people/{}/code", w.p))),
        row!("get", "/api/v1/people/{id}/code.svg", "atglr", Area, true, |w, _| get(format!("/api/v1/people/{}/code.svg", w.p))),
        row!("get", "/api/v1/people/{id}/code.png", "atglr", Area, true, |w, _| get(format!("/api/v1/people/{}/code.png", w.p))),
        // Venues are public places: any caller (a door device looks its venue up).
        row!("get", "/api/v1/venues", "atlvgrsce", City, true, |_, _| get("/api/v1/venues?limit=3".into())),
        row!("get", "/api/v1/venues/{id}", "atlvgrsce", City, true, |w, _| get(format!("/api/v1/venues/{}", w.venue))),
        row!("post", "/api/v1/scans", "av", Area, true, |w, _| post("/api/v1/scans", json!({"place_code": w.place_code, "token": w.code}))),
        row!("get", "/api/v1/scans", "at", Area, true, |w, _| get(format!("/api/v1/scans?venue={}", w.venue))),
        // Filtered to the people of the caller's area.
        row!("get", "/api/v1/scans/anomalies", "at", City, true, |_, _| get("/api/v1/scans/anomalies".into())),
        // Pings feed the companion rule: only for people of the caller's area, refused item by
        // item (a city carrier's feed covers the city).
        row!("post", "/api/v1/pings", "ac", Items("forbidden"), true, |w, _| post("/api/v1/pings", json!({"pings": [{"person": w.p, "at": rfc(-600), "lat": 31.5, "lon": 120.3}]}))),
        row!("post", "/api/v1/test-results", "al", Items("forbidden"), true, |w, n| post("/api/v1/test-results", json!({"results": [{"person": w.p, "sampled_at": rfc(-2 * HOUR), "resulted_at": rfc(-HOUR), "outcome": "negative", "tube": format!("R-{n}")}]}))),
        row!("get", "/api/v1/test-results", "atglr", Area, true, |w, _| get(format!("/api/v1/test-results?person={}", w.p))),
        // The second allowed call finds the case open: 409 case_exists, after the check.
        row!("post", "/api/v1/cases", "at", Area, true, |w, _| post("/api/v1/cases", json!({"person": w.newcase, "kind": "confirmed", "onset": rfc(-DAY)}))),
        row!("get", "/api/v1/cases", "at", City, true, |_, _| get("/api/v1/cases".into())),
        row!("get", "/api/v1/cases/{id}", "at", Area, true, |w, _| get(format!("/api/v1/cases/{}", w.case))),
        row!("get", "/api/v1/cases/{id}/contacts", "at", Area, true, |w, _| get(format!("/api/v1/cases/{}/contacts?limit=5", w.case))),
        row!("get", "/api/v1/cases/{id}/contacts/export", "at", Area, true, |w, _| get(format!("/api/v1/cases/{}/contacts/export?format=csv", w.case))),
        // Dismissing twice is a 409 contact_status, after the check.
        row!("post", "/api/v1/cases/{id}/contacts/{person}", "at", Area, true, |w, _| post(format!("/api/v1/cases/{}/contacts/{}", w.case, w.contact), json!({"action": "dismiss", "reason": "not there"}))),
        row!("get", "/api/v1/appeals", "at", City, true, |_, _| get("/api/v1/appeals".into())),
        row!("post", "/api/v1/appeals/{id}/answer", "at", Area, true, |w, _| post(format!("/api/v1/appeals/{}/answer", w.appeal), json!({"answer": "checked"}))),
        // After the answer above the person may appeal again; a second appeal while one is open
        // is a 409 appeal_open, after the check.
        row!("post", "/api/v1/people/{id}/appeals", "atgr", Area, true, |w, _| post(format!("/api/v1/people/{}/appeals", w.p), json!({"reason": "I was not there"}))),
        row!("get", "/api/v1/cases/{id}/sources", "at", Area, true, |w, _| get(format!("/api/v1/cases/{}/sources", w.case))),
        row!("get", "/api/v1/clusters", "at", City, true, |_, _| get("/api/v1/clusters".into())),
        // A cluster nobody of the caller's area is in does not exist for them.
        row!("get", "/api/v1/clusters/{id}", "at", Hidden, true, |w, _| get(format!("/api/v1/clusters/{}", w.cluster))),
        row!("get", "/api/v1/events", "a", WholeCity, true, |_, _| get("/api/v1/events?limit=1".into())),
        row!("get", "/api/v1/audit", "a", WholeCity, true, |_, _| get("/api/v1/audit".into())),
        row!("post", "/api/v1/holds", "at", Area, true, |w, n| post("/api/v1/holds", json!({"person": w.p, "basis": format!("basis {n}"), "expires_at": rfc(DAY)}))),
        row!("get", "/api/v1/holds", "at", Area, true, |w, _| get(format!("/api/v1/holds?person={}", w.p))),
        // The world's hold was proposed by the second admin; the first allowed call approves
        // it, later ones get 409 hold_decided, after the check.
        row!("post", "/api/v1/holds/{id}/approve", "a", Area, true, |w, _| post(format!("/api/v1/holds/{}/approve", w.hold), json!({}))),
        // Approved above: the first allowed call clears it, later ones get 409 hold_not_active.
        row!("post", "/api/v1/holds/{id}/clear", "at", Area, true, |w, _| post(format!("/api/v1/holds/{}/clear", w.hold), json!({}))),
        row!("get", "/api/v1/ledger/colours", "", Public, true, |_, _| get("/api/v1/ledger/colours".into())),
        // Counts of the caller's own jurisdiction: the same answer class inside and outside.
        row!("get", "/api/v1/colours", "a", City, true, |_, _| get("/api/v1/colours".into())),
        // The anchored log: a size, a root hash, interior hashes, the log's public key, and no
        // event. Public so that witnesses outside the city's systems can check it.
        row!("get", "/api/v1/audit/checkpoint", "", Public, true, |_, _| get("/api/v1/audit/checkpoint".into())),
        row!("get", "/api/v1/drill/clock", "a", City, true, |_, _| get("/api/v1/drill/clock".into())),
        // A production server: the clock never moves (409 not_a_drill after the checks).
        row!("post", "/api/v1/drill/clock", "a", WholeCity, false, |_, _| post("/api/v1/drill/clock", json!({"advance_secs": 60}))),
        row!("get", "/api/v1/audit/key", "", Public, true, |_, _| get("/api/v1/audit/key".into())),
        row!("get", "/api/v1/audit/consistency", "", Public, true, |_, _| get("/api/v1/audit/consistency?from=1&to=2".into())),
        row!("post", "/api/v1/tokens", "a", Area, true, |w, n| post("/api/v1/tokens", json!({"name": format!("t{n}"), "role": "tracer", "area": w.district}))),
        // The list is filtered to the caller's area.
        row!("get", "/api/v1/tokens", "a", City, true, |_, _| get("/api/v1/tokens".into())),
        // Revoking the district's device token again changes nothing: 200 each time.
        row!("delete", "/api/v1/tokens/{id}", "a", Area, true, |w, _| get(format!("/api/v1/tokens/{}", w.token))),
        // Who read the district's person.
        row!("get", "/api/v1/access", "a", Area, true, |w, _| get(format!("/api/v1/access?person={}", w.p))),
        row!("post", "/api/v1/grid/cells", "a", Area, true, |w, _| post("/api/v1/grid/cells", json!({"cells": [w.cell_row]}))),
        row!("get", "/api/v1/grid/cells", "atg", City, true, |_, _| get("/api/v1/grid/cells".into())),
        row!("get", "/api/v1/grid/tasks", "atg", Area, true, |w, _| get(format!("/api/v1/grid/tasks?cell={}", w.cell))),
        row!("post", "/api/v1/grid/tasks/{id}/complete", "ag", Area, true, |w, _| post(format!("/api/v1/grid/tasks/{}/complete", w.task), json!({"note": "visited"}))),
        row!("get", "/api/v1/grid/overdue", "atg", City, true, |_, _| get("/api/v1/grid/overdue".into())),
        row!("post", "/api/v1/quarantine/sites", "a", Area, true, |w, n| post("/api/v1/quarantine/sites", json!({"name": format!("site {n}"), "kind": "centralized", "area": w.district, "lat": 31.5, "lon": 120.3, "capacity": 10}))),
        row!("get", "/api/v1/quarantine/sites", "ats", City, true, |_, _| get("/api/v1/quarantine/sites".into())),
        // The second allowed call finds the order: 409 order_exists, after the check.
        row!("post", "/api/v1/quarantine/orders", "at", Area, true, |w, _| post("/api/v1/quarantine/orders", json!({"person": w.neworder, "reason": "close_contact", "site": w.site}))),
        row!("get", "/api/v1/quarantine/orders", "ats", Area, true, |w, _| get(format!("/api/v1/quarantine/orders?person={}&site={}", w.p, w.site))),
        row!("get", "/api/v1/quarantine/orders/{id}", "atgrs", Area, true, |w, _| get(format!("/api/v1/quarantine/orders/{}", w.order))),
        // Both sites have the same manager, so the order stays theirs.
        row!("post", "/api/v1/quarantine/orders/{id}/transfer", "ats", Area, true, |w, n| post(format!("/api/v1/quarantine/orders/{}/transfer", w.order), json!({"site": if (n / 2) % 2 == 0 { &w.site2 } else { &w.site }}))),
        // A fresh order cannot end yet: 409 release_too_early, after the check.
        row!("post", "/api/v1/quarantine/orders/{id}/release", "ats", Area, false, |w, _| post(format!("/api/v1/quarantine/orders/{}/release", w.order), json!({}))),
        row!("post", "/api/v1/quarantine/reports", "atgrs", Area, true, |w, _| post("/api/v1/quarantine/reports", json!({"person": w.p, "temperature_c": 36.6}))),
        row!("get", "/api/v1/quarantine/follow-ups", "at", City, true, |_, _| get("/api/v1/quarantine/follow-ups".into())),
        row!("post", "/api/v1/duties/sweep", "a", City, true, |_, _| post("/api/v1/duties/sweep", json!({}))),
        row!("post", "/api/v1/zones", "a", Area, true, |w, n| post("/api/v1/zones", json!({"name": format!("zone {n}"), "level": "low", "cells": [w.cell]}))),
        row!("get", "/api/v1/zones", "atg", City, true, |_, _| get("/api/v1/zones".into())),
        // Zones are announced to the whole city (the zone list is not filtered either).
        row!("get", "/api/v1/zones/{id}/conditions", "at", City, true, |w, _| get(format!("/api/v1/zones/{}/conditions", w.zone))),
        // A just-drawn zone meets no condition to change: 422 conditions_not_met, after the check.
        row!("post", "/api/v1/zones/{id}/proposals", "a", Area, false, |w, _| post(format!("/api/v1/zones/{}/proposals", w.zone), json!({}))),
        row!("get", "/api/v1/zones/proposals", "at", City, true, |_, _| get("/api/v1/zones/proposals".into())),
        row!("post", "/api/v1/zones/proposals/run", "a", City, true, |_, _| post("/api/v1/zones/proposals/run", json!({}))),
        row!("post", "/api/v1/zones/proposals/{id}/approve", "a", Area, true, |w, _| post(format!("/api/v1/zones/proposals/{}/approve", w.proposal), json!({}))),
        // The proposal was approved by the row above: 409 proposal_decided, after the check.
        row!("post", "/api/v1/zones/proposals/{id}/reject", "a", Area, false, |w, _| post(format!("/api/v1/zones/proposals/{}/reject", w.proposal), json!({}))),
        row!("post", "/api/v1/arrivals/origins", "a", City, true, |_, _| post("/api/v1/arrivals/origins", json!({"code": "110101", "name": "东城", "risk": "high"}))),
        row!("get", "/api/v1/arrivals/origins", "atgr", City, true, |_, _| get("/api/v1/arrivals/origins".into())),
        row!("post", "/api/v1/arrivals", "atgr", Area, true, |w, _| post("/api/v1/arrivals", json!({"person": w.p, "origin": "110101", "planned_at": rfc(HOUR)}))),
        // The arrival's person is a neighbour of the grid worker's cell; a second call is a
        // 409 already_arrived, after the check.
        row!("post", "/api/v1/arrivals/{id}/arrived", "atg", Area, true, |w, _| post(format!("/api/v1/arrivals/{}/arrived", w.arrival), json!({"site": w.site2}))),
        row!("post", "/api/v1/sentinels", "a", Area, true, |w, _| post("/api/v1/sentinels", json!({"venue": w.venue, "kind": "pharmacy"}))),
        row!("post", "/api/v1/sentinels/reports", "av", Area, true, |w, _| post("/api/v1/sentinels/reports", json!({"venue": w.venue, "token": w.code}))),
        row!("post", "/api/v1/grid/unsampled", "at", Area, true, |w, _| post("/api/v1/grid/unsampled", json!({"since": rfc(-HOUR), "cells": [w.cell]}))),
        row!("post", "/api/v1/sampling-sites", "a", Area, true, |w, n| post("/api/v1/sampling-sites", json!({"name": format!("booth {n}"), "area": w.district, "cell": w.cell}))),
        row!("get", "/api/v1/sampling-sites", "alg", City, true, |_, _| get("/api/v1/sampling-sites".into())),
        row!("post", "/api/v1/rounds", "a", Area, true, |w, n| post("/api/v1/rounds", json!({"name": format!("round {n}"), "area": w.district, "deadline": rfc(DAY)}))),
        // A round's progress is counts, no person: readable city-wide.
        row!("get", "/api/v1/rounds/{id}", "atlg", City, true, |w, _| get(format!("/api/v1/rounds/{}", w.round))),
        row!("get", "/api/v1/rounds/{id}/unsampled", "ag", City, true, |w, _| get(format!("/api/v1/rounds/{}/unsampled?cell={}", w.round, w.cell))),
        // Before `close` (below): each call moves the deadline later.
        row!("post", "/api/v1/rounds/{id}/deadline", "a", Area, true, |w, n| post(format!("/api/v1/rounds/{}/deadline", w.round), json!({"deadline": rfc(2 * DAY + i64::from(n) * 60), "reason": "rain"}))),
        // The deadline has not passed: 409 round_open, after the check.
        row!("post", "/api/v1/rounds/{id}/close", "a", Area, false, |w, _| post(format!("/api/v1/rounds/{}/close", w.round), json!({}))),
        row!("post", "/api/v1/tubes", "al", Items("site_not_allowed"), true, |w, n| post("/api/v1/tubes", json!({"tubes": [{"barcode": format!("TB-{n}"), "site": w.sampling_site, "capacity": 1}]}))),
        row!("get", "/api/v1/tubes", "al", City, true, |_, _| get("/api/v1/tubes".into())),
        // From here on a tube follows the lab it is shipped to, whatever its district.
        row!("post", "/api/v1/samples", "al", Items("site_not_allowed"), true, |w, _| post("/api/v1/samples", json!({"samples": [{"tube": w.tube, "token": w.code}]}))),
        // Sealing the district's tube: a second seal is refused item by item (422), after the role check.
        row!("post", "/api/v1/tubes/seal", "al", City, true, |w, _| post("/api/v1/tubes/seal", json!({"tubes": [w.tube]}))),
        row!("get", "/api/v1/tubes/stuck", "al", City, true, |_, _| get("/api/v1/tubes/stuck".into())),
        row!("get", "/api/v1/tubes/{id}", "al", City, true, |w, _| get(format!("/api/v1/tubes/{}", w.tube))),
        // A shipped tube cannot be shipped again: 422 per item, after the role check.
        row!("post", "/api/v1/batches", "al", City, true, |w, _| post("/api/v1/batches", json!({"courier": "c1", "lab": "lab 1", "tubes": [w.tube]}))),
        // B1 is the batch the row above shipped first (the inside district's tube); a second
        // receive finds nothing in transport: 409, after the role check.
        row!("post", "/api/v1/batches/{id}/receive", "al", City, true, |_, _| post("/api/v1/batches/B1/receive", json!({}))),
        // A second result for a tube is refused item by item (422), after the role check.
        row!("post", "/api/v1/lab-results", "al", City, true, |w, _| post("/api/v1/lab-results", json!({"results": [{"barcode": w.tube, "outcome": "negative"}]}))),
        row!("get", "/api/v1/lab-tasks", "atlg", City, true, |_, _| get("/api/v1/lab-tasks".into())),
        row!("post", "/api/v1/vaccinations", "al", Items("forbidden"), true, |w, n| post("/api/v1/vaccinations", json!({"doses": [{"person": w.p, "dose": 1 + n % 3, "vaccine": "CoronaVac", "date": "2021-06-01", "site": "clinic"}]}))),
        row!("get", "/api/v1/vaccinations/coverage", "ag", Area, true, |w, _| get(format!("/api/v1/vaccinations/coverage?area={}", w.district))),
        row!("post", "/api/v1/vaccinations/outreach", "ag", Area, true, |w, _| post("/api/v1/vaccinations/outreach", json!({"area": w.district}))),
        row!("get", "/api/v1/vaccinations/outreach", "ag", Area, true, |w, _| get(format!("/api/v1/vaccinations/outreach?area={}", w.district))),
        row!("get", "/api/v1/people/{id}/vaccination", "atglr", Area, true, |w, _| get(format!("/api/v1/people/{}/vaccination", w.p))),
        row!("post", "/api/v1/test-requirements/check", "a", Area, true, |w, _| post("/api/v1/test-requirements/check", json!({"area": w.district, "every_hours": 72}))),
        // A case's course, last: these rows move the district's cases on. The suspected case:
        // the first allowed call screens it, later ones get 409 case_stage, after the check.
        row!("post", "/api/v1/cases/{id}/screen", "at", Area, true, |w, _| post(format!("/api/v1/cases/{}/screen", w.suspect), json!({"verdict": "confirmed"}))),
        // The re-check is the city CDC's, and every token of the table is a district's.
        row!("post", "/api/v1/cases/{id}/recheck", "at", WholeCity, false, |w, _| post(format!("/api/v1/cases/{}/recheck", w.suspect), json!({"verdict": "confirmed"}))),
        // The confirmed case goes to the district's designated hospital once: later calls get
        // 409 already_transferred, after the check.
        row!("post", "/api/v1/cases/{id}/transfer", "at", Area, true, |w, _| post(format!("/api/v1/cases/{}/transfer", w.case), json!({"hospital": w.hospital}))),
        // Confirmed → asymptomatic once; again is 409 invalid_reclassification.
        row!("post", "/api/v1/cases/{id}/reclassify", "at", Area, true, |w, _| post(format!("/api/v1/cases/{}/reclassify", w.case), json!({"kind": "asymptomatic", "reason": "no symptoms on review"}))),
        // Discharged once (into the policy's monitoring order); again is 409 case_stage.
        row!("post", "/api/v1/cases/{id}/discharge", "at", Area, true, |w, _| post(format!("/api/v1/cases/{}/discharge", w.case), json!({}))),
        row!("post", "/api/v1/cases/{id}/death", "at", Area, true, |w, _| post(format!("/api/v1/cases/{}/death", w.case), json!({}))),
        // Counts, no person: every staff role, city-wide.
        row!("get", "/api/v1/bulletin", "atlg", City, true, |_, _| get("/api/v1/bulletin?lang=en".into())),
        // The message board (docs/citizens.md): posting, the public list, the statistics and
        // the page need no token (past ten posts an address hears 409, still past the
        // check); staff are admins of the message's district. Accept before reply, close
        // last: each moves the message on (a second accept or transfer is 409 or 400).
        row!("post", "/api/v1/messages", "", Public, true, |w, _| post("/api/v1/messages", json!({"category": "other", "title": "问题", "text": "请回复", "district": w.district}))),
        row!("get", "/api/v1/messages/stats", "", Public, true, |_, _| get("/api/v1/messages/stats".into())),
        row!("get", "/api/v1/messages/public", "", Public, true, |_, _| get("/api/v1/messages/public".into())),
        row!("get", "/board", "", Public, true, |_, _| get("/board".into())),
        row!("get", "/api/v1/messages", "a", City, true, |_, _| get("/api/v1/messages".into())),
        row!("get", "/api/v1/messages/export", "a", City, true, |_, _| get("/api/v1/messages/export?format=xlsx".into())),
        row!("get", "/api/v1/messages/{id}", "a", Area, true, |w, _| get(format!("/api/v1/messages/{}", w.message))),
        row!("post", "/api/v1/messages/{id}/accept", "a", Area, true, |w, _| post(format!("/api/v1/messages/{}/accept", w.message), json!({}))),
        row!("post", "/api/v1/messages/{id}/reply", "a", Area, true, |w, _| post(format!("/api/v1/messages/{}/reply", w.message), json!({"text": "已答复"}))),
        row!("post", "/api/v1/messages/{id}/transfer", "a", Area, true, |w, _| post(format!("/api/v1/messages/{}/transfer", w.message), json!({"text": "转热线办", "department": "hotline"}))),
        row!("post", "/api/v1/messages/{id}/close", "a", Area, true, |w, _| post(format!("/api/v1/messages/{}/close", w.message), json!({"text": "办结"}))),
        // Enterprises' filings: entered by the site's street staff or the enterprise's own
        // account (its credit code, its area), decided by the area's admins.
        row!("post", "/api/v1/enterprises/filings", "age", Area, true, |w, _| post("/api/v1/enterprises/filings", json!({"enterprise": "某厂", "credit_code": w.credit, "industry": "retail", "area": w.district, "site": "s", "responsible": "负责人", "measures": "测温", "workers": [{"id_number": w.id_number}]}))),
        // Filtered: staff to their area, an enterprise to its own filings.
        row!("get", "/api/v1/enterprises/filings", "age", City, true, |_, _| get("/api/v1/enterprises/filings".into())),
        row!("post", "/api/v1/enterprises/filings/{id}/decision", "a", Area, true, |w, _| post(format!("/api/v1/enterprises/filings/{}/decision", w.filing), json!({"approve": true, "reason": "措施齐全"}))),
        row!("get", "/api/v1/enterprises/filings/{id}/green", "age", Area, true, |w, _| get(format!("/api/v1/enterprises/filings/{}/green", w.filing))),
        row!("get", "/api/v1/enterprises/resumption", "atg", Area, true, |w, _| get(format!("/api/v1/enterprises/resumption?area={}", w.district))),
        // Inspections (明察暗访): admins, tracers and grid workers of the venue's area; the
        // silent list is filtered to the caller's area.
        row!("get", "/api/v1/supervision/timers", "at", Area, true, |w, _| get(format!("/api/v1/supervision/timers?case={}", w.case))),
        // Supplies: the person of the row is under a centralized order (not home), so every
        // allowed call hears 409 not_sealed past the check.
        row!("post", "/api/v1/supply-requests", "agr", Area, false, |w, _| post("/api/v1/supply-requests", json!({"person": w.p, "need": "food", "items": "大米"}))),
        row!("get", "/api/v1/supervision/quarterly", "at", City, true, |_, _| get("/api/v1/supervision/quarterly".into())),
        row!("post", "/api/v1/supervision/items", "a", Area, true, |w, _| post("/api/v1/supervision/items", json!({"department": "health", "owner": "王科长", "what": "核查隔离点", "area": w.district, "deadline": rfc(DAY)}))),
        row!("get", "/api/v1/supervision/items", "a", City, true, |_, _| get("/api/v1/supervision/items".into())),
        row!("post", "/api/v1/supervision/items/{id}/done", "a", Area, true, |w, _| post(format!("/api/v1/supervision/items/{}/done", w.item), json!({"note": "已完成"}))),
        row!("post", "/api/v1/enterprises/exchange", "age", Area, true, |w, _| post("/api/v1/enterprises/exchange", json!({"credit_code": w.credit, "kind": "offer", "item": "口罩", "quantity": 1000}))),
        row!("get", "/api/v1/enterprises/exchange", "atge", Area, true, |w, _| get(format!("/api/v1/enterprises/exchange?area={}", w.district))),
        // The first allowed call closes the world's post; later ones hear 409 post_closed.
        row!("post", "/api/v1/enterprises/exchange/{id}/close", "age", Area, true, |w, _| post(format!("/api/v1/enterprises/exchange/{}/close", w.post), json!({}))),
        // The table's client sends JSON, which is no photo: 422 unsupported_photo past the
        // check (tests/photos.rs uploads real ones).
        row!("post", "/api/v1/inspections/photos", "atg", City, false, |_, _| post("/api/v1/inspections/photos", json!({"photo": "not an image"}))),
        row!("get", "/api/v1/inspections/{id}/photos/{photo}", "atg", Area, true, |w, _| get(format!("/api/v1/inspections/{}/photos/{}", w.inspection, w.photo))),
        // A site's stock: the admins of its area and its manager.
        row!("get", "/api/v1/capacity/export", "at", Area, true, |w, _| get(format!("/api/v1/capacity/export?area={}&format=csv", w.district))),
        row!("get", "/api/v1/inspections/export", "atg", City, true, |_, _| get("/api/v1/inspections/export?format=xlsx".into())),
        row!("get", "/api/v1/supervision/items/export", "a", City, true, |_, _| get("/api/v1/supervision/items/export?format=csv".into())),
        row!("get", "/api/v1/supervision/quarterly/export", "at", City, true, |_, _| get("/api/v1/supervision/quarterly/export?format=csv".into())),
        row!("post", "/api/v1/capacity/reports", "as", Area, true, |w, _| post("/api/v1/capacity/reports", json!({"resource": "stock", "name": "口罩", "site": w.site, "total": 100}))),
        row!("get", "/api/v1/capacity", "at", Area, true, |w, _| get(format!("/api/v1/capacity?area={}", w.district))),
        row!("get", "/api/v1/venues/silent", "atg", City, true, |_, _| get("/api/v1/venues/silent".into())),
        row!("post", "/api/v1/inspections", "atg", Area, true, |w, _| post("/api/v1/inspections", json!({"venue": w.venue, "kind": "unannounced", "findings": "查验到位", "passed": true}))),
        row!("get", "/api/v1/inspections", "atg", City, true, |_, _| get("/api/v1/inspections".into())),
        row!("get", "/api/v1/enterprises/resumption/export", "atg", Area, true, |w, _| get(format!("/api/v1/enterprises/resumption/export?area={}&format=csv", w.district))),
    ]
}

/// One call of a row: the token (with its role letter) or none, the district's objects, and
/// whether they are inside the token's area.
type Call<'a> = (Option<&'a (char, String)>, &'a World, bool);

/// The answer class a call must get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    Allowed,
    Unauthorised,
    Forbidden,
    Hidden,
    ItemsRefused(&'static str),
}

fn expect(row: &Row, role: Option<char>, inside: bool) -> Expect {
    match (row.scope, role) {
        (Public, _) => Expect::Allowed,
        (_, None) => Expect::Unauthorised,
        (_, Some(r)) if !row.roles.contains(r) => Expect::Forbidden,
        (WholeCity, _) => Expect::Forbidden,
        (City, _) => Expect::Allowed,
        _ if inside => Expect::Allowed,
        (Area, _) => Expect::Forbidden,
        (Hidden, _) => Expect::Hidden,
        (Items(code), _) => Expect::ItemsRefused(code),
    }
}

/// Whether `(status, body)` is of the class `e`.
fn matches(e: Expect, status: u16, body: &Value) -> bool {
    let refused_items =
        |code: &str| status == 422 && body.to_string().contains(&format!("\"code\":\"{code}\""));
    match e {
        Expect::Unauthorised => status == 401,
        Expect::Forbidden => status == 403 && body["error"]["code"] == "forbidden",
        Expect::Hidden => status == 404,
        Expect::ItemsRefused(code) => refused_items(code),
        Expect::Allowed => {
            !matches!(status, 401 | 403 | 404)
                && status < 500
                && !refused_items("forbidden")
                && !refused_items("site_not_allowed")
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_each_role_inside_and_outside_its_area_as_the_table_says() {
    let app = spawn_app().await;
    let table = table();

    // The table has exactly one row per operation of the document.
    let doc = xikang_server::openapi::document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.clone(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let rows: Vec<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let tabled: BTreeSet<(String, String)> = rows.iter().cloned().collect();
    assert_eq!(rows.len(), tabled.len(), "a row appears twice");
    let missing: Vec<_> = documented.difference(&tabled).collect();
    let stale: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "operations without a row in the permission table: {missing:?}; rows for no operation: {stale:?}"
    );
    // Public rows are exactly the operations documented without security.
    for r in &table {
        let secured = doc["paths"][r.path][r.method].get("security").is_some();
        assert_eq!(secured, r.scope != Public, "{} {}", r.method, r.path);
    }

    // Two districts with their objects; every token belongs to the first.
    let districts = app.districts();
    let (home, away) = (districts[0].clone(), districts[1].clone());
    app.origin("110101", "东城", "high").await;
    let inside = world(&app, &home).await;
    let outside = world(&app, &away).await;
    let mut tokens: Vec<(char, String)> = Vec::new();
    for (letter, role) in ROLES {
        let body = match role {
            "grid_worker" => {
                json!({"name": format!("gw{}", inside.cell), "role": role, "area": home})
            }
            "site_manager" => json!({"name": format!("mgr-{home}"), "role": role, "area": home}),
            "resident" => {
                json!({"name": "resident", "role": role, "area": home, "person": inside.p})
            }
            "enterprise" => {
                json!({"name": "enterprise", "role": role, "area": home, "enterprise": inside.credit})
            }
            _ => json!({"name": role, "role": role, "area": home}),
        };
        tokens.push((letter, app.token(body).await));
    }

    let mut wrong = Vec::new();
    let mut n = 0u32;
    for row in &table {
        let mut succeeded = false;
        let mut allowed_calls = 0;
        let mut callers: Vec<Call<'_>> = Vec::new();
        for t in &tokens {
            callers.push((Some(t), &inside, true));
            callers.push((Some(t), &outside, false));
        }
        callers.push((None, &inside, true));
        for (token, w, is_inside) in callers {
            n += 1;
            let (path, body) = (row.request)(w, n);
            let e = expect(row, token.map(|t| t.0), is_inside);
            let (status, answer) = app
                .call(
                    &row.method.to_uppercase(),
                    &path,
                    token.map(|t| t.1.as_str()),
                    body.as_ref(),
                )
                .await;
            if e == Expect::Allowed && token.is_some() {
                allowed_calls += 1;
                succeeded |= (200..300).contains(&status);
            }
            if !matches(e, status, &answer) {
                let who =
                    token.map_or("no token", |t| ROLES.iter().find(|r| r.0 == t.0).unwrap().1);
                let place = if is_inside { "inside" } else { "outside" };
                let answer = answer.to_string();
                wrong.push(format!(
                    "{} {} as {who} {place}: expected {e:?}, got {status} {}",
                    row.method,
                    path,
                    &answer[..answer.len().min(160)]
                ));
            }
        }
        if row.must_succeed && allowed_calls > 0 && !succeeded {
            wrong.push(format!(
                "{} {}: no allowed caller got a 2xx, so the request may never reach the check",
                row.method, row.path
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers differ from the permission table:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Two districts of the city (`home`, the most populous, and `away`) and the city admin's
/// tokens for the home district's officials.
struct Districts {
    home: String,
    away: String,
    /// Residents of each.
    home_people: Vec<u32>,
    away_people: Vec<u32>,
}

fn districts(app: &TestApp) -> Districts {
    let d = app.districts();
    let (home, away) = (d[0].clone(), d[1].clone());
    Districts {
        home_people: app.residents_of(&home),
        away_people: app.residents_of(&away),
        home,
        away,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_official_sends_people_only_to_quarantine_sites_of_their_district() {
    let app = spawn_app().await;
    let d = districts(&app);
    let tracer = app.role_token("tracer", "tracer", &d.home).await;
    let away_site = app
        .quarantine_site("away", &d.away, 10, 31.5, "mgr-away")
        .await;
    let (p, q, r) = (d.home_people[0], d.home_people[1], d.home_people[2]);

    // An arrival from a high-risk origin with no site named goes to a site with room: only
    // the other district's has any, so the home tracer is told there is none.
    app.origin("110101", "东城", "high").await;
    let mut arrivals = Vec::new();
    for person in [q, r] {
        let v = ok(
            "arrival",
            app.post(
                &tracer,
                "/api/v1/arrivals",
                json!({"person": format!("P{person}"), "origin": "110101", "planned_at": rfc(HOUR)}),
            )
            .await,
            201,
        );
        arrivals.push(v["id"].as_str().unwrap().to_owned());
    }
    let (s, v) = app
        .post(
            &tracer,
            &format!("/api/v1/arrivals/{}/arrived", arrivals[0]),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("no_site_with_room")),
        "{v}"
    );

    let home_site = app
        .quarantine_site("home", &d.home, 10, 31.5, "mgr-home")
        .await;
    app.confirm_close_contact(&format!("P{p}")).await;
    let (s, v) = app
        .post(
            &tracer,
            "/api/v1/quarantine/orders",
            json!({"person": format!("P{p}"), "reason": "close_contact", "site": away_site}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    let order = ok(
        "order",
        app.post(
            &tracer,
            "/api/v1/quarantine/orders",
            json!({"person": format!("P{p}"), "reason": "close_contact", "site": home_site}),
        )
        .await,
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Neither a transfer nor an arrival moves the person into the other district's site.
    let (s, v) = app
        .post(
            &tracer,
            &format!("/api/v1/quarantine/orders/{order}/transfer"),
            json!({"site": away_site}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    let (s, v) = app
        .post(
            &tracer,
            &format!("/api/v1/arrivals/{}/arrived", arrivals[1]),
            json!({"site": away_site}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );

    let sites = ok(
        "sites",
        app.get(&app.admin, "/api/v1/quarantine/sites").await,
        200,
    );
    let away = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == json!(away_site))
        .unwrap();
    assert_eq!(
        away["occupancy"], 0,
        "nobody was sent to the other district: {sites}"
    );

    // Inside the district both go through.
    ok(
        "arrived",
        app.post(
            &tracer,
            &format!("/api/v1/arrivals/{}/arrived", arrivals[1]),
            json!({}),
        )
        .await,
        200,
    );
    let second = app
        .quarantine_site("home 2", &d.home, 10, 31.5, "mgr-home")
        .await;
    ok(
        "transfer",
        app.post(
            &tracer,
            &format!("/api/v1/quarantine/orders/{order}/transfer"),
            json!({"site": second}),
        )
        .await,
        200,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_report_tells_only_a_caller_who_may_act_on_the_person_whether_they_are_under_order()
 {
    let app = spawn_app().await;
    let d = districts(&app);
    let tracer = app.role_token("tracer", "tracer", &d.home).await;
    let lab = app.role_token("lab", "lab", "320200").await;
    let manager = app.role_token("mgr-home", "site_manager", &d.home).await;
    let site = app
        .quarantine_site("home", &d.home, 10, 31.5, "mgr-other")
        .await;
    let (free, held) = (d.away_people[0], d.away_people[1]);
    app.confirm_close_contact(&format!("P{held}")).await;
    ok(
        "order",
        app.post(
            &app.admin,
            "/api/v1/quarantine/orders",
            json!({"person": format!("P{held}"), "reason": "close_contact", "site": site}),
        )
        .await,
        201,
    );
    let report = |p: u32| json!({"person": format!("P{p}"), "temperature_c": 36.6});
    // Outside the caller's reach, a person under no order and one under an order get the
    // same answer.
    for token in [&tracer, &lab, &manager] {
        for p in [free, held] {
            let (s, v) = app
                .post(token, "/api/v1/quarantine/reports", report(p))
                .await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "P{p}: {v}"
            );
        }
    }
    // A caller who may act on the person learns it.
    let (s, v) = app
        .post(&app.admin, "/api/v1/quarantine/reports", report(free))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("not_under_order")),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_venue_and_person_lie_inside_the_tokens_area_and_the_issuers() {
    let app = spawn_app().await;
    let d = districts(&app);
    let district_admin = app.role_token("boss", "admin", &d.home).await;
    let venue_in = |district: &str| {
        app.state
            .projection
            .venues
            .list
            .iter()
            .find(|v| v.area.district().to_string() == district)
            .unwrap()
            .id
            .to_string()
    };
    let (home_venue, away_venue) = (venue_in(&d.home), venue_in(&d.away));
    let device = |area: &str, venue: &str| json!({"name": "door", "role": "venue_device", "area": area, "venue": venue});
    let resident = |area: &str, p: u32| json!({"name": "me", "role": "resident", "area": area, "person": format!("P{p}")});
    let refused = [
        // A district admin pins a device to, or names a resident of, another district.
        (&district_admin, device(&d.home, &away_venue)),
        (&district_admin, resident(&d.home, d.away_people[0])),
        // Even the city admin cannot issue a district token for what lies outside it.
        (&app.admin, device(&d.home, &away_venue)),
        (&app.admin, resident(&d.home, d.away_people[0])),
    ];
    for (issuer, body) in refused {
        let (s, v) = app.post(issuer, "/api/v1/tokens", body.clone()).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{body}: {v}"
        );
    }
    for body in [
        device(&d.home, &home_venue),
        resident(&d.home, d.home_people[0]),
    ] {
        ok(
            "token",
            app.post(&district_admin, "/api/v1/tokens", body).await,
            201,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authority_log_is_read_and_audited_by_a_city_level_admin_only() {
    let app = spawn_app().await;
    let d = districts(&app);
    let district_admin = app.role_token("boss", "admin", &d.home).await;
    for path in ["/api/v1/events?limit=1", "/api/v1/audit"] {
        let (s, v) = app.get(&district_admin, path).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{path}: {v}"
        );
        ok(path, app.get(&app.admin, path).await, 200);
    }
    let (_, log) = app.get(&app.admin, "/api/v1/events?limit=1").await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
}
