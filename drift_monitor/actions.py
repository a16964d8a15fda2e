"""What to do about a check: ask for an optimization job or not, and record why either way.

A drift asks for a job sized by its severity (more severe: more recent data, fewer trials,
so the fix arrives sooner). At most one job is outstanding (pending or running), and after a
job the monitor waits for the cool-down of the new request's severity. Every check becomes a
`decision` drift event, drift or not; each breached metric also gets an event of its own.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import asyncpg

from bot.clock import WALL_CLOCK, MarketClock
from bot.config import DriftJobsConfig, DriftSeverity
from bot.storage.drift_store import DriftEvent, JsonValue, create_job_unless_blocked
from bot.storage.rows import utc_from_us
from drift_monitor.severity import Assessment, MetricResult, Severity

REQUESTED_BY = "drift_monitor"
DECISION_DETECTOR = "decision"
_ORDER: dict[str, int] = {"minor": 1, "normal": 2, "major": 3}


class Action(StrEnum):
    NO_DRIFT = "no_drift"
    INSUFFICIENT_DATA = "insufficient_data"
    BELOW_JOB_SEVERITY = "below_job_severity"
    JOB_OUTSTANDING = "job_outstanding"
    COOLDOWN = "cooldown"
    JOB_CREATED = "job_created"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    job_id: uuid.UUID | None = None
    payload: Mapping[str, JsonValue] | None = None


def job_payload(assessment: Assessment, jobs: DriftJobsConfig, now_us: int) -> dict[str, JsonValue]:
    """The optimizer's brief: how much recent data, how many trials, and why."""
    severity: DriftSeverity = assessment.severity.value  # type: ignore[assignment]
    spec = jobs.spec(severity)
    return {
        "hours": spec.hours,
        "trials": spec.trials,
        "severity": severity,
        "reason": assessment.reason,
        "triggers": [m.name for m in assessment.breached],
        "requested_by": REQUESTED_BY,
        "requested_at": utc_from_us(now_us).isoformat(),
    }


async def decide(
    conn: asyncpg.Connection,
    assessment: Assessment,
    jobs: DriftJobsConfig,
    now_us: int,
    clock: MarketClock = WALL_CLOCK,
) -> Decision:
    """Create a job when the drift deserves one and no rule holds it back."""
    severity = assessment.severity
    if severity is Severity.NONE:
        return Decision(Action.NO_DRIFT, "no drift: no job")
    if severity is Severity.UNKNOWN:
        return Decision(Action.INSUFFICIENT_DATA, "too little data to judge: no job")
    if _ORDER[severity.value] < _ORDER[jobs.min_severity]:
        return Decision(
            Action.BELOW_JOB_SEVERITY,
            f"{severity} drift is below jobs.min_severity ({jobs.min_severity}): no job",
        )
    payload = job_payload(assessment, jobs, now_us)
    spec = jobs.spec(severity.value)  # type: ignore[arg-type]
    gate = await create_job_unless_blocked(
        conn,
        now_us=now_us,
        cooldown_minutes=spec.cooldown_minutes,
        requested_by=REQUESTED_BY,
        reason=f"{severity} drift: {assessment.reason}",
        payload=payload,
        clock=clock,
    )
    if gate.created_job_id is not None:
        return Decision(
            Action.JOB_CREATED,
            f"{severity} drift: job for the last {spec.hours:g} h with {spec.trials} trials",
            gate.created_job_id,
            payload,
        )
    if gate.outstanding_job_id is not None:
        return Decision(
            Action.JOB_OUTSTANDING,
            f"{severity} drift, but job {gate.outstanding_job_id} is still "
            f"{gate.outstanding_status}: no second job",
        )
    until = utc_from_us(gate.cooldown_until_us or now_us).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Decision(
        Action.COOLDOWN,
        f"{severity} drift, but job {gate.last_job_id} ended less than "
        f"{spec.cooldown_minutes:g} min ago: cool-down until {until}",
    )


def finite(value: float | None) -> float | None:
    """JSON has no infinity: an unbounded value (profit factor without a loss) becomes null."""
    return value if value is not None and math.isfinite(value) else None


def _details_json(m: MetricResult) -> dict[str, JsonValue]:
    return {k: finite(v) if isinstance(v, float) else v for k, v in m.details.items()}


def metric_json(m: MetricResult) -> dict[str, JsonValue]:
    return {
        "group": m.group,
        "value": finite(m.value),
        "threshold": finite(m.threshold),
        "status": m.status.value,
        "levels": dict(m.levels),
        "reason": m.reason,
        "details": _details_json(m),
    }


def drift_events(
    assessment: Assessment,
    decision: Decision,
    now_us: int,
    extra: Mapping[str, JsonValue] | None = None,
) -> list[DriftEvent]:
    """One `decision` event for the check, plus one per breached metric."""
    details: dict[str, JsonValue] = {
        "action": decision.action.value,
        "decision": decision.reason,
        "reason": assessment.reason,
        "metrics": {m.name: metric_json(m) for m in assessment.metrics},
        "payload": dict(decision.payload) if decision.payload else None,
    }
    details.update(extra or {})
    events = [
        DriftEvent(
            ts_us=now_us,
            detector=DECISION_DETECTOR,
            severity=assessment.severity.value,
            metric="severity",
            value=None,
            threshold=None,
            details=details,
            job_id=decision.job_id,
        )
    ]
    for m in assessment.breached:
        events.append(
            DriftEvent(
                ts_us=now_us,
                detector=m.group,
                severity=m.status.value,
                metric=m.name,
                value=finite(m.value),
                threshold=finite(m.threshold),
                details={"reason": m.reason, **_details_json(m)},
                job_id=decision.job_id,
            )
        )
    return events
