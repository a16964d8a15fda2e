"""The drawdown halt, persisted so a restart does not resume trading until an operator clears it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


class HaltState:
    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / "halt.json"

    def read(self) -> str | None:
        """The reason trading is halted, or None."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return f"halt file {self.path} is unreadable: treated as halted; inspect and clear it"
        return str(data.get("reason") or "halted")

    def set(self, reason: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"reason": reason, "since": time.time()}), encoding="utf-8")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def clear(self) -> bool:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True
