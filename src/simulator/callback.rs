//! The client for the calls Strava makes out: push subscription validation and event delivery.

use std::time::Duration;

/// How long Strava-side calls to a callback may take (Strava itself allows 2 s; the simulator is
/// more patient so that a loaded test machine does not fail validations at random).
pub(crate) const CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// The client for the calls Strava makes out (subscription validation, event delivery).
pub(crate) fn callback_client() -> reqwest::Result<reqwest::Client> {
    crate::strava::client::install_tls_provider();
    reqwest::Client::builder()
        .timeout(CALLBACK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}
