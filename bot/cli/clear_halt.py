"""`python -m bot clear-halt`: let a bot halted by the drawdown limit trade again."""

from __future__ import annotations

import argparse

from bot.config import load_app_config
from bot.service.halt_state import HaltState


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "clear-halt", help="clear the persisted drawdown halt (takes effect at the next start)"
    )
    p.add_argument("--config", default="config/app_config.yaml", help="app_config.yaml")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    halt = HaltState(load_app_config(args.config).bot.state_dir)
    reason = halt.read()
    if halt.clear():
        print(f"halt cleared (was: {reason}); restart the bot to trade again")
    else:
        print("the bot is not halted")
    return 0
