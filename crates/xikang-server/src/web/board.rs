//! The public message board page (民声留言板, `/board`, docs/citizens.md): anyone, without
//! logging in, reads the statistics in the published form and the answered messages
//! (masked), and posts a message through [`crate::board::messages::post`], as the API
//! does. Made for a phone first: one column, native controls. The form carries a
//! double-submit CSRF cookie (`xk_board`), as the claim form does.

use super::session::{ClientAddr, random_hex, same, secure, with_cookie};
use super::{Lang, esc, html, layout, shanghai};
use crate::board::messages::{self, MessageIn, PublicQuery};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::fmt::Write;
use std::sync::Arc;
use xikang_domain::AreaCode;
use xikang_domain::board::{
    Category, Department, MAX_TEXT_CHARS, MAX_TITLE_CHARS, stats_sentence_en, stats_sentence_zh,
};

const BOARD_COOKIE: &str = "xk_board";

/// The districts of the city, with names where the store has them.
pub async fn districts(state: &AppState) -> Vec<(AreaCode, String)> {
    let store = state.store.clone();
    let names = tokio::task::spawn_blocking(move || store.area_names())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mut out: Vec<(AreaCode, String)> = state
        .projection
        .communities
        .all()
        .iter()
        .map(AreaCode::district)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|d| {
            let name = names
                .iter()
                .find(|(c, _)| *c == d)
                .map_or_else(|| d.to_string(), |(_, n)| n.clone());
            (d, name)
        })
        .collect();
    out.sort();
    out
}

/// A district's name, or its code.
pub fn district_name(districts: &[(AreaCode, String)], code: &str) -> String {
    districts
        .iter()
        .find(|(c, _)| c.as_str() == code)
        .map_or_else(|| code.to_owned(), |(_, n)| n.clone())
}

/// What the form keeps after a refusal.
#[derive(Debug, Default, Deserialize)]
pub struct PostForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

fn category_name(lang: Lang, c: Category) -> &'static str {
    lang.supplied(c.zh(), c.en())
}

fn department_name(lang: Lang, d: Department) -> &'static str {
    lang.supplied(d.zh(), d.en())
}

fn form(
    lang: Lang,
    csrf: &str,
    districts: &[(AreaCode, String)],
    kept: &PostForm,
    note: &str,
) -> String {
    let mut cats = String::new();
    for c in Category::ALL {
        let _ = write!(
            cats,
            "<option value=\"{v}\"{sel}>{n}</option>",
            v = c.as_str(),
            sel = if kept.category == c.as_str() {
                " selected"
            } else {
                ""
            },
            n = category_name(lang, c)
        );
    }
    let mut ds = format!(
        "<option value=\"\">{}</option>",
        lang.m("board-not-sure-the-city-routes-it")
    );
    for (d, name) in districts {
        let _ = write!(
            ds,
            "<option value=\"{d}\"{sel}>{n}</option>",
            sel = if kept.district == d.as_str() {
                " selected"
            } else {
                ""
            },
            n = esc(name)
        );
    }
    format!(
        r#"<section aria-labelledby="post-h"><h2 id="post-h">{h}</h2><p>{intro}</p>{note}
<form method="post" action="/board" class="narrow" id="post-form"><input type="hidden" name="csrf" value="{csrf}">
<label for="category">{l_cat}</label><select id="category" name="category" required>{cats}</select>
<label for="district">{l_district}</label><select id="district" name="district">{ds}</select>
<label for="title">{l_title}</label><input id="title" name="title" required maxlength="{max_title}" value="{title}">
<label for="text">{l_text}</label><textarea id="text" name="text" rows="5" required maxlength="{max_text}">{text}</textarea>
<button type="submit">{l_go}</button></form></section>"#,
        h = lang.m("board-post-a-message"),
        intro = lang.m("board-no-login-needed-do-not-write-your"),
        csrf = esc(csrf),
        l_cat = lang.m("board-category"),
        l_district = lang.m("board-district"),
        l_title = lang.m("board-title"),
        max_title = MAX_TITLE_CHARS,
        title = esc(&kept.title),
        l_text = lang.m("board-message"),
        max_text = MAX_TEXT_CHARS,
        text = esc(&kept.text),
        l_go = lang.m("board-post-the-message"),
    )
}

fn answered(
    lang: Lang,
    state: &AppState,
    districts: &[(AreaCode, String)],
    page: Option<u32>,
) -> Result<String, AppError> {
    let list = messages::public_list(
        state,
        &PublicQuery {
            district: None,
            page,
        },
    )?;
    let mut s = format!(
        "<section aria-labelledby=\"answered-h\"><h2 id=\"answered-h\">{}</h2><ol id=\"answered\" class=\"board\">",
        lang.m("board-answered-messages")
    );
    for m in &list.items {
        let cat = Category::parse(m.category).map_or("", |c| category_name(lang, c));
        let dep = Department::parse(m.department).map_or("", |d| department_name(lang, d));
        let at = |t: &str| {
            xikang_domain::Timestamp::parse_rfc3339(t)
                .map(shanghai)
                .unwrap_or_default()
        };
        let _ = write!(
            s,
            r#"<li class="message" id="m-{id}"><h3>{title}</h3><p class="meta">{cat} · {area} · {posted}</p><p>{text}</p><div class="reply"><p class="meta">{dep} {l_reply}（{replied}）{closed}</p><p>{reply}</p></div></li>"#,
            id = esc(&m.id),
            title = esc(&m.title),
            area = esc(&district_name(districts, &m.area)),
            posted = esc(&at(&m.posted_at)),
            text = esc(&m.text),
            l_reply = lang.m("board-replied"),
            replied = esc(&at(&m.replied_at)),
            closed = if m.closed { lang.m("board-closed") } else { "" },
            reply = esc(&m.reply),
        );
    }
    s.push_str("</ol>");
    let pages = list.total.div_ceil(list.page_size).max(1);
    if pages > 1 {
        s.push_str("<nav class=\"pages\" aria-label=\"");
        s.push_str(lang.m("board-pages"));
        s.push_str("\">");
        if list.page > 1 {
            let _ = write!(
                s,
                "<a href=\"/board?page={}\">{}</a> ",
                list.page - 1,
                lang.m("common-previous")
            );
        }
        let _ = write!(s, "<span>{} / {pages}</span>", list.page);
        if list.page < pages {
            let _ = write!(
                s,
                " <a href=\"/board?page={}\">{}</a>",
                list.page + 1,
                lang.m("common-next")
            );
        }
        s.push_str("</nav>");
    }
    s.push_str("</section>");
    Ok(s)
}

fn stats_line(lang: Lang, state: &AppState) -> Result<String, AppError> {
    let (r, c) = messages::totals(state);
    Ok(format!(
        "<p id=\"board-stats\" data-received=\"{r}\" data-closed=\"{c}\">{t}</p>",
        t = esc(&match lang {
            Lang::Zh => stats_sentence_zh(r, c),
            Lang::En => stats_sentence_en(r, c),
        })
    ))
}

async fn render(
    state: &AppState,
    lang: Lang,
    status: StatusCode,
    csrf: &str,
    kept: &PostForm,
    note: &str,
    page: Option<u32>,
) -> Response {
    let districts = districts(state).await;
    let body = match (
        stats_line(lang, state),
        answered(lang, state, &districts, page),
    ) {
        (Ok(st), Ok(list)) => format!("{st}{}{list}", form(lang, csrf, &districts, kept, note)),
        (Err(e), _) | (_, Err(e)) => error_note(lang, &e).1,
    };
    with_cookie(
        html(
            status,
            layout(
                lang,
                lang.m("board-citizens-message-board"),
                None,
                "/board",
                &body,
            ),
        ),
        format!(
            "{BOARD_COOKIE}={csrf}; Path=/board; HttpOnly; SameSite=Strict; Max-Age=3600{}",
            secure(state)
        ),
    )
}

fn error_note(lang: Lang, e: &AppError) -> (StatusCode, String) {
    super::alert_note(lang, e, "board-error")
}

/// `?page=`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: Option<u32>,
}

/// `GET /board`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let csrf = super::session::cookie(&headers, BOARD_COOKIE).unwrap_or_else(random_hex);
    render(
        &state,
        lang,
        StatusCode::OK,
        &csrf,
        &PostForm::default(),
        "",
        q.page,
    )
    .await
}

/// `POST /board`: posts through the same command as the API; the page again with the
/// message's number and deadline, or with the refusal and the text kept.
pub async fn post(
    State(state): State<Arc<AppState>>,
    lang: Lang,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<PostForm>,
) -> Response {
    let cookie = super::session::cookie(&headers, BOARD_COOKIE).filter(|c| !c.is_empty());
    let Some(csrf) = cookie.filter(|c| same(c, &f.csrf)) else {
        let csrf = random_hex();
        let (_, note) = error_note(lang, &AppError::bad("csrf", "the form is out of date"));
        return render(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            &csrf,
            &f,
            &note,
            None,
        )
        .await;
    };
    let input = MessageIn {
        category: f.category.clone(),
        title: f.title.clone(),
        text: f.text.clone(),
        district: Some(f.district.clone()),
    };
    match messages::post(&state, addr, input).await {
        Ok(out) => {
            let due = xikang_domain::Timestamp::parse_rfc3339(&out.due_at)
                .map(shanghai)
                .unwrap_or_default();
            let dep = Department::parse(out.department).map_or("", |d| department_name(lang, d));
            let note = format!(
                "<p class=\"ok\" role=\"status\" id=\"board-posted\" data-id=\"{id}\">{}</p>",
                esc(&lang.f(
                    "board-posted",
                    &[("id", &out.id), ("department", &dep), ("due", &due)],
                )),
                id = esc(&out.id),
            );
            render(
                &state,
                lang,
                StatusCode::OK,
                &csrf,
                &PostForm::default(),
                &note,
                None,
            )
            .await
        }
        Err(e) => {
            let (status, note) = error_note(lang, &e);
            render(&state, lang, status, &csrf, &f, &note, None).await
        }
    }
}
