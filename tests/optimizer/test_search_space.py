"""Suggestions follow the template: ranges, steps, choices, and conditional parameters."""

from __future__ import annotations

import random
from pathlib import Path

import optuna
import pytest

from bot.config import ConfigError, ParamTemplate, parse_optimizer_config
from optimizer.search_space import jitter, obi_level_choices, suggest


def test_suggestions_respect_ranges_steps_and_conditions(template: ParamTemplate) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    seen_enabled = set()
    for _ in range(40):
        trial = study.ask()
        values = suggest(trial, template)
        enabled = values["dynamic_threshold.enabled"]
        seen_enabled.add(enabled)
        # factor/min/max are searched only when the dynamic threshold is switched on.
        assert ("dynamic_threshold.factor" in values) is enabled
        assert values["long.tp"] % 100 == 0 and 200 <= values["long.tp"] <= 8000
        assert -10000 <= values["long.sl"] <= -200
        assert values["signal.obi_levels"] in (3, 5, 8, 10, 15, 20)
        study.tell(trial, 0.0)
    assert seen_enabled == {True, False}


def test_jitter_stays_in_range_on_step_and_keeps_choices(template: ParamTemplate) -> None:
    values = {
        "long.tp": 8000,
        "long.sl": -200,
        "signal.obi_levels": 8,
        "signal.composite_threshold": 0.5,
    }
    rng = random.Random(0)
    for _ in range(50):
        moved = jitter(values, template, rng, 0.2)
        assert 200 <= moved["long.tp"] <= 8000 and moved["long.tp"] % 100 == 0
        assert -10000 <= moved["long.sl"] <= -200 and moved["long.sl"] % 100 == 0
        assert 0.1 <= moved["signal.composite_threshold"] <= 1.2
        assert moved["signal.obi_levels"] == 8


def test_cache_holds_every_obi_depth_the_search_can_ask_for(template: ParamTemplate) -> None:
    assert obi_level_choices(template) == [3, 5, 8, 10, 15, 20]


def test_bad_optimizer_config_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"search\.trialz"):
        parse_optimizer_config("search: {trialz: 10}\n")
    with pytest.raises(ConfigError, match="lease_seconds"):
        parse_optimizer_config("worker: {heartbeat_seconds: 10, lease_seconds: 15}\n")


def test_template_with_unknown_parameter_is_refused_by_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from optimizer.__main__ import main

    bad = tmp_path / "trade_config.yaml.template"
    bad.write_text("signal:\n  obi_levelz: {default: 8, choices: [5, 8]}\n")
    app = tmp_path / "app_config.yaml"
    app.write_text(f"params:\n  path: {tmp_path / 'p.yaml'}\n  template_path: {bad}\n")
    rc = main(["--config", str(app), "run-once", "--no-db", "--data", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "signal.obi_levelz: unknown parameter" in err and "Traceback" not in err
    assert not (tmp_path / "p.yaml").exists()
