//! The web interface: server-rendered HTML pages for each role, zh-CN first with English,
//! behind a login with users, passwords (argon2) and sessions in a cookie.
//!
//! Templates are plain Rust (`format!` into a `String` with [`esc`] on every value): no
//! template engine to compile, nothing parsed at run time, and a page edit rebuilds only this
//! crate (see `docs/web.md` for the build times measured). Pages act through the same
//! handlers as `/api/v1`, called in-process, so a form and the API cannot disagree about
//! validation, roles or the authority events they write.
//!
//! Layout of the module: [`session`] (login, cookies, CSRF, the [`session::WebUser`]
//! extractor), [`i18n`] (language and error texts), [`resident`], [`venue`], [`tracer`],
//! [`bulletin`], [`dashboard`], [`ranking`], [`admin`], [`lab`], [`sampling`], [`grid`],
//! [`site`], [`svg`] (charts). A new page is a module with its routes merged in [`routes`]
//! and a link in [`nav`].

pub mod admin;
pub mod anomalies;
pub mod appeals;
pub mod board;
pub mod bulletin;
pub mod cities;
pub mod claim;
pub mod dashboard;
pub mod diff;
pub mod enterprise;
pub mod enterprises;
pub mod grid;
pub mod i18n;
pub mod lab;
pub mod ledger;
pub mod map;
pub mod messages;
pub mod oversight;
pub mod password;
pub mod ranking;
pub mod resident;
pub mod sampling;
pub mod session;
pub mod site;
pub mod supervision;
pub mod svg;
pub mod tracer;
pub mod venue;

use crate::app::Role;
use crate::error::AppError;
use crate::state::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
pub use i18n::{Lang, msg};
use session::WebUser;
use std::sync::Arc;

pub use crate::page::esc;

/// The routes of the web interface, merged into the main router.
pub fn routes() -> Router<Arc<AppState>> {
    let web = Arc::new(WebState::default());
    Router::new()
        .route("/web", get(home))
        .route("/web/", get(home))
        .route("/web/login", get(session::login_page).post(session::login))
        .route("/web/logout", post(session::logout))
        .route("/web/lang/{lang}", get(i18n::switch))
        .route("/web/static/style.css", get(style))
        .route("/web/static/live.js", get(live_js))
        .route("/web/static/lab.js", get(lab_js))
        .route("/web/lab", get(lab::lab_page).post(lab::upload))
        .route("/web/grid", get(grid::tasks))
        .route("/web/ranking", get(ranking::page))
        .route(
            "/web/sampling",
            get(sampling::sampling_page).post(sampling::bind),
        )
        .route("/web/site", get(site::site_page))
        .route("/web/site/orders/{id}/release", post(site::release))
        .route("/web/grid/tasks/{id}", post(grid::complete))
        .route("/web/me", get(resident::me))
        .route("/claim", get(claim::short))
        .route("/web/claim", get(claim::claim_page))
        .route("/web/claim/start", post(claim::claim_start))
        .route("/web/claim/finish", post(claim::claim_finish))
        .route("/web/claim/proxy", post(claim::proxy))
        .route("/web/cards/{id}", get(claim::card_page))
        .route("/web/people/{id}", get(resident::person))
        .route("/web/people/{id}/unmask", post(resident::unmask))
        .route("/web/people/{id}/appeal", post(resident::file_appeal))
        .route("/web/appeals", get(appeals::list))
        .route("/board", get(board::page).post(board::post))
        .route("/web/messages", get(messages::list))
        .route("/web/enterprises", get(enterprises::list))
        .route("/web/enterprises/{id}", post(enterprises::decide))
        .route("/web/enterprise", get(enterprise::page))
        .route("/web/enterprise/exchange", post(enterprise::post_exchange))
        .route(
            "/web/enterprise/exchange/{id}/close",
            post(enterprise::close_exchange),
        )
        .route("/web/inspections", get(oversight::inspections))
        .route(
            "/web/inspections/{id}/photos/{photo}",
            get(oversight::photo),
        )
        .route("/web/supplies", get(oversight::supplies))
        .route("/web/responsibility", get(oversight::responsibility))
        .route("/web/capacity", get(oversight::capacity))
        .route("/web/quarterly", get(oversight::quarterly))
        .route("/web/export/{what}", get(oversight::export))
        .route("/web/messages/{id}/{action}", post(messages::act))
        .route("/web/appeals/{id}", post(appeals::answer))
        .route("/web/venue", get(venue::scan_page).post(venue::scan))
        .route("/web/venues/{id}/poster", get(venue::poster))
        .route("/web/cases", get(tracer::cases).post(tracer::register))
        .route("/web/cases/{id}", get(tracer::case))
        .route("/web/cases/{id}/contacts", post(tracer::bulk))
        .route("/web/cases/{id}/contacts/{person}", post(tracer::act))
        .route("/web/cases/{id}/export", get(tracer::export))
        .route("/web/peers", get(cities::peers_list).post(cities::add_peer))
        .route("/web/peers/{name}", get(cities::peer))
        .route("/web/peers/{name}/refresh", post(cities::refresh_peer))
        .route("/web/passes", get(cities::passes_list))
        .route("/web/passes/{id}/{action}", post(cities::pass_action))
        .route("/web/assist", get(cities::assist_list))
        .route("/web/assist/{id}/answer", post(cities::answer))
        .route("/web/dashboard", get(dashboard::page))
        .route("/web/dashboard/live", get(dashboard::live))
        .route("/web/dashboard/data.json", get(dashboard::data))
        .route("/web/bulletin", get(bulletin::page))
        .route(
            "/web/admin/users",
            get(admin::users).post(admin::create_user),
        )
        .route("/web/admin/policy", get(admin::policy))
        .route("/web/admin/policy/diff", get(admin::policy_diff))
        .layer(axum::Extension(web))
}

/// State of the web pages only: caches behind the dashboard and the bulletin, and the
/// login throttles.
#[derive(Debug)]
pub struct WebState {
    pub figures: Arc<dashboard::FigureCache>,
    /// Failed logins per user name.
    pub logins: session::LoginThrottle,
    /// Failed logins per client address.
    pub login_addresses: session::LoginThrottle,
}

impl Default for WebState {
    fn default() -> Self {
        WebState {
            figures: Arc::default(),
            logins: session::LoginThrottle::new(session::MAX_FAILURES),
            login_addresses: session::LoginThrottle::new(session::MAX_ADDRESS_FAILURES),
        }
    }
}

/// `GET /web`: the home page of the user's role.
async fn home(user: WebUser) -> Redirect {
    Redirect::to(home_of(user.caller.role))
}

/// Where each role starts.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Resident => "/web/me",
        Role::VenueDevice => "/web/venue",
        Role::Tracer => "/web/cases",
        Role::Admin => "/web/dashboard",
        Role::Lab => "/web/lab",
        Role::GridWorker => "/web/grid",
        Role::SiteManager => "/web/site",
        Role::Carrier => "/web/bulletin",
        Role::Enterprise => "/web/enterprise",
    }
}

const STYLE: &str = include_str!("style.css");
const LIVE_JS: &str = include_str!("live.js");
const LAB_JS: &str = include_str!("lab.js");

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

async fn live_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        LIVE_JS,
    )
        .into_response()
}

async fn lab_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        LAB_JS,
    )
        .into_response()
}

/// The links of the navigation bar a role sees: (path, zh, en).
fn nav(role: Role) -> Vec<(&'static str, &'static str)> {
    let mut v = Vec::new();
    match role {
        Role::Resident => v.push(("/web/me", msg("nav-my-code"))),
        Role::VenueDevice => v.push(("/web/venue", msg("common-venue-scan"))),
        Role::Tracer | Role::Admin => {
            v.push(("/web/dashboard", msg("nav-dashboard")));
            v.push(("/web/ranking", msg("nav-ranking")));
            v.push(("/web/cases", msg("common-tracing")));
            v.push(("/web/appeals", msg("nav-appeals")));
            v.push(("/web/assist", msg("nav-assistance")));
            if role == Role::Admin {
                v.push(("/web/peers", msg("common-peer-cities")));
                v.push(("/web/passes", msg("nav-passes")));
                v.push(("/web/messages", msg("nav-messages")));
                v.push(("/web/enterprises", msg("nav-resumption")));
                v.push(("/web/responsibility", msg("nav-responsibilities")));
                v.push(("/web/supplies", msg("nav-supplies")));
            }
            v.push(("/web/inspections", msg("common-inspections")));
            v.push(("/web/capacity", msg("common-capacity")));
            v.push(("/web/quarterly", msg("nav-quarterly")));
            v.push(("/web/bulletin", msg("nav-bulletin")));
            v.push(("/web/venue", msg("common-venue-scan")));
            v.push(("/web/site", msg("common-quarantine-site")));
        }
        Role::Lab => {
            v.push(("/web/lab", msg("common-lab")));
            v.push(("/web/sampling", msg("common-sampling-site")));
            v.push(("/web/bulletin", msg("nav-bulletin")));
        }
        Role::GridWorker => {
            v.push(("/web/grid", msg("common-grid-tasks")));
            v.push(("/web/inspections", msg("common-inspections")));
            v.push(("/web/supplies", msg("nav-supplies")));
            v.push(("/web/bulletin", msg("nav-bulletin")));
        }
        Role::SiteManager => {
            v.push(("/web/site", msg("common-quarantine-site")));
            v.push(("/web/bulletin", msg("nav-bulletin")));
        }
        Role::Carrier => {
            v.push(("/web/bulletin", msg("nav-bulletin")));
        }
        Role::Enterprise => v.push(("/web/enterprise", msg("common-my-enterprise"))),
    }
    if role == Role::Admin {
        v.push(("/web/admin/users", msg("common-users")));
        v.push(("/web/admin/policy", msg("common-policy")));
        v.push(("/web/lab", msg("common-lab")));
        v.push(("/web/sampling", msg("common-sampling-site")));
    }
    v
}

/// A whole page: head, skip link, navigation (when logged in), language switch, body.
pub fn layout(lang: Lang, title: &str, user: Option<&WebUser>, here: &str, body: &str) -> String {
    let mut navs = String::new();
    if let Some(u) = user {
        navs.push_str("<nav aria-label=\"");
        navs.push_str(lang.m("layout-main-menu"));
        navs.push_str("\"><ul>");
        for (path, text) in nav(u.caller.role) {
            let current = if path == here {
                " aria-current=\"page\""
            } else {
                ""
            };
            navs.push_str(&format!(
                "<li><a href=\"{path}\"{current}>{}</a></li>",
                lang.m(text)
            ));
        }
        navs.push_str(&format!(
            "</ul><form method=\"post\" action=\"/web/logout\" class=\"logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><span>{}</span> <button type=\"submit\">{}</button></form></nav>",
            esc(&u.csrf),
            esc(&u.name),
            lang.m("layout-log-out")
        ));
    }
    let other = lang.other();
    let back = esc(&urlencode(here));
    format!(
        r##"<!doctype html><html lang="{code}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {app}</title><link rel="stylesheet" href="/web/static/style.css"></head>
<body><a class="skip" href="#main">{skip}</a><header><span class="brand">{app}</span>{navs}<a class="lang" href="/web/lang/{other_code}?next={back}" lang="{other_html}">{other_name}</a></header>
<main id="main"><h1>{title}</h1>{body}</main></body></html>"##,
        code = lang.html(),
        title = esc(title),
        app = lang.m("layout-xikang"),
        skip = lang.m("layout-skip-to-content"),
        other_code = other.code(),
        other_html = other.html(),
        other_name = other.name(),
    )
}

/// An HTML response.
pub fn html(status: StatusCode, page: String) -> Response {
    let mut r = (status, page).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Pages show personal data: never cache them; no framing (clickjacking).
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert("x-frame-options", HeaderValue::from_static("DENY"));
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    r
}

/// An error page in the user's language.
pub fn error_page(lang: Lang, user: Option<&WebUser>, e: &AppError) -> Response {
    let (status, code, message) = e.summary();
    let body = format!(
        "<p class=\"err\" role=\"alert\">{}</p><p><a href=\"/web\">{}</a></p>",
        esc(&i18n::error_text(lang, code, &message)),
        lang.m("layout-back-to-the-start-page")
    );
    html(
        status,
        layout(lang, lang.m("layout-error"), user, "", &body),
    )
}

/// A refusal as an alert paragraph with `id` above a public form (claim, board): its
/// status and the HTML.
pub fn alert_note(lang: Lang, e: &AppError, id: &str) -> (StatusCode, String) {
    let (status, code, message) = e.summary();
    (
        status,
        format!(
            "<p class=\"err\" role=\"alert\" id=\"{id}\">{}</p>",
            esc(&i18n::error_text(lang, code, &message))
        ),
    )
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A form value that is not a date and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadTime;

/// A `datetime-local` value (Asia/Shanghai wall time, `YYYY-MM-DDTHH:MM[:SS]`) as RFC 3339.
/// `None` for empty input; `Err` for anything else that is not such a time.
pub fn local_time(s: &str) -> Result<Option<String>, BadTime> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let full = match s.len() {
        16 => format!("{s}:00+08:00"),
        19 => format!("{s}+08:00"),
        _ => return Err(BadTime),
    };
    xikang_domain::Timestamp::parse_rfc3339(&full)
        .map(|_| Some(full))
        .map_err(|_| BadTime)
}

/// A table's header row: one column header per label, `scope="col"` for screen readers.
pub fn thead(labels: &[&str]) -> String {
    let mut h = String::from("<thead><tr>");
    for l in labels {
        h.push_str("<th scope=\"col\">");
        h.push_str(&esc(l));
        h.push_str("</th>");
    }
    h.push_str("</tr></thead>");
    h
}

/// A time as Asia/Shanghai wall time `YYYY-MM-DD HH:MM`.
pub fn shanghai(t: xikang_domain::Timestamp) -> String {
    let local = xikang_domain::Timestamp(t.0 + 8 * 3600).to_rfc3339();
    // `to_rfc3339` prints UTC as `YYYY-MM-DDTHH:MM:SSZ`.
    local.get(..16).unwrap_or(&local).replace('T', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_become_shanghai_rfc3339_and_garbage_is_refused() {
        assert_eq!(
            local_time("2022-07-10T08:30"),
            Ok(Some("2022-07-10T08:30:00+08:00".into()))
        );
        assert_eq!(
            local_time("2022-07-10T08:30:15"),
            Ok(Some("2022-07-10T08:30:15+08:00".into()))
        );
        assert_eq!(local_time("  "), Ok(None));
        assert_eq!(local_time("yesterday"), Err(BadTime));
        assert_eq!(local_time("2022-13-10T08:30"), Err(BadTime));
    }

    #[test]
    fn shanghai_wall_time_is_eight_hours_ahead_of_utc() {
        let t = xikang_domain::Timestamp::parse_rfc3339("2022-07-09T23:30:00Z").ok();
        assert_eq!(t.map(shanghai).as_deref(), Some("2022-07-10 07:30"));
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(urlencode("/web/cases?x=1 2"), "/web/cases%3Fx%3D1%202");
        assert_eq!(urlencode("流调"), "%E6%B5%81%E8%B0%83");
    }
}
