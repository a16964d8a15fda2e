"""Async Coincheck REST client (httpx): public market data and the private trading endpoints.

Retry policy: reads are retried with jittered exponential backoff on 429, 5xx and timeouts.
Order creation is never blindly retried: a 429 (refused unprocessed) is retried, but after an
ambiguous failure (timeout, broken connection, 5xx) the client looks in open orders and own
transactions for an order it did not know before; only if none appears is the error raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable, Container
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.config import ExchangeConfig
from bot.exchange.auth import Credentials, NonceSource
from bot.exchange.errors import (
    ExchangeError,
    ExchangeTimeout,
    RateLimitError,
    ServerError,
    classify,
)
from bot.exchange.models import (
    Balance,
    CancelStatus,
    OpenOrder,
    OrderAck,
    PublicTrade,
    Ticker,
    Transaction,
    TransactionsPage,
)
from bot.exchange.private_lock import CANCEL, ORDER, ROUTINE, PriorityLock
from bot.exchange.wire import PAIR, format_amount, format_rate, parse_order_books
from bot.market.events import BookSnapshot

log = logging.getLogger(__name__)

ORDER_TYPES = ("buy", "sell", "market_buy", "market_sell")
TIME_IN_FORCE = ("good_til_cancelled", "post_only")
_AMBIGUOUS = (ExchangeTimeout, ServerError)


def _side_of(order_type: str) -> str:
    return "buy" if order_type in ("buy", "market_buy") else "sell"


class CoincheckRest:
    """REST client for Coincheck or the simulator; `base_url` is e.g. `https://coincheck.com`."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None = None,
        *,
        nonce: NonceSource | None = None,
        timeout: float = 5.0,
        max_retries: int = 3,
        backoff_base: float = 0.1,
        backoff_max: float = 2.0,
        reconcile_attempts: int = 3,
        reconcile_delay: float = 0.2,
        seed: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._creds = credentials
        self._nonce = nonce or NonceSource(None)
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._reconcile_attempts = reconcile_attempts
        self._reconcile_delay = reconcile_delay
        self._rng = random.Random(seed)
        self._client = httpx.AsyncClient(timeout=timeout)
        self._private_lock = PriorityLock()
        self._max_order_id_seen: int | None = None
        self.oldest_transaction_id: int | None = None
        self.requests_sent = 0
        self.retries = 0
        self.reconciliations = 0

    @classmethod
    def from_config(cls, cfg: ExchangeConfig, **kwargs: Any) -> CoincheckRest:
        creds = None
        if cfg.api_key is not None and cfg.api_secret is not None:
            creds = Credentials(cfg.api_key.get_secret_value(), cfg.api_secret.get_secret_value())
        return cls(
            cfg.rest_url,
            creds,
            nonce=NonceSource(cfg.nonce_file),
            timeout=cfg.request_timeout_seconds,
            **kwargs,
        )

    def __repr__(self) -> str:
        auth = "with credentials" if self._creds is not None else "public only"
        return f"CoincheckRest({self.base_url!r}, {auth})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> CoincheckRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport
    async def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        private: bool = False,
        on_send: Callable[[], None] | None = None,
        priority: int = ROUTINE,
    ) -> Any:
        """One HTTP exchange; raises a typed ExchangeError on any failure.

        `on_send` is called just before the request goes out (after any wait for the lock)."""
        url = self.base_url + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        content = json.dumps(body, separators=(",", ":")) if body is not None else ""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if private:
            if self._creds is None:
                raise ExchangeError(f"{path} needs api_key and api_secret")
            # Coincheck refuses a nonce lower than one it has already seen, so private requests
            # go one at a time: concurrent ones could overtake each other on the wire.
            async with self._private_lock.hold(priority):
                headers.update(self._creds.headers(self._nonce.next(), url, content))
                if on_send is not None:
                    on_send()
                return await self._exchange(method, path, url, content, headers)
        if on_send is not None:
            on_send()
        return await self._exchange(method, path, url, content, headers)

    async def _exchange(
        self, method: str, path: str, url: str, content: str, headers: dict[str, str]
    ) -> Any:
        self.requests_sent += 1
        try:
            resp = await self._client.request(method, url, content=content or None, headers=headers)
        except httpx.TimeoutException as exc:
            raise ExchangeTimeout(f"{method} {path}: no reply within {self._timeout}s") from exc
        except httpx.TransportError as exc:
            raise ExchangeTimeout(
                f"{method} {path}: connection failed: {type(exc).__name__}"
            ) from exc
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code >= 400 or (isinstance(data, dict) and data.get("success") is False):
            message = data.get("error") if isinstance(data, dict) else None
            raise classify(resp.status_code, str(message or resp.reason_phrase or "error"))
        if data is None:
            raise ServerError(f"{method} {path}: reply is not JSON", resp.status_code)
        return data

    def _backoff(self, attempt: int) -> float:
        cap = min(self._backoff_max, self._backoff_base * 2**attempt)
        return cap / 2 + self._rng.random() * cap / 2

    async def _request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        private: bool = False,
        retry_on: tuple[type[ExchangeError], ...] = (RateLimitError, ServerError, ExchangeTimeout),
        on_send: Callable[[], None] | None = None,
        priority: int = ROUTINE,
    ) -> Any:
        attempt = 0
        while True:
            try:
                return await self._send(method, path, params, body, private, on_send, priority)
            except retry_on as exc:
                if attempt >= self._max_retries:
                    raise
                delay = self._backoff(attempt)
                log.warning("%s %s failed (%s); retry in %.2fs", method, path, exc, delay)
                attempt += 1
                self.retries += 1
                await asyncio.sleep(delay)

    def _saw_order_ids(self, ids: list[int]) -> None:
        if ids:
            top = max(ids)
            if self._max_order_id_seen is None or top > self._max_order_id_seen:
                self._max_order_id_seen = top

    # ------------------------------------------------------------------ public
    async def order_books_raw(self) -> dict[str, Any]:
        """The `order_books` reply as JSON (recordings store it verbatim)."""
        data = await self._request("GET", "/api/order_books", {"pair": PAIR})
        if not isinstance(data, dict):
            raise ServerError("order_books: reply is not an object")
        return data

    async def order_books(self) -> BookSnapshot:
        raw = await self.order_books_raw()
        return parse_order_books(raw, time.time_ns() // 1000)

    async def ticker(self) -> Ticker:
        return Ticker.from_wire(await self._request("GET", "/api/ticker", {"pair": PAIR}))

    async def trades(self, limit: int | None = None) -> list[PublicTrade]:
        data = await self._request("GET", "/api/trades", {"pair": PAIR, "limit": limit})
        return [PublicTrade.from_wire(t) for t in data.get("data", [])]

    # ------------------------------------------------------------------ private: reads
    async def balance(self) -> Balance:
        return Balance.from_wire(await self._request("GET", "/api/accounts/balance", private=True))

    async def open_orders(self) -> list[OpenOrder]:
        data = await self._request("GET", "/api/exchange/orders/opens", private=True)
        orders = [OpenOrder.from_wire(o) for o in data.get("orders", [])]
        self._saw_order_ids([o.id for o in orders])
        return orders

    async def cancel_status(self, order_id: int) -> CancelStatus:
        data = await self._request(
            "GET", "/api/exchange/orders/cancel_status", {"id": order_id}, private=True
        )
        return CancelStatus(int(data["id"]), bool(data["cancel"]), str(data.get("created_at", "")))

    async def transactions(self, skip_ids: Container[int] = ()) -> list[Transaction]:
        """Own fills, newest first; those with an id in `skip_ids` are not even parsed.

        `oldest_transaction_id` is then the lowest id the reply listed (parsed or not)."""
        data = await self._request("GET", "/api/exchange/orders/transactions", private=True)
        raw = data.get("transactions", [])
        oldest = None
        txs = []
        for t in raw:
            tx_id = t.get("id") if isinstance(t, dict) else None
            if type(tx_id) is int:
                oldest = tx_id if oldest is None else min(oldest, tx_id)
                if tx_id in skip_ids:
                    continue
            txs.append(Transaction.from_wire(t))
        self.oldest_transaction_id = oldest
        self._saw_order_ids([t.order_id for t in txs])
        return txs

    async def transactions_page(
        self,
        limit: int | None = None,
        order: str | None = None,
        starting_after: int | None = None,
        ending_before: int | None = None,
    ) -> TransactionsPage:
        params = {
            "limit": limit,
            "order": order,
            "starting_after": starting_after,
            "ending_before": ending_before,
        }
        data = await self._request(
            "GET", "/api/exchange/orders/transactions_pagination", params, private=True
        )
        txs = [Transaction.from_wire(t) for t in data.get("data", [])]
        self._saw_order_ids([t.order_id for t in txs])
        page = data.get("pagination") or {}
        sa, eb = page.get("starting_after"), page.get("ending_before")
        return TransactionsPage(
            transactions=txs,
            limit=int(page.get("limit") or len(txs)),
            order=str(page.get("order") or "desc"),
            starting_after=int(sa) if sa is not None else None,
            ending_before=int(eb) if eb is not None else None,
        )

    # ------------------------------------------------------------------ private: writes
    async def create_order(
        self,
        order_type: str,
        *,
        rate: int | None = None,
        amount_sat: int | None = None,
        market_buy_jpy: Decimal | None = None,
        time_in_force: str = "good_til_cancelled",
        on_send: Callable[[], None] | None = None,
    ) -> OrderAck:
        """Place one order; never sends it twice (see the module docstring).

        `on_send` is called when the request goes out (each attempt)."""
        body = self._order_body(order_type, rate, amount_sat, market_buy_jpy, time_in_force)
        if self._max_order_id_seen is None:
            await self.learn_order_floor()
        floor = self._max_order_id_seen or 0
        try:
            data = await self._request(
                "POST",
                "/api/exchange/orders",
                body=body,
                private=True,
                retry_on=(RateLimitError,),
                on_send=on_send,
                priority=ORDER,
            )
        except _AMBIGUOUS as exc:
            log.warning("create_order %s: %s; reconciling from open orders", order_type, exc)
            self.reconciliations += 1
            found = await self._reconcile(order_type, rate, amount_sat, floor)
            if found is None:
                raise
            return found
        ack = OrderAck.from_wire(data)
        self._saw_order_ids([ack.id])
        return ack

    @staticmethod
    def _order_body(
        order_type: str,
        rate: int | None,
        amount_sat: int | None,
        market_buy_jpy: Decimal | None,
        time_in_force: str,
    ) -> dict[str, Any]:
        if order_type not in ORDER_TYPES:
            raise ValueError(f"order_type {order_type!r} is not one of {ORDER_TYPES}")
        if time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"time_in_force {time_in_force!r} is not one of {TIME_IN_FORCE}")
        body: dict[str, Any] = {"pair": PAIR, "order_type": order_type}
        if order_type in ("buy", "sell"):
            if rate is None or amount_sat is None:
                raise ValueError("limit orders need rate and amount_sat")
            body["rate"] = format_rate(rate)
            body["amount"] = format_amount(amount_sat)
            body["time_in_force"] = time_in_force
        elif order_type == "market_sell":
            if amount_sat is None:
                raise ValueError("market_sell needs amount_sat")
            body["amount"] = format_amount(amount_sat)
        else:
            if market_buy_jpy is None:
                raise ValueError("market_buy needs market_buy_jpy")
            body["market_buy_amount"] = format(market_buy_jpy, "f")
        return body

    async def learn_order_floor(self) -> None:
        """Highest order id already known, so reconciliation never claims an older order."""
        await self.open_orders()
        page = await self.transactions_page(limit=1)
        if self._max_order_id_seen is None:
            self._max_order_id_seen = max([t.order_id for t in page.transactions], default=0)

    async def _reconcile(
        self, order_type: str, rate: int | None, amount_sat: int | None, floor: int
    ) -> OrderAck | None:
        """Find an order newer than `floor` matching what we sent, open or already filled."""
        side = _side_of(order_type)
        for attempt in range(self._reconcile_attempts):
            if attempt:
                await asyncio.sleep(self._reconcile_delay)
            try:
                opens = await self.open_orders()
                txs = await self.transactions()
            except ExchangeError as exc:
                log.warning("reconcile: %s", exc)
                continue
            for o in sorted(opens, key=lambda o: o.id):
                if o.id > floor and o.order_type == order_type and (rate is None or o.rate == rate):
                    return self._reconciled_ack(o.id, order_type, rate, amount_sat, o.created_at)
            filled = sorted(t.order_id for t in txs if t.order_id > floor and t.side == side)
            if filled:
                created = next(t.created_at for t in txs if t.order_id == filled[0])
                return self._reconciled_ack(filled[0], order_type, rate, amount_sat, created)
        return None

    @staticmethod
    def _reconciled_ack(
        order_id: int, order_type: str, rate: int | None, amount_sat: int | None, created_at: str
    ) -> OrderAck:
        return OrderAck(
            id=order_id,
            order_type=order_type,
            rate=rate,
            amount_sat=amount_sat,
            market_buy_amount_jpy=None,
            time_in_force="good_til_cancelled",
            pair=PAIR,
            created_at=created_at,
            reconciled=True,
        )

    async def cancel_order(self, order_id: int) -> int:
        """Cancel an open order; after an ambiguous failure asks cancel_status what happened."""
        try:
            data = await self._request(
                "DELETE",
                f"/api/exchange/orders/{order_id}",
                private=True,
                retry_on=(RateLimitError,),
                priority=CANCEL,
            )
            return int(data["id"])
        except _AMBIGUOUS:
            status = await self.cancel_status(order_id)
            if status.cancelled:
                return order_id
            raise
