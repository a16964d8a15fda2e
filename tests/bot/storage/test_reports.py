"""Report numbers checked by hand on a real fill history (Coincheck, 2025-08-16).

The CSV holds 81 rows of 0.005 BTC; the 4 marked is_cancelled are cancelled orders, not fills,
so 77 fills remain. With equal sizes every fill moves the position by one unit, so a round
trip's PnL is simply the sum of its cash flows (sell +price, buy -price) times 0.005 BTC —
arithmetic independent of the FIFO code under test.
"""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from bot.config import ReportGeneratorConfig
from bot.storage.reports import ReportGenerator, build_reports
from bot.storage.rows import FillRow, us_from_utc
from bot.storage.writer import DatabaseWriter

CSV = Path(__file__).resolve().parents[3] / "data" / "sample" / "my_trades_20250816.csv"
HOUR_US = 3_600_000_000


def load_fills() -> list[FillRow]:
    with open(CSV, encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["is_cancelled"] != "1"]
    fills = [
        FillRow(
            fill_id=int(r["transaction_id"]),
            ts=us_from_utc(datetime.fromisoformat(r["time"])),
            mode="live",
            side=1 if r["side"] == "buy" else -1,
            price=int(r["price"]),
            amount_sat=round(Decimal(r["size"]) * 100_000_000),
        )
        for r in rows
    ]
    return sorted(fills, key=lambda f: (f.ts, f.fill_id))


def hand_round_trips(fills: list[FillRow]) -> list[tuple[int, Decimal]]:
    """(exit time, PnL in JPY) of each flat-to-flat cycle, by summing cash flows."""
    assert {f.amount_sat for f in fills} == {500_000}
    out = []
    units = 0
    cash = 0
    for f in fills:
        units += f.side
        cash -= f.side * f.price
        if units == 0:
            out.append((f.ts, Decimal(cash) / 200))  # 0.005 BTC = 1/200
            cash = 0
    return out


@pytest.fixture
async def fills_db(migrated_db_url: str, tmp_path: Path) -> str:
    async with DatabaseWriter(migrated_db_url, tmp_path / "w.spill") as writer:
        writer.write_many(load_fills())
    return migrated_db_url


def test_the_fixture_csv_is_what_the_hand_numbers_assume() -> None:
    fills = load_fills()
    assert len(fills) == 77
    trips = hand_round_trips(fills)
    pnls = [p for _, p in trips]
    assert len(trips) == 12
    assert sum(pnls) == Decimal("-1300.355")
    assert [p for p in pnls if p > 0] == [Decimal("87.85")]
    assert sum(f.side for f in fills) == -9  # still 0.045 BTC short at the end


async def test_all_time_report_matches_hand_arithmetic(fills_db: str) -> None:
    fills = load_fills()
    end = fills[-1].ts
    conn = await asyncpg.connect(fills_db)
    try:
        (report,) = await build_reports(conn, end, [None], mode="live")
    finally:
        await conn.close()
    m = report.metrics
    pnls = [p for _, p in hand_round_trips(fills)]
    wins = sum(p for p in pnls if p > 0)
    losses = sum(p for p in pnls if p < 0)
    assert m.trades == 12
    assert m.win_rate == pytest.approx(1 / 12)
    assert m.pnl_jpy == Decimal("-1300.355")
    assert m.fees_jpy == 0
    assert losses == Decimal("-1388.205")
    assert m.profit_factor == pytest.approx(float(Decimal("87.85") / Decimal("1388.205")))
    assert m.profit_factor == pytest.approx(float(wins / -losses))
    # Cumulative PnL never rises above its starting 0, so the drawdown is the final loss.
    assert m.max_drawdown_jpy == Decimal("1300.355")
    mean = sum(pnls) / 12
    sd = (sum((p - mean) ** 2 for p in pnls) / 11).sqrt()
    assert m.sharpe == pytest.approx(float(mean / sd), rel=1e-9)


async def test_one_hour_window_counts_only_trips_closed_inside(fills_db: str) -> None:
    fills = load_fills()
    end = fills[-1].ts
    inside = [p for ts, p in hand_round_trips(fills) if ts > end - HOUR_US]
    conn = await asyncpg.connect(fills_db)
    try:
        (hour,) = await build_reports(conn, end, [1], mode="live")
        (nothing,) = await build_reports(conn, end, [1], mode="paper")
    finally:
        await conn.close()
    assert 0 < len(inside) < 12
    assert hour.metrics.trades == len(inside)
    assert hour.metrics.pnl_jpy == sum(inside)
    assert nothing.metrics.trades == 0


async def test_generator_stores_one_row_per_window(fills_db: str, tmp_path: Path) -> None:
    end = load_fills()[-1].ts
    config = ReportGeneratorConfig(interval_minutes=15, windows_hours=(1, 24))
    async with DatabaseWriter(fills_db, tmp_path / "r.spill") as writer:
        await ReportGenerator(fills_db, writer, config, mode="live").report_once(end)
    conn = await asyncpg.connect(fills_db)
    try:
        rows = await conn.fetch(
            "SELECT window_hours, trades, pnl_jpy, max_drawdown_jpy FROM v_performance_latest "
            "ORDER BY window_hours"
        )
    finally:
        await conn.close()
    assert [(r["window_hours"], r["trades"]) for r in rows][1] == (24, 12)
    assert rows[1]["pnl_jpy"] == Decimal("-1300.355")
    assert rows[1]["max_drawdown_jpy"] == Decimal("1300.355")
    assert rows[0]["window_hours"] == 1
