-- Optimizer: job leases (so a crashed worker's job is retried, never stuck), richer run
-- verdicts, and a schema of its own for Optuna's RDB storage tables.

ALTER TABLE optimization_jobs ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz;
ALTER TABLE optimization_jobs ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS optimization_jobs_running_idx
    ON optimization_jobs (heartbeat_at) WHERE status = 'running';

ALTER TABLE optimization_runs ADD COLUMN IF NOT EXISTS worker text;
ALTER TABLE optimization_runs ADD COLUMN IF NOT EXISTS data_source text;
ALTER TABLE optimization_runs ADD COLUMN IF NOT EXISTS walk_forward jsonb;
ALTER TABLE optimization_runs ADD COLUMN IF NOT EXISTS stability jsonb;
ALTER TABLE optimization_runs ADD COLUMN IF NOT EXISTS written_path text;
ALTER TABLE optimization_runs ADD COLUMN IF NOT EXISTS seconds double precision;
CREATE INDEX IF NOT EXISTS optimization_runs_job_idx ON optimization_runs (job_id);

-- Optuna creates its own tables (studies, trials, ...) here, away from ours.
CREATE SCHEMA IF NOT EXISTS optuna;
