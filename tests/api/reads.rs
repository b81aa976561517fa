//! The read routes beyond the old service's first three, checked against the simulator's own
//! history under SPEC's rules (Everyone visibility, local years, legacy types).

use std::collections::BTreeMap;

use chrono::Datelike;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json, spawn_app};

/// The simulator's public activities, newest first.
fn public(app: &TestApp) -> Vec<Value> {
    app.sim
        .activities()
        .into_iter()
        .filter(|a| a["visibility"] == json!("everyone") && a["private"] == json!(false))
        .collect()
}

fn local_year(a: &Value) -> i64 {
    a["start_date_local"].as_str().unwrap()[..4]
        .parse()
        .unwrap()
}

fn counts_by_type<'a>(acts: impl Iterator<Item = &'a Value>) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for a in acts {
        *counts
            .entry(a["type"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    counts
}

fn counts_in(data: &Value) -> BTreeMap<String, i64> {
    data.as_object()
        .unwrap()
        .iter()
        .map(|(k, t)| (k.clone(), t["count"].as_i64().unwrap()))
        .collect()
}

#[actix_web::test]
async fn before_any_sync_the_new_routes_answer_not_cached_or_empty() {
    let app = spawn_app().await;
    for path in ["/strava/stats/totals", "/strava/stats/yearly"] {
        assert_eq!(app.get(path).await.status().as_u16(), 404, "{path}");
    }
    let r = app.get("/strava/stats/longest-run?year=2024").await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        json(r).await["detail"],
        json!("No runs found for year 2024. Try /strava/refresh-data")
    );
    let list = json(app.get("/strava/activities").await).await;
    assert_eq!(
        list,
        json!({"total": 0, "limit": 100, "offset": 0, "data": []})
    );
}

#[actix_web::test]
async fn totals_yearly_and_summaries_follow_local_years_and_legacy_types() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let public = public(&app);

    let totals = json(app.get("/strava/stats/totals").await).await;
    assert_eq!(totals["type"], json!("all_time_totals"));
    assert_eq!(counts_in(&totals["data"]), counts_by_type(public.iter()));

    let yearly = json(app.get("/strava/stats/yearly").await).await;
    assert_eq!(yearly["type"], json!("yearly_stats"));
    let years: Vec<i64> = yearly["data"]
        .as_object()
        .unwrap()
        .keys()
        .map(|y| y.parse().unwrap())
        .collect();
    assert!(years.len() >= 5, "{years:?}");
    for year in &years {
        let expected = counts_by_type(public.iter().filter(|a| local_year(a) == *year));
        assert_eq!(
            counts_in(&yearly["data"][year.to_string()]),
            expected,
            "{year}"
        );
        let summary = json(app.get(&format!("/strava/stats/summary/{year}")).await).await;
        assert_eq!(summary["year"], json!(year));
        assert_eq!(counts_in(&summary["data"]), expected, "summary {year}");
    }
}

#[actix_web::test]
async fn longest_run_and_ride_are_the_longest_of_their_family_in_the_local_year() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let public = public(&app);
    let year = chrono::Utc::now().year() as i64 - 1;
    for (path, family) in [
        ("longest-run", &["Run", "TrailRun", "VirtualRun"][..]),
        (
            "longest-ride",
            &[
                "Ride",
                "GravelRide",
                "MountainBikeRide",
                "EBikeRide",
                "EMountainBikeRide",
                "VirtualRide",
                "Velomobile",
                "Handcycle",
            ][..],
        ),
    ] {
        let best = public
            .iter()
            .filter(|a| local_year(a) == year)
            .filter(|a| family.contains(&a["sport_type"].as_str().unwrap()))
            .map(|a| a["distance"].as_f64().unwrap())
            .fold(0.0, f64::max);
        let body = json(app.get(&format!("/strava/stats/{path}?year={year}")).await).await;
        assert_eq!(body["distance"].as_f64().unwrap(), best, "{path}");
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            vec![
                "id",
                "name",
                "type",
                "sport_type",
                "distance",
                "moving_time",
                "elapsed_time",
                "total_elevation_gain",
                "start_date",
                "start_date_local",
                "average_speed",
                "max_speed",
                "kudos_count",
                "heart_rate"
            ]
        );
    }
}

#[actix_web::test]
async fn the_activity_list_pages_and_filters() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let public = public(&app);
    let first = json(app.get("/strava/activities?limit=5&offset=2").await).await;
    assert_eq!(first["total"], json!(public.len()));
    assert_eq!(
        (first["limit"].clone(), first["offset"].clone()),
        (json!(5), json!(2))
    );
    let ids: Vec<&Value> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["id"])
        .collect();
    let expected: Vec<&Value> = public[2..7].iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, expected);

    let year = local_year(&public[0]);
    let runs = json(
        app.get(&format!(
            "/strava/activities?year={year}&activity_type=Run&limit=200"
        ))
        .await,
    )
    .await;
    let expected = public
        .iter()
        .filter(|a| local_year(a) == year && a["type"] == json!("Run"))
        .count();
    assert_eq!(runs["total"], json!(expected));
    assert!(
        runs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["type"] == json!("Run"))
    );
}

#[actix_web::test]
async fn bad_parameters_are_422s_naming_each_one() {
    let app = spawn_app().await;
    let r = app
        .get("/strava/activities?limit=0&offset=-1&year=abc")
        .await;
    assert_eq!(r.status().as_u16(), 422);
    let body = json(r).await;
    let locs: Vec<&Value> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"])
        .collect();
    assert_eq!(
        locs,
        vec![
            &json!(["query", "limit"]),
            &json!(["query", "offset"]),
            &json!(["query", "year"])
        ]
    );
    for path in [
        "/strava/activities?limit=201",
        "/strava/activities?offset=99999999999999999999999",
        "/strava/stats/summary/1999",
        "/strava/stats/summary/99999",
        "/strava/stats/summary/abc",
        "/strava/stats/longest-ride?year=twenty",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 422, "{path}");
        assert_eq!(json(r).await["code"], json!("validation_error"), "{path}");
    }
}

#[actix_web::test]
async fn no_non_public_activity_appears_in_any_response() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let hidden: Vec<Value> = app
        .sim
        .activities()
        .into_iter()
        .filter(|a| a["visibility"] != json!("everyone"))
        .collect();
    assert!(!hidden.is_empty());
    let mut paths = vec![
        "/strava/stats/ytd".to_owned(),
        "/strava/stats/activities".to_owned(),
        "/strava/stats/monthly".to_owned(),
        "/strava/stats/totals".to_owned(),
        "/strava/stats/yearly".to_owned(),
    ];
    let this_year = chrono::Utc::now().year();
    for year in this_year - 7..=this_year {
        paths.push(format!("/strava/stats/summary/{year}"));
        paths.push(format!("/strava/stats/longest-run?year={year}"));
        paths.push(format!("/strava/stats/longest-ride?year={year}"));
    }
    for offset in (0..3000).step_by(200) {
        paths.push(format!("/strava/activities?limit=200&offset={offset}"));
    }
    let mut everything = String::new();
    for path in &paths {
        everything.push_str(&app.get(path).await.text().await.unwrap());
    }
    for a in &hidden {
        let id = a["id"].to_string();
        assert!(
            !everything.contains(&format!("\"id\":{id}")),
            "hidden activity {id} leaked"
        );
        let name = a["name"].as_str().unwrap();
        let unique = !app
            .sim
            .activities()
            .iter()
            .any(|p| p["visibility"] == json!("everyone") && p["name"] == json!(name));
        if unique {
            assert!(!everything.contains(name), "hidden name {name:?} leaked");
        }
    }
    for forbidden in ["polyline", "latlng", "device_name", "\"map\":"] {
        assert!(!everything.contains(forbidden), "{forbidden} served");
    }
}

#[actix_web::test]
async fn years_without_data_answer_the_exact_404_bodies() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let r = app.get("/strava/stats/summary/2001").await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        json(r).await,
        json!({"detail": "No activities found for year 2001", "code": "not_found"})
    );
    let r = app.get("/v1/strava/stats/longest-ride?year=2001").await;
    assert_eq!(r.status().as_u16(), 404);
    assert_eq!(
        json(r).await,
        json!({"detail": "No rides found for year 2001. Try /strava/refresh-data", "code": "not_found"})
    );
}
