"""Position and PnL exact to the yen, with spot balance rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.market.events import Side
from bot.trading.fills import fee_jpy
from bot.trading.position import Position, RoundTrip, SpotBalanceError

TAKER = Decimal("0.001")
D = Decimal


def test_long_round_trip_gross_plus_five_yen() -> None:
    p = Position(D(1_000_000), 0)
    assert p.apply_fill(Side.BUY, 17_000_000, 500_000, D(0), 1) == []
    assert p.position_sat == 500_000 and p.side is Side.BUY
    assert p.entry_price == D(17_000_000)
    (rt,) = p.apply_fill(Side.SELL, 17_001_000, 500_000, D(0), 2)
    assert rt == RoundTrip(
        Side.BUY, 1, 2, 500_000, 17_000_000 * 500_000, 17_001_000 * 500_000, D(0)
    )
    assert rt.gross_pnl_jpy == D(5)
    assert rt.pnl_jpy == D(5)
    assert rt.entry_price == D(17_000_000) and rt.exit_price == D(17_001_000)
    assert p.realized_jpy == D(5)
    assert p.jpy == D(1_000_005)
    assert p.btc_sat == 0 and p.position_sat == 0 and p.side is None
    assert p.entry_price is None


def test_long_round_trip_with_taker_fees() -> None:
    p = Position(D(1_000_000), 0)
    buy_fee = fee_jpy(17_000_000, 500_000, TAKER)
    sell_fee = fee_jpy(17_001_000, 500_000, TAKER)
    assert (buy_fee, sell_fee) == (D(85), D("85.005"))
    p.apply_fill(Side.BUY, 17_000_000, 500_000, buy_fee, 1)
    assert p.realized_jpy == D(-85)  # the entry fee is a cost of the open cycle
    assert p.jpy == D(1_000_000 - 85_000 - 85)
    (rt,) = p.apply_fill(Side.SELL, 17_001_000, 500_000, sell_fee, 2)
    assert rt.gross_pnl_jpy == D(5)
    assert rt.fees_jpy == D("170.005")
    assert rt.pnl_jpy == D("-165.005")
    assert p.realized_jpy == D("-165.005")
    assert p.fees_jpy == D("170.005")
    assert p.jpy == D("999834.995")


def test_partial_fills_aggregate_into_one_round_trip() -> None:
    p = Position(D(1_000_000), 0)
    assert p.apply_fill(Side.BUY, 17_000_000, 200_000, D(1), 1) == []
    assert p.apply_fill(Side.BUY, 17_000_500, 300_000, D(2), 2) == []
    # average entry (34,000 + 51,001.5) / 0.005 = 17,000,300
    assert p.entry_price == D(17_000_300)
    assert p.apply_fill(Side.SELL, 17_002_000, 100_000, D(3), 3) == []
    assert p.position_sat == 400_000
    (rt,) = p.apply_fill(Side.SELL, 17_002_000, 400_000, D(4), 4)
    # 85,010 − 85,001.5 = 8.5 JPY gross, 10 JPY fees
    assert (rt.entry_ts_us, rt.exit_ts_us, rt.amount_sat) == (1, 4, 500_000)
    assert rt.gross_pnl_jpy == D("8.5")
    assert rt.fees_jpy == D(10)
    assert rt.pnl_jpy == D("-1.5")
    assert p.realized_jpy == D("-1.5")


def test_fifo_partial_close_realizes_first_lot() -> None:
    p = Position(D(1_000_000), 0)
    p.apply_fill(Side.BUY, 17_000_000, 200_000, D(0), 1)
    p.apply_fill(Side.BUY, 17_010_000, 300_000, D(0), 2)
    p.apply_fill(Side.SELL, 17_005_000, 200_000, D(0), 3)  # closes the 17,000,000 lot: +10
    assert p.realized_jpy == D(10)
    assert p.entry_price == D(17_010_000)
    assert p.open_value == 17_010_000 * 300_000


def test_short_cycle_sells_inventory_and_buys_back() -> None:
    p = Position(D(1_000_000), 5_000_000)  # 0.05 BTC inventory
    assert p.apply_fill(Side.SELL, 17_001_000, 500_000, D(0), 1) == []
    assert p.position_sat == -500_000 and p.side is Side.SELL
    assert p.btc_sat == 4_500_000
    assert p.jpy == D(1_085_005)
    (rt,) = p.apply_fill(Side.BUY, 17_000_000, 500_000, D(0), 2)
    assert rt.side is Side.SELL
    assert rt.gross_pnl_jpy == D(5)
    assert p.btc_sat == 5_000_000  # inventory restored
    assert p.jpy == D(1_000_005)
    assert p.realized_jpy == D(5)


def test_flip_closes_one_cycle_and_opens_the_next() -> None:
    p = Position(D(1_000_000), 5_000_000)
    p.apply_fill(Side.BUY, 17_000_000, 500_000, D(0), 1)
    # sell 0.008: 0.005 closes the long (fee 8 · 5/8 = 5), 0.003 opens a short (fee 3)
    (long_rt,) = p.apply_fill(Side.SELL, 17_001_000, 800_000, D(8), 2)
    assert long_rt.side is Side.BUY
    assert long_rt.amount_sat == 500_000
    assert long_rt.gross_pnl_jpy == D(5)
    assert long_rt.fees_jpy == D(5)
    assert long_rt.pnl_jpy == D(0)
    assert p.position_sat == -300_000
    assert p.entry_price == D(17_001_000)
    assert p.realized_jpy == D(-3)
    (short_rt,) = p.apply_fill(Side.BUY, 17_000_000, 300_000, D(0), 3)
    assert short_rt.side is Side.SELL
    assert (short_rt.entry_ts_us, short_rt.exit_ts_us, short_rt.amount_sat) == (2, 3, 300_000)
    assert short_rt.gross_pnl_jpy == D(3)
    assert short_rt.fees_jpy == D(3)
    assert short_rt.pnl_jpy == D(0)
    assert p.realized_jpy == D(0)
    assert p.fees_jpy == D(8)
    assert (p.jpy, p.btc_sat) == (D(1_000_000), 5_000_000)


def test_selling_more_btc_than_held_raises() -> None:
    p = Position(D(1_000_000), 5_000_000)
    with pytest.raises(SpotBalanceError):
        p.apply_fill(Side.SELL, 17_000_000, 5_000_001, D(0), 1)
    assert (p.btc_sat, p.position_sat, p.jpy) == (5_000_000, 0, D(1_000_000))  # unchanged
    p.apply_fill(Side.SELL, 17_000_000, 5_000_000, D(0), 2)  # exactly all of it is fine
    assert p.btc_sat == 0


def test_buying_with_too_little_jpy_raises() -> None:
    p = Position(D(85_000), 0)
    with pytest.raises(SpotBalanceError):
        p.apply_fill(Side.BUY, 17_000_000, 500_000, D(85), 1)  # needs 85,085
    assert p.jpy == D(85_000) and p.btc_sat == 0
    p.apply_fill(Side.BUY, 17_000_000, 500_000, D(0), 2)  # exactly 85,000 is fine
    assert p.jpy == D(0)


def test_non_positive_fill_amount_rejected() -> None:
    p = Position(D(1_000_000), 0)
    with pytest.raises(ValueError):
        p.apply_fill(Side.BUY, 17_000_000, 0, D(0), 1)


def test_unrealized_and_equity() -> None:
    p = Position(D(1_000_000), 5_000_000)
    assert p.unrealized_jpy(17_000_000) == D(0)
    assert p.equity_jpy(17_000_000) == D(1_850_000)  # 1,000,000 + 0.05 × 17,000,000
    p.apply_fill(Side.BUY, 17_000_000, 500_000, D(85), 1)
    assert p.unrealized_jpy(17_002_000) == D(10)
    assert p.unrealized_jpy(16_998_000) == D(-10)
    # 914,915 JPY + 0.055 BTC × 17,002,000 = 914,915 + 935,110
    assert p.equity_jpy(17_002_000) == D(1_850_025)


def test_short_unrealized() -> None:
    p = Position(D(1_000_000), 5_000_000)
    p.apply_fill(Side.SELL, 17_001_000, 500_000, D(0), 1)
    assert p.unrealized_jpy(17_000_000) == D(5)
    assert p.unrealized_jpy(17_003_000) == D(-10)
