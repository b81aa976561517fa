//! The athlete's offset from UTC at an activity's start, and where it came from (SPEC §11
//! "Local time"): every bucket is the athlete's local day, fixed at import.
//!
//! The sources, in order: the file's own offset; the time zone at the first point with
//! coordinates, from an offline zone map (tzf-rs) with the rules of that zone at that instant
//! (chrono-tz, so summer time counts); `ATHLETE_TIMEZONE`; the connected athlete's Strava time
//! zone; UTC. The summary counts how many activities each source placed.

use std::sync::OnceLock;

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use tzf_rs::EmbeddedFinder;

/// No zone has been further from UTC than 14 h; past 18 h a number is no offset at all (a FIT
/// file whose `local_timestamp` was never set, a time with a garbled suffix).
const MAX_OFFSET: i32 = 18 * 3600;
/// Every offset in use since 1972 is a whole number of quarter hours; a file's offset is the
/// difference of two clock readings and may be a second or two off.
const QUARTER_HOUR: i32 = 15 * 60;

/// Where an activity's offset came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalTimeSource {
    /// The file's own offset: FIT `local_timestamp`, or a GPX/TCX time with a non-zero offset.
    File,
    /// The zone at the activity's first position.
    ZoneLookup,
    /// `ATHLETE_TIMEZONE`.
    AthleteTimezone,
    /// The connected athlete's time zone on Strava.
    Strava,
    /// Nothing said otherwise.
    Utc,
}

impl LocalTimeSource {
    /// Every source, in the order they are tried: the summary's keys in its order.
    pub const ALL: [Self; 5] = [
        Self::File,
        Self::ZoneLookup,
        Self::AthleteTimezone,
        Self::Strava,
        Self::Utc,
    ];

    /// The key the summary counts it under (`"local_time": {"file": …, …}`).
    pub fn key(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::ZoneLookup => "zone_lookup",
            Self::AthleteTimezone => "athlete_timezone",
            Self::Strava => "strava",
            Self::Utc => "utc",
        }
    }
}

/// Finds offsets for one import. Build one and share it (`&` or `Arc`) between the threads that
/// read files: the zone map is loaded on the first position asked about, once, and freed with
/// the resolver.
///
/// The map is tzf-rs's [`EmbeddedFinder`] over the bundled lite data: about 4.5 MB resident and
/// under 10 ms to load (release build). Its answers are those of tzf-rs's `DefaultFinder` over
/// the same data (no difference over 3 million points, a dense grid across European borders
/// among them), which costs about 31 MB and 130 ms to load, for lookups no faster at the
/// thousands an import makes. The lite data keeps borders within about 111 m of the true ones.
pub struct LocalTime {
    athlete: Option<Tz>,
    strava: Option<Tz>,
    finder: OnceLock<EmbeddedFinder>,
}

impl LocalTime {
    /// `athlete_timezone` from `ATHLETE_TIMEZONE` ([`parse_zone`]); `strava_timezone` from the
    /// connected athlete's profile ([`parse_strava_timezone`]).
    pub fn new(athlete_timezone: Option<Tz>, strava_timezone: Option<Tz>) -> Self {
        Self {
            athlete: athlete_timezone,
            strava: strava_timezone,
            finder: OnceLock::new(),
        }
    }

    /// The offset in seconds (local − UTC) at `start`, and its source. `file_offset` is the
    /// file's own ([`super::Recording::utc_offset`]); `first_position` is `(latitude,
    /// longitude)` in degrees.
    pub fn offset_at(
        &self,
        start: DateTime<Utc>,
        file_offset: Option<i32>,
        first_position: Option<(f64, f64)>,
    ) -> (i32, LocalTimeSource) {
        if let Some(offset) = file_offset.and_then(plausible) {
            return (offset, LocalTimeSource::File);
        }
        if let Some(zone) = first_position.and_then(|(lat, lng)| self.zone_at(lat, lng)) {
            return (offset_in(zone, start), LocalTimeSource::ZoneLookup);
        }
        if let Some(zone) = self.athlete {
            return (offset_in(zone, start), LocalTimeSource::AthleteTimezone);
        }
        if let Some(zone) = self.strava {
            return (offset_in(zone, start), LocalTimeSource::Strava);
        }
        (0, LocalTimeSource::Utc)
    }

    /// The zone at a position, or `None` where the position is no position: not finite, out of
    /// range, or exactly 0°/0°, which is what devices write before they have a fix (a start in
    /// the Gulf of Guinea is far rarer than a watch that had not found the satellites yet). At
    /// sea the map answers with a nautical zone (`Etc/GMT+2`): that is still a lookup.
    pub fn zone_at(&self, latitude: f64, longitude: f64) -> Option<Tz> {
        let valid = latitude.is_finite()
            && longitude.is_finite()
            && (-90.0..=90.0).contains(&latitude)
            && (-180.0..=180.0).contains(&longitude)
            && (latitude, longitude) != (0.0, 0.0);
        if !valid {
            return None;
        }
        let finder = self.finder.get_or_init(EmbeddedFinder::new);
        // The map and chrono-tz are released apart: a zone one knows and the other not yet
        // falls through to the next source rather than guessing.
        parse_zone(finder.get_tz_name(longitude, latitude))
    }
}

/// An IANA zone name (`Europe/Oslo`), as `ATHLETE_TIMEZONE` gives it.
pub fn parse_zone(name: &str) -> Option<Tz> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    name.parse().ok()
}

/// A Strava time zone label: `(GMT+01:00) Europe/Oslo`, or the bare zone name. A label whose
/// name is unknown but whose offset is a whole number of hours gives the fixed `Etc/GMT` zone of
/// that offset: no summer time, but the right day most of the year.
pub fn parse_strava_timezone(label: &str) -> Option<Tz> {
    let label = label.trim();
    let Some(rest) = label.strip_prefix('(') else {
        return parse_zone(label);
    };
    let (offset, name) = rest.split_once(')')?;
    parse_zone(name).or_else(|| fixed_zone(offset.trim()))
}

/// `GMT+01:00` as `Etc/GMT-1`: the `Etc` names count the other way round.
fn fixed_zone(offset: &str) -> Option<Tz> {
    let offset = offset
        .strip_prefix("GMT")
        .or_else(|| offset.strip_prefix("UTC"))?;
    if offset.is_empty() {
        return parse_zone("Etc/GMT");
    }
    let (sign, clock) = offset.split_at_checked(1)?;
    let (hours, minutes) = clock.split_once(':').unwrap_or((clock, "00"));
    let hours: i32 = hours.parse().ok()?;
    let minutes: i32 = minutes.parse().ok()?;
    if minutes != 0 {
        return None;
    }
    match (sign, hours) {
        (_, 0) => parse_zone("Etc/GMT"),
        ("+", h) => parse_zone(&format!("Etc/GMT-{h}")),
        ("-", h) => parse_zone(&format!("Etc/GMT+{h}")),
        _ => None,
    }
}

/// The zone's offset at that instant, summer time included.
fn offset_in(zone: Tz, at: DateTime<Utc>) -> i32 {
    let offset = zone
        .offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc();
    offset.clamp(-MAX_OFFSET, MAX_OFFSET)
}

/// A file's offset rounded to the quarter hour, or `None` when it cannot be one.
fn plausible(offset: i32) -> Option<i32> {
    if !(-MAX_OFFSET..=MAX_OFFSET).contains(&offset) {
        return None;
    }
    Some((offset + QUARTER_HOUR / 2).div_euclid(QUARTER_HOUR) * QUARTER_HOUR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America, Europe};
    use std::sync::LazyLock;

    /// One resolver for every test that looks a position up, as an import shares one.
    static WITH_MAP: LazyLock<LocalTime> = LazyLock::new(|| LocalTime::new(None, None));

    const OSLO: (f64, f64) = (59.9, 10.7);
    const NEW_YORK: (f64, f64) = (40.71, -74.0);
    /// The middle of the North Atlantic, west of the Azores.
    const AT_SEA: (f64, f64) = (40.0, -35.0);

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    fn summer() -> DateTime<Utc> {
        at("2024-07-01T08:00:00Z")
    }

    fn winter() -> DateTime<Utc> {
        at("2024-01-15T08:00:00Z")
    }

    #[test]
    fn oslo_is_two_hours_ahead_in_summer_and_one_in_winter() {
        assert_eq!(
            WITH_MAP.offset_at(summer(), None, Some(OSLO)),
            (7200, LocalTimeSource::ZoneLookup)
        );
        assert_eq!(
            WITH_MAP.offset_at(winter(), None, Some(OSLO)),
            (3600, LocalTimeSource::ZoneLookup)
        );
    }

    #[test]
    fn new_york_is_behind_by_four_hours_in_summer_and_five_in_winter() {
        assert_eq!(
            WITH_MAP.zone_at(NEW_YORK.0, NEW_YORK.1),
            Some(America::New_York)
        );
        assert_eq!(
            WITH_MAP.offset_at(summer(), None, Some(NEW_YORK)),
            (-4 * 3600, LocalTimeSource::ZoneLookup)
        );
        assert_eq!(
            WITH_MAP.offset_at(winter(), None, Some(NEW_YORK)),
            (-5 * 3600, LocalTimeSource::ZoneLookup)
        );
    }

    #[test]
    fn the_change_to_summer_time_is_taken_at_its_instant() {
        // Europe switched on 31 March 2024 at 01:00 UTC.
        let before = at("2024-03-31T00:59:59Z");
        let after = at("2024-03-31T01:00:00Z");

        assert_eq!(WITH_MAP.offset_at(before, None, Some(OSLO)).0, 3600);
        assert_eq!(WITH_MAP.offset_at(after, None, Some(OSLO)).0, 7200);
    }

    #[test]
    fn a_start_at_sea_takes_the_nautical_zone_as_a_lookup() {
        let (offset, source) = WITH_MAP.offset_at(summer(), None, Some(AT_SEA));

        assert_eq!(source, LocalTimeSource::ZoneLookup);
        assert_eq!(offset, -2 * 3600);
    }

    #[test]
    fn the_files_own_offset_comes_first() {
        let local = LocalTime::new(Some(America::New_York), Some(America::New_York));

        assert_eq!(
            local.offset_at(summer(), Some(-3 * 3600), Some(OSLO)),
            (-3 * 3600, LocalTimeSource::File)
        );
        assert_eq!(
            local.offset_at(summer(), Some(5 * 3600 + 45 * 60), None),
            (20700, LocalTimeSource::File),
            "Nepal's quarter hour is kept"
        );
        assert_eq!(
            local.offset_at(summer(), Some(3599), None),
            (3600, LocalTimeSource::File),
            "a second's skew between two clock readings is no offset"
        );
        assert_eq!(local.offset_at(summer(), Some(-3601), None).0, -3600);
    }

    #[test]
    fn a_file_offset_past_eighteen_hours_is_no_offset_at_all() {
        let (offset, source) = WITH_MAP.offset_at(summer(), Some(-1_000_000_000), Some(OSLO));

        assert_eq!((offset, source), (7200, LocalTimeSource::ZoneLookup));
    }

    #[test]
    fn positions_that_are_no_positions_fall_through_to_the_athletes_zone() {
        let local = LocalTime::new(Some(Europe::Berlin), None);

        for nowhere in [
            (f64::NAN, 10.0),
            (59.9, f64::INFINITY),
            (91.0, 10.0),
            (59.9, -180.5),
            (0.0, 0.0),
        ] {
            assert_eq!(
                local.offset_at(summer(), None, Some(nowhere)),
                (7200, LocalTimeSource::AthleteTimezone),
                "{nowhere:?}"
            );
        }
    }

    #[test]
    fn without_a_position_the_athletes_zone_comes_before_stravas() {
        let local = LocalTime::new(Some(Europe::Berlin), Some(America::New_York));

        assert_eq!(
            local.offset_at(winter(), None, None),
            (3600, LocalTimeSource::AthleteTimezone)
        );
    }

    #[test]
    fn without_the_athletes_zone_stravas_is_taken() {
        let local = LocalTime::new(None, Some(America::New_York));

        assert_eq!(
            local.offset_at(winter(), None, None),
            (-5 * 3600, LocalTimeSource::Strava)
        );
    }

    #[test]
    fn with_nothing_to_go_on_the_day_is_utcs() {
        let local = LocalTime::new(None, None);

        assert_eq!(
            local.offset_at(winter(), None, None),
            (0, LocalTimeSource::Utc)
        );
    }

    #[test]
    fn stravas_labels_are_read() {
        assert_eq!(
            parse_strava_timezone("(GMT+01:00) Europe/Oslo"),
            Some(Europe::Oslo)
        );
        assert_eq!(
            parse_strava_timezone(" (GMT-05:00) America/New_York "),
            Some(America::New_York)
        );
        assert_eq!(
            parse_strava_timezone("(GMT+05:30) Asia/Kolkata"),
            Some(chrono_tz::Asia::Kolkata)
        );
        assert_eq!(parse_strava_timezone("Europe/Oslo"), Some(Europe::Oslo));
        assert_eq!(
            parse_strava_timezone("(GMT+02:00) Somewhere/Unknown"),
            Some(chrono_tz::Etc::GMTMinus2)
        );
        assert_eq!(
            parse_strava_timezone("(GMT+00:00) Somewhere/Unknown"),
            Some(chrono_tz::Etc::GMT)
        );
        assert_eq!(parse_strava_timezone("(GMT+05:30) Somewhere/Unknown"), None);
        assert_eq!(parse_strava_timezone("(GMT+01:00"), None);
        assert_eq!(parse_strava_timezone(""), None);
    }

    #[test]
    fn athlete_timezone_takes_iana_names_only() {
        assert_eq!(parse_zone(" Europe/Oslo\n"), Some(Europe::Oslo));
        assert_eq!(parse_zone("Mars/Olympus_Mons"), None);
        assert_eq!(parse_zone("+01:00"), None);
        assert_eq!(parse_zone(""), None);
    }

    #[test]
    fn every_source_has_the_summarys_key() {
        let keys: Vec<_> = LocalTimeSource::ALL.iter().map(|s| s.key()).collect();

        assert_eq!(
            keys,
            ["file", "zone_lookup", "athlete_timezone", "strava", "utc"]
        );
    }

    #[test]
    fn the_resolver_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<LocalTime>();
    }
}
