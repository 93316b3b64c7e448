//! The one HTTP client of the project's own traffic between machines: the command line
//! talking to a running server (`people import`, `lab import`, `lab round`, `audit
//! witness`) and a server asking a peer city (its signed list, a code's current colour, a
//! 协查 message). `ureq`, a maintained blocking client, with TLS (rustls and the Mozilla
//! roots of `webpki-roots`) for `https://` servers; each request runs on tokio's blocking
//! pool. The load generator and the tests keep `xikang::httpc`, which sends exactly the
//! bytes we choose over one keep-alive connection, so that a benchmark measures the server
//! rather than a client library.

use std::time::Duration;

/// Why a server could not be asked (not an HTTP error status: that is a [`Reply`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RemoteError(pub String);

/// An answer: status, headers (lower-case names) and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A server at a base URL.
#[derive(Debug, Clone)]
pub struct Remote {
    agent: ureq::Agent,
    base: String,
    max_answer: u64,
}

impl Remote {
    /// `server` is `http://host:port`, `https://host[:port]` (a path prefix allowed, as
    /// behind a reverse proxy) or a bare `host:port` (plain HTTP). `deadline` bounds a
    /// whole exchange, `max_answer` the bytes of an answer read.
    pub fn new(server: &str, deadline: Duration, max_answer: u64) -> Result<Remote, RemoteError> {
        let base = if server.starts_with("http://") || server.starts_with("https://") {
            server.trim_end_matches('/').to_owned()
        } else if server.contains("://") {
            return Err(RemoteError(format!(
                "the server is http://… or https://…, not {server:?}"
            )));
        } else {
            format!("http://{}", server.trim_end_matches('/'))
        };
        let agent = ureq::Agent::config_builder()
            // A 4xx or 5xx is an answer to read, not a transport error.
            .http_status_as_error(false)
            .timeout_connect(Some(deadline.min(Duration::from_secs(10))))
            .timeout_global(Some(deadline))
            .build()
            .new_agent();
        Ok(Remote {
            agent,
            base,
            max_answer,
        })
    }

    /// For the command line: a long deadline (an import part of 10,000 lines) and answers
    /// up to 64 MiB (a part's refusals, a consistency proof).
    pub fn for_cli(server: &str) -> Result<Remote, RemoteError> {
        Remote::new(server, Duration::from_secs(600), 64 << 20)
    }

    /// GET with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Reply, RemoteError> {
        self.request("GET", path, token, None, Vec::new()).await
    }

    /// Sends a request and reads the whole answer.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Reply, RemoteError> {
        let url = format!("{}{path}", self.base);
        let fail = |e: &dyn std::fmt::Display| RemoteError(format!("{method} {url}: {e}"));
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(body).map_err(|e| fail(&e))?;
        let (agent, limit) = (self.agent.clone(), self.max_answer);
        let answer = tokio::task::spawn_blocking(move || -> Result<Reply, ureq::Error> {
            let mut answer = agent.run(req)?;
            let headers = answer
                .headers()
                .iter()
                .map(|(k, v)| {
                    let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
                    (k.as_str().to_owned(), v)
                })
                .collect();
            let body = answer.body_mut().with_config().limit(limit).read_to_vec()?;
            Ok(Reply {
                status: answer.status().as_u16(),
                headers,
                body,
            })
        })
        .await
        .map_err(|e| fail(&e))?;
        answer.map_err(|e| fail(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Option<String> {
        Remote::new(s, Duration::from_secs(1), 1)
            .ok()
            .map(|r| r.base)
    }

    #[test]
    fn a_bare_address_is_plain_http_and_other_schemes_are_refused() {
        assert_eq!(
            base("127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            base("https://xikang.example.cn/city/").as_deref(),
            Some("https://xikang.example.cn/city")
        );
        assert_eq!(base("ftp://127.0.0.1:21"), None);
    }

    /// Against a listener that answers plain HTTP: a client that took `https://` for plain
    /// HTTP would read its 200; ours attempts a TLS handshake and fails, without a panic or
    /// a hang past the deadline.
    #[tokio::test]
    async fn https_is_spoken_and_a_peer_without_tls_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            while let Ok((mut s, _)) = listener.accept().await {
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let plain = Remote::new(&format!("http://{addr}"), Duration::from_secs(5), 1024).unwrap();
        assert_eq!(plain.get("/", None).await.unwrap().status, 200);
        let tls = Remote::new(&format!("https://{addr}"), Duration::from_secs(5), 1024).unwrap();
        assert!(tls.get("/", None).await.is_err());
    }
}
