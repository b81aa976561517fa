//! The status page and the cards as a browser shows them: headless Chromium loads `/` from the
//! app, and the figures in the page it rendered must be the JSON routes' figures; it also
//! screenshots the page and every card to PNG files under `target/tmp/browser/` (to look at,
//! not committed).
//!
//! Chromium is Debian's `chromium` (`.ci/run` installs it when missing; `CHROMIUM` names
//! another binary). Without it the test cannot run: under CI that fails it, elsewhere it says
//! so loudly on the terminal (not in the captured output) and passes nothing off as checked.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, json, spawn_app};

/// How long one Chromium run may take.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(named));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| {
            ["chromium", "chromium-browser", "google-chrome"].map(|name| dir.join(name))
        })
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `url` with `args`; its standard output.
async fn run_chromium(binary: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut command = tokio::process::Command::new(binary);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            // lets the page's images load before the DOM or the screenshot is taken
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let output = tokio::time::timeout(CHROMIUM_TIMEOUT, command.output())
        .await
        .expect("Chromium finished in time")
        .expect("Chromium ran");
    assert!(
        output.status.success(),
        "Chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("Chromium's output is UTF-8")
}

/// Every `data-figure="…"` of the rendered page with its `data-value` and the text inside its
/// element.
fn figures(dom: &str) -> Vec<(String, String, String)> {
    let attribute = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let len = tag[start..].find('"')?;
        Some(tag[start..start + len].to_owned())
    };
    let mut found = Vec::new();
    let mut rest = dom;
    while let Some(at) = rest.find("data-figure=\"") {
        let open = rest[..at].rfind('<').expect("an attribute sits in a tag");
        let close = at + rest[at..].find('>').expect("a tag ends");
        let tag = &rest[open..close];
        let name = attribute(tag, "data-figure").unwrap_or_default();
        let value = attribute(tag, "data-value").unwrap_or_default();
        let inner = &rest[close + 1..];
        let text = inner[..inner.find('<').unwrap_or(inner.len())]
            .trim()
            .to_owned();
        found.push((name, value, text));
        rest = &rest[close..];
    }
    found
}

/// The figure the page names by `path` (`ytd.run.distance`, `monthly.2026-11.distance`,
/// `activity.123.distance`), read from the JSON routes.
fn json_figure(path: &str, ytd: &Value, monthly: &Value, recent: &Value) -> Option<Value> {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["ytd", sport, field] => ytd["data"][sport].get(field).cloned(),
        ["monthly", month, field] => monthly["data"][month].get(field).cloned(),
        ["activity", id, field] => recent["data"]
            .as_array()?
            .iter()
            .find(|a| id.parse::<i64>().ok() == a["id"].as_i64())
            .and_then(|a| a.get(*field).cloned()),
        _ => None,
    }
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.len() > 1_000 && bytes.starts_with(b"\x89PNG"))
}

async fn body(app: &TestApp, path: &str) -> Value {
    let r = app.get(path).await;
    assert_eq!(r.status().as_u16(), 200, "{path}");
    json(r).await
}

#[actix_web::test]
async fn the_status_page_in_a_browser_shows_the_json_routes_figures() {
    let Some(binary) = chromium() else {
        let why = "the browser test needs Chromium: `apt-get install chromium` (`.ci/run` \
            installs it), or set CHROMIUM to a Chromium binary";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        // Straight to the terminal: the test harness would swallow eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "\n\n*** NOT CHECKED: the status page and cards in a browser. {why} ***\n"
        );
        return;
    };
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out).unwrap();
    let profile = fresh_profile(&out);

    let dom = run_chromium(&binary, &profile, &["--dump-dom".to_owned()], &app.url("/")).await;
    assert!(dom.contains("data-connection=\"connected\""), "{dom}");
    let (ytd, monthly, recent) = (
        body(&app, "/strava/stats/ytd").await,
        body(&app, "/strava/stats/monthly").await,
        body(&app, "/strava/stats/activities").await,
    );
    let shown = figures(&dom);
    let named = |prefix: &str| {
        shown
            .iter()
            .filter(|(n, _, _)| n.starts_with(prefix))
            .count()
    };
    assert_eq!(named("ytd."), 12, "every ytd figure: {shown:?}");
    assert_eq!(named("monthly."), 12, "every month: {shown:?}");
    assert!(named("activity.") >= 30, "the recent activities: {shown:?}");
    for (name, value, text) in &shown {
        let expected = json_figure(name, &ytd, &monthly, &recent)
            .unwrap_or_else(|| panic!("the page shows {name}, which no JSON route has"));
        let value: Value = serde_json::from_str(value).expect("data-value is a JSON number");
        assert_eq!(value, expected, "{name}");
        if name.ends_with(".distance") && name.starts_with("ytd.") {
            let metres = expected.as_f64().unwrap();
            assert_eq!(
                text,
                &milepost::render::format::Units::Metric.distance(metres),
                "{name}"
            );
        }
    }
    let run_distance = json_figure("ytd.run.distance", &ytd, &monthly, &recent).unwrap();
    assert_ne!(run_distance, json!(0.0), "a year with runs to show");

    let window = |w: u32, h: u32| format!("--window-size={w},{h}");
    for (name, width, height) in [("page", 1280, 2600), ("page-phone", 390, 4000)] {
        let png = out.join(format!("{name}.png"));
        let args = [
            format!("--screenshot={}", png.display()),
            window(width, height),
        ];
        run_chromium(&binary, &profile, &args, &app.url("/")).await;
        assert!(is_png(&png), "{}", png.display());
    }
    for card in ["ytd", "monthly", "calendar", "streaks"] {
        for theme in ["light", "dark"] {
            let png = out.join(format!("card-{card}-{theme}.png"));
            let args = [format!("--screenshot={}", png.display()), window(960, 260)];
            let url = app.url(&format!("/strava/cards/{card}.svg?theme={theme}"));
            run_chromium(&binary, &profile, &args, &url).await;
            assert!(is_png(&png), "{}", png.display());
        }
    }
    let _ = std::fs::remove_dir_all(&profile);
}

/// A fresh Chromium profile directory under `parent`.
fn fresh_profile(parent: &Path) -> PathBuf {
    let dir = parent.join(format!("profile-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
