//! Read routes: every body is pre-serialized by the CacheActor; handlers only pick the key.

use actix_web::{HttpRequest, HttpResponse, web};

use futures::future::LocalBoxFuture;

use super::{AppState, cached_json, mailbox, query_param};
use crate::actors::cache::{CachedBody, Family, Get, ListActivities, Lookup, Read};
use crate::error::ApiError;
use crate::stats::ListQuery;

/// Answers the body `read` names, else 404 with `missing(year)` (the year the read was for).
async fn serve(
    req: &HttpRequest,
    state: &AppState,
    read: Read,
    missing: impl FnOnce(Option<i32>) -> String,
) -> Result<HttpResponse, ApiError> {
    match state.cache.ask(Get(read)).await.map_err(mailbox)? {
        Lookup::Found(body) => Ok(cached_json(req, state, &body)),
        Lookup::Missing { year } => Err(ApiError::not_found(missing(year))),
        Lookup::AfterCurrentYear { current } => {
            let mut problems = Problems::default();
            problems.0.push((
                "path",
                "year".to_owned(),
                format!("Input should be less than or equal to {current}"),
                "less_than_equal",
            ));
            Err(ApiError::validation(problems.0))
        }
    }
}

/// A route answering the body under `key`, or 404 with `missing` before any sync.
pub fn cached(
    key: &'static str,
    missing: &'static str,
) -> impl Fn(HttpRequest, web::Data<AppState>) -> LocalBoxFuture<'static, Result<HttpResponse, ApiError>>
+ Clone
+ 'static {
    move |req, state| {
        Box::pin(async move { serve(&req, &state, Read::Fixed(key), |_| missing.into()).await })
    }
}

#[tracing::instrument(name = "GET stats/monthly", skip_all)]
pub async fn monthly(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    const MISSING: &str = "Monthly stats not cached yet. Try /strava/refresh-data";
    let kind = query_param(&req, "type").filter(|t| !t.is_empty());
    serve(&req, &state, Read::Monthly(kind), |_| MISSING.into()).await
}

/// The FastAPI-shaped problems of one request, collected so a 422 names every bad parameter.
#[derive(Default)]
struct Problems(Vec<(&'static str, String, String, &'static str)>);

impl Problems {
    /// Parses an integer parameter within `min..=max`, recording what is wrong with it.
    fn int(
        &mut self,
        place: &'static str,
        name: &str,
        raw: Option<&str>,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Option<i64> {
        let raw = raw?;
        let Ok(value) = raw.trim().parse::<i64>() else {
            self.0.push((
                place,
                name.to_owned(),
                "Input should be a valid integer, unable to parse string as an integer".to_owned(),
                "int_parsing",
            ));
            return None;
        };
        if let Some(min) = min.filter(|min| value < *min) {
            self.0.push((
                place,
                name.to_owned(),
                format!("Input should be greater than or equal to {min}"),
                "greater_than_equal",
            ));
            return None;
        }
        if let Some(max) = max.filter(|max| value > *max) {
            self.0.push((
                place,
                name.to_owned(),
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
            Err(ApiError::validation(self.0))
        }
    }
}

/// Years before this one are refused by `/stats/summary/{year}`.
const FIRST_YEAR: i64 = 2000;
/// The largest page `/strava/activities` serves.
const MAX_LIMIT: i64 = 200;
const DEFAULT_LIMIT: usize = 100;

#[tracing::instrument(name = "GET stats/summary", skip_all)]
pub async fn summary(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::default();
    let year = problems.int(
        "path",
        "year",
        req.match_info().get("year"),
        Some(FIRST_YEAR),
        // The upper bound is the athlete's current local year, which the CacheActor knows.
        Some(i64::from(i32::MAX)),
    );
    problems.into_result()?;
    let Some(year) = year.and_then(|y| i32::try_from(y).ok()) else {
        return Err(ApiError::not_found("Not Found"));
    };
    serve(&req, &state, Read::Summary(year), |_| {
        format!("No activities found for year {year}")
    })
    .await
}

async fn longest(
    req: HttpRequest,
    state: web::Data<AppState>,
    family: Family,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::default();
    let year = problems.int(
        "query",
        "year",
        query_param(&req, "year").as_deref(),
        Some(i64::from(i32::MIN)),
        Some(i64::from(i32::MAX)),
    );
    problems.into_result()?;
    // Within i32 by the bounds above; the default is the athlete's current local year.
    let year = year.and_then(|y| i32::try_from(y).ok());
    let what = match family {
        Family::Run => "runs",
        Family::Ride => "rides",
    };
    serve(&req, &state, Read::Longest { family, year }, |year| {
        let year = year.map(|y| y.to_string()).unwrap_or_default();
        format!("No {what} found for year {year}. Try /strava/refresh-data")
    })
    .await
}

#[tracing::instrument(name = "GET stats/longest-run", skip_all)]
pub async fn longest_run(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    longest(req, state, Family::Run).await
}

#[tracing::instrument(name = "GET stats/longest-ride", skip_all)]
pub async fn longest_ride(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    longest(req, state, Family::Ride).await
}

#[tracing::instrument(name = "GET activities", skip_all)]
pub async fn activities(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::default();
    let limit = problems.int(
        "query",
        "limit",
        query_param(&req, "limit").as_deref(),
        Some(1),
        Some(MAX_LIMIT),
    );
    let offset = problems.int(
        "query",
        "offset",
        query_param(&req, "offset").as_deref(),
        Some(0),
        Some(i64::from(u32::MAX)),
    );
    let year = problems.int(
        "query",
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
    let page = state
        .cache
        .ask(ListActivities(query))
        .await
        .map_err(mailbox)?;
    Ok(cached_json(
        &req,
        &state,
        &CachedBody {
            body: page.body,
            etag: page.etag,
        },
    ))
}
