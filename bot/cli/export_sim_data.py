"""`python -m bot export-sim-data`: stored market data -> a recording `simulate` can replay."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cli.db import add_config_argument, database_url, schema_problem
from bot.cli.report import parse_time
from bot.storage.connection import connect
from bot.storage.errors import StorageError
from bot.storage.export import ExportSummary, export_recording
from bot.storage.queries import market_data_span
from bot.storage.rows import us_from_utc

DEFAULT_OUT = Path("data/export/sim_data.jsonl.gz")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "export-sim-data",
        help="write stored market data to a recording for simulate / the optimizer",
        description="Export book diffs, snapshots and trades with receive time in "
        "[start, end) as a native recording (gzip when --out ends in .gz).",
    )
    add_config_argument(parser)
    span = parser.add_mutually_exclusive_group(required=True)
    span.add_argument("--hours-before", type=float, help="the last N hours, ending now")
    span.add_argument("--start-time", type=parse_time, help="ISO time; naive = UTC")
    parser.add_argument("--end-time", type=parse_time, help="ISO time (with --start-time)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.set_defaults(func=run)


def _iso(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _export(url: str, start_us: int, end_us: int, out: Path) -> tuple[ExportSummary, str]:
    conn = await connect(url)
    try:
        summary = await export_recording(conn, start_us, end_us, out)
        span = await market_data_span(conn) if summary.events == 0 else None
    finally:
        await conn.close()
    stored = f"stored data spans {_iso(span[0])} .. {_iso(span[1])}" if span else "none stored"
    return summary, stored


def run(args: argparse.Namespace) -> int:
    if args.hours_before is not None:
        if args.end_time is not None:
            print("error: --end-time goes with --start-time, not --hours-before", file=sys.stderr)
            return 2
        if args.hours_before <= 0:
            print("error: --hours-before must be positive", file=sys.stderr)
            return 2
        end_us = time.time_ns() // 1000
        start_us = end_us - int(timedelta(hours=args.hours_before) / timedelta(microseconds=1))
    else:
        if args.end_time is None:
            print("error: --start-time needs --end-time", file=sys.stderr)
            return 2
        start_us, end_us = us_from_utc(args.start_time), us_from_utc(args.end_time)
        if end_us <= start_us:
            print("error: --end-time must be after --start-time", file=sys.stderr)
            return 2
    try:
        url = database_url(args.config)
        problem = schema_problem(url)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        summary, stored = asyncio.run(_export(url, start_us, end_us, args.out))
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if summary.events == 0:
        args.out.unlink(missing_ok=True)
        print(
            f"error: no market data between {_iso(start_us)} and {_iso(end_us)} ({stored})",
            file=sys.stderr,
        )
        return 1
    print(
        f"wrote {args.out}: {summary.book_diffs} book diffs, {summary.snapshots} snapshots, "
        f"{summary.trades} trades from {_iso(summary.first_ts_us or 0)} "
        f"to {_iso(summary.last_ts_us or 0)}"
    )
    return 0
