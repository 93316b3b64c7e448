//! The lab's page: paste or pick a results CSV (the format of `xikang tests import`:
//! `barcode,outcome[,ct[,resulted_at]]`), see what became of each line, the members of
//! positive pools now held for a single-tube retest, and the tubes stuck in transport or in
//! the lab. Results go through the API's `POST /api/v1/lab-results` handler, so a file
//! posted here writes exactly the events an import by the API does.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, shanghai};
use crate::app::Role;
use crate::lab;
use crate::lab::http::LabLine;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::testing::TaskKind;

const LAB_STAFF: &[Role] = &[Role::Lab, Role::Admin];

/// Rows shown in each list (the API has them all).
const MAX_ROWS: usize = 500;

/// What the lab typed, kept when it is refused.
#[derive(Debug, Default, Deserialize)]
pub struct ResultsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    csv: String,
}

fn upload_form(user: &WebUser, csv: &str, error: Option<&str>) -> String {
    let lang = user.lang;
    let (invalid, described, err) = match error {
        Some(e) => (
            " aria-invalid=\"true\"",
            " aria-describedby=\"csv-help csv-err\"",
            format!(
                "<p class=\"err\" id=\"csv-err\" role=\"alert\">{}</p>",
                esc(e)
            ),
        ),
        None => ("", " aria-describedby=\"csv-help\"", String::new()),
    };
    format!(
        r#"<form method="post" action="/web/lab" class="upload">{csrf}
<label for="file">{l_file}</label><input type="file" id="file" accept=".csv,text/csv" data-into="csv">
<label for="csv">{l_csv}</label><textarea id="csv" name="csv" rows="10" required{invalid}{described}>{csv}</textarea>
<small id="csv-help">{help}</small>{err}
<button type="submit">{l_go}</button></form><script src="/web/static/lab.js"></script>"#,
        csrf = user.csrf_field(),
        l_file = lang.m("lab-choose-a-results-file-csv"),
        l_csv = lang.m("lab-results-or-paste-them-here"),
        csv = esc(csv),
        help = lang.m("lab-one-line-each-barcode-outcome"),
        l_go = lang.m("lab-upload-results"),
    )
}

/// The per-line report of an upload: line, barcode, what happened or why it was refused.
fn report(lang: Lang, items: &[LabLine], csv: &str) -> String {
    // The barcode as the file gave it, by file line (the answer names tubes by id).
    let barcode_of = |line: Option<usize>| -> String {
        line.and_then(|n| csv.lines().nth(n.checked_sub(1)?))
            .and_then(|l| l.split(',').next())
            .map_or(String::new(), |b| esc(b.trim()))
    };
    let accepted = items.iter().filter(|i| i.outcome.is_ok()).count();
    let mut s = format!(
        "<section aria-labelledby=\"report-h\"><h2 id=\"report-h\">{}</h2><p class=\"{}\" role=\"status\" data-accepted=\"{accepted}\" data-refused=\"{refused}\">{}</p><div class=\"scroll\"><table id=\"report\"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        lang.m("lab-line-by-line"),
        if accepted == 0 { "err" } else { "ok" },
        lang.f(
            "lab-lines-accepted",
            &[
                ("accepted", &accepted),
                ("refused", &(items.len() - accepted))
            ],
        ),
        lang.m("lab-line"),
        lang.m("lab-tube"),
        lang.m("lab-outcome"),
        refused = items.len() - accepted,
    );
    for item in items.iter().take(MAX_ROWS) {
        let line = item.line.map_or(String::new(), |n| n.to_string());
        let barcode = barcode_of(item.line);
        match &item.outcome {
            Err(e) => {
                let _ = write!(
                    s,
                    "<tr class=\"refused\" data-code=\"{}\"><td>{line}</td><td>{barcode}</td><td>✘ {}</td></tr>",
                    esc(e.code),
                    esc(&super::i18n::error_text(lang, e.code, &e.message)),
                );
            }
            Ok(d) => {
                let (holds, tasks) = (d.holds, d.tasks);
                let mut what = lang.f("lab-recorded", &[("n", &d.members)]);
                if holds > 0 {
                    what.push_str(&lang.f("lab-positive-pool", &[("n", &holds)]));
                } else if tasks > 0 {
                    what.push_str(&lang.f("lab-to-swab-again", &[("n", &tasks)]));
                }
                if let Some(c) = d.suspected {
                    what.push_str(&lang.f("lab-suspected-case", &[("case", &c)]));
                }
                let _ = write!(
                    s,
                    "<tr class=\"accepted\" data-holds=\"{holds}\"><td>{line}</td><td>{barcode}</td><td>{what}</td></tr>",
                );
            }
        }
    }
    s.push_str("</tbody></table></div></section>");
    s
}

/// The members of positive pools held for a single-tube retest, in the lab's jurisdiction.
fn holds(state: &AppState, user: &WebUser) -> String {
    let lang = user.lang;
    let tasks = lab::open_tasks(state, Some(TaskKind::SingleTubeRetest), |p| {
        state
            .projection
            .person_area(p)
            .is_some_and(|a| user.caller.covers(&a))
    });
    let mut s = format!(
        "<section aria-labelledby=\"holds-h\"><h2 id=\"holds-h\">{}</h2><p data-count=\"{}\" id=\"holds-count\">{}</p>",
        lang.m("lab-held-members-of-positive-pools"),
        tasks.len(),
        lang.f("lab-holds-count", &[("n", &tasks.len())])
    );
    if !tasks.is_empty() {
        let _ = write!(
            s,
            "<div class=\"scroll\"><table id=\"holds\">{}<tbody>",
            super::thead(&[
                lang.m("lab-person"),
                lang.m("lab-pool-tube"),
                lang.m("lab-since"),
            ]),
        );
        for t in tasks.iter().take(MAX_ROWS) {
            // Person ids are opaque; names and ID numbers stay on the person's page.
            let _ = write!(
                s,
                "<tr><td><a href=\"/web/people/{p}\">{p}</a></td><td>{}</td><td>{}</td></tr>",
                t.tube.map_or(String::new(), |x| x.to_string()),
                shanghai(t.created_at),
                p = t.person,
            );
        }
        s.push_str("</tbody></table></div>");
    }
    s.push_str("</section>");
    s
}

/// The hours after which a tube counts as stuck; the policy's unless the lab asks.
#[derive(Debug, Default, Deserialize)]
pub struct StuckQuery {
    transport_hours: Option<u32>,
    lab_hours: Option<u32>,
}

/// Tubes sealed but not received, or received but not resulted, for too long.
fn stuck(state: &AppState, lang: Lang, q: &StuckQuery) -> String {
    let policy = state.policy();
    let transport = q
        .transport_hours
        .or_else(|| policy.parameter("stuck_transport_hours"))
        .unwrap_or(6);
    let in_lab = q
        .lab_hours
        .or_else(|| policy.parameter("stuck_lab_hours"))
        .unwrap_or(12);
    let tubes = lab::stuck(state, crate::now(), transport, in_lab);
    let mut s = format!(
        "<section aria-labelledby=\"stuck-h\"><h2 id=\"stuck-h\">{}</h2><p id=\"stuck-count\" data-count=\"{}\">{}</p>",
        lang.m("lab-stuck-tubes"),
        tubes.len(),
        lang.f(
            "lab-stuck-count",
            &[
                ("transport", &transport),
                ("in_lab", &in_lab),
                ("n", &tubes.len())
            ],
        )
    );
    if !tubes.is_empty() {
        let _ = write!(
            s,
            "<div class=\"scroll\"><table id=\"stuck\">{}<tbody>",
            super::thead(&[
                lang.m("lab-barcode"),
                lang.m("lab-site"),
                lang.m("common-state"),
                lang.m("lab-sealed"),
                lang.m("lab-received"),
            ]),
        );
        for t in tubes.iter().take(MAX_ROWS) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(t.barcode.as_str()),
                t.site,
                state_text(lang, t.state),
                t.sealed_at.map_or(String::new(), shanghai),
                t.received_at.map_or(String::new(), shanghai),
            );
        }
        s.push_str("</tbody></table></div>");
    }
    let _ = write!(
        s,
        r#"<form method="get" action="/web/lab" class="inline noprint"><label for="transport_hours">{}</label><input type="number" min="0" max="720" id="transport_hours" name="transport_hours" value="{transport}"><label for="lab_hours">{}</label><input type="number" min="0" max="720" id="lab_hours" name="lab_hours" value="{in_lab}"><button type="submit">{}</button></form>"#,
        lang.m("lab-in-transport-over-hours"),
        lang.m("lab-in-the-lab-over-hours"),
        lang.m("lab-refresh"),
    );
    s.push_str("</section>");
    s
}

fn state_text(lang: Lang, s: xikang_domain::testing::TubeState) -> &'static str {
    use xikang_domain::testing::TubeState as T;
    match s {
        T::Open => lang.m("lab-open"),
        T::Sealed => lang.m("lab-sealed-2"),
        T::InTransport => lang.m("lab-in-transport"),
        T::Received => lang.m("lab-received-2"),
        T::Resulted => lang.m("lab-resulted"),
        T::Invalid => lang.m("lab-invalid"),
    }
}

fn page(state: &AppState, user: &WebUser, status: StatusCode, top: &str, form: &str) -> Response {
    page_with(state, user, status, top, form, &StuckQuery::default())
}

fn page_with(
    state: &AppState,
    user: &WebUser,
    status: StatusCode,
    top: &str,
    form: &str,
    q: &StuckQuery,
) -> Response {
    let body = format!(
        "{top}{form}{}{}",
        holds(state, user),
        stuck(state, user.lang, q)
    );
    html(
        status,
        layout(
            user.lang,
            user.lang.m("common-lab"),
            Some(user),
            "/web/lab",
            &body,
        ),
    )
}

/// `GET /web/lab`.
pub async fn lab_page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    q: Result<Query<StuckQuery>, QueryRejection>,
) -> Response {
    if let Some(r) = user.forbid_unless(LAB_STAFF, "uploading lab results") {
        return r;
    }
    // A malformed number falls back to the policy's hours rather than an error page.
    let q = q.map(|Query(q)| q).unwrap_or_default();
    page_with(
        &state,
        &user,
        StatusCode::OK,
        "",
        &upload_form(&user, "", None),
        &q,
    )
}

/// `POST /web/lab`: the pasted or picked CSV, posted to the API's lab-results handler.
pub async fn upload(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<ResultsForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(LAB_STAFF, "uploading lab results") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let answer = lab::http::record_lab_csv(&state, &user.caller, f.csv.as_bytes()).await;
    match answer {
        // Every line refused: the report still says why, line by line; the text is kept.
        Ok(lines) if lines.iter().all(|l| l.outcome.is_err()) => page(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &report(lang, &lines, &f.csv),
            &upload_form(&user, &f.csv, None),
        ),
        Ok(lines) => page(
            &state,
            &user,
            StatusCode::OK,
            &report(lang, &lines, &f.csv),
            &upload_form(&user, "", None),
        ),
        Err(e) => {
            let (status, code, msg) = e.summary();
            page(
                &state,
                &user,
                status,
                "",
                &upload_form(
                    &user,
                    &f.csv,
                    Some(&super::i18n::error_text(lang, code, &msg)),
                ),
            )
        }
    }
}
