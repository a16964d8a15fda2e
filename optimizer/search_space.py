"""The template's specs as Optuna suggestions, and small random moves around a parameter set."""

from __future__ import annotations

import random
from typing import Any

import optuna

from bot.config import ConfigError, ParamSpec, ParamTemplate, TradeParams

Values = dict[str, Any]
"""Dotted key -> searched value, e.g. {"long.tp": 1200, "signal.obi_levels": 8}."""


def _ordered(template: ParamTemplate) -> list[ParamSpec]:
    """Unconditional specs first, so a `when` switch is decided before what it enables."""
    specs = template.searchable
    return [s for s in specs if s.when is None] + [s for s in specs if s.when is not None]


def _enabled(spec: ParamSpec, values: Values, defaults: Values) -> bool:
    if spec.when is None:
        return True
    return bool(values.get(spec.when, defaults.get(spec.when)))


def suggest(trial: optuna.Trial, template: ParamTemplate) -> Values:
    """Draw one value per searchable spec (conditional ones only when their switch is on)."""
    defaults = template.defaults()
    values: Values = {}
    for spec in _ordered(template):
        if not _enabled(spec, values, defaults):
            continue
        assert spec.kind != "fixed"
        if spec.kind == "categorical":
            assert spec.choices is not None
            values[spec.key] = trial.suggest_categorical(spec.key, list(spec.choices))
        elif spec.kind == "int":
            assert spec.low is not None and spec.high is not None
            step = int(spec.step or 1)
            low, high = int(spec.low), int(spec.high)
            high = low + (high - low) // step * step
            values[spec.key] = trial.suggest_int(spec.key, low, high, step=step, log=spec.log)
        else:
            assert spec.low is not None and spec.high is not None
            values[spec.key] = trial.suggest_float(
                spec.key, spec.low, spec.high, step=spec.step, log=spec.log
            )
    return values


def obi_level_choices(template: ParamTemplate) -> list[int]:
    """Every OBI depth the search can ask for: the feature cache must hold each one."""
    for spec in template.specs:
        if spec.key == "signal.obi_levels":
            if spec.choices is not None:
                return sorted({int(c) for c in spec.choices} | {int(spec.default)})
            return [int(spec.default)]
    return [int(template.defaults().get("signal.obi_levels", TradeParams().signal.obi_levels))]


def jitter(values: Values, template: ParamTemplate, rng: random.Random, scale: float) -> Values:
    """Move each numeric value by N(0, scale x its range), kept inside the range and on its step.

    Categorical choices stay as they are: a different choice is a different strategy, not a
    small move."""
    specs = {s.key: s for s in template.searchable}
    out = dict(values)
    for key, value in values.items():
        spec = specs.get(key)
        if spec is None or spec.kind not in ("int", "float"):
            continue
        assert spec.low is not None and spec.high is not None
        moved = value + rng.gauss(0.0, scale * (spec.high - spec.low))
        moved = min(max(moved, spec.low), spec.high)
        if spec.step:
            moved = spec.low + round((moved - spec.low) / spec.step) * spec.step
            moved = min(moved, spec.high)
        out[key] = round(moved) if spec.kind == "int" else float(moved)
    return out


def build_params(template: ParamTemplate, values: Values) -> TradeParams | None:
    """The parameter set, or None when the combination is invalid (e.g. all weights zero)."""
    try:
        return template.build(values)
    except ConfigError:
        return None
