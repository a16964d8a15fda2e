"""Synthetic Coincheck BTC/JPY market: a seeded L2 book and trade tape with regime changes.

Pure and deterministic: no I/O, no clock reads, no global random state. The same config gives
the same events, so a synthetic recording is as reproducible as a real one.

How it works (the decisions that make it useful for testing a strategy):
- A latent fair price moves in log space; each regime sets its drift, volatility and mean
  reversion. The visible book is a real price-level book that follows the fair price: levels
  left inside the spread band are cancelled, gaps at the touch are filled, and taker trades
  consume touch liquidity. Every diff therefore removes only levels that exist, the book is
  never crossed and the spread is at least one tick.
- Near-touch depth is tilted by an imbalance driver. In *informed* regimes (``trend``,
  ``informed``) the driver is the same latent variable that drives the next price moves, so
  order-book imbalance predicts returns (noisily). In the other regimes the driver is an
  independent process of the same size: OBI looks the same but carries no information.
- Message timing is Poisson; receive times are microseconds, exchange times are whole
  seconds (Coincheck's ``last_update_at``) a small feed lag earlier.
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect_left, insort
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from bot.market.events import BookDiff, BookSnapshot, Level, MarketEvent, Side, TradePrint

US_PER_S = 1_000_000
SAT_PER_BTC = 100_000_000
DEFAULT_START_US = 1_754_179_200 * US_PER_S  # 2025-08-03T00:00:00Z, the real sample's day


class SynthConfigError(ValueError):
    """Bad generator settings (e.g. an unparsable regime spec); the text names the fix."""


class Regime(StrEnum):
    """Market regimes; see REGIME_PARAMS for what each one changes."""

    TREND = "trend"  # drift in one direction, OBI informative
    INFORMED = "informed"  # no net drift, OBI informative about the next moves
    MEANREV = "meanrev"  # price pulled back to where the regime began, OBI noise
    NOISE = "noise"  # random walk, OBI noise
    BURST = "burst"  # volatility and message-rate burst, OBI noise
    WIDE = "wide"  # spread widening, thinner feed, OBI noise


@dataclass(frozen=True, slots=True)
class RegimeParams:
    """What a regime does to the price process, the spread and the feed."""

    informed: bool
    """True: the depth tilt is the latent signal that drives the price (OBI has an edge)."""
    vol_mult: float
    """Multiplier on the base volatility."""
    signal_mean: float
    """Mean of the latent signal in units of its stdev (x direction): a trend."""
    meanrev_half_life_s: float | None
    """Half-life of the pull back to the regime's starting price; None for no pull."""
    half_spread_mult: float
    """Multiplier on the base half-spread (the quoting band around the fair price)."""
    book_rate_mult: float
    """Multiplier on book messages per second."""
    levels_mult: float
    """Multiplier on changed levels per message."""
    trade_rate_mult: float
    """Multiplier on trade messages per second."""


REGIME_PARAMS: dict[Regime, RegimeParams] = {
    Regime.TREND: RegimeParams(True, 1.0, 0.5, None, 1.0, 1.0, 1.0, 1.2),
    Regime.INFORMED: RegimeParams(True, 0.9, 0.0, None, 1.0, 1.0, 1.0, 1.1),
    Regime.MEANREV: RegimeParams(False, 1.0, 0.0, 180.0, 1.0, 1.0, 1.0, 1.0),
    Regime.NOISE: RegimeParams(False, 1.0, 0.0, None, 1.0, 1.0, 1.0, 1.0),
    Regime.BURST: RegimeParams(False, 3.0, 0.0, None, 1.4, 1.6, 1.3, 3.0),
    Regime.WIDE: RegimeParams(False, 1.2, 0.0, None, 4.0, 0.8, 0.8, 0.5),
}

# Weights of the random schedule: informative and uninformative time roughly balanced.
_RANDOM_REGIME_WEIGHTS: tuple[tuple[Regime, float], ...] = (
    (Regime.TREND, 0.22),
    (Regime.INFORMED, 0.16),
    (Regime.MEANREV, 0.2),
    (Regime.NOISE, 0.16),
    (Regime.BURST, 0.12),
    (Regime.WIDE, 0.14),
)


@dataclass(frozen=True, slots=True)
class RegimeSpec:
    """One entry of a regime schedule spec: a regime, how long, and (trends) which way."""

    regime: Regime
    duration_s: float
    direction: int = 0
    """+1 up, -1 down; 0 draws a way by seed for each occurrence (trends only)."""


@dataclass(frozen=True, slots=True)
class RegimeSpan:
    """A regime in force over [start_us, end_us)."""

    start_us: int
    end_us: int
    regime: Regime
    direction: int
    """+1 / -1 for trends, 0 otherwise."""

    @property
    def params(self) -> RegimeParams:
        return REGIME_PARAMS[self.regime]


@dataclass(frozen=True, slots=True)
class SynthConfig:
    """Everything the generator needs; the defaults are Coincheck BTC/JPY in Aug 2025."""

    seed: int = 0
    hours: float = 24.0
    start_us: int = DEFAULT_START_US
    start_price: int | None = None
    """JPY; None draws one between 15.5M and 17.5M from the seed."""
    regimes: tuple[RegimeSpec, ...] | None = None
    """Repeated until `hours` is covered; None switches randomly every 20-90 min."""
    min_regime_s: float = 20 * 60
    max_regime_s: float = 90 * 60
    book_msgs_per_s: float = 2.5
    """Base rate (Poisson); regimes scale it."""
    levels_per_msg: float = 11.5
    """Mean changes drawn per message; merging repeats leaves ~11 distinct levels."""
    trade_msgs_per_s: float = 0.35
    """Base rate of taker orders; each prints 1-3 trades as it walks the book."""
    levels_per_side: int = 100
    depth_frac: float = 0.015
    """Where the snapshot's deepest levels sit (fraction of price); levels past 4/3 of it are pruned."""
    half_spread_bps: float = 1.3
    vol_bps_per_sqrt_s: float = 0.7
    """Base volatility: 0.7 bps per sqrt(second) is about 40 % a year."""
    signal_alpha_bps_per_min: float = 3.0
    """Drift per unit of latent signal in informed regimes."""
    signal_tau_s: float = 60.0
    """Memory of the latent signal (and of the uninformative imbalance driver)."""
    feed_lag_ms: float = 40.0
    """Mean delay from exchange time to receive time (uniform 0.5x-1.5x)."""

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise SynthConfigError(f"hours = {self.hours}: must be positive")
        if not 0 < self.min_regime_s <= self.max_regime_s:
            raise SynthConfigError("regime durations: need 0 < min_regime_s <= max_regime_s")
        if self.start_price is not None and not 1_000_000 <= self.start_price <= 100_000_000:
            raise SynthConfigError(f"start_price = {self.start_price}: expected a BTC/JPY price")
        if self.regimes is not None and not self.regimes:
            raise SynthConfigError("regimes: give at least one entry or None for random")

    @property
    def end_us(self) -> int:
        return self.start_us + round(self.hours * 3600 * US_PER_S)


# --------------------------------------------------------------------------- schedule
_SPEC_ITEM = re.compile(r"^([a-z_]+?)(?:_(up|down))?:(\d+(?:\.\d+)?)([smh])$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_regime_spec(text: str) -> tuple[RegimeSpec, ...]:
    """'trend_up:30m,meanrev:30m,burst:10m,wide:10m' -> specs (repeated by the generator)."""
    names = ", ".join(r.value for r in Regime)
    specs = []
    for raw in text.split(","):
        item = raw.strip().lower()
        m = _SPEC_ITEM.match(item)
        if not m:
            raise SynthConfigError(
                f"regimes: {raw.strip()!r} is not NAME:DURATION (e.g. trend:30m, burst:90s, "
                f"trend_up:1h; names: {names})"
            )
        name, way, amount, unit = m.groups()
        try:
            regime = Regime(name)
        except ValueError:
            raise SynthConfigError(f"regimes: unknown regime {name!r} (names: {names})") from None
        if way and regime is not Regime.TREND:
            raise SynthConfigError(f"regimes: {item!r}: only trend takes _up/_down")
        duration = float(amount) * _UNIT_S[unit]
        if duration <= 0:
            raise SynthConfigError(f"regimes: {item!r}: duration must be positive")
        direction = {"up": 1, "down": -1}.get(way or "", 0)
        specs.append(RegimeSpec(regime, duration, direction))
    return tuple(specs)


def regime_schedule(config: SynthConfig) -> tuple[RegimeSpan, ...]:
    """The regimes over the whole run; depends only on the config (not on the events)."""
    rng = random.Random(f"{config.seed}:schedule")
    spans: list[RegimeSpan] = []
    t = config.start_us
    end = config.end_us
    i = 0
    previous: Regime | None = None
    kinds = [k for k, _ in _RANDOM_REGIME_WEIGHTS]
    weights = [w for _, w in _RANDOM_REGIME_WEIGHTS]
    while t < end:
        if config.regimes is not None:
            spec = config.regimes[i % len(config.regimes)]
            regime, duration_s, direction = spec.regime, spec.duration_s, spec.direction
        else:
            regime = previous
            while regime is previous:
                regime = rng.choices(kinds, weights)[0]
            assert regime is not None
            duration_s = rng.uniform(config.min_regime_s, config.max_regime_s)
            direction = 0
        if regime is Regime.TREND and direction == 0:
            direction = rng.choice((1, -1))
        elif regime is not Regime.TREND:
            direction = 0
        stop = min(end, t + max(1, round(duration_s * US_PER_S)))
        spans.append(RegimeSpan(t, stop, regime, direction))
        previous = regime
        t = stop
        i += 1
    return tuple(spans)


# --------------------------------------------------------------------------- book side
class _Side:
    """One side of the generator's own book: price -> satoshi plus an ascending price list."""

    __slots__ = ("is_bid", "levels", "pending", "prices")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, int] = {}
        self.prices: list[int] = []
        self.pending: dict[int, int] = {}
        """Levels changed since the last emitted message -> amount the consumers last saw."""

    def best(self) -> int:
        return self.prices[-1] if self.is_bid else self.prices[0]

    def at_rank(self, rank: int) -> int:
        """Price `rank` levels away from the touch (0 = best)."""
        return self.prices[-1 - rank] if self.is_bid else self.prices[rank]

    def set(self, price: int, amount: int) -> None:
        levels = self.levels
        old = levels.get(price, 0)
        if price not in self.pending:
            self.pending[price] = old
        if amount > 0:
            if not old:
                insort(self.prices, price)
            levels[price] = amount
        elif old:
            del levels[price]
            del self.prices[bisect_left(self.prices, price)]

    def take_diff(self) -> tuple[Level, ...]:
        """Changed levels since the last call (best first), dropping no-op round trips."""
        levels = self.levels
        out = [
            (p, levels.get(p, 0)) for p, seen in self.pending.items() if levels.get(p, 0) != seen
        ]
        self.pending.clear()
        out.sort(reverse=self.is_bid)
        return tuple(out)

    def snapshot(self) -> tuple[Level, ...]:
        self.pending.clear()
        order = reversed(self.prices) if self.is_bid else iter(self.prices)
        return tuple((p, self.levels[p]) for p in order)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --------------------------------------------------------------------------- generator
class SyntheticMarket:
    """`SyntheticMarket(config).events()`: a BookSnapshot, then BookDiffs and TradePrints.

    `schedule` says which regime is in force when, before (or without) generating anything.
    Each `events()` call starts a fresh, identical run.
    """

    def __init__(self, config: SynthConfig | None = None) -> None:
        self.config = config or SynthConfig()
        self.schedule: tuple[RegimeSpan, ...] = regime_schedule(self.config)
        self._starts = [span.start_us for span in self.schedule]

    def regime_at(self, ts_us: int) -> RegimeSpan:
        """The regime in force at a receive time (clamped to the run)."""
        return self.schedule[max(0, bisect_left(self._starts, ts_us + 1) - 1)]

    def events(self) -> Iterator[MarketEvent]:
        """Stream the whole run; bounded memory (only the book and a few scalars are kept)."""
        return _MarketRun(self.config, self.schedule).events()


class _MarketRun:
    """The state of one generation run: random stream, latent processes, the book."""

    MIN_LEVELS = 20
    """Never let a side thin out below this: the book must never be empty."""
    MIN_SAT = 100_000  # 0.001 BTC
    MAX_SAT = SAT_PER_BTC  # 1 BTC

    def __init__(self, config: SynthConfig, schedule: tuple[RegimeSpan, ...]) -> None:
        self.config = config
        self.schedule = schedule
        self._rng = random.Random(config.seed)
        self._bids = _Side(True)
        self._asks = _Side(False)

    # ------------------------------------------------------------------ helpers
    def _size_sat(self, tilt: float) -> int:
        """A resting level's size: lognormal around 0.012 BTC, rounded like real orders."""
        rng = self._rng
        btc = 0.012 * math.exp(1.1 * rng.gauss(0.0, 1.0) + tilt)
        sat = min(self.MAX_SAT, max(self.MIN_SAT, int(btc * SAT_PER_BTC)))
        u = rng.random()
        quantum = 100_000 if u < 0.55 else 10_000 if u < 0.85 else 1
        return max(self.MIN_SAT, sat // quantum * quantum)

    def _taker_sat(self) -> int:
        rng = self._rng
        btc = 0.005 * math.exp(1.0 * rng.gauss(0.0, 1.0))
        sat = min(50_000_000, max(self.MIN_SAT, int(btc * SAT_PER_BTC)))
        quantum = 100_000 if rng.random() < 0.6 else 10_000
        return max(self.MIN_SAT, sat // quantum * quantum)

    def _initial_book(self, fair: float, half_spread: float) -> None:
        cfg = self.config
        rng = self._rng
        n = cfg.levels_per_side
        span = cfg.depth_frac * fair
        for side, sign in ((self._bids, -1), (self._asks, 1)):
            for i in range(n):
                # Denser near the touch, like the real book: distance grows as rank^1.7.
                d = half_spread + span * ((i + rng.random()) / n) ** 1.7
                price = math.floor(fair - d) if sign < 0 else math.ceil(fair + d)
                if price not in side.levels:
                    side.set(price, self._size_sat(0.0))

    # ------------------------------------------------------------------ the stream
    def events(self) -> Iterator[MarketEvent]:
        cfg = self.config
        rng = self._rng
        bids, asks = self._bids, self._asks

        x0 = math.log(cfg.start_price or rng.uniform(15_500_000, 17_500_000))
        x = x0
        z = 0.0  # latent informed signal (OU, unit stdev)
        w = 0.0  # uninformative imbalance driver (OU, unit stdev)
        v = 0.0  # spread jitter (OU)
        sigma_base = cfg.vol_bps_per_sqrt_s * 1e-4
        alpha = cfg.signal_alpha_bps_per_min * 1e-4 / 60.0
        tau = cfg.signal_tau_s
        hs_base = cfg.half_spread_bps * 1e-4
        max_depth = cfg.depth_frac * 4 / 3
        near_scale = 4e-4  # near-touch adds: exponential, 4 bps mean distance

        t = cfg.start_us
        end = cfg.end_us
        schedule = self.schedule
        k = 0
        span = schedule[0]
        p = span.params
        fair = math.exp(x)
        self._initial_book(fair, hs_base * fair * p.half_spread_mult)
        yield BookSnapshot(t, None, bids.snapshot(), asks.snapshot())

        anchor = x
        next_book = t + self._gap_us(cfg.book_msgs_per_s * p.book_rate_mult)
        next_trade = t + self._gap_us(cfg.trade_msgs_per_s * p.trade_rate_mult)
        last_exch = 0
        trade_id = 290_000_000 + rng.randrange(1_000_000)
        lag_us = cfg.feed_lag_ms * 1000.0
        gauss = rng.gauss
        rand = rng.random

        while True:
            is_book = next_book <= next_trade
            t_new = next_book if is_book else next_trade
            if t_new <= t:
                t_new = t + 1  # keep receive times strictly increasing
            if t_new >= end:
                return
            dt = (t_new - t) / US_PER_S
            t = t_new
            while t >= span.end_us and k + 1 < len(schedule):
                k += 1
                span = schedule[k]
                p = span.params
                anchor = x

            # Latent processes: exact OU steps, then an Euler step of the log price.
            decay = math.exp(-dt / tau)
            shock = math.sqrt(1.0 - decay * decay)
            target = p.signal_mean * span.direction
            z = target + (z - target) * decay + shock * gauss(0.0, 1.0)
            w = w * decay + shock * gauss(0.0, 1.0)
            vdecay = math.exp(-dt / 300.0)
            v = v * vdecay + math.sqrt(1.0 - vdecay * vdecay) * gauss(0.0, 1.0)
            drift = alpha * z if p.informed else 0.0
            if p.meanrev_half_life_s is not None:
                drift -= math.log(2) / p.meanrev_half_life_s * (x - anchor)
            if abs(x - x0) > 0.06:  # keep a long run inside a realistic price band
                drift -= 1e-4 * (x - x0)
            x += drift * dt + sigma_base * p.vol_mult * math.sqrt(dt) * gauss(0.0, 1.0)
            fair = math.exp(x)
            half_spread = max(2.0, hs_base * fair * p.half_spread_mult * math.exp(0.25 * v))
            signal = z if p.informed else w

            exch = max(last_exch, (t - int(lag_us * (0.5 + rand()))) // US_PER_S * US_PER_S)
            last_exch = exch
            if is_book:
                next_book = t + self._gap_us(cfg.book_msgs_per_s * p.book_rate_mult)
                self._book_message(
                    fair,
                    half_spread,
                    signal,
                    cfg.levels_per_msg * p.levels_mult,
                    max_depth,
                    near_scale,
                )
                diff_bids = bids.take_diff()
                diff_asks = asks.take_diff()
                if diff_bids or diff_asks:
                    yield BookDiff(t, exch, diff_bids, diff_asks)
            else:
                next_trade = t + self._gap_us(cfg.trade_msgs_per_s * p.trade_rate_mult)
                mid = (bids.best() + asks.best()) / 2
                flow = 1.5 * (fair - mid) / half_spread + (0.8 * z if p.informed else 0.0)
                taker = Side.BUY if rand() < _sigmoid(flow) else Side.SELL
                for price, amount in self._take(taker):
                    trade_id += 1 + (int(rand() * 3) if rand() < 0.3 else 0)
                    yield TradePrint(t, exch, trade_id, price, amount, taker)

    def _gap_us(self, rate_per_s: float) -> int:
        return max(1, int(self._rng.expovariate(rate_per_s) * US_PER_S))

    def _take(self, taker: Side) -> list[tuple[int, int]]:
        """A taker order walks the opposite side; returns the fills (price, satoshi)."""
        side = self._asks if taker is Side.BUY else self._bids
        remaining = self._taker_sat()
        fills = []
        while remaining >= self.MIN_SAT and len(side.prices) > self.MIN_LEVELS:
            price = side.best()
            resting = side.levels[price]
            fill = min(resting, remaining)
            if resting - fill < self.MIN_SAT:
                fill = resting  # no dust left behind: levels stay >= 0.001 BTC
            fills.append((price, fill))
            side.set(price, resting - fill)
            remaining -= fill
            if len(fills) >= 3:
                break
        return fills

    def _book_message(
        self,
        fair: float,
        half_spread: float,
        signal: float,
        levels_mean: float,
        max_depth: float,
        near_scale: float,
    ) -> None:
        """Apply one message's worth of changes to the book (recorded in each side's pending)."""
        rng = self._rng
        rand = rng.random
        bids, asks = self._bids, self._asks
        lo = 0.5 * half_spread
        hi = 1.5 * half_spread
        changes = 0

        # Quotes left inside the band around the fair price are cancelled or lifted.
        for _ in range(8):
            if len(asks.prices) > self.MIN_LEVELS and asks.best() < fair + lo:
                asks.set(asks.best(), 0)
                changes += 1
            if len(bids.prices) > self.MIN_LEVELS and bids.best() > fair - lo:
                bids.set(bids.best(), 0)
                changes += 1
        # Levels the price has left far behind are cancelled.
        while len(bids.prices) > self.MIN_LEVELS and bids.prices[0] < fair * (1 - max_depth):
            bids.set(bids.prices[0], 0)
            changes += 1
        while len(asks.prices) > self.MIN_LEVELS and asks.prices[-1] > fair * (1 + max_depth):
            asks.set(asks.prices[-1], 0)
            changes += 1
        # A touch too far from the fair price gets improved.
        if asks.best() > fair + hi:
            self._add(asks, fair, lo, rng.uniform(0.0, half_spread - lo), signal)
            changes += 1
        if bids.best() < fair - hi:
            self._add(bids, fair, lo, rng.uniform(0.0, half_spread - lo), signal)
            changes += 1

        # Ordinary flow: adds, cancels and amends, mostly near the touch, tilted by the signal.
        lam = rng.gammavariate(3.0, max(0.1, levels_mean - 1.0) / 3.0)
        n_changes = max(1, 1 + self._poisson(lam) - changes)
        target_n = self.config.levels_per_side
        tilt_side = 0.15 * math.tanh(0.6 * signal)  # >0: bids grow, asks thin
        for _ in range(n_changes):
            side = bids if rand() < 0.5 else asks
            n = len(side.prices)
            # Keep each side near its target size; the signal leans adds toward its side.
            lean = tilt_side if side.is_bid else -tilt_side
            p_add = min(0.9, max(0.1, 0.42 + lean + 1.2 * (target_n - n) / target_n))
            u = rand()
            if u < p_add:
                if rand() < 0.8:
                    dist = rng.expovariate(1.0 / near_scale) * fair
                else:
                    dist = rand() * max_depth * 0.8 * fair
                self._add(side, fair, lo, dist, signal)
                continue
            rank = int(rng.expovariate(1 / 12.0)) if rand() < 0.8 else int(rand() * n)
            price = side.at_rank(min(rank, n - 1))
            if u < p_add + (1 - p_add) * 0.7 and n > self.MIN_LEVELS:
                side.set(price, 0)
            else:
                side.set(price, self._size_sat(self._tilt(side, signal, fair, price)))

    def _tilt(self, side: _Side, signal: float, fair: float, price: int) -> float:
        """Log-size tilt: near the touch, the signal's side of the book gets deeper."""
        if abs(price - fair) > 15e-4 * fair:
            return 0.0
        return (0.5 if side.is_bid else -0.5) * signal

    def _add(self, side: _Side, fair: float, lo: float, dist: float, signal: float) -> None:
        if side.is_bid:
            price = math.floor(fair - lo - dist)
            if price >= self._asks.best():
                return
        else:
            price = math.ceil(fair + lo + dist)
            if price <= self._bids.best():
                return
        side.set(price, self._size_sat(self._tilt(side, signal, fair, price)))

    def _poisson(self, lam: float) -> int:
        """Knuth for small means, a rounded normal above (message sizes, not statistics)."""
        if lam > 30:
            return max(0, round(self._rng.gauss(lam, math.sqrt(lam))))
        threshold = math.exp(-lam)
        count = 0
        prod = self._rng.random()
        while prod > threshold:
            count += 1
            prod *= self._rng.random()
        return count
