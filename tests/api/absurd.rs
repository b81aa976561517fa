//! Absurd numbers from Strava (an offset of 10^12 s, distances whose sum overflows, times near
//! i64::MAX, unreadable dates) never make a read fail: those activities are left out of what is
//! served, every other activity is served as usual, and a restart changes nothing.

use chrono::{Datelike, Duration};
use milepost::simulator::SimActivity;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json, spawn_app};

/// Adds the absurd activities, all public and in the current month, the newest of them newer
/// than any sane one; returns their ids.
fn add_absurd_activities(app: &TestApp) -> Vec<i64> {
    let now = app.sim.now();
    let at = |minutes: i64, sport: &str| {
        SimActivity::new(sport, now - Duration::minutes(minutes), 5_000.0, 1_500)
    };
    let absurd = [
        at(10, "Run")
            .with_raw_json("utc_offset", json!(1e12))
            .with_raw_json("distance", json!(1e308)),
        at(20, "Run").with_raw_json("distance", json!(1e308)),
        at(30, "Ride").with_raw_json("moving_time", json!(i64::MAX)),
        at(40, "Ride").with_raw_json("moving_time", json!(i64::MAX)),
        at(50, "Run").with_raw_json("start_date_local", json!("garbage")),
        at(60, "Run").with_raw_json("start_date", json!("garbage")),
        at(70, "Ride").with_raw_json("total_elevation_gain", json!(-1e308)),
    ];
    absurd
        .into_iter()
        .map(|a| app.sim.add_activity(a))
        .collect()
}

/// The public activities the simulated Strava has, less the absurd ones: newest first.
fn sane_public_ids(app: &TestApp, absurd: &[i64]) -> Vec<i64> {
    app.sim
        .activities()
        .iter()
        .filter(|a| a["visibility"] == json!("everyone") && a["private"] == json!(false))
        .map(|a| a["id"].as_i64().unwrap())
        .filter(|id| !absurd.contains(id))
        .collect()
}

/// Every figure in `v` is a plain number of a sane size (no `null`, no 1e308).
fn assert_sane_figures(path: &str, v: &Value) {
    match v {
        Value::Object(fields) => {
            for (key, value) in fields {
                if [
                    "count",
                    "distance",
                    "moving_time",
                    "elapsed_time",
                    "elevation_gain",
                    "total_elevation_gain",
                ]
                .contains(&key.as_str())
                {
                    let n = value.as_f64();
                    assert!(
                        n.is_some_and(|n| (0.0..1e12).contains(&n)),
                        "{path}: {key} = {value}"
                    );
                }
                assert_sane_figures(path, value);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| assert_sane_figures(path, item)),
        _ => {}
    }
}

fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect()
}

async fn assert_served_without_the_absurd(app: &TestApp, absurd: &[i64], sane: &[i64]) {
    let year = app.sim.now().year();
    let reads = [
        "/strava/stats/ytd".to_owned(),
        "/strava/stats/activities".to_owned(),
        "/strava/stats/monthly".to_owned(),
        "/strava/stats/monthly?type=Run".to_owned(),
        "/strava/stats/monthly?type=Ride".to_owned(),
        "/strava/stats/totals".to_owned(),
        "/strava/stats/yearly".to_owned(),
        format!("/strava/stats/summary/{year}"),
        "/strava/stats/longest-run".to_owned(),
        "/strava/stats/longest-ride".to_owned(),
        "/strava/activities?limit=200".to_owned(),
    ];
    let mut bodies = std::collections::HashMap::new();
    for path in &reads {
        let r = app.get(path).await;
        let status = r.status().as_u16();
        let body = json(r).await;
        let documented_404 = status == 404
            && (path.contains("longest-") || path.contains("summary/"))
            && body["detail"].is_string();
        assert!(status == 200 || documented_404, "{path} → {status} {body}");
        assert_sane_figures(path, &body);
        bodies.insert(path.as_str(), body);
    }

    let recent = ids_of(&bodies["/strava/stats/activities"]["data"]);
    assert_eq!(
        recent,
        sane[..sane.len().min(30)],
        "the newest sane activities"
    );

    let list = &bodies["/strava/activities?limit=200"];
    assert_eq!(list["total"], json!(sane.len()));
    let listed = ids_of(&list["data"]);
    assert_eq!(listed, sane[..sane.len().min(200)]);

    let totals = bodies["/strava/stats/totals"]["data"].as_object().unwrap();
    let counted: i64 = totals.values().map(|t| t["count"].as_i64().unwrap()).sum();
    assert_eq!(counted, sane.len() as i64, "{totals:?}");
    let yearly = bodies["/strava/stats/yearly"]["data"].as_object().unwrap();
    let counted: i64 = yearly
        .values()
        .flat_map(|types| types.as_object().unwrap().values())
        .map(|t| t["count"].as_i64().unwrap())
        .sum();
    assert_eq!(counted, sane.len() as i64, "{yearly:?}");

    for path in ["/strava/stats/longest-run", "/strava/stats/longest-ride"] {
        let body = &bodies[path];
        if let Some(id) = body["id"].as_i64() {
            assert!(!absurd.contains(&id), "{path}: {body}");
        }
    }
}

#[actix_web::test]
async fn absurd_strava_numbers_are_left_out_and_every_read_keeps_answering() {
    let app = spawn_app().await;
    let absurd = add_absurd_activities(&app);
    let sane = sane_public_ids(&app, &absurd);
    assert!(sane.len() > 1, "the simulator has sane public activities");
    app.connect_and_sync().await;
    assert_served_without_the_absurd(&app, &absurd, &sane).await;

    // The absurd activities are stored; a restart derives from them again.
    let app = app.restart().await;
    assert_served_without_the_absurd(&app, &absurd, &sane).await;
    // A new day derives every body again.
    app.sim
        .advance_clock(std::time::Duration::from_secs(86_400));
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_served_without_the_absurd(&app, &absurd, &sane).await;
}
