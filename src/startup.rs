//! Building and running the application: `Services::start` connects Postgres, applies
//! migrations and starts the actors; `Application::build` adds the HTTP server on a bound
//! listener (port 0 works) and `run_until_stopped` serves until the server is stopped.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use actix::Actor;
use actix_web::dev::{Server, ServerHandle, Service};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::SecretString;

use crate::actors::Mailbox;
use crate::actors::fetcher::FetcherOptions;
use crate::actors::token::OAuthSettings;
use crate::actors::{CacheActor, FetcherActor, Shutdown, TokenActor};
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::{StateSigner, TokenCipher};
use crate::http::{self, AppState};
use crate::metrics::{HttpLabels, Metrics};
use crate::store;
use crate::strava::{StravaClient, StravaConfig};

/// Largest request body accepted anywhere (webhook events are tiny).
const MAX_BODY_BYTES: usize = 64 * 1024;
/// Time in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: u64 = 10;

/// The actors and what they share, running without HTTP (`milepost refresh` uses this alone).
#[derive(Clone)]
pub struct Services {
    pub token: Mailbox<TokenActor>,
    pub fetcher: Mailbox<FetcherActor>,
    pub cache: Mailbox<CacheActor>,
    pub metrics: Arc<Metrics>,
    pub ready: Arc<AtomicBool>,
    pub pool: deadpool_postgres::Pool,
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

        let cipher = Arc::new(TokenCipher::new(
            required(&settings.encryption_key, "ENCRYPTION_KEY")?,
            &settings.previous_encryption_keys(),
        ));
        let signer = Arc::new(StateSigner::new(required(
            &settings.state_secret,
            "STATE_SECRET",
        )?));
        let strava = strava_client(settings)?;

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
                },
                metrics.clone(),
                clock.clone(),
            )
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
                    clock: clock.clone(),
                },
            )
            .start(),
            metrics.clone(),
        );
        Ok(Self {
            token,
            fetcher,
            cache,
            metrics,
            ready,
            pool,
        })
    }
}

impl Services {
    /// Stops the actors, fetcher first, so no sync or timer outlives the server.
    pub async fn shutdown(&self) {
        let _ = self.fetcher.ask(Shutdown).await;
        let _ = self.token.ask(Shutdown).await;
        let _ = self.cache.ask(Shutdown).await;
    }
}

pub struct Application {
    port: u16,
    server: Server,
    services: Services,
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
        let services = Services::start_with(&settings, clock).await?;
        let port = listener.local_addr()?.port();

        let state = web::Data::new(AppState {
            token: services.token.clone(),
            fetcher: services.fetcher.clone(),
            cache: services.cache.clone(),
            metrics: services.metrics.clone(),
            api_key: required(&settings.internal_api_key, "INTERNAL_API_KEY")?.clone(),
            metrics_token: settings.metrics_token.clone(),
            webhook_verify_token: settings.strava_webhook_verify_token.clone(),
            frontend_url: settings.frontend_url.clone(),
            production: settings.is_production(),
            cache_max_age_secs: settings.cache_max_age_secs,
            ready: services.ready.clone(),
            openapi: bytes::Bytes::from(http::openapi::document().to_string()),
        });
        let production = settings.is_production();
        let metrics = services.metrics.clone();
        let cors = http::cors::Cors::new(settings.allowed_origins());
        let server = HttpServer::new(move || {
            let metrics = metrics.clone();
            let cors = cors.clone();
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .wrap_fn(move |req, srv| {
                    let span =
                        tracing::info_span!("request", method = %req.method(), path = %req.path());
                    let started = std::time::Instant::now();
                    let metrics = metrics.clone();
                    let cors = cors.clone();
                    let early = http::limits::refuse(&req)
                        .or_else(|| cors.preflight(req.method(), req.headers()));
                    let origin = cors.allowed(req.headers()).cloned();
                    let fut = match early {
                        Some(answer) => futures::future::Either::Left(futures::future::ready(Ok(
                            req.into_response(answer),
                        ))),
                        None => futures::future::Either::Right(srv.call(req)),
                    };
                    async move {
                        let mut response = fut.await?.map_into_boxed_body();
                        http::cors::Cors::decorate(origin, response.headers_mut());
                        let status = response.status().as_u16();
                        let route = response
                            .request()
                            .match_pattern()
                            .unwrap_or_else(|| "unmatched".to_owned());
                        metrics
                            .http_requests
                            .get_or_create(&HttpLabels { route, status })
                            .inc();
                        let _entered = span.enter();
                        tracing::info!(
                            status,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "request"
                        );
                        Ok(response)
                    }
                })
                // outermost, so every answer carries them, preflights included
                .wrap(http::security_headers(production))
                // `/strava/health/` is `/strava/health`, as the old service redirected it
                .wrap(actix_web::middleware::NormalizePath::trim())
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

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
