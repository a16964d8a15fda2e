"""The optimizer's fast path: parameter-independent features once, then many parameter sets.

`FeatureCache.build` replays the data once through the same book and the same indicator
functions as the event-driven runner and keeps compact arrays (best prices and sizes, OFI
flows, signed trade volume, mid returns, depth per OBI level count, the top of book the fill
model needs). `evaluate(cache, params)` then computes the signal vectorised — integer window
sums via prefix sums, the EWMA via a first-order IIR filter, all in the same operation order
as `SignalEngine`, so every float is bit-identical — and steps the same Trader and
SimulatedVenue only at the events where something can happen: a new signal while idle, an
order arriving, a resting order crossed, a deadline, a TP/SL level touched.
The parity test holds this to exactly the trades of `run_backtest`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from bot.backtest.execution import SimulatedVenue
from bot.backtest.runner import PRICE_SAMPLE_US, BacktestResult, venue_result
from bot.config import SATOSHI_PER_BTC, AccountConfig, RegimeFilter, RegimeParams, TradeParams
from bot.market.book import BookState, OrderBook
from bot.market.events import BookSnapshot, MarketEvent, TradePrint
from bot.strategy.indicators import HurstRegime, Regime, ofi_event
from bot.trading.fills import FILL_DEPTH, BookTop
from bot.trading.position import Position
from bot.trading.trader import Trader

DEFAULT_OBI_LEVELS = (1, 2, 3, 5, 8, 10, 15, 20)


@dataclass
class FeatureCache:
    """Arrays indexed by event number (every book message and every trade)."""

    ts: np.ndarray  # int64 receive time, µs
    ok: np.ndarray  # bool: book tradable (not empty, not crossed) after the event
    bid: np.ndarray  # int64 best bid (0 where not ok)
    ask: np.ndarray  # int64 best ask (0 where not ok)
    qb: np.ndarray  # int64 best-bid size, sat
    qa: np.ndarray  # int64 best-ask size, sat
    ofi: np.ndarray  # int64 OFI flow of the event (0 when none)
    cvd: np.ndarray  # int64 signed taker volume of the event
    ret_idx: np.ndarray  # int64 indices of events that updated the volatility EWMA
    ret: np.ndarray  # float64 simple mid return at those events
    mid2: np.ndarray  # int64 bid + ask (0 where not ok)
    bid_depth: dict[int, np.ndarray]  # N -> int64 satoshi on the best N bids
    ask_depth: dict[int, np.ndarray]
    top_bid_px: np.ndarray  # (n, FILL_DEPTH) int64, 0-padded
    top_bid_qty: np.ndarray
    top_ask_px: np.ndarray
    top_ask_qty: np.ndarray
    top_bid_len: np.ndarray  # int8 number of valid levels
    top_ask_len: np.ndarray
    level_events: int
    _regimes: dict[RegimeParams, np.ndarray] = field(default_factory=dict)
    _vols: dict[float, np.ndarray] = field(default_factory=dict)
    _obi: dict[int, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ts)

    @property
    def nbytes(self) -> int:
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        arrays += [*self.bid_depth.values(), *self.ask_depth.values()]
        return sum(a.nbytes for a in arrays)

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls, events: Iterable[MarketEvent], obi_levels: Iterable[int] = DEFAULT_OBI_LEVELS
    ) -> FeatureCache:
        levels = sorted(set(obi_levels))
        book = OrderBook()
        ts_l: list[int] = []
        ok_l: list[bool] = []
        bid_l: list[int] = []
        ask_l: list[int] = []
        qb_l: list[int] = []
        qa_l: list[int] = []
        ofi_l: list[int] = []
        cvd_l: list[int] = []
        ret_idx: list[int] = []
        ret_l: list[float] = []
        depth_b: dict[int, list[int]] = {n: [] for n in levels}
        depth_a: dict[int, list[int]] = {n: [] for n in levels}
        top_bp: list[int] = []
        top_bq: list[int] = []
        top_ap: list[int] = []
        top_aq: list[int] = []
        top_bl: list[int] = []
        top_al: list[int] = []
        pad = [0] * FILL_DEPTH
        prev_top: tuple[int, int, int, int] | None = None
        prev_mid2: int | None = None
        n_levels = 0
        last_row: tuple | None = None
        ok_state = BookState.OK
        for i, ev in enumerate(events):
            is_trade = isinstance(ev, TradePrint)
            cvd = 0
            if is_trade:
                cvd = ev.amount_sat * int(ev.taker_side)
                n_levels += 1
            else:
                if isinstance(ev, BookSnapshot):
                    book.load_snapshot(ev)
                else:
                    book.apply_diff(ev)
                n_levels += len(ev.bids) + len(ev.asks)
            ts_l.append(ev.ts_us)
            cvd_l.append(cvd)
            if is_trade and last_row is not None:
                # The book did not change: repeat its row, with no OFI flow.
                ok, bid, ask, qb, qa = last_row
                ok_l.append(ok)
                bid_l.append(bid)
                ask_l.append(ask)
                qb_l.append(qb)
                qa_l.append(qa)
                ofi_l.append(0)
                for n in levels:
                    depth_b[n].append(depth_b[n][-1])
                    depth_a[n].append(depth_a[n][-1])
                top_bp.extend(top_bp[-FILL_DEPTH:])
                top_bq.extend(top_bq[-FILL_DEPTH:])
                top_ap.extend(top_ap[-FILL_DEPTH:])
                top_aq.extend(top_aq[-FILL_DEPTH:])
                top_bl.append(top_bl[-1])
                top_al.append(top_al[-1])
                continue
            ok = book.state is ok_state
            e = 0
            if ok:
                bid = book._bid_prices[-1]
                ask = book._ask_prices[0]
                qb = book.bids[bid]
                qa = book.asks[ask]
                mid2 = bid + ask
                if not is_trade:
                    if prev_top is not None:
                        e = ofi_event(*prev_top, bid, qb, ask, qa)
                    if prev_mid2 is not None:
                        ret_idx.append(i)
                        ret_l.append((mid2 - prev_mid2) / prev_mid2)
                    prev_top = (bid, qb, ask, qa)
                    prev_mid2 = mid2
            else:
                bid = ask = qb = qa = 0
                prev_top = None
                prev_mid2 = None
            ok_l.append(ok)
            bid_l.append(bid)
            ask_l.append(ask)
            qb_l.append(qb)
            qa_l.append(qa)
            ofi_l.append(e)
            last_row = (ok, bid, ask, qb, qa)
            for n in levels:
                depth_b[n].append(book.bid_depth(n))
                depth_a[n].append(book.ask_depth(n))
            tb = book.top_bids(FILL_DEPTH)
            ta = book.top_asks(FILL_DEPTH)
            top_bl.append(len(tb))
            top_al.append(len(ta))
            top_bp.extend([p for p, _ in tb] + pad[len(tb) :])
            top_bq.extend([q for _, q in tb] + pad[len(tb) :])
            top_ap.extend([p for p, _ in ta] + pad[len(ta) :])
            top_aq.extend([q for _, q in ta] + pad[len(ta) :])

        def arr(x: list[int]) -> np.ndarray:
            return np.array(x, dtype=np.int64)

        n = len(ts_l)
        return cls(
            ts=arr(ts_l),
            ok=np.array(ok_l, dtype=bool),
            bid=arr(bid_l),
            ask=arr(ask_l),
            qb=arr(qb_l),
            qa=arr(qa_l),
            ofi=arr(ofi_l),
            cvd=arr(cvd_l),
            ret_idx=arr(ret_idx),
            ret=np.array(ret_l, dtype=np.float64),
            mid2=arr(bid_l) + arr(ask_l),
            bid_depth={k: arr(v) for k, v in depth_b.items()},
            ask_depth={k: arr(v) for k, v in depth_a.items()},
            top_bid_px=arr(top_bp).reshape(n, FILL_DEPTH),
            top_bid_qty=arr(top_bq).reshape(n, FILL_DEPTH),
            top_ask_px=arr(top_ap).reshape(n, FILL_DEPTH),
            top_ask_qty=arr(top_aq).reshape(n, FILL_DEPTH),
            top_bid_len=np.array(top_bl, dtype=np.int8),
            top_ask_len=np.array(top_al, dtype=np.int8),
            level_events=n_levels,
        )

    def slice(self, start_us: int, end_us: int) -> FeatureCache:
        """Events with start_us <= ts < end_us. Indicator windows restart at the cut, as a
        backtest started there would (the book state carries over: it is in the arrays)."""
        a, b = np.searchsorted(self.ts, [start_us, end_us], side="left")
        s = slice(int(a), int(b))
        keep = (self.ret_idx >= a) & (self.ret_idx < b)
        ret_idx = self.ret_idx[keep] - a
        ret = self.ret[keep]
        # The first book event of the slice has no previous mid inside the slice.
        first_book_ok = np.flatnonzero(self.ok[s])
        if len(ret_idx) and len(first_book_ok) and ret_idx[0] == first_book_ok[0]:
            ret_idx, ret = ret_idx[1:], ret[1:]
        ofi = self.ofi[s].copy()
        if len(first_book_ok):
            ofi[first_book_ok[0]] = 0
        return FeatureCache(
            ts=self.ts[s],
            ok=self.ok[s],
            bid=self.bid[s],
            ask=self.ask[s],
            qb=self.qb[s],
            qa=self.qa[s],
            ofi=ofi,
            cvd=self.cvd[s],
            ret_idx=ret_idx,
            ret=ret,
            mid2=self.mid2[s],
            bid_depth={k: v[s] for k, v in self.bid_depth.items()},
            ask_depth={k: v[s] for k, v in self.ask_depth.items()},
            top_bid_px=self.top_bid_px[s],
            top_bid_qty=self.top_bid_qty[s],
            top_ask_px=self.top_ask_px[s],
            top_ask_qty=self.top_ask_qty[s],
            top_bid_len=self.top_bid_len[s],
            top_ask_len=self.top_ask_len[s],
            level_events=int(b - a),
        )

    # ------------------------------------------------------------------ parameter-dependent
    def obi(self, levels: int) -> np.ndarray:
        cached = self._obi.get(levels)
        if cached is None:
            if levels not in self.bid_depth:
                raise KeyError(
                    f"obi_levels={levels} was not cached (have {sorted(self.bid_depth)}); "
                    "build the cache with the template's obi_levels choices"
                )
            b, a = self.bid_depth[levels], self.ask_depth[levels]
            total = b + a
            with np.errstate(invalid="ignore", divide="ignore"):
                cached = np.where(total > 0, (b - a) / np.where(total > 0, total, 1), 0.0)
            cached[~self.ok] = np.nan
            self._obi[levels] = cached
        return cached

    def window_ratio(self, flows: np.ndarray, window_seconds: float) -> np.ndarray:
        """Σ flow / Σ |flow| over events with ts > ts_i - window (0 when empty)."""
        window_us = round(window_seconds * 1_000_000)
        prefix = np.concatenate(([0], np.cumsum(flows)))
        prefix_abs = np.concatenate(([0], np.cumsum(np.abs(flows))))
        start = np.searchsorted(self.ts, self.ts - window_us, side="right")
        end = np.arange(1, len(self.ts) + 1)
        total = prefix[end] - prefix[start]
        absolute = prefix_abs[end] - prefix_abs[start]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(absolute > 0, total / np.where(absolute > 0, absolute, 1), 0.0)

    def vol(self, lam: float) -> np.ndarray:
        """sqrt of the EWMA of squared returns as it stood after each event."""
        cached = self._vols.get(lam)
        if cached is None:
            var = np.zeros(len(self.ts))
            if len(self.ret):
                seq = lfilter([1.0 - lam], [1.0, -lam], self.ret * self.ret)
                # Carry each update forward to the following events.
                pos = np.searchsorted(self.ret_idx, np.arange(len(self.ts)), side="right") - 1
                var = np.where(pos >= 0, seq[np.maximum(pos, 0)], 0.0)
            cached = np.sqrt(var)
            self._vols[lam] = cached
        return cached

    def regime(self, params: RegimeParams) -> np.ndarray:
        cached = self._regimes.get(params)
        if cached is None:
            hurst = HurstRegime(params.sample_ms, params.window, params.lag, params.band)
            out = np.full(len(self.ts), int(Regime.UNKNOWN), dtype=np.int8)
            current = int(Regime.UNKNOWN)
            ok = self.ok.tolist()
            ts = self.ts.tolist()
            mid2 = self.mid2.tolist()
            for i in range(len(ts)):
                if ok[i]:
                    current = int(hurst.update(ts[i], mid2[i]))
                out[i] = current
            cached = out
            self._regimes[params] = cached
        return cached

    def top(self, i: int) -> BookTop:
        nb, na = int(self.top_bid_len[i]), int(self.top_ask_len[i])
        bids = tuple(
            zip(self.top_bid_px[i, :nb].tolist(), self.top_bid_qty[i, :nb].tolist(), strict=True)
        )
        asks = tuple(
            zip(self.top_ask_px[i, :na].tolist(), self.top_ask_qty[i, :na].tolist(), strict=True)
        )
        return BookTop(bids, asks)


def signals(cache: FeatureCache, params: TradeParams) -> np.ndarray:
    """The SignalEngine's output for every event, vectorised (int8: +1, -1, 0)."""
    sig = params.signal
    w = sig.weights
    n = len(cache)
    obi = cache.obi(sig.obi_levels)
    score = (
        w.obi * obi
        + w.ofi * cache.window_ratio(cache.ofi, sig.ofi_window_seconds)
        + w.cvd * cache.window_ratio(cache.cvd, sig.cvd_window_seconds)
        + w.microprice * _imbalance(cache.qb, cache.qa)
    )
    thr = np.full(n, sig.composite_threshold)
    dyn = params.dynamic_threshold
    if dyn.enabled:
        vol = cache.vol(params.volatility.ewma_lambda)
        base = cache.vol(params.volatility.baseline_lambda)
        with np.errstate(invalid="ignore", divide="ignore"):
            mult = np.minimum(np.maximum(dyn.factor * vol / base, dyn.min_factor), dyn.max_factor)
        thr = np.where(base > 0, sig.composite_threshold * mult, thr)
    tradable = cache.ok & (cache.ask - cache.bid <= params.spread_limit)
    direction = np.where(score >= thr, 1, np.where(score <= -thr, -1, 0)).astype(np.int8)
    direction[~tradable] = 0
    if sig.regime_filter is not RegimeFilter.OFF:
        want = (
            Regime.TRENDING
            if sig.regime_filter is RegimeFilter.TREND_ONLY
            else Regime.MEAN_REVERTING
        )
        direction[cache.regime(params.regime) != int(want)] = 0
    if sig.slope_filter:
        k = sig.slope_window_events
        prev = np.full(n, np.nan)
        prev[k:] = obi[:-k] if k < n else prev[k:]
        with np.errstate(invalid="ignore"):
            up = obi >= prev
            down = obi <= prev
        direction[(direction > 0) & ~up] = 0
        direction[(direction < 0) & ~down] = 0
    # Hold: the same non-zero direction on consecutive events for hold_duration_ms.
    shifted = np.concatenate(([0], direction[:-1]))
    starts = np.where(direction != shifted, np.arange(n), 0)
    run_start = np.maximum.accumulate(starts) if n else starts
    held = cache.ts - cache.ts[run_start] >= sig.hold_duration_ms * 1000
    return np.where(held, direction, 0).astype(np.int8)


def _imbalance(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    total = b + a
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (b - a) / np.where(total > 0, total, 1), 0.0)


def _first(cond: Callable[[int, int], np.ndarray], start: int, n: int) -> int:
    """First index >= start where cond(lo, hi) (a bool array for [lo, hi)) is True, else n.

    Scans in growing chunks so a condition met soon costs little."""
    chunk = 256
    while start < n:
        end = min(n, start + chunk)
        hit = np.flatnonzero(cond(start, end))
        if len(hit):
            return start + int(hit[0])
        start = end
        chunk *= 4
    return n


def _crossing(cache: FeatureCache, side: int, price: int) -> Callable[[int, int], np.ndarray]:
    """Events where the opposite best level reaches a resting order's price."""
    if side > 0:
        px, length = cache.top_ask_px, cache.top_ask_len
        return lambda lo, hi: (px[lo:hi, 0] <= price) & (length[lo:hi] > 0)
    px, length = cache.top_bid_px, cache.top_bid_len
    return lambda lo, hi: (px[lo:hi, 0] >= price) & (length[lo:hi] > 0)


def _exit_level_touched(
    cache: FeatureCache, params: TradeParams, position: Position
) -> Callable[[int, int], np.ndarray]:
    """Events where the open position's take-profit or stop-loss is reached (Trader's rule)."""
    size = abs(position.position_sat)
    open_value = position.open_value
    ok = cache.ok
    if position.position_sat > 0:
        tp, sl = params.long.tp * size, params.long.sl * size
        bids = cache.bid

        def touched(lo: int, hi: int) -> np.ndarray:
            pnl = bids[lo:hi] * size - open_value
            return ok[lo:hi] & ((pnl >= tp) | (pnl <= sl))

        return touched
    tp, sl = params.short.tp * size, params.short.sl * size
    asks = cache.ask

    def touched_short(lo: int, hi: int) -> np.ndarray:
        pnl = open_value - asks[lo:hi] * size
        return ok[lo:hi] & ((pnl >= tp) | (pnl <= sl))

    return touched_short


def evaluate(
    cache: FeatureCache, params: TradeParams, account: AccountConfig, with_prices: bool = False
) -> BacktestResult:
    """Backtest one parameter set on the cache; same trades as `run_backtest` on the events."""
    started = time.perf_counter()
    n = len(cache)
    active = signals(cache, params)
    candidates = np.flatnonzero(active)
    position = Position(account.initial_jpy, int(account.initial_btc * SATOSHI_PER_BTC))
    trader = Trader(params, position)
    venue = SimulatedVenue(trader, params.latency.order_ms * 1000)
    ts = cache.ts
    ok = cache.ok
    bids, asks = cache.bid, cache.ask
    ok_idx = np.flatnonzero(ok)
    if len(ok_idx):
        first_ok = int(ok_idx[0])
        trader.mark_start(int(bids[first_ok] + asks[first_ok]) // 2)

    i = int(candidates[0]) if len(candidates) else n
    while i < n:
        t = int(ts[i])
        # --- one step, exactly as run_backtest does at event i
        if venue.in_flight and venue.in_flight[0][0] < t:
            venue.process_arrivals(t, lambda j=i - 1: cache.top(j))
        if venue.resting:
            venue.match_resting(t, cache.top(i))
        s = int(active[i])
        if ok[i]:
            if s or not trader.idle:
                venue.handle(trader.on_tick(t, int(bids[i]), int(asks[i]), s))
        elif trader.working:
            venue.handle(trader.on_tick(t, None, None, s))
        # --- where can something happen next?
        nxt = n
        if trader.awaiting_entry and not venue.busy:
            k = np.searchsorted(candidates, i, side="right")
            nxt = int(candidates[k]) if k < len(candidates) else n
        else:
            if venue.in_flight:
                nxt = min(nxt, int(np.searchsorted(ts, venue.in_flight[0][0], side="right")))
            for r in venue.resting.values():
                nxt = min(nxt, _first(_crossing(cache, r.order.side, r.order.price), i + 1, n))
            for w in trader.working.values():
                nxt = min(nxt, max(i + 1, int(np.searchsorted(ts, w.deadline_us, side="left"))))
            if not trader.working and position.position_sat:
                if trader.exit_reason is not None:
                    nxt = min(nxt, _first(lambda lo, hi: ok[lo:hi], i + 1, n))
                else:
                    nxt = min(nxt, _first(_exit_level_touched(cache, params, position), i + 1, n))
            nxt = max(nxt, i + 1)
        i = nxt

    prices: list[tuple[int, int]] = []
    if with_prices and len(ok_idx):
        sec = ts[ok_idx] // PRICE_SAMPLE_US
        keep = ok_idx[np.concatenate(([True], sec[1:] != sec[:-1]))]
        prices = list(
            zip(ts[keep].tolist(), ((bids[keep] + asks[keep]) // 2).tolist(), strict=True)
        )
    return venue_result(
        venue,
        prices,
        n,
        cache.level_events,
        time.perf_counter() - started,
        int(ts[0]) if n else None,
        int(ts[-1]) if n else None,
    )
