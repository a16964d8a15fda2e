"""Trader order lifecycle: entries, TP/SL boundaries, timeouts, re-sent exits, risk refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.config import TradeParams
from bot.market.events import Side
from bot.trading.fills import Fill, Liquidity
from bot.trading.position import Position
from bot.trading.trader import CancelOrder, PlaceOrder, Purpose, Trader

T0 = 1_754_229_665_000_000
SEC = 1_000_000
BID, ASK = 16_999_000, 17_000_000


def params(**overrides: Any) -> TradeParams:
    base: dict[str, Any] = {
        "order_amount": "0.005",
        "entry_price_offset": 0,
        "long": {"tp": 2000, "sl": -3000},
        "short": {"tp": 2000, "sl": -3000},
        "risk": {"max_drawdown_percent": 5.0, "max_position_ratio": 1.0},
        "order": {"timeout_seconds": 5.0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            base[key] = {**base.get(key, {}), **value}
        else:
            base[key] = value
    return TradeParams.model_validate(base)


def trader(jpy: int = 1_000_000, btc_sat: int = 5_000_000, **overrides: Any) -> Trader:
    t = Trader(params(**overrides), Position(Decimal(jpy), btc_sat))
    t.mark_start((BID + ASK) // 2)
    return t


def fill(t: Trader, order: PlaceOrder, ts: int, amount: int | None = None, price: int = 0) -> None:
    t.on_fill(
        order.client_id,
        Fill(price or order.price, amount or order.amount_sat, Liquidity.TAKER),
        ts,
    )


def open_long(t: Trader, entry: int = 17_000_000) -> None:
    (order,) = t.on_tick(T0, entry - 1000, entry, signal=1)
    assert isinstance(order, PlaceOrder)
    fill(t, order, T0 + 1)
    assert t.position.position_sat == 500_000 and not t.working


def open_short(t: Trader, entry: int = 17_000_000) -> None:
    (order,) = t.on_tick(T0, entry, entry + 1000, signal=-1)
    assert isinstance(order, PlaceOrder)
    fill(t, order, T0 + 1)
    assert t.position.position_sat == -500_000 and not t.working


# --------------------------------------------------------------------------- entries
def test_entry_buy_at_ask_plus_offset_sell_at_bid_minus_offset() -> None:
    t = trader(entry_price_offset=100)
    assert t.idle
    (order,) = t.on_tick(T0, BID, ASK, signal=1)
    assert order == PlaceOrder(1, Side.BUY, ASK + 100, 500_000, Purpose.ENTRY, T0)
    t2 = trader(entry_price_offset=100)
    (order2,) = t2.on_tick(T0, BID, ASK, signal=-1)
    assert order2 == PlaceOrder(1, Side.SELL, BID - 100, 500_000, Purpose.ENTRY, T0)


def test_no_signal_no_order_and_no_order_on_untradable_book() -> None:
    t = trader()
    assert t.on_tick(T0, BID, ASK, signal=0) == []
    assert t.on_tick(T0, None, None, signal=1) == []
    assert t.on_tick(T0, BID, None, signal=1) == []
    assert t.idle


def test_no_second_entry_while_one_is_working() -> None:
    t = trader()
    (first,) = t.on_tick(T0, BID, ASK, signal=1)
    assert not t.idle
    assert t.on_tick(T0 + 1, BID, ASK, signal=1) == []
    assert t.on_tick(T0 + 2, BID, ASK, signal=-1) == []
    assert list(t.working) == [first.client_id]


def test_no_entry_while_holding_a_position() -> None:
    t = trader()
    open_long(t)
    assert t.on_tick(T0 + 2, 16_999_500, 17_000_500, signal=1) == []
    assert t.on_tick(T0 + 3, 16_999_500, 17_000_500, signal=-1) == []


# --------------------------------------------------------------------------- TP / SL
@pytest.mark.parametrize(
    ("bid", "expected"),
    [
        (17_001_999, None),  # +1,999 < tp 2,000
        (17_002_000, "tp"),  # +2,000 == tp
        (16_997_001, None),  # −2,999 > sl −3,000
        (16_997_000, "sl"),  # −3,000 == sl
    ],
)
def test_long_tp_sl_boundaries_use_the_bid(bid: int, expected: str | None) -> None:
    t = trader()
    open_long(t, entry=17_000_000)
    intents = t.on_tick(T0 + SEC, bid, bid + 50_000, signal=0)  # ask far away: irrelevant
    if expected is None:
        assert intents == []
        assert t.exit_reason is None
    else:
        assert intents == [PlaceOrder(2, Side.SELL, bid, 500_000, Purpose.EXIT, T0 + SEC)]
        assert t.exit_reason == expected


@pytest.mark.parametrize(
    ("ask", "expected"),
    [
        (16_998_001, None),  # +1,999
        (16_998_000, "tp"),
        (17_002_999, None),  # −2,999
        (17_003_000, "sl"),
    ],
)
def test_short_tp_sl_boundaries_use_the_ask(ask: int, expected: str | None) -> None:
    t = trader()
    open_short(t, entry=17_000_000)
    intents = t.on_tick(T0 + SEC, ask - 50_000, ask, signal=0)
    if expected is None:
        assert intents == []
    else:
        assert intents == [PlaceOrder(2, Side.BUY, ask, 500_000, Purpose.EXIT, T0 + SEC)]
        assert t.exit_reason == expected


def test_exit_price_applies_offset() -> None:
    t = trader(entry_price_offset=100)
    (order,) = t.on_tick(T0, 16_999_900, 17_000_000, signal=1)
    fill(t, order, T0 + 1, price=17_000_000)
    (exit_order,) = t.on_tick(T0 + SEC, 17_002_000, 17_003_000, signal=0)
    assert (exit_order.side, exit_order.price) == (Side.SELL, 17_001_900)


def test_exit_resent_after_timed_out_partial_exit() -> None:
    t = trader(order_amount="0.01")
    (entry,) = t.on_tick(T0, 16_999_000, 17_000_000, signal=1)
    fill(t, entry, T0 + 1)
    assert t.position.position_sat == 1_000_000
    (exit1,) = t.on_tick(T0 + SEC, 17_002_000, 17_002_500, signal=0)
    fill(t, exit1, T0 + SEC + 1, amount=400_000)
    assert t.position.position_sat == 600_000
    # the exit is working: nothing new until it times out at T0 + 6 s
    assert t.on_tick(T0 + 6 * SEC - 1, 17_002_000, 17_002_500, signal=0) == []
    assert t.on_tick(T0 + 6 * SEC, 17_002_000, 17_002_500, signal=0) == [
        CancelOrder(exit1.client_id, T0 + 6 * SEC)
    ]
    t.on_order_closed(exit1.client_id)
    # price fell back below the TP, but the triggered exit is re-sent for the remainder
    (exit2,) = t.on_tick(T0 + 7 * SEC, 17_000_500, 17_001_000, signal=0)
    assert exit2 == PlaceOrder(3, Side.SELL, 17_000_500, 600_000, Purpose.EXIT, T0 + 7 * SEC)
    (rt,) = t.on_fill(exit2.client_id, Fill(17_000_500, 600_000, Liquidity.TAKER), T0 + 7 * SEC)
    # 0.004 × 2,000 + 0.006 × 500 = 8 + 3
    assert rt.pnl_jpy == Decimal("11")
    assert t.exit_reason is None and t.idle
    assert t.round_trips == [rt]


def test_dust_below_the_minimum_is_never_sent_and_the_next_entry_absorbs_it() -> None:
    t = trader()
    open_long(t, entry=17_000_000)
    (exit1,) = t.on_tick(T0 + SEC, 17_002_000, 17_002_500, signal=0)
    fill(t, exit1, T0 + SEC + 1, amount=200_000)
    t.on_tick(T0 + 6 * SEC, 17_002_000, 17_002_500, signal=0)
    t.on_order_closed(exit1.client_id)
    # 0.003 BTC left: below Coincheck's 0.005 minimum, so no exit order is ever sent for it
    assert t.position.position_sat == 300_000
    assert t.on_tick(T0 + 7 * SEC, 17_002_000, 17_002_500, signal=0) == []
    assert t.awaiting_entry and t.exit_reason is None
    # a short entry closes the dust and opens exactly order_amount: 0.005 + 0.003
    (short,) = t.on_tick(T0 + 8 * SEC, 17_002_000, 17_002_500, signal=-1)
    assert (short.side, short.amount_sat) == (Side.SELL, 800_000)
    # a long entry simply adds to it
    t2 = trader()
    open_long(t2, entry=17_000_000)
    (x,) = t2.on_tick(T0 + SEC, 17_002_000, 17_002_500, signal=0)
    fill(t2, x, T0 + SEC + 1, amount=200_000)
    t2.on_tick(T0 + 6 * SEC, 17_002_000, 17_002_500, signal=0)
    t2.on_order_closed(x.client_id)
    (long,) = t2.on_tick(T0 + 8 * SEC, 17_002_000, 17_002_500, signal=1)
    assert (long.side, long.amount_sat) == (Side.BUY, 500_000)


def test_rejection_pauses_new_orders_for_a_second() -> None:
    t = trader()
    (entry,) = t.on_tick(T0, BID, ASK, signal=1)
    t.on_order_rejected(entry.client_id, T0 + 10)
    assert t.on_tick(T0 + SEC, BID, ASK, signal=1) == []
    (again,) = t.on_tick(T0 + 10 + SEC, BID, ASK, signal=1)
    assert again.purpose is Purpose.ENTRY


def test_timeout_cancels_at_deadline_once() -> None:
    t = trader(order={"timeout_seconds": 2.5})
    (entry,) = t.on_tick(T0, BID, ASK, signal=1)
    assert t.on_tick(T0 + 2_499_999, BID, ASK, signal=1) == []
    assert t.on_tick(T0 + 2_500_000, BID, ASK, signal=1) == [
        CancelOrder(entry.client_id, T0 + 2_500_000)
    ]
    assert t.on_tick(T0 + 2_600_000, BID, ASK, signal=1) == []  # not cancelled twice
    t.on_order_closed(entry.client_id)
    assert t.idle
    (again,) = t.on_tick(T0 + 2_700_000, BID, ASK, signal=1)
    assert again.client_id == entry.client_id + 1


def test_fill_for_unknown_order_raises() -> None:
    t = trader()
    with pytest.raises(KeyError):
        t.on_fill(99, Fill(ASK, 500_000, Liquidity.TAKER), T0)


def test_fees_from_configured_rates() -> None:
    t = trader(fees={"maker": "-0.0002", "taker": "0.001"})
    assert t.fee_for(Fill(17_000_000, 500_000, Liquidity.TAKER)) == Decimal(85)
    assert t.fee_for(Fill(17_000_000, 500_000, Liquidity.MAKER)) == Decimal(-17)


# --------------------------------------------------------------------------- risk
def lose_one(t: Trader, ts: int, loss_per_btc: int) -> None:
    (entry,) = t.on_tick(ts, 16_999_000, 17_000_000, signal=1)
    fill(t, entry, ts + 1)
    bid = 17_000_000 - loss_per_btc
    (exit_order,) = t.on_tick(ts + 2, bid, bid + 1000, signal=0)
    assert exit_order.purpose is Purpose.EXIT and t.exit_reason == "sl"
    fill(t, exit_order, ts + 3)


def test_drawdown_halts_new_entries() -> None:
    # 1,000,000 JPY, no BTC; 0.01 % drawdown limit = 100 JPY; each loss 0.005 × 12,000 = 60 JPY
    t = trader(jpy=1_000_000, btc_sat=0, risk={"max_drawdown_percent": 0.01})
    assert t.initial_equity == Decimal(1_000_000)
    lose_one(t, T0, 12_000)
    assert t.position.realized_jpy == Decimal(-60)
    assert not t.risk.halted
    lose_one(t, T0 + 10 * SEC, 12_000)
    assert t.position.realized_jpy == Decimal(-120)
    assert t.risk.halted
    assert t.on_tick(T0 + 20 * SEC, BID, ASK, signal=1) == []
    assert t.refusals["halted"] == 1


def test_drawdown_measured_from_peak_realized() -> None:
    t = trader(jpy=1_000_000, btc_sat=0, risk={"max_drawdown_percent": 0.01})
    # win +10 JPY, then lose 60 + 60: drawdown 120 from the +10 peak > 100
    (entry,) = t.on_tick(T0, 16_999_000, 17_000_000, signal=1)
    fill(t, entry, T0 + 1)
    (exit_order,) = t.on_tick(T0 + 2, 17_002_000, 17_003_000, signal=0)
    fill(t, exit_order, T0 + 3)
    assert t.position.realized_jpy == Decimal(10)
    lose_one(t, T0 + 10 * SEC, 12_000)
    assert not t.risk.halted  # 70 from the peak
    lose_one(t, T0 + 20 * SEC, 12_000)
    assert t.risk.halted


def test_entry_refused_insufficient_jpy() -> None:
    # 85,000 JPY buys 0.005 at 17,000,000 but not the 85 JPY taker fee on top
    t = trader(jpy=85_000, btc_sat=0, fees={"taker": "0.001"})
    assert t.on_tick(T0, BID, ASK, signal=1) == []
    assert t.refusals["insufficient_jpy"] == 1
    t2 = trader(jpy=85_085, btc_sat=0, fees={"taker": "0.001"})
    assert len(t2.on_tick(T0, BID, ASK, signal=1)) == 1


def test_entry_refused_insufficient_btc_for_short() -> None:
    t = trader(btc_sat=499_999)
    assert t.on_tick(T0, BID, ASK, signal=-1) == []
    assert t.refusals["insufficient_btc"] == 1
    t2 = trader(btc_sat=500_000)
    assert len(t2.on_tick(T0, BID, ASK, signal=-1)) == 1


def test_entry_refused_by_max_position_ratio() -> None:
    # equity 1,000,000 JPY (no BTC); order notional 0.005 × 17,000,000 = 85,000
    t = trader(jpy=1_000_000, btc_sat=0, risk={"max_position_ratio": 0.08})  # cap 80,000
    assert t.on_tick(T0, BID, ASK, signal=1) == []
    assert t.refusals["max_position_ratio"] == 1
    t2 = trader(jpy=1_000_000, btc_sat=0, risk={"max_position_ratio": 0.085})  # cap 85,000
    assert len(t2.on_tick(T0, BID, ASK, signal=1)) == 1


def test_no_order_below_the_exchange_minimum() -> None:
    t = trader()
    (entry,) = t.on_tick(T0, BID, ASK, signal=1)
    fill(t, entry, T0 + 1, amount=200_000)
    t.on_tick(T0 + 5 * SEC, BID, ASK, signal=0)  # timeout → cancel
    t.on_order_closed(entry.client_id)
    intents = t.on_tick(T0 + 6 * SEC, 17_002_000, 17_003_000, signal=0)  # TP reached
    assert all(i.amount_sat >= 500_000 for i in intents if isinstance(i, PlaceOrder))
