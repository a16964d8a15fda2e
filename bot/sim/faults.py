"""Fault injection for the simulator, deterministic under a seed.

Spec syntax (the `--faults` option): comma-separated `name=value` pairs, e.g.
`ws_drop=0.001,malformed=0.01,http500=0.05,latency_ms=20,create_hang=0.1,hang_s=10`.

Rates are probabilities per event of the kind named:
- `ws_drop`    per WebSocket frame sent: abort that connection (no close frame).
- `ws_silent`  per WebSocket frame sent: stop sending to that connection for `silent_s` seconds.
- `malformed`  per WebSocket frame sent: send a broken frame instead.
- `http500`    per REST request: reply 500 without processing it.
- `http429`    per REST request: reply 429 without processing it.
- `reject`     per order creation: refuse the order (HTTP 400).
- `create_hang` per order creation: accept the order, then hold the reply for `hang_s` seconds
  (the client times out not knowing whether the order exists).
Durations: `latency_ms` (added to every REST reply), `latency_jitter_ms` (uniform extra),
`silent_s` (default 15), `hang_s` (default 30).

Each kind draws from its own RNG seeded by (seed, kind), so one kind's rate never changes
another kind's sequence. Tests can also force the next N occurrences with `force(kind, n)`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields

RATE_KINDS = ("ws_drop", "ws_silent", "malformed", "http500", "http429", "reject", "create_hang")


class FaultSpecError(ValueError):
    """A `--faults` string that cannot be used; the message names the bad part."""


@dataclass
class FaultSpec:
    ws_drop: float = 0.0
    ws_silent: float = 0.0
    malformed: float = 0.0
    http500: float = 0.0
    http429: float = 0.0
    reject: float = 0.0
    create_hang: float = 0.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    silent_s: float = 15.0
    hang_s: float = 30.0

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        spec = cls()
        if not text:
            return spec
        names = {f.name for f in fields(cls)}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or name not in names:
                raise FaultSpecError(
                    f"faults: {part!r}: expected name=value with name one of {sorted(names)}"
                )
            try:
                number = float(value)
            except ValueError:
                raise FaultSpecError(f"faults: {name} = {value!r}: not a number") from None
            if number < 0 or (name in RATE_KINDS and number > 1):
                raise FaultSpecError(f"faults: {name} = {value}: rates are in [0, 1], times >= 0")
            setattr(spec, name, number)
        return spec


class FaultInjector:
    """Decides, reproducibly, whether each fault happens."""

    def __init__(self, spec: FaultSpec | str | None = None, seed: int = 0) -> None:
        self.spec = spec if isinstance(spec, FaultSpec) else FaultSpec.parse(spec)
        self._rngs = {k: random.Random(f"{seed}:{k}") for k in (*RATE_KINDS, "latency")}
        self._forced: dict[str, int] = {}
        self.counts: dict[str, int] = dict.fromkeys(RATE_KINDS, 0)

    def force(self, kind: str, count: int = 1) -> None:
        """Make the next `count` checks of `kind` fire regardless of the rate."""
        if kind not in RATE_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {RATE_KINDS}")
        self._forced[kind] = self._forced.get(kind, 0) + count

    @property
    def ws_faults_armed(self) -> bool:
        """Whether any WebSocket fault can fire (lets the send loop skip the checks)."""
        s = self.spec
        return bool(
            s.ws_drop
            or s.ws_silent
            or s.malformed
            or self._forced.get("ws_drop")
            or self._forced.get("ws_silent")
            or self._forced.get("malformed")
        )

    def fires(self, kind: str) -> bool:
        forced = self._forced.get(kind, 0)
        if forced:
            self._forced[kind] = forced - 1
            self.counts[kind] += 1
            return True
        rate = getattr(self.spec, kind)
        if rate > 0 and self._rngs[kind].random() < rate:
            self.counts[kind] += 1
            return True
        return False

    def latency_s(self) -> float:
        base = self.spec.latency_ms
        jitter = self.spec.latency_jitter_ms
        if base <= 0 and jitter <= 0:
            return 0.0
        return (base + self._rngs["latency"].random() * jitter) / 1000
