//! Every figure milepost exports, and their labels. `/metrics` renders the registry in
//! Prometheus text format; [`crate::actors::Mailbox`] feeds the per-message figures.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

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
pub struct EventLabels {
    /// What handling the event came to: `ignored`, `changed`, `unconfirmed`, `deauthorized`,
    /// `deferred` or `failed`.
    pub outcome: &'static str,
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
            webhook_events,
            retention_sweeps,
            retention_purged,
            strava_app_inactive,
            health_checks,
            leader,
            leader_since,
            generation,
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

    /// The figures of one message type of one actor.
    pub fn actor_message<'a>(&'a self, labels: &'a MessageLabels) -> MessageFigures<'a> {
        MessageFigures {
            metrics: self,
            labels,
            in_flight: self.messages_in_flight.get_or_create(labels).clone(),
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

/// One message type's figures, looked up once per message by [`crate::actors::Mailbox`].
pub struct MessageFigures<'a> {
    metrics: &'a Metrics,
    labels: &'a MessageLabels,
    in_flight: Gauge,
}

impl MessageFigures<'_> {
    /// The message was sent.
    pub fn started(&self) {
        self.in_flight.inc();
        self.metrics
            .note_actor(self.labels.actor, |a| a.in_flight += 1);
    }

    /// Its answer came (or never will: `failed`) after `took`.
    pub fn finished(&self, took: Duration, failed: bool) {
        self.in_flight.dec();
        self.metrics.note_actor(self.labels.actor, |a| {
            a.in_flight -= 1;
            a.handled += 1;
            a.errors += u64::from(failed);
            a.last_handled_at = Some(crate::stats::timestamp(chrono::Utc::now()));
        });
        self.metrics
            .message_seconds
            .get_or_create(self.labels)
            .observe(took.as_secs_f64());
        self.metrics
            .messages_handled
            .get_or_create(self.labels)
            .inc();
        if failed {
            self.metrics.message_errors.get_or_create(self.labels).inc();
        }
    }
}
