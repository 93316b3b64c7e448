//! The first web page: look a person up with a staff token and see their code as a QR and
//! the explanation of its colour. Server-rendered HTML, no script, no CDN: a plain form post
//! (the token travels in the body, never in a URL), served with the same security headers
//! as the web interface ([`crate::web::html`]: no caching, no framing, a strict CSP) and its
//! stylesheet. A person who does not exist and one outside the token's jurisdiction get the
//! same answer, so the page cannot be used to learn who exists elsewhere.

use crate::auth::authenticate;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::Colour;
use xikang_domain::PersonId;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document as an element to inline in HTML (without its XML prolog).
fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

fn page(body: &str) -> Response {
    crate::web::html(
        StatusCode::OK,
        format!(
            r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>锡康 xikang</title><link rel="stylesheet" href="/web/static/style.css"></head>
<body><main id="main"><h1>锡康码查询 <small>Health code lookup</small></h1>{body}</main></body></html>"#
        ),
    )
}

const FORM: &str = r#"<form method="post" action="/lookup">
<label for="token">工作人员令牌 Staff token</label><input id="token" name="token" type="password" autocomplete="off" required>
<label for="person">人员编号 Person id (e.g. P12)</label><input id="person" name="person" required>
<button type="submit">查询 Look up</button></form>
<p><a href="/web/login">工作人员与居民登录 Log in to the web pages</a></p>"#;

/// `GET /`: the lookup form.
pub async fn index() -> Response {
    page(FORM)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LookupForm {
    token: String,
    person: String,
}

/// `POST /lookup`: the person's code, QR and explanation.
pub async fn lookup(State(state): State<Arc<AppState>>, Form(f): Form<LookupForm>) -> Response {
    match render(&state, &f).await {
        Ok(html) => page(&html),
        Err(e) => page(&format!("<p class=\"err\">{}</p>{FORM}", esc(&e))),
    }
}

async fn render(state: &AppState, f: &LookupForm) -> Result<String, String> {
    let now = crate::now();
    let caller = authenticate(state, &f.token, now)
        .await
        .map_err(|e| match e {
            AppError::Unauthorized | AppError::TokenRefused { .. } => {
                "令牌无效 Unknown, expired or revoked token".to_owned()
            }
            other => {
                tracing::error!(error = ?other, "token lookup failed");
                "内部错误 internal error".to_owned()
            }
        })?;
    let person =
        PersonId::parse(f.person.trim()).ok_or("人员编号格式错误 A person id looks like P12")?;
    // One answer for "no such person" and "not yours to see".
    const NOT_VISIBLE: &str = "您的辖区内查无此人 No such person in your jurisdiction";
    if !crate::app::authorise::person_visible(state, &caller, person) {
        return Err(NOT_VISIBLE.into());
    }
    state
        .access
        .record(&caller, "POST /lookup", None, now, [person])
        .map_err(|_| "服务繁忙 busy, retry".to_owned())?;
    let (eval, _) = state.evaluate(person, now).ok_or(NOT_VISIBLE)?;
    let code = state.code(person, &eval, now);
    let class = match eval.colour {
        Colour::Green => "green",
        Colour::Yellow => "yellow",
        Colour::Red => "red",
    };
    let mut html = String::new();
    let _ = write!(
        html,
        "<div class=\"code {class}\"><h2>{} {}</h2><p>{}</p><p>{}</p><div class=\"qr\">{}</div><p>有效期至 valid until {}</p></div>",
        eval.colour.zh(),
        esc(eval.colour.as_str()),
        esc(&eval.explanation_zh),
        esc(&eval.explanation_en),
        inline_svg(&xikang_code::qr_svg(&code.token)),
        esc(&code.claims.expires_at.to_rfc3339()),
    );
    match eval.test_age_days {
        Some(d) => {
            let _ = write!(
                html,
                "<p>核酸天数 Days since last negative test: <strong>{d}</strong></p>"
            );
        }
        None => html.push_str("<p>无核酸阴性记录 No negative test on record</p>"),
    }
    if !eval.fired.is_empty() {
        html.push_str("<h3>依据 Rules applied</h3><ul>");
        for r in &eval.fired {
            let _ = write!(
                html,
                "<li>{} — {} <small>({}, {})</small></li>",
                esc(&r.zh),
                esc(&r.en),
                esc(&r.rule),
                r.event
            );
        }
        html.push_str("</ul>");
    }
    if !eval.to_green.is_empty() {
        html.push_str("<h3>转绿条件 Back to green</h3><ul>");
        for s in &eval.to_green {
            let _ = write!(html, "<li>{} — {}</li>", esc(&s.zh), esc(&s.en));
        }
        html.push_str("</ul>");
        if let Some(t) = eval.earliest_green {
            let _ = write!(
                html,
                "<p>最早转绿 Earliest green: {}</p>",
                esc(&t.to_rfc3339())
            );
        }
    }
    let _ = write!(
        html,
        "<p><small>政策版本 Policy {}</small></p>{FORM}",
        esc(&eval.policy_version)
    );
    Ok(html)
}
