//! STRAVA_WEBHOOK_SECRET: events and checks only at `/strava/webhook/{secret}`; every other
//! webhook path answers as an unknown path does, at no cost; the secret is never shown.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{API_KEY, TestApp, json, spawn_app_with, spawn_binary};

const SECRET: &str = "hook-secret-0123456789abcdefABCDEF";
const VERIFY: &str = "test-webhook-verify-token";
const NOT_FOUND: &str = r#"{"detail":"Not Found"}"#;
const FETCH: &str = "GET /activities/{id}";

/// A connected, synced app with the secret set, subscribed (at the simulator and in Postgres)
/// with the callback `webhook subscribe` makes of `/strava/webhook`.
async fn guarded_app() -> TestApp {
    let app = spawn_app_with(Default::default(), |s| {
        s.strava_webhook_verify_token = Some(VERIFY.into());
        s.strava_webhook_secret = Some(SECRET.into());
    })
    .await;
    app.connect_and_sync().await;
    let out = milepost::commands::webhook_subscribe(&app.settings, &app.url("/strava/webhook"))
        .await
        .expect("subscribing");
    assert!(out.starts_with("subscribed: "), "{out}");
    assert!(out.ends_with("/strava/webhook/…"), "{out}");
    assert!(!out.contains(SECRET), "{out}");
    app
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

/// Every sample of the metrics text, by series (name and labels).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(series, value)| (series.to_owned(), value.parse().unwrap_or(f64::NAN)))
        .collect()
}

/// What moved between two metrics texts: each series whose value changed, by how much.
/// Handling times (histogram buckets and sums) are left out: how long a message took is not
/// what an event looks like from outside, and moves from run to run.
fn moved(before: &str, after: &str) -> BTreeMap<String, f64> {
    let before = samples(before);
    samples(after)
        .into_iter()
        .filter(|(series, _)| {
            let name = series.split('{').next().unwrap_or(series);
            !(name.ends_with("_seconds_bucket") || name.ends_with("_seconds_sum"))
        })
        .filter_map(|(series, value)| {
            let delta = value - before.get(&series).copied().unwrap_or(0.0);
            (delta != 0.0).then_some((series, delta))
        })
        .collect()
}

fn counter(text: &str, series: &str) -> f64 {
    samples(text).get(series).copied().unwrap_or(0.0)
}

const IGNORED: &str = r#"milepost_webhook_events_total{outcome="ignored"}"#;
const CHANGED: &str = r#"milepost_webhook_events_total{outcome="changed"}"#;

/// Polls the metrics until `series` reaches `at_least`.
async fn wait_for_counter(app: &TestApp, series: &str, at_least: f64) -> String {
    for _ in 0..200 {
        let text = metrics(app).await;
        if counter(&text, series) >= at_least {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{series} never reached {at_least}:\n{}", metrics(app).await);
}

async fn post(app: &TestApp, path: &str, event: &serde_json::Value) -> (u16, String) {
    let r = app
        .http
        .post(app.url(path))
        .json(event)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[actix_web::test]
async fn with_a_secret_only_its_path_takes_events_and_every_other_costs_nothing() {
    let app = guarded_app().await;
    let newest = json(app.get("/strava/activities?limit=1").await).await["data"][0]["id"]
        .as_i64()
        .unwrap();
    let event = app
        .sim
        .activity_event("update", newest, json!({"title": "x"}));
    let before = metrics(&app).await;
    app.sim.reset_counts();

    for path in [
        "/strava/webhook",
        "/v1/strava/webhook",
        "/strava/webhook/wrong-secret-0123456789abcdef",
        &format!("/strava/webhook/{}", &SECRET[..SECRET.len() - 1]),
        &format!("/strava/webhook/{SECRET}x"),
        &format!("/strava/webhook/{}", SECRET.to_uppercase()),
    ] {
        assert_eq!(
            post(&app, path, &event).await,
            (404, NOT_FOUND.into()),
            "{path}"
        );
    }
    // what an unknown path answers, to the byte
    let unknown = app
        .http
        .post(app.url("/strava/webhooks"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    assert_eq!(unknown.text().await.unwrap(), NOT_FOUND);

    // the right path: acknowledged, then confirmed with one fetch
    assert_eq!(
        post(&app, &format!("/strava/webhook/{SECRET}"), &event).await,
        (200, r#"{"status":"ok"}"#.into())
    );
    let after = wait_for_counter(&app, CHANGED, counter(&before, CHANGED) + 1.0).await;
    // events are screened in order: had a refused one been taken, it would be confirmed first
    assert_eq!(
        app.sim.request_count(FETCH),
        1,
        "{:?}",
        app.sim.request_counts()
    );
    let handed_over =
        r#"milepost_actor_messages_handled_total{actor="FetcherActor",message="WebhookEvent"}"#;
    assert_eq!(
        counter(&after, handed_over) - counter(&before, handed_over),
        1.0,
        "one event reached the fetcher: {:?}",
        moved(&before, &after)
    );
    // the delivery Strava makes goes to the registered secret path
    assert_eq!(
        app.sim
            .deliver_event(app.sim.activity_event("update", newest, json!({})))
            .await
            .unwrap(),
        200
    );
    let metrics = metrics(&app).await;
    assert!(!metrics.contains(SECRET));
    assert!(
        metrics.contains(r#"route="/strava/webhook/{secret}",status="404""#),
        "{metrics}"
    );
}

#[actix_web::test]
async fn strava_s_check_is_answered_at_the_secret_path_only() {
    let app = spawn_app_with(Default::default(), |s| {
        s.strava_webhook_verify_token = Some(VERIFY.into());
        s.strava_webhook_secret = Some(SECRET.into());
    })
    .await;
    let query = format!("hub.mode=subscribe&hub.challenge=15f7d1a9&hub.verify_token={VERIFY}");
    for path in [
        "/strava/webhook".to_owned(),
        "/strava/webhook/not-the-secret-0123456789abcdef".to_owned(),
    ] {
        let r = app.get(&format!("{path}?{query}")).await;
        assert_eq!(r.status().as_u16(), 404, "{path}");
        assert_eq!(r.text().await.unwrap(), NOT_FOUND, "{path}");
    }
    let ok = app.get(&format!("/strava/webhook/{SECRET}?{query}")).await;
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(json(ok).await, json!({"hub.challenge": "15f7d1a9"}));
    let wrong = app
        .get(&format!(
            "/v1/strava/webhook/{SECRET}?hub.mode=subscribe&hub.challenge=x&hub.verify_token=nope"
        ))
        .await;
    assert_eq!(wrong.status().as_u16(), 403);
}

#[actix_web::test]
async fn without_a_secret_a_secret_path_is_unknown() {
    let app = spawn_app_with(Default::default(), |s| {
        s.strava_webhook_verify_token = Some(VERIFY.into())
    })
    .await;
    let query = format!("hub.mode=subscribe&hub.challenge=c&hub.verify_token={VERIFY}");
    let r = app.get(&format!("/strava/webhook/{SECRET}?{query}")).await;
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (404, NOT_FOUND.into())
    );
    assert_eq!(
        app.get(&format!("/strava/webhook?{query}"))
            .await
            .status()
            .as_u16(),
        200
    );
}

#[actix_web::test]
async fn an_unknown_subscription_and_another_athlete_move_the_same_figures() {
    let app = guarded_app().await;
    let path = format!("/strava/webhook/{SECRET}");
    let newest = json(app.get("/strava/activities?limit=1").await).await["data"][0]["id"]
        .as_i64()
        .unwrap();
    // one event first, so that what a first event costs (reading the new subscription) is paid
    let mut warm_up = app.sim.activity_event("update", newest, json!({}));
    warm_up["owner_id"] = json!(2);
    assert_eq!(post(&app, &path, &warm_up).await.0, 200);
    let start = metrics(&app).await;
    let start = wait_for_counter(&app, IGNORED, counter(&start, IGNORED).max(1.0)).await;
    app.sim.reset_counts();

    let mut unknown = app.sim.activity_event("update", newest, json!({}));
    unknown["subscription_id"] = json!(app.sim.subscription_id().unwrap() + 1);
    assert_eq!(post(&app, &path, &unknown).await.0, 200);
    let between = wait_for_counter(&app, IGNORED, counter(&start, IGNORED) + 1.0).await;

    let mut stranger = app.sim.activity_event("update", newest, json!({}));
    stranger["owner_id"] = json!(1);
    assert_eq!(post(&app, &path, &stranger).await.0, 200);
    let end = wait_for_counter(&app, IGNORED, counter(&between, IGNORED) + 1.0).await;

    let first = moved(&start, &between);
    let second = moved(&between, &end);
    assert_eq!(first, second);
    assert_eq!(first.get(IGNORED), Some(&1.0), "{first:?}");
    assert_eq!(app.sim.request_counts().values().sum::<u64>(), 0);
}

#[actix_web::test]
async fn a_flood_of_forged_events_reads_nothing_from_postgres_per_event() {
    let app = guarded_app().await;
    let path = format!("/strava/webhook/{SECRET}");
    let newest = json(app.get("/strava/activities?limit=1").await).await["data"][0]["id"]
        .as_i64()
        .unwrap();
    // the first event after the subscription check reads the new subscription
    let mut forged = app.sim.activity_event("delete", newest, json!({}));
    forged["subscription_id"] = json!(424_242);
    assert_eq!(post(&app, &path, &forged).await.0, 200);
    let ignored = counter(&wait_for_counter(&app, IGNORED, 1.0).await, IGNORED);
    app.sim.reset_counts();

    // Arrange: nobody can read the subscription table while this transaction holds it
    let mut db = app.db().await;
    let lock = db.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE webhook_subscription IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    // Act: a flood, one event a request
    for i in 0..200 {
        forged["object_id"] = json!(9_000_000_000_i64 + i);
        assert_eq!(post(&app, &path, &forged).await.0, 200);
    }

    // Assert: screened from memory, all of them, while the table is locked
    wait_for_counter(&app, IGNORED, ignored + 200.0).await;
    lock.rollback().await.unwrap();
    assert_eq!(app.sim.request_counts().values().sum::<u64>(), 0);
}

#[actix_web::test]
async fn the_secret_never_appears_in_the_log_the_metrics_or_the_commands_output() {
    let app = spawn_binary(
        |s| {
            s.log_format = milepost::config::LogFormat::Json;
            s.access_log = true;
            s.strava_webhook_verify_token = Some(VERIFY.into());
            s.strava_webhook_secret = Some(SECRET.into());
        },
        &[("RUST_LOG", "debug")],
    )
    .await;
    let r = app.connect().await;
    assert_eq!(r.status().as_u16(), 307);
    app.wait_for_log("of the first sync", |l| {
        l["message"] == "background sync done"
    })
    .await;

    let (ok, out, err) = app.command(&[
        "webhook",
        "subscribe",
        "--callback-url",
        &app.url("/strava/webhook"),
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.trim_end().ends_with("/strava/webhook/…"), "{out}");
    let (ok, listed, err) = app.command(&["webhook", "list"]);
    assert!(ok, "{listed}{err}");
    let id = app.sim.subscription_id().unwrap();
    assert!(
        listed.starts_with(&format!("{id} {}/…", app.url("/strava/webhook"))),
        "{listed}"
    );

    let event = app.sim.activity_event("update", 1, json!({}));
    assert_eq!(app.sim.deliver_event(event.clone()).await.unwrap(), 200);
    let wrong = app
        .http
        .post(app.url(&format!("/strava/webhook/{SECRET}x")))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 404);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(metrics.contains("/strava/webhook/{secret}"), "{metrics}");

    // the access log names the route by its pattern
    let line = app
        .wait_for_log("of the event's access", |l| {
            l["message"] == "access" && l["status"] == 404
        })
        .await;
    assert_eq!(line["path"], "/strava/webhook/{secret}", "{line}");
    let admin = app
        .http
        .get(app.url("/strava/admin/actors"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (what, text) in [
        ("stdout", app.stdout().join("\n")),
        ("stderr", app.stderr().join("\n")),
        ("metrics", metrics),
        ("subscribe", out),
        ("list", listed),
        ("admin", admin),
    ] {
        assert!(!text.contains(SECRET), "the secret is in {what}:\n{text}");
    }
}

/// Sends `head` (and `body`) over a raw connection and reads what comes back within
/// `patience`; the answer, and how long it took.
fn raw_request(address: &str, head: &str, body: &[u8], patience: Duration) -> (String, Duration) {
    let addr = address.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(patience)).unwrap();
    let started = Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                // the whole JSON body is in: stop waiting for the close
                if answer.ends_with(b"}") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[actix_web::test]
async fn a_body_that_trickles_in_gets_a_408_and_a_wrong_path_does_not_wait_for_it() {
    let app = spawn_app_with(Default::default(), |s| {
        s.strava_webhook_secret = Some(SECRET.into());
    })
    .await;
    let address = app.address.clone();
    let head = |path: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
             Content-Length: 200\r\n\r\n"
        )
    };

    // headers, a few bytes of the body, then nothing
    let right = head(&format!("/strava/webhook/{SECRET}"));
    let (answer, took) = actix_web::rt::task::spawn_blocking({
        let address = address.clone();
        move || {
            raw_request(
                &address,
                &right,
                br#"{"object_type":"#,
                Duration::from_secs(6),
            )
        }
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(took < Duration::from_secs(4), "{took:?}");

    // a wrong path answers without reading the body at all
    let wrong = head("/strava/webhook/not-the-secret-0123456789abcdef");
    let (answer, took) = actix_web::rt::task::spawn_blocking(move || {
        raw_request(&address, &wrong, b"", Duration::from_secs(6))
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.ends_with(NOT_FOUND), "{answer}");
    assert!(took < Duration::from_secs(1), "{took:?}");

    // still serving
    assert_eq!(app.get("/livez").await.status().as_u16(), 200);
}
