//! A leader that goes silent (SPEC §6): its traffic dropped on the way, with no FIN or RST,
//! behind a proxy that keeps both TCP connections alive. It steps down by itself, Postgres
//! ends its session and frees the lock, and another replica leads within 20 s. When it can
//! see again, what it still tries to write under its old epoch is fenced off.

use std::time::{Duration, Instant};

use milepost::actors::cache::{CacheError, Ingest};
use milepost::simulator::SimConfig;
use milepost::strava::models::Activity;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::helpers::{connect, spawn_app_with};

/// A TCP proxy in front of Postgres that, on command, stops forwarding in both directions
/// without closing either socket (a path that dropped silently; the kernel on each side still
/// acknowledges what it is sent, as a proxy or NAT would).
struct StallProxy {
    url: SecretString,
    flowing: watch::Sender<bool>,
}

impl StallProxy {
    /// A proxy to the server of `url`, and the URL that goes through it.
    fn start(url: &str) -> Self {
        let mut parsed = url::Url::parse(url).expect("a database URL");
        let upstream = format!(
            "{}:{}",
            parsed.host_str().expect("a host"),
            parsed.port().unwrap_or(5432)
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.set_nonblocking(true).unwrap();
        parsed
            .set_port(Some(listener.local_addr().unwrap().port()))
            .unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (flowing, watching) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let flowing = watching.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    // A new connection on a dropped path goes nowhere until it comes back.
                    let mut until = flowing.clone();
                    if until.wait_for(|f| *f).await.is_err() {
                        return;
                    }
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (from_client, to_client) = client.into_split();
                    let (from_server, to_server) = server.into_split();
                    tokio::spawn(pump(from_client, to_server, flowing.clone()));
                    tokio::spawn(pump(from_server, to_client, flowing));
                });
            }
        });
        Self {
            url: SecretString::from(parsed.to_string()),
            flowing,
        }
    }

    fn stall(&self) {
        self.flowing.send_replace(false);
    }

    fn resume(&self) {
        self.flowing.send_replace(true);
    }
}

/// Copies `from` to `to` while the path flows; what was read when it stopped (an end of
/// stream too) waits until it flows again.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut flowing: watch::Receiver<bool>,
) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        if flowing.wait_for(|f| *f).await.is_err() {
            return;
        }
        let read = from.read(&mut buf).await;
        if flowing.wait_for(|f| *f).await.is_err() {
            return;
        }
        match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Waits up to `within` for `done`.
async fn within(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

#[actix_web::test]
async fn a_leader_whose_traffic_is_silently_dropped_is_replaced_within_20_s() {
    // Arrange: the leader reaches Postgres (its coordination connection and its pool) through
    // the proxy; a second replica connects directly.
    let mut proxy = None;
    let mut direct = None;
    let app = spawn_app_with(
        SimConfig {
            history_years: 1,
            ..SimConfig::default()
        },
        |s| {
            let url = s.database_url.clone().expect("a database URL");
            let started = StallProxy::start(url.expose_secret());
            s.database_url = Some(started.url.clone());
            proxy = Some(started);
            direct = Some(url);
        },
    )
    .await;
    let (proxy, direct) = (proxy.unwrap(), direct.unwrap());
    assert!(
        within(Duration::from_secs(5), || app
            .services
            .replica
            .role()
            .is_leader())
        .await,
        "the first replica never led"
    );
    let stale = app.services.replica.fence().expect("the leader's fence");
    // A write the leader is about to make when its path drops (its connection is taken).
    let mut late_db = app.services.pool.get().await.unwrap();
    let other = app
        .replica_with(|s| s.database_url = Some(direct.clone()))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!other.services.replica.role().is_leader());

    // Act: the leader's path drops without a word, as it starts a write.
    proxy.stall();
    let dropped = Instant::now();
    let late_fence = stale.clone();
    let late_write = tokio::spawn(async move {
        let tx = milepost::store::fenced(&mut late_db, Some(&late_fence)).await?;
        milepost::store::save_backfill_progress(&tx, 4242, 9, false).await?;
        tx.commit().await?;
        anyhow::Ok(())
    });

    // Assert: it steps down by itself at once (its heartbeat does not come back)...
    assert!(
        within(Duration::from_secs(5), || !app
            .services
            .replica
            .role()
            .is_leader())
        .await,
        "the silent leader kept leading"
    );
    // ...and the other replica leads within 20 s, as Postgres has it too.
    assert!(
        within(Duration::from_secs(20), || other
            .services
            .replica
            .role()
            .is_leader())
        .await,
        "nobody took the lead within 20 s of the leader going silent"
    );
    let took = dropped.elapsed();
    let db = connect(direct.expose_secret()).await;
    let leader: String = db
        .query_one("SELECT replica FROM leader", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(leader, other.services.replica.id(), "after {took:?}");

    // The silent leader can see again: the write it had started reaches Postgres now and is
    // refused by its epoch, and so is an ingest it still makes under that epoch.
    proxy.resume();
    let refused = tokio::time::timeout(Duration::from_secs(15), late_write)
        .await
        .expect("the late write ends once the path is back")
        .unwrap()
        .expect_err("a write under the old epoch");
    assert!(
        milepost::store::coordination::is_fenced(&refused),
        "{refused:#}"
    );
    let mut activity = app.sim.activities()[0].clone();
    activity["id"] = 987_654_321_i64.into();
    let activity: Activity = serde_json::from_value(activity).unwrap();
    let ingested = app
        .services
        .cache
        .ask(Ingest::activities(4242, vec![activity]).fenced(Some(&stale)))
        .await
        .expect("the cache answers");
    assert!(
        matches!(&ingested, Err(CacheError::Storage(e)) if e.is_fenced()),
        "{:?}",
        ingested.map(|_| ())
    );
    let written = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(
        written("SELECT count(*) FROM sync_state WHERE athlete_id = 4242").await,
        0
    );
    assert_eq!(
        written("SELECT count(*) FROM activities WHERE id = 987654321").await,
        0
    );
    // It stays a follower: the lead is the other replica's.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!app.services.replica.role().is_leader());
    assert!(other.services.replica.role().is_leader());
}

#[actix_web::test]
async fn every_pool_session_ends_an_idle_transaction_and_bounds_its_lock_waits() {
    let app = crate::helpers::spawn_app().await;
    let db = app.services.pool.get().await.unwrap();
    for (setting, expected) in [
        ("idle_in_transaction_session_timeout", "10s"),
        ("lock_timeout", "15s"),
    ] {
        let value: String = db
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(value, expected, "{setting}");
    }
}
