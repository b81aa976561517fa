//! Black-box tests: the app on a free port, its own database, its own Strava simulator.

mod helpers;

mod absurd;
mod browser;
mod clock;
mod conditional;
mod coordination;
mod cors;
mod fencing;
mod health;
mod hostile;
mod import;
mod import_http;
mod inactive;
mod oauth;
mod oauth_limits;
mod openapi;
mod owner;
mod ownership;
mod personal;
mod pg_tls;
mod private_pg;
mod reads;
mod refresh;
mod replicas;
mod setup;
mod shutdown;
mod silent_leader;
mod stats;
mod sync;
mod telemetry;
mod tokens;
mod webhook;
mod webhook_secret;
