"""Risk limits checked before every entry: drawdown halt, position size, spot balances."""

from __future__ import annotations

from decimal import Decimal

from bot.config import TradeParams
from bot.market.events import Side
from bot.trading.fills import fee_jpy, notional_jpy
from bot.trading.position import Position


class RiskLimits:
    """Says whether an entry order may be sent, and why not when it may not."""

    __slots__ = ("_max_dd_fraction", "_ratio", "_taker_fee", "halt_reason", "peak_realized")

    def __init__(self, params: TradeParams) -> None:
        self.peak_realized = Decimal(0)
        self.halt_reason: str | None = None
        self.update_params(params)

    def update_params(self, params: TradeParams) -> None:
        self._max_dd_fraction = Decimal(str(params.risk.max_drawdown_percent)) / 100
        self._ratio = Decimal(str(params.risk.max_position_ratio))
        self._taker_fee = params.fees.taker

    @property
    def halted(self) -> bool:
        return self.halt_reason is not None

    def record_realized(self, realized_jpy: Decimal, initial_equity: Decimal) -> None:
        """After each closed round trip: halt new entries once drawdown passes the limit."""
        self.peak_realized = max(self.peak_realized, realized_jpy)
        drawdown = self.peak_realized - realized_jpy
        limit = initial_equity * self._max_dd_fraction
        if self.halt_reason is None and drawdown >= limit > 0:
            self.halt_reason = (
                f"drawdown {drawdown:.0f} JPY reached max_drawdown_percent "
                f"({self._max_dd_fraction * 100:g}% of {initial_equity:.0f} JPY)"
            )

    def entry_refusal(
        self, side: Side, price: int, amount_sat: int, position: Position, mark_price: int
    ) -> str | None:
        """None when the entry is allowed; otherwise the reason it is not."""
        if self.halt_reason is not None:
            return "halted"
        notional = notional_jpy(price, amount_sat)
        equity = position.equity_jpy(mark_price)
        if notional > equity * self._ratio:
            return "max_position_ratio"
        if side is Side.BUY:
            if notional + fee_jpy(price, amount_sat, self._taker_fee) > position.jpy:
                return "insufficient_jpy"
        elif amount_sat > position.btc_sat:
            return "insufficient_btc"  # spot: a short sells only BTC we hold
        return None
