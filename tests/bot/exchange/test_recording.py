"""Native recordings (.jsonl / .jsonl.gz): write, read back, bad lines, bad headers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from bot.datafile import DataFileError, MarketDataFile, load_market_data
from bot.exchange.recording import (
    FORMAT_NAME,
    RecordingError,
    RecordingWriter,
    is_recording,
    iter_recording,
)
from bot.exchange.wire import encode_book_diff, encode_order_books, encode_trades
from bot.market.events import BookDiff, BookSnapshot, Side, TradePrint
from bot.market.loaders import LoadReport

T0 = 1_754_229_665_000_000

SNAPSHOT = BookSnapshot(
    T0, None, ((16_852_000, 50_000_000), (16_851_000, 1)), ((16_857_000, 3_000_000),)
)
DIFF = BookDiff(T0 + 400_000, 1_754_229_665_000_000, ((16_852_500, 500_000),), ((16_857_000, 0),))
TRADES = [
    TradePrint(T0 + 900_000, 1_754_229_665_000_000, 291_007_088, 16_858_173, 300_000, Side.BUY),
    TradePrint(T0 + 900_000, 1_754_229_665_000_000, 291_007_089, 16_858_100, 500_000, Side.SELL),
]
EXPECTED = [SNAPSHOT, DIFF, *TRADES]


def write_sample(path: Path) -> None:
    with RecordingWriter(path, source="test") as w:
        w.write_snapshot(SNAPSHOT.ts_us, encode_order_books(SNAPSHOT.bids, SNAPSHOT.asks))
        w.write_frame(T0 + 100_000, '{"type":"subscribed"}')  # control frame: no event
        w.write_frame(DIFF.ts_us, encode_book_diff(DIFF))
        w.write_frame(TRADES[0].ts_us, encode_trades(TRADES))


def read(path: Path) -> tuple[list, LoadReport]:
    report = LoadReport(events=[])
    return list(iter_recording(path, report)), report


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_write_then_read_back(tmp_path: Path, name: str) -> None:
    path = tmp_path / "sub" / name
    write_sample(path)
    assert is_recording(path)
    events, report = read(path)
    assert events == EXPECTED
    assert report.rows == 4  # every non-blank record after the header, control frame included
    assert report.malformed == []
    assert load_market_data(path).events == EXPECTED


def test_gz_file_is_really_gzip(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl.gz"
    write_sample(path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        head = json.loads(fh.readline())
    assert head == {"format": FORMAT_NAME, "version": 1, "pair": "btc_jpy", "source": "test"}


def test_raw_frame_is_stored_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    frame = '[ "btc_jpy" , {"bids":[["100.0","1"]],"asks":[]} ]'
    with RecordingWriter(path, source="test") as w:
        w.write_frame(5, frame)
    line = path.read_text(encoding="utf-8").splitlines()[1]
    assert json.loads(line) == {"t": 5, "ws": frame}


def test_bad_lines_counted_with_line_numbers_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    good = json.dumps({"t": DIFF.ts_us, "ws": encode_book_diff(DIFF)})
    lines = [
        json.dumps({"format": FORMAT_NAME, "version": 1}),  # line 1
        good,  # line 2
        "{not json",  # line 3
        "",  # line 4: blank, not a row
        json.dumps({"t": 1}),  # line 5: neither ws nor order_books
        json.dumps({"ws": "[]"}),  # line 6: no t
        json.dumps({"t": 1, "ws": "[]"}),  # line 7: bad frame
        json.dumps({"t": "soon", "ws": encode_book_diff(DIFF)}),  # line 8: bad t
        json.dumps({"t": 1, "order_books": {"bids": []}}),  # line 9: bad snapshot
        json.dumps([1, 2]),  # line 10: not an object
        good,  # line 11
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    events, report = read(path)
    assert events == [DIFF, DIFF]
    assert [m.line for m in report.malformed] == [3, 5, 6, 7, 8, 9, 10]
    assert report.rows == 9


def test_mostly_bad_recording_refused(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    lines = [json.dumps({"format": FORMAT_NAME, "version": 1})] + ["garbage"] * 3
    lines.append(json.dumps({"t": DIFF.ts_us, "ws": encode_book_diff(DIFF)}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="3 of 4 rows are malformed"):
        load_market_data(path)


@pytest.mark.parametrize(
    "header",
    [
        '{"format": "something-else", "version": 1}',
        "not json at all",
        "[1, 2]",
    ],
)
def test_wrong_header_refused(tmp_path: Path, header: str) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text(header + "\n", encoding="utf-8")
    assert not is_recording(path)
    with pytest.raises(RecordingError, match="bad header line"):
        read(path)


def test_unsupported_version_refused(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text(json.dumps({"format": FORMAT_NAME, "version": 2}) + "\n", encoding="utf-8")
    assert is_recording(path)
    with pytest.raises(RecordingError, match="version 2 is not supported"):
        read(path)
    with pytest.raises(DataFileError, match="version 2 is not supported"):
        list(MarketDataFile(path))


def test_truncated_gzip_refused_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl.gz"
    with RecordingWriter(path, source="test") as w:
        for i in range(2000):
            w.write_frame(T0 + i, encode_book_diff(DIFF))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])
    with pytest.raises(DataFileError, match="cannot read recording"):
        list(MarketDataFile(path))


def test_fraction_read_reaches_one(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    write_sample(path)
    data = MarketDataFile(path)
    assert data.fraction_read() == 0.0
    assert list(data) == EXPECTED
    assert data.fraction_read() == 1.0


def test_infinite_level_line_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    lines = [
        json.dumps({"format": FORMAT_NAME, "version": 1}),
        json.dumps({"t": 1, "ws": '["btc_jpy",{"bids":[["inf","1"]],"asks":[]}]'}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    events, report = read(path)
    assert events == []
    assert [m.line for m in report.malformed] == [2]


@pytest.mark.parametrize(
    "frame",
    [
        '[["1","2","btc_jpy","1e999","1","buy","0","0"]]',
        '["btc_jpy",{"bids":[],"asks":[],"last_update_at":"inf"}]',
    ],
)
def test_infinite_number_line_is_malformed_not_a_crash(tmp_path: Path, frame: str) -> None:
    path = tmp_path / "rec.jsonl"
    lines = [
        json.dumps({"format": FORMAT_NAME, "version": 1}),
        json.dumps({"t": 1, "ws": frame}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    events, report = read(path)
    assert events == []
    assert [m.line for m in report.malformed] == [2]
