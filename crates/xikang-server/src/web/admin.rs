//! Admin pages: users (list, create), policy versions (as the authority log records their
//! activation) and a line diff between two policy files. Creating a user is itself logged
//! (`tracing`, without the password).
//!
//! The log keeps each activated version's SHA-256, not its text, so the diff compares the
//! texts this server has: the shipped editions and the file it was started with. A logged
//! version whose text is neither is listed as such.

use super::diff::{self, Line};
use super::password::{self, Cost};
use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, msg, shanghai};
use crate::app::Role;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::PersonId;
use xikang_domain::VenueId;
use xikang_domain::event::EventBody;
use xikang_domain::policy::{DEFAULT_POLICY_TOML, ERSHITIAO_POLICY_TOML, Policy};
use xikang_domain::{AreaCode, EventSeq};
use xikang_store::{ConflictKind, StoreError, User};

/// A new user as the form sends it.
#[derive(Debug, Default, Deserialize)]
pub struct NewUser {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    area: String,
    #[serde(default)]
    venue: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    enterprise: String,
}

/// A validated new user (before hashing). Shared by the form and `xikang user create`.
#[derive(Debug)]
pub struct UserSpec {
    pub name: String,
    pub role: Role,
    pub area: AreaCode,
    pub venue: Option<xikang_domain::VenueId>,
    pub person: Option<xikang_domain::PersonId>,
    /// For an enterprise's account: the enterprise it stands for.
    pub enterprise: Option<xikang_domain::enterprise::CreditCode>,
}

/// Checks a new user's fields: `Err((field, code, message))`.
pub fn parse_user(
    name: &str,
    password: &str,
    role: &str,
    area: &str,
    venue: &str,
    person: &str,
    enterprise: &str,
) -> Result<UserSpec, (&'static str, &'static str, String)> {
    let name = name.trim();
    let name_ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.@".contains(c));
    if !name_ok {
        return Err((
            "name",
            "invalid_user",
            "a user name is 1–64 letters, digits, - _ . @".into(),
        ));
    }
    if password.chars().count() < password::MIN_LENGTH {
        return Err((
            "password",
            "weak_password",
            format!(
                "a password has at least {} characters",
                password::MIN_LENGTH
            ),
        ));
    }
    let role =
        Role::parse(role.trim()).ok_or(("role", "invalid_user", "unknown role".to_owned()))?;
    let area = AreaCode::parse(area.trim()).map_err(|e| ("area", "invalid_user", e.to_string()))?;
    let venue = match venue.trim() {
        "" => None,
        v => Some(VenueId::parse(v).ok_or((
            "venue",
            "invalid_user",
            "a venue id looks like V12".to_owned(),
        ))?),
    };
    let person = match person.trim() {
        "" => None,
        p => Some(PersonId::parse(p).ok_or((
            "person",
            "invalid_user",
            "a person id looks like P12".to_owned(),
        ))?),
    };
    if role == Role::Resident && person.is_none() {
        return Err((
            "person",
            "invalid_user",
            "a resident user names the person they are".into(),
        ));
    }
    let given = Some(enterprise.trim()).filter(|e| !e.is_empty());
    let enterprise = crate::api::enterprise_of(role, given)
        .map_err(|e| ("enterprise", e.summary().1, e.summary().2))?;
    Ok(UserSpec {
        name: name.to_owned(),
        role,
        area,
        venue,
        person,
        enterprise,
    })
}

/// The stored user for a spec, with the password hashed at `cost`.
pub fn user_of(
    spec: &UserSpec,
    password: &str,
    cost: Cost,
    now: xikang_domain::Timestamp,
) -> Result<User, String> {
    Ok(User {
        name: spec.name.clone(),
        password_hash: password::hash(password, cost)?,
        role: spec.role.as_str().to_owned(),
        area: spec.area.clone(),
        venue: spec.venue,
        person: spec.person,
        id_lookup: matches!(spec.role, Role::Admin),
        enterprise: spec.enterprise.clone().map(String::from),
        disabled: false,
        created_at: now,
    })
}

const ROLES: &[(&str, &str)] = &[
    ("admin", msg("admin-admin")),
    ("tracer", msg("admin-tracer")),
    ("lab", msg("admin-lab")),
    ("venue_device", msg("admin-venue")),
    ("grid_worker", msg("admin-grid-worker")),
    ("resident", msg("admin-resident")),
    ("enterprise", msg("admin-enterprise")),
];

fn users_page(
    state: &AppState,
    user: &WebUser,
    users: &[User],
    f: &NewUser,
    error: Option<(&str, String)>,
    status: StatusCode,
) -> Response {
    let lang = user.lang;
    let mut h = String::new();
    let _ = write!(
        h,
        "<table id=\"users\">{}<tbody>",
        super::thead(&[
            lang.m("admin-name"),
            lang.m("admin-role"),
            lang.m("admin-jurisdiction"),
            lang.m("admin-bound-to"),
            lang.m("common-state"),
        ]),
    );
    for u in users {
        let bound = u
            .venue
            .map(|v| v.to_string())
            .or(u.person.map(|p| p.to_string()))
            .or(u.enterprise.clone())
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&u.name),
            esc(&u.role),
            esc(u.area.as_str()),
            esc(&bound),
            if u.disabled {
                lang.m("admin-disabled")
            } else {
                lang.m("admin-active")
            }
        );
    }
    h.push_str("</tbody></table>");
    let err_for = |field: &str| match &error {
        Some((f, m)) if *f == field => format!(
            "<p class=\"err\" role=\"alert\" id=\"{field}-error\">{}</p>",
            esc(m)
        ),
        _ => String::new(),
    };
    let mut roles = String::new();
    for (v, text) in ROLES {
        let sel = if f.role == *v { " selected" } else { "" };
        let _ = write!(
            roles,
            "<option value=\"{v}\"{sel}>{}</option>",
            lang.m(text)
        );
    }
    let _ = write!(
        h,
        r#"<h2>{title}</h2><form method="post" action="/web/admin/users" class="narrow">{csrf}
<label for="name">{l_name}</label>{e_name}<input id="name" name="name" required value="{name}" autocomplete="off">
<label for="password">{l_pw}</label>{e_pw}<input id="password" name="password" type="password" required minlength="{min}" autocomplete="new-password">
<label for="role">{l_role}</label>{e_role}<select id="role" name="role">{roles}</select>
<label for="area">{l_area}</label>{e_area}<input id="area" name="area" required value="{area}" inputmode="numeric">
<label for="venue">{l_venue}</label>{e_venue}<input id="venue" name="venue" value="{venue}" placeholder="V12">
<label for="person">{l_person}</label>{e_person}<input id="person" name="person" value="{person}" placeholder="P12">
<label for="enterprise">{l_ent}</label>{e_ent}<input id="enterprise" name="enterprise" value="{ent}" placeholder="91320200MA1ABCDE1X" autocomplete="off">
<button type="submit">{l_go}</button></form>"#,
        title = lang.m("admin-new-user"),
        csrf = user.csrf_field(),
        l_name = lang.m("common-user-name"),
        e_name = err_for("name"),
        name = esc(&f.name),
        l_pw = lang.m("admin-initial-password-at-least-10"),
        e_pw = err_for("password"),
        min = password::MIN_LENGTH,
        l_role = lang.m("admin-role"),
        e_role = err_for("role"),
        l_area = lang.m("admin-jurisdiction-code"),
        e_area = err_for("area"),
        area = esc(if f.area.is_empty() {
            state.config.jurisdiction.as_str()
        } else {
            f.area.as_str()
        }),
        l_venue = lang.m("admin-venue-venue-users"),
        e_venue = err_for("venue"),
        venue = esc(&f.venue),
        l_person = lang.m("admin-person-resident-users"),
        e_person = err_for("person"),
        person = esc(&f.person),
        l_ent = lang.m("admin-enterprise-credit-code-enterprise"),
        e_ent = err_for("enterprise"),
        ent = esc(&f.enterprise),
        l_go = lang.m("admin-create"),
    );
    html(
        status,
        layout(
            lang,
            lang.m("common-users"),
            Some(user),
            "/web/admin/users",
            &h,
        ),
    )
}

async fn all_users(state: &AppState) -> Result<Vec<User>, AppError> {
    let store = state.store.clone();
    Ok(tokio::task::spawn_blocking(move || store.users()).await??)
}

/// `GET /web/admin/users`.
pub async fn users(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    if let Some(r) = user.forbid_unless(&[Role::Admin], "managing users") {
        return r;
    }
    match all_users(&state).await {
        Ok(list) => users_page(
            &state,
            &user,
            &list,
            &NewUser {
                role: "tracer".into(),
                ..NewUser::default()
            },
            None,
            StatusCode::OK,
        ),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// `POST /web/admin/users`: creates a user inside the admin's jurisdiction.
pub async fn create_user(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<NewUser>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(&[Role::Admin], "managing users") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let list = match all_users(&state).await {
        Ok(l) => l,
        Err(e) => return error_page(lang, Some(&user), &e),
    };
    let refuse = |field: &str, code: &str, msg: &str, status: StatusCode| {
        let text = super::i18n::error_text(lang, code, msg);
        users_page(&state, &user, &list, &f, Some((field, text)), status)
    };
    let spec = match parse_user(
        &f.name,
        &f.password,
        &f.role,
        &f.area,
        &f.venue,
        &f.person,
        &f.enterprise,
    ) {
        Ok(s) => s,
        Err((field, code, msg)) => return refuse(field, code, &msg, StatusCode::BAD_REQUEST),
    };
    if !user.caller.covers(&spec.area) {
        return refuse(
            "area",
            "forbidden",
            "the area is outside your jurisdiction",
            StatusCode::FORBIDDEN,
        );
    }
    // The same rule as for API tokens: a user's venue or person lies inside their area.
    if let Err(e) =
        crate::app::authorise::token_subject(&state, &spec.area, spec.venue, spec.person)
    {
        let field = if spec.venue.is_some() {
            "venue"
        } else {
            "person"
        };
        let (status, code, msg) = e.summary();
        return refuse(field, code, &msg, status);
    }
    let (store, pw, now) = (state.store.clone(), f.password.clone(), crate::now());
    let made = tokio::task::spawn_blocking(move || {
        let u = user_of(&spec, &pw, Cost::Standard, now).map_err(StoreError::Corrupt)?;
        store.insert_user(&u)
    })
    .await;
    match made {
        Ok(Ok(())) => {
            tracing::info!(by = %user.name, "web user created");
            Redirect::to("/web/admin/users").into_response()
        }
        Ok(Err(StoreError::Conflict(ConflictKind::Duplicate { .. }))) => refuse(
            "name",
            "user_exists",
            "that user name is taken",
            StatusCode::CONFLICT,
        ),
        Ok(Err(e)) => error_page(lang, Some(&user), &AppError::from(e)),
        Err(e) => error_page(lang, Some(&user), &AppError::from(e)),
    }
}

/// `GET /web/admin/policy`: the active policy and every activation in the log.
pub async fn policy(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(&[Role::Admin], "policy versions") {
        return r;
    }
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut after = EventSeq(0);
        loop {
            let batch = store.events_after(after, 10_000)?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            out.extend(
                batch
                    .into_iter()
                    .filter(|e| matches!(e.body, EventBody::PolicyActivated { .. })),
            );
        }
        Ok::<_, StoreError>(out)
    })
    .await;
    let events = match found {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return error_page(lang, Some(&user), &AppError::from(e)),
        Err(e) => return error_page(lang, Some(&user), &AppError::from(e)),
    };
    let p = state.policy();
    let mut h = format!(
        "<p>{}: <strong id=\"active-policy\">{}</strong> ({} {})</p>",
        lang.m("admin-active-policy"),
        esc(p.version()),
        lang.m("admin-effective-from"),
        esc(&p.effective_from().to_string())
    );
    let known = known_policies(&state);
    let _ = write!(
        h,
        "<p><a id=\"compare\" href=\"/web/admin/policy/diff\">{}</a></p><table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">SHA-256</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        lang.m("admin-compare-two-policy-versions"),
        lang.m("admin-event"),
        lang.m("admin-version"),
        lang.m("admin-activated"),
        lang.m("admin-by"),
        lang.m("admin-text"),
    );
    // Each activation against the one before it, when this server has both texts.
    let activations: Vec<(&xikang_domain::event::StoredEvent, &str, &str)> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::PolicyActivated { version, sha256 } => {
                Some((e, version.as_str(), sha256.as_str()))
            }
            _ => None,
        })
        .collect();
    for (k, (e, version, sha256)) in activations.iter().enumerate().rev() {
        let have = known.iter().any(|p| p.sha256 == *sha256);
        let previous = k.checked_sub(1).map(|p| activations[p].2);
        let text = match previous {
            Some(prev) if have && known.iter().any(|p| p.sha256 == prev) => format!(
                "<a href=\"/web/admin/policy/diff?from={prev}&amp;to={sha256}\">{}</a>",
                lang.m("admin-compare-with-the-previous")
            ),
            _ if have => lang.m("admin-available").to_owned(),
            _ => lang.m("admin-not-on-this-server").to_owned(),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{text}</td></tr>",
            e.seq,
            esc(version),
            esc(sha256.get(..16).unwrap_or(sha256)),
            esc(&shanghai(e.at)),
            esc(&e.actor)
        );
    }
    h.push_str("</tbody></table>");
    html(
        StatusCode::OK,
        layout(
            lang,
            lang.m("admin-policy-versions"),
            Some(&user),
            "/web/admin/policy",
            &h,
        ),
    )
}

/// A policy file whose text this server has.
#[derive(Debug, Clone)]
pub struct KnownPolicy {
    pub version: String,
    pub sha256: String,
    /// Where it comes from, in the page's words: shipped or active.
    pub active: bool,
    pub text: Arc<str>,
}

/// The shipped editions, every version stored in the store (uploaded or loaded at start,
/// `crate::policies`) and the file loaded at start, each text once.
pub fn known_policies(state: &AppState) -> Vec<KnownPolicy> {
    let mut out: Vec<KnownPolicy> = Vec::new();
    let active_version = state.policy().version().to_owned();
    let shipped = [DEFAULT_POLICY_TOML, ERSHITIAO_POLICY_TOML].map(Arc::<str>::from);
    let stored: Vec<Arc<str>> = crate::state::read(&state.policy_versions)
        .iter()
        .map(|p| Arc::from(p.text.as_str()))
        .collect();
    let configured = state.config.policy_text.clone();
    for text in shipped.into_iter().chain(stored).chain(configured) {
        let sha256 = crate::state::policy_sha256(&text);
        if out.iter().any(|p| p.sha256 == sha256) {
            continue;
        }
        let Ok(p) = Policy::parse(&text) else {
            continue;
        };
        out.push(KnownPolicy {
            version: p.version().to_owned(),
            active: p.version() == active_version,
            sha256,
            text,
        });
    }
    out
}

/// The two versions to compare, by SHA-256 (as the log and the links name them).
#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /web/admin/policy/diff?from=SHA&to=SHA`: added and removed lines between two policy
/// files; without a choice, the first shipped edition against the active file.
pub async fn policy_diff(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Query(q): Query<DiffQuery>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(&[Role::Admin], "policy versions") {
        return r;
    }
    let known = known_policies(&state);
    let default_to = known
        .iter()
        .find(|p| p.active)
        .or(known.last())
        .map_or(String::new(), |p| p.sha256.clone());
    let default_from = known
        .iter()
        .find(|p| p.sha256 != default_to)
        .map_or(String::new(), |p| p.sha256.clone());
    let from = q
        .from
        .as_deref()
        .map(str::trim)
        .unwrap_or(&default_from)
        .to_owned();
    let to =
        q.to.as_deref()
            .map(str::trim)
            .unwrap_or(&default_to)
            .to_owned();
    let find = |sha: &str| known.iter().find(|p| p.sha256 == sha);
    let unknown = lang.m("admin-this-server-does-not-have-that");
    let errors: Vec<(&str, &str)> = [("from", &from), ("to", &to)]
        .into_iter()
        .filter(|(_, sha)| find(sha).is_none())
        .map(|(field, _)| (field, unknown))
        .collect();
    let select = |field: &str, label: &str, chosen: &str| {
        let err = errors.iter().find(|(f, _)| *f == field);
        let mut s = format!(
            "<label for=\"{field}\">{label}</label>{}<select id=\"{field}\" name=\"{field}\"{}>",
            err.map_or(String::new(), |(_, m)| format!(
                "<p class=\"err\" id=\"{field}-err\" role=\"alert\">{} <code>{}</code></p>",
                esc(m),
                esc(chosen.get(..64).unwrap_or(chosen))
            )),
            if err.is_some() {
                format!(" aria-invalid=\"true\" aria-describedby=\"{field}-err\"")
            } else {
                String::new()
            }
        );
        for p in &known {
            let _ = write!(
                s,
                "<option value=\"{}\"{}>{}{} · {}</option>",
                p.sha256,
                if p.sha256 == chosen { " selected" } else { "" },
                esc(&p.version),
                if p.active {
                    lang.m("admin-active-2")
                } else {
                    ""
                },
                &p.sha256[..12],
            );
        }
        s.push_str("</select>");
        s
    };
    let mut h = format!(
        "<form method=\"get\" action=\"/web/admin/policy/diff\" class=\"narrow\">{}{}<button type=\"submit\">{}</button></form>",
        select("from", lang.m("admin-old-version"), &from),
        select("to", lang.m("admin-new-version"), &to),
        lang.m("admin-compare"),
    );
    let status = match (find(&from), find(&to)) {
        (Some(a), Some(b)) => {
            h.push_str(&diff_table(lang, a, b, diff::hunks(&a.text, &b.text)));
            StatusCode::OK
        }
        _ => StatusCode::BAD_REQUEST,
    };
    html(
        status,
        layout(
            lang,
            lang.m("admin-policy-diff"),
            Some(&user),
            "/web/admin/policy",
            &h,
        ),
    )
}

/// The diff as a table: line numbers of each side, a `+`/`−` marker (so it does not rely
/// on colour) and the line.
fn diff_table(lang: Lang, a: &KnownPolicy, b: &KnownPolicy, lines: Vec<Line<'_>>) -> String {
    let added = lines
        .iter()
        .filter(|l| matches!(l, Line::Added(..)))
        .count();
    let removed = lines
        .iter()
        .filter(|l| matches!(l, Line::Removed(..)))
        .count();
    let mut s = format!(
        "<p id=\"diff-summary\" data-added=\"{added}\" data-removed=\"{removed}\">{}</p>",
        lang.f(
            "admin-diff-summary",
            &[
                ("from", &esc(&a.version)),
                ("to", &esc(&b.version)),
                ("added", &added),
                ("removed", &removed),
            ],
        )
    );
    let _ = write!(
        s,
        "<div class=\"scroll\"><table class=\"diff\" id=\"diff\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\"><span class=\"sr\">{}</span></th><th scope=\"col\">{}</th></tr></thead><tbody>",
        lang.m("admin-old"),
        lang.m("admin-new"),
        lang.m("admin-change"),
        lang.m("admin-line"),
    );
    for l in lines {
        let _ = match l {
            Line::Same(i, j, t) => write!(
                s,
                "<tr class=\"same\"><td>{i}</td><td>{j}</td><td> </td><td><code>{}</code></td></tr>",
                esc(t)
            ),
            Line::Removed(i, t) => write!(
                s,
                "<tr class=\"del\"><td>{i}</td><td></td><td aria-label=\"{}\">−</td><td><code>{}</code></td></tr>",
                lang.m("admin-removed"),
                esc(t)
            ),
            Line::Added(j, t) => write!(
                s,
                "<tr class=\"add\"><td></td><td>{j}</td><td aria-label=\"{}\">+</td><td><code>{}</code></td></tr>",
                lang.m("admin-added"),
                esc(t)
            ),
            Line::Skipped(n) => write!(
                s,
                "<tr class=\"skip\"><td colspan=\"4\">{}</td></tr>",
                lang.f("admin-unchanged-lines", &[("n", &n)])
            ),
        };
    }
    s.push_str("</tbody></table></div>");
    s
}
