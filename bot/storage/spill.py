"""The writer's append-only spill file: batches kept on disk while the database is away.

Framing: 4-byte big-endian length, then a pickle of `(table, columns, records)`. Only this
process writes and reads it (it is never shared), so pickle's speed and exact types (datetime,
Decimal, UUID) win over a text format. A torn last frame (crash mid-append) is ignored.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)
_HEADER = struct.Struct(">I")

Batch = tuple[str, tuple[str, ...], list[tuple[Any, ...]]]
"""(table, columns, records) with records ready for COPY."""


class SpillFile:
    """Append batches in order; read them back in the same order; remove when replayed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._rows = sum(len(b[2]) for b in self._read_all()) if path.exists() else 0

    @property
    def rows(self) -> int:
        """Rows waiting in the file."""
        return self._rows

    @property
    def size_bytes(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def __bool__(self) -> bool:
        return self.size_bytes > 0

    def append(self, batch: Batch) -> None:
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        with open(self.path, "ab") as fh:
            fh.write(_HEADER.pack(len(data)) + data)
            fh.flush()
        self._rows += len(batch[2])

    def batches(self) -> Iterator[Batch]:
        """Every complete batch in append order (appends made while iterating are included)."""
        return self._read_all()

    def _read_all(self) -> Iterator[Batch]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as fh:
            while True:
                head = fh.read(_HEADER.size)
                if len(head) < _HEADER.size:
                    if head:
                        _log.warning("%s: ignoring a torn frame header at the end", self.path)
                    return
                (size,) = _HEADER.unpack(head)
                data = fh.read(size)
                if len(data) < size:
                    _log.warning("%s: ignoring a torn %d-byte frame at the end", self.path, size)
                    return
                yield pickle.loads(data)

    def clear(self) -> None:
        """Forget the file once every batch in it is stored."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._rows = 0
