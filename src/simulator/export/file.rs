//! Which file an activity was uploaded as and where the archive keeps it, and the small pieces
//! every format shares.

use chrono::{DateTime, Utc};

use super::super::generator::{SimActivity, upload_id_for};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileKind {
    FitGz,
    Gpx,
    GpxGz,
    TcxGz,
}

impl FileKind {
    /// The file an activity was uploaded as, or none for one typed in by hand.
    pub(super) fn of(a: &SimActivity) -> Option<FileKind> {
        if a.manual {
            return None;
        }
        let roll = mix(a.id);
        let outdoor = a.start_latlng.is_some();
        if !outdoor && a.distance <= 0.0 && (roll >> 32) & 1 == 0 {
            return None;
        }
        if a.device_name.as_deref() == Some("Zwift") {
            return Some(FileKind::FitGz);
        }
        Some(match (outdoor, roll % 20) {
            (true, 0..=13) | (false, 0..=15) => FileKind::FitGz,
            (true, 14 | 15) => FileKind::Gpx,
            (true, 16 | 17) => FileKind::GpxGz,
            _ => FileKind::TcxGz,
        })
    }

    pub(super) fn extension(self) -> &'static str {
        match self {
            FileKind::FitGz => "fit.gz",
            FileKind::Gpx => "gpx",
            FileKind::GpxGz => "gpx.gz",
            FileKind::TcxGz => "tcx.gz",
        }
    }

    pub(super) fn is_gzip(self) -> bool {
        self != FileKind::Gpx
    }
}

/// `activities/<upload id>.<ext>`: real exports name files by upload, not by activity id.
pub(super) fn filename(a: &SimActivity, kind: FileKind) -> String {
    let number = a.upload_id.unwrap_or_else(|| upload_id_for(a.id));
    format!("activities/{number}.{}", kind.extension())
}

/// A well-spread hash of an id (splitmix64), for choices that must not follow the id's order.
pub(super) fn mix(id: i64) -> u64 {
    let mut x = (id as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(super) fn utc_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(super) fn xml_escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}
