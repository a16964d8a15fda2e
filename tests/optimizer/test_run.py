"""Whole runs in-process: a market with an edge is found and written, one without is refused."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from bot.backtest.fast_path import FeatureCache
from bot.config import AccountConfig, OptimizerConfig, ParamTemplate, load_trade_params
from bot.storage.optimizer_store import OptimizerStore
from optimizer.run import RunRequest, load_events, run_optimization


def _run(
    cache: FeatureCache,
    config: OptimizerConfig,
    template: ParamTemplate,
    params_path: Path,
    store: OptimizerStore | None = None,
    workers: int = 1,
):
    return run_optimization(
        RunRequest(workers=workers),
        config=config,
        template=template,
        account=AccountConfig(),
        params_path=params_path,
        store=store,
        cache=cache,
        data_label="test market",
    )


def test_profitable_region_is_found_validated_and_written(
    edge_cache: FeatureCache,
    small_config: OptimizerConfig,
    template: ParamTemplate,
    tmp_path: Path,
    migrated_db_url: str,
) -> None:
    path = tmp_path / "params" / "trade_config.yaml"
    with OptimizerStore(migrated_db_url) as store:
        report = _run(edge_cache, small_config, template, path, store)
        row = store.run_row(uuid.UUID(report.run_id))
        trials = store.trial_rows(uuid.UUID(report.run_id))
    assert report.status == "accepted", report.reason
    assert report.written == str(path)
    oos = report.out_of_sample
    assert oos is not None
    assert oos["trades"] >= 15 and oos["pnl_jpy"] > 0 and oos["profit_factor"] >= 1.3
    assert report.walk_forward is not None and report.walk_forward["passed"]
    assert report.stability is not None and report.stability["passed"]
    # The file is what the bot will load: valid, and the accepted values.
    written = load_trade_params(path)
    assert written == template.build(report.best_params or {})
    assert (path.parent / "history").is_dir()
    # The run, its verdict and every trial are in the database.
    assert row["status"] == "done" and row["accepted"] is True
    assert row["written_path"] == str(path)
    assert row["reason"] == report.reason
    assert row["walk_forward"]["passed"] is True
    assert len(trials) == report.trials == 40
    assert {state for _, state, _, _ in trials} <= {"COMPLETE", "PRUNED"}


def test_market_without_edge_is_rejected_and_nothing_written(
    no_edge_cache: FeatureCache,
    small_config: OptimizerConfig,
    template: ParamTemplate,
    tmp_path: Path,
    migrated_db_url: str,
) -> None:
    path = tmp_path / "params" / "trade_config.yaml"
    with OptimizerStore(migrated_db_url) as store:
        report = _run(no_edge_cache, small_config, template, path, store)
        row = store.run_row(uuid.UUID(report.run_id))
    assert report.status == "rejected"
    assert report.written is None
    assert not path.exists() and not path.parent.exists()
    assert row["status"] == "done" and row["accepted"] is False
    assert row["reason"] == report.reason and row["written_path"] is None


def test_one_worker_with_a_seed_is_deterministic(
    edge_cache: FeatureCache,
    small_config: OptimizerConfig,
    template: ParamTemplate,
    tmp_path: Path,
) -> None:
    config = small_config.model_copy(
        update={
            "search": small_config.search.model_copy(update={"trials": 25}),
            "walk_forward": small_config.walk_forward.model_copy(update={"enabled": False}),
        }
    )
    first = _run(edge_cache, config, template, tmp_path / "a" / "p.yaml")
    second = _run(edge_cache, config, template, tmp_path / "b" / "p.yaml")
    assert first.best_params == second.best_params
    assert first.in_sample == second.in_sample
    assert first.candidates_tried == second.candidates_tried


def test_recent_hours_come_from_the_database(
    edge_events: list,
    small_config: OptimizerConfig,
    template: ParamTemplate,
    tmp_path: Path,
    migrated_db_url: str,
) -> None:
    from bot.storage.rows import MarketSequence, market_event_row
    from bot.storage.writer import DatabaseWriter

    async def store_events() -> None:
        ids = MarketSequence()
        async with DatabaseWriter(migrated_db_url, tmp_path / "w.spill") as writer:
            for e in edge_events:
                writer.write(market_event_row(e, ids.next(e.ts_us)))

    asyncio.run(store_events())
    config = small_config.model_copy(
        update={"walk_forward": small_config.walk_forward.model_copy(update={"enabled": False})}
    )
    with OptimizerStore(migrated_db_url) as store:
        # The newest hour of the two stored: half the events, give or take the rate noise.
        hour = load_events(RunRequest(hours=1), config, store)
        assert 0.4 * len(edge_events) < len(hour) < 0.6 * len(edge_events)
        assert hour == edge_events[-len(hour) :]
        report = run_optimization(
            RunRequest(hours=2, trials=20),
            config=config,
            template=template,
            account=AccountConfig(),
            params_path=tmp_path / "p.yaml",
            store=store,
        )
        row = store.run_row(uuid.UUID(report.run_id))
    assert report.data == "database, last 2 h"
    assert row["data_source"] == "database, last 2 h" and row["status"] == "done"
    assert report.in_sample is not None and report.in_sample["trades"] > 0
