"""REST client against the simulator over real sockets: every endpoint, errors, retries."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from bot.exchange.auth import Credentials, NonceSource
from bot.exchange.errors import (
    AuthError,
    ExchangeTimeout,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    ServerError,
)
from bot.exchange.rest import CoincheckRest
from bot.market.events import BookDiff, BookSnapshot, Side, TradePrint
from bot.sim.server import ExchangeSimulator

KEY, SECRET = "test-key-XYZ", "test-secret-QWERTY"
SNAP = BookSnapshot(
    0,
    None,
    bids=((16_000_000, 1_000_000), (15_999_000, 2_000_000)),
    asks=((16_001_000, 1_000_000), (16_002_000, 3_000_000)),
)


def make_sim(**kw: object) -> ExchangeSimulator:
    events = [SNAP, TradePrint(1, None, 42, 16_000_500, 300_000, Side.SELL)]
    return ExchangeSimulator(events, autoplay=False, api_key=KEY, api_secret=SECRET, **kw)  # type: ignore[arg-type]


def client(sim: ExchangeSimulator, **kw: object) -> CoincheckRest:
    return CoincheckRest(
        sim.rest_url,
        Credentials(KEY, SECRET),
        backoff_base=0.01,
        seed=1,
        **kw,  # type: ignore[arg-type]
    )


async def test_public_endpoints_match_the_simulator() -> None:
    async with make_sim() as sim:
        await sim.advance(2)
        async with CoincheckRest(sim.rest_url) as rest:
            snap = await rest.order_books()
            assert snap.bids == SNAP.bids and snap.asks == SNAP.asks
            t = await rest.ticker()
            assert (t.last, t.bid, t.ask, t.high, t.low) == (
                16_000_500,
                16_000_000,
                16_001_000,
                16_000_500,
                16_000_500,
            )
            assert t.volume == Decimal("0.003")
            trades = await rest.trades()
            assert [(x.id, x.rate, x.amount_sat, x.order_type) for x in trades] == [
                (42, 16_000_500, 300_000, "sell")
            ]


async def test_order_lifecycle_balances_and_transactions() -> None:
    async with make_sim(btc="0.1") as sim:
        await sim.advance(2)
        async with client(sim) as rest:
            bal = await rest.balance()
            assert (bal.jpy, bal.btc, bal.jpy_reserved, bal.btc_reserved) == (
                Decimal("1000000"),
                Decimal("0.1"),
                0,
                0,
            )
            # Crosses 0.01 at 16,001,000; 0.005 rests at 16,001,000.
            ack = await rest.create_order("buy", rate=16_001_000, amount_sat=1_500_000)
            assert ack.order_type == "buy" and ack.rate == 16_001_000 and not ack.reconciled
            opens = await rest.open_orders()
            assert [(o.id, o.rate, o.pending_amount_sat) for o in opens] == [
                (ack.id, 16_001_000, 500_000)
            ]
            bal = await rest.balance()
            assert bal.jpy_reserved == Decimal("80005")
            assert bal.jpy == Decimal("1000000") - Decimal("160010") - Decimal("80005")
            assert bal.btc == Decimal("0.11")
            # The book moves through the resting order: it fills as maker at its price.
            await sim.publish(BookDiff(2, None, bids=(), asks=((16_000_900, 700_000),)))
            txs = await rest.transactions()
            assert [(t.order_id, t.rate, t.amount_sat, t.liquidity, t.side) for t in txs] == [
                (ack.id, 16_001_000, 500_000, "M", "buy"),
                (ack.id, 16_001_000, 1_000_000, "T", "buy"),
            ]
            assert txs[1].funds_btc == Decimal("0.01") and txs[1].funds_jpy == Decimal("-160010")
            # A poller skips parsing what it has booked; the oldest listed id still counts.
            again = await rest.transactions(skip_ids={txs[1].id})
            assert [t.id for t in again] == [txs[0].id]
            assert rest.oldest_transaction_id == txs[1].id
            assert await rest.open_orders() == []
            page = await rest.transactions_page(limit=1)
            assert [t.id for t in page.transactions] == [txs[0].id]
            older = await rest.transactions_page(limit=5, starting_after=txs[0].id)
            assert [t.id for t in older.transactions] == [txs[1].id]
            asc = await rest.transactions_page(limit=5, order="asc")
            assert [t.id for t in asc.transactions] == [txs[1].id, txs[0].id]
            # A resting sell, cancelled.
            sell = await rest.create_order("sell", rate=16_100_000, amount_sat=500_000)
            assert (await rest.balance()).btc_reserved == Decimal("0.005")
            assert await rest.cancel_order(sell.id) == sell.id
            status = await rest.cancel_status(sell.id)
            assert status.cancelled and status.id == sell.id
            assert (await rest.cancel_status(ack.id)).cancelled is False
            assert (await rest.balance()).btc_reserved == 0
            assert sim.balances.btc_sat == 11_500_000
            # Market orders.
            await rest.create_order("market_sell", amount_sat=500_000)
            await rest.create_order("market_buy", market_buy_jpy=Decimal("10000"))
            assert len(sim.venue.transactions) == 4


async def test_typed_errors() -> None:
    async with make_sim(jpy="1000", btc="0") as sim:
        await sim.advance(1)
        async with client(sim) as rest:
            with pytest.raises(InsufficientFundsError):
                await rest.create_order("buy", rate=16_000_000, amount_sat=500_000)
            with pytest.raises(InsufficientFundsError):
                await rest.create_order("sell", rate=16_000_000, amount_sat=500_000)
            with pytest.raises(InvalidOrderError):
                await rest.create_order("buy", rate=16_000_000, amount_sat=100)
            with pytest.raises(OrderNotFoundError):
                await rest.cancel_order(999)
        async with CoincheckRest(sim.rest_url, Credentials(KEY, "wrong")) as bad:
            with pytest.raises(AuthError) as exc:
                await bad.balance()
            assert exc.value.status == 401


async def test_stale_nonce_is_an_auth_error(tmp_path: Path) -> None:
    async with make_sim() as sim:
        ahead = tmp_path / "nonce"
        ahead.write_text(str(10**18))
        async with CoincheckRest(
            sim.rest_url, Credentials(KEY, SECRET), nonce=NonceSource(ahead)
        ) as a:
            await a.balance()
        async with client(sim) as b:  # clock-based nonce, far below 10**18
            with pytest.raises(AuthError, match="Nonce"):
                await b.balance()


async def test_reads_retry_through_429_and_500() -> None:
    async with make_sim() as sim:
        await sim.advance(1)
        async with client(sim) as rest:
            sim.faults.force("http429")
            sim.faults.force("http500")
            assert (await rest.balance()).jpy == Decimal("1000000")
            assert rest.retries == 2
            sim.faults.force("http500", 10)
            with pytest.raises(ServerError):
                await rest.order_books()


async def test_create_429_is_retried_once_placed() -> None:
    async with make_sim() as sim:
        await sim.advance(1)
        async with client(sim) as rest:
            await rest.learn_order_floor()
            sim.faults.force("http429")
            ack = await rest.create_order("buy", rate=15_000_000, amount_sat=500_000)
            assert list(sim.venue.orders) == [ack.id]
            sim.faults.force("http429", 10)
            with pytest.raises(RateLimitError):
                await rest.create_order("buy", rate=15_000_000, amount_sat=500_000)
            assert len(sim.venue.orders) == 1


async def test_no_duplicate_order_after_a_timeout_on_create() -> None:
    async with make_sim(faults="hang_s=2") as sim:
        await sim.advance(1)
        async with client(sim, timeout=0.3) as rest:
            earlier = await rest.create_order("buy", rate=15_000_000, amount_sat=500_000)
            sim.faults.force("create_hang")
            ack = await rest.create_order("buy", rate=15_000_000, amount_sat=500_000)
            assert ack.reconciled and ack.id != earlier.id
            assert sorted(sim.venue.orders) == [earlier.id, ack.id]  # placed exactly once
            assert rest.reconciliations == 1
            # A create that crosses and fills completely is found in transactions instead.
            sim.faults.force("create_hang")
            taken = await rest.create_order("buy", rate=16_001_000, amount_sat=500_000)
            assert taken.reconciled and taken.id == max(sim.venue.orders)
            assert len(sim.venue.orders) == 3


async def test_create_500_unprocessed_is_raised_after_reconciling() -> None:
    async with make_sim() as sim:
        await sim.advance(1)
        async with client(sim, reconcile_delay=0.01) as rest:
            await rest.learn_order_floor()
            sim.faults.force("http500")
            with pytest.raises(ServerError):
                await rest.create_order("buy", rate=15_000_000, amount_sat=500_000)
            assert sim.venue.orders == {}
            sim.faults.force("reject")
            with pytest.raises(InvalidOrderError):
                await rest.create_order("buy", rate=15_000_000, amount_sat=500_000)


async def test_timeout_when_nothing_listens() -> None:
    async with CoincheckRest("http://127.0.0.1:9", max_retries=1, backoff_base=0.01) as rest:
        with pytest.raises(ExchangeTimeout):
            await rest.order_books()


async def test_secrets_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with make_sim(faults="hang_s=1") as sim:
        await sim.advance(1)
        async with client(sim, timeout=0.2) as rest:
            sim.faults.force("http500", 2)
            await rest.balance()
            sim.faults.force("create_hang")
            await rest.create_order("buy", rate=15_000_000, amount_sat=500_000)
    assert "retry" in caplog.text and "reconcil" in caplog.text
    assert SECRET not in caplog.text


async def _outcomes(seed: int) -> list[str]:
    out = []
    sim = make_sim(faults="http500=0.3,http429=0.2", seed=seed)
    async with sim:
        rest = client(sim, max_retries=0)
        async with rest:
            for _ in range(40):
                try:
                    await rest.balance()
                    out.append("ok")
                except (ServerError, RateLimitError) as exc:
                    out.append(str(exc.status))
    return out


async def test_injected_http_faults_are_deterministic_under_a_seed() -> None:
    first = await _outcomes(4)
    assert first == await _outcomes(4)
    assert {"ok", "500", "429"} <= set(first)
    assert first != await _outcomes(5)


async def test_added_latency() -> None:
    async with make_sim(faults="latency_ms=80") as sim, CoincheckRest(sim.rest_url) as rest:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await rest.ticker()
        assert loop.time() - t0 >= 0.08
