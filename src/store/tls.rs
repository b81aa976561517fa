//! How milepost reaches Postgres: over TLS when `DATABASE_URL` says `sslmode=require`, in plain
//! text otherwise (a database on the same host or a private network).
//!
//! With TLS the server's certificate is always verified, against the platform's trust store
//! (as for Strava) plus the CA certificates of `sslrootcert=<PEM file>` if the URL names one;
//! this is stricter than libpq's `require`, which encrypts without checking who answers. A
//! managed database whose certificate comes from a private CA needs its CA bundle there.
//!
//! Every connection also sets TCP keepalives and `tcp_user_timeout` on its own end, and a
//! connect timeout, so a path that dropped without a word is noticed in seconds rather than
//! when the kernel gives up (about two hours on Linux defaults).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// TCP keepalives on both ends of every connection: the first probe after this much silence,
/// then one every [`KEEPALIVE_INTERVAL`], [`KEEPALIVE_PROBES`] of them unanswered and the
/// connection is dead; data unacknowledged for [`TCP_USER_TIMEOUT`] kills it too.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
pub const KEEPALIVE_PROBES: u32 = 3;
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting (TCP, TLS and the start-up exchange) takes at most this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed `DATABASE_URL`: what tokio-postgres understands, and the CA file it does not.
pub struct Target {
    pub config: tokio_postgres::Config,
    root_cert: Option<PathBuf>,
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let (url, root_cert) = take_root_cert(url);
        let mut config = tokio_postgres::Config::from_str(&url)
            .context("DATABASE_URL is not a valid Postgres URL")?;
        config
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_PROBES)
            .tcp_user_timeout(TCP_USER_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT);
        if root_cert.is_some() && config.get_ssl_mode() != SslMode::Require {
            anyhow::bail!("DATABASE_URL names an sslrootcert but not sslmode=require");
        }
        Ok(Self { config, root_cert })
    }

    /// Adds `-c name=value` settings to the ones the URL's `options` gave every session.
    pub fn set_for_every_session(&mut self, settings: &[(&str, String)]) {
        let mut options = self.config.get_options().unwrap_or_default().to_owned();
        for (name, value) in settings {
            if !options.is_empty() {
                options.push(' ');
            }
            options.push_str(&format!("-c {name}={value}"));
        }
        self.config.options(options);
    }

    /// The TLS connector `sslmode=require` needs; `None` for plain text.
    pub fn tls(&self) -> anyhow::Result<Option<MakeRustlsConnect>> {
        if self.config.get_ssl_mode() != SslMode::Require {
            return Ok(None);
        }
        crate::strava::client::install_tls_provider();
        let extra = match &self.root_cert {
            Some(path) => read_certificates(path)?,
            None => Vec::new(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .context("loading the platform's trusted certificates for Postgres")?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS for Postgres")?
            .dangerous() // not dangerous: the platform verifier checks the chain and the name
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok(Some(MakeRustlsConnect::new(config)))
    }
}

/// Removes `sslrootcert=` from the query of a URL-form `DATABASE_URL` (tokio-postgres refuses
/// options it does not know). A key=value form is returned as it is.
fn take_root_cert(url: &str) -> (String, Option<PathBuf>) {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return (url.to_owned(), None);
    };
    let mut root_cert = None;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter_map(|(k, v)| {
            if k == "sslrootcert" {
                root_cert = Some(PathBuf::from(v.into_owned()));
                None
            } else {
                Some((k.into_owned(), v.into_owned()))
            }
        })
        .collect();
    if root_cert.is_none() {
        return (url.to_owned(), None);
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    (parsed.into(), root_cert)
}

fn read_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let shown = path.display();
    let certificates = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading sslrootcert {shown}"))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("sslrootcert {shown} is not a PEM certificate file"))?;
    if certificates.is_empty() {
        anyhow::bail!("sslrootcert {shown} holds no certificate");
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslrootcert_is_taken_out_of_the_url_and_the_rest_kept() {
        let (url, root) = take_root_cert(
            "postgres://u:p@db.example:5432/milepost?sslmode=require&sslrootcert=%2Fetc%2Fca.pem&application_name=milepost",
        );
        assert_eq!(root, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(
            url,
            "postgres://u:p@db.example:5432/milepost?sslmode=require&application_name=milepost"
        );
        let target = Target::parse(&format!("{url}&sslrootcert=/etc/ca.pem")).unwrap();
        assert_eq!(target.config.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn every_connection_notices_a_dropped_path_and_keeps_the_urls_options() {
        let mut target =
            Target::parse("postgres://u@db.example/m?options=-c%20search_path%3Dmp").unwrap();
        assert!(target.config.get_keepalives());
        assert_eq!(target.config.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(
            target.config.get_tcp_user_timeout(),
            Some(&TCP_USER_TIMEOUT)
        );
        assert_eq!(target.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        target.set_for_every_session(&[("lock_timeout", "15s".into())]);
        assert_eq!(
            target.config.get_options(),
            Some("-c search_path=mp -c lock_timeout=15s")
        );
    }

    #[test]
    fn a_url_without_sslrootcert_is_unchanged() {
        let given = "postgres://u@localhost/milepost?sslmode=disable";
        assert_eq!(take_root_cert(given), (given.to_owned(), None));
        let key_value = "host=localhost user=u dbname=milepost";
        assert_eq!(take_root_cert(key_value), (key_value.to_owned(), None));
    }

    #[test]
    fn plain_text_unless_the_url_requires_tls() {
        for (url, tls) in [
            ("postgres://u@localhost/m", false),
            ("postgres://u@localhost/m?sslmode=prefer", false),
            ("postgres://u@localhost/m?sslmode=disable", false),
            ("postgres://u@localhost/m?sslmode=require", true),
        ] {
            let target = Target::parse(url).unwrap();
            assert_eq!(target.tls().unwrap().is_some(), tls, "{url}");
        }
    }

    #[test]
    fn a_root_cert_without_required_tls_or_a_readable_file_is_refused() {
        let e = Target::parse("postgres://u@localhost/m?sslrootcert=/etc/ca.pem")
            .err()
            .unwrap();
        assert!(e.to_string().contains("sslmode=require"), "{e}");
        let target =
            Target::parse("postgres://u@localhost/m?sslmode=require&sslrootcert=/nonexistent.pem")
                .unwrap();
        let e = target.tls().err().unwrap();
        assert!(format!("{e:#}").contains("/nonexistent.pem"), "{e:#}");
    }
}
