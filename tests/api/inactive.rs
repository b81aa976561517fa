//! Strava's 2026 platform: an application Strava says is inactive (403 Application/Status/
//! Inactive on every API call) pauses syncs but keeps serving; tokens are revoked with
//! `POST /oauth/revoke`, and deauthorized only where revoke answers 404.

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use milepost::simulator::{SimConfig, Simulator};
use serde_json::{Value, json};

use crate::helpers::{API_KEY, TestApp, eventually, json, spawn_app_with, webhook_events};

/// Every read route, as a frontend reads them.
fn read_routes(year: i32) -> Vec<String> {
    let mut routes: Vec<String> = [
        "/strava/stats/ytd",
        "/strava/stats/activities",
        "/strava/stats/monthly",
        "/strava/stats/monthly?type=Run",
        "/strava/stats/totals",
        "/strava/stats/yearly",
        "/strava/stats/longest-run",
        "/strava/stats/longest-ride",
        "/strava/activities",
        "/strava/activities?limit=5&offset=3",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    routes.push(format!("/strava/stats/summary/{year}"));
    routes.push(format!("/strava/stats/longest-run?year={}", year - 1));
    routes
}

/// Requests the simulator answered under `/api/v3` (OAuth's token, revoke and deauthorize
/// endpoints left out).
fn api_requests(sim: &Simulator) -> u64 {
    sim.request_counts()
        .iter()
        .filter(|(endpoint, _)| !endpoint.contains("/oauth/"))
        .map(|(_, n)| n)
        .sum()
}

pub(crate) async fn admin(app: &TestApp) -> Value {
    let r = app
        .http
        .get(app.url("/strava/admin/actors"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    json(r).await
}

async fn disconnect(app: &TestApp) -> u16 {
    app.disconnect().await.status().as_u16()
}

/// How many times the FetcherActor has been asked for a sync (each refresh timer tick asks).
async fn syncs_asked(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let line = "milepost_actor_messages_handled_total{actor=\"FetcherActor\",message=\"RunSync\"}";
    text.lines()
        .find_map(|l| l.strip_prefix(line))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(0, |n| n as u64)
}

/// Waits for `ticks` more refresh timer ticks than have happened so far.
async fn wait_for_ticks(app: &TestApp, ticks: u64) {
    let start = syncs_asked(app).await;
    assert!(
        eventually(async || syncs_asked(app).await >= start + ticks).await,
        "the refresh timer did not tick {ticks} times"
    );
}

/// Moves the shared clock to when the operators' view says background work may probe again.
pub(crate) async fn to_the_next_probe(app: &TestApp) {
    let view = admin(app).await;
    let due = view["sync"]["next_probe"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("no next probe in {view}"))
        .with_timezone(&Utc);
    // the view shows whole seconds
    let at = due + chrono::Duration::seconds(1);
    app.sim
        .advance_clock((at - app.sim.now()).to_std().unwrap());
}

fn a_year_of_history() -> SimConfig {
    SimConfig {
        history_years: 1,
        ..SimConfig::default()
    }
}

#[actix_web::test]
async fn an_inactive_app_answers_503_on_refresh_names_itself_and_keeps_serving_the_last_data() {
    // Arrange
    let app = spawn_app_with(a_year_of_history(), |_| {}).await;
    app.connect_and_sync().await;
    let year = app.sim.now().year();
    let mut before = Vec::new();
    for route in read_routes(year) {
        let r = app.get(&route).await;
        assert_eq!(r.status().as_u16(), 200, "{route}");
        before.push((route, r.text().await.unwrap()));
    }
    app.sim.set_app_inactive(true);
    app.sim.reset_counts();

    // Act
    let r = app.refresh(Some(API_KEY)).await;

    // Assert
    assert_eq!(r.status().as_u16(), 503);
    let body = json(r).await;
    assert_eq!(body["code"], json!("strava_app_inactive"), "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("The Strava application is inactive: "),
        "{detail}"
    );
    assert!(
        detail.contains("subscribe") && detail.contains("reactivate"),
        "says what the owner must do: {detail}"
    );
    assert!(!detail.contains("Error ID"), "a known state: {detail}");
    assert_eq!(api_requests(&app.sim), 1, "{:?}", app.sim.request_counts());

    let health = json(app.get("/strava/health").await).await;
    assert_eq!(health["status"], json!("ok"));
    assert_eq!(health["database"], json!("connected"));
    assert_eq!(health["strava"], json!("app_inactive"));
    assert!(health["last_sync"].is_string(), "{health}");

    let view = admin(&app).await;
    assert_eq!(view["sync"]["strava"], json!("app_inactive"), "{view}");
    assert!(view["sync"]["app_inactive_since"].is_string(), "{view}");
    assert!(view["sync"]["next_probe"].is_string(), "{view}");
    assert!(view["sync"]["last_success"].is_string(), "{view}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("milepost_strava_app_inactive 1"),
        "{metrics}"
    );

    for (route, body) in &before {
        let r = app.get(route).await;
        assert_eq!(r.status().as_u16(), 200, "{route}");
        assert_eq!(&r.text().await.unwrap(), body, "{route} changed");
    }

    // each refresh-data tries Strava once more
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 503);
    assert_eq!(api_requests(&app.sim), 2, "{:?}", app.sim.request_counts());
}

#[actix_web::test]
async fn a_successful_answer_ends_it() {
    let app = spawn_app_with(a_year_of_history(), |_| {}).await;
    app.connect_and_sync().await;
    app.sim.set_app_inactive(true);
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 503);
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("app_inactive")
    );

    // the owner reactivates the app at Strava
    app.sim.set_app_inactive(false);
    let r = app.refresh(Some(API_KEY)).await;

    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("connected")
    );
    let view = admin(&app).await;
    assert_eq!(view["sync"]["strava"], json!("connected"), "{view}");
    assert_eq!(view["sync"]["app_inactive_since"], Value::Null, "{view}");
    assert_eq!(view["sync"]["next_probe"], Value::Null, "{view}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("milepost_strava_app_inactive 0"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn background_syncs_send_at_most_one_probe_an_hour_and_resume_once_it_succeeds() {
    // Arrange: a refresh timer that ticks every second
    let app = spawn_app_with(a_year_of_history(), |s| s.refresh_interval_secs = 1).await;
    app.connect_and_sync().await;
    app.sim.set_app_inactive(true);
    // the next tick (or refresh-data, whichever comes first) finds it out
    let _ = app.refresh(Some(API_KEY)).await;
    assert!(
        eventually(async || {
            json(app.get("/strava/health").await).await["strava"] == json!("app_inactive")
        })
        .await
    );
    wait_for_ticks(&app, 1).await;
    app.sim.reset_counts();

    // Act / Assert: ticks within the hour ask Strava nothing, not even a token
    wait_for_ticks(&app, 3).await;
    assert_eq!(
        app.sim.request_counts().values().sum::<u64>(),
        0,
        "{:?}",
        app.sim.request_counts()
    );

    // an hour on: one probe, however many ticks
    to_the_next_probe(&app).await;
    assert!(eventually(async || api_requests(&app.sim) == 1).await);
    wait_for_ticks(&app, 3).await;
    assert_eq!(api_requests(&app.sim), 1, "{:?}", app.sim.request_counts());
    let view = admin(&app).await;
    assert_eq!(view["sync"]["strava"], json!("app_inactive"), "{view}");

    // reactivated: the next hour's probe succeeds and syncs resume
    app.sim.set_app_inactive(false);
    app.sim.advance_clock(Duration::from_secs(3600));
    assert!(
        eventually(async || {
            json(app.get("/strava/health").await).await["strava"] == json!("connected")
        })
        .await,
        "the probe never found the app active again"
    );
    let resumed = api_requests(&app.sim);
    assert!(
        eventually(async || api_requests(&app.sim) > resumed).await,
        "syncs did not resume"
    );
}

#[actix_web::test]
async fn disconnect_revokes_with_the_app_s_credentials_even_while_the_app_is_inactive() {
    let app = spawn_app_with(a_year_of_history(), |_| {}).await;
    app.connect_and_sync().await;
    app.sim.set_app_inactive(true);
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 503);
    app.sim.reset_counts();

    assert_eq!(disconnect(&app).await, 200);

    assert_eq!(app.sim.request_count("POST /oauth/revoke"), 1);
    assert_eq!(
        app.sim.revoke_count(),
        1,
        "revoked with the right credentials"
    );
    assert_eq!(app.sim.request_count("POST /oauth/deauthorize"), 0);
    assert_eq!(api_requests(&app.sim), 0);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .contains("milepost_strava_requests_total{endpoint=\"oauth/revoke\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 404);
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("not_connected")
    );
}

#[actix_web::test]
async fn where_strava_has_no_revoke_a_disconnect_deauthorizes() {
    let app = spawn_app_with(a_year_of_history(), |_| {}).await;
    app.connect_and_sync().await;
    app.sim.set_revoke_missing(true);
    app.sim.reset_counts();

    assert_eq!(disconnect(&app).await, 200);

    assert_eq!(app.sim.request_count("POST /oauth/revoke"), 1);
    assert_eq!(app.sim.revoke_count(), 0);
    assert_eq!(app.sim.request_count("POST /oauth/deauthorize"), 1);
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 404);
    let tokens = app.rows("tokens").await;
    assert_eq!(tokens, 0);
}

#[actix_web::test]
async fn a_refused_second_athlete_s_tokens_are_revoked_or_deauthorized_where_revoke_is_missing() {
    let app = spawn_app_with(SimConfig::default(), |s| s.owner_athlete_id = Some(1)).await;
    assert_eq!(app.connect().await.status().as_u16(), 403);
    assert_eq!(app.sim.revoke_count(), 1);
    assert_eq!(app.sim.request_count("POST /oauth/deauthorize"), 0);

    app.sim.set_revoke_missing(true);
    assert_eq!(app.connect().await.status().as_u16(), 403);
    assert_eq!(app.sim.request_count("POST /oauth/revoke"), 2);
    assert_eq!(app.sim.request_count("POST /oauth/deauthorize"), 1);
}

#[actix_web::test]
async fn webhook_confirmations_wait_for_a_probe_and_are_not_lost() {
    // Arrange: a subscribed app whose Strava app then goes inactive
    let app = crate::helpers::spawn_subscribed_app(a_year_of_history(), |_| {}).await;
    app.sim.set_app_inactive(true);
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 503);
    let newest = json(app.get("/strava/activities?limit=1").await).await["data"][0]["id"]
        .as_i64()
        .unwrap();
    app.sim
        .update_activity(newest, |a| a.name = "Renamed at Strava".into());
    app.sim.reset_counts();

    // Act
    let event = app
        .sim
        .activity_event("update", newest, json!({"title": "Renamed at Strava"}));
    assert_eq!(app.sim.deliver_event(event).await.unwrap(), 200);

    // Assert: put off without a call to Strava, kept for the next probe
    assert!(eventually(async || webhook_events(&app, "deferred").await >= 1).await);
    assert_eq!(
        app.sim.request_counts().values().sum::<u64>(),
        0,
        "{:?}",
        app.sim.request_counts()
    );
    // the owner reactivates the app; the next hour's probe is the confirmation
    app.sim.set_app_inactive(false);
    to_the_next_probe(&app).await;
    assert!(
        eventually(async || webhook_events(&app, "changed").await >= 1).await,
        "the event was never confirmed"
    );
    assert_eq!(app.sim.request_count("GET /activities/{id}"), 1);
    let served = json(app.get("/strava/activities?limit=1").await).await;
    assert_eq!(served["data"][0]["name"], json!("Renamed at Strava"));
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("connected")
    );
}

#[actix_web::test]
async fn the_api_document_names_refresh_data_s_inactive_app_503() {
    let app = spawn_app_with(SimConfig::default(), |_| {}).await;
    let doc = json(app.get("/strava/openapi.json").await).await;
    let refresh = doc["paths"]["/strava/refresh-data"]["post"]["responses"]["503"].to_string();
    assert!(refresh.contains("strava_app_inactive"), "{refresh}");
    let disconnect = doc["paths"]["/strava/disconnect"]["post"]["responses"]["503"].to_string();
    assert!(!disconnect.contains("strava_app_inactive"), "{disconnect}");
}

#[actix_web::test]
async fn a_connection_that_needs_reauthorization_says_so_before_an_inactive_app() {
    let app = spawn_app_with(a_year_of_history(), |_| {}).await;
    app.connect_and_sync().await;
    app.sim.set_app_inactive(true);
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 503);

    // the refresh token dies too; once the access token expires, a refresh finds that out
    app.sim.invalidate_refresh_tokens();
    app.sim.advance_clock(Duration::from_secs(7 * 3600));
    let r = app.refresh(Some(API_KEY)).await;

    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(json(r).await["code"], json!("reauthorization_required"));
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("reauthorization_required")
    );
    let view = admin(&app).await;
    assert_eq!(view["sync"]["strava"], json!("reauthorization_required"));
    assert!(view["sync"]["app_inactive_since"].is_string(), "{view}");
}
