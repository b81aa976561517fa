//! HTTP routes. Handlers parse input, send one message to an actor, and map the answer to a
//! response: no SQL, no Strava calls, no JSON building per request for served data.

mod auth;
pub mod cors;
mod docs;
pub mod limits;
mod oauth;
pub mod openapi;
mod ops;
pub mod params;
pub mod routes;
mod stats;
mod webhook;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;

use crate::actors::Mailbox;
use crate::actors::{CacheActor, FetcherActor, TokenActor};
use crate::error::ApiError;
use crate::metrics::Metrics;

/// What every handler can reach: actor mailboxes and a few settings.
pub struct AppState {
    pub token: Mailbox<TokenActor>,
    pub fetcher: Mailbox<FetcherActor>,
    pub cache: Mailbox<CacheActor>,
    pub metrics: Arc<Metrics>,
    pub api_key: SecretString,
    pub webhook_verify_token: Option<SecretString>,
    pub metrics_token: Option<SecretString>,
    pub frontend_url: String,
    pub production: bool,
    pub cache_max_age_secs: u32,
    pub ready: Arc<AtomicBool>,
    /// The OpenAPI document, serialized once.
    pub openapi: bytes::Bytes,
}

/// The JSON content security policy; no script, no frame.
const JSON_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Headers every response carries (handlers that set Cache-Control keep theirs).
pub fn security_headers(production: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::CONTENT_SECURITY_POLICY, JSON_CSP))
        .add((header::CACHE_CONTROL, "no-store"));
    if production {
        headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
    } else {
        headers
    }
}

/// Every route of the table in `routes.rs`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    routes::register(cfg);
}

/// Unknown paths.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({"detail": "Not Found"}))
}

/// The value of query parameter `name`, if present (the last one wins, as in FastAPI).
fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .last()
}

/// Does the client already hold this ETag?
fn etag_matches(req: &HttpRequest, etag: &str) -> bool {
    let Some(value) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// A pre-serialized read body with its ETag, or 304 when the client has it.
fn cached_json(
    req: &HttpRequest,
    state: &AppState,
    body: &crate::actors::cache::CachedBody,
) -> HttpResponse {
    let cache_control = format!("public, max-age={}", state.cache_max_age_secs);
    let not_modified = etag_matches(req, &body.etag);
    let mut response = if not_modified {
        HttpResponse::build(StatusCode::NOT_MODIFIED)
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, body.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache_control));
    if not_modified {
        return response.finish();
    }
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .body(body.body.clone())
}

/// Maps an actor that did not answer to 503.
fn mailbox(e: actix::MailboxError) -> ApiError {
    ApiError::from(e)
}
