"""The order lifecycle decided from signals: entries, TP/SL exits, timeouts. Pure and venue-free.

The trader never talks to an exchange: it returns intents (place, cancel) and is told about
fills and closed orders. The backtester's simulated venue and the live bot's REST executor
both drive this same class, so they make the same decisions.

Rules: one position cycle at a time; an entry only when flat with no working order (never two
entries racing); TP/SL checked against the side we would exit into (bid for a long, ask for a
short) only while no order is working; once an exit is triggered it is re-sent until flat;
every order is cancelled `order.timeout_seconds` after it was sent.

Dust: Coincheck refuses orders below 0.005 BTC, so a partial fill can leave a position too small
to exit. Such dust counts as flat for decisions: it is never sent as an exit order, and the next
entry absorbs it (an entry against the dust's side is enlarged by the dust, so the position it
opens is exactly `order_amount`; one on the same side simply adds to it).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import MutableSequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot.config import MIN_ORDER_BTC, SATOSHI_PER_BTC, TradeParams
from bot.market.events import Side
from bot.trading.fills import Fill, Liquidity, fee_jpy
from bot.trading.position import Position, RoundTrip
from bot.trading.risk import RiskLimits

MIN_ORDER_SAT = int(MIN_ORDER_BTC * SATOSHI_PER_BTC)
REJECTION_COOLDOWN_US = 1_000_000


class Purpose(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    client_id: int
    side: Side
    price: int
    amount_sat: int
    purpose: Purpose
    ts_us: int


@dataclass(frozen=True, slots=True)
class CancelOrder:
    client_id: int
    ts_us: int


Intent = PlaceOrder | CancelOrder


@dataclass(slots=True)
class WorkingOrder:
    order: PlaceOrder
    deadline_us: int
    filled_sat: int = 0
    cancel_requested: bool = False

    @property
    def remaining_sat(self) -> int:
        return self.order.amount_sat - self.filled_sat


class Trader:
    """Decides orders from the signal, the book's best prices and the position."""

    def __init__(
        self, params: TradeParams, position: Position, keep_round_trips: int | None = None
    ) -> None:
        """`keep_round_trips`: how many recent round trips to keep (None: all, for backtests;
        a bot that runs for months keeps the last few and counts the rest)."""
        self.position = position
        self.risk = RiskLimits(params)
        self.working: dict[int, WorkingOrder] = {}
        self.exit_reason: str | None = None
        self.initial_equity: Decimal | None = None
        self.refusals: Counter[str] = Counter()
        self.round_trips: MutableSequence[RoundTrip] = (
            [] if keep_round_trips is None else deque(maxlen=keep_round_trips)
        )
        self.round_trip_count = 0
        self.cooldown_until_us = 0
        self._next_id = 1
        self.update_params(params)

    def update_params(self, params: TradeParams) -> None:
        """Takes effect from the next tick; orders already working keep their terms."""
        self.params = params
        self._amount = params.order_amount_sat
        self._offset = params.entry_price_offset
        self._timeout_us = round(params.order.timeout_seconds * 1_000_000)
        self._long = params.long
        self._short = params.short
        self._maker_fee = params.fees.maker
        self._taker_fee = params.fees.taker
        self.risk.update_params(params)

    # ------------------------------------------------------------------ state
    @property
    def idle(self) -> bool:
        """Flat with nothing working: only a signal can make the next tick do anything."""
        return self.position.position_sat == 0 and not self.working

    @property
    def awaiting_entry(self) -> bool:
        """Nothing to manage: flat or holding dust, no order working."""
        return abs(self.position.position_sat) < MIN_ORDER_SAT and not self.working

    def _new_id(self) -> int:
        cid = self._next_id
        self._next_id += 1
        return cid

    def _place(self, side: Side, price: int, amount: int, purpose: Purpose, ts: int) -> PlaceOrder:
        order = PlaceOrder(self._new_id(), side, price, amount, purpose, ts)
        self.working[order.client_id] = WorkingOrder(order, ts + self._timeout_us)
        return order

    def mark_start(self, mid: int) -> None:
        """Fix the starting equity (the drawdown limit's base) at the first tradable book."""
        if self.initial_equity is None:
            self.initial_equity = self.position.equity_jpy(mid)

    # ------------------------------------------------------------------ events
    def on_tick(self, ts_us: int, bid: int | None, ask: int | None, signal: int) -> list[Intent]:
        """After each market event. `bid`/`ask` are None while the book is not tradable."""
        intents: list[Intent] = []
        if self.working:
            for w in self.working.values():
                if not w.cancel_requested and ts_us >= w.deadline_us:
                    w.cancel_requested = True
                    intents.append(CancelOrder(w.order.client_id, ts_us))
            return intents
        if bid is None or ask is None:
            return intents

        if ts_us < self.cooldown_until_us:
            return intents
        pos = self.position.position_sat
        if abs(pos) >= MIN_ORDER_SAT:
            size = abs(pos)
            if pos > 0:
                pnl = bid * size - self.position.open_value
                if self.exit_reason is None:
                    if pnl >= self._long.tp * size:
                        self.exit_reason = "tp"
                    elif pnl <= self._long.sl * size:
                        self.exit_reason = "sl"
                if self.exit_reason is not None:
                    price = bid - self._offset
                    intents.append(self._place(Side.SELL, price, size, Purpose.EXIT, ts_us))
            else:
                pnl = self.position.open_value - ask * size
                if self.exit_reason is None:
                    if pnl >= self._short.tp * size:
                        self.exit_reason = "tp"
                    elif pnl <= self._short.sl * size:
                        self.exit_reason = "sl"
                if self.exit_reason is not None:
                    price = ask + self._offset
                    intents.append(self._place(Side.BUY, price, size, Purpose.EXIT, ts_us))
            return intents

        self.exit_reason = None  # flat or dust: nothing left to exit
        if signal == 0:
            return intents
        side = Side.BUY if signal > 0 else Side.SELL
        price = ask + self._offset if side is Side.BUY else bid - self._offset
        amount = self._amount
        if pos and (pos > 0) != (signal > 0):
            amount += abs(pos)  # close the dust and open exactly order_amount
        refusal = self.risk.entry_refusal(side, price, amount, self.position, (bid + ask) // 2)
        if refusal is not None:
            self.refusals[refusal] += 1
            return intents
        intents.append(self._place(side, price, amount, Purpose.ENTRY, ts_us))
        return intents

    def fee_for(self, fill: Fill) -> Decimal:
        rate = self._taker_fee if fill.liquidity is Liquidity.TAKER else self._maker_fee
        return fee_jpy(fill.price, fill.amount_sat, rate)

    def on_fill(
        self,
        client_id: int,
        fill: Fill,
        ts_us: int,
        fee: Decimal | None = None,
        late_side: Side | None = None,
    ) -> list[RoundTrip]:
        """Book a fill of one of our orders (fee from the venue, or the configured rates).

        `late_side` books a fill of an order already closed (live: found by a later poll)."""
        w = self.working.get(client_id)
        if w is None:
            if late_side is None:
                raise KeyError(f"fill for unknown order {client_id}")
            side = late_side  # a fill that raced the order's cancel: book it all the same
        else:
            w.filled_sat += fill.amount_sat
            side = w.order.side
        fee = self.fee_for(fill) if fee is None else fee
        closed = self.position.apply_fill(side, fill.price, fill.amount_sat, fee, ts_us)
        if closed:
            self.exit_reason = None
            self.round_trips.extend(closed)
            self.round_trip_count += len(closed)
            if self.initial_equity is not None:
                self.risk.record_realized(self.position.realized_jpy, self.initial_equity)
        if w is not None and w.remaining_sat <= 0:
            del self.working[client_id]
        return closed

    def on_order_closed(self, client_id: int) -> None:
        """The venue reports the order done (cancelled or expired)."""
        self.working.pop(client_id, None)

    def on_order_rejected(self, client_id: int, ts_us: int) -> None:
        """The venue refused the order: close it and pause new orders briefly, so a refusal
        that will repeat (funds, limits) is not hammered on every tick."""
        self.working.pop(client_id, None)
        self.cooldown_until_us = ts_us + REJECTION_COOLDOWN_US
