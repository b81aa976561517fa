//! TCX (Garmin's Training Center Database) activity files into a [`Recording`] (SPEC §11
//! "Figures from files").
//!
//! The points are the `Trackpoint`s of every `Activity` (`Time`, `Position`, `AltitudeMeters`,
//! the device's cumulative `DistanceMeters`, `HeartRateBpm/Value`); a file of courses only is
//! refused, as is one without a timed point. The device's own totals win over the points' where
//! the file has them: the laps' `DistanceMeters` summed (else the last cumulative
//! `DistanceMeters`) for distance, the laps' `TotalTimeSeconds` summed for elapsed time. The
//! start is the `Activity`'s `Id` (a time in TCX), else the first lap's `StartTime`, else the
//! first point's time; `Sport` names the sport. Other figures follow [`figures`].
//!
//! Strava writes TCX files with blanks before the XML declaration: accepted, like prefixes and
//! unknown elements (the walk is [`gpx::walk`](super::gpx)'s).

use chrono::{DateTime, Utc};
use quick_xml::events::BytesStart;

use super::figures::{self, Figures, Point};
use super::gpx::{Visit, attribute, ends_with, time_of, walk};
use super::sport::sport_type_of;
use super::{Recording, Refusal};

/// Reads one TCX file.
pub fn read(bytes: &[u8]) -> Result<Recording, Refusal> {
    let mut tcx = Tcx::default();
    walk(bytes, "TrainingCenterDatabase", "TCX", &mut tcx)?;
    if !tcx.points.iter().any(|p| p.time.is_some()) {
        return Err(Refusal::new(if tcx.activities == 0 && tcx.courses > 0 {
            "a course, not an activity"
        } else {
            "no track points with times"
        }));
    }
    let mut figures = Figures::of(&tcx.points);
    let Some((start, offset)) = tcx.id.or(tcx.first_lap_start).or(tcx.first_point_time) else {
        return Err(Refusal::new("no track points with times"));
    };
    if let Some(seconds) = tcx.laps.total_time() {
        figures.elapsed_time = figures::whole_seconds(seconds);
    }
    if let Some(metres) = tcx.laps.total_distance().or(tcx.last_cumulative_distance()) {
        figures.distance = metres;
    }
    Ok(Recording {
        sport_type: tcx.sport.as_deref().and_then(sport_type_of),
        start,
        utc_offset: (offset != 0).then_some(offset),
        first_position: figures.first_position,
        distance: figures.distance,
        moving_time: figures.moving_time,
        elapsed_time: figures.elapsed_time,
        elevation_gain: figures.elevation_gain,
        max_speed: figures.max_speed,
        average_heartrate: figures.average_heartrate,
        max_heartrate: figures.max_heartrate,
        name: None,
    })
}

type Time = (DateTime<Utc>, i32);

#[derive(Default)]
struct Tcx {
    activities: usize,
    courses: usize,
    /// The first activity's `Sport`.
    sport: Option<String>,
    id: Option<Time>,
    first_lap_start: Option<Time>,
    first_point_time: Option<Time>,
    laps: Laps,
    points: Vec<Point>,
    /// The trackpoint being read, and its latitude until its longitude comes.
    point: Option<Point>,
    latitude: Option<String>,
}

impl Tcx {
    fn last_cumulative_distance(&self) -> Option<f64> {
        self.points.iter().rev().find_map(|p| p.distance)
    }
}

/// The laps' own totals; a total counts only when every lap states it, since a lap without one
/// would make the sum short.
#[derive(Default)]
struct Laps {
    count: usize,
    time: f64,
    timed: usize,
    distance: f64,
    measured: usize,
}

impl Laps {
    fn add_time(&mut self, text: &str) {
        if let Some(seconds) = figures::measure(text) {
            self.time += seconds;
            self.timed += 1;
        }
    }

    fn add_distance(&mut self, text: &str) {
        if let Some(metres) = figures::measure(text) {
            self.distance += metres;
            self.measured += 1;
        }
    }

    fn total_time(&self) -> Option<f64> {
        (self.count > 0 && self.timed == self.count).then_some(self.time)
    }

    fn total_distance(&self) -> Option<f64> {
        (self.count > 0 && self.measured == self.count).then_some(self.distance)
    }
}

impl Visit for Tcx {
    fn open(&mut self, path: &[String], element: &BytesStart<'_>) -> Result<(), Refusal> {
        match path.last().map(String::as_str) {
            Some("Activity") => {
                self.activities += 1;
                if self.activities == 1 {
                    self.sport = attribute(element, "Sport")?;
                }
            }
            Some("Course") => self.courses += 1,
            Some("Lap") if in_activity(path) => {
                self.laps.count += 1;
                if let Some(text) = attribute(element, "StartTime")? {
                    let start = time_of(&text)?;
                    self.first_lap_start.get_or_insert(start);
                }
            }
            Some("Trackpoint") if in_activity(path) => self.point = Some(Point::default()),
            _ => {}
        }
        Ok(())
    }

    fn close(&mut self, path: &[String], text: &str) -> Result<(), Refusal> {
        if !in_activity(path) {
            return Ok(());
        }
        if ends_with(path, &["Activity", "Id"]) && !text.trim().is_empty() {
            let id = time_of(text)?;
            self.id.get_or_insert(id);
        } else if ends_with(path, &["Lap", "TotalTimeSeconds"]) {
            self.laps.add_time(text);
        } else if ends_with(path, &["Lap", "DistanceMeters"]) {
            self.laps.add_distance(text);
        }
        let Some(point) = self.point.as_mut() else {
            return Ok(());
        };
        if ends_with(path, &["Trackpoint", "Time"]) && !text.trim().is_empty() {
            let time = time_of(text)?;
            point.time = Some(time.0);
            self.first_point_time.get_or_insert(time);
        } else if ends_with(path, &["Position", "LatitudeDegrees"]) {
            self.latitude = Some(text.to_owned());
        } else if ends_with(path, &["Position", "LongitudeDegrees"]) {
            if let Some(latitude) = self.latitude.take() {
                point.position = figures::position(&latitude, text);
            }
        } else if ends_with(path, &["Trackpoint", "AltitudeMeters"]) {
            point.elevation = figures::elevation(text);
        } else if ends_with(path, &["Trackpoint", "DistanceMeters"]) {
            point.distance = figures::measure(text);
        } else if ends_with(path, &["Trackpoint", "HeartRateBpm", "Value"]) {
            point.heart_rate = figures::heart_rate_value(text);
        } else if ends_with(path, &["Trackpoint"]) {
            self.latitude = None;
            self.points.extend(self.point.take());
        }
        Ok(())
    }
}

/// Inside an `Activity` (also one within a `MultiSportSession`), not a `Course` or `Workout`.
fn in_activity(path: &[String]) -> bool {
    path.iter().any(|name| name == "Activity")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tcx(activity: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
  xmlns:ns3="http://www.garmin.com/xmlschemas/ActivityExtension/v2">
  <Activities>{activity}</Activities>
  <Author><Name>test</Name></Author>
</TrainingCenterDatabase>"#
        )
    }

    fn trackpoint(time: &str, lat: f64, alt: f64, distance: Option<f64>, hr: u32) -> String {
        let distance = distance
            .map(|d| format!("<DistanceMeters>{d}</DistanceMeters>"))
            .unwrap_or_default();
        format!(
            r#"<Trackpoint><Time>{time}</Time>
  <Position><LatitudeDegrees>{lat}</LatitudeDegrees><LongitudeDegrees>0</LongitudeDegrees></Position>
  <AltitudeMeters>{alt}</AltitudeMeters>{distance}<HeartRateBpm><Value>{hr}</Value></HeartRateBpm>
  <Extensions><ns3:TPX><ns3:Speed>99</ns3:Speed><ns3:Value>1</ns3:Value></ns3:TPX></Extensions>
</Trackpoint>"#
        )
    }

    fn run(lap_totals: &str, cumulative: bool) -> String {
        let d = |m: f64| cumulative.then_some(m);
        let points = [
            trackpoint("2024-05-01T08:00:00+02:00", 0.0, 100.0, d(0.0), 100),
            trackpoint("2024-05-01T08:00:10+02:00", 0.0001, 110.0, d(12.0), 140),
            trackpoint("2024-05-01T08:00:20+02:00", 0.0002, 104.0, d(24.0), 120),
        ]
        .concat();
        tcx(&format!(
            r#"<Activity Sport="Running"><Id>2024-05-01T07:59:58+02:00</Id>
  <Lap StartTime="2024-05-01T07:59:59+02:00">{lap_totals}<Track>{points}</Track>
    <Extensions><ns3:LX><ns3:AvgSpeed>3</ns3:AvgSpeed></ns3:LX></Extensions></Lap>
  <Creator><Name>Watch</Name><Version><VersionMajor>1</VersionMajor></Version></Creator>
</Activity>"#
        ))
    }

    fn refusal(bytes: &[u8]) -> String {
        match read(bytes) {
            Ok(recording) => panic!("read, not refused: {recording:?}"),
            Err(Refusal(reason)) => reason,
        }
    }

    #[test]
    fn lap_totals_win_over_the_points() {
        let lap = "<TotalTimeSeconds>25.4</TotalTimeSeconds><DistanceMeters>30.5</DistanceMeters>";
        let recording = read(run(lap, true).as_bytes()).unwrap();
        assert_eq!(recording.elapsed_time, 25);
        assert_eq!(recording.distance, 30.5);
        assert_eq!(
            recording.start,
            Utc.with_ymd_and_hms(2024, 5, 1, 5, 59, 58).unwrap()
        );
        assert_eq!(recording.utc_offset, Some(7200));
        assert_eq!(recording.moving_time, 20);
        assert_eq!(
            recording.max_speed, 1.2,
            "from the cumulative distance, not the extension"
        );
        assert_eq!(recording.elevation_gain, 10.0);
        assert_eq!(recording.average_heartrate, Some(120.0));
        assert_eq!(recording.max_heartrate, Some(140.0));
        assert_eq!(recording.first_position, Some((0.0, 0.0)));
        assert_eq!(recording.name, None);
    }

    #[test]
    fn without_lap_totals_the_cumulative_distance_then_the_track_decides() {
        let recording = read(run("", true).as_bytes()).unwrap();
        assert_eq!(recording.distance, 24.0);
        assert_eq!(recording.elapsed_time, 20);
        let recording = read(run("", false).as_bytes()).unwrap();
        let step = figures::great_circle((0.0, 0.0), (0.0001, 0.0));
        assert!((recording.distance - 2.0 * step).abs() < 1e-9);
    }

    #[test]
    fn the_start_is_the_id_else_the_first_lap_else_the_first_point() {
        let doc = run("", true).replace("<Id>2024-05-01T07:59:58+02:00</Id>", "");
        let recording = read(doc.as_bytes()).unwrap();
        assert_eq!(
            recording.start,
            Utc.with_ymd_and_hms(2024, 5, 1, 5, 59, 59).unwrap()
        );
        let doc = doc.replace(r#" StartTime="2024-05-01T07:59:59+02:00""#, "");
        let recording = read(doc.as_bytes()).unwrap();
        assert_eq!(
            recording.start,
            Utc.with_ymd_and_hms(2024, 5, 1, 6, 0, 0).unwrap()
        );
        let doc = doc.replace("+02:00", "Z");
        assert_eq!(read(doc.as_bytes()).unwrap().utc_offset, None);
    }

    #[test]
    fn whitespace_before_the_declaration_is_accepted() {
        let doc = format!("          \r\n{}", run("", true));
        assert_eq!(read(doc.as_bytes()).unwrap().elapsed_time, 20);
    }

    #[test]
    fn prefixed_elements_are_matched_by_local_name() {
        let doc = r#"<t:TrainingCenterDatabase xmlns:t="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">
<t:Activities><t:Activity Sport="Biking"><t:Id>2024-05-01T08:00:00Z</t:Id><t:Lap StartTime="2024-05-01T08:00:00Z">
<t:Track><t:Trackpoint><t:Time>2024-05-01T08:00:00Z</t:Time></t:Trackpoint>
<t:Trackpoint><t:Time>2024-05-01T08:00:30Z</t:Time><t:DistanceMeters>150</t:DistanceMeters></t:Trackpoint></t:Track>
</t:Lap></t:Activity></t:Activities></t:TrainingCenterDatabase>"#;
        let recording = read(doc.as_bytes()).unwrap();
        assert_eq!(recording.elapsed_time, 30);
        assert_eq!(recording.distance, 150.0);
        assert_eq!(recording.first_position, None);
    }

    #[test]
    fn a_course_is_not_an_activity() {
        let doc = r#"<TrainingCenterDatabase><Courses><Course><Name>Loop</Name><Track>
<Trackpoint><Time>2024-05-01T08:00:00Z</Time></Trackpoint></Track></Course></Courses></TrainingCenterDatabase>"#;
        assert_eq!(refusal(doc.as_bytes()), "a course, not an activity");
    }

    #[test]
    fn an_activity_without_timed_points_is_refused() {
        let doc = tcx(r#"<Activity Sport="Running"><Id>2024-05-01T08:00:00Z</Id>
<Lap StartTime="2024-05-01T08:00:00Z"><TotalTimeSeconds>600</TotalTimeSeconds></Lap></Activity>"#);
        assert_eq!(refusal(doc.as_bytes()), "no track points with times");
    }

    #[test]
    fn times_that_do_not_parse_are_refused() {
        let doc = run("", true).replace("2024-05-01T08:00:10+02:00", "2024-05-01T25:00:10");
        assert_eq!(
            refusal(doc.as_bytes()),
            "a time that does not parse: \"2024-05-01T25:00:10\""
        );
        let doc = run("", true).replace("<Id>2024-05-01T07:59:58+02:00", "<Id>soon");
        assert_eq!(
            refusal(doc.as_bytes()),
            "a time that does not parse: \"soon\""
        );
    }

    #[test]
    fn broken_documents_are_refused() {
        let whole = run("", true);
        let cut = &whole.as_bytes()[..whole.find("<Creator>").unwrap()];
        assert_eq!(
            refusal(cut),
            "truncated TCX file: it ends inside <Activity>"
        );
        assert_eq!(refusal(b""), "empty file");
        assert_eq!(
            refusal(b"<gpx version=\"1.1\"/>"),
            "not a TCX file: the root element is <gpx>, not <TrainingCenterDatabase>"
        );
    }

    #[test]
    fn absurd_lap_totals_fall_back_to_the_points() {
        let lap = "<TotalTimeSeconds>1e300</TotalTimeSeconds><DistanceMeters>-5</DistanceMeters>";
        let recording = read(run(lap, false).as_bytes()).unwrap();
        assert_eq!(recording.elapsed_time, 20);
        let step = figures::great_circle((0.0, 0.0), (0.0001, 0.0));
        assert!((recording.distance - 2.0 * step).abs() < 1e-9);
    }

    /// Real files (tests/fixtures/import/tcx, README.md there); the expected figures come from
    /// tests/fixtures/import/gpx/expected.py, which computes the same rules independently.
    mod real_files {
        use super::*;

        const GARMIN_RUN: &[u8] = include_bytes!("../../tests/fixtures/import/tcx/test.tcx");

        fn near(actual: f64, expected: f64, tolerance: f64) {
            assert!(
                (actual - expected).abs() <= tolerance,
                "{actual} is not {expected} ± {tolerance}"
            );
        }

        #[test]
        fn a_garmin_run_of_three_laps() {
            let recording = read(GARMIN_RUN).unwrap();
            assert_eq!(recording.sport_type, sport_type_of("Running"));
            assert_eq!(
                recording.start,
                Utc.with_ymd_and_hms(2012, 12, 26, 21, 29, 53).unwrap()
            );
            assert_eq!(recording.utc_offset, None);
            near(recording.distance, 4_689.242_675_78, 1e-6);
            assert_eq!(recording.elapsed_time, 1993);
            assert_eq!(recording.moving_time, 1985);
            near(recording.elevation_gain, 129.777_709_96, 1e-6);
            near(recording.max_speed, 4.569_527_761_428_552, 1e-6);
            near(
                recording.average_heartrate.unwrap(),
                156.652_741_514_360_32,
                1e-9,
            );
            assert_eq!(recording.max_heartrate, Some(189.0));
            assert_eq!(
                recording.first_position,
                Some((35.951_880_198, -79.093_187_218_5))
            );
        }

        #[test]
        fn a_paddle_with_speed_extensions_and_no_altitude() {
            let recording = read(include_bytes!(
                "../../tests/fixtures/import/tcx/sup_activity_1.tcx"
            ))
            .unwrap();
            assert_eq!(recording.sport_type, sport_type_of("Other"));
            assert_eq!(
                recording.start,
                Utc.with_ymd_and_hms(2022, 7, 16, 16, 8, 25).unwrap()
            );
            near(recording.distance, 1_157.51, 1e-6);
            assert_eq!(recording.elapsed_time, 1112);
            assert_eq!(recording.moving_time, 723);
            assert_eq!(recording.elevation_gain, 0.0);
            near(recording.max_speed, 1.447_998_046_875, 1e-6);
            near(
                recording.average_heartrate.unwrap(),
                88.126_126_126_126_12,
                1e-9,
            );
            assert_eq!(recording.max_heartrate, Some(106.0));
        }

        #[test]
        fn strava_s_leading_blanks_change_nothing() {
            let padded = [b"   \n\n   ".as_slice(), GARMIN_RUN].concat();
            assert_eq!(read(&padded).unwrap(), read(GARMIN_RUN).unwrap());
        }

        #[test]
        fn a_real_file_cut_short_is_refused() {
            let reason = refusal(&GARMIN_RUN[..GARMIN_RUN.len() / 3]);
            assert!(
                reason.starts_with("truncated TCX file")
                    || reason.starts_with("not well-formed XML"),
                "{reason}"
            );
        }
    }
}
