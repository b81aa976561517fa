pub mod actors;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod error;
pub mod http;
pub mod import;
pub mod metrics;
pub mod pg;
pub mod render;
pub mod simulator;
pub mod startup;
pub mod stats;
pub mod store;
pub mod strava;
pub mod telemetry;

#[cfg(test)]
mod layout;
