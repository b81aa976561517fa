//! Webhook event confirmation, for the FetcherActor after the POST was answered. Events are
//! unsigned, so each is a hint confirmed with the athlete's own token before anything changes:
//! create/update fetch the activity, delete needs Strava's 404 for it, a deauthorization needs
//! Strava's 401 for the token. An event for another subscription or athlete costs nothing.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Deserialize;

use super::forget::forget_athlete;
use super::gate::{SyncDeps, SyncError, SyncReport};
use crate::actors::cache::Ingest;
use crate::actors::token::AccessToken;
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

/// What an event asks to confirm: the key of the pending set (in Postgres and in the
/// leader's memory), so any number of events for one activity cost one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// Fetch the activity: store what Strava returns, remove it on a 404.
    Activity(i64),
    /// Check that Strava refuses the athlete's token, then forget the athlete.
    Deauthorization,
}

impl Target {
    /// Its key in the durable queue.
    pub fn key(self) -> String {
        match self {
            Self::Activity(id) => format!("activity:{id}"),
            Self::Deauthorization => "deauthorization".to_owned(),
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "deauthorization" => Some(Self::Deauthorization),
            _ => key
                .strip_prefix("activity:")
                .and_then(|id| id.parse().ok())
                .map(Self::Activity),
        }
    }
}

/// An event worth confirming: what to confirm, for which athlete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Accepted {
    pub target: Target,
    pub athlete: i64,
}

/// A confirmation to run: the target, its athlete, and the newest event it answers for (its
/// row in the queue goes once confirmed up to that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Confirmation {
    pub target: Target,
    pub athlete: i64,
    pub seq: i64,
}

/// The first retry of a confirmation that failed for a passing reason comes this long after
/// it; each later one waits twice as long as the one before, up to [`RETRY_AT_MOST`].
pub(super) const FIRST_RETRY: chrono::Duration = chrono::Duration::seconds(5);
/// The longest wait between two tries of one confirmation.
pub(super) const RETRY_AT_MOST: chrono::Duration = chrono::Duration::seconds(60);

/// How long a confirmation that has failed `failures` times waits before its next try.
pub(super) fn retry_after(failures: u32) -> chrono::Duration {
    let doublings = failures.saturating_sub(1).min(8);
    (FIRST_RETRY * 2i32.pow(doublings)).min(RETRY_AT_MOST)
}

/// The leader's pending confirmations, keyed by what they confirm: an event for a target
/// waiting already adds nothing; one that comes while its target is being confirmed has it
/// confirmed once more afterwards (Strava may have answered before the change). One that
/// failed for a passing reason stays, and waits out its backoff before it is tried again.
#[derive(Debug, Default)]
pub(super) struct PendingSet {
    /// Waiting, in order.
    waiting: VecDeque<Target>,
    entries: HashMap<Target, Entry>,
    running: usize,
    /// Failed, each with when it may be tried again.
    backing_off: Vec<(DateTime<Utc>, Target)>,
}

#[derive(Debug)]
struct Entry {
    athlete: i64,
    seq: i64,
    running: bool,
    again: bool,
    /// Tries that failed for a passing reason, in a row.
    failures: u32,
}

/// What [`PendingSet::offer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Offered {
    Queued,
    /// Pending already.
    Coalesced,
    /// At [`PendingSet::CAPACITY`] targets.
    Full,
}

impl PendingSet {
    /// Targets held at most (the durable queue holds as many).
    pub const CAPACITY: usize = store::queue::MAX_PENDING_EVENTS as usize;

    pub fn offer(&mut self, target: Target, athlete: i64, seq: i64) -> Offered {
        if let Some(entry) = self.entries.get_mut(&target) {
            entry.seq = entry.seq.max(seq);
            entry.athlete = athlete;
            if entry.running {
                entry.again = true;
            }
            return Offered::Coalesced;
        }
        if self.entries.len() >= Self::CAPACITY {
            return Offered::Full;
        }
        self.entries.insert(
            target,
            Entry {
                athlete,
                seq,
                running: false,
                again: false,
                failures: 0,
            },
        );
        match target {
            // A deauthorization goes first: it may make everything behind it moot.
            Target::Deauthorization => self.waiting.push_front(target),
            Target::Activity(_) => self.waiting.push_back(target),
        }
        Offered::Queued
    }

    /// The next confirmation to start, now running.
    pub fn start(&mut self) -> Option<Confirmation> {
        while let Some(target) = self.waiting.pop_front() {
            let Some(entry) = self.entries.get_mut(&target) else {
                continue;
            };
            entry.running = true;
            entry.again = false;
            self.running += 1;
            return Some(Confirmation {
                target,
                athlete: entry.athlete,
                seq: entry.seq,
            });
        }
        None
    }

    pub fn running(&self) -> usize {
        self.running
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A confirmation the budget deferred: first in line again.
    pub fn deferred(&mut self, target: Target) {
        if let Some(entry) = self.entries.get_mut(&target) {
            entry.running = false;
            entry.again = false;
            self.running = self.running.saturating_sub(1);
            self.waiting.push_front(target);
        }
    }

    /// A confirmation that ended: `true` when an event came meanwhile and the target waits to
    /// be confirmed again.
    pub fn finished(&mut self, target: Target) -> bool {
        let Some(entry) = self.entries.get_mut(&target) else {
            return false;
        };
        self.running = self.running.saturating_sub(1);
        if entry.again {
            entry.running = false;
            entry.again = false;
            self.waiting.push_back(target);
            return true;
        }
        self.entries.remove(&target);
        false
    }

    /// A confirmation that failed for a passing reason at `now`: it stays (and so does its row
    /// in the queue), to be tried again once its backoff has passed ([`Self::release_due`]);
    /// when that is.
    pub fn failed(&mut self, target: Target, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let entry = self.entries.get_mut(&target)?;
        entry.running = false;
        // the retry confirms whatever came meanwhile too
        entry.again = false;
        entry.failures = entry.failures.saturating_add(1);
        self.running = self.running.saturating_sub(1);
        let at = now + retry_after(entry.failures);
        self.backing_off.push((at, target));
        Some(at)
    }

    /// Confirmations whose backoff has passed at `now` wait in line again.
    pub fn release_due(&mut self, now: DateTime<Utc>) {
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.backing_off)
            .into_iter()
            .partition(|(at, _)| *at <= now);
        self.backing_off = later;
        for (_, target) in due {
            if self.entries.contains_key(&target) {
                self.waiting.push_back(target);
            }
        }
    }

    /// Whether a failed confirmation waits out its backoff.
    pub fn backing_off(&self) -> bool {
        !self.backing_off.is_empty()
    }

    /// Room for more targets.
    pub fn room(&self) -> usize {
        Self::CAPACITY.saturating_sub(self.entries.len())
    }

    /// Everything forgotten (this replica no longer leads; the queue keeps the rows).
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// How long the stored subscription id is believed before it is read again.
const SUBSCRIPTION_RECHECK: chrono::Duration = chrono::Duration::seconds(60);

/// The subscription whose events count, held in memory so that no event costs a Postgres
/// query: STRAVA_WEBHOOK_SUBSCRIPTION_ID, or else the id `milepost webhook subscribe` stored.
/// That command is another process, so the stored id is read again at most once a
/// [`SUBSCRIPTION_RECHECK`], and for the next batch after this server answered a subscription
/// check (the id is stored right after Strava's check succeeds).
#[derive(Debug, Clone)]
pub(super) struct KnownSubscription {
    pinned: Option<i64>,
    stored: Option<i64>,
    /// When `stored` was last read.
    read_at: DateTime<Utc>,
    /// A subscription check was answered since: read again for the next batch.
    checked: bool,
}

impl KnownSubscription {
    /// `stored` as read at `now` (start-up reads it once).
    pub fn new(pinned: Option<i64>, stored: Option<i64>, now: DateTime<Utc>) -> Self {
        Self {
            pinned,
            stored,
            read_at: now,
            checked: false,
        }
    }

    /// The subscription events must name.
    pub fn id(&self) -> Option<i64> {
        self.pinned.or(self.stored)
    }

    /// Whether the stored id is to be read before screening a batch at `now`; if so, a
    /// subscription check answered before this call is taken as read.
    pub fn begin_read(&mut self, now: DateTime<Utc>) -> bool {
        let stale = self.due(now);
        self.checked = false;
        stale
    }

    /// Whether the next batch at `now` is to read the stored id first.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.pinned.is_none()
            && (self.checked
                || now - self.read_at >= SUBSCRIPTION_RECHECK
                // the clock went back
                || now < self.read_at)
    }

    /// What reading at `now` found. A failed read keeps the id known before, and is tried
    /// again after the next [`SUBSCRIPTION_RECHECK`].
    pub fn read(&mut self, stored: Option<Option<i64>>, now: DateTime<Utc>) {
        if let Some(stored) = stored {
            self.stored = stored;
        }
        self.read_at = now;
    }

    /// A subscription check was answered: a new subscription may be stored soon.
    pub fn checked(&mut self) {
        self.checked = true;
    }
}

/// The stored subscription id, when `reread`, and the screened `events`.
pub(super) struct Screened {
    pub stored: Option<Result<Option<i64>, SyncError>>,
    pub accepted: Result<Vec<Option<Accepted>>, SyncError>,
}

/// Checks `events` against the subscription (`known`, or read from Postgres first when
/// `reread`) and the connected athlete (one read of the token rows), with no Strava call and
/// without asking the TokenActor, and returns what is worth confirming. The athlete is looked up once for the batch whatever the events say, so an event
/// for an unknown subscription and one for another athlete cost the same and look the same
/// from outside.
pub(super) async fn screen(
    deps: &SyncDeps,
    known: Option<i64>,
    reread: bool,
    events: Vec<Event>,
) -> Screened {
    let stored = if reread {
        Some(stored_subscription(deps).await)
    } else {
        None
    };
    // Only an unpinned id is read again: what was read is the id.
    let known = match &stored {
        Some(Ok(stored)) => *stored,
        _ => known,
    };
    let accepted = async {
        // Read where it is stored rather than asked of the TokenActor, which a token refresh
        // holds for as long as Strava takes to answer it: the event is answered without
        // waiting for one (a refresh locks the row, which a plain read does not wait for).
        let db = deps.pool.get().await?;
        let connected = store::connected_athlete(&db).await?;
        Ok(events
            .iter()
            .map(|event| accept(known, connected, event))
            .collect())
    }
    .await;
    Screened { stored, accepted }
}

async fn stored_subscription(deps: &SyncDeps) -> Result<Option<i64>, SyncError> {
    let db = deps.pool.get().await?;
    Ok(store::webhook_subscription(&db).await?)
}

fn accept(known: Option<i64>, connected: Option<i64>, event: &Event) -> Option<Accepted> {
    if known != Some(event.subscription_id) {
        tracing::debug!(
            subscription = event.subscription_id,
            "ignored an event for an unknown subscription"
        );
        return None;
    }
    if connected != Some(event.owner_id) {
        tracing::debug!(
            owner = event.owner_id,
            "ignored an event for an athlete not connected here"
        );
        return None;
    }
    let target = match (event.object_type.as_str(), event.aspect_type.as_str()) {
        // Strava's ids are positive; milepost's own (files without one) are not Strava's to
        // confirm or delete.
        ("activity", "create" | "update" | "delete") if event.object_id > 0 => {
            Target::Activity(event.object_id)
        }
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

/// Whether a confirmation that ended in `e` failed for a passing reason, and so is tried again
/// later rather than finished: Strava's 5xx, a timeout or a broken connection (the gate's own
/// retries spent), a token refresh that failed that way or could not be stored, a database
/// error, an actor that did not answer. Everything else is Strava's or the store's last word
/// on the event (no athlete connected, or one whose data was forgotten; a connection that needs
/// re-authorization; a 401 or another 4xx): the row goes, as with a confirmation that
/// succeeded. A refusal by the rate budget is neither: it is deferred to the window.
pub(super) fn passing(e: &SyncError) -> bool {
    use crate::actors::cache::CacheError;
    use crate::actors::token::TokenError;
    match e {
        SyncError::Strava(e) | SyncError::Token(TokenError::Strava(e)) => e.is_transient(),
        SyncError::Token(TokenError::Storage(_))
        | SyncError::Cache(CacheError::Storage(_) | CacheError::TimedOut)
        | SyncError::Storage(_)
        | SyncError::Mailbox(_)
        | SyncError::Stopped => true,
        _ => false,
    }
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
    let grant = match deps.token.ask(AccessToken::under(deps.fence())).await? {
        Ok(grant) => grant,
        Err(e) => return Err(deps.gate.token_refused(e, Priority::Confirmation).await),
    };
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
            ..Ingest::activities(athlete, activities).fenced(deps.fence())
        })
        .await??;
    Ok(EventOutcome::ActivityChanged)
}

/// Confirms a deauthorization with Strava, then forgets the athlete. Only a 401 from Strava
/// to a request made with a current access token confirms it: with no usable token (a dead
/// refresh token, or none) or Strava's word that the token works, nothing is deleted, and
/// retention removes the data should Strava never confirm it again. A check that failed for a
/// passing reason ([`passing`]) is made again later; one the budget refused, in its window; one
/// whose token refresh Strava refused because the app is inactive, at the next probe. The owner lock stays: only the
/// operator's `disconnect` releases it.
async fn deauthorized(deps: &SyncDeps, athlete: i64) -> Result<EventOutcome, SyncError> {
    // An inactive app cannot confirm anything: the event waits for a probe.
    deps.gate.open(Priority::Confirmation).await?;
    let grant = match deps.token.ask(AccessToken::under(deps.fence())).await? {
        Ok(grant) if grant.athlete_id == athlete => grant,
        Ok(_) => return Ok(EventOutcome::Ignored),
        Err(e) => match deps.gate.token_refused(e, Priority::Confirmation).await {
            // A refresh refused because the app is inactive waits for a probe; one that met
            // Strava's 5xx or a database error is checked again later.
            e @ SyncError::AppInactive(_) => return Err(e),
            e if passing(&e) => return Err(e),
            e => {
                tracing::warn!(
                    athlete,
                    error = &e as &dyn std::error::Error,
                    "a deauthorization event that cannot be checked with a current token; nothing deleted"
                );
                return Ok(EventOutcome::Unconfirmed);
            }
        },
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
        // Deferred to the budget's window, or checked again after a backoff.
        Err(e @ (SyncError::AppInactive(_) | SyncError::BudgetExhausted(_))) => return Err(e),
        Err(e) if passing(&e) => return Err(e),
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
    let grant = match deps.token.ask(AccessToken::under(deps.fence())).await? {
        Ok(grant) => grant,
        Err(e) => return Err(deps.gate.token_refused(e, Priority::Background).await),
    };
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
            ..Ingest::activities(athlete, Vec::new()).fenced(deps.fence())
        })
        .await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap() + chrono::Duration::seconds(secs)
    }

    #[test]
    fn the_stored_subscription_is_read_at_most_once_a_minute() {
        let mut known = KnownSubscription::new(None, None, at(0));
        assert_eq!(known.id(), None);
        assert!(!known.begin_read(at(1)));
        assert!(!known.begin_read(at(59)));
        assert!(known.begin_read(at(60)));
        known.read(Some(Some(7)), at(60));
        assert_eq!(known.id(), Some(7));
        assert!(!known.begin_read(at(100)));
        // a failed read keeps what was known, and waits another minute
        assert!(known.begin_read(at(120)));
        known.read(None, at(120));
        assert_eq!(known.id(), Some(7));
        assert!(!known.begin_read(at(121)));
        // a clock that went back reads again
        assert!(known.begin_read(at(0)));
    }

    #[test]
    fn a_subscription_check_makes_the_next_batch_read_again() {
        let mut known = KnownSubscription::new(None, None, at(0));
        known.checked();
        assert!(known.begin_read(at(1)));
        // a check answered while that read runs counts for the batch after it
        known.checked();
        known.read(Some(Some(7)), at(1));
        assert!(known.begin_read(at(2)));
        known.read(Some(Some(7)), at(2));
        assert!(!known.begin_read(at(3)));
    }

    #[test]
    fn a_target_key_reads_back() {
        for target in [Target::Activity(42), Target::Deauthorization] {
            assert_eq!(Target::from_key(&target.key()), Some(target));
        }
        assert_eq!(Target::from_key("activity:x"), None);
        assert_eq!(Target::from_key("athlete:1"), None);
    }

    #[test]
    fn events_for_a_waiting_target_add_nothing() {
        let mut set = PendingSet::default();
        assert_eq!(set.offer(Target::Activity(1), 7, 1), Offered::Queued);
        assert_eq!(set.offer(Target::Activity(1), 7, 5), Offered::Coalesced);
        let started = set.start().unwrap();
        // the newest event's seq: its row goes once this is confirmed
        assert_eq!(started.seq, 5);
        assert_eq!(set.start(), None);
        assert!(!set.finished(Target::Activity(1)));
        assert!(set.is_empty());
    }

    #[test]
    fn an_event_during_its_confirmation_confirms_the_target_again() {
        let mut set = PendingSet::default();
        set.offer(Target::Activity(1), 7, 1);
        set.start().unwrap();
        assert_eq!(set.offer(Target::Activity(1), 7, 2), Offered::Coalesced);
        assert_eq!(set.start(), None, "not twice at once");
        assert!(set.finished(Target::Activity(1)));
        let again = set.start().unwrap();
        assert_eq!((again.target, again.seq), (Target::Activity(1), 2));
        assert!(!set.finished(Target::Activity(1)));
        assert!(set.is_empty());
    }

    #[test]
    fn a_deferred_confirmation_goes_first_and_a_deauthorization_before_activities() {
        let mut set = PendingSet::default();
        set.offer(Target::Activity(1), 7, 1);
        set.offer(Target::Activity(2), 7, 2);
        set.offer(Target::Deauthorization, 7, 3);
        assert_eq!(set.start().unwrap().target, Target::Deauthorization);
        let first = set.start().unwrap();
        assert_eq!(first.target, Target::Activity(1));
        assert_eq!(set.running(), 2);
        set.deferred(first.target);
        assert_eq!(set.running(), 1);
        assert_eq!(set.start().unwrap().target, Target::Activity(1));
    }

    #[test]
    fn the_set_holds_at_most_its_capacity() {
        let mut set = PendingSet::default();
        for id in 0..PendingSet::CAPACITY as i64 {
            assert_eq!(set.offer(Target::Activity(id), 7, id), Offered::Queued);
        }
        assert_eq!(set.offer(Target::Activity(-1), 7, 0), Offered::Full);
        // a target held already still coalesces
        assert_eq!(set.offer(Target::Activity(0), 7, 9), Offered::Coalesced);
        set.clear();
        assert!(set.is_empty());
        assert_eq!(set.running(), 0);
    }

    #[test]
    fn retries_come_within_30_s_then_double_up_to_a_minute_apart() {
        let waits: Vec<i64> = (1..=7).map(|n| retry_after(n).num_seconds()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60, 60]);
        assert!(retry_after(1) <= chrono::Duration::seconds(30));
        assert_eq!(retry_after(u32::MAX), RETRY_AT_MOST);
    }

    #[test]
    fn a_confirmation_that_failed_for_a_passing_reason_is_kept_and_tried_after_its_backoff() {
        let mut set = PendingSet::default();
        set.offer(Target::Activity(1), 7, 1);
        set.offer(Target::Activity(2), 7, 2);
        let first = set.start().unwrap();
        assert_eq!(set.failed(first.target, at(0)), Some(at(5)));
        assert_eq!(set.running(), 0);
        assert_eq!(set.len(), 2, "kept");
        // an event meanwhile adds nothing: the retry confirms it too
        assert_eq!(set.offer(Target::Activity(1), 7, 3), Offered::Coalesced);
        assert_eq!(set.start().unwrap().target, Target::Activity(2));
        assert_eq!(set.start(), None, "not before its backoff");
        set.release_due(at(4));
        assert_eq!(set.start(), None);
        assert!(set.backing_off());
        set.release_due(at(5));
        assert!(!set.backing_off());
        let again = set.start().unwrap();
        assert_eq!((again.target, again.seq), (Target::Activity(1), 3));
        // the second failure in a row waits twice as long
        assert_eq!(set.failed(again.target, at(5)), Some(at(15)));
        set.release_due(at(15));
        set.start().unwrap();
        assert!(!set.finished(Target::Activity(1)));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn only_passing_failures_are_retried() {
        use crate::strava::StravaError;
        let server = StravaError::Status {
            status: 502,
            message: String::new(),
        };
        let refused = StravaError::Status {
            status: 400,
            message: String::new(),
        };
        assert!(passing(&SyncError::Strava(server.clone())));
        assert!(passing(&SyncError::Strava(StravaError::Timeout)));
        assert!(passing(&SyncError::Token(
            crate::actors::token::TokenError::Strava(server)
        )));
        assert!(passing(&SyncError::Mailbox(actix::MailboxError::Timeout)));
        assert!(passing(&SyncError::Storage(
            anyhow::anyhow!("connection reset").into()
        )));
        assert!(!passing(&SyncError::Strava(refused)));
        assert!(!passing(&SyncError::NotFound));
        assert!(!passing(&SyncError::Unauthorized));
        assert!(!passing(&SyncError::NotConnected));
        assert!(!passing(&SyncError::ReauthorizationRequired));
    }

    #[test]
    fn a_pinned_subscription_is_never_read() {
        let mut known = KnownSubscription::new(Some(5), Some(7), at(0));
        assert_eq!(known.id(), Some(5));
        known.checked();
        assert!(!known.begin_read(at(1_000)));
    }
}
