"""`python -m bot exchange-sim` and `python -m bot record` as an operator runs them."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.exchange.recording import LoadReport, iter_recording
from bot.market.events import BookDiff, BookSnapshot

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data/sample/order_book_updates_20250803-140150.csv"


def start_sim(*extra: str) -> tuple[subprocess.Popen[str], str, float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "exchange-sim", "--data", str(SAMPLE), "--port", "0", *extra],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    started = time.monotonic() - t0
    match = re.search(r"REST (http://\S+)/api/\s+WebSocket (ws://\S+)", line)
    assert match, line
    return proc, match.group(1), started


def test_exchange_sim_serves_and_stops_on_sigint_and_sigterm() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc, rest, started = start_sim("--speed", "0", "--no-wait", "--jpy", "5000")
        try:
            assert started < 3.0  # < 1 s on a quiet machine; slack for a loaded CI box
            bal = httpx.get(rest + "/api/accounts/balance")
            assert bal.status_code == 401
            assert bal.json() == {"success": False, "error": "invalid authentication"}
            time.sleep(0.3)
            book = httpx.get(rest + "/api/order_books").json()
            assert book["bids"] and book["asks"]
        finally:
            proc.send_signal(sig)
            assert proc.wait(5) == 0


def test_exchange_sim_refuses_a_bad_fault_spec_in_one_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "exchange-sim", "--data", str(SAMPLE), "--faults", "x=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("error: faults:") and "Traceback" not in out.stderr


def test_record_writes_a_replayable_file(tmp_path: Path) -> None:
    proc, rest, _ = start_sim("--speed", "20")
    out = tmp_path / "rec.jsonl.gz"
    try:
        ws = rest.replace("http://", "ws://") + "/"
        rec = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "record",
                "--out",
                str(out),
                "--rest-url",
                rest,
                "--ws-url",
                ws,
                "--duration",
                "1.5",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert rec.returncode == 0, rec.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(5)
    report = LoadReport(events=[])
    events = list(iter_recording(out, report))
    assert report.malformed == []
    assert isinstance(events[0], BookSnapshot)  # the snapshot taken at connect comes first
    assert sum(isinstance(e, BookDiff) for e in events) > 10


def test_exchange_sim_publishes_its_replay_clock() -> None:
    proc, rest, _ = start_sim(
        "--speed", "30", "--market-clock", "replay", "--clock-origin", "2030-01-01T00:00:00Z"
    )
    try:
        clock = httpx.get(rest + "/sim/clock").json()
        assert clock["speed"] == 30
        assert clock["origin_us"] == 1_893_456_000_000_000
        # Half a minute of market per wall second since it started.
        assert 1_893_456_000_000_000 <= clock["now_us"] < 1_893_456_000_000_000 + 30_000_000 * 10
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0


def test_exchange_sim_refuses_a_replay_clock_without_a_speed() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "exchange-sim", "--data", str(SAMPLE), "--speed", "0",
         "--market-clock", "replay"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == "error: --market-clock replay needs a replay --speed above 0"
