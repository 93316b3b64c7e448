//! A tracer's decisions on the case page: one workflow step for one contact (confirm →
//! notify → quarantine, or dismiss with a reason), or one decision for every ticked contact.
//! Each goes through `trace::decide_contact`, so each is the authority event the API writes.

use super::{Filter, MAX_BULK, TRACERS, render_case};

use crate::state::AppState;
use crate::trace;
use crate::web::session::WebUser;
use crate::web::{Lang, error_page, i18n};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    site: String,
}

/// `POST /web/cases/{id}/contacts/{person}`: one workflow step.
pub async fn act(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path((id, person)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(TRACERS, "tracing") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let mut body = json!({"action": f.action});
    if !f.reason.trim().is_empty() {
        body["reason"] = json!(f.reason.trim());
    }
    if !f.site.trim().is_empty() {
        body["site"] = json!(f.site.trim());
    }
    let done = async {
        let case = trace::visible_case(&state, &user.caller, &id)?;
        let person = crate::api::visible_person(&state, &user.caller, &person)?;
        let b = crate::json::from_value::<trace::ActionIn>(body)?;
        trace::decide_contact(&state, &user.caller, case, person, b).await
    }
    .await;
    match done {
        Ok(_) => Redirect::to(&format!("/web/cases/{id}#contacts")).into_response(),
        Err(e) => {
            let (status, code, msg) = e.summary();
            if status.is_server_error() || code == "forbidden" {
                return error_page(lang, Some(&user), &e);
            }
            let mut r = render_case(
                &state,
                &user,
                &id,
                0,
                Filter::default(),
                Some((
                    false,
                    format!("{person}: {}", i18n::error_text(lang, code, &msg)),
                )),
            )
            .await;
            *r.status_mut() = status;
            r
        }
    }
}

/// `POST /web/cases/{id}/contacts`: one decision (confirm, or dismiss with one reason) for
/// every person ticked in the list, each through the same `trace::decide_contact` a row's
/// button uses (so each is its own authority event, authorised on its own). A person whose
/// step is refused is named in the notice with the reason; the others are done. A dismissal
/// without a reason, no selection, an unknown action or too many people change nothing.
pub async fn bulk(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(TRACERS, "tracing") {
        return r;
    }
    let field = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    };
    if let Err(e) = user.check_csrf(field("csrf")) {
        return error_page(lang, Some(&user), &e);
    }
    let action = field("action");
    let reason = field("reason").trim().to_owned();
    let mut persons: Vec<&str> = pairs
        .iter()
        .filter(|(n, _)| n == "person")
        .map(|(_, v)| v.as_str())
        .collect();
    persons.dedup();
    let refusal = if persons.is_empty() {
        Some(lang.m("tracer-no-contact-was-selected"))
    } else if persons.len() > MAX_BULK {
        Some(lang.m("tracer-at-most-500-people-at-once"))
    } else if action != "confirm" && action != "dismiss" {
        Some(lang.m("tracer-a-bulk-action-is-confirm-or-dismiss"))
    } else if action == "dismiss" && reason.is_empty() {
        Some(lang.m("tracer-dismissing-needs-a-reason"))
    } else {
        None
    };
    if let Some(msg) = refusal {
        let mut r = render_case(
            &state,
            &user,
            &id,
            0,
            Filter::default(),
            Some((false, msg.to_owned())),
        )
        .await;
        *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return r;
    }
    let mut body = json!({ "action": action });
    if action == "dismiss" {
        body["reason"] = json!(reason);
    }
    let (mut done, mut failed) = (0usize, Vec::new());
    for p in &persons {
        let step = async {
            let case = trace::visible_case(&state, &user.caller, &id)?;
            let person = crate::api::visible_person(&state, &user.caller, p)?;
            let b = crate::json::from_value::<trace::ActionIn>(body.clone())?;
            trace::decide_contact(&state, &user.caller, case, person, b).await
        }
        .await;
        match step {
            Ok(_) => done += 1,
            Err(e) => {
                let (status, code, msg) = e.summary();
                if status.is_server_error() {
                    return error_page(lang, Some(&user), &e);
                }
                failed.push(format!("{p}: {}", i18n::error_text(lang, code, &msg)));
            }
        }
    }
    let mut msg = match (lang, action) {
        (Lang::Zh, "confirm") => format!("已确认 {done} 人"),
        (Lang::Zh, _) => format!("已排除 {done} 人"),
        (Lang::En, "confirm") => format!("{done} confirmed"),
        (Lang::En, _) => format!("{done} dismissed"),
    };
    if !failed.is_empty() {
        msg.push_str(lang.m("tracer-not-done"));
        msg.push_str(&failed.join(lang.m("common-list-separator")));
    }
    render_case(
        &state,
        &user,
        &id,
        0,
        Filter::default(),
        Some((failed.is_empty(), msg)),
    )
    .await
}
