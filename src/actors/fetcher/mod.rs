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
//! With several replicas on one Postgres (SPEC §6) only the leader's FetcherActor calls Strava:
//! it follows the replica's [`Role`], and while it leads it runs the timers, takes the durable
//! queue ([`queue`]: webhook events and work other replicas asked for) and confirms events. A
//! follower's FetcherActor stores what it is asked and waits for the leader's outcome. Losing
//! the lead stops the timers and the running sync at once. A term is the leadership epoch the
//! replica took: every write of the term (through the CacheActor, the TokenActor, the budget,
//! the queue and the sync state) and every Strava request checks it first, so a leader that
//! lost the lead without noticing changes nothing (see `store::coordination::Fence`).
//!
//! Messages: [`RunSync`] (run or join a sync), [`Connect`] (finish OAuth, then sync in the
//! background), [`WebhookEvent`], [`SubscriptionChecked`], [`Disconnect`], [`Status`],
//! [`AppStanding`].

pub mod budget;
mod forget;
pub mod gate;
pub mod queue;
pub mod sync;
pub mod webhook;

use std::collections::HashMap;
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
use webhook::{
    Accepted, Confirmation, Event, EventOutcome, KnownSubscription, Offered, PendingSet, Target,
};

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
use crate::store::coordination::{Heard, Replica, Role};
use crate::store::queue::{PendingEvent, SUBSCRIPTION_CHANGED, WORK_CHANNEL, WorkKind};
use crate::strava::StravaClient;
use crate::strava::budget::{Priority, RequestKind};

/// A background sync deferred by the budget runs again this long after its window opens.
const AFTER_WINDOW: Duration = Duration::from_secs(2);
/// Events received and not yet screened at most; past that, events are dropped and one
/// reconciliation is scheduled instead.
const MAX_UNSCREENED: usize = PendingSet::CAPACITY;
/// Batches of events screened and stored at the same time: each holds one Postgres connection
/// at most, so a flood never takes the whole pool, and the acknowledgements wait for no more
/// than a batch or two ahead of them.
const BATCHES_AT_ONCE: usize = 3;
/// Webhook confirmations sent to Strava at the same time.
const CONFIRMATIONS_AT_ONCE: usize = 4;
/// While the budget defers confirmations, how often the actor looks whether the window opened
/// (and whether a failed confirmation's backoff has passed).
const WINDOW_CHECK: Duration = Duration::from_secs(1);
/// How soon queued events this leader could not release are released again.
const RELEASE_RETRY: Duration = Duration::from_secs(1);
/// How often at most webhook events make us re-read the athlete stats.
const STATS_AFTER_EVENTS: Duration = Duration::from_secs(60);
/// Room for a burst of webhook events and the permits of running plans.
const MAILBOX_CAPACITY: usize = 1024;
/// How long `refresh-data` (and `milepost refresh`) waits for a sync; the sync itself goes on.
const SYNC_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a follower waits for the leader's outcome: within the ask's own timeout.
const ASK_LEADER_WITHIN: Duration = Duration::from_secs(115);
/// A webhook event is screened and stored before the acknowledgement: Strava allows 2 s for
/// all of it.
const EVENT_TIMEOUT: Duration = Duration::from_millis(1_500);
/// Subscription checks are only passed on.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
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
    /// The sync's future, cancelled when this replica stops leading.
    handle: SpawnHandle,
}

/// Settings the FetcherActor runs with.
#[derive(Debug)]
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
    /// This replica's standing among the replicas.
    pub replica: Replica,
}

/// One stretch of leading: its number, the leadership epoch (marks the queue rows it took,
/// fences its writes), and its timers.
struct Term {
    id: i64,
    timers: Vec<SpawnHandle>,
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
    replica: Replica,
    /// While this replica leads.
    term: Option<Term>,
    /// The queue is being taken; `again`: a notification came meanwhile.
    taking: bool,
    take_again: bool,
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
                    fence: None,
                    pool: pool.clone(),
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
            replica: options.replica,
            term: None,
            taking: false,
            take_again: false,
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
        if full {
            // Events dropped so far are this re-list's (queued, or running and joined): the
            // next drop asks for another.
            self.confirmations.overflowed = false;
        }
        let previous = match &self.in_flight {
            Some(running) if running.full || !full => return running.outcome.clone(),
            Some(running) => Some(running.outcome.clone()),
            None => None,
        };
        let deps = self.deps.clone();
        // The sync runs in this actor's context whoever waits for it, and stops with the actor.
        let (done, outcome) = futures::channel::oneshot::channel();
        let handle = ctx.spawn(
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
            handle,
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
    /// rate budget deferred runs again when the window opens. A follower hands it to the
    /// leader.
    fn sync_in_background(&mut self, full: bool, ctx: &mut Context<Self>) {
        if self.term.is_none() {
            let kind = if full {
                WorkKind::Reconciliation
            } else {
                WorkKind::BackgroundSync
            };
            let pool = self.deps.pool.clone();
            ctx.spawn(
                async move {
                    if let Err(e) = queue::hand_over(&pool, kind).await {
                        tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            "could not hand a sync to the leader"
                        );
                    }
                }
                .into_actor(self)
                .map(move |(), act, _| {
                    // Stored (or not): the next drop asks again, and the leader coalesces
                    // what it has not started yet.
                    if full {
                        act.confirmations.overflowed = false;
                    }
                }),
            );
            return;
        }
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
                Err(e) => {
                    if full {
                        act.confirmations.overflowed = false;
                    }
                    tracing::warn!(error = %e, "background sync not run")
                }
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
        self.count_events(outcome, 1);
    }

    fn count_events(&self, outcome: &'static str, n: u64) {
        if n > 0 {
            self.deps
                .gate
                .metrics
                .webhook_events
                .get_or_create(&EventLabels { outcome })
                .inc_by(n);
        }
    }

    /// Events dropped because too many wait: one reconciliation catches whatever was dropped
    /// before it started, however many were. Drops while the one asked for has not started
    /// yet add nothing to it; a drop after that asks for another.
    fn overflow(&mut self, dropped: u64, ctx: &mut Context<Self>) {
        self.count_events("dropped", dropped);
        if self.confirmations.overflowed {
            return;
        }
        // Cleared as the leader's full sync is queued or joined, or once a follower's request
        // is stored.
        self.confirmations.overflowed = true;
        tracing::warn!(
            pending = self.confirmations.pending.len(),
            "too many webhook events to confirm; a reconciliation catches the rest"
        );
        self.sync_in_background(true, ctx);
    }

    /// Screens the events that came meanwhile, a few batches at a time (no Strava call, nothing
    /// asked of the TokenActor; Postgres reads the connected athlete, and the stored
    /// subscription at most once a minute), stores those worth confirming in the durable queue
    /// and acknowledges the batch.
    fn screen_events(&mut self, ctx: &mut Context<Self>) {
        let now = self.deps.clock.now();
        let busy = self.confirmations.screening;
        // A batch that reads the subscription runs alone: the ones beside it would screen
        // with the id it is about to replace.
        if busy >= BATCHES_AT_ONCE
            || self.confirmations.rereading
            || (busy > 0 && self.subscription.due(now))
            || self.confirmations.unscreened.is_empty()
        {
            return;
        }
        self.confirmations.screening += 1;
        let (batch, acks): (Vec<Event>, Vec<Ack>) =
            std::mem::take(&mut self.confirmations.unscreened)
                .into_iter()
                .unzip();
        let deps = self.deps.clone();
        let reread = self.subscription.begin_read(now);
        self.confirmations.rereading = reread;
        let known = self.subscription.id();
        let term = self.term.as_ref().map(|t| t.id);
        ctx.spawn(
            async move {
                let n = batch.len();
                let screened = webhook::screen(&deps, known, reread, batch).await;
                let stored = match &screened.accepted {
                    Ok(accepted) => store_accepted(&deps, accepted, term).await,
                    Err(e) => Err(e.clone()),
                };
                (n, screened, stored)
            }
            .in_current_span()
            .into_actor(self)
            .map(move |(n, screened, stored), act, ctx| {
                act.confirmations.screening -= 1;
                if reread {
                    act.confirmations.rereading = false;
                }
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
                let answer = match stored {
                    Ok(stored) => {
                        act.count_events("ignored", stored.ignored);
                        act.count_events("coalesced", stored.coalesced);
                        if stored.dropped > 0 {
                            act.overflow(stored.dropped, ctx);
                        }
                        // Taken by this leader as it stored them.
                        if act.term.is_some() {
                            act.offer(stored.rows, ctx);
                        }
                        Ok(())
                    }
                    Err(e) => {
                        act.count_events("failed", n as u64);
                        tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            events = n,
                            "webhook events not stored; Strava sends them again"
                        );
                        Err(e)
                    }
                };
                for ack in acks {
                    let _ = ack.send(answer.clone());
                }
                act.screen_events(ctx);
            }),
        );
    }

    /// Adds rows of the queue to the pending confirmations: nothing for a target pending
    /// already (one being confirmed is confirmed again afterwards); past the set's capacity,
    /// the rows are released in the queue, to be taken once there is room.
    fn offer(&mut self, rows: Vec<PendingEvent>, ctx: &mut Context<Self>) {
        let mut refused = Vec::new();
        for row in rows {
            let Some(target) = Target::from_key(&row.key) else {
                tracing::warn!(key = %row.key, "an unreadable row in the event queue; ignored");
                continue;
            };
            if self
                .confirmations
                .pending
                .offer(target, row.athlete_id, row.seq)
                == Offered::Full
            {
                refused.push(row.key);
            }
        }
        if !refused.is_empty() {
            self.release(refused, ctx);
        }
        self.confirm_pending(ctx);
    }

    /// Rows of the queue this leader took or stored but has no room for now: untaken again,
    /// and taken once confirmations have made room.
    fn release(&mut self, keys: Vec<String>, ctx: &mut Context<Self>) {
        let Some(term) = self.term.as_ref().map(|t| t.id) else {
            return;
        };
        self.release_under(term, keys, ctx);
    }

    /// [`Self::release`] of rows `term` took; nothing once that term has ended (a later term
    /// of this replica holds its own rows, which these keys may name again).
    fn release_under(&mut self, term: i64, keys: Vec<String>, ctx: &mut Context<Self>) {
        if self.term.as_ref().is_none_or(|t| t.id != term) {
            return;
        }
        self.confirmations.left_in_queue = true;
        let pool = self.deps.pool.clone();
        ctx.spawn(
            async move {
                let released = async {
                    let db = pool.get().await.map_err(SyncError::from)?;
                    store::queue::release_events(&db, term, &keys).await?;
                    Ok::<_, SyncError>(())
                };
                released.await.map_err(|e| (e, keys))
            }
            .into_actor(self)
            .map(move |released, _, ctx| {
                if let Err((e, keys)) = released {
                    // Marked with this term, they would wait for the next leader: again, soon.
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "could not release queued events this leader has no room for; trying again"
                    );
                    ctx.run_later(RELEASE_RETRY, move |act, ctx| {
                        act.release_under(term, keys, ctx)
                    });
                }
            }),
        );
    }

    /// Starts confirmations, a few at a time, unless the budget deferred them to a window
    /// that has not opened yet. Only the leader confirms.
    fn confirm_pending(&mut self, ctx: &mut Context<Self>) {
        if self.term.is_none() {
            return;
        }
        let now = self.deps.clock.now();
        self.confirmations.pending.release_due(now);
        if self.confirmations.pending.backing_off() {
            self.wake_confirmations(ctx);
        }
        if let Some(until) = self.confirmations.deferred_until {
            if now < until {
                self.wake_confirmations(ctx);
                return;
            }
            self.confirmations.deferred_until = None;
        }
        while self.confirmations.pending.running() < CONFIRMATIONS_AT_ONCE {
            let Some(confirmation) = self.confirmations.pending.start() else {
                break;
            };
            let deps = self.deps.clone();
            let handle = ctx.spawn(
                async move { confirm(&deps, confirmation).await }
                    .in_current_span()
                    .into_actor(self)
                    .map(move |outcome, act, ctx| act.confirmed(confirmation, outcome, ctx)),
            );
            self.confirmations
                .running
                .insert(confirmation.target, handle);
        }
    }

    fn confirmed(
        &mut self,
        confirmation: Confirmation,
        outcome: Result<EventOutcome, SyncError>,
        ctx: &mut Context<Self>,
    ) {
        let target = confirmation.target;
        self.confirmations.running.remove(&target);
        match outcome {
            // Deferred, not dropped: confirmed when the window opens, or when a probe is due
            // (an inactive app is logged once, by the budget); never sooner than the next
            // look, so a refusal that claims no wait cannot start it again at once.
            Err(e @ (SyncError::BudgetExhausted(wait) | SyncError::AppInactive(wait))) => {
                self.count_event("deferred");
                let wait = wait.max(WINDOW_CHECK);
                let until = self.deps.clock.now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
                if self.confirmations.deferred_until.is_none_or(|d| d < until) {
                    if matches!(e, SyncError::BudgetExhausted(_)) {
                        tracing::info!(
                            wait_secs = wait.as_secs(),
                            pending = self.confirmations.pending.len(),
                            "webhook confirmations deferred by the rate budget"
                        );
                    }
                    self.confirmations.deferred_until = Some(until);
                }
                self.confirmations.pending.deferred(target);
            }
            // Kept, with its row: tried again after a backoff (see `webhook::retry_after`).
            Err(e) if webhook::passing(&e) => {
                self.count_event("retried");
                let now = self.deps.clock.now();
                if let Some(at) = self.confirmations.pending.failed(target, now) {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        retry_in_secs = (at - now).num_seconds(),
                        "webhook event not confirmed now; trying again later"
                    );
                }
            }
            outcome => {
                self.confirmations.pending.finished(target);
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
        if self.confirmations.left_in_queue && self.confirmations.pending.room() > 0 {
            self.take_queue(ctx);
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

/// What storing a screened batch came to.
struct Stored {
    /// Now in the queue (new, or moved on), for the leader to confirm.
    rows: Vec<PendingEvent>,
    ignored: u64,
    /// Events for a target the queue held already.
    coalesced: u64,
    /// Events the queue had no room for.
    dropped: u64,
}

/// Stores the accepted events of a screened batch in the durable queue (one row per target),
/// as taken by `term` when this replica leads, else waking the leader.
async fn store_accepted(
    deps: &SyncDeps,
    accepted: &[Option<Accepted>],
    term: Option<i64>,
) -> Result<Stored, SyncError> {
    let ignored = accepted.iter().filter(|a| a.is_none()).count() as u64;
    let mut targets: HashMap<Target, i64> = HashMap::new();
    for accepted in accepted.iter().flatten() {
        targets.insert(accepted.target, accepted.athlete);
    }
    let events = accepted.len() as u64 - ignored;
    if targets.is_empty() {
        return Ok(Stored {
            rows: Vec::new(),
            ignored,
            coalesced: 0,
            dropped: 0,
        });
    }
    let keyed: Vec<(String, i64)> = targets
        .iter()
        .map(|(target, athlete)| (target.key(), *athlete))
        .collect();
    let mut db = deps.pool.get().await?;
    let rows = store::queue::store_events(&mut db, &keyed, term).await?;
    let new = rows.iter().filter(|r| !r.coalesced).count() as u64;
    let dropped = (keyed.len() - rows.len()) as u64;
    Ok(Stored {
        // each target is one new row, one left out, or a row there already: every other
        // event added nothing to confirm
        coalesced: events.saturating_sub(new + dropped),
        rows,
        ignored,
        dropped,
    })
}

/// Confirms one target and, once that is final (Strava's answer applied, or an error no retry
/// changes), takes its row off the queue (up to the event the confirmation answered for). A
/// confirmation the budget deferred or one that failed for a passing reason keeps its row; so
/// does one whose row could not be taken off (an error that passes: confirmed again later).
async fn confirm(deps: &SyncDeps, confirmation: Confirmation) -> Result<EventOutcome, SyncError> {
    let outcome = webhook::confirm(
        deps,
        Accepted {
            target: confirmation.target,
            athlete: confirmation.athlete,
        },
    )
    .await;
    match &outcome {
        Err(SyncError::BudgetExhausted(_) | SyncError::AppInactive(_)) => return outcome,
        Err(e) if webhook::passing(e) => return outcome,
        _ => {}
    }
    let mut db = deps.pool.get().await?;
    let tx = store::fenced(&mut db, deps.fence()).await?;
    store::queue::finish_event(&tx, &confirmation.target.key(), confirmation.seq).await?;
    tx.commit().await?;
    outcome
}

/// An event's acknowledgement: answered once the event is stored (or ignored).
type Ack = futures::channel::oneshot::Sender<Result<(), SyncError>>;

/// The webhook events on their way: received, screened and stored, confirmed.
#[derive(Default)]
struct Confirmations {
    /// Events not yet checked against the subscription and the connected athlete, with their
    /// acknowledgements.
    unscreened: Vec<(Event, Ack)>,
    /// Batches being screened and stored now.
    screening: usize,
    /// One of them reads the stored subscription first.
    rereading: bool,
    /// The leader's confirmations to run.
    pending: PendingSet,
    /// Those under way, cancelled when this replica stops leading.
    running: HashMap<Target, SpawnHandle>,
    /// The budget refused: nothing starts before this instant.
    deferred_until: Option<DateTime<Utc>>,
    wake: Option<SpawnHandle>,
    /// Events were dropped and the reconciliation asked for has not started yet (the leader's
    /// full sync is not queued yet; a follower's request is not stored yet).
    overflowed: bool,
    /// The queue may hold rows this leader had no room for: taken as confirmations end.
    left_in_queue: bool,
}

impl FetcherActor {
    /// This replica has become the leader: the budget as the last leader left it, then
    /// whatever the queue holds, an unfinished backfill, and the timers, at once.
    fn lead(&mut self, ctx: &mut Context<Self>) {
        let Role::Leader { since, epoch: id } = self.replica.role() else {
            return;
        };
        // Every write and Strava request of this term is made under its epoch.
        let Some(fence) = self.replica.fence().filter(|f| f.epoch() == id) else {
            // (the role moved on meanwhile: the next role change leads under the new one)
            return;
        };
        tracing::info!(
            term = id,
            "leading: taking the queue and starting the timers"
        );
        self.deps.gate.metrics.leader.set(1);
        self.deps.gate.metrics.leader_since.set(since.timestamp());
        self.deps.gate.fence = Some(fence);
        let budget = self.deps.gate.budget.clone();
        let fence = self.deps.gate.fence.clone();
        // No permit before the stored figures are in (the budget holds its mailbox meanwhile).
        ctx.wait(
            async move {
                if let Err(e) = budget.ask(budget::Reload(fence)).await {
                    tracing::warn!(error = %e, "the budget did not take the stored figures");
                }
            }
            .into_actor(self),
        );
        let refresh = ctx.run_interval(self.refresh_interval, |act, ctx| {
            act.sync_in_background(false, ctx)
        });
        // The daily reconciliation: a full re-list that removes what Strava no longer has
        // and re-confirms the rest before the retention period runs out.
        let reconcile = ctx.run_interval(self.reconcile_interval, |act, ctx| {
            act.sync_in_background(true, ctx)
        });
        self.term = Some(Term {
            id,
            timers: vec![refresh, reconcile],
        });
        self.take_queue(ctx);
        self.resume_backfill(ctx);
    }

    /// This replica no longer leads: its timers and the sync it runs stop now; what it had
    /// taken from the queue stays there for the next leader.
    fn follow(&mut self, ctx: &mut Context<Self>) {
        let Some(term) = self.term.take() else { return };
        tracing::warn!(term = term.id, "no longer leading: timers and syncs stop");
        self.deps.gate.fence = None;
        self.deps.gate.metrics.leader.set(0);
        self.deps.gate.metrics.leader_since.set(0);
        for timer in term.timers {
            ctx.cancel_future(timer);
        }
        if let Some(running) = self.in_flight.take() {
            ctx.cancel_future(running.handle);
        }
        for handle in [
            self.retry.take(),
            self.stats_refresh.take(),
            self.confirmations.wake.take(),
        ]
        .into_iter()
        .flatten()
        {
            ctx.cancel_future(handle);
        }
        // Confirmations under way stop too: the next leader confirms what the queue holds.
        for (_, handle) in self.confirmations.running.drain() {
            ctx.cancel_future(handle);
        }
        self.confirmations.pending.clear();
        self.confirmations.deferred_until = None;
        self.confirmations.overflowed = false;
        self.confirmations.left_in_queue = false;
    }

    /// The leader takes what the queue holds that it has not taken yet: events into the
    /// pending confirmations, work to run.
    fn take_queue(&mut self, ctx: &mut Context<Self>) {
        let Some(term) = self.term.as_ref().map(|t| t.id) else {
            return;
        };
        if self.taking {
            self.take_again = true;
            return;
        }
        self.taking = true;
        let pool = self.deps.pool.clone();
        let room = self.confirmations.pending.room() as i64;
        // What it cannot take now waits in the queue, untaken.
        self.confirmations.left_in_queue = false;
        let fence = self.deps.gate.fence.clone();
        ctx.spawn(
            async move {
                let mut db = pool.get().await.map_err(SyncError::from)?;
                let tx = store::fenced(&mut db, fence.as_ref()).await?;
                let events = store::queue::take_events(&tx, term, room).await?;
                let work = store::queue::take_work(&tx, term).await?;
                tx.commit().await?;
                Ok::<_, SyncError>((events, work))
            }
            .into_actor(self)
            .map(move |taken, act, ctx| {
                act.taking = false;
                // Taken under a term that has ended: the rows wait for the next term.
                if act.term.as_ref().is_some_and(|t| t.id == term) {
                    match taken {
                        Ok((events, work)) => {
                            if events.len() as i64 >= room {
                                act.confirmations.left_in_queue = true;
                            }
                            if !events.is_empty() {
                                tracing::info!(
                                    events = events.len(),
                                    "took webhook events from the queue"
                                );
                            }
                            act.offer(events, ctx);
                            for (id, kind) in work {
                                act.run_work(id, kind, ctx);
                            }
                        }
                        Err(e) => {
                            act.confirmations.left_in_queue = true;
                            tracing::warn!(
                                error = &e as &dyn std::error::Error,
                                "could not take the queue; trying again at the next notification"
                            )
                        }
                    }
                }
                if std::mem::take(&mut act.take_again) {
                    act.take_queue(ctx);
                }
            }),
        );
    }

    /// Runs a request another replica stored, and stores how it ended for the asker. One cut
    /// short because this replica stopped leading stays unfinished: the next leader runs it.
    fn run_work(&mut self, id: i64, kind: WorkKind, ctx: &mut Context<Self>) {
        tracing::info!(
            request = id,
            ?kind,
            "running work another replica asked for"
        );
        let outcome: LocalBoxFuture<'static, Result<SyncReport, SyncError>> = match kind {
            WorkKind::Sync | WorkKind::FullSync => self
                .sync(kind == WorkKind::FullSync, Priority::Interactive, ctx)
                .boxed_local(),
            WorkKind::BackgroundSync => {
                self.sync_in_background(false, ctx);
                async { Ok(SyncReport::default()) }.boxed_local()
            }
            // Asked for by a replica whose events the queue had no room for: a reconciliation
            // unless one asked for has not started yet, whichever replicas it overflowed on.
            WorkKind::Reconciliation => {
                self.overflow(0, ctx);
                async { Ok(SyncReport::default()) }.boxed_local()
            }
            WorkKind::Disconnect => {
                let disconnect = self.disconnect();
                async move { disconnect.await.map(|()| SyncReport::default()) }.boxed_local()
            }
        };
        let pool = self.deps.pool.clone();
        let fence = self.deps.gate.fence.clone();
        ctx.spawn(
            async move {
                let outcome = outcome.await;
                if matches!(outcome, Err(SyncError::Stopped)) {
                    return;
                }
                let finished = serde_json::to_value(queue::Finished::of(&outcome))
                    .unwrap_or(serde_json::Value::Null);
                let written = async {
                    let mut db = pool.get().await?;
                    let tx = store::fenced(&mut db, fence.as_ref()).await?;
                    store::queue::finish_work(&tx, id, &finished).await?;
                    tx.commit().await?;
                    Ok::<_, SyncError>(())
                };
                if let Err(e) = written.await {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        request = id,
                        "could not store the outcome of a request"
                    );
                }
            }
            .into_actor(self),
        );
    }

    /// Revokes at Strava, then deletes everything stored for the athlete (the leader's part of
    /// a [`Disconnect`]). A sync in flight finishes first, so nothing it fetched is written
    /// afterwards.
    fn disconnect(&self) -> impl Future<Output = Result<(), SyncError>> + 'static {
        let running = self.in_flight.as_ref().map(|r| r.outcome.clone());
        let deps = self.deps.clone();
        let keep_owner = self.owner_pinned;
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
        .in_current_span()
    }
}

impl StreamHandler<Role> for FetcherActor {
    fn handle(&mut self, role: Role, ctx: &mut Self::Context) {
        match (role, self.term.as_ref().map(|t| t.id)) {
            (Role::Leader { .. }, None) => self.lead(ctx),
            (Role::Follower, Some(_)) => self.follow(ctx),
            // Lost and taken again between two looks: a new term under the new epoch.
            (Role::Leader { epoch, .. }, Some(term)) if epoch != term => {
                self.follow(ctx);
                self.lead(ctx);
            }
            _ => {}
        }
    }

    /// The connection's task ended (a shutdown): it said Follower before it did.
    fn finished(&mut self, _: &mut Self::Context) {}
}

impl StreamHandler<Heard> for FetcherActor {
    /// Work was stored (or may have been, unheard): the leader takes it. A push subscription
    /// was stored (`milepost webhook subscribe` after another replica answered Strava's
    /// check): the next events read it again.
    fn handle(&mut self, heard: Heard, ctx: &mut Self::Context) {
        match heard {
            Heard::Notification(n) if n.payload == SUBSCRIPTION_CHANGED => {
                self.subscription.checked()
            }
            Heard::Notification(n) if !n.payload.is_empty() => self.take_queue(ctx),
            // (re)connected, or fell behind: either may have been missed
            Heard::Notification(_) | Heard::Missed => {
                self.subscription.checked();
                self.take_queue(ctx);
            }
        }
    }

    fn finished(&mut self, _: &mut Self::Context) {}
}

impl Actor for FetcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.me = Some(Mailbox::new(ctx.address(), self.deps.gate.metrics.clone()));
        ctx.add_stream(self.replica.roles());
        ctx.add_stream(self.replica.heard(WORK_CHANNEL));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.deps.gate.metrics.leader.set(0);
        self.deps.gate.metrics.leader_since.set(0);
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
    const TIMEOUT: Option<Duration> = Some(SYNC_TIMEOUT);
}

impl Handler<RunSync> for FetcherActor {
    type Result = ResponseFuture<Result<SyncReport, SyncError>>;

    fn handle(&mut self, msg: RunSync, ctx: &mut Self::Context) -> Self::Result {
        if self.term.is_some() {
            return Box::pin(self.sync(msg.full, msg.priority, ctx));
        }
        let kind = match (msg.full, msg.priority) {
            (false, Priority::Background) => WorkKind::BackgroundSync,
            (true, Priority::Background) => WorkKind::Reconciliation,
            (false, _) => WorkKind::Sync,
            (true, _) => WorkKind::FullSync,
        };
        let pool = self.deps.pool.clone();
        Box::pin(async move { queue::ask_leader(&pool, kind, ASK_LEADER_WITHIN).await })
    }
}

/// Finish the OAuth handshake (TokenActor), then start the first sync in the background.
#[derive(Message)]
#[rtype(result = "Result<i64, CallbackError>")]
pub struct Connect(pub CompleteAuthorization);

impl Ask for Connect {
    const TIMEOUT: Option<Duration> = Some(CONNECT_TIMEOUT);
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
    const TIMEOUT: Option<Duration> = Some(STATUS_TIMEOUT);
}

#[derive(Debug, Clone, serde::Serialize, MessageResponse)]
pub struct FetcherStatus {
    pub sync_in_flight: bool,
    /// This replica's name among the replicas.
    #[serde(skip)]
    pub replica: String,
    /// This replica's role.
    #[serde(skip)]
    pub role: Role,
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
        let replica = self.replica.id().to_owned();
        let role = self.replica.role();
        Box::pin(async move {
            FetcherStatus {
                sync_in_flight,
                replica,
                role,
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

/// A webhook event: answered once it is screened and, if worth confirming, in the durable
/// queue; confirmed afterwards by the leader (see [`webhook`]).
#[derive(Message)]
#[rtype(result = "Result<(), SyncError>")]
pub struct WebhookEvent(pub Event);

impl Ask for WebhookEvent {
    const TIMEOUT: Option<Duration> = Some(EVENT_TIMEOUT);
}

impl Handler<WebhookEvent> for FetcherActor {
    type Result = ResponseFuture<Result<(), SyncError>>;

    #[tracing::instrument(name = "fetcher.webhook", skip_all)]
    fn handle(
        &mut self,
        WebhookEvent(event): WebhookEvent,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        if self.confirmations.unscreened.len() >= MAX_UNSCREENED {
            self.overflow(1, ctx);
            return Box::pin(async { Ok(()) });
        }
        let (ack, acked) = futures::channel::oneshot::channel();
        self.confirmations.unscreened.push((event, ack));
        self.screen_events(ctx);
        Box::pin(async move { acked.await.unwrap_or(Err(SyncError::Stopped)) })
    }
}

/// This server answered Strava's subscription check: `milepost webhook subscribe` is about to
/// store a new subscription, so the next events read it again.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubscriptionChecked;

impl Ask for SubscriptionChecked {
    const TIMEOUT: Option<Duration> = Some(CHECK_TIMEOUT);
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
    const TIMEOUT: Option<Duration> = Some(DISCONNECT_TIMEOUT);
}

impl Handler<Disconnect> for FetcherActor {
    type Result = ResponseFuture<Result<(), SyncError>>;

    #[tracing::instrument(name = "fetcher.disconnect", skip_all)]
    fn handle(&mut self, _: Disconnect, _: &mut Self::Context) -> Self::Result {
        if self.term.is_some() {
            return Box::pin(self.disconnect());
        }
        let pool = self.deps.pool.clone();
        Box::pin(async move {
            queue::ask_leader(&pool, WorkKind::Disconnect, ASK_LEADER_WITHIN)
                .await
                .map(|_| ())
        })
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

/// The token a disconnect hands back to Strava; `None` when there is none that works, or
/// Strava refused its refresh because the app is inactive (the local data goes anyway).
fn usable(
    asked: Result<crate::actors::token::Grant, TokenError>,
    athlete_id: i64,
    action: &str,
) -> Result<Option<crate::actors::token::Grant>, SyncError> {
    match asked {
        Ok(grant) => Ok(Some(grant)),
        Err(
            e @ (TokenError::ReauthorizationRequired
            | TokenError::Undecryptable
            | TokenError::Strava(crate::strava::StravaError::AppInactive)),
        ) => {
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
    let asked = deps.token.ask(AccessToken::under(deps.fence())).await?;
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
