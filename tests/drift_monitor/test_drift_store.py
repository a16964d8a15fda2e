"""The drift monitor's queries (bot/storage/drift_store.py) on hand-made rows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
from drift_history import NOW, NOW_US, History

from bot.storage.drift_store import (
    fetch_fills_since_flat,
    fetch_market_buckets,
    last_fill_us,
)
from bot.storage.reports import round_trips

HOUR_US = 3_600_000_000


async def test_fills_start_at_the_last_flat_point_before_the_window(
    conn: asyncpg.Connection, history: History
) -> None:
    # Trip A: closed 10 h ago (flat afterwards). Trip B: bought 3 h ago at 10,000,000 and
    # sold 1 h ago at 10,000,700 — opened before a 2 h window, closed inside it.
    await history.round_trips([500], [NOW - timedelta(hours=10)])
    await conn.execute(
        "INSERT INTO own_fills (fill_id, ts, mode, side, price, amount_sat) VALUES "
        "(100, $1, 'paper', 1, 10000000, 100000000), (101, $2, 'paper', -1, 10000700, 100000000),"
        "(102, $2, 'live', 1, 1, 1)",
        NOW - timedelta(hours=3),
        NOW - timedelta(hours=1),
    )

    fills = await fetch_fills_since_flat(conn, "paper", NOW_US - 2 * HOUR_US, NOW_US)

    assert [f.fill_id for f in fills] == [100, 101]  # A is left out, B keeps its entry
    [trip] = round_trips(fills)
    assert trip.pnl_jpy == Decimal(700)

    # Never flat before the window: everything from the start.
    everything = await fetch_fills_since_flat(conn, "paper", NOW_US - 20 * HOUR_US, NOW_US)
    assert [f.fill_id for f in everything] == [1, 2, 100, 101]
    assert await last_fill_us(conn, "paper", NOW_US) == NOW_US - HOUR_US
    assert await last_fill_us(conn, "backtest", NOW_US) is None


async def test_market_buckets_count_and_average_per_taker_side(
    conn: asyncpg.Connection, history: History
) -> None:
    # Two 10 s buckets of the steady market: sells at 9,999,500 then buys at 10,000,500;
    # then sells at 10,000,500 and buys at 10,001,500 (the mid alternates).
    await history.market(NOW - timedelta(seconds=20), NOW, trades_per_side=(2, 1))

    buckets = await fetch_market_buckets(conn, NOW_US - 20_000_000, NOW_US, 10)

    assert [(b.start_us, b.trades, b.last_price) for b in buckets] == [
        (NOW_US - 20_000_000, 3, 10_000_500),
        (NOW_US - 10_000_000, 3, 10_001_500),
    ]
    assert (buckets[0].taker_sell_avg, buckets[0].taker_buy_avg) == (9_999_500.0, 10_000_500.0)
