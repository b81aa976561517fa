//! The sync plans: the resumable backfill (every page until an empty one), the steady-state
//! refresh (athlete stats and about a day of activities), and the reconciliation (a full
//! re-list that removes what Strava no longer has). Every call goes through the [`Gate`];
//! everything fetched goes to the CacheActor in [`Ingest`] messages. When the steady-state
//! refresh may stop paging is the pure [`PageStop`] rule.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use secrecy::ExposeSecret;

use super::gate::{SyncDeps, SyncError, SyncReport};
use crate::actors::cache::Ingest;
use crate::actors::token::AccessToken;
use crate::store;
use crate::strava::budget::{Priority, RequestKind};

/// Strava's largest page.
pub const PAGE_SIZE: u32 = 200;
/// The steady-state refresh looks back this far before the newest stored activity.
const OVERLAP: Duration = Duration::days(1);

/// When a page ends the steady-state refresh.
///
/// Strava may send short pages before the end of a list (it hides activities after cutting
/// the page), so a backfill stops only on an empty page. The refresh asks for about a day of
/// activities; a page ends it when it is short, every activity already stored for the window
/// has been listed, and it brought nothing new: so a quiet hour costs two calls. A server that
/// has sent full pages (Strava's short pages come from hiding, and a day is far less than a
/// page) may also end it with a short first page that brings new activities; a server that
/// cuts its pages shorter is paged until a page brings nothing new.
#[derive(Debug, Clone)]
pub struct PageStop {
    /// Activities stored for the window before the refresh.
    known: usize,
    /// How many of those the pages so far listed.
    known_seen: usize,
    /// Pages shorter than this may be the last.
    short_below: usize,
    /// The server has been seen to send full pages.
    full_pages: bool,
}

impl PageStop {
    /// `largest_page` is the largest page the server ever sent (0: none yet); `known` how many
    /// activities are stored for the refresh window.
    pub fn new(largest_page: usize, known: usize) -> Self {
        let page = PAGE_SIZE as usize;
        Self {
            known,
            known_seen: 0,
            short_below: match largest_page {
                0 => page,
                n => n.min(page),
            },
            full_pages: largest_page >= page,
        }
    }

    /// Takes page `number` (from 1) of `count` activities, `already_known` of them stored
    /// before: does the refresh end with it? (An empty page always ends it.)
    pub fn ends_with(&mut self, number: u32, count: usize, already_known: usize) -> bool {
        if count == 0 {
            return true;
        }
        self.known_seen += already_known;
        let brought_new = already_known < count;
        count < self.short_below
            && self.known_seen >= self.known
            && (!brought_new || (number == 1 && self.full_pages))
    }
}

/// One sync: athlete stats, then either the (resumable) backfill or the activities since the
/// newest stored one, then every body derived again in one write. A full sync is the
/// reconciliation.
#[tracing::instrument(name = "sync", skip(deps))]
pub async fn run(deps: SyncDeps, full: bool, priority: Priority) -> Result<SyncReport, SyncError> {
    // An inactive app: nothing to ask Strava (not even a token refresh) unless a probe is due.
    deps.gate.open(priority).await?;
    let started = Instant::now();
    let started_at = deps.clock.now();
    let mut force_refresh = false;
    let (athlete, result) = loop {
        let asked = AccessToken {
            force_refresh,
            fence: deps.fence().cloned(),
        };
        let grant = match deps.token.ask(asked).await? {
            Ok(grant) => grant,
            Err(e) => return Err(deps.gate.token_refused(e, priority).await),
        };
        let token = grant.token.expose_secret();
        let result = sync_athlete(&deps, grant.athlete_id, token, full, priority, started_at).await;
        match result {
            // Strava refused a token we thought good: refresh it once. A revoked connection
            // shows here as a dead refresh token (reauthorization_required).
            Err(SyncError::Unauthorized) if !force_refresh => {
                tracing::warn!("Strava refused the access token; refreshing it");
                force_refresh = true;
            }
            result => break (grant.athlete_id, result),
        }
    };
    let error = result
        .as_ref()
        .err()
        .map(|e| crate::error::chain(e as &dyn std::error::Error));
    let recorded = async {
        let mut db = deps.pool.get().await?;
        let tx = store::fenced(&mut db, deps.fence()).await?;
        // The time the published bodies carry as fetched_at, so deriving them again from
        // what is stored gives the same bodies.
        store::record_sync_result(&tx, athlete, error.as_deref(), started_at).await?;
        tx.commit().await?;
        anyhow::Ok(())
    };
    if let Err(e) = recorded.await {
        tracing::warn!(error = %format!("{e:#}"), "could not record the sync result");
    }
    let metrics = &deps.gate.metrics;
    metrics
        .sync_seconds
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        metrics.last_sync_success.set(deps.clock.now().timestamp());
    }
    result
}

async fn sync_athlete(
    deps: &SyncDeps,
    athlete: i64,
    token: &str,
    full: bool,
    priority: Priority,
    started_at: DateTime<Utc>,
) -> Result<SyncReport, SyncError> {
    let strava = &deps.gate.strava;
    let mut report = SyncReport::default();
    let stats = deps
        .gate
        .call(
            "athletes/{id}/stats",
            RequestKind::Read,
            priority,
            &mut report,
            || strava.athlete_stats(athlete, token),
        )
        .await?;

    let (state, newest) = {
        let db = deps.pool.get().await?;
        (
            store::sync_state(&db, athlete).await?,
            store::newest_start(&db, athlete).await?,
        )
    };
    let backfill = full || !state.backfill_done || newest.is_none();
    let mut page = if backfill && !full {
        u32::try_from(state.backfill_next_page.max(1)).unwrap_or(1)
    } else {
        1
    };
    let since = newest.filter(|_| !backfill).map(|t| t - OVERLAP);
    let known = match since {
        Some(since) => {
            let db = deps.pool.get().await?;
            store::activity_ids_since(&db, athlete, since).await?
        }
        None => HashSet::new(),
    };
    let mut stop = PageStop::new(
        usize::try_from(state.largest_page).unwrap_or(0),
        known.len(),
    );
    let mut largest = 0;
    // A full re-list also finds what Strava no longer has (reconciliation).
    let mut listed = HashSet::new();
    loop {
        let activities = deps
            .gate
            .call(
                "athlete/activities",
                RequestKind::Read,
                priority,
                &mut report,
                || {
                    strava.activities_page(
                        token,
                        page,
                        PAGE_SIZE,
                        since.map(|t| t.timestamp()),
                        None,
                    )
                },
            )
            .await?;
        let count = activities.len();
        if count == 0 {
            break;
        }
        largest = largest.max(count);
        report.activities_fetched += count;
        let already_known = activities.iter().filter(|a| known.contains(&a.id)).count();
        if full {
            listed.extend(activities.iter().map(|a| a.id));
        }
        deps.cache
            .ask(Ingest::activities(athlete, activities).fenced(deps.fence()))
            .await??;
        if backfill {
            let mut db = deps.pool.get().await?;
            let tx = store::fenced(&mut db, deps.fence()).await?;
            let next = i32::try_from(page).unwrap_or(i32::MAX).saturating_add(1);
            store::save_backfill_progress(&tx, athlete, next, false).await?;
            tx.commit().await?;
        } else if stop.ends_with(page, count, already_known) {
            break;
        }
        page = page.saturating_add(1);
    }
    let mut db = deps.pool.get().await?;
    let tx = store::fenced(&mut db, deps.fence()).await?;
    if backfill {
        store::save_backfill_progress(&tx, athlete, 1, true).await?;
    }
    store::save_largest_page(&tx, athlete, i32::try_from(largest).unwrap_or(i32::MAX)).await?;
    tx.commit().await?;
    let removed: Vec<i64> = if full {
        store::activity_ids(&db, athlete)
            .await?
            .difference(&listed)
            .copied()
            .collect()
    } else {
        Vec::new()
    };
    if !removed.is_empty() {
        tracing::info!(
            count = removed.len(),
            "removing activities Strava no longer lists"
        );
    }
    drop(db);
    let ingested = deps
        .cache
        .ask(Ingest {
            removed,
            stats: Some(stats),
            publish: Some(started_at),
            ..Ingest::activities(athlete, Vec::new()).fenced(deps.fence())
        })
        .await??;
    report.activities_stored = ingested.stored;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: usize = PAGE_SIZE as usize;

    #[test]
    fn a_quiet_hour_ends_with_the_first_page() {
        // three activities stored for the window, the server lists just those three
        let mut stop = PageStop::new(FULL, 3);
        assert!(stop.ends_with(1, 3, 3));
    }

    #[test]
    fn a_short_first_page_with_something_new_ends_it_on_a_server_that_sends_full_pages() {
        let mut stop = PageStop::new(FULL, 3);
        assert!(stop.ends_with(1, 4, 3));
    }

    #[test]
    fn a_server_that_cuts_pages_short_is_paged_until_a_page_brings_nothing_new() {
        // never a page larger than 50: a short page may hide more behind it
        let mut stop = PageStop::new(50, 3);
        assert!(
            !stop.ends_with(1, 4, 3),
            "the first page brought something new"
        );
        assert!(!stop.ends_with(2, 2, 0), "so did the second");
        assert!(!stop.ends_with(3, 1, 0), "and the third");
        assert!(stop.ends_with(4, 0, 0), "the empty page is the end");
    }

    #[test]
    fn a_page_that_brings_only_known_activities_ends_it_on_any_server() {
        let mut stop = PageStop::new(50, 2);
        assert!(!stop.ends_with(1, 3, 1));
        assert!(stop.ends_with(2, 1, 1));
    }

    #[test]
    fn it_goes_on_while_stored_activities_of_the_window_are_still_unlisted() {
        // five stored, three listed: two may sit on a later page
        let mut stop = PageStop::new(FULL, 5);
        assert!(!stop.ends_with(1, 3, 3));
        assert!(stop.ends_with(2, 2, 2));
    }

    #[test]
    fn a_full_page_never_ends_it() {
        let mut stop = PageStop::new(FULL, 0);
        assert!(!stop.ends_with(1, FULL, 0));
        assert!(!stop.ends_with(2, FULL, FULL.min(10)));
    }

    #[test]
    fn new_activities_after_the_first_page_do_not_end_it_even_on_a_full_page_server() {
        let mut stop = PageStop::new(FULL, 0);
        assert!(!stop.ends_with(1, FULL, 0));
        assert!(!stop.ends_with(2, 3, 0));
        assert!(stop.ends_with(3, 0, 0));
    }

    #[test]
    fn before_any_page_was_seen_only_a_page_shorter_than_strava_s_largest_is_short() {
        let mut stop = PageStop::new(0, 0);
        assert!(!stop.ends_with(1, FULL, 0));
        let mut stop = PageStop::new(0, 1);
        assert!(stop.ends_with(1, 1, 1));
    }

    #[test]
    fn an_empty_page_always_ends_it() {
        let mut stop = PageStop::new(50, 10);
        assert!(stop.ends_with(1, 0, 0));
    }
}
