"""The simulator's matching and accounting: orders against the replayed book, exact balances.

No I/O here: the server turns requests into calls on `Venue` and `Venue` into JSON.
Fills come from `bot.trading.fills` (the backtester's model), so both venues agree.
Money is exact: BTC in integer satoshi, JPY in Decimal. Fees are charged in JPY.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from bot.config import FeeRates
from bot.market.book import OrderBook
from bot.market.events import BookDiff, BookSnapshot, MarketEvent, Side, TradePrint
from bot.trading.fills import (
    FILL_DEPTH,
    BookTop,
    Fill,
    Liquidity,
    LiquidityLedger,
    fee_jpy,
    match_incoming,
    match_resting,
    notional_jpy,
)

MIN_ORDER_SAT = 500_000  # 0.005 BTC
_SAT = Decimal(100_000_000)


class VenueError(Exception):
    """A refused request: HTTP status plus Coincheck-style error text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class OrderStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class SimOrder:
    id: int
    order_type: str
    side: Side
    rate: int | None
    amount_sat: int
    remaining_sat: int
    market_buy_jpy: Decimal | None
    time_in_force: str
    created_at_us: int
    status: OrderStatus = OrderStatus.OPEN
    reserved_jpy: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class SimTransaction:
    id: int
    order_id: int
    ts_us: int
    side: Side
    rate: int
    amount_sat: int
    fee_jpy: Decimal
    liquidity: Liquidity

    @property
    def funds_jpy(self) -> Decimal:
        n = notional_jpy(self.rate, self.amount_sat)
        return -n if self.side is Side.BUY else n

    @property
    def funds_btc_sat(self) -> int:
        return self.amount_sat if self.side is Side.BUY else -self.amount_sat


@dataclass(frozen=True, slots=True)
class Balances:
    """Account state: totals include reserved funds; `free_*` is what Coincheck calls jpy/btc."""

    jpy: Decimal
    btc_sat: int
    jpy_reserved: Decimal
    btc_reserved_sat: int

    @property
    def free_jpy(self) -> Decimal:
        return self.jpy - self.jpy_reserved

    @property
    def free_btc_sat(self) -> int:
        return self.btc_sat - self.btc_reserved_sat


class Venue:
    """Book, our orders, our fills and our balances."""

    def __init__(self, jpy: Decimal, btc_sat: int, fees: FeeRates | None = None) -> None:
        self.book = OrderBook()
        self.ledger = LiquidityLedger()
        self.fees = fees or FeeRates()
        # A buy reserves its notional plus the worst fee it could pay.
        self._reserve_factor = 1 + max(Decimal(0), self.fees.maker, self.fees.taker)
        self.jpy = Decimal(jpy)
        self.btc_sat = int(btc_sat)
        self.jpy_reserved = Decimal(0)
        self.btc_reserved_sat = 0
        self.orders: dict[int, SimOrder] = {}  # every order ever placed
        self.open: dict[int, SimOrder] = {}
        self.transactions: list[SimTransaction] = []  # oldest first
        self.public_trades: deque[TradePrint] = deque(maxlen=500)
        self.last_price: int | None = None
        self.high: int | None = None
        self.low: int | None = None
        self.volume_sat = 0
        self._next_order_id = 1
        self._next_tx_id = 1

    # ------------------------------------------------------------------ state
    @property
    def balances(self) -> Balances:
        return Balances(self.jpy, self.btc_sat, self.jpy_reserved, self.btc_reserved_sat)

    def top(self) -> BookTop:
        return BookTop(
            bids=tuple(self.book.top_bids(FILL_DEPTH)), asks=tuple(self.book.top_asks(FILL_DEPTH))
        )

    # ------------------------------------------------------------------ market data
    def apply_event(self, event: MarketEvent, now_us: int) -> list[SimTransaction]:
        """Advance the market by one event; resting orders that the book crosses fill."""
        if isinstance(event, TradePrint):
            self.public_trades.append(event)
            self.last_price = event.price
            self.high = event.price if self.high is None else max(self.high, event.price)
            self.low = event.price if self.low is None else min(self.low, event.price)
            self.volume_sat += event.amount_sat
            return []
        if isinstance(event, BookSnapshot):
            self.book.load_snapshot(event)
        elif isinstance(event, BookDiff):
            self.book.apply_diff(event)
        if not self.open:
            return []
        top = self.top()
        out: list[SimTransaction] = []
        for order in sorted(self.open.values(), key=lambda o: o.id):
            assert order.rate is not None
            fills = match_resting(order.side, order.rate, order.remaining_sat, top, self.ledger)
            out.extend(self._apply_fills(order, fills, now_us))
        return out

    # ------------------------------------------------------------------ orders
    def place(
        self,
        order_type: str,
        rate: int | None,
        amount_sat: int | None,
        market_buy_jpy: Decimal | None,
        time_in_force: str,
        now_us: int,
    ) -> SimOrder:
        """Accept (and immediately match) an order, or raise VenueError."""
        side = Side.BUY if order_type in ("buy", "market_buy") else Side.SELL
        if order_type in ("buy", "sell"):
            order = self._place_limit(order_type, side, rate, amount_sat, time_in_force, now_us)
        elif order_type == "market_sell":
            order = self._place_market_sell(amount_sat, now_us)
        elif order_type == "market_buy":
            order = self._place_market_buy(market_buy_jpy, now_us)
        else:
            raise VenueError(400, "order_type is not included in the list")
        return order

    def _new_order(self, **kw: object) -> SimOrder:
        order = SimOrder(id=self._next_order_id, **kw)  # type: ignore[arg-type]
        self._next_order_id += 1
        self.orders[order.id] = order
        return order

    def _check_amount(self, amount_sat: int | None) -> int:
        if amount_sat is None:
            raise VenueError(400, "Amount can't be blank")
        if amount_sat < MIN_ORDER_SAT:
            raise VenueError(400, "Amount amount must be greater than 0.005")
        return amount_sat

    def _place_limit(
        self,
        order_type: str,
        side: Side,
        rate: int | None,
        amount_sat: int | None,
        time_in_force: str,
        now_us: int,
    ) -> SimOrder:
        if rate is None or rate <= 0:
            raise VenueError(400, "Rate can't be blank")
        amount = self._check_amount(amount_sat)
        if time_in_force not in ("good_til_cancelled", "post_only"):
            raise VenueError(400, "time_in_force is not included in the list")
        if side is Side.BUY:
            need = notional_jpy(rate, amount) * self._reserve_factor
            if need > self.jpy - self.jpy_reserved:
                raise VenueError(400, "Insufficient balance")
        elif amount > self.btc_sat - self.btc_reserved_sat:
            raise VenueError(400, "Insufficient balance")
        order = self._new_order(
            order_type=order_type,
            side=side,
            rate=rate,
            amount_sat=amount,
            remaining_sat=amount,
            market_buy_jpy=None,
            time_in_force=time_in_force,
            created_at_us=now_us,
        )
        self._reserve(order)
        self.open[order.id] = order
        top = self.top()
        crosses = (
            (top.asks and top.asks[0][0] <= rate)
            if side is Side.BUY
            else (top.bids and top.bids[0][0] >= rate)
        )
        if time_in_force == "post_only" and crosses:
            self._cancel(order)  # post_only never takes: it is cancelled instead
            return order
        self._apply_fills(order, match_incoming(side, rate, amount, top, self.ledger), now_us)
        return order

    def _place_market_sell(self, amount_sat: int | None, now_us: int) -> SimOrder:
        amount = self._check_amount(amount_sat)
        if amount > self.btc_sat - self.btc_reserved_sat:
            raise VenueError(400, "Insufficient balance")
        order = self._new_order(
            order_type="market_sell",
            side=Side.SELL,
            rate=None,
            amount_sat=amount,
            remaining_sat=amount,
            market_buy_jpy=None,
            time_in_force="good_til_cancelled",
            created_at_us=now_us,
        )
        fills = match_incoming(Side.SELL, 1, amount, self.top(), self.ledger)
        self._finish_market(order, fills, now_us)
        return order

    def _place_market_buy(self, jpy: Decimal | None, now_us: int) -> SimOrder:
        if jpy is None or jpy <= 0:
            raise VenueError(400, "Market buy amount can't be blank")
        if jpy * self._reserve_factor > self.jpy - self.jpy_reserved:
            raise VenueError(400, "Insufficient balance")
        top = self.top()
        # How much BTC the JPY buys, walking the displayed asks the fill model would take.
        budget, amount = jpy, 0
        probe = LiquidityLedger()
        probe._taken = dict(self.ledger._taken)
        for price, displayed in top.asks:
            avail = probe.available(-1, price, displayed)
            qty = min(avail, int(budget * _SAT // price))
            if qty <= 0:
                break
            amount += qty
            budget -= notional_jpy(price, qty)
        order = self._new_order(
            order_type="market_buy",
            side=Side.BUY,
            rate=None,
            amount_sat=amount,
            remaining_sat=amount,
            market_buy_jpy=jpy,
            time_in_force="good_til_cancelled",
            created_at_us=now_us,
        )
        limit = top.asks[-1][0] if top.asks else 1
        fills = match_incoming(Side.BUY, limit, amount, top, self.ledger) if amount else []
        self._finish_market(order, fills, now_us)
        return order

    def _finish_market(self, order: SimOrder, fills: list[Fill], now_us: int) -> None:
        self.open[order.id] = order
        self._apply_fills(order, fills, now_us)
        if order.status is OrderStatus.OPEN:
            self._cancel(order)  # market orders never rest: the unfilled rest is cancelled

    def cancel(self, order_id: int) -> SimOrder:
        order = self.open.get(order_id)
        if order is None:
            raise VenueError(404, "The order doesn't exist.")
        self._cancel(order)
        return order

    def _cancel(self, order: SimOrder) -> None:
        order.status = OrderStatus.CANCELLED
        self._release(order, order.remaining_sat)
        self.open.pop(order.id, None)

    # ------------------------------------------------------------------ money
    def _reserve(self, order: SimOrder) -> None:
        if order.side is Side.BUY:
            assert order.rate is not None
            order.reserved_jpy = (
                notional_jpy(order.rate, order.remaining_sat) * self._reserve_factor
            )
            self.jpy_reserved += order.reserved_jpy
        else:
            self.btc_reserved_sat += order.remaining_sat

    def _release(self, order: SimOrder, amount_sat: int) -> None:
        """Free the reservation for `amount_sat` of the order's remaining amount."""
        if order.rate is None:
            return  # market orders reserve nothing
        if order.side is Side.BUY:
            after = (
                notional_jpy(order.rate, order.remaining_sat - amount_sat) * self._reserve_factor
            )
            if order.status is OrderStatus.CANCELLED:
                after = Decimal(0)
            self.jpy_reserved -= order.reserved_jpy - after
            order.reserved_jpy = after
        else:
            self.btc_reserved_sat -= amount_sat

    def _apply_fills(self, order: SimOrder, fills: list[Fill], now_us: int) -> list[SimTransaction]:
        out = []
        for fill in fills:
            rate = self.fees.taker if fill.liquidity is Liquidity.TAKER else self.fees.maker
            fee = fee_jpy(fill.price, fill.amount_sat, rate)
            self._release(order, fill.amount_sat)
            order.remaining_sat -= fill.amount_sat
            notional = notional_jpy(fill.price, fill.amount_sat)
            if order.side is Side.BUY:
                self.jpy -= notional + fee
                self.btc_sat += fill.amount_sat
            else:
                self.jpy += notional - fee
                self.btc_sat -= fill.amount_sat
            tx = SimTransaction(
                id=self._next_tx_id,
                order_id=order.id,
                ts_us=now_us,
                side=order.side,
                rate=fill.price,
                amount_sat=fill.amount_sat,
                fee_jpy=fee,
                liquidity=fill.liquidity,
            )
            self._next_tx_id += 1
            self.transactions.append(tx)
            out.append(tx)
        if order.remaining_sat <= 0 and order.status is OrderStatus.OPEN:
            order.status = OrderStatus.FILLED
            self.open.pop(order.id, None)
        return out
