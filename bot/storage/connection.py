"""Where the database is (DATABASE_URL or the embedded server) and how to open a connection.

Connection failures become DatabaseUnavailable with one line: the URL with its password masked
and what failed (wrong password, unknown database, nothing listening) — never a traceback.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psycopg

from bot.config import DatabaseConfig
from bot.storage.embedded import start_embedded_server
from bot.storage.errors import DatabaseUnavailable

CONNECT_TIMEOUT_SECONDS = 5.0


def mask_url(url: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    if not parts.password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))


def resolve_database_url(config: DatabaseConfig, base_dir: str | Path = ".") -> str:
    """The configured URL (DATABASE_URL lands in config.url), else start the embedded server."""
    if config.url is not None and config.url.get_secret_value():
        return config.url.get_secret_value()
    data_dir = Path(config.embedded_data_dir)
    if not data_dir.is_absolute():
        data_dir = Path(base_dir) / data_dir
    return start_embedded_server(data_dir)


def describe_connect_error(exc: BaseException) -> str:
    """A short human reason for a failed connection attempt."""
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return "password authentication failed (check the password in DATABASE_URL)"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return f"login refused: {exc} (check the user name in DATABASE_URL)"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"{exc} (create it, or fix the database name in DATABASE_URL)"
    if isinstance(exc, socket.gaierror):
        return f"host name not found ({exc.strerror})"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT_SECONDS:g} s"
    if isinstance(exc, ConnectionRefusedError | FileNotFoundError):
        return "connection refused (is PostgreSQL running and listening there?)"
    if isinstance(exc, psycopg.OperationalError):
        text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        if "password authentication failed" in text:
            return "password authentication failed (check the password in DATABASE_URL)"
        if "Connection refused" in text or "No such file or directory" in text:
            return "connection refused (is PostgreSQL running and listening there?)"
        if "does not exist" in text and "database" in text:
            return f"{text.removeprefix('connection failed: ')} (create it, or fix the URL)"
        return text.removeprefix("connection failed: ") or type(exc).__name__
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return f"{type(exc).__name__}: {exc}"


def unavailable(url: str, exc: BaseException) -> DatabaseUnavailable:
    return DatabaseUnavailable(f"cannot connect to {mask_url(url)}: {describe_connect_error(exc)}")


CONNECT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


async def connect(url: str) -> asyncpg.Connection:
    """Open one asyncpg connection; failures raise DatabaseUnavailable with a masked URL."""
    try:
        return await asyncpg.connect(url, timeout=CONNECT_TIMEOUT_SECONDS)
    except CONNECT_ERRORS as exc:
        raise unavailable(url, exc) from None


def connect_sync(url: str, autocommit: bool = False) -> psycopg.Connection:
    """Open one psycopg connection (migrations, admin); failures raise DatabaseUnavailable."""
    try:
        return psycopg.connect(
            url, autocommit=autocommit, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)
        )
    except psycopg.OperationalError as exc:
        raise unavailable(url, exc) from None
