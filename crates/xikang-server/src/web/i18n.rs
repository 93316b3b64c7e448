//! Languages: zh-CN by default, English on request (`?lang=` for one page, the `xk_lang`
//! cookie set by `/web/lang/{zh|en}`, or the browser's `Accept-Language`), and the pages'
//! texts: Fluent message catalogues (`locales/zh-CN/*.ftl`, `locales/en/*.ftl`, compiled in),
//! read with [`Lang::m`] (a text) and [`Lang::f`] (a text with values).

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The catalogue files, one per page area: (area, zh-CN source, en source).
macro_rules! catalogues {
    ($($area:literal),* $(,)?) => {
        &[$((
            $area,
            include_str!(concat!("../../locales/zh-CN/", $area, ".ftl")),
            include_str!(concat!("../../locales/en/", $area, ".ftl")),
        )),*]
    };
}

pub(crate) const SOURCES: &[(&str, &str, &str)] = catalogues!(
    "admin",
    "anomalies",
    "appeals",
    "board",
    "bulletin",
    "cities",
    "claim",
    "common",
    "dashboard",
    "enterprise",
    "enterprises",
    "error",
    "grid",
    "lab",
    "layout",
    "ledger",
    "map",
    "messages",
    "nav",
    "oversight",
    "ranking",
    "resident",
    "sampling",
    "session",
    "site",
    "supervision",
    "tracer",
    "venue",
);

/// One language's messages: the Fluent bundle for texts with values, and every text without
/// values formatted once, so a page pays a hash lookup for it.
struct Catalogue {
    bundle: FluentBundle<FluentResource>,
    plain: HashMap<String, String>,
}

impl Catalogue {
    fn load(lang: Lang) -> Catalogue {
        let locale = lang.html().parse().unwrap_or_default();
        let mut bundle = FluentBundle::new_concurrent(vec![locale]);
        // Fluent wraps values in Unicode isolation marks by default; the pages mark
        // directions with `lang` attributes and the tests read the texts as they are.
        bundle.set_use_isolating(false);
        let mut ids = Vec::new();
        for (area, zh, en) in SOURCES {
            let source = match lang {
                Lang::Zh => zh,
                Lang::En => en,
            };
            let resource =
                FluentResource::try_new((*source).to_owned()).unwrap_or_else(|(r, errors)| {
                    tracing::warn!(
                        area,
                        lang = lang.code(),
                        errors = errors.len(),
                        "catalogue has syntax errors"
                    );
                    r
                });
            ids.extend(resource.entries().filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            }));
            if let Err(errors) = bundle.add_resource(resource) {
                tracing::warn!(
                    area,
                    lang = lang.code(),
                    errors = errors.len(),
                    "catalogue repeats message ids"
                );
            }
        }
        let mut plain = HashMap::with_capacity(ids.len());
        for id in ids {
            let Some(pattern) = bundle.get_message(&id).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle
                .format_pattern(pattern, None, &mut errors)
                .into_owned();
            // A message with variables fails without its arguments: it is for `f`.
            if errors.is_empty() {
                plain.insert(id, text);
            }
        }
        Catalogue { bundle, plain }
    }

    fn of(lang: Lang) -> &'static Catalogue {
        static CATALOGUES: OnceLock<[Catalogue; 2]> = OnceLock::new();
        let [zh, en] =
            CATALOGUES.get_or_init(|| [Catalogue::load(Lang::Zh), Catalogue::load(Lang::En)]);
        match lang {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Marks a message id kept in a table for a later [`Lang::m`], so that the catalogue tests
/// see it as used and check that it exists.
pub const fn msg(id: &'static str) -> &'static str {
    id
}

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Parses `zh` or `en`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The text `id` (a message without values) in this language. A missing id (the tests
    /// rule it out) gives the id itself and a warning, not a panic.
    pub fn m(self, id: &'static str) -> &'static str {
        match Catalogue::of(self).plain.get(id) {
            Some(text) => text,
            None => {
                tracing::warn!(id, lang = self.code(), "no such message without values");
                id
            }
        }
    }

    /// The text `id` with its values (`{ $name }` in the catalogue), each written with
    /// `Display`. The values go in as they are: escape them first where the text is HTML.
    pub fn f(self, id: &str, args: &[(&'static str, &dyn Display)]) -> String {
        let catalogue = Catalogue::of(self);
        let Some(pattern) = catalogue.bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::warn!(id, lang = self.code(), "no such message");
            return id.to_owned();
        };
        let mut values = FluentArgs::with_capacity(args.len());
        for (name, value) in args {
            values.set(*name, FluentValue::from(value.to_string()));
        }
        let mut errors = Vec::new();
        let text = catalogue
            .bundle
            .format_pattern(pattern, Some(&values), &mut errors);
        if !errors.is_empty() {
            tracing::warn!(
                id,
                lang = self.code(),
                errors = errors.len(),
                "message values missing"
            );
        }
        text.into_owned()
    }

    /// One of two texts that arrive in both languages with the data (a policy's
    /// explanation, a category's names from the domain). Never for a page's own texts:
    /// those live in the catalogues (a test rejects literals here).
    pub fn supplied<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The HTML `lang` attribute.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The ` lang="zh-CN"` attribute for a Chinese name (a district's) on a page in this
    /// language: none on a Chinese page.
    pub fn zh_attr(self) -> &'static str {
        match self {
            Lang::Zh => "",
            Lang::En => " lang=\"zh-CN\"",
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language's own name.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }

    /// The language of a request: `?lang=` wins, then the cookie, then the browser's
    /// `Accept-Language`, then Chinese.
    pub fn of(parts: &Parts) -> Lang {
        let query = parts.uri.query().unwrap_or("");
        let from_query = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("lang="))
            .and_then(Lang::parse);
        from_query
            .or_else(|| {
                super::session::cookie(&parts.headers, "xk_lang").and_then(|v| Lang::parse(&v))
            })
            .or_else(|| {
                parts
                    .headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Lang::accepted)
            })
            .unwrap_or_default()
    }

    /// The language an `Accept-Language` value (RFC 9110 §12.5.4) prefers among ours: the
    /// highest weight wins, the first of equal weights; `q=0` and other languages are passed
    /// over; none of ours gives `None`.
    pub fn accepted(header: &str) -> Option<Lang> {
        let mut best: Option<(u16, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let lang = match tag
                .split('-')
                .next()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("zh") => Lang::Zh,
                Some("en") => Lang::En,
                _ => continue,
            };
            // The weight in thousandths; a malformed one counts as not acceptable.
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), |q| {
                    q.trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .map(|q| (q * 1000.0).round() as u16)
                })
                .unwrap_or(0);
            if q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Lang, Self::Rejection> {
        Ok(Lang::of(parts))
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct Next {
    #[serde(default)]
    next: Option<String>,
}

/// Only our own pages are a place to go back to (no open redirect).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/web") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/web",
    }
}

/// `GET /web/lang/{zh|en}?next=/web/…`: remembers the language in a cookie and goes back.
pub async fn switch(
    axum::extract::Path(lang): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<Next>,
) -> Response {
    let lang = Lang::parse(&lang).unwrap_or_default();
    let mut r = Redirect::to(safe_next(q.next.as_deref())).into_response();
    if let Ok(v) = format!(
        "xk_lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )
    .parse()
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The text of an error code in `lang`: the message `error-{code}` (`_` as `-`), whose
/// English is the API's own message; a code without a message gives the API's message.
pub fn error_text(lang: Lang, code: &str, message: &str) -> String {
    let id = format!("error-{}", code.replace('_', "-"));
    if Catalogue::of(lang).bundle.has_message(&id) {
        lang.f(&id, &[("message", &message)])
    } else {
        message.to_owned()
    }
}

/// Whether a character is CJK (ideographs, CJK punctuation, full-width forms).
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{3400}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}')
}

/// Escapes `text` for a page in `page`'s language, marking runs in the other language with
/// `lang` (WCAG 3.1.2): on a Chinese page, runs of Latin words (from a word of two or more
/// ASCII letters to the last ASCII letter, digit or `)` before the next non-ASCII character) become
/// `<span lang="en">`; on an English page, runs of CJK characters become
/// `<span lang="zh-CN">`. For texts the system stores in one language and shows in both (a
/// grid task's detail, "门铃 door-to-door screening of cell 3").
pub fn lang_runs(page: Lang, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        // On a Chinese page a run starts at a word of two or more letters: a lone letter
        // ("<b>", "P12", "3 号楼 A 座") is not English.
        let (starts, tag) = match page {
            Lang::Zh => (
                chars[i].is_ascii_alphabetic()
                    && chars.get(i + 1).is_some_and(char::is_ascii_alphabetic),
                "en",
            ),
            Lang::En => (is_cjk(chars[i]), "zh-CN"),
        };
        if !starts {
            out.push_str(&super::esc(&chars[i].to_string()));
            i += 1;
            continue;
        }
        let mut end = i;
        let mut j = i;
        while j < chars.len() {
            let c = chars[j];
            let inside = match page {
                Lang::Zh => c.is_ascii(),
                Lang::En => is_cjk(c),
            };
            if !inside {
                break;
            }
            if page == Lang::En || c.is_ascii_alphanumeric() || c == ')' {
                end = j + 1;
            }
            j += 1;
        }
        let run: String = chars[i..end].iter().collect();
        out.push_str(&format!("<span lang=\"{tag}\">{}</span>", super::esc(&run)));
        i = end;
    }
    out
}

#[cfg(test)]
mod lang_run_tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_most_wanted_of_our_languages() {
        assert_eq!(Lang::accepted("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(Lang::accepted("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::Zh));
        assert_eq!(
            Lang::accepted("fr-FR, en;q=0.5, zh-TW;q=0.7"),
            Some(Lang::Zh)
        );
        assert_eq!(Lang::accepted("de, EN-gb;q=0.3"), Some(Lang::En));
        // Equal weights: the first listed.
        assert_eq!(Lang::accepted("en;q=0.5, zh;q=0.5"), Some(Lang::En));
        // Refused or malformed weights, and no language of ours: nothing.
        assert_eq!(Lang::accepted("en;q=0, zh;q=2"), None);
        assert_eq!(Lang::accepted("en;q=abc"), None);
        assert_eq!(Lang::accepted("fr, de"), None);
        assert_eq!(Lang::accepted(""), None);
    }

    #[test]
    fn other_language_runs_are_marked_and_everything_is_escaped() {
        assert_eq!(
            lang_runs(
                Lang::Zh,
                "门铃 door-to-door screening of cell 3 (zone Z1)，<2>"
            ),
            "门铃 <span lang=\"en\">door-to-door screening of cell 3 (zone Z1)</span>，&lt;2&gt;"
        );
        assert_eq!(
            lang_runs(Lang::En, "门铃 door-to-door <x>"),
            "<span lang=\"zh-CN\">门铃</span> door-to-door &lt;x&gt;"
        );
        assert_eq!(lang_runs(Lang::Zh, "12 人"), "12 人");
        assert_eq!(
            lang_runs(Lang::Zh, "送药 <b>3 号楼</b> P12"),
            "送药 &lt;b&gt;3 号楼&lt;/b&gt; P12"
        );
        assert_eq!(lang_runs(Lang::En, "12 people"), "12 people");
    }
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;
    use fluent_syntax::ast;
    use std::collections::{BTreeMap, BTreeSet};

    /// Every message of one language: id → the variables it uses.
    fn messages(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
        let mut all = BTreeMap::new();
        for (area, zh, en) in SOURCES {
            let source = match lang {
                Lang::Zh => zh,
                Lang::En => en,
            };
            let resource = match FluentResource::try_new((*source).to_owned()) {
                Ok(r) => r,
                Err((_, errors)) => panic!("{area}.ftl ({}): {errors:?}", lang.html()),
            };
            for entry in resource.entries() {
                match entry {
                    ast::Entry::Message(m) => {
                        let mut vars = BTreeSet::new();
                        if let Some(p) = &m.value {
                            pattern_vars(p, &mut vars);
                        }
                        assert!(
                            m.attributes.is_empty(),
                            "{}: attributes are not read",
                            m.id.name
                        );
                        let earlier = all.insert(m.id.name.to_owned(), vars);
                        assert!(earlier.is_none(), "{} twice in {}", m.id.name, lang.html());
                    }
                    ast::Entry::Junk { content } => panic!("{area}.ftl: junk {content}"),
                    _ => {}
                }
            }
        }
        all
    }

    fn pattern_vars(p: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
        for e in &p.elements {
            if let ast::PatternElement::Placeable { expression } = e {
                expression_vars(expression, out);
            }
        }
    }

    fn expression_vars(e: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
        match e {
            ast::Expression::Select { selector, variants } => {
                inline_vars(selector, out);
                for v in variants {
                    pattern_vars(&v.value, out);
                }
            }
            ast::Expression::Inline(i) => inline_vars(i, out),
        }
    }

    fn inline_vars(i: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
        match i {
            ast::InlineExpression::VariableReference { id } => {
                out.insert(id.name.to_owned());
            }
            ast::InlineExpression::FunctionReference { arguments, .. } => {
                for a in &arguments.positional {
                    inline_vars(a, out);
                }
                for a in &arguments.named {
                    inline_vars(&a.value, out);
                }
            }
            ast::InlineExpression::Placeable { expression } => expression_vars(expression, out),
            _ => {}
        }
    }

    /// The ids the web pages' sources use: `.m("…")`, `.f("…"` and `msg("…")`, with
    /// whether each use passes values.
    fn used_ids() -> BTreeMap<String, BTreeSet<bool>> {
        fn walk(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir)
                .expect("src/web is readable")
                .flatten()
            {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, files);
                } else if p.extension().is_some_and(|x| x == "rs")
                    // This file's own tests ask for missing ids on purpose.
                    && !p.ends_with("web/i18n.rs")
                {
                    files.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"),
            &mut files,
        );
        assert!(files.len() > 20, "the pages' sources are found");
        let mut used: BTreeMap<String, BTreeSet<bool>> = BTreeMap::new();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("a source is readable");
            for (call, values) in [(".m(", false), ("msg(", false), (".f(", true)] {
                for (at, _) in text.match_indices(call) {
                    let rest = text[at + call.len()..].trim_start();
                    let Some(rest) = rest.strip_prefix('"') else {
                        continue;
                    };
                    let id = &rest[..rest.find('"').unwrap_or(0)];
                    if !id.is_empty() && !id.contains(' ') {
                        used.entry(id.to_owned()).or_default().insert(values);
                    }
                }
            }
        }
        used
    }

    #[test]
    fn both_catalogues_parse_and_load_without_errors() {
        for lang in [Lang::Zh, Lang::En] {
            let ids = messages(lang);
            assert!(ids.len() > 600, "{}: {} messages", lang.html(), ids.len());
            let mut bundle = FluentBundle::new_concurrent(vec![]);
            for (area, zh, en) in SOURCES {
                let source = if lang == Lang::Zh { zh } else { en };
                let r = FluentResource::try_new((*source).to_owned()).expect("parses");
                assert!(bundle.add_resource(r).is_ok(), "{area}.ftl repeats an id");
            }
            // Every message without values formats without errors.
            let c = Catalogue::of(lang);
            for (id, vars) in &ids {
                assert_eq!(c.plain.contains_key(id), vars.is_empty(), "{id}");
            }
        }
    }

    #[test]
    fn every_catalogue_file_is_compiled_in() {
        for lang in ["zh-CN", "en"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("locales")
                .join(lang);
            let mut files: Vec<String> = std::fs::read_dir(dir)
                .expect("locales/ is readable")
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".ftl")
                        .map(str::to_owned)
                })
                .collect();
            files.sort();
            let mut areas: Vec<String> = SOURCES.iter().map(|(a, ..)| (*a).to_owned()).collect();
            areas.sort();
            assert_eq!(files, areas, "the files of {lang} and `catalogues!`");
        }
    }

    #[test]
    fn both_catalogues_have_the_same_ids_with_the_same_variables() {
        let zh = messages(Lang::Zh);
        let en = messages(Lang::En);
        let only_zh: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
        let only_en: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
        assert!(only_zh.is_empty(), "only in zh-CN: {only_zh:?}");
        assert!(only_en.is_empty(), "only in en: {only_en:?}");
        let message = BTreeSet::from(["message".to_owned()]);
        for (id, vars) in &zh {
            // An error's English is the API's own message.
            if id.starts_with("error-") && vars.is_empty() && en[id] == message {
                continue;
            }
            assert_eq!(vars, &en[id], "the variables of {id}");
        }
    }

    #[test]
    fn every_id_the_pages_use_exists_and_takes_values_as_used() {
        let zh = messages(Lang::Zh);
        let used = used_ids();
        assert!(used.len() > 500, "{} ids found in the sources", used.len());
        for (id, values) in &used {
            let Some(vars) = zh.get(id) else {
                panic!("{id} is used but in no catalogue");
            };
            for v in values {
                assert_eq!(
                    *v,
                    !vars.is_empty(),
                    "{id}: `f` for texts with values, `m` without"
                );
            }
        }
    }

    #[test]
    fn no_catalogue_id_is_unused() {
        let used = used_ids();
        let unused: Vec<_> = messages(Lang::Zh)
            .into_keys()
            // Error texts are read by code in `error_text`.
            .filter(|id| !id.starts_with("error-") && !used.contains_key(id))
            .collect();
        assert!(unused.is_empty(), "unused: {unused:?}");
    }

    #[test]
    fn pages_pick_no_inline_text_pairs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("readable").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.ends_with("web/i18n.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for (at, _) in text.match_indices(".supplied(") {
                    let arg = text[at + 10..].trim_start();
                    assert!(
                        !arg.starts_with('"'),
                        "{}: a literal pair; use the catalogues",
                        p.display()
                    );
                }
            }
        }
    }

    #[test]
    fn texts_come_in_the_asked_language_with_values_and_no_isolation_marks() {
        assert_eq!(Lang::Zh.m("tracer-confirm"), "确认");
        assert_eq!(Lang::En.m("tracer-confirm"), "Confirm");
        assert_eq!(
            Lang::En.f("appeals-open-count", &[("n", &3)]),
            "3 open appeals."
        );
        assert_eq!(
            Lang::Zh.f("appeals-open-count", &[("n", &3)]),
            "待答复申诉 3 件。"
        );
        // Leading spaces survive as `{" "}`.
        assert_eq!(Lang::En.m("cities-overdue"), " (overdue)");
    }

    #[test]
    fn a_missing_id_gives_the_id_not_a_panic() {
        assert_eq!(Lang::Zh.m("no-such-text"), "no-such-text");
        assert_eq!(Lang::En.f("no-such-text", &[("n", &1)]), "no-such-text");
        // A text with values asked for without them is not in the plain map.
        assert_eq!(Lang::En.m("appeals-open-count"), "appeals-open-count");
    }

    #[test]
    fn error_codes_read_in_chinese_and_keep_the_api_message_in_english() {
        assert_eq!(
            error_text(Lang::Zh, "site_full", "site is full"),
            "该隔离点已满"
        );
        assert_eq!(
            error_text(Lang::En, "site_full", "site is full"),
            "site is full"
        );
        assert_eq!(
            error_text(Lang::Zh, "token_key_not_valid", "x"),
            "健康码签发密钥无效"
        );
        assert_eq!(error_text(Lang::Zh, "no_such_code", "as sent"), "as sent");
    }
}
