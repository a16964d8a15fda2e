"""Export loader (CSV/ZIP) on the real sample and on broken files; MarketDataFile refusals."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.datafile import DataFileError, MarketDataFile, load_market_data
from bot.market.events import BookDiff, Side, TradePrint
from bot.market.loaders import load_export, parse_export

ROOT = Path(__file__).resolve().parents[3]
SAMPLE_CSV = ROOT / "data/sample/order_book_updates_20250803-140150.csv"
SAMPLE_ZIP = ROOT / "data/sample/order_book_updates_20250803-140150.zip"
HEADER = "time,event_type,pair,side,price,size,is_snapshot,trade_id\n"


def us(*args: int) -> int:
    """Microseconds since the epoch of a UTC datetime, computed without fromisoformat."""
    dt = datetime(*args[:6], tzinfo=UTC)  # type: ignore[misc]
    micro = args[6] if len(args) > 6 else 0
    return int(dt.timestamp()) * 1_000_000 + micro


def parse(body: str):
    return parse_export(io.StringIO(HEADER + body, newline=""), "t.csv")


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- real sample
def test_sample_csv_counts_and_the_trade() -> None:
    report = load_export(SAMPLE_CSV)
    assert report.rows == 1241
    assert report.malformed == []
    trades = [e for e in report.events if isinstance(e, TradePrint)]
    diffs = [e for e in report.events if isinstance(e, BookDiff)]
    assert sum(len(d.bids) + len(d.asks) for d in diffs) == 1240
    assert trades == [
        TradePrint(
            ts_us=us(2025, 8, 3, 14, 1, 30, 478241),
            exchange_ts_us=None,
            trade_id=291007088,
            price=16_858_173,
            amount_sat=300_000,
            taker_side=Side.BUY,
        )
    ]
    assert trades[0].ts_us == 1_754_229_690_478_241


def test_sample_rows_of_one_time_form_one_diff_in_file_order() -> None:
    with open(SAMPLE_CSV, encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["event_type"] == "book"]
    distinct_times = list(dict.fromkeys(r["time"] for r in rows))
    diffs = [e for e in load_export(SAMPLE_CSV).events if isinstance(e, BookDiff)]
    assert len(diffs) == len(distinct_times) == 112
    # first message: 2025-08-03 14:01:05.12764 UTC, levels in file order per side
    first_rows = [r for r in rows if r["time"] == distinct_times[0]]
    first = diffs[0]
    assert first.ts_us == us(2025, 8, 3, 14, 1, 5, 127640)
    assert first.exchange_ts_us is None
    expect_asks = [
        (round(float(r["price"])), round(float(r["size"]) * 1e8))
        for r in first_rows
        if r["side"] == "ask"
    ]
    assert list(first.asks) == expect_asks
    assert first.asks[:4] == (
        (16_857_500, 0),
        (16_857_650, 0),
        (16_860_587, 0),
        (16_857_387, 3_000_000),
    )
    assert len(first.bids) + len(first.asks) == len(first_rows)
    # events are in time order and each diff has its own time
    times = [e.ts_us for e in load_export(SAMPLE_CSV).events]
    assert times == sorted(times)
    assert len({d.ts_us for d in diffs}) == len(diffs)


def test_sample_zip_equals_csv() -> None:
    csv_report = load_export(SAMPLE_CSV)
    zip_report = load_export(SAMPLE_ZIP)
    assert zip_report.events == csv_report.events
    assert zip_report.rows == csv_report.rows == 1241


def test_load_market_data_on_sample_csv_and_zip() -> None:
    a = load_market_data(SAMPLE_CSV)
    b = load_market_data(SAMPLE_ZIP)
    assert len(a.events) == len(b.events) == 113
    assert a.events == b.events


# --------------------------------------------------------------------------- normal variations
def test_bom_offsets_and_quoted_numbers_parse(tmp_path: Path) -> None:
    body = (
        "\ufeff" + HEADER + '2025-08-16 11:06:18+09,book,btc_jpy,bid,"17378187","0.005",true,\n'
        '2025-08-16 11:06:18+09,book,btc_jpy,ask,"17380000.0","0.25",true,\n'
        '2025-08-16T02:06:19.5+00:00,trade,btc_jpy,sell,17378187,"0.005",false,"583147645"\n'
    )
    report = load_export(write(tmp_path, "bom.csv", body))
    assert report.malformed == []
    t0 = us(2025, 8, 16, 2, 6, 18)
    assert report.events == [
        BookDiff(t0, None, ((17_378_187, 500_000),), ((17_380_000, 25_000_000),)),
        TradePrint(t0 + 1_500_000, None, 583_147_645, 17_378_187, 500_000, Side.SELL),
    ]


def test_header_with_spaces_and_capitals_accepted() -> None:
    report = parse_export(
        io.StringIO(" Time,EVENT_TYPE,pair,side,price,size,is_snapshot,trade_id\n"), "t.csv"
    )
    assert report.rows == 0 and report.events == []


def test_same_time_split_by_a_trade_gives_two_diffs() -> None:
    t = "2025-08-03 14:00:00+00"
    report = parse(
        f"{t},book,btc_jpy,bid,100,1,true,\n"
        f"{t},trade,btc_jpy,buy,101,0.5,false,7\n"
        f"{t},book,btc_jpy,ask,102,2,true,\n"
    )
    ts = us(2025, 8, 3, 14, 0, 0)
    assert report.events == [
        BookDiff(ts, None, ((100, 100_000_000),), ()),
        TradePrint(ts, None, 7, 101, 50_000_000, Side.BUY),
        BookDiff(ts, None, (), ((102, 200_000_000),)),
    ]


def test_blank_lines_are_not_rows() -> None:
    report = parse("\n2025-08-03 14:00:00+00,book,btc_jpy,bid,100,1,true,\n\n")
    assert report.rows == 1 and report.malformed == []


# --------------------------------------------------------------------------- broken files
def test_few_malformed_rows_skipped_with_line_numbers() -> None:
    t = "2025-08-03 14:00:00+00"
    report = parse(
        f"{t},book,btc_jpy,bid,100,1,true,\n"  # line 2
        f"{t},book,btc_jpy,bid,abc,1,true,\n"  # line 3: bad price
        f"{t},book,eth_jpy,bid,100,1,true,\n"  # line 4: other pair
        f"{t},book,btc_jpy,buy,100,1,true,\n"  # line 5: bad book side
        f"2025-08-03 14:00:00,book,btc_jpy,bid,100,1,true,\n"  # line 6: no offset
        f"{t},book,btc_jpy,bid,100\n"  # line 7: too few columns
        f"{t},quote,btc_jpy,bid,100,1,true,\n"  # line 8: unknown event type
        f"{t},book,btc_jpy,ask,101,-1,true,\n"  # line 9: negative size
        f"{t},trade,btc_jpy,bid,101,1,false,9\n"  # line 10: bad trade side
        f"{t},book,btc_jpy,ask,101,2,true,\n"  # line 11
    )
    assert [m.line for m in report.malformed] == [3, 4, 5, 6, 7, 8, 9, 10]
    assert report.rows == 10
    assert "eth_jpy" in report.malformed[1].reason
    assert "no timezone" in report.malformed[3].reason
    ts = us(2025, 8, 3, 14, 0, 0)
    assert report.events == [BookDiff(ts, None, ((100, 100_000_000),), ((101, 200_000_000),))]


def test_few_malformed_rows_file_is_usable(tmp_path: Path) -> None:
    good = "".join(
        f"2025-08-03 14:00:0{i}+00,book,btc_jpy,bid,{100 + i},1,true,\n" for i in range(5)
    )
    path = write(tmp_path, "few.csv", HEADER + good + "garbage,row\n")
    data = MarketDataFile(path)
    assert [m.line for m in data.report.malformed] == [7]
    assert len(list(data)) == 5


@pytest.mark.parametrize("field", ["price", "size"])
def test_infinite_number_is_a_malformed_row(field: str) -> None:
    price, size = ("inf", "1") if field == "price" else ("100", "1e400")
    t = "2025-08-03 14:00:00+00"
    report = parse(f"{t},book,btc_jpy,bid,100,1,true,\n{t},book,btc_jpy,bid,{price},{size},true,\n")
    assert [m.line for m in report.malformed] == [3]


def test_mostly_malformed_file_refused(tmp_path: Path) -> None:
    body = HEADER + "2025-08-03 14:00:00+00,book,btc_jpy,bid,100,1,true,\n" + "x,y,z\n" * 3
    path = write(tmp_path, "bad.csv", body)
    with pytest.raises(DataFileError, match=r"3 of 4 rows are malformed.*line 3"):
        MarketDataFile(path)


def test_exactly_half_malformed_is_still_usable(tmp_path: Path) -> None:
    body = HEADER + "2025-08-03 14:00:00+00,book,btc_jpy,bid,100,1,true,\n" + "x,y,z\n"
    assert len(load_market_data(write(tmp_path, "half.csv", body)).events) == 1


def test_wrong_header_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "trades.csv",
        "time,pair,side,price,size,transaction_id,is_cancelled,is_my_trade\n"
        "2025-08-16 11:06:18+09,btc_jpy,sell,17378187,0.005,583147645,,1\n",
    )
    with pytest.raises(DataFileError, match="not an export file"):
        MarketDataFile(path)


def test_empty_file_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="file is empty"):
        MarketDataFile(write(tmp_path, "empty.csv", b""))


def test_header_only_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no data rows"):
        MarketDataFile(write(tmp_path, "header.csv", HEADER))


def test_binary_file_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="not a UTF-8 text file"):
        MarketDataFile(write(tmp_path, "blob.bin", bytes(range(256)) * 8))


def test_missing_file_refused(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no such file"):
        MarketDataFile(tmp_path / "nope.csv")


def test_zip_with_two_csvs_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", HEADER)
        zf.writestr("b.csv", HEADER)
    with pytest.raises(DataFileError, match=r"expected one \.csv inside the zip"):
        load_export(path)
