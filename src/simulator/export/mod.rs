//! The simulated athlete as a Strava account export (SPEC §11, `strava-export.md`), for tests and
//! the demo: `milepost sim export --out FILE.zip` and [`write_export`].
//!
//! The archive holds what an importer reads from a real one: `activities.csv` at the root in the
//! 94-column English layout (one row per activity, oldest first), the original uploads under
//! `activities/` named by upload id (`.fit.gz`, `.gpx`, `.gpx.gz`, `.tcx.gz`, chosen per activity
//! by a hash of its id so the mix is stable), and `bikes.csv` / `shoes.csv`. A manual activity,
//! and about half of the gym and yoga sessions (as if typed in by hand), have no file: their row
//! is all there is.
//!
//! Every file is a plausible recording of its row: a point every 5–25 s along a loop that starts
//! at `start_latlng` (so a zone lookup there gives the activity's zone), as long as the activity's
//! distance, a pause in the middle making up elapsed minus moving time, hills adding up to the
//! elevation gain, and heart rate when the activity has it. Times are UTC; FIT files carry the
//! local offset in the activity message's `local_timestamp`. Indoor activities (no `start_latlng`)
//! get FIT or TCX files without positions. The CSV's second block holds the simulator's own SI
//! figures, distance to the bit, so importing the export and syncing the API agree.
//!
//! `Activity Type` holds Strava's English display name of the `sport_type` (`Run`, `Trail Run`,
//! `Mountain Bike Ride`, `E-Bike Ride`, `Weight Training`, …), as current exports write it: the
//! legacy `type` would lose the trail/gravel/mountain distinction the API keeps.
//!
//! Files: [`csv`] (`activities.csv`, `bikes.csv`, `shoes.csv`), [`track`] (the recorded samples),
//! [`fit`], [`gpx`] and [`tcx`] (one format each), [`file`] (which file an activity has, and the
//! small pieces the formats share); this file assembles the ZIP.

mod csv;
mod file;
mod fit;
mod gpx;
mod tcx;
#[cfg(test)]
mod tests;
mod track;

use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::Path;

use anyhow::Context as _;
use flate2::Compression;
use flate2::write::GzEncoder;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use self::file::{FileKind, filename};
use super::generator::{SimActivity, Visibility};

pub use self::csv::{ACTIVITIES_CSV_HEADER, display_name};

/// What goes into the archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Only Everyone activities. A real export holds every activity, private ones too (false).
    pub public_only: bool,
}

/// What an export holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Rows of `activities.csv`.
    pub activities: usize,
    /// Files under `activities/`.
    pub files: usize,
}

/// [`write_export`] to a file: written beside `path` under a temporary name and renamed into
/// place, so a failed run never leaves a half-written archive where an import would find it.
pub fn write_export_file(
    path: &Path,
    activities: &[SimActivity],
    options: &ExportOptions,
) -> anyhow::Result<ExportSummary> {
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let mut partial_name = std::ffi::OsString::from(".");
    partial_name.push(name);
    partial_name.push(".partial");
    let partial = path.with_file_name(partial_name);
    let written = File::create(&partial)
        .with_context(|| format!("creating {}", partial.display()))
        .and_then(|file| {
            let mut out = BufWriter::new(file);
            let summary = write_export(activities, &mut out, options)?;
            out.into_inner()
                .map_err(io::IntoInnerError::into_error)?
                .sync_all()?;
            Ok(summary)
        })
        .and_then(|summary| {
            std::fs::rename(&partial, path)
                .with_context(|| format!("moving the archive to {}", path.display()))?;
            Ok(summary)
        });
    if written.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// Writes `activities` as a Strava account export ZIP to `out` (see the module doc). The same
/// activities and options always give the same bytes.
pub fn write_export<W: Write + Seek>(
    activities: &[SimActivity],
    out: W,
    options: &ExportOptions,
) -> io::Result<ExportSummary> {
    let mut chosen: Vec<&SimActivity> = activities
        .iter()
        .filter(|a| !options.public_only || a.visibility == Visibility::Everyone)
        .collect();
    chosen.sort_by_key(|a| (a.start_date, a.id));
    let gear = csv::Gear::of_athlete();

    let mut zip = ZipWriter::new(out);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    // Gzipped files gain nothing from a second compression.
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);

    zip.start_file("activities.csv", deflated)?;
    let mut csv = ::csv::Writer::from_writer(&mut zip);
    csv.write_record(ACTIVITIES_CSV_HEADER)?;
    for a in &chosen {
        csv.write_record(csv::row(a, &gear))?;
    }
    csv.flush()?;
    drop(csv);

    zip.start_file("bikes.csv", deflated)?;
    zip.write_all(gear.csv("Bike", &gear.bikes)?.as_bytes())?;
    zip.start_file("shoes.csv", deflated)?;
    zip.write_all(gear.csv("Shoe", &gear.shoes)?.as_bytes())?;

    let mut files = 0;
    for a in &chosen {
        let Some(kind) = FileKind::of(a) else {
            continue;
        };
        let points = track::track(a);
        let body = match kind {
            FileKind::FitGz => gzip(&fit::fit(a, &points))?,
            FileKind::Gpx => gpx::gpx(a, &points).into_bytes(),
            FileKind::GpxGz => gzip(gpx::gpx(a, &points).as_bytes())?,
            FileKind::TcxGz => gzip(tcx::tcx(a, &points).as_bytes())?,
        };
        let options = if kind.is_gzip() { stored } else { deflated };
        zip.start_file(filename(a, kind), options)?;
        zip.write_all(&body)?;
        files += 1;
    }
    zip.finish()?;
    Ok(ExportSummary {
        activities: chosen.len(),
        files,
    })
}

fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}
