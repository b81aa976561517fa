//! The span every request runs in: `request{request_id, method, route}`, opened by the edge
//! ([`super::edge`]) before anything else runs. The handler, the errors it logs (a 5xx's error
//! id among them) and everything it awaits on its worker run inside it, so each line a request
//! causes carries its id; the edge sends the id back as `X-Request-Id`, so a client can quote
//! it.
//!
//! A read answered from memory gets its span at debug level ([`read_span`]), unless the
//! access log is on: at the default level nothing would be logged in it.
//!
//! The span holds no path or query (the OAuth code and state and the webhook verify token travel
//! in queries), no header and no client address: only the route pattern. Its fields are all
//! known when it opens, so none is recorded later (a JSON line's span fields would be parsed
//! and written again for each).

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use tracing::Span;
use uuid::Uuid;

/// The response header that carries the request id.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request's id: a random (version 4) UUID, drawn from the thread's generator (no system
/// call per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(Uuid);

impl RequestId {
    pub fn new() -> Self {
        Self(uuid::Builder::from_random_bytes(rand::random()).into_uuid())
    }

    /// The id as the `X-Request-Id` value.
    pub fn header_value(&self) -> HeaderValue {
        let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
        let text = self.0.hyphenated().encode_lower(&mut text);
        // Lower-case hex and hyphens are always a valid header value.
        HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""))
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The request's span.
pub fn span(id: RequestId, method: &Method, route: &str) -> Span {
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route,
    )
}

/// The span of a read answered from memory: the same, at debug level. Its handler logs
/// nothing and its one message stays on the worker, so at the default level the span would
/// carry nothing, and opening it would cost the read path more than the read itself; a 5xx it
/// might still answer (its CacheReader not answering) is found by the error id the answer shows.
pub fn read_span(id: RequestId, method: &Method, route: &str) -> Span {
    tracing::debug_span!(
        "request",
        request_id = %id,
        method = %method,
        route,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_version_4_uuids_and_valid_header_values() {
        let a = RequestId::new();
        let b = RequestId::new();
        assert_ne!(a, b);
        let text = a.to_string();
        let parsed = Uuid::parse_str(&text).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(a.header_value().to_str().unwrap(), text);
    }
}
