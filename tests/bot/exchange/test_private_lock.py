"""PriorityLock: one holder; the most urgent waiter next, FIFO among equals; cancel-safe."""

from __future__ import annotations

import asyncio

from bot.exchange.private_lock import CANCEL, ORDER, ROUTINE, PriorityLock


async def test_an_order_goes_out_beside_a_read_in_flight_and_before_queued_ones() -> None:
    lock = PriorityLock()
    order: list[str] = []
    release_first = asyncio.Event()

    async def request(name: str, priority: int, hold: asyncio.Event | None = None) -> None:
        async with lock.hold(priority):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(request("poll-in-flight", ROUTINE, release_first))
    await asyncio.sleep(0)
    queued = [
        asyncio.create_task(request("poll-1", ROUTINE)),
        asyncio.create_task(request("poll-2", ROUTINE)),
        asyncio.create_task(request("cancel", CANCEL)),
        asyncio.create_task(request("order", ORDER)),
    ]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # The order did not wait for the read in flight; everything else still does.
    assert order == ["poll-in-flight", "order"] and lock.locked
    assert lock.overtakes == 1
    release_first.set()
    await asyncio.gather(first, *queued)
    assert order == ["poll-in-flight", "order", "cancel", "poll-1", "poll-2"]
    assert not lock.locked


async def test_a_cancel_in_flight_makes_an_order_wait() -> None:
    """Only reads may be overtaken: a refused read is repeated, a refused cancel is not."""
    lock = PriorityLock()
    order: list[str] = []
    release = asyncio.Event()

    async def cancel() -> None:
        async with lock.hold(CANCEL):
            order.append("cancel")
            await release.wait()
            order.append("cancel done")

    async def place() -> None:
        async with lock.hold(ORDER):
            order.append("order")

    c = asyncio.create_task(cancel())
    await asyncio.sleep(0)
    p = asyncio.create_task(place())
    await asyncio.sleep(0)
    assert order == ["cancel"]
    release.set()
    await asyncio.gather(c, p)
    assert order == ["cancel", "cancel done", "order"]


async def test_a_cancelled_waiter_never_keeps_the_lock() -> None:
    lock = PriorityLock()
    release = asyncio.Event()

    async def holder() -> None:
        async with lock.hold(CANCEL):
            await release.wait()

    async def waiter() -> None:
        async with lock.hold(ORDER):
            pass

    h = asyncio.create_task(holder())
    await asyncio.sleep(0)
    w = asyncio.create_task(waiter())
    late = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    w.cancel()
    release.set()
    await asyncio.gather(h, late)
    assert w.cancelled()
    assert not lock.locked
