//! Followers keep up with a long first sync (SPEC §6: every replica is current within a second
//! of what the leader commits), not only with a small steady one.

use std::time::{Duration, Instant};

use milepost::simulator::SimConfig;

use crate::helpers::{json, spawn_app_with};

/// Bodies every replica must serve alike, the list's pages and a few by type among them.
const ROUTES: [&str; 9] = [
    "/strava/stats/ytd",
    "/strava/stats/monthly",
    "/strava/stats/monthly?type=Ride",
    "/strava/stats/activities",
    "/strava/stats/totals",
    "/strava/stats/yearly",
    "/strava/stats/calendar?type=Run",
    "/strava/activities?limit=200",
    "/strava/activities?limit=200&offset=800",
];

/// Each route's status, ETag and body.
async fn bodies(base: &str) -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    for route in ROUTES {
        let r = reqwest::get(format!("{base}{route}")).await.unwrap();
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        out.push((r.status().as_u16(), etag, r.text().await.unwrap()));
    }
    out
}

/// Whether `base` answers every route 304 to the ETag the leader gave (the same body, without
/// sending it: each poll is quick, so the time it measures is the follower's).
async fn serves(base: &str, leader: &[(u16, String, String)]) -> bool {
    let client = reqwest::Client::new();
    for (route, (_, etag, _)) in ROUTES.iter().zip(leader) {
        let r = client
            .get(format!("{base}{route}"))
            .header("If-None-Match", etag)
            .send()
            .await
            .unwrap();
        if r.status().as_u16() != 304 {
            return false;
        }
    }
    true
}

/// How long after `since` `base` served the leader's bodies (polled every 10 ms, for 5 s).
async fn caught_up(base: &str, leader: &[(u16, String, String)], since: Instant) -> Duration {
    while !serves(base, leader).await {
        assert!(
            since.elapsed() <= Duration::from_secs(5),
            "{base} still serves other bodies 5 s after the leader"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    since.elapsed()
}

#[actix_web::test]
async fn followers_serve_a_first_sync_of_a_thousand_activities_within_a_second() {
    let sim = SimConfig {
        history_years: 8,
        ..SimConfig::default()
    };
    let app = spawn_app_with(sim, |_| {}).await;
    // The followers run before the athlete connects: they follow the whole first sync.
    let (a, b) = (app.replica().await, app.replica().await);
    let r = app.connect().await;
    assert_eq!(r.status().as_u16(), 307);
    // The first sync publishes every body at once, at its end.
    app.wait_for("/strava/stats/ytd").await;
    let published = Instant::now();
    let leader = bodies(&app.address).await;
    assert!(leader.iter().all(|(status, ..)| *status == 200));
    let (lag_a, lag_b) = futures::join!(
        caught_up(&a.address, &leader, published),
        caught_up(&b.address, &leader, published)
    );
    app.wait_for_sync_to_end().await;
    assert_eq!(
        bodies(&app.address).await,
        leader,
        "the leader published once"
    );
    for follower in [&a.address, &b.address] {
        assert_eq!(bodies(follower).await, leader, "{follower}");
    }
    let listed = json(app.get("/strava/activities?limit=1").await).await["total"]
        .as_u64()
        .unwrap();
    assert!(listed >= 1_000, "{listed} public activities");
    eprintln!(
        "{listed} public activities: the followers served them {lag_a:?} and {lag_b:?} after \
         the leader"
    );
    let lag = lag_a.max(lag_b);
    assert!(
        lag <= Duration::from_secs(1),
        "the followers served the first sync {lag:?} after the leader"
    );
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn after_a_disconnect_followers_serve_nothing_as_the_leader_does() {
    let sim = SimConfig {
        history_years: 0,
        ..SimConfig::default()
    };
    let app = spawn_app_with(sim, |_| {}).await;
    let a = app.replica().await;
    app.connect_and_sync().await;
    let listed = async |base: &str| {
        let r = reqwest::get(format!("{base}/strava/activities"))
            .await
            .unwrap();
        json(r).await["total"].as_u64().unwrap()
    };
    assert!(crate::helpers::eventually(async || listed(&a.address).await > 0).await);
    let r = app
        .http
        .post(app.url("/strava/disconnect"))
        .header("X-API-Key", crate::helpers::API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let gone = async || {
        let ytd = reqwest::get(a.url("/strava/stats/ytd")).await.unwrap();
        ytd.status().as_u16() == 404 && listed(&a.address).await == 0
    };
    assert!(
        crate::helpers::eventually(gone).await,
        "the follower still serves the forgotten data"
    );
    assert_eq!(listed(&app.address).await, 0);
    a.stop().await;
}
