//! Every route, once: its method, path, prefixes, handler, and what the OpenAPI document says of
//! it. [`register`] serves exactly this table and `openapi::document` describes exactly this
//! table, so every served route is documented, under every prefix it is served at.

use actix_web::http::Method;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, Route, web};

use super::doc::{Body, Content, Doc, Header, Reply};
use super::middleware::rate_limit;
use super::params::{self, Param};
use super::{cards, docs, import, oauth, ops, page, stats, webhook};
use crate::error::ErrorCode;
use crate::stats::keys;

/// The API's routes: under `/strava`, and again under `/v1/strava`.
const STRAVA: &[&str] = &["/strava", "/v1/strava"];
/// The document and the docs page: also at the root, where the old service's FastAPI had them.
const DOCS: &[&str] = &["/strava", "/v1/strava", ""];
/// Operations routes outside the API's prefix.
const ROOT: &[&str] = &[""];

/// One route.
pub struct Endpoint {
    pub method: Method,
    /// The path under each prefix.
    pub path: &'static str,
    pub prefixes: &'static [&'static str],
    /// The handler, as a route to add to the path's resource.
    pub route: fn() -> Route,
    pub doc: Doc,
}

impl Endpoint {
    /// A read answered from memory: a GET whose document promises a 304 (its body carries an
    /// ETag). Its handler logs nothing and awaits only its worker's CacheReader.
    pub fn is_cached_read(&self) -> bool {
        self.method == Method::GET && self.doc.replies.iter().any(|r| r.status == 304)
    }

    /// The full paths this route is served at.
    pub fn paths(&self) -> impl Iterator<Item = String> + '_ {
        self.prefixes
            .iter()
            .map(|prefix| format!("{prefix}{}", self.path))
    }
}

/// Every path pattern served, each once, in the order they are registered.
pub fn patterns() -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for path in endpoints().iter().flat_map(Endpoint::paths) {
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// The path patterns of the reads served from memory ([`Endpoint::is_cached_read`]).
pub fn cached_reads() -> Vec<String> {
    endpoints()
        .iter()
        .filter(|e| e.is_cached_read())
        .flat_map(Endpoint::paths)
        .collect()
}

/// Registers every route of [`endpoints`]. A path answers the methods listed for it; any other
/// method gets the JSON 405 with `Allow`.
pub fn register(cfg: &mut web::ServiceConfig) {
    let endpoints = endpoints();
    for path in patterns() {
        let served: Vec<&Endpoint> = endpoints
            .iter()
            .filter(|e| e.paths().any(|p| p == path))
            .collect();
        let allow = served
            .iter()
            .map(|e| e.method.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut resource = web::resource(path);
        for endpoint in served {
            resource = resource.route((endpoint.route)().method(endpoint.method.clone()));
        }
        cfg.service(resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, allow))
                    .json(serde_json::json!({"detail": "Method Not Allowed"}))
            }
        })));
    }
}

const fn reply(status: u16, description: &'static str, content: Content) -> Reply {
    Reply {
        status,
        description,
        content,
        headers: &[],
    }
}

const fn json(description: &'static str, schema: &'static str) -> Reply {
    reply(200, description, Content::Json(schema))
}

/// A read's 200: a cached body with its ETag and public Cache-Control.
const fn read(description: &'static str, schema: &'static str) -> Reply {
    Reply {
        status: 200,
        description,
        content: Content::Json(schema),
        headers: &[Header::ETag, Header::CachePublic, Header::VaryEncoding],
    }
}

const NOT_MODIFIED: Reply = Reply {
    status: 304,
    description: "The client's copy is current (If-None-Match)",
    content: Content::Empty,
    headers: &[Header::ETag, Header::CachePublic, Header::VaryEncoding],
};
const NOT_CACHED: Reply = reply(
    404,
    "Not cached yet (no sync yet, or after a disconnect)",
    Content::Error(&[ErrorCode::NotFound]),
);
const INVALID: Reply = reply(
    422,
    "A parameter is missing or malformed (FastAPI's shape, one entry per problem)",
    Content::Json("ValidationError"),
);
const UNAUTHORIZED: Reply = reply(
    401,
    "Missing or wrong X-API-Key",
    Content::Json("ApiKeyError"),
);
const INTERNAL: Reply = reply(
    500,
    "Internal error (the detail carries an error id found in the log)",
    Content::Error(&[ErrorCode::InternalError]),
);
const UNAVAILABLE: Reply = Reply {
    status: 503,
    description: "The service is busy or stopping; try again shortly",
    content: Content::Error(&[ErrorCode::Unavailable]),
    headers: &[Header::RetryAfter],
};
const REDIRECT: Reply = Reply {
    status: 307,
    description: "",
    content: Content::Empty,
    headers: &[Header::Location, Header::SetCookie],
};

/// The replies of a cached read that takes no parameters but If-None-Match.
fn read_replies(description: &'static str, schema: &'static str) -> Vec<Reply> {
    vec![
        read(description, schema),
        NOT_MODIFIED,
        NOT_CACHED,
        UNAVAILABLE,
    ]
}

const CONDITIONAL: Param = Param::Text(&params::IF_NONE_MATCH);

/// A route that only answers a cached body.
fn cached_read(
    path: &'static str,
    route: fn() -> Route,
    summary: &'static str,
    schema: &'static str,
) -> Endpoint {
    Endpoint {
        method: Method::GET,
        path,
        prefixes: STRAVA,
        route,
        doc: Doc {
            summary,
            params: vec![CONDITIONAL],
            body: None,
            replies: read_replies(summary, schema),
            api_key: false,
            metrics_token: false,
        },
    }
}

/// A route without parameters or security, answering only `replies`.
fn plain(
    path: &'static str,
    prefixes: &'static [&'static str],
    route: fn() -> Route,
    summary: &'static str,
    replies: Vec<Reply>,
) -> Endpoint {
    Endpoint {
        method: Method::GET,
        path,
        prefixes,
        route,
        doc: Doc {
            summary,
            params: vec![],
            body: None,
            replies,
            api_key: false,
            metrics_token: false,
        },
    }
}

/// 429 from the OAuth routes: over `OAUTH_RATE_LIMIT_PER_MINUTE` from one client address.
const OAUTH_TOO_MANY: Reply = Reply {
    status: 429,
    description: "Too many requests from this client address (OAUTH_RATE_LIMIT_PER_MINUTE); \
        Retry-After says when to try again",
    content: Content::Error(&[ErrorCode::TooManyRequests]),
    headers: &[Header::RetryAfter],
};

/// 500 from the OAuth routes.
const OAUTH_INTERNAL: Reply = reply(
    500,
    "Strava OAuth not configured, or an internal error (with an error id)",
    Content::Error(&[ErrorCode::OauthNotConfigured, ErrorCode::InternalError]),
);

/// How the operator routes answer a sync or disconnect that could not be done.
const SYNC_FAILURES: [Reply; 5] = [
    reply(
        409,
        "No athlete connected, or the connection needs re-authorization",
        Content::Error(&[ErrorCode::NotConnected, ErrorCode::ReauthorizationRequired]),
    ),
    INTERNAL,
    reply(
        502,
        "Strava failed (the detail carries an error id found in the log)",
        Content::Error(&[ErrorCode::StravaError]),
    ),
    Reply {
        status: 503,
        description: "The Strava rate budget is spent, no replica leads now to do it, or the \
            service is busy",
        content: Content::Error(&[
            ErrorCode::RateLimited,
            ErrorCode::NoLeader,
            ErrorCode::Unavailable,
        ]),
        headers: &[Header::RetryAfter],
    },
    UNAUTHORIZED,
];

/// refresh-data's 503, which also names an application Strava says is inactive.
const REFRESH_UNAVAILABLE: Reply = Reply {
    status: 503,
    description: "The Strava rate budget is spent (with Retry-After), Strava says the \
        application is inactive (its owner must subscribe and reactivate it), no replica leads \
        now to run the sync (with Retry-After), or the service is busy",
    content: Content::Error(&[
        ErrorCode::RateLimited,
        ErrorCode::StravaAppInactive,
        ErrorCode::NoLeader,
        ErrorCode::Unavailable,
    ]),
    headers: &[Header::RetryAfter],
};

/// What the upload may be sent as: any type is taken, as the content says what it is.
const UPLOAD_TYPES: &[&str] = &[
    "application/octet-stream",
    "application/zip",
    "application/gzip",
    "application/vnd.ant.fit",
    "application/gpx+xml",
    "application/vnd.garmin.tcx+xml",
];

/// 409 from the import routes: one import (or forget) at a time.
const IMPORT_RUNNING: Reply = reply(
    409,
    "An import (or a forget) is running; try again once it is done",
    Content::Error(&[ErrorCode::ImportRunning]),
);

/// The route table.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        plain(
            "/health",
            STRAVA,
            || web::to(ops::health),
            "Health: database and Strava connection",
            vec![json("Health", "Health"), UNAVAILABLE],
        ),
        Endpoint {
            method: Method::GET,
            path: "/authorize",
            prefixes: STRAVA,
            route: || web::to(oauth::authorize).wrap(from_fn(rate_limit::authorize)),
            doc: Doc {
                summary: "Start the OAuth flow (redirect to Strava)",
                params: vec![Param::Text(&params::SETUP)],
                body: None,
                replies: vec![
                    Reply {
                        description: "To Strava's consent page, with the state cookie set",
                        ..REDIRECT
                    },
                    reply(
                        403,
                        "Production, no owner yet and OWNER_ATHLETE_ID unset: `setup` is missing \
                            or wrong (the link is in the start-up log)",
                        Content::Error(&[ErrorCode::SetupRequired]),
                    ),
                    OAUTH_TOO_MANY,
                    OAUTH_INTERNAL,
                    UNAVAILABLE,
                ],
                api_key: false,
                metrics_token: false,
            },
        },
        Endpoint {
            method: Method::GET,
            path: "/callback",
            prefixes: STRAVA,
            route: || web::to(oauth::callback).wrap(from_fn(rate_limit::callback)),
            doc: Doc {
                summary: "OAuth callback from Strava",
                params: vec![
                    Param::Text(&params::CODE),
                    Param::Text(&params::STATE),
                    Param::Text(&params::SCOPE),
                    Param::Text(&params::ERROR),
                ],
                body: None,
                replies: vec![
                    Reply {
                        description: "To the frontend: ?strava=success, or ?strava=denied when \
                            `error` is present; the state cookie expired",
                        ..REDIRECT
                    },
                    reply(
                        400,
                        "Invalid, expired or replayed state, or activity:read not granted",
                        Content::Error(&[ErrorCode::InvalidState, ErrorCode::MissingScope]),
                    ),
                    reply(
                        403,
                        "Another athlete owns this instance",
                        Content::Error(&[ErrorCode::NotOwner]),
                    ),
                    Reply {
                        description: "`code` or `state` missing (without `error`)",
                        ..INVALID
                    },
                    OAUTH_TOO_MANY,
                    OAUTH_INTERNAL,
                    reply(
                        502,
                        "Strava refused the code exchange (with an error id)",
                        Content::Error(&[ErrorCode::OauthFailed]),
                    ),
                    UNAVAILABLE,
                ],
                api_key: false,
                metrics_token: false,
            },
        },
        cached_read(
            "/stats/ytd",
            || {
                web::to(stats::cached(
                    keys::YTD,
                    "YTD stats not cached yet. Try /strava/refresh-data",
                ))
            },
            "Year-to-date run/ride/swim totals (Strava's own)",
            "Ytd",
        ),
        cached_read(
            "/stats/activities",
            || {
                web::to(stats::cached(
                    keys::RECENT,
                    "Activities not cached yet. Try /strava/refresh-data",
                ))
            },
            "The 30 newest public activities",
            "RecentActivities",
        ),
        Endpoint {
            method: Method::GET,
            path: "/stats/monthly",
            prefixes: STRAVA,
            route: || web::to(stats::monthly),
            doc: Doc {
                summary: "12 local months, newest first, zero-filled",
                params: vec![Param::Text(&params::TYPE), CONDITIONAL],
                body: None,
                replies: read_replies("Monthly totals", "Monthly"),
                api_key: false,
                metrics_token: false,
            },
        },
        cached_read(
            "/stats/totals",
            || {
                web::to(stats::cached(
                    keys::TOTALS,
                    "Totals not cached yet. Try /strava/refresh-data",
                ))
            },
            "All-time totals by legacy activity type",
            "AllTimeTotals",
        ),
        cached_read(
            "/stats/yearly",
            || {
                web::to(stats::cached(
                    keys::YEARLY,
                    "Yearly stats not cached yet. Try /strava/refresh-data",
                ))
            },
            "Totals by local year, then legacy type",
            "Yearly",
        ),
        Endpoint {
            method: Method::GET,
            path: "/stats/summary/{year}",
            prefixes: STRAVA,
            route: || web::to(stats::summary),
            doc: Doc {
                summary: "One local year by legacy activity type",
                params: vec![Param::Int(&params::SUMMARY_YEAR), CONDITIONAL],
                body: None,
                replies: vec![
                    read("Year summary", "YearSummary"),
                    NOT_MODIFIED,
                    reply(
                        404,
                        "No activities that year",
                        Content::Error(&[ErrorCode::NotFound]),
                    ),
                    INVALID,
                    UNAVAILABLE,
                ],
                api_key: false,
                metrics_token: false,
            },
        },
        longest(
            "/stats/longest-run",
            || web::to(stats::longest_run),
            "Longest run-family activity of a local year",
            "No runs that year",
        ),
        longest(
            "/stats/longest-ride",
            || web::to(stats::longest_ride),
            "Longest ride-family activity of a local year",
            "No rides that year",
        ),
        typed_read(
            "/stats/weekly",
            || web::to(stats::weekly),
            "12 local ISO weeks, newest first, zero-filled",
            "Weekly",
        ),
        Endpoint {
            method: Method::GET,
            path: "/stats/calendar",
            prefixes: STRAVA,
            route: || web::to(stats::calendar),
            doc: Doc {
                summary: "The active local days of a year, ascending",
                params: vec![
                    Param::Int(&params::CALENDAR_YEAR),
                    Param::Text(&params::SPORT),
                    CONDITIONAL,
                ],
                body: None,
                replies: vec![
                    read(
                        "One entry per active day (none for a year without activities)",
                        "Calendar",
                    ),
                    NOT_MODIFIED,
                    NOT_CACHED,
                    INVALID,
                    UNAVAILABLE,
                ],
                api_key: false,
                metrics_token: false,
            },
        },
        typed_read(
            "/stats/streaks",
            || web::to(stats::streaks),
            "Current and longest streaks of active days and ISO weeks",
            "Streaks",
        ),
        cached_read(
            "/stats/eddington",
            || {
                web::to(stats::cached(
                    keys::EDDINGTON,
                    "Eddington numbers not cached yet. Try /strava/refresh-data",
                ))
            },
            "Eddington numbers of the ride and run families, in km and miles",
            "Eddington",
        ),
        card(
            "/cards/ytd.svg",
            || web::to(cards::ytd),
            "Card: Strava's year-to-date totals",
            Param::Text(&params::YTD_SPORT),
            None,
        ),
        card(
            "/cards/monthly.svg",
            || web::to(cards::monthly),
            "Card: the last 12 local months",
            Param::Text(&params::SPORT),
            None,
        ),
        card(
            "/cards/calendar.svg",
            || web::to(cards::calendar),
            "Card: a year's active days as a grid, shaded by distance",
            Param::Text(&params::SPORT),
            Some(Param::Int(&params::CALENDAR_YEAR)),
        ),
        card(
            "/cards/streaks.svg",
            || web::to(cards::streaks),
            "Card: current and longest streaks",
            Param::Text(&params::SPORT),
            None,
        ),
        Endpoint {
            method: Method::GET,
            path: "/activities",
            prefixes: STRAVA,
            route: || web::to(stats::activities),
            doc: Doc {
                summary: "Public activities, newest first",
                params: vec![
                    Param::Int(&params::LIMIT),
                    Param::Int(&params::OFFSET),
                    Param::Int(&params::YEAR_FILTER),
                    Param::Text(&params::ACTIVITY_TYPE),
                    CONDITIONAL,
                ],
                body: None,
                replies: vec![
                    read("A page of activities", "ActivityPage"),
                    NOT_MODIFIED,
                    INVALID,
                    UNAVAILABLE,
                ],
                api_key: false,
                metrics_token: false,
            },
        },
        Endpoint {
            method: Method::POST,
            path: "/refresh-data",
            prefixes: STRAVA,
            route: || web::to(ops::refresh),
            doc: Doc {
                summary: "Run a sync and answer when it is done",
                params: vec![Param::Flag(&params::FULL)],
                body: None,
                replies: [json("Refreshed", "Done"), INVALID]
                    .into_iter()
                    .chain(SYNC_FAILURES.into_iter().filter(|r| r.status != 503))
                    .chain([REFRESH_UNAVAILABLE])
                    .collect(),
                api_key: true,
                metrics_token: false,
            },
        },
        Endpoint {
            method: Method::POST,
            path: "/disconnect",
            prefixes: STRAVA,
            route: || web::to(ops::disconnect),
            doc: Doc {
                summary: "Revoke the athlete's tokens and delete everything stored for them",
                params: vec![],
                body: None,
                replies: [json("Disconnected", "Done")]
                    .into_iter()
                    .chain(SYNC_FAILURES)
                    .collect(),
                api_key: true,
                metrics_token: false,
            },
        },
        Endpoint {
            method: Method::POST,
            path: "/import",
            prefixes: STRAVA,
            route: || web::to(import::upload),
            doc: Doc {
                summary: "Import a Strava account export (ZIP) or one activity file (FIT, GPX or \
                    TCX, each optionally gzipped), recognised by its content; the job runs in \
                    the background",
                params: vec![],
                body: Some(Body::Binary(UPLOAD_TYPES)),
                replies: vec![
                    reply(
                        202,
                        "The import started: GET /strava/import/{import_id} follows it",
                        Content::Json("ImportStarted"),
                    ),
                    reply(
                        400,
                        "The body is empty, or broke off before its end",
                        Content::Error(&[ErrorCode::MalformedBody]),
                    ),
                    UNAUTHORIZED,
                    reply(
                        408,
                        "Nothing of the body arrived for 60 seconds",
                        Content::Error(&[ErrorCode::RequestTimeout]),
                    ),
                    IMPORT_RUNNING,
                    reply(
                        413,
                        "Larger than IMPORT_MAX_BYTES (a Content-Length above it is refused \
                            before the body is read)",
                        Content::Error(&[ErrorCode::PayloadTooLarge]),
                    ),
                    INTERNAL,
                    UNAVAILABLE,
                ],
                api_key: true,
                metrics_token: false,
            },
        },
        Endpoint {
            method: Method::GET,
            path: "/import/{id}",
            prefixes: STRAVA,
            route: || web::to(import::status),
            doc: Doc {
                summary: "An import's state and progress, and what it did once done",
                params: vec![Param::Text(&params::IMPORT_ID)],
                body: None,
                replies: vec![
                    json("The import", "ImportJob"),
                    UNAUTHORIZED,
                    reply(
                        404,
                        "No import has this id",
                        Content::Error(&[ErrorCode::NotFound]),
                    ),
                    INTERNAL,
                    UNAVAILABLE,
                ],
                api_key: true,
                metrics_token: false,
            },
        },
        Endpoint {
            method: Method::DELETE,
            path: "/import",
            prefixes: STRAVA,
            route: || web::to(import::forget),
            doc: Doc {
                summary: "Delete every imported activity (what came from Strava's API stays)",
                params: vec![],
                body: None,
                replies: vec![
                    json("How many activities were deleted", "Deleted"),
                    UNAUTHORIZED,
                    IMPORT_RUNNING,
                    INTERNAL,
                    UNAVAILABLE,
                ],
                api_key: true,
                metrics_token: false,
            },
        },
        Endpoint {
            method: Method::GET,
            path: "/admin/actors",
            prefixes: STRAVA,
            route: || web::to(ops::actors),
            doc: Doc {
                summary: "Actor, sync, budget and cache figures",
                params: vec![],
                body: None,
                replies: vec![json("Figures", "Actors"), UNAUTHORIZED, UNAVAILABLE],
                api_key: true,
                metrics_token: false,
            },
        },
        webhook_check(
            "/webhook",
            "STRAVA_WEBHOOK_SECRET is set: Strava's check comes to /strava/webhook/{secret} \
                instead (answered as an unknown path is)",
        ),
        webhook_events(
            "/webhook",
            "STRAVA_WEBHOOK_SECRET is set: events come to /strava/webhook/{secret} instead \
                (answered as an unknown path is, before the body is read)",
        ),
        webhook_check(
            "/webhook/{secret}",
            "Not STRAVA_WEBHOOK_SECRET, or none is set (answered as an unknown path is)",
        ),
        webhook_events(
            "/webhook/{secret}",
            "Not STRAVA_WEBHOOK_SECRET, or none is set (answered as an unknown path is, before \
                the body is read)",
        ),
        plain(
            "/openapi.json",
            DOCS,
            || web::to(docs::openapi),
            "This document",
            vec![json("OpenAPI 3", "OpenApi")],
        ),
        plain(
            "/docs",
            DOCS,
            || web::to(docs::page),
            "Interactive documentation",
            vec![reply(200, "HTML page", Content::Text("text/html"))],
        ),
        plain(
            "/docs/docs.js",
            DOCS,
            || web::to(docs::script),
            "The docs page's script",
            vec![reply(200, "JavaScript", Content::Text("text/javascript"))],
        ),
        plain(
            "/docs/docs.css",
            DOCS,
            || web::to(docs::style),
            "The docs page's style",
            vec![reply(200, "CSS", Content::Text("text/css"))],
        ),
        plain(
            "/",
            ROOT,
            || web::to(page::status),
            "The status page: connection, sync, budget, this year's figures and the cards",
            vec![
                reply(200, "HTML page", Content::Text("text/html")),
                UNAVAILABLE,
            ],
        ),
        plain(
            "/livez",
            ROOT,
            || web::to(ops::livez),
            "Liveness",
            vec![json("Alive", "Live")],
        ),
        plain(
            "/readyz",
            ROOT,
            || web::to(ops::readyz),
            "Readiness: migrations applied and cache warmed",
            vec![
                json("Ready", "Ready"),
                reply(503, "Still warming", Content::Error(&[ErrorCode::NotReady])),
            ],
        ),
        Endpoint {
            method: Method::GET,
            path: "/metrics",
            prefixes: ROOT,
            route: || web::to(ops::metrics),
            doc: Doc {
                summary: "Prometheus metrics (OpenMetrics text)",
                params: vec![],
                body: None,
                replies: vec![
                    reply(
                        200,
                        "Prometheus text",
                        Content::Text("application/openmetrics-text"),
                    ),
                    reply(
                        401,
                        "METRICS_TOKEN is set and the bearer token is missing or wrong",
                        Content::Error(&[ErrorCode::InvalidMetricsToken]),
                    ),
                ],
                api_key: false,
                metrics_token: true,
            },
        },
    ]
}

/// A cached read taking a legacy `type`, one of Strava's sports.
fn typed_read(
    path: &'static str,
    route: fn() -> Route,
    summary: &'static str,
    schema: &'static str,
) -> Endpoint {
    let mut endpoint = cached_read(path, route, summary, schema);
    endpoint.doc.params.insert(0, Param::Text(&params::SPORT));
    // before UNAVAILABLE, the last
    let last = endpoint.doc.replies.len().saturating_sub(1);
    endpoint.doc.replies.insert(last, INVALID);
    endpoint
}

/// An SVG card, always answered (before the first sync it says there is no data yet).
fn card(
    path: &'static str,
    route: fn() -> Route,
    summary: &'static str,
    kind: Param,
    year: Option<Param>,
) -> Endpoint {
    let mut params = vec![
        Param::Text(&params::THEME),
        Param::Text(&params::UNITS),
        kind,
    ];
    params.extend(year);
    params.push(CONDITIONAL);
    Endpoint {
        method: Method::GET,
        path,
        prefixes: STRAVA,
        route,
        doc: Doc {
            summary,
            params,
            body: None,
            replies: vec![
                Reply {
                    status: 200,
                    description: "The card (self-contained SVG)",
                    content: Content::Text("image/svg+xml"),
                    headers: &[Header::ETag, Header::CachePublic, Header::VaryEncoding],
                },
                NOT_MODIFIED,
                INVALID,
                UNAVAILABLE,
            ],
            api_key: false,
            metrics_token: false,
        },
    }
}

/// `/stats/longest-run` and `/stats/longest-ride`.
fn longest(
    path: &'static str,
    route: fn() -> Route,
    summary: &'static str,
    none: &'static str,
) -> Endpoint {
    Endpoint {
        method: Method::GET,
        path,
        prefixes: STRAVA,
        route,
        doc: Doc {
            summary,
            params: vec![Param::Int(&params::LONGEST_YEAR), CONDITIONAL],
            body: None,
            replies: vec![
                read("The activity", "Activity"),
                NOT_MODIFIED,
                reply(404, none, Content::Error(&[ErrorCode::NotFound])),
                INVALID,
                UNAVAILABLE,
            ],
            api_key: false,
            metrics_token: false,
        },
    }
}

/// The parameters a webhook path takes in itself.
fn webhook_path_params(path: &str) -> Vec<Param> {
    if path.contains("{secret}") {
        vec![Param::Text(&params::WEBHOOK_SECRET)]
    } else {
        vec![]
    }
}

/// `GET /webhook[/{secret}]`: Strava's subscription check. `elsewhere` says when the path
/// answers 404.
fn webhook_check(path: &'static str, elsewhere: &'static str) -> Endpoint {
    let mut params = webhook_path_params(path);
    params.extend([
        Param::Text(&params::HUB_MODE),
        Param::Text(&params::HUB_CHALLENGE),
        Param::Text(&params::HUB_VERIFY_TOKEN),
    ]);
    Endpoint {
        method: Method::GET,
        path,
        prefixes: STRAVA,
        route: || web::to(webhook::validate),
        doc: Doc {
            summary: "Strava's subscription check",
            params,
            body: None,
            replies: vec![
                json("The challenge, echoed", "Challenge"),
                reply(
                    403,
                    "Not a subscription check with our verify token",
                    Content::Error(&[ErrorCode::InvalidVerifyToken]),
                ),
                reply(404, elsewhere, Content::Json("NotFound")),
            ],
            api_key: false,
            metrics_token: false,
        },
    }
}

/// `POST /webhook[/{secret}]`: a push event. `elsewhere` says when the path answers 404.
fn webhook_events(path: &'static str, elsewhere: &'static str) -> Endpoint {
    Endpoint {
        method: Method::POST,
        path,
        prefixes: STRAVA,
        route: || web::to(webhook::receive),
        doc: Doc {
            summary: "A Strava push event, acknowledged at once and confirmed with Strava later",
            params: webhook_path_params(path),
            body: Some(Body::Json("WebhookEvent")),
            replies: vec![
                json("Acknowledged", "Acknowledged"),
                reply(
                    400,
                    "Not a webhook event",
                    Content::Error(&[ErrorCode::MalformedEvent, ErrorCode::MalformedBody]),
                ),
                reply(404, elsewhere, Content::Json("NotFound")),
                reply(
                    408,
                    "The body did not arrive within 2 seconds",
                    Content::Error(&[ErrorCode::RequestTimeout]),
                ),
                reply(
                    413,
                    "Body larger than 16 KiB",
                    Content::Error(&[ErrorCode::PayloadTooLarge]),
                ),
                reply(
                    415,
                    "Content-Type is not application/json",
                    Content::Error(&[ErrorCode::UnsupportedMediaType]),
                ),
                UNAVAILABLE,
            ],
            api_key: false,
            metrics_token: false,
        },
    }
}
