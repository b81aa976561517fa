-- milepost's durable state. Every Strava record carries `confirmed_at`: when Strava last
-- vouched for it (retention purges what is not re-confirmed in time).

-- The connected athlete's OAuth tokens, encrypted (see src/crypto/cipher.rs).
CREATE TABLE tokens (
    athlete_id     BIGINT PRIMARY KEY,
    access_token   TEXT        NOT NULL,
    refresh_token  TEXT        NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    scope          TEXT        NOT NULL DEFAULT '',
    status         TEXT        NOT NULL DEFAULT 'connected'
                   CHECK (status IN ('connected', 'reauthorization_required')),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Who owns this instance (the first athlete to connect, unless OWNER_ATHLETE_ID pins one).
CREATE TABLE owner (
    singleton    BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    athlete_id   BIGINT      NOT NULL,
    connected_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Activities as milepost keeps them: the public summary fields only (no map, no coordinates).
CREATE TABLE activities (
    id               BIGINT PRIMARY KEY,
    athlete_id       BIGINT      NOT NULL,
    start_date       TIMESTAMPTZ NOT NULL,
    summary          JSONB       NOT NULL,
    confirmed_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX activities_athlete_start ON activities (athlete_id, start_date DESC);

-- Strava's own ActivityStats for the athlete (the source of /stats/ytd).
CREATE TABLE athlete_stats (
    athlete_id   BIGINT PRIMARY KEY,
    stats        JSONB       NOT NULL,
    confirmed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Pre-serialized response bodies, exactly as served; the cache warms from here at start-up.
CREATE TABLE response_bodies (
    key        TEXT PRIMARY KEY,
    body       BYTEA       NOT NULL,
    etag       TEXT        NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Sync progress per athlete.
CREATE TABLE sync_state (
    athlete_id        BIGINT PRIMARY KEY,
    backfill_done     BOOLEAN     NOT NULL DEFAULT FALSE,
    backfill_next_page INTEGER    NOT NULL DEFAULT 1,
    -- the longest page Strava has returned for this athlete: a steady-state page shorter than
    -- this is taken as the end of the list (see FetcherActor)
    largest_page      INTEGER     NOT NULL DEFAULT 0,
    last_attempt_at   TIMESTAMPTZ,
    last_success_at   TIMESTAMPTZ,
    last_error        TEXT
);

-- The app's Strava push subscription (one per application), made by `milepost webhook subscribe`.
CREATE TABLE webhook_subscription (
    id           BIGINT PRIMARY KEY,
    callback_url TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- OAuth state nonces already used, remembered until the state would have expired anyway.
CREATE TABLE oauth_states (
    nonce      TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
