//! The Strava simulator: a faithful, deterministic stand-in for Strava API v3 and its OAuth
//! endpoints, used by tests, `milepost demo` and `milepost sim` (SPEC §8, STRAVA.md).
//!
//! It owns one simulated athlete with a seeded multi-year activity history ([`generator`]), the
//! OAuth codes and tokens handed out for that athlete, the app's push subscription, per-app rate
//! limits with real quarter-hour and UTC-day windows, a clock that tests can move forward, and
//! fault injection. Its JSON matches the recorded responses in `tests/fixtures/strava/` key for key.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use milepost::simulator::{SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap()).await?;
//! println!("API at {}, OAuth at {}", sim.api_base_url(), sim.oauth_base_url());
//! sim.stop().await;
//! # Ok(()) }
//! ```
//!
//! Layout: [`clock`] (sim time), [`generator`] (athlete history), [`ratelimit`] (windows and
//! headers), [`render`] (wire shapes), [`stats`] (ActivityStats), [`state`] (what the simulated
//! Strava remembers), [`routes`] (HTTP handlers). The calls Strava makes out (callback
//! validation, event delivery) go through [`callback`]; what shapes an instance is [`config`].
//! [`export`] writes the athlete as a Strava account export (`milepost sim export`).

mod callback;
mod clock;
mod config;
mod export;
mod generator;
mod ratelimit;
mod render;
mod routes;
mod state;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::{Seek, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use url::Url;

pub use config::{Fault, RateLimits, SimConfig};
pub use export::{
    ACTIVITIES_CSV_HEADER, ExportOptions, ExportSummary, display_name, write_export,
    write_export_file,
};
pub use generator::{SimActivity, Visibility, legacy_type};

use state::Shared;

/// How long a graceful stop waits for requests in flight.
const SHUTDOWN_TIMEOUT_SECS: u64 = 2;

/// A running simulator. Dropping it leaves the server running until its runtime ends; call
/// [`Simulator::stop`] to stop it and free the port.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    handle: ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Simulator {
    /// Generates the history, binds `addr` (port 0 picks a free port) and serves in the
    /// background; returns once the socket is listening. Works inside `#[actix_web::test]`,
    /// `#[actix_web::main]` and plain tokio runtimes.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> std::io::Result<Simulator> {
        let shared = Arc::new(Shared::new(config));
        let listener = std::net::TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(routes::configure)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let server = tokio::spawn(server);
        tracing::debug!(%addr, "Strava simulator listening");
        Ok(Simulator {
            shared,
            addr,
            handle,
            server,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (the bound IP, so `[::1]` for IPv6).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the API lives: base + `/api/v3` (for `STRAVA_API_BASE_URL`).
    pub fn api_base_url(&self) -> String {
        format!("{}/api/v3", self.base_url())
    }

    /// Where OAuth lives: base + `/oauth` (for `STRAVA_OAUTH_BASE_URL`).
    pub fn oauth_base_url(&self) -> String {
        format!("{}/oauth", self.base_url())
    }

    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Requests answered for an endpoint key such as `"GET /athlete/activities"`,
    /// `"GET /activities/{id}"` or `"POST /oauth/token"`; unrouted ones count as
    /// `"GET (unmatched)"` and so on.
    pub fn request_count(&self, endpoint: &str) -> u64 {
        self.shared.request_count(endpoint)
    }

    /// Every endpoint key seen so far with its count.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.request_counts()
    }

    /// Refresh-token grants answered with 200.
    pub fn token_refresh_count(&self) -> u64 {
        self.shared.token_refresh_count()
    }

    /// Revoke requests (`POST /oauth/revoke`) that came with the app's credentials and killed a
    /// live grant.
    pub fn revoke_count(&self) -> u64 {
        self.shared.revoke_count()
    }

    /// Zeroes the request, refresh and revoke counters (rate-limit usage follows its own windows).
    pub fn reset_counts(&self) {
        self.shared.reset_counts();
    }

    /// While true, authorize redirects back with `error=access_denied`.
    pub fn set_deny(&self, deny: bool) {
        self.shared.set_deny(deny);
    }

    /// Overrides the scope the athlete grants (e.g. `Some("read".into())` for an athlete who
    /// unticked the activity boxes); `None` grants what was requested.
    pub fn set_granted_scope(&self, scope: Option<String>) {
        self.shared.set_granted_scope(scope);
    }

    /// Injects a fault into every `/api/v3` and `/oauth/token` response until cleared with `None`.
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.shared.set_fault(fault);
    }

    /// While true the app is *Inactive* (STRAVA.md, the 2026 developer program): every `/api/v3`
    /// call answers 403 `{"message":"Forbidden","errors":[{"resource":"Application","field":"Status","code":"Inactive"}]}`,
    /// counted and rate-limited like any other; the OAuth endpoints answer as usual.
    pub fn set_app_inactive(&self, inactive: bool) {
        self.shared.set_app_inactive(inactive);
    }

    /// While true, and the app is inactive ([`set_app_inactive`](Self::set_app_inactive)), a
    /// token refresh (`POST /oauth/token` with `grant_type=refresh_token`) answers the same 403
    /// Application/Status/Inactive fault as the API: STRAVA.md says a refresh *may* still
    /// succeed for an inactive app, so milepost must read either answer.
    pub fn set_token_refresh_inactive(&self, refused: bool) {
        self.shared.set_refresh_inactive(refused);
    }

    /// While true `POST /oauth/revoke` answers 404, as Strava did before it offered revoke.
    pub fn set_revoke_missing(&self, missing: bool) {
        self.shared.set_revoke_missing(missing);
    }

    /// The simulator's clock as milepost's [`crate::clock::Clock`], to share simulated time
    /// with the app under test.
    pub fn clock(&self) -> crate::clock::Clock {
        let shared = self.shared.clone();
        crate::clock::Clock::from_fn(move || shared.clock.now())
    }

    /// Moves simulated time forward: token and code expiry, rate-limit windows, stats and the
    /// timestamps the simulator writes all follow.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// The simulated current instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    /// Every refresh token stops working at once (the next refresh gets 400 RefreshToken invalid);
    /// access tokens live on until they expire.
    pub fn invalidate_refresh_tokens(&self) {
        self.shared.invalidate_refresh_tokens();
    }

    /// The athlete revokes the app in Strava's settings: every token dies, as after
    /// `POST /oauth/deauthorize`. Pair with [`Simulator::deliver_event`] of
    /// [`Simulator::deauthorization_event`] to reproduce what Strava does.
    pub fn revoke_access(&self) {
        self.shared.revoke_athlete(self.shared.config.athlete_id);
    }

    /// The whole history as the API renders it (SummaryActivity, every visibility), newest first.
    pub fn activities(&self) -> Vec<serde_json::Value> {
        self.shared.activities_json()
    }

    /// Writes the history as it stands now (with any activity tests added, changed or deleted)
    /// as a Strava account export ZIP: see [`write_export`].
    pub fn write_export<W: Write + Seek>(
        &self,
        out: W,
        options: &ExportOptions,
    ) -> std::io::Result<ExportSummary> {
        let activities: Vec<SimActivity> = self
            .activities()
            .iter()
            .filter_map(|json| json["id"].as_i64())
            .filter_map(|id| self.activity(id))
            .collect();
        write_export(&activities, out, options)
    }

    /// One stored activity.
    pub fn activity(&self, id: i64) -> Option<SimActivity> {
        self.shared.activity(id)
    }

    /// Adds an activity as if just uploaded (id 0 gets a fresh id above all others; an existing
    /// id is replaced) and returns its id.
    pub fn add_activity(&self, activity: SimActivity) -> i64 {
        self.shared.add_activity(activity)
    }

    /// Edits an activity in place (e.g. rename it or make it private); no-op if absent.
    pub fn update_activity(&self, id: i64, f: impl FnOnce(&mut SimActivity)) {
        self.shared.update_activity(id, f);
    }

    /// Deletes an activity; false if it did not exist.
    pub fn delete_activity(&self, id: i64) -> bool {
        self.shared.delete_activity(id)
    }

    /// The id of the app's push subscription, if one was created.
    pub fn subscription_id(&self) -> Option<i64> {
        self.shared.subscription().map(|s| s.id)
    }

    /// An activity event as Strava sends it (`aspect_type` `create`, `update` or `delete`),
    /// addressed with this athlete and subscription and stamped with the sim clock.
    pub fn activity_event(
        &self,
        aspect_type: &str,
        activity_id: i64,
        updates: serde_json::Value,
    ) -> serde_json::Value {
        self.event("activity", activity_id, aspect_type, updates)
    }

    /// The event Strava sends when the athlete revokes the app.
    pub fn deauthorization_event(&self) -> serde_json::Value {
        self.event(
            "athlete",
            self.shared.config.athlete_id,
            "update",
            serde_json::json!({ "authorized": "false" }),
        )
    }

    fn event(
        &self,
        object_type: &str,
        object_id: i64,
        aspect_type: &str,
        updates: serde_json::Value,
    ) -> serde_json::Value {
        serde_json::json!({
            "aspect_type": aspect_type,
            "event_time": self.now().timestamp(),
            "object_id": object_id,
            "object_type": object_type,
            "owner_id": self.shared.config.athlete_id,
            "subscription_id": self.subscription_id().unwrap_or(0),
            "updates": updates,
        })
    }

    /// POSTs `event` as JSON to the subscribed callback URL and returns the HTTP status it
    /// answered. Fails when there is no subscription or the callback cannot be reached in time.
    pub async fn deliver_event(&self, event: serde_json::Value) -> anyhow::Result<u16> {
        let sub = self
            .shared
            .subscription()
            .context("no push subscription: create one with POST /push_subscriptions first")?;
        let url = Url::parse(&sub.callback_url).context("stored callback URL does not parse")?;
        let body = serde_json::to_vec(&event)?;
        let response = callback::callback_client()?
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .context("delivering a webhook event")?;
        Ok(response.status().as_u16())
    }

    /// Stops accepting, lets requests in flight finish (briefly) and frees the port.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        if let Err(e) = self.server.await {
            tracing::warn!(error = %e, "Strava simulator server task ended abnormally");
        }
    }
}

/// The history a simulator started at `now` with `config` serves: the same seed, years and
/// instant give the same activities, ids included.
pub fn history(config: &SimConfig, now: DateTime<Utc>) -> Vec<SimActivity> {
    generator::generate_history(config.seed, config.history_years, now)
}

/// `milepost sim export`: writes the athlete of a simulator started now with `config` to `out`
/// and says what it wrote.
pub fn run_export(
    config: &SimConfig,
    out: &std::path::Path,
    options: &ExportOptions,
) -> anyhow::Result<String> {
    let now = Utc::now();
    let activities = history(config, now);
    let summary = write_export_file(out, &activities, options)?;
    Ok(format!(
        "wrote {}: {} activities ({}), {} activity files; athlete {}, seed {}, as of {}",
        out.display(),
        summary.activities,
        if options.public_only {
            "public only"
        } else {
            "every visibility"
        },
        summary.files,
        config.athlete_id,
        config.seed,
        now.format("%Y-%m-%dT%H:%M:%SZ"),
    ))
}

/// `milepost sim`: runs a simulator on `addr`, logs where it is, and stops on Ctrl-C.
pub async fn run(config: SimConfig, addr: SocketAddr) -> std::io::Result<()> {
    let sim = Simulator::start(config, addr).await?;
    tracing::info!(
        api = %sim.api_base_url(),
        oauth = %sim.oauth_base_url(),
        client_id = %sim.config().client_id,
        athlete_id = sim.config().athlete_id,
        activities = sim.shared.activity_count(),
        "Strava simulator running; Ctrl-C stops it"
    );
    let signal = tokio::signal::ctrl_c().await;
    sim.stop().await;
    tracing::info!("Strava simulator stopped");
    signal
}
