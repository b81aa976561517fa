//! An inactive app whose token refresh Strava refuses too (403 Application/Status/Inactive on
//! `/oauth/token`): the refresh is named for what it is, never a token error; webhook
//! confirmations wait for a probe (one refresh an hour) and lose nothing; a disconnect still
//! deletes the local data.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{API_KEY, TestApp, eventually, json, settings_env, spawn_app, webhook_events};
use crate::inactive::to_the_next_probe;

const TOKEN: &str = "POST /oauth/token";

/// A connected app whose access token has run out while Strava says the app is inactive and
/// refuses refreshes with the same fault.
async fn inactive_with_an_expired_token() -> TestApp {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    app.sim.set_app_inactive(true);
    app.sim.set_token_refresh_inactive(true);
    app.sim.advance_clock(Duration::from_secs(7 * 3600));
    app
}

#[actix_web::test]
async fn refresh_data_names_an_inactive_app_that_strava_refused_a_token_refresh() {
    let app = inactive_with_an_expired_token().await;

    let r = app.refresh(Some(API_KEY)).await;

    assert_eq!(r.status().as_u16(), 503);
    let body = json(r).await;
    assert_eq!(body["code"], json!("strava_app_inactive"), "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("https://www.strava.com/settings/api"),
        "{body}"
    );
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("app_inactive")
    );
    assert_eq!(app.sim.token_refresh_count(), 0, "nothing was spent");
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 200);
}

#[actix_web::test]
async fn milepost_refresh_prints_what_the_owner_must_do_when_strava_refuses_the_token_refresh() {
    let app = inactive_with_an_expired_token().await;
    let env = settings_env(&app.settings);
    let dir = std::env::temp_dir().join(format!("milepost-refresh-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();

    let output = {
        let dir = dir.clone();
        actix_web::rt::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_milepost"))
                .arg("refresh")
                .env_clear()
                .envs(env)
                .current_dir(dir)
                .stdin(std::process::Stdio::null())
                .output()
                .expect("running milepost refresh")
        })
        .await
        .unwrap()
    };
    let _ = std::fs::remove_dir_all(&dir);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("The Strava application is inactive: its owner must subscribe on Strava")
            && stderr.contains("https://www.strava.com/settings/api"),
        "{stderr}"
    );
    assert!(!stderr.contains("token"), "{stderr}");
}

/// [`inactive_with_an_expired_token`], subscribed to push events first.
async fn subscribed_inactive_with_an_expired_token() -> TestApp {
    let app = crate::helpers::spawn_subscribed_app(Default::default(), |_| {}).await;
    app.sim.set_app_inactive(true);
    app.sim.set_token_refresh_inactive(true);
    app.sim.advance_clock(Duration::from_secs(7 * 3600));
    app.sim.reset_counts();
    app
}

#[actix_web::test]
async fn an_activity_event_whose_token_refresh_strava_refuses_waits_for_the_hour_s_probe() {
    let app = subscribed_inactive_with_an_expired_token().await;
    let newest = json(app.get("/strava/activities?limit=1").await).await["data"][0]["id"]
        .as_i64()
        .unwrap();

    let event = app.sim.activity_event("update", newest, json!({}));
    assert_eq!(app.sim.deliver_event(event).await.unwrap(), 200);

    // one refused refresh tells the budget; the confirmation waits for the next probe
    assert!(eventually(async || webhook_events(&app, "deferred").await >= 1).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.sim.request_count(TOKEN),
        1,
        "{:?}",
        app.sim.request_counts()
    );
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("app_inactive")
    );
    assert_eq!(app.rows("pending_events").await, 1);

    // an hour on: one more refresh is the probe, and the next waits another hour
    to_the_next_probe(&app).await;
    assert!(eventually(async || app.sim.request_count(TOKEN) >= 2).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        app.sim.request_count(TOKEN),
        2,
        "{:?}",
        app.sim.request_counts()
    );
    assert_eq!(app.rows("pending_events").await, 1, "the event was dropped");
}

#[actix_web::test]
async fn a_deauthorization_event_whose_token_refresh_strava_refuses_is_kept_for_a_probe() {
    let app = subscribed_inactive_with_an_expired_token().await;

    let event = app.sim.deauthorization_event();
    assert_eq!(app.sim.deliver_event(event).await.unwrap(), 200);

    assert!(eventually(async || webhook_events(&app, "deferred").await >= 1).await);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(webhook_events(&app, "unconfirmed").await, 0);
    assert_eq!(app.rows("pending_events").await, 1, "the event was dropped");
    assert_eq!(
        app.sim.request_count(TOKEN),
        1,
        "{:?}",
        app.sim.request_counts()
    );
    assert_eq!(
        app.rows("tokens").await,
        1,
        "nothing is deleted unconfirmed"
    );
}

#[actix_web::test]
async fn a_disconnect_deletes_the_local_data_when_strava_refuses_the_token_refresh() {
    // Strava has no revoke, so the disconnect deauthorizes with an access token it must refresh
    let app = inactive_with_an_expired_token().await;
    app.sim.set_revoke_missing(true);

    let r = app
        .http
        .post(app.url("/strava/disconnect"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();

    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    assert_eq!(app.rows("tokens").await, 0);
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 404);
    assert_eq!(app.sim.request_count("POST /oauth/deauthorize"), 0);
}
