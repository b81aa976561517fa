//! Every piece of state has one owner: ingests to the CacheActor take turns, and the TokenActor's
//! rows stay gone once it has forgotten them, whatever was in flight.

use std::time::Duration;

use actix::MailboxError;
use actix_web::rt::task::JoinHandle;
use milepost::actors::cache::Ingest;
use milepost::actors::token::{AccessGrant, AccessToken, ForgetTokens, TokenError};
use milepost::simulator::{SimActivity, SimConfig};
use milepost::strava::models::Activity;

use crate::helpers::{TestApp, json, spawn_app_with};

/// The activity as Strava (the simulator) lists it.
fn listed(app: &TestApp, id: i64) -> Activity {
    let value = app
        .sim
        .activities()
        .into_iter()
        .find(|a| a["id"] == serde_json::json!(id))
        .expect("the simulator lists it");
    serde_json::from_value(value).expect("a Strava activity")
}

async fn recent_ids(app: &TestApp) -> Vec<i64> {
    let body = json(app.get("/strava/stats/activities").await).await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

#[actix_web::test]
async fn two_overlapping_ingests_end_with_bodies_holding_both_changes() {
    let app = spawn_app_with(
        SimConfig {
            history_years: 0,
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    app.connect_and_sync().await;
    let athlete = app.sim.config().athlete_id;
    for round in 0..10 {
        // What a sync's last page and a webhook event's confirmation bring at the same time.
        let start = app.sim.now() - chrono::Duration::minutes(30 - round);
        let from_sync = app
            .sim
            .add_activity(SimActivity::new("Run", start, 5_000.0, 1_500));
        let from_event = app.sim.add_activity(SimActivity::new(
            "Ride",
            start + chrono::Duration::seconds(1),
            20_000.0,
            3_000,
        ));
        let publish = Some(app.sim.now());
        let sync = app.services.cache.ask(Ingest {
            publish,
            ..Ingest::activities(athlete, vec![listed(&app, from_sync)])
        });
        let event = app.services.cache.ask(Ingest {
            publish,
            ..Ingest::activities(athlete, vec![listed(&app, from_event)])
        });
        let (sync, event) = futures::join!(sync, event);
        sync.unwrap().unwrap();
        event.unwrap().unwrap();
        let served = recent_ids(&app).await;
        assert!(
            served.contains(&from_sync) && served.contains(&from_event),
            "round {round}: {from_sync} and {from_event} in {served:?}"
        );
    }
}

/// A connected app whose Strava answers slowly, so a token refresh is in flight for a while.
async fn slow_strava() -> TestApp {
    let app = spawn_app_with(
        SimConfig {
            history_years: 0,
            latency: Duration::from_millis(400),
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    app.connect_and_sync().await;
    assert_eq!(app.rows("tokens").await, 1);
    app
}

/// A forced token refresh, sent and at Strava (which takes 400 ms to answer) when this returns.
async fn refresh_in_flight(
    app: &TestApp,
) -> JoinHandle<Result<Result<AccessGrant, TokenError>, MailboxError>> {
    let token = app.services.token.clone();
    let refresh = actix_web::rt::spawn(async move {
        token
            .ask(AccessToken {
                force_refresh: true,
                fence: None,
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    refresh
}

#[actix_web::test]
async fn forgetting_the_tokens_while_a_refresh_is_in_flight_leaves_no_token_row() {
    let app = slow_strava().await;
    let athlete_id = app.sim.config().athlete_id;
    let refreshes = app.sim.token_refresh_count();
    let refresh = refresh_in_flight(&app).await;
    app.services
        .token
        .ask(ForgetTokens {
            athlete_id,
            keep_owner: false,
            fence: None,
        })
        .await
        .unwrap()
        .unwrap();
    let refreshed = refresh.await.unwrap().unwrap();
    assert!(
        refreshed.is_ok(),
        "the refresh went first and succeeded: {refreshed:?}"
    );
    assert_eq!(app.sim.token_refresh_count(), refreshes + 1);
    assert_eq!(app.rows("tokens").await, 0);
    // Told by the TokenActor alone (a disconnect also tells the health check), health answers
    // from a check at most a second old.
    let mut health = json(app.get("/strava/health").await).await;
    for _ in 0..100 {
        if health["strava"] == "not_connected" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        health = json(app.get("/strava/health").await).await;
    }
    assert_eq!(health["strava"], "not_connected");
    let r = app.refresh(Some(crate::helpers::API_KEY)).await;
    assert_eq!(r.status().as_u16(), 409, "nobody is connected any more");
}

#[actix_web::test]
async fn a_row_deleted_while_a_refresh_holds_it_goes_after_the_refresh_and_stays_gone() {
    let app = slow_strava().await;
    let refreshes = app.sim.token_refresh_count();
    let refresh = refresh_in_flight(&app).await;
    // the row goes behind the TokenActor's back (another replica's disconnect, an operator):
    // the refresh holds the row, so the delete waits for it instead of being overwritten
    app.db()
        .await
        .execute("DELETE FROM tokens", &[])
        .await
        .unwrap();
    let refreshed = refresh.await.unwrap().unwrap();
    // had the delete gone first, the refresh would have found no row to write
    assert!(refreshed.is_ok(), "the refresh held the row: {refreshed:?}");
    assert_eq!(app.sim.token_refresh_count(), refreshes + 1);
    assert_eq!(app.rows("tokens").await, 0);
    // the next refresh finds the row gone and brings nothing back
    let again = app
        .services
        .token
        .ask(AccessToken {
            force_refresh: true,
            fence: None,
        })
        .await
        .unwrap();
    assert!(
        matches!(again, Err(TokenError::NotConnected)),
        "no tokens to hand out: {again:?}"
    );
    assert_eq!(app.sim.token_refresh_count(), refreshes + 1);
    assert_eq!(app.rows("tokens").await, 0);
}
