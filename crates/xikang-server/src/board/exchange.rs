//! The supply–demand board (企业供需对接, docs/citizens.md): an enterprise that filed to
//! resume work posts what it needs or offers (masks, raw material, transport), itself or
//! through the street's staff, and closes the post when it is met or withdrawn; the board
//! lists the open posts of the caller's area, each need with the open offers of the same
//! item anywhere in the city. Each post and each closing is an authority event.

use super::enterprise::FILERS;
use super::messages::area_of;
use crate::app::{Actor, Role, authorise};
use crate::error::AppError;
use crate::extract::{Id, JsonIn};
use crate::state::{AppState, read};
use crate::wire::ItemsOut;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::{AreaCode, EventSeq, Timestamp};

/// Who reads the board: the staff who read 复工率, and enterprises' accounts.
pub const READERS: &[Role] = &[
    Role::Admin,
    Role::Tracer,
    Role::GridWorker,
    Role::Enterprise,
];

/// The longest item name.
pub const MAX_ITEM_CHARS: usize = 100;

/// A post as the server keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: EventSeq,
    pub at: Timestamp,
    pub credit_code: String,
    pub offer: bool,
    pub item: String,
    pub quantity: u32,
    pub area: AreaCode,
    /// When it was closed (met or withdrawn): off the board.
    pub closed_at: Option<Timestamp>,
}

/// `POST /api/v1/enterprises/exchange`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostIn {
    pub credit_code: String,
    /// `need` or `offer`.
    pub kind: String,
    pub item: String,
    pub quantity: u32,
}

/// A post as listed, with the matching offers of a need.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PostOut {
    pub id: String,
    pub at: String,
    pub enterprise: String,
    pub credit_code: String,
    pub kind: &'static str,
    pub item: String,
    pub quantity: u32,
    pub area: String,
    /// For a need: the open offers of the same item (their ids).
    pub matches: Vec<String>,
    /// When it was closed (only on the answer to a closing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<String>,
}

fn out(p: &Post, board: &super::Board) -> PostOut {
    let enterprise = board
        .latest
        .get(&p.credit_code)
        .and_then(|f| board.filings.get(f))
        .map(|f| f.enterprise.clone())
        .unwrap_or_default();
    PostOut {
        id: p.id.to_string(),
        at: p.at.to_rfc3339(),
        enterprise,
        credit_code: p.credit_code.clone(),
        kind: if p.offer { "offer" } else { "need" },
        item: p.item.clone(),
        quantity: p.quantity,
        area: p.area.to_string(),
        matches: board
            .exchange
            .iter()
            .filter(|o| {
                !p.offer && o.offer && o.closed_at.is_none() && o.item.eq_ignore_ascii_case(&p.item)
            })
            .map(|o| o.id.to_string())
            .collect(),
        closed_at: p.closed_at.map(Timestamp::to_rfc3339),
    }
}

/// `POST /api/v1/enterprises/exchange`: 201 with the post. The enterprise must have filed
/// in the caller's area; the post is in its latest filing's area.
pub async fn post_exchange(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<PostIn>,
) -> Result<(StatusCode, Json<PostOut>), AppError> {
    let out = post(&state, &caller, input.get()?).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Posts a need or offer for an enterprise the caller may act for.
pub async fn post(state: &AppState, caller: &Actor, b: PostIn) -> Result<PostOut, AppError> {
    caller.require(FILERS, "the supply–demand board")?;
    let filing = {
        let board = read(&state.projection.board);
        board
            .latest
            .get(b.credit_code.trim())
            .and_then(|f| board.filings.get(f))
            .map(|f| f.id)
            .ok_or_else(|| {
                AppError::not_found("unknown_enterprise", "no filing with this credit code")
            })?
    };
    let area = authorise::filing(state, caller, filing)?.area.clone();
    let offer = match b.kind.trim() {
        "offer" => true,
        "need" => false,
        _ => return Err(AppError::bad("invalid_kind", "kind is need or offer")),
    };
    let item = b.item.trim().to_owned();
    if item.is_empty() || item.chars().count() > MAX_ITEM_CHARS || b.quantity == 0 {
        return Err(AppError::bad(
            "invalid_item",
            format!("an item of 1 to {MAX_ITEM_CHARS} characters and a quantity above 0"),
        ));
    }
    let stored = state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: format!("企业供需对接: {}", if offer { "offer" } else { "need" }),
            body: EventBody::ExchangePosted {
                credit_code: b.credit_code.trim().to_owned(),
                offer,
                item,
                quantity: b.quantity,
                area,
            },
        }])
        .await?;
    let id = stored.first().map_or(EventSeq(0), |e| e.seq);
    let board = read(&state.projection.board);
    let post = board
        .exchange
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| AppError::Internal("a posted need is not in the projection".into()))?;
    Ok(out(post, &board))
}

/// `?kind=need|offer&area=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ExchangeQuery {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub area: Option<String>,
}

/// `GET /api/v1/enterprises/exchange`: the posts of the caller's area (or a part of it),
/// newest first, at most 500.
pub async fn get_exchange(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<ExchangeQuery>,
) -> Result<Json<ItemsOut<PostOut>>, AppError> {
    caller.require(READERS, "the supply–demand board")?;
    let area = area_of(q.area.as_deref())?.unwrap_or_else(|| caller.area.clone());
    let area = authorise::area(&caller, area)?.into_inner();
    let kind = q.kind.as_deref().map(str::trim).filter(|k| !k.is_empty());
    if kind.is_some_and(|k| k != "need" && k != "offer") {
        return Err(AppError::bad("invalid_kind", "kind is need or offer"));
    }
    let board = read(&state.projection.board);
    let items = board
        .exchange
        .iter()
        .rev()
        .filter(|p| p.closed_at.is_none() && area.contains(&p.area))
        .filter(|p| kind.is_none_or(|k| (k == "offer") == p.offer))
        .take(500)
        .map(|p| out(p, &board))
        .collect();
    Ok(Json(ItemsOut { items }))
}

/// `POST /api/v1/enterprises/exchange/{id}/close`: the enterprise (or the street's staff)
/// takes its post off the board, once (`409 post_closed` after).
pub async fn post_close(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
) -> Result<Json<PostOut>, AppError> {
    Ok(Json(close(&state, &caller, id).await?))
}

/// Closes a post the caller may act on ([`authorise::exchange_post`]), once.
pub async fn close(state: &AppState, caller: &Actor, id: EventSeq) -> Result<PostOut, AppError> {
    caller.require(FILERS, "the supply–demand board")?;
    let post = authorise::exchange_post(state, caller, id)?.into_inner();
    if post.closed_at.is_some() {
        return Err(AppError::Conflict {
            code: "post_closed",
            message: format!("post {id} was closed already"),
        });
    }
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: format!("企业供需对接: post {id} closed"),
            body: EventBody::ExchangeClosed {
                post: id,
                credit_code: post.credit_code.clone(),
            },
        }])
        .await?;
    let board = read(&state.projection.board);
    let post = board
        .exchange
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| AppError::Internal("a closed post left the projection".into()))?;
    Ok(out(post, &board))
}
