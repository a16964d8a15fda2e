"""Incremental indicators, each O(1) or O(levels) per event.

Flows and volumes are integer satoshi so windowed sums are exact: the event-driven runner and
the cached fast path (which uses prefix sums) get bit-identical inputs to every ratio.
"""

from __future__ import annotations

import math
from collections import deque
from enum import IntEnum


def imbalance(bid_qty: int, ask_qty: int) -> float:
    """(bid - ask) / (bid + ask) in [-1, 1]; 0 on an empty book side pair."""
    total = bid_qty + ask_qty
    return (bid_qty - ask_qty) / total if total else 0.0


def microprice_deviation(best_bid_qty: int, best_ask_qty: int) -> float:
    """(microprice - mid) / half-spread, with microprice = (bid·qa + ask·qb) / (qa + qb).

    Algebraically this is the best-level imbalance (qb - qa) / (qb + qa): the microprice leans
    toward the side with less size, i.e. where the next trade is likelier to move the price.
    """
    return imbalance(best_bid_qty, best_ask_qty)


def ofi_event(
    prev_bid: int, prev_bid_qty: int, prev_ask: int, prev_ask_qty: int,
    bid: int, bid_qty: int, ask: int, ask_qty: int,
) -> int:  # fmt: skip
    """Order-flow imbalance of one book update at the best levels (Cont, Kukanov, Stoikov)."""
    e_bid = (bid_qty if bid >= prev_bid else 0) - (prev_bid_qty if bid <= prev_bid else 0)
    e_ask = (ask_qty if ask <= prev_ask else 0) - (prev_ask_qty if ask >= prev_ask else 0)
    return e_bid - e_ask


class WindowSum:
    """Sum and absolute sum of integer values over a trailing time window (ts > now - window)."""

    __slots__ = ("_items", "abs_total", "total", "window_us")

    def __init__(self, window_us: int) -> None:
        self.window_us = window_us
        self._items: deque[tuple[int, int]] = deque()
        self.total = 0
        self.abs_total = 0

    def add(self, ts_us: int, value: int) -> None:
        if value:
            self._items.append((ts_us, value))
            self.total += value
            self.abs_total += abs(value)

    def expire(self, now_us: int) -> None:
        cutoff = now_us - self.window_us
        items = self._items
        while items and items[0][0] <= cutoff:
            _, v = items.popleft()
            self.total -= v
            self.abs_total -= abs(v)

    def ratio(self) -> float:
        """total / abs_total in [-1, 1]; 0 when the window is empty."""
        return self.total / self.abs_total if self.abs_total else 0.0


class Ewma:
    """EWMA of squared simple mid returns; `vol` is its square root."""

    __slots__ = ("_one_minus", "lam", "var")

    def __init__(self, lam: float) -> None:
        self.lam = lam
        self._one_minus = 1.0 - lam
        self.var = 0.0

    def update(self, ret: float) -> None:
        self.var = self.lam * self.var + self._one_minus * (ret * ret)

    @property
    def vol(self) -> float:
        return math.sqrt(self.var)


class Regime(IntEnum):
    MEAN_REVERTING = -1
    NEUTRAL = 0
    TRENDING = 1
    UNKNOWN = 2


class HurstRegime:
    """Hurst exponent of mid prices sampled on a fixed time grid, from the variance ratio.

    H = 0.5 · log(var(lag-k diffs) / var(1-step diffs)) / log(k); H > 0.5 + band trends,
    H < 0.5 - band mean-reverts. Mid prices are kept doubled (bid + ask) as integers so the
    running sums are exact. Fewer than `window` samples, or a flat market, is UNKNOWN.
    """

    __slots__ = (
        "_d1",
        "_dk",
        "_next_us",
        "_samples",
        "_sum1",
        "_sumk",
        "band",
        "lag",
        "regime",
        "sample_us",
        "window",
    )

    def __init__(self, sample_ms: int, window: int, lag: int, band: float) -> None:
        self.sample_us = sample_ms * 1000
        self.window = window
        self.lag = lag
        self.band = band
        self._samples: deque[int] = deque(maxlen=lag)  # the last `lag` samples
        self._d1: deque[int] = deque()
        self._dk: deque[int] = deque()
        self._sum1 = 0
        self._sumk = 0
        self._next_us: int | None = None
        self.regime = Regime.UNKNOWN

    def update(self, ts_us: int, mid2: int) -> Regime:
        """Feed the current doubled mid at event time; samples when a grid point is passed."""
        if self._next_us is None:
            self._next_us = ts_us - ts_us % self.sample_us
        if ts_us < self._next_us:
            return self.regime
        self._next_us = ts_us - ts_us % self.sample_us + self.sample_us
        samples = self._samples
        if samples:
            d1 = mid2 - samples[-1]
            self._d1.append(d1 * d1)
            self._sum1 += d1 * d1
            if len(self._d1) > self.window:
                self._sum1 -= self._d1.popleft()
            if len(samples) == self.lag:  # samples[0] is `lag` steps back
                dk = mid2 - samples[0]
                self._dk.append(dk * dk)
                self._sumk += dk * dk
                if len(self._dk) > self.window:
                    self._sumk -= self._dk.popleft()
        samples.append(mid2)
        self.regime = self._classify()
        return self.regime

    def hurst(self) -> float | None:
        if len(self._dk) < self.window or self._sum1 == 0:
            return None  # warming up, or a flat market: no information
        if self._sumk == 0:
            return 0.0  # every lag-k move cancels out: perfectly mean-reverting
        ratio = (self._sumk / len(self._dk)) / (self._sum1 / len(self._d1))
        return 0.5 * math.log(ratio) / math.log(self.lag)

    def _classify(self) -> Regime:
        h = self.hurst()
        if h is None:
            return Regime.UNKNOWN
        if h > 0.5 + self.band:
            return Regime.TRENDING
        if h < 0.5 - self.band:
            return Regime.MEAN_REVERTING
        return Regime.NEUTRAL
