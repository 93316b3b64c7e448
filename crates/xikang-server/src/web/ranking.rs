//! The command's ranking of districts (红黑榜) as a table: overdue grid tasks and the
//! screening coverage of the latest round that has begun, per district (the first six digits
//! of a community's code) inside the viewer's jurisdiction, worst first. Overdue counts are
//! the API's `/grid/overdue` roll-up ([`duties::overdue_rollup`]); coverage is the round's
//! progress per cell ([`lab::round_status`]) summed per district.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout};
use crate::auth::Role;
use crate::duties;
use crate::error::AppError;
use crate::lab;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::GridCell;
use xikang_domain::testing::Round;

const VIEWERS: &[Role] = &[Role::Admin, Role::Tracer];

/// One district's row.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DistrictRow {
    pub district: String,
    pub overdue: u64,
    pub expected: u64,
    pub sampled: u64,
}

impl DistrictRow {
    /// Sampled per thousand expected (none when nobody is expected).
    pub fn coverage_permille(&self) -> Option<u64> {
        (self.expected > 0).then(|| self.sampled * 1000 / self.expected)
    }
}

/// Worst first: most overdue tasks, then lowest coverage, then the code.
pub fn rank(rows: &mut [DistrictRow]) {
    rows.sort_by(|a, b| {
        b.overdue
            .cmp(&a.overdue)
            .then(
                a.coverage_permille()
                    .unwrap_or(1000)
                    .cmp(&b.coverage_permille().unwrap_or(1000)),
            )
            .then(a.district.cmp(&b.district))
    });
}

/// The latest round that has begun (by start, then id).
fn latest_round(rounds: &[Round], now: xikang_domain::Timestamp) -> Option<&Round> {
    rounds
        .iter()
        .filter(|r| r.starts_at <= now)
        .max_by_key(|r| (r.starts_at, r.id))
}

async fn rows(
    state: &AppState,
    user: &WebUser,
) -> Result<(Vec<DistrictRow>, Option<Round>), AppError> {
    let store = state.store.clone();
    let now = crate::now();
    let (cells, per_cell, rounds) = tokio::task::spawn_blocking(move || {
        Ok::<_, AppError>((
            store.grid_cells()?,
            store.overdue_by_cell(now)?,
            store.rounds()?,
        ))
    })
    .await??;
    let mut by: BTreeMap<String, DistrictRow> = BTreeMap::new();
    let within = &user.caller.area;
    let district_of: HashMap<GridCell, String> = cells
        .iter()
        .filter(|c| within.contains(&c.community))
        .map(|c| (c.cell, c.community.as_str()[..6].to_owned()))
        .collect();
    for d in district_of.values() {
        by.entry(d.clone()).or_insert_with(|| DistrictRow {
            district: d.clone(),
            ..DistrictRow::default()
        });
    }
    let rollup = duties::overdue_rollup(&cells, &per_cell, within);
    for d in rollup["districts"].as_array().into_iter().flatten() {
        if let (Some(code), Some(n)) = (d["district"].as_str(), d["overdue"].as_u64())
            && let Some(row) = by.get_mut(code)
        {
            row.overdue = n;
        }
    }
    let round = latest_round(&rounds, now).cloned();
    if let Some(status) = round.as_ref().and_then(|r| lab::round_status(state, r.id)) {
        for (cell, p) in &status.cells {
            if let Some(row) = district_of.get(cell).and_then(|d| by.get_mut(d)) {
                row.expected += u64::from(p.expected);
                row.sampled += u64::from(p.sampled);
            }
        }
    }
    let mut v: Vec<DistrictRow> = by.into_values().collect();
    rank(&mut v);
    Ok((v, round))
}

fn table(lang: Lang, rows: &[DistrictRow], round: Option<&Round>) -> String {
    let mut s = match round {
        Some(r) => format!(
            "<p id=\"round\">{} {} {}</p>",
            lang.t("筛查覆盖率按最近一轮：", "Coverage is of the latest round:"),
            r.id,
            esc(&r.name)
        ),
        None => format!(
            "<p id=\"round\">{}</p>",
            lang.t("尚无筛查轮次。", "No screening round yet.")
        ),
    };
    let _ = write!(
        s,
        "<div class=\"scroll\"><table id=\"ranking\"><caption>{}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        lang.t("红黑榜（最差在前）", "Ranking (worst first)"),
        lang.t("名次", "Rank"),
        lang.t("区县", "District"),
        lang.t("逾期任务", "Overdue tasks"),
        lang.t("已采样 / 应采样", "Sampled / expected"),
        lang.t("覆盖率", "Coverage"),
    );
    for (i, r) in rows.iter().enumerate() {
        let cov = r
            .coverage_permille()
            .map_or("—".to_owned(), |p| format!("{}.{}%", p / 10, p % 10));
        let _ = write!(
            s,
            "<tr data-district=\"{d}\" data-overdue=\"{o}\"><td>{rank}</td><th scope=\"row\">{d}</th><td>{o}</td><td>{sa} / {ex}</td><td>{cov}</td></tr>",
            rank = i + 1,
            d = esc(&r.district),
            o = r.overdue,
            sa = r.sampled,
            ex = r.expected,
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

/// `GET /web/ranking`.
pub async fn page(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    if let Some(r) = user.forbid_unless(VIEWERS, "the ranking") {
        return r;
    }
    let lang = user.lang;
    match rows(&state, &user).await {
        Ok((rows, round)) => html(
            StatusCode::OK,
            layout(
                lang,
                lang.t("红黑榜", "District ranking"),
                Some(&user),
                "/web/ranking",
                &table(lang, &rows, round.as_ref()),
            ),
        ),
        Err(e) => error_page(lang, Some(&user), &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(d: &str, overdue: u64, expected: u64, sampled: u64) -> DistrictRow {
        DistrictRow {
            district: d.into(),
            overdue,
            expected,
            sampled,
        }
    }

    #[test]
    fn districts_rank_by_overdue_tasks_then_by_lowest_coverage() {
        let mut v = vec![
            row("320211", 0, 100, 90),
            row("320213", 5, 100, 100),
            row("320214", 0, 100, 40),
            row("320205", 0, 0, 0),
            row("320206", 5, 100, 50),
        ];
        rank(&mut v);
        let order: Vec<&str> = v.iter().map(|r| r.district.as_str()).collect();
        assert_eq!(order, ["320206", "320213", "320214", "320211", "320205"]);
        assert_eq!(row("x", 0, 3, 2).coverage_permille(), Some(666));
        assert_eq!(row("x", 0, 0, 0).coverage_permille(), None);
    }
}
