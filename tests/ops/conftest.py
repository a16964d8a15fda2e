"""Shared by the operations tests: the repository's deployment files and a database filled by
a short real paper-trading run (bot + simulator + report generator + drift monitor)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
DASHBOARD_NAMES = ("pnl", "latency", "optimizer")


def load_dashboard(name: str) -> dict[str, Any]:
    return json.loads((DASHBOARD_DIR / f"{name}.json").read_text(encoding="utf-8"))


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def query_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in all_panels(dashboard) if p.get("type") != "row"]


# --------------------------------------------------------------------------- paper-run data
async def _paper_run(db_url: str, tmp: Path) -> None:
    from bot.sim.server import ExchangeSimulator
    from bot.storage.reports import ReportGenerator
    from tests.bot.service.harness import (
        API_KEY,
        API_SECRET,
        bot_config,
        eager_params,
        informed_market,
        running_bot,
        wait_for,
        write_params,
    )

    eager = eager_params()
    events = informed_market(6, seed=3)
    sim = ExchangeSimulator(events, speed=40, api_key=API_KEY, api_secret=API_SECRET)
    await sim.start()
    try:
        config = bot_config(sim, db_url, tmp)
        params_path = Path(config.params.path)
        write_params(params_path, eager)
        async with running_bot(config) as bot:
            await wait_for(lambda: len(bot.trader.round_trips) >= 4, 60, "four round trips")
            before = bot.params_version.checksum
            write_params(params_path, eager.model_copy(update={"spread_limit": 25000}))
            await wait_for(lambda: bot.params_version.checksum != before, 10, "params reload")
            await wait_for(lambda: len(bot.trader.round_trips) >= 6, 60, "six round trips")
            # One report round with closed trades in it (the bot's own reporter ran at start).
            reporter = ReportGenerator(db_url, bot.writer, config.report_generator, "paper")
            await reporter.report_once()
            await asyncio.sleep(0.3)
    finally:
        await sim.stop()


def _optimizer_rows(db_url: str) -> None:
    """What an optimizer cycle leaves behind: a drift that asked for a job, two runs (one
    accepted and applied, one rejected)."""
    with psycopg.connect(db_url) as conn:
        conn.execute(
            """
            INSERT INTO optimization_jobs (job_id, created_at, status, requested_by, reason,
                                           finished_at)
            VALUES ('00000000-0000-0000-0000-0000000000a1', now() - interval '50 minutes',
                    'done', 'drift_monitor', 'profit factor drift (major)',
                    now() - interval '40 minutes')
            """
        )
        conn.execute(
            """
            INSERT INTO drift_events (event_id, ts, detector, severity, metric, value,
                                      threshold, job_id)
            VALUES (gen_random_uuid(), now() - interval '50 minutes', 'performance', 'major',
                    'profit_factor_4h', 0.55, 0.6, '00000000-0000-0000-0000-0000000000a1')
            """
        )
        conn.execute(
            """
            INSERT INTO optimization_runs (run_id, job_id, started_at, finished_at, status,
                                           n_trials, best_value, accepted, reason, oos_metrics)
            VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1',
                    now() - interval '49 minutes', now() - interval '41 minutes', 'done', 60, 1.8,
                    true, 'accepted',
                    '{"trades": 42, "profit_factor": 1.6, "pnl_jpy": 5200.0, "sharpe": 0.2}'),
                   ('00000000-0000-0000-0000-0000000000b2', NULL,
                    now() - interval '30 minutes', now() - interval '25 minutes', 'done', 30, 0.4,
                    false, 'out-of-sample profit factor 0.9 < 1.2',
                    '{"trades": 25, "profit_factor": 0.9, "pnl_jpy": -800.0, "sharpe": -0.1}')
            """
        )
        conn.execute(
            """
            INSERT INTO parameter_versions (version_id, ts, source, run_id, checksum, params)
            SELECT gen_random_uuid(), now() - interval '40 minutes', 'optimizer',
                   '00000000-0000-0000-0000-0000000000b1', repeat('c', 64), params
            FROM parameter_versions ORDER BY ts LIMIT 1
            """
        )


@pytest.fixture(scope="module")
def paper_run_db(pg_admin) -> Iterator[str]:
    """A migrated database holding a short paper-trading run and one optimizer cycle."""
    from bot.config import DriftMonitorConfig
    from bot.storage.migrations import migrate
    from drift_monitor.monitor import check_once

    url = pg_admin.create_database("ops")
    try:
        migrate(url)
        with tempfile.TemporaryDirectory(prefix="obi-ops-") as tmp:
            asyncio.run(_paper_run(url, Path(tmp)))
        asyncio.run(check_once(url, DriftMonitorConfig()))
        _optimizer_rows(url)
        yield url
    finally:
        pg_admin.drop_database(url)
