"""Paper bot vs `simulate` on the same file: the same trades.

The simulator starts replaying once the bot is connected, at real time (the bot's clock is its
receive time, so indicator windows, holds and order timeouts only span the same market
moments at ×1). Orders reach the simulator within a few milliseconds, well inside the gap to
the next market event, which is what the backtester's zero-latency model assumes; fills are
learned at once after each order and by polling every 20 ms. Fills must then agree on side,
price and size, in order. Receive times differ from the recorded ones by a millisecond or
two (more on a loaded machine), so an event that falls that close to a window's edge may tip
one decision and the paths part from there; on the long synthetic run the test therefore
demands that the first 20 fills — taker partials, resting maker fills, TP and SL exits — agree
exactly (on an idle machine all 82 usually do), and every fill on the real sample.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backtest.runner import run_backtest
from bot.config import AccountConfig, load_param_template
from bot.datafile import load_market_data
from bot.market.synthetic import SynthConfig, SyntheticMarket, parse_regime_spec
from bot.sim.server import ExchangeSimulator
from tests.bot.service.harness import (
    API_KEY,
    API_SECRET,
    bot_config,
    running_bot,
    wait_for,
    write_params,
)

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = load_param_template(ROOT / "config/trade_config.yaml.template")


async def paper_fills(events, params, db_url, tmp_path, speed: float):
    sim = ExchangeSimulator(
        events, speed=speed, api_key=API_KEY, api_secret=API_SECRET, autoplay=False
    )
    await sim.start()
    try:
        # Quiet spells in the data must not look like a dead feed (a rebuild is an extra event).
        config = bot_config(sim, db_url, tmp_path, stale_feed_seconds=60)
        write_params(Path(config.params.path), params)
        async with running_bot(config) as bot:
            # The replay starts once the bot is connected, so it sees every event from the first.
            await wait_for(
                lambda: bot.feed is not None and bot.feed.state.value == "live", 20, "feed"
            )
            sim.play()
            await wait_for(lambda: sim.replay_done.is_set(), 120, "the replay to finish")
    finally:
        await sim.stop()
    return [(int(t.side), t.rate, t.amount_sat) for t in sim.venue.transactions]


def backtest_fills(events, params):
    result = run_backtest(events, params, AccountConfig())
    return [(int(f.side), f.price, f.amount_sat) for f in result.fills]


@pytest.mark.slow
async def test_paper_equals_simulate_on_real_data(migrated_db_url, tmp_path) -> None:
    events = load_market_data(ROOT / "data/sample/order_book_updates_20250803-140150.csv").events
    params = TEMPLATE.build(
        {
            "signal.composite_threshold": 0.2,
            "signal.hold_duration_ms": 0,
            "long.tp": 500, "long.sl": -500, "short.tp": 500, "short.sl": -500,
            "latency.order_ms": 0,
            "order.poll_interval_ms": 20,
        }
    )  # fmt: skip
    expected = backtest_fills(events, params)
    assert len(expected) >= 3
    assert await paper_fills(events, params, migrated_db_url, tmp_path, speed=1) == expected


@pytest.mark.slow
async def test_paper_equals_simulate_on_synthetic_data(migrated_db_url, tmp_path) -> None:
    spec = parse_regime_spec("informed:80s")
    events = list(SyntheticMarket(SynthConfig(seed=21, hours=80 / 3600, regimes=spec)).events())
    params = TEMPLATE.build(
        {
            "signal.composite_threshold": 0.3,
            "signal.hold_duration_ms": 0,
            "spread_limit": 30000,
            "long.tp": 1500, "long.sl": -1500, "short.tp": 1500, "short.sl": -1500,
            "latency.order_ms": 0,
            "order.poll_interval_ms": 20,
        }
    )  # fmt: skip
    expected = backtest_fills(events, params)
    assert len(expected) >= 20  # partial taker fills, resting maker fills, TP and SL exits
    paper = await paper_fills(events, params, migrated_db_url, tmp_path, speed=1)
    same = next((i for i, (a, b) in enumerate(zip(paper, expected, strict=False)) if a != b), None)
    same = min(len(paper), len(expected)) if same is None else same
    assert same >= 20, (
        f"paper and simulate diverge at fill {same} of {len(expected)}: "
        f"{paper[same : same + 2]} vs {expected[same : same + 2]}"
    )
