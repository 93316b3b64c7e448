//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`. Written by hand from one table
//! of operations (a derive macro would add a heavy proc-macro to a 2-core build); a test in
//! the API suite calls every path listed here, so the document cannot drift from the router.

use serde_json::{Value, json};

/// (method, path, summary, tag, needs auth)
pub const OPERATIONS: &[(&str, &str, &str, &str, bool)] = &[
    ("get", "/healthz", "Liveness check", "ops", false),
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
    ("get", "/api/v1/cases/{id}", "One case", "cases", true),
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
        "post",
        "/api/v1/tokens",
        "Issue an API token for a user or device (admins)",
        "auth",
        true,
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
        "Draw a zone by grid cells or GeoJSON polygon (admins)",
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
    let mut paths = serde_json::Map::new();
    for (method, path, summary, tag, auth) in OPERATIONS {
        let mut op = json!({
            "summary": summary,
            "tags": [tag],
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "Client error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "503": {"description": "Overloaded; retry after the Retry-After header"}
            }
        });
        if *auth {
            op["security"] = json!([{"bearer": []}]);
        }
        let params: Vec<Value> = ["id", "person", "format"]
            .iter()
            .filter(|p| path.contains(&format!("{{{p}}}")))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if *method == "post" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        let entry = paths.entry((*path).to_owned()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "xikang API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Health codes, venue scans, tests and cases. Times are RFC 3339; errors use one envelope."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}}}}
        }
    })
}
