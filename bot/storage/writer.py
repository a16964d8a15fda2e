"""Lossless async batched writer: `write(row)` queues and returns; a task COPYs batches.

- Rows are grouped per table and flushed when `batch_rows` are queued or every
  `flush_interval`, in one transaction: COPY into a temp staging table, then
  `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, so replaying a batch never doubles a row.
- The event loop never waits on the database: `write` is synchronous, and the COPY source
  yields to the loop every 64 rows; timestamps travel as µs integers and become timestamptz
  in SQL, so no datetime objects are built on the loop.
- When the database is unreachable, batches go to an append-only spill file (also when the
  in-memory queue is full); once anything is spilled, later batches follow it there so order
  holds, and the file is replayed in order when the database answers again — or by the next
  process that starts a writer with the same spill file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import Any

import asyncpg

from bot.config import DatabaseConfig
from bot.storage.connection import connect, mask_url
from bot.storage.errors import DatabaseUnavailable
from bot.storage.rows import ROW_TYPES, Row
from bot.storage.spill import Batch, SpillFile

_log = logging.getLogger(__name__)
_YIELD_EVERY_ROWS = 64


@dataclass(frozen=True, slots=True)
class _TableSpec:
    table: str
    columns: tuple[str, ...]
    times: frozenset[str]
    """Columns holding µs since the epoch in Python, timestamptz in the table."""
    values: Callable[[Any], tuple[Any, ...]]
    """Row -> column values, in `columns` order (attrgetter: no per-row Python work)."""

    @property
    def stage(self) -> str:
        return f"_stage_{self.table}"

    def create_stage_sql(self) -> str:
        # Times travel as bigint µs and become timestamptz in SQL: no datetime objects are
        # built on the event loop, and the conversion is exact.
        alters = ", ".join(f"ALTER COLUMN {c} TYPE bigint USING NULL" for c in sorted(self.times))
        sql = (
            f"CREATE TEMP TABLE IF NOT EXISTS {self.stage} (LIKE {self.table}) "
            "ON COMMIT DELETE ROWS;"
        )
        if alters:
            sql += f" ALTER TABLE {self.stage} {alters};"
        return sql

    def insert_sql(self) -> str:
        select = ", ".join(
            f"timestamptz 'epoch' + {c} * interval '1 microsecond'" if c in self.times else c
            for c in self.columns
        )
        return (
            f"INSERT INTO {self.table} ({', '.join(self.columns)}) "
            f"SELECT {select} FROM {self.stage} ON CONFLICT DO NOTHING"
        )


def _spec(cls: type[Row]) -> _TableSpec:
    columns = tuple(f.name for f in fields(cls))
    return _TableSpec(cls.TABLE, columns, frozenset(cls.TIMES), attrgetter(*columns))


_SPECS: dict[type, _TableSpec] = {cls: _spec(cls) for cls in ROW_TYPES}
_BY_TABLE: dict[str, _TableSpec] = {s.table: s for s in _SPECS.values()}
TABLES: tuple[str, ...] = tuple(s.table for s in _SPECS.values())

# Errors meaning "the database is not there right now" (spill and retry), as opposed to a row
# the database refuses (logged and set aside, see _store_isolating).
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    DatabaseUnavailable,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # disk full, too many connections
    asyncpg.InterfaceError,
    ConnectionError,
)


@dataclass(frozen=True, slots=True)
class WriterStats:
    queue_depth: int
    """Rows in memory waiting for the next flush."""
    spill_rows: int
    spill_bytes: int
    rows_written: int
    """Rows sent to the database and committed (duplicates included, they are dropped there)."""
    rows_spilled_total: int
    rows_rejected: int
    connected: bool


class DatabaseWriter:
    """Batched, lossless writer for the append-only tables (see bot/storage/rows.py)."""

    def __init__(
        self,
        url: str,
        spill_path: Path,
        *,
        batch_rows: int = 5000,
        flush_interval_s: float = 0.5,
        max_queue_rows: int = 200_000,
        retry_interval_s: float = 1.0,
    ) -> None:
        self._url = url
        self._batch_rows = batch_rows
        self._flush_interval_s = flush_interval_s
        self._max_queue_rows = max_queue_rows
        self._retry_interval_s = retry_interval_s
        self._spill = SpillFile(spill_path)
        self._rejected = SpillFile(spill_path.with_suffix(".rejected"))
        self._pending: dict[_TableSpec, list[tuple[Any, ...]]] = {}
        self._queued = 0
        self._conn: asyncpg.Connection | None = None
        self._staged: set[str] = set()
        self._next_attempt = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._lock = asyncio.Lock()
        self._written = 0
        self._spilled_total = 0
        self._rejected_rows = 0

    @classmethod
    def from_config(cls, url: str, config: DatabaseConfig, name: str = "bot") -> DatabaseWriter:
        """A writer with the configured batching; spill file `<spill_dir>/<name>.spill`."""
        return cls(
            url,
            Path(config.spill_dir) / f"{name}.spill",
            batch_rows=config.writer_batch_rows,
            flush_interval_s=config.writer_flush_interval_ms / 1000,
            max_queue_rows=config.writer_max_queue_rows,
        )

    # ------------------------------------------------------------------ caller side
    def write(self, row: Row) -> None:
        """Queue one row; never waits. A full queue goes to the spill file instead."""
        spec = _SPECS[type(row)]
        pending = self._pending.get(spec)
        if pending is None:
            pending = self._pending[spec] = []
        pending.append(spec.values(row))
        self._queued += 1
        if self._queued >= self._max_queue_rows:
            _log.warning(
                "writer queue full (%d rows): spilling to %s", self._queued, self._spill.path
            )
            self._spill_pending()
        elif self._queued >= self._batch_rows:
            self._wake.set()

    def write_many(self, rows: Sequence[Row]) -> None:
        for row in rows:
            self.write(row)

    @property
    def queue_depth(self) -> int:
        return self._queued

    @property
    def spill_bytes(self) -> int:
        return self._spill.size_bytes

    @property
    def spill_rows(self) -> int:
        return self._spill.rows

    def stats(self) -> WriterStats:
        return WriterStats(
            queue_depth=self._queued,
            spill_rows=self._spill.rows,
            spill_bytes=self._spill.size_bytes,
            rows_written=self._written,
            rows_spilled_total=self._spilled_total,
            rows_rejected=self._rejected_rows,
            connected=self._conn is not None and not self._conn.is_closed(),
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the flush task; a spill file left by an earlier run is replayed first."""
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="db-writer")

    async def flush(self) -> None:
        """Store (or spill) everything queued so far, replaying the spill if the DB is up."""
        async with self._lock:
            await self._flush_once(force_retry=True)

    async def close(self) -> None:
        """Flush what is queued (to the DB, or the spill file if it is down) and stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task  # finishes its current flush, then sees _closing
            self._task = None
        await self.flush()
        if self._conn is not None:
            with contextlib.suppress(*_UNAVAILABLE):
                await self._conn.close(timeout=2)
            self._conn = None

    async def __aenter__(self) -> DatabaseWriter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ flushing
    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval_s)
            self._wake.clear()
            async with self._lock:
                try:
                    await self._flush_once(force_retry=False)
                except Exception:  # never let the flusher die; rows stay spilled
                    _log.exception("database writer flush failed unexpectedly")

    def _take_pending(self) -> list[Batch]:
        batches = [(s.table, s.columns, recs) for s, recs in self._pending.items() if recs]
        self._pending = {}
        self._queued = 0
        return batches

    def _spill_pending(self) -> None:
        for batch in self._take_pending():
            self._spill.append(batch)
            self._spilled_total += len(batch[2])

    async def _flush_once(self, force_retry: bool) -> None:
        if self._spill:
            # Keep order: new rows queue behind the spilled ones.
            self._spill_pending()
            if force_retry or time.monotonic() >= self._next_attempt:
                await self._replay_spill()
            return
        batches = self._take_pending()
        if not batches:
            return
        try:
            await self._store(batches)
        except BaseException as exc:
            # Unavailable, cancelled or a bug: the rows go to disk either way (storing them
            # again later is harmless, the keys are idempotent).
            if isinstance(exc, _UNAVAILABLE):
                self._went_away(exc)
            for batch in batches:
                self._spill.append(batch)
                self._spilled_total += len(batch[2])
            if not isinstance(exc, _UNAVAILABLE):
                raise

    async def _replay_spill(self) -> None:
        # Outages spill many small batches; store them in transactions of ~batch_rows rows.
        replayed = 0
        group: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        size = 0
        try:
            for table, columns, records in self._spill.batches():
                group.setdefault((table, columns), []).extend(records)
                size += len(records)
                if size >= self._batch_rows:
                    await self._store([(t, c, r) for (t, c), r in group.items()])
                    replayed += size
                    group, size = {}, 0
            if group:
                await self._store([(t, c, r) for (t, c), r in group.items()])
                replayed += size
        except _UNAVAILABLE as exc:
            self._went_away(exc)
            return
        self._spill.clear()
        if replayed:
            _log.info("database back: replayed %d spilled rows", replayed)

    def _went_away(self, exc: BaseException) -> None:
        self._next_attempt = time.monotonic() + self._retry_interval_s
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None
        _log.warning(
            "database %s unavailable (%s): spilling to %s",
            mask_url(self._url),
            type(exc).__name__,
            self._spill.path,
        )

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await connect(self._url)
            self._staged = set()
        return self._conn

    async def _store(self, batches: list[Batch]) -> None:
        conn = await self._connection()
        try:
            async with conn.transaction():
                for table, columns, records in batches:
                    await self._copy_insert(conn, table, columns, records)
        except BaseException as exc:
            self._staged = set()  # a rolled-back transaction also undid CREATE TEMP TABLE
            if isinstance(exc, _UNAVAILABLE) or not isinstance(exc, asyncpg.PostgresError):
                raise
            _log.error(
                "database refused a batch (%s: %s); isolating bad rows", type(exc).__name__, exc
            )
            for batch in batches:
                await self._store_isolating(conn, batch)
        self._written += sum(len(b[2]) for b in batches)

    async def _store_isolating(self, conn: asyncpg.Connection, batch: Batch) -> None:
        """Row by row, so one bad row is set aside (in the .rejected file) and the rest stored."""
        table, columns, records = batch
        for rec in records:
            try:
                async with conn.transaction():
                    await self._copy_insert(conn, table, columns, [rec])
            except asyncpg.PostgresError as exc:
                self._staged = set()
                if isinstance(exc, _UNAVAILABLE):
                    raise
                _log.error("rejected row for %s (%s): %r", table, exc, rec)
                self._rejected.append((table, columns, [rec]))
                self._rejected_rows += 1

    async def _copy_insert(
        self,
        conn: asyncpg.Connection,
        table: str,
        columns: tuple[str, ...],
        records: list[tuple[Any, ...]],
    ) -> None:
        spec = _BY_TABLE[table]
        if table not in self._staged:
            await conn.execute(spec.create_stage_sql())
            self._staged.add(table)
        await conn.copy_records_to_table(spec.stage, records=_yielding(records), columns=columns)
        await conn.execute(spec.insert_sql())


async def _yielding(records: list[tuple[Any, ...]]) -> AsyncIterator[tuple[Any, ...]]:
    """COPY source that lets other tasks run every few hundred rows (bounded loop stall)."""
    for i, rec in enumerate(records):
        if i and i % _YIELD_EVERY_ROWS == 0:
            await asyncio.sleep(0)
        yield rec
