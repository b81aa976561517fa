//! Every figure milepost exports, and their labels. `/metrics` renders the registry in
//! Prometheus text format; [`crate::actors::Mailbox`] feeds the per-message figures.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

pub use sharded::{HotCounter, HotGauge};
use sharded::{Padded, SHARDS, shard};

mod sharded;

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

/// An unauthenticated refusal: the route pattern (`/strava/webhook/…` for every unknown webhook
/// path) and the refusal's error code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    pub route: String,
    pub cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// What handling the event came to: `ignored`, `changed`, `unconfirmed`, `deauthorized`,
    /// `deferred`, `retried` (kept for another try) or `failed`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    pub result: &'static str,
}

fn handling_time() -> TimeHistogram {
    TimeHistogram::new(exponential_buckets(0.000_05, 4.0, 12))
}

/// A histogram of durations whose observations take no lock (prometheus-client's
/// [`Histogram`] takes a write lock per observation, and every actor message is observed), and
/// share no cache line between threads: each thread counts in its own shard.
#[derive(Debug, Clone)]
pub struct TimeHistogram(std::sync::Arc<TimeBuckets>);

/// Buckets a [`TimeHistogram`] can have, `+Inf` included.
const MAX_BUCKETS: usize = 16;

#[derive(Debug)]
struct TimeBuckets {
    /// Upper bounds in seconds, the last `f64::MAX` (+Inf).
    bounds: Vec<f64>,
    shards: [Padded<TimeShard>; SHARDS],
}

/// One thread's observations.
#[derive(Debug, Default)]
struct TimeShard {
    /// Observations per bucket (each in the first bucket that holds it).
    counts: [AtomicU64; MAX_BUCKETS],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl TimeHistogram {
    /// A histogram with these upper bounds (at most `MAX_BUCKETS - 1`; more are dropped).
    pub fn new(bounds: impl Iterator<Item = f64>) -> Self {
        let bounds: Vec<f64> = bounds
            .take(MAX_BUCKETS - 1)
            .chain(std::iter::once(f64::MAX))
            .collect();
        Self(std::sync::Arc::new(TimeBuckets {
            bounds,
            shards: Default::default(),
        }))
    }

    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let b = &self.0;
        let i = b
            .bounds
            .iter()
            .position(|&upper| secs <= upper)
            .unwrap_or(b.bounds.len() - 1);
        let shard = &b.shards[shard()].0;
        shard.counts[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        shard.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        shard.count.fetch_add(1, Ordering::Relaxed);
    }
}

impl TypedMetric for TimeHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for TimeHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let b = &self.0;
        let total = |f: &dyn Fn(&TimeShard) -> &AtomicU64| -> u64 {
            b.shards
                .iter()
                .map(|s| f(&s.0).load(Ordering::Relaxed))
                .sum()
        };
        let buckets: Vec<(f64, u64)> = b
            .bounds
            .iter()
            .enumerate()
            .map(|(i, &upper)| (upper, total(&|s| &s.counts[i])))
            .collect();
        let sum = total(&|s| &s.sum_nanos) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, total(&|s| &s.count), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// One actor's running totals, for the admin view: one shard per thread, summed when read.
#[derive(Debug, Default)]
struct ActorTotals([Padded<ActorShard>; SHARDS]);

#[derive(Debug, Default)]
struct ActorShard {
    handled: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicI64,
    /// Unix milliseconds; 0 before the first message.
    last_handled_ms: AtomicI64,
}

impl ActorTotals {
    fn mine(&self) -> &ActorShard {
        &self.0[shard()].0
    }

    fn summary(&self) -> ActorSummary {
        let shards = || self.0.iter().map(|s| &s.0);
        let last = shards()
            .map(|s| s.last_handled_ms.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        ActorSummary {
            handled: shards().map(|s| s.handled.load(Ordering::Relaxed)).sum(),
            errors: shards().map(|s| s.errors.load(Ordering::Relaxed)).sum(),
            in_flight: shards().map(|s| s.in_flight.load(Ordering::Relaxed)).sum(),
            last_handled_at: (last > 0)
                .then(|| chrono::DateTime::from_timestamp_millis(last))
                .flatten()
                .map(crate::stats::timestamp),
        }
    }
}

/// Every figure milepost exports.
pub struct Metrics {
    registry: Registry,
    pub messages_handled: Family<MessageLabels, HotCounter>,
    pub message_errors: Family<MessageLabels, HotCounter>,
    pub messages_in_flight: Family<MessageLabels, HotGauge>,
    pub message_seconds: Family<MessageLabels, TimeHistogram, fn() -> TimeHistogram>,
    pub strava_requests: Family<StravaLabels, Counter>,
    pub cache_lookups: Family<CacheLabels, HotCounter>,
    pub cache_entries: Gauge,
    pub token_refreshes: Counter,
    pub token_refresh_failures: Counter,
    pub activities_stored: Gauge,
    pub last_sync_success: Gauge,
    pub http_requests: Family<HttpLabels, HotCounter>,
    /// Unauthenticated refusals (401, 403, 404 on webhook paths, 429) by route and cause.
    pub http_refusals: Family<RefusalLabels, Counter>,
    pub budget_usage: Family<BudgetLabels, Gauge>,
    pub budget_limit: Family<BudgetLabels, Gauge>,
    pub sync_seconds: Histogram,
    pub webhook_events: Family<EventLabels, Counter>,
    pub retention_sweeps: Counter,
    pub retention_purged: Counter,
    /// 1 while Strava says the application is inactive.
    pub strava_app_inactive: Gauge,
    /// Health checks that asked Postgres (at most one a second, however many ask).
    pub health_checks: Counter,
    /// 1 while this replica is the leader.
    pub leader: Gauge,
    /// When this replica took the lead (Unix seconds; 0 while it follows).
    pub leader_since: Gauge,
    /// The generation of the data this replica serves (every replica's agrees within a second).
    pub generation: Gauge,
    /// Per actor, for the admin view (the registry cannot be read back).
    actors: RwLock<BTreeMap<&'static str, Arc<ActorTotals>>>,
    /// Each message type's figures, resolved once (see [`Metrics::actor_message`]).
    messages: RwLock<HashMap<MessageLabels, Arc<MessageFigures>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("milepost");
        let messages_handled = Family::<MessageLabels, HotCounter>::default();
        let message_errors = Family::<MessageLabels, HotCounter>::default();
        let messages_in_flight = Family::<MessageLabels, HotGauge>::default();
        let message_seconds =
            Family::<MessageLabels, TimeHistogram, fn() -> TimeHistogram>::new_with_constructor(
                handling_time,
            );
        let strava_requests = Family::<StravaLabels, Counter>::default();
        let cache_lookups = Family::<CacheLabels, HotCounter>::default();
        let cache_entries = Gauge::default();
        let token_refreshes = Counter::default();
        let token_refresh_failures = Counter::default();
        let activities_stored = Gauge::default();
        let last_sync_success = Gauge::default();
        let http_requests = Family::<HttpLabels, HotCounter>::default();
        let http_refusals = Family::<RefusalLabels, Counter>::default();
        let budget_usage = Family::<BudgetLabels, Gauge>::default();
        let budget_limit = Family::<BudgetLabels, Gauge>::default();
        let sync_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        let webhook_events = Family::<EventLabels, Counter>::default();
        let retention_sweeps = Counter::default();
        let retention_purged = Counter::default();
        let strava_app_inactive = Gauge::default();
        let health_checks = Counter::default();
        let leader = Gauge::default();
        let leader_since = Gauge::default();
        let generation = Gauge::default();
        registry.register(
            "leader_since_seconds",
            "When this replica took the lead, in Unix seconds (0 while it follows)",
            leader_since.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica is the leader (runs the timers, makes every Strava call)",
            leader.clone(),
        );
        registry.register(
            "generation",
            "The generation of the data this replica serves",
            generation.clone(),
        );
        registry.register(
            "strava_app_inactive",
            "1 while Strava answers that the application is inactive",
            strava_app_inactive.clone(),
        );
        registry.register(
            "health_checks",
            "Health checks that asked Postgres",
            health_checks.clone(),
        );
        registry.register(
            "retention_sweeps",
            "Retention sweeps completed",
            retention_sweeps.clone(),
        );
        registry.register(
            "retention_purged",
            "Stored Strava records purged for not being confirmed within RETENTION_DAYS",
            retention_purged.clone(),
        );
        registry.register(
            "webhook_events",
            "Webhook events handled, by what they came to",
            webhook_events.clone(),
        );
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
        registry.register(
            "http_refusals",
            "Unauthenticated refusals (401, 403, 404 on webhook paths, 429) by route pattern and cause",
            http_refusals.clone(),
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
            http_refusals,
            budget_usage,
            budget_limit,
            sync_seconds,
            webhook_events,
            retention_sweeps,
            retention_purged,
            strava_app_inactive,
            health_checks,
            leader,
            leader_since,
            generation,
            actors: Default::default(),
            messages: Default::default(),
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
    pub fn actor_summaries(&self) -> BTreeMap<&'static str, ActorSummary> {
        let actors = self.actors.read().map(|a| a.clone()).unwrap_or_default();
        actors
            .into_iter()
            .map(|(actor, totals)| (actor, totals.summary()))
            .collect()
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

    /// The figures of messages `M` to actor `A`, resolved once per thread (`labels` is only
    /// read then): a message then costs a few atomic operations on this thread's shards, with
    /// no lock and no label lookup.
    pub fn actor_message<A: 'static, M: 'static>(
        &self,
        labels: impl FnOnce() -> MessageLabels,
    ) -> Arc<MessageFigures> {
        type Key = (usize, std::any::TypeId, std::any::TypeId);
        thread_local! {
            static RESOLVED: std::cell::RefCell<HashMap<Key, Arc<MessageFigures>>> =
                std::cell::RefCell::default();
        }
        let key = (
            std::ptr::from_ref(self) as usize,
            std::any::TypeId::of::<A>(),
            std::any::TypeId::of::<M>(),
        );
        if let Some(found) = RESOLVED.with_borrow(|r| r.get(&key).cloned()) {
            return found;
        }
        let figures = self.resolve(&labels());
        RESOLVED.with_borrow_mut(|r| r.insert(key, figures.clone()));
        figures
    }

    fn resolve(&self, labels: &MessageLabels) -> Arc<MessageFigures> {
        if let Some(found) = self
            .messages
            .read()
            .ok()
            .and_then(|m| m.get(labels).cloned())
        {
            return found;
        }
        let actor = match self.actors.write() {
            Ok(mut actors) => actors.entry(labels.actor).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let figures = Arc::new(MessageFigures {
            in_flight: self.messages_in_flight.get_or_create(labels).clone(),
            handled: self.messages_handled.get_or_create(labels).clone(),
            errors: self.message_errors.get_or_create(labels).clone(),
            seconds: self.message_seconds.get_or_create(labels).clone(),
            actor,
        });
        match self.messages.write() {
            Ok(mut messages) => messages.entry(labels.clone()).or_insert(figures).clone(),
            Err(_) => figures,
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

/// One message type's figures, resolved once by [`Metrics::actor_message`].
#[derive(Debug)]
pub struct MessageFigures {
    in_flight: HotGauge,
    handled: HotCounter,
    errors: HotCounter,
    seconds: TimeHistogram,
    actor: Arc<ActorTotals>,
}

impl MessageFigures {
    /// The message was sent.
    pub fn started(&self) {
        self.in_flight.inc();
        self.actor.mine().in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// Its answer came (or never will: `failed`) now; it was sent at `sent`.
    pub fn finished(&self, sent: Instant, failed: bool) {
        let now = Instant::now();
        self.in_flight.dec();
        self.seconds.observe(now.saturating_duration_since(sent));
        self.handled.inc();
        let actor = self.actor.mine();
        actor.in_flight.fetch_sub(1, Ordering::Relaxed);
        actor.handled.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.inc();
            actor.errors.fetch_add(1, Ordering::Relaxed);
        }
        actor
            .last_handled_ms
            .store(unix_millis(now), Ordering::Relaxed);
    }
}

/// `at` in Unix milliseconds, from the wall clock read once for the process: the admin view's
/// "last handled" needs no second clock read per message.
fn unix_millis(at: Instant) -> i64 {
    static ANCHOR: std::sync::OnceLock<(Instant, i64)> = std::sync::OnceLock::new();
    let (anchor, wall) =
        *ANCHOR.get_or_init(|| (Instant::now(), chrono::Utc::now().timestamp_millis()));
    let since = at.saturating_duration_since(anchor).as_millis();
    wall.saturating_add(i64::try_from(since).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_figures_from_several_threads_add_up_in_the_text_and_the_admin_view() {
        let metrics = Metrics::default();
        let labels = || MessageLabels {
            actor: "Actor",
            message: "Message",
        };
        std::thread::scope(|s| {
            for failed in [false, true, false] {
                let metrics = &metrics;
                s.spawn(move || {
                    let figures = metrics.actor_message::<u8, u16>(labels);
                    figures.started();
                    figures.finished(Instant::now(), failed);
                });
            }
        });
        let text = metrics.render();
        let handled = r#"milepost_actor_messages_handled_total{actor="Actor",message="Message"} 3"#;
        assert!(text.contains(handled), "{text}");
        let errors = r#"milepost_actor_message_errors_total{actor="Actor",message="Message"} 1"#;
        assert!(text.contains(errors), "{text}");
        let count =
            r#"milepost_actor_message_duration_seconds_count{actor="Actor",message="Message"} 3"#;
        assert!(text.contains(count), "{text}");
        let summary = &metrics.actor_summaries()["Actor"];
        assert_eq!(
            (summary.handled, summary.errors, summary.in_flight),
            (3, 1, 0)
        );
        assert!(summary.last_handled_at.is_some());
    }

    #[test]
    fn handled_times_follow_the_wall_clock() {
        let now = chrono::Utc::now().timestamp_millis();
        let at = unix_millis(Instant::now());
        assert!((at - now).abs() < 1_000, "{at} against {now}");
    }
}
