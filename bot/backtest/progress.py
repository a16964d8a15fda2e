"""A terminal progress bar that appears only on runs longer than a couple of seconds."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    """Redraws one stderr line; silent when stderr is not a terminal or the run is short."""

    def __init__(
        self,
        fraction: Callable[[], float],
        label: str = "replay",
        stream: TextIO | None = None,
        delay_seconds: float = 2.0,
    ) -> None:
        self._fraction = fraction
        self._label = label
        self._stream = stream or sys.stderr
        self._start = time.monotonic()
        self._delay = delay_seconds
        self._shown = False
        self._enabled = self._stream.isatty()

    def update(self, events: int) -> None:
        if not self._enabled:
            return
        elapsed = time.monotonic() - self._start
        if elapsed < self._delay:
            return
        frac = max(0.0, min(1.0, self._fraction()))
        width = 30
        filled = int(frac * width)
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        rate = events / elapsed
        self._stream.write(
            f"\r{self._label} [{'#' * filled}{'.' * (width - filled)}] {frac:6.1%} "
            f"{events:,} msgs {rate:,.0f}/s ETA {eta:4.0f}s"
        )
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()
