"""Typed rows for the append-only tables the writer fills, and market events -> rows.

Field names are the column names. Fields listed in `TIMES` hold UTC microseconds since the
epoch (the event clock) and become `timestamptz`. Each row carries its idempotent key
(`id`, `fill_id`, a client-generated uuid, ...) so a replayed row is never stored twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import ClassVar, Literal

from bot.market.events import BookDiff, BookSnapshot, MarketEvent, Side, TradePrint

Mode = Literal["paper", "live", "backtest"]
LatencyKind = Literal["tick_to_order", "order_round_trip", "feed_lag"]
OrderState = Literal[
    "new",
    "open",
    "partially_filled",
    "filled",
    "cancel_requested",
    "cancelled",
    "rejected",
    "expired",
]
ParamSource = Literal["optimizer", "manual", "rollback", "template"]
Severity = Literal["none", "minor", "normal", "major", "unknown"]  # see 0011_drift.sql


@dataclass(frozen=True, slots=True)
class BookDiffRow:
    """A book diff (or a REST snapshot when `is_snapshot`) with levels in received order."""

    TABLE: ClassVar[str] = "market_book_diffs"
    TIMES: ClassVar[tuple[str, ...]] = ("ts", "exchange_ts")
    id: int
    ts: int
    exchange_ts: int | None
    is_snapshot: bool
    bid_prices: tuple[int, ...]
    bid_amounts_sat: tuple[int, ...]
    ask_prices: tuple[int, ...]
    ask_amounts_sat: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TradeRow:
    TABLE: ClassVar[str] = "market_trades"
    TIMES: ClassVar[tuple[str, ...]] = ("ts", "exchange_ts")
    id: int
    ts: int
    exchange_ts: int | None
    trade_id: int
    price: int
    amount_sat: int
    taker_side: int


@dataclass(frozen=True, slots=True)
class BenchmarkPriceRow:
    """Mid price for the buy-and-hold comparison; one per timestamp."""

    TABLE: ClassVar[str] = "benchmark_prices"
    TIMES: ClassVar[tuple[str, ...]] = ("ts",)
    ts: int
    mid_price: Decimal


@dataclass(frozen=True, slots=True)
class OrderEventRow:
    """One state change of one of our orders."""

    TABLE: ClassVar[str] = "order_events"
    TIMES: ClassVar[tuple[str, ...]] = ("ts",)
    ts: int
    client_order_id: str
    exchange_order_id: int | None
    mode: Mode
    side: int
    price: int | None
    amount_sat: int
    filled_sat: int
    state: OrderState
    reason: str | None = None
    params_version_id: uuid.UUID | None = None
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class FillRow:
    """One of our fills; `fill_id` is the exchange's transaction id."""

    TABLE: ClassVar[str] = "own_fills"
    TIMES: ClassVar[tuple[str, ...]] = ("ts",)
    fill_id: int
    ts: int
    mode: Mode
    side: int
    price: int
    amount_sat: int
    fee_jpy: Decimal = Decimal(0)
    liquidity: Literal["M", "T"] | None = None
    client_order_id: str | None = None
    exchange_order_id: int | None = None


@dataclass(frozen=True, slots=True)
class PositionSnapshotRow:
    TABLE: ClassVar[str] = "position_snapshots"
    TIMES: ClassVar[tuple[str, ...]] = ("ts",)
    ts: int
    mode: Mode
    position_sat: int
    avg_entry_price: Decimal | None
    realized_pnl_jpy: Decimal
    unrealized_pnl_jpy: Decimal
    fees_jpy: Decimal
    mid_price: Decimal | None = None
    snapshot_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class PerformanceReportRow:
    TABLE: ClassVar[str] = "performance_reports"
    TIMES: ClassVar[tuple[str, ...]] = ("ts",)
    ts: int
    window_hours: int
    mode: str
    trades: int
    win_rate: float | None
    profit_factor: float | None
    sharpe: float | None
    max_drawdown_jpy: Decimal
    pnl_jpy: Decimal
    fees_jpy: Decimal
    report_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class LatencySampleRow:
    TABLE: ClassVar[str] = "latency_samples"
    TIMES: ClassVar[tuple[str, ...]] = ("ts",)
    ts: int
    kind: LatencyKind
    value_us: int
    sample_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class ParameterVersionRow:
    """A parameter set the bot applied; `params` is JSON text."""

    TABLE: ClassVar[str] = "parameter_versions"
    TIMES: ClassVar[tuple[str, ...]] = ("ts",)
    ts: int
    source: ParamSource
    checksum: str
    params: str
    run_id: uuid.UUID | None = None
    version_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True, slots=True)
class DriftEventRow:
    """`details` is JSON text."""

    TABLE: ClassVar[str] = "drift_events"
    TIMES: ClassVar[tuple[str, ...]] = ("ts",)
    ts: int
    detector: str
    severity: Severity
    metric: str
    value: float | None
    threshold: float | None
    details: str = "{}"
    job_id: uuid.UUID | None = None
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)


Row = (
    BookDiffRow
    | TradeRow
    | BenchmarkPriceRow
    | OrderEventRow
    | FillRow
    | PositionSnapshotRow
    | PerformanceReportRow
    | LatencySampleRow
    | ParameterVersionRow
    | DriftEventRow
)
ROW_TYPES: tuple[type[Row], ...] = (
    BookDiffRow,
    TradeRow,
    BenchmarkPriceRow,
    OrderEventRow,
    FillRow,
    PositionSnapshotRow,
    PerformanceReportRow,
    LatencySampleRow,
    ParameterVersionRow,
    DriftEventRow,
)


class MarketSequence:
    """Row ids for market events: receive µs * 1000 + n, strictly increasing.

    Deterministic for a given event stream (no wall clock), so recording the same stream twice
    gives the same ids and the second copy is dropped as a duplicate. Ordering by id restores
    the arrival order across diffs and trades, even within one microsecond.
    """

    def __init__(self) -> None:
        self._last = -1

    def next(self, ts_us: int) -> int:
        candidate = ts_us * 1000
        self._last = candidate if candidate > self._last else self._last + 1
        return self._last


def _split(levels: tuple[tuple[int, int], ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(p for p, _ in levels), tuple(a for _, a in levels)


def market_event_row(event: MarketEvent, row_id: int) -> BookDiffRow | TradeRow:
    """The row that stores `event` exactly (levels in order, both timestamps)."""
    if isinstance(event, TradePrint):
        return TradeRow(
            id=row_id,
            ts=event.ts_us,
            exchange_ts=event.exchange_ts_us,
            trade_id=event.trade_id,
            price=event.price,
            amount_sat=event.amount_sat,
            taker_side=int(event.taker_side),
        )
    bid_prices, bid_amounts = _split(event.bids)
    ask_prices, ask_amounts = _split(event.asks)
    return BookDiffRow(
        id=row_id,
        ts=event.ts_us,
        exchange_ts=event.exchange_ts_us,
        is_snapshot=isinstance(event, BookSnapshot),
        bid_prices=bid_prices,
        bid_amounts_sat=bid_amounts,
        ask_prices=ask_prices,
        ask_amounts_sat=ask_amounts,
    )


def market_event_from_row(row: BookDiffRow | TradeRow) -> MarketEvent:
    """Inverse of market_event_row."""
    if isinstance(row, TradeRow):
        return TradePrint(
            ts_us=row.ts,
            exchange_ts_us=row.exchange_ts,
            trade_id=row.trade_id,
            price=row.price,
            amount_sat=row.amount_sat,
            taker_side=Side(row.taker_side),
        )
    bids = tuple(zip(row.bid_prices, row.bid_amounts_sat, strict=True))
    asks = tuple(zip(row.ask_prices, row.ask_amounts_sat, strict=True))
    cls = BookSnapshot if row.is_snapshot else BookDiff
    return cls(ts_us=row.ts, exchange_ts_us=row.exchange_ts, bids=bids, asks=asks)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_from_us(ts_us: int) -> datetime:
    """µs since the epoch -> aware UTC datetime, exactly (no float on the way)."""
    return _EPOCH + timedelta(microseconds=ts_us)


def us_from_utc(ts: datetime) -> int:
    """Aware datetime -> µs since the epoch, exactly."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
