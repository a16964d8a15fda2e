"""Simulated venue for backtests: order latency, then the shared fill model.

An order decided at time t reaches the book at t + latency.order_ms and trades against the book
as it stood then (the state after the last event at or before that instant). What it cannot
take rests at its limit and fills as the book moves through it. Cancels take effect at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bot.market.events import Side
from bot.trading.fills import BookTop, Fill, LiquidityLedger, match_incoming, match_resting
from bot.trading.trader import CancelOrder, Intent, PlaceOrder, Trader


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One of our fills, as the backtest report and the parity test see it."""

    ts_us: int
    client_id: int
    side: Side
    price: int
    amount_sat: int
    liquidity: str
    purpose: str


@dataclass(slots=True)
class _Resting:
    order: PlaceOrder
    remaining_sat: int


class SimulatedVenue:
    """Executes a Trader's intents against a replayed book."""

    def __init__(self, trader: Trader, order_latency_us: int) -> None:
        self.trader = trader
        self.latency_us = order_latency_us
        self.in_flight: deque[tuple[int, PlaceOrder]] = deque()  # (arrival time, order)
        self.resting: dict[int, _Resting] = {}
        self.ledger = LiquidityLedger()
        self.fills: list[FillRecord] = []

    @property
    def busy(self) -> bool:
        return bool(self.in_flight or self.resting)

    def handle(self, intents: list[Intent]) -> None:
        for intent in intents:
            if isinstance(intent, PlaceOrder):
                self.in_flight.append((intent.ts_us + self.latency_us, intent))
            elif isinstance(intent, CancelOrder):
                self._cancel(intent.client_id)

    def _cancel(self, client_id: int) -> None:
        self.resting.pop(client_id, None)
        for i, (_, order) in enumerate(self.in_flight):
            if order.client_id == client_id:
                del self.in_flight[i]
                break
        self.trader.on_order_closed(client_id)

    def _book(self, order: PlaceOrder, fill: Fill, ts_us: int) -> None:
        self.fills.append(
            FillRecord(
                ts_us,
                order.client_id,
                order.side,
                fill.price,
                fill.amount_sat,
                fill.liquidity.value,
                order.purpose.value,
            )
        )
        self.trader.on_fill(order.client_id, fill, ts_us)

    def process_arrivals(self, before_us: int, top: Callable[[], BookTop]) -> None:
        """Orders arriving before `before_us` meet the current book (the state they saw)."""
        book = None
        while self.in_flight and self.in_flight[0][0] < before_us:
            arrival, order = self.in_flight.popleft()
            book = book or top()
            remaining = order.amount_sat
            for fill in match_incoming(order.side, order.price, remaining, book, self.ledger):
                self._book(order, fill, arrival)
                remaining -= fill.amount_sat
            if remaining > 0:
                self.resting[order.client_id] = _Resting(order, remaining)

    def match_resting(self, ts_us: int, top: BookTop) -> None:
        for cid in list(self.resting):
            r = self.resting[cid]
            for fill in match_resting(
                r.order.side, r.order.price, r.remaining_sat, top, self.ledger
            ):
                r.remaining_sat -= fill.amount_sat
                if r.remaining_sat <= 0:
                    del self.resting[cid]
                self._book(r.order, fill, ts_us)
