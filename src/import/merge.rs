//! One activity, whatever the source (SPEC §11). An export row carries Strava's activity id, so
//! its copy and the API's are one activity. A file without an id is the same activity as a
//! known one when the sport family matches, the starts are within 120 s and the elapsed times
//! within 10 %; otherwise it gets an id of its own, negative (never a Strava id), within
//! JavaScript's safe integers and the same for the same content.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::sport::{Family, family};
use crate::strava::models::Activity;

/// The sport of an activity nothing names a sport for ([`super::build::UNKNOWN_SPORT`]).
const UNNAMED_SPORT: &str = super::build::UNKNOWN_SPORT;
/// How far apart two starts of one activity may be.
pub const START_TOLERANCE_SECS: i64 = 120;
/// How far apart two elapsed times of one activity may be, as a share of the longer.
pub const ELAPSED_TOLERANCE: f64 = 0.10;
/// JavaScript's largest safe integer (2^53 − 1): ids beyond it would be rounded in a browser.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// An activity already known, as far as merging needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub id: i64,
    pub sport_type: String,
    pub start: DateTime<Utc>,
    pub elapsed_time: i64,
}

impl Known {
    /// What merging needs of an activity; `None` when its start cannot be read.
    pub fn of(activity: &Activity) -> Option<Known> {
        Some(Known {
            id: activity.id,
            sport_type: activity.sport_type.clone(),
            start: DateTime::parse_from_rfc3339(&activity.start_date)
                .ok()?
                .with_timezone(&Utc),
            elapsed_time: activity.elapsed_time,
        })
    }
}

/// Every known activity, by id and by start, growing as an import goes on (so two files of one
/// activity in one import are one activity too).
#[derive(Debug, Default)]
pub struct Index {
    by_id: HashMap<i64, Known>,
    by_start: BTreeMap<i64, Vec<i64>>,
}

impl Index {
    pub fn new(known: impl IntoIterator<Item = Known>) -> Self {
        let mut index = Self::default();
        for k in known {
            index.insert(k);
        }
        index
    }

    pub fn contains(&self, id: i64) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Forgets a known activity (a file's copy an export row took the place of).
    pub fn remove(&mut self, id: i64) {
        if let Some(old) = self.by_id.remove(&id)
            && let Some(ids) = self.by_start.get_mut(&old.start.timestamp())
        {
            ids.retain(|&known| known != id);
        }
    }

    /// Adds (or replaces) a known activity.
    pub fn insert(&mut self, known: Known) {
        self.remove(known.id);
        self.by_start
            .entry(known.start.timestamp())
            .or_default()
            .push(known.id);
        self.by_id.insert(known.id, known);
    }

    /// The known activity a file without an id records, if any: the same sport family, a start
    /// within [`START_TOLERANCE_SECS`] and an elapsed time within [`ELAPSED_TOLERANCE`]; the
    /// nearest start wins.
    pub fn matching(
        &self,
        sport_type: &str,
        start: DateTime<Utc>,
        elapsed_time: i64,
    ) -> Option<i64> {
        self.matching_among(sport_type, start, elapsed_time, |_| true)
    }

    /// [`Index::matching`] among the activities whose id `keep` accepts.
    pub fn matching_among(
        &self,
        sport_type: &str,
        start: DateTime<Utc>,
        elapsed_time: i64,
        keep: impl Fn(i64) -> bool,
    ) -> Option<i64> {
        let t = start.timestamp();
        let wanted = family(sport_type);
        self.by_start
            .range(t.saturating_sub(START_TOLERANCE_SECS)..=t.saturating_add(START_TOLERANCE_SECS))
            .flat_map(|(&at, ids)| ids.iter().map(move |&id| (at.abs_diff(t), id)))
            .filter(|&(_, id)| {
                keep(id)
                    && self.by_id.get(&id).is_some_and(|k| {
                        same_family(wanted, &k.sport_type, sport_type)
                            && elapsed_close(k.elapsed_time, elapsed_time)
                    })
            })
            .min()
            .map(|(_, id)| id)
    }
}

/// The run family joins runs, the ride family rides; other sports join only the same sport.
/// `Workout` — what an activity whose file names no sport becomes (a swim in a TCX says
/// `Other`) — joins any sport: it says nothing against it.
fn same_family(wanted: Family, known: &str, sport_type: &str) -> bool {
    if known == UNNAMED_SPORT || sport_type == UNNAMED_SPORT {
        return true;
    }
    match (wanted, family(known)) {
        (Family::Other, Family::Other) => known == sport_type,
        (a, b) => a == b,
    }
}

fn elapsed_close(a: i64, b: i64) -> bool {
    let longer = a.max(b) as f64;
    (a - b).abs() as f64 <= longer * ELAPSED_TOLERANCE
}

/// The id of an activity known only from a file: from the file's SHA-256, negative and within
/// JavaScript's safe integers, never 0.
pub fn file_id(sha256: &[u8; 32]) -> i64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&sha256[..8]);
    let n = u64::from_be_bytes(head) % MAX_SAFE_INTEGER;
    // n < 2^53 − 1, so n + 1 fits an i64
    -((n + 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn known(id: i64, sport: &str, start_secs: i64, elapsed: i64) -> Known {
        Known {
            id,
            sport_type: sport.into(),
            start: Utc.timestamp_opt(1_700_000_000 + start_secs, 0).unwrap(),
            elapsed_time: elapsed,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_file_joins_the_activity_of_its_family_near_its_start() {
        let index = Index::new([known(1, "Run", 0, 3600), known(2, "Ride", 30, 3600)]);
        // a trail run is a run: same family
        assert_eq!(index.matching("TrailRun", at(100), 3500), Some(1));
        assert_eq!(index.matching("GravelRide", at(-60), 3700), Some(2));
        // 121 s away, or elapsed 11 % apart: another activity
        assert_eq!(index.matching("Run", at(121), 3600), None);
        assert_eq!(index.matching("Run", at(0), 3600 + 401), None);
        assert_eq!(index.matching("Run", at(0), 3600 + 399), Some(1));
        assert_eq!(index.matching("Swim", at(0), 3600), None);
    }

    #[test]
    fn other_sports_join_only_the_same_sport_and_the_nearest_start_wins() {
        let index = Index::new([
            known(1, "Yoga", 0, 1800),
            known(2, "Walk", 0, 1800),
            known(3, "Walk", 50, 1800),
        ]);
        assert_eq!(index.matching("Walk", at(45), 1800), Some(3));
        assert_eq!(index.matching("Yoga", at(45), 1800), Some(1));
        assert_eq!(index.matching("Hike", at(0), 1800), None);
        // A file naming no sport is a Workout, which says nothing against any sport
        assert_eq!(index.matching("Workout", at(45), 1800), Some(3));
        let swim = Index::new([known(7, "Swim", 0, 1800)]);
        assert_eq!(swim.matching("Workout", at(10), 1790), Some(7));
    }

    #[test]
    fn an_activity_added_during_an_import_is_found_and_a_replaced_one_moves() {
        let mut index = Index::default();
        index.insert(known(-5, "Ride", 0, 600));
        assert_eq!(index.matching("Ride", at(10), 600), Some(-5));
        index.insert(known(-5, "Ride", 1000, 600));
        assert_eq!(index.matching("Ride", at(10), 600), None);
        assert_eq!(index.matching("Ride", at(1010), 600), Some(-5));
        assert!(index.contains(-5));
        assert_eq!(
            index.matching_among("Ride", at(1010), 600, |id| id > 0),
            None
        );
        index.remove(-5);
        assert_eq!(index.matching("Ride", at(1010), 600), None);
    }

    #[test]
    fn file_ids_are_negative_safe_integers_stable_for_the_content() {
        for bytes in [[0u8; 32], [0xff; 32], [0x7f; 32]] {
            let id = file_id(&bytes);
            assert!(id < 0 && id >= -(MAX_SAFE_INTEGER as i64), "{id}");
            assert_eq!(id, file_id(&bytes));
        }
        assert_ne!(file_id(&[1; 32]), file_id(&[2; 32]));
    }
}
