"""Fill model: incoming orders sweep displayed levels, resting orders fill at their own price."""

from __future__ import annotations

from decimal import Decimal

from bot.market.events import Side
from bot.trading.fills import (
    BookTop,
    Fill,
    Liquidity,
    LiquidityLedger,
    fee_jpy,
    match_incoming,
    match_resting,
    notional_jpy,
)

T, M = Liquidity.TAKER, Liquidity.MAKER
# bids best first, asks best first (satoshi)
TOP = BookTop(
    bids=((16_999_000, 300_000), (16_998_000, 400_000), (16_997_000, 1_000_000)),
    asks=((17_000_000, 200_000), (17_001_000, 200_000), (17_003_000, 5_000_000)),
)


def test_notional_and_fee_exact() -> None:
    assert notional_jpy(17_000_000, 500_000) == Decimal(85_000)
    assert fee_jpy(17_000_000, 500_000, Decimal("0.001")) == Decimal(85)
    assert fee_jpy(17_001_000, 500_000, Decimal("0.001")) == Decimal("85.005")
    assert fee_jpy(17_000_000, 500_000, Decimal("-0.0002")) == Decimal("-17")


def test_buy_sweeps_asks_best_first_at_their_prices() -> None:
    fills = match_incoming(Side.BUY, 17_003_000, 500_000, TOP, LiquidityLedger())
    assert fills == [
        Fill(17_000_000, 200_000, T),
        Fill(17_001_000, 200_000, T),
        Fill(17_003_000, 100_000, T),
    ]


def test_sell_sweeps_bids_best_first() -> None:
    fills = match_incoming(Side.SELL, 16_998_000, 500_000, TOP, LiquidityLedger())
    assert fills == [Fill(16_999_000, 300_000, T), Fill(16_998_000, 200_000, T)]


def test_limit_price_is_respected_partial_fill() -> None:
    # limit 17,001,000: the 17,003,000 level is out of reach, only 400,000 of 500,000 fill
    fills = match_incoming(Side.BUY, 17_001_000, 500_000, TOP, LiquidityLedger())
    assert fills == [Fill(17_000_000, 200_000, T), Fill(17_001_000, 200_000, T)]
    assert match_incoming(Side.SELL, 17_000_000, 500_000, TOP, LiquidityLedger()) == []


def test_non_crossing_order_gets_nothing() -> None:
    assert match_incoming(Side.BUY, 16_999_999, 500_000, TOP, LiquidityLedger()) == []


def test_ledger_blocks_refilling_the_same_displayed_amount() -> None:
    ledger = LiquidityLedger()
    assert match_incoming(Side.BUY, 17_000_000, 150_000, TOP, ledger) == [
        Fill(17_000_000, 150_000, T)
    ]
    # same displayed 200,000 at 17,000,000: only the 50,000 we did not take is left
    assert match_incoming(Side.BUY, 17_000_000, 150_000, TOP, ledger) == [
        Fill(17_000_000, 50_000, T)
    ]
    assert match_incoming(Side.BUY, 17_000_000, 150_000, TOP, ledger) == []
    assert ledger.available(-1, 17_000_000, 200_000) == 0


def test_ledger_allows_liquidity_again_once_level_changes() -> None:
    ledger = LiquidityLedger()
    match_incoming(Side.BUY, 17_000_000, 200_000, TOP, ledger)
    assert match_incoming(Side.BUY, 17_000_000, 200_000, TOP, ledger) == []
    changed = BookTop(bids=TOP.bids, asks=((17_000_000, 250_000), *TOP.asks[1:]))
    assert match_incoming(Side.BUY, 17_000_000, 300_000, changed, ledger) == [
        Fill(17_000_000, 250_000, T)
    ]


def test_ledger_is_per_side_and_price() -> None:
    ledger = LiquidityLedger()
    ledger.take(-1, 17_000_000, 200_000, 200_000)
    assert ledger.available(-1, 17_000_000, 200_000) == 0
    assert ledger.available(1, 17_000_000, 200_000) == 200_000  # the bid side is separate
    assert ledger.available(-1, 17_001_000, 200_000) == 200_000
    ledger.clear()
    assert ledger.available(-1, 17_000_000, 200_000) == 200_000


def test_resting_buy_fills_at_own_price_as_maker() -> None:
    # our bid rests at 17,001,500; asks at 17,000,000 and 17,001,000 now cross it
    fills = match_resting(Side.BUY, 17_001_500, 500_000, TOP, LiquidityLedger())
    assert fills == [Fill(17_001_500, 400_000, M)]


def test_resting_sell_fills_at_own_price_up_to_remaining() -> None:
    fills = match_resting(Side.SELL, 16_998_500, 200_000, TOP, LiquidityLedger())
    assert fills == [Fill(16_998_500, 200_000, M)]


def test_resting_order_not_crossed_gets_nothing_and_ledger_applies() -> None:
    ledger = LiquidityLedger()
    assert match_resting(Side.BUY, 16_999_999, 500_000, TOP, ledger) == []
    assert match_resting(Side.BUY, 17_000_000, 500_000, TOP, ledger) == [
        Fill(17_000_000, 200_000, M)
    ]
    assert match_resting(Side.BUY, 17_000_000, 300_000, TOP, ledger) == []
