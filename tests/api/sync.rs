//! What a sync asks Strava, counted by the simulator.

use chrono::Duration;
use milepost::simulator::{SimActivity, SimConfig};
use serde_json::json;

use crate::helpers::{API_KEY, json, spawn_app, spawn_app_with};

const LIST: &str = "GET /athlete/activities";
const STATS: &str = "GET /athletes/{id}/stats";

/// A Strava that allows 8 reads (16 requests) a quarter hour.
const EIGHT_READS_A_QUARTER_HOUR: milepost::simulator::RateLimits =
    milepost::simulator::RateLimits {
        overall_15min: 16,
        overall_daily: 2_000,
        read_15min: 8,
        read_daily: 1_000,
    };

fn read_calls(app: &crate::helpers::TestApp) -> u64 {
    app.sim
        .request_counts()
        .iter()
        .filter(|(k, _)| k.starts_with("GET "))
        .map(|(_, v)| v)
        .sum()
}

#[actix_web::test]
async fn a_refresh_with_nothing_new_costs_two_read_calls() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    app.sim.reset_counts();
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
    assert_eq!(app.sim.request_count(STATS), 1);
    assert_eq!(app.sim.request_count(LIST), 1);
    assert_eq!(read_calls(&app), 2, "{:?}", app.sim.request_counts());
}

#[actix_web::test]
async fn a_refresh_with_one_new_activity_still_costs_two_and_serves_it() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let id = app.sim.add_activity(
        SimActivity::new(
            "Run",
            app.sim.now() - Duration::minutes(30),
            10_000.0,
            3_000,
        )
        .with_name("Fresh tempo run"),
    );
    app.sim.reset_counts();
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
    assert_eq!(read_calls(&app), 2, "{:?}", app.sim.request_counts());
    let recent = json(app.get("/strava/stats/activities").await).await;
    assert_eq!(recent["data"][0]["id"], json!(id));
    assert_eq!(recent["data"][0]["name"], json!("Fresh tempo run"));
}

#[actix_web::test]
async fn the_first_sync_pages_until_an_empty_page() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let total = app.sim.activities().len() as u64;
    let pages = total.div_ceil(200);
    // every full page, then the empty one that ends the list
    assert_eq!(app.sim.request_count(LIST), pages + 1, "{total} activities");
}

/// A Strava whose pages run short before the end (7, then 5, then 7 …).
fn short_pages() -> SimConfig {
    SimConfig {
        history_years: 0,
        short_pages: vec![7, 5],
        ..SimConfig::default()
    }
}

fn public_ids(app: &crate::helpers::TestApp) -> Vec<i64> {
    app.sim
        .activities()
        .iter()
        .filter(|a| a["visibility"] == json!("everyone"))
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

async fn served_ids(app: &crate::helpers::TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for offset in (0..).step_by(200) {
        let page = json(
            app.get(&format!("/strava/activities?limit=200&offset={offset}"))
                .await,
        )
        .await;
        let data = page["data"].as_array().unwrap();
        if data.is_empty() {
            return ids;
        }
        ids.extend(data.iter().map(|a| a["id"].as_i64().unwrap()));
    }
    unreachable!()
}

#[actix_web::test]
async fn short_pages_before_the_end_lose_nothing() {
    let app = spawn_app_with(short_pages(), |_| {}).await;
    app.connect_and_sync().await;
    assert_eq!(served_ids(&app).await, public_ids(&app));

    // a quiet hour costs two calls, short pages or not
    app.sim.reset_counts();
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
    assert_eq!(read_calls(&app), 2, "{:?}", app.sim.request_counts());

    // a busy hour: a dozen new activities, more than one short page holds
    for minutes in 1..=12 {
        app.sim.add_activity(SimActivity::new(
            "Ride",
            app.sim.now() - Duration::minutes(5 * minutes),
            20_000.0,
            3_600,
        ));
    }
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
    assert_eq!(served_ids(&app).await, public_ids(&app));
}

#[actix_web::test]
async fn a_full_refresh_removes_what_strava_no_longer_has() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let gone = served_ids(&app).await[3];
    // deleted at Strava, and no event told us
    assert!(app.sim.delete_activity(gone));
    let r = app
        .http
        .post(app.url("/strava/refresh-data?full=true"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(!served_ids(&app).await.contains(&gone));
    assert_eq!(served_ids(&app).await, public_ids(&app));
}

#[actix_web::test]
async fn a_long_backfill_completes_across_rate_windows_without_a_single_429() {
    // 2,500 activities or more, and a Strava that allows 8 reads a quarter hour
    let sim = SimConfig {
        history_years: 10,
        limits: EIGHT_READS_A_QUARTER_HOUR,
        ..SimConfig::default()
    };
    let app = spawn_app_with(sim, |_| {}).await;
    let total = app.sim.activities().len() as u64;
    assert!(total >= 2_500, "{total}");
    assert_eq!(app.connect().await.status().as_u16(), 307);

    let mut windows = 0;
    loop {
        // the next quarter hour, in the simulator's time and so in the app's
        app.sim
            .advance_clock(std::time::Duration::from_secs(15 * 60));
        windows += 1;
        let r = app.refresh(Some(API_KEY)).await;
        match r.status().as_u16() {
            200 => break,
            503 => assert!(r.headers().contains_key("retry-after")),
            other => panic!("refresh answered {other}: {}", r.text().await.unwrap()),
        }
        assert!(windows < 40, "the backfill never completed");
    }
    assert!(windows > 1, "it took several windows");
    assert_eq!(served_ids(&app).await, public_ids(&app));
    let list_calls = app.sim.request_count(LIST);
    assert!(
        list_calls <= total.div_ceil(200) + 3,
        "{list_calls} list calls for {total}"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(!metrics.contains("status=\"429\""), "a request was refused");
}

#[actix_web::test]
async fn a_backfill_interrupted_by_a_restart_resumes_where_it_stopped() {
    let sim = SimConfig {
        limits: milepost::simulator::RateLimits {
            overall_15min: 24,
            overall_daily: 2_000,
            read_15min: 12,
            read_daily: 1_000,
        },
        ..SimConfig::default()
    };
    let app = spawn_app_with(sim, |_| {}).await;
    assert_eq!(app.connect().await.status().as_u16(), 307);
    // the first window's budget runs out part way
    let mut stopped = false;
    for _ in 0..200 {
        let page: i32 = app
            .db()
            .await
            .query_opt("SELECT backfill_next_page FROM sync_state", &[])
            .await
            .unwrap()
            .map_or(1, |r| r.get(0));
        if page > 3 && app.get("/strava/stats/ytd").await.status().as_u16() == 404 {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(stopped, "the backfill should have paused on the budget");
    let listed_before = app.sim.request_count(LIST);

    app.sim
        .advance_clock(std::time::Duration::from_secs(15 * 60));
    let app = app.restart().await;
    app.wait_for("/strava/stats/ytd").await;
    assert_eq!(served_ids(&app).await, public_ids(&app));
    let pages = (app.sim.activities().len() as u64).div_ceil(200) + 1;
    // Resumed, not restarted: at most the page in flight at the restart is asked for again.
    let listed = app.sim.request_count(LIST);
    assert!(
        (pages..=pages + 1).contains(&listed),
        "{listed} list calls for {pages} pages ({listed_before} before the restart)"
    );
}

#[actix_web::test]
async fn a_short_first_page_with_new_activities_is_not_taken_for_the_end() {
    // every first page is cut to 3 items, the next to 7
    let sim = SimConfig {
        history_years: 0,
        short_pages: vec![3, 7],
        ..SimConfig::default()
    };
    let app = spawn_app_with(sim, |_| {}).await;
    app.connect_and_sync().await;
    for minutes in 1..=6 {
        app.sim.add_activity(SimActivity::new(
            "Run",
            app.sim.now() - Duration::minutes(7 * minutes),
            5_000.0,
            1_500,
        ));
    }
    assert_eq!(app.refresh(Some(API_KEY)).await.status().as_u16(), 200);
    assert_eq!(served_ids(&app).await, public_ids(&app));
}

/// What Strava last said about the budget outlives a restart: the new process does not send a
/// request the window has no room for.
#[actix_web::test]
async fn a_restarted_app_starts_from_the_stored_budget_and_sends_no_request_strava_would_refuse() {
    let sim = SimConfig {
        history_years: 0,
        limits: EIGHT_READS_A_QUARTER_HOUR,
        ..SimConfig::default()
    };
    let app = spawn_app_with(sim, |_| {}).await;
    app.connect_and_sync().await;
    // the operator spends the rest of the quarter hour's reads
    let mut spent = false;
    for _ in 0..8 {
        let r = app.refresh(Some(API_KEY)).await;
        if r.status().as_u16() == 503 {
            assert_eq!(json(r).await["code"], json!("rate_limited"));
            spent = true;
            break;
        }
        assert_eq!(r.status().as_u16(), 200);
    }
    assert!(spent, "the quarter hour's reads never ran out");
    let app = app.restart().await;
    app.sim.reset_counts();

    let r = app.refresh(Some(API_KEY)).await;

    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(json(r).await["code"], json!("rate_limited"));
    assert_eq!(
        app.sim.request_counts().values().sum::<u64>(),
        0,
        "{:?}",
        app.sim.request_counts()
    );
}
