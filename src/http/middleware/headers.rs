//! The security headers every response carries (SPEC §2: the old service's open security-scan
//! findings), preflights, refusals and errors included. A handler that sets one of them (the
//! docs page its CSP, reads their Cache-Control) keeps its own.

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;

/// The JSON content security policy; no script, no frame.
const JSON_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The middleware; production adds HSTS.
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
