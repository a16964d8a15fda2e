"""`python -m drift_monitor check --json`: exactly one JSON object on stdout, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Performance only, so a history written relative to the real clock is enough.
PERFORMANCE_ONLY = """
check_interval_seconds: 0.2
market: {enabled: false}
performance:
  idle: {enabled: false}
"""


def run_cli(url: str, config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("DRIFT_WEBHOOK_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "drift_monitor", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_major_history(url: str, now: datetime) -> None:
    """Baseline +300/-100 x 20 every 4 h, then ten -200 trips in the last hour: major."""
    pnls = [300 if i % 2 == 0 else -100 for i in range(40)]
    exits = [now - timedelta(hours=5) - timedelta(hours=4) * (39 - i) for i in range(40)]
    pnls += [-200] * 10
    exits += [now - timedelta(minutes=5) * (10 - i) for i in range(10)]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        fill_id = 0
        for pnl, exit_ts in zip(pnls, exits, strict=True):
            for side, price, ts in (
                (1, 10_000_000, exit_ts - timedelta(minutes=1)),
                (-1, 10_000_000 + pnl, exit_ts),
            ):
                fill_id += 1
                cur.execute(
                    "INSERT INTO own_fills (fill_id, ts, mode, side, price, amount_sat) "
                    "VALUES (%s, %s, 'paper', %s, %s, 100000000)",
                    (fill_id, ts, side, price),
                )


@pytest.fixture
def perf_config(tmp_path: Path) -> Path:
    path = tmp_path / "drift_monitor.yaml"
    path.write_text(PERFORMANCE_ONLY, encoding="utf-8")
    return path


def test_check_json_on_an_empty_database_is_unknown_with_null_job(
    migrated_db_url: str,
) -> None:
    proc = run_cli(migrated_db_url, ROOT / "config" / "drift_monitor.yaml", "check", "--json")

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["severity"] == "unknown"
    assert out["job_id"] is None
    assert set(out) >= {"severity", "reason", "metrics", "job_id", "action", "drawdown"}
    assert set(out["metrics"]) == {
        "sharpe_z_1h",
        "sharpe_z_4h",
        "profit_factor_4h",
        "drawdown_ratio_4h",
        "idle_ratio",
        "volatility_ratio",
        "price_move_z",
        "spread_ratio",
        "trade_rate_ratio",
    }
    for name, metric in out["metrics"].items():
        assert {"value", "threshold", "status", "levels", "reason"} <= set(metric), name
        assert metric["status"] == "unknown"


def test_check_json_on_major_drift_names_the_job(migrated_db_url: str, perf_config: Path) -> None:
    write_major_history(migrated_db_url, datetime.now(UTC))

    proc = run_cli(migrated_db_url, perf_config, "check", "--json")

    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["severity"] == "major"
    z = out["metrics"]["sharpe_z_1h"]
    assert (z["status"], z["threshold"]) == ("major", -4.0)
    assert z["value"] == pytest.approx(-300 / (202.5478 / 10**0.5), rel=1e-4)
    assert out["metrics"]["profit_factor_4h"] == {
        **out["metrics"]["profit_factor_4h"],
        "value": 0.0,
        "threshold": 0.6,
        "status": "major",
    }
    with psycopg.connect(migrated_db_url) as conn:
        [(job_id, payload)] = conn.execute(
            "SELECT job_id::text, payload FROM optimization_jobs"
        ).fetchall()
    assert out["job_id"] == job_id
    assert payload["hours"] == 24 and payload["trials"] == 60 and payload["severity"] == "major"


def test_check_without_json_prints_a_readable_summary(
    migrated_db_url: str, perf_config: Path
) -> None:
    proc = run_cli(migrated_db_url, perf_config, "check")

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("drift check: unknown (insufficient_data)")


def test_bad_config_is_one_line_and_exit_2(migrated_db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("jobs:\n  major: {hours: 500, trials: 60, cooldown_minutes: 30}\n")

    proc = run_cli(migrated_db_url, bad, "check", "--json")

    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        "error: bad.yaml: jobs = {'major': {'hours': 500, 'trials': 60, 'cooldown_minutes': 30}}: "
        "hours must not grow with severity (minor >= normal >= major)"
    )


def test_unreachable_database_is_one_line_and_exit_1(perf_config: Path) -> None:
    proc = run_cli("postgresql://nobody:secret@127.0.0.1:1/none", perf_config, "check", "--json")

    assert proc.returncode == 1
    assert "secret" not in proc.stderr
    assert proc.stderr.startswith("error: cannot connect to postgresql://nobody:***@127.0.0.1:1/")
    assert "Traceback" not in proc.stderr


def test_serve_checks_repeatedly_and_stops_on_sigterm(
    migrated_db_url: str, perf_config: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": migrated_db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "drift_monitor", "--config", str(perf_config), "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        decisions = 0
        while time.monotonic() < deadline and decisions < 2:
            time.sleep(0.2)
            with psycopg.connect(migrated_db_url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM drift_events WHERE detector = 'decision'"
                ).fetchone()
            decisions = row[0] if row else 0
        assert decisions >= 2
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    assert "drift monitor: stopped" in stderr
