"""The trading state: written off the event loop, newest snapshot wins, read back exactly."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from bot.market.events import Side
from bot.service.executor import LiveExecutor, LiveOrder
from bot.service.state_store import StateStore
from bot.trading.position import Position
from bot.trading.trader import PlaceOrder, Purpose


def test_snapshots_are_written_in_the_background_and_the_newest_wins(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state", "paper-test")
    position = Position(Decimal("1000000"), 0)
    order = LiveOrder(7, PlaceOrder(7, Side.BUY, 16_000_000, 500_000, Purpose.ENTRY, 1), 901)
    for i in range(200):
        store.save(position, [order], range(i + 1))
    assert store.flush(5.0)
    assert 1 <= store.writes <= 200  # coalesced: a burst of saves is a few writes
    saved = store.load()
    assert saved is not None
    assert saved.seen_tx == list(range(200))
    assert saved.orders[901].order.price == 16_000_000 and saved.orders[901].client_id == 7
    assert json.loads(store.path.read_text())["realized_jpy"] == "0"
    assert not store.path.with_suffix(".tmp").exists()


def test_flush_without_saves_returns_at_once(tmp_path: Path) -> None:
    assert StateStore(tmp_path, "x").flush(0.1)


def test_booked_transaction_ids_below_the_listed_window_are_forgotten() -> None:
    """The set stays bounded on a bot that runs for months (was: every id ever seen)."""
    executor = LiveExecutor.__new__(LiveExecutor)  # only the bookkeeping under test
    executor._seen_tx = set(range(1, 1001))
    executor._forget_older_than(901)  # the exchange now lists ids 901..1000 and newer
    assert executor._seen_tx == set(range(901, 1001))
    executor._forget_older_than(None)  # an empty reply forgets nothing
    assert len(executor._seen_tx) == 100
