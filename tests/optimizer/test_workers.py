"""Processes: workers sharing a study, serve workers sharing a queue, and crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

from bot.backtest.fast_path import FeatureCache
from bot.config import AccountConfig, OptimizerConfig, ParamTemplate, dump_trade_params
from bot.storage.optimizer_store import OptimizerStore
from optimizer.objective import OUTCOME_ATTR, Objective
from optimizer.search import optuna_storage_url, run_study
from optimizer.validation import split_window

ROOT = Path(__file__).resolve().parents[2]


def _cli(app_files: tuple[Path, Path, Path], *args: str) -> list[str]:
    app, opt, _ = app_files
    return [
        sys.executable,
        "-m",
        "optimizer",
        "--config",
        str(app),
        "--optimizer-config",
        str(opt),
        *args,
    ]


def _env(db_url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": db_url}


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_share_one_study_and_never_run_a_trial_twice(
    edge_cache: FeatureCache,
    small_config: OptimizerConfig,
    template: ParamTemplate,
    migrated_db_url: str,
) -> None:
    in_sample, _ = split_window(edge_cache, 0.3)
    trials = run_study(
        Objective(in_sample, template, small_config, AccountConfig()),
        study_name=f"test-{uuid.uuid4()}",
        settings=small_config.search,
        n_trials=30,
        workers=2,
        storage_url=optuna_storage_url(migrated_db_url),
    )
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials)))
    assert 30 <= len(trials) <= 31  # the last two may start together: at most one extra
    pids = {(t.user_attrs.get(OUTCOME_ATTR) or {}).get("pid") for t in trials}
    assert len(pids - {None}) == 2 and os.getpid() not in pids
    # Each trial was run (finished) by exactly one process: states are final, none running.
    assert all(t.state.is_finished() for t in trials)


def test_two_workers_split_exactly_the_work_of_one(
    edge_cache: FeatureCache,
    small_config: OptimizerConfig,
    template: ParamTemplate,
    migrated_db_url: str,
) -> None:
    """Random search keyed by trial number: 2 workers evaluate the 1-worker parameter sets,
    each exactly once, split between them."""
    settings = small_config.search.model_copy(update={"sampler": "random", "pruner": "none"})
    config = small_config.model_copy(update={"search": settings})
    in_sample, _ = split_window(edge_cache, 0.3)

    def param_sets(workers: int) -> tuple[list[tuple], set]:
        trials = run_study(
            Objective(in_sample, template, config, AccountConfig()),
            study_name=f"test-{uuid.uuid4()}",
            settings=settings,
            n_trials=20,
            workers=workers,
            storage_url=optuna_storage_url(migrated_db_url),
        )
        trials = [t for t in trials if t.number < 20]  # a worker may start one past the budget
        pids = {(t.user_attrs.get(OUTCOME_ATTR) or {}).get("pid") for t in trials}
        return [tuple(sorted(t.params.items())) for t in trials], pids

    one, _ = param_sets(1)
    two, pids = param_sets(2)
    assert len(set(one)) == 20
    assert sorted(two) == sorted(one)
    assert len(pids) == 2


def test_killed_run_leaves_the_old_params_intact(
    app_files: tuple[Path, Path, Path],
    edge_file: Path,
    template: ParamTemplate,
    migrated_db_url: str,
) -> None:
    params = app_files[2]
    params.parent.mkdir(parents=True)
    old = dump_trade_params(template.build({}))
    params.write_text(old)
    proc = subprocess.Popen(
        _cli(app_files, "run-once", "--data", str(edge_file), "--trials", "5000", "--workers", "2"),
        env=_env(migrated_db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        with OptimizerStore(migrated_db_url) as store:
            _wait_for(lambda: _optuna_trials(store) >= 10, 60, "the search to be under way")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its forked workers, mid-search
        proc.wait(timeout=10)
    assert params.read_text() == old
    assert sorted(p.name for p in params.parent.iterdir()) == ["trade_config.yaml"]


def _optuna_trials(store: OptimizerStore) -> int:
    """Trials Optuna has started in the database so far (0 before its tables exist)."""
    exists = store._conn.execute("SELECT to_regclass('optuna.trials') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = store._conn.execute("SELECT count(*) FROM optuna.trials").fetchone()
    return int(row[0]) if row else 0


def test_run_once_json_prints_one_object_and_writes(
    app_files: tuple[Path, Path, Path], edge_file: Path, migrated_db_url: str
) -> None:
    done = subprocess.run(
        _cli(app_files, "run-once", "--data", str(edge_file), "--trials", "30", "--json"),
        env=_env(migrated_db_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # exactly one JSON document, nothing else on stdout
    for key in ("status", "best_params", "in_sample", "out_of_sample", "walk_forward", "written",
                "trials", "seconds"):  # fmt: skip
        assert key in report
    assert report["status"] == "accepted" and report["trials"] == 30
    assert report["written"] == str(app_files[2]) and app_files[2].is_file()
    assert "search done" in done.stderr  # progress goes to the log (stderr)


def test_two_serve_workers_run_each_job_exactly_once(
    app_files: tuple[Path, Path, Path], edge_file: Path, migrated_db_url: str
) -> None:
    with OptimizerStore(migrated_db_url) as store:
        jobs = [
            store.enqueue_job("test", payload={"data": str(edge_file), "trials": 15})
            for _ in range(3)
        ]
    cmd = _cli(app_files, "serve", "--exit-when-idle")
    procs = [
        subprocess.Popen(
            cmd, env=_env(migrated_db_url), cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    with psycopg.connect(migrated_db_url) as conn:
        rows = conn.execute(
            "SELECT j.job_id, j.status, j.attempts, count(r.run_id), min(r.worker), min(j.claimed_by), "
            "min(j.error) "
            "FROM optimization_jobs j LEFT JOIN optimization_runs r USING (job_id) "
            "GROUP BY j.job_id, j.status, j.attempts"
        ).fetchall()
    assert {r[0] for r in rows} == set(jobs)
    for _job, status, attempts, runs, run_worker, claimed_by, error in rows:
        assert (status, attempts, runs) == ("done", 1, 1), error
        assert run_worker == claimed_by  # the run was made by the worker that claimed the job


def test_job_of_a_killed_serve_worker_is_retried_by_another(
    app_files: tuple[Path, Path, Path], edge_file: Path, migrated_db_url: str
) -> None:
    params = app_files[2]
    with OptimizerStore(migrated_db_url) as store:
        job_id = store.enqueue_job("test", payload={"data": str(edge_file), "trials": 5000})
        first = subprocess.Popen(
            _cli(app_files, "serve"),
            env=_env(migrated_db_url),
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_for(lambda: store.job_status(job_id)[0] == "running", 60, "the job to be claimed")
            time.sleep(1.0)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        assert store.job_status(job_id)[0] == "running"  # as the crash left it
        assert not params.exists()
        # Make the retry quick: same job, fewer trials (as an operator might).
        store._conn.execute(
            "UPDATE optimization_jobs SET payload = payload || '{\"trials\": 15}' WHERE job_id = %s",
            (job_id,),
        )
        time.sleep(2.5)  # past the 2 s lease of the test configuration
        second = subprocess.run(
            _cli(app_files, "serve", "--exit-when-idle"),
            env=_env(migrated_db_url),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stderr
        status, attempts, error = store.job_status(job_id)
        assert (status, attempts) == ("done", 2), error
        assert "stopped responding" in second.stderr
        runs = store._conn.execute(
            "SELECT status FROM optimization_runs WHERE job_id = %s ORDER BY started_at", (job_id,)
        ).fetchall()
        assert [r[0] for r in runs] == ["failed", "done"]
