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
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

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

    @model_validator(mode="after")
    def _whole_satoshis(self) -> TradeParams:
        if (self.order_amount * SATOSHI_PER_BTC) % 1 != 0:
            raise ValueError("order_amount must have at most 8 decimals")
        return self

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
