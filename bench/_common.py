"""Helpers shared by the benchmarks."""

from __future__ import annotations

import resource
from typing import TypedDict


class Measurement(TypedDict):
    name: str
    value: float
    unit: str


def measurement(name: str, value: float, unit: str) -> Measurement:
    return {"name": name, "value": round(float(value), 3), "unit": unit}


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
