"""Write the bot's parameter file atomically and keep every version for rollback.

The bot hot-reloads `trade_config.yaml` when it changes, so it must never see half a file:
write a temp file in the same directory, fsync it, rename it over the target (atomic on POSIX),
fsync the directory. The first line says where the version came from, in the form the bot
records (`# source: optimizer run=<id>`, `# source: rollback run=<id>`). Every version written is also kept in `history/` next to the file as
`<sequence>-<UTC time>-<sha256 prefix>.yaml`; `rollback` copies one back the same atomic way.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.config import TradeParams, dump_trade_params, parse_trade_params

HISTORY_DIR = "history"


class ParamsWriteError(Exception):
    """The params file or its history could not be written or read; names the path."""


@dataclass(frozen=True, slots=True)
class ParamsVersion:
    version: str
    """`000042-20261124T103000123456Z-1a2b3c4d`: sorts in write order, names its content."""
    path: Path
    checksum: str


_SOURCE_LINE = re.compile(r"^#\s*source:\s*(\w+)(?:\s+run=(\S+))?[^\n]*\n?")


def checksum(text: str) -> str:
    """sha256 of the content without its source line: a rolled-back copy is the same version."""
    return hashlib.sha256(_SOURCE_LINE.sub("", text, count=1).encode("utf-8")).hexdigest()


def _with_source(text: str, source: str) -> str:
    """`text` with its first line replaced by (or prefixed with) `# source: ...`, keeping the
    optimization run it came from."""
    match = _SOURCE_LINE.match(text)
    run = f" run={match.group(2)}" if match and match.group(2) else ""
    body = text[match.end() :] if match else text
    return f"# source: {source}{run}\n{body}"


def history_dir(params_path: Path) -> Path:
    return params_path.parent / HISTORY_DIR


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` so readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def list_versions(params_path: Path) -> list[ParamsVersion]:
    """Kept versions, oldest first."""
    folder = history_dir(params_path)
    if not folder.is_dir():
        return []
    out = []
    for p in sorted(folder.glob("[0-9]*-*-*.yaml")):
        out.append(ParamsVersion(p.stem, p, p.stem.rsplit("-", 1)[-1]))
    return out


def _keep(params_path: Path, text: str, now: datetime | None) -> ParamsVersion:
    digest = checksum(text)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    kept = list_versions(params_path)
    seq = int(kept[-1].version.split("-", 1)[0]) + 1 if kept else 1
    version = f"{seq:06d}-{stamp}-{digest[:8]}"
    path = history_dir(params_path) / f"{version}.yaml"
    atomic_write_text(path, text)
    return ParamsVersion(version, path, digest[:8])


def _prune(params_path: Path, keep: int) -> None:
    versions = list_versions(params_path)
    for v in versions[: max(0, len(versions) - keep)]:
        v.path.unlink(missing_ok=True)


def write_params(
    params_path: str | Path,
    params: TradeParams,
    run_id: str | None = None,
    note: str = "",
    keep: int = 50,
    now: datetime | None = None,
) -> ParamsVersion:
    """Write `params` to the live file (atomically) and to the history; returns the version.

    The file currently live is kept in the history first (if it is not there yet), so even a
    hand-written file can be rolled back to."""
    path = Path(params_path)
    body = dump_trade_params(params)
    source = f"# source: optimizer{f' run={run_id}' if run_id else ''}\n"
    text = source + "".join(f"# {line}\n" for line in note.splitlines()) + body
    parse_trade_params(text, str(path))  # what the bot will read back must validate
    try:
        _keep_current(path, now)
        version = _keep(path, text, now)
        atomic_write_text(path, text)
        _prune(path, keep)
    except OSError as exc:
        raise ParamsWriteError(f"{path}: cannot write parameters: {exc.strerror or exc}") from exc
    return version


def _keep_current(path: Path, now: datetime | None) -> None:
    if not path.is_file():
        return
    current = path.read_text(encoding="utf-8")
    digest = checksum(current)[:8]
    if any(v.checksum == digest for v in list_versions(path)):
        return
    _keep(path, current, now)


def current_version(params_path: str | Path) -> ParamsVersion | None:
    """The kept version whose content is live now (newest match), if any."""
    path = Path(params_path)
    if not path.is_file():
        return None
    digest = checksum(path.read_text(encoding="utf-8"))[:8]
    matches = [v for v in list_versions(path) if v.checksum == digest]
    return matches[-1] if matches else None


def rollback(params_path: str | Path, to: str | None = None) -> ParamsVersion:
    """Make a kept version live again: `to` (a version or its unique prefix), else the one
    before the live version. Validates it first; raises ParamsWriteError when impossible."""
    path = Path(params_path)
    versions = list_versions(path)
    if not versions:
        raise ParamsWriteError(f"{history_dir(path)}: no kept parameter versions to roll back to")
    if to is not None:
        chosen = [v for v in versions if v.version.startswith(to) or v.checksum.startswith(to)]
        if len(chosen) != 1:
            known = ", ".join(v.version for v in versions[-5:])
            what = "no" if not chosen else "more than one"
            raise ParamsWriteError(f"{what} kept version matches {to!r} (latest: {known})")
        target = chosen[0]
    else:
        live = current_version(path)
        if live is None:
            target = versions[-1]
        else:
            older = [
                v for v in versions if v.version < live.version and v.checksum != live.checksum
            ]
            if not older:
                raise ParamsWriteError(
                    f"{path}: the live version {live.version} is the oldest kept; nothing before it"
                )
            target = older[-1]
    text = _with_source(target.path.read_text(encoding="utf-8"), "rollback")
    parse_trade_params(text, str(target.path))
    try:
        _keep_current(path, None)
        atomic_write_text(path, text)
    except OSError as exc:
        raise ParamsWriteError(f"{path}: cannot write parameters: {exc.strerror or exc}") from exc
    return target
