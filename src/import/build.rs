//! An imported activity as milepost keeps every activity: the export row's figures first (they
//! are Strava's own), the file's where the row has none or there is no row, placed at the
//! athlete's local time.

use chrono::{DateTime, Duration, Utc};

use super::Visibility;
use super::export_csv::ExportRow;
use super::recording::Recording;
use super::sport::legacy_type;
use crate::strava::models::Activity;

/// What no row or file names.
pub const UNKNOWN_SPORT: &str = "Workout";
/// Names longer than Strava allows are cut there: a file's name is served in every body.
const NAME_CHARS: usize = 255;

/// The activity an export row describes, with its file's recording when it has one, at
/// `utc_offset` seconds from UTC.
pub fn from_row(
    row: &ExportRow,
    file: Option<&Recording>,
    utc_offset: i32,
    visibility: Visibility,
) -> Activity {
    let sport_type = row
        .sport_type
        .or_else(|| file.and_then(|f| f.sport_type))
        .unwrap_or(UNKNOWN_SPORT);
    let elapsed_time = row
        .elapsed_time
        .or(file.map(|f| f.elapsed_time))
        .unwrap_or(0);
    let moving_time = row
        .moving_time
        .or(file.map(|f| f.moving_time))
        .unwrap_or(elapsed_time);
    let distance = row.distance.or(file.map(|f| f.distance)).unwrap_or(0.0);
    let mut activity = base(row.start, utc_offset, sport_type, visibility);
    activity.id = row.id;
    activity.name = if row.name.trim().is_empty() {
        default_name(&activity, sport_type)
    } else {
        bounded(&row.name)
    };
    activity.distance = distance;
    activity.moving_time = moving_time;
    activity.elapsed_time = elapsed_time;
    activity.total_elevation_gain = row
        .elevation_gain
        .or(file.map(|f| f.elevation_gain))
        .unwrap_or(0.0);
    activity.average_speed = row
        .average_speed
        .unwrap_or_else(|| average_speed(distance, moving_time));
    activity.max_speed = row.max_speed.or(file.map(|f| f.max_speed)).unwrap_or(0.0);
    heart_rate(
        &mut activity,
        row.average_heartrate
            .or_else(|| file.and_then(|f| f.average_heartrate)),
        row.max_heartrate
            .or_else(|| file.and_then(|f| f.max_heartrate)),
    );
    activity
}

/// The activity a file alone records (id 0: the caller gives it one), at `utc_offset`.
pub fn from_file(file: &Recording, utc_offset: i32, visibility: Visibility) -> Activity {
    let sport_type = file.sport_type.unwrap_or(UNKNOWN_SPORT);
    let mut activity = base(file.start, utc_offset, sport_type, visibility);
    activity.name = match &file.name {
        Some(name) if !name.trim().is_empty() => bounded(name),
        _ => default_name(&activity, sport_type),
    };
    activity.distance = file.distance;
    activity.moving_time = file.moving_time;
    activity.elapsed_time = file.elapsed_time;
    activity.total_elevation_gain = file.elevation_gain;
    activity.average_speed = average_speed(file.distance, file.moving_time);
    activity.max_speed = file.max_speed;
    heart_rate(&mut activity, file.average_heartrate, file.max_heartrate);
    activity
}

fn base(
    start: DateTime<Utc>,
    utc_offset: i32,
    sport_type: &'static str,
    visibility: Visibility,
) -> Activity {
    let local = start.naive_utc() + Duration::seconds(i64::from(utc_offset));
    Activity {
        id: 0,
        name: String::new(),
        kind: legacy_type(sport_type).to_owned(),
        sport_type: sport_type.to_owned(),
        distance: 0.0,
        moving_time: 0,
        elapsed_time: 0,
        total_elevation_gain: 0.0,
        // Strava's spellings: the instant with `Z`, the wall-clock time with a `Z` too.
        start_date: start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        start_date_local: local.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        timezone: String::new(),
        utc_offset: f64::from(utc_offset),
        private: visibility == Visibility::OnlyMe,
        visibility: visibility.as_str().to_owned(),
        average_speed: 0.0,
        max_speed: 0.0,
        has_heartrate: false,
        average_heartrate: None,
        max_heartrate: None,
        heartrate_opt_out: false,
        kudos_count: 0,
    }
}

fn bounded(name: &str) -> String {
    name.chars().take(NAME_CHARS).collect()
}

fn heart_rate(activity: &mut Activity, average: Option<f64>, max: Option<f64>) {
    let sane = |v: Option<f64>| v.filter(|bpm| bpm.is_finite() && *bpm > 0.0);
    activity.average_heartrate = sane(average);
    activity.max_heartrate = sane(max);
    activity.has_heartrate = activity.average_heartrate.is_some();
}

/// Metres a second over the moving time, 0 without one; to the thousandth, as Strava gives it.
fn average_speed(distance: f64, moving_time: i64) -> f64 {
    if moving_time <= 0 || !distance.is_finite() {
        return 0.0;
    }
    (distance / moving_time as f64 * 1000.0).round() / 1000.0
}

/// Strava's name for an activity nobody named: the time of day and the sport (`Morning Run`).
fn default_name(activity: &Activity, sport_type: &str) -> String {
    let hour = activity
        .start_date_local
        .get(11..13)
        .and_then(|h| h.parse::<u32>().ok())
        .unwrap_or(12);
    let part = match hour {
        5..=10 => "Morning",
        11..=13 => "Lunch",
        14..=17 => "Afternoon",
        18..=21 => "Evening",
        _ => "Night",
    };
    format!("{part} {}", display_sport(sport_type))
}

/// `TrailRun` → `Trail Run`.
fn display_sport(sport_type: &str) -> String {
    let mut out = String::with_capacity(sport_type.len() + 4);
    for (i, c) in sport_type.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn recording() -> Recording {
        Recording {
            sport_type: Some("TrailRun"),
            start: Utc.with_ymd_and_hms(2025, 7, 1, 5, 30, 0).unwrap(),
            utc_offset: Some(7200),
            first_position: Some((59.9, 10.7)),
            distance: 10_000.0,
            moving_time: 3000,
            elapsed_time: 3300,
            elevation_gain: 250.5,
            max_speed: 4.5,
            average_heartrate: Some(150.0),
            max_heartrate: Some(172.0),
            name: None,
        }
    }

    #[test]
    fn a_file_alone_is_placed_at_local_time_and_named_as_strava_would() {
        let a = from_file(&recording(), 7200, Visibility::Everyone);
        assert_eq!(a.start_date, "2025-07-01T05:30:00Z");
        assert_eq!(a.start_date_local, "2025-07-01T07:30:00Z");
        assert_eq!(a.name, "Morning Trail Run");
        assert_eq!(
            (a.kind.as_str(), a.sport_type.as_str()),
            ("Run", "TrailRun")
        );
        assert_eq!(a.average_speed, 3.333);
        assert_eq!(a.average_heartrate, Some(150.0));
        assert!(a.has_heartrate && !a.private);
        assert_eq!(a.visibility, "everyone");
    }

    #[test]
    fn only_me_is_private_and_a_sport_nobody_names_is_a_workout() {
        let mut r = recording();
        r.sport_type = None;
        r.average_heartrate = None;
        r.max_heartrate = Some(f64::NAN);
        let a = from_file(&r, 0, Visibility::OnlyMe);
        assert!(a.private);
        assert_eq!(a.visibility, "only_me");
        assert_eq!(
            (a.kind.as_str(), a.sport_type.as_str()),
            ("Workout", "Workout")
        );
        assert_eq!(a.name, "Morning Workout");
        assert!(!a.has_heartrate && a.max_heartrate.is_none());
    }

    #[test]
    fn a_name_is_cut_at_255_characters() {
        let mut r = recording();
        r.name = Some("é".repeat(10_000));
        let a = from_file(&r, 0, Visibility::Everyone);
        assert_eq!(a.name.chars().count(), 255);
    }
}
