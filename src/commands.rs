//! Commands that run once and exit: `refresh`, `keys rotate` and `webhook subscribe|list|delete`.

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::actors::fetcher::RunSync;
use crate::config::Settings;
use crate::startup::{Services, strava_client};
use crate::store;
use crate::strava::budget::Priority;

/// One sync, then a one-line report.
pub async fn refresh(settings: &Settings, full: bool) -> anyhow::Result<String> {
    let services = Services::start(settings).await?;
    let report = services
        .fetcher
        .ask(RunSync {
            full,
            priority: Priority::Interactive,
        })
        .await??;
    Ok(format!(
        "refreshed: {} requests, {} activities fetched, {} stored",
        report.requests, report.activities_fetched, report.activities_stored
    ))
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
/// service must already answer there) and remembers its id.
pub async fn webhook_subscribe(settings: &Settings, callback_url: &str) -> anyhow::Result<String> {
    let verify_token: &SecretString = settings
        .strava_webhook_verify_token
        .as_ref()
        .context("set STRAVA_WEBHOOK_VERIFY_TOKEN: the service answers Strava's check with it")?;
    let pool = database(settings)?;
    store::migrate(&pool).await?;
    let subscription = strava_client(settings)?
        .create_push_subscription(callback_url, verify_token.expose_secret())
        .await
        .map_err(|f| anyhow::anyhow!("Strava refused the subscription: {}", f.error))?;
    let db = pool.get().await?;
    store::save_webhook_subscription(&db, subscription.id, &subscription.callback_url).await?;
    Ok(format!(
        "subscribed: {} {}",
        subscription.id, subscription.callback_url
    ))
}

/// One line per subscription: id, callback URL, created time.
pub async fn webhook_list(settings: &Settings) -> anyhow::Result<String> {
    let subscriptions = strava_client(settings)?
        .push_subscriptions()
        .await
        .map_err(|f| anyhow::anyhow!("Strava refused to list subscriptions: {}", f.error))?;
    Ok(subscriptions
        .iter()
        .map(|s| format!("{} {} {}", s.id, s.callback_url, s.created_at))
        .collect::<Vec<_>>()
        .join("\n"))
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
