//! The command's ranking of districts (红黑榜), per district (the first six digits of a
//! community's code), on three measures:
//!
//! - **tracing speed**: the median time from a case's registration to each of its designated
//!   contacts' quarantine order, over cases registered in the last [`WINDOW_DAYS`] days (from
//!   the tracer workflow); a contact confirmed but not yet quarantined counts the time it has
//!   waited so far, so a district cannot look fast by never ordering quarantine;
//! - **screening coverage** of the latest round that has begun ([`lab::round_status`]);
//! - **overdue grid tasks** (the API's `/grid/overdue` roll-up, [`duties::overdue_out`]);
//! - **四早 breaches**: the timers of the district's recent cases past their targets
//!   ([`crate::board::supervision`], docs/citizens.md).
//!
//! Each measure gives a district one point per district strictly better on it; the most
//! points rank worst (黑榜, top), the fewest best (红榜, bottom). Ranks rather than a weighted
//! sum, because minutes, per mille and task counts have no common unit to weigh.
//!
//! The rows are computed city-wide with the dashboard figures (cached with them, so the page
//! costs a copy); a viewer sees the districts inside, or containing, their jurisdiction.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout};
use crate::app::Role;
use crate::duties;
use crate::error::AppError;
use crate::lab;
use crate::state::{AppState, read};
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::testing::Round;
use xikang_domain::{AreaCode, GridCell, Timestamp};
use xikang_store::GridCellRecord;

const VIEWERS: &[Role] = &[Role::Admin, Role::Tracer];

/// Cases registered this many days back count towards tracing speed.
pub const WINDOW_DAYS: i64 = 14;

/// One district's row.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct DistrictRow {
    pub district: String,
    /// The district's name, when the store has one.
    pub name: Option<String>,
    pub overdue: u64,
    pub expected: u64,
    pub sampled: u64,
    /// Contacts designated for the district's recent cases, and how many are quarantined.
    pub contacts: u64,
    pub quarantined: u64,
    /// Median minutes from case registration to quarantine order (waiting ones count their
    /// wait so far); none without designated contacts.
    pub trace_minutes: Option<u64>,
    /// Breached 四早 timers of the district's cases of the window.
    pub four_early_breaches: u64,
    /// Districts strictly better, summed over the four measures.
    pub points: u64,
}

impl DistrictRow {
    /// Sampled per thousand expected (none when nobody is expected).
    pub fn coverage_permille(&self) -> Option<u64> {
        (self.expected > 0).then(|| self.sampled * 1000 / self.expected)
    }

    /// How bad each measure is, larger is worse: tracing minutes, missing coverage,
    /// overdue tasks, 四早 breaches.
    fn badness(&self) -> [u64; 4] {
        [
            self.trace_minutes.unwrap_or(0),
            1000 - self.coverage_permille().unwrap_or(1000).min(1000),
            self.overdue,
            self.four_early_breaches,
        ]
    }
}

/// Scores and sorts worst first: points, then overdue tasks, then the code.
pub fn rank(rows: &mut [DistrictRow]) {
    let bad: Vec<[u64; 4]> = rows.iter().map(DistrictRow::badness).collect();
    for (i, row) in rows.iter_mut().enumerate() {
        row.points = (0..4)
            .map(|m| bad.iter().filter(|b| b[m] < bad[i][m]).count() as u64)
            .sum();
    }
    rows.sort_by(|a, b| {
        b.points
            .cmp(&a.points)
            .then(b.overdue.cmp(&a.overdue))
            .then(a.district.cmp(&b.district))
    });
}

/// The latest round that has begun (by start, then id).
fn latest_round(rounds: &[Round], now: Timestamp) -> Option<&Round> {
    rounds
        .iter()
        .filter(|r| r.starts_at <= now)
        .max_by_key(|r| (r.starts_at, r.id))
}

/// The median of `v` (the lower middle of an even count).
fn median(mut v: Vec<u64>) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len().saturating_sub(1) / 2).copied()
}

/// The ranking of every district of the city and its latest round (blocking: store reads).
pub fn compute(
    state: &AppState,
    cells: &[GridCellRecord],
    names: &BTreeMap<AreaCode, String>,
    now: Timestamp,
) -> Result<(Vec<DistrictRow>, Option<Round>), AppError> {
    let per_cell = state.store.overdue_by_cell(now)?;
    let rounds = state.store.rounds()?;
    let city = AreaCode::parse(&state.config.jurisdiction)
        .map_err(|e| AppError::Internal(format!("jurisdiction: {e}")))?;
    let district_of: HashMap<GridCell, String> = cells
        .iter()
        .map(|c| (c.cell, c.community.as_str()[..6].to_owned()))
        .collect();
    let mut by: BTreeMap<String, DistrictRow> = BTreeMap::new();
    for d in district_of.values() {
        by.entry(d.clone()).or_insert_with(|| DistrictRow {
            district: d.clone(),
            name: AreaCode::parse(d).ok().and_then(|a| names.get(&a).cloned()),
            ..DistrictRow::default()
        });
    }
    for d in duties::overdue_out(cells, &per_cell, &city).districts {
        if let Some(row) = by.get_mut(&d.district) {
            row.overdue = d.overdue;
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
    // Tracing speed: each designated contact of a recent case, in the case's district.
    let since = now.plus(-WINDOW_DAYS * 86_400);
    let mut minutes: HashMap<String, Vec<u64>> = HashMap::new();
    {
        let cases = read(&state.projection.cases);
        for (case, quarantined_at) in state.projection.tracing.designated() {
            let Some(c) = cases.get(&case).filter(|c| c.registered_at >= since) else {
                continue;
            };
            let Some(area) = state.projection.person_area(c.person) else {
                continue;
            };
            let Some(row) = by.get_mut(&area.as_str()[..6]) else {
                continue;
            };
            row.contacts += 1;
            row.quarantined += u64::from(quarantined_at.is_some());
            let until = quarantined_at.unwrap_or(now);
            let waited = u64::try_from(until.0 - c.registered_at.0).unwrap_or(0) / 60;
            minutes
                .entry(row.district.clone())
                .or_default()
                .push(waited);
        }
    }
    for (d, v) in minutes {
        if let Some(row) = by.get_mut(&d) {
            row.trace_minutes = median(v);
        }
    }
    for (d, n) in crate::board::supervision::breaches_by_district(state, since, now) {
        if let Some(row) = by.get_mut(&d) {
            row.four_early_breaches = n;
        }
    }
    let mut v: Vec<DistrictRow> = by.into_values().collect();
    rank(&mut v);
    Ok((v, round))
}

/// `h` hours `m` minutes, or minutes alone under an hour.
fn duration(lang: Lang, minutes: u64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (lang, h) {
        (Lang::Zh, 0) => format!("{m} 分钟"),
        (Lang::Zh, _) => format!("{h} 小时 {m} 分"),
        (Lang::En, 0) => format!("{m} min"),
        (Lang::En, _) => format!("{h} h {m} min"),
    }
}

/// The ranking table of the rows the viewer may see (districts inside or containing their
/// jurisdiction).
pub fn table(lang: Lang, viewer: &AreaCode, rows: &[DistrictRow], round: Option<&Round>) -> String {
    let mut s = match round {
        Some(r) => format!(
            "<p id=\"round\">{} {} {}</p>",
            lang.m("ranking-coverage-is-of-the-latest-round"),
            r.id,
            esc(&r.name)
        ),
        None => format!(
            "<p id=\"round\">{}</p>",
            lang.m("ranking-no-screening-round-yet")
        ),
    };
    let _ = write!(
        s,
        // Focusable and named: on a phone the table scrolls sideways, and a keyboard must be
        // able to scroll it (axe: scrollable-region-focusable).
        "<p>{}</p><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"ranking-caption\"><table id=\"ranking\"><caption id=\"ranking-caption\">{}</caption>{}<tbody>",
        lang.m("ranking-ranked-on-four-measures-median-time"),
        lang.m("ranking-ranking-worst-first"),
        super::thead(&[
            lang.m("ranking-rank"),
            lang.m("common-district"),
            lang.m("ranking-case-to-quarantine-median"),
            lang.m("ranking-quarantined-designated"),
            lang.m("ranking-overdue-tasks"),
            lang.m("ranking-sampled-expected"),
            lang.m("ranking-coverage"),
            lang.m("common-breaches"),
            lang.m("common-points"),
        ]),
    );
    let visible = rows.iter().filter(|r| {
        AreaCode::parse(&r.district).is_ok_and(|d| viewer.contains(&d) || d.contains(viewer))
    });
    for (i, r) in visible.enumerate() {
        let cov = r
            .coverage_permille()
            .map_or("—".to_owned(), |p| format!("{}.{}%", p / 10, p % 10));
        let speed = r
            .trace_minutes
            .map_or("—".to_owned(), |m| duration(lang, m));
        let name = match &r.name {
            Some(n) => format!("{} <small>{}</small>", esc(n), esc(&r.district)),
            None => esc(&r.district),
        };
        let _ = write!(
            s,
            "<tr data-district=\"{d}\" data-overdue=\"{o}\"><td>{rank}</td><th scope=\"row\">{name}</th><td data-minutes=\"{mins}\">{speed}</td><td>{q} / {c}</td><td>{o}</td><td>{sa} / {ex}</td><td>{cov}</td><td data-breaches=\"{br}\">{br}</td><td>{pts}</td></tr>",
            rank = i + 1,
            d = esc(&r.district),
            o = r.overdue,
            mins = r.trace_minutes.map_or(String::new(), |m| m.to_string()),
            q = r.quarantined,
            c = r.contacts,
            sa = r.sampled,
            ex = r.expected,
            br = r.four_early_breaches,
            pts = r.points,
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

/// `GET /web/ranking`: the cached ranking (computed with the dashboard figures).
pub async fn page(
    State(state): State<Arc<AppState>>,
    Extension(web): Extension<Arc<super::WebState>>,
    user: WebUser,
) -> Response {
    if let Some(r) = user.forbid_unless(VIEWERS, "the ranking") {
        return r;
    }
    let lang = user.lang;
    match web.figures.figures(&state).await {
        Ok(f) => html(
            StatusCode::OK,
            layout(
                lang,
                lang.m("common-district-ranking"),
                Some(&user),
                "/web/ranking",
                &table(lang, &user.caller.area, &f.ranking, f.round.as_ref()),
            ),
        ),
        Err(e) => error_page(lang, Some(&user), &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(d: &str, overdue: u64, expected: u64, sampled: u64, trace: Option<u64>) -> DistrictRow {
        DistrictRow {
            district: d.into(),
            overdue,
            expected,
            sampled,
            trace_minutes: trace,
            ..DistrictRow::default()
        }
    }

    #[test]
    fn districts_score_a_point_per_better_district_on_each_measure_worst_first() {
        let mut v = vec![
            // Points per measure: trace + coverage + overdue.
            row("320211", 0, 100, 90, Some(30)),  // 2 + 2 + 0
            row("320213", 5, 100, 100, None),     // 0 + 0 + 3
            row("320214", 0, 100, 40, Some(600)), // 3 + 3 + 0
            row("320205", 0, 0, 0, None),         // nothing expected, nothing traced: 0
        ];
        rank(&mut v);
        let order: Vec<(&str, u64)> = v.iter().map(|r| (r.district.as_str(), r.points)).collect();
        assert_eq!(
            order,
            [("320214", 6), ("320211", 4), ("320213", 3), ("320205", 0)]
        );
        // Equal points: more overdue tasks first.
        let mut tie = vec![
            row("320211", 0, 100, 50, None),
            row("320213", 1, 0, 0, None),
        ];
        rank(&mut tie);
        assert_eq!((tie[0].district.as_str(), tie[0].points), ("320213", 1));
        assert_eq!(tie[1].points, 1);
        assert_eq!(row("x", 0, 3, 2, None).coverage_permille(), Some(666));
        assert_eq!(row("x", 0, 0, 0, None).coverage_permille(), None);
    }

    #[test]
    fn breached_four_early_timers_are_a_fourth_measure() {
        let mut v = vec![
            row("320211", 0, 0, 0, None),
            DistrictRow {
                four_early_breaches: 2,
                ..row("320213", 0, 0, 0, None)
            },
        ];
        rank(&mut v);
        assert_eq!((v[0].district.as_str(), v[0].points), ("320213", 1));
        assert_eq!(v[1].points, 0);
    }

    #[test]
    fn the_median_is_the_lower_middle_and_durations_read_in_hours() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![9, 1, 5]), Some(5));
        assert_eq!(median(vec![4, 1, 9, 5]), Some(4));
        assert_eq!(duration(Lang::Zh, 125), "2 小时 5 分");
        assert_eq!(duration(Lang::En, 59), "59 min");
    }

    #[test]
    fn a_viewer_sees_districts_inside_or_containing_their_jurisdiction() {
        let rows = vec![row("320213", 0, 0, 0, None), row("320211", 0, 0, 0, None)];
        let street = AreaCode::parse("320213001").unwrap();
        let html = table(Lang::Zh, &street, &rows, None);
        assert!(html.contains("data-district=\"320213\""));
        assert!(!html.contains("data-district=\"320211\""));
        let city = AreaCode::parse("320200").unwrap();
        assert_eq!(
            table(Lang::En, &city, &rows, None)
                .matches("<tr data-district")
                .count(),
            2
        );
    }
}
