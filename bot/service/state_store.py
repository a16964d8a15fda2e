"""What the bot must remember across a crash: its open lots, its orders, the fills it booked.

Written atomically (temp file, fsync, rename) after every order and fill change, so a kill -9
at any moment leaves either the old or the new state. On restart the executor cancels every
open order, books the fills of remembered orders that arrived while it was down, and trades on.
"""

from __future__ import annotations

import json
import os
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

    def save(self, position: Position, orders: Iterable[LiveOrder], seen_tx: Iterable[int]) -> None:
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
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
