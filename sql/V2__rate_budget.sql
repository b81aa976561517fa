-- The rate budget as last known: Strava's four figures after the latest response, so a restart
-- (or the next leader) starts from what Strava said rather than from zero.
CREATE TABLE rate_budget (
    singleton    BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    figures      JSONB       NOT NULL,
    observed_at  TIMESTAMPTZ NOT NULL
);
