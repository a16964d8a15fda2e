"""Coincheck public wire formats: parsing, refusals and encode -> parse round trips."""

from __future__ import annotations

import json

import pytest

from bot.exchange.wire import (
    WireFormatError,
    encode_book_diff,
    encode_order_books,
    encode_trades,
    format_amount,
    format_rate,
    parse_order_books,
    parse_ws_message,
)
from bot.market.events import BookDiff, BookSnapshot, Side, TradePrint

RECV = 1_754_229_665_500_000


def test_order_book_message() -> None:
    raw = (
        '["btc_jpy",{"bids":[["16852386.0","0.03"],["16852000.0","0"]],'
        '"asks":[["16857387.0","0.0"],["16857400.0","1.5"]],"last_update_at":"1754229665"}]'
    )
    assert parse_ws_message(raw, RECV) == BookDiff(
        ts_us=RECV,
        exchange_ts_us=1_754_229_665_000_000,
        bids=((16_852_386, 3_000_000), (16_852_000, 0)),
        asks=((16_857_387, 0), (16_857_400, 150_000_000)),
    )


def test_order_book_without_last_update_at_or_sides() -> None:
    assert parse_ws_message('["btc_jpy",{}]', RECV) == BookDiff(RECV, None, (), ())


def test_current_trade_shape_list_of_trades() -> None:
    raw = json.dumps(
        [
            ["1663318663", "2357062", "btc_jpy", "2820896.0", "5.0", "sell", "1193401", "2078767"],
            ["1663318664", "2357063", "btc_jpy", "2820900.0", "0.005", "buy", "1", "2"],
        ]
    )
    assert parse_ws_message(raw, RECV) == [
        TradePrint(RECV, 1_663_318_663_000_000, 2_357_062, 2_820_896, 500_000_000, Side.SELL),
        TradePrint(RECV, 1_663_318_664_000_000, 2_357_063, 2_820_900, 500_000, Side.BUY),
    ]


def test_older_flat_trade_shape() -> None:
    raw = '[2357062,"btc_jpy","2820896.0","0.003","buy"]'
    assert parse_ws_message(raw, RECV) == [
        TradePrint(RECV, None, 2_357_062, 2_820_896, 300_000, Side.BUY)
    ]


def test_older_trade_shape_inside_a_list() -> None:
    raw = '[["2357062","btc_jpy","2820896.0","0.003","sell"]]'
    assert parse_ws_message(raw, RECV) == [
        TradePrint(RECV, None, 2_357_062, 2_820_896, 300_000, Side.SELL)
    ]


@pytest.mark.parametrize(
    "raw",
    [
        '{"type":"subscribed","channel":"btc_jpy-orderbook"}',
        "{}",
        '["eth_jpy",{"bids":[["100.0","1"]],"asks":[]}]',
    ],
)
def test_control_frames_and_other_pairs_give_none(raw: str) -> None:
    assert parse_ws_message(raw, RECV) is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[]", "non-empty JSON array"),
        ('"text"', "non-empty JSON array"),
        ("42", "non-empty JSON array"),
        ('["btc_jpy",{"bids":{"a":1},"asks":[]}]', "expected a list"),
        ('["btc_jpy",{"bids":[["100.0"]],"asks":[]}]', "is not [rate, amount]"),
        ('["btc_jpy",{"bids":[["100.0",null]],"asks":[]}]', "non-numeric"),
        ('["btc_jpy",{"bids":[["abc","1"]],"asks":[]}]', "non-numeric"),
        ('["btc_jpy",{"bids":[["0","1"]],"asks":[]}]', "zero rate"),
        ('["btc_jpy",{"bids":[["100","-1"]],"asks":[]}]', "negative"),
        ('["btc_jpy",{"bids":[],"asks":[],"last_update_at":"soon"}]', "last_update_at"),
        ('["btc_jpy",{"bids":[],"asks":[]},3]', "unknown message shape"),
        ('["btc_jpy",[]]', "unknown message shape"),
        ("[true,1]", "unknown message shape"),
        ('[["1","2","btc_jpy","100.0","1","bid","0","0"]]', "taker side"),
        ('[["x","2","btc_jpy","100.0","1","buy","0","0"]]', "non-numeric"),
        ('[["1","2","btc_jpy","100.0","1","buy","0","0"],5]', "every element"),
        ("[[]]", "unknown shape"),
        ('[["1","2","3","100.0","1","buy","0","0"]]', "unknown shape"),
    ],
)
def test_malformed_messages_raise_wire_format_error(raw: str | bytes, fragment: str) -> None:
    with pytest.raises(WireFormatError) as err:
        parse_ws_message(raw, RECV)
    assert fragment in str(err.value)


@pytest.mark.parametrize(
    "raw",
    [
        '["btc_jpy",{"bids":[["inf","1"]],"asks":[]}]',
        '["btc_jpy",{"bids":[["100.0","1e400"]],"asks":[]}]',
        '["btc_jpy",{"bids":[["nan","1"]],"asks":[]}]',
    ],
)
def test_infinite_level_numbers_raise_wire_format_error(raw: str) -> None:
    with pytest.raises(WireFormatError, match="non-numeric"):
        parse_ws_message(raw, RECV)


@pytest.mark.parametrize(
    "raw",
    [
        '["btc_jpy",{"bids":[],"asks":[],"last_update_at":"inf"}]',
        '[["1","2","btc_jpy","1e999","1","buy","0","0"]]',
        '[["1","2","btc_jpy","100.0","inf","buy","0","0"]]',
        '[["1e999","2","btc_jpy","100.0","1","buy","0","0"]]',
    ],
)
def test_infinite_numbers_raise_wire_format_error(raw: str) -> None:
    with pytest.raises(WireFormatError):
        parse_ws_message(raw, RECV)


@pytest.mark.parametrize(
    "raw",
    [
        '[["1","2","btc_jpy","-100.0","0.01","buy","0","0"]]',
        '[["1","2","btc_jpy","100.0","-0.01","buy","0","0"]]',
        '[["1","2","btc_jpy","0","0.01","sell","0","0"]]',
    ],
)
def test_trade_with_non_positive_rate_or_amount_refused(raw: str) -> None:
    with pytest.raises(WireFormatError):
        parse_ws_message(raw, RECV)


# --------------------------------------------------------------------------- REST snapshot
def test_parse_order_books() -> None:
    body = {"asks": [["16857387.0", "0.03"]], "bids": [["16852386.0", "0.5"]]}
    assert parse_order_books(body, RECV) == BookSnapshot(
        RECV, None, ((16_852_386, 50_000_000),), ((16_857_387, 3_000_000),)
    )
    with pytest.raises(WireFormatError, match="bids and asks"):
        parse_order_books({"asks": []}, RECV)
    with pytest.raises(WireFormatError, match="non-numeric"):
        parse_order_books({"bids": [], "asks": [["1", "x"]]}, RECV)


# --------------------------------------------------------------------------- encoding
@pytest.mark.parametrize(
    ("sat", "text"),
    [
        (0, "0.0"),
        (1, "0.00000001"),
        (100_000_000, "1.0"),
        (500_000, "0.005"),
        (3_000_000, "0.03"),
        (123_456_789, "1.23456789"),
        (1_000_000_000, "10.0"),
    ],
)
def test_format_amount(sat: int, text: str) -> None:
    assert format_amount(sat) == text


def test_format_rate() -> None:
    assert format_rate(16_857_500) == "16857500.0"


def test_book_diff_round_trip() -> None:
    diff = BookDiff(
        ts_us=RECV,
        exchange_ts_us=1_754_229_665_000_000,
        bids=((16_852_386, 3_000_000), (16_852_000, 0), (16_851_999, 1)),
        asks=((16_857_387, 0), (16_857_400, 123_456_789)),
    )
    text = encode_book_diff(diff)
    assert json.loads(text)[1]["bids"][0] == ["16852386.0", "0.03"]
    assert json.loads(text)[1]["last_update_at"] == "1754229665"
    assert parse_ws_message(text, RECV) == diff


def test_trades_round_trip() -> None:
    trades = [
        TradePrint(RECV, 1_663_318_663_000_000, 2_357_062, 2_820_896, 500_000_000, Side.SELL),
        TradePrint(RECV, 1_663_318_664_000_000, 2_357_063, 2_820_900, 1, Side.BUY),
    ]
    text = encode_trades(trades, [(1193401, 2078767)])
    rows = json.loads(text)
    assert rows[0] == [
        "1663318663",
        "2357062",
        "btc_jpy",
        "2820896.0",
        "5.0",
        "sell",
        "1193401",
        "2078767",
    ]
    assert rows[1][6:] == ["0", "0"]
    assert parse_ws_message(text, RECV) == trades


def test_order_books_round_trip() -> None:
    bids = ((16_852_386, 50_000_000),)
    asks = ((16_857_387, 500_000), (16_857_388, 1))
    assert parse_order_books(encode_order_books(bids, asks), RECV) == BookSnapshot(
        RECV, None, bids, asks
    )
