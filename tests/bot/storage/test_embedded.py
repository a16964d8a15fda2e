"""The embedded server: started when no URL is configured, its data survives a restart."""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import psycopg
import pytest

from bot.config import DatabaseConfig
from bot.storage.connection import resolve_database_url


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="DATABASE_URL overrides it")
def test_embedded_server_keeps_data_across_restarts() -> None:
    # Outside pytest's tmp_path, which concurrent pytest runs may prune (see tests/conftest.py).
    base = Path(tempfile.mkdtemp(prefix="obi-test-embedded-"))
    cfg = DatabaseConfig(embedded_data_dir="var/pg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    try:
        url = resolve_database_url(cfg, base_dir=base)
        assert (base / "var" / "pg" / "PG_VERSION").exists()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
        pgserver.get_server(base / "var" / "pg").cleanup()  # stops it, keeps the data
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2).close()

        url = resolve_database_url(cfg, base_dir=base)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
    finally:
        pgserver.get_server(base / "var" / "pg", cleanup_mode="delete").cleanup()
        shutil.rmtree(base, ignore_errors=True)
