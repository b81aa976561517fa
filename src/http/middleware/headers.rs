//! The security headers every response carries (SPEC §2: the old service's open security-scan
//! findings), preflights, refusals and errors included. A handler that sets one of them (the
//! docs page its CSP, reads their Cache-Control) keeps its own.

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The JSON content security policy; no script, no frame.
const JSON_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The headers, made once.
#[derive(Debug, Clone)]
pub struct SecurityHeaders(Vec<(HeaderName, HeaderValue)>);

impl SecurityHeaders {
    /// The set; production adds HSTS.
    pub fn new(production: bool) -> Self {
        let mut headers = vec![
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, JSON_CSP),
            (header::CACHE_CONTROL, "no-store"),
        ];
        if production {
            headers.push((
                header::STRICT_TRANSPORT_SECURITY,
                "max-age=31536000; includeSubDomains",
            ));
        }
        Self(
            headers
                .into_iter()
                .map(|(name, value)| (name, HeaderValue::from_static(value)))
                .collect(),
        )
    }

    /// Adds each header the response does not have yet.
    pub fn apply(&self, response: &mut HeaderMap) {
        for (name, value) in &self.0 {
            if !response.contains_key(name) {
                response.insert(name.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_the_handler_set_is_kept_and_hsts_is_for_production() {
        let mut response = HeaderMap::new();
        response.insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
        SecurityHeaders::new(false).apply(&mut response);
        assert_eq!(response.get(header::CACHE_CONTROL).unwrap(), "public");
        assert_eq!(response.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
        assert!(!response.contains_key(header::STRICT_TRANSPORT_SECURITY));
        SecurityHeaders::new(true).apply(&mut response);
        assert!(response.contains_key(header::STRICT_TRANSPORT_SECURITY));
    }
}
