"""`python -m bot exchange-sim`: serve a Coincheck-compatible exchange replaying a data file."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from bot.cli.report import parse_time
from bot.clock import WALL_CLOCK, replay_clock
from bot.config import FeeRates
from bot.datafile import DataFileError, MarketDataFile
from bot.sim.faults import FaultSpec, FaultSpecError
from bot.sim.server import ExchangeSimulator
from bot.storage.rows import us_from_utc


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a non-negative number")
    return value


def _utc_us(text: str) -> int:
    return us_from_utc(parse_time(text))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "exchange-sim",
        help="run a Coincheck-compatible exchange simulator",
        description=(
            "Serve Coincheck's REST API at http://HOST:PORT/api/... and its public WebSocket at "
            "ws://HOST:PORT/, replaying a data file (CSV/ZIP export or native recording) and "
            "filling orders with the backtester's fill model."
        ),
    )
    parser.add_argument("--data", type=Path, required=True, help="market data file to replay")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="replay speed: 1 = real time, 10 = ten times faster, 0 = as fast as clients read",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", default="sim-key")
    parser.add_argument("--api-secret", default="sim-secret")
    parser.add_argument("--jpy", type=_decimal, default=Decimal("1000000"), help="starting JPY")
    parser.add_argument("--btc", type=_decimal, default=Decimal("0.05"), help="starting BTC")
    parser.add_argument("--maker-fee", type=_decimal, default=Decimal("0"), help="e.g. 0.0001")
    parser.add_argument("--taker-fee", type=_decimal, default=Decimal("0"), help="e.g. 0.001")
    parser.add_argument(
        "--faults",
        default="",
        help="fault spec, e.g. ws_drop=0.001,malformed=0.01,http500=0.05,latency_ms=20",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for fault injection")
    parser.add_argument(
        "--market-clock",
        choices=("wall", "replay"),
        default="wall",
        help="stamp events, orders and fills with the wall clock (default) or with a replay "
        "clock that runs --speed times faster, published at /sim/clock for services with "
        "exchange.clock: simulator",
    )
    parser.add_argument(
        "--clock-origin",
        type=_utc_us,
        default=None,
        help="replay clock's start time (ISO 8601 UTC; default: now)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="start replaying at once instead of when the first WebSocket client subscribes",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        faults = FaultSpec.parse(args.faults)
        fees = FeeRates(maker=args.maker_fee, taker=args.taker_fee)
    except FaultSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: fees: {exc}", file=sys.stderr)
        return 2
    if args.market_clock == "replay" and not args.speed:
        print("error: --market-clock replay needs a replay --speed above 0", file=sys.stderr)
        return 2
    clock = (
        replay_clock(args.speed, args.clock_origin) if args.market_clock == "replay" else WALL_CLOCK
    )
    if not args.data.is_file():
        print(f"error: {args.data}: no such file", file=sys.stderr)
        return 2
    sim = ExchangeSimulator(
        (),
        host=args.host,
        port=args.port,
        speed=args.speed or None,
        autoplay=False,
        api_key=args.api_key,
        api_secret=args.api_secret,
        jpy=args.jpy,
        btc=args.btc,
        fees=fees,
        faults=faults,
        seed=args.seed,
        wait_for_subscriber=not args.no_wait,
        clock=clock,
    )
    try:
        asyncio.run(_serve(sim, args.data))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    except DataFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


async def _serve(sim: ExchangeSimulator, data_path: Path) -> None:
    log = logging.getLogger(__name__)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.start()  # serving at once; a large CSV loads in the background
    try:
        data = await asyncio.to_thread(MarketDataFile, data_path)
        log.info("exchange simulator: replaying %s", data_path)
        sim.play(data)
        await stop.wait()
    finally:
        log.info("exchange simulator: stopping")
        await sim.stop()
