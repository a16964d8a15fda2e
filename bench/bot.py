"""Live-bot benchmarks: the paper bot (its own process) against the simulator (in this one).

- `tick_to_order_p99_ms`: WS message received -> order request sent, measured in the bot
  process (the latency_samples rows it writes), while trading 6 h of synthetic market.
- `tick_to_order_*_x10`: the same over the first 15 min at x10, nearer live load.
- `bot_rss_mb_6h_replay`: the bot's resident memory after those 6 h replayed as fast as it
  reads them, and `bot_rss_growth_mb_last_hour`: RSS after the 6th hour minus after the 5th.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import yaml

from bench._common import Measurement, measurement
from bench._data import BENCH_DIR
from bot.clock import replay_clock
from bot.config import load_param_template
from bot.datafile import load_market_data
from bot.sim.server import ExchangeSimulator

HOURS = 6
SPEED = 200.0  # 6 h of market in under two minutes, at a pace the database keeps up with
LIVE_LIKE_SPEED, LIVE_LIKE_MINUTES = 10.0, 15.0  # 90 s of wall time
KEY, SECRET = "bench-key", "bench-secret"


def _data() -> Path:
    path = BENCH_DIR / f"synthetic_{HOURS}h_seed3.jsonl.gz"
    if not path.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "synth",
                "--hours",
                str(HOURS),
                "--seed",
                "3",
                "--out",
                str(path),
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
    return path


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _run(speed: float, minutes: float | None = None, suffix: str = "") -> list[Measurement]:
    """Replay (the first `minutes` of) the market at `speed`; tick-to-order figures and RSS."""
    events = load_market_data(_data()).events
    if minutes is not None:
        cut = events[0].ts_us + round(minutes * 60e6)
        events = [e for e in events if e.ts_us < cut]
    t0, t_end = events[0].ts_us, events[-1].ts_us
    # On the replay clock the bot trades at the market's time scale (as `simulate` would),
    # only faster: hold times and timeouts keep their meaning, so it trades for real.
    sim = ExchangeSimulator(
        events, speed=speed, api_key=KEY, api_secret=SECRET, clock=replay_clock(speed)
    )
    await sim.start()
    work = Path(tempfile.mkdtemp(prefix="obi-bench-bot-"))
    params = load_param_template("config/trade_config.yaml.template").build(
        {"signal.composite_threshold": 0.3, "spread_limit": 30000, "long.tp": 1500, "long.sl": -1500,
         "short.tp": 1500, "short.sl": -1500}
    )  # fmt: skip
    (work / "params").mkdir()
    from bot.config import dump_trade_params

    (work / "params" / "trade_config.yaml").write_text(dump_trade_params(params))
    config = {
        "bot": {"http_port": 0, "state_dir": str(work / "state"), "log_level": "INFO"},
        "exchange": {"rest_url": sim.rest_url, "ws_url": sim.ws_url, "nonce_file": str(work / "nonce"),
                     "stale_feed_seconds": 30, "clock": "simulator"},
        "database": {"embedded_data_dir": str(work / "pg"), "spill_dir": str(work / "spill")},
        "params": {"path": str(work / "params" / "trade_config.yaml")},
    }  # fmt: skip
    (work / "app.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"COINCHECK_API_KEY": KEY, "COINCHECK_API_SECRET": SECRET})
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run", "--mode", "paper", "--config", str(work / "app.yaml")],
        env=env,
        stdout=open(work / "bot.log", "w"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
    )
    rss_at_hour: dict[int, float] = {}
    try:
        while not sim.replay_done.is_set():
            await asyncio.sleep(0.2)
            if proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {proc.returncode}")
            pos = min(sim.position, len(events) - 1)
            hour = int((events[pos].ts_us - t0) // 3_600_000_000)
            rss_at_hour[hour] = _rss_mb(proc.pid)
        await asyncio.sleep(2)  # let the bot drain its socket
        rss_end = _rss_mb(proc.pid)
        url = f"postgresql://postgres:@/postgres?host={work / 'pg'}"
        conn = await asyncpg.connect(url)
        try:
            await asyncio.sleep(1)
            p50, p90, p99 = await conn.fetchval(
                "SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY value_us) "
                "FROM latency_samples WHERE kind = 'tick_to_order'"
            ) or (None, None, None)
            n = await conn.fetchval(
                "SELECT count(*) FROM latency_samples WHERE kind = 'tick_to_order'"
            )
        finally:
            await conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
        await sim.stop()
    print(f"bot log: {work / 'bot.log'}", file=sys.stderr)
    hours = (t_end - t0) / 3.6e9
    before_last = rss_at_hour.get(HOURS - 2, rss_at_hour.get(max(rss_at_hour, default=0), rss_end))
    out = [
        measurement(f"tick_to_order_p99_ms{suffix}", (p99 or float("nan")) / 1000, "ms"),
        measurement(f"tick_to_order_p90_ms{suffix}", (p90 or float("nan")) / 1000, "ms"),
        measurement(f"tick_to_order_p50_ms{suffix}", (p50 or float("nan")) / 1000, "ms"),
        measurement(f"tick_to_order_samples{suffix}", n, "orders"),
    ]
    if minutes is not None:
        return out
    out += [
        measurement("bot_rss_mb_6h_replay", rss_end, "MB"),
        measurement("bot_rss_growth_mb_last_hour", rss_end - before_last, "MB"),
        measurement("bot_replay_market_hours", hours, "h"),
    ]
    return out


def run() -> list[Measurement]:
    stress = asyncio.run(_run(SPEED))
    # Closer to live load (still 10x Coincheck's message rate): how long an order waits when
    # the private-request queue is not saturated by 200x the polls and orders.
    live_like = asyncio.run(_run(LIVE_LIKE_SPEED, LIVE_LIKE_MINUTES, suffix="_x10"))
    return stress + live_like
