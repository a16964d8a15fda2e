"""Stored market data -> a native recording that `simulate` and the optimizer replay.

Frames are re-encoded with the wire encoder (one trades frame per run of trades received in the
same microsecond), so replaying the export yields the same events as the stored ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.exchange.recording import RecordingWriter
from bot.exchange.wire import encode_book_diff, encode_order_books, encode_trades
from bot.market.events import BookDiff, BookSnapshot, TradePrint
from bot.storage.queries import iter_market_events


@dataclass(frozen=True, slots=True)
class ExportSummary:
    path: Path
    book_diffs: int
    snapshots: int
    trades: int
    first_ts_us: int | None
    last_ts_us: int | None

    @property
    def events(self) -> int:
        return self.book_diffs + self.snapshots + self.trades


async def export_recording(
    conn: asyncpg.Connection, start_us: int, end_us: int, out: Path
) -> ExportSummary:
    """Write market data with start <= receive time < end to `out` (gzip if it ends in .gz)."""
    diffs = snapshots = trades = 0
    first: int | None = None
    last: int | None = None
    pending: list[TradePrint] = []

    with RecordingWriter(out, source="db-export") as rec:

        def flush_trades() -> None:
            if pending:
                rec.write_frame(pending[0].ts_us, encode_trades(pending))
                pending.clear()

        async for event in iter_market_events(conn, start_us, end_us):
            first = event.ts_us if first is None else first
            last = event.ts_us
            if isinstance(event, TradePrint):
                if pending and pending[0].ts_us != event.ts_us:
                    flush_trades()
                pending.append(event)
                trades += 1
                continue
            flush_trades()
            if isinstance(event, BookSnapshot):
                rec.write_snapshot(event.ts_us, encode_order_books(event.bids, event.asks))
                snapshots += 1
            elif isinstance(event, BookDiff):
                rec.write_frame(event.ts_us, encode_book_diff(event))
                diffs += 1
        flush_trades()
    return ExportSummary(out, diffs, snapshots, trades, first, last)
