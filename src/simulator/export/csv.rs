//! `activities.csv` in the real 94-column English layout, and `bikes.csv` / `shoes.csv`.

use std::collections::HashMap;
use std::io;

use chrono::DateTime;

use super::file::FileKind;
use crate::simulator::generator::SimActivity;
use crate::simulator::render::AthleteProfile;

/// The header of a real 94-column English `activities.csv`, in order (names repeat: readers go
/// by position).
pub const ACTIVITIES_CSV_HEADER: [&str; 94] = [
    "Activity ID",
    "Activity Date",
    "Activity Name",
    "Activity Type",
    "Activity Description",
    "Elapsed Time",
    "Distance",
    "Max Heart Rate",
    "Relative Effort",
    "Commute",
    "Activity Private Note",
    "Activity Gear",
    "Filename",
    "Athlete Weight",
    "Bike Weight",
    "Elapsed Time",
    "Moving Time",
    "Distance",
    "Max Speed",
    "Average Speed",
    "Elevation Gain",
    "Elevation Loss",
    "Elevation Low",
    "Elevation High",
    "Max Grade",
    "Average Grade",
    "Average Positive Grade",
    "Average Negative Grade",
    "Max Cadence",
    "Average Cadence",
    "Max Heart Rate",
    "Average Heart Rate",
    "Max Watts",
    "Average Watts",
    "Calories",
    "Max Temperature",
    "Average Temperature",
    "Relative Effort",
    "Total Work",
    "Number of Runs",
    "Uphill Time",
    "Downhill Time",
    "Other Time",
    "Perceived Exertion",
    "Type",
    "Start Time",
    "Weighted Average Power",
    "Power Count",
    "Prefer Perceived Exertion",
    "Perceived Relative Effort",
    "Commute",
    "Total Weight Lifted",
    "From Upload",
    "Grade Adjusted Distance",
    "Weather Observation Time",
    "Weather Condition",
    "Weather Temperature",
    "Apparent Temperature",
    "Dewpoint",
    "Humidity",
    "Weather Pressure",
    "Wind Speed",
    "Wind Gust",
    "Wind Bearing",
    "Precipitation Intensity",
    "Sunrise Time",
    "Sunset Time",
    "Moon Phase",
    "Bike",
    "Gear",
    "Precipitation Probability",
    "Precipitation Type",
    "Cloud Cover",
    "Weather Visibility",
    "UV Index",
    "Weather Ozone",
    "Jump Count",
    "Total Grit",
    "Average Flow",
    "Flagged",
    "Average Elapsed Speed",
    "Dirt Distance",
    "Newly Explored Distance",
    "Newly Explored Dirt Distance",
    "Activity Count",
    "Total Steps",
    "Carbon Saved",
    "Pool Length",
    "Training Load",
    "Intensity",
    "Average Grade Adjusted Pace",
    "Timer Time",
    "Total Cycles",
    "Media",
];

/// Positions in [`ACTIVITIES_CSV_HEADER`] of the columns the simulator fills.
pub(super) mod col {
    pub const ID: usize = 0;
    pub const DATE: usize = 1;
    pub const NAME: usize = 2;
    pub const TYPE: usize = 3;
    pub const DESCRIPTION: usize = 4;
    pub const ELAPSED_DISPLAY: usize = 5;
    pub const DISTANCE_DISPLAY: usize = 6;
    pub const MAX_HEART_RATE_DISPLAY: usize = 7;
    pub const RELATIVE_EFFORT_DISPLAY: usize = 8;
    pub const COMMUTE_DISPLAY: usize = 9;
    pub const GEAR: usize = 11;
    pub const FILENAME: usize = 12;
    pub const ATHLETE_WEIGHT: usize = 13;
    pub const ELAPSED: usize = 15;
    pub const MOVING: usize = 16;
    pub const DISTANCE: usize = 17;
    pub const MAX_SPEED: usize = 18;
    pub const AVERAGE_SPEED: usize = 19;
    pub const ELEVATION_GAIN: usize = 20;
    pub const ELEVATION_LOSS: usize = 21;
    pub const ELEVATION_LOW: usize = 22;
    pub const ELEVATION_HIGH: usize = 23;
    pub const AVERAGE_CADENCE: usize = 29;
    pub const MAX_HEART_RATE: usize = 30;
    pub const AVERAGE_HEART_RATE: usize = 31;
    pub const CALORIES: usize = 34;
    pub const AVERAGE_TEMPERATURE: usize = 36;
    pub const RELATIVE_EFFORT: usize = 37;
    pub const COMMUTE: usize = 50;
    pub const FROM_UPLOAD: usize = 52;
    pub const FLAGGED: usize = 79;
    pub const AVERAGE_ELAPSED_SPEED: usize = 80;
}

/// The athlete's weight as `GET /athlete` reports it, kilograms.
const ATHLETE_WEIGHT_KG: &str = "61.5";

/// One row of `activities.csv`.
pub(super) fn row(a: &SimActivity, gear: &Gear) -> Vec<String> {
    let mut row = vec![String::new(); ACTIVITIES_CSV_HEADER.len()];
    row[col::ID] = a.id.to_string();
    row[col::DATE] = a.start_date.format("%b %-d, %Y, %-I:%M:%S %p").to_string();
    row[col::NAME] = a.name.clone();
    row[col::TYPE] = display_name(&a.sport_type);
    row[col::DESCRIPTION] = a.description.clone().unwrap_or_default();
    row[col::ELAPSED_DISPLAY] = a.elapsed_time.to_string();
    row[col::DISTANCE_DISPLAY] = format!("{:.2}", a.distance / 1000.0);
    row[col::COMMUTE_DISPLAY] = a.commute.to_string();
    row[col::GEAR] = a
        .gear_id
        .as_deref()
        .and_then(|id| gear.name(id))
        .unwrap_or_default()
        .to_string();
    row[col::FILENAME] = FileKind::of(a)
        .map(|kind| super::file::filename(a, kind))
        .unwrap_or_default();
    row[col::ATHLETE_WEIGHT] = ATHLETE_WEIGHT_KG.to_string();
    row[col::ELAPSED] = number(a.elapsed_time as f64);
    row[col::MOVING] = number(a.moving_time as f64);
    row[col::DISTANCE] = number(a.distance);
    row[col::MAX_SPEED] = number(a.max_speed);
    row[col::AVERAGE_SPEED] = number(a.average_speed());
    row[col::ELEVATION_GAIN] = number(a.total_elevation_gain);
    if a.start_latlng.is_some() || a.elev_high > a.elev_low {
        // The recorded loops end where they began: as much down as up.
        row[col::ELEVATION_LOSS] = number(a.total_elevation_gain);
        row[col::ELEVATION_LOW] = number(a.elev_low);
        row[col::ELEVATION_HIGH] = number(a.elev_high);
    }
    row[col::AVERAGE_CADENCE] = a.average_cadence.map(number).unwrap_or_default();
    if let (Some(average), Some(max)) = (a.average_heartrate, a.max_heartrate) {
        row[col::MAX_HEART_RATE_DISPLAY] = number(max);
        row[col::MAX_HEART_RATE] = number(max);
        row[col::AVERAGE_HEART_RATE] = number(average);
    }
    if let Some(score) = a.suffer_score {
        row[col::RELATIVE_EFFORT_DISPLAY] = number(score);
        row[col::RELATIVE_EFFORT] = number(score);
    }
    row[col::CALORIES] = number(a.calories);
    row[col::AVERAGE_TEMPERATURE] = a.average_temp.map(|t| number(t as f64)).unwrap_or_default();
    row[col::COMMUTE] = flag(a.commute);
    row[col::FROM_UPLOAD] = flag(FileKind::of(a).is_some());
    row[col::FLAGGED] = flag(a.flagged);
    if a.elapsed_time > 0 {
        row[col::AVERAGE_ELAPSED_SPEED] = number(a.distance / a.elapsed_time as f64);
    }
    row
}

/// Shortest text that reads back as the same `f64` (Rust's `{}`), with the `.0` Strava writes on
/// whole numbers; empty for a value that is not finite.
pub(super) fn number(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let text = x.to_string();
    if text.contains('.') {
        text
    } else {
        text + ".0"
    }
}

/// The SI block writes flags as numbers.
fn flag(on: bool) -> String {
    if on { "1.0" } else { "0.0" }.to_string()
}

/// Strava's English display name of a `sport_type`; one it does not list is split at its
/// capitals (`SomeNewSport` → `Some New Sport`).
pub fn display_name(sport_type: &str) -> String {
    let known = match sport_type {
        "AlpineSki" => "Alpine Ski",
        "BackcountrySki" => "Backcountry Ski",
        "Canoeing" => "Canoe",
        "EBikeRide" => "E-Bike Ride",
        "EMountainBikeRide" => "E-Mountain Bike Ride",
        "GravelRide" => "Gravel Ride",
        "HighIntensityIntervalTraining" => "HIIT",
        "IceSkate" => "Ice Skate",
        "InlineSkate" => "Inline Skate",
        "MountainBikeRide" => "Mountain Bike Ride",
        "NordicSki" => "Nordic Ski",
        "RockClimbing" => "Rock Climb",
        "RollerSki" => "Roller Ski",
        "Sail" => "Sail",
        "Soccer" => "Football (Soccer)",
        "StairStepper" => "Stair-Stepper",
        "StandUpPaddling" => "Stand Up Paddling",
        "Surfing" => "Surfing",
        "TableTennis" => "Table Tennis",
        "TrailRun" => "Trail Run",
        "VirtualRide" => "Virtual Ride",
        "VirtualRow" => "Virtual Row",
        "VirtualRun" => "Virtual Run",
        "WeightTraining" => "Weight Training",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let mut out = String::with_capacity(sport_type.len() + 4);
    for (i, c) in sport_type.chars().enumerate() {
        if i > 0 && c.is_uppercase() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The athlete's bikes and shoes as `GET /athlete` lists them: one source for both.
pub(super) struct Gear {
    pub(super) bikes: Vec<GearItem>,
    pub(super) shoes: Vec<GearItem>,
    names: HashMap<String, String>,
}

pub(super) struct GearItem {
    name: String,
    primary: bool,
}

impl Gear {
    pub(super) fn of_athlete() -> Gear {
        let athlete = AthleteProfile { id: 0 }.detailed(DateTime::UNIX_EPOCH);
        let mut names = HashMap::new();
        let mut list = |key: &str| -> Vec<GearItem> {
            let items = athlete[key].as_array().cloned().unwrap_or_default();
            items
                .iter()
                .filter_map(|g| {
                    let id = g["id"].as_str()?;
                    let name = g["name"].as_str()?;
                    names.insert(id.to_string(), name.to_string());
                    Some(GearItem {
                        name: name.to_string(),
                        primary: g["primary"].as_bool().unwrap_or(false),
                    })
                })
                .collect()
        };
        let bikes = list("bikes");
        let shoes = list("shoes");
        Gear {
            bikes,
            shoes,
            names,
        }
    }

    fn name(&self, id: &str) -> Option<&str> {
        self.names.get(id).map(String::as_str)
    }

    /// `bikes.csv` or `shoes.csv` (`kind` `Bike` or `Shoe`): the primary bike is the default for
    /// rides, the primary shoes for runs.
    pub(super) fn csv(&self, kind: &str, items: &[GearItem]) -> io::Result<String> {
        let mut csv = ::csv::Writer::from_writer(Vec::new());
        csv.write_record([
            format!("{kind} Name"),
            format!("{kind} Brand"),
            format!("{kind} Model"),
            format!("{kind} Default Sport Types"),
        ])?;
        let default_sport = if kind == "Bike" { "Ride" } else { "Run" };
        for item in items {
            let defaults = if item.primary { default_sport } else { "" };
            csv.write_record([item.name.as_str(), "", "", defaults])?;
        }
        let bytes = csv.into_inner().map_err(|e| e.into_error())?;
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}
