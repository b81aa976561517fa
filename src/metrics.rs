//! Metrics and the one instrumentation point every actor message passes: [`Mailbox::ask`]
//! counts handled messages, errors and those in flight, and times each one. `/metrics` renders
//! the registry in Prometheus text format.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, MailboxError, Message};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How long a caller waits for an actor's answer before giving up.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabels {
    pub actor: &'static str,
    pub message: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StravaLabels {
    pub endpoint: &'static str,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BudgetLabels {
    /// `overall` or `read`.
    pub kind: &'static str,
    /// `15min` or `daily`.
    pub window: &'static str,
}

/// One actor's figures for `/strava/admin/actors`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ActorSummary {
    pub handled: u64,
    pub errors: u64,
    pub in_flight: i64,
    pub last_handled_at: Option<String>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub result: &'static str,
}

fn handling_time() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 4.0, 12))
}

/// Every figure milepost exports.
pub struct Metrics {
    registry: Registry,
    pub messages_handled: Family<MessageLabels, Counter>,
    pub message_errors: Family<MessageLabels, Counter>,
    pub messages_in_flight: Family<MessageLabels, Gauge>,
    pub message_seconds: Family<MessageLabels, Histogram, fn() -> Histogram>,
    pub strava_requests: Family<StravaLabels, Counter>,
    pub cache_lookups: Family<CacheLabels, Counter>,
    pub cache_entries: Gauge,
    pub token_refreshes: Counter,
    pub token_refresh_failures: Counter,
    pub activities_stored: Gauge,
    pub last_sync_success: Gauge,
    pub http_requests: Family<HttpLabels, Counter>,
    pub budget_usage: Family<BudgetLabels, Gauge>,
    pub budget_limit: Family<BudgetLabels, Gauge>,
    pub sync_seconds: Histogram,
    /// Per actor, for the admin view (the registry cannot be read back).
    actors: std::sync::Mutex<std::collections::BTreeMap<&'static str, ActorSummary>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("milepost");
        let messages_handled = Family::<MessageLabels, Counter>::default();
        let message_errors = Family::<MessageLabels, Counter>::default();
        let messages_in_flight = Family::<MessageLabels, Gauge>::default();
        let message_seconds =
            Family::<MessageLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                handling_time,
            );
        let strava_requests = Family::<StravaLabels, Counter>::default();
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        let cache_entries = Gauge::default();
        let token_refreshes = Counter::default();
        let token_refresh_failures = Counter::default();
        let activities_stored = Gauge::default();
        let last_sync_success = Gauge::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let budget_usage = Family::<BudgetLabels, Gauge>::default();
        let budget_limit = Family::<BudgetLabels, Gauge>::default();
        let sync_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        registry.register(
            "strava_budget_usage",
            "Strava rate-limit usage as last known, by limit and window",
            budget_usage.clone(),
        );
        registry.register(
            "strava_budget_limit",
            "Strava rate limits, by limit and window",
            budget_limit.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "How long syncs take",
            sync_seconds.clone(),
        );
        registry.register(
            "actor_messages_handled",
            "Messages an actor has answered",
            messages_handled.clone(),
        );
        registry.register(
            "actor_message_errors",
            "Messages whose answer was an error or that got no answer",
            message_errors.clone(),
        );
        registry.register(
            "actor_messages_in_flight",
            "Messages sent and not yet answered",
            messages_in_flight.clone(),
        );
        registry.register(
            "actor_message_duration_seconds",
            "Time from sending a message to its answer",
            message_seconds.clone(),
        );
        registry.register(
            "strava_requests",
            "Requests sent to Strava by endpoint and status",
            strava_requests.clone(),
        );
        registry.register(
            "cache_lookups",
            "Cache reads by result",
            cache_lookups.clone(),
        );
        registry.register(
            "cache_entries",
            "Bodies held in memory",
            cache_entries.clone(),
        );
        registry.register(
            "token_refreshes",
            "Access tokens refreshed at Strava",
            token_refreshes.clone(),
        );
        registry.register(
            "token_refresh_failures",
            "Token refreshes that failed",
            token_refresh_failures.clone(),
        );
        registry.register(
            "activities_stored",
            "Activities stored for the athlete",
            activities_stored.clone(),
        );
        registry.register(
            "last_sync_success_timestamp_seconds",
            "When the last sync succeeded (unix time)",
            last_sync_success.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route pattern and status",
            http_requests.clone(),
        );
        Self {
            registry,
            messages_handled,
            message_errors,
            messages_in_flight,
            message_seconds,
            strava_requests,
            cache_lookups,
            cache_entries,
            token_refreshes,
            token_refresh_failures,
            activities_stored,
            last_sync_success,
            http_requests,
            budget_usage,
            budget_limit,
            sync_seconds,
            actors: Default::default(),
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition of every figure.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Every actor's message figures, by actor name.
    pub fn actor_summaries(&self) -> std::collections::BTreeMap<&'static str, ActorSummary> {
        self.actors.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn note_actor(&self, actor: &'static str, change: impl FnOnce(&mut ActorSummary)) {
        if let Ok(mut actors) = self.actors.lock() {
            change(actors.entry(actor).or_default());
        }
    }

    /// The budget's figures as gauges: `((15 min, daily), (15 min, daily))` usage and limits.
    pub fn set_budget(&self, usage: ((u32, u32), (u32, u32)), limits: ((u32, u32), (u32, u32))) {
        for (kind, (u, l)) in [
            ("overall", (usage.0, limits.0)),
            ("read", (usage.1, limits.1)),
        ] {
            for (window, used, limit) in [("15min", u.0, l.0), ("daily", u.1, l.1)] {
                let labels = BudgetLabels { kind, window };
                self.budget_usage
                    .get_or_create(&labels)
                    .set(i64::from(used));
                self.budget_limit
                    .get_or_create(&labels)
                    .set(i64::from(limit));
            }
        }
    }

    pub fn count_strava(&self, endpoint: &'static str, status: impl Into<String>) {
        self.strava_requests
            .get_or_create(&StravaLabels {
                endpoint,
                status: status.into(),
            })
            .inc();
    }
}

/// Whether an actor's answer was an error, for the error counter.
pub trait Outcome {
    fn failed(&self) -> bool;
}

impl<T, E> Outcome for Result<T, E> {
    fn failed(&self) -> bool {
        self.is_err()
    }
}

impl<T> Outcome for Option<T> {
    fn failed(&self) -> bool {
        false
    }
}

impl<A, B> Outcome for (A, B) {
    fn failed(&self) -> bool {
        false
    }
}

impl Outcome for () {
    fn failed(&self) -> bool {
        false
    }
}

/// The last segment of a type's path: `milepost::actors::cache::Get` → `Get`.
fn short_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// An actor's address with the metrics every message to it is counted in.
pub struct Mailbox<A: Actor> {
    addr: Addr<A>,
    metrics: Arc<Metrics>,
}

impl<A: Actor> Clone for Mailbox<A> {
    fn clone(&self) -> Self {
        Self {
            addr: self.addr.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<A: Actor> std::fmt::Debug for Mailbox<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailbox<{}>", short_name::<A>())
    }
}

impl<A: Actor> Mailbox<A> {
    pub fn new(addr: Addr<A>, metrics: Arc<Metrics>) -> Self {
        Self { addr, metrics }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Sends `msg` and waits for the answer (at most [`ASK_TIMEOUT`]), counting and timing it.
    pub async fn ask<M>(&self, msg: M) -> Result<M::Result, MailboxError>
    where
        A: Handler<M>,
        A::Context: ToEnvelope<A, M>,
        M: Message + Send + 'static,
        M::Result: Send + Outcome,
    {
        let labels = MessageLabels {
            actor: short_name::<A>(),
            message: short_name::<M>(),
        };
        let in_flight = self
            .metrics
            .messages_in_flight
            .get_or_create(&labels)
            .clone();
        in_flight.inc();
        self.metrics.note_actor(labels.actor, |a| a.in_flight += 1);
        let started = Instant::now();
        let answer = self.addr.send(msg).timeout(ASK_TIMEOUT).await;
        in_flight.dec();
        let failed = answer.as_ref().map_or(true, Outcome::failed);
        self.metrics.note_actor(labels.actor, |a| {
            a.in_flight -= 1;
            a.handled += 1;
            a.errors += u64::from(failed);
            a.last_handled_at = Some(crate::stats::timestamp(chrono::Utc::now()));
        });
        self.metrics
            .message_seconds
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        self.metrics.messages_handled.get_or_create(&labels).inc();
        if failed {
            self.metrics.message_errors.get_or_create(&labels).inc();
        }
        answer
    }
}
