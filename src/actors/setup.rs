//! The first connection's setup code (production without OWNER_ATHLETE_ID, SPEC §5): a fresh one
//! is written to Postgres (its hash) and its link printed when the server starts with nobody
//! owning the instance, and again when the operator's disconnect releases the owner lock, by
//! whichever replica carries it out. Every replica checks and binds the same stored code; the
//! connection that makes someone the owner spends it (see the TokenActor).

use std::sync::{Arc, Mutex};

use deadpool_postgres::GenericClient;
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::setup_code_hash;
use crate::store;

/// Where setup links are made and printed; cloned by whoever renews a code.
#[derive(Clone)]
pub struct SetupLinks {
    /// `{origin of STRAVA_REDIRECT_URI}/strava/authorize?setup=`.
    prefix: String,
    /// The link this process printed last, for the tests to follow as the operator would.
    printed: Arc<Mutex<Option<SecretString>>>,
}

impl SetupLinks {
    pub fn new(redirect_uri: Option<&str>) -> Self {
        let origin = redirect_uri
            .and_then(|uri| url::Url::parse(uri).ok())
            .map(|uri| uri.origin().ascii_serialization())
            .filter(|origin| origin != "null")
            .unwrap_or_default();
        Self {
            prefix: format!("{origin}/strava/authorize?setup="),
            printed: Arc::default(),
        }
    }

    /// Writes a fresh code's hash in `db` (the old code stops working); the code, to
    /// [`print`](Self::print) once the write is committed.
    pub async fn renew(&self, db: &impl GenericClient) -> anyhow::Result<SecretString> {
        let code = SecretString::from(crate::config::random_secret());
        store::setup::renew_setup_code(db, &setup_code_hash(code.expose_secret())).await?;
        Ok(code)
    }

    /// Prints `code`'s link in the log, the only place it ever appears.
    pub fn print(&self, code: &SecretString, why: &str) {
        let link = SecretString::from(format!("{}{}", self.prefix, code.expose_secret()));
        tracing::warn!(
            "{why}: connect the owner's Strava account with {} (the link works until an owner \
             exists; a link printed later, by any replica, replaces it)",
            link.expose_secret()
        );
        if let Ok(mut printed) = self.printed.lock() {
            *printed = Some(link);
        }
    }

    /// The link this process printed last, if any.
    pub fn printed(&self) -> Option<SecretString> {
        self.printed.lock().ok().and_then(|p| p.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_starts_at_the_redirect_uris_origin() {
        let links = SetupLinks::new(Some("https://stats.example.com:8443/strava/callback"));
        assert_eq!(
            links.prefix,
            "https://stats.example.com:8443/strava/authorize?setup="
        );
        assert_eq!(SetupLinks::new(None).prefix, "/strava/authorize?setup=");
    }
}
