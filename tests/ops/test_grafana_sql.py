"""Every query of every dashboard, run as Grafana would run it (macros expanded) against the
real migrated schema filled by a short paper-trading run: it must succeed and return rows of
the shape its panel draws."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from tests.ops.conftest import DASHBOARD_NAMES, load_dashboard, query_panels
from tests.ops.grafana_macros import GrafanaContext, MacroError

# PostgreSQL type OIDs Grafana turns into numbers, times and strings.
NUMERIC = {20, 21, 23, 700, 701, 1700}
TIMES = {1082, 1114, 1184}
pytestmark = pytest.mark.slow


def _variables(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each template variable at its default (current) value."""
    return {
        v["name"]: str(v["current"]["value"])
        for v in dashboard.get("templating", {}).get("list", [])
    }


def _context(dashboard: dict[str, Any], interval: str) -> GrafanaContext:
    now = datetime.now(UTC)
    return GrafanaContext(
        time_from=now - timedelta(hours=2),
        time_to=now + timedelta(minutes=1),
        interval=interval,
        variables=_variables(dashboard),
    )


def _run(db_url: str, sql: str) -> tuple[list[str], list[int], list[tuple[Any, ...]]]:
    with psycopg.connect(db_url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")  # Grafana's sessions run in UTC
        cur = conn.execute(sql)  # type: ignore[call-overload]
        assert cur.description is not None, "the query returned no result set"
        names = [d.name for d in cur.description]
        types = [d.type_code for d in cur.description]
        return names, types, cur.fetchall()


def _targets() -> list[Any]:
    cases = []
    for name in DASHBOARD_NAMES:
        dashboard = load_dashboard(name)
        for panel in query_panels(dashboard):
            for target in panel["targets"]:
                cases.append(
                    pytest.param(
                        name, panel, target, id=f"{name}:{panel['title']}:{target['refId']}"
                    )
                )
    return cases


def _check_shape(panel: dict[str, Any], target: dict[str, Any], result: Any) -> None:
    names, types, rows = result
    where = f"panel {panel['title']!r} ({panel['type']})"
    assert rows, f"{where}: no rows on the paper-run data"
    if target["format"] == "time_series":
        assert "time" in names, f"{where}: time series needs a 'time' column, got {names}"
        t = names.index("time")
        assert types[t] in TIMES | NUMERIC, f"{where}: 'time' must be a timestamp or epoch"
        values = [(n, ty) for i, (n, ty) in enumerate(zip(names, types, strict=True)) if i != t]
        assert values, f"{where}: no value column"
        for n, ty in values:
            assert ty in NUMERIC or n == "metric", f"{where}: column {n!r} is not numeric"
        times = [r[t] for r in rows]
        assert times == sorted(times), f"{where}: rows must be ordered by time"
        value_idx = [i for i in range(len(names)) if i != t and names[i] != "metric"]
        assert any(r[i] is not None for r in rows for i in value_idx), f"{where}: all values NULL"
    else:
        assert target["format"] == "table", f"{where}: unknown format {target['format']}"
        if panel["type"] == "stat":
            assert any(v is not None for r in rows for v in r), f"{where}: every value is NULL"


@pytest.mark.parametrize(("dashboard_name", "panel", "target"), _targets())
@pytest.mark.parametrize("interval", ["1s", "1m"])
def test_panel_query_returns_its_shape(
    paper_run_db: str, dashboard_name: str, panel: dict, target: dict, interval: str
) -> None:
    dashboard = load_dashboard(dashboard_name)
    sql = _context(dashboard, interval).expand(target["rawSql"])
    try:
        result = _run(paper_run_db, sql)
    except psycopg.Error as exc:
        pytest.fail(f"panel {panel['title']!r}: query failed: {exc}\n{sql}")
    _check_shape(panel, target, result)


@pytest.mark.parametrize("dashboard_name", DASHBOARD_NAMES)
def test_annotations_and_variable_queries_run(paper_run_db: str, dashboard_name: str) -> None:
    dashboard = load_dashboard(dashboard_name)
    ctx = _context(dashboard, "1m")
    for anno in dashboard["annotations"]["list"]:
        if anno.get("builtIn"):
            continue
        names, _, rows = _run(paper_run_db, ctx.expand(anno["target"]["rawSql"]))
        assert {"time", "text"} <= set(names), f"annotation {anno['name']!r}: {names}"
        assert rows, f"annotation {anno['name']!r}: no rows on the paper-run data"
    for var in dashboard.get("templating", {}).get("list", []):
        if var["type"] != "query":
            continue
        _, _, rows = _run(paper_run_db, ctx.expand(var["query"]))
        values = {str(r[0]) for r in rows}
        assert str(var["current"]["value"]) in values, (
            f"variable {var['name']}: default {var['current']['value']} not among {values}"
        )


def test_macro_expander_refuses_what_grafana_would_not_expand() -> None:
    ctx = GrafanaContext(datetime(2025, 8, 3, tzinfo=UTC), datetime(2025, 8, 3, 1, tzinfo=UTC))
    assert ctx.expand("$__timeFilter(ts)") == (
        "ts BETWEEN '2025-08-03T00:00:00Z' AND '2025-08-03T01:00:00Z'"
    )
    assert ctx.expand("$__timeGroupAlias(ts, '5m')") == (
        'floor(extract(epoch from ts)/300)*300 AS "time"'
    )
    assert ctx.expand("$__interval_ms") == "1000"
    for bad in ("$__timeFliter(ts)", "x = '$undefined'", "$__timeGroup(ts)"):
        with pytest.raises(MacroError):
            ctx.expand(bad)
