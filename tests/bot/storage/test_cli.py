"""The db, report and export-sim-data commands end to end (argument parsing to exit code)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.exchange.recording import LoadReport, iter_recording
from bot.storage.migrations import discover
from bot.storage.rows import FillRow

CONFIG = Path(__file__).resolve().parents[3] / "config" / "app_config.yaml"
T0 = 1_755_309_978_000_000  # 2025-08-16T02:06:18Z


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run a command like the shell would (async tests call this in a thread: it uses
    asyncio.run itself)."""
    code = main([*args[:1], "--config", str(CONFIG), *args[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def test_db_status_then_migrate(
    fresh_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    code, out, _ = run(["db", "status"], capsys)
    assert code == 1
    assert "pending  core      0001_init" in out
    code, out, _ = run(["db", "migrate"], capsys)
    assert code == 0
    assert "applied core 1" not in out and "applied core 0002_grafana_views" in out
    latest = discover()["core"][-1].version
    code, out, _ = run(["db", "migrate"], capsys)
    assert code == 0 and f"already up to date (version {latest})" in out
    code, out, _ = run(["db", "status"], capsys)
    assert code == 0 and f"schema:      version {latest} (code has {latest})" in out


def test_wrong_password_is_one_line_not_a_traceback(
    password_user_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", password_user_url.replace("right-password", "oops"))
    for command in (["db", "status"], ["report"], ["export-sim-data", "--hours-before", "1"]):
        code, _, err = run(command, capsys)
        assert code == 2, command
        assert err.count("\n") == 1, err
        assert err.startswith("error: cannot connect to postgresql://pwuser:***@")
        assert "password authentication failed" in err
        assert "oops" not in err and "Traceback" not in err


async def _store_fills(url: str, tmp_path: Path) -> None:
    from bot.storage.writer import DatabaseWriter

    async with DatabaseWriter(url, tmp_path / "w.spill") as writer:
        # Short 0.005 BTC at 17,000,000, buy back at 16,990,000: +50 JPY, fee 1.5 JPY.
        writer.write(FillRow(1, T0, "live", -1, 17_000_000, 500_000))
        writer.write(FillRow(2, T0 + 60_000_000, "live", 1, 16_990_000, 500_000, fee_jpy=1.5))  # type: ignore[arg-type]


async def test_report_json(
    migrated_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _store_fills(migrated_db_url, tmp_path)
    monkeypatch.setenv("DATABASE_URL", migrated_db_url)
    code, out, err = await asyncio.to_thread(
        run, ["report", "--json", "--mode", "live", "--until", "2025-08-16T03:00:00Z"], capsys
    )
    assert code == 0, err
    reports = {r["window_hours"]: r for r in json.loads(out)}
    assert set(reports) == {1, 4, 24, None}
    assert reports[None]["trades"] == 1
    assert reports[None]["pnl_jpy"] == 48.5
    assert reports[None]["fees_jpy"] == 1.5
    assert reports[None]["win_rate"] == 1.0
    code, out, _ = await asyncio.to_thread(
        run, ["report", "--mode", "live", "--until", "2025-08-16T03:00:00Z"], capsys
    )
    assert code == 0 and "    all      1   100.0%" in out


def test_report_on_an_unmigrated_database_says_what_to_run(
    fresh_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    for command in (["report"], ["export-sim-data", "--hours-before", "1"]):
        code, _, err = run(command, capsys)
        assert code == 2 and "python -m bot db migrate" in err, command


async def test_export_sim_data_by_time_range(
    migrated_db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.market.events import Side, TradePrint
    from bot.storage.rows import market_event_row
    from bot.storage.writer import DatabaseWriter

    trade = TradePrint(T0, T0, 7, 17_000_000, 500_000, Side.BUY)
    async with DatabaseWriter(migrated_db_url, tmp_path / "w.spill") as writer:
        writer.write(market_event_row(trade, T0 * 1000))
    monkeypatch.setenv("DATABASE_URL", migrated_db_url)
    out_file = tmp_path / "sim.jsonl.gz"
    code, out, err = await asyncio.to_thread(
        run,
        [
            "export-sim-data",
            "--start-time",
            "2025-08-16T02:00:00",
            "--end-time",
            "2025-08-16T03:00:00",
            "--out",
            str(out_file),
        ],
        capsys,
    )
    assert code == 0, err
    assert "1 trades" in out
    assert list(iter_recording(out_file, LoadReport(events=[]))) == [trade]

    code, _, err = await asyncio.to_thread(
        run,
        [
            "export-sim-data",
            "--start-time",
            "2025-08-17T00:00:00",
            "--end-time",
            "2025-08-17T01:00:00",
            "--out",
            str(tmp_path / "none.jsonl"),
        ],
        capsys,
    )
    assert code == 1
    assert "stored data spans 2025-08-16T02:06:18Z" in err
    assert not (tmp_path / "none.jsonl").exists()
