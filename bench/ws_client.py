"""WebSocket client throughput and latency: simulator (own process) -> loopback -> CoincheckFeed.

`ws_client_msgs_per_sec`: order-book frames parsed and applied to the book per wall-clock
second, the simulator replaying as fast as the client reads (on a 2-core box the simulator
competes with the client, so this varies with machine load). `ws_client_msg_latency_p99_us`: time from the
frame leaving the WebSocket library to the book holding it (parse + apply), 99th percentile.
Frames look like the real feed: ~11 changed levels each.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import time
from typing import Any

from bench._common import Measurement, measurement
from bot.market.events import BookDiff, BookSnapshot, MarketEvent

MESSAGES = 60_000
MID = 16_000_000


def synthetic_diffs(n: int, seed: int = 1) -> list[MarketEvent]:
    rng = random.Random(seed)
    bids = tuple((MID - 50 * i, 1_000_000 + 1000 * i) for i in range(1, 200))
    asks = tuple((MID + 50 * i, 1_000_000 + 1000 * i) for i in range(1, 200))
    events: list[MarketEvent] = [BookSnapshot(0, None, bids, asks)]
    for i in range(n):
        levels = [
            (
                MID + rng.choice((-1, 1)) * 50 * rng.randint(1, 250),
                rng.choice((0, rng.randint(1, 9) * 1_000_000)),
            )
            for _ in range(11)
        ]
        events.append(
            BookDiff(
                i,
                None,
                tuple((p, a) for p, a in levels if p < MID),
                tuple((p, a) for p, a in levels if p > MID),
            )
        )
    return events


def _serve(port_out: Any, n: int) -> None:
    from bot.sim.server import ExchangeSimulator

    async def main() -> None:
        sim = ExchangeSimulator(synthetic_diffs(n), speed=None)
        await sim.advance(1)  # the snapshot, before anyone connects
        sim.autoplay = True
        await sim.start()
        port_out.send(sim.port)
        await asyncio.wait_for(sim.replay_done.wait(), 300)
        await asyncio.sleep(0.5)
        await sim.stop()

    asyncio.run(main())


async def _client(port: int, n: int) -> tuple[float, float, list[int]]:
    from bot.exchange.feed import CoincheckFeed, FeedState
    from bot.exchange.rest import CoincheckRest

    rest = CoincheckRest(f"http://127.0.0.1:{port}")
    feed = CoincheckFeed(f"ws://127.0.0.1:{port}/", rest, stale_after=30)
    feed.on_event = lambda event: None  # a consumer is attached, as in the bot
    latencies: list[int] = []
    original = feed._on_frame
    done = asyncio.Event()
    first: list[float] = []
    cpu0: list[float] = []
    perf = time.perf_counter_ns

    live = FeedState.LIVE
    counted = 0

    def timed(raw: str) -> None:
        nonlocal counted
        t0 = perf()
        was_live = feed.state is live  # frames buffered during the rebuild wait for the snapshot
        original(raw)
        if was_live:
            latencies.append(perf() - t0)
        counted += 1
        if counted == 1:
            first.append(time.perf_counter())
            cpu0.append(time.process_time())
        if counted >= n:
            done.set()

    feed._on_frame = timed  # type: ignore[method-assign]
    task = asyncio.create_task(feed.run())
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - first[0]
    cpu = time.process_time() - cpu0[0]
    await feed.stop()
    await task
    await rest.aclose()
    return (n - 1) / elapsed, (n - 1) / cpu, latencies


def run() -> list[Measurement]:
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    server = ctx.Process(target=_serve, args=(send, MESSAGES), daemon=True)
    server.start()
    try:
        port = recv.recv()
        rate, cpu_rate, latencies = asyncio.run(_client(port, MESSAGES))
    finally:
        server.join(10)
        if server.is_alive():
            server.terminate()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] / 1000
    p50 = latencies[len(latencies) // 2] / 1000
    return [
        measurement("ws_client_msgs_per_sec", rate, "msg/s"),
        # Same run per second of the client's own CPU: what the client can do, whatever else
        # (the simulator process, other jobs) competes for the cores.
        measurement("ws_client_msgs_per_cpu_sec", cpu_rate, "msg/s"),
        measurement("ws_client_msg_latency_p99_us", p99, "us"),
        measurement("ws_client_msg_latency_p50_us", p50, "us"),
    ]


if __name__ == "__main__":
    for m in run():
        print(m)
