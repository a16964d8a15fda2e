"""The paper bot against the simulator: trades, records everything, reloads, stops cleanly.

Real sockets (REST + WebSocket on loopback), a real PostgreSQL, the real strategy core.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sim.server import ExchangeSimulator
from tests.bot.service.harness import (
    API_KEY,
    API_SECRET,
    bot_config,
    db_count,
    eager_params,
    get_json,
    informed_market,
    running_bot,
    wait_for,
    write_params,
)

EAGER = eager_params()


def market(minutes: int, seed: int = 3) -> list:
    return informed_market(minutes, seed)


@pytest.mark.slow
async def test_paper_bot_trades_records_reloads_and_stops_clean(migrated_db_url, tmp_path) -> None:
    sim = ExchangeSimulator(market(15), speed=40, api_key=API_KEY, api_secret=API_SECRET)
    await sim.start()
    try:
        config = bot_config(sim, migrated_db_url, tmp_path)
        params_path = Path(config.params.path)
        write_params(params_path, EAGER)
        async with running_bot(config) as bot:
            port = bot.http.port
            await wait_for(lambda: len(bot.trader.round_trips) >= 3, 30, "three round trips")
            status, health = await get_json(port, "/health")
            assert status == 200, health
            assert health["status"] == "ok" and health["book"]["trusted"]
            assert health["params_source"] == "manual"
            _, metrics = await get_json(port, "/metrics")
            assert 'bot_events_processed_total{kind="book"}' in metrics
            assert "bot_tick_to_order_seconds_bucket" in metrics

            # A half-written file is refused and the running parameters stay.
            before = bot.params_version.checksum
            params_path.write_text("signal:\n  composite_threshold: [")
            await wait_for(
                lambda: bot.metrics.reloads.labels("rejected")._value.get() >= 1, 5, "rejection"
            )
            assert bot.params_version.checksum == before
            # A valid new version is applied between two events.
            write_params(params_path, EAGER.model_copy(update={"spread_limit": 25000}))
            await wait_for(lambda: bot.params_version.checksum != before, 5, "reload")
            assert bot.trader.params.spread_limit == 25000
            await wait_for(lambda: len(bot.trader.round_trips) >= 5, 30, "five round trips")
        # Stopped: nothing left open at the exchange, every fill stored exactly once.
        assert sim.venue.open == {}
        sim_fills = len(sim.venue.transactions)
        assert sim_fills > 0
        assert db_count(migrated_db_url, "SELECT count(*) FROM own_fills") == sim_fills
        assert (
            db_count(migrated_db_url, "SELECT count(DISTINCT fill_id) FROM own_fills") == sim_fills
        )
        # The bot's books agree with the exchange's to the satoshi and the yen.
        bal = sim.balances
        assert bot.trader.position.btc_sat == bal.btc_sat
        assert bot.trader.position.jpy == bal.jpy
        assert db_count(migrated_db_url, "SELECT count(*) FROM parameter_versions") == 2
        assert (
            db_count(migrated_db_url, "SELECT count(*) FROM order_events WHERE state = 'filled'")
            > 0
        )
        assert db_count(migrated_db_url, "SELECT count(*) FROM market_book_diffs") > 100
        assert db_count(migrated_db_url, "SELECT count(*) FROM benchmark_prices") > 0
        assert (
            db_count(
                migrated_db_url, "SELECT count(*) FROM latency_samples WHERE kind = 'tick_to_order'"
            )
            > 0
        )
    finally:
        await sim.stop()
