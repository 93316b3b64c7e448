//! The command line's client for a running server (`people import`, `lab import`,
//! `lab round`, `audit witness`): `ureq`, a maintained blocking client, with TLS (rustls and
//! the Mozilla roots of `webpki-roots`) for `https://` servers. The load generator and the
//! tests keep [`crate::httpc`], which sends exactly the bytes we choose over one keep-alive
//! connection, so that a benchmark measures the server rather than a client library.

use crate::httpc::Reply;
use anyhow::{Context, Result, bail};
use std::time::Duration;

/// The largest answer read (an import part's refusals, a consistency proof).
const MAX_ANSWER_BYTES: u64 = 64 << 20;

/// A server at a base URL (`https://xikang.example.cn`, or `host:port` for plain HTTP).
#[derive(Debug, Clone)]
pub struct Remote {
    agent: ureq::Agent,
    base: String,
}

impl Remote {
    /// `server` is `http://host:port`, `https://host[:port]` (a path prefix allowed, as
    /// behind a reverse proxy) or a bare `host:port` (plain HTTP).
    pub fn new(server: &str) -> Result<Remote> {
        let base = if server.starts_with("http://") || server.starts_with("https://") {
            server.trim_end_matches('/').to_owned()
        } else if server.contains("://") {
            bail!("the server is http://… or https://…, not {server:?}");
        } else {
            format!("http://{}", server.trim_end_matches('/'))
        };
        let agent = ureq::Agent::config_builder()
            // A 4xx or 5xx is an answer to read, not a transport error.
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .new_agent();
        Ok(Remote { agent, base })
    }

    /// GET with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Reply> {
        self.request("GET", path, token, None, Vec::new()).await
    }

    /// Sends a request and reads the whole answer (on a blocking thread: ureq blocks).
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Reply> {
        let url = format!("{}{path}", self.base);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(body).with_context(|| format!("{method} {url}"))?;
        let agent = self.agent.clone();
        let what = format!("{method} {url}");
        tokio::task::spawn_blocking(move || -> Result<Reply> {
            let mut answer = agent.run(req)?;
            let headers = answer
                .headers()
                .iter()
                .map(|(k, v)| {
                    let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                    (k.as_str().to_owned(), v)
                })
                .collect();
            let body = answer
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER_BYTES)
                .read_to_vec()?;
            Ok(Reply {
                status: answer.status().as_u16(),
                headers,
                body,
            })
        })
        .await?
        .with_context(|| what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_address_is_plain_http_and_other_schemes_are_refused() {
        assert_eq!(
            Remote::new("127.0.0.1:8080").unwrap().base,
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            Remote::new("https://xikang.example.cn/city/").unwrap().base,
            "https://xikang.example.cn/city"
        );
        assert!(Remote::new("ftp://127.0.0.1:21").is_err());
    }
}
