"""The signal engine: indicators -> weighted composite score -> LONG / SHORT / nothing.

Per event (after the book has applied it):
  score = w_obi·OBI(N) + w_ofi·OFI + w_cvd·CVD + w_micro·microprice deviation, each in [-1, 1];
  threshold = composite_threshold × clamp(factor × vol / baseline vol, min, max) when dynamic;
  direction = +1 if score ≥ threshold, -1 if score ≤ -threshold, else 0;
  then the spread limit, the regime filter and the OBI-slope filter may veto it, and the
  direction must hold for `hold_duration_ms` before it fires.

The fast path (bot/backtest/fast_path.py) computes the same quantities vectorised; the
parity test keeps the two identical, so change both together.
"""

from __future__ import annotations

from collections import deque

from bot.config import RegimeFilter, TradeParams
from bot.market.book import BookState, OrderBook
from bot.market.events import MarketEvent, TradePrint
from bot.strategy.indicators import (
    Ewma,
    HurstRegime,
    Regime,
    WindowSum,
    imbalance,
    microprice_deviation,
    ofi_event,
)

NAN = float("nan")


class SignalEngine:
    """Feeds on events in order and says, after each, which way the strategy wants to be."""

    def __init__(self, params: TradeParams) -> None:
        self.params = params
        sig = params.signal
        self._ofi = WindowSum(round(sig.ofi_window_seconds * 1_000_000))
        self._cvd = WindowSum(round(sig.cvd_window_seconds * 1_000_000))
        self._vol = Ewma(params.volatility.ewma_lambda)
        self._vol_base = Ewma(params.volatility.baseline_lambda)
        reg = params.regime
        self._regime = HurstRegime(reg.sample_ms, reg.window, reg.lag, reg.band)
        self._obi_hist: deque[float] = deque(maxlen=sig.slope_window_events + 1)
        self._prev_top: tuple[int, int, int, int] | None = None
        self._prev_mid2: int | None = None
        self._run_dir = 0
        self._run_start_us = 0
        self._configure(params)
        self.last_score = 0.0
        self.last_threshold = sig.composite_threshold

    def _configure(self, params: TradeParams) -> None:
        sig = params.signal
        w = sig.weights
        self._w = (w.obi, w.ofi, w.cvd, w.microprice)
        self._levels = sig.obi_levels
        self._hold_us = sig.hold_duration_ms * 1000
        self._slope_on = sig.slope_filter
        self._regime_filter = sig.regime_filter
        self._spread_limit = params.spread_limit
        self._thr = sig.composite_threshold
        dyn = params.dynamic_threshold
        self._dyn = (dyn.enabled, dyn.factor, dyn.min_factor, dyn.max_factor)

    def update_params(self, params: TradeParams) -> None:
        """Swap parameters between two events, keeping every indicator whose definition held."""
        old = self.params
        sig, old_sig = params.signal, old.signal
        if sig.ofi_window_seconds != old_sig.ofi_window_seconds:
            self._ofi.window_us = round(sig.ofi_window_seconds * 1_000_000)
        if sig.cvd_window_seconds != old_sig.cvd_window_seconds:
            # The deque keeps every item younger than the longer window, so shrinking is exact;
            # growing starts from what is held (at most the old window's history).
            self._cvd.window_us = round(sig.cvd_window_seconds * 1_000_000)
        if params.volatility.ewma_lambda != old.volatility.ewma_lambda:
            self._vol.lam = params.volatility.ewma_lambda
            self._vol._one_minus = 1.0 - self._vol.lam
        if params.volatility.baseline_lambda != old.volatility.baseline_lambda:
            self._vol_base.lam = params.volatility.baseline_lambda
            self._vol_base._one_minus = 1.0 - self._vol_base.lam
        if params.regime != old.regime:
            reg = params.regime
            self._regime = HurstRegime(reg.sample_ms, reg.window, reg.lag, reg.band)
        if sig.slope_window_events != old_sig.slope_window_events:
            self._obi_hist = deque(self._obi_hist, maxlen=sig.slope_window_events + 1)
        if sig.hold_duration_ms != old_sig.hold_duration_ms or sig.weights != old_sig.weights:
            self._run_dir = 0  # a hold measured under other weights proves nothing
        self.params = params
        self._configure(params)

    @property
    def regime(self) -> Regime:
        return self._regime.regime

    def on_event(self, event: MarketEvent, book: OrderBook) -> int:
        """Direction that has held long enough to act on: +1 long, -1 short, 0 none."""
        ts = event.ts_us
        is_trade = isinstance(event, TradePrint)
        if is_trade:
            self._cvd.add(ts, event.amount_sat * int(event.taker_side))
        ok = book.state is BookState.OK
        if ok:
            bid = book._bid_prices[-1]
            ask = book._ask_prices[0]
            qb = book.bids[bid]
            qa = book.asks[ask]
            mid2 = bid + ask
            if not is_trade:
                prev = self._prev_top
                if prev is not None:
                    self._ofi.add(ts, ofi_event(*prev, bid, qb, ask, qa))
                prev_mid2 = self._prev_mid2
                if prev_mid2 is not None:
                    r = (mid2 - prev_mid2) / prev_mid2
                    self._vol.update(r)
                    self._vol_base.update(r)
                self._prev_top = (bid, qb, ask, qa)
                self._prev_mid2 = mid2
            self._regime.update(ts, mid2)
            obi = imbalance(book.bid_depth(self._levels), book.ask_depth(self._levels))
        else:
            self._prev_top = None
            self._prev_mid2 = None
            obi = NAN
        self._ofi.expire(ts)
        self._cvd.expire(ts)
        hist = self._obi_hist
        hist.append(obi)

        direction = 0
        if ok and ask - bid <= self._spread_limit:
            w_obi, w_ofi, w_cvd, w_micro = self._w
            score = (
                w_obi * obi
                + w_ofi * self._ofi.ratio()
                + w_cvd * self._cvd.ratio()
                + w_micro * microprice_deviation(qb, qa)
            )
            thr = self._thr
            enabled, factor, lo, hi = self._dyn
            if enabled:
                base = self._vol_base.vol
                if base > 0:
                    thr = thr * min(max(factor * self._vol.vol / base, lo), hi)
            self.last_score = score
            self.last_threshold = thr
            if score >= thr:
                direction = 1
            elif score <= -thr:
                direction = -1
            if direction and self._regime_filter is not RegimeFilter.OFF:
                want = (
                    Regime.TRENDING
                    if self._regime_filter is RegimeFilter.TREND_ONLY
                    else Regime.MEAN_REVERTING
                )
                if self._regime.regime is not want:
                    direction = 0
            if direction and self._slope_on:
                if len(hist) < hist.maxlen:  # type: ignore[operator]
                    direction = 0
                elif direction > 0:
                    direction = 1 if obi >= hist[0] else 0
                else:
                    direction = -1 if obi <= hist[0] else 0

        if direction == 0:
            self._run_dir = 0
            return 0
        if direction != self._run_dir:
            self._run_dir = direction
            self._run_start_us = ts
        return direction if ts - self._run_start_us >= self._hold_us else 0
