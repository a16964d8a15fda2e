"""One optimization run: data -> feature cache -> search -> validation -> (maybe) new params."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from bot.backtest.fast_path import FeatureCache
from bot.config import AccountConfig, OptimizerConfig, ParamTemplate
from bot.datafile import load_market_data
from bot.market.events import MarketEvent
from bot.storage.connection import connect
from bot.storage.optimizer_store import OptimizerStore, RunVerdict, TrialRecord, json_safe
from bot.storage.queries import iter_market_events, market_data_span
from optimizer.objective import OUTCOME_ATTR, Objective
from optimizer.params_writer import write_params
from optimizer.search import optuna_storage_url, run_study
from optimizer.search_space import build_params, obi_level_choices
from optimizer.validation import (
    WalkForwardResult,
    pick_out_of_sample,
    rank_candidates,
    split_window,
    walk_forward,
)

_log = logging.getLogger(__name__)
US_PER_HOUR = 3_600_000_000
MIN_EVENTS = 100


class RunError(Exception):
    """The run cannot proceed (no data, window too short); the message says what to change."""


@dataclass(frozen=True)
class RunRequest:
    data: Path | None = None
    hours: float | None = None
    trials: int | None = None
    workers: int = 1
    job_id: uuid.UUID | None = None
    write: bool = True


@dataclass
class RunReport:
    """What `run-once --json` prints and what the runs table keeps."""

    run_id: str
    status: str  # accepted | rejected
    reason: str
    best_params: dict[str, Any] | None
    in_sample: dict[str, Any] | None
    out_of_sample: dict[str, Any] | None
    walk_forward: dict[str, Any] | None
    stability: dict[str, Any] | None
    written: str | None
    trials: int
    trial_states: dict[str, int]
    seconds: float
    data: str
    candidates_tried: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return json_safe(self.__dict__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def describe_source(request: RunRequest, config: OptimizerConfig) -> str:
    if request.data is not None:
        return str(request.data)
    return f"database, last {request.hours or config.window.hours:g} h"


def load_events(
    request: RunRequest, config: OptimizerConfig, store: OptimizerStore | None
) -> list[MarketEvent]:
    """The run's market data: the file, or the newest `hours` of the database."""
    if request.data is not None:
        return list(load_market_data(request.data).events)
    if store is None:
        raise RunError("no --data file and no database to read recent market data from")
    return asyncio.run(_recent_events(store.url, request.hours or config.window.hours))


async def _recent_events(url: str, hours: float) -> list[MarketEvent]:
    conn = await connect(url)
    try:
        span = await market_data_span(conn)
        if span is None:
            raise RunError("the database holds no market data (record some, or give --data FILE)")
        end = span[1] + 1
        start = end - int(hours * US_PER_HOUR)
        return [e async for e in iter_market_events(conn, start, end)]
    finally:
        await conn.close()


def build_cache(events: list[MarketEvent], template: ParamTemplate) -> FeatureCache:
    started = time.perf_counter()
    cache = FeatureCache.build(events, obi_level_choices(template))
    _log.info(
        "feature cache: %d events, %.0f MB, built in %.1f s",
        len(cache),
        cache.nbytes / 1e6,
        time.perf_counter() - started,
    )
    return cache


def _trial_records(trials: list[optuna.trial.FrozenTrial]) -> list[TrialRecord]:
    out = []
    for t in trials:
        outcome = t.user_attrs.get(OUTCOME_ATTR) or {}
        ts = t.datetime_complete or t.datetime_start
        if ts is None:
            continue
        if ts.tzinfo is None:  # Optuna keeps naive local times
            ts = ts.astimezone()
        out.append(
            TrialRecord(
                trial_number=t.number,
                ts=ts,
                state=t.state.name,
                value=t.value,
                params=json_safe(t.params),
                metrics=json_safe(outcome) if outcome else None,
            )
        )
    return out


def run_optimization(
    request: RunRequest,
    *,
    config: OptimizerConfig,
    template: ParamTemplate,
    account: AccountConfig,
    params_path: Path,
    store: OptimizerStore | None,
    cache: FeatureCache | None = None,
    data_label: str | None = None,
) -> RunReport:
    """Search, validate, and write the parameters only when every check passes.

    The market data comes from `request` (file or database) unless a prebuilt feature
    `cache` is given (benchmarks, tests)."""
    started = time.perf_counter()
    run_id = uuid.uuid4()
    study_name = f"run-{run_id}"
    label = data_label or describe_source(request, config)
    if store is not None:
        store.start_run(study_name, request.job_id, worker_name(), label, run_id)
    try:
        if cache is None:
            events = load_events(request, config, store)
            if len(events) < MIN_EVENTS:
                raise RunError(f"{label}: only {len(events)} market events; need a longer window")
            _log.info("run %s: %d events from %s", run_id, len(events), label)
            cache = build_cache(events, template)
            del events
        report = _run(
            request, run_id, study_name, cache, label, config, template, account,
            params_path, store, started,
        )  # fmt: skip
    except BaseException as exc:
        if store is not None:
            verdict = RunVerdict(
                status="failed",
                accepted=None,
                reason=f"{type(exc).__name__}: {exc}"[:2000],
                seconds=time.perf_counter() - started,
            )
            try:
                store.finish_run(run_id, verdict)
            except Exception as db_exc:  # the original error is the one to report
                _log.warning("run %s: could not record the failure: %s", run_id, db_exc)
        raise
    return report


def _run(
    request: RunRequest,
    run_id: uuid.UUID,
    study_name: str,
    full: FeatureCache,
    data_label: str,
    config: OptimizerConfig,
    template: ParamTemplate,
    account: AccountConfig,
    params_path: Path,
    store: OptimizerStore | None,
    started: float,
) -> RunReport:
    in_sample, out_of_sample = split_window(full, config.window.out_of_sample_fraction)
    n_trials = request.trials or config.search.trials
    workers = request.workers
    storage_url = optuna_storage_url(store.url) if store is not None else None
    if storage_url is None and workers > 1:
        _log.warning("no database: running 1 worker instead of %d", workers)
        workers = 1
    _log.info(
        "search: %d trials, %d worker(s), in-sample %d events, out-of-sample %d events",
        n_trials,
        workers,
        len(in_sample),
        len(out_of_sample),
    )
    trials = run_study(
        Objective(in_sample, template, config, account),
        study_name=study_name,
        settings=config.search,
        n_trials=n_trials,
        workers=workers,
        storage_url=storage_url,
    )
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    states["FEASIBLE"] = sum(
        1 for t in trials if (t.user_attrs.get(OUTCOME_ATTR) or {}).get("feasible")
    )
    _log.info("search done: %s", ", ".join(f"{k.lower()} {v}" for k, v in states.items()))
    if store is not None:
        store.record_trials(run_id, _trial_records(trials))

    candidates = rank_candidates(trials, config.acceptance.candidates)
    accepted, tried, reason = pick_out_of_sample(
        candidates, out_of_sample, full, template, config, account
    )
    wf: WalkForwardResult | None = None
    if accepted is not None and config.walk_forward.enabled:
        wf = walk_forward(full, template, config, account, accepted.candidate.values, workers)
        if not wf.passed:
            reason = (
                f"{reason} out of sample, but walk-forward failed: {wf.passed_splits}/"
                f"{len(wf.splits)} splits passed < {wf.min_success_ratio:.0%}"
            )
            accepted_ok = False
        else:
            reason = (
                f"{reason} out of sample; walk-forward {wf.passed_splits}/{len(wf.splits)} "
                "splits passed"
            )
            accepted_ok = True
    else:
        accepted_ok = accepted is not None
        if accepted is not None:
            reason += " out of sample"
    if accepted is not None and accepted.stability is not None and accepted_ok:
        reason += f"; stability: {accepted.stability.reason}"

    shown = accepted or (tried[0] if tried else None)
    written: str | None = None
    if accepted_ok and accepted is not None and request.write:
        params = build_params(template, accepted.candidate.values)
        assert params is not None
        version = write_params(
            params_path,
            params,
            run_id=str(run_id),
            note=reason,
            keep=config.history_keep,
        )
        written = str(params_path)
        _log.info("wrote %s (version %s)", params_path, version.version)
    status = "accepted" if accepted_ok else "rejected"
    _log.info("run %s %s: %s", run_id, status, reason)
    report = RunReport(
        run_id=str(run_id),
        status=status,
        reason=reason,
        best_params=shown.candidate.values if shown else None,
        in_sample=shown.candidate.in_sample if shown else None,
        out_of_sample=shown.out_of_sample if shown else None,
        walk_forward=wf.as_json() if wf else None,
        stability=shown.stability.as_json() if shown and shown.stability else None,
        written=written,
        trials=len(trials),
        trial_states=states,
        seconds=round(time.perf_counter() - started, 3),
        data=data_label,
        candidates_tried=[
            {
                "trial": v.candidate.trial_number,
                "in_sample_value": v.candidate.value,
                "out_of_sample": v.out_of_sample,
                "failures": v.failures,
                "stability": v.stability.as_json() if v.stability else None,
            }
            for v in tried
        ],
    )
    if store is not None:
        best_value = shown.candidate.value if shown else None
        store.finish_run(
            run_id,
            RunVerdict(
                status="done",
                accepted=accepted_ok,
                reason=reason,
                n_trials=len(trials),
                best_value=best_value,
                best_params=json_safe(report.best_params),
                is_metrics=report.in_sample,
                oos_metrics=report.out_of_sample,
                walk_forward=report.walk_forward,
                stability=report.stability,
                written_path=written,
                seconds=report.seconds,
            ),
        )
    return report
