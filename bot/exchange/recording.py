"""The native replay format: raw Coincheck WebSocket frames with their receive times.

JSON lines (gzip when the name ends in .gz). The first line is a header; then one record per
frame: `{"t": <receive time, µs since epoch>, "ws": "<the frame exactly as received>"}`, or a
REST book snapshot taken at (re)connect: `{"t": ..., "order_books": {"bids": [...], "asks": [...]}}`.
Replay parses frames with the same parser the live client uses.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from bot.exchange.wire import WireFormatError, parse_order_books, parse_ws_message
from bot.market.events import MarketEvent
from bot.market.loaders import LoadReport, Malformed

FORMAT_NAME = "obi-scalp-bot/ws-recording"
FORMAT_VERSION = 1


class RecordingError(ValueError):
    """A file that is not a usable recording; the message names the file and the problem."""


def open_text(path: Path, mode: str = "rt", raw: IO[bytes] | None = None) -> IO[str]:
    """Text stream of a recording; `raw` lets a caller watch progress on the underlying file."""
    if path.suffix == ".gz":
        return gzip.open(raw if raw is not None else path, mode, encoding="utf-8")  # type: ignore[return-value]
    if raw is not None:
        return io.TextIOWrapper(raw, encoding="utf-8")
    return open(path, mode.replace("t", "") or "r", encoding="utf-8")


def is_recording(path: Path) -> bool:
    """True when the file starts with this format's header line."""
    try:
        with open_text(path) as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError, EOFError):
        return False
    try:
        head = json.loads(first)
    except ValueError:
        return False
    return isinstance(head, dict) and head.get("format") == FORMAT_NAME


class RecordingWriter:
    """Appends frames to a recording; one header line first."""

    def __init__(self, path: Path, source: str, pair: str = "btc_jpy") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open_text(path, "wt")
        header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "pair": pair, "source": source}
        self._fh.write(json.dumps(header) + "\n")

    def write_frame(self, recv_ts_us: int, raw: str) -> None:
        self._fh.write(json.dumps({"t": recv_ts_us, "ws": raw}, separators=(",", ":")) + "\n")

    def write_snapshot(self, recv_ts_us: int, order_books: dict[str, Any]) -> None:
        rec = {"t": recv_ts_us, "order_books": order_books}
        self._fh.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_recording(
    path: Path, report: LoadReport, raw: IO[bytes] | None = None
) -> Iterator[MarketEvent]:
    """Yield events from a recording; malformed lines are recorded in `report` and skipped."""
    with open_text(path, raw=raw) as fh:
        header = fh.readline()
        try:
            head = json.loads(header)
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("format") != FORMAT_NAME:
            raise RecordingError(f"{path}: not a {FORMAT_NAME} file (bad header line)")
        if head.get("version") != FORMAT_VERSION:
            raise RecordingError(
                f"{path}: recording version {head.get('version')} is not supported "
                f"(this build reads version {FORMAT_VERSION})"
            )
        for lineno, line in enumerate(fh, start=2):
            if not line.strip():
                continue
            report.rows += 1
            try:
                rec = json.loads(line)
                t = int(rec["t"])
                if "ws" in rec:
                    parsed = parse_ws_message(rec["ws"], t)
                    if parsed is None:
                        continue
                    if isinstance(parsed, list):
                        yield from parsed
                    else:
                        yield parsed
                elif "order_books" in rec:
                    yield parse_order_books(rec["order_books"], t)
                else:
                    raise WireFormatError("record has neither 'ws' nor 'order_books'")
            except (ValueError, KeyError, TypeError) as exc:
                report.malformed.append(Malformed(lineno, f"{type(exc).__name__}: {exc}"))
