"""Prometheus metrics of the bot (its own registry, so tests can run several bots)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
)


class BotMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events = Counter(
            "bot_events_processed", "Market events processed", ["kind"], registry=r
        )
        self.signals = Counter(
            "bot_signals", "Signals that fired (held long enough)", ["direction"], registry=r
        )
        self.orders = Counter("bot_orders", "Orders by outcome", ["outcome"], registry=r)
        self.fills = Counter("bot_fills", "Own fills", ["side"], registry=r)
        self.position_btc = Gauge("bot_position_btc", "Signed strategy position, BTC", registry=r)
        self.realized_pnl = Gauge(
            "bot_realized_pnl_jpy", "Realized PnL net of fees, JPY", registry=r
        )
        self.unrealized_pnl = Gauge(
            "bot_unrealized_pnl_jpy", "Unrealized PnL at mid, JPY", registry=r
        )
        self.round_trips = Counter(
            "bot_round_trips", "Closed position cycles", ["result"], registry=r
        )
        self.tick_to_order = Histogram(
            "bot_tick_to_order_seconds", "WS message received -> order request sent",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.order_round_trip = Histogram(
            "bot_order_round_trip_seconds", "Order request sent -> exchange reply",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.reconnects = Counter("bot_ws_reconnects", "WebSocket reconnects", registry=r)
        self.malformed_frames = Counter(
            "bot_ws_malformed_frames", "Malformed frames skipped", registry=r
        )
        self.reloads = Counter("bot_params_reloads", "Params file reloads", ["outcome"], registry=r)
        self.writer_queue = Gauge(
            "bot_db_writer_queue_rows", "Rows waiting for the database", registry=r
        )
        self.writer_spill = Gauge(
            "bot_db_writer_spill_rows", "Rows spilled to disk during an outage", registry=r
        )
        self.feed_age = Gauge(
            "bot_feed_age_seconds", "Seconds since the last market message", registry=r
        )
        self.halted = Gauge(
            "bot_halted", "1 while new entries are halted by the drawdown limit", registry=r
        )
        self.book_trusted = Gauge(
            "bot_book_trusted", "1 while the order book is trustworthy", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
