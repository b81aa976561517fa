//! The log under attack: unauthenticated refusals are counted in metrics and logged at most once
//! a minute per route and cause, and no text a client sends can start a log line of its own.

use std::time::Duration;

use milepost::config::LogFormat;
use serde_json::json;

use crate::helpers::{BinaryApp, spawn_binary};

/// An event nobody subscribed to, whose strings try to forge lines and move the cursor.
fn forged_event() -> serde_json::Value {
    json!({
        "object_type": "activity\nFORGED line from object_type\r\u{1b}[2K\u{2028}",
        "aspect_type": "create\r\nFORGED line from aspect_type\u{0}\u{7f}",
        "object_id": 1,
        "owner_id": 2,
        "subscription_id": 3,
        "event_time": 4,
        "updates": {},
    })
}

async fn post_forged_event(app: &BinaryApp) {
    let r = app
        .http
        .post(app.url("/strava/webhook"))
        .json(&forged_event())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// Waits until a stdout line holds `text`; that line.
async fn line_with(app: &BinaryApp, text: &str) -> String {
    for _ in 0..400 {
        if let Some(line) = app.stdout().into_iter().find(|l| l.contains(text)) {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no line with {text:?} in:\n{}", app.stdout().join("\n"));
}

#[actix_web::test]
async fn a_forged_events_control_characters_cannot_start_a_log_line_in_either_format() {
    for format in [LogFormat::Pretty, LogFormat::Json] {
        // The event's own line is at debug level: ask for it.
        let app = spawn_binary(
            |s| s.log_format = format,
            &[("RUST_LOG", "info,milepost::http=debug")],
        )
        .await;
        post_forged_event(&app).await;
        let line = line_with(&app, "FORGED line from object_type").await;
        assert!(line.contains("webhook event"), "{line}");
        // A moment for anything else the event causes to be written.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let out = app.stdout();
        for l in &out {
            assert!(!l.trim_start().starts_with("FORGED"), "{format:?}: {l:?}");
            assert!(
                !l.contains('\u{1b}') && !l.contains('\r'),
                "{format:?}: {l:?}"
            );
            assert!(
                !l.contains('\u{2028}') && !l.contains('\u{0}'),
                "{format:?}: {l:?}"
            );
            if format == LogFormat::Json {
                assert!(
                    serde_json::from_str::<serde_json::Value>(l).is_ok(),
                    "not one JSON line: {l:?}"
                );
            }
        }
        assert!(
            line.contains(r"\n") && line.contains("aspect_type"),
            "{line}"
        );
    }
}

/// `milepost_http_refusals_total` for `route` and `cause`, as /metrics shows it.
async fn refusals(app: &BinaryApp, route: &str, cause: &str) -> u64 {
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let wanted = format!("milepost_http_refusals_total{{route=\"{route}\",cause=\"{cause}\"}}");
    text.lines()
        .find_map(|l| l.strip_prefix(&wanted))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

#[actix_web::test]
async fn refusals_within_a_minute_are_one_log_line_each_route_and_cause_and_all_counted() {
    let app = spawn_binary(|s| s.log_format = LogFormat::Json, &[("RUST_LOG", "info")]).await;
    const N: u64 = 12;
    for i in 0..N {
        let r = app
            .http
            .post(app.url("/strava/refresh-data"))
            .header("X-API-Key", format!("wrong-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        // every unknown webhook path is one route
        let r = app
            .http
            .post(app.url(&format!("/strava/webhook/guess-{i}/more")))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404);
    }
    assert_eq!(
        refusals(&app, "/strava/refresh-data", "invalid_api_key").await,
        N
    );
    assert_eq!(refusals(&app, "/strava/webhook/…", "404").await, N);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = app.log();
    let refused: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("refused unauthenticated requests"))
        })
        .collect();
    let of = |route: &str| {
        refused
            .iter()
            .filter(|l| l["route"] == json!(route))
            .count()
    };
    assert_eq!(of("/strava/refresh-data"), 1, "{refused:#?}");
    assert_eq!(of("/strava/webhook/…"), 1, "{refused:#?}");
    // and nothing else a line per request
    let per_request = lines
        .iter()
        .filter(|l| l["message"].as_str().is_some_and(|m| m.contains("API key")))
        .count();
    assert_eq!(per_request, 0);
}
