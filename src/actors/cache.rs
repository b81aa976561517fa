//! CacheActor: owns the served data. It keeps every response body pre-serialized (with its ETag)
//! in a moka cache, writes every change through to Postgres in one transaction (activities,
//! athlete stats and the derived bodies together), and warms itself from Postgres at start-up so
//! a restart serves data before any Strava call.
//!
//! Anything Strava has not confirmed within RETENTION_DAYS is purged (at start-up and hourly)
//! and the bodies derived again.
//!
//! Bodies that depend on the date (the twelve months ending with the current one) are derived
//! again when the day changes, even if no sync brings new data.
//!
//! Messages: [`Get`] (a body by key), [`ListActivities`] (a page of the activity list), [`Ingest`] (store what a sync fetched, optionally
//! re-deriving every body), [`Forget`] (delete an athlete's data), [`Health`] (database reachability and connection facts).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use crate::metrics::{CacheLabels, Mailbox, Metrics};
use crate::stats::{self, Visibility};
use crate::store;
use crate::strava::models::{Activity, ActivityStats};

/// More than enough for every body milepost derives; moka evicts beyond it.
const CACHE_CAPACITY: u64 = 10_000;
/// How long start-up waits before trying to warm again when Postgres is not there yet.
const WARM_RETRY: Duration = Duration::from_secs(2);
/// How often the retention sweep runs (and once right after warming).
const RETENTION_SWEEP: Duration = Duration::from_secs(3600);
/// How often the actor checks whether the day changed under its bodies.
const DAY_CHECK: Duration = Duration::from_secs(60);
/// How long a health check waits for Postgres.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// A response body exactly as served.
#[derive(Debug)]
pub struct CachedBody {
    pub body: Bytes,
    pub etag: String,
}

impl CachedBody {
    pub fn new(body: Bytes) -> Self {
        let digest = Sha256::digest(&body);
        let etag = format!(
            "\"{}\"",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Self { body, etag }
    }
}

pub struct CacheActor {
    pool: Pool,
    cache: moka::sync::Cache<String, Arc<CachedBody>>,
    metrics: Arc<Metrics>,
    visibility: Visibility,
    /// Strava data not confirmed for this long is purged.
    retention: chrono::Duration,
    ready: Arc<AtomicBool>,
    /// Every public activity, pre-serialized, for `/strava/activities`.
    list: Arc<stats::ActivityList>,
    /// The athlete's local day the served bodies were derived on (`None`: nothing served).
    derived_on: Option<NaiveDate>,
    /// The athlete's offset from UTC (seconds), which decides when their day changes.
    utc_offset: i64,
    me: Option<Mailbox<CacheActor>>,
}

impl CacheActor {
    pub fn new(
        pool: Pool,
        metrics: Arc<Metrics>,
        visibility: Visibility,
        retention: chrono::Duration,
        ready: Arc<AtomicBool>,
    ) -> Self {
        Self {
            pool,
            cache: moka::sync::Cache::new(CACHE_CAPACITY),
            metrics,
            visibility,
            retention,
            ready,
            list: Arc::default(),
            derived_on: None,
            utc_offset: 0,
            me: None,
        }
    }

    /// Purges what Strava has not confirmed within the retention period and derives the bodies
    /// again if anything went. The first sweep, right after warming, makes the actor ready.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let Some(me) = self.me.clone() else { return };
        let pool = self.pool.clone();
        let cutoff = Utc::now() - self.retention;
        ctx.spawn(
            async move {
                let db = pool.get().await?;
                let purged = store::purge_unconfirmed(&db, cutoff).await?;
                if purged == 0 {
                    return anyhow::Ok(());
                }
                tracing::info!(purged, %cutoff, "purged Strava data not confirmed within the retention period");
                drop(db);
                rederive(&pool, &me).await
            }
            .into_actor(self)
            .map(|result, act, _| {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "retention sweep failed");
                }
                act.ready.store(true, Ordering::Release);
            }),
        );
    }

    /// The athlete's local date at `t`.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        (t.naive_utc() + chrono::Duration::seconds(self.utc_offset)).date()
    }

    /// Derives every body again from what is stored, once the day has changed.
    fn rederive_if_new_day(&mut self, ctx: &mut Context<Self>) {
        let today = self.local_date(Utc::now());
        if self.derived_on.is_none_or(|day| day == today) {
            return;
        }
        let (Some(me), pool) = (self.me.clone(), self.pool.clone()) else {
            return;
        };
        self.derived_on = Some(today);
        ctx.spawn(
            async move {
                rederive(&pool, &me).await?;
                tracing::info!("a new day: bodies derived again");
                anyhow::Ok(())
            }
            .into_actor(self)
            .map(|result, act, _| {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not derive the bodies for the new day");
                    // try again at the next check
                    act.derived_on = Some(NaiveDate::MIN);
                }
            }),
        );
    }

    fn warm(&mut self, ctx: &mut Context<Self>) {
        let pool = self.pool.clone();
        let visibility = self.visibility;
        async move {
            let db = pool.get().await?;
            let bodies = store::bodies(&db).await?;
            let activities = match store::last_publication(&db).await? {
                Some((athlete, _)) => store::activities(&db, athlete).await?,
                None => Vec::new(),
            };
            let list =
                stats::ActivityList::new(&stats::public_newest_first(&activities, visibility));
            anyhow::Ok((bodies, list))
        }
        .into_actor(self)
        .map(|loaded, act, ctx| match loaded {
            Ok((bodies, list)) => {
                if !bodies.is_empty() {
                    act.derived_on = Some(NaiveDate::MIN);
                }
                act.replace(bodies);
                act.list = Arc::new(list);
                act.sweep(ctx);
                tracing::info!(
                    entries = act.cache.entry_count(),
                    "cache warmed from Postgres"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot warm the cache yet; retrying");
                ctx.run_later(WARM_RETRY, Self::warm);
            }
        })
        .wait(ctx);
    }

    /// Makes the cache hold exactly `bodies`.
    fn replace(&mut self, bodies: Vec<(String, Vec<u8>, String)>) {
        let keep: std::collections::HashSet<&str> =
            bodies.iter().map(|(k, _, _)| k.as_str()).collect();
        let stale: Vec<String> = self
            .cache
            .iter()
            .filter(|(k, _)| !keep.contains(k.as_str()))
            .map(|(k, _)| (*k).clone())
            .collect();
        for key in stale {
            self.cache.invalidate(&key);
        }
        for (key, body, etag) in bodies {
            self.cache.insert(
                key,
                Arc::new(CachedBody {
                    body: Bytes::from(body),
                    etag,
                }),
            );
        }
        self.cache.run_pending_tasks();
        self.metrics
            .cache_entries
            .set(self.cache.entry_count() as i64);
    }
}

/// Derives every body again from what is stored (no new data), if a sync ever published any.
async fn rederive(pool: &Pool, me: &Mailbox<CacheActor>) -> anyhow::Result<()> {
    let last = store::last_publication(&pool.get().await?).await?;
    if let Some((athlete_id, fetched_at)) = last {
        me.ask(Ingest {
            athlete_id,
            activities: Vec::new(),
            removed: Vec::new(),
            stats: None,
            publish: Some(fetched_at),
        })
        .await??;
    }
    Ok(())
}

impl Actor for CacheActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        self.me = Some(Mailbox::new(ctx.address(), self.metrics.clone()));
        self.warm(ctx);
        // Bodies warmed from Postgres may be from an earlier day: the first check re-derives.
        ctx.run_interval(DAY_CHECK, Self::rederive_if_new_day);
        ctx.run_interval(RETENTION_SWEEP, Self::sweep);
    }
}

/// The body stored under `key`, else the one under `fallback`, if any.
#[derive(Message)]
#[rtype(result = "Option<Arc<CachedBody>>")]
pub struct Get {
    pub key: String,
    pub fallback: Option<&'static str>,
}

impl Handler<Get> for CacheActor {
    type Result = Option<Arc<CachedBody>>;

    fn handle(&mut self, msg: Get, _: &mut Self::Context) -> Self::Result {
        let found = self
            .cache
            .get(&msg.key)
            .or_else(|| msg.fallback.and_then(|key| self.cache.get(key)));
        let result = if found.is_some() { "hit" } else { "miss" };
        self.metrics
            .cache_lookups
            .get_or_create(&CacheLabels { result })
            .inc();
        found
    }
}

/// One page of `/strava/activities`: its body and ETag.
#[derive(Message)]
#[rtype(result = "(Bytes, String)")]
pub struct ListActivities(pub stats::ListQuery);

impl Handler<ListActivities> for CacheActor {
    type Result = MessageResult<ListActivities>;

    fn handle(
        &mut self,
        ListActivities(query): ListActivities,
        _: &mut Self::Context,
    ) -> Self::Result {
        MessageResult(self.list.page(&query))
    }
}

/// Store what a sync fetched (activities, and Strava's athlete stats if given). With `publish`,
/// every body is derived again from everything stored and replaces the served ones, in the same
/// transaction; `publish` is the data's fetch time.
#[derive(Message)]
#[rtype(result = "anyhow::Result<IngestReport>")]
pub struct Ingest {
    pub athlete_id: i64,
    pub activities: Vec<Activity>,
    /// Activities Strava no longer has.
    pub removed: Vec<i64>,
    pub stats: Option<ActivityStats>,
    pub publish: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct IngestReport {
    pub upserted: u64,
    pub stored: usize,
}

impl Handler<Ingest> for CacheActor {
    type Result = ResponseActFuture<Self, anyhow::Result<IngestReport>>;

    #[tracing::instrument(name = "cache.ingest", skip_all, fields(activities = msg.activities.len(), publish = msg.publish.is_some()))]
    fn handle(&mut self, msg: Ingest, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        let visibility = self.visibility;
        Box::pin(
            async move {
                let mut db = pool.get().await?;
                let tx = db.transaction().await?;
                let upserted =
                    store::upsert_activities(&tx, msg.athlete_id, &msg.activities).await?;
                if !msg.removed.is_empty() {
                    store::delete_activities(&tx, msg.athlete_id, &msg.removed).await?;
                }
                if let Some(stats) = &msg.stats {
                    store::upsert_athlete_stats(&tx, msg.athlete_id, stats).await?;
                }
                let mut published = None;
                let mut stored = 0;
                if let Some(fetched_at) = msg.publish {
                    let all = store::activities(&tx, msg.athlete_id).await?;
                    stored = all.len();
                    let public = stats::public_newest_first(&all, visibility);
                    let offset = stats::athlete_offset(public.first().copied());
                    let list = stats::ActivityList::new(&public);
                    let mut bodies =
                        stats::activity_bodies(&all, visibility, Utc::now(), fetched_at);
                    // What Strava last said, whether it came with this message or before.
                    if let Some(stats) = store::athlete_stats(&tx, msg.athlete_id).await? {
                        bodies.push((stats::keys::YTD.to_owned(), stats::ytd(&stats, fetched_at)));
                    }
                    let rows: Vec<(String, Vec<u8>, String)> = bodies
                        .into_iter()
                        .map(|(k, b)| {
                            let etag = CachedBody::new(b.clone()).etag;
                            (k, b.to_vec(), etag)
                        })
                        .collect();
                    store::replace_bodies(&tx, &rows).await?;
                    published = Some((rows, list, offset));
                }
                tx.commit().await?;
                Ok((IngestReport { upserted, stored }, published))
            }
            .into_actor(self)
            .map(|result: anyhow::Result<_>, act, _| {
                let (report, published) = result?;
                if let Some((rows, list, offset)) = published {
                    act.utc_offset = offset;
                    act.derived_on = Some(act.local_date(Utc::now()));
                    act.replace(rows);
                    act.list = Arc::new(list);
                    act.metrics.activities_stored.set(report.stored as i64);
                }
                Ok(report)
            }),
        )
    }
}

/// Delete everything stored for an athlete and stop serving it, in one transaction.
#[derive(Message)]
#[rtype(result = "anyhow::Result<()>")]
pub struct Forget {
    pub athlete_id: i64,
    pub keep_owner: bool,
}

impl Handler<Forget> for CacheActor {
    type Result = ResponseActFuture<Self, anyhow::Result<()>>;

    #[tracing::instrument(name = "cache.forget", skip_all)]
    fn handle(&mut self, msg: Forget, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(
            async move {
                let mut db = pool.get().await?;
                let tx = db.transaction().await?;
                store::forget_athlete(&tx, msg.athlete_id, msg.keep_owner).await?;
                tx.commit().await?;
                anyhow::Ok(())
            }
            .into_actor(self)
            .map(|result, act, _| {
                result?;
                act.replace(Vec::new());
                act.list = Arc::default();
                act.derived_on = None;
                act.metrics.activities_stored.set(0);
                Ok(())
            }),
        )
    }
}

/// Is Postgres reachable, and what do we know about the connection?
#[derive(Message)]
#[rtype(result = "Result<store::HealthFacts, String>")]
pub struct Health;

impl Handler<Health> for CacheActor {
    type Result = ResponseFuture<Result<store::HealthFacts, String>>;

    fn handle(&mut self, _: Health, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        Box::pin(async move {
            let check = async {
                let db = pool.get().await?;
                store::health_facts(&db).await
            };
            match tokio::time::timeout(HEALTH_TIMEOUT, check).await {
                Ok(Ok(facts)) => Ok(facts),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".into()),
            }
        })
    }
}
