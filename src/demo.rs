//! `milepost demo`: the embedded default. A private Postgres cluster under the data directory
//! (unless DATABASE_URL is set), the built-in Strava simulator, its athlete connected through
//! the real OAuth routes, and the API on port 5001. Ctrl-C stops everything.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use reqwest::header;
use secrecy::SecretString;

use crate::config::Settings;
use crate::pg::{PgCluster, cluster_dir_for};
use crate::simulator::{SimConfig, Simulator};
use crate::startup::Application;

/// How long the demo waits for the first sync before printing the URLs anyway.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(60);

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    crate::strava::client::install_tls_provider();
    let cluster = match settings.database_url() {
        Some(_) => None,
        None => {
            let dir = cluster_dir_for(&settings.milepost_data_dir)?;
            println!(
                "Starting a private PostgreSQL cluster in {} …",
                dir.display()
            );
            let cluster = PgCluster::start(&dir, false).await?;
            cluster.stop_when_process_exits(std::process::id())?;
            cluster.create_database("milepost", None).await?;
            settings.database_url = Some(SecretString::from(cluster.url("milepost")));
            Some(cluster)
        }
    };
    let result = serve_demo(settings).await;
    if let Some(cluster) = cluster {
        cluster.stop().await?;
    }
    result
}

async fn serve_demo(mut settings: Settings) -> anyhow::Result<()> {
    let mut sim_config = SimConfig::default();
    if let Some(activities) = settings.milepost_demo_activities {
        // The generated athlete does about 250 a year.
        sim_config.history_years = activities.div_ceil(250).max(1);
    }
    let sim = Simulator::start(
        sim_config.clone(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    )
    .await
    .context("starting the Strava simulator")?;
    if std::env::var_os("BIND_ADDR").is_none() {
        settings.bind_addr = Ipv4Addr::LOCALHOST.to_string();
    }
    settings.strava_api_base_url = sim.api_base_url();
    settings.strava_oauth_base_url = sim.oauth_base_url();
    settings.strava_client_id = Some(sim_config.client_id.clone());
    settings.strava_client_secret = Some(SecretString::from(sim_config.client_secret.clone()));
    settings.strava_redirect_uri = Some(format!(
        "http://localhost:{}/strava/callback",
        settings.port
    ));

    let drain_for = Duration::from_secs(settings.shutdown_drain_secs);
    let app = Application::build(settings).await?;
    let port = app.port();
    let handle = app.handle();
    let drain = app.drain();
    let services = app.services().clone();
    let server = actix_web::rt::spawn(app.run_until_stopped());

    let outcome = async {
        let base = format!("http://127.0.0.1:{port}");
        connect_athlete(&base).await?;
        wait_for_first_sync(&base).await;
        print_urls(port, &sim);
        shutdown_signal().await;
        anyhow::Ok(())
    }
    .await;

    println!("\nStopping …");
    drain.stop_server(&handle, drain_for).await;
    let _ = server.await;
    // Stop the actors and close our connections before the cluster goes away under them.
    services.shutdown().await;
    services.pool.close();
    sim.stop().await;
    outcome
}

/// Walks the real OAuth flow as a browser would: authorize → Strava (the simulator) → callback.
async fn connect_athlete(base: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let authorize = http.get(format!("{base}/strava/authorize")).send().await?;
    let cookie = authorize
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("/strava/authorize set no state cookie")?
        .to_owned();
    let strava = location(&authorize).context("/strava/authorize did not redirect")?;
    let consent = http.get(strava).send().await?;
    let callback = location(&consent).context("the simulator did not redirect back")?;
    // The redirect URI names localhost; talk to the bound address the same way.
    let callback = callback.replacen("http://localhost:", "http://127.0.0.1:", 1);
    let done = http
        .get(callback)
        .header(header::COOKIE, cookie)
        .send()
        .await?;
    let landed = location(&done).unwrap_or_default();
    anyhow::ensure!(
        landed.ends_with("strava=success"),
        "connecting the simulated athlete failed: {} {}",
        done.status(),
        done.text().await.unwrap_or_default()
    );
    Ok(())
}

fn location(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(header::LOCATION)?
        .to_str()
        .ok()
        .map(str::to_owned)
}

async fn wait_for_first_sync(base: &str) {
    let url = format!("{base}/strava/stats/monthly");
    let deadline = tokio::time::Instant::now() + FIRST_SYNC_WAIT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("The first sync is taking long; the stats will appear when it is done.");
}

fn print_urls(port: u16, sim: &Simulator) {
    let base = format!("http://localhost:{port}");
    println!(
        "\nmilepost is running with a simulated Strava athlete ({}).\n",
        sim.base_url()
    );
    println!("  open {base}/ (the status page) and {base}/strava/docs\n");
    for path in [
        "/strava/health",
        "/strava/stats/ytd",
        "/strava/stats/activities",
        "/strava/stats/monthly",
        "/strava/stats/monthly?type=Run",
        "/strava/stats/totals",
        "/strava/stats/yearly",
        "/strava/stats/longest-run",
        "/strava/stats/weekly",
        "/strava/stats/streaks",
        "/strava/stats/eddington",
        "/strava/cards/calendar.svg?theme=dark",
        "/strava/activities?limit=5",
        "/metrics",
    ] {
        println!("  curl {base}{path}");
    }
    println!("\nPress Ctrl-C to stop.");
}
