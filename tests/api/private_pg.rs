//! The private PostgreSQL cluster accepts no password-less TCP logins (SPEC §5): only the
//! superuser's random password, kept in a 0600 file in the cluster directory, gets in.

use std::os::unix::fs::PermissionsExt as _;

use milepost::pg::PgCluster;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::helpers::private_cluster;

async fn try_connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn password(cluster: &PgCluster) -> String {
    std::fs::read_to_string(cluster.password_file())
        .expect("the cluster's password file")
        .trim()
        .to_owned()
}

#[tokio::test]
async fn the_superuser_without_a_password_is_refused() {
    let cluster = private_cluster();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port());

    let refused = try_connect(&url).await;

    // The server asks for a password the client does not have; with trust it would let it in.
    let error = refused.expect_err("a login without a password is refused");
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    assert_eq!(
        cause.as_deref(),
        Some("password missing"),
        "not an authentication error: {error:?}"
    );
}

#[tokio::test]
async fn the_superuser_with_a_wrong_password_is_refused() {
    let cluster = private_cluster();
    let url = format!(
        "postgres://postgres:not-the-password@127.0.0.1:{}/postgres",
        cluster.port()
    );

    let refused = try_connect(&url).await;

    let error = refused.expect_err("a wrong password is refused");
    assert_eq!(
        error.code(),
        Some(&SqlState::INVALID_PASSWORD),
        "not an authentication error: {error}"
    );
}

#[tokio::test]
async fn the_clusters_url_logs_in() {
    let cluster = private_cluster();

    let client = try_connect(&cluster.url("postgres"))
        .await
        .unwrap_or_else(|e| panic!("the cluster's own URL is refused: {e}"));

    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("a query");
    assert_eq!(row.get::<_, String>(0), "postgres");
    let method = client
        .query_one(
            "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'",
            &[],
        )
        .await
        .expect("pg_hba_file_rules");
    assert_eq!(method.get::<_, i64>(0), 0, "the server runs a trust rule");
}

#[test]
fn pg_hba_conf_has_no_trust_rule_and_asks_tcp_logins_for_scram() {
    let cluster = private_cluster();
    let hba = std::fs::read_to_string(cluster.data_dir().join("pg_hba.conf")).expect("pg_hba.conf");

    let rules: Vec<Vec<&str>> = hba
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| !fields.is_empty())
        .collect();

    assert!(!rules.is_empty(), "no rules in pg_hba.conf");
    for rule in &rules {
        assert!(!rule.contains(&"trust"), "a trust rule: {rule:?}");
        if rule[0].starts_with("host") {
            assert_eq!(rule.last(), Some(&"scram-sha-256"), "{rule:?}");
        }
    }
    assert!(rules.iter().any(|rule| rule[0] == "host"), "{rules:?}");
}

#[test]
fn the_password_file_is_readable_by_its_owner_only() {
    let cluster = private_cluster();

    let mode = std::fs::metadata(cluster.password_file())
        .expect("the password file")
        .permissions()
        .mode();
    let dir_mode = std::fs::metadata(cluster.data_dir())
        .expect("the cluster directory")
        .permissions()
        .mode();

    assert_eq!(mode & 0o777, 0o600, "password file mode {mode:o}");
    assert_eq!(dir_mode & 0o077, 0, "cluster directory mode {dir_mode:o}");
    assert!(password(cluster).len() >= 32);
}

#[test]
fn the_password_is_kept_out_of_debug_output() {
    let cluster = private_cluster();
    let password = password(cluster);

    assert!(cluster.url("postgres").contains(&password));
    assert!(!format!("{cluster:?}").contains(&password));
}
