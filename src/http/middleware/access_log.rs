//! The access log, off unless `ACCESS_LOG=true`: one line per request, `access` with the path,
//! status and time taken, inside the request span (so with its id, method and route). Off by
//! default because a busy read path should not cost a log line per request (SPEC §6).
//!
//! The path is logged without its query, where the OAuth code and state and the webhook verify
//! token travel; a route with a `{secret}` segment is logged by its pattern.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// The middleware.
pub async fn log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let response = next.call(req).await?;
    let elapsed_ms = started.elapsed().as_micros() as f64 / 1000.0;
    let request = response.request();
    let pattern = request
        .match_info()
        .get("secret")
        .and_then(|_| request.match_pattern());
    let path = pattern.as_deref().unwrap_or_else(|| request.path());
    tracing::info!(
        path,
        status = response.status().as_u16(),
        elapsed_ms,
        "access"
    );
    Ok(response)
}
