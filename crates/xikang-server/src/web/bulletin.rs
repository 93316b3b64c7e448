//! The daily bulletin (疫情通报) for any day, in the published form: HTML (printable), plain
//! text and JSON, in Chinese and English. The figures come from
//! [`xikang_domain::bulletin`], answered by the same query as `GET /api/v1/bulletin`
//! ([`crate::api::bulletin_of`]).

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout};
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
            let row = |zh: &str, en: &str, v: u64, id: &str| {
                format!(
                    "<tr><th scope=\"row\">{}</th><td id=\"{id}\">{v}</td></tr>",
                    lang.t(zh, en)
                )
            };
            let body = format!(
                r#"<form method="get" action="/web/bulletin" class="inline noprint"><label for="day">{l_day}</label><input id="day" name="day" type="date" value="{d}" max="{max}"><button type="submit">{l_show}</button></form>
<article class="bulletin"><h2>{title}</h2><p class="pre">{main}</p><p class="pre" lang="{other_html}">{second}</p>
<table><tbody>{r1}{r2}{r3}{r4}{r4b}{r5}{r5b}{r6}{r7}{r8}{r8b}{r9}{r10}{r11}{r12}</tbody></table></article>
<p class="noprint"><a href="/web/bulletin?day={d}&amp;format=txt">{l_txt}</a> · <a href="/web/bulletin?day={d}&amp;format=json">JSON</a></p>"#,
                l_day = lang.t("日期", "Day"),
                max = iso(&today.compact()),
                l_show = lang.t("查看", "Show"),
                title = esc(&format!("{} {d}", lang.t("疫情通报", "Daily bulletin"))),
                main = esc(&text(lang, &b)),
                other_html = other.html(),
                second = esc(&text(other, &b)),
                r1 = row(
                    "新增本土确诊",
                    "New local confirmed",
                    b.new_confirmed.local,
                    "new-local-confirmed"
                ),
                r2 = row(
                    "新增本土无症状",
                    "New local asymptomatic",
                    b.new_asymptomatic.local,
                    "new-local-asymptomatic"
                ),
                r3 = row(
                    "新增输入确诊",
                    "New imported confirmed",
                    b.new_confirmed.imported,
                    "new-imported-confirmed"
                ),
                r4 = row(
                    "新增输入无症状",
                    "New imported asymptomatic",
                    b.new_asymptomatic.imported,
                    "new-imported-asymptomatic"
                ),
                r4b = row(
                    "无症状转确诊",
                    "Asymptomatic reclassified as confirmed",
                    b.asymptomatic_to_confirmed,
                    "asymptomatic-to-confirmed"
                ),
                r5 = row("治愈出院", "Discharged", b.discharged, "discharged"),
                r5b = row("死亡", "Deaths", b.deaths, "deaths"),
                r6 = row(
                    "累计确诊",
                    "Cumulative confirmed",
                    b.cumulative_confirmed,
                    "cumulative-confirmed"
                ),
                r7 = row(
                    "累计无症状",
                    "Cumulative asymptomatic",
                    b.cumulative_asymptomatic,
                    "cumulative-asymptomatic"
                ),
                r8 = row(
                    "现有确诊",
                    "Existing confirmed",
                    b.existing_confirmed,
                    "existing-confirmed"
                ),
                r8b = row(
                    "现有无症状",
                    "Existing asymptomatic",
                    b.existing_asymptomatic,
                    "existing-asymptomatic"
                ),
                r9 = row(
                    "新增密接",
                    "New close contacts",
                    b.new_close_contacts,
                    "new-close-contacts"
                ),
                r10 = row(
                    "累计追踪密接",
                    "Close contacts traced",
                    b.close_contacts_traced,
                    "close-contacts-traced"
                ),
                r11 = row(
                    "已解除医学观察",
                    "Released from observation",
                    b.close_contacts_released,
                    "close-contacts-released"
                ),
                r12 = row(
                    "尚在医学观察",
                    "Still under observation",
                    b.close_contacts_under_observation,
                    "close-contacts-under-observation"
                ),
                l_txt = lang.t("纯文本", "Plain text"),
            );
            html(
                StatusCode::OK,
                layout(
                    lang,
                    lang.t("疫情通报", "Daily bulletin"),
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
