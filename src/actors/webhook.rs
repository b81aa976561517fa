//! Webhook events, handled for the FetcherActor after the POST was answered. Events are
//! unsigned, so each is a hint confirmed with the athlete's own token before anything changes:
//! create/update fetch the activity, delete needs Strava's 404 for it, a deauthorization needs
//! Strava's 401 for the token. An event for another subscription or athlete costs nothing.

use chrono::Utc;
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::cache::{Forget, Ingest};
use super::fetcher::{SyncDeps, SyncError, SyncReport};
use super::token::{AccessToken, ConnectedAthlete, ForgetTokens, TokenError};
use crate::store;
use crate::strava::budget::{Priority, RequestKind};

/// A push event as Strava posts it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub object_type: String,
    pub object_id: i64,
    pub aspect_type: String,
    #[serde(default)]
    pub updates: serde_json::Value,
    pub owner_id: i64,
    pub subscription_id: i64,
    #[serde(default)]
    pub event_time: i64,
}

/// What an event led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not for our subscription or athlete, or of a kind we do not follow.
    Ignored,
    /// An activity was stored again or removed.
    ActivityChanged,
    /// A deauthorization Strava did not confirm (the token still works).
    Unconfirmed,
    /// The athlete revoked the app: everything of theirs is gone.
    Deauthorized,
}

pub(super) async fn handle(
    deps: &SyncDeps,
    configured_subscription: Option<i64>,
    keep_owner: bool,
    event: Event,
) -> Result<Outcome, SyncError> {
    let known = match configured_subscription {
        Some(id) => Some(id),
        None => {
            let db = deps.pool.get().await?;
            store::webhook_subscription(&db).await?
        }
    };
    if known != Some(event.subscription_id) {
        tracing::info!(
            subscription = event.subscription_id,
            "ignored an event for an unknown subscription"
        );
        return Ok(Outcome::Ignored);
    }
    if deps.token.ask(ConnectedAthlete).await?? != Some(event.owner_id) {
        tracing::info!(
            owner = event.owner_id,
            "ignored an event for an athlete not connected here"
        );
        return Ok(Outcome::Ignored);
    }
    match (event.object_type.as_str(), event.aspect_type.as_str()) {
        ("activity", "create" | "update" | "delete") => {
            activity_changed(deps, event.owner_id, event.object_id).await
        }
        ("athlete", "update")
            if event.updates.get("authorized").and_then(|v| v.as_str()) == Some("false") =>
        {
            deauthorized(deps, event.owner_id, keep_owner).await
        }
        _ => Ok(Outcome::Ignored),
    }
}

/// Whatever the event says, Strava's answer for the activity decides: stored as returned, or
/// removed on a 404.
async fn activity_changed(deps: &SyncDeps, athlete: i64, id: i64) -> Result<Outcome, SyncError> {
    let grant = deps.token.ask(AccessToken::default()).await??;
    let token = grant.token.expose_secret();
    let strava = &deps.gate.strava;
    let mut report = SyncReport::default();
    let fetched = deps
        .gate
        .call(
            "activities/{id}",
            RequestKind::Read,
            Priority::Interactive,
            &mut report,
            || strava.activity(id, token),
        )
        .await;
    let (activities, removed) = match fetched {
        Ok(activity) if activity.id == id => (vec![activity], Vec::new()),
        Ok(_) => return Ok(Outcome::Ignored),
        Err(SyncError::NotFound) => (Vec::new(), vec![id]),
        Err(e) => return Err(e),
    };
    deps.cache
        .ask(Ingest {
            athlete_id: athlete,
            activities,
            removed,
            stats: None,
            publish: Some(Utc::now()),
        })
        .await??;
    Ok(Outcome::ActivityChanged)
}

/// Confirms a deauthorization with Strava (the token must be refused), then forgets the
/// athlete.
async fn deauthorized(
    deps: &SyncDeps,
    athlete: i64,
    keep_owner: bool,
) -> Result<Outcome, SyncError> {
    let revoked = match deps.token.ask(AccessToken::default()).await? {
        Ok(grant) => {
            let token = grant.token.expose_secret();
            let strava = &deps.gate.strava;
            let mut report = SyncReport::default();
            match deps
                .gate
                .call(
                    "athlete",
                    RequestKind::Read,
                    Priority::Interactive,
                    &mut report,
                    || strava.athlete(token),
                )
                .await
            {
                Ok(_) => false,
                Err(SyncError::Unauthorized) => true,
                Err(e) => return Err(e),
            }
        }
        // The refresh token is dead too: Strava already refused us.
        Err(TokenError::ReauthorizationRequired) => true,
        Err(e) => return Err(e.into()),
    };
    if !revoked {
        tracing::warn!(
            athlete,
            "a deauthorization event Strava does not confirm; ignored"
        );
        return Ok(Outcome::Unconfirmed);
    }
    deps.cache
        .ask(Forget {
            athlete_id: athlete,
            keep_owner,
        })
        .await??;
    deps.token.ask(ForgetTokens).await?;
    tracing::info!(athlete, "the athlete revoked access; their data is deleted");
    Ok(Outcome::Deauthorized)
}

/// Reads Strava's athlete stats again and publishes them.
pub(super) async fn refresh_stats(deps: &SyncDeps) -> Result<(), SyncError> {
    let grant = deps.token.ask(AccessToken::default()).await??;
    let token = grant.token.expose_secret();
    let strava = &deps.gate.strava;
    let athlete = grant.athlete_id;
    let mut report = SyncReport::default();
    let stats = deps
        .gate
        .call(
            "athletes/{id}/stats",
            RequestKind::Read,
            Priority::Background,
            &mut report,
            || strava.athlete_stats(athlete, token),
        )
        .await?;
    deps.cache
        .ask(Ingest {
            athlete_id: athlete,
            activities: Vec::new(),
            removed: Vec::new(),
            stats: Some(stats),
            publish: Some(Utc::now()),
        })
        .await??;
    Ok(())
}
