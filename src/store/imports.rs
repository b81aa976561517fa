//! Imported activities (SPEC §11), import jobs and the watched folder's seen files.
//!
//! Imported activities live apart from the API's `activities`: what came from Strava's API goes
//! with a disconnect, a deauthorization or retention, and what the athlete imported stays.
//! Where both hold one id, the API's copy is served (see [`served_activities`]).

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;

use crate::strava::models::Activity;

/// Every activity served: the API's activities of `athlete` (none without one) and every
/// imported activity the API does not hold, newest first; and how many of them came from
/// imports alone.
pub async fn served_activities(
    db: &impl GenericClient,
    athlete: Option<i64>,
) -> anyhow::Result<(Vec<Activity>, usize)> {
    let rows = db
        .query(
            "SELECT summary, imported FROM (
                 SELECT id, start_date, summary, FALSE AS imported
                 FROM activities WHERE athlete_id = $1
                 UNION ALL
                 SELECT i.id, i.start_date, i.summary, TRUE
                 FROM imported_activities i
                 WHERE NOT EXISTS (SELECT 1 FROM activities a WHERE a.id = i.id AND a.athlete_id = $1)
             ) served
             ORDER BY start_date DESC, id DESC",
            &[&athlete],
        )
        .await?;
    let mut imported_only = 0;
    let activities = rows
        .into_iter()
        .map(|r| {
            if r.get::<_, bool>(1) {
                imported_only += 1;
            }
            serde_json::from_value(r.get::<_, serde_json::Value>(0))
                .context("a stored activity no longer parses")
        })
        .collect::<anyhow::Result<Vec<Activity>>>()?;
    Ok((activities, imported_only))
}

/// Every imported activity by id, as stored.
pub async fn imported_activities(
    db: &impl GenericClient,
) -> anyhow::Result<HashMap<i64, Activity>> {
    let rows = db
        .query("SELECT id, summary FROM imported_activities", &[])
        .await?;
    rows.into_iter()
        .map(|r| {
            let activity = serde_json::from_value(r.get::<_, serde_json::Value>(1))
                .context("a stored imported activity no longer parses")?;
            Ok((r.get(0), activity))
        })
        .collect()
}

/// Stores imported activities whose summary is new or changed (an unchanged one is not
/// written, so a re-import rewrites nothing); how many rows were written. Activities without a
/// readable start are skipped, as [`super::upsert_activities`] skips them.
pub async fn upsert_imported(
    db: &impl GenericClient,
    activities: &[Activity],
    now: DateTime<Utc>,
) -> anyhow::Result<u64> {
    let (ids, starts, summaries) = super::columns::of(activities)?;
    Ok(db
        .execute(
            "INSERT INTO imported_activities (id, start_date, summary, imported_at)
             SELECT u.id, u.start_date, u.summary, $4
             FROM unnest($1::bigint[], $2::timestamptz[], $3::jsonb[]) AS u(id, start_date, summary)
             ON CONFLICT (id) DO UPDATE SET start_date = EXCLUDED.start_date,
                 summary = EXCLUDED.summary, imported_at = $4
             WHERE imported_activities.summary IS DISTINCT FROM EXCLUDED.summary",
            &[&ids, &starts, &summaries, &now],
        )
        .await?)
}

/// Deletes every imported activity; how many went.
pub async fn forget_imported(db: &impl GenericClient) -> anyhow::Result<u64> {
    Ok(db.execute("DELETE FROM imported_activities", &[]).await?)
}

/// Deletes imported activities Strava confirmed deleted (the athlete deleted them). Only
/// Strava's ids: a file's own (negative) id is nothing Strava can confirm.
pub async fn delete_imported(db: &impl GenericClient, ids: &[i64]) -> anyhow::Result<u64> {
    Ok(db
        .execute(
            "DELETE FROM imported_activities WHERE id > 0 AND id = ANY($1)",
            &[&ids],
        )
        .await?)
}

/// [`imported_count`]'s query, also asked as part of [`super::health_facts`].
pub(super) const IMPORTED_COUNT: &str = "SELECT count(*) FROM imported_activities";

/// Deletes copies imported from files alone (negative ids) that another copy took the place of.
pub async fn delete_file_copies(db: &impl GenericClient, ids: &[i64]) -> anyhow::Result<u64> {
    Ok(db
        .execute(
            "DELETE FROM imported_activities WHERE id < 0 AND id = ANY($1)",
            &[&ids],
        )
        .await?)
}

/// Copies imported from files alone (negative ids) that started between `from` and `to`.
pub async fn file_copies_between(
    db: &impl GenericClient,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<Activity>> {
    summaries(
        db.query(
            "SELECT summary FROM imported_activities
             WHERE id < 0 AND start_date BETWEEN $1 AND $2",
            &[&from, &to],
        )
        .await?,
    )
}

/// The API's activities of `athlete` that started between `from` and `to`.
pub async fn api_between(
    db: &impl GenericClient,
    athlete: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<Vec<Activity>> {
    summaries(
        db.query(
            "SELECT summary FROM activities
             WHERE athlete_id = $1 AND start_date BETWEEN $2 AND $3",
            &[&athlete, &from, &to],
        )
        .await?,
    )
}

fn summaries(rows: Vec<tokio_postgres::Row>) -> anyhow::Result<Vec<Activity>> {
    rows.into_iter()
        .map(|r| {
            serde_json::from_value(r.get::<_, serde_json::Value>(0))
                .context("a stored activity no longer parses")
        })
        .collect()
}

/// A copy imported from a file alone is the API's activity `api`: it takes the API's id and
/// visibility, unless a copy under that id is stored already, which then stays alone.
pub async fn rekey_file_copy(
    db: &impl GenericClient,
    copy: i64,
    api: &Activity,
) -> anyhow::Result<()> {
    db.execute(
        "DELETE FROM imported_activities
         WHERE id = $1 AND EXISTS (SELECT 1 FROM imported_activities WHERE id = $2)",
        &[&copy, &api.id],
    )
    .await?;
    db.execute(
        "UPDATE imported_activities SET id = $2,
             summary = summary || jsonb_build_object('id', $2::bigint, 'visibility', $3::text, 'private', $4::boolean)
         WHERE id = $1",
        &[&copy, &api.id, &api.visibility, &api.private],
    )
    .await?;
    Ok(())
}

/// Imported copies of the API's `activities` take the visibility the API gives them now, so
/// they stay as visible as the athlete said should the API's copies go.
pub async fn follow_api_visibility(
    db: &impl GenericClient,
    activities: &[Activity],
) -> anyhow::Result<u64> {
    let ids: Vec<i64> = activities.iter().map(|a| a.id).collect();
    let visibilities: Vec<&str> = activities.iter().map(|a| a.visibility.as_str()).collect();
    let private: Vec<bool> = activities.iter().map(|a| a.private).collect();
    Ok(db
        .execute(
            "UPDATE imported_activities i
             SET summary = i.summary || jsonb_build_object('visibility', u.visibility, 'private', u.private)
             FROM unnest($1::bigint[], $2::text[], $3::boolean[]) AS u(id, visibility, private)
             WHERE i.id = u.id
               AND (i.summary->>'visibility' IS DISTINCT FROM u.visibility
                    OR (i.summary->>'private')::boolean IS DISTINCT FROM u.private)",
            &[&ids, &visibilities, &private],
        )
        .await?)
}

/// How many imported activities are stored.
pub async fn imported_count(db: &impl GenericClient) -> anyhow::Result<i64> {
    Ok(db.query_one(IMPORTED_COUNT, &[]).await?.get(0))
}

/// An import job as any replica reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub id: String,
    pub state: String,
    pub files_done: i64,
    pub files_total: i64,
    pub summary: Option<serde_json::Value>,
    pub error: Option<String>,
}

/// Records a new job. Called with the import lock held, so any job still marked as queued or
/// running was stopped (its process died): it is marked failed first.
pub async fn create_import_job(
    db: &impl GenericClient,
    id: &str,
    dry_run: bool,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE import_jobs SET state = 'failed', finished_at = now(),
             error = 'stopped before it finished (the process ended); run it again to finish it'
         WHERE state IN ('queued', 'running')",
        &[],
    )
    .await?;
    db.execute(
        "INSERT INTO import_jobs (id, state, dry_run) VALUES ($1, 'queued', $2)",
        &[&id, &dry_run],
    )
    .await?;
    Ok(())
}

/// Records a job's progress (`running`).
pub async fn import_progress(
    db: &impl GenericClient,
    id: &str,
    files_done: i64,
    files_total: i64,
) -> anyhow::Result<()> {
    db.execute(
        "UPDATE import_jobs SET state = 'running', files_done = $2, files_total = $3 WHERE id = $1",
        &[&id, &files_done, &files_total],
    )
    .await?;
    Ok(())
}

/// Records how a job ended: its summary (`done`) or its error (`failed`).
pub async fn finish_import_job(
    db: &impl GenericClient,
    id: &str,
    summary: Result<&serde_json::Value, &str>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let (state, summary, error) = match summary {
        Ok(summary) => ("done", Some(summary), None),
        Err(error) => ("failed", None, Some(error)),
    };
    db.execute(
        "UPDATE import_jobs SET state = $2, summary = $3, error = $4, finished_at = $5,
             files_done = GREATEST(files_done, files_total)
         WHERE id = $1",
        &[&id, &state, &summary, &error, &now],
    )
    .await?;
    Ok(())
}

pub async fn import_job(db: &impl GenericClient, id: &str) -> anyhow::Result<Option<ImportJob>> {
    let row = db
        .query_opt(
            "SELECT id, state, files_done, files_total, summary, error FROM import_jobs WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(row.map(|r| ImportJob {
        id: r.get(0),
        state: r.get(1),
        files_done: r.get(2),
        files_total: r.get(3),
        summary: r.get(4),
        error: r.get(5),
    }))
}

/// [`last_import`]'s query, also asked as part of [`super::health_facts`].
pub(super) const LAST_IMPORT: &str =
    "SELECT max(finished_at) FROM import_jobs WHERE state = 'done' AND NOT dry_run";

/// When the last import that wrote (not a dry run) finished.
pub async fn last_import(db: &impl GenericClient) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(db.query_one(LAST_IMPORT, &[]).await?.get(0))
}

/// Whether a file of this content was imported from the watched folder before.
pub async fn seen_file(db: &impl GenericClient, sha256: &str) -> anyhow::Result<bool> {
    Ok(db
        .query_opt(
            "SELECT 1 FROM import_seen_files WHERE sha256 = $1",
            &[&sha256],
        )
        .await?
        .is_some())
}

pub async fn remember_file(
    db: &impl GenericClient,
    sha256: &str,
    name: &str,
) -> anyhow::Result<()> {
    db.execute(
        "INSERT INTO import_seen_files (sha256, name) VALUES ($1, $2) ON CONFLICT (sha256) DO NOTHING",
        &[&sha256, &name],
    )
    .await?;
    Ok(())
}

/// Any number will do as long as only milepost uses it: one import at a time, across processes
/// and replicas. A session-level lock, so it goes with a process that dies mid-import.
pub const IMPORT_LOCK: i64 = 0x6d69_6c65_696d_7074;

/// Takes the import lock on this session if nobody holds it.
pub async fn try_lock_import(db: &impl GenericClient) -> anyhow::Result<bool> {
    Ok(db
        .query_one("SELECT pg_try_advisory_lock($1)", &[&IMPORT_LOCK])
        .await?
        .get(0))
}

/// Whether any session holds the import lock of this database now (an import runs somewhere).
/// Advisory locks belong to a database, and `pg_locks` lists every database's.
pub async fn import_locked(db: &impl GenericClient) -> anyhow::Result<bool> {
    Ok(db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_locks
                 WHERE locktype = 'advisory' AND granted AND objsubid = 1
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND classid = ($1::bigint >> 32)::oid AND objid = ($1::bigint & 4294967295)::oid)",
            &[&IMPORT_LOCK],
        )
        .await?
        .get(0))
}

pub async fn unlock_import(db: &impl GenericClient) -> anyhow::Result<()> {
    db.execute("SELECT pg_advisory_unlock($1)", &[&IMPORT_LOCK])
        .await?;
    Ok(())
}

/// When the imported activities last changed (`None`: there are none).
pub async fn last_imported_at(db: &impl GenericClient) -> anyhow::Result<Option<DateTime<Utc>>> {
    Ok(db
        .query_one("SELECT max(imported_at) FROM imported_activities", &[])
        .await?
        .get(0))
}
