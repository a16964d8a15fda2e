"""Expand Grafana's PostgreSQL macros and template variables the way Grafana does before it
sends a panel's rawSql, so the tests can run the exact query on a real database.

Covers the macros of Grafana's PostgreSQL data source: $__time, $__timeEpoch, $__timeFilter,
$__timeFrom, $__timeTo, $__timeGroup, $__timeGroupAlias, $__unixEpochFilter, $__unixEpochFrom,
$__unixEpochTo, $__unixEpochNanoFilter, $__unixEpochGroup(Alias), plus the global variables
$__interval, $__interval_ms, $__range, $__range_s, $__range_ms and dashboard variables ($var,
${var}, [[var]]). Anything unknown raises, so a typo in a dashboard fails its test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_FILLS = re.compile(r"^(NULL|previous|-?\d+(\.\d+)?)$")


class MacroError(ValueError):
    """A macro or variable Grafana would not expand (or would expand differently)."""


def interval_seconds(text: str) -> float:
    """'5m' -> 300.0; Grafana's interval syntax (quotes allowed)."""
    m = re.fullmatch(r"'?\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w|y)\s*'?", text.strip())
    if m is None:
        raise MacroError(f"not a Grafana interval: {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _split_args(text: str) -> list[str]:
    """Split macro arguments on top-level commas (not inside parentheses or quotes)."""
    args, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        elif not quote and depth == 0 and ch == ",":
            args.append(text[start:i].strip())
            start = i + 1
    args.append(text[start:].strip())
    return [a for a in args if a] if args != [""] else []


@dataclass
class GrafanaContext:
    time_from: datetime
    time_to: datetime
    interval: str = "1s"
    variables: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ variables
    def _global_variables(self) -> dict[str, str]:
        rng = (self.time_to - self.time_from).total_seconds()
        return {
            "__interval_ms": str(int(interval_seconds(self.interval) * 1000)),
            "__interval": self.interval,
            "__range_ms": str(int(rng * 1000)),
            "__range_s": str(int(rng)),
            "__range": f"{int(rng)}s",
        }

    def _expand_variables(self, sql: str) -> str:
        values = {**self._global_variables(), **self.variables}

        def lookup(name: str) -> str:
            if name not in values:
                raise MacroError(f"unknown template variable ${name}")
            return values[name]

        sql = re.sub(r"\$\{(\w+)(?::\w+)?\}", lambda m: lookup(m.group(1)), sql)
        sql = re.sub(r"\[\[(\w+)\]\]", lambda m: lookup(m.group(1)), sql)
        # Longest names first so $__interval_ms is not read as $__interval + "_ms".
        names = sorted(values, key=len, reverse=True)
        pattern = re.compile(r"\$(" + "|".join(re.escape(n) for n in names) + r")(?![\w(])")
        return pattern.sub(lambda m: values[m.group(1)], sql)

    # ------------------------------------------------------------------ macros
    def _macro(self, name: str, args: list[str]) -> str:
        frm, to = _rfc3339(self.time_from), _rfc3339(self.time_to)
        efrom, eto = int(self.time_from.timestamp()), int(self.time_to.timestamp())

        def need(n: int, most: int | None = None) -> None:
            if len(args) < n or len(args) > (most if most is not None else n):
                raise MacroError(f"${name} takes {n} argument(s), got {len(args)}: {args}")

        if name == "__time":
            need(1)
            return f'{args[0]} AS "time"'
        if name == "__timeEpoch":
            need(1)
            return f'extract(epoch from {args[0]}) AS "time"'
        if name == "__timeFilter":
            need(1)
            return f"{args[0]} BETWEEN '{frm}' AND '{to}'"
        if name == "__timeFrom":
            need(0)
            return f"'{frm}'"
        if name == "__timeTo":
            need(0)
            return f"'{to}'"
        if name in ("__timeGroup", "__timeGroupAlias", "__unixEpochGroup", "__unixEpochGroupAlias"):
            need(2, 3)
            if len(args) == 3 and not _FILLS.match(args[2]):
                raise MacroError(f"${name}: fill must be NULL, previous or a number: {args[2]!r}")
            seconds = interval_seconds(args[1])
            step = f"{seconds:g}"
            if name.startswith("__unixEpoch"):
                expr = f"floor(({args[0]})/{step})*{step}"
            else:
                expr = f"floor(extract(epoch from {args[0]})/{step})*{step}"
            return expr + (' AS "time"' if name.endswith("Alias") else "")
        if name == "__unixEpochFilter":
            need(1)
            return f"{args[0]} >= {efrom} AND {args[0]} <= {eto}"
        if name == "__unixEpochNanoFilter":
            need(1)
            return f"{args[0]} >= {efrom * 10**9} AND {args[0]} <= {eto * 10**9}"
        if name == "__unixEpochFrom":
            need(0)
            return str(efrom)
        if name == "__unixEpochTo":
            need(0)
            return str(eto)
        raise MacroError(f"unknown macro ${name}")

    def _expand_macros(self, sql: str) -> str:
        out: list[str] = []
        i = 0
        for m in re.finditer(r"\$(__\w+)\(", sql):
            if m.start() < i:
                continue
            depth, j = 0, m.end() - 1
            while j < len(sql):
                if sql[j] == "(":
                    depth += 1
                elif sql[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            if depth != 0:
                raise MacroError(f"unbalanced parentheses after ${m.group(1)}")
            out.append(sql[i : m.start()])
            out.append(self._macro(m.group(1), _split_args(sql[m.end() : j])))
            i = j + 1
        out.append(sql[i:])
        return "".join(out)

    def expand(self, sql: str) -> str:
        expanded = self._expand_macros(self._expand_variables(sql))
        left = re.search(r"\$\w+|\[\[\w+\]\]", expanded)
        if left:
            raise MacroError(f"unexpanded {left.group(0)} in: {expanded}")
        return expanded
