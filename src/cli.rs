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
    /// Run the Strava simulator alone.
    Sim {
        /// Port to listen on (127.0.0.1).
        #[arg(long, default_value_t = 5002)]
        port: u16,
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
