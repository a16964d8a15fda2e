"""Market clock: exact arithmetic, and the simulator publishing its replay clock over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime

import httpx
import pytest
from aiohttp import web

from bot.clock import (
    WALL_CLOCK,
    ClockError,
    MarketClock,
    fetch_simulator_clock,
    replay_clock,
)
from bot.market.events import BookSnapshot, Side, TradePrint
from bot.sim.server import ExchangeSimulator
from bot.storage.rows import us_from_utc


def test_wall_clock_is_the_epoch_in_microseconds() -> None:
    before = time.time_ns() // 1000
    now = WALL_CLOCK.now_us()
    assert before <= now <= time.time_ns() // 1000
    assert WALL_CLOCK.is_wall
    assert WALL_CLOCK.market_us(1_754_179_200_123_456_789) == 1_754_179_200_123_456
    assert WALL_CLOCK.wall_seconds(2.5) == 2.5


def test_replay_clock_runs_speed_times_faster_and_inverts_exactly() -> None:
    # Origin 2025-08-03T00:00:00Z at wall 1_000 s; ×60.
    clock = MarketClock(1_754_179_200_000_000, 1_000_000_000_000, 60.0)
    assert not clock.is_wall
    # One wall second later the market is one minute on.
    assert clock.market_us(1_001_000_000_000) == 1_754_179_260_000_000
    # 250 ms of wall = 15 s of market.
    assert clock.market_us(1_000_250_000_000) == 1_754_179_215_000_000
    assert clock.wall_ns(1_754_179_215_000_000) == 1_000_250_000_000
    assert clock.wall_seconds(60.0) == 1.0
    for wall_ns in (1_000_000_000_000, 1_000_123_456_789, 1_003_600_000_001):
        assert abs(clock.wall_ns(clock.market_us(wall_ns)) - wall_ns) < 1000 / 60 + 1


def test_replay_clock_starts_now_or_at_the_origin_given() -> None:
    now = time.time_ns() // 1000
    clock = replay_clock(30)
    assert abs(clock.origin_us - now) < 1_000_000
    assert replay_clock(30, 1_700_000_000_000_000).origin_us == 1_700_000_000_000_000
    with pytest.raises(ValueError, match="must be positive"):
        replay_clock(0)


async def test_simulator_publishes_and_stamps_with_its_replay_clock() -> None:
    origin = 1_754_179_200_000_000
    snap = BookSnapshot(0, 0, ((16_000_000, 10_000_000),), ((16_001_000, 10_000_000),))
    trade = TradePrint(1_000, 1_000, 7, 16_001_000, 1_000_000, Side.BUY)
    sim = ExchangeSimulator(
        [snap, trade], autoplay=False, clock=replay_clock(120, origin), api_key="k"
    )
    async with sim:
        clock = await asyncio.to_thread(fetch_simulator_clock, sim.rest_url)
        assert clock == sim.clock
        assert clock.speed == 120
        # Within a second of wall time the market is at most two minutes past the origin.
        assert origin <= clock.now_us() < origin + 121_000_000
        await sim.advance(2)
        async with httpx.AsyncClient() as client:
            trades = (await client.get(f"{sim.rest_url}/api/trades")).json()["data"]
        stamped = datetime.fromisoformat(trades[0]["created_at"].replace("Z", "+00:00"))
        assert origin <= us_from_utc(stamped) < origin + 121_000_000


async def test_fetching_a_clock_from_a_real_exchange_names_the_fix() -> None:
    """An endpoint without /sim/clock (like coincheck.com) is refused with what to set."""
    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        with pytest.raises(ClockError, match=r"HTTP 404.*exchange.clock: wall"):
            await asyncio.to_thread(fetch_simulator_clock, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()


def test_fetching_from_nowhere_names_the_url() -> None:
    with pytest.raises(ClockError, match=r"http://127.0.0.1:9/sim/clock"):
        fetch_simulator_clock("http://127.0.0.1:9", timeout=1)


def test_a_reply_that_is_not_a_clock_is_refused() -> None:
    with pytest.raises(ClockError, match="not a replay clock"):
        MarketClock.from_json({"speed": "fast"}, "http://x/sim/clock")
    with pytest.raises(ClockError, match="must be positive"):
        MarketClock.from_json(
            json.loads('{"speed": 0, "origin_us": 1, "wall_origin_us": 1}'), "http://x/sim/clock"
        )
