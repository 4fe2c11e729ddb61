ALTER TABLE jobs ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';
ALTER TABLE jobs ADD COLUMN locked_by TEXT;
ALTER TABLE jobs ADD COLUMN last_error TEXT;
ALTER TABLE jobs ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, run_at);
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    owner TEXT,
    lease_until BIGINT NOT NULL,
    last_run_at BIGINT
);
