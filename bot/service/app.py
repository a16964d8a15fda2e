"""The live bot: WS feed -> book -> SignalEngine -> Trader -> REST, everything to the database.

One event at a time, in arrival order, inside the feed's callback: the strategy core is the
one `simulate` runs, only the venue differs (a REST executor instead of the simulated venue).
Paper and live share this code path; they differ only in endpoints and keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.clock import WALL_CLOCK, ClockError, MarketClock, fetch_simulator_clock
from bot.config import SATOSHI_PER_BTC, AppConfig, ConfigError
from bot.exchange.errors import ExchangeError
from bot.exchange.feed import CoincheckFeed, FeedState
from bot.exchange.models import Balance
from bot.exchange.rest import CoincheckRest
from bot.market.events import MarketEvent, TradePrint
from bot.service.executor import LiveExecutor
from bot.service.halt_state import HaltState
from bot.service.http import StatusServer
from bot.service.metrics import BotMetrics
from bot.service.params_source import (
    ParamsVersion,
    ParamsWatcher,
    read_version,
    template_version,
)
from bot.service.state_store import StateStore
from bot.storage.connection import mask_url, resolve_database_url
from bot.storage.migrations import ensure_schema
from bot.storage.reports import ReportGenerator
from bot.storage.rows import (
    BenchmarkPriceRow,
    LatencySampleRow,
    MarketSequence,
    ParameterVersionRow,
    PositionSnapshotRow,
    market_event_row,
    utc_from_us,
)
from bot.storage.writer import DatabaseWriter
from bot.strategy.signal import SignalEngine
from bot.trading.position import Position
from bot.trading.trader import Trader

log = logging.getLogger("bot")

BENCHMARK_INTERVAL_US = 60_000_000
FEED_LAG_INTERVAL_US = 1_000_000
KEEP_ROUND_TRIPS = 1000  # in memory; every fill is in the database


class BotService:
    def __init__(self, config: AppConfig, mode: str) -> None:
        if mode not in ("paper", "live"):
            raise ConfigError(f"--mode {mode}: must be paper or live")
        ex = config.exchange
        if mode == "live" and (ex.api_key is None or ex.api_secret is None):
            raise ConfigError(
                "live mode needs API keys: set COINCHECK_API_KEY and COINCHECK_API_SECRET in .env"
            )
        if ex.api_key is None or ex.api_secret is None:
            raise ConfigError(
                f"{mode} mode needs API keys for the private endpoints of {ex.rest_url}: set "
                "COINCHECK_API_KEY and COINCHECK_API_SECRET (the simulator's --api-key/--api-secret)"
            )
        if mode == "live" and ex.clock != "wall":
            raise ConfigError(
                f"exchange.clock = {ex.clock}: live trading runs on the wall clock only "
                "(the replay clock is for paper trading against the exchange simulator)"
            )
        self.config = config
        self.mode = mode
        self.clock: MarketClock = WALL_CLOCK
        self.metrics = BotMetrics()
        self.halt = HaltState(config.bot.state_dir)
        self.run_tag = uuid.uuid4().hex[:8]
        self._stop = asyncio.Event()
        self._started_mono = time.monotonic()
        self._last_event_mono: float | None = None
        self._market_seq = MarketSequence()
        self._next_benchmark_us = 0
        self._next_feed_lag_us = 0
        self._started_trading = False
        self._last_signal = 0
        self._halt_recorded = False
        self.params_version: ParamsVersion | None = None
        self.params_version_id: uuid.UUID | None = None
        self.writer: DatabaseWriter | None = None
        self.engine: SignalEngine | None = None
        self.trader: Trader | None = None
        self.executor: LiveExecutor | None = None
        self.feed: CoincheckFeed | None = None
        self.watcher: ParamsWatcher | None = None
        self.http: StatusServer | None = None
        self.status_reason = "starting"

    # ------------------------------------------------------------------ parameters
    def _initial_params(self) -> ParamsVersion | None:
        path = Path(self.config.params.path)
        try:
            return read_version(path)
        except FileNotFoundError:
            if self.config.params.on_missing == "wait":
                log.warning("params file %s missing: waiting for the optimizer to write it", path)
                return None
            log.warning("params file %s missing: trading the template's defaults", path)
        except ConfigError as exc:
            log.error("params file refused at start (%s): trading the template's defaults", exc)
        return template_version(self.config.params.template_path)

    def _record_version(self, version: ParamsVersion) -> None:
        self.params_version = version
        self.params_version_id = uuid.uuid4()
        run_id = None
        if version.run_id:
            with contextlib.suppress(ValueError):
                run_id = uuid.UUID(version.run_id)
        if self.writer is not None:
            self.writer.write(
                ParameterVersionRow(
                    ts=self.clock.now_us(),
                    source=version.source,  # type: ignore[arg-type]
                    checksum=version.checksum,
                    params=json.dumps(version.params.model_dump(mode="json")),
                    run_id=run_id,
                    version_id=self.params_version_id,
                )
            )
        if self.executor is not None:
            self.executor.params_version_id = self.params_version_id
        log.info(
            "params applied",
            extra={
                "checksum": version.checksum[:12],
                "source": version.source,
                "run_id": version.run_id,
            },
        )

    def _apply_pending_params(self) -> None:
        """Between two events (the loop runs one at a time): swap in a validated new version."""
        assert self.watcher is not None and self.engine is not None and self.trader is not None
        version = self.watcher.take()
        if version is None:
            return
        self.engine.update_params(version.params)
        self.trader.update_params(version.params)
        self.metrics.reloads.labels("applied").inc()
        self._record_version(version)

    # ------------------------------------------------------------------ the trading loop
    def on_event(self, event: MarketEvent) -> None:
        """Called by the feed for every event, in order, with the book already updated."""
        self._last_event_mono = time.monotonic()
        writer = self.writer
        assert writer is not None and self.feed is not None
        writer.write(market_event_row(event, self._market_seq.next(event.ts_us)))
        self.metrics.events.labels("trade" if isinstance(event, TradePrint) else "book").inc()
        ts = event.ts_us
        if event.exchange_ts_us is not None and ts >= self._next_feed_lag_us:
            self._next_feed_lag_us = ts + FEED_LAG_INTERVAL_US
            writer.write(
                LatencySampleRow(ts=ts, kind="feed_lag", value_us=max(0, ts - event.exchange_ts_us))
            )
        if self.engine is None:
            return  # waiting for parameters; the feed and the recording keep running
        if self.watcher is not None and self.watcher.pending is not None:
            self._apply_pending_params()
        trader = self.trader
        assert trader is not None and self.executor is not None
        signal_dir = self.engine.on_event(event, self.feed.book)
        self._last_signal = signal_dir
        book = self.feed.book
        if self.feed.book_trusted:
            bid = book.best_bid
            ask = book.best_ask
            assert bid is not None and ask is not None
            if not self._started_trading:
                trader.mark_start((bid + ask) // 2)
                self._started_trading = True
            if ts >= self._next_benchmark_us:
                self._next_benchmark_us = ts - ts % BENCHMARK_INTERVAL_US + BENCHMARK_INTERVAL_US
                writer.write(BenchmarkPriceRow(ts=ts, mid_price=Decimal(bid + ask) / 2))
            if signal_dir or not trader.idle:
                if signal_dir and trader.idle:
                    self.metrics.signals.labels("long" if signal_dir > 0 else "short").inc()
                intents = trader.on_tick(ts, bid, ask, signal_dir if self.executor.accepting else 0)
                if intents:
                    self.executor.handle(intents, self.clock.wall_ns(ts))
                    self.feed.yield_soon()
        elif trader.working:
            self.executor.handle(trader.on_tick(ts, None, None, 0), self.clock.wall_ns(ts))
        if trader.risk.halt_reason is not None and not self._halt_recorded:
            # Once: an operator's clear-halt must not be undone by the next event.
            self._halt_recorded = True
            self.halt.set(trader.risk.halt_reason)
            log.error("HALTED: %s (clear with `make clear-halt`)", trader.risk.halt_reason)

    def on_fills(self, maker: bool) -> None:
        """After a resting (maker) fill, act at once with the current book and signal.

        That fill happened at the last market event, and the backtester lets the trader act
        on it at that same event (a taker fill, by contrast, is acted on at the next event)."""
        trader, feed, executor = self.trader, self.feed, self.executor
        if not maker or trader is None or feed is None or executor is None:
            return
        if not feed.book_trusted:
            return
        if trader.idle and not self._last_signal:
            return
        bid, ask = feed.book.best_bid, feed.book.best_ask
        assert bid is not None and ask is not None
        signal_dir = self._last_signal if executor.accepting else 0
        intents = trader.on_tick(self.clock.now_us(), bid, ask, signal_dir)
        if intents:
            executor.handle(intents, time.time_ns())

    # ------------------------------------------------------------------ health
    def feed_age_seconds(self) -> float | None:
        if self._last_event_mono is None:
            return None
        return time.monotonic() - self._last_event_mono

    def health(self) -> tuple[bool, dict[str, Any]]:
        feed = self.feed
        trader = self.trader
        age = self.feed_age_seconds()
        reasons = []
        if feed is None or feed.state is not FeedState.LIVE:
            reasons.append(f"feed {feed.state.value if feed else 'not started'}")
        elif not feed.book_trusted:
            reasons.append(f"book {feed.book.state.value}")
        if age is None or age > self.config.exchange.stale_feed_seconds:
            reasons.append("no market data" if age is None else f"feed silent for {age:.1f}s")
        if self.params_version is None:
            reasons.append("waiting for params")
        halt = trader.risk.halt_reason if trader is not None else self.halt.read()
        if halt:
            reasons.append(f"halted: {halt}")
        writer = self.writer
        pos = trader.position if trader is not None else None
        body: dict[str, Any] = {
            "status": "ok" if not reasons else "unhealthy",
            "reasons": reasons,
            "mode": self.mode,
            "feed": {
                "state": feed.state.value if feed else None,
                "age_seconds": None if age is None else round(age, 3),
                "reconnects": max(0, feed.connects - 1) if feed else 0,
                "malformed_frames": feed.malformed_frames if feed else 0,
            },
            "book": {
                "state": feed.book.state.value if feed else None,
                "trusted": bool(feed and feed.book_trusted),
                "best_bid": feed.book.best_bid if feed else None,
                "best_ask": feed.book.best_ask if feed else None,
            },
            "db_writer": {
                "queue_rows": writer.queue_depth if writer else None,
                "spill_rows": writer.spill_rows if writer else None,
                "connected": writer.stats().connected if writer else False,
            },
            "params_version": self.params_version.checksum[:12] if self.params_version else None,
            "params_source": self.params_version.source if self.params_version else None,
            "position_btc": str(Decimal(pos.position_sat) / SATOSHI_PER_BTC) if pos else None,
            "realized_pnl_jpy": str(pos.realized_jpy) if pos else None,
            "trades": trader.round_trip_count if trader else 0,
            "open_orders": len(self.executor.orders) if self.executor else 0,
            "halted": bool(halt),
            "halt_reason": halt,
            "uptime_seconds": round(time.monotonic() - self._started_mono, 1),
        }
        return not reasons, body

    def _refresh_gauges(self) -> None:
        m = self.metrics
        if self.writer is not None:
            m.writer_queue.set(self.writer.queue_depth)
            m.writer_spill.set(self.writer.spill_rows)
        age = self.feed_age_seconds()
        if age is not None:
            m.feed_age.set(age)
        if self.feed is not None:
            m.book_trusted.set(1 if self.feed.book_trusted else 0)
            m.reconnects._value.set(max(0, self.feed.connects - 1))  # mirror the feed's counter
            m.malformed_frames._value.set(self.feed.malformed_frames)
        if self.trader is not None:
            pos = self.trader.position
            m.position_btc.set(pos.position_sat / SATOSHI_PER_BTC)
            m.realized_pnl.set(float(pos.realized_jpy))
            m.halted.set(1 if self.trader.risk.halted else 0)
            bid = self.feed.book.best_bid if self.feed else None
            ask = self.feed.book.best_ask if self.feed else None
            if pos.position_sat and bid and ask:
                m.unrealized_pnl.set(float(pos.unrealized_jpy((bid + ask) // 2)))
            else:
                m.unrealized_pnl.set(0)

    def _metrics_text(self) -> bytes:
        self._refresh_gauges()
        return self.metrics.render()

    async def _status_loop(self) -> None:
        interval = self.config.bot.status_interval_seconds
        while True:
            await asyncio.sleep(interval)
            self._refresh_gauges()
            trader, feed, writer = self.trader, self.feed, self.writer
            if trader is None or feed is None or writer is None:
                continue
            pos = trader.position
            bid, ask = feed.book.best_bid, feed.book.best_ask
            mid = (bid + ask) // 2 if bid and ask and feed.book_trusted else None
            writer.write(
                PositionSnapshotRow(
                    ts=self.clock.now_us(),
                    mode=self.mode,  # type: ignore[arg-type]
                    position_sat=pos.position_sat,
                    avg_entry_price=pos.entry_price,
                    realized_pnl_jpy=pos.realized_jpy,
                    unrealized_pnl_jpy=pos.unrealized_jpy(mid)
                    if mid and pos.position_sat
                    else Decimal(0),
                    fees_jpy=pos.fees_jpy,
                    mid_price=Decimal(mid) if mid else None,
                )
            )
            healthy, body = self.health()
            log.info(
                "status",
                extra={
                    "healthy": healthy,
                    "feed": body["feed"]["state"],
                    "position_btc": body["position_btc"],
                    "realized_pnl_jpy": body["realized_pnl_jpy"],
                    "trades": body["trades"],
                    "params": body["params_version"],
                    "db_queue": body["db_writer"]["queue_rows"],
                    "db_spill": body["db_writer"]["spill_rows"],
                },
            )

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> int:
        cfg = self.config
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._stop.set)

        url = resolve_database_url(cfg.database)
        log.info("database %s", mask_url(url))
        ensure_schema(url)
        self.writer = DatabaseWriter.from_config(url, cfg.database, name=f"bot-{self.mode}")
        await self.writer.start()

        rest = CoincheckRest.from_config(cfg.exchange)
        self.http = StatusServer("0.0.0.0", cfg.bot.http_port, self.health, self._metrics_text)
        await self.http.start()
        log.info("health and metrics on port %d", self.http.port)

        tasks: list[asyncio.Task[Any]] = []
        try:
            if cfg.exchange.clock == "simulator":
                clock = await self._simulator_clock()
                if clock is None:
                    return 0
                self.clock = clock
            self.feed = CoincheckFeed.from_config(
                cfg.exchange, rest, on_event=self.on_event, clock=self.clock
            )
            version = self._initial_params()
            while version is None and not self._stop.is_set():
                self.status_reason = "waiting for params"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=2)
                version = self._initial_params()
            if version is None:
                return 0
            balance = await self._first_balance(rest)
            if balance is None:
                return 0
            position = Position(
                balance.jpy + balance.jpy_reserved,
                int((balance.btc + balance.btc_reserved) * SATOSHI_PER_BTC),
            )
            trader = Trader(version.params, position, keep_round_trips=KEEP_ROUND_TRIPS)
            halted = self.halt.read()
            if halted:
                trader.risk.halt_reason = halted
                self._halt_recorded = True
                log.error("starting HALTED: %s (clear with `python -m bot clear-halt`)", halted)
            send_orders = self.mode == "paper" or cfg.bot.confirm_live_trading
            if not send_orders:
                log.warning("live mode without bot.confirm_live_trading: no order will be sent")
            self.executor = LiveExecutor(
                rest, trader, self.metrics, self.writer.write,
                StateStore(cfg.bot.state_dir, venue_tag(self.mode, cfg.exchange.rest_url)),
                self.mode, self.run_tag, send_orders, on_fills=self.on_fills, clock=self.clock,
            )  # fmt: skip
            await self.executor.reconcile_at_start()
            balance = await rest.balance()  # after cancelling: nothing reserved any more
            position.jpy = balance.jpy + balance.jpy_reserved
            position.btc_sat = int((balance.btc + balance.btc_reserved) * SATOSHI_PER_BTC)
            self.trader = trader
            self._record_version(version)
            self.engine = SignalEngine(version.params)
            self.watcher = ParamsWatcher(
                Path(cfg.params.path),
                version.checksum,
                on_rejected=lambda _reason: self.metrics.reloads.labels("rejected").inc(),
            )
            self.watcher.start()
            reporter = ReportGenerator(
                url, self.writer, cfg.report_generator, self.mode, self.clock
            )
            tasks = [
                asyncio.create_task(self.feed.run(), name="feed"),
                asyncio.create_task(
                    self.executor.poll_fills(version.params.order.poll_interval_ms / 1000),
                    name="fills",
                ),
                asyncio.create_task(self._status_loop(), name="status"),
                asyncio.create_task(self._sweep_loop(), name="sweep"),
                asyncio.create_task(self._params_loop(), name="params"),
                asyncio.create_task(reporter.run(), name="reports"),
            ]
            log.info(
                "bot running",
                extra={
                    "mode": self.mode,
                    "rest": cfg.exchange.rest_url,
                    "ws": cfg.exchange.ws_url,
                    "jpy": str(position.jpy),
                    "btc_sat": position.btc_sat,
                },
            )
            stop_task = asyncio.create_task(self._stop.wait())
            done, _ = await asyncio.wait([stop_task, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stop_task and t.exception() is not None:
                    log.error("task %s failed: %r", t.get_name(), t.exception())
            stop_task.cancel()
        finally:
            await self._shutdown(tasks, rest)
        return 0

    async def _first_balance(self, rest: CoincheckRest) -> Balance | None:
        """The exchange may not be up yet (or the network is down): wait for it, never crash-loop."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                return await rest.balance()
            except ExchangeError as exc:
                self.status_reason = f"exchange unreachable: {exc}"
                log.warning(
                    "exchange %s not reachable (%s); retrying in %.0fs", rest.base_url, exc, delay
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                delay = min(delay * 2, 30.0)
        return None

    async def _simulator_clock(self) -> MarketClock | None:
        """The simulator's replay clock; waits for the simulator like `_first_balance`."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                clock = await asyncio.to_thread(
                    fetch_simulator_clock,
                    self.config.exchange.rest_url,
                    self.config.exchange.request_timeout_seconds,
                )
            except ClockError as exc:
                self.status_reason = str(exc)
                log.warning("%s; retrying in %.0fs", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                delay = min(delay * 2, 30.0)
                continue
            log.info(
                "following the simulator's replay clock",
                extra={
                    "speed": clock.speed,
                    "market_time": utc_from_us(clock.now_us()).isoformat(),
                },
            )
            return clock
        return None

    async def _params_loop(self) -> None:
        """Apply a new version as soon as it is validated, even while the market is quiet."""
        assert self.watcher is not None
        while True:
            await self.watcher.changed.wait()
            self._apply_pending_params()

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(30)
            if self.executor is not None:
                await self.executor.sweep_orphans()

    async def _shutdown(self, tasks: list[asyncio.Task[Any]], rest: CoincheckRest) -> None:
        """Stop entries, cancel open orders, flush the writer; bounded by the shutdown timeout."""
        log.info("stopping: no new entries, cancelling open orders, flushing the database")
        deadline = self.config.bot.shutdown_timeout_seconds
        if self.executor is not None:
            self.executor.accepting = False
            try:
                await asyncio.wait_for(self.executor.cancel_all(), timeout=deadline * 0.5)
            except (TimeoutError, Exception) as exc:
                log.error("cancelling orders at stop failed: %r", exc)
            if not await asyncio.to_thread(self.executor.state.flush, deadline * 0.2):
                log.error("trading state not written at stop: the next start reconciles")
        if self.watcher is not None:
            self.watcher.stop()
        if self.feed is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.feed.stop(), timeout=1)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.writer is not None:
            try:
                await asyncio.wait_for(self.writer.close(), timeout=deadline * 0.4)
            except TimeoutError:
                log.error(
                    "database flush timed out: rows remain in the spill file for the next start"
                )
        if self.http is not None:
            await self.http.stop()
        await rest.aclose()
        log.info("stopped")

    def request_stop(self) -> None:
        self._stop.set()


def venue_tag(mode: str, rest_url: str) -> str:
    """`paper-1a2b3c4d`: which account a persisted trading state belongs to."""
    return f"{mode}-{hashlib.sha256(rest_url.encode()).hexdigest()[:8]}"
