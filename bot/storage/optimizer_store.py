"""The optimizer's rows: the job queue (claim, lease, retry), runs, trials and verdicts.

Jobs are claimed with `FOR UPDATE SKIP LOCKED`, so any number of workers on any number of
machines never run the same job. A claimed job carries a lease: the worker refreshes
`heartbeat_at`; a job whose heartbeat is older than the lease belongs to a crashed worker and
goes back to `pending` (or to `failed` once it has used its attempts) — never stuck.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.types.json import Jsonb

from bot.storage.connection import connect_sync

JobStatus = Literal["pending", "running", "done", "failed"]


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    job_id: uuid.UUID
    requested_by: str
    reason: str | None
    payload: dict[str, Any]
    """The request as JSON (hours, data, trials, workers); optimizer/jobs.py validates it."""
    attempts: int


@dataclass(frozen=True, slots=True)
class TrialRecord:
    trial_number: int
    ts: datetime
    state: str
    value: float | None
    params: dict[str, Any]
    metrics: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class RunVerdict:
    status: Literal["done", "failed"]
    accepted: bool | None
    reason: str
    n_trials: int | None = None
    best_value: float | None = None
    best_params: dict[str, Any] | None = None
    is_metrics: dict[str, Any] | None = None
    oos_metrics: dict[str, Any] | None = None
    walk_forward: dict[str, Any] | None = None
    stability: dict[str, Any] | None = None
    written_path: str | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ReclaimReport:
    retried: list[uuid.UUID] = field(default_factory=list)
    failed: list[uuid.UUID] = field(default_factory=list)


class OptimizerStore:
    """One psycopg connection (autocommit); not shared between threads or processes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection = connect_sync(url, autocommit=True)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> OptimizerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ jobs
    def enqueue_job(
        self, requested_by: str, reason: str | None = None, payload: dict[str, Any] | None = None
    ) -> uuid.UUID:
        job_id = uuid.uuid4()
        self._conn.execute(
            "INSERT INTO optimization_jobs (job_id, requested_by, reason, payload) "
            "VALUES (%s, %s, %s, %s)",
            (job_id, requested_by, reason, Jsonb(payload or {})),
        )
        return job_id

    def claim_job(self, worker: str) -> ClaimedJob | None:
        """Take the oldest pending job, or None; concurrent claimers skip each other's rows."""
        row = self._conn.execute(
            """
            UPDATE optimization_jobs
               SET status = 'running', claimed_by = %s, claimed_at = now(),
                   heartbeat_at = now(), attempts = attempts + 1, error = NULL
             WHERE job_id = (SELECT job_id FROM optimization_jobs
                              WHERE status = 'pending'
                              ORDER BY created_at
                              FOR UPDATE SKIP LOCKED
                              LIMIT 1)
            RETURNING job_id, requested_by, reason, payload, attempts
            """,
            (worker,),
        ).fetchone()
        if row is None:
            return None
        return ClaimedJob(row[0], row[1], row[2], dict(row[3] or {}), int(row[4]))

    def heartbeat(self, job_id: uuid.UUID, worker: str) -> bool:
        """Extend the lease; False when the job is no longer ours (reclaimed meanwhile)."""
        cur = self._conn.execute(
            "UPDATE optimization_jobs SET heartbeat_at = now() "
            "WHERE job_id = %s AND claimed_by = %s AND status = 'running'",
            (job_id, worker),
        )
        return cur.rowcount == 1

    def finish_job(
        self, job_id: uuid.UUID, worker: str, status: Literal["done", "failed"], error: str | None
    ) -> bool:
        cur = self._conn.execute(
            "UPDATE optimization_jobs SET status = %s, finished_at = now(), error = %s "
            "WHERE job_id = %s AND claimed_by = %s AND status = 'running'",
            (status, error, job_id, worker),
        )
        return cur.rowcount == 1

    def release_job(self, job_id: uuid.UUID, worker: str, error: str) -> bool:
        """Give a job back (worker shutting down): pending again, the attempt not counted."""
        cur = self._conn.execute(
            "UPDATE optimization_jobs SET status = 'pending', claimed_by = NULL, "
            "claimed_at = NULL, heartbeat_at = NULL, attempts = greatest(attempts - 1, 0), "
            "error = %s WHERE job_id = %s AND claimed_by = %s AND status = 'running'",
            (error, job_id, worker),
        )
        return cur.rowcount == 1

    def reclaim_stale_jobs(self, lease_seconds: float, max_attempts: int) -> ReclaimReport:
        """Jobs whose worker stopped heart-beating: retry, or fail after max_attempts."""
        with self._conn.transaction():
            rows = self._conn.execute(
                """
                SELECT job_id, attempts, claimed_by FROM optimization_jobs
                 WHERE status = 'running'
                   AND coalesce(heartbeat_at, claimed_at) < now() - make_interval(secs => %s)
                 FOR UPDATE SKIP LOCKED
                """,
                (lease_seconds,),
            ).fetchall()
            report = ReclaimReport()
            for job_id, attempts, claimed_by in rows:
                lost = f"worker {claimed_by} stopped responding (lease {lease_seconds:g} s)"
                if attempts >= max_attempts:
                    self._conn.execute(
                        "UPDATE optimization_jobs SET status = 'failed', finished_at = now(), "
                        "error = %s WHERE job_id = %s",
                        (f"{lost}; gave up after {attempts} attempts", job_id),
                    )
                    report.failed.append(job_id)
                else:
                    self._conn.execute(
                        "UPDATE optimization_jobs SET status = 'pending', claimed_by = NULL, "
                        "claimed_at = NULL, heartbeat_at = NULL, error = %s WHERE job_id = %s",
                        (f"{lost}; retrying", job_id),
                    )
                    report.retried.append(job_id)
                self._conn.execute(
                    "UPDATE optimization_runs SET status = 'failed', finished_at = now(), "
                    "reason = %s WHERE job_id = %s AND status = 'running'",
                    (lost, job_id),
                )
        return report

    def job_status(self, job_id: uuid.UUID) -> tuple[JobStatus, int, str | None]:
        row = self._conn.execute(
            "SELECT status, attempts, error FROM optimization_jobs WHERE job_id = %s", (job_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no optimization job {job_id}")
        return row[0], int(row[1]), row[2]

    # ------------------------------------------------------------------ runs
    def start_run(
        self,
        study_name: str,
        job_id: uuid.UUID | None,
        worker: str,
        data_source: str,
        run_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        run_id = run_id or uuid.uuid4()
        self._conn.execute(
            "INSERT INTO optimization_runs (run_id, job_id, started_at, status, study_name, "
            "worker, data_source) VALUES (%s, %s, now(), 'running', %s, %s, %s)",
            (run_id, job_id, study_name, worker, data_source),
        )
        return run_id

    def record_trials(self, run_id: uuid.UUID, trials: Sequence[TrialRecord]) -> int:
        """Insert trials (idempotent on (run_id, trial_number)); returns rows inserted."""
        if not trials:
            return 0
        with self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO optimization_trials (run_id, trial_number, ts, state, value, "
                "params, metrics) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (run_id, trial_number) DO NOTHING",
                [
                    (
                        run_id,
                        t.trial_number,
                        t.ts,
                        t.state,
                        t.value,
                        Jsonb(t.params),
                        Jsonb(t.metrics) if t.metrics is not None else None,
                    )
                    for t in trials
                ],
            )
            return max(cur.rowcount, 0)

    def finish_run(self, run_id: uuid.UUID, verdict: RunVerdict) -> None:
        def js(value: dict[str, Any] | None) -> Jsonb | None:
            return Jsonb(value) if value is not None else None

        self._conn.execute(
            """
            UPDATE optimization_runs
               SET status = %s, finished_at = now(), accepted = %s, reason = %s,
                   n_trials = %s, best_value = %s, best_params = %s, is_metrics = %s,
                   oos_metrics = %s, walk_forward = %s, stability = %s, written_path = %s,
                   seconds = %s
             WHERE run_id = %s
            """,
            (
                verdict.status,
                verdict.accepted,
                verdict.reason,
                verdict.n_trials,
                verdict.best_value,
                js(verdict.best_params),
                js(verdict.is_metrics),
                js(verdict.oos_metrics),
                js(verdict.walk_forward),
                js(verdict.stability),
                verdict.written_path,
                verdict.seconds,
                run_id,
            ),
        )

    def run_row(self, run_id: uuid.UUID) -> dict[str, Any]:
        """One run as a mapping of column -> value (tests, the CLI)."""
        cur = self._conn.execute("SELECT * FROM optimization_runs WHERE run_id = %s", (run_id,))
        row = cur.fetchone()
        if row is None:
            raise KeyError(f"no optimization run {run_id}")
        names = [d.name for d in cur.description or ()]
        return dict(zip(names, row, strict=True))

    def trial_rows(self, run_id: uuid.UUID) -> list[tuple[int, str, float | None, dict[str, Any]]]:
        """(trial_number, state, value, metrics) of a run, by trial number."""
        rows = self._conn.execute(
            "SELECT trial_number, state, value, metrics FROM optimization_trials "
            "WHERE run_id = %s ORDER BY trial_number",
            (run_id,),
        ).fetchall()
        return [(int(n), str(s), v, dict(m or {})) for n, s, v, m in rows]


def json_safe(value: Any) -> Any:
    """Round-trip through JSON so Decimals/enums stored in jsonb become plain numbers/strings."""
    return json.loads(json.dumps(value, default=str))
