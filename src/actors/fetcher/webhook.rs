//! Webhook event confirmation, for the FetcherActor after the POST was answered. Events are
//! unsigned, so each is a hint confirmed with the athlete's own token before anything changes:
//! create/update fetch the activity, delete needs Strava's 404 for it, a deauthorization needs
//! Strava's 401 for the token. An event for another subscription or athlete costs nothing.

use secrecy::ExposeSecret;
use serde::Deserialize;

use super::forget::forget_athlete;
use super::gate::{SyncDeps, SyncError, SyncReport};
use crate::actors::cache::Ingest;
use crate::actors::token::{AccessToken, ConnectedAthlete};
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

/// What an event asks to confirm: the key of the FetcherActor's pending set, so any number of
/// events for one activity cost one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// Fetch the activity: store what Strava returns, remove it on a 404.
    Activity(i64),
    /// Check that Strava refuses the athlete's token, then forget the athlete.
    Deauthorization,
}

/// An event worth confirming: what to confirm, for which athlete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Accepted {
    pub target: Target,
    pub athlete: i64,
}

/// Checks `events` against the known subscription and the connected athlete, with no Strava
/// call, and returns what is worth confirming. Both are looked up once for the batch whatever
/// the events say, so an event for an unknown subscription and one for another athlete cost
/// the same and look the same from outside.
pub(super) async fn screen(
    deps: &SyncDeps,
    configured_subscription: Option<i64>,
    events: Vec<Event>,
) -> Result<Vec<Option<Accepted>>, SyncError> {
    let known = match configured_subscription {
        Some(id) => Some(id),
        None => {
            let db = deps.pool.get().await?;
            store::webhook_subscription(&db).await?
        }
    };
    let connected = deps.token.ask(ConnectedAthlete).await??;
    Ok(events
        .iter()
        .map(|event| accept(known, connected, event))
        .collect())
}

fn accept(known: Option<i64>, connected: Option<i64>, event: &Event) -> Option<Accepted> {
    if known != Some(event.subscription_id) {
        tracing::info!(
            subscription = event.subscription_id,
            "ignored an event for an unknown subscription"
        );
        return None;
    }
    if connected != Some(event.owner_id) {
        tracing::info!(
            owner = event.owner_id,
            "ignored an event for an athlete not connected here"
        );
        return None;
    }
    let target = match (event.object_type.as_str(), event.aspect_type.as_str()) {
        ("activity", "create" | "update" | "delete") => Target::Activity(event.object_id),
        ("athlete", "update")
            if event.updates.get("authorized").and_then(|v| v.as_str()) == Some("false") =>
        {
            Target::Deauthorization
        }
        _ => return None,
    };
    Some(Accepted {
        target,
        athlete: event.owner_id,
    })
}

/// Confirms one pending target with Strava and applies what Strava says.
pub(super) async fn confirm(
    deps: &SyncDeps,
    accepted: Accepted,
) -> Result<EventOutcome, SyncError> {
    match accepted.target {
        Target::Activity(id) => activity_changed(deps, accepted.athlete, id).await,
        Target::Deauthorization => deauthorized(deps, accepted.athlete).await,
    }
}

/// Whatever the event says, Strava's answer for the activity decides: stored as returned, or
/// removed on a 404. An activity Strava returns for another athlete is ignored.
async fn activity_changed(
    deps: &SyncDeps,
    athlete: i64,
    id: i64,
) -> Result<EventOutcome, SyncError> {
    deps.gate.open(Priority::Confirmation).await?;
    let grant = deps.token.ask(AccessToken::default()).await??;
    if grant.athlete_id != athlete {
        // Another athlete connected since the event came.
        return Ok(EventOutcome::Ignored);
    }
    let token = grant.token.expose_secret();
    let strava = &deps.gate.strava;
    let mut report = SyncReport::default();
    let fetched = deps
        .gate
        .call(
            "activities/{id}",
            RequestKind::Read,
            Priority::Confirmation,
            &mut report,
            || strava.activity(id, token),
        )
        .await;
    let (activities, removed) = match fetched {
        Ok(owned) if owned.activity.id == id && owned.athlete_id == Some(athlete) => {
            (vec![owned.activity], Vec::new())
        }
        Ok(owned) => {
            tracing::warn!(
                activity = id,
                returned = owned.activity.id,
                owner = ?owned.athlete_id,
                "Strava returned an activity that is not the connected athlete's; ignored"
            );
            return Ok(EventOutcome::Ignored);
        }
        Err(SyncError::NotFound) => (Vec::new(), vec![id]),
        Err(e) => return Err(e),
    };
    deps.cache
        .ask(Ingest {
            removed,
            publish: Some(deps.clock.now()),
            publish_if_changed: true,
            ..Ingest::activities(athlete, activities)
        })
        .await??;
    Ok(EventOutcome::ActivityChanged)
}

/// Confirms a deauthorization with Strava, then forgets the athlete. Only a 401 from Strava
/// to a request made with a current access token confirms it: with no usable token (a dead
/// refresh token, Strava unreachable, the budget spent) nothing is deleted, and retention
/// removes the data should Strava never confirm it again. The owner lock stays: only the
/// operator's `disconnect` releases it.
async fn deauthorized(deps: &SyncDeps, athlete: i64) -> Result<EventOutcome, SyncError> {
    // An inactive app cannot confirm anything: the event waits for a probe.
    deps.gate.open(Priority::Confirmation).await?;
    let grant = match deps.token.ask(AccessToken::default()).await? {
        Ok(grant) if grant.athlete_id == athlete => grant,
        Ok(_) => return Ok(EventOutcome::Ignored),
        Err(e) => {
            tracing::warn!(
                athlete,
                error = &e as &dyn std::error::Error,
                "a deauthorization event that cannot be checked with a current token; nothing deleted"
            );
            return Ok(EventOutcome::Unconfirmed);
        }
    };
    let token = grant.token.expose_secret();
    let strava = &deps.gate.strava;
    let mut report = SyncReport::default();
    let checked = deps
        .gate
        .call(
            "athlete",
            RequestKind::Read,
            Priority::Confirmation,
            &mut report,
            || strava.athlete(token),
        )
        .await;
    match checked {
        Err(SyncError::Unauthorized) => {}
        Ok(_) => {
            tracing::warn!(
                athlete,
                "a deauthorization event Strava does not confirm; ignored"
            );
            return Ok(EventOutcome::Unconfirmed);
        }
        Err(e @ (SyncError::Mailbox(_) | SyncError::AppInactive(_))) => return Err(e),
        Err(e) => {
            tracing::warn!(
                athlete,
                error = &e as &dyn std::error::Error,
                "a deauthorization event Strava could not confirm now; nothing deleted"
            );
            return Ok(EventOutcome::Unconfirmed);
        }
    }
    forget_athlete(deps, athlete, true).await?;
    tracing::info!(athlete, "the athlete revoked access; their data is deleted");
    Ok(EventOutcome::Deauthorized)
}

/// Reads Strava's athlete stats again and publishes them.
pub(super) async fn refresh_stats(deps: &SyncDeps) -> Result<(), SyncError> {
    deps.gate.open(Priority::Background).await?;
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
