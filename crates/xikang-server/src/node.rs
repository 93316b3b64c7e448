//! Read-your-writes across nodes (docs/nodes.md), at the HTTP edge: every answer carries
//! `xikang-seq`, the last authority-log sequence number this node had applied when it
//! answered (after a write, at least the write's own); a client that sends it back as
//! `xikang-read-after` to any node is answered only once that node has applied it, after
//! a wait of at most `NodeConfig::read_wait`, else 503 `stale_node` (retry, or ask
//! another node). A malformed token is 400 `invalid_seq_token`, and nothing runs.

use crate::app::node;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use xikang_domain::EventSeq;

/// The response header: what this node had applied when it answered.
pub const SEQ_HEADER: &str = "xikang-seq";
/// The request header: answer only once this node has applied this sequence number.
pub const READ_AFTER_HEADER: &str = "xikang-read-after";

/// Middleware: honours `xikang-read-after`, adds `xikang-seq`.
pub async fn read_your_writes(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(v) = req.headers().get(READ_AFTER_HEADER) {
        let Some(seq) = v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) else {
            return AppError::bad(
                "invalid_seq_token",
                "xikang-read-after must be a sequence number from an xikang-seq header",
            )
            .into_response();
        };
        if !node::reach(&state, EventSeq(seq)).await {
            return AppError::Unavailable {
                code: "stale_node",
                message: "this node has not yet applied the write named by xikang-read-after; \
                          retry, or ask another node"
                    .into(),
            }
            .into_response();
        }
    }
    let mut resp = next.run(req).await;
    let applied = state.projection.applied().0;
    resp.headers_mut()
        .insert(SEQ_HEADER, HeaderValue::from(applied));
    resp
}
