"""Loader for the original system's export format (CSV, or a ZIP holding one CSV).

Columns `time,event_type,pair,side,price,size,is_snapshot,trade_id`. Book rows of one
WebSocket message share one `time`: consecutive book rows with equal time become one BookDiff.
`is_snapshot` is ignored (that system wrote `true` on diffs). A UTF-8 BOM, timezone offsets and
quoted numbers are normal. Malformed rows are reported with their line numbers and skipped.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.market.events import (
    BookDiff,
    Level,
    MarketEvent,
    Side,
    TradePrint,
    btc_to_sat,
    price_to_int,
)

EXPORT_COLUMNS = ("time", "event_type", "pair", "side", "price", "size", "is_snapshot", "trade_id")
MAX_MALFORMED_SHARE = 0.5


class DataFileError(ValueError):
    """A market data file that cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class Malformed:
    line: int
    reason: str


@dataclass
class LoadReport:
    """What a loader read: events in time order, plus every skipped row and why."""

    events: list[MarketEvent]
    rows: int = 0
    malformed: list[Malformed] = field(default_factory=list)

    def check_usable(self, label: str) -> None:
        """Refuse a file that is mostly garbage rather than backtest on its remnants."""
        bad = len(self.malformed)
        if self.rows == 0:
            raise DataFileError(f"{label}: no data rows")
        if bad / self.rows > MAX_MALFORMED_SHARE:
            first = "; ".join(f"line {m.line}: {m.reason}" for m in self.malformed[:3])
            raise DataFileError(
                f"{label}: {bad} of {self.rows} rows are malformed — is this the right file? "
                f"First problems: {first}"
            )


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def parse_time_us(text: str) -> int:
    ts = datetime.fromisoformat(text.strip())
    if ts.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone offset")
    delta = ts - _EPOCH
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds


def _rows(text_stream: Iterable[str], label: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(text_stream)
    try:
        header = next(reader)
    except StopIteration:
        raise DataFileError(f"{label}: file is empty") from None
    if tuple(h.strip().lower() for h in header) != EXPORT_COLUMNS:
        raise DataFileError(
            f"{label}: not an export file: header is {','.join(header)!r}, expected "
            f"{','.join(EXPORT_COLUMNS)!r} (or use a native .jsonl recording)"
        )
    for row in reader:
        yield reader.line_num, row


def parse_export(text_stream: Iterable[str], label: str) -> LoadReport:
    """Parse export rows into events: book rows grouped per message, one TradePrint per trade."""
    report = LoadReport(events=[])
    pending_ts: int | None = None
    bids: list[Level] = []
    asks: list[Level] = []

    def flush() -> None:
        nonlocal bids, asks, pending_ts
        if pending_ts is not None and (bids or asks):
            report.events.append(BookDiff(pending_ts, None, tuple(bids), tuple(asks)))
        bids, asks, pending_ts = [], [], None

    for line, row in _rows(text_stream, label):
        if not row or all(not c.strip() for c in row):
            continue
        report.rows += 1
        try:
            if len(row) != len(EXPORT_COLUMNS):
                raise ValueError(f"{len(row)} columns, expected {len(EXPORT_COLUMNS)}")
            time_s, kind, pair, side, price_s, size_s, _snap, trade_id = (c.strip() for c in row)
            if pair != "btc_jpy":
                raise ValueError(f"pair {pair!r} is not btc_jpy")
            ts_us = parse_time_us(time_s)
            price = price_to_int(price_s)
            amount = btc_to_sat(size_s)
            if price <= 0 or amount < 0:
                raise ValueError(f"price {price_s} / size {size_s} out of range")
            if kind == "book":
                if side not in ("bid", "ask"):
                    raise ValueError(f"book side {side!r} is not bid/ask")
                if pending_ts is not None and ts_us != pending_ts:
                    flush()
                pending_ts = ts_us
                (bids if side == "bid" else asks).append((price, amount))
            elif kind == "trade":
                if side not in ("buy", "sell"):
                    raise ValueError(f"trade side {side!r} is not buy/sell")
                flush()
                taker = Side.BUY if side == "buy" else Side.SELL
                report.events.append(
                    TradePrint(ts_us, None, int(trade_id or 0), price, amount, taker)
                )
            else:
                raise ValueError(f"event_type {kind!r} is not book/trade")
        except ValueError as exc:
            report.malformed.append(Malformed(line, str(exc)))
    flush()
    return report


def load_export(path: Path) -> LoadReport:
    """Read a CSV export, or the single CSV inside a ZIP export."""
    label = str(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                members = [n for n in zf.namelist() if n.lower().endswith(".csv")]
                if len(members) != 1:
                    raise DataFileError(
                        f"{label}: expected one .csv inside the zip, found {members}"
                    )
                with zf.open(members[0]) as raw:
                    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                    report = parse_export(text, f"{label}:{members[0]}")
        else:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                report = parse_export(fh, label)
    except UnicodeDecodeError:
        raise DataFileError(
            f"{label}: not a UTF-8 text file (expected CSV, ZIP or JSONL)"
        ) from None
    except OSError as exc:
        raise DataFileError(f"{label}: cannot read: {exc.strerror or exc}") from None
    return report
