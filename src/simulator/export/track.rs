//! The samples a recording holds: where, when, how high, how far and how hard, for every few
//! seconds of an activity.

use chrono::{DateTime, Duration, Utc};

use super::file::mix;
use crate::simulator::generator::SimActivity;

/// Track points aim at this many per activity (the default athlete's export stays near 5 MB);
/// the interval stays within the bounds below.
const POINTS_PER_ACTIVITY: i64 = 180;
/// Seconds between track points, at least (watches record every second; a few seconds keeps the
/// archive small) and at most (importers count steps under 30 s as moving).
const MIN_POINT_INTERVAL_SECS: i64 = 5;
const MAX_POINT_INTERVAL_SECS: i64 = 25;

/// Mean Earth radius, metres: what great-circle distances between track points assume.
pub(super) const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// One recorded sample.
#[derive(Debug, Clone, Copy)]
pub(super) struct Point {
    /// Seconds after the start.
    pub(super) at: i64,
    /// `[lat, lng]`, degrees.
    pub(super) position: Option<[f64; 2]>,
    pub(super) altitude: Option<f64>,
    /// Metres from the start.
    pub(super) distance: f64,
    pub(super) heart_rate: Option<u8>,
}

/// The samples of an activity (see the module doc): moving at a gently varying speed for
/// `moving_time`, standing still once in the middle for the rest of `elapsed_time`.
pub(super) fn track(a: &SimActivity) -> Vec<Point> {
    let elapsed = a.elapsed_time.max(1);
    let moving = a.moving_time.clamp(1, elapsed);
    let pause = elapsed - moving;
    let pause_at = moving / 2;
    let interval = ((moving + POINTS_PER_ACTIVITY - 1) / POINTS_PER_ACTIVITY)
        .clamp(MIN_POINT_INTERVAL_SECS, MAX_POINT_INTERVAL_SECS);
    let mut marks: Vec<i64> = (0..)
        .map(|k| k * interval)
        .take_while(|m| *m < moving)
        .collect();
    marks.push(moving);
    if pause > 0 && !marks.contains(&pause_at) {
        let at = marks.partition_point(|m| *m < pause_at);
        marks.insert(at, pause_at);
    }

    let distance = a.distance.max(0.0);
    let roll = mix(a.id);
    let heading0 = (roll % 360) as f64 * std::f64::consts::PI / 180.0;
    let hills = Hills::of(a);
    let mut position = a.start_latlng;
    let mut travelled = 0.0;
    let mut points = Vec::with_capacity(marks.len() + 1);
    for m in marks {
        let x = m as f64 / moving as f64;
        let along = distance * along_fraction(x);
        if let Some([lat, lng]) = position.as_mut() {
            let step = along - travelled;
            // Heading turns once around over the whole distance, with a wobble: a loop.
            let u = if distance > 0.0 {
                (travelled + step / 2.0) / distance
            } else {
                x
            };
            let tau = std::f64::consts::TAU;
            let heading = heading0 + tau * u + 0.5 * (3.0 * tau * u).sin();
            let north = step * heading.cos();
            let east = step * heading.sin();
            *lat += (north / EARTH_RADIUS_M).to_degrees();
            *lng += (east / (EARTH_RADIUS_M * lat.to_radians().cos())).to_degrees();
        }
        travelled = along;
        let u = if distance > 0.0 { along / distance } else { x };
        let point = Point {
            at: if pause > 0 && m > pause_at {
                m + pause
            } else {
                m
            },
            position,
            altitude: hills.altitude(u),
            distance: along,
            heart_rate: heart_rate(a, x),
        };
        points.push(point);
        if pause > 0 && m == pause_at {
            points.push(Point {
                at: m + pause,
                ..point
            });
        }
    }
    points
}

/// Share of the distance covered after share `x` of the moving time: speed swings ±15 % around
/// the average five times, ending exactly at 1.
fn along_fraction(x: f64) -> f64 {
    const SWINGS: f64 = 5.0;
    const AMPLITUDE: f64 = 0.15;
    let tau = std::f64::consts::TAU;
    x + AMPLITUDE / (tau * SWINGS) * (tau * SWINGS * x).sin()
}

/// An elevation profile of whole climbs that add up to the activity's gain.
struct Hills {
    low: f64,
    climbs: f64,
    height: f64,
    recorded: bool,
}

impl Hills {
    fn of(a: &SimActivity) -> Hills {
        let gain = a.total_elevation_gain.max(0.0);
        let range = (a.elev_high - a.elev_low).max(10.0);
        let climbs = (gain / range).round().max(1.0);
        Hills {
            low: a.elev_low,
            climbs,
            height: gain / climbs,
            recorded: a.start_latlng.is_some() || gain > 0.0 || a.elev_high > a.elev_low,
        }
    }

    /// Altitude after share `u` of the distance.
    fn altitude(&self, u: f64) -> Option<f64> {
        self.recorded.then(|| {
            let phase = std::f64::consts::TAU * self.climbs * u;
            self.low + self.height * (1.0 - phase.cos()) / 2.0
        })
    }
}

/// Heart rate after share `x` of the moving time: waves around the average, a sprint to the
/// maximum at the end.
fn heart_rate(a: &SimActivity, x: f64) -> Option<u8> {
    let average = a.average_heartrate?;
    let max = a.max_heartrate.unwrap_or(average).max(average);
    const FINISH: f64 = 0.98;
    let bpm = if x >= FINISH {
        average + (max - average) * (x - FINISH) / (1.0 - FINISH)
    } else {
        average + ((max - average) * 0.5).min(8.0) * (std::f64::consts::TAU * 3.0 * x).sin()
    };
    Some(bpm.round().clamp(30.0, 250.0) as u8)
}

pub(super) fn at(a: &SimActivity, seconds: i64) -> DateTime<Utc> {
    a.start_date + Duration::seconds(seconds)
}
