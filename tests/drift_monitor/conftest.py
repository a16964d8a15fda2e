"""Fixtures for the drift monitor tests: a connection to a migrated database and a History."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from drift_history import History


# Same loop as the (function-scoped) test; the project default for async fixtures is session.
@pytest_asyncio.fixture(loop_scope="function")
async def conn(migrated_db_url: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(migrated_db_url)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def history(conn: asyncpg.Connection) -> History:
    return History(conn)
