//! The pieces every body is made of: local start times, totals of a group of activities
//! (summed without float noise), the JSON envelope and key order of the stats bodies, and the
//! activity families.

use bytes::Bytes;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Serialize, Serializer};

use crate::strava::models::{Activity, Totals};

/// The athlete's wall-clock start time (`start_date_local` ends in `Z` but is local).
pub fn local_start(activity: &Activity) -> Option<NaiveDateTime> {
    let text = activity.start_date_local.get(..19)?;
    canonical_date_time(text)
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok())
}

/// `YYYY-MM-DDTHH:MM:SS` read by position: every body derives from each activity's local
/// start, several times over, and chrono's format-driven parser took three quarters of a
/// derivation. Anything else (or an impossible date) is left to chrono, which decides.
fn canonical_date_time(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    let shape = b.len() == 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(0..4)?).ok()?,
        number(5..7)?,
        number(8..10)?,
    )?;
    date.and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)
}

/// `"2025-12-25T12:00:00+00:00"`, as the old service wrote `fetched_at`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// T in the API: totals of a group of activities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: i64,
    pub distance: f64,
    pub moving_time: i64,
    pub elevation_gain: f64,
}

/// `a + b` to the thousandth, held within the finite floats: a sum never becomes `inf` or NaN
/// (JSON has neither), and carries no float noise (`866211.5`, never `866211.5000000001`).
pub(super) fn finite_sum(a: f64, b: f64) -> f64 {
    let sum = a + b;
    if sum.is_nan() {
        a
    } else {
        thousandths(sum.clamp(-f64::MAX, f64::MAX))
    }
}

/// `v` rounded to 3 decimals (Strava reports lengths to the decimetre). Each partial sum is
/// rounded, so a sum of any length is the exact sum of its terms' thousandths.
fn thousandths(v: f64) -> f64 {
    let scaled = v * 1000.0;
    if scaled.is_finite() {
        scaled.round() / 1000.0
    } else {
        v
    }
}

/// `v` to the thousandth, or 0 when it is NaN or infinite (JSON has neither).
fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() { thousandths(v) } else { 0.0 }
}

impl Summary {
    /// Adds one activity. Sums saturate instead of overflowing; callers add only sane
    /// activities (see [`absurdity`]), which keeps them far from saturating.
    pub(super) fn add(&mut self, a: &Activity) {
        self.count = self.count.saturating_add(1);
        self.distance = finite_sum(self.distance, a.distance);
        self.moving_time = self.moving_time.saturating_add(a.moving_time);
        self.elevation_gain = finite_sum(self.elevation_gain, a.total_elevation_gain);
    }
}

impl From<Totals> for Summary {
    /// Strava's own totals as it sent them, except that a non-finite figure shows as 0.
    fn from(t: Totals) -> Self {
        Self {
            count: t.count,
            distance: finite_or_zero(t.distance),
            moving_time: t.moving_time,
            elevation_gain: finite_or_zero(t.elevation_gain),
        }
    }
}

/// A JSON object whose keys keep the order given (serde_json's map would sort them).
pub(super) struct Ordered<K, V>(pub(super) Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Ordered<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[derive(Serialize)]
struct Envelope<'a, D: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: D,
    fetched_at: &'a str,
}

pub(super) fn envelope<D: Serialize>(kind: &str, data: D, fetched_at: DateTime<Utc>) -> Bytes {
    let body = Envelope {
        kind,
        data,
        fetched_at: &timestamp(fetched_at),
    };
    // Serializing plain structs of numbers and strings cannot fail.
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

/// `sport_type`s of the run family (`/stats/longest-run`).
pub const RUN_FAMILY: [&str; 3] = ["Run", "TrailRun", "VirtualRun"];
/// `sport_type`s of the ride family (`/stats/longest-ride`).
pub const RIDE_FAMILY: [&str; 8] = [
    "Ride",
    "GravelRide",
    "MountainBikeRide",
    "EBikeRide",
    "EMountainBikeRide",
    "VirtualRide",
    "Velomobile",
    "Handcycle",
];
