//! Whether Strava serves this application at all: pure rules, owned by the BudgetActor beside
//! the rate budget.
//!
//! Since Strava's 2026 developer program an application whose owner has no subscription is
//! *Inactive*, and every API call answers 403 Application/Status/Inactive. Nothing milepost
//! retries changes that, so while it lasts background work (the refresh timer, a backfill, the
//! reconciliation, webhook confirmations) sends one probe an hour and no more; an operator's
//! request is let through as a probe of its own every time. The first API answer that succeeds
//! ends it. A probe is due [`PROBE_EVERY`] after the last one, less [`PROBE_SLACK`], so an
//! hourly timer whose tick comes a moment early still probes on every tick.

use chrono::{DateTime, Duration, Utc};

use super::budget::Priority;

/// The app is active until Strava says otherwise.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    inactive: Option<Inactive>,
}

#[derive(Debug, Clone, Copy)]
struct Inactive {
    since: DateTime<Utc>,
    /// When background work last asked Strava (the 403 that started it counts).
    probed_at: DateTime<Utc>,
}

/// What the owner must do about an inactive app, as `refresh-data` and `milepost refresh` say it.
pub const OWNER_MUST_REACTIVATE: &str = "The Strava application is inactive: its owner must \
     subscribe on Strava, then reactivate the app in Strava's API settings \
     (https://www.strava.com/settings/api).";

/// How often background work may ask an inactive app's Strava whether it is back.
pub const PROBE_EVERY: Duration = Duration::hours(1);
/// How much earlier than [`PROBE_EVERY`] a probe may come (timers are not exact).
pub const PROBE_SLACK: Duration = Duration::seconds(30);

impl Standing {
    /// Since when Strava says the app is inactive (`None`: it is active).
    pub fn inactive_since(&self) -> Option<DateTime<Utc>> {
        self.inactive.map(|i| i.since)
    }

    /// When background work may probe again (`None`: the app is active).
    pub fn next_probe(&self) -> Option<DateTime<Utc>> {
        self.inactive
            .map(|i| i.probed_at + PROBE_EVERY - PROBE_SLACK)
    }

    /// `Ok` when a request of `priority` may go to Strava at `now`; otherwise the time of the
    /// next probe.
    pub fn check(&self, priority: Priority, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        match self.next_probe() {
            Some(next) if priority != Priority::Interactive && now < next => Err(next),
            _ => Ok(()),
        }
    }

    /// Counts a request about to go out: while inactive, background work has used its probe
    /// for this hour.
    pub fn spend(&mut self, priority: Priority, now: DateTime<Utc>) {
        if let Some(inactive) = &mut self.inactive
            && priority != Priority::Interactive
        {
            inactive.probed_at = now;
        }
    }

    /// Strava answered that the app is inactive; true when that is news.
    pub fn record_inactive(&mut self, now: DateTime<Utc>) -> bool {
        if self.inactive.is_some() {
            return false;
        }
        self.inactive = Some(Inactive {
            since: now,
            probed_at: now,
        });
        true
    }

    /// An API call succeeded: the app is active. The instant it had been inactive since, when
    /// that is news.
    pub fn record_active(&mut self) -> Option<DateTime<Utc>> {
        self.inactive.take().map(|i| i.since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, sec: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, m, sec).unwrap()
    }

    #[test]
    fn an_active_app_lets_everything_through() {
        let standing = Standing::default();
        for priority in [
            Priority::Background,
            Priority::Confirmation,
            Priority::Interactive,
        ] {
            assert_eq!(standing.check(priority, at(10, 0, 0)), Ok(()));
        }
        assert_eq!(standing.next_probe(), None);
    }

    #[test]
    fn once_inactive_background_work_waits_an_hour() {
        let mut standing = Standing::default();
        assert!(standing.record_inactive(at(10, 20, 0)));
        assert!(!standing.record_inactive(at(10, 21, 0)), "told once");
        assert_eq!(standing.inactive_since(), Some(at(10, 20, 0)));
        assert_eq!(standing.next_probe(), Some(at(11, 19, 30)));
        for priority in [Priority::Background, Priority::Confirmation] {
            // across the clock hour too: no second request within the hour
            assert_eq!(standing.check(priority, at(11, 0, 0)), Err(at(11, 19, 30)));
            assert_eq!(
                standing.check(priority, at(11, 19, 29)),
                Err(at(11, 19, 30))
            );
            assert_eq!(standing.check(priority, at(11, 19, 30)), Ok(()));
        }
    }

    #[test]
    fn background_work_gets_one_probe_an_hour() {
        let mut standing = Standing::default();
        standing.record_inactive(at(10, 20, 0));
        standing.spend(Priority::Background, at(11, 20, 0));
        assert_eq!(
            standing.check(Priority::Confirmation, at(11, 21, 0)),
            Err(at(12, 19, 30)),
            "the hour's probe is spent"
        );
        // an hourly tick a moment early still probes
        assert_eq!(standing.check(Priority::Background, at(12, 19, 59)), Ok(()));
        assert_eq!(standing.inactive_since(), Some(at(10, 20, 0)));
    }

    #[test]
    fn an_operator_s_request_always_probes_and_leaves_the_hour_s_probe_alone() {
        let mut standing = Standing::default();
        standing.record_inactive(at(10, 20, 0));
        assert_eq!(standing.check(Priority::Interactive, at(10, 21, 0)), Ok(()));
        standing.spend(Priority::Interactive, at(10, 21, 0));
        assert_eq!(standing.next_probe(), Some(at(11, 19, 30)));
    }

    #[test]
    fn a_successful_answer_ends_it_once() {
        let mut standing = Standing::default();
        assert_eq!(standing.record_active(), None, "it was never inactive");
        standing.record_inactive(at(10, 20, 0));
        assert_eq!(standing.record_active(), Some(at(10, 20, 0)));
        assert_eq!(standing.record_active(), None);
        assert_eq!(standing.check(Priority::Background, at(10, 21, 0)), Ok(()));
        assert_eq!(standing.inactive_since(), None);
    }
}
