//! Forgetting an athlete (a disconnect, or a deauthorization Strava confirmed): each owner
//! deletes its own part, so no actor touches another's rows.

use super::gate::{SyncDeps, SyncError};
use crate::actors::cache::{ForgetActivities, HealthChanged};
use crate::actors::token::ForgetTokens;
use crate::store;

/// Deletes everything stored for `athlete_id`. The tokens go first, so nothing can sync the
/// athlete again while the rest goes; should the process die in between, what is left is
/// never confirmed by Strava again and the retention sweep removes it.
pub async fn forget_athlete(
    deps: &SyncDeps,
    athlete_id: i64,
    keep_owner: bool,
) -> Result<(), SyncError> {
    let fence = deps.fence().cloned();
    deps.token
        .ask(ForgetTokens {
            athlete_id,
            keep_owner,
            fence: fence.clone(),
        })
        .await??;
    deps.cache
        .ask(ForgetActivities { athlete_id, fence })
        .await??;
    let mut db = deps.pool.get().await?;
    let tx = store::fenced(&mut db, deps.fence()).await?;
    store::forget_sync_state(&tx, athlete_id).await?;
    tx.commit().await?;
    deps.cache.ask(HealthChanged).await?;
    Ok(())
}
