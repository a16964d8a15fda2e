"""Where the running bot's trading parameters come from, and hot reload when they change.

The optimizer replaces the params file atomically (temp file, fsync, rename); an operator may
edit it in place. watchdog reports the change from its own thread; the text is read, checked
and validated on the event loop, and a valid new version waits in `pending` until the trading
loop swaps it in between two market events. A half-written, invalid or unreadable file is
rejected (logged and counted) and the running parameters stay.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from bot.config import ConfigError, TradeParams, load_param_template, parse_trade_params

log = logging.getLogger("bot.params")

# The optimizer and the rollback command stamp the file's first line with its origin.
_SOURCE_LINE = re.compile(r"^#\s*source:\s*(optimizer|manual|rollback|template)(?:\s+run=(\S+))?")


@dataclass(frozen=True)
class ParamsVersion:
    params: TradeParams
    checksum: str  # sha256 of the file text
    source: str  # optimizer | manual | rollback | template
    run_id: str | None
    text: str


def version_from_text(text: str, label: str) -> ParamsVersion:
    """Validate a params file's text; raises ConfigError naming the key and the rule."""
    params = parse_trade_params(text, label)
    match = _SOURCE_LINE.match(text)
    source, run_id = (match.group(1), match.group(2)) if match else ("manual", None)
    checksum = hashlib.sha256(text.encode()).hexdigest()
    return ParamsVersion(params, checksum, source, run_id, text)


def template_version(template_path: str | Path) -> ParamsVersion:
    """The template's defaults: what the bot trades before the first optimization."""
    params = load_param_template(template_path).build({})
    from bot.config import dump_trade_params

    text = "# source: template\n" + dump_trade_params(params)
    return ParamsVersion(params, hashlib.sha256(text.encode()).hexdigest(), "template", None, text)


def read_version(path: Path) -> ParamsVersion:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return version_from_text(text, str(path))


class ParamsWatcher:
    """Watches one params file; validated new versions land in `pending`."""

    def __init__(
        self,
        path: Path,
        current_checksum: str | None,
        on_rejected: Callable[[str], None] = lambda reason: None,
        debounce_seconds: float = 0.2,
    ) -> None:
        self.path = path
        self.pending: ParamsVersion | None = None
        self._checksum = current_checksum
        self._on_rejected = on_rejected
        self._debounce = debounce_seconds
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.changed = asyncio.Event()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handler = _Handler(self.path, self._notify)
        observer = Observer()
        observer.schedule(handler, str(self.path.parent), recursive=False)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None
        if self._timer is not None:
            self._timer.cancel()

    def _notify(self) -> None:
        """Called from watchdog's thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._schedule_check)

    def _schedule_check(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        assert self._loop is not None
        self._timer = self._loop.call_later(self._debounce, self.check_now)

    def check_now(self) -> None:
        """Read and validate the file; queue it when it is new and valid."""
        try:
            version = read_version(self.path)
        except FileNotFoundError:
            return  # deleted or mid-rename: the next event brings the new file
        except ConfigError as exc:
            log.warning("params file rejected, keeping the running parameters: %s", exc)
            self._on_rejected(str(exc))
            return
        if version.checksum == self._checksum:
            return
        self._checksum = version.checksum
        self.pending = version
        self.changed.set()
        log.info("new params version %s (%s) ready to apply", version.checksum[:12], version.source)

    def take(self) -> ParamsVersion | None:
        version, self.pending = self.pending, None
        self.changed.clear()
        return version


_CHANGES = {"created", "modified", "moved", "closed"}


class _Handler(FileSystemEventHandler):
    def __init__(self, path: Path, notify: Callable[[], None]) -> None:
        self._name = path.name
        self._notify = notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Our own reads show up as "opened" / "closed_no_write": reacting to them would loop.
        if event.event_type not in _CHANGES:
            return
        for p in (event.src_path, getattr(event, "dest_path", "")):
            if p and Path(str(p)).name == self._name:
                self._notify()
                return
