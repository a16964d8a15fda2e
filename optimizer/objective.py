"""What a trial is worth: one fast-path backtest of the suggested parameters in-sample.

A trial first runs on a leading probe of the window; one already past the drawdown limit there,
or below the pruner's median, stops (pruned) without paying for the whole window. Feasibility
(minimum trades, maximum drawdown) goes to the sampler as constraints, not into the value.
"""

from __future__ import annotations

import math
import os
from typing import Any

import optuna

from bot.backtest.fast_path import FeatureCache, evaluate
from bot.backtest.metrics import PerformanceMetrics
from bot.config import AccountConfig, ConstraintSettings, OptimizerConfig, ParamTemplate
from optimizer.search_space import build_params, suggest

OUTCOME_ATTR = "outcome"


def score(metrics: PerformanceMetrics, objective: str) -> float:
    """The value the search maximises."""
    if objective == "pnl":
        return float(metrics.pnl_jpy)
    # Per-trade Sharpe x sqrt(trades): the t-statistic of the mean trade; rewards an edge that
    # is both large and seen often, and is 0 without a measurable spread.
    if metrics.sharpe is None:
        return 0.0
    return metrics.sharpe * math.sqrt(metrics.trades)


def constraint_violation(metrics: PerformanceMetrics, limits: ConstraintSettings) -> float:
    """How far outside the constraints, as summed relative shortfalls (<= 0: feasible).

    One number, not one per constraint: every constraint value is a storage round trip."""
    short_trades = max(0.0, (limits.min_trades - metrics.trades) / max(1, limits.min_trades))
    excess_dd = max(
        0.0, float((metrics.max_drawdown_jpy - limits.max_drawdown_jpy) / limits.max_drawdown_jpy)
    )
    return short_trades + excess_dd


def metrics_json(metrics: PerformanceMetrics) -> dict[str, Any]:
    return metrics.as_json()


class Objective:
    """Callable for `study.optimize`; holds the in-sample cache (built once per process)."""

    def __init__(
        self,
        cache: FeatureCache,
        template: ParamTemplate,
        config: OptimizerConfig,
        account: AccountConfig,
    ) -> None:
        self.cache = cache
        self.template = template
        self.config = config
        self.account = account
        self.probe: FeatureCache | None = None
        fraction = config.search.probe_fraction
        if fraction < 1 and len(cache) > 1:
            start, end = int(cache.ts[0]), int(cache.ts[-1])
            self.probe = cache.slice(start, start + int((end - start) * fraction))

    def __call__(self, trial: optuna.Trial) -> float:
        values = suggest(trial, self.template)
        params = build_params(self.template, values)
        if params is None:
            trial.set_user_attr(OUTCOME_ATTR, {"pruned": "invalid combination", "pid": os.getpid()})
            raise optuna.TrialPruned("invalid parameter combination")
        objective = self.config.search.objective
        if self.probe is not None:
            probe = evaluate(self.probe, params, self.account).metrics
            if probe.max_drawdown_jpy > self.config.constraints.max_drawdown_jpy:
                trial.set_user_attr(
                    OUTCOME_ATTR, {"pruned": "probe drawdown over the limit", "pid": os.getpid()}
                )
                raise optuna.TrialPruned("probe drawdown over the limit")
            # A probe with under half its share of the required trades will not reach the
            # minimum on the whole window.
            fraction = self.config.search.probe_fraction
            if probe.trades < self.config.constraints.min_trades * fraction / 2:
                trial.set_user_attr(
                    OUTCOME_ATTR, {"pruned": "too few trades in the probe", "pid": os.getpid()}
                )
                raise optuna.TrialPruned("too few trades in the probe")
            trial.report(score(probe, objective), step=0)
            if trial.should_prune():
                trial.set_user_attr(
                    OUTCOME_ATTR, {"pruned": "probe below the median", "pid": os.getpid()}
                )
                raise optuna.TrialPruned("probe below the median")
        metrics = evaluate(self.cache, params, self.account).metrics
        violation = constraint_violation(metrics, self.config.constraints)
        trial.set_constraint("violation", violation)
        trial.set_user_attr(
            OUTCOME_ATTR,
            {
                "metrics": metrics_json(metrics),
                "violation": violation,
                "feasible": violation <= 0,
                "pid": os.getpid(),
            },
        )
        return score(metrics, objective)
