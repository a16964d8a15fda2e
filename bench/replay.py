"""Backtester benchmarks on 24 h of synthetic data, one core.

An "event" is one order-book level change or one trade (Coincheck sends ~11 level changes per
book message), the unit of the issue's targets; messages per second are reported beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from bench._common import Measurement, measurement
from bench._data import synthetic_24h
from bot.backtest.fast_path import FeatureCache, evaluate
from bot.backtest.runner import run_backtest
from bot.config import AccountConfig, load_param_template, load_trade_params
from bot.datafile import load_market_data


def run() -> list[Measurement]:
    data = synthetic_24h()
    out: list[Measurement] = []

    # End to end, as a user runs it: parse the file, replay, print JSON. Peak RSS of that child
    # alone (os.wait4), not of every process this benchmark run has started.
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "simulate", "--data", str(data), "--json"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"simulate exited with {proc.returncode}")
    summary = json.loads(stdout)
    out.append(measurement("simulate_peak_rss_mb", usage.ru_maxrss / 1024, "MB"))
    out.append(
        measurement("simulate_end_to_end_events_per_sec", summary["events"] / wall, "events/s")
    )

    params = load_trade_params("config/trade_config.yaml")
    events = load_market_data(data).events
    started = time.perf_counter()
    result = run_backtest(events, params, AccountConfig())
    seconds = time.perf_counter() - started
    out.append(measurement("replay_events_per_sec", result.level_events / seconds, "events/s"))
    out.append(measurement("replay_messages_per_sec", result.events / seconds, "messages/s"))

    template = load_param_template("config/trade_config.yaml.template")
    started = time.perf_counter()
    cache = FeatureCache.build(events)
    out.append(measurement("feature_cache_build_seconds", time.perf_counter() - started, "s"))
    del events
    sets = [
        template.build({}),
        template.build({"signal.composite_threshold": 0.6, "signal.obi_levels": 5}),
        template.build({"dynamic_threshold.enabled": True, "signal.cvd_window_seconds": 30.0}),
        template.build({"signal.composite_threshold": 0.9, "long.tp": 4000, "short.tp": 4000}),
    ]
    evaluate(cache, sets[0], AccountConfig())  # warm the per-window caches like an optimizer
    started = time.perf_counter()
    rounds = 0
    for _ in range(3):
        for p in sets:
            evaluate(cache, p, AccountConfig())
            rounds += 1
    seconds = (time.perf_counter() - started) / rounds
    out.append(measurement("fast_eval_events_per_sec", cache.level_events / seconds, "events/s"))
    out.append(measurement("fast_eval_seconds_per_param_set_24h", seconds, "s"))
    return out
