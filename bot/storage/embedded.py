"""The project's own PostgreSQL (pgserver) used when no DATABASE_URL is configured.

Its data lives under `database.embedded_data_dir` (default ./var/pg) and survives restarts; the
server stops when the last process that started it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from bot.storage.errors import DatabaseUnavailable

_log = logging.getLogger(__name__)


def start_embedded_server(data_dir: str | Path) -> str:
    """Start (or attach to) the embedded PostgreSQL in `data_dir`; returns its URL."""
    path = Path(data_dir).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import pgserver

            server = pgserver.get_server(path, cleanup_mode="stop")
    except Exception as exc:  # pgserver raises bare subprocess/assert errors
        raise DatabaseUnavailable(
            f"cannot start the embedded PostgreSQL in {path}: {type(exc).__name__}: {exc} "
            f"(see {path / 'log'} or set DATABASE_URL to use another server)"
        ) from exc
    _log.info("embedded PostgreSQL running with data in %s", path)
    return str(server.get_uri())
