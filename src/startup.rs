//! Building and running the application: `Services::start` connects Postgres, applies
//! migrations and starts the actors; `Application::build` adds the HTTP server on a bound
//! listener (port 0 works) and `run_until_stopped` serves until the server is stopped.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use actix::Actor;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header::HeaderValue;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::SecretString;

use crate::actors::Mailbox;
use crate::actors::cache::{Attach, CacheReader};
use crate::actors::fetcher::FetcherOptions;
use crate::actors::importer::ImportSettings;
use crate::actors::setup::SetupLinks;
use crate::actors::token::OAuthSettings;
use crate::actors::{CacheActor, FetcherActor, ImportActor, Shutdown, TokenActor};
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::{StateSigner, TokenCipher};
use crate::http::middleware::cors::Cors;
use crate::http::middleware::edge::{Edge, EdgeConfig};
use crate::http::middleware::headers::SecurityHeaders;
use crate::http::middleware::metrics::RequestCounter;
use crate::http::middleware::route::Routes;
use crate::http::{self, AppState, middleware};
use crate::metrics::Metrics;
use crate::store;
use crate::store::coordination::{Coordination, Replica};
use crate::store::queue::{GENERATION_CHANNEL, WORK_CHANNEL};
use crate::strava::{StravaClient, StravaConfig};

/// The reads' `Cache-Control`, made once for the process: a static value is copied into each
/// answer as a pointer, where a shared one would have its reference count moved between the
/// workers' cores by every read.
fn read_cache_control(max_age_secs: u32) -> anyhow::Result<HeaderValue> {
    let text: &'static str = Box::leak(format!("public, max-age={max_age_secs}").into_boxed_str());
    Ok(HeaderValue::from_maybe_shared(bytes::Bytes::from_static(
        text.as_bytes(),
    ))?)
}

/// Largest request body a handler reads into memory (webhook events are tiny). The import
/// upload reads its body as a stream (`web::Payload`, which this does not bound) straight to a
/// file, bounded by IMPORT_MAX_BYTES instead.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Where uploads wait for their import, under MILEPOST_DATA_DIR.
const UPLOADS_DIR: &str = "uploads";
/// Time in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: u64 = 10;

/// The actors and what they share, running without HTTP (`milepost refresh` uses this alone).
#[derive(Clone)]
pub struct Services {
    pub token: Mailbox<TokenActor>,
    pub fetcher: Mailbox<FetcherActor>,
    pub cache: Mailbox<CacheActor>,
    pub importer: Mailbox<ImportActor>,
    pub metrics: Arc<Metrics>,
    pub ready: Arc<AtomicBool>,
    pub pool: deadpool_postgres::Pool,
    /// This replica among the replicas on the same Postgres (see [`Coordination`]).
    pub replica: Replica,
    /// The dedicated connection, taken (and closed) by [`Services::shutdown`].
    coordination: Arc<std::sync::Mutex<Option<Coordination>>>,
    /// Production without OWNER_ATHLETE_ID: the first connection's setup links (see
    /// [`Services::setup_link`]).
    setup: Option<SetupLinks>,
    /// The push subscription `milepost webhook subscribe` had stored when the services started.
    stored_subscription: Option<i64>,
}

/// The Strava client the settings describe.
pub fn strava_client(settings: &Settings) -> anyhow::Result<StravaClient> {
    StravaClient::new(StravaConfig {
        api_base_url: settings.strava_api_base_url.clone(),
        oauth_base_url: settings.strava_oauth_base_url.clone(),
        client_id: settings.strava_client_id.clone().unwrap_or_default(),
        client_secret: settings
            .strava_client_secret
            .clone()
            .unwrap_or_else(|| SecretString::from(String::new())),
        timeout: Duration::from_secs(settings.strava_timeout_secs.max(1)),
    })
}

/// How imports behave, from the settings (SPEC §11). An `ATHLETE_TIMEZONE` that names no zone
/// was refused at start-up (see [`Settings::problems`]).
pub fn import_settings(settings: &Settings) -> ImportSettings {
    ImportSettings {
        visibility: settings.import_visibility,
        public: settings.public_visibility,
        limits: crate::import::archive::Limits {
            max_entry_bytes: settings.import_max_entry_bytes,
            ..Default::default()
        },
        athlete_timezone: settings
            .athlete_timezone
            .as_deref()
            .and_then(crate::import::local_time::parse_zone),
        import_dir: settings.import_dir.as_ref().map(std::path::PathBuf::from),
        scan_every: Duration::from_secs(settings.import_scan_secs.max(1)),
    }
}

fn required<'a>(value: &'a Option<SecretString>, name: &str) -> anyhow::Result<&'a SecretString> {
    value.as_ref().with_context(|| format!("{name} is not set"))
}

impl Services {
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        Self::start_with(settings, Clock::system()).await
    }

    /// Like [`start`](Self::start), reading the time for the rate budget and token expiry
    /// from `clock` (tests share the simulator's).
    pub async fn start_with(settings: &Settings, clock: Clock) -> anyhow::Result<Self> {
        let url = settings.database_url().context(
            "no database configured: set DATABASE_URL (or POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB), or run `milepost demo`",
        )?;
        let pool = store::pool(&url, settings.database_pool_size)?;
        store::migrate(&pool).await?;
        let coordination =
            Coordination::start(&url, &[WORK_CHANNEL, GENERATION_CHANNEL], clock.clone())?;
        let replica = coordination.replica();

        let cipher = Arc::new(TokenCipher::new(
            required(&settings.encryption_key, "ENCRYPTION_KEY")?,
            &settings.previous_encryption_keys(),
        ));
        let signer = Arc::new(StateSigner::new(required(
            &settings.state_secret,
            "STATE_SECRET",
        )?));
        let strava = strava_client(settings)?;
        let setup = (settings.is_production() && settings.owner_athlete_id.is_none())
            .then(|| SetupLinks::new(settings.strava_redirect_uri.as_deref()));
        let stored_subscription = store::webhook_subscription(&pool.get().await?).await?;

        let metrics = Arc::new(Metrics::default());
        let ready = Arc::new(AtomicBool::new(false));
        let cache = Mailbox::new(
            CacheActor::new(
                pool.clone(),
                metrics.clone(),
                settings.public_visibility,
                chrono::Duration::days(i64::from(settings.retention_days.max(1))),
                clock.clone(),
                ready.clone(),
                replica.clone(),
            )
            .start(),
            metrics.clone(),
        );
        let token = Mailbox::new(
            TokenActor::new(
                pool.clone(),
                cipher,
                signer,
                strava.clone(),
                OAuthSettings {
                    client_id: settings.strava_client_id.clone(),
                    redirect_uri: settings.strava_redirect_uri.clone(),
                    owner_athlete_id: settings.owner_athlete_id,
                    setup: setup.clone(),
                },
                metrics.clone(),
                clock.clone(),
            )
            .following(replica.clone())
            .start(),
            metrics.clone(),
        );
        let fetcher = Mailbox::new(
            FetcherActor::new(
                strava,
                pool.clone(),
                token.clone(),
                cache.clone(),
                FetcherOptions {
                    refresh_interval: Duration::from_secs(settings.refresh_interval_secs.max(1)),
                    reconcile_interval: Duration::from_secs(
                        settings.reconcile_interval_secs.max(1),
                    ),
                    owner_pinned: settings.owner_athlete_id.is_some(),
                    webhook_subscription: settings.strava_webhook_subscription_id,
                    stored_subscription,
                    clock: clock.clone(),
                    replica: replica.clone(),
                },
            )
            .start(),
            metrics.clone(),
        );
        let importer = Mailbox::new(
            ImportActor::new(
                pool.clone(),
                cache.clone(),
                clock.clone(),
                import_settings(settings),
                replica.clone(),
            )
            .start(),
            metrics.clone(),
        );
        Ok(Self {
            token,
            fetcher,
            cache,
            importer,
            metrics,
            ready,
            pool,
            replica,
            coordination: Arc::new(std::sync::Mutex::new(Some(coordination))),
            setup,
            stored_subscription,
        })
    }

    /// The first-connection link (production without OWNER_ATHLETE_ID) this process printed
    /// last: at start-up with no owner, or after the operator's disconnect. Public for the tests,
    /// which follow it as the operator would; nothing else reads it.
    pub fn setup_link(&self) -> Option<SecretString> {
        self.setup.as_ref().and_then(SetupLinks::printed)
    }

    /// Production without OWNER_ATHLETE_ID and nobody owning the instance: a fresh setup code
    /// replaces the stored one and its link is printed (a serving process only: `milepost
    /// refresh` must not kill the link a server printed).
    async fn print_setup_link(&self) -> anyhow::Result<()> {
        let Some(links) = &self.setup else {
            return Ok(());
        };
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        if store::owner(&tx).await?.is_some() {
            return Ok(());
        }
        let code = links.renew(&tx).await?;
        tx.commit().await?;
        links.print(&code, "no athlete owns this instance yet");
        Ok(())
    }
}

/// Production with a push subscription (stored, or STRAVA_WEBHOOK_SUBSCRIPTION_ID) but no
/// STRAVA_WEBHOOK_SECRET: events come to a path anyone may guess.
pub fn unguarded_webhook(settings: &Settings, stored_subscription: Option<i64>) -> bool {
    settings.is_production()
        && settings.strava_webhook_secret.is_none()
        && (stored_subscription.is_some() || settings.strava_webhook_subscription_id.is_some())
}

impl Services {
    /// Stops the actors, fetcher first, so no sync or timer outlives the server, then closes
    /// the dedicated connection: the lock goes with it, and a follower takes over at once.
    pub async fn shutdown(&self) {
        let _ = self.fetcher.ask(Shutdown).await;
        let _ = self.importer.ask(Shutdown).await;
        let _ = self.token.ask(Shutdown).await;
        let _ = self.cache.ask(Shutdown).await;
        let coordination = self
            .coordination
            .lock()
            .map(|mut held| held.take())
            .unwrap_or_default();
        if let Some(coordination) = coordination {
            coordination.stop().await;
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
    drain: Arc<middleware::drain::Drain>,
}

impl Application {
    /// Connects, migrates, starts the actors and binds `BIND_ADDR:PORT` (port 0 picks one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((settings.bind_addr.as_str(), settings.port))
            .with_context(|| {
                format!("cannot listen on {}:{}", settings.bind_addr, settings.port)
            })?;
        Self::build_on(settings, listener).await
    }

    /// Like [`build`](Self::build) on a listener bound beforehand (when the port must be known
    /// first, e.g. for a redirect URI naming it).
    pub async fn build_on(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        Self::build_with(settings, listener, Clock::system()).await
    }

    /// Like [`build_on`](Self::build_on) with the time read from `clock`.
    pub async fn build_with(
        settings: Settings,
        listener: TcpListener,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let services = Services::start_with(&settings, clock.clone()).await?;
        services.print_setup_link().await?;
        if unguarded_webhook(&settings, services.stored_subscription) {
            tracing::warn!(
                "a Strava push subscription is set up but STRAVA_WEBHOOK_SECRET is not: anyone \
                 can post events to /strava/webhook; set it, then `milepost webhook delete` and \
                 `webhook subscribe` again"
            );
        }
        let port = listener.local_addr()?.port();

        let drain = Arc::new(middleware::drain::Drain::default());
        let state = web::Data::new(AppState {
            token: services.token.clone(),
            fetcher: services.fetcher.clone(),
            cache: services.cache.clone(),
            importer: services.importer.clone(),
            metrics: services.metrics.clone(),
            api_key: required(&settings.internal_api_key, "INTERNAL_API_KEY")?.clone(),
            metrics_token: settings.metrics_token.clone(),
            webhook_verify_token: settings.strava_webhook_verify_token.clone(),
            webhook_secret: settings.strava_webhook_secret.clone(),
            frontend_url: settings.frontend_url.clone(),
            production: settings.is_production(),
            cache_control: read_cache_control(settings.cache_max_age_secs)?,
            ready: services.ready.clone(),
            drain: drain.clone(),
            clock: clock.clone(),
            refresh_interval: i64::try_from(settings.refresh_interval_secs)
                .ok()
                .and_then(chrono::Duration::try_seconds)
                .unwrap_or(chrono::Duration::MAX),
            public_origin: settings
                .strava_redirect_uri
                .as_deref()
                .and_then(|uri| url::Url::parse(uri).ok())
                .map(|uri| uri.origin().ascii_serialization())
                .filter(|origin| origin != "null"),
            openapi: bytes::Bytes::from(http::openapi::document().to_string()),
            uploads: settings.milepost_data_dir.join(UPLOADS_DIR),
            import_max_bytes: settings.import_max_bytes,
        });
        let routes = Arc::new(Routes::new(
            http::routes::patterns(),
            &http::routes::cached_reads(),
        ));
        let (trusted_proxies, not_addresses) = settings.trusted_proxies();
        for entry in not_addresses {
            tracing::warn!(entry, "TRUSTED_PROXIES: not an IP address; ignored");
        }
        let edge = Arc::new(EdgeConfig {
            counter: Arc::new(RequestCounter::new(
                services.metrics.http_requests.clone(),
                &routes,
            )),
            routes,
            cors: Cors::new(settings.allowed_origins()),
            security: SecurityHeaders::new(settings.is_production()),
            drain: drain.clone(),
            access_log: settings.access_log,
            refusals: Arc::new(middleware::refusals::Refusals::new(
                services.metrics.http_refusals.clone(),
            )),
            forwarded: middleware::forwarded::ForwardedCheck::new(&trusted_proxies),
        });
        let metrics = web::Data::from(services.metrics.clone());
        let oauth_limit = web::Data::new(middleware::rate_limit::OAuthRateLimit::new(
            settings.oauth_rate_limit_per_minute,
            trusted_proxies,
        ));
        let owner = services.cache.clone();
        let shared_metrics = services.metrics.clone();
        let server = HttpServer::new(move || {
            // This worker's reader: its reads never leave its thread.
            let reader = Mailbox::new(
                CacheReader::new(clock.clone(), &shared_metrics).start(),
                shared_metrics.clone(),
            );
            owner
                .addr()
                .do_send(Attach(reader.addr().clone().recipient()));
            App::new()
                .app_data(state.clone())
                .app_data(web::Data::new(reader))
                .app_data(metrics.clone())
                .app_data(oauth_limit.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                // Everything between the connection and the router, in the order edge.rs gives.
                .wrap(Edge::new(edge.clone()))
                .configure(http::routes)
                .default_service(web::to(http::not_found))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE)
        .run();
        Ok(Self {
            port,
            server,
            drain,
            services,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Stops the server gracefully: stop accepting, finish in-flight requests.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The server's drain state: [`Drain::stop_server`](middleware::drain::Drain::stop_server)
    /// shuts down without losing an accepted request.
    pub fn drain(&self) -> Arc<middleware::drain::Drain> {
        self.drain.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Environment;

    #[test]
    fn production_warns_of_a_subscription_without_a_webhook_secret() {
        let production = Settings {
            environment: Environment::Production,
            ..Settings::default()
        };
        assert!(!unguarded_webhook(&production, None));
        assert!(unguarded_webhook(&production, Some(7)));
        let pinned = Settings {
            strava_webhook_subscription_id: Some(7),
            ..production.clone()
        };
        assert!(unguarded_webhook(&pinned, None));
        let guarded = Settings {
            strava_webhook_secret: Some(SecretString::from("s".repeat(32))),
            ..pinned
        };
        assert!(!unguarded_webhook(&guarded, Some(7)));
        assert!(!unguarded_webhook(&Settings::default(), Some(7)));
    }
}
