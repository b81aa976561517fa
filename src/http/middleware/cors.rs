//! CORS for the frontend: exact origins only (FRONTEND_URL and CORS_ALLOWED_ORIGINS), methods
//! GET/POST/OPTIONS, no wildcard, no credentials. Preflights are answered here (204, or JSON
//! 400 `cors_rejected` for another origin or method); every answer names `Origin` in its one
//! `Vary` line (a read's is `Accept-Encoding, Origin`: caches and scanners that read only the
//! first `Vary` line must see both), and for an allowed origin that origin and
//! `Access-Control-Expose-Headers: ETag`.
//!
//! Written by hand rather than with actix-cors (0.7), which cannot give SPEC's answers:
//! - its rejections are `CorsError` responses whose plain-text body ("Origin is not allowed to
//!   make this request") is fixed by the crate; SPEC wants every error as JSON
//!   `{"detail","code"}`, so each would have to be caught and rewritten by a second middleware;
//! - its preflight answer is 200, not the 204 the frontend has been getting;
//! - its `Vary` is `Origin, Access-Control-Request-Method, Access-Control-Request-Headers`
//!   (or nothing), not `Vary: Origin`;
//! - it refuses a preflight that asks for a header off its list, and treats an `OPTIONS` with
//!   `Access-Control-Request-Method` but no `Origin` as a failed preflight, where milepost
//!   answers the first with the fixed header list (the browser decides) and routes the second
//!   like any request (a JSON 405).

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
                .finish(),
        )
    }

    /// Adds the CORS headers a request gets; `allowed` is its origin if [`Cors::allowed`].
    pub fn decorate(allowed: Option<HeaderValue>, response: &mut HeaderMap) {
        vary_on_origin(response);
        if let Some(origin) = allowed {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            response.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("ETag"),
            );
        }
    }
}

/// What a read's body already varies on (`http/reply.rs`).
const VARY_ENCODING: &str = "Accept-Encoding";
const VARY_ENCODING_AND_ORIGIN: &str = "Accept-Encoding, Origin";

/// Makes `Origin` part of the answer's one `Vary` line: the common answers take a static value,
/// anything else is the list it had with `Origin` added once.
fn vary_on_origin(response: &mut HeaderMap) {
    let merged = {
        let mut had = response.get_all(header::VARY);
        match (had.next(), had.next()) {
            (None, _) => HeaderValue::from_static("Origin"),
            (Some(one), None)
                if one
                    .as_bytes()
                    .eq_ignore_ascii_case(VARY_ENCODING.as_bytes()) =>
            {
                HeaderValue::from_static(VARY_ENCODING_AND_ORIGIN)
            }
            _ => {
                let mut names: Vec<&str> = response
                    .get_all(header::VARY)
                    .filter_map(|v| v.to_str().ok())
                    .flat_map(|v| v.split(','))
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .collect();
                if !names
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case("origin") || *n == "*")
                {
                    names.push("Origin");
                }
                HeaderValue::from_str(&names.join(", "))
                    .unwrap_or_else(|_| HeaderValue::from_static("*"))
            }
        }
    };
    response.insert(header::VARY, merged);
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRONTEND: &str = "https://frontend.example";

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn an_answer_has_one_vary_line_naming_origin() {
        let vary = |before: &[&str]| {
            let mut map = HeaderMap::new();
            for value in before {
                map.append(header::VARY, HeaderValue::from_str(value).unwrap());
            }
            Cors::decorate(None, &mut map);
            let lines: Vec<_> = map.get_all(header::VARY).collect();
            assert_eq!(lines.len(), 1, "{before:?}: {lines:?}");
            lines[0].to_str().unwrap().to_owned()
        };
        assert_eq!(vary(&[]), "Origin");
        assert_eq!(vary(&["Accept-Encoding"]), "Accept-Encoding, Origin");
        assert_eq!(vary(&["accept-encoding"]), "Accept-Encoding, Origin");
        assert_eq!(vary(&["Cookie", "Accept"]), "Cookie, Accept, Origin");
        assert_eq!(vary(&["origin"]), "origin");
        assert_eq!(vary(&["*"]), "*");
    }

    #[test]
    fn only_an_exact_origin_is_allowed() {
        let cors = Cors::new(vec![FRONTEND.into()]);
        assert!(
            cors.allowed(&headers(&[(header::ORIGIN, FRONTEND)]))
                .is_some()
        );
        for other in [
            "https://frontend.example/",
            "https://frontend.example.evil",
            "http://frontend.example",
            "null",
        ] {
            assert!(
                cors.allowed(&headers(&[(header::ORIGIN, other)])).is_none(),
                "{other}"
            );
        }
    }

    #[test]
    fn preflights_are_answered_or_refused_and_other_requests_are_not_preflights() {
        let cors = Cors::new(vec![FRONTEND.into()]);
        let ok = headers(&[
            (header::ORIGIN, FRONTEND),
            (header::ACCESS_CONTROL_REQUEST_METHOD, "GET"),
        ]);
        let answer = cors.preflight(&Method::OPTIONS, &ok).unwrap();
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            answer.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            Some(&HeaderValue::from_static(FRONTEND))
        );
        let wrong_method = headers(&[
            (header::ORIGIN, FRONTEND),
            (header::ACCESS_CONTROL_REQUEST_METHOD, "DELETE"),
        ]);
        let answer = cors.preflight(&Method::OPTIONS, &wrong_method).unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert!(cors.preflight(&Method::GET, &ok).is_none());
        let no_method = headers(&[(header::ORIGIN, FRONTEND)]);
        assert!(cors.preflight(&Method::OPTIONS, &no_method).is_none());
    }
}
