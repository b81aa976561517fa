//! Commands that run once and exit: `refresh`, `import`, `keys rotate` and `webhook
//! subscribe|list|delete`.

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::actors::fetcher::{RunSync, SyncError};
use crate::config::Settings;
use crate::startup::{Services, strava_client};
use crate::store;
use crate::strava::budget::Priority;
use crate::strava::standing::OWNER_MUST_REACTIVATE;

/// One sync, then a one-line report.
pub async fn refresh(settings: &Settings, full: bool) -> anyhow::Result<String> {
    let services = Services::start(settings).await?;
    let report = match services
        .fetcher
        .ask(RunSync {
            full,
            priority: Priority::Interactive,
        })
        .await?
    {
        Ok(report) => report,
        // What the owner must do, as refresh-data says it: nothing here can fix it.
        Err(SyncError::AppInactive(_)) => anyhow::bail!(OWNER_MUST_REACTIVATE),
        Err(e) => return Err(e.into()),
    };
    Ok(format!(
        "refreshed: {} requests, {} activities fetched, {} stored",
        report.requests, report.activities_fetched, report.activities_stored
    ))
}

/// `milepost import`'s arguments.
#[derive(Debug)]
pub struct ImportArgs {
    pub paths: Vec<std::path::PathBuf>,
    pub dry_run: bool,
    pub json: bool,
    pub visibility: Option<crate::import::Visibility>,
    pub forget: bool,
}

/// The exit statuses of `milepost import` (SPEC §11).
const IMPORTED: u8 = 0;
const SOME_REFUSED: u8 = 1;
const NOTHING_READ: u8 = 2;

/// `milepost import`: the same ImportActor the server runs, in this process, against the same
/// database; a running server serves the result as soon as it hears of the new generation.
/// Standard output holds the summary (one JSON object with `--json`); progress and logs go to
/// standard error.
pub async fn import(args: ImportArgs) -> std::process::ExitCode {
    let code = match import_run(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("milepost import: {e:#}");
            NOTHING_READ
        }
    };
    std::process::ExitCode::from(code)
}

async fn import_run(args: &ImportArgs) -> anyhow::Result<u8> {
    use crate::actors::importer::{ForgetImports, StartImport};

    let settings = Settings::load().context("reading configuration")?;
    crate::telemetry::init_on_stderr(settings.log_format);
    let mut settings = settings.finish()?;
    // The server watches IMPORT_DIR; this process imports what it was given, nothing more.
    settings.import_dir = None;
    let services = Services::start(&settings).await?;
    if args.forget {
        let deleted = services.importer.ask(ForgetImports).await??;
        if args.json {
            println!("{}", serde_json::json!({ "deleted": deleted }));
        } else {
            println!("deleted {deleted} imported activities");
        }
        services.shutdown().await;
        return Ok(IMPORTED);
    }
    let inputs = args
        .paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("{}", p.display())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut job = services
        .importer
        .ask(StartImport {
            inputs,
            dry_run: args.dry_run,
            visibility: args.visibility,
            ..StartImport::default()
        })
        .await??;
    let mut shown = ProgressShown::new();
    let outcome = loop {
        let progress = job.progress.borrow_and_update().clone();
        if let Some(outcome) = progress.outcome {
            shown.finish();
            break outcome;
        }
        shown.show(progress.files_done, progress.files_total);
        if job.progress.changed().await.is_err() {
            break Err("the import stopped without an outcome".to_owned());
        }
    };
    services.shutdown().await;
    let summary = outcome.map_err(|e| anyhow::anyhow!(e))?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        for line in summary.lines(args.dry_run) {
            println!("{line}");
        }
    }
    Ok(if summary.refused.is_empty() {
        IMPORTED
    } else {
        SOME_REFUSED
    })
}

/// Progress on standard error: a bar on a terminal, otherwise a line at each tenth.
struct ProgressShown {
    bar: Option<indicatif::ProgressBar>,
    tenths: u64,
}

impl ProgressShown {
    fn new() -> Self {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} files  {per_sec}  {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Self { bar, tenths: 0 }
    }

    fn show(&mut self, done: u64, total: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            None if total > 0 => {
                let tenths = done.saturating_mul(10) / total;
                if tenths > self.tenths {
                    self.tenths = tenths;
                    eprintln!("import: {}% ({done}/{total} files)", tenths * 10);
                }
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Re-encrypts every stored token under the current ENCRYPTION_KEY (the old key must be in
/// ENCRYPTION_KEYS_PREVIOUS), in one transaction holding the rows it rewrites: a refresh that
/// commits a rotated token meanwhile waits for it, and is never overwritten by an older read.
pub async fn keys_rotate(settings: &Settings) -> anyhow::Result<String> {
    let current = settings.encryption_key.as_ref().context(
        "set ENCRYPTION_KEY to the new key and ENCRYPTION_KEYS_PREVIOUS to the old ones",
    )?;
    let cipher = crate::crypto::TokenCipher::new(current, &settings.previous_encryption_keys());
    let pool = database(settings)?;
    store::migrate(&pool).await?;
    let mut db = pool.get().await?;
    let tx = db.transaction().await?;
    let mut rotated = 0;
    for mut row in store::lock_all_tokens(&tx).await? {
        if cipher.is_current(&row.access_token) && cipher.is_current(&row.refresh_token) {
            continue;
        }
        for (field, value) in [
            ("access_token", &mut row.access_token),
            ("refresh_token", &mut row.refresh_token),
        ] {
            let plain = cipher.decrypt(value, row.athlete_id, field).map_err(|_| {
                anyhow::anyhow!(
                    "a stored {field} decrypts under none of the configured keys: add its key to ENCRYPTION_KEYS_PREVIOUS"
                )
            })?;
            *value = cipher.encrypt(plain.expose_secret(), row.athlete_id, field);
        }
        store::update_tokens(&tx, &row).await?;
        rotated += 1;
    }
    tx.commit().await?;
    Ok(format!(
        "re-encrypted the tokens of {rotated} athlete(s) under key {}",
        cipher.current_key_id()
    ))
}

fn database(settings: &Settings) -> anyhow::Result<deadpool_postgres::Pool> {
    let url = settings
        .database_url()
        .context("set DATABASE_URL (or the POSTGRES_* variables)")?;
    store::pool(&url, 2)
}

/// Creates the app's push subscription (Strava checks `callback_url` during the call, so the
/// service must already answer there) and remembers its id. With STRAVA_WEBHOOK_SECRET, Strava
/// is given `<callback_url>/<secret>`, the only path where the service takes events.
pub async fn webhook_subscribe(settings: &Settings, callback_url: &str) -> anyhow::Result<String> {
    let verify_token: &SecretString = settings
        .strava_webhook_verify_token
        .as_ref()
        .context("set STRAVA_WEBHOOK_VERIFY_TOKEN: the service answers Strava's check with it")?;
    let callback = match &settings.strava_webhook_secret {
        Some(secret) => SecretString::from(format!(
            "{}/{}",
            callback_url.trim_end_matches('/'),
            secret.expose_secret()
        )),
        None => SecretString::from(callback_url.to_owned()),
    };
    let pool = database(settings)?;
    store::migrate(&pool).await?;
    let subscription = strava_client(settings)?
        .create_push_subscription(callback.expose_secret(), verify_token.expose_secret())
        .await
        .map_err(|f| anyhow::anyhow!("Strava refused the subscription: {}", f.error))?;
    let shown = masked_callback(&subscription.callback_url);
    let db = pool.get().await?;
    // Stored as shown: the secret lives in the configuration only.
    store::save_webhook_subscription(&db, subscription.id, &shown).await?;
    Ok(format!("subscribed: {} {shown}", subscription.id))
}

/// One line per subscription: id, callback URL (any secret segment shown as `…`), created time.
pub async fn webhook_list(settings: &Settings) -> anyhow::Result<String> {
    let subscriptions = strava_client(settings)?
        .push_subscriptions()
        .await
        .map_err(|f| anyhow::anyhow!("Strava refused to list subscriptions: {}", f.error))?;
    Ok(subscriptions
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s.id,
                masked_callback(&s.callback_url),
                s.created_at
            )
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// A callback URL fit to print: every path segment after `webhook` (where STRAVA_WEBHOOK_SECRET
/// goes, whether it is the current one or not) and any query shown as `…`.
pub fn masked_callback(url: &str) -> String {
    let (url, query) = match url.split_once(['?', '#']) {
        Some((url, _)) => (url, "?…"),
        None => (url, ""),
    };
    let path_start = url
        .find("://")
        .and_then(|scheme| url[scheme + 3..].find('/').map(|p| scheme + 3 + p))
        .unwrap_or(url.len());
    let (origin, path) = url.split_at(path_start);
    let mut after_webhook = false;
    let path: Vec<&str> = path
        .split('/')
        .map(|segment| {
            let shown = if after_webhook && !segment.is_empty() {
                "…"
            } else {
                segment
            };
            after_webhook |= segment == "webhook";
            shown
        })
        .collect();
    format!("{origin}{}{query}", path.join("/"))
}

/// Deletes a subscription at Strava and forgets it here.
pub async fn webhook_delete(settings: &Settings, id: i64) -> anyhow::Result<String> {
    strava_client(settings)?
        .delete_push_subscription(id)
        .await
        .map_err(|f| anyhow::anyhow!("Strava refused to delete subscription {id}: {}", f.error))?;
    let pool = database(settings)?;
    store::migrate(&pool).await?;
    store::delete_webhook_subscription(&pool.get().await?, id).await?;
    Ok(format!("deleted: {id}"))
}

#[cfg(test)]
mod tests {
    use super::masked_callback;

    #[test]
    fn a_callback_is_shown_without_its_secret_segment() {
        for (url, shown) in [
            (
                "https://api.example.com/strava/webhook",
                "https://api.example.com/strava/webhook",
            ),
            (
                "https://api.example.com/strava/webhook/0123456789abcdef0123456789",
                "https://api.example.com/strava/webhook/…",
            ),
            (
                "https://api.example.com/v1/strava/webhook/s3cr3t/",
                "https://api.example.com/v1/strava/webhook/…/",
            ),
            (
                "http://127.0.0.1:5001/strava/webhook/s3cr3t?x=s3cr3t",
                "http://127.0.0.1:5001/strava/webhook/…?…",
            ),
            ("https://hooks.example.com", "https://hooks.example.com"),
        ] {
            assert_eq!(masked_callback(url), shown, "{url}");
        }
    }
}
