//! A plain public activity for the unit tests of the stats: sane values, UTC, Everyone.

use crate::strava::models::Activity;

/// Activity `id` of legacy and sport type `kind`, starting at `local` (also its UTC start),
/// `distance` metres long.
pub fn activity(id: i64, kind: &str, local: &str, distance: f64) -> Activity {
    Activity {
        id,
        name: format!("Activity {id}"),
        kind: kind.into(),
        sport_type: kind.into(),
        distance,
        moving_time: 600,
        elapsed_time: 700,
        total_elevation_gain: 10.0,
        start_date: local.into(),
        start_date_local: local.into(),
        timezone: "(GMT+00:00) UTC".into(),
        utc_offset: 0.0,
        private: false,
        visibility: "everyone".into(),
        average_speed: 2.5,
        max_speed: 4.0,
        has_heartrate: false,
        average_heartrate: None,
        max_heartrate: None,
        heartrate_opt_out: false,
        kudos_count: 0,
    }
}
