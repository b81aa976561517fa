//! BudgetActor: owns the rate budget, the FetcherActor's picture of Strava's four rate-limit
//! figures. Every Strava call asks it for a permit first ([`Spend`]: refused when the budget
//! cannot afford the request) and tells it what the response said ([`Observe`]), so
//! concurrent syncs and webhook confirmations share one budget without sharing memory.
//!
//! Messages: [`Spend`], [`Observe`], [`Figures`].

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use crate::actors::mailbox::{Ask, answers_traced};
use crate::actors::shutdown::{Shutdown, stops_on_shutdown};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::strava::budget::{Budget, Priority, RateHeaders, RequestKind};

/// Permits are answered from memory: a budget that does not answer at once is not there.
const PERMIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Every Strava request asks twice; a few hundred at once is far more than a sync sends.
const MAILBOX_CAPACITY: usize = 1024;

pub struct BudgetActor {
    budget: Budget,
    clock: Clock,
    metrics: Arc<Metrics>,
}

impl BudgetActor {
    pub fn new(clock: Clock, metrics: Arc<Metrics>) -> Self {
        Self {
            budget: Budget::default(),
            clock,
            metrics,
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
    }
}

stops_on_shutdown!(BudgetActor);
answers_traced!(BudgetActor: Spend, Observe, Figures, Shutdown);

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

/// May a request of this kind go out now? If so it is counted as sent, so back-to-back
/// requests see each other before their answers come.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), Refused>")]
pub struct Spend {
    pub kind: RequestKind,
    pub priority: Priority,
}

impl Ask for Spend {
    const TIMEOUT: Duration = PERMIT_TIMEOUT;
}

impl Handler<Spend> for BudgetActor {
    type Result = Result<(), Refused>;

    fn handle(&mut self, msg: Spend, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        self.budget
            .check(msg.kind, msg.priority, now)
            .map_err(|until| Refused::until(now, until))?;
        self.budget.spend(msg.kind, now);
        Ok(())
    }
}

/// What a Strava response said about the budget. After a 429 (`rate_limited`), nothing may be
/// sent until the window that refused us resets: the answer says how long that is.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), Refused>")]
pub struct Observe {
    pub rate: RateHeaders,
    pub rate_limited: bool,
}

impl Ask for Observe {
    const TIMEOUT: Duration = PERMIT_TIMEOUT;
}

impl Handler<Observe> for BudgetActor {
    type Result = Result<(), Refused>;

    fn handle(&mut self, msg: Observe, _: &mut Self::Context) -> Self::Result {
        let now = self.clock.now();
        if msg.rate_limited {
            self.budget.record_rate_limited(&msg.rate, now);
        } else if !msg.rate.is_empty() {
            self.budget.record(&msg.rate, now);
        }
        self.figures();
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

/// The budget's figures for operators.
#[derive(Message)]
#[rtype(result = "BudgetStatus")]
pub struct Figures;

impl Ask for Figures {
    const TIMEOUT: Duration = PERMIT_TIMEOUT;
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
