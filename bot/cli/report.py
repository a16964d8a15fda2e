"""`python -m bot report [--json]`: performance of our own fills over the report windows."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bot.cli.db import add_config_argument, schema_problem
from bot.config import load_app_config
from bot.storage.connection import connect, resolve_database_url
from bot.storage.errors import StorageError
from bot.storage.reports import WindowReport, build_reports
from bot.storage.rows import us_from_utc


def parse_time(text: str) -> datetime:
    """ISO 8601; a time without an offset is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time (e.g. 2025-08-16T02:00:00Z or 2025-08-16 11:00+09:00)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "report",
        help="print the performance summary (trades, win rate, profit factor, Sharpe, drawdown)",
        description="Round trips closed in each report window (app_config report_generator) "
        "and all time, from the fills stored in the database.",
    )
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--mode",
        choices=("paper", "live", "backtest", "all"),
        help="whose fills (default: bot.mode from the config)",
    )
    parser.add_argument("--until", type=parse_time, help="end of the windows (default: now)")
    parser.set_defaults(func=run)


def _as_dict(r: WindowReport) -> dict[str, Any]:
    return {
        "window_hours": r.window_hours,
        "end": datetime.fromtimestamp(r.end_ts_us / 1e6, UTC).isoformat(),
        "mode": r.mode or "all",
        **r.metrics.as_json(),
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(reports: list[WindowReport]) -> str:
    end = datetime.fromtimestamp(reports[0].end_ts_us / 1e6, UTC)
    lines = [
        f"performance of {reports[0].mode or 'all'} fills up to {end:%Y-%m-%d %H:%M:%S} UTC",
        f"{'window':>7} {'trades':>6} {'win rate':>8} {'PF':>6} {'sharpe':>7} "
        f"{'max DD JPY':>11} {'PnL JPY':>11} {'fees JPY':>9}",
    ]
    for r in reports:
        m = r.metrics
        window = "all" if r.window_hours is None else f"{r.window_hours}h"
        win = "-" if m.win_rate is None else f"{m.win_rate:.1%}"
        lines.append(
            f"{window:>7} {m.trades:>6} {win:>8} {_fmt(m.profit_factor):>6} "
            f"{_fmt(m.sharpe, 3):>7} {m.max_drawdown_jpy:>11,.0f} {m.pnl_jpy:>11,.0f} "
            f"{m.fees_jpy:>9,.0f}"
        )
    return "\n".join(lines)


async def _reports(
    url: str, end_us: int, windows: list[int | None], mode: str | None
) -> list[WindowReport]:
    conn = await connect(url)
    try:
        return await build_reports(conn, end_us, windows, mode)
    finally:
        await conn.close()


def run(args: argparse.Namespace) -> int:
    config = load_app_config(args.config if args.config.exists() else None)
    mode = args.mode or config.bot.mode
    end_us = us_from_utc(args.until) if args.until else time.time_ns() // 1000
    windows: list[int | None] = [*config.report_generator.windows_hours, None]
    try:
        url = resolve_database_url(config.database)
        problem = schema_problem(url)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        reports = asyncio.run(_reports(url, end_us, windows, None if mode == "all" else mode))
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([_as_dict(r) for r in reports], indent=2))
    else:
        print(_table(reports))
    return 0
