"""A third-party Coincheck client (ccxt), unchanged but for its URLs, trades on the simulator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.market.events import BookDiff, BookSnapshot, Side, TradePrint
from bot.sim.server import ExchangeSimulator

ccxt_async = pytest.importorskip("ccxt.async_support")
ccxt_pro = pytest.importorskip("ccxt.pro")

SNAP = BookSnapshot(
    0,
    None,
    bids=((16_000_000, 1_000_000), (15_999_000, 2_000_000)),
    asks=((16_001_000, 1_000_000), (16_002_000, 3_000_000)),
)


def pointed_at(cls: Any, sim: ExchangeSimulator, **config: str) -> Any:
    # rateLimit: ms between calls; 5 keeps ccxt's millisecond nonces increasing but is quick.
    exchange = cls({"rateLimit": 5, **config})
    exchange.urls["api"] = {"rest": sim.rest_url + "/api", "ws": sim.ws_url}
    return exchange


async def test_ccxt_rest_trades_against_the_simulator() -> None:
    async with ExchangeSimulator([SNAP], autoplay=False, api_key="ck", api_secret="cs") as sim:
        await sim.advance(1)
        ex = pointed_at(ccxt_async.coincheck, sim, apiKey="ck", secret="cs")
        try:
            book = await ex.fetch_order_book("BTC/JPY")
            assert book["bids"][0] == [16_000_000.0, 0.01]
            assert book["asks"][0] == [16_001_000.0, 0.01]
            bal = await ex.fetch_balance()
            assert bal["JPY"]["free"] == 1_000_000 and bal["BTC"]["free"] == 0.05
            order = await ex.create_order("BTC/JPY", "limit", "buy", 0.005, 15_990_000)
            opens = await ex.fetch_open_orders("BTC/JPY")
            assert [(o["id"], o["price"], o["amount"]) for o in opens] == [
                (order["id"], 15_990_000.0, 0.005)
            ]
            bal = await ex.fetch_balance()
            assert bal["JPY"]["used"] == 79_950 and bal["JPY"]["free"] == 920_050
            await ex.cancel_order(order["id"])
            assert await ex.fetch_open_orders("BTC/JPY") == []
            sell = await ex.create_order("BTC/JPY", "market", "sell", 0.01)
            assert sim.venue.orders[int(sell["id"])].remaining_sat == 0
            ticker = await ex.fetch_ticker("BTC/JPY")
            # The served book is the replayed market: it does not know we traded.
            assert (ticker["bid"], ticker["ask"]) == (16_000_000.0, 16_001_000.0)
            assert [(t.rate, t.amount_sat) for t in sim.venue.transactions] == [
                (16_000_000, 1_000_000)
            ]
            bad = pointed_at(ccxt_async.coincheck, sim, apiKey="ck", secret="wrong")
            with pytest.raises(ccxt_async.AuthenticationError):
                await bad.fetch_balance()
            await bad.close()
        finally:
            await ex.close()


async def test_ccxt_pro_watch_order_book() -> None:
    async with ExchangeSimulator([SNAP], autoplay=False) as sim:
        await sim.advance(1)
        ex = pointed_at(ccxt_pro.coincheck, sim)
        try:
            watching = asyncio.create_task(ex.watch_order_book("BTC/JPY"))
            while sim.ws_connections == 0 or not sim._subscribed.is_set():
                await asyncio.sleep(0.01)
            await sim.publish(BookDiff(1, None, bids=((16_000_500, 400_000),), asks=()))
            book = await asyncio.wait_for(watching, 5)
            # ccxt treats each Coincheck diff as the whole book (its own simplification).
            assert book["bids"][0] == [16_000_500.0, 0.004]
        finally:
            await ex.close()


async def test_ccxt_pro_watch_trades() -> None:
    async with ExchangeSimulator([SNAP], autoplay=False) as sim:
        await sim.advance(1)
        ex = pointed_at(ccxt_pro.coincheck, sim)
        try:
            watching = asyncio.create_task(ex.watch_trades("BTC/JPY"))
            while not sim._subscribed.is_set():
                await asyncio.sleep(0.01)
            await sim.publish(TradePrint(1, None, 777, 16_000_500, 250_000, Side.SELL))
            trades = await asyncio.wait_for(watching, 5)
            assert [(t["id"], t["price"], t["amount"], t["side"]) for t in trades] == [
                ("777", 16_000_500.0, 0.0025, "sell")
            ]
        finally:
            await ex.close()
