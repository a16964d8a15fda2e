"""Incremental indicators, each against numbers worked out by hand."""

from __future__ import annotations

import math
import random

import pytest

from bot.strategy.indicators import (
    Ewma,
    HurstRegime,
    Regime,
    WindowSum,
    imbalance,
    microprice_deviation,
    ofi_event,
)


# --------------------------------------------------------------------------- imbalance
@pytest.mark.parametrize(
    ("bid", "ask", "expected"),
    [(10, 30, -0.5), (30, 10, 0.5), (7, 0, 1.0), (0, 7, -1.0), (0, 0, 0.0), (5, 5, 0.0)],
)
def test_imbalance(bid: int, ask: int, expected: float) -> None:
    assert imbalance(bid, ask) == expected


def test_microprice_deviation_equals_definition() -> None:
    # bid 100 x 3, ask 102 x 1: microprice = (100·1 + 102·3) / 4 = 101.5, mid 101, half-spread 1
    assert microprice_deviation(3, 1) == 0.5
    assert microprice_deviation(1, 3) == -0.5


# --------------------------------------------------------------------------- OFI
# Previous best: bid 100 x 10, ask 110 x 20. New bid 101/100/99 and ask 111/110/109, sizes 7 and 5.
# e = 1{b>=b'}·qb − 1{b<=b'}·qb' − 1{a<=a'}·qa + 1{a>=a'}·qa'
# bid part: up +7, same 7−10 = −3, down −10;  ask part: up +20, same 20−5 = +15, down −5.
@pytest.mark.parametrize(
    ("bid", "ask", "expected"),
    [
        (101, 111, 7 + 20),
        (101, 110, 7 + 15),
        (101, 109, 7 - 5),
        (100, 111, -3 + 20),
        (100, 110, -3 + 15),
        (100, 109, -3 - 5),
        (99, 111, -10 + 20),
        (99, 110, -10 + 15),
        (99, 109, -10 - 5),
    ],
)
def test_ofi_event_every_case(bid: int, ask: int, expected: int) -> None:
    assert ofi_event(100, 10, 110, 20, bid, 7, ask, 5) == expected


def test_ofi_unchanged_book_is_zero() -> None:
    assert ofi_event(100, 10, 110, 20, 100, 10, 110, 20) == 0


# --------------------------------------------------------------------------- WindowSum
def test_window_sum_expiry_boundary() -> None:
    w = WindowSum(window_us=1_000_000)
    w.add(0, 5)
    w.add(500_000, -3)
    w.add(600_000, 0)  # zero is not stored
    assert (w.total, w.abs_total) == (2, 8)
    assert w.ratio() == 0.25
    w.expire(999_999)  # cutoff −1: ts 0 > −1 kept
    assert (w.total, w.abs_total) == (2, 8)
    w.expire(1_000_000)  # cutoff 0: ts 0 == cutoff is dropped
    assert (w.total, w.abs_total) == (-3, 3)
    assert w.ratio() == -1.0
    w.expire(1_499_999)  # ts 500_000 > 499_999 kept
    assert w.total == -3
    w.expire(1_500_000)  # ts 500_000 == cutoff dropped
    assert (w.total, w.abs_total) == (0, 0)
    assert w.ratio() == 0.0


# --------------------------------------------------------------------------- EWMA
def test_ewma_first_updates_by_hand() -> None:
    e = Ewma(0.5)
    assert e.var == 0.0
    e.update(0.1)  # 0.5·0 + 0.5·0.01
    assert e.var == pytest.approx(0.005, abs=1e-15)
    e.update(0.2)  # 0.5·0.005 + 0.5·0.04
    assert e.var == pytest.approx(0.0225, abs=1e-15)
    assert e.vol == pytest.approx(0.15, abs=1e-15)
    e.update(-0.2)  # sign does not matter: 0.5·0.0225 + 0.5·0.04
    assert e.var == pytest.approx(0.03125, abs=1e-15)


# --------------------------------------------------------------------------- Hurst regime
def feed(h: HurstRegime, mids2: list[int], step_us: int = 1_000_000) -> list[Regime]:
    return [h.update(i * step_us, m) for i, m in enumerate(mids2)]


def test_hurst_linear_trend_is_trending() -> None:
    h = HurstRegime(sample_ms=1000, window=8, lag=2, band=0.05)
    regimes = feed(h, [2 * (16_850_000 + 3 * k) for k in range(20)])
    assert regimes[-1] is Regime.TRENDING
    assert h.hurst() is not None and h.hurst() > 0.55


def test_hurst_too_few_samples_is_unknown() -> None:
    h = HurstRegime(sample_ms=1000, window=8, lag=2, band=0.05)
    # 9 samples give at most 7 lag-2 differences: below the window of 8
    assert feed(h, [2 * (100 + k) for k in range(9)]) == [Regime.UNKNOWN] * 9
    assert h.hurst() is None


def test_hurst_flat_market_is_unknown() -> None:
    h = HurstRegime(sample_ms=1000, window=8, lag=2, band=0.05)
    assert feed(h, [200] * 30)[-1] is Regime.UNKNOWN


def test_hurst_samples_only_on_grid_points() -> None:
    h = HurstRegime(sample_ms=1000, window=8, lag=2, band=0.05)
    # many events inside one second count as one sample: 9 seconds of trend stay UNKNOWN
    for sec in range(9):
        for sub in range(0, 1_000_000, 100_000):
            h.update(sec * 1_000_000 + sub, 2 * (100 + sec))
    assert h.regime is Regime.UNKNOWN
    assert h.hurst() is None


def test_hurst_of_a_straight_line_is_one() -> None:
    # lag-2 diffs are 2× the 1-step diffs: variance ratio 4 → H = 0.5·ln 4 / ln 2 = 1
    h = HurstRegime(sample_ms=1000, window=8, lag=2, band=0.05)
    feed(h, [2 * (100 + k) for k in range(12)])  # 12 samples ≥ 8 lag-2 differences
    assert h.hurst() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "lag",
    [
        2,
        pytest.param(
            3,
        ),
        4,
    ],
)
def test_hurst_alternating_series_is_mean_reverting(lag: int) -> None:
    h = HurstRegime(sample_ms=1000, window=8, lag=lag, band=0.05)
    regimes = feed(h, [2 * 16_850_000 + (2 if k % 2 else 0) for k in range(40)])
    assert regimes[-1] is Regime.MEAN_REVERTING


def test_hurst_random_walk_is_neutral_with_default_params() -> None:
    rng = random.Random(1)
    h = HurstRegime(sample_ms=1000, window=5000, lag=4, band=0.05)
    mid2 = 2 * 16_850_000
    for k in range(6000):
        mid2 += rng.choice((-2, 2))
        h.update(k * 1_000_000, mid2)
    hurst = h.hurst()
    assert hurst is not None and math.isclose(hurst, 0.5, abs_tol=0.03)
    assert h.regime is Regime.NEUTRAL
