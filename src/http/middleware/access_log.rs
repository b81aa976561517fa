//! The access log, off unless `ACCESS_LOG=true`: one line per request, `access` with the path,
//! status and time taken, inside the request span (so with its id, method and route). Off by
//! default because a busy read path should not cost a log line per request (SPEC §6).
//!
//! The path is logged without its query, where the OAuth code and state and the webhook verify
//! token travel; a route with a `{secret}` segment is logged by its pattern.

use std::time::Duration;

use actix_web::HttpRequest;

/// Logs the line of one answered request; `pattern` is its route's, if it has one.
pub fn log(request: &HttpRequest, pattern: Option<&str>, status: u16, took: Duration) {
    let elapsed_ms = took.as_micros() as f64 / 1000.0;
    let path = match pattern {
        Some(pattern) if pattern.contains("{secret}") => pattern,
        _ => request.path(),
    };
    tracing::info!(path, status, elapsed_ms, "access");
}
