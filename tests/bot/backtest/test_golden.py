"""Golden backtest on the real Coincheck sample (44 s of BTC/JPY, 2025-08-03).

Parameters are chosen so the strategy trades; every expected number below follows from the
fills by hand: PnL = (exit − entry) × size for a long, fees are zero in this parameter set.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.backtest.runner import run_backtest
from bot.config import AccountConfig, dump_trade_params, load_param_template
from bot.datafile import load_market_data
from bot.market.events import Side

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_CSV = ROOT / "data/sample/order_book_updates_20250803-140150.csv"
SAMPLE_ZIP = ROOT / "data/sample/order_book_updates_20250803-140150.zip"
TEMPLATE = ROOT / "config/trade_config.yaml.template"

GOLDEN_PARAMS = {
    "signal.composite_threshold": 0.2,
    "signal.hold_duration_ms": 0,
    "long.tp": 500,
    "long.sl": -500,
    "short.tp": 500,
    "short.sl": -500,
}


@pytest.fixture(scope="module")
def golden_params():
    return load_param_template(TEMPLATE).build(GOLDEN_PARAMS)


def test_golden_fills_and_pnl(golden_params) -> None:
    events = load_market_data(SAMPLE_CSV).events
    result = run_backtest(events, golden_params, AccountConfig())
    fills = [(f.side, f.price, f.amount_sat, f.liquidity, f.purpose) for f in result.fills]
    assert fills == [
        (Side.BUY, 16_857_649, 500_000, "T", "entry"),
        (Side.SELL, 16_854_908, 500_000, "T", "exit"),
        # Only 0.003 BTC was displayed at or below the limit; the rest timed out. 0.003 BTC is
        # below Coincheck's 0.005 minimum, so it stays as dust for the next entry to absorb.
        (Side.BUY, 16_858_173, 300_000, "T", "entry"),
    ]
    pnls = [rt.pnl_jpy for rt in result.round_trips]
    # (16,854,908 − 16,857,649) × 0.005 = −13.705
    assert pnls == [Decimal("-13.705")]
    m = result.metrics
    assert m.trades == 1 and m.wins == 0
    assert m.pnl_jpy == Decimal("-13.705")
    assert m.max_drawdown_jpy == Decimal("13.705")
    assert m.profit_factor == 0.0
    # Balances: the round trip's cash flow plus the dust bought: 16,858,173 × 0.003 = 50,574.519
    assert result.final_btc_sat == 5_000_000 + 300_000
    assert result.final_jpy == Decimal("1000000") - Decimal("13.705") - Decimal("50574.519")


def test_csv_and_zip_give_the_same_backtest(golden_params) -> None:
    a = run_backtest(load_market_data(SAMPLE_CSV).events, golden_params, AccountConfig())
    b = run_backtest(load_market_data(SAMPLE_ZIP).events, golden_params, AccountConfig())
    assert a.fills == b.fills and a.round_trips == b.round_trips


def test_simulate_json_is_one_object(tmp_path, golden_params) -> None:
    params_file = tmp_path / "trade_config.yaml"
    params_file.write_text(dump_trade_params(golden_params))
    out = subprocess.run(
        [sys.executable, "-m", "bot", "simulate", "--data", str(SAMPLE_ZIP), "--params",
         str(params_file), "--json"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    summary = json.loads(out.stdout)
    assert set(summary) == {
        "events", "trades", "pnl_jpy", "fees_jpy", "win_rate", "profit_factor", "sharpe",
        "max_drawdown_jpy", "events_per_sec",
    }  # fmt: skip
    assert summary["events"] == 1241
    assert summary["trades"] == 1
    assert summary["pnl_jpy"] == -13.705
    assert summary["win_rate"] == 0.0


def test_simulate_refuses_bad_params_and_bad_data(tmp_path) -> None:
    bad = tmp_path / "trade_config.yaml"
    bad.write_text("long: {tp: 100, sl: 500}\n")
    out = subprocess.run(
        [sys.executable, "-m", "bot", "simulate", "--data", str(SAMPLE_CSV), "--params", str(bad)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 2
    assert "long.sl = 500: must be negative" in out.stderr
    assert "Traceback" not in out.stderr

    junk = tmp_path / "junk.csv"
    junk.write_text("hello,world\n1,2\n")
    out = subprocess.run(
        [sys.executable, "-m", "bot", "simulate", "--data", str(junk)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 2
    assert "not an export file" in out.stderr and "Traceback" not in out.stderr
