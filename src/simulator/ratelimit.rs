//! Strava's per-application rate limits: an overall and a read (GET) counter, each over a
//! natural quarter-hour window (:00, :15, :30, :45 UTC) and a UTC day, fed by the sim clock.
//! Pure arithmetic; the caller holds the lock and the clock.

use super::config::RateLimits;

const QUARTER_HOUR_SECS: i64 = 15 * 60;
const DAY_SECS: i64 = 24 * 3600;

/// The usage figures a response reports, as `X-Ratelimit-Usage` / `X-Readratelimit-Usage` show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) overall_15min: u32,
    pub(crate) overall_daily: u32,
    pub(crate) read_15min: u32,
    pub(crate) read_daily: u32,
}

/// The four counters and the windows they belong to.
#[derive(Debug, Default)]
pub(crate) struct RateCounter {
    quarter: i64,
    day: i64,
    usage: Usage,
}

impl RateCounter {
    /// Starts new windows when `now` (epoch seconds) has left the stored ones.
    fn roll(&mut self, now: i64) {
        let quarter = now.div_euclid(QUARTER_HOUR_SECS);
        let day = now.div_euclid(DAY_SECS);
        if quarter != self.quarter {
            self.quarter = quarter;
            self.usage.overall_15min = 0;
            self.usage.read_15min = 0;
        }
        if day != self.day {
            self.day = day;
            self.usage.overall_daily = 0;
            self.usage.read_daily = 0;
        }
    }

    /// Counts one request (a read when `is_read`) made at `now`; returns the usage after it and
    /// whether it went over a limit (a request over the limit still counts, as on Strava).
    pub(crate) fn record(&mut self, now: i64, is_read: bool, limits: &RateLimits) -> (Usage, bool) {
        self.roll(now);
        let u = &mut self.usage;
        u.overall_15min = u.overall_15min.saturating_add(1);
        u.overall_daily = u.overall_daily.saturating_add(1);
        if is_read {
            u.read_15min = u.read_15min.saturating_add(1);
            u.read_daily = u.read_daily.saturating_add(1);
        }
        let over_overall =
            u.overall_15min > limits.overall_15min || u.overall_daily > limits.overall_daily;
        let over_read =
            is_read && (u.read_15min > limits.read_15min || u.read_daily > limits.read_daily);
        (*u, over_overall || over_read)
    }

    /// Counts a request that must never be refused (deauthorization) and returns the usage.
    pub(crate) fn record_unlimited(&mut self, now: i64) -> Usage {
        self.roll(now);
        self.usage.overall_15min = self.usage.overall_15min.saturating_add(1);
        self.usage.overall_daily = self.usage.overall_daily.saturating_add(1);
        self.usage
    }

    /// The usage at `now` without counting anything.
    #[cfg(test)]
    pub(crate) fn peek(&mut self, now: i64) -> Usage {
        self.roll(now);
        self.usage
    }
}

/// The four rate-limit headers, spelt as real Strava responses spell them.
pub(crate) fn headers(limits: &RateLimits, usage: Usage) -> [(&'static str, String); 4] {
    [
        (
            "X-Ratelimit-Limit",
            format!("{},{}", limits.overall_15min, limits.overall_daily),
        ),
        (
            "X-Ratelimit-Usage",
            format!("{},{}", usage.overall_15min, usage.overall_daily),
        ),
        (
            "X-Readratelimit-Limit",
            format!("{},{}", limits.read_15min, limits.read_daily),
        ),
        (
            "X-Readratelimit-Usage",
            format!("{},{}", usage.read_15min, usage.read_daily),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            overall_15min: 3,
            overall_daily: 5,
            read_15min: 2,
            read_daily: 4,
        }
    }

    // 2026-01-01T10:00:00Z, a quarter-hour boundary.
    const T0: i64 = 1_767_261_600;

    #[test]
    fn reads_hit_the_read_limit_first_and_still_count() {
        let mut c = RateCounter::default();
        assert!(!c.record(T0, true, &limits()).1);
        assert!(!c.record(T0 + 1, true, &limits()).1);
        let (usage, over) = c.record(T0 + 2, true, &limits());
        assert!(over);
        assert_eq!((usage.read_15min, usage.overall_15min), (3, 3));
    }

    #[test]
    fn writes_only_count_against_overall() {
        let mut c = RateCounter::default();
        for _ in 0..3 {
            assert!(!c.record(T0, false, &limits()).1);
        }
        let (usage, over) = c.record(T0, false, &limits());
        assert!(over);
        assert_eq!(usage.read_15min, 0);
    }

    #[test]
    fn quarter_hour_window_resets_at_the_boundary_but_the_day_does_not() {
        let mut c = RateCounter::default();
        c.record(T0 + 899, true, &limits());
        c.record(T0 + 899, true, &limits());
        let (usage, over) = c.record(T0 + 900, true, &limits());
        assert!(!over);
        assert_eq!(usage.read_15min, 1);
        assert_eq!(usage.read_daily, 3);
    }

    #[test]
    fn daily_window_resets_at_utc_midnight() {
        let mut c = RateCounter::default();
        let before_midnight = T0 - 10 * 3600 + DAY_SECS - 1;
        c.record(before_midnight, false, &limits());
        let usage = c.peek(before_midnight + 1);
        assert_eq!(usage.overall_daily, 0);
    }
}
