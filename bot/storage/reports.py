"""Performance reports from our own fills: trades, win rate, profit factor, Sharpe, drawdown.

Round trips come from the same FIFO Position the backtester uses and the numbers from the same
`compute_metrics`, so a report and a backtest of the same fills agree to the yen. A window
counts the round trips that closed inside it; the position is rebuilt from every earlier fill,
so a trade opened before the window still has its true entry price.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from bot.backtest.metrics import PerformanceMetrics, compute_metrics
from bot.clock import WALL_CLOCK, MarketClock
from bot.config import ReportGeneratorConfig
from bot.market.events import Side
from bot.storage.connection import connect
from bot.storage.errors import StorageError
from bot.storage.queries import fetch_fills
from bot.storage.rows import FillRow, PerformanceReportRow
from bot.storage.writer import DatabaseWriter
from bot.trading.position import Position, RoundTrip

_log = logging.getLogger(__name__)
_HOUR_US = 3_600_000_000
# Reports measure PnL, not balances: start from balances no real fill history can exhaust.
_UNLIMITED_JPY = Decimal(10**15)
_UNLIMITED_SAT = 10**15


@dataclass(frozen=True, slots=True)
class WindowReport:
    """Metrics of the round trips that closed in (end - window_hours, end]; None = all time."""

    mode: str | None
    window_hours: int | None
    end_ts_us: int
    metrics: PerformanceMetrics


def round_trips(fills: Sequence[FillRow]) -> list[RoundTrip]:
    """FIFO position cycles closed by `fills` (given in time order)."""
    position = Position(_UNLIMITED_JPY, _UNLIMITED_SAT)
    closed: list[RoundTrip] = []
    for f in fills:
        closed += position.apply_fill(Side(f.side), f.price, f.amount_sat, f.fee_jpy, f.ts)
    return closed


def window_reports(
    fills: Sequence[FillRow],
    end_ts_us: int,
    windows_hours: Sequence[int | None],
    mode: str | None = None,
) -> list[WindowReport]:
    trips = round_trips([f for f in fills if f.ts <= end_ts_us])
    out = []
    for hours in windows_hours:
        start = None if hours is None else end_ts_us - hours * _HOUR_US
        inside = [t for t in trips if start is None or t.exit_ts_us > start]
        out.append(WindowReport(mode, hours, end_ts_us, compute_metrics(inside)))
    return out


async def build_reports(
    conn: asyncpg.Connection,
    end_ts_us: int,
    windows_hours: Sequence[int | None],
    mode: str | None = None,
) -> list[WindowReport]:
    """Reports for each window ending at `end_ts_us`, from the stored fills."""
    fills = await fetch_fills(conn, mode=mode, until_us=end_ts_us)
    return window_reports(fills, end_ts_us, windows_hours, mode)


def report_row(report: WindowReport) -> PerformanceReportRow:
    m = report.metrics
    if report.window_hours is None:
        raise ValueError("only fixed windows are stored as report rows")
    return PerformanceReportRow(
        ts=report.end_ts_us,
        window_hours=report.window_hours,
        mode=report.mode or "all",
        trades=m.trades,
        win_rate=m.win_rate,
        profit_factor=m.profit_factor,
        sharpe=m.sharpe,
        max_drawdown_jpy=m.max_drawdown_jpy,
        pnl_jpy=m.pnl_jpy,
        fees_jpy=m.fees_jpy,
    )


class ReportGenerator:
    """Every `interval_minutes` (market time), writes one performance_reports row per window."""

    def __init__(
        self,
        url: str,
        writer: DatabaseWriter,
        config: ReportGeneratorConfig,
        mode: str,
        clock: MarketClock = WALL_CLOCK,
    ) -> None:
        self._clock = clock
        self._url = url
        self._writer = writer
        self._config = config
        self._mode = mode

    async def report_once(self, end_ts_us: int | None = None) -> list[WindowReport]:
        end = end_ts_us if end_ts_us is not None else self._clock.now_us()
        conn = await connect(self._url)
        try:
            reports = await build_reports(conn, end, self._config.windows_hours, self._mode)
        finally:
            await conn.close()
        for r in reports:
            self._writer.write(report_row(r))
        return reports

    async def run(self) -> None:
        """Loop until cancelled; a database outage skips a round and is logged, never fatal."""
        while True:
            try:
                await self.report_once()
            except (StorageError, asyncpg.PostgresError, OSError) as exc:
                _log.warning("performance report skipped: %s", exc)
            await asyncio.sleep(self._clock.wall_seconds(self._config.interval_minutes * 60))
