"""Run the real bot service in-process against the real simulator over loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bot.config import AppConfig, TradeParams, dump_trade_params
from bot.market.events import MarketEvent
from bot.market.synthetic import SynthConfig, SyntheticMarket, parse_regime_spec
from bot.service.app import BotService
from bot.sim.server import ExchangeSimulator

API_KEY, API_SECRET = "test-key", "test-secret"


def write_params(path: Path, params: TradeParams, source: str = "manual") -> None:
    """Atomically, like the optimizer does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"# source: {source}\n" + dump_trade_params(params))
    tmp.replace(path)


def bot_config(
    sim: ExchangeSimulator, db_url: str, tmp: Path, stale_feed_seconds: float = 3.0, **bot: Any
) -> AppConfig:
    return AppConfig.model_validate(
        {
            "bot": {
                "http_port": 0,
                "state_dir": str(tmp / "state"),
                "status_interval_seconds": 0.5,
                **bot,
            },
            "exchange": {
                "rest_url": sim.rest_url,
                "ws_url": sim.ws_url,
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "nonce_file": str(tmp / "nonce"),
                "stale_feed_seconds": stale_feed_seconds,
                "request_timeout_seconds": 2.0,
            },
            "database": {
                "url": db_url,
                "spill_dir": str(tmp / "spill"),
                "writer_flush_interval_ms": 50,
            },
            "params": {"path": str(tmp / "params" / "trade_config.yaml")},
        }
    )


@contextlib.asynccontextmanager
async def running_bot(config: AppConfig, mode: str = "paper") -> AsyncIterator[BotService]:
    service = BotService(config, mode)
    task = asyncio.create_task(service.run())
    try:
        for _ in range(200):
            if service.http is not None and service.trader is not None:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield service
    finally:
        service.request_stop()
        await asyncio.wait_for(task, timeout=20)


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def get_json(port: int, path: str) -> tuple[int, Any]:
    async with httpx.AsyncClient() as client:
        r = await client.get(f"http://127.0.0.1:{port}{path}")
        return r.status_code, (r.json() if path == "/health" else r.text)


ROOT = Path(__file__).resolve().parents[3]


def eager_params() -> TradeParams:
    """A parameter set that trades often on synthetic data: low threshold, wide spread limit."""
    from bot.config import load_param_template

    return load_param_template(ROOT / "config/trade_config.yaml.template").build(
        {
            "signal.composite_threshold": 0.25,
            "signal.hold_duration_ms": 0,
            "spread_limit": 30000,
            "long.tp": 1500,
            "long.sl": -1500,
            "short.tp": 1500,
            "short.sl": -1500,
        }
    )


def informed_market(minutes: float, seed: int) -> list[MarketEvent]:
    """Synthetic market in the regime where order-book imbalance predicts the price."""
    spec = parse_regime_spec(f"informed:{minutes:g}m")
    return list(SyntheticMarket(SynthConfig(seed=seed, hours=minutes / 60, regimes=spec)).events())


def db_count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
        assert row is not None
        return int(row[0])
