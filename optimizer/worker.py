"""`serve`: claim optimization jobs from the database one at a time and run them.

A claimed job holds a lease the worker renews from a heartbeat thread. If this process dies,
the heartbeats stop and any worker's next poll puts the job back to pending (or fails it after
`max_attempts`), so no job is left running forever. SIGTERM/SIGINT give the job back at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from bot.config import AccountConfig, OptimizerConfig, ParamTemplate
from bot.storage.optimizer_store import ClaimedJob, OptimizerStore
from optimizer.jobs import JobRequestError, parse_job_request
from optimizer.run import RunRequest, run_optimization, worker_name

_log = logging.getLogger(__name__)


class Shutdown(Exception):
    """SIGTERM/SIGINT: stop after giving the current job back."""


@dataclass(frozen=True)
class ServeOptions:
    exit_when_idle: bool = False
    max_jobs: int | None = None
    workers: int | None = None


class _Heartbeat:
    """Renews the job's lease every `interval` seconds on its own connection."""

    def __init__(self, url: str, job_id: uuid.UUID, worker: str, interval: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(url, job_id, worker, interval), daemon=True
        )

    def _run(self, url: str, job_id: uuid.UUID, worker: str, interval: float) -> None:
        with OptimizerStore(url) as store:
            while not self._stop.wait(interval):
                try:
                    if not store.heartbeat(job_id, worker):
                        _log.warning("job %s is no longer ours (lease expired?)", job_id)
                        return
                except Exception as exc:  # keep trying: a blip must not cost the job
                    _log.warning("heartbeat for job %s failed: %s", job_id, exc)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise Shutdown(signal.Signals(signum).name)


def run_job(
    job: ClaimedJob,
    store: OptimizerStore,
    worker: str,
    *,
    config: OptimizerConfig,
    template: ParamTemplate,
    account: AccountConfig,
    params_path: Path,
    workers: int,
) -> None:
    """Run one claimed job to done or failed (never leaves it running)."""
    _log.info("job %s claimed (attempt %d, by %s)", job.job_id, job.attempts, job.requested_by)
    try:
        req = parse_job_request(job.payload)
    except JobRequestError as exc:
        store.finish_job(job.job_id, worker, "failed", str(exc))
        _log.error("job %s refused: %s", job.job_id, exc)
        return
    request = RunRequest(
        data=Path(req.data) if req.data else None,
        hours=req.hours,
        trials=req.trials,
        workers=req.workers or workers,
        job_id=job.job_id,
    )
    with _Heartbeat(store.url, job.job_id, worker, config.worker.heartbeat_seconds):
        try:
            report = run_optimization(
                request,
                config=config,
                template=template,
                account=account,
                params_path=params_path,
                store=store,
            )
        except Shutdown:
            store.release_job(job.job_id, worker, "worker shut down mid-run; will be retried")
            _log.warning("job %s given back (shutdown)", job.job_id)
            raise
        except Exception as exc:
            store.finish_job(job.job_id, worker, "failed", f"{type(exc).__name__}: {exc}")
            _log.exception("job %s failed", job.job_id)
            return
    store.finish_job(job.job_id, worker, "done", None)
    _log.info("job %s done: %s", job.job_id, report.reason)


def serve(
    url: str,
    *,
    config: OptimizerConfig,
    template: ParamTemplate,
    account: AccountConfig,
    params_path: Path,
    options: ServeOptions,
) -> int:
    """Poll for jobs until stopped; returns the number of jobs run."""
    worker = worker_name()
    workers = options.workers or config.worker.workers
    previous = {s: signal.signal(s, _raise_shutdown) for s in (signal.SIGTERM, signal.SIGINT)}
    ran = 0
    _log.info("optimizer worker %s serving (%d local process(es) per job)", worker, workers)
    try:
        with OptimizerStore(url) as store:
            while options.max_jobs is None or ran < options.max_jobs:
                reclaimed = store.reclaim_stale_jobs(
                    config.worker.lease_seconds, config.worker.max_attempts
                )
                for job_id in reclaimed.retried:
                    _log.warning("job %s: its worker stopped responding; queued again", job_id)
                for job_id in reclaimed.failed:
                    _log.error("job %s: its worker stopped responding; out of attempts", job_id)
                job = store.claim_job(worker)
                if job is None:
                    if options.exit_when_idle:
                        break
                    time.sleep(config.worker.poll_interval_seconds)
                    continue
                run_job(
                    job,
                    store,
                    worker,
                    config=config,
                    template=template,
                    account=account,
                    params_path=params_path,
                    workers=workers,
                )
                ran += 1
    except Shutdown as exc:
        _log.info("optimizer worker %s stopping (%s)", worker, exc)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return ran
