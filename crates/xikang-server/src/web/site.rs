//! The quarantine site's page: the site's admissions (its active orders, each with its test
//! days), the tests due today, and releases. A release goes through the API's `release`
//! handler, which checks the plan's end and that every scheduled test was negative, and
//! otherwise extends the order: the page shows whichever the policy decided.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, shanghai, urlencode};
use crate::app::Role;
use crate::duties;
use crate::duties::ReleaseOut;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::SiteId;
use xikang_domain::duties::{Regime, variant_name};
use xikang_store::{OrderFilter, OrderRecord, OrderStatus, SiteRecord};

const SITE_STAFF: &[Role] = &[Role::SiteManager, Role::Admin, Role::Tracer];

#[derive(Debug, Default, Deserialize)]
pub struct SiteQuery {
    site: Option<String>,
    released: Option<String>,
    outcome: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ReleaseForm {
    #[serde(default)]
    csrf: String,
}

/// The sites this user may open: a manager's own, or staff's inside their jurisdiction.
async fn sites_of(state: &AppState, user: &WebUser) -> Result<Vec<SiteRecord>, AppError> {
    let store = state.store.clone();
    let all = tokio::task::spawn_blocking(move || store.sites()).await??;
    Ok(all
        .into_iter()
        .filter(|s| match user.caller.role {
            Role::SiteManager => s.manager.as_deref() == Some(user.caller.name.as_str()),
            Role::Admin | Role::Tracer => user.caller.covers(&s.area),
            // Not site staff: no site (the page refuses them before this anyway).
            Role::Lab
            | Role::VenueDevice
            | Role::GridWorker
            | Role::Resident
            | Role::Carrier
            | Role::Enterprise => false,
        })
        .collect())
}

async fn orders_of(
    state: &AppState,
    user: &WebUser,
    site: SiteId,
) -> Result<Vec<OrderRecord>, AppError> {
    let store = state.store.clone();
    let orders = tokio::task::spawn_blocking(move || {
        store.orders(&OrderFilter {
            person: None,
            site: Some(site),
            active_only: false,
            limit: 1000,
        })
    })
    .await??;
    // As the API lists them: a manager sees everyone at their site, staff their jurisdiction.
    Ok(orders
        .into_iter()
        .filter(|o| {
            user.caller.role == Role::SiteManager
                || state
                    .projection
                    .person_area(o.person)
                    .is_some_and(|a| user.caller.covers(&a))
        })
        .collect())
}

fn test_days(o: &OrderRecord, regime: Option<&Regime>) -> Vec<(u32, xikang_domain::CivilDay)> {
    regime.map_or_else(Vec::new, |r| {
        let days = if o.then_phase {
            &r.then_test_days
        } else {
            &r.test_days
        };
        Regime::test_dates(days, o.start)
    })
}

fn status_text(lang: Lang, s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Active => lang.m("site-active"),
        OrderStatus::Released => lang.m("site-released"),
        OrderStatus::Ended => lang.m("site-ended"),
    }
}

/// The page of one site; `failed` is an order whose release was refused, with the reason.
fn page(
    state: &AppState,
    user: &WebUser,
    sites: &[SiteRecord],
    site: &SiteRecord,
    orders: &[OrderRecord],
    q: &SiteQuery,
    failed: Option<(&str, &str)>,
) -> String {
    let lang = user.lang;
    let today = crate::now().shanghai_day();
    let mut s = String::new();
    if sites.len() > 1 {
        s.push_str("<form method=\"get\" action=\"/web/site\" class=\"inline noprint\">");
        let _ = write!(
            s,
            "<label for=\"site\">{}</label><select id=\"site\" name=\"site\">",
            lang.m("common-site")
        );
        for x in sites {
            let _ = write!(
                s,
                "<option value=\"{id}\"{sel}>{id} {}</option>",
                esc(&x.name),
                id = x.id,
                sel = if x.id == site.id { " selected" } else { "" }
            );
        }
        let _ = write!(
            s,
            "</select><button type=\"submit\">{}</button></form>",
            lang.m("site-open")
        );
    }
    if let (Some(o), Some(outcome)) = (&q.released, &q.outcome) {
        // The outcome comes back as text in the address: only a known one is shown, so a
        // forged or mangled address can never announce a release that did not happen.
        match parse_outcome(outcome) {
            Some(outcome) => {
                let order = esc(o);
                let text = match outcome {
                    ReleaseOutcome::Released => lang.f("site-released-note", &[("order", &order)]),
                    ReleaseOutcome::Extended => lang.f("site-extended-note", &[("order", &order)]),
                };
                let _ = write!(
                    s,
                    "<p class=\"ok\" role=\"status\" id=\"released\" data-outcome=\"{}\">{text}</p>",
                    outcome_name(outcome)
                );
            }
            None => tracing::warn!(
                field = "outcome",
                "unknown release outcome in the address; not shown"
            ),
        }
    }
    let active: Vec<&OrderRecord> = orders
        .iter()
        .filter(|o| o.status == OrderStatus::Active)
        .collect();
    let _ = write!(
        s,
        "<div class=\"cards\"><div class=\"card\"><span class=\"label\">{}</span><span class=\"num\">{}</span></div><div class=\"card\"><span class=\"label\">{}</span><span class=\"num\" id=\"occupancy\">{}</span> / {}</div></div>",
        lang.m("common-site"),
        esc(&site.name),
        lang.m("site-occupied-capacity"),
        site.occupancy,
        site.capacity,
    );

    // Today's tests.
    let due: Vec<(&OrderRecord, u32)> = active
        .iter()
        .filter_map(|o| {
            test_days(
                o,
                crate::policies::order_regime(state, &o.regime, o.start).as_ref(),
            )
            .into_iter()
            .find(|(_, d)| *d == today)
            .map(|(n, _)| (*o, n))
        })
        .collect();
    let _ = write!(
        s,
        "<section aria-labelledby=\"due-h\"><h2 id=\"due-h\">{}</h2><p id=\"due-count\" data-count=\"{}\">{}</p>",
        lang.m("site-tests-due-today"),
        due.len(),
        lang.f("site-swab-today", &[("n", &due.len())])
    );
    if !due.is_empty() {
        let _ = write!(
            s,
            "<ul id=\"due\">{}</ul>",
            due.iter()
                .map(|(o, n)| format!(
                    "<li><a href=\"/web/people/{p}\">{p}</a> · {} {n} · {}</li>",
                    lang.m("site-day"),
                    o.id,
                    p = o.person
                ))
                .collect::<String>()
        );
    }
    s.push_str("</section>");

    // Admissions: the active orders.
    let _ = write!(
        s,
        "<section aria-labelledby=\"adm-h\"><h2 id=\"adm-h\">{}</h2><p id=\"active-count\" data-count=\"{}\">{}</p>",
        lang.m("site-admitted-orders"),
        active.len(),
        lang.f("site-active-orders", &[("n", &active.len())])
    );
    if !active.is_empty() {
        let _ = write!(
            s,
            "<div class=\"scroll\"><table id=\"orders\">{}<tbody>",
            super::thead(&[
                lang.m("site-order"),
                lang.m("common-person"),
                lang.m("site-regime"),
                lang.m("site-admitted"),
                lang.m("site-planned-end"),
                lang.m("site-test-days"),
                lang.m("site-release"),
            ]),
        );
        for o in &active {
            let id = o.id.to_string();
            let tests = test_days(
                o,
                crate::policies::order_regime(state, &o.regime, o.start).as_ref(),
            )
            .into_iter()
            .map(|(n, d)| {
                if d == today {
                    format!("<strong>{n}</strong>")
                } else {
                    n.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
            let err = match failed {
                Some((fid, msg)) if fid == id => format!(
                    "<p class=\"err\" role=\"alert\" id=\"release-{id}-err\">{}</p>",
                    esc(msg)
                ),
                _ => String::new(),
            };
            let _ = write!(
                s,
                r#"<tr id="order-{id}"><td>{id}</td><td><a href="/web/people/{p}">{p}</a></td><td>{regime}</td><td>{start}</td><td>{end}</td><td>{tests}</td><td><form method="post" action="/web/site/orders/{id}/release" class="act">{csrf}<button type="submit" aria-label="{l_rel} {id}">{l_rel}</button></form>{err}</td></tr>"#,
                p = o.person,
                regime = esc(&o.regime),
                start = shanghai(o.start),
                end = shanghai(o.planned_end),
                csrf = user.csrf_field(),
                l_rel = lang.m("site-release-2"),
            );
        }
        s.push_str("</tbody></table></div>");
    }
    s.push_str("</section>");

    // Releases and other ends.
    let ended: Vec<&OrderRecord> = orders
        .iter()
        .filter(|o| o.status != OrderStatus::Active)
        .collect();
    let _ = write!(
        s,
        "<section aria-labelledby=\"rel-h\"><h2 id=\"rel-h\">{}</h2><p id=\"ended-count\" data-count=\"{}\"></p>",
        lang.m("site-released-2"),
        ended.len()
    );
    if !ended.is_empty() {
        let _ = write!(
            s,
            "<div class=\"scroll\"><table id=\"ended\">{}<tbody>",
            super::thead(&[
                lang.m("site-order"),
                lang.m("common-person"),
                lang.m("site-reason"),
                lang.m("site-ended-2"),
                lang.m("common-status"),
            ]),
        );
        for o in ended.iter().take(500) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td><a href=\"/web/people/{p}\">{p}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                o.id,
                esc(&variant_name(&o.reason)),
                o.ended_at.map_or(String::new(), shanghai),
                status_text(lang, o.status),
                p = o.person,
            );
        }
        s.push_str("</tbody></table></div>");
    }
    s.push_str("</section>");
    layout(
        lang,
        lang.m("common-quarantine-site"),
        Some(user),
        "/web/site",
        &s,
    )
}

/// Renders the chosen (or first) site, or the page saying there is none.
async fn render(
    state: &AppState,
    user: &WebUser,
    q: &SiteQuery,
    status: StatusCode,
    failed: Option<(&str, &str)>,
) -> Response {
    let lang = user.lang;
    let sites = match sites_of(state, user).await {
        Ok(s) => s,
        Err(e) => return error_page(lang, Some(user), &e),
    };
    let chosen = match q.site.as_deref() {
        Some(id) => match sites.iter().find(|s| s.id.to_string() == id) {
            Some(s) => s,
            None => {
                return error_page(
                    lang,
                    Some(user),
                    &AppError::Forbidden("that site is not yours or does not exist"),
                );
            }
        },
        None => match sites.first() {
            Some(s) => s,
            None => {
                let body = format!(
                    "<p id=\"no-site\">{}</p>",
                    lang.m("site-no-quarantine-site-is-assigned-to")
                );
                return html(
                    StatusCode::OK,
                    layout(
                        lang,
                        lang.m("common-quarantine-site"),
                        Some(user),
                        "/web/site",
                        &body,
                    ),
                );
            }
        },
    };
    match orders_of(state, user, chosen.id).await {
        Ok(orders) => html(
            status,
            page(state, user, &sites, chosen, &orders, q, failed),
        ),
        Err(e) => error_page(lang, Some(user), &e),
    }
}

/// `GET /web/site[?site=S1]`.
pub async fn site_page(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Query(q): Query<SiteQuery>,
) -> Response {
    if let Some(r) = user.forbid_unless(SITE_STAFF, "quarantine sites") {
        return r;
    }
    render(&state, &user, &q, StatusCode::OK, None).await
}

/// What a release came to, as the page names it in its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReleaseOutcome {
    Released,
    Extended,
}

/// The order and what its release came to.
fn outcome_of(a: &ReleaseOut) -> (&str, ReleaseOutcome) {
    match a {
        ReleaseOut::Released { order, .. } => (order, ReleaseOutcome::Released),
        ReleaseOut::Extended { order, .. } => (order, ReleaseOutcome::Extended),
    }
}

/// The outcome's name in the page's address.
fn outcome_name(o: ReleaseOutcome) -> &'static str {
    match o {
        ReleaseOutcome::Released => "released",
        ReleaseOutcome::Extended => "extended",
    }
}

/// An outcome named in the address; None for anything else.
fn parse_outcome(s: &str) -> Option<ReleaseOutcome> {
    [ReleaseOutcome::Released, ReleaseOutcome::Extended]
        .into_iter()
        .find(|o| outcome_name(*o) == s)
}

/// `POST /web/site/orders/{id}/release`: released, extended, or refused with the reason.
pub async fn release(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<ReleaseForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(&[Role::SiteManager, Role::Admin, Role::Tracer], "releases")
    {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let answer = match crate::extract::parse_id(&id) {
        Ok(order) => match crate::app::authorise::order(&state, &user.caller, order).await {
            Ok(o) => duties::release_order(&state, &user.caller, o).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    // The order's site, to come back to it.
    let site = {
        let store = state.store.clone();
        let oid = id.trim_start_matches('Q').parse::<u64>().ok();
        match oid {
            Some(n) => tokio::task::spawn_blocking(move || store.order(xikang_domain::OrderId(n)))
                .await
                .ok()
                .and_then(Result::ok)
                .flatten()
                .and_then(|o| o.site),
            None => None,
        }
    };
    match answer {
        Ok(a) => {
            let (order, outcome) = outcome_of(&a);
            let mut to = format!(
                "/web/site?released={}&outcome={}",
                urlencode(order),
                outcome_name(outcome)
            );
            if let Some(s) = site {
                let _ = write!(to, "&site={s}");
            }
            Redirect::to(&to).into_response()
        }
        Err(e) => {
            let (status, code, msg) = e.summary();
            if status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND || site.is_none()
            {
                return error_page(lang, Some(&user), &e);
            }
            let q = SiteQuery {
                site: site.map(|s| s.to_string()),
                ..SiteQuery::default()
            };
            let text = super::i18n::error_text(lang, code, &msg);
            render(&state, &user, &q, status, Some((&id, &text))).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_known_release_outcome_is_read_from_the_address() {
        for o in [ReleaseOutcome::Released, ReleaseOutcome::Extended] {
            assert_eq!(parse_outcome(outcome_name(o)), Some(o));
        }
        for text in ["", "Released", "released ", "green", "allow", "ok"] {
            assert_eq!(parse_outcome(text), None, "{text:?}");
        }
    }
}
