//! The sampling site's page: scan the tube's barcode, then each person's code (a scanner
//! gun types the code and Enter, which starts the next line; pasting a list works the same)
//! and bind them all to the tube; seal the tube when it is done. Binding and sealing go
//! through the API's `samples` and `tubes/seal` handlers, so every swab is checked (known
//! person, open tube of a site in the jurisdiction, not sampled twice) exactly as there.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout};
use crate::app::Role;
use crate::lab;
use crate::lab::http::SampleIn;
use crate::state::AppState;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::testing::TubeBarcode;

const SAMPLERS: &[Role] = &[Role::Lab, Role::Admin];

/// Codes accepted in one form (a 20-in-1 tube needs 20; the API takes more).
const MAX_CODES: usize = 200;

/// What the sampler scanned, kept when it is refused.
#[derive(Debug, Default, Deserialize)]
pub struct BindForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tube: String,
    #[serde(default)]
    codes: String,
    /// `bind` (default) or `seal`.
    #[serde(default)]
    action: String,
}

/// One scanned line as a sample: a health code, or an 18-character ID number typed in
/// where a code cannot be scanned (the API allows that only to users with ID lookup).
fn sample_of(tube: &str, line: &str) -> SampleIn {
    let is_id = line.len() == 18
        && line
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 17 && (b == b'X' || b == b'x')));
    let (token, id_number) = if is_id {
        (None, Some(line.to_owned()))
    } else {
        (Some(line.to_owned()), None)
    };
    SampleIn {
        tube: tube.to_owned(),
        token,
        id_number,
    }
}

fn form(user: &WebUser, tube: &str, codes: &str, errors: &[(&str, String)]) -> String {
    let lang = user.lang;
    let field = |name: &str| -> (String, String) {
        match errors.iter().find(|(f, _)| *f == name) {
            Some((_, msg)) => (
                format!(" aria-invalid=\"true\" aria-describedby=\"{name}-err\""),
                format!(
                    "<p class=\"err\" id=\"{name}-err\" role=\"alert\">{}</p>",
                    esc(msg)
                ),
            ),
            None => (String::new(), String::new()),
        }
    };
    let (tube_aria, tube_err) = field("tube");
    let (codes_aria, codes_err) = field("codes");
    format!(
        r#"<form method="post" action="/web/sampling" class="scan">{csrf}
<label for="tube">{l_tube}</label><input id="tube" name="tube" required autocomplete="off" value="{tube}"{tube_aria}>{tube_err}
<label for="codes">{l_codes}</label><textarea id="codes" name="codes" rows="8" autocomplete="off" aria-describedby="codes-help"{codes_aria}>{codes}</textarea>{codes_err}
<small id="codes-help">{help}</small>
<div><button type="submit" name="action" value="bind">{l_bind}</button> <button type="submit" name="action" value="seal">{l_seal}</button></div></form>"#,
        csrf = user.csrf_field(),
        l_tube = lang.m("sampling-tube-barcode"),
        tube = esc(tube),
        l_codes = lang.m("sampling-health-codes-scanner-gun-or-paste"),
        codes = esc(codes),
        help = lang.m("sampling-a-scanner-gun-starts-a-new-line"),
        l_bind = lang.m("sampling-bind-to-the-tube"),
        l_seal = lang.m("sampling-seal-the-tube"),
    )
}

/// The tube as it stands: swabs in it against its capacity, and its state.
fn tube_status(state: &AppState, lang: Lang, tube: &str) -> String {
    let Some((t, members)) = TubeBarcode::parse(tube)
        .ok()
        .and_then(|b| lab::tube(state, &b))
    else {
        return String::new();
    };
    let (cap, st) = (t.capacity, t.state.as_str());
    format!(
        "<p id=\"tube-status\" data-members=\"{members}\" data-capacity=\"{cap}\" data-state=\"{st}\">{}</p>",
        lang.f(
            "sampling-tube-status",
            &[
                ("tube", &esc(tube)),
                ("members", &members),
                ("capacity", &cap),
                ("state", &st),
            ],
        ),
    )
}

fn page(
    state: &AppState,
    user: &WebUser,
    status: StatusCode,
    top: &str,
    form: &str,
    tube: &str,
) -> Response {
    let body = format!("{top}{}{form}", tube_status(state, user.lang, tube));
    html(
        status,
        layout(
            user.lang,
            user.lang.m("common-sampling-site"),
            Some(user),
            "/web/sampling",
            &body,
        ),
    )
}

/// `GET /web/sampling`.
pub async fn sampling_page(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    if let Some(r) = user.forbid_unless(SAMPLERS, "binding samples to tubes") {
        return r;
    }
    page(
        &state,
        &user,
        StatusCode::OK,
        "",
        &form(&user, "", "", &[]),
        "",
    )
}

/// `POST /web/sampling`: bind the scanned codes to the tube, or seal it.
pub async fn bind(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<BindForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(SAMPLERS, "binding samples to tubes") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let tube = f.tube.trim().to_owned();
    let codes: Vec<&str> = f
        .codes
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let refuse = |status: StatusCode, field: &'static str, msg: String| {
        page(
            &state,
            &user,
            status,
            "",
            &form(&user, &tube, &f.codes, &[(field, msg)]),
            &tube,
        )
    };
    if let Err(e) = TubeBarcode::parse(&tube) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "tube",
            super::i18n::error_text(lang, e.code(), &e.to_string()),
        );
    }
    if f.action == "seal" {
        let answer = lab::http::seal_tubes(&state, &user.caller, vec![tube.clone()]).await;
        let refusal: Option<(StatusCode, String, String)> = match answer {
            Ok(mut r) => match r.pop() {
                Some(Ok(_)) => None,
                // One tube, refused: the batch's 422, named by the tube's own refusal.
                Some(Err(e)) => Some((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    e.code.to_owned(),
                    e.message,
                )),
                None => Some((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal".to_owned(),
                    String::new(),
                )),
            },
            Err(e) => {
                let (status, code, msg) = e.summary();
                Some((status, code.to_owned(), msg))
            }
        };
        return match refusal {
            None => page(
                &state,
                &user,
                StatusCode::OK,
                &format!(
                    "<p class=\"ok\" role=\"status\" id=\"sealed\">{} {}</p>",
                    lang.m("sampling-sealed"),
                    esc(&tube)
                ),
                &form(&user, "", "", &[]),
                &tube,
            ),
            Some((status, code, msg)) => {
                refuse(status, "tube", super::i18n::error_text(lang, &code, &msg))
            }
        };
    }
    if codes.is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "codes",
            lang.m("sampling-scan-at-least-one-code").to_owned(),
        );
    }
    if codes.len() > MAX_CODES {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "codes",
            lang.f("sampling-at-most", &[("n", &MAX_CODES)]),
        );
    }
    let samples = codes.iter().map(|c| Ok(sample_of(&tube, c))).collect();
    let results = match lab::http::bind_samples(&state, &user.caller, samples).await {
        Ok(r) => r,
        Err(e) => {
            let (status, code, msg) = e.summary();
            return refuse(status, "codes", super::i18n::error_text(lang, code, &msg));
        }
    };
    // Every code refused: the batch's 422, and the report still says why.
    let status = if results.iter().any(Result::is_ok) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    // The report names each code by its position (never the code or the person).
    let mut refused_lines = Vec::new();
    let mut report = String::new();
    let mut bound = 0;
    for (i, item) in results.iter().enumerate() {
        match item {
            Err(e) => {
                let _ = write!(
                    report,
                    "<li class=\"refused\" data-code=\"{}\">{} {}: ✘ {}</li>",
                    esc(e.code),
                    lang.m("sampling-code"),
                    i + 1,
                    esc(&super::i18n::error_text(lang, e.code, &e.message))
                );
                if let Some(c) = codes.get(i) {
                    refused_lines.push(*c);
                }
            }
            Ok(_) => bound += 1,
        }
    }
    let top = format!(
        "<section aria-labelledby=\"bound-h\"><h2 id=\"bound-h\">{}</h2><p class=\"{}\" role=\"status\" data-bound=\"{bound}\" data-refused=\"{}\">{}</p><ul id=\"refused\">{report}</ul></section>",
        lang.m("sampling-bound"),
        if bound == 0 { "err" } else { "ok" },
        refused_lines.len(),
        lang.f(
            "sampling-bound-count",
            &[("bound", &bound), ("refused", &refused_lines.len())],
        )
    );
    // The tube stays for the next people; refused codes stay to be checked and rescanned.
    let kept = refused_lines.join("\n");
    page(
        &state,
        &user,
        status,
        &top,
        &form(&user, &tube, &kept, &[]),
        &tube,
    )
}
