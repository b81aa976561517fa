//! Read routes: every body is pre-serialized by the CacheActor; handlers only pick the key.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{AppState, cached_json, mailbox, query_param};
use crate::actors::cache::Get;
use crate::error::ApiError;
use crate::stats::keys;

/// Answers the body under `key`, else `fallback`'s, else 404 with `missing`.
async fn serve(
    req: &HttpRequest,
    state: &AppState,
    key: String,
    fallback: Option<&'static str>,
    missing: &str,
) -> Result<HttpResponse, ApiError> {
    match state
        .cache
        .ask(Get { key, fallback })
        .await
        .map_err(mailbox)?
    {
        Some(body) => Ok(cached_json(req, state, &body)),
        None => Err(ApiError::not_found(missing)),
    }
}

#[tracing::instrument(name = "GET stats/ytd", skip_all)]
pub async fn ytd(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    serve(
        &req,
        &state,
        keys::YTD.into(),
        None,
        "YTD stats not cached yet. Try /strava/refresh-data",
    )
    .await
}

#[tracing::instrument(name = "GET stats/activities", skip_all)]
pub async fn recent(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    serve(
        &req,
        &state,
        keys::RECENT.into(),
        None,
        "Activities not cached yet. Try /strava/refresh-data",
    )
    .await
}

#[tracing::instrument(name = "GET stats/monthly", skip_all)]
pub async fn monthly(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    const MISSING: &str = "Monthly stats not cached yet. Try /strava/refresh-data";
    match query_param(&req, "type").filter(|t| !t.is_empty()) {
        // A type the athlete never did has twelve zero months, once any data is cached.
        Some(kind) => {
            serve(
                &req,
                &state,
                keys::monthly_of(&kind),
                Some(keys::MONTHLY_NONE),
                MISSING,
            )
            .await
        }
        None => serve(&req, &state, keys::MONTHLY.into(), None, MISSING).await,
    }
}
