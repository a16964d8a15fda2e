"""Typed configuration: the only module that reads YAML files or the environment.

Two files: `app_config.yaml` (system settings: endpoints, ports, database, paths) and
`trade_config.yaml` (the trading parameters the optimizer tunes). A bad file is refused with
one line naming the file, the key, the value and the rule; nothing starts on it.
"""

from __future__ import annotations

import os
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

SATOSHI_PER_BTC = 100_000_000
MIN_ORDER_BTC = Decimal("0.005")


class ConfigError(Exception):
    """A configuration file or value that cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- trade params
class ExitLevels(_Strict):
    """Take-profit and stop-loss as price distances in JPY from the entry price."""

    tp: Annotated[int, Field(gt=0, description="take-profit distance in JPY; must be positive")]
    sl: Annotated[int, Field(lt=0, description="stop-loss distance in JPY; must be negative")]


class SignalWeights(_Strict):
    obi: Annotated[float, Field(ge=0)] = 1.0
    ofi: Annotated[float, Field(ge=0)] = 0.0
    cvd: Annotated[float, Field(ge=0)] = 0.0
    microprice: Annotated[float, Field(ge=0)] = 0.0

    @model_validator(mode="after")
    def _some_weight(self) -> SignalWeights:
        if self.obi + self.ofi + self.cvd + self.microprice <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class RegimeFilter(StrEnum):
    OFF = "off"
    TREND_ONLY = "trend_only"
    MEAN_REVERT_ONLY = "mean_revert_only"


class SignalParams(_Strict):
    composite_threshold: Annotated[float, Field(gt=0, le=4)] = 0.3
    hold_duration_ms: Annotated[int, Field(ge=0, le=60_000)] = 300
    obi_levels: Annotated[int, Field(ge=1, le=50)] = 8
    cvd_window_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    ofi_window_seconds: Annotated[float, Field(gt=0, le=3600)] = 5.0
    weights: SignalWeights = SignalWeights()
    slope_filter: bool = False
    slope_window_events: Annotated[int, Field(ge=1, le=1000)] = 10
    regime_filter: RegimeFilter = RegimeFilter.OFF


class VolatilityParams(_Strict):
    ewma_lambda: Annotated[float, Field(gt=0, lt=1)] = 0.94
    baseline_lambda: Annotated[float, Field(gt=0, lt=1)] = 0.999


class DynamicThreshold(_Strict):
    """Scale composite_threshold by current/baseline volatility, clamped to [min, max]."""

    enabled: bool = False
    factor: Annotated[float, Field(ge=0, le=10)] = 1.0
    min_factor: Annotated[float, Field(gt=0, le=10)] = 0.8
    max_factor: Annotated[float, Field(gt=0, le=10)] = 2.0

    @model_validator(mode="after")
    def _ordered(self) -> DynamicThreshold:
        if self.min_factor > self.max_factor:
            raise ValueError(
                f"min_factor ({self.min_factor}) must not exceed max_factor ({self.max_factor})"
            )
        return self


class RegimeParams(_Strict):
    """Hurst exponent on mid prices sampled every `sample_ms`, over `window` samples."""

    sample_ms: Annotated[int, Field(ge=10, le=60_000)] = 1000
    window: Annotated[int, Field(ge=8, le=10_000)] = 120
    lag: Annotated[int, Field(ge=2, le=100)] = 4
    band: Annotated[float, Field(ge=0, le=0.5)] = 0.05


class RiskParams(_Strict):
    max_drawdown_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    max_position_ratio: Annotated[float, Field(gt=0, le=1)] = 0.5


class FeeRates(_Strict):
    """Fee rates as fractions of notional (0.001 = 0.1 %); negative maker = rebate."""

    maker: Annotated[Decimal, Field(ge=Decimal("-0.01"), le=Decimal("0.01"))] = Decimal("0")
    taker: Annotated[Decimal, Field(ge=Decimal("0"), le=Decimal("0.01"))] = Decimal("0")


class LatencyModel(_Strict):
    """Delay from a decision to the order reaching the exchange's book, in milliseconds."""

    order_ms: Annotated[int, Field(ge=0, le=10_000)] = 50
    feed_ms: Annotated[int, Field(ge=0, le=10_000)] = 0


class OrderParams(_Strict):
    timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 5.0
    poll_interval_ms: Annotated[int, Field(ge=10, le=60_000)] = 200


class TradeParams(_Strict):
    """Everything the strategy needs to decide and trade; the optimizer's search space."""

    pair: Literal["btc_jpy"] = "btc_jpy"
    order_amount: Annotated[Decimal, Field(ge=MIN_ORDER_BTC, le=Decimal("10"))] = Decimal("0.005")
    spread_limit: Annotated[int, Field(gt=0)] = 2000
    entry_price_offset: Annotated[int, Field(ge=0)] = 0
    signal: SignalParams = SignalParams()
    volatility: VolatilityParams = VolatilityParams()
    dynamic_threshold: DynamicThreshold = DynamicThreshold()
    regime: RegimeParams = RegimeParams()
    long: ExitLevels = ExitLevels(tp=2000, sl=-3000)
    short: ExitLevels = ExitLevels(tp=2000, sl=-3000)
    risk: RiskParams = RiskParams()
    fees: FeeRates = FeeRates()
    latency: LatencyModel = LatencyModel()
    order: OrderParams = OrderParams()

    @field_validator("order_amount")
    @classmethod
    def _whole_satoshis(cls, value: Decimal) -> Decimal:
        if (value * SATOSHI_PER_BTC) % 1 != 0:
            raise ValueError("must have at most 8 decimals (whole satoshis)")
        return value

    @property
    def order_amount_sat(self) -> int:
        return int(self.order_amount * SATOSHI_PER_BTC)


# --------------------------------------------------------------------------- app config
class ExchangeConfig(_Strict):
    rest_url: str = "https://coincheck.com"
    ws_url: str = "wss://ws-api.coincheck.com/"
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    request_timeout_seconds: Annotated[float, Field(gt=0)] = 5.0
    stale_feed_seconds: Annotated[float, Field(gt=0)] = 10.0
    ping_interval_seconds: Annotated[float, Field(gt=0)] = 30.0
    nonce_file: str = "var/nonce"
    clock: Literal["wall", "simulator"] = Field(
        default="wall",
        description="market time: the wall clock, or the exchange simulator's replay clock "
        "(GET /sim/clock) so a fast replay keeps the market's time scale; paper mode only",
    )


class DatabaseConfig(_Strict):
    url: SecretStr | None = Field(
        default=None, description="postgresql:// URL; unset = embedded PostgreSQL under data_dir"
    )
    embedded_data_dir: str = "var/pg"
    writer_batch_rows: Annotated[int, Field(ge=1)] = 5000
    writer_flush_interval_ms: Annotated[int, Field(ge=10)] = 500
    writer_max_queue_rows: Annotated[int, Field(ge=100)] = 200_000
    spill_dir: str = "var/spill"


class AccountConfig(_Strict):
    """Starting balances for backtests and the simulator (JPY and BTC)."""

    initial_jpy: Annotated[Decimal, Field(ge=0)] = Decimal("1000000")
    initial_btc: Annotated[Decimal, Field(ge=0)] = Decimal("0.05")


class ParamsFileConfig(_Strict):
    path: str = "var/params/trade_config.yaml"
    template_path: str = "config/trade_config.yaml.template"
    on_missing: Literal["template_defaults", "wait"] = "template_defaults"


class ReportGeneratorConfig(_Strict):
    interval_minutes: Annotated[int, Field(ge=1)] = 15
    windows_hours: tuple[int, ...] = (1, 4, 24)


class BotConfig(_Strict):
    mode: Literal["paper", "live"] = "paper"
    http_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    confirm_live_trading: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    state_dir: str = Field(
        default="var/state", description="persisted bot state: drawdown halt, client order ids"
    )
    status_interval_seconds: Annotated[float, Field(gt=0)] = 10.0
    shutdown_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 8.0


class AppConfig(_Strict):
    bot: BotConfig = BotConfig()
    exchange: ExchangeConfig = ExchangeConfig()
    database: DatabaseConfig = DatabaseConfig()
    account: AccountConfig = AccountConfig()
    params: ParamsFileConfig = ParamsFileConfig()
    report_generator: ReportGeneratorConfig = ReportGeneratorConfig()


# --------------------------------------------------------------------------- loading
def _format_error(file_label: str, data: Any, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value: Any = data
        for part in err["loc"]:
            value = value.get(part) if isinstance(value, dict) else None
        msg = err["msg"]
        ctx = err.get("ctx") or {}
        if err["type"] == "less_than" and ctx.get("lt") == 0:
            msg = "must be negative"
        elif err["type"] == "greater_than" and ctx.get("gt") == 0:
            msg = "must be positive"
        elif err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against the template)"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        shown = "(missing)" if err["type"] == "missing" else value
        lines.append(f"{file_label}: {key} = {shown}: {msg}")
    return "\n".join(lines)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_yaml_mapping(text, path.name)


def parse_yaml_mapping(text: str, label: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{label}: not valid YAML{where}: {exc}") from exc
    if data is None:
        raise ConfigError(f"{label}: file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{label}: expected a mapping of keys at the top level")
    return data


def parse_trade_params(text: str, label: str = "trade_config.yaml") -> TradeParams:
    """Validate trading parameters from YAML text; raises ConfigError naming key and rule."""
    data = parse_yaml_mapping(text, label)
    try:
        return TradeParams.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(label, data, exc)) from None


def load_trade_params(path: str | Path) -> TradeParams:
    path = Path(path)
    data = _read_yaml(path)
    try:
        return TradeParams.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(str(path), data, exc)) from None


def dump_trade_params(params: TradeParams) -> str:
    """YAML text for a parameter set (Decimals as strings, enums as values)."""
    return yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False)


# Environment variables that may override app_config (secrets, endpoints, DB, ports only).
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "COINCHECK_API_KEY": ("exchange", "api_key"),
    "COINCHECK_API_SECRET": ("exchange", "api_secret"),
    "COINCHECK_REST_URL": ("exchange", "rest_url"),
    "COINCHECK_WS_URL": ("exchange", "ws_url"),
    "DATABASE_URL": ("database", "url"),
    "PARAMS_PATH": ("params", "path"),
    "BOT_HTTP_PORT": ("bot", "http_port"),
    "MARKET_CLOCK": ("exchange", "clock"),
}


def load_app_config(
    path: str | Path | None = "config/app_config.yaml", env: dict[str, str] | None = None
) -> AppConfig:
    """Read app_config.yaml (if given) and apply the environment overrides."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = _read_yaml(Path(path)) if path is not None else {}
    for var, (section, key) in ENV_OVERRIDES.items():
        value = env.get(var)
        if value:
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                raise ConfigError(f"app_config.yaml: {section} must be a mapping")
            data[section][key] = value
    label = Path(path).name if path is not None else "app_config"
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(label, data, exc)) from None


# --------------------------------------------------------------------------- template
class ParamSpec(_Strict):
    """One optimizable parameter from trade_config.yaml.template."""

    key: str
    """Dotted path into TradeParams, e.g. `long.tp`."""
    default: Any
    kind: Literal["int", "float", "categorical", "fixed"]
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] | None = None
    when: str | None = None
    help: str = ""


class ParamTemplate(_Strict):
    specs: tuple[ParamSpec, ...]
    fixed: dict[str, Any]

    @property
    def searchable(self) -> tuple[ParamSpec, ...]:
        return tuple(s for s in self.specs if s.kind != "fixed")

    def defaults(self) -> dict[str, Any]:
        """Flat dotted-key -> default for every leaf."""
        out = dict(self.fixed)
        out.update({s.key: s.default for s in self.specs})
        return out

    def build(self, values: dict[str, Any]) -> TradeParams:
        """TradeParams from template defaults overridden by dotted-key values."""
        flat = self.defaults()
        unknown = set(values) - set(flat)
        if unknown:
            raise ConfigError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        flat.update(values)
        nested: dict[str, Any] = {}
        for key, value in flat.items():
            node = nested
            *parents, leaf = key.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        try:
            return TradeParams.model_validate(nested)
        except ValidationError as exc:
            raise ConfigError(_format_error("trade_config.yaml.template", nested, exc)) from None


_SPEC_KEYS = {"default", "low", "high", "type", "step", "log", "choices", "when", "help"}


def _known_leaf_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys |= _known_leaf_keys(ann, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def parse_param_template(text: str, label: str = "trade_config.yaml.template") -> ParamTemplate:
    """Parse the search-space template; refuses unknown parameters and malformed specs."""
    data = parse_yaml_mapping(text, label)
    known = _known_leaf_keys(TradeParams)
    specs: list[ParamSpec] = []
    fixed: dict[str, Any] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, value in node.items():
            key = f"{prefix}{name}"
            is_spec = isinstance(value, dict) and "default" in value
            if isinstance(value, dict) and not is_spec:
                walk(value, f"{key}.")
                continue
            if key not in known:
                raise ConfigError(f"{label}: {key}: unknown parameter (not in TradeParams)")
            if not is_spec:
                fixed[key] = value
                continue
            extra = set(value) - _SPEC_KEYS
            if extra:
                raise ConfigError(f"{label}: {key}: unknown spec field(s) {sorted(extra)}")
            specs.append(_spec(label, key, value))

    walk(data, "")
    for spec in specs:
        if spec.when is not None and spec.when not in {s.key for s in specs} | set(fixed):
            raise ConfigError(f"{label}: {spec.key}: when = {spec.when}: unknown parameter")
    template = ParamTemplate(specs=tuple(specs), fixed=fixed)
    template.build({})  # the defaults themselves must be a valid parameter set
    return template


def _spec(label: str, key: str, raw: dict[str, Any]) -> ParamSpec:
    where = f"{label}: {key}"
    if "choices" in raw:
        choices = raw["choices"]
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: choices must be a non-empty list")
        if raw["default"] not in choices:
            raise ConfigError(f"{where}: default {raw['default']!r} is not one of {choices}")
        return ParamSpec(
            key=key,
            default=raw["default"],
            kind="categorical",
            choices=tuple(choices),
            when=raw.get("when"),
            help=raw.get("help", ""),
        )
    if "low" not in raw and "high" not in raw:
        return ParamSpec(key=key, default=raw["default"], kind="fixed", help=raw.get("help", ""))
    kind = raw.get("type", "float")
    if kind not in ("int", "float"):
        raise ConfigError(f"{where}: type = {kind}: must be int or float")
    try:
        low, high = float(raw["low"]), float(raw["high"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: low and high must both be numbers") from None
    if low >= high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high})")
    if not low <= float(raw["default"]) <= high:
        raise ConfigError(f"{where}: default {raw['default']} is outside [{low}, {high}]")
    return ParamSpec(
        key=key,
        default=raw["default"],
        kind=kind,
        low=low,
        high=high,
        step=raw.get("step"),
        log=bool(raw.get("log", False)),
        when=raw.get("when"),
        help=raw.get("help", ""),
    )


def load_param_template(path: str | Path) -> ParamTemplate:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_param_template(text, path.name)


# =========================================================================== optimizer settings
# config/optimizer_config.yaml: how the optimizer searches, validates and runs (issue 6).
class SearchSettings(_Strict):
    """The Optuna search on the in-sample window."""

    trials: Annotated[int, Field(ge=1, le=100_000)] = 300
    sampler: Literal["tpe", "random"] = "tpe"
    seed: int | None = 42
    objective: Literal["sharpe_sqrt_trades", "pnl"] = "sharpe_sqrt_trades"
    startup_trials: Annotated[int, Field(ge=0)] = 20
    """Random trials before TPE models the space (and before the pruner judges)."""
    pruner: Literal["median", "none"] = "median"
    probe_fraction: Annotated[float, Field(gt=0, le=1)] = 0.25
    """A trial is first run on this leading share of the in-sample window; hopeless ones stop there."""


class ConstraintSettings(_Strict):
    """An in-sample result outside these is infeasible, whatever its objective."""

    min_trades: Annotated[int, Field(ge=0)] = 30
    max_drawdown_jpy: Annotated[Decimal, Field(gt=0)] = Decimal("20000")


class WindowSettings(_Strict):
    hours: Annotated[float, Field(gt=0, le=24 * 90)] = 24.0
    """Default window of recent market data (database) when a job or --hours gives none."""
    out_of_sample_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.25
    """The last share of the window, never seen by the search."""


class AcceptanceSettings(_Strict):
    """Out-of-sample thresholds a candidate must meet to be written."""

    candidates: Annotated[int, Field(ge=1, le=1000)] = 10
    min_profit_factor: Annotated[float, Field(ge=0)] = 1.2
    min_sharpe: float = 0.05
    min_trades: Annotated[int, Field(ge=1)] = 20
    max_drawdown_jpy: Annotated[Decimal, Field(gt=0)] = Decimal("20000")
    hopeless_after: Annotated[int, Field(ge=1)] = 3
    """Stop trying candidates after this many in a row lose money out of sample."""


class WalkForwardSettings(_Strict):
    """Rolling re-optimisation: train on `train_chunks` chunks, validate on the next one."""

    enabled: bool = True
    splits: Annotated[int, Field(ge=1, le=50)] = 4
    train_chunks: Annotated[int, Field(ge=1, le=20)] = 2
    trials_per_split: Annotated[int, Field(ge=1)] = 20
    min_trades: Annotated[int, Field(ge=0)] = 5
    min_success_ratio: Annotated[float, Field(ge=0, le=1)] = 0.5


class StabilitySettings(_Strict):
    """Jitter the accepted parameters; the result must not collapse."""

    enabled: bool = True
    samples: Annotated[int, Field(ge=1, le=1000)] = 8
    jitter: Annotated[float, Field(gt=0, le=0.5)] = 0.05
    """Standard deviation of the jitter as a share of each parameter's range."""
    min_profitable_share: Annotated[float, Field(ge=0, le=1)] = 0.6
    min_pnl_ratio: Annotated[float, Field(ge=0, le=1)] = 0.25
    """Median jittered PnL must reach this share of the accepted parameters' PnL."""


class WorkerSettings(_Strict):
    """`serve`: job polling, the lease that frees the job of a crashed worker, retries."""

    workers: Annotated[int, Field(ge=1, le=64)] = 1
    poll_interval_seconds: Annotated[float, Field(gt=0)] = 5.0
    heartbeat_seconds: Annotated[float, Field(gt=0)] = 10.0
    lease_seconds: Annotated[float, Field(gt=0)] = 60.0
    max_attempts: Annotated[int, Field(ge=1)] = 3

    @model_validator(mode="after")
    def _lease_outlives_heartbeat(self) -> WorkerSettings:
        if self.lease_seconds <= 2 * self.heartbeat_seconds:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds}) must exceed twice heartbeat_seconds "
                f"({self.heartbeat_seconds}), or live jobs would be taken from their workers"
            )
        return self


class OptimizerConfig(_Strict):
    search: SearchSettings = SearchSettings()
    constraints: ConstraintSettings = ConstraintSettings()
    window: WindowSettings = WindowSettings()
    acceptance: AcceptanceSettings = AcceptanceSettings()
    walk_forward: WalkForwardSettings = WalkForwardSettings()
    stability: StabilitySettings = StabilitySettings()
    worker: WorkerSettings = WorkerSettings()
    history_keep: Annotated[int, Field(ge=1, le=10_000)] = 50
    """Parameter versions kept in the history directory next to the params file."""


def parse_optimizer_config(text: str, label: str = "optimizer_config.yaml") -> OptimizerConfig:
    data = parse_yaml_mapping(text, label)
    try:
        return OptimizerConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(label, data, exc)) from None


def load_optimizer_config(
    path: str | Path | None = "config/optimizer_config.yaml",
) -> OptimizerConfig:
    """The optimizer's settings; None gives the built-in defaults."""
    if path is None:
        return OptimizerConfig()
    path = Path(path)
    data = _read_yaml(path)
    try:
        return OptimizerConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(path.name, data, exc)) from None


# --------------------------------------------------------------------------- drift monitor
# drift_monitor.yaml: windows and thresholds of the drift monitor (python -m drift_monitor).
DriftSeverity = Literal["minor", "normal", "major"]


class DriftLevelsBelow(_Strict):
    """Drift when the value falls to or below a level; each level is worse than the last."""

    minor: float
    normal: float
    major: float

    @model_validator(mode="after")
    def _ordered(self) -> DriftLevelsBelow:
        if not self.minor > self.normal > self.major:
            raise ValueError(
                f"levels must fall: minor ({self.minor}) > normal ({self.normal}) "
                f"> major ({self.major})"
            )
        return self


class DriftLevelsAbove(_Strict):
    """Drift when the value rises to or above a level; each level is worse than the last."""

    minor: Annotated[float, Field(gt=0)]
    normal: Annotated[float, Field(gt=0)]
    major: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _ordered(self) -> DriftLevelsAbove:
        if not self.minor < self.normal < self.major:
            raise ValueError(
                f"levels must rise: minor ({self.minor}) < normal ({self.normal}) "
                f"< major ({self.major})"
            )
        return self


class DriftChangeLevels(DriftLevelsAbove):
    """A factor of change either way: 3 means 3x the baseline or a third of it."""

    @model_validator(mode="after")
    def _above_one(self) -> DriftChangeLevels:
        if self.minor <= 1:
            raise ValueError(f"minor ({self.minor}) must be above 1 (a factor of change)")
        return self


class SharpeDriftConfig(_Strict):
    """Per-trade Sharpe of each recent window as a z-score against the baseline trades."""

    enabled: bool = True
    windows_hours: Annotated[tuple[Annotated[float, Field(gt=0)], ...], Field(min_length=1)] = (
        1.0,
        4.0,
    )
    levels: DriftLevelsBelow = DriftLevelsBelow(minor=-2.0, normal=-3.0, major=-4.0)


class ProfitFactorDriftConfig(_Strict):
    enabled: bool = True
    window_hours: Annotated[float, Field(gt=0)] = 4.0
    levels: DriftLevelsBelow = DriftLevelsBelow(minor=1.0, normal=0.8, major=0.6)


class DrawdownDriftConfig(_Strict):
    """Max drawdown of the recent window over the baseline's max drawdown (a ratio)."""

    enabled: bool = True
    window_hours: Annotated[float, Field(gt=0)] = 4.0
    min_baseline_drawdown_jpy: Annotated[float, Field(gt=0)] = 500.0
    levels: DriftLevelsAbove = DriftLevelsAbove(minor=1.0, normal=1.5, major=2.0)


class IdleDriftConfig(_Strict):
    """Time since our last fill over the baseline's mean gap between round trips."""

    enabled: bool = True
    active_market_ratio: Annotated[float, Field(gt=0)] = 0.5
    levels: DriftLevelsAbove = DriftLevelsAbove(minor=4.0, normal=8.0, major=16.0)


class PerformanceDriftConfig(_Strict):
    mode: Literal["paper", "live", "backtest"] = "paper"
    baseline_hours: Annotated[float, Field(gt=0)] = 168.0
    min_trades_window: Annotated[int, Field(ge=2)] = 5
    min_trades_baseline: Annotated[int, Field(ge=2)] = 30
    sharpe: SharpeDriftConfig = SharpeDriftConfig()
    profit_factor: ProfitFactorDriftConfig = ProfitFactorDriftConfig()
    drawdown: DrawdownDriftConfig = DrawdownDriftConfig()
    idle: IdleDriftConfig = IdleDriftConfig()

    @model_validator(mode="after")
    def _windows_inside_baseline(self) -> PerformanceDriftConfig:
        longest = max(
            (
                *self.sharpe.windows_hours,
                self.profit_factor.window_hours,
                self.drawdown.window_hours,
            )
        )
        if longest >= self.baseline_hours:
            raise ValueError(
                f"baseline_hours ({self.baseline_hours}) must be longer than every recent "
                f"window (longest: {longest})"
            )
        return self


class MarketDriftConfig(_Strict):
    """Regime of the market (from market_trades): recent window against a baseline."""

    enabled: bool = True
    window_minutes: Annotated[float, Field(gt=0)] = 15.0
    baseline_hours: Annotated[float, Field(gt=0)] = 24.0
    bucket_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    min_buckets: Annotated[int, Field(ge=2)] = 20
    min_trades_baseline: Annotated[int, Field(ge=1)] = 100
    volatility: DriftChangeLevels = DriftChangeLevels(minor=2.0, normal=3.0, major=5.0)
    spread: DriftChangeLevels = DriftChangeLevels(minor=2.0, normal=3.0, major=5.0)
    trade_rate: DriftChangeLevels = DriftChangeLevels(minor=3.0, normal=5.0, major=10.0)
    price_move_z: DriftLevelsAbove = DriftLevelsAbove(minor=4.0, normal=6.0, major=8.0)

    @model_validator(mode="after")
    def _window_inside_baseline(self) -> MarketDriftConfig:
        if self.window_minutes >= self.baseline_hours * 60:
            raise ValueError(
                f"baseline_hours ({self.baseline_hours}) must be longer than window_minutes "
                f"({self.window_minutes})"
            )
        if self.bucket_seconds * self.min_buckets > self.window_minutes * 60:
            raise ValueError(
                f"min_buckets ({self.min_buckets}) of {self.bucket_seconds} s do not fit in "
                f"window_minutes ({self.window_minutes})"
            )
        return self


class DriftJobSpec(_Strict):
    """The optimization a drift of one severity asks for, and the wait after any job."""

    hours: Annotated[float, Field(gt=0, le=24 * 90)]
    """Recent market data the optimizer gets (market hours back from the newest row)."""
    trials: Annotated[int, Field(ge=1)]
    cooldown_minutes: Annotated[float, Field(ge=0)]


class DriftJobsConfig(_Strict):
    min_severity: DriftSeverity = "minor"
    minor: DriftJobSpec = DriftJobSpec(hours=168, trials=300, cooldown_minutes=360)
    normal: DriftJobSpec = DriftJobSpec(hours=72, trials=150, cooldown_minutes=120)
    major: DriftJobSpec = DriftJobSpec(hours=24, trials=60, cooldown_minutes=30)

    @model_validator(mode="after")
    def _severer_is_faster(self) -> DriftJobsConfig:
        if not self.minor.hours >= self.normal.hours >= self.major.hours:
            raise ValueError("hours must not grow with severity (minor >= normal >= major)")
        if not self.minor.trials >= self.normal.trials >= self.major.trials:
            raise ValueError("trials must not grow with severity (minor >= normal >= major)")
        return self

    def spec(self, severity: DriftSeverity) -> DriftJobSpec:
        return {"minor": self.minor, "normal": self.normal, "major": self.major}[severity]


class DriftNotifyConfig(_Strict):
    webhook_url: SecretStr | None = Field(
        default=None, description="Slack/Discord-compatible webhook; unset = no notifications"
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    drawdown_halt_jpy: Annotated[float, Field(gt=0)] | None = 50_000.0


class DriftMonitorConfig(_Strict):
    check_interval_seconds: Annotated[float, Field(gt=0)] = 60.0
    escalate_on_both: bool = Field(
        default=True,
        description="performance and market drift together raise the severity one level",
    )
    performance: PerformanceDriftConfig = PerformanceDriftConfig()
    market: MarketDriftConfig = MarketDriftConfig()
    jobs: DriftJobsConfig = DriftJobsConfig()
    notify: DriftNotifyConfig = DriftNotifyConfig()


DRIFT_ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "DRIFT_WEBHOOK_URL": ("notify", "webhook_url"),
}


def load_drift_config(
    path: str | Path | None = "config/drift_monitor.yaml", env: dict[str, str] | None = None
) -> DriftMonitorConfig:
    """Read drift_monitor.yaml (defaults when `path` is None) plus DRIFT_WEBHOOK_URL."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = _read_yaml(Path(path)) if path is not None else {}
    label = Path(path).name if path is not None else "drift_monitor"
    for var, (section, key) in DRIFT_ENV_OVERRIDES.items():
        value = env.get(var)
        if value:
            data.setdefault(section, {})
            if not isinstance(data[section], dict):
                raise ConfigError(f"{label}: {section} must be a mapping")
            data[section][key] = value
    try:
        return DriftMonitorConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(label, data, exc)) from None
