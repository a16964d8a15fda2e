"""The HTML backtest report: self-contained, headline numbers right, scales to a 24 h run."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bot.backtest.execution import FillRecord
from bot.backtest.metrics import compute_metrics
from bot.backtest.report import (
    MAX_TABLE_ROWS,
    _downsample,
    _Frame,
    fmt_decimal,
    fmt_ratio,
    render_report,
    write_report,
)
from bot.backtest.runner import BacktestResult
from bot.config import TradeParams
from bot.market.events import Side
from bot.trading.position import RoundTrip

T0 = int(datetime(2025, 8, 3, 14, 0, tzinfo=UTC).timestamp()) * 1_000_000
SEC = 1_000_000
HALF_LOT = 500_000  # 0.005 BTC in satoshi


def _result(
    trips: list[RoundTrip],
    fills: list[FillRecord] | None = None,
    prices: list[tuple[int, int]] | None = None,
    span_s: int = 600,
    **extra: object,
) -> BacktestResult:
    kwargs: dict = {
        "params": TradeParams(),
        "metrics": compute_metrics(trips),
        "round_trips": trips,
        "fills": fills or [],
        "prices": prices or [],
        "events": 1_000,
        "level_events": 12_345,
        "seconds": 0.5,
        "final_jpy": Decimal("1000060"),
        "final_btc_sat": 5_000_000,
        "initial_equity_jpy": Decimal("1850000"),
        "halt_reason": None,
        "first_ts_us": T0 if span_s else None,
        "last_ts_us": T0 + span_s * SEC if span_s else None,
    }
    kwargs.update(extra)
    return BacktestResult(**kwargs)


def _two_trips() -> BacktestResult:
    """Long +100 JPY net (gross 101.5, fee 1.5), then short -40 JPY net (gross -39.5, fee 0.5)."""
    long_trip = RoundTrip(
        Side.BUY, T0 + 60 * SEC, T0 + 90 * SEC, HALF_LOT,
        17_000_000 * HALF_LOT, 17_020_300 * HALF_LOT, Decimal("1.5"),
    )  # fmt: skip
    short_trip = RoundTrip(
        Side.SELL, T0 + 200 * SEC, T0 + 260 * SEC, HALF_LOT,
        17_020_000 * HALF_LOT, 17_027_900 * HALF_LOT, Decimal("0.5"),
    )  # fmt: skip
    fills = [
        FillRecord(T0 + 60 * SEC, 1, Side.BUY, 17_000_000, HALF_LOT, "T", "entry"),
        FillRecord(T0 + 90 * SEC, 2, Side.SELL, 17_020_300, HALF_LOT, "M", "exit"),
        FillRecord(T0 + 200 * SEC, 3, Side.SELL, 17_020_000, HALF_LOT, "T", "entry"),
        FillRecord(T0 + 260 * SEC, 4, Side.BUY, 17_027_900, HALF_LOT, "T", "exit"),
    ]
    prices = [(T0 + s * SEC, 17_000_000 + 50 * s) for s in range(601)]
    return _result(
        [long_trip, short_trip],
        fills,
        prices,
        halt_reason="drawdown 5.0% reached",
        refusals={"spread": 12, "balance": 3},
    )


def _metric(page: str, key: str) -> str:
    match = re.search(rf'id="m-{key}">([^<]*)', page)
    assert match, key
    return match.group(1)


def _assert_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    for needle in ("<link", "<img", "src=", "@import", "url(", "@font-face"):
        assert needle not in page, needle


def test_headline_numbers_of_two_round_trips() -> None:
    page = render_report(_two_trips(), "sample.csv")

    assert _metric(page, "pnl") == "+60"
    assert _metric(page, "trades") == "2"
    assert _metric(page, "win_rate") == "50.0"
    assert _metric(page, "profit_factor") == "2.50"
    # per-trade Sharpe: mean 30 / sample sd 98.99 = 0.303
    assert _metric(page, "sharpe") == "0.30"
    assert _metric(page, "max_drawdown") == "40"
    assert _metric(page, "fees") == "2"
    assert _metric(page, "events") == "12,345"
    assert _metric(page, "events_per_sec") == "24,690"
    assert "2025-08-03 14:00:00.000 → 2025-08-03 14:10:00.000 UTC" in page
    assert "2025-08-03 23:00:00.000 → 2025-08-03 23:10:00.000 JST" in page
    assert "Trading halted: drawdown 5.0% reached" in page
    assert "spread: 12, balance: 3" in page


def test_trade_table_and_markers_are_exact() -> None:
    page = render_report(_two_trips(), "sample.csv")

    assert "<td>17,020,300</td>" in page and "<td>17,027,900</td>" in page
    assert '<td class="pos">+100</td><td>1.5</td>' in page
    assert '<td class="neg">-40</td><td>0.5</td>' in page
    assert "<td>0.005</td>" in page
    # exits are coloured by their round trip's outcome
    assert "exit: sell 0.005 BTC @ 17,020,300, round trip PnL +100 JPY" in page
    assert "exit: buy 0.005 BTC @ 17,027,900, round trip PnL -40 JPY" in page
    assert "long entry: buy 0.005 BTC @ 17,000,000" in page
    assert "short entry: sell 0.005 BTC @ 17,020,000" in page


def test_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "run.html"
    write_report(_two_trips(), out, "<b>day & night</b>")
    page = out.read_text(encoding="utf-8")

    _assert_self_contained(page)
    assert "<b>day" not in page
    assert "&lt;b&gt;day &amp; night&lt;/b&gt;" in page
    assert "composite_threshold: 0.3" in page  # the full parameter dump


def test_zero_trades_render_with_dashes() -> None:
    prices = [(T0 + s * SEC, 17_000_000) for s in range(61)]
    page = render_report(_result([], prices=prices, span_s=60), "quiet.csv")

    assert _metric(page, "pnl") == "0"
    assert _metric(page, "trades") == "0"
    for key in ("win_rate", "profit_factor", "sharpe"):
        assert _metric(page, key) == "—"
    assert "No round trips in this run." in page
    assert "No round trips: equity stayed at 0 JPY." in page
    _assert_self_contained(page)


def test_empty_result_without_prices_or_timestamps_renders() -> None:
    page = render_report(_result([], span_s=0, seconds=0.0), "empty.csv")

    assert _metric(page, "events_per_sec") == "—"
    assert "No data." in page
    assert "Period (UTC)</th><td>—" in page


def test_decimal_formatting_is_exact() -> None:
    assert fmt_decimal(Decimal("1234567.500")) == "1,234,567.5"
    assert fmt_decimal(Decimal("-19.534")) == "-19.534"
    assert fmt_decimal(Decimal("0.000"), signed=True) == "0"
    assert fmt_decimal(Decimal("60"), signed=True) == "+60"
    assert fmt_decimal(Decimal("1E+2")) == "100"
    # average of 0.003 BTC at 17,000,000 and 0.002 BTC at 17,000,001
    assert fmt_ratio(17_000_000 * 300_000 + 17_000_001 * 200_000, 500_000) == "17,000,000.4"
    # a non-terminating average is rounded and marked as such
    assert fmt_ratio(17_000_000 * 100_000 + 17_000_001 * 200_000, 300_000) == "≈17,000,000.67"


def test_downsample_keeps_every_spike() -> None:
    points = [(T0 + i * SEC, 100.0) for i in range(86_400)]
    points[40_000] = (points[40_000][0], 150.0)
    points[70_001] = (points[70_001][0], 40.0)
    frame = _Frame(T0, T0 + 86_399 * SEC, 0.0, 200.0, 300)

    xy = _downsample(points, frame)

    assert len(xy) <= 4 * frame.plot_w
    ys = [y for _, y in xy]
    assert min(ys) == frame.y(150.0)
    assert max(ys) == frame.y(40.0)


def _day_result(n_trips: int) -> BacktestResult:
    rng = random.Random(7)
    price = 17_000_000
    prices = []
    for s in range(86_400):
        price += rng.randint(-400, 400)
        prices.append((T0 + s * SEC, price))
    trips, fills = [], []
    gap = 86_400 // n_trips
    for i in range(n_trips):
        start = i * gap + 5
        entry_ts, exit_ts = T0 + start * SEC, T0 + (start + gap // 2) * SEC
        entry, exit_ = prices[start][1], prices[start + gap // 2][1]
        side = Side.BUY if i % 3 else Side.SELL
        trips.append(
            RoundTrip(
                side,
                entry_ts,
                exit_ts,
                HALF_LOT,
                entry * HALF_LOT,
                exit_ * HALF_LOT,
                Decimal("0.25"),
            )
        )
        fills.append(FillRecord(entry_ts, 2 * i, side, entry, HALF_LOT, "T", "entry"))
        fills.append(FillRecord(exit_ts, 2 * i + 1, Side(-side), exit_, HALF_LOT, "M", "exit"))
    return _result(trips, fills, prices, span_s=86_399, refusals={"spread": 4_321})


def test_24h_run_stays_small_and_caps_the_table() -> None:
    page = render_report(_day_result(2_000), "day.csv")

    assert len(page.encode()) < 2_000_000
    assert f"Showing the last {MAX_TABLE_ROWS:,} of 2,000 round trips." in page
    assert page.count('<td class="long">') + page.count('<td class="short">') == MAX_TABLE_ROWS
    assert "<td>2000</td>" in page and "<td>1500</td>" not in page  # newest rows kept
    _assert_self_contained(page)
