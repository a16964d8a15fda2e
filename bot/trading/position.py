"""Position, balances and realized PnL, exact to the yen.

Cash flows are integers of price × satoshi (units of 1e-8 JPY), so nothing rounds; fees are
`Decimal`. Lots are matched FIFO. A round trip is one position cycle: from flat, through any
number of partial fills, back to flat (a fill that flips the position closes one cycle and
opens the next with the remainder).

Spot rules: BTC can never go below zero and JPY never below zero. A SHORT is honest spot
accounting: BTC sold from the inventory we hold, bought back later; its PnL is the price
difference, the inventory itself is not PnL.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from bot.market.events import SATOSHI_PER_BTC, Side
from bot.trading.fills import notional_jpy

_SAT = Decimal(SATOSHI_PER_BTC)
ZERO = Decimal(0)


class SpotBalanceError(Exception):
    """A fill would sell BTC not held or spend JPY not held: a bug upstream, never ignore it."""


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One closed position cycle."""

    side: Side  # BUY = long cycle, SELL = short cycle
    entry_ts_us: int
    exit_ts_us: int
    amount_sat: int
    entry_value: int  # Σ entry price × satoshi
    exit_value: int  # Σ exit price × satoshi
    fees_jpy: Decimal

    @property
    def gross_pnl_jpy(self) -> Decimal:
        return Decimal(int(self.side) * (self.exit_value - self.entry_value)) / _SAT

    @property
    def pnl_jpy(self) -> Decimal:
        """Net of fees."""
        return self.gross_pnl_jpy - self.fees_jpy

    @property
    def entry_price(self) -> Decimal:
        return Decimal(self.entry_value) / self.amount_sat

    @property
    def exit_price(self) -> Decimal:
        return Decimal(self.exit_value) / self.amount_sat


class Position:
    """Signed BTC position of the strategy plus the account balances it trades from."""

    __slots__ = (
        "_cycle_amount",
        "_cycle_entry_ts",
        "_cycle_entry_value",
        "_cycle_exit_value",
        "_cycle_fees",
        "_lots",
        "btc_sat",
        "fees_jpy",
        "jpy",
        "open_value",
        "position_sat",
        "realized_jpy",
    )

    def __init__(self, initial_jpy: Decimal, initial_btc_sat: int) -> None:
        self.jpy = Decimal(initial_jpy)
        self.btc_sat = int(initial_btc_sat)
        self.position_sat = 0  # > 0 long, < 0 short (inventory sold)
        self.realized_jpy = ZERO  # net of fees, closed cycles and partial closes
        self.fees_jpy = ZERO
        self._lots: deque[tuple[int, int]] = deque()  # (price, satoshi) of the open side
        self.open_value = 0  # Σ price × satoshi of the open lots
        self._reset_cycle()

    def _reset_cycle(self) -> None:
        self._cycle_entry_ts = 0
        self._cycle_entry_value = 0
        self._cycle_exit_value = 0
        self._cycle_amount = 0
        self._cycle_fees = ZERO

    @property
    def side(self) -> Side | None:
        if self.position_sat > 0:
            return Side.BUY
        if self.position_sat < 0:
            return Side.SELL
        return None

    @property
    def entry_price(self) -> Decimal | None:
        """Average price of the open lots."""
        if not self._lots:
            return None
        return Decimal(self.open_value) / abs(self.position_sat)

    def unrealized_jpy(self, mark_price: int) -> Decimal:
        sign = 1 if self.position_sat > 0 else -1
        value = mark_price * abs(self.position_sat) - self.open_value
        return Decimal(sign * value) / _SAT

    def equity_jpy(self, mark_price: int) -> Decimal:
        """Account value: JPY plus all BTC held at the mark."""
        return self.jpy + notional_jpy(mark_price, self.btc_sat)

    def apply_fill(
        self, side: Side, price: int, amount_sat: int, fee_jpy: Decimal, ts_us: int
    ) -> list[RoundTrip]:
        """Book one fill; returns the position cycles it closed (zero or one)."""
        if amount_sat <= 0:
            raise ValueError(f"fill amount must be positive, got {amount_sat}")
        value = price * amount_sat
        if side is Side.BUY:
            cost = Decimal(value) / _SAT + fee_jpy
            if cost > self.jpy:
                raise SpotBalanceError(
                    f"buy of {amount_sat} sat at {price} needs {cost} JPY, hold {self.jpy}"
                )
            self.jpy -= cost
            self.btc_sat += amount_sat
        else:
            if amount_sat > self.btc_sat:
                raise SpotBalanceError(f"sell of {amount_sat} sat but only {self.btc_sat} sat held")
            self.btc_sat -= amount_sat
            self.jpy += Decimal(value) / _SAT - fee_jpy
        self.fees_jpy += fee_jpy

        closed: list[RoundTrip] = []
        sign = int(side)
        remaining = amount_sat
        if self.position_sat == 0 or (self.position_sat > 0) == (sign > 0):
            self._open(price, remaining, fee_jpy, ts_us)
            self.position_sat += sign * remaining
            return closed

        # Reducing (and maybe flipping) the open position.
        closable = min(remaining, abs(self.position_sat))
        close_fee = fee_jpy if closable == amount_sat else fee_jpy * closable / amount_sat
        gross = 0
        left = closable
        pos_sign = 1 if self.position_sat > 0 else -1
        while left:
            lot_price, lot_qty = self._lots[0]
            take = min(left, lot_qty)
            gross += pos_sign * (price - lot_price) * take
            self.open_value -= lot_price * take
            if take == lot_qty:
                self._lots.popleft()
            else:
                self._lots[0] = (lot_price, lot_qty - take)
            left -= take
        self.realized_jpy += Decimal(gross) / _SAT - close_fee
        self.position_sat += sign * closable
        self._cycle_exit_value += price * closable
        self._cycle_fees += close_fee
        if self.position_sat == 0:
            closed.append(
                RoundTrip(
                    side=Side.BUY if pos_sign > 0 else Side.SELL,
                    entry_ts_us=self._cycle_entry_ts,
                    exit_ts_us=ts_us,
                    amount_sat=self._cycle_amount,
                    entry_value=self._cycle_entry_value,
                    exit_value=self._cycle_exit_value,
                    fees_jpy=self._cycle_fees,
                )
            )
            self._reset_cycle()
        rest = remaining - closable
        if rest:
            self._open(price, rest, fee_jpy - close_fee, ts_us)
            self.position_sat += sign * rest
        return closed

    def _open(self, price: int, amount_sat: int, fee_jpy: Decimal, ts_us: int) -> None:
        if self._cycle_amount == 0:
            self._cycle_entry_ts = ts_us
        self._lots.append((price, amount_sat))
        self.open_value += price * amount_sat
        self._cycle_entry_value += price * amount_sat
        self._cycle_amount += amount_sat
        self._cycle_fees += fee_jpy
        # Entry fees are part of the cycle's cost; they reach realized PnL when it closes.
        self.realized_jpy -= fee_jpy

    # ------------------------------------------------------------------ persistence
    def open_lots(self) -> list[tuple[int, int]]:
        """(price, satoshi) of the open lots, oldest first; with `restore` survives a restart."""
        return list(self._lots)

    def restore(
        self,
        lots: list[tuple[int, int]],
        side: Side | None,
        realized_jpy: Decimal,
        fees_jpy: Decimal,
    ) -> None:
        """Re-open the strategy position a previous run held (balances come from the exchange)."""
        self._lots = deque((int(p), int(q)) for p, q in lots)
        amount = sum(q for _, q in self._lots)
        sign = 0 if side is None else int(side)
        self.position_sat = sign * amount
        self.open_value = sum(p * q for p, q in self._lots)
        self.realized_jpy = Decimal(realized_jpy)
        self.fees_jpy = Decimal(fees_jpy)
        self._reset_cycle()
        if amount:
            self._cycle_amount = amount
            self._cycle_entry_value = self.open_value
