"""WebSocket feed against the simulator over real sockets: rebuild, reconnect, bad frames."""

from __future__ import annotations

import asyncio
import random

from bot.exchange.feed import CoincheckFeed, FeedState
from bot.exchange.rest import CoincheckRest
from bot.market.events import BookDiff, BookSnapshot, MarketEvent, Side, TradePrint
from bot.sim.server import ExchangeSimulator

MID = 16_000_000


def market(n: int, seed: int = 3) -> list[MarketEvent]:
    """A snapshot then `n` random diffs/trades around MID (uncrossed: bids < MID < asks)."""
    rng = random.Random(seed)
    bids = tuple((MID - 100 * i, 1_000_000 * i) for i in range(1, 40))
    asks = tuple((MID + 100 * i, 1_000_000 * i) for i in range(1, 40))
    events: list[MarketEvent] = [BookSnapshot(0, None, bids, asks)]
    for i in range(1, n + 1):
        if rng.random() < 0.15:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            events.append(TradePrint(i * 1000, None, i, MID, 500_000, side))
            continue
        changes = [
            (MID + rng.choice((-1, 1)) * 100 * rng.randint(1, 60), rng.choice((0, 700_000 * i)))
            for _ in range(rng.randint(1, 6))
        ]
        b = tuple((p, a) for p, a in changes if p < MID)
        a = tuple((p, a) for p, a in changes if p > MID)
        events.append(BookDiff(i * 1000, None, b, a))
    return events


def same_book(feed: CoincheckFeed, sim: ExchangeSimulator, depth: int = 100) -> bool:
    return feed.book.top_bids(depth) == sim.book.top_bids(depth) and feed.book.top_asks(
        depth
    ) == sim.book.top_asks(depth)


async def settle(feed: CoincheckFeed, sim: ExchangeSimulator, timeout: float = 3.0) -> None:
    """Wait until the feed is live and its book equals the simulator's."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not (feed.state is FeedState.LIVE and same_book(feed, sim)):
        assert loop.time() < end, f"feed never matched the simulator (state {feed.state})"
        await asyncio.sleep(0.005)


class Running:
    def __init__(self, sim: ExchangeSimulator, **kw: object) -> None:
        self.rest = CoincheckRest(sim.rest_url, backoff_base=0.01)
        self.events: list[MarketEvent] = []
        self.feed = CoincheckFeed(
            sim.ws_url,
            self.rest,
            on_event=self.events.append,
            backoff_base=0.02,
            backoff_max=0.1,
            snapshot_wait=0.05,
            seed=5,
            **kw,  # type: ignore[arg-type]
        )

    async def __aenter__(self) -> CoincheckFeed:
        self.task = asyncio.create_task(self.feed.run())
        await self.feed.wait_live(5)
        return self.feed

    async def __aexit__(self, *exc: object) -> None:
        await self.feed.stop()
        await asyncio.wait_for(self.task, 5)
        await self.rest.aclose()
        assert self.feed.state is FeedState.STOPPED


async def test_live_book_follows_the_simulator() -> None:
    events = market(300)
    async with ExchangeSimulator(events, autoplay=False) as sim:
        await sim.advance(1)
        run = Running(sim)
        async with run as feed:
            assert feed.book_trusted
            await sim.advance(300)
            await settle(feed, sim)
            trades = [e for e in run.events if isinstance(e, TradePrint)]
            assert len(trades) == sum(isinstance(e, TradePrint) for e in events)
            assert isinstance(run.events[0], BookSnapshot)


async def test_book_rebuilt_after_forced_disconnects() -> None:
    events = market(600, seed=11)
    async with ExchangeSimulator(events, autoplay=False) as sim:
        await sim.advance(1)
        async with Running(sim) as feed:
            for _ in range(5):
                await sim.advance(60)
                assert await sim.drop_connections() == 1
                await sim.advance(60)  # the market moves while we are away
                await settle(feed, sim)
            assert feed.connects == 6 and feed.rebuilds == 6


async def test_book_matches_under_random_drops_while_replaying() -> None:
    events = market(3000, seed=2)  # 3 s of market at 1 ms spacing, replayed at 2x
    sim = ExchangeSimulator(events, speed=2.0, faults="ws_drop=0.005", seed=9)
    async with sim, Running(sim) as feed:
        await asyncio.wait_for(sim.replay_done.wait(), 30)
        await settle(feed, sim)
        assert sim.faults.counts["ws_drop"] >= 3
        assert feed.connects == sim.faults.counts["ws_drop"] + 1


async def test_malformed_frames_are_counted_and_survived() -> None:
    events = market(200, seed=4)
    async with ExchangeSimulator(events, autoplay=False) as sim:
        await sim.advance(1)
        async with Running(sim) as feed:
            sim.faults.force("malformed", 3)
            await sim.advance(100)
            for bad in ("not json", '{"a": [', '["btc_jpy", {"bids": [["x", "1"]]}]', "[1, 2]"):
                await sim.broadcast_raw("btc_jpy-orderbook", bad)
            await sim.advance(99)
            await settle(feed, sim)
            assert feed.malformed_frames == 7
            assert feed.connects == 1  # survived on the same connection
            assert feed.resyncs >= 1  # and resynchronised the book


async def test_both_trade_shapes_and_control_frames() -> None:
    async with ExchangeSimulator(market(0), autoplay=False) as sim:
        await sim.advance(1)
        run = Running(sim)
        async with run as feed:
            current = '[["1663318663","2357062","btc_jpy","2820896.0","5.0","sell","1","2"]]'
            older = '["2357063","btc_jpy","2820897.0","0.5","buy"]'
            await sim.broadcast_raw("btc_jpy-trades", current)
            await sim.broadcast_raw("btc_jpy-trades", older)
            await sim.broadcast_raw("btc_jpy-trades", '{"type":"ack"}')
            await asyncio.sleep(0.1)
            trades = [e for e in run.events if isinstance(e, TradePrint)]
            assert [(t.trade_id, t.price, t.amount_sat, t.taker_side) for t in trades] == [
                (2357062, 2820896, 500_000_000, Side.SELL),
                (2357063, 2820897, 50_000_000, Side.BUY),
            ]
            assert feed.malformed_frames == 0


async def test_silent_feed_is_detected_and_reconnected() -> None:
    async with ExchangeSimulator(market(50), autoplay=False) as sim:
        await sim.advance(1)
        async with Running(sim, stale_after=0.3) as feed:
            sim.go_silent(10)
            await asyncio.sleep(0.5)
            await feed.wait_live(3)
            assert feed.stale_disconnects >= 1 and feed.connects >= 2
            await sim.advance(49)
            await settle(feed, sim)


async def test_feed_says_untrusted_until_the_exchange_answers() -> None:
    async with ExchangeSimulator(market(10), autoplay=False) as sim:
        await sim.advance(1)
        sim.faults.force("http500", 6)  # the snapshot fails a few times: never LIVE meanwhile
        run = Running(sim)
        run.rest._max_retries = 0
        task = asyncio.create_task(run.feed.run())
        await asyncio.sleep(0.05)
        assert not run.feed.book_trusted
        await run.feed.wait_live(5)
        assert run.feed.book_trusted and run.feed.connects >= 2
        await run.feed.stop()
        await task
        await run.rest.aclose()


async def test_snapshot_in_the_data_reaches_clients_as_a_diff() -> None:
    events = market(100, seed=6)
    fresh = BookSnapshot(
        0, None, bids=((MID - 700, 123_000_000),), asks=((MID + 900, 5_000_000), (MID + 950, 1))
    )
    async with ExchangeSimulator([*events, fresh, *market(50, seed=7)[1:]], autoplay=False) as sim:
        await sim.advance(1)
        async with Running(sim) as feed:
            await sim.advance(101)
            await settle(feed, sim)
            assert feed.book.top_bids(5) == [(MID - 700, 123_000_000)]
            await sim.advance(50)
            await settle(feed, sim)
            assert feed.connects == 1


async def test_stop_ends_a_backoff_wait_at_once() -> None:
    rest = CoincheckRest("http://127.0.0.1:9")
    feed = CoincheckFeed("ws://127.0.0.1:9/", rest, backoff_base=60, backoff_max=60)
    task = asyncio.create_task(feed.run())
    await asyncio.sleep(0.2)  # connection refused; now waiting 30-60 s to retry
    assert feed.state is FeedState.CONNECTING and not feed.book_trusted
    assert feed.last_error is not None
    await feed.stop()
    await asyncio.wait_for(task, 1)
    assert feed.state is FeedState.STOPPED
    await rest.aclose()
