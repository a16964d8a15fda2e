"""The batched writer against a real PostgreSQL: exact values, load, replays, outages."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path

import asyncpg

from bot.storage.rows import (
    BenchmarkPriceRow,
    BookDiffRow,
    DriftEventRow,
    FillRow,
    LatencySampleRow,
    OrderEventRow,
    ParameterVersionRow,
    PerformanceReportRow,
    PositionSnapshotRow,
    TradeRow,
    us_from_utc,
)
from bot.storage.writer import DatabaseWriter

T0 = 1_755_309_978_123_456  # 2025-08-16 02:06:18.123456 UTC


def trade(i: int) -> TradeRow:
    return TradeRow(
        id=(T0 + i) * 1000,
        ts=T0 + i,
        exchange_ts=(T0 // 1_000_000) * 1_000_000,
        trade_id=583_000_000 + i,
        price=17_378_187 + i,
        amount_sat=500_000,
        taker_side=1 if i % 2 else -1,
    )


async def count(url: str, table: str, column: str = "id") -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(f"SELECT count(*), count(DISTINCT {column}) FROM {table}")
    finally:
        await conn.close()
    return int(row[0]), int(row[1])


async def test_every_row_type_is_stored_exactly(migrated_db_url: str, tmp_path: Path) -> None:
    job = uuid.uuid4()
    rows = [
        BookDiffRow(
            1, T0, None, False, (17_000_001, 17_000_000), (3_000_000, 0), (17_000_500,), (1,)
        ),
        trade(1),
        BenchmarkPriceRow(ts=T0, mid_price=Decimal("17000250.5")),
        OrderEventRow(T0, "c-1", None, "paper", 1, 17_000_000, 500_000, 0, "new"),
        FillRow(583147645, T0, "paper", -1, 17_378_187, 500_000, Decimal("-1.25"), "M", "c-1", 42),
        PositionSnapshotRow(
            T0,
            "paper",
            -500_000,
            Decimal("17378187"),
            Decimal(0),
            Decimal("-12.5"),
            Decimal("1.25"),
        ),
        PerformanceReportRow(
            T0, 24, "paper", 3, 2 / 3, 1.5, None, Decimal(100), Decimal(250), Decimal(0)
        ),
        LatencySampleRow(T0, "feed_lag", 1234),
        ParameterVersionRow(T0, "manual", "abc", '{"long": {"tp": 2000}}'),
        DriftEventRow(T0, "pnl_drop", "normal", "pnl_1h", -1000.0, -500.0, job_id=job),
    ]
    async with DatabaseWriter(migrated_db_url, tmp_path / "w.spill") as writer:
        writer.write_many(rows)
    conn = await asyncpg.connect(migrated_db_url)
    try:
        diff = await conn.fetchrow("SELECT * FROM market_book_diffs")
        fill = await conn.fetchrow("SELECT * FROM own_fills")
        mid = await conn.fetchval("SELECT mid_price FROM benchmark_prices")
        drift_job = await conn.fetchval("SELECT job_id FROM drift_events")
        tables = [r.TABLE for r in rows]
        counts = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in tables]
    finally:
        await conn.close()
    assert counts == [1] * len(rows)
    assert us_from_utc(diff["ts"]) == T0
    assert diff["exchange_ts"] is None
    assert list(diff["bid_prices"]) == [17_000_001, 17_000_000]
    assert list(diff["bid_amounts_sat"]) == [3_000_000, 0]
    assert fill["fee_jpy"] == Decimal("-1.25")
    assert us_from_utc(fill["ts"]) == T0
    assert mid == Decimal("17000250.5")
    assert drift_job == job


async def test_load_is_batched_and_complete(migrated_db_url: str, tmp_path: Path) -> None:
    n = 60_000
    async with DatabaseWriter(migrated_db_url, tmp_path / "w.spill", batch_rows=5000) as writer:
        for i in range(n):
            writer.write(trade(i))
            if i % 5000 == 0:
                await asyncio.sleep(0)
        assert writer.queue_depth <= n
    assert writer.queue_depth == 0
    assert writer.stats().rows_written == n
    assert await count(migrated_db_url, "market_trades") == (n, n)


async def test_writing_the_same_rows_twice_stores_them_once(
    migrated_db_url: str, tmp_path: Path
) -> None:
    rows = [trade(i) for i in range(1000)]
    async with DatabaseWriter(migrated_db_url, tmp_path / "w.spill") as writer:
        writer.write_many(rows)
        await writer.flush()
        writer.write_many(rows)
    assert await count(migrated_db_url, "market_trades") == (1000, 1000)


async def test_full_queue_spills_instead_of_dropping(migrated_db_url: str, tmp_path: Path) -> None:
    writer = DatabaseWriter(migrated_db_url, tmp_path / "w.spill", max_queue_rows=500)
    for i in range(1_250):  # no flusher running: the queue overflows twice
        writer.write(trade(i))
    assert writer.spill_rows == 1000
    assert writer.queue_depth == 250
    await writer.close()
    assert writer.spill_rows == 0
    assert await count(migrated_db_url, "market_trades") == (1250, 1250)


async def test_a_refused_row_is_set_aside_and_the_rest_stored(
    migrated_db_url: str, tmp_path: Path
) -> None:
    bad = LatencySampleRow(T0, "warp_speed", 1)  # type: ignore[arg-type]  # violates the CHECK
    async with DatabaseWriter(migrated_db_url, tmp_path / "w.spill") as writer:
        writer.write(LatencySampleRow(T0, "feed_lag", 1))
        writer.write(bad)
        writer.write(LatencySampleRow(T0, "tick_to_order", 2))
    assert writer.stats().rows_rejected == 1
    assert (tmp_path / "w.rejected").stat().st_size > 0
    assert await count(migrated_db_url, "latency_samples", "sample_id") == (2, 2)


async def test_database_stopped_and_restarted_mid_stream_loses_and_doubles_nothing(
    private_pg, tmp_path: Path
) -> None:
    url = private_pg.url
    conn = await asyncpg.connect(url)
    await conn.execute("TRUNCATE market_trades")
    await conn.close()
    n, step = 30_000, 500
    writer = DatabaseWriter(
        url, tmp_path / "w.spill", batch_rows=1000, flush_interval_s=0.02, retry_interval_s=0.05
    )
    await writer.start()
    spilled_while_down = 0
    try:
        for i in range(0, n, step):
            writer.write_many([trade(j) for j in range(i, i + step)])
            await asyncio.sleep(0.005)
            if i == 10_000:
                await asyncio.sleep(0.05)  # let some batches land first
                await asyncio.to_thread(private_pg.stop)
            if i == 20_000:
                await asyncio.sleep(0.1)
                spilled_while_down = writer.spill_rows
                await asyncio.to_thread(private_pg.start)
    finally:
        await writer.close()
    assert spilled_while_down > 0, "the outage should have sent rows to the spill file"
    assert writer.spill_rows == 0
    assert not (tmp_path / "w.spill").exists()
    assert await count(url, "market_trades") == (n, n)


async def test_spill_left_by_a_crashed_run_is_replayed_on_the_next_start(
    private_pg, tmp_path: Path
) -> None:
    url = private_pg.url
    conn = await asyncpg.connect(url)
    await conn.execute("TRUNCATE market_trades")
    await conn.close()
    spill = tmp_path / "w.spill"
    # Rows 0..1999 stored; then the database stops; rows 1000..4999 (half already stored) spill.
    async with DatabaseWriter(url, spill) as first:
        first.write_many([trade(i) for i in range(2000)])
    await asyncio.to_thread(private_pg.stop)
    try:
        second = DatabaseWriter(url, spill, retry_interval_s=0.01)
        second.write_many([trade(i) for i in range(1000, 5000)])
        await second.close()  # database down: everything goes to the spill file
        assert second.spill_rows == 4000
    finally:
        await asyncio.to_thread(private_pg.start)
    third = DatabaseWriter(url, spill, flush_interval_s=0.01)
    assert third.spill_rows == 4000
    await third.start()
    for _ in range(200):
        if third.spill_rows == 0:
            break
        await asyncio.sleep(0.01)
    await third.close()
    assert await count(url, "market_trades") == (5000, 5000)
