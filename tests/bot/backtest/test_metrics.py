"""Performance metrics from hand-made PnL lists."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from bot.backtest.metrics import compute_metrics, metrics_from_pnls
from bot.market.events import Side
from bot.trading.position import RoundTrip

D = Decimal


def test_mixed_trades_by_hand() -> None:
    m = metrics_from_pnls([D(100), D(-50), D(30), D(-20)], fees_jpy=D(7))
    assert (m.trades, m.wins, m.losses) == (4, 2, 2)
    assert m.win_rate == 0.5
    assert m.profit_factor == pytest.approx(130 / 70)
    # mean 15; squared deviations 85², 65², 15², 35² = 12,900; sample var 4,300
    assert m.sharpe == pytest.approx(15 / math.sqrt(4300))
    assert m.sharpe == pytest.approx(0.228748, abs=1e-6)
    # cumulative 100, 50, 80, 60: peak 100, deepest 50
    assert m.max_drawdown_jpy == D(50)
    assert m.pnl_jpy == D(60)
    assert m.gross_profit_jpy == D(130) and m.gross_loss_jpy == D(-70)
    assert m.fees_jpy == D(7)


def test_drawdown_counts_from_zero_before_any_gain() -> None:
    m = metrics_from_pnls([D(-30), D(10), D(-5)])
    assert m.max_drawdown_jpy == D(30)  # cumulative −30, −20, −25 below the starting 0
    assert m.pnl_jpy == D(-25)


def test_later_deeper_drawdown_wins() -> None:
    m = metrics_from_pnls([D(10), D(-5), D(20), D(-8), D(-9)])
    # cumulative 10, 5, 25, 17, 8: drawdowns 5 then 17
    assert m.max_drawdown_jpy == D(17)


def test_no_trades_all_undefined() -> None:
    m = metrics_from_pnls([])
    assert (m.trades, m.wins, m.losses) == (0, 0, 0)
    assert m.win_rate is None
    assert m.profit_factor is None
    assert m.sharpe is None
    assert m.max_drawdown_jpy == D(0) and m.pnl_jpy == D(0)


def test_one_trade_has_no_sharpe() -> None:
    m = metrics_from_pnls([D(-12)])
    assert m.win_rate == 0.0
    assert m.sharpe is None
    assert m.profit_factor == 0.0  # no profit over a 12 JPY loss
    assert m.max_drawdown_jpy == D(12)


def test_no_losses_profit_factor_undefined() -> None:
    m = metrics_from_pnls([D(5), D(15)])
    assert m.win_rate == 1.0
    assert m.profit_factor is None
    # mean 10, sample std sqrt(50)
    assert m.sharpe == pytest.approx(10 / math.sqrt(50))
    assert m.max_drawdown_jpy == D(0)


def test_zero_spread_sharpe_undefined_and_zero_pnl_is_no_win() -> None:
    m = metrics_from_pnls([D(0), D(0), D(0)])
    assert (m.wins, m.losses) == (0, 0)
    assert m.win_rate == 0.0
    assert m.sharpe is None
    assert m.profit_factor is None


def test_compute_metrics_from_round_trips_uses_net_pnl_and_fees() -> None:
    # long 0.005: 17,000,000 → 17,001,000 (+5 gross, 170.005 fees); short 0.005: +10 gross, 0 fees
    trips = [
        RoundTrip(
            Side.BUY, 1, 2, 500_000, 17_000_000 * 500_000, 17_001_000 * 500_000, D("170.005")
        ),
        RoundTrip(Side.SELL, 3, 4, 500_000, 17_002_000 * 500_000, 17_000_000 * 500_000, D(0)),
    ]
    m = compute_metrics(trips)
    assert m.pnl_jpy == D("-155.005")
    assert m.fees_jpy == D("170.005")
    assert (m.wins, m.losses) == (1, 1)
    assert m.profit_factor == pytest.approx(10 / 165.005)
    assert m.max_drawdown_jpy == D("165.005")


def test_as_json_rounds_decimals() -> None:
    out = metrics_from_pnls([D("1.005"), D("-0.333")], fees_jpy=D("0.126")).as_json()
    assert out["pnl_jpy"] == 0.67
    assert out["max_drawdown_jpy"] == 0.33
    assert out["fees_jpy"] == 0.13
    assert out["trades"] == 2 and out["win_rate"] == 0.5
