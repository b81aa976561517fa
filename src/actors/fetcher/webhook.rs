//! Webhook event confirmation, for the FetcherActor after the POST was answered. Events are
//! unsigned, so each is a hint confirmed with the athlete's own token before anything changes:
//! create/update fetch the activity, delete needs Strava's 404 for it, a deauthorization needs
//! Strava's 401 for the token. An event for another subscription or athlete costs nothing.

use secrecy::ExposeSecret;
use serde::Deserialize;

use super::forget::forget_athlete;
use super::gate::{SyncDeps, SyncError, SyncReport};
use crate::actors::cache::Ingest;
use crate::actors::token::{AccessToken, ConnectedAthlete, TokenError};
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
pub enum EventOutcome {
    /// Not for our subscription or athlete, or of a kind we do not follow.
    Ignored,
    /// An activity was stored again or removed.
    ActivityChanged,
    /// A deauthorization Strava did not confirm (the token still works).
    Unconfirmed,
    /// The athlete revoked the app: everything of theirs is gone.
    Deauthorized,
}

impl EventOutcome {
    /// The `outcome` label of the events counter.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ignored => "ignored",
            Self::ActivityChanged => "changed",
            Self::Unconfirmed => "unconfirmed",
            Self::Deauthorized => "deauthorized",
        }
    }
}

/// Confirms `event` with Strava and applies what Strava says.
pub(super) async fn confirm(
    deps: &SyncDeps,
    configured_subscription: Option<i64>,
    keep_owner: bool,
    event: Event,
) -> Result<EventOutcome, SyncError> {
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
        return Ok(EventOutcome::Ignored);
    }
    if deps.token.ask(ConnectedAthlete).await?? != Some(event.owner_id) {
        tracing::info!(
            owner = event.owner_id,
            "ignored an event for an athlete not connected here"
        );
        return Ok(EventOutcome::Ignored);
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
        _ => Ok(EventOutcome::Ignored),
    }
}

/// Whatever the event says, Strava's answer for the activity decides: stored as returned, or
/// removed on a 404.
async fn activity_changed(
    deps: &SyncDeps,
    athlete: i64,
    id: i64,
) -> Result<EventOutcome, SyncError> {
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
        Ok(_) => return Ok(EventOutcome::Ignored),
        Err(SyncError::NotFound) => (Vec::new(), vec![id]),
        Err(e) => return Err(e),
    };
    deps.cache
        .ask(Ingest {
            removed,
            publish: Some(deps.clock.now()),
            ..Ingest::activities(athlete, activities)
        })
        .await??;
    Ok(EventOutcome::ActivityChanged)
}

/// Confirms a deauthorization with Strava (the token must be refused), then forgets the
/// athlete.
async fn deauthorized(
    deps: &SyncDeps,
    athlete: i64,
    keep_owner: bool,
) -> Result<EventOutcome, SyncError> {
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
        return Ok(EventOutcome::Unconfirmed);
    }
    forget_athlete(deps, athlete, keep_owner).await?;
    tracing::info!(athlete, "the athlete revoked access; their data is deleted");
    Ok(EventOutcome::Deauthorized)
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
            stats: Some(stats),
            publish: Some(deps.clock.now()),
            ..Ingest::activities(athlete, Vec::new())
        })
        .await??;
    Ok(())
}
