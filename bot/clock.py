"""Market time: the wall clock, or an exchange simulator's replay clock running `speed`× faster.

Live trading stamps every event, fill and decision with the wall clock. When the simulator
replays a market faster than real time (`exchange-sim --market-clock replay`), services set to
`exchange.clock: simulator` follow its replay clock instead, so every window, hold time,
timeout and cool-down keeps its market meaning: ten minutes of market are ten minutes in the
database, the strategy and the drift monitor, even when they pass in twenty seconds at ×30.

Real latencies (tick-to-order, round trips) are always measured on the wall clock.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

CLOCK_PATH = "/sim/clock"
"""The simulator's (non-Coincheck) endpoint that publishes its replay clock."""


class ClockError(RuntimeError):
    """The replay clock could not be read from the simulator."""


@dataclass(frozen=True, slots=True)
class MarketClock:
    """market time = origin_us + (wall time - wall_origin_ns) × speed."""

    origin_us: int = 0
    wall_origin_ns: int = 0
    speed: float = 1.0

    @property
    def is_wall(self) -> bool:
        return self.speed == 1.0 and self.origin_us * 1000 == self.wall_origin_ns

    def market_us(self, wall_ns: int) -> int:
        """Market time (µs since the epoch) at a wall time (ns since the epoch)."""
        elapsed_ns = wall_ns - self.wall_origin_ns
        if self.speed != 1.0:
            elapsed_ns = int(elapsed_ns * self.speed)
        return self.origin_us + elapsed_ns // 1000

    def wall_ns(self, market_us: int) -> int:
        """The wall time (ns) at which the market reaches `market_us` (inverse of market_us)."""
        elapsed_ns = (market_us - self.origin_us) * 1000
        if self.speed != 1.0:
            elapsed_ns = int(elapsed_ns / self.speed)
        return self.wall_origin_ns + elapsed_ns

    def now_us(self) -> int:
        return self.market_us(time.time_ns())

    def wall_seconds(self, market_seconds: float) -> float:
        """How long `market_seconds` of market time last on the wall clock."""
        return market_seconds / self.speed

    def as_json(self) -> dict[str, float | int]:
        return {
            "now_us": self.now_us(),
            "origin_us": self.origin_us,
            "wall_origin_us": self.wall_origin_ns // 1000,
            "speed": self.speed,
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> MarketClock:
        try:
            assert isinstance(data, dict)
            speed = float(data["speed"])
            origin = int(data["origin_us"])
            wall_origin = int(data["wall_origin_us"]) * 1000
        except (AssertionError, KeyError, TypeError, ValueError):
            raise ClockError(f"{where}: not a replay clock: {str(data)[:200]}") from None
        if not speed > 0:
            raise ClockError(f"{where}: speed {speed} must be positive")
        return cls(origin, wall_origin, speed)


WALL_CLOCK = MarketClock()


def replay_clock(speed: float, origin_us: int | None = None) -> MarketClock:
    """A clock that starts now at `origin_us` (default: now) and runs `speed`× faster."""
    if not speed > 0:
        raise ValueError(f"replay speed {speed} must be positive")
    wall_us = time.time_ns() // 1000  # whole µs, so /sim/clock publishes it exactly
    return MarketClock(wall_us if origin_us is None else origin_us, wall_us * 1000, float(speed))


def fetch_simulator_clock(rest_url: str, timeout: float = 5.0) -> MarketClock:
    """Read the replay clock the exchange simulator at `rest_url` publishes.

    Raises ClockError naming the URL when it is unreachable or is not the simulator."""
    url = rest_url.rstrip("/") + CLOCK_PATH
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            data = json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        raise ClockError(
            f"exchange.clock = simulator, but {url} answered HTTP {exc.code}: only the exchange "
            "simulator publishes a replay clock (set exchange.clock: wall for a real exchange)"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ClockError(f"cannot read the replay clock at {url}: {reason}") from None
    return MarketClock.from_json(data, url)
