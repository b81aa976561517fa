//! GPX 1.0 and 1.1 activity files into a [`Recording`] (SPEC §11 "Figures from files").
//!
//! The points are every `trk/trkseg/trkpt` of every track, in order (`lat`, `lon`, `ele`,
//! `time`, and the heart rate of the common extensions: Garmin's `gpxtpx:hr` (`ns3:hr` in
//! Garmin Connect's exports) and the `heartrate` some apps write). Waypoints and routes (`wpt`, `rte/rtept`) are plans, not
//! recordings: a file without a timed track point is refused as a route. `trk/type` names the
//! sport; `trk/name` (else the metadata's) names the activity. Figures follow [`figures`].
//!
//! Files come from every kind of app and device, so the reader streams with `quick-xml` and
//! matches elements by local name: prefixes (`<gpx:trkpt>`) and namespaces do not matter, and
//! elements it does not know, extensions above all, are skipped wherever they appear.
//!
//! [`walk`] below, the streaming walk with its refusals (not XML, truncated, wrong root), is
//! the one the TCX reader uses too.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use super::figures::{self, Figures, Point};
use super::sport::sport_type_of;
use super::{Recording, Refusal};

/// Reads one GPX file.
pub fn read(bytes: &[u8]) -> Result<Recording, Refusal> {
    let mut gpx = Gpx::default();
    walk(bytes, "gpx", "GPX", &mut gpx)?;
    let Some((start, offset)) = gpx.start else {
        return Err(Refusal::new("no timestamps: a route, not an activity"));
    };
    let figures = Figures::of(&gpx.points);
    Ok(Recording {
        sport_type: gpx.sport.as_deref().and_then(sport_type_of),
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
        name: gpx.track_name.or(gpx.file_name),
    })
}

#[derive(Default)]
struct Gpx {
    points: Vec<Point>,
    /// The track point being read, between `<trkpt>` and `</trkpt>`.
    point: Option<Point>,
    /// The first timed point's time and the offset it was written with.
    start: Option<(DateTime<Utc>, i32)>,
    track_name: Option<String>,
    /// `metadata/name` (GPX 1.1) or `gpx/name` (GPX 1.0).
    file_name: Option<String>,
    sport: Option<String>,
}

impl Visit for Gpx {
    fn open(&mut self, path: &[String], element: &BytesStart<'_>) -> Result<(), Refusal> {
        if ends_with(path, &["trkseg", "trkpt"]) {
            let latitude = attribute(element, "lat")?;
            let longitude = attribute(element, "lon")?;
            self.point = Some(Point {
                position: latitude
                    .zip(longitude)
                    .and_then(|(lat, lon)| figures::position(&lat, &lon)),
                ..Point::default()
            });
        }
        Ok(())
    }

    fn close(&mut self, path: &[String], text: &str) -> Result<(), Refusal> {
        let Some(point) = self.point.as_mut() else {
            if ends_with(path, &["trk", "name"]) {
                keep_first(&mut self.track_name, text);
            } else if ends_with(path, &["metadata", "name"]) || ends_with(path, &["gpx", "name"]) {
                keep_first(&mut self.file_name, text);
            } else if ends_with(path, &["trk", "type"]) {
                keep_first(&mut self.sport, text);
            }
            return Ok(());
        };
        match path_tail(path) {
            ["trkpt", "time"] if !text.trim().is_empty() => {
                let (time, offset) = time_of(text)?;
                point.time = Some(time);
                self.start.get_or_insert((time, offset));
            }
            ["trkpt", "ele"] => point.elevation = figures::elevation(text),
            [.., "hr" | "heartrate"] if path.iter().any(|name| name == "extensions") => {
                point.heart_rate = point.heart_rate.or(figures::heart_rate_value(text));
            }
            [.., "trkpt"] => self.points.extend(self.point.take()),
            _ => {}
        }
        Ok(())
    }
}

fn path_tail(path: &[String]) -> [&str; 2] {
    match path {
        [.., parent, name] => [parent.as_str(), name.as_str()],
        [name] => ["", name.as_str()],
        [] => ["", ""],
    }
}

fn keep_first(slot: &mut Option<String>, text: &str) {
    let text = text.trim();
    if slot.is_none() && !text.is_empty() {
        *slot = Some(text.to_owned());
    }
}

/// A time stamp the file wrote, or the refusal that names it.
pub(super) fn time_of(text: &str) -> Result<(DateTime<Utc>, i32), Refusal> {
    figures::parse_time(text).ok_or_else(|| {
        let shown: String = text.trim().chars().take(40).collect();
        Refusal::new(format!("a time that does not parse: \"{shown}\""))
    })
}

/// What a reader does with the elements [`walk`] meets. `path` holds the local names from the
/// root down to the element itself.
pub(super) trait Visit {
    /// An element opens (also an empty one, `<x/>`, which then closes at once).
    fn open(&mut self, path: &[String], element: &BytesStart<'_>) -> Result<(), Refusal>;
    /// An element closes; `text` is the character data since the last tag, which for a leaf
    /// element is all of it, references resolved.
    fn close(&mut self, path: &[String], text: &str) -> Result<(), Refusal>;
}

/// Deeper than this is no GPX or TCX (GPX with extensions reaches 7): a document built to
/// exhaust memory.
const DEPTH_LIMIT: usize = 64;

/// Streams `bytes` through `visit`, refusing what is not a well-formed document whose root is
/// named `root` (`kind` names the format in the refusals). Leading whitespace and a byte order
/// mark are skipped (Strava's TCX files start with blanks); what follows the root's end is
/// ignored.
pub(super) fn walk(
    bytes: &[u8],
    root: &str,
    kind: &str,
    visit: &mut impl Visit,
) -> Result<(), Refusal> {
    let text = as_text(bytes)?;
    let text = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if text.is_empty() {
        return Err(Refusal::new("empty file"));
    }
    let mut reader = Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut characters = String::new();
    let mut seen_root = false;
    loop {
        let event = reader.read_event().map_err(|error| {
            Refusal::new(format!(
                "not well-formed XML (at byte {}): {error}",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Start(element) | Event::Empty(element) if path.len() >= DEPTH_LIMIT => {
                let name = element.local_name();
                return Err(Refusal::new(format!(
                    "not a {kind} file: elements nested deeper than {DEPTH_LIMIT} (<{}>)",
                    name.as_ref()
                )));
            }
            Event::Start(element) => {
                enter(&mut path, &element, root, kind, &mut seen_root)?;
                characters.clear();
                visit.open(&path, &element)?;
            }
            Event::Empty(element) => {
                enter(&mut path, &element, root, kind, &mut seen_root)?;
                visit.open(&path, &element)?;
                visit.close(&path, "")?;
                path.pop();
                characters.clear();
            }
            Event::End(_) => {
                visit.close(&path, &characters)?;
                path.pop();
                characters.clear();
            }
            Event::Text(t) if !path.is_empty() => characters.push_str(&t.xml10_content()),
            Event::CData(t) if !path.is_empty() => characters.push_str(&t.xml10_content()),
            Event::GeneralRef(reference) if !path.is_empty() => {
                // Undefined entities (a DTD's own) are dropped, never expanded.
                if let Ok(Some(c)) = reference.resolve_char_ref() {
                    characters.push(c);
                } else if let Some(s) =
                    quick_xml::escape::resolve_predefined_entity(&reference.xml10_content())
                {
                    characters.push_str(s);
                }
            }
            Event::Text(t) if !seen_root && !t.xml10_content().trim().is_empty() => {
                return Err(Refusal::new(format!("not a {kind} file: not XML")));
            }
            Event::Eof => break,
            _ => {}
        }
        if seen_root && path.is_empty() {
            return Ok(());
        }
    }
    match path.last() {
        Some(open) => Err(Refusal::new(format!(
            "truncated {kind} file: it ends inside <{open}>"
        ))),
        None => Err(Refusal::new(format!("not a {kind} file: no XML element"))),
    }
}

fn enter(
    path: &mut Vec<String>,
    element: &BytesStart<'_>,
    root: &str,
    kind: &str,
    seen_root: &mut bool,
) -> Result<(), Refusal> {
    let name = element.local_name();
    let name = name.as_ref();
    if !*seen_root {
        if name != root {
            let shown: String = name.chars().take(40).collect();
            return Err(Refusal::new(format!(
                "not a {kind} file: the root element is <{shown}>, not <{root}>"
            )));
        }
        *seen_root = true;
    }
    path.push(name.to_owned());
    Ok(())
}

/// The value of the attribute whose local name is `name`, references resolved.
pub(super) fn attribute(element: &BytesStart<'_>, name: &str) -> Result<Option<String>, Refusal> {
    for attribute in element.attributes() {
        let attribute =
            attribute.map_err(|error| Refusal::new(format!("not well-formed XML: {error}")))?;
        if attribute.key.local_name().as_ref() == name {
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|error| Refusal::new(format!("not well-formed XML: {error}")))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// `path` ends with the local names `tail`.
pub(super) fn ends_with(path: &[String], tail: &[&str]) -> bool {
    path.len() >= tail.len()
        && path[path.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

/// The document as text. UTF-8 is what GPX and TCX writers use; older tools still declare
/// ISO-8859-1 (Latin-1), whose bytes are exactly the first 256 code points, so it is decoded
/// here rather than refused.
fn as_text(bytes: &[u8]) -> Result<Cow<'_, str>, Refusal> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(Cow::Borrowed(text)),
        Err(_) if declares_latin1(bytes) => {
            Ok(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()))
        }
        Err(error) => Err(Refusal::new(format!(
            "not XML: not UTF-8 text (byte {} is not)",
            error.valid_up_to()
        ))),
    }
}

fn declares_latin1(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(256)];
    let Some(end) = head.windows(2).position(|w| w == b"?>") else {
        return false;
    };
    let declaration = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
    declaration.contains("<?xml")
        && [
            "iso-8859-1",
            "iso8859-1",
            "latin1",
            "latin-1",
            "windows-1252",
        ]
        .iter()
        .any(|name| declaration.contains(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn gpx(body: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"
  xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">{body}</gpx>"#
        )
    }

    fn refusal(bytes: &[u8]) -> String {
        match read(bytes) {
            Ok(recording) => panic!("read, not refused: {recording:?}"),
            Err(Refusal(reason)) => reason,
        }
    }

    const TRACK: &str = r#"
  <metadata><name>From the metadata</name><time>2024-05-01T05:00:00Z</time></metadata>
  <wpt lat="10" lon="10"><time>2024-05-01T04:00:00Z</time></wpt>
  <trk>
    <name>Morning &amp; evening</name>
    <type>running</type>
    <extensions><gpxx:TrackExtension xmlns:gpxx="x"><gpxx:DisplayColor>Red</gpxx:DisplayColor></gpxx:TrackExtension></extensions>
    <trkseg>
      <trkpt lat="0" lon="0"><ele>100</ele><time>2024-05-01T08:00:00+02:00</time>
        <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>100</gpxtpx:hr><gpxtpx:cad>80</gpxtpx:cad></gpxtpx:TrackPointExtension></extensions>
      </trkpt>
      <trkpt lat="0.0001" lon="0"><ele>105</ele><time>2024-05-01T08:00:10+02:00</time><unknown><ele>9000</ele></unknown>
        <extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>120</gpxtpx:hr></gpxtpx:TrackPointExtension></extensions>
      </trkpt>
    </trkseg>
    <trkseg>
      <trkpt lat="0.0002" lon="0"><ele/><time>2024-05-01T08:00:20+02:00</time></trkpt>
    </trkseg>
  </trk>"#;

    #[test]
    fn a_track_gives_its_figures_name_and_offset() {
        let recording = read(gpx(TRACK).as_bytes()).unwrap();
        let step = figures::great_circle((0.0, 0.0), (0.0001, 0.0));
        assert_eq!(
            recording.start,
            Utc.with_ymd_and_hms(2024, 5, 1, 6, 0, 0).unwrap()
        );
        assert_eq!(recording.utc_offset, Some(7200));
        assert_eq!(recording.elapsed_time, 20);
        assert!((recording.distance - 2.0 * step).abs() < 1e-9);
        assert_eq!(recording.moving_time, 20);
        assert_eq!(
            recording.elevation_gain, 5.0,
            "the unknown element's <ele> is not read"
        );
        assert_eq!(recording.average_heartrate, Some(110.0));
        assert_eq!(recording.max_heartrate, Some(120.0));
        assert_eq!(recording.first_position, Some((0.0, 0.0)));
        assert_eq!(recording.name.as_deref(), Some("Morning & evening"));
        assert!((recording.max_speed - step / 10.0).abs() < 1e-9);
    }

    #[test]
    fn the_metadata_names_the_activity_when_the_track_does_not() {
        let body = TRACK.replace("<name>Morning &amp; evening</name>", "");
        let recording = read(gpx(&body).as_bytes()).unwrap();
        assert_eq!(recording.name.as_deref(), Some("From the metadata"));
    }

    #[test]
    fn utc_times_are_no_offset_of_their_own() {
        for zone in ["Z", "+00:00"] {
            let body = TRACK.replace("+02:00", zone);
            let recording = read(gpx(&body).as_bytes()).unwrap();
            assert_eq!(recording.utc_offset, None, "{zone}");
            assert_eq!(
                recording.start,
                Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap()
            );
        }
    }

    #[test]
    fn prefixed_elements_are_matched_by_local_name() {
        let doc = r#"<?xml version="1.0"?>
<g:gpx xmlns:g="http://www.topografix.com/GPX/1/1" version="1.1">
  <g:trk><g:name>Prefixed</g:name><g:trkseg>
    <g:trkpt g:lat="1" lon="2"><g:time>2024-05-01T08:00:00Z</g:time></g:trkpt>
    <g:trkpt lat="1.001" lon="2"><g:time>2024-05-01T08:01:00Z</g:time></g:trkpt>
  </g:trkseg></g:trk>
</g:gpx>"#;
        let recording = read(doc.as_bytes()).unwrap();
        assert_eq!(recording.name.as_deref(), Some("Prefixed"));
        assert_eq!(recording.elapsed_time, 60);
        assert_eq!(recording.first_position, Some((1.0, 2.0)));
    }

    #[test]
    fn a_file_without_a_sport_leaves_it_to_the_caller() {
        let body = TRACK.replace("<type>running</type>", "");
        assert_eq!(read(gpx(&body).as_bytes()).unwrap().sport_type, None);
    }

    #[test]
    fn a_route_is_not_an_activity() {
        let route = gpx(
            r#"<rte><name>Plan</name><rtept lat="0" lon="0"><time>2024-05-01T08:00:00Z</time></rtept></rte>
               <trk><trkseg><trkpt lat="0" lon="0"><ele>1</ele></trkpt></trkseg></trk>"#,
        );
        assert_eq!(
            refusal(route.as_bytes()),
            "no timestamps: a route, not an activity"
        );
        assert_eq!(
            refusal(gpx("").as_bytes()),
            "no timestamps: a route, not an activity"
        );
    }

    #[test]
    fn a_time_that_does_not_parse_is_refused() {
        let body = TRACK.replace("2024-05-01T08:00:10+02:00", "ten past eight");
        assert_eq!(
            refusal(gpx(&body).as_bytes()),
            "a time that does not parse: \"ten past eight\""
        );
    }

    #[test]
    fn broken_documents_are_refused_with_their_reason() {
        let whole = gpx(TRACK);
        let cut = &whole.as_bytes()[..whole.rfind("</trkpt>").unwrap()];
        assert_eq!(refusal(cut), "truncated GPX file: it ends inside <trkpt>");
        let cut_in_a_tag = &whole.as_bytes()[..whole.find("<trkseg>").unwrap() + 4];
        assert!(refusal(cut_in_a_tag).starts_with("not well-formed XML"));
        assert_eq!(refusal(b""), "empty file");
        assert_eq!(refusal(b" \n\t"), "empty file");
        assert_eq!(refusal(b"just text"), "not a GPX file: not XML");
        assert_eq!(
            refusal(b"\x89PNG\r\n\x1a\n\0\0"),
            "not XML: not UTF-8 text (byte 0 is not)"
        );
        assert!(refusal(b"<gpx><trk></gpx>").starts_with("not well-formed XML"));
        assert_eq!(
            refusal(b"<?xml version=\"1.0\"?><kml><Document/></kml>"),
            "not a GPX file: the root element is <kml>, not <gpx>"
        );
        assert_eq!(
            refusal(b"<?xml version=\"1.0\"?><!-- nothing -->"),
            "not a GPX file: no XML element"
        );
    }

    #[test]
    fn absurd_numbers_are_dropped_not_summed() {
        let doc = gpx(r#"<trk><trkseg>
  <trkpt lat="1e400" lon="0"><ele>1e308</ele><time>2024-05-01T08:00:00Z</time></trkpt>
  <trkpt lat="0" lon="0"><ele>-1e308</ele><time>2024-05-01T08:00:01Z</time>
    <extensions><hr>99999999999999999999</hr></extensions></trkpt>
  <trkpt lat="0" lon="0"><time>9999-12-31T23:59:59Z</time></trkpt>
</trkseg></trk>"#);
        let recording = read(doc.as_bytes()).unwrap();
        assert_eq!(recording.first_position, Some((0.0, 0.0)));
        assert_eq!(recording.elevation_gain, 0.0);
        assert_eq!(recording.max_heartrate, None);
        assert_eq!(recording.elapsed_time, 251_687_750_399);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let doc = format!("<gpx>{}", "<x>".repeat(100));
        assert!(refusal(doc.as_bytes()).contains("nested deeper than 64"));
    }

    #[test]
    fn latin1_files_are_decoded() {
        let mut doc = br#"<?xml version="1.0" encoding="ISO-8859-1"?><gpx><trk><name>Caf"#.to_vec();
        doc.push(0xe9);
        doc.extend_from_slice(
            br#"</name><trkseg><trkpt lat="0" lon="0"><time>2024-05-01T08:00:00Z</time></trkpt></trkseg></trk></gpx>"#,
        );
        assert_eq!(read(&doc).unwrap().name.as_deref(), Some("Café"));
    }

    #[test]
    fn text_after_the_root_is_ignored() {
        let doc = format!("{}\n\0\0 trailing", gpx(TRACK));
        assert_eq!(read(doc.as_bytes()).unwrap().elapsed_time, 20);
    }

    /// Real files (tests/fixtures/import/gpx, README.md there); the expected figures come from
    /// tests/fixtures/import/gpx/expected.py, which computes the same rules independently.
    mod real_files {
        use super::*;

        fn near(actual: f64, expected: f64, tolerance: f64) {
            assert!(
                (actual - expected).abs() <= tolerance,
                "{actual} is not {expected} ± {tolerance}"
            );
        }

        #[test]
        fn a_garmin_run_with_heart_rate_extensions() {
            let recording = read(include_bytes!(
                "../../tests/fixtures/import/gpx/garmin-activity.gpx"
            ))
            .unwrap();
            assert_eq!(recording.sport_type, sport_type_of("running"));
            assert_eq!(recording.name.as_deref(), Some("casual stroll"));
            assert_eq!(
                recording.start,
                Utc.with_ymd_and_hms(2017, 7, 29, 14, 46, 35).unwrap()
            );
            assert_eq!(recording.utc_offset, None);
            near(recording.distance, 12_821.200_096_956_48, 0.5);
            assert_eq!(recording.moving_time, 5485);
            assert_eq!(recording.elapsed_time, 5498);
            near(recording.elevation_gain, 214.200_012_207_031_25, 1e-6);
            near(recording.max_speed, 4.537_019_079_583_924, 1e-6);
            near(
                recording.average_heartrate.unwrap(),
                145.517_206_477_732_8,
                1e-9,
            );
            assert_eq!(recording.max_heartrate, Some(171.0));
            assert_eq!(
                recording.first_position,
                Some((37.241_738_168_522_716, -121.972_324_233_502_15))
            );
        }

        #[test]
        fn a_gpx_1_0_hike_with_timed_waypoints_reads_only_the_track() {
            let recording = read(include_bytes!(
                "../../tests/fixtures/import/gpx/cerknicko-jezero.gpx"
            ))
            .unwrap();
            assert_eq!(recording.name.as_deref(), Some("ACTIVE LOG"));
            assert_eq!(
                recording.start,
                Utc.with_ymd_and_hms(2010, 8, 5, 14, 23, 59).unwrap()
            );
            near(recording.distance, 13_665.000_773_713_336, 0.5);
            assert_eq!(recording.moving_time, 1819);
            assert_eq!(recording.elapsed_time, 7190);
            near(recording.elevation_gain, 226.390_382, 1e-6);
            near(recording.max_speed, 11.501_834_214_274_82, 1e-6);
            assert_eq!(recording.average_heartrate, None);
            assert_eq!(
                recording.first_position,
                Some((45.772_175_035, 14.357_659_249))
            );
        }

        #[test]
        fn an_export_written_with_an_offset_keeps_it() {
            let recording = read(include_bytes!(
                "../../tests/fixtures/import/gpx/track-with-less-sec-time.gpx"
            ))
            .unwrap();
            assert_eq!(recording.utc_offset, Some(3600));
            assert_eq!(
                recording.start,
                Utc.with_ymd_and_hms(2015, 12, 11, 14, 43, 13).unwrap()
            );
            assert_eq!(recording.sport_type, sport_type_of("run"));
            near(recording.distance, 1.561_433_116_606_829_6, 1e-6);
            assert_eq!((recording.moving_time, recording.elapsed_time), (1, 1));
            assert_eq!(
                recording.max_speed, 0.0,
                "its only step is shorter than a second"
            );
        }

        #[test]
        fn empty_elevations_are_no_elevations() {
            let recording = read(include_bytes!(
                "../../tests/fixtures/import/gpx/wahoo_example.gpx"
            ))
            .unwrap();
            assert_eq!(recording.name.as_deref(), Some("04/24/22"));
            assert_eq!(recording.elapsed_time, 2);
            assert_eq!((recording.distance, recording.elevation_gain), (0.0, 0.0));
        }

        #[test]
        fn several_tracks_with_extensions_are_one_activity() {
            let recording = read(include_bytes!(
                "../../tests/fixtures/import/gpx/caltopo-export.gpx"
            ))
            .unwrap();
            assert_eq!(recording.name.as_deref(), Some("Day 01"));
            near(recording.distance, 15_918.601_592_490_602, 0.5);
            assert_eq!(recording.elapsed_time, 79_260);
            assert_eq!(recording.moving_time, 0);
            near(recording.elevation_gain, 401.0, 1e-9);
        }

        #[test]
        fn a_strava_route_is_refused() {
            let bytes = include_bytes!("../../tests/fixtures/import/gpx/strava_route_example.gpx");
            assert_eq!(refusal(bytes), "no timestamps: a route, not an activity");
        }

        #[test]
        fn a_real_file_cut_short_is_refused() {
            let bytes = include_bytes!("../../tests/fixtures/import/gpx/garmin-activity.gpx");
            let reason = refusal(&bytes[..bytes.len() / 2]);
            assert!(
                reason.starts_with("truncated GPX file")
                    || reason.starts_with("not well-formed XML"),
                "{reason}"
            );
        }
    }
}
