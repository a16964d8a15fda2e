"""Coincheck public WebSocket feed: a live L2 book that knows when it can be trusted.

After every (re)connect: subscribe and buffer frames; once the first diff shows the
subscription is active (or after `snapshot_wait` s), fetch the REST `order_books` snapshot,
load it and replay the buffered diffs on top (levels carry absolute amounts, so a diff already
in the snapshot re-applies harmlessly). Only then is the feed LIVE; until then `book_trusted`
is False and the bot must open nothing. A silent feed (no frame for `stale_after` s) or a
failed snapshot drops the connection; reconnects back off exponentially with jitter. A
malformed frame is counted and skipped, and the book is resynchronised from a fresh snapshot
(the lost frame may have been a diff) without dropping the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bot.clock import WALL_CLOCK, MarketClock
from bot.config import ExchangeConfig
from bot.exchange.errors import ExchangeError
from bot.exchange.rest import CoincheckRest
from bot.exchange.wire import (
    ORDERBOOK_CHANNEL,
    TRADES_CHANNEL,
    WireFormatError,
    parse_order_books,
    parse_ws_message,
)
from bot.market.book import BookState, OrderBook
from bot.market.events import BookDiff, MarketEvent, TradePrint

log = logging.getLogger(__name__)

EventHandler = Callable[[MarketEvent], None]
FrameHandler = Callable[[int, str], None]
SnapshotHandler = Callable[[int, dict[str, Any]], None]


class FeedState(StrEnum):
    CONNECTING = "connecting"  # no connection (or backing off before the next attempt)
    REBUILDING = "rebuilding"  # connected, waiting for the REST snapshot
    LIVE = "live"  # book = snapshot + every diff since: trustworthy
    STOPPED = "stopped"


class _Stale(Exception):
    pass


class CoincheckFeed:
    """Order book + trades from the public WebSocket, rebuilt from REST on every connect.

    Callbacks (all optional, called in order of arrival, never while the book is half-built):
    `on_event(event)` gets a BookSnapshot after each rebuild, then BookDiffs and TradePrints;
    Receive times are `clock` time (the wall clock, or a fast replay's market clock).
    `on_frame(recv_ts_us, raw)` and `on_snapshot(recv_ts_us, order_books_json)` get the raw
    wire data (for recordings), the snapshot ahead of the frames buffered while fetching it.
    """

    def __init__(
        self,
        ws_url: str,
        rest: CoincheckRest,
        *,
        on_event: EventHandler | None = None,
        on_frame: FrameHandler | None = None,
        on_snapshot: SnapshotHandler | None = None,
        ping_interval: float = 30.0,
        stale_after: float = 10.0,
        snapshot_wait: float = 1.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        seed: int | None = None,
        clock: MarketClock = WALL_CLOCK,
    ) -> None:
        self.ws_url = ws_url
        self.clock = clock
        self.rest = rest
        self.on_event = on_event
        self.on_frame = on_frame
        self.on_snapshot = on_snapshot
        self.ping_interval = ping_interval
        self.stale_after = stale_after
        self.snapshot_wait = snapshot_wait
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._rng = random.Random(seed)
        self.book = OrderBook()
        self.state = FeedState.CONNECTING
        self.live = asyncio.Event()
        # counters (exported as metrics by the service)
        self.frames = 0
        self.malformed_frames = 0
        self.connects = 0
        self.rebuilds = 0
        self.stale_disconnects = 0
        self.last_error: str | None = None
        self._last_rx = time.monotonic()
        self._buffer: list[tuple[int, str, BookDiff | list[TradePrint] | None]] = []
        self._stopping = False
        self._stop_requested = asyncio.Event()
        self._ws: Any = None
        self._reached_live = False
        self._snapshot_task: asyncio.Task[dict[str, Any]] | None = None
        self.resyncs = 0
        self._yield_soon = False

    @classmethod
    def from_config(cls, cfg: ExchangeConfig, rest: CoincheckRest, **kwargs: Any) -> CoincheckFeed:
        return cls(
            cfg.ws_url,
            rest,
            ping_interval=cfg.ping_interval_seconds,
            stale_after=cfg.stale_feed_seconds,
            **kwargs,
        )

    def yield_soon(self) -> None:
        """Give other tasks (an order just decided) the loop before the next queued frame."""
        self._yield_soon = True

    @property
    def book_trusted(self) -> bool:
        """True only when LIVE and the book is two-sided and uncrossed."""
        return self.state is FeedState.LIVE and self.book.state is BookState.OK

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        """Connect, rebuild and stream until `stop()`; reconnects on any failure."""
        attempt = 0
        self._stopping = False
        self._stop_requested.clear()
        while not self._stopping:
            self._set_state(FeedState.CONNECTING)
            self._reached_live = False
            try:
                await self._session()
                self.last_error = "connection closed by the server"
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, ExchangeError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            except _Stale:
                self.last_error = f"no frame for {self.stale_after}s"
            except TimeoutError:
                self.last_error = "connect timed out"
            if self._stopping:
                break
            attempt = 0 if self._reached_live else attempt + 1
            delay = self._backoff(attempt)
            log.warning("feed disconnected (%s); reconnecting in %.2fs", self.last_error, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), delay)
        self._set_state(FeedState.STOPPED)

    async def stop(self) -> None:
        """Make `run()` return: closes the connection and ends any backoff wait."""
        self._stopping = True
        self._stop_requested.set()
        if self._ws is not None:
            await self._ws.close()

    async def wait_live(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self.live.wait(), timeout)

    def _backoff(self, attempt: int) -> float:
        cap = min(self.backoff_max, self.backoff_base * 2 ** min(attempt, 30))
        return cap / 2 + self._rng.random() * cap / 2

    def _set_state(self, state: FeedState) -> None:
        self.state = state
        if state is FeedState.LIVE:
            self.live.set()
        else:
            self.live.clear()

    # ------------------------------------------------------------------ one connection
    async def _session(self) -> None:
        """One connection's life, from connect to disconnect."""
        self._buffer.clear()
        async with websockets.connect(
            self.ws_url,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_interval,
            open_timeout=self.stale_after,
            close_timeout=1.0,
            max_queue=None,
            compression=None,
        ) as ws:
            self._ws = ws
            self.connects += 1
            if self._stopping:
                self._ws = None
                return
            for channel in (ORDERBOOK_CHANNEL, TRADES_CHANNEL):
                await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
            self._last_rx = time.monotonic()
            # Fetch the snapshot once the first diff proves the subscription is active, so no
            # diff can fall between the snapshot and the stream (or after `snapshot_wait`).
            self._set_state(FeedState.REBUILDING)
            self._snapshot_task = None
            timer = asyncio.get_running_loop().call_later(
                self.snapshot_wait, self._rebuild_if_not_started, ws
            )
            watchdog = asyncio.create_task(self._watch_silence(ws))
            closed: ConnectionClosed | None = None
            try:
                on_frame = self._on_frame
                async for raw in ws:
                    on_frame(raw if isinstance(raw, str) else raw.decode("utf-8", "replace"))
                    if self._yield_soon:
                        # An order was decided on this frame: let its task send it before
                        # the frames already queued behind this one are processed.
                        self._yield_soon = False
                        await asyncio.sleep(0)
            except ConnectionClosed as exc:
                closed = exc
            finally:
                watchdog.cancel()
                timer.cancel()
                if self._snapshot_task is not None:
                    self._snapshot_task.cancel()
                    self._snapshot_task = None
                self._ws = None
                if not self._stopping:
                    self._set_state(FeedState.CONNECTING)
            if watchdog.done() and not watchdog.cancelled() and watchdog.exception() is None:
                self.stale_disconnects += 1
                raise _Stale()
            if closed is not None and not self._stopping:
                raise closed

    def _rebuild_if_not_started(self, ws: Any) -> None:
        if self._snapshot_task is None and self.state is FeedState.REBUILDING:
            self._start_rebuild(ws)

    def _start_rebuild(self, ws: Any) -> None:
        """Distrust the book and fetch a snapshot; frames are buffered until it is loaded."""
        self._set_state(FeedState.REBUILDING)
        task = asyncio.create_task(self.rest.order_books_raw())
        task.add_done_callback(lambda t: self._on_snapshot(t, ws))
        self._snapshot_task = task

    async def _watch_silence(self, ws: Any) -> None:
        """Close the connection when nothing has arrived for `stale_after` seconds."""
        period = min(1.0, self.stale_after / 4)
        while True:
            await asyncio.sleep(period)
            if time.monotonic() - self._last_rx > self.stale_after:
                log.warning("feed silent for %.1fs; dropping the connection", self.stale_after)
                ws.transport.abort()
                return

    def _on_snapshot(self, task: asyncio.Task[dict[str, Any]], ws: Any) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        recv = self.clock.now_us()
        if exc is None:
            try:
                snap = parse_order_books(task.result(), recv)
            except WireFormatError as err:
                exc = err
        if exc is not None:
            self.last_error = f"snapshot failed: {exc}"
            ws.transport.abort()  # reconnect and try again
            return
        self.book.load_snapshot(snap)
        self.rebuilds += 1
        if self.on_snapshot is not None:
            self.on_snapshot(recv, task.result())
        if self.on_event is not None:
            self.on_event(snap)
        buffered, self._buffer = self._buffer, []
        self._set_state(FeedState.LIVE)
        self._reached_live = True
        for recv_ts, raw, parsed in buffered:
            self._deliver(recv_ts, raw, parsed)

    # ------------------------------------------------------------------ frames
    def _on_frame(self, raw: str) -> None:
        recv = self.clock.now_us()
        self._last_rx = time.monotonic()
        self.frames += 1
        try:
            parsed = parse_ws_message(raw, recv)
        except (WireFormatError, OverflowError, RecursionError) as exc:
            self.malformed_frames += 1
            if self.malformed_frames & (self.malformed_frames - 1) == 0:  # 1, 2, 4, 8, ...
                log.warning("malformed frame #%d skipped: %s", self.malformed_frames, exc)
            if self.state is FeedState.LIVE and self._ws is not None:
                # The lost frame may have been a diff: the book can no longer be trusted.
                self.resyncs += 1
                self._start_rebuild(self._ws)
            return
        if self.state is FeedState.LIVE:
            self._deliver(recv, raw, parsed)
        else:
            self._buffer.append((recv, raw, parsed))
            if self._snapshot_task is None and type(parsed) is BookDiff and self._ws is not None:
                self._start_rebuild(self._ws)

    def _deliver(self, recv: int, raw: str, parsed: BookDiff | list[TradePrint] | None) -> None:
        if self.on_frame is not None:
            self.on_frame(recv, raw)
        if parsed is None:
            return
        if isinstance(parsed, BookDiff):
            self.book.apply_diff(parsed)
            if self.on_event is not None:
                self.on_event(parsed)
        elif self.on_event is not None:
            for trade in parsed:
                self.on_event(trade)
