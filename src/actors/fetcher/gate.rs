//! One budgeted Strava call: a permit from the [`BudgetActor`] first (never a request the budget
//! cannot afford; nothing until the window resets after a 429; while Strava says the app is
//! inactive, only the probes it allows), the response's rate-limit figures and what it says of
//! the app's standing back to it afterwards (errors included), retries with doubling pauses for
//! transient failures. While the replica leads, each request waits for a look at the
//! leadership epoch first ([`Fence::verify`]): a leader that lost the lead without noticing
//! sends at most the request already under way. Also what every plan needs ([`SyncDeps`]) and
//! what it can end in ([`SyncError`], [`SyncReport`]).

use std::future::Future;
use std::time::Duration;

use actix::MailboxError;
use deadpool_postgres::Pool;

use super::budget::{BudgetActor, Observe, Open, RefreshRefused, Refusal, Said, Spend};
use crate::actors::cache::{CacheActor, CacheError};
use crate::actors::mailbox::Mailbox;
use crate::actors::token::{TokenActor, TokenError};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::store::coordination::Fence;
use crate::strava::budget::{Priority, RateHeaders, RequestKind};
use crate::strava::client::{Answer, Failure};
use crate::strava::{StravaClient, StravaError};

/// Attempts for a request that failed transiently (timeouts, 5xx), with doubling pauses.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Why a sync (or a confirmation, or a disconnect) did not complete. Cloneable: every caller
/// joined to a sync gets the outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    #[error("no athlete is connected")]
    NotConnected,
    #[error("the Strava connection needs re-authorization")]
    ReauthorizationRequired,
    /// How long until the window that refused us resets.
    #[error("the Strava rate budget is spent for {}s", .0.as_secs())]
    BudgetExhausted(Duration),
    /// How long until background work may probe again.
    #[error("the Strava application is inactive (next probe in {}s)", .0.as_secs())]
    AppInactive(Duration),
    #[error("Strava rejected the access token")]
    Unauthorized,
    #[error("not found at Strava")]
    NotFound,
    #[error("Strava failed")]
    Strava(#[source] StravaError),
    #[error("the tokens could not be used")]
    Token(#[source] TokenError),
    #[error("the data could not be stored")]
    Cache(#[source] CacheError),
    #[error("the sync state could not be read or written")]
    Storage(#[from] StoreError),
    #[error("an actor did not answer")]
    Mailbox(#[from] MailboxError),
    #[error("the sync was stopped before it ended")]
    Stopped,
    /// Asked of a follower, and no leader took it in time.
    #[error("no replica is leading to run it")]
    NoLeader,
    /// Asked of a follower: the leader ran it and it failed (at Strava when `strava`).
    #[error("the leader could not run it: {detail}")]
    Leader { strava: bool, detail: String },
}

impl From<TokenError> for SyncError {
    /// (A refresh refused because the app is inactive is [`SyncError::AppInactive`]; work that
    /// asks for a token tells the budget with [`Gate::token_refused`], which waits until the
    /// next probe: this, without it, claims a wait it cannot know.)
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NotConnected => Self::NotConnected,
            TokenError::ReauthorizationRequired => Self::ReauthorizationRequired,
            TokenError::Strava(StravaError::AppInactive) => Self::AppInactive(Duration::ZERO),
            e => Self::Token(e),
        }
    }
}

impl From<CacheError> for SyncError {
    fn from(e: CacheError) -> Self {
        match e {
            // Forgotten while the work was under way: as if it had never been connected.
            CacheError::Forgotten => Self::NotConnected,
            e => Self::Cache(e),
        }
    }
}

impl From<deadpool_postgres::PoolError> for SyncError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Storage(e.into())
    }
}

impl From<tokio_postgres::Error> for SyncError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl From<anyhow::Error> for SyncError {
    fn from(e: anyhow::Error) -> Self {
        Self::Storage(e.into())
    }
}

/// What one sync (or confirmation) cost and brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncReport {
    /// Requests sent to Strava.
    pub requests: u32,
    pub activities_fetched: usize,
    pub activities_stored: usize,
}

/// Sends requests to Strava within the budget, with retries for transient failures.
#[derive(Clone)]
pub struct Gate {
    pub strava: StravaClient,
    pub budget: Mailbox<BudgetActor>,
    pub metrics: std::sync::Arc<Metrics>,
    /// The epoch this replica leads under; `None` while it follows.
    pub fence: Option<Fence>,
    /// Where the epoch is looked at.
    pub pool: Pool,
}

impl Gate {
    /// Sends `request` if the budget affords it, else refuses with the wait until it will.
    pub async fn call<T, F, Fut>(
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
        let mut attempt = 1;
        loop {
            if let Some(fence) = &self.fence {
                fence.verify(&self.pool).await?;
            }
            // Never wait here: a sync others have joined must not sleep on the budget. The
            // actor schedules background work for when the window opens instead.
            self.budget
                .ask(Spend { kind, priority })
                .await?
                .map_err(refused)?;
            report.requests += 1;
            let (error, rate) = match request().await {
                Ok(answer) => {
                    self.observe(answer.rate, answered(endpoint)).await?;
                    self.metrics.count_strava(endpoint, "200");
                    return Ok(answer.value);
                }
                Err(Failure { error, rate }) => (error, rate),
            };
            self.metrics.count_strava(endpoint, status_label(&error));
            if matches!(error, StravaError::RateLimited) {
                let wait = self.rate_limited(rate).await?;
                tracing::warn!(
                    wait_secs = wait.as_secs(),
                    "Strava answered 429; no requests until the window resets"
                );
                return Err(SyncError::BudgetExhausted(wait));
            }
            if matches!(error, StravaError::AppInactive) {
                // The BudgetActor logs the news; every later refusal stays quiet.
                return Err(SyncError::AppInactive(self.app_inactive(rate).await?));
            }
            self.observe(rate, Said::Nothing).await?;
            if error.is_transient() && attempt < ATTEMPTS {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    attempt,
                    "transient Strava failure; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
                continue;
            }
            return Err(match error {
                StravaError::Unauthorized => SyncError::Unauthorized,
                StravaError::NotFound => SyncError::NotFound,
                e => SyncError::Strava(e),
            });
        }
    }

    /// What a token the TokenActor could not give means for work of `priority`: Strava
    /// refusing the refresh because the app is inactive is told to the budget like the API's
    /// 403 (health and the operators' view say `app_inactive`, background work and
    /// confirmations wait for a probe, and the refresh was this hour's probe).
    pub async fn token_refused(&self, e: TokenError, priority: Priority) -> SyncError {
        match e {
            TokenError::Strava(StravaError::AppInactive) => {
                match self.budget.ask(RefreshRefused { priority }).await {
                    Ok(answer) => {
                        SyncError::AppInactive(answer.err().map_or(Duration::ZERO, |r| r.wait))
                    }
                    Err(e) => SyncError::Mailbox(e),
                }
            }
            e => e.into(),
        }
    }

    /// Refuses at once, without spending anything, when work of `priority` would not reach
    /// Strava now because the app is inactive (see [`Open`]).
    pub async fn open(&self, priority: Priority) -> Result<(), SyncError> {
        self.budget.ask(Open { priority }).await?.map_err(refused)
    }

    /// Hands a response's figures, and what it says of the app's standing, to the budget.
    async fn observe(&self, rate: RateHeaders, standing: Said) -> Result<(), MailboxError> {
        let rate_limited = false;
        // Only a 429 or an inactive app is refused.
        let _ = self
            .budget
            .ask(Observe {
                rate,
                rate_limited,
                standing,
            })
            .await?;
        Ok(())
    }

    /// Hands a 429's figures to the budget: how long until the window that refused us resets.
    async fn rate_limited(&self, rate: RateHeaders) -> Result<Duration, MailboxError> {
        let answer = self
            .budget
            .ask(Observe {
                rate,
                rate_limited: true,
                standing: Said::Nothing,
            })
            .await?;
        Ok(answer.err().map_or(Duration::ZERO, |refused| refused.wait))
    }

    /// Tells the budget that Strava says the app is inactive: how long until the next probe.
    async fn app_inactive(&self, rate: RateHeaders) -> Result<Duration, MailboxError> {
        let answer = self
            .budget
            .ask(Observe {
                rate,
                rate_limited: false,
                standing: Said::Inactive,
            })
            .await?;
        Ok(answer.err().map_or(Duration::ZERO, |refused| refused.wait))
    }
}

fn refused(refusal: Refusal) -> SyncError {
    match refusal {
        Refusal::Budget(refused) => SyncError::BudgetExhausted(refused.wait),
        Refusal::AppInactive(refused) => SyncError::AppInactive(refused.wait),
    }
}

/// What a successful answer from `endpoint` says of the app's standing: an API answer proves it
/// active; an OAuth one (revoke, deauthorize) proves nothing, as those work for an inactive app.
fn answered(endpoint: &str) -> Said {
    if endpoint.starts_with("oauth/") {
        Said::Nothing
    } else {
        Said::Active
    }
}

/// The `status` label of a failed Strava request.
fn status_label(e: &StravaError) -> String {
    match e {
        StravaError::Timeout => "timeout".into(),
        StravaError::Transport(_) => "transport".into(),
        StravaError::Decode(_) => "malformed".into(),
        StravaError::Unauthorized => "401".into(),
        StravaError::NotFound => "404".into(),
        StravaError::InvalidRefreshToken => "400".into(),
        StravaError::RateLimited => "429".into(),
        StravaError::AppInactive => "403".into(),
        StravaError::Status { status, .. } => status.to_string(),
    }
}

/// What a plan needs, cloned into the task that runs it.
#[derive(Clone)]
pub struct SyncDeps {
    pub gate: Gate,
    pub pool: Pool,
    pub token: Mailbox<TokenActor>,
    pub cache: Mailbox<CacheActor>,
    /// Where "now" comes from (the fetch time of what a plan publishes).
    pub clock: Clock,
}

impl SyncDeps {
    /// The epoch every write of the plan is made under (see [`Fence`]); `None` on a follower.
    pub fn fence(&self) -> Option<&Fence> {
        self.gate.fence.as_ref()
    }
}
