//! Fencing (SPEC §6): a leader whose epoch is no longer the leader's (another replica took the
//! lead and it has not noticed yet) sends Strava nothing new, writes nothing, and steps down
//! at its first look at the epoch.

use std::time::Duration;

use milepost::simulator::SimConfig;

use crate::helpers::{API_KEY, TestApp, eventually, spawn_app_with};

async fn synced_leader() -> TestApp {
    let app = spawn_app_with(
        SimConfig {
            history_years: 1,
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    app.connect_and_sync().await;
    app
}

/// Another replica's take-over, as Postgres has it, that this one has not noticed: the epoch
/// it leads under is no longer the leader's. Returns the epoch it led under.
async fn take_the_lead_elsewhere(app: &TestApp) -> i64 {
    let led = app.services.replica.fence().expect("the app leads").epoch();
    app.db()
        .await
        .batch_execute("UPDATE leader SET epoch = epoch + 1, replica = 'elsewhere'")
        .await
        .unwrap();
    led
}

/// Requests Strava answered, every endpoint (the token endpoint too).
fn strava_requests(app: &TestApp) -> u64 {
    app.sim.request_counts().values().sum::<u64>() + app.sim.token_refresh_count()
}

/// The app, alone on its database, stepped down and took the lead again under a new epoch.
async fn leads_again_after(app: &TestApp, led: i64) -> bool {
    eventually(async || {
        app.services
            .replica
            .fence()
            .is_some_and(|f| f.epoch() > led + 1)
    })
    .await
}

#[actix_web::test]
async fn a_stale_leaders_sync_sends_strava_nothing_and_it_steps_down() {
    let app = synced_leader().await;
    let synced = app.rows("sync_state").await;
    app.sim.reset_counts();
    let before = strava_requests(&app);
    let led = take_the_lead_elsewhere(&app).await;

    let r = app.refresh(Some(API_KEY)).await;

    assert_ne!(r.status().as_u16(), 200, "a stale leader's sync ran");
    assert_eq!(
        strava_requests(&app),
        before,
        "{:?}",
        app.sim.request_counts()
    );
    assert_eq!(app.rows("sync_state").await, synced);
    assert!(leads_again_after(&app, led).await, "it never stepped down");
    // Under its new epoch it syncs again.
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 200);
}

#[actix_web::test]
async fn a_stale_leader_spends_no_refresh_token() {
    let app = synced_leader().await;
    // The access token now needs a refresh before the next request.
    app.sim.advance_clock(Duration::from_secs(6 * 3_600));
    app.sim.reset_counts();
    let refreshes = app.sim.token_refresh_count();
    let led = take_the_lead_elsewhere(&app).await;

    let r = app.refresh(Some(API_KEY)).await;

    assert_ne!(r.status().as_u16(), 200);
    assert_eq!(app.sim.token_refresh_count(), refreshes);
    assert!(app.sim.request_counts().values().all(|n| *n == 0));
    assert!(leads_again_after(&app, led).await, "it never stepped down");
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(app.sim.token_refresh_count(), refreshes + 1);
}
