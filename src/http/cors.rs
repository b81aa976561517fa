//! CORS for the frontend: exact origins only (FRONTEND_URL and CORS_ALLOWED_ORIGINS), methods
//! GET/POST/OPTIONS, no wildcard, no credentials.

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};

use crate::error::{ApiError, ErrorCode};

const ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
const ALLOWED_HEADERS: &str = "Content-Type, X-API-Key, If-None-Match, Authorization";
/// How long a browser may reuse a preflight answer.
const MAX_AGE_SECS: &str = "600";

/// The allowed origins, compared exactly.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    pub fn new(origins: Vec<String>) -> Self {
        Self { origins }
    }

    /// The request's `Origin` if it is allowed.
    pub fn allowed<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins.iter().any(|o| o == text).then_some(origin)
    }

    /// The answer to a preflight request, or `None` when this is not one.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<HttpResponse> {
        if method != Method::OPTIONS || !headers.contains_key(header::ORIGIN) {
            return None;
        }
        let requested = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
        let method_ok = matches!(requested.as_bytes(), b"GET" | b"POST" | b"OPTIONS");
        let Some(origin) = self.allowed(headers).filter(|_| method_ok) else {
            return Some(actix_web::ResponseError::error_response(&ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::CorsRejected,
                "Disallowed CORS origin or method",
            )));
        };
        Some(
            HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECS))
                .insert_header((header::VARY, "Origin"))
                .finish(),
        )
    }

    /// Adds the CORS headers a request gets; `allowed` is its origin if [`Cors::allowed`].
    pub fn decorate(allowed: Option<HeaderValue>, response: &mut HeaderMap) {
        response.append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = allowed {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            response.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("ETag"),
            );
        }
    }
}
