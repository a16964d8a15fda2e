"""The Grafana files are provisionable: valid dashboard JSON wired to the provisioned data
source, and provisioning YAML pointing where docker-compose.yml mounts things."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.ops.conftest import (
    DASHBOARD_DIR,
    DASHBOARD_NAMES,
    ROOT,
    all_panels,
    load_dashboard,
    query_panels,
)

PROVISIONING = ROOT / "grafana" / "provisioning"
PANEL_TYPES = {"timeseries", "stat", "table", "barchart", "bargauge", "gauge", "state-timeline"}


def _datasource() -> dict:
    files = sorted((PROVISIONING / "datasources").glob("*.yaml"))
    assert len(files) == 1, f"expected one datasource file, found {files}"
    doc = yaml.safe_load(files[0].read_text())
    assert doc["apiVersion"] == 1
    (ds,) = doc["datasources"]
    return ds


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_datasource_is_postgres_from_the_environment() -> None:
    ds = _datasource()
    assert ds["type"] in ("grafana-postgresql-datasource", "postgres")
    assert ds["uid"] and ds["isDefault"] is True
    # Connection values come from the grafana service's environment, none is written here.
    fields = {
        "url": ds["url"],
        "user": ds["user"],
        "database": ds["jsonData"]["database"],
        "password": ds["secureJsonData"]["password"],
    }
    env = _compose()["services"]["grafana"]["environment"]
    for key, value in fields.items():
        m = re.fullmatch(r"\$\{(\w+)\}", str(value))
        assert m, f"datasource {key} must be ${{VAR}}, not a literal: {value!r}"
        assert m.group(1) in env, f"grafana service does not set {m.group(1)} ({key})"


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    doc = yaml.safe_load((PROVISIONING / "dashboards" / "obi-scalp-bot.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    mounts = dict(
        reversed(v.split(":")[:2]) for v in _compose()["services"]["grafana"]["volumes"]
    )  # container path -> host path
    assert mounts[provider["options"]["path"]] == "./grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./grafana/provisioning"
    assert sorted(p.stem for p in DASHBOARD_DIR.glob("*.json")) == sorted(DASHBOARD_NAMES)


def test_dashboards_have_unique_uids_and_titles() -> None:
    boards = [load_dashboard(n) for n in DASHBOARD_NAMES]
    uids = [b["uid"] for b in boards]
    titles = [b["title"] for b in boards]
    assert len(set(uids)) == 3 and all(re.fullmatch(r"[\w-]{1,40}", u) for u in uids)
    assert len(set(titles)) == 3 and all(titles)
    assert {t.lower() for t in titles} == {"pnl", "latency", "optimizer"}


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_dashboard_is_provisionable(name: str) -> None:
    text = (DASHBOARD_DIR / f"{name}.json").read_text(encoding="utf-8")
    board = json.loads(text)
    ds = _datasource()
    assert board.get("id") is None, "a provisioned dashboard must not carry a database id"
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 30
    assert board["time"]["from"] and board["time"]["to"]
    panels = query_panels(board)
    assert len(panels) >= 5
    ids = [p["id"] for p in all_panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for p in panels:
        where = f"{name}: panel {p.get('title')!r}"
        assert p["type"] in PANEL_TYPES, where
        assert p["title"], where
        g = p["gridPos"]
        assert g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["x"] + g["w"] <= 24, where
        assert p["datasource"] == {"type": ds["type"], "uid": ds["uid"]}, where
        assert p["targets"], f"{where}: no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), where
        for t in p["targets"]:
            assert t["datasource"]["uid"] == ds["uid"], where
            assert t["rawQuery"] is True and t["rawSql"].strip(), where
            assert t["format"] in ("time_series", "table"), where
            if "$__timeGroup" in t["rawSql"]:
                assert t["format"] == "time_series", f"{where}: grouped by time but a table"
    for var in board.get("templating", {}).get("list", []):
        assert var["name"] and "current" in var, var
        if var["type"] == "query":
            assert var["datasource"]["uid"] == ds["uid"]
    for anno in board["annotations"]["list"]:
        if not anno.get("builtIn"):
            assert anno["datasource"]["uid"] == ds["uid"] and anno["target"]["rawSql"]


def test_every_dashboard_uses_the_time_range() -> None:
    """A panel over a growing table that ignores the time picker would scan everything."""
    unbounded = []
    for name in DASHBOARD_NAMES:
        for p in query_panels(load_dashboard(name)):
            sql = " ".join(t["rawSql"] for t in p["targets"])
            if "$__time" not in sql and "v_performance_latest" not in sql:
                unbounded.append(f"{name}: {p['title']}")
    # Current-state panels (job queue, live parameters) are deliberately range-free.
    assert unbounded == ["optimizer: Job queue (now)", "optimizer: Live parameters since"]
