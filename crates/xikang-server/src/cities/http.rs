//! Requests to a peer city (its signed list, a code's current colour, a 协查 message),
//! through the project's one client (`crate::remote`: `ureq`, TLS for `https://` peers),
//! with a deadline on the whole exchange and a cap on the answer's size.

use crate::remote::{Remote, Reply};
use std::time::Duration;

/// The whole exchange must finish within this.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// The largest answer read (a signed list with many revocations).
const MAX_ANSWER: u64 = xikang_code::MAX_SIGNED_LIST_BYTES as u64 + 64 * 1024;

/// Why a peer could not be asked: the text is for logs, never sent on.
#[derive(Debug, thiserror::Error)]
#[error("peer unreachable: {0}")]
pub struct Unreachable(pub String);

/// Checks a peer's base URL: `https://host[:port]` or `http://host:port` (no path, query
/// or credentials).
pub fn parse_base(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?
        .trim_end_matches('/');
    let ok = !rest.is_empty()
        && rest.len() <= 200
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    ok.then_some(rest)
}

/// Sends one request to `base` + `path`; a JSON body when given.
pub async fn request(
    base: &str,
    method: &str,
    path: &str,
    json: Option<&[u8]>,
) -> Result<Reply, Unreachable> {
    parse_base(base).ok_or_else(|| Unreachable("not an http(s):// URL".into()))?;
    let remote = Remote::new(base, DEADLINE, MAX_ANSWER).map_err(|e| Unreachable(e.0))?;
    let content_type = json.is_some().then_some("application/json");
    let body = json.unwrap_or_default().to_vec();
    remote
        .request(method, path, None, content_type, body)
        .await
        .map_err(|e| Unreachable(e.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_are_a_scheme_and_a_host_only() {
        assert!(parse_base("http://127.0.0.1:8080/").is_some());
        assert!(parse_base("https://suzhou.example.cn").is_some());
        assert!(parse_base("ftp://x").is_none());
        assert!(parse_base("http://user@host/path").is_none());
    }
}
