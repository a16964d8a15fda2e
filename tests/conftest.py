"""Shared fixtures: a real PostgreSQL for every test that needs one.

- `pg_url` (session): URL of a server for the whole run. `DATABASE_URL` when set (e.g. the
  compose `timescaledb` service); otherwise a throwaway embedded PostgreSQL 16 (pgserver) in a
  temp dir, deleted at the end. Do not create tables in its default database: use
  `fresh_db_url` or `migrated_db_url`.
- `pg_admin` (session): a `PgAdmin` to create/drop databases on that server.
- `fresh_db_url` (per test): URL of a new, empty database, dropped after the test.
- `migrated_db_url` (per test): like `fresh_db_url` with every migration in db/migrations applied.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (keeps query options like host=)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


class PgAdmin:
    """Creates and drops uniquely named databases on the test server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def create_database(self, prefix: str = "test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[call-overload]
        return with_database(self.url, name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[call-overload]


def start_throwaway_postgres(prefix: str = "obi-test-pg-") -> tuple[Any, Path]:
    """A new embedded PostgreSQL in its own temp dir: (pgserver handle, data dir).

    Not under pytest's tmp_path: pytest prunes old /tmp/pytest-of-* dirs when other runs start,
    which would delete a running server's data when several test runs share the machine.
    Stop it with `handle.cleanup()` (also deletes the data) and remove the parent dir.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

        data_dir = Path(tempfile.mkdtemp(prefix=prefix)) / "data"
        return pgserver.get_server(data_dir, cleanup_mode="delete"), data_dir


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL server for the test session (DATABASE_URL or a throwaway embedded one)."""
    env_url = os.environ.get("DATABASE_URL")
    if env_url:
        yield env_url
        return
    server, data_dir = start_throwaway_postgres()
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin(pg_url: str) -> PgAdmin:
    return PgAdmin(pg_url)


@pytest.fixture
def fresh_db_url(pg_admin: PgAdmin) -> Iterator[str]:
    """URL of a new empty database for this test only."""
    url = pg_admin.create_database()
    try:
        yield url
    finally:
        pg_admin.drop_database(url)


@pytest.fixture
def migrated_db_url(fresh_db_url: str) -> str:
    """A fresh database with the whole schema (db/migrations) applied."""
    from bot.storage.migrations import migrate

    migrate(fresh_db_url)
    return fresh_db_url
