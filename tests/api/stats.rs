use serde_json::{Value, json};

use crate::helpers::{json, spawn_app};

#[actix_web::test]
async fn stats_before_any_sync_answer_the_old_404_bodies() {
    let app = spawn_app().await;
    for (path, detail) in [
        (
            "/strava/stats/ytd",
            "YTD stats not cached yet. Try /strava/refresh-data",
        ),
        (
            "/strava/stats/activities",
            "Activities not cached yet. Try /strava/refresh-data",
        ),
        (
            "/strava/stats/monthly",
            "Monthly stats not cached yet. Try /strava/refresh-data",
        ),
        (
            "/strava/stats/monthly?type=Run",
            "Monthly stats not cached yet. Try /strava/refresh-data",
        ),
        (
            "/v1/strava/stats/ytd",
            "YTD stats not cached yet. Try /strava/refresh-data",
        ),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert_eq!(json(r).await["detail"], json!(detail), "{path}");
    }
}

fn assert_totals(t: &Value) {
    let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4, "{t}");
    assert!(t["count"].is_i64() && t["moving_time"].is_i64(), "{t}");
    assert!(
        t["distance"].is_f64() && t["elevation_gain"].is_f64(),
        "{t}"
    );
}

#[actix_web::test]
async fn ytd_matches_stravas_own_athlete_stats() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let body = json(app.get("/strava/stats/ytd").await).await;
    assert_eq!(body["type"], json!("ytd"));
    assert!(body["fetched_at"].as_str().unwrap().ends_with("+00:00"));
    let data = body["data"].as_object().unwrap();
    assert_eq!(data.len(), 3);
    for sport in ["run", "ride", "swim"] {
        assert_totals(&body["data"][sport]);
    }
    // The figures Strava (the simulator) computes: Everyone visibility, the run family, this
    // local year.
    let year = app.sim.now().format("%Y").to_string();
    let expected = app
        .sim
        .activities()
        .iter()
        .filter(|a| a["visibility"] == json!("everyone"))
        .filter(|a| ["Run", "TrailRun", "VirtualRun"].contains(&a["sport_type"].as_str().unwrap()))
        .filter(|a| a["start_date_local"].as_str().unwrap().starts_with(&year))
        .count() as i64;
    assert!(expected > 0);
    assert_eq!(body["data"]["run"]["count"], json!(expected), "{body}");
}

#[actix_web::test]
async fn recent_activities_are_the_thirty_newest_public_ones() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let body = json(app.get("/strava/stats/activities").await).await;
    assert_eq!(body["type"], json!("recent_activities"));
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 30);
    let expected: Vec<i64> = app
        .sim
        .activities()
        .iter()
        .filter(|a| a["visibility"] == json!("everyone"))
        .take(30)
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    let got: Vec<i64> = data.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert_eq!(got, expected);
    let keys: Vec<&str> = data[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = vec![
        "id",
        "name",
        "type",
        "sport_type",
        "distance",
        "moving_time",
        "elevation_gain",
        "start_date",
        "start_date_local",
    ];
    let mut keys = keys;
    keys.sort_unstable();
    want.sort_unstable();
    assert_eq!(keys, want);
}

#[actix_web::test]
async fn monthly_has_twelve_months_and_filters_by_type() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let r = app.get("/strava/stats/monthly").await;
    let raw = r.text().await.unwrap();
    let body: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(body["type"], json!("monthly"));
    let months = body["data"].as_object().unwrap();
    assert_eq!(months.len(), 12);
    months.values().for_each(assert_totals);
    let total: i64 = months.values().map(|m| m["count"].as_i64().unwrap()).sum();
    assert!(total > 0);

    let runs = json(app.get("/strava/stats/monthly?type=Run").await).await;
    let run_total: i64 = runs["data"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m["count"].as_i64().unwrap())
        .sum();
    assert!(
        run_total > 0 && run_total < total,
        "runs {run_total} of {total}"
    );

    let none = json(app.get("/strava/stats/monthly?type=Kitesurf").await).await;
    assert_eq!(none["data"].as_object().unwrap().len(), 12);
    assert!(
        none["data"]
            .as_object()
            .unwrap()
            .values()
            .all(|m| m["count"] == json!(0))
    );
}

#[actix_web::test]
async fn reads_carry_an_etag_and_answer_304_when_it_matches() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let r = app.get("/strava/stats/ytd").await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=60");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .http
        .get(app.url("/strava/stats/ytd"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = app
        .http
        .get(app.url("/v1/strava/stats/ytd"))
        .header("If-None-Match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 200);
}

#[actix_web::test]
async fn a_restarted_app_serves_stats_from_postgres_without_calling_strava() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let before: Vec<String> = futures_bodies(&app).await;
    let app = app.restart().await;
    app.sim.reset_counts();
    let after: Vec<String> = futures_bodies(&app).await;
    assert_eq!(before, after);
    let calls: u64 = app.sim.request_counts().values().sum();
    assert_eq!(calls, 0, "{:?}", app.sim.request_counts());
}

async fn futures_bodies(app: &crate::helpers::TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for path in [
        "/strava/stats/ytd",
        "/strava/stats/activities",
        "/strava/stats/monthly",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        out.push(r.text().await.unwrap());
    }
    out
}

/// Every served body's key and ETag, as stored.
async fn stored_bodies(app: &crate::helpers::TestApp) -> Vec<(String, String)> {
    app.db()
        .await
        .query("SELECT key, etag FROM response_bodies ORDER BY key", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[actix_web::test]
async fn re_deriving_the_bodies_without_a_sync_keeps_every_one_of_them() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let before = stored_bodies(&app).await;
    assert!(before.len() > 20, "{before:?}");
    // What the day-change check sends: no new data, derive again from what is stored, with
    // the fetch time of the last sync.
    let fetched_at: chrono::DateTime<chrono::Utc> = app
        .db()
        .await
        .query_one("SELECT last_success_at FROM sync_state", &[])
        .await
        .unwrap()
        .get(0);
    let athlete = app.sim.config().athlete_id;
    app.services
        .cache
        .ask(milepost::actors::cache::Ingest {
            publish: Some(fetched_at),
            ..milepost::actors::cache::Ingest::activities(athlete, Vec::new())
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored_bodies(&app).await,
        before,
        "every body, byte for byte"
    );
    // and what is served is what is stored
    for path in [
        "/strava/stats/ytd",
        "/strava/stats/activities",
        "/strava/stats/monthly",
        "/strava/stats/totals",
        "/strava/stats/yearly",
    ] {
        let key = path.trim_start_matches("/strava/");
        let stored = &before.iter().find(|(k, _)| k == key).unwrap().1;
        let r = app.get(path).await;
        assert_eq!(&r.headers()["etag"].to_str().unwrap(), stored, "{path}");
    }
}

/// Every summed distance and elevation, on every route that sums, is free of float noise.
#[actix_web::test]
async fn sums_are_rounded_to_the_thousandth_on_every_route() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    fn sums(v: &Value, found: &mut Vec<f64>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_f64()) {
                        ("distance" | "elevation_gain", Some(x)) => found.push(x),
                        _ => sums(v, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| sums(v, found)),
            _ => {}
        }
    }
    let year = app.sim.now().format("%Y").to_string();
    let mut found = Vec::new();
    for path in [
        "/strava/stats/ytd".to_owned(),
        "/strava/stats/monthly".to_owned(),
        "/strava/stats/totals".to_owned(),
        "/strava/stats/yearly".to_owned(),
        format!("/strava/stats/summary/{year}"),
    ] {
        let body = json(app.get(&path).await).await;
        sums(&body["data"], &mut found);
    }
    assert!(found.len() > 20, "{found:?}");
    let noisy: Vec<f64> = found
        .into_iter()
        .filter(|x| (x * 1000.0).round() / 1000.0 != *x)
        .collect();
    assert!(noisy.is_empty(), "sums with float noise: {noisy:?}");
}
