"""`python -m bot db migrate|status`: bring the schema up to date, or show where it stands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import load_app_config
from bot.storage.connection import resolve_database_url
from bot.storage.errors import StorageError
from bot.storage.migrations import migrate, migration_status


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config/app_config.yaml"),
        help="app config (database section); DATABASE_URL overrides it",
    )


def database_url(config_path: Path) -> str:
    """DATABASE_URL, else database.url, else the embedded server under database.embedded_data_dir."""
    config = load_app_config(config_path if config_path.exists() else None)
    return resolve_database_url(config.database)


def schema_problem(url: str) -> str | None:
    """Why commands that read the schema cannot run yet (None when it is current)."""
    status = migration_status(url)
    if status.pending:
        return (
            f"{status.url} schema is at version {status.db_version}, code at "
            f"{status.code_version}: run `python -m bot db migrate` first"
        )
    return None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "db",
        help="database schema: migrate, status",
        description="Apply db/migrations/ (idempotent) or show the schema version.",
    )
    add_config_argument(parser)
    parser.add_argument(
        "action",
        choices=("migrate", "status"),
        help="migrate: apply pending migrations; status: list them (exit 1 when some are pending)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        url = database_url(args.config)
        if args.action == "migrate":
            applied = migrate(url)
            status = migration_status(url)
            for m in applied:
                print(f"applied {m.flavor} {m.version:04d}_{m.name}")
            if not applied:
                print(f"{status.url}: already up to date (version {status.db_version})")
            else:
                print(f"{status.url}: now at version {status.db_version}")
            return 0
        status = migration_status(url)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    timescale = "available" if status.timescale_available else "not available (plain PostgreSQL)"
    print(f"database:    {status.url}")
    print(f"schema:      version {status.db_version} (code has {status.code_version})")
    print(f"timescaledb: {timescale}")
    for flavor, version, name in status.applied:
        print(f"  applied  {flavor:9} {version:04d}_{name}")
    for m in status.pending:
        print(f"  pending  {m.flavor:9} {m.version:04d}_{m.name}")
    if status.db_version > status.code_version:
        print("the database is newer than this code: run the matching release", file=sys.stderr)
        return 2
    if status.pending:
        print("run `python -m bot db migrate` to apply the pending migrations")
        return 1
    return 0
