//! FetcherActor: the only code in the server that calls Strava's API (the TokenActor calls
//! Strava's OAuth token endpoint). It runs one sync at a time (callers that arrive meanwhile join it), drives the
//! hourly refresh and the daily reconciliation from timers, defers background work the rate
//! budget cannot afford to the window that can, and confirms webhook events.
//!
//! - [`gate`]: one budgeted call, the errors and reports of every plan;
//! - [`budget`]: the [`BudgetActor`], sole owner of the rate budget;
//! - [`sync`]: the backfill, steady refresh and reconciliation plans;
//! - [`webhook`]: event confirmation; [`forget`]: forgetting an athlete.
//!
//! While Strava says the application is inactive, its [`BudgetActor`] lets background work
//! probe once an hour and every `refresh-data` probe once; timers, a resumed backfill and
//! webhook confirmations otherwise wait without a Strava call.
//!
//! Messages: [`RunSync`] (run or join a sync), [`Connect`] (finish OAuth, then sync in the
//! background), [`WebhookEvent`], [`SubscriptionChecked`], [`Disconnect`], [`Status`],
//! [`AppStanding`].

pub mod budget;
mod forget;
pub mod gate;
pub mod sync;
pub mod webhook;

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use actix::prelude::*;
use deadpool_postgres::Pool;
use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use secrecy::ExposeSecret;
use tracing::Instrument;

pub use budget::{AppStanding, AppStandingStatus, BudgetActor, BudgetStatus};
use gate::{Gate, SyncDeps};
pub use gate::{SyncError, SyncReport};
use webhook::{Accepted, Event, EventOutcome, KnownSubscription, Target};

use crate::actors::cache::{CacheActor, HealthChanged};
use crate::actors::mailbox::{Ask, Mailbox, Reply, answers_traced};
use crate::actors::shutdown::{Shutdown, stops_on_shutdown};
use crate::actors::token::{
    AccessToken, CallbackError, CompleteAuthorization, ConnectedAthlete, RefreshToken, TokenActor,
    TokenError,
};
use crate::clock::Clock;
use crate::metrics::EventLabels;
use crate::store;
use crate::strava::StravaClient;
use crate::strava::budget::{Priority, RequestKind};

/// A background sync deferred by the budget runs again this long after its window opens.
const AFTER_WINDOW: Duration = Duration::from_secs(2);
/// Pending webhook confirmations at most; past that, events are dropped and one
/// reconciliation is scheduled instead.
const MAX_PENDING_CONFIRMATIONS: usize = 1_000;
/// Webhook confirmations sent to Strava at the same time.
const CONFIRMATIONS_AT_ONCE: usize = 4;
/// While the budget defers confirmations, how often the actor looks whether the window opened.
const WINDOW_CHECK: Duration = Duration::from_secs(1);
/// How often at most webhook events make us re-read the athlete stats.
const STATS_AFTER_EVENTS: Duration = Duration::from_secs(60);
/// Room for a burst of webhook events and the permits of running plans.
const MAILBOX_CAPACITY: usize = 1024;
/// How long `refresh-data` (and `milepost refresh`) waits for a sync; the sync itself goes on.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);
/// A webhook event is only handed over: Strava allows 2 s for the whole acknowledgement.
const EVENT_TIMEOUT: Duration = Duration::from_secs(1);
/// A disconnect waits for a running sync, then revokes at Strava and deletes.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(120);
/// The code exchange and the token write, each with their own timeouts.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Figures answered from memory.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

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
    pub refresh_interval: Duration,
    /// The full re-list that catches what no event reported (RECONCILE_INTERVAL_SECS).
    pub reconcile_interval: Duration,
    /// OWNER_ATHLETE_ID pins the owner: a disconnect keeps the lock.
    pub owner_pinned: bool,
    /// STRAVA_WEBHOOK_SUBSCRIPTION_ID; else the one stored by `milepost webhook subscribe`.
    pub webhook_subscription: Option<i64>,
    /// The stored subscription, as read at start-up.
    pub stored_subscription: Option<i64>,
    /// Where "now" comes from (Strava's rate windows are clock time).
    pub clock: Clock,
}

pub struct FetcherActor {
    deps: SyncDeps,
    owner_pinned: bool,
    refresh_interval: Duration,
    reconcile_interval: Duration,
    /// The subscription whose events count.
    subscription: KnownSubscription,
    in_flight: Option<Running>,
    generation: u64,
    /// A background sync waiting for the rate budget's next window.
    retry: Option<SpawnHandle>,
    /// A re-read of the athlete stats after webhook events, at most one a minute.
    stats_refresh: Option<SpawnHandle>,
    /// Webhook events screened and waiting for Strava's word.
    confirmations: Confirmations,
    me: Option<Mailbox<FetcherActor>>,
}

impl FetcherActor {
    /// The actor and, started beside it, the [`BudgetActor`] its calls ask for permits.
    pub fn new(
        strava: StravaClient,
        pool: Pool,
        token: Mailbox<TokenActor>,
        cache: Mailbox<CacheActor>,
        options: FetcherOptions,
    ) -> Self {
        let metrics = token.metrics().clone();
        let budget = Mailbox::new(
            BudgetActor::new(options.clock.clone(), metrics.clone())
                .kept_in(pool.clone())
                .start(),
            metrics.clone(),
        );
        let subscription = KnownSubscription::new(
            options.webhook_subscription,
            options.stored_subscription,
            options.clock.now(),
        );
        Self {
            deps: SyncDeps {
                gate: Gate {
                    strava,
                    budget,
                    metrics,
                },
                pool,
                token,
                cache,
                clock: options.clock,
            },
            owner_pinned: options.owner_pinned,
            refresh_interval: options.refresh_interval,
            reconcile_interval: options.reconcile_interval,
            subscription,
            in_flight: None,
            generation: 0,
            retry: None,
            stats_refresh: None,
            confirmations: Confirmations::default(),
            me: None,
        }
    }

    /// The budget's owner, for a shutdown that stops it too.
    pub fn budget(&self) -> Mailbox<BudgetActor> {
        self.deps.gate.budget.clone()
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
                let cache = deps.cache.clone();
                let outcome = sync::run(deps, full, priority).await;
                // Before anyone hears the outcome, so health is current when they look.
                let _ = cache.ask(HealthChanged).await;
                let _ = done.send(outcome);
            }
            .in_current_span()
            .into_actor(self),
        );
        let outcome = async move { outcome.await.unwrap_or(Err(SyncError::Stopped)) }
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
                me.ask(RunSync {
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
                // Said once, by the budget; the timers probe again when one is due.
                Ok(Err(SyncError::AppInactive(wait))) => tracing::debug!(
                    next_probe_secs = wait.as_secs(),
                    "the Strava application is inactive; the sync waits for a probe"
                ),
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
                Ok(Err(e)) => {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "background sync failed"
                    )
                }
                Err(e) => tracing::warn!(error = %e, "background sync not run"),
            }),
        );
    }

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
                Err(e) => tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "could not check for an unfinished backfill"
                ),
            }),
        );
    }

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
                async move { webhook::refresh_stats(&deps).await }
                    .into_actor(act)
                    .map(|result, _, _| {
                        if let Err(e) = result {
                            tracing::warn!(
                                error = &e as &dyn std::error::Error,
                                "could not re-read the athlete stats"
                            );
                        }
                    }),
            );
        }));
    }
}

impl FetcherActor {
    fn count_event(&self, outcome: &'static str) {
        self.deps
            .gate
            .metrics
            .webhook_events
            .get_or_create(&EventLabels { outcome })
            .inc();
    }

    /// An event dropped because too many wait: one reconciliation catches whatever was
    /// dropped, however many were.
    fn overflow(&mut self, ctx: &mut Context<Self>) {
        self.count_event("dropped");
        if !self.confirmations.overflowed {
            self.confirmations.overflowed = true;
            tracing::warn!(
                pending = self.confirmations.pending.len(),
                "too many webhook events to confirm; a reconciliation catches the rest"
            );
            self.sync_in_background(true, ctx);
        }
    }

    /// Screens the events that came meanwhile, one batch at a time (no Strava call; no
    /// Postgres read but the stored subscription's, at most once a minute).
    fn screen_events(&mut self, ctx: &mut Context<Self>) {
        if self.confirmations.screening || self.confirmations.unscreened.is_empty() {
            return;
        }
        self.confirmations.screening = true;
        let batch = std::mem::take(&mut self.confirmations.unscreened);
        let deps = self.deps.clone();
        let now = self.deps.clock.now();
        let reread = self.subscription.begin_read(now);
        let known = self.subscription.id();
        ctx.spawn(
            async move {
                let n = batch.len();
                (n, webhook::screen(&deps, known, reread, batch).await)
            }
            .in_current_span()
            .into_actor(self)
            .map(move |(n, screened), act, ctx| {
                act.confirmations.screening = false;
                match screened.stored {
                    Some(Ok(stored)) => act.subscription.read(Some(stored), now),
                    Some(Err(e)) => {
                        tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            "could not read the stored webhook subscription; keeping the one known"
                        );
                        act.subscription.read(None, now);
                    }
                    None => {}
                }
                match screened.accepted {
                    Ok(screened) => {
                        for accepted in screened {
                            match accepted {
                                Some(accepted) => act.enqueue(accepted, ctx),
                                None => act.count_event(EventOutcome::Ignored.label()),
                            }
                        }
                    }
                    Err(e) => {
                        for _ in 0..n {
                            act.count_event("failed");
                        }
                        tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            events = n,
                            "webhook events not handled"
                        );
                    }
                }
                act.screen_events(ctx);
            }),
        );
    }

    /// Adds a screened event to the pending confirmations: nothing when its target is pending
    /// or being confirmed already; dropped, with one reconciliation scheduled in its place,
    /// when the set is full.
    fn enqueue(&mut self, accepted: Accepted, ctx: &mut Context<Self>) {
        if self.confirmations.queued.contains(&accepted.target) {
            self.count_event("coalesced");
            return;
        }
        if self.confirmations.pending.len() >= MAX_PENDING_CONFIRMATIONS {
            self.overflow(ctx);
            return;
        }
        self.confirmations.queued.insert(accepted.target);
        match accepted.target {
            // A deauthorization goes first: it may make everything behind it moot.
            webhook::Target::Deauthorization => self.confirmations.pending.push_front(accepted),
            webhook::Target::Activity(_) => self.confirmations.pending.push_back(accepted),
        }
        self.confirm_pending(ctx);
    }

    /// Starts confirmations, a few at a time, unless the budget deferred them to a window
    /// that has not opened yet.
    fn confirm_pending(&mut self, ctx: &mut Context<Self>) {
        if let Some(until) = self.confirmations.deferred_until {
            if self.deps.clock.now() < until {
                self.wake_confirmations(ctx);
                return;
            }
            self.confirmations.deferred_until = None;
        }
        while self.confirmations.running < CONFIRMATIONS_AT_ONCE {
            let Some(accepted) = self.confirmations.pending.pop_front() else {
                break;
            };
            self.confirmations.running += 1;
            let deps = self.deps.clone();
            ctx.spawn(
                async move { webhook::confirm(&deps, accepted).await }
                    .in_current_span()
                    .into_actor(self)
                    .map(move |outcome, act, ctx| act.confirmed(accepted, outcome, ctx)),
            );
        }
    }

    fn confirmed(
        &mut self,
        accepted: Accepted,
        outcome: Result<EventOutcome, SyncError>,
        ctx: &mut Context<Self>,
    ) {
        self.confirmations.running = self.confirmations.running.saturating_sub(1);
        match outcome {
            // Deferred, not dropped: confirmed when the window opens, or when a probe is due
            // (an inactive app is logged once, by the budget).
            Err(e @ (SyncError::BudgetExhausted(wait) | SyncError::AppInactive(wait))) => {
                self.count_event("deferred");
                let until = self.deps.clock.now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
                if self.confirmations.deferred_until.is_none_or(|d| d < until) {
                    if matches!(e, SyncError::BudgetExhausted(_)) {
                        tracing::info!(
                            wait_secs = wait.as_secs(),
                            pending = self.confirmations.pending.len() + 1,
                            "webhook confirmations deferred by the rate budget"
                        );
                    }
                    self.confirmations.deferred_until = Some(until);
                }
                self.confirmations.pending.push_front(accepted);
            }
            outcome => {
                self.confirmations.queued.remove(&accepted.target);
                match &outcome {
                    Ok(outcome) => self.count_event(outcome.label()),
                    Err(_) => self.count_event("failed"),
                }
                match outcome {
                    Ok(EventOutcome::ActivityChanged) => self.refresh_stats_soon(ctx),
                    Ok(outcome) => tracing::debug!(?outcome, "webhook event handled"),
                    Err(e) => tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "webhook event not handled"
                    ),
                }
            }
        }
        if self.confirmations.pending.is_empty() && self.confirmations.running == 0 {
            self.confirmations.overflowed = false;
        }
        self.confirm_pending(ctx);
    }

    /// Looks again, shortly, whether the deferring window has opened (the clock is Strava's
    /// window time, which tests move).
    fn wake_confirmations(&mut self, ctx: &mut Context<Self>) {
        if self.confirmations.wake.is_some() {
            return;
        }
        self.confirmations.wake = Some(ctx.run_later(WINDOW_CHECK, |act, ctx| {
            act.confirmations.wake = None;
            act.confirm_pending(ctx);
        }));
    }
}

/// The pending webhook confirmations, keyed by what they confirm.
#[derive(Default)]
struct Confirmations {
    /// Events not yet checked against the subscription and the connected athlete.
    unscreened: Vec<Event>,
    screening: bool,
    /// Waiting, in order.
    pending: VecDeque<Accepted>,
    /// Everything pending or being confirmed: an event for one of these adds nothing.
    queued: HashSet<Target>,
    running: usize,
    /// The budget refused: nothing starts before this instant.
    deferred_until: Option<DateTime<Utc>>,
    wake: Option<SpawnHandle>,
    /// Events were dropped and a reconciliation scheduled; cleared once all is confirmed.
    overflowed: bool,
}

impl Actor for FetcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
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

    fn stopped(&mut self, _: &mut Self::Context) {
        // The budget has no one else to serve.
        let budget = self.deps.gate.budget.clone();
        actix::spawn(async move {
            let _ = budget.ask(Shutdown).await;
        });
    }
}

stops_on_shutdown!(FetcherActor);
answers_traced!(FetcherActor: RunSync, Connect, Status, AppStanding, WebhookEvent, SubscriptionChecked, Disconnect, Shutdown);

/// Run a sync (or join the one running) and answer when it is done.
#[derive(Message)]
#[rtype(result = "Result<SyncReport, SyncError>")]
pub struct RunSync {
    pub full: bool,
    pub priority: Priority,
}

impl Ask for RunSync {
    const TIMEOUT: Duration = SYNC_TIMEOUT;
}

impl Handler<RunSync> for FetcherActor {
    type Result = ResponseFuture<Result<SyncReport, SyncError>>;

    fn handle(&mut self, msg: RunSync, ctx: &mut Self::Context) -> Self::Result {
        Box::pin(self.sync(msg.full, msg.priority, ctx))
    }
}

/// Finish the OAuth handshake (TokenActor), then start the first sync in the background.
#[derive(Message)]
#[rtype(result = "Result<i64, CallbackError>")]
pub struct Connect(pub CompleteAuthorization);

impl Ask for Connect {
    const TIMEOUT: Duration = CONNECT_TIMEOUT;
}

impl Handler<Connect> for FetcherActor {
    type Result = ResponseActFuture<Self, Result<i64, CallbackError>>;

    #[tracing::instrument(name = "fetcher.connect", skip_all)]
    fn handle(&mut self, Connect(msg): Connect, _: &mut Self::Context) -> Self::Result {
        let token = self.deps.token.clone();
        let cache = self.deps.cache.clone();
        Box::pin(
            async move {
                let connected = token.ask(msg).await.map_err(CallbackError::Mailbox)?;
                if connected.is_ok() {
                    let _ = cache.ask(HealthChanged).await;
                }
                connected
            }
            .in_current_span()
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

/// The FetcherActor's figures for operators.
#[derive(Message)]
#[rtype(result = "FetcherStatus")]
pub struct Status;

impl Ask for Status {
    const TIMEOUT: Duration = STATUS_TIMEOUT;
}

#[derive(Debug, Clone, serde::Serialize, MessageResponse)]
pub struct FetcherStatus {
    pub sync_in_flight: bool,
    /// `None` when the budget did not answer.
    pub budget: Option<BudgetStatus>,
    /// `None` when the budget did not answer.
    #[serde(skip)]
    pub app: Option<AppStandingStatus>,
}

impl Reply for FetcherStatus {
    fn is_error(&self) -> bool {
        false
    }
}

impl Handler<Status> for FetcherActor {
    type Result = ResponseFuture<FetcherStatus>;

    fn handle(&mut self, _: Status, _: &mut Self::Context) -> Self::Result {
        let sync_in_flight = self.in_flight.is_some();
        let budget = self.deps.gate.budget.clone();
        Box::pin(async move {
            FetcherStatus {
                sync_in_flight,
                budget: budget.ask(budget::Figures).await.ok(),
                app: budget.ask(AppStanding).await.ok(),
            }
        })
    }
}

/// Whether Strava says the application is inactive: the budget's answer (see
/// [`budget::AppStanding`]).
impl Handler<AppStanding> for FetcherActor {
    type Result = ResponseFuture<AppStandingStatus>;

    fn handle(&mut self, msg: AppStanding, _: &mut Self::Context) -> Self::Result {
        let budget = self.deps.gate.budget.clone();
        Box::pin(async move { budget.ask(msg).await.unwrap_or_default() })
    }
}

/// A webhook event: answered at once, confirmed afterwards (see [`webhook`]).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WebhookEvent(pub Event);

impl Ask for WebhookEvent {
    const TIMEOUT: Duration = EVENT_TIMEOUT;
}

impl Handler<WebhookEvent> for FetcherActor {
    type Result = ();

    #[tracing::instrument(name = "fetcher.webhook", skip_all)]
    fn handle(&mut self, WebhookEvent(event): WebhookEvent, ctx: &mut Self::Context) {
        if self.confirmations.unscreened.len() >= MAX_PENDING_CONFIRMATIONS {
            self.overflow(ctx);
            return;
        }
        self.confirmations.unscreened.push(event);
        self.screen_events(ctx);
    }
}

/// This server answered Strava's subscription check: `milepost webhook subscribe` is about to
/// store a new subscription, so the next events read it again.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscriptionChecked;

impl Ask for SubscriptionChecked {
    const TIMEOUT: Duration = EVENT_TIMEOUT;
}

impl Handler<SubscriptionChecked> for FetcherActor {
    type Result = ();

    fn handle(&mut self, _: SubscriptionChecked, _: &mut Self::Context) {
        self.subscription.checked();
    }
}

/// Revoke at Strava, then delete everything stored for the athlete and stop serving it.
/// A sync in flight finishes first, so nothing it fetched is written afterwards.
#[derive(Message)]
#[rtype(result = "Result<(), SyncError>")]
pub struct Disconnect;

impl Ask for Disconnect {
    const TIMEOUT: Duration = DISCONNECT_TIMEOUT;
}

impl Handler<Disconnect> for FetcherActor {
    type Result = ResponseFuture<Result<(), SyncError>>;

    #[tracing::instrument(name = "fetcher.disconnect", skip_all)]
    fn handle(&mut self, _: Disconnect, _: &mut Self::Context) -> Self::Result {
        let running = self.in_flight.as_ref().map(|r| r.outcome.clone());
        let deps = self.deps.clone();
        let keep_owner = self.owner_pinned;
        Box::pin(
            async move {
                if let Some(running) = running {
                    let _ = running.await;
                }
                let athlete_id = deps
                    .token
                    .ask(ConnectedAthlete)
                    .await??
                    .ok_or(SyncError::NotConnected)?;
                revoke(&deps, athlete_id).await?;
                forget::forget_athlete(&deps, athlete_id, keep_owner).await?;
                tracing::info!(
                    athlete = athlete_id,
                    "athlete disconnected; their data is deleted"
                );
                Ok(())
            }
            .in_current_span(),
        )
    }
}

/// Revokes the athlete's tokens at Strava (with the refresh token and the app's credentials)
/// where that is possible, deauthorizing where Strava has no revoke (404); where it is not (no
/// usable token, the app's credentials refused, the budget spent, the app inactive) the local
/// data goes anyway: the owner asked for it.
async fn revoke(deps: &SyncDeps, athlete_id: i64) -> Result<(), SyncError> {
    let Some(grant) = usable(deps.token.ask(RefreshToken).await?, athlete_id, "revoke")? else {
        return Ok(());
    };
    let token = grant.token.expose_secret();
    let strava = &deps.gate.strava;
    let revoked = deps
        .gate
        .call(
            "oauth/revoke",
            RequestKind::Write,
            Priority::Interactive,
            &mut SyncReport::default(),
            || strava.revoke(token),
        )
        .await;
    match revoked {
        Ok(()) => tracing::info!(athlete = athlete_id, "revoked at Strava"),
        // Strava without revoke: deauthorize does the same until it is retired.
        Err(SyncError::NotFound) => return deauthorize(deps, athlete_id).await,
        // The tokens die with the rows; Strava's settings page revokes the app for good.
        Err(
            e @ (SyncError::Unauthorized
            | SyncError::BudgetExhausted(_)
            | SyncError::AppInactive(_)),
        ) => tracing::warn!(
            athlete = athlete_id,
            error = &e as &dyn std::error::Error,
            "cannot revoke at Strava now; deleting the local data anyway"
        ),
        Err(e) => return Err(e),
    }
    Ok(())
}

/// The token a disconnect hands back to Strava; `None` when there is none that works (the
/// local data goes anyway).
fn usable(
    asked: Result<crate::actors::token::Grant, TokenError>,
    athlete_id: i64,
    action: &str,
) -> Result<Option<crate::actors::token::Grant>, SyncError> {
    match asked {
        Ok(grant) => Ok(Some(grant)),
        Err(e @ (TokenError::ReauthorizationRequired | TokenError::Undecryptable)) => {
            tracing::warn!(
                athlete = athlete_id,
                error = &e as &dyn std::error::Error,
                "cannot {action} at Strava; deleting the local data anyway"
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// [`revoke`] where Strava has no revoke endpoint: deauthorize with the access token.
async fn deauthorize(deps: &SyncDeps, athlete_id: i64) -> Result<(), SyncError> {
    let asked = deps.token.ask(AccessToken::default()).await?;
    let Some(grant) = usable(asked, athlete_id, "deauthorize")? else {
        return Ok(());
    };
    let token = grant.token.expose_secret();
    let strava = &deps.gate.strava;
    let revoked = deps
        .gate
        .call(
            "oauth/deauthorize",
            RequestKind::Write,
            Priority::Interactive,
            &mut SyncReport::default(),
            || strava.deauthorize(token),
        )
        .await;
    match revoked {
        Ok(()) => tracing::info!(athlete = athlete_id, "deauthorized at Strava"),
        // Already revoked at Strava: nothing more to undo there.
        Err(SyncError::Unauthorized) => {}
        // The token dies with the row; Strava's settings page revokes the app for good.
        Err(e @ (SyncError::BudgetExhausted(_) | SyncError::AppInactive(_))) => tracing::warn!(
            athlete = athlete_id,
            error = &e as &dyn std::error::Error,
            "cannot deauthorize at Strava now; deleting the local data anyway"
        ),
        Err(e) => return Err(e),
    }
    Ok(())
}
