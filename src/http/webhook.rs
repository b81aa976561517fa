//! Strava's webhook: the subscription check (GET) and events (POST, acknowledged at once and
//! handled by the FetcherActor afterwards).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde_json::json;

use super::params::{self, Problems};
use super::reply::mailbox;
use super::state::AppState;
use crate::actors::fetcher::WebhookEvent;
use crate::actors::fetcher::webhook::Event;
use crate::crypto::constant_time_eq;
use crate::error::{ApiError, ErrorCode};

/// `GET /strava/webhook?hub.mode=subscribe&hub.challenge=X&hub.verify_token=T`.
#[tracing::instrument(name = "GET webhook", skip_all)]
pub async fn validate(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::of(&req);
    let mode = problems.text(&params::HUB_MODE);
    let challenge = problems.text(&params::HUB_CHALLENGE);
    let token = problems.text(&params::HUB_VERIFY_TOKEN).unwrap_or_default();
    let ours = state
        .webhook_verify_token
        .as_ref()
        .is_some_and(|t| constant_time_eq(token.as_bytes(), t.expose_secret().as_bytes()));
    // Anything wrong is the same 403: this route tells a stranger nothing.
    match (problems.finish(), mode, challenge) {
        (Ok(()), Some(_), Some(challenge)) if ours => {
            Ok(HttpResponse::Ok().json(json!({"hub.challenge": challenge})))
        }
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidVerifyToken,
            "Invalid webhook verification request",
        )),
    }
}

/// Webhook events are a few hundred bytes.
const MAX_EVENT_BYTES: usize = 16 * 1024;

/// The request body, refused with a JSON 413 beyond [`MAX_EVENT_BYTES`].
async fn read_body(mut payload: web::Payload) -> Result<web::BytesMut, ApiError> {
    use futures::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request(ErrorCode::MalformedBody, "Unreadable request body")
        })?;
        if body.len() + chunk.len() > MAX_EVENT_BYTES {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!("Request body larger than {MAX_EVENT_BYTES} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `POST /strava/webhook`: 200 as soon as the event is handed over.
#[tracing::instrument(name = "POST webhook", skip_all)]
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default().to_ascii_lowercase());
    if content_type.is_some_and(|t| !t.starts_with("application/json")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Webhook events must be application/json",
        ));
    }
    let body = read_body(payload).await?;
    let event: Event = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad_request(ErrorCode::MalformedEvent, "Malformed webhook event"))?;
    tracing::info!(
        object = %event.object_type,
        aspect = %event.aspect_type,
        id = event.object_id,
        "webhook event"
    );
    state
        .fetcher
        .ask(WebhookEvent(event))
        .await
        .map_err(mailbox)?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok"})))
}
