"""`python -m bot run --mode paper|live`: the trading service."""

from __future__ import annotations

import argparse
import asyncio

from bot.config import load_app_config
from bot.service.app import BotService
from bot.service.logs import setup_logging
from bot.storage.errors import StorageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the trading bot (paper against the simulator, or live)")
    p.add_argument(
        "--mode", choices=("paper", "live"), default=None, help="default: bot.mode of the config"
    )
    p.add_argument("--config", default="config/app_config.yaml", help="app_config.yaml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_app_config(args.config)
    secrets = [
        s.get_secret_value() for s in (config.exchange.api_secret, config.exchange.api_key) if s
    ]
    if config.database.url is not None:
        from urllib.parse import urlsplit

        password = urlsplit(config.database.url.get_secret_value()).password
        if password:
            secrets.append(password)
    setup_logging(config.bot.log_level, secrets)
    service = BotService(config, args.mode or config.bot.mode)
    try:
        return asyncio.run(service.run())
    except StorageError as exc:
        print(f"error: {exc}")
        return 1
