//! Imports over HTTP: the upload, its job's progress, the forget, and what the page says of
//! imported data.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{API_KEY, TestApp, eventually, json, spawn_app_with};

const GPX: &[u8] = include_bytes!("../fixtures/import/gpx/garmin-activity.gpx");

/// An app with a data directory of its own, so its uploads folder is its own too.
async fn app_with(configure: impl FnOnce(&mut milepost::config::Settings)) -> TestApp {
    let dir = std::env::temp_dir().join(format!(
        "milepost-import-http-{:016x}",
        rand::random::<u64>()
    ));
    spawn_app_with(Default::default(), |s| {
        s.milepost_data_dir = dir;
        configure(s);
    })
    .await
}

fn uploads(app: &TestApp) -> PathBuf {
    app.settings.milepost_data_dir.join("uploads")
}

/// The files in `dir` (none when it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => vec![],
    }
}

async fn upload(app: &TestApp, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.http
        .post(app.url("/strava/import"))
        .header("X-API-Key", API_KEY)
        .header("Content-Type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .expect("POST import")
}

async fn import_status(app: &TestApp, id: &str) -> reqwest::Response {
    app.http
        .get(app.url(&format!("/strava/import/{id}")))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .expect("GET import")
}

/// Polls the job until it is over (up to a minute: a debug build reads slowly).
async fn finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let r = import_status(app, id).await;
        assert_eq!(r.status().as_u16(), 200);
        let job = json(r).await;
        if job["state"] == "done" || job["state"] == "failed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("import {id} never finished");
}

/// Sends `head` and `body` as they are, then reads one response (at most 10 s) without
/// sending anything more: (status, body).
async fn raw(app: &TestApp, head: &str, body: &[u8]) -> (u16, String) {
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let read = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length || n == 0 {
                    let status = text[9..12].parse().unwrap();
                    return (status, text[end + 4..].to_owned());
                }
            }
            assert!(n > 0, "the connection closed without an answer: {text}");
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer before the body was sent")
}

fn head(app: &TestApp, key: Option<&str>, length: &str) -> String {
    let host = app.address.trim_start_matches("http://");
    let key = key.map_or(String::new(), |k| format!("X-API-Key: {k}\r\n"));
    format!(
        "POST /strava/import HTTP/1.1\r\nHost: {host}\r\n{key}\
         Content-Type: application/octet-stream\r\n{length}\r\n"
    )
}

#[actix_web::test]
async fn an_upload_without_the_key_is_refused_before_its_body_is_read() {
    let app = app_with(|_| {}).await;

    // 10 GiB announced, a few bytes sent: the answer comes without the rest.
    let (status, body) = raw(
        &app,
        &head(&app, None, "Content-Length: 10737418240\r\n"),
        b"PK\x03\x04",
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "invalid_api_key");
    assert_eq!(body["detail"]["message"], "Invalid or missing API key");

    let (status, _) = raw(
        &app,
        &head(&app, Some("wrong-key"), "Content-Length: 10737418240\r\n"),
        b"PK",
    )
    .await;
    assert_eq!(status, 401);
    assert!(files_in(&uploads(&app)).is_empty());

    for (method, path) in [
        (
            reqwest::Method::GET,
            "/strava/import/0123456789abcdef0123456789abcdef",
        ),
        (reqwest::Method::DELETE, "/strava/import"),
        (reqwest::Method::DELETE, "/v1/strava/import"),
    ] {
        let r = app
            .http
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        assert_eq!(json(r).await["code"], "invalid_api_key", "{path}");
    }
}

#[actix_web::test]
async fn a_chunked_body_without_the_key_is_not_read_to_its_end() {
    let app = app_with(|_| {}).await;
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = head(&app, None, "Transfer-Encoding: chunked\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"4\r\nPK\x03\x04\r\n").await.unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 401");

    // A body without end: the server hangs up rather than read it all.
    let chunk = format!("4000\r\n{}\r\n", "y".repeat(0x4000));
    let endless = async { while stream.write_all(chunk.as_bytes()).await.is_ok() {} };
    assert!(
        tokio::time::timeout(Duration::from_secs(10), endless)
            .await
            .is_ok(),
        "the server kept reading an unauthenticated body"
    );
}

#[actix_web::test]
async fn an_uploaded_gpx_is_imported_served_shown_and_forgotten() {
    let app = app_with(|_| {}).await;

    let r = upload(&app, GPX).await;
    assert_eq!(r.status().as_u16(), 202);
    let id = json(r).await["import_id"].as_str().unwrap().to_owned();
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "{id}"
    );

    let job = finished(&app, &id).await;
    assert_eq!(job["import_id"], id.as_str());
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["error"], Value::Null);
    assert_eq!(job["files_done"], job["files_total"]);
    let summary = &job["summary"];
    assert_eq!(summary["files_read"], 1, "{summary}");
    assert_eq!(
        summary["activities"],
        serde_json::json!({"new": 1, "updated": 0, "unchanged": 0, "merged": 0})
    );
    assert_eq!(summary["public"], 1);
    assert_eq!(summary["refused"], serde_json::json!([]));
    assert!(summary["seconds"].is_number());
    // Served under /v1 too.
    let r = app
        .http
        .get(app.url(&format!("/v1/strava/import/{id}")))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await, job);

    // The job deletes its upload once it is over.
    let dir = uploads(&app);
    assert!(eventually(async || files_in(&dir).is_empty()).await);

    let mut listed = Value::Null;
    assert!(
        eventually(async || {
            listed = json(app.get("/strava/activities").await).await;
            listed["total"] == 1
        })
        .await,
        "{listed}"
    );
    assert_eq!(listed["data"][0]["type"], "Run", "{listed}");

    // Nobody ever connected: the page says where the data comes from instead of offering the
    // Connect button.
    let mut page = String::new();
    assert!(
        eventually(async || {
            page = app.get("/").await.text().await.unwrap();
            page.contains("from imported files")
        })
        .await,
        "{page}"
    );
    assert!(
        page.contains("1 imported activity, last import <time"),
        "{page}"
    );
    assert!(!page.contains("Connect with Strava"));

    let r = app
        .http
        .delete(app.url("/strava/import"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(json(r).await, serde_json::json!({"deleted": 1}));
    assert!(
        eventually(async || json(app.get("/strava/activities").await).await["total"] == 0).await
    );
    assert!(
        eventually(async || {
            let page = app.get("/").await.text().await.unwrap();
            page.contains("Connect with Strava") && !page.contains("from imported files")
        })
        .await
    );
    // What is forgotten is forgotten: a second forget finds nothing.
    let r = app
        .http
        .delete(app.url("/v1/strava/import"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await, serde_json::json!({"deleted": 0}));
}

#[actix_web::test]
async fn an_import_while_another_runs_is_a_409_and_leaves_no_file() {
    let app = app_with(|_| {}).await;
    // Another process's import, as far as the app can tell: it holds the import lock.
    let db = app.db().await;
    db.execute(
        "SELECT pg_advisory_lock($1)",
        &[&milepost::store::imports::IMPORT_LOCK],
    )
    .await
    .unwrap();

    let r = upload(&app, GPX).await;
    assert_eq!(r.status().as_u16(), 409);
    let body = json(r).await;
    assert_eq!(body["code"], "import_running");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("An import is already running"),
        "{body}"
    );
    assert!(files_in(&uploads(&app)).is_empty());

    let r = app
        .http
        .delete(app.url("/strava/import"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    assert_eq!(json(r).await["code"], "import_running");

    db.execute(
        "SELECT pg_advisory_unlock($1)",
        &[&milepost::store::imports::IMPORT_LOCK],
    )
    .await
    .unwrap();
    let r = upload(&app, GPX).await;
    assert_eq!(r.status().as_u16(), 202);
    let id = json(r).await["import_id"].as_str().unwrap().to_owned();
    assert_eq!(finished(&app, &id).await["state"], "done");
}

#[actix_web::test]
async fn an_upload_over_import_max_bytes_is_a_413_with_or_without_a_length_and_leaves_no_file() {
    const MAX: u64 = 1024;
    let app = app_with(|s| s.import_max_bytes = MAX).await;
    let dir = uploads(&app);

    // Announced too large: refused before a byte is read.
    let (status, body) = raw(
        &app,
        &head(&app, Some(API_KEY), "Content-Length: 1025\r\n"),
        b"",
    )
    .await;
    assert_eq!(status, 413, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "payload_too_large");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("IMPORT_MAX_BYTES")
    );

    let r = upload(&app, vec![b'x'; 4096]).await;
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(json(r).await["code"], "payload_too_large");

    // Chunked, no length: cut off as soon as it passes the limit, before the body ends.
    let chunk = format!("200\r\n{}\r\n", "y".repeat(0x200));
    let (status, body) = raw(
        &app,
        &head(&app, Some(API_KEY), "Transfer-Encoding: chunked\r\n"),
        chunk.repeat(3).as_bytes(),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));

    // The limit itself is allowed (the importer then refuses what it cannot read).
    let r = upload(&app, vec![b'z'; 1024]).await;
    assert_eq!(r.status().as_u16(), 202);
    let id = json(r).await["import_id"].as_str().unwrap().to_owned();
    let job = finished(&app, &id).await;
    assert_eq!(job["summary"]["activities"]["new"], 0, "{job}");
    // Named as the person uploading knows it, not by the server's own file name
    assert_eq!(job["summary"]["refused"][0]["file"], "upload", "{job}");
    assert!(!job.to_string().contains(".upload"), "{job}");
    assert!(eventually(async || files_in(&dir).is_empty()).await);
}

#[actix_web::test]
async fn an_empty_upload_is_refused_with_a_clear_detail() {
    let app = app_with(|_| {}).await;
    let r = upload(&app, Vec::new()).await;
    assert_eq!(r.status().as_u16(), 400);
    let body = json(r).await;
    assert_eq!(body["code"], "malformed_body");
    assert!(
        body["detail"].as_str().unwrap().starts_with("Empty body"),
        "{body}"
    );
    assert!(files_in(&uploads(&app)).is_empty());
}

#[actix_web::test]
async fn unknown_and_implausible_import_ids_are_404() {
    let app = app_with(|_| {}).await;
    let long = "a".repeat(3000);
    for id in [
        "0123456789abcdef0123456789abcdef",
        "0123456789ABCDEF0123456789ABCDEF",
        "not-an-id",
        "%00",
        "..%2F..%2Fetc",
        "%F0%9F%8F%83",
        "%FF%FE",
        "'%20OR%201=1--",
        long.as_str(),
    ] {
        let r = import_status(&app, id).await;
        assert_eq!(r.status().as_u16(), 404, "{id}");
        assert_eq!(
            json(r).await,
            serde_json::json!({"detail": "Import not found", "code": "not_found"}),
            "{id}"
        );
    }
}

#[actix_web::test]
async fn an_upload_a_stopped_import_left_is_deleted_by_the_next_upload() {
    let app = app_with(|_| {}).await;
    let dir = uploads(&app);
    std::fs::create_dir_all(&dir).unwrap();
    // Left by a process killed during its import two days ago, and one arriving now elsewhere
    let stale = dir.join("0123456789abcdef0123456789abcdef.upload");
    let recent = dir.join("fedcba9876543210fedcba9876543210.upload");
    std::fs::write(&stale, b"left behind").unwrap();
    std::fs::write(&recent, b"arriving").unwrap();
    let touched = std::process::Command::new("touch")
        .args(["-d", "2 days ago"])
        .arg(&stale)
        .status()
        .expect("running touch");
    assert!(touched.success());

    let r = upload(&app, GPX.to_vec()).await;

    assert_eq!(r.status().as_u16(), 202);
    finished(&app, json(r).await["import_id"].as_str().unwrap()).await;
    assert!(!stale.exists(), "the stale upload is still there");
    assert!(recent.exists(), "a recent upload was deleted");
}
