//! The simulator's clock: real UTC time plus an offset that tests move forward, so token expiry,
//! authorization-code expiry, rate-limit windows and "now" for stats all follow simulated time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Real time shifted by an adjustable offset (milliseconds). Cheap and lock-free.
#[derive(Debug, Default)]
pub(crate) struct SimClock {
    offset_ms: AtomicI64,
}

impl SimClock {
    /// The simulated current instant.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// The simulated current instant in whole epoch seconds.
    pub(crate) fn now_epoch(&self) -> i64 {
        self.now().timestamp()
    }

    /// Moves simulated time forward.
    pub(crate) fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        // Saturate rather than wrap: a test asking for "forever" gets the far future.
        let _ = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                Some(current.saturating_add(ms).min(MAX_OFFSET_MS))
            });
    }
}

/// About 1,000 years: far enough for any test, near enough that chrono never overflows.
const MAX_OFFSET_MS: i64 = 1000 * 366 * 24 * 3600 * 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward() {
        let clock = SimClock::default();
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        let after = clock.now();
        assert!(after - before >= chrono::Duration::seconds(3600));
        assert!(after - before < chrono::Duration::seconds(3660));
    }

    #[test]
    fn a_huge_advance_saturates_instead_of_panicking() {
        let clock = SimClock::default();
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
        assert!(clock.now() > Utc::now());
    }
}
