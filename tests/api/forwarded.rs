//! A reverse proxy missing from TRUSTED_PROXIES is named in a warning, once: the first request
//! that carries `X-Forwarded-For` from a peer not listed says so.

use std::time::Duration;

use milepost::config::LogFormat;

use crate::helpers::{BinaryApp, spawn_binary};

const WARNING: &str = "TRUSTED_PROXIES does not list";

async fn get_forwarded(app: &BinaryApp, path: &str) {
    let r = app
        .http
        .get(app.url(path))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert!(r.status().as_u16() < 500, "{path}");
}

fn warnings(app: &BinaryApp) -> Vec<serde_json::Value> {
    app.log()
        .into_iter()
        .filter(|l| l["message"].as_str().is_some_and(|m| m.contains(WARNING)))
        .collect()
}

#[actix_web::test]
async fn forwarded_requests_from_an_untrusted_peer_warn_once_naming_it() {
    let app = spawn_binary(|s| s.log_format = LogFormat::Json, &[("RUST_LOG", "info")]).await;
    assert!(warnings(&app).is_empty());
    for path in ["/strava/health", "/strava/authorize", "/strava/stats/ytd"] {
        get_forwarded(&app, path).await;
    }
    let line = app
        .wait_for_log("of the untrusted proxy", |l| {
            l["message"].as_str().is_some_and(|m| m.contains(WARNING))
        })
        .await;
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["peer"], "127.0.0.1");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(warnings(&app).len(), 1, "once");
}

#[actix_web::test]
async fn a_listed_proxy_is_not_warned_about() {
    let app = spawn_binary(
        |s| {
            s.log_format = LogFormat::Json;
            s.trusted_proxies = Some("127.0.0.1".into());
        },
        &[("RUST_LOG", "info")],
    )
    .await;
    for path in ["/strava/health", "/strava/authorize"] {
        get_forwarded(&app, path).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(warnings(&app).is_empty(), "{:#?}", warnings(&app));
}
