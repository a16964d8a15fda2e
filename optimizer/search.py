"""Run one Optuna study: in this process, or K forked processes sharing it through PostgreSQL.

The feature cache is built once in the parent; forked workers inherit it copy-on-write, so K
processes cost one build. The storage hands each trial number to exactly one worker. With one
worker and a seed the TPE search is deterministic; with K, worker i draws with seed + i (and
the `random` sampler draws by trial number, so it is deterministic for any K).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
import warnings
from collections.abc import Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import optuna
import sqlalchemy.exc

from bot.config import SearchSettings
from optimizer.objective import OUTCOME_ATTR
from optimizer.search_space import Values

_log = logging.getLogger(__name__)

ObjectiveFn = Callable[[optuna.Trial], float]
OPTUNA_SCHEMA = "optuna"


def reset_signals() -> None:
    """In a forked worker: die on SIGTERM/SIGINT like a plain process (the parent cleans up)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class SearchError(Exception):
    """The search could not run (a worker died, no storage for several workers)."""


def optuna_storage_url(database_url: str) -> str:
    """SQLAlchemy URL for Optuna's RDB storage on our PostgreSQL (its own schema).

    Keeps every query option (the embedded server's `host=/socket/dir`); trial bookkeeping
    does not need durable commits, so it skips the WAL flush that dominates its cost."""
    parts = urlsplit(database_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={OPTUNA_SCHEMA} -csynchronous_commit=off"))
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", query=urlencode(query)))


class TrialSeededRandomSampler(optuna.samplers.RandomSampler):
    """Random search whose draws depend only on the seed and the trial number: any number of
    workers evaluate exactly the parameter sets one worker would (reproducible, and a fair
    workload for comparing worker counts)."""

    def __init__(self, seed: int | None) -> None:
        super().__init__(seed=seed)
        self._base_seed = seed

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if self._base_seed is not None:
            self._rng.rng.seed((self._base_seed * 1_000_003 + trial.number) % 2**32)


def make_sampler(settings: SearchSettings, worker_index: int = 0) -> optuna.samplers.BaseSampler:
    if settings.sampler == "random":
        return TrialSeededRandomSampler(settings.seed)
    seed = None if settings.seed is None else settings.seed + worker_index
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # `group`
        return _tpe(seed, settings)


def _tpe(seed: int | None, settings: SearchSettings) -> optuna.samplers.TPESampler:
    return optuna.samplers.TPESampler(
        seed=seed,
        n_startup_trials=settings.startup_trials,
        # One joint draw per trial (groups handle the conditional parameters): better on
        # correlated parameters, and one read of the study per trial instead of one per
        # parameter, which is what RDB storage makes expensive.
        multivariate=True,
        group=True,
        # Workers sharing a study see each other's running trials as poor, not as absent,
        # so they do not all sample the same promising point.
        constant_liar=True,
    )


def make_pruner(settings: SearchSettings) -> optuna.pruners.BasePruner:
    if settings.pruner == "none" or settings.probe_fraction >= 1:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials, n_warmup_steps=0)


def _storage(url: str | None, created: bool = False) -> optuna.storages.BaseStorage:
    """In-memory without a URL; else Optuna's RDB storage (`created`: its tables exist and
    match, as in a worker the parent already connected for: skip those checks)."""
    if url is None:
        return optuna.storages.InMemoryStorage()
    for attempt in range(5):
        try:
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},
                skip_compatibility_check=created,
                skip_table_creation=created,
            )
        except sqlalchemy.exc.IntegrityError:
            # Two workers starting at once both create Optuna's tables; the loser finds them
            # made on its next try.
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


class _Progress:
    """Log a line every `every` trials this process finishes (from its own results only:
    reading the shared study back would cost a query per line)."""

    def __init__(self, total: int, label: str, every: int) -> None:
        self.total, self.label, self.every = total, label, max(1, every)
        self.done = 0
        self.feasible = 0
        self.best: float | None = None
        self.started = time.perf_counter()

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.done += 1
        if (trial.user_attrs.get(OUTCOME_ATTR) or {}).get("feasible") and trial.value is not None:
            self.feasible += 1
            self.best = trial.value if self.best is None else max(self.best, trial.value)
        if self.done % self.every and self.done != self.total:
            return
        _log.info(
            "%s: trial %d done (%d here in %.1f s, %d feasible, best here %s)",
            self.label,
            trial.number + 1,
            self.done,
            time.perf_counter() - self.started,
            self.feasible,
            "—" if self.best is None else f"{self.best:.3f}",
        )


class _StopAtBudget:
    """Stop this worker once the study has handed out `n_trials` trial numbers.

    Storage numbers a study's trials 0, 1, 2, ... across all workers, so a finished trial's
    own number says how far the study is, without reading it back (a query per trial).
    Each worker may start one trial past the budget: at most workers - 1 extra."""

    def __init__(self, n_trials: int) -> None:
        self.n_trials = n_trials

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if trial.number >= self.n_trials - 1:
            study.stop()


def _optimize(
    study: optuna.Study, objective: ObjectiveFn, n_trials: int, label: str, shared: bool
) -> None:
    callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = [
        _Progress(n_trials, label, n_trials // 10)
    ]
    if shared:
        callbacks.append(_StopAtBudget(n_trials))
    study.optimize(objective, n_trials=n_trials, callbacks=callbacks, gc_after_trial=False)


def _worker_main(
    index: int,
    study_name: str,
    storage_url: str,
    objective: ObjectiveFn,
    settings: SearchSettings,
    n_trials: int,
) -> None:
    reset_signals()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=study_name,
        storage=_storage(storage_url, created=True),
        sampler=make_sampler(settings, index),
        pruner=make_pruner(settings),
    )
    _optimize(study, objective, n_trials, f"{study_name} worker {index}", shared=True)


def run_study(
    objective: ObjectiveFn,
    *,
    study_name: str,
    settings: SearchSettings,
    n_trials: int,
    workers: int = 1,
    storage_url: str | None = None,
    queued: Sequence[Values] = (),
) -> list[optuna.trial.FrozenTrial]:
    """Run the search and return every trial of the study.

    `queued` parameter sets are evaluated first (warm starts; identical work for benchmarks);
    a queued trial is handed to exactly one worker."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if workers > 1 and storage_url is None:
        raise SearchError("several workers share a study through the database: give one")
    study = optuna.create_study(
        study_name=study_name,
        storage=_storage(storage_url),
        sampler=make_sampler(settings, 0),
        pruner=make_pruner(settings),
        direction="maximize",
        load_if_exists=True,
    )
    for values in queued:
        study.enqueue_trial(values)
    if workers == 1:
        _optimize(study, objective, n_trials, study_name, shared=storage_url is not None)
        return study.get_trials(deepcopy=False)
    assert storage_url is not None
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(
            target=_worker_main,
            args=(i, study_name, storage_url, objective, settings, n_trials),
            name=f"optimizer-worker-{i}",
        )
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    failed = [p.name for p in procs if p.exitcode != 0]
    if failed:
        raise SearchError(f"search worker(s) {', '.join(failed)} exited abnormally")
    return optuna.load_study(study_name=study_name, storage=_storage(storage_url)).get_trials(
        deepcopy=False
    )
