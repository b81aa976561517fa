//! How handlers answer: a pre-serialized read body with its validators, or the 503 of an actor
//! that did not answer.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};

use super::state::AppState;
use crate::actors::cache::{CachedBody, Media};
use crate::error::ApiError;

/// Does the client already hold this representation? `If-None-Match` compares weakly (RFC
/// 9110 §13.1.2: `W/"x"` matches `"x"`), `*` matches any, and every `If-None-Match` line
/// counts. Compared as text: no parsing of our own tags per request.
fn etag_matches(req: &HttpRequest, etag: &HeaderValue) -> bool {
    let ours = etag.as_bytes();
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
}

/// Whether the client takes gzip: `Accept-Encoding` names it (or `*`) with a q above 0.
fn takes_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| line.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// A card's policy: its own inline style, nothing else (SPEC §2).
const SVG_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// A pre-serialized read body (JSON, or a card's SVG) with its validators, gzipped when it has a gzip form and the
/// client takes gzip (each form its own ETag, `Vary: Accept-Encoding, Origin` on both), or 304 (ETag,
/// Cache-Control and Vary, no body) when the client holds the form it would get. Every header
/// value is made once, with the body or the server.
pub fn cached_body(req: &HttpRequest, state: &AppState, body: &CachedBody) -> HttpResponse {
    let gzipped = body.gzip.as_ref().filter(|_| takes_gzip(req));
    let (etag, bytes) = match gzipped {
        Some(g) => (&g.etag_header, &g.body),
        None => (&body.etag_header, &body.body),
    };
    let not_modified = etag_matches(req, etag);
    let mut response = if not_modified {
        HttpResponse::build(StatusCode::NOT_MODIFIED)
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::CACHE_CONTROL, state.cache_control.clone()))
        // The CORS layer adds `Origin` to this one line (`middleware/cors.rs`).
        .insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
    if not_modified {
        return response.finish();
    }
    if gzipped.is_some() {
        response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
    }
    let media = match body.media {
        Media::Json => "application/json",
        Media::Svg => {
            response.insert_header((
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(SVG_CSP),
            ));
            "image/svg+xml"
        }
    };
    response
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static(media)))
        .body(bytes.clone())
}

/// Maps an actor that did not answer to 503.
pub fn mailbox(e: actix::MailboxError) -> ApiError {
    ApiError::from(e)
}

/// The answer to an unknown path (also given where a path must not be told from one).
pub fn unknown_path() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({"detail": "Not Found"}))
}
