"""L2 order book built from Coincheck diffs (amount 0 removes a level)."""

from __future__ import annotations

from bisect import bisect_left, insort
from enum import StrEnum

from bot.market.events import BookDiff, BookSnapshot, Level


class BookState(StrEnum):
    """Whether the book can be traded on."""

    EMPTY = "empty"  # one side (or both) has no levels
    CROSSED = "crossed"  # best bid >= best ask: stale levels, wait for the diffs to clear them
    OK = "ok"


class OrderBook:
    """Price-level book: dict of price -> satoshi per side plus sorted price lists.

    Sorted lists with bisect keep best-price and top-N queries O(N) with C-speed inserts;
    Coincheck books hold a few hundred levels, so a tree would be slower here.
    """

    __slots__ = ("_ask_prices", "_bid_prices", "asks", "bids")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_prices: list[int] = []  # ascending; best bid is the last
        self._ask_prices: list[int] = []  # ascending; best ask is the first

    # ------------------------------------------------------------------ updates
    def clear(self) -> None:
        self.bids.clear()
        self.asks.clear()
        self._bid_prices.clear()
        self._ask_prices.clear()

    def load_snapshot(self, snapshot: BookSnapshot) -> None:
        self.clear()
        self._apply_side(self.bids, self._bid_prices, snapshot.bids)
        self._apply_side(self.asks, self._ask_prices, snapshot.asks)

    def apply_diff(self, diff: BookDiff) -> None:
        self._apply_side(self.bids, self._bid_prices, diff.bids)
        self._apply_side(self.asks, self._ask_prices, diff.asks)

    @staticmethod
    def _apply_side(levels: dict[int, int], prices: list[int], changes: tuple[Level, ...]) -> None:
        for price, amount in changes:
            if amount > 0:
                if price not in levels:
                    insort(prices, price)
                levels[price] = amount
            elif price in levels:
                del levels[price]
                del prices[bisect_left(prices, price)]

    # ------------------------------------------------------------------ queries
    @property
    def best_bid(self) -> int | None:
        return self._bid_prices[-1] if self._bid_prices else None

    @property
    def best_ask(self) -> int | None:
        return self._ask_prices[0] if self._ask_prices else None

    @property
    def state(self) -> BookState:
        if not self._bid_prices or not self._ask_prices:
            return BookState.EMPTY
        if self._bid_prices[-1] >= self._ask_prices[0]:
            return BookState.CROSSED
        return BookState.OK

    def top_bids(self, n: int) -> list[Level]:
        """Best n bids, best first."""
        prices = self._bid_prices[-n:] if n > 0 else []
        bids = self.bids
        return [(p, bids[p]) for p in reversed(prices)]

    def top_asks(self, n: int) -> list[Level]:
        """Best n asks, best first."""
        asks = self.asks
        return [(p, asks[p]) for p in self._ask_prices[:n]]

    def bid_depth(self, n: int) -> int:
        """Satoshi on the best n bid levels."""
        bids = self.bids
        return sum(bids[p] for p in self._bid_prices[-n:]) if n > 0 else 0

    def ask_depth(self, n: int) -> int:
        asks = self.asks
        return sum(asks[p] for p in self._ask_prices[:n])

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)
