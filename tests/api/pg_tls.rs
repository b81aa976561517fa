//! Postgres over TLS: `sslmode=require` in DATABASE_URL encrypts every connection and verifies
//! the server's certificate (against the platform's roots and `sslrootcert`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use milepost::pg::PgCluster;
use milepost::simulator::SimConfig;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use secrecy::SecretString;

use crate::helpers::{connect, private_cluster, spawn_app_with};

/// A CA, and a certificate it signed for 127.0.0.1 installed as the cluster's; the CA file.
async fn serve_tls(cluster: &PgCluster, dir: &Path) -> PathBuf {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "milepost test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();

    // The server reads its files as the data directory's owner, and refuses a key others can read.
    let data = cluster.data_dir();
    let owner = std::fs::metadata(data).unwrap();
    let install = |name: &str, contents: String| {
        let path = data.join(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
        path
    };
    let cert = install("milepost-test-server.crt", server.pem());
    let key = install("milepost-test-server.key", server_key.serialize_pem());
    let admin = connect(&cluster.url("postgres")).await;
    for (setting, value) in [
        ("ssl_cert_file", cert.display().to_string()),
        ("ssl_key_file", key.display().to_string()),
        ("ssl", "on".to_owned()),
    ] {
        admin
            .batch_execute(&format!("ALTER SYSTEM SET {setting} = '{value}'"))
            .await
            .unwrap();
    }
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    let on = async || {
        let row = admin.query_one("SHOW ssl", &[]).await.unwrap();
        row.get::<_, String>(0) == "on"
    };
    assert!(crate::helpers::eventually(on).await, "ssl never came on");

    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    ca_file
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("milepost-tls-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[actix_web::test]
async fn sslmode_require_encrypts_every_connection_and_verifies_the_server() {
    let cluster = private_cluster();
    let dir = scratch_dir();
    let ca_file = serve_tls(cluster, &dir).await;
    let name = format!("tls_{:016x}", rand::random::<u64>());
    cluster.create_database(&name, None).await.unwrap();
    let url = cluster.url(&name);
    let with_ca = format!(
        "{url}?sslmode=require&sslrootcert={}",
        url::form_urlencoded::byte_serialize(ca_file.display().to_string().as_bytes())
            .collect::<String>()
    );

    // Without the CA, the certificate is from nobody the platform trusts: no connection.
    let untrusted =
        milepost::store::pool(&SecretString::from(format!("{url}?sslmode=require")), 2).unwrap();
    let Err(refused) = untrusted.get().await else {
        panic!("a connection to an unverified server");
    };
    let chain = milepost::error::chain(&refused);
    assert!(chain.contains("certificate"), "{chain}");

    // With it, the whole app runs over TLS: it migrates, warms, syncs and serves.
    let app = spawn_app_with(
        SimConfig {
            history_years: 1,
            ..Default::default()
        },
        |s| s.database_url = Some(SecretString::from(with_ca.clone())),
    )
    .await;
    app.connect_and_sync().await;
    assert_eq!(
        app.get("/strava/stats/ytd").await.status().as_u16(),
        200,
        "a read after a sync over TLS"
    );
    let admin = connect(&cluster.url("postgres")).await;
    let row = admin
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl)
             FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
             WHERE a.datname = $1 AND a.backend_type = 'client backend'",
            &[&name],
        )
        .await
        .unwrap();
    let (connections, encrypted): (i64, i64) = (row.get(0), row.get(1));
    assert!(connections > 0, "the app holds no connection to {name}");
    assert_eq!(encrypted, connections, "every connection is encrypted");

    let _ = std::fs::remove_dir_all(dir);
}
