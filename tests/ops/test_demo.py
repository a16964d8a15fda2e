"""`python -m bot demo` (what `make demo` runs): every service starts, trades, stops in order.

A short session at ×60 on a fresh database: the simulator, the paper bot, the drift monitor
and the optimizer run as separate processes, the demo asks for a first optimization after 45
market minutes, and on stop it writes the HTML report and one JSON summary line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_demo_runs_every_service_and_writes_the_report(
    migrated_db_url: str, tmp_path: Path
) -> None:
    report = tmp_path / "demo.html"
    env = {**os.environ, "DATABASE_URL": migrated_db_url}
    out = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--duration", "75", "--speed", "60", "--hours",
         "1.5", "--workdir", str(tmp_path / "demo"), "--report", str(report), "--port", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    for name in ("bot", "optimizer", "drift-monitor", "exchange-sim"):
        assert f"stopped {name} (exit 0)" in lines, out.stdout[-2000:]
    # The bot stops first, so it cancels its own orders while the exchange is still up.
    stops = [line for line in lines if line.startswith("stopped ")]
    assert stops[0] == "stopped bot (exit 0)" and stops[-1] == "stopped exchange-sim (exit 0)"
    summary = json.loads(next(line for line in lines if line.startswith('{"trades"')))
    assert summary["trades"] > 0 and summary["report"] == str(report)
    assert "<html" in report.read_text()[:500].lower()
    status = [line for line in lines if line.startswith("market +")]
    assert status and "feed live" in status[-1]

    with psycopg.connect(migrated_db_url) as conn:
        fills = conn.execute("SELECT count(*) FROM own_fills WHERE mode = 'paper'").fetchone()
        jobs = conn.execute("SELECT requested_by FROM optimization_jobs").fetchall()
        span = conn.execute(
            "SELECT extract(epoch FROM max(ts) - min(ts)) FROM market_book_diffs"
        ).fetchone()
    assert fills is not None and fills[0] >= 2 * summary["trades"]
    assert ("make demo",) in jobs  # the first optimization the demo asks for
    # The services ran on the replay clock: 75 s of wall time recorded about 75 market minutes.
    assert span is not None and 55 * 60 < float(span[0]) < 80 * 60
