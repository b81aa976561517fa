//! An inactive app whose token refresh Strava refuses too (403 Application/Status/Inactive on
//! `/oauth/token`): the refresh is named for what it is, never a token error.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{API_KEY, TestApp, json, settings_env, spawn_app};

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
