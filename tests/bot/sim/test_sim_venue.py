"""Simulator matching and accounting: the fill model's fills, exact balances and fees."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.config import FeeRates
from bot.market.events import BookDiff, BookSnapshot, Side
from bot.sim.venue import OrderStatus, Venue, VenueError
from bot.trading.fills import BookTop, LiquidityLedger, match_incoming

BOOK = BookSnapshot(
    0,
    None,
    bids=((16_000_000, 1_000_000), (15_999_000, 2_000_000)),
    asks=((16_001_000, 1_000_000), (16_002_000, 3_000_000)),
)


def venue(fees: FeeRates | None = None, jpy: str = "1000000", btc_sat: int = 5_000_000) -> Venue:
    v = Venue(Decimal(jpy), btc_sat, fees)
    v.apply_event(BOOK, 0)
    return v


def test_incoming_buy_takes_like_the_fill_model_and_rests_the_rest() -> None:
    fees = FeeRates(maker=Decimal("-0.0001"), taker=Decimal("0.001"))
    v = venue(fees)
    order = v.place("buy", 16_002_000, 2_000_000, None, "good_til_cancelled", 1)
    expected = match_incoming(
        Side.BUY,
        16_002_000,
        2_000_000,
        BookTop(bids=BOOK.bids, asks=BOOK.asks),
        LiquidityLedger(),
    )
    got = [(t.rate, t.amount_sat, t.liquidity) for t in v.transactions]
    assert got == [(f.price, f.amount_sat, f.liquidity) for f in expected]
    # 0.01 BTC at 16,001,000 + 0.01 BTC at 16,002,000 = 160,010 + 160,020 JPY; taker fee 0.1 %.
    assert got == [(16_001_000, 1_000_000, "T"), (16_002_000, 1_000_000, "T")]
    assert order.status is OrderStatus.FILLED
    b = v.balances
    assert b.jpy == Decimal("1000000") - Decimal("320030") - Decimal("320.030")
    assert b.btc_sat == 7_000_000
    assert b.jpy_reserved == 0 and b.btc_reserved_sat == 0


def test_resting_buy_reserves_jpy_and_fills_as_maker_with_rebate() -> None:
    fees = FeeRates(maker=Decimal("-0.0001"), taker=Decimal("0.001"))
    v = venue(fees)
    order = v.place("buy", 16_000_500, 1_000_000, None, "good_til_cancelled", 1)
    assert v.transactions == []
    # Reserve 0.01 BTC × 16,000,500 = 160,005 JPY plus the worst fee (0.1 %) = 160,165.005.
    assert v.balances.jpy_reserved == Decimal("160165.005")
    assert v.balances.free_jpy == Decimal("1000000") - Decimal("160165.005")
    # The ask side moves through our price: we fill at our own price as maker.
    v.apply_event(BookDiff(1, None, bids=(), asks=((16_000_400, 600_000),)), 2)
    assert [(t.rate, t.amount_sat, t.liquidity) for t in v.transactions] == [
        (16_000_500, 600_000, "M")
    ]
    assert order.remaining_sat == 400_000
    assert v.balances.jpy_reserved == Decimal("64066.002")  # 0.004 × 16,000,500 × 1.001
    # Maker rebate: 96,003 JPY notional × -0.0001 = -9.6003 JPY fee (we receive it).
    assert v.balances.jpy == Decimal("1000000") - Decimal("96003") + Decimal("9.6003")
    v.cancel(order.id)
    assert v.balances.jpy_reserved == 0
    assert order.status is OrderStatus.CANCELLED


def test_sell_reserves_btc_and_spot_only_limits() -> None:
    v = venue(btc_sat=1_000_000)
    with pytest.raises(VenueError) as exc:
        v.place("sell", 16_100_000, 1_500_000, None, "good_til_cancelled", 1)
    assert exc.value.status == 400 and "Insufficient" in exc.value.message
    v.place("sell", 16_100_000, 600_000, None, "good_til_cancelled", 1)
    assert v.balances.btc_reserved_sat == 600_000
    with pytest.raises(VenueError):
        v.place("sell", 16_100_000, 500_000, None, "good_til_cancelled", 1)  # only 0.004 free
    with pytest.raises(VenueError):
        venue(jpy="1000").place("buy", 16_000_000, 500_000, None, "good_til_cancelled", 1)
    with pytest.raises(VenueError) as small:
        v.place("buy", 16_000_000, 499_999, None, "good_til_cancelled", 1)
    assert "0.005" in small.value.message


def test_post_only_that_would_take_is_cancelled() -> None:
    v = venue()
    order = v.place("buy", 16_001_000, 1_000_000, None, "post_only", 1)
    assert order.status is OrderStatus.CANCELLED
    assert v.transactions == [] and v.balances.jpy_reserved == 0


def test_market_orders_take_and_never_rest() -> None:
    v = venue()
    # 200,000 JPY buys 0.01 BTC at 16,001,000 (160,010) then floor(39,990 / 16,002,000 BTC).
    order = v.place("market_buy", None, None, Decimal("200000"), "good_til_cancelled", 1)
    amounts = [(t.rate, t.amount_sat) for t in v.transactions]
    assert amounts == [(16_001_000, 1_000_000), (16_002_000, 249_906)]
    assert order.status is OrderStatus.FILLED
    spent = Decimal("1000000") - v.balances.jpy
    assert spent <= Decimal("200000")
    sell = v.place("market_sell", None, 1_500_000, None, "good_til_cancelled", 2)
    assert [(t.rate, t.amount_sat) for t in v.transactions[2:]] == [
        (16_000_000, 1_000_000),
        (15_999_000, 500_000),
    ]
    assert sell.status is OrderStatus.FILLED and not v.open


def test_liquidity_we_took_does_not_fill_us_twice() -> None:
    v = venue()
    v.place("buy", 16_001_000, 1_000_000, None, "good_til_cancelled", 1)
    second = v.place("buy", 16_001_000, 1_000_000, None, "good_til_cancelled", 2)
    assert len(v.transactions) == 1  # the displayed 0.01 BTC was ours already
    assert second.status is OrderStatus.OPEN
