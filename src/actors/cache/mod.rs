//! CacheActor: owns the served data. It keeps every response body pre-serialized (with its ETag)
//! in a moka cache, writes every change through to Postgres in one transaction (activities,
//! athlete stats and the derived bodies together), and warms itself from Postgres at start-up so
//! a restart serves data before any Strava call.
//!
//! Ingests run one at a time: each one's transaction reads what the one before committed, and
//! bodies are published in the order they were derived, so two overlapping ingests (a sync and
//! a webhook event) always end with bodies holding both.
//!
//! Time comes from the injected [`Clock`]: the athlete's local day and year (which decide the
//! twelve months served, and the default and latest year a read may name), when bodies are
//! derived again because the day changed, and when Strava data has gone unconfirmed for longer
//! than RETENTION_DAYS and is purged.
//!
//! Messages: [`Get`] (a body, by what is read), [`ListActivities`] (a page of the activity list),
//! [`Ingest`] (store what a sync fetched, optionally re-deriving every body),
//! [`ForgetActivities`] (delete an athlete's data), [`Health`] (database reachability and
//! connection facts, from a check of Postgres made at most once a second), [`HealthChanged`]
//! (what health reports changed: check again).
//!
//! With several replicas (SPEC §6) every replica's CacheActor serves the same bodies: each
//! committed change moves the generation on (a trigger, `sql/V3__replicas.sql`) and notifies
//! it; a CacheActor that hears of a generation newer than the one it serves loads what changed
//! (`follow.rs`: the bodies whose ETag moved, the activity list when its version did), one load
//! at a time for any number of notifications, and one whose connection missed notifications
//! reads the generation to catch up. Only the leader derives again for a new day or sweeps
//! after start-up; the others follow.

mod body;
mod bounded;
mod follow;
pub mod reader;

use body::etag_of;
pub use body::{CachedBody, Gzipped, Media};
pub use reader::{
    CacheReader, Card, CardKind, Family, Get, ListActivities, Lookup, Read, Serve, Served,
};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use deadpool_postgres::Pool;
use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};

use tracing::Instrument;

use crate::actors::mailbox::{Ask, Mailbox, answers_traced};
use crate::actors::shutdown::{Shutdown, stops_on_shutdown};
use crate::clock::Clock;
use crate::import::merge;
use crate::metrics::Metrics;
use crate::stats::{self, PublicVisibility};
use crate::store::coordination::{Fence, Heard, Notification, Replica};
use crate::store::queue::GENERATION_CHANNEL;
use crate::store::{self, StoreError, StoredBody};
use crate::strava::models::{Activity, ActivityStats};

/// More than enough for every body milepost derives; moka evicts beyond it.
const CACHE_CAPACITY: u64 = 10_000;
/// Reads come from every worker at once; this is the backlog they may build up.
const MAILBOX_CAPACITY: usize = 4096;
/// How long start-up waits before trying to warm again when Postgres is not there yet.
const WARM_RETRY: Duration = Duration::from_secs(2);
/// How soon a replica loads again after a load for a newer generation failed.
const FOLLOW_RETRY: Duration = Duration::from_millis(200);
/// How often (by the clock) the retention sweep runs, and once right after warming.
const RETENTION_SWEEP: chrono::Duration = chrono::Duration::hours(1);
/// How often the actor looks at the clock: whether the athlete's day changed under its bodies,
/// whether a sweep is due. Cheap: a date comparison.
const TICK: Duration = Duration::from_secs(1);
/// How long a health check waits for Postgres.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a health check's answer serves every health request after it: a flood of health
/// requests asks Postgres once a second at most.
const HEALTH_FRESH: Duration = Duration::from_secs(1);
/// A read is answered from memory: waiting longer means the actor is stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// An ingest waits its turn behind the ones before it, then writes one transaction.
const INGEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the CacheActor could not do what it was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CacheError {
    #[error("the database failed")]
    Storage(#[from] StoreError),
    #[error("the database did not answer in time")]
    TimedOut,
    /// The athlete's data was forgotten (they have no token row): nothing of theirs is written.
    #[error("the athlete is no longer connected")]
    Forgotten,
}

impl From<deadpool_postgres::PoolError> for CacheError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Storage(e.into())
    }
}

impl From<tokio_postgres::Error> for CacheError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl From<anyhow::Error> for CacheError {
    fn from(e: anyhow::Error) -> Self {
        Self::Storage(e.into())
    }
}

pub struct CacheActor {
    pool: Pool,
    cache: moka::sync::Cache<String, Arc<CachedBody>>,
    metrics: Arc<Metrics>,
    visibility: PublicVisibility,
    /// Strava data not confirmed for this long is purged.
    retention: chrono::Duration,
    clock: Clock,
    ready: Arc<AtomicBool>,
    /// Every public activity, pre-serialized, for `/strava/activities`.
    list: Arc<stats::ActivityList>,
    /// The athlete's local day the served bodies were derived on (`None`: nothing served).
    derived_on: Option<NaiveDate>,
    /// The athlete's offset from UTC (seconds), which decides when their day changes.
    utc_offset: i64,
    /// When the served data was read from Strava (`None`: nothing served).
    fetched_at: Option<DateTime<Utc>>,
    /// Activities already logged as absurd (see [`stats::absurdity`]): each is logged once.
    reported_absurd: std::collections::HashSet<i64>,
    /// When the next retention sweep is due (by the clock); `None` until warmed.
    next_sweep: Option<DateTime<Utc>>,
    /// Held by the ingest writing now; the next one waits for it (see the module doc). It keeps
    /// the calendars the last derivation wrote, for the next to reuse.
    ingest_turn: Arc<tokio::sync::Mutex<stats::CalendarMemo>>,
    health: HealthCheck,
    replica: Replica,
    /// The generation of what is served (`-1` before warming).
    generation: i64,
    /// Bodies are being loaded for a newer generation.
    following: bool,
    /// The newest generation heard of while loading (`i64::MAX`: one not known, such as a
    /// connection that listens again): loaded again at once unless what was loaded is that new.
    heard_meanwhile: Option<i64>,
    /// Every worker's [`CacheReader`].
    readers: Vec<Recipient<Serve>>,
    me: Option<Mailbox<CacheActor>>,
}

type HealthOutcome = Result<store::HealthFacts, CacheError>;

/// The last health check's answer and when it came, and the check running now, which every
/// health request joins.
#[derive(Default)]
struct HealthCheck {
    last: Option<(Instant, HealthOutcome)>,
    running: Option<Shared<LocalBoxFuture<'static, HealthOutcome>>>,
    /// Counts [`HealthChanged`]: a check that began before a change is not kept after it.
    generation: u64,
}

impl CacheActor {
    pub fn new(
        pool: Pool,
        metrics: Arc<Metrics>,
        visibility: PublicVisibility,
        retention: chrono::Duration,
        clock: Clock,
        ready: Arc<AtomicBool>,
        replica: Replica,
    ) -> Self {
        Self {
            pool,
            cache: moka::sync::Cache::new(CACHE_CAPACITY),
            metrics,
            visibility,
            retention,
            clock,
            ready,
            list: Arc::default(),
            derived_on: None,
            utc_offset: 0,
            fetched_at: None,
            reported_absurd: Default::default(),
            next_sweep: None,
            ingest_turn: Arc::default(),
            health: HealthCheck::default(),
            replica,
            generation: -1,
            following: false,
            heard_meanwhile: None,
            readers: Vec::new(),
            me: None,
        }
    }

    /// What is served is now of generation `generation` (never going back).
    fn serving(&mut self, generation: i64) {
        self.generation = self.generation.max(generation);
        self.metrics.generation.set(self.generation);
    }

    /// The athlete's local time now.
    fn local_now(&self) -> NaiveDateTime {
        stats::local_time(self.clock.now(), self.utc_offset)
    }

    /// Logs each activity left out of the stats for absurd values, once per activity.
    fn report_absurd(&mut self, absurd: Vec<(i64, &'static str)>) {
        for (activity, reason) in absurd {
            if self.reported_absurd.insert(activity) {
                tracing::warn!(
                    activity,
                    reason,
                    "an activity with absurd values is left out of the stats"
                );
            }
        }
    }

    /// Purges what Strava has not confirmed within the retention period and derives the bodies
    /// again if anything went. The first sweep, right after warming, makes the actor ready.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let Some(me) = self.me.clone() else { return };
        let pool = self.pool.clone();
        let now = self.clock.now();
        self.next_sweep = Some(now + RETENTION_SWEEP);
        let cutoff = now - self.retention;
        let metrics = self.metrics.clone();
        let turn = self.ingest_turn.clone();
        ctx.spawn(
            async move {
                // In turn with ingests: none derives from a half-purged store.
                let purged = {
                    let _turn = turn.lock_owned().await;
                    let db = pool.get().await?;
                    store::purge_unconfirmed(&db, cutoff).await?
                };
                if purged == 0 {
                    return Ok(());
                }
                metrics.retention_purged.inc_by(purged);
                tracing::info!(purged, %cutoff, "purged Strava data not confirmed within the retention period");
                rederive(&pool, &me).await
            }
            .into_actor(self)
            .map(|result: Result<(), CacheError>, act, _| {
                match result {
                    Ok(()) => {
                        act.metrics.retention_sweeps.inc();
                    }
                    Err(e) => {
                        tracing::warn!(error = &e as &dyn std::error::Error, "retention sweep failed")
                    }
                }
                act.ready.store(true, Ordering::Release);
            }),
        );
    }

    /// Looks at the clock: derives every body again once the athlete's day has changed, and
    /// sweeps when a sweep is due. The leader's work: the others follow what it commits.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        if !self.replica.role().is_leader() {
            return;
        }
        if self.next_sweep.is_some_and(|due| self.clock.now() >= due) {
            self.sweep(ctx);
        }
        let today = self.local_now().date();
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
                Ok(())
            }
            .into_actor(self)
            .map(|result: Result<(), CacheError>, act, _| {
                if let Err(e) = result {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "could not derive the bodies for the new day"
                    );
                    // try again at the next tick
                    act.derived_on = Some(NaiveDate::MIN);
                }
            }),
        );
    }

    fn warm(&mut self, ctx: &mut Context<Self>) {
        load(self.pool.clone(), self.visibility)
            .into_actor(self)
            .map(|loaded, act, ctx| match loaded {
                Ok(loaded) => {
                    act.take(loaded);
                    act.sweep(ctx);
                    tracing::info!(
                        entries = act.cache.entry_count(),
                        "cache warmed from Postgres"
                    );
                }
                Err(e) => {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "cannot warm the cache yet; retrying"
                    );
                    ctx.run_later(WARM_RETRY, Self::warm);
                }
            })
            .wait(ctx);
    }

    /// Serves what [`load`] read.
    fn take(&mut self, loaded: Loaded) {
        self.report_absurd(loaded.absurd);
        if !loaded.bodies.is_empty() {
            // Bodies from Postgres may be from an earlier day: the leader's first tick derives
            // them again.
            self.derived_on = Some(NaiveDate::MIN);
        }
        self.utc_offset = loaded.utc_offset;
        self.fetched_at = loaded.fetched_at;
        self.replace(loaded.bodies);
        self.list = Arc::new(loaded.list);
        self.serving(loaded.generation);
        self.publish();
    }

    /// Another replica committed a change (or this one may have missed some): loads what
    /// changed unless what is served is that new already. Notifications that come while a load
    /// runs are coalesced: one more load at most, and none when the one running read them.
    fn follow(&mut self, heard: Heard, ctx: &mut Context<Self>) {
        let heard = match &heard {
            Heard::Notification(n) => n.payload.parse::<i64>().unwrap_or(i64::MAX),
            Heard::Missed => i64::MAX,
        };
        if heard <= self.generation {
            return;
        }
        if self.following {
            self.heard_meanwhile = Some(self.heard_meanwhile.unwrap_or(heard).max(heard));
            return;
        }
        self.following = true;
        let pool = self.pool.clone();
        let visibility = self.visibility;
        let turn = self.ingest_turn.clone();
        ctx.spawn(
            async move {
                // In turn with ingests: what is loaded is never older than what one published,
                // and it is compared with what is served once this replica's own ingests before
                // it served theirs (none serves while the turn is held).
                turn.lock_owned().await
            }
            .into_actor(self)
            .then(move |turn, act, _| {
                let (served, held) = (act.generation, act.held());
                async move {
                    let current = store::queue::generation(&pool.get().await?).await?;
                    // This replica's own ingest may have published it while this load waited.
                    if current <= served {
                        return Ok((None, turn));
                    }
                    let changes = follow::changes(&pool, visibility, &held).await?;
                    Ok::<_, CacheError>((Some(changes), turn))
                }
                .into_actor(act)
            })
            .map(|loaded, act, ctx| {
                act.following = false;
                match loaded {
                    Ok((Some(changes), turn)) => {
                        if changes.generation > act.generation {
                            let generation = changes.generation;
                            act.take_changes(changes);
                            act.health = HealthCheck {
                                generation: act.health.generation.wrapping_add(1),
                                ..HealthCheck::default()
                            };
                            tracing::debug!(generation, "serving what another replica committed");
                        }
                        drop(turn);
                    }
                    Ok((None, _)) => {}
                    Err(e) => {
                        tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            "could not load what another replica committed; trying again"
                        );
                        act.heard_meanwhile = None;
                        ctx.run_later(FOLLOW_RETRY, |act, ctx| act.follow(Heard::Missed, ctx));
                        return;
                    }
                }
                if let Some(heard) = act.heard_meanwhile.take() {
                    let heard = if heard == i64::MAX {
                        Heard::Missed
                    } else {
                        Heard::Notification(Notification {
                            channel: GENERATION_CHANNEL.to_owned(),
                            payload: heard.to_string(),
                        })
                    };
                    act.follow(heard, ctx);
                }
            }),
        );
    }

    /// What is served, as [`follow::changes`] compares it with what is stored.
    fn held(&self) -> follow::Held {
        follow::Held {
            etags: self
                .cache
                .iter()
                .map(|(key, body)| ((*key).clone(), body.etag.clone()))
                .collect(),
            list: (self.list.version().to_owned(), self.utc_offset),
        }
    }

    /// Serves what [`follow::changes`] read: the bodies that moved replace theirs, the ones no
    /// longer stored go, and the list is replaced when it moved.
    fn take_changes(&mut self, changes: follow::Changes) {
        if !changes.keys.is_empty() {
            // Bodies may be from an earlier day: the leader's first tick derives them again.
            self.derived_on = Some(NaiveDate::MIN);
        }
        self.fetched_at = changes.fetched_at;
        self.update(&changes.keys, changes.changed);
        if let Some((list, utc_offset)) = changes.list {
            self.list = Arc::new(list);
            self.utc_offset = utc_offset;
        }
        self.serving(changes.generation);
        self.publish();
    }

    /// Makes the cache hold exactly `bodies`.
    fn replace(&mut self, bodies: Vec<StoredBody>) {
        let keep: std::collections::HashSet<String> =
            bodies.iter().map(|b| b.key.clone()).collect();
        self.update(&keep, bodies);
    }

    /// Makes the cache hold the keys in `keep`, with `changed` in place of what it held under
    /// theirs (a body whose ETag did not move is kept as it is, with its gzip form).
    fn update(&mut self, keep: &std::collections::HashSet<String>, changed: Vec<StoredBody>) {
        let stale: Vec<String> = self
            .cache
            .iter()
            .filter(|(k, _)| !keep.contains(k.as_str()))
            .map(|(k, _)| (*k).clone())
            .collect();
        for key in stale {
            self.cache.invalidate(&key);
        }
        for stored in changed {
            // Unchanged: keep it (and its gzip form) as it is.
            if self
                .cache
                .get(&stored.key)
                .is_some_and(|held| held.etag == stored.etag)
            {
                continue;
            }
            let body = CachedBody::with_etag(Bytes::from(stored.body), stored.etag);
            self.cache.insert(stored.key, Arc::new(body));
        }
        self.cache.run_pending_tasks();
        self.metrics
            .cache_entries
            .set(i64::try_from(self.cache.entry_count()).unwrap_or(i64::MAX));
    }

    /// Serves what a derivation committed.
    fn serve(&mut self, published: Published) {
        self.report_absurd(published.absurd);
        self.utc_offset = published.utc_offset;
        self.fetched_at = Some(published.fetched_at);
        self.derived_on = Some(published.local_date);
        self.replace(published.bodies);
        self.list = Arc::new(published.list);
        self.serving(published.generation);
        self.publish();
        self.metrics
            .activities_stored
            .set(i64::try_from(published.stored).unwrap_or(i64::MAX));
    }

    /// Serves nothing (everything was forgotten), as before the first sync.
    fn serve_nothing(&mut self, generation: i64) {
        self.serving(generation);
        self.replace(Vec::new());
        self.list = Arc::default();
        self.fetched_at = None;
        self.publish();
        self.derived_on = None;
        self.reported_absurd.clear();
        self.metrics.activities_stored.set(0);
    }

    /// What is served now, as one snapshot for the readers.
    fn snapshot(&self) -> Arc<Served> {
        Arc::new(Served {
            bodies: self
                .cache
                .iter()
                .map(|(key, body)| ((*key).clone(), body))
                .collect(),
            list: self.list.clone(),
            utc_offset: self.utc_offset,
            fetched_at: self.fetched_at,
        })
    }

    /// Hands every worker's reader what is served now (after each change).
    fn publish(&mut self) {
        let served = self.snapshot();
        // A reader whose worker has stopped is let go. Sent past a full mailbox: a reader
        // must never miss a snapshot, however many reads wait before it.
        self.readers.retain(Recipient::connected);
        for reader in &self.readers {
            reader.do_send(Serve(served.clone()));
        }
    }
}

/// A worker's reader, to be fed every snapshot from now on (the current one at once).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Attach(pub Recipient<Serve>);

impl Handler<Attach> for CacheActor {
    type Result = ();

    fn handle(&mut self, Attach(reader): Attach, _: &mut Self::Context) {
        reader.do_send(Serve(self.snapshot()));
        self.readers.push(reader);
    }
}

/// What is stored to be served, read together.
struct Loaded {
    /// Read first: the bodies are at least this new.
    generation: i64,
    bodies: Vec<StoredBody>,
    list: stats::ActivityList,
    utc_offset: i64,
    fetched_at: Option<DateTime<Utc>>,
    absurd: Vec<(i64, &'static str)>,
}

async fn load(pool: Pool, visibility: PublicVisibility) -> Result<Loaded, CacheError> {
    let db = pool.get().await?;
    let generation = store::queue::generation(&db).await?;
    let bodies = store::bodies(&db).await?;
    let publication = store::last_publication(&db).await?;
    let activities = match &publication {
        Some(publication) => {
            store::imports::served_activities(&db, publication.athlete_id)
                .await?
                .0
        }
        None => Vec::new(),
    };
    let public = stats::public_newest_first(&activities, visibility);
    Ok(Loaded {
        generation,
        bodies,
        utc_offset: stats::athlete_offset(public.first().copied()),
        fetched_at: publication.map(|p| p.fetched_at),
        list: stats::ActivityList::new(&public),
        absurd: stats::absurd_activities(&activities),
    })
}

/// Derives every body again from what is stored (no new data), if a sync ever published any.
async fn rederive(pool: &Pool, me: &Mailbox<CacheActor>) -> Result<(), CacheError> {
    let last = store::last_publication(&pool.get().await?).await?;
    if let Some(publication) = last {
        me.ask(Ingest {
            athlete_id: publication.athlete_id,
            publish_if_changed: false,
            ..Ingest::imported(Vec::new(), publication.fetched_at)
        })
        .await
        .map_err(|_| CacheError::TimedOut)??;
    }
    Ok(())
}

impl Actor for CacheActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.me = Some(Mailbox::new(ctx.address(), self.metrics.clone()));
        self.warm(ctx);
        ctx.run_interval(TICK, Self::tick);
        ctx.add_stream(self.replica.heard(GENERATION_CHANNEL));
    }
}

impl StreamHandler<Heard> for CacheActor {
    fn handle(&mut self, heard: Heard, ctx: &mut Self::Context) {
        self.follow(heard, ctx);
    }

    /// The connection's task ended (a shutdown): nothing more to follow.
    fn finished(&mut self, _: &mut Self::Context) {}
}

stops_on_shutdown!(CacheActor);
answers_traced!(CacheActor: Ingest, ForgetActivities, ForgetImported, Health, HealthChanged, Shutdown);

/// Store what a sync fetched (activities, and Strava's athlete stats if given), marked as
/// confirmed now. With `publish`, every body is derived again from everything stored and
/// replaces the served ones, in the same transaction; `publish` is the data's fetch time.
#[derive(Message)]
#[rtype(result = "Result<IngestReport, CacheError>")]
pub struct Ingest {
    /// Whose API data `activities`, `removed` and `stats` are; `None` for a batch of imported
    /// activities, which is served with the API data of the athlete the last sync published.
    pub athlete_id: Option<i64>,
    pub activities: Vec<Activity>,
    /// Activities read from the athlete's own export or files (SPEC §11).
    pub imported: Vec<Activity>,
    /// Copies imported from a file alone (negative ids) that an export row took the place of.
    pub imported_removed: Vec<i64>,
    /// Activities Strava no longer has.
    pub removed: Vec<i64>,
    pub stats: Option<ActivityStats>,
    pub publish: Option<DateTime<Utc>>,
    /// Publish only when a row was written or removed (a webhook's 404 for an activity never
    /// stored changes nothing, so it costs no derivation).
    pub publish_if_changed: bool,
    /// The leader's epoch, for what a sync or a confirmation fetched (an import has none).
    pub fence: Option<Fence>,
}

impl Ingest {
    /// Just these activities: nothing removed, no stats, nothing published.
    pub fn activities(athlete_id: i64, activities: Vec<Activity>) -> Self {
        Self {
            athlete_id: Some(athlete_id),
            activities,
            imported: Vec::new(),
            imported_removed: Vec::new(),
            removed: Vec::new(),
            stats: None,
            publish: None,
            publish_if_changed: false,
            fence: None,
        }
    }

    /// Written only while `fence`'s epoch is the leader's.
    pub fn fenced(self, fence: Option<&Fence>) -> Self {
        Self {
            fence: fence.cloned(),
            ..self
        }
    }
}

impl Ingest {
    /// A batch of imported activities, published (fetched at `at`) only if it changed anything.
    pub fn imported(imported: Vec<Activity>, at: DateTime<Utc>) -> Self {
        Self {
            athlete_id: None,
            activities: Vec::new(),
            imported,
            imported_removed: Vec::new(),
            removed: Vec::new(),
            stats: None,
            publish: Some(at),
            publish_if_changed: true,
            fence: None,
        }
    }
}

impl Ask for Ingest {
    const TIMEOUT: Option<Duration> = Some(INGEST_TIMEOUT);
}

#[derive(Debug, Clone, Copy, Default)]
pub struct IngestReport {
    pub upserted: u64,
    pub stored: usize,
}

/// What an ingest derived, to be served once its transaction committed.
struct Published {
    /// The generation this transaction moved on to.
    generation: i64,
    bodies: Vec<StoredBody>,
    list: stats::ActivityList,
    utc_offset: i64,
    fetched_at: DateTime<Utc>,
    /// Stored activities left out of the bodies, and why.
    absurd: Vec<(i64, &'static str)>,
    stored: usize,
    /// The athlete's local date the bodies were derived for.
    local_date: NaiveDate,
}

/// Copies imported from files alone (negative ids) of activities the API holds take the API's
/// id, so nothing is counted twice whichever came first (SPEC §11): a file imported before the
/// sync that fetched its activity, or an activity synced while a job read its file. Looks at
/// the starts of the activities that `arrived` (API ones, and files' copies); how many copies
/// changed.
async fn absorb_file_copies(
    tx: &deadpool_postgres::Transaction<'_>,
    athlete: i64,
    arrived: impl Iterator<Item = &Activity>,
) -> Result<u64, CacheError> {
    let starts: Vec<DateTime<Utc>> = arrived
        .filter_map(|a| merge::Known::of(a).map(|k| k.start))
        .collect();
    let (Some(first), Some(last)) = (starts.iter().min(), starts.iter().max()) else {
        return Ok(0);
    };
    let margin = chrono::Duration::seconds(merge::START_TOLERANCE_SECS);
    let (from, to) = (*first - margin, *last + margin);
    let copies = store::imports::file_copies_between(tx, from, to).await?;
    if copies.is_empty() {
        return Ok(0);
    }
    let api = store::imports::api_between(tx, athlete, from, to).await?;
    let index = merge::Index::new(api.iter().filter_map(merge::Known::of));
    let mut absorbed = 0;
    for copy in copies.iter().filter_map(merge::Known::of) {
        let found = index
            .matching(&copy.sport_type, copy.start, copy.elapsed_time)
            .and_then(|id| api.iter().find(|a| a.id == id));
        if let Some(api) = found {
            store::imports::rekey_file_copy(tx, copy.id, api).await?;
            absorbed += 1;
        }
    }
    Ok(absorbed)
}

/// Derives every body from what is stored — the API data of `athlete` (none: imports only) and
/// the imported activities the API does not hold — and writes them in `tx`. `fetched_at`: when
/// the data was read (`None`: when the last sync or imported change was).
async fn derive(
    tx: &deadpool_postgres::Transaction<'_>,
    athlete: Option<i64>,
    visibility: PublicVisibility,
    now: DateTime<Utc>,
    fetched_at: Option<DateTime<Utc>>,
    memo: &mut stats::CalendarMemo,
) -> Result<Published, CacheError> {
    let (all, imported_only) = store::imports::served_activities(tx, athlete).await?;
    let strava_stats = match athlete {
        Some(athlete) => store::athlete_stats(tx, athlete).await?,
        None => None,
    };
    let fetched_at = match fetched_at {
        Some(at) => at,
        None => match store::last_publication(tx).await? {
            Some(publication) => publication.fetched_at,
            None => now,
        },
    };
    let public = stats::public_newest_first(&all, visibility);
    let utc_offset = stats::athlete_offset(public.first().copied());
    let list = stats::ActivityList::new(&public);
    store::served::save_activity_list(tx, list.version(), utc_offset, || list.to_stored()).await?;
    let mut bodies = stats::activity_bodies(&all, visibility, now, fetched_at, memo);
    let local_date = stats::local_time(now, utc_offset).date();
    // Strava's own totals count only what the API knows: with imported activities it does not
    // know, or without the API, the year is summed from the activities (SPEC §11). With the API
    // alone and no totals from Strava (not yet, or purged), ytd is not served.
    let summed = imported_only > 0 || athlete.is_none();
    let ytd = match strava_stats {
        Some(stats) if !summed => Some(stats::ytd(&stats, fetched_at)),
        _ if summed => Some(stats::ytd_from_activities(&public, local_date, fetched_at)),
        _ => None,
    };
    if let Some(ytd) = ytd {
        bodies.push((stats::keys::YTD.to_owned(), ytd));
    }
    let bodies: Vec<StoredBody> = bodies
        .into_iter()
        .map(|(key, body)| StoredBody {
            etag: etag_of(&body),
            key,
            body: body.to_vec(),
        })
        .collect();
    store::replace_bodies(tx, &bodies).await?;
    Ok(Published {
        generation: store::queue::generation(tx).await?,
        bodies,
        list,
        utc_offset,
        fetched_at,
        absurd: stats::absurd_activities(&all),
        stored: all.len(),
        local_date,
    })
}

impl Handler<Ingest> for CacheActor {
    type Result = ResponseActFuture<Self, Result<IngestReport, CacheError>>;

    #[tracing::instrument(name = "cache.ingest", skip_all, fields(activities = msg.activities.len(), publish = msg.publish.is_some()))]
    fn handle(&mut self, msg: Ingest, _: &mut Self::Context) -> Self::Result {
        let pool = self.pool.clone();
        let visibility = self.visibility;
        let clock = self.clock.clone();
        let turn = self.ingest_turn.clone();
        Box::pin(
            async move {
                // Held until the bodies are served (below): the next ingest derives from what
                // this one committed, and publishes after it.
                let mut turn = turn.lock_owned().await;
                let now = clock.now();
                let mut db = pool.get().await?;
                let tx = store::fenced(&mut db, msg.fence.as_ref()).await?;
                store::lock_derivation(&tx).await?;
                // A forget is final: nothing fetched before it is written after it.
                if let Some(athlete) = msg.athlete_id
                    && !store::still_connected(&tx, athlete).await?
                {
                    tracing::info!(athlete, "not stored: the athlete's data was forgotten");
                    return Err(CacheError::Forgotten);
                }
                let mut upserted = 0;
                let mut deleted = 0;
                if let Some(athlete) = msg.athlete_id {
                    upserted = store::upsert_activities(&tx, athlete, &msg.activities, now).await?;
                    if !msg.removed.is_empty() {
                        deleted = store::delete_activities(&tx, athlete, &msg.removed).await?;
                    }
                    if let Some(stats) = &msg.stats {
                        store::upsert_athlete_stats(&tx, athlete, stats, now).await?;
                    }
                }
                if !msg.imported_removed.is_empty() {
                    deleted +=
                        store::imports::delete_file_copies(&tx, &msg.imported_removed).await?;
                }
                if !msg.imported.is_empty() {
                    upserted += store::imports::upsert_imported(&tx, &msg.imported, now).await?;
                }
                // Whose API data is served with the imported activities.
                let athlete = match msg.athlete_id {
                    Some(athlete) => Some(athlete),
                    None => store::last_publication(&tx)
                        .await?
                        .and_then(|p| p.athlete_id),
                };
                if msg.athlete_id.is_some() && !msg.activities.is_empty() {
                    store::imports::follow_api_visibility(&tx, &msg.activities).await?;
                }
                if let Some(athlete) = athlete {
                    let arrived = msg
                        .activities
                        .iter()
                        .chain(msg.imported.iter().filter(|a| a.id < 0));
                    deleted += absorb_file_copies(&tx, athlete, arrived).await?;
                }
                let unchanged = upserted == 0 && deleted == 0 && msg.stats.is_none();
                let mut published = None;
                if let Some(fetched_at) = msg
                    .publish
                    .filter(|_| !(msg.publish_if_changed && unchanged))
                {
                    let fetched_at = Some(fetched_at);
                    published =
                        Some(derive(&tx, athlete, visibility, now, fetched_at, &mut turn).await?);
                }
                tx.commit().await?;
                Ok((upserted, published, turn))
            }
            .in_current_span()
            .into_actor(self)
            .map(|result: Result<_, CacheError>, act, _| {
                let (upserted, published, turn) = result?;
                let mut report = IngestReport {
                    upserted,
                    stored: 0,
                };
                if let Some(published) = published {
                    report.stored = published.stored;
                    act.serve(published);
                }
                drop(turn);
                Ok(report)
            }),
        )
    }
}

/// Delete the athlete's activities, athlete stats and every served body, and stop serving
/// them (the CacheActor's part of forgetting an athlete).
#[derive(Message)]
#[rtype(result = "Result<(), CacheError>")]
pub struct ForgetActivities {
    pub athlete_id: i64,
    /// The leader's epoch.
    pub fence: Option<Fence>,
}

impl Ask for ForgetActivities {
    const TIMEOUT: Option<Duration> = Some(INGEST_TIMEOUT);
}

impl Handler<ForgetActivities> for CacheActor {
    type Result = ResponseActFuture<Self, Result<(), CacheError>>;

    #[tracing::instrument(name = "cache.forget", skip_all)]
    fn handle(&mut self, msg: ForgetActivities, _: &mut Self::Context) -> Self::Result {
        let athlete = msg.athlete_id;
        let forget = self.forget(move |tx| {
            Box::pin(async move {
                if let Some(fence) = &msg.fence {
                    fence.check(tx).await?;
                }
                store::forget_activities(tx, athlete).await?;
                // What the athlete imported stays, served alone (SPEC §11).
                let imported_at = store::imports::last_imported_at(tx).await?;
                Ok(Forgot {
                    deleted: 0,
                    athlete: None,
                    left_at: imported_at,
                })
            })
        });
        Box::pin(forget.map(|result, _, _| result.map(|_| ())))
    }
}

/// Delete every imported activity (`milepost import --forget`, `DELETE /strava/import`) and
/// serve what the API gave alone, if anything; how many went.
#[derive(Message)]
#[rtype(result = "Result<u64, CacheError>")]
pub struct ForgetImported;

impl Ask for ForgetImported {
    const TIMEOUT: Option<Duration> = Some(INGEST_TIMEOUT);
}

impl Handler<ForgetImported> for CacheActor {
    type Result = ResponseActFuture<Self, Result<u64, CacheError>>;

    #[tracing::instrument(name = "cache.forget_imported", skip_all)]
    fn handle(&mut self, _: ForgetImported, _: &mut Self::Context) -> Self::Result {
        Box::pin(self.forget(|tx| {
            Box::pin(async move {
                let deleted = store::imports::forget_imported(tx).await?;
                let publication = store::last_publication(tx).await?;
                Ok(Forgot {
                    deleted,
                    athlete: publication.and_then(|p| p.athlete_id),
                    left_at: publication.map(|p| p.fetched_at),
                })
            })
        }))
    }
}

/// What a forget did and what is left.
struct Forgot {
    /// How many activities went.
    deleted: u64,
    /// Whose API data is left to serve.
    athlete: Option<i64>,
    /// When what is left was fetched (`None`: nothing is left).
    left_at: Option<DateTime<Utc>>,
}

impl CacheActor {
    /// Deletes in turn with ingests (so none publishes the forgotten data afterwards), then
    /// derives every body from what is left in the same transaction, or serves nothing.
    fn forget(
        &mut self,
        delete: impl for<'t> FnOnce(
            &'t deadpool_postgres::Transaction<'_>,
        ) -> LocalBoxFuture<'t, Result<Forgot, CacheError>>
        + 'static,
    ) -> ResponseActFuture<Self, Result<u64, CacheError>> {
        let pool = self.pool.clone();
        let turn = self.ingest_turn.clone();
        let visibility = self.visibility;
        let now = self.clock.now();
        Box::pin(
            async move {
                let mut turn = turn.lock_owned().await;
                *turn = stats::CalendarMemo::default();
                let mut db = pool.get().await?;
                let tx = db.transaction().await?;
                store::lock_derivation(&tx).await?;
                let Forgot {
                    deleted,
                    athlete,
                    left_at,
                } = delete(&tx).await?;
                let published = match left_at {
                    Some(at) => {
                        Some(derive(&tx, athlete, visibility, now, Some(at), &mut turn).await?)
                    }
                    None => None,
                };
                if published.is_none() {
                    store::replace_bodies(&tx, &[]).await?;
                    store::served::clear_activity_list(&tx).await?;
                }
                let generation = store::queue::generation(&tx).await?;
                tx.commit().await?;
                Ok::<_, CacheError>((deleted, published, generation, turn))
            }
            .in_current_span()
            .into_actor(self)
            .map(|result, act, _| {
                let (deleted, published, generation, turn) = result?;
                match published {
                    Some(published) => act.serve(published),
                    None => act.serve_nothing(generation),
                }
                drop(turn);
                Ok(deleted)
            }),
        )
    }
}

/// Is Postgres reachable, and what do we know about the connection? Answered from the last
/// check while it is less than [`HEALTH_FRESH`] old; otherwise from a new one, which everyone
/// asking meanwhile shares.
#[derive(Message)]
#[rtype(result = "Result<store::HealthFacts, CacheError>")]
pub struct Health;

impl Ask for Health {
    const TIMEOUT: Option<Duration> = Some(READ_TIMEOUT);
}

impl Handler<Health> for CacheActor {
    type Result = ResponseFuture<HealthOutcome>;

    fn handle(&mut self, _: Health, ctx: &mut Self::Context) -> Self::Result {
        if let Some((at, outcome)) = &self.health.last
            && at.elapsed() < HEALTH_FRESH
        {
            let outcome = outcome.clone();
            return Box::pin(async move { outcome });
        }
        let check = match &self.health.running {
            Some(running) => running.clone(),
            None => self.check_health(ctx),
        };
        Box::pin(check)
    }
}

impl CacheActor {
    /// One health check of Postgres; its answer is kept for [`HEALTH_FRESH`] from when it came.
    fn check_health(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> Shared<LocalBoxFuture<'static, HealthOutcome>> {
        let pool = self.pool.clone();
        let metrics = self.metrics.clone();
        let check = async move {
            metrics.health_checks.inc();
            let query = async {
                let db = pool.get().await?;
                Ok::<_, CacheError>(store::health_facts(&db).await?)
            };
            tokio::time::timeout(HEALTH_TIMEOUT, query)
                .await
                .map_err(|_| CacheError::TimedOut)?
        }
        .boxed_local()
        .shared();
        self.health.running = Some(check.clone());
        let generation = self.health.generation;
        // Kept whether or not anyone still waits for it, unless something changed meanwhile.
        ctx.spawn(check.clone().into_actor(self).map(move |outcome, act, _| {
            if act.health.generation == generation {
                act.health.last = Some((Instant::now(), outcome));
                act.health.running = None;
            }
        }));
        check
    }
}

/// What health reports changed here (a sync ended, an athlete connected or was forgotten):
/// the next health request checks Postgres again rather than answer what is now stale.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HealthChanged;

impl Ask for HealthChanged {
    const TIMEOUT: Option<Duration> = Some(READ_TIMEOUT);
}

impl Handler<HealthChanged> for CacheActor {
    type Result = ();

    fn handle(&mut self, _: HealthChanged, _: &mut Self::Context) {
        self.health = HealthCheck {
            generation: self.health.generation.wrapping_add(1),
            ..HealthCheck::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::coordination::Coordination;
    use secrecy::SecretString;

    /// What the actor serves: its generation and every body's key and ETag.
    #[derive(Message)]
    #[rtype(result = "(i64, Vec<(String, String)>)")]
    struct Peek;

    impl Handler<Peek> for CacheActor {
        type Result = MessageResult<Peek>;

        fn handle(&mut self, _: Peek, _: &mut Self::Context) -> Self::Result {
            let mut bodies: Vec<(String, String)> = self
                .cache
                .iter()
                .map(|(key, body)| ((*key).clone(), body.etag.clone()))
                .collect();
            bodies.sort();
            MessageResult((self.generation, bodies))
        }
    }

    async fn put_back(pool: &Pool, body: &StoredBody) {
        let mut db = pool.get().await.unwrap();
        let tx = db.transaction().await.unwrap();
        store::replace_bodies(&tx, std::slice::from_ref(body))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// The replica's own ingest publishes while a load waits for its turn, then another
    /// replica puts a body back as it was before: the load serves it as stored.
    #[actix_web::test]
    async fn a_load_compares_with_what_the_replicas_own_ingest_published_while_it_waited() {
        let cluster = crate::pg::PgCluster::start_ephemeral().await.unwrap();
        let url = SecretString::from(cluster.url("postgres"));
        let pool = store::pool(&url, 4).unwrap();
        store::migrate(&pool).await.unwrap();
        let before = StoredBody {
            key: "before".to_owned(),
            body: b"{}".to_vec(),
            etag: "\"before\"".to_owned(),
        };
        put_back(&pool, &before).await;
        let coordination =
            Coordination::start(&url, &[GENERATION_CHANNEL], Clock::system()).unwrap();
        let actor = CacheActor::new(
            pool.clone(),
            Arc::new(Metrics::default()),
            PublicVisibility::default(),
            chrono::Duration::days(3650),
            Clock::system(),
            Arc::default(),
            coordination.replica(),
        );
        let turn = actor.ingest_turn.clone();
        let cache = actor.start();
        let (warmed, served) = cache.send(Peek).await.unwrap();
        assert_eq!(served, [(before.key.clone(), before.etag.clone())]);
        // Once it follows what is committed, it hears what comes next.
        while cache.send(Peek).await.unwrap().0 == warmed {
            put_back(&pool, &before).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let settle = || tokio::time::sleep(Duration::from_millis(300));

        // In this order for the turn: this replica's ingest (it publishes bodies without
        // `before`), another replica's change (it puts `before` back as it was), a load.
        let first = turn.clone().lock_owned().await;
        let ingest = cache.send(Ingest {
            publish_if_changed: false,
            ..Ingest::imported(Vec::new(), Utc::now())
        });
        let ingest = tokio::spawn(ingest);
        settle().await;
        let other = tokio::spawn(turn.clone().lock_owned());
        settle().await;
        // A newer generation heard of: the load starts and waits for its turn.
        pool.get()
            .await
            .unwrap()
            .batch_execute(&format!("NOTIFY {GENERATION_CHANNEL}, '1000000'"))
            .await
            .unwrap();
        settle().await;
        drop(first);
        ingest.await.unwrap().unwrap().unwrap();
        let (_, published) = cache.send(Peek).await.unwrap();
        assert!(!published.iter().any(|(key, _)| *key == before.key));
        let other = other.await.unwrap();
        put_back(&pool, &before).await;
        drop(other);

        // Served as stored within a second.
        let mut served = Vec::new();
        for _ in 0..50 {
            (_, served) = cache.send(Peek).await.unwrap();
            if served == [(before.key.clone(), before.etag.clone())] {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(served, [(before.key.clone(), before.etag.clone())]);
        coordination.stop().await;
        cluster.stop().await.unwrap();
    }
}
