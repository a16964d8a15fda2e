"""Crafted histories for the drift monitor, written into a real (migrated) PostgreSQL.

Every round trip is 1 BTC bought at 10,000,000 JPY one minute before its exit and sold at
10,000,000 + PnL, fee 0: a trip's net PnL is exactly the price difference, so every metric can
be checked with pen and paper. The steady market alternates its mid between 10,000,000 and
10,001,000 JPY every 10 s bucket, with one taker sell at mid - 500 and one taker buy at
mid + 500 per bucket: 12 trades/min, effective spread 1,000 JPY, |log return| ≈ 1e-4.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bot.config import DriftMonitorConfig

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a multiple of the 10 s bucket
NOW_US = int(NOW.timestamp()) * 1_000_000
BASE_PRICE = 10_000_000
BTC_SAT = 100_000_000


def config(**sections: Any) -> DriftMonitorConfig:
    """Default configuration with some sections replaced (nested dicts)."""
    return DriftMonitorConfig.model_validate(sections)


def baseline_pnls(n: int = 40) -> list[int]:
    """+300, -100, +300, ... : mean 100 JPY, sample sd 200·sqrt(40/39) ≈ 202.548 JPY."""
    return [300 if i % 2 == 0 else -100 for i in range(n)]


def baseline_exits(
    n: int = 40, last: timedelta = timedelta(hours=5), every: timedelta = timedelta(hours=4)
) -> list[datetime]:
    """One exit every 4 h, oldest first, the newest 5 h before NOW (oldest 161 h: inside 7 d)."""
    return [NOW - last - every * (n - 1 - i) for i in range(n)]


def recent_exits(n: int) -> list[datetime]:
    """Exits every 5 min inside the last hour, oldest first, the newest 5 min before NOW."""
    return [NOW - timedelta(minutes=5) * (n - i) for i in range(n)]


class History:
    """Writes own fills, market trades, jobs and parameter versions for one test database."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._fill_id = 0
        self._trade_id = 0

    async def round_trips(
        self, pnls: Sequence[int], exits: Sequence[datetime], mode: str = "paper"
    ) -> None:
        records = []
        for pnl, exit_ts in zip(pnls, exits, strict=True):
            for side, price, ts in (
                (1, BASE_PRICE, exit_ts - timedelta(minutes=1)),
                (-1, BASE_PRICE + pnl, exit_ts),
            ):
                self._fill_id += 1
                records.append((self._fill_id, ts, mode, side, price, BTC_SAT, 0))
        await self.conn.copy_records_to_table(
            "own_fills",
            records=records,
            columns=["fill_id", "ts", "mode", "side", "price", "amount_sat", "fee_jpy"],
        )

    async def market(
        self,
        start: datetime,
        end: datetime,
        mid_of_bucket: Any = None,
        trades_per_side: tuple[int, int] = (1, 1),
    ) -> None:
        """Trades in every 10 s bucket of [start, end): sells at mid - 500, then buys at mid + 500."""
        records = []
        n_sell, n_buy = trades_per_side
        bucket = 0
        ts = start
        while ts < end:
            mid = mid_of_bucket(ts) if mid_of_bucket else BASE_PRICE + (1000 if bucket % 2 else 0)
            trades = [(-1, mid - 500)] * n_sell + [(1, mid + 500)] * n_buy
            for k, (taker, price) in enumerate(trades):
                self._trade_id += 1
                t = ts + timedelta(milliseconds=100 * (k + 1))
                row_id = int(t.timestamp()) * 1_000_000_000 + self._trade_id
                records.append((row_id, t, self._trade_id, price, 1_000_000, taker))
            ts += timedelta(seconds=10)
            bucket += 1
        await self.conn.copy_records_to_table(
            "market_trades",
            records=records,
            columns=["id", "ts", "trade_id", "price", "amount_sat", "taker_side"],
        )

    async def steady_market(self) -> None:
        await self.market(NOW - timedelta(hours=24), NOW)

    async def job(
        self,
        status: str,
        created: datetime,
        finished: datetime | None = None,
        requested_by: str = "make optimize",
    ) -> None:
        await self.conn.execute(
            "INSERT INTO optimization_jobs (job_id, created_at, status, requested_by, finished_at) "
            "VALUES (gen_random_uuid(), $1, $2, $3, $4)",
            created,
            status,
            requested_by,
            finished,
        )

    async def jobs(self) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            "SELECT job_id, status, requested_by, reason, payload::text AS payload "
            "FROM optimization_jobs ORDER BY created_at"
        )

    async def decisions(self) -> list[asyncpg.Record]:
        return await self.conn.fetch(
            "SELECT ts, severity, details::text AS details, job_id FROM drift_events "
            "WHERE detector = 'decision' ORDER BY ts"
        )
