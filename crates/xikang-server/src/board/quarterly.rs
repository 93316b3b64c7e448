//! The quarterly evaluation per district (季季评, docs/citizens.md), computed from what the
//! other parts record: messages answered by their deadline, the 四早 timers of the
//! quarter's cases, and venue inspections whose rectification is overdue. Each measure gives
//! a district a point per district strictly better on it (as the 红黑榜 does: the measures
//! have no common unit to weigh); most points first.

use super::supervision::breaches_of_cases;
use crate::app::{Actor, Role};
use crate::error::AppError;
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use xikang_domain::{AreaCode, CivilDay, Timestamp};

/// Who reads the evaluation.
pub const READERS: &[Role] = &[Role::Admin, Role::Tracer];

/// `?quarter=2026Q4` (the current quarter when absent; `format=csv|xlsx` for the export).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct QuarterQuery {
    #[serde(default)]
    pub quarter: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
}

/// One district's evaluation.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct QuarterRow {
    pub district: String,
    pub messages: u64,
    pub messages_on_time: u64,
    pub cases: u64,
    pub four_early_breaches: u64,
    pub inspections: u64,
    pub rectification_overdue: u64,
    pub points: u64,
}

impl QuarterRow {
    /// Larger is worse: messages late (per mille), breaches, overdue rectifications.
    fn badness(&self) -> [u64; 3] {
        let late = (self.messages - self.messages_on_time.min(self.messages)) * 1000;
        [
            late.checked_div(self.messages).unwrap_or(0),
            self.four_early_breaches,
            self.rectification_overdue,
        ]
    }
}

/// The evaluation of a quarter.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct QuarterOut {
    pub quarter: String,
    pub from: String,
    pub until: String,
    pub districts: Vec<QuarterRow>,
}

/// `2026Q4` → its first day and the next quarter's first day.
fn quarter_of(s: &str) -> Option<(CivilDay, CivilDay)> {
    let (y, q) = s.trim().split_once(['Q', 'q'])?;
    let (y, q): (i32, u32) = (y.parse().ok()?, q.parse().ok()?);
    if !(1..=4).contains(&q) {
        return None;
    }
    let day = |y: i32, m: u32| CivilDay::parse(&format!("{y:04}-{m:02}-01")).ok();
    let start = day(y, 3 * q - 2)?;
    let end = if q == 4 {
        day(y + 1, 1)?
    } else {
        day(y, 3 * q + 1)?
    };
    Some((start, end))
}

fn current_quarter(now: Timestamp) -> String {
    let local = now.to_shanghai_rfc3339();
    let y = local.get(..4).unwrap_or("1970");
    let m: u32 = local.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    format!("{y}Q{}", (m - 1) / 3 + 1)
}

/// The evaluation of `quarter` for the districts inside or containing the caller's area.
pub fn evaluate(
    state: &AppState,
    caller: &Actor,
    quarter: Option<&str>,
) -> Result<QuarterOut, AppError> {
    caller.require(READERS, "the quarterly evaluation")?;
    let now = crate::now();
    let quarter = quarter
        .map(str::to_owned)
        .unwrap_or_else(|| current_quarter(now));
    let (start, end) = quarter_of(&quarter)
        .ok_or_else(|| AppError::bad("invalid_quarter", "a quarter looks like 2026Q4"))?;
    let (from, until) = (start.start(), end.start());
    let mut by: BTreeMap<AreaCode, QuarterRow> = BTreeMap::new();
    {
        let board = read(&state.projection.board);
        for m in board.messages.values() {
            if m.posted_at < from || m.posted_at >= until || m.area.as_str().len() < 6 {
                continue;
            }
            let r = entry(&mut by, &m.area);
            r.messages += 1;
            r.messages_on_time += u64::from(m.answered_at().is_some_and(|a| a <= m.due_at));
        }
        for i in board.inspections.values() {
            if i.at < from || i.at >= until {
                continue;
            }
            let Some(v) = state.projection.venues.get(i.venue) else {
                continue;
            };
            let redone = board
                .inspections
                .values()
                .any(|x| x.follows == Some(i.id) && x.passed);
            let r = entry(&mut by, &v.area);
            r.inspections += 1;
            r.rectification_overdue +=
                u64::from(!i.passed && !redone && i.rectify_by.is_some_and(|d| now > d));
        }
    }
    for (district, cases, breaches) in breaches_of_cases(state, from, until, now) {
        let r = entry(&mut by, &district);
        r.cases += cases;
        r.four_early_breaches += breaches;
    }
    let mut rows: Vec<QuarterRow> = by
        .into_iter()
        .filter(|(d, _)| caller.covers(d) || d.contains(&caller.area))
        .map(|(_, r)| r)
        .collect();
    let bad: Vec<[u64; 3]> = rows.iter().map(QuarterRow::badness).collect();
    for (i, r) in rows.iter_mut().enumerate() {
        r.points = (0..3)
            .map(|m| bad.iter().filter(|b| b[m] < bad[i][m]).count() as u64)
            .sum();
    }
    rows.sort_by(|a, b| b.points.cmp(&a.points).then(a.district.cmp(&b.district)));
    let day = super::messages::day_text;
    Ok(QuarterOut {
        quarter,
        from: day(start),
        until: day(end),
        districts: rows,
    })
}

fn entry<'a>(by: &'a mut BTreeMap<AreaCode, QuarterRow>, a: &AreaCode) -> &'a mut QuarterRow {
    by.entry(a.district()).or_insert_with(|| QuarterRow {
        district: a.district().to_string(),
        ..QuarterRow::default()
    })
}

/// `GET /api/v1/supervision/quarterly?quarter=2026Q4`.
pub async fn get_quarterly(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<QuarterQuery>,
) -> Result<Json<QuarterOut>, AppError> {
    Ok(Json(evaluate(&state, &caller, q.quarter.as_deref())?))
}

/// `GET /api/v1/supervision/quarterly/export?quarter=&format=csv|xlsx`: one row per
/// district, most points first.
pub async fn export_quarterly(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<QuarterQuery>,
) -> Result<axum::response::Response, AppError> {
    caller.require(READERS, "the quarterly evaluation")?;
    let format = crate::export::Format::parse(q.format.as_deref())?;
    let (t, quarter) = quarterly_table(&state, &caller, q.quarter.as_deref())?;
    format.response(&t, &format!("quarterly-{quarter}"), "季季评")
}

/// The evaluation of a quarter as an export table, and the quarter's name.
pub fn quarterly_table(
    state: &AppState,
    caller: &Actor,
    quarter: Option<&str>,
) -> Result<(crate::export::Table, String), AppError> {
    let e = evaluate(state, caller, quarter)?;
    let mut t = crate::export::Table {
        headers: [
            "区县 district",
            "留言 messages",
            "按期办结 on_time",
            "病例 cases",
            "四早超时 breaches",
            "检查 inspections",
            "整改超期 overdue",
            "得分 points",
        ]
        .map(String::from)
        .to_vec(),
        rows: Vec::new(),
    };
    let n = |v: u64| crate::export::Cell::Number(v as f64);
    for r in e.districts {
        t.rows.push(vec![
            r.district.into(),
            n(r.messages),
            n(r.messages_on_time),
            n(r.cases),
            n(r.four_early_breaches),
            n(r.inspections),
            n(r.rectification_overdue),
            n(r.points),
        ]);
    }
    Ok((t, e.quarter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_parse_to_their_first_days_and_nonsense_is_refused() {
        let (s, e) = quarter_of("2026Q4").unwrap();
        assert_eq!(Some(s), CivilDay::parse("2026-10-01").ok());
        assert_eq!(Some(e), CivilDay::parse("2027-01-01").ok());
        let (s, e) = quarter_of("2022q1").unwrap();
        assert_eq!(Some(s), CivilDay::parse("2022-01-01").ok());
        assert_eq!(Some(e), CivilDay::parse("2022-04-01").ok());
        assert_eq!(quarter_of("2026Q5"), None);
        assert_eq!(quarter_of("Q1"), None);
        assert_eq!(quarter_of("2026"), None);
    }
}
