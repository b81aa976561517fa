//! Limits on what a request may carry, answered in JSON before any handler runs. (The server's
//! own, larger limits still apply beneath these.)

use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::{ApiError, ErrorCode};

/// No route takes a query anywhere near this long.
pub const MAX_QUERY_BYTES: usize = 4 * 1024;
/// Browsers send a few KB of headers; more is not a frontend.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The JSON refusal of a request over a limit, if it is.
pub fn refuse(req: &ServiceRequest) -> Option<HttpResponse> {
    if req.query_string().len() > MAX_QUERY_BYTES {
        return Some(
            ApiError::new(
                StatusCode::URI_TOO_LONG,
                ErrorCode::UriTooLong,
                format!("Query string longer than {MAX_QUERY_BYTES} bytes"),
            )
            .error_response(),
        );
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Some(
            ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                ErrorCode::HeadersTooLarge,
                format!("Headers larger than {MAX_HEADER_BYTES} bytes"),
            )
            .error_response(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn requests_within_the_limits_pass() {
        let req = TestRequest::get()
            .uri(&format!("/strava/stats/ytd?type={}", "x".repeat(100)))
            .insert_header(("X-Filler", "y".repeat(1_000)))
            .to_srv_request();
        assert!(refuse(&req).is_none());
    }

    #[test]
    fn a_long_query_is_a_414_and_big_headers_a_431() {
        let req = TestRequest::get()
            .uri(&format!(
                "/strava/stats/ytd?type={}",
                "x".repeat(MAX_QUERY_BYTES)
            ))
            .to_srv_request();
        assert_eq!(refuse(&req).map(|r| r.status().as_u16()), Some(414));
        let req = TestRequest::get()
            .insert_header(("X-Filler", "y".repeat(MAX_HEADER_BYTES)))
            .to_srv_request();
        assert_eq!(refuse(&req).map(|r| r.status().as_u16()), Some(431));
    }
}
