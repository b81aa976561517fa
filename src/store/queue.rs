//! The durable queue (SPEC §6): webhook events acknowledged but not yet confirmed, and the
//! work a replica that is not the leader hands the leader. Both are written before the
//! request that brought them is answered, and taken by the leader with
//! `FOR UPDATE SKIP LOCKED`, marking them with its term (the leadership epoch it took, see
//! `coordination`), so a new leader takes what an old one left unfinished.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

/// The channel that wakes the leader for new work.
pub const WORK_CHANNEL: &str = "milepost_work";
/// The payload on [`WORK_CHANNEL`] when the push subscription changed (a trigger sends it).
pub const SUBSCRIPTION_CHANGED: &str = "subscription";
/// The channel each committed change is announced on (see `sql/V3__replicas.sql`).
pub const GENERATION_CHANNEL: &str = "milepost_generation";
/// Pending event rows at most; past that, new targets are not stored (a reconciliation
/// catches them instead).
pub const MAX_PENDING_EVENTS: i64 = 1_000;

/// One target's row as stored or taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub key: String,
    pub athlete_id: i64,
    /// Moves on with every event for the key.
    pub seq: i64,
    /// The row was there already: this event added nothing new to confirm.
    pub coalesced: bool,
}

/// Taken (for the transaction) by every [`store_events`] before it counts the rows.
const INSERT_LOCK: i64 = 0x6d69_6c65_7175_6575;

/// Stores one row per `(key, athlete)` (keys distinct); a key not stored yet only while the
/// table has room for it ([`MAX_PENDING_EVENTS`]): those it had none for are left out of the
/// answer.
/// `taken_by` is the storing leader's term (`None` on a follower, which also wakes the leader).
///
/// The cap holds however many replicas store at once: each transaction first takes a
/// transaction-level advisory lock, so inserters go one at a time, and the `INSERT` that counts
/// the room runs in a statement after the lock was granted, whose snapshot holds every row the
/// one before committed. (Counting in the same statement that waits would count from a
/// snapshot taken before the wait.) The lock is held for one short statement and goes with the
/// commit; nothing else takes it.
pub async fn store_events(
    db: &mut deadpool_postgres::Object,
    events: &[(String, i64)],
    taken_by: Option<i64>,
) -> anyhow::Result<Vec<PendingEvent>> {
    let keys: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    let athletes: Vec<i64> = events.iter().map(|(_, a)| *a).collect();
    let tx = db.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INSERT_LOCK])
        .await?;
    let rows = tx
        .query(
            "WITH incoming AS (
                 SELECT i.*, EXISTS (SELECT 1 FROM pending_events q WHERE q.key = i.key) AS known
                   FROM unnest($1::text[], $2::bigint[]) AS i(key, athlete_id)
             ),
             room AS (SELECT greatest(0, $4 - count(*)) AS n FROM pending_events),
             chosen AS (
                 SELECT key, athlete_id FROM incoming WHERE known
                 UNION ALL
                 (SELECT key, athlete_id FROM incoming WHERE NOT known
                   LIMIT (SELECT n FROM room))
             )
             INSERT INTO pending_events AS p (key, athlete_id, taken_by)
             SELECT key, athlete_id, $3 FROM chosen
             ON CONFLICT (key) DO UPDATE
                SET seq = nextval('pending_event_seq'), athlete_id = EXCLUDED.athlete_id,
                    taken_by = EXCLUDED.taken_by, received_at = now()
             RETURNING key, athlete_id, seq, NOT (xmax = 0) AS coalesced",
            &[&keys, &athletes, &taken_by, &MAX_PENDING_EVENTS],
        )
        .await?;
    if taken_by.is_none() && !rows.is_empty() {
        tx.execute("SELECT pg_notify($1, 'events')", &[&WORK_CHANNEL])
            .await?;
    }
    tx.commit().await?;
    rows.iter().map(pending_event).collect()
}

fn pending_event(row: &tokio_postgres::Row) -> anyhow::Result<PendingEvent> {
    Ok(PendingEvent {
        key: row.try_get(0)?,
        athlete_id: row.try_get(1)?,
        seq: row.try_get(2)?,
        coalesced: row.try_get(3)?,
    })
}

/// At most `room` event rows no one of `term` has taken (a new leader: all of them), oldest
/// first, now taken by it. The rest stay untaken for a later call: the leader takes only what
/// its pending set has room for, so no row is marked with a term that does not hold it.
pub async fn take_events(
    db: &impl GenericClient,
    term: i64,
    room: i64,
) -> anyhow::Result<Vec<PendingEvent>> {
    if room <= 0 {
        return Ok(Vec::new());
    }
    let rows = db
        .query(
            "UPDATE pending_events SET taken_by = $1
              WHERE key IN (SELECT key FROM pending_events
                             WHERE taken_by IS DISTINCT FROM $1
                             ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
              RETURNING key, athlete_id, seq, FALSE",
            &[&term, &room],
        )
        .await?;
    let mut taken: Vec<PendingEvent> = rows.iter().map(pending_event).collect::<Result<_, _>>()?;
    taken.sort_by_key(|e| e.seq);
    Ok(taken)
}

/// Rows `term` took (or stored) but cannot hold now: untaken again, for its next
/// [`take_events`] (or the next leader's).
pub async fn release_events(
    db: &impl GenericClient,
    term: i64,
    keys: &[String],
) -> anyhow::Result<u64> {
    Ok(db
        .execute(
            "UPDATE pending_events SET taken_by = NULL WHERE key = ANY($2) AND taken_by = $1",
            &[&term, &keys],
        )
        .await?)
}

/// The key's row is confirmed up to `seq`: gone, unless an event came after.
pub async fn finish_event(db: &impl GenericClient, key: &str, seq: i64) -> anyhow::Result<bool> {
    let deleted = db
        .execute(
            "DELETE FROM pending_events WHERE key = $1 AND seq <= $2",
            &[&key, &seq],
        )
        .await?;
    Ok(deleted > 0)
}

/// What a follower asks the leader to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkKind {
    /// `refresh-data`; someone waits for the outcome.
    Sync,
    /// `refresh-data?full=true`; someone waits for the outcome.
    FullSync,
    /// The first sync after a connection; nobody waits.
    BackgroundSync,
    /// A full re-list in place of events the queue had no room for; nobody waits.
    Reconciliation,
    Disconnect,
}

impl WorkKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::FullSync => "full_sync",
            Self::BackgroundSync => "background_sync",
            Self::Reconciliation => "reconciliation",
            Self::Disconnect => "disconnect",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(match text {
            "sync" => Self::Sync,
            "full_sync" => Self::FullSync,
            "background_sync" => Self::BackgroundSync,
            "reconciliation" => Self::Reconciliation,
            "disconnect" => Self::Disconnect,
            other => anyhow::bail!("unknown work kind {other:?}"),
        })
    }
}

/// Asks the leader for `kind` (and wakes it): the request's id.
pub async fn request_work(
    db: &mut deadpool_postgres::Object,
    kind: WorkKind,
) -> anyhow::Result<i64> {
    let tx = db.transaction().await?;
    let id = tx
        .query_one(
            "INSERT INTO work_requests (kind) VALUES ($1) RETURNING id",
            &[&kind.as_str()],
        )
        .await?
        .try_get(0)?;
    tx.execute("SELECT pg_notify($1, 'work')", &[&WORK_CHANNEL])
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// A full sync for the leader unless one is waiting already (a reconciliation in place of the
/// events the queue had no room for).
pub async fn request_reconciliation(db: &mut deadpool_postgres::Object) -> anyhow::Result<()> {
    let tx = db.transaction().await?;
    let inserted = tx
        .execute(
            "INSERT INTO work_requests (kind)
             SELECT 'reconciliation' WHERE NOT EXISTS (
                 SELECT 1 FROM work_requests WHERE kind = 'reconciliation' AND finished_at IS NULL)",
            &[],
        )
        .await?;
    if inserted > 0 {
        tx.execute("SELECT pg_notify($1, 'work')", &[&WORK_CHANNEL])
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Where a request stands for its asker.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkState {
    Waiting,
    Taken,
    Finished(serde_json::Value),
    /// No such row (it was withdrawn).
    Gone,
}

pub async fn work_state(db: &impl GenericClient, id: i64) -> anyhow::Result<WorkState> {
    let Some(row) = db
        .query_opt(
            "SELECT taken_by IS NOT NULL, outcome FROM work_requests WHERE id = $1",
            &[&id],
        )
        .await?
    else {
        return Ok(WorkState::Gone);
    };
    let taken: bool = row.try_get(0)?;
    let outcome: Option<serde_json::Value> = row.try_get(1)?;
    Ok(match outcome {
        Some(outcome) => WorkState::Finished(outcome),
        None if taken => WorkState::Taken,
        None => WorkState::Waiting,
    })
}

/// Withdraws a request no leader took: `true` if it was still waiting (now gone).
pub async fn withdraw_work(db: &impl GenericClient, id: i64) -> anyhow::Result<bool> {
    Ok(db
        .execute(
            "DELETE FROM work_requests WHERE id = $1 AND taken_by IS NULL",
            &[&id],
        )
        .await?
        > 0)
}

/// The asker has read the outcome.
pub async fn forget_work(db: &impl GenericClient, id: i64) -> anyhow::Result<()> {
    db.execute("DELETE FROM work_requests WHERE id = $1", &[&id])
        .await?;
    Ok(())
}

/// The unfinished requests no one of `term` took, now taken by it; finished ones an asker
/// never came back for (it died) go after an hour.
pub async fn take_work(db: &impl GenericClient, term: i64) -> anyhow::Result<Vec<(i64, WorkKind)>> {
    db.execute(
        "DELETE FROM work_requests WHERE finished_at < now() - interval '1 hour'",
        &[],
    )
    .await?;
    let rows = db
        .query(
            "UPDATE work_requests SET taken_by = $1
              WHERE id IN (SELECT id FROM work_requests
                            WHERE finished_at IS NULL AND taken_by IS DISTINCT FROM $1
                            ORDER BY id FOR UPDATE SKIP LOCKED)
              RETURNING id, kind",
            &[&term],
        )
        .await?;
    let mut taken = rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, WorkKind::parse(row.try_get(1)?)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    taken.sort_by_key(|(id, _)| *id);
    Ok(taken)
}

/// The leader's answer to a request.
pub async fn finish_work(
    db: &impl GenericClient,
    id: i64,
    outcome: &serde_json::Value,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE work_requests SET outcome = $2, finished_at = now() WHERE id = $1",
        &[&id, outcome],
    )
    .await?;
    Ok(())
}

/// The generation now.
pub async fn generation(db: &impl GenericClient) -> anyhow::Result<i64> {
    Ok(db
        .query_one("SELECT value FROM generation", &[])
        .await?
        .try_get(0)?)
}

/// Which replica leads, as the leader last wrote it.
pub async fn leader(db: &impl GenericClient) -> anyhow::Result<Option<(String, DateTime<Utc>)>> {
    let row = db
        .query_opt("SELECT replica, since FROM leader", &[])
        .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .transpose()
}
