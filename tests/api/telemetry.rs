//! Telemetry, seen from outside: the real binary's stdout. Every line a request causes carries
//! that request's id (also its `X-Request-Id`), handler and actors alike; a 5xx's error id is
//! logged with it; and requests log nothing at the default level unless ACCESS_LOG is on.

use milepost::config::LogFormat;
use milepost::simulator::Fault;
use serde_json::Value;

use crate::helpers::{API_KEY, BinaryApp, FRONTEND, location, spawn_binary};

/// What the full re-list logs, inside the FetcherActor's sync, when Strava lost an activity.
const REMOVING: &str = "removing activities Strava no longer lists";

/// Every request id a JSON log line carries: its own `request_id` or one of its spans'.
fn request_ids(line: &Value) -> Vec<&str> {
    let own = line.get("request_id").and_then(Value::as_str);
    let spans = line["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|span| span["request_id"].as_str());
    own.into_iter().chain(spans).collect()
}

fn carries(line: &Value, id: &str) -> bool {
    request_ids(line).contains(&id)
}

fn message(line: &Value) -> &str {
    line["message"].as_str().unwrap_or_default()
}

fn request_id(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-request-id")
        .expect("an X-Request-Id header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn json_logs(settings: &mut milepost::config::Settings) {
    settings.log_format = LogFormat::Json;
}

/// Connects the simulated athlete and waits until the first sync is over, so that the next
/// sync is the test's own.
async fn connected(app: &BinaryApp) {
    let r = app.connect().await;
    assert_eq!(location(&r), format!("{FRONTEND}/?strava=success"));
    app.wait_for_log("of the first sync", |l| {
        message(l) == "background sync done"
    })
    .await;
}

async fn refresh(app: &BinaryApp, query: &str) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/strava/refresh-data{query}")))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_refresh_logs_in_its_handler_and_in_the_actor_under_its_own_request_id() {
    // Arrange
    let app = spawn_binary(json_logs, &[("RUST_LOG", "info")]).await;
    connected(&app).await;
    // Strava lost an activity: the full re-list says so from inside the FetcherActor's sync.
    let gone = app.sim.activities()[0]["id"].as_i64().unwrap();
    assert!(app.sim.delete_activity(gone));

    // Act
    let r = refresh(&app, "?full=true").await;
    assert_eq!(r.status().as_u16(), 200);
    let id = request_id(&r);
    let r = refresh(&app, "").await;
    assert_eq!(r.status().as_u16(), 200);
    let other = request_id(&r);

    // Assert
    assert_ne!(id, other, "two requests, one id");
    let handler = app
        .wait_for_log("\"refresh done\" with the first request's id", |l| {
            message(l) == "refresh done" && carries(l, &id)
        })
        .await;
    assert!(!carries(&handler, &other), "{handler}");
    app.wait_for_log("\"refresh done\" with the second request's id", |l| {
        message(l) == "refresh done" && carries(l, &other)
    })
    .await;
    let log = app.log();
    let actor = log
        .iter()
        .find(|l| message(l) == REMOVING)
        .unwrap_or_else(|| panic!("no {REMOVING:?} line in {log:#?}"));
    assert!(
        carries(actor, &id),
        "the actor's line does not carry the id {id} of the request it served: {actor}"
    );
}

#[actix_web::test]
async fn a_5xx_error_id_is_logged_with_the_request_id_of_its_answer() {
    // Arrange
    let app = spawn_binary(json_logs, &[("RUST_LOG", "info")]).await;
    connected(&app).await;
    app.sim.set_fault(Some(Fault::ServerError));

    // Act
    let r = refresh(&app, "").await;

    // Assert
    assert_eq!(r.status().as_u16(), 502);
    let id = request_id(&r);
    let body: Value = r.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    let error_id = detail
        .strip_prefix("Failed to refresh Strava data (Error ID: ")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no error id in {detail:?}"));
    let line = app
        .wait_for_log("with the error id", |l| l["error_id"] == error_id)
        .await;
    assert_eq!(line["level"], "ERROR", "{line}");
    assert!(
        carries(&line, &id),
        "the error line does not carry the request id {id}: {line}"
    );
}

/// The GETs both logging tests make: path asked, path as logged (normalized, no query), status.
const GETS: [(&str, &str, u16); 4] = [
    ("/strava/health", "/strava/health", 200),
    ("/strava/stats/ytd?type=Run", "/strava/stats/ytd", 404),
    ("/livez", "/livez", 200),
    ("/nope/", "/nope", 404),
];

#[actix_web::test]
async fn requests_log_nothing_at_the_default_level() {
    // Arrange: no RUST_LOG, so the default filter
    let app = spawn_binary(json_logs, &[]).await;
    let start = app.log().len();

    // Act
    let mut ids = Vec::new();
    for (path, _, status) in GETS {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        ids.push(request_id(&r));
    }
    // A forged OAuth state is a refusal, logged (once a minute) as its answer leaves: a line
    // that can only come after whatever the requests before it logged.
    let r = app
        .http
        .get(app.url("/strava/callback?code=c&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let refused = |l: &Value| {
        message(l).starts_with("refused unauthenticated requests") && l["cause"] == "invalid_state"
    };
    app.wait_for_log("of the refused state", refused).await;

    // Assert
    let log = app.log();
    let end = start + log[start..].iter().position(refused).unwrap();
    let per_request: Vec<&Value> = log[start..end]
        .iter()
        .filter(|l| {
            ids.iter().any(|id| carries(l, id))
                || l.get("path").is_some()
                || l.get("status").is_some()
        })
        .collect();
    assert!(per_request.is_empty(), "{per_request:#?}");
}

#[actix_web::test]
async fn the_access_log_has_one_line_per_request_and_no_secret() {
    // Arrange
    let app = spawn_binary(
        |s| {
            s.log_format = LogFormat::Json;
            s.access_log = true;
            s.metrics_token = Some("metrics-token-value".to_owned().into());
        },
        &[("RUST_LOG", "info")],
    )
    .await;

    // Act: the GETs, then requests carrying every kind of secret
    let mut answers = Vec::new();
    for (path, logged, status) in GETS {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        answers.push(("GET", logged, status, request_id(&r)));
    }
    let r = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/strava/stats/ytd"))
        .header("Origin", FRONTEND)
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    answers.push(("OPTIONS", "/strava/stats/ytd", 204, request_id(&r)));
    let r = app
        .http
        .post(app.url("/strava/refresh-data?full=maybe"))
        .header("X-API-Key", API_KEY)
        .header("Cookie", "milepost_oauth_state=cookie-value")
        .send()
        .await
        .unwrap();
    answers.push(("POST", "/strava/refresh-data", 422, request_id(&r)));
    let r = app
        .http
        .get(app.url("/metrics"))
        .header("Authorization", "Bearer metrics-token-value")
        .send()
        .await
        .unwrap();
    answers.push(("GET", "/metrics", 200, request_id(&r)));
    let r = app
        .http
        .get(app.url("/strava/callback?code=oauth-code-value&state=forged-state-value"))
        .send()
        .await
        .unwrap();
    answers.push(("GET", "/strava/callback", 400, request_id(&r)));

    // Assert
    for (method, path, status, id) in &answers {
        app.wait_for_log("of the access", |l| {
            message(l) == "access" && carries(l, id)
        })
        .await;
        let log = app.log();
        let lines: Vec<&Value> = log
            .iter()
            .filter(|l| message(l) == "access" && carries(l, id))
            .collect();
        assert_eq!(lines.len(), 1, "{method} {path}: {lines:#?}");
        let line = lines[0];
        assert_eq!(line["path"], *path, "{line}");
        assert_eq!(line["status"], *status, "{line}");
        assert!(line["elapsed_ms"].as_f64().is_some(), "{line}");
        assert_eq!(line["spans"][0]["method"], *method, "{line}");
    }
    let log = app.log();
    let unattributed: Vec<&Value> = log
        .iter()
        .filter(|l| message(l) == "access" && request_ids(l).is_empty())
        .collect();
    assert!(unattributed.is_empty(), "{unattributed:#?}");
    let out = app.stdout().join("\n");
    for secret in [
        API_KEY,
        "cookie-value",
        "metrics-token-value",
        "oauth-code-value",
        "forged-state-value",
    ] {
        assert!(!out.contains(secret), "{secret} is in the log:\n{out}");
    }
}

#[actix_web::test]
async fn pretty_lines_show_the_request_id_too() {
    let app = spawn_binary(
        |s| {
            s.log_format = LogFormat::Pretty;
            s.access_log = true;
        },
        &[("RUST_LOG", "info")],
    )
    .await;
    let r = app
        .http
        .get(app.url("/strava/health"))
        .send()
        .await
        .unwrap();
    let id = request_id(&r);
    for _ in 0..400 {
        if app
            .stdout()
            .iter()
            .any(|l| l.contains("access") && l.contains(&format!("request_id={id}")))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "no access line with request_id={id}:\n{}",
        app.stdout().join("\n")
    );
}

#[actix_web::test]
async fn an_inactive_strava_app_is_logged_once_and_so_is_its_return() {
    // Arrange
    let app = spawn_binary(json_logs, &[("RUST_LOG", "info")]).await;
    connected(&app).await;
    app.sim.set_app_inactive(true);

    // Act: three refreshes, three probes, three 503s
    for _ in 0..3 {
        assert_eq!(refresh(&app, "").await.status().as_u16(), 503);
    }
    app.sim.set_app_inactive(false);
    assert_eq!(refresh(&app, "").await.status().as_u16(), 200);

    // Assert
    app.wait_for_log("saying the app is active again", |l| {
        message(l).contains("active again")
    })
    .await;
    app.wait_for_log("\"refresh done\"", |l| message(l) == "refresh done")
        .await;
    let log = app.log();
    let inactive: Vec<_> = log
        .iter()
        .filter(|l| message(l).contains("inactive"))
        .collect();
    assert_eq!(inactive.len(), 1, "{inactive:#?}");
    assert_eq!(inactive[0]["level"], "WARN", "{}", inactive[0]);
    assert!(
        message(inactive[0]).contains("subscribes") && message(inactive[0]).contains("reactivates"),
        "{}",
        inactive[0]
    );
    let back = log
        .iter()
        .filter(|l| message(l).contains("active again"))
        .count();
    assert_eq!(back, 1);
}
