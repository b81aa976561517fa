//! A FIT activity file (SPEC §11) into a [`Recording`].
//!
//! The figures come from the file's session messages, as the device summed them: sport and
//! sub-sport, start, total elapsed and timer time, distance, ascent, maximum speed and heart rate.
//! A multisport file (several sessions) is one activity: it starts when its first session starts,
//! takes that session's sport, sums times, distance and ascent over every session, keeps the
//! highest maximum and weights the average heart rate by each session's timer time. A file whose
//! recording was cut off before the device wrote a session (a crash, a flat battery) is read from
//! its laps the same way; one without either summary is refused rather than guessed from points.
//!
//! The local offset is the activity message's `local_timestamp` − `timestamp`, kept only within
//! ±18 h: Zwift and some indoor apps write `local_timestamp` 0 (1989-12-31), which is no offset.
//!
//! Refused, each with its reason: input that is not FIT, a FIT file of another kind (course,
//! settings, monitoring, workout, weight scale, …), a truncated file, a CRC that does not match
//! (the header's when it carries one, and the file's), and a file whose times count from the
//! device's power-on instead of a date (old Forerunners), which has no start to place.
//!
//! Decoding is `rustyfit`'s; the framing (header, sizes, both CRCs, chained FIT files) is checked
//! here first, because rustyfit 0.6's own file CRC leaves out the 12-byte headers and zero header
//! CRCs that Zwift and older Garmin devices write, and would refuse their valid files.

use std::panic::{self, AssertUnwindSafe};

use chrono::{DateTime, Utc};
use rustyfit::{
    DecoderBuilder, DecoderError, DecoderEvent,
    profile::{mesgdef, typedef},
    proto::{Message, Value},
};

use super::sport::sport_type_of_fit;
use super::{Recording, Refusal};

/// Seconds from the Unix epoch to FIT's, 1989-12-31T00:00:00Z.
const FIT_EPOCH: i64 = 631_065_600;
/// FIT times below this count seconds from the device's power-on, not from the FIT epoch.
const FIT_MIN_DATE: u32 = 0x1000_0000;
/// The widest offset any time zone has had; anything beyond is a device's placeholder.
const MAX_UTC_OFFSET_SECS: i64 = 18 * 3600;
const FIT_TAG: &[u8; 4] = b".FIT";

// Field numbers of the record message, read without building the whole message: an activity has
// thousands of records and only the first position matters.
const RECORD_POSITION_LAT: u8 = 0;
const RECORD_POSITION_LONG: u8 = 1;
// `enhanced_max_speed` of session and lap, read again when a device writes it as an array.
const SESSION_ENHANCED_MAX_SPEED: u8 = 125;
const LAP_ENHANCED_MAX_SPEED: u8 = 111;

/// Reads one FIT activity file.
pub fn read(bytes: &[u8]) -> Result<Recording, Refusal> {
    let mut summary = FileSummary::default();
    for segment in segments(bytes)? {
        decode_segment(segment, &mut summary)?;
    }
    summary.into_recording()
}

/// The FIT files a byte string holds (devices may chain several, e.g. a swim's extra data), each
/// with its header and CRCs checked.
fn segments(bytes: &[u8]) -> Result<Vec<&[u8]>, Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::new("an empty file, not a FIT file"));
    }
    let mut found = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        // Some writers pad the file after the last CRC; padding is no further FIT file.
        if !found.is_empty() && rest.iter().all(|&b| b == 0) {
            break;
        }
        let (segment, after) = segment(rest, found.is_empty())?;
        found.push(segment);
        rest = after;
    }
    Ok(found)
}

/// The first FIT file of `bytes` (header, data, CRC), and what follows it.
fn segment(bytes: &[u8], first: bool) -> Result<(&[u8], &[u8]), Refusal> {
    let header_size = usize::from(bytes[0]);
    let looks_like_fit = (header_size == 12 || header_size == 14)
        && bytes.get(8..12).is_some_and(|tag| tag == FIT_TAG);
    if !looks_like_fit {
        // The first header names the file's format; a broken one after valid data is corruption.
        return Err(Refusal::new(if first {
            "not a FIT file (no FIT header)"
        } else {
            "a corrupt FIT file: bytes after its data are not a FIT file"
        }));
    }
    let Some(header) = bytes.get(..header_size) else {
        return Err(Refusal::new("a truncated FIT file: its header is cut off"));
    };
    if header_size == 14 {
        let stored = u16::from_le_bytes([header[12], header[13]]);
        // 0 means the writer did not compute a header CRC, which the protocol allows.
        if stored != 0 && stored != crc16(&header[..12]) {
            return Err(Refusal::new(
                "a corrupt FIT file: the header's CRC does not match",
            ));
        }
    }
    let data_size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let end = usize::try_from(data_size)
        .ok()
        .and_then(|size| size.checked_add(header_size));
    let Some(crc_bytes) = end.and_then(|end| Some((end, bytes.get(end..end.checked_add(2)?)?)))
    else {
        return Err(Refusal::new(format!(
            "a truncated FIT file: its header announces {data_size} bytes of data and a CRC, {} \
             bytes follow it",
            bytes.len() - header_size
        )));
    };
    let (end, crc_bytes) = crc_bytes;
    let stored = u16::from_le_bytes([crc_bytes[0], crc_bytes[1]]);
    // The file CRC covers the header too; with a valid header CRC that part sums to zero, so the
    // one formula serves 12- and 14-byte headers alike.
    if stored != crc16(&bytes[..end]) {
        return Err(Refusal::new("a corrupt FIT file: its CRC does not match"));
    }
    Ok(bytes.split_at(end + 2))
}

/// FIT's CRC-16 (polynomial 0xA001, reflected, initial 0), as the protocol defines it.
fn crc16(bytes: &[u8]) -> u16 {
    const TABLE: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    bytes.iter().fold(0u16, |mut crc, &byte| {
        for nibble in [byte & 0x0F, byte >> 4] {
            let tmp = TABLE[usize::from(crc & 0x0F)];
            crc = ((crc >> 4) & 0x0FFF) ^ tmp ^ TABLE[usize::from(nibble)];
        }
        crc
    })
}

fn decode_segment(segment: &[u8], summary: &mut FileSummary) -> Result<(), Refusal> {
    // The framing and CRCs were checked above (see the module doc for why not here).
    let mut decoder = DecoderBuilder::new().checksum(false).build(segment);
    // rustyfit 0.6.1 divides by a base type's size, which is 0 for a base type number it does not
    // know: a definition or field description corrupted behind a valid CRC panics it. Such a file
    // is refused here instead of taking its worker down; the summary it left half-filled is
    // dropped with the refusal. (This needs unwinding, which milepost's profiles keep.)
    let decoded = panic::catch_unwind(AssertUnwindSafe(|| {
        decoder.decode_with(|event| {
            if let DecoderEvent::Message(message) = event {
                summary.take(message);
            }
        })
    }));
    let Ok(decoded) = decoded else {
        return Err(Refusal::new(
            "a corrupt FIT file: a message definition names a base type that does not exist",
        ));
    };
    decoded.map(|_| ()).map_err(|err| match err {
        DecoderError::MissingMessageDefinition { local_mesg_num } => Refusal::new(format!(
            "a corrupt FIT file: a message uses local definition {local_mesg_num} before \
                 defining it"
        )),
        DecoderError::UnexpectedEof { .. } => Refusal::new(
            "a corrupt FIT file: a message runs past the end of the data its header announces",
        ),
        DecoderError::NotFITFile => Refusal::new("not a FIT file (no FIT header)"),
        err => Refusal::new(format!("a corrupt FIT file: {err}")),
    })
}

/// What is kept of a file while its messages go by.
#[derive(Default)]
struct FileSummary {
    file_type: Option<typedef::File>,
    sessions: Vec<Summary>,
    laps: Vec<Summary>,
    /// The activity message's `timestamp` and `local_timestamp`, raw.
    activity_times: Option<(u32, u32)>,
    first_position: Option<(f64, f64)>,
}

impl FileSummary {
    fn take(&mut self, message: &Message) {
        match message.num {
            typedef::MesgNum::FILE_ID if self.file_type.is_none() => {
                self.file_type = Some(mesgdef::FileId::from(message).r#type);
            }
            typedef::MesgNum::SESSION => {
                let enhanced = first_u32(message, SESSION_ENHANCED_MAX_SPEED);
                self.sessions
                    .push(Summary::session(mesgdef::Session::from(message), enhanced));
            }
            // Laps only matter when no session comes; they are few, so keeping them is cheap.
            typedef::MesgNum::LAP => {
                let enhanced = first_u32(message, LAP_ENHANCED_MAX_SPEED);
                self.laps
                    .push(Summary::lap(mesgdef::Lap::from(message), enhanced));
            }
            typedef::MesgNum::ACTIVITY if self.activity_times.is_none() => {
                let activity = mesgdef::Activity::from(message);
                self.activity_times = Some((activity.timestamp.0, activity.local_timestamp.0));
            }
            typedef::MesgNum::RECORD if self.first_position.is_none() => {
                self.first_position = position(message);
            }
            _ => {}
        }
    }

    fn into_recording(self) -> Result<Recording, Refusal> {
        // A file without a file_id (or with an invalid type) is read for what it holds: the
        // summaries decide below whether it is an activity.
        if let Some(file_type) = self.file_type
            && file_type != typedef::File::ACTIVITY
            && file_type != typedef::File(u8::MAX)
        {
            return Err(Refusal::new(format!(
                "{}, not an activity",
                kind_of(file_type)
            )));
        }
        let parts = if self.sessions.is_empty() {
            self.laps
        } else {
            self.sessions
        };
        let Some(first) = parts.iter().min_by_key(|part| part.start_key()) else {
            return Err(Refusal::new(
                "a FIT activity without a session or lap summary (the recording may have been \
                 cut off)",
            ));
        };
        let start = first.start()?;
        let sport_type = first.sport_type();

        let mut elapsed_ms: u64 = 0;
        let mut timer_ms: u64 = 0;
        let mut distance_cm: u64 = 0;
        let mut ascent_m: u64 = 0;
        let mut max_speed_mm_s: u32 = 0;
        let mut max_heartrate: Option<u8> = None;
        let mut heartrate_weighted: f64 = 0.0;
        let mut heartrate_weights: f64 = 0.0;
        let mut heartrates: Vec<u8> = Vec::new();
        for part in &parts {
            let elapsed = part.elapsed_ms();
            let timer = part.timer_ms().unwrap_or(elapsed);
            elapsed_ms = elapsed_ms.saturating_add(u64::from(elapsed));
            timer_ms = timer_ms.saturating_add(u64::from(timer));
            distance_cm = distance_cm.saturating_add(u64::from(part.distance_cm.unwrap_or(0)));
            ascent_m = ascent_m.saturating_add(u64::from(part.ascent_m.unwrap_or(0)));
            if let Some(speed) = part.max_speed_mm_s {
                max_speed_mm_s = max_speed_mm_s.max(speed);
            }
            if let Some(max) = part.max_heartrate {
                max_heartrate = Some(max_heartrate.map_or(max, |m| m.max(max)));
            }
            if let Some(avg) = part.avg_heartrate {
                heartrates.push(avg);
                heartrate_weighted += f64::from(avg) * f64::from(timer);
                heartrate_weights += f64::from(timer);
            }
        }
        let average_heartrate = if heartrates.is_empty() {
            None
        } else if heartrate_weights > 0.0 {
            Some(round_to_tenth(heartrate_weighted / heartrate_weights))
        } else {
            let sum: f64 = heartrates.iter().copied().map(f64::from).sum();
            Some(round_to_tenth(sum / heartrates.len() as f64))
        };

        Ok(Recording {
            sport_type,
            start,
            utc_offset: self.activity_times.and_then(utc_offset),
            first_position: self.first_position,
            distance: distance_cm as f64 / 100.0,
            moving_time: rounded_seconds(timer_ms),
            elapsed_time: rounded_seconds(elapsed_ms),
            elevation_gain: ascent_m as f64,
            max_speed: f64::from(max_speed_mm_s) / 1000.0,
            average_heartrate,
            max_heartrate: max_heartrate.map(f64::from),
            name: None,
        })
    }
}

/// A session's or lap's own figures in the file's units (ms, cm, m, mm/s), `None` where the
/// device wrote FIT's invalid value.
struct Summary {
    sport: typedef::Sport,
    sub_sport: typedef::SubSport,
    start_time: Option<u32>,
    end_time: Option<u32>,
    elapsed_ms: Option<u32>,
    timer_ms: Option<u32>,
    distance_cm: Option<u32>,
    ascent_m: Option<u16>,
    max_speed_mm_s: Option<u32>,
    avg_heartrate: Option<u8>,
    max_heartrate: Option<u8>,
}

impl Summary {
    /// `enhanced_max_speed` is passed apart: see [`first_u32`].
    fn session(s: mesgdef::Session, enhanced_max_speed: Option<u32>) -> Self {
        Self {
            sport: s.sport,
            sub_sport: s.sub_sport,
            start_time: valid_u32(s.start_time.0),
            end_time: valid_u32(s.timestamp.0),
            elapsed_ms: valid_u32(s.total_elapsed_time),
            timer_ms: valid_u32(s.total_timer_time),
            distance_cm: valid_u32(s.total_distance),
            ascent_m: valid_u16(s.total_ascent),
            max_speed_mm_s: enhanced_max_speed.or_else(|| valid_u16(s.max_speed).map(u32::from)),
            avg_heartrate: heartrate(s.avg_heart_rate),
            max_heartrate: heartrate(s.max_heart_rate),
        }
    }

    fn lap(l: mesgdef::Lap, enhanced_max_speed: Option<u32>) -> Self {
        Self {
            sport: l.sport,
            sub_sport: l.sub_sport,
            start_time: valid_u32(l.start_time.0),
            end_time: valid_u32(l.timestamp.0),
            elapsed_ms: valid_u32(l.total_elapsed_time),
            timer_ms: valid_u32(l.total_timer_time),
            distance_cm: valid_u32(l.total_distance),
            ascent_m: valid_u16(l.total_ascent),
            max_speed_mm_s: enhanced_max_speed.or_else(|| valid_u16(l.max_speed).map(u32::from)),
            avg_heartrate: heartrate(l.avg_heart_rate),
            max_heartrate: heartrate(l.max_heart_rate),
        }
    }

    /// Orders parts by start; parts without one go last, so they never become the "first".
    fn start_key(&self) -> (bool, u32) {
        match self.start_time.or(self.end_time) {
            Some(t) => (false, t),
            None => (true, 0),
        }
    }

    fn start(&self) -> Result<DateTime<Utc>, Refusal> {
        // A session without its start_time still has its end and its length.
        let raw = self.start_time.or_else(|| {
            let end = self.end_time?;
            end.checked_sub(self.elapsed_ms? / 1000)
        });
        let Some(raw) = raw else {
            return Err(Refusal::new("a FIT activity without a start time"));
        };
        if raw < FIT_MIN_DATE {
            return Err(Refusal::new(
                "a FIT activity whose times count from the device's power-on, not a date",
            ));
        }
        DateTime::from_timestamp(FIT_EPOCH + i64::from(raw), 0)
            .ok_or_else(|| Refusal::new("a FIT activity with a start time out of range"))
    }

    /// The total elapsed time, or, when the device left it out, the span from start to end.
    fn elapsed_ms(&self) -> u32 {
        self.elapsed_ms
            .or_else(|| {
                let span = self.end_time?.checked_sub(self.start_time?)?;
                span.checked_mul(1000)
            })
            .unwrap_or(0)
    }

    fn timer_ms(&self) -> Option<u32> {
        self.timer_ms
    }

    fn sport_type(&self) -> Option<&'static str> {
        // rustyfit names values its profile does not know `Sport(N)`; such a number names no
        // sport the table could know, and an unknown sub-sport only loses the refinement.
        let sport = self.sport.to_string();
        if sport.contains('(') {
            return None;
        }
        let sub_sport = self.sub_sport.to_string();
        let sub_sport = if sub_sport.contains('(') {
            ""
        } else {
            sub_sport.as_str()
        };
        sport_type_of_fit(&sport, sub_sport)
    }
}

/// The first record's position in degrees, when it has a plausible one.
fn position(message: &Message) -> Option<(f64, f64)> {
    let field = |num| {
        message
            .fields
            .iter()
            .find(|f| f.num == num)
            .and_then(|f| match f.value {
                Value::Int32(v) if v != i32::MAX => Some(semicircles_to_degrees(v)),
                _ => None,
            })
    };
    let lat = field(RECORD_POSITION_LAT)?;
    let long = field(RECORD_POSITION_LONG)?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long)).then_some((lat, long))
}

fn semicircles_to_degrees(semicircles: i32) -> f64 {
    f64::from(semicircles) * (180.0 / 2_147_483_648.0)
}

/// `local_timestamp` − `timestamp` when both are dates and the difference is a real offset.
fn utc_offset((timestamp, local_timestamp): (u32, u32)) -> Option<i32> {
    let timestamp = valid_u32(timestamp).filter(|&t| t >= FIT_MIN_DATE)?;
    let local_timestamp = valid_u32(local_timestamp)?;
    let offset = i64::from(local_timestamp) - i64::from(timestamp);
    if offset.abs() > MAX_UTC_OFFSET_SECS {
        return None;
    }
    i32::try_from(offset).ok()
}

/// What kind of FIT file a non-activity `file_id.type` is, for the refusal.
fn kind_of(file_type: typedef::File) -> String {
    let kind = match file_type.0 {
        1 => "device",
        2 => "settings",
        3 => "sport settings",
        5 => "workout",
        6 => "course",
        7 => "schedules",
        9 => "weight scale",
        10 => "totals",
        11 => "goals",
        14 => "blood pressure",
        15 | 28 | 32 => "monitoring",
        20 => "activity summary",
        34 => "segment",
        35 => "segment list",
        40 => "data screen configuration",
        n => return format!("a FIT file of type {n}"),
    };
    format!("a FIT {kind} file")
}

fn valid_u32(v: u32) -> Option<u32> {
    (v != u32::MAX).then_some(v)
}

fn valid_u16(v: u16) -> Option<u16> {
    (v != u16::MAX).then_some(v)
}

/// A u32 field's value, or the first of an array of them: Garmin's multisport watches write
/// `enhanced_max_speed` as two values, the second invalid, which the typed message drops.
fn first_u32(message: &Message, num: u8) -> Option<u32> {
    let field = message.fields.iter().find(|f| f.num == num)?;
    match &field.value {
        Value::Uint32(v) => valid_u32(*v),
        Value::VecUint32(values) => values.first().copied().and_then(valid_u32),
        _ => None,
    }
}

/// A heart rate in bpm; 0 is what apps without a heart-rate sensor write (Zwift), not a reading.
fn heartrate(bpm: u8) -> Option<u8> {
    (bpm != u8::MAX && bpm != 0).then_some(bpm)
}

fn rounded_seconds(ms: u64) -> i64 {
    i64::try_from(ms.saturating_add(500) / 1000).unwrap_or(i64::MAX)
}

fn round_to_tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected figures are what fitdecode (an independent Python decoder) reads from each file;
    // tests/fixtures/import/fit/README.md says how.
    const FENIX_5_RUN: &[u8] =
        include_bytes!("../../tests/fixtures/import/fit/garmin-fenix-5-run.fit");
    const FR110_RUN: &[u8] =
        include_bytes!("../../tests/fixtures/import/fit/2013-02-06-12-11-14.fit");
    const COROS_RIDE: &[u8] = include_bytes!(
        "../../tests/fixtures/import/fit/coros-pace-2-cycling-misaligned-fields.fit"
    );
    const WAHOO_RIDE: &[u8] = include_bytes!(
        "../../tests/fixtures/import/fit/elemnt-bolt-no-application-id-inside-developer-data-id.fit"
    );
    const ZWIFT_RIDE: &[u8] =
        include_bytes!("../../tests/fixtures/import/fit/null_compressed_speed_dist.fit");
    const TRIATHLON: &[u8] =
        include_bytes!("../../tests/fixtures/import/fit/triathlon_summary_first.fit");
    const SETTINGS: &[u8] = include_bytes!("../../tests/fixtures/import/fit/Settings.fit");
    const FR70_POWER_ON_TIMES: &[u8] =
        include_bytes!("../../tests/fixtures/import/fit/antfs-dump.63.fit");
    const ONLY_FILE_ID: &[u8] =
        include_bytes!("../../tests/fixtures/import/fit/valid_only_contain_fileid.fit");

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("a test date")
    }

    fn refusal(bytes: &[u8]) -> String {
        match read(bytes) {
            Ok(recording) => panic!("expected a refusal, read {recording:?}"),
            Err(Refusal(reason)) => reason,
        }
    }

    fn assert_position(actual: Option<(f64, f64)>, expected: (f64, f64)) {
        let (lat, long) = actual.expect("a first position");
        assert!((lat - expected.0).abs() < 1e-9, "latitude {lat}");
        assert!((long - expected.1).abs() < 1e-9, "longitude {long}");
    }

    #[test]
    fn a_garmin_run_gives_the_session_figures_and_the_local_offset() {
        let r = read(FENIX_5_RUN).expect("readable");
        assert_eq!(r.sport_type, Some("Run"));
        assert_eq!(r.start, utc("2017-06-11T14:34:09Z"));
        assert_eq!(r.utc_offset, Some(-7 * 3600));
        assert_position(r.first_position, (38.22978727519512, -122.63370391912758));
        assert_eq!(r.distance, 157.56);
        assert_eq!((r.moving_time, r.elapsed_time), (57, 57));
        assert_eq!(r.elevation_gain, 2.0);
        assert_eq!(r.max_speed, 3.658);
        assert_eq!(
            (r.average_heartrate, r.max_heartrate),
            (Some(90.0), Some(112.0))
        );
        assert_eq!(r.name, None);
    }

    #[test]
    fn a_file_with_a_zero_header_crc_and_no_local_time_is_read() {
        let r = read(FR110_RUN).expect("readable");
        assert_eq!(r.sport_type, Some("Run"));
        assert_eq!(r.start, utc("2013-02-06T12:11:14Z"));
        assert_eq!(r.utc_offset, None);
        assert_position(r.first_position, (57.38461355678737, -4.429914616048336));
        assert_eq!(r.distance, 4835.38);
        assert_eq!((r.moving_time, r.elapsed_time), (2625, 2625));
        assert_eq!(r.elevation_gain, 168.0);
        assert_eq!(r.max_speed, 5.222);
        assert_eq!(
            (r.average_heartrate, r.max_heartrate),
            (Some(147.0), Some(171.0))
        );
    }

    #[test]
    fn a_coros_ride_with_misaligned_fields_is_read() {
        let r = read(COROS_RIDE).expect("readable");
        assert_eq!(r.sport_type, Some("Ride"));
        assert_eq!(r.start, utc("2020-10-25T11:10:19Z"));
        assert_eq!(r.utc_offset, Some(0));
        assert_position(r.first_position, (4.72321811132133, -73.97118078544736));
        assert_eq!(r.distance, 32145.76);
        assert_eq!((r.moving_time, r.elapsed_time), (11287, 12719));
        assert_eq!(r.elevation_gain, 938.0);
        assert_eq!(r.max_speed, 9.836);
        assert_eq!((r.average_heartrate, r.max_heartrate), (None, Some(168.0)));
    }

    #[test]
    fn a_wahoo_ride_with_developer_data_is_read() {
        let r = read(WAHOO_RIDE).expect("readable");
        assert_eq!(r.sport_type, Some("Ride"));
        assert_eq!(r.start, utc("2017-08-21T08:18:00Z"));
        assert_eq!(r.utc_offset, Some(2 * 3600));
        assert_position(r.first_position, (49.870526706799865, 8.622173359617591));
        assert_eq!(r.distance, 963.65);
        assert_eq!((r.moving_time, r.elapsed_time), (132, 140));
        assert_eq!(r.elevation_gain, 4.0);
        assert_eq!(r.max_speed, 10.596);
        assert_eq!((r.average_heartrate, r.max_heartrate), (None, None));
    }

    #[test]
    fn a_zwift_ride_with_a_12_byte_header_has_no_offset_and_no_zero_heart_rate() {
        let r = read(ZWIFT_RIDE).expect("readable");
        assert_eq!(r.sport_type, Some("VirtualRide"));
        assert_eq!(r.start, utc("2017-10-05T00:04:06Z"));
        // Zwift writes local_timestamp 0: 1989-12-31 is no offset.
        assert_eq!(r.utc_offset, None);
        assert_position(r.first_position, (51.50937259197235, -0.07808832451701164));
        assert_eq!(r.distance, 13400.14);
        assert_eq!((r.moving_time, r.elapsed_time), (1808, 1807));
        assert_eq!(r.elevation_gain, 92.0);
        assert_eq!(r.max_speed, 15.069);
        assert_eq!((r.average_heartrate, r.max_heartrate), (None, None));
    }

    #[test]
    fn a_triathlon_is_one_activity_summed_over_its_five_sessions() {
        let r = read(TRIATHLON).expect("readable");
        assert_eq!(r.sport_type, Some("Swim"));
        assert_eq!(r.start, utc("2023-09-02T13:15:24Z"));
        assert_eq!(r.utc_offset, Some(-5 * 3600));
        assert_position(r.first_position, (39.037168230861425, -94.76869630627334));
        // 513.26 + 132.35 + 13517.59 + 71.72 + 4491.51, without float noise
        assert_eq!(r.distance, 18726.43);
        // 675.701 + 157.151 + 1566.657 + 69.623 + 1573.613 = 4042.745 s
        assert_eq!((r.moving_time, r.elapsed_time), (4043, 4043));
        assert_eq!(r.elevation_gain, 174.0);
        // the bike's, written as an array of two values of which the second is invalid
        assert_eq!(r.max_speed, 16.525);
        // averages 95, 104, 164, 161, 168 weighted by each session's timer time
        assert_eq!(
            (r.average_heartrate, r.max_heartrate),
            (Some(151.6), Some(178.0))
        );
    }

    #[test]
    fn a_settings_file_is_refused_as_such() {
        assert_eq!(refusal(SETTINGS), "a FIT settings file, not an activity");
    }

    #[test]
    fn every_non_activity_kind_is_refused_naming_it() {
        for (file_type, reason) in [
            (5, "a FIT workout file, not an activity"),
            (6, "a FIT course file, not an activity"),
            (9, "a FIT weight scale file, not an activity"),
            (15, "a FIT monitoring file, not an activity"),
            (32, "a FIT monitoring file, not an activity"),
            (3, "a FIT sport settings file, not an activity"),
            (200, "a FIT file of type 200, not an activity"),
        ] {
            let mut fit = Fit::new();
            fit.file_id(file_type);
            assert_eq!(refusal(&fit.finish()), reason);
        }
    }

    #[test]
    fn times_counted_from_power_on_are_refused() {
        assert_eq!(
            refusal(FR70_POWER_ON_TIMES),
            "a FIT activity whose times count from the device's power-on, not a date"
        );
    }

    #[test]
    fn an_activity_without_session_or_laps_is_refused() {
        assert_eq!(
            refusal(ONLY_FILE_ID),
            "a FIT activity without a session or lap summary (the recording may have been cut off)"
        );
    }

    #[test]
    fn a_flipped_data_byte_fails_the_crc() {
        let mut bytes = FENIX_5_RUN.to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        assert_eq!(
            refusal(&bytes),
            "a corrupt FIT file: its CRC does not match"
        );
    }

    #[test]
    fn a_flipped_header_byte_fails_the_header_crc() {
        let mut bytes = FENIX_5_RUN.to_vec();
        bytes[2] ^= 0x01; // the profile version
        assert_eq!(
            refusal(&bytes),
            "a corrupt FIT file: the header's CRC does not match"
        );
    }

    #[test]
    fn a_truncated_file_is_refused_as_truncated() {
        for cut in [13, 14, 100, FENIX_5_RUN.len() / 2, FENIX_5_RUN.len() - 1] {
            let reason = refusal(&FENIX_5_RUN[..cut]);
            assert!(
                reason.starts_with("a truncated FIT file"),
                "cut at {cut}: {reason}"
            );
        }
    }

    #[test]
    fn empty_and_foreign_input_is_not_fit() {
        assert_eq!(refusal(b""), "an empty file, not a FIT file");
        for foreign in [
            &b"<?xml version=\"1.0\"?><gpx></gpx>"[..],
            &b"PK\x03\x04"[..],
            &[14][..],
            &[0xFF; 64][..],
        ] {
            assert_eq!(refusal(foreign), "not a FIT file (no FIT header)");
        }
    }

    #[test]
    fn garbage_behind_a_valid_header_and_crc_is_refused_as_corrupt() {
        let body: Vec<u8> = (0u8..=255).cycle().skip(3).take(700).collect();
        let reason = refusal(&frame(&body));
        assert!(reason.starts_with("a corrupt FIT file"), "{reason}");
    }

    #[test]
    fn no_corruption_that_passes_the_crc_makes_the_reader_panic() {
        // Bytes changed behind the CRC's back: every outcome is fine but a panic.
        for fixture in [FENIX_5_RUN, WAHOO_RIDE] {
            let header_size = usize::from(fixture[0]);
            let data = &fixture[header_size..fixture.len() - 2];
            for at in (0..data.len()).step_by(7) {
                for flip in [0x01, 0xFF] {
                    let mut body = data.to_vec();
                    body[at] ^= flip;
                    let _ = read(&frame(&body));
                }
            }
        }
    }

    #[test]
    fn a_base_type_that_does_not_exist_is_refused_not_a_panic() {
        let mut fit = Fit::new();
        fit.file_id(4);
        // field 200 of a record is in no profile, so its base type comes from the file: 0x1F
        fit.define(1, 20, &[(200, 2, 0x1F)], &[]);
        fit.data(1, &[1, 2]);
        assert_eq!(
            refusal(&fit.finish()),
            "a corrupt FIT file: a message definition names a base type that does not exist"
        );
    }

    #[test]
    fn a_developer_field_used_before_its_description_is_read() {
        // Hammerhead's Karoo defines its record with developer fields whose descriptions come a
        // few messages later.
        let mut fit = Fit::new();
        fit.file_id(4);
        fit.define(1, 207, &[(3, 1, 0x02)], &[]); // developer_data_id: developer_data_index
        fit.data(1, &[0]);
        // field_description: developer_data_index, field_definition_number, fit_base_type_id,
        // field_name
        fit.define(
            2,
            206,
            &[(0, 1, 0x02), (1, 1, 0x02), (2, 1, 0x02), (3, 8, 0x07)],
            &[],
        );
        fit.data(
            2,
            &[0, 0, 0x84, b'W', b'_', b'P', b'r', b'i', b'm', b'e', 0],
        );
        fit.define(
            3,
            20,
            &[(253, 4, 0x86), (0, 4, 0x85), (1, 4, 0x85)],
            &[(0, 2, 0), (1, 2, 0)],
        );
        let lat = (52.5 / 180.0 * 2_147_483_648.0) as i32;
        let long = (13.4 / 180.0 * 2_147_483_648.0) as i32;
        let record = |t: u32| {
            [
                cat(&[&t.to_le_bytes(), &lat.to_le_bytes(), &long.to_le_bytes()]),
                vec![100, 0, 200, 0],
            ]
            .concat()
        };
        fit.data(3, &record(T0));
        fit.data(2, &[0, 1, 0x84, b'T', b'a', b'r', b'g', b'e', b't', 0, 0]);
        fit.data(3, &record(T0 + 60));
        fit.session(&Session {
            sport: 2,
            ..Session::default()
        });
        fit.activity(T0 + 3600, T0 + 3600 + 3600);
        let r = read(&fit.finish()).expect("readable");
        assert_eq!(r.sport_type, Some("Ride"));
        assert_eq!(
            r.start,
            DateTime::from_timestamp(FIT_EPOCH + i64::from(T0), 0).unwrap()
        );
        assert_eq!(r.utc_offset, Some(3600));
        assert_position(
            r.first_position,
            (
                f64::from(lat) * 180.0 / 2_147_483_648.0,
                f64::from(long) * 180.0 / 2_147_483_648.0,
            ),
        );
        assert_eq!(
            (r.distance, r.moving_time, r.elapsed_time),
            (1000.0, 3590, 3600)
        );
    }

    #[test]
    fn laps_stand_in_for_a_missing_session() {
        let mut fit = Fit::new();
        fit.file_id(4);
        fit.define(4, 19, &LAP_FIELDS, &[]);
        for (i, t) in [T0, T0 + 600].into_iter().enumerate() {
            let hr = 140 + i as u8 * 10;
            fit.data(
                4,
                &cat(&[
                    &(t + 600).to_le_bytes(),
                    &t.to_le_bytes(),
                    &[1, 0],
                    &600_000u32.to_le_bytes(),
                    &590_000u32.to_le_bytes(),
                    &150_000u32.to_le_bytes(),
                    &7u16.to_le_bytes(),
                    &3_500u16.to_le_bytes(),
                    &[hr, hr + 20],
                ]),
            );
        }
        let r = read(&fit.finish()).expect("readable");
        assert_eq!(r.sport_type, Some("Run"));
        assert_eq!(
            (r.distance, r.moving_time, r.elapsed_time),
            (3000.0, 1180, 1200)
        );
        assert_eq!((r.elevation_gain, r.max_speed), (14.0, 3.5));
        assert_eq!(
            (r.average_heartrate, r.max_heartrate),
            (Some(145.0), Some(170.0))
        );
    }

    #[test]
    fn sessions_are_summed_from_the_earliest_and_absurd_values_do_not_overflow() {
        let mut fit = Fit::new();
        fit.file_id(4);
        // written out of order: the first by time decides start and sport
        fit.session(&Session {
            start: T0 + 10_000,
            sport: 2,
            elapsed_ms: u32::MAX - 1,
            timer_ms: u32::MAX - 1,
            distance_cm: u32::MAX - 1,
            ..Session::default()
        });
        fit.session(&Session {
            start: T0,
            sport: 1,
            sub_sport: 3,
            elapsed_ms: u32::MAX - 1,
            timer_ms: u32::MAX - 1,
            distance_cm: u32::MAX - 1,
        });
        let r = read(&fit.finish()).expect("readable");
        assert_eq!(r.sport_type, Some("TrailRun"));
        assert_eq!(
            r.start,
            DateTime::from_timestamp(FIT_EPOCH + i64::from(T0), 0).unwrap()
        );
        assert_eq!(r.elapsed_time, 8_589_935);
        // 2 × (2³² − 2) cm
        assert_eq!(r.distance, 85_899_345.88);
    }

    #[test]
    fn an_offset_beyond_18_hours_is_none() {
        for (local, offset) in [
            (T0 + 19 * 3600, None),
            (T0 - 18 * 3600, Some(-18 * 3600)),
            (u32::MAX, None),
        ] {
            let mut fit = Fit::new();
            fit.file_id(4);
            fit.session(&Session::default());
            fit.activity(T0, local);
            assert_eq!(read(&fit.finish()).expect("readable").utc_offset, offset);
        }
    }

    #[test]
    fn chained_files_are_read_together_and_padding_after_them_is_ignored() {
        let mut first = Fit::new();
        first.file_id(4);
        first.session(&Session {
            sport: 5,
            ..Session::default()
        });
        let mut second = Fit::new();
        second.session(&Session {
            start: T0 + 4000,
            sport: 1,
            ..Session::default()
        });
        let chained = [first.finish(), second.finish(), vec![0; 4]].concat();
        let r = read(&chained).expect("readable");
        assert_eq!(
            (r.sport_type, r.distance, r.elapsed_time),
            (Some("Swim"), 2000.0, 7200)
        );

        let trailing_junk = [first.finish(), b"junk".to_vec()].concat();
        assert_eq!(
            refusal(&trailing_junk),
            "a corrupt FIT file: bytes after its data are not a FIT file"
        );
    }

    const T0: u32 = 1_000_000_000;
    const SESSION_FIELDS: [(u8, u8, u8); 11] = [
        (253, 4, 0x86),
        (2, 4, 0x86),
        (5, 1, 0x00),
        (6, 1, 0x00),
        (7, 4, 0x86),
        (8, 4, 0x86),
        (9, 4, 0x86),
        (22, 2, 0x84),
        (15, 2, 0x84),
        (16, 1, 0x02),
        (17, 1, 0x02),
    ];
    const LAP_FIELDS: [(u8, u8, u8); 11] = [
        (253, 4, 0x86),
        (2, 4, 0x86),
        (25, 1, 0x00),
        (39, 1, 0x00),
        (7, 4, 0x86),
        (8, 4, 0x86),
        (9, 4, 0x86),
        (21, 2, 0x84),
        (14, 2, 0x84),
        (15, 1, 0x02),
        (16, 1, 0x02),
    ];

    struct Session {
        start: u32,
        sport: u8,
        sub_sport: u8,
        elapsed_ms: u32,
        timer_ms: u32,
        distance_cm: u32,
    }

    impl Default for Session {
        fn default() -> Self {
            Self {
                start: T0,
                sport: 1,
                sub_sport: 0,
                elapsed_ms: 3_600_000,
                timer_ms: 3_590_000,
                distance_cm: 100_000,
            }
        }
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// A FIT file with a 14-byte header and both CRCs right around `body`.
    fn frame(body: &[u8]) -> Vec<u8> {
        let size = u32::try_from(body.len()).expect("a small body");
        let mut bytes = cat(&[
            &[14, 0x20],
            &2132u16.to_le_bytes(),
            &size.to_le_bytes(),
            FIT_TAG,
        ]);
        let header_crc = crc16(&bytes);
        bytes.extend_from_slice(&header_crc.to_le_bytes());
        bytes.extend_from_slice(body);
        let crc = crc16(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes
    }

    /// Writes FIT messages for the cases no public file shows.
    struct Fit {
        body: Vec<u8>,
    }

    impl Fit {
        fn new() -> Self {
            Self { body: Vec::new() }
        }

        fn define(
            &mut self,
            local: u8,
            global: u16,
            fields: &[(u8, u8, u8)],
            dev: &[(u8, u8, u8)],
        ) {
            let header = 0x40 | local | if dev.is_empty() { 0 } else { 0x20 };
            self.body.extend_from_slice(&[header, 0, 0]);
            self.body.extend_from_slice(&global.to_le_bytes());
            self.field_list(fields);
            if !dev.is_empty() {
                self.field_list(dev);
            }
        }

        fn field_list(&mut self, list: &[(u8, u8, u8)]) {
            self.body
                .push(u8::try_from(list.len()).expect("few fields"));
            for &(num, size, base) in list {
                self.body.extend_from_slice(&[num, size, base]);
            }
        }

        fn data(&mut self, local: u8, payload: &[u8]) {
            self.body.push(local);
            self.body.extend_from_slice(payload);
        }

        fn file_id(&mut self, file_type: u8) {
            self.define(0, 0, &[(0, 1, 0x00), (1, 2, 0x84), (4, 4, 0x86)], &[]);
            self.data(
                0,
                &cat(&[&[file_type], &1u16.to_le_bytes(), &T0.to_le_bytes()]),
            );
        }

        fn session(&mut self, s: &Session) {
            self.define(5, 18, &SESSION_FIELDS, &[]);
            let end = s.start.saturating_add(s.elapsed_ms / 1000);
            self.data(
                5,
                &cat(&[
                    &end.to_le_bytes(),
                    &s.start.to_le_bytes(),
                    &[s.sport, s.sub_sport],
                    &s.elapsed_ms.to_le_bytes(),
                    &s.timer_ms.to_le_bytes(),
                    &s.distance_cm.to_le_bytes(),
                    &u16::MAX.to_le_bytes(),
                    &u16::MAX.to_le_bytes(),
                    &[u8::MAX, u8::MAX],
                ]),
            );
        }

        fn activity(&mut self, timestamp: u32, local_timestamp: u32) {
            self.define(6, 34, &[(253, 4, 0x86), (1, 2, 0x84), (5, 4, 0x86)], &[]);
            self.data(
                6,
                &cat(&[
                    &timestamp.to_le_bytes(),
                    &1u16.to_le_bytes(),
                    &local_timestamp.to_le_bytes(),
                ]),
            );
        }

        fn finish(&self) -> Vec<u8> {
            frame(&self.body)
        }
    }
}
