//! The tracer's pages: the list of cases with a form to register one, and a case's contact
//! list with its evidence and the workflow buttons (confirm → notify → quarantine, or
//! dismiss with a reason), plus the CSV/XLSX export links. Decisions go through the API's
//! handlers, so each is the same authority event the API writes.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, shanghai};
use crate::api;
use crate::app::Role;
use crate::app::projection::CaseRecord;
use crate::error::AppError;
use crate::state::{AppState, read};
use crate::trace::{self, ContactRow, Status};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashSet;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::PersonId;
use xikang_domain::event::{CaseKind, ContactKind};

mod decide;
pub use decide::{act, bulk};

const TRACERS: &[Role] = &[Role::Tracer, Role::Admin];

/// Rows shown on one page of a contact list (the export has them all): 50 rows keep the
/// page small (each row has its forms) and a screen reader's table short.
const MAX_ROWS: usize = 50;

/// Most people one bulk decision may name (a page has [`MAX_ROWS`]; a hand-made request
/// cannot make the server decide thousands at once).
const MAX_BULK: usize = 500;

fn kind_text(lang: Lang, k: CaseKind) -> &'static str {
    match k {
        CaseKind::Confirmed => lang.m("tracer-confirmed"),
        CaseKind::Asymptomatic => lang.m("tracer-asymptomatic"),
        CaseKind::Suspected => lang.m("tracer-suspected"),
    }
}

fn status_text(lang: Lang, s: Status) -> &'static str {
    match s {
        Status::Candidate => lang.m("tracer-candidate"),
        Status::Confirmed => lang.m("tracer-confirmed-2"),
        Status::Notified => lang.m("tracer-notified"),
        Status::Quarantined => lang.m("tracer-quarantined"),
        Status::Dismissed => lang.m("tracer-dismissed"),
    }
}

fn contact_kind_text(lang: Lang, k: ContactKind) -> &'static str {
    match k {
        ContactKind::Close => lang.m("tracer-close"),
        ContactKind::Secondary => lang.m("tracer-secondary"),
        ContactKind::Companion => lang.m("tracer-companion"),
        ContactKind::General => lang.m("tracer-general"),
    }
}

/// What the user typed into the case form, kept when it is refused.
#[derive(Debug, Default, Deserialize)]
pub struct CaseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    onset: String,
    #[serde(default)]
    sampled_at: String,
    #[serde(default)]
    isolated_at: String,
}

/// Which field an error code belongs next to.
fn field_of(code: &str) -> &'static str {
    match code {
        "invalid_person_id" | "unknown_person" | "case_exists" | "forbidden" => "person",
        "isolation_before_onset" => "isolated_at",
        "invalid_kind" => "kind",
        _ => "onset",
    }
}

fn case_form(user: &WebUser, f: &CaseForm, error: Option<(&str, String)>) -> String {
    let lang = user.lang;
    let err_for = |field: &str| match &error {
        Some((f, msg)) if *f == field => format!(
            "<p class=\"err\" role=\"alert\" id=\"{field}-error\">{}</p>",
            esc(msg)
        ),
        _ => String::new(),
    };
    let invalid = |field: &str| match &error {
        Some((f, _)) if *f == field => {
            format!(" aria-invalid=\"true\" aria-describedby=\"{field}-error\"")
        }
        _ => String::new(),
    };
    let option = |v: &str, label: &str| {
        let sel = if f.kind == v { " selected" } else { "" };
        format!("<option value=\"{v}\"{sel}>{label}</option>")
    };
    format!(
        r#"<form method="post" action="/web/cases" class="case-form">{csrf}
<label for="person">{l_person}</label>{e_person}<input id="person" name="person" required value="{person}" placeholder="P12"{i_person}>
<label for="kind">{l_kind}</label>{e_kind}<select id="kind" name="kind"{i_kind}>{o1}{o2}{o3}</select>
<label for="onset">{l_onset}</label>{e_onset}<input id="onset" name="onset" type="datetime-local" value="{onset}"{i_onset}>
<label for="sampled_at">{l_sampled}</label><input id="sampled_at" name="sampled_at" type="datetime-local" value="{sampled}">
<label for="isolated_at">{l_isolated}</label>{e_iso}<input id="isolated_at" name="isolated_at" type="datetime-local" value="{isolated}"{i_iso}>
<small>{l_tz}</small><button type="submit">{l_go}</button></form>"#,
        csrf = user.csrf_field(),
        l_person = lang.m("tracer-person-id"),
        e_person = err_for("person"),
        i_person = invalid("person"),
        person = esc(&f.person),
        l_kind = lang.m("common-kind-2"),
        e_kind = err_for("kind"),
        i_kind = invalid("kind"),
        o1 = option("confirmed", kind_text(lang, CaseKind::Confirmed)),
        o2 = option("asymptomatic", kind_text(lang, CaseKind::Asymptomatic)),
        o3 = option("suspected", kind_text(lang, CaseKind::Suspected)),
        l_onset = lang.m("tracer-symptom-onset"),
        e_onset = err_for("onset"),
        i_onset = invalid("onset"),
        onset = esc(&f.onset),
        l_sampled = lang.m("tracer-sampled-required-if-asymptomatic"),
        sampled = esc(&f.sampled_at),
        l_isolated = lang.m("tracer-isolated"),
        e_iso = err_for("isolated_at"),
        i_iso = invalid("isolated_at"),
        isolated = esc(&f.isolated_at),
        l_tz = lang.m("tracer-times-are-beijing-time"),
        l_go = lang.m("tracer-register-the-case"),
    )
}

fn cases_page(
    state: &AppState,
    user: &WebUser,
    f: &CaseForm,
    error: Option<(&str, String)>,
    status: StatusCode,
) -> Response {
    let lang = user.lang;
    let mut h = String::new();
    let _ = write!(h, "<h2>{}</h2>", lang.m("tracer-register-a-case"));
    h.push_str(&case_form(user, f, error));
    let cases: Vec<CaseRecord> = read(&state.projection.cases)
        .values()
        .rev()
        .filter(|c| {
            state
                .projection
                .person_area(c.person)
                .is_some_and(|a| user.caller.covers(&a))
        })
        .take(200)
        .cloned()
        .collect();
    let _ = write!(
        h,
        "<h2>{}</h2><table>{}<tbody>",
        lang.m("common-cases"),
        super::thead(&[
            lang.m("tracer-case"),
            lang.m("common-person"),
            lang.m("common-kind-2"),
            lang.m("tracer-registered"),
            lang.m("common-state"),
        ]),
    );
    for c in &cases {
        let _ = write!(
            h,
            "<tr><td><a href=\"/web/cases/{id}\">{id}</a></td><td><a href=\"/web/people/{p}\">{p}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            kind_text(lang, c.kind),
            esc(&shanghai(c.registered_at)),
            stage_text(lang, c.course.stage),
            id = c.id,
            p = c.person,
        );
    }
    h.push_str("</tbody></table>");
    if cases.is_empty() {
        let _ = write!(h, "<p>{}</p>", lang.m("tracer-no-cases-yet"));
    }
    html(
        status,
        layout(lang, lang.m("common-tracing"), Some(user), "/web/cases", &h),
    )
}

/// `GET /web/cases`.
pub async fn cases(State(state): State<Arc<AppState>>, user: WebUser) -> Response {
    if let Some(r) = user.forbid_unless(TRACERS, "tracing") {
        return r;
    }
    cases_page(
        &state,
        &user,
        &CaseForm {
            kind: "confirmed".into(),
            ..CaseForm::default()
        },
        None,
        StatusCode::OK,
    )
}

/// `POST /web/cases`: registers a case and opens its contact list.
pub async fn register(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Form(f): Form<CaseForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(TRACERS, "tracing") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let refuse = |field: &str, code: &str, msg: &str, status: StatusCode| {
        let text = super::i18n::error_text(lang, code, msg);
        cases_page(&state, &user, &f, Some((field, text)), status)
    };
    let mut times = Vec::new();
    for (field, v) in [
        ("onset", &f.onset),
        ("onset", &f.sampled_at),
        ("isolated_at", &f.isolated_at),
    ] {
        match super::local_time(v) {
            Ok(t) => times.push(t),
            Err(super::BadTime) => {
                return refuse(
                    field,
                    "invalid_time",
                    "not a date and time",
                    StatusCode::BAD_REQUEST,
                );
            }
        }
    }
    if !matches!(f.kind.as_str(), "confirmed" | "asymptomatic" | "suspected") {
        return refuse(
            "kind",
            "invalid_kind",
            "choose a kind",
            StatusCode::BAD_REQUEST,
        );
    }
    let made = match crate::json::from_value::<api::CaseIn>(json!({
        "person": f.person.trim(),
        "kind": f.kind,
        "onset": times[0],
        "sampled_at": times[1],
        "isolated_at": times[2],
    })) {
        Ok(b) => api::register_case(&state, &user.caller, b).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(made) => Redirect::to(&format!("/web/cases/{}", made.case.id)).into_response(),
        Err(e) => {
            let (status, code, msg) = e.summary();
            if status.is_server_error() {
                return error_page(lang, Some(&user), &e);
            }
            refuse(field_of(code), code, &msg, status)
        }
    }
}

fn actions(user: &WebUser, case: &CaseRecord, row: &ContactRow) -> String {
    let lang = user.lang;
    // Each button is named with its person ("确认 P12"): a list of identical "确认" buttons
    // says nothing to a screen reader's list of buttons.
    let button = |action: &str, label: &str, extra: &str| {
        format!(
            "<form method=\"post\" action=\"/web/cases/{}/contacts/{p}\" class=\"act\">{}<input type=\"hidden\" name=\"action\" value=\"{action}\">{extra}<button type=\"submit\" data-action=\"{action}\" aria-label=\"{label} {p}\">{label}</button></form>",
            case.id,
            user.csrf_field(),
            p = esc(&row.person),
        )
    };
    let dismiss = || {
        let id = format!("reason-{}", esc(&row.person));
        button(
            "dismiss",
            lang.m("tracer-dismiss"),
            &format!(
                "<label for=\"{id}\" class=\"sr\">{} {}</label><input id=\"{id}\" name=\"reason\" required placeholder=\"{}\">",
                lang.m("tracer-reason-for-dismissing"),
                esc(&row.person),
                lang.m("tracer-reason")
            ),
        )
    };
    // Centralized quarantine (close contacts) needs a site: S1, S2, … (站点 of the quarantine
    // pages); home isolation (secondary contacts) does not.
    let quarantine = || {
        let id = format!("site-{}", esc(&row.person));
        button(
            "quarantine",
            lang.m("tracer-quarantine"),
            &format!(
                "<label for=\"{id}\" class=\"sr\">{} {}</label><input id=\"{id}\" name=\"site\" size=\"4\" placeholder=\"{}\">",
                lang.m("common-quarantine-site"),
                esc(&row.person),
                lang.m("tracer-site-s1")
            ),
        )
    };
    match row.status {
        Status::Candidate => format!(
            "{}{}",
            button("confirm", lang.m("tracer-confirm"), ""),
            dismiss()
        ),
        Status::Confirmed => format!(
            "{}{}{}",
            button("notify", lang.m("tracer-notified-2"), ""),
            quarantine(),
            dismiss()
        ),
        Status::Notified => format!("{}{}", quarantine(), dismiss()),
        Status::Quarantined | Status::Dismissed => String::new(),
    }
}

/// A tracing rule's name in the page's language (the API's names are English words).
fn rule_text(lang: Lang, rule: &str) -> Option<&'static str> {
    Some(match rule {
        "venue" => lang.m("tracer-venue"),
        "household" => lang.m("tracer-household"),
        "workplace" => lang.m("tracer-workplace"),
        "secondary" => lang.m("tracer-secondary"),
        "companion" => lang.m("tracer-companion"),
        _ => return None,
    })
}

/// The first three pieces of evidence as HTML: rules in the page's language (an unknown
/// rule keeps its English name, marked `lang="en"` on a Chinese page), venue names marked
/// `lang="zh-CN"` on an English page, so a screen reader reads each in its own language.
fn evidence_html(lang: Lang, row: &ContactRow) -> String {
    let mut parts: Vec<String> = row
        .evidence
        .iter()
        .take(3)
        .map(|e| {
            let rule = match (rule_text(lang, e.rule()), lang) {
                (Some(t), _) => t.to_owned(),
                (None, Lang::Zh) => format!("<span lang=\"en\">{}</span>", esc(e.rule())),
                (None, Lang::En) => esc(e.rule()).to_string(),
            };
            let place = match (e.venue_name(), lang) {
                (None, _) => String::new(),
                (Some(v), Lang::Zh) => format!(" {}", esc(v)),
                (Some(v), Lang::En) => format!(" <span lang=\"zh-CN\">{}</span>", esc(v)),
            };
            let mins = e
                .overlap_minutes()
                .map_or(String::new(), |m| format!(" {m}′"));
            format!("{rule}{place}{mins}")
        })
        .collect();
    if row.evidence.len() > 3 {
        parts.push(format!("+{}", row.evidence.len() - 3));
    }
    parts.join("; ")
}

/// `GET /web/cases/{id}`: the contact list with evidence and the workflow buttons.
pub async fn case(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let filter = Filter::of(&q);
    render_case(&state, &user, &id, q.start.unwrap_or(0), filter, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    start: Option<usize>,
    /// `close` or `secondary`; anything else lists both.
    #[serde(default)]
    kind: Option<String>,
    /// `candidate`, `confirmed`, `notified`, `quarantined` or `dismissed`; anything else
    /// lists every status.
    #[serde(default)]
    status: Option<String>,
}

/// Which contacts a page lists. Unknown values in the query mean "all" (a filter is a view,
/// not an input that changes anything).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Filter {
    /// `Some(true)`: close contacts only; `Some(false)`: secondary only.
    close: Option<bool>,
    status: Option<Status>,
}

const STATUSES: [(Status, &str); 5] = [
    (Status::Candidate, "candidate"),
    (Status::Confirmed, "confirmed"),
    (Status::Notified, "notified"),
    (Status::Quarantined, "quarantined"),
    (Status::Dismissed, "dismissed"),
];

impl Filter {
    fn of(q: &PageQuery) -> Filter {
        Filter {
            close: match q.kind.as_deref() {
                Some("close") => Some(true),
                Some("secondary") => Some(false),
                _ => None,
            },
            status: STATUSES
                .iter()
                .find(|(_, k)| q.status.as_deref() == Some(*k))
                .map(|(s, _)| *s),
        }
    }

    fn is_all(self) -> bool {
        self == Filter::default()
    }

    /// The filter as query parameters (`&kind=…&status=…`), for the pager's links.
    fn query(self) -> String {
        let mut q = String::new();
        if let Some(c) = self.close {
            q.push_str(if c { "&kind=close" } else { "&kind=secondary" });
        }
        if let Some(s) = self.status {
            let key = STATUSES
                .iter()
                .find(|(x, _)| *x == s)
                .map_or("", |(_, k)| k);
            let _ = write!(q, "&status={key}");
        }
        q
    }
}

fn slot(s: Status) -> usize {
    match s {
        Status::Candidate => 0,
        Status::Confirmed => 1,
        Status::Notified => 2,
        Status::Quarantined => 3,
        Status::Dismissed => 4,
    }
}

/// One page of a contact list and the figures of the whole list.
struct Listing {
    window: xikang_trace::Interval,
    rows: Vec<ContactRow>,
    total: usize,
    /// By [`slot`] of the status.
    counts: [usize; 5],
    /// Contacts matching the filter (what the pager pages through).
    matching: usize,
}

/// Builds the rows of one page only: a list of 78,000 contacts (a busy case in the
/// 1,000,000-resident city) costs ~100 ms to turn into rows, one page of 500 about 1 ms.
/// The counts by status cover the whole list.
fn page_of(
    state: &AppState,
    case: &CaseRecord,
    mut t: trace::Traced,
    start: usize,
    filter: Filter,
) -> Listing {
    let window = t.close.window;
    let everyone: HashSet<PersonId> = t
        .close
        .contacts
        .iter()
        .map(|c| c.person)
        .chain(t.secondary.contacts.iter().map(|c| c.person))
        .collect();
    let mut counts = [0; 5];
    for p in &everyone {
        let s = state
            .projection
            .tracing
            .designation(case.id, *p)
            .map_or(Status::Candidate, |d| d.status);
        counts[slot(s)] += 1;
    }
    let status_of = |p: PersonId| {
        state
            .projection
            .tracing
            .designation(case.id, p)
            .map_or(Status::Candidate, |d| d.status)
    };
    match filter.close {
        Some(true) => t.secondary.contacts.clear(),
        Some(false) => t.close.contacts.clear(),
        None => {}
    }
    if let Some(s) = filter.status {
        t.close.contacts.retain(|c| status_of(c.person) == s);
        t.secondary.contacts.retain(|c| status_of(c.person) == s);
    }
    let matching = t.close.contacts.len() + t.secondary.contacts.len();
    // Close contacts come first, then secondary ones, as `contact_rows` lists them.
    let n_close = t.close.contacts.len();
    let close_range = start.min(n_close)..(start + MAX_ROWS).min(n_close);
    t.close.contacts = t.close.contacts.drain(close_range).collect();
    let n_sec = t.secondary.contacts.len();
    let sec_start = start.saturating_sub(n_close);
    let sec_len = MAX_ROWS - t.close.contacts.len();
    let sec_range = sec_start.min(n_sec)..(sec_start + sec_len).min(n_sec);
    t.secondary.contacts = t.secondary.contacts.drain(sec_range).collect();
    let on_page: HashSet<PersonId> = t
        .close
        .contacts
        .iter()
        .map(|c| c.person)
        .chain(t.secondary.contacts.iter().map(|c| c.person))
        .collect();
    let mut rows = trace::contact_rows(state, case, &t);
    // `contact_rows` appends decisions about people not on the (shortened) lists: keep those
    // whose evidence the data no longer shows (first page only), drop those listed on
    // another page.
    rows.retain(|r| {
        PersonId::parse(&r.person).is_some_and(|p| {
            on_page.contains(&p) || (filter.is_all() && start == 0 && !everyone.contains(&p))
        })
    });
    let extra = rows
        .iter()
        .filter(|r| PersonId::parse(&r.person).is_some_and(|p| !everyone.contains(&p)))
        .count();
    Listing {
        window,
        rows,
        total: everyone.len() + extra,
        counts,
        matching: matching + extra,
    }
}

async fn render_case(
    state: &Arc<AppState>,
    user: &WebUser,
    id: &str,
    start: usize,
    filter: Filter,
    notice: Option<(bool, String)>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(TRACERS, "tracing") {
        return r;
    }
    let case = match trace::visible_case(state, &user.caller, id) {
        Ok(c) => c.into_inner(),
        Err(e) => return error_page(lang, Some(user), &e),
    };
    let index = match state.projection.tracing.snapshot() {
        Ok(i) => i,
        Err(e) => return error_page(lang, Some(user), &e),
    };
    let (s, c2, now) = (state.clone(), case.clone(), crate::now());
    let traced = tokio::task::spawn_blocking(move || {
        let t = trace::trace_case(&s, &index, &s.policy(), &c2, now)?;
        Ok::<_, AppError>(page_of(&s, &c2, t, start, filter))
    })
    .await;
    let Listing {
        window,
        rows,
        total,
        counts,
        matching,
    } = match traced {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return error_page(lang, Some(user), &e),
        Err(e) => return error_page(lang, Some(user), &AppError::from(e)),
    };
    let mut h = String::new();
    if let Some((ok, msg)) = notice {
        let _ = write!(
            h,
            "<p class=\"{}\" role=\"status\">{}</p>",
            if ok { "ok" } else { "err" },
            esc(&msg)
        );
    }
    let _ = write!(
        h,
        "<p>{} <a href=\"/web/people/{p}\">{p}</a> · {} · {}: {} – {}</p>",
        lang.m("tracer-case-person"),
        kind_text(lang, case.kind),
        lang.m("tracer-exposure-window"),
        esc(&shanghai(window.start)),
        esc(&shanghai(window.end)),
        p = case.person,
    );
    // Where the case's course stands, and who took its confirming steps.
    let course = &case.course;
    let mut steps = vec![stage_text(lang, course.stage).to_owned()];
    for (label, step) in [
        (lang.m("tracer-district-screen"), &course.screened),
        (lang.m("tracer-city-re-check"), &course.rechecked),
    ] {
        if let Some((_, by, at)) = step {
            steps.push(format!("{label}: {by}, {}", shanghai(*at)));
        }
    }
    if let Some((site, at)) = course.hospital {
        steps.push(format!(
            "{} {site}, {}",
            lang.m("tracer-designated-hospital"),
            shanghai(at)
        ));
    }
    let _ = write!(
        h,
        "<p id=\"case-course\" data-stage=\"{}\">{}</p>",
        course.stage.as_str(),
        esc(&steps.join(" · "))
    );
    h.push_str(&super::supervision::timers_section(
        lang,
        &crate::board::supervision::case_timers(state, &case, now),
    ));
    let count = |s: Status| counts[slot(s)];
    let _ = write!(
        h,
        "<p id=\"contact-count\" data-count=\"{total}\">{}: <strong>{total}</strong> · {} {} · {} {} · {} {}</p>",
        lang.m("tracer-contacts"),
        lang.m("tracer-candidates"),
        count(Status::Candidate),
        lang.m("tracer-confirmed-2"),
        count(Status::Confirmed) + count(Status::Notified),
        lang.m("tracer-quarantined"),
        count(Status::Quarantined),
    );
    let _ = write!(
        h,
        "<p>{}: <a href=\"/web/cases/{id}/export?format=csv\">CSV</a> · <a href=\"/web/cases/{id}/export?format=xlsx\">XLSX</a> <small></small></p>",
        lang.m("tracer-export-personal-data-masked-every"),
        id = case.id,
    );
    h.push_str(&filter_form(lang, case.id, filter));
    let _ = write!(
        h,
        "<form id=\"bulk\" method=\"post\" action=\"/web/cases/{}/contacts\" class=\"bulk\">{}<fieldset><legend>{}</legend><label for=\"bulk-action\">{}</label><select id=\"bulk-action\" name=\"action\"><option value=\"confirm\">{}</option><option value=\"dismiss\">{}</option></select><label for=\"bulk-reason\">{}</label><input id=\"bulk-reason\" name=\"reason\"><button type=\"submit\">{}</button></fieldset></form>",
        case.id,
        user.csrf_field(),
        lang.m("tracer-decide-the-selected-contacts"),
        lang.m("common-action"),
        lang.m("tracer-confirm"),
        lang.m("tracer-dismiss"),
        lang.m("tracer-reason-required-to-dismiss"),
        lang.m("tracer-apply-to-selected"),
    );
    let heads = [
        lang.m("tracer-select"),
        lang.m("common-person"),
        lang.m("common-kind"),
        lang.m("common-status"),
        lang.m("tracer-last-exposure"),
        lang.m("tracer-overlap-min"),
        lang.m("tracer-evidence"),
        lang.m("common-action"),
    ];
    let _ = write!(
        h,
        "<div class=\"scroll\"><table id=\"contacts\" class=\"stack\">{}<tbody>",
        super::thead(&heads),
    );
    for r in &rows {
        let last = xikang_domain::Timestamp::parse_rfc3339(&r.last_exposure)
            .map(shanghai)
            .unwrap_or_default();
        // Rows with a next step can be picked for a bulk decision (the checkbox belongs to
        // the bulk form through `form=`: forms cannot nest inside the row's own forms).
        let pick = match r.status {
            Status::Candidate | Status::Confirmed | Status::Notified => format!(
                "<input type=\"checkbox\" id=\"pick-{p}\" name=\"person\" value=\"{p}\" form=\"bulk\"><label for=\"pick-{p}\" class=\"sr\">{} {p}</label>",
                lang.m("tracer-select"),
                p = esc(&r.person),
            ),
            Status::Quarantined | Status::Dismissed => String::new(),
        };
        let _ = write!(
            h,
            "<tr data-person=\"{p}\" data-status=\"{st:?}\"><td data-label=\"{}\">{pick}</td><td data-label=\"{}\"><a href=\"/web/people/{p}\">{p}</a></td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\" class=\"actions\">{}</td></tr>",
            heads[0],
            heads[1],
            heads[2],
            contact_kind_text(lang, r.kind),
            heads[3],
            status_text(lang, r.status),
            heads[4],
            esc(&last),
            heads[5],
            r.overlap_minutes,
            heads[6],
            evidence_html(lang, r),
            heads[7],
            actions(user, &case, r),
            p = esc(&r.person),
            st = r.status,
        );
    }
    h.push_str("</tbody></table></div>");
    let _ = write!(
        h,
        "<nav class=\"pager\" aria-label=\"{}\"><p id=\"contact-page\" data-start=\"{start}\" data-shown=\"{}\" data-matching=\"{matching}\">{} {}–{} / {matching}",
        lang.m("tracer-contact-list-pages"),
        rows.len(),
        lang.m("tracer-showing"),
        (start + 1).min(matching),
        (start + rows.len()).min(matching),
    );
    let fq = filter.query();
    if start > 0 {
        let _ = write!(
            h,
            " · <a rel=\"prev\" href=\"/web/cases/{}?start={}{fq}#contacts\">{}</a>",
            case.id,
            start.saturating_sub(MAX_ROWS),
            lang.m("common-previous")
        );
    }
    if start + MAX_ROWS < matching {
        let _ = write!(
            h,
            " · <a rel=\"next\" href=\"/web/cases/{}?start={}{fq}#contacts\">{}</a>",
            case.id,
            start + MAX_ROWS,
            lang.m("common-next")
        );
    }
    h.push_str("</p></nav>");
    let title = format!("{} {}", lang.m("tracer-case-2"), case.id);
    html(
        StatusCode::OK,
        layout(lang, &title, Some(user), "/web/cases", &h),
    )
}

/// The filter form above a contact list: by kind and by status, a plain GET.
fn filter_form(lang: Lang, case: impl std::fmt::Display, filter: Filter) -> String {
    let opt = |value: &str, text: &str, on: bool| {
        format!(
            "<option value=\"{value}\"{}>{text}</option>",
            if on { " selected" } else { "" }
        )
    };
    let mut kinds = opt("all", lang.m("common-all"), filter.close.is_none());
    kinds.push_str(&opt(
        "close",
        lang.m("tracer-close"),
        filter.close == Some(true),
    ));
    kinds.push_str(&opt(
        "secondary",
        lang.m("tracer-secondary"),
        filter.close == Some(false),
    ));
    let mut statuses = opt("all", lang.m("common-all"), filter.status.is_none());
    for (st, key) in STATUSES {
        statuses.push_str(&opt(key, status_text(lang, st), filter.status == Some(st)));
    }
    format!(
        "<form id=\"filter\" method=\"get\" action=\"/web/cases/{case}\" class=\"filters\"><div><label for=\"filter-kind\">{}</label><select id=\"filter-kind\" name=\"kind\">{kinds}</select></div><div><label for=\"filter-status\">{}</label><select id=\"filter-status\" name=\"status\">{statuses}</select></div><button type=\"submit\">{}</button></form>",
        lang.m("common-kind"),
        lang.m("common-status"),
        lang.m("common-filter"),
    )
}

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /web/cases/{id}/export?format=csv|xlsx`: the masked export, as the API makes it
/// (and logs it).
pub async fn export(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Response {
    let format = q.format.unwrap_or_else(|| "csv".into());
    let query = trace::ContactQuery::masked_export(format);
    let export = match trace::visible_case(&state, &user.caller, &id) {
        Ok(case) => trace::export_contact_list(&state, &user.caller, case, &query).await,
        Err(e) => Err(e),
    };
    match export {
        Ok(file) => file.into_response(),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// A case's stage in the page's language.
pub fn stage_text(lang: Lang, stage: xikang_domain::case::Stage) -> &'static str {
    use xikang_domain::case::Stage;
    match stage {
        Stage::Suspected => lang.m("tracer-suspected-awaiting-the-district"),
        Stage::Screened => lang.m("tracer-screened-awaiting-the-city-re-check"),
        Stage::Confirmed => lang.m("tracer-under-treatment"),
        Stage::Discharged => lang.m("tracer-discharged-in-health-monitoring"),
        Stage::Closed => lang.m("tracer-closed"),
        Stage::Excluded => lang.m("tracer-excluded"),
        Stage::Died => lang.m("tracer-died"),
    }
}
