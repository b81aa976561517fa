//! Everything the simulated Strava remembers, behind one lock: the athlete's activities, OAuth
//! codes and tokens (with their scopes and expiry), the push subscription and the rate-limit
//! counters; plus the controls tests turn (deny, scope override, faults) and request counters.
//! HTTP handlers call into [`Shared`]; nothing here knows about HTTP.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;

use super::clock::SimClock;
use super::config::{Fault, SimConfig};
use super::generator::{self, SimActivity, Visibility};
use super::ratelimit::{RateCounter, Usage};
use super::render::{self, AthleteProfile};
use super::stats;

/// Authorization codes live this long (sim time).
const CODE_TTL_SECS: i64 = 10 * 60;
/// Strava hands back the current access token on refresh while it has more than this left.
const REUSE_ACCESS_TOKEN_ABOVE_SECS: i64 = 3600;
/// Push subscription ids start here (real ones are six digits).
const FIRST_SUBSCRIPTION_ID: i64 = 274_913;

/// Scopes Strava knows; anything else in an authorize request is refused.
pub(crate) const KNOWN_SCOPES: &[&str] = &[
    "read",
    "read_all",
    "profile:read_all",
    "profile:write",
    "activity:read",
    "activity:read_all",
    "activity:write",
];

/// A comma-separated scope list as Strava reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scope(String);

impl Scope {
    pub(crate) fn new(list: &str) -> Scope {
        Scope(list.to_string())
    }

    pub(crate) fn has(&self, scope: &str) -> bool {
        self.0.split(',').any(|s| s.trim() == scope)
    }

    /// May list activities at all (`activity:read` or `activity:read_all`).
    pub(crate) fn can_read_activities(&self) -> bool {
        self.has("activity:read") || self.has("activity:read_all")
    }

    /// May see Only Me activities.
    pub(crate) fn can_read_private(&self) -> bool {
        self.has("activity:read_all")
    }
}

struct AuthCode {
    scope: Scope,
    expires_at: i64,
}

struct AccessGrant {
    athlete_id: i64,
    scope: Scope,
    expires_at: i64,
}

struct RefreshGrant {
    athlete_id: i64,
    scope: Scope,
    /// The newest access token minted with this refresh token.
    access_token: String,
}

/// A valid bearer token's identity.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) athlete_id: i64,
    pub(crate) scope: Scope,
}

/// The tokens a successful `/oauth/token` call hands out.
#[derive(Debug, Clone)]
pub(crate) struct IssuedTokens {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_at: i64,
    pub(crate) expires_in: i64,
}

/// The app's webhook subscription.
#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) id: i64,
    pub(crate) callback_url: String,
    pub(crate) created_at: DateTime<Utc>,
}

/// Filters and paging of `GET /athlete/activities`, already validated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListQuery {
    pub(crate) before: Option<i64>,
    pub(crate) after: Option<i64>,
    pub(crate) page: u64,
    pub(crate) per_page: u64,
}

struct State {
    activities: BTreeMap<i64, SimActivity>,
    codes: HashMap<String, AuthCode>,
    access_tokens: HashMap<String, AccessGrant>,
    refresh_tokens: HashMap<String, RefreshGrant>,
    subscription: Option<Subscription>,
    next_subscription_id: i64,
    rate: RateCounter,
}

/// The simulator's shared state, owned by an `Arc` that the server and [`super::Simulator`] hold.
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    pub(crate) clock: SimClock,
    pub(crate) athlete: AthleteProfile,
    state: Mutex<State>,
    counts: Mutex<BTreeMap<String, u64>>,
    token_refreshes: AtomicU64,
    deny: AtomicBool,
    granted_scope: Mutex<Option<String>>,
    fault: Mutex<Option<Fault>>,
    /// Every API call answers 403 Application/Status/Inactive (OAuth still works).
    app_inactive: AtomicBool,
    /// While the app is inactive, token refreshes get the same 403 too.
    refresh_inactive: AtomicBool,
    /// `POST /oauth/revoke` answers 404, as before Strava offered it.
    revoke_missing: AtomicBool,
    /// Revoke requests that killed a live grant.
    revocations: AtomicU64,
}

/// Locks ignoring poison: a panicking test thread must not take the simulator down with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A random 40-hex-digit token, the shape of Strava's.
fn random_token() -> String {
    let bytes: [u8; 20] = rand::thread_rng().r#gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Shared {
    /// Builds the state and generates the history up to the clock's now.
    pub(crate) fn new(config: SimConfig) -> Shared {
        let clock = SimClock::default();
        let history = generator::generate_history(config.seed, config.history_years, clock.now());
        let athlete = AthleteProfile {
            id: config.athlete_id,
        };
        Shared {
            athlete,
            clock,
            state: Mutex::new(State {
                activities: history.into_iter().map(|a| (a.id, a)).collect(),
                codes: HashMap::new(),
                access_tokens: HashMap::new(),
                refresh_tokens: HashMap::new(),
                subscription: None,
                next_subscription_id: FIRST_SUBSCRIPTION_ID,
                rate: RateCounter::default(),
            }),
            config,
            counts: Mutex::new(BTreeMap::new()),
            token_refreshes: AtomicU64::new(0),
            deny: AtomicBool::new(false),
            granted_scope: Mutex::new(None),
            fault: Mutex::new(None),
            app_inactive: AtomicBool::new(false),
            refresh_inactive: AtomicBool::new(false),
            revoke_missing: AtomicBool::new(false),
            revocations: AtomicU64::new(0),
        }
    }

    // ----- controls and counters ------------------------------------------------------------

    pub(crate) fn count(&self, endpoint: &str) {
        *lock(&self.counts).entry(endpoint.to_string()).or_insert(0) += 1;
    }

    pub(crate) fn request_count(&self, endpoint: &str) -> u64 {
        lock(&self.counts).get(endpoint).copied().unwrap_or(0)
    }

    pub(crate) fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.counts).clone()
    }

    pub(crate) fn token_refresh_count(&self) -> u64 {
        self.token_refreshes.load(Ordering::SeqCst)
    }

    pub(crate) fn revoke_count(&self) -> u64 {
        self.revocations.load(Ordering::SeqCst)
    }

    pub(crate) fn reset_counts(&self) {
        lock(&self.counts).clear();
        self.token_refreshes.store(0, Ordering::SeqCst);
        self.revocations.store(0, Ordering::SeqCst);
    }

    pub(crate) fn set_app_inactive(&self, inactive: bool) {
        self.app_inactive.store(inactive, Ordering::SeqCst);
    }

    pub(crate) fn app_inactive(&self) -> bool {
        self.app_inactive.load(Ordering::SeqCst)
    }

    pub(crate) fn set_refresh_inactive(&self, refused: bool) {
        self.refresh_inactive.store(refused, Ordering::SeqCst);
    }

    /// A token refresh answers the inactive app's 403 now.
    pub(crate) fn refresh_refused_as_inactive(&self) -> bool {
        self.app_inactive() && self.refresh_inactive.load(Ordering::SeqCst)
    }

    pub(crate) fn set_revoke_missing(&self, missing: bool) {
        self.revoke_missing.store(missing, Ordering::SeqCst);
    }

    pub(crate) fn revoke_missing(&self) -> bool {
        self.revoke_missing.load(Ordering::SeqCst)
    }

    pub(crate) fn set_deny(&self, deny: bool) {
        self.deny.store(deny, Ordering::SeqCst);
    }

    pub(crate) fn deny(&self) -> bool {
        self.deny.load(Ordering::SeqCst)
    }

    pub(crate) fn set_granted_scope(&self, scope: Option<String>) {
        *lock(&self.granted_scope) = scope;
    }

    pub(crate) fn granted_scope_override(&self) -> Option<String> {
        lock(&self.granted_scope).clone()
    }

    pub(crate) fn set_fault(&self, fault: Option<Fault>) {
        *lock(&self.fault) = fault;
    }

    pub(crate) fn fault(&self) -> Option<Fault> {
        lock(&self.fault).clone()
    }

    // ----- rate limits ----------------------------------------------------------------------

    /// Counts an API request against the limits; see [`RateCounter::record`].
    pub(crate) fn record_api_request(&self, is_read: bool) -> (Usage, bool) {
        let now = self.clock.now_epoch();
        lock(&self.state)
            .rate
            .record(now, is_read, &self.config.limits)
    }

    /// Counts a request that is never refused (deauthorization).
    pub(crate) fn record_unlimited_request(&self) -> Usage {
        let now = self.clock.now_epoch();
        lock(&self.state).rate.record_unlimited(now)
    }

    // ----- OAuth ----------------------------------------------------------------------------

    /// A fresh single-use authorization code for `scope`.
    pub(crate) fn issue_code(&self, scope: &str) -> String {
        let code = random_token();
        let expires_at = self.clock.now_epoch() + CODE_TTL_SECS;
        let mut state = lock(&self.state);
        let now = self.clock.now_epoch();
        state.codes.retain(|_, c| c.expires_at > now);
        state.codes.insert(
            code.clone(),
            AuthCode {
                scope: Scope::new(scope),
                expires_at,
            },
        );
        code
    }

    /// Redeems a code (once) for new tokens; `None` when unknown, used or expired.
    pub(crate) fn exchange_code(&self, code: &str) -> Option<IssuedTokens> {
        let now = self.clock.now_epoch();
        let mut state = lock(&self.state);
        let redeemed = state.codes.remove(code)?;
        if redeemed.expires_at <= now {
            return None;
        }
        let athlete_id = self.config.athlete_id;
        let access_token = random_token();
        let refresh_token = random_token();
        let expires_at = now + self.config.access_token_ttl_secs;
        state.access_tokens.insert(
            access_token.clone(),
            AccessGrant {
                athlete_id,
                scope: redeemed.scope.clone(),
                expires_at,
            },
        );
        state.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshGrant {
                athlete_id,
                scope: redeemed.scope,
                access_token: access_token.clone(),
            },
        );
        Some(IssuedTokens {
            access_token,
            refresh_token,
            expires_at,
            expires_in: expires_at - now,
        })
    }

    /// The refresh grant: the same access token while it has more than an hour left, else a new
    /// one; with rotation a new refresh token every time, the old one dead at once. `None` when
    /// the refresh token is unknown or was invalidated.
    pub(crate) fn refresh(&self, refresh_token: &str) -> Option<IssuedTokens> {
        let now = self.clock.now_epoch();
        let mut state = lock(&self.state);
        let grant = state.refresh_tokens.remove(refresh_token)?;

        let current = state
            .access_tokens
            .get(&grant.access_token)
            .filter(|a| a.expires_at - now > REUSE_ACCESS_TOKEN_ABOVE_SECS)
            .map(|a| a.expires_at);
        let (access_token, expires_at) = match current {
            Some(expires_at) => (grant.access_token.clone(), expires_at),
            None => {
                let token = random_token();
                let expires_at = now + self.config.access_token_ttl_secs;
                state.access_tokens.insert(
                    token.clone(),
                    AccessGrant {
                        athlete_id: grant.athlete_id,
                        scope: grant.scope.clone(),
                        expires_at,
                    },
                );
                (token, expires_at)
            }
        };
        let new_refresh = if self.config.rotate_refresh_tokens {
            random_token()
        } else {
            refresh_token.to_string()
        };
        state.refresh_tokens.insert(
            new_refresh.clone(),
            RefreshGrant {
                athlete_id: grant.athlete_id,
                scope: grant.scope,
                access_token: access_token.clone(),
            },
        );
        // Forget access tokens that expired long ago so a long soak does not grow the map.
        state
            .access_tokens
            .retain(|_, a| a.expires_at > now - 86_400);
        drop(state);
        self.token_refreshes.fetch_add(1, Ordering::SeqCst);
        Some(IssuedTokens {
            access_token,
            refresh_token: new_refresh,
            expires_at,
            expires_in: expires_at - now,
        })
    }

    /// The grant behind a bearer token, if it is known, not revoked and not expired.
    pub(crate) fn authenticate(&self, access_token: &str) -> Option<Grant> {
        let now = self.clock.now_epoch();
        let state = lock(&self.state);
        state
            .access_tokens
            .get(access_token)
            .filter(|a| a.expires_at > now)
            .map(|a| Grant {
                athlete_id: a.athlete_id,
                scope: a.scope.clone(),
            })
    }

    /// Revokes every token and code of the athlete owning `access_token`; false when that token
    /// is not valid.
    pub(crate) fn deauthorize(&self, access_token: &str) -> bool {
        match self.authenticate(access_token) {
            Some(grant) => {
                self.revoke_athlete(grant.athlete_id);
                true
            }
            None => false,
        }
    }

    /// `POST /oauth/revoke`: the athlete of `token` (an access or a refresh token, expired or
    /// not) loses every token. False when the token is unknown (Strava answers 200 all the same).
    pub(crate) fn revoke(&self, token: &str) -> bool {
        let athlete = {
            let state = lock(&self.state);
            state
                .access_tokens
                .get(token)
                .map(|a| a.athlete_id)
                .or_else(|| state.refresh_tokens.get(token).map(|r| r.athlete_id))
        };
        let Some(athlete) = athlete else {
            return false;
        };
        self.revoke_athlete(athlete);
        self.revocations.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Every token of `athlete_id` dies (the athlete revoked the app).
    pub(crate) fn revoke_athlete(&self, athlete_id: i64) {
        let mut state = lock(&self.state);
        state
            .access_tokens
            .retain(|_, a| a.athlete_id != athlete_id);
        state
            .refresh_tokens
            .retain(|_, r| r.athlete_id != athlete_id);
        state.codes.clear();
    }

    pub(crate) fn invalidate_refresh_tokens(&self) {
        lock(&self.state).refresh_tokens.clear();
    }

    // ----- activities -----------------------------------------------------------------------

    /// `GET /athlete/activities`: sorted (oldest first when `after` is given), filtered by
    /// `before`/`after`, sliced into the page, and only then stripped of Only Me activities
    /// unless the token may read them, which is what makes Strava's pages short.
    pub(crate) fn list_activities(
        &self,
        q: ListQuery,
        read_private: bool,
    ) -> Result<Vec<u8>, serde_json::Error> {
        let state = lock(&self.state);
        let mut selected: Vec<&SimActivity> = state
            .activities
            .values()
            .filter(|a| q.before.is_none_or(|b| a.start_date.timestamp() < b))
            .filter(|a| q.after.is_none_or(|t| a.start_date.timestamp() > t))
            .collect();
        selected.sort_by_key(|a| (a.start_date, a.id));
        if q.after.is_none() {
            selected.reverse();
        }
        let per_page = usize::try_from(q.per_page).unwrap_or(usize::MAX);
        let pages_before = usize::try_from(q.page.saturating_sub(1)).unwrap_or(usize::MAX);
        let (skip, take) = if self.config.short_pages.is_empty() {
            (pages_before.saturating_mul(per_page), per_page)
        } else {
            // Each page is cut to its configured length; the next page starts after the cut.
            let cut = |n: usize| {
                let limits = &self.config.short_pages;
                limits[n % limits.len()].min(per_page)
            };
            let cycle: usize = (0..self.config.short_pages.len()).map(cut).sum();
            let whole = pages_before / self.config.short_pages.len();
            let rest: usize = (0..pages_before % self.config.short_pages.len())
                .map(cut)
                .sum();
            (
                whole.saturating_mul(cycle).saturating_add(rest),
                cut(pages_before % self.config.short_pages.len()),
            )
        };
        let page = selected
            .into_iter()
            .skip(skip)
            .take(take)
            .filter(|a| read_private || a.visibility != Visibility::OnlyMe)
            .map(|a| render::with_raw_json(render::summary(a, self.config.athlete_id), a))
            .collect::<Result<Vec<Value>, _>>()?;
        serde_json::to_vec(&page)
    }

    /// `GET /activities/{id}` as a DetailedActivity; `None` when absent or hidden from the token.
    pub(crate) fn activity_detail(
        &self,
        id: i64,
        read_private: bool,
    ) -> Option<Result<Vec<u8>, serde_json::Error>> {
        let state = lock(&self.state);
        let a = state.activities.get(&id)?;
        if a.visibility == Visibility::OnlyMe && !read_private {
            return None;
        }
        Some(
            render::with_raw_json(render::detailed(a, self.config.athlete_id), a)
                .and_then(|v| serde_json::to_vec(&v)),
        )
    }

    /// ActivityStats at the sim's now.
    pub(crate) fn stats_json(&self) -> Value {
        let now = self.clock.now();
        let state = lock(&self.state);
        stats::compute(state.activities.values(), now).to_json()
    }

    /// All activities rendered as summaries, newest first.
    pub(crate) fn activities_json(&self) -> Vec<Value> {
        let state = lock(&self.state);
        let mut all: Vec<&SimActivity> = state.activities.values().collect();
        all.sort_by_key(|a| std::cmp::Reverse((a.start_date, a.id)));
        all.into_iter()
            .filter_map(|a| {
                render::with_raw_json(render::summary(a, self.config.athlete_id), a).ok()
            })
            .collect()
    }

    /// Adds (or, with an existing id, replaces) an activity; id 0 gets a fresh id above every
    /// existing one, as a new upload does. Returns the id.
    pub(crate) fn add_activity(&self, mut activity: SimActivity) -> i64 {
        let mut state = lock(&self.state);
        if activity.id == 0 {
            let newest = state.activities.keys().next_back().copied().unwrap_or(0);
            activity.id = generator::id_for(self.clock.now()).max(newest + 1);
        }
        if activity.upload_id.is_none() && !activity.manual {
            activity.upload_id = Some(generator::upload_id_for(activity.id));
        }
        let id = activity.id;
        state.activities.insert(id, activity);
        id
    }

    /// Applies `f` to the activity `id`, if present (re-keying it if `f` changed the id).
    pub(crate) fn update_activity(&self, id: i64, f: impl FnOnce(&mut SimActivity)) -> bool {
        let mut state = lock(&self.state);
        let Some(mut activity) = state.activities.remove(&id) else {
            return false;
        };
        f(&mut activity);
        state.activities.insert(activity.id, activity);
        true
    }

    pub(crate) fn delete_activity(&self, id: i64) -> bool {
        lock(&self.state).activities.remove(&id).is_some()
    }

    pub(crate) fn activity_count(&self) -> usize {
        lock(&self.state).activities.len()
    }

    /// A copy of one stored activity.
    pub(crate) fn activity(&self, id: i64) -> Option<SimActivity> {
        lock(&self.state).activities.get(&id).cloned()
    }

    // ----- push subscriptions ---------------------------------------------------------------

    pub(crate) fn subscription(&self) -> Option<Subscription> {
        lock(&self.state).subscription.clone()
    }

    /// Stores the app's one subscription; `None` if one exists already.
    pub(crate) fn create_subscription(&self, callback_url: &str) -> Option<Subscription> {
        let now = self.clock.now();
        let mut state = lock(&self.state);
        if state.subscription.is_some() {
            return None;
        }
        let sub = Subscription {
            id: state.next_subscription_id,
            callback_url: callback_url.to_string(),
            created_at: now,
        };
        state.next_subscription_id += 1;
        state.subscription = Some(sub.clone());
        Some(sub)
    }

    pub(crate) fn delete_subscription(&self, id: i64) -> bool {
        let mut state = lock(&self.state);
        match &state.subscription {
            Some(sub) if sub.id == id => {
                state.subscription = None;
                true
            }
            _ => false,
        }
    }
}
