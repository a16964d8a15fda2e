"""`python -m bot record`: record the live public feed in the native replay format."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from bot.config import load_app_config
from bot.exchange.feed import CoincheckFeed
from bot.exchange.recording import RecordingWriter
from bot.exchange.rest import CoincheckRest


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "record",
        help="record the public WebSocket feed to a replay file",
        description=(
            "Record Coincheck public WebSocket frames (order book and trades) with their receive "
            "times, plus a REST order_books snapshot at every (re)connect. A .gz name compresses."
        ),
    )
    parser.add_argument("--out", type=Path, required=True, help="output file (.jsonl[.gz])")
    parser.add_argument("--config", default="config/app_config.yaml", help="app config file")
    parser.add_argument("--rest-url", help="override exchange.rest_url (e.g. the simulator)")
    parser.add_argument("--ws-url", help="override exchange.ws_url")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = load_app_config(args.config if Path(args.config).exists() else None).exchange
    rest_url = args.rest_url or cfg.rest_url
    ws_url = args.ws_url or cfg.ws_url
    asyncio.run(record(args.out, rest_url, ws_url, args.duration, cfg.stale_feed_seconds))
    return 0


async def record(
    out: Path, rest_url: str, ws_url: str, duration: float | None, stale_after: float = 10.0
) -> int:
    """Record until SIGINT/SIGTERM or `duration`; returns the number of frames written."""
    log = logging.getLogger(__name__)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with RecordingWriter(out, source=ws_url) as writer:
        rest = CoincheckRest(rest_url)
        feed = CoincheckFeed(
            ws_url,
            rest,
            on_frame=writer.write_frame,
            on_snapshot=writer.write_snapshot,
            stale_after=stale_after,
        )
        task = asyncio.create_task(feed.run())
        log.info("recording %s to %s", ws_url, out)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        await feed.stop()
        await task
        await rest.aclose()
    log.info("recorded %d frames, %d snapshots to %s", feed.frames, feed.rebuilds, out)
    return feed.frames
