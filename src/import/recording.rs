//! What one activity file says, and why an input is refused.

use chrono::{DateTime, Utc};

/// Why an input (a file, an entry, a CSV row) was refused, in words the summary shows beside
/// the file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl Refusal {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// One activity as a file records it: the figures milepost keeps, and what the local time needs.
/// Units as Strava's: metres, seconds, m/s.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Strava's `sport_type` ([`super::sport`]); `None` when the file names no sport known.
    pub sport_type: Option<&'static str>,
    /// When the activity started.
    pub start: DateTime<Utc>,
    /// The file's own offset from UTC in seconds: FIT's `local_timestamp` − `timestamp`, or a
    /// GPX/TCX time written with a non-zero offset. `None` when every time is UTC (`Z`, `+00:00`).
    pub utc_offset: Option<i32>,
    /// The first point with coordinates, `(latitude, longitude)` in degrees: where the zone
    /// lookup looks.
    pub first_position: Option<(f64, f64)>,
    pub distance: f64,
    pub moving_time: i64,
    pub elapsed_time: i64,
    pub elevation_gain: f64,
    pub max_speed: f64,
    pub average_heartrate: Option<f64>,
    pub max_heartrate: Option<f64>,
    /// The activity's name when the file carries one (GPX `<name>`).
    pub name: Option<String>,
}
