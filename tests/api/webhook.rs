//! Webhook events are hints: each is confirmed with Strava before anything changes.

use std::time::Duration;

use milepost::simulator::{RateLimits, SimActivity, SimConfig};
use serde_json::json;

use crate::helpers::{
    API_KEY, TestApp, json, spawn_app_with, spawn_subscribed_app, strava_of_athlete, webhook_events,
};

const VERIFY: &str = crate::helpers::VERIFY_TOKEN;

/// A connected, synced app whose push subscription exists at the simulator and in Postgres.
async fn subscribed_app() -> TestApp {
    subscribed_app_with(Default::default()).await
}

/// [`subscribed_app`] with a Strava stand-in configured as `sim`.
async fn subscribed_app_with(sim: SimConfig) -> TestApp {
    spawn_subscribed_app(sim, |_| {}).await
}

async fn served_ids(app: &TestApp) -> Vec<i64> {
    let body = json(app.get("/strava/activities?limit=200").await).await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

/// Waits until `n` more events than `before` have come to `outcome`.
async fn wait_for_events(app: &TestApp, outcome: &str, before: u64, n: u64) {
    assert!(
        eventually(async || webhook_events(app, outcome).await >= before + n).await,
        "{n} more events never came to {outcome:?}"
    );
}

/// Polls until `done` holds (events are handled after the POST is answered).
async fn eventually(mut done: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..40 {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[actix_web::test]
async fn strava_s_subscription_check_is_answered_only_with_our_token() {
    let app = spawn_app_with(Default::default(), |s| {
        s.strava_webhook_verify_token = Some(VERIFY.into())
    })
    .await;
    let ok = app
        .get(&format!("/strava/webhook?hub.mode=subscribe&hub.challenge=15f7d1a91c1f40f8a748fd134752feb3&hub.verify_token={VERIFY}"))
        .await;
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(
        json(ok).await,
        json!({"hub.challenge": "15f7d1a91c1f40f8a748fd134752feb3"})
    );
    let wrong = app
        .get("/strava/webhook?hub.mode=subscribe&hub.challenge=x&hub.verify_token=nope")
        .await;
    assert_eq!(wrong.status().as_u16(), 403);
}

#[actix_web::test]
async fn a_deleted_activity_disappears_from_every_endpoint_within_a_second() {
    let app = subscribed_app().await;
    let newest = served_ids(&app).await[0];
    assert!(app.sim.delete_activity(newest));
    let started = std::time::Instant::now();
    let status = app
        .sim
        .deliver_event(app.sim.activity_event("delete", newest, json!({})))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(eventually(async || !served_ids(&app).await.contains(&newest)).await);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let recent = app
        .get("/strava/stats/activities")
        .await
        .text()
        .await
        .unwrap();
    assert!(!recent.contains(&newest.to_string()));
}

#[actix_web::test]
async fn a_created_activity_appears_and_a_forged_delete_changes_nothing() {
    let app = subscribed_app().await;
    let id = app.sim.add_activity(
        SimActivity::new(
            "Run",
            app.sim.now() - chrono::Duration::minutes(20),
            8_000.0,
            2_400,
        )
        .with_name("Lunch run"),
    );
    let before_create = webhook_events(&app, "changed").await;
    app.sim
        .deliver_event(app.sim.activity_event("create", id, json!({})))
        .await
        .unwrap();
    assert!(eventually(async || served_ids(&app).await.first() == Some(&id)).await);
    // The create is counted once its handling ends, a moment after the activity is served:
    // counted before the delete, it cannot pass for the delete's.
    wait_for_events(&app, "changed", before_create, 1).await;

    // Strava still has it: a delete event for it is not believed.
    app.sim.reset_counts();
    let changed = webhook_events(&app, "changed").await;
    app.sim
        .deliver_event(app.sim.activity_event("delete", id, json!({})))
        .await
        .unwrap();
    // handled to the end: Strava's answer (the activity as it is) stored again
    wait_for_events(&app, "changed", changed, 1).await;
    assert_eq!(app.sim.request_count("GET /activities/{id}"), 1);
    assert_eq!(served_ids(&app).await.first(), Some(&id));
}

#[actix_web::test]
async fn events_for_another_subscription_or_athlete_cost_nothing() {
    let app = subscribed_app().await;
    let newest = served_ids(&app).await[0];
    app.sim.reset_counts();
    let ignored = webhook_events(&app, "ignored").await;
    let mut foreign = app.sim.activity_event("delete", newest, json!({}));
    foreign["subscription_id"] = json!(999_999);
    let r = app
        .http
        .post(app.url("/strava/webhook"))
        .json(&foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut stranger = app.sim.activity_event("delete", newest, json!({}));
    stranger["owner_id"] = json!(1);
    let r = app
        .http
        .post(app.url("/strava/webhook"))
        .json(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    wait_for_events(&app, "ignored", ignored, 2).await;
    assert_eq!(
        app.sim.request_counts().values().sum::<u64>(),
        0,
        "{:?}",
        app.sim.request_counts()
    );
    assert!(served_ids(&app).await.contains(&newest));
}

#[actix_web::test]
async fn a_deauthorization_confirmed_by_strava_leaves_nothing_and_a_forged_one_changes_nothing() {
    let app = subscribed_app().await;
    // forged: the token still works
    let unconfirmed = webhook_events(&app, "unconfirmed").await;
    app.sim
        .deliver_event(app.sim.deauthorization_event())
        .await
        .unwrap();
    wait_for_events(&app, "unconfirmed", unconfirmed, 1).await;
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 200);

    // real: the athlete revoked the app at Strava
    app.sim.revoke_access();
    app.sim
        .deliver_event(app.sim.deauthorization_event())
        .await
        .unwrap();
    assert!(eventually(async || app.get("/strava/stats/ytd").await.status().as_u16() == 404).await);
    let db = app.db().await;
    for table in ["tokens", "activities", "athlete_stats", "sync_state"] {
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "{table}");
    }
    // the owner lock stays: only the operator's disconnect releases it
    let owners: i64 = db
        .query_one("SELECT count(*) FROM owner", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(owners, 1);
    // a replay of the same event is harmless
    let r = app
        .http
        .post(app.url("/strava/webhook"))
        .json(&app.sim.deauthorization_event())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[actix_web::test]
async fn a_malformed_event_is_a_400_and_a_huge_one_a_413() {
    let app = spawn_app_with(Default::default(), |_| {}).await;
    let r = app
        .http
        .post(app.url("/strava/webhook"))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    assert_eq!(json(r).await["code"], json!("unsupported_media_type"));
    let r = app
        .http
        .post(app.url("/strava/webhook"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(json(r).await["code"], json!("malformed_event"));
    let r = app
        .http
        .post(app.url("/strava/webhook"))
        .body(vec![b' '; 100_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(json(r).await["code"], json!("payload_too_large"));
}

#[actix_web::test]
async fn webhook_list_and_delete_manage_the_subscription_at_strava_and_here() {
    let app = subscribed_app().await;
    let id = app.sim.subscription_id().expect("a subscription at Strava");
    let listed = milepost::commands::webhook_list(&app.settings)
        .await
        .unwrap();
    assert!(
        listed.starts_with(&format!("{id} {}", app.url("/strava/webhook"))),
        "{listed}"
    );
    assert!(
        !listed.contains(
            milepost::simulator::SimConfig::default()
                .client_secret
                .as_str()
        )
    );

    let out = milepost::commands::webhook_delete(&app.settings, id)
        .await
        .unwrap();
    assert_eq!(out, format!("deleted: {id}"));
    assert_eq!(app.sim.subscription_id(), None);
    let stored = app.rows("webhook_subscription").await;
    assert_eq!(stored, 0);
    // events for the deleted subscription are ignored now
    let newest = served_ids(&app).await[0];
    app.sim.reset_counts();
    let ignored = webhook_events(&app, "ignored").await;
    let mut event = json!({
        "object_type": "activity", "object_id": newest, "aspect_type": "delete",
        "updates": {}, "owner_id": app.sim.config().athlete_id,
        "subscription_id": id, "event_time": 0
    });
    event["subscription_id"] = json!(id);
    let r = app
        .http
        .post(app.url("/strava/webhook"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    wait_for_events(&app, "ignored", ignored, 1).await;
    assert_eq!(app.sim.request_counts().values().sum::<u64>(), 0);
}

/// Polls for up to `secs` seconds until `done` holds.
async fn within(secs: u64, mut done: impl AsyncFnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if done().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

const FETCH: &str = "GET /activities/{id}";

/// Moves the simulated clock to a second past the next quarter-hour boundary.
fn to_the_start_of_a_window(app: &TestApp) {
    let into = app.sim.now().timestamp().rem_euclid(15 * 60) as u64;
    app.sim
        .advance_clock(Duration::from_secs(15 * 60 - into + 1));
}

async fn metrics_text(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

/// Delivers `events` to the callback, many at a time, each answered 200.
async fn deliver_all(app: &TestApp, events: Vec<serde_json::Value>) {
    for chunk in events.chunks(50) {
        let sent = chunk.iter().map(|e| app.sim.deliver_event(e.clone()));
        for status in futures::future::join_all(sent).await {
            assert_eq!(status.unwrap(), 200);
        }
    }
}

#[actix_web::test]
async fn a_flood_of_events_uses_at_most_half_a_read_window_and_the_rest_waits() {
    let app = subscribed_app().await;
    let limits = RateLimits::default();
    assert_eq!(limits.read_15min, 100, "the test assumes Strava's defaults");
    // a whole window ahead: the simulated clock runs with the real one, and a boundary
    // passing mid-test would open a second window inside the first count
    to_the_start_of_a_window(&app);
    app.sim.reset_counts();
    let deferred = webhook_events(&app, "deferred").await;
    // forged but valid-looking: ids Strava does not have, each confirmation a 404
    let flood = (0..400)
        .map(|i| {
            app.sim
                .activity_event("create", 9_000_000_000 + i, json!({}))
        })
        .collect();
    deliver_all(&app, flood).await;
    assert!(
        within(10, async || webhook_events(&app, "deferred").await
            > deferred)
        .await,
        "the budget never deferred a confirmation: {} reads, {}",
        app.sim.request_count(FETCH),
        metrics_text(&app)
            .await
            .lines()
            .filter(|l| l.contains("webhook") || l.contains("strava_requests"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // nothing in flight is left to land in this window
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = app.sim.request_count(FETCH);
    assert!((1..=50).contains(&first), "{first} reads in one window");
    assert_eq!(webhook_events(&app, "dropped").await, 0);

    // the next window goes on with the rest, again within half of it
    let deferred = webhook_events(&app, "deferred").await;
    app.sim.advance_clock(Duration::from_secs(15 * 60));
    assert!(
        within(10, async || webhook_events(&app, "deferred").await
            > deferred)
        .await,
        "the rest never went on"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = app.sim.request_count(FETCH) - first;
    assert!(
        (1..=50).contains(&second),
        "{second} reads in the next window"
    );
    assert!(!metrics_text(&app).await.contains("status=\"429\""));
}

#[actix_web::test]
async fn any_number_of_events_for_one_activity_cost_one_fetch() {
    // a read window so small that the first sync leaves confirmations nothing of it: every
    // event arrives while the first is still pending
    let app = subscribed_app_with(SimConfig {
        limits: RateLimits {
            read_15min: 20,
            overall_15min: 40,
            ..RateLimits::default()
        },
        ..SimConfig::default()
    })
    .await;
    let newest = served_ids(&app).await[0];
    app.sim.reset_counts();
    let changed = webhook_events(&app, "changed").await;
    let coalesced = webhook_events(&app, "coalesced").await;
    let burst = (0..200)
        .map(|_| {
            app.sim
                .activity_event("update", newest, json!({"title": "x"}))
        })
        .collect();
    deliver_all(&app, burst).await;
    assert!(
        within(5, async || webhook_events(&app, "coalesced").await
            >= coalesced + 199)
        .await
    );
    assert_eq!(
        app.sim.request_count(FETCH),
        0,
        "deferred to the next window"
    );

    app.sim.advance_clock(Duration::from_secs(15 * 60));
    assert!(within(5, async || webhook_events(&app, "changed").await > changed).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim.request_count(FETCH), 1);
    assert_eq!(webhook_events(&app, "changed").await, changed + 1);
}

#[actix_web::test]
async fn a_forged_deauthorization_while_reauthorization_is_required_deletes_nothing() {
    let app = subscribed_app().await;
    // the refresh token dies; once the access token expires, a refresh finds that out
    app.sim.invalidate_refresh_tokens();
    app.sim.advance_clock(Duration::from_secs(7 * 3600));
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 409);
    let health = json(app.get("/strava/health").await).await;
    assert_eq!(health["strava"], json!("reauthorization_required"));

    let unconfirmed = webhook_events(&app, "unconfirmed").await;
    app.sim
        .deliver_event(app.sim.deauthorization_event())
        .await
        .unwrap();
    wait_for_events(&app, "unconfirmed", unconfirmed, 1).await;
    assert_eq!(webhook_events(&app, "deauthorized").await, 0);
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 200);
    let tokens = app.rows("tokens").await;
    assert_eq!(tokens, 1);
}

#[actix_web::test]
async fn after_a_deauthorization_only_the_same_athlete_can_connect_again() {
    let app = subscribed_app().await;
    let owner = app.sim.config().athlete_id;
    app.sim.revoke_access();
    app.sim
        .deliver_event(app.sim.deauthorization_event())
        .await
        .unwrap();
    assert!(within(5, async || webhook_events(&app, "deauthorized").await == 1).await);

    let app = app.switch_strava(strava_of_athlete(424_242).await).await;
    let r = app.connect().await;
    assert_eq!(r.status().as_u16(), 403);

    let app = app.switch_strava(strava_of_athlete(owner).await).await;
    app.connect_and_sync().await;
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 200);
}

#[actix_web::test]
async fn an_activity_strava_returns_for_another_athlete_is_not_stored() {
    let app = subscribed_app().await;
    let id = app.sim.add_activity(
        SimActivity::new(
            "Run",
            app.sim.now() - chrono::Duration::minutes(20),
            8_000.0,
            2_400,
        )
        .with_raw_json("athlete", json!({"id": 424_242, "resource_state": 1})),
    );
    app.sim.reset_counts();
    let ignored = webhook_events(&app, "ignored").await;
    app.sim
        .deliver_event(app.sim.activity_event("create", id, json!({})))
        .await
        .unwrap();
    wait_for_events(&app, "ignored", ignored, 1).await;
    assert_eq!(app.sim.request_count(FETCH), 1);
    assert!(!served_ids(&app).await.contains(&id));
    let stored: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM activities WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 0);
}

const LIST: &str = "GET /athlete/activities";

/// How many syncs have run (each is timed once).
async fn syncs(app: &TestApp) -> u64 {
    metrics_text(app)
        .await
        .lines()
        .find_map(|l| l.strip_prefix("milepost_sync_duration_seconds_count "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Whether the operators' view says a sync is running.
async fn sync_in_flight(app: &TestApp) -> bool {
    let view = json(
        app.http
            .get(app.url("/strava/admin/actors"))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    view["sync"]["in_flight"] == true
}

#[actix_web::test]
async fn past_a_thousand_pending_ids_new_ones_are_dropped_and_a_reconciliation_catches_them() {
    // a small history, so that one re-list fits in what confirmations leave of the window
    let app = subscribed_app_with(SimConfig {
        history_years: 1,
        ..SimConfig::default()
    })
    .await;
    let history = app.sim.activities().len();
    app.sim.reset_counts();
    let dropped = webhook_events(&app, "dropped").await;
    let synced = syncs(&app).await;

    // (waits are generous: 1,300 deliveries on a loaded machine take a while)
    // Act: more distinct ids than the pending set holds; confirmations stop at half the read
    // window, so they pile up
    let flood = (0..1_300)
        .map(|i| {
            app.sim
                .activity_event("create", 9_100_000_000 + i, json!({}))
        })
        .collect();
    deliver_all(&app, flood).await;

    // Assert: ids past the thousand dropped (1,300 less the pending thousand less the few
    // dozen confirmed meanwhile), and one full re-list in their place
    assert!(
        within(30, async || webhook_events(&app, "dropped").await
            >= dropped + 200)
        .await,
        "{} dropped",
        webhook_events(&app, "dropped").await - dropped
    );
    assert!(
        within(30, async || app.sim.request_count(LIST) > 0
            && !sync_in_flight(&app).await)
        .await,
        "no reconciliation ran: {:?}",
        app.sim.request_counts()
    );
    assert_eq!(syncs(&app).await, synced + 1, "one reconciliation");
    // all of it: every page of 200, then the empty page that ends a listing (a busy machine
    // may make the client retry a page that timed out)
    let listed = app.sim.request_count(LIST);
    assert!(listed > history.div_ceil(200) as u64, "{listed} pages");
    assert!(
        app.sim.request_count(FETCH) <= 50,
        "{}",
        app.sim.request_count(FETCH)
    );

    // while the set is still full (confirmations left at most 50 places of it), drops after
    // that re-list are caught by one more
    let before = webhook_events(&app, "dropped").await;
    let more = (0..100)
        .map(|i| {
            app.sim
                .activity_event("update", 9_200_000_000 + i, json!({}))
        })
        .collect();
    deliver_all(&app, more).await;
    assert!(
        within(30, async || webhook_events(&app, "dropped").await
            >= before + 50)
        .await
    );
    assert!(
        within(30, async || syncs(&app).await >= synced + 2
            && !sync_in_flight(&app).await)
        .await,
        "the later drops were never reconciled: {:?}",
        app.sim.request_counts()
    );
    assert!(app.sim.request_count(LIST) > listed);
}
