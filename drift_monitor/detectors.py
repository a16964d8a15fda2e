"""Detectors: compare recent performance and market with a baseline, one metric at a time.

Pure functions of data already read (round trips, market buckets) and an explicit `now`:
no clock, no I/O, so a crafted history gives the same answer every time.

Performance uses the round trips rebuilt from our fills and the metric definitions of
`bot.backtest.metrics` (per-trade net PnL, Sharpe not annualised). Market uses trades in
fixed buckets: Coincheck's book feed is diffs, and rebuilding the top of book for a day of
baseline on every check is too heavy; the taker-buy minus taker-sell price inside a bucket
tracks the quoted spread closely enough to see a regime change.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.backtest.metrics import metrics_from_pnls
from bot.config import (
    DriftLevelsAbove,
    DriftLevelsBelow,
    MarketDriftConfig,
    PerformanceDriftConfig,
)
from bot.storage.drift_store import MarketBucket
from bot.trading.position import RoundTrip
from drift_monitor.severity import (
    MetricResult,
    Status,
    grade_above,
    grade_below,
    grade_change,
    graded,
    unknown,
)

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 3_600_000_000


def _by_severity(levels: DriftLevelsAbove | DriftLevelsBelow) -> dict[str, float]:
    """The configured levels as reported in each metric's result."""
    return {"minor": levels.minor, "normal": levels.normal, "major": levels.major}


def _hours_label(hours: float) -> str:
    return f"{hours:g}h"


def _pnls(trips: Sequence[RoundTrip], after_us: float, until_us: float) -> list[Decimal]:
    """Net PnL of round trips closed in (after, until], in exit order."""
    return [t.pnl_jpy for t in trips if after_us < t.exit_ts_us <= until_us]


# --------------------------------------------------------------------------- performance
def sharpe_z(
    trips: Sequence[RoundTrip], now_us: int, window_hours: float, cfg: PerformanceDriftConfig
) -> MetricResult:
    """z = (mean_recent - mean_base) / (sd_base / sqrt(n_recent)).

    The recent window's per-trade Sharpe measured in baseline units, scaled by sqrt(n) so it
    reads as a z-score: if the recent trades came from the baseline distribution it would be
    within ±2 about 95 % of the time.
    """
    name = f"sharpe_z_{_hours_label(window_hours)}"
    levels = cfg.sharpe.levels
    lv = _by_severity(levels)
    start = now_us - window_hours * US_PER_HOUR
    recent = _pnls(trips, start, now_us)
    base = _pnls(trips, now_us - cfg.baseline_hours * US_PER_HOUR, start)
    if len(recent) < cfg.min_trades_window:
        return unknown(
            name,
            "performance",
            lv,
            f"{len(recent)} trades in the last {window_hours:g} h, need {cfg.min_trades_window}",
        )
    if len(base) < cfg.min_trades_baseline:
        return unknown(
            name,
            "performance",
            lv,
            f"{len(base)} baseline trades, need {cfg.min_trades_baseline}",
        )
    base_values = [float(p) for p in base]
    mean_base = statistics.fmean(base_values)
    sd_base = statistics.stdev(base_values)
    if sd_base == 0:
        return unknown(name, "performance", lv, "baseline trades all have the same PnL")
    mean_recent = statistics.fmean(float(p) for p in recent)
    z = (mean_recent - mean_base) / (sd_base / math.sqrt(len(recent)))
    grade = grade_below(z, levels)
    return graded(
        name,
        "performance",
        z,
        levels,
        grade,
        f"mean PnL {mean_recent:.0f} JPY over {len(recent)} trades vs baseline "
        f"{mean_base:.0f} ± {sd_base:.0f} JPY",
        {
            "trades": len(recent),
            "baseline_trades": len(base),
            "mean_pnl_jpy": mean_recent,
            "baseline_mean_pnl_jpy": mean_base,
            "baseline_sd_pnl_jpy": sd_base,
            "sharpe": metrics_from_pnls(recent).sharpe,
            "baseline_sharpe": metrics_from_pnls(base).sharpe,
        },
    )


def profit_factor(
    trips: Sequence[RoundTrip], now_us: int, cfg: PerformanceDriftConfig
) -> MetricResult:
    window = cfg.profit_factor.window_hours
    name = f"profit_factor_{_hours_label(window)}"
    levels = cfg.profit_factor.levels
    lv = _by_severity(levels)
    pnls = _pnls(trips, now_us - window * US_PER_HOUR, now_us)
    if len(pnls) < cfg.min_trades_window:
        return unknown(
            name,
            "performance",
            lv,
            f"{len(pnls)} trades in the last {window:g} h, need {cfg.min_trades_window}",
        )
    m = metrics_from_pnls(pnls)
    details = {
        "trades": m.trades,
        "gross_profit_jpy": float(m.gross_profit_jpy),
        "gross_loss_jpy": float(m.gross_loss_jpy),
        "win_rate": m.win_rate,
    }
    if m.profit_factor is None:
        if m.gross_profit_jpy > 0:
            return graded(
                name,
                "performance",
                math.inf,
                levels,
                (Status.OK, levels.minor),
                "no losing trade in the window",
                details,
            )
        return unknown(name, "performance", lv, "no winning or losing trade in the window")
    return graded(
        name,
        "performance",
        m.profit_factor,
        levels,
        grade_below(m.profit_factor, levels),
        f"gross profit {m.gross_profit_jpy:.0f} / gross loss {-m.gross_loss_jpy:.0f} JPY "
        f"over {m.trades} trades",
        details,
    )


def drawdown_growth(
    trips: Sequence[RoundTrip], now_us: int, cfg: PerformanceDriftConfig
) -> MetricResult:
    """Max drawdown of the recent window over max(baseline max drawdown, floor)."""
    dd = cfg.drawdown
    name = f"drawdown_ratio_{_hours_label(dd.window_hours)}"
    lv = _by_severity(dd.levels)
    start = now_us - dd.window_hours * US_PER_HOUR
    recent = _pnls(trips, start, now_us)
    base = _pnls(trips, now_us - cfg.baseline_hours * US_PER_HOUR, start)
    if len(recent) < cfg.min_trades_window:
        return unknown(
            name,
            "performance",
            lv,
            f"{len(recent)} trades in the last {dd.window_hours:g} h, need {cfg.min_trades_window}",
        )
    if len(base) < cfg.min_trades_baseline:
        return unknown(
            name, "performance", lv, f"{len(base)} baseline trades, need {cfg.min_trades_baseline}"
        )
    recent_dd = float(metrics_from_pnls(recent).max_drawdown_jpy)
    base_dd = float(metrics_from_pnls(base).max_drawdown_jpy)
    ratio = recent_dd / max(base_dd, dd.min_baseline_drawdown_jpy)
    return graded(
        name,
        "performance",
        ratio,
        dd.levels,
        grade_above(ratio, dd.levels),
        f"drawdown {recent_dd:.0f} JPY in the last {dd.window_hours:g} h vs baseline "
        f"{base_dd:.0f} JPY (floor {dd.min_baseline_drawdown_jpy:g})",
        {"drawdown_jpy": recent_dd, "baseline_drawdown_jpy": base_dd, "trades": len(recent)},
    )


def idle_time(
    trips: Sequence[RoundTrip],
    now_us: int,
    last_fill_us: int | None,
    market_active: bool | None,
    market_reason: str,
    cfg: PerformanceDriftConfig,
) -> MetricResult:
    """Minutes since our last fill over the baseline's mean minutes per round trip."""
    idle = cfg.idle
    name = "idle_ratio"
    lv = _by_severity(idle.levels)
    base = _pnls(trips, now_us - cfg.baseline_hours * US_PER_HOUR, now_us)
    if len(base) < cfg.min_trades_baseline:
        return unknown(
            name, "performance", lv, f"{len(base)} baseline trades, need {cfg.min_trades_baseline}"
        )
    if last_fill_us is None:
        return unknown(name, "performance", lv, "no fill of ours in the database")
    expected = cfg.baseline_hours * 60 / len(base)
    idle_minutes = max(0, now_us - last_fill_us) / US_PER_MINUTE
    ratio = idle_minutes / expected
    details = {"idle_minutes": idle_minutes, "expected_minutes_per_trade": expected}
    status, threshold = grade_above(ratio, idle.levels)
    text = f"{idle_minutes:.0f} min since our last fill, one trade every {expected:.1f} min"
    if status is not Status.OK:
        if market_active is None:
            return unknown(name, "performance", lv, f"{text}; {market_reason}")
        if not market_active:
            status, threshold = Status.OK, idle.levels.minor
            text += f"; not drift: {market_reason}"
    return graded(name, "performance", ratio, idle.levels, (status, threshold), text, details)


def detect_performance(
    trips: Sequence[RoundTrip],
    now_us: int,
    last_fill_us: int | None,
    market_active: bool | None,
    market_reason: str,
    cfg: PerformanceDriftConfig,
) -> list[MetricResult]:
    out: list[MetricResult] = []
    if cfg.sharpe.enabled:
        out += [sharpe_z(trips, now_us, w, cfg) for w in cfg.sharpe.windows_hours]
    if cfg.profit_factor.enabled:
        out.append(profit_factor(trips, now_us, cfg))
    if cfg.drawdown.enabled:
        out.append(drawdown_growth(trips, now_us, cfg))
    if cfg.idle.enabled:
        out.append(idle_time(trips, now_us, last_fill_us, market_active, market_reason, cfg))
    return out


def current_drawdown_jpy(trips: Sequence[RoundTrip], now_us: int, hours: float) -> Decimal:
    """How far cumulative net PnL of trips closed in the last `hours` sits below its peak."""
    peak = cum = Decimal(0)
    for p in _pnls(trips, now_us - hours * US_PER_HOUR, now_us):
        cum += p
        peak = max(peak, cum)
    return peak - cum


# --------------------------------------------------------------------------- market
@dataclass(frozen=True, slots=True)
class MarketWindows:
    """Market buckets split at `now - window`, with the log return that ends in each bucket."""

    recent: Sequence[MarketBucket]
    baseline: Sequence[MarketBucket]
    recent_returns: Sequence[float]
    baseline_returns: Sequence[float]
    window_minutes: float
    baseline_minutes: float
    """Minutes of baseline actually covered by data (less than configured when data is new)."""


def split_market(
    buckets: Sequence[MarketBucket], now_us: int, cfg: MarketDriftConfig
) -> MarketWindows:
    cut = now_us - cfg.window_minutes * US_PER_MINUTE
    recent = [b for b in buckets if b.start_us >= cut]
    baseline = [b for b in buckets if b.start_us < cut]
    recent_r: list[float] = []
    base_r: list[float] = []
    for prev, cur in itertools.pairwise(buckets):
        r = math.log(cur.last_price / prev.last_price)
        (recent_r if cur.start_us >= cut else base_r).append(r)
    covered = (cut - baseline[0].start_us) / US_PER_MINUTE if baseline else 0.0
    return MarketWindows(
        recent,
        baseline,
        recent_r,
        base_r,
        cfg.window_minutes,
        min(cfg.baseline_hours * 60 - cfg.window_minutes, covered),
    )


def _rms(values: Sequence[float]) -> float:
    return math.sqrt(sum(v * v for v in values) / len(values))


def market_activity(w: MarketWindows, ratio: float) -> tuple[bool | None, str]:
    """Is the market trading at least `ratio` times its baseline rate right now?"""
    base_trades = sum(b.trades for b in w.baseline)
    if not base_trades or w.baseline_minutes <= 0:
        return None, "market activity unknown: no baseline market trades"
    recent_rate = sum(b.trades for b in w.recent) / w.window_minutes
    base_rate = base_trades / w.baseline_minutes
    active = recent_rate >= ratio * base_rate
    word = "active" if active else "quiet"
    return active, (
        f"market {word}: {recent_rate:.1f} trades/min vs baseline {base_rate:.1f} trades/min"
    )


def _market_sparse(w: MarketWindows, cfg: MarketDriftConfig) -> str | None:
    base_trades = sum(b.trades for b in w.baseline)
    if base_trades < cfg.min_trades_baseline:
        return f"{base_trades} baseline market trades, need {cfg.min_trades_baseline}"
    return None


def volatility_change(w: MarketWindows, cfg: MarketDriftConfig) -> MetricResult:
    """RMS of bucket log returns, recent over baseline."""
    name, levels = "volatility_ratio", cfg.volatility
    lv = _by_severity(levels)
    sparse = _market_sparse(w, cfg)
    if sparse:
        return unknown(name, "market", lv, sparse)
    for label, returns in (("recent", w.recent_returns), ("baseline", w.baseline_returns)):
        if len(returns) < cfg.min_buckets:
            return unknown(
                name, "market", lv, f"{len(returns)} {label} price buckets, need {cfg.min_buckets}"
            )
    vol_r, vol_b = _rms(w.recent_returns), _rms(w.baseline_returns)
    if vol_b == 0:
        return unknown(name, "market", lv, "baseline price never moved")
    ratio = vol_r / vol_b
    return graded(
        name,
        "market",
        ratio,
        levels,
        grade_change(ratio, levels),
        f"RMS return per {cfg.bucket_seconds} s: {vol_r:.2e} vs baseline {vol_b:.2e}",
        {"volatility": vol_r, "baseline_volatility": vol_b},
    )


def price_move(w: MarketWindows, cfg: MarketDriftConfig) -> MetricResult:
    """The window's net move in baseline standard deviations: a sudden move, before losses."""
    name, levels = "price_move_z", cfg.price_move_z
    lv = _by_severity(levels)
    sparse = _market_sparse(w, cfg)
    if sparse:
        return unknown(name, "market", lv, sparse)
    if len(w.baseline_returns) < cfg.min_buckets or not w.recent:
        return unknown(
            name,
            "market",
            lv,
            f"{len(w.baseline_returns)} baseline price buckets (need {cfg.min_buckets}) "
            f"and {len(w.recent)} recent",
        )
    vol_b = _rms(w.baseline_returns)
    if vol_b == 0:
        return unknown(name, "market", lv, "baseline price never moved")
    start, end = w.baseline[-1].last_price, w.recent[-1].last_price
    move = math.log(end / start)
    n = cfg.window_minutes * 60 / cfg.bucket_seconds
    z = move / (vol_b * math.sqrt(n))
    status, level = grade_above(abs(z), levels)
    return graded(
        name,
        "market",
        z,
        levels,
        (status, math.copysign(level, z)),
        f"price {start} -> {end} JPY ({move * 100:+.2f} %) in {cfg.window_minutes:g} min",
        {"start_price": start, "end_price": end, "move": move},
    )


def spread_change(w: MarketWindows, cfg: MarketDriftConfig) -> MetricResult:
    """Median taker-buy minus taker-sell average price per bucket, recent over baseline."""
    name, levels = "spread_ratio", cfg.spread
    lv = _by_severity(levels)
    sparse = _market_sparse(w, cfg)
    if sparse:
        return unknown(name, "market", lv, sparse)
    medians: list[float] = []
    for label, buckets in (("recent", w.recent), ("baseline", w.baseline)):
        spreads = [
            b.taker_buy_avg - b.taker_sell_avg
            for b in buckets
            if b.taker_buy_avg is not None and b.taker_sell_avg is not None
        ]
        if len(spreads) < cfg.min_buckets:
            return unknown(
                name,
                "market",
                lv,
                f"{len(spreads)} {label} buckets with trades on both sides, need {cfg.min_buckets}",
            )
        medians.append(statistics.median(spreads))
    spread_r, spread_b = medians
    if spread_r <= 0 or spread_b <= 0:
        return unknown(name, "market", lv, "taker-side prices cross: no spread to measure")
    ratio = spread_r / spread_b
    return graded(
        name,
        "market",
        ratio,
        levels,
        grade_change(ratio, levels),
        f"median effective spread {spread_r:.0f} JPY vs baseline {spread_b:.0f} JPY",
        {"spread_jpy": spread_r, "baseline_spread_jpy": spread_b},
    )


def trade_rate_change(w: MarketWindows, cfg: MarketDriftConfig) -> MetricResult:
    name, levels = "trade_rate_ratio", cfg.trade_rate
    lv = _by_severity(levels)
    sparse = _market_sparse(w, cfg)
    if sparse:
        return unknown(name, "market", lv, sparse)
    recent = sum(b.trades for b in w.recent)
    if recent == 0:
        return unknown(
            name,
            "market",
            lv,
            f"no market trade in the last {cfg.window_minutes:g} min: feed down or exchange halted?",
        )
    rate_r = recent / w.window_minutes
    rate_b = sum(b.trades for b in w.baseline) / w.baseline_minutes
    ratio = rate_r / rate_b
    return graded(
        name,
        "market",
        ratio,
        levels,
        grade_change(ratio, levels),
        f"{rate_r:.1f} trades/min vs baseline {rate_b:.1f} trades/min",
        {"trades_per_minute": rate_r, "baseline_trades_per_minute": rate_b},
    )


def detect_market(w: MarketWindows, cfg: MarketDriftConfig) -> list[MetricResult]:
    return [
        volatility_change(w, cfg),
        price_move(w, cfg),
        spread_change(w, cfg),
        trade_rate_change(w, cfg),
    ]
