"""ExchangeSimulator: a Coincheck-compatible REST + public WebSocket server (aiohttp).

REST at `http://HOST:PORT/api/...` and the WebSocket at `ws://HOST:PORT/`, one port. It
replays market events (real time × speed, or as fast as the clients read), fills our orders
through `Venue` (the backtester's fill model) and checks signatures and nonces like Coincheck.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from bot.clock import CLOCK_PATH, WALL_CLOCK, MarketClock
from bot.config import FeeRates
from bot.exchange.auth import signature
from bot.exchange.wire import (
    ORDERBOOK_CHANNEL,
    PAIR,
    TRADES_CHANNEL,
    encode_book_diff_at,
    encode_order_books,
    encode_trades,
    format_amount,
    format_rate,
)
from bot.market.book import OrderBook
from bot.market.events import BookDiff, BookSnapshot, MarketEvent, TradePrint
from bot.sim.faults import FaultInjector, FaultSpec
from bot.sim.venue import Balances, SimOrder, SimTransaction, Venue, VenueError

log = logging.getLogger(__name__)

# Unverified assumption: `transactions` lists only the most recent fills (the full history
# is `transactions_pagination`); keeps a polling client's replies small on long runs.
TRANSACTIONS_LIMIT = 100
MALFORMED_FRAME = '["btc_jpy",{"bids":[["16850000.0"'  # truncated JSON
_SAT = Decimal(100_000_000)


def iso_time(ts_us: int) -> str:
    dt = datetime.fromtimestamp(ts_us / 1_000_000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _dec_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"success": False, "error": message}, status=status)


@dataclass(eq=False)
class _WsConn:
    ws: web.WebSocketResponse
    request: web.Request
    channels: set[str] = field(default_factory=set)
    silent_until: float = 0.0


class ExchangeSimulator:
    """A Coincheck-compatible exchange for tests, the demo and paper trading.

    `speed=None` replays as fast as the clients read, otherwise at real time × speed; with
    `wait_for_subscriber` the replay starts when the first client subscribes to a channel.
    `autoplay=False` replays nothing by itself: call `advance(n)` or `publish(event)`.
    Events, orders and fills are stamped with `clock` (the wall clock, or a replay clock that
    runs `speed`× faster), which `GET /sim/clock` publishes for the services to follow.
    """

    def __init__(
        self,
        events: Iterable[MarketEvent] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float | None = 1.0,
        autoplay: bool = True,
        api_key: str = "sim-key",
        api_secret: str = "sim-secret",
        jpy: Decimal | str | int = Decimal("1000000"),
        btc: Decimal | str | int = Decimal("0.05"),
        fees: FeeRates | None = None,
        faults: FaultSpec | str | None = None,
        seed: int = 0,
        snapshot_depth: int = 300,
        wait_for_subscriber: bool = True,
        clock: MarketClock = WALL_CLOCK,
    ) -> None:
        self._source: Iterator[MarketEvent] = iter(events)
        self.host = host
        self._port = port
        self.speed = speed if speed else None
        self.autoplay = autoplay
        self._keys = {api_key: api_secret}
        self._last_nonce: dict[str, int] = {}
        btc_sat = Decimal(str(btc)) * _SAT
        if btc_sat != btc_sat.to_integral_value():
            raise ValueError(f"btc {btc} has more than 8 decimals")
        self.venue = Venue(Decimal(str(jpy)), int(btc_sat), fees)
        self.faults = FaultInjector(faults, seed)
        self.snapshot_depth = snapshot_depth
        self.wait_for_subscriber = wait_for_subscriber
        self.clock = clock
        self.position = 0  # how many events have been replayed
        self.replay_done = asyncio.Event()
        self.frames_sent = 0
        self._conns: set[_WsConn] = set()
        self._subscribed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._replay_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # market events and order requests never interleave

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self._port}/"

    @property
    def book(self) -> OrderBook:
        return self.venue.book

    @property
    def balances(self) -> Balances:
        return self.venue.balances

    @property
    def ws_connections(self) -> int:
        return len(self._conns)

    def add_credentials(self, api_key: str, api_secret: str) -> None:
        """Accept another key (each key has its own nonce sequence, as on Coincheck)."""
        self._keys[api_key] = api_secret

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/", self._ws_handler)
        r = app.router
        r.add_get("/api/order_books", self._order_books)
        r.add_get("/api/ticker", self._ticker)
        r.add_get("/api/trades", self._trades)
        r.add_post("/api/exchange/orders", self._create_order)
        r.add_get("/api/exchange/orders/opens", self._opens)
        r.add_get("/api/exchange/orders/cancel_status", self._cancel_status)
        r.add_get("/api/exchange/orders/transactions", self._transactions)
        r.add_get("/api/exchange/orders/transactions_pagination", self._transactions_page)
        r.add_delete("/api/exchange/orders/{id}", self._cancel)
        r.add_get("/api/accounts/balance", self._balance)
        r.add_get(CLOCK_PATH, self._clock)
        # Short shutdown grace: a reply held by `create_hang` must not delay stopping.
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, self._port, reuse_address=True)
        await self._site.start()
        server = self._site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        log.info("exchange simulator: REST %s/api/  WebSocket %s", self.rest_url, self.ws_url)
        if self.autoplay:
            self.play()

    def play(self, events: Iterable[MarketEvent] | None = None) -> None:
        """Start the paced replay (of `events` instead of the constructor's, when given)."""
        if self._replay_task is not None:
            raise RuntimeError("the replay is already running")
        if events is not None:
            self._source = iter(events)
        self._replay_task = asyncio.create_task(self._replay(), name="sim-replay")
        self._replay_task.add_done_callback(_log_replay_failure)

    async def stop(self) -> None:
        if self._replay_task is not None:
            self._replay_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replay_task
            self._replay_task = None
        for conn in list(self._conns):
            with contextlib.suppress(Exception):
                await conn.ws.close()
        self._conns.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ExchangeSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ market replay
    def _next_event(self) -> MarketEvent | None:
        return next(self._source, None)

    async def _replay(self) -> None:
        if self.wait_for_subscriber:
            await self._subscribed.wait()
        t0_wall = time.monotonic()
        t0_data: int | None = None
        while (event := self._next_event()) is not None:
            if self.speed is not None:
                if t0_data is None:
                    t0_data = event.ts_us
                due = t0_wall + (event.ts_us - t0_data) / 1_000_000 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.position += 1
            await self.publish(event)
            if self.position % 32 == 0:
                await asyncio.sleep(0)  # bursts must not starve the REST handlers
        self.replay_done.set()
        log.info("exchange simulator: replay finished (%d events)", self.position)

    async def advance(self, n: int = 1) -> int:
        """Replay the next `n` events now; returns how many there were."""
        done = 0
        while done < n and (event := self._next_event()) is not None:
            self.position += 1
            await self.publish(event)
            done += 1
        if done < n:
            self.replay_done.set()
        return done

    async def publish(self, event: MarketEvent) -> list[SimTransaction]:
        """Apply one market event (stamped with the market clock) and send it to subscribers."""
        now = self.clock.now_us()
        if isinstance(event, TradePrint):
            event = replace(event, exchange_ts_us=now)  # the same time on WS and /api/trades
        frame = None
        async with self._lock:
            if isinstance(event, BookSnapshot):
                # Coincheck only ever sends diffs: a snapshot in the data goes out as the diff
                # that turns the old book into the new one (vanished levels with amount 0).
                frame = encode_book_diff_at(self._diff_to(event, now), now // 1_000_000)
            fills = self.venue.apply_event(event, now)
        if isinstance(event, BookDiff):
            frame = encode_book_diff_at(event, now // 1_000_000)
            await self._broadcast(ORDERBOOK_CHANNEL, frame)
        elif isinstance(event, TradePrint):
            frame = encode_trades([event])
            await self._broadcast(TRADES_CHANNEL, frame)
        elif frame is not None:
            await self._broadcast(ORDERBOOK_CHANNEL, frame)
        return fills

    def _diff_to(self, snap: BookSnapshot, now: int) -> BookDiff:
        book = self.venue.book
        new_bids, new_asks = dict(snap.bids), dict(snap.asks)
        bids = [(p, a) for p, a in snap.bids if book.bids.get(p) != a]
        bids += [(p, 0) for p in book.bids if p not in new_bids]
        asks = [(p, a) for p, a in snap.asks if book.asks.get(p) != a]
        asks += [(p, 0) for p in book.asks if p not in new_asks]
        return BookDiff(now, now, tuple(bids), tuple(asks))

    async def _broadcast(self, channel: str, frame: str) -> None:
        if not self._conns:
            return
        faults = self.faults
        armed = faults.ws_faults_armed
        for conn in list(self._conns):
            if channel not in conn.channels or conn.ws.closed:
                continue
            if conn.silent_until:
                if time.monotonic() < conn.silent_until:
                    continue
                conn.silent_until = 0.0
            out = frame
            if armed:
                if faults.fires("ws_drop"):
                    self._abort(conn)
                    continue
                if faults.fires("ws_silent"):
                    conn.silent_until = time.monotonic() + faults.spec.silent_s
                    continue
                if faults.fires("malformed"):
                    out = MALFORMED_FRAME
            try:
                await conn.ws.send_str(out)
                self.frames_sent += 1
            except (ConnectionError, RuntimeError):
                self._conns.discard(conn)

    def _abort(self, conn: _WsConn) -> None:
        self._conns.discard(conn)
        transport = conn.request.transport
        if transport is not None:
            transport.abort()

    async def drop_connections(self) -> int:
        """Abort every WebSocket connection now (no close frame); returns how many."""
        conns = list(self._conns)
        for conn in conns:
            self._abort(conn)
        return len(conns)

    async def broadcast_raw(self, channel: str, frame: str) -> None:
        """Send an arbitrary frame to a channel's subscribers (tests: odd or broken frames)."""
        await self._broadcast(channel, frame)

    def go_silent(self, seconds: float) -> None:
        """Stop sending to every current connection for `seconds` (they stay open)."""
        for conn in self._conns:
            conn.silent_until = time.monotonic() + seconds

    # ------------------------------------------------------------------ WebSocket
    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        if not ws.can_prepare(request).ok:
            return web.Response(text="Coincheck-compatible simulator: WebSocket endpoint\n")
        await ws.prepare(request)
        conn = _WsConn(ws, request)
        self._conns.add(conn)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    cmd = json.loads(msg.data)
                except ValueError:
                    continue
                if not isinstance(cmd, dict):
                    continue
                channel = cmd.get("channel")
                if cmd.get("type") == "subscribe" and channel in (
                    ORDERBOOK_CHANNEL,
                    TRADES_CHANNEL,
                ):
                    conn.channels.add(channel)
                    self._subscribed.set()
                elif cmd.get("type") == "unsubscribe":
                    conn.channels.discard(channel)
        finally:
            self._conns.discard(conn)
        return ws

    # ------------------------------------------------------------------ REST plumbing
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path in ("/", CLOCK_PATH):
            return await handler(request)
        delay = self.faults.latency_s()
        if delay:
            await asyncio.sleep(delay)
        if self.faults.fires("http429"):
            return _error(429, "too many requests")
        if self.faults.fires("http500"):
            return _error(500, "Internal server error")
        try:
            return await handler(request)
        except VenueError as exc:
            return _error(exc.status, exc.message)
        except web.HTTPException as exc:
            return _error(exc.status, exc.reason)

    async def _authenticate(self, request: web.Request) -> dict[str, str]:
        """Check key, nonce and signature like Coincheck; returns the request parameters."""
        body = await request.text()
        key = request.headers.get("ACCESS-KEY", "")
        nonce_text = request.headers.get("ACCESS-NONCE", "")
        sig = request.headers.get("ACCESS-SIGNATURE", "")
        secret = self._keys.get(key)
        if secret is None or not nonce_text.isdigit() or not sig:
            raise VenueError(401, "invalid authentication")
        full_url = f"{request.scheme}://{request.host}{request.raw_path}"
        expected = signature(secret, nonce_text, full_url, body)
        if not hmac.compare_digest(expected, sig.lower()):
            raise VenueError(401, "invalid authentication")
        nonce = int(nonce_text)
        if nonce <= self._last_nonce.get(key, 0):
            raise VenueError(401, "Nonce must be incremented")
        self._last_nonce[key] = nonce
        params = dict(request.query)
        if body:
            if body.lstrip().startswith("{"):
                try:
                    data = json.loads(body)
                except ValueError:
                    raise VenueError(400, "invalid JSON body") from None
                if not isinstance(data, dict):
                    raise VenueError(400, "invalid JSON body")
                params.update({k: "" if v is None else str(v) for k, v in data.items()})
            else:
                params.update(parse_qsl(body, keep_blank_values=True))
        return params

    # ------------------------------------------------------------------ public endpoints
    async def _order_books(self, request: web.Request) -> web.Response:
        book = self.venue.book
        depth = self.snapshot_depth
        return web.json_response(encode_order_books(book.top_bids(depth), book.top_asks(depth)))

    async def _ticker(self, request: web.Request) -> web.Response:
        v = self.venue

        def num(x: int | None) -> float | None:
            return float(x) if x is not None else None

        return web.json_response(
            {
                "last": num(v.last_price),
                "bid": num(v.book.best_bid),
                "ask": num(v.book.best_ask),
                "high": num(v.high),
                "low": num(v.low),
                "volume": float(Decimal(v.volume_sat) / _SAT),
                "timestamp": self.clock.now_us() // 1_000_000,
            }
        )

    async def _trades(self, request: web.Request) -> web.Response:
        limit = _int_param(request.query.get("limit"), 20, 1, 100)
        rows = list(self.venue.public_trades)[-limit:][::-1]
        data = [
            {
                "id": t.trade_id,
                "amount": format_amount(t.amount_sat),
                "rate": format_rate(t.price),
                "pair": PAIR,
                "order_type": "buy" if t.taker_side > 0 else "sell",
                "created_at": iso_time(t.exchange_ts_us or t.ts_us),
            }
            for t in rows
        ]
        page = {"limit": limit, "order": "desc", "starting_after": None, "ending_before": None}
        return web.json_response({"success": True, "pagination": page, "data": data})

    async def _clock(self, request: web.Request) -> web.Response:
        """Not Coincheck: the market clock, for services that follow a fast replay."""
        return web.json_response(self.clock.as_json())

    # ------------------------------------------------------------------ private endpoints
    async def _create_order(self, request: web.Request) -> web.Response:
        p = await self._authenticate(request)
        if p.get("pair", PAIR) != PAIR:
            raise VenueError(400, "pair is not included in the list")
        order_type = p.get("order_type", "")
        if order_type not in ("buy", "sell", "market_buy", "market_sell"):
            raise VenueError(400, "order_type is not included in the list")
        rate = _rate_param(p.get("rate")) if order_type in ("buy", "sell") else None
        amount = _amount_param(p.get("amount")) if order_type != "market_buy" else None
        mba = _jpy_param(p.get("market_buy_amount")) if order_type == "market_buy" else None
        tif = p.get("time_in_force") or "good_til_cancelled"
        if self.faults.fires("reject"):
            raise VenueError(400, "Order rejected by the exchange")
        async with self._lock:
            order = self.venue.place(order_type, rate, amount, mba, tif, self.clock.now_us())
        if self.faults.fires("create_hang"):
            await asyncio.sleep(self.faults.spec.hang_s)
        return web.json_response(
            {
                "success": True,
                "id": order.id,
                "rate": format_rate(order.rate) if order.rate is not None else None,
                "amount": format_amount(order.amount_sat) if order.rate is not None else None,
                "order_type": order.order_type,
                "time_in_force": order.time_in_force,
                "stop_loss_rate": None,
                "market_buy_amount": (
                    _dec_text(order.market_buy_jpy) if order.market_buy_jpy is not None else None
                ),
                "pair": PAIR,
                "created_at": iso_time(order.created_at_us),
            }
        )

    async def _opens(self, request: web.Request) -> web.Response:
        await self._authenticate(request)
        orders = [_open_order_json(o) for o in sorted(self.venue.open.values(), key=lambda o: o.id)]
        return web.json_response({"success": True, "orders": orders})

    async def _cancel(self, request: web.Request) -> web.Response:
        await self._authenticate(request)
        order_id = _int_param(request.match_info["id"], None, 1, None)
        async with self._lock:
            order = self.venue.cancel(order_id)
        return web.json_response({"success": True, "id": order.id})

    async def _cancel_status(self, request: web.Request) -> web.Response:
        p = await self._authenticate(request)
        order_id = _int_param(p.get("id"), None, 1, None)
        order = self.venue.orders.get(order_id)
        if order is None:
            raise VenueError(404, "The order doesn't exist.")
        return web.json_response(
            {
                "success": True,
                "id": order.id,
                "cancel": order.status == "cancelled",
                "created_at": iso_time(order.created_at_us),
            }
        )

    async def _transactions(self, request: web.Request) -> web.Response:
        await self._authenticate(request)
        recent = self.venue.transactions[-TRANSACTIONS_LIMIT:]
        txs = [_tx_json(t) for t in reversed(recent)]
        return web.json_response({"success": True, "transactions": txs})

    async def _transactions_page(self, request: web.Request) -> web.Response:
        p = await self._authenticate(request)
        limit = _int_param(p.get("limit"), 10, 1, 100)
        order = p.get("order") or "desc"
        if order not in ("asc", "desc"):
            raise VenueError(400, "order is not included in the list")
        after = (
            _int_param(p.get("starting_after"), None, 1, None) if p.get("starting_after") else None
        )
        before = (
            _int_param(p.get("ending_before"), None, 1, None) if p.get("ending_before") else None
        )
        txs = list(self.venue.transactions)
        if order == "desc":
            txs.reverse()
        # Coincheck pagination: starting_after / ending_before are ids in the listing order.
        if after is not None:
            txs = [t for t in txs if (t.id < after if order == "desc" else t.id > after)]
        if before is not None:
            txs = [t for t in txs if (t.id > before if order == "desc" else t.id < before)]
            txs = txs[-limit:]  # the `limit` items nearest to ending_before
        data = [_tx_json(t) for t in txs[:limit]]
        page = {"limit": limit, "order": order, "starting_after": after, "ending_before": before}
        return web.json_response({"success": True, "pagination": page, "data": data})

    async def _balance(self, request: web.Request) -> web.Response:
        await self._authenticate(request)
        b = self.venue.balances
        zero = "0.0"
        return web.json_response(
            {
                "success": True,
                "jpy": _dec_text(b.free_jpy),
                "btc": format_amount(b.free_btc_sat),
                "jpy_reserved": _dec_text(b.jpy_reserved),
                "btc_reserved": format_amount(b.btc_reserved_sat),
                "jpy_lend_in_use": zero,
                "btc_lend_in_use": zero,
                "jpy_lent": zero,
                "btc_lent": zero,
                "jpy_debt": zero,
                "btc_debt": zero,
            }
        )


def _log_replay_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("exchange simulator: replay stopped: %s", task.exception())


# --------------------------------------------------------------------------- JSON helpers
def _open_order_json(o: SimOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "order_type": o.order_type,
        "rate": format_rate(o.rate) if o.rate is not None else None,
        "pair": PAIR,
        "pending_amount": format_amount(o.remaining_sat),
        "pending_market_buy_amount": None,
        "stop_loss_rate": None,
        "created_at": iso_time(o.created_at_us),
    }


def _tx_json(t: SimTransaction) -> dict[str, Any]:
    return {
        "id": t.id,
        "order_id": t.order_id,
        "created_at": iso_time(t.ts_us),
        "funds": {
            "btc": format_amount(t.funds_btc_sat)
            if t.funds_btc_sat >= 0
            else "-" + format_amount(-t.funds_btc_sat),
            "jpy": _dec_text(t.funds_jpy),
        },
        "pair": PAIR,
        "rate": format_rate(t.rate),
        "fee_currency": "JPY",
        "fee": _dec_text(t.fee_jpy),
        "liquidity": t.liquidity.value,
        "side": "buy" if t.side > 0 else "sell",
    }


def _int_param(text: str | None, default: int | None, low: int, high: int | None) -> int:
    if text is None or text == "":
        if default is None:
            raise VenueError(400, "id can't be blank")
        return default
    try:
        value = int(text)
    except ValueError:
        raise VenueError(400, f"{text!r} is not an integer") from None
    if value < low:
        raise VenueError(400, f"{value} is below {low}")
    return min(value, high) if high is not None else value


def _decimal(text: str | None, what: str) -> Decimal:
    if text is None or text == "":
        raise VenueError(400, f"{what} can't be blank")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise VenueError(400, f"{what} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise VenueError(400, f"{what} must be greater than 0")
    return value


def _rate_param(text: str | None) -> int:
    value = _decimal(text, "Rate")
    if value != value.to_integral_value():
        raise VenueError(400, "Rate must be a multiple of 1 (the JPY tick)")
    return int(value)


def _amount_param(text: str | None) -> int:
    sat = _decimal(text, "Amount") * _SAT
    if sat != sat.to_integral_value():
        raise VenueError(400, "Amount has more than 8 decimals")
    return int(sat)


def _jpy_param(text: str | None) -> Decimal:
    return _decimal(text, "Market buy amount")
