"""Grading and combining metrics, and the configuration's own rules (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    DriftChangeLevels,
    DriftLevelsAbove,
    DriftLevelsBelow,
    load_drift_config,
)
from drift_monitor.severity import (
    MetricResult,
    Status,
    assess,
    grade_above,
    grade_below,
    grade_change,
)

ROOT = Path(__file__).resolve().parents[2]
BELOW = DriftLevelsBelow(minor=-2, normal=-3, major=-4)
ABOVE = DriftLevelsAbove(minor=1, normal=1.5, major=2)
CHANGE = DriftChangeLevels(minor=2, normal=3, major=5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-1.99, (Status.OK, -2)), (-2.0, (Status.MINOR, -2)), (-3.5, (Status.NORMAL, -3)),
     (-4.0, (Status.MAJOR, -4))],
)  # fmt: skip
def test_grade_below_takes_the_worst_level_reached(value: float, expected: object) -> None:
    assert grade_below(value, BELOW) == expected


def test_grade_above_and_change_are_symmetric_around_one() -> None:
    assert grade_above(1.49, ABOVE) == (Status.MINOR, 1)
    assert grade_change(3.0, CHANGE) == (Status.NORMAL, 3)
    assert grade_change(1 / 3, CHANGE) == (Status.NORMAL, pytest.approx(1 / 3))
    assert grade_change(0.6, CHANGE) == (Status.OK, 0.5)
    assert grade_change(0.0, CHANGE) == (Status.MAJOR, 0.2)


def _m(name: str, group: str, status: Status) -> MetricResult:
    return MetricResult(name, group, status, 1.0, 1.0, {}, "why")  # type: ignore[arg-type]


def test_worst_metric_decides_and_both_groups_escalate() -> None:
    perf_minor = _m("pf", "performance", Status.MINOR)
    perf_normal = _m("z", "performance", Status.NORMAL)
    market_minor = _m("vol", "market", Status.MINOR)
    market_major = _m("move", "market", Status.MAJOR)

    assert assess([perf_minor, perf_normal]).severity == "normal"
    assert assess([perf_normal, market_minor]).severity == "major"
    assert assess([perf_normal, market_minor], escalate_on_both=False).severity == "normal"
    assert assess([perf_minor, market_major]).severity == "major"  # capped


def test_unknown_never_hides_a_breach_and_never_passes_as_fine() -> None:
    ok = _m("a", "performance", Status.OK)
    unknown = _m("b", "performance", Status.UNKNOWN)
    minor = _m("c", "market", Status.MINOR)

    assert assess([ok, ok]).severity == "none"
    assert assess([ok, unknown]).severity == "unknown"
    result = assess([unknown, minor])
    assert result.severity == "minor"
    assert "1 metric(s) unknown" in result.reason
    assert assess([]).severity == "unknown"


def test_shipped_config_is_the_default() -> None:
    shipped = load_drift_config(ROOT / "config" / "drift_monitor.yaml", env={})
    assert shipped == load_drift_config(None, env={})
    assert shipped.jobs.spec("major").hours == 24
    assert shipped.notify.webhook_url is None


def test_webhook_url_comes_from_the_environment() -> None:
    cfg = load_drift_config(None, env={"DRIFT_WEBHOOK_URL": "https://hooks.example/x"})
    assert cfg.notify.webhook_url is not None
    assert cfg.notify.webhook_url.get_secret_value() == "https://hooks.example/x"


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "performance:\n  sharpe: {levels: {minor: -3, normal: -2, major: -4}}\n",
            "levels must fall: minor (-3.0) > normal (-2.0) > major (-4.0)",
        ),
        ("market: {volatility: {minor: 0.5, normal: 3, major: 5}}\n", "must be above 1"),
        ("performance: {baseline_hours: 2}\n", "must be longer than every recent window"),
        ("check_interval_seconds: 0\n", "check_interval_seconds = 0"),
        ("jobs: {min_severity: huge}\n", "jobs.min_severity = huge"),
        ("notfy: {}\n", "notfy = {}: unknown key"),
    ],
)
def test_bad_values_are_refused_naming_the_key(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    path = tmp_path / "drift_monitor.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_drift_config(path, env={})
    assert message in str(exc.value)
    assert str(exc.value).startswith("drift_monitor.yaml: ")
