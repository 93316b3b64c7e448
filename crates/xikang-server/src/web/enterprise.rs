//! An enterprise's own page (`/web/enterprise`, docs/citizens.md), zh-CN and English: its
//! filings to resume work with how many of each one's workers are green (and each worker's
//! colour by line, where the policy allows it), its posts on the supply–demand board with
//! a form to post and a button to close, and the commuter passes it is the employer of.
//! Everything is read and written through the API's functions, as the account
//! ([`crate::app::Role::Enterprise`]): it never sees another enterprise's filings, workers
//! or passes.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, shanghai, thead};
use crate::app::{Role, authorise};
use crate::board::enterprise::{self, FilingsQuery};
use crate::board::exchange::{self, PostIn};
use crate::error::AppError;
use crate::state::{AppState, read};
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;

fn colour_name(lang: Lang, c: xikang_domain::Colour) -> &'static str {
    match c {
        xikang_domain::Colour::Green => lang.m("enterprise-green"),
        xikang_domain::Colour::Yellow => lang.m("enterprise-yellow"),
        xikang_domain::Colour::Red => lang.m("enterprise-red"),
    }
}

async fn body(state: &AppState, user: &WebUser) -> Result<String, AppError> {
    user.caller
        .require(&[Role::Enterprise], "the enterprise page")?;
    let lang = user.lang;
    let code = code_of(user);
    let filings = enterprise::filings(state, &user.caller, &FilingsQuery::default())?;
    let mut s = format!(
        "<p id=\"credit-code\">{} {}</p>",
        lang.m("enterprise-unified-social-credit-code"),
        esc(&code)
    );
    let _ = write!(
        s,
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"filings-cap\"><table id=\"filings\"><caption id=\"filings-cap\">{}</caption>{}<tbody>",
        lang.m("enterprise-filings-to-resume-work"),
        thead(&[
            lang.m("common-no"),
            lang.m("enterprise-filed"),
            lang.m("common-state"),
            lang.m("common-reasons"),
            lang.m("enterprise-workers"),
            lang.m("enterprise-green-today"),
        ])
    );
    for f in &filings.items {
        let seq = crate::extract::parse_id(&f.id)?;
        let g = enterprise::green(state, &user.caller, seq)?;
        let mut green = format!("{} / {}", g.green, g.workers);
        if let Some(colours) = &g.colours {
            let each: Vec<String> = colours
                .iter()
                .map(|w| format!("{} {}", w.line, colour_name(lang, w.colour)))
                .collect();
            let _ = write!(green, " ({})", each.join(", "));
        }
        let status = match f.status {
            "approved" => lang.m("enterprise-approved"),
            "returned" => lang.m("enterprise-returned"),
            _ => lang.m("enterprise-pending"),
        };
        let _ = write!(
            s,
            "<tr data-status=\"{st}\"><td>{id}</td><td>{at}</td><td>{status}</td><td>{r}</td><td>{w}</td><td class=\"green\">{g}</td></tr>",
            st = f.status,
            id = esc(&f.id),
            at = esc(&xikang_domain::Timestamp::parse_rfc3339(&f.filed_at)
                .map_or_else(|_| f.filed_at.clone(), shanghai)),
            r = esc(f.reason.as_deref().unwrap_or("")),
            w = f.workers,
            g = esc(&green),
        );
    }
    s.push_str("</tbody></table></div>");

    // Its open posts, with the close button, then the form.
    let board = read(&state.projection.board);
    let _ = write!(
        s,
        "<h2 id=\"exchange-h\">{}</h2><ul id=\"posts\">",
        lang.m("enterprise-supply-demand-board")
    );
    for p in board
        .exchange
        .iter()
        .rev()
        .filter(|p| p.closed_at.is_none() && user.caller.is_enterprise(&p.credit_code))
    {
        let _ = write!(
            s,
            r#"<li>{kind} · {item} × {q} <form method="post" action="/web/enterprise/exchange/{id}/close" class="inline">{csrf}<button type="submit" aria-label="{close} {item}">{close}</button></form></li>"#,
            kind = if p.offer {
                lang.m("enterprise-offer")
            } else {
                lang.m("enterprise-need")
            },
            item = esc(&p.item),
            q = p.quantity,
            id = p.id,
            csrf = user.csrf_field(),
            close = lang.m("enterprise-close"),
        );
    }
    drop(board);
    let _ = write!(
        s,
        r#"</ul><form method="post" action="/web/enterprise/exchange" class="narrow">{csrf}
<label for="kind">{l_kind}</label><select id="kind" name="kind"><option value="need">{need}</option><option value="offer">{offer}</option></select>
<label for="item">{l_item}</label><input id="item" name="item" required maxlength="100">
<label for="quantity">{l_q}</label><input id="quantity" name="quantity" required inputmode="numeric" pattern="[0-9]+">
<button type="submit">{go}</button></form>"#,
        csrf = user.csrf_field(),
        l_kind = lang.m("common-kind"),
        need = lang.m("enterprise-need"),
        offer = lang.m("enterprise-offer"),
        l_item = lang.m("enterprise-item"),
        l_q = lang.m("enterprise-quantity"),
        go = lang.m("enterprise-post"),
    );

    // The passes it is the employer of.
    let now = crate::now();
    let passes: Vec<crate::cities::Pass> = read(&state.projection.cities)
        .passes
        .values()
        .filter(|p| authorise::pass_visible(state, &user.caller, p))
        .cloned()
        .collect();
    let _ = write!(
        s,
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"passes-cap\"><table id=\"passes\"><caption id=\"passes-cap\">{}</caption>{}<tbody>",
        lang.m("common-commuter-passes"),
        thead(&[
            lang.m("common-no"),
            lang.m("common-holder"),
            lang.m("common-state"),
            lang.m("enterprise-valid-until"),
        ])
    );
    for p in &passes {
        let status = serde_json::to_value(p.status(now))
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.id,
            p.person,
            esc(&status),
            esc(&shanghai(p.valid_until)),
        );
    }
    s.push_str("</tbody></table></div>");
    Ok(s)
}

/// `GET /web/enterprise`.
pub async fn page(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    match body(&state, &user).await {
        Ok(b) => html(
            StatusCode::OK,
            layout(
                user.lang,
                user.lang.m("common-my-enterprise"),
                Some(&user),
                "/web/enterprise",
                &b,
            ),
        ),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// The post form.
#[derive(Debug, Deserialize)]
pub struct PostForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    quantity: String,
}

/// `POST /web/enterprise/exchange`: posts a need or offer as the enterprise.
pub async fn post_exchange(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<PostForm>,
) -> Response {
    let done = async {
        checked(&user, &f.csrf)?;
        let quantity = f
            .quantity
            .trim()
            .parse()
            .map_err(|_| AppError::bad("invalid_item", "the quantity is a whole number"))?;
        exchange::post(
            &state,
            &user.caller,
            PostIn {
                credit_code: code_of(&user),
                kind: f.kind,
                item: f.item,
                quantity,
            },
        )
        .await
    }
    .await;
    back(&user, done)
}

/// The enterprise's own form: its session's CSRF token, and its role.
fn checked(user: &WebUser, csrf: &str) -> Result<(), AppError> {
    user.check_csrf(csrf)?;
    user.caller
        .require(&[Role::Enterprise], "the enterprise page")
}

/// Back to the page after an action, or the refusal.
fn back<T>(user: &WebUser, done: Result<T, AppError>) -> Response {
    match done {
        Ok(_) => Redirect::to("/web/enterprise").into_response(),
        Err(e) => error_page(user.lang, Some(user), &e),
    }
}

/// The account's credit code.
fn code_of(user: &WebUser) -> String {
    user.caller
        .enterprise
        .as_ref()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

/// The close button's form.
#[derive(Debug, Deserialize)]
pub struct CloseForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /web/enterprise/exchange/{id}/close`.
pub async fn close_exchange(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<CloseForm>,
) -> Response {
    let done = async {
        checked(&user, &f.csrf)?;
        let id = crate::extract::parse_id(&id)?;
        exchange::close(&state, &user.caller, id).await
    }
    .await;
    back(&user, done)
}
