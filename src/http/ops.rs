//! Operational routes: health, liveness, readiness, metrics, and the refresh trigger.

use std::sync::atomic::Ordering;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use serde_json::json;

use super::auth::require_api_key;
use super::params::{self, Problems};
use super::reply::mailbox;
use super::state::AppState;
use crate::actors::cache::Health;
use crate::actors::fetcher::{
    AppStanding, AppStandingStatus, Disconnect, RunSync, Status, SyncError,
};
use crate::actors::token::{CONNECTED, SetupLinkWaiting};
use crate::crypto::constant_time_eq;
use crate::error::{ApiError, ErrorCode};
use crate::stats::timestamp;
use crate::store::coordination::Role;
use crate::strava::budget::Priority;

/// The `strava` field of health and the operators' view: what the stored connection says, and
/// for a working connection whether Strava says the application is inactive. A connection that
/// needs re-authorization says so first: nothing can probe Strava until the owner reconnects.
pub(super) fn connection_state<'a>(
    connection: Option<&'a str>,
    app: &AppStandingStatus,
) -> &'a str {
    match connection {
        None => "not_connected",
        Some(CONNECTED) if app.is_inactive() => "app_inactive",
        Some(status) => status,
    }
}

#[tracing::instrument(name = "GET health", skip_all)]
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let (facts, app) = futures::join!(state.cache.ask(Health), state.fetcher.ask(AppStanding));
    let app = app.map_err(mailbox)?;
    let body = match facts.map_err(mailbox)? {
        Ok(facts) => json!({
            "status": "ok",
            "service": "strava",
            "database": "connected",
            "strava": connection_state(facts.connection.as_deref(), &app),
            "last_sync": facts.last_sync.map(timestamp),
        }),
        Err(cause) => {
            tracing::warn!(
                error = &cause as &dyn std::error::Error,
                "health check: Postgres unreachable"
            );
            json!({"status": "degraded", "service": "strava", "database": "disconnected"})
        }
    };
    Ok(HttpResponse::Ok().json(body))
}

pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.drain.is_draining() {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotReady,
            "Not ready: shutting down",
        ))
    } else if state.ready.load(Ordering::Acquire) {
        Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NotReady,
            "Not ready: cache warming",
        ))
    }
}

/// Prometheus text; when METRICS_TOKEN is set it must come as a bearer token.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if let Some(expected) = &state.metrics_token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), expected.expose_secret().as_bytes()) {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidMetricsToken,
                "Invalid or missing metrics token",
            ));
        }
    }
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render()))
}

#[tracing::instrument(name = "POST refresh-data", skip_all)]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_api_key(&req, &state)?;
    let mut problems = Problems::of(&req);
    let full = problems.flag(&params::FULL).unwrap_or(false);
    problems.finish()?;
    let outcome = state
        .fetcher
        .ask(RunSync {
            full,
            priority: Priority::Interactive,
        })
        .await
        .map_err(mailbox)?;
    let report = outcome.map_err(|e| sync_error(e, "Failed to refresh Strava data"))?;
    tracing::info!(?report, "refresh done");
    Ok(HttpResponse::Ok()
        .json(json!({"status": "success", "message": "Data refreshed successfully"})))
}

/// Operators' view: each actor's message figures, the sync, the budget, the cache, and whether
/// a setup link is waiting for the owner's first connection.
#[tracing::instrument(name = "GET admin/actors", skip_all)]
pub async fn actors(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_api_key(&req, &state)?;
    let fetcher = state.fetcher.ask(Status).await.map_err(mailbox)?;
    let facts = state.cache.ask(Health).await.map_err(mailbox)?.ok();
    let setup_link_waiting = state
        .token
        .ask(SetupLinkWaiting)
        .await
        .map_err(mailbox)?
        .map_err(|e| ApiError::internal(&e))?;
    let app = fetcher.app.unwrap_or_default();
    Ok(HttpResponse::Ok().json(json!({
        "actors": state.metrics.actor_summaries(),
        "setup_link_waiting": setup_link_waiting,
        "sync": {
            "in_flight": fetcher.sync_in_flight,
            "last_success": facts.as_ref().and_then(|f| f.last_sync).map(timestamp),
            "strava": facts.as_ref().map(|f| connection_state(f.connection.as_deref(), &app)),
            "app_inactive_since": app.inactive_since.map(timestamp),
            "next_probe": app.next_probe.map(timestamp),
        },
        "budget": fetcher.budget,
        "cache": {"entries": state.metrics.cache_entries.get()},
        "replica": {
            "id": fetcher.replica,
            "leader": fetcher.role.is_leader(),
            "leader_since": match fetcher.role {
                Role::Leader { since, .. } => Some(timestamp(since)),
                Role::Follower => None,
            },
            "generation": state.metrics.generation.get(),
        },
        "leader": facts.as_ref().map(|f| json!({
            "replica": f.leader,
            "since": f.leader_since.map(timestamp),
        })),
    })))
}

#[tracing::instrument(name = "POST disconnect", skip_all)]
pub async fn disconnect(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    require_api_key(&req, &state)?;
    state
        .fetcher
        .ask(Disconnect)
        .await
        .map_err(mailbox)?
        .map_err(|e| sync_error(e, "Failed to disconnect from Strava"))?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "success",
        "message": "Strava account disconnected and its data deleted"
    })))
}

/// How a failed sync (or disconnect) reads to the client; `failing` heads a 502's detail.
fn sync_error(e: SyncError, failing: &str) -> ApiError {
    match e {
        SyncError::NotConnected => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::NotConnected,
            "No Strava account connected. Visit /strava/authorize first",
        ),
        SyncError::ReauthorizationRequired => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ReauthorizationRequired,
            "Strava connection needs re-authorization. Visit /strava/authorize",
        ),
        SyncError::AppInactive(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::StravaAppInactive,
            format!(
                "{} The cached data is still served.",
                crate::strava::standing::OWNER_MUST_REACTIVATE
            ),
        ),
        SyncError::BudgetExhausted(wait) => {
            let secs = wait.as_secs().max(1);
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::RateLimited,
                "Strava rate limit budget exhausted. Try again later",
            )
            .with_retry_after(secs)
        }
        SyncError::NoLeader => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::NoLeader,
            "No replica is leading now to run it (one takes over within seconds). Try again later",
        )
        .with_retry_after(5),
        e @ (SyncError::Strava(_)
        | SyncError::Unauthorized
        | SyncError::NotFound
        | SyncError::Token(crate::actors::token::TokenError::Strava(_))
        | SyncError::Leader { strava: true, .. }) => {
            ApiError::server(StatusCode::BAD_GATEWAY, ErrorCode::StravaError, failing, &e)
        }
        e @ (SyncError::Token(_)
        | SyncError::Cache(_)
        | SyncError::Storage(_)
        | SyncError::Mailbox(_)
        | SyncError::Stopped
        | SyncError::Leader { strava: false, .. }) => ApiError::internal(&e),
    }
}
