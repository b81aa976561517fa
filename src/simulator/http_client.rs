//! A deliberately tiny HTTP/1.1 client for the two requests Strava itself makes: the push
//! subscription's validation GET and event delivery POSTs to a callback. Plain `http://` only.
//!
//! Why not reqwest: the main crate builds reqwest with `rustls-no-provider`, where building a
//! client panics unless the application installed a crypto provider first. The simulator runs
//! inside tests and `milepost sim` where nobody may have, and callbacks are local plain HTTP.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// The largest response the simulator reads from a callback.
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// Why a callback request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    #[error("only http:// callback URLs are supported by the simulator, got {0}://")]
    UnsupportedScheme(String),
    #[error("callback URL has no host")]
    NoHost,
    #[error("callback request timed out after {0:?}")]
    Timeout(Duration),
    #[error("callback I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("callback answered something that is not HTTP/1.x: {0}")]
    Malformed(&'static str),
}

/// A response: status, headers exactly as sent (name case preserved) and the decoded body.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    // Read by the tests that check how the simulator spells its headers.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    /// The first header with that name, compared case-insensitively.
    #[cfg(test)]
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request with `Connection: close` and reads the whole answer, all within `timeout`.
pub(crate) async fn send(
    method: &str,
    url: &Url,
    body: Option<(&str, Vec<u8>)>,
    timeout: Duration,
) -> Result<RawResponse, ClientError> {
    tokio::time::timeout(timeout, send_inner(method, url, body))
        .await
        .map_err(|_| ClientError::Timeout(timeout))?
}

async fn send_inner(
    method: &str,
    url: &Url,
    body: Option<(&str, Vec<u8>)>,
) -> Result<RawResponse, ClientError> {
    if url.scheme() != "http" {
        return Err(ClientError::UnsupportedScheme(url.scheme().to_string()));
    }
    let host = url.host_str().ok_or(ClientError::NoHost)?;
    let port = url.port_or_known_default().unwrap_or(80);
    let mut stream = TcpStream::connect(format!("{host}:{port}")).await?;

    let mut target = url.path().to_string();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: milepost-strava-simulator\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    let payload = match body {
        Some((content_type, bytes)) => {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            ));
            bytes
        }
        None => Vec::new(),
    };
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&payload).await?;
    stream.flush().await?;

    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut raw)
        .await?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> Result<RawResponse, ClientError> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(ClientError::Malformed("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split])
        .map_err(|_| ClientError::Malformed("headers are not UTF-8"))?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    if !parts.next().unwrap_or_default().starts_with("HTTP/1.") {
        return Err(ClientError::Malformed("bad status line"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(ClientError::Malformed("bad status code"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest.get(..len)
            .ok_or(ClientError::Malformed("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(ClientError::Malformed("bad chunk header"))?;
        let size_text = std::str::from_utf8(&data[..line_end])
            .map_err(|_| ClientError::Malformed("bad chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| ClientError::Malformed("bad chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data
            .get(..size)
            .ok_or(ClientError::Malformed("truncated chunk"))?;
        out.extend_from_slice(chunk);
        data = data
            .get(size + 2..)
            .ok_or(ClientError::Malformed("truncated chunk"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_chunked_response_and_keeps_header_case() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Ratelimit-Usage: 1,2\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let r = parse_response(raw).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"{\"a\":1}");
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "X-Ratelimit-Usage" && v == "1,2")
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_response(b"hello").is_err());
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
    }

    #[actix_web::test]
    async fn refuses_https() {
        let url = Url::parse("https://example.invalid/").unwrap();
        let err = send("GET", &url, None, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::UnsupportedScheme(_)));
    }
}
