//! BudgetActor: owns the rate budget, the FetcherActor's picture of Strava's four rate-limit
//! figures, and the app's [`Standing`] (whether Strava says the application is inactive). Every
//! Strava call asks it for a permit first ([`Spend`]: refused when the budget cannot afford the
//! request, or while the app is inactive and no probe is due) and tells it what the response
//! said ([`Observe`]), so concurrent syncs and webhook confirmations share one budget without
//! sharing memory. It logs the app's changes of standing, once each.
//! The figures are stored in Postgres after every response and read back before the first
//! permit, so a restarted process starts from what Strava said last, not from an empty window.
//!
//! Messages: [`Spend`], [`Observe`], [`Open`], [`Figures`], [`AppStanding`].

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use crate::actors::mailbox::{Ask, answers_traced};
use crate::actors::shutdown::{Shutdown, stops_on_shutdown};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store;
use crate::store::coordination::Fence;
use crate::strava::budget::{Budget, Priority, RateHeaders, RequestKind};
use crate::strava::standing::Standing;

/// Permits are answered from memory: a budget that does not answer at once is not there.
const PERMIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Every Strava request asks twice; a few hundred at once is far more than a sync sends.
const MAILBOX_CAPACITY: usize = 1024;

pub struct BudgetActor {
    budget: Budget,
    standing: Standing,
    clock: Clock,
    metrics: Arc<Metrics>,
    /// Where the figures are kept, so a restart starts from what Strava last said.
    store: Option<Pool>,
    /// The epoch of the lead the figures are kept under (from [`Reload`]): a replica that
    /// lost the lead writes none.
    fence: Option<Fence>,
}

impl BudgetActor {
    pub fn new(clock: Clock, metrics: Arc<Metrics>) -> Self {
        Self {
            budget: Budget::default(),
            standing: Standing::default(),
            clock,
            metrics,
            store: None,
            fence: None,
        }
    }

    /// Reads the stored figures before the first permit, and stores them after every response.
    pub fn kept_in(mut self, pool: Pool) -> Self {
        self.store = Some(pool);
        self
    }

    /// Writes the figures in the background; a failed write only costs the next start-up its
    /// head start.
    fn save(&self, ctx: &mut Context<Self>) {
        let Some(pool) = self.store.clone() else {
            return;
        };
        let budget = self.budget.clone();
        let fence = self.fence.clone();
        ctx.spawn(
            async move {
                let saved = async {
                    let mut db = pool.get().await?;
                    let tx = store::fenced(&mut db, fence.as_ref()).await?;
                    store::save_rate_budget(&tx, &budget).await?;
                    tx.commit().await?;
                    anyhow::Ok(())
                };
                if let Err(e) = saved.await {
                    tracing::debug!(error = %crate::error::chain(e.as_ref()), "could not store the rate budget");
                }
            }
            .into_actor(self),
        );
    }

    /// Takes what a response said about the app's standing; each change is logged once.
    fn note_standing(&mut self, said: Said, now: DateTime<Utc>) {
        match said {
            Said::Inactive if self.standing.record_inactive(now) => {
                self.metrics.strava_app_inactive.set(1);
                let next_probe = self.standing.next_probe().map(crate::stats::timestamp);
                tracing::warn!(
                    next_probe = next_probe.unwrap_or_default(),
                    "Strava says this application is inactive: syncs pause (one probe an hour, \
                     and each refresh-data) and the cached data keeps being served until the \
                     app's owner subscribes on Strava and reactivates the app in Strava's API \
                     settings"
                );
            }
            Said::Active => {
                if let Some(since) = self.standing.record_active() {
                    self.metrics.strava_app_inactive.set(0);
                    tracing::info!(
                        inactive_since = %crate::stats::timestamp(since),
                        "the Strava application is active again; syncs resume"
                    );
                }
            }
            Said::Inactive | Said::Nothing => {}
        }
    }

    /// The figures now, also published as gauges.
    fn figures(&self) -> BudgetStatus {
        let now = self.clock.now();
        let (usage, read_usage) = self.budget.usage_at(now);
        let limits = self.budget.limits();
        self.metrics
            .set_budget((usage, read_usage), (limits.overall, limits.read));
        BudgetStatus {
            usage,
            limit: limits.overall,
            read_usage,
            read_limit: limits.read,
            refused_until: self
                .budget
                .check(RequestKind::Write, Priority::Interactive, now)
                .err()
                .map(crate::stats::timestamp),
        }
    }
}

impl Actor for BudgetActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.load(ctx);
    }
}

impl BudgetActor {
    /// Reads the stored figures, holding every permit until they are in: what Strava said last
    /// (to whichever replica asked it) still holds. Newer figures known here are kept.
    fn load(&mut self, ctx: &mut Context<Self>) {
        let Some(pool) = self.store.clone() else {
            return;
        };
        ctx.wait(
            async move {
                let db = pool.get().await?;
                store::rate_budget(&db).await
            }
            .into_actor(self)
            .map(
                |stored: anyhow::Result<Option<Budget>>, act, _| match stored {
                    Ok(Some(stored)) if stored.observed_at() > act.budget.observed_at() => {
                        act.budget = stored;
                        act.figures();
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(
                        error = %crate::error::chain(e.as_ref()),
                        "could not read the stored rate budget; going on from the figures known here"
                    ),
                },
            ),
        );
    }
}

/// Read the stored figures again before the next permit: this replica has just become the
/// leader, and the one before it spent from the same windows. The figures are written under
/// the new lead's epoch from now on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reload(pub Option<Fence>);

impl Ask for Reload {
    const TIMEOUT: Option<Duration> = Some(Duration::from_secs(5));
}

impl Handler<Reload> for BudgetActor {
    type Result = ();

    fn handle(&mut self, Reload(fence): Reload, ctx: &mut Self::Context) {
        self.fence = fence;
        self.load(ctx);
    }
}

stops_on_shutdown!(BudgetActor);
answers_traced!(BudgetActor: Spend, Observe, RefreshRefused, Open, Figures, AppStanding, Reload, Shutdown);

/// The budget cannot afford a request before `wait` has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub wait: Duration,
}

impl Refused {
    fn until(now: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        Self {
            wait: (until - now).to_std().unwrap_or_default(),
        }
    }
}

/// Why a permit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The budget cannot afford the request yet.
    Budget(Refused),
    /// Strava says the app is inactive; the wait is until the next probe.
    AppInactive(Refused),
}

/// May a request of this kind go out now? If so it is counted as sent, so back-to-back
/// requests see each other before their answers come.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), Refusal>")]
pub struct Spend {
    pub kind: RequestKind,
    pub priority: Priority,
}

impl Ask for Spend {
    const TIMEOUT: Option<Duration> = Some(PERMIT_TIMEOUT);
}

impl Handler<Spend> for BudgetActor {
    type Result = Result<(), Refusal>;

    fn handle(&mut self, msg: Spend, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        self.standing
            .check(msg.priority, now)
            .map_err(|next| Refusal::AppInactive(Refused::until(now, next)))?;
        self.budget
            .check(msg.kind, msg.priority, now)
            .map_err(|until| Refusal::Budget(Refused::until(now, until)))?;
        self.standing.spend(msg.priority, now);
        self.budget.spend(msg.kind, now);
        Ok(())
    }
}

/// Would work of this priority reach Strava now, as far as the app's standing goes? Asked
/// before a plan spends anything else (a token refresh, a Postgres read) on a call that would
/// be refused; the permit itself is still [`Spend`]'s.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), Refusal>")]
pub struct Open {
    pub priority: Priority,
}

impl Ask for Open {
    const TIMEOUT: Option<Duration> = Some(PERMIT_TIMEOUT);
}

impl Handler<Open> for BudgetActor {
    type Result = Result<(), Refusal>;

    fn handle(&mut self, msg: Open, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        self.standing
            .check(msg.priority, now)
            .map_err(|next| Refusal::AppInactive(Refused::until(now, next)))
    }
}

/// What a response says about the app's standing at Strava.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// An API call succeeded: the app is active.
    Active,
    /// 403 Application/Status/Inactive.
    Inactive,
    /// Nothing: another failure, or an OAuth answer (token refresh and revoke work for an
    /// inactive app too).
    Nothing,
}

/// What a Strava response said about the budget and the app. After a 429 (`rate_limited`),
/// nothing may be sent until the window that refused us resets: the answer says how long that
/// is. After an inactive app's 403 it says how long until the next probe.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), Refused>")]
pub struct Observe {
    pub rate: RateHeaders,
    pub rate_limited: bool,
    pub standing: Said,
}

impl Ask for Observe {
    const TIMEOUT: Option<Duration> = Some(PERMIT_TIMEOUT);
}

impl Handler<Observe> for BudgetActor {
    type Result = Result<(), Refused>;

    fn handle(&mut self, msg: Observe, ctx: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        self.note_standing(msg.standing, now);
        if msg.rate_limited {
            self.budget.record_rate_limited(&msg.rate, now);
            self.save(ctx);
        } else if !msg.rate.is_empty() {
            self.budget.record(&msg.rate, now);
            self.save(ctx);
        }
        self.figures();
        if msg.standing == Said::Inactive {
            let next = self.standing.next_probe().unwrap_or(now);
            return Err(Refused::until(now, next));
        }
        match msg.rate_limited {
            false => Ok(()),
            true => Err(self
                .budget
                .check(RequestKind::Read, Priority::Interactive, now)
                .err()
                .map_or(
                    Refused {
                        wait: Duration::ZERO,
                    },
                    |until| Refused::until(now, until),
                )),
        }
    }
}

/// Strava refused a token refresh because the app is inactive: news like the API's 403, and,
/// for work other than an operator's, this hour's probe (no API request went out, so
/// [`Spend`] did not count it). The answer says how long until the next probe.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), Refused>")]
pub struct RefreshRefused {
    pub priority: Priority,
}

impl Ask for RefreshRefused {
    const TIMEOUT: Option<Duration> = Some(PERMIT_TIMEOUT);
}

impl Handler<RefreshRefused> for BudgetActor {
    type Result = Result<(), Refused>;

    fn handle(&mut self, msg: RefreshRefused, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        self.note_standing(Said::Inactive, now);
        self.standing.spend(msg.priority, now);
        self.figures();
        let next = self.standing.next_probe().unwrap_or(now);
        Err(Refused::until(now, next))
    }
}

/// The budget's figures for operators.
#[derive(Message)]
#[rtype(result = "BudgetStatus")]
pub struct Figures;

impl Ask for Figures {
    const TIMEOUT: Option<Duration> = Some(PERMIT_TIMEOUT);
}

/// The rate budget as the FetcherActor knows it.
#[derive(Debug, Clone, serde::Serialize, MessageResponse)]
pub struct BudgetStatus {
    /// `[15 min, daily]`.
    pub usage: (u32, u32),
    pub limit: (u32, u32),
    pub read_usage: (u32, u32),
    pub read_limit: (u32, u32),
    /// Set while nothing may be sent (after a 429 or a spent window).
    pub refused_until: Option<String>,
}

impl crate::actors::mailbox::Reply for BudgetStatus {
    fn is_error(&self) -> bool {
        false
    }
}

impl Handler<Figures> for BudgetActor {
    type Result = BudgetStatus;

    fn handle(&mut self, _: Figures, _: &mut Self::Context) -> Self::Result {
        self.figures()
    }
}

/// Whether Strava says the app is inactive, for health and operators.
#[derive(Message)]
#[rtype(result = "AppStandingStatus")]
pub struct AppStanding;

impl Ask for AppStanding {
    const TIMEOUT: Option<Duration> = Some(PERMIT_TIMEOUT);
}

/// The app's standing as the FetcherActor knows it: both `None` while it is active.
#[derive(Debug, Clone, Copy, Default, MessageResponse)]
pub struct AppStandingStatus {
    pub inactive_since: Option<DateTime<Utc>>,
    /// When background work may probe again.
    pub next_probe: Option<DateTime<Utc>>,
}

impl AppStandingStatus {
    pub fn is_inactive(&self) -> bool {
        self.inactive_since.is_some()
    }
}

impl crate::actors::mailbox::Reply for AppStandingStatus {
    fn is_error(&self) -> bool {
        false
    }
}

impl Handler<AppStanding> for BudgetActor {
    type Result = AppStandingStatus;

    fn handle(&mut self, _: AppStanding, _: &mut Self::Context) -> Self::Result {
        AppStandingStatus {
            inactive_since: self.standing.inactive_since(),
            next_probe: self.standing.next_probe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn budget_at(now: DateTime<Utc>) -> Addr<BudgetActor> {
        BudgetActor::new(Clock::from_fn(move || now), Arc::new(Metrics::default())).start()
    }

    fn spend(priority: Priority) -> Spend {
        Spend {
            kind: RequestKind::Read,
            priority,
        }
    }

    fn observe(standing: Said) -> Observe {
        Observe {
            rate: RateHeaders::default(),
            rate_limited: false,
            standing,
        }
    }

    #[actix_web::test]
    async fn an_inactive_app_refuses_background_work_but_not_an_operator_until_an_answer_succeeds()
    {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 10, 20, 0).unwrap();
        let budget = budget_at(now);
        let told = budget.send(observe(Said::Inactive)).await.unwrap();
        assert_eq!(
            told,
            Err(Refused::until(
                now,
                now + crate::strava::standing::PROBE_EVERY - crate::strava::standing::PROBE_SLACK
            ))
        );

        for priority in [Priority::Background, Priority::Confirmation] {
            assert!(matches!(
                budget.send(spend(priority)).await.unwrap(),
                Err(Refusal::AppInactive(_))
            ));
            assert!(budget.send(Open { priority }).await.unwrap().is_err());
        }
        assert_eq!(
            budget.send(spend(Priority::Interactive)).await.unwrap(),
            Ok(())
        );
        let standing = budget.send(AppStanding).await.unwrap();
        assert_eq!(standing.inactive_since, Some(now));
        assert!(standing.is_inactive());

        // an OAuth answer proves nothing; an API answer does
        budget.send(observe(Said::Nothing)).await.unwrap().unwrap();
        assert!(budget.send(AppStanding).await.unwrap().is_inactive());
        budget.send(observe(Said::Active)).await.unwrap().unwrap();
        assert!(!budget.send(AppStanding).await.unwrap().is_inactive());
        assert_eq!(
            budget.send(spend(Priority::Background)).await.unwrap(),
            Ok(())
        );
    }

    #[actix_web::test]
    async fn a_refused_token_refresh_is_background_work_s_probe_but_not_an_operator_s() {
        use crate::strava::standing::{PROBE_EVERY, PROBE_SLACK};
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 10, 20, 0).unwrap();
        let now = Arc::new(std::sync::Mutex::new(start));
        let clock = {
            let now = now.clone();
            Clock::from_fn(move || *now.lock().unwrap())
        };
        let budget = BudgetActor::new(clock, Arc::new(Metrics::default())).start();
        let refused = |priority| RefreshRefused { priority };
        let hour = PROBE_EVERY - PROBE_SLACK;

        // news: the app is inactive, the next probe an hour on
        let told = budget.send(refused(Priority::Confirmation)).await.unwrap();
        assert_eq!(told, Err(Refused::until(start, start + hour)));
        assert!(budget.send(AppStanding).await.unwrap().is_inactive());

        // an hour on the probe is due; an operator's refused refresh leaves it due
        let later = start + hour;
        *now.lock().unwrap() = later;
        let told = budget.send(refused(Priority::Interactive)).await.unwrap();
        assert_eq!(told, Err(Refused::until(later, later)));
        let open = Open {
            priority: Priority::Confirmation,
        };
        assert_eq!(budget.send(open).await.unwrap(), Ok(()));

        // a confirmation's refused refresh is the hour's probe
        let told = budget.send(refused(Priority::Confirmation)).await.unwrap();
        assert_eq!(told, Err(Refused::until(later, later + hour)));
        assert!(budget.send(open).await.unwrap().is_err());
    }
}
