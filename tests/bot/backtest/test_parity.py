"""The optimizer's fast path must give exactly the event-driven backtester's trades.

Random parameter sets (every searchable parameter of the template, plus latency and fees)
on synthetic data with regime changes and on the real Coincheck sample; fills and round
trips must be identical object for object — same sides, prices, sizes, times, PnL.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.backtest.fast_path import FeatureCache, evaluate
from bot.backtest.runner import run_backtest
from bot.config import AccountConfig, ParamTemplate, TradeParams, load_param_template
from bot.datafile import load_market_data
from bot.market.synthetic import SynthConfig, SyntheticMarket

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = AccountConfig()


@pytest.fixture(scope="module")
def template() -> ParamTemplate:
    return load_param_template(ROOT / "config/trade_config.yaml.template")


@pytest.fixture(scope="module")
def synthetic_events():
    return list(SyntheticMarket(SynthConfig(seed=11, hours=1.5)).events())


def random_params(template: ParamTemplate, rng: random.Random) -> TradeParams:
    values = {}
    for spec in template.searchable:
        if spec.kind == "categorical":
            values[spec.key] = rng.choice(spec.choices)
        elif spec.kind == "int":
            values[spec.key] = rng.randrange(int(spec.low), int(spec.high) + 1)
        else:
            values[spec.key] = rng.uniform(spec.low, spec.high)
    values["signal.composite_threshold"] = rng.uniform(0.1, 0.6)
    values["latency.order_ms"] = rng.choice([0, 50, 400])
    values["order.timeout_seconds"] = rng.choice([0.5, 5.0])
    values["fees.taker"] = rng.choice(["0", "0.001"])
    values["fees.maker"] = rng.choice(["0", "-0.0002"])
    values["order_amount"] = rng.choice(["0.005", "0.02"])
    return template.build(values)


def assert_same_trades(events, cache, params) -> int:
    slow = run_backtest(events, params, ACCOUNT)
    fast = evaluate(cache, params, ACCOUNT)
    assert fast.fills == slow.fills
    assert fast.round_trips == slow.round_trips
    assert fast.metrics == slow.metrics
    assert (fast.final_jpy, fast.final_btc_sat) == (slow.final_jpy, slow.final_btc_sat)
    assert fast.halt_reason == slow.halt_reason
    return len(slow.round_trips)


def test_parity_on_synthetic_data(template, synthetic_events) -> None:
    cache = FeatureCache.build(synthetic_events)
    rng = random.Random(20251124)
    trades = [
        assert_same_trades(synthetic_events, cache, random_params(template, rng)) for _ in range(25)
    ]
    # The comparison means something only if many parameter sets actually trade.
    assert sum(1 for t in trades if t >= 5) >= 5, trades


def test_parity_on_real_sample(template) -> None:
    events = load_market_data(ROOT / "data/sample/order_book_updates_20250803-140150.csv").events
    cache = FeatureCache.build(events)
    rng = random.Random(7)
    trades = []
    for _ in range(60):
        params = random_params(template, rng)
        params = params.model_copy(
            update={"long": params.long.model_copy(update={"tp": 300, "sl": -300}),
                    "short": params.short.model_copy(update={"tp": 300, "sl": -300})}
        )  # fmt: skip
        trades.append(assert_same_trades(events, cache, params))
    assert sum(trades) >= 10, trades


def test_parity_with_every_filter_on(template, synthetic_events) -> None:
    cache = FeatureCache.build(synthetic_events)
    for regime_filter in ("trend_only", "mean_revert_only"):
        params = template.build(
            {
                "signal.composite_threshold": 0.15,
                "signal.slope_filter": True,
                "signal.regime_filter": regime_filter,
                "regime.window": 30,
                "dynamic_threshold.enabled": True,
                "dynamic_threshold.factor": 1.5,
            }
        )
        assert_same_trades(synthetic_events, cache, params)
