"""One crafted performance history per severity, checked end to end against PostgreSQL.

Baseline (conftest): 40 round trips alternating +300 / -100 JPY, one every 4 h, the newest
5 h ago: mean 100, sample sd 200·sqrt(40/39) = 202.548, max drawdown 100 (floor 500 applies).
The recent trips all close in the last hour, so the 1 h and 4 h windows see the same trades.
With n recent trips the Sharpe z is (mean - 100) / (202.548 / sqrt(n)); for n = 10 the
denominator is 64.051.
"""

from __future__ import annotations

import json

import asyncpg
import pytest
from drift_history import NOW_US, History, baseline_exits, baseline_pnls, config, recent_exits

from drift_monitor.monitor import run_check

SD_OVER_SQRT10 = 202.5478 / 10**0.5


async def _scenario(history: History, recent: list[int], n_baseline: int = 40) -> None:
    await history.round_trips(baseline_pnls(n_baseline), baseline_exits(n_baseline))
    await history.round_trips(recent, recent_exits(len(recent)))
    await history.steady_market()


def _metric(result, name: str):  # type: ignore[no-untyped-def]
    return result.as_json()["metrics"][name]


async def test_steady_edge_is_none_and_asks_for_nothing(
    conn: asyncpg.Connection, history: History
) -> None:
    await _scenario(history, [300, -100] * 3)

    result = await run_check(conn, config(), NOW_US)

    assert result.severity == "none", result.assessment.reason
    assert _metric(result, "sharpe_z_1h")["value"] == pytest.approx(0.0, abs=1e-9)
    assert _metric(result, "profit_factor_4h")["value"] == pytest.approx(3.0)  # 900 / 300
    assert _metric(result, "drawdown_ratio_4h")["value"] == pytest.approx(0.2)  # 100 / 500
    # 46 trips in 168 h: one every 219.1 min; last fill 5 min ago.
    assert _metric(result, "idle_ratio")["value"] == pytest.approx(5 / (168 * 60 / 46))
    assert result.decision.job_id is None
    assert await history.jobs() == []
    [decision] = await history.decisions()
    assert decision["severity"] == "none"
    assert json.loads(decision["details"])["action"] == "no_drift"


async def test_break_even_window_is_minor(conn: asyncpg.Connection, history: History) -> None:
    await _scenario(history, [300, -300] * 5)  # mean 0, PF 1500/1500 = 1.0

    result = await run_check(conn, config(), NOW_US)

    assert result.severity == "minor", result.assessment.reason
    pf = _metric(result, "profit_factor_4h")
    assert (pf["value"], pf["threshold"], pf["status"]) == (1.0, 1.0, "minor")
    z = _metric(result, "sharpe_z_1h")
    assert z["value"] == pytest.approx(-100 / SD_OVER_SQRT10, rel=1e-4)  # -1.561
    assert z["status"] == "ok"
    assert _metric(result, "drawdown_ratio_4h")["value"] == pytest.approx(0.6)  # 300 / 500
    [job] = await history.jobs()
    payload = json.loads(job["payload"])
    assert (payload["hours"], payload["trials"], payload["severity"]) == (168, 300, "minor")
    assert payload["triggers"] == ["profit_factor_4h"]
    assert job["requested_by"] == "drift_monitor"
    assert str(job["job_id"]) == result.as_json()["job_id"]


async def test_losing_window_is_normal(conn: asyncpg.Connection, history: History) -> None:
    # +300, -400 five times: mean -50, PF 1500/2000 = 0.75; cumulative peaks at 300 and
    # ends at -500, so the window's drawdown is 800 = 1.6 x the 500 floor.
    await _scenario(history, [300, -400] * 5)

    result = await run_check(conn, config(), NOW_US)

    assert result.severity == "normal", result.assessment.reason
    z = _metric(result, "sharpe_z_1h")
    assert z["value"] == pytest.approx(-150 / SD_OVER_SQRT10, rel=1e-4)  # -2.342
    assert (z["status"], z["threshold"]) == ("minor", -2.0)
    pf = _metric(result, "profit_factor_4h")
    assert (pf["value"], pf["threshold"], pf["status"]) == (0.75, 0.8, "normal")
    dd = _metric(result, "drawdown_ratio_4h")
    assert (dd["value"], dd["threshold"], dd["status"]) == (pytest.approx(1.6), 1.5, "normal")
    [job] = await history.jobs()
    payload = json.loads(job["payload"])
    assert (payload["hours"], payload["trials"], payload["severity"]) == (72, 150, "normal")


async def test_collapse_is_major_with_fast_recent_job(
    conn: asyncpg.Connection, history: History
) -> None:
    await _scenario(history, [-200] * 10)

    result = await run_check(conn, config(), NOW_US)

    assert result.severity == "major", result.assessment.reason
    z = _metric(result, "sharpe_z_4h")
    assert z["value"] == pytest.approx(-300 / SD_OVER_SQRT10, rel=1e-4)  # -4.684
    assert (z["status"], z["threshold"]) == ("major", -4.0)
    assert _metric(result, "profit_factor_4h")["value"] == 0.0
    assert _metric(result, "drawdown_ratio_4h")["value"] == pytest.approx(4.0)  # 2000 / 500
    [job] = await history.jobs()
    payload = json.loads(job["payload"])
    assert (payload["hours"], payload["trials"], payload["severity"]) == (24, 60, "major")
    assert result.as_json()["job_id"] == str(job["job_id"])
    # The decision and each breached metric are drift events pointing at the job.
    rows = await conn.fetch("SELECT detector, metric, severity, job_id FROM drift_events")
    assert {(r["detector"], r["metric"], r["severity"]) for r in rows} == {
        ("decision", "severity", "major"),
        ("performance", "sharpe_z_1h", "major"),
        ("performance", "sharpe_z_4h", "major"),
        ("performance", "profit_factor_4h", "major"),
        ("performance", "drawdown_ratio_4h", "major"),
    }
    assert {r["job_id"] for r in rows} == {job["job_id"]}


async def test_sparse_trades_are_unknown_not_fine_not_drift(
    conn: asyncpg.Connection, history: History
) -> None:
    await _scenario(history, [-200, -200], n_baseline=10)

    result = await run_check(conn, config(), NOW_US)

    assert result.severity == "unknown"
    out = result.as_json()
    assert out["job_id"] is None
    assert out["action"] == "insufficient_data"
    z = out["metrics"]["sharpe_z_1h"]
    assert (z["status"], z["value"]) == ("unknown", None)
    assert z["reason"] == "2 trades in the last 1 h, need 5"
    assert out["metrics"]["idle_ratio"]["reason"] == "12 baseline trades, need 30"
    assert "too little data" in out["reason"]
    assert "sharpe_z_1h unknown (2 trades in the last 1 h, need 5)" in out["reason"]
    # The market was steady and measurable: those metrics are ok, not unknown.
    assert out["metrics"]["volatility_ratio"]["status"] == "ok"
    assert await history.jobs() == []
    [decision] = await history.decisions()
    assert decision["severity"] == "unknown"


async def test_idle_while_market_active_is_drift_but_quiet_market_is_not(
    conn: asyncpg.Connection, history: History
) -> None:
    from datetime import timedelta

    # 40 trips every 3.5 h, the newest 20 h ago: one trip per 252 min over 168 h, and the
    # last fill 1200 min ago -> idle ratio 1200 / 252 = 4.76 (minor >= 4).
    exits = baseline_exits(40, last=timedelta(hours=20), every=timedelta(hours=3.5))
    await history.round_trips(baseline_pnls(40), exits)
    await history.steady_market()

    result = await run_check(conn, config(), NOW_US)

    idle = result.as_json()["metrics"]["idle_ratio"]
    assert idle["value"] == pytest.approx(1200 / 252)
    assert idle["status"] == "minor"
    assert result.severity == "minor"  # the Sharpe/PF windows are unknown: no trades

    quiet = config(performance={"idle": {"active_market_ratio": 1.5}})  # 12/min < 1.5 x 12
    result = await run_check(conn, quiet, NOW_US + 1)
    idle = result.as_json()["metrics"]["idle_ratio"]
    assert idle["status"] == "ok"
    assert "market quiet" in idle["reason"]
    assert result.severity == "unknown"  # no drift seen, but the windows have no trades
