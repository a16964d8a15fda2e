"""The job queue: concurrent claimers never share a job; a silent worker's job is not stuck."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

from bot.storage.optimizer_store import OptimizerStore, RunVerdict, TrialRecord


def test_concurrent_claimers_never_get_the_same_job(migrated_db_url: str) -> None:
    with OptimizerStore(migrated_db_url) as store:
        jobs = {store.enqueue_job("test", payload={"trials": i}) for i in range(40)}
    claimed: dict[str, list[uuid.UUID]] = {"a": [], "b": [], "c": []}
    start = threading.Barrier(len(claimed))

    def claim_all(name: str) -> None:
        with OptimizerStore(migrated_db_url) as store:
            start.wait()
            while (job := store.claim_job(name)) is not None:
                claimed[name].append(job.job_id)

    threads = [threading.Thread(target=claim_all, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [j for ids in claimed.values() for j in ids]
    assert len(every) == len(set(every)) == 40
    assert set(every) == jobs


def test_stale_job_is_retried_then_failed_and_live_one_kept(migrated_db_url: str) -> None:
    with OptimizerStore(migrated_db_url) as store:
        stale = store.enqueue_job("test")
        job = store.claim_job("crashed-worker")
        assert job is not None and job.job_id == stale and job.attempts == 1
        run_id = store.start_run("study", stale, "crashed-worker", "test")
        time.sleep(1.2)
        live = store.enqueue_job("test")
        assert store.claim_job("live-worker") is not None
        report = store.reclaim_stale_jobs(lease_seconds=1.0, max_attempts=2)
        assert report.retried == [stale] and report.failed == []
        assert store.job_status(stale)[0] == "pending"
        assert store.job_status(live)[0] == "running"
        assert store.run_row(run_id)["status"] == "failed"
        # Second crash: out of attempts, so failed with the reason (never left running).
        again = store.claim_job("crashed-again")
        assert again is not None and again.job_id == stale and again.attempts == 2
        time.sleep(1.2)
        assert store.heartbeat(live, "live-worker")
        report = store.reclaim_stale_jobs(lease_seconds=1.0, max_attempts=2)
        assert report.failed == [stale] and report.retried == []
        status, attempts, error = store.job_status(stale)
        assert (status, attempts) == ("failed", 2)
        assert error is not None and "crashed-again" in error
        assert store.job_status(live)[0] == "running"
        # A reclaimed job can no longer be finished by the worker that lost it.
        assert not store.finish_job(stale, "crashed-again", "done", None)


def test_release_gives_the_job_back_without_using_an_attempt(migrated_db_url: str) -> None:
    with OptimizerStore(migrated_db_url) as store:
        job_id = store.enqueue_job("test")
        assert store.claim_job("w") is not None
        assert store.release_job(job_id, "w", "shutting down")
        assert store.job_status(job_id)[:2] == ("pending", 0)


def test_runs_and_trials_are_recorded_once(migrated_db_url: str) -> None:
    now = datetime.now(UTC)
    with OptimizerStore(migrated_db_url) as store:
        run_id = store.start_run("study", None, "w", "test")
        trials = [
            TrialRecord(i, now, "COMPLETE", float(i), {"long.tp": 100 * i}, None) for i in range(5)
        ]
        assert store.record_trials(run_id, trials) == 5
        assert store.record_trials(run_id, trials) == 0  # replay: no duplicates
        store.finish_run(run_id, RunVerdict(status="done", accepted=False, reason="rejected: x"))
        row = store.run_row(run_id)
        assert (row["status"], row["accepted"], row["reason"]) == ("done", False, "rejected: x")
        assert [n for n, *_ in store.trial_rows(run_id)] == [0, 1, 2, 3, 4]
