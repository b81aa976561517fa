-- Several replicas on one Postgres (SPEC §6): the work followers hand the leader, the events
-- acknowledged to Strava before anyone confirmed them, and the generation every replica follows.

-- Work asked of a replica that is not the leader (`refresh-data`, a disconnect, the first sync
-- after a connection, a reconciliation in place of events the queue had no room for): the
-- leader takes it (`taken_by`: its term), runs it and writes the outcome; an asker waiting for
-- the outcome reads it and deletes the row.
CREATE TABLE work_requests (
    id           BIGSERIAL PRIMARY KEY,
    kind         TEXT        NOT NULL CHECK (kind IN ('sync', 'full_sync', 'background_sync', 'reconciliation', 'disconnect')),
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    taken_by     BIGINT,
    finished_at  TIMESTAMPTZ,
    outcome      JSONB
);

-- Webhook events screened and acknowledged, one row per thing to confirm (`activity:<id>`,
-- `deauthorization`): any number of events for one target are one row, whose `seq` moves on
-- with each. The leader deletes a row once it confirmed what the row's `seq` says.
CREATE SEQUENCE pending_event_seq;
CREATE TABLE pending_events (
    key         TEXT PRIMARY KEY,
    athlete_id  BIGINT      NOT NULL,
    seq         BIGINT      NOT NULL DEFAULT nextval('pending_event_seq'),
    taken_by    BIGINT,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Which replica leads, and since when, for the operators' view of every replica.
CREATE TABLE leader (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    replica   TEXT        NOT NULL,
    since     TIMESTAMPTZ NOT NULL
);

-- Moves on with every committed change to what replicas serve or report (bodies, tokens, the
-- owner); each change NOTIFYs `milepost_generation` with the new value at commit.
CREATE TABLE generation (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    value     BIGINT NOT NULL
);
INSERT INTO generation (singleton, value) VALUES (TRUE, 0);

CREATE FUNCTION milepost_next_generation() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    next BIGINT;
BEGIN
    UPDATE generation SET value = value + 1 RETURNING value INTO next;
    PERFORM pg_notify('milepost_generation', next::text);
    RETURN NULL;
END
$$;

DO $$
DECLARE
    followed TEXT;
BEGIN
    FOREACH followed IN ARRAY ARRAY['response_bodies', 'tokens', 'owner']
    LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
             FOR EACH STATEMENT EXECUTE FUNCTION milepost_next_generation()',
            followed || '_generation', followed);
    END LOOP;
END
$$;

-- A new push subscription (`milepost webhook subscribe`, after whichever replica answered
-- Strava's check): every replica reads it before it screens the next events.
CREATE FUNCTION milepost_subscription_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('milepost_work', 'subscription');
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_subscription_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON webhook_subscription
    FOR EACH STATEMENT EXECUTE FUNCTION milepost_subscription_changed();
