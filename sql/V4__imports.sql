-- Data without Strava's API (SPEC §11): activities from the athlete's own export and files.
-- They are the owner's, not Strava API data: no `confirmed_at`, so retention, a disconnect and
-- a deauthorization leave them; only a forget (`milepost import --forget`, `DELETE
-- /strava/import`) or a deletion Strava confirms removes them.

-- One row per imported activity. `id` is Strava's when the export names it or a file merged
-- with a known activity, otherwise a stable negative id derived from the file's content. Where
-- the API holds the same id, the API's copy is served while Strava confirms it.
CREATE TABLE imported_activities (
    id          BIGINT PRIMARY KEY,
    start_date  TIMESTAMPTZ NOT NULL,
    summary     JSONB       NOT NULL,
    -- when the stored summary last changed (a re-import of the same input changes nothing)
    imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX imported_activities_start ON imported_activities (start_date DESC);

-- Every import job, whoever started it (the CLI, an upload, the watched folder): its progress
-- while it runs, its summary when done, so any replica answers `GET /strava/import/{id}`.
CREATE TABLE import_jobs (
    id          TEXT PRIMARY KEY,
    state       TEXT        NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    files_done  BIGINT      NOT NULL DEFAULT 0,
    files_total BIGINT      NOT NULL DEFAULT 0,
    -- JSON, not JSONB: the summary keeps the key order it is written in
    summary     JSON,
    error       TEXT,
    dry_run     BOOLEAN     NOT NULL DEFAULT FALSE,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);

-- Files of the watched folder already imported, by content: a copy of one costs nothing.
CREATE TABLE import_seen_files (
    sha256  TEXT PRIMARY KEY,
    name    TEXT        NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
