//! Work a replica that is not the leader hands the leader through Postgres (SPEC §6), and the
//! outcome it waits for: the asker writes a request and waits; the leader takes it, runs it as
//! if asked itself and writes how it ended ([`Finished`]).

use std::time::Duration;

use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};

use super::gate::{SyncError, SyncReport};
use crate::store::queue::{self, WorkKind, WorkState};

/// How long an asker waits for a leader to take its request before it gives up (and answers
/// 503): a leader takes over within 5 s of the last one's end.
pub const NO_LEADER_WITHIN: Duration = Duration::from_secs(10);
/// How often an asker looks at its request.
const POLL: Duration = Duration::from_millis(100);

/// How a request ended, as the leader writes it and the asker reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Finished {
    /// What the sync brought (nothing for a disconnect).
    Done {
        #[serde(default)]
        report: SyncReport,
    },
    NotConnected,
    ReauthorizationRequired,
    BudgetExhausted {
        wait_secs: u64,
    },
    AppInactive {
        wait_secs: u64,
    },
    /// Strava failed; the detail is the error's text (no secret is ever in one).
    StravaFailed {
        detail: String,
    },
    Failed {
        detail: String,
    },
}

impl Finished {
    pub fn of(outcome: &Result<SyncReport, SyncError>) -> Self {
        let e = match outcome {
            Ok(report) => return Self::Done { report: *report },
            Err(e) => e,
        };
        let detail = crate::error::chain(e);
        match e {
            SyncError::NotConnected => Self::NotConnected,
            SyncError::ReauthorizationRequired => Self::ReauthorizationRequired,
            SyncError::BudgetExhausted(wait) => Self::BudgetExhausted {
                wait_secs: wait.as_secs(),
            },
            SyncError::AppInactive(wait) => Self::AppInactive {
                wait_secs: wait.as_secs(),
            },
            SyncError::Strava(_)
            | SyncError::Unauthorized
            | SyncError::NotFound
            | SyncError::Token(crate::actors::token::TokenError::Strava(_))
            | SyncError::Leader { strava: true, .. } => Self::StravaFailed { detail },
            _ => Self::Failed { detail },
        }
    }

    pub fn into_result(self) -> Result<SyncReport, SyncError> {
        match self {
            Self::Done { report } => Ok(report),
            Self::NotConnected => Err(SyncError::NotConnected),
            Self::ReauthorizationRequired => Err(SyncError::ReauthorizationRequired),
            Self::BudgetExhausted { wait_secs } => {
                Err(SyncError::BudgetExhausted(Duration::from_secs(wait_secs)))
            }
            Self::AppInactive { wait_secs } => {
                Err(SyncError::AppInactive(Duration::from_secs(wait_secs)))
            }
            Self::StravaFailed { detail } => Err(SyncError::Leader {
                strava: true,
                detail,
            }),
            Self::Failed { detail } => Err(SyncError::Leader {
                strava: false,
                detail,
            }),
        }
    }
}

/// Asks the leader for `kind` and waits for its outcome, at most `within` in all; a request
/// no leader took within [`NO_LEADER_WITHIN`] is withdrawn ([`SyncError::NoLeader`]).
pub async fn ask_leader(
    pool: &Pool,
    kind: WorkKind,
    within: Duration,
) -> Result<SyncReport, SyncError> {
    let id = queue::request_work(&mut pool.get().await?, kind).await?;
    let started = tokio::time::Instant::now();
    let mut taken = false;
    loop {
        tokio::time::sleep(POLL).await;
        let db = pool.get().await?;
        match queue::work_state(&db, id).await? {
            WorkState::Finished(outcome) => {
                queue::forget_work(&db, id).await?;
                return match serde_json::from_value::<Finished>(outcome) {
                    Ok(finished) => finished.into_result(),
                    Err(e) => Err(SyncError::Leader {
                        strava: false,
                        detail: format!("unreadable outcome: {e}"),
                    }),
                };
            }
            WorkState::Taken => taken = true,
            WorkState::Waiting => {}
            WorkState::Gone => return Err(SyncError::Stopped),
        }
        let waited = started.elapsed();
        if !taken && waited >= NO_LEADER_WITHIN && queue::withdraw_work(&db, id).await? {
            return Err(SyncError::NoLeader);
        }
        if waited >= within {
            // The leader goes on; its outcome is cleared within the hour.
            return Err(SyncError::Stopped);
        }
    }
}

/// Hands `kind` to the leader without waiting for it; a reconciliation only if none waits
/// already (one re-list catches everything).
pub async fn hand_over(pool: &Pool, kind: WorkKind) -> Result<(), SyncError> {
    let mut db = pool.get().await?;
    match kind {
        WorkKind::Reconciliation => queue::request_reconciliation(&mut db).await?,
        kind => {
            queue::request_work(&mut db, kind).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_reads_back_as_the_error_it_was() {
        let cases = [
            Ok(SyncReport {
                requests: 2,
                activities_fetched: 3,
                activities_stored: 1_132,
            }),
            Err(SyncError::NotConnected),
            Err(SyncError::ReauthorizationRequired),
            Err(SyncError::BudgetExhausted(Duration::from_secs(42))),
            Err(SyncError::AppInactive(Duration::from_secs(7))),
        ];
        for case in cases {
            let finished = Finished::of(&case);
            let stored = serde_json::to_value(&finished).unwrap();
            let read: Finished = serde_json::from_value(stored).unwrap();
            assert_eq!(read, finished);
            assert_eq!(
                format!("{:?}", read.into_result()),
                format!("{case:?}"),
                "{finished:?}"
            );
        }
        let strava = Finished::of(&Err(SyncError::NotFound));
        assert!(matches!(strava, Finished::StravaFailed { .. }));
        assert!(matches!(
            strava.into_result(),
            Err(SyncError::Leader { strava: true, .. })
        ));
        assert!(matches!(
            Finished::of(&Err(SyncError::Stopped)),
            Finished::Failed { .. }
        ));
    }
}
