//! Read routes: every body is pre-serialized by the CacheActor; handlers only pick the key.

use actix_web::{HttpRequest, HttpResponse, web};

use futures::future::LocalBoxFuture;

use super::params::{self, Problems};
use super::{AppState, cached_json, mailbox};
use crate::actors::cache::{CachedBody, Get, ListActivities};
use crate::error::ApiError;
use crate::stats::{ListQuery, keys};

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

/// A route answering the body under `key`, or 404 with `missing` before any sync.
pub fn cached(
    key: &'static str,
    missing: &'static str,
) -> impl Fn(HttpRequest, web::Data<AppState>) -> LocalBoxFuture<'static, Result<HttpResponse, ApiError>>
+ Clone
+ 'static {
    move |req, state| Box::pin(async move { serve(&req, &state, key.into(), None, missing).await })
}

#[tracing::instrument(name = "GET stats/monthly", skip_all)]
pub async fn monthly(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    const MISSING: &str = "Monthly stats not cached yet. Try /strava/refresh-data";
    let kind = Problems::of(&req).text(&params::MONTHLY_TYPE);
    match kind {
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

#[tracing::instrument(name = "GET stats/summary", skip_all)]
pub async fn summary(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::of(&req);
    let year = problems.int(&params::SUMMARY_YEAR);
    problems.finish()?;
    let Some(year) = year else {
        return Err(ApiError::not_found("Not Found"));
    };
    let year = year as i32;
    serve(
        &req,
        &state,
        keys::summary_of(year),
        None,
        &format!("No activities found for year {year}"),
    )
    .await
}

async fn longest(
    req: HttpRequest,
    state: web::Data<AppState>,
    run: bool,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::of(&req);
    let year = problems.int(&params::LONGEST_YEAR);
    problems.finish()?;
    let year = year.unwrap_or_else(params::current_year) as i32;
    let (key, missing) = if run {
        (
            keys::longest_run_of(year),
            format!("No runs found for year {year}. Try /strava/refresh-data"),
        )
    } else {
        (
            keys::longest_ride_of(year),
            format!("No rides found for year {year}. Try /strava/refresh-data"),
        )
    };
    serve(&req, &state, key, None, &missing).await
}

#[tracing::instrument(name = "GET stats/longest-run", skip_all)]
pub async fn longest_run(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    longest(req, state, true).await
}

#[tracing::instrument(name = "GET stats/longest-ride", skip_all)]
pub async fn longest_ride(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    longest(req, state, false).await
}

#[tracing::instrument(name = "GET activities", skip_all)]
pub async fn activities(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::of(&req);
    let limit = problems.int(&params::LIMIT);
    let offset = problems.int(&params::OFFSET);
    let year = problems.int(&params::YEAR_FILTER);
    let kind = problems.text(&params::ACTIVITY_TYPE);
    problems.finish()?;
    // Both have defaults, and their bounds make the conversions lossless.
    let query = ListQuery {
        limit: limit.unwrap_or_default() as usize,
        offset: offset.unwrap_or_default() as usize,
        year: year.map(|y| y as i32),
        kind,
    };
    let (body, etag) = state
        .cache
        .ask(ListActivities(query))
        .await
        .map_err(mailbox)?;
    Ok(cached_json(&req, &state, &CachedBody { body, etag }))
}
