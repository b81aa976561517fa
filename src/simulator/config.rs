//! What shapes a simulator instance: [`SimConfig`], its [`RateLimits`] and the [`Fault`] to
//! inject.

use std::time::Duration;

/// Everything that shapes a simulator instance. `Debug` leaves the client secret out.
#[derive(Clone)]
pub struct SimConfig {
    /// The app's client id (default `"12345"`).
    pub client_id: String,
    /// The app's client secret (default `"sim-client-secret"`). Never logged.
    pub client_secret: String,
    /// The simulated athlete's id (default 8675309).
    pub athlete_id: i64,
    /// Same seed and same day give the same history (default 42).
    pub seed: u64,
    /// History starts on Jan 1 of (current local year − `history_years`) (default 6).
    pub history_years: u32,
    /// Every refresh grant returns a new refresh token and kills the old one (default false).
    pub rotate_refresh_tokens: bool,
    /// Access-token lifetime in seconds (default 21600, Strava's six hours).
    pub access_token_ttl_secs: i64,
    /// Per-app rate limits (default Strava's 200/2000 overall, 100/1000 read).
    pub limits: RateLimits,
    /// Added to every request (default zero).
    pub latency: Duration,
    /// Added to the authorization-code grant of `/oauth/token` only (default zero): a slow
    /// code exchange beside token refreshes that answer at once.
    pub code_exchange_latency: Duration,
    /// When not empty, page n of the activity list holds at most `short_pages[(n - 1) % len]`
    /// items (and later pages continue after them): a server whose pages run short before the
    /// end of the list (default empty: pages are `per_page` long).
    pub short_pages: Vec<usize>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            client_id: "12345".into(),
            client_secret: "sim-client-secret".into(),
            athlete_id: 8_675_309,
            seed: 42,
            history_years: 6,
            rotate_refresh_tokens: false,
            access_token_ttl_secs: 21_600,
            limits: RateLimits::default(),
            latency: Duration::ZERO,
            code_exchange_latency: Duration::ZERO,
            short_pages: Vec::new(),
        }
    }
}

impl std::fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("athlete_id", &self.athlete_id)
            .field("seed", &self.seed)
            .field("history_years", &self.history_years)
            .field("rotate_refresh_tokens", &self.rotate_refresh_tokens)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("limits", &self.limits)
            .field("latency", &self.latency)
            .field("code_exchange_latency", &self.code_exchange_latency)
            .field("short_pages", &self.short_pages)
            .finish()
    }
}

/// Strava's per-application limits: overall (every request) and read (every GET), each per
/// quarter hour and per UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub overall_15min: u32,
    pub overall_daily: u32,
    pub read_15min: u32,
    pub read_daily: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            overall_15min: 200,
            overall_daily: 2000,
            read_15min: 100,
            read_daily: 1000,
        }
    }
}

/// A failure to inject into every `/api/v3` and `/oauth/token` response (see
/// [`Simulator::set_fault`]). Faulty requests are counted like any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 500 with `{"message":"error"}`.
    ServerError,
    /// 200 with the real body cut in half, so it never parses.
    Malformed,
    /// 429 with Strava's rate-limit fault on every request.
    RateLimited,
    /// Answers normally after this extra delay (long enough to trip a client timeout).
    Latency(Duration),
    /// Answers as it would at once, but sends it after this delay: an answer on its way while
    /// things change at Strava.
    HeldAnswer(Duration),
}
