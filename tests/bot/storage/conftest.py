"""A private embedded PostgreSQL that storage tests may stop, restart and reconfigure."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.storage.migrations import migrate
from tests.conftest import start_throwaway_postgres


@dataclass
class PrivatePostgres:
    """A pgserver instance of our own: `stop()` and `start()` simulate a database outage."""

    server: Any
    data_dir: Path

    @property
    def url(self) -> str:
        return str(self.server.get_uri())

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data_dir, user=self.server.system_user)

    def start(self) -> None:
        # Same data dir -> same socket dir, so the URL stays valid across restarts.
        self.server.ensure_postgres_running()

    def psql(self, sql: str) -> str:
        return str(self.server.psql(sql))


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    server, data_dir = start_throwaway_postgres("obi-test-private-pg-")
    pg = PrivatePostgres(server, data_dir)
    migrate(pg.url)
    try:
        yield pg
    finally:
        try:
            pg.start()
        finally:
            server.cleanup()
            shutil.rmtree(data_dir.parent, ignore_errors=True)


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    hostinfo = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{hostinfo}"))


@pytest.fixture(scope="module")
def password_user_url(private_pg: PrivatePostgres) -> str:
    """A role that must log in with a password (pgserver trusts local users by default)."""
    private_pg.psql("CREATE ROLE pwuser LOGIN PASSWORD 'right-password';")
    hba = private_pg.data_dir / "pg_hba.conf"
    hba.write_text("local all pwuser scram-sha-256\n" + hba.read_text())
    private_pg.psql("SELECT pg_reload_conf();")
    return _with_user(private_pg.url, "pwuser", "right-password")
