"""Checks a parameter set must pass before it trades: out-of-sample, walk-forward, stability.

- Out-of-sample: the best in-sample candidates, in order, on the held-out tail of the window;
  the first meeting the thresholds wins; a run of losing candidates ends the search early.
- Walk-forward: the whole procedure (search, pick) repeated on rolling train chunks, each
  judged on the chunk that follows; enough splits must pass.
- Stability: the winner with every numeric parameter jittered must not collapse.
"""

from __future__ import annotations

import itertools
import logging
import random
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import optuna

from bot.backtest.fast_path import FeatureCache, evaluate
from bot.backtest.metrics import PerformanceMetrics
from bot.config import (
    AcceptanceSettings,
    AccountConfig,
    OptimizerConfig,
    ParamTemplate,
    StabilitySettings,
)
from optimizer.objective import OUTCOME_ATTR, Objective
from optimizer.search_space import Values, build_params, jitter

_log = logging.getLogger(__name__)


def split_window(cache: FeatureCache, oos_fraction: float) -> tuple[FeatureCache, FeatureCache]:
    """(in-sample, out-of-sample): the last `oos_fraction` of the time span is held out."""
    start, end = int(cache.ts[0]), int(cache.ts[-1]) + 1
    cut = end - int((end - start) * oos_fraction)
    return cache.slice(start, cut), cache.slice(cut, end)


def chunks(cache: FeatureCache, n: int) -> list[tuple[int, int]]:
    """n consecutive equal time spans [start, end) covering the cache."""
    start, end = int(cache.ts[0]), int(cache.ts[-1]) + 1
    edges = [start + (end - start) * k // n for k in range(n + 1)]
    return list(itertools.pairwise(edges))


# --------------------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Candidate:
    trial_number: int
    value: float
    values: Values
    in_sample: dict[str, Any]


def rank_candidates(trials: Sequence[optuna.trial.FrozenTrial], limit: int) -> list[Candidate]:
    """Feasible completed trials, best value first, one per distinct parameter set."""
    done = [
        t
        for t in trials
        if t.state is optuna.trial.TrialState.COMPLETE
        and t.value is not None
        and (t.user_attrs.get(OUTCOME_ATTR) or {}).get("feasible")
    ]
    done.sort(key=lambda t: (-float(t.value or 0.0), t.number))
    out: list[Candidate] = []
    seen: set[tuple[tuple[str, Any], ...]] = set()
    for t in done:
        key = tuple(sorted(t.params.items()))
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Candidate(
                t.number,
                float(t.value or 0.0),
                dict(t.params),
                t.user_attrs[OUTCOME_ATTR]["metrics"],
            )
        )
        if len(out) == limit:
            break
    return out


def oos_failures(metrics: PerformanceMetrics, rules: AcceptanceSettings) -> list[str]:
    """Why an out-of-sample result falls short (empty: it passes)."""
    why = []
    if metrics.trades < rules.min_trades:
        why.append(f"{metrics.trades} trades < {rules.min_trades}")
    if metrics.pnl_jpy <= 0:
        why.append(f"PnL {float(metrics.pnl_jpy):.0f} JPY <= 0")
    pf = metrics.profit_factor
    if pf is not None and pf < rules.min_profit_factor:
        why.append(f"profit factor {pf:.2f} < {rules.min_profit_factor}")
    if metrics.sharpe is None or metrics.sharpe < rules.min_sharpe:
        shown = "n/a" if metrics.sharpe is None else f"{metrics.sharpe:.3f}"
        why.append(f"Sharpe {shown} < {rules.min_sharpe}")
    if metrics.max_drawdown_jpy > rules.max_drawdown_jpy:
        why.append(f"drawdown {float(metrics.max_drawdown_jpy):.0f} > {rules.max_drawdown_jpy}")
    return why


@dataclass
class CandidateVerdict:
    candidate: Candidate
    out_of_sample: dict[str, Any]
    failures: list[str]
    stability: StabilityResult | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and (self.stability is None or self.stability.passed)


# --------------------------------------------------------------------------- stability
@dataclass
class StabilityResult:
    samples: int
    profitable: int
    baseline_pnl_jpy: float
    median_pnl_jpy: float
    passed: bool
    reason: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check_stability(
    cache: FeatureCache,
    template: ParamTemplate,
    values: Values,
    settings: StabilitySettings,
    account: AccountConfig,
    seed: int | None,
) -> StabilityResult:
    """Jittered copies of `values` on `cache`: enough must profit, the median must hold up."""
    params = build_params(template, values)
    assert params is not None
    baseline = float(evaluate(cache, params, account).metrics.pnl_jpy)
    rng = random.Random(seed)
    pnls: list[float] = []
    attempts = 0
    while len(pnls) < settings.samples and attempts < settings.samples * 5:
        attempts += 1
        moved = build_params(template, jitter(values, template, rng, settings.jitter))
        if moved is not None:
            pnls.append(float(evaluate(cache, moved, account).metrics.pnl_jpy))
    profitable = sum(p > 0 for p in pnls)
    median = statistics.median(pnls) if pnls else 0.0
    share = profitable / len(pnls) if pnls else 0.0
    problems = []
    if share < settings.min_profitable_share:
        problems.append(
            f"{profitable}/{len(pnls)} jittered sets profitable < {settings.min_profitable_share:.0%}"
        )
    if baseline > 0 and median < settings.min_pnl_ratio * baseline:
        problems.append(
            f"median jittered PnL {median:.0f} < {settings.min_pnl_ratio:g} x {baseline:.0f} JPY"
        )
    reason = "; ".join(problems) or f"{profitable}/{len(pnls)} jittered sets profitable"
    return StabilityResult(len(pnls), profitable, baseline, median, not problems, reason)


def pick_out_of_sample(
    candidates: Sequence[Candidate],
    oos: FeatureCache,
    full: FeatureCache,
    template: ParamTemplate,
    config: OptimizerConfig,
    account: AccountConfig,
) -> tuple[CandidateVerdict | None, list[CandidateVerdict], str]:
    """The first candidate passing out-of-sample (and stability), the ones tried, and why."""
    tried: list[CandidateVerdict] = []
    losing_streak = 0
    rules = config.acceptance
    for rank, cand in enumerate(candidates, 1):
        params = build_params(template, cand.values)
        assert params is not None
        metrics = evaluate(oos, params, account).metrics
        verdict = CandidateVerdict(cand, metrics.as_json(), oos_failures(metrics, rules))
        tried.append(verdict)
        if not verdict.failures and config.stability.enabled:
            verdict.stability = check_stability(
                full, template, cand.values, config.stability, account, config.search.seed
            )
        _log.info(
            "candidate %d/%d (trial %d): OOS %d trades, PnL %.0f JPY: %s",
            rank,
            len(candidates),
            cand.trial_number,
            metrics.trades,
            float(metrics.pnl_jpy),
            "; ".join(verdict.failures)
            or (f"stability: {verdict.stability.reason}" if verdict.stability else "passes"),
        )
        if verdict.passed:
            return verdict, tried, f"candidate {rank} (trial {cand.trial_number}) passed"
        losing_streak = losing_streak + 1 if metrics.pnl_jpy <= 0 else 0
        if losing_streak >= rules.hopeless_after:
            return (
                None,
                tried,
                f"stopped after {rank} candidates: the last {losing_streak} lost money "
                "out of sample",
            )
    if not candidates:
        return None, tried, "no feasible in-sample candidate (constraints never met)"
    best = tried[0]
    first = "; ".join(best.failures) or (best.stability.reason if best.stability else "")
    return None, tried, f"none of {len(tried)} candidates passed (best: {first})"


# --------------------------------------------------------------------------- walk-forward
@dataclass
class SplitResult:
    split: int
    train: tuple[int, int]
    validate: tuple[int, int]
    trades: int
    pnl_jpy: float
    profit_factor: float | None
    passed: bool
    reason: str


@dataclass
class WalkForwardResult:
    splits: list[SplitResult] = field(default_factory=list)
    min_success_ratio: float = 0.0

    @property
    def passed_splits(self) -> int:
        return sum(s.passed for s in self.splits)

    @property
    def ratio(self) -> float:
        return self.passed_splits / len(self.splits) if self.splits else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.splits) and self.ratio >= self.min_success_ratio

    def as_json(self) -> dict[str, Any]:
        return {
            "splits": [asdict(s) for s in self.splits],
            "passed_splits": self.passed_splits,
            "ratio": self.ratio,
            "min_success_ratio": self.min_success_ratio,
            "passed": self.passed,
        }


def walk_forward_split(
    index: int,
    cache: FeatureCache,
    template: ParamTemplate,
    config: OptimizerConfig,
    account: AccountConfig,
    warm_start: Values | None,
) -> SplitResult:
    """Search on the train chunks of split `index`, judge the best on the following chunk."""
    wf = config.walk_forward
    spans = chunks(cache, wf.splits + wf.train_chunks)
    train = (spans[index][0], spans[index + wf.train_chunks - 1][1])
    validate = spans[index + wf.train_chunks]
    train_cache = cache.slice(*train)
    seed = None if config.search.seed is None else config.search.seed + 1000 + index
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=min(config.search.startup_trials, wf.trials_per_split // 2)
        ),
    )
    if warm_start:
        study.enqueue_trial(warm_start, skip_if_exists=True)
    # Constraints scale with the train window's share of the whole.
    share = (train[1] - train[0]) / max(1, int(cache.ts[-1]) + 1 - int(cache.ts[0]))
    scaled = config.model_copy(
        update={
            "constraints": config.constraints.model_copy(
                update={"min_trades": int(config.constraints.min_trades * share)}
            ),
            "search": config.search.model_copy(update={"probe_fraction": 1.0}),
        }
    )
    study.optimize(Objective(train_cache, template, scaled, account), n_trials=wf.trials_per_split)
    best = rank_candidates(study.get_trials(deepcopy=False), 1)
    if not best:
        return SplitResult(index, train, validate, 0, 0.0, None, False, "no feasible train result")
    params = build_params(template, best[0].values)
    assert params is not None
    m = evaluate(cache.slice(*validate), params, account).metrics
    problems = []
    if m.trades < wf.min_trades:
        problems.append(f"{m.trades} trades < {wf.min_trades}")
    if m.pnl_jpy <= 0:
        problems.append(f"PnL {float(m.pnl_jpy):.0f} JPY <= 0")
    if m.profit_factor is not None and m.profit_factor < config.acceptance.min_profit_factor:
        problems.append(
            f"profit factor {m.profit_factor:.2f} < {config.acceptance.min_profit_factor}"
        )
    return SplitResult(
        index,
        train,
        validate,
        m.trades,
        float(m.pnl_jpy),
        m.profit_factor,
        not problems,
        "; ".join(problems) or "passed",
    )


# Forked pool workers read their inputs from here (inherited, never pickled).
_WF_INPUTS: tuple[FeatureCache, ParamTemplate, OptimizerConfig, AccountConfig, Values | None]


def _wf_worker(index: int) -> SplitResult:
    return walk_forward_split(index, *_WF_INPUTS)


def walk_forward(
    cache: FeatureCache,
    template: ParamTemplate,
    config: OptimizerConfig,
    account: AccountConfig,
    warm_start: Values | None,
    workers: int = 1,
) -> WalkForwardResult:
    global _WF_INPUTS
    wf = config.walk_forward
    result = WalkForwardResult(min_success_ratio=wf.min_success_ratio)
    if workers > 1 and wf.splits > 1:
        import multiprocessing

        _WF_INPUTS = (cache, template, config, account, warm_start)
        from optimizer.search import reset_signals

        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(min(workers, wf.splits), initializer=reset_signals) as pool:
            result.splits = pool.map(_wf_worker, range(wf.splits))
    else:
        result.splits = [
            walk_forward_split(i, cache, template, config, account, warm_start)
            for i in range(wf.splits)
        ]
    for s in result.splits:
        _log.info(
            "walk-forward split %d/%d: %d trades, PnL %.0f JPY: %s",
            s.split + 1,
            wf.splits,
            s.trades,
            s.pnl_jpy,
            s.reason,
        )
    return result


def decimal_free(value: Any) -> Any:
    """JSON-ready copy (Decimals to floats)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: decimal_free(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [decimal_free(v) for v in value]
    return value
