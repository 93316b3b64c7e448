//! Officials' pages of the two-city features (docs/cities.md): peer cities with the state
//! of their signed lists and their published risk areas and entry rules
//! (`/web/peers`), commuter passes with their approvals (`/web/passes`), and 协查 requests
//! in both directions with their SLA and the answer form (`/web/assist`). Every action
//! goes through the API's own handlers, called in-process, which authorise and log it.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, thead};
use crate::cities::assist::{self, AnswerIn, AssistOut, DirectionQuery};
use crate::cities::passes::{self, PassOut, PassQuery};
use crate::cities::peers::{self, PeerIn, PeerOut};
use crate::error::AppError;
use crate::extract::{Id, JsonIn, parse_id};
use crate::state::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;

fn or_dash(v: Option<&str>) -> String {
    v.map_or_else(|| "—".to_owned(), esc)
}

fn done(r: Result<(), AppError>, lang: Lang, user: &WebUser, to: &str) -> Response {
    match r {
        Ok(()) => Redirect::to(to).into_response(),
        Err(e) => error_page(lang, Some(user), &e),
    }
}

/// Opens a scrollable table with its caption and head (the caller closes it with
/// `</tbody></table></div>`).
fn open_table(s: &mut String, id: &str, caption: &str, heads: &[&str]) {
    let _ = write!(
        s,
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"{id}-cap\"><table id=\"{id}\"><caption id=\"{id}-cap\">{caption}</caption>{}<tbody>",
        thead(heads)
    );
}

// ---------------------------------------------------------------- peers

fn peers_page(state: &AppState, user: &WebUser, list: &[PeerOut]) -> String {
    let lang = user.lang;
    let mut s = format!(
        "<p>{}</p>",
        lang.m("cities-peer-cities-trust-lists-risk-areas")
    );
    open_table(
        &mut s,
        "peers",
        lang.m("common-peer-cities"),
        &[
            lang.m("common-name"),
            lang.m("cities-jurisdiction"),
            lang.m("cities-list-signed"),
            lang.m("cities-fetched"),
            lang.m("cities-keys-revocations"),
            lang.m("cities-risk-areas"),
            lang.m("cities-last-error"),
            lang.m("common-action"),
        ],
    );
    for p in list {
        let _ = write!(
            s,
            r#"<tr data-peer="{n}"><th scope="row"><a href="/web/peers/{n}">{n}</a></th><td>{j}</td><td>{i}</td><td>{f}</td><td>{k} / {r}</td><td>{a}</td><td>{e}</td><td><form method="post" action="/web/peers/{n}/refresh">{csrf}<button type="submit">{l_go}</button></form></td></tr>"#,
            n = esc(&p.name),
            j = esc(&p.jurisdiction),
            i = or_dash(p.list_issued_at.as_deref()),
            f = or_dash(p.fetched_at.as_deref()),
            k = p.keys,
            r = p.revocations,
            a = p.risk_areas,
            e = or_dash(p.last_error.as_deref().or(p.rules_error.as_deref())),
            csrf = user.csrf_field(),
            l_go = lang.m("cities-fetch-now"),
        );
    }
    s.push_str("</tbody></table></div>");
    let _ = write!(
        s,
        r#"<h2>{h}</h2><form method="post" action="/web/peers" id="add-peer">{csrf}<p><label for="peer-name">{l_name}</label><input id="peer-name" name="name" required maxlength="40" pattern="[a-z0-9-]+"></p><p><label for="peer-url">{l_url}</label><input id="peer-url" name="url" required maxlength="200" placeholder="https://suzhou.example.cn"></p><p><label for="peer-anchor">{l_anchor}</label><textarea id="peer-anchor" name="anchor" rows="4" required></textarea></p><button type="submit">{l_add}</button></form><p>{own}: <code>{kid}</code></p>"#,
        h = lang.m("cities-add-a-peer-city"),
        csrf = user.csrf_field(),
        l_name = lang.m("cities-name-a-z-0-9"),
        l_url = lang.m("cities-url"),
        l_anchor = lang.m("cities-trust-anchor-the-json-of-their"),
        l_add = lang.m("cities-add"),
        own = lang.m("cities-this-citys-root-key"),
        kid = esc(&state.cities.anchor.kid),
    );
    layout(
        lang,
        lang.m("common-peer-cities"),
        Some(user),
        "/web/peers",
        &s,
    )
}

fn peer_page(user: &WebUser, d: &peers::PeerDetailOut) -> String {
    let lang = user.lang;
    let mut s = format!(
        "<p>{l_j} {j} · {l_u} <code>{u}</code> · {l_k} <code>{k}</code></p>",
        l_j = lang.m("cities-jurisdiction"),
        j = esc(&d.peer.jurisdiction),
        l_u = lang.m("cities-url"),
        u = esc(&d.peer.url),
        l_k = lang.m("cities-root-key"),
        k = esc(&d.peer.anchor_kid),
    );
    open_table(
        &mut s,
        "peer-keys",
        lang.m("cities-signing-keys"),
        &[
            lang.m("cities-key"),
            lang.m("common-status"),
            lang.m("cities-from"),
            lang.m("cities-until"),
        ],
    );
    for k in &d.keys_listed {
        let status = xikang_domain::duties::variant_name(&k.status);
        let _ = write!(
            s,
            "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k.entry.kid),
            esc(&status),
            esc(&k.entry.not_before),
            esc(&k.entry.not_after),
        );
    }
    s.push_str("</tbody></table></div>");
    let Some(rules) = &d.rules else {
        let _ = write!(
            s,
            "<p id=\"no-rules\">{}</p>",
            lang.m("cities-no-risk-areas-or-entry-rules-fetched")
        );
        return layout(lang, &d.peer.name, Some(user), "/web/peers", &s);
    };
    let _ = write!(
        s,
        "<p>{l} {i} · {lp} {p}</p><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"areas-cap\"><table id=\"peer-areas\"><caption id=\"areas-cap\">{c}</caption>{h}<tbody>",
        l = lang.m("cities-signed-at"),
        i = esc(&rules.issued_at),
        lp = lang.m("common-policy"),
        p = esc(&rules.policy),
        c = lang.m("cities-risk-areas"),
        h = thead(&[
            lang.m("cities-area-code"),
            lang.m("common-name"),
            lang.m("cities-risk"),
        ]),
    );
    for a in &rules.risk_areas {
        let risk = xikang_domain::duties::variant_name(&a.risk);
        let _ = write!(
            s,
            "<tr data-risk=\"{r}\"><th scope=\"row\">{c}</th><td>{n}</td><td>{r}</td></tr>",
            r = esc(&risk),
            c = esc(&a.code),
            n = esc(&a.name),
        );
    }
    let _ = write!(
        s,
        "</tbody></table></div><div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"rules-cap\"><table id=\"peer-rules\"><caption id=\"rules-cap\">{c}</caption>{h}<tbody>",
        c = lang.m("cities-their-venues-entry-rules-for"),
        h = thead(&[
            lang.m("cities-category"),
            lang.m("cities-worst-colour-admitted"),
            lang.m("cities-test-within-hours"),
            lang.m("cities-vaccination"),
        ]),
    );
    for r in &rules.entry_rules {
        let _ = write!(
            s,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.category),
            r.admit.as_str(),
            r.max_test_age_hours
                .map_or_else(|| "—".to_owned(), |h| h.to_string()),
            if r.vaccination_required {
                lang.m("common-yes")
            } else {
                lang.m("cities-no")
            },
        );
    }
    s.push_str("</tbody></table></div>");
    layout(lang, &d.peer.name, Some(user), "/web/peers", &s)
}

/// `GET /web/peers`.
pub async fn peers_list(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    if let Err(e) = peers::peer_admin(&state, &user.caller, "peers") {
        return error_page(user.lang, Some(&user), &e);
    }
    html(
        StatusCode::OK,
        peers_page(&state, &user, &peers::peers_out(&state)),
    )
}

/// `GET /web/peers/{name}`.
pub async fn peer(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(name): Path<String>,
) -> Response {
    let d = peers::peer_admin(&state, &user.caller, "peers")
        .and_then(|()| peers::peer_detail(&state, &name));
    match d {
        Ok(d) => html(StatusCode::OK, peer_page(&user, &d)),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// The add-peer form.
#[derive(Debug, Deserialize)]
pub struct PeerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    anchor: String,
}

/// `POST /web/peers`: adds a peer through the API's handler.
pub async fn add_peer(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<PeerForm>,
) -> Response {
    let lang = user.lang;
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let r = async {
        let anchor = xikang_code::TrustAnchor::from_json(&f.anchor)
            .map_err(|e| AppError::bad(e.code(), e.to_string()))?;
        let input = PeerIn {
            name: f.name.trim().to_owned(),
            url: f.url.trim().to_owned(),
            anchor,
        };
        let _ = peers::post_peer(
            State(state.clone()),
            user.caller.clone(),
            JsonIn::Value(input),
        )
        .await?;
        Ok(())
    }
    .await;
    done(r, lang, &user, "/web/peers")
}

/// The forms with only their CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /web/peers/{name}/refresh`.
pub async fn refresh_peer(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(name): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = user.lang;
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let r = peers::post_refresh(State(state.clone()), user.caller.clone(), Path(name))
        .await
        .map(|_| ());
    done(r, lang, &user, "/web/peers")
}

// ---------------------------------------------------------------- passes

fn passes_page(user: &WebUser, list: &[PassOut]) -> String {
    let lang = user.lang;
    let mut s = format!(
        "<p>{}</p>",
        lang.m("cities-a-commuter-pass-is-approved-by-the")
    );
    open_table(
        &mut s,
        "passes",
        lang.m("common-commuter-passes"),
        &[
            lang.m("cities-number"),
            lang.m("common-holder"),
            lang.m("cities-employer"),
            lang.m("cities-route"),
            lang.m("common-valid-until"),
            lang.m("common-status"),
            lang.m("cities-approvals"),
            lang.m("common-action"),
        ],
    );
    for p in list {
        let status = xikang_domain::duties::variant_name(&p.status);
        let mut action = String::new();
        if status == "pending" {
            let _ = write!(
                action,
                r#"<form method="post" action="/web/passes/{id}/approve">{csrf}<button type="submit">{l}</button></form>"#,
                id = esc(&p.pass),
                csrf = user.csrf_field(),
                l = lang.m("cities-approve"),
            );
        }
        if status == "pending" || status == "approved" {
            let _ = write!(
                action,
                r#"<form method="post" action="/web/passes/{id}/revoke">{csrf}<label for="reason-{id}">{l_r}</label><input id="reason-{id}" name="reason" required maxlength="500"><button type="submit">{l}</button></form>"#,
                id = esc(&p.pass),
                csrf = user.csrf_field(),
                l_r = lang.m("cities-reason"),
                l = lang.m("cities-revoke"),
            );
        }
        let _ = write!(
            s,
            "<tr id=\"pass-{id}\" data-status=\"{st}\"><th scope=\"row\">{id}</th><td><a href=\"/web/people/{h}\">{h}</a></td><td>{e}</td><td>{r}</td><td>{u}</td><td>{st}</td><td>{a} / {n}</td><td>{action}</td></tr>",
            id = esc(&p.pass),
            h = esc(&p.person),
            e = esc(&p.employer),
            r = esc(&p.route),
            u = esc(&p.valid_until),
            st = esc(&status),
            a = p.approvals.len(),
            n = p.approvals_needed,
        );
    }
    s.push_str("</tbody></table></div>");
    layout(
        lang,
        lang.m("common-commuter-passes"),
        Some(user),
        "/web/passes",
        &s,
    )
}

/// `GET /web/passes`.
pub async fn passes_list(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    let q = PassQuery { employer: None };
    match passes::list_passes(State(state), user.caller.clone(), Query(q)).await {
        Ok(list) => html(StatusCode::OK, passes_page(&user, &list.0)),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /web/passes/{id}/{approve|revoke}`.
pub async fn pass_action(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<RevokeForm>,
) -> Response {
    let lang = user.lang;
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let r = async {
        let id = Id(parse_id(&id)?);
        match action.as_str() {
            "approve" => {
                let _ = passes::post_approve(State(state.clone()), user.caller.clone(), id).await?;
            }
            "revoke" => {
                let input = JsonIn::Value(crate::card::RevokeIn { reason: f.reason });
                let _ = passes::post_revoke(State(state.clone()), user.caller.clone(), id, input)
                    .await?;
            }
            _ => return Err(AppError::not_found("not_found", "no such action")),
        }
        Ok(())
    }
    .await;
    done(r, lang, &user, "/web/passes")
}

// ---------------------------------------------------------------- 协查

fn assist_rows(s: &mut String, user: &WebUser, rows: &[AssistOut], incoming: bool) {
    let lang = user.lang;
    for a in rows {
        let what = if a.kind == "people" {
            lang.f("cities-close-contacts", &[("n", &a.people.len())])
        } else {
            a.places
                .iter()
                .map(|p| p.place.clone())
                .collect::<Vec<_>>()
                .join("；")
        };
        let _ = write!(
            s,
            "<li id=\"assist-{dir}-{id}\" data-status=\"{st}\" data-overdue=\"{o}\"><p><strong>{peer}</strong> · {l_case} {case} · {what} · {st} · {l_h} {h} / {sla} h{late}</p>",
            dir = a.direction,
            id = esc(&a.id),
            st = a.status,
            o = a.overdue,
            peer = esc(&a.peer),
            l_case = lang.m("cities-case"),
            case = esc(&a.case),
            what = esc(&what),
            l_h = lang.m("cities-hours-to-answer"),
            h = a.hours_to_answer,
            sla = a.sla_hours,
            late = if a.overdue {
                lang.m("cities-overdue")
            } else {
                ""
            },
        );
        if !a.people.is_empty() {
            s.push_str("<ul>");
            for p in &a.people {
                let _ = write!(
                    s,
                    "<li><code>{r}</code> · {rel} · {at}{who}{out}</li>",
                    r = esc(&p.reference[..8.min(p.reference.len())]),
                    rel = esc(&p.relation),
                    at = esc(&p.last_exposure),
                    who = p.person.as_deref().map_or_else(String::new, |x| format!(
                        " · <a href=\"/web/people/{0}\">{0}</a>",
                        esc(x)
                    )),
                    out = p
                        .outcome
                        .as_deref()
                        .map_or_else(String::new, |o| format!(" · {}", esc(o))),
                );
            }
            s.push_str("</ul>");
        }
        if let Some(o) = &a.outcome {
            let _ = write!(
                s,
                "<p>{}：{}（{}）</p>",
                lang.m("common-answer"),
                esc(o),
                a.traced.unwrap_or(0)
            );
        } else if incoming {
            let _ = write!(
                s,
                r#"<form method="post" action="/web/assist/{id}/answer">{csrf}<label for="outcome-{id}">{l_o}</label><textarea id="outcome-{id}" name="outcome" rows="2" required maxlength="1000"></textarea><label for="traced-{id}">{l_t}</label><input id="traced-{id}" name="traced" type="number" min="0" value="0"><button type="submit">{l_go}</button></form>"#,
                id = esc(&a.id),
                csrf = user.csrf_field(),
                l_o = lang.m("cities-outcome-no-names"),
                l_t = lang.m("cities-people-traced"),
                l_go = lang.m("common-answer"),
            );
        }
        s.push_str("</li>");
    }
}

/// `GET /web/assist`.
pub async fn assist_list(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    let lang = user.lang;
    let q = |d: &str| {
        Query(DirectionQuery {
            direction: d.to_owned(),
        })
    };
    let r = async {
        let inbox = assist::list(State(state.clone()), user.caller.clone(), q("in")).await?;
        let out = assist::list(State(state.clone()), user.caller.clone(), q("out")).await?;
        Ok::<_, AppError>((inbox.0, out.0))
    }
    .await;
    let (inbox, out) = match r {
        Ok(x) => x,
        Err(e) => return error_page(lang, Some(&user), &e),
    };
    let mut s = format!(
        "<p>{}</p><h2>{}</h2><ol class=\"tasks\" id=\"assist-in\">",
        lang.m("cities-a-request-carries-only-what-the"),
        lang.m("cities-received"),
    );
    assist_rows(&mut s, &user, &inbox, true);
    let _ = write!(
        s,
        "</ol><h2>{}</h2><ol class=\"tasks\" id=\"assist-out\">",
        lang.m("cities-sent")
    );
    assist_rows(&mut s, &user, &out, false);
    s.push_str("</ol>");
    html(
        StatusCode::OK,
        layout(
            lang,
            lang.m("cities-assistance-requests"),
            Some(&user),
            "/web/assist",
            &s,
        ),
    )
}

/// The answer form.
#[derive(Debug, Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    traced: String,
}

/// `POST /web/assist/{id}/answer`.
pub async fn answer(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<AnswerForm>,
) -> Response {
    let lang = user.lang;
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let r = async {
        let id = Id(parse_id(&id)?);
        let input = AnswerIn {
            outcome: f.outcome,
            traced: f.traced.trim().parse().unwrap_or(0),
            people: Vec::new(),
        };
        let _ = assist::post_answer(
            State(state.clone()),
            user.caller.clone(),
            id,
            JsonIn::Value(input),
        )
        .await?;
        Ok(())
    }
    .await;
    done(r, lang, &user, "/web/assist")
}
