//! Staff's pages of supervision (docs/citizens.md), zh-CN and English: inspections and
//! silent venues (`/web/inspections`, 明察暗访), supplies for sealed households
//! (`/web/supplies`, 保供), responsibility lists (`/web/responsibility`, 责任清单), capacity
//! (`/web/capacity`) and the quarterly evaluation (`/web/quarterly`, 季季评). Each reads
//! through the same functions as the API, with the same authorisation; the CSV/XLSX links
//! go to `/web/export/{what}` (the session's user, the API's tables). Photos of inspections
//! are served through `/web/inspections/{id}/photos/{photo}` with the API's checks.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, msg, shanghai, thead};
use crate::board::capacity::{self, ReportedOut};
use crate::board::responsibility::{self, ItemsQuery};
use crate::board::{photos, quarterly, venues};
use crate::error::AppError;
use crate::export::Format;
use crate::state::{AppState, read};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::Timestamp;

/// A table in a scrolling region, labelled by its caption (the pages' pattern for axe).
fn table(id: &str, caption: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = format!(
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"{id}-cap\"><table id=\"{id}\"><caption id=\"{id}-cap\">{}</caption>{}<tbody>",
        esc(caption),
        thead(head)
    );
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            // Cells are escaped here, except the ones built as links below (marked).
            match c.strip_prefix("\u{0}html:") {
                Some(h) => {
                    let _ = write!(s, "<td>{h}</td>");
                }
                None => {
                    let _ = write!(s, "<td>{}</td>", esc(c));
                }
            }
        }
        s.push_str("</tr>");
    }
    if rows.is_empty() {
        let _ = write!(s, "<tr><td colspan=\"{}\">—</td></tr>", head.len().max(1));
    }
    s.push_str("</tbody></table></div>");
    s
}

/// A cell already written as HTML (every part escaped by its maker).
fn html_cell(h: String) -> String {
    format!("\u{0}html:{h}")
}

/// The CSV and XLSX links of an export.
fn exports(lang: Lang, what: &str, query: &str) -> String {
    let sep = if query.is_empty() { "" } else { "&amp;" };
    format!(
        "<p class=\"exports\"><a href=\"/web/export/{what}?format=csv{sep}{query}\">{}</a> · <a href=\"/web/export/{what}?format=xlsx{sep}{query}\">{}</a></p>",
        lang.m("common-export-csv"),
        lang.m("oversight-export-xlsx"),
    )
}

fn yes(lang: Lang, b: bool) -> String {
    if b {
        lang.m("common-yes").to_owned()
    } else {
        String::new()
    }
}

fn time_of(rfc: &str) -> String {
    Timestamp::parse_rfc3339(rfc).map_or_else(|_| rfc.to_owned(), shanghai)
}

fn page(
    user: &WebUser,
    title: &'static str,
    here: &str,
    body: Result<String, AppError>,
) -> Response {
    match body {
        Ok(b) => html(
            StatusCode::OK,
            layout(user.lang, user.lang.m(title), Some(user), here, &b),
        ),
        Err(e) => error_page(user.lang, Some(user), &e),
    }
}

/// `GET /web/inspections`: the silent venues the last sweep flagged, then the inspections
/// (overdue rectifications marked, photos linked).
pub async fn inspections(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    let body = (|| -> Result<String, AppError> {
        let lang = user.lang;
        let silent = venues::silent(&state, &user.caller, None)?;
        let list = venues::inspections(&state, &user.caller, None)?;
        let kind = |k: &str| {
            match k {
                "no_scans" => lang.m("oversight-no-scans-in-opening-hours"),
                "scans_stopped" => lang.m("oversight-scans-stopped"),
                "one_device" => lang.m("oversight-one-device-scanning-for-all"),
                _ => "",
            }
            .to_owned()
        };
        let rows: Vec<Vec<String>> = silent
            .items
            .iter()
            .map(|v| {
                vec![
                    v.venue.clone(),
                    v.name.clone(),
                    kind(v.kind),
                    format!("{:.1}", v.expected_per_hour),
                    v.scans_today.to_string(),
                    v.last_scan.as_deref().map(time_of).unwrap_or_default(),
                ]
            })
            .collect();
        let mut s = format!(
            "<p id=\"swept\">{} {}</p>",
            lang.m("oversight-last-sweep"),
            esc(&silent
                .swept_at
                .as_deref()
                .map(time_of)
                .unwrap_or_else(|| "—".into()))
        );
        s.push_str(&table(
            "silent",
            lang.m("oversight-silent-venues"),
            &[
                lang.m("oversight-venue"),
                lang.m("common-name"),
                lang.m("common-kind-2"),
                lang.m("oversight-scans-an-hour-on-past-days"),
                lang.m("oversight-scans-today"),
                lang.m("oversight-last-scan"),
            ],
            &rows,
        ));
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|i| {
                let links: Vec<String> = i
                    .photos
                    .iter()
                    .enumerate()
                    .map(|(n, p)| {
                        format!(
                            "<a href=\"/web/inspections/{}/photos/{}\">{} {}</a>",
                            esc(&i.id),
                            esc(p),
                            lang.m("oversight-photo"),
                            n + 1
                        )
                    })
                    .collect();
                vec![
                    i.id.clone(),
                    time_of(&i.at),
                    i.venue.clone(),
                    match i.kind {
                        "unannounced" => lang.m("oversight-unannounced"),
                        _ => lang.m("oversight-announced"),
                    }
                    .to_owned(),
                    if i.passed {
                        lang.m("oversight-passed")
                    } else {
                        lang.m("oversight-to-rectify")
                    }
                    .to_owned(),
                    i.findings.clone(),
                    i.rectify_by.as_deref().map(time_of).unwrap_or_default(),
                    yes(lang, i.rectification_overdue),
                    html_cell(links.join(" ")),
                ]
            })
            .collect();
        s.push_str(&table(
            "inspections",
            lang.m("oversight-inspections"),
            &[
                lang.m("common-no"),
                lang.m("oversight-when"),
                lang.m("oversight-venue"),
                lang.m("oversight-kind"),
                lang.m("oversight-result"),
                lang.m("oversight-findings"),
                lang.m("oversight-rectify-by"),
                lang.m("oversight-overdue"),
                lang.m("oversight-photos"),
            ],
            &rows,
        ));
        s.push_str(&exports(lang, "inspections", ""));
        Ok(s)
    })();
    page(&user, msg("common-inspections"), "/web/inspections", body)
}

/// `GET /web/inspections/{id}/photos/{photo}`: a photo, for staff who may see the venue.
pub async fn photo(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path((id, photo)): Path<(String, String)>,
) -> Response {
    match photos::photo_response(&state, &user.caller, &id, &photo).await {
        Ok(r) => r,
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// `GET /web/supplies`: supply requests of sealed households in the caller's area, newest
/// first, with whether their delivery task is still open and overdue.
pub async fn supplies(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    let body = supplies_page(&state, &user).await;
    page(&user, msg("oversight-supplies"), "/web/supplies", body)
}

/// How many supply requests the page shows.
const SUPPLY_ROWS: usize = 200;

async fn supplies_page(state: &AppState, user: &WebUser) -> Result<String, AppError> {
    user.caller
        .require(crate::board::supplies::VIEWERS, "supply requests")?;
    let lang = user.lang;
    let now = crate::now();
    let list: Vec<crate::board::SupplyRequest> = read(&state.projection.board)
        .supplies
        .iter()
        .rev()
        .filter(|r| crate::app::authorise::person_in_area(state, &user.caller, r.person))
        .take(SUPPLY_ROWS)
        .cloned()
        .collect();
    let cells: Vec<xikang_domain::GridCell> = list
        .iter()
        .filter_map(|r| state.projection.home_cell(r.person))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let store = state.store.clone();
    let open =
        tokio::task::spawn_blocking(move || store.open_tasks_of_cells(&cells, 100_000)).await??;
    let open: HashSet<(xikang_domain::PersonId, i64)> = open
        .iter()
        .filter(|t| t.kind == xikang_domain::duties::TaskKind::Delivery)
        .filter_map(|t| t.person.map(|p| (p, t.due_at.0)))
        .collect();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            let pending = open.contains(&(r.person, r.due_at.0));
            vec![
                r.id.to_string(),
                shanghai(r.at),
                r.person.to_string(),
                r.need.as_str().to_owned(),
                r.items.clone(),
                shanghai(r.due_at),
                if pending {
                    lang.m("oversight-open")
                } else {
                    lang.m("oversight-done")
                }
                .to_owned(),
                yes(lang, pending && now > r.due_at),
            ]
        })
        .collect();
    Ok(table(
        "supplies",
        lang.m("oversight-supply-requests"),
        &[
            lang.m("common-no"),
            lang.m("oversight-when"),
            lang.m("common-person"),
            lang.m("oversight-need"),
            lang.m("oversight-items"),
            lang.m("oversight-due"),
            lang.m("common-state"),
            lang.m("oversight-overdue-2"),
        ],
        &rows,
    ))
}

/// `GET /web/responsibility`: the area's responsibility items (overdue and escalated
/// marked).
pub async fn responsibility(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    let body = (|| -> Result<String, AppError> {
        let lang = user.lang;
        let items = responsibility::items(&state, &user.caller, &ItemsQuery::default())?;
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| {
                vec![
                    i.id.clone(),
                    xikang_domain::board::Department::parse(i.department)
                        .map_or(i.department.to_owned(), |d| {
                            lang.supplied(d.zh(), d.en()).to_owned()
                        }),
                    i.owner.clone(),
                    i.what.clone(),
                    i.area.clone(),
                    time_of(&i.deadline),
                    i.done_at.as_deref().map(time_of).unwrap_or_default(),
                    yes(lang, i.overdue),
                    yes(lang, i.escalated),
                ]
            })
            .collect();
        let mut s = table(
            "items",
            lang.m("oversight-responsibility-list"),
            &[
                lang.m("common-no"),
                lang.m("oversight-department"),
                lang.m("oversight-owner"),
                lang.m("oversight-what"),
                lang.m("oversight-area"),
                lang.m("oversight-deadline"),
                lang.m("oversight-done-2"),
                lang.m("oversight-overdue-2"),
                lang.m("oversight-escalated"),
            ],
            &rows,
        );
        s.push_str(&exports(lang, "responsibility", ""));
        Ok(s)
    })();
    page(
        &user,
        msg("oversight-responsibility-lists"),
        "/web/responsibility",
        body,
    )
}

fn reported_rows(lang: Lang, list: &[ReportedOut]) -> Vec<Vec<String>> {
    list.iter()
        .map(|r| {
            vec![
                r.site
                    .as_ref()
                    .map_or(r.name.clone(), |s| format!("{s} · {}", r.name)),
                r.area.clone(),
                r.total.to_string(),
                r.in_use.to_string(),
                time_of(&r.reported_at),
                r.runs_out_on
                    .clone()
                    .unwrap_or_else(|| lang.m("oversight-not-running-out").to_owned()),
            ]
        })
        .collect()
}

/// `GET /web/capacity`: beds, tubes, fever clinics, vehicles and stock with the day each
/// runs out at the current trend.
pub async fn capacity(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    let lang = user.lang;
    let body = async {
        let c = capacity::capacity(&state, &user.caller, None).await?;
        let never = || lang.m("oversight-not-running-out").to_owned();
        let beds: Vec<Vec<String>> = c
            .beds
            .iter()
            .map(|b| {
                vec![
                    b.name.clone(),
                    b.capacity.to_string(),
                    b.occupied.to_string(),
                    b.free.to_string(),
                    format!("{:.1} / {:.1}", b.admitted_per_day, b.released_per_day),
                    b.full_on.clone().unwrap_or_else(never),
                ]
            })
            .collect();
        let mut s = format!(
            "<p>{}</p>",
            esc(&lang.f("oversight-trend-days", &[("n", &c.trend_days)]))
        );
        s.push_str(&table(
            "beds",
            lang.m("oversight-quarantine-beds"),
            &[
                lang.m("common-site"),
                lang.m("oversight-beds"),
                lang.m("oversight-occupied"),
                lang.m("oversight-free"),
                lang.m("oversight-in-out-a-day"),
                lang.m("oversight-full-on"),
            ],
            &beds,
        ));
        let t = &c.tubes;
        s.push_str(&table(
            "tubes",
            lang.m("oversight-lab-tubes"),
            &[
                lang.m("oversight-tubes-resulted-a-day"),
                lang.m("oversight-awaiting-a-result"),
                lang.m("oversight-rounds-still-need"),
                lang.m("oversight-demand-a-day"),
                lang.m("oversight-cleared-on"),
                lang.m("oversight-short"),
            ],
            &[vec![
                format!("{:.1}", t.resulted_per_day),
                t.awaiting_result.to_string(),
                t.rounds_need.to_string(),
                format!("{:.1}", t.demand_per_day),
                t.cleared_on.clone().unwrap_or_else(|| "—".into()),
                yes(lang, t.short),
            ]],
        ));
        let head = [
            lang.m("common-name"),
            lang.m("oversight-area"),
            lang.m("oversight-total"),
            lang.m("oversight-in-use"),
            lang.m("oversight-reported"),
            lang.m("oversight-runs-out-on"),
        ];
        s.push_str(&table(
            "clinics",
            lang.m("oversight-fever-clinics"),
            &head,
            &reported_rows(lang, &c.fever_clinics),
        ));
        s.push_str(&table(
            "vehicles",
            lang.m("oversight-transfer-vehicles"),
            &head,
            &reported_rows(lang, &c.vehicles),
        ));
        s.push_str(&table(
            "stock",
            lang.m("oversight-quarantine-sites-stock"),
            &head,
            &reported_rows(lang, &c.stock),
        ));
        s.push_str(&exports(lang, "capacity", ""));
        Ok::<_, AppError>(s)
    }
    .await;
    page(&user, msg("common-capacity"), "/web/capacity", body)
}

/// `?quarter=2026Q4`.
#[derive(Debug, Default, Deserialize)]
pub struct QuarterForm {
    #[serde(default)]
    quarter: Option<String>,
}

/// `GET /web/quarterly?quarter=`: the quarterly evaluation per district, most points first.
pub async fn quarterly(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Query(q): Query<QuarterForm>,
) -> Response {
    let body = async {
        let lang = user.lang;
        let quarter = q.quarter.as_deref().map(str::trim).filter(|x| !x.is_empty());
        let e = quarterly::evaluate(&state, &user.caller, quarter)?;
        let ds = super::board::districts(&state).await;
        let rows: Vec<Vec<String>> = e
            .districts
            .iter()
            .map(|r| {
                vec![
                    super::board::district_name(&ds, &r.district),
                    r.messages.to_string(),
                    r.messages_on_time.to_string(),
                    r.cases.to_string(),
                    r.four_early_breaches.to_string(),
                    r.inspections.to_string(),
                    r.rectification_overdue.to_string(),
                    r.points.to_string(),
                ]
            })
            .collect();
        let mut s = format!(
            "<form method=\"get\" action=\"/web/quarterly\" class=\"inline\"><label for=\"quarter\">{}</label> <input id=\"quarter\" name=\"quarter\" value=\"{}\" placeholder=\"2026Q4\" size=\"8\"> <button type=\"submit\">{}</button></form>",
            lang.m("oversight-quarter"),
            esc(&e.quarter),
            lang.m("common-show"),
        );
        s.push_str(&table(
            "quarterly",
            &format!("{} {}", lang.m("oversight-quarterly-evaluation"), e.quarter),
            &[
                lang.m("common-district"),
                lang.m("oversight-messages"),
                lang.m("oversight-answered-in-time"),
                lang.m("common-cases"),
                lang.m("common-breaches"),
                lang.m("oversight-inspections-2"),
                lang.m("oversight-overdue-rectifications"),
                lang.m("common-points"),
            ],
            &rows,
        ));
        s.push_str(&exports(lang, "quarterly", &format!("quarter={}", esc(&e.quarter))));
        Ok::<_, AppError>(s)
    }
    .await;
    page(
        &user,
        msg("oversight-quarterly-evaluation"),
        "/web/quarterly",
        body,
    )
}

/// `?format=csv|xlsx&quarter=`.
#[derive(Debug, Default, Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    quarter: Option<String>,
}

/// `GET /web/export/{what}`: the staff pages' exports, as the session's user.
pub async fn export(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(what): Path<String>,
    Query(q): Query<ExportForm>,
) -> Response {
    let caller = &user.caller;
    let made = async {
        let format = Format::parse(q.format.as_deref())?;
        let (t, stem, sheet) = match what.as_str() {
            "inspections" => (
                venues::inspections_table(&state, caller, None)?,
                "inspections".to_owned(),
                "明察暗访",
            ),
            "responsibility" => (
                responsibility::items_table(&state, caller, &ItemsQuery::default())?,
                "responsibility".to_owned(),
                "责任清单",
            ),
            "capacity" => (
                capacity::capacity_table(&state, caller, None).await?,
                "capacity".to_owned(),
                "资源保障",
            ),
            "messages" => (
                crate::board::messages::messages_table(&state, caller)?,
                "messages".to_owned(),
                "messages",
            ),
            "resumption" => (
                crate::board::enterprise::resumption_table(&state, caller, None)?,
                "resumption".to_owned(),
                "复工率",
            ),
            "quarterly" => {
                let (t, quarter) =
                    quarterly::quarterly_table(&state, caller, q.quarter.as_deref())?;
                (t, format!("quarterly-{quarter}"), "季季评")
            }
            _ => {
                return Err(AppError::not_found("unknown_export", "no such export"));
            }
        };
        format.response(&t, &stem, sheet)
    }
    .await;
    made.unwrap_or_else(|e| error_page(user.lang, Some(&user), &e))
}
