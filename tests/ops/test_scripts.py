"""Shell scripts pass shellcheck; backup.sh + restore.sh round-trip the local database and
the params file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.ops.conftest import ROOT

SCRIPTS = [*sorted((ROOT / "scripts").glob("*.sh")), ROOT / "docker" / "entrypoint.sh"]


@pytest.mark.skipif(
    shutil.which("shellcheck") is None, reason="shellcheck absent: apt-get install shellcheck"
)
def test_shellcheck_clean() -> None:
    result = subprocess.run(
        ["shellcheck", "-x", *map(str, SCRIPTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- round trip
TABLES = {
    "benchmark_prices": "ts",
    "own_fills": "fill_id",
    "parameter_versions": "version_id",
    "optimization_jobs": "job_id",
    "drift_events": "event_id",
}


def _seed(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO benchmark_prices SELECT now() - n * interval '1 minute', 15000000 + n "
            "FROM generate_series(1, 50) n"
        )
        conn.execute(
            "INSERT INTO own_fills (fill_id, ts, mode, side, price, amount_sat, fee_jpy) "
            "SELECT n, now() - n * interval '1 second', 'paper', CASE WHEN n % 2 = 0 THEN 1 "
            "ELSE -1 END, 15000000 + n, 500000, 0.5 FROM generate_series(1, 20) n"
        )
        conn.execute(
            "INSERT INTO parameter_versions (version_id, ts, source, checksum, params) VALUES "
            "(gen_random_uuid(), now(), 'manual', repeat('a', 64), '{\"spread_limit\": 3000}')"
        )
        conn.execute(
            "INSERT INTO optimization_jobs (job_id, requested_by, payload) "
            "VALUES (gen_random_uuid(), 'make optimize', '{\"hours\": 24}')"
        )
        conn.execute(
            "INSERT INTO drift_events (event_id, ts, detector, severity, metric) "
            "VALUES (gen_random_uuid(), now(), 'market', 'minor', 'volatility')"
        )


def _snapshot(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()  # type: ignore[call-overload]
            for table, key in TABLES.items()
        }


def _script(name: str, args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kw,
    )


@pytest.fixture
def local_setup(migrated_db_url: str, tmp_path: Path) -> tuple[str, dict[str, str], Path]:
    params = tmp_path / "params" / "trade_config.yaml"
    params.parent.mkdir()
    params.write_text((ROOT / "config" / "trade_config.yaml").read_text())
    (params.parent / "history").mkdir()
    (params.parent / "history" / "v1.yaml").write_text("# kept version\n")
    env_file = tmp_path / "dot.env"
    env_file.write_text("POSTGRES_PASSWORD=secret-1\n")
    env = {
        **os.environ,
        "DATABASE_URL": migrated_db_url,
        "PARAMS_PATH": str(params),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "ENV_FILE": str(env_file),
        "PYTHON": sys.executable,
    }
    _seed(migrated_db_url)
    return migrated_db_url, env, tmp_path


def test_backup_then_restore_gives_back_rows_params_and_env(local_setup) -> None:
    url, env, tmp = local_setup
    params = Path(env["PARAMS_PATH"])
    before_rows = _snapshot(url)
    before_params = params.read_bytes()

    backup = _script("backup.sh", ["--local", "--name", "t1"], env)
    assert backup.returncode == 0, backup.stderr
    saved = tmp / "backups" / "t1"
    assert {"db.dump", "params.tar", "env", "MANIFEST"} <= {p.name for p in saved.iterdir()}
    assert (saved / "db.dump").read_bytes()[:5] == b"PGDMP", "not pg_dump custom format"
    assert "scripts/restore.sh t1" in backup.stdout

    # Lose data: delete and add rows, change the params, lose the history, change .env.
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM benchmark_prices WHERE mid_price > 15000010")
        conn.execute("DELETE FROM own_fills")
        conn.execute("UPDATE parameter_versions SET source = 'rollback'")
        conn.execute(
            "INSERT INTO drift_events (event_id, ts, detector, severity, metric) "
            "VALUES (gen_random_uuid(), now(), 'x', 'major', 'y')"
        )
    params.write_text("spread_limit: 1\n")
    shutil.rmtree(params.parent / "history")
    Path(env["ENV_FILE"]).write_text("POSTGRES_PASSWORD=changed\n")
    assert _snapshot(url) != before_rows

    restore = _script("restore.sh", ["--local", "--yes", "--with-env", "t1"], env)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert _snapshot(url) == before_rows
    assert params.read_bytes() == before_params
    assert (params.parent / "history" / "v1.yaml").read_text() == "# kept version\n"
    assert Path(env["ENV_FILE"]).read_text() == "POSTGRES_PASSWORD=secret-1\n"
    assert Path(env["ENV_FILE"] + ".before-restore").read_text() == "POSTGRES_PASSWORD=changed\n"
    # The schema is intact: migrations see nothing to do.
    from bot.storage.migrations import migration_status

    assert migration_status(url).up_to_date


def test_restore_refuses_without_a_name_or_confirmation(local_setup) -> None:
    _, env, _tmp = local_setup
    assert _script("backup.sh", ["--local", "--name", "keep"], env).returncode == 0
    no_name = _script("restore.sh", ["--local"], env)
    assert no_name.returncode == 2 and "keep" in no_name.stderr
    unknown = _script("restore.sh", ["--local", "--yes", "nope"], env)
    assert unknown.returncode == 2 and "no backup named nope" in unknown.stderr
    unconfirmed = _script("restore.sh", ["--local", "keep"], env, stdin=subprocess.DEVNULL)
    assert unconfirmed.returncode != 0 and "--yes" in unconfirmed.stderr
    again = _script("backup.sh", ["--local", "--name", "keep"], env)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_db_url_keeps_the_embedded_server_up_for_the_command(tmp_path: Path) -> None:
    """Without DATABASE_URL the scripts reach the embedded PostgreSQL through `db-url --exec`."""
    config = tmp_path / "app_config.yaml"
    config.write_text(f"database:\n  embedded_data_dir: {tmp_path / 'pg'}\n")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "db-url", "--config", str(config), "--exec",
         "bash", "-c", '"$PG_BIN_DIR/psql" --dbname="$DATABASE_URL" -tAc "SELECT 40 + 2"'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    try:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "42"
        # The server was ours alone: it stops with us, leaving no postgres behind.
        assert not (tmp_path / "pg" / "postmaster.pid").exists()
    finally:
        if (tmp_path / "pg" / "postmaster.pid").exists():
            from bot.cli.db_url import embedded_bin_dir

            subprocess.run(
                [str(embedded_bin_dir() / "pg_ctl"), "-D", str(tmp_path / "pg"), "stop"],
                check=False,
            )


def test_docker_backup_and_restore_through_compose(local_setup, tmp_path: Path) -> None:
    """The --docker path, with a stand-in for `docker compose` (no engine here): pg_dump and
    pg_restore run as `compose exec timescaledb`, params travel through `compose run`."""
    from urllib.parse import parse_qs, urlsplit

    from bot.cli.db_url import embedded_bin_dir

    url, env, _ = local_setup
    parts = urlsplit(url)
    host = parse_qs(parts.query).get("host", [parts.hostname or "localhost"])[0]
    volume = tmp_path / "params_volume"
    volume.mkdir()
    (volume / "trade_config.yaml").write_text("spread_limit: 3000\n")
    log = tmp_path / "compose.log"
    env = {
        **env,
        "COMPOSE": f"{sys.executable} {ROOT / 'tests' / 'ops' / 'fake_compose.py'}",
        "FAKE_PG_HOST": host,
        "FAKE_PG_DB": parts.path.lstrip("/"),
        "FAKE_PG_BIN": str(embedded_bin_dir()),
        "FAKE_PARAMS_DIR": str(volume),
        "FAKE_LOG": str(log),
    }
    if parts.port:
        env["PGPORT"] = str(parts.port)
    before = _snapshot(url)

    backup = _script("backup.sh", ["--name", "d1"], env)  # docker chosen: timescaledb is up
    assert backup.returncode == 0, backup.stdout + backup.stderr
    assert "(docker)" in backup.stdout
    assert (tmp_path / "backups" / "d1" / "db.dump").read_bytes()[:5] == b"PGDMP"

    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM own_fills")
    (volume / "trade_config.yaml").write_text("spread_limit: 1\n")
    (volume / "stray.yaml").write_text("not in the backup\n")

    restore = _script("restore.sh", ["--yes", "d1"], env)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert _snapshot(url) == before
    assert sorted(p.name for p in volume.iterdir()) == ["trade_config.yaml"]
    assert (volume / "trade_config.yaml").read_text() == "spread_limit: 3000\n"
    calls = log.read_text().splitlines()
    assert "stop bot optimizer drift-monitor" in calls
    assert calls.index("stop bot optimizer drift-monitor") < next(
        i for i, c in enumerate(calls) if "pg_restore" in c
    )
