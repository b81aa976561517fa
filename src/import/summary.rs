//! What an import did (SPEC §11): the object `milepost import --json` prints and
//! `GET /strava/import/{id}` answers, and the lines a person reads.

use serde::{Deserialize, Serialize};

use super::local_time::LocalTimeSource;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Activity files and CSV rows read.
    pub files_read: u64,
    pub activities: Counts,
    /// Activities of this import the public may see.
    pub public: u64,
    pub refused: Vec<Refused>,
    pub local_time: LocalTimeCounts,
    pub seconds: f64,
    /// Activities whose sport neither the export nor the file names in a way known here: they
    /// were imported as `Workout`. Told to a person, not part of the JSON object (SPEC §11).
    #[serde(skip)]
    pub unknown_sport: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub new: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Joined with an activity already known from the API or from another file.
    pub merged: u64,
}

/// An input not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub file: String,
    pub reason: String,
}

/// Where each imported activity's local time came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalTimeCounts {
    pub file: u64,
    pub zone_lookup: u64,
    pub athlete_timezone: u64,
    pub strava: u64,
    pub utc: u64,
}

impl LocalTimeCounts {
    pub fn count(&mut self, source: LocalTimeSource) {
        let slot = match source {
            LocalTimeSource::File => &mut self.file,
            LocalTimeSource::ZoneLookup => &mut self.zone_lookup,
            LocalTimeSource::AthleteTimezone => &mut self.athlete_timezone,
            LocalTimeSource::Strava => &mut self.strava,
            LocalTimeSource::Utc => &mut self.utc,
        };
        *slot += 1;
    }
}

impl Summary {
    /// The summary for a person: counts on a few lines, then each refusal on its own.
    pub fn lines(&self, dry_run: bool) -> Vec<String> {
        let a = &self.activities;
        let verb = if dry_run { "would import" } else { "imported" };
        let mut lines = vec![
            format!(
                "{verb}: {} files and rows read in {:.1} s; activities: {} new, {} updated, {} unchanged, {} merged with a known one; {} public",
                self.files_read, self.seconds, a.new, a.updated, a.unchanged, a.merged, self.public
            ),
            format!(
                "local time from: the file {}, the zone at the first position {}, ATHLETE_TIMEZONE {}, Strava's zone {}, UTC {}",
                self.local_time.file,
                self.local_time.zone_lookup,
                self.local_time.athlete_timezone,
                self.local_time.strava,
                self.local_time.utc
            ),
        ];
        if self.unknown_sport > 0 {
            lines.push(format!(
                "{} activities of a sport not known here were imported as Workout",
                self.unknown_sport
            ));
        }
        if !self.refused.is_empty() {
            lines.push(format!("refused {}:", self.refused.len()));
            lines.extend(
                self.refused
                    .iter()
                    .map(|r| format!("  {}: {}", r.file, r.reason)),
            );
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_summary_has_the_shape_the_spec_gives() {
        let mut summary = Summary {
            files_read: 3,
            public: 2,
            seconds: 0.5,
            ..Summary::default()
        };
        summary.activities.new = 2;
        summary.local_time.count(LocalTimeSource::ZoneLookup);
        summary.refused.push(Refused {
            file: "activities.csv:4".into(),
            reason: "no Activity Date".into(),
        });
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "files_read": 3,
                "activities": {"new": 2, "updated": 0, "unchanged": 0, "merged": 0},
                "public": 2,
                "refused": [{"file": "activities.csv:4", "reason": "no Activity Date"}],
                "local_time": {"file": 0, "zone_lookup": 1, "athlete_timezone": 0, "strava": 0, "utc": 0},
                "seconds": 0.5
            })
        );
        assert!(summary.lines(false)[2].starts_with("refused 1"));
    }
}
