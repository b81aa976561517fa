//! Strava's webhook: the subscription check (GET) and events (POST, acknowledged once the
//! FetcherActor has them in the durable queue, and confirmed by the leader afterwards).
//!
//! With `STRAVA_WEBHOOK_SECRET` set, both are served only at `/strava/webhook/{that secret}`;
//! the bare path and any other segment answer exactly as an unknown path does, before the body
//! is read or anything else is asked. Without it, only the bare path is served.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde_json::json;

use super::params::{self, Problems};
use super::reply::{mailbox, unknown_path};
use super::state::AppState;
use crate::actors::fetcher::webhook::Event;
use crate::actors::fetcher::{SubscriptionChecked, WebhookEvent};
use crate::crypto::constant_time_eq;
use crate::error::{ApiError, ErrorCode};

/// Whether the request came to the path Strava was given: `{secret}` equal to
/// STRAVA_WEBHOOK_SECRET (compared in constant time), or the bare path when none is set.
fn at_our_path(req: &HttpRequest, state: &AppState) -> bool {
    match (&state.webhook_secret, req.match_info().get("secret")) {
        (None, None) => true,
        (Some(ours), Some(given)) => {
            constant_time_eq(given.as_bytes(), ours.expose_secret().as_bytes())
        }
        _ => false,
    }
}

/// `GET /strava/webhook[/{secret}]?hub.mode=subscribe&hub.challenge=X&hub.verify_token=T`.
#[tracing::instrument(name = "GET webhook", skip_all)]
pub async fn validate(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !at_our_path(&req, &state) {
        return Ok(unknown_path());
    }
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
            // A subscription is being made: its id is stored once Strava answers the maker.
            // Should telling the fetcher fail, it still reads the id within a minute.
            if let Err(e) = state.fetcher.ask(SubscriptionChecked).await {
                tracing::debug!(error = %e, "the fetcher did not take the subscription check");
            }
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
pub const MAX_EVENT_BYTES: usize = 16 * 1024;
/// Strava sends an event in one go; a body that trickles in is not Strava's, and may not hold a
/// connection longer than this.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(2);

/// The request body, refused with a JSON 413 beyond [`MAX_EVENT_BYTES`] and a JSON 408 when
/// it is not all there within [`BODY_TIMEOUT`].
async fn read_body(payload: web::Payload) -> Result<web::BytesMut, ApiError> {
    actix_web::rt::time::timeout(BODY_TIMEOUT, read_all(payload))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::RequestTimeout,
                format!(
                    "Request body not received within {} seconds",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })?
}

async fn read_all(mut payload: web::Payload) -> Result<web::BytesMut, ApiError> {
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

/// `POST /strava/webhook[/{secret}]`: 200 as soon as the event is stored (or ignored).
#[tracing::instrument(name = "POST webhook", skip_all)]
pub async fn receive(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !at_our_path(&req, &state) {
        return Ok(unknown_path());
    }
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
    // Anyone may post one: what comes of it is counted (milepost_webhook_events_total) and
    // logged when it changes something, not here. Its strings are the sender's, hence `?`.
    tracing::debug!(
        object = ?event.object_type,
        aspect = ?event.aspect_type,
        id = event.object_id,
        "webhook event"
    );
    state
        .fetcher
        .ask(WebhookEvent(event))
        .await
        .map_err(mailbox)?
        // Not stored, so not acknowledged: Strava sends it again.
        .map_err(|e| ApiError::unavailable(&e))?;
    Ok(HttpResponse::Ok().json(json!({"status": "ok"})))
}
