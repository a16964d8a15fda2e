"""Webhook notifications: Slack/Discord JSON for drift, new parameters and a drawdown halt;
a webhook that fails or is not there never stops a check."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
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
from drift_monitor.notify import Notifier


@dataclass
class Webhook:
    url: str
    status: int = 200
    bodies: list[dict[str, str]] = field(default_factory=list)


@pytest_asyncio.fixture(loop_scope="function")
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook(url="")

    async def receive(request: web.Request) -> web.Response:
        hook.bodies.append(await request.json())
        return web.Response(status=hook.status, text="nope" if hook.status >= 300 else "ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hook.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield hook
    finally:
        await runner.cleanup()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # nothing listens there any more


async def _major(history: History) -> None:
    await history.round_trips(baseline_pnls(), baseline_exits())
    await history.round_trips([-200] * 10, recent_exits(10))
    await history.steady_market()


async def test_drift_and_halt_are_posted_as_slack_and_discord_json(
    conn: asyncpg.Connection, history: History, webhook: Webhook
) -> None:
    await _major(history)
    # Baseline cumulative PnL peaks at 4,100 (after the last +300) and the ten -200 trips
    # take it to 2,000: 2,100 JPY below the peak.
    cfg = config(notify={"drawdown_halt_jpy": 1500})

    result = await run_check(conn, cfg, NOW_US, Notifier(webhook.url))

    assert result.as_json()["drawdown"] == {"value": 2100.0, "threshold": 1500.0, "status": "halt"}
    assert [n.kind for n in result.notifications] == ["drift", "drawdown_halt"]
    assert all(n.delivered for n in result.notifications)
    drift, halt = webhook.bodies
    assert set(drift) == {"text", "content"}
    assert drift["text"] == drift["content"]
    assert drift["text"].startswith("obi-scalp-bot: drift MAJOR: ")
    assert "job for the last 24 h with 60 trials" in drift["text"]
    assert halt["text"] == (
        "obi-scalp-bot: drawdown halt: net PnL is 2,100 JPY below its peak of the last 168 h "
        "(limit 1,500 JPY)"
    )

    # Same state a minute later: job outstanding, severity unchanged, halt already told.
    again = await run_check(conn, cfg, NOW_US + 60_000_000, Notifier(webhook.url))
    assert again.notifications == ()
    assert len(webhook.bodies) == 2


async def test_new_parameters_applied_are_announced_once(
    conn: asyncpg.Connection, history: History, webhook: Webhook
) -> None:
    await history.round_trips(baseline_pnls(), baseline_exits())
    await history.round_trips([300, -100] * 3, recent_exits(6))  # none
    await history.steady_market()
    notifier = Notifier(webhook.url)
    await run_check(conn, config(), NOW_US, notifier)
    await conn.execute(
        "INSERT INTO parameter_versions (version_id, ts, source, checksum, params) "
        "VALUES (gen_random_uuid(), $1, 'optimizer', $2, '{}'::jsonb)",
        NOW + timedelta(seconds=30),
        "ab" * 32,
    )

    second = await run_check(conn, config(), NOW_US + 60_000_000, notifier)
    third = await run_check(conn, config(), NOW_US + 120_000_000, notifier)

    assert [n.kind for n in second.notifications] == ["params_applied"]
    assert third.notifications == ()
    [body] = webhook.bodies
    assert body["content"] == (
        "obi-scalp-bot: new parameters applied at 2026-01-05 12:00:30 UTC "
        "(source optimizer, checksum abababababab)"
    )


@pytest.mark.parametrize("failure", ["http_500", "closed_port"])
async def test_a_failing_webhook_is_logged_and_never_fatal(
    conn: asyncpg.Connection,
    history: History,
    webhook: Webhook,
    failure: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _major(history)
    webhook.status = 500
    url = webhook.url if failure == "http_500" else closed_port_url()

    result = await run_check(conn, config(), NOW_US, Notifier(url, timeout_seconds=2))

    assert result.severity == "major"
    assert result.decision.action == "job_created"  # the job exists despite the failure
    assert [(n.kind, n.delivered) for n in result.notifications] == [("drift", False)]
    [decision] = await history.decisions()
    assert json.loads(decision["details"])["notifications"] == [
        {"kind": "drift", "delivered": False}
    ]
    expected = "HTTP 500" if failure == "http_500" else "webhook notification failed: ConnectError"
    assert any(expected in r.getMessage() for r in caplog.records)


async def test_no_webhook_configured_sends_nothing() -> None:
    assert await Notifier(None).send("hello") is False
    assert Notifier("").enabled is False
