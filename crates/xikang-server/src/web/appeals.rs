//! Officials' page of appeals (申诉处理): the open appeals of the jurisdiction first, each
//! with an answer form, then the answered ones. Answering goes through the API handler
//! ([`crate::appeal::answer`]), which logs it; the colour is not touched (a wrong fact is
//! corrected where it lives, e.g. on the case page, and the colour follows).

use super::session::WebUser;
use super::{error_page, esc, html, layout, shanghai};
use crate::appeal::{self, Appeal};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;

/// Answered appeals shown below the open ones.
const ANSWERED_SHOWN: usize = 100;

/// A refused answer: the appeal, the message and what was typed.
type Failed<'a> = (&'a str, &'a str, &'a str);

fn page(user: &WebUser, appeals: &[Appeal], failed: Option<Failed<'_>>) -> String {
    let lang = user.lang;
    let open: Vec<&Appeal> = appeals.iter().filter(|a| a.answer.is_none()).collect();
    let mut s = format!(
        "<p id=\"appeal-count\" data-open=\"{n}\">{}</p><p>{}</p>",
        lang.f("appeals-open-count", &[("n", &open.len())]),
        lang.m("appeals-answers-are-recorded-in-the-audit"),
        n = open.len(),
    );
    s.push_str("<ol class=\"tasks\">");
    for a in &open {
        let id = a.id.to_string();
        let (kept, err, aria) = match failed {
            Some((fid, msg, kept)) if fid == id => (
                kept,
                format!(
                    "<p class=\"err\" id=\"answer-{id}-err\" role=\"alert\">{}</p>",
                    esc(msg)
                ),
                format!(" aria-invalid=\"true\" aria-describedby=\"answer-{id}-err\""),
            ),
            _ => ("", String::new(), String::new()),
        };
        let _ = write!(
            s,
            r#"<li class="appeal" id="appeal-{id}"><p><a href="/web/people/{p}">{p}</a> · {at} · {by}</p><p>{l_reason}：{reason}</p>
<form method="post" action="/web/appeals/{id}">{csrf}<label for="answer-{id}">{l_answer}</label>{err}<textarea id="answer-{id}" name="answer" rows="2" required maxlength="{max}"{aria}>{kept}</textarea><button type="submit">{l_go}</button></form></li>"#,
            p = a.person,
            at = esc(&shanghai(a.filed_at)),
            by = esc(&a.filed_by),
            l_reason = lang.m("common-reason"),
            reason = esc(&a.reason),
            csrf = user.csrf_field(),
            l_answer = lang.m("common-answer"),
            max = appeal::MAX_TEXT_CHARS,
            kept = esc(kept),
            l_go = lang.m("appeals-send-the-answer"),
        );
    }
    s.push_str("</ol>");
    let answered: Vec<&Appeal> = appeals
        .iter()
        .filter(|a| a.answer.is_some())
        .take(ANSWERED_SHOWN)
        .collect();
    if !answered.is_empty() {
        let _ = write!(
            s,
            "<h2>{}</h2><ul id=\"answered\">",
            lang.m("common-answered")
        );
        for a in answered {
            if let Some(x) = &a.answer {
                let _ = write!(
                    s,
                    "<li id=\"appeal-{id}\"><a href=\"/web/people/{p}\">{p}</a>：{reason}<br>{l} {text}（{by}，{at}）</li>",
                    id = a.id,
                    p = a.person,
                    reason = esc(&a.reason),
                    l = lang.m("common-answer-2"),
                    text = esc(&x.text),
                    by = esc(&x.by),
                    at = esc(&shanghai(x.at)),
                );
            }
        }
        s.push_str("</ul>");
    }
    layout(
        lang,
        lang.m("appeals-appeals"),
        Some(user),
        "/web/appeals",
        &s,
    )
}

/// `GET /web/appeals`.
pub async fn list(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    if let Some(r) = user.forbid_unless(appeal::ANSWERERS, "appeals") {
        return r;
    }
    match appeal::visible_appeals(&state, &user.caller, false, "GET /web/appeals") {
        Ok(appeals) => html(StatusCode::OK, page(&user, &appeals, None)),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    answer: String,
}

/// `POST /web/appeals/{id}`: answers through the API; back to the list (post/redirect/get),
/// or the list with the refusal next to that answer and the text kept.
pub async fn answer(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(appeal::ANSWERERS, "appeals") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let answered = match appeal::parse_appeal_id(&id) {
        Some(seq) => match crate::app::authorise::appeal(&state, &user.caller, seq) {
            Ok(a) => appeal::answer_appeal(&state, &user.caller, a, &f.answer).await,
            Err(e) => Err(e),
        },
        None => Err(AppError::bad(
            "invalid_appeal_id",
            "an appeal id looks like E12",
        )),
    };
    match answered {
        Ok(_) => Redirect::to("/web/appeals").into_response(),
        Err(e) => {
            let (status, code, msg) = e.summary();
            let appeals = appeal::visible_appeals(&state, &user.caller, false, "GET /web/appeals")
                .unwrap_or_default();
            if status.is_client_error()
                && appeals
                    .iter()
                    .any(|a| a.answer.is_none() && a.id.to_string() == id)
            {
                let message = super::i18n::error_text(lang, code, &msg);
                html(
                    status,
                    page(&user, &appeals, Some((&id, &message, &f.answer))),
                )
            } else {
                error_page(lang, Some(&user), &e)
            }
        }
    }
}
