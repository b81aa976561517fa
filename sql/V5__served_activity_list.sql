-- The activity list of `/strava/activities` as the last derivation made it (every public
-- activity pre-serialized, newest first; see `stats::ActivityList::to_stored`), written in the
-- same transaction as the bodies. A follower that hears of a new generation reads it only when
-- its version moved, instead of reading and serializing every activity again (SPEC §6: every
-- replica is current within a second, after a first sync of thousands of activities too).
CREATE TABLE served_activity_list (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    version    TEXT   NOT NULL,
    -- the athlete's offset from UTC (seconds), from the newest public activity
    utc_offset BIGINT NOT NULL,
    entries    BYTEA  NOT NULL
);
