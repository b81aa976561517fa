use milepost::crypto::{StateSigner, TokenCipher};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::helpers::{ENCRYPTION_KEY, FRONTEND, STATE_SECRET, json, location, spawn_app};

const INVALID_STATE: &str = "Invalid or expired state parameter";

#[actix_web::test]
async fn the_full_oauth_flow_connects_the_athlete() {
    let app = spawn_app().await;
    let r = app.get("/strava/authorize").await;
    assert_eq!(r.status().as_u16(), 307);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "no Secure outside production: {cookie}"
    );
    let strava = location(&r);
    assert!(
        strava.starts_with(&format!("{}/authorize?", app.sim.oauth_base_url())),
        "{strava}"
    );
    let url = url::Url::parse(&strava).unwrap();
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], app.sim.config().client_id);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], "read,activity:read_all");
    assert_eq!(q["redirect_uri"], app.url("/strava/callback"));

    let r = app.connect().await;
    assert_eq!(r.status().as_u16(), 307);
    assert_eq!(location(&r), format!("{FRONTEND}/?strava=success"));
    app.wait_for("/strava/stats/activities").await;
    let health = json(app.get("/strava/health").await).await;
    assert_eq!(health["strava"], json!("connected"));
}

#[actix_web::test]
async fn the_callback_answers_before_the_first_sync_is_done() {
    let app = spawn_app().await;
    let (strava, cookie) = app.authorize().await;
    let callback = app.consent(&strava).await;
    // Every Strava call now takes 800 ms: a sync (several calls) would take seconds.
    let slow = std::time::Duration::from_millis(800);
    app.sim
        .set_fault(Some(milepost::simulator::Fault::Latency(slow)));
    let started = std::time::Instant::now();
    let r = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(location(&r), format!("{FRONTEND}/?strava=success"));
    // The code exchange is one slow call; the sync behind it (several more) is not awaited.
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 404);
}

#[actix_web::test]
async fn callback_with_a_tampered_state_is_rejected() {
    let app = spawn_app().await;
    let (strava, cookie) = app.authorize().await;
    let callback = app.consent(&strava).await;
    let mut url = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                let mut chars: Vec<char> = v.chars().collect();
                chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
                (k, chars.into_iter().collect())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let r = app.callback(url.as_str(), Some(&cookie)).await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(json(r).await["detail"], json!(INVALID_STATE));
}

#[actix_web::test]
async fn callback_without_the_state_cookie_is_rejected() {
    let app = spawn_app().await;
    let (strava, _cookie) = app.authorize().await;
    let callback = app.consent(&strava).await;
    let r = app.callback(&callback, None).await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(json(r).await["detail"], json!(INVALID_STATE));
}

#[actix_web::test]
async fn callback_with_another_browsers_cookie_is_rejected() {
    let app = spawn_app().await;
    let (strava, _mine) = app.authorize().await;
    let (_, theirs) = app.authorize().await;
    let callback = app.consent(&strava).await;
    let r = app.callback(&callback, Some(&theirs)).await;
    assert_eq!(r.status().as_u16(), 400);
}

#[actix_web::test]
async fn callback_with_an_expired_state_is_rejected() {
    let app = spawn_app().await;
    let signer = StateSigner::new(&SecretString::from(STATE_SECRET));
    let old = signer.issue(chrono::Utc::now().timestamp() - 601);
    let url = format!(
        "{}?code=whatever&scope=read,activity:read_all&state={}",
        app.url("/strava/callback"),
        old.value
    );
    let r = app
        .callback(&url, Some(&format!("milepost_oauth_state={}", old.value)))
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(json(r).await["detail"], json!(INVALID_STATE));
    assert_eq!(app.sim.request_count("POST /oauth/token"), 0);
}

#[actix_web::test]
async fn callback_with_a_replayed_state_is_rejected() {
    let app = spawn_app().await;
    let (strava, cookie) = app.authorize().await;
    let callback = app.consent(&strava).await;
    let first = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(location(&first), format!("{FRONTEND}/?strava=success"));
    let again = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(again.status().as_u16(), 400);
    assert_eq!(json(again).await["detail"], json!(INVALID_STATE));
    assert_eq!(app.sim.request_count("POST /oauth/token"), 1);
}

#[actix_web::test]
async fn denied_consent_sends_the_browser_back_with_strava_denied() {
    let app = spawn_app().await;
    app.sim.set_deny(true);
    let (strava, cookie) = app.authorize().await;
    let callback = app.consent(&strava).await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let r = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(r.status().as_u16(), 307);
    assert_eq!(location(&r), format!("{FRONTEND}/?strava=denied"));
    assert_eq!(app.sim.request_count("POST /oauth/token"), 0);
}

#[actix_web::test]
async fn callback_without_code_or_state_is_a_422_naming_them() {
    let app = spawn_app().await;
    let r = app.get("/strava/callback?state=abc").await;
    assert_eq!(r.status().as_u16(), 422);
    let body = json(r).await;
    assert_eq!(body["code"], json!("validation_error"));
    assert_eq!(body["detail"][0]["loc"], json!(["query", "code"]));
    let body = json(app.get("/strava/callback").await).await;
    let locs: Vec<_> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["loc"].clone())
        .collect();
    assert_eq!(
        locs,
        vec![json!(["query", "code"]), json!(["query", "state"])]
    );
}

#[actix_web::test]
async fn a_grant_without_activity_scope_is_refused() {
    let app = spawn_app().await;
    app.sim.set_granted_scope(Some("read".into()));
    let r = app.connect().await;
    assert_eq!(r.status().as_u16(), 400);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("activity:read"), "{detail}");
    assert_eq!(app.sim.request_count("POST /oauth/token"), 0);
}

#[actix_web::test]
async fn a_failing_code_exchange_is_a_502_with_an_error_id() {
    let app = spawn_app().await;
    let (strava, cookie) = app.authorize().await;
    let callback = app.consent(&strava).await;
    app.sim
        .set_fault(Some(milepost::simulator::Fault::ServerError));
    let r = app.callback(&callback, Some(&cookie)).await;
    assert_eq!(r.status().as_u16(), 502);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with("OAuth authorization failed. Please try again. (Error ID: "),
        "{detail}"
    );
}

#[actix_web::test]
async fn tokens_in_the_database_are_not_plaintext() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let row = app
        .db()
        .await
        .query_one(
            "SELECT athlete_id, access_token, refresh_token FROM tokens",
            &[],
        )
        .await
        .unwrap();
    let athlete: i64 = row.get(0);
    let cipher = TokenCipher::new(&SecretString::from(ENCRYPTION_KEY), &[]);
    for (i, field) in [(1, "access_token"), (2, "refresh_token")] {
        let stored: String = row.get(i);
        let plain = cipher.decrypt(&stored, athlete, field).unwrap();
        let plain = plain.expose_secret();
        assert!(plain.len() >= 20, "a real token decrypts");
        assert!(!stored.contains(plain), "{field} stored in plaintext");
    }
}

#[actix_web::test]
async fn a_callback_without_a_granted_scope_is_refused() {
    let app = spawn_app().await;
    let (strava, cookie) = app.authorize().await;
    let callback = app.consent(&strava).await;
    let mut url = url::Url::parse(&callback).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "scope")
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let r = app.callback(url.as_str(), Some(&cookie)).await;
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(app.sim.request_count("POST /oauth/token"), 0);
}

#[actix_web::test]
async fn a_slow_code_exchange_does_not_hold_up_a_syncs_token() {
    use std::time::{Duration, Instant};
    let slow = Duration::from_millis(1500);
    let app = crate::helpers::spawn_app_with(
        milepost::simulator::SimConfig {
            code_exchange_latency: slow,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    app.connect_and_sync().await;
    // The owner reconnects; Strava takes its time over the code.
    let (strava, cookie) = app.authorize().await;
    let callback = app.consent(&strava).await;
    let reconnect = {
        let http = app.http.clone();
        actix_web::rt::spawn(async move {
            let r = http
                .get(&callback)
                .header("Cookie", cookie)
                .send()
                .await
                .expect("callback");
            (r.status().as_u16(), Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let r = app.refresh(Some(crate::helpers::API_KEY)).await;
    let refreshed = Instant::now();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let (status, reconnected) = reconnect.await.unwrap();
    assert_eq!(status, 307);
    assert!(
        refreshed < reconnected,
        "the sync waited {:?} for the code exchange",
        refreshed - started
    );
    assert!(refreshed - started < Duration::from_millis(1000));
}
