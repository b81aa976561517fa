//! What the OpenAPI document says about a route, stated beside the route in `routes.rs` and
//! turned into the document by `openapi.rs`.

use super::params::Param;
use crate::error::ErrorCode;

/// What a response carries.
#[derive(Debug, Clone, Copy)]
pub enum Content {
    /// No body (a redirect, a 304).
    Empty,
    /// JSON of a schema in `components/schemas`.
    Json(&'static str),
    /// An error body `{"detail": string, "code": one of these}`.
    Error(&'static [ErrorCode]),
    /// A body of this media type, not JSON.
    Text(&'static str),
}

/// A response header the document promises.
#[derive(Debug, Clone, Copy)]
pub enum Header {
    ETag,
    /// `public, max-age=N` on reads.
    CachePublic,
    /// `accept-encoding` on reads: large bodies come gzipped to clients that take gzip.
    VaryEncoding,
    Location,
    SetCookie,
    RetryAfter,
}

/// One documented answer of a route.
#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub status: u16,
    pub description: &'static str,
    pub content: Content,
    pub headers: &'static [Header],
}

/// What a route reads as its request body.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// JSON of a schema in `components/schemas`.
    Json(&'static str),
    /// Raw bytes, sent as any of these media types (the content says what it is).
    Binary(&'static [&'static str]),
}

/// What the document says about one route.
#[derive(Debug, Clone)]
pub struct Doc {
    pub summary: &'static str,
    pub params: Vec<Param>,
    /// The request body, when the route reads one.
    pub body: Option<Body>,
    pub replies: Vec<Reply>,
    /// Needs `X-API-Key`.
    pub api_key: bool,
    /// Takes the `METRICS_TOKEN` bearer token when one is configured.
    pub metrics_token: bool,
}
