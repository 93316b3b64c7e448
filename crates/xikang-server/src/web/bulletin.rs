//! The daily bulletin (疫情通报) for any day, in the published form: HTML (printable), plain
//! text and JSON, in Chinese and English. The figures come from
//! [`xikang_domain::bulletin`], answered by the same query as `GET /api/v1/bulletin`
//! ([`crate::api::bulletin_of`]).

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, msg};
use crate::app::Role;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use xikang_domain::CivilDay;
use xikang_domain::bulletin::Bulletin;

/// Who may read the bulletin before it is published: every staff role.
const READERS: &[Role] = &[Role::Admin, Role::Tracer, Role::Lab, Role::GridWorker];

fn iso(day: &str) -> String {
    xikang_domain::bulletin::iso_day(day)
}

/// The bulletin's text in the published form (the domain's wording; English counts agree
/// with their nouns: "1 new local confirmed case").
pub fn text(lang: Lang, b: &Bulletin) -> String {
    xikang_domain::bulletin::text(
        match lang {
            Lang::Zh => xikang_domain::bulletin::Language::Zh,
            Lang::En => xikang_domain::bulletin::Language::En,
        },
        b,
    )
}

#[derive(Debug, Deserialize)]
pub struct BulletinQuery {
    #[serde(default)]
    day: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /web/bulletin?day=YYYY-MM-DD&format=html|txt|json`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Query(q): Query<BulletinQuery>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(READERS, "reading the bulletin") {
        return r;
    }
    let today = crate::now().shanghai_day();
    let day = match q.day.as_deref().filter(|d| !d.is_empty()) {
        None => today,
        Some(d) => match CivilDay::parse(d) {
            Ok(day) if day <= today => day,
            _ => {
                return error_page(
                    lang,
                    Some(&user),
                    &AppError::bad("invalid_day", "day is YYYY-MM-DD, today or earlier"),
                );
            }
        },
    };
    // The same query as `GET /api/v1/bulletin`.
    let b = match crate::api::bulletin_of(&state, &user.caller, day) {
        Ok(b) => b,
        Err(e) => return error_page(lang, Some(&user), &e),
    };
    match q.format.as_deref().unwrap_or("html") {
        "json" => axum::Json(&b).into_response(),
        "txt" => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n{}", text(Lang::Zh, &b), text(Lang::En, &b)),
        )
            .into_response(),
        "html" => {
            let d = iso(&b.day);
            let other = lang.other();
            let row = |text: &'static str, v: u64, id: &str| {
                format!(
                    "<tr><th scope=\"row\">{}</th><td id=\"{id}\">{v}</td></tr>",
                    lang.m(text)
                )
            };
            let body = format!(
                r#"<form method="get" action="/web/bulletin" class="inline noprint"><label for="day">{l_day}</label><input id="day" name="day" type="date" value="{d}" max="{max}"><button type="submit">{l_show}</button></form>
<article class="bulletin"><h2>{title}</h2><p class="pre">{main}</p><p class="pre" lang="{other_html}">{second}</p>
<table><tbody>{r1}{r2}{r3}{r4}{r4b}{r5}{r5b}{r6}{r7}{r8}{r8b}{r9}{r10}{r11}{r12}</tbody></table></article>
<p class="noprint"><a href="/web/bulletin?day={d}&amp;format=txt">{l_txt}</a> · <a href="/web/bulletin?day={d}&amp;format=json">JSON</a></p>"#,
                l_day = lang.m("common-day"),
                max = iso(&today.compact()),
                l_show = lang.m("common-show"),
                title = esc(&format!("{} {d}", lang.m("bulletin-daily-bulletin"))),
                main = esc(&text(lang, &b)),
                other_html = other.html(),
                second = esc(&text(other, &b)),
                r1 = row(
                    msg("bulletin-new-local-confirmed"),
                    b.new_confirmed.local,
                    "new-local-confirmed"
                ),
                r2 = row(
                    msg("bulletin-new-local-asymptomatic"),
                    b.new_asymptomatic.local,
                    "new-local-asymptomatic"
                ),
                r3 = row(
                    msg("bulletin-new-imported-confirmed"),
                    b.new_confirmed.imported,
                    "new-imported-confirmed"
                ),
                r4 = row(
                    msg("bulletin-new-imported-asymptomatic"),
                    b.new_asymptomatic.imported,
                    "new-imported-asymptomatic"
                ),
                r4b = row(
                    msg("bulletin-asymptomatic-reclassified-as"),
                    b.asymptomatic_to_confirmed,
                    "asymptomatic-to-confirmed"
                ),
                r5 = row(msg("bulletin-discharged"), b.discharged, "discharged"),
                r5b = row(msg("bulletin-deaths"), b.deaths, "deaths"),
                r6 = row(
                    msg("bulletin-cumulative-confirmed"),
                    b.cumulative_confirmed,
                    "cumulative-confirmed"
                ),
                r7 = row(
                    msg("bulletin-cumulative-asymptomatic"),
                    b.cumulative_asymptomatic,
                    "cumulative-asymptomatic"
                ),
                r8 = row(
                    msg("bulletin-existing-confirmed"),
                    b.existing_confirmed,
                    "existing-confirmed"
                ),
                r8b = row(
                    msg("bulletin-existing-asymptomatic"),
                    b.existing_asymptomatic,
                    "existing-asymptomatic"
                ),
                r9 = row(
                    msg("bulletin-new-close-contacts"),
                    b.new_close_contacts,
                    "new-close-contacts"
                ),
                r10 = row(
                    msg("bulletin-close-contacts-traced"),
                    b.close_contacts_traced,
                    "close-contacts-traced"
                ),
                r11 = row(
                    msg("bulletin-released-from-observation"),
                    b.close_contacts_released,
                    "close-contacts-released"
                ),
                r12 = row(
                    msg("bulletin-still-under-observation"),
                    b.close_contacts_under_observation,
                    "close-contacts-under-observation"
                ),
                l_txt = lang.m("bulletin-plain-text"),
            );
            html(
                StatusCode::OK,
                layout(
                    lang,
                    lang.m("bulletin-daily-bulletin"),
                    Some(&user),
                    "/web/bulletin",
                    &body,
                ),
            )
        }
        _ => error_page(
            lang,
            Some(&user),
            &AppError::bad("invalid_format", "format is html, txt or json"),
        ),
    }
}
