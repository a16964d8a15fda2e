-- Drift monitor: severities are those of the decision (none/minor/normal/major/unknown), and
-- one row per check is the normal case, so the latest decision needs a fast lookup.
UPDATE drift_events SET severity = CASE severity
    WHEN 'info' THEN 'none' WHEN 'warning' THEN 'normal' WHEN 'critical' THEN 'major'
    ELSE severity END;
ALTER TABLE drift_events DROP CONSTRAINT IF EXISTS drift_events_severity_check;
ALTER TABLE drift_events ADD CONSTRAINT drift_events_severity_check
    CHECK (severity IN ('none', 'minor', 'normal', 'major', 'unknown'));
CREATE INDEX IF NOT EXISTS drift_events_detector_ts_idx ON drift_events (detector, ts DESC);
-- Cool-down and "one job outstanding" look at the newest jobs.
CREATE INDEX IF NOT EXISTS optimization_jobs_created_idx ON optimization_jobs (created_at DESC);
