"""Migrations against a real PostgreSQL: up from empty, re-run, refuse a newer schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from bot.storage.errors import SchemaError
from bot.storage.migrations import MIGRATIONS_DIR, discover, migrate, migration_status

EXPECTED_TABLES = {
    "market_book_diffs",
    "market_trades",
    "benchmark_prices",
    "order_events",
    "own_fills",
    "position_snapshots",
    "performance_reports",
    "latency_samples",
    "optimization_jobs",
    "optimization_runs",
    "optimization_trials",
    "parameter_versions",
    "drift_events",
    "schema_migrations",
}
EXPECTED_VIEWS = {
    "v_pnl_curve",
    "v_performance_latest",
    "v_pnl_vs_buy_and_hold",
    "v_latency_percentiles",
    "v_orders_latest",
    "v_optimizer_history",
    "v_parameter_timeline",
}


def _names(url: str, kind: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = %s",
            (kind,),
        ).fetchall()
    return {r[0] for r in rows}


def test_migrate_from_empty_creates_every_table_and_view(fresh_db_url: str) -> None:
    before = migration_status(fresh_db_url)
    assert before.db_version == 0
    assert len(before.pending) == len(discover()["core"])

    applied = migrate(fresh_db_url)

    assert [m.version for m in applied] == [m.version for m in discover()["core"]]
    assert _names(fresh_db_url, "BASE TABLE") >= EXPECTED_TABLES
    assert _names(fresh_db_url, "VIEW") >= EXPECTED_VIEWS
    after = migration_status(fresh_db_url)
    assert after.up_to_date
    assert after.db_version == after.code_version == discover()["core"][-1].version


def test_rerun_is_a_no_op(migrated_db_url: str) -> None:
    assert migrate(migrated_db_url) == []
    with psycopg.connect(migrated_db_url) as conn:
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count == (len(discover()["core"]),)


def test_views_answer_on_an_empty_schema(migrated_db_url: str) -> None:
    with psycopg.connect(migrated_db_url) as conn:
        for view in EXPECTED_VIEWS:
            conn.execute(f"SELECT * FROM {view} LIMIT 1")  # type: ignore[call-overload]


def test_refuses_a_database_migrated_by_newer_code(migrated_db_url: str) -> None:
    with psycopg.connect(migrated_db_url) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (flavor, version, name, checksum) "
            "VALUES ('core', 9000, 'from_the_future', 'x')"
        )
    with pytest.raises(SchemaError, match=r"9000_from_the_future.*newer release"):
        migrate(migrated_db_url)


def test_failed_migration_rolls_back_and_names_the_file(fresh_db_url: str, tmp_path: Path) -> None:
    shutil.copytree(MIGRATIONS_DIR, tmp_path / "m")
    (tmp_path / "m" / "9999_broken.sql").write_text("CREATE TABLE t_ok (x int);\nSELEC 1;\n")
    with pytest.raises(SchemaError, match=r"9999_broken\.sql failed"):
        migrate(fresh_db_url, tmp_path / "m")
    status = migration_status(fresh_db_url, tmp_path / "m")
    assert status.db_version == discover()["core"][-1].version
    assert "t_ok" not in _names(fresh_db_url, "BASE TABLE")


def test_timescale_migrations_only_pending_when_extension_available(fresh_db_url: str) -> None:
    status = migration_status(fresh_db_url)
    flavors = {m.flavor for m in status.pending}
    assert ("timescale" in flavors) == status.timescale_available
    assert discover()["timescale"], "db/migrations/timescale/ must hold the hypertable statements"
