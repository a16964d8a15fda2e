"""Database writer benchmarks: rows/s into the local PostgreSQL and event-loop stall meanwhile.

Uses DATABASE_URL when set, else a throwaway embedded PostgreSQL in a temp dir (never var/pg);
writes into a fresh database that is dropped afterwards. The row mix is the recorder's: book
diffs with a few levels and trades, 4:1. Rows/s: producer at full speed, until all committed.
Loop stall: p99 lateness of a 1 ms timer while rows arrive at 50,000/s (the target rate).
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from bench._common import Measurement, measurement
from bot.storage.migrations import migrate
from bot.storage.rows import BookDiffRow, TradeRow
from bot.storage.writer import DatabaseWriter

ROWS = 300_000
CHUNK = 200  # rows written per loop iteration by the producer
PACED_ROWS_PER_SEC = 50_000  # the throughput target, sustained while the loop lag is measured
PACED_ROWS = 150_000
T0 = 1_755_309_978_000_000


def _rows(n: int) -> list[BookDiffRow | TradeRow]:
    out: list[BookDiffRow | TradeRow] = []
    for i in range(n):
        ts = T0 + i * 50
        if i % 5 == 4:
            out.append(
                TradeRow(
                    ts * 1000, ts, ts // 1_000_000 * 1_000_000, i, 17_000_000 + i % 500, 500_000, 1
                )
            )
        else:
            out.append(
                BookDiffRow(
                    ts * 1000,
                    ts,
                    ts // 1_000_000 * 1_000_000,
                    False,
                    (17_000_000 - i % 300, 16_999_000),
                    (1_000_000, 0),
                    (17_000_500 + i % 300,),
                    (2_500_000,),
                )
            )
    return out


async def _throughput(url: str, spill: Path, rows: list[BookDiffRow | TradeRow]) -> float:
    """Rows/s from the first write until every row is committed (producer at full speed)."""
    writer = DatabaseWriter(url, spill, batch_rows=5000, max_queue_rows=len(rows) + 1)
    await writer.start()
    start = time.perf_counter()
    for i in range(0, len(rows), CHUNK):
        writer.write_many(rows[i : i + CHUNK])
        await asyncio.sleep(0)
    await writer.close()
    elapsed = time.perf_counter() - start
    if writer.stats().rows_written != len(rows):
        raise RuntimeError(f"wrote {writer.stats().rows_written} of {len(rows)} rows")
    return len(rows) / elapsed


async def _loop_stall_p99_ms(url: str, spill: Path, rows: list[BookDiffRow | TradeRow]) -> float:
    """Lateness of a 1 ms timer while the writer stores PACED_ROWS_PER_SEC rows per second."""
    lags: list[float] = []
    done = False

    async def monitor() -> None:
        interval = 0.001
        while not done:
            start = time.perf_counter()
            await asyncio.sleep(interval)
            lags.append(max(0.0, time.perf_counter() - start - interval) * 1000)

    writer = DatabaseWriter(url, spill, batch_rows=5000, flush_interval_s=0.5)
    await writer.start()
    mon = asyncio.create_task(monitor())
    per_tick = PACED_ROWS_PER_SEC // 1000  # rows every millisecond
    start = time.perf_counter()
    written = 0
    while written < len(rows):
        due = int((time.perf_counter() - start) * PACED_ROWS_PER_SEC)
        upto = min(len(rows), max(due, written + per_tick))
        writer.write_many(rows[written:upto])
        written = upto
        await asyncio.sleep(0.001)
    await writer.close()
    done = True
    await mon
    if writer.stats().rows_written != len(rows):
        raise RuntimeError(f"wrote {writer.stats().rows_written} of {len(rows)} rows")
    return statistics.quantiles(lags, n=100)[98]


async def _measure(url: str, spill: Path) -> tuple[float, float]:
    rows = _rows(ROWS + PACED_ROWS)
    # The input rows are bench scaffolding (a live producer holds none of them): keep them out
    # of the garbage collector's full passes so those do not count as writer stalls.
    gc.collect()
    gc.freeze()
    rate = await _throughput(url, spill, rows[:ROWS])
    paced = rows[ROWS:]  # new keys: the table is not empty but distinct
    stall = await _loop_stall_p99_ms(url, spill, paced)
    return rate, stall


def _database(admin_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[call-overload]
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def _drop(admin_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[call-overload]


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="bench_db_") as tmp:
        server = None
        admin_url = os.environ.get("DATABASE_URL")
        if not admin_url:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import pgserver

                server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
            admin_url = str(server.get_uri())
        url = _database(admin_url)
        try:
            migrate(url)
            rows_per_sec, stall_p99 = asyncio.run(_measure(url, Path(tmp) / "bench.spill"))
        finally:
            _drop(admin_url, url)
            if server is not None:
                server.cleanup()
    return [
        measurement("db_write_rows_per_sec", rows_per_sec, "rows/s"),
        measurement("db_write_loop_stall_p99_ms", stall_p99, "ms"),
    ]
