//! Stopping the real binary with SIGTERM, as a container runtime does: it drains for
//! SHUTDOWN_DRAIN_SECS (still serving, `/readyz` at 503, `Connection: close` on every answer),
//! stops taking connections, finishes every request it accepted, and exits 0.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use milepost::simulator::Fault;
use serde_json::json;

use crate::helpers::{API_KEY, BinaryReplica, json, spawn_app};

/// What the load reads, each compared with what the in-process app serves.
const PATHS: [&str; 2] = ["/strava/stats/ytd", "/strava/activities?limit=50"];
/// Load tasks; the even ones open a new connection for every request, the odd ones keep theirs.
const TASKS: usize = 8;
/// The least number of requests the load must have had answered for the test to mean anything.
const AT_LEAST_SERVED: usize = 50;
/// How long the binary may take to exit after SIGTERM.
const EXIT_WITHIN: Duration = Duration::from_secs(15);

/// What the load saw.
#[derive(Default)]
struct Tally {
    served_before_signal: usize,
    served_after_signal: usize,
    /// Answers after SIGTERM that carried `Connection: close`.
    closing_answers: usize,
    /// Connections refused: the listener was closed, nothing was accepted.
    refused: usize,
    /// Requests sent once the drain was over (the binary had stopped accepting) whose
    /// connection was reset without a byte of answer: the kernel completed the handshake into
    /// the listen backlog, and reset it when the listener closed. The binary never accepted
    /// them, so they are counted, not failed. The same reset on a request sent during the
    /// drain, and any connection closed without an answer, is a failure.
    reset_unaccepted: Vec<String>,
    /// Everything else, described.
    failures: Vec<String>,
}

/// What the binary printed, for failure messages.
fn logs(binary: &BinaryReplica) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        binary.stdout().join("\n"),
        binary.stderr().join("\n")
    )
}

/// An error with every flag reqwest gives and its whole source chain.
fn describe(e: &reqwest::Error) -> String {
    let mut text = format!(
        "{e} [connect: {}, request: {}, body: {}, timeout: {}]",
        e.is_connect(),
        e.is_request(),
        e.is_body(),
        e.is_timeout()
    );
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(&format!(" <- {cause}"));
        source = cause.source();
    }
    text
}

/// The reset of a connection the server never accepted, as the error chain ends.
/// (`Connection reset by peer (os error 104)` on Linux.)
const RESET: &str = "Connection reset by peer";

/// One load task: GETs `PATHS` in turn against `base` until `stop`.
async fn load(
    task: usize,
    base: String,
    expected: Arc<Vec<serde_json::Value>>,
    signalled: Arc<Mutex<Option<Instant>>>,
    drain: Duration,
    stop: Arc<AtomicBool>,
    tally: Arc<Mutex<Tally>>,
) {
    let mut client = reqwest::Client::builder().timeout(Duration::from_secs(20));
    let fresh = task.is_multiple_of(2);
    if fresh {
        client = client.pool_max_idle_per_host(0);
    }
    let client = client.build().expect("an HTTP client");
    let mut n = task;
    while !stop.load(Ordering::SeqCst) {
        let which = n % PATHS.len();
        n += 1;
        let path = PATHS[which];
        let when = || match *signalled.lock().unwrap() {
            Some(at) => format!("{} ms after SIGTERM", at.elapsed().as_millis()),
            None => "before SIGTERM".to_owned(),
        };
        let sent_after = signalled.lock().unwrap().map(|at| at.elapsed());
        let after_signal = sent_after.is_some();
        let failure = match client.get(format!("{base}{path}")).send().await {
            Err(e) if e.is_connect() => {
                tally.lock().unwrap().refused += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => format!("sending: {}", describe(&e)),
            Ok(r) if r.status().as_u16() != 200 => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                format!("answered {status}: {body}")
            }
            Ok(r) => {
                let closing = r
                    .headers()
                    .get("connection")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                match r.bytes().await {
                    Err(e) => format!("reading the body: {}", describe(&e)),
                    Ok(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
                        Err(e) => format!(
                            "a body that is not JSON ({e}): {}",
                            String::from_utf8_lossy(&body)
                        ),
                        Ok(value) if value != expected[which] => format!(
                            "a body unlike the in-process app's: {}",
                            String::from_utf8_lossy(&body)
                        ),
                        Ok(_) => {
                            let mut tally = tally.lock().unwrap();
                            if after_signal {
                                tally.served_after_signal += 1;
                                tally.closing_answers += usize::from(closing);
                            } else {
                                tally.served_before_signal += 1;
                            }
                            continue;
                        }
                    },
                }
            }
        };
        let connection = if fresh { "new" } else { "kept" };
        let mut tally = tally.lock().unwrap();
        let list = if failure.contains(RESET) && sent_after.is_some_and(|t| t >= drain) {
            &mut tally.reset_unaccepted
        } else {
            &mut tally.failures
        };
        list.push(format!(
            "task {task} ({connection} connection), GET {path}, sent {}, seen {}: {failure}",
            match sent_after {
                Some(t) => format!("{} ms after SIGTERM", t.as_millis()),
                None => "before SIGTERM".to_owned(),
            },
            when()
        ));
    }
}

/// Every request the binary accepted is answered: a 200 equal to the in-process app's, with
/// `Connection: close` during the drain. Refused connections, and connections reset without a
/// byte of answer on requests sent once the drain was over, were never accepted (the second
/// sat in the kernel's listen backlog when the listener closed) and are counted, not failed.
/// Anything else fails, a connection closed before any byte of answer among them.
#[actix_web::test]
async fn sigterm_under_a_steady_read_load_loses_no_accepted_request_and_exits_0() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let mut binary = app.binary_replica().await;
    let drain = Duration::from_secs(app.settings.shutdown_drain_secs);
    assert!(drain > Duration::ZERO, "the test needs a drain period");
    let mut expected = Vec::new();
    for path in PATHS {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), 200, "in-process GET {path}");
        let mine = json(r).await;
        let r = reqwest::get(binary.url(path))
            .await
            .expect("GET the binary");
        assert_eq!(r.status().as_u16(), 200, "binary GET {path}");
        assert_eq!(
            json(r).await,
            mine,
            "the binary serves what the app serves: {path}"
        );
        expected.push(mine);
    }
    let expected = Arc::new(expected);
    let signalled = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            tokio::spawn(load(
                task,
                binary.address.clone(),
                expected.clone(),
                signalled.clone(),
                drain,
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    *signalled.lock().unwrap() = Some(Instant::now());
    binary.terminate();
    let status = binary.wait_exit(EXIT_WITHIN).await;
    let exited_after = signalled.lock().unwrap().unwrap().elapsed();
    // A little more load on the closed port, then stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("a load task");
    }

    let tally = tally.lock().unwrap();
    eprintln!(
        "served {} before and {} after SIGTERM ({} with Connection: close), {} connections \
         refused, {} reset unaccepted after the drain, {} failures; exited {status:?} {} ms \
         after SIGTERM\n{}",
        tally.served_before_signal,
        tally.served_after_signal,
        tally.closing_answers,
        tally.refused,
        tally.reset_unaccepted.len(),
        tally.failures.len(),
        exited_after.as_millis(),
        tally.reset_unaccepted.join("\n")
    );
    let Some(status) = status else {
        let logs = logs(&binary);
        binary.kill();
        panic!(
            "the binary still ran {} s after SIGTERM\n{logs}",
            EXIT_WITHIN.as_secs()
        );
    };
    // "connection closed before message completed" is an answerless close: the request was
    // written on a connection the binary had accepted, and it closed it without a byte of
    // response.
    assert!(
        tally.failures.is_empty(),
        "{} requests were accepted (their connection was open and the request written) and \
         then lost or answered wrongly:\n{}\n{}",
        tally.failures.len(),
        tally.failures.join("\n"),
        logs(&binary)
    );
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}\n{}",
        logs(&binary)
    );
    let served = tally.served_before_signal + tally.served_after_signal;
    assert!(
        served >= AT_LEAST_SERVED,
        "only {served} requests served: not a load\n{}",
        logs(&binary)
    );
    assert!(
        tally.refused > 0,
        "no connection was refused after the binary exited"
    );
    assert!(
        tally.served_after_signal > 0 && tally.closing_answers > 0,
        "nothing was served with Connection: close while draining"
    );
    assert!(
        exited_after >= drain,
        "the binary exited {} ms after SIGTERM, before its {} s drain ended",
        exited_after.as_millis(),
        drain.as_secs()
    );
}

#[actix_web::test]
async fn sigterm_with_a_request_in_flight_finishes_it() {
    let app = spawn_app().await;
    app.connect_and_sync().await;
    let mut binary = app.binary_replica().await;
    // Every Strava answer now comes late (within the client's 2 s timeout): a refresh takes
    // a while.
    let latency = Duration::from_millis(800);
    app.sim.set_fault(Some(Fault::Latency(latency)));
    app.sim.reset_counts();
    let url = binary.url("/strava/refresh-data");
    let started = Instant::now();
    let refresh = tokio::spawn(async move {
        let r = reqwest::Client::new()
            .post(url)
            .header("X-API-Key", API_KEY)
            .send()
            .await;
        (r, started.elapsed())
    });
    // Signal once the refresh's sync is waiting on Strava.
    let mut waited = 0;
    while app.sim.request_counts().is_empty() {
        assert!(
            waited < 400,
            "the refresh never reached Strava\n{}",
            logs(&binary)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
        waited += 1;
    }
    assert!(!refresh.is_finished(), "the refresh ended before SIGTERM");
    let signalled = Instant::now();
    let signalled_after = started.elapsed();
    binary.terminate();

    // Draining: still served, on new connections too, but not ready, and every answer closes
    // its connection.
    let drain = Duration::from_secs(app.settings.shutdown_drain_secs);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = reqwest::get(binary.url("/readyz"))
        .await
        .expect("GET /readyz while draining");
    assert_eq!(r.status().as_u16(), 503, "/readyz while draining");
    assert_eq!(r.headers()["connection"], "close", "/readyz while draining");
    assert_eq!(
        json(r).await,
        json!({"detail": "Not ready: shutting down", "code": "not_ready"})
    );
    let r = reqwest::get(binary.url("/livez"))
        .await
        .expect("GET /livez while draining");
    assert_eq!(r.status().as_u16(), 200, "/livez while draining");
    assert_eq!(r.headers()["connection"], "close", "/livez while draining");

    // After the drain nothing new is taken; the accepted refresh still runs.
    tokio::time::sleep(
        (signalled + drain + Duration::from_millis(300)).saturating_duration_since(Instant::now()),
    )
    .await;
    let checked_after_drain = !refresh.is_finished();
    if checked_after_drain {
        let r = reqwest::Client::new()
            .get(binary.url("/livez"))
            .timeout(Duration::from_millis(500))
            .send()
            .await;
        assert!(
            r.is_err(),
            "a new connection answered after the drain: {r:?}"
        );
    }

    let (r, took) = refresh.await.expect("the refresh task");
    let r = r.unwrap_or_else(|e| {
        panic!(
            "the refresh in flight at SIGTERM was lost: {e:?}\n{}",
            logs(&binary)
        )
    });
    assert_eq!(r.status().as_u16(), 200, "the refresh in flight at SIGTERM");
    assert_eq!(
        json(r).await,
        json!({"status": "success", "message": "Data refreshed successfully"})
    );
    let Some(status) = binary.wait_exit(EXIT_WITHIN).await else {
        let logs = logs(&binary);
        binary.kill();
        panic!(
            "the binary still ran {} s after SIGTERM\n{logs}",
            EXIT_WITHIN.as_secs()
        );
    };
    eprintln!(
        "SIGTERM {} ms into the refresh; it answered {} ms in (checked after the drain: \
         {checked_after_drain}); the binary exited {status} {} ms after SIGTERM; Strava saw {:?}",
        signalled_after.as_millis(),
        took.as_millis(),
        signalled.elapsed().as_millis(),
        app.sim.request_counts()
    );
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}\n{}",
        logs(&binary)
    );
}
