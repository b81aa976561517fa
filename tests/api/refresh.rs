use serde_json::json;

use crate::helpers::{API_KEY, json, spawn_app, spawn_app_with};

#[actix_web::test]
async fn refresh_without_or_with_a_wrong_key_gets_the_old_401() {
    let app = spawn_app().await;
    for key in [None, Some("wrong"), Some("")] {
        let r = app.refresh(key).await;
        assert_eq!(r.status().as_u16(), 401, "{key:?}");
        assert_eq!(
            json(r).await["detail"],
            json!({"message": "Invalid or missing API key", "category": "security"})
        );
    }
}

#[actix_web::test]
async fn refresh_with_no_athlete_connected_is_a_conflict() {
    let app = spawn_app().await;
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(json(r).await["code"], json!("not_connected"));
}

#[actix_web::test]
async fn refresh_answers_when_the_sync_is_done() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        json(r).await,
        json!({"status": "success", "message": "Data refreshed successfully"})
    );
}

#[actix_web::test]
async fn a_malformed_full_flag_is_a_422_naming_it() {
    let app = spawn_app().await;
    let r = app
        .http
        .post(app.url("/strava/refresh-data?full=maybe"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body = json(r).await;
    assert_eq!(body["detail"][0]["loc"], json!(["query", "full"]));
    assert_eq!(body["code"], json!("validation_error"));
}

#[actix_web::test]
async fn concurrent_refreshes_share_one_sync() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    app.sim.reset_counts();
    let calls = (0..100).map(|_| app.refresh(Some(API_KEY)));
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(|r| r.status().as_u16() == 200));
    // One sync asks for the athlete stats exactly once.
    assert_eq!(
        app.sim.request_count("GET /athletes/{id}/stats"),
        1,
        "{:?}",
        app.sim.request_counts()
    );
}

#[actix_web::test]
async fn strava_failing_gives_502_and_the_cache_keeps_serving() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let before = app.get("/strava/stats/monthly").await.text().await.unwrap();
    app.sim
        .set_fault(Some(milepost::simulator::Fault::ServerError));
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 502);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with("Failed to refresh Strava data (Error ID: "),
        "{detail}"
    );
    let after = app.get("/strava/stats/monthly").await;
    assert_eq!(after.status().as_u16(), 200);
    assert_eq!(after.text().await.unwrap(), before);
}

#[actix_web::test]
async fn the_hourly_timer_refreshes_without_being_asked() {
    let app = spawn_app_with(Default::default(), |s| s.refresh_interval_secs = 1).await;
    app.connect_and_sync().await;
    app.sim.reset_counts();
    let mut asked = false;
    for _ in 0..200 {
        asked = app.sim.request_count("GET /athletes/{id}/stats") >= 1;
        if asked {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(asked, "{:?}", app.sim.request_counts());
}

#[actix_web::test]
async fn after_a_429_no_request_is_sent_until_the_window_resets() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let before = app.get("/strava/stats/ytd").await.text().await.unwrap();
    app.sim
        .set_fault(Some(milepost::simulator::Fault::RateLimited));
    app.sim.reset_counts();
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 503);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    assert_eq!(json(r).await["code"], json!("rate_limited"));
    let sent = app.sim.request_counts().values().sum::<u64>();
    assert_eq!(sent, 1, "{:?}", app.sim.request_counts());

    // The budget knows the window is spent: nothing more goes out.
    let again = app.refresh(Some(API_KEY)).await;
    assert_eq!(again.status().as_u16(), 503);
    assert_eq!(app.sim.request_counts().values().sum::<u64>(), sent);
    assert_eq!(
        app.get("/strava/stats/ytd").await.text().await.unwrap(),
        before
    );
}

#[actix_web::test]
async fn a_timeout_storm_keeps_every_read_serving_the_last_good_data() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let paths = [
        "/strava/stats/ytd",
        "/strava/stats/activities",
        "/strava/stats/monthly",
        "/strava/stats/totals",
        "/strava/stats/yearly",
        "/strava/activities",
    ];
    let mut before = Vec::new();
    for path in paths {
        before.push(app.get(path).await.text().await.unwrap());
    }
    // every Strava answer now comes after the client's timeout (2 s in tests)
    app.sim.set_fault(Some(milepost::simulator::Fault::Latency(
        std::time::Duration::from_secs(3),
    )));
    let r = app.refresh(Some(API_KEY)).await;
    assert_eq!(r.status().as_u16(), 502);
    for (path, old) in paths.iter().zip(before) {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.text().await.unwrap(), old, "{path}");
    }
}
