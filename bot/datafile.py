"""Open any supported market data file: a native recording (.jsonl[.gz]) or a CSV/ZIP export."""

from __future__ import annotations

from pathlib import Path

from bot.exchange.recording import RecordingError, is_recording, iter_recording
from bot.market.loaders import DataFileError, LoadReport, load_export

__all__ = ["DataFileError", "LoadReport", "load_market_data"]


def load_market_data(path: str | Path) -> LoadReport:
    """Events of a data file in time order; malformed rows are skipped and listed in the report.

    Raises DataFileError for a missing file, an unknown format, or a mostly malformed file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file (give --data a CSV, ZIP or .jsonl[.gz] file)")
    if is_recording(path):
        report = LoadReport(events=[])
        try:
            report.events.extend(iter_recording(path, report))
        except RecordingError as exc:
            raise DataFileError(str(exc)) from None
        except (OSError, EOFError) as exc:
            raise DataFileError(f"{path}: cannot read recording: {exc}") from None
    else:
        report = load_export(path)
    report.check_usable(str(path))
    report.events.sort(key=lambda e: e.ts_us)  # stable: same-time events keep file order
    return report
