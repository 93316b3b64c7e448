//! Staff's page of enterprises resuming work (复工备案, `/web/enterprises`,
//! docs/citizens.md): 复工率 of the admin's area by district and industry, then the filings,
//! pending first, each pending one with the approve-or-return form. Decisions go through
//! [`crate::board::enterprise::decide`], which logs them.

use super::board::{district_name, districts};
use super::session::WebUser;
use super::{error_page, esc, html, layout, thead};
use crate::board::enterprise::{self, DecisionIn, FilingsQuery, ResumptionRow};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::enterprise::Industry;

fn rate(r: &ResumptionRow) -> String {
    format!("{}.{}%", r.rate_permille / 10, r.rate_permille % 10)
}

fn rows(s: &mut String, rows: &[ResumptionRow], name: impl Fn(&str) -> String) {
    for r in rows {
        let _ = write!(
            s,
            "<tr data-key=\"{k}\" data-rate=\"{p}\"><th scope=\"row\">{n}</th><td>{e}</td><td>{d}</td><td>{rt}</td><td>{w}</td></tr>",
            k = esc(&r.key),
            p = r.rate_permille,
            n = esc(&name(&r.key)),
            e = r.enterprises,
            d = r.resumed,
            rt = rate(r),
            w = r.workers_back,
        );
    }
}

async fn page(state: &AppState, user: &WebUser) -> Result<String, AppError> {
    let lang = user.lang;
    let r = enterprise::resumption(state, &user.caller, None)?;
    let list = enterprise::filings(state, &user.caller, &FilingsQuery::default())?;
    let ds = districts(state).await;
    let head = thead(&[
        lang.m("enterprises-group"),
        lang.m("enterprises-filed"),
        lang.m("enterprises-resumed"),
        lang.m("enterprises-rate"),
        lang.m("enterprises-workers-back"),
    ]);
    let mut s = format!(
        "<p id=\"resumption\" data-rate=\"{p}\">{t}</p><p><a href=\"/web/export/resumption?format=csv\">{csv}</a> · <a href=\"/web/export/resumption?format=xlsx\">XLSX</a></p>",
        p = r.total.rate_permille,
        t = esc(&lang.f(
            "enterprises-resumption-rate",
            &[
                ("rate", &rate(&r.total)),
                ("resumed", &r.total.resumed),
                ("filed", &r.total.enterprises),
            ],
        )),
        csv = lang.m("common-export-csv"),
    );
    let _ = write!(
        s,
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"by-district\"><table><caption id=\"by-district\">{}</caption>{head}<tbody>",
        lang.m("enterprises-by-district")
    );
    rows(&mut s, &r.by_district, |k| district_name(&ds, k));
    let _ = write!(
        s,
        "</tbody></table></div><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"by-industry\"><table><caption id=\"by-industry\">{}</caption>{head}<tbody>",
        lang.m("enterprises-by-industry")
    );
    rows(&mut s, &r.by_industry, |k| {
        Industry::parse(k).map_or(k.to_owned(), |i| lang.supplied(i.zh(), k).to_owned())
    });
    let _ = write!(
        s,
        "</tbody></table></div><h2>{}</h2><ol class=\"tasks\" id=\"filings\">",
        lang.m("enterprises-filings")
    );
    for f in &list.items {
        let _ = write!(
            s,
            "<li id=\"f-{id}\" data-status=\"{st}\"><p><strong>{e}</strong> · {c} · {a} · {w} {l_w} · {st}</p><p>{l_m}：{m}</p>",
            id = esc(&f.id),
            st = f.status,
            e = esc(&f.enterprise),
            c = esc(&f.credit_code),
            a = esc(&district_name(&ds, &f.area[..6.min(f.area.len())])),
            w = f.workers,
            l_w = lang.m("enterprises-workers"),
            l_m = lang.m("enterprises-measures"),
            m = esc(&f.measures),
        );
        if f.status == "pending" {
            let _ = write!(
                s,
                r#"<form method="post" action="/web/enterprises/{id}">{csrf}<label for="reason-{id}">{l_r}</label><input id="reason-{id}" name="reason" required maxlength="500"><button type="submit" name="approve" value="1">{l_ok}</button> <button type="submit" name="approve" value="0">{l_back}</button></form>"#,
                id = esc(&f.id),
                csrf = user.csrf_field(),
                l_r = lang.m("common-reasons"),
                l_ok = lang.m("enterprises-approve"),
                l_back = lang.m("enterprises-return"),
            );
        }
        s.push_str("</li>");
    }
    s.push_str("</ol>");
    Ok(layout(
        lang,
        lang.m("enterprises-resumption-filings"),
        Some(user),
        "/web/enterprises",
        &s,
    ))
}

/// `GET /web/enterprises`.
pub async fn list(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    if let Some(r) = user.forbid_unless(enterprise::DECIDERS, "enterprises") {
        return r;
    }
    match page(&state, &user).await {
        Ok(p) => html(StatusCode::OK, p),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// The decision form.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    approve: String,
}

/// `POST /web/enterprises/{id}`: approve or return through the same command as the API.
pub async fn decide(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<DecisionForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(enterprise::DECIDERS, "enterprises") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let done = async {
        let seq = crate::extract::parse_id(&id)?;
        let filing = crate::app::authorise::filing(&state, &user.caller, seq)?;
        let input = DecisionIn {
            approve: f.approve == "1",
            reason: f.reason,
        };
        enterprise::decide(&state, &user.caller, filing, input).await
    }
    .await;
    match done {
        Ok(_) => Redirect::to("/web/enterprises").into_response(),
        Err(e) => error_page(lang, Some(&user), &e),
    }
}
