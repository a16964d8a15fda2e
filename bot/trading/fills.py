"""The fill model shared by the backtester and the exchange simulator.

Assumptions (kept small and named, in the spirit of hftbacktest's pluggable models):
- Only *displayed* liquidity fills us, and only the best `FILL_DEPTH` levels of each side are
  visible to the model (a scalper's 0.005–0.1 BTC orders never need more).
- An incoming limit order takes the crossing levels best-first, each at the level's price
  (taker). What it cannot take rests at its limit price.
- A resting order fills (maker, at its own price) when the opposite side of the book moves
  through its price, up to the displayed amount that crosses it.
- Liquidity we took is remembered per price level while that level's displayed amount is
  unchanged, so the same displayed satoshi never fill us twice (the replayed book does not
  know we traded).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot.market.events import SATOSHI_PER_BTC, Level, Side

FILL_DEPTH = 10
_SAT = Decimal(SATOSHI_PER_BTC)


class Liquidity(StrEnum):
    TAKER = "T"
    MAKER = "M"


@dataclass(frozen=True, slots=True)
class Fill:
    price: int
    amount_sat: int
    liquidity: Liquidity


@dataclass(frozen=True, slots=True)
class BookTop:
    """What the fill model sees: the best FILL_DEPTH levels per side, best first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


def notional_jpy(price: int, amount_sat: int) -> Decimal:
    """Exact JPY value of amount_sat at price."""
    return Decimal(price * amount_sat) / _SAT


def fee_jpy(price: int, amount_sat: int, rate: Decimal) -> Decimal:
    """Exact fee (negative = rebate) for one fill."""
    return notional_jpy(price, amount_sat) * rate


class LiquidityLedger:
    """Displayed liquidity already consumed by our own orders, per (side, price)."""

    __slots__ = ("_taken",)

    def __init__(self) -> None:
        # (book side sign, price) -> (displayed amount when we took it, satoshi taken)
        self._taken: dict[tuple[int, int], tuple[int, int]] = {}

    def available(self, book_side: int, price: int, displayed: int) -> int:
        seen = self._taken.get((book_side, price))
        if seen is None:
            return displayed
        if seen[0] != displayed:
            # The level changed since we traded against it: the new amount is the truth.
            del self._taken[(book_side, price)]
            return displayed
        return max(0, displayed - seen[1])

    def take(self, book_side: int, price: int, displayed: int, amount: int) -> None:
        key = (book_side, price)
        seen = self._taken.get(key)
        already = seen[1] if seen is not None and seen[0] == displayed else 0
        self._taken[key] = (displayed, already + amount)

    def clear(self) -> None:
        self._taken.clear()


def _crossing_levels(side: Side, limit_price: int, top: BookTop) -> tuple[int, tuple[Level, ...]]:
    """Opposite-side levels an order of `side` at `limit_price` can trade with."""
    if side is Side.BUY:
        return -1, tuple(lv for lv in top.asks if lv[0] <= limit_price)
    return 1, tuple(lv for lv in top.bids if lv[0] >= limit_price)


def match_incoming(
    side: Side, limit_price: int, amount_sat: int, top: BookTop, ledger: LiquidityLedger
) -> list[Fill]:
    """An arriving limit order takes crossing displayed levels best-first, at their prices."""
    fills: list[Fill] = []
    remaining = amount_sat
    book_side, levels = _crossing_levels(side, limit_price, top)
    for price, displayed in levels:
        if remaining <= 0:
            break
        qty = min(remaining, ledger.available(book_side, price, displayed))
        if qty > 0:
            ledger.take(book_side, price, displayed, qty)
            fills.append(Fill(price, qty, Liquidity.TAKER))
            remaining -= qty
    return fills


def match_resting(
    side: Side, limit_price: int, remaining_sat: int, top: BookTop, ledger: LiquidityLedger
) -> list[Fill]:
    """A resting order fills at its own price against displayed levels that now cross it."""
    book_side, levels = _crossing_levels(side, limit_price, top)
    filled = 0
    for price, displayed in levels:
        if filled >= remaining_sat:
            break
        qty = min(remaining_sat - filled, ledger.available(book_side, price, displayed))
        if qty > 0:
            ledger.take(book_side, price, displayed, qty)
            filled += qty
    return [Fill(limit_price, filled, Liquidity.MAKER)] if filled > 0 else []
