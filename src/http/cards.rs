//! The SVG card routes: like the JSON reads, each handler reads its parameters and asks the
//! [`CacheReader`](crate::actors::cache::CacheReader) of its own worker, which draws each card
//! once per data change from the body it shows.

use actix_web::{HttpRequest, HttpResponse, web};

use super::params::{self, Problems};
use super::state::AppState;
use super::stats::serve;
use crate::actors::cache::{Card, CardKind, Read};
use crate::error::ApiError;
use crate::render::cards::Look;
use crate::render::format::{Theme, Units};

async fn card(
    req: HttpRequest,
    state: web::Data<AppState>,
    which: CardKind,
) -> Result<HttpResponse, ApiError> {
    let mut problems = Problems::of(&req);
    // Both are checked against their names: a value that does not parse was refused.
    let theme = problems.text(&params::THEME);
    let units = problems.text(&params::UNITS);
    let kind = match which {
        CardKind::Ytd => problems.text(&params::YTD_SPORT),
        _ => problems.text(&params::SPORT),
    };
    let year = match which {
        CardKind::Calendar => problems.int(&params::CALENDAR_YEAR),
        _ => None,
    };
    problems.finish()?;
    let look = Look {
        theme: theme.as_deref().and_then(Theme::parse).unwrap_or_default(),
        units: units.as_deref().and_then(Units::parse).unwrap_or_default(),
    };
    let card = Card {
        which,
        look,
        kind,
        // At least 2000 by its bounds; beyond i32 is beyond the athlete's current year too.
        year: year.map(|y| i32::try_from(y).unwrap_or(i32::MAX)),
    };
    // A card is always drawn (before the first sync it says there is no data yet).
    serve(&req, &state, Read::Card(card), |_| "Not Found".into()).await
}

pub async fn ytd(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    card(req, state, CardKind::Ytd).await
}

pub async fn monthly(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    card(req, state, CardKind::Monthly).await
}

pub async fn calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    card(req, state, CardKind::Calendar).await
}

pub async fn streaks(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    card(req, state, CardKind::Streaks).await
}
