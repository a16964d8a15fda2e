"""Database URL resolution and connection errors that read as one line."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import SecretStr

from bot.config import DatabaseConfig
from bot.storage.connection import connect, connect_sync, mask_url, resolve_database_url
from bot.storage.errors import DatabaseUnavailable


def test_mask_url_hides_only_the_password() -> None:
    assert (
        mask_url("postgresql://bot:s3cr%40t@db.example:5432/obi?sslmode=require")
        == "postgresql://bot:***@db.example:5432/obi?sslmode=require"
    )
    assert mask_url("postgresql://bot@db/obi") == "postgresql://bot@db/obi"


def test_configured_url_wins_over_the_embedded_server(tmp_path: Path) -> None:
    cfg = DatabaseConfig(url=SecretStr("postgresql://u:p@h/db"), embedded_data_dir=str(tmp_path))
    assert resolve_database_url(cfg) == "postgresql://u:p@h/db"
    assert not any(tmp_path.iterdir())


async def test_right_password_connects(password_user_url: str) -> None:
    conn = await connect(password_user_url)
    assert await conn.fetchval("SELECT current_user") == "pwuser"
    await conn.close()


async def test_wrong_password_is_one_line_with_the_password_masked(password_user_url: str) -> None:
    url = password_user_url.replace("right-password", "wrong-password")
    with pytest.raises(DatabaseUnavailable) as err:
        await connect(url)
    msg = str(err.value)
    assert "wrong-password" not in msg
    assert "pwuser:***@" in msg
    assert "password authentication failed" in msg
    assert "\n" not in msg
    with pytest.raises(DatabaseUnavailable, match="password authentication failed") as err2:
        connect_sync(url)
    assert "wrong-password" not in str(err2.value)


async def test_nothing_listening_says_so(tmp_path: Path) -> None:
    url = f"postgresql://bot:pw@/obi?host={tmp_path}"
    with pytest.raises(DatabaseUnavailable, match=r"bot:\*\*\*@.*connection refused"):
        await connect(url)


async def test_unknown_database_says_what_to_do(private_pg) -> None:
    url = urlunsplit(urlsplit(private_pg.url)._replace(path="/no_such_db"))
    with pytest.raises(DatabaseUnavailable, match=r"no_such_db.*create it"):
        await connect(url)
