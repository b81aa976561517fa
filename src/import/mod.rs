//! Pure readers of what an athlete holds without Strava's API (SPEC §11): the account export,
//! activity files and the figures milepost keeps from them. Nothing here knows about actors,
//! Postgres or HTTP: bytes in, [`Recording`]s, export rows or a [`Refusal`] out. The
//! ImportActor (`actors/importer.rs`) runs them on the blocking pool and merges what they read.
//!
//! - `archive`: where the files are (a ZIP, a folder, single files, `.gz`), within the limits
//!   that keep memory flat (entry size, compression ratio, names that climb out).
//! - `export_csv`: `activities.csv`, its headers by language or by known layout, the SI block.
//! - `fit`, `gpx`, `tcx`: one activity file each into a [`Recording`].
//! - `figures`: distance, moving time and elevation gain from track points.
//! - `sport`: sport names (files, German and English exports, FIT's enums) to Strava's
//!   `sport_type` and legacy `type`.
//! - `local_time`: the athlete's offset at an activity's start, and where it came from.
//! - `build`: an imported activity from an export row and its file, or a file alone.
//! - `merge`: one activity whatever the source: ids, and the rule that joins a file without one.
//! - `summary`: what an import did, as the CLI prints it and the job route answers it.

pub mod archive;
pub mod build;
pub mod export_csv;
pub mod figures;
pub mod fit;
pub mod gpx;
pub mod local_time;
pub mod merge;
mod recording;
pub mod sport;
pub mod summary;
pub mod tcx;

pub use recording::{Recording, Refusal};

/// Who may see an imported activity: the export has no visibility column, so the one who
/// imports says (`--visibility`, `IMPORT_VISIBILITY`). Strava's spellings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Everyone,
    FollowersOnly,
    OnlyMe,
}

impl Visibility {
    /// The API's spelling: `everyone`, `followers_only`, `only_me`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Everyone => "everyone",
            Self::FollowersOnly => "followers_only",
            Self::OnlyMe => "only_me",
        }
    }
}
