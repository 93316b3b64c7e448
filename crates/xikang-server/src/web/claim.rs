//! The claim pages (申领, docs/claim.md): a resident without an account enters ID number,
//! name and phone (`/web/claim`, also reached as `/claim`), then the one-time code sent to
//! the phone on record, and lands on their code page with a session of their own. The
//! pages call [`crate::claim`]'s commands, as the API does; the form carries a
//! double-submit CSRF cookie (`xk_claim`), as the login form does. Also here: a guardian's
//! form for a dependant's code (代领) and the printable identity card page for staff.

use super::session::{ClientAddr, WebUser, random_hex, same, secure, with_cookie};
use super::{Lang, error_page, esc, html, layout};
use crate::app::{Role, authorise};
use crate::claim::{self, ClaimFinishIn, ClaimStartIn, ProxyIn};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::EventSeq;
use xikang_store::User;

const CLAIM_COOKIE: &str = "xk_claim";

fn claim_cookie(value: &str, secure: &str) -> String {
    format!(
        "{CLAIM_COOKIE}={value}; Path=/web/claim; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    )
}

fn error_note(lang: Lang, e: &AppError) -> (StatusCode, String) {
    super::alert_note(lang, e, "claim-error")
}

fn details_form(lang: Lang, csrf: &str, note: &str) -> String {
    format!(
        r#"<p>{intro}</p>{note}<form method="post" action="/web/claim/start" class="narrow">
<input type="hidden" name="csrf" value="{csrf}">
<label for="id_number">{l_id}</label><input id="id_number" name="id_number" autocomplete="off" required maxlength="18">
<label for="name">{l_name}</label><input id="name" name="name" autocomplete="name" required maxlength="64">
<label for="phone">{l_phone}</label><input id="phone" name="phone" type="tel" inputmode="numeric" autocomplete="tel" required maxlength="11">
<button type="submit">{l_go}</button></form>"#,
        intro = lang.m("claim-enter-the-id-number-name-and-phone"),
        csrf = esc(csrf),
        l_id = lang.m("claim-id-number"),
        l_name = lang.m("common-name-2"),
        l_phone = lang.m("claim-phone"),
        l_go = lang.m("claim-send-me-a-code"),
    )
}

fn code_form(lang: Lang, csrf: &str, claim_id: &str, note: &str) -> String {
    format!(
        r#"<p>{sent}</p>{note}<form method="post" action="/web/claim/finish" class="narrow">
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="claim_id" value="{claim_id}">
<label for="code">{l_code}</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="6" pattern="[0-9]{{6}}">
<button type="submit">{l_go}</button></form><p><a href="/web/claim">{again}</a></p>"#,
        sent = lang.m("claim-if-the-details-match-the-register-a"),
        csrf = esc(csrf),
        claim_id = esc(claim_id),
        l_code = lang.m("claim-code-6-digits"),
        l_go = lang.m("claim-get-my-code"),
        again = lang.m("claim-start-again"),
    )
}

fn page(lang: Lang, status: StatusCode, body: &str, csrf: &str, state: &AppState) -> Response {
    let title = lang.m("claim-claim-your-code");
    with_cookie(
        html(status, layout(lang, title, None, "/web/claim", body)),
        claim_cookie(csrf, secure(state)),
    )
}

/// `GET /claim`: the claim page's short address.
pub async fn short() -> Redirect {
    Redirect::to("/web/claim")
}

/// `GET /web/claim`.
pub async fn claim_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
) -> Response {
    let csrf = super::session::cookie(&headers, CLAIM_COOKIE).unwrap_or_else(random_hex);
    page(
        lang,
        StatusCode::OK,
        &details_form(lang, &csrf, ""),
        &csrf,
        &state,
    )
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
}

fn csrf_ok(headers: &HeaderMap, sent: &str) -> Option<String> {
    let c = super::session::cookie(headers, CLAIM_COOKIE)?;
    (!c.is_empty() && same(&c, sent)).then_some(c)
}

fn stale(lang: Lang, state: &AppState) -> Response {
    let csrf = random_hex();
    let (_, note) = error_note(lang, &AppError::bad("csrf", "the form is out of date"));
    page(
        lang,
        StatusCode::BAD_REQUEST,
        &details_form(lang, &csrf, &note),
        &csrf,
        state,
    )
}

/// `POST /web/claim/start`.
pub async fn claim_start(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<StartForm>,
) -> Response {
    let Some(csrf) = csrf_ok(&headers, &f.csrf) else {
        return stale(lang, &state);
    };
    let input = ClaimStartIn {
        id_number: f.id_number,
        name: f.name,
        phone: f.phone,
    };
    match claim::start(&state, addr, input).await {
        Ok(out) => page(
            lang,
            StatusCode::OK,
            &code_form(lang, &csrf, &out.claim_id, ""),
            &csrf,
            &state,
        ),
        Err(e) => {
            let (status, note) = error_note(lang, &e);
            page(
                lang,
                status,
                &details_form(lang, &csrf, &note),
                &csrf,
                &state,
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct FinishForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    claim_id: String,
    #[serde(default)]
    code: String,
}

/// `POST /web/claim/finish`: the right code starts a session of the resident's own (a web
/// user `claim-P…` without a password) and goes to their code page.
pub async fn claim_finish(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Form(f): Form<FinishForm>,
) -> Response {
    let Some(csrf) = csrf_ok(&headers, &f.csrf) else {
        return stale(lang, &state);
    };
    let claim_id = f.claim_id.clone();
    let checked = claim::check_code(
        &state,
        ClaimFinishIn {
            claim_id: f.claim_id,
            code: f.code,
        },
    )
    .await;
    let person = match checked {
        Ok((_, person)) => person,
        Err(e) => {
            let (status, note) = error_note(lang, &e);
            // A dead, used or expired claim cannot be retried: back to the details.
            let body = match e.summary().1 {
                "claim_code_wrong" | "invalid_code" => code_form(lang, &csrf, &claim_id, &note),
                _ => details_form(lang, &csrf, &note),
            };
            return page(lang, status, &body, &csrf, &state);
        }
    };
    match resident_session(&state, person).await {
        Ok(cookie) => with_cookie(
            with_cookie(Redirect::to("/web/me").into_response(), cookie),
            format!(
                "{CLAIM_COOKIE}=; Path=/web/claim; Max-Age=0{}",
                secure(&state)
            ),
        ),
        Err(e) => error_page(lang, None, &e),
    }
}

/// The web user a claimed resident logs in as, made on the first claim (no password: the
/// claim is the proof), and a session for it.
async fn resident_session(
    state: &AppState,
    person: xikang_domain::PersonId,
) -> Result<String, AppError> {
    let area = state
        .projection
        .person_area(person)
        .ok_or_else(|| AppError::not_found("unknown_person", "no such person"))?;
    let name = format!("claim-{person}");
    let store = state.store.clone();
    let user = User {
        name: name.clone(),
        // Not a PHC string: no password ever matches it.
        password_hash: "!claimed".into(),
        role: Role::Resident.as_str().into(),
        area,
        venue: None,
        person: Some(person),
        id_lookup: false,
        enterprise: None,
        disabled: false,
        created_at: crate::now(),
    };
    let usable = tokio::task::spawn_blocking(move || match store.user(&user.name)? {
        Some(u) => Ok::<_, xikang_store::StoreError>(
            !u.disabled && u.person == Some(person) && u.role == user.role,
        ),
        None => store.insert_user(&user).map(|()| true),
    })
    .await??;
    if !usable {
        return Err(AppError::Forbidden(
            "this resident's web access was disabled",
        ));
    }
    super::session::start_session(state, &name).await
}

#[derive(Debug, Deserialize)]
pub struct ProxyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    relation: String,
}

/// `POST /web/claim/proxy`: a resident guardian claims a dependant's code; back to their
/// page, which lists it.
pub async fn proxy(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<ProxyForm>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(user.lang, Some(&user), &e);
    }
    let input = ProxyIn {
        id_number: f.id_number,
        name: f.name,
        relation: f.relation,
    };
    match claim::claim_for_dependant(&state, &user.caller, input).await {
        Ok(_) => Redirect::to("/web/me").into_response(),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// The guardian's part of their own page: the dependants' codes and the form for one more.
pub async fn dependants_section(state: &AppState, user: &WebUser) -> String {
    let lang = user.lang;
    let mut h = String::new();
    let Ok(list) = claim::dependants(state, &user.caller).await else {
        return h;
    };
    let _ = write!(
        h,
        "<section aria-labelledby=\"dependants\"><h2 id=\"dependants\">{}</h2>",
        lang.m("claim-codes-i-hold-for-dependants")
    );
    if list.items.is_empty() {
        let _ = write!(h, "<p>{}</p>", lang.m("claim-none"));
    } else {
        h.push_str("<ul class=\"dependants\">");
        for d in &list.items {
            let _ = write!(
                h,
                "<li><a href=\"/web/people/{p}\">{name}</a> ({rel}) <span class=\"dot {c}\" data-colour=\"{c}\">{c}</span></li>",
                p = esc(&d.person),
                name = esc(&d.name),
                rel = esc(&d.relation),
                c = d.colour,
            );
        }
        h.push_str("</ul>");
    }
    let _ = write!(
        h,
        r#"<details><summary>{sum}</summary><form method="post" action="/web/claim/proxy" class="narrow">{csrf}
<label for="dep-id">{l_id}</label><input id="dep-id" name="id_number" autocomplete="off" required maxlength="18">
<label for="dep-name">{l_name}</label><input id="dep-name" name="name" required maxlength="64">
<label for="dep-rel">{l_rel}</label><select id="dep-rel" name="relation">{opts}</select>
<button type="submit">{l_go}</button></form></details></section>"#,
        sum = lang.m("claim-claim-for-a-family-member-without-a"),
        csrf = user.csrf_field(),
        l_id = lang.m("claim-id-number"),
        l_name = lang.m("common-name-2"),
        l_rel = lang.m("claim-relation"),
        opts = claim::RELATIONS
            .iter()
            .map(|r| format!("<option value=\"{r}\">{r}</option>"))
            .collect::<String>(),
        l_go = lang.m("claim-claim"),
    );
    h
}

/// `GET /web/cards/{id}`: a printable identity card (staff who may see the holder, the
/// holder, their guardian): the QR, the card's number and validity, the holder's name
/// masked, and no colour.
pub async fn card_page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
) -> Response {
    let lang = user.lang;
    let card = crate::extract::parse_id::<EventSeq>(&id)
        .and_then(|seq| authorise::card(&state, &user.caller, seq));
    let card = match card {
        Ok(c) => c.into_inner(),
        Err(e) => return error_page(lang, Some(&user), &e),
    };
    if let Err(e) = state.access.record(
        &user.caller,
        "GET /web/cards/{id}",
        None,
        crate::now(),
        [card.person],
    ) {
        return error_page(lang, Some(&user), &e);
    }
    let token = state.card_token(&card);
    let svg = match xikang_code::try_qr_svg(&token) {
        Ok(s) => s,
        Err(e) => return error_page(lang, Some(&user), &AppError::Internal(e.to_string())),
    };
    let store = state.store.clone();
    let person = card.person;
    let name = tokio::task::spawn_blocking(move || store.person(person))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten()
        .map(|p| xikang_domain::mask::mask_name(&p.name))
        .unwrap_or_default();
    let state_line = match card.revoked_at {
        Some(t) => format!(
            "<p class=\"err\" role=\"alert\">{}: {}</p>",
            lang.m("claim-revoked"),
            esc(&super::shanghai(t))
        ),
        None => String::new(),
    };
    let body = format!(
        r#"{state_line}<section class="poster card-print"><div class="qr" role="img" aria-label="{qr_label}">{qr}</div>
<dl><dt>{l_name}</dt><dd>{name}</dd><dt>{l_card}</dt><dd>{card_no}</dd><dt>{l_valid}</dt><dd>{until}</dd></dl>
<p>{note}</p></section><p class="noprint"><a href="/api/v1/cards/{card_no}/qr.png">PNG</a> · <a href="/api/v1/cards/{card_no}/qr.svg">SVG</a></p>"#,
        qr_label = lang.m("claim-identity-card-qr"),
        qr = super::resident::inline_svg(&svg),
        l_name = lang.m("claim-holder"),
        name = esc(&name),
        l_card = lang.m("claim-card"),
        card_no = esc(&card.id.to_string()),
        l_valid = lang.m("common-valid-until"),
        until = esc(&super::shanghai(card.expires_at)),
        note = lang.m("claim-xikang-identity-card-it-shows-no"),
    );
    html(
        StatusCode::OK,
        layout(lang, lang.m("claim-identity-card"), Some(&user), "", &body),
    )
}
