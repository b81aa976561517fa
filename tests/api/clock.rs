//! One clock: retention, the day change and the athlete's local year all follow the clock the app
//! shares with the simulator, so moving it moves all of them.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use milepost::simulator::{SimActivity, SimConfig};
use serde_json::{Value, json};

use crate::helpers::{TestApp, eventually, json, spawn_app_with};

/// Moves the shared clock forward to `to`.
fn advance_to(app: &TestApp, to: DateTime<Utc>) {
    let by = (to - app.sim.now()).to_std().expect("only forward");
    app.sim.advance_clock(by);
}

/// A connected, synced athlete whose newest activity was recorded `offset_hours` from UTC (that
/// activity decides their local time), with a retention period long enough to move the clock
/// by weeks without losing the data.
async fn athlete_at(offset_hours: i32, zone: &str) -> TestApp {
    let app = spawn_app_with(
        SimConfig {
            history_years: 0,
            ..SimConfig::default()
        },
        |s| s.retention_days = 3650,
    )
    .await;
    app.sim.add_activity(
        SimActivity::new("Run", app.sim.now() - Duration::seconds(5), 5_000.0, 1_500)
            .with_timezone(zone, offset_hours * 3600),
    );
    app.connect_and_sync().await;
    let newest = json(app.get("/strava/activities?limit=1").await).await;
    assert_eq!(
        newest["data"][0]["start_date"],
        json!(
            app.sim
                .activities()
                .iter()
                .map(|a| a["start_date"].as_str().unwrap().to_owned())
                .max()
                .unwrap()
        ),
        "the added activity is the newest"
    );
    app
}

/// The first New Year (UTC midnight) at least `margin` after the simulator's now.
fn next_new_year(app: &TestApp, margin: Duration) -> DateTime<Utc> {
    let mut year = app.sim.now().year() + 1;
    loop {
        let new_year = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
        if new_year - margin > app.sim.now() {
            return new_year;
        }
        year += 1;
    }
}

async fn status_and_body(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app.get(path).await;
    let status = r.status().as_u16();
    (status, json(r).await)
}

/// Before the athlete's local New Year: the old year is the current one.
async fn assert_still_the_old_year(app: &TestApp, old: i32) {
    let new = old + 1;
    let (status, body) = status_and_body(app, &format!("/strava/stats/summary/{new}")).await;
    assert_eq!(status, 422, "{new} is still in the future: {body}");
    assert_eq!(body["detail"][0]["loc"], json!(["path", "year"]), "{body}");
    let (status, _) = status_and_body(app, &format!("/strava/stats/summary/{old}")).await;
    assert_eq!(status, 200);
    let (status, body) = status_and_body(app, "/strava/stats/longest-run").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["start_date_local"]
            .as_str()
            .unwrap()
            .starts_with(&old.to_string()),
        "the default year is {old}: {body}"
    );
}

/// After it: the new year is current, and has nothing yet.
async fn assert_the_new_year(app: &TestApp, new: i32) {
    let (status, body) = status_and_body(app, &format!("/strava/stats/summary/{new}")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["detail"],
        json!(format!("No activities found for year {new}"))
    );
    let (status, body) = status_and_body(app, "/strava/stats/longest-run").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["detail"],
        json!(format!(
            "No runs found for year {new}. Try /strava/refresh-data"
        ))
    );
    let (status, body) = status_and_body(app, "/strava/stats/longest-ride").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["detail"],
        json!(format!(
            "No rides found for year {new}. Try /strava/refresh-data"
        ))
    );
}

#[actix_web::test]
async fn an_athlete_east_of_utc_gets_the_new_year_on_new_year_s_morning() {
    let app = athlete_at(10, "(GMT+10:00) Australia/Brisbane").await;
    let new_year = next_new_year(&app, Duration::hours(13));
    let old = new_year.year() - 1;
    // UTC Dec 31 12:00 is 22:00 in Brisbane: still the old year there
    advance_to(&app, new_year - Duration::hours(12));
    assert_still_the_old_year(&app, old).await;
    // UTC Dec 31 20:00 is Jan 1 06:00 in Brisbane, while UTC is still in the old year
    advance_to(&app, new_year - Duration::hours(4));
    assert_the_new_year(&app, old + 1).await;
}

#[actix_web::test]
async fn an_athlete_west_of_utc_keeps_the_old_year_on_new_year_s_night() {
    let app = athlete_at(-8, "(GMT-08:00) America/Los_Angeles").await;
    let new_year = next_new_year(&app, Duration::hours(1));
    let old = new_year.year() - 1;
    // UTC Jan 1 03:00 is Dec 31 19:00 in Los Angeles: UTC has the new year, the athlete not
    advance_to(&app, new_year + Duration::hours(3));
    assert_still_the_old_year(&app, old).await;
    // UTC Jan 1 09:00 is Jan 1 01:00 there
    advance_to(&app, new_year + Duration::hours(9));
    assert_the_new_year(&app, old + 1).await;
}

/// The keys of `/strava/stats/monthly`, newest first.
async fn monthly_keys(app: &TestApp) -> Vec<String> {
    let body = json(app.get("/strava/stats/monthly").await).await;
    body["data"].as_object().unwrap().keys().cloned().collect()
}

/// The twelve `YYYY-MM` keys ending with `month`, newest first.
fn twelve_months_to(month: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let (mut y, mut m) = (month.year(), month.month());
    for _ in 0..12 {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    }
    out
}

#[actix_web::test]
async fn the_twelve_months_move_on_at_the_athlete_s_local_midnight_at_the_end_of_a_month() {
    let offset = Duration::hours(-5);
    let app = athlete_at(-5, "(GMT-05:00) America/Bogota").await;
    // The athlete's next local month start at least two hours away, as a UTC instant.
    let local_now = app.sim.now().naive_utc() + offset;
    let mut first = local_now.date().with_day(1).unwrap();
    let next_month_start = loop {
        first = if first.month() == 12 {
            NaiveDate::from_ymd_opt(first.year() + 1, 1, 1).unwrap()
        } else {
            NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1).unwrap()
        };
        let start = first.and_hms_opt(0, 0, 0).unwrap();
        if start - local_now > Duration::hours(2) {
            break start.and_utc() - offset;
        }
    };
    let last_day = (next_month_start + offset - Duration::days(1)).date_naive();
    let next = (next_month_start + offset).date_naive();

    // 23:59:30 on the last day of the month, local time (UTC is already in the next month)
    advance_to(&app, next_month_start - Duration::seconds(30));
    let before = twelve_months_to(last_day);
    assert!(
        eventually(async || monthly_keys(&app).await == before).await,
        "before midnight: {:?}, expected {before:?}",
        monthly_keys(&app).await
    );
    // 00:00:30 on the first of the next month, local time
    advance_to(&app, next_month_start + Duration::seconds(30));
    let after = twelve_months_to(next);
    assert!(
        eventually(async || monthly_keys(&app).await == after).await,
        "after midnight: {:?}, expected {after:?}",
        monthly_keys(&app).await
    );
    let body = json(app.get("/strava/stats/monthly").await).await;
    assert_eq!(
        body["data"][&after[0]],
        json!({"count": 0, "distance": 0.0, "moving_time": 0, "elevation_gain": 0.0}),
        "the new month starts empty"
    );
}

/// How many retention sweeps have completed.
async fn sweeps(app: &TestApp) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("milepost_retention_sweeps_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sweep counter in\n{text}"))
}

#[actix_web::test]
async fn retention_purges_what_strava_has_not_confirmed_once_the_clock_passes_it() {
    let app = spawn_app_with(SimConfig::default(), |s| s.retention_days = 7).await;
    app.connect_and_sync().await;
    let total = json(app.get("/strava/activities").await).await["total"]
        .as_i64()
        .unwrap();
    assert!(total > 0);
    // Six days without a word from Strava: swept, and still served.
    let swept = sweeps(&app).await;
    app.sim
        .advance_clock(std::time::Duration::from_secs(6 * 86_400));
    assert!(
        eventually(async || sweeps(&app).await > swept).await,
        "no sweep"
    );
    assert_eq!(app.get("/strava/stats/ytd").await.status().as_u16(), 200);
    let list = json(app.get("/strava/activities").await).await;
    assert_eq!(list["total"], json!(total));
    // Eight: purged, not served.
    app.sim
        .advance_clock(std::time::Duration::from_secs(2 * 86_400));
    assert!(
        eventually(async || app.get("/strava/stats/ytd").await.status().as_u16() == 404).await,
        "ytd is still served"
    );
    let list = json(app.get("/strava/activities").await).await;
    assert_eq!(list["total"], json!(0));
    let recent = json(app.get("/strava/stats/activities").await).await;
    assert_eq!(recent["data"], json!([]));
    let rows = app.rows("activities").await;
    assert_eq!(rows, 0);
}
