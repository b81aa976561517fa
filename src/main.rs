//! `milepost`: parse the command line, load configuration, start logging, run the command.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use milepost::cli::{Cli, Command};
use milepost::config::Settings;
use milepost::startup::{Application, Services};
use milepost::strava::budget::Priority;
use milepost::{demo, simulator, store, telemetry};

#[actix_web::main]
async fn main() -> ExitCode {
    // A `.env` beside the binary's working directory is honoured, as the old service's was.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli.command.unwrap_or(Command::Serve)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("milepost: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let settings = Settings::load().context("reading configuration")?;
    telemetry::init(settings.log_format);
    match command {
        Command::Serve => serve(settings.finish()?).await,
        Command::Demo => demo::run(settings.finish()?).await,
        Command::Refresh { full } => refresh(settings.finish()?, full).await,
        Command::Migrate => {
            let url = settings
                .database_url()
                .context("set DATABASE_URL (or the POSTGRES_* variables)")?;
            store::migrate(&store::pool(&url, 2)?).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Sim { port } => {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            simulator::run(simulator::SimConfig::default(), addr)
                .await
                .context("running the simulator")
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "milepost listening");
    let handle = app.handle();
    actix_web::rt::spawn(async move {
        demo::shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        handle.stop(true).await;
    });
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn refresh(settings: Settings, full: bool) -> anyhow::Result<()> {
    let services = Services::start(&settings).await?;
    let report = services
        .fetcher
        .ask(milepost::actors::fetcher::Sync {
            full,
            priority: Priority::Interactive,
        })
        .await??;
    tracing::info!(?report, "refresh done");
    println!(
        "refreshed: {} requests, {} activities fetched, {} stored",
        report.requests, report.activities_fetched, report.activities_stored
    );
    Ok(())
}
