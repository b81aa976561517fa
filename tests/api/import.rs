//! Imports (SPEC §11): the simulator's export against the API sync of the same athlete, merging,
//! re-imports, privacy, forgetting, bad input, the watched folder and `milepost import`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use milepost::actors::importer::{Progress, StartImport};
use milepost::import::Visibility;
use milepost::import::summary::Summary;
use milepost::simulator::{ExportOptions, SimConfig};
use serde_json::Value;

use crate::helpers::*;

const GPX_RUN: &str = "tests/fixtures/import/gpx/garmin-activity.gpx";
const FIT_RUN: &str = "tests/fixtures/import/fit/garmin-fenix-5-run.fit";
const FIT_SETTINGS: &str = "tests/fixtures/import/fit/Settings.fit";
const TCX_RUN: &str = "tests/fixtures/import/tcx/test.tcx";

/// A fresh folder for one test's files.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("milepost-import-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The simulator's athlete as an export ZIP in `dir`. Written off the test's thread: a test
/// runtime stalled for seconds keeps kept-alive connections it can no longer notice closing.
async fn export_of(app: &TestApp, dir: &Path, public_only: bool) -> PathBuf {
    let path = dir.join("export.zip");
    let activities: Vec<_> = app
        .sim
        .activities()
        .iter()
        .filter_map(|json| json["id"].as_i64())
        .filter_map(|id| app.sim.activity(id))
        .collect();
    let out = path.clone();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::create(&out).expect("creating the export");
        milepost::simulator::write_export(&activities, file, &ExportOptions { public_only })
            .expect("writing the export");
    })
    .await
    .expect("the export is written");
    path
}

/// Runs an import through the app's ImportActor to its end.
async fn import_with(app: &TestApp, start: StartImport) -> Result<Summary, String> {
    let mut job = app
        .services
        .importer
        .ask(start)
        .await
        .expect("the ImportActor answers")
        .expect("the import starts");
    loop {
        let progress: Progress = job.progress.borrow_and_update().clone();
        if let Some(outcome) = progress.outcome {
            return outcome;
        }
        job.progress
            .changed()
            .await
            .expect("the job reports its end");
    }
}

async fn import(app: &TestApp, inputs: Vec<PathBuf>) -> Summary {
    import_with(
        app,
        StartImport {
            inputs,
            ..StartImport::default()
        },
    )
    .await
    .expect("the import succeeds")
}

/// Every read route's body without `fetched_at` (and `kudos_count`, which an export cannot
/// carry), by path.
async fn every_body(app: &TestApp) -> Vec<(String, Value)> {
    let mut paths: Vec<String> = [
        "/strava/stats/activities",
        "/strava/stats/monthly",
        "/strava/stats/monthly?type=Run",
        "/strava/stats/monthly?type=Ride",
        "/strava/stats/weekly",
        "/strava/stats/streaks",
        "/strava/stats/eddington",
        "/strava/stats/totals",
        "/strava/stats/yearly",
    ]
    .map(String::from)
    .to_vec();
    let yearly = json(get(app, "/strava/stats/yearly").await).await;
    let years: Vec<String> = yearly["data"]
        .as_object()
        .map(|years| years.keys().cloned().collect())
        .unwrap_or_default();
    for year in &years {
        paths.push(format!("/strava/stats/summary/{year}"));
        paths.push(format!("/strava/stats/longest-run?year={year}"));
        paths.push(format!("/strava/stats/longest-ride?year={year}"));
        paths.push(format!("/strava/stats/calendar?year={year}"));
    }
    let total = json(get(app, "/strava/activities?limit=1").await).await["total"]
        .as_u64()
        .unwrap_or(0);
    for offset in (0..total).step_by(200) {
        paths.push(format!("/strava/activities?limit=200&offset={offset}"));
    }
    let mut bodies = Vec::new();
    for path in paths {
        let r = get(app, &path).await;
        let status = r.status().as_u16();
        let body = json(r).await;
        bodies.push((format!("{path} (raw)"), body.clone()));
        let mut body = body;
        scrub(&mut body);
        bodies.push((path, serde_json::json!({"status": status, "body": body})));
    }
    bodies
}

/// A GET, tried again once should a kept-alive connection close under it.
async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    match app.http.get(app.url(path)).send().await {
        Ok(r) => r,
        Err(_) => app.get(path).await,
    }
}

/// Heart rate the API shows, and the import's copy of it, by activity id. The API hides it for
/// an athlete who opted out; the export still holds it, so only what the API shows is compared.
fn heart_rates(bodies: &[(String, Value)]) -> Vec<(i64, Value)> {
    bodies
        .iter()
        .filter(|(path, _)| path.starts_with("/strava/activities") && path.ends_with("(raw)"))
        .flat_map(|(_, v)| v["data"].as_array().cloned().unwrap_or_default())
        .map(|a| (a["id"].as_i64().unwrap_or(0), a["heart_rate"].clone()))
        .collect()
}

fn scrub(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("fetched_at");
            map.remove("kudos_count");
            map.remove("heart_rate");
            map.values_mut().for_each(scrub);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn assert_same_bodies(left: &[(String, Value)], right: &[(String, Value)]) {
    let shown: std::collections::HashMap<i64, Value> = heart_rates(right).into_iter().collect();
    for (id, api) in heart_rates(left) {
        if api["average"].is_number() {
            assert_eq!(shown.get(&id), Some(&api), "heart rate of {id}");
        }
    }
    let left: Vec<&(String, Value)> = left.iter().filter(|(p, _)| !p.ends_with("(raw)")).collect();
    let right: Vec<&(String, Value)> = right
        .iter()
        .filter(|(p, _)| !p.ends_with("(raw)"))
        .collect();
    assert_eq!(
        left.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        right.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for ((path, a), (_, b)) in left.iter().zip(right) {
        assert_eq!(a, b, "{path} differs");
    }
}

/// Strava's ytd totals are rounded to the decimetre; a sum of the activities is not.
fn assert_ytd_close(strava: &Value, summed: &Value) {
    for family in ["run", "ride", "swim"] {
        let (a, b) = (&strava["data"][family], &summed["data"][family]);
        assert_eq!(a["count"], b["count"], "{family}");
        assert_eq!(a["moving_time"], b["moving_time"], "{family}");
        for figure in ["distance", "elevation_gain"] {
            let (x, y) = (a[figure].as_f64().unwrap(), b[figure].as_f64().unwrap());
            assert!((x - y).abs() < 0.5, "{family} {figure}: {x} vs {y}");
        }
    }
}

/// One number the app's database answers `sql` with.
async fn number(app: &TestApp, sql: &str) -> i64 {
    app.db()
        .await
        .query_one(sql, &[])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

async fn generation(app: &TestApp) -> i64 {
    number(app, "SELECT value FROM generation").await
}

/// The operator's disconnect, which must succeed.
async fn disconnect(app: &TestApp) {
    let r = app.disconnect().await;
    assert_eq!(r.status(), 200);
}

#[actix_web::test]
async fn an_export_imported_without_the_api_serves_what_the_api_sync_serves() {
    // Arrange: one instance syncs the athlete from the API; another never connects
    let synced = spawn_app().await;
    synced.connect_and_sync().await;
    let dir = scratch();
    let export = export_of(&synced, &dir, true).await;
    let imported = spawn_app_with(SimConfig::default(), |s| {
        s.athlete_timezone = Some("Europe/Oslo".into());
    })
    .await;

    // Act
    let summary = import(&imported, vec![export]).await;

    // Assert: every activity new, none refused, every route as the API sync's
    let listed = json(synced.get("/strava/activities?limit=1").await).await["total"]
        .as_u64()
        .unwrap();
    assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    assert_eq!(summary.activities.new, listed);
    assert_eq!(summary.public, listed);
    assert!(summary.files_read >= listed);
    assert_same_bodies(&every_body(&synced).await, &every_body(&imported).await);
    assert_ytd_close(
        &json(synced.get("/strava/stats/ytd").await).await,
        &json(imported.get("/strava/stats/ytd").await).await,
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn an_export_of_activities_the_api_already_gave_changes_no_figure_and_a_second_import_nothing()
 {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let dir = scratch();
    let export = export_of(&app, &dir, true).await;
    let before = every_body(&app).await;
    let ytd = json(app.get("/strava/stats/ytd").await).await;

    let first = import(&app, vec![export.clone()]).await;

    assert!(first.refused.is_empty(), "{:?}", first.refused);
    assert_eq!(first.activities.new, 0);
    assert!(first.activities.merged > 0);
    assert_same_bodies(&before, &every_body(&app).await);
    // Strava's own ytd stays: the API knows every imported activity
    let mut after_ytd = json(app.get("/strava/stats/ytd").await).await;
    after_ytd.as_object_mut().unwrap().remove("fetched_at");
    let mut ytd = ytd;
    ytd.as_object_mut().unwrap().remove("fetched_at");
    assert_eq!(ytd, after_ytd);

    // A second import of the same input: everything unchanged, nothing written
    let generation_before = generation(&app).await;
    let second = import(&app, vec![export]).await;
    assert_eq!(second.activities.unchanged, first.activities.merged);
    assert_eq!(
        (
            second.activities.new,
            second.activities.updated,
            second.activities.merged
        ),
        (0, 0, 0)
    );
    assert_eq!(generation(&app).await, generation_before);
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn real_device_files_give_the_figures_an_independent_decoder_gives() {
    let app = spawn_app().await;

    let summary = import(
        &app,
        vec![fixture(GPX_RUN), fixture(FIT_RUN), fixture(TCX_RUN)],
    )
    .await;

    assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    assert_eq!(summary.activities.new, 3);
    let list = json(app.get("/strava/activities?limit=10").await).await;
    let by_start = |start: &str| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["start_date"] == start)
            .unwrap_or_else(|| panic!("no activity starting {start}: {list}"))
            .clone()
    };
    // fitdecode 0.11 (tests/fixtures/import/fit/README.md): the fēnix 5 run, 7 h behind UTC
    let fit = by_start("2017-06-11T14:34:09Z");
    assert_eq!(fit["distance"], 157.56);
    assert_eq!(fit["elapsed_time"], 57);
    assert_eq!(fit["start_date_local"], "2017-06-11T07:34:09Z");
    assert_eq!(fit["sport_type"], "Run");
    assert!(
        fit["id"].as_i64().unwrap() < 0,
        "a file alone gets its own negative id"
    );
    // expected.py (tests/fixtures/import/gpx): the Garmin Connect run
    let gpx = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| (a["distance"].as_f64().unwrap() - 12821.2).abs() < 0.5)
        .unwrap_or_else(|| panic!("no GPX run of 12821.2 m: {list}"))
        .clone();
    assert_eq!(gpx["moving_time"], 5485);
    assert_eq!(gpx["elapsed_time"], 5498);
    assert!((gpx["total_elevation_gain"].as_f64().unwrap() - 214.2).abs() < 0.01);
    assert_eq!(gpx["heart_rate"]["max"], 171.0);
}

#[actix_web::test]
async fn only_me_imports_show_nothing_and_forget_deletes_every_imported_activity() {
    let app = spawn_app().await;

    let summary = import_with(
        &app,
        StartImport {
            inputs: vec![fixture(GPX_RUN), fixture(FIT_RUN)],
            visibility: Some(Visibility::OnlyMe),
            ..StartImport::default()
        },
    )
    .await
    .unwrap();

    assert_eq!((summary.activities.new, summary.public), (2, 0));
    let list = json(app.get("/strava/activities").await).await;
    assert_eq!(list["total"], 0);
    assert_eq!(
        json(app.get("/strava/stats/totals").await).await["data"],
        serde_json::json!({})
    );

    // Imported again without a word on visibility: as private as they were
    let again = import(&app, vec![fixture(GPX_RUN), fixture(FIT_RUN)]).await;
    assert_eq!((again.activities.unchanged, again.public), (2, 0));
    // Now public, then forgotten
    import_with(
        &app,
        StartImport {
            inputs: vec![fixture(GPX_RUN), fixture(FIT_RUN)],
            visibility: Some(Visibility::Everyone),
            ..StartImport::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(json(app.get("/strava/activities").await).await["total"], 2);
    let deleted = app
        .services
        .importer
        .ask(milepost::actors::importer::ForgetImports)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(json(app.get("/strava/activities").await).await["total"], 0);
    assert_eq!(app.get("/strava/stats/ytd").await.status(), 404);
    assert_eq!(app.rows("imported_activities").await, 0);
}

#[actix_web::test]
async fn a_disconnect_leaves_what_was_imported_and_ytd_then_sums_it() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    import(&app, vec![fixture(GPX_RUN)]).await;
    let total = json(app.get("/strava/activities?limit=1").await).await["total"]
        .as_u64()
        .unwrap();
    assert!(total > 1);

    disconnect(&app).await;
    let list = json(app.get("/strava/activities").await).await;
    assert_eq!(list["total"], 1, "{list}");
    assert!(list["data"][0]["id"].as_i64().unwrap() < 0);
    // The GPX run is from 2019: nothing this year, but ytd is served, summed from imports
    let ytd = json(app.get("/strava/stats/ytd").await).await;
    assert_eq!(ytd["data"]["run"]["count"], 0, "{ytd}");
    assert_eq!(app.rows("activities").await, 0);
}

#[actix_web::test]
async fn bad_files_are_refused_with_their_reason_and_the_rest_is_imported() {
    let app = spawn_app().await;
    let dir = scratch();
    let good = dir.join("good.gpx");
    std::fs::copy(fixture(GPX_RUN), &good).unwrap();
    let fit = std::fs::read(fixture(FIT_RUN)).unwrap();
    std::fs::write(dir.join("truncated.fit"), &fit[..fit.len() / 2]).unwrap();
    std::fs::copy(fixture(FIT_SETTINGS), dir.join("settings.fit")).unwrap();
    std::fs::write(dir.join("broken.gpx"), "<gpx><trk><trkseg><trkpt lat=\"1\"").unwrap();
    let tcx = std::fs::read(fixture(TCX_RUN)).unwrap();
    std::fs::write(dir.join("truncated.tcx"), &tcx[..tcx.len() / 2]).unwrap();
    std::fs::copy(
        fixture("tests/fixtures/import/gpx/strava_route_example.gpx"),
        dir.join("route.gpx"),
    )
    .unwrap();

    let summary = import(&app, vec![dir.clone()]).await;

    assert_eq!(summary.activities.new, 1);
    let reasons: Vec<(String, String)> = summary
        .refused
        .iter()
        .map(|r| (r.file.clone(), r.reason.clone()))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    for name in [
        "truncated.fit",
        "settings.fit",
        "broken.gpx",
        "route.gpx",
        "truncated.tcx",
    ] {
        let (_, reason) = reasons
            .iter()
            .find(|(file, _)| file.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not refused: {reasons:?}"));
        assert!(!reason.is_empty());
    }
    assert!(
        reasons
            .iter()
            .any(|(f, r)| f.ends_with("settings.fit") && r.contains("not an activity")),
        "{reasons:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn a_corrupt_archive_fails_the_job_and_changes_nothing() {
    let app = spawn_app().await;
    let dir = scratch();
    let zip = dir.join("export.zip");
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend(std::iter::repeat_n(0x5a, 4000));
    std::fs::write(&zip, bytes).unwrap();

    let outcome = import_with(
        &app,
        StartImport {
            inputs: vec![zip],
            ..StartImport::default()
        },
    )
    .await;

    let error = outcome.expect_err("a corrupt archive cannot be read");
    assert!(error.contains("export.zip"), "{error}");
    assert_eq!(app.rows("imported_activities").await, 0);
    let job: (String, Option<String>) = {
        let row = app
            .db()
            .await
            .query_one("SELECT state, error FROM import_jobs", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(job.0, "failed");
    assert!(job.1.is_some());
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn a_bad_csv_row_is_refused_and_the_other_rows_are_imported() {
    let app = spawn_app().await;
    let dir = scratch();
    let columns = milepost::simulator::ACTIVITIES_CSV_HEADER.len();
    let header = milepost::simulator::ACTIVITIES_CSV_HEADER.join(",");
    let row = |id: &str, date: &str| {
        let mut cells = vec![String::new(); columns];
        cells[0] = id.into();
        cells[1] = format!("\"{date}\"");
        cells[2] = "Evening Run".into();
        cells[3] = "Run".into();
        cells[15] = "1800".into();
        cells[16] = "1700".into();
        cells[17] = "5000.0".into();
        cells.join(",")
    };
    std::fs::write(
        dir.join("activities.csv"),
        format!(
            "{header}\n{}\n{}\n",
            row("12345", "Mar 3, 2024, 5:10:00 PM"),
            row("12346", "not a date")
        ),
    )
    .unwrap();
    std::fs::create_dir(dir.join("activities")).unwrap();

    let summary = import(&app, vec![dir.clone()]).await;

    assert_eq!(summary.activities.new, 1);
    assert_eq!(summary.refused.len(), 1, "{:?}", summary.refused);
    assert!(
        summary.refused[0].file.ends_with("activities.csv:2"),
        "{:?}",
        summary.refused
    );
    let list = json(app.get("/strava/activities").await).await;
    assert_eq!(list["data"][0]["id"], 12345);
    assert_eq!(list["data"][0]["distance"], 5000.0);
    assert_eq!(list["data"][0]["start_date"], "2024-03-03T17:10:00Z");
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn the_watched_folder_takes_a_new_file_once_it_stops_growing_and_ignores_a_copy() {
    let dir = scratch();
    let watched = dir.clone();
    let app = spawn_app_with(SimConfig::default(), move |s| {
        s.import_dir = Some(watched.display().to_string());
        s.import_scan_secs = 1;
    })
    .await;

    // A file still being written (it grows between every two looks) is not taken
    let gpx = std::fs::read(fixture(GPX_RUN)).unwrap();
    let growing = dir.join("run.gpx");
    let pieces: Vec<&[u8]> = gpx.chunks(gpx.len().div_ceil(10)).collect();
    for piece in pieces {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&growing)
            .unwrap();
        file.write_all(piece).unwrap();
        drop(file);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(app.rows("import_jobs").await, 0, "a growing file was taken");

    // Once it stopped growing: within three periods of one second (room for a slow machine)
    let mut taken = false;
    for _ in 0..80 {
        if json(app.get("/strava/activities").await).await["total"] == 1 {
            taken = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(taken, "the watched file was not imported");
    assert_eq!(app.rows("import_jobs").await, 1);

    // A copy under another name costs nothing: no second job
    std::fs::copy(fixture(GPX_RUN), dir.join("copy-of-run.gpx")).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(app.rows("import_jobs").await, 1);
    assert_eq!(json(app.get("/strava/activities").await).await["total"], 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn milepost_import_prints_one_json_object_and_a_running_server_serves_the_result() {
    let app = spawn_app().await;
    let dir = scratch();
    std::fs::copy(fixture(GPX_RUN), dir.join("run.gpx")).unwrap();
    std::fs::copy(fixture(FIT_SETTINGS), dir.join("settings.fit")).unwrap();
    // Run off the test's thread, which keeps serving its connections meanwhile.
    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_milepost"));
        command
            .args(args)
            .env_clear()
            .envs(settings_env(&app.settings))
            .current_dir(&dir)
            .stdin(std::process::Stdio::null());
        async move {
            tokio::task::spawn_blocking(move || command.output().expect("running milepost import"))
                .await
                .expect("milepost import ran")
        }
    };

    // A dry run writes nothing
    let dry = run(&["import", "--dry-run", "--json", "run.gpx"]).await;
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let summary: Value = serde_json::from_slice(&dry.stdout).expect("one JSON object");
    assert_eq!(summary["activities"]["new"], 1);
    assert_eq!(app.rows("imported_activities").await, 0);

    // One file refused: exit 1, the rest imported, served by the running server within a second
    let out = run(&["import", "--json", "."]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    for key in [
        "files_read",
        "activities",
        "public",
        "refused",
        "local_time",
        "seconds",
    ] {
        assert!(summary.get(key).is_some(), "{key} missing: {summary}");
    }
    assert_eq!(summary["activities"]["new"], 1);
    assert_eq!(summary["refused"].as_array().unwrap().len(), 1);
    let mut served = false;
    for _ in 0..20 {
        if json(app.get("/strava/activities").await).await["total"] == 1 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        served,
        "the server did not serve the import within a second"
    );

    // Nothing to read at all: exit 2; a usage error: exit 2
    assert_eq!(
        run(&["import", "no-such-file.fit"]).await.status.code(),
        Some(2)
    );
    assert_eq!(run(&["import"]).await.status.code(), Some(2));

    // --forget: how many went, as JSON
    let forget = run(&["import", "--forget", "--json"]).await;
    assert_eq!(forget.status.code(), Some(0));
    let deleted: Value = serde_json::from_slice(&forget.stdout).unwrap();
    assert_eq!(deleted, serde_json::json!({"deleted": 1}));
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn an_import_killed_halfway_leaves_whole_activities_and_a_rerun_finishes_it() {
    let app = spawn_app().await;
    let dir = scratch();
    let export = export_of(&app, &dir, false).await;
    let command = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_milepost"));
        command
            .args(["import", "--json"])
            .arg(&export)
            .env_clear()
            .envs(settings_env(&app.settings))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        command
    };
    let total = app.sim.activities().len() as i64;

    // Killed (SIGKILL) once the first batch is in and before the last
    let mut child = command().spawn().expect("starting milepost import");
    let mut stored = 0;
    for _ in 0..6000 {
        stored = app.rows("imported_activities").await;
        if stored > 0 || child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    assert!(
        stored > 0 && stored < total,
        "{stored} of {total} when killed"
    );

    // Whatever is stored is whole activities, whole batches of them
    let after_kill = app.rows("imported_activities").await;
    assert_eq!(
        after_kill % 500,
        0,
        "{after_kill} activities: a batch was cut"
    );
    let broken = number(
        &app,
        "SELECT count(*) FROM imported_activities
         WHERE summary->>'start_date' IS NULL OR summary->>'name' IS NULL",
    )
    .await;
    assert_eq!(broken, 0);

    // The rerun finishes it
    let rerun = command().output().expect("running milepost import again");
    let summary: Value = serde_json::from_slice(&rerun.stdout).expect("one JSON object");
    let counts = &summary["activities"];
    assert_eq!(
        counts["new"].as_i64().unwrap() + counts["unchanged"].as_i64().unwrap(),
        total,
        "{summary}"
    );
    assert_eq!(counts["unchanged"].as_i64().unwrap(), after_kill);
    assert_eq!(app.rows("imported_activities").await, total);
    // The killed job is not left running for GET /strava/import/{id}
    let states: Vec<String> = app
        .db()
        .await
        .query("SELECT state FROM import_jobs ORDER BY started_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(states, ["failed", "done"]);
    let _ = std::fs::remove_dir_all(dir);
}

/// A ZIP of `entries` (name, bytes), deflated.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[actix_web::test]
async fn hostile_archive_entries_are_refused_before_they_are_inflated_and_the_rest_is_read() {
    let app = spawn_app_with(SimConfig::default(), |s| s.import_max_entry_bytes = 400_000).await;
    let dir = scratch();
    let gpx = std::fs::read(fixture(GPX_RUN)).unwrap();
    let fit = std::fs::read(fixture(FIT_RUN)).unwrap();
    let big: Vec<u8> = std::iter::repeat_n(b' ', 300_000)
        .chain(gpx.iter().copied())
        .collect();
    // Within the size limit, but zeros compress far past 100:1
    let bomb = vec![0u8; 390_000];
    let mut bytes = zip_of(&[
        ("../escaped.gpx", &gpx),
        ("/etc/absolute.gpx", &gpx),
        ("big.gpx", &big),
        ("bomb.fit", &bomb),
        ("caf?.fit", &fit),
    ]);
    // A name that is not UTF-8 (Latin-1 é), in the local header and the central directory alike
    let from: &[u8] = b"caf?.fit";
    let to: &[u8] = b"caf\xe9.fit";
    let mut at = 0;
    while let Some(found) = bytes[at..].windows(from.len()).position(|w| w == from) {
        bytes[at + found..at + found + from.len()].copy_from_slice(to);
        at += found + from.len();
    }
    let archive = dir.join("hostile.zip");
    std::fs::write(&archive, bytes).unwrap();

    let summary = import(&app, vec![archive]).await;

    // The FIT under the Latin-1 name is read; nothing lands outside; each other entry has its reason
    assert_eq!(summary.activities.new, 1, "{summary:?}");
    let reason = |name: &str| {
        summary
            .refused
            .iter()
            .find(|r| r.file.contains(name))
            .unwrap_or_else(|| panic!("{name} not refused: {:?}", summary.refused))
            .reason
            .clone()
    };
    assert!(!reason("escaped.gpx").is_empty());
    assert!(!reason("absolute.gpx").is_empty());
    assert!(
        reason("big.gpx").contains("IMPORT_MAX_ENTRY_BYTES"),
        "{}",
        reason("big.gpx")
    );
    assert!(
        reason("bomb.fit").contains("100:1"),
        "{}",
        reason("bomb.fit")
    );
    assert_eq!(summary.refused.len(), 4, "{:?}", summary.refused);
    assert!(!dir.parent().unwrap().join("escaped.gpx").exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn a_name_with_markup_is_served_escaped_on_the_page_and_the_cards() {
    let app = spawn_app().await;
    let dir = scratch();
    let gpx = std::fs::read_to_string(fixture(GPX_RUN)).unwrap();
    let hostile = "<script>alert(1)</script> & \"friends\"";
    assert!(gpx.contains("<name>casual stroll</name>"));
    let named = gpx.replace(
        "<name>casual stroll</name>",
        "<name>&lt;script&gt;alert(1)&lt;/script&gt; &amp; \"friends\"</name>",
    );
    std::fs::write(dir.join("named.gpx"), named).unwrap();

    import(&app, vec![dir.join("named.gpx")]).await;

    let list = json(app.get("/strava/activities").await).await;
    assert_eq!(list["data"][0]["name"], hostile);
    let page = app.get("/").await.text().await.unwrap();
    assert!(
        !page.contains("<script>alert"),
        "the page holds the raw name"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn private_activities_merged_with_the_api_stay_private_after_a_disconnect() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let dir = scratch();
    // Every visibility, as Strava's own export holds them, imported as Everyone by default
    let export = export_of(&app, &dir, false).await;
    let public_before = json(app.get("/strava/activities?limit=1").await).await["total"]
        .as_u64()
        .unwrap();
    let everything = app.sim.activities().len() as u64;
    assert!(
        everything > public_before,
        "the athlete has non-public activities"
    );

    let summary = import(&app, vec![export]).await;
    assert_eq!(summary.activities.merged, everything);
    assert_eq!(summary.public, public_before);
    disconnect(&app).await;

    // The imported copies stay, as visible as the API said they were
    let after = json(app.get("/strava/activities?limit=1").await).await["total"]
        .as_u64()
        .unwrap();
    assert_eq!(after, public_before);
    assert_eq!(app.rows("imported_activities").await as u64, everything);
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn ytd_sums_both_sources_once_an_import_holds_an_activity_the_api_does_not_know() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let strava = json(app.get("/strava/stats/ytd").await).await;
    // A run of this year uploaded after the sync: in the export, not yet known to the API
    use chrono::{Datelike, TimeZone};
    let now = app.sim.now();
    let mut start = now - chrono::Duration::hours(30);
    if start.year() != now.year() {
        // Early in January: midday of the first, still this local year
        start = chrono::Utc
            .with_ymd_and_hms(now.year(), 1, 1, 12, 0, 0)
            .unwrap();
    }
    let run = milepost::simulator::SimActivity::new("Run", start, 10_000.0, 3000);
    app.sim.add_activity(run);
    let dir = scratch();
    let export = export_of(&app, &dir, true).await;

    let summary = import(&app, vec![export]).await;

    assert_eq!(summary.activities.new, 1, "{summary:?}");
    let summed = json(app.get("/strava/stats/ytd").await).await;
    let count = |v: &Value, family: &str| v["data"][family]["count"].as_i64().unwrap();
    assert_eq!(count(&summed, "run"), count(&strava, "run") + 1, "{summed}");
    assert_eq!(count(&summed, "ride"), count(&strava, "ride"));
    assert_eq!(count(&summed, "swim"), count(&strava, "swim"));
    let distance = |v: &Value| v["data"]["run"]["distance"].as_f64().unwrap();
    assert!((distance(&summed) - distance(&strava) - 10_000.0).abs() < 0.5);
    let _ = std::fs::remove_dir_all(dir);
}

/// The activity files of an export ZIP, unzipped into `dir`, as a watch's folder would hold them.
fn files_of(export: &Path, dir: &Path) -> usize {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(export).unwrap()).unwrap();
    let mut count = 0;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        let Some(file) = name.strip_prefix("activities/") else {
            continue;
        };
        let mut out = std::fs::File::create(dir.join(file)).unwrap();
        std::io::copy(&mut entry, &mut out).unwrap();
        count += 1;
    }
    count
}

async fn negative_ids(app: &TestApp) -> i64 {
    number(app, "SELECT count(*) FROM imported_activities WHERE id < 0").await
}

#[actix_web::test]
async fn files_imported_before_the_api_or_the_export_are_never_counted_twice() {
    // Arrange: the athlete's files, alone, imported into an instance that never synced
    let app = spawn_app().await;
    let dir = scratch();
    let export = export_of(&app, &dir, true).await;
    let files = dir.join("files");
    std::fs::create_dir(&files).unwrap();
    let count = files_of(&export, &files);
    let summary = import(&app, vec![files.clone()]).await;
    assert_eq!(summary.activities.new as usize, count);
    assert_eq!(negative_ids(&app).await as usize, count);

    // Act: the export names the same activities with Strava's ids
    let summary = import(&app, vec![export]).await;

    // Assert: one activity each, under Strava's id
    let public = app
        .sim
        .activities()
        .iter()
        .filter(|a| a["visibility"] == "everyone")
        .count();
    assert_eq!(negative_ids(&app).await, 0, "{summary:?}");
    let total = json(app.get("/strava/activities?limit=1").await).await["total"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(total, public);

    // And the same when the API comes first after files: another instance, files then a sync
    let other = spawn_app().await;
    import(&other, vec![files]).await;
    other.connect_and_sync().await;
    assert_eq!(negative_ids(&other).await, 0);
    let synced = json(other.get("/strava/activities?limit=1").await).await["total"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(synced, public);
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn an_export_imported_again_after_a_disconnect_changes_nothing() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let dir = scratch();
    let export = export_of(&app, &dir, false).await;
    import(&app, vec![export.clone()]).await;
    disconnect(&app).await;
    let before = every_body(&app).await;

    let again = import(&app, vec![export]).await;

    assert_eq!(
        (
            again.activities.new,
            again.activities.updated,
            again.activities.merged
        ),
        (0, 0, 0),
        "{again:?}"
    );
    assert_same_bodies(&before, &every_body(&app).await);
    let _ = std::fs::remove_dir_all(dir);
}
