//! How handlers answer: a pre-serialized read body with its validators, or the 503 of an actor
//! that did not answer.

use actix_web::http::StatusCode;
use actix_web::http::header::{
    self, CacheControl, CacheDirective, ETag, EntityTag, HeaderValue, IfNoneMatch,
};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use super::state::AppState;
use crate::actors::cache::CachedBody;
use crate::error::ApiError;

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
pub fn cached_json(req: &HttpRequest, state: &AppState, body: &CachedBody) -> HttpResponse {
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
pub fn mailbox(e: actix::MailboxError) -> ApiError {
    ApiError::from(e)
}

/// The answer to an unknown path (also given where a path must not be told from one).
pub fn unknown_path() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({"detail": "Not Found"}))
}
