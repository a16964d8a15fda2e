"""Event-driven backtester: book -> signal engine -> trader -> simulated venue, one event at a time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from bot.backtest.execution import FillRecord, SimulatedVenue
from bot.backtest.metrics import PerformanceMetrics, compute_metrics
from bot.config import SATOSHI_PER_BTC, AccountConfig, TradeParams
from bot.market.book import BookState, OrderBook
from bot.market.events import BookSnapshot, MarketEvent, TradePrint
from bot.strategy.signal import SignalEngine
from bot.trading.fills import FILL_DEPTH, BookTop
from bot.trading.position import Position, RoundTrip
from bot.trading.trader import Trader

PRICE_SAMPLE_US = 1_000_000


@dataclass
class BacktestResult:
    """Everything a report, the optimizer or a parity test needs from one run."""

    params: TradeParams
    metrics: PerformanceMetrics
    round_trips: list[RoundTrip]
    fills: list[FillRecord]
    prices: list[tuple[int, int]]  # (ts_us, mid) sampled once a second
    events: int
    level_events: int
    seconds: float
    final_jpy: Decimal
    final_btc_sat: int
    initial_equity_jpy: Decimal | None
    halt_reason: str | None
    refusals: dict[str, int] = field(default_factory=dict)
    first_ts_us: int | None = None
    last_ts_us: int | None = None

    @property
    def events_per_sec(self) -> float | None:
        return self.level_events / self.seconds if self.seconds > 0 else None

    def summary(self) -> dict[str, object]:
        """The `simulate --json` object."""
        m = self.metrics
        return {
            "events": self.level_events,
            "trades": m.trades,
            "pnl_jpy": float(m.pnl_jpy),
            "fees_jpy": float(m.fees_jpy),
            "win_rate": m.win_rate,
            "profit_factor": m.profit_factor,
            "sharpe": m.sharpe,
            "max_drawdown_jpy": float(m.max_drawdown_jpy),
            "events_per_sec": round(self.events_per_sec) if self.events_per_sec else None,
        }


def book_top(book: OrderBook) -> BookTop:
    return BookTop(tuple(book.top_bids(FILL_DEPTH)), tuple(book.top_asks(FILL_DEPTH)))


def run_backtest(
    events: Iterable[MarketEvent],
    params: TradeParams,
    account: AccountConfig,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Replay events through the strategy core and the simulated venue."""
    started = time.perf_counter()
    book = OrderBook()
    engine = SignalEngine(params)
    position = Position(account.initial_jpy, int(account.initial_btc * SATOSHI_PER_BTC))
    trader = Trader(params, position)
    venue = SimulatedVenue(trader, params.latency.order_ms * 1000)
    prices: list[tuple[int, int]] = []
    next_sample = 0
    n_events = n_levels = 0
    first_ts = last_ts = None
    ok_state = BookState.OK

    for ev in events:
        ts = ev.ts_us
        if venue.in_flight and venue.in_flight[0][0] < ts:
            venue.process_arrivals(ts, lambda: book_top(book))
        if isinstance(ev, TradePrint):
            n_levels += 1
        else:
            if isinstance(ev, BookSnapshot):
                book.load_snapshot(ev)
            else:
                book.apply_diff(ev)
            n_levels += len(ev.bids) + len(ev.asks)
        n_events += 1
        signal = engine.on_event(ev, book)
        if venue.resting:
            venue.match_resting(ts, book_top(book))
        if book.state is ok_state:
            bid = book._bid_prices[-1]
            ask = book._ask_prices[0]
            if ts >= next_sample:
                if not prices:
                    trader.mark_start((bid + ask) // 2)
                prices.append((ts, (bid + ask) // 2))
                next_sample = ts - ts % PRICE_SAMPLE_US + PRICE_SAMPLE_US
            if signal or not trader.idle:
                venue.handle(trader.on_tick(ts, bid, ask, signal))
        elif trader.working:
            venue.handle(trader.on_tick(ts, None, None, signal))
        if first_ts is None:
            first_ts = ts
        last_ts = ts
        if progress is not None and n_events % 20_000 == 0:
            progress(n_events)

    return venue_result(
        venue, prices, n_events, n_levels, time.perf_counter() - started, first_ts, last_ts
    )


def venue_result(
    venue: SimulatedVenue,
    prices: list[tuple[int, int]],
    events: int,
    level_events: int,
    seconds: float,
    first_ts_us: int | None,
    last_ts_us: int | None,
) -> BacktestResult:
    """The result of a run that drove `venue`'s Trader (event-driven or fast path)."""
    trader = venue.trader
    position = trader.position
    return BacktestResult(
        params=trader.params,
        metrics=compute_metrics(trader.round_trips),
        round_trips=trader.round_trips,
        fills=venue.fills,
        prices=prices,
        events=events,
        level_events=level_events,
        seconds=seconds,
        final_jpy=position.jpy,
        final_btc_sat=position.btc_sat,
        initial_equity_jpy=trader.initial_equity,
        halt_reason=trader.risk.halt_reason,
        refusals=dict(trader.refusals),
        first_ts_us=first_ts_us,
        last_ts_us=last_ts_us,
    )
