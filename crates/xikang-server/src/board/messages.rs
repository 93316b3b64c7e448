//! The message board (民声留言板, docs/citizens.md): residents post without logging in
//! (limited per client address and in size), choose a category, and may name their
//! district; the routing rules ([`xikang_domain::board::route`]) send the message to a
//! department and district with a deadline. Admins of that area accept, reply (publicly,
//! masked), transfer or close it; the sweep escalates what is past its deadline
//! ([`escalate_overdue`]). Anyone reads the answered messages and the statistics in the
//! published form ("收到留言 N 件，办结 M 件"). Every step is an authority event.

use super::{Message, PAGE_SIZE, page_of};
use crate::app::{Actor, Role, Scoped, authorise};
use crate::error::AppError;
use crate::export::{Cell, Table};
use crate::extract::{Id, JsonIn};
use crate::state::{AppState, read};
use crate::web::session::ClientAddr;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use xikang_domain::board::{
    Category, Department, MAX_TEXT_CHARS, MAX_TITLE_CHARS, MessageAction, MessageStatus, mask_text,
    overdue, route, stats_sentence_en, stats_sentence_zh,
};
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::{AreaCode, CivilDay, EventSeq, Timestamp};

/// Messages one client address may post per hour (a family, or a café's Wi-Fi, posts a
/// few; a script posting hundreds is refused).
pub const MAX_POSTS_PER_ADDRESS: u32 = 10;
/// Who answers messages: admins of the message's area (the departments' staff sign in as
/// their district's admins until departments have a role of their own).
pub const ANSWERERS: &[Role] = &[Role::Admin];

/// Posts per client address this hour (per process, forgotten at restart).
#[derive(Debug, Default)]
pub struct PostLimit(Mutex<HashMap<IpAddr, (u32, Timestamp)>>);

/// `POST /api/v1/messages`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    pub category: String,
    pub title: String,
    pub text: String,
    /// The district the message is about (a district, street or community code), if the
    /// resident named one.
    #[serde(default)]
    pub district: Option<String>,
}

/// The answer to a post: where the rules sent it and by when it is answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PostedOut {
    pub id: String,
    pub department: &'static str,
    pub area: String,
    pub due_at: String,
}

/// A message as staff see it (no poster: the board keeps none).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageOut {
    pub id: String,
    pub posted_at: String,
    pub category: &'static str,
    pub title: String,
    pub text: String,
    pub department: &'static str,
    pub area: String,
    pub status: &'static str,
    pub due_at: String,
    pub overdue: bool,
    pub escalated: bool,
    pub reply: Option<String>,
    pub replied_at: Option<String>,
    pub transfers: u32,
}

impl MessageOut {
    fn of(m: &Message, now: Timestamp) -> MessageOut {
        MessageOut {
            id: m.id.to_string(),
            posted_at: m.posted_at.to_rfc3339(),
            category: m.category.as_str(),
            title: m.title.clone(),
            text: m.text.clone(),
            department: m.department.as_str(),
            area: m.area.to_string(),
            status: m.status.as_str(),
            due_at: m.due_at.to_rfc3339(),
            overdue: overdue(m.status, m.due_at, now),
            escalated: m.escalated_at.is_some(),
            reply: m.reply.as_ref().map(|r| r.0.clone()),
            replied_at: m.reply.as_ref().map(|r| r.1.to_rfc3339()),
            transfers: m.transfers,
        }
    }
}

/// An answered message as the public sees it: text and reply masked, no staff name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicMessageOut {
    pub id: String,
    pub posted_at: String,
    pub category: &'static str,
    pub title: String,
    pub text: String,
    pub department: &'static str,
    pub area: String,
    pub reply: String,
    pub replied_at: String,
    pub closed: bool,
}

/// One page of a list, with the total.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageOut<T> {
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
    pub items: Vec<T>,
}

fn city(state: &AppState) -> Result<AreaCode, AppError> {
    AreaCode::parse(&state.config.jurisdiction)
        .map_err(|_| AppError::Internal("the jurisdiction is no area code".into()))
}

/// An area code from a form or query: empty is none; anything else must parse.
pub fn area_of(s: Option<&str>) -> Result<Option<AreaCode>, AppError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => AreaCode::parse(s)
            .map(Some)
            .map_err(|_| AppError::bad("invalid_area", "an area is a 6, 9 or 12 digit code")),
    }
}

/// `POST /api/v1/messages` (no token): 201 with where it went.
pub async fn post_message(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    input: JsonIn<MessageIn>,
) -> Result<(StatusCode, Json<PostedOut>), AppError> {
    let out = post(&state, addr, input.get()?).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Posts a message: its form checked, the address's limit counted, routed, logged.
pub async fn post(
    state: &AppState,
    addr: Option<IpAddr>,
    b: MessageIn,
) -> Result<PostedOut, AppError> {
    let category = Category::parse(&b.category).ok_or_else(|| {
        AppError::bad(
            "invalid_category",
            "a category is medical, supplies, quarantine, testing, policy, enterprise or other",
        )
    })?;
    let title = super::text(&b.title, MAX_TITLE_CHARS, "invalid_title")?;
    let text = super::text(&b.text, MAX_TEXT_CHARS, "invalid_text")?;
    let district = area_of(b.district.as_deref())?;
    let now = crate::now();
    if let Some(a) = addr
        && !crate::claim::count(&state.board.posts.0, a, MAX_POSTS_PER_ADDRESS, now, true)
    {
        // The address is not logged: with the message it could identify its poster.
        tracing::warn!("message refused: too many from one address");
        return Err(AppError::Conflict {
            code: "message_rate_limited",
            message: "too many messages from this address; try again in an hour".into(),
        });
    }
    let r = route(
        state.policy().board(),
        category,
        district.as_ref(),
        &city(state)?,
        now,
    );
    let stored = state
        .record(vec![NewEvent {
            at: now,
            actor: "public:board".into(),
            basis: format!(
                "民声留言板: routed by category {} to {}",
                category.as_str(),
                r.department.as_str()
            ),
            body: EventBody::MessagePosted {
                category,
                title,
                text,
                department: r.department,
                area: r.area.clone(),
                due_at: r.due_at,
            },
        }])
        .await?;
    let id = stored.first().map_or(EventSeq(0), |e| e.seq);
    tracing::info!(message = %id, "message posted");
    Ok(PostedOut {
        id: id.to_string(),
        department: r.department.as_str(),
        area: r.area.to_string(),
        due_at: r.due_at.to_rfc3339(),
    })
}

/// Filters of the staff list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub overdue: Option<bool>,
    #[serde(default)]
    pub page: Option<u32>,
}

/// The messages of the caller's area that match, newest first, one page.
pub fn staff_list(
    state: &AppState,
    caller: &Actor,
    q: &ListQuery,
) -> Result<PageOut<MessageOut>, AppError> {
    caller.require(ANSWERERS, "the message board's messages")?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(MessageStatus::parse(s).ok_or_else(|| {
            AppError::bad(
                "invalid_status",
                "status is new, accepted, replied or closed",
            )
        })?),
    };
    let category = match q.category.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            Category::parse(s)
                .ok_or_else(|| AppError::bad("invalid_category", "no such category"))?,
        ),
    };
    let now = crate::now();
    let page = page_of(q.page);
    let board = read(&state.projection.board);
    let mut total = 0;
    let mut items = Vec::new();
    for m in board.messages.values().rev() {
        if !caller.covers(&m.area)
            || status.is_some_and(|s| s != m.status)
            || category.is_some_and(|c| c != m.category)
            || q.overdue
                .is_some_and(|o| o != overdue(m.status, m.due_at, now))
        {
            continue;
        }
        total += 1;
        if total > (page - 1) * PAGE_SIZE && items.len() < PAGE_SIZE {
            items.push(MessageOut::of(m, now));
        }
    }
    Ok(PageOut {
        total,
        page,
        page_size: PAGE_SIZE,
        items,
    })
}

/// `GET /api/v1/messages?status=&category=&overdue=&page=` (admins, their area).
pub async fn get_messages(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<ListQuery>,
) -> Result<Json<PageOut<MessageOut>>, AppError> {
    Ok(Json(staff_list(&state, &caller, &q)?))
}

/// `GET /api/v1/messages/{id}` (admins of its area).
pub async fn get_message(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
) -> Result<Json<MessageOut>, AppError> {
    caller.require(ANSWERERS, "the message board's messages")?;
    let m = authorise::message(&state, &caller, id)?;
    Ok(Json(MessageOut::of(&m, crate::now())))
}

/// What staff send with an action: the reply, or the reason; a transfer's target.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActIn {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub district: Option<String>,
}

/// The answer to an action.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ActedOut {
    pub id: String,
    pub action: &'static str,
    pub status: &'static str,
}

/// Takes one action on a message (accept, reply, transfer, close): the message's admins,
/// in the order its status allows; a reply or a reason is required text; a transfer names
/// another department or district of the city.
pub async fn act(
    state: &AppState,
    caller: &Actor,
    message: Scoped<Message>,
    action: MessageAction,
    b: ActIn,
) -> Result<ActedOut, AppError> {
    caller.require(ANSWERERS, "answering messages")?;
    let m = message.into_inner();
    let text = match action {
        MessageAction::Accept => None,
        MessageAction::Reply => Some(super::text(
            b.text.as_deref().unwrap_or(""),
            MAX_TEXT_CHARS,
            "invalid_reply",
        )?),
        MessageAction::Transfer | MessageAction::Close => Some(super::text(
            b.text.as_deref().unwrap_or(""),
            MAX_TEXT_CHARS,
            "invalid_message_reason",
        )?),
        MessageAction::Escalate => {
            return Err(AppError::bad(
                "invalid_action",
                "escalation is the sweep's, not staff's",
            ));
        }
    };
    let (mut department, mut area) = (None, None);
    if action == MessageAction::Transfer {
        department = match b.department.as_deref().filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(d) => Some(
                Department::parse(d)
                    .ok_or_else(|| AppError::bad("invalid_department", "no such department"))?,
            ),
        };
        area = area_of(b.district.as_deref())?
            .filter(|a| city(state).is_ok_and(|c| c.contains(a)))
            .map(|a| a.district());
        if b.district.as_deref().is_some_and(|d| !d.trim().is_empty()) && area.is_none() {
            return Err(AppError::bad(
                "invalid_area",
                "a transfer goes to a district of the city",
            ));
        }
        if department.is_none_or(|d| d == m.department)
            && area.as_ref().is_none_or(|a| *a == m.area)
        {
            return Err(AppError::bad(
                "invalid_transfer",
                "a transfer names another department or district",
            ));
        }
    }
    if !m.status.allows(action) {
        return Err(AppError::Conflict {
            code: "message_state",
            message: format!(
                "message {} is {}: it cannot be {}ed",
                m.id,
                m.status.as_str(),
                action.as_str()
            ),
        });
    }
    let status = m.status.after(action);
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: format!("民声留言板: {} of message {}", action.as_str(), m.id),
            body: EventBody::MessageHandled {
                message: m.id,
                action,
                text,
                department,
                area,
            },
        }])
        .await?;
    Ok(ActedOut {
        id: m.id.to_string(),
        action: action.as_str(),
        status: status.as_str(),
    })
}

/// `POST /api/v1/messages/{id}/accept`, `…/reply {"text"}`, `…/transfer {"text",
/// "department"?, "district"?}`, `…/close {"text"}`: one handler, the action from the path.
pub async fn post_action(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path((id, action)): Path<(String, String)>,
    input: JsonIn<ActIn>,
) -> Result<Json<ActedOut>, AppError> {
    caller.require(ANSWERERS, "answering messages")?;
    let action = action_of(&action)?;
    let m = authorise::message(&state, &caller, crate::extract::parse_id(&id)?)?;
    let b = input.get_or_default()?;
    Ok(Json(act(&state, &caller, m, action, b).await?))
}

/// A staff action's path segment; anything else is no such route.
pub fn action_of(s: &str) -> Result<MessageAction, AppError> {
    match s {
        "accept" => Ok(MessageAction::Accept),
        "reply" => Ok(MessageAction::Reply),
        "transfer" => Ok(MessageAction::Transfer),
        "close" => Ok(MessageAction::Close),
        _ => Err(AppError::not_found("not_found", "no such resource")),
    }
}

/// Query of the public list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PublicQuery {
    #[serde(default)]
    pub district: Option<String>,
    #[serde(default)]
    pub page: Option<u32>,
}

/// The answered messages (with a public reply), newest reply first, masked.
pub fn public_list(
    state: &AppState,
    q: &PublicQuery,
) -> Result<PageOut<PublicMessageOut>, AppError> {
    let district = area_of(q.district.as_deref())?;
    let page = page_of(q.page);
    let board = read(&state.projection.board);
    let skip = (page - 1) * PAGE_SIZE;
    let mut total = 0;
    let mut items = Vec::new();
    for (_, id) in board.answered.iter().rev() {
        let Some(m) = board.messages.get(id) else {
            continue;
        };
        if district.as_ref().is_some_and(|d| !d.contains(&m.area)) {
            continue;
        }
        total += 1;
        if total <= skip || items.len() >= PAGE_SIZE {
            continue;
        }
        if let Some((reply, at, _)) = &m.reply {
            items.push(PublicMessageOut {
                id: m.id.to_string(),
                posted_at: m.posted_at.to_rfc3339(),
                category: m.category.as_str(),
                title: mask_text(&m.title),
                text: mask_text(&m.text),
                department: m.department.as_str(),
                area: m.area.to_string(),
                reply: mask_text(reply),
                replied_at: at.to_rfc3339(),
                closed: m.status == MessageStatus::Closed,
            });
        }
    }
    Ok(PageOut {
        total,
        page,
        page_size: PAGE_SIZE,
        items,
    })
}

/// Messages received and closed, all time (the public page's sentence): two counters.
pub fn totals(state: &AppState) -> (u64, u64) {
    let board = read(&state.projection.board);
    (board.received, board.closed)
}

/// `GET /api/v1/messages/public?district=&page=` (no token).
pub async fn get_public(
    State(state): State<Arc<AppState>>,
    Query(q): Query<PublicQuery>,
) -> Result<Json<PageOut<PublicMessageOut>>, AppError> {
    Ok(Json(public_list(&state, &q)?))
}

/// The period and area of the statistics.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct StatsQuery {
    /// First day (Asia/Shanghai, `YYYY-MM-DD`), inclusive.
    #[serde(default)]
    pub from: Option<String>,
    /// Last day, inclusive.
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub district: Option<String>,
}

/// Received and closed counts of one group.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub key: String,
    pub received: u64,
    pub closed: u64,
    pub replied: u64,
    /// Answered (replied or closed) by the deadline.
    pub on_time: u64,
    pub overdue: u64,
}

impl Tally {
    fn add(&mut self, m: &Message, now: Timestamp) {
        self.received += 1;
        self.closed += u64::from(m.status == MessageStatus::Closed);
        self.replied += u64::from(m.reply.is_some());
        self.on_time += u64::from(m.answered_at().is_some_and(|a| a <= m.due_at));
        self.overdue += u64::from(overdue(m.status, m.due_at, now));
    }
}

/// The statistics in the published form.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsOut {
    pub from: Option<String>,
    pub to: Option<String>,
    pub district: Option<String>,
    pub received: u64,
    pub closed: u64,
    /// "收到留言 N 件，办结 M 件".
    pub text_zh: String,
    pub text_en: String,
    pub by_day: Vec<Tally>,
    pub by_category: Vec<Tally>,
    pub by_district: Vec<Tally>,
}

fn day_of(s: Option<&str>) -> Result<Option<CivilDay>, AppError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => CivilDay::parse(s)
            .map(Some)
            .map_err(|_| AppError::bad("invalid_date", "a day looks like 2022-07-10")),
    }
}

/// A day as `YYYY-MM-DD`.
pub fn day_text(d: CivilDay) -> String {
    let s = d.start().to_shanghai_rfc3339();
    s.get(..10).unwrap_or(&s).to_owned()
}

/// Messages received in the period (and area), and how many of them are closed.
pub fn stats(state: &AppState, q: &StatsQuery) -> Result<StatsOut, AppError> {
    let (from, to) = (day_of(q.from.as_deref())?, day_of(q.to.as_deref())?);
    let district = area_of(q.district.as_deref())?;
    let now = crate::now();
    let board = read(&state.projection.board);
    let (mut all, mut days, mut cats, mut areas) = (
        Tally::default(),
        BTreeMap::<CivilDay, Tally>::new(),
        BTreeMap::<Category, Tally>::new(),
        BTreeMap::<&AreaCode, Tally>::new(),
    );
    for m in board.messages.values() {
        let day = m.posted_at.shanghai_day();
        if from.is_some_and(|f| day < f)
            || to.is_some_and(|t| day > t)
            || district.as_ref().is_some_and(|d| !d.contains(&m.area))
        {
            continue;
        }
        all.add(m, now);
        days.entry(day).or_default().add(m, now);
        cats.entry(m.category).or_default().add(m, now);
        areas.entry(&m.area).or_default().add(m, now);
    }
    let keyed = |key: String, t: Tally| Tally { key, ..t };
    Ok(StatsOut {
        from: from.map(day_text),
        to: to.map(day_text),
        district: district.map(|d| d.to_string()),
        received: all.received,
        closed: all.closed,
        text_zh: stats_sentence_zh(all.received, all.closed),
        text_en: stats_sentence_en(all.received, all.closed),
        by_day: days
            .into_iter()
            .map(|(d, t)| keyed(day_text(d), t))
            .collect(),
        by_category: cats
            .into_iter()
            .map(|(c, t)| keyed(c.as_str().into(), t))
            .collect(),
        by_district: areas
            .into_iter()
            .map(|(a, t)| keyed(a.to_string(), t))
            .collect(),
    })
}

/// `GET /api/v1/messages/stats?from=&to=&district=` (no token): counts, no message.
pub async fn get_stats(
    State(state): State<Arc<AppState>>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<StatsOut>, AppError> {
    Ok(Json(stats(&state, &q)?))
}

/// Export query: `format=csv|xlsx`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    #[serde(default)]
    pub format: Option<String>,
}

/// `GET /api/v1/messages/export?format=csv|xlsx` (admins): the area's messages, every
/// status, as officials file them (the message text is the resident's: kept whole for the
/// department that answers it).
pub async fn export_messages(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    caller.require(ANSWERERS, "exporting messages")?;
    let format = crate::export::Format::parse(q.format.as_deref())?;
    format.response(&messages_table(&state, &caller)?, "messages", "messages")
}

/// The area's messages as an export table.
pub fn messages_table(state: &AppState, caller: &Actor) -> Result<Table, AppError> {
    caller.require(ANSWERERS, "exporting messages")?;
    let now = crate::now();
    let mut t = Table {
        headers: [
            "编号 id",
            "留言时间 posted",
            "类别 category",
            "标题 title",
            "内容 text",
            "承办部门 department",
            "区域 area",
            "状态 status",
            "办理时限 due",
            "超期 overdue",
            "督办 escalated",
            "答复 reply",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    for m in read(&state.projection.board).messages.values() {
        if !caller.covers(&m.area) {
            continue;
        }
        let o = MessageOut::of(m, now);
        t.rows.push(vec![
            Cell::from(o.id),
            Cell::from(m.posted_at.to_shanghai_rfc3339()),
            Cell::from(m.category.zh()),
            Cell::from(o.title),
            Cell::from(o.text),
            Cell::from(m.department.zh()),
            Cell::from(o.area),
            Cell::from(o.status),
            Cell::from(m.due_at.to_shanghai_rfc3339()),
            Cell::from(if o.overdue { "是" } else { "" }),
            Cell::from(if o.escalated { "是" } else { "" }),
            Cell::from(o.reply.unwrap_or_default()),
        ]);
    }
    Ok(t)
}

/// The sweep's part: every message past its deadline without an answer and not yet
/// escalated is escalated (督办) to the city, one event each. Answers how many.
pub async fn escalate_overdue(state: &AppState, now: Timestamp) -> Result<usize, AppError> {
    let due: Vec<(EventSeq, Timestamp)> = read(&state.projection.board)
        .messages
        .values()
        .filter(|m| m.escalated_at.is_none() && overdue(m.status, m.due_at, now))
        .map(|m| (m.id, m.due_at))
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let events = due
        .iter()
        .map(|(id, due_at)| NewEvent {
            at: now,
            actor: "system:sweep".into(),
            basis: format!(
                "民声留言板: message {id} unanswered past its deadline {}",
                due_at.to_rfc3339()
            ),
            body: EventBody::MessageHandled {
                message: *id,
                action: MessageAction::Escalate,
                text: None,
                department: None,
                area: None,
            },
        })
        .collect();
    state.record(events).await?;
    Ok(due.len())
}
