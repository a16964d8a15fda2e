"""Executes the Trader's intents on a Coincheck-compatible REST API and reports fills back.

- Place: one `create_order` per intent, never retried blindly (the REST client reconciles an
  ambiguous failure from open orders / transactions). A refusal closes the order in the Trader.
- Fills: own transactions are polled every `order.poll_interval_ms` while any order is ours;
  each new transaction of one of our orders becomes a Trader fill (exact fee from the venue).
- Cancel: at the Trader's deadline; after the venue confirms, one more poll collects the fills
  that raced the cancel, then the order is closed.
- Orphans: at start every open order on the account is cancelled, and a periodic sweep cancels
  any open order that is not ours (the account belongs to this bot).
- Live mode sends nothing until `bot.confirm_live_trading` is true.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.clock import WALL_CLOCK, MarketClock
from bot.exchange.errors import ExchangeError
from bot.exchange.models import Transaction
from bot.exchange.rest import CoincheckRest
from bot.market.events import Side
from bot.market.loaders import parse_time_us
from bot.service.metrics import BotMetrics
from bot.service.state_store import RememberedOrder, StateStore
from bot.storage.rows import FillRow, LatencySampleRow, OrderEventRow, OrderState
from bot.trading.fills import Fill, Liquidity
from bot.trading.trader import CancelOrder, Intent, PlaceOrder, Purpose, Trader

log = logging.getLogger("bot.orders")

RowSink = Callable[[object], None]
TRANSACTIONS_KEPT = 100  # about how many ids a transactions reply lists; pruning starts at 2x


@dataclass(slots=True)
class LiveOrder:
    client_id: int
    order: PlaceOrder
    exchange_id: int | None = None
    cancel_wanted: bool = False
    closing: bool = False
    filled_sat: int = 0


def transaction_time_us(tx: Transaction, clock: MarketClock) -> int:
    """The exchange's time of a fill: the same on every read, so storing it twice is one row."""
    try:
        return parse_time_us(tx.created_at.replace("Z", "+00:00"))
    except ValueError:
        return clock.now_us()


class LiveExecutor:
    def __init__(
        self,
        rest: CoincheckRest,
        trader: Trader,
        metrics: BotMetrics,
        write: RowSink,
        state: StateStore,
        mode: str,
        run_tag: str,
        send_orders: bool,
        on_fills: Callable[[bool], None] = lambda maker: None,
        clock: MarketClock = WALL_CLOCK,
    ) -> None:
        self.rest = rest
        self.clock = clock
        self.trader = trader
        self.metrics = metrics
        self._write = write
        self.state = state
        self.mode = mode
        self.run_tag = run_tag
        self.send_orders = send_orders
        self._on_fills = on_fills  # the backtester acts on a fill at once; so does the bot
        self.orders: dict[int, LiveOrder] = {}  # client id -> order
        self._by_exchange: dict[int, LiveOrder] = {}
        self._closed: dict[int, LiveOrder] = {}  # recently closed, by exchange id
        self._seen_tx: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._poll_wake = asyncio.Event()
        self._creating = 0  # orders on their way out: a routine poll must not hold them up
        self.accepting = True
        self.params_version_id = None

    # ------------------------------------------------------------------ helpers
    def client_order_id(self, client_id: int) -> str:
        return f"{self.run_tag}-{client_id}"

    def _event(self, lo: LiveOrder, state: OrderState, reason: str | None = None) -> None:
        o = lo.order
        self._write(
            OrderEventRow(
                ts=self.clock.now_us(),
                client_order_id=self.client_order_id(lo.client_id),
                exchange_order_id=lo.exchange_id,
                mode=self.mode,  # type: ignore[arg-type]
                side=int(o.side),
                price=o.price,
                amount_sat=o.amount_sat,
                filled_sat=lo.filled_sat,
                state=state,
                reason=reason,
                params_version_id=self.params_version_id,
            )
        )

    def _spawn(self, coro: object) -> None:
        task = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _close(self, lo: LiveOrder, state: OrderState, reason: str | None = None) -> None:
        self.orders.pop(lo.client_id, None)
        if lo.exchange_id is not None:
            self._by_exchange.pop(lo.exchange_id, None)
            self._closed[lo.exchange_id] = lo  # a fill that raced the cancel still finds it
            while len(self._closed) > 1000:
                self._closed.pop(next(iter(self._closed)))
        if state == "rejected":
            self.trader.on_order_rejected(lo.client_id, self.clock.now_us())
        else:
            self.trader.on_order_closed(lo.client_id)
        self._event(lo, state, reason)
        self.metrics.orders.labels(state).inc()
        self._save()

    def _save(self) -> None:
        self.state.save(self.trader.position, self.orders.values(), self._seen_tx)

    # ------------------------------------------------------------------ intents
    def handle(self, intents: list[Intent], tick_recv_ns: int) -> None:
        """Act on the Trader's intents; `tick_recv_ns` is the wall time the tick arrived."""
        for intent in intents:
            if isinstance(intent, PlaceOrder):
                lo = LiveOrder(intent.client_id, intent)
                self.orders[intent.client_id] = lo
                if not self.send_orders or not self.accepting:
                    reason = "live trading not confirmed" if not self.send_orders else "stopping"
                    log.warning("not sending order %s: %s", intent, reason)
                    self._close(lo, "rejected", reason)
                    continue
                self._event(lo, "new")
                self._spawn(self._create(lo, tick_recv_ns))
            elif isinstance(intent, CancelOrder):
                lo = self.orders.get(intent.client_id)
                if lo is not None and not lo.cancel_wanted:
                    lo.cancel_wanted = True
                    if lo.exchange_id is not None:
                        self._spawn(self._cancel(lo))

    async def _create(self, lo: LiveOrder, tick_recv_ns: int) -> None:
        o = lo.order
        sent = 0

        def on_send() -> None:
            """The request goes out now: tick-to-order ends here (once, not on a retry)."""
            nonlocal sent
            if sent:
                return
            sent = time.perf_counter_ns()
            latency_ns = time.time_ns() - tick_recv_ns
            self.metrics.tick_to_order.observe(latency_ns / 1e9)
            self._write(
                LatencySampleRow(
                    ts=self.clock.now_us(), kind="tick_to_order", value_us=latency_ns // 1000
                )
            )

        self._creating += 1
        try:
            ack = await self.rest.create_order(
                "buy" if o.side is Side.BUY else "sell",
                rate=o.price,
                amount_sat=o.amount_sat,
                on_send=on_send,
            )
        except ExchangeError as exc:
            log.warning("order %s refused: %s", self.client_order_id(lo.client_id), exc)
            self._close(lo, "rejected", f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:
            # A bug must not leave the order open in the Trader forever (no more trading);
            # if it did reach the exchange, the orphan sweep cancels it.
            log.exception("placing order %s failed", self.client_order_id(lo.client_id))
            self._close(lo, "rejected", f"internal error: {type(exc).__name__}")
            return
        finally:
            self._creating -= 1
        rtt_us = (time.perf_counter_ns() - sent) // 1000
        self.metrics.order_round_trip.observe(rtt_us / 1e6)
        self._write(
            LatencySampleRow(ts=self.clock.now_us(), kind="order_round_trip", value_us=rtt_us)
        )
        lo.exchange_id = ack.id
        self._by_exchange[ack.id] = lo
        self._event(lo, "open", "reconciled after an ambiguous reply" if ack.reconciled else None)
        self.metrics.orders.labels("placed").inc()
        log.info(
            "order placed",
            extra={
                "client_order_id": self.client_order_id(lo.client_id),
                "exchange_order_id": ack.id,
                "side": o.side.name,
                "price": o.price,
                "amount_sat": o.amount_sat,
                "purpose": o.purpose.value,
            },
        )
        self._save()
        self._poll_wake.set()
        if lo.cancel_wanted:
            await self._cancel(lo)
        else:
            # An aggressive order usually fills on arrival: learn it now, not at the next poll.
            await self.poll_once()

    async def _cancel(self, lo: LiveOrder) -> None:
        if lo.closing or lo.exchange_id is None:
            return
        lo.closing = True
        self._event(lo, "cancel_requested")
        try:
            await self.rest.cancel_order(lo.exchange_id)
        except ExchangeError as exc:
            # Most often: it filled completely before the cancel arrived. The poll decides.
            log.info("cancel of %s failed (%s); checking fills", lo.exchange_id, exc)
        await self.poll_once()
        if lo.client_id in self.orders:
            self._close(lo, "cancelled", "timeout")

    # ------------------------------------------------------------------ fills
    def _apply_transaction(self, tx: Transaction) -> None:
        lo = self._by_exchange.get(tx.order_id)
        self._seen_tx.add(tx.id)
        late = lo is None
        if late:
            lo = self._closed.get(tx.order_id)
            if lo is None:
                return  # not ours (the account's history before this run)
            log.warning("late fill %s of closed order %s booked", tx.id, tx.order_id)
        liquidity = Liquidity.MAKER if tx.liquidity == "M" else Liquidity.TAKER
        fill = Fill(tx.rate, tx.amount_sat, liquidity)
        ts = self.clock.now_us()
        fee = _jpy_fee(tx)
        lo.filled_sat += fill.amount_sat
        self._write_fill(tx, lo, fee)
        closed = self.trader.on_fill(
            lo.client_id, fill, ts, fee=fee, late_side=lo.order.side if late else None
        )
        self.metrics.fills.labels(lo.order.side.name.lower()).inc()
        for rt in closed:
            self.metrics.round_trips.labels("win" if rt.pnl_jpy > 0 else "loss").inc()
            log.info(
                "round trip closed",
                extra={
                    "side": rt.side.name,
                    "pnl_jpy": str(rt.pnl_jpy),
                    "amount_sat": rt.amount_sat,
                },
            )
        if late:
            pass
        elif lo.filled_sat >= lo.order.amount_sat:
            self.orders.pop(lo.client_id, None)
            self._by_exchange.pop(tx.order_id, None)
            self._event(lo, "filled")
            self.metrics.orders.labels("filled").inc()
        else:
            self._event(lo, "partially_filled")
        self._save()

    def _write_fill(self, tx: Transaction, lo: LiveOrder | None, fee: Decimal) -> None:
        self._write(
            FillRow(
                fill_id=tx.id,
                ts=transaction_time_us(tx, self.clock),
                mode=self.mode,  # type: ignore[arg-type]
                side=1 if tx.side == "buy" else -1,
                price=tx.rate,
                amount_sat=tx.amount_sat,
                fee_jpy=fee,
                liquidity="M" if tx.liquidity == "M" else "T",
                client_order_id=self.client_order_id(lo.client_id) if lo else None,
                exchange_order_id=tx.order_id,
            )
        )

    async def poll_once(self) -> None:
        try:
            txs = await self.rest.transactions(skip_ids=self._seen_tx)
        except ExchangeError as exc:
            log.warning("transactions poll failed: %s", exc)
            return
        self._forget_older_than(self.rest.oldest_transaction_id)
        new = [tx for tx in sorted(txs, key=lambda t: t.id) if tx.id not in self._seen_tx]
        for tx in new:
            self._apply_transaction(tx)
        if new:
            self._on_fills(any(tx.liquidity == "M" for tx in new))

    def _forget_older_than(self, oldest_listed: int | None) -> None:
        """Seen ids below the oldest one the exchange still lists can never come back."""
        if oldest_listed is not None and len(self._seen_tx) > 2 * TRANSACTIONS_KEPT:
            self._seen_tx = {i for i in self._seen_tx if i >= oldest_listed}

    async def poll_fills(self, interval_s: float) -> None:
        """Poll own transactions every `interval_s` of market time while we have orders.

        On a fast replay clock the wall interval shrinks with the speed (down to 5 ms), so a
        resting order's fill is seen as soon after it happened, in market time, as live."""
        wall_interval = max(0.005, self.clock.wall_seconds(interval_s))
        while True:
            if self.orders:
                # Private requests go one at a time (nonces): a poll started now would make an
                # order that is about to go out wait a round trip. That order polls anyway.
                if not self._creating:
                    await self.poll_once()
                await asyncio.sleep(wall_interval)
            else:
                self._poll_wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poll_wake.wait(), timeout=30)

    # ------------------------------------------------------------------ start and stop
    async def reconcile_at_start(self) -> None:
        """Cancel every open order, then book the fills of our previous run's orders."""
        previous = self.state.load()
        opens = await self.rest.open_orders()
        for o in opens:
            log.warning("cancelling open order %s left on the account", o.id)
            with contextlib.suppress(ExchangeError):
                await self.rest.cancel_order(o.id)
        txs = await self.rest.transactions()
        if previous is None:
            self._seen_tx.update(t.id for t in txs)  # a fresh start owns none of them
            return
        self.trader.position.restore(
            previous.lots, previous.side, previous.realized_jpy, previous.fees_jpy
        )
        self._seen_tx.update(previous.seen_tx)
        # Fills booked just before a crash may still have been in the writer's memory: store
        # them again (the row key is the exchange's id and time, so a stored one stays single).
        for tx in txs:
            if tx.id in self._seen_tx:
                self._write_fill(tx, None, _jpy_fee(tx))
        missed = 0
        for tx in sorted(txs, key=lambda t: t.id):
            if tx.id in self._seen_tx:
                continue
            owner = previous.orders.get(tx.order_id)
            if owner is None:
                # An order placed just before the crash, its ack never saved: the account is
                # this bot's, so the fill is ours all the same.
                side = Side.BUY if tx.side == "buy" else Side.SELL
                owner = RememberedOrder(
                    -tx.order_id,
                    PlaceOrder(-tx.order_id, side, tx.rate, 10**15, Purpose.ENTRY, 0),
                )
                previous.orders[tx.order_id] = owner
            lo = LiveOrder(owner.client_id, owner.order, tx.order_id)
            self.trader.working.setdefault(owner.client_id, _working(owner.order))
            self._by_exchange[tx.order_id] = lo
            self.orders[owner.client_id] = lo
            self._apply_transaction(tx)
            missed += 1
        for lo in list(self.orders.values()):
            self._close(lo, "cancelled", "cancelled at restart")
        log.info(
            "restored the previous run's position",
            extra={"position_sat": self.trader.position.position_sat, "missed_fills": missed},
        )
        self._save()

    async def cancel_all(self) -> None:
        self.accepting = False
        for lo in list(self.orders.values()):
            if lo.exchange_id is not None:
                await self._cancel(lo)
        # Orders whose create is still in flight: let them land, then cancel them too.
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=3)
        for lo in list(self.orders.values()):
            if lo.exchange_id is not None:
                await self._cancel(lo)
        with contextlib.suppress(ExchangeError):
            for o in await self.rest.open_orders():
                await self.rest.cancel_order(o.id)

    async def sweep_orphans(self) -> None:
        """Cancel open orders on the account that this bot does not track."""
        try:
            opens = await self.rest.open_orders()
        except ExchangeError:
            return
        for o in opens:
            if o.id not in self._by_exchange:
                log.warning("cancelling orphan order %s", o.id)
                with contextlib.suppress(ExchangeError):
                    await self.rest.cancel_order(o.id)


def _working(order: PlaceOrder):
    from bot.trading.trader import WorkingOrder

    return WorkingOrder(order, order.ts_us)


def _jpy_fee(tx: Transaction) -> Decimal:
    """Coincheck charges BTC/JPY fees in JPY; a BTC fee is valued at the fill price."""
    return tx.fee if (tx.fee_currency or "JPY").upper() == "JPY" else tx.fee * tx.rate
