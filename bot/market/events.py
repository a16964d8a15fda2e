"""Market event types: what the exchange told us, when it said it, and when we heard it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

SATOSHI_PER_BTC = 100_000_000


class Side(IntEnum):
    """Taker or order side; the sign is the direction of the BTC flow for the buyer."""

    BUY = 1
    SELL = -1


Level = tuple[int, int]
"""A book level: (price in JPY, amount in satoshi). Amount 0 removes the level."""


@dataclass(frozen=True, slots=True)
class BookDiff:
    """Changed levels of one order-book message (Coincheck sends diffs, not snapshots)."""

    ts_us: int
    """Local receive time, microseconds since the epoch (UTC): the strategy's clock."""
    exchange_ts_us: int | None
    """Exchange time (`last_update_at`, whole seconds on Coincheck) when the message had one."""
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """A full book (REST `order_books`): replaces whatever the book held."""

    ts_us: int
    exchange_ts_us: int | None
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class TradePrint:
    """One public trade."""

    ts_us: int
    exchange_ts_us: int | None
    trade_id: int
    price: int
    amount_sat: int
    taker_side: Side


MarketEvent = BookDiff | BookSnapshot | TradePrint


def btc_to_sat(text: str | float) -> int:
    """'0.03' -> 3_000_000. Exact for amounts with at most 8 decimals below 10^7 BTC.

    Raises ValueError for non-numbers, infinities and a positive amount below one satoshi
    (which would otherwise turn a level update into a removal)."""
    value = float(text)
    if not math.isfinite(value) or abs(value) > 1e7:
        raise ValueError(f"amount {text!r} is not a finite BTC amount")
    sat = round(value * SATOSHI_PER_BTC)
    if sat == 0 and value != 0:
        raise ValueError(f"amount {text!r} is below one satoshi")
    return sat


def price_to_int(text: str | float) -> int:
    """Coincheck rates are whole yen sent as '16857500.0'; the 1 JPY tick makes this exact.

    Raises ValueError for non-numbers, infinities and prices off the 1 JPY tick."""
    value = float(text)
    if not math.isfinite(value) or abs(value) > 1e12:
        raise ValueError(f"rate {text!r} is not a finite JPY price")
    price = round(value)
    if abs(value - price) > 1e-6:
        raise ValueError(f"rate {text!r} is not on the 1 JPY tick")
    return price


def event_level_count(event: MarketEvent) -> int:
    """How many level updates or trades an event carries (the unit of the replay benchmarks)."""
    if isinstance(event, TradePrint):
        return 1
    return len(event.bids) + len(event.asks)
