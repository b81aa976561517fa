//! What a follower reads to serve what the leader committed, no more than what changed: the
//! served bodies' ETags (a follower fetches only the bodies whose ETag moved), and the activity
//! list pre-serialized (`sql/V5__served_activity_list.sql`), read whole only when its version
//! moved.

use deadpool_postgres::GenericClient;

use super::{StoredBody, stored_body};

/// Every served body's key and ETag.
pub async fn body_etags(db: &impl GenericClient) -> anyhow::Result<Vec<(String, String)>> {
    let rows = db
        .query("SELECT key, etag FROM response_bodies", &[])
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The served bodies under `keys` (those that still exist).
pub async fn bodies_of(db: &impl GenericClient, keys: &[&str]) -> anyhow::Result<Vec<StoredBody>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let rows = db
        .query(
            "SELECT key, body, etag FROM response_bodies WHERE key = ANY($1)",
            &[&keys],
        )
        .await?;
    Ok(rows.iter().map(stored_body).collect())
}

/// The stored activity list's version and the athlete's offset from UTC it was derived with.
pub async fn activity_list_version(
    db: &impl GenericClient,
) -> anyhow::Result<Option<(String, i64)>> {
    let row = db
        .query_opt("SELECT version, utc_offset FROM served_activity_list", &[])
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The stored activity list: its version, offset and entries.
pub async fn activity_list(
    db: &impl GenericClient,
) -> anyhow::Result<Option<(String, i64, Vec<u8>)>> {
    let row = db
        .query_opt(
            "SELECT version, utc_offset, entries FROM served_activity_list",
            &[],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Stores the activity list a derivation made, unless the stored one has its version already.
pub async fn save_activity_list(
    db: &impl GenericClient,
    version: &str,
    utc_offset: i64,
    entries: impl FnOnce() -> Vec<u8>,
) -> anyhow::Result<()> {
    if activity_list_version(db)
        .await?
        .is_some_and(|(stored, offset)| stored == version && offset == utc_offset)
    {
        return Ok(());
    }
    db.execute(
        "INSERT INTO served_activity_list (singleton, version, utc_offset, entries)
         VALUES (TRUE, $1, $2, $3)
         ON CONFLICT (singleton) DO UPDATE
            SET version = EXCLUDED.version, utc_offset = EXCLUDED.utc_offset, entries = EXCLUDED.entries",
        &[&version, &utc_offset, &entries()],
    )
    .await?;
    Ok(())
}

/// No activity list is served any more.
pub async fn clear_activity_list(db: &impl GenericClient) -> anyhow::Result<()> {
    db.execute("DELETE FROM served_activity_list", &[]).await?;
    Ok(())
}
