//! What a personal site shows: weekly totals, a year's calendar, streaks and the Eddington
//! numbers, each checked against the simulator's own history under SPEC's rules (Everyone
//! visibility, the athlete's local days, ISO weeks, legacy types, families by sport type),
//! computed here independently of milepost's code.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json, spawn_app};

/// The simulator's public activities.
fn public(app: &TestApp) -> Vec<Value> {
    app.sim
        .activities()
        .into_iter()
        .filter(|a| a["visibility"] == json!("everyone") && a["private"] == json!(false))
        .collect()
}

fn local_day(a: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(&a["start_date_local"].as_str().unwrap()[..10], "%Y-%m-%d").unwrap()
}

/// The athlete's local date now: the simulator's clock at the offset of the newest public
/// activity.
fn today(app: &TestApp, public: &[Value]) -> NaiveDate {
    let newest = public
        .iter()
        .max_by_key(|a| {
            (
                a["start_date"].as_str().unwrap().to_owned(),
                a["id"].as_i64(),
            )
        })
        .unwrap();
    let offset = newest["utc_offset"].as_f64().unwrap() as i64;
    (app.sim.now() + Duration::seconds(offset)).date_naive()
}

/// Rounded to the thousandth, as SPEC's sums are.
fn rounded(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// T of some activities.
fn totals<'a>(acts: impl IntoIterator<Item = &'a Value>) -> Value {
    let (mut count, mut distance, mut time, mut climb) = (0, 0.0, 0, 0.0);
    for a in acts {
        count += 1;
        distance += a["distance"].as_f64().unwrap();
        time += a["moving_time"].as_i64().unwrap();
        climb += a["total_elevation_gain"].as_f64().unwrap();
    }
    json!({"count": count, "distance": rounded(distance), "moving_time": time,
        "elevation_gain": rounded(climb)})
}

fn of_type<'a>(acts: &'a [Value], kind: Option<&'a str>) -> impl Iterator<Item = &'a Value> {
    acts.iter()
        .filter(move |a| kind.is_none_or(|k| a["type"] == json!(k)))
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn expected_weekly(acts: &[Value], today: NaiveDate, kind: Option<&str>) -> Value {
    let mut data = serde_json::Map::new();
    for back in 0..12 {
        let start = monday(today) - Duration::weeks(back);
        let key = start.format("%G-W%V").to_string();
        let week = of_type(acts, kind).filter(|a| monday(local_day(a)) == start);
        data.insert(key, totals(week));
    }
    Value::Object(data)
}

fn expected_calendar(acts: &[Value], year: i32, kind: Option<&str>) -> Value {
    let mut days: BTreeMap<NaiveDate, Vec<&Value>> = BTreeMap::new();
    for a in of_type(acts, kind).filter(|a| local_day(a).year() == year) {
        days.entry(local_day(a)).or_default().push(a);
    }
    Value::Object(
        days.into_iter()
            .map(|(day, acts)| (day.to_string(), totals(acts)))
            .collect(),
    )
}

/// Walks every day from the first active one to today.
fn expected_streaks(acts: &[Value], today: NaiveDate, kind: Option<&str>) -> Value {
    let days: BTreeSet<NaiveDate> = of_type(acts, kind).map(local_day).collect();
    let weeks: BTreeSet<NaiveDate> = days.iter().map(|d| monday(*d)).collect();
    let Some(&first) = days.first() else {
        return json!({"current_days": 0, "longest_days": 0, "longest_days_start": null,
            "longest_days_end": null, "current_weeks": 0, "longest_weeks": 0});
    };
    let last = *days.last().unwrap();
    let (mut best, mut best_start, mut best_end) = (0, first, first);
    let (mut run, mut run_start) = (0, first);
    let mut day = first;
    while day <= last {
        if days.contains(&day) {
            if run == 0 {
                run_start = day;
            }
            run += 1;
            if run > best {
                (best, best_start, best_end) = (run, run_start, day);
            }
        } else {
            run = 0;
        }
        day += Duration::days(1);
    }
    let back_from = |set: &BTreeSet<NaiveDate>, mut at: NaiveDate, step: Duration| {
        if !set.contains(&at) {
            at -= step;
        }
        let mut n = 0;
        while set.contains(&at) {
            n += 1;
            at -= step;
        }
        n
    };
    let (mut longest_weeks, mut week_run) = (0, 0);
    let mut week = monday(first);
    while week <= monday(last) {
        week_run = if weeks.contains(&week) {
            week_run + 1
        } else {
            0
        };
        longest_weeks = longest_weeks.max(week_run);
        week += Duration::weeks(1);
    }
    json!({
        "current_days": back_from(&days, today, Duration::days(1)),
        "longest_days": best,
        "longest_days_start": best_start.to_string(),
        "longest_days_end": best_end.to_string(),
        "current_weeks": back_from(&weeks, monday(today), Duration::weeks(1)),
        "longest_weeks": longest_weeks,
    })
}

const RUNS: [&str; 3] = ["Run", "TrailRun", "VirtualRun"];
const RIDES: [&str; 8] = [
    "Ride",
    "GravelRide",
    "MountainBikeRide",
    "EBikeRide",
    "EMountainBikeRide",
    "VirtualRide",
    "Velomobile",
    "Handcycle",
];

/// Counts n upwards while at least n days reach n units.
fn expected_eddington(acts: &[Value], family: &[&str]) -> Value {
    let mut daily: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for a in acts
        .iter()
        .filter(|a| family.contains(&a["sport_type"].as_str().unwrap()))
    {
        *daily.entry(local_day(a)).or_default() += a["distance"].as_f64().unwrap();
    }
    let days: Vec<f64> = daily.into_values().map(rounded).collect();
    let reaching =
        |n: u32, unit: f64| days.iter().filter(|&&d| d >= f64::from(n) * unit).count() as u32;
    let number = |unit: f64| {
        let mut n = 0;
        while reaching(n + 1, unit) > n {
            n += 1;
        }
        (n, n + 1 - reaching(n + 1, unit))
    };
    let ((km, next_km), (mi, next_mi)) = (number(1000.0), number(1609.344));
    json!({"km": km, "mi": mi, "days_to_next_km": next_km, "days_to_next_mi": next_mi})
}

/// Syncs again at once (the protected refresh), which must succeed.
async fn sync_again(app: &TestApp) {
    let refreshed = app.refresh(Some(crate::helpers::API_KEY)).await;
    assert_eq!(refreshed.status().as_u16(), 200);
}

#[actix_web::test]
async fn before_any_sync_the_new_routes_answer_not_cached() {
    let app = spawn_app().await;
    for (path, detail) in [
        (
            "/strava/stats/weekly",
            "Weekly stats not cached yet. Try /strava/refresh-data",
        ),
        (
            "/v1/strava/stats/weekly?type=Run",
            "Weekly stats not cached yet. Try /strava/refresh-data",
        ),
        (
            "/strava/stats/calendar",
            "Calendar not cached yet. Try /strava/refresh-data",
        ),
        (
            "/strava/stats/streaks",
            "Streaks not cached yet. Try /strava/refresh-data",
        ),
        (
            "/strava/stats/eddington",
            "Eddington numbers not cached yet. Try /strava/refresh-data",
        ),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert_eq!(
            json(r).await,
            json!({"detail": detail, "code": "not_found"}),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn weekly_calendar_streaks_and_eddington_follow_the_history_by_spec_rules() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let public = public(&app);
    let today = today(&app, &public);

    for (path, kind) in [
        ("/strava/stats/weekly", None),
        ("/strava/stats/weekly?type=Run", Some("Run")),
        ("/v1/strava/stats/weekly?type=Ride", Some("Ride")),
        ("/strava/stats/weekly?type=Kitesurf", Some("Kitesurf")),
    ] {
        let body = json(app.get(path).await).await;
        assert_eq!(body["type"], json!("weekly"), "{path}");
        assert!(body["fetched_at"].as_str().unwrap().ends_with("+00:00"));
        assert_eq!(
            body["data"],
            expected_weekly(&public, today, kind),
            "{path}"
        );
        let keys: Vec<&String> = body["data"].as_object().unwrap().keys().collect();
        assert_eq!(keys[0], &today.format("%G-W%V").to_string(), "newest first");
    }
    let weekly = json(app.get("/strava/stats/weekly").await).await;
    let active_weeks = weekly["data"]
        .as_object()
        .unwrap()
        .values()
        .filter(|w| w["count"].as_i64() > Some(0))
        .count();
    assert!(active_weeks > 6, "a history to check against: {weekly}");

    let year = today.year();
    for (query, year, kind) in [
        (String::new(), year, None),
        (format!("?year={year}"), year, None),
        (format!("?year={}", year - 1), year - 1, None),
        (
            format!("?year={}&type=Ride", year - 2),
            year - 2,
            Some("Ride"),
        ),
        ("?year=2003".to_owned(), 2003, None),
    ] {
        let path = format!("/strava/stats/calendar{query}");
        let raw = app.get(&path).await.text().await.unwrap();
        let body: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(body["type"], json!("calendar"), "{path}");
        assert_eq!(body["year"], json!(year), "{path}");
        let expected = expected_calendar(&public, year, kind);
        assert_eq!(body["data"], expected, "{path}");
        // Ascending keys, as served.
        let keys: Vec<&String> = body["data"].as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{path}");
        assert!(raw.starts_with(&format!(r#"{{"type":"calendar","year":{year},"data":{{"#)));
    }
    let past = json(
        app.get(&format!("/strava/stats/calendar?year={}", year - 1))
            .await,
    )
    .await;
    assert!(past["data"].as_object().unwrap().len() > 100, "{past}");

    for (path, kind) in [
        ("/strava/stats/streaks", None),
        ("/strava/stats/streaks?type=Run", Some("Run")),
        ("/strava/stats/streaks?type=Kitesurf", Some("Kitesurf")),
    ] {
        let body = json(app.get(path).await).await;
        assert_eq!(body["type"], json!("streaks"), "{path}");
        assert_eq!(
            body["data"],
            expected_streaks(&public, today, kind),
            "{path}"
        );
    }

    let body = json(app.get("/strava/stats/eddington").await).await;
    assert_eq!(body["type"], json!("eddington"));
    assert_eq!(
        body["data"],
        json!({
            "ride": expected_eddington(&public, &RIDES),
            "run": expected_eddington(&public, &RUNS),
        })
    );
    assert!(body["data"]["ride"]["km"].as_i64() > Some(10), "{body}");
}

#[actix_web::test]
async fn bad_parameters_of_the_new_routes_get_422_naming_them() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let next_year = app.sim.now().year() + 2;
    for (path, name) in [
        ("/strava/stats/calendar?year=1999".to_owned(), "year"),
        ("/strava/stats/calendar?year=twenty".to_owned(), "year"),
        (format!("/strava/stats/calendar?year={next_year}"), "year"),
        (
            "/strava/stats/calendar?year=99999999999999999999".to_owned(),
            "year",
        ),
        ("/strava/cards/ytd.svg?theme=blue".to_owned(), "theme"),
        (
            "/strava/cards/monthly.svg?units=furlongs".to_owned(),
            "units",
        ),
        ("/strava/cards/ytd.svg?type=Walk".to_owned(), "type"),
        ("/strava/cards/calendar.svg?year=1999".to_owned(), "year"),
        (
            format!("/v1/strava/cards/calendar.svg?year={next_year}"),
            "year",
        ),
        ("/strava/cards/streaks.svg?theme=DARK".to_owned(), "theme"),
        ("/strava/cards/ytd.svg?units=".to_owned(), "units"),
        (
            "/strava/cards/calendar.svg?theme=&type=Run".to_owned(),
            "theme",
        ),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status().as_u16(), 422, "{path}");
        let body = json(r).await;
        assert_eq!(body["code"], json!("validation_error"), "{path}");
        assert_eq!(body["detail"][0]["loc"], json!(["query", name]), "{path}");
    }
}

#[actix_web::test]
async fn the_new_reads_and_the_cards_answer_304_to_the_etag_they_gave() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    for path in [
        "/strava/stats/weekly?type=Run",
        "/strava/stats/calendar?year=2003",
        "/strava/stats/calendar",
        "/strava/stats/streaks",
        "/strava/stats/eddington",
        "/strava/cards/ytd.svg",
        "/strava/cards/monthly.svg?theme=dark&units=imperial",
        "/strava/cards/calendar.svg?type=Run",
        "/v1/strava/cards/streaks.svg",
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["cache-control"], "public, max-age=60", "{path}");
        let etag = r.headers()["etag"].to_str().unwrap().to_owned();
        let again = app
            .http
            .get(app.url(path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str(), "{path}");
    }
}

/// The name and type a hostile athlete (or visitor) might give.
const HOSTILE: &str = r#"<script>alert(1)</script> & "x""#;

fn encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Every card, in every look, and with the filters that mean something for it.
fn card_paths() -> Vec<String> {
    let mut paths = Vec::new();
    for card in ["ytd", "monthly", "calendar", "streaks"] {
        for theme in ["light", "dark"] {
            for units in ["metric", "imperial"] {
                paths.push(format!(
                    "/strava/cards/{card}.svg?theme={theme}&units={units}"
                ));
            }
        }
    }
    paths.extend(
        [
            "/strava/cards/ytd.svg?type=Ride",
            "/strava/cards/monthly.svg?type=Run",
            "/strava/cards/calendar.svg?type=Ride&theme=dark",
            "/strava/cards/calendar.svg?year=2003",
            "/v1/strava/cards/streaks.svg?type=Run&units=imperial",
        ]
        .map(str::to_owned),
    );
    paths
}

/// A card as served: an image/svg+xml answer under the cards' policy, an XML document with
/// an `<svg>` root that references nothing outside itself and credits Strava. Its text.
async fn card(app: &TestApp, path: &str) -> String {
    let r = app.get(path).await;
    assert_eq!(r.status().as_u16(), 200, "{path}");
    assert_eq!(r.headers()["content-type"], "image/svg+xml", "{path}");
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'",
        "{path}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
    let svg = r.text().await.unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{path}: {e}\n{svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{path}");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg"),
        "{path}"
    );
    let text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect();
    assert!(text.contains("Powered by Strava"), "{path}: {text}");
    for node in doc.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        assert!(
            !["script", "image", "use", "foreignObject", "a", "iframe"].contains(&name),
            "{path}: <{name}>"
        );
        for attribute in node.attributes() {
            assert!(
                !attribute.name().contains("href") && !attribute.name().starts_with("on"),
                "{path}: {}",
                attribute.name()
            );
        }
    }
    let outside = svg.replace("http://www.w3.org/2000/svg", "");
    for reference in ["http:", "https:", "//", "@import", "<script"] {
        assert!(!outside.contains(reference), "{path}: {reference}\n{svg}");
    }
    assert!(
        outside
            .match_indices("url(")
            .all(|(at, _)| outside[at..].starts_with("url(#")),
        "{path}: a url() outside the card"
    );
    svg
}

#[actix_web::test]
async fn every_card_is_a_self_contained_svg_before_and_after_the_first_sync() {
    let app = spawn_app().await;
    let mut before = Vec::new();
    for path in card_paths() {
        before.push(card(&app, &path).await);
    }
    assert!(
        before
            .iter()
            .all(|svg| svg.contains("No activities synced yet")),
        "before the first sync each card says so"
    );
    app.connect_and_sync().await;
    for (path, earlier) in card_paths().iter().zip(&before) {
        let svg = card(&app, path).await;
        if !path.contains("year=2003") {
            assert_ne!(&svg, earlier, "{path} shows the figures now");
            assert!(!svg.contains("No activities synced yet"), "{path}");
        }
    }
    // The monthly card shows the twelve months' total distance the JSON route gives.
    let monthly = json(app.get("/strava/stats/monthly").await).await;
    let metres: f64 = monthly["data"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m["distance"].as_f64().unwrap())
        .sum();
    let shown = milepost::render::format::Units::Metric.distance(metres);
    let svg = card(&app, "/strava/cards/monthly.svg").await;
    assert!(svg.contains(&shown), "{shown} in {svg}");
}

#[actix_web::test]
async fn the_status_page_says_how_to_connect_until_an_athlete_is_connected() {
    let app = spawn_app().await;
    let page = async |app: &TestApp| {
        let r = app.get("/").await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(
            r.headers()["content-security-policy"],
            milepost::render::page::content_security_policy()
        );
        r.text().await.unwrap()
    };
    let before = page(&app).await;
    assert!(before.contains("Connect with Strava"), "{before}");
    assert!(before.contains("href=\"/strava/authorize\""));
    assert!(before.contains("data-connection=\"not_connected\""));
    app.connect_and_sync().await;
    let after = page(&app).await;
    assert!(!after.contains("Connect with Strava"), "{after}");
    assert!(after.contains("data-connection=\"connected\""));
    for link in ["/strava/docs", "/metrics", "/strava/cards/calendar.svg"] {
        assert!(after.contains(&format!("\"{link}")), "{link}");
    }
    assert!(!after.contains("<script"));
    let newest = json(app.get("/strava/stats/activities").await).await;
    let name = newest["data"][0]["name"].as_str().unwrap();
    assert!(after.contains(&milepost::render::format::escape(name)));
}

#[actix_web::test]
async fn a_hostile_name_appears_escaped_in_the_page_and_every_card_and_a_hostile_type_is_refused() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let start = app.sim.now() - Duration::minutes(40);
    let mut run = milepost::simulator::SimActivity::new("Run", start, 7_000.0, 2_100);
    run.name = HOSTILE.to_owned();
    app.sim.add_activity(run);
    sync_again(&app).await;

    let page = app.get("/").await.text().await.unwrap();
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;";
    assert!(page.contains(escaped), "the name, escaped: {page}");
    assert!(!page.contains("<script"), "{page}");
    for path in card_paths() {
        let svg = card(&app, &path).await;
        assert!(!svg.contains("<script"), "{path}");
    }
    // A type is one of Strava's sports (SPEC §5): a hostile one is refused, not drawn.
    for name in ["monthly", "calendar", "streaks"] {
        let path = format!("/strava/cards/{name}.svg?type={}", encoded(HOSTILE));
        let r = app.get(&path).await;
        assert_eq!(r.status().as_u16(), 422, "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("<script"), "{path}: {body}");
    }
}

#[actix_web::test]
async fn a_new_activity_moves_its_years_calendars_and_every_calendar_carries_the_new_sync() {
    use milepost::simulator::SimActivity;
    let app = spawn_app().await;
    app.connect_and_sync().await;
    // A public run that ended a few minutes ago, in the local year it started in.
    let run = SimActivity::new("Run", app.sim.now() - Duration::minutes(45), 7_500.0, 2_400);
    let year = (run.start_date + Duration::seconds(i64::from(run.utc_offset))).year();
    let calendars = [
        (year, None),
        (year, Some("Run")),
        (year, Some("Ride")),
        (year - 1, None),
        (year - 1, Some("Run")),
    ];
    let read = async |app: &TestApp| {
        let mut all = Vec::new();
        for (year, kind) in calendars {
            let path = match kind {
                Some(kind) => format!("/strava/stats/calendar?year={year}&type={kind}"),
                None => format!("/strava/stats/calendar?year={year}"),
            };
            all.push(json(app.get(&path).await).await);
        }
        all
    };
    let before = read(&app).await;

    app.sim.add_activity(run);
    app.sim.advance_clock(std::time::Duration::from_secs(60));
    sync_again(&app).await;
    let after = read(&app).await;
    let public = public(&app);
    let fetched_at = json(app.get("/strava/stats/monthly").await).await["fetched_at"].clone();
    for (((year, kind), before), after) in calendars.iter().zip(&before).zip(&after) {
        assert_eq!(
            after["data"],
            expected_calendar(&public, *year, *kind),
            "{year} {kind:?}"
        );
        assert_eq!(after["fetched_at"], fetched_at, "{year} {kind:?}");
        assert_ne!(after["fetched_at"], before["fetched_at"], "{year} {kind:?}");
    }
    // This year's calendars of all types and of runs moved; the others kept their days.
    assert_ne!(after[0]["data"], before[0]["data"]);
    assert_ne!(after[1]["data"], before[1]["data"]);
    for i in 2..5 {
        assert_eq!(after[i]["data"], before[i]["data"], "{:?}", calendars[i]);
    }
}

#[actix_web::test]
async fn followers_only_and_only_me_activities_change_nothing_on_the_new_routes() {
    use milepost::simulator::{SimActivity, Visibility};
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let year = today(&app, &public(&app)).year();
    let json_paths = [
        "/strava/stats/weekly".to_owned(),
        "/strava/stats/weekly?type=Ride".to_owned(),
        "/strava/stats/calendar".to_owned(),
        format!("/strava/stats/calendar?year={year}&type=Run"),
        "/strava/stats/streaks".to_owned(),
        "/strava/stats/streaks?type=Ride".to_owned(),
        "/strava/stats/eddington".to_owned(),
    ];
    let data = async |app: &TestApp| {
        let mut all = Vec::new();
        for path in &json_paths {
            all.push(json(app.get(path).await).await["data"].clone());
        }
        all
    };
    let cards = async |app: &TestApp| {
        let mut all = Vec::new();
        for path in card_paths() {
            all.push(card(app, &path).await);
        }
        all
    };
    let (data_before, cards_before) = (data(&app).await, cards(&app).await);

    // Long, today and yesterday: they would move every figure, streak and number.
    let mut secret = Vec::new();
    for (i, (sport, visibility)) in [
        ("Ride", Visibility::FollowersOnly),
        ("Run", Visibility::OnlyMe),
        ("Ride", Visibility::OnlyMe),
        ("Run", Visibility::FollowersOnly),
    ]
    .into_iter()
    .enumerate()
    {
        let start = app.sim.now() - Duration::hours(2 + 20 * i as i64);
        let mut a = SimActivity::new(sport, start, 250_000.0, 30_000);
        a.visibility = visibility;
        a.name = format!("Secret session {i} 7f3a");
        secret.push(app.sim.add_activity(a));
    }
    sync_again(&app).await;

    assert_eq!(data(&app).await, data_before);
    assert_eq!(cards(&app).await, cards_before);
    let page = app.get("/").await.text().await.unwrap();
    assert!(!page.contains("Secret session"), "{page}");
    for id in secret {
        let row = format!("data-activity-id=\"{id}\"");
        assert!(!page.contains(&row), "activity {id} on the page");
    }
}
