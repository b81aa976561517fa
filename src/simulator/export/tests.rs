//! The export against the simulator's own history: layout, figures, files and checksums.

use std::collections::{BTreeSet, HashMap};
use std::io::{Cursor, Read};
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};

use super::csv::{Gear, col, row as csv_row};
use super::fit::fit_crc;
use super::track::{EARTH_RADIUS_M, track};
use super::*;
use crate::simulator::{SimConfig, history};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 20, 0, 0).unwrap()
}

fn athlete() -> Vec<SimActivity> {
    history(&SimConfig::default(), now())
}

/// The default athlete's full export, written once for every test that reads it.
fn full_export() -> &'static (Vec<SimActivity>, Vec<u8>, ExportSummary) {
    static EXPORT: OnceLock<(Vec<SimActivity>, Vec<u8>, ExportSummary)> = OnceLock::new();
    EXPORT.get_or_init(|| {
        let activities = athlete();
        let (bytes, summary) = export(&activities, ExportOptions::default());
        (activities, bytes, summary)
    })
}

fn open(bytes: &[u8]) -> zip::ZipArchive<Cursor<&[u8]>> {
    zip::ZipArchive::new(Cursor::new(bytes)).unwrap()
}

fn export(activities: &[SimActivity], options: ExportOptions) -> (Vec<u8>, ExportSummary) {
    let mut bytes = Cursor::new(Vec::new());
    let summary = write_export(activities, &mut bytes, &options).unwrap();
    (bytes.into_inner(), summary)
}

fn entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    zip.by_name(name).unwrap().read_to_end(&mut out).unwrap();
    out
}

fn names(zip: &zip::ZipArchive<Cursor<&[u8]>>) -> Vec<String> {
    zip.file_names().map(|n| n.unwrap().into_owned()).collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn read_csv(csv_bytes: &[u8]) -> (::csv::StringRecord, Vec<::csv::StringRecord>) {
    let mut reader = ::csv::Reader::from_reader(csv_bytes);
    let header = reader.headers().unwrap().clone();
    let rows = reader.records().map(Result::unwrap).collect();
    (header, rows)
}

/// CRC-16/ARC bit by bit: a second, independent form of the FIT CRC.
fn crc16_arc(bytes: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[test]
fn the_archive_holds_the_csv_the_gear_and_every_file_the_csv_names() {
    let (activities, bytes, summary) = full_export();
    assert_eq!(summary.activities, activities.len());

    let mut zip = open(bytes);
    let names: Vec<String> = names(&zip);
    for name in ["activities.csv", "bikes.csv", "shoes.csv"] {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
    let (_, rows) = read_csv(&entry(&mut zip, "activities.csv"));
    let named: Vec<&str> = rows.iter().map(|r| &r[col::FILENAME]).collect();
    let files: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("activities/"))
        .collect();
    assert_eq!(files.len(), summary.files);
    assert_eq!(
        named.iter().filter(|n| !n.is_empty()).count(),
        summary.files
    );
    for file in &files {
        assert!(named.contains(&file.as_str()), "{file} is not in the CSV");
    }
    for ext in [".fit.gz", ".gpx", ".gpx.gz", ".tcx.gz"] {
        assert!(
            files.iter().any(|f| f.ends_with(ext)),
            "no {ext} file in the mix"
        );
    }
    assert!(named.iter().any(|n| n.is_empty()), "some rows have no file");
    // Files are named by upload, not by activity id.
    for row in &rows {
        if !row[col::FILENAME].is_empty() {
            assert!(!row[col::FILENAME].contains(&row[col::ID]));
        }
    }

    let (header, bikes) = read_csv(&entry(&mut zip, "bikes.csv"));
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        [
            "Bike Name",
            "Bike Brand",
            "Bike Model",
            "Bike Default Sport Types"
        ]
    );
    assert_eq!(bikes.len(), 4);
    let (header, shoes) = read_csv(&entry(&mut zip, "shoes.csv"));
    assert_eq!(&header[0], "Shoe Name");
    assert_eq!(shoes.len(), 3);
}

#[test]
fn the_csv_is_the_real_layout_with_the_simulators_own_figures() {
    let (activities, bytes, _) = full_export();
    let mut zip = open(bytes);
    let (header, rows) = read_csv(&entry(&mut zip, "activities.csv"));
    assert_eq!(header.len(), 94);
    assert_eq!(header.iter().collect::<Vec<_>>(), ACTIVITIES_CSV_HEADER);
    assert_eq!(rows.len(), activities.len());

    let by_id: HashMap<i64, &SimActivity> = activities.iter().map(|a| (a.id, a)).collect();
    for row in &rows {
        assert_eq!(row.len(), 94);
        let a = by_id[&row[col::ID].parse::<i64>().unwrap()];
        assert_eq!(&row[col::NAME], a.name);
        assert_eq!(
            row[col::DISTANCE].parse::<f64>().unwrap().to_bits(),
            a.distance.to_bits()
        );
        assert_eq!(
            row[col::ELEVATION_GAIN].parse::<f64>().unwrap().to_bits(),
            a.total_elevation_gain.to_bits()
        );
        assert_eq!(
            row[col::ELAPSED].parse::<f64>().unwrap(),
            a.elapsed_time as f64
        );
        assert_eq!(
            row[col::MOVING].parse::<f64>().unwrap(),
            a.moving_time as f64
        );
        assert_eq!(row[col::ELAPSED_DISPLAY], a.elapsed_time.to_string());
        let date = chrono::NaiveDateTime::parse_from_str(&row[col::DATE], "%b %d, %Y, %I:%M:%S %p")
            .unwrap();
        assert_eq!(date.and_utc(), a.start_date);
        assert_eq!(
            row[col::AVERAGE_HEART_RATE].parse::<f64>().ok(),
            a.average_heartrate
        );
    }
    let types: BTreeSet<&str> = rows.iter().map(|r| &r[col::TYPE]).collect();
    for expected in [
        "Run",
        "Trail Run",
        "Virtual Run",
        "Ride",
        "Gravel Ride",
        "Mountain Bike Ride",
        "E-Bike Ride",
        "Virtual Ride",
        "Swim",
        "Walk",
        "Hike",
        "Weight Training",
        "Yoga",
    ] {
        assert!(
            types.contains(expected),
            "{expected} missing from {types:?}"
        );
    }
    assert_eq!(types.len(), 13, "{types:?}");
}

#[test]
fn dates_use_the_english_twelve_hour_form_in_utc() {
    let a = SimActivity::new(
        "Run",
        Utc.with_ymd_and_hms(2022, 5, 29, 15, 53, 35).unwrap(),
        5000.0,
        1500,
    )
    .with_id(7);
    assert_eq!(
        csv_row(&a, &Gear::of_athlete())[col::DATE],
        "May 29, 2022, 3:53:35 PM"
    );
    let a = SimActivity::new(
        "Run",
        Utc.with_ymd_and_hms(2022, 1, 3, 0, 5, 9).unwrap(),
        5000.0,
        1500,
    );
    assert_eq!(
        csv_row(&a, &Gear::of_athlete())[col::DATE],
        "Jan 3, 2022, 12:05:09 AM"
    );
}

#[test]
fn names_with_commas_quotes_newlines_and_markup_survive_the_csv() {
    let start = Utc.with_ymd_and_hms(2025, 6, 1, 7, 0, 0).unwrap();
    let tricky = "Tempo, \"hard\"\nthen <b>easy</b> & done";
    let a = SimActivity::new("Run", start, 10_000.0, 3000)
        .with_id(11_000_000_001)
        .with_name(tricky);
    let (bytes, _) = export(&[a], ExportOptions::default());
    let mut zip = open(&bytes);
    let (_, rows) = read_csv(&entry(&mut zip, "activities.csv"));
    assert_eq!(&rows[0][col::NAME], tricky);
}

#[test]
fn public_only_leaves_out_followers_only_and_private_activities() {
    let activities: Vec<SimActivity> = athlete().into_iter().take(400).collect();
    let public = activities
        .iter()
        .filter(|a| a.visibility == Visibility::Everyone)
        .count();
    assert!(public < activities.len());
    let (bytes, summary) = export(&activities, ExportOptions { public_only: true });
    assert_eq!(summary.activities, public);
    let mut zip = open(&bytes);
    let (_, rows) = read_csv(&entry(&mut zip, "activities.csv"));
    assert_eq!(rows.len(), public);
    let by_id: HashMap<i64, &SimActivity> = activities.iter().map(|a| (a.id, a)).collect();
    assert!(rows.iter().all(|r| {
        by_id[&r[col::ID].parse::<i64>().unwrap()].visibility == Visibility::Everyone
    }));
}

#[test]
fn the_same_history_gives_the_same_bytes() {
    let activities: Vec<SimActivity> = athlete().into_iter().take(300).collect();
    let options = ExportOptions { public_only: true };
    assert_eq!(
        export(&activities, options).0,
        export(&activities, options).0
    );
}

#[test]
fn fit_files_have_a_valid_header_and_both_crcs() {
    let (_, bytes, _) = full_export();
    let mut zip = open(bytes);
    let fits: Vec<String> = names(&zip)
        .into_iter()
        .filter(|n| n.ends_with(".fit.gz"))
        .collect();
    assert!(fits.len() > 100);
    for name in fits.iter().step_by(37) {
        let fit = gunzip(&entry(&mut zip, name));
        assert_eq!(fit[0], 14, "{name}");
        assert_eq!(&fit[8..12], b".FIT", "{name}");
        let data_size = u32::from_le_bytes(fit[4..8].try_into().unwrap()) as usize;
        assert_eq!(fit.len(), 14 + data_size + 2, "{name}");
        let header_crc = u16::from_le_bytes([fit[12], fit[13]]);
        assert_eq!(header_crc, crc16_arc(&fit[..12]), "{name}");
        let file_crc = u16::from_le_bytes([fit[fit.len() - 2], fit[fit.len() - 1]]);
        assert_eq!(file_crc, crc16_arc(&fit[..fit.len() - 2]), "{name}");
        // A CRC over the whole file, its own CRC included, is zero.
        assert_eq!(crc16_arc(&fit), 0, "{name}");
    }
}

#[test]
fn the_fit_crc_matches_the_reference_check_value() {
    // CRC-16/ARC of "123456789" is 0xBB3D.
    assert_eq!(fit_crc(b"123456789"), 0xBB3D);
    assert_eq!(crc16_arc(b"123456789"), 0xBB3D);
}

#[test]
fn gpx_and_tcx_files_parse_as_xml_and_match_their_activity() {
    let (activities, bytes, _) = full_export();
    let by_file: HashMap<String, &SimActivity> = activities
        .iter()
        .filter_map(|a| FileKind::of(a).map(|k| (filename(a, k), a)))
        .collect();
    let mut zip = open(bytes);
    let names: Vec<String> = names(&zip);
    let mut checked = [0; 3];
    for name in names.iter().filter(|n| n.starts_with("activities/")) {
        let raw = entry(&mut zip, name);
        let (text, kind) = if name.ends_with(".gpx") {
            (raw, 0)
        } else if name.ends_with(".gpx.gz") {
            (gunzip(&raw), 1)
        } else if name.ends_with(".tcx.gz") {
            (gunzip(&raw), 2)
        } else {
            continue;
        };
        checked[kind] += 1;
        let text = String::from_utf8(text).unwrap();
        let doc = roxmltree::Document::parse(text.trim_start()).unwrap();
        let a = by_file[name];
        let times: Vec<DateTime<Utc>> = doc
            .descendants()
            .filter(|n| n.has_tag_name("time") || n.has_tag_name("Time"))
            .filter(|n| n.parent().is_some_and(|p| !p.has_tag_name("metadata")))
            .map(|n| n.text().unwrap().parse().unwrap())
            .collect();
        assert_eq!(times.first(), Some(&a.start_date), "{name}");
        assert_eq!(
            (*times.last().unwrap() - a.start_date).num_seconds(),
            a.elapsed_time,
            "{name}"
        );
        if kind == 2 {
            let lap_distance = doc
                .descendants()
                .find(|n| {
                    n.has_tag_name("DistanceMeters")
                        && n.parent().is_some_and(|p| p.has_tag_name("Lap"))
                })
                .and_then(|n| n.text())
                .unwrap();
            assert_eq!(lap_distance.parse::<f64>().unwrap(), a.distance, "{name}");
        } else {
            let first = doc.descendants().find(|n| n.has_tag_name("trkpt")).unwrap();
            let lat: f64 = first.attribute("lat").unwrap().parse().unwrap();
            let start = a.start_latlng.unwrap();
            assert!((lat - start[0]).abs() < 1e-6, "{name}");
            let length = track_length(&doc);
            assert!(
                (length - a.distance).abs() <= a.distance * 0.01 + 1.0,
                "{name}: {length} m for {} m",
                a.distance
            );
        }
    }
    assert!(checked.iter().all(|c| *c > 10), "{checked:?}");
}

fn track_length(doc: &roxmltree::Document) -> f64 {
    let points: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("trkpt"))
        .map(|n| {
            (
                n.attribute("lat").unwrap().parse::<f64>().unwrap(),
                n.attribute("lon").unwrap().parse::<f64>().unwrap(),
            )
        })
        .collect();
    points
        .windows(2)
        .map(|w| {
            let (la1, lo1) = (w[0].0.to_radians(), w[0].1.to_radians());
            let (la2, lo2) = (w[1].0.to_radians(), w[1].1.to_radians());
            let h = ((la2 - la1) / 2.0).sin().powi(2)
                + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
            2.0 * EARTH_RADIUS_M * h.sqrt().asin()
        })
        .sum()
}

#[test]
fn a_track_lasts_the_elapsed_time_moves_for_the_moving_time_and_climbs_the_gain() {
    for a in athlete()
        .iter()
        .filter(|a| a.start_latlng.is_some())
        .step_by(53)
    {
        let points = track(a);
        assert_eq!(points.first().unwrap().at, 0);
        assert_eq!(points.last().unwrap().at, a.elapsed_time);
        assert_eq!(points.last().unwrap().distance, a.distance);
        let moving: i64 = points
            .windows(2)
            .filter(|w| {
                let dt = w[1].at - w[0].at;
                dt < 30 && (w[1].distance - w[0].distance) / dt as f64 >= 0.5
            })
            .map(|w| w[1].at - w[0].at)
            .sum();
        assert_eq!(moving, a.moving_time, "{}", a.name);
        let mut gain = 0.0;
        for w in points.windows(2) {
            gain += (w[1].altitude.unwrap() - w[0].altitude.unwrap()).max(0.0);
        }
        assert!(
            (gain - a.total_elevation_gain).abs() <= a.total_elevation_gain * 0.05 + 1.0,
            "{gain} for {}",
            a.total_elevation_gain
        );
    }
}

#[test]
fn activity_types_are_strava_display_names() {
    assert_eq!(display_name("TrailRun"), "Trail Run");
    assert_eq!(display_name("EBikeRide"), "E-Bike Ride");
    assert_eq!(display_name("WeightTraining"), "Weight Training");
    assert_eq!(display_name("Run"), "Run");
    assert_eq!(display_name("Kitesurf"), "Kitesurf");
    assert_eq!(display_name("SomeNewSport"), "Some New Sport");
}

#[actix_web::test]
async fn a_running_simulator_exports_what_it_serves_edits_included() {
    let sim =
        crate::simulator::Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
    let id = sim.activities()[0]["id"].as_i64().unwrap();
    sim.update_activity(id, |a| a.name = "Renamed, after the fact".into());

    let mut bytes = Cursor::new(Vec::new());
    let summary = sim
        .write_export(&mut bytes, &ExportOptions::default())
        .unwrap();
    sim.stop().await;

    let bytes = bytes.into_inner();
    let mut zip = open(&bytes);
    let (_, rows) = read_csv(&entry(&mut zip, "activities.csv"));
    assert_eq!(summary.activities, rows.len());
    let row = rows.iter().find(|r| r[col::ID] == id.to_string()).unwrap();
    assert_eq!(&row[col::NAME], "Renamed, after the fact");
}

#[test]
fn every_sport_name_written_reads_back_as_the_same_sport_type() {
    use crate::import::sport::{sport_type_of, sport_type_of_fit};
    // The FIT profile's names for the numbers `fit_sport` writes.
    let fit_name = |sport: u8, sub_sport: u8| -> (&str, &str) {
        let sport = match sport {
            1 => "running",
            2 => "cycling",
            5 => "swimming",
            10 => "training",
            11 => "walking",
            17 => "hiking",
            21 => "e_biking",
            _ => "generic",
        };
        let sub_sport = match sub_sport {
            3 => "trail",
            7 => "road",
            8 => "mountain",
            17 => "lap_swimming",
            20 => "strength_training",
            28 => "e_bike_fitness",
            43 => "yoga",
            46 => "gravel_cycling",
            47 => "e_bike_mountain",
            58 => "virtual_activity",
            _ => "generic",
        };
        (sport, sub_sport)
    };
    let sports: BTreeSet<String> = athlete().into_iter().map(|a| a.sport_type).collect();
    for sport_type in sports
        .iter()
        .map(String::as_str)
        .chain(["EMountainBikeRide"])
    {
        assert_eq!(
            sport_type_of(&display_name(sport_type)),
            Some(sport_type),
            "Activity Type {}",
            display_name(sport_type)
        );
        assert_eq!(
            sport_type_of(super::gpx::gpx_type(sport_type)),
            Some(sport_type),
            "GPX type"
        );
        let (sport, sub_sport) = super::fit::fit_sport(sport_type);
        let (sport, sub_sport) = fit_name(sport, sub_sport);
        assert_eq!(
            sport_type_of_fit(sport, sub_sport),
            Some(sport_type),
            "FIT {sport}/{sub_sport}"
        );
    }
}
