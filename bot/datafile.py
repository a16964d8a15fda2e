"""Open any supported market data file: a native recording (.jsonl[.gz]) or a CSV/ZIP export."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bot.exchange.recording import RecordingError, is_recording, iter_recording
from bot.market.events import MarketEvent
from bot.market.loaders import DataFileError, LoadReport, load_export

__all__ = ["DataFileError", "LoadReport", "MarketDataFile", "load_market_data"]

_EARLY_CHECK_ROWS = 2000


class MarketDataFile:
    """Events of a data file in time order, streamed for recordings (bounded memory).

    Malformed rows are skipped and listed in `report`; a file that is mostly malformed, of no
    known format, or missing raises DataFileError (recordings: after the first rows, or at
    the end).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataFileError(
                f"{self.path}: no such file (give --data a CSV, ZIP or .jsonl[.gz] file)"
            )
        self.size = os.path.getsize(self.path)
        self.report = LoadReport(events=[])
        self._raw: IO[bytes] | None = None
        self._is_recording = is_recording(self.path)
        if not self._is_recording:
            self.report = load_export(self.path)
            self.report.check_usable(str(self.path))
            self.report.events.sort(key=lambda e: e.ts_us)  # stable: same-time keeps file order

    def fraction_read(self) -> float:
        """How far through the file iteration is (by bytes read from disk)."""
        if not self._is_recording:
            return 1.0
        if self._raw is None or self.size == 0:
            return 0.0
        try:
            return min(1.0, self._raw.tell() / self.size)
        except (OSError, ValueError):
            return 1.0

    def __iter__(self) -> Iterator[MarketEvent]:
        if not self._is_recording:
            yield from self.report.events
            return
        report = self.report
        report.rows = 0
        report.malformed = []
        checked = False
        try:
            with open(self.path, "rb") as raw:
                self._raw = raw
                for event in iter_recording(self.path, report, raw):
                    if not checked and report.rows >= _EARLY_CHECK_ROWS:
                        report.check_usable(str(self.path))
                        checked = True
                    yield event
        except RecordingError as exc:
            raise DataFileError(str(exc)) from None
        except (OSError, EOFError) as exc:
            raise DataFileError(f"{self.path}: cannot read recording: {exc}") from None
        report.check_usable(str(self.path))


def load_market_data(path: str | Path) -> LoadReport:
    """All events of a file in memory (tests, the simulator, small files)."""
    data = MarketDataFile(path)
    if data._is_recording:
        data.report.events = list(data)
    return data.report
