//! The OpenAPI 3 document of every route, built once at start-up from one table, and served
//! pre-serialized at /strava/openapi.json.

use serde_json::{Map, Value, json};

/// One operation: method, path under the prefixes, summary, parameters, responses.
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// `(name, in, required, schema)`.
    params: &'static [(&'static str, &'static str, bool, &'static str)],
    /// `(status, description, schema)`; schema names a component, or "" for none.
    responses: &'static [(u16, &'static str, &'static str)],
    api_key: bool,
}

const NOT_CACHED: (u16, &str, &str) = (
    404,
    "Not cached yet (no sync, or after a disconnect)",
    "Error",
);
const INVALID: (u16, &str, &str) = (422, "Invalid parameter", "ValidationError");
const UNAUTHORIZED: (u16, &str, &str) = (401, "Missing or wrong X-API-Key", "Error");
const NOT_MODIFIED: (u16, &str, &str) = (304, "Not modified (If-None-Match)", "");

/// Every route under `/strava` (and `/v1/strava`).
const STRAVA: &[Op] = &[
    Op {
        method: "get",
        path: "/health",
        summary: "Health: database and Strava connection",
        params: &[],
        responses: &[(200, "Health", "Health")],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/authorize",
        summary: "Start the OAuth flow (redirect to Strava)",
        params: &[],
        responses: &[
            (307, "Redirect to Strava's consent page", ""),
            (500, "OAuth not configured", "Error"),
        ],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/callback",
        summary: "OAuth callback from Strava",
        params: &[
            ("code", "query", false, "string"),
            ("state", "query", false, "string"),
            ("scope", "query", false, "string"),
            ("error", "query", false, "string"),
        ],
        responses: &[
            (307, "Redirect to the frontend (?strava=success|denied)", ""),
            (400, "Invalid or expired state, or missing scope", "Error"),
            (403, "Another athlete owns this instance", "Error"),
            INVALID,
            (500, "Internal error", "Error"),
            (502, "Strava refused the code", "Error"),
        ],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/stats/ytd",
        summary: "Year-to-date run/ride/swim totals",
        params: &[],
        responses: &[(200, "YTD totals", "Envelope"), NOT_MODIFIED, NOT_CACHED],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/stats/activities",
        summary: "The 30 newest public activities",
        params: &[],
        responses: &[
            (200, "Recent activities", "Envelope"),
            NOT_MODIFIED,
            NOT_CACHED,
        ],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/stats/monthly",
        summary: "12 local months, newest first",
        params: &[("type", "query", false, "string")],
        responses: &[
            (200, "Monthly totals", "Envelope"),
            NOT_MODIFIED,
            NOT_CACHED,
        ],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/stats/totals",
        summary: "All-time totals by activity type",
        params: &[],
        responses: &[(200, "Totals", "Envelope"), NOT_MODIFIED, NOT_CACHED],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/stats/yearly",
        summary: "Totals by local year, then type",
        params: &[],
        responses: &[(200, "Yearly totals", "Envelope"), NOT_MODIFIED, NOT_CACHED],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/stats/summary/{year}",
        summary: "One local year by activity type",
        params: &[("year", "path", true, "integer")],
        responses: &[
            (200, "Year summary", "YearSummary"),
            NOT_MODIFIED,
            (404, "No activities that year", "Error"),
            INVALID,
        ],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/stats/longest-run",
        summary: "Longest run-family activity of a local year",
        params: &[("year", "query", false, "integer")],
        responses: &[
            (200, "The activity", "Activity"),
            NOT_MODIFIED,
            (404, "No runs that year", "Error"),
            INVALID,
        ],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/stats/longest-ride",
        summary: "Longest ride-family activity of a local year",
        params: &[("year", "query", false, "integer")],
        responses: &[
            (200, "The activity", "Activity"),
            NOT_MODIFIED,
            (404, "No rides that year", "Error"),
            INVALID,
        ],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/activities",
        summary: "Public activities, newest first",
        params: &[
            ("limit", "query", false, "integer"),
            ("offset", "query", false, "integer"),
            ("year", "query", false, "integer"),
            ("activity_type", "query", false, "string"),
        ],
        responses: &[
            (200, "A page of activities", "ActivityPage"),
            NOT_MODIFIED,
            INVALID,
        ],
        api_key: false,
    },
    Op {
        method: "post",
        path: "/refresh-data",
        summary: "Run a sync and answer when done",
        params: &[("full", "query", false, "boolean")],
        responses: &[
            (200, "Refreshed", "Status"),
            UNAUTHORIZED,
            (
                409,
                "No athlete connected, or re-authorization needed",
                "Error",
            ),
            INVALID,
            (500, "Internal error", "Error"),
            (502, "Strava failed", "Error"),
            (503, "Rate budget spent (Retry-After)", "Error"),
        ],
        api_key: true,
    },
    Op {
        method: "post",
        path: "/disconnect",
        summary: "Deauthorize and delete everything stored",
        params: &[],
        responses: &[
            (200, "Disconnected", "Status"),
            UNAUTHORIZED,
            (409, "No athlete connected", "Error"),
            (500, "Internal error", "Error"),
            (502, "Strava failed", "Error"),
        ],
        api_key: true,
    },
    Op {
        method: "get",
        path: "/admin/actors",
        summary: "Actor, sync, budget and cache figures",
        params: &[],
        responses: &[(200, "Figures", "Object"), UNAUTHORIZED],
        api_key: true,
    },
    Op {
        method: "get",
        path: "/webhook",
        summary: "Strava's subscription check",
        params: &[
            ("hub.mode", "query", false, "string"),
            ("hub.challenge", "query", false, "string"),
            ("hub.verify_token", "query", false, "string"),
        ],
        responses: &[
            (200, "The challenge echoed", "Object"),
            (403, "Not our verify token", "Error"),
        ],
        api_key: false,
    },
    Op {
        method: "post",
        path: "/webhook",
        summary: "Strava's events (acknowledged at once)",
        params: &[],
        responses: &[
            (200, "Acknowledged", "Object"),
            (400, "Malformed event", "Error"),
            (413, "Too large", "Error"),
            (415, "Not JSON", "Error"),
        ],
        api_key: false,
    },
];

/// The document and the docs page: under both prefixes, and at the root where the old
/// service's FastAPI had them.
const DOCS: &[Op] = &[
    Op {
        method: "get",
        path: "/openapi.json",
        summary: "This document",
        params: &[],
        responses: &[(200, "OpenAPI 3", "Object")],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/docs",
        summary: "Interactive documentation",
        params: &[],
        responses: &[(200, "HTML page", "")],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/docs/docs.js",
        summary: "The docs page's script",
        params: &[],
        responses: &[(200, "JavaScript", "")],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/docs/docs.css",
        summary: "The docs page's style",
        params: &[],
        responses: &[(200, "CSS", "")],
        api_key: false,
    },
];

/// Routes outside the `/strava` prefix.
const ROOT: &[Op] = &[
    Op {
        method: "get",
        path: "/livez",
        summary: "Liveness",
        params: &[],
        responses: &[(200, "Alive", "Object")],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/readyz",
        summary: "Readiness: migrated and cache warmed",
        params: &[],
        responses: &[(200, "Ready", "Object"), (503, "Warming", "Error")],
        api_key: false,
    },
    Op {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics",
        params: &[],
        responses: &[
            (200, "Prometheus text", ""),
            (
                401,
                "Missing or wrong bearer token (METRICS_TOKEN)",
                "Error",
            ),
        ],
        api_key: false,
    },
];

fn operation(op: &Op) -> Value {
    let params: Vec<Value> = op
        .params
        .iter()
        .map(|(name, place, required, kind)| {
            json!({"name": name, "in": place, "required": required, "schema": {"type": kind}})
        })
        .collect();
    let mut responses = Map::new();
    for (status, description, schema) in op.responses {
        let mut response = json!({"description": description});
        if !schema.is_empty() {
            response["content"] = json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}});
        }
        responses.insert(status.to_string(), response);
    }
    let mut operation =
        json!({"summary": op.summary, "parameters": params, "responses": responses});
    if op.api_key {
        operation["security"] = json!([{"ApiKey": []}]);
    }
    operation
}

fn schemas() -> Value {
    let totals = json!({"type": "object", "properties": {
        "count": {"type": "integer"}, "distance": {"type": "number"},
        "moving_time": {"type": "integer"}, "elevation_gain": {"type": "number"}}});
    json!({
        "Totals": totals,
        "Envelope": {"type": "object", "required": ["type", "data", "fetched_at"], "properties": {
            "type": {"type": "string"}, "data": {}, "fetched_at": {"type": "string"}}},
        "YearSummary": {"type": "object", "properties": {
            "year": {"type": "integer"},
            "data": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Totals"}},
            "fetched_at": {"type": "string"}}},
        "Activity": {"type": "object", "properties": {
            "id": {"type": "integer", "format": "int64"}, "name": {"type": "string"},
            "type": {"type": "string"}, "sport_type": {"type": "string"},
            "distance": {"type": "number"}, "moving_time": {"type": "integer"},
            "elapsed_time": {"type": "integer"}, "total_elevation_gain": {"type": "number"},
            "start_date": {"type": "string"}, "start_date_local": {"type": "string"},
            "average_speed": {"type": "number"}, "max_speed": {"type": "number"},
            "kudos_count": {"type": "integer"},
            "heart_rate": {"type": "object", "properties": {
                "average": {"type": "number", "nullable": true},
                "max": {"type": "number", "nullable": true}}}}},
        "ActivityPage": {"type": "object", "properties": {
            "total": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Activity"}}}},
        "Health": {"type": "object", "properties": {
            "status": {"type": "string"}, "service": {"type": "string"}, "database": {"type": "string"},
            "strava": {"type": "string"}, "last_sync": {"type": "string", "nullable": true}}},
        "Status": {"type": "object", "properties": {"status": {"type": "string"}, "message": {"type": "string"}}},
        "Object": {"type": "object"},
        "Error": {"type": "object", "required": ["detail", "code"], "properties": {"detail": {}, "code": {"type": "string"}}},
        "ValidationError": {"type": "object", "properties": {
            "detail": {"type": "array", "items": {"type": "object", "properties": {
                "loc": {"type": "array", "items": {"type": "string"}},
                "msg": {"type": "string"}, "type": {"type": "string"}}}},
            "code": {"type": "string"}}},
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut add = |path: String, op: &Op| {
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[op.method] = operation(op);
    };
    for prefix in ["/strava", "/v1/strava"] {
        for op in STRAVA.iter().chain(DOCS) {
            add(format!("{prefix}{}", op.path), op);
        }
    }
    for op in ROOT.iter().chain(DOCS) {
        add(op.path.to_owned(), op);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "milepost",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Strava activity stats for a personal website. Errors are JSON {\"detail\", \"code\"}."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
        }
    })
}
