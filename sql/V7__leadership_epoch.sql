-- Fencing (SPEC §6): each replica that takes the lead moves the epoch on, and every write the
-- leader makes checks, in its own transaction, that the epoch is still the one it took; a
-- replica that lost the lead without noticing yet changes nothing.
ALTER TABLE leader ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
