//! What a follower reads when another replica committed a change (SPEC §6): only what moved
//! since what it serves. From one snapshot of Postgres: the generation, every body's ETag, the
//! bodies whose ETag is not the one held, and the activity list when its version moved (stored
//! pre-serialized by the derivation, so a follower never reads or serializes the activities
//! themselves after a first sync of thousands).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_postgres::IsolationLevel;

use crate::stats::{self, PublicVisibility};
use crate::store::{self, StoredBody};

/// What is served now, as a follower compares it with what is stored.
pub struct Held {
    /// Every body's key and ETag.
    pub etags: HashMap<String, String>,
    /// The activity list's version and the athlete's offset from UTC.
    pub list: (String, i64),
}

/// What changed since [`Held`].
pub struct Changes {
    /// Read first: what follows is at least this new.
    pub generation: i64,
    /// Every key served now.
    pub keys: HashSet<String>,
    /// The bodies that are new or whose ETag moved.
    pub changed: Vec<StoredBody>,
    /// The activity list and offset, when they moved.
    pub list: Option<(stats::ActivityList, i64)>,
    pub fetched_at: Option<DateTime<Utc>>,
}

/// Reads what changed since `held`, in one read-only snapshot.
pub async fn changes(
    pool: &Pool,
    visibility: PublicVisibility,
    held: &Held,
) -> anyhow::Result<Changes> {
    let mut db = pool.get().await?;
    let tx = db
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let generation = store::queue::generation(&tx).await?;
    let etags = store::served::body_etags(&tx).await?;
    let moved: Vec<&str> = etags
        .iter()
        .filter(|(key, etag)| held.etags.get(key) != Some(etag))
        .map(|(key, _)| key.as_str())
        .collect();
    let changed = store::served::bodies_of(&tx, &moved).await?;
    let publication = store::last_publication(&tx).await?;
    let stored = store::served::activity_list_version(&tx).await?;
    let list = match stored {
        Some(stored) if stored == held.list => None,
        Some(_) => {
            let read =
                store::served::activity_list(&tx)
                    .await?
                    .and_then(|(version, offset, entries)| {
                        stats::ActivityList::from_stored(version, entries.into())
                            .map(|list| (list, offset))
                    });
            match read {
                Some(list) => Some(list),
                None => Some(from_activities(&tx, publication.as_ref(), visibility).await?),
            }
        }
        // Nothing served (before the first sync, after a forget of everything).
        None if etags.is_empty() => Some((stats::ActivityList::default(), 0)),
        // Bodies derived before the list was stored with them.
        None => Some(from_activities(&tx, publication.as_ref(), visibility).await?),
    };
    tx.commit().await?;
    Ok(Changes {
        generation,
        keys: etags.into_iter().map(|(key, _)| key).collect(),
        changed,
        list,
        fetched_at: publication.map(|p| p.fetched_at),
    })
}

/// The activity list made from the stored activities (as at start-up), and the offset.
async fn from_activities(
    tx: &deadpool_postgres::Transaction<'_>,
    publication: Option<&store::Publication>,
    visibility: PublicVisibility,
) -> anyhow::Result<(stats::ActivityList, i64)> {
    let activities = match publication {
        Some(p) => store::imports::served_activities(tx, p.athlete_id).await?.0,
        None => Vec::new(),
    };
    let public = stats::public_newest_first(&activities, visibility);
    Ok((
        stats::ActivityList::new(&public),
        stats::athlete_offset(public.first().copied()),
    ))
}
