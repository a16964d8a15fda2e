"""Private requests one at a time, the most urgent first — and an order never waits for a read.

Coincheck refuses a nonce lower than one it has already seen, so private requests are
serialized: each takes its nonce and goes out while it holds this lock. Waiting is not equal:
waiters with a lower `priority` get the lock first (FIFO among equals), and a new ORDER may go
out while a ROUTINE read (fills poll, open orders, balance) is still in flight. The order takes
the higher nonce, so it is never the one refused; at worst the read arrives second and is
refused as stale, which the caller treats as a failed read and repeats. Nothing else starts
until the order is out.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import AsyncIterator

ORDER, CANCEL, ROUTINE = 0, 1, 2


class PriorityLock:
    def __init__(self) -> None:
        self._holders: list[int] = []
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = 0
        self.overtakes = 0

    @property
    def locked(self) -> bool:
        return bool(self._holders)

    @contextlib.asynccontextmanager
    async def hold(self, priority: int = ROUTINE) -> AsyncIterator[None]:
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release(priority)

    def _may_enter(self, priority: int) -> bool:
        if not self._holders:
            return True
        return priority == ORDER and all(p == ROUTINE for p in self._holders)

    async def _acquire(self, priority: int) -> None:
        if self._may_enter(priority) and not self._waiters:
            if self._holders:
                self.overtakes += 1
            self._holders.append(priority)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, self._seq, fut))
        self._seq += 1
        if priority == ORDER:
            self._wake()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release(priority)  # granted as we were cancelled: pass it on
            raise

    def _release(self, priority: int) -> None:
        self._holders.remove(priority)
        self._wake()

    def _wake(self) -> None:
        """Grant the most urgent live waiter(s) that may enter now."""
        while self._waiters:
            priority, _, fut = self._waiters[0]
            if fut.done():
                heapq.heappop(self._waiters)
                continue
            if not self._may_enter(priority):
                return
            heapq.heappop(self._waiters)
            if self._holders:
                self.overtakes += 1
            self._holders.append(priority)
            fut.set_result(None)
