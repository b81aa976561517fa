//! Unauthenticated refusals (SPEC §5): every 401, 403 and 429, every 404 on a webhook path,
//! and every callback refused for its state (a forged or replayed one, 400), is counted in `milepost_http_refusals_total` by route pattern and cause (its error code), and
//! logged at most once a minute per route and cause, with how many there were since the last
//! line. Every unknown webhook path is one route, `/strava/webhook/…`, so a scan of made-up
//! secrets is one line a minute, not one per guess.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::error::ErrorCode;
use crate::metrics::RefusalLabels;

/// At most one log line this often per route and cause.
pub const LOG_EVERY: Duration = Duration::from_secs(60);
/// The route of every webhook path no route matched.
pub const UNKNOWN_WEBHOOK_PATH: &str = "/strava/webhook/…";

/// What a refusal counts as: its route and cause, or `None` for an answer that is none.
pub fn refusal(
    status: u16,
    pattern: Option<&str>,
    path: &str,
    code: Option<ErrorCode>,
) -> Option<(String, String)> {
    let webhook = path.starts_with("/strava/webhook") || path.starts_with("/v1/strava/webhook");
    let refused = matches!(status, 401 | 403 | 429)
        || (status == 404 && webhook)
        || (status == 400 && code == Some(ErrorCode::InvalidState));
    if !refused {
        return None;
    }
    let route = match pattern {
        Some(pattern) => pattern.to_owned(),
        None if webhook => UNKNOWN_WEBHOOK_PATH.to_owned(),
        None => super::metrics::UNMATCHED.to_owned(),
    };
    let cause = code
        .and_then(|c| serde_json::to_value(c).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| status.to_string());
    Some((route, cause))
}

/// When a route and cause was last logged, and how many refusals came since.
struct Window {
    logged_at: Instant,
    unlogged: u64,
}

/// Counts and logs refusals; shared by every worker.
pub struct Refusals {
    counted: Family<RefusalLabels, Counter>,
    /// One entry per route and cause: a set bounded by the route table and the error codes.
    windows: Mutex<HashMap<(String, String), Window>>,
}

impl Refusals {
    pub fn new(counted: Family<RefusalLabels, Counter>) -> Self {
        Self {
            counted,
            windows: Mutex::default(),
        }
    }

    /// Counts one refusal of `route` for `cause` (at `now`); logs it unless this route and
    /// cause was logged less than [`LOG_EVERY`] ago. True when it logged.
    pub fn refused(&self, route: String, cause: String, status: u16, now: Instant) -> bool {
        self.counted
            .get_or_create(&RefusalLabels {
                route: route.clone(),
                cause: cause.clone(),
            })
            .inc();
        let Ok(mut windows) = self.windows.lock() else {
            return false;
        };
        let key = (route, cause);
        let refused = match windows.get_mut(&key) {
            Some(w) if now.saturating_duration_since(w.logged_at) < LOG_EVERY => {
                w.unlogged += 1;
                return false;
            }
            Some(w) => {
                let refused = w.unlogged + 1;
                *w = Window {
                    logged_at: now,
                    unlogged: 0,
                };
                refused
            }
            None => {
                windows.insert(
                    key.clone(),
                    Window {
                        logged_at: now,
                        unlogged: 0,
                    },
                );
                1
            }
        };
        drop(windows);
        let (route, cause) = key;
        tracing::info!(
            route,
            cause,
            status,
            refused,
            "refused unauthenticated requests (logged at most once a minute per route and cause; \
             every one is counted in milepost_http_refusals_total)"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unauthenticated_refusals_count_and_unknown_webhook_paths_are_one_route() {
        let r = |status, pattern, path, code| refusal(status, pattern, path, code);
        assert_eq!(
            r(
                401,
                Some("/strava/refresh-data"),
                "/strava/refresh-data",
                Some(ErrorCode::InvalidApiKey)
            ),
            Some(("/strava/refresh-data".into(), "invalid_api_key".into()))
        );
        assert_eq!(
            r(404, None, "/strava/webhook/guess/more", None),
            Some((UNKNOWN_WEBHOOK_PATH.into(), "404".into()))
        );
        assert_eq!(
            r(404, None, "/v1/strava/webhook/other", None),
            Some((UNKNOWN_WEBHOOK_PATH.into(), "404".into()))
        );
        assert_eq!(r(404, None, "/strava/nothing", None), None);
        assert_eq!(r(200, Some("/strava/health"), "/strava/health", None), None);
        assert_eq!(
            r(422, Some("/strava/activities"), "/strava/activities", None),
            None
        );
        assert!(r(429, Some("/strava/authorize"), "/strava/authorize", None).is_some());
        assert_eq!(
            r(
                400,
                Some("/strava/callback"),
                "/strava/callback",
                Some(ErrorCode::InvalidState)
            ),
            Some(("/strava/callback".into(), "invalid_state".into()))
        );
        assert_eq!(
            r(
                400,
                Some("/strava/callback"),
                "/strava/callback",
                Some(ErrorCode::MissingScope)
            ),
            None
        );
    }

    #[test]
    fn one_line_a_minute_per_route_and_cause_and_every_refusal_counted() {
        let family = Family::<RefusalLabels, Counter>::default();
        let refusals = Refusals::new(family.clone());
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let key = || ("/a".to_owned(), "invalid_api_key".to_owned());
        let logged: Vec<bool> = [0, 1, 30, 59, 60, 61]
            .into_iter()
            .map(|s| refusals.refused(key().0, key().1, 401, at(s)))
            .collect();
        assert_eq!(logged, [true, false, false, false, true, false]);
        assert!(refusals.refused("/a".into(), "setup_required".into(), 403, at(61)));
        assert!(refusals.refused("/b".into(), "invalid_api_key".into(), 401, at(61)));
        let count = |route: &str, cause: &str| {
            family
                .get_or_create(&RefusalLabels {
                    route: route.into(),
                    cause: cause.into(),
                })
                .get()
        };
        assert_eq!(count("/a", "invalid_api_key"), 6);
        assert_eq!(count("/a", "setup_required"), 1);
    }
}
