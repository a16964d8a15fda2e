"""The hot-path level parser and the simulator's encoder agree exactly with the checked ones."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from bot.exchange.wire import (
    WireFormatError,
    _levels,
    _levels_checked,
    encode_book_diff,
    encode_book_diff_at,
)
from bot.market.events import BookDiff

EDGES: list[Any] = [
    [["16852386.0", "0.03"]],
    [["1", "0"]],
    [[1.5, "0.1"]],
    [["x", "1"]],
    [["1"]],
    "ab",
    [["0", "1"]],
    [["5", "-1"]],
    [("5", "1")],
    [["5", None]],
    [["1e3", "1e-8"]],
    [["nan", "1"]],
    [["inf", "1"]],
    [["5", "1e999"]],
    [["100.5", "1"]],
    [["100.0000001", "1"]],
    [["100", "0.000000001"]],
    [["100", "0.000000006"]],
    [["1e13", "1"]],
    [["100", "1.0000001e7"]],
    [["-0", "1"]],
    [],
]


def _random_cases(n: int) -> list[Any]:
    rng = random.Random(1)
    out: list[Any] = []
    for _ in range(n):
        rows = []
        for _ in range(rng.randint(0, 12)):
            rate = f"{rng.randint(1, 3 * 10**7)}.{rng.choice(['0', '0', '5', '000001'])}"
            amount = f"{rng.random() * rng.choice([5, 1e-7, 1e-9]):.{rng.choice([8, 9, 10])}f}"
            rows.append([rate, amount])
        out.append(rows)
    return out


def _outcome(fn: Any, raw: Any) -> Any:
    try:
        return fn(raw, "where")
    except WireFormatError as exc:
        return ("error", str(exc))


@pytest.mark.parametrize("raw", EDGES + _random_cases(2000))
def test_fast_level_parser_equals_the_checked_one(raw: Any) -> None:
    assert _outcome(_levels, raw) == _outcome(_levels_checked, raw)


def test_encode_book_diff_at_is_byte_identical() -> None:
    rng = random.Random(2)
    diffs = [
        BookDiff(0, None, (), ()),
        BookDiff(0, None, ((1, 1), (2, 100_000_000), (3, 123_456_789_012)), ((5, 0),)),
    ]
    for _ in range(500):
        levels = [
            (rng.randint(1, 3 * 10**7), rng.choice((0, rng.randint(1, 10**9)))) for _ in "x" * 6
        ]
        diffs.append(BookDiff(0, None, tuple(levels[:3]), tuple(levels[3:])))
    for d in diffs:
        ts = 1754229665_123456
        assert encode_book_diff_at(d, ts // 1_000_000) == encode_book_diff(
            replace(d, exchange_ts_us=ts)
        )
