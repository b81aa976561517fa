//! FIT activity files written by hand (FIT protocol 2.0, little-endian): file_id, timer events,
//! records, one lap, one session and the activity message, whose `local_timestamp` keeps the
//! local offset. Field numbers, scales and enum values are the FIT profile's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::file::mix;
use super::track::{Point, at};
use crate::simulator::generator::SimActivity;

/// FIT's epoch, 1989-12-31T00:00:00Z, in Unix seconds.
const FIT_EPOCH_UNIX: i64 = 631_065_600;

/// FIT's `sport` and `sub_sport` for a `sport_type` (values from the FIT profile).
pub(super) fn fit_sport(sport_type: &str) -> (u8, u8) {
    const GENERIC: u8 = 0;
    const RUNNING: u8 = 1;
    const CYCLING: u8 = 2;
    const SWIMMING: u8 = 5;
    const TRAINING: u8 = 10;
    const WALKING: u8 = 11;
    const HIKING: u8 = 17;
    const E_BIKING: u8 = 21;
    const TRAIL: u8 = 3;
    const ROAD: u8 = 7;
    const MOUNTAIN: u8 = 8;
    const LAP_SWIMMING: u8 = 17;
    const STRENGTH_TRAINING: u8 = 20;
    const E_BIKE_FITNESS: u8 = 28;
    const YOGA: u8 = 43;
    const GRAVEL_CYCLING: u8 = 46;
    const E_BIKE_MOUNTAIN: u8 = 47;
    const VIRTUAL_ACTIVITY: u8 = 58;
    match sport_type {
        "Run" => (RUNNING, GENERIC),
        "TrailRun" => (RUNNING, TRAIL),
        "VirtualRun" => (RUNNING, VIRTUAL_ACTIVITY),
        "Ride" => (CYCLING, ROAD),
        "GravelRide" => (CYCLING, GRAVEL_CYCLING),
        "MountainBikeRide" => (CYCLING, MOUNTAIN),
        "VirtualRide" => (CYCLING, VIRTUAL_ACTIVITY),
        "EBikeRide" => (E_BIKING, E_BIKE_FITNESS),
        "EMountainBikeRide" => (E_BIKING, E_BIKE_MOUNTAIN),
        "Swim" => (SWIMMING, LAP_SWIMMING),
        "Walk" => (WALKING, GENERIC),
        "Hike" => (HIKING, GENERIC),
        "WeightTraining" => (TRAINING, STRENGTH_TRAINING),
        "Yoga" => (TRAINING, YOGA),
        "Workout" => (TRAINING, GENERIC),
        _ => (GENERIC, GENERIC),
    }
}

/// FIT base types used here.
#[derive(Debug, Clone, Copy)]
enum Value {
    Enum(u8),
    U8(u8),
    U16(u16),
    U32(u32),
    S32(i32),
    U32z(u32),
}

impl Value {
    fn size_and_base_type(self) -> (u8, u8) {
        match self {
            Value::Enum(_) => (1, 0x00),
            Value::U8(_) => (1, 0x02),
            Value::U16(_) => (2, 0x84),
            Value::U32(_) => (4, 0x86),
            Value::S32(_) => (4, 0x85),
            Value::U32z(_) => (4, 0x8C),
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        match self {
            Value::Enum(v) | Value::U8(v) => out.push(v),
            Value::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::U32(v) | Value::U32z(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::S32(v) => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

/// Global message numbers and field numbers of the FIT profile.
mod fit_msg {
    pub const FILE_ID: u16 = 0;
    pub const SESSION: u16 = 18;
    pub const LAP: u16 = 19;
    pub const RECORD: u16 = 20;
    pub const EVENT: u16 = 21;
    pub const ACTIVITY: u16 = 34;
    pub const TIMESTAMP: u8 = 253;
    pub const MESSAGE_INDEX: u8 = 254;
}

/// A message's fields as its definition lists them: (field number, size, base type).
type Layout = Vec<(u8, u8, u8)>;

/// Writes FIT messages, each preceded by a definition whenever its layout differs from the last
/// one given to its local message type.
#[derive(Default)]
struct FitWriter {
    records: Vec<u8>,
    /// Per local message type: the global message number and layout last defined.
    defined: BTreeMap<u8, (u16, Layout)>,
}

impl FitWriter {
    fn message(&mut self, local: u8, global: u16, fields: &[(u8, Value)]) {
        let layout: Layout = fields
            .iter()
            .map(|(number, value)| {
                let (size, base) = value.size_and_base_type();
                (*number, size, base)
            })
            .collect();
        if self.defined.get(&local) != Some(&(global, layout.clone())) {
            self.records.push(0x40 | (local & 0x0F));
            self.records.push(0); // reserved
            self.records.push(0); // little-endian
            self.records.extend_from_slice(&global.to_le_bytes());
            self.records.push(layout.len() as u8);
            for (number, size, base) in &layout {
                self.records.extend_from_slice(&[*number, *size, *base]);
            }
            self.defined.insert(local, (global, layout));
        }
        self.records.push(local & 0x0F);
        for (_, value) in fields {
            value.write(&mut self.records);
        }
    }

    /// Header (with its CRC), the messages, and the file CRC over everything before it.
    fn finish(self) -> Vec<u8> {
        const HEADER_SIZE: u8 = 14;
        const PROTOCOL_VERSION: u8 = 0x20;
        const PROFILE_VERSION: u16 = 2132;
        let data_size = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(self.records.len() + 16);
        out.push(HEADER_SIZE);
        out.push(PROTOCOL_VERSION);
        out.extend_from_slice(&PROFILE_VERSION.to_le_bytes());
        out.extend_from_slice(&data_size.to_le_bytes());
        out.extend_from_slice(b".FIT");
        let header_crc = fit_crc(&out);
        out.extend_from_slice(&header_crc.to_le_bytes());
        out.extend_from_slice(&self.records);
        let file_crc = fit_crc(&out);
        out.extend_from_slice(&file_crc.to_le_bytes());
        out
    }
}

/// The FIT protocol's CRC-16 (nibble-table form of CRC-16/ARC).
pub(super) fn fit_crc(bytes: &[u8]) -> u16 {
    const TABLE: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    let mut crc: u16 = 0;
    for &byte in bytes {
        for nibble in [byte & 0x0F, byte >> 4] {
            let tmp = TABLE[usize::from(crc & 0x0F)];
            crc = (crc >> 4) & 0x0FFF;
            crc = crc ^ tmp ^ TABLE[usize::from(nibble)];
        }
    }
    crc
}

fn fit_time(t: DateTime<Utc>) -> u32 {
    u32::try_from((t.timestamp() - FIT_EPOCH_UNIX).max(0)).unwrap_or(u32::MAX)
}

fn semicircles(degrees: f64) -> i32 {
    (degrees * (f64::from(1u32 << 31) / 180.0)).round() as i32
}

/// `value × scale`, rounded, within `u32`.
fn scaled_u32(value: f64, scale: f64) -> u32 {
    (value * scale).round().clamp(0.0, f64::from(u32::MAX - 1)) as u32
}

fn scaled_u16(value: f64, scale: f64) -> u16 {
    (value * scale).round().clamp(0.0, f64::from(u16::MAX - 1)) as u16
}

/// A FIT activity file: file_id, timer events, records, one lap, one session, the activity.
pub(super) fn fit(a: &SimActivity, points: &[Point]) -> Vec<u8> {
    use fit_msg::*;
    const ACTIVITY_FILE: u8 = 4;
    const GARMIN: u16 = 1;
    const ZWIFT: u16 = 260;
    const DEVELOPMENT: u16 = 255;
    const EVENT_TIMER: u8 = 0;
    const EVENT_SESSION: u8 = 8;
    const EVENT_LAP: u8 = 9;
    const EVENT_ACTIVITY: u8 = 26;
    const START: u8 = 0;
    const STOP: u8 = 1;
    const STOP_ALL: u8 = 4;
    const LAP_TRIGGER_SESSION_END: u8 = 7;
    const SESSION_TRIGGER_ACTIVITY_END: u8 = 0;
    const ACTIVITY_MANUAL: u8 = 0;

    let (manufacturer, product) = match a.device_name.as_deref() {
        Some("Zwift") => (ZWIFT, 0),
        Some(name) if name.starts_with("Garmin Edge") => (GARMIN, 4024),
        Some(name) if name.starts_with("Garmin") => (GARMIN, 4315),
        _ => (DEVELOPMENT, 0),
    };
    let start = fit_time(a.start_date);
    let end = fit_time(at(a, a.elapsed_time.max(1)));
    let elapsed = a.elapsed_time.max(1) as f64;
    let timer = a.moving_time.clamp(1, a.elapsed_time.max(1)) as f64;
    let (sport, sub_sport) = fit_sport(&a.sport_type);
    let serial = u32::try_from(mix(a.id) % 4_000_000_000 + 1).unwrap_or(1);

    let mut w = FitWriter::default();
    w.message(
        0,
        FILE_ID,
        &[
            (0, Value::Enum(ACTIVITY_FILE)),
            (1, Value::U16(manufacturer)),
            (2, Value::U16(product)),
            (3, Value::U32z(serial)),
            (4, Value::U32(start)),
        ],
    );
    let event = |w: &mut FitWriter, t: u32, event_type: u8| {
        w.message(
            1,
            EVENT,
            &[
                (TIMESTAMP, Value::U32(t)),
                (0, Value::Enum(EVENT_TIMER)),
                (1, Value::Enum(event_type)),
            ],
        );
    };
    event(&mut w, start, START);
    let mut previous: Option<&Point> = None;
    for p in points {
        let t = fit_time(at(a, p.at));
        if let Some(prev) = previous
            && p.at - prev.at > 0
            && p.distance == prev.distance
            && p.position == prev.position
            && a.distance > 0.0
        {
            // Standing still: the watch paused its timer.
            event(&mut w, fit_time(at(a, prev.at)), STOP_ALL);
            event(&mut w, t, START);
        }
        let mut fields = vec![(TIMESTAMP, Value::U32(t))];
        if let Some([lat, lng]) = p.position {
            fields.push((0, Value::S32(semicircles(lat))));
            fields.push((1, Value::S32(semicircles(lng))));
        }
        if let Some(altitude) = p.altitude {
            fields.push((2, Value::U16(scaled_u16(altitude + 500.0, 5.0))));
        }
        if let Some(hr) = p.heart_rate {
            fields.push((3, Value::U8(hr)));
        }
        if a.distance > 0.0 {
            fields.push((5, Value::U32(scaled_u32(p.distance, 100.0))));
        }
        w.message(2, RECORD, &fields);
        previous = Some(p);
    }
    event(&mut w, end, STOP_ALL);

    let distance = scaled_u32(a.distance.max(0.0), 100.0);
    let ascent = scaled_u16(a.total_elevation_gain, 1.0);
    let mut summary = vec![
        (TIMESTAMP, Value::U32(end)),
        (2, Value::U32(start)),
        (7, Value::U32(scaled_u32(elapsed, 1000.0))),
        (8, Value::U32(scaled_u32(timer, 1000.0))),
        (9, Value::U32(distance)),
        (11, Value::U16(scaled_u16(a.calories, 1.0))),
    ];
    if let Some([lat, lng]) = a.start_latlng {
        summary.push((3, Value::S32(semicircles(lat))));
        summary.push((4, Value::S32(semicircles(lng))));
    }
    let heart = a.average_heartrate.zip(a.max_heartrate);

    let mut lap = summary.clone();
    lap.extend([
        (MESSAGE_INDEX, Value::U16(0)),
        (0, Value::Enum(EVENT_LAP)),
        (1, Value::Enum(STOP)),
        (13, Value::U16(scaled_u16(a.average_speed(), 1000.0))),
        (14, Value::U16(scaled_u16(a.max_speed, 1000.0))),
        (21, Value::U16(ascent)),
        (22, Value::U16(ascent)),
        (24, Value::Enum(LAP_TRIGGER_SESSION_END)),
        (25, Value::Enum(sport)),
        (39, Value::Enum(sub_sport)),
    ]);
    if let Some((average, max)) = heart {
        lap.push((15, Value::U8(scaled_u16(average, 1.0).min(254) as u8)));
        lap.push((16, Value::U8(scaled_u16(max, 1.0).min(254) as u8)));
    }
    w.message(3, LAP, &lap);

    let mut session = summary;
    session.extend([
        (MESSAGE_INDEX, Value::U16(0)),
        (0, Value::Enum(EVENT_SESSION)),
        (1, Value::Enum(STOP)),
        (5, Value::Enum(sport)),
        (6, Value::Enum(sub_sport)),
        (14, Value::U16(scaled_u16(a.average_speed(), 1000.0))),
        (15, Value::U16(scaled_u16(a.max_speed, 1000.0))),
        (22, Value::U16(ascent)),
        (23, Value::U16(ascent)),
        (25, Value::U16(0)),
        (26, Value::U16(1)),
        (28, Value::Enum(SESSION_TRIGGER_ACTIVITY_END)),
    ]);
    if let Some((average, max)) = heart {
        session.push((16, Value::U8(scaled_u16(average, 1.0).min(254) as u8)));
        session.push((17, Value::U8(scaled_u16(max, 1.0).min(254) as u8)));
    }
    w.message(4, SESSION, &session);

    let local_end = u32::try_from(i64::from(end) + i64::from(a.utc_offset)).unwrap_or(end);
    w.message(
        5,
        ACTIVITY,
        &[
            (TIMESTAMP, Value::U32(end)),
            (0, Value::U32(scaled_u32(timer, 1000.0))),
            (1, Value::U16(1)),
            (2, Value::Enum(ACTIVITY_MANUAL)),
            (3, Value::Enum(EVENT_ACTIVITY)),
            (4, Value::Enum(STOP)),
            (5, Value::U32(local_end)),
        ],
    );
    w.finish()
}
