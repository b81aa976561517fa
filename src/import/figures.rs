//! The figures milepost keeps from a GPX or TCX track (SPEC §11 "Figures from files"): distance,
//! moving and elapsed time, elevation gain, maximum speed, heart rate and the first position,
//! as pure functions over a slice of [`Point`]s in the order the file wrote them. Also the time
//! stamps both formats write (`xsd:dateTime`), with the offset they were written in.
//!
//! The rules, all in one place so the readers cannot drift apart:
//! - A *step* joins two consecutive points that can be compared: for distance, consecutive
//!   points with coordinates (points without are bridged, not dropped); for speeds, consecutive
//!   points with a time and a length between them (see [`steps`]).
//! - Nothing here panics or overflows on absurd input: readers hand over only finite values in
//!   range ([`position`], [`elevation`], [`heart_rate_value`], [`measure`]), and seconds become
//!   integers through [`whole_seconds`], which saturates.

use chrono::{DateTime, NaiveDateTime, Utc};

/// The Earth's mean radius (IUGG R1 = (2a + b) / 3, 6 371 008.8 m). A sphere of this radius is the
/// one whose great-circle distances err least on average against the ellipsoid (≤ 0.5 %, less
/// in mid latitudes); it is also what most GPS tools and Strava-like services mean by "6371 km".
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A step this long or longer is a pause (or a gap in the recording), never moving time.
pub const MOVING_STEP_LIMIT_S: f64 = 30.0;

/// Slower than this over a step is standing still, however long the step.
pub const MOVING_SPEED_MIN: f64 = 0.5;

/// A climb counts only once it has risen more than this above the last low (see
/// [`elevation_gain`]): GPS and barometric altitude wander by a metre or two when flat.
pub const GAIN_HYSTERESIS_M: f64 = 3.0;

/// Steps shorter than this are too short for a speed: time stamps in whole seconds make a
/// sub-second step's speed mostly rounding.
pub const SPEED_STEP_MIN_S: f64 = 1.0;

/// Faster than this (180 km/h) is a GPS jump, not a speed an athlete reaches.
pub const SPEED_PLAUSIBLE_MAX: f64 = 50.0;

/// Altitudes beyond this (in either direction) are a broken sensor, not a place.
const ELEVATION_LIMIT_M: f64 = 100_000.0;

/// Heart rates above this are a broken strap.
const HEART_RATE_MAX: f64 = 300.0;

/// The largest distance or duration a file may state (a hundred thousand kilometres, three
/// years of seconds): beyond it the number is garbage and is ignored rather than summed.
const MEASURE_LIMIT: f64 = 1.0e8;

/// One track point as the file wrote it; each part is optional because files leave any of them
/// out (no fix under a bridge, no altimeter, no strap).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    pub time: Option<DateTime<Utc>>,
    /// `(latitude, longitude)` in degrees.
    pub position: Option<(f64, f64)>,
    /// Metres above sea level.
    pub elevation: Option<f64>,
    /// The device's own cumulative distance in metres (TCX `DistanceMeters`); `None` in GPX.
    pub distance: Option<f64>,
    pub heart_rate: Option<f64>,
}

/// What the figures come to for one track: the parts of a [`super::Recording`] that points give.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub distance: f64,
    pub moving_time: i64,
    pub elapsed_time: i64,
    pub elevation_gain: f64,
    pub max_speed: f64,
    pub average_heartrate: Option<f64>,
    pub max_heartrate: Option<f64>,
    pub first_position: Option<(f64, f64)>,
}

impl Figures {
    /// Every figure of `points` by the rules of this module.
    pub fn of(points: &[Point]) -> Self {
        let (average_heartrate, max_heartrate) = heart_rate(points);
        Self {
            distance: distance(points),
            moving_time: whole_seconds(moving_time(points)),
            elapsed_time: whole_seconds(elapsed_time(points)),
            elevation_gain: elevation_gain(points),
            max_speed: max_speed(points),
            average_heartrate,
            max_heartrate,
            first_position: first_position(points),
        }
    }
}

/// The great-circle distance in metres between two `(latitude, longitude)` pairs in degrees, by
/// the haversine formula on a sphere of [`EARTH_RADIUS_M`].
pub fn great_circle(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat_a, lat_b) = (a.0.to_radians(), b.0.to_radians());
    let d_lat = lat_b - lat_a;
    let d_lon = (b.1 - a.1).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat_a.cos() * lat_b.cos() * (d_lon / 2.0).sin().powi(2);
    // Rounding can push h a hair past 1 for antipodal points, and asin would give NaN.
    2.0 * EARTH_RADIUS_M * h.clamp(0.0, 1.0).sqrt().asin()
}

/// The sum of great-circle steps between consecutive points with coordinates, in metres.
/// Points without coordinates are bridged; points with them are taken whatever their time.
pub fn distance(points: &[Point]) -> f64 {
    let mut positions = points.iter().filter_map(|p| p.position);
    let Some(mut previous) = positions.next() else {
        return 0.0;
    };
    positions.fold(0.0, |sum, here| {
        let step = great_circle(previous, here);
        previous = here;
        sum + step
    })
}

/// One step between two timed points: how long it took and how far it went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub seconds: f64,
    pub metres: f64,
}

/// The steps between consecutive points that have a time and something to measure a length
/// with. The length is the difference of the device's cumulative distances when both points
/// carry one (the device smooths it, and it exists without GPS, on a treadmill), else the great
/// circle between their positions. Points that have neither are bridged. A step whose time runs
/// backwards is dropped: it has no speed.
pub fn steps(points: &[Point]) -> impl Iterator<Item = Step> + '_ {
    let mut previous: Option<&Point> = None;
    points
        .iter()
        .filter(|p| p.time.is_some() && (p.position.is_some() || p.distance.is_some()))
        .filter_map(move |here| {
            let before = previous.replace(here)?;
            let seconds = seconds_between(before.time?, here.time?);
            let metres = match (
                before.distance,
                here.distance,
                before.position,
                here.position,
            ) {
                (Some(a), Some(b), _, _) => (b - a).max(0.0),
                (_, _, Some(a), Some(b)) => great_circle(a, b),
                _ => return None,
            };
            (seconds >= 0.0).then_some(Step { seconds, metres })
        })
}

/// Seconds in motion: the sum of the [`steps`] shorter than [`MOVING_STEP_LIMIT_S`] whose speed
/// is at least [`MOVING_SPEED_MIN`]. A step of zero seconds adds nothing.
pub fn moving_time(points: &[Point]) -> f64 {
    steps(points)
        .filter(|s| {
            s.seconds > 0.0
                && s.seconds < MOVING_STEP_LIMIT_S
                && s.metres / s.seconds >= MOVING_SPEED_MIN
        })
        .map(|s| s.seconds)
        .sum()
}

/// Seconds from the first timed point to the last, in the file's order; 0 when there are fewer
/// than two or the last is before the first.
pub fn elapsed_time(points: &[Point]) -> f64 {
    let mut times = points.iter().filter_map(|p| p.time);
    match (times.next(), times.next_back()) {
        (Some(first), Some(last)) => seconds_between(first, last).max(0.0),
        _ => 0.0,
    }
}

/// Metres climbed, with a hysteresis of [`GAIN_HYSTERESIS_M`] over the points with an
/// elevation, in order:
/// - Between climbs the walk remembers the lowest elevation since the last climb ended (at the
///   start: the first elevation). A climb begins when an elevation lies *more than* 3 m above
///   that low; the whole rise from the low counts at once.
/// - During a climb every new high adds its rise above the previous high; dips of 3 m or less
///   below the high do not end it. A climb ends at an elevation *more than* 3 m below its high,
///   which becomes the new low.
///
/// So each climb contributes its peak minus the trough before it, wiggles of 3 m or less count
/// for nothing, and a final rise of 3 m or less is not counted.
pub fn elevation_gain(points: &[Point]) -> f64 {
    let mut elevations = points.iter().filter_map(|p| p.elevation);
    let Some(first) = elevations.next() else {
        return 0.0;
    };
    let mut gain = 0.0;
    let mut low = first;
    let mut climb_high: Option<f64> = None;
    for here in elevations {
        match climb_high {
            Some(high) if here > high => {
                gain += here - high;
                climb_high = Some(here);
            }
            Some(high) if high - here > GAIN_HYSTERESIS_M => {
                climb_high = None;
                low = here;
            }
            Some(_) => {}
            None if here < low => low = here,
            None if here - low > GAIN_HYSTERESIS_M => {
                gain += here - low;
                climb_high = Some(here);
            }
            None => {}
        }
    }
    gain
}

/// The fastest [`Step`] in m/s, among steps of at least [`SPEED_STEP_MIN_S`] and no faster than
/// [`SPEED_PLAUSIBLE_MAX`] (faster ones are GPS jumps and are ignored, not capped).
pub fn max_speed(points: &[Point]) -> f64 {
    steps(points)
        .filter(|s| s.seconds >= SPEED_STEP_MIN_S)
        .map(|s| s.metres / s.seconds)
        .filter(|speed| *speed <= SPEED_PLAUSIBLE_MAX)
        .fold(0.0, f64::max)
}

/// The mean (over the points that carry one, unweighted) and the maximum heart rate.
pub fn heart_rate(points: &[Point]) -> (Option<f64>, Option<f64>) {
    let (count, sum, max) = points
        .iter()
        .filter_map(|p| p.heart_rate)
        .fold((0_u64, 0.0, 0.0_f64), |(n, sum, max), hr| {
            (n + 1, sum + hr, max.max(hr))
        });
    if count == 0 {
        (None, None)
    } else {
        (Some(sum / count as f64), Some(max))
    }
}

/// The first point with coordinates: where the time zone is looked up.
pub fn first_position(points: &[Point]) -> Option<(f64, f64)> {
    points.iter().find_map(|p| p.position)
}

/// Seconds as Strava counts them: whole, rounded to the nearest; negative, NaN and absurd values
/// become 0 or saturate instead of wrapping.
pub fn whole_seconds(seconds: f64) -> i64 {
    if seconds.is_finite() && seconds > 0.0 {
        // `as` saturates at i64::MAX; the bound keeps that explicit.
        seconds.round().min(i64::MAX as f64) as i64
    } else {
        0
    }
}

/// A `(latitude, longitude)` pair when both parse and lie on the globe.
pub fn position(latitude: &str, longitude: &str) -> Option<(f64, f64)> {
    let lat = number(latitude).filter(|v| v.abs() <= 90.0)?;
    let lon = number(longitude).filter(|v| v.abs() <= 180.0)?;
    Some((lat, lon))
}

/// An altitude in metres, when it parses and could be one.
pub fn elevation(text: &str) -> Option<f64> {
    number(text).filter(|v| v.abs() <= ELEVATION_LIMIT_M)
}

/// A heart rate in beats a minute; 0 is what some devices write for "no reading".
pub fn heart_rate_value(text: &str) -> Option<f64> {
    number(text).filter(|v| *v > 0.0 && *v <= HEART_RATE_MAX)
}

/// A distance in metres or a duration in seconds the file states, when it parses, is not
/// negative and is not absurdly large.
pub fn measure(text: &str) -> Option<f64> {
    number(text).filter(|v| (0.0..=MEASURE_LIMIT).contains(v))
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A time as GPX and TCX write it (`xsd:dateTime`), in UTC, with the offset it was written in,
/// in seconds east of UTC (0 for `Z`). Accepts RFC 3339, offsets without a colon (`+0200`),
/// and a time with no offset at all, which both schemas say is UTC. `None` when it does not parse.
pub fn parse_time(text: &str) -> Option<(DateTime<Utc>, i32)> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
    {
        return Some((time.with_timezone(&Utc), time.offset().local_minus_utc()));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|naive| (naive.and_utc(), 0))
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    // Milliseconds cover every time chrono can hold without overflow (±262 000 years).
    (to - from).num_milliseconds() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_714_550_400 + second, 0)
            .single()
            .unwrap()
    }

    fn point(second: i64, lat: f64, lon: f64) -> Point {
        Point {
            time: Some(at(second)),
            position: Some((lat, lon)),
            ..Point::default()
        }
    }

    fn heights(elevations: &[f64]) -> Vec<Point> {
        elevations
            .iter()
            .map(|e| Point {
                elevation: Some(*e),
                ..Point::default()
            })
            .collect()
    }

    /// One degree of latitude on the sphere: πR/180.
    const DEGREE_M: f64 = std::f64::consts::PI * EARTH_RADIUS_M / 180.0;

    #[test]
    fn a_degree_of_latitude_is_a_180th_of_half_the_circumference() {
        assert!((great_circle((0.0, 0.0), (1.0, 0.0)) - DEGREE_M).abs() < 1e-6);
        assert!((great_circle((10.0, 5.0), (11.0, 5.0)) - DEGREE_M).abs() < 1e-6);
    }

    #[test]
    fn a_degree_of_longitude_shrinks_with_the_cosine_of_latitude() {
        // Along a parallel the great circle is a little shorter than the parallel's arc.
        let d = great_circle((60.0, 0.0), (60.0, 1.0));
        assert!(d < DEGREE_M / 2.0 && d > DEGREE_M / 2.0 - 20.0, "{d}");
    }

    #[test]
    fn antipodes_are_half_the_circumference_apart() {
        let d = great_circle((0.0, 0.0), (0.0, 180.0));
        assert!((d - std::f64::consts::PI * EARTH_RADIUS_M).abs() < 1e-3);
        assert!(great_circle((90.0, 0.0), (-90.0, 0.0)).is_finite());
    }

    #[test]
    fn distance_sums_steps_and_bridges_points_without_coordinates() {
        let mut points = vec![
            point(0, 0.0, 0.0),
            point(10, 0.001, 0.0),
            Point {
                time: Some(at(20)),
                ..Point::default()
            },
            point(30, 0.002, 0.0),
        ];
        let one_step = great_circle((0.0, 0.0), (0.001, 0.0));
        assert!((distance(&points) - 2.0 * one_step).abs() < 1e-9);
        points[0].time = None;
        assert!(
            (distance(&points) - 2.0 * one_step).abs() < 1e-9,
            "time plays no part"
        );
        assert_eq!(distance(&points[..1]), 0.0);
        assert_eq!(distance(&[]), 0.0);
    }

    #[test]
    fn moving_time_counts_short_steps_at_walking_pace_or_faster() {
        // 0.00001° of latitude is about 1.11 m.
        let points = [
            point(0, 0.0, 0.0),
            point(10, 0.0003, 0.0),   // 33 m in 10 s: moving
            point(20, 0.0003, 0.0),   // standing
            point(22, 0.00031, 0.0),  // 1.1 m in 2 s: 0.56 m/s, moving
            point(24, 0.000318, 0.0), // 0.9 m in 2 s: 0.44 m/s, standing
            point(54, 0.005, 0.0),    // 30 s: a pause however far
            point(83, 0.006, 0.0),    // 29 s, 111 m: moving
        ];
        assert_eq!(moving_time(&points), 10.0 + 2.0 + 29.0);
        assert_eq!(elapsed_time(&points), 83.0);
    }

    #[test]
    fn steps_prefer_the_devices_cumulative_distance() {
        let mut points = [point(0, 0.0, 0.0), point(10, 0.0, 0.0), point(20, 0.0, 0.0)];
        for (p, d) in points.iter_mut().zip([100.0, 130.0, 130.0]) {
            p.distance = Some(d);
        }
        let steps: Vec<Step> = steps(&points).collect();
        assert_eq!(
            steps,
            vec![
                Step {
                    seconds: 10.0,
                    metres: 30.0
                },
                Step {
                    seconds: 10.0,
                    metres: 0.0
                }
            ]
        );
        assert_eq!(moving_time(&points), 10.0);
        assert_eq!(max_speed(&points), 3.0);
        // Without GPS (a treadmill) the cumulative distance still measures steps.
        for p in &mut points {
            p.position = None;
        }
        assert_eq!(moving_time(&points), 10.0);
    }

    #[test]
    fn steps_that_run_backwards_or_lack_a_time_are_no_steps() {
        let points = [
            point(10, 0.0, 0.0),
            point(5, 0.001, 0.0),
            Point {
                position: Some((0.002, 0.0)),
                ..Point::default()
            },
            point(15, 0.003, 0.0),
        ];
        let steps: Vec<Step> = steps(&points).collect();
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert_eq!(steps[0].seconds, 10.0);
        assert_eq!(elapsed_time(&points), 5.0);
        assert_eq!(
            elapsed_time(&[point(10, 0.0, 0.0), point(5, 0.0, 0.0)]),
            0.0
        );
    }

    #[test]
    fn gain_needs_more_than_three_metres_from_the_last_low() {
        assert_eq!(elevation_gain(&heights(&[100.0, 103.0, 100.0, 103.0])), 0.0);
        assert_eq!(elevation_gain(&heights(&[100.0, 103.5])), 3.5);
        // The rise counts from the low, not from where the climb was noticed.
        assert_eq!(
            elevation_gain(&heights(&[100.0, 99.0, 101.0, 102.5, 110.0])),
            11.0
        );
    }

    #[test]
    fn gain_ignores_dips_of_three_metres_or_less_within_a_climb() {
        // 100 → 110, dip to 107, on to 115: one climb of 15 m.
        let e = [100.0, 110.0, 107.0, 115.0];
        assert_eq!(elevation_gain(&heights(&e)), 15.0);
        // A dip of 4 m ends the climb; the next starts from its low, 106.
        let e = [100.0, 110.0, 106.0, 108.0, 109.5, 115.0];
        assert_eq!(elevation_gain(&heights(&e)), 10.0 + 9.0);
    }

    #[test]
    fn gain_of_a_sawtooth_counts_each_confirmed_climb() {
        let e = [0.0, 5.0, 0.0, 5.0, 0.0, 2.0, 0.0, 5.0];
        assert_eq!(elevation_gain(&heights(&e)), 15.0);
        assert_eq!(elevation_gain(&heights(&[10.0, 5.0, 0.0])), 0.0);
        assert_eq!(elevation_gain(&heights(&[])), 0.0);
    }

    #[test]
    fn max_speed_ignores_gps_jumps_and_sub_second_steps() {
        let mut points = vec![
            point(0, 0.0, 0.0),
            point(10, 0.0005, 0.0),  // 5.6 m/s
            point(11, 0.0015, 0.0),  // 111 m in 1 s: a jump
            point(12, 0.00155, 0.0), // 5.6 m/s
        ];
        let expected = great_circle((0.0, 0.0), (0.0005, 0.0)) / 10.0;
        assert!((max_speed(&points) - expected).abs() < 1e-9);
        points.push(Point {
            time: Some(at(12) + chrono::Duration::milliseconds(500)),
            position: Some((0.0016, 0.0)), // 5.6 m in 0.5 s
            ..Point::default()
        });
        assert!((max_speed(&points) - expected).abs() < 1e-9);
        assert_eq!(max_speed(&[]), 0.0);
    }

    #[test]
    fn heart_rate_is_the_mean_and_max_of_points_that_have_one() {
        let mut points = vec![Point::default(); 4];
        points[0].heart_rate = Some(100.0);
        points[2].heart_rate = Some(150.0);
        assert_eq!(heart_rate(&points), (Some(125.0), Some(150.0)));
        assert_eq!(heart_rate(&points[3..]), (None, None));
    }

    #[test]
    fn first_position_skips_points_without_a_fix() {
        let points = [Point::default(), point(0, 1.5, 2.5), point(1, 3.0, 4.0)];
        assert_eq!(first_position(&points), Some((1.5, 2.5)));
        assert_eq!(Figures::of(&points).first_position, Some((1.5, 2.5)));
    }

    #[test]
    fn values_out_of_range_are_not_values() {
        assert_eq!(position("45.5", "-122.25"), Some((45.5, -122.25)));
        assert_eq!(position("91", "0"), None);
        assert_eq!(position("0", "180.5"), None);
        assert_eq!(position("NaN", "0"), None);
        assert_eq!(position("", "0"), None);
        assert_eq!(elevation("1e300"), None);
        assert_eq!(elevation(" -12.5 "), Some(-12.5));
        assert_eq!(heart_rate_value("0"), None);
        assert_eq!(heart_rate_value("inf"), None);
        assert_eq!(measure("-1"), None);
        assert_eq!(measure("1e30"), None);
        assert_eq!(measure("608.47"), Some(608.47));
    }

    #[test]
    fn whole_seconds_round_and_saturate() {
        assert_eq!(whole_seconds(0.994), 1);
        assert_eq!(whole_seconds(2.5), 3);
        assert_eq!(whole_seconds(-5.0), 0);
        assert_eq!(whole_seconds(f64::NAN), 0);
        assert_eq!(whole_seconds(1e300), i64::MAX);
    }

    #[test]
    fn times_keep_the_offset_they_were_written_in() {
        let (t, offset) = parse_time("2024-05-01T08:00:00+02:00").unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2024, 5, 1, 6, 0, 0).unwrap());
        assert_eq!(offset, 7200);
        assert_eq!(parse_time(" 2024-05-01T06:00:00Z\n").unwrap(), (t, 0));
        assert_eq!(parse_time("2024-05-01T06:00:00+00:00").unwrap(), (t, 0));
        assert_eq!(parse_time("2024-05-01T03:30:00-0230").unwrap(), (t, -9000));
        assert_eq!(parse_time("2024-05-01T06:00:00").unwrap(), (t, 0));
        let (fraction, _) = parse_time("2024-05-01T06:00:00.250Z").unwrap();
        assert_eq!(seconds_between(t, fraction), 0.25);
    }

    #[test]
    fn times_that_are_not_times_do_not_parse() {
        for text in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-05-01",
            "+99999-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_time(text), None, "{text}");
        }
    }
}
