//! The replicas' dedicated connections: one leader at a time by Postgres' advisory lock, a new
//! one soon after the old one's session ends, and notifications for everyone.

use std::time::Duration;

use milepost::clock::Clock;
use milepost::store::coordination::{Coordination, LEADER_LOCK, Notification};
use secrecy::SecretString;

use crate::helpers::{connect, eventually, fresh_database};

const CHANNEL: &str = "milepost_test";

fn replicas(url: &str, n: usize) -> Vec<Coordination> {
    (0..n)
        .map(|_| {
            Coordination::start(
                &SecretString::from(url.to_owned()),
                &[CHANNEL],
                Clock::system(),
            )
            .unwrap()
        })
        .collect()
}

fn leaders(replicas: &[Coordination]) -> Vec<usize> {
    (0..replicas.len())
        .filter(|&i| replicas[i].role().borrow().is_leader())
        .collect()
}

/// The backend holding the leader's lock in this database, as Postgres sees it.
async fn lock_holder(db: &tokio_postgres::Client) -> Option<i32> {
    db.query_opt(
        "SELECT pid FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND objsubid = 1
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND ((classid::bigint << 32) | objid::bigint) = $1",
        &[&LEADER_LOCK],
    )
    .await
    .unwrap()
    .map(|row| row.get(0))
}

#[actix_web::test]
async fn exactly_one_of_three_replicas_leads_and_keeps_leading() {
    let url = fresh_database().await;
    let replicas = replicas(&url, 3);
    assert!(
        eventually(async || leaders(&replicas).len() == 1).await,
        "no single leader: {:?}",
        leaders(&replicas)
    );
    let leader = leaders(&replicas);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        leaders(&replicas),
        leader,
        "the lead moved without a reason"
    );
    let db = connect(&url).await;
    assert!(lock_holder(&db).await.is_some());
}

#[actix_web::test]
async fn when_the_leaders_session_ends_it_stops_leading_and_a_replica_takes_over() {
    let url = fresh_database().await;
    let replicas = replicas(&url, 2);
    assert!(eventually(async || leaders(&replicas).len() == 1).await);
    let old = leaders(&replicas)[0];
    let mut old_role = replicas[old].role();
    old_role.borrow_and_update();

    // The leader's connection dies (a crash, a network cut): Postgres ends its session.
    let db = connect(&url).await;
    let pid = lock_holder(&db).await.expect("a lock holder");
    db.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), old_role.changed())
        .await
        .expect("the old leader noticed within 5 s")
        .unwrap();
    assert!(!old_role.borrow().is_leader());

    let taken = tokio::time::timeout(Duration::from_secs(5), async {
        while leaders(&replicas).len() != 1 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    assert!(taken.is_ok(), "nobody took the lead within 5 s");
    assert_ne!(lock_holder(&db).await, Some(pid));
}

#[actix_web::test]
async fn a_stopped_leader_hands_over_at_once() {
    let url = fresh_database().await;
    let mut replicas = replicas(&url, 2);
    assert!(eventually(async || leaders(&replicas).len() == 1).await);
    let old = leaders(&replicas)[0];
    replicas.remove(old).stop().await;
    let db = connect(&url).await;
    let taken = tokio::time::timeout(Duration::from_secs(3), async {
        while leaders(&replicas).len() != 1 {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
    assert!(taken.is_ok(), "the follower did not take over within 3 s");
    assert!(lock_holder(&db).await.is_some());
}

#[actix_web::test]
async fn a_notification_reaches_every_replica() {
    let url = fresh_database().await;
    let replicas = replicas(&url, 2);
    let mut heard: Vec<_> = replicas.iter().map(Coordination::subscribe).collect();
    let db = connect(&url).await;
    let expected = Notification {
        channel: CHANNEL.into(),
        payload: "generation 7".into(),
    };
    // A replica hears what is sent once it has connected and listens: send until all have.
    let mut got = vec![None; heard.len()];
    for _ in 0..100 {
        db.execute(&format!("NOTIFY {CHANNEL}, 'generation 7'"), &[])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (rx, got) in heard.iter_mut().zip(got.iter_mut()) {
            // (an empty payload says the connection started listening)
            while let Ok(n) = rx.try_recv() {
                if !n.payload.is_empty() {
                    got.get_or_insert(n);
                }
            }
        }
        if got.iter().all(Option::is_some) {
            break;
        }
    }
    for (i, got) in got.into_iter().enumerate() {
        assert_eq!(got.as_ref(), Some(&expected), "replica {i}");
    }
}

/// The epoch Postgres has as the leader's.
async fn epoch(db: &tokio_postgres::Client) -> i64 {
    db.query_one("SELECT epoch FROM leader", &[])
        .await
        .unwrap()
        .get(0)
}

#[actix_web::test]
async fn each_new_leader_takes_a_new_epoch_and_carries_it() {
    let url = fresh_database().await;
    let replicas = replicas(&url, 2);
    assert!(eventually(async || leaders(&replicas).len() == 1).await);
    let db = connect(&url).await;
    let first = leaders(&replicas)[0];
    let fence = replicas[first]
        .replica()
        .fence()
        .expect("the leader's fence");
    assert_eq!(fence.epoch(), epoch(&db).await);
    assert!(replicas[1 - first].replica().fence().is_none());

    let pid = lock_holder(&db).await.expect("a lock holder");
    db.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    assert!(
        eventually(async || {
            leaders(&replicas).len() == 1
                && replicas[leaders(&replicas)[0]]
                    .replica()
                    .fence()
                    .is_some_and(|f| f.epoch() > fence.epoch())
        })
        .await,
        "no new leader with a later epoch"
    );
    let now = replicas[leaders(&replicas)[0]].replica().fence().unwrap();
    assert_eq!(now.epoch(), epoch(&db).await);
}

#[actix_web::test]
async fn a_write_under_a_stale_epoch_changes_nothing_and_the_replica_steps_down_at_once() {
    let url = fresh_database().await;
    let replicas = replicas(&url, 1);
    assert!(eventually(async || leaders(&replicas).len() == 1).await);
    let replica = replicas[0].replica();
    let fence = replica.fence().expect("the leader's fence");
    let db = connect(&url).await;
    db.batch_execute(
        "INSERT INTO pending_events (key, athlete_id) VALUES ('activity:1', 7);
         INSERT INTO work_requests (kind) VALUES ('sync');",
    )
    .await
    .unwrap();
    // Another replica took the lead, and this one has not noticed yet.
    db.batch_execute("UPDATE leader SET epoch = epoch + 1")
        .await
        .unwrap();

    let pool = milepost::store::pool(&SecretString::from(url.clone()), 2).unwrap();
    let mut conn = pool.get().await.unwrap();
    let refused = async {
        let tx = milepost::store::fenced(&mut conn, Some(&fence)).await?;
        milepost::store::save_backfill_progress(&tx, 7, 3, false).await?;
        milepost::store::queue::take_events(
            &tx,
            fence.epoch(),
            milepost::store::queue::MAX_PENDING_EVENTS,
        )
        .await?;
        milepost::store::queue::take_work(&tx, fence.epoch()).await?;
        tx.commit().await?;
        anyhow::Ok(())
    }
    .await
    .expect_err("a write under a stale epoch");
    assert!(
        milepost::store::coordination::is_fenced(&refused),
        "{refused:#}"
    );
    // It stepped down at once, before anything else happened.
    assert!(!replica.role().is_leader());
    let count = async |sql: &str| -> i64 { db.query_one(sql, &[]).await.unwrap().get(0) };
    assert_eq!(count("SELECT count(*) FROM sync_state").await, 0);
    assert_eq!(
        count("SELECT count(*) FROM pending_events WHERE taken_by IS NOT NULL").await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM work_requests WHERE taken_by IS NOT NULL").await,
        0
    );

    // The current epoch's writes go through; the replica competes again as a follower and,
    // alone, leads again under a new epoch.
    assert!(
        eventually(async || replica
            .fence()
            .is_some_and(|f| f.epoch() > fence.epoch() + 1))
        .await,
        "the replica never led again"
    );
    let again = replica.fence().unwrap();
    let tx = milepost::store::fenced(&mut conn, Some(&again))
        .await
        .unwrap();
    milepost::store::save_backfill_progress(&tx, 7, 3, false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count("SELECT count(*) FROM sync_state").await, 1);
}
