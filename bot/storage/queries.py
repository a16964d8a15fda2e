"""Reads the other modules need: market events for export, own fills for reports, the job queue.

Times cross this boundary as µs since the epoch (int), converted in SQL so nothing rounds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from bot.market.events import BookDiff, BookSnapshot, MarketEvent, Side, TradePrint
from bot.storage.rows import FillRow

_US = "(extract(epoch FROM {c}) * 1000000)::bigint"
_FROM_US = "timestamptz 'epoch' + {p} * interval '1 microsecond'"

_MARKET_EVENTS = f"""
SELECT id, {_US.format(c="ts")} AS ts_us, {_US.format(c="exchange_ts")} AS exchange_ts_us,
       is_snapshot, bid_prices, bid_amounts_sat, ask_prices, ask_amounts_sat,
       NULL::bigint AS trade_id, NULL::bigint AS price, NULL::bigint AS amount_sat,
       NULL::smallint AS taker_side
FROM market_book_diffs
WHERE ts >= {_FROM_US.format(p="$1")} AND ts < {_FROM_US.format(p="$2")}
UNION ALL
SELECT id, {_US.format(c="ts")}, {_US.format(c="exchange_ts")},
       NULL, NULL, NULL, NULL, NULL, trade_id, price, amount_sat, taker_side
FROM market_trades
WHERE ts >= {_FROM_US.format(p="$1")} AND ts < {_FROM_US.format(p="$2")}
ORDER BY id
"""


def _levels(prices: list[int], amounts: list[int]) -> tuple[tuple[int, int], ...]:
    return tuple(zip(prices, amounts, strict=True))


async def iter_market_events(
    conn: asyncpg.Connection, start_us: int, end_us: int, prefetch: int = 5000
) -> AsyncIterator[MarketEvent]:
    """Stored book diffs, snapshots and trades with start <= ts < end, in arrival order."""
    async with conn.transaction(readonly=True):
        async for r in conn.cursor(_MARKET_EVENTS, start_us, end_us, prefetch=prefetch):
            if r["trade_id"] is not None:
                yield TradePrint(
                    ts_us=r["ts_us"],
                    exchange_ts_us=r["exchange_ts_us"],
                    trade_id=r["trade_id"],
                    price=r["price"],
                    amount_sat=r["amount_sat"],
                    taker_side=Side(r["taker_side"]),
                )
                continue
            cls = BookSnapshot if r["is_snapshot"] else BookDiff
            yield cls(
                ts_us=r["ts_us"],
                exchange_ts_us=r["exchange_ts_us"],
                bids=_levels(r["bid_prices"], r["bid_amounts_sat"]),
                asks=_levels(r["ask_prices"], r["ask_amounts_sat"]),
            )


async def market_data_span(conn: asyncpg.Connection) -> tuple[int, int] | None:
    """(first, last) receive time of stored market data in µs, or None when there is none."""
    row = await conn.fetchrow(
        f"""SELECT {_US.format(c="min(ts)")} AS lo, {_US.format(c="max(ts)")} AS hi FROM (
              SELECT ts FROM market_book_diffs UNION ALL SELECT ts FROM market_trades) t"""
    )
    if row is None or row["lo"] is None:
        return None
    return int(row["lo"]), int(row["hi"])


async def fetch_fills(
    conn: asyncpg.Connection, mode: str | None = None, until_us: int | None = None
) -> list[FillRow]:
    """Own fills in time order (ties by fill id), optionally one mode and up to a time."""
    rows = await conn.fetch(
        f"""SELECT fill_id, {_US.format(c="ts")} AS ts_us, mode, side, price, amount_sat,
                   fee_jpy, liquidity, client_order_id, exchange_order_id
            FROM own_fills
            WHERE ($1::text IS NULL OR mode = $1)
              AND ($2::bigint IS NULL OR ts <= {_FROM_US.format(p="$2::bigint")})
            ORDER BY ts, fill_id""",
        mode,
        until_us,
    )
    return [fill_row(r) for r in rows]


def fill_row(r: asyncpg.Record) -> FillRow:
    """An own_fills record (selected with `ts_us`) as a FillRow."""
    return FillRow(
        fill_id=r["fill_id"],
        ts=r["ts_us"],
        mode=r["mode"],
        side=r["side"],
        price=r["price"],
        amount_sat=r["amount_sat"],
        fee_jpy=Decimal(r["fee_jpy"]),
        liquidity=r["liquidity"],
        client_order_id=r["client_order_id"],
        exchange_order_id=r["exchange_order_id"],
    )


# --------------------------------------------------------------------------- job queue
@dataclass(frozen=True, slots=True)
class OptimizationJob:
    job_id: uuid.UUID
    requested_by: str
    reason: str | None
    payload: dict[str, Any]


async def enqueue_job(
    conn: asyncpg.Connection,
    requested_by: str,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
) -> uuid.UUID:
    """Add a pending optimization job; returns its id."""
    job_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO optimization_jobs (job_id, requested_by, reason, payload) "
        "VALUES ($1, $2, $3, $4::jsonb)",
        job_id,
        requested_by,
        reason,
        json.dumps(payload or {}),
    )
    return job_id


async def claim_job(conn: asyncpg.Connection, worker: str) -> OptimizationJob | None:
    """Take the oldest pending job (FOR UPDATE SKIP LOCKED: workers never share one)."""
    row = await conn.fetchrow(
        """UPDATE optimization_jobs SET status = 'running', claimed_by = $1, claimed_at = now()
           WHERE job_id = (SELECT job_id FROM optimization_jobs WHERE status = 'pending'
                           ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
           RETURNING job_id, requested_by, reason, payload""",
        worker,
    )
    if row is None:
        return None
    return OptimizationJob(
        row["job_id"], row["requested_by"], row["reason"], json.loads(row["payload"])
    )


async def finish_job(conn: asyncpg.Connection, job_id: uuid.UUID, error: str | None = None) -> None:
    """Mark a claimed job done (or failed with `error`)."""
    await conn.execute(
        "UPDATE optimization_jobs SET status = $2, error = $3, finished_at = now() "
        "WHERE job_id = $1",
        job_id,
        "failed" if error else "done",
        error,
    )
