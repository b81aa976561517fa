//! Activities as the columns of an `unnest` insert, for the API's and the imported alike.

use chrono::{DateTime, Utc};

use crate::strava::models::Activity;

/// The columns of an `unnest` insert of activities: ids, starts and summaries.
pub(super) type Columns = (Vec<i64>, Vec<DateTime<Utc>>, Vec<serde_json::Value>);

/// Activities as the columns of an `unnest` insert. Activities without a readable start date
/// are skipped (they could not be placed in any stat).
pub(super) fn of(activities: &[Activity]) -> anyhow::Result<Columns> {
    let mut ids = Vec::with_capacity(activities.len());
    let mut starts = Vec::with_capacity(activities.len());
    let mut summaries = Vec::with_capacity(activities.len());
    for a in activities {
        let Ok(start) = DateTime::parse_from_rfc3339(&a.start_date) else {
            tracing::warn!(
                activity = a.id,
                "skipping an activity without a valid start_date"
            );
            continue;
        };
        ids.push(a.id);
        starts.push(start.with_timezone(&Utc));
        summaries.push(serde_json::to_value(a)?);
    }
    Ok((ids, starts, summaries))
}
