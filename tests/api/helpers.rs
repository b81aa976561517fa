//! The black-box harness: every test gets its own database (cloned from a migrated template),
//! its own Strava simulator and its own app on a free port, and talks HTTP to them.
//!
//! Postgres comes from `TEST_DATABASE_URL`, else from a private cluster started once per test
//! run in a fresh directory under /tmp that stops by itself when the run ends. Its URLs carry
//! the cluster's password, so they are never printed.

use std::io::BufRead;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use milepost::config::{LogFormat, Settings};
use milepost::pg::PgCluster;
use milepost::simulator::{SimConfig, Simulator};
use milepost::startup::{Application, Services};
use reqwest::header;
use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::NoTls;

pub const API_KEY: &str = "test-internal-api-key-0123456789abcdef";
pub const STATE_SECRET: &str = "test-state-secret-0123456789abcdefghij";
pub const ENCRYPTION_KEY: &str = "test-encryption-key-0123456789abcdefgh";
pub const FRONTEND: &str = "http://frontend.test";
const TEMPLATE: &str = "milepost_template";

/// Stands for the database name in a server URL.
const DB_PLACEHOLDER: &str = "milepost_db_placeholder";

/// Where the test databases live: a server URL with [`DB_PLACEHOLDER`] for the database name.
struct TestPostgres {
    url_pattern: String,
    /// The private cluster, kept for the life of the run.
    cluster: Option<PgCluster>,
}

impl TestPostgres {
    fn url(&self, db: &str) -> String {
        self.url_pattern.replace(DB_PLACEHOLDER, db)
    }
}

static POSTGRES: OnceLock<TestPostgres> = OnceLock::new();

/// Starts (once per run) the Postgres every test uses and prepares the migrated template.
/// Each test runs its own runtime, so the set-up runs on a runtime of its own.
fn postgres() -> &'static TestPostgres {
    POSTGRES.get_or_init(|| on_own_runtime("setting up the test database", prepare_postgres))
}

/// Runs `work` to its end on a runtime of its own (each test runs its own runtime, and what
/// runs once per test run must outlive any of them).
fn on_own_runtime<T: Send + 'static, F: Future<Output = T>>(
    what: &'static str,
    work: impl FnOnce() -> F + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime for {what}: {e}"))
            .block_on(work())
    })
    .join()
    .unwrap_or_else(|_| panic!("{what} failed (see above)"))
}

async fn prepare_postgres() -> TestPostgres {
    let (url_pattern, cluster) = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) => {
            let base = url
                .rsplit_once('/')
                .map_or(url.as_str(), |(b, _)| b)
                .to_owned();
            (format!("{base}/{DB_PLACEHOLDER}"), None)
        }
        Err(_) => {
            let cluster = start_private_cluster().await;
            let pattern = cluster.url(DB_PLACEHOLDER);
            (pattern, Some(cluster))
        }
    };
    let pg = TestPostgres {
        url_pattern,
        cluster,
    };
    let admin = connect(&pg.url("postgres")).await;
    for statement in [
        format!("DROP DATABASE IF EXISTS {TEMPLATE}"),
        format!("CREATE DATABASE {TEMPLATE}"),
    ] {
        admin
            .batch_execute(&statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let pool = milepost::store::pool(&SecretString::from(pg.url(TEMPLATE)), 2).unwrap();
    milepost::store::migrate(&pool)
        .await
        .expect("migrating the template database");
    pool.close();
    pg
}

/// An ephemeral private cluster in a fresh directory, stopped when the test binary exits.
async fn start_private_cluster() -> PgCluster {
    let cluster = PgCluster::start_ephemeral()
        .await
        .unwrap_or_else(|e| panic!("cannot start a private PostgreSQL for the tests: {e}"));
    cluster
        .stop_when_process_exits(std::process::id())
        .expect("a watchdog that stops the test cluster");
    cluster
}

/// The private cluster the tests use; with `TEST_DATABASE_URL` set, one started for the
/// caller alone (the tests of the cluster itself need one either way).
pub fn private_cluster() -> &'static PgCluster {
    static OWN: OnceLock<PgCluster> = OnceLock::new();
    if std::env::var_os("TEST_DATABASE_URL").is_none()
        && let Some(cluster) = &postgres().cluster
    {
        return cluster;
    }
    OWN.get_or_init(|| on_own_runtime("starting the private cluster", start_private_cluster))
}

/// `url` with any password replaced by `…`, for messages.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("…"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparsable URL>".into(),
    }
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", redacted(url)));
    tokio::spawn(connection);
    client
}

/// A fresh database cloned from the migrated template.
pub async fn fresh_database() -> String {
    let pg = postgres();
    let name = format!("test_{:016x}", rand::random::<u64>());
    let admin = connect(&pg.url("postgres")).await;
    // The template may still be closing its last connection: retry briefly.
    for attempt in 0.. {
        match admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
            .await
        {
            Ok(()) => break,
            Err(e) if attempt < 50 => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("creating {name}: {e}"),
        }
    }
    pg.url(&name)
}

/// Settings for a test app against `sim` and `db_url`.
pub fn test_settings(sim: &Simulator, db_url: &str) -> Settings {
    Settings {
        bind_addr: "127.0.0.1".into(),
        port: 0,
        database_url: Some(SecretString::from(db_url.to_owned())),
        database_pool_size: 4,
        internal_api_key: Some(SecretString::from(API_KEY)),
        state_secret: Some(SecretString::from(STATE_SECRET)),
        encryption_key: Some(SecretString::from(ENCRYPTION_KEY)),
        strava_client_id: Some(sim.config().client_id.clone()),
        strava_client_secret: Some(SecretString::from(sim.config().client_secret.clone())),
        strava_api_base_url: sim.api_base_url(),
        strava_oauth_base_url: sim.oauth_base_url(),
        strava_timeout_secs: 2,
        frontend_url: FRONTEND.into(),
        milepost_data_dir: std::env::temp_dir().join("milepost-test-data"),
        ..Settings::default()
    }
}

pub struct TestApp {
    pub address: String,
    pub sim: Simulator,
    pub db_url: String,
    pub settings: Settings,
    pub services: Services,
    pub http: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

/// An app with its own database and a default simulator.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(SimConfig::default(), |_| {}).await
}

/// An app with its own database, a simulator built from `sim_config`, and settings adjusted by
/// `configure`.
pub async fn spawn_app_with(
    sim_config: SimConfig,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    milepost::strava::client::install_tls_provider();
    if std::env::var_os("TEST_LOG").is_some() {
        milepost::telemetry::init(milepost::config::LogFormat::Pretty);
    }
    let sim = Simulator::start(sim_config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("starting the simulator");
    let db_url = fresh_database().await;
    let mut settings = test_settings(&sim, &db_url);
    configure(&mut settings);
    start(sim, db_url, settings).await
}

/// An app with a default simulator on a fresh database that `sabotage` (SQL) changed first;
/// it is returned as soon as it serves, ready or not.
pub async fn spawn_app_unready(sabotage: &str) -> TestApp {
    milepost::strava::client::install_tls_provider();
    let sim = Simulator::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("starting the simulator");
    let db_url = fresh_database().await;
    connect(&db_url)
        .await
        .batch_execute(sabotage)
        .await
        .unwrap_or_else(|e| panic!("{sabotage}: {e}"));
    let settings = test_settings(&sim, &db_url);
    launch(sim, db_url, settings).await
}

async fn start(sim: Simulator, db_url: String, settings: Settings) -> TestApp {
    let app = launch(sim, db_url, settings).await;
    wait_ready(&app.address).await;
    app
}

/// Builds and runs the app; returns once it is bound (it may still be warming).
async fn launch(sim: Simulator, db_url: String, mut settings: Settings) -> TestApp {
    let replica = serve(&mut settings, sim.clock()).await;
    TestApp {
        address: replica.address,
        sim,
        db_url,
        settings,
        services: replica.services,
        http: browser(),
        handle: replica.handle,
    }
}

/// An app running on `settings`, bound (it may still be warming).
async fn serve(settings: &mut Settings, clock: milepost::clock::Clock) -> Replica {
    // The redirect URI names the app's own port: bind first, then build on that listener.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    settings.strava_redirect_uri = Some(format!("{address}/strava/callback"));
    // The app reads the time from the simulator's clock, so tests can move both at once.
    let app = Application::build_with(settings.clone(), listener, clock)
        .await
        .expect("building the app");
    let services = app.services().clone();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    Replica {
        address,
        services,
        handle,
    }
}

/// Another app on a [`TestApp`]'s database and Strava: a second replica.
pub struct Replica {
    pub address: String,
    pub services: Services,
    handle: actix_web::dev::ServerHandle,
}

impl Replica {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(self.url(path)).await.expect("GET a replica")
    }

    /// `POST /strava/refresh-data` with the API key.
    pub async fn refresh(&self) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url("/strava/refresh-data"))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .expect("POST refresh-data to a replica")
    }

    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.services.shutdown().await;
    }
}

async fn wait_ready(address: &str) {
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{address}/readyz")).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the app never became ready");
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn refresh(&self, key: Option<&str>) -> reqwest::Response {
        let mut req = self.http.post(self.url("/strava/refresh-data"));
        if let Some(key) = key {
            req = req.header("X-API-Key", key);
        }
        req.send().await.expect("POST refresh-data")
    }

    /// The operator's `POST /strava/disconnect`, with the API key.
    pub async fn disconnect(&self) -> reqwest::Response {
        self.http
            .post(self.url("/strava/disconnect"))
            .header("X-API-Key", API_KEY)
            .send()
            .await
            .expect("POST disconnect")
    }

    /// `/strava/authorize`: the Strava URL and the state cookie it set.
    pub async fn authorize(&self) -> (String, String) {
        let r = self.get("/strava/authorize").await;
        assert_eq!(r.status().as_u16(), 307, "authorize");
        let cookie = r
            .headers()
            .get(header::SET_COOKIE)
            .expect("a state cookie")
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        (location(&r), cookie)
    }

    /// Lets the simulator decide on the consent page; returns where it sends the browser.
    pub async fn consent(&self, strava_url: &str) -> String {
        let r = self
            .http
            .get(strava_url)
            .send()
            .await
            .expect("Strava authorize");
        location(&r)
    }

    /// GETs the callback URL as the browser would, with `cookie` if given.
    pub async fn callback(&self, callback_url: &str, cookie: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(callback_url);
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        req.send().await.expect("callback")
    }

    /// The whole OAuth flow; returns the callback's response.
    pub async fn connect(&self) -> reqwest::Response {
        let (strava, cookie) = self.authorize().await;
        let callback = self.consent(&strava).await;
        self.callback(&callback, Some(&cookie)).await
    }

    /// Connects and waits for the first (background) sync to end: its stats published, its
    /// result recorded and nothing in flight any more.
    pub async fn connect_and_sync(&self) {
        let r = self.connect().await;
        assert_eq!(location(&r), format!("{FRONTEND}/?strava=success"));
        self.wait_for("/strava/stats/ytd").await;
        self.wait_for_sync_to_end().await;
    }

    /// Waits until no sync is in flight and one has succeeded (the operators' view says so).
    pub async fn wait_for_sync_to_end(&self) {
        for _ in 0..400 {
            let r = self
                .http
                .get(self.url("/strava/admin/actors"))
                .header("X-API-Key", API_KEY)
                .send()
                .await
                .expect("GET admin/actors");
            let view: serde_json::Value = r.json().await.expect("the operators' view");
            if view["sync"]["in_flight"] == false && view["sync"]["last_success"].is_string() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the sync never ended");
    }

    /// Waits until `path` answers 200.
    pub async fn wait_for(&self, path: &str) {
        for _ in 0..400 {
            if self.get(path).await.status().is_success() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{path} never answered 200");
    }

    pub async fn db(&self) -> tokio_postgres::Client {
        connect(&self.db_url).await
    }

    /// Stops this app and starts a new one on the same database, talking to `sim` instead.
    pub async fn switch_strava(mut self, sim: Simulator) -> TestApp {
        self.handle.stop(true).await;
        self.services.shutdown().await;
        let fresh = test_settings(&sim, &self.db_url);
        self.settings.strava_api_base_url = fresh.strava_api_base_url;
        self.settings.strava_oauth_base_url = fresh.strava_oauth_base_url;
        start(sim, self.db_url, self.settings).await
    }

    /// How many rows `table` holds.
    pub async fn rows(&self, table: &str) -> i64 {
        self.db()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap_or_else(|e| panic!("counting {table}: {e}"))
            .get(0)
    }

    /// Starts another app on this one's database and simulator, with the same settings.
    pub async fn replica(&self) -> Replica {
        self.replica_with(|_| {}).await
    }

    /// Starts another app on this one's simulator, with its settings adjusted by `configure`.
    pub async fn replica_with(&self, configure: impl FnOnce(&mut Settings)) -> Replica {
        let mut settings = self.settings.clone();
        configure(&mut settings);
        let replica = serve(&mut settings, self.sim.clock()).await;
        wait_ready(&replica.address).await;
        replica
    }

    /// Stops this app and starts a new one on the same database and simulator.
    pub async fn restart(self) -> TestApp {
        self.handle.stop(true).await;
        self.services.shutdown().await;
        start(self.sim, self.db_url, self.settings).await
    }
}

/// An HTTP client that, like a test's eyes, sees redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// A Strava stand-in whose athlete is `athlete_id`.
pub async fn strava_of_athlete(athlete_id: i64) -> Simulator {
    Simulator::start(
        SimConfig {
            athlete_id,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

pub async fn json(r: reqwest::Response) -> serde_json::Value {
    let status = r.status();
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({status}): {e}: {text}"))
}

/// The environment variables that make the `milepost` binary run with `settings` (what
/// [`test_settings`] gives, adjusted): every setting the tests change, by its documented name.
pub fn settings_env(settings: &Settings) -> Vec<(&'static str, String)> {
    let s = settings;
    let mut env = vec![
        (
            "ENVIRONMENT",
            if s.is_production() {
                "production"
            } else {
                "development"
            }
            .to_owned(),
        ),
        ("BIND_ADDR", s.bind_addr.clone()),
        ("PORT", s.port.to_string()),
        ("DATABASE_POOL_SIZE", s.database_pool_size.to_string()),
        ("STRAVA_API_BASE_URL", s.strava_api_base_url.clone()),
        ("STRAVA_OAUTH_BASE_URL", s.strava_oauth_base_url.clone()),
        ("STRAVA_TIMEOUT_SECS", s.strava_timeout_secs.to_string()),
        ("FRONTEND_URL", s.frontend_url.clone()),
        ("REFRESH_INTERVAL_SECS", s.refresh_interval_secs.to_string()),
        (
            "RECONCILE_INTERVAL_SECS",
            s.reconcile_interval_secs.to_string(),
        ),
        ("RETENTION_DAYS", s.retention_days.to_string()),
        ("CACHE_MAX_AGE_SECS", s.cache_max_age_secs.to_string()),
        (
            "LOG_FORMAT",
            match s.log_format {
                LogFormat::Json => "json",
                LogFormat::Pretty => "pretty",
            }
            .to_owned(),
        ),
        ("ACCESS_LOG", s.access_log.to_string()),
        (
            "OAUTH_RATE_LIMIT_PER_MINUTE",
            s.oauth_rate_limit_per_minute.to_string(),
        ),
        (
            "MILEPOST_DATA_DIR",
            s.milepost_data_dir.display().to_string(),
        ),
        ("SHUTDOWN_DRAIN_SECS", s.shutdown_drain_secs.to_string()),
    ];
    let secrets = [
        ("DATABASE_URL", &s.database_url),
        ("INTERNAL_API_KEY", &s.internal_api_key),
        ("STATE_SECRET", &s.state_secret),
        ("ENCRYPTION_KEY", &s.encryption_key),
        ("STRAVA_CLIENT_SECRET", &s.strava_client_secret),
        ("METRICS_TOKEN", &s.metrics_token),
        (
            "STRAVA_WEBHOOK_VERIFY_TOKEN",
            &s.strava_webhook_verify_token,
        ),
        ("STRAVA_WEBHOOK_SECRET", &s.strava_webhook_secret),
    ];
    for (name, value) in secrets {
        if let Some(value) = value {
            env.push((name, value.expose_secret().to_owned()));
        }
    }
    let texts = [
        ("STRAVA_CLIENT_ID", &s.strava_client_id),
        ("STRAVA_REDIRECT_URI", &s.strava_redirect_uri),
        ("CORS_ALLOWED_ORIGINS", &s.cors_allowed_origins),
        ("TRUSTED_PROXIES", &s.trusted_proxies),
    ];
    for (name, value) in texts {
        if let Some(value) = value {
            env.push((name, value.clone()));
        }
    }
    env
}

/// The real `milepost serve` binary as a child process, with its own database and simulator,
/// and its stdout kept line by line. Dropping it kills the child.
pub struct BinaryApp {
    pub address: String,
    pub sim: Simulator,
    pub http: reqwest::Client,
    /// What the binary runs with (its environment is [`settings_env`] of these).
    pub settings: Settings,
    process: Process,
    dir: std::path::PathBuf,
}

/// A child process killed when dropped, and what it printed so far.
struct Process {
    child: std::process::Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BinaryApp {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Keeps every line `from` writes (until it closes) in `into`.
fn collect_lines(from: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap().push(line);
        }
    });
}

impl Process {
    /// Sends SIGTERM (what a container runtime sends to stop it).
    fn terminate(&self) {
        let pid = self.child.id();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Waits up to `within` for the child to exit; its exit status, or `None` if it still runs.
    async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader threads a moment to take the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `milepost serve` with exactly `env` (nothing of the test's environment) in `dir`.
    fn start(env: &[(&str, String)], dir: &std::path::Path) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_milepost"))
            .arg("serve")
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting the milepost binary");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        collect_lines(child.stdout.take().unwrap(), stdout.clone());
        collect_lines(child.stderr.take().unwrap(), stderr.clone());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for `/readyz`; the child's stderr if it exits first.
    async fn wait_ready(&mut self, address: &str) -> Result<(), String> {
        for _ in 0..400 {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Give the reader thread a moment to take the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let stderr = self.stderr.lock().unwrap().join("\n");
                return Err(format!("exited with {status}: {stderr}"));
            }
            if let Ok(r) = reqwest::get(format!("{address}/readyz")).await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("no answer from /readyz within 20 s".into())
    }
}

/// Starts the binary against a fresh database and a simulator, with settings adjusted
/// by `configure` and `extra` environment variables (such as `RUST_LOG`) on top.
pub async fn spawn_binary(
    configure: impl FnOnce(&mut Settings),
    extra: &[(&str, &str)],
) -> BinaryApp {
    milepost::strava::client::install_tls_provider();
    // A year of history: these tests read the log, and each child syncs it all at least once
    // (a debug build ingesting six years beside the other tests slows the whole run).
    let sim_config = SimConfig {
        history_years: 1,
        ..SimConfig::default()
    };
    let sim = Simulator::start(sim_config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("starting the simulator");
    let db_url = fresh_database().await;
    let mut settings = test_settings(&sim, &db_url);
    configure(&mut settings);
    let dir = working_dir("milepost-bin");
    let (address, process) = start_binary(&mut settings, extra, &dir).await;
    BinaryApp {
        address,
        sim,
        http: browser(),
        settings,
        process,
        dir,
    }
}

/// A fresh, empty working directory for a binary: no `.env` or `config/` of the checkout is read.
fn working_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("a working directory for the binary");
    dir
}

/// Starts `milepost serve` with `settings` (on a free port, which it sets, with its redirect
/// URI) and `extra` environment variables in `dir`; its address once it is ready. The binary
/// binds the port itself, so the port is picked free and let go first; if someone takes it in
/// between, the child fails to bind and starts again on another.
async fn start_binary(
    settings: &mut Settings,
    extra: &[(&str, &str)],
    dir: &std::path::Path,
) -> (String, Process) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("http://127.0.0.1:{port}");
        settings.port = port;
        settings.strava_redirect_uri = Some(format!("{address}/strava/callback"));
        let mut env = settings_env(settings);
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut process = Process::start(&env, dir);
        match process.wait_ready(&address).await {
            Ok(()) => return (address, process),
            Err(why) if attempt < 3 && why.contains("cannot listen") => continue,
            Err(why) => panic!("the milepost binary did not start: {why}"),
        }
    }
}

impl BinaryApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Another replica, in this process, on the binary's database and Strava.
    pub async fn replica(&self) -> Replica {
        let mut settings = self.settings.clone();
        settings.port = 0;
        let replica = serve(&mut settings, self.sim.clock()).await;
        wait_ready(&replica.address).await;
        replica
    }

    /// SIGKILL: the process ends with no chance to clean up (its Postgres sessions end with
    /// it, as the kernel closes their sockets).
    pub fn kill(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }

    /// The binary's process id.
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        self.process.terminate();
    }

    /// Waits up to `within` for the binary to exit; its exit status, or `None` if it still runs.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        self.process.wait_exit(within).await
    }

    /// The whole OAuth flow, as [`TestApp::connect`]; returns the callback's response.
    pub async fn connect(&self) -> reqwest::Response {
        let r = self
            .http
            .get(self.url("/strava/authorize"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 307, "authorize");
        let cookie = r.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let consent = self.http.get(location(&r)).send().await.unwrap();
        self.http
            .get(location(&consent))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap()
    }

    /// Connects through the whole OAuth flow and waits for the first sync to be over.
    pub async fn connect_and_sync(&self) {
        let r = self.connect().await;
        assert!(location(&r).ends_with("strava=success"), "{}", location(&r));
        let synced = async || {
            let health = json(reqwest::get(self.url("/strava/health")).await.unwrap()).await;
            health["last_sync"].is_string()
        };
        assert!(eventually(synced).await, "the binary synced");
    }

    /// Runs `milepost <args>` once with the server's environment; its exit success, stdout
    /// and stderr.
    pub fn command(&self, args: &[&str]) -> (bool, String, String) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_milepost"))
            .args(args)
            .env_clear()
            .envs(settings_env(&self.settings))
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("running the milepost binary");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Every line the binary wrote to stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.process.stderr.lock().unwrap().clone()
    }

    /// Every line the binary wrote to stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.process.stdout.lock().unwrap().clone()
    }

    /// The stdout lines that are JSON objects (the log in `LOG_FORMAT=json`).
    pub fn log(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Waits (up to 20 s) for a log line that `matches`, and returns it.
    pub async fn wait_for_log(
        &self,
        what: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        for _ in 0..400 {
            if let Some(line) = self.log().into_iter().find(&matches) {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no log line {what} in:\n{}", self.stdout().join("\n"));
    }
}

/// The verify token of [`spawn_subscribed_app`]'s push subscription.
pub const VERIFY_TOKEN: &str = "test-webhook-verify-token";

/// A connected, synced app whose push subscription exists at the simulator and in Postgres.
pub async fn spawn_subscribed_app(
    sim: SimConfig,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let app = spawn_app_with(sim, |s| {
        s.strava_webhook_verify_token = Some(VERIFY_TOKEN.into());
        configure(s);
    })
    .await;
    app.connect_and_sync().await;
    let out = milepost::commands::webhook_subscribe(&app.settings, &app.url("/strava/webhook"))
        .await
        .expect("subscribing");
    assert!(out.starts_with("subscribed: "), "{out}");
    app
}

/// Polls (up to 10 s) until `done` holds; `false` if it never did.
pub async fn eventually(done: impl AsyncFnMut() -> bool) -> bool {
    within(Duration::from_secs(10), done).await
}

/// Polls every 25 ms for at most `within` until `done` holds; `false` if it never did.
pub async fn within(within: Duration, mut done: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if done().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// How many webhook events handling has come to `outcome` (`ignored`, `deferred`, `changed`,
/// `unconfirmed`, …), as /metrics says.
pub async fn webhook_events(app: &TestApp, outcome: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let line = format!("milepost_webhook_events_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&line))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// The real `milepost serve` binary as another replica of a [`TestApp`] (its database, its
/// simulator, its settings), in a working directory of its own. Dropping it kills the child
/// and removes the directory.
pub struct BinaryReplica {
    pub address: String,
    process: Process,
    dir: std::path::PathBuf,
}

impl TestApp {
    /// Starts the binary on this app's database and simulator, on a port of its own, and
    /// returns once it is ready.
    pub async fn binary_replica(&self) -> BinaryReplica {
        let mut settings = self.settings.clone();
        let dir = working_dir("milepost-replica");
        let (address, process) = start_binary(&mut settings, &[], &dir).await;
        BinaryReplica {
            address,
            process,
            dir,
        }
    }
}

impl BinaryReplica {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends SIGTERM (what a container runtime sends to stop it).
    pub fn terminate(&self) {
        self.process.terminate();
    }

    /// Sends SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.process.child.kill();
    }

    /// Waits up to `within` for the child to exit; its exit status, or `None` if it still runs.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        self.process.wait_exit(within).await
    }

    /// Every line the binary wrote to stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.process.stdout.lock().unwrap().clone()
    }

    /// Every line the binary wrote to stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.process.stderr.lock().unwrap().clone()
    }
}

impl Drop for BinaryReplica {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
