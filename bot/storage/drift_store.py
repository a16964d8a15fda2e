"""The drift monitor's reads and writes: fills, market buckets, the job gate, drift events.

Times cross this boundary as µs since the epoch (int), converted in SQL so nothing rounds.
Job creation takes a transaction-scoped advisory lock, so two monitors checking at the same
moment still leave at most one outstanding job.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg

from bot.clock import WALL_CLOCK, MarketClock
from bot.storage.queries import fill_row
from bot.storage.rows import FillRow

_US = "(extract(epoch FROM {c}) * 1000000)::bigint"
_FROM_US = "(timestamptz 'epoch' + {p}::bigint * interval '1 microsecond')"
_JOB_END = "greatest(created_at, coalesce(finished_at, created_at))"
_JOB_LOCK_KEY = 7_041_990_332  # advisory lock id for "drift monitor creates a job"
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]

_FILLS_SINCE_FLAT = f"""
WITH f AS (
    SELECT fill_id, ts, mode, side, price, amount_sat, fee_jpy, liquidity, client_order_id,
           exchange_order_id,
           sum(side::bigint * amount_sat) OVER (ORDER BY ts, fill_id) AS position_after
    FROM own_fills
    WHERE mode = $1 AND ts <= {_FROM_US.format(p="$3")}
), flat AS (
    SELECT ts, fill_id FROM f
    WHERE position_after = 0 AND ts < {_FROM_US.format(p="$2")}
    ORDER BY ts DESC, fill_id DESC LIMIT 1
)
SELECT fill_id, {_US.format(c="ts")} AS ts_us, mode, side, price, amount_sat, fee_jpy,
       liquidity, client_order_id, exchange_order_id
FROM f
WHERE NOT EXISTS (SELECT 1 FROM flat) OR (f.ts, f.fill_id) > (SELECT ts, fill_id FROM flat)
ORDER BY ts, fill_id
"""


async def fetch_fills_since_flat(
    conn: asyncpg.Connection, mode: str, since_us: int, until_us: int
) -> list[FillRow]:
    """Own fills up to `until`, starting after the last flat position before `since`.

    Starting from flat lets the caller rebuild every round trip that closes after `since`
    with its true entry, without reading the whole fill history.
    """
    rows = await conn.fetch(_FILLS_SINCE_FLAT, mode, since_us, until_us)
    return [fill_row(r) for r in rows]


async def last_fill_us(conn: asyncpg.Connection, mode: str, until_us: int) -> int | None:
    """Time of our latest fill at or before `until`, or None when we never traded."""
    value = await conn.fetchval(
        f"SELECT {_US.format(c='max(ts)')} FROM own_fills "
        f"WHERE mode = $1 AND ts <= {_FROM_US.format(p='$2')}",
        mode,
        until_us,
    )
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class MarketBucket:
    """Market trades in [start, start + bucket): count, last price, average price per taker side."""

    start_us: int
    trades: int
    last_price: int
    taker_buy_avg: float | None
    taker_sell_avg: float | None


async def fetch_market_buckets(
    conn: asyncpg.Connection, since_us: int, until_us: int, bucket_seconds: int
) -> list[MarketBucket]:
    """Market trades with since <= ts <= until grouped in epoch-aligned buckets, in order."""
    rows = await conn.fetch(
        f"""SELECT floor(extract(epoch FROM ts) / $3)::bigint AS bucket,
                   count(*) AS trades,
                   (array_agg(price ORDER BY id DESC))[1] AS last_price,
                   avg(price) FILTER (WHERE taker_side = 1)::float8 AS buy_avg,
                   avg(price) FILTER (WHERE taker_side = -1)::float8 AS sell_avg
            FROM market_trades
            WHERE ts >= {_FROM_US.format(p="$1")} AND ts <= {_FROM_US.format(p="$2")}
            GROUP BY bucket ORDER BY bucket""",
        since_us,
        until_us,
        bucket_seconds,
    )
    return [
        MarketBucket(
            start_us=int(r["bucket"]) * bucket_seconds * 1_000_000,
            trades=int(r["trades"]),
            last_price=int(r["last_price"]),
            taker_buy_avg=r["buy_avg"],
            taker_sell_avg=r["sell_avg"],
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- job gate
@dataclass(frozen=True, slots=True)
class JobGate:
    """What happened to a request for a job: created, or which rule held it back."""

    created_job_id: uuid.UUID | None
    outstanding_job_id: uuid.UUID | None = None
    """A pending or running job that blocked the request."""
    outstanding_status: str | None = None
    cooldown_until_us: int | None = None
    """End of the cool-down that blocked the request."""
    last_job_id: uuid.UUID | None = None


async def create_job_unless_blocked(
    conn: asyncpg.Connection,
    *,
    now_us: int,
    cooldown_minutes: float,
    requested_by: str,
    reason: str,
    payload: Mapping[str, JsonValue],
    clock: MarketClock = WALL_CLOCK,
) -> JobGate:
    """Insert a pending job unless one is pending/running or the last one is too recent.

    The cool-down runs from the latest job's finish (or creation, if it never finished),
    whoever asked for it: fresh parameters deserve time to show what they do. It is market
    time (`now_us`, `cooldown_until_us`); the job's own bookkeeping times are wall time, as
    the optimizer's, converted with `clock`.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _JOB_LOCK_KEY)
        busy = await conn.fetchrow(
            "SELECT job_id, status FROM optimization_jobs "
            "WHERE status IN ('pending', 'running') ORDER BY created_at LIMIT 1"
        )
        if busy is not None:
            return JobGate(None, busy["job_id"], busy["status"], last_job_id=busy["job_id"])
        last = await conn.fetchrow(
            f"""SELECT job_id, {_US.format(c=_JOB_END)} AS end_us
                FROM optimization_jobs ORDER BY created_at DESC LIMIT 1"""
        )
        if last is not None:
            end_us = clock.market_us(int(last["end_us"]) * 1000)
            until = end_us + round(cooldown_minutes * 60_000_000)
            if now_us < until:
                return JobGate(None, cooldown_until_us=until, last_job_id=last["job_id"])
        job_id = uuid.uuid4()
        await conn.execute(
            f"""INSERT INTO optimization_jobs (job_id, created_at, requested_by, reason, payload)
                VALUES ($1, {_FROM_US.format(p="$2")}, $3, $4, $5::jsonb)""",
            job_id,
            clock.wall_ns(now_us) // 1000,
            requested_by,
            reason,
            json.dumps(payload),
        )
        return JobGate(job_id, last_job_id=None if last is None else last["job_id"])


# --------------------------------------------------------------------------- drift events
@dataclass(frozen=True, slots=True)
class DriftEvent:
    """One drift_events row; `details` becomes jsonb."""

    ts_us: int
    detector: str
    severity: str
    metric: str
    value: float | None
    threshold: float | None
    details: Mapping[str, JsonValue] = field(default_factory=dict)
    job_id: uuid.UUID | None = None
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


async def insert_drift_events(conn: asyncpg.Connection, events: Sequence[DriftEvent]) -> None:
    await conn.executemany(
        f"""INSERT INTO drift_events
                (event_id, ts, detector, severity, metric, value, threshold, details, job_id)
            VALUES ($1, {_FROM_US.format(p="$2")}, $3, $4, $5, $6, $7, $8::jsonb, $9)
            ON CONFLICT DO NOTHING""",
        [
            (
                e.event_id,
                e.ts_us,
                e.detector,
                e.severity,
                e.metric,
                e.value,
                e.threshold,
                json.dumps(e.details),
                e.job_id,
            )
            for e in events
        ],
    )


async def last_drift_event(
    conn: asyncpg.Connection, detector: str, before_us: int | None = None
) -> DriftEvent | None:
    """The newest event of one detector (e.g. the monitor's last decision), or None."""
    row = await conn.fetchrow(
        f"""SELECT event_id, {_US.format(c="ts")} AS ts_us, detector, severity, metric, value,
                   threshold, details, job_id
            FROM drift_events
            WHERE detector = $1 AND ($2::bigint IS NULL OR ts < {_FROM_US.format(p="$2")})
            ORDER BY ts DESC LIMIT 1""",
        detector,
        before_us,
    )
    if row is None:
        return None
    return DriftEvent(
        ts_us=int(row["ts_us"]),
        detector=row["detector"],
        severity=row["severity"],
        metric=row["metric"],
        value=row["value"],
        threshold=row["threshold"],
        details=json.loads(row["details"]),
        job_id=row["job_id"],
        event_id=row["event_id"],
    )


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True, slots=True)
class AppliedParams:
    version_id: uuid.UUID
    ts_us: int
    source: str
    run_id: uuid.UUID | None
    checksum: str


async def parameter_versions_between(
    conn: asyncpg.Connection, after_us: int, until_us: int
) -> list[AppliedParams]:
    """Parameter sets the bot applied with after < ts <= until, oldest first."""
    rows = await conn.fetch(
        f"""SELECT version_id, {_US.format(c="ts")} AS ts_us, source, run_id, checksum
            FROM parameter_versions
            WHERE ts > {_FROM_US.format(p="$1")} AND ts <= {_FROM_US.format(p="$2")}
            ORDER BY ts""",
        after_us,
        until_us,
    )
    return [
        AppliedParams(r["version_id"], int(r["ts_us"]), r["source"], r["run_id"], r["checksum"])
        for r in rows
    ]
