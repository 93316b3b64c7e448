//! The document against the router's source and against its checked-in snapshot.

use super::generate;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Routes whose path parameter stands for a fixed set of documented paths.
const EXPANDED: &[(&str, &[&str])] = &[
    (
        "/api/v1/people/{id}/{format}",
        &[
            "/api/v1/people/{id}/code.svg",
            "/api/v1/people/{id}/code.png",
        ],
    ),
    (
        "/api/v1/messages/{id}/{action}",
        &[
            "/api/v1/messages/{id}/accept",
            "/api/v1/messages/{id}/reply",
            "/api/v1/messages/{id}/transfer",
            "/api/v1/messages/{id}/close",
        ],
    ),
];

/// Top-level routes of `lib.rs` that are not under `/api/v1`: operations, and two pages.
const TOP_LEVEL: &[&str] = &["/healthz", "/readyz", "/metrics"];
const PAGES: &[&str] = &["/", "/lookup"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the crate's sources are readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.route("path", get(…).post(…))` call in `text`: (method, path).
fn route_calls(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        // The call's arguments, up to its closing parenthesis.
        let mut depth = 1;
        let mut end = 0;
        for (i, c) in call.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = i;
                break;
            }
        }
        let args = &call[..end];
        rest = &call[end..];
        let Some(open) = args.find('"') else { continue };
        let Some(len) = args[open + 1..].find('"') else {
            continue;
        };
        let path = &args[open + 1..open + 1 + len];
        let handlers = &args[open + 2 + len..];
        for method in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(i) = handlers[from..].find(&needle) {
                let i = from + i;
                let before = handlers[..i].chars().next_back();
                // `get(` as a method router, not the end of `get_clock(` or `x.get(`.
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    found.push((method.to_owned(), path.to_owned()));
                }
                from = i + needle.len();
            }
        }
    }
    found
}

/// The API routes of the router, read from the sources: `lib.rs`'s `/api/v1` router and
/// the routers merged into it (`board`, `duties`, `lab::http`, …); the pages of `web` and
/// the two top-level pages are not API operations.
fn routed() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut routes = BTreeSet::new();
    for file in files {
        // The pages, and this module (its fixtures look like routes).
        if file.starts_with(src().join("web")) || file.starts_with(src().join("openapi")) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a source file is readable");
        for (method, path) in route_calls(&text) {
            if PAGES.contains(&path.as_str()) {
                continue;
            }
            let full = if TOP_LEVEL.contains(&path.as_str()) {
                path
            } else {
                format!("/api/v1{path}")
            };
            match EXPANDED.iter().find(|(p, _)| *p == full) {
                Some((_, paths)) => {
                    routes.extend(paths.iter().map(|p| (method.clone(), (*p).to_owned())))
                }
                None => {
                    routes.insert((method, full));
                }
            }
        }
    }
    routes
}

fn documented() -> BTreeSet<(String, String)> {
    let (doc, _) = generate();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            ops.insert((method.clone(), path.clone()));
        }
    }
    ops
}

#[test]
fn the_route_reader_finds_methods_and_paths() {
    let text = r#"
        Router::new()
            .route("/a", get(h::get_a).post(post_a))
            .route(
                "/b/{id}",
                delete(b::delete),
            )
            .route("/c", get(|| async { axum::Json(document()) }))
    "#;
    assert_eq!(
        route_calls(text),
        [
            ("get".into(), "/a".into()),
            ("post".into(), "/a".into()),
            ("delete".into(), "/b/{id}".into()),
            ("get".into(), "/c".into()),
        ]
    );
}

#[test]
fn every_api_route_of_the_router_is_in_the_document() {
    let routed = routed();
    assert!(
        routed.len() > 150,
        "the route reader found {} routes",
        routed.len()
    );
    let documented = documented();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document (add a row to a table of operations and \
         to openapi/bodies.rs, see docs/openapi.md): {undocumented:?}"
    );
    // The other way round: a documented API operation that no route serves (the page
    // `/board` sits in the board's table and is served by `web`).
    let stale: Vec<_> = documented
        .difference(&routed)
        .filter(|(_, p)| p.starts_with("/api/v1/") && p != "/api/v1/openapi.json")
        .collect();
    assert!(stale.is_empty(), "documented but not routed: {stale:?}");
}

#[test]
fn every_documented_operation_has_its_types_and_every_schema_one_name() {
    let (_, problems) = generate();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_request_body_has_an_example_and_every_operation_a_success_schema() {
    let (doc, _) = generate();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            if let Some(body) = op.get("requestBody") {
                let content = body["content"].as_object().expect("a body's content");
                // A JSON body has an example; an upload of bytes (images) has a schema.
                match content.get("application/json") {
                    Some(json) => assert!(
                        json.get("example").is_some() && json.get("schema").is_some(),
                        "{method} {path}: a JSON body needs a schema and an example"
                    ),
                    None => assert!(
                        !content.is_empty() && content.values().all(|m| m.get("schema").is_some()),
                        "{method} {path}: a body needs a schema for each media type"
                    ),
                }
            }
            let ok = op["responses"]
                .as_object()
                .expect("responses")
                .iter()
                .filter(|(status, _)| status.starts_with('2'))
                .all(|(_, r)| r["content"].as_object().is_some_and(|c| !c.is_empty()));
            assert!(ok, "{method} {path}: a success answer without a schema");
        }
    }
}

/// The document as checked in, so that a change to any request or answer type shows in
/// review. Regenerate with `XIKANG_UPDATE_OPENAPI=1 cargo test -p xikang-server --lib openapi`.
#[test]
fn the_document_matches_its_snapshot() {
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let (doc, _) = generate();
    let now = serde_json::to_string_pretty(&doc).expect("the document as JSON") + "\n";
    if std::env::var_os("XIKANG_UPDATE_OPENAPI").is_some() {
        std::fs::write(&snapshot, &now).expect("writing docs/openapi.json");
        return;
    }
    let before = std::fs::read_to_string(&snapshot).unwrap_or_default();
    if before != now {
        let diff = similar::TextDiff::from_lines(&before, &now);
        let shown: String = diff
            .unified_diff()
            .context_radius(2)
            .header("docs/openapi.json", "generated")
            .to_string()
            .lines()
            .take(80)
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "the OpenAPI document changed; if that is intended, regenerate the snapshot with\n  \
             XIKANG_UPDATE_OPENAPI=1 cargo test -p xikang-server --lib openapi\nand commit \
             docs/openapi.json. The difference (first 80 lines):\n{shown}"
        );
    }
}

#[test]
fn a_lifetime_does_not_make_a_type_generic() {
    use super::build::is_generic;
    assert!(is_generic(
        "xikang_server::wire::ItemsOut<xikang_server::wire::CaseOut>"
    ));
    assert!(is_generic(
        "alloc::vec::Vec<xikang_server::cities::peers::PeerOut>"
    ));
    assert!(!is_generic("xikang_server::wire::CodeOut<'_>"));
    assert!(!is_generic("xikang_server::wire::CaseOut"));
}
