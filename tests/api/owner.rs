//! Who may connect, and what a disconnect leaves behind.

use milepost::simulator::SimConfig;
use serde_json::json;

use crate::helpers::{API_KEY, json, spawn_app, spawn_app_with, strava_of_athlete};

const NOT_OWNER: &str = "This integration belongs to another account.";

#[actix_web::test]
async fn another_athlete_cannot_take_over_and_nothing_of_theirs_is_stored() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let intruder = strava_of_athlete(424242).await;
    let app = app.switch_strava(intruder).await;
    let r = app.connect().await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(json(r).await["detail"], json!(NOT_OWNER));
    let stored: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM tokens WHERE athlete_id = 424242", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);
    assert_eq!(app.rows("tokens").await, 1, "the owner's tokens stay");
}

#[actix_web::test]
async fn a_pinned_owner_refuses_everyone_else() {
    let app = spawn_app_with(SimConfig::default(), |s| s.owner_athlete_id = Some(1)).await;
    let r = app.connect().await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(json(r).await["detail"], json!(NOT_OWNER));
    for table in ["tokens", "owner", "activities"] {
        assert_eq!(app.rows(table).await, 0, "{table}");
    }
    // and the tokens Strava just issued are handed back: revoked with the app's credentials
    assert_eq!(app.sim.request_count("POST /oauth/revoke"), 1);
    assert_eq!(app.sim.revoke_count(), 1);
    assert_eq!(app.sim.request_count("POST /oauth/deauthorize"), 0);
}

#[actix_web::test]
async fn disconnect_needs_the_api_key() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/strava/disconnect"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(
        json(r).await["detail"],
        json!({"message": "Invalid or missing API key", "category": "security"})
    );
}

#[actix_web::test]
async fn disconnect_revokes_deletes_everything_and_lets_anyone_connect_again() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let r = app.disconnect().await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.sim.revoke_count(), 1);
    assert_eq!(app.sim.request_count("POST /oauth/deauthorize"), 0);
    for table in [
        "tokens",
        "owner",
        "activities",
        "athlete_stats",
        "sync_state",
        "response_bodies",
    ] {
        assert_eq!(app.rows(table).await, 0, "{table}");
    }
    let r = app.get("/strava/stats/ytd").await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        json(r).await["detail"],
        json!("YTD stats not cached yet. Try /strava/refresh-data")
    );
    let list = json(app.get("/strava/activities").await).await;
    assert_eq!(list["total"], json!(0));
    assert_eq!(
        json(app.get("/strava/health").await).await["strava"],
        json!("not_connected")
    );
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 409);

    // anyone may connect again
    let intruder = strava_of_athlete(777).await;
    let app = app.switch_strava(intruder).await;
    app.connect_and_sync().await;
}

#[actix_web::test]
async fn disconnect_deletes_the_data_even_when_the_rate_budget_is_spent() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    app.sim
        .set_fault(Some(milepost::simulator::Fault::RateLimited));
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 503);
    let r = app.disconnect().await;
    assert_eq!(r.status().as_u16(), 200);
    for table in ["tokens", "activities", "athlete_stats"] {
        assert_eq!(app.rows(table).await, 0, "{table}");
    }
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 404);
}
