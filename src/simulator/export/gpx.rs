//! GPX 1.1 as Garmin devices write it, heart rate in Garmin's TrackPointExtension.

use std::fmt::Write as _;

use super::file::{utc_text, xml_escape};
use super::track::{Point, at};
use crate::simulator::generator::SimActivity;

/// GPX `<type>`: the words Strava's own GPX files use for the plain sports, the `sport_type`
/// itself where a word would lose it (`TrailRun`, `GravelRide`, …).
pub(super) fn gpx_type(sport_type: &str) -> &str {
    match sport_type {
        "Run" => "running",
        "Ride" => "cycling",
        "Walk" => "walking",
        "Hike" => "hiking",
        "Swim" => "swimming",
        other => other,
    }
}

pub(super) fn gpx(a: &SimActivity, points: &[Point]) -> String {
    let device = xml_escape(a.device_name.as_deref().unwrap_or("Strava"));
    let mut out = String::with_capacity(points.len() * 190 + 600);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <gpx creator=\"{device}\" version=\"1.1\" xmlns=\"http://www.topografix.com/GPX/1/1\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd \
         http://www.garmin.com/xmlschemas/TrackPointExtension/v1 http://www.garmin.com/xmlschemas/TrackPointExtensionv1.xsd\" \
         xmlns:gpxtpx=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v1\">\n \
         <metadata>\n  <time>{}</time>\n </metadata>\n <trk>\n  <name>{}</name>\n  <type>{}</type>\n  <trkseg>\n",
        utc_text(a.start_date),
        xml_escape(&a.name),
        xml_escape(gpx_type(&a.sport_type)),
    );
    for p in points {
        let Some([lat, lng]) = p.position else {
            continue;
        };
        let _ = write!(out, "   <trkpt lat=\"{lat:.7}\" lon=\"{lng:.7}\">");
        if let Some(altitude) = p.altitude {
            let _ = write!(out, "<ele>{altitude:.1}</ele>");
        }
        let _ = write!(out, "<time>{}</time>", utc_text(at(a, p.at)));
        if let Some(hr) = p.heart_rate {
            let _ = write!(
                out,
                "<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{hr}</gpxtpx:hr>\
                 </gpxtpx:TrackPointExtension></extensions>"
            );
        }
        out.push_str("</trkpt>\n");
    }
    out.push_str("  </trkseg>\n </trk>\n</gpx>\n");
    out
}
