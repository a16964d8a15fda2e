"""Severity: grade each compared metric against its levels, then the whole check.

A metric is `ok`, `minor`, `normal`, `major`, or `unknown` when there is too little data for
the statistic to mean anything. The check is the worst metric; with no breach, any unknown
metric makes the check `unknown` (naming which and why) — sparse data is never called fine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from bot.config import DriftChangeLevels, DriftLevelsAbove, DriftLevelsBelow

Group = Literal["performance", "market"]
Detail = float | int | str | None


class Status(StrEnum):
    """How one metric compares with its levels."""

    OK = "ok"
    MINOR = "minor"
    NORMAL = "normal"
    MAJOR = "major"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    """Verdict of one whole check."""

    NONE = "none"
    MINOR = "minor"
    NORMAL = "normal"
    MAJOR = "major"
    UNKNOWN = "unknown"


_RANK = {Status.MINOR: 1, Status.NORMAL: 2, Status.MAJOR: 3}
_BY_RANK = {1: Severity.MINOR, 2: Severity.NORMAL, 3: Severity.MAJOR}
DRIFT = frozenset(_RANK)


@dataclass(frozen=True, slots=True)
class MetricResult:
    """One compared metric: its value, the threshold that decided, and why."""

    name: str
    group: Group
    status: Status
    value: float | None
    threshold: float | None
    """The level reached when breached, else the first (minor) level."""
    levels: Mapping[str, float]
    reason: str
    details: Mapping[str, Detail] = field(default_factory=dict)

    @property
    def breached(self) -> bool:
        return self.status in DRIFT


def unknown(name: str, group: Group, levels: Mapping[str, float], reason: str) -> MetricResult:
    return MetricResult(name, group, Status.UNKNOWN, None, None, levels, reason)


def _levels(levels: DriftLevelsBelow | DriftLevelsAbove) -> dict[str, float]:
    return {"minor": levels.minor, "normal": levels.normal, "major": levels.major}


def grade_below(value: float, levels: DriftLevelsBelow) -> tuple[Status, float]:
    """Lower is worse (z-scores, profit factor): the worst level the value is at or below."""
    for status, level in (
        (Status.MAJOR, levels.major),
        (Status.NORMAL, levels.normal),
        (Status.MINOR, levels.minor),
    ):
        if value <= level:
            return status, level
    return Status.OK, levels.minor


def grade_above(value: float, levels: DriftLevelsAbove) -> tuple[Status, float]:
    """Higher is worse (drawdown ratio, idle ratio, |move z|)."""
    for status, level in (
        (Status.MAJOR, levels.major),
        (Status.NORMAL, levels.normal),
        (Status.MINOR, levels.minor),
    ):
        if value >= level:
            return status, level
    return Status.OK, levels.minor


def grade_change(ratio: float, levels: DriftChangeLevels) -> tuple[Status, float]:
    """A ratio to the baseline, bad either way: 3 and 1/3 are the same change.

    The threshold comes back on the side of the ratio (3 or 0.333...), so it reads against it.
    """
    factor = math.inf if ratio == 0 else max(ratio, 1 / ratio)
    status, level = grade_above(factor, levels)
    return status, (level if ratio >= 1 else 1 / level)


def graded(
    name: str,
    group: Group,
    value: float,
    levels: DriftLevelsBelow | DriftLevelsAbove,
    grade: tuple[Status, float],
    reason: str,
    details: Mapping[str, Detail] | None = None,
) -> MetricResult:
    status, threshold = grade
    return MetricResult(
        name, group, status, value, threshold, _levels(levels), reason, dict(details or {})
    )


@dataclass(frozen=True, slots=True)
class Assessment:
    severity: Severity
    reason: str
    metrics: Sequence[MetricResult]

    @property
    def breached(self) -> list[MetricResult]:
        return [m for m in self.metrics if m.breached]


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def _describe(m: MetricResult) -> str:
    if m.status is Status.UNKNOWN:
        return f"{m.name} unknown ({m.reason})"
    return f"{m.name} {_fmt(m.value)} vs {_fmt(m.threshold)} ({m.status})"


def assess(metrics: Iterable[MetricResult], escalate_on_both: bool = True) -> Assessment:
    """Severity of one check from its metrics."""
    metrics = list(metrics)
    breached = [m for m in metrics if m.breached]
    unknowns = [m for m in metrics if m.status is Status.UNKNOWN]
    if not metrics:
        return Assessment(Severity.UNKNOWN, "no detector is enabled", metrics)
    if breached:
        rank = max(_RANK[m.status] for m in breached)
        groups = {m.group for m in breached}
        parts = [_describe(m) for m in sorted(breached, key=lambda m: -_RANK[m.status])]
        if escalate_on_both and groups == {"performance", "market"} and rank < 3:
            rank += 1
            parts.append("raised one level: performance and market drift together")
        if unknowns:
            parts.append(f"{len(unknowns)} metric(s) unknown")
        return Assessment(_BY_RANK[rank], "; ".join(parts), metrics)
    if unknowns:
        return Assessment(
            Severity.UNKNOWN,
            "no drift seen, but too little data to say it is fine: "
            + "; ".join(_describe(m) for m in unknowns),
            metrics,
        )
    return Assessment(Severity.NONE, f"all {len(metrics)} metrics within thresholds", metrics)
