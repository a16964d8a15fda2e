"""Job rules: never more than one outstanding job, a cool-down after a job, every decision kept."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
from drift_history import (
    NOW,
    NOW_US,
    History,
    baseline_exits,
    baseline_pnls,
    config,
    recent_exits,
)

from drift_monitor.monitor import run_check

MINUTE_US = 60_000_000


async def _major(history: History) -> None:
    """The collapse history: 10 trips of -200 JPY in the last hour (severity major)."""
    await history.round_trips(baseline_pnls(), baseline_exits())
    await history.round_trips([-200] * 10, recent_exits(10))
    await history.steady_market()


async def test_a_pending_job_blocks_a_second_one(
    conn: asyncpg.Connection, history: History
) -> None:
    await _major(history)
    await history.job("pending", NOW - timedelta(hours=2))

    result = await run_check(conn, config(), NOW_US)

    assert result.severity == "major"
    assert result.decision.action == "job_outstanding"
    assert result.as_json()["job_id"] is None
    jobs = await history.jobs()
    assert [j["requested_by"] for j in jobs] == ["make optimize"]
    [decision] = await history.decisions()
    details = json.loads(decision["details"])
    assert details["action"] == "job_outstanding"
    assert str(jobs[0]["job_id"]) in details["decision"]
    assert decision["job_id"] is None


async def test_a_running_job_blocks_too(conn: asyncpg.Connection, history: History) -> None:
    await _major(history)
    await history.job("running", NOW - timedelta(hours=1))

    result = await run_check(conn, config(), NOW_US)

    assert result.decision.action == "job_outstanding"
    assert len(await history.jobs()) == 1


async def test_repeated_and_concurrent_checks_leave_one_pending_job(
    conn: asyncpg.Connection, history: History, migrated_db_url: str
) -> None:
    await _major(history)
    other = await asyncpg.connect(migrated_db_url)
    try:
        first, second = await asyncio.gather(
            run_check(conn, config(), NOW_US), run_check(other, config(), NOW_US)
        )
    finally:
        await other.close()
    third = await run_check(conn, config(), NOW_US + MINUTE_US)

    actions = sorted([first.decision.action, second.decision.action])
    assert actions == ["job_created", "job_outstanding"]
    assert third.decision.action == "job_outstanding"
    jobs = await history.jobs()
    assert [j["status"] for j in jobs] == ["pending"]
    assert len(await history.decisions()) == 3  # every decision is recorded


async def test_cool_down_after_a_job_depends_on_severity(
    conn: asyncpg.Connection, history: History
) -> None:
    await _major(history)
    # A job finished 20 min ago; major drift waits 30 min (normal 120, minor 360).
    await history.job("done", NOW - timedelta(hours=3), finished=NOW - timedelta(minutes=20))

    held = await run_check(conn, config(), NOW_US)

    assert held.severity == "major"
    assert held.decision.action == "cooldown"
    assert "cool-down until 2026-01-05 12:10:00 UTC" in held.decision.reason
    assert len(await history.jobs()) == 1

    # 11 min later the cool-down is over; the last hour still holds 9 losing trips.
    later = await run_check(conn, config(), NOW_US + 11 * MINUTE_US)

    assert later.severity == "major"
    assert later.decision.action == "job_created"
    jobs = await history.jobs()
    assert len(jobs) == 2
    assert json.loads(jobs[-1]["payload"])["hours"] == 24
    decisions = await history.decisions()
    assert [json.loads(d["details"])["action"] for d in decisions] == ["cooldown", "job_created"]
    assert decisions[-1]["job_id"] == later.decision.job_id


async def test_a_failed_job_also_starts_the_cool_down(
    conn: asyncpg.Connection, history: History
) -> None:
    await _major(history)
    await history.job("failed", NOW - timedelta(minutes=25))  # never finished: from creation

    result = await run_check(conn, config(), NOW_US)

    assert result.decision.action == "cooldown"


async def test_drift_below_min_severity_is_recorded_without_a_job(
    conn: asyncpg.Connection, history: History
) -> None:
    await history.round_trips(baseline_pnls(), baseline_exits())
    await history.round_trips([300, -300] * 5, recent_exits(10))  # minor (PF = 1.0)
    await history.steady_market()

    result = await run_check(conn, config(jobs={"min_severity": "normal"}), NOW_US)

    assert result.severity == "minor"
    assert result.decision.action == "below_job_severity"
    assert await history.jobs() == []
    [decision] = await history.decisions()
    assert decision["severity"] == "minor"
