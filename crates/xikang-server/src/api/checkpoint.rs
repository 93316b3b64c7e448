//! The anchored log: a signed checkpoint of the authority log's head (C2SP
//! `tlog-checkpoint`: origin, size, RFC 6962 root, Ed25519 note signature), the log's
//! verifier key, and consistency proofs between two sizes, so that auditors and witnesses
//! outside the database notice a log cut short or rewritten.
//!
//! All three are public: a checkpoint shows how many authority events exist and a hash of
//! them, a proof shows interior hashes; none shows an event. Witnesses need them without a
//! token (docs/decisions.md, "The log is anchored outside the database").

use super::*;
use crate::state::read;
use crate::wire::ConsistencyOut;
use xikang_code::note::Checkpoint;
use xikang_domain::merkle::MerkleError;

/// A text answer (the note formats are text, not JSON).
fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// The checkpoint of everything applied so far, signed: a C2SP signed note. Refused (500)
/// once an event came out of step with the tree, rather than signing a wrong head.
pub fn signed_checkpoint(state: &AppState) -> Result<String, AppError> {
    let (size, root) = {
        let log = read(&state.projection.log_tree);
        if let Some(seq) = log.out_of_step {
            return Err(AppError::Internal(format!(
                "event {seq} came out of step with the log tree"
            )));
        }
        let size = log.tree.len();
        (size, log.tree.root(size))
    };
    let root = root.map_err(|e| AppError::Internal(format!("log tree: {e}")))?;
    let checkpoint = Checkpoint {
        origin: state.log_signer.name().to_owned(),
        size,
        root,
    };
    // A plain Ed25519 note signature carries no time (only cosignatures do).
    state
        .log_signer
        .sign_note(&checkpoint.to_text(), 0)
        .map(|note| note.to_string())
        .map_err(|e| AppError::Internal(format!("signing the checkpoint: {e}")))
}

/// `GET /api/v1/audit/checkpoint`: the signed checkpoint of the log head. Public.
pub async fn get_checkpoint(State(state): State<Arc<AppState>>) -> Result<Response, AppError> {
    Ok(text(signed_checkpoint(&state)?))
}

/// `GET /api/v1/audit/key`: the verifier key (C2SP vkey) of the checkpoints. Public.
pub async fn get_log_key(State(state): State<Arc<AppState>>) -> Response {
    text(format!("{}\n", state.log_signer.vkey()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ConsistencyQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

/// The consistency proof between the trees of `from` and `to` events.
pub fn consistency(state: &AppState, q: &ConsistencyQuery) -> Result<ConsistencyOut, AppError> {
    let size = |v: Option<&str>, name: &str| {
        v.and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| {
            AppError::bad(
                "invalid_range",
                format!("{name} must be a number of events (?from=N&to=M)"),
            )
        })
    };
    let from = size(q.from.as_deref(), "from")?;
    let to = size(q.to.as_deref(), "to")?;
    let proof = read(&state.projection.log_tree)
        .tree
        .consistency_proof(from, to)
        .map_err(|e| match e {
            MerkleError::BeyondTree { size, len } => AppError::bad(
                "invalid_range",
                format!("the log holds {len} events, not {size}"),
            ),
            e => AppError::bad("invalid_range", e.to_string()),
        })?;
    Ok(ConsistencyOut::new(from, to, &proof))
}

/// `GET /api/v1/audit/consistency?from=N&to=M`: the RFC 6962 consistency proof that the
/// log of `M` events extends the log of `N`. Public.
pub async fn get_consistency(
    State(state): State<Arc<AppState>>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Response, AppError> {
    Ok(Json(consistency(&state, &q)?).into_response())
}
