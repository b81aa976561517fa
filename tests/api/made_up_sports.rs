//! A sport parameter that is none of Strava's sports is never a cache key and costs no
//! derivation (SPEC §5): the seed's routes answer it as a sport without activities, the newer
//! ones refuse it with a 422 naming `query.type`; however many made-up names come, memory stays
//! where it was.

use std::time::Instant;

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::json;

use crate::helpers::{json, spawn_app, spawn_binary};

/// A made-up sport name of `len` letters and digits, different each time.
fn made_up(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[actix_web::test]
async fn a_made_up_sport_on_the_newer_routes_is_a_422_naming_the_type() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let long = made_up(4_000);
    for kind in ["Runx", "run", "RUN", "Trail Run", long.as_str()] {
        for route in [
            "/strava/stats/weekly?",
            "/strava/stats/calendar?",
            "/strava/stats/streaks?",
            "/strava/cards/monthly.svg?",
            "/strava/cards/calendar.svg?theme=dark&",
            "/v1/strava/cards/streaks.svg?",
        ] {
            let path = format!("{route}type={kind}");
            let r = app.get(&path).await;
            assert_eq!(r.status().as_u16(), 422, "{route}type={kind:.20}");
            let body = json(r).await;
            assert_eq!(body["code"], json!("validation_error"), "{route}");
            assert_eq!(
                body["detail"][0]["loc"],
                json!(["query", "type"]),
                "{route}"
            );
            assert_eq!(body["detail"][0]["type"], json!("enum"), "{route}");
        }
    }
    // A sport Strava has that the athlete never did (as a legacy type): zero figures.
    for route in ["/strava/stats/weekly", "/strava/stats/streaks"] {
        let never = app.get(&format!("{route}?type=Kitesurf")).await;
        assert_eq!(never.status().as_u16(), 200, "{route}");
        let never = json(never).await;
        // a sport type that is no legacy type is never one an activity has
        let trail = json(app.get(&format!("{route}?type=TrailRun")).await).await;
        assert_eq!(trail, never, "{route}");
    }
}

#[actix_web::test]
async fn a_made_up_sport_on_the_seed_routes_is_a_sport_without_activities() {
    let app = spawn_app().await;
    // Before the first sync: as before, monthly is not cached yet and the list is empty.
    let r = app
        .get(&format!("/strava/stats/monthly?type={}", made_up(64)))
        .await;
    assert_eq!(r.status().as_u16(), 404);
    let r = app
        .get(&format!("/strava/activities?activity_type={}", made_up(64)))
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"total":0,"limit":100,"offset":0,"data":[]}"#
    );

    app.connect_and_sync().await;
    let never = app.get("/strava/stats/monthly?type=Kitesurf").await;
    assert_eq!(never.status().as_u16(), 200);
    let never = never.text().await.unwrap();
    for kind in [made_up(12), "run".to_owned(), made_up(4_000)] {
        let r = app.get(&format!("/strava/stats/monthly?type={kind}")).await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.text().await.unwrap(), never, "monthly?type={kind:.20}");
        for query in ["", "&limit=7&offset=30", "&year=2024&limit=200"] {
            let path = format!("/strava/activities?activity_type={kind}{query}");
            let none = app
                .get(&format!("/strava/activities?activity_type=Kitesurf{query}"))
                .await;
            let none = none.text().await.unwrap();
            let r = app.get(&path).await;
            assert_eq!(r.status().as_u16(), 200);
            assert_eq!(r.text().await.unwrap(), none, "{query}");
        }
    }
    // and a sport the athlete did still filters
    let runs = json(
        app.get("/strava/activities?activity_type=Run&limit=5")
            .await,
    )
    .await;
    assert!(runs["total"].as_u64().unwrap() > 0);
    assert!(
        runs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["type"] == "Run")
    );
}

/// The resident memory of process `pid`, in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// Sends `count` requests for `/strava/activities` with made-up sports of `len` characters,
/// over `connections` keep-alive connections at once.
async fn made_up_requests(base: &str, count: usize, len: usize, connections: usize) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (client, base) = (client.clone(), base.to_owned());
            // distinct by the number in front
            let filler = made_up(len - 8);
            tokio::spawn(async move {
                for i in (c..count).step_by(connections) {
                    let kind = format!("{i:08}{filler}");
                    let url = format!("{base}/strava/activities?activity_type={kind}&offset={i}");
                    let r = client.get(url).send().await.unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    r.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[actix_web::test]
async fn a_hundred_thousand_made_up_sports_leave_memory_where_it_was() {
    let binary = spawn_binary(|_| {}, &[]).await;
    binary.connect_and_sync().await;
    const LEN: usize = 1_024;
    // The connections' buffers and the allocator's arenas, before the count starts.
    made_up_requests(&binary.address, 2_000, LEN, 8).await;
    let before = rss_kb(binary.pid());
    let started = Instant::now();
    made_up_requests(&binary.address, 100_000, LEN, 8).await;
    let after = rss_kb(binary.pid());
    eprintln!(
        "100,000 made-up sports in {:?}: VmRSS {before} kB → {after} kB",
        started.elapsed()
    );
    assert!(
        after <= before + 20 * 1024,
        "VmRSS grew from {before} kB to {after} kB"
    );
    // and the binary still serves
    let r = reqwest::get(binary.url("/strava/activities?activity_type=Run&limit=1"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

#[actix_web::test]
async fn the_document_says_which_routes_take_only_stravas_sports() {
    let app = spawn_app().await;
    let doc = json(app.get("/strava/openapi.json").await).await;
    let param = |path: &str, name: &str| {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} is documented"))
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} documents {name}"))
            .clone()
    };
    for path in [
        "/strava/stats/weekly",
        "/strava/stats/calendar",
        "/strava/stats/streaks",
        "/strava/cards/monthly.svg",
        "/strava/cards/calendar.svg",
        "/strava/cards/streaks.svg",
    ] {
        let sports = param(path, "type")["schema"]["enum"].clone();
        let sports = sports
            .as_array()
            .unwrap_or_else(|| panic!("{path}: an enum"));
        assert_eq!(sports.len(), 50, "{path}");
        for sport in ["Run", "Ride", "TrailRun", "Kitesurf"] {
            assert!(sports.contains(&json!(sport)), "{path}: {sport}");
        }
        assert!(!sports.contains(&json!("run")), "{path}");
        assert!(
            doc["paths"][path]["get"]["responses"]["422"].is_object(),
            "{path} documents its 422"
        );
    }
    // the seed's routes take any text, as the old service did
    for (path, name) in [
        ("/strava/stats/monthly", "type"),
        ("/strava/activities", "activity_type"),
    ] {
        let schema = param(path, name)["schema"].clone();
        assert_eq!(schema, json!({"type": "string"}), "{path}");
    }
}
