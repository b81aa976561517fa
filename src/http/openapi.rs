//! The OpenAPI 3 document, built once at start-up from the route table (`routes.rs`) and the
//! parameter definitions the handlers validate with (`params.rs`), and served pre-serialized at
//! /strava/openapi.json. What a route answers is stated beside the route; the body schemas are
//! here, and say exactly what the bodies hold.

use serde_json::{Map, Value, json};

use super::doc::{Body, Content, Doc, Header, Reply};
use super::params::{Bound, Param};
use super::routes::{Endpoint, endpoints};
use crate::error::{ErrorCode, Place};

/// Answers any route may give before its handler runs (`limits.rs`).
const LIMITS: [Reply; 2] = [
    Reply {
        status: 414,
        description: "Query string longer than 4 KiB",
        content: Content::Error(&[ErrorCode::UriTooLong]),
        headers: &[],
    },
    Reply {
        status: 431,
        description: "Headers larger than 16 KiB",
        content: Content::Error(&[ErrorCode::HeadersTooLarge]),
        headers: &[],
    },
];

fn parameter(param: Param) -> Value {
    let (name, place, required, description, schema) = match param {
        Param::Int(p) => {
            let int32 = [p.min, p.max]
                .iter()
                .all(|b| i32::try_from(b.documented()).is_ok());
            let mut schema = json!({
                "type": "integer",
                "format": if int32 { "int32" } else { "int64" },
                "minimum": p.min.documented(),
                "maximum": p.max.documented(),
            });
            if let Some(default) = p.default {
                schema["default"] = json!(default);
            }
            let mut description = p.description.to_owned();
            if [p.min, p.max].contains(&Bound::AthleteYear) {
                // The document is built at start-up; the year is the athlete's, per request.
                description.push_str(
                    " (up to the athlete's current local year, stated here as the UTC year at start-up)",
                );
            }
            (p.name, p.place, p.required, description, schema)
        }
        Param::Flag(p) => (
            p.name,
            p.place,
            false,
            p.description.to_owned(),
            json!({"type": "boolean"}),
        ),
        Param::Text(p) => {
            let mut schema = json!({"type": "string"});
            if !p.one_of.is_empty() {
                schema["enum"] = json!(p.one_of);
            }
            (
                p.name,
                p.place,
                p.required,
                p.description.to_owned(),
                schema,
            )
        }
    };
    json!({
        "name": name,
        "in": place,
        "required": required || place == Place::Path,
        "description": description,
        "schema": schema,
    })
}

fn error_schema(codes: &[ErrorCode]) -> Value {
    json!({
        "type": "object",
        "required": ["detail", "code"],
        "additionalProperties": false,
        "properties": {
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": codes},
        },
    })
}

fn header(h: Header) -> (&'static str, Value) {
    let (name, description, schema) = match h {
        Header::ETag => (
            "ETag",
            "The body's entity tag, for If-None-Match",
            json!({"type": "string", "pattern": "^(W/)?\"[^\"]*\"$"}),
        ),
        Header::CachePublic => (
            "Cache-Control",
            "Reads may be cached for CACHE_MAX_AGE_SECS",
            json!({"type": "string", "pattern": "^public, max-age=[0-9]+$"}),
        ),
        Header::VaryEncoding => (
            "Vary",
            "Accept-Encoding, Origin (one line): bodies of 1 KiB and more come gzipped \
             (Content-Encoding: gzip, their own ETag) to clients whose Accept-Encoding takes \
             gzip, and CORS answers depend on the Origin",
            json!({"type": "string", "enum": ["Accept-Encoding, Origin"]}),
        ),
        Header::Location => (
            "Location",
            "Where the browser goes next",
            json!({"type": "string"}),
        ),
        Header::SetCookie => (
            "Set-Cookie",
            "The HttpOnly cookie binding the OAuth state to this browser (set, or expired)",
            json!({"type": "string"}),
        ),
        Header::RetryAfter => (
            "Retry-After",
            "Seconds to wait before trying again",
            json!({"type": "string", "pattern": "^[0-9]+$"}),
        ),
    };
    (
        name,
        json!({"description": description, "required": true, "schema": schema}),
    )
}

fn response(reply: &Reply) -> Value {
    let mut response = json!({"description": reply.description});
    let content = match reply.content {
        Content::Empty => None,
        Content::Json(schema) => Some(json!({"application/json": {
            "schema": {"$ref": format!("#/components/schemas/{schema}")}
        }})),
        Content::Error(codes) => Some(json!({"application/json": {"schema": error_schema(codes)}})),
        Content::Text(media_type) => Some(json!({ media_type: {} })),
    };
    if let Some(content) = content {
        response["content"] = content;
    }
    if !reply.headers.is_empty() {
        let headers: Map<String, Value> = reply
            .headers
            .iter()
            .map(|h| {
                let (name, value) = header(*h);
                (name.to_owned(), value)
            })
            .collect();
        response["headers"] = Value::Object(headers);
    }
    response
}

fn operation(doc: &Doc) -> Value {
    let parameters: Vec<Value> = doc.params.iter().copied().map(parameter).collect();
    let mut responses = Map::new();
    for reply in doc.replies.iter().chain(&LIMITS) {
        responses.insert(reply.status.to_string(), response(reply));
    }
    let mut operation = json!({
        "summary": doc.summary,
        "parameters": parameters,
        "responses": responses,
    });
    match doc.body {
        Some(Body::Json(schema)) => {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {
                    "schema": {"$ref": format!("#/components/schemas/{schema}")}
                }},
            });
        }
        Some(Body::Binary(media_types)) => {
            let content: Map<String, Value> = media_types
                .iter()
                .map(|media_type| {
                    let schema = json!({"schema": {"type": "string", "format": "binary"}});
                    ((*media_type).to_owned(), schema)
                })
                .collect();
            operation["requestBody"] = json!({"required": true, "content": content});
        }
        None => {}
    }
    if doc.api_key {
        operation["security"] = json!([{"ApiKey": []}]);
    }
    if doc.metrics_token {
        // Without METRICS_TOKEN the route is open: either is a valid way to call it.
        operation["security"] = json!([{}, {"MetricsToken": []}]);
    }
    operation
}

/// The whole document, of the routes [`endpoints`] registers.
pub fn document() -> Value {
    document_of(&endpoints())
}

fn document_of(endpoints: &[Endpoint]) -> Value {
    let mut paths = Map::new();
    for endpoint in endpoints {
        let op = operation(&endpoint.doc);
        for path in endpoint.paths() {
            let entry = paths.entry(path).or_insert_with(|| json!({}));
            entry[endpoint.method.as_str().to_ascii_lowercase()] = op.clone();
        }
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "milepost",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Strava activity stats for a personal website. Every route is served \
                under /strava and /v1/strava. Errors are JSON {\"detail\", \"code\"}; an unknown \
                path answers 404 {\"detail\": \"Not Found\"}, a wrong method 405 with Allow."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": super::auth::API_KEY_HEADER},
                "MetricsToken": {"type": "http", "scheme": "bearer",
                    "description": "METRICS_TOKEN, when it is set"},
            }
        }
    })
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

fn constant(value: &str) -> Value {
    json!({"type": "string", "enum": [value]})
}

/// `{"type": kind, "data": data, "fetched_at": …}`, the envelope of the stats reads.
fn envelope(kind: &str, data: Value) -> Value {
    object(
        &["type", "data", "fetched_at"],
        json!({"type": constant(kind), "data": data, "fetched_at": {"$ref": "#/components/schemas/FetchedAt"}}),
    )
}

fn schemas() -> Value {
    let totals = json!({"$ref": "#/components/schemas/Totals"});
    let by_type = json!({"type": "object", "additionalProperties": totals,
        "description": "Keyed by legacy activity type (Run, Ride, …)"});
    let problem = object(
        &["loc", "msg", "type"],
        json!({
            "loc": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            "msg": {"type": "string"},
            "type": {"type": "string"},
        }),
    );
    json!({
        "FetchedAt": {"type": "string", "format": "date-time",
            "description": "When the data was read from Strava (UTC)"},
        "Totals": object(&["count", "distance", "moving_time", "elevation_gain"], json!({
            "count": {"type": "integer", "format": "int64"},
            "distance": {"type": "number", "description": "metres"},
            "moving_time": {"type": "integer", "format": "int64", "description": "seconds"},
            "elevation_gain": {"type": "number", "description": "metres"},
        })),
        "Ytd": envelope("ytd", object(&["run", "ride", "swim"],
            json!({"run": totals, "ride": totals, "swim": totals}))),
        "RecentActivity": object(
            &["id", "name", "type", "sport_type", "distance", "moving_time", "elevation_gain",
              "start_date", "start_date_local"],
            json!({
                "id": {"type": "integer", "format": "int64"},
                "name": {"type": "string"},
                "type": {"type": "string"},
                "sport_type": {"type": "string"},
                "distance": {"type": "number"},
                "moving_time": {"type": "integer", "format": "int64"},
                "elevation_gain": {"type": "number"},
                "start_date": {"type": "string"},
                "start_date_local": {"type": "string"},
            }),
        ),
        "RecentActivities": envelope("recent_activities", json!({
            "type": "array", "maxItems": crate::stats::RECENT_COUNT,
            "items": {"$ref": "#/components/schemas/RecentActivity"},
        })),
        "Monthly": envelope("monthly", json!({
            "type": "object", "additionalProperties": totals, "minProperties": 12, "maxProperties": 12,
            "description": "Keyed YYYY-MM, the current local month first",
        })),
        "Weekly": envelope("weekly", json!({
            "type": "object", "additionalProperties": totals,
            "minProperties": crate::stats::WEEKS, "maxProperties": crate::stats::WEEKS,
            "description": "Keyed by ISO week-year and week (YYYY-Www), the current local week first",
        })),
        "Calendar": object(&["type", "year", "data", "fetched_at"], json!({
            "type": constant("calendar"),
            "year": {"type": "integer", "format": "int32"},
            "data": {"type": "object", "additionalProperties": totals,
                "description": "Keyed by local date (YYYY-MM-DD), ascending: the days with activities"},
            "fetched_at": {"$ref": "#/components/schemas/FetchedAt"},
        })),
        "Streaks": envelope("streaks", object(
            &["current_days", "longest_days", "longest_days_start", "longest_days_end",
              "current_weeks", "longest_weeks"],
            json!({
                "current_days": {"type": "integer", "minimum": 0,
                    "description": "Consecutive active local days ending today or yesterday"},
                "longest_days": {"type": "integer", "minimum": 0},
                "longest_days_start": {"type": "string", "format": "date", "nullable": true},
                "longest_days_end": {"type": "string", "format": "date", "nullable": true},
                "current_weeks": {"type": "integer", "minimum": 0,
                    "description": "Consecutive active ISO weeks ending this week or last week"},
                "longest_weeks": {"type": "integer", "minimum": 0},
            }),
        )),
        "Eddington": envelope("eddington", object(&["ride", "run"], json!({
            "ride": {"$ref": "#/components/schemas/EddingtonNumbers"},
            "run": {"$ref": "#/components/schemas/EddingtonNumbers"},
        }))),
        "EddingtonNumbers": object(&["km", "mi", "days_to_next_km", "days_to_next_mi"], json!({
            "km": {"type": "integer", "minimum": 0,
                "description": "The largest n with at least n local days of n km or more"},
            "mi": {"type": "integer", "minimum": 0},
            "days_to_next_km": {"type": "integer", "minimum": 0},
            "days_to_next_mi": {"type": "integer", "minimum": 0},
        })),
        "AllTimeTotals": envelope("all_time_totals", by_type.clone()),
        "Yearly": envelope("yearly_stats", json!({
            "type": "object", "additionalProperties": by_type.clone(),
            "description": "Keyed by local year, newest first",
        })),
        "YearSummary": object(&["year", "data", "fetched_at"], json!({
            "year": {"type": "integer", "format": "int32"},
            "data": by_type,
            "fetched_at": {"$ref": "#/components/schemas/FetchedAt"},
        })),
        "Activity": object(
            &["id", "name", "type", "sport_type", "distance", "moving_time", "elapsed_time",
              "total_elevation_gain", "start_date", "start_date_local", "average_speed",
              "max_speed", "kudos_count", "heart_rate"],
            json!({
                "id": {"type": "integer", "format": "int64"},
                "name": {"type": "string"},
                "type": {"type": "string"},
                "sport_type": {"type": "string"},
                "distance": {"type": "number"},
                "moving_time": {"type": "integer", "format": "int64"},
                "elapsed_time": {"type": "integer", "format": "int64"},
                "total_elevation_gain": {"type": "number"},
                "start_date": {"type": "string"},
                "start_date_local": {"type": "string"},
                "average_speed": {"type": "number"},
                "max_speed": {"type": "number"},
                "kudos_count": {"type": "integer", "format": "int64"},
                "heart_rate": object(&["average", "max"], json!({
                    "average": {"type": "number", "nullable": true},
                    "max": {"type": "number", "nullable": true},
                })),
            }),
        ),
        "ActivityPage": object(&["total", "limit", "offset", "data"], json!({
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer"},
            "offset": {"type": "integer", "minimum": 0},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Activity"}},
        })),
        "Health": object(&["status", "service", "database"], json!({
            "status": {"type": "string", "enum": ["ok", "degraded"]},
            "service": constant("strava"),
            "database": {"type": "string", "enum": ["connected", "disconnected"]},
            "strava": {"type": "string",
                "enum": ["connected", "not_connected", "reauthorization_required", "app_inactive"]},
            "last_sync": {"type": "string", "format": "date-time", "nullable": true},
        })),
        "Live": object(&["status"], json!({"status": constant("ok")})),
        "Ready": object(&["status"], json!({"status": constant("ready")})),
        "Done": object(&["status", "message"], json!({
            "status": constant("success"),
            "message": {"type": "string"},
        })),
        "Actors": object(&["actors", "setup_link_waiting", "sync", "budget", "cache", "replica", "leader"], json!({
            "setup_link_waiting": {"type": "boolean", "description": "Nobody owns the instance and a setup link (printed in the log at start-up or after the operator's disconnect) waits for the owner's first connection"},
            "actors": {"type": "object", "additionalProperties": object(
                &["handled", "errors", "in_flight", "last_handled_at"],
                json!({
                    "handled": {"type": "integer"},
                    "errors": {"type": "integer"},
                    "in_flight": {"type": "integer"},
                    "last_handled_at": {"type": "string", "nullable": true},
                }),
            )},
            "sync": object(&["in_flight", "last_success", "strava"], json!({
                "in_flight": {"type": "boolean"},
                "last_success": {"type": "string", "format": "date-time", "nullable": true},
                "strava": {"type": "string", "nullable": true},
                "app_inactive_since": {"type": "string", "format": "date-time", "nullable": true},
                "next_probe": {"type": "string", "format": "date-time", "nullable": true},
            })),
            "budget": {"type": "object", "description": "The FetcherActor's rate-budget figures"},
            "cache": object(&["entries"], json!({"entries": {"type": "integer"}})),
            "replica": object(&["id", "leader", "leader_since", "generation"], json!({
                "id": {"type": "string", "description": "This replica: <host>-<pid>-<random>"},
                "leader": {"type": "boolean", "description": "Whether this replica leads"},
                "leader_since": {"type": "string", "format": "date-time", "nullable": true},
                "generation": {"type": "integer", "description": "The data generation served here"},
            })),
            "leader": {
                "type": "object",
                "nullable": true,
                "description": "The replica that last took the lead, as Postgres has it (null when Postgres did not answer)",
                "properties": {
                    "replica": {"type": "string", "nullable": true},
                    "since": {"type": "string", "format": "date-time", "nullable": true},
                },
            },
        })),
        "ImportStarted": object(&["import_id"], json!({"import_id": import_id()})),
        "ImportJob": object(
            &["import_id", "state", "files_done", "files_total", "summary", "error"],
            json!({
                "import_id": import_id(),
                "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
                "files_done": count(),
                "files_total": count(),
                "summary": import_summary(),
                "error": {"type": "string", "nullable": true,
                    "description": "Why the job failed (state failed), else null"},
            }),
        ),
        "Deleted": object(&["deleted"], json!({"deleted": count()})),
        "Challenge": object(&["hub.challenge"], json!({"hub.challenge": {"type": "string"}})),
        "Acknowledged": object(&["status"], json!({"status": constant("ok")})),
        "NotFound": object(&["detail"], json!({"detail": constant("Not Found")})),
        "WebhookEvent": {
            "type": "object",
            "description": "A Strava push event. Unknown fields are ignored.",
            "required": ["object_type", "object_id", "aspect_type", "owner_id", "subscription_id"],
            "properties": {
                "object_type": {"type": "string", "description": "activity or athlete"},
                "object_id": int64(),
                "aspect_type": {"type": "string", "description": "create, update or delete"},
                "updates": {"description": "What changed, e.g. {\"authorized\": \"false\"}"},
                "owner_id": int64(),
                "subscription_id": int64(),
                "event_time": int64(),
            },
        },
        "ApiKeyError": object(&["detail", "code"], json!({
            "detail": object(&["message", "category"], json!({
                "message": {"type": "string"},
                "category": constant("security"),
            })),
            "code": {"type": "string", "enum": [ErrorCode::InvalidApiKey]},
        })),
        "ValidationError": object(&["detail", "code"], json!({
            "detail": {"type": "array", "minItems": 1, "items": problem},
            "code": {"type": "string", "enum": [ErrorCode::ValidationError]},
        })),
        "OpenApi": {"type": "object", "required": ["openapi", "info", "paths"]},
    })
}

/// A count: a non-negative integer.
fn count() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": 0})
}

/// An import job's id, as the ImportActor makes them.
fn import_id() -> Value {
    json!({"type": "string", "pattern": "^[0-9a-f]{32}$"})
}

/// What a finished import did (`milepost import --json` prints the same object); null until
/// the job is done, and for a failed one.
fn import_summary() -> Value {
    let mut summary = object(
        &[
            "files_read",
            "activities",
            "public",
            "refused",
            "local_time",
            "seconds",
        ],
        json!({
            "files_read": {"type": "integer", "format": "int64", "minimum": 0,
                "description": "Activity files and activities.csv rows read"},
            "activities": object(&["new", "updated", "unchanged", "merged"], json!({
                "new": count(),
                "updated": count(),
                "unchanged": count(),
                "merged": {"type": "integer", "format": "int64", "minimum": 0,
                    "description": "Joined with an activity already known from the API or another file"},
            })),
            "public": {"type": "integer", "format": "int64", "minimum": 0,
                "description": "Activities of this import the public may see"},
            "refused": {"type": "array", "items": object(&["file", "reason"], json!({
                "file": {"type": "string",
                    "description": "The file, or activities.csv:ROW for a row of the export"},
                "reason": {"type": "string"},
            }))},
            "local_time": object(
                &["file", "zone_lookup", "athlete_timezone", "strava", "utc"],
                json!({
                    "file": count(),
                    "zone_lookup": count(),
                    "athlete_timezone": count(),
                    "strava": count(),
                    "utc": count(),
                }),
            ),
            "seconds": {"type": "number", "minimum": 0},
        }),
    );
    summary["nullable"] = json!(true);
    summary["description"] = json!(
        "What the import did (null until it is done, and when it failed); local_time counts \
         where each activity's local time came from"
    );
    summary
}

/// A JSON integer that fits an i64, as serde reads one.
fn int64() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
}
