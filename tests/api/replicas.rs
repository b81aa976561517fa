//! Several replicas on one Postgres (SPEC §6): one leader calls Strava, the others store what
//! they are asked in the durable queue and serve what the leader commits. Each replica's own
//! `/metrics` tells its Strava calls apart from the others'.

use std::time::{Duration, Instant};

use milepost::simulator::{Fault, RateLimits, SimActivity, SimConfig};
use milepost::startup::Services;
use milepost::store::coordination::LEADER_LOCK;
use serde_json::{Value, json};

use crate::helpers::{
    API_KEY, Replica, TestApp, eventually, json, spawn_app, spawn_app_with, spawn_binary,
    webhook_events, within,
};

/// Bodies every replica must serve alike.
const ROUTES: [&str; 5] = [
    "/strava/stats/ytd",
    "/strava/stats/monthly",
    "/strava/stats/activities",
    "/strava/stats/totals",
    "/strava/activities?limit=200",
];

async fn metrics(base: &str) -> String {
    let r = reqwest::get(format!("{base}/metrics")).await.unwrap();
    r.text().await.unwrap()
}

/// The Strava requests a replica made, as its own `/metrics` counts them.
async fn strava_calls(base: &str) -> u64 {
    metrics(base)
        .await
        .lines()
        .filter(|l| l.starts_with("milepost_strava_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

async fn bodies(base: &str) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for route in ROUTES {
        let r = reqwest::get(format!("{base}{route}")).await.unwrap();
        out.push((r.status().as_u16(), r.text().await.unwrap()));
    }
    out
}

/// A run that ended a moment ago.
fn a_run(app: &TestApp) -> SimActivity {
    let start = app.sim.now() - chrono::Duration::minutes(40);
    SimActivity::new("Run", start, 5_000.0, 1_500)
}

/// Whether `base` serves `text` at `path` within `within`.
async fn serves(base: &str, path: &str, text: &str, within_: Duration) -> bool {
    within(within_, async || {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        r.text().await.unwrap().contains(text)
    })
    .await
}

/// Posts a webhook event to `base`, as Strava would, and checks it was acknowledged.
async fn post_event(base: &str, event: &Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/strava/webhook"))
        .json(event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "the event was not acknowledged");
}

fn leads(services: &Services) -> bool {
    services.replica.role().is_leader()
}

/// A connected, synced app and two more replicas on its database; the app leads.
async fn three(app: TestApp) -> (TestApp, Replica, Replica) {
    app.connect_and_sync().await;
    let (a, b) = (app.replica().await, app.replica().await);
    assert!(
        eventually(async || leads(&app.services)).await,
        "the first replica leads"
    );
    assert!(!leads(&a.services) && !leads(&b.services));
    (app, a, b)
}

#[actix_web::test]
async fn three_replicas_serve_identical_bodies_within_a_second_of_a_sync() {
    let (app, a, b) = three(spawn_app().await).await;
    let added = app.sim.add_activity(a_run(&app));
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 200);
    let synced = Instant::now();
    let leader = bodies(&app.address).await;
    assert!(leader[4].1.contains(&added.to_string()), "the new activity");
    for replica in [&a, &b] {
        assert!(
            within(Duration::from_secs(1), async || bodies(&replica.address)
                .await
                == leader)
            .await,
            "a follower still serves other bodies {:?} after the sync",
            synced.elapsed()
        );
    }
    // the ETag too: a frontend revalidating with any replica gets its 304
    let etag = app.get("/strava/stats/ytd").await.headers()["etag"].clone();
    let r = reqwest::Client::new()
        .get(a.url("/strava/stats/ytd"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 304);
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn over_three_refresh_periods_only_the_leader_calls_strava() {
    let app = spawn_app_with(SimConfig::default(), |s| s.refresh_interval_secs = 2).await;
    let (app, a, b) = three(app).await;
    app.sim.reset_counts();
    let before = [
        strava_calls(&app.address).await,
        strava_calls(&a.address).await,
        strava_calls(&b.address).await,
    ];
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    let after = [
        strava_calls(&app.address).await,
        strava_calls(&a.address).await,
        strava_calls(&b.address).await,
    ];
    let sent: u64 = app.sim.request_counts().values().sum();
    assert_eq!(after[1], before[1], "a follower called Strava");
    assert_eq!(after[2], before[2], "a follower called Strava");
    // Strava counts a request when it comes, the leader when its answer does: one in flight
    // at either end of the window is counted by one side only.
    let leader = after[0] - before[0];
    assert!(
        leader.abs_diff(sent) <= 1,
        "Strava saw {sent} requests, the leader sent {leader}"
    );
    // one instance's steady refresh: athlete stats and one page of activities per period
    assert!(
        (4..=8).contains(&sent),
        "{sent} calls in three periods: {:?}",
        app.sim.request_counts()
    );
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn refresh_data_on_a_follower_is_one_sync_by_the_leader() {
    let (app, a, b) = three(spawn_app().await).await;
    const LIST: &str = "GET /athlete/activities";
    app.sim.reset_counts();
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
    let one_sync = app.sim.request_counts();
    assert!(one_sync.get(LIST).copied().unwrap_or(0) >= 1);

    app.sim.reset_counts();
    let added = app.sim.add_activity(a_run(&app));
    let follower_calls = strava_calls(&a.address).await;
    let r = a.refresh().await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        json(r).await,
        json!({"status": "success", "message": "Data refreshed successfully"})
    );
    assert_eq!(
        app.sim.request_counts(),
        one_sync,
        "one sync, as the leader's own"
    );
    assert_eq!(strava_calls(&a.address).await, follower_calls);
    // answered once the leader's sync is done: every replica serves it within a second
    for base in [&app.address, &a.address, &b.address] {
        let path = "/strava/activities?limit=5";
        assert!(serves(base, path, &added.to_string(), Duration::from_secs(1)).await);
    }
    assert_eq!(
        app.rows("work_requests").await,
        0,
        "the asker cleared its request"
    );
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn a_webhook_event_posted_to_a_follower_is_confirmed_once_and_served_by_all() {
    let app = spawn_app_with(SimConfig::default(), |s| {
        s.strava_webhook_verify_token = Some("verify".into())
    })
    .await;
    app.connect_and_sync().await;
    milepost::commands::webhook_subscribe(&app.settings, &app.url("/strava/webhook"))
        .await
        .expect("subscribing");
    let (a, b) = (app.replica().await, app.replica().await);
    let newest = json(app.get("/strava/activities?limit=1").await).await["data"][0]["id"]
        .as_i64()
        .unwrap();
    app.sim
        .update_activity(newest, |a| a.name = "Renamed on Strava".into());
    app.sim.reset_counts();
    let changed = webhook_events(&app, "changed").await;

    let event = app
        .sim
        .activity_event("update", newest, json!({"title": "Renamed on Strava"}));
    post_event(&b.address, &event).await;
    let acknowledged = Instant::now();
    for base in [&app.address, &a.address, &b.address] {
        let path = "/strava/activities?limit=1";
        assert!(
            serves(base, path, "Renamed on Strava", Duration::from_secs(2)).await,
            "{base} does not serve the change {:?} after the acknowledgement",
            acknowledged.elapsed()
        );
    }
    assert_eq!(app.sim.request_count("GET /activities/{id}"), 1);
    assert_eq!(webhook_events(&app, "changed").await, changed + 1);
    assert!(eventually(async || app.rows("pending_events").await == 0).await);
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn with_no_leader_refresh_data_answers_503_with_retry_after() {
    let app = spawn_app().await;
    assert!(eventually(async || leads(&app.services)).await);
    // The leader's session ends and a session that is no replica takes the lock before the
    // app tries again (a second after it lost it).
    let db = app.db().await;
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objsubid = 1
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND ((classid::bigint << 32) | objid::bigint) = $1",
        &[&LEADER_LOCK],
    )
    .await
    .unwrap();
    let taken = async || {
        db.query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
            .await
            .unwrap()
            .get::<_, bool>(0)
    };
    assert!(eventually(taken).await, "the lock was not free");
    assert!(eventually(async || !leads(&app.services)).await);
    let started = Instant::now();
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let body = json(r).await;
    assert_eq!(body["code"], json!("no_leader"), "{body}");
    assert!(started.elapsed() >= Duration::from_secs(9));
    assert_eq!(
        app.rows("work_requests").await,
        0,
        "the request was withdrawn"
    );
    // the rest goes on without a leader
    assert_eq!(app.get("/strava/health").await.status().as_u16(), 200);
}

#[actix_web::test]
async fn with_the_budget_near_its_limit_the_replicas_together_send_no_429() {
    let app = spawn_app_with(
        SimConfig {
            history_years: 0,
            limits: RateLimits {
                read_15min: 12,
                overall_15min: 24,
                ..RateLimits::default()
            },
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    let (app, a, b) = three(app).await;
    let mut answers = Vec::new();
    for _ in 0..6 {
        let (x, y, z) = futures::join!(app.refresh(Some(API_KEY)), a.refresh(), b.refresh());
        answers.extend([
            x.status().as_u16(),
            y.status().as_u16(),
            z.status().as_u16(),
        ]);
    }
    assert!(
        answers.iter().all(|s| [200, 503].contains(s)),
        "{answers:?}"
    );
    assert!(answers.contains(&503), "the budget ran out: {answers:?}");
    for base in [&app.address, &a.address, &b.address] {
        let text = metrics(base).await;
        assert!(!text.contains("status=\"429\""), "{base} saw a 429");
    }
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn with_rotation_concurrent_syncs_on_two_replicas_never_spend_a_rotated_token() {
    let app = spawn_app_with(
        SimConfig {
            rotate_refresh_tokens: true,
            access_token_ttl_secs: 1_800,
            history_years: 0,
            ..SimConfig::default()
        },
        |_| {},
    )
    .await;
    app.connect_and_sync().await;
    let replica = app.replica().await;
    let refreshed = app.sim.token_refresh_count();
    for round in 0..5 {
        // every access token expired: each sync needs a refresh
        app.sim.advance_clock(Duration::from_secs(3_600));
        let (x, y) = futures::join!(app.refresh(Some(API_KEY)), replica.refresh());
        assert_eq!(
            (x.status().as_u16(), y.status().as_u16()),
            (200, 200),
            "round {round}"
        );
    }
    assert!(app.sim.token_refresh_count() >= refreshed + 5);
    for base in [&app.address, &replica.address] {
        let health: Value =
            json(reqwest::get(format!("{base}/strava/health")).await.unwrap()).await;
        assert_eq!(health["strava"], json!("connected"));
    }
    replica.stop().await;
}

/// The binary leads; two replicas in this process follow.
async fn binary_led() -> (crate::helpers::BinaryApp, Replica, Replica) {
    let binary = spawn_binary(
        |s| s.strava_webhook_subscription_id = Some(SUBSCRIPTION),
        &[("STRAVA_WEBHOOK_SUBSCRIPTION_ID", &SUBSCRIPTION.to_string())],
    )
    .await;
    binary.connect_and_sync().await;
    let (a, b) = (binary.replica().await, binary.replica().await);
    assert!(
        !leads(&a.services) && !leads(&b.services),
        "the binary leads"
    );
    (binary, a, b)
}

const SUBSCRIPTION: i64 = 4_242;

#[actix_web::test]
async fn a_killed_leader_is_replaced_within_10_s_and_the_survivors_reads_never_fail() {
    let (mut binary, a, b) = binary_led().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = [a.address.clone(), b.address.clone()]
        .into_iter()
        .map(|base| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match reqwest::get(format!("{base}/strava/stats/ytd")).await {
                        Ok(r) if r.status().is_success() => ok += 1,
                        Ok(r) => failed.push(r.status().to_string()),
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    binary.kill();
    let killed = Instant::now();
    assert!(
        within(Duration::from_secs(10), async || leads(&a.services)
            || leads(&b.services))
        .await,
        "no survivor took over within 10 s"
    );
    let took = killed.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        let (ok, failed) = reader.await.unwrap();
        assert!(failed.is_empty(), "reads failed: {failed:?}");
        assert!(ok > 10);
    }
    assert!(!(leads(&a.services) && leads(&b.services)));
    // the new leader does the leader's work
    let new = if leads(&a.services) { &a } else { &b };
    let view: Value = json(
        reqwest::Client::new()
            .get(new.url("/strava/admin/actors"))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["replica"]["leader"], json!(true), "{view}");
    assert_eq!(view["leader"]["replica"], view["replica"]["id"]);
    let other = if leads(&a.services) { &b } else { &a };
    assert_eq!(other.refresh().await.status().as_u16(), 200);
    eprintln!("taken over {took:?} after the kill");
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn an_event_acknowledged_by_a_replica_killed_right_after_is_still_applied() {
    let (mut binary, a, b) = binary_led().await;
    let newest = json(a.get("/strava/activities?limit=1").await).await["data"][0]["id"]
        .as_i64()
        .unwrap();
    binary
        .sim
        .update_activity(newest, |a| a.name = "Renamed before the crash".into());
    // Strava answers slowly: the leader cannot confirm before it dies
    binary
        .sim
        .set_fault(Some(Fault::Latency(Duration::from_secs(3))));
    let event = json!({
        "object_type": "activity",
        "object_id": newest,
        "aspect_type": "update",
        "updates": {"title": "Renamed before the crash"},
        "owner_id": binary.sim.config().athlete_id,
        "subscription_id": SUBSCRIPTION,
        "event_time": 1_700_000_000,
    });
    post_event(&binary.address, &event).await;
    binary.kill();
    binary.sim.set_fault(None);
    for replica in [&a, &b] {
        let (path, name) = ("/strava/activities?limit=1", "Renamed before the crash");
        assert!(
            serves(&replica.address, path, name, Duration::from_secs(15)).await,
            "the acknowledged event was lost"
        );
    }
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn a_leader_stopped_by_sigterm_exits_0_and_hands_over_at_once() {
    let (mut binary, a, b) = binary_led().await;
    binary.terminate();
    let status = binary
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the binary exits after SIGTERM");
    assert!(status.success(), "{status}");
    let exited = Instant::now();
    // released with the connection: the next try takes it (a killed one waits for Postgres
    // to notice the session gone)
    assert!(
        within(Duration::from_millis(1_500), async || leads(&a.services)
            || leads(&b.services))
        .await,
        "no follower took over within 1.5 s of the exit"
    );
    eprintln!("taken over {:?} after the exit", exited.elapsed());
    a.stop().await;
    b.stop().await;
}
