//! The grid worker's page (phone first): the open tasks of the worker's own cells, earliest
//! due first, overdue and due-today marked, and a note-and-done form under each task.
//! Completion goes through the API's `complete_task` handler, so the page and the API check
//! the same cells and write the same duty record.

use super::session::WebUser;
use super::{Lang, error_page, esc, html, layout, shanghai};
use crate::app::Role;
use crate::duties;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::duties::TaskKind;
use xikang_domain::{CivilDay, GridCell, TaskId};
use xikang_store::TaskRecord;

const WORKERS: &[Role] = &[Role::GridWorker];

/// Tasks shown at once (the oldest due first; the rest appear as these are done).
const MAX_TASKS: u32 = 200;

fn kind_text(lang: Lang, k: TaskKind) -> &'static str {
    match k {
        TaskKind::DoorToDoorScreening => lang.m("grid-door-to-door-screening"),
        TaskKind::Delivery => lang.m("grid-delivery"),
        TaskKind::HomeIsolationCheck => lang.m("grid-home-isolation-check"),
        TaskKind::HealthReportMissed => lang.m("grid-missed-health-report"),
        TaskKind::ArrangeTest => lang.m("grid-arrange-a-test"),
        TaskKind::Retest => lang.m("grid-arrange-a-retest"),
        TaskKind::UnsampledResident => lang.m("grid-resident-not-sampled"),
        TaskKind::ArrangeRetest => lang.m("grid-single-tube-retest-positive-pool"),
        TaskKind::CaseTransfer => lang.m("grid-closed-loop-transfer-of-a-case"),
        TaskKind::VaccinationOutreach => lang.m("grid-vaccination-outreach-60-no-full"),
    }
}

async fn tasks_of(state: &AppState, user: &WebUser) -> Result<Vec<TaskRecord>, AppError> {
    let store = state.store.clone();
    let name = user.caller.name.clone();
    let tasks = tokio::task::spawn_blocking(move || {
        let cells: Vec<GridCell> = store.cells_of_worker(&name)?;
        duties::tasks_for(store.as_ref(), &cells, MAX_TASKS)
    })
    .await??;
    state.access.record(
        &user.caller,
        "GET /web/grid",
        None,
        crate::now(),
        tasks.iter().filter_map(|t| t.person),
    )?;
    Ok(tasks)
}

/// What was typed under one task, kept when it is refused.
#[derive(Debug, Default, Deserialize)]
pub struct DoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct GridQuery {
    done: Option<String>,
}

/// The page; `failed` is the task whose form was refused, with the message and the note.
fn page(
    user: &WebUser,
    tasks: &[TaskRecord],
    done: Option<&str>,
    failed: Option<(&str, &str, &str)>,
) -> String {
    let lang = user.lang;
    let now = crate::now();
    let tomorrow = CivilDay(now.shanghai_day().0 + 1).start();
    let mut s = String::new();
    if let Some(d) = done {
        let _ = write!(
            s,
            "<p class=\"ok\" role=\"status\" id=\"done\">{} {}</p>",
            lang.m("grid-task-done"),
            esc(d)
        );
    }
    let overdue = tasks.iter().filter(|t| t.due_at < now).count();
    let today = tasks.iter().filter(|t| t.due_at < tomorrow).count();
    let _ = write!(
        s,
        "<p id=\"task-count\" data-open=\"{}\" data-today=\"{today}\" data-overdue=\"{overdue}\">{}</p>",
        tasks.len(),
        lang.f(
            "grid-task-count",
            &[
                ("open", &tasks.len()),
                ("today", &today),
                ("overdue", &overdue)
            ],
        )
    );
    if tasks.is_empty() {
        let _ = write!(s, "<p>{}</p>", lang.m("grid-no-open-tasks-in-your-cells"));
    }
    s.push_str("<ol class=\"tasks\">");
    for t in tasks {
        let id = t.id.to_string();
        let (class, when) = if t.due_at < now {
            ("overdue", lang.m("grid-overdue"))
        } else if t.due_at < tomorrow {
            ("today", lang.m("grid-due-today"))
        } else {
            ("later", lang.m("grid-due"))
        };
        let (note, err) = match failed {
            Some((fid, msg, note)) if fid == id => (
                note,
                format!(
                    "<p class=\"err\" id=\"note-{id}-err\" role=\"alert\">{}</p>",
                    esc(msg)
                ),
            ),
            _ => ("", String::new()),
        };
        let aria = if err.is_empty() {
            String::new()
        } else {
            format!(" aria-invalid=\"true\" aria-describedby=\"note-{id}-err\"")
        };
        let person = t.person.map_or(String::new(), |p| {
            format!(" · <a href=\"/web/people/{p}\">{p}</a>")
        });
        let _ = write!(
            s,
            r#"<li class="task {class}" id="task-{id}"><p><strong>{kind}</strong> · {id} · {cell_l} {cell}{person}</p><p>{detail}</p><p class="due">{when} {due}</p>
<form method="post" action="/web/grid/tasks/{id}">{csrf}<label for="note-{id}">{l_note}</label><textarea id="note-{id}" name="note" rows="2" required maxlength="1000"{aria}>{note}</textarea>{err}<button type="submit">{l_done}</button></form></li>"#,
            kind = kind_text(lang, t.kind),
            cell_l = lang.m("grid-cell"),
            cell = t.cell.0,
            detail = super::i18n::lang_runs(lang, &t.detail),
            due = shanghai(t.due_at),
            csrf = user.csrf_field(),
            l_note = lang.m("grid-what-was-done"),
            note = esc(note),
            l_done = lang.m("grid-mark-done"),
        );
    }
    s.push_str("</ol>");
    layout(
        lang,
        lang.m("common-grid-tasks"),
        Some(user),
        "/web/grid",
        &s,
    )
}

/// `GET /web/grid`.
pub async fn tasks(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Query(q): Query<GridQuery>,
) -> Response {
    if let Some(r) = user.forbid_unless(WORKERS, "grid tasks") {
        return r;
    }
    match tasks_of(&state, &user).await {
        Ok(t) => html(
            StatusCode::OK,
            page(&user, &t, q.done.as_deref().filter(|d| d.len() < 24), None),
        ),
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// `POST /web/grid/tasks/{id}`: done, with a note; back to the list (post/redirect/get).
pub async fn complete(
    State(state): State<Arc<AppState>>,
    user: WebUser,
    Path(id): Path<String>,
    Form(f): Form<DoneForm>,
) -> Response {
    let lang = user.lang;
    if let Some(r) = user.forbid_unless(WORKERS, "grid tasks") {
        return r;
    }
    if let Err(e) = user.check_csrf(&f.csrf) {
        return error_page(lang, Some(&user), &e);
    }
    let answer = match crate::extract::parse_id::<TaskId>(&id) {
        Ok(task) => {
            let note = duties::CompleteIn {
                note: f.note.clone(),
            };
            duties::mark_task_done(&state, &user.caller, task, note.into())
                .await
                .map(|_| task)
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok(task) => Redirect::to(&format!(
            "/web/grid?done={}",
            super::urlencode(&task.to_string())
        ))
        .into_response(),
        Err(e) => {
            let (status, code, msg) = e.summary();
            match tasks_of(&state, &user).await {
                Ok(t) if t.iter().any(|t| t.id.to_string() == id) => html(
                    status,
                    page(
                        &user,
                        &t,
                        None,
                        Some((&id, &super::i18n::error_text(lang, code, &msg), &f.note)),
                    ),
                ),
                _ => error_page(lang, Some(&user), &e),
            }
        }
    }
}
