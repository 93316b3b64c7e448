//! Login, sessions and CSRF.
//!
//! - A session is a random 32-byte value in the `xk_session` cookie (`HttpOnly`,
//!   `SameSite=Strict`, `Path=/`, and `Secure` behind TLS); the store keeps only its SHA-256, with an expiry
//!   ([`SESSION_SECS`]). Logout deletes it; disabling a user deletes all of theirs.
//! - Every form that changes something carries a CSRF token: the first 32 hex digits of
//!   SHA-256("xikang-csrf:" ‖ session value). It needs no storage, is unknown to a page
//!   that cannot read the cookie, and changes with each login. The login form itself, which
//!   has no session yet, uses a double-submit cookie (`xk_pre`).
//! - Each page then checks the role and jurisdiction of the user's [`Actor`], the same
//!   checks the API makes.

use super::password;
use super::{Lang, error_page, esc, html, layout};
use crate::app::{Actor, Role};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use xikang_store::{Session, User};

/// Failed logins allowed per user name within [`THROTTLE_WINDOW`] before further attempts
/// for that name are refused without checking the password.
pub const MAX_FAILURES: u32 = 5;
/// Failed logins allowed per client address within [`THROTTLE_WINDOW`] (for any names).
/// Higher than per name: staff behind one office NAT share an address.
pub const MAX_ADDRESS_FAILURES: u32 = 20;
/// How long failures are remembered (and a throttled name stays throttled).
pub const THROTTLE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Failed logins per key (a user name, or a client address), in memory: per server process,
/// bounded, forgotten at restart. Argon2 makes each guess slow; the name throttle bounds
/// guesses per name to [`MAX_FAILURES`] per window, the address throttle bounds one
/// address spraying many names to [`MAX_ADDRESS_FAILURES`]. The cost: an attacker can lock
/// a name (or an address) out for the window, which an admin sees in the logs; several
/// server processes each count on their own.
#[derive(Debug)]
pub struct LoginThrottle {
    max: u32,
    failures: std::sync::Mutex<std::collections::HashMap<String, (u32, std::time::Instant)>>,
}

impl LoginThrottle {
    /// A throttle allowing `max` failures per key per window.
    pub fn new(max: u32) -> LoginThrottle {
        LoginThrottle {
            max,
            failures: std::sync::Mutex::default(),
        }
    }

    fn map(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (u32, std::time::Instant)>>
    {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `key` may try now.
    pub fn allows(&self, name: &str) -> bool {
        self.map()
            .get(name)
            .is_none_or(|(n, since)| *n < self.max || since.elapsed() > THROTTLE_WINDOW)
    }

    /// Counts a failure.
    pub fn failed(&self, name: &str) {
        let mut m = self.map();
        if m.len() > 100_000 {
            m.retain(|_, (_, since)| since.elapsed() <= THROTTLE_WINDOW);
            if m.len() > 100_000 {
                m.clear();
            }
        }
        let e = m
            .entry(name.to_owned())
            .or_insert((0, std::time::Instant::now()));
        if e.1.elapsed() > THROTTLE_WINDOW {
            *e = (0, std::time::Instant::now());
        }
        e.0 += 1;
    }

    /// Forgets the failures of a name after a successful login.
    pub fn succeeded(&self, name: &str) {
        self.map().remove(name);
    }
}

/// How long a session lasts: one working shift and a half.
pub const SESSION_SECS: i64 = 12 * 3600;

const SESSION_COOKIE: &str = "xk_session";
const PRE_COOKIE: &str = "xk_pre";

/// The address a login comes from: the TCP peer, or, behind the TLS proxy
/// ([`crate::state::ServerConfig::behind_tls`]), the last `X-Forwarded-For` entry, the one
/// the proxy appended (earlier entries are the client's to forge). `None` when unknown
/// (a server started without connection info): only the name throttle applies then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl FromRequestParts<Arc<AppState>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(crate::edge::client_ip(
            &state.config,
            &parts.headers,
            &parts.extensions,
        )))
    }
}

/// `; Secure` when browsers reach the server over TLS, else nothing.
pub(super) fn secure(state: &AppState) -> &'static str {
    if state.config.behind_tls {
        "; Secure"
    } else {
        ""
    }
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(super) fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    hex::encode(bytes)
}

fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// The CSRF token of a session value.
pub fn csrf_of(session_value: &str) -> String {
    let d = Sha256::digest(format!("xikang-csrf:{session_value}").as_bytes());
    hex::encode(&d[..16])
}

/// Compares without an early exit on the first differing byte.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The caller a user stands for (`None` for an unknown role).
pub fn caller_of(u: &User) -> Option<Actor> {
    let role = Role::parse(&u.role)?;
    Some(Actor {
        name: u.name.clone(),
        role,
        area: u.area.clone(),
        venue: u.venue,
        person: u.person,
        id_lookup: u.id_lookup,
        enterprise: crate::app::actor::enterprise_binding(role, u.enterprise.as_deref())?,
    })
}

/// A logged-in user of the web pages.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub name: String,
    pub caller: Actor,
    /// The CSRF token every form of this session must carry.
    pub csrf: String,
    pub lang: Lang,
    session_sha256: [u8; 32],
}

impl WebUser {
    /// Fails unless the form carried this session's CSRF token.
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        if same(token, &self.csrf) {
            Ok(())
        } else {
            Err(AppError::bad(
                "csrf",
                "the form is out of date or did not come from this site; reload and retry",
            ))
        }
    }

    /// The error page to answer with unless the user has one of `roles`.
    pub fn forbid_unless(&self, roles: &[Role], what: &'static str) -> Option<Response> {
        self.caller
            .require(roles, what)
            .err()
            .map(|e| error_page(self.lang, Some(self), &e))
    }

    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            esc(&self.csrf)
        )
    }
}

/// Resolves the session cookie to a user, or `None`.
async fn user_of_session(
    state: &AppState,
    value: &str,
) -> Result<Option<(User, [u8; 32])>, AppError> {
    let sha = digest(value);
    let store = state.store.clone();
    let now = crate::now();
    let found = tokio::task::spawn_blocking(move || {
        let Some(s) = store.session(&sha, now)? else {
            return Ok(None);
        };
        Ok::<_, xikang_store::StoreError>(store.user(&s.user)?.filter(|u| !u.disabled))
    })
    .await??;
    Ok(found.map(|u| (u, sha)))
}

impl FromRequestParts<Arc<AppState>> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<WebUser, Response> {
        let lang = Lang::of(parts);
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map_or("/web", |p| p.as_str())
                .to_owned();
            Redirect::to(&format!("/web/login?next={}", super::urlencode(&next))).into_response()
        };
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        match user_of_session(state, &value).await {
            Ok(Some((u, sha))) => {
                let Some(caller) = caller_of(&u) else {
                    return Err(error_page(lang, None, &AppError::Forbidden("unknown role")));
                };
                crate::access::record_user(&parts.extensions, &caller);
                Ok(WebUser {
                    name: u.name,
                    caller,
                    csrf: csrf_of(&value),
                    lang,
                    session_sha256: sha,
                })
            }
            Ok(None) => Err(to_login()),
            Err(e) => Err(error_page(lang, None, &e)),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

fn login_form(lang: Lang, pre: &str, next: &str, name: &str, error: Option<&str>) -> String {
    let err = error.map_or(String::new(), |e| {
        format!(
            "<p class=\"err\" role=\"alert\" id=\"login-error\">{}</p>",
            esc(e)
        )
    });
    let described = if error.is_some() {
        " aria-describedby=\"login-error\" aria-invalid=\"true\""
    } else {
        ""
    };
    format!(
        r#"{err}<form method="post" action="/web/login" class="narrow">
<input type="hidden" name="csrf" value="{pre}"><input type="hidden" name="next" value="{next}">
<label for="name">{l_name}</label><input id="name" name="name" autocomplete="username" required value="{name}"{described}>
<label for="password">{l_pw}</label><input id="password" name="password" type="password" autocomplete="current-password" required{described}>
<button type="submit">{l_go}</button></form>"#,
        pre = esc(pre),
        next = esc(next),
        name = esc(name),
        l_name = lang.m("common-user-name"),
        l_pw = lang.m("session-password"),
        l_go = lang.m("session-log-in"),
    )
}

pub(super) fn with_cookie(mut r: Response, cookie: String) -> Response {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn pre_cookie(value: &str, secure: &str) -> String {
    format!(
        "{PRE_COOKIE}={value}; Path=/web/login; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    )
}

/// `GET /web/login`.
pub async fn login_page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let pre = cookie(&headers, PRE_COOKIE).unwrap_or_else(random_hex);
    let next = super::i18n::safe_next(q.next.as_deref());
    let page = layout(
        lang,
        lang.m("session-log-in"),
        None,
        "/web/login",
        &login_form(lang, &pre, next, "", None),
    );
    with_cookie(html(StatusCode::OK, page), pre_cookie(&pre, secure(&state)))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

/// `POST /web/login`: checks the password, starts a session, goes to `next`.
pub async fn login(
    State(state): State<Arc<AppState>>,
    axum::Extension(web): axum::Extension<Arc<super::WebState>>,
    lang: Lang,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let secure = secure(&state);
    let addr = addr.map(|a| a.to_string());
    let next = super::i18n::safe_next(Some(&f.next)).to_owned();
    let pre = cookie(&headers, PRE_COOKIE).unwrap_or_default();
    let refuse = |code: &str, status: StatusCode| {
        let pre = if pre.is_empty() {
            random_hex()
        } else {
            pre.clone()
        };
        let msg = super::i18n::error_text(
            lang,
            code,
            match code {
                "csrf" => "the form is out of date; reload the page and retry",
                "too_many_logins" => "too many failed logins for this name; wait 15 minutes",
                "too_many_logins_here" => {
                    "too many failed logins from this address; wait 15 minutes"
                }
                _ => "wrong user name or password",
            },
        );
        let page = layout(
            lang,
            lang.m("session-log-in"),
            None,
            "/web/login",
            &login_form(lang, &pre, &next, &f.name, Some(&msg)),
        );
        with_cookie(html(status, page), pre_cookie(&pre, secure))
    };
    if pre.is_empty() || !same(&pre, &f.csrf) {
        return refuse("csrf", StatusCode::BAD_REQUEST);
    }
    let login_name = f.name.trim().to_owned();
    if !web.logins.allows(&login_name) {
        tracing::warn!("web login refused: too many failures for one name");
        return refuse("too_many_logins", StatusCode::TOO_MANY_REQUESTS);
    }
    if let Some(a) = &addr
        && !web.login_addresses.allows(a)
    {
        // The address is not logged: with a name it could identify a person.
        tracing::warn!("web login refused: too many failures from one address");
        return refuse("too_many_logins_here", StatusCode::TOO_MANY_REQUESTS);
    }
    let store = state.store.clone();
    let (name, pw) = (login_name.clone(), f.password.clone());
    let checked = tokio::task::spawn_blocking(move || {
        let user = store.user(&name)?;
        Ok::<_, xikang_store::StoreError>(match user {
            Some(u) if !u.disabled && password::verify(&pw, &u.password_hash) => Some(u),
            Some(_) => None,
            None => {
                password::verify_dummy(&pw);
                None
            }
        })
    })
    .await;
    let user = match checked {
        Ok(Ok(Some(u))) => u,
        Ok(Ok(None)) => {
            web.logins.failed(&login_name);
            // A success does not clear the address: one's own account must not reset a
            // guesser's count.
            if let Some(a) = &addr {
                web.login_addresses.failed(a);
            }
            tracing::info!("web login refused");
            return refuse("bad_login", StatusCode::UNAUTHORIZED);
        }
        Ok(Err(e)) => return error_page(lang, None, &AppError::from(e)),
        Err(e) => return error_page(lang, None, &AppError::from(e)),
    };
    web.logins.succeeded(&login_name);
    let value = random_hex();
    let now = crate::now();
    let session = Session {
        user: user.name.clone(),
        created_at: now,
        expires_at: now.plus(SESSION_SECS),
    };
    let store = state.store.clone();
    let sha = digest(&value);
    let saved = tokio::task::spawn_blocking(move || {
        // Login is a good moment to sweep expired sessions: no timer needed.
        store.delete_expired_sessions(now)?;
        store.insert_session(sha, &session)
    })
    .await;
    match saved {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error_page(lang, None, &AppError::from(e)),
        Err(e) => return error_page(lang, None, &AppError::from(e)),
    }
    let target = if next == "/web" {
        caller_of(&user)
            .map_or("/web", |c| super::home_of(c.role))
            .to_owned()
    } else {
        next
    };
    let r = Redirect::to(&target).into_response();
    let r = with_cookie(
        r,
        format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}{secure}"
        ),
    );
    with_cookie(
        r,
        format!("{PRE_COOKIE}=; Path=/web/login; Max-Age=0{secure}"),
    )
}

/// Starts a session for `user` (already checked by the caller: a password, or a finished
/// claim) and answers the `Set-Cookie` value that carries it.
pub(super) async fn start_session(state: &AppState, user: &str) -> Result<String, AppError> {
    let value = random_hex();
    let now = crate::now();
    let session = Session {
        user: user.to_owned(),
        created_at: now,
        expires_at: now.plus(SESSION_SECS),
    };
    let store = state.store.clone();
    let sha = digest(&value);
    tokio::task::spawn_blocking(move || {
        store.delete_expired_sessions(now)?;
        store.insert_session(sha, &session)
    })
    .await??;
    Ok(format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}{}",
        secure(state)
    ))
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /web/logout`: ends the session.
pub async fn logout(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(user.lang, Some(&user), &e);
    }
    let store = state.store.clone();
    let sha = user.session_sha256;
    match tokio::task::spawn_blocking(move || store.delete_session(&sha)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return error_page(user.lang, None, &AppError::from(e)),
        Err(e) => return error_page(user.lang, None, &AppError::from(e)),
    }
    with_cookie(
        Redirect::to("/web/login").into_response(),
        format!(
            "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
            secure(&state)
        ),
    )
}
