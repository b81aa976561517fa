//! Postgres: the pool, migrations from `sql/`, and every query milepost runs. Nothing outside
//! this module writes SQL. (The private cluster of `demo` and the tests is process management
//! and lives in `pg`.)

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::NoTls;

use crate::strava::models::{Activity, ActivityStats};

mod columns;
pub mod coordination;
pub mod imports;
pub mod queue;
pub mod served;
pub mod setup;
mod tls;

mod embedded {
    refinery::embed_migrations!("sql");
}

/// Any number will do as long as only milepost uses it: serializes migrations across replicas.
const MIGRATION_LOCK: i64 = 0x6d69_6c65_706f_7374;

/// A failed database operation, as the actors hand it on: cloneable (a sync's outcome goes to
/// every caller joined to it) and keeping the whole cause chain for the log.
#[derive(Debug, Clone)]
pub struct StoreError(std::sync::Arc<anyhow::Error>);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl StoreError {
    /// A leader's write refused by its epoch (see [`coordination::Fence`]).
    pub fn is_fenced(&self) -> bool {
        coordination::is_fenced(&self.0)
    }
}

impl From<anyhow::Error> for StoreError {
    fn from(e: anyhow::Error) -> Self {
        Self(std::sync::Arc::new(e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        anyhow::Error::new(e)
            .context("no database connection")
            .into()
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        anyhow::Error::new(e)
            .context("a database statement failed")
            .into()
    }
}

/// A transaction left open without a statement for this long is ended by Postgres: a replica
/// gone silent mid-transaction holds no token, budget or queue row for the new leader. (A
/// token refresh is the longest legitimate wait, one Strava call.)
pub const IDLE_IN_TRANSACTION: std::time::Duration = std::time::Duration::from_secs(10);
/// A statement waits this long at most for a row or lock another session holds.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// A pool over `url` (over TLS when it says `sslmode=require`, see [`tls`]); connections are
/// made lazily. Every session ends a transaction left idle ([`IDLE_IN_TRANSACTION`]), waits
/// [`LOCK_WAIT`] at most for a lock, and sets TCP keepalives on the server's end too.
pub fn pool(url: &SecretString, size: usize) -> anyhow::Result<Pool> {
    let mut target = tls::Target::parse(url.expose_secret())?;
    target.set_for_every_session(&pool_session_settings());
    let recycling = || ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match target.tls()? {
        Some(tls) => Manager::from_config(target.config, tls, recycling()),
        None => Manager::from_config(target.config, NoTls, recycling()),
    };
    Pool::builder(manager)
        .max_size(size.max(2))
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .context("building the Postgres pool")
}

/// What every pool session sets at start-up (all known to PostgreSQL 9.6 and later).
fn pool_session_settings() -> Vec<(&'static str, String)> {
    use tls::{KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES};
    vec![
        (
            "idle_in_transaction_session_timeout",
            format!("{}ms", IDLE_IN_TRANSACTION.as_millis()),
        ),
        ("lock_timeout", format!("{}ms", LOCK_WAIT.as_millis())),
        ("tcp_keepalives_idle", KEEPALIVE_IDLE.as_secs().to_string()),
        (
            "tcp_keepalives_interval",
            KEEPALIVE_INTERVAL.as_secs().to_string(),
        ),
        ("tcp_keepalives_count", KEEPALIVE_PROBES.to_string()),
    ]
}

/// A transaction for a write the leader makes: with `fence`, its epoch is checked first and
/// holds until the transaction ends (see [`coordination::Fence::check`]); without, a plain one
/// (a follower's write, or one that any replica may make).
pub async fn fenced<'a>(
    db: &'a mut deadpool_postgres::Object,
    fence: Option<&coordination::Fence>,
) -> anyhow::Result<deadpool_postgres::Transaction<'a>> {
    let tx = db.transaction().await?;
    if let Some(fence) = fence {
        fence.check(&tx).await?;
    }
    Ok(tx)
}

/// How long start-up waits for Postgres to accept connections (it may start alongside us).
const CONNECT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Applies the migrations in `sql/` in one transaction, one replica at a time.
pub async fn migrate(pool: &Pool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + CONNECT_PATIENCE;
    let mut conn = loop {
        match pool.get().await {
            Ok(conn) => break conn,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "Postgres not reachable yet; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e).context("connecting to Postgres"),
        }
    };
    // Another replica's migrations may take longer than any lock wait is allowed to.
    conn.batch_execute("SET lock_timeout = 0").await?;
    conn.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let client: &mut tokio_postgres::Client = &mut conn;
    let result = embedded::migrations::runner()
        .set_grouped(true)
        .run_async(client)
        .await;
    conn.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    conn.batch_execute("RESET lock_timeout").await?;
    result.context("applying migrations")?;
    Ok(())
}

/// Encrypted tokens as stored.
#[derive(Clone)]
pub struct StoredTokens {
    pub athlete_id: i64,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub scope: String,
    pub status: String,
}

const TOKEN_COLUMNS: &str = "athlete_id, access_token, refresh_token, expires_at, scope, status";

impl From<tokio_postgres::Row> for StoredTokens {
    fn from(r: tokio_postgres::Row) -> Self {
        Self {
            athlete_id: r.get(0),
            access_token: r.get(1),
            refresh_token: r.get(2),
            expires_at: r.get(3),
            scope: r.get(4),
            status: r.get(5),
        }
    }
}

/// The connected athlete's tokens (the most recently written row).
pub async fn load_tokens(db: &impl GenericClient) -> anyhow::Result<Option<StoredTokens>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY updated_at DESC LIMIT 1");
    Ok(db.query_opt(&sql, &[]).await?.map(StoredTokens::from))
}

/// Which athlete is connected (the most recently written token row), whatever the state of
/// their tokens: a plain read, which a refresh holding the row's lock does not hold up.
pub async fn connected_athlete(db: &impl GenericClient) -> anyhow::Result<Option<i64>> {
    let row = db
        .query_opt(
            "SELECT athlete_id FROM tokens ORDER BY updated_at DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Whether `athlete_id` still has a token row. An ingest of their API data asks it first, in
/// its own transaction and after [`lock_derivation`]: a forget deletes the token row before it
/// deletes the rest under that same lock, so an ingest that reads the row before the delete
/// committed has its rows deleted by that forget right after, and one that reads after finds
/// none and writes nothing. A plain read: a token refresh holding the row's lock does not
/// hold up an ingest.
pub async fn still_connected(db: &impl GenericClient, athlete_id: i64) -> anyhow::Result<bool> {
    Ok(db
        .query_opt("SELECT 1 FROM tokens WHERE athlete_id = $1", &[&athlete_id])
        .await?
        .is_some())
}

/// The athlete's token row, locked until the transaction ends: a refresh holds it, so no other
/// process spends the same refresh token meanwhile.
pub async fn lock_tokens(
    db: &impl GenericClient,
    athlete_id: i64,
) -> anyhow::Result<Option<StoredTokens>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE athlete_id = $1 FOR UPDATE");
    Ok(db
        .query_opt(&sql, &[&athlete_id])
        .await?
        .map(StoredTokens::from))
}

/// Every athlete's tokens, each row locked until the transaction ends: a refresh that commits
/// a rotated token meanwhile waits, rather than being overwritten by what was read before it.
pub async fn lock_all_tokens(db: &impl GenericClient) -> anyhow::Result<Vec<StoredTokens>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY athlete_id FOR UPDATE");
    let rows = db.query(&sql, &[]).await?;
    Ok(rows.into_iter().map(StoredTokens::from).collect())
}

pub async fn save_tokens(db: &impl GenericClient, t: &StoredTokens) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO tokens (athlete_id, access_token, refresh_token, expires_at, scope, status, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (athlete_id) DO UPDATE SET access_token = $2, refresh_token = $3,
             expires_at = $4, scope = $5, status = $6, updated_at = now()",
        &[
            &t.athlete_id,
            &t.access_token,
            &t.refresh_token,
            &t.expires_at,
            &t.scope,
            &t.status,
        ],
    )
    .await?;
    Ok(())
}

/// Stores refreshed (or re-encrypted) tokens for an athlete whose row still exists, leaving the
/// granted scope as it is; `false` when the row is gone (the athlete was forgotten while the
/// refresh ran), so a late refresh never brings a row back.
pub async fn update_tokens(db: &impl GenericClient, t: &StoredTokens) -> anyhow::Result<bool> {
    let updated = db
        .execute(
            "UPDATE tokens SET access_token = $2, refresh_token = $3, expires_at = $4,
                 status = $5, updated_at = now()
             WHERE athlete_id = $1",
            &[
                &t.athlete_id,
                &t.access_token,
                &t.refresh_token,
                &t.expires_at,
                &t.status,
            ],
        )
        .await?;
    Ok(updated == 1)
}

pub async fn set_token_status(
    db: &impl GenericClient,
    athlete_id: i64,
    status: &str,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE tokens SET status = $2, updated_at = now() WHERE athlete_id = $1",
        &[&athlete_id, &status],
    )
    .await?;
    Ok(())
}

pub async fn owner(db: &impl GenericClient) -> anyhow::Result<Option<i64>> {
    Ok(db
        .query_opt("SELECT athlete_id FROM owner", &[])
        .await?
        .map(|r| r.get(0)))
}

/// Who owns the instance after [`claim_owner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This claim made the athlete the owner: nobody owned the instance when it was written.
    Claimed,
    /// The instance was owned already: by this athlete, or by the one named.
    Owned(i64),
}

/// Makes `athlete_id` the owner unless there already is one. Whether this statement itself
/// wrote the owner is what decides a first connection, not an earlier read: an owner deleted
/// by a disconnect that commits while the claim runs leaves the claim a first connection.
pub async fn claim_owner(db: &impl GenericClient, athlete_id: i64) -> anyhow::Result<Claim> {
    let claimed = db
        .execute(
            "INSERT INTO owner (athlete_id) VALUES ($1) ON CONFLICT (singleton) DO NOTHING",
            &[&athlete_id],
        )
        .await?;
    if claimed == 1 {
        return Ok(Claim::Claimed);
    }
    owner(db)
        .await?
        .map(Claim::Owned)
        .context("the owner row vanished right after it was claimed")
}

/// Records a state nonce as used. `false` if it was used before (a replay).
pub async fn consume_state_nonce(
    db: &impl GenericClient,
    nonce: &str,
    expires_at: DateTime<Utc>,
) -> anyhow::Result<bool> {
    db.execute("DELETE FROM oauth_states WHERE expires_at < now()", &[])
        .await?;
    let inserted = db
        .execute(
            "INSERT INTO oauth_states (nonce, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&nonce, &expires_at],
        )
        .await?;
    Ok(inserted == 1)
}

/// Inserts or updates activities, marking them confirmed at `confirmed_at`. Activities without a
/// readable start date are skipped (they could not be placed in any stat).
pub async fn upsert_activities(
    db: &impl GenericClient,
    athlete_id: i64,
    activities: &[Activity],
    confirmed_at: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let (ids, starts, summaries) = columns::of(activities)?;
    let n = db
        .execute(
            "INSERT INTO activities (id, athlete_id, start_date, summary, confirmed_at)
             SELECT u.id, $1, u.start_date, u.summary, $5
             FROM unnest($2::bigint[], $3::timestamptz[], $4::jsonb[]) AS u(id, start_date, summary)
             ON CONFLICT (id) DO UPDATE SET athlete_id = $1, start_date = EXCLUDED.start_date,
                 summary = EXCLUDED.summary, confirmed_at = $5",
            &[&athlete_id, &ids, &starts, &summaries, &confirmed_at],
        )
        .await?;
    Ok(n)
}

pub async fn activities(db: &impl GenericClient, athlete_id: i64) -> anyhow::Result<Vec<Activity>> {
    let rows = db
        .query(
            "SELECT summary FROM activities WHERE athlete_id = $1 ORDER BY start_date DESC, id DESC",
            &[&athlete_id],
        )
        .await?;
    rows.into_iter()
        .map(|r| {
            serde_json::from_value(r.get::<_, serde_json::Value>(0))
                .context("a stored activity no longer parses")
        })
        .collect()
}

pub async fn newest_start(
    db: &impl GenericClient,
    athlete_id: i64,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(db
        .query_one(
            "SELECT max(start_date) FROM activities WHERE athlete_id = $1",
            &[&athlete_id],
        )
        .await?
        .get(0))
}

/// Ids of every stored activity of the athlete.
pub async fn activity_ids(
    db: &impl GenericClient,
    athlete_id: i64,
) -> anyhow::Result<std::collections::HashSet<i64>> {
    let rows = db
        .query(
            "SELECT id FROM activities WHERE athlete_id = $1",
            &[&athlete_id],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

/// Ids of the athlete's stored activities that started after `since`.
pub async fn activity_ids_since(
    db: &impl GenericClient,
    athlete_id: i64,
    since: DateTime<Utc>,
) -> anyhow::Result<std::collections::HashSet<i64>> {
    let rows = db
        .query(
            "SELECT id FROM activities WHERE athlete_id = $1 AND start_date > $2",
            &[&athlete_id, &since],
        )
        .await?;
    Ok(rows.into_iter().map(|r| r.get(0)).collect())
}

pub async fn upsert_athlete_stats(
    db: &impl GenericClient,
    athlete_id: i64,
    stats: &ActivityStats,
    confirmed_at: DateTime<Utc>,
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO athlete_stats (athlete_id, stats, confirmed_at) VALUES ($1, $2, $3)
         ON CONFLICT (athlete_id) DO UPDATE SET stats = $2, confirmed_at = $3",
        &[&athlete_id, &serde_json::to_value(stats)?, &confirmed_at],
    )
    .await?;
    Ok(())
}

pub async fn athlete_stats(
    db: &impl GenericClient,
    athlete_id: i64,
) -> anyhow::Result<Option<ActivityStats>> {
    let row = db
        .query_opt(
            "SELECT stats FROM athlete_stats WHERE athlete_id = $1",
            &[&athlete_id],
        )
        .await?;
    row.map(|r| {
        serde_json::from_value(r.get::<_, serde_json::Value>(0))
            .context("stored athlete stats no longer parse")
    })
    .transpose()
}

/// Whose data is served, and when it was fetched.
#[derive(Debug, Clone, Copy)]
pub struct Publication {
    /// The athlete whose API data is served; `None` when only imported activities are.
    pub athlete_id: Option<i64>,
    pub fetched_at: DateTime<Utc>,
}

/// What is served, if anything: the athlete whose last sync succeeded (none after a disconnect)
/// and imported activities, fetched when the newer of the sync and the last imported change was.
pub async fn last_publication(db: &impl GenericClient) -> anyhow::Result<Option<Publication>> {
    let synced = db
        .query_opt(
            "SELECT athlete_id, last_success_at FROM sync_state
             WHERE last_success_at IS NOT NULL ORDER BY last_success_at DESC LIMIT 1",
            &[],
        )
        .await?;
    let imported: Option<DateTime<Utc>> = db
        .query_one("SELECT max(imported_at) FROM imported_activities", &[])
        .await?
        .get(0);
    let athlete_id = synced.as_ref().map(|r| r.get::<_, i64>(0));
    let synced_at = synced.map(|r| r.get::<_, DateTime<Utc>>(1));
    Ok(synced_at.max(imported).map(|fetched_at| Publication {
        athlete_id,
        fetched_at,
    }))
}

/// Any number will do as long as only milepost uses it: see [`lock_derivation`].
const DERIVATION_LOCK: i64 = 0x6d69_6c65_6465_7276;

/// Makes the transaction the only one deriving bodies until it ends. Within a process the
/// CacheActor takes its ingests in turn; this covers the other processes on the same Postgres
/// (an import run from the command line, an upload to a follower, the leader's sync), each of
/// which derives from what it reads: without the lock, the last to commit could serve bodies
/// derived without the other's rows.
pub async fn lock_derivation(db: &impl GenericClient) -> anyhow::Result<()> {
    db.execute("SELECT pg_advisory_xact_lock($1)", &[&DERIVATION_LOCK])
        .await?;
    Ok(())
}

/// A served response body as stored: its cache key, bytes and ETag.
#[derive(Debug, Clone)]
pub struct StoredBody {
    pub key: String,
    pub body: Vec<u8>,
    pub etag: String,
}

/// Replaces every stored response body with `bodies` (keys absent from it are dropped).
pub async fn replace_bodies(db: &impl GenericClient, bodies: &[StoredBody]) -> anyhow::Result<()> {
    let keys: Vec<&str> = bodies.iter().map(|b| b.key.as_str()).collect();
    let blobs: Vec<&[u8]> = bodies.iter().map(|b| b.body.as_slice()).collect();
    let etags: Vec<&str> = bodies.iter().map(|b| b.etag.as_str()).collect();
    db.execute(
        "DELETE FROM response_bodies WHERE NOT (key = ANY($1))",
        &[&keys],
    )
    .await?;
    db.execute(
        "INSERT INTO response_bodies (key, body, etag, updated_at)
         SELECT u.key, u.body, u.etag, now() FROM unnest($1::text[], $2::bytea[], $3::text[]) AS u(key, body, etag)
         ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, etag = EXCLUDED.etag, updated_at = now()
         WHERE response_bodies.etag IS DISTINCT FROM EXCLUDED.etag",
        &[&keys, &blobs, &etags],
    )
    .await?;
    Ok(())
}

pub async fn bodies(db: &impl GenericClient) -> anyhow::Result<Vec<StoredBody>> {
    let rows = db
        .query("SELECT key, body, etag FROM response_bodies", &[])
        .await?;
    Ok(rows.iter().map(stored_body).collect())
}

/// A `key, body, etag` row of `response_bodies`.
fn stored_body(r: &tokio_postgres::Row) -> StoredBody {
    StoredBody {
        key: r.get(0),
        body: r.get(1),
        etag: r.get(2),
    }
}

/// Sync progress of one athlete.
#[derive(Debug, Clone, Default)]
pub struct SyncState {
    pub backfill_done: bool,
    pub backfill_next_page: i32,
    pub largest_page: i32,
    pub last_success_at: Option<DateTime<Utc>>,
}

pub async fn sync_state(db: &impl GenericClient, athlete_id: i64) -> anyhow::Result<SyncState> {
    let row = db
        .query_opt(
            "SELECT backfill_done, backfill_next_page, largest_page, last_success_at
             FROM sync_state WHERE athlete_id = $1",
            &[&athlete_id],
        )
        .await?;
    Ok(row.map_or(
        SyncState {
            backfill_next_page: 1,
            ..SyncState::default()
        },
        |r| SyncState {
            backfill_done: r.get(0),
            backfill_next_page: r.get(1),
            largest_page: r.get(2),
            last_success_at: r.get(3),
        },
    ))
}

pub async fn save_backfill_progress(
    db: &impl GenericClient,
    athlete_id: i64,
    next_page: i32,
    done: bool,
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO sync_state (athlete_id, backfill_next_page, backfill_done) VALUES ($1, $2, $3)
         ON CONFLICT (athlete_id) DO UPDATE SET backfill_next_page = $2, backfill_done = $3",
        &[&athlete_id, &next_page, &done],
    )
    .await?;
    Ok(())
}

pub async fn save_largest_page(
    db: &impl GenericClient,
    athlete_id: i64,
    largest_page: i32,
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO sync_state (athlete_id, largest_page) VALUES ($1, $2)
         ON CONFLICT (athlete_id) DO UPDATE SET largest_page = GREATEST(sync_state.largest_page, $2)",
        &[&athlete_id, &largest_page],
    )
    .await?;
    Ok(())
}

pub async fn record_sync_result(
    db: &impl GenericClient,
    athlete_id: i64,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO sync_state (athlete_id, last_attempt_at, last_success_at, last_error)
         VALUES ($1, $3::timestamptz, CASE WHEN $2::text IS NULL THEN $3::timestamptz END, $2)
         ON CONFLICT (athlete_id) DO UPDATE SET last_attempt_at = $3::timestamptz,
             last_success_at = CASE WHEN $2::text IS NULL THEN $3::timestamptz
                                    ELSE sync_state.last_success_at END,
             last_error = $2",
        &[&athlete_id, &error, &at],
    )
    .await?;
    Ok(())
}

/// Deletes the athlete's tokens, and the owner lock unless `keep_owner` (the TokenActor's part
/// of forgetting an athlete).
pub async fn forget_tokens(
    db: &impl GenericClient,
    athlete_id: i64,
    keep_owner: bool,
) -> anyhow::Result<()> {
    db.execute("DELETE FROM tokens WHERE athlete_id = $1", &[&athlete_id])
        .await?;
    if !keep_owner {
        db.execute("DELETE FROM owner WHERE athlete_id = $1", &[&athlete_id])
            .await?;
    }
    Ok(())
}

/// Deletes the athlete's activities, athlete stats and every served body (the CacheActor's part
/// of forgetting an athlete).
pub async fn forget_activities(db: &impl GenericClient, athlete_id: i64) -> anyhow::Result<()> {
    for statement in [
        "DELETE FROM activities WHERE athlete_id = $1",
        "DELETE FROM athlete_stats WHERE athlete_id = $1",
    ] {
        db.execute(statement, &[&athlete_id]).await?;
    }
    db.execute("DELETE FROM response_bodies", &[]).await?;
    Ok(())
}

/// Deletes the athlete's sync progress (the FetcherActor's part of forgetting an athlete).
pub async fn forget_sync_state(db: &impl GenericClient, athlete_id: i64) -> anyhow::Result<()> {
    db.execute(
        "DELETE FROM sync_state WHERE athlete_id = $1",
        &[&athlete_id],
    )
    .await?;
    Ok(())
}

/// The push subscription `milepost webhook subscribe` stored, if any.
pub async fn webhook_subscription(db: &impl GenericClient) -> anyhow::Result<Option<i64>> {
    Ok(db
        .query_opt("SELECT id FROM webhook_subscription LIMIT 1", &[])
        .await?
        .map(|r| r.get(0)))
}

/// Remembers the app's (single) push subscription.
pub async fn save_webhook_subscription(
    db: &impl GenericClient,
    id: i64,
    callback_url: &str,
) -> anyhow::Result<()> {
    db.execute("DELETE FROM webhook_subscription", &[]).await?;
    db.execute(
        "INSERT INTO webhook_subscription (id, callback_url) VALUES ($1, $2)",
        &[&id, &callback_url],
    )
    .await?;
    Ok(())
}

pub async fn delete_webhook_subscription(db: &impl GenericClient, id: i64) -> anyhow::Result<()> {
    db.execute("DELETE FROM webhook_subscription WHERE id = $1", &[&id])
        .await?;
    Ok(())
}

/// Deletes every Strava record not confirmed by Strava since `cutoff`; how many went.
pub async fn purge_unconfirmed(
    db: &impl GenericClient,
    cutoff: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let activities = db
        .execute("DELETE FROM activities WHERE confirmed_at < $1", &[&cutoff])
        .await?;
    let stats = db
        .execute(
            "DELETE FROM athlete_stats WHERE confirmed_at < $1",
            &[&cutoff],
        )
        .await?;
    Ok(activities + stats)
}

/// Removes activities Strava no longer has, whatever their source.
pub async fn delete_activities(
    db: &impl GenericClient,
    athlete_id: i64,
    ids: &[i64],
) -> anyhow::Result<u64> {
    let api = db
        .execute(
            "DELETE FROM activities WHERE athlete_id = $1 AND id = ANY($2)",
            &[&athlete_id, &ids],
        )
        .await?;
    // The athlete deleted them: an imported copy goes too (SPEC §11).
    Ok(api + imports::delete_imported(db, ids).await?)
}

/// The rate budget as last stored (`None` before the first Strava response).
pub async fn rate_budget(
    db: &impl GenericClient,
) -> anyhow::Result<Option<crate::strava::budget::Budget>> {
    let Some(row) = db.query_opt("SELECT figures FROM rate_budget", &[]).await? else {
        return Ok(None);
    };
    let figures: serde_json::Value = row.try_get(0)?;
    Ok(Some(
        serde_json::from_value(figures).context("the stored rate budget is unreadable")?,
    ))
}

/// Stores the rate budget unless what is stored is newer (writes may arrive out of order).
pub async fn save_rate_budget(
    db: &impl GenericClient,
    budget: &crate::strava::budget::Budget,
) -> anyhow::Result<()> {
    let figures = serde_json::to_value(budget)?;
    db.execute(
        "INSERT INTO rate_budget (singleton, figures, observed_at) VALUES (TRUE, $1, $2)
         ON CONFLICT (singleton) DO UPDATE SET figures = $1, observed_at = $2
         WHERE rate_budget.observed_at <= $2",
        &[&figures, &budget.observed_at()],
    )
    .await?;
    Ok(())
}

/// What `/strava/health` reports beyond reachability.
#[derive(Debug, Clone, Default)]
pub struct HealthFacts {
    pub connection: Option<String>,
    pub last_sync: Option<DateTime<Utc>>,
    /// The replica that last took the lead, and when.
    pub leader: Option<String>,
    pub leader_since: Option<DateTime<Utc>>,
    /// When the last import that wrote finished ([`imports::last_import`]).
    pub last_import: Option<DateTime<Utc>>,
    /// How many imported activities are stored ([`imports::imported_count`]).
    pub imported: i64,
}

pub async fn health_facts(db: &impl GenericClient) -> anyhow::Result<HealthFacts> {
    // One round trip for all of it: the page and health ask at most once a second, each time.
    static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT (SELECT status FROM tokens ORDER BY updated_at DESC LIMIT 1),
                    (SELECT max(last_success_at) FROM sync_state),
                    (SELECT replica FROM leader), (SELECT since FROM leader),
                    ({}), ({})",
            imports::LAST_IMPORT,
            imports::IMPORTED_COUNT
        )
    });
    let row = db.query_one(QUERY.as_str(), &[]).await?;
    Ok(HealthFacts {
        connection: row.try_get(0)?,
        last_sync: row.try_get(1)?,
        leader: row.try_get(2)?,
        leader_since: row.try_get(3)?,
        last_import: row.try_get(4)?,
        imported: row.try_get(5)?,
    })
}
