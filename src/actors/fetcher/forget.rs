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
    deps.token
        .ask(ForgetTokens {
            athlete_id,
            keep_owner,
        })
        .await??;
    deps.cache.ask(ForgetActivities { athlete_id }).await??;
    let db = deps.pool.get().await?;
    store::forget_sync_state(&db, athlete_id).await?;
    deps.cache.ask(HealthChanged).await?;
    Ok(())
}
