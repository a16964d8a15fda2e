"""Typed Coincheck REST replies (private and public), parsed from the wire JSON."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.exchange.wire import WireFormatError
from bot.market.events import btc_to_sat, price_to_int


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _opt_price(value: Any) -> int | None:
    return price_to_int(value) if value is not None else None


def _opt_sat(value: Any) -> int | None:
    return btc_to_sat(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class OrderAck:
    """Reply to `POST /api/exchange/orders`. `reconciled` = learnt after an ambiguous failure."""

    id: int
    order_type: str
    rate: int | None
    amount_sat: int | None
    market_buy_amount_jpy: Decimal | None
    time_in_force: str
    pair: str
    created_at: str
    reconciled: bool = False

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> OrderAck:
        mba = d.get("market_buy_amount")
        return cls(
            id=int(d["id"]),
            order_type=str(d["order_type"]),
            rate=_opt_price(d.get("rate")),
            amount_sat=_opt_sat(d.get("amount")),
            market_buy_amount_jpy=Decimal(str(mba)) if mba is not None else None,
            time_in_force=str(d.get("time_in_force") or "good_til_cancelled"),
            pair=str(d.get("pair", "btc_jpy")),
            created_at=str(d.get("created_at", "")),
        )


@dataclass(frozen=True, slots=True)
class OpenOrder:
    id: int
    order_type: str
    rate: int | None
    pair: str
    pending_amount_sat: int | None
    pending_market_buy_amount_jpy: Decimal | None
    created_at: str

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> OpenOrder:
        pmba = d.get("pending_market_buy_amount")
        return cls(
            id=int(d["id"]),
            order_type=str(d["order_type"]),
            rate=_opt_price(d.get("rate")),
            pair=str(d.get("pair", "btc_jpy")),
            pending_amount_sat=_opt_sat(d.get("pending_amount")),
            pending_market_buy_amount_jpy=Decimal(str(pmba)) if pmba is not None else None,
            created_at=str(d.get("created_at", "")),
        )


@dataclass(frozen=True, slots=True)
class CancelStatus:
    id: int
    cancelled: bool
    created_at: str


@dataclass(frozen=True, slots=True)
class Transaction:
    """One of our own fills. funds are signed flows excluding the fee (jpy, btc)."""

    id: int
    order_id: int
    created_at: str
    funds_btc: Decimal
    funds_jpy: Decimal
    pair: str
    rate: int
    fee_currency: str | None
    fee: Decimal
    liquidity: str
    side: str

    @property
    def amount_sat(self) -> int:
        return abs(btc_to_sat(str(self.funds_btc)))

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Transaction:
        funds = d.get("funds") or {}
        return cls(
            id=int(d["id"]),
            order_id=int(d["order_id"]),
            created_at=str(d.get("created_at", "")),
            funds_btc=_dec(funds.get("btc")),
            funds_jpy=_dec(funds.get("jpy")),
            pair=str(d.get("pair", "btc_jpy")),
            rate=price_to_int(d["rate"]),
            fee_currency=d.get("fee_currency"),
            fee=_dec(d.get("fee")),
            liquidity=str(d.get("liquidity", "")),
            side=str(d.get("side", "")),
        )


@dataclass(frozen=True, slots=True)
class TransactionsPage:
    transactions: list[Transaction]
    limit: int
    order: str
    starting_after: int | None
    ending_before: int | None


@dataclass(frozen=True, slots=True)
class Balance:
    """Free and reserved funds; `jpy`/`btc` are what Coincheck calls them: available funds."""

    jpy: Decimal
    btc: Decimal
    jpy_reserved: Decimal
    btc_reserved: Decimal

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Balance:
        return cls(
            jpy=_dec(d.get("jpy")),
            btc=_dec(d.get("btc")),
            jpy_reserved=_dec(d.get("jpy_reserved")),
            btc_reserved=_dec(d.get("btc_reserved")),
        )


@dataclass(frozen=True, slots=True)
class Ticker:
    last: int | None
    bid: int | None
    ask: int | None
    high: int | None
    low: int | None
    volume: Decimal
    timestamp: int

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Ticker:
        try:
            return cls(
                last=_opt_price(d.get("last")),
                bid=_opt_price(d.get("bid")),
                ask=_opt_price(d.get("ask")),
                high=_opt_price(d.get("high")),
                low=_opt_price(d.get("low")),
                volume=_dec(d.get("volume")),
                timestamp=int(d.get("timestamp", 0)),
            )
        except (TypeError, ValueError) as exc:
            raise WireFormatError(f"ticker: {exc}") from None


@dataclass(frozen=True, slots=True)
class PublicTrade:
    id: int
    rate: int
    amount_sat: int
    order_type: str
    pair: str
    created_at: str

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> PublicTrade:
        return cls(
            id=int(d["id"]),
            rate=price_to_int(d["rate"]),
            amount_sat=btc_to_sat(d["amount"]),
            order_type=str(d.get("order_type", "")),
            pair=str(d.get("pair", "btc_jpy")),
            created_at=str(d.get("created_at", "")),
        )
