//! Read routes: every body is pre-serialized by the CacheActor; handlers only pick the key.

use actix_web::{HttpRequest, HttpResponse, web};

use chrono::{Datelike, Utc};
use futures::future::LocalBoxFuture;

use super::{AppState, cached_json, mailbox, query_param};
use crate::actors::cache::{CachedBody, Get, ListActivities};
use crate::error::{ApiError, Place, Problem};
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

/// The FastAPI-shaped problems of one request, collected so a 422 names every bad parameter.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    /// Parses an integer parameter within `min..=max`, recording what is wrong with it.
    fn int(
        &mut self,
        place: Place,
        name: &str,
        raw: Option<&str>,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Option<i64> {
        let raw = raw?;
        let Ok(value) = raw.trim().parse::<i64>() else {
            self.0.push(Problem::new(
                place,
                name,
                "Input should be a valid integer, unable to parse string as an integer",
                "int_parsing",
            ));
            return None;
        };
        if let Some(min) = min.filter(|min| value < *min) {
            self.0.push(Problem::new(
                place,
                name,
                format!("Input should be greater than or equal to {min}"),
                "greater_than_equal",
            ));
            return None;
        }
        if let Some(max) = max.filter(|max| value > *max) {
            self.0.push(Problem::new(
                place,
                name,
                format!("Input should be less than or equal to {max}"),
                "less_than_equal",
            ));
            return None;
        }
        Some(value)
    }

    fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(&self.0))
        }
    }
}

/// Years before this one are refused by `/stats/summary/{year}`.
const FIRST_YEAR: i64 = 2000;
/// The largest page `/strava/activities` serves.
const MAX_LIMIT: i64 = 200;
const DEFAULT_LIMIT: usize = 100;

fn this_year() -> i64 {
    i64::from(Utc::now().year())
}

#[tracing::instrument(name = "GET stats/summary", skip_all)]
pub async fn summary(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::default();
    let year = problems.int(
        Place::Path,
        "year",
        req.match_info().get("year"),
        Some(FIRST_YEAR),
        Some(this_year()),
    );
    problems.into_result()?;
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
    let mut problems = Problems::default();
    let year = problems.int(
        Place::Query,
        "year",
        query_param(&req, "year").as_deref(),
        Some(i64::from(i32::MIN)),
        Some(i64::from(i32::MAX)),
    );
    problems.into_result()?;
    let year = year.unwrap_or_else(this_year) as i32;
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
    let mut problems = Problems::default();
    let limit = problems.int(
        Place::Query,
        "limit",
        query_param(&req, "limit").as_deref(),
        Some(1),
        Some(MAX_LIMIT),
    );
    let offset = problems.int(
        Place::Query,
        "offset",
        query_param(&req, "offset").as_deref(),
        Some(0),
        Some(i64::from(u32::MAX)),
    );
    let year = problems.int(
        Place::Query,
        "year",
        query_param(&req, "year").as_deref(),
        Some(i64::from(i32::MIN)),
        Some(i64::from(i32::MAX)),
    );
    problems.into_result()?;
    let query = ListQuery {
        limit: limit.map_or(DEFAULT_LIMIT, |l| l as usize),
        offset: offset.unwrap_or(0) as usize,
        year: year.map(|y| y as i32),
        kind: query_param(&req, "activity_type").filter(|t| !t.is_empty()),
    };
    let (body, etag) = state
        .cache
        .ask(ListActivities(query))
        .await
        .map_err(mailbox)?;
    Ok(cached_json(&req, &state, &CachedBody { body, etag }))
}
