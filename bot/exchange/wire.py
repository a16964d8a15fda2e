"""Coincheck public wire formats: parse and encode WebSocket and REST market messages.

Pure functions (no I/O imports) so the live client, the recording loader, the synthetic
generator and the simulator all share exactly one definition of the protocol.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.market.events import (
    SATOSHI_PER_BTC,
    BookDiff,
    BookSnapshot,
    Level,
    Side,
    TradePrint,
    btc_to_sat,
    price_to_int,
)

PAIR = "btc_jpy"
ORDERBOOK_CHANNEL = f"{PAIR}-orderbook"
TRADES_CHANNEL = f"{PAIR}-trades"


class WireFormatError(ValueError):
    """A message that is not valid Coincheck protocol; the text says what is wrong."""


def _levels(raw: Any, where: str) -> tuple[Level, ...]:
    # Hot path (every frame of the live feed): same conversions as price_to_int/btc_to_sat,
    # inlined; anything unusual falls through to the checked loop for its error message.
    if type(raw) is list:
        out: list[Level] = []
        append = out.append
        try:
            for item in raw:
                if type(item) is not list or len(item) != 2:
                    break
                rate = float(item[0])
                price = round(rate)
                btc = float(item[1])
                amount = round(btc * SATOSHI_PER_BTC)
                # Plain cases only: on-tick positive rate, in-range amount, not sub-satoshi.
                if rate != price or not 0 < price <= 10**12 or not 0 <= btc <= 1e7:
                    break
                if amount == 0 and btc != 0:
                    break
                append((price, amount))
            else:
                return tuple(out)
        except (TypeError, ValueError, OverflowError):
            pass
    return _levels_checked(raw, where)


def _levels_checked(raw: Any, where: str) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise WireFormatError(f"{where}: expected a list of [rate, amount]")
    out = []
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise WireFormatError(f"{where}: level {item!r} is not [rate, amount]")
        try:
            price = price_to_int(item[0])
            amount = btc_to_sat(item[1])
        except (TypeError, ValueError, OverflowError):
            raise WireFormatError(f"{where}: level {item!r} has a non-numeric field") from None
        if price <= 0 or amount < 0:
            raise WireFormatError(f"{where}: level {item!r} has a negative or zero rate")
        out.append((price, amount))
    return tuple(out)


def _trade(raw: list[Any], recv_ts_us: int) -> TradePrint:
    # Current shape: [unix_s, id, pair, rate, amount, taker_side, taker_order_id, maker_order_id]
    # Older shape:   [id, pair, rate, amount, side]
    try:
        if len(raw) >= 6 and isinstance(raw[2], str) and not _is_number(raw[2]):
            ts_s, trade_id, rate, amount, side = raw[0], raw[1], raw[3], raw[4], raw[5]
            exchange_ts_us: int | None = _unix_us(ts_s)
        elif len(raw) == 5:
            trade_id, rate, amount, side = raw[0], raw[2], raw[3], raw[4]
            exchange_ts_us = None
        else:
            raise WireFormatError(f"trade {raw!r}: unknown shape ({len(raw)} fields)")
        if side not in ("buy", "sell"):
            raise WireFormatError(f"trade {raw!r}: taker side {side!r} is not buy/sell")
        price, amount_sat = price_to_int(rate), btc_to_sat(amount)
        if price <= 0 or amount_sat <= 0:
            raise WireFormatError(f"trade {raw!r}: rate and amount must be positive")
        return TradePrint(
            ts_us=recv_ts_us,
            exchange_ts_us=exchange_ts_us,
            trade_id=int(trade_id),
            price=price,
            amount_sat=amount_sat,
            taker_side=Side.BUY if side == "buy" else Side.SELL,
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, WireFormatError):
            raise
        raise WireFormatError(f"trade {raw!r}: non-numeric field") from None


def _unix_us(text: Any) -> int:
    """Coincheck unix seconds ('1754229665') -> microseconds; ValueError when not a time."""
    value = float(text)
    if not 0 <= value < 1e11:
        raise ValueError(f"{text!r} is not a unix time in seconds")
    return int(value) * 1_000_000


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_ws_message(raw: str | bytes, recv_ts_us: int) -> BookDiff | list[TradePrint] | None:
    """Parse one public WebSocket frame.

    Returns a BookDiff, a list of trades, or None for frames that carry no market data
    (subscription acknowledgements, other pairs). Raises WireFormatError otherwise.
    """
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireFormatError(f"not JSON: {exc}") from None
    if isinstance(msg, dict):
        return None  # control frames
    if not isinstance(msg, list) or not msg:
        raise WireFormatError("expected a non-empty JSON array")
    first = msg[0]
    if isinstance(first, str) and len(msg) == 2 and isinstance(msg[1], dict):
        # Order book: ["btc_jpy", {"bids": [...], "asks": [...], "last_update_at": "..."}]
        if first != PAIR:
            return None
        body = msg[1]
        ts = body.get("last_update_at")
        try:
            exchange_ts_us = _unix_us(ts) if ts is not None else None
        except (TypeError, ValueError):
            raise WireFormatError(f"orderbook: last_update_at {ts!r} is not a number") from None
        return BookDiff(
            ts_us=recv_ts_us,
            exchange_ts_us=exchange_ts_us,
            bids=_levels(body.get("bids", []), "orderbook bids"),
            asks=_levels(body.get("asks", []), "orderbook asks"),
        )
    if isinstance(first, list):
        trades = [_trade(t, recv_ts_us) for t in msg if isinstance(t, list)]
        if len(trades) != len(msg):
            raise WireFormatError("trades: every element must be an array")
        return [t for t in trades]
    if isinstance(first, str | int) and len(msg) == 5:
        return [_trade(msg, recv_ts_us)]  # the older flat single-trade shape
    raise WireFormatError(f"unknown message shape starting with {first!r}")


def parse_order_books(body: dict[str, Any], recv_ts_us: int) -> BookSnapshot:
    """REST `GET /api/order_books` reply -> snapshot."""
    if not isinstance(body, dict) or "bids" not in body or "asks" not in body:
        raise WireFormatError("order_books: expected an object with bids and asks")
    return BookSnapshot(
        ts_us=recv_ts_us,
        exchange_ts_us=None,
        bids=_levels(body["bids"], "order_books bids"),
        asks=_levels(body["asks"], "order_books asks"),
    )


# --------------------------------------------------------------------------- encoding
def format_rate(price: int) -> str:
    return f"{price}.0"


def format_amount(sat: int) -> str:
    """Satoshi -> Coincheck amount string ('0.03', '0.0')."""
    whole, frac = divmod(sat, 100_000_000)
    text = f"{whole}.{frac:08d}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def encode_levels(levels: Sequence[Level]) -> list[list[str]]:
    return [[format_rate(p), format_amount(a)] for p, a in levels]


def encode_book_diff(diff: BookDiff) -> str:
    ts_s = (diff.exchange_ts_us if diff.exchange_ts_us is not None else diff.ts_us) // 1_000_000
    body = {
        "bids": encode_levels(diff.bids),
        "asks": encode_levels(diff.asks),
        "last_update_at": str(ts_s),
    }
    return json.dumps([PAIR, body], separators=(",", ":"))


def _amount_text(sat: int) -> str:
    whole, frac = divmod(sat, 100_000_000)
    return f"{whole}.0" if frac == 0 else f"{whole}.{frac:08d}".rstrip("0")


def encode_book_diff_at(diff: BookDiff, last_update_at_s: int) -> str:
    """encode_book_diff with a given `last_update_at`, byte for byte, built without json.dumps.

    The simulator's hot path: rates and amounts are digits and dots, so nothing needs escaping.
    """
    bids = ",".join([f'["{p}.0","{_amount_text(a)}"]' for p, a in diff.bids])
    asks = ",".join([f'["{p}.0","{_amount_text(a)}"]' for p, a in diff.asks])
    return f'["{PAIR}",{{"bids":[{bids}],"asks":[{asks}],"last_update_at":"{last_update_at_s}"}}]'


def encode_trades(trades: Sequence[TradePrint], order_ids: Sequence[tuple[int, int]] = ()) -> str:
    """Current trades shape; order ids default to 0 when unknown."""
    rows = []
    for i, t in enumerate(trades):
        taker_id, maker_id = order_ids[i] if i < len(order_ids) else (0, 0)
        ts = t.exchange_ts_us if t.exchange_ts_us is not None else t.ts_us
        rows.append(
            [
                str(ts // 1_000_000),
                str(t.trade_id),
                PAIR,
                format_rate(t.price),
                format_amount(t.amount_sat),
                "buy" if t.taker_side is Side.BUY else "sell",
                str(taker_id),
                str(maker_id),
            ]
        )
    return json.dumps(rows, separators=(",", ":"))


def encode_order_books(bids: Sequence[Level], asks: Sequence[Level]) -> dict[str, Any]:
    return {"asks": encode_levels(asks), "bids": encode_levels(bids)}
