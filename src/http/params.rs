//! The parameters the routes take, each defined once: the handlers read and validate them with
//! [`Problems`], and the OpenAPI document states them from the same definitions, so the two
//! cannot disagree on a name, a type or a bound.

use actix_web::HttpRequest;
use chrono::{Datelike, Utc};

use crate::error::{ApiError, Place, Problem};

/// The value of query parameter `name`, if present (the last one wins, as in FastAPI).
pub fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .last()
}

/// An integer bound: fixed, or the athlete's current local year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Fixed(i64),
    /// The athlete's current local year. Only the CacheActor knows it (it follows the
    /// athlete's time zone and the clock), so it checks this bound, with the same 422; the
    /// document states the UTC year at the time it is built.
    AthleteYear,
}

impl Bound {
    /// The bound as the document states it.
    pub fn documented(self) -> i64 {
        match self {
            Self::Fixed(v) => v,
            Self::AthleteYear => i64::from(Utc::now().year()),
        }
    }

    /// The bound a handler checks itself (`None`: the CacheActor checks it).
    fn checked_here(self) -> Option<i64> {
        match self {
            Self::Fixed(v) => Some(v),
            Self::AthleteYear => None,
        }
    }
}

/// The problem of a value of `p` above `max` (also the CacheActor's refusal of a year after
/// the athlete's current one).
pub fn too_large(p: &Int, max: i64) -> Problem {
    Problem::new(
        p.place,
        p.name,
        format!("Input should be less than or equal to {max}"),
        "less_than_equal",
    )
}

/// An integer parameter within `min..=max`.
#[derive(Debug)]
pub struct Int {
    pub name: &'static str,
    pub place: Place,
    pub required: bool,
    pub min: Bound,
    pub max: Bound,
    /// The value when the parameter is absent.
    pub default: Option<i64>,
    pub description: &'static str,
}

/// A boolean parameter, read as FastAPI reads one (`true`/`false`, `1`/`0`, `yes`/`no`, …).
#[derive(Debug)]
pub struct Flag {
    pub name: &'static str,
    pub place: Place,
    pub description: &'static str,
}

/// A text parameter. An empty value counts as absent, unless the parameter has a fixed set
/// of values (`one_of`), which the empty value is not in.
#[derive(Debug)]
pub struct Text {
    pub name: &'static str,
    pub place: Place,
    pub required: bool,
    /// The only values accepted, when not empty.
    pub one_of: &'static [&'static str],
    pub description: &'static str,
}

/// Any parameter, as the document lists them.
#[derive(Debug, Clone, Copy)]
pub enum Param {
    Int(&'static Int),
    Flag(&'static Flag),
    Text(&'static Text),
}

pub const LIMIT: Int = Int {
    name: "limit",
    place: Place::Query,
    required: false,
    min: Bound::Fixed(1),
    max: Bound::Fixed(200),
    default: Some(100),
    description: "Page size",
};

pub const OFFSET: Int = Int {
    name: "offset",
    place: Place::Query,
    required: false,
    min: Bound::Fixed(0),
    max: Bound::Fixed(u32::MAX as i64),
    default: Some(0),
    description: "Activities to skip (newest first)",
};

/// `/strava/activities`: only activities of this local year.
pub const YEAR_FILTER: Int = Int {
    name: "year",
    place: Place::Query,
    required: false,
    min: Bound::Fixed(i32::MIN as i64),
    max: Bound::Fixed(i32::MAX as i64),
    default: None,
    description: "Only activities of this local year",
};

/// `/stats/longest-*`: the local year to look in.
pub const LONGEST_YEAR: Int = Int {
    name: "year",
    place: Place::Query,
    required: false,
    min: Bound::Fixed(i32::MIN as i64),
    max: Bound::Fixed(i32::MAX as i64),
    default: None,
    description: "Local year (default: the current year)",
};

/// `/stats/summary/{year}`.
pub const SUMMARY_YEAR: Int = Int {
    name: "year",
    place: Place::Path,
    required: true,
    min: Bound::Fixed(2000),
    max: Bound::AthleteYear,
    default: None,
    description: "Local year",
};

/// `/activities?activity_type=`, as the old service took it: any text.
pub const ACTIVITY_TYPE: Text = Text {
    name: "activity_type",
    place: Place::Query,
    required: false,
    one_of: &[],
    description: "Only activities of this legacy type (`Run`, `Ride`, …), exact; a value that is \
        none of Strava's sport types answers as a sport without activities",
};

/// `/stats/monthly?type=`, as the old service took it: any text.
pub const TYPE: Text = Text {
    name: "type",
    place: Place::Query,
    required: false,
    one_of: &[],
    description: "Only activities of this legacy type (`Run`, `Ride`, …), exact; a value that is \
        none of Strava's sport types answers as a sport without activities",
};

/// The newer reads by legacy type (weekly, calendar, streaks and their cards, the monthly
/// card): one of Strava's sports, so a made-up one costs nothing (SPEC §5).
pub const SPORT: Text = Text {
    name: "type",
    place: Place::Query,
    required: false,
    one_of: &crate::strava::sport::SPORT_TYPES,
    description: "Only activities of this legacy type, exact (a sport type that is no legacy \
        type, or one never done, gives zero figures)",
};

/// `/stats/calendar?year=` and the calendar card.
pub const CALENDAR_YEAR: Int = Int {
    name: "year",
    place: Place::Query,
    required: false,
    min: Bound::Fixed(2000),
    max: Bound::AthleteYear,
    default: None,
    description: "Local year (default: the current year)",
};

/// The ytd card's one sport.
pub const YTD_SPORT: Text = Text {
    name: "type",
    place: Place::Query,
    required: false,
    one_of: &["Run", "Ride", "Swim"],
    description: "Only this sport's row (Strava's year-to-date totals have these three)",
};

pub const THEME: Text = Text {
    name: "theme",
    place: Place::Query,
    required: false,
    one_of: crate::render::format::Theme::NAMES,
    description: "Colours of the card (default: light)",
};

pub const UNITS: Text = Text {
    name: "units",
    place: Place::Query,
    required: false,
    one_of: crate::render::format::Units::NAMES,
    description: "Kilometres and metres, or miles and feet (default: metric)",
};

pub const FULL: Flag = Flag {
    name: "full",
    place: Place::Query,
    description: "Re-read the whole history instead of what changed",
};

/// `/authorize`'s one-time setup code: needed in production for the first connection when
/// OWNER_ATHLETE_ID is unset.
pub const SETUP: Text = Text {
    name: "setup",
    place: Place::Query,
    required: false,
    one_of: &[],
    description: "The setup code from the link printed in the start-up log; needed in production \
        while no athlete owns the instance and OWNER_ATHLETE_ID is unset",
};

/// The callback's `code`; required unless Strava sent `error`.
pub const CODE: Text = Text {
    name: "code",
    place: Place::Query,
    required: false,
    one_of: &[],
    description: "The authorization code from Strava; required unless `error` is present",
};

/// The callback's `state`; required unless Strava sent `error`.
pub const STATE: Text = Text {
    name: "state",
    place: Place::Query,
    required: false,
    one_of: &[],
    description: "The state `/strava/authorize` issued; required unless `error` is present",
};

pub const SCOPE: Text = Text {
    name: "scope",
    place: Place::Query,
    required: false,
    one_of: &[],
    description: "The scopes the athlete granted (comma list); must include activity:read",
};

pub const ERROR: Text = Text {
    name: "error",
    place: Place::Query,
    required: false,
    one_of: &[],
    description: "Sent by Strava when the athlete declined (`access_denied`)",
};

pub const HUB_MODE: Text = Text {
    name: "hub.mode",
    place: Place::Query,
    required: true,
    one_of: &["subscribe"],
    description: "Always `subscribe`",
};

pub const HUB_CHALLENGE: Text = Text {
    name: "hub.challenge",
    place: Place::Query,
    required: true,
    one_of: &[],
    description: "Echoed back when the verify token matches",
};

pub const HUB_VERIFY_TOKEN: Text = Text {
    name: "hub.verify_token",
    place: Place::Query,
    required: true,
    one_of: &[],
    description: "Must equal STRAVA_WEBHOOK_VERIFY_TOKEN",
};

/// The webhook's last path segment: STRAVA_WEBHOOK_SECRET.
pub const WEBHOOK_SECRET: Text = Text {
    name: "secret",
    place: Place::Path,
    required: true,
    one_of: &[],
    description: "STRAVA_WEBHOOK_SECRET; any other value answers as an unknown path does",
};

/// An import job's id, as `POST /strava/import` answered it; any other value is unknown.
pub const IMPORT_ID: Text = Text {
    name: "id",
    place: Place::Path,
    required: true,
    one_of: &[],
    description: "The import_id POST /strava/import answered (32 lowercase hex digits); any \
        other value answers 404",
};

/// Conditional reads: the ETag of a body the client holds (`*` matches any).
pub const IF_NONE_MATCH: Text = Text {
    name: "If-None-Match",
    place: Place::Header,
    required: false,
    one_of: &[],
    description: "ETags the client holds; a match answers 304",
};

/// The FastAPI-shaped problems of one request, collected so a 422 names every bad parameter.
pub struct Problems<'r> {
    req: &'r HttpRequest,
    found: Vec<Problem>,
}

impl<'r> Problems<'r> {
    pub fn of(req: &'r HttpRequest) -> Self {
        Self {
            req,
            found: Vec::new(),
        }
    }

    /// The raw value where the parameter lives (a query parameter: the last one, as FastAPI).
    fn raw(&self, name: &str, place: Place) -> Option<String> {
        match place {
            Place::Query => query_param(self.req, name),
            Place::Path => self.req.match_info().get(name).map(str::to_owned),
            Place::Header => self
                .req
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            Place::Body => None,
        }
    }

    fn push(&mut self, place: Place, name: &str, msg: impl Into<String>, kind: &'static str) {
        self.found.push(Problem::new(place, name, msg, kind));
    }

    /// The parameter's value within its bounds, or its default when absent; records what is
    /// wrong with it otherwise.
    pub fn int(&mut self, p: &Int) -> Option<i64> {
        let Some(raw) = self.raw(p.name, p.place) else {
            if p.required {
                self.found.push(Problem::missing(p.place, p.name));
            }
            return p.default;
        };
        let Ok(value) = raw.trim().parse::<i64>() else {
            self.push(
                p.place,
                p.name,
                "Input should be a valid integer, unable to parse string as an integer",
                "int_parsing",
            );
            return None;
        };
        if let Some(min) = p.min.checked_here()
            && value < min
        {
            self.push(
                p.place,
                p.name,
                format!("Input should be greater than or equal to {min}"),
                "greater_than_equal",
            );
            return None;
        }
        if let Some(max) = p.max.checked_here()
            && value > max
        {
            self.found.push(too_large(p, max));
            return None;
        }
        Some(value)
    }

    pub fn flag(&mut self, p: &Flag) -> Option<bool> {
        let raw = self.raw(p.name, p.place)?;
        let value = parse_bool(&raw);
        if value.is_none() {
            self.push(
                p.place,
                p.name,
                "Input should be a valid boolean, unable to interpret input",
                "bool_parsing",
            );
        }
        value
    }

    /// The parameter's value, `None` when absent or empty (recorded as missing when required).
    /// A parameter with a fixed set of values takes nothing else, the empty value included.
    pub fn text(&mut self, p: &Text) -> Option<String> {
        let value = self
            .raw(p.name, p.place)
            .filter(|v| !v.is_empty() || !p.one_of.is_empty());
        match &value {
            None if p.required => self.found.push(Problem::missing(p.place, p.name)),
            Some(v) if !p.one_of.is_empty() && !p.one_of.contains(&v.as_str()) => {
                let allowed: Vec<String> = p.one_of.iter().map(|a| format!("'{a}'")).collect();
                self.push(
                    p.place,
                    p.name,
                    format!("Input should be {}", allowed.join(" or ")),
                    "enum",
                );
                return None;
            }
            _ => {}
        }
        value
    }

    /// Like [`text`](Self::text) for a parameter required here whatever `p.required` says
    /// (a requirement that depends on other parameters).
    pub fn require(&mut self, p: &Text) -> Option<String> {
        let value = self.text(p);
        if value.is_none() && !p.required {
            self.found.push(Problem::missing(p.place, p.name));
        }
        value
    }

    /// `Err` with the 422 naming every problem, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.found.is_empty() {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    /// The 422 naming every problem recorded.
    pub fn into_error(self) -> ApiError {
        ApiError::validation(&self.found)
    }
}

/// FastAPI's boolean query values.
fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}
