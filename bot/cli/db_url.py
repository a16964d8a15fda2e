"""`python -m bot db-url [--exec CMD ...]`: where the database is, for tools outside Python.

Prints the URL the services use (DATABASE_URL, database.url, else the embedded server). The
embedded server stops when the last process using it exits, so to run a client such as
pg_dump against it, use `--exec`: the command runs with DATABASE_URL (and PG_BIN_DIR, the
embedded server's own client binaries) in its environment while this process keeps the server up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import warnings
from pathlib import Path

from bot.cli.db import add_config_argument, database_url
from bot.storage.connection import mask_url
from bot.storage.errors import StorageError


def embedded_bin_dir() -> Path | None:
    """pgserver's PostgreSQL client binaries (pg_dump, pg_restore, psql), when installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver
    except ImportError:
        return None
    path = Path(pgserver.__file__).resolve().parent / "pginstall" / "bin"
    return path if (path / "pg_dump").exists() else None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "db-url",
        help="print the database URL, or run a command with DATABASE_URL set (--exec)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_argument(parser)
    parser.add_argument(
        "--masked", action="store_true", help="hide the password (for logs and manifests)"
    )
    parser.add_argument(
        "--exec",
        dest="command",
        nargs=argparse.REMAINDER,
        metavar="CMD",
        help="run CMD ARGS... with DATABASE_URL and PG_BIN_DIR set; exits with its status",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        url = database_url(args.config)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.command:
        print(mask_url(url) if args.masked else url)
        return 0
    env = dict(os.environ, DATABASE_URL=url)
    bin_dir = embedded_bin_dir()
    if bin_dir is not None:
        env.setdefault("PG_BIN_DIR", str(bin_dir))
    try:
        return subprocess.run(args.command, env=env, check=False).returncode
    except FileNotFoundError:
        print(f"error: {args.command[0]}: command not found", file=sys.stderr)
        return 127
