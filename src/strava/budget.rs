//! The rate-limit budget: pure arithmetic over the four figures Strava sends with every API
//! response. It knows which window the last figures belong to, keeps a reserve for interactive
//! work, and after a 429 refuses everything until the window resets.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use reqwest::header::HeaderMap;

/// Share of each window that background work leaves untouched.
const BACKGROUND_RESERVE: f64 = 0.10;

/// Strava's documented defaults, assumed until the first response says otherwise.
const DEFAULT_LIMITS: Limits = Limits {
    overall: (200, 2000),
    read: (100, 1000),
};

/// `(15-minute, daily)` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub overall: (u32, u32),
    pub read: (u32, u32),
}

/// The four figures of one response; `None` where a header was absent or unreadable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub limit: Option<(u32, u32)>,
    pub usage: Option<(u32, u32)>,
    pub read_limit: Option<(u32, u32)>,
    pub read_usage: Option<(u32, u32)>,
}

impl RateHeaders {
    /// Reads the headers case-insensitively (`X-Ratelimit-Usage` and `X-RateLimit-Usage` alike).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let pair = |name: &str| {
            let value = headers.get(name)?.to_str().ok()?;
            let (a, b) = value.split_once(',')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        };
        Self {
            limit: pair("x-ratelimit-limit"),
            usage: pair("x-ratelimit-usage"),
            read_limit: pair("x-readratelimit-limit"),
            read_usage: pair("x-readratelimit-usage"),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Whether a request reads (GET) or writes; reads count against both limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Read,
    Write,
}

/// Who is asking: background work keeps out of the reserve, an operator's request may use it,
/// and webhook confirmations (which anyone can cause) keep out of the reserve and to half of
/// each 15-minute read window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Background,
    Interactive,
    Confirmation,
}

/// Share of each 15-minute read window that webhook confirmations may use at most.
const CONFIRMATION_SHARE: f64 = 0.5;

/// Which of Strava's four windows a limit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    QuarterHour,
    Daily,
}

/// The figures as they stand; kept in Postgres (as JSON) after every response.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Budget {
    limits: Limits,
    /// `(15-minute, daily)` usage as last known, counting our own requests since.
    usage: (u32, u32),
    read_usage: (u32, u32),
    observed_at: DateTime<Utc>,
    blocked_until: Option<DateTime<Utc>>,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            limits: DEFAULT_LIMITS,
            usage: (0, 0),
            read_usage: (0, 0),
            observed_at: DateTime::<Utc>::MIN_UTC,
            blocked_until: None,
        }
    }
}

/// Start of the quarter hour after `t`.
pub fn next_quarter_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    let start = t
        .with_minute(t.minute() - t.minute() % 15)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t);
    start + Duration::minutes(15)
}

/// Next midnight UTC after `t`.
pub fn next_utc_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), t.day(), 0, 0, 0)
        .single()
        .unwrap_or(t)
        + Duration::days(1)
}

impl Budget {
    /// When these figures were last brought up to date.
    pub fn observed_at(&self) -> DateTime<Utc> {
        self.observed_at
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Usage as it stands at `now`: figures from an earlier window no longer count.
    pub fn usage_at(&self, now: DateTime<Utc>) -> ((u32, u32), (u32, u32)) {
        let same_quarter = now < next_quarter_hour(self.observed_at);
        let same_day = now < next_utc_midnight(self.observed_at);
        let fold = |(q, d): (u32, u32)| {
            (
                if same_quarter && same_day { q } else { 0 },
                if same_day { d } else { 0 },
            )
        };
        (fold(self.usage), fold(self.read_usage))
    }

    /// Takes the figures of a response received at `now`. Never below what was counted here:
    /// with requests in flight, an earlier request's answer reports less than has been sent
    /// since (counted by [`spend`](Self::spend)), and taking it would let more through than
    /// the window holds.
    pub fn record(&mut self, headers: &RateHeaders, now: DateTime<Utc>) {
        let (usage, read_usage) = self.usage_at(now);
        let at_least = |said: Option<(u32, u32)>, counted: (u32, u32)| {
            said.map_or(counted, |s| (s.0.max(counted.0), s.1.max(counted.1)))
        };
        self.usage = at_least(headers.usage, usage);
        self.read_usage = at_least(headers.read_usage, read_usage);
        if let Some(limit) = headers.limit {
            self.limits.overall = limit;
        }
        if let Some(limit) = headers.read_limit {
            self.limits.read = limit;
        }
        self.observed_at = now;
    }

    /// Counts a request we are about to send, so back-to-back calls see it before the answer.
    pub fn spend(&mut self, kind: RequestKind, now: DateTime<Utc>) {
        let (usage, read_usage) = self.usage_at(now);
        self.usage = (usage.0.saturating_add(1), usage.1.saturating_add(1));
        self.read_usage = match kind {
            RequestKind::Read => (
                read_usage.0.saturating_add(1),
                read_usage.1.saturating_add(1),
            ),
            RequestKind::Write => read_usage,
        };
        self.observed_at = now;
    }

    /// Strava answered 429: nothing more until the window that refused us resets.
    pub fn record_rate_limited(&mut self, headers: &RateHeaders, now: DateTime<Utc>) {
        self.record(headers, now);
        let daily_spent =
            self.usage.1 >= self.limits.overall.1 || self.read_usage.1 >= self.limits.read.1;
        self.blocked_until = Some(if daily_spent {
            next_utc_midnight(now)
        } else {
            next_quarter_hour(now)
        });
    }

    /// `Ok` when a request of `kind` fits; otherwise the time at which it will.
    pub fn check(
        &self,
        kind: RequestKind,
        priority: Priority,
        now: DateTime<Utc>,
    ) -> Result<(), DateTime<Utc>> {
        if let Some(until) = self.blocked_until.filter(|until| now < *until) {
            return Err(until);
        }
        let (usage, read_usage) = self.usage_at(now);
        let mut windows = vec![(usage, self.limits.overall, false)];
        if kind == RequestKind::Read {
            windows.push((read_usage, self.limits.read, true));
        }
        let mut wait_until: Option<DateTime<Utc>> = None;
        for ((used_q, used_d), (limit_q, limit_d), read) in windows {
            if used_d >= allowance(limit_d, priority, Window::Daily, read) {
                wait_until = wait_until.max(Some(next_utc_midnight(now)));
            } else if used_q >= allowance(limit_q, priority, Window::QuarterHour, read) {
                wait_until = wait_until.max(Some(next_quarter_hour(now)));
            }
        }
        wait_until.map_or(Ok(()), Err)
    }
}

/// How much of a window (of reads when `read`) `priority` may use.
fn allowance(limit: u32, priority: Priority, window: Window, read: bool) -> u32 {
    let without_reserve = || {
        let reserve = (f64::from(limit) * BACKGROUND_RESERVE).ceil() as u32;
        limit.saturating_sub(reserve)
    };
    match priority {
        Priority::Interactive => limit,
        Priority::Background => without_reserve(),
        Priority::Confirmation if read && window == Window::QuarterHour => {
            let half = (f64::from(limit) * CONFIRMATION_SHARE).floor() as u32;
            half.min(without_reserve())
        }
        Priority::Confirmation => without_reserve(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 10, 18, h, m, s).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn headers_are_read_whatever_their_case() {
        let h = RateHeaders::from_headers(&headers(&[
            ("X-Ratelimit-Usage", "68,211"),
            ("X-RateLimit-Limit", "200,2000"),
            ("x-readratelimit-limit", "100,1000"),
            ("X-Readratelimit-Usage", "67, 210"),
        ]));
        assert_eq!(h.usage, Some((68, 211)));
        assert_eq!(h.limit, Some((200, 2000)));
        assert_eq!(h.read_limit, Some((100, 1000)));
        assert_eq!(h.read_usage, Some((67, 210)));
        assert!(RateHeaders::from_headers(&headers(&[("X-Ratelimit-Usage", "x,1")])).is_empty());
    }

    #[test]
    fn quarter_hours_and_days_roll_over_naturally() {
        assert_eq!(next_quarter_hour(at(10, 14, 59)), at(10, 15, 0));
        assert_eq!(next_quarter_hour(at(10, 15, 0)), at(10, 30, 0));
        assert_eq!(
            next_quarter_hour(at(23, 50, 0)),
            at(23, 59, 59) + Duration::seconds(1)
        );
        assert_eq!(
            next_utc_midnight(at(23, 50, 0)),
            at(0, 0, 0) + Duration::days(1)
        );
    }

    #[test]
    fn background_work_leaves_the_last_tenth_of_a_window() {
        let mut b = Budget::default();
        let read = |u: u32| RateHeaders {
            limit: Some((200, 2000)),
            usage: Some((u, u)),
            read_limit: Some((100, 1000)),
            read_usage: Some((u, u)),
        };
        b.record(&read(89), at(10, 1, 0));
        assert!(
            b.check(RequestKind::Read, Priority::Background, at(10, 2, 0))
                .is_ok()
        );
        b.record(&read(90), at(10, 1, 0));
        assert_eq!(
            b.check(RequestKind::Read, Priority::Background, at(10, 2, 0)),
            Err(at(10, 15, 0))
        );
        assert!(
            b.check(RequestKind::Read, Priority::Interactive, at(10, 2, 0))
                .is_ok()
        );
        assert!(
            b.check(RequestKind::Write, Priority::Background, at(10, 2, 0))
                .is_ok()
        );
        // the next quarter hour starts afresh
        assert!(
            b.check(RequestKind::Read, Priority::Background, at(10, 15, 0))
                .is_ok()
        );
    }

    fn usage(u: (u32, u32), r: (u32, u32)) -> RateHeaders {
        RateHeaders {
            limit: Some((200, 2000)),
            usage: Some(u),
            read_limit: Some((100, 1000)),
            read_usage: Some(r),
        }
    }

    #[test]
    fn confirmations_use_at_most_half_of_a_quarter_hour_of_reads() {
        let mut b = Budget::default();
        let check = |b: &Budget| b.check(RequestKind::Read, Priority::Confirmation, at(10, 2, 0));
        b.record(&usage((49, 49), (49, 49)), at(10, 1, 0));
        assert!(check(&b).is_ok());
        b.record(&usage((50, 50), (50, 50)), at(10, 1, 0));
        assert_eq!(check(&b), Err(at(10, 15, 0)));
        // background work still has the rest of the window
        assert!(
            b.check(RequestKind::Read, Priority::Background, at(10, 2, 0))
                .is_ok()
        );
        // the next quarter hour starts afresh
        assert!(
            b.check(RequestKind::Read, Priority::Confirmation, at(10, 15, 0))
                .is_ok()
        );
    }

    #[test]
    fn an_earlier_answer_never_lowers_what_was_counted_since() {
        let mut b = Budget::default();
        b.record(&usage((40, 40), (40, 40)), at(10, 1, 0));
        for _ in 0..10 {
            b.spend(RequestKind::Read, at(10, 1, 1));
        }
        // the answer to the first of those ten, sent at 41
        b.record(&usage((41, 41), (41, 41)), at(10, 1, 2));
        assert_eq!(b.usage_at(at(10, 1, 2)), ((50, 50), (50, 50)));
        // Strava counting more (another client of the app) is taken
        b.record(&usage((70, 70), (60, 60)), at(10, 1, 3));
        assert_eq!(b.usage_at(at(10, 1, 3)), ((70, 70), (60, 60)));
        // a new window starts from what Strava says
        b.record(&usage((1, 71), (1, 61)), at(10, 15, 1));
        assert_eq!(b.usage_at(at(10, 15, 1)), ((1, 71), (1, 61)));
    }

    #[test]
    fn confirmations_never_use_the_reserve_of_any_window() {
        // each case as Strava reported it to a budget that counted nothing itself
        let check = |overall, read| {
            let mut b = Budget::default();
            b.record(&usage(overall, read), at(10, 1, 0));
            b.check(RequestKind::Read, Priority::Confirmation, at(10, 2, 0))
        };
        // the overall quarter hour's reserve: 180 of 200 spent (writes), few reads
        assert_eq!(check((180, 180), (10, 10)), Err(at(10, 15, 0)));
        assert!(check((179, 179), (10, 10)).is_ok());
        // the daily reserves: reads, then everything
        assert_eq!(
            check((10, 500), (10, 900)),
            Err(at(0, 0, 0) + Duration::days(1))
        );
        assert_eq!(
            check((10, 1800), (10, 10)),
            Err(at(0, 0, 0) + Duration::days(1))
        );
        assert!(check((10, 1799), (10, 899)).is_ok());
        // a tiny read window: half of it, never more than what the reserve leaves
        assert_eq!(
            allowance(3, Priority::Confirmation, Window::QuarterHour, true),
            1
        );
        assert_eq!(
            allowance(1, Priority::Confirmation, Window::QuarterHour, true),
            0
        );
        assert_eq!(
            allowance(100, Priority::Confirmation, Window::QuarterHour, true),
            50
        );
        assert_eq!(
            allowance(1000, Priority::Confirmation, Window::Daily, true),
            900
        );
    }

    #[test]
    fn a_spent_daily_window_defers_to_midnight() {
        let mut b = Budget::default();
        b.record(
            &RateHeaders {
                read_usage: Some((3, 1000)),
                ..Default::default()
            },
            at(12, 0, 0),
        );
        assert_eq!(
            b.check(RequestKind::Read, Priority::Interactive, at(12, 1, 0)),
            Err(at(0, 0, 0) + Duration::days(1))
        );
    }

    #[test]
    fn after_a_429_nothing_is_sent_until_the_window_resets() {
        let mut b = Budget::default();
        b.record_rate_limited(&RateHeaders::default(), at(10, 7, 0));
        assert_eq!(
            b.check(RequestKind::Write, Priority::Interactive, at(10, 14, 59)),
            Err(at(10, 15, 0))
        );
        assert!(
            b.check(RequestKind::Read, Priority::Interactive, at(10, 15, 0))
                .is_ok()
        );
    }

    #[test]
    fn our_own_requests_count_before_strava_answers() {
        let mut b = Budget::default();
        b.record(
            &RateHeaders {
                read_limit: Some((3, 1000)),
                ..Default::default()
            },
            at(10, 0, 0),
        );
        for _ in 0..3 {
            assert!(
                b.check(RequestKind::Read, Priority::Interactive, at(10, 0, 1))
                    .is_ok()
            );
            b.spend(RequestKind::Read, at(10, 0, 1));
        }
        assert!(
            b.check(RequestKind::Read, Priority::Interactive, at(10, 0, 1))
                .is_err()
        );
    }
}
