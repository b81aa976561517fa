//! Everything about talking to Strava: the HTTP client, its lenient models, and the rate-limit
//! budget arithmetic.

pub mod budget;
pub mod client;
pub mod models;

pub use client::{StravaClient, StravaConfig, StravaError};
