//! What every handler can reach: the actors' mailboxes and a few settings.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use secrecy::SecretString;

use crate::actors::Mailbox;
use crate::actors::{CacheActor, FetcherActor, ImportActor, TokenActor};
use crate::http::middleware::drain::Drain;
use crate::metrics::Metrics;

/// What every handler can reach: actor mailboxes and a few settings.
pub struct AppState {
    pub token: Mailbox<TokenActor>,
    pub fetcher: Mailbox<FetcherActor>,
    pub cache: Mailbox<CacheActor>,
    pub importer: Mailbox<ImportActor>,
    pub metrics: Arc<Metrics>,
    pub api_key: SecretString,
    pub webhook_verify_token: Option<SecretString>,
    /// STRAVA_WEBHOOK_SECRET: the webhook's last path segment, when set.
    pub webhook_secret: Option<SecretString>,
    pub metrics_token: Option<SecretString>,
    pub frontend_url: String,
    pub production: bool,
    /// `Cache-Control` of every read body: `public, max-age=<CACHE_MAX_AGE_SECS>`.
    pub cache_control: actix_web::http::header::HeaderValue,
    pub ready: Arc<AtomicBool>,
    /// Set once shutdown begins: `/readyz` answers 503 and connections close after each answer.
    pub drain: Arc<Drain>,
    pub clock: crate::clock::Clock,
    /// REFRESH_INTERVAL_SECS: the status page's next refresh is this long after the last sync.
    pub refresh_interval: chrono::Duration,
    /// Where the instance is reached from outside (the origin of STRAVA_REDIRECT_URI), for the
    /// status page's embed snippets; `None`: the request's own host.
    pub public_origin: Option<String>,
    /// Where uploads wait for their import: `MILEPOST_DATA_DIR/uploads`.
    pub uploads: std::path::PathBuf,
    /// `IMPORT_MAX_BYTES`: the largest upload taken.
    pub import_max_bytes: u64,
    /// The OpenAPI document, serialized once.
    pub openapi: bytes::Bytes,
}
