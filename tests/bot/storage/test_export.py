"""Recording -> database -> export -> replay gives back exactly the same events."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from bot.exchange.recording import LoadReport, RecordingWriter, iter_recording
from bot.exchange.wire import encode_book_diff, encode_order_books, encode_trades
from bot.market.events import BookDiff, MarketEvent, Side, TradePrint
from bot.storage.export import export_recording
from bot.storage.rows import MarketSequence, market_event_row
from bot.storage.writer import DatabaseWriter

T0 = 1_754_200_000_000_000  # 2025-08-03 05:46:40 UTC


def _original_recording(path: Path) -> None:
    """A small recording: a snapshot, diffs (some sharing a µs with trades), trade frames."""
    with RecordingWriter(path, source="test") as rec:
        rec.write_snapshot(
            T0,
            encode_order_books(
                [(17_000_000, 1_000_000), (16_999_000, 3_500_000)],
                [(17_000_500, 2_000_000), (17_001_000, 12_345_678)],
            ),
        )
        for i in range(1, 40):
            ts = T0 + i * 137_911
            diff = BookDiff(
                ts_us=ts,
                exchange_ts_us=(ts // 1_000_000 - 1) * 1_000_000,
                bids=((17_000_000 - i, 100_000 * i), (16_999_000, 0)),
                asks=((17_000_500 + i, 1),) if i % 3 else (),
            )
            rec.write_frame(ts, encode_book_diff(diff))
            if i % 4 == 0:
                trades = [
                    TradePrint(
                        ts,
                        ts // 1_000_000 * 1_000_000,
                        900 + i * 10 + k,
                        17_000_200 + k,
                        500_000 * (k + 1),
                        Side.BUY if k % 2 else Side.SELL,
                    )
                    for k in range(1 + i % 3)
                ]
                rec.write_frame(ts, encode_trades(trades))  # same µs as the diff before it


def _events(path: Path) -> list[MarketEvent]:
    report = LoadReport(events=[])
    events = list(iter_recording(path, report))
    assert not report.malformed
    return events


async def test_export_replays_the_same_events(migrated_db_url: str, tmp_path: Path) -> None:
    original = tmp_path / "original.jsonl"
    _original_recording(original)
    events = _events(original)
    assert sum(isinstance(e, TradePrint) for e in events) >= 15

    ids = MarketSequence()
    async with DatabaseWriter(migrated_db_url, tmp_path / "w.spill") as writer:
        for e in events:
            writer.write(market_event_row(e, ids.next(e.ts_us)))

    out = tmp_path / "export.jsonl.gz"
    conn = await asyncpg.connect(migrated_db_url)
    try:
        summary = await export_recording(conn, T0, T0 + 3_600_000_000, out)
        await export_recording(conn, T0 + 1, T0 + 10 * 137_911, tmp_path / "w.jsonl")
    finally:
        await conn.close()

    assert summary.events == len(events)
    assert summary.snapshots == 1
    assert _events(out) == events
    # The time window is half-open on receive time: the snapshot at T0 is left out.
    assert _events(tmp_path / "w.jsonl") == [
        e for e in events if T0 + 1 <= e.ts_us < T0 + 10 * 137_911
    ]
