//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`: a table of operations
//! (summary, tag, auth) joined to what each takes and answers, generated from the handlers'
//! types by utoipa ([`bodies`], [`build`]; docs/openapi.md says how to add an endpoint).
//! Tests keep it honest: every route of the router is documented, every documented
//! operation has its types, the API suite calls every documented path, schemathesis checks
//! the answers against the schemas, and `openapi.snapshot.json` shows every change in review.

mod bodies;
mod build;
#[cfg(test)]
mod tests;

use serde_json::{Value, json};

/// One operation: (method, path, summary, tag, needs auth).
pub type Operation = (&'static str, &'static str, &'static str, &'static str, bool);

/// The operations, in the document's order; the two-city ones are in
/// [`crate::cities::OPERATIONS`], the board's in [`crate::board::doc`].
pub const OPERATIONS: &[Operation] = &[
    ("get", "/healthz", "Liveness check", "ops", false),
    (
        "get",
        "/readyz",
        "Readiness check: the tracing index is loaded and the store answers (503 otherwise)",
        "ops",
        false,
    ),
    (
        "get",
        "/metrics",
        "Prometheus metrics (text format; counts only): loopback clients, or the metrics token \
         of --metrics-token-file as a bearer token; 403 forbidden otherwise \
         (docs/metrics.md)",
        "ops",
        false,
    ),
    ("get", "/api/v1/openapi.json", "This document", "ops", false),
    (
        "get",
        "/api/v1/trust",
        "Trust list of code-signing keys (for offline verification)",
        "codes",
        false,
    ),
    (
        "get",
        "/api/v1/policy",
        "Active policy version",
        "policy",
        true,
    ),
    (
        "post",
        "/api/v1/policies",
        "Upload a policy file {text} (city-level admins): checked as `xikang policy check` does (422 invalid_policy, nothing stored), stored whole; 409 policy_version_taken for another text under a stored version",
        "policy",
        true,
    ),
    (
        "get",
        "/api/v1/policies",
        "Every stored policy version: sha256, uploaded by/at, proposed/approved, active since/until (admins)",
        "policy",
        true,
    ),
    (
        "get",
        "/api/v1/policies/{version}",
        "One stored policy version with its whole text (admins)",
        "policy",
        true,
    ),
    (
        "post",
        "/api/v1/policies/{version}/activate",
        "Propose activating a stored version {effective_from: RFC 3339} (city-level admins); nothing changes until a second official approves",
        "policy",
        true,
    ),
    (
        "post",
        "/api/v1/policies/{version}/approve",
        "Approve a proposed activation as a second city-level admin (the proposer gets 409 same_official); the engine switches at effective_from without a restart",
        "policy",
        true,
    ),
    (
        "get",
        "/api/v1/people",
        "List people in an area (masked, keyset pagination)",
        "people",
        true,
    ),
    (
        "post",
        "/api/v1/people/lookup",
        "Find a person by ID number",
        "people",
        true,
    ),
    (
        "post",
        "/api/v1/people/import",
        "Import the resident register (实有人口): text/csv, XLSX or JSON; per-line refusals",
        "people",
        true,
    ),
    (
        "post",
        "/api/v1/claim/start",
        "Self-service claim (申领): ID number, name, phone; a one-time code to the registered phone; the same answer whether or not anyone matched",
        "claim",
        false,
    ),
    (
        "post",
        "/api/v1/claim/finish",
        "Finish a claim with its one-time code: the resident's token",
        "claim",
        false,
    ),
    (
        "post",
        "/api/v1/claim/proxy",
        "A guardian claims a dependant's code (代领): ID number, name, relation (residents)",
        "claim",
        true,
    ),
    (
        "get",
        "/api/v1/claim/dependants",
        "The dependants whose codes the caller holds, names masked (residents)",
        "claim",
        true,
    ),
    (
        "post",
        "/api/v1/proxies/{id}/revoke",
        "Revoke a guardian's hold on a dependant's code (admins)",
        "claim",
        true,
    ),
    (
        "post",
        "/api/v1/people/{id}/card",
        "Issue a printable identity card (signed XKC1 QR, no colour) for a person without a phone (admins, grid workers)",
        "claim",
        true,
    ),
    (
        "get",
        "/api/v1/cards/{id}",
        "An identity card and its signed text",
        "claim",
        true,
    ),
    (
        "get",
        "/api/v1/cards/{id}/qr.svg",
        "An identity card's QR as SVG",
        "claim",
        true,
    ),
    (
        "get",
        "/api/v1/cards/{id}/qr.png",
        "An identity card's QR as PNG",
        "claim",
        true,
    ),
    (
        "post",
        "/api/v1/cards/{id}/revoke",
        "Revoke an identity card: venues refuse it from the next scan (admins)",
        "claim",
        true,
    ),
    (
        "get",
        "/api/v1/people/{id}",
        "One person (masked; ?unmask=true&purpose= is logged)",
        "people",
        true,
    ),
    (
        "get",
        "/api/v1/people/{id}/code",
        "The person's health code: colour, reasons, token, expiry",
        "codes",
        true,
    ),
    (
        "get",
        "/api/v1/people/{id}/code.svg",
        "The code as an SVG QR image",
        "codes",
        true,
    ),
    (
        "get",
        "/api/v1/people/{id}/code.png",
        "The code as a PNG QR image",
        "codes",
        true,
    ),
    ("get", "/api/v1/venues", "List venues", "venues", true),
    (
        "get",
        "/api/v1/venues/{id}",
        "One venue (id or place code)",
        "venues",
        true,
    ),
    (
        "post",
        "/api/v1/scans",
        "Record one scan or a batch {\"scans\": [...]} (at most 1000)",
        "scans",
        true,
    ),
    (
        "get",
        "/api/v1/scans",
        "Check-ins of a person or at a venue in a time range",
        "scans",
        true,
    ),
    (
        "get",
        "/api/v1/scans/anomalies",
        "Impossible movement on ?date= (one person at venues too far apart for the time between scans), people of the caller's area, masked",
        "scans",
        true,
    ),
    (
        "post",
        "/api/v1/pings",
        "Store a batch of location pings {\"pings\": [{person, at, lat, lon}]} (carrier feed or admin; at most 1000)",
        "tracing",
        true,
    ),
    (
        "post",
        "/api/v1/test-results",
        "Post test results (labs)",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/test-results",
        "A person's test results",
        "tests",
        true,
    ),
    ("post", "/api/v1/cases", "Register a case", "cases", true),
    ("get", "/api/v1/cases", "List cases", "cases", true),
    (
        "get",
        "/api/v1/cases/{id}",
        "One case, with where its course stands",
        "cases",
        true,
    ),
    (
        "post",
        "/api/v1/cases/{id}/screen",
        "District CDC screen of a suspected case {verdict: confirmed|asymptomatic|excluded, at?}",
        "cases",
        true,
    ),
    (
        "post",
        "/api/v1/cases/{id}/recheck",
        "City CDC re-check by another official {verdict, at?}: confirmed, asymptomatic or excluded; opens the closed-loop transfer task",
        "cases",
        true,
    ),
    (
        "post",
        "/api/v1/cases/{id}/transfer",
        "The case arrived at a designated hospital {hospital: S…, at?}: closes the transfer task, ends any quarantine order",
        "cases",
        true,
    ),
    (
        "post",
        "/api/v1/cases/{id}/reclassify",
        "Reclassify a case under treatment {kind: confirmed|asymptomatic, reason, at?}",
        "cases",
        true,
    ),
    (
        "post",
        "/api/v1/cases/{id}/discharge",
        "Discharge a case {at?}: the policy's post-discharge health monitoring order starts; its release closes the case",
        "cases",
        true,
    ),
    (
        "post",
        "/api/v1/cases/{id}/death",
        "Record the death of a case's person {at?}",
        "cases",
        true,
    ),
    (
        "get",
        "/api/v1/cases/{id}/contacts",
        "A case's contacts with evidence (filters: status, district, rule, kind)",
        "tracing",
        true,
    ),
    (
        "get",
        "/api/v1/cases/{id}/contacts/export",
        "The contact list as CSV or XLSX (?format=, ?unmask=true&purpose= for tracers), logged",
        "tracing",
        true,
    ),
    (
        "post",
        "/api/v1/cases/{id}/contacts/{person}",
        "A tracer's step on one contact: confirm, notify, quarantine or dismiss",
        "tracing",
        true,
    ),
    (
        "post",
        "/api/v1/people/{id}/appeals",
        "Appeal against a person's colour with a reason (logged; the colour is unchanged)",
        "people",
        true,
    ),
    (
        "get",
        "/api/v1/appeals",
        "Appeals of the jurisdiction (?status=open|all)",
        "people",
        true,
    ),
    (
        "post",
        "/api/v1/appeals/{id}/answer",
        "An official's answer to an appeal (logged; the colour is unchanged)",
        "people",
        true,
    ),
    (
        "get",
        "/api/v1/cases/{id}/sources",
        "Source tracing: co-presence in the incubation period before onset",
        "tracing",
        true,
    ),
    (
        "get",
        "/api/v1/clusters",
        "Clusters of linked cases",
        "tracing",
        true,
    ),
    (
        "get",
        "/api/v1/clusters/{id}",
        "One cluster's transmission graph (?format=dot for Graphviz)",
        "tracing",
        true,
    ),
    (
        "get",
        "/api/v1/events",
        "The authority log (admins)",
        "audit",
        true,
    ),
    (
        "get",
        "/api/v1/audit",
        "Verify the authority log's hash chain (admins)",
        "audit",
        true,
    ),
    (
        "get",
        "/api/v1/audit/checkpoint",
        "Signed checkpoint of the authority log head (C2SP tlog-checkpoint, text/plain)",
        "audit",
        false,
    ),
    (
        "get",
        "/api/v1/audit/key",
        "Verifier key of the log's checkpoints (C2SP signed-note vkey, text/plain)",
        "audit",
        false,
    ),
    (
        "get",
        "/api/v1/audit/consistency",
        "RFC 6962 consistency proof between two log sizes (?from=N&to=M)",
        "audit",
        false,
    ),
    (
        "get",
        "/api/v1/drill/clock",
        "The server's time and whether it runs on a drill's clock (admins)",
        "drill",
        true,
    ),
    (
        "post",
        "/api/v1/drill/clock",
        "Move a drill's clock forward ({advance_secs} or {to}), then sweep (city admins; 409 not_a_drill in production)",
        "drill",
        true,
    ),
    (
        "post",
        "/api/v1/tokens",
        "Issue an API token for a user or device, with an expiry (admins)",
        "auth",
        true,
    ),
    (
        "get",
        "/api/v1/tokens",
        "List the tokens of your area, without secrets (admins)",
        "auth",
        true,
    ),
    (
        "delete",
        "/api/v1/tokens/{id}",
        "Revoke a token: refused everywhere within seconds (admins)",
        "auth",
        true,
    ),
    (
        "get",
        "/api/v1/access",
        "Who read whose personal data: ?actor=&person=&after= (admins, area-scoped)",
        "audit",
        true,
    ),
    (
        "post",
        "/api/v1/holds",
        "Propose a hold on a person {person, basis, expires_at} (admins, tracers); no colour until a second official approves",
        "holds",
        true,
    ),
    (
        "get",
        "/api/v1/holds",
        "Holds in the caller's jurisdiction (?person=)",
        "holds",
        true,
    ),
    (
        "post",
        "/api/v1/holds/{id}/approve",
        "Approve a proposed hold as a second official (admins; the proposer gets 409 same_official)",
        "holds",
        true,
    ),
    (
        "post",
        "/api/v1/holds/{id}/clear",
        "Clear an active hold (admins, tracers)",
        "holds",
        true,
    ),
    (
        "get",
        "/api/v1/bulletin",
        "The daily bulletin of any day up to today (?date=YYYY-MM-DD&lang=zh|en): figures as the log held them that day, and the published text",
        "bulletin",
        true,
    ),
    (
        "get",
        "/api/v1/colours",
        "Residents of the caller's jurisdiction by code colour now, under the active policy (admins; counts only)",
        "ledger",
        true,
    ),
    (
        "get",
        "/api/v1/ledger/colours",
        "Public colour ledger: people turned red or yellow per day (?date=YYYY-MM-DD) by basis, district and deciders; counts only",
        "ledger",
        false,
    ),
    (
        "post",
        "/api/v1/grid/cells",
        "Import grid cells with their grid workers (admins)",
        "grid",
        true,
    ),
    (
        "get",
        "/api/v1/grid/cells",
        "The administrative grid (a grid worker sees their cells)",
        "grid",
        true,
    ),
    (
        "get",
        "/api/v1/grid/tasks",
        "A grid worker's open tasks, earliest due first (?cell= for staff)",
        "grid",
        true,
    ),
    (
        "post",
        "/api/v1/grid/tasks/{id}/complete",
        "Complete a task with a note",
        "grid",
        true,
    ),
    (
        "get",
        "/api/v1/grid/overdue",
        "Overdue tasks per cell, rolled up per street and district",
        "grid",
        true,
    ),
    (
        "post",
        "/api/v1/quarantine/sites",
        "Register a quarantine site with its capacity (admins)",
        "quarantine",
        true,
    ),
    (
        "get",
        "/api/v1/quarantine/sites",
        "Quarantine sites with capacity and occupancy",
        "quarantine",
        true,
    ),
    (
        "post",
        "/api/v1/quarantine/orders",
        "Issue a quarantine order under the policy's regime (a full site is refused with the nearest site with room)",
        "quarantine",
        true,
    ),
    (
        "get",
        "/api/v1/quarantine/orders",
        "Quarantine orders (?person=, ?site=, ?active=true)",
        "quarantine",
        true,
    ),
    (
        "get",
        "/api/v1/quarantine/orders/{id}",
        "One order with its test days",
        "quarantine",
        true,
    ),
    (
        "post",
        "/api/v1/quarantine/orders/{id}/transfer",
        "Transfer (转运) to another site",
        "quarantine",
        true,
    ),
    (
        "post",
        "/api/v1/quarantine/orders/{id}/release",
        "Release when the plan's tests are negative, else extend",
        "quarantine",
        true,
    ),
    (
        "post",
        "/api/v1/quarantine/reports",
        "Daily temperature and symptoms of a person under an order",
        "quarantine",
        true,
    ),
    (
        "get",
        "/api/v1/quarantine/follow-ups",
        "People flagged to tracers by their health reports",
        "quarantine",
        true,
    ),
    (
        "post",
        "/api/v1/duties/sweep",
        "Missed daily reports to tasks, missed test days to missed tests, rounds past their deadline closed, zone proposals (admins)",
        "grid",
        true,
    ),
    (
        "post",
        "/api/v1/zones",
        "Propose a zone by grid cells or GeoJSON polygon (admins; 202, a second admin approves it at /zones/proposals/{id}/approve)",
        "zones",
        true,
    ),
    (
        "get",
        "/api/v1/zones",
        "Zones with their residents",
        "zones",
        true,
    ),
    (
        "get",
        "/api/v1/zones/{id}/conditions",
        "A zone's lifting conditions now",
        "zones",
        true,
    ),
    (
        "post",
        "/api/v1/zones/{id}/proposals",
        "Propose a zone change (an official; conditions must hold)",
        "zones",
        true,
    ),
    (
        "get",
        "/api/v1/zones/proposals",
        "Zone change proposals",
        "zones",
        true,
    ),
    (
        "post",
        "/api/v1/zones/proposals/run",
        "The system proposes the zone changes the policy calls for",
        "zones",
        true,
    ),
    (
        "post",
        "/api/v1/zones/proposals/{id}/approve",
        "Approve a proposal (not by its proposer)",
        "zones",
        true,
    ),
    (
        "post",
        "/api/v1/zones/proposals/{id}/reject",
        "Reject a proposal",
        "zones",
        true,
    ),
    (
        "post",
        "/api/v1/arrivals/origins",
        "Set an origin's risk level (admins)",
        "arrivals",
        true,
    ),
    (
        "get",
        "/api/v1/arrivals/origins",
        "The origin risk list",
        "arrivals",
        true,
    ),
    (
        "post",
        "/api/v1/arrivals",
        "Register an arrival (入锡申报)",
        "arrivals",
        true,
    ),
    (
        "post",
        "/api/v1/arrivals/{id}/arrived",
        "Record the arrival: the regime's order and tests follow",
        "arrivals",
        true,
    ),
    (
        "post",
        "/api/v1/sentinels",
        "Register a pharmacy or clinic as a sentinel (admins)",
        "sentinels",
        true,
    ),
    (
        "post",
        "/api/v1/sentinels/reports",
        "A sentinel reports a visit by scanning the person's code",
        "sentinels",
        true,
    ),
    (
        "post",
        "/api/v1/grid/unsampled",
        "Tasks for residents of cells not sampled since a screening round began",
        "grid",
        true,
    ),
    (
        "post",
        "/api/v1/sampling-sites",
        "Register a sampling site (admins)",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/sampling-sites",
        "List sampling sites",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/rounds",
        "Start a screening round (area, cells, deadline, pool sizes)",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/rounds/{id}",
        "A round's coverage per grid cell: sampled / resulted / abnormal",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/rounds/{id}/unsampled",
        "Residents of a grid cell not yet sampled in the round (?cell=)",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/rounds/{id}/close",
        "Close a round after its deadline: missed mandated tests",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/rounds/{id}/deadline",
        "Move an open round's deadline later, with a reason (an authority event)",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/tubes",
        "Open tubes at a site (per-item results)",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/tubes",
        "How many tubes are in each state",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/tubes/seal",
        "Seal tubes before they are full",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/tubes/stuck",
        "Tubes sealed but not received, or received but not resulted, too long",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/tubes/{id}",
        "One tube by barcode: state, times, turnaround",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/samples",
        "Bind swabs to tubes by the scanned code (per-item results)",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/batches",
        "Hand sealed tubes to a courier (transport batch)",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/batches/{id}/receive",
        "The lab receives a batch's tubes",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/lab-results",
        "Post results per tube: JSON or text/csv (per-item results)",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/lab-tasks",
        "Open retest, resample and outreach tasks",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/vaccinations",
        "Record vaccine doses: JSON or text/csv (per-item results)",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/vaccinations/coverage",
        "Vaccination coverage by district and age band",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/vaccinations/outreach",
        "Open outreach tasks for residents 60+ without a full course",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/vaccinations/outreach",
        "Residents 60+ without a full course, per grid cell",
        "tests",
        true,
    ),
    (
        "get",
        "/api/v1/people/{id}/vaccination",
        "A person's vaccination status",
        "tests",
        true,
    ),
    (
        "post",
        "/api/v1/test-requirements/check",
        "Record missed mandated tests (every N hours) in an area",
        "tests",
        true,
    ),
];

/// The document.
pub fn document() -> Value {
    generate().0
}

/// The document and what is wrong with it: a documented operation without its types
/// ([`bodies`]), types for no documented operation, two types under one schema name. The
/// tests require the list to be empty; the served document is built either way.
pub fn generate() -> (Value, Vec<String>) {
    let mut typed = build::Doc::default();
    bodies::describe(&mut typed);
    let mut problems = std::mem::take(&mut typed.clashes);
    let mut paths = serde_json::Map::new();
    for (method, path, summary, tag, auth) in OPERATIONS
        .iter()
        .chain(crate::cities::OPERATIONS)
        .chain(crate::board::doc::OPERATIONS)
    {
        let mut responses = serde_json::Map::new();
        let mut op =
            json!({"operationId": operation_id(method, path), "summary": summary, "tags": [tag]});
        match typed.ops.remove(&(*method, *path)) {
            Some(t) => {
                if let Some(body) = t.request {
                    op["requestBody"] = body;
                }
                let mut params = path_params(path);
                params.extend(t.query);
                if !params.is_empty() {
                    op["parameters"] = Value::Array(params);
                }
                responses.extend(t.ok);
            }
            None => {
                problems.push(format!(
                    "{method} {path} has no row in openapi/bodies.rs (its request and answer types)"
                ));
                let params = path_params(path);
                if !params.is_empty() {
                    op["parameters"] = Value::Array(params);
                }
                responses.insert("2XX".into(), json!({"description": "Success"}));
            }
        }
        responses.insert(
            "4XX".into(),
            json!({"description": "Refused: the envelope with a stable code", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
        responses.insert(
            "503".into(),
            json!({"description": "Overloaded or not ready; retry after the Retry-After header",
                   "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
        op["responses"] = Value::Object(responses);
        if *auth {
            op["security"] = json!([{"bearer": []}]);
        }
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    for (method, path) in typed.ops.keys() {
        problems.push(format!(
            "{method} {path} is described in openapi/bodies.rs but not in any table of operations"
        ));
    }
    let mut schemas = serde_json::Map::new();
    schemas.insert("Error".into(), error_schema());
    schemas.extend(typed.schemas);
    let doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "xikang API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Health codes, venue scans, tests and cases. Times are RFC 3339; errors use one envelope."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas
        }
    });
    (doc, problems)
}

/// A stable name for generated clients: `get_people_id_code` for
/// `GET /api/v1/people/{id}/code`.
fn operation_id(method: &str, path: &str) -> String {
    let rest = path.strip_prefix("/api/v1").unwrap_or(path);
    let mut id = method.to_owned();
    for word in rest.split(|c: char| !c.is_ascii_alphanumeric()) {
        if !word.is_empty() {
            id.push('_');
            id.push_str(word);
        }
    }
    id
}

/// The path's `{parameters}`, all strings (typed ids such as `P3`, `C12`, place codes).
fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

/// The one error envelope ([`crate::error::AppError`]).
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable and machine-readable: invalid_json, unauthorized, forbidden, not_found, invalid_person_id, …"},
                "message": {"type": "string", "description": "For people; may change"},
                "details": {"description": "Per-item refusals of a batch, or the failing fields"}
            }
        }},
        "example": {"error": {"code": "invalid_person_id", "message": "an id looks like P123"}}
    })
}
