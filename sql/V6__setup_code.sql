-- The first connection's setup code (production without OWNER_ATHLETE_ID, SPEC §5): its SHA-256
-- only, one row at most, so every replica checks and binds the same code. Written by start-up
-- while nobody owns the instance and by the operator's disconnect (each writes a fresh one, so
-- an older link stops working), deleted in the transaction that makes someone the owner.
CREATE TABLE setup_code (
    singleton  BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    hash       BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
