//! The access log: one line per request on the tracing target [`TARGET`] at `info`, with the
//! method, the route template (`/api/v1/people/{id}`, never the path with its ids), the
//! status, the latency and who called, so operators can filter it apart from the rest
//! (`XIKANG_LOG=info,xikang::access=off` to silence it, `xikang::access=info` for it alone).
//!
//! Who called is a role and an opaque id, never a name: `token:` and the first twelve hex
//! digits of the bearer token's SHA-256 (the form in which tokens are stored, so an operator
//! can find the token), or `user:` and those of the web user name's SHA-256 (user names may be
//! e-mail addresses). A request refused before its caller was known logs `-`.

use crate::app::{Actor, Role};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Extensions;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The tracing target of the access log.
pub const TARGET: &str = "xikang::access";

/// Where the layers under the access log leave who the caller turned out to be.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<(Role, String)>>);

/// Records the caller of a bearer token for the access log.
pub fn record_token(ext: &Extensions, actor: &Actor, digest: &[u8; 32]) {
    record(
        ext,
        actor.role,
        format!("token:{}", hex::encode(&digest[..6])),
    );
}

/// Records the caller of a web session for the access log.
pub fn record_user(ext: &Extensions, actor: &Actor) {
    let d = Sha256::digest(actor.name.as_bytes());
    record(ext, actor.role, format!("user:{}", hex::encode(&d[..6])));
}

fn record(ext: &Extensions, role: Role, id: String) {
    if let Some(slot) = ext.get::<CallerSlot>() {
        // The first caller recorded stands (the edge's, before any page's).
        let _ = slot.0.set((role, id));
    }
}

/// Middleware (outermost): times the request, counts it in the metrics
/// ([`crate::metrics::Metrics::request`]) and logs its line.
pub async fn log(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // A clone of the matched template (a reference count), not a copy of its text.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map(MatchedPath::as_str);
    let slot = CallerSlot::default();
    req.extensions_mut().insert(slot.clone());
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    state.metrics.request(route, status, elapsed);
    let (role, actor) = slot
        .0
        .get()
        .map_or(("-", "-"), |(r, id)| (r.as_str(), id.as_str()));
    tracing::info!(
        target: TARGET,
        method = %method,
        route = %route.unwrap_or("-"),
        status,
        micros = elapsed.as_micros() as u64,
        role = %role,
        actor = %actor,
        "request"
    );
    resp
}
