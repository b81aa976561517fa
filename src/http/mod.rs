//! HTTP routes. Handlers parse input, send one message to an actor, and map the answer to a
//! response: no SQL, no Strava calls, no JSON building per request for served data.

mod auth;
mod docs;
pub mod middleware;
mod oauth;
pub mod openapi;
mod ops;
mod stats;
mod webhook;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use actix_web::http::header::{
    self, CacheControl, CacheDirective, ETag, EntityTag, HeaderValue, IfNoneMatch,
};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, Route, web};
use secrecy::SecretString;

use crate::actors::Mailbox;
use crate::actors::{CacheActor, FetcherActor, TokenActor};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::stats::keys;

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

/// A resource answering `method` only; any other method gets the JSON 405 with `Allow`.
fn only(path: &str, method: Method, route: Route) -> actix_web::Resource {
    let allow = method.to_string();
    web::resource(path)
        .route(route.method(method))
        .default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, allow))
                    .json(serde_json::json!({"detail": "Method Not Allowed"}))
            }
        }))
}

fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    only(path, Method::GET, web::route().to(handler))
}

fn post<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    only(path, Method::POST, web::route().to(handler))
}

fn strava_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get("/health", ops::health))
        .service(get("/authorize", oauth::authorize))
        .service(get("/callback", oauth::callback))
        .service(get(
            "/stats/ytd",
            stats::cached(
                keys::YTD,
                "YTD stats not cached yet. Try /strava/refresh-data",
            ),
        ))
        .service(get(
            "/stats/activities",
            stats::cached(
                keys::RECENT,
                "Activities not cached yet. Try /strava/refresh-data",
            ),
        ))
        .service(get("/stats/monthly", stats::monthly))
        .service(get(
            "/stats/totals",
            stats::cached(
                keys::TOTALS,
                "Totals not cached yet. Try /strava/refresh-data",
            ),
        ))
        .service(get(
            "/stats/yearly",
            stats::cached(
                keys::YEARLY,
                "Yearly stats not cached yet. Try /strava/refresh-data",
            ),
        ))
        .service(get("/stats/summary/{year}", stats::summary))
        .service(get("/stats/longest-run", stats::longest_run))
        .service(get("/stats/longest-ride", stats::longest_ride))
        .service(get("/activities", stats::activities))
        .service(post("/refresh-data", ops::refresh))
        .service(post("/disconnect", ops::disconnect))
        .service(get("/admin/actors", ops::actors))
        .configure(docs_routes)
        .service(
            web::resource("/webhook")
                .route(web::get().to(webhook::validate))
                .route(web::post().to(webhook::receive))
                .default_service(web::to(|| async {
                    HttpResponse::MethodNotAllowed()
                        .insert_header((header::ALLOW, "GET, POST"))
                        .json(serde_json::json!({"detail": "Method Not Allowed"}))
                })),
        );
}

/// The OpenAPI document and the docs page.
fn docs_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(get("/openapi.json", docs::openapi))
        .service(get("/docs", docs::page))
        .service(get("/docs/docs.js", docs::script))
        .service(get("/docs/docs.css", docs::style));
}

/// Every route, under `/strava` and again under `/v1/strava`; the docs also at the root, where
/// the old service's FastAPI had them.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/strava").configure(strava_routes))
        .service(web::scope("/v1/strava").configure(strava_routes))
        .configure(docs_routes)
        .service(get("/livez", ops::livez))
        .service(get("/readyz", ops::readyz))
        .service(get("/metrics", ops::metrics));
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

/// Does the client already hold this entity? `If-None-Match` compares weakly (RFC 9110
/// §13.1.2: `W/"x"` matches `"x"`), `*` matches any, and every `If-None-Match` line counts.
fn etag_matches(req: &HttpRequest, etag: &EntityTag) -> bool {
    match req.get_header::<IfNoneMatch>() {
        Some(IfNoneMatch::Any) => true,
        Some(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(etag)),
        None => false,
    }
}

/// A pre-serialized read body with its ETag, or 304 (ETag and Cache-Control, no body) when
/// the client has it.
fn cached_json(
    req: &HttpRequest,
    state: &AppState,
    body: &crate::actors::cache::CachedBody,
) -> HttpResponse {
    // The cache's ETags are quoted hex digests, so this always parses; if one ever did not, the
    // body would still be served, only never as a 304.
    let etag = body.etag.parse::<EntityTag>().ok();
    let not_modified = etag.as_ref().is_some_and(|etag| etag_matches(req, etag));
    let mut response = if not_modified {
        HttpResponse::build(StatusCode::NOT_MODIFIED)
    } else {
        HttpResponse::Ok()
    };
    if let Some(etag) = etag {
        response.insert_header(ETag(etag));
    }
    response.insert_header(CacheControl(vec![
        CacheDirective::Public,
        CacheDirective::MaxAge(state.cache_max_age_secs),
    ]));
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
