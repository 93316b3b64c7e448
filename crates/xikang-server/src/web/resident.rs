//! The resident's page (their own code as a QR, the colour explained, the way back to
//! green, test results) and the same page for staff looking a person up, with personal data
//! masked unless an admin or tracer unmasks it for a stated purpose — a logged act
//! (`PersonalDataRead` in the authority log). The page also lists the person's appeals
//! against their colour and files a new one ([`crate::appeal`]).

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, shanghai};
use crate::api::{self, ResultOutcome};
use crate::app::{Role, Scoped};
use crate::appeal;
use crate::error::AppError;
use crate::state::AppState;
use crate::wire::PersonOut;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::{Colour, PersonId};

/// The CSS class and plain-words meaning of a colour.
pub fn colour_words(lang: Lang, c: Colour) -> (&'static str, &'static str) {
    match c {
        Colour::Green => ("green", lang.m("resident-green-you-may-enter-venues-and")),
        Colour::Yellow => ("yellow", lang.m("resident-yellow-stay-home-or-take-the")),
        Colour::Red => (
            "red",
            lang.m("resident-red-you-must-be-isolated-or-treated"),
        ),
    }
}

/// `GET /web/me`: a resident's own page.
pub async fn me(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    match user.caller.person {
        Some(p) if user.caller.role == Role::Resident => {
            match crate::app::authorise::person(&state, &user.caller, p) {
                Ok(me) => render(&state, &user, me, None, "/web/me").await,
                Err(e) => error_page(user.lang, Some(&user), &e),
            }
        }
        _ => error_page(
            user.lang,
            Some(&user),
            &AppError::Forbidden("only a resident has an own code page"),
        ),
    }
}

/// `GET /web/people/{id}`: a person's page for staff (or a resident's own).
pub async fn person(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    match api::visible_person(&state, &user.caller, &id) {
        Ok(p) => render(&state, &user, p, None, "").await,
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

#[derive(Debug, Deserialize)]
pub struct UnmaskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    purpose: String,
}

/// `POST /web/people/{id}/unmask`: shows the full personal data once, after logging the
/// read with its purpose.
pub async fn unmask(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<UnmaskForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(user.lang, Some(&user), &e);
    }
    let person = match api::visible_person(&state, &user.caller, &id) {
        Ok(p) => p,
        Err(e) => return error_page(user.lang, Some(&user), &e),
    };
    let read = api::read_person(
        &state,
        &user.caller,
        person,
        Some(Some(f.purpose.trim().to_owned())),
        "POST /web/people/{id}/unmask",
    )
    .await;
    match read {
        Ok(v) => render(&state, &user, person, Some(v), "").await,
        Err(e) => render_with_error(&state, &user, person, &e).await,
    }
}

async fn render_with_error(
    state: &Arc<AppState>,
    user: &WebUser,
    p: Scoped<PersonId>,
    e: &AppError,
) -> Response {
    let (status, code, msg) = e.summary();
    let mut r = render(state, user, p, None, "").await;
    if status.is_client_error() && code != "forbidden" {
        // Re-render with the message next to the purpose field.
        let note = super::i18n::error_text(user.lang, code, &msg);
        let body = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body).replace(
            "<!--purpose-error-->",
            &format!(
                "<p class=\"err\" role=\"alert\" id=\"purpose-error\">{}</p>",
                esc(&note)
            ),
        );
        r = html(status, text);
        return r;
    }
    error_page(user.lang, Some(user), e)
}

/// A refused appeal form: the message shown next to the reason, and what was typed.
#[derive(Debug, Clone, Copy)]
struct AppealError<'a> {
    status: StatusCode,
    message: &'a str,
    kept: &'a str,
}

async fn render(
    state: &Arc<AppState>,
    user: &WebUser,
    person: Scoped<PersonId>,
    unmasked: Option<PersonOut>,
    here: &str,
) -> Response {
    render_page(state, user, person, unmasked, here, None).await
}

async fn render_page(
    state: &Arc<AppState>,
    user: &WebUser,
    scoped: Scoped<PersonId>,
    unmasked: Option<PersonOut>,
    here: &str,
    appeal_error: Option<AppealError<'_>>,
) -> Response {
    let person = scoped.id();
    let lang = user.lang;
    let now = crate::now();
    let Some((eval, _)) = state.evaluate(person, now) else {
        return error_page(
            lang,
            Some(user),
            &AppError::not_found("unknown_person", "no such person"),
        );
    };
    let code = state.code(person, &eval, now);
    let data = match unmasked {
        Some(v) => Ok(v),
        None => api::read_person(state, &user.caller, scoped, None, "GET /web/people/{id}").await,
    };
    let data = match data {
        Ok(d) => d,
        Err(e) => return error_page(lang, Some(user), &e),
    };
    let results = api::test_results(state, &user.caller, scoped).await;
    let (class, words) = colour_words(lang, eval.colour);
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<section class="code {class}" aria-labelledby="colour"><h2 id="colour" data-colour="{colour}">{zh} {en}</h2><p>{words}</p>
<div class="qr" role="img" aria-label="{qr_label}">{qr}</div>
<p>{why}: {explanation}</p><p>{valid}: {until}</p></section>"#,
        colour = eval.colour.as_str(),
        zh = eval.colour.zh(),
        en = esc(eval.colour.as_str()),
        qr_label = lang.m("resident-health-code-qr"),
        qr = inline_svg(&xikang_code::qr_svg(&code.token)),
        why = lang.m("resident-why"),
        explanation = esc(lang.supplied(&eval.explanation_zh, &eval.explanation_en)),
        valid = lang.m("common-valid-until"),
        until = esc(&shanghai(code.claims.expires_at)),
    );
    let _ = write!(
        h,
        "<details><summary>{}</summary><p class=\"token\" id=\"token\">{}</p></details>",
        lang.m("resident-code-text-paste-it-where-a-scanner"),
        esc(&code.token)
    );
    match eval.test_age_days {
        Some(d) => {
            let _ = write!(
                h,
                "<p>{}: <strong>{d}</strong></p>",
                lang.m("resident-days-since-the-last-negative-test")
            );
        }
        None => {
            let _ = write!(
                h,
                "<p>{}</p>",
                lang.m("resident-no-negative-test-on-record")
            );
        }
    }
    if !eval.fired.is_empty() {
        let _ = write!(h, "<h2>{}</h2><ul>", lang.m("resident-rules-applied"));
        for r in &eval.fired {
            let _ = write!(
                h,
                "<li>{} <small>({}, {} {})</small>",
                esc(lang.supplied(&r.zh, &r.en)),
                esc(&r.rule),
                lang.m("resident-event"),
                r.event
            );
            // A hold has no machine evidence: show the basis its two officials stated.
            if let Some(basis) = state.projection.hold_basis(r.event) {
                let _ = write!(
                    h,
                    "<br><span class=\"hold-basis\">{}: {}</span>",
                    lang.m("resident-hold-basis-confirmed-by-two"),
                    esc(&basis)
                );
            }
            h.push_str("</li>");
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        "<h2>{}</h2>",
        lang.m("resident-how-to-get-back-to-green")
    );
    if eval.to_green.is_empty() {
        let _ = write!(h, "<p>{}</p>", lang.m("resident-the-code-is-green"));
    } else {
        h.push_str("<ol>");
        for s in &eval.to_green {
            let _ = write!(h, "<li>{}</li>", esc(lang.supplied(&s.zh, &s.en)));
        }
        h.push_str("</ol>");
        if let Some(t) = eval.earliest_green {
            let _ = write!(
                h,
                "<p>{}: {}</p>",
                lang.m("resident-earliest-green"),
                esc(&shanghai(t))
            );
        }
    }
    let _ = write!(h, "<h2>{}</h2>", lang.m("resident-test-results"));
    match results {
        Ok(items) => {
            if items.is_empty() {
                let _ = write!(h, "<p>{}</p>", lang.m("resident-none-on-record"));
            } else {
                let _ = write!(
                    h,
                    "<table>{}<tbody>",
                    super::thead(&[
                        lang.m("resident-sampled"),
                        lang.m("resident-result"),
                        lang.m("resident-pool"),
                    ]),
                );
                for i in items.iter().rev().take(20) {
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&shanghai(i.sampled_at)),
                        esc(outcome_words(lang, i.outcome)),
                        i.pool_size.map_or(String::new(), |n| format!("{n}:1"))
                    );
                }
                h.push_str("</tbody></table>");
            }
        }
        Err(e) => {
            let (_, c, m) = e.summary();
            let _ = write!(
                h,
                "<p class=\"err\">{}</p>",
                esc(&super::i18n::error_text(lang, c, &m))
            );
        }
    }
    appeal_section(&mut h, state, user, scoped, appeal_error);
    if here == "/web/me" {
        h.push_str(&super::claim::dependants_section(state, user).await);
    }
    // Personal data, masked unless unmasked just now.
    let masked = data.masked;
    let _ = write!(
        h,
        "<h2>{}</h2><dl class=\"pd\"><dt>{}</dt><dd id=\"pd-name\">{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl>",
        lang.m("resident-personal-data"),
        lang.m("common-name-2"),
        esc(&data.name),
        lang.m("resident-id-number"),
        esc(&data.id_number),
        lang.m("resident-phone"),
        esc(data.phone.as_deref().unwrap_or("—")),
        lang.m("resident-community"),
        esc(&data.area),
    );
    if masked && matches!(user.caller.role, Role::Admin | Role::Tracer) {
        let _ = write!(
            h,
            r#"<form method="post" action="/web/people/{person}/unmask" class="inline">{csrf}
<label for="purpose">{l_purpose}</label><!--purpose-error--><input id="purpose" name="purpose" required aria-describedby="purpose-help">
<small id="purpose-help">{help}</small><button type="submit">{l_go}</button></form>"#,
            csrf = user.csrf_field(),
            l_purpose = lang.m("resident-purpose-of-viewing-the-full-data"),
            help = lang.m("resident-this-is-recorded-in-the-audit-log"),
            l_go = lang.m("resident-show-full-data"),
        );
    } else if !masked {
        let _ = write!(
            h,
            "<p class=\"note\">{}</p>",
            lang.m("resident-full-data-shown-this-read-was")
        );
    }
    let _ = write!(
        h,
        "<p><small>{} {}</small></p>",
        lang.m("common-policy"),
        esc(&eval.policy_version)
    );
    let title = format!("{} {}", lang.m("resident-health-code"), person);
    let status = appeal_error.map_or(StatusCode::OK, |e| e.status);
    html(status, layout(lang, &title, Some(user), here, &h))
}

/// The person's appeals with their answers, and the form to file one (none while one is
/// open). The colour is explained above; an appeal asks an official to check its facts.
fn appeal_section(
    h: &mut String,
    state: &AppState,
    user: &WebUser,
    scoped: Scoped<PersonId>,
    err: Option<AppealError<'_>>,
) {
    let person = scoped.id();
    let lang = user.lang;
    let appeals = appeal::appeals_of(state, scoped);
    let _ = write!(
        h,
        "<section aria-labelledby=\"appeal-h\" id=\"appeals\" data-count=\"{}\"><h2 id=\"appeal-h\">{}</h2><p>{}</p>",
        appeals.len(),
        lang.m("resident-appeal"),
        lang.m("resident-if-you-think-the-colour-is-wrong"),
    );
    for a in &appeals {
        let answer = match &a.answer {
            Some(x) => format!(
                "<p class=\"answer\"><strong>{}</strong> {}（{}）</p>",
                lang.m("common-answer-2"),
                esc(&x.text),
                esc(&shanghai(x.at))
            ),
            None => format!(
                "<p class=\"pending\">{}</p>",
                lang.m("resident-awaiting-an-answer")
            ),
        };
        let _ = write!(
            h,
            "<article class=\"appeal\" id=\"appeal-{id}\" data-open=\"{open}\"><p>{} {}：{}</p>{answer}</article>",
            esc(&shanghai(a.filed_at)),
            lang.m("common-reason"),
            esc(&a.reason),
            id = a.id,
            open = a.answer.is_none(),
        );
    }
    let open = appeals.iter().any(|a| a.answer.is_none());
    if !open && appeal::FILERS.contains(&user.caller.role) {
        let (msg, aria) = match err {
            Some(e) => (
                format!(
                    "<p class=\"err\" id=\"reason-err\" role=\"alert\">{}</p>",
                    esc(e.message)
                ),
                " aria-invalid=\"true\" aria-describedby=\"reason-err\"",
            ),
            None => (String::new(), ""),
        };
        let _ = write!(
            h,
            r#"<form method="post" action="/web/people/{person}/appeal">{csrf}<label for="reason">{l}</label>{msg}<textarea id="reason" name="reason" rows="3" required maxlength="{max}"{aria}>{kept}</textarea><button type="submit">{go}</button></form>"#,
            csrf = user.csrf_field(),
            l = lang.m("resident-reason-for-the-appeal"),
            max = appeal::MAX_TEXT_CHARS,
            kept = esc(err.map_or("", |e| e.kept)),
            go = lang.m("resident-submit-the-appeal"),
        );
    }
    h.push_str("</section>");
}

#[derive(Debug, Deserialize)]
pub struct AppealForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /web/people/{id}/appeal`: files an appeal through the API; back to the page, or
/// the page again with the refusal next to the reason and the reason kept.
pub async fn file_appeal(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<AppealForm>,
) -> Response {
    let lang = user.lang;
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let person = match api::visible_person(&state, &user.caller, &id) {
        Ok(p) => p,
        Err(e) => return error_page(lang, Some(&user), &e),
    };
    let here = if user.caller.role == Role::Resident {
        "/web/me"
    } else {
        ""
    };
    let filed = appeal::file_appeal(&state, &user.caller, person, &f.reason).await;
    match filed {
        Ok(_) if here.is_empty() => to_person(person.id()).into_response(),
        Ok(_) => Redirect::to(here).into_response(),
        Err(e) => {
            let (status, code, msg) = e.summary();
            if !status.is_client_error() || code == "forbidden" {
                return error_page(lang, Some(&user), &e);
            }
            let message = super::i18n::error_text(lang, code, &msg);
            render_page(
                &state,
                &user,
                person,
                None,
                here,
                Some(AppealError {
                    status,
                    message: &message,
                    kept: &f.reason,
                }),
            )
            .await
        }
    }
}

/// A test result's outcome in words.
fn outcome_words(lang: Lang, o: ResultOutcome) -> &'static str {
    match o {
        ResultOutcome::Negative => lang.m("resident-negative"),
        ResultOutcome::Positive => lang.m("resident-positive"),
        ResultOutcome::PoolPositive => lang.m("resident-pool-positive-retest-pending"),
    }
}

/// An SVG document as an element to inline in HTML (without its XML prolog).
pub fn inline_svg(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

/// `Redirect` to a person's page (after an action elsewhere).
pub fn to_person(p: PersonId) -> Redirect {
    Redirect::to(&format!("/web/people/{p}"))
}
