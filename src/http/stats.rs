//! Read routes: every body is pre-serialized by the CacheActor; handlers only pick the key and
//! ask the [`CacheReader`] of their own worker (each worker's App holds its own). They open no
//! span of their own: the request's span already names the route, and they log nothing.

use actix_web::{HttpRequest, HttpResponse, web};

use futures::future::LocalBoxFuture;

use super::params::{self, Problems};
use super::reply::{cached_body, mailbox};
use super::state::AppState;
use crate::actors::Mailbox;
use crate::actors::cache::{CacheReader, CachedBody, Family, Get, ListActivities, Lookup, Read};
use crate::error::ApiError;
use crate::stats::{self, ActivityList, ListQuery};
use crate::strava::sport;

/// This worker's reader.
pub(super) fn reader(req: &HttpRequest) -> Result<&Mailbox<CacheReader>, ApiError> {
    req.app_data::<web::Data<Mailbox<CacheReader>>>()
        .map(|reader| reader.get_ref())
        .ok_or_else(|| ApiError::internal(&NoReader))
}

/// A worker built without its reader (a wiring mistake; never in a running server).
#[derive(Debug, thiserror::Error)]
#[error("this worker has no cache reader")]
struct NoReader;

/// Answers the body `read` names, else 404 with `missing(year)` (the year the read was for).
pub(super) async fn serve(
    req: &HttpRequest,
    state: &AppState,
    read: Read,
    missing: impl FnOnce(Option<i32>) -> String,
) -> Result<HttpResponse, ApiError> {
    let year = match read {
        Read::Summary(_) => &params::SUMMARY_YEAR,
        _ => &params::CALENDAR_YEAR,
    };
    match reader(req)?.ask(Get(read)).await.map_err(mailbox)? {
        Lookup::Found(body) => Ok(cached_body(req, state, &body)),
        Lookup::Missing { year } => Err(ApiError::not_found(missing(year))),
        Lookup::AfterCurrentYear { current } => Err(ApiError::validation(&[params::too_large(
            year,
            i64::from(current),
        )])),
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

pub async fn monthly(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    const MISSING: &str = "Monthly stats not cached yet. Try /strava/refresh-data";
    let read = match Problems::of(&req).text(&params::TYPE) {
        // A sport Strava has not: the zero-filled months every sport without activities gets.
        Some(kind) if !sport::is_known(&kind) => Read::Fixed(stats::keys::MONTHLY_NONE),
        kind => Read::Monthly(kind),
    };
    serve(&req, &state, read, |_| MISSING.into()).await
}

pub async fn weekly(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    const MISSING: &str = "Weekly stats not cached yet. Try /strava/refresh-data";
    let mut problems = Problems::of(&req);
    let kind = problems.text(&params::SPORT);
    problems.finish()?;
    serve(&req, &state, Read::Weekly(kind), |_| MISSING.into()).await
}

pub async fn calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    const MISSING: &str = "Calendar not cached yet. Try /strava/refresh-data";
    let mut problems = Problems::of(&req);
    let year = problems.int(&params::CALENDAR_YEAR);
    let kind = problems.text(&params::SPORT);
    problems.finish()?;
    // At least 2000 by its bounds; beyond i32 is beyond the athlete's current year too.
    let year = year.map(|y| i32::try_from(y).unwrap_or(i32::MAX));
    serve(&req, &state, Read::Calendar { year, kind }, |_| {
        MISSING.into()
    })
    .await
}

pub async fn streaks(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    const MISSING: &str = "Streaks not cached yet. Try /strava/refresh-data";
    let mut problems = Problems::of(&req);
    let kind = problems.text(&params::SPORT);
    problems.finish()?;
    serve(&req, &state, Read::Streaks(kind), |_| MISSING.into()).await
}

pub async fn summary(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::of(&req);
    let year = problems.int(&params::SUMMARY_YEAR);
    problems.finish()?;
    // Beyond i32 is beyond the athlete's current year too: the CacheActor refuses it.
    let Some(year) = year.map(|y| i32::try_from(y).unwrap_or(i32::MAX)) else {
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
    let mut problems = Problems::of(&req);
    let year = problems.int(&params::LONGEST_YEAR);
    problems.finish()?;
    // Within i32 by its bounds; the default is the athlete's current local year.
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

pub async fn longest_run(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    longest(req, state, Family::Run).await
}

pub async fn longest_ride(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    longest(req, state, Family::Ride).await
}

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
    // A sport Strava has not: the page of a sport without activities, made here and kept
    // nowhere (SPEC §5), so a stream of made-up names costs neither memory nor a filter.
    if query
        .kind
        .as_deref()
        .is_some_and(|kind| !sport::is_known(kind))
    {
        let empty = CachedBody::new(ActivityList::empty_page(&query));
        return Ok(cached_body(&req, &state, &empty));
    }
    let page = reader(&req)?
        .ask(ListActivities(query))
        .await
        .map_err(mailbox)?;
    Ok(cached_body(&req, &state, &page.0))
}
