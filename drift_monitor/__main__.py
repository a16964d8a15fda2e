"""`python -m drift_monitor serve` (the Compose service) or `check [--json]` (one evaluation now)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable

from bot.clock import WALL_CLOCK, ClockError, MarketClock, fetch_simulator_clock
from bot.config import ConfigError, ExchangeConfig, load_app_config, load_drift_config
from bot.storage.connection import resolve_database_url
from bot.storage.errors import StorageError
from bot.storage.migrations import ensure_schema
from drift_monitor.monitor import check_once, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m drift_monitor", description=__doc__)
    parser.add_argument(
        "--config", default="config/drift_monitor.yaml", help="drift monitor settings"
    )
    parser.add_argument(
        "--app-config", default="config/app_config.yaml", help="system settings (database)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("serve", help="check every check_interval_seconds until stopped")
    check = sub.add_parser("check", help="one evaluation now")
    check.add_argument(
        "--json", action="store_true", help="print one JSON object (severity, metrics, job_id)"
    )
    return parser


def market_clock(exchange: ExchangeConfig) -> Callable[[], MarketClock]:
    """The wall clock, or (exchange.clock: simulator) the simulator's replay clock, read once."""
    if exchange.clock == "wall":
        return lambda: WALL_CLOCK
    found: list[MarketClock] = []

    def read() -> MarketClock:
        if not found:
            found.append(fetch_simulator_clock(exchange.rest_url, exchange.request_timeout_seconds))
        return found[0]

    return read


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = load_drift_config(args.config)
        app = load_app_config(args.app_config)
        logging.getLogger().setLevel(app.bot.log_level)
        clock = market_clock(app.exchange)
        check_clock = None if args.command == "serve" else clock()
        url = resolve_database_url(app.database)
        ensure_schema(url)
        if check_clock is None:
            asyncio.run(serve(url, cfg, clock=clock))
            return 0
        result = asyncio.run(check_once(url, cfg, clock=check_clock))
    except (ConfigError, ClockError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result.as_json(), allow_nan=False))
    else:
        print(result.summary())
        for name, m in result.as_json()["metrics"].items():  # type: ignore[union-attr]
            print(f"  {name:<24} {m['status']:<8} value={m['value']} threshold={m['threshold']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
