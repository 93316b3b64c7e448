//! The web pages' side of the harness: users with a password, and a browser that keeps
//! its session cookie, logs in through the form and reads the CSRF token from a page.

use super::TestApp;
use std::collections::BTreeMap;
use xikang::httpc::Reply;
use xikang_domain::{AreaCode, PersonId, VenueId};
use xikang_server::web::password::{Cost, hash};
use xikang_store::User;

pub const PW: &str = "correct-horse-battery";

pub fn add_user(
    app: &TestApp,
    name: &str,
    role: &str,
    area: &str,
    venue: Option<u32>,
    person: Option<u32>,
) {
    app.store
        .insert_user(&User {
            name: name.into(),
            password_hash: hash(PW, Cost::CheapForTests).unwrap(),
            role: role.into(),
            area: AreaCode::parse(area).unwrap(),
            venue: venue.map(VenueId),
            person: person.map(PersonId),
            id_lookup: false,
            enterprise: None,
            disabled: false,
            created_at: xikang_server::now(),
        })
        .unwrap();
}

pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A browser: keeps cookies, does not follow redirects.
pub struct Browser<'a> {
    app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
    /// Sent with every request (e.g. a proxy's `x-forwarded-for`).
    pub extra: Vec<(&'static str, String)>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            cookies: BTreeMap::new(),
            extra: Vec::new(),
        }
    }

    /// The request headers: the cookies and the extra ones.
    fn headers<'h>(
        &'h self,
        cookie: &'h str,
        more: &[(&'h str, &'h str)],
    ) -> Vec<(&'h str, &'h str)> {
        let mut h = vec![("cookie", cookie)];
        h.extend(more);
        h.extend(self.extra.iter().map(|(k, v)| (*k, v.as_str())));
        h
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &Reply) {
        for (k, v) in &r.headers {
            if k == "set-cookie" {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if value.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.into(), value.into());
                }
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        let cookie = self.cookie_header();
        let r = self
            .app
            .conn()
            .await
            .request_with("GET", path, &self.headers(&cookie, &[]), b"")
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Reply {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let cookie = self.cookie_header();
        let r = self
            .app
            .conn()
            .await
            .request_with(
                "POST",
                path,
                &self.headers(
                    &cookie,
                    &[("content-type", "application/x-www-form-urlencoded")],
                ),
                body.as_bytes(),
            )
            .await
            .unwrap();
        self.keep(&r);
        r
    }

    pub async fn login(&mut self, name: &str, password: &str) -> Reply {
        let page = self.get("/web/login").await;
        let pre = attr(&page.text(), "name=\"csrf\" value=\"").unwrap();
        self.post(
            "/web/login",
            &[
                ("csrf", &pre),
                ("next", "/web"),
                ("name", name),
                ("password", password),
            ],
        )
        .await
    }

    /// A browser logged in as a new user `name` with `role` over `area` (the password
    /// [`PW`]).
    pub async fn signed_in(app: &'a TestApp, name: &str, role: &str, area: &str) -> Self {
        add_user(app, name, role, area, None, None);
        let mut b = Browser::new(app);
        b.login(name, PW).await;
        b
    }

    /// The CSRF token of the current session, read from a page's form.
    pub async fn csrf(&mut self, page: &str) -> String {
        let r = self.get(page).await;
        attr(&r.text(), "name=\"csrf\" value=\"").unwrap()
    }
}

/// The text after `prefix` up to the next `"`.
pub fn attr(html: &str, prefix: &str) -> Option<String> {
    let start = html.find(prefix)? + prefix.len();
    Some(html[start..].split('"').next()?.to_owned())
}
