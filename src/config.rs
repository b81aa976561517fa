//! Typed settings: the built-in `config/default.toml`, then `config/{ENVIRONMENT}.toml` from the
//! config directory, then environment variables (the old service's names keep their meaning).
//! Secrets are `SecretString`s, so `Debug` never prints them.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::stats::PublicVisibility;

const DEFAULTS: &str = include_str!("../config/default.toml");
/// The shipped per-environment files, used when the config directory has none of its own.
const DEVELOPMENT: &str = include_str!("../config/development.toml");
const PRODUCTION: &str = include_str!("../config/production.toml");
/// Secrets shorter than this are refused in production.
pub const MIN_SECRET_LEN: usize = 32;
/// Development secrets generated on first start live here, under the data directory.
const GENERATED_SECRETS_FILE: &str = "secrets.env";
/// `STRAVA_WEBHOOK_SECRET` is a URL path segment: long enough not to be guessed, short enough
/// for any proxy's URL limit.
pub const WEBHOOK_SECRET_LEN: std::ops::RangeInclusive<usize> = 24..=128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Environment values arrive typed by guesswork (`12345` becomes a number): take any scalar as
/// text, and an empty value as absent.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
    }
    Ok(match Option::<Scalar>::deserialize(d)? {
        None => None,
        Some(Scalar::S(s)) => Some(s),
        Some(Scalar::I(i)) => Some(i.to_string()),
        Some(Scalar::U(u)) => Some(u.to_string()),
        Some(Scalar::F(f)) => Some(f.to_string()),
        Some(Scalar::B(b)) => Some(b.to_string()),
    }
    .map(|s| s.trim().to_owned())
    .filter(|s| !s.is_empty()))
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(text(d)?.map(SecretString::from))
}

/// What is wrong with a `STRAVA_WEBHOOK_SECRET`; never the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSecretError {
    #[error(
        "STRAVA_WEBHOOK_SECRET must be {} to {} characters long",
        WEBHOOK_SECRET_LEN.start(),
        WEBHOOK_SECRET_LEN.end()
    )]
    Length,
    #[error(
        "STRAVA_WEBHOOK_SECRET may hold only letters, digits, '-' and '_' (it is a URL path \
         segment); `openssl rand -hex 32` makes one"
    )]
    Charset,
}

/// Checks a webhook secret: a path segment of [`WEBHOOK_SECRET_LEN`] unreserved characters
/// that needs no escaping anywhere (letters, digits, `-`, `_`).
pub fn check_webhook_secret(value: &str) -> Result<(), WebhookSecretError> {
    if !WEBHOOK_SECRET_LEN.contains(&value.len()) {
        return Err(WebhookSecretError::Length);
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(WebhookSecretError::Charset);
    }
    Ok(())
}

fn webhook_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    let Some(value) = text(d)? else {
        return Ok(None);
    };
    check_webhook_secret(&value).map_err(serde::de::Error::custom)?;
    Ok(Some(SecretString::from(value)))
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    text(d)?
        .map(|s| s.parse().map_err(serde::de::Error::custom))
        .transpose()
}

/// A yes/no setting: `true`/`false` or the usual spellings (`1`/`0`, `yes`/`no`, `on`/`off`);
/// absent or empty is `false`.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let Some(value) = text(d)? else {
        return Ok(false);
    };
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(serde::de::Error::custom(format!(
            "expected true or false, found {value:?}"
        ))),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub environment: Environment,
    pub port: u16,
    pub bind_addr: String,

    #[serde(default, deserialize_with = "secret")]
    pub database_url: Option<SecretString>,
    #[serde(default, deserialize_with = "text")]
    pub postgres_user: Option<String>,
    #[serde(default, deserialize_with = "secret")]
    pub postgres_password: Option<SecretString>,
    #[serde(default, deserialize_with = "text")]
    pub postgres_db: Option<String>,
    pub postgres_host: String,
    pub postgres_port: u16,
    pub database_pool_size: usize,

    #[serde(default, deserialize_with = "secret")]
    pub internal_api_key: Option<SecretString>,
    #[serde(default, deserialize_with = "secret")]
    pub state_secret: Option<SecretString>,
    #[serde(default, deserialize_with = "secret")]
    pub encryption_key: Option<SecretString>,
    #[serde(default, deserialize_with = "secret")]
    pub encryption_keys_previous: Option<SecretString>,

    #[serde(default, deserialize_with = "text")]
    pub strava_client_id: Option<String>,
    #[serde(default, deserialize_with = "secret")]
    pub strava_client_secret: Option<SecretString>,
    #[serde(default, deserialize_with = "text")]
    pub strava_redirect_uri: Option<String>,
    pub strava_api_base_url: String,
    pub strava_oauth_base_url: String,
    pub strava_timeout_secs: u64,
    #[serde(default, deserialize_with = "secret")]
    pub strava_webhook_verify_token: Option<SecretString>,
    #[serde(default, deserialize_with = "number")]
    pub strava_webhook_subscription_id: Option<i64>,
    /// Events are accepted only at `/strava/webhook/{this}` when set (checked on load).
    #[serde(default, deserialize_with = "webhook_secret")]
    pub strava_webhook_secret: Option<SecretString>,

    pub frontend_url: String,
    #[serde(default, deserialize_with = "text")]
    pub cors_allowed_origins: Option<String>,
    #[serde(default, deserialize_with = "number")]
    pub owner_athlete_id: Option<i64>,
    pub public_visibility: PublicVisibility,
    pub refresh_interval_secs: u64,
    pub reconcile_interval_secs: u64,
    pub retention_days: u32,
    pub cache_max_age_secs: u32,
    #[serde(default, deserialize_with = "secret")]
    pub metrics_token: Option<SecretString>,
    pub log_format: LogFormat,
    /// One log line per request (`ACCESS_LOG`); off, a request logs only what goes wrong.
    #[serde(default, deserialize_with = "flag")]
    pub access_log: bool,
    /// Requests a minute one client address may make to `/strava/authorize` and
    /// `/strava/callback` together (`OAUTH_RATE_LIMIT_PER_MINUTE`); 0 counts as 1.
    pub oauth_rate_limit_per_minute: u32,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, comma list of IPs).
    #[serde(default, deserialize_with = "text")]
    pub trusted_proxies: Option<String>,
    pub milepost_data_dir: PathBuf,
    /// Seconds a stopping server keeps serving with `/readyz` at 503 and `Connection: close` on
    /// every answer, before it stops accepting (`SHUTDOWN_DRAIN_SECS`).
    #[serde(default = "default_shutdown_drain_secs")]
    pub shutdown_drain_secs: u64,
    /// A folder the leader watches for activity files and exports to import (`IMPORT_DIR`).
    #[serde(default, deserialize_with = "text")]
    pub import_dir: Option<String>,
    /// How often (seconds) the watched folder is looked at (`IMPORT_SCAN_SECS`); 0 counts as 1.
    pub import_scan_secs: u64,
    /// Who may see imported activities (`IMPORT_VISIBILITY`): the export has no visibility.
    pub import_visibility: crate::import::Visibility,
    /// The largest upload taken (`IMPORT_MAX_BYTES`, bytes).
    pub import_max_bytes: u64,
    /// The largest file inside an archive taken, uncompressed (`IMPORT_MAX_ENTRY_BYTES`, bytes).
    pub import_max_entry_bytes: u64,
    /// The athlete's IANA time zone (`ATHLETE_TIMEZONE`), for imported activities whose files
    /// give no offset and no position.
    #[serde(default, deserialize_with = "text")]
    pub athlete_timezone: Option<String>,
    /// About how many activities `milepost demo`'s generated athlete has
    /// (`MILEPOST_DEMO_ACTIVITIES`; unset: seven years' worth, about 1,750), for benchmarks.
    #[serde(default)]
    pub milepost_demo_activities: Option<u32>,
}

fn default_shutdown_drain_secs() -> u64 {
    1
}

impl Default for Settings {
    /// The built-in defaults alone, ignoring files and the environment (tests start here).
    fn default() -> Self {
        Figment::from(Toml::string(DEFAULTS))
            .extract()
            .unwrap_or_else(|e| unreachable!("config/default.toml is invalid: {e}"))
    }
}

impl Settings {
    /// Reads the layers. `ENVIRONMENT` picks the second file; `MILEPOST_CONFIG_DIR` (default
    /// `config`) says where the files are. Missing files are skipped: the shipped ones are built
    /// in, so the binary runs from any directory.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let dir = std::env::var("MILEPOST_CONFIG_DIR").unwrap_or_else(|_| "config".into());
        let environment = std::env::var("ENVIRONMENT")
            .map(|e| e.trim().to_lowercase())
            .unwrap_or_else(|_| "development".into());
        let shipped = if environment == "production" {
            PRODUCTION
        } else {
            DEVELOPMENT
        };
        Figment::from(Toml::string(DEFAULTS))
            .merge(Toml::string(shipped))
            .merge(Toml::file(Path::new(&dir).join("default.toml")))
            .merge(Toml::file(
                Path::new(&dir).join(format!("{environment}.toml")),
            ))
            .merge(Env::raw().ignore(&["MILEPOST_CONFIG_DIR"]).lowercase(true))
            .extract()
            .map_err(Box::new)
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// `DATABASE_URL`, else one built from the `POSTGRES_*` variables when a user or password is
    /// given (the compose setup), else `None` (the caller may start a private cluster).
    pub fn database_url(&self) -> Option<SecretString> {
        if let Some(url) = &self.database_url {
            return Some(url.clone());
        }
        if self.postgres_user.is_none() && self.postgres_password.is_none() {
            return None;
        }
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let user = self.postgres_user.as_deref().unwrap_or("postgres");
        let password = self
            .postgres_password
            .as_ref()
            .map(|p| format!(":{}", enc(p.expose_secret())))
            .unwrap_or_default();
        let db = self.postgres_db.as_deref().unwrap_or(user);
        Some(SecretString::from(format!(
            "postgres://{}{password}@{}:{}/{}",
            enc(user),
            self.postgres_host,
            self.postgres_port,
            enc(db)
        )))
    }

    /// The previous encryption keys (comma list) that still decrypt.
    pub fn previous_encryption_keys(&self) -> Vec<SecretString> {
        self.encryption_keys_previous
            .as_ref()
            .map(|list| {
                list.expose_secret()
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|k| SecretString::from(k.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Origins allowed by CORS: the frontend and any listed extra origins, exactly.
    pub fn allowed_origins(&self) -> Vec<String> {
        let mut origins = vec![self.frontend_url.trim_end_matches('/').to_owned()];
        if let Some(list) = &self.cors_allowed_origins {
            origins.extend(
                list.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty()),
            );
        }
        origins.dedup();
        origins
    }

    /// `TRUSTED_PROXIES` read: the addresses, and the entries that are not IP addresses.
    pub fn trusted_proxies(&self) -> (Vec<std::net::IpAddr>, Vec<String>) {
        let mut proxies = Vec::new();
        let mut invalid = Vec::new();
        for entry in self
            .trusted_proxies
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match entry.parse() {
                Ok(ip) => proxies.push(ip),
                Err(_) => invalid.push(entry.to_owned()),
            }
        }
        (proxies, invalid)
    }

    /// Every reason this configuration must not run in production, all at once.
    pub fn production_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let named = [
            ("INTERNAL_API_KEY", &self.internal_api_key),
            ("STATE_SECRET", &self.state_secret),
            ("ENCRYPTION_KEY", &self.encryption_key),
        ];
        for (name, value) in &named {
            match value {
                None => problems.push(format!("{name} is not set")),
                Some(v) if v.expose_secret().chars().count() < MIN_SECRET_LEN => problems.push(
                    format!("{name} is shorter than {MIN_SECRET_LEN} characters"),
                ),
                Some(_) => {}
            }
        }
        for (i, (a, va)) in named.iter().enumerate() {
            for (b, vb) in &named[i + 1..] {
                if let (Some(va), Some(vb)) = (va, vb)
                    && va.expose_secret() == vb.expose_secret()
                {
                    problems.push(format!("{a} and {b} must be different"));
                }
            }
        }
        match &self.strava_redirect_uri {
            Some(uri) if uri.starts_with("https://") => {}
            Some(_) => problems.push("STRAVA_REDIRECT_URI must use https".into()),
            None => problems.push("STRAVA_REDIRECT_URI is not set".into()),
        }
        for entry in self.trusted_proxies().1 {
            problems.push(format!("TRUSTED_PROXIES: {entry:?} is not an IP address"));
        }
        problems
    }

    /// Production: refuse to start with any problem. Development: fill missing secrets from the
    /// data directory, generating them once (the log says where, never what).
    pub fn finish(mut self) -> anyhow::Result<Self> {
        let retention_secs = u64::from(self.retention_days) * 86_400;
        if self.retention_days == 0 || self.reconcile_interval_secs >= retention_secs {
            anyhow::bail!(
                "RECONCILE_INTERVAL_SECS ({}) must be shorter than RETENTION_DAYS ({} days): data is re-confirmed by the reconciliation",
                self.reconcile_interval_secs,
                self.retention_days
            );
        }
        if let Some(zone) = &self.athlete_timezone
            && crate::import::local_time::parse_zone(zone).is_none()
        {
            anyhow::bail!(
                "ATHLETE_TIMEZONE ({zone:?}) is not an IANA time zone name such as Europe/Oslo"
            );
        }
        if self.is_production() {
            let problems = self.production_problems();
            if !problems.is_empty() {
                anyhow::bail!(
                    "refusing to start in production:\n  - {}",
                    problems.join("\n  - ")
                );
            }
            return Ok(self);
        }
        if self.internal_api_key.is_some()
            && self.state_secret.is_some()
            && self.encryption_key.is_some()
        {
            return Ok(self);
        }
        let path = self.milepost_data_dir.join(GENERATED_SECRETS_FILE);
        let stored = generated_secrets(&path)?;
        let pick = |name: &str| {
            stored
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        self.internal_api_key = self.internal_api_key.or_else(|| pick("INTERNAL_API_KEY"));
        self.state_secret = self.state_secret.or_else(|| pick("STATE_SECRET"));
        self.encryption_key = self.encryption_key.or_else(|| pick("ENCRYPTION_KEY"));
        Ok(self)
    }
}

/// Reads the development secrets file, creating it (mode 0600) with fresh random values first.
/// A file that group or others can access is refused, naming the file and the fix.
fn generated_secrets(path: &Path) -> anyhow::Result<Vec<(String, SecretString)>> {
    use anyhow::Context;
    use std::os::unix::fs::PermissionsExt;
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating data directory {}", dir.display()))?;
        }
        let body: String = ["INTERNAL_API_KEY", "STATE_SECRET", "ENCRYPTION_KEY"]
            .iter()
            .map(|name| format!("{name}={}\n", random_secret()))
            .collect();
        write_private(path, &body)
            .with_context(|| format!("writing generated secrets to {}", path.display()))?;
        tracing::info!(
            path = %path.display(),
            "generated development secrets (INTERNAL_API_KEY, STATE_SECRET, ENCRYPTION_KEY); set them in the environment to choose your own"
        );
    }
    let mode = std::fs::metadata(path)
        .with_context(|| format!("inspecting generated secrets in {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "refusing to start: {} holds secrets but group or others can access it (mode {:04o}); \
             run `chmod 600 {}`",
            path.display(),
            mode & 0o7777,
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading generated secrets from {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), SecretString::from(v.trim().to_owned())))
        .collect())
}

/// 32 random bytes, base64url: the same strength as the old README's `token_urlsafe(32)`.
pub fn random_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Creates `path` (which must not exist) with mode 0600 and writes `body`.
pub(crate) fn write_private(path: &Path, body: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(body.as_bytes())
}

#[cfg(test)]
// figment's Jail closures must return figment's (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn the_old_services_env_works_unchanged() {
        Jail::expect_with(|jail| {
            jail.set_env("ENVIRONMENT", "production");
            jail.set_env("POSTGRES_USER", "backend_user");
            jail.set_env("POSTGRES_PASSWORD", "p@ss word");
            jail.set_env("POSTGRES_DB", "backend_db");
            jail.set_env("STRAVA_CLIENT_ID", "161983");
            jail.set_env(
                "STRAVA_REDIRECT_URI",
                "https://api.example.com/strava/callback",
            );
            jail.set_env("FRONTEND_URL", "https://example.com");
            let s = Settings::load().map_err(|e| *e)?;
            assert!(s.is_production());
            assert_eq!(s.strava_client_id.as_deref(), Some("161983"));
            assert_eq!(
                s.database_url().unwrap().expose_secret(),
                "postgres://backend_user:p%40ss+word@localhost:5432/backend_db"
            );
            assert_eq!(s.log_format, LogFormat::Json);
            Ok(())
        });
    }

    #[test]
    fn production_lists_every_problem_at_once() {
        let mut s = Settings {
            environment: Environment::Production,
            ..Settings::default()
        };
        s.internal_api_key = Some(SecretString::from("x".repeat(40)));
        s.state_secret = Some(SecretString::from("x".repeat(40)));
        s.strava_redirect_uri = Some("http://api.example.com/strava/callback".into());
        let problems = s.production_problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("ENCRYPTION_KEY is not set"))
        );
        assert!(problems.iter().any(|p| p.contains("must be different")));
        assert!(problems.iter().any(|p| p.contains("https")));
        let err = s.finish().unwrap_err().to_string();
        assert!(!err.contains(&"x".repeat(40)));
    }

    #[test]
    fn development_generates_secrets_once_and_keeps_them() {
        let dir = std::env::temp_dir().join(format!("milepost-cfg-{}", random_secret()));
        let s = Settings {
            milepost_data_dir: dir.clone(),
            ..Settings::default()
        };
        let first = s.clone().finish().unwrap();
        let second = s.finish().unwrap();
        let key = |s: &Settings| s.state_secret.as_ref().unwrap().expose_secret().to_owned();
        assert_eq!(key(&first), key(&second));
        assert!(key(&first).len() >= MIN_SECRET_LEN);
        assert!(!format!("{first:?}").contains(&key(&first)));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_secrets_file_is_written_0600_and_refused_when_others_can_read_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("milepost-cfg-{}", random_secret()));
        let s = Settings {
            milepost_data_dir: dir.clone(),
            ..Settings::default()
        };
        let file = dir.join(GENERATED_SECRETS_FILE);
        let mode = |file: &Path| std::fs::metadata(file).unwrap().permissions().mode() & 0o777;

        let generated = s.clone().finish().unwrap();
        assert_eq!(mode(&file), 0o600);

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = s.clone().finish().unwrap_err().to_string();
        assert!(err.contains(&file.display().to_string()), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
        let secret = generated.state_secret.as_ref().unwrap().expose_secret();
        assert!(!err.contains(secret), "{err}");

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let again = s.finish().unwrap();
        assert_eq!(again.state_secret.as_ref().unwrap().expose_secret(), secret);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reconciliation_must_come_before_retention_purges() {
        let s = Settings {
            reconcile_interval_secs: 7 * 86_400,
            retention_days: 7,
            ..Settings::default()
        };
        let err = s.finish().unwrap_err().to_string();
        assert!(err.contains("RECONCILE_INTERVAL_SECS"), "{err}");
    }

    #[test]
    fn the_access_log_is_off_unless_asked_for() {
        Jail::expect_with(|jail| {
            assert!(!Settings::load().map_err(|e| *e)?.access_log);
            for (value, on) in [("true", true), ("1", true), ("FALSE", false), ("", false)] {
                jail.set_env("ACCESS_LOG", value);
                assert_eq!(
                    Settings::load().map_err(|e| *e)?.access_log,
                    on,
                    "{value:?}"
                );
            }
            jail.set_env("ACCESS_LOG", "maybe");
            assert!(Settings::load().is_err());
            Ok(())
        });
    }

    #[test]
    fn empty_values_count_as_unset() {
        Jail::expect_with(|jail| {
            jail.set_env("OWNER_ATHLETE_ID", "");
            jail.set_env("FRONTEND_URL", "https://a.example");
            jail.set_env(
                "CORS_ALLOWED_ORIGINS",
                "https://b.example/, https://c.example",
            );
            let s = Settings::load().map_err(|e| *e)?;
            assert_eq!(s.owner_athlete_id, None);
            assert_eq!(
                s.allowed_origins(),
                vec![
                    "https://a.example",
                    "https://b.example",
                    "https://c.example"
                ]
            );
            Ok(())
        });
    }

    #[test]
    fn oauth_rate_limit_and_trusted_proxies_are_read() {
        Jail::expect_with(|jail| {
            let s = Settings::load().map_err(|e| *e)?;
            assert_eq!(s.oauth_rate_limit_per_minute, 20);
            assert_eq!(s.trusted_proxies(), (vec![], vec![]));
            jail.set_env("OAUTH_RATE_LIMIT_PER_MINUTE", "5");
            jail.set_env("TRUSTED_PROXIES", "127.0.0.1, ::1,nope");
            let mut s = Settings::load().map_err(|e| *e)?;
            assert_eq!(s.oauth_rate_limit_per_minute, 5);
            let (proxies, invalid) = s.trusted_proxies();
            assert_eq!(
                proxies,
                vec![
                    "127.0.0.1".parse::<std::net::IpAddr>().unwrap(),
                    "::1".parse().unwrap()
                ]
            );
            assert_eq!(invalid, vec!["nope"]);
            s.environment = Environment::Production;
            assert!(
                s.production_problems()
                    .iter()
                    .any(|p| p.contains("TRUSTED_PROXIES") && p.contains("nope")),
                "{:?}",
                s.production_problems()
            );
            Ok(())
        });
    }
    #[test]
    fn a_webhook_secret_must_fit_a_url_path_segment() {
        for good in [
            "a".repeat(24),
            "0123456789abcdef0123456789abcdef".into(),
            "AZaz09-_".repeat(16),
        ] {
            assert_eq!(check_webhook_secret(&good), Ok(()), "{good}");
        }
        assert_eq!(
            check_webhook_secret(&"a".repeat(23)),
            Err(WebhookSecretError::Length)
        );
        assert_eq!(
            check_webhook_secret(&"a".repeat(129)),
            Err(WebhookSecretError::Length)
        );
        for bad in ["/", "?", "#", "%2F", ".", "~", " ", "é", "+", "="] {
            let value = format!("{}{bad}", "a".repeat(24));
            assert_eq!(
                check_webhook_secret(&value),
                Err(WebhookSecretError::Charset),
                "{value}"
            );
        }
    }

    #[test]
    fn a_bad_webhook_secret_is_refused_on_load_without_showing_it() {
        Jail::expect_with(|jail| {
            assert!(
                Settings::load()
                    .map_err(|e| *e)?
                    .strava_webhook_secret
                    .is_none()
            );
            let good = "good0webhook0secret0value0123";
            jail.set_env("STRAVA_WEBHOOK_SECRET", good);
            let s = Settings::load().map_err(|e| *e)?;
            assert_eq!(
                s.strava_webhook_secret.as_ref().map(|v| v.expose_secret()),
                Some(good)
            );
            assert!(!format!("{s:?}").contains(good));
            for bad in ["short0secret", "has/a/slash/in0the0middle0of0it"] {
                jail.set_env("STRAVA_WEBHOOK_SECRET", bad);
                let err = Settings::load().unwrap_err().to_string();
                assert!(err.contains("STRAVA_WEBHOOK_SECRET"), "{err}");
                assert!(!err.contains(bad), "{err}");
            }
            Ok(())
        });
    }
}
