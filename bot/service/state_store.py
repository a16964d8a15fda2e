"""What the bot must remember across a crash: its open lots, its orders, the fills it booked.

Saved after every order and fill change; a background thread writes the newest snapshot
atomically (temp file, fsync, rename), so the event loop never waits for the disk and a kill -9
at any moment leaves either an older or the newest state, never a torn one. A snapshot the
thread had not written yet is no loss: on restart the executor cancels every open order and
books, from the exchange's own transaction list, every fill of ours it had not booked.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from bot.market.events import Side
from bot.trading.position import Position
from bot.trading.trader import PlaceOrder, Purpose

if TYPE_CHECKING:
    from bot.service.executor import LiveOrder

MAX_SEEN_TX = 5000
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RememberedOrder:
    client_id: int
    order: PlaceOrder


@dataclass(frozen=True)
class SavedState:
    lots: list[tuple[int, int]]
    side: Side | None
    realized_jpy: Decimal
    fees_jpy: Decimal
    orders: dict[int, RememberedOrder]  # exchange order id -> order
    seen_tx: list[int]


class StateStore:
    def __init__(self, state_dir: str | Path, venue: str = "") -> None:
        # One file per mode and exchange: paper state must never be restored against live.
        name = f"trading_state-{venue}.json" if venue else "trading_state.json"
        self.path = Path(state_dir) / name
        self._cond = threading.Condition()
        self._pending: bytes | None = None
        self._writing = False
        self._thread: threading.Thread | None = None
        self.writes = 0

    def save(self, position: Position, orders: Iterable[LiveOrder], seen_tx: Iterable[int]) -> None:
        """Snapshot now (cheap); the file is written in the background, newest snapshot wins."""
        data = {
            "lots": position.open_lots(),
            "side": int(position.side) if position.side is not None else None,
            "realized_jpy": str(position.realized_jpy),
            "fees_jpy": str(position.fees_jpy),
            "orders": [
                {
                    "exchange_id": lo.exchange_id,
                    "client_id": lo.client_id,
                    "side": int(lo.order.side),
                    "price": lo.order.price,
                    "amount_sat": lo.order.amount_sat,
                    "purpose": lo.order.purpose.value,
                    "ts_us": lo.order.ts_us,
                }
                for lo in orders
                if lo.exchange_id is not None
            ],
            "seen_tx": sorted(seen_tx)[-MAX_SEEN_TX:],
        }
        with self._cond:
            self._pending = json.dumps(data).encode()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._write_loop, name="state-writer", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the newest snapshot is on disk; False if that took longer than timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._pending is None and not self._writing, timeout=timeout
            )

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None)
                data, self._pending = self._pending, None
                self._writing = True
            try:
                assert data is not None
                self._write(data)
            except OSError as exc:  # the next snapshot tries again; the exchange is the truth
                _log.error("cannot write trading state %s: %s", self.path, exc)
            finally:
                with self._cond:
                    self._writing = False
                    self.writes += 1
                    self._cond.notify_all()

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def load(self) -> SavedState | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        orders = {}
        for o in data.get("orders", []):
            order = PlaceOrder(
                int(o["client_id"]), Side(int(o["side"])), int(o["price"]), int(o["amount_sat"]),
                Purpose(o["purpose"]), int(o["ts_us"]),
            )  # fmt: skip
            orders[int(o["exchange_id"])] = RememberedOrder(int(o["client_id"]), order)
        side = data.get("side")
        return SavedState(
            lots=[(int(p), int(q)) for p, q in data.get("lots", [])],
            side=Side(side) if side is not None else None,
            realized_jpy=Decimal(data.get("realized_jpy", "0")),
            fees_jpy=Decimal(data.get("fees_jpy", "0")),
            orders=orders,
            seen_tx=[int(x) for x in data.get("seen_tx", [])],
        )
