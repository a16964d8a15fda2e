"""Versioned SQL migrations from db/migrations/: apply what is missing, report where we stand.

Files are `NNNN_name.sql`; core ones always apply, those in `timescale/` only when the server
offers the timescaledb extension. Each applies in its own transaction and is recorded in
`schema_migrations`; an advisory lock keeps two services from migrating at once. A database
that has a core version this code does not know is refused (it was migrated by newer code).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bot.storage.connection import connect_sync, mask_url
from bot.storage.errors import SchemaError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "db" / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_041_990_331  # advisory lock id for "obi-scalp-bot migrations"

CORE = "core"
TIMESCALE = "timescale"


@dataclass(frozen=True, slots=True)
class Migration:
    flavor: str
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    url: str
    """Masked URL of the database."""
    applied: tuple[tuple[str, int, str], ...]
    """(flavor, version, name) already in the database, in order."""
    pending: tuple[Migration, ...]
    timescale_available: bool
    code_version: int
    db_version: int

    @property
    def up_to_date(self) -> bool:
        return not self.pending


def discover(directory: Path = MIGRATIONS_DIR) -> dict[str, list[Migration]]:
    """Migrations on disk by flavor, sorted by version; refuses badly named or duplicate files."""
    found: dict[str, list[Migration]] = {CORE: [], TIMESCALE: []}
    for flavor, folder in ((CORE, directory), (TIMESCALE, directory / TIMESCALE)):
        if not folder.is_dir():
            continue
        seen: set[int] = set()
        for path in sorted(folder.glob("*.sql")):
            m = _NAME.match(path.name)
            if m is None:
                raise SchemaError(f"{path}: migration files must be named NNNN_name.sql")
            version = int(m.group(1))
            if version in seen:
                raise SchemaError(f"{path}: version {version} appears twice in {folder}")
            seen.add(version)
            found[flavor].append(Migration(flavor, version, m.group(2), path))
    return found


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    flavor      text        NOT NULL,
    version     integer     NOT NULL,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flavor, version)
)
"""


def _timescale_available(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def _applied(conn: psycopg.Connection) -> list[tuple[str, int, str]]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute(
        "SELECT flavor, version, name FROM schema_migrations ORDER BY flavor, version"
    ).fetchall()
    return [(str(f), int(v), str(n)) for f, v, n in rows]


def _status(conn: psycopg.Connection, url: str, directory: Path) -> MigrationStatus:
    on_disk = discover(directory)
    applied = _applied(conn)
    timescale = _timescale_available(conn)
    done = {(f, v) for f, v, _ in applied}
    wanted = on_disk[CORE] + (on_disk[TIMESCALE] if timescale else [])
    code_version = max((m.version for m in on_disk[CORE]), default=0)
    db_version = max((v for f, v, _ in applied if f == CORE), default=0)
    return MigrationStatus(
        url=mask_url(url),
        applied=tuple(applied),
        pending=tuple(m for m in wanted if (m.flavor, m.version) not in done),
        timescale_available=timescale,
        code_version=code_version,
        db_version=db_version,
    )


def _refuse_newer(status: MigrationStatus, directory: Path) -> None:
    known = {(m.flavor, m.version) for ms in discover(directory).values() for m in ms}
    unknown = [(f, v, n) for f, v, n in status.applied if (f, v) not in known]
    if unknown:
        f, v, n = unknown[-1]
        raise SchemaError(
            f"{status.url} has {f} migration {v:04d}_{n} which this code does not know "
            f"(database at version {status.db_version}, code at {status.code_version}): "
            "it was migrated by a newer release; run that release or restore a matching backup"
        )


def migration_status(url: str, directory: Path = MIGRATIONS_DIR) -> MigrationStatus:
    """Where the database stands relative to the migrations on disk (read-only)."""
    with connect_sync(url) as conn:
        return _status(conn, url, directory)


def migrate(url: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply every pending migration in order; returns those applied (empty when up to date)."""
    applied_now: list[Migration] = []
    with connect_sync(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_CREATE_TABLE)
            status = _status(conn, url, directory)
            _refuse_newer(status, directory)
            for m in status.pending:
                try:
                    with conn.transaction():
                        conn.execute(m.sql)  # type: ignore[call-overload]
                        conn.execute(
                            "INSERT INTO schema_migrations (flavor, version, name, checksum) "
                            "VALUES (%s, %s, %s, %s)",
                            (m.flavor, m.version, m.name, m.checksum),
                        )
                except psycopg.Error as exc:
                    raise SchemaError(
                        f"{status.url}: migration {m.path.name} failed and was rolled back: "
                        f"{str(exc).strip().splitlines()[0]}"
                    ) from None
                applied_now.append(m)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def ensure_schema(url: str, directory: Path = MIGRATIONS_DIR) -> MigrationStatus:
    """Migrate if needed and return the resulting status (what services call at startup)."""
    migrate(url, directory)
    return migration_status(url, directory)
