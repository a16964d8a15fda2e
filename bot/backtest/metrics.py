"""Performance metrics of closed round trips: the numbers a trader reads first.

Definitions (the same for simulate, the optimizer, reports and the drift monitor):
- win rate: share of round trips with net PnL > 0;
- profit factor: Σ winning net PnL / |Σ losing net PnL| (undefined without a loss);
- Sharpe: mean / sample standard deviation of per-trade net PnL, not annualised
  (undefined below 2 trades or with zero spread);
- max drawdown: largest fall of cumulative net PnL from its running peak, starting at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from bot.trading.position import RoundTrip

ZERO = Decimal(0)


@dataclass(frozen=True)
class PerformanceMetrics:
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None
    sharpe: float | None
    max_drawdown_jpy: Decimal
    pnl_jpy: Decimal
    fees_jpy: Decimal
    gross_profit_jpy: Decimal
    gross_loss_jpy: Decimal

    def as_json(self) -> dict[str, Any]:
        """JSON-friendly: Decimals become floats rounded to 0.01 JPY for display."""
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, Decimal):
                out[k] = float(round(v, 2))
        return out


def compute_metrics(trades: Sequence[RoundTrip]) -> PerformanceMetrics:
    return metrics_from_pnls([t.pnl_jpy for t in trades], sum((t.fees_jpy for t in trades), ZERO))


def metrics_from_pnls(pnls: Sequence[Decimal], fees_jpy: Decimal = ZERO) -> PerformanceMetrics:
    """Metrics from per-trade net PnLs (in order)."""
    n = len(pnls)
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_profit = sum(wins, ZERO)
    gross_loss = sum(losses, ZERO)
    peak = cum = ZERO
    max_dd = ZERO
    for p in pnls:
        cum += p
        peak = max(peak, cum)
        max_dd = max(max_dd, peak - cum)
    sharpe: float | None = None
    if n >= 2:
        values = [float(p) for p in pnls]
        mean = sum(values) / n
        var = sum((v - mean) ** 2 for v in values) / (n - 1)
        if var > 0:
            sharpe = mean / math.sqrt(var)
    return PerformanceMetrics(
        trades=n,
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / n if n else None,
        profit_factor=float(gross_profit / -gross_loss) if gross_loss < 0 else None,
        sharpe=sharpe,
        max_drawdown_jpy=max_dd,
        pnl_jpy=cum,
        fees_jpy=fees_jpy,
        gross_profit_jpy=gross_profit,
        gross_loss_jpy=gross_loss,
    )
