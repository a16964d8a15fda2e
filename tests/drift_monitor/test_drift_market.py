"""Market drift: a sudden move triggers while our PnL is still fine; regime change escalates.

The steady market (drift_history): 12 trades/min, spread 1,000 JPY, mid alternating
10,000,000 / 10,001,000 every 10 s, so the baseline RMS log return per bucket is
ln(10,001,500 / 10,000,500) = 9.9990e-5. The recent window is the last 15 min = 90 buckets.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import asyncpg
import pytest
from drift_history import (
    BASE_PRICE,
    NOW,
    NOW_US,
    History,
    baseline_exits,
    baseline_pnls,
    config,
    recent_exits,
)

from drift_monitor.monitor import run_check

WINDOW_START = NOW - timedelta(minutes=15)
BASE_VOL = math.log(10_001_500 / 10_000_500)


async def _steady_edge(history: History) -> None:
    await history.round_trips(baseline_pnls(), baseline_exits())
    await history.round_trips([300, -100] * 3, recent_exits(6))  # severity none on its own


async def test_sudden_drop_is_major_before_any_loss(
    conn: asyncpg.Connection, history: History
) -> None:
    await _steady_edge(history)
    await history.market(NOW - timedelta(hours=24), NOW - timedelta(seconds=30))

    # The last three buckets fall 1 % each: 9,900,000 -> 9,801,000 -> 9,702,990 (mid).
    def falling(ts: datetime) -> int:
        steps = int((ts - (NOW - timedelta(seconds=40))).total_seconds() // 10)
        return round(BASE_PRICE * 0.99**steps)

    await history.market(NOW - timedelta(seconds=30), NOW, mid_of_bucket=falling)

    result = await run_check(conn, config(), NOW_US)

    out = result.as_json()
    assert result.severity == "major", out["reason"]
    assert out["metrics"]["profit_factor_4h"]["status"] == "ok"  # no loss yet
    move = out["metrics"]["price_move_z"]
    # From 10,001,500 (last baseline bucket) to 9,703,490: ln = -0.030254; baseline sd of the
    # 90-bucket move = 9.999e-5 * sqrt(90) = 9.486e-4; z = -31.9.
    expected = math.log((round(BASE_PRICE * 0.99**3) + 500) / 10_001_500) / (
        BASE_VOL * math.sqrt(90)
    )
    assert move["value"] == pytest.approx(expected, rel=1e-3)
    assert (move["status"], move["threshold"]) == ("major", -8.0)
    vol = out["metrics"]["volatility_ratio"]
    assert vol["status"] == "major"
    assert vol["value"] > 5
    assert out["job_payload"]["hours"] == 24
    assert set(out["job_payload"]["triggers"]) >= {"price_move_z", "volatility_ratio"}


async def test_trade_rate_surge_is_minor_and_escalates_weak_performance(
    conn: asyncpg.Connection, history: History
) -> None:
    # Performance minor on its own (PF 1500 / 1500 = 1.0, see the severity histories).
    await history.round_trips(baseline_pnls(), baseline_exits())
    await history.round_trips([300, -300] * 5, recent_exits(10))
    await history.market(NOW - timedelta(hours=24), WINDOW_START)
    # 3 sells + 4 buys per bucket in the window: 42 trades/min vs 12 -> ratio 3.5 (minor >= 3);
    # averages per side are unchanged, so spread and volatility stay at 1.0.
    await history.market(WINDOW_START, NOW, trades_per_side=(3, 4))

    result = await run_check(conn, config(), NOW_US)

    out = result.as_json()
    rate = out["metrics"]["trade_rate_ratio"]
    assert rate["value"] == pytest.approx(3.5)
    assert (rate["status"], rate["threshold"]) == ("minor", 3.0)
    assert out["metrics"]["spread_ratio"]["value"] == pytest.approx(1.0)
    assert out["metrics"]["profit_factor_4h"]["status"] == "minor"
    assert result.severity == "normal"  # minor + minor in both groups -> one level up
    assert "raised one level" in out["reason"]

    no_escalation = config(escalate_on_both=False)
    result = await run_check(conn, no_escalation, NOW_US + 1)
    assert result.severity == "minor"


async def test_market_drought_reads_as_a_reciprocal_threshold(
    conn: asyncpg.Connection, history: History
) -> None:
    await _steady_edge(history)
    await history.market(NOW - timedelta(hours=24), WINDOW_START)
    # One trade per side every 60 s in the window instead of every 10 s: 2 / min vs 12.
    await history.market(WINDOW_START, NOW, mid_of_bucket=lambda ts: BASE_PRICE)
    await conn.execute(
        "DELETE FROM market_trades WHERE ts >= $1 AND extract(second FROM ts)::int % 60 >= 10",
        WINDOW_START,
    )

    result = await run_check(conn, config(market={"min_buckets": 10}), NOW_US)

    rate = result.as_json()["metrics"]["trade_rate_ratio"]
    assert rate["value"] == pytest.approx(2 / 12)
    assert (rate["status"], rate["threshold"]) == ("normal", pytest.approx(1 / 5))


async def test_no_market_data_is_unknown(conn: asyncpg.Connection, history: History) -> None:
    await _steady_edge(history)

    result = await run_check(conn, config(), NOW_US)

    out = result.as_json()
    assert result.severity == "unknown"
    assert out["metrics"]["volatility_ratio"]["reason"] == "0 baseline market trades, need 100"
    assert out["metrics"]["sharpe_z_1h"]["status"] == "ok"
