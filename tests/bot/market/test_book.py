"""L2 order book: hand-checked cases plus a property test against a naive reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.market.book import BookState, OrderBook
from bot.market.events import BookDiff, BookSnapshot, Level


def diff(bids: list[Level] = (), asks: list[Level] = ()) -> BookDiff:  # type: ignore[assignment]
    return BookDiff(0, None, tuple(bids), tuple(asks))


def snap(bids: list[Level] = (), asks: list[Level] = ()) -> BookSnapshot:  # type: ignore[assignment]
    return BookSnapshot(0, None, tuple(bids), tuple(asks))


# --------------------------------------------------------------------------- by hand
def test_empty_book() -> None:
    book = OrderBook()
    assert book.best_bid is None and book.best_ask is None
    assert book.state is BookState.EMPTY
    assert book.top_bids(5) == [] and book.top_asks(5) == []
    assert book.bid_depth(5) == 0 and book.ask_depth(5) == 0
    assert len(book) == 0


def test_apply_diff_best_prices_depth_and_removal() -> None:
    book = OrderBook()
    book.apply_diff(diff(bids=[(100, 5), (98, 7), (99, 3)], asks=[(103, 2), (101, 4), (102, 6)]))
    assert (book.best_bid, book.best_ask) == (100, 101)
    assert book.state is BookState.OK
    assert book.top_bids(2) == [(100, 5), (99, 3)]
    assert book.top_asks(2) == [(101, 4), (102, 6)]
    assert book.bid_depth(2) == 8 and book.ask_depth(2) == 10
    assert book.bid_depth(10) == 15 and book.ask_depth(10) == 12
    # amount 0 removes; an update replaces (not adds to) the amount
    book.apply_diff(diff(bids=[(100, 0), (99, 9)], asks=[(101, 0)]))
    assert (book.best_bid, book.best_ask) == (99, 102)
    assert book.top_bids(3) == [(99, 9), (98, 7)]
    assert len(book) == 4


def test_removing_absent_level_is_a_noop() -> None:
    book = OrderBook()
    book.apply_diff(diff(bids=[(100, 5)], asks=[(101, 4)]))
    book.apply_diff(diff(bids=[(97, 0)], asks=[(200, 0)]))
    assert book.top_bids(5) == [(100, 5)] and book.top_asks(5) == [(101, 4)]


def test_crossed_and_one_sided_states() -> None:
    book = OrderBook()
    book.apply_diff(diff(bids=[(100, 5)]))
    assert book.state is BookState.EMPTY
    book.apply_diff(diff(asks=[(100, 1)]))  # bid == ask counts as crossed
    assert book.state is BookState.CROSSED
    book.apply_diff(diff(asks=[(100, 0), (101, 1)]))
    assert book.state is BookState.OK


def test_snapshot_replaces_everything() -> None:
    book = OrderBook()
    book.apply_diff(diff(bids=[(100, 5), (90, 1)], asks=[(101, 4)]))
    book.load_snapshot(snap(bids=[(95, 2)], asks=[(96, 3), (97, 0)]))
    assert book.top_bids(5) == [(95, 2)]
    assert book.top_asks(5) == [(96, 3)]


def test_zero_and_negative_n() -> None:
    book = OrderBook()
    book.apply_diff(diff(bids=[(100, 5)], asks=[(101, 4)]))
    for n in (0, -1):
        assert book.top_bids(n) == [] and book.bid_depth(n) == 0
        assert book.top_asks(n) == [] and book.ask_depth(n) == 0


# --------------------------------------------------------------------------- property test
class NaiveBook:
    """Reference: plain dicts, sorted() on every query."""

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}

    @staticmethod
    def _apply(side: dict[int, int], levels: tuple[Level, ...]) -> None:
        for p, a in levels:
            if a == 0:
                side.pop(p, None)
            else:
                side[p] = a

    def diff(self, d: BookDiff) -> None:
        self._apply(self.bids, d.bids)
        self._apply(self.asks, d.asks)

    def snapshot(self, s: BookSnapshot) -> None:
        self.bids, self.asks = {}, {}
        self._apply(self.bids, s.bids)
        self._apply(self.asks, s.asks)

    def top_bids(self, n: int) -> list[Level]:
        return sorted(self.bids.items(), reverse=True)[: max(n, 0)]

    def top_asks(self, n: int) -> list[Level]:
        return sorted(self.asks.items())[: max(n, 0)]

    def state(self) -> BookState:
        if not self.bids or not self.asks:
            return BookState.EMPTY
        return BookState.CROSSED if max(self.bids) >= min(self.asks) else BookState.OK


# Narrow price range so updates hit existing levels, removals hit both present and absent ones.
prices = st.integers(min_value=16_850_000, max_value=16_850_040)
amounts = st.one_of(st.just(0), st.integers(min_value=1, max_value=10_000_000))
levels = st.lists(st.tuples(prices, amounts), max_size=12).map(tuple)
ops = st.lists(
    st.tuples(st.sampled_from(["diff", "diff", "diff", "snapshot"]), levels, levels),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ops=ops, n=st.integers(min_value=0, max_value=15))
def test_book_matches_naive_reference(ops: list[tuple[str, tuple, tuple]], n: int) -> None:
    book, ref = OrderBook(), NaiveBook()
    for kind, bids, asks in ops:
        if kind == "diff":
            d = BookDiff(0, None, bids, asks)
            book.apply_diff(d)
            ref.diff(d)
        else:
            s = BookSnapshot(0, None, bids, asks)
            book.load_snapshot(s)
            ref.snapshot(s)
        assert book.best_bid == (max(ref.bids) if ref.bids else None)
        assert book.best_ask == (min(ref.asks) if ref.asks else None)
        assert book.state is ref.state()
        assert book.top_bids(n) == ref.top_bids(n)
        assert book.top_asks(n) == ref.top_asks(n)
        assert book.bid_depth(n) == sum(a for _, a in ref.top_bids(n))
        assert book.ask_depth(n) == sum(a for _, a in ref.top_asks(n))
        assert len(book) == len(ref.bids) + len(ref.asks)
        assert book.bids == ref.bids and book.asks == ref.asks
