//! Staff's page of the message board (留言办理, `/web/messages`, docs/citizens.md): the
//! messages of the admin's area, newest first, filtered by status, each with its deadline
//! and the actions its status allows — accept, reply (and close), transfer, close. Every
//! action goes through [`crate::board::messages::act`], which logs it.

use super::board::{district_name, districts};
use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, shanghai};
use crate::board::messages::{self, ActIn, ListQuery, MessageOut};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::AreaCode;
use xikang_domain::board::{Category, Department, MessageAction, MessageStatus};

fn status_name(lang: Lang, s: &str) -> &'static str {
    match MessageStatus::parse(s) {
        Some(MessageStatus::New) => lang.m("messages-new"),
        Some(MessageStatus::Accepted) => lang.m("messages-accepted"),
        Some(MessageStatus::Replied) => lang.m("messages-replied"),
        Some(MessageStatus::Closed) => lang.m("messages-closed"),
        None => "",
    }
}

fn filters(lang: Lang, status: &str) -> String {
    let mut s = format!(
        "<form method=\"get\" action=\"/web/messages\" class=\"filters\"><label for=\"f-status\">{}</label><select id=\"f-status\" name=\"status\"><option value=\"\">{}</option>",
        lang.m("common-status"),
        lang.m("common-all")
    );
    for st in ["new", "accepted", "replied", "closed"] {
        let _ = write!(
            s,
            "<option value=\"{st}\"{}>{}</option>",
            if st == status { " selected" } else { "" },
            status_name(lang, st)
        );
    }
    let _ = write!(
        s,
        "</select> <button type=\"submit\">{}</button> <a href=\"/web/export/messages?format=csv\">{}</a> <a href=\"/web/export/messages?format=xlsx\">XLSX</a></form>",
        lang.m("common-filter"),
        lang.m("common-export-csv"),
    );
    s
}

fn actions(user: &WebUser, m: &MessageOut, ds: &[(AreaCode, String)]) -> String {
    let lang = user.lang;
    let id = esc(&m.id);
    let csrf = user.csrf_field();
    let Some(status) = MessageStatus::parse(m.status) else {
        return String::new();
    };
    let mut s = String::new();
    if status.allows(MessageAction::Accept) {
        let _ = write!(
            s,
            "<form method=\"post\" action=\"/web/messages/{id}/accept\">{csrf}<button type=\"submit\">{}</button></form>",
            lang.m("messages-accept")
        );
    }
    if status.allows(MessageAction::Reply) {
        let _ = write!(
            s,
            r#"<form method="post" action="/web/messages/{id}/reply">{csrf}<label for="reply-{id}">{l}</label><textarea id="reply-{id}" name="text" rows="3" required maxlength="2000"></textarea><label class="check"><input type="checkbox" name="close" value="1" checked> {l_close}</label><button type="submit">{l_go}</button></form>"#,
            l = lang.m("messages-reply-public-numbers-are-masked"),
            l_close = lang.m("messages-close-it-too"),
            l_go = lang.m("messages-send-the-reply"),
        );
    }
    if status.allows(MessageAction::Transfer) {
        let mut deps = String::new();
        for d in Department::ALL {
            let _ = write!(
                deps,
                "<option value=\"{}\"{}>{}</option>",
                d.as_str(),
                if d.as_str() == m.department {
                    " selected"
                } else {
                    ""
                },
                lang.supplied(d.zh(), d.en())
            );
        }
        let mut areas = format!("<option value=\"\">{}</option>", lang.m("messages-same"));
        for (d, n) in ds {
            let _ = write!(areas, "<option value=\"{d}\">{}</option>", esc(n));
        }
        let _ = write!(
            s,
            r#"<details><summary>{l_more}</summary><form method="post" action="/web/messages/{id}/transfer">{csrf}<label for="dep-{id}">{l_dep}</label><select id="dep-{id}" name="department">{deps}</select><label for="dis-{id}">{l_dis}</label><select id="dis-{id}" name="district">{areas}</select><label for="why-{id}">{l_why}</label><input id="why-{id}" name="text" required maxlength="2000"><button type="submit">{l_go}</button></form>
<form method="post" action="/web/messages/{id}/close">{csrf}<label for="close-{id}">{l_close}</label><input id="close-{id}" name="text" required maxlength="2000"><button type="submit">{l_close_go}</button></form></details>"#,
            l_more = lang.m("messages-transfer-or-close"),
            l_dep = lang.m("messages-department"),
            l_dis = lang.m("messages-to-district"),
            l_why = lang.m("messages-reason-for-the-transfer"),
            l_go = lang.m("messages-transfer"),
            l_close = lang.m("messages-why-it-is-closed"),
            l_close_go = lang.m("messages-close"),
        );
    }
    s
}

fn page(
    user: &WebUser,
    list: &messages::PageOut<MessageOut>,
    status: &str,
    ds: &[(AreaCode, String)],
) -> String {
    let lang = user.lang;
    let mut s = format!(
        "<p id=\"message-count\" data-total=\"{n}\">{}</p>{}",
        lang.f("messages-count", &[("n", &list.total)]),
        filters(lang, status),
        n = list.total,
    );
    s.push_str("<ol class=\"tasks\" id=\"messages\">");
    for m in &list.items {
        let cat = Category::parse(m.category).map_or("", |c| lang.supplied(c.zh(), c.en()));
        let dep = Department::parse(m.department).map_or("", |d| lang.supplied(d.zh(), d.en()));
        let due = xikang_domain::Timestamp::parse_rfc3339(&m.due_at)
            .map(shanghai)
            .unwrap_or_default();
        let flags = match (m.overdue, m.escalated) {
            (_, true) => lang.m("messages-escalated"),
            (true, false) => lang.m("messages-overdue"),
            _ => "",
        };
        let _ = write!(
            s,
            r#"<li class="message" id="m-{id}" data-status="{st}"><h2>{title}</h2><p class="meta">{id} · {cat} · {dep} · {area} · {status} · {l_due} {due}{flags}</p><p>{text}</p>{reply}{actions}</li>"#,
            id = esc(&m.id),
            st = m.status,
            title = esc(&m.title),
            area = esc(&district_name(ds, &m.area)),
            status = status_name(lang, m.status),
            l_due = lang.m("messages-due"),
            text = esc(&m.text),
            reply = m.reply.as_ref().map_or(String::new(), |r| format!(
                "<p class=\"reply\">{} {}</p>",
                lang.m("messages-reply"),
                esc(r)
            )),
            actions = actions(user, m, ds),
        );
    }
    s.push_str("</ol>");
    let pages = list.total.div_ceil(list.page_size).max(1);
    if list.page < pages {
        let _ = write!(
            s,
            "<p><a href=\"/web/messages?status={status}&amp;page={}\">{}</a></p>",
            list.page + 1,
            lang.m("messages-next-page")
        );
    }
    layout(
        lang,
        lang.m("messages-message-board"),
        Some(user),
        "/web/messages",
        &s,
    )
}

async fn show(state: &AppState, user: &WebUser, q: ListQuery) -> Response {
    let status = q.status.clone().unwrap_or_default();
    match messages::staff_list(state, &user.caller, &q) {
        Ok(list) => {
            let ds = districts(state).await;
            html(StatusCode::OK, page(user, &list, &status, &ds))
        }
        Err(e) => error_page(user.lang, Some(user), &e),
    }
}

/// `GET /web/messages?status=&page=`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Some(r) = user.forbid_unless(messages::ANSWERERS, "the message board") {
        return r;
    }
    show(&state, &user, q).await
}

/// An action's form.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    department: Option<String>,
    #[serde(default)]
    district: Option<String>,
    #[serde(default)]
    close: Option<String>,
}

/// `POST /web/messages/{id}/{action}`: the action through the same command as the API
/// (a reply with "close it too" is two events: the reply, then the closing); back to the
/// list, or an error page.
pub async fn act(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(messages::ANSWERERS, "the message board") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let action = match messages::action_of(&action) {
        Ok(a) => a,
        Err(e) => return error_page(lang, Some(&user), &e),
    };
    let done = async {
        let seq = crate::extract::parse_id(&id)?;
        let m = crate::app::authorise::message(&state, &user.caller, seq)?;
        let close_too = action == MessageAction::Reply && f.close.is_some();
        let reply = f.text.clone();
        messages::act(
            &state,
            &user.caller,
            m,
            action,
            ActIn {
                text: f.text,
                department: f.department,
                district: f.district,
            },
        )
        .await?;
        if close_too {
            let m = crate::app::authorise::message(&state, &user.caller, seq)?;
            messages::act(
                &state,
                &user.caller,
                m,
                MessageAction::Close,
                ActIn {
                    text: reply,
                    ..ActIn::default()
                },
            )
            .await?;
        }
        Ok::<(), AppError>(())
    }
    .await;
    match done {
        Ok(()) => Redirect::to("/web/messages").into_response(),
        Err(e) => error_page(lang, Some(&user), &e),
    }
}
