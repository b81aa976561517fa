//! ActivityStats as `GET /athletes/{id}/stats` computes them: totals over public (Everyone)
//! activities for the run, ride and swim families, for the last four weeks, the current local
//! year and all time. Pure functions over the simulator's activities.

use chrono::{DateTime, Datelike, Duration, Utc};
use serde_json::{Value, json};

use super::generator::{Family, SimActivity, Visibility, family, home_local, round_to};

/// One `*_totals` object.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Totals {
    pub(crate) count: i64,
    pub(crate) distance: f64,
    pub(crate) moving_time: i64,
    pub(crate) elapsed_time: i64,
    pub(crate) elevation_gain: f64,
    pub(crate) achievement_count: i64,
}

impl Totals {
    fn add(&mut self, a: &SimActivity) {
        self.count += 1;
        // Strava's totals are clean decimals, not float sums.
        self.distance = round_to(self.distance + a.distance, 1);
        self.moving_time += a.moving_time;
        self.elapsed_time += a.elapsed_time;
        self.elevation_gain = round_to(self.elevation_gain + a.total_elevation_gain, 1);
        self.achievement_count += a.achievement_count;
    }

    /// Only the `recent_*` totals carry `achievement_count` on Strava.
    fn to_json(self, with_achievements: bool) -> Value {
        let mut v = json!({
            "count": self.count,
            "distance": self.distance,
            "moving_time": self.moving_time,
            "elapsed_time": self.elapsed_time,
            "elevation_gain": self.elevation_gain,
        });
        if with_achievements && let Some(map) = v.as_object_mut() {
            map.insert("achievement_count".into(), json!(self.achievement_count));
        }
        v
    }
}

/// Recent (last 28 days), year-to-date (the home zone's current year, by each activity's local
/// start) and all-time totals per family.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Stats {
    pub(crate) recent: [Totals; 3],
    pub(crate) ytd: [Totals; 3],
    pub(crate) all: [Totals; 3],
}

const RECENT_DAYS: i64 = 28;

fn slot(f: Family) -> usize {
    match f {
        Family::Run => 0,
        Family::Ride => 1,
        Family::Swim => 2,
    }
}

/// Totals over `activities` as seen at `now`; only Everyone-visibility activities count.
pub(crate) fn compute<'a>(
    activities: impl IntoIterator<Item = &'a SimActivity>,
    now: DateTime<Utc>,
) -> Stats {
    let year = home_local(now).year();
    let recent_from = now - Duration::days(RECENT_DAYS);
    let mut stats = Stats::default();
    for a in activities {
        if a.visibility != Visibility::Everyone {
            continue;
        }
        let Some(f) = family(&a.sport_type) else {
            continue;
        };
        let i = slot(f);
        stats.all[i].add(a);
        if a.start_date_local().year() == year {
            stats.ytd[i].add(a);
        }
        if a.start_date >= recent_from {
            stats.recent[i].add(a);
        }
    }
    stats
}

impl Stats {
    /// The JSON body, keys as in `tests/fixtures/strava/athlete_stats.json`.
    pub(crate) fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (prefix, totals, with_achievements) in [
            ("recent", &self.recent, true),
            ("all", &self.all, false),
            ("ytd", &self.ytd, false),
        ] {
            for (name, t) in ["run", "ride", "swim"].iter().zip(totals.iter()) {
                out.insert(
                    format!("{prefix}_{name}_totals"),
                    t.to_json(with_achievements),
                );
            }
        }
        Value::Object(out)
    }
}
