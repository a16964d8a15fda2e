"""The paper bot under faults: each test names what must and must not happen.

The simulator injects the faults over real sockets; nothing of the protocol is mocked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.sim.faults import FaultSpec
from bot.sim.server import ExchangeSimulator
from bot.storage.migrations import migrate
from tests.bot.service.harness import (
    API_KEY,
    API_SECRET,
    ROOT,
    bot_config,
    db_count,
    eager_params,
    informed_market,
    running_bot,
    wait_for,
    write_params,
)
from tests.conftest import start_throwaway_postgres

EAGER = eager_params()


def market(minutes: int, seed: int = 5) -> list:
    return informed_market(minutes, seed)


def assert_books_agree(sim: ExchangeSimulator, bot) -> None:
    """Every fill the exchange made is stored once, nothing open, balances equal."""
    assert sim.venue.open == {}, "an order was left open at the exchange"
    bal = sim.balances
    assert bot.trader.position.btc_sat == bal.btc_sat
    assert bot.trader.position.jpy == bal.jpy


def top(book, n: int = 20):
    return book.top_bids(n), book.top_asks(n)


@pytest.mark.slow
async def test_disconnects_silence_and_http_errors(migrated_db_url, tmp_path) -> None:
    faults = FaultSpec.parse("http500=0.05,http429=0.05")
    sim = ExchangeSimulator(
        market(20), speed=40, api_key=API_KEY, api_secret=API_SECRET, faults=faults, seed=7
    )
    await sim.start()
    try:
        config = bot_config(sim, migrated_db_url, tmp_path)
        write_params(Path(config.params.path), EAGER)
        async with running_bot(config) as bot:
            feed = bot.feed
            await wait_for(lambda: len(bot.trader.round_trips) >= 2, 30, "first trades")
            # Forced disconnect: the feed reconnects and rebuilds the book from a snapshot.
            for _ in range(2):
                connects = feed.connects
                await sim.drop_connections()
                await wait_for(
                    lambda c=connects: feed.connects > c and feed.book_trusted, 15, "reconnect"
                )
            # A silent feed (no frame for longer than stale_feed_seconds) is detected.
            connects = feed.connects
            sim.go_silent(4.5)
            await wait_for(lambda: not bot.health()[0], 6, "health to report the silence")
            await wait_for(
                lambda c=connects: feed.connects > c and feed.book_trusted, 20, "recovery"
            )
            # After the rebuild the bot's book is the exchange's book.
            for _ in range(100):
                if top(feed.book) == top(sim.book):
                    break
                await asyncio.sleep(0.02)
            assert top(feed.book) == top(sim.book)
            trips = len(bot.trader.round_trips)
            await wait_for(lambda: len(bot.trader.round_trips) > trips, 30, "trading to resume")
        assert bot.feed.connects >= 4
        assert bot.executor.rest.retries > 0, "no 500/429 was retried: the faults did not fire"
        assert_books_agree(sim, bot)
        fills = len(sim.venue.transactions)
        assert db_count(migrated_db_url, "SELECT count(*) FROM own_fills") == fills
    finally:
        await sim.stop()


@pytest.mark.slow
async def test_order_timeout_cancels_the_rest(migrated_db_url, tmp_path) -> None:
    # 2 BTC at the ask: more than the synthetic book shows near the touch, so part rests.
    big = EAGER.model_copy(
        update={
            "order_amount": Decimal("2"),
            "order": EAGER.order.model_copy(update={"timeout_seconds": 0.5}),
            "risk": EAGER.risk.model_copy(update={"max_position_ratio": 1.0}),
        }
    )
    sim = ExchangeSimulator(
        market(10), speed=20, api_key=API_KEY, api_secret=API_SECRET, jpy="100000000", btc="3"
    )
    await sim.start()
    try:
        config = bot_config(sim, migrated_db_url, tmp_path)
        write_params(Path(config.params.path), big)
        async with running_bot(config) as bot:
            await wait_for(
                lambda: (
                    db_count(
                        migrated_db_url,
                        "SELECT count(*) FROM order_events WHERE state = 'cancelled'",
                    )
                    > 0
                ),
                30,
                "a timed-out order to be cancelled",
            )
        partial = db_count(
            migrated_db_url,
            "SELECT count(*) FROM order_events WHERE state = 'cancelled' AND reason = 'timeout'",
        )
        assert partial > 0
        assert_books_agree(sim, bot)
    finally:
        await sim.stop()


@pytest.mark.slow
async def test_database_outage_loses_and_doubles_nothing(tmp_path) -> None:
    from tests.bot.storage.conftest import PrivatePostgres

    server, data_dir = start_throwaway_postgres("obi-test-outage-")
    pg = PrivatePostgres(server, data_dir)
    migrate(pg.url)
    sim = ExchangeSimulator(market(20, seed=9), speed=40, api_key=API_KEY, api_secret=API_SECRET)
    await sim.start()
    try:
        config = bot_config(sim, pg.url, tmp_path)
        write_params(Path(config.params.path), EAGER)
        async with running_bot(config) as bot:
            await wait_for(lambda: len(bot.trader.round_trips) >= 1, 30, "first trade")
            await asyncio.to_thread(pg.stop)
            trips = len(bot.trader.round_trips)
            # Trading goes on; rows spill to disk.
            await wait_for(
                lambda: len(bot.trader.round_trips) >= trips + 2, 40, "trading during the outage"
            )
            await wait_for(lambda: bot.writer.spill_rows > 0, 10, "rows to spill")
            assert bot.health()[1]["db_writer"]["spill_rows"] > 0
            await asyncio.to_thread(pg.start)
            await wait_for(
                lambda: bot.writer.spill_rows == 0 and bot.writer.queue_depth < 1000, 30, "replay"
            )
        fills = len(sim.venue.transactions)
        assert db_count(pg.url, "SELECT count(*) FROM own_fills") == fills
        assert db_count(pg.url, "SELECT count(DISTINCT fill_id) FROM own_fills") == fills
        books = db_count(pg.url, "SELECT count(*) FROM market_book_diffs")
        assert books == db_count(pg.url, "SELECT count(DISTINCT id) FROM market_book_diffs")
        assert_books_agree(sim, bot)
    finally:
        await sim.stop()
        pg.start()
        server.cleanup()


@pytest.mark.slow
async def test_kill_9_and_restart_leaves_no_orphan_and_no_lost_fill(
    migrated_db_url, tmp_path
) -> None:
    sim = ExchangeSimulator(market(30, seed=4), speed=30, api_key=API_KEY, api_secret=API_SECRET)
    await sim.start()
    config = bot_config(sim, migrated_db_url, tmp_path, http_port=0)
    write_params(Path(config.params.path), EAGER)
    config_file = tmp_path / "app_config.yaml"
    import yaml

    data = config.model_dump(mode="json")
    data["exchange"]["api_key"] = API_KEY
    data["exchange"]["api_secret"] = API_SECRET
    data["database"]["url"] = migrated_db_url
    config_file.write_text(yaml.safe_dump(data))
    cmd = [sys.executable, "-m", "bot", "run", "--mode", "paper", "--config", str(config_file)]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    log1 = open(tmp_path / "bot1.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log1, stderr=subprocess.STDOUT)
    try:
        # Kill it hard while it has an order at the exchange.
        await wait_for(
            lambda: len(sim.venue.transactions) >= 4 and bool(sim.venue.open), 60, "an open order"
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        fills_at_kill = len(sim.venue.transactions)
        await asyncio.sleep(1.0)  # the market moves on while the bot is dead
        log2 = open(tmp_path / "bot2.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log2, stderr=subprocess.STDOUT)
        await wait_for(
            lambda: len(sim.venue.transactions) >= fills_at_kill + 4, 60, "trading after restart"
        )
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        await sim.stop()
    assert sim.venue.open == {}, "orphan order left at the exchange"
    fills = len(sim.venue.transactions)
    assert db_count(migrated_db_url, "SELECT count(*) FROM own_fills") == fills, (
        tmp_path / "bot2.log"
    ).read_text()[-3000:]
    assert db_count(migrated_db_url, "SELECT count(DISTINCT fill_id) FROM own_fills") == fills
