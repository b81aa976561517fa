//! TCX (Garmin's Training Center XML): one lap with the activity's elapsed time and distance.

use std::fmt::Write as _;

use super::csv::number;
use super::file::{mix, utc_text, xml_escape};
use super::track::{Point, at};
use crate::simulator::generator::SimActivity;

/// TCX knows three sports.
fn tcx_sport(sport_type: &str) -> &'static str {
    match sport_type {
        "Run" | "TrailRun" | "VirtualRun" => "Running",
        "Ride" | "GravelRide" | "MountainBikeRide" | "EBikeRide" | "EMountainBikeRide"
        | "VirtualRide" | "Velomobile" | "Handcycle" => "Biking",
        _ => "Other",
    }
}

pub(super) fn tcx(a: &SimActivity, points: &[Point]) -> String {
    let start = utc_text(a.start_date);
    let mut out = String::with_capacity(points.len() * 260 + 1200);
    // Strava's TCX files often open with blanks before the declaration; readers must cope.
    if mix(a.id) & 1 == 1 {
        out.push_str("          ");
    }
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <TrainingCenterDatabase xmlns=\"http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2 \
         http://www.garmin.com/xmlschemas/TrainingCenterDatabasev2.xsd\">\n \
         <Activities>\n  <Activity Sport=\"{}\">\n   <Id>{start}</Id>\n   <Lap StartTime=\"{start}\">\n    \
         <TotalTimeSeconds>{}</TotalTimeSeconds>\n    <DistanceMeters>{}</DistanceMeters>\n    \
         <MaximumSpeed>{}</MaximumSpeed>\n    <Calories>{}</Calories>\n",
        tcx_sport(&a.sport_type),
        number(a.elapsed_time as f64),
        number(a.distance.max(0.0)),
        number(a.max_speed),
        a.calories.round().clamp(0.0, 65_535.0) as u16,
    );
    if let (Some(average), Some(max)) = (a.average_heartrate, a.max_heartrate) {
        let _ = write!(
            out,
            "    <AverageHeartRateBpm><Value>{}</Value></AverageHeartRateBpm>\n    \
             <MaximumHeartRateBpm><Value>{}</Value></MaximumHeartRateBpm>\n",
            average.round() as u8,
            max.round() as u8,
        );
    }
    out.push_str(
        "    <Intensity>Active</Intensity>\n    <TriggerMethod>Manual</TriggerMethod>\n    <Track>\n",
    );
    for p in points {
        let _ = write!(
            out,
            "     <Trackpoint><Time>{}</Time>",
            utc_text(at(a, p.at))
        );
        if let Some([lat, lng]) = p.position {
            let _ = write!(
                out,
                "<Position><LatitudeDegrees>{lat:.7}</LatitudeDegrees>\
                 <LongitudeDegrees>{lng:.7}</LongitudeDegrees></Position>"
            );
        }
        if let Some(altitude) = p.altitude {
            let _ = write!(out, "<AltitudeMeters>{altitude:.1}</AltitudeMeters>");
        }
        let _ = write!(out, "<DistanceMeters>{:.1}</DistanceMeters>", p.distance);
        if let Some(hr) = p.heart_rate {
            let _ = write!(out, "<HeartRateBpm><Value>{hr}</Value></HeartRateBpm>");
        }
        out.push_str("</Trackpoint>\n");
    }
    let _ = write!(
        out,
        "    </Track>\n   </Lap>\n   <Creator xsi:type=\"Device_t\">\n    <Name>{}</Name>\n    \
         <UnitId>0</UnitId>\n    <ProductID>0</ProductID>\n    <Version><VersionMajor>0</VersionMajor>\
         <VersionMinor>0</VersionMinor></Version>\n   </Creator>\n  </Activity>\n </Activities>\n\
         </TrainingCenterDatabase>\n",
        xml_escape(a.device_name.as_deref().unwrap_or("Strava")),
    );
    out
}
