"""`python -m bot demo`: the whole stack locally (embedded DB, simulator, bot, drift, optimizer)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.config import load_app_config
from bot.service.demo import Demo, DemoSettings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run simulator, paper bot, drift monitor and optimizer together"
    )
    p.add_argument(
        "--config", default="config/app_config.yaml", help="app_config.yaml (database, template)"
    )
    p.add_argument("--speed", type=float, default=30.0, help="market replay speed (default 30x)")
    p.add_argument("--hours", type=float, default=6.0, help="hours of synthetic market to replay")
    p.add_argument("--seed", type=int, default=7, help="synthetic market seed")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument(
        "--report", type=Path, default=Path("reports/demo.html"), help="HTML report path"
    )
    p.add_argument("--workdir", type=Path, default=Path("var/demo"), help="state, params and logs")
    p.add_argument("--port", type=int, default=8080, help="bot /health port (a free one if taken)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = DemoSettings(
        workdir=args.workdir,
        report=args.report,
        market_hours=args.hours,
        speed=args.speed,
        seed=args.seed,
        duration=args.duration,
        http_port=args.port,
    )
    return asyncio.run(Demo(load_app_config(args.config), settings).run())
