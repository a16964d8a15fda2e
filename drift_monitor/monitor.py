"""One drift check end to end (read, detect, grade, act, record, notify), and the serve loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg

from bot.clock import WALL_CLOCK, ClockError, MarketClock
from bot.config import DriftMonitorConfig
from bot.storage.connection import connect
from bot.storage.drift_store import (
    DriftEvent,
    JsonValue,
    fetch_fills_since_flat,
    fetch_market_buckets,
    insert_drift_events,
    last_drift_event,
    last_fill_us,
    parameter_versions_between,
)
from bot.storage.errors import StorageError
from bot.storage.reports import round_trips
from bot.storage.rows import utc_from_us
from drift_monitor.actions import DECISION_DETECTOR, Action, Decision, decide, drift_events
from drift_monitor.actions import metric_json as _metric_json
from drift_monitor.detectors import (
    US_PER_HOUR,
    current_drawdown_jpy,
    detect_market,
    detect_performance,
    market_activity,
    split_market,
)
from drift_monitor.notify import (
    Notifier,
    drawdown_halt_message,
    drift_message,
    params_applied_message,
)
from drift_monitor.severity import DRIFT, Assessment, MetricResult, Severity, assess

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notification:
    kind: str  # "drift" | "params_applied" | "drawdown_halt"
    text: str
    delivered: bool


@dataclass(frozen=True, slots=True)
class CheckResult:
    ts_us: int
    assessment: Assessment
    decision: Decision
    drawdown_jpy: float
    drawdown_halt_jpy: float | None
    drawdown_halted: bool
    notifications: Sequence[Notification] = field(default_factory=tuple)

    @property
    def severity(self) -> Severity:
        return self.assessment.severity

    def as_json(self) -> dict[str, JsonValue]:
        """The `check --json` object: severity, every compared metric, the job (or null)."""
        return {
            "ts": utc_from_us(self.ts_us).isoformat(),
            "severity": self.severity.value,
            "reason": self.assessment.reason,
            "action": self.decision.action.value,
            "decision": self.decision.reason,
            "job_id": str(self.decision.job_id) if self.decision.job_id else None,
            "job_payload": dict(self.decision.payload) if self.decision.payload else None,
            "metrics": {m.name: _metric_json(m) for m in self.assessment.metrics},
            "drawdown": {
                "value": self.drawdown_jpy,
                "threshold": self.drawdown_halt_jpy,
                "status": "halt" if self.drawdown_halted else "ok",
            },
            "notifications": [
                {"kind": n.kind, "delivered": n.delivered} for n in self.notifications
            ],
        }

    def summary(self) -> str:
        job = f" job {self.decision.job_id}" if self.decision.job_id else ""
        return (
            f"drift check: {self.severity} ({self.decision.action}){job}: {self.assessment.reason}"
        )


async def _metrics(
    conn: asyncpg.Connection, cfg: DriftMonitorConfig, now_us: int
) -> tuple[list[MetricResult], float]:
    perf = cfg.performance
    since = now_us - round(perf.baseline_hours * US_PER_HOUR)
    fills = await fetch_fills_since_flat(conn, perf.mode, since, now_us)
    trips = [t for t in round_trips(fills) if t.exit_ts_us > since]
    metrics: list[MetricResult] = []
    active: bool | None = None
    activity = "market detectors disabled"
    if cfg.market.enabled or perf.idle.enabled:
        mkt = cfg.market
        buckets = await fetch_market_buckets(
            conn, now_us - round(mkt.baseline_hours * US_PER_HOUR), now_us, mkt.bucket_seconds
        )
        windows = split_market(buckets, now_us, mkt)
        active, activity = market_activity(windows, perf.idle.active_market_ratio)
        if mkt.enabled:
            metrics += detect_market(windows, mkt)
    last_fill = await last_fill_us(conn, perf.mode, now_us)
    metrics[:0] = detect_performance(trips, now_us, last_fill, active, activity, perf)
    drawdown = float(current_drawdown_jpy(trips, now_us, perf.baseline_hours))
    return metrics, drawdown


async def run_check(
    conn: asyncpg.Connection,
    cfg: DriftMonitorConfig,
    now_us: int,
    notifier: Notifier | None = None,
    clock: MarketClock = WALL_CLOCK,
) -> CheckResult:
    """Evaluate now, create a job if warranted, record the decision, send notifications."""
    notifier = notifier or Notifier(None)
    metrics, drawdown = await _metrics(conn, cfg, now_us)
    assessment = assess(metrics, cfg.escalate_on_both)
    previous = await last_drift_event(conn, DECISION_DETECTOR, before_us=now_us)
    decision = await decide(conn, assessment, cfg.jobs, now_us, clock)

    limit = cfg.notify.drawdown_halt_jpy
    halted = limit is not None and drawdown >= limit
    notes: list[tuple[str, str]] = []
    severity_changed = previous is None or previous.severity != assessment.severity.value
    if assessment.severity.value in DRIFT and (
        decision.action is Action.JOB_CREATED or severity_changed
    ):
        notes.append(
            ("drift", drift_message(assessment.severity, assessment.reason, decision.reason))
        )
    if previous is not None:
        for applied in await parameter_versions_between(conn, previous.ts_us, now_us):
            notes.append(("params_applied", params_applied_message(applied)))
    if halted and not (previous is not None and previous.details.get("drawdown_halt")):
        notes.append(
            (
                "drawdown_halt",
                drawdown_halt_message(drawdown, limit or 0, cfg.performance.baseline_hours),
            )
        )
    sent = [Notification(kind, text, await notifier.send(text)) for kind, text in notes]

    extra: dict[str, JsonValue] = {
        "drawdown_jpy": drawdown,
        "drawdown_halt": halted,
        "notifications": [{"kind": n.kind, "delivered": n.delivered} for n in sent],
    }
    events: list[DriftEvent] = drift_events(assessment, decision, now_us, extra)
    await insert_drift_events(conn, events)
    return CheckResult(now_us, assessment, decision, drawdown, limit, halted, tuple(sent))


async def check_once(
    url: str,
    cfg: DriftMonitorConfig,
    at_us: int | None = None,
    clock: MarketClock = WALL_CLOCK,
) -> CheckResult:
    """Open a connection, run one check at `at_us` (default: the clock's now), close it."""
    notifier = Notifier(
        cfg.notify.webhook_url.get_secret_value() if cfg.notify.webhook_url else None,
        cfg.notify.timeout_seconds,
    )
    conn = await connect(url)
    try:
        now = clock.now_us() if at_us is None else at_us
        return await run_check(conn, cfg, now, notifier, clock)
    finally:
        await conn.close()


_TRANSIENT = (StorageError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ClockError)


async def serve(
    url: str,
    cfg: DriftMonitorConfig,
    stop: asyncio.Event | None = None,
    clock: Callable[[], MarketClock] = lambda: WALL_CLOCK,
) -> None:
    """Check every `check_interval_seconds` (wall time) until SIGTERM/SIGINT (or `stop`).

    A database outage, or a replay clock that cannot be read yet, costs a check, not the
    service: the error is logged in one line and the next check tries again.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread/POSIX
            loop.add_signal_handler(sig, stop.set)
    _log.info("drift monitor: checking every %g s", cfg.check_interval_seconds)
    while not stop.is_set():
        check_id = uuid.uuid4().hex[:8]
        try:
            result = await check_once(url, cfg, clock=await asyncio.to_thread(clock))
            _log.info("[%s] %s", check_id, result.summary())
        except _TRANSIENT as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            _log.error("[%s] drift check failed: %s", check_id, first_line)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=cfg.check_interval_seconds)
    _log.info("drift monitor: stopped")
