//! The one HTTP client the server needs: a request to a peer city (its signed list, a
//! code's current colour). HTTP/1.1 over one connection closed after the answer, with a
//! deadline on the whole exchange and a cap on the answer's size. `http://` only: a peer
//! across the Internet is reached through the operator's TLS proxy (docs/cities.md).

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The whole exchange must finish within this.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// The largest answer read (a signed list with many revocations).
const MAX_ANSWER: usize = xikang_code::MAX_SIGNED_LIST_BYTES + 64 * 1024;

/// Why a peer could not be asked: the text is for logs, never sent on.
#[derive(Debug, thiserror::Error)]
#[error("peer unreachable: {0}")]
pub struct Unreachable(pub String);

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Checks a peer's base URL: `http://host:port` (no path, query or credentials).
pub fn parse_base(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("http://")?.trim_end_matches('/');
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
) -> Result<Answer, Unreachable> {
    tokio::time::timeout(DEADLINE, exchange(base, method, path, json))
        .await
        .map_err(|_| Unreachable("no answer within the deadline".into()))?
}

async fn exchange(
    base: &str,
    method: &str,
    path: &str,
    json: Option<&[u8]>,
) -> Result<Answer, Unreachable> {
    let host = parse_base(base).ok_or_else(|| Unreachable("not an http:// URL".into()))?;
    let io = |e: std::io::Error| Unreachable(e.to_string());
    let mut tcp = TcpStream::connect(host).await.map_err(io)?;
    let body = json.unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if json.is_some() {
        head.push_str("content-type: application/json\r\n");
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.map_err(io)?;
    tcp.write_all(body).await.map_err(io)?;
    let mut raw = Vec::new();
    (&mut tcp)
        .take(MAX_ANSWER as u64 + 1)
        .read_to_end(&mut raw)
        .await
        .map_err(io)?;
    if raw.len() > MAX_ANSWER {
        return Err(Unreachable("answer too large".into()));
    }
    parse_answer(&raw).ok_or_else(|| Unreachable("not an HTTP/1.1 answer".into()))
}

/// Splits an answer into status and body (by `content-length`, chunked, or to the end).
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().ok()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(Answer { status, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&rest[..eol]).ok()?.split(';').next()?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_length_chunked_or_to_the_end_and_junk_is_refused() {
        let a = parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"abc"[..]));
        let a = parse_answer(
            b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (404, &b"abc"[..]));
        assert!(parse_answer(b"garbage").is_none());
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab").is_none());
        assert!(parse_base("http://127.0.0.1:8080/").is_some());
        assert!(parse_base("https://x").is_none());
        assert!(parse_base("http://user@host/path").is_none());
    }
}
