//! The command line: one binary, `milepost`, with subcommands (`serve` when none is given).

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "milepost",
    version,
    about = "Serves an athlete's Strava stats to a personal website, kept fresh within Strava's rate limits"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Everything on one machine: a private Postgres, the Strava simulator, a connected athlete, the API on :5001.
    Demo,
    /// Run one sync, then exit (for cron).
    Refresh {
        /// Re-list the whole history instead of only what is new.
        #[arg(long)]
        full: bool,
    },
    /// Import a Strava account export, activity files, or folders of them, then exit.
    ///
    /// Exit status: 0 when every input was read, 1 when any file or row was refused (the rest
    /// is imported), 2 on a usage error or when nothing could be read (no database, an
    /// unreadable archive).
    Import {
        /// Export ZIPs, unzipped exports, folders of activity files (searched recursively), or
        /// single .fit, .gpx and .tcx files, each also .gz.
        #[arg(required_unless_present = "forget")]
        paths: Vec<std::path::PathBuf>,
        /// Report what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the summary as one JSON object on standard output (progress and logs go to
        /// standard error).
        #[arg(long)]
        json: bool,
        /// Who may see the imported activities [default: IMPORT_VISIBILITY, else everyone].
        #[arg(long, value_enum)]
        visibility: Option<crate::import::Visibility>,
        /// Delete every imported activity instead (what came from Strava's API stays).
        #[arg(long, conflicts_with_all = ["paths", "dry_run", "visibility"])]
        forget: bool,
    },
    /// Apply database migrations, then exit.
    Migrate,
    /// Encryption keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Manage the app's Strava push subscription (webhook).
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Run the Strava simulator alone, or write its athlete as a Strava account export.
    #[command(args_conflicts_with_subcommands = true)]
    Sim {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 5002)]
        port: u16,
        #[command(subcommand)]
        action: Option<SimAction>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SimAction {
    /// Write the simulated athlete (the one `milepost sim` serves) as a Strava account export
    /// ZIP: activities.csv in the real layout and FIT/GPX/TCX files.
    Export {
        /// The ZIP file to write.
        #[arg(long)]
        out: std::path::PathBuf,
        /// Only Everyone activities (a real export holds private ones too).
        #[arg(long)]
        public_only: bool,
        /// A history of about this many activities (the generated athlete does about 250 a
        /// year) instead of the default, about 1,750; for benchmarks.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        activities: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    /// Create the subscription; the service must already answer at the callback URL.
    Subscribe {
        /// Where Strava will post events, e.g. https://api.example.com/strava/webhook
        #[arg(long)]
        callback_url: String,
    },
    /// List the app's subscriptions: id, callback URL, created time.
    List,
    /// Delete a subscription at Strava and here.
    Delete {
        /// The subscription id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Re-encrypt every stored token under ENCRYPTION_KEY (old keys in ENCRYPTION_KEYS_PREVIOUS).
    Rotate,
}
