//! Enterprises resuming work (复工备案, docs/citizens.md): a filing lists the enterprise's
//! workers by ID number (resolved against the register to resident ids; the numbers are
//! never logged or shown again), its prevention measures, responsible person and site; the
//! district's admin approves it or returns it with reasons. 复工率 counts each enterprise's
//! latest filing, by district and industry, at any moment; an enterprise's green share
//! counts its workers whose code is green now, with no names.
//!
//! Filings are entered by the street's staff (admins and grid workers of the site's area)
//! for the enterprise, or by the enterprise's own account ([`Role::Enterprise`], bound to
//! its credit code): it files for itself only, in its own area, and reads only its own
//! filings (`authorise::enterprise_object`).

use super::messages::{PageOut, area_of};
use super::{Filing, PAGE_SIZE, page_of};
use crate::app::{Actor, Role, Scoped, authorise};
use crate::error::AppError;
use crate::export::{Cell, Table};
use crate::extract::{Id, JsonIn};
use crate::state::{AppState, read};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use xikang_domain::enterprise::{
    CreditCode, FilingStatus, Industry, MAX_FIELD_CHARS, MAX_WORKERS, Resumption,
};
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::idnumber::IdNumber;
use xikang_domain::mask::mask_name;
use xikang_domain::{AreaCode, Colour, EventSeq};

/// Who enters filings for enterprises (the street's 复工专班), and the enterprise itself.
pub const FILERS: &[Role] = &[Role::Admin, Role::GridWorker, Role::Enterprise];
/// The policy parameter that lets a filing's readers see each worker's colour (1) rather
/// than the counts alone (0, and when the policy does not say).
pub const WORKER_COLOURS: &str = "enterprise_worker_colours";
/// Who approves or returns them.
pub const DECIDERS: &[Role] = &[Role::Admin];
/// Who reads 复工率.
pub const READERS: &[Role] = &[Role::Admin, Role::Tracer, Role::GridWorker];

/// The routes (under `/api/v1`).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/enterprises/filings", post(post_filing).get(get_filings))
        .route("/enterprises/filings/{id}/decision", post(post_decision))
        .route("/enterprises/filings/{id}/green", get(get_green))
        .route("/enterprises/resumption", get(get_resumption))
        .route("/enterprises/resumption/export", get(export_resumption))
}

/// One worker of a filing.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerIn {
    pub id_number: String,
}

/// `POST /api/v1/enterprises/filings`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilingIn {
    pub enterprise: String,
    pub credit_code: String,
    pub industry: String,
    /// The site's community, street or district code.
    pub area: String,
    pub site: String,
    pub responsible: String,
    pub measures: String,
    pub workers: Vec<WorkerIn>,
}

/// A filing as staff see it: the responsible person's name masked, workers counted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FilingOut {
    pub id: String,
    pub filed_at: String,
    pub enterprise: String,
    pub credit_code: String,
    pub industry: &'static str,
    pub area: String,
    pub site: String,
    pub responsible: String,
    pub measures: String,
    pub workers: usize,
    pub status: &'static str,
    pub reason: Option<String>,
}

impl From<&Filing> for FilingOut {
    fn from(f: &Filing) -> FilingOut {
        FilingOut {
            id: f.id.to_string(),
            filed_at: f.filed_at.to_rfc3339(),
            enterprise: f.enterprise.clone(),
            credit_code: f.credit_code.clone(),
            industry: f.industry.as_str(),
            area: f.area.to_string(),
            site: f.site.clone(),
            responsible: mask_name(&f.responsible),
            measures: f.measures.clone(),
            workers: f.workers.len(),
            status: f.status.as_str(),
            reason: f.decision.as_ref().map(|d| d.0.clone()),
        }
    }
}

fn field(s: &str, code: &'static str) -> Result<String, AppError> {
    super::text(s, MAX_FIELD_CHARS, code)
}

/// A unified social credit code, as the filing stores it.
fn credit_code(s: &str) -> Result<String, AppError> {
    CreditCode::parse(s)
        .map(String::from)
        .map_err(|e| AppError::bad("invalid_credit_code", e.to_string()))
}

/// `POST /api/v1/enterprises/filings`: 201 with the filing.
pub async fn post_filing(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<FilingIn>,
) -> Result<(StatusCode, Json<FilingOut>), AppError> {
    caller.require(FILERS, "filing for enterprises")?;
    let out = file(&state, &caller, input.get()?).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Files for an enterprise: the form checked, the site's area authorised, every worker's
/// ID number found in the register (one that is not refuses the whole filing, naming its
/// line, not its number), logged.
pub async fn file(state: &AppState, caller: &Actor, b: FilingIn) -> Result<FilingOut, AppError> {
    caller.require(FILERS, "filing for enterprises")?;
    let area = area_of(Some(&b.area))?
        .ok_or_else(|| AppError::bad("invalid_area", "the site's area is required"))?;
    let area = authorise::area(caller, area)?.into_inner();
    let enterprise = field(&b.enterprise, "invalid_enterprise")?;
    let credit_code = credit_code(&b.credit_code)?;
    authorise::for_enterprise(caller, &credit_code)?;
    let industry = Industry::parse(&b.industry)
        .ok_or_else(|| AppError::bad("invalid_industry", "no such industry"))?;
    let site = field(&b.site, "invalid_site")?;
    let responsible = field(&b.responsible, "invalid_responsible")?;
    let measures = field(&b.measures, "invalid_measures")?;
    if b.workers.is_empty() || b.workers.len() > MAX_WORKERS {
        return Err(AppError::bad(
            "invalid_workers",
            format!("a filing lists 1 to {MAX_WORKERS} workers"),
        ));
    }
    let mut hashes = Vec::with_capacity(b.workers.len());
    for (i, w) in b.workers.iter().enumerate() {
        let id = IdNumber::parse(w.id_number.trim()).map_err(|e| AppError::BadRequest {
            code: e.code(),
            message: format!("worker {}: {e}", i + 1),
            details: Some(serde_json::json!({"worker": i + 1})),
        })?;
        hashes.push(id.keyed_hash(&state.secrets.id_hash_key));
    }
    let store = state.store.clone();
    let wanted = hashes.clone();
    let found: BTreeMap<[u8; 16], xikang_domain::PersonId> =
        tokio::task::spawn_blocking(move || store.registered_by_hashes(&wanted))
            .await??
            .into_iter()
            .map(|(h, r)| (h, r.id))
            .collect();
    let mut workers = Vec::with_capacity(hashes.len());
    for (i, h) in hashes.iter().enumerate() {
        match found.get(h) {
            Some(p) if !workers.contains(p) => workers.push(*p),
            Some(_) => {}
            None => {
                return Err(AppError::Unprocessable {
                    code: "unknown_worker",
                    message: format!("worker {} is not in the resident register", i + 1),
                    details: Some(serde_json::json!({"worker": i + 1})),
                });
            }
        }
    }
    let stored = state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: "复工备案: filing to resume work".into(),
            body: EventBody::FilingSubmitted {
                enterprise,
                credit_code,
                industry,
                area,
                site,
                responsible,
                measures,
                workers,
            },
        }])
        .await?;
    let id = stored.first().map_or(EventSeq(0), |e| e.seq);
    tracing::info!(filing = %id, "enterprise filing submitted");
    let board = read(&state.projection.board);
    board
        .filings
        .get(&id)
        .map(FilingOut::from)
        .ok_or_else(|| AppError::Internal("a committed filing is not in the projection".into()))
}

/// `GET /api/v1/enterprises/filings?status=&page=`: the caller's area's filings, newest
/// first.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct FilingsQuery {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub page: Option<u32>,
}

/// One page of the filings of the caller's area.
pub fn filings(
    state: &AppState,
    caller: &Actor,
    q: &FilingsQuery,
) -> Result<PageOut<FilingOut>, AppError> {
    caller.require(FILERS, "enterprises' filings")?;
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some("pending") => Some(FilingStatus::Pending),
        Some("approved") => Some(FilingStatus::Approved),
        Some("returned") => Some(FilingStatus::Returned),
        Some(_) => {
            return Err(AppError::bad(
                "invalid_status",
                "status is pending, approved or returned",
            ));
        }
    };
    let page = page_of(q.page);
    let board = read(&state.projection.board);
    let mut total = 0;
    let mut items = Vec::new();
    for f in board.filings.values().rev() {
        if !authorise::enterprise_object(caller, &f.credit_code, &f.area)
            || status.is_some_and(|s| s != f.status)
        {
            continue;
        }
        total += 1;
        if total > (page - 1) * PAGE_SIZE && items.len() < PAGE_SIZE {
            items.push(FilingOut::from(f));
        }
    }
    Ok(PageOut {
        total,
        page,
        page_size: PAGE_SIZE,
        items,
    })
}

/// `GET /api/v1/enterprises/filings`.
pub async fn get_filings(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<FilingsQuery>,
) -> Result<Json<PageOut<FilingOut>>, AppError> {
    Ok(Json(filings(&state, &caller, &q)?))
}

/// `POST /api/v1/enterprises/filings/{id}/decision {"approve", "reason"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    pub approve: bool,
    pub reason: String,
}

/// Approves or returns a pending filing (the district's admins), with the reason.
pub async fn decide(
    state: &AppState,
    caller: &Actor,
    filing: Scoped<Filing>,
    b: DecisionIn,
) -> Result<FilingOut, AppError> {
    caller.require(DECIDERS, "deciding filings")?;
    let f = filing.into_inner();
    let reason = field(&b.reason, "invalid_reason")?;
    if f.status != FilingStatus::Pending {
        return Err(AppError::Conflict {
            code: "filing_decided",
            message: format!("filing {} was decided already", f.id),
        });
    }
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: format!(
                "复工备案: filing {} {}",
                f.id,
                if b.approve { "approved" } else { "returned" }
            ),
            body: EventBody::FilingDecided {
                filing: f.id,
                approved: b.approve,
                reason,
            },
        }])
        .await?;
    let board = read(&state.projection.board);
    board
        .filings
        .get(&f.id)
        .map(FilingOut::from)
        .ok_or_else(|| AppError::Internal("a decided filing left the projection".into()))
}

/// `POST /api/v1/enterprises/filings/{id}/decision`.
pub async fn post_decision(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
    input: JsonIn<DecisionIn>,
) -> Result<Json<FilingOut>, AppError> {
    caller.require(DECIDERS, "deciding filings")?;
    let f = authorise::filing(&state, &caller, id)?;
    Ok(Json(decide(&state, &caller, f, input.get()?).await?))
}

/// The green share of a filing's workers now: counts, and each worker's colour when the
/// policy allows it ([`WORKER_COLOURS`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GreenOut {
    pub filing: String,
    pub workers: usize,
    pub green: usize,
    /// Per mille.
    pub green_permille: usize,
    /// Each worker's colour, in the filing's order (the n-th distinct worker it listed), no
    /// name nor number: present only when the policy's `enterprise_worker_colours` is 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colours: Option<Vec<WorkerColour>>,
}

/// One worker's colour, by their line in the filing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WorkerColour {
    pub line: usize,
    pub colour: Colour,
}

/// `GET /api/v1/enterprises/filings/{id}/green`: how many of the workers are green now
/// (no names; each worker's colour by line only where the policy allows it); the read is
/// in the access log.
pub async fn get_green(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
) -> Result<Json<GreenOut>, AppError> {
    Ok(Json(green(&state, &caller, id)?))
}

/// The green share of a filing the caller may read ([`authorise::filing`]).
pub fn green(state: &AppState, caller: &Actor, id: EventSeq) -> Result<GreenOut, AppError> {
    caller.require(FILERS, "enterprises' filings")?;
    let f = authorise::filing(state, caller, id)?.into_inner();
    let now = crate::now();
    state.access.record(
        caller,
        "GET /api/v1/enterprises/filings/{id}/green",
        None,
        now,
        f.workers.iter().copied(),
    )?;
    // A worker whose code cannot be evaluated counts as not green (fail closed).
    let colours: Vec<Option<Colour>> = f
        .workers
        .iter()
        .map(|p| state.evaluate(*p, now).map(|(e, _)| e.colour))
        .collect();
    let green = colours
        .iter()
        .filter(|c| **c == Some(Colour::Green))
        .count();
    let shown = state.policy().parameter(WORKER_COLOURS) == Some(1);
    Ok(GreenOut {
        filing: f.id.to_string(),
        workers: f.workers.len(),
        green,
        green_permille: (green * 1000).checked_div(f.workers.len()).unwrap_or(0),
        colours: shown.then(|| {
            colours
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    c.map(|colour| WorkerColour {
                        line: i + 1,
                        colour,
                    })
                })
                .collect()
        }),
    })
}

/// One row of 复工率.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResumptionRow {
    pub key: String,
    pub enterprises: u64,
    pub resumed: u64,
    pub workers_back: u64,
    /// 复工率 per mille.
    pub rate_permille: u64,
}

fn row(key: String, r: &Resumption) -> ResumptionRow {
    ResumptionRow {
        key,
        enterprises: r.enterprises,
        resumed: r.resumed,
        workers_back: r.workers_back,
        rate_permille: r.rate_permille(),
    }
}

/// 复工率 of an area: overall, by district, by industry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResumptionOut {
    pub area: String,
    pub total: ResumptionRow,
    pub by_district: Vec<ResumptionRow>,
    pub by_industry: Vec<ResumptionRow>,
}

/// `?area=` (the caller's own area when absent).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct AreaQuery {
    #[serde(default)]
    pub area: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
}

/// 复工率 now, counting each enterprise's latest filing in the area.
pub fn resumption(
    state: &AppState,
    caller: &Actor,
    area: Option<&str>,
) -> Result<ResumptionOut, AppError> {
    caller.require(READERS, "复工率")?;
    let area = area_of(area)?.unwrap_or_else(|| caller.area.clone());
    let area: AreaCode = authorise::area(caller, area)?.into_inner();
    let board = read(&state.projection.board);
    let (mut total, mut districts, mut industries) = (
        Resumption::default(),
        BTreeMap::<AreaCode, Resumption>::new(),
        BTreeMap::<Industry, Resumption>::new(),
    );
    for seq in board.latest.values() {
        let Some(f) = board.filings.get(seq).filter(|f| area.contains(&f.area)) else {
            continue;
        };
        total.add(f.status, f.workers.len());
        districts
            .entry(f.area.district())
            .or_default()
            .add(f.status, f.workers.len());
        industries
            .entry(f.industry)
            .or_default()
            .add(f.status, f.workers.len());
    }
    Ok(ResumptionOut {
        area: area.to_string(),
        total: row(area.to_string(), &total),
        by_district: districts
            .iter()
            .map(|(d, r)| row(d.to_string(), r))
            .collect(),
        by_industry: industries
            .iter()
            .map(|(i, r)| row(i.as_str().into(), r))
            .collect(),
    })
}

/// `GET /api/v1/enterprises/resumption?area=`.
pub async fn get_resumption(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AreaQuery>,
) -> Result<Json<ResumptionOut>, AppError> {
    Ok(Json(resumption(&state, &caller, q.area.as_deref())?))
}

/// `GET /api/v1/enterprises/resumption/export?area=&format=csv|xlsx`: 复工率 by district
/// and by industry, one table.
pub async fn export_resumption(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<AreaQuery>,
) -> Result<Response, AppError> {
    caller.require(READERS, "复工率")?;
    let format = crate::export::Format::parse(q.format.as_deref())?;
    format.response(
        &resumption_table(&state, &caller, q.area.as_deref())?,
        "resumption",
        "复工率",
    )
}

/// 复工率 by district and by industry as an export table.
pub fn resumption_table(
    state: &AppState,
    caller: &Actor,
    area: Option<&str>,
) -> Result<Table, AppError> {
    let r = resumption(state, caller, area)?;
    let mut t = Table {
        headers: [
            "分组 group",
            "区域或行业 key",
            "备案企业 enterprises",
            "已复工 resumed",
            "复工率‰ rate",
            "返岗人数 workers",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    let groups = [
        ("total", vec![r.total]),
        ("district", r.by_district),
        ("industry", r.by_industry),
    ];
    for (group, rows) in groups {
        for x in rows {
            t.rows.push(vec![
                Cell::from(group),
                Cell::from(x.key),
                Cell::Number(x.enterprises as f64),
                Cell::Number(x.resumed as f64),
                Cell::Number(x.rate_permille as f64),
                Cell::Number(x.workers_back as f64),
            ]);
        }
    }
    Ok(t)
}
