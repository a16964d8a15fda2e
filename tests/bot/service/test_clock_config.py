"""`exchange.clock`: which services may follow the simulator's replay clock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import AppConfig, ConfigError, load_app_config
from bot.service.app import BotService
from tests.bot.service.harness import ROOT


def test_live_trading_refuses_the_replay_clock() -> None:
    config = AppConfig.model_validate(
        {"exchange": {"clock": "simulator", "api_key": "k", "api_secret": "s"}}
    )
    with pytest.raises(ConfigError, match="live trading runs on the wall clock only"):
        BotService(config, "live")
    BotService(config, "paper")  # paper against the simulator may follow it


def test_market_clock_comes_from_the_environment(tmp_path: Path) -> None:
    assert load_app_config(None, env={}).exchange.clock == "wall"
    assert load_app_config(None, env={"MARKET_CLOCK": "simulator"}).exchange.clock == "simulator"
    with pytest.raises(ConfigError, match=r"exchange\.clock = sundial"):
        load_app_config(None, env={"MARKET_CLOCK": "sundial"})


def test_drift_check_without_a_reachable_simulator_says_where(tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text("exchange: {clock: simulator, rest_url: 'http://127.0.0.1:9'}\n")
    out = subprocess.run(
        [sys.executable, "-m", "drift_monitor", "--app-config", str(app), "check", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "cannot read the replay clock at http://127.0.0.1:9/sim/clock" in out.stderr
    assert out.stdout == ""
