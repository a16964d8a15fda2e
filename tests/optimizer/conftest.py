"""Small markets and a small optimizer configuration, so a whole run takes seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backtest.fast_path import FeatureCache
from bot.cli.synth import write_recording
from bot.config import OptimizerConfig, ParamTemplate, load_param_template
from bot.market.events import MarketEvent
from bot.market.synthetic import SynthConfig, SyntheticMarket, parse_regime_spec
from optimizer.search_space import obi_level_choices

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "config" / "trade_config.yaml.template"

# OBI predicts the next moves strongly enough (40 bps/min per unit of signal) that following
# it beats the spread: a market with a known profitable parameter region.
EDGE = SynthConfig(
    seed=3, hours=2, regimes=parse_regime_spec("informed:2h"), signal_alpha_bps_per_min=40
)
# The same market with uninformative imbalance: nothing to find.
NO_EDGE = SynthConfig(seed=3, hours=2, regimes=parse_regime_spec("noise:2h"))

SMALL_CONFIG_YAML = """
search: {trials: 40, seed: 7, startup_trials: 10}
constraints: {min_trades: 20, max_drawdown_jpy: "20000"}
window: {out_of_sample_fraction: 0.3}
acceptance: {candidates: 5, min_profit_factor: 1.3, min_sharpe: 0.1, min_trades: 15,
             max_drawdown_jpy: "20000", hopeless_after: 3}
walk_forward: {splits: 3, train_chunks: 2, trials_per_split: 12, min_trades: 3,
               min_success_ratio: 0.6}
stability: {samples: 5, jitter: 0.05}
worker: {poll_interval_seconds: 0.2, heartbeat_seconds: 0.5, lease_seconds: 2, max_attempts: 2}
history_keep: 5
"""


@pytest.fixture(scope="session")
def template() -> ParamTemplate:
    return load_param_template(TEMPLATE)


@pytest.fixture(scope="session")
def small_config() -> OptimizerConfig:
    from bot.config import parse_optimizer_config

    return parse_optimizer_config(SMALL_CONFIG_YAML)


@pytest.fixture(scope="session")
def edge_events() -> list[MarketEvent]:
    return list(SyntheticMarket(EDGE).events())


@pytest.fixture(scope="session")
def no_edge_events() -> list[MarketEvent]:
    return list(SyntheticMarket(NO_EDGE).events())


@pytest.fixture(scope="session")
def edge_cache(edge_events: list[MarketEvent], template: ParamTemplate) -> FeatureCache:
    return FeatureCache.build(edge_events, obi_level_choices(template))


@pytest.fixture(scope="session")
def no_edge_cache(no_edge_events: list[MarketEvent], template: ParamTemplate) -> FeatureCache:
    return FeatureCache.build(no_edge_events, obi_level_choices(template))


@pytest.fixture(scope="session")
def edge_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "edge.jsonl.gz"
    write_recording(SyntheticMarket(EDGE), path, "test")
    return path


@pytest.fixture
def app_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(app_config.yaml, optimizer_config.yaml, params path) for CLI subprocesses."""
    params = tmp_path / "params" / "trade_config.yaml"
    app = tmp_path / "app_config.yaml"
    app.write_text(f"params:\n  path: {params}\n  template_path: {TEMPLATE}\n", encoding="utf-8")
    opt = tmp_path / "optimizer_config.yaml"
    opt.write_text(SMALL_CONFIG_YAML, encoding="utf-8")
    return app, opt, params
