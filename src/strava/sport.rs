//! Strava's names for sports: every `sport_type` and every legacy `type` its API sends. The one
//! list milepost keeps of them: the importer maps names found in files onto it, and the read
//! routes take a sport parameter only from it (SPEC §5: a made-up sport is never a cache key).
//! Strava's names are exact: `Run` is a sport, `run` is not.

/// Every `sport_type` Strava's API knows (each legacy `type` among them).
pub const SPORT_TYPES: [&str; 50] = [
    "AlpineSki",
    "BackcountrySki",
    "Badminton",
    "Canoeing",
    "Crossfit",
    "EBikeRide",
    "Elliptical",
    "EMountainBikeRide",
    "Golf",
    "GravelRide",
    "Handcycle",
    "HighIntensityIntervalTraining",
    "Hike",
    "IceSkate",
    "InlineSkate",
    "Kayaking",
    "Kitesurf",
    "MountainBikeRide",
    "NordicSki",
    "Pickleball",
    "Pilates",
    "Racquetball",
    "Ride",
    "RockClimbing",
    "RollerSki",
    "Rowing",
    "Run",
    "Sail",
    "Skateboard",
    "Snowboard",
    "Snowshoe",
    "Soccer",
    "Squash",
    "StairStepper",
    "StandUpPaddling",
    "Surfing",
    "Swim",
    "TableTennis",
    "Tennis",
    "TrailRun",
    "Velomobile",
    "VirtualRide",
    "VirtualRow",
    "VirtualRun",
    "Walk",
    "WeightTraining",
    "Wheelchair",
    "Windsurf",
    "Workout",
    "Yoga",
];

/// The legacy `type`s: Strava's list before `sport_type` split it (2022).
pub const LEGACY_TYPES: [&str; 37] = [
    "AlpineSki",
    "BackcountrySki",
    "Canoeing",
    "Crossfit",
    "EBikeRide",
    "Elliptical",
    "Golf",
    "Handcycle",
    "Hike",
    "IceSkate",
    "InlineSkate",
    "Kayaking",
    "Kitesurf",
    "NordicSki",
    "Ride",
    "RockClimbing",
    "RollerSki",
    "Rowing",
    "Run",
    "Sail",
    "Skateboard",
    "Snowboard",
    "Snowshoe",
    "Soccer",
    "StairStepper",
    "StandUpPaddling",
    "Surfing",
    "Swim",
    "Velomobile",
    "VirtualRide",
    "VirtualRun",
    "Walk",
    "WeightTraining",
    "Wheelchair",
    "Windsurf",
    "Workout",
    "Yoga",
];

/// Whether `name` is one of Strava's `sport_type` or legacy `type` values, exactly as Strava
/// spells it.
pub fn is_known(name: &str) -> bool {
    SPORT_TYPES.contains(&name) || LEGACY_TYPES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_legacy_type_is_a_sport_type() {
        for legacy in LEGACY_TYPES {
            assert!(SPORT_TYPES.contains(&legacy), "{legacy}");
        }
    }

    #[test]
    fn only_stravas_own_spellings_are_known() {
        for known in [
            "Run",
            "TrailRun",
            "Ride",
            "Kitesurf",
            "VirtualRow",
            "Workout",
        ] {
            assert!(is_known(known), "{known}");
        }
        for unknown in [
            "",
            "run",
            "RUN",
            " Run",
            "Run ",
            "Lauf",
            "Trail Run",
            "x".repeat(4_096).as_str(),
        ] {
            assert!(!is_known(unknown), "{unknown:?}");
        }
    }
}
