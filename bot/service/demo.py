"""`make demo`: the whole stack on one laptop, no Docker, embedded PostgreSQL.

Starts the exchange simulator replaying a synthetic market whose regimes change, the bot in
paper mode against it, the drift monitor and the optimizer, each as its own process talking
only through the database and the params file (as in Docker Compose). Prints one status line
every few seconds; on Ctrl-C (or after --duration) stops them in order — the bot first, so it
cancels its orders — and writes an HTML report of the session.

The simulator replays on a market clock running `speed`× faster and every service follows it
(`exchange.clock: simulator`), so windows, hold times and cool-downs keep their market meaning:
the demo's drift-monitor and optimizer settings are in market minutes and hours, only shorter
than production's because the whole session is a few hours of market. Each session's clock
starts after the newest market row already in the database, so sessions never overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from bot.backtest.execution import FillRecord
from bot.backtest.metrics import compute_metrics
from bot.backtest.report import write_report
from bot.backtest.runner import BacktestResult
from bot.config import SATOSHI_PER_BTC, AppConfig, load_param_template, load_trade_params
from bot.market.events import Side
from bot.storage.connection import connect, mask_url, resolve_database_url
from bot.storage.drift_store import last_drift_event
from bot.storage.migrations import ensure_schema
from bot.storage.queries import fetch_fills
from bot.storage.reports import round_trips
from bot.storage.rows import utc_from_us

DEMO_REGIMES = "informed:25m,noise:15m,trend:20m,burst:10m,meanrev:20m,wide:10m,informed:20m"
API_KEY, API_SECRET = "demo-key", "demo-secret"


@dataclass
class DemoSettings:
    workdir: Path = Path("var/demo")
    report: Path = Path("reports/demo.html")
    market_hours: float = 6.0
    speed: float = 30.0
    seed: int = 7
    duration: float | None = None
    http_port: int = 8080
    status_interval: float = 3.0
    bootstrap_after_minutes: float | None = 45.0
    """Market minutes before the demo asks for a first optimization (None: leave it to drift)."""
    signal_alpha_bps_per_min: float = 10.0
    """The synthetic market's edge in informed regimes (generator default 3: marginal)."""
    regimes: str = DEMO_REGIMES
    stop_when: Callable[[], Awaitable[bool]] | None = None
    """Checked with each status line; True ends the demo (used by the end-to-end test)."""


def _free_port(preferred: int = 0) -> int:
    """`preferred` when it is free, else any free port."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Demo:
    def __init__(self, app: AppConfig, settings: DemoSettings) -> None:
        self.app = app
        self.s = settings
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, IO[str]] = {}
        self.db_url = ""
        self.started_us = time.time_ns() // 1000  # market time: the clock's origin
        self.started_wall = time.monotonic()
        self._stop = asyncio.Event()

    # ------------------------------------------------------------------ set-up
    def _market_file(self) -> Path:
        tag = hashlib.sha256(self.s.regimes.encode()).hexdigest()[:8]
        name = f"market_{self.s.market_hours:g}h_seed{self.s.seed}_a{self.s.signal_alpha_bps_per_min:g}_{tag}"
        path = self.s.workdir / f"{name}.jsonl.gz"
        if not path.exists():
            print(
                f"generating {self.s.market_hours:g} h of synthetic market ({self.s.regimes}) ..."
            )
            subprocess.run(
                [sys.executable, "-m", "bot", "synth", "--hours", str(self.s.market_hours),
                 "--seed", str(self.s.seed), "--regimes", self.s.regimes, "--out", str(path),
                 "--signal-alpha", str(self.s.signal_alpha_bps_per_min)],
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        return path

    def _write_configs(self, sim_port: int, bot_port: int) -> dict[str, Path]:
        w = self.s.workdir
        app = {
            "bot": {"mode": "paper", "http_port": bot_port, "state_dir": str(w / "state"),
                    "status_interval_seconds": 5},
            "exchange": {"rest_url": f"http://127.0.0.1:{sim_port}", "ws_url": f"ws://127.0.0.1:{sim_port}/",
                         "nonce_file": str(w / "nonce"), "stale_feed_seconds": 10,
                         "clock": "simulator"},
            "database": {"spill_dir": str(w / "spill")},
            "account": {"initial_jpy": "1000000", "initial_btc": "0.05"},
            "params": {"path": str(w / "params" / "trade_config.yaml"),
                       "template_path": self.app.params.template_path},
            "report_generator": {"interval_minutes": 15, "windows_hours": [1, 4, 24]},
        }  # fmt: skip
        # Market time throughout (the services follow the replay clock); shorter than
        # production's windows because a session is a few hours of market, not weeks.
        drift = yaml.safe_load(Path("config/drift_monitor.yaml").read_text())
        drift["check_interval_seconds"] = max(2.0, 300 / self.s.speed)  # every 5 market minutes
        perf = drift["performance"]
        perf.update({"baseline_hours": 2, "min_trades_window": 5, "min_trades_baseline": 10})
        perf["sharpe"]["windows_hours"] = [0.25, 0.5]
        for key in ("profit_factor", "drawdown"):
            perf[key]["window_hours"] = 0.5
        drift["market"].update(
            {
                "window_minutes": 10,
                "baseline_hours": 2,
                "min_buckets": 20,
                "min_trades_baseline": 100,
            }
        )
        for sev, hours, trials, cool in (
            ("minor", 2, 60, 60),
            ("normal", 1.5, 50, 45),
            ("major", 1, 40, 30),
        ):
            drift["jobs"][sev].update({"hours": hours, "trials": trials, "cooldown_minutes": cool})
        opt = yaml.safe_load(Path("config/optimizer_config.yaml").read_text())
        opt["search"].update(
            {"trials": 60, "startup_trials": 15, "pruner": "none", "probe_fraction": 1.0}
        )
        opt["window"]["hours"] = 2
        opt["constraints"]["min_trades"] = 10
        opt["acceptance"].update({"min_trades": 5, "min_profit_factor": 1.1, "candidates": 10})
        opt["walk_forward"].update({"splits": 3, "trials_per_split": 10, "min_trades": 2})
        opt["worker"]["poll_interval_seconds"] = 2
        paths = {
            "app": w / "app_config.yaml",
            "drift": w / "drift_monitor.yaml",
            "opt": w / "optimizer_config.yaml",
        }
        paths["app"].write_text(yaml.safe_dump(app, sort_keys=False))
        paths["drift"].write_text(yaml.safe_dump(drift, sort_keys=False))
        paths["opt"].write_text(yaml.safe_dump(opt, sort_keys=False))
        return paths

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = open(self.s.workdir / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115
        self.logs[name] = log
        self.procs[name] = subprocess.Popen(
            [sys.executable, *args], stdout=log, stderr=subprocess.STDOUT, env=env
        )

    # ------------------------------------------------------------------ run
    async def run(self) -> int:
        self.s.workdir.mkdir(parents=True, exist_ok=True)
        (self.s.workdir / "params").mkdir(exist_ok=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        market = self._market_file()
        self.db_url = resolve_database_url(self.app.database)
        ensure_schema(self.db_url)
        self.started_us = await self._clock_origin()
        sim_port = _free_port()
        bot_port = _free_port(self.s.http_port)
        paths = self._write_configs(sim_port, bot_port)
        env = {
            **os.environ,
            "DATABASE_URL": self.db_url,
            "COINCHECK_API_KEY": API_KEY,
            "COINCHECK_API_SECRET": API_SECRET,
            "PARAMS_PATH": str(self.s.workdir / "params" / "trade_config.yaml"),
            "PYTHONUNBUFFERED": "1",
        }
        print(f"database   {mask_url(self.db_url)}")
        self._spawn("exchange-sim", ["-m", "bot", "exchange-sim", "--data", str(market), "--speed",
                    str(self.s.speed), "--port", str(sim_port), "--api-key", API_KEY, "--api-secret",
                    API_SECRET, "--seed", str(self.s.seed), "--market-clock", "replay",
                    "--clock-origin", utc_from_us(self.started_us).isoformat()], env)  # fmt: skip
        await asyncio.sleep(1.0)
        self._spawn(
            "bot", ["-m", "bot", "run", "--mode", "paper", "--config", str(paths["app"])], env
        )
        self._spawn("drift-monitor", ["-m", "drift_monitor", "--config", str(paths["drift"]),
                    "--app-config", str(paths["app"]), "serve"], env)  # fmt: skip
        self._spawn("optimizer", ["-m", "optimizer", "--config", str(paths["app"]),
                    "--optimizer-config", str(paths["opt"]), "serve"], env)  # fmt: skip
        print(
            f"simulator  http://127.0.0.1:{sim_port}/api/  ws://127.0.0.1:{sim_port}/  (x{self.s.speed:g})"
        )
        print(f"bot        http://127.0.0.1:{bot_port}/health  /metrics")
        print(
            f"logs       {self.s.workdir}/*.log     Ctrl-C stops everything and writes the report"
        )
        deadline = None if self.s.duration is None else loop.time() + self.s.duration
        # Like an operator's `make optimize` once some market is recorded: the first tuned
        # parameters, then the drift monitor asks for more when the regime turns.
        bootstrap = (
            None
            if self.s.bootstrap_after_minutes is None
            else loop.time() + self.s.bootstrap_after_minutes * 60 / self.s.speed
        )
        bootstrapped = bootstrap is None
        try:
            while not self._stop.is_set():
                line = await self.status_line(bot_port)
                end = "\r" if sys.stdout.isatty() else "\n"
                print(line.ljust(150)[:150] if sys.stdout.isatty() else line, end=end, flush=True)
                dead = [n for n, p in self.procs.items() if p.poll() is not None]
                if dead:
                    print(
                        f"\nstopped unexpectedly: {', '.join(dead)} (see {self.s.workdir}/<name>.log)"
                    )
                    break
                if deadline is not None and loop.time() >= deadline:
                    break
                if self.s.stop_when is not None and await self.s.stop_when():
                    break
                if not bootstrapped and bootstrap is not None and loop.time() >= bootstrap:
                    bootstrapped = True
                    subprocess.run(
                        [sys.executable, "-m", "optimizer", "--config", str(paths["app"]),
                         "--optimizer-config", str(paths["opt"]), "enqueue", "--hours",
                         f"{self.s.bootstrap_after_minutes / 60:g}",
                         "--reason", "demo: first parameters from the recorded market",
                         "--requested-by", "make demo"],
                        env=env, check=False, stdout=self.logs["optimizer"], stderr=subprocess.STDOUT,
                    )  # fmt: skip
                    print("\nasked the optimizer for a first run on the market recorded so far")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.s.status_interval)
        finally:
            print()
            await self.shutdown()
        await self.write_session_report()
        return 0

    async def _clock_origin(self) -> int:
        """Now, or a minute after the newest market row of an earlier session if later."""
        conn = await connect(self.db_url)
        try:
            newest = await conn.fetchval(
                "SELECT (extract(epoch FROM greatest((SELECT max(ts) FROM market_trades),"
                " (SELECT max(ts) FROM market_book_diffs))) * 1000000)::bigint"
            )
        finally:
            await conn.close()
        now = time.time_ns() // 1000
        return now if newest is None else max(now, int(newest) + 60_000_000)

    async def status_line(self, bot_port: int) -> str:
        health: dict[str, Any] = {}
        with contextlib.suppress(httpx.HTTPError, ValueError):
            async with httpx.AsyncClient(timeout=1.0) as client:
                health = (await client.get(f"http://127.0.0.1:{bot_port}/health")).json()
        drift = "—"
        with contextlib.suppress(Exception):
            conn = await connect(self.db_url)
            try:
                event = await last_drift_event(conn, "decision")
                if event is not None:
                    drift = f"{event.severity}{' → job' if event.job_id else ''}"
            finally:
                await conn.close()
        if not health:
            return "bot starting ..."
        feed = health.get("feed", {})
        minutes = int((time.monotonic() - self.started_wall) * self.s.speed / 60)
        return (
            f"market +{minutes // 60}:{minutes % 60:02d} | "
            f"feed {feed.get('state')} {feed.get('age_seconds')}s | "
            f"pos {health.get('position_btc')} BTC | pnl {_yen(health.get('realized_pnl_jpy'))} JPY | "
            f"trades {health.get('trades')} | drift {drift} | "
            f"params {health.get('params_version')} ({health.get('params_source')})"
            + (" | HALTED" if health.get("halted") else "")
        )

    async def shutdown(self) -> None:
        order = ["bot", "optimizer", "drift-monitor", "exchange-sim"]
        for name in order:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()
            print(f"stopped {name} (exit {proc.returncode})")
        for log in self.logs.values():
            log.close()

    async def write_session_report(self) -> None:
        conn = await connect(self.db_url)
        try:
            fills = [f for f in await fetch_fills(conn, mode="paper") if f.ts >= self.started_us]
            mids = await conn.fetch(
                "SELECT (extract(epoch from ts) * 1000000)::bigint AS ts_us, mid_price FROM position_snapshots "
                "WHERE mode = 'paper' AND mid_price IS NOT NULL AND ts >= to_timestamp($1 / 1000000.0) ORDER BY ts",
                self.started_us,
            )
            messages = await conn.fetchval(
                "SELECT (SELECT count(*) FROM market_book_diffs WHERE ts >= to_timestamp($1 / 1000000.0))"
                " + (SELECT count(*) FROM market_trades WHERE ts >= to_timestamp($1 / 1000000.0))",
                self.started_us,
            )
        finally:
            await conn.close()
        trips = round_trips(fills)
        params_path = self.s.workdir / "params" / "trade_config.yaml"
        params = (
            load_trade_params(params_path)
            if params_path.exists()
            else load_param_template(self.app.params.template_path).build({})
        )
        records = [
            FillRecord(f.ts, 0, Side(f.side), f.price, f.amount_sat, f.liquidity or "T", "fill")
            for f in fills
        ]
        prices = [(int(r["ts_us"]), int(r["mid_price"])) for r in mids]
        btc = sum(f.amount_sat * f.side for f in fills)
        jpy = sum(
            (
                -Decimal(f.price * f.amount_sat * f.side) / SATOSHI_PER_BTC - f.fee_jpy
                for f in fills
            ),
            Decimal(0),
        )
        result = BacktestResult(
            params=params,
            metrics=compute_metrics(trips),
            round_trips=trips,
            fills=records,
            prices=prices,
            events=int(messages or 0),
            level_events=int(messages or 0),
            seconds=time.monotonic() - self.started_wall,
            final_jpy=Decimal(self.app.account.initial_jpy) + jpy,
            final_btc_sat=int(self.app.account.initial_btc * SATOSHI_PER_BTC) + btc,
            initial_equity_jpy=None,
            halt_reason=None,
            first_ts_us=prices[0][0] if prices else None,
            last_ts_us=prices[-1][0] if prices else None,
        )
        write_report(result, self.s.report, "demo session (paper trading against the simulator)")
        m = result.metrics
        print(
            json.dumps(
                {
                    "trades": m.trades,
                    "pnl_jpy": float(m.pnl_jpy),
                    "win_rate": m.win_rate,
                    "report": str(self.s.report),
                }
            )
        )
        print(f"report     {self.s.report}")


def _yen(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):,.0f}"
    except Exception:
        return str(value)
