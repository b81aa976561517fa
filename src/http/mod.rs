//! HTTP routes. Handlers parse input, send one message to an actor, and map the answer to a
//! response: no SQL, no Strava calls, no JSON building per request for served data.

mod auth;
mod cards;
mod doc;
mod docs;
mod import;
pub mod middleware;
mod oauth;
pub mod openapi;
mod ops;
mod page;
pub mod params;
mod reply;
pub mod routes;
mod state;
mod stats;
mod webhook;

use actix_web::{HttpResponse, web};

pub use state::AppState;

/// Every route of the table in `routes.rs`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    routes::register(cfg);
}

/// Unknown paths.
pub async fn not_found() -> HttpResponse {
    reply::unknown_path()
}
