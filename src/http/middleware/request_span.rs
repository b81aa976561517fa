//! The span every request runs in: `request{request_id, method, route, status}`, opened by
//! tracing-actix-web's `TracingLogger` with [`RequestSpan`] as its builder. The handler, the
//! errors it logs (a 5xx's error id among them) and everything it awaits on its worker run inside
//! it, so each line a request causes carries its id; [`request_id_header`] sends the id back as
//! `X-Request-Id`, so a client can quote it.
//!
//! The span holds no path or query (the OAuth code and state and the webhook verify token travel
//! in queries), no header and no client address: only the route pattern.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{RequestId, RootSpanBuilder};

use super::metrics::UNMATCHED;

/// The response header that carries the request id.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Builds the request span (and opens no other: tracing-actix-web's default span would log the
/// path with its query, the user agent and the client address).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern();
        let span = tracing::info_span!(
            "request",
            request_id = Empty,
            method = %request.method(),
            route = route.as_deref().unwrap_or(UNMATCHED),
            status = Empty,
        );
        // TracingLogger stores the id before it asks for the span.
        if let Some(id) = request.extensions().get::<RequestId>() {
            span.record("request_id", tracing::field::display(id));
        }
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
    }
}

/// The middleware that answers every request with its `X-Request-Id`.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut response = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id.to_string()).ok()) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}
