//! `milepost`: parse the command line, load configuration, start logging, run the command.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use milepost::cli::{Cli, Command, KeysAction, SimAction, WebhookAction};
use milepost::config::Settings;
use milepost::startup::Application;
use milepost::{commands, demo, simulator, store, telemetry};

#[actix_web::main]
async fn main() -> ExitCode {
    // A `.env` beside the binary's working directory is honoured, as the old service's was.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Import {
        paths,
        dry_run,
        json,
        visibility,
        forget,
    } = command
    {
        let args = commands::ImportArgs {
            paths,
            dry_run,
            json,
            visibility,
            forget,
        };
        return commands::import(args).await;
    }
    match run(command).await {
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
        Command::Refresh { full } => {
            println!("{}", commands::refresh(&settings.finish()?, full).await?);
            Ok(())
        }
        Command::Keys {
            action: KeysAction::Rotate,
        } => {
            println!("{}", commands::keys_rotate(&settings).await?);
            Ok(())
        }
        Command::Webhook { action } => {
            let out = match action {
                WebhookAction::Subscribe { callback_url } => {
                    commands::webhook_subscribe(&settings, &callback_url).await?
                }
                WebhookAction::List => commands::webhook_list(&settings).await?,
                WebhookAction::Delete { id } => commands::webhook_delete(&settings, id).await?,
            };
            println!("{out}");
            Ok(())
        }
        // Run by `main` itself, which gives it its own exit statuses and logs on stderr.
        Command::Import { .. } => anyhow::bail!("milepost import runs on its own"),
        Command::Migrate => {
            let url = settings
                .database_url()
                .context("set DATABASE_URL (or the POSTGRES_* variables)")?;
            store::migrate(&store::pool(&url, 2)?).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Sim { port, action: None } => {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            simulator::run(simulator::SimConfig::default(), addr)
                .await
                .context("running the simulator")
        }
        Command::Sim {
            action:
                Some(SimAction::Export {
                    out,
                    public_only,
                    activities,
                }),
            ..
        } => {
            let options = simulator::ExportOptions { public_only };
            let mut config = simulator::SimConfig::default();
            if let Some(activities) = activities {
                // The generated athlete does about 250 a year, as in `milepost demo`.
                config.history_years = activities.div_ceil(250).max(1);
            }
            println!("{}", simulator::run_export(&config, &out, &options)?);
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let drain_for = Duration::from_secs(settings.shutdown_drain_secs);
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "milepost listening");
    let handle = app.handle();
    let drain = app.drain();
    let services = app.services().clone();
    actix_web::rt::spawn(async move {
        demo::shutdown_signal().await;
        drain.stop_server(&handle, drain_for).await;
    });
    app.run_until_stopped().await?;
    services.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
