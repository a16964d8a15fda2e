"""The params file is replaced atomically, every version is kept, and any can be restored."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ParamTemplate, load_trade_params
from bot.service.params_source import version_from_text
from optimizer import params_writer
from optimizer.params_writer import (
    ParamsWriteError,
    current_version,
    list_versions,
    rollback,
    write_params,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _params(template: ParamTemplate, tp: int):
    return template.build({"long.tp": tp})


def test_write_keeps_history_and_rollback_walks_back(
    template: ParamTemplate, tmp_path: Path
) -> None:
    path = tmp_path / "trade_config.yaml"
    for i, tp in enumerate((1000, 2000, 3000)):
        write_params(
            path, _params(template, tp), run_id=f"run{i}", note="why", now=T0 + timedelta(minutes=i)
        )
    assert load_trade_params(path).long.tp == 3000
    assert len(list_versions(path)) == 3
    # The bot records where each version came from by its first line.
    live = version_from_text(path.read_text(), "live")
    assert (live.source, live.run_id, live.params.long.tp) == ("optimizer", "run2", 3000)

    back = rollback(path)
    assert load_trade_params(path).long.tp == 2000
    live = version_from_text(path.read_text(), "live")
    assert (live.source, live.run_id) == ("rollback", "run1")
    assert current_version(path) == back
    rollback(path)
    assert load_trade_params(path).long.tp == 1000
    with pytest.raises(ParamsWriteError, match="oldest"):
        rollback(path)
    newest = list_versions(path)[-1]
    rollback(path, to=newest.checksum)  # the content hash alone names a version
    assert load_trade_params(path).long.tp == 3000
    with pytest.raises(ParamsWriteError, match="no kept version"):
        rollback(path, to="1999")
    # Only the live file and the history: no temp files left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history", "trade_config.yaml"]


def test_a_hand_written_file_is_kept_before_it_is_replaced(
    template: ParamTemplate, tmp_path: Path
) -> None:
    path = tmp_path / "trade_config.yaml"
    original = "long: {tp: 1234, sl: -3000}\n"
    path.write_text(original)
    write_params(path, _params(template, 2500), now=T0)
    rollback(path)
    assert path.read_text() == "# source: rollback\n" + original


def test_history_is_pruned_to_keep(template: ParamTemplate, tmp_path: Path) -> None:
    path = tmp_path / "trade_config.yaml"
    for i in range(6):
        write_params(path, _params(template, 1000 + 100 * i), keep=3, now=T0 + timedelta(seconds=i))
    assert len(list_versions(path)) == 3


def test_failed_replace_leaves_the_old_file_and_no_temp(
    template: ParamTemplate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "trade_config.yaml"
    write_params(path, _params(template, 1000), now=T0)
    before = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        if Path(dst) == path:
            raise OSError(28, "No space left on device")
        os.rename(src, dst)

    monkeypatch.setattr(params_writer.os, "replace", crash)
    with pytest.raises(ParamsWriteError, match="No space left"):
        write_params(path, _params(template, 2000), now=T0 + timedelta(minutes=1))
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_rollback_command(template: ParamTemplate, tmp_path: Path) -> None:
    path = tmp_path / "params" / "trade_config.yaml"
    write_params(path, _params(template, 1000), now=T0)
    write_params(path, _params(template, 2000), now=T0 + timedelta(minutes=1))
    app = tmp_path / "app_config.yaml"
    app.write_text(f"params:\n  path: {path}\n")
    cmd = [sys.executable, "-m", "optimizer", "--config", str(app), "rollback"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "rolled back" in done.stdout
    assert load_trade_params(path).long.tp == 1000
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2
    assert again.stderr.startswith("error:") and "Traceback" not in again.stderr
