"""Backtest result as one self-contained HTML page: headline numbers, charts, trades, params.

Nothing external is loaded (no CDN, fonts or scripts): CSS is inline and the charts are SVG
built here, so the file opens offline and can be archived or mailed as is. Hover tooltips are
native SVG `<title>`s. Series are downsampled to min/max per pixel column, so a 24 h run
(86,400 price samples) stays a small file and still shows every spike.
"""

from __future__ import annotations

import html
import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path

from bot.backtest.execution import FillRecord
from bot.backtest.runner import BacktestResult
from bot.config import SATOSHI_PER_BTC, dump_trade_params
from bot.market.events import Side
from bot.trading.position import RoundTrip

MAX_TABLE_ROWS = 500
DASH = "—"
JST = timezone(timedelta(hours=9), "JST")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Chart geometry in SVG user units; the SVG scales to the page width.
_W = 1200
_ML, _MR, _MT, _MB = 104, 20, 30, 40
_GREEN, _RED, _GREY, _BLUE, _INK = "#15803d", "#dc2626", "#6b7280", "#2563eb", "#334155"


# --------------------------------------------------------------------------- formatting
def fmt_decimal(value: Decimal, signed: bool = False) -> str:
    """Exact decimal with thousands separators and no trailing zeros: 1234.500 -> 1,234.5."""
    text = format(value, ",f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    if signed and value > 0:
        text = "+" + text
    return text


def fmt_ratio(numerator: int, denominator: int) -> str:
    """num/den exactly when it has a finite decimal expansion, else rounded to 0.01 with '≈'."""
    frac = Fraction(numerator, denominator)
    den = frac.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(frac.numerator) / Decimal(frac.denominator)
        if den == 1:
            return fmt_decimal(value)
        return "≈" + fmt_decimal(value.quantize(Decimal("0.01")))


def fmt_btc(amount_sat: int) -> str:
    return fmt_decimal(Decimal(amount_sat) / SATOSHI_PER_BTC)


def _fmt_opt(value: float | None, spec: str, suffix: str = "") -> str:
    return DASH if value is None else f"{value:{spec}}{suffix}"


def _dt(ts_us: int, tz: timezone = UTC) -> datetime:
    return (_EPOCH + timedelta(microseconds=ts_us)).astimezone(tz)


def fmt_ts(ts_us: int, tz: timezone = UTC) -> str:
    """2025-08-03 14:01:06.659 (millisecond resolution)."""
    d = _dt(ts_us, tz)
    return d.strftime("%Y-%m-%d %H:%M:%S") + f".{d.microsecond // 1000:03d}"


def fmt_duration(us: int) -> str:
    s = us / 1_000_000
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    if s < 86400:
        return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"
    return f"{int(s // 86400)} d {int(s % 86400 // 3600)} h"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# --------------------------------------------------------------------------- chart frame
@dataclass(frozen=True)
class _Frame:
    """Maps (ts_us, value) to SVG coordinates of one chart's plot area."""

    t0: int
    t1: int
    v0: float
    v1: float
    height: int

    @property
    def plot_w(self) -> float:
        return _W - _ML - _MR

    @property
    def plot_h(self) -> float:
        return self.height - _MT - _MB

    def x(self, ts_us: int) -> float:
        span = max(self.t1 - self.t0, 1)
        return _ML + (ts_us - self.t0) * self.plot_w / span

    def y(self, value: float) -> float:
        span = self.v1 - self.v0 or 1.0
        return _MT + (self.v1 - value) * self.plot_h / span

    def column(self, ts_us: int) -> int:
        """Pixel column of a timestamp (clamped to the plot)."""
        col = int(self.x(ts_us) - _ML)
        return min(max(col, 0), int(self.plot_w) - 1)


def _n(v: float) -> str:
    """Short SVG number: one decimal is below a device pixel at this scale."""
    text = f"{v:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _downsample(points: Sequence[tuple[int, float]], frame: _Frame) -> list[tuple[float, float]]:
    """Per pixel column keep the first, min, max and last point, in time order.

    Drawing those joined reproduces what the full series would paint at this resolution
    (every spike stays visible) with at most four points per column.
    """
    if len(points) <= 4 * frame.plot_w:
        return [(frame.x(t), frame.y(v)) for t, v in points]
    out: list[tuple[float, float]] = []
    i, n = 0, len(points)
    while i < n:
        col = frame.column(points[i][0])
        j = i
        lo = hi = i
        while j + 1 < n and frame.column(points[j + 1][0]) == col:
            j += 1
            if points[j][1] < points[lo][1]:
                lo = j
            if points[j][1] > points[hi][1]:
                hi = j
        for k in sorted({i, lo, hi, j}):
            out.append((frame.x(points[k][0]), frame.y(points[k][1])))
        i = j + 1
    return out


def _polyline_points(xy: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in xy)


def _nice_ticks(lo: float, hi: float, target: int = 5) -> tuple[list[float], float]:
    span = hi - lo
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    step = mag * 10
    for m in (1, 2, 2.5, 5, 10):
        if span / (m * mag) <= target:
            step = m * mag
            break
    first = math.ceil(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(0.0 if abs(v) < step * 1e-9 else v)
        v += step
    return ticks, step


def _value_range(
    values: Sequence[float], pad: float = 0.06, include_zero: bool = False
) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        half = max(abs(hi) * 0.001, 1.0)
        return lo - half, hi + half
    margin = (hi - lo) * pad
    return lo - margin, hi + margin


_TIME_STEPS_S = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172800, 604800,
)  # fmt: skip


def _time_ticks(t0: int, t1: int, target: int = 9) -> tuple[list[int], Callable[[int], str]]:
    span_s = max((t1 - t0) / 1_000_000, 1e-6)
    step_s = next((s for s in _TIME_STEPS_S if span_s / s <= target), _TIME_STEPS_S[-1])
    step_us = step_s * 1_000_000
    first = -(-t0 // step_us) * step_us  # epoch-aligned, so ticks land on round UTC times
    ticks = list(range(first, t1 + 1, step_us))
    multi_day = _dt(t0).date() != _dt(t1).date()
    if step_s >= 86400:
        fmt = "%m-%d"
    elif multi_day:
        fmt = "%m-%d %H:%M:%S" if step_s < 60 else "%m-%d %H:%M"
    else:
        fmt = "%H:%M:%S" if step_s < 60 else "%H:%M"
    return ticks, lambda ts: _dt(ts).strftime(fmt)


def _y_tick_target(frame: _Frame) -> int:
    """About one y label per 45 px, so short charts do not crowd their axis."""
    return max(3, min(6, int(frame.plot_h // 45)))


def _axes(frame: _Frame, y_title: str) -> list[str]:
    """Grid, y ticks, UTC time ticks and the plot border."""
    parts: list[str] = []
    left, right = _ML, _W - _MR
    top, bottom = _MT, frame.height - _MB
    yticks, step = _nice_ticks(frame.v0, frame.v1, _y_tick_target(frame))
    y_label = _jpy_label(step)
    for v in yticks:
        y = _n(frame.y(v))
        parts.append(f'<line class="grid" x1="{left}" x2="{right}" y1="{y}" y2="{y}"/>')
        parts.append(f'<text class="yl" x="{left - 6}" y="{y}">{_e(y_label(v))}</text>')
    ticks, label = _time_ticks(frame.t0, frame.t1)
    for ts in ticks:
        x = _n(frame.x(ts))
        parts.append(f'<line class="grid" x1="{x}" x2="{x}" y1="{top}" y2="{bottom}"/>')
        parts.append(f'<text class="xl" x="{x}" y="{bottom + 16}">{_e(label(ts))}</text>')
    parts.append(
        f'<rect class="frame" x="{left}" y="{top}" width="{right - left}" height="{bottom - top}"/>'
    )
    parts.append(f'<text class="xt" x="{right}" y="{bottom + 32}">time (UTC)</text>')
    parts.append(
        f'<text class="yt" transform="translate(14 {_n((top + bottom) / 2)}) rotate(-90)">{_e(y_title)}</text>'
    )
    return parts


def _svg(height: int, body: list[str], label: str) -> str:
    return (
        f'<svg viewBox="0 0 {_W} {height}" role="img" aria-label="{_e(label)}">'
        + "".join(body)
        + "</svg>"
    )


def _placeholder(height: int, message: str) -> str:
    return _svg(
        height,
        [
            f'<rect class="frame" x="{_ML}" y="{_MT}" width="{_W - _ML - _MR}" height="{height - _MT - _MB}"/>',
            f'<text class="empty" x="{_W / 2}" y="{height / 2}">{_e(message)}</text>',
        ],
        message,
    )


def _jpy_label(step: float) -> Callable[[float], str]:
    """Axis labels with as many decimals as the tick step needs (2.5 -> 1, 0.25 -> 2)."""
    decimals = 0
    while decimals < 8 and round(step * 10**decimals, 6) % 1:
        decimals += 1
    return lambda v: f"{v:,.{decimals}f}"


# --------------------------------------------------------------------------- series
def _time_domain(result: BacktestResult) -> tuple[int, int] | None:
    stamps = [t for t in (result.first_ts_us, result.last_ts_us) if t is not None]
    if result.prices:
        stamps += [result.prices[0][0], result.prices[-1][0]]
    stamps += [f.ts_us for f in result.fills[:1] + result.fills[-1:]]
    stamps += [
        t
        for rt in result.round_trips[:1] + result.round_trips[-1:]
        for t in (rt.entry_ts_us, rt.exit_ts_us)
    ]
    if not stamps:
        return None
    t0, t1 = min(stamps), max(stamps)
    return (t0, t1) if t1 > t0 else (t0 - 500_000, t0 + 500_000)


def _equity_steps(
    trips: Sequence[RoundTrip], t0: int, t1: int
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """Stepped cumulative net PnL and its drawdown from the running peak (≤ 0)."""
    equity: list[tuple[int, float]] = [(t0, 0.0)]
    drawdown: list[tuple[int, float]] = [(t0, 0.0)]
    cum = peak = Decimal(0)
    for rt in sorted(trips, key=lambda r: r.exit_ts_us):
        equity.append((rt.exit_ts_us, float(cum)))
        drawdown.append((rt.exit_ts_us, float(cum - peak)))
        cum += rt.pnl_jpy
        peak = max(peak, cum)
        equity.append((rt.exit_ts_us, float(cum)))
        drawdown.append((rt.exit_ts_us, float(cum - peak)))
    end = max(t1, equity[-1][0])
    equity.append((end, float(cum)))
    drawdown.append((end, float(cum - peak)))
    return equity, drawdown


def _line_chart(
    points: list[tuple[int, float]],
    t0: int,
    t1: int,
    height: int,
    title: str,
    y_title: str,
    colour: str,
    fill_to_zero: bool,
    include_zero: bool = True,
    extra: Callable[[_Frame], list[str]] | None = None,
) -> str:
    v0, v1 = _value_range([v for _, v in points], include_zero=include_zero)
    frame = _Frame(t0, t1, v0, v1, height)
    body = _axes(frame, y_title)
    if v0 < 0 < v1:
        y = _n(frame.y(0))
        body.append(f'<line class="zero" x1="{_ML}" x2="{_W - _MR}" y1="{y}" y2="{y}"/>')
    xy = _downsample(points, frame)
    if fill_to_zero:
        base = _n(frame.y(0))
        area = f"{_n(xy[0][0])},{base} {_polyline_points(xy)} {_n(xy[-1][0])},{base}"
        body.append(f'<polygon points="{area}" fill="{colour}" fill-opacity="0.18" stroke="none"/>')
    body.append(
        f'<polyline points="{_polyline_points(xy)}" fill="none" stroke="{colour}" stroke-width="1.6" stroke-linejoin="round"/>'
    )
    if extra is not None:
        body += extra(frame)
    return _svg(height, body, title)


def _trip_dots(trips: Sequence[RoundTrip]) -> Callable[[_Frame], list[str]]:
    """Hoverable dots on the equity curve, one per round trip (only for readable counts)."""

    def draw(frame: _Frame) -> list[str]:
        if len(trips) > 150:
            return []
        out = []
        cum = Decimal(0)
        for i, rt in enumerate(sorted(trips, key=lambda r: r.exit_ts_us), 1):
            cum += rt.pnl_jpy
            colour = _GREEN if rt.pnl_jpy > 0 else _RED if rt.pnl_jpy < 0 else _GREY
            tip = (
                f"#{i} {'long' if rt.side is Side.BUY else 'short'} closed {fmt_ts(rt.exit_ts_us)} UTC\n"
                f"PnL {fmt_decimal(rt.pnl_jpy, signed=True)} JPY, cumulative {fmt_decimal(cum, signed=True)} JPY"
            )
            out.append(
                f'<circle cx="{_n(frame.x(rt.exit_ts_us))}" cy="{_n(frame.y(float(cum)))}" r="3" fill="{colour}">'
                f"<title>{_e(tip)}</title></circle>"
            )
        return out

    return draw


def _exit_outcomes(
    fills: Sequence[FillRecord], trips: Sequence[RoundTrip]
) -> list[RoundTrip | None]:
    """For each fill, the round trip an exit fill belongs to (None for entries or still open)."""
    ordered = sorted(trips, key=lambda r: r.exit_ts_us)
    exits = [r.exit_ts_us for r in ordered]
    out: list[RoundTrip | None] = []
    for f in fills:
        rt = None
        if f.purpose != "entry":
            i = bisect_left(exits, f.ts_us)
            if i < len(ordered) and ordered[i].entry_ts_us <= f.ts_us:
                rt = ordered[i]
        out.append(rt)
    return out


def _marker(kind: str, x: float, y: float, scale: float = 1.0) -> str:
    """Opening tag of a fill marker (the caller closes it, optionally with a <title>)."""
    a, w, h = 7 * scale, 6 * scale, 10.5 * scale
    if kind == "long":
        return f'<path d="M{_n(x)} {_n(y - a)}l{_n(w)} {_n(h)}h{_n(-2 * w)}z" fill="{_GREEN}" class="mk"'
    if kind == "short":
        return f'<path d="M{_n(x)} {_n(y + a)}l{_n(w)} {_n(-h)}h{_n(-2 * w)}z" fill="{_RED}" class="mk"'
    colour = {"win": _GREEN, "loss": _RED}.get(kind, _GREY)
    return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(4.5 * scale)}" fill="{colour}" class="mk"'


def _marker_scale(n_fills: int) -> float:
    """Smaller markers when there are many, so the price line stays readable under them."""
    return 1.0 if n_fills <= 120 else 0.75 if n_fills <= 600 else 0.55


def _price_chart(result: BacktestResult, t0: int, t1: int, height: int) -> str:
    values = [float(p) for _, p in result.prices] + [float(f.price) for f in result.fills]
    if not values:
        return _placeholder(height, "No price samples: the book was never valid in this data.")
    v0, v1 = _value_range(values, pad=0.08)
    frame = _Frame(t0, t1, v0, v1, height)
    body = _axes(frame, "mid price (JPY)")
    if result.prices:
        xy = _downsample([(t, float(p)) for t, p in result.prices], frame)
        body.append(
            f'<polyline points="{_polyline_points(xy)}" fill="none" stroke="{_INK}" stroke-width="1.1" stroke-linejoin="round"/>'
        )
    else:
        body.append(
            f'<text class="empty" x="{_W / 2}" y="{_MT + 20}">No mid-price samples; fills only.</text>'
        )

    # One marker per (kind, pixel): identical pixels look the same; the tooltip counts the rest.
    scale = _marker_scale(len(result.fills))
    seen: dict[tuple[str, int, int], list[str]] = {}
    for f, rt in zip(result.fills, _exit_outcomes(result.fills, result.round_trips), strict=True):
        action = (
            f"{'buy' if f.side is Side.BUY else 'sell'} {fmt_btc(f.amount_sat)} BTC @ {f.price:,}"
        )
        if f.purpose == "entry":
            kind = "long" if f.side is Side.BUY else "short"
            tip = f"{kind} entry: {action}"
        elif rt is None:
            kind, tip = "open", f"exit: {action}"
        else:
            kind = "win" if rt.pnl_jpy > 0 else "loss" if rt.pnl_jpy < 0 else "flat"
            tip = f"exit: {action}, round trip PnL {fmt_decimal(rt.pnl_jpy, signed=True)} JPY"
        liquidity = {"T": "taker", "M": "maker"}.get(f.liquidity, f.liquidity)
        tip += f"\n{fmt_ts(f.ts_us)} UTC, {liquidity}"
        x, y = frame.x(f.ts_us), frame.y(float(f.price))
        key = (kind, round(x), round(y))
        if key in seen:
            seen[key].append(tip)
        else:
            seen[key] = [_marker(kind, x, y, scale), tip]
    for head, tip, *more in seen.values():
        if more:
            tip += f"\n(+{len(more)} more here)"
        body.append(
            f"{head}><title>{_e(tip)}</title>{'</path>' if head.startswith('<path') else '</circle>'}"
        )
    if result.fills:
        body += _legend()
    return _svg(height, body, "mid price with entries and exits")


def _legend() -> list[str]:
    items = [
        ("long", "long entry"),
        ("short", "short entry"),
        ("win", "exit, winning trip"),
        ("loss", "exit, losing trip"),
        ("open", "exit, break-even / open"),
    ]
    out = []
    x = _ML + 8
    for kind, text in items:
        out.append(_marker(kind, x, _MT - 14) + "/>")
        out.append(f'<text class="lg" x="{x + 10}" y="{_MT - 14}">{_e(text)}</text>')
        x += 34 + 6.2 * len(text)
    return out


# --------------------------------------------------------------------------- page parts
def _headline(result: BacktestResult) -> str:
    m = result.metrics
    eps = result.events_per_sec
    win_rate = None if m.win_rate is None else m.win_rate * 100
    cards = [  # (id for tests and scripts, label, value, unit, css class)
        ("pnl", "Net PnL", fmt_decimal(m.pnl_jpy, signed=True), "JPY", _sign_class(m.pnl_jpy)),
        ("trades", "Round trips", f"{m.trades:,}", "", ""),
        ("win_rate", "Win rate", _fmt_opt(win_rate, ".1f"), "" if win_rate is None else "%", ""),
        ("profit_factor", "Profit factor", _fmt_opt(m.profit_factor, ".2f"), "", ""),
        ("sharpe", "Sharpe / trade", _fmt_opt(m.sharpe, ".2f"), "", ""),
        ("max_drawdown", "Max drawdown", fmt_decimal(m.max_drawdown_jpy), "JPY", ""),
        ("fees", "Fees", fmt_decimal(m.fees_jpy), "JPY", ""),
        ("events", "Events", f"{result.level_events:,}", "", ""),
        ("events_per_sec", "Events/s", DASH if eps is None else f"{round(eps):,}", "", ""),
    ]
    html_cards = "".join(
        f'<div class="card"><div class="k">{_e(label)}</div>'
        f'<div class="v {cls}" id="m-{key}">{_e(value)}'
        f"{f'<span class=u>{unit}</span>' if unit else ''}</div></div>"
        for key, label, value, unit, cls in cards
    )
    wl = f"{m.wins:,} won · {m.losses:,} lost · {m.trades - m.wins - m.losses:,} flat"
    gross = (
        f"gross profit {fmt_decimal(m.gross_profit_jpy)} JPY · "
        f"gross loss {fmt_decimal(m.gross_loss_jpy)} JPY"
    )
    return f'<section class="cards">{html_cards}</section><p class="sub">{_e(wl)} — {_e(gross)}</p>'


def _sign_class(value: Decimal) -> str:
    return "pos" if value > 0 else "neg" if value < 0 else ""


def _facts(result: BacktestResult, data_label: str) -> str:
    if result.first_ts_us is not None and result.last_ts_us is not None:
        a, b = result.first_ts_us, result.last_ts_us
        period_utc = f"{fmt_ts(a)} → {fmt_ts(b)} UTC"
        period_jst = f"{fmt_ts(a, JST)} → {fmt_ts(b, JST)} JST"
        length = fmt_duration(b - a)
    else:
        period_utc = period_jst = length = DASH
    refusals = (
        ", ".join(
            f"{reason}: {count:,}"
            for reason, count in sorted(result.refusals.items(), key=lambda kv: -kv[1])
        )
        or "none"
    )
    initial = (
        DASH
        if result.initial_equity_jpy is None
        else f"{fmt_decimal(result.initial_equity_jpy)} JPY"
    )
    rows = [
        ("Data", data_label),
        ("Period (UTC)", period_utc),
        ("Period (JST)", period_jst),
        ("Length", length),
        (
            "Messages / level events",
            f"{result.events:,} / {result.level_events:,}, replayed in {result.seconds:.3f} s",
        ),
        ("Halt", result.halt_reason or "not halted"),
        ("Entry refusals", refusals),
        ("Initial equity", initial),
        (
            "Final balances",
            f"{fmt_decimal(result.final_jpy)} JPY · {fmt_btc(result.final_btc_sat)} BTC",
        ),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="facts">{body}</table>'


def _trades_table(trips: Sequence[RoundTrip]) -> str:
    if not trips:
        return '<p class="note">No round trips in this run.</p>'
    start = max(0, len(trips) - MAX_TABLE_ROWS)
    note = (
        f'<p class="note">Showing the last {MAX_TABLE_ROWS:,} of {len(trips):,} round trips.</p>'
        if start
        else ""
    )
    rows = []
    for i in range(len(trips) - 1, start - 1, -1):
        rt = trips[i]
        pnl = rt.pnl_jpy
        cls = "pos" if pnl > 0 else "neg" if pnl < 0 else ""
        side = "long" if rt.side is Side.BUY else "short"
        rows.append(
            f"<tr><td>{i + 1}</td><td>{fmt_ts(rt.entry_ts_us)}</td><td>{fmt_ts(rt.exit_ts_us)}</td>"
            f"<td>{fmt_duration(rt.exit_ts_us - rt.entry_ts_us)}</td>"
            f'<td class="{side}">{side}</td><td>{fmt_btc(rt.amount_sat)}</td>'
            f"<td>{fmt_ratio(rt.entry_value, rt.amount_sat)}</td><td>{fmt_ratio(rt.exit_value, rt.amount_sat)}</td>"
            f'<td class="{cls}">{fmt_decimal(pnl, signed=True)}</td><td>{fmt_decimal(rt.fees_jpy)}</td></tr>'
        )
    head = (
        "<tr><th>#</th><th>entry (UTC)</th><th>exit (UTC)</th><th>held</th><th>side</th>"
        "<th>size BTC</th><th>entry price</th><th>exit price</th><th>net PnL JPY</th><th>fees JPY</th></tr>"
    )
    return (
        f'{note}<table class="trades"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
    )


_CSS = """
:root{--ink:#1f2937;--mute:#6b7280;--line:#e5e7eb;--pos:#15803d;--neg:#dc2626}
*{box-sizing:border-box}
body{margin:0;background:#f8fafc;color:var(--ink);
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1240px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:26px 0 6px}
.sub,.note{color:var(--mute);margin:6px 0}
.halt{background:#fef2f2;border:1px solid #fecaca;color:#991b1b;padding:8px 12px;border-radius:6px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(112px,1fr));gap:8px;margin-top:14px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 10px}
.k{color:var(--mute);font-size:12px}.v{font-size:19px;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}
.u{font-size:12px;font-weight:400;color:var(--mute);margin-left:3px}
.pos{color:var(--pos)}.neg{color:var(--neg)}.long{color:var(--pos)}.short{color:var(--neg)}
table{border-collapse:collapse;background:#fff;font-variant-numeric:tabular-nums}
.facts th{text-align:left;color:var(--mute);font-weight:500;padding:3px 16px 3px 10px}
.facts td{padding:3px 10px}.facts{border:1px solid var(--line);border-radius:8px;margin-top:14px}
.trades{width:100%;font-size:13px;border:1px solid var(--line)}
.trades th{position:sticky;top:0;background:#f1f5f9;text-align:right;padding:5px 8px;border-bottom:1px solid var(--line)}
.trades td{text-align:right;padding:3px 8px;border-bottom:1px solid #f1f5f9;white-space:nowrap}
.trades tr:hover td{background:#f8fafc}
.chart{background:#fff;border:1px solid var(--line);border-radius:8px;padding:4px}
svg{display:block;width:100%;height:auto;font-size:12px}
svg .grid{stroke:#eef0f3}svg .frame{fill:none;stroke:#cbd5e1}svg .zero{stroke:#94a3b8;stroke-dasharray:4 3}
svg text{fill:#475569}svg .yl{text-anchor:end;dominant-baseline:middle}svg .xl{text-anchor:middle}
svg .xt{text-anchor:end;fill:#94a3b8}svg .yt{text-anchor:middle;fill:#94a3b8}
svg .lg{dominant-baseline:middle}svg .empty{text-anchor:middle;fill:#94a3b8;font-size:14px}
svg .mk{stroke:#fff;stroke-width:1}svg .mk:hover{stroke:#111;stroke-width:1.5}
pre{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px;font-size:12.5px;overflow:auto}
"""


def render_report(result: BacktestResult, data_label: str) -> str:
    """The report page as an HTML string (deterministic: no wall clock, no I/O)."""
    m = result.metrics
    domain = _time_domain(result)
    if domain is None:
        equity_svg = _placeholder(240, "No data.")
        drawdown_svg = _placeholder(150, "No data.")
        price_svg = _placeholder(360, "No data.")
    else:
        t0, t1 = domain
        equity, drawdown = _equity_steps(result.round_trips, t0, t1)
        if result.round_trips:
            equity_svg = _line_chart(
                equity, t0, t1, 260, "equity curve", "cum. net PnL (JPY)", _BLUE, False,
                extra=_trip_dots(result.round_trips),
            )  # fmt: skip
            drawdown_svg = _line_chart(
                drawdown, t0, t1, 160, "drawdown", "drawdown (JPY)", _RED, True
            )
        else:
            equity_svg = _placeholder(240, "No round trips: equity stayed at 0 JPY.")
            drawdown_svg = _placeholder(150, "No drawdown.")
        price_svg = _price_chart(result, t0, t1, 380)

    halt = (
        f'<p class="halt">Trading halted: {_e(result.halt_reason)}</p>'
        if result.halt_reason
        else ""
    )
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>Backtest {_e(data_label)} — {_e(fmt_decimal(m.pnl_jpy, signed=True))} JPY</title>",
            f"<style>{_CSS}</style></head><body><main>",
            f"<h1>Backtest report — {_e(data_label)}</h1>",
            f'<p class="sub">obi-scalp-bot · BTC/JPY · {m.trades:,} round trips</p>',
            halt,
            _headline(result),
            _facts(result, data_label),
            "<h2>Equity curve — cumulative net PnL after each round trip</h2>",
            f'<div class="chart">{equity_svg}</div>',
            "<h2>Drawdown from the running peak</h2>",
            f'<div class="chart">{drawdown_svg}</div>',
            "<h2>Mid price (1 s samples, min/max per pixel) with entries and exits</h2>",
            f'<div class="chart">{price_svg}</div>',
            "<h2>Round trips (newest first)</h2>",
            _trades_table(result.round_trips),
            "<h2>Parameters</h2>",
            f"<pre>{_e(dump_trade_params(result.params))}</pre>",
            "</main></body></html>\n",
        ]
    )


def write_report(result: BacktestResult, path: Path, data_label: str) -> None:
    """Write the HTML report to `path` (parent directories are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(result, data_label), encoding="utf-8")
