//! The API key check for operator routes (constant-time).

use actix_web::HttpRequest;
use secrecy::ExposeSecret;

use super::state::AppState;
use crate::crypto::constant_time_eq;
use crate::error::ApiError;

pub const API_KEY_HEADER: &str = "X-API-Key";

/// `Ok` when the request carries the configured API key.
pub fn require_api_key(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let given = req
        .headers()
        .get(API_KEY_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !given.is_empty() && constant_time_eq(given, state.api_key.expose_secret().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::invalid_api_key())
    }
}
