//! The first connection's setup code as Postgres keeps it (its hash; `sql/V6__setup_code.sql`).

use deadpool_postgres::GenericClient;

/// Replaces the stored setup code's hash: the code it belonged to stops working.
pub async fn renew_setup_code(db: &impl GenericClient, hash: &[u8]) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO setup_code (hash) VALUES ($1)
         ON CONFLICT (singleton) DO UPDATE SET hash = EXCLUDED.hash, created_at = now()",
        &[&hash],
    )
    .await?;
    Ok(())
}

/// Who owns the instance, and the stored setup code's hash, read together.
pub async fn first_connection(
    db: &impl GenericClient,
) -> anyhow::Result<(Option<i64>, Option<Vec<u8>>)> {
    let row = db
        .query_one(
            "SELECT (SELECT athlete_id FROM owner), (SELECT hash FROM setup_code)",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The stored setup code's hash, locked until the transaction ends, so that one connection at
/// most spends it.
pub async fn lock_setup_code(db: &impl GenericClient) -> anyhow::Result<Option<Vec<u8>>> {
    Ok(db
        .query_opt("SELECT hash FROM setup_code FOR UPDATE", &[])
        .await?
        .map(|r| r.get(0)))
}

/// Spends the setup code: an owner exists now.
pub async fn spend_setup_code(db: &impl GenericClient) -> anyhow::Result<()> {
    db.execute("DELETE FROM setup_code", &[]).await?;
    Ok(())
}
