//! Everything about talking to Strava: the HTTP client, its lenient models, the rate-limit
//! budget arithmetic, Strava's names for sports, and the rules for an application Strava says
//! is inactive.

pub mod budget;
pub mod client;
pub mod models;
pub mod sport;
pub mod standing;

pub use client::{StravaClient, StravaConfig, StravaError};
