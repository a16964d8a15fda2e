"""The simulator replaying a synthetic market file, with a client trading on it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from bot.datafile import load_market_data
from bot.exchange.auth import Credentials
from bot.exchange.feed import CoincheckFeed
from bot.exchange.rest import CoincheckRest
from bot.sim.server import ExchangeSimulator

ROOT = Path(__file__).resolve().parents[3]


async def test_replay_synthetic_file_trade_and_balances_add_up(tmp_path: Path) -> None:
    path = tmp_path / "syn.jsonl.gz"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "synth",
            "--hours",
            "0.05",
            "--seed",
            "3",
            "--out",
            str(path),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    events = load_market_data(path).events
    sim = ExchangeSimulator(events, speed=200.0, btc="0.05", jpy="2000000")
    async with sim, CoincheckRest(sim.rest_url, Credentials("sim-key", "sim-secret")) as rest:
        feed = CoincheckFeed(sim.ws_url, rest, backoff_base=0.01)
        task = asyncio.create_task(feed.run())
        await feed.wait_live(5)
        placed = 0
        while not sim.replay_done.is_set():
            bid, ask = feed.book.best_bid, feed.book.best_ask
            if bid and ask and placed < 6:
                # Alternate resting bids and asks one tick inside the spread.
                if placed % 2 == 0:
                    await rest.create_order("buy", rate=bid + 1, amount_sat=500_000)
                else:
                    await rest.create_order("sell", rate=ask - 1, amount_sat=500_000)
                placed += 1
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert feed.book.top_bids(50) == sim.book.top_bids(50)
        assert feed.book.top_asks(50) == sim.book.top_asks(50)
        txs = await rest.transactions()
        bal = await rest.balance()
        await feed.stop()
        await task
    assert placed == 6
    # Balances move by exactly the fills' funds minus fees (no float drift).
    jpy = Decimal("2000000") + sum((t.funds_jpy - t.fee for t in txs), Decimal(0))
    btc = Decimal("0.05") + sum((t.funds_btc for t in txs), Decimal(0))
    assert bal.jpy + bal.jpy_reserved == jpy
    assert bal.btc + bal.btc_reserved == btc
    assert len(txs) == len(sim.venue.transactions) > 0
