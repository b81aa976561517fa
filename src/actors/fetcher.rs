//! FetcherActor: the only code that calls Strava's API. It plans syncs, sends every request
//! through the rate-limit [`Budget`] (never a request the budget cannot afford; nothing until
//! the window resets after a 429), runs one sync at a time (callers that arrive meanwhile join
//! it), and drives the hourly refresh from a timer.
//!
//! Messages: [`Sync`] (run or join a sync), [`Connect`] (finish OAuth, then sync in the
//! background).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use actix::prelude::*;
use chrono::{DateTime, Duration, Utc};
use deadpool_postgres::Pool;
use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use secrecy::ExposeSecret;

use super::cache::Forget;
use super::cache::{CacheActor, Ingest};
use super::token::{
    AccessToken, CallbackError, CompleteAuthorization, ConnectedAthlete, ForgetTokens, TokenActor,
    TokenError,
};
use crate::clock::Clock;
use crate::metrics::Mailbox;
use crate::store;
use crate::strava::budget::{Budget, Priority, RequestKind};
use crate::strava::client::{Answer, Failure};
use crate::strava::{StravaClient, StravaError};

/// Strava's largest page.
pub const PAGE_SIZE: u32 = 200;
/// A background sync deferred by the budget runs again this long after its window opens.
const AFTER_WINDOW: StdDuration = StdDuration::from_secs(2);
/// Attempts for a request that failed transiently (timeouts, 5xx), with doubling pauses.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: StdDuration = StdDuration::from_millis(500);
/// The steady-state refresh looks back this far before the newest stored activity.
const OVERLAP: Duration = Duration::days(1);

/// Why a sync did not complete. Cloneable: every caller joined to a sync gets the outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    #[error("no athlete is connected")]
    NotConnected,
    #[error("the Strava connection needs re-authorization")]
    ReauthorizationRequired,
    /// How long until the window that refused us resets.
    #[error("the Strava rate budget is spent for {}s", .0.as_secs())]
    BudgetExhausted(StdDuration),
    #[error("Strava rejected the access token")]
    Unauthorized,
    #[error("not found at Strava")]
    NotFound,
    #[error("Strava failed: {0}")]
    Strava(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<TokenError> for SyncError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NotConnected => Self::NotConnected,
            TokenError::ReauthorizationRequired => Self::ReauthorizationRequired,
            TokenError::Strava(e) => Self::Strava(e.to_string()),
            e => Self::Internal(e.to_string()),
        }
    }
}

impl From<anyhow::Error> for SyncError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(format!("{e:#}"))
    }
}

impl From<MailboxError> for SyncError {
    fn from(e: MailboxError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<deadpool_postgres::PoolError> for SyncError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Internal(e.to_string())
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SyncReport {
    /// Requests sent to Strava.
    pub requests: u32,
    pub activities_fetched: usize,
    pub activities_stored: usize,
}

/// Sends requests to Strava within the budget, with retries for transient failures.
#[derive(Clone)]
pub(super) struct Gate {
    pub(super) strava: StravaClient,
    budget: Arc<Mutex<Budget>>,
    clock: Clock,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Gate {
    fn budget(&self) -> std::sync::MutexGuard<'_, Budget> {
        // A poisoned budget is still the best estimate we have.
        self.budget.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The budget's figures now, also published as gauges.
    pub(super) fn budget_status(&self) -> BudgetStatus {
        let now = self.clock.now();
        let budget = self.budget();
        let (usage, read_usage) = budget.usage_at(now);
        let limits = budget.limits();
        self.metrics
            .set_budget((usage, read_usage), (limits.overall, limits.read));
        BudgetStatus {
            usage,
            limit: limits.overall,
            read_usage,
            read_limit: limits.read,
            refused_until: budget
                .check(RequestKind::Write, Priority::Interactive, now)
                .err()
                .map(crate::stats::timestamp),
        }
    }

    /// Sends `request` if the budget affords it, else refuses with the time it will.
    pub(super) async fn call<T, F, Fut>(
        &self,
        endpoint: &'static str,
        kind: RequestKind,
        priority: Priority,
        report: &mut SyncReport,
        request: F,
    ) -> Result<T, SyncError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Answer<T>, Failure>>,
    {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            // Never wait here: a sync others have joined must not sleep on the budget. The
            // actor schedules background work for when the window opens instead.
            let now = self.clock.now();
            self.budget()
                .check(kind, priority, now)
                .map_err(|until| SyncError::BudgetExhausted(until_from(now, until)))?;
            self.budget().spend(kind, self.clock.now());
            report.requests += 1;
            let answer = request().await;
            let (error, rate) = match answer {
                Ok(answer) => {
                    self.budget().record(&answer.rate, self.clock.now());
                    self.budget_status();
                    self.metrics.count_strava(endpoint, "200");
                    return Ok(answer.value);
                }
                Err(Failure { error, rate }) => (error, rate),
            };
            self.metrics.count_strava(endpoint, error_label(&error));
            if error == StravaError::RateLimited {
                let now = self.clock.now();
                let mut budget = self.budget();
                budget.record_rate_limited(&rate, now);
                let until = budget
                    .check(RequestKind::Read, Priority::Interactive, now)
                    .err()
                    .unwrap_or(now);
                tracing::warn!(%until, "Strava answered 429; no requests until the window resets");
                return Err(SyncError::BudgetExhausted(until_from(now, until)));
            }
            if !rate.is_empty() {
                self.budget().record(&rate, self.clock.now());
            }
            if error.is_transient() && attempt < ATTEMPTS {
                tracing::warn!(error = %error, attempt, "transient Strava failure; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                continue;
            }
            match error {
                StravaError::Unauthorized => return Err(SyncError::Unauthorized),
                StravaError::NotFound => return Err(SyncError::NotFound),
                _ => {}
            }
            return Err(SyncError::Strava(error.to_string()));
        }
        Err(SyncError::Strava("retries exhausted".into()))
    }
}

/// The wait from `now` to `until`, never negative.
fn until_from(now: DateTime<Utc>, until: DateTime<Utc>) -> StdDuration {
    (until - now).to_std().unwrap_or_default()
}

fn error_label(e: &StravaError) -> String {
    match e {
        StravaError::Timeout => "timeout".into(),
        StravaError::Transport(_) => "transport".into(),
        StravaError::Decode(_) => "malformed".into(),
        StravaError::Unauthorized => "401".into(),
        StravaError::NotFound => "404".into(),
        StravaError::InvalidRefreshToken => "400".into(),
        StravaError::RateLimited => "429".into(),
        StravaError::Status { status, .. } => status.to_string(),
    }
}

/// What a sync needs, cloned into the task that runs it.
#[derive(Clone)]
pub(super) struct SyncDeps {
    pub(super) gate: Gate,
    pub(super) pool: Pool,
    pub(super) token: Mailbox<TokenActor>,
    pub(super) cache: Mailbox<CacheActor>,
}

type SharedSync = Shared<LocalBoxFuture<'static, Result<SyncReport, SyncError>>>;

/// The sync running now, which later callers join.
struct Running {
    outcome: SharedSync,
    full: bool,
    generation: u64,
}

/// Settings the FetcherActor runs with.
#[derive(Debug, Clone)]
pub struct FetcherOptions {
    pub refresh_interval: StdDuration,
    /// The full re-list that catches what no event reported (RECONCILE_INTERVAL_SECS).
    pub reconcile_interval: StdDuration,
    /// OWNER_ATHLETE_ID pins the owner: a disconnect keeps the lock.
    pub owner_pinned: bool,
    /// STRAVA_WEBHOOK_SUBSCRIPTION_ID; else the one stored by `milepost webhook subscribe`.
    pub webhook_subscription: Option<i64>,
    /// Where the budget reads the time (Strava's windows are clock time).
    pub clock: Clock,
}

pub struct FetcherActor {
    deps: SyncDeps,
    owner_pinned: bool,
    refresh_interval: StdDuration,
    reconcile_interval: StdDuration,
    webhook_subscription: Option<i64>,
    in_flight: Option<Running>,
    generation: u64,
    /// A background sync waiting for the rate budget's next window.
    retry: Option<SpawnHandle>,
    /// A re-read of the athlete stats after webhook events, at most one a minute.
    stats_refresh: Option<SpawnHandle>,
    me: Option<Mailbox<FetcherActor>>,
}

impl FetcherActor {
    pub fn new(
        strava: StravaClient,
        pool: Pool,
        token: Mailbox<TokenActor>,
        cache: Mailbox<CacheActor>,
        options: FetcherOptions,
    ) -> Self {
        let metrics = token.metrics().clone();
        Self {
            deps: SyncDeps {
                gate: Gate {
                    strava,
                    budget: Arc::new(Mutex::new(Budget::default())),
                    clock: options.clock,
                    metrics,
                },
                pool,
                token,
                cache,
            },
            owner_pinned: options.owner_pinned,
            refresh_interval: options.refresh_interval,
            reconcile_interval: options.reconcile_interval,
            webhook_subscription: options.webhook_subscription,
            in_flight: None,
            generation: 0,
            retry: None,
            stats_refresh: None,
            me: None,
        }
    }

    /// Runs a sync on this actor's arbiter, or joins the one already running. A full sync asked
    /// for while an incremental one runs starts when that one ends.
    fn sync(&mut self, full: bool, priority: Priority, ctx: &mut Context<Self>) -> SharedSync {
        let previous = match &self.in_flight {
            Some(running) if running.full || !full => return running.outcome.clone(),
            Some(running) => Some(running.outcome.clone()),
            None => None,
        };
        let deps = self.deps.clone();
        // The sync runs in this actor's context whoever waits for it, and stops with the actor.
        let (done, outcome) = futures::channel::oneshot::channel();
        ctx.spawn(
            async move {
                if let Some(previous) = previous {
                    let _ = previous.await;
                }
                let _ = done.send(run_sync(deps, full, priority).await);
            }
            .into_actor(self),
        );
        let outcome = async move {
            outcome
                .await
                .unwrap_or_else(|_| Err(SyncError::Internal("the sync was stopped".into())))
        }
        .boxed_local()
        .shared();
        self.generation += 1;
        let generation = self.generation;
        self.in_flight = Some(Running {
            outcome: outcome.clone(),
            full,
            generation,
        });
        ctx.spawn(outcome.clone().into_actor(self).map(move |_, act, _| {
            if act
                .in_flight
                .as_ref()
                .is_some_and(|r| r.generation == generation)
            {
                act.in_flight = None;
            }
        }));
        outcome
    }

    /// A sync nobody waits for (timer, first connection); its outcome is logged, and one the
    /// rate budget deferred runs again when the window opens.
    fn sync_in_background(&mut self, full: bool, ctx: &mut Context<Self>) {
        let Some(me) = self.me.clone() else { return };
        if let Some(pending) = self.retry.take() {
            ctx.cancel_future(pending);
        }
        ctx.spawn(
            async move {
                me.ask(Sync {
                    full,
                    priority: Priority::Background,
                })
                .await
            }
            .into_actor(self)
            .map(move |outcome, act, ctx| match outcome {
                Ok(Ok(report)) => tracing::info!(?report, "background sync done"),
                Ok(Err(SyncError::NotConnected)) => {
                    tracing::debug!("no athlete connected; nothing to sync")
                }
                Ok(Err(SyncError::BudgetExhausted(wait))) => {
                    let wait = wait + AFTER_WINDOW;
                    tracing::info!(
                        wait_secs = wait.as_secs(),
                        "rate budget spent; the sync resumes when the window opens"
                    );
                    act.retry = Some(
                        ctx.run_later(wait, move |act, ctx| act.sync_in_background(full, ctx)),
                    );
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "background sync failed"),
                Err(e) => tracing::warn!(error = %e, "background sync not run"),
            }),
        );
    }
}

impl Actor for FetcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        self.me = Some(Mailbox::new(ctx.address(), self.deps.gate.metrics.clone()));
        ctx.run_interval(self.refresh_interval, |act, ctx| {
            act.sync_in_background(false, ctx)
        });
        // The daily reconciliation: a full re-list that removes what Strava no longer has
        // and re-confirms the rest before the retention period runs out.
        ctx.run_interval(self.reconcile_interval, |act, ctx| {
            act.sync_in_background(true, ctx)
        });
        self.resume_backfill(ctx);
    }
}

impl FetcherActor {
    /// A backfill a restart interrupted goes on at once rather than at the next timer tick.
    fn resume_backfill(&mut self, ctx: &mut Context<Self>) {
        let deps = self.deps.clone();
        ctx.spawn(
            async move {
                let Some(athlete) = deps.token.ask(ConnectedAthlete).await?? else {
                    return Ok(false);
                };
                let db = deps.pool.get().await?;
                let state = store::sync_state(&db, athlete).await?;
                Ok::<_, SyncError>(!state.backfill_done && state.backfill_next_page > 1)
            }
            .into_actor(self)
            .map(|unfinished, act, ctx| match unfinished {
                Ok(true) => {
                    tracing::info!("resuming an unfinished backfill");
                    act.sync_in_background(false, ctx);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not check for an unfinished backfill"),
            }),
        );
    }
}

/// Run a sync (or join the one running) and answer when it is done.
#[derive(Message)]
#[rtype(result = "Result<SyncReport, SyncError>")]
pub struct Sync {
    pub full: bool,
    pub priority: Priority,
}

impl Handler<Sync> for FetcherActor {
    type Result = ResponseFuture<Result<SyncReport, SyncError>>;

    fn handle(&mut self, msg: Sync, ctx: &mut Self::Context) -> Self::Result {
        Box::pin(self.sync(msg.full, msg.priority, ctx))
    }
}

/// Finish the OAuth handshake (TokenActor), then start the first sync in the background.
#[derive(Message)]
#[rtype(result = "Result<i64, CallbackError>")]
pub struct Connect(pub CompleteAuthorization);

impl Handler<Connect> for FetcherActor {
    type Result = ResponseActFuture<Self, Result<i64, CallbackError>>;

    fn handle(&mut self, Connect(msg): Connect, _: &mut Self::Context) -> Self::Result {
        let token = self.deps.token.clone();
        Box::pin(
            async move {
                token
                    .ask(msg)
                    .await
                    .map_err(|e| CallbackError::Storage(anyhow::anyhow!("token actor: {e}")))?
            }
            .into_actor(self)
            .map(|result, act, ctx| {
                if result.is_ok() {
                    act.sync_in_background(false, ctx);
                }
                result
            }),
        )
    }
}

/// The rate budget as the FetcherActor knows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BudgetStatus {
    /// `[15 min, daily]`.
    pub usage: (u32, u32),
    pub limit: (u32, u32),
    pub read_usage: (u32, u32),
    pub read_limit: (u32, u32),
    /// Set while nothing may be sent (after a 429 or a spent window).
    pub refused_until: Option<String>,
}

/// The FetcherActor's figures for operators.
#[derive(Message)]
#[rtype(result = "FetcherStatus")]
pub struct Status;

#[derive(Debug, Clone, serde::Serialize)]
pub struct FetcherStatus {
    pub sync_in_flight: bool,
    pub budget: BudgetStatus,
}

impl Handler<Status> for FetcherActor {
    type Result = MessageResult<Status>;

    fn handle(&mut self, _: Status, _: &mut Self::Context) -> Self::Result {
        MessageResult(FetcherStatus {
            sync_in_flight: self.in_flight.is_some(),
            budget: self.deps.gate.budget_status(),
        })
    }
}

impl crate::metrics::Outcome for FetcherStatus {
    fn failed(&self) -> bool {
        false
    }
}

/// A webhook event: answered at once, handled afterwards (see `webhook.rs`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WebhookEvent(pub super::webhook::Event);

/// How often at most webhook events make us re-read the athlete stats.
const STATS_AFTER_EVENTS: StdDuration = StdDuration::from_secs(60);

impl Handler<WebhookEvent> for FetcherActor {
    type Result = ();

    #[tracing::instrument(name = "fetcher.webhook", skip_all)]
    fn handle(&mut self, WebhookEvent(event): WebhookEvent, ctx: &mut Self::Context) {
        let deps = self.deps.clone();
        let subscription = self.webhook_subscription;
        let keep_owner = self.owner_pinned;
        let again = event.clone();
        ctx.spawn(
            async move { super::webhook::handle(&deps, subscription, keep_owner, event).await }
                .into_actor(self)
                .map(move |outcome, act, ctx| match outcome {
                    Ok(super::webhook::Outcome::ActivityChanged) => act.refresh_stats_soon(ctx),
                    Ok(outcome) => tracing::debug!(?outcome, "webhook event handled"),
                    // Deferred, not dropped: handled again when the window opens.
                    Err(SyncError::BudgetExhausted(wait)) => {
                        tracing::info!(
                            wait_secs = wait.as_secs(),
                            "webhook event deferred by the rate budget"
                        );
                        let Some(me) = act.me.clone() else { return };
                        ctx.run_later(wait + AFTER_WINDOW, move |act, ctx| {
                            ctx.spawn(
                                async move {
                                    let _ = me.ask(WebhookEvent(again)).await;
                                }
                                .into_actor(act),
                            );
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "webhook event not handled"),
                }),
        );
    }
}

impl FetcherActor {
    /// Re-reads the athlete stats (so ytd follows) a minute after the first of a burst of
    /// activity events, once for the whole burst.
    fn refresh_stats_soon(&mut self, ctx: &mut Context<Self>) {
        if self.stats_refresh.is_some() {
            return;
        }
        self.stats_refresh = Some(ctx.run_later(STATS_AFTER_EVENTS, |act, ctx| {
            act.stats_refresh = None;
            let deps = act.deps.clone();
            ctx.spawn(
                async move { super::webhook::refresh_stats(&deps).await }
                    .into_actor(act)
                    .map(|result, _, _| {
                        if let Err(e) = result {
                            tracing::warn!(error = %e, "could not re-read the athlete stats");
                        }
                    }),
            );
        }));
    }
}

/// Deauthorize at Strava, then delete everything stored for the athlete and stop serving it.
/// A sync in flight finishes first, so nothing it fetched is written afterwards.
#[derive(Message)]
#[rtype(result = "Result<(), SyncError>")]
pub struct Disconnect;

impl Handler<Disconnect> for FetcherActor {
    type Result = ResponseFuture<Result<(), SyncError>>;

    #[tracing::instrument(name = "fetcher.disconnect", skip_all)]
    fn handle(&mut self, _: Disconnect, _: &mut Self::Context) -> Self::Result {
        let running = self.in_flight.as_ref().map(|r| r.outcome.clone());
        let deps = self.deps.clone();
        let keep_owner = self.owner_pinned;
        Box::pin(async move {
            if let Some(running) = running {
                let _ = running.await;
            }
            let athlete_id = deps
                .token
                .ask(ConnectedAthlete)
                .await??
                .ok_or(SyncError::NotConnected)?;
            match deps.token.ask(AccessToken::default()).await? {
                Ok(grant) => {
                    let token = grant.token.expose_secret();
                    let mut report = SyncReport::default();
                    let strava = &deps.gate.strava;
                    let revoked = deps
                        .gate
                        .call(
                            "oauth/deauthorize",
                            RequestKind::Write,
                            Priority::Interactive,
                            &mut report,
                            || strava.deauthorize(token),
                        )
                        .await;
                    match revoked {
                        Ok(()) => tracing::info!(athlete = athlete_id, "deauthorized at Strava"),
                        // Already revoked at Strava: nothing more to undo there.
                        Err(SyncError::Unauthorized) => {}
                        // The owner asked for their data to go: the rate budget does not get to
                        // keep it. The token dies with the row; Strava's settings page revokes
                        // the app for good.
                        Err(e @ SyncError::BudgetExhausted(_)) => tracing::warn!(
                            athlete = athlete_id,
                            error = %e,
                            "cannot deauthorize at Strava now; deleting the local data anyway"
                        ),
                        Err(e) => return Err(e),
                    }
                }
                Err(e @ (TokenError::ReauthorizationRequired | TokenError::Undecryptable)) => {
                    tracing::warn!(athlete = athlete_id, error = %e, "cannot deauthorize at Strava; deleting the local data anyway");
                }
                Err(e) => return Err(e.into()),
            }
            deps.cache
                .ask(Forget {
                    athlete_id,
                    keep_owner,
                })
                .await??;
            deps.token.ask(ForgetTokens).await?;
            tracing::info!(
                athlete = athlete_id,
                "athlete disconnected; their data is deleted"
            );
            Ok(())
        })
    }
}

/// One sync: athlete stats, then either the (resumable) backfill or the activities since the
/// newest stored one, then every body derived again in one write.
#[tracing::instrument(name = "sync", skip(deps))]
async fn run_sync(deps: SyncDeps, full: bool, priority: Priority) -> Result<SyncReport, SyncError> {
    let started = Utc::now();
    let grant = deps.token.ask(AccessToken::default()).await??;
    let athlete = grant.athlete_id;
    let mut result = sync_athlete(
        &deps,
        athlete,
        grant.token.expose_secret(),
        full,
        priority,
        started,
    )
    .await;
    if let Err(SyncError::Unauthorized) = result {
        // Strava refused a token we thought good: refresh it once. A revoked connection shows
        // here as a dead refresh token (reauthorization_required).
        tracing::warn!("Strava refused the access token; refreshing it");
        let grant = deps
            .token
            .ask(AccessToken {
                force_refresh: true,
            })
            .await??;
        result = sync_athlete(
            &deps,
            athlete,
            grant.token.expose_secret(),
            full,
            priority,
            started,
        )
        .await;
    }
    let error = result.as_ref().err().map(ToString::to_string);
    match deps.pool.get().await {
        Ok(db) => {
            if let Err(e) = store::record_sync_result(&db, athlete, error.as_deref()).await {
                tracing::warn!(error = %e, "could not record the sync result");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not record the sync result"),
    }
    let took = (Utc::now() - started).to_std().unwrap_or_default();
    deps.gate.metrics.sync_seconds.observe(took.as_secs_f64());
    if result.is_ok() {
        deps.gate
            .metrics
            .last_sync_success
            .set(Utc::now().timestamp());
    }
    result
}

async fn sync_athlete(
    deps: &SyncDeps,
    athlete: i64,
    token: &str,
    full: bool,
    priority: Priority,
    started: DateTime<Utc>,
) -> Result<SyncReport, SyncError> {
    let strava = &deps.gate.strava;
    let mut report = SyncReport::default();
    let stats = deps
        .gate
        .call(
            "athletes/{id}/stats",
            RequestKind::Read,
            priority,
            &mut report,
            || strava.athlete_stats(athlete, token),
        )
        .await?;

    let (state, newest) = {
        let db = deps.pool.get().await?;
        (
            store::sync_state(&db, athlete).await?,
            store::newest_start(&db, athlete).await?,
        )
    };
    let backfill = full || !state.backfill_done || newest.is_none();
    let mut page = if backfill && !full {
        state.backfill_next_page.max(1) as u32
    } else {
        1
    };
    let since = newest.filter(|_| !backfill).map(|t| t - OVERLAP);
    let known = match since {
        Some(since) => {
            let db = deps.pool.get().await?;
            store::activity_ids_since(&db, athlete, since).await?
        }
        None => Default::default(),
    };

    // Strava may send short pages before the end of a list, so a backfill stops only on an
    // empty page. The steady-state refresh asks for about a day of activities. A page ends it
    // when it is short, holds every activity already stored for the window and brings nothing
    // new: so a quiet hour costs two calls. A server that has sent full pages (Strava's short
    // pages come from hiding activities after the page was cut, and a day is far less than a
    // page) may also end it with a short first page that brings new ones; a server that cuts
    // its pages shorter is paged until a page brings nothing new.
    let known_largest = usize::try_from(state.largest_page).unwrap_or(0);
    let full_pages = known_largest >= PAGE_SIZE as usize;
    let short_below = match known_largest {
        0 => PAGE_SIZE as usize,
        n => n.min(PAGE_SIZE as usize),
    };
    let mut largest = 0;
    let mut known_seen = 0;
    // A full re-list also finds what Strava no longer has (reconciliation).
    let mut listed = std::collections::HashSet::new();
    loop {
        let activities = deps
            .gate
            .call(
                "athlete/activities",
                RequestKind::Read,
                priority,
                &mut report,
                || {
                    strava.activities_page(
                        token,
                        page,
                        PAGE_SIZE,
                        since.map(|t| t.timestamp()),
                        None,
                    )
                },
            )
            .await?;
        let count = activities.len();
        if count == 0 {
            break;
        }
        largest = largest.max(count);
        report.activities_fetched += count;
        let seen_before = known_seen;
        known_seen += activities.iter().filter(|a| known.contains(&a.id)).count();
        let brought_new = known_seen - seen_before < count;
        if full {
            listed.extend(activities.iter().map(|a| a.id));
        }
        deps.cache
            .ask(Ingest {
                athlete_id: athlete,
                activities,
                removed: Vec::new(),
                stats: None,
                publish: None,
            })
            .await??;
        if backfill {
            let db = deps.pool.get().await?;
            store::save_backfill_progress(&db, athlete, page as i32 + 1, false).await?;
        } else if count < short_below
            && known_seen >= known.len()
            && (!brought_new || (page == 1 && full_pages))
        {
            break;
        }
        page += 1;
    }
    let db = deps.pool.get().await?;
    if backfill {
        store::save_backfill_progress(&db, athlete, 1, true).await?;
    }
    store::save_largest_page(&db, athlete, i32::try_from(largest).unwrap_or(i32::MAX)).await?;
    let removed: Vec<i64> = if full {
        store::activity_ids(&db, athlete)
            .await?
            .difference(&listed)
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    if !removed.is_empty() {
        tracing::info!(
            count = removed.len(),
            "removing activities Strava no longer lists"
        );
    }
    drop(db);
    let ingested = deps
        .cache
        .ask(Ingest {
            athlete_id: athlete,
            activities: Vec::new(),
            removed,
            stats: Some(stats),
            publish: Some(started),
        })
        .await??;
    report.activities_stored = ingested.stored;
    Ok(report)
}
