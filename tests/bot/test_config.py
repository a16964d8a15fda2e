"""Configuration: bundled files load, bad files are refused naming file, key, value and rule."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    TradeParams,
    dump_trade_params,
    load_app_config,
    load_param_template,
    load_trade_params,
    parse_param_template,
    parse_trade_params,
)

ROOT = Path(__file__).resolve().parents[2]
APP_CONFIG = ROOT / "config/app_config.yaml"
TRADE_CONFIG = ROOT / "config/trade_config.yaml"
TEMPLATE = ROOT / "config/trade_config.yaml.template"


# --------------------------------------------------------------------------- bundled files
def test_bundled_trade_config_loads_with_its_values() -> None:
    p = load_trade_params(TRADE_CONFIG)
    assert p.order_amount == Decimal("0.005")
    assert p.order_amount_sat == 500_000
    assert p.spread_limit == 3000
    assert (p.long.tp, p.long.sl) == (2000, -3000)
    assert p.signal.weights.ofi == 0.3


def test_bundled_app_config_loads_without_environment() -> None:
    c = load_app_config(APP_CONFIG, env={})
    assert c.bot.mode == "paper"
    assert c.bot.http_port == 8080
    assert c.exchange.api_key is None
    assert c.database.url is None
    assert c.account.initial_jpy == Decimal("1000000")
    assert c.account.initial_btc == Decimal("0.05")
    assert c.report_generator.windows_hours == (1, 4, 24)


def test_bundled_template_defaults_equal_trade_config() -> None:
    template = load_param_template(TEMPLATE)
    assert template.build({}) == load_trade_params(TRADE_CONFIG)
    keys = {s.key for s in template.searchable}
    assert {"long.tp", "long.sl", "spread_limit", "signal.obi_levels"} <= keys
    assert "pair" not in keys


def test_dump_then_parse_round_trips() -> None:
    p = load_trade_params(TRADE_CONFIG)
    assert parse_trade_params(dump_trade_params(p)) == p


# --------------------------------------------------------------------------- bad trade files
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("long:\n  tp: 100\n  sl: 500\n", "trade_config.yaml: long.sl = 500: must be negative"),
        ("short:\n  tp: -5\n  sl: -5\n", "trade_config.yaml: short.tp = -5: must be positive"),
        ("spred_limit: 3000\n", "trade_config.yaml: spred_limit = 3000: unknown key"),
        ("signal:\n  obi_levelz: 5\n", "trade_config.yaml: signal.obi_levelz = 5: unknown key"),
        ("spread_limit: abc\n", "trade_config.yaml: spread_limit = abc: Input should be a valid"),
        ("order_amount: '0.004'\n", "trade_config.yaml: order_amount = 0.004: "),
        ("risk:\n  max_position_ratio: 1.5\n", "risk.max_position_ratio = 1.5: "),
        ("signal:\n  weights:\n    obi: 0\n", "at least one weight must be positive"),
    ],
)
def test_bad_trade_values_refused_with_key_value_and_rule(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_trade_params(text)
    assert expected in str(err.value)


def test_order_amount_below_minimum_names_the_minimum() -> None:
    with pytest.raises(ConfigError, match=r"order_amount = 0\.004: .*0\.005"):
        parse_trade_params("order_amount: '0.004'\n")


def test_min_factor_above_max_factor_refused() -> None:
    with pytest.raises(ConfigError) as err:
        parse_trade_params("dynamic_threshold:\n  min_factor: 3\n  max_factor: 2\n")
    msg = str(err.value)
    assert msg.startswith("trade_config.yaml: dynamic_threshold")
    assert "min_factor (3.0) must not exceed max_factor (2.0)" in msg


def test_order_amount_with_nine_decimals_refused() -> None:
    with pytest.raises(ConfigError, match="at most 8 decimals"):
        parse_trade_params("order_amount: '0.005000001'\n")


def test_order_amount_nine_decimals_message_names_key_and_value() -> None:
    with pytest.raises(ConfigError) as err:
        parse_trade_params("order_amount: '0.005000001'\n")
    assert str(err.value).startswith("trade_config.yaml: order_amount = 0.005000001: ")


def test_invalid_yaml_reports_line_number() -> None:
    with pytest.raises(
        ConfigError, match=r"trade_config\.yaml: not valid YAML \(line 2, column 2\)"
    ):
        parse_trade_params("a: [1\nb: 2\n")


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_empty_file_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^trade_config\.yaml: file is empty$"):
        parse_trade_params(text)


def test_top_level_list_refused() -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_trade_params("- 1\n- 2\n")


def test_file_errors_name_the_path(tmp_path: Path) -> None:
    bad = tmp_path / "my_params.yaml"
    bad.write_text("long:\n  tp: 100\n  sl: 500\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"my_params\.yaml: long\.sl = 500: must be negative"):
        load_trade_params(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_trade_params(tmp_path / "missing.yaml")


def test_every_error_reported_not_just_the_first() -> None:
    with pytest.raises(ConfigError) as err:
        parse_trade_params("long:\n  tp: 0\n  sl: 5\n")
    lines = str(err.value).splitlines()
    assert lines == [
        "trade_config.yaml: long.tp = 0: must be positive",
        "trade_config.yaml: long.sl = 5: must be negative",
    ]


def test_params_are_frozen() -> None:
    p = TradeParams()
    with pytest.raises(ValueError):
        p.spread_limit = 5  # type: ignore[misc]


# --------------------------------------------------------------------------- environment
SECRET_ENV = {
    "COINCHECK_API_KEY": "key-AAAA1111",
    "COINCHECK_API_SECRET": "secret-BBBB2222",
    "DATABASE_URL": "postgresql://bot:pw-CCCC3333@db:5432/obi",
    "COINCHECK_REST_URL": "http://127.0.0.1:9000",
    "COINCHECK_WS_URL": "ws://127.0.0.1:9001/",
    "PARAMS_PATH": "/data/params/trade_config.yaml",
    "BOT_HTTP_PORT": "9090",
}


def test_environment_overrides_apply() -> None:
    c = load_app_config(APP_CONFIG, env=SECRET_ENV)
    assert c.exchange.api_key is not None and c.exchange.api_secret is not None
    assert c.exchange.api_key.get_secret_value() == "key-AAAA1111"
    assert c.exchange.api_secret.get_secret_value() == "secret-BBBB2222"
    assert c.database.url is not None
    assert c.database.url.get_secret_value() == "postgresql://bot:pw-CCCC3333@db:5432/obi"
    assert c.exchange.rest_url == "http://127.0.0.1:9000"
    assert c.exchange.ws_url == "ws://127.0.0.1:9001/"
    assert c.params.path == "/data/params/trade_config.yaml"
    assert c.bot.http_port == 9090
    # values the environment does not touch stay as in the file
    assert c.exchange.request_timeout_seconds == 5.0


def test_empty_environment_value_does_not_override() -> None:
    c = load_app_config(APP_CONFIG, env={"BOT_HTTP_PORT": "", "DATABASE_URL": ""})
    assert c.bot.http_port == 8080
    assert c.database.url is None


def test_environment_does_not_override_trading_or_other_keys() -> None:
    c = load_app_config(APP_CONFIG, env={"BOT_MODE": "live", "MODE": "live"})
    assert c.bot.mode == "paper"


def test_secrets_never_shown() -> None:
    c = load_app_config(APP_CONFIG, env=SECRET_ENV)
    for text in (repr(c), str(c), repr(c.exchange), str(c.database), str(c.model_dump())):
        for secret in ("key-AAAA1111", "secret-BBBB2222", "pw-CCCC3333"):
            assert secret not in text


def test_bad_environment_value_refused_with_key() -> None:
    with pytest.raises(ConfigError, match=r"bot\.http_port = abc: "):
        load_app_config(APP_CONFIG, env={"BOT_HTTP_PORT": "abc"})


def test_unknown_app_key_refused(tmp_path: Path) -> None:
    f = tmp_path / "app_config.yaml"
    f.write_text("bot:\n  mode: paper\n  colour: red\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"app_config\.yaml: bot\.colour = red: unknown key"):
        load_app_config(f, env={})


# --------------------------------------------------------------------------- template
def test_template_unknown_parameter_refused() -> None:
    with pytest.raises(ConfigError, match="spred_limit: unknown parameter"):
        parse_param_template("spred_limit: {default: 3000, low: 500, high: 6000, type: int}\n")


def test_template_default_outside_range_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"spread_limit: default 100 is outside \[500\.0, 6000\.0\]"
    ):
        parse_param_template("spread_limit: {default: 100, low: 500, high: 6000, type: int}\n")


def test_template_low_not_below_high_refused() -> None:
    with pytest.raises(ConfigError, match=r"low \(600\.0\) must be below high \(500\.0\)"):
        parse_param_template("spread_limit: {default: 550, low: 600, high: 500, type: int}\n")


def test_template_default_not_in_choices_refused() -> None:
    with pytest.raises(ConfigError, match="default 4 is not one of"):
        parse_param_template("signal:\n  obi_levels: {default: 4, choices: [3, 5]}\n")


def test_template_defaults_must_be_valid_params() -> None:
    with pytest.raises(ConfigError, match=r"long\.sl = 500: must be negative"):
        parse_param_template("long:\n  tp: 100\n  sl: 500\n")


def test_template_build_overrides() -> None:
    template = load_param_template(TEMPLATE)
    p = template.build({"long.tp": 700, "signal.obi_levels": 5, "order_amount": "0.01"})
    assert p.long.tp == 700
    assert p.long.sl == -3000  # untouched default
    assert p.short.tp == 2000
    assert p.signal.obi_levels == 5
    assert p.order_amount_sat == 1_000_000


def test_template_build_refuses_unknown_and_invalid() -> None:
    template = load_param_template(TEMPLATE)
    with pytest.raises(ConfigError, match=r"unknown parameter.*long\.tpp"):
        template.build({"long.tpp": 3})
    with pytest.raises(ConfigError, match=r"long\.sl = 3: must be negative"):
        template.build({"long.sl": 3})
